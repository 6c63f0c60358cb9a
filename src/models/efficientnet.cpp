#include "wick/models/efficientnet.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "models/init_weights.h"
#include "wick/core/error.h"
#include "wick/nn/activation.h"
#include "wick/nn/linear.h"
#include "wick/ops/elementwise.h"

namespace wick::models {

MBConvConfig::MBConvConfig(double expand_ratio_, int64_t kernel_, int64_t stride_,
                           int64_t input_channels_, int64_t out_channels_, int64_t num_layers_,
                           double width_mult, double depth_mult)
    : expand_ratio(expand_ratio_),
      kernel(kernel_),
      stride(stride_),
      input_channels(adjust_channels(input_channels_, width_mult)),
      out_channels(adjust_channels(out_channels_, width_mult)),
      num_layers(adjust_depth(num_layers_, depth_mult)) {
  WICK_CHECK(std::isfinite(expand_ratio) && expand_ratio > 0,
             "MBConvConfig: expand_ratio must be positive, got ", expand_ratio);
  WICK_CHECK(kernel > 0 && input_channels_ > 0 && out_channels_ > 0 && num_layers_ > 0,
             "MBConvConfig: kernel, channels and num_layers must be positive");
}

int64_t MBConvConfig::adjust_channels(int64_t channels, double width_mult,
                                      std::optional<int64_t> min_value) {
  WICK_CHECK(std::isfinite(width_mult) && width_mult > 0,
             "EfficientNet: width_mult must be positive, got ", width_mult);
  return make_divisible(static_cast<double>(channels) * width_mult, 8, min_value);
}

int64_t MBConvConfig::adjust_depth(int64_t num_layers, double depth_mult) {
  WICK_CHECK(std::isfinite(depth_mult) && depth_mult > 0,
             "EfficientNet: depth_mult must be positive, got ", depth_mult);
  return static_cast<int64_t>(std::ceil(static_cast<double>(num_layers) * depth_mult));
}

namespace {

NormFactory norm_or_default(const NormFactory& norm_layer) {
  return norm_layer ? norm_layer : batch_norm2d();
}

nn::Sequential mbconv_block(const MBConvConfig& cnf, const NormFactory& norm_layer) {
  WICK_CHECK(cnf.stride >= 1 && cnf.stride <= 2, "illegal stride value ", cnf.stride);
  const LayerFactory silu = layer<nn::SiLU>(true);
  nn::Sequential layers;
  const int64_t expanded_channels =
      MBConvConfig::adjust_channels(cnf.input_channels, cnf.expand_ratio);
  if (expanded_channels != cnf.input_channels) {
    layers.push_back(Conv2dNormActivation(
        cnf.input_channels, expanded_channels,
        {.kernel_size = 1, .norm_layer = norm_layer, .activation_layer = silu}));
  }
  layers.push_back(Conv2dNormActivation(expanded_channels, expanded_channels,
                                        {.kernel_size = cnf.kernel,
                                         .stride = cnf.stride,
                                         .groups = expanded_channels,
                                         .norm_layer = norm_layer,
                                         .activation_layer = silu}));
  const int64_t squeeze_channels = std::max<int64_t>(1, cnf.input_channels / 4);
  layers.push_back(SqueezeExcitation(expanded_channels, squeeze_channels, {.activation = silu}));
  layers.push_back(
      Conv2dNormActivation(expanded_channels, cnf.out_channels,
                           {.kernel_size = 1, .norm_layer = norm_layer, .activation_layer = {}}));
  return layers;
}

}  // namespace

MBConv::MBConv(const MBConvConfig& cnf, double stochastic_depth_prob, NormFactory norm_layer)
    : use_res_connect(cnf.stride == 1 && cnf.input_channels == cnf.out_channels),
      block(register_module("block", mbconv_block(cnf, norm_or_default(norm_layer)))),
      stochastic_depth(
          register_module("stochastic_depth", nn::StochasticDepth(stochastic_depth_prob, "row"))),
      out_channels(cnf.out_channels) {}

Tensor MBConv::forward(const Tensor& input) {
  Tensor result = block(input);
  if (use_res_connect) result = stochastic_depth(result) + input;
  return result;
}

namespace {

nn::Sequential efficientnet_features(const std::vector<MBConvConfig>& setting,
                                     const EfficientNetOptions& o, int64_t last_channel) {
  WICK_CHECK(!setting.empty(), "The inverted_residual_setting should not be empty");
  WICK_CHECK(o.stochastic_depth_prob >= 0 && o.stochastic_depth_prob <= 1,
             "EfficientNet: stochastic_depth_prob must be between 0 and 1, got ",
             o.stochastic_depth_prob);
  const NormFactory norm_layer = norm_or_default(o.norm_layer);
  const LayerFactory silu = layer<nn::SiLU>(true);
  nn::Sequential layers;
  layers.push_back(Conv2dNormActivation(
      3, setting.front().input_channels,
      {.kernel_size = 3, .stride = 2, .norm_layer = norm_layer, .activation_layer = silu}));
  int64_t total_stage_blocks = 0;
  for (const MBConvConfig& cnf : setting) total_stage_blocks += cnf.num_layers;
  int64_t stage_block_id = 0;
  for (const MBConvConfig& cnf : setting) {
    nn::Sequential stage;
    for (int64_t i = 0; i < cnf.num_layers; ++i) {
      MBConvConfig block_cnf = cnf;
      if (!stage.empty()) {
        block_cnf.input_channels = block_cnf.out_channels;
        block_cnf.stride = 1;
      }
      // As torchvision computes it: (p * id) / total, in double.
      const double sd_prob = o.stochastic_depth_prob * static_cast<double>(stage_block_id) /
                             static_cast<double>(total_stage_blocks);
      stage.push_back(MBConv(block_cnf, sd_prob, norm_layer));
      ++stage_block_id;
    }
    layers.push_back(std::move(stage));
  }
  layers.push_back(
      Conv2dNormActivation(setting.back().out_channels, last_channel,
                           {.kernel_size = 1, .norm_layer = norm_layer, .activation_layer = silu}));
  return layers;
}

int64_t lastconv_output_channels(const std::vector<MBConvConfig>& setting,
                                 const EfficientNetOptions& o) {
  WICK_CHECK(!setting.empty(), "The inverted_residual_setting should not be empty");
  return o.last_channel.value_or(4 * setting.back().out_channels);
}

nn::Sequential efficientnet_classifier(int64_t in_features, const EfficientNetOptions& o) {
  nn::Sequential classifier;
  classifier.push_back(nn::Dropout(o.dropout, {.inplace = true}));
  classifier.push_back(nn::Linear(in_features, o.num_classes));
  return classifier;
}

}  // namespace

EfficientNet::EfficientNet(const std::vector<MBConvConfig>& setting, EfficientNetOptions options)
    : features(register_module(
          "features",
          efficientnet_features(setting, options, lastconv_output_channels(setting, options)))),
      avgpool(register_module("avgpool", nn::AdaptiveAvgPool2d(1))),
      classifier(register_module(
          "classifier",
          efficientnet_classifier(lastconv_output_channels(setting, options), options))) {
  detail::init_mobile_weights(*this, detail::LinearInit::UniformByOutFeatures);
}

Tensor EfficientNet::forward(const Tensor& input) {
  Tensor x = avgpool(features(input));
  return classifier(x.flatten(1));
}

std::vector<MBConvConfig> efficientnet_v1_conf(double width_mult, double depth_mult) {
  auto bneck = [&](double e, int64_t k, int64_t s, int64_t in, int64_t out, int64_t n) {
    return MBConvConfig(e, k, s, in, out, n, width_mult, depth_mult);
  };
  return {
      bneck(1, 3, 1, 32, 16, 1),   bneck(6, 3, 2, 16, 24, 2),  bneck(6, 5, 2, 24, 40, 2),
      bneck(6, 3, 2, 40, 80, 3),   bneck(6, 5, 1, 80, 112, 3), bneck(6, 5, 2, 112, 192, 4),
      bneck(6, 3, 1, 192, 320, 1),
  };
}

EfficientNet efficientnet_b0(EfficientNetOptions options) {
  return EfficientNet(efficientnet_v1_conf(1.0, 1.0), std::move(options));
}

}  // namespace wick::models
