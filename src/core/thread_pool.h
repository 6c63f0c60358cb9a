// Internal: parallel_for over an index range, bounded by set_num_threads, on
// wick's own thread pool (thread_pool.cpp, which also holds the public
// set_num_threads of wick/core/parallel.h).
#pragma once

#include <algorithm>
#include <cstdint>

#include "wick/core/parallel.h"

namespace wick::detail {

/// Calls body(ctx, t, threads) for t in [0, threads) on `threads` threads,
/// the calling thread taking t = 0, and returns when every call has returned;
/// rethrows the first exception one of them threw. Runs body(ctx, 0, 1) alone
/// on the calling thread when threads <= 1, inside another parallel region,
/// or while another thread's parallel region holds the pool.
void parallel_run(int threads, void (*body)(void* ctx, int t, int threads), void* ctx);

/// True on a thread that is running a parallel region's body.
bool in_parallel_region();

/// Splits [begin, end) into contiguous chunks of at least `grain` indices and
/// runs f(chunk_begin, chunk_end) on up to get_num_threads() threads. Runs
/// inline when the range is small or when already inside a parallel region.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  const int use = int(std::min<int64_t>(get_num_threads(), max_chunks));
  if (use <= 1 || in_parallel_region()) {
    f(begin, end);
    return;
  }
  struct Range {
    F* f;
    int64_t begin, end;
  } range{&f, begin, end};
  parallel_run(
      use,
      [](void* ctx, int t, int threads) {
        const Range& r = *static_cast<const Range*>(ctx);
        const int64_t chunk = (r.end - r.begin + threads - 1) / threads;
        const int64_t b = r.begin + t * chunk, e = std::min(r.end, b + chunk);
        if (b < e) (*r.f)(b, e);
      },
      &range);
}

}  // namespace wick::detail
