// Building blocks of torchvision.ops.misc that the models share:
// Conv2dNormActivation (the stems of ConvNeXt, and of MobileNet, EfficientNet
// and RegNet to come) and Permute (ConvNeXt's channels-last switch). Their
// class names are torchvision's, so model reprs read as torchvision's.
#pragma once

#include <utility>

#include "wick/core/tensor.h"
#include "wick/nn/container.h"
#include "wick/nn/module.h"

namespace wick::models {

/// torchvision.ops.Conv2dNormActivation: a Sequential of a convolution and,
/// optionally, a normalisation layer and an activation (children 0, 1, 2).
/// wick takes the layers themselves where torchvision takes their classes:
///
///   Conv2dNormActivation(nn::Conv2d(3, 96, 4, {.stride = 4}),
///                        LayerNorm2d(96, {.eps = 1e-6}))
class Conv2dNormActivation : public nn::Sequential {
 public:
  using nn::Sequential::Sequential;
};

/// torchvision.ops.Permute: input.permute(dims), a view.
class Permute : public nn::Module {
 public:
  explicit Permute(Shape dims_) : dims(std::move(dims_)) {}
  Tensor forward(const Tensor& input) override { return input.permute(dims); }

  Shape dims;
};

}  // namespace wick::models
