// The building blocks torchvision's models share (torchvision.ops.misc and
// torchvision.models._utils), for wick's models and for models of your own:
//
//   Conv2dNormActivation   a Sequential of Conv2d, a norm layer, an activation
//   SqueezeExcitation      avgpool, fc1, activation, fc2, scale_activation
//   Permute                input.permute(dims) (ConvNeXt's channels-last switch)
//   make_divisible         torchvision's _make_divisible (channel rounding)
//
// torchvision passes the layers a block builds as classes or
// functools.partials (`norm_layer=partial(nn.BatchNorm2d, eps=0.001)`,
// `activation_layer=nn.Hardswish`); wick takes factories that build a fresh
// layer on each call:
//
//   models::Conv2dNormActivation stem(3, 16, {.stride = 2,
//       .norm_layer = models::batch_norm2d({.eps = 0.001, .momentum = 0.01}),
//       .activation_layer = models::layer<nn::Hardswish>(true)});
//   models::SqueezeExcitation se(96, 24, {.scale_activation = models::layer<nn::Hardsigmoid>()});
//
// The children and their names are torchvision's, so state_dict keys read
// `0.weight`, `1.running_mean` for a Conv2dNormActivation and `fc1.weight`,
// `fc2.bias` for a SqueezeExcitation, and the reprs print as torchvision's.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "wick/core/tensor.h"
#include "wick/nn/activation.h"
#include "wick/nn/container.h"
#include "wick/nn/conv.h"
#include "wick/nn/functional/common.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"
#include "wick/nn/pooling.h"

namespace wick::models {

/// torchvision.models._utils._make_divisible: `v` rounded to the nearest
/// multiple of `divisor`, at least `min_value` (default: divisor), and moved
/// up by one divisor when rounding went more than 10% below `v`. Throws
/// wick::Error unless divisor > 0.
///
///   make_divisible(32 * 0.5, 8) == 16;  make_divisible(12, 8) == 16;
///   make_divisible(1280 * 1.4, 8) == 1792;  make_divisible(3, 8) == 8
int64_t make_divisible(double v, int64_t divisor, std::optional<int64_t> min_value = std::nullopt);

/// A layer made on demand, as torchvision takes a class or a
/// functools.partial for `activation_layer`. An empty factory means "none"
/// where torchvision accepts None.
using LayerFactory = std::function<std::shared_ptr<nn::Module>()>;

/// A normalisation layer over `num_features` channels made on demand
/// (torchvision's `norm_layer`). Empty: none.
using NormFactory = std::function<std::shared_ptr<nn::Module>(int64_t num_features)>;

/// A factory that makes M(args...) on each call: `layer<nn::ReLU>(true)` is
/// torchvision's `partial(nn.ReLU, inplace=True)`, `layer<nn::Sigmoid>()` its
/// `nn.Sigmoid`.
template <std::derived_from<nn::Module> M, class... Args>
LayerFactory layer(Args... args) {
  return [args...]() -> std::shared_ptr<nn::Module> { return std::make_shared<M>(args...); };
}

/// nn::BatchNorm2d(num_features, options) on each call: torchvision's
/// `nn.BatchNorm2d`, or `partial(nn.BatchNorm2d, eps=..., momentum=...)`.
NormFactory batch_norm2d(nn::BatchNormOptions options = {});

/// torchvision.ops.misc.Conv2dNormActivation's arguments after the channels,
/// in its order.
struct Conv2dNormActivationOptions {
  nn::functional::Pair kernel_size = 3;
  nn::functional::Pair stride = 1;
  /// Unset: (kernel_size - 1) / 2 * dilation on each side ("same" for stride 1).
  std::optional<nn::functional::Pair> padding = std::nullopt;
  int64_t groups = 1;
  /// Made with out_channels, after the convolution; empty: none.
  NormFactory norm_layer = batch_norm2d();
  /// Made after the norm layer; empty: none. torchvision's default is
  /// nn.ReLU with its `inplace=True`, which the factory carries here.
  LayerFactory activation_layer = layer<nn::ReLU>(true);
  nn::functional::Pair dilation = 1;
  /// Whether the convolution has a bias; unset: only when there is no norm layer.
  std::optional<bool> bias = std::nullopt;
};

/// torchvision.ops.misc.Conv2dNormActivation: a Sequential of
/// Conv2d(in_channels, out_channels, ...) ("0"), the norm layer ("1") and the
/// activation (next index), the last two when given. Throws wick::Error for
/// what Conv2d refuses (non-positive sizes, groups not dividing the channels).
class Conv2dNormActivation : public nn::Sequential {
 public:
  Conv2dNormActivation(int64_t in_channels, int64_t out_channels,
                       Conv2dNormActivationOptions options = {});
  /// The convolution (child "0").
  nn::Conv2d& conv() const { return at<nn::Conv2d>(0); }

  int64_t out_channels;
};

/// torchvision.ops.misc.SqueezeExcitation's layers, `delta` and `sigma` of
/// the paper's eq. 3.
struct SqueezeExcitationOptions {
  /// After fc1 (torchvision's default nn.ReLU, not in place).
  LayerFactory activation = layer<nn::ReLU>();
  /// The gate after fc2 (default nn.Sigmoid; MobileNetV3 uses nn.Hardsigmoid).
  LayerFactory scale_activation = layer<nn::Sigmoid>();
};

/// torchvision.ops.misc.SqueezeExcitation: input * sigma(fc2(delta(fc1(avgpool(input))))),
/// fc1 and fc2 being 1x1 convolutions with bias (input_channels ->
/// squeeze_channels -> input_channels). Children: avgpool, fc1, fc2,
/// activation, scale_activation. Throws wick::Error for non-positive
/// channels or an empty factory.
class SqueezeExcitation : public nn::Module {
 public:
  SqueezeExcitation(int64_t input_channels, int64_t squeeze_channels,
                    SqueezeExcitationOptions options = {});
  /// [N, C, H, W] -> [N, C, H, W], each channel scaled by its gate.
  Tensor forward(const Tensor& input) override;
  /// The gate alone: [N, C, H, W] -> [N, C, 1, 1] (torchvision's _scale).
  Tensor scale(const Tensor& input);

  nn::AdaptiveAvgPool2d& avgpool;
  nn::Conv2d& fc1;
  nn::Conv2d& fc2;
  nn::Module& activation;
  nn::Module& scale_activation;
};

/// torchvision.ops.Permute: input.permute(dims), a view.
class Permute : public nn::Module {
 public:
  explicit Permute(Shape dims_) : dims(std::move(dims_)) {}
  Tensor forward(const Tensor& input) override { return input.permute(dims); }

  Shape dims;
};

}  // namespace wick::models
