#include "io/sniff.h"

#include <algorithm>
#include <cstring>

namespace wick::io::detail {

std::optional<Format> sniff_format(const Source& src) {
  unsigned char head[sizeof kLegacyMagic] = {};
  const size_t n = size_t(std::min<uint64_t>(src.size(), sizeof head));
  src.read(0, head, n, "file header");
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return Format::PtZip;
  if (n == sizeof kLegacyMagic && std::memcmp(head, kLegacyMagic, n) == 0) return Format::PtLegacy;
  uint64_t len = 0;
  std::memcpy(&len, head, std::min<size_t>(n, 8));
  if (n >= 9 && head[8] == '{' && len >= 2) return Format::Safetensors;
  return std::nullopt;
}

}  // namespace wick::io::detail
