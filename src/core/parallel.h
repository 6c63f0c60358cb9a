// Internal: parallel_for over an index range, bounded by set_num_threads.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "wick/core/parallel.h"

namespace wick::detail {

/// Splits [begin, end) into contiguous chunks of at least `grain` indices and
/// runs f(chunk_begin, chunk_end) on up to get_num_threads() threads. Runs
/// inline when the range is small or when already inside a parallel region.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& f) {
  int64_t n = end - begin;
  if (n <= 0) return;
  int threads = get_num_threads();
  int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  int use = int(std::min<int64_t>(threads, max_chunks));
  if (use <= 1 || omp_in_parallel()) {
    f(begin, end);
    return;
  }
#pragma omp parallel num_threads(use)
  {
    int t = omp_get_thread_num();
    int nt = omp_get_num_threads();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = begin + t * chunk;
    int64_t e = std::min(end, b + chunk);
    if (b < e) f(b, e);
  }
}

}  // namespace wick::detail
