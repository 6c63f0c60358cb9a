// ResNet, ResNeXt and Wide ResNet: torchvision's classification models
// (torchvision.models.resnet), with the same builders, arguments, module names
// and registration order, so that state_dict() keys, their order and shapes
// equal torchvision's and its checkpoints load strictly:
//
//   wick::models::ResNet net = wick::models::resnet50();
//   net.load_state_dict(wick::load("resnet50.pt"));   // torch.save(m.state_dict())
//   net.eval();
//   Tensor logits = net(images);                        // [N, 3, H, W] -> [N, 1000]
//
// Weights start as torchvision draws them: convolutions kaiming_normal_
// (fan_out, relu), BatchNorm weight 1 and bias 0, the classifier as
// nn::Linear does; zero_init_residual zeroes each block's last BatchNorm weight.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "wick/core/tensor.h"
#include "wick/nn/activation.h"
#include "wick/nn/container.h"
#include "wick/nn/conv.h"
#include "wick/nn/linear.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"
#include "wick/nn/pooling.h"

namespace wick::models {

/// torchvision's BasicBlock: two 3x3 convolutions and a shortcut (ResNet-18/34).
/// Child names: conv1, bn1, relu, conv2, bn2, downsample (when given).
class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  /// Throws wick::Error unless groups == 1 and base_width == 64, or when
  /// dilation > 1 (torchvision refuses both).
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride = 1,
             std::optional<nn::Sequential> downsample = std::nullopt, int64_t groups = 1,
             int64_t base_width = 64, int64_t dilation = 1);
  Tensor forward(const Tensor& input) override;

  nn::Conv2d& conv1;
  nn::BatchNorm2d& bn1;
  nn::ReLU& relu;
  nn::Conv2d& conv2;
  nn::BatchNorm2d& bn2;
  /// The shortcut's projection (conv1x1, BatchNorm2d), or null for identity.
  nn::Sequential* downsample = nullptr;
  int64_t stride;
};

/// torchvision's Bottleneck (ResNet V1.5: the stride is on the 3x3
/// convolution): 1x1, 3x3 (grouped, dilated), 1x1 expanding by 4.
/// Child names: conv1, bn1, conv2, bn2, conv3, bn3, relu, downsample.
class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride = 1,
             std::optional<nn::Sequential> downsample = std::nullopt, int64_t groups = 1,
             int64_t base_width = 64, int64_t dilation = 1);
  Tensor forward(const Tensor& input) override;

  nn::Conv2d& conv1;
  nn::BatchNorm2d& bn1;
  nn::Conv2d& conv2;
  nn::BatchNorm2d& bn2;
  nn::Conv2d& conv3;
  nn::BatchNorm2d& bn3;
  nn::ReLU& relu;
  nn::Sequential* downsample = nullptr;
  int64_t stride;
};

/// Which residual block a ResNet stacks.
enum class ResNetBlock { Basic, Bottleneck };

/// torchvision's ResNet arguments after `block` and `layers`.
struct ResNetOptions {
  int64_t num_classes = 1000;
  /// Start each block's last BatchNorm weight at zero, so blocks begin as identities.
  bool zero_init_residual = false;
  /// Groups of the 3x3 convolutions in Bottleneck (ResNeXt's cardinality).
  int64_t groups = 1;
  /// Channels per group at the first stage: 64 for ResNet, 4 for
  /// resnext50_32x4d, 128 for wide_resnet50_2.
  int64_t width_per_group = 64;
  /// For layer2..layer4: replace the stride-2 with dilation (output stride 8 or 16).
  std::array<bool, 3> replace_stride_with_dilation = {false, false, false};
};

/// torchvision.models.ResNet. Children: conv1, bn1, relu, maxpool, layer1..layer4
/// (Sequentials of blocks), avgpool, fc.
class ResNet : public nn::Module {
 public:
  /// `layers`: blocks per stage ({2, 2, 2, 2} for resnet18). Throws
  /// wick::Error for non-positive counts or options a block refuses.
  ResNet(ResNetBlock block, std::array<int64_t, 4> layers, ResNetOptions options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

 private:
  // The running state of torchvision's _make_layer, declared before the
  // children so that it is initialised first.
  ResNetBlock block_;
  int64_t inplanes_ = 64;
  int64_t dilation_ = 1;
  int64_t groups_;
  int64_t base_width_;
  nn::Sequential make_layer(int64_t planes, int64_t blocks, int64_t stride, bool dilate);

 public:
  nn::Conv2d& conv1;
  nn::BatchNorm2d& bn1;
  nn::ReLU& relu;
  nn::MaxPool2d& maxpool;
  nn::Sequential& layer1;
  nn::Sequential& layer2;
  nn::Sequential& layer3;
  nn::Sequential& layer4;
  nn::AdaptiveAvgPool2d& avgpool;
  nn::Linear& fc;
};

/// ResNet-18: BasicBlock, {2, 2, 2, 2}.
ResNet resnet18(ResNetOptions options = {});
/// ResNet-34: BasicBlock, {3, 4, 6, 3}.
ResNet resnet34(ResNetOptions options = {});
/// ResNet-50: Bottleneck, {3, 4, 6, 3}.
ResNet resnet50(ResNetOptions options = {});
/// ResNet-101: Bottleneck, {3, 4, 23, 3}.
ResNet resnet101(ResNetOptions options = {});
/// ResNet-152: Bottleneck, {3, 8, 36, 3}.
ResNet resnet152(ResNetOptions options = {});
/// ResNeXt-50 32x4d: resnet50 with groups = 32, width_per_group = 4 (these
/// two options are overridden, as torchvision does).
ResNet resnext50_32x4d(ResNetOptions options = {});
/// Wide ResNet-50-2: resnet50 with width_per_group = 128 (overridden).
ResNet wide_resnet50_2(ResNetOptions options = {});

}  // namespace wick::models
