#include "wick/models/regnet.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/nn/init.h"
#include "wick/ops/elementwise.h"

namespace wick::models {

namespace {

// torchvision computes the block widths on float32 tensors. Each step below
// is one float32 operation, done in double and rounded to float: double has
// more than twice float's precision plus two bits, so the result is the
// correctly rounded float32 result (no double-rounding error), and no compiler
// can fuse two steps into an FMA across the explicit roundings.
float f32(double x) {
  return static_cast<float>(x);
}

/// Python's round() of a double: to nearest, ties to even.
double py_round(double x) {
  return std::nearbyint(x);
}

/// A channel count computed in floating point, truncated as Python's int()
/// does; wick::Error when it is not a count a layer can have (where the cast
/// would be undefined).
int64_t to_channels(double v, const char* what) {
  WICK_CHECK(v >= 0 && v < 2147483648.0, "RegNet: ", what, " of ", v, " channels is out of range");
  return static_cast<int64_t>(v);
}

/// torchvision.models._utils._make_divisible(v, divisor) for an int v.
int64_t make_divisible(int64_t v, int64_t divisor) {
  const int64_t min_value = divisor;
  // int(v + divisor / 2) // divisor * divisor
  const auto truncated = static_cast<int64_t>(static_cast<double>(v) + divisor / 2.0);
  int64_t new_v = std::max(min_value, truncated / divisor * divisor);
  // Make sure that rounding down does not go down by more than 10%.
  if (static_cast<double>(new_v) < 0.9 * static_cast<double>(v)) new_v += divisor;
  return new_v;
}

}  // namespace

RegNetBlockParams RegNetBlockParams::from_init_params(int64_t depth, int64_t w_0, double w_a,
                                                      double w_m, int64_t group_width,
                                                      double bottleneck_multiplier,
                                                      std::optional<double> se_ratio) {
  constexpr int64_t kQuant = 8;
  constexpr int64_t kStride = 2;
  WICK_CHECK(std::isfinite(w_a) && std::isfinite(w_m) && std::isfinite(bottleneck_multiplier) &&
                 (!se_ratio || std::isfinite(*se_ratio)),
             "Invalid RegNet settings: w_a = ", w_a, ", w_m = ", w_m,
             ", bottleneck_multiplier = ", bottleneck_multiplier, " must be finite");
  WICK_CHECK(!(w_a < 0 || w_0 <= 0 || w_m <= 1 || w_0 % 8 != 0),
             "Invalid RegNet settings: need w_a >= 0, w_0 > 0 and a multiple of 8, w_m > 1; got "
             "w_0 = ",
             w_0, ", w_a = ", w_a, ", w_m = ", w_m);
  WICK_CHECK(depth >= 1, "Invalid RegNet settings: depth must be positive, got ", depth);
  WICK_CHECK(group_width >= 1, "Invalid RegNet settings: group_width must be positive, got ",
             group_width);
  WICK_CHECK(bottleneck_multiplier > 0,
             "Invalid RegNet settings: bottleneck_multiplier must be positive, got ",
             bottleneck_multiplier);

  // widths_cont = torch.arange(depth) * w_a + w_0           (float32)
  // block_capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
  // block_widths = (torch.round(torch.divide(w_0 * torch.pow(w_m, block_capacity), QUANT))
  //                 * QUANT).int()
  // The Python scalars enter each float32 operation rounded to float32.
  const float w0 = f32(static_cast<double>(w_0));
  const float wa = f32(w_a);
  const float wm = f32(w_m);
  const float log_wm = f32(std::log(w_m));
  const float quant = f32(kQuant);
  std::vector<int64_t> block_widths;
  for (int64_t i = 0; i < depth; ++i) {
    const float cont = f32(f32(f32(static_cast<double>(i)) * double{wa}) + double{w0});
    const float log_ratio = f32(std::log(double{f32(double{cont} / double{w0})}));
    const float capacity = f32(py_round(double{f32(double{log_ratio} / double{log_wm})}));
    const float power = f32(std::pow(double{wm}, double{capacity}));
    const float scaled = f32(double{f32(double{w0} * double{power})} / double{quant});
    const float width = f32(py_round(double{scaled}) * double{quant});
    block_widths.push_back(to_channels(double{width}, "a block width"));  // .int()
  }

  // Stages: runs of equal block widths.
  RegNetBlockParams p;
  std::vector<int64_t> distinct = block_widths;
  std::sort(distinct.begin(), distinct.end());
  const auto num_stages =
      static_cast<size_t>(std::unique(distinct.begin(), distinct.end()) - distinct.begin());
  int64_t start = 0;
  for (int64_t i = 1; i <= depth; ++i) {
    if (i == depth || block_widths[i] != block_widths[i - 1]) {
      p.widths.push_back(block_widths[start]);
      p.depths.push_back(i - start);
      start = i;
    }
  }
  p.strides.assign(num_stages, kStride);
  p.bottleneck_multipliers.assign(num_stages, bottleneck_multiplier);
  p.group_widths.assign(num_stages, group_width);

  // _adjust_widths_groups_compatibilty (zip stops at the shorter list).
  const size_t n = std::min(p.widths.size(), num_stages);
  std::vector<int64_t> stage_widths, group_widths_min;
  for (size_t s = 0; s < n; ++s) {
    const double b = p.bottleneck_multipliers[s];
    const int64_t w_bot = to_channels(static_cast<double>(p.widths[s]) * b, "a bottleneck");
    const int64_t g = std::min(p.group_widths[s], w_bot);
    WICK_CHECK(g > 0, "Invalid RegNet settings: stage width ", p.widths[s],
               " times bottleneck_multiplier ", b, " leaves no bottleneck channel");
    const int64_t ws_bot = make_divisible(w_bot, g);
    stage_widths.push_back(to_channels(static_cast<double>(ws_bot) / b, "a stage width"));
    group_widths_min.push_back(g);
  }
  p.widths = std::move(stage_widths);
  p.group_widths = std::move(group_widths_min);
  p.se_ratio = se_ratio;
  return p;
}

namespace regnet {

namespace {

/// Conv2dNormActivation as RegNet builds it: padding (kernel - 1) / 2, no
/// bias, BatchNorm with `norm`, and ReLU(inplace=True) when `relu`.
Conv2dNormActivation conv_bn(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                             int64_t stride, int64_t groups, bool relu,
                             const nn::BatchNormOptions& norm) {
  return Conv2dNormActivation(in_channels, out_channels,
                              {.kernel_size = kernel_size,
                               .stride = stride,
                               .groups = groups,
                               .norm_layer = batch_norm2d(norm),
                               .activation_layer = relu ? layer<nn::ReLU>(true) : LayerFactory()});
}

}  // namespace

SimpleStemIN::SimpleStemIN(int64_t width_in, int64_t width_out, const nn::BatchNormOptions& norm)
    : Conv2dNormActivation(width_in, width_out,
                           {.kernel_size = 3, .stride = 2, .norm_layer = batch_norm2d(norm)}) {}

BottleneckTransform::BottleneckTransform(int64_t width_in, int64_t width_out, int64_t stride,
                                         const nn::BatchNormOptions& norm, int64_t group_width,
                                         double bottleneck_multiplier,
                                         std::optional<double> se_ratio) {
  const int64_t w_b =
      to_channels(py_round(static_cast<double>(width_out) * bottleneck_multiplier), "a bottleneck");
  WICK_CHECK(group_width > 0, "BottleneckTransform: group_width must be positive, got ",
             group_width);
  const int64_t g = w_b / group_width;
  push_back("a", conv_bn(width_in, w_b, 1, 1, 1, true, norm));
  push_back("b", conv_bn(w_b, w_b, 3, stride, g, true, norm));
  if (se_ratio && *se_ratio != 0) {
    // The SE reduction ratio is defined with respect to the beginning of the block.
    const int64_t width_se_out =
        to_channels(py_round(*se_ratio * static_cast<double>(width_in)), "a squeeze-excitation");
    push_back("se", SqueezeExcitation(w_b, width_se_out));
  }
  push_back("c", conv_bn(w_b, width_out, 1, 1, 1, false, norm));
}

namespace {

Conv2dNormActivation* register_proj(nn::Module& block, int64_t width_in, int64_t width_out,
                                    int64_t stride, const nn::BatchNormOptions& norm) {
  if (width_in == width_out && stride == 1) return nullptr;
  return &block.register_module("proj", conv_bn(width_in, width_out, 1, stride, 1, false, norm));
}

}  // namespace

ResBottleneckBlock::ResBottleneckBlock(int64_t width_in, int64_t width_out, int64_t stride,
                                       const nn::BatchNormOptions& norm, int64_t group_width,
                                       double bottleneck_multiplier, std::optional<double> se_ratio)
    : proj(register_proj(*this, width_in, width_out, stride, norm)),
      f(register_module("f", BottleneckTransform(width_in, width_out, stride, norm, group_width,
                                                 bottleneck_multiplier, se_ratio))),
      activation(register_module("activation", nn::ReLU(/*inplace=*/true))) {}

Tensor ResBottleneckBlock::forward(const Tensor& input) {
  Tensor shortcut = proj ? (*proj)(input) : input;
  return activation(shortcut + f(input));
}

AnyStage::AnyStage(int64_t width_in, int64_t width_out, int64_t stride, int64_t depth,
                   const nn::BatchNormOptions& norm, int64_t group_width,
                   double bottleneck_multiplier, std::optional<double> se_ratio,
                   int64_t stage_index) {
  for (int64_t i = 0; i < depth; ++i) {
    push_back("block" + std::to_string(stage_index) + "-" + std::to_string(i),
              ResBottleneckBlock(i == 0 ? width_in : width_out, width_out, i == 0 ? stride : 1,
                                 norm, group_width, bottleneck_multiplier, se_ratio));
  }
}

}  // namespace regnet

nn::Sequential RegNet::make_trunk(const RegNetBlockParams& bp, const RegNetOptions& options) {
  const size_t stages = bp.widths.size();
  WICK_CHECK(stages > 0 && bp.depths.size() == stages && bp.strides.size() == stages &&
                 bp.group_widths.size() == stages && bp.bottleneck_multipliers.size() == stages,
             "RegNet: block_params needs one entry per stage in each list, got ", bp.widths.size(),
             " widths, ", bp.depths.size(), " depths, ", bp.strides.size(), " strides, ",
             bp.group_widths.size(), " group widths and ", bp.bottleneck_multipliers.size(),
             " bottleneck multipliers");
  nn::Sequential trunk;
  for (size_t i = 0; i < stages; ++i) {
    WICK_CHECK(bp.depths[i] >= 1, "RegNet: stage ", i + 1, " has depth ", bp.depths[i]);
    const auto index = static_cast<int64_t>(i + 1);
    trunk.push_back(
        "block" + std::to_string(index),
        regnet::AnyStage(current_width_, bp.widths[i], bp.strides[i], bp.depths[i], options.norm,
                         bp.group_widths[i], bp.bottleneck_multipliers[i], bp.se_ratio, index));
    current_width_ = bp.widths[i];
  }
  return trunk;
}

RegNet::RegNet(const RegNetBlockParams& block_params, RegNetOptions options)
    : current_width_(options.stem_width),
      stem(register_module("stem", regnet::SimpleStemIN(3, options.stem_width, options.norm))),
      trunk_output(register_module("trunk_output", make_trunk(block_params, options))),
      avgpool(register_module("avgpool", nn::AdaptiveAvgPool2d({1, 1}))),
      fc(register_module("fc", nn::Linear(current_width_, options.num_classes))) {
  // ResNet-style initialisation, as torchvision's.
  NoGradGuard no_grad;
  for (nn::Module* m : modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      const int64_t fan_out = conv->kernel_size.h * conv->kernel_size.w * conv->out_channels;
      nn::init::normal_(conv->weight, 0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = dynamic_cast<nn::Linear*>(m)) {
      nn::init::normal_(linear->weight, 0.0, 0.01);
      nn::init::zeros_(linear->bias);
    }
  }
}

Tensor RegNet::forward(const Tensor& input) {
  Tensor x = trunk_output(stem(input));
  return fc(avgpool(x).flatten(1));
}

RegNet regnet_y_400mf(RegNetOptions options) {
  return RegNet(RegNetBlockParams::from_init_params(16, 48, 27.89, 2.09, 8, 1.0, 0.25), options);
}

}  // namespace wick::models
