// Pooling: argument checks, output sizes, the calls into kernels/pool and
// the backward rules.
#include "wick/nn/functional/pooling.h"

#include "kernels/pool.h"
#include "nn/functional/internal.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

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
  Tensor x = kernels::contiguous(input);
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
  Tensor x = kernels::contiguous(input);
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
  Tensor x = kernels::contiguous(input);
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

Tensor adaptive_max_pool2d(const Tensor& input, Pair output_size) {
  const char* op = "adaptive_max_pool2d";
  check_input(input, op);
  Images im = images_of(input, op);
  check_non_negative(output_size, op, "output_size");
  kernels::Pool2dShape s = input_planes(input, im, op);
  s.out_h = output_size.h;
  s.out_w = output_size.w;
  Tensor x = kernels::contiguous(input);
  Tensor out = make_empty(image_sizes(im, im.c, s.out_h, s.out_w), input.dtype(), op);
  Tensor indices = make_empty(out.sizes(), DType::Int64, op);
  visit_float(input.dtype(), [&]<class T>() {
    kernels::adaptive_max_pool2d_forward<T>(s, x.data<T>(), out.data<T>(), indices.data<int64_t>());
  });
  if (autograd::needs_grad(input)) {
    autograd::record(
        out, "AdaptiveMaxPool2DBackward0", {input},
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

}  // namespace wick::nn::functional
