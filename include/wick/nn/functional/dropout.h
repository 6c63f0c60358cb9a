// torch.nn.functional.dropout, and torchvision.ops.stochastic_depth (the
// residual-branch dropout of EfficientNet and ConvNeXt). Defined in
// src/nn/functional/dropout.cpp.
#pragma once

#include <string_view>

#include "wick/core/random.h"
#include "wick/core/tensor.h"

namespace wick::nn::functional {

/// Zeroes each element with probability p and scales the rest by 1/(1-p) in
/// training; the identity otherwise.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true, Generator* gen = nullptr);

/// torchvision.ops.stochastic_depth: in training, keeps the whole input with
/// the survival rate 1 - p and zeroes it otherwise, per sample (mode "row":
/// one draw per index of dim 0) or for the whole batch (mode "batch"); kept
/// values are scaled by 1 / (1 - p) when p < 1. The identity when not
/// training or p == 0. Throws wick::Error unless 0 <= p <= 1 and mode is
/// "row" or "batch".
Tensor stochastic_depth(const Tensor& input, double p, std::string_view mode, bool training = true,
                        Generator* gen = nullptr);

}  // namespace wick::nn::functional
