// Lookup tables: nn::Embedding, as torch.nn.Embedding.
//
//   nn::Embedding emb(1000, 64, {.padding_idx = 0});
//   Tensor ids = wick::tensor<int64_t>({5, 0, 17}, {3});
//   Tensor v = emb(ids);      // [3, 64]: rows 5, 0 (zeros) and 17 of emb.weight
//   std::cout << emb;         // Embedding(1000, 64, padding_idx=0)
//
// The weight starts as N(0, 1) (wick's global generator) with the padding row
// zeroed; the padding row receives no gradient. PyTorch's max_norm, norm_type,
// scale_grad_by_freq and sparse options are not provided.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wick/core/tensor.h"
#include "wick/nn/module.h"

namespace wick::nn {

/// Optional arguments of nn::Embedding.
struct EmbeddingOptions {
  /// A row that stays fixed (zeros at first, no gradient), e.g. for padding
  /// tokens. Negative values count from the end, as in PyTorch.
  std::optional<int64_t> padding_idx = std::nullopt;
};

/// A table of num_embeddings vectors of size embedding_dim, indexed by int64
/// (or int32) tensors of any shape: output sizes are indices.sizes() +
/// [embedding_dim].
class Embedding : public Module {
 public:
  /// Throws wick::Error for negative sizes or a padding_idx outside
  /// [-num_embeddings, num_embeddings).
  Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options = {});

  /// Throws IndexError naming an index outside [0, num_embeddings).
  Tensor forward(const Tensor& indices) override;
  /// `1000, 64, padding_idx=0` (padding_idx only when set).
  std::string extra_repr() const override;
  /// weight ~ N(0, 1), padding row zeroed.
  void reset_parameters();

  int64_t num_embeddings;
  int64_t embedding_dim;
  /// Already made non-negative.
  std::optional<int64_t> padding_idx;
  /// [num_embeddings, embedding_dim].
  Tensor weight;
};

}  // namespace wick::nn
