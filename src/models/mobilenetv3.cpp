#include "wick/models/mobilenetv3.h"

#include <cmath>
#include <utility>

#include "models/init_weights.h"
#include "wick/core/error.h"
#include "wick/nn/activation.h"
#include "wick/nn/dropout.h"
#include "wick/nn/linear.h"
#include "wick/ops/elementwise.h"

namespace wick::models {

namespace {

NormFactory default_norm() {
  return batch_norm2d({.eps = 0.001, .momentum = 0.01});
}

}  // namespace

namespace mobilenetv3 {

InvertedResidualConfig::InvertedResidualConfig(int64_t input_channels_, int64_t kernel_,
                                               int64_t expanded_channels_, int64_t out_channels_,
                                               bool use_se_, const std::string& activation,
                                               int64_t stride_, int64_t dilation_,
                                               double width_mult)
    : input_channels(adjust_channels(input_channels_, width_mult)),
      kernel(kernel_),
      expanded_channels(adjust_channels(expanded_channels_, width_mult)),
      out_channels(adjust_channels(out_channels_, width_mult)),
      use_se(use_se_),
      use_hs(activation == "HS"),
      stride(stride_),
      dilation(dilation_) {
  WICK_CHECK(activation == "HS" || activation == "RE",
             "InvertedResidualConfig: activation must be \"RE\" or \"HS\", got \"", activation,
             "\"");
  WICK_CHECK(input_channels_ > 0 && expanded_channels_ > 0 && out_channels_ > 0 && kernel > 0 &&
                 dilation > 0,
             "InvertedResidualConfig: channels, kernel and dilation must be positive");
}

int64_t InvertedResidualConfig::adjust_channels(int64_t channels, double width_mult) {
  WICK_CHECK(std::isfinite(width_mult) && width_mult > 0,
             "MobileNetV3: width_mult must be positive, got ", width_mult);
  return make_divisible(static_cast<double>(channels) * width_mult, 8);
}

namespace {

nn::Sequential inverted_residual_block(const InvertedResidualConfig& cnf,
                                       const NormFactory& norm_layer) {
  WICK_CHECK(cnf.stride >= 1 && cnf.stride <= 2, "illegal stride value ", cnf.stride);
  const LayerFactory activation = cnf.use_hs ? layer<nn::Hardswish>(true) : layer<nn::ReLU>(true);
  nn::Sequential layers;
  if (cnf.expanded_channels != cnf.input_channels) {
    layers.push_back(Conv2dNormActivation(
        cnf.input_channels, cnf.expanded_channels,
        {.kernel_size = 1, .norm_layer = norm_layer, .activation_layer = activation}));
  }
  layers.push_back(Conv2dNormActivation(cnf.expanded_channels, cnf.expanded_channels,
                                        {.kernel_size = cnf.kernel,
                                         .stride = cnf.dilation > 1 ? 1 : cnf.stride,
                                         .groups = cnf.expanded_channels,
                                         .norm_layer = norm_layer,
                                         .activation_layer = activation,
                                         .dilation = cnf.dilation}));
  if (cnf.use_se) {
    const int64_t squeeze_channels =
        make_divisible(static_cast<double>(cnf.expanded_channels / 4), 8);
    layers.push_back(SqueezeExcitation(cnf.expanded_channels, squeeze_channels,
                                       {.scale_activation = layer<nn::Hardsigmoid>()}));
  }
  layers.push_back(
      Conv2dNormActivation(cnf.expanded_channels, cnf.out_channels,
                           {.kernel_size = 1, .norm_layer = norm_layer, .activation_layer = {}}));
  return layers;
}

}  // namespace

InvertedResidual::InvertedResidual(const InvertedResidualConfig& cnf, NormFactory norm_layer)
    : use_res_connect(cnf.stride == 1 && cnf.input_channels == cnf.out_channels),
      block(register_module(
          "block", inverted_residual_block(cnf, norm_layer ? norm_layer : default_norm()))),
      out_channels(cnf.out_channels) {}

Tensor InvertedResidual::forward(const Tensor& input) {
  Tensor result = block(input);
  if (use_res_connect) result = result + input;
  return result;
}

}  // namespace mobilenetv3

namespace {

using mobilenetv3::InvertedResidualConfig;

NormFactory norm_or_default(const MobileNetV3Options& o) {
  return o.norm_layer ? o.norm_layer : default_norm();
}

nn::Sequential mobilenet_v3_features(const std::vector<InvertedResidualConfig>& setting,
                                     const NormFactory& norm_layer) {
  WICK_CHECK(!setting.empty(), "The inverted_residual_setting should not be empty");
  nn::Sequential layers;
  layers.push_back(Conv2dNormActivation(3, setting.front().input_channels,
                                        {.kernel_size = 3,
                                         .stride = 2,
                                         .norm_layer = norm_layer,
                                         .activation_layer = layer<nn::Hardswish>(true)}));
  for (const InvertedResidualConfig& cnf : setting)
    layers.push_back(mobilenetv3::InvertedResidual(cnf, norm_layer));
  const int64_t lastconv_input_channels = setting.back().out_channels;
  layers.push_back(Conv2dNormActivation(lastconv_input_channels, 6 * lastconv_input_channels,
                                        {.kernel_size = 1,
                                         .norm_layer = norm_layer,
                                         .activation_layer = layer<nn::Hardswish>(true)}));
  return layers;
}

nn::Sequential mobilenet_v3_classifier(const std::vector<InvertedResidualConfig>& setting,
                                       int64_t last_channel, const MobileNetV3Options& o) {
  const int64_t lastconv_output_channels = 6 * setting.back().out_channels;
  nn::Sequential classifier;
  classifier.push_back(nn::Linear(lastconv_output_channels, last_channel));
  classifier.push_back(nn::Hardswish(/*inplace=*/true));
  classifier.push_back(nn::Dropout(o.dropout, {.inplace = true}));
  classifier.push_back(nn::Linear(last_channel, o.num_classes));
  return classifier;
}

}  // namespace

MobileNetV3::MobileNetV3(const std::vector<InvertedResidualConfig>& setting, int64_t last_channel,
                         MobileNetV3Options options)
    : features(
          register_module("features", mobilenet_v3_features(setting, norm_or_default(options)))),
      avgpool(register_module("avgpool", nn::AdaptiveAvgPool2d(1))),
      classifier(
          register_module("classifier", mobilenet_v3_classifier(setting, last_channel, options))) {
  detail::init_mobile_weights(*this, detail::LinearInit::Normal);
}

Tensor MobileNetV3::forward(const Tensor& input) {
  Tensor x = avgpool(features(input));
  return classifier(x.flatten(1));
}

std::pair<std::vector<InvertedResidualConfig>, int64_t> mobilenet_v3_conf(
    const std::string& arch, const MobileNetV3Options& o) {
  const int64_t r = o.reduced_tail ? 2 : 1;  // reduce_divider
  const int64_t d = o.dilated ? 2 : 1;       // dilation
  const double w = o.width_mult;
  auto bneck = [w](int64_t in, int64_t k, int64_t exp, int64_t out, bool se, const char* act,
                   int64_t s, int64_t dil) {
    return InvertedResidualConfig(in, k, exp, out, se, act, s, dil, w);
  };
  std::vector<InvertedResidualConfig> setting;
  int64_t last_channel = 0;
  if (arch == "mobilenet_v3_large") {
    setting = {
        bneck(16, 3, 16, 16, false, "RE", 1, 1),
        bneck(16, 3, 64, 24, false, "RE", 2, 1),  // C1
        bneck(24, 3, 72, 24, false, "RE", 1, 1),
        bneck(24, 5, 72, 40, true, "RE", 2, 1),  // C2
        bneck(40, 5, 120, 40, true, "RE", 1, 1),
        bneck(40, 5, 120, 40, true, "RE", 1, 1),
        bneck(40, 3, 240, 80, false, "HS", 2, 1),  // C3
        bneck(80, 3, 200, 80, false, "HS", 1, 1),
        bneck(80, 3, 184, 80, false, "HS", 1, 1),
        bneck(80, 3, 184, 80, false, "HS", 1, 1),
        bneck(80, 3, 480, 112, true, "HS", 1, 1),
        bneck(112, 3, 672, 112, true, "HS", 1, 1),
        bneck(112, 5, 672, 160 / r, true, "HS", 2, d),  // C4
        bneck(160 / r, 5, 960 / r, 160 / r, true, "HS", 1, d),
        bneck(160 / r, 5, 960 / r, 160 / r, true, "HS", 1, d),
    };
    last_channel = InvertedResidualConfig::adjust_channels(1280 / r, w);  // C5
  } else if (arch == "mobilenet_v3_small") {
    setting = {
        bneck(16, 3, 16, 16, true, "RE", 2, 1),   // C1
        bneck(16, 3, 72, 24, false, "RE", 2, 1),  // C2
        bneck(24, 3, 88, 24, false, "RE", 1, 1),
        bneck(24, 5, 96, 40, true, "HS", 2, 1),  // C3
        bneck(40, 5, 240, 40, true, "HS", 1, 1),
        bneck(40, 5, 240, 40, true, "HS", 1, 1),
        bneck(40, 5, 120, 48, true, "HS", 1, 1),
        bneck(48, 5, 144, 48, true, "HS", 1, 1),
        bneck(48, 5, 288, 96 / r, true, "HS", 2, d),  // C4
        bneck(96 / r, 5, 576 / r, 96 / r, true, "HS", 1, d),
        bneck(96 / r, 5, 576 / r, 96 / r, true, "HS", 1, d),
    };
    last_channel = InvertedResidualConfig::adjust_channels(1024 / r, w);  // C5
  } else {
    throw Error("Unsupported model type " + arch);
  }
  return {std::move(setting), last_channel};
}

MobileNetV3 mobilenet_v3_large(MobileNetV3Options options) {
  auto [setting, last_channel] = mobilenet_v3_conf("mobilenet_v3_large", options);
  return MobileNetV3(setting, last_channel, std::move(options));
}

MobileNetV3 mobilenet_v3_small(MobileNetV3Options options) {
  auto [setting, last_channel] = mobilenet_v3_conf("mobilenet_v3_small", options);
  return MobileNetV3(setting, last_channel, std::move(options));
}

}  // namespace wick::models
