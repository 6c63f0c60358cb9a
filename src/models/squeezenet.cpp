#include "wick/models/squeezenet.h"

#include <string>
#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/nn/dropout.h"
#include "wick/nn/init.h"
#include "wick/nn/pooling.h"
#include "wick/ops/join.h"

namespace wick::models {

Fire::Fire(int64_t inplanes_, int64_t squeeze_planes, int64_t expand1x1_planes,
           int64_t expand3x3_planes)
    : inplanes(inplanes_),
      squeeze(register_module("squeeze", nn::Conv2d(inplanes_, squeeze_planes, 1))),
      squeeze_activation(register_module("squeeze_activation", nn::ReLU(/*inplace=*/true))),
      expand1x1(register_module("expand1x1", nn::Conv2d(squeeze_planes, expand1x1_planes, 1))),
      expand1x1_activation(register_module("expand1x1_activation", nn::ReLU(/*inplace=*/true))),
      expand3x3(register_module("expand3x3",
                                nn::Conv2d(squeeze_planes, expand3x3_planes, 3, {.padding = 1}))),
      expand3x3_activation(register_module("expand3x3_activation", nn::ReLU(/*inplace=*/true))) {}

Tensor Fire::forward(const Tensor& input) {
  Tensor x = squeeze_activation(squeeze(input));
  return cat({expand1x1_activation(expand1x1(x)), expand3x3_activation(expand3x3(x))}, 1);
}

namespace {

nn::MaxPool2d ceil_pool() {
  return nn::MaxPool2d(3, {.stride = 2, .ceil_mode = true});
}

nn::Sequential squeezenet_features(std::string_view version) {
  nn::Sequential f;
  if (version == "1_0") {
    f.push_back(nn::Conv2d(3, 96, 7, {.stride = 2}));
    f.push_back(nn::ReLU(/*inplace=*/true));
    f.push_back(ceil_pool());
    f.push_back(Fire(96, 16, 64, 64));
    f.push_back(Fire(128, 16, 64, 64));
    f.push_back(Fire(128, 32, 128, 128));
    f.push_back(ceil_pool());
    f.push_back(Fire(256, 32, 128, 128));
    f.push_back(Fire(256, 48, 192, 192));
    f.push_back(Fire(384, 48, 192, 192));
    f.push_back(Fire(384, 64, 256, 256));
    f.push_back(ceil_pool());
    f.push_back(Fire(512, 64, 256, 256));
  } else if (version == "1_1") {
    f.push_back(nn::Conv2d(3, 64, 3, {.stride = 2}));
    f.push_back(nn::ReLU(/*inplace=*/true));
    f.push_back(ceil_pool());
    f.push_back(Fire(64, 16, 64, 64));
    f.push_back(Fire(128, 16, 64, 64));
    f.push_back(ceil_pool());
    f.push_back(Fire(128, 32, 128, 128));
    f.push_back(Fire(256, 32, 128, 128));
    f.push_back(ceil_pool());
    f.push_back(Fire(256, 48, 192, 192));
    f.push_back(Fire(384, 48, 192, 192));
    f.push_back(Fire(384, 64, 256, 256));
    f.push_back(Fire(512, 64, 256, 256));
  } else {
    throw Error("Unsupported SqueezeNet version " + std::string(version) + ": 1_0 or 1_1 expected");
  }
  return f;
}

nn::Sequential squeezenet_classifier(int64_t num_classes, double dropout) {
  nn::Sequential c;
  c.push_back(nn::Dropout(dropout));
  c.push_back(nn::Conv2d(512, num_classes, 1));
  c.push_back(nn::ReLU(/*inplace=*/true));
  c.push_back(nn::AdaptiveAvgPool2d({1, 1}));
  return c;
}

}  // namespace

SqueezeNet::SqueezeNet(std::string_view version, SqueezeNetOptions options)
    : num_classes(options.num_classes),
      features(register_module("features", squeezenet_features(version))),
      classifier(register_module("classifier",
                                 squeezenet_classifier(options.num_classes, options.dropout))) {
  NoGradGuard no_grad;
  const nn::Conv2d* final_conv = &classifier.at<nn::Conv2d>(1);
  for (nn::Module* m : modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      if (conv == final_conv)
        nn::init::normal_(conv->weight, 0.0, 0.01);
      else
        nn::init::kaiming_uniform_(conv->weight);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    }
  }
}

Tensor SqueezeNet::forward(const Tensor& input) {
  return classifier(features(input)).flatten(1);
}

SqueezeNet squeezenet1_0(SqueezeNetOptions options) {
  return SqueezeNet("1_0", options);
}
SqueezeNet squeezenet1_1(SqueezeNetOptions options) {
  return SqueezeNet("1_1", options);
}

}  // namespace wick::models
