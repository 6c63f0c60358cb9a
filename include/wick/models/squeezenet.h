// SqueezeNet: torchvision's classification model (torchvision.models.squeezenet),
// versions 1.0 and 1.1, with the same arguments and module indices, so that
// state_dict() keys and shapes equal torchvision's (`features.3.squeeze.weight`,
// `classifier.1.bias`) and its checkpoints load strictly:
//
//   wick::models::SqueezeNet net = wick::models::squeezenet1_1({.num_classes = 10});
//   net.load_state_dict(wick::load("squeezenet1_1.pt"));
//
// The max pools round their output size up (ceil_mode), and the classifier is
// a 1x1 convolution followed by global average pooling, so any input from
// 17x17 (1.1) or 21x21 (1.0) up works. Weights start as torchvision draws
// them: the final convolution N(0, 0.01), the others kaiming_uniform_
// (fan_in, leaky_relu with a = 0), every bias 0.
#pragma once

#include <cstdint>
#include <string_view>

#include "wick/core/tensor.h"
#include "wick/nn/activation.h"
#include "wick/nn/container.h"
#include "wick/nn/conv.h"
#include "wick/nn/module.h"

namespace wick::models {

/// torchvision's Fire module: a 1x1 "squeeze" convolution with ReLU, then
/// 1x1 and 3x3 "expand" convolutions with ReLU whose outputs are
/// concatenated (expand1x1_planes + expand3x3_planes channels). Child names:
/// squeeze, squeeze_activation, expand1x1, expand1x1_activation, expand3x3,
/// expand3x3_activation.
class Fire : public nn::Module {
 public:
  Fire(int64_t inplanes, int64_t squeeze_planes, int64_t expand1x1_planes,
       int64_t expand3x3_planes);
  Tensor forward(const Tensor& input) override;

  int64_t inplanes;
  nn::Conv2d& squeeze;
  nn::ReLU& squeeze_activation;
  nn::Conv2d& expand1x1;
  nn::ReLU& expand1x1_activation;
  nn::Conv2d& expand3x3;
  nn::ReLU& expand3x3_activation;
};

/// torchvision's SqueezeNet arguments after `version`.
struct SqueezeNetOptions {
  int64_t num_classes = 1000;
  /// The probability of the classifier's Dropout (0 makes training deterministic).
  double dropout = 0.5;
};

/// torchvision.models.SqueezeNet. Children: features (a Sequential of
/// convolution, ReLU, ceil-mode max pools and Fire modules) and classifier
/// (Dropout, the final 1x1 convolution to num_classes, ReLU,
/// AdaptiveAvgPool2d((1, 1))).
class SqueezeNet : public nn::Module {
 public:
  /// `version`: "1_0" or "1_1"; anything else throws wick::Error, as
  /// torchvision raises ValueError.
  explicit SqueezeNet(std::string_view version = "1_0", SqueezeNetOptions options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

  int64_t num_classes;
  nn::Sequential& features;
  nn::Sequential& classifier;
};

/// SqueezeNet 1.0 (the paper's).
SqueezeNet squeezenet1_0(SqueezeNetOptions options = {});
/// SqueezeNet 1.1: 2.4x less computation than 1.0 at the same accuracy.
SqueezeNet squeezenet1_1(SqueezeNetOptions options = {});

}  // namespace wick::models
