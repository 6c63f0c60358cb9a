#include "wick/models/vgg.h"

#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/nn/activation.h"
#include "wick/nn/conv.h"
#include "wick/nn/dropout.h"
#include "wick/nn/init.h"
#include "wick/nn/linear.h"
#include "wick/nn/normalization.h"

namespace wick::models {

namespace {

nn::Sequential vgg_classifier(int64_t num_classes, double dropout) {
  nn::Sequential c;
  c.push_back(nn::Linear(512 * 7 * 7, 4096));
  c.push_back(nn::ReLU(/*inplace=*/true));
  c.push_back(nn::Dropout(dropout));
  c.push_back(nn::Linear(4096, 4096));
  c.push_back(nn::ReLU(/*inplace=*/true));
  c.push_back(nn::Dropout(dropout));
  c.push_back(nn::Linear(4096, num_classes));
  return c;
}

const std::vector<VGGLayer> kConfigA = {64,  'M', 128, 'M', 256, 256, 'M',
                                        512, 512, 'M', 512, 512, 'M'};
const std::vector<VGGLayer> kConfigD = {64,  64,  'M', 128, 128, 'M', 256, 256, 256,
                                        'M', 512, 512, 512, 'M', 512, 512, 512, 'M'};

}  // namespace

nn::Sequential make_vgg_layers(const std::vector<VGGLayer>& cfg, bool batch_norm) {
  nn::Sequential layers;
  int64_t in_channels = 3;
  for (const VGGLayer& v : cfg) {
    if (const char* c = std::get_if<char>(&v)) {
      WICK_CHECK(*c == 'M', "make_vgg_layers: unknown entry '", *c, "' (only 'M')");
      layers.push_back(nn::MaxPool2d(2, 2));
      continue;
    }
    const int64_t channels = std::get<int64_t>(v);
    layers.push_back(nn::Conv2d(in_channels, channels, 3, {.padding = 1}));
    if (batch_norm) layers.push_back(nn::BatchNorm2d(channels));
    layers.push_back(nn::ReLU(/*inplace=*/true));
    in_channels = channels;
  }
  return layers;
}

VGG::VGG(nn::Sequential features_, VGGOptions options)
    : features(register_module("features", std::move(features_))),
      avgpool(register_module("avgpool", nn::AdaptiveAvgPool2d({7, 7}))),
      classifier(
          register_module("classifier", vgg_classifier(options.num_classes, options.dropout))) {
  if (!options.init_weights) return;
  NoGradGuard no_grad;
  for (nn::Module* m : modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      nn::init::kaiming_normal_(conv->weight, 0, "fan_out", "relu");
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = dynamic_cast<nn::Linear*>(m)) {
      nn::init::normal_(linear->weight, 0, 0.01);
      nn::init::zeros_(linear->bias);
    }
  }
}

Tensor VGG::forward(const Tensor& input) {
  return classifier(avgpool(features(input)).flatten(1));
}

VGG vgg11(VGGOptions options) {
  return VGG(make_vgg_layers(kConfigA, false), options);
}
VGG vgg11_bn(VGGOptions options) {
  return VGG(make_vgg_layers(kConfigA, true), options);
}
VGG vgg16(VGGOptions options) {
  return VGG(make_vgg_layers(kConfigD, false), options);
}
VGG vgg16_bn(VGGOptions options) {
  return VGG(make_vgg_layers(kConfigD, true), options);
}

namespace {

nn::Sequential alexnet_features() {
  nn::Sequential f;
  f.push_back(nn::Conv2d(3, 64, 11, {.stride = 4, .padding = 2}));
  f.push_back(nn::ReLU(/*inplace=*/true));
  f.push_back(nn::MaxPool2d(3, 2));
  f.push_back(nn::Conv2d(64, 192, 5, {.padding = 2}));
  f.push_back(nn::ReLU(/*inplace=*/true));
  f.push_back(nn::MaxPool2d(3, 2));
  f.push_back(nn::Conv2d(192, 384, 3, {.padding = 1}));
  f.push_back(nn::ReLU(/*inplace=*/true));
  f.push_back(nn::Conv2d(384, 256, 3, {.padding = 1}));
  f.push_back(nn::ReLU(/*inplace=*/true));
  f.push_back(nn::Conv2d(256, 256, 3, {.padding = 1}));
  f.push_back(nn::ReLU(/*inplace=*/true));
  f.push_back(nn::MaxPool2d(3, 2));
  return f;
}

nn::Sequential alexnet_classifier(int64_t num_classes, double dropout) {
  nn::Sequential c;
  c.push_back(nn::Dropout(dropout));
  c.push_back(nn::Linear(256 * 6 * 6, 4096));
  c.push_back(nn::ReLU(/*inplace=*/true));
  c.push_back(nn::Dropout(dropout));
  c.push_back(nn::Linear(4096, 4096));
  c.push_back(nn::ReLU(/*inplace=*/true));
  c.push_back(nn::Linear(4096, num_classes));
  return c;
}

}  // namespace

AlexNet::AlexNet(AlexNetOptions options)
    : features(register_module("features", alexnet_features())),
      avgpool(register_module("avgpool", nn::AdaptiveAvgPool2d({6, 6}))),
      classifier(register_module("classifier",
                                 alexnet_classifier(options.num_classes, options.dropout))) {}

Tensor AlexNet::forward(const Tensor& input) {
  return classifier(avgpool(features(input)).flatten(1));
}

AlexNet alexnet(AlexNetOptions options) {
  return AlexNet(options);
}

}  // namespace wick::models
