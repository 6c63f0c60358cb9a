// Internal: the cache of freed storage blocks that Storage::allocate reuses
// (storage.cpp says why). Blocks up to kStorageCacheMaxBlock bytes are kept,
// kStorageCacheMaxBytes in all; builds with AddressSanitizer keep none.
#pragma once

#include <cstddef>

namespace wick::detail {

inline constexpr size_t kStorageCacheMaxBlock = size_t(16) << 20;
inline constexpr size_t kStorageCacheMaxBytes = size_t(64) << 20;

/// The bytes of freed blocks the cache holds now.
size_t storage_cache_bytes();

}  // namespace wick::detail
