// Vision Transformer: torchvision's ViT (torchvision.models.vision_transformer),
// with the same builder, arguments, module names and registration order, so
// that state_dict() keys, their order and shapes equal torchvision's
// (`class_token`, `conv_proj.weight`, `encoder.pos_embedding`,
// `encoder.layers.encoder_layer_0.self_attention.in_proj_weight`,
// `encoder.layers.encoder_layer_0.mlp.0.weight`, `heads.head.bias`) and its
// checkpoints load strictly:
//
//   wick::models::VisionTransformer net = wick::models::vit_b_16();
//   net.load_state_dict(wick::load("vit_b_16.pth"));
//   net.eval();
//   Tensor logits = net(images);             // [N, 3, 224, 224] -> [N, 1000]
//
// The input must be image_size x image_size (the position embedding has one
// entry per patch). Checkpoints written before torchvision 0.13 name the MLP
// layers `mlp.linear_1` / `mlp.linear_2`; they load too (see MLPBlock).
//
// Weights start as torchvision draws them: conv_proj trunc_normal_ with std
// sqrt(1 / fan_in) and zero bias, class_token zeros, pos_embedding
// N(0, 0.02^2), the attention as nn::MultiheadAttention does, MLP weights
// xavier_uniform_ with biases N(0, 1e-6^2), LayerNorms 1 and 0, the head
// zeros (so a fresh model's logits are all 0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wick/core/tensor.h"
#include "wick/nn/attention.h"
#include "wick/nn/container.h"
#include "wick/nn/conv.h"
#include "wick/nn/dropout.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"

namespace wick::models {

/// torchvision's MLPBlock (a torchvision.ops.MLP): children 0 Linear(in_dim,
/// mlp_dim), 1 GELU, 2 Dropout, 3 Linear(mlp_dim, in_dim), 4 Dropout. Its
/// layout version is 2, as torchvision's: loading a state_dict that names
/// the linear layers `linear_1` and `linear_2` (torchvision before 0.13, and
/// the files published for those versions) renames them to `0` and `3`.
/// torchvision does that only for a recorded version below 2 or none; wick
/// does it whatever the version, so that a file whose metadata was rewritten
/// still loads, but only where the new name is absent (a file with both
/// spellings reports the old keys as unexpected).
class MLPBlock : public nn::Sequential {
 public:
  MLPBlock(int64_t in_dim, int64_t mlp_dim, double dropout);

 protected:
  void upgrade_state_dict(nn::StateDict& sd, const std::string& prefix,
                          std::optional<int64_t> version) const override;
};

/// torchvision's EncoderBlock: x + dropout(attention(ln_1(x))), then
/// x + mlp(ln_2(x)), on [N, L, hidden_dim]. Children: ln_1, self_attention
/// (batch first), dropout, ln_2, mlp.
class EncoderBlock : public nn::Module {
 public:
  EncoderBlock(int64_t num_heads, int64_t hidden_dim, int64_t mlp_dim, double dropout,
               double attention_dropout);
  Tensor forward(const Tensor& input) override;

  int64_t num_heads;
  nn::LayerNorm& ln_1;
  nn::MultiheadAttention& self_attention;
  nn::Dropout& dropout;
  nn::LayerNorm& ln_2;
  MLPBlock& mlp;
};

/// torchvision's vision_transformer.Encoder: adds the position embedding,
/// then dropout, the blocks and a final LayerNorm. Parameter pos_embedding
/// [1, seq_length, hidden_dim]; children dropout, layers (a Sequential of
/// `encoder_layer_0`, ...), ln.
class Encoder : public nn::Module {
 public:
  Encoder(int64_t seq_length, int64_t num_layers, int64_t num_heads, int64_t hidden_dim,
          int64_t mlp_dim, double dropout, double attention_dropout);
  /// [N, seq_length, hidden_dim] -> the same.
  Tensor forward(const Tensor& input) override;

  Tensor pos_embedding;
  nn::Dropout& dropout;
  nn::Sequential& layers;
  nn::LayerNorm& ln;
};

/// torchvision's VisionTransformer arguments after the architecture's own.
struct VisionTransformerOptions {
  /// The height and width of the input; a multiple of the patch size.
  int64_t image_size = 224;
  /// Dropout after the position embedding, the attention and in the MLPs.
  double dropout = 0;
  /// Dropout on the attention weights.
  double attention_dropout = 0;
  int64_t num_classes = 1000;
  /// When set, the head is pre_logits (Linear to this size), act (Tanh) and
  /// head, as in the ViT paper's pre-training.
  std::optional<int64_t> representation_size = std::nullopt;
};

/// torchvision.models.VisionTransformer with the patchify stem (torchvision's
/// conv_stem_configs, which no builder uses, are not offered). Parameter
/// class_token [1, 1, hidden_dim]; children conv_proj (Conv2d with kernel and
/// stride patch_size), encoder, heads (Sequential: head, or pre_logits, act,
/// head).
class VisionTransformer : public nn::Module {
 public:
  /// Throws wick::Error naming both when image_size is not divisible by
  /// patch_size, and when hidden_dim is not divisible by num_heads.
  VisionTransformer(int64_t patch_size, int64_t num_layers, int64_t num_heads, int64_t hidden_dim,
                    int64_t mlp_dim, VisionTransformerOptions options = {});
  /// [N, 3, image_size, image_size] -> logits [N, num_classes]. Throws
  /// wick::ShapeError naming the sizes for any other input size.
  Tensor forward(const Tensor& input) override;

  int64_t image_size;
  int64_t patch_size;
  int64_t hidden_dim;
  int64_t mlp_dim;
  /// (image_size / patch_size)^2 patches and the class token.
  int64_t seq_length;
  nn::Conv2d& conv_proj;
  Tensor class_token;
  Encoder& encoder;
  nn::Sequential& heads;
};

/// ViT-B/16: patch 16, 12 layers, 12 heads, hidden 768, MLP 3072.
VisionTransformer vit_b_16(VisionTransformerOptions options = {});

}  // namespace wick::models
