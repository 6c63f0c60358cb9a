// VGG and AlexNet: torchvision's classification models (torchvision.models.vgg,
// torchvision.models.alexnet) with the same builders, arguments and module
// indices, so that state_dict() keys and shapes equal torchvision's
// (`features.0.weight`, `classifier.6.bias`) and its checkpoints load strictly:
//
//   wick::models::VGG net = wick::models::vgg16_bn({.num_classes = 10});
//   net.load_state_dict(wick::load("vgg16_bn.pt"));
//
// Both pool to a fixed grid (7x7, 6x6) with AdaptiveAvgPool2d, so inputs down
// to 32x32 (VGG) or 63x63 (AlexNet) work. Weights start as torchvision draws
// them: convolutions kaiming_normal_ (fan_out, relu) with zero bias,
// BatchNorm 1 and 0, linear layers N(0, 0.01) with zero bias (AlexNet keeps
// the layers' own defaults, as torchvision does).
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/nn/container.h"
#include "wick/nn/module.h"
#include "wick/nn/pooling.h"

namespace wick::models {

/// torchvision's VGG arguments after `features`.
struct VGGOptions {
  int64_t num_classes = 1000;
  /// Draw the weights as torchvision's init_weights does (otherwise the
  /// layers' own defaults).
  bool init_weights = true;
  /// The probability of both classifier Dropouts (0 makes training deterministic).
  double dropout = 0.5;
};

/// torchvision.models.VGG. Children: features (a Sequential of Conv2d,
/// [BatchNorm2d,] ReLU and MaxPool2d), avgpool (AdaptiveAvgPool2d((7, 7))),
/// classifier (Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear).
class VGG : public nn::Module {
 public:
  /// `features` must end with 512 channels.
  explicit VGG(nn::Sequential features, VGGOptions options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

  nn::Sequential& features;
  nn::AdaptiveAvgPool2d& avgpool;
  nn::Sequential& classifier;
};

/// One entry of a VGG configuration: a channel count for a 3x3 convolution
/// (followed by BatchNorm2d when batch_norm, and ReLU), or 'M' for a 2x2 max pool.
using VGGLayer = std::variant<int64_t, char>;

/// torchvision's make_layers: the `features` of a VGG from its configuration.
nn::Sequential make_vgg_layers(const std::vector<VGGLayer>& cfg, bool batch_norm);

/// VGG-11 (configuration "A").
VGG vgg11(VGGOptions options = {});
/// VGG-11 with BatchNorm.
VGG vgg11_bn(VGGOptions options = {});
/// VGG-16 (configuration "D").
VGG vgg16(VGGOptions options = {});
/// VGG-16 with BatchNorm.
VGG vgg16_bn(VGGOptions options = {});

/// torchvision's AlexNet arguments.
struct AlexNetOptions {
  int64_t num_classes = 1000;
  /// The probability of both classifier Dropouts.
  double dropout = 0.5;
};

/// torchvision.models.AlexNet. Children: features (five convolutions with ReLU
/// and three max pools), avgpool (AdaptiveAvgPool2d((6, 6))), classifier
/// (Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear).
class AlexNet : public nn::Module {
 public:
  explicit AlexNet(AlexNetOptions options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

  nn::Sequential& features;
  nn::AdaptiveAvgPool2d& avgpool;
  nn::Sequential& classifier;
};

/// torchvision.models.alexnet.
AlexNet alexnet(AlexNetOptions options = {});

}  // namespace wick::models
