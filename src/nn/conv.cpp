#include "wick/nn/conv.h"

#include <cmath>

#include "wick/core/error.h"
#include "wick/nn/init.h"

namespace wick::nn {

namespace {

std::string pair_repr(functional::Pair p) {
  return wick::detail::concat("(", p.h, ", ", p.w, ")");
}

void check_pair(functional::Pair p, int64_t min, const char* what) {
  WICK_CHECK(p.h >= min && p.w >= min, "Conv2d: expected ", what, " of at least ", min, " but got ",
             pair_repr(p));
}

}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, functional::Pair kernel, Conv2dOptions options)
    : in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      stride(options.stride),
      padding(options.padding),
      dilation(options.dilation),
      groups(options.groups),
      padding_mode(std::move(options.padding_mode)) {
  WICK_CHECK(in > 0 && out > 0, "Conv2d: expected positive in_channels and out_channels but got ",
             in, " and ", out);
  check_pair(kernel_size, 1, "kernel_size");
  check_pair(stride, 1, "stride");
  check_pair(padding, 0, "padding");
  check_pair(dilation, 1, "dilation");
  WICK_CHECK(groups > 0, "Conv2d: groups must be a positive integer but got ", groups);
  WICK_CHECK(in % groups == 0, "Conv2d: in_channels must be divisible by groups (in_channels=", in,
             ", groups=", groups, ")");
  WICK_CHECK(out % groups == 0,
             "Conv2d: out_channels must be divisible by groups (out_channels=", out,
             ", groups=", groups, ")");
  const bool other_mode =
      padding_mode == "reflect" || padding_mode == "replicate" || padding_mode == "circular";
  WICK_CHECK(!other_mode, "Conv2d: padding_mode='", padding_mode,
             "' is not supported by wick; only 'zeros' is");
  WICK_CHECK(padding_mode == "zeros",
             "Conv2d: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
             "but got padding_mode='",
             padding_mode, "' (wick supports only 'zeros')");
  weight = register_parameter("weight", empty({out, in / groups, kernel_size.h, kernel_size.w}));
  bias = register_parameter("bias", options.bias ? empty({out}) : Tensor());
  reset_parameters();
}

void Conv2d::reset_parameters() {
  // See Linear::reset_parameters: a = sqrt(5) gives the bound 1/sqrt(fan_in).
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    const double bound = fan_in > 0 ? 1 / std::sqrt(double(fan_in)) : 0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv2d::forward(const Tensor& input) {
  return functional::conv2d(input, weight, bias, stride, padding, dilation, groups);
}

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + pair_repr(kernel_size) + ", stride=" + pair_repr(stride);
  if (padding.h != 0 || padding.w != 0) s += ", padding=" + pair_repr(padding);
  if (dilation.h != 1 || dilation.w != 1) s += ", dilation=" + pair_repr(dilation);
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias.defined()) s += ", bias=False";
  if (padding_mode != "zeros") s += ", padding_mode=" + padding_mode;
  return s;
}

}  // namespace wick::nn
