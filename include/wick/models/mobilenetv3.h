// MobileNetV3 (Large and Small): torchvision's classification models
// (torchvision.models.mobilenetv3), with the same builders, arguments, module
// names and registration order, so that state_dict() keys, their order and
// shapes equal torchvision's (`features.0.0.weight`,
// `features.1.block.1.fc1.weight` for a block's SqueezeExcitation,
// `classifier.3.weight`) and its checkpoints load strictly:
//
//   wick::models::MobileNetV3 net = wick::models::mobilenet_v3_small();
//   net.load_state_dict(wick::load("mobilenet_v3_small.pth"));
//
// BatchNorm is torchvision's partial(nn.BatchNorm2d, eps=0.001,
// momentum=0.01). Weights start as torchvision draws them: convolutions
// kaiming_normal_ (fan_out) with zero bias, BatchNorm weight 1 and bias 0,
// Linear layers N(0, 0.01) with zero bias.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/models/blocks.h"
#include "wick/nn/container.h"
#include "wick/nn/module.h"
#include "wick/nn/pooling.h"

namespace wick::models {

namespace mobilenetv3 {

/// torchvision's InvertedResidualConfig: one row of the paper's Tables 1 and
/// 2, channel counts scaled by width_mult and rounded to multiples of 8.
struct InvertedResidualConfig {
  /// `activation` is "RE" (ReLU) or "HS" (Hardswish); throws wick::Error for
  /// another, or for non-positive sizes.
  InvertedResidualConfig(int64_t input_channels, int64_t kernel, int64_t expanded_channels,
                         int64_t out_channels, bool use_se, const std::string& activation,
                         int64_t stride, int64_t dilation, double width_mult = 1.0);
  /// make_divisible(channels * width_mult, 8).
  static int64_t adjust_channels(int64_t channels, double width_mult);

  int64_t input_channels;
  int64_t kernel;
  int64_t expanded_channels;
  int64_t out_channels;
  bool use_se;
  /// Hardswish ("HS") rather than ReLU ("RE").
  bool use_hs;
  int64_t stride;
  int64_t dilation;
};

/// torchvision.models.mobilenetv3.InvertedResidual: in the Sequential
/// `block`, an optional 1x1 expansion, the depthwise kxk convolution (stride
/// 1 when dilated), a SqueezeExcitation (ReLU, Hardsigmoid; squeeze channels
/// make_divisible(expanded / 4, 8)) when use_se, and the linear 1x1
/// projection; the input is added back when stride == 1 and the channels
/// agree. Throws wick::Error unless 1 <= stride <= 2.
class InvertedResidual : public nn::Module {
 public:
  /// `norm_layer` empty: torchvision's BatchNorm2d(eps=0.001, momentum=0.01).
  explicit InvertedResidual(const InvertedResidualConfig& cnf, NormFactory norm_layer = {});
  Tensor forward(const Tensor& input) override;

  bool use_res_connect;
  nn::Sequential& block;
  int64_t out_channels;
};

}  // namespace mobilenetv3

/// torchvision's MobileNetV3 arguments, and those its builders take.
struct MobileNetV3Options {
  int64_t num_classes = 1000;
  /// The Dropout probability between the classifier's two Linear layers.
  double dropout = 0.2;
  /// Empty: BatchNorm2d(eps=0.001, momentum=0.01).
  NormFactory norm_layer = {};
  /// Builders only (_mobilenet_v3_conf): scales every channel count. Positive.
  double width_mult = 1.0;
  /// Builders only: halve the channels of the last stage (C4, C5).
  bool reduced_tail = false;
  /// Builders only: dilation 2 instead of stride 2 in the last stage.
  bool dilated = false;
};

/// torchvision.models.MobileNetV3. Children: features (Sequential: a 3x3
/// stride-2 Conv2dNormActivation with Hardswish, the InvertedResidual blocks,
/// a 1x1 Conv2dNormActivation to 6x the last block's channels with
/// Hardswish), avgpool (AdaptiveAvgPool2d(1)), classifier (Linear,
/// Hardswish, Dropout, Linear).
class MobileNetV3 : public nn::Module {
 public:
  /// Throws wick::Error for an empty setting or invalid options.
  MobileNetV3(const std::vector<mobilenetv3::InvertedResidualConfig>& inverted_residual_setting,
              int64_t last_channel, MobileNetV3Options options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

  nn::Sequential& features;
  nn::AdaptiveAvgPool2d& avgpool;
  nn::Sequential& classifier;
};

/// torchvision's _mobilenet_v3_conf: the block settings and last_channel of
/// "mobilenet_v3_large" or "mobilenet_v3_small" (options' width_mult,
/// reduced_tail and dilated). Throws wick::Error for another arch.
std::pair<std::vector<mobilenetv3::InvertedResidualConfig>, int64_t> mobilenet_v3_conf(
    const std::string& arch, const MobileNetV3Options& options = {});

/// torchvision.models.mobilenet_v3_large.
MobileNetV3 mobilenet_v3_large(MobileNetV3Options options = {});
/// torchvision.models.mobilenet_v3_small.
MobileNetV3 mobilenet_v3_small(MobileNetV3Options options = {});

}  // namespace wick::models
