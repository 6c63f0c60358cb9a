#include "wick/models/vision_transformer.h"

#include <cmath>
#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/nn/activation.h"
#include "wick/nn/init.h"
#include "wick/nn/linear.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/join.h"

namespace wick::models {

namespace {

constexpr double kEps = 1e-6;

nn::LayerNorm layer_norm(int64_t dim) {
  return nn::LayerNorm(dim, {.eps = kEps});
}

/// The sequence length (patches and class token), after the check
/// torchvision's VisionTransformer makes.
int64_t checked_seq_length(int64_t image_size, int64_t patch_size) {
  WICK_CHECK(patch_size > 0 && image_size > 0 && image_size % patch_size == 0,
             "VisionTransformer: image_size ", image_size, " is not divisible by patch_size ",
             patch_size, " (torchvision: \"Input shape indivisible by patch size!\")");
  const int64_t side = image_size / patch_size;
  return side * side + 1;
}

nn::Sequential encoder_layers(int64_t num_layers, int64_t num_heads, int64_t hidden_dim,
                              int64_t mlp_dim, double dropout, double attention_dropout) {
  WICK_CHECK(num_layers >= 0, "VisionTransformer: num_layers must not be negative, got ",
             num_layers);
  nn::Sequential layers;
  for (int64_t i = 0; i < num_layers; ++i)
    layers.push_back("encoder_layer_" + std::to_string(i),
                     EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout));
  return layers;
}

nn::Sequential vit_heads(int64_t hidden_dim, const VisionTransformerOptions& options) {
  nn::Sequential heads;
  if (!options.representation_size) {
    heads.push_back("head", nn::Linear(hidden_dim, options.num_classes));
  } else {
    heads.push_back("pre_logits", nn::Linear(hidden_dim, *options.representation_size));
    heads.push_back("act", nn::Tanh());
    heads.push_back("head", nn::Linear(*options.representation_size, options.num_classes));
  }
  return heads;
}

}  // namespace

MLPBlock::MLPBlock(int64_t in_dim, int64_t mlp_dim, double dropout) {
  set_version(2);
  push_back(nn::Linear(in_dim, mlp_dim));
  push_back(nn::GELU());
  push_back(nn::Dropout(dropout));
  push_back(nn::Linear(mlp_dim, in_dim));
  push_back(nn::Dropout(dropout));
  for (size_t i : {0, 3}) {
    auto& linear = at<nn::Linear>(i);
    nn::init::xavier_uniform_(linear.weight);
    nn::init::normal_(linear.bias, 0, 1e-6);
  }
}

void MLPBlock::upgrade_state_dict(nn::StateDict& sd, const std::string& prefix,
                                  std::optional<int64_t> version) const {
  nn::Sequential::upgrade_state_dict(sd, prefix, version);
  // torchvision's MLPBlock._load_from_state_dict (pytorch/vision#6053), for
  // any version: linear_1 -> 0, linear_2 -> 3.
  for (int i = 0; i < 2; ++i) {
    for (const char* kind : {"weight", "bias"}) {
      const std::string old_key = prefix + "linear_" + std::to_string(i + 1) + "." + kind;
      const std::string new_key = prefix + std::to_string(3 * i) + "." + kind;
      const Tensor* old_value = sd.find(old_key);
      if (!old_value || sd.contains(new_key)) continue;
      const Tensor value = *old_value;
      sd.erase(old_key);
      sd.set(new_key, value);
    }
  }
}

EncoderBlock::EncoderBlock(int64_t num_heads_, int64_t hidden_dim, int64_t mlp_dim, double dropout_,
                           double attention_dropout)
    : num_heads(num_heads_),
      ln_1(register_module("ln_1", layer_norm(hidden_dim))),
      self_attention(register_module(
          "self_attention",
          nn::MultiheadAttention(hidden_dim, num_heads_,
                                 {.dropout = attention_dropout, .batch_first = true}))),
      dropout(register_module("dropout", nn::Dropout(dropout_))),
      ln_2(register_module("ln_2", layer_norm(hidden_dim))),
      mlp(register_module("mlp", MLPBlock(hidden_dim, mlp_dim, dropout_))) {}

Tensor EncoderBlock::forward(const Tensor& input) {
  WICK_CHECK_AS(ShapeError, input.dim() == 3,
                "EncoderBlock: expected (batch_size, seq_length, hidden_dim), got sizes ",
                input.sizes());
  Tensor x = ln_1(input);
  x = self_attention.forward(x, x, x, {}, /*need_weights=*/false).first;
  x = dropout(x) + input;
  return x + mlp(ln_2(x));
}

Encoder::Encoder(int64_t seq_length, int64_t num_layers, int64_t num_heads, int64_t hidden_dim,
                 int64_t mlp_dim, double dropout_, double attention_dropout)
    : pos_embedding(register_parameter("pos_embedding", empty({1, seq_length, hidden_dim}))),
      dropout(register_module("dropout", nn::Dropout(dropout_))),
      layers(register_module("layers", encoder_layers(num_layers, num_heads, hidden_dim, mlp_dim,
                                                      dropout_, attention_dropout))),
      ln(register_module("ln", layer_norm(hidden_dim))) {
  nn::init::normal_(pos_embedding, 0, 0.02);  // from BERT
}

Tensor Encoder::forward(const Tensor& input) {
  WICK_CHECK_AS(ShapeError,
                input.dim() == 3 && input.size(1) == pos_embedding.size(1) &&
                    input.size(2) == pos_embedding.size(2),
                "Encoder: expected (batch_size, seq_length, hidden_dim) = (N, ",
                pos_embedding.size(1), ", ", pos_embedding.size(2), "), got sizes ", input.sizes());
  return ln(layers(dropout(input + pos_embedding)));
}

VisionTransformer::VisionTransformer(int64_t patch_size_, int64_t num_layers, int64_t num_heads,
                                     int64_t hidden_dim_, int64_t mlp_dim_,
                                     VisionTransformerOptions options)
    : image_size(options.image_size),
      patch_size(patch_size_),
      hidden_dim(hidden_dim_),
      mlp_dim(mlp_dim_),
      seq_length(checked_seq_length(options.image_size, patch_size_)),
      conv_proj(register_module("conv_proj",
                                nn::Conv2d(3, hidden_dim_, patch_size_, {.stride = patch_size_}))),
      class_token(register_parameter("class_token", zeros({1, 1, hidden_dim_}))),
      encoder(register_module("encoder",
                              Encoder(seq_length, num_layers, num_heads, hidden_dim_, mlp_dim_,
                                      options.dropout, options.attention_dropout))),
      heads(register_module("heads", vit_heads(hidden_dim_, options))) {
  NoGradGuard no_grad;
  // The patchify stem.
  const double fan_in = double(conv_proj.in_channels * patch_size * patch_size);
  nn::init::trunc_normal_(conv_proj.weight, 0, std::sqrt(1 / fan_in));
  nn::init::zeros_(conv_proj.bias);
  if (options.representation_size) {
    auto& pre_logits = dynamic_cast<nn::Linear&>(heads.get_submodule("pre_logits"));
    nn::init::trunc_normal_(pre_logits.weight, 0, std::sqrt(1 / double(pre_logits.in_features)));
    nn::init::zeros_(pre_logits.bias);
  }
  auto& head = dynamic_cast<nn::Linear&>(heads.get_submodule("head"));
  nn::init::zeros_(head.weight);
  nn::init::zeros_(head.bias);
}

Tensor VisionTransformer::forward(const Tensor& input) {
  WICK_CHECK_AS(ShapeError, input.dim() == 4, "VisionTransformer: expected input [N, 3, ",
                image_size, ", ", image_size, "], got sizes ", input.sizes());
  const int64_t n = input.size(0), h = input.size(2), w = input.size(3);
  WICK_CHECK_AS(ShapeError, h == image_size, "VisionTransformer: wrong image height, expected ",
                image_size, " but got ", h, " (input sizes ", input.sizes(), ")");
  WICK_CHECK_AS(ShapeError, w == image_size, "VisionTransformer: wrong image width, expected ",
                image_size, " but got ", w, " (input sizes ", input.sizes(), ")");
  const int64_t patches = (h / patch_size) * (w / patch_size);
  // [N, hidden, n_h, n_w] -> [N, n_h * n_w, hidden]: the sequence, batch first.
  Tensor x = conv_proj(input).reshape({n, hidden_dim, patches}).permute({0, 2, 1});
  x = cat({class_token.expand({n, -1, -1}), x}, 1);
  x = encoder(x);
  // The class token's output is the image's representation.
  return heads(x.select(1, 0));
}

VisionTransformer vit_b_16(VisionTransformerOptions options) {
  return VisionTransformer(16, 12, 12, 768, 3072, options);
}

}  // namespace wick::models
