// Reductions: sum, mean, max and argmax over all elements or over dims, the
// counterparts of torch.sum, torch.mean, torch.max and torch.argmax. Defined
// in src/ops/reduce.cpp.
#pragma once

#include "wick/core/tensor.h"

namespace wick {

// ---- reductions -----------------------------------------------------------
/// Sum of all elements (0-dim) or over `dims` (differentiable).
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
/// Largest element (0-dim; differentiable, gradient split evenly among ties
/// as PyTorch does).
Tensor max(const Tensor& x);
/// Largest values along `dim` and their indices (int64); `values` is
/// differentiable (gradient to the index returned).
struct ValuesIndices {
  Tensor values;
  Tensor indices;
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
/// Index of the largest element (first one on ties), int64.
Tensor argmax(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

}  // namespace wick
