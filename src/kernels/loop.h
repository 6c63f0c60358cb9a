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

/// Runs f.template operator()<T>() with T the C++ type of `dt`, for the real
/// dtypes the kernels compute in natively: float32, float64 and the integer
/// types, plus bool when `with_bool`. Any other dtype: DTypeError naming op.
template <bool with_bool, class F>
void dispatch_real(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
    case DType::Int64:
      return f.template operator()<int64_t>();
    case DType::Int32:
      return f.template operator()<int32_t>();
    case DType::Int16:
      return f.template operator()<int16_t>();
    case DType::Int8:
      return f.template operator()<int8_t>();
    case DType::UInt8:
      return f.template operator()<uint8_t>();
    case DType::Bool:
      if constexpr (with_bool) return f.template operator()<bool>();
      [[fallthrough]];
    default:
      throw DTypeError(detail::concat(op, ": not implemented for dtype ", dt));
  }
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
