#include "wick/core/error.h"

namespace wick::detail {

std::string printable_message(const std::string& message) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto is_c0 = [](unsigned char c) { return (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f; };
  // C1 controls (U+0080-U+009F; U+009B starts escape sequences on some
  // terminals) are 0xC2 0x80-0x9F in UTF-8.
  auto is_c1 = [&](size_t i) {
    return (unsigned char)message[i] == 0xc2 && i + 1 < message.size() &&
           (unsigned char)message[i + 1] >= 0x80 && (unsigned char)message[i + 1] <= 0x9f;
  };
  bool clean = true;
  for (size_t i = 0; i < message.size() && clean; ++i)
    clean = !is_c0((unsigned char)message[i]) && !is_c1(i);
  if (clean) return message;
  std::string out;
  for (size_t i = 0; i < message.size(); ++i) {
    const auto c = (unsigned char)message[i];
    if (is_c0(c)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (is_c1(i)) {
      const auto d = (unsigned char)message[++i];
      out += "\\u00";
      out += kHex[d >> 4];
      out += kHex[d & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

}  // namespace wick::detail
