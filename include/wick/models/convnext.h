// ConvNeXt: torchvision's classification model (torchvision.models.convnext),
// with the same builder, arguments, module names and registration order, so
// that state_dict() keys, their order and shapes equal torchvision's
// (`features.1.0.block.0.weight`, `features.1.0.layer_scale`,
// `classifier.2.bias`) and its checkpoints load strictly:
//
//   wick::models::ConvNeXt net = wick::models::convnext_tiny();
//   net.load_state_dict(wick::load("convnext_tiny.pt"));
//   net.eval();
//   Tensor logits = net(images);             // [N, 3, H, W] -> [N, 1000]
//
// Any input of 32x32 or more works (the stem and three downsamplings divide
// by 32; the head pools adaptively). Weights start as torchvision draws them:
// convolutions and linear layers trunc_normal_(std=0.02) with zero biases,
// LayerNorms 1 and 0, each block's layer_scale at `layer_scale`.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/nn/container.h"
#include "wick/nn/dropout.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"
#include "wick/nn/pooling.h"

namespace wick::models {

/// torchvision's convnext.LayerNorm2d: nn::LayerNorm over the channels of
/// [N, C, H, W] input (permuted to channels-last and back).
class LayerNorm2d : public nn::LayerNorm {
 public:
  using nn::LayerNorm::LayerNorm;
  Tensor forward(const Tensor& input) override;
};

/// torchvision's CNBlock: a depthwise 7x7 convolution, then channels-last
/// LayerNorm, Linear to 4x, GELU, Linear back, scaled per channel by
/// layer_scale [dim, 1, 1], randomly dropped per sample (StochasticDepth
/// "row") and added to the input. Children: block (Sequential: 0 Conv2d,
/// 1 Permute, 2 LayerNorm, 3 Linear, 4 GELU, 5 Linear, 6 Permute),
/// stochastic_depth; parameter layer_scale.
class CNBlock : public nn::Module {
 public:
  CNBlock(int64_t dim, double layer_scale, double stochastic_depth_prob);
  Tensor forward(const Tensor& input) override;

  nn::Sequential& block;
  Tensor layer_scale;
  nn::StochasticDepth& stochastic_depth;
};

/// One stage of a ConvNeXt (torchvision's CNBlockConfig): num_layers blocks
/// of input_channels, then, unless out_channels is unset (the last stage), a
/// downsampling to out_channels.
struct CNBlockConfig {
  int64_t input_channels;
  std::optional<int64_t> out_channels;
  int64_t num_layers;
};

/// torchvision's ConvNeXt arguments after `block_setting`.
struct ConvNeXtOptions {
  /// The drop probability of the last block; block i of n drops with
  /// stochastic_depth_prob * i / (n - 1). The builders default to 0.1 as
  /// torchvision's do (the ConvNeXt class itself to 0); 0 makes training
  /// deterministic.
  double stochastic_depth_prob = 0.1;
  /// Every block's layer_scale starts at this value.
  double layer_scale = 1e-6;
  int64_t num_classes = 1000;
};

/// torchvision.models.ConvNeXt. Children: features (Sequential: 0 the stem,
/// a Conv2dNormActivation of a 4x4 stride-4 Conv2d and LayerNorm2d; then per
/// stage a Sequential of CNBlocks, and between stages a Sequential of
/// LayerNorm2d and a 2x2 stride-2 Conv2d), avgpool (AdaptiveAvgPool2d(1)),
/// classifier (Sequential: 0 LayerNorm2d, 1 Flatten, 2 Linear).
class ConvNeXt : public nn::Module {
 public:
  /// Throws wick::Error for an empty block_setting or a non-positive count.
  ConvNeXt(const std::vector<CNBlockConfig>& block_setting, ConvNeXtOptions options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

  nn::Sequential& features;
  nn::AdaptiveAvgPool2d& avgpool;
  nn::Sequential& classifier;
};

/// ConvNeXt-T: stages of 96, 192, 384 and 768 channels with 3, 3, 9 and 3
/// blocks.
ConvNeXt convnext_tiny(ConvNeXtOptions options = {});

}  // namespace wick::models
