// Neural-network functions: convolution, pooling, normalisation, dropout,
// softmax and losses. The counterparts of `torch.nn.functional`.
//
// Inputs are NCHW (batch, channels, height, width) like PyTorch. Every function
// is differentiable in float32 and float64 and checks its arguments, throwing
// wick::Error subclasses that name the function and the shapes involved.
#pragma once

#include <optional>

#include "wick/core/random.h"
#include "wick/core/tensor.h"

namespace wick::functional {

/// A pair of sizes for 2-D ops (height, width); `{3}` or `3` means {3, 3}.
struct Pair {
  int64_t h, w;
  Pair(int64_t v) : h(v), w(v) {}
  Pair(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

/// input [N, C_in, H, W] (or unbatched [C_in, H, W]), weight [C_out, C_in /
/// groups, kH, kW], bias [C_out] or undefined.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              Pair stride = 1, Pair padding = 0, Pair dilation = 1, int64_t groups = 1);

/// input @ weight.T + bias; input [..., in], weight [out, in], bias [out].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());

/// stride defaults to kernel_size, as in PyTorch. Padding is -inf.
Tensor max_pool2d(const Tensor& input, Pair kernel_size, std::optional<Pair> stride = std::nullopt,
                  Pair padding = 0, Pair dilation = 1, bool ceil_mode = false);

/// PyTorch's avg_pool2d (count_include_pad true by default; divisor_override
/// replaces the window size when given).
Tensor avg_pool2d(const Tensor& input, Pair kernel_size, std::optional<Pair> stride = std::nullopt,
                  Pair padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);

Tensor adaptive_avg_pool2d(const Tensor& input, Pair output_size);

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

/// Rows of `weight` [num_embeddings, dim] picked by the int64 `indices` (any
/// shape); the result has sizes indices.sizes() + [dim]. Rows at padding_idx
/// get no gradient. Throws IndexError naming an index out of range.
Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<int64_t> padding_idx = std::nullopt);

/// Zeroes each element with probability p and scales the rest by 1/(1-p) in
/// training; the identity otherwise.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true, Generator* gen = nullptr);

Tensor softmax(const Tensor& input, int64_t dim);
Tensor log_softmax(const Tensor& input, int64_t dim);

enum class Reduction { None, Mean, Sum };

/// input [N, C] or [N, C, d1, ...] log-probabilities, target int64 [N] or
/// [N, d1, ...] class indices. Targets equal to ignore_index contribute
/// nothing and are left out of the mean's denominator; weight [C] optional.
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);

/// log_softmax over dim 1 followed by nll_loss.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace wick::functional
