// EfficientNet-B0: torchvision's classification model
// (torchvision.models.efficientnet), with the same builder, arguments, module
// names and registration order, so that state_dict() keys, their order and
// shapes equal torchvision's (`features.0.0.weight`,
// `features.2.1.block.2.fc1.weight`, `classifier.1.bias`) and its
// checkpoints load strictly:
//
//   wick::models::EfficientNet net = wick::models::efficientnet_b0({.num_classes = 10});
//   net.load_state_dict(wick::load("efficientnet_b0.pth"));
//
// The blocks are MBConv: SiLU activations, a SqueezeExcitation with SiLU and
// Sigmoid, and StochasticDepth ("row" mode) on the residual branch, its
// probability rising linearly from 0 at the first block to
// stochastic_depth_prob * (n - 1) / n at the last. Weights start as
// torchvision draws them: convolutions kaiming_normal_ (fan_out) with zero
// bias, BatchNorm weight 1 and bias 0, the classifier's Linear
// U(-1/sqrt(num_classes), 1/sqrt(num_classes)) with zero bias.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/models/blocks.h"
#include "wick/nn/container.h"
#include "wick/nn/dropout.h"
#include "wick/nn/module.h"
#include "wick/nn/pooling.h"

namespace wick::models {

/// torchvision's MBConvConfig: one stage of an EfficientNet (V1), channels
/// scaled by width_mult (rounded to multiples of 8) and the block count by
/// depth_mult (rounded up).
struct MBConvConfig {
  /// Throws wick::Error for non-positive sizes or multipliers.
  MBConvConfig(double expand_ratio, int64_t kernel, int64_t stride, int64_t input_channels,
               int64_t out_channels, int64_t num_layers, double width_mult = 1.0,
               double depth_mult = 1.0);
  /// make_divisible(channels * width_mult, 8, min_value).
  static int64_t adjust_channels(int64_t channels, double width_mult,
                                 std::optional<int64_t> min_value = std::nullopt);
  /// ceil(num_layers * depth_mult).
  static int64_t adjust_depth(int64_t num_layers, double depth_mult);

  double expand_ratio;
  int64_t kernel;
  int64_t stride;
  int64_t input_channels;
  int64_t out_channels;
  int64_t num_layers;
};

/// torchvision.models.efficientnet.MBConv: in the Sequential `block`, an
/// optional 1x1 expansion to adjust_channels(input, expand_ratio) (SiLU), the
/// depthwise kxk convolution (SiLU), a SqueezeExcitation (squeeze channels
/// max(1, input / 4), SiLU in place, Sigmoid) and the linear 1x1 projection;
/// when stride == 1 and the channels agree, `stochastic_depth` drops the
/// branch (per sample, in training) before the input is added back. Throws
/// wick::Error unless 1 <= stride <= 2 and 0 <= stochastic_depth_prob <= 1.
class MBConv : public nn::Module {
 public:
  /// `norm_layer` empty: BatchNorm2d with its defaults.
  MBConv(const MBConvConfig& cnf, double stochastic_depth_prob, NormFactory norm_layer = {});
  Tensor forward(const Tensor& input) override;

  bool use_res_connect;
  nn::Sequential& block;
  nn::StochasticDepth& stochastic_depth;
  int64_t out_channels;
};

/// torchvision's EfficientNet arguments after the setting, and the builder's.
struct EfficientNetOptions {
  int64_t num_classes = 1000;
  /// The classifier's Dropout probability (efficientnet_b0: 0.2).
  double dropout = 0.2;
  /// The largest block's StochasticDepth probability (see the file comment).
  double stochastic_depth_prob = 0.2;
  /// Empty: BatchNorm2d with its defaults (eps=1e-5, momentum=0.1).
  NormFactory norm_layer = {};
  /// The last convolution's channels; unset: 4x the last stage's.
  std::optional<int64_t> last_channel = std::nullopt;
};

/// torchvision.models.EfficientNet (V1 blocks). Children: features
/// (Sequential: a 3x3 stride-2 Conv2dNormActivation with SiLU, one Sequential
/// of MBConv per stage, a 1x1 Conv2dNormActivation with SiLU), avgpool
/// (AdaptiveAvgPool2d(1)), classifier (Dropout, Linear).
class EfficientNet : public nn::Module {
 public:
  /// Throws wick::Error for an empty setting or invalid options.
  EfficientNet(const std::vector<MBConvConfig>& inverted_residual_setting,
               EfficientNetOptions options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

  nn::Sequential& features;
  nn::AdaptiveAvgPool2d& avgpool;
  nn::Sequential& classifier;
};

/// torchvision's _efficientnet_conf for "efficientnet_b*": the seven stages
/// of B0 scaled by width_mult and depth_mult.
std::vector<MBConvConfig> efficientnet_v1_conf(double width_mult, double depth_mult);

/// torchvision.models.efficientnet_b0 (width and depth 1.0). Unlike
/// torchvision's builder, which fixes it at 0.2, this one takes `dropout`.
EfficientNet efficientnet_b0(EfficientNetOptions options = {});

}  // namespace wick::models
