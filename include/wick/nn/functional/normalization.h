// Normalisation: torch.nn.functional.batch_norm and layer_norm. Defined in
// src/nn/functional/normalization.cpp.
#pragma once

#include "wick/core/tensor.h"

namespace wick::nn::functional {

/// Batch normalisation over dim 1 of [N, C] or [N, C, ...]. In training the
/// batch statistics are used and, when given, running_mean / running_var are
/// updated in place with `momentum` (running_var gets the unbiased variance);
/// in eval the running statistics are used. weight / bias may be undefined.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);

/// Layer normalisation over the last normalized_shape.size() dims of input:
/// (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance.
/// weight / bias have sizes normalized_shape or are undefined.
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

}  // namespace wick::nn::functional
