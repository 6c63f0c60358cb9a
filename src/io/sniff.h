// Internal: which container a file holds, judged by its first bytes. The one
// place that knows the formats' signatures; load() and detect_format() both
// ask it.
#pragma once

#include <optional>

#include "io/file.h"
#include "wick/io/serialize.h"

namespace wick::io::detail {

/// How every legacy torch.save file starts: its magic number
/// 0x1950a86a20f9469cfc6c pickled (protocol 2) as a 10-byte LONG1, which the
/// unpickler (64-bit ints only) would refuse, so it is matched whole.
inline constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

/// PtZip for a zip local header, PtLegacy for the legacy magic number,
/// Safetensors for an 8-byte length followed by '{'; nullopt otherwise. The
/// safetensors length is not checked against the file here, so that a
/// truncated file is reported as truncated by its reader.
std::optional<Format> sniff_format(const Source& src);

}  // namespace wick::io::detail
