// torch.nn.functional.linear. Defined in src/nn/functional/linear.cpp.
#pragma once

#include "wick/core/tensor.h"

namespace wick::nn::functional {

/// input @ weight.T + bias; input [..., in], weight [out, in], bias [out].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace wick::nn::functional
