// Internal: row gather and scatter-add kernels (embedding's forward and
// backward) for float and double.
//
// A table is contiguous [num_rows, row_size]; indices are int64 and already
// checked by the caller (src/nn/functional/) to lie in [0, num_rows).
#pragma once

#include <cstdint>

namespace wick::kernels {

/// out[i, :] = table[index[i], :] for i in [0, n); out is contiguous [n, row_size].
template <class T>
void gather_rows(const T* table, int64_t row_size, const int64_t* index, int64_t n, T* out);

/// table[index[i], :] += src[i, :] for i in [0, n), skipping i whose index
/// equals `skip` (pass -1 to skip none). Repeated indices accumulate.
template <class T>
void scatter_add_rows(const T* src, int64_t row_size, const int64_t* index, int64_t n, int64_t skip,
                      T* table);

}  // namespace wick::kernels
