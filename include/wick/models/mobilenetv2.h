// MobileNetV2: torchvision's classification model (torchvision.models.mobilenetv2),
// with the same builder, arguments, module names and registration order, so
// that state_dict() keys, their order and shapes equal torchvision's
// (`features.0.0.weight`, `features.1.conv.0.0.weight`, `classifier.1.bias`)
// and its checkpoints load strictly:
//
//   wick::models::MobileNetV2 net = wick::models::mobilenet_v2({.num_classes = 10});
//   net.load_state_dict(wick::load("mobilenet_v2.pth"));
//   net.eval();
//   Tensor logits = net(images);                  // [N, 3, H, W] -> [N, 10]
//
// Weights start as torchvision draws them: convolutions kaiming_normal_
// (fan_out) with zero bias, BatchNorm weight 1 and bias 0, the classifier's
// Linear N(0, 0.01) with zero bias.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/models/blocks.h"
#include "wick/nn/container.h"
#include "wick/nn/module.h"

namespace wick::models {

namespace mobilenetv2 {

/// torchvision.models.mobilenetv2.InvertedResidual: an optional 1x1
/// expansion to inp * expand_ratio channels (Conv2dNormActivation with
/// ReLU6), a 3x3 depthwise Conv2dNormActivation (ReLU6), a linear 1x1
/// projection and its norm layer, all in the Sequential `conv`; the input is
/// added back when stride == 1 and inp == oup. Throws wick::Error unless
/// stride is 1 or 2.
class InvertedResidual : public nn::Module {
 public:
  /// `norm_layer` empty: BatchNorm2d.
  InvertedResidual(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio,
                   NormFactory norm_layer = {});
  Tensor forward(const Tensor& input) override;

  int64_t stride;
  bool use_res_connect;
  nn::Sequential& conv;
  int64_t out_channels;
};

}  // namespace mobilenetv2

/// torchvision's MobileNetV2 arguments, in its order.
struct MobileNetV2Options {
  int64_t num_classes = 1000;
  /// Scales every layer's channels (then rounded to round_nearest); the last
  /// convolution's 1280 only grows. Must be positive.
  double width_mult = 1.0;
  /// Rows {t, c, n, s}: expansion factor, output channels, blocks, first
  /// block's stride. Unset: the paper's seven rows. Must not be empty.
  std::optional<std::vector<std::array<int64_t, 4>>> inverted_residual_setting = std::nullopt;
  /// Channel counts are rounded to multiples of this (1 turns rounding off).
  /// Must be positive.
  int64_t round_nearest = 8;
  /// Empty: BatchNorm2d with its defaults.
  NormFactory norm_layer = {};
  /// The classifier's Dropout probability.
  double dropout = 0.2;
};

/// torchvision.models.MobileNetV2. Children: features (Sequential:
/// Conv2dNormActivation stem, the InvertedResidual blocks, a 1x1
/// Conv2dNormActivation to last_channel) and classifier (Dropout, Linear).
/// The forward pools with functional::adaptive_avg_pool2d (no child).
class MobileNetV2 : public nn::Module {
 public:
  /// Throws wick::Error for the invalid options named in MobileNetV2Options.
  explicit MobileNetV2(MobileNetV2Options options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

  /// Channels of the last convolution: make_divisible(1280 * max(1, width_mult), round_nearest).
  int64_t last_channel;
  nn::Sequential& features;
  nn::Sequential& classifier;

 private:
  /// The constructor proper, with options that checked() has filled in.
  MobileNetV2(MobileNetV2Options checked_options, int);
};

/// torchvision.models.mobilenet_v2.
MobileNetV2 mobilenet_v2(MobileNetV2Options options = {});

}  // namespace wick::models
