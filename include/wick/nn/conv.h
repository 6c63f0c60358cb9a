// Convolution layers: nn::Conv2d, as torch.nn.Conv2d.
//
//   nn::Conv2d conv1(3, 6, 5);                             // 5x5 kernel
//   nn::Conv2d same(1, 6, 5, {.padding = 2});
//   nn::Conv2d c(3, 8, {3, 5}, {.stride = {2, 1}, .bias = false});
//   Tensor y = conv1(x);        // x [N, 3, H, W] -> y [N, 6, H - 4, W - 4]
//   std::cout << conv1;         // Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))
//
// Parameters are initialised as PyTorch's reset_parameters does, drawing from
// wick's global generator (wick::manual_seed).
#pragma once

#include <cstdint>
#include <string>

#include "wick/core/tensor.h"
#include "wick/nn/functional.h"
#include "wick/nn/module.h"

namespace wick::nn {

/// Optional arguments of nn::Conv2d; sizes are (height, width) pairs and a
/// single number means the same for both.
struct Conv2dOptions {
  functional::Pair stride = 1;
  /// Zeros added on both sides of each spatial dim.
  functional::Pair padding = 0;
  /// Spacing between kernel elements.
  functional::Pair dilation = 1;
  /// Channels are split into this many groups convolved separately; it must
  /// divide in_channels and out_channels.
  int64_t groups = 1;
  /// Whether to learn an additive bias.
  bool bias = true;
  /// Only "zeros" is supported; PyTorch's "reflect", "replicate" and
  /// "circular" are refused with wick::Error.
  std::string padding_mode = "zeros";
};

/// 2-D convolution (cross-correlation, as in PyTorch) over [N, C, H, W] or
/// unbatched [C, H, W] input. weight [out_channels, in_channels / groups, kH,
/// kW] starts as kaiming_uniform_(a = sqrt(5)), that is U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in)) with fan_in = in_channels / groups * kH * kW, and bias
/// [out_channels] as U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
class Conv2d : public Module {
 public:
  /// Throws wick::Error for non-positive sizes, groups that do not divide
  /// the channels, or an unsupported padding_mode.
  Conv2d(int64_t in_channels, int64_t out_channels, functional::Pair kernel_size,
         Conv2dOptions options = {});

  Tensor forward(const Tensor& input) override;
  /// `3, 6, kernel_size=(5, 5), stride=(1, 1)` followed, when they differ
  /// from the defaults, by padding, dilation, groups, bias=False, padding_mode.
  std::string extra_repr() const override;
  /// Draws weight and bias afresh as the constructor does.
  void reset_parameters();

  int64_t in_channels;
  int64_t out_channels;
  functional::Pair kernel_size;
  functional::Pair stride;
  functional::Pair padding;
  functional::Pair dilation;
  int64_t groups;
  std::string padding_mode;
  Tensor weight;
  /// Undefined when constructed with bias = false.
  Tensor bias;
};

}  // namespace wick::nn
