// Internal: reduction CPU kernels (sum/mean over dims, max/argmax) and the
// scatter that routes max's gradient back to the chosen elements. No autograd
// and no argument checks beyond internal invariants: src/ops/reduce.cpp
// checks dims and dtypes and allocates the contiguous outputs.
#pragma once

#include <cstdint>
#include <vector>

#include "wick/core/tensor.h"

namespace wick::kernels {

/// out = scale * (sum of x over the dims d with reduce[d]). `out` is
/// contiguous with x's sizes, reduced dims set to 1. Floating x: out has x's
/// dtype and sums accumulate in float64. Integer or bool x: out is int64 and
/// `scale` is ignored.
void sum(const Tensor& out, const Tensor& x, const std::vector<bool>& reduce, double scale = 1);

/// Writes the largest element of x into the one-element `value` (x's dtype);
/// NaN if x holds one. x must be non-empty and of a real dtype other than
/// float16/bfloat16.
void max_all(const Tensor& value, const Tensor& x);

/// Row-major index of the largest element of x: the first one on ties; a NaN
/// counts as largest. Same requirements as max_all.
int64_t argmax_all(const Tensor& x);

/// Largest element along `dim` and its index (first on ties, NaN largest).
/// `values` (x's dtype) and `indices` (int64) are contiguous with x's sizes,
/// size 1 at dim; x's size at dim must be > 0.
void max_dim(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim);

/// dst[..., index[...], ...] = src[...] along `dim` for every position of
/// index and src (both of dst's sizes with size 1 at dim); dst contiguous.
void scatter_dim(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace wick::kernels
