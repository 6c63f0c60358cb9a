// Convolution: torch.nn.functional.conv2d. Inputs are NCHW (batch, channels,
// height, width) like PyTorch. Defined in src/nn/functional/conv.cpp.
#pragma once

#include "wick/core/tensor.h"
#include "wick/nn/functional/common.h"

namespace wick::nn::functional {

/// input [N, C_in, H, W] (or unbatched [C_in, H, W]), weight [C_out, C_in /
/// groups, kH, kW], bias [C_out] or undefined.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              Pair stride = 1, Pair padding = 0, Pair dilation = 1, int64_t groups = 1);

}  // namespace wick::nn::functional
