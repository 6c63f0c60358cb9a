#include "wick/core/error.h"

namespace wick {

std::string printable(std::string_view text, Printable mode) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto is_c0 = [&](unsigned char c) {
    if (mode == Printable::Message && (c == '\n' || c == '\t')) return false;
    return c < 0x20 || c == 0x7f || (mode == Printable::Ascii && (c >= 0x80 || c == '\\'));
  };
  // C1 controls (U+0080-U+009F; U+009B starts escape sequences on some
  // terminals) are 0xC2 0x80-0x9F in UTF-8.
  auto is_c1 = [&](size_t i) {
    return (unsigned char)text[i] == 0xc2 && i + 1 < text.size() &&
           (unsigned char)text[i + 1] >= 0x80 && (unsigned char)text[i + 1] <= 0x9f;
  };
  auto clean = [&](size_t i) { return !is_c0((unsigned char)text[i]) && !is_c1(i); };
  size_t first = 0;
  while (first < text.size() && clean(first)) ++first;
  if (first == text.size()) return std::string(text);
  std::string out(text.substr(0, first));
  for (size_t i = first; i < text.size(); ++i) {
    const auto c = (unsigned char)text[i];
    if (is_c0(c)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (is_c1(i)) {
      const auto d = (unsigned char)text[++i];
      out += "\\u00";
      out += kHex[d >> 4];
      out += kHex[d & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

}  // namespace wick
