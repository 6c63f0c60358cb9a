// Pooling: torch.nn.functional.max_pool2d, avg_pool2d, adaptive_avg_pool2d
// and adaptive_max_pool2d over NCHW (or unbatched CHW) inputs. Defined in
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

/// Output cell (i, j) averages the window rows [floor(i * H / out_h),
/// ceil((i + 1) * H / out_h)) and likewise columns.
Tensor adaptive_avg_pool2d(const Tensor& input, Pair output_size);

/// F.adaptive_max_pool2d (return_indices=False): the maximum over the windows
/// of adaptive_avg_pool2d; the gradient goes to the maximum (the first one on
/// ties).
Tensor adaptive_max_pool2d(const Tensor& input, Pair output_size);

}  // namespace wick::nn::functional
