// Pooling: torch.nn.functional.max_pool2d, avg_pool2d and
// adaptive_avg_pool2d over NCHW (or unbatched CHW) inputs. Defined in
// src/nn/functional/pooling.cpp.
#pragma once

#include <optional>
#include "wick/core/tensor.h"
#include "wick/nn/functional/common.h"

namespace wick::nn::functional {

/// stride defaults to kernel_size, as in PyTorch. Padding is -inf.
Tensor max_pool2d(const Tensor& input, Pair kernel_size, std::optional<Pair> stride = std::nullopt,
                  Pair padding = 0, Pair dilation = 1, bool ceil_mode = false);

/// PyTorch's avg_pool2d (count_include_pad true by default; divisor_override
/// replaces the window size when given).
Tensor avg_pool2d(const Tensor& input, Pair kernel_size, std::optional<Pair> stride = std::nullopt,
                  Pair padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);

Tensor adaptive_avg_pool2d(const Tensor& input, Pair output_size);

}  // namespace wick::nn::functional
