#include "wick/models/mobilenetv2.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "models/init_weights.h"
#include "wick/core/error.h"
#include "wick/nn/activation.h"
#include "wick/nn/conv.h"
#include "wick/nn/dropout.h"
#include "wick/nn/functional.h"
#include "wick/nn/linear.h"
#include "wick/ops/elementwise.h"

namespace wick::models {

namespace mobilenetv2 {

namespace {

int64_t checked_stride(int64_t stride) {
  WICK_CHECK(stride == 1 || stride == 2, "stride should be 1 or 2 instead of ", stride);
  return stride;
}

nn::Sequential inverted_residual_layers(int64_t inp, int64_t oup, int64_t stride,
                                        int64_t expand_ratio, const NormFactory& norm_layer) {
  WICK_CHECK(inp > 0 && oup > 0 && expand_ratio > 0,
             "InvertedResidual: channels and expand_ratio must be positive, got inp=", inp,
             ", oup=", oup, ", expand_ratio=", expand_ratio);
  const int64_t hidden_dim = inp * expand_ratio;  // int(round(inp * expand_ratio)) for ints
  nn::Sequential layers;
  if (expand_ratio != 1) {
    layers.push_back(Conv2dNormActivation(
        inp, hidden_dim,
        {.kernel_size = 1, .norm_layer = norm_layer, .activation_layer = layer<nn::ReLU6>(true)}));
  }
  layers.push_back(Conv2dNormActivation(hidden_dim, hidden_dim,
                                        {.stride = stride,
                                         .groups = hidden_dim,
                                         .norm_layer = norm_layer,
                                         .activation_layer = layer<nn::ReLU6>(true)}));
  layers.push_back(nn::Conv2d(hidden_dim, oup, 1, {.stride = 1, .padding = 0, .bias = false}));
  layers.push_back(norm_layer(oup));
  return layers;
}

}  // namespace

InvertedResidual::InvertedResidual(int64_t inp, int64_t oup, int64_t stride_, int64_t expand_ratio,
                                   NormFactory norm_layer)
    : stride(checked_stride(stride_)),
      use_res_connect(stride == 1 && inp == oup),
      conv(register_module("conv",
                           inverted_residual_layers(inp, oup, stride, expand_ratio,
                                                    norm_layer ? norm_layer : batch_norm2d()))),
      out_channels(oup) {}

Tensor InvertedResidual::forward(const Tensor& input) {
  if (use_res_connect) return input + conv(input);
  return conv(input);
}

}  // namespace mobilenetv2

namespace {

using Setting = std::vector<std::array<int64_t, 4>>;

const Setting kDefaultSetting = {
    // t, c, n, s
    {1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2},  {6, 64, 4, 2},
    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
};

/// The options with their defaults filled in, after torchvision's checks and some of wick's.
MobileNetV2Options checked(MobileNetV2Options o) {
  WICK_CHECK(std::isfinite(o.width_mult) && o.width_mult > 0,
             "MobileNetV2: width_mult must be positive, got ", o.width_mult);
  WICK_CHECK(o.round_nearest > 0, "MobileNetV2: round_nearest must be positive, got ",
             o.round_nearest);
  if (!o.inverted_residual_setting) o.inverted_residual_setting = kDefaultSetting;
  WICK_CHECK(!o.inverted_residual_setting->empty(),
             "inverted_residual_setting should be non-empty");
  for (const auto& [t, c, n, s] : *o.inverted_residual_setting) {
    WICK_CHECK(t > 0 && c > 0 && n >= 0,
               "MobileNetV2: inverted_residual_setting rows need t > 0, c > 0, n >= 0, got {", t,
               ", ", c, ", ", n, ", ", s, "}");
  }
  if (!o.norm_layer) o.norm_layer = batch_norm2d();
  return o;
}

nn::Sequential mobilenet_v2_features(const MobileNetV2Options& o, int64_t last_channel) {
  const auto relu6 = layer<nn::ReLU6>(true);
  int64_t input_channel = make_divisible(32 * o.width_mult, o.round_nearest);
  nn::Sequential features;
  features.push_back(Conv2dNormActivation(
      3, input_channel, {.stride = 2, .norm_layer = o.norm_layer, .activation_layer = relu6}));
  for (const auto& [t, c, n, s] : *o.inverted_residual_setting) {
    const int64_t output_channel =
        make_divisible(static_cast<double>(c) * o.width_mult, o.round_nearest);
    for (int64_t i = 0; i < n; ++i) {
      features.push_back(mobilenetv2::InvertedResidual(input_channel, output_channel,
                                                       i == 0 ? s : 1, t, o.norm_layer));
      input_channel = output_channel;
    }
  }
  features.push_back(Conv2dNormActivation(
      input_channel, last_channel,
      {.kernel_size = 1, .norm_layer = o.norm_layer, .activation_layer = relu6}));
  return features;
}

nn::Sequential mobilenet_v2_classifier(int64_t last_channel, const MobileNetV2Options& o) {
  nn::Sequential classifier;
  classifier.push_back(nn::Dropout(o.dropout));
  classifier.push_back(nn::Linear(last_channel, o.num_classes));
  return classifier;
}

}  // namespace

MobileNetV2::MobileNetV2(MobileNetV2Options options_)
    : MobileNetV2(checked(std::move(options_)), 0) {}

MobileNetV2::MobileNetV2(MobileNetV2Options o, int)
    : last_channel(make_divisible(1280 * std::max(1.0, o.width_mult), o.round_nearest)),
      features(register_module("features", mobilenet_v2_features(o, last_channel))),
      classifier(register_module("classifier", mobilenet_v2_classifier(last_channel, o))) {
  detail::init_mobile_weights(*this, detail::LinearInit::Normal);
}

Tensor MobileNetV2::forward(const Tensor& input) {
  Tensor x = features(input);
  x = nn::functional::adaptive_avg_pool2d(x, {1, 1});
  return classifier(x.flatten(1));
}

MobileNetV2 mobilenet_v2(MobileNetV2Options options) {
  return MobileNetV2(std::move(options));
}

}  // namespace wick::models
