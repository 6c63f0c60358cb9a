// Internal: which container a file holds, judged by its first bytes. The one
// place that knows the formats' signatures; load() and detect_format() both
// ask it.
#pragma once

#include <cstddef>
#include <optional>

#include "io/file.h"
#include "wick/io/serialize.h"

namespace wick::io::detail {

/// The most bytes legacy_magic_size() looks at.
inline constexpr size_t kLegacyMagicMaxSize = 24;

/// How many bytes the legacy format's magic number takes at the start of `p`
/// (n bytes), or 0 when `p` does not start with it. The magic number is
/// 0x1950a86a20f9469cfc6c pickled alone: PROTO 2 to 5, a FRAME from protocol
/// 4 on, a 10-byte LONG1 (which the unpickler, 64-bit ints only, would refuse)
/// and STOP; it is matched whole (docs/formats.md §3.1).
size_t legacy_magic_size(const unsigned char* p, size_t n);

/// PtZip for a zip local header, PtLegacy for the legacy magic number,
/// Safetensors for an 8-byte length followed by '{'; nullopt otherwise. The
/// safetensors length is not checked against the file here, so that a
/// truncated file is reported as truncated by its reader.
std::optional<Format> sniff_format(const Source& src);

}  // namespace wick::io::detail
