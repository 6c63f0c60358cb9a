// Internal: what the kernels share: dtype dispatch, the parallel grain, and
// parallel loops over the strided runs of core/strided.h.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/strided.h"
#include "core/thread_pool.h"
#include "wick/core/tensor.h"

namespace wick::kernels {

using detail::for_each_run;
using detail::StridedLoop;

/// Runs f.template operator()<T>() with T the one of Ts whose dtype is `dt`
/// and returns true, or returns false when `dt` is none of them.
template <class... Ts, class F>
bool try_dispatch(DType dt, F&& f) {
  return ((dt == dtype_of<Ts>() && (f.template operator()<Ts>(), true)) || ...);
}

/// try_dispatch, throwing DTypeError naming `op` for any other dtype (and
/// the conversion to use for a storage-only one).
template <class... Ts, class F>
void dispatch(DType dt, const char* op, F&& f) {
  if (try_dispatch<Ts...>(dt, f)) return;
  check_computable(dt, op);
  throw DTypeError(detail::concat(op, ": not implemented for dtype ", dt));
}

/// The dtypes the math kernels compute in: float32 and float64.
template <class F>
void dispatch_float(DType dt, const char* op, F&& f) {
  dispatch<float, double>(dt, op, f);
}

/// The real dtypes the kernels compute in natively: float32, float64 and the
/// integer types, plus bool when `with_bool`.
template <bool with_bool, class F>
void dispatch_real(DType dt, const char* op, F&& f) {
  if constexpr (with_bool)
    dispatch<float, double, int64_t, int32_t, int16_t, int8_t, uint8_t, bool>(dt, op, f);
  else
    dispatch<float, double, int64_t, int32_t, int16_t, int8_t, uint8_t>(dt, op, f);
}

/// Elements per parallel chunk: below this a kernel runs inline, so tiny
/// tensors never pay for waking threads.
inline constexpr int64_t kGrain = 32768;

/// for_each_run over the whole index space, split across threads in chunks
/// of at least `grain` elements (inline when small).
template <size_t N, class F>
void parallel_runs(const StridedLoop<N>& loop, F&& f, int64_t grain = kGrain) {
  detail::parallel_for(0, loop.numel(), grain,
                       [&](int64_t b, int64_t e) { for_each_run(loop, b, e, f); });
}

}  // namespace wick::kernels
