#include "wick/models/convnext.h"

#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/models/blocks.h"
#include "wick/nn/activation.h"
#include "wick/nn/conv.h"
#include "wick/nn/functional.h"
#include "wick/nn/init.h"
#include "wick/nn/linear.h"
#include "wick/ops/elementwise.h"

namespace wick::models {

namespace {

constexpr double kEps = 1e-6;

nn::Sequential cn_block_body(int64_t dim) {
  nn::Sequential block;
  block.push_back(nn::Conv2d(dim, dim, 7, {.padding = 3, .groups = dim}));
  block.push_back(Permute({0, 2, 3, 1}));
  block.push_back(nn::LayerNorm(dim, {.eps = kEps}));
  block.push_back(nn::Linear(dim, 4 * dim));
  block.push_back(nn::GELU());
  block.push_back(nn::Linear(4 * dim, dim));
  block.push_back(Permute({0, 3, 1, 2}));
  return block;
}

/// `settings`, after the check torchvision's ConvNeXt makes.
const std::vector<CNBlockConfig>& checked(const std::vector<CNBlockConfig>& settings) {
  WICK_CHECK(!settings.empty(), "ConvNeXt: the block_setting should not be empty");
  for (const CNBlockConfig& c : settings)
    WICK_CHECK(c.input_channels > 0 && c.num_layers > 0 && c.out_channels.value_or(1) > 0,
               "ConvNeXt: every stage needs positive channels and layers, got input_channels=",
               c.input_channels, ", num_layers=", c.num_layers);
  return settings;
}

nn::Sequential convnext_features(const std::vector<CNBlockConfig>& settings,
                                 const ConvNeXtOptions& options) {
  nn::Sequential features;
  const int64_t stem = settings.front().input_channels;
  features.push_back(Conv2dNormActivation(3, stem,
                                          {.kernel_size = 4,
                                           .stride = 4,
                                           .padding = 0,
                                           .norm_layer =
                                               [](int64_t c) {
                                                 return std::make_shared<LayerNorm2d>(
                                                     c, nn::LayerNormOptions{.eps = kEps});
                                               },
                                           .activation_layer = {},
                                           .bias = true}));
  int64_t total_blocks = 0;
  for (const CNBlockConfig& c : settings) total_blocks += c.num_layers;
  int64_t block_id = 0;
  for (const CNBlockConfig& c : settings) {
    nn::Sequential stage;
    for (int64_t i = 0; i < c.num_layers; ++i, ++block_id) {
      // torchvision's ramp; a network of a single block (where torchvision
      // divides by zero) gets 0, the ramp's first value.
      const double p = total_blocks == 1 ? 0
                                         : options.stochastic_depth_prob * double(block_id) /
                                               (double(total_blocks) - 1.0);
      stage.push_back(CNBlock(c.input_channels, options.layer_scale, p));
    }
    features.push_back(std::move(stage));
    if (c.out_channels) {
      nn::Sequential downsample;
      downsample.push_back(LayerNorm2d(c.input_channels, {.eps = kEps}));
      downsample.push_back(nn::Conv2d(c.input_channels, *c.out_channels, 2, {.stride = 2}));
      features.push_back(std::move(downsample));
    }
  }
  return features;
}

nn::Sequential convnext_classifier(const std::vector<CNBlockConfig>& settings,
                                   int64_t num_classes) {
  const CNBlockConfig& last = settings.back();
  const int64_t channels = last.out_channels.value_or(last.input_channels);
  nn::Sequential classifier;
  classifier.push_back(LayerNorm2d(channels, {.eps = kEps}));
  classifier.push_back(nn::Flatten());
  classifier.push_back(nn::Linear(channels, num_classes));
  return classifier;
}

}  // namespace

Tensor LayerNorm2d::forward(const Tensor& input) {
  WICK_CHECK_AS(ShapeError, input.dim() == 4,
                "LayerNorm2d: expected input [N, C, H, W], got sizes ", input.sizes());
  Tensor x = input.permute({0, 2, 3, 1});
  x = nn::functional::layer_norm(x, normalized_shape, weight, bias, eps);
  return x.permute({0, 3, 1, 2});
}

CNBlock::CNBlock(int64_t dim, double layer_scale_, double stochastic_depth_prob)
    : block(register_module("block", cn_block_body(dim))),
      layer_scale(register_parameter("layer_scale", full({dim, 1, 1}, layer_scale_))),
      stochastic_depth(
          register_module("stochastic_depth", nn::StochasticDepth(stochastic_depth_prob, "row"))) {}

Tensor CNBlock::forward(const Tensor& input) {
  Tensor result = layer_scale * block(input);
  result = stochastic_depth(result);
  return result + input;
}

ConvNeXt::ConvNeXt(const std::vector<CNBlockConfig>& block_setting, ConvNeXtOptions options)
    : features(register_module("features", convnext_features(checked(block_setting), options))),
      avgpool(register_module("avgpool", nn::AdaptiveAvgPool2d(1))),
      classifier(
          register_module("classifier", convnext_classifier(block_setting, options.num_classes))) {
  NoGradGuard no_grad;
  for (nn::Module* m : modules()) {
    Tensor weight, bias;
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      weight = conv->weight;
      bias = conv->bias;
    } else if (auto* linear = dynamic_cast<nn::Linear*>(m)) {
      weight = linear->weight;
      bias = linear->bias;
    } else {
      continue;
    }
    nn::init::trunc_normal_(weight, 0, 0.02);
    if (bias.defined()) nn::init::zeros_(bias);
  }
}

Tensor ConvNeXt::forward(const Tensor& input) {
  return classifier(avgpool(features(input)));
}

ConvNeXt convnext_tiny(ConvNeXtOptions options) {
  return ConvNeXt({{96, 192, 3}, {192, 384, 3}, {384, 768, 9}, {768, std::nullopt, 3}}, options);
}

}  // namespace wick::models
