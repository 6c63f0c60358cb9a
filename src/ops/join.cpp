// cat, stack, chunk and split (wick/ops/join.h). cat copies each input into
// its slice of a fresh output; the others are built from unsqueeze, narrow
// and cat, so their gradients come from those.
#include "wick/ops/join.h"

#include <algorithm>

#include "core/layout.h"
#include "kernels/copy.h"
#include "wick/autograd/graph.h"

namespace wick {

namespace {

/// PyTorch's legacy rule: a 1-dim tensor of size 0 may be concatenated with
/// anything, and is skipped.
bool skipped_in_cat(const Tensor& t) {
  return t.dim() == 1 && t.numel() == 0;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  WICK_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor* ref = nullptr;
  for (const Tensor& t : tensors) {
    WICK_CHECK(t.defined(), "cat: an input tensor is undefined");
    if (!ref && !skipped_in_cat(t)) ref = &t;
  }
  if (!ref) ref = &tensors.front();
  WICK_CHECK_AS(ShapeError, ref->dim() > 0, "cat: zero-dimensional tensor cannot be concatenated");
  int64_t d = detail::wrap_dim(dim, ref->dim(), "cat");
  Shape out_sizes = ref->sizes();
  out_sizes[size_t(d)] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    WICK_CHECK_AS(DTypeError, t.dtype() == ref->dtype(), "cat: expected all tensors to be ",
                  ref->dtype(), " but tensor ", i, " is ", t.dtype());
    if (skipped_in_cat(t) && &t != ref) continue;
    bool same = t.dim() == ref->dim();
    for (int64_t k = 0; same && k < t.dim(); ++k)
      same = k == d || t.sizes()[size_t(k)] == ref->sizes()[size_t(k)];
    WICK_CHECK_AS(ShapeError, same, "cat: sizes of tensors must match except in dimension ", d,
                  ": tensor ", i, " has sizes ", t.sizes(), ", expected ", ref->sizes());
    out_sizes[size_t(d)] += t.sizes()[size_t(d)];
  }
  Tensor out = detail::make_empty(out_sizes, ref->dtype(), "cat");
  std::vector<int64_t> starts;  // each input's offset along d; -1 for a skipped one
  int64_t at = 0;
  for (const Tensor& t : tensors) {
    if (skipped_in_cat(t) && &t != ref) {
      starts.push_back(-1);
      continue;
    }
    int64_t n = t.sizes()[size_t(d)];
    kernels::copy(out.narrow(d, at, n), t);
    starts.push_back(at);
    at += n;
  }
  std::vector<Shape> sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.sizes());
  autograd::record(out, "CatBackward0", tensors, [starts, d, sizes](const Tensor& g) {
    std::vector<Tensor> grads(sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (starts[i] < 0)
        grads[i] = zeros(sizes[i], {.dtype = g.dtype()});
      else
        grads[i] = g.narrow(d, starts[i], sizes[i][size_t(d)]);
    }
    return grads;
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  WICK_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  int64_t d = detail::wrap_dim(dim, tensors.front().dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    WICK_CHECK_AS(ShapeError, tensors[i].sizes() == tensors.front().sizes(),
                  "stack: expects each tensor to be equal size, but got ", tensors.front().sizes(),
                  " at entry 0 and ", tensors[i].sizes(), " at entry ", i);
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

std::vector<Tensor> chunk(const Tensor& input, int64_t chunks, int64_t dim) {
  WICK_CHECK(chunks > 0, "chunk: chunks must be greater than 0, got ", chunks);
  WICK_CHECK_AS(ShapeError, input.dim() > 0, "chunk: expected at least a 1-dimensional tensor");
  int64_t n = input.sizes()[size_t(detail::wrap_dim(dim, input.dim(), "chunk"))];
  return split(input, (n + chunks - 1) / chunks, dim);
}

std::vector<Tensor> split(const Tensor& input, int64_t split_size, int64_t dim) {
  WICK_CHECK_AS(ShapeError, input.dim() > 0, "split: expected at least a 1-dimensional tensor");
  int64_t d = detail::wrap_dim(dim, input.dim(), "split");
  int64_t n = input.sizes()[size_t(d)];
  WICK_CHECK(split_size > 0 || (split_size == 0 && n == 0),
             "split: split_size can only be 0 if the dimension size is 0, got ", split_size);
  if (n == 0) return {input.narrow(d, 0, 0)};
  std::vector<Tensor> out;
  for (int64_t start = 0; start < n; start += split_size)
    out.push_back(input.narrow(d, start, std::min(split_size, n - start)));
  return out;
}

std::vector<Tensor> split(const Tensor& input, const std::vector<int64_t>& split_sizes,
                          int64_t dim) {
  WICK_CHECK_AS(ShapeError, input.dim() > 0, "split: expected at least a 1-dimensional tensor");
  int64_t d = detail::wrap_dim(dim, input.dim(), "split");
  int64_t n = input.sizes()[size_t(d)], total = 0;
  for (int64_t s : split_sizes) {
    WICK_CHECK(s >= 0, "split: split sizes must be non-negative, got ", s);
    total += s;
  }
  WICK_CHECK_AS(ShapeError, total == n, "split: split sizes ", Shape(split_sizes),
                " must sum to the size of dimension ", d, " (", n, ")");
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : split_sizes) {
    out.push_back(input.narrow(d, start, s));
    start += s;
  }
  return out;
}

}  // namespace wick
