// The weight initialisation torchvision's MobileNetV2, MobileNetV3 and
// EfficientNet share, differing only in the classifier's Linear layers.
#pragma once

#include "wick/nn/module.h"

namespace wick::models::detail {

/// How a model draws its Linear weights (the biases start at zero).
enum class LinearInit {
  /// N(0, 0.01): MobileNetV2, MobileNetV3.
  Normal,
  /// U(-1/sqrt(out_features), 1/sqrt(out_features)): EfficientNet.
  UniformByOutFeatures,
};

/// As the models' constructors do, over every descendant of `model`:
/// Conv2d weights kaiming_normal_(mode="fan_out") (leaky_relu with a = 0,
/// so gain sqrt(2)) and biases zero, BatchNorm2d weight 1 and bias 0, Linear
/// layers per `linear`.
void init_mobile_weights(nn::Module& model, LinearInit linear);

}  // namespace wick::models::detail
