// RegNet: torchvision's classification models (torchvision.models.regnet),
// with the same arguments, module names and registration order, so that
// state_dict() keys, their order and shapes equal torchvision's
// (`trunk_output.block1.block1-0.f.se.fc1.weight`) and its checkpoints load
// strictly:
//
//   wick::models::RegNet net = wick::models::regnet_y_400mf();
//   net.load_state_dict(wick::load("regnet_y_400mf-c65dace8.pth"));
//
// The network's shape comes from a handful of numbers (RegNetBlockParams::
// from_init_params), computed with torchvision's arithmetic: float32 tensors
// for the per-block widths, Python's rounding and integer division for the
// adjustment, so that every configuration gives torchvision's widths. Every
// spatial size works (down to 1x1). Weights start as torchvision draws them:
// convolutions N(0, sqrt(2 / fan_out)) with fan_out = kH * kW * out_channels
// (their biases, in the squeeze-excitation, as nn::Conv2d draws them),
// BatchNorm 1 and 0, fc N(0, 0.01) with bias 0.
//
// RegNet's own blocks live in wick::models::regnet and carry torchvision's
// class names; it shares Conv2dNormActivation and SqueezeExcitation with the
// other models (wick/models/blocks.h, as torchvision.ops).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/models/blocks.h"
#include "wick/nn/activation.h"
#include "wick/nn/container.h"
#include "wick/nn/conv.h"
#include "wick/nn/linear.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"
#include "wick/nn/pooling.h"

namespace wick::models {

/// torchvision's BlockParams: the per-stage settings of a RegNet.
struct RegNetBlockParams {
  std::vector<int64_t> depths;
  std::vector<int64_t> widths;
  std::vector<int64_t> group_widths;
  std::vector<double> bottleneck_multipliers;
  std::vector<int64_t> strides;
  /// Squeeze-excitation width as a fraction of each block's input width
  /// (RegNetY); unset or 0: no squeeze-excitation (RegNetX).
  std::optional<double> se_ratio;

  /// torchvision's BlockParams.from_init_params: `depth` blocks whose widths
  /// grow linearly from `w_0` by `w_a` per block, quantized in log space with
  /// step `w_m` (so that blocks of one width form a stage) and to multiples of
  /// 8, then adjusted so that the group width divides each stage's bottleneck
  /// width. Throws wick::Error as torchvision raises ValueError (w_a < 0,
  /// w_0 <= 0, w_m <= 1, w_0 not a multiple of 8), and also for depth < 1,
  /// group_width < 1, a non-positive bottleneck_multiplier, non-finite values,
  /// a bottleneck narrower than one channel (where torchvision divides by
  /// zero) or widths beyond 2^31 - 1 (where its int() would overflow).
  static RegNetBlockParams from_init_params(int64_t depth, int64_t w_0, double w_a, double w_m,
                                            int64_t group_width, double bottleneck_multiplier = 1.0,
                                            std::optional<double> se_ratio = std::nullopt);
};

namespace regnet {

/// torchvision's SimpleStemIN: a Conv2dNormActivation of a 3x3 stride-2
/// convolution, BatchNorm and ReLU.
class SimpleStemIN : public Conv2dNormActivation {
 public:
  SimpleStemIN(int64_t width_in, int64_t width_out, const nn::BatchNormOptions& norm);
};

/// torchvision's BottleneckTransform (a Sequential): a (1x1), b (3x3 grouped,
/// with the stride), se (when se_ratio is set and not 0), c (1x1, no
/// activation). The bottleneck has round(width_out * bottleneck_multiplier)
/// channels in groups of group_width.
class BottleneckTransform : public nn::Sequential {
 public:
  BottleneckTransform(int64_t width_in, int64_t width_out, int64_t stride,
                      const nn::BatchNormOptions& norm, int64_t group_width,
                      double bottleneck_multiplier, std::optional<double> se_ratio);
};

/// torchvision's ResBottleneckBlock: relu(x + f(x)), or relu(proj(x) + f(x))
/// when the width or resolution changes. Child names: proj (when present),
/// f, activation.
class ResBottleneckBlock : public nn::Module {
 public:
  ResBottleneckBlock(int64_t width_in, int64_t width_out, int64_t stride,
                     const nn::BatchNormOptions& norm, int64_t group_width = 1,
                     double bottleneck_multiplier = 1.0,
                     std::optional<double> se_ratio = std::nullopt);
  Tensor forward(const Tensor& input) override;

  /// The shortcut's 1x1 convolution with BatchNorm, or null for identity.
  Conv2dNormActivation* proj = nullptr;
  BottleneckTransform& f;
  nn::ReLU& activation;
};

/// torchvision's AnyStage (a Sequential): `depth` ResBottleneckBlocks named
/// "block<stage_index>-0", "block<stage_index>-1", ...; the first has the
/// stride and widens width_in to width_out.
class AnyStage : public nn::Sequential {
 public:
  AnyStage(int64_t width_in, int64_t width_out, int64_t stride, int64_t depth,
           const nn::BatchNormOptions& norm, int64_t group_width, double bottleneck_multiplier,
           std::optional<double> se_ratio, int64_t stage_index);
};

}  // namespace regnet

/// torchvision's RegNet arguments after block_params (its stem, block and
/// activation are always SimpleStemIN, ResBottleneckBlock and ReLU).
struct RegNetOptions {
  int64_t num_classes = 1000;
  int64_t stem_width = 32;
  /// Every BatchNorm2d's options: the builders' norm_layer is BatchNorm2d with
  /// eps 1e-5 and momentum 0.1.
  nn::BatchNormOptions norm = {.eps = 1e-5, .momentum = 0.1};
};

/// torchvision.models.RegNet. Children: stem (SimpleStemIN), trunk_output (a
/// Sequential of AnyStages named block1, block2, ...), avgpool, fc.
class RegNet : public nn::Module {
 public:
  explicit RegNet(const RegNetBlockParams& block_params, RegNetOptions options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

 private:
  // The width while the trunk is built, declared before the children so that
  // it is initialised first.
  int64_t current_width_;
  nn::Sequential make_trunk(const RegNetBlockParams& block_params, const RegNetOptions& options);

 public:
  regnet::SimpleStemIN& stem;
  nn::Sequential& trunk_output;
  nn::AdaptiveAvgPool2d& avgpool;
  nn::Linear& fc;
};

/// RegNetY-400MF: from_init_params(depth 16, w_0 48, w_a 27.89, w_m 2.09,
/// group_width 8, se_ratio 0.25).
RegNet regnet_y_400mf(RegNetOptions options = {});

}  // namespace wick::models
