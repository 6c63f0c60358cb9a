// Internal: argument checks and small helpers shared by the op families of
// src/ops/ and src/nn/functional/.
#pragma once

#include <vector>

#include "core/layout.h"
#include "wick/autograd/graph.h"
#include "wick/core/error.h"
#include "wick/core/tensor.h"

// The op families' sources say `using namespace wick::detail;` for these and
// for core's layout helpers.
namespace wick::detail {

/// How an op records its backward rule (wick/autograd/graph.h).
using autograd::needs_grad;
using autograd::record;
using autograd::sum_to;

/// What a backward rule returns: one gradient per input.
using Grads = std::vector<Tensor>;

/// The dtypes the math kernels compute in.
inline bool is_float(DType t) {
  return t == DType::Float32 || t == DType::Float64;
}

/// Refuses dtypes the math kernels do not compute in (float32, float64).
inline void check_float(const Tensor& t, const char* op) {
  check_computable(t.dtype(), op);
  WICK_CHECK_AS(DTypeError, is_float(t.dtype()), op,
                ": expected a float32 or float64 tensor but got ", t.dtype());
}

/// Both float32 or both float64.
inline void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  check_float(a, op);
  check_float(b, op);
  WICK_CHECK_AS(DTypeError, a.dtype() == b.dtype(), op,
                ": expected both tensors to have the same dtype, but got ", a.dtype(), " and ",
                b.dtype(), "; convert one with .to(dtype) first");
}

inline void check_scalar(Scalar s, const char* op) {
  WICK_CHECK_AS(DTypeError, !s.is_complex(), op, ": complex scalars are not supported");
}

/// A contiguous result viewed with other sizes (same element count).
inline Tensor reshaped(const Tensor& t, const Shape& sizes) {
  return make_view(t, sizes, contiguous_strides(sizes), t.storage_offset());
}

}  // namespace wick::detail
