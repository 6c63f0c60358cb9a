#include "wick/models/shufflenetv2.h"

#include <utility>

#include "wick/core/error.h"
#include "wick/nn/activation.h"
#include "wick/nn/conv.h"
#include "wick/nn/normalization.h"
#include "wick/ops/join.h"
#include "wick/ops/reduce.h"

namespace wick::models {

namespace shufflenetv2 {

Tensor channel_shuffle(const Tensor& x, int64_t groups) {
  WICK_CHECK(x.defined() && x.dim() == 4, "channel_shuffle: expected a 4-D input, got ",
             x.defined() ? x.dim() : 0, "-D");
  const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  WICK_CHECK(groups > 0 && channels % groups == 0, "channel_shuffle: ", groups,
             " groups do not divide ", channels, " channels");
  Tensor y = x.view({batch, groups, channels / groups, height, width});
  y = y.transpose(1, 2).contiguous();
  return y.view({batch, -1, height, width});
}

namespace {

nn::Conv2d depthwise_conv(int64_t channels, int64_t stride) {
  return nn::Conv2d(channels, channels, 3,
                    {.stride = stride, .padding = 1, .groups = channels, .bias = false});
}

nn::Conv2d pointwise_conv(int64_t in, int64_t out) {
  return nn::Conv2d(in, out, 1, {.bias = false});
}

/// `stride` after torchvision's checks.
int64_t checked_stride(int64_t inp, int64_t oup, int64_t stride) {
  WICK_CHECK(stride >= 1 && stride <= 3, "illegal stride value");
  WICK_CHECK(stride != 1 || inp == (oup / 2) * 2, "Invalid combination of stride ", stride,
             ", inp ", inp, " and oup ", oup,
             " values. If stride == 1 then inp should be equal to oup // 2 << 1.");
  return stride;
}

nn::Sequential branch1_of(int64_t inp, int64_t branch_features, int64_t stride) {
  nn::Sequential b;
  if (stride == 1) return b;
  b.push_back(depthwise_conv(inp, stride));
  b.push_back(nn::BatchNorm2d(inp));
  b.push_back(pointwise_conv(inp, branch_features));
  b.push_back(nn::BatchNorm2d(branch_features));
  b.push_back(nn::ReLU(/*inplace=*/true));
  return b;
}

nn::Sequential branch2_of(int64_t inp, int64_t branch_features, int64_t stride) {
  nn::Sequential b;
  b.push_back(pointwise_conv(stride > 1 ? inp : branch_features, branch_features));
  b.push_back(nn::BatchNorm2d(branch_features));
  b.push_back(nn::ReLU(/*inplace=*/true));
  b.push_back(depthwise_conv(branch_features, stride));
  b.push_back(nn::BatchNorm2d(branch_features));
  b.push_back(pointwise_conv(branch_features, branch_features));
  b.push_back(nn::BatchNorm2d(branch_features));
  b.push_back(nn::ReLU(/*inplace=*/true));
  return b;
}

}  // namespace

InvertedResidual::InvertedResidual(int64_t inp, int64_t oup, int64_t stride_)
    : stride(checked_stride(inp, oup, stride_)),
      branch1(register_module("branch1", branch1_of(inp, oup / 2, stride))),
      branch2(register_module("branch2", branch2_of(inp, oup / 2, stride))) {}

Tensor InvertedResidual::forward(const Tensor& input) {
  Tensor out;
  if (stride == 1) {
    std::vector<Tensor> halves = chunk(input, 2, 1);
    WICK_CHECK(halves.size() == 2, "InvertedResidual: cannot halve ", input.size(1), " channels");
    out = cat({halves[0], branch2(halves[1])}, 1);
  } else {
    out = cat({branch1(input), branch2(input)}, 1);
  }
  return channel_shuffle(out, 2);
}

}  // namespace shufflenetv2

namespace {

nn::Sequential conv_bn_relu(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                            int64_t padding) {
  nn::Sequential s;
  s.push_back(nn::Conv2d(in, out, kernel, {.stride = stride, .padding = padding, .bias = false}));
  s.push_back(nn::BatchNorm2d(out));
  s.push_back(nn::ReLU(/*inplace=*/true));
  return s;
}

const std::vector<int64_t>& checked_repeats(const std::vector<int64_t>& repeats) {
  WICK_CHECK(repeats.size() == 3, "expected stages_repeats as list of 3 positive ints, got ",
             repeats.size());
  for (int64_t r : repeats)
    WICK_CHECK(r >= 1, "expected stages_repeats as list of 3 positive ints, got ", r);
  return repeats;
}

const std::vector<int64_t>& checked_channels(const std::vector<int64_t>& channels) {
  WICK_CHECK(channels.size() == 5, "expected stages_out_channels as list of 5 positive ints, got ",
             channels.size());
  for (int64_t c : channels)
    WICK_CHECK(c >= 1, "expected stages_out_channels as list of 5 positive ints, got ", c);
  return channels;
}

}  // namespace

nn::Sequential ShuffleNetV2::make_stage(int64_t repeats, int64_t output_channels) {
  nn::Sequential seq;
  seq.push_back(shufflenetv2::InvertedResidual(input_channels_, output_channels, 2));
  for (int64_t i = 0; i < repeats - 1; ++i)
    seq.push_back(shufflenetv2::InvertedResidual(output_channels, output_channels, 1));
  input_channels_ = output_channels;
  return seq;
}

ShuffleNetV2::ShuffleNetV2(const std::vector<int64_t>& stages_repeats,
                           const std::vector<int64_t>& stages_out_channels,
                           ShuffleNetV2Options options)
    : input_channels_(checked_channels(stages_out_channels)[0]),
      conv1(register_module("conv1", conv_bn_relu(3, stages_out_channels[0], 3, 2, 1))),
      maxpool(register_module("maxpool", nn::MaxPool2d(3, {.stride = 2, .padding = 1}))),
      stage2(register_module(
          "stage2", make_stage(checked_repeats(stages_repeats)[0], stages_out_channels[1]))),
      stage3(register_module("stage3", make_stage(stages_repeats[1], stages_out_channels[2]))),
      stage4(register_module("stage4", make_stage(stages_repeats[2], stages_out_channels[3]))),
      conv5(
          register_module("conv5", conv_bn_relu(input_channels_, stages_out_channels[4], 1, 1, 0))),
      fc(register_module("fc", nn::Linear(stages_out_channels[4], options.num_classes))) {}

Tensor ShuffleNetV2::forward(const Tensor& input) {
  Tensor x = maxpool(conv1(input));
  x = conv5(stage4(stage3(stage2(x))));
  return fc(x.mean({2, 3}));
}

ShuffleNetV2 shufflenet_v2_x1_0(ShuffleNetV2Options options) {
  return ShuffleNetV2({4, 8, 4}, {24, 116, 232, 464, 1024}, options);
}

}  // namespace wick::models
