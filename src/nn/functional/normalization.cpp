// batch_norm and layer_norm: argument checks, the running statistics, the
// calls into kernels/norm and the backward rules.
#include "wick/nn/functional/normalization.h"

#include "autograd/internal.h"
#include "kernels/norm.h"
#include "nn/functional/internal.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  const char* op = "batch_norm";
  check_input(input, op);
  WICK_CHECK_AS(ShapeError, input.dim() >= 2, op,
                ": expected input of at least 2 dims [N, C, ...] but got sizes ", input.sizes());
  const int64_t n = input.size(0), c = input.size(1);
  int64_t spatial = 1;
  for (int64_t d = 2; d < input.dim(); ++d) spatial *= input.size(d);
  for (auto [t, what] : {std::pair{&running_mean, "running_mean"},
                         {&running_var, "running_var"},
                         {&weight, "weight"},
                         {&bias, "bias"}}) {
    check_same_dtype(*t, input, op, what);
    check_vector(*t, c, op, what);
  }
  WICK_CHECK(running_mean.defined() == running_var.defined(), op,
             ": running_mean and running_var must both be given or both be undefined");
  if (training) {
    WICK_CHECK_AS(ShapeError, n * spatial > 1, op,
                  ": expected more than 1 value per channel when training, got input of sizes ",
                  input.sizes());
  } else {
    WICK_CHECK(running_mean.defined(), op,
               ": running_mean and running_var must be given in evaluation mode");
  }
  if (training && running_mean.defined()) {
    autograd::check_inplace(running_mean, op);
    autograd::check_inplace(running_var, op);
  }

  Tensor x = kernels::contiguous(input), w = contiguous_or_undefined(weight);
  Tensor b = contiguous_or_undefined(bias);
  Tensor out = make_empty(input.sizes(), input.dtype(), op);
  // The statistics the output was normalised with, kept for backward.
  Tensor mean = make_empty({c}, input.dtype(), op), invstd = make_empty({c}, input.dtype(), op);
  visit_float(input.dtype(), [&]<class T>() {
    T* m = mean.data<T>();
    T* is = invstd.data<T>();
    auto at = [](const Tensor& t, int64_t i) -> T& { return t.data<T>()[i * t.stride(0)]; };
    if (training) {
      kernels::batch_norm_stats<T>(x.data<T>(), n, c, spatial, m, is);  // `is` holds var here
      const double count = double(n * spatial);
      for (int64_t i = 0; i < c; ++i) {
        if (running_mean.defined()) {
          at(running_mean, i) = T((1 - momentum) * at(running_mean, i) + momentum * m[i]);
          at(running_var, i) =
              T((1 - momentum) * at(running_var, i) + momentum * is[i] * count / (count - 1));
        }
        is[i] = T(1 / std::sqrt(double(is[i]) + eps));
      }
    } else {
      for (int64_t i = 0; i < c; ++i) {
        m[i] = at(running_mean, i);
        is[i] = T(1 / std::sqrt(double(at(running_var, i)) + eps));
      }
    }
    std::vector<T> scale(static_cast<size_t>(c)), shift(static_cast<size_t>(c));
    for (int64_t i = 0; i < c; ++i) {
      scale[size_t(i)] = (w.defined() ? w.data<T>()[i] : T(1)) * is[i];
      shift[size_t(i)] = (b.defined() ? b.data<T>()[i] : T(0)) - m[i] * scale[size_t(i)];
    }
    kernels::batch_norm_apply<T>(x.data<T>(), n, c, spatial, scale.data(), shift.data(),
                                 out.data<T>());
  });

  if (autograd::needs_grad({&input, &weight, &bias})) {
    const bool need_x = input.requires_grad(), need_w = wants_grad(weight);
    const bool need_b = wants_grad(bias);
    record_optional(out, "NativeBatchNormBackward0", {input, weight, bias},
                    [n, c, spatial, training, need_x, need_w, need_b, x = x.detach(),
                     w = w.defined() ? w.detach() : w, mean, invstd](const Tensor& grad) {
                      Tensor g = grad_as(grad, x.dtype());
                      Tensor gx, gw, gb;
                      if (need_x) gx = make_empty(x.sizes(), x.dtype());
                      if (need_w) gw = make_empty({c}, x.dtype());
                      if (need_b) gb = make_empty({c}, x.dtype());
                      visit_float(x.dtype(), [&]<class T>() {
                        kernels::batch_norm_backward<T>(
                            g.data<T>(), x.data<T>(), n, c, spatial, mean.data<T>(),
                            invstd.data<T>(), ptr_or_null<T>(w), training, mut_ptr_or_null<T>(gx),
                            mut_ptr_or_null<T>(gw), mut_ptr_or_null<T>(gb));
                      });
                      return std::vector<Tensor>{gx, gw, gb};
                    });
  }
  return out;
}

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  check_input(input, op);
  check_same_dtype(weight, input, op, "weight");
  check_same_dtype(bias, input, op, "bias");
  const int64_t k = int64_t(normalized_shape.size());
  WICK_CHECK_AS(ShapeError, k >= 1, op,
                ": expected normalized_shape to be at least 1-dimensional but got ",
                normalized_shape);
  for (auto [t, what] : {std::pair{&weight, "weight"}, {&bias, "bias"}})
    WICK_CHECK_AS(ShapeError, !t->defined() || t->sizes() == normalized_shape, op, ": expected ",
                  what, " of sizes ", normalized_shape, " (normalized_shape) but got sizes ",
                  t->sizes());
  const Shape& in = input.sizes();
  WICK_CHECK_AS(ShapeError,
                input.dim() >= k && std::equal(in.end() - k, in.end(), normalized_shape.begin()),
                op, ": given normalized_shape=", normalized_shape, ", expected input whose last ",
                k, " sizes are ", normalized_shape, " but got sizes ", in);
  const int64_t rows = detail::checked_numel(Shape(in.begin(), in.end() - k), op);
  const int64_t cols = detail::checked_numel(normalized_shape, op);

  Tensor x = kernels::contiguous(input), w = contiguous_or_undefined(weight);
  Tensor b = contiguous_or_undefined(bias);
  Tensor out = make_empty(in, input.dtype(), op);
  // Per-row statistics, kept for backward.
  Tensor mean = make_empty({rows}, input.dtype(), op), rstd = make_empty({rows}, input.dtype(), op);
  if (cols > 0) {
    visit_float(input.dtype(), [&]<class T>() {
      kernels::layer_norm_forward<T>(x.data<T>(), rows, cols, ptr_or_null<T>(w), ptr_or_null<T>(b),
                                     eps, out.data<T>(), mean.data<T>(), rstd.data<T>());
    });
  }

  if (autograd::needs_grad({&input, &weight, &bias})) {
    const bool need_x = input.requires_grad(), need_w = wants_grad(weight);
    const bool need_b = wants_grad(bias);
    record_optional(
        out, "NativeLayerNormBackward0", {input, weight, bias},
        [rows, cols, need_x, need_w, need_b, x = x.detach(), w = w.defined() ? w.detach() : w, mean,
         rstd, normalized_shape](const Tensor& grad) {
          Tensor g = grad_as(grad, x.dtype());
          Tensor gx, gw, gb;
          if (need_x) gx = make_empty(x.sizes(), x.dtype());
          if (need_w) gw = make_empty(normalized_shape, x.dtype());
          if (need_b) gb = make_empty(normalized_shape, x.dtype());
          if (cols > 0) {
            visit_float(x.dtype(), [&]<class T>() {
              kernels::layer_norm_backward<T>(g.data<T>(), x.data<T>(), rows, cols, mean.data<T>(),
                                              rstd.data<T>(), ptr_or_null<T>(w),
                                              mut_ptr_or_null<T>(gx), mut_ptr_or_null<T>(gw),
                                              mut_ptr_or_null<T>(gb));
            });
          }
          return std::vector<Tensor>{gx, gw, gb};
        });
  }
  return out;
}

}  // namespace wick::nn::functional
