// Matrix products through BLAS: torch.matmul and torch.addmm, differentiable
// in float32 and float64. Defined in src/ops/matmul.cpp.
#pragma once

#include "wick/core/tensor.h"

namespace wick {

// ---- matrix products (BLAS; differentiable) -------------------------------
/// torch.matmul: 1-D/2-D products and batched products with broadcasting of
/// batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
/// beta * input + alpha * (m1 @ m2); m1, m2 2-D, input broadcast to the result.
Tensor addmm(const Tensor& input, const Tensor& m1, const Tensor& m2, Scalar beta = 1,
             Scalar alpha = 1);

}  // namespace wick
