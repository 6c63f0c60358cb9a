// Internal: copy and fill kernels over any layout, with broadcasting and dtype
// conversion. No autograd: src/ops/copy.cpp adds the checks and the backward
// rules, and any layer may use these for its raw copies.
#pragma once

#include "wick/core/tensor.h"

namespace wick::kernels {

/// Copies src (broadcast to dst's sizes) into dst, converting dtype. dst and
/// src must not partially overlap.
void copy(const Tensor& dst, const Tensor& src);

/// Sets every element of t to value.
void fill(const Tensor& t, Scalar value);

/// A contiguous tensor with the same values: t itself if already contiguous.
Tensor contiguous(const Tensor& t);

}  // namespace wick::kernels
