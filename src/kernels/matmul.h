// Internal: batched matrix products on top of kernels::gemm. Operands keep
// their layout when BLAS can read it (row- or column-major matrices, passed
// with a transpose flag), so transposed views cost no copy.
#pragma once

#include "wick/core/tensor.h"

namespace wick::kernels {

/// out = alpha * a @ b + beta * out over batch dims. a is [..., m, k], b is
/// [..., k, n], out is contiguous [..., m, n]; all three have the same number
/// of dims (>= 2) and a's and b's batch sizes are out's or 1 (broadcast). With
/// beta == 0, out's previous values are ignored (NaN included). float32 or
/// float64, all of one dtype.
void matmul(const Tensor& out, const Tensor& a, const Tensor& b, double alpha = 1, double beta = 0);

}  // namespace wick::kernels
