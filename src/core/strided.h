// Internal: strided iteration, the one walk over an index space that every
// loop over tensor elements uses. An N-operand loop walks one index space (the
// sizes) with each operand's own element strides, and hands out runs along
// the innermost dimension, so that the caller's inner loop is a plain counted
// loop the compiler can vectorise when the strides are 1 or 0. Core reads
// tensors with it (Tensor::to_vector); the kernels build their parallel loops
// on it (kernels/loop.h).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "wick/core/tensor.h"

namespace wick::detail {

/// An index space (outermost dim first) and N operands' strides over it.
template <size_t N>
struct StridedLoop {
  Shape sizes;
  std::array<Shape, N> strides;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : sizes) n *= s;
    return n;
  }

  /// Drops size-1 dims and merges neighbouring dims that every operand walks
  /// as one (stride[d] == stride[d+1] * size[d+1]), so that contiguous and
  /// simply broadcast operands become one long run.
  void coalesce() {
    Shape sz;
    std::array<Shape, N> st;
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (sizes[d] == 1) continue;
      bool merge = !sz.empty();
      for (size_t k = 0; k < N && merge; ++k) merge = st[k].back() == strides[k][d] * sizes[d];
      if (merge) {
        sz.back() *= sizes[d];
        for (size_t k = 0; k < N; ++k) st[k].back() = strides[k][d];
      } else {
        sz.push_back(sizes[d]);
        for (size_t k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
      }
    }
    sizes = std::move(sz);
    strides = std::move(st);
  }
};

/// Calls f(offsets, inner_strides, n) for each run of the innermost dim that
/// lies in the row-major index range [begin, end). offsets[k] is operand k's
/// element offset at the start of the run.
template <size_t N, class F>
void for_each_run(const StridedLoop<N>& loop, int64_t begin, int64_t end, F&& f) {
  using Offsets = std::array<int64_t, N>;
  const size_t nd = loop.sizes.size();
  if (begin >= end) return;
  if (nd == 0) {
    f(Offsets{}, Offsets{}, int64_t(1));
    return;
  }
  int64_t stack_idx[16];
  std::vector<int64_t> heap_idx;
  int64_t* idx = stack_idx;
  if (nd > 16) {
    heap_idx.resize(nd);
    idx = heap_idx.data();
  }
  Offsets off{}, inner{};
  int64_t rem = begin;
  for (size_t d = nd; d-- > 0;) {
    idx[d] = rem % loop.sizes[d];
    rem /= loop.sizes[d];
    for (size_t k = 0; k < N; ++k) off[k] += idx[d] * loop.strides[k][d];
  }
  for (size_t k = 0; k < N; ++k) inner[k] = loop.strides[k][nd - 1];
  const int64_t inner_size = loop.sizes[nd - 1];
  int64_t pos = begin;
  while (true) {
    int64_t n = std::min(inner_size - idx[nd - 1], end - pos);
    f(off, inner, n);
    pos += n;
    if (pos >= end) return;
    // The run ended at the end of the innermost dim: carry into outer dims.
    for (size_t k = 0; k < N; ++k) off[k] -= idx[nd - 1] * inner[k];
    idx[nd - 1] = 0;
    for (size_t d = nd - 1; d-- > 0;) {
      for (size_t k = 0; k < N; ++k) off[k] += loop.strides[k][d];
      if (++idx[d] < loop.sizes[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= loop.sizes[d] * loop.strides[k][d];
      idx[d] = 0;
    }
  }
}

/// for_each_run over the whole index space.
template <size_t N, class F>
void for_each_run(const StridedLoop<N>& loop, F&& f) {
  for_each_run(loop, 0, loop.numel(), f);
}

}  // namespace wick::detail
