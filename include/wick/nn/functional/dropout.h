// torch.nn.functional.dropout. Defined in src/nn/functional/dropout.cpp.
#pragma once

#include "wick/core/random.h"
#include "wick/core/tensor.h"

namespace wick::nn::functional {

/// Zeroes each element with probability p and scales the rest by 1/(1-p) in
/// training; the identity otherwise.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true, Generator* gen = nullptr);

}  // namespace wick::nn::functional
