// ShuffleNet V2: torchvision's classification model
// (torchvision.models.shufflenetv2), with the same arguments, module names and
// registration order, so that state_dict() keys, their order and shapes equal
// torchvision's (`stage2.0.branch1.0.weight`, `conv5.1.running_var`, `fc.bias`)
// and its checkpoints load strictly:
//
//   wick::models::ShuffleNetV2 net = wick::models::shufflenet_v2_x1_0();
//   net.load_state_dict(wick::load("shufflenetv2_x1-5666bf0f80.pth"));
//
// Every spatial size works (down to 1x1). The weights start as the layers'
// own defaults, as in torchvision (which draws no weights of its own here).
// The block is wick::models::shufflenetv2::InvertedResidual: MobileNetV2's
// block has the same name in torchvision.
#pragma once

#include <cstdint>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/nn/container.h"
#include "wick/nn/linear.h"
#include "wick/nn/module.h"
#include "wick/nn/pooling.h"

namespace wick::models {

namespace shufflenetv2 {

/// torchvision's channel_shuffle: [N, C, H, W] viewed as [N, groups, C / groups,
/// H, W], the two group dims swapped, and flattened back, so that the channels
/// of the groups interleave. Throws wick::Error unless the input is 4-D and
/// `groups` divides C.
Tensor channel_shuffle(const Tensor& x, int64_t groups);

/// torchvision's InvertedResidual of ShuffleNet V2. With stride 1 the input's
/// first half of channels passes through and the second half goes through
/// branch2; with stride > 1 both branches see the whole input (branch1:
/// depthwise 3x3, BatchNorm, 1x1, BatchNorm, ReLU). The halves are
/// concatenated and channel-shuffled. branch1 is an empty Sequential for
/// stride 1, as in torchvision. Child names: branch1, branch2.
class InvertedResidual : public nn::Module {
 public:
  /// Throws wick::Error unless 1 <= stride <= 3, and for stride 1 unless
  /// inp == (oup / 2) * 2 (torchvision's ValueErrors).
  InvertedResidual(int64_t inp, int64_t oup, int64_t stride);
  Tensor forward(const Tensor& input) override;

  int64_t stride;
  nn::Sequential& branch1;
  nn::Sequential& branch2;
};

}  // namespace shufflenetv2

/// torchvision's ShuffleNetV2 arguments after stages_repeats and
/// stages_out_channels.
struct ShuffleNetV2Options {
  int64_t num_classes = 1000;
};

/// torchvision.models.ShuffleNetV2. Children: conv1 (Sequential: 3x3 stride-2
/// convolution, BatchNorm, ReLU), maxpool, stage2..stage4 (Sequentials of
/// InvertedResidual, the first of each with stride 2), conv5 (1x1, BatchNorm,
/// ReLU), fc; forward averages conv5's output over H and W before fc.
class ShuffleNetV2 : public nn::Module {
 public:
  /// `stages_repeats`: blocks in stage2..stage4 ({4, 8, 4}); each at least 1.
  /// `stages_out_channels`: conv1's, the three stages' and conv5's output
  /// channels ({24, 116, 232, 464, 1024}). Throws wick::Error for other
  /// lengths or counts, as torchvision raises ValueError.
  ShuffleNetV2(const std::vector<int64_t>& stages_repeats,
               const std::vector<int64_t>& stages_out_channels, ShuffleNetV2Options options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

 private:
  // The running channel count while the stages are built, declared before
  // the children so that it is initialised first.
  int64_t input_channels_ = 3;
  nn::Sequential make_stage(int64_t repeats, int64_t output_channels);

 public:
  nn::Sequential& conv1;
  nn::MaxPool2d& maxpool;
  nn::Sequential& stage2;
  nn::Sequential& stage3;
  nn::Sequential& stage4;
  nn::Sequential& conv5;
  nn::Linear& fc;
};

/// ShuffleNet V2 1.0x: stages_repeats {4, 8, 4}, stages_out_channels
/// {24, 116, 232, 464, 1024}.
ShuffleNetV2 shufflenet_v2_x1_0(ShuffleNetV2Options options = {});

}  // namespace wick::models
