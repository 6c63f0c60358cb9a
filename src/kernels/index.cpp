#include "kernels/index.h"

#include <algorithm>

#include "core/thread_pool.h"

namespace wick::kernels {

template <class T>
void gather_rows(const T* table, int64_t row_size, const int64_t* index, int64_t n, T* out) {
  // Threads only pay off for large copies: ~64k elements per chunk.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(row_size, 1));
  detail::parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T* row = table + index[i] * row_size;
      std::copy(row, row + row_size, out + i * row_size);
    }
  });
}

template <class T>
void scatter_add_rows(const T* src, int64_t row_size, const int64_t* index, int64_t n, int64_t skip,
                      T* table) {
  // Serial: repeated indices would make row-parallel updates race, and this
  // is one pass over the gradient.
  for (int64_t i = 0; i < n; ++i) {
    if (index[i] == skip) continue;
    const T* s = src + i * row_size;
    T* row = table + index[i] * row_size;
    for (int64_t j = 0; j < row_size; ++j) row[j] += s[j];
  }
}

#define WICK_INDEX_INSTANTIATE(T)                                               \
  template void gather_rows<T>(const T*, int64_t, const int64_t*, int64_t, T*); \
  template void scatter_add_rows<T>(const T*, int64_t, const int64_t*, int64_t, int64_t, T*);
WICK_INDEX_INSTANTIATE(float)
WICK_INDEX_INSTANTIATE(double)
#undef WICK_INDEX_INSTANTIATE

}  // namespace wick::kernels
