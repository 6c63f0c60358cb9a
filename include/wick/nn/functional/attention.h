// Attention: torch.nn.functional.scaled_dot_product_attention, the core of
// ViT's and the Transformer's attention layers. Defined in
// src/nn/functional/attention.cpp.
#pragma once

#include <optional>

#include "wick/core/random.h"
#include "wick/core/tensor.h"

namespace wick::nn::functional {

/// softmax(q @ k^T * scale + mask) @ v over the last two dims, with any
/// leading (batch, head) dims broadcast as by matmul. query is [..., L, E],
/// key [..., S, E], value [..., S, Ev]; the result is [..., L, Ev].
///
/// `attn_mask` (optional) broadcasts to [..., L, S]: a bool mask keeps the
/// positions where it is true (the others get -inf), a float mask is added
/// to the scores. `is_causal` keeps only positions s <= l (it may not be
/// combined with a mask). `scale` defaults to 1 / sqrt(E). With dropout_p >
/// 0, the attention weights go through dropout (always in training mode, as
/// in PyTorch). A row whose every position is masked gives NaN, as PyTorch's
/// reference formula does.
///
/// Differentiable in query, key, value and a float mask. This version
/// materialises the [..., L, S] score matrix.
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = {}, double dropout_p = 0,
                                    bool is_causal = false,
                                    std::optional<double> scale = std::nullopt,
                                    Generator* gen = nullptr);

}  // namespace wick::nn::functional
