// Dataset's generic batch gather and TensorDataset's fast one.
#include "wick/data/dataset.h"

#include <cstring>

#include "wick/core/error.h"

namespace wick::data {

namespace {

Shape batch_shape(int64_t n, const Shape& row) {
  Shape s{n};
  s.insert(s.end(), row.begin(), row.end());
  return s;
}

// Copies `src` (any layout) into row `i` of the contiguous batch tensor `dst`.
void copy_row(const Tensor& dst, int64_t i, const Tensor& src, const char* which, int64_t index) {
  Shape want(dst.sizes().begin() + 1, dst.sizes().end());
  WICK_CHECK_AS(ShapeError, src.sizes() == want, "Dataset::get_batch: example ", index, "'s ",
                which, " has sizes ", src.sizes(), " but the batch's first example has ", want);
  WICK_CHECK_AS(DTypeError, src.dtype() == dst.dtype(), "Dataset::get_batch: example ", index,
                "'s ", which, " has dtype ", src.dtype(), " but the batch's first example has ",
                dst.dtype());
  Tensor c = src.contiguous();
  int64_t row_bytes = c.nbytes();
  std::memcpy(static_cast<std::byte*>(dst.data_ptr()) + i * row_bytes, c.data_ptr(),
              size_t(row_bytes));
}

}  // namespace

Batch Dataset::get_batch(std::span<const int64_t> indices) const {
  WICK_CHECK(!indices.empty(), "Dataset::get_batch: no indices");
  const int64_t n = int64_t(indices.size());
  Batch out;
  for (int64_t i = 0; i < n; ++i) {
    Example e = get(indices[i]);
    if (i == 0) {
      out.input = empty(batch_shape(n, e.input.sizes()), {.dtype = e.input.dtype()});
      out.target = empty(batch_shape(n, e.target.sizes()), {.dtype = e.target.dtype()});
    }
    copy_row(out.input, i, e.input, "input", indices[i]);
    copy_row(out.target, i, e.target, "target", indices[i]);
  }
  return out;
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) {
  WICK_CHECK_AS(ShapeError, inputs.defined() && targets.defined(),
                "TensorDataset: inputs and targets must be defined tensors");
  WICK_CHECK_AS(ShapeError, inputs.dim() >= 1 && targets.dim() >= 1,
                "TensorDataset: inputs and targets need a first dimension, got sizes ",
                inputs.sizes(), " and ", targets.sizes());
  WICK_CHECK_AS(ShapeError, inputs.size(0) == targets.size(0),
                "TensorDataset: size mismatch between tensors: inputs ", inputs.sizes(),
                ", targets ", targets.sizes());
  inputs_ = inputs.detach().contiguous();
  targets_ = targets.detach().contiguous();
}

Example TensorDataset::get(int64_t index) const {
  WICK_CHECK_AS(IndexError, index >= 0 && index < size(), "TensorDataset: index ", index,
                " is out of range for a dataset of size ", size());
  return {inputs_.select(0, index), targets_.select(0, index)};
}

namespace {

// One memcpy per row: the loader's hot path, so no per-example tensors.
Tensor gather_rows(const Tensor& all, std::span<const int64_t> indices) {
  const int64_t n = int64_t(indices.size()), rows = all.size(0);
  Shape row(all.sizes().begin() + 1, all.sizes().end());
  Tensor out = empty(batch_shape(n, row), {.dtype = all.dtype()});
  const size_t row_bytes = rows > 0 ? size_t(all.nbytes() / rows) : 0;
  const auto* src = static_cast<const std::byte*>(all.data_ptr());
  auto* dst = static_cast<std::byte*>(out.data_ptr());
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + size_t(i) * row_bytes, src + size_t(indices[i]) * row_bytes, row_bytes);
  }
  return out;
}

}  // namespace

Batch TensorDataset::get_batch(std::span<const int64_t> indices) const {
  for (int64_t i : indices) {
    WICK_CHECK_AS(IndexError, i >= 0 && i < size(), "TensorDataset::get_batch: index ", i,
                  " is out of range for a dataset of size ", size());
  }
  return {gather_rows(inputs_, indices), gather_rows(targets_, indices)};
}

}  // namespace wick::data
