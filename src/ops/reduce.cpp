// Reductions (wick/ops/reduce.h) and Tensor's reduction members: argument
// checks, output allocation, the call into kernels/reduce, and each
// reduction's backward rule.
#include "wick/ops/reduce.h"

#include "kernels/reduce.h"
#include "ops/internal.h"
#include "wick/autograd/grad_mode.h"
#include "wick/autograd/graph.h"
#include "wick/ops/elementwise.h"

namespace wick {

using namespace wick::detail;  // ops/internal.h

namespace {

/// Which dims `dims` names (all of them when empty, as PyTorch 1.13 does).
std::vector<bool> reduce_mask(const Tensor& x, const Shape& dims, const char* op) {
  std::vector<bool> mask(size_t(x.dim()), dims.empty());
  for (int64_t d : dims) {
    int64_t w = detail::wrap_dim(d, x.dim(), op);
    if (x.dim() == 0) continue;
    WICK_CHECK_AS(IndexError, !mask[size_t(w)], op, ": dim ", w,
                  " appears multiple times in the list of dims ", dims);
    mask[size_t(w)] = true;
  }
  return mask;
}

Shape keepdim_sizes(const Tensor& x, const std::vector<bool>& mask) {
  Shape s = x.sizes();
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) s[d] = 1;
  return s;
}

Shape squeezed_sizes(const Tensor& x, const std::vector<bool>& mask) {
  Shape s;
  for (size_t d = 0; d < mask.size(); ++d)
    if (!mask[d]) s.push_back(x.sizes()[d]);
  return s;
}

DType sum_dtype(const Tensor& x, const char* op) {
  DType t = x.dtype();
  if (is_float(t)) return t;
  check_computable(t, op);
  WICK_CHECK_AS(DTypeError, is_integral(t, true), op, ": not implemented for dtype ", t);
  return DType::Int64;
}

/// Sum (times scale) over the dims in mask; records `name` when x needs grad.
Tensor reduce_sum(const Tensor& x, const std::vector<bool>& mask, bool keepdim, double scale,
                  const char* op, const char* name) {
  Shape keep = keepdim_sizes(x, mask);
  Tensor out = detail::make_empty(keep, sum_dtype(x, op), op);
  kernels::sum(out, x, mask, scale);
  if (!keepdim) out = reshaped(out, squeezed_sizes(x, mask));
  if (needs_grad(x)) {
    record(out, name, {x}, [keep, sizes = x.sizes(), scale](const Tensor& g) {
      Tensor gs = scale == 1 ? g : g * scale;
      return Grads{gs.reshape(keep).expand(sizes)};
    });
  }
  return out;
}

void check_mean_dtype(const Tensor& x) {
  check_computable(x.dtype(), "mean");
  WICK_CHECK_AS(DTypeError, is_float(x.dtype()),
                "mean(): could not infer output dtype. Input dtype must be either a floating point "
                "or complex dtype. Got: ",
                x.dtype());
}

/// Number of elements the mask reduces over.
double reduced_count(const Tensor& x, const std::vector<bool>& mask) {
  double n = 1;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) n *= double(x.sizes()[d]);
  return n;
}

/// x as at least 1-D (a 0-dim tensor reduces like a [1]).
Tensor at_least_1d(const Tensor& x) {
  return x.dim() > 0 ? x : detail::make_view(x, {1}, {1}, x.storage_offset());
}

}  // namespace

// ---- reductions -------------------------------------------------------------

Tensor sum(const Tensor& x) {
  return reduce_sum(x, std::vector<bool>(size_t(x.dim()), true), false, 1, "sum", "SumBackward0");
}

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  return reduce_sum(x, reduce_mask(x, dims, "sum"), keepdim, 1, "sum", "SumBackward1");
}

Tensor mean(const Tensor& x) {
  check_mean_dtype(x);
  return reduce_sum(x, std::vector<bool>(size_t(x.dim()), true), false, 1.0 / double(x.numel()),
                    "mean", "MeanBackward0");
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  check_mean_dtype(x);
  auto mask = reduce_mask(x, dims, "mean");
  return reduce_sum(x, mask, keepdim, 1.0 / reduced_count(x, mask), "mean", "MeanBackward1");
}

Tensor max(const Tensor& x) {
  WICK_CHECK_AS(IndexError, x.numel() > 0,
                "max(): Expected reduction dim to be specified for input.numel() == 0 (sizes ",
                x.sizes(), "). Specify the reduction dim with the 'dim' argument.");
  Tensor out = detail::make_empty({}, x.dtype(), "max");
  kernels::max_all(out, x);
  if (needs_grad(x)) {
    // PyTorch's evenly_distribute_backward: ties share the gradient.
    record(out, "MaxBackward1", {x}, [x, v = out.detach()](const Tensor& g) {
      Tensor mask = eq(x, v).to(x.dtype());
      return Grads{mask * (g / sum(mask))};
    });
  }
  return out;
}

ValuesIndices max(const Tensor& x_in, int64_t dim, bool keepdim) {
  Tensor x = at_least_1d(x_in);
  int64_t d = detail::wrap_dim(dim, x_in.dim(), "max");
  WICK_CHECK_AS(IndexError, x.sizes()[size_t(d)] > 0, "max(): Expected reduction dim ", d,
                " to have non-zero size (sizes ", x_in.sizes(), ")");
  std::vector<bool> mask(size_t(x.dim()), false);
  mask[size_t(d)] = true;
  Shape keep = keepdim_sizes(x, mask);
  Tensor values = detail::make_empty(keep, x.dtype(), "max");
  Tensor indices = detail::make_empty(keep, DType::Int64, "max");
  kernels::max_dim(values, indices, x, d);
  Shape final_sizes = x_in.dim() == 0 ? Shape{} : keepdim ? keep : squeezed_sizes(x, mask);
  Tensor v = reshaped(values, final_sizes), i = reshaped(indices, final_sizes);
  if (needs_grad(x_in)) {
    record(v, "MaxBackward0", {x_in},
           [indices, keep, d, sizes = x_in.sizes(), xs = x.sizes()](const Tensor& g) {
             Tensor gi = zeros(xs, {.dtype = g.dtype()});
             kernels::scatter_dim(gi, d, indices, g.reshape(keep));
             return Grads{gi.reshape(sizes)};
           });
  }
  return {v, i};
}

Tensor argmax(const Tensor& x) {
  WICK_CHECK_AS(IndexError, x.numel() > 0,
                "argmax(): Expected reduction dim to be specified for input.numel() == 0 (sizes ",
                x.sizes(), ")");
  return full({}, kernels::argmax_all(x), {.dtype = DType::Int64});
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard no_grad;  // only the indices are wanted
  return max(x, dim, keepdim).indices;
}

// ---- Tensor members -----------------------------------------------------------

Tensor Tensor::sum() const {
  return wick::sum(*this);
}
Tensor Tensor::sum(const Shape& dims, bool keepdim) const {
  return wick::sum(*this, dims, keepdim);
}
Tensor Tensor::mean() const {
  return wick::mean(*this);
}
Tensor Tensor::mean(const Shape& dims, bool keepdim) const {
  return wick::mean(*this, dims, keepdim);
}
Tensor Tensor::max() const {
  return wick::max(*this);
}
Tensor Tensor::argmax() const {
  return wick::argmax(*this);
}
Tensor Tensor::argmax(int64_t dim, bool keepdim) const {
  return wick::argmax(*this, dim, keepdim);
}

}  // namespace wick
