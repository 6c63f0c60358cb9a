// torch.nn.functional.embedding: rows of a table picked by index. Defined in
// src/nn/functional/embedding.cpp.
#pragma once

#include <optional>
#include "wick/core/tensor.h"

namespace wick::nn::functional {

/// Rows of `weight` [num_embeddings, dim] picked by the int64 `indices` (any
/// shape); the result has sizes indices.sizes() + [dim]. Rows at padding_idx
/// get no gradient. Throws IndexError naming an index out of range.
Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<int64_t> padding_idx = std::nullopt);

}  // namespace wick::nn::functional
