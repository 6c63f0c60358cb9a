#include "io/sniff.h"

#include <algorithm>
#include <cstring>

namespace wick::io::detail {

size_t legacy_magic_size(const unsigned char* p, size_t n) {
  // LONG1 of 10 bytes: 0x1950a86a20f9469cfc6c, little-endian; then STOP.
  static constexpr unsigned char kLong[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                            0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
  if (n < 2 || p[0] != 0x80 || p[1] < 2 || p[1] > 5) return 0;
  size_t pos = 2;
  // From protocol 4 on, Python frames the pickle: FRAME and its 8-byte length.
  if (p[1] >= 4 && n > pos && p[pos] == 0x95) {
    if (n < pos + 9) return 0;
    uint64_t frame = 0;
    for (int i = 0; i < 8; ++i) frame |= uint64_t(p[pos + 1 + size_t(i)]) << (8 * i);
    if (frame != sizeof kLong) return 0;
    pos += 9;
  }
  if (n < pos + sizeof kLong || std::memcmp(p + pos, kLong, sizeof kLong) != 0) return 0;
  return pos + sizeof kLong;
}

std::optional<Format> sniff_format(const Source& src) {
  unsigned char head[kLegacyMagicMaxSize] = {};
  const size_t n = size_t(std::min<uint64_t>(src.size(), sizeof head));
  src.read(0, head, n, "file header");
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return Format::PtZip;
  if (legacy_magic_size(head, n) > 0) return Format::PtLegacy;
  uint64_t len = 0;
  std::memcpy(&len, head, std::min<size_t>(n, 8));
  if (n >= 9 && head[8] == '{' && len >= 2) return Format::Safetensors;
  return std::nullopt;
}

}  // namespace wick::io::detail
