// Losses: torch.nn.functional.nll_loss, cross_entropy and mse_loss. Defined
// in src/nn/functional/loss.cpp.
#pragma once

#include "wick/core/tensor.h"
#include "wick/nn/functional/common.h"

namespace wick::nn::functional {

/// input [N, C] or [N, C, d1, ...] log-probabilities, target int64 [N] or
/// [N, d1, ...] class indices. Targets equal to ignore_index contribute
/// nothing and are left out of the mean's denominator; weight [C] optional.
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);

/// log_softmax over dim 1 followed by nll_loss.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace wick::nn::functional
