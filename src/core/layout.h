// Internal: tensor layout arithmetic (dim wrapping, strides, overflow-safe
// element counts, broadcasting) and the two ways every layer makes a tensor of
// a given layout: a fresh contiguous one, or a view of an existing storage.
// Defined in layout.cpp; kernels, ops and io use them.
#pragma once

#include <cstdint>

#include "wick/core/error.h"
#include "wick/core/tensor.h"

namespace wick::detail {

/// Maps a possibly negative dim into [0, ndim); throws IndexError naming op.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

/// Row-major strides for sizes; throws ShapeError when they overflow int64.
Shape contiguous_strides(const Shape& sizes);

/// Product of sizes; throws ShapeError naming op on a negative size or an
/// overflow of int64.
int64_t checked_numel(const Shape& sizes, const char* op);

/// Sizes that a and b broadcast to; throws ShapeError naming op.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

/// Strides of t seen as broadcast to `sizes` (0 for broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& sizes);

/// A new tensor with its own uninitialised contiguous storage; a size that
/// overflows is a ShapeError naming op.
Tensor make_empty(const Shape& sizes, DType dtype, const char* op = "empty");

/// A view of t's storage with another layout (no autograd), checked by
/// make_tensor.
Tensor make_view(const Tensor& t, Shape sizes, Shape strides, int64_t offset);

}  // namespace wick::detail
