#include "wick/nn/embedding.h"

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/nn/functional.h"
#include "wick/nn/init.h"

namespace wick::nn {

Embedding::Embedding(int64_t num, int64_t dim, EmbeddingOptions options)
    : num_embeddings(num), embedding_dim(dim), padding_idx(options.padding_idx) {
  WICK_CHECK(num >= 0 && dim >= 0,
             "Embedding: expected non-negative num_embeddings and "
             "embedding_dim but got ",
             num, " and ", dim);
  if (padding_idx) {
    WICK_CHECK(*padding_idx >= -num && *padding_idx < num,
               "Embedding: padding_idx must be within num_embeddings (got padding_idx=",
               *padding_idx, " for num_embeddings=", num, ")");
    if (*padding_idx < 0) *padding_idx += num;
  }
  weight = register_parameter("weight", empty({num, dim}));
  reset_parameters();
}

void Embedding::reset_parameters() {
  NoGradGuard no_grad;  // the padding row is a view: record no history for it
  init::normal_(weight);
  if (padding_idx) init::zeros_(weight.select(0, *padding_idx));
}

Tensor Embedding::forward(const Tensor& indices) {
  return functional::embedding(indices, weight, padding_idx);
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
  if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
  return s;
}

}  // namespace wick::nn
