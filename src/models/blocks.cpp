#include "wick/models/blocks.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "wick/core/error.h"
#include "wick/ops/elementwise.h"

namespace wick::models {

namespace {

/// Python's a // b for b > 0 (floor division).
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/// The layer `factory` makes; throws wick::Error naming `what` if it makes none.
std::shared_ptr<nn::Module> make(const LayerFactory& factory, const char* what) {
  WICK_CHECK(factory, what, ": no layer factory given");
  std::shared_ptr<nn::Module> m = factory();
  WICK_CHECK(m, what, ": the layer factory returned no module");
  return m;
}

}  // namespace

int64_t make_divisible(double v, int64_t divisor, std::optional<int64_t> min_value) {
  WICK_CHECK(divisor > 0, "make_divisible: divisor must be positive, got ", divisor);
  WICK_CHECK(std::isfinite(v), "make_divisible: value must be finite, got ", v);
  const int64_t floor_to = min_value.value_or(divisor);
  // int() truncates toward zero, // floors: as in torchvision.
  const auto rounded = static_cast<int64_t>(v + static_cast<double>(divisor) / 2);
  int64_t new_v = std::max(floor_to, floor_div(rounded, divisor) * divisor);
  if (static_cast<double>(new_v) < 0.9 * v) new_v += divisor;
  return new_v;
}

NormFactory batch_norm2d(nn::BatchNormOptions options) {
  return [options](int64_t num_features) -> std::shared_ptr<nn::Module> {
    return std::make_shared<nn::BatchNorm2d>(num_features, options);
  };
}

Conv2dNormActivation::Conv2dNormActivation(int64_t in_channels, int64_t out_channels_,
                                           Conv2dNormActivationOptions o)
    : out_channels(out_channels_) {
  const nn::functional::Pair padding = o.padding.value_or(nn::functional::Pair(
      (o.kernel_size.h - 1) / 2 * o.dilation.h, (o.kernel_size.w - 1) / 2 * o.dilation.w));
  const bool bias = o.bias.value_or(!o.norm_layer);
  push_back(nn::Conv2d(in_channels, out_channels, o.kernel_size,
                       {.stride = o.stride,
                        .padding = padding,
                        .dilation = o.dilation,
                        .groups = o.groups,
                        .bias = bias}));
  if (o.norm_layer) {
    std::shared_ptr<nn::Module> norm = o.norm_layer(out_channels);
    WICK_CHECK(norm, "Conv2dNormActivation: norm_layer returned no module");
    push_back(std::move(norm));
  }
  if (o.activation_layer) push_back(make(o.activation_layer, "Conv2dNormActivation"));
}

SqueezeExcitation::SqueezeExcitation(int64_t input_channels, int64_t squeeze_channels,
                                     SqueezeExcitationOptions options)
    : avgpool(register_module("avgpool", nn::AdaptiveAvgPool2d(1))),
      fc1(register_module("fc1", nn::Conv2d(input_channels, squeeze_channels, 1))),
      fc2(register_module("fc2", nn::Conv2d(squeeze_channels, input_channels, 1))),
      activation(
          register_module("activation", make(options.activation, "SqueezeExcitation activation"))),
      scale_activation(
          register_module("scale_activation",
                          make(options.scale_activation, "SqueezeExcitation scale_activation"))) {}

Tensor SqueezeExcitation::scale(const Tensor& input) {
  return scale_activation(fc2(activation(fc1(avgpool(input)))));
}

Tensor SqueezeExcitation::forward(const Tensor& input) {
  return scale(input) * input;
}

}  // namespace wick::models
