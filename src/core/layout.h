// Internal helpers for tensor layout: dim wrapping, strides, overflow-safe
// element counts, raw (history-free) views, and strided iteration. Kernels and
// autograd use these; they are not part of the public API.
#pragma once

#include <array>
#include <cstdint>

#include "wick/core/error.h"
#include "wick/core/tensor.h"

namespace wick::detail {

/// Maps a possibly negative dim into [0, ndim); throws IndexError naming op.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

/// Row-major strides for sizes.
Shape contiguous_strides(const Shape& sizes);

/// Product of sizes; throws ShapeError naming op on a negative size or an
/// overflow of int64.
int64_t checked_numel(const Shape& sizes, const char* op);

/// A new tensor with its own uninitialised contiguous storage.
Tensor make_empty(const Shape& sizes, DType dtype, const char* op = "empty");

/// A view (no autograd) over t's storage.
Tensor make_view(const Tensor& t, Shape sizes, Shape strides, int64_t offset);

/// Sizes that a and b broadcast to; throws ShapeError naming op.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

/// Strides of t seen as broadcast to `sizes` (0 for broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& sizes);

/// Copies src (broadcast to dst's sizes) into dst, converting dtype. No
/// autograd; dst and src must not partially overlap.
void copy_raw(const Tensor& dst, const Tensor& src);

/// Sets every element of t to value (no autograd checks).
void fill_raw(const Tensor& t, Scalar value);

/// Contiguous tensor with the same values (t itself if already contiguous).
Tensor contiguous_raw(const Tensor& t);

/// Calls f(offsets) for every index of `sizes` in row-major order, where
/// offsets[k] is the element offset into operand k (with its strides).
/// The innermost dimension runs in a tight loop.
template <size_t N, class F>
void for_each_strided(const Shape& sizes, const std::array<const Shape*, N>& strides,
                      std::array<int64_t, N> base, F&& f) {
  const int64_t nd = int64_t(sizes.size());
  for (int64_t s : sizes)
    if (s == 0) return;
  if (nd == 0) {
    f(base);
    return;
  }
  const int64_t inner = sizes[nd - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = (*strides[k])[nd - 1];
  std::vector<int64_t> idx(size_t(nd), 0);
  std::array<int64_t, N> off = base;
  while (true) {
    std::array<int64_t, N> o = off;
    for (int64_t i = 0; i < inner; ++i) {
      f(o);
      for (size_t k = 0; k < N; ++k) o[k] += inner_stride[k];
    }
    int64_t d = nd - 2;
    for (; d >= 0; --d) {
      if (++idx[size_t(d)] < sizes[size_t(d)]) {
        for (size_t k = 0; k < N; ++k) off[k] += (*strides[k])[size_t(d)];
        break;
      }
      for (size_t k = 0; k < N; ++k) off[k] -= (*strides[k])[size_t(d)] * (sizes[size_t(d)] - 1);
      idx[size_t(d)] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace wick::detail
