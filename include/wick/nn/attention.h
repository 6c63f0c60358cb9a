// Attention layers: nn::MultiheadAttention (torch.nn.MultiheadAttention), the
// attention of ViT's encoder blocks and of nn.Transformer.
//
//   nn::MultiheadAttention attn(768, 12, {.batch_first = true});
//   auto [out, weights] = attn.forward(x, x, x);   // self-attention
//
// Its parameters have PyTorch's names (in_proj_weight, in_proj_bias,
// out_proj.weight, out_proj.bias), so a state_dict saved by PyTorch loads
// as it is. The attention itself is functional::scaled_dot_product_attention's
// formula, written out here because the weights are returned too.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "wick/core/tensor.h"
#include "wick/nn/linear.h"
#include "wick/nn/module.h"

namespace wick::nn {

/// The output projection of MultiheadAttention: a Linear that prints under
/// PyTorch's class name for it (`NonDynamicallyQuantizableLinear(...)`).
class NonDynamicallyQuantizableLinear : public Linear {
 public:
  using Linear::Linear;
};

/// Optional arguments of nn::MultiheadAttention.
struct MultiheadAttentionOptions {
  /// Dropout on the attention weights, in training mode only.
  double dropout = 0;
  /// Whether the input and output projections learn biases.
  bool bias = true;
  /// Inputs and output are [N, L, E] (true) or [L, N, E] (false, PyTorch's
  /// default).
  bool batch_first = false;
};

/// torch.nn.MultiheadAttention with query, key and value of one embedding
/// size (PyTorch's kdim = vdim = embed_dim, no add_bias_kv, no
/// add_zero_attn). in_proj_weight [3E, E] starts as xavier_uniform_,
/// in_proj_bias [3E] and out_proj.bias as zeros, out_proj.weight as Linear's.
class MultiheadAttention : public Module {
 public:
  /// Throws wick::Error unless embed_dim is divisible by num_heads.
  MultiheadAttention(int64_t embed_dim_, int64_t num_heads_,
                     MultiheadAttentionOptions options = {});

  /// Attention of query [L, N, E] over key and value [S, N, E] (batch first:
  /// [N, L, E], [N, S, E]; unbatched: [L, E], [S, E]). key_padding_mask [N, S]
  /// and attn_mask ([L, S] or [N * num_heads, L, S]) are optional: a bool
  /// mask is true where attention is NOT allowed, a float mask is added to
  /// the scores. Returns the output (the query's layout) and, with
  /// `need_weights`, the attention weights [N, L, S] averaged over heads (or
  /// [N, num_heads, L, S] without `average_attn_weights`); otherwise an
  /// undefined tensor.
  std::pair<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& key_padding_mask = {}, bool need_weights = true,
                                    const Tensor& attn_mask = {}, bool average_attn_weights = true);
  using Module::forward;

  int64_t embed_dim;
  int64_t num_heads;
  double dropout;
  bool batch_first;
  Tensor in_proj_weight;
  /// Undefined without bias.
  Tensor in_proj_bias;
  NonDynamicallyQuantizableLinear& out_proj;
};

}  // namespace wick::nn
