// The functions of wick/autograd/functional.h: argument checks, the calls into
// the kernels (src/kernels/{conv,index,pool,norm,softmax_loss}.*) and every backward
// rule of these functions.
#include "wick/autograd/functional.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "autograd/internal.h"
#include "core/layout.h"
#include "kernels/blas.h"
#include "kernels/conv.h"
#include "kernels/index.h"
#include "kernels/norm.h"
#include "kernels/pool.h"
#include "kernels/softmax_loss.h"

namespace wick::functional {

using detail::contiguous_raw;
using detail::make_empty;
using detail::make_view;

namespace {

/// Calls f.template operator()<T>() with T = float or double (the caller has
/// checked that dt is one of them).
template <class F>
decltype(auto) visit_float(DType dt, F&& f) {
  if (dt == DType::Float32) return f.template operator()<float>();
  return f.template operator()<double>();
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <class T>
T* mut_ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

Tensor contiguous_or_undefined(const Tensor& t) {
  return t.defined() ? contiguous_raw(t) : Tensor();
}

void check_defined(const Tensor& t, const char* op, const char* what) {
  WICK_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

/// Input checks shared by every function: defined, float32 or float64.
void check_input(const Tensor& input, const char* op) {
  check_defined(input, op, "input");
  autograd::check_float(input, op);
}

/// An optional tensor (weight, bias, target, ...) must have the input's dtype.
void check_same_dtype(const Tensor& t, const Tensor& input, const char* op, const char* what) {
  if (!t.defined()) return;
  WICK_CHECK_AS(DTypeError, t.dtype() == input.dtype(), op, ": expected ", what, " to have dtype ",
                input.dtype(), " like input, but got ", t.dtype());
}

/// A 1-D per-channel tensor (bias, batch_norm's weight and statistics).
void check_vector(const Tensor& t, int64_t n, const char* op, const char* what) {
  if (!t.defined()) return;
  WICK_CHECK_AS(ShapeError, t.dim() == 1 && t.size(0) == n, op, ": expected ", what, " of sizes [",
                n, "] but got sizes ", t.sizes());
}

/// Window parameters are bounded by 2^31 so that the index arithmetic of the
/// kernels (products of two of them plus a size) cannot overflow.
constexpr int64_t kMaxParam = int64_t(1) << 31;

void check_positive(Pair p, const char* op, const char* what) {
  WICK_CHECK(p.h > 0 && p.w > 0 && p.h < kMaxParam && p.w < kMaxParam, op, ": ", what,
             " must be positive (and below 2^31) but got [", p.h, ", ", p.w, "]");
}

void check_non_negative(Pair p, const char* op, const char* what) {
  WICK_CHECK(p.h >= 0 && p.w >= 0 && p.h < kMaxParam && p.w < kMaxParam, op, ": ", what,
             " must be non-negative (and below 2^31) but got [", p.h, ", ", p.w, "]");
}

/// The incoming gradient as a contiguous tensor of the forward's dtype.
Tensor grad_as(const Tensor& g, DType dtype) {
  return contiguous_raw(g.dtype() == dtype ? g : g.to(dtype));
}

/// `record` for operations with optional inputs: undefined inputs get no edge,
/// and the gradients `backward` returns for them are dropped.
void record_optional(const Tensor& out, const char* name, const std::vector<Tensor>& inputs,
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

bool wants_grad(const Tensor& t) {
  return t.defined() && t.requires_grad();
}

/// C = A·B (op() per the flags) over contiguous row-major matrices, also for
/// empty ones, which BLAS does not accept.
template <class T>
void matmul_raw(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, const T* b, T beta,
                T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == T(0)) std::fill(c, c + m * n, T(0));
    return;
  }
  kernels::gemm(ta, tb, m, n, k, T(1), a, ta ? m : k, b, tb ? k : n, beta, c, n);
}

/// The batch of a [N, C, H, W] or unbatched [C, H, W] input seen as 4-D.
struct Images {
  bool batched;
  int64_t n, c, h, w;
};

Images images_of(const Tensor& input, const char* op) {
  WICK_CHECK_AS(ShapeError, input.dim() == 3 || input.dim() == 4, op,
                ": expected a 3-D (unbatched) or 4-D (batched) input but got sizes ",
                input.sizes());
  const Shape& s = input.sizes();
  if (input.dim() == 3) return {false, 1, s[0], s[1], s[2]};
  return {true, s[0], s[1], s[2], s[3]};
}

Shape image_sizes(const Images& im, int64_t c, int64_t h, int64_t w) {
  return im.batched ? Shape{im.n, c, h, w} : Shape{c, h, w};
}

}  // namespace

// ---- convolution and linear -------------------------------------------------

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Pair stride,
              Pair padding, Pair dilation, int64_t groups) {
  const char* op = "conv2d";
  check_input(input, op);
  check_defined(weight, op, "weight");
  check_same_dtype(weight, input, op, "weight");
  check_same_dtype(bias, input, op, "bias");
  Images im = images_of(input, op);
  WICK_CHECK_AS(ShapeError, weight.dim() == 4, op,
                ": expected weight of 4 dims [out, in/groups, kH, kW] but got sizes ",
                weight.sizes());
  check_positive(stride, op, "stride");
  check_non_negative(padding, op, "padding");
  check_positive(dilation, op, "dilation");
  WICK_CHECK(groups > 0, op, ": groups must be positive but got ", groups);
  const int64_t c_out = weight.size(0), kh = weight.size(2), kw = weight.size(3);
  WICK_CHECK_AS(ShapeError, c_out % groups == 0, op, ": weight of sizes ", weight.sizes(), " has ",
                c_out, " output channels, which groups=", groups, " does not divide");
  WICK_CHECK_AS(ShapeError, im.c % groups == 0 && im.c / groups == weight.size(1), op,
                ": input of sizes ", input.sizes(), " has ", im.c, " channels but weight of sizes ",
                weight.sizes(), " with groups=", groups,
                " expects weight.size(1) * groups = ", weight.size(1), " * ", groups);
  check_vector(bias, c_out, op, "bias");
  int64_t span_h, span_w;  // the dilated kernel
  WICK_CHECK_AS(ShapeError,
                !__builtin_mul_overflow(dilation.h, kh - 1, &span_h) &&
                    !__builtin_mul_overflow(dilation.w, kw - 1, &span_w),
                op, ": weight of sizes ", weight.sizes(), " dilated by [", dilation.h, ", ",
                dilation.w, "] overflows int64");
  ++span_h;
  ++span_w;
  const int64_t padded_h = im.h + 2 * padding.h, padded_w = im.w + 2 * padding.w;
  WICK_CHECK_AS(ShapeError, padded_h >= span_h && padded_w >= span_w && kh > 0 && kw > 0, op,
                ": input of sizes ", input.sizes(), " padded to (", padded_h, " x ", padded_w,
                ") is smaller than the dilated kernel (", span_h, " x ", span_w,
                "): output size is too small");
  const int64_t out_h = (padded_h - span_h) / stride.h + 1;
  const int64_t out_w = (padded_w - span_w) / stride.w + 1;
  // The kernel's column matrix has this many elements per image.
  detail::checked_numel({im.c, kh, kw, out_h, out_w}, op);
  const kernels::Conv2dShape s{.batch = im.n,
                               .in_channels = im.c,
                               .in_h = im.h,
                               .in_w = im.w,
                               .out_channels = c_out,
                               .kernel_h = kh,
                               .kernel_w = kw,
                               .stride_h = stride.h,
                               .stride_w = stride.w,
                               .pad_h = padding.h,
                               .pad_w = padding.w,
                               .dilation_h = dilation.h,
                               .dilation_w = dilation.w,
                               .groups = groups,
                               .out_h = out_h,
                               .out_w = out_w};

  Tensor x = contiguous_raw(input), w = contiguous_raw(weight), b = contiguous_or_undefined(bias);
  Tensor out = make_empty(image_sizes(im, c_out, s.out_h, s.out_w), input.dtype(), op);
  const bool grad = autograd::needs_grad({&input, &weight, &bias});
  // The weight's gradient needs the input's column matrices again: keep the
  // forward's (as PyTorch's CPU convolution keeps `finput`) unless they are
  // large, when unfolding twice is cheaper than holding them.
  constexpr int64_t kMaxKeptColumnBytes = int64_t(64) << 20;
  Tensor columns;
  const int64_t column_numel = kernels::conv2d_columns_per_image(s) * s.batch;
  if (grad && weight.requires_grad() && column_numel > 0 &&
      column_numel * element_size(input.dtype()) <= kMaxKeptColumnBytes)
    columns = make_empty({column_numel}, input.dtype(), op);
  visit_float(input.dtype(), [&]<class T>() {
    kernels::conv2d_forward<T>(s, x.data<T>(), w.data<T>(), ptr_or_null<T>(b), out.data<T>(),
                               mut_ptr_or_null<T>(columns));
  });

  if (grad) {
    const bool need_x = input.requires_grad(), need_w = weight.requires_grad();
    const bool need_b = wants_grad(bias);
    record_optional(out, "ConvolutionBackward0", {input, weight, bias},
                    [s, need_x, need_w, need_b, x = x.detach(), w = w.detach(), columns,
                     in_sizes = input.sizes()](const Tensor& grad) {
                      Tensor g = grad_as(grad, x.dtype());
                      Tensor gx, gw, gb;
                      if (need_x) gx = make_empty(in_sizes, x.dtype());
                      if (need_w) gw = make_empty(w.sizes(), x.dtype());
                      if (need_b) gb = make_empty({s.out_channels}, x.dtype());
                      visit_float(x.dtype(), [&]<class T>() {
                        kernels::conv2d_backward<T>(s, g.data<T>(), x.data<T>(), w.data<T>(),
                                                    mut_ptr_or_null<T>(gx), mut_ptr_or_null<T>(gw),
                                                    mut_ptr_or_null<T>(gb),
                                                    ptr_or_null<T>(columns));
                      });
                      return std::vector<Tensor>{gx, gw, gb};
                    });
  }
  return out;
}

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  const char* op = "linear";
  check_input(input, op);
  check_defined(weight, op, "weight");
  check_same_dtype(weight, input, op, "weight");
  check_same_dtype(bias, input, op, "bias");
  WICK_CHECK_AS(ShapeError, weight.dim() == 2, op,
                ": expected weight of 2 dims [out, in] but got sizes ", weight.sizes());
  WICK_CHECK_AS(ShapeError, input.dim() >= 1 && input.size(-1) == weight.size(1), op,
                ": input of sizes ", input.sizes(), " does not fit weight of sizes ",
                weight.sizes(), " (the last input size must equal weight.size(1))");
  const int64_t f_in = weight.size(1), f_out = weight.size(0);
  check_vector(bias, f_out, op, "bias");
  const int64_t rows =
      detail::checked_numel(Shape(input.sizes().begin(), input.sizes().end() - 1), op);
  Shape out_sizes = input.sizes();
  out_sizes.back() = f_out;

  Tensor x = contiguous_raw(input), w = contiguous_raw(weight), b = contiguous_or_undefined(bias);
  Tensor out = make_empty(out_sizes, input.dtype(), op);
  visit_float(input.dtype(), [&]<class T>() {
    T* y = out.data<T>();
    if (b.defined()) {
      const T* pb = b.data<T>();
      for (int64_t r = 0; r < rows; ++r) std::copy(pb, pb + f_out, y + r * f_out);
    }
    matmul_raw<T>(false, true, rows, f_out, f_in, x.data<T>(), w.data<T>(),
                  b.defined() ? T(1) : T(0), y);
  });

  if (autograd::needs_grad({&input, &weight, &bias})) {
    const bool need_x = input.requires_grad(), need_w = weight.requires_grad();
    const bool need_b = wants_grad(bias);
    record_optional(out, bias.defined() ? "AddmmBackward0" : "MmBackward0", {input, weight, bias},
                    [rows, f_in, f_out, need_x, need_w, need_b, x = x.detach(), w = w.detach(),
                     in_sizes = input.sizes()](const Tensor& grad) {
                      Tensor g = grad_as(grad, x.dtype());
                      Tensor gx, gw, gb;
                      visit_float(x.dtype(), [&]<class T>() {
                        if (need_x) {
                          gx = make_empty(in_sizes, x.dtype());
                          matmul_raw<T>(false, false, rows, f_in, f_out, g.data<T>(), w.data<T>(),
                                        T(0), gx.data<T>());
                        }
                        if (need_w) {
                          gw = make_empty({f_out, f_in}, x.dtype());
                          matmul_raw<T>(true, false, f_out, f_in, rows, g.data<T>(), x.data<T>(),
                                        T(0), gw.data<T>());
                        }
                        if (need_b) {
                          gb = make_empty({f_out}, x.dtype());
                          std::vector<double> acc(size_t(f_out), 0.0);
                          const T* pg = g.data<T>();
                          for (int64_t r = 0; r < rows; ++r)
                            for (int64_t j = 0; j < f_out; ++j) acc[size_t(j)] += pg[r * f_out + j];
                          std::copy(acc.begin(), acc.end(), gb.data<T>());
                        }
                      });
                      return std::vector<Tensor>{gx, gw, gb};
                    });
  }
  return out;
}

// ---- pooling ------------------------------------------------------------------

namespace {

/// The planes and input size every pooling kernel needs; refuses empty images.
kernels::Pool2dShape input_planes(const Tensor& input, const Images& im, const char* op) {
  WICK_CHECK_AS(ShapeError, im.c > 0 && im.h > 0 && im.w > 0, op,
                ": expected input with non-zero channels, height and width but got sizes ",
                input.sizes());
  kernels::Pool2dShape s{};
  s.planes = im.n * im.c;
  s.in_h = im.h;
  s.in_w = im.w;
  return s;
}

/// Checks pooling arguments and returns the kernel shape for `input`.
kernels::Pool2dShape pool_shape(const Tensor& input, const Images& im, Pair kernel, Pair stride,
                                Pair padding, Pair dilation, bool ceil_mode, const char* op) {
  check_positive(kernel, op, "kernel_size");
  check_positive(stride, op, "stride");
  check_non_negative(padding, op, "padding");
  check_positive(dilation, op, "dilation");
  const int64_t span_h = (kernel.h - 1) * dilation.h + 1, span_w = (kernel.w - 1) * dilation.w + 1;
  WICK_CHECK_AS(ShapeError, padding.h <= span_h / 2 && padding.w <= span_w / 2, op,
                ": pad should be at most half of effective kernel size, but got pad=[", padding.h,
                ", ", padding.w, "], kernel_size=[", kernel.h, ", ", kernel.w, "] and dilation=[",
                dilation.h, ", ", dilation.w, "]");
  kernels::Pool2dShape s = input_planes(input, im, op);
  s.kernel_h = kernel.h;
  s.kernel_w = kernel.w;
  s.stride_h = stride.h;
  s.stride_w = stride.w;
  s.pad_h = padding.h;
  s.pad_w = padding.w;
  s.dilation_h = dilation.h;
  s.dilation_w = dilation.w;
  s.out_h = kernels::pool_output_size(im.h, kernel.h, stride.h, padding.h, dilation.h, ceil_mode);
  s.out_w = kernels::pool_output_size(im.w, kernel.w, stride.w, padding.w, dilation.w, ceil_mode);
  WICK_CHECK_AS(ShapeError, s.out_h > 0 && s.out_w > 0, op, ": input of sizes ", input.sizes(),
                " gives output size [", s.out_h, ", ", s.out_w, "]: output size is too small");
  return s;
}

}  // namespace

Tensor max_pool2d(const Tensor& input, Pair kernel_size, std::optional<Pair> stride, Pair padding,
                  Pair dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_input(input, op);
  Images im = images_of(input, op);
  kernels::Pool2dShape s = pool_shape(input, im, kernel_size, stride.value_or(kernel_size), padding,
                                      dilation, ceil_mode, op);
  Tensor x = contiguous_raw(input);
  Tensor out = make_empty(image_sizes(im, im.c, s.out_h, s.out_w), input.dtype(), op);
  // Only the backward pass reads the indices: inference skips them.
  const bool need_indices = autograd::needs_grad(input);
  Tensor indices = need_indices ? make_empty(out.sizes(), DType::Int64, op) : Tensor();
  visit_float(input.dtype(), [&]<class T>() {
    kernels::max_pool2d_forward<T>(s, x.data<T>(), out.data<T>(),
                                   need_indices ? indices.data<int64_t>() : nullptr);
  });
  if (need_indices) {
    autograd::record(
        out, "MaxPool2DWithIndicesBackward0", {input},
        [s, indices, in_sizes = input.sizes(), dtype = input.dtype()](const Tensor& grad) {
          Tensor g = grad_as(grad, dtype);
          Tensor gx = make_empty(in_sizes, dtype);
          visit_float(dtype, [&]<class T>() {
            kernels::max_pool2d_backward<T>(s, g.data<T>(), indices.data<int64_t>(), gx.data<T>());
          });
          return std::vector<Tensor>{gx};
        });
  }
  return out;
}

Tensor avg_pool2d(const Tensor& input, Pair kernel_size, std::optional<Pair> stride, Pair padding,
                  bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  check_input(input, op);
  Images im = images_of(input, op);
  kernels::Pool2dShape s = pool_shape(input, im, kernel_size, stride.value_or(kernel_size), padding,
                                      Pair(1), ceil_mode, op);
  WICK_CHECK(!divisor_override || *divisor_override != 0, op, ": divisor_override must not be 0");
  kernels::AvgPoolDivisor d{count_include_pad, divisor_override.value_or(0)};
  Tensor x = contiguous_raw(input);
  Tensor out = make_empty(image_sizes(im, im.c, s.out_h, s.out_w), input.dtype(), op);
  visit_float(input.dtype(),
              [&]<class T>() { kernels::avg_pool2d_forward<T>(s, d, x.data<T>(), out.data<T>()); });
  if (autograd::needs_grad(input)) {
    autograd::record(out, "AvgPool2DBackward0", {input},
                     [s, d, in_sizes = input.sizes(), dtype = input.dtype()](const Tensor& grad) {
                       Tensor g = grad_as(grad, dtype);
                       Tensor gx = make_empty(in_sizes, dtype);
                       visit_float(dtype, [&]<class T>() {
                         kernels::avg_pool2d_backward<T>(s, d, g.data<T>(), gx.data<T>());
                       });
                       return std::vector<Tensor>{gx};
                     });
  }
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& input, Pair output_size) {
  const char* op = "adaptive_avg_pool2d";
  check_input(input, op);
  Images im = images_of(input, op);
  check_non_negative(output_size, op, "output_size");
  kernels::Pool2dShape s = input_planes(input, im, op);
  s.out_h = output_size.h;
  s.out_w = output_size.w;
  Tensor x = contiguous_raw(input);
  Tensor out = make_empty(image_sizes(im, im.c, s.out_h, s.out_w), input.dtype(), op);
  visit_float(input.dtype(), [&]<class T>() {
    kernels::adaptive_avg_pool2d_forward<T>(s, x.data<T>(), out.data<T>());
  });
  if (autograd::needs_grad(input)) {
    autograd::record(out, "AdaptiveAvgPool2DBackward0", {input},
                     [s, in_sizes = input.sizes(), dtype = input.dtype()](const Tensor& grad) {
                       Tensor g = grad_as(grad, dtype);
                       Tensor gx = make_empty(in_sizes, dtype);
                       visit_float(dtype, [&]<class T>() {
                         kernels::adaptive_avg_pool2d_backward<T>(s, g.data<T>(), gx.data<T>());
                       });
                       return std::vector<Tensor>{gx};
                     });
  }
  return out;
}

// ---- normalisation and dropout -------------------------------------------------

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

  Tensor x = contiguous_raw(input), w = contiguous_or_undefined(weight);
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

Tensor dropout(const Tensor& input, double p, bool training, Generator* gen) {
  const char* op = "dropout";
  check_input(input, op);
  WICK_CHECK(p >= 0 && p <= 1, op, ": dropout probability has to be between 0 and 1, but got ", p);
  if (!training || p == 0) return input;
  Tensor x = contiguous_raw(input);
  Tensor out = make_empty(input.sizes(), input.dtype(), op);
  // The mask holds 0 or 1 / (1 - p): backward is one multiplication.
  Tensor mask = make_empty(input.sizes(), input.dtype(), op);
  Generator& g = gen ? *gen : default_generator();
  visit_float(input.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* py = out.data<T>();
    T* pm = mask.data<T>();
    const int64_t numel = x.numel();
    if (p == 1) {
      std::fill(pm, pm + numel, T(0));
    } else {
      const T scale = T(1 / (1 - p)), keep = T(1 - p);
      for (int64_t i = 0; i < numel; ++i) {
        T u;
        if constexpr (std::is_same_v<T, float>)
          u = g.uniform_float();
        else
          u = g.uniform_double();
        pm[i] = u < keep ? scale : T(0);
      }
    }
    for (int64_t i = 0; i < numel; ++i) py[i] = px[i] * pm[i];
  });
  if (autograd::needs_grad(input)) {
    autograd::record(out, p == 1 ? "MulBackward0" : "NativeDropoutBackward0", {input},
                     [mask](const Tensor& grad) {
                       Tensor g = grad_as(grad, mask.dtype());
                       Tensor gx = make_empty(mask.sizes(), mask.dtype());
                       visit_float(mask.dtype(), [&]<class T>() {
                         const T* pg = g.data<T>();
                         const T* pm = mask.data<T>();
                         T* po = gx.data<T>();
                         for (int64_t i = 0, e = gx.numel(); i < e; ++i) po[i] = pg[i] * pm[i];
                       });
                       return std::vector<Tensor>{gx};
                     });
  }
  return out;
}

// ---- softmax and losses ----------------------------------------------------------

namespace {

Tensor softmax_impl(const Tensor& input, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_input(input, op);
  const int64_t nd = std::max<int64_t>(input.dim(), 1);
  dim = detail::wrap_dim(dim, nd, op);
  int64_t outer = 1, size = 1, inner = 1;
  for (int64_t d = 0; d < input.dim(); ++d) {
    if (d < dim) outer *= input.size(d);
    if (d == dim) size = input.size(d);
    if (d > dim) inner *= input.size(d);
  }
  Tensor x = contiguous_raw(input);
  Tensor out = make_empty(input.sizes(), input.dtype(), op);
  visit_float(input.dtype(), [&]<class T>() {
    kernels::softmax_forward<T>(x.data<T>(), out.data<T>(), outer, size, inner, log);
  });
  if (autograd::needs_grad(input)) {
    autograd::record(out, log ? "LogSoftmaxBackward0" : "SoftmaxBackward0", {input},
                     [y = out.detach(), outer, size, inner, log](const Tensor& grad) {
                       Tensor g = grad_as(grad, y.dtype());
                       Tensor gx = make_empty(y.sizes(), y.dtype());
                       visit_float(y.dtype(), [&]<class T>() {
                         kernels::softmax_backward<T>(g.data<T>(), y.data<T>(), gx.data<T>(), outer,
                                                      size, inner, log);
                       });
                       return std::vector<Tensor>{gx};
                     });
  }
  return out;
}

void check_target_dtype(const Tensor& target, const char* op) {
  check_defined(target, op, "target");
  WICK_CHECK_AS(DTypeError, target.dtype() == DType::Int64, op,
                ": expected target of dtype int64 (class indices) but got ", target.dtype());
}

/// nll_loss under the name `op` (nll_loss or cross_entropy).
Tensor nll_loss_impl(const Tensor& input, const Tensor& target, const Tensor& weight,
                     int64_t ignore_index, Reduction reduction, const char* op) {
  check_input(input, op);
  check_target_dtype(target, op);
  check_same_dtype(weight, input, op, "weight");
  WICK_CHECK_AS(ShapeError, input.dim() >= 1, op,
                ": expected input of sizes [C], [N, C] or [N, C, d1, ...] but got sizes ",
                input.sizes());
  // Unbatched input [C] with a 0-dim target is one sample of a batch.
  const bool unbatched = input.dim() == 1;
  Shape target_sizes;
  if (!unbatched) {
    target_sizes = input.sizes();
    target_sizes.erase(target_sizes.begin() + 1);
  }
  WICK_CHECK_AS(ShapeError, target.sizes() == target_sizes, op, ": expected target of sizes ",
                target_sizes, " for input of sizes ", input.sizes(), " but got sizes ",
                target.sizes());
  const int64_t n = unbatched ? 1 : input.size(0), c = unbatched ? input.size(0) : input.size(1);
  const int64_t s = n * c == 0 ? 0 : input.numel() / (n * c);
  check_vector(weight, c, op, "weight");
  WICK_CHECK(!(GradMode::is_enabled() && wants_grad(weight)), op,
             ": the derivative for 'weight' is not implemented");

  Tensor t = contiguous_raw(target);
  const int64_t* pt = t.data<int64_t>();
  for (int64_t i = 0, e = t.numel(); i < e; ++i)
    WICK_CHECK_AS(IndexError, pt[i] == ignore_index || (pt[i] >= 0 && pt[i] < c), op, ": target ",
                  pt[i], " is out of bounds for ", c, " classes");

  Tensor x = contiguous_raw(input), w = contiguous_or_undefined(weight);
  Tensor out = reduction == Reduction::None ? make_empty(target.sizes(), input.dtype(), op)
                                            : make_empty({}, input.dtype(), op);
  double total_weight = 0;
  visit_float(input.dtype(), [&]<class T>() {
    T* po = reduction == Reduction::None ? out.data<T>() : nullptr;
    double total = kernels::nll_loss_forward<T>(x.data<T>(), pt, ptr_or_null<T>(w), n, c, s,
                                                ignore_index, po, total_weight);
    if (reduction == Reduction::Sum) out.data<T>()[0] = T(total);
    // 0 / 0 gives NaN when every target is ignored, as in PyTorch.
    if (reduction == Reduction::Mean) out.data<T>()[0] = T(total / total_weight);
  });
  if (autograd::needs_grad(input)) {
    const double scale = reduction == Reduction::Mean ? 1 / total_weight : 1.0;
    autograd::record(
        out, "NllLossBackward0", {input},
        [t, w, n, c, s, ignore_index, scale, per_element = reduction == Reduction::None,
         in_sizes = input.sizes(), dtype = input.dtype()](const Tensor& grad) {
          Tensor g = grad_as(grad, dtype);
          Tensor gx = make_empty(in_sizes, dtype);
          visit_float(dtype, [&]<class T>() {
            kernels::nll_loss_backward<T>(g.data<T>(), per_element, scale, t.data<int64_t>(),
                                          ptr_or_null<T>(w), n, c, s, ignore_index, gx.data<T>());
          });
          return std::vector<Tensor>{gx};
        });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& input, int64_t dim) {
  return softmax_impl(input, dim, false);
}

Tensor log_softmax(const Tensor& input, int64_t dim) {
  return softmax_impl(input, dim, true);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                int64_t ignore_index, Reduction reduction) {
  return nll_loss_impl(input, target, weight, ignore_index, reduction, "nll_loss");
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                     int64_t ignore_index, Reduction reduction) {
  const char* op = "cross_entropy";
  check_input(input, op);
  check_target_dtype(target, op);
  WICK_CHECK_AS(ShapeError, input.dim() >= 1, op,
                ": expected input of sizes [C], [N, C] or [N, C, d1, ...] but got sizes ",
                input.sizes());
  Tensor logp = softmax_impl(input, input.dim() == 1 ? 0 : 1, true);
  return nll_loss_impl(logp, target, weight, ignore_index, reduction, op);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  const char* op = "mse_loss";
  check_input(input, op);
  check_defined(target, op, "target");
  check_same_dtype(target, input, op, "target");
  WICK_CHECK_AS(ShapeError, input.sizes() == target.sizes(), op, ": input of sizes ", input.sizes(),
                " and target of sizes ", target.sizes(), " differ");
  Tensor x = contiguous_raw(input), t = contiguous_raw(target);
  Tensor diff = make_empty(input.sizes(), input.dtype(), op);
  Tensor out = reduction == Reduction::None ? make_empty(input.sizes(), input.dtype(), op)
                                            : make_empty({}, input.dtype(), op);
  const int64_t numel = x.numel();
  visit_float(input.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    const T* pt = t.data<T>();
    T* pd = diff.data<T>();
    double total = 0;
    for (int64_t i = 0; i < numel; ++i) {
      pd[i] = px[i] - pt[i];
      total += double(pd[i]) * pd[i];
    }
    if (reduction == Reduction::None) {
      T* po = out.data<T>();
      for (int64_t i = 0; i < numel; ++i) po[i] = pd[i] * pd[i];
    } else {
      out.data<T>()[0] = T(reduction == Reduction::Mean ? total / double(numel) : total);
    }
  });
  if (autograd::needs_grad(input, target)) {
    const bool need_x = input.requires_grad(), need_t = target.requires_grad();
    const double scale = reduction == Reduction::Mean ? 2.0 / double(numel) : 2.0;
    autograd::record(out, "MseLossBackward0", {input, target},
                     [diff, scale, need_x, need_t,
                      per_element = reduction == Reduction::None](const Tensor& grad) {
                       Tensor g = grad_as(grad, diff.dtype());
                       Tensor gx = make_empty(diff.sizes(), diff.dtype());
                       visit_float(diff.dtype(), [&]<class T>() {
                         const T* pg = g.data<T>();
                         const T* pd = diff.data<T>();
                         T* po = gx.data<T>();
                         const T g0 = per_element ? T(0) : T(double(pg[0]) * scale);
                         for (int64_t i = 0, e = gx.numel(); i < e; ++i)
                           po[i] = per_element ? T(scale) * pd[i] * pg[i] : g0 * pd[i];
                       });
                       Tensor gt;
                       if (need_t) {
                         gt = make_empty(gx.sizes(), gx.dtype());
                         visit_float(gx.dtype(), [&]<class T>() {
                           const T* p = gx.data<T>();
                           T* q = gt.data<T>();
                           for (int64_t i = 0, e = gx.numel(); i < e; ++i) q[i] = -p[i];
                         });
                       }
                       return std::vector<Tensor>{need_x ? gx : Tensor(), gt};
                     });
  }
  return out;
}

// ---- layer normalisation and embedding ------------------------------------------

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

  Tensor x = contiguous_raw(input), w = contiguous_or_undefined(weight);
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

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  const char* op = "embedding";
  check_defined(indices, op, "indices");
  check_defined(weight, op, "weight");
  autograd::check_float(weight, op);
  WICK_CHECK_AS(DTypeError, indices.dtype() == DType::Int64 || indices.dtype() == DType::Int32, op,
                ": expected indices of dtype int64 (or int32) but got ", indices.dtype());
  WICK_CHECK_AS(ShapeError, weight.dim() == 2, op,
                ": expected weight of 2 dims [num_embeddings, embedding_dim] but got sizes ",
                weight.sizes());
  const int64_t num = weight.size(0), dim = weight.size(1);
  int64_t pad = -1;  // no row is skipped
  if (padding_idx) {
    WICK_CHECK(*padding_idx >= -num && *padding_idx < num, op, ": padding_idx ", *padding_idx,
               " is out of range for weight with ", num, " rows");
    pad = *padding_idx < 0 ? *padding_idx + num : *padding_idx;
  }
  Tensor idx = contiguous_raw(indices.dtype() == DType::Int64 ? indices : indices.to(DType::Int64));
  const int64_t* pi = idx.data<int64_t>();
  const int64_t n = idx.numel();
  for (int64_t i = 0; i < n; ++i)
    WICK_CHECK_AS(IndexError, pi[i] >= 0 && pi[i] < num, op, ": index ", pi[i],
                  " is out of range for weight of sizes ", weight.sizes(),
                  " (num_embeddings = ", num, ")");
  Shape out_sizes = indices.sizes();
  out_sizes.push_back(dim);
  Tensor w = contiguous_raw(weight);
  Tensor out = make_empty(out_sizes, weight.dtype(), op);
  visit_float(weight.dtype(),
              [&]<class T>() { kernels::gather_rows<T>(w.data<T>(), dim, pi, n, out.data<T>()); });
  if (autograd::needs_grad(weight)) {
    autograd::record(
        out, "EmbeddingBackward0", {weight},
        [idx, n, pad, w_sizes = weight.sizes(), dtype = weight.dtype()](const Tensor& grad) {
          Tensor g = grad_as(grad, dtype);
          Tensor gw = zeros(w_sizes, {.dtype = dtype});
          visit_float(dtype, [&]<class T>() {
            kernels::scatter_add_rows<T>(g.data<T>(), w_sizes[1], idx.data<int64_t>(), n, pad,
                                         gw.data<T>());
          });
          return std::vector<Tensor>{gw};
        });
  }
  return out;
}

}  // namespace wick::functional
