// Internal: the legacy (pre-1.6) torch.save stream format, docs/formats.md §3.
#pragma once

#include <cstddef>

#include "io/zip.h"
#include "wick/core/value.h"

namespace wick::io::detail {

/// Loads a legacy-format file: magic, protocol, sys-info, object pickle, key
/// list, then each storage's element count and bytes. Storages are always
/// read into memory. With `extract_state_dict`, pickled nn.Modules become their
/// state_dicts (see LoadOptions). Throws FormatError.
Value load_legacy(const Source& src, size_t max_depth, bool extract_state_dict = false);

}  // namespace wick::io::detail
