// Internal: argument checks and helpers shared by the families of
// torch.nn.functional in this directory.
#pragma once

#include <algorithm>
#include <vector>

#include "kernels/copy.h"
#include "kernels/loop.h"
#include "ops/internal.h"
#include "wick/autograd/graph.h"
#include "wick/nn/functional/common.h"

namespace wick::detail {

/// kernels::dispatch_float for callers that checked the dtype already.
template <class F>
void visit_float(DType dt, F&& f) {
  kernels::dispatch_float(dt, "nn.functional", f);
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <class T>
T* mut_ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

inline Tensor contiguous_or_undefined(const Tensor& t) {
  return t.defined() ? kernels::contiguous(t) : Tensor();
}

inline void check_defined(const Tensor& t, const char* op, const char* what) {
  WICK_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

/// Input checks shared by every function: defined, float32 or float64.
inline void check_input(const Tensor& input, const char* op) {
  check_defined(input, op, "input");
  check_float(input, op);
}

/// An optional tensor (weight, bias, target, ...) must have the input's dtype.
inline void check_same_dtype(const Tensor& t, const Tensor& input, const char* op,
                             const char* what) {
  if (!t.defined()) return;
  WICK_CHECK_AS(DTypeError, t.dtype() == input.dtype(), op, ": expected ", what, " to have dtype ",
                input.dtype(), " like input, but got ", t.dtype());
}

/// A 1-D per-channel tensor (bias, batch_norm's weight and statistics).
inline void check_vector(const Tensor& t, int64_t n, const char* op, const char* what) {
  if (!t.defined()) return;
  WICK_CHECK_AS(ShapeError, t.dim() == 1 && t.size(0) == n, op, ": expected ", what, " of sizes [",
                n, "] but got sizes ", t.sizes());
}

/// Window parameters are bounded by 2^31 so that the index arithmetic of the
/// kernels (products of two of them plus a size) cannot overflow.
constexpr int64_t kMaxParam = int64_t(1) << 31;

inline void check_positive(nn::functional::Pair p, const char* op, const char* what) {
  WICK_CHECK(p.h > 0 && p.w > 0 && p.h < kMaxParam && p.w < kMaxParam, op, ": ", what,
             " must be positive (and below 2^31) but got [", p.h, ", ", p.w, "]");
}

inline void check_non_negative(nn::functional::Pair p, const char* op, const char* what) {
  WICK_CHECK(p.h >= 0 && p.w >= 0 && p.h < kMaxParam && p.w < kMaxParam, op, ": ", what,
             " must be non-negative (and below 2^31) but got [", p.h, ", ", p.w, "]");
}

/// The incoming gradient as a contiguous tensor of the forward's dtype.
inline Tensor grad_as(const Tensor& g, DType dtype) {
  return kernels::contiguous(g.dtype() == dtype ? g : g.to(dtype));
}

/// `record` for operations with optional inputs: undefined inputs get no edge,
/// and the gradients `backward` returns for them are dropped.
inline void record_optional(const Tensor& out, const char* name, const std::vector<Tensor>& inputs,
                            autograd::BackwardFn backward) {
  std::vector<Tensor> defined;
  std::vector<bool> keep;
  for (const Tensor& t : inputs) {
    keep.push_back(t.defined());
    if (t.defined()) defined.push_back(t);
  }
  if (defined.size() == inputs.size()) {
    autograd::record(out, name, inputs, std::move(backward));
    return;
  }
  autograd::record(out, name, defined, [fn = std::move(backward), keep](const Tensor& g) {
    std::vector<Tensor> all = fn(g), kept;
    for (size_t i = 0; i < all.size(); ++i)
      if (keep[i]) kept.push_back(std::move(all[i]));
    return kept;
  });
}

inline bool wants_grad(const Tensor& t) {
  return t.defined() && t.requires_grad();
}

/// The batch of a [N, C, H, W] or unbatched [C, H, W] input seen as 4-D.
struct Images {
  bool batched;
  int64_t n, c, h, w;
};

inline Images images_of(const Tensor& input, const char* op) {
  WICK_CHECK_AS(ShapeError, input.dim() == 3 || input.dim() == 4, op,
                ": expected a 3-D (unbatched) or 4-D (batched) input but got sizes ",
                input.sizes());
  const Shape& s = input.sizes();
  if (input.dim() == 3) return {false, 1, s[0], s[1], s[2]};
  return {true, s[0], s[1], s[2], s[3]};
}

inline Shape image_sizes(const Images& im, int64_t c, int64_t h, int64_t w) {
  return im.batched ? Shape{im.n, c, h, w} : Shape{c, h, w};
}

}  // namespace wick::detail
