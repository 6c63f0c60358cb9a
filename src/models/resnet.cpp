#include "wick/models/resnet.h"

#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/nn/init.h"
#include "wick/ops/elementwise.h"

namespace wick::models {

namespace {

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1, int64_t groups = 1,
                   int64_t dilation = 1) {
  return nn::Conv2d(in, out, 3,
                    {.stride = stride,
                     .padding = dilation,
                     .dilation = dilation,
                     .groups = groups,
                     .bias = false});
}

nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(in, out, 1, {.stride = stride, .bias = false});
}

/// Registers `downsample` as "downsample" when given; returns it or null.
nn::Sequential* register_downsample(nn::Module& block, std::optional<nn::Sequential>& downsample) {
  if (!downsample) return nullptr;
  return &block.register_module("downsample", std::move(*downsample));
}

/// `planes`, after the checks torchvision's BasicBlock makes.
int64_t basic_planes(int64_t planes, int64_t groups, int64_t base_width, int64_t dilation) {
  WICK_CHECK(groups == 1 && base_width == 64,
             "BasicBlock only supports groups=1 and base_width=64");
  WICK_CHECK(dilation <= 1, "Dilation > 1 not supported in BasicBlock");
  return planes;
}

}  // namespace

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride_,
                       std::optional<nn::Sequential> downsample_, int64_t groups,
                       int64_t base_width, int64_t dilation)
    : conv1(register_module(
          "conv1", conv3x3(inplanes, basic_planes(planes, groups, base_width, dilation), stride_))),
      bn1(register_module("bn1", nn::BatchNorm2d(planes))),
      relu(register_module("relu", nn::ReLU(/*inplace=*/true))),
      conv2(register_module("conv2", conv3x3(planes, planes))),
      bn2(register_module("bn2", nn::BatchNorm2d(planes))),
      downsample(register_downsample(*this, downsample_)),
      stride(stride_) {}

Tensor BasicBlock::forward(const Tensor& input) {
  Tensor out = relu(bn1(conv1(input)));
  out = bn2(conv2(out));
  Tensor identity = downsample ? (*downsample)(input) : input;
  return relu(out + identity);
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride_,
                       std::optional<nn::Sequential> downsample_, int64_t groups,
                       int64_t base_width, int64_t dilation)
    : conv1(register_module("conv1", conv1x1(inplanes, planes * base_width / 64 * groups))),
      bn1(register_module("bn1", nn::BatchNorm2d(conv1.out_channels))),
      conv2(register_module(
          "conv2", conv3x3(conv1.out_channels, conv1.out_channels, stride_, groups, dilation))),
      bn2(register_module("bn2", nn::BatchNorm2d(conv1.out_channels))),
      conv3(register_module("conv3", conv1x1(conv1.out_channels, planes * expansion))),
      bn3(register_module("bn3", nn::BatchNorm2d(planes * expansion))),
      relu(register_module("relu", nn::ReLU(/*inplace=*/true))),
      downsample(register_downsample(*this, downsample_)),
      stride(stride_) {}

Tensor Bottleneck::forward(const Tensor& input) {
  Tensor out = relu(bn1(conv1(input)));
  out = relu(bn2(conv2(out)));
  out = bn3(conv3(out));
  Tensor identity = downsample ? (*downsample)(input) : input;
  return relu(out + identity);
}

nn::Sequential ResNet::make_layer(int64_t planes, int64_t blocks, int64_t stride, bool dilate) {
  WICK_CHECK(blocks > 0, "ResNet: every stage needs at least one block, got ", blocks);
  const int64_t expansion =
      block_ == ResNetBlock::Basic ? BasicBlock::expansion : Bottleneck::expansion;
  const int64_t previous_dilation = dilation_;
  if (dilate) {
    dilation_ *= stride;
    stride = 1;
  }
  std::optional<nn::Sequential> downsample;
  if (stride != 1 || inplanes_ != planes * expansion) {
    downsample.emplace();
    downsample->push_back(conv1x1(inplanes_, planes * expansion, stride));
    downsample->push_back(nn::BatchNorm2d(planes * expansion));
  }
  nn::Sequential layer;
  auto add = [&](int64_t s, std::optional<nn::Sequential> ds, int64_t dilation) {
    if (block_ == ResNetBlock::Basic)
      layer.push_back(
          BasicBlock(inplanes_, planes, s, std::move(ds), groups_, base_width_, dilation));
    else
      layer.push_back(
          Bottleneck(inplanes_, planes, s, std::move(ds), groups_, base_width_, dilation));
  };
  add(stride, std::move(downsample), previous_dilation);
  inplanes_ = planes * expansion;
  for (int64_t i = 1; i < blocks; ++i) add(1, std::nullopt, dilation_);
  return layer;
}

ResNet::ResNet(ResNetBlock block, std::array<int64_t, 4> layers, ResNetOptions options)
    : block_(block),
      groups_(options.groups),
      base_width_(options.width_per_group),
      conv1(register_module("conv1",
                            nn::Conv2d(3, 64, 7, {.stride = 2, .padding = 3, .bias = false}))),
      bn1(register_module("bn1", nn::BatchNorm2d(64))),
      relu(register_module("relu", nn::ReLU(/*inplace=*/true))),
      maxpool(register_module("maxpool", nn::MaxPool2d(3, {.stride = 2, .padding = 1}))),
      layer1(register_module("layer1", make_layer(64, layers[0], 1, false))),
      layer2(register_module(
          "layer2", make_layer(128, layers[1], 2, options.replace_stride_with_dilation[0]))),
      layer3(register_module(
          "layer3", make_layer(256, layers[2], 2, options.replace_stride_with_dilation[1]))),
      layer4(register_module(
          "layer4", make_layer(512, layers[3], 2, options.replace_stride_with_dilation[2]))),
      avgpool(register_module("avgpool", nn::AdaptiveAvgPool2d({1, 1}))),
      fc(register_module("fc", nn::Linear(inplanes_, options.num_classes))) {
  NoGradGuard no_grad;
  for (nn::Module* m : modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      nn::init::kaiming_normal_(conv->weight, 0, "fan_out", "relu");
    }
  }
  if (options.zero_init_residual) {
    for (nn::Module* m : modules()) {
      if (auto* b = dynamic_cast<Bottleneck*>(m)) nn::init::zeros_(b->bn3.weight);
      if (auto* b = dynamic_cast<BasicBlock*>(m)) nn::init::zeros_(b->bn2.weight);
    }
  }
}

Tensor ResNet::forward(const Tensor& input) {
  Tensor x = maxpool(relu(bn1(conv1(input))));
  x = layer4(layer3(layer2(layer1(x))));
  return fc(avgpool(x).flatten(1));
}

ResNet resnet18(ResNetOptions options) {
  return ResNet(ResNetBlock::Basic, {2, 2, 2, 2}, options);
}
ResNet resnet34(ResNetOptions options) {
  return ResNet(ResNetBlock::Basic, {3, 4, 6, 3}, options);
}
ResNet resnet50(ResNetOptions options) {
  return ResNet(ResNetBlock::Bottleneck, {3, 4, 6, 3}, options);
}
ResNet resnet101(ResNetOptions options) {
  return ResNet(ResNetBlock::Bottleneck, {3, 4, 23, 3}, options);
}
ResNet resnet152(ResNetOptions options) {
  return ResNet(ResNetBlock::Bottleneck, {3, 8, 36, 3}, options);
}
ResNet resnext50_32x4d(ResNetOptions options) {
  options.groups = 32;
  options.width_per_group = 4;
  return resnet50(options);
}
ResNet wide_resnet50_2(ResNetOptions options) {
  options.width_per_group = 64 * 2;
  return resnet50(options);
}

}  // namespace wick::models
