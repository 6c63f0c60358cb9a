// conv2d: argument checks, the output size, the call into kernels/conv and
// its backward rule (which reuses the forward's column matrices).
#include "wick/nn/functional/conv.h"

#include "kernels/conv.h"
#include "nn/functional/internal.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

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

  Tensor x = kernels::contiguous(input), w = kernels::contiguous(weight),
         b = contiguous_or_undefined(bias);
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

}  // namespace wick::nn::functional
