// MobileNetV2, MobileNetV3, EfficientNet-B0 and their shared blocks
// (wick/models/blocks.h), for what the comparison with torchvision in
// tests/models cannot see: make_divisible's values, the channel counts that
// width_mult, round_nearest, reduced_tail and dilated give (parameter counts
// and shapes as torchvision 0.14 prints them), the reprs of the blocks,
// EfficientNet's stochastic-depth schedule at its default probability, the
// distributions the weights start from, argument checks, and models::create.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/core/random.h"
#include "wick/models/models.h"
#include "wick/nn/activation.h"
#include "wick/nn/dropout.h"
#include "wick/nn/linear.h"
#include "wick/ops/elementwise.h"

namespace {

namespace models = wick::models;
namespace nn = wick::nn;
using wick::Tensor;
using Sizes = std::vector<int64_t>;

std::string repr(const nn::Module& m) {
  std::ostringstream s;
  s << m;
  return s.str();
}

int64_t num_params(const nn::Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

Sizes shape(const nn::Module& m, const std::string& key) {
  return m.state_dict().at(key).sizes();
}

struct Stats {
  double mean, std, min, max;
};

Stats stats(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return {mean, std::sqrt(sq / double(v.size())), *lo, *hi};
}

bool all_equal(const Tensor& t, double value) {
  const std::vector<double> v = t.to_vector<double>();
  return std::all_of(v.begin(), v.end(), [&](double x) { return x == value; });
}

// ---- make_divisible ---------------------------------------------------------

TEST(ModelsMobile, MakeDivisibleMatchesTorchvision) {
  // Values from torchvision.models._utils._make_divisible.
  EXPECT_EQ(models::make_divisible(16.0, 8), 16);
  EXPECT_EQ(models::make_divisible(1792.0, 8), 1792);
  EXPECT_EQ(models::make_divisible(12, 8), 16);  // rounds half up
  EXPECT_EQ(models::make_divisible(3, 8), 8);    // at least the divisor
  EXPECT_EQ(models::make_divisible(10, 8), 16);  // 8 would be > 10% below
  EXPECT_EQ(models::make_divisible(5.6, 8), 8);
  EXPECT_EQ(models::make_divisible(26.4, 8), 24);
  EXPECT_EQ(models::make_divisible(11.2, 8), 16);
  EXPECT_EQ(models::make_divisible(44.8, 8), 48);
  EXPECT_EQ(models::make_divisible(100, 32), 96);
  EXPECT_EQ(models::make_divisible(37, 16), 48);
  EXPECT_EQ(models::make_divisible(7, 1), 7);
  EXPECT_EQ(models::make_divisible(0.5, 1), 1);
  EXPECT_EQ(models::make_divisible(20, 8, 64), 64);  // min_value
  EXPECT_THROW(models::make_divisible(16, 0), wick::Error);
  EXPECT_THROW(models::make_divisible(16, -8), wick::Error);
  EXPECT_THROW(models::make_divisible(std::nan(""), 8), wick::Error);
}

// ---- the blocks ---------------------------------------------------------------

TEST(ModelsMobile, Conv2dNormActivationPrintsAsTorchvision) {
  EXPECT_EQ(repr(models::Conv2dNormActivation(
                3, 16,
                {.stride = 2,
                 .norm_layer = models::batch_norm2d({.eps = 0.001, .momentum = 0.01}),
                 .activation_layer = models::layer<nn::Hardswish>(true)})),
            "Conv2dNormActivation(\n"
            "  (0): Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)\n"
            "  (1): BatchNorm2d(16, eps=0.001, momentum=0.01, affine=True, "
            "track_running_stats=True)\n"
            "  (2): Hardswish()\n"
            ")");
  EXPECT_EQ(repr(models::Conv2dNormActivation(8, 16, {.kernel_size = 1})),
            "Conv2dNormActivation(\n"
            "  (0): Conv2d(8, 16, kernel_size=(1, 1), stride=(1, 1), bias=False)\n"
            "  (1): BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, "
            "track_running_stats=True)\n"
            "  (2): ReLU(inplace=True)\n"
            ")");
  // No norm: the convolution gets a bias; padding follows kernel and dilation.
  models::Conv2dNormActivation bare(
      8, 8, {.kernel_size = {3, 5}, .norm_layer = {}, .activation_layer = {}, .dilation = 2});
  EXPECT_EQ(repr(bare),
            "Conv2dNormActivation(\n"
            "  (0): Conv2d(8, 8, kernel_size=(3, 5), stride=(1, 1), padding=(2, 4), "
            "dilation=(2, 2))\n"
            ")");
  EXPECT_EQ(bare.size(), 1u);
  EXPECT_EQ(bare.out_channels, 8);
  EXPECT_TRUE(bare.conv().bias.defined());
}

TEST(ModelsMobile, Conv2dNormActivationKeepsSizeAtStrideOne) {
  models::Conv2dNormActivation c(4, 6, {.kernel_size = 5, .groups = 2});
  Tensor y = c(wick::randn({2, 4, 9, 7}));
  EXPECT_EQ(y.sizes(), (Sizes{2, 6, 9, 7}));
  const std::vector<std::string> keys = c.state_dict().keys();
  EXPECT_EQ(keys, (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "1.running_mean",
                                            "1.running_var", "1.num_batches_tracked"}));
  EXPECT_THROW(models::Conv2dNormActivation(4, 6, {.groups = 3}), wick::Error);
}

TEST(ModelsMobile, SqueezeExcitationPrintsAndGatesAsTorchvision) {
  EXPECT_EQ(repr(models::SqueezeExcitation(16, 8)),
            "SqueezeExcitation(\n"
            "  (avgpool): AdaptiveAvgPool2d(output_size=1)\n"
            "  (fc1): Conv2d(16, 8, kernel_size=(1, 1), stride=(1, 1))\n"
            "  (fc2): Conv2d(8, 16, kernel_size=(1, 1), stride=(1, 1))\n"
            "  (activation): ReLU()\n"
            "  (scale_activation): Sigmoid()\n"
            ")");
  models::SqueezeExcitation se(96, 4, {.activation = models::layer<nn::SiLU>(true)});
  EXPECT_EQ(repr(se),
            "SqueezeExcitation(\n"
            "  (avgpool): AdaptiveAvgPool2d(output_size=1)\n"
            "  (fc1): Conv2d(96, 4, kernel_size=(1, 1), stride=(1, 1))\n"
            "  (fc2): Conv2d(4, 96, kernel_size=(1, 1), stride=(1, 1))\n"
            "  (activation): SiLU(inplace=True)\n"
            "  (scale_activation): Sigmoid()\n"
            ")");
  EXPECT_EQ(se.state_dict().keys(),
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  // forward = scale(x) * x, the gate one value per sample and channel.
  const Tensor x = wick::randn({2, 96, 5, 3});
  const Tensor gate = se.scale(x);
  EXPECT_EQ(gate.sizes(), (Sizes{2, 96, 1, 1}));
  EXPECT_EQ(se(x).to_vector<float>(), (gate * x).to_vector<float>());
  // Hardsigmoid gate: fc2's bias pushed to +10 opens every gate fully (1).
  models::SqueezeExcitation hard(8, 8, {.scale_activation = models::layer<nn::Hardsigmoid>()});
  {
    wick::NoGradGuard no_grad;
    hard.fc2.bias.fill_(10);
    hard.fc2.weight.fill_(0);
  }
  const Tensor y = wick::randn({1, 8, 4, 4});
  EXPECT_EQ(hard(y).to_vector<float>(), y.to_vector<float>());
  EXPECT_THROW(models::SqueezeExcitation(16, 8, {.activation = {}}), wick::Error);
  EXPECT_THROW(models::SqueezeExcitation(16, 0), wick::Error);
}

TEST(ModelsMobile, BlocksTakeAnyNormAndActivation) {
  // A factory of another layer: the block holds what it makes.
  models::Conv2dNormActivation c(
      2, 4,
      {.norm_layer = [](int64_t) { return std::make_shared<nn::Identity>(); },
       .activation_layer = models::layer<nn::GELU>("tanh")});
  EXPECT_NE(repr(c).find("(1): Identity()"), std::string::npos) << repr(c);
  EXPECT_NE(repr(c).find("(2): GELU(approximate='tanh')"), std::string::npos) << repr(c);
  EXPECT_FALSE(c.conv().bias.defined());  // a norm layer was given
}

// ---- channel counts ---------------------------------------------------------
// Parameter counts and shapes printed by torchvision 0.14 for the same arguments.

TEST(ModelsMobile, DefaultModelsHaveTorchvisionsParameterCounts) {
  auto expect = [](const nn::Module& m, int64_t params, size_t keys, const char* name) {
    EXPECT_EQ(num_params(m), params) << name;
    EXPECT_EQ(m.state_dict().size(), keys) << name;
  };
  expect(models::mobilenet_v2(), 3504872, 314, "mobilenet_v2");
  expect(models::mobilenet_v3_large(), 5483032, 312, "mobilenet_v3_large");
  expect(models::mobilenet_v3_small(), 2542856, 244, "mobilenet_v3_small");
  expect(models::efficientnet_b0(), 5288548, 360, "efficientnet_b0");
}

TEST(ModelsMobile, WidthMultScalesChannelsAsTorchvision) {
  const auto half = models::mobilenet_v2({.width_mult = 0.5});
  EXPECT_EQ(num_params(half), 1968680);
  EXPECT_EQ(shape(half, "features.0.0.weight"), (Sizes{16, 3, 3, 3}));
  EXPECT_EQ(half.last_channel, 1280);  // the last convolution only grows
  EXPECT_EQ(shape(half, "classifier.1.weight"), (Sizes{1000, 1280}));

  const auto wide = models::mobilenet_v2({.width_mult = 1.4});
  EXPECT_EQ(num_params(wide), 6108776);
  EXPECT_EQ(shape(wide, "features.0.0.weight"), (Sizes{48, 3, 3, 3}));
  EXPECT_EQ(shape(wide, "classifier.1.weight"), (Sizes{1000, 1792}));

  const auto unrounded = models::mobilenet_v2({.width_mult = 0.35, .round_nearest = 1});
  EXPECT_EQ(num_params(unrounded), 1670588);
  EXPECT_EQ(shape(unrounded, "features.0.0.weight"), (Sizes{11, 3, 3, 3}));

  const auto small = models::mobilenet_v3_small({.width_mult = 0.75});
  EXPECT_EQ(num_params(small), 1653920);
  EXPECT_EQ(shape(small, "classifier.0.weight"), (Sizes{768, 432}));
  EXPECT_EQ(shape(small, "classifier.3.weight"), (Sizes{1000, 768}));

  const auto tail = models::mobilenet_v3_large({.reduced_tail = true, .dilated = true});
  EXPECT_EQ(num_params(tail), 2569352);
  EXPECT_EQ(shape(tail, "classifier.0.weight"), (Sizes{640, 480}));
  // Dilated: the last stage keeps its resolution (stride 1, dilation 2).
  auto& c4 = tail.features.at<models::mobilenetv3::InvertedResidual>(13);
  auto& dw = c4.block.at<models::Conv2dNormActivation>(1).conv();
  EXPECT_EQ(dw.stride.h, 1);
  EXPECT_EQ(dw.dilation.h, 2);
  EXPECT_EQ(dw.padding.h, 4);
}

TEST(ModelsMobile, MobileNetV2TakesItsOwnSetting) {
  models::MobileNetV2 net(
      {.num_classes = 5, .inverted_residual_setting = {{{1, 8, 1, 1}, {2, 16, 2, 2}}}});
  // stem, three blocks, last convolution.
  EXPECT_EQ(net.features.size(), 5u);
  auto& first = net.features.at<models::mobilenetv2::InvertedResidual>(1);
  auto& second = net.features.at<models::mobilenetv2::InvertedResidual>(2);
  auto& third = net.features.at<models::mobilenetv2::InvertedResidual>(3);
  EXPECT_EQ(first.conv.size(), 3u);  // expand_ratio 1: no expansion
  EXPECT_EQ(second.conv.size(), 4u);
  EXPECT_FALSE(second.use_res_connect);  // stride 2
  EXPECT_TRUE(third.use_res_connect);
  wick::NoGradGuard no_grad;
  net.eval();
  EXPECT_EQ(net(wick::randn({3, 3, 32, 32})).sizes(), (Sizes{3, 5}));
}

// ---- EfficientNet's stochastic depth -----------------------------------------

TEST(ModelsMobile, EfficientNetStochasticDepthRisesAsTorchvisions) {
  // repr(m) of each MBConv's stochastic_depth in torchvision's efficientnet_b0().
  const std::vector<std::string> expected = {"0.0",
                                             "0.0125",
                                             "0.025",
                                             "0.037500000000000006",
                                             "0.05",
                                             "0.0625",
                                             "0.07500000000000001",
                                             "0.08750000000000001",
                                             "0.1",
                                             "0.1125",
                                             "0.125",
                                             "0.1375",
                                             "0.15000000000000002",
                                             "0.1625",
                                             "0.17500000000000002",
                                             "0.1875"};
  auto net = models::efficientnet_b0();
  std::vector<std::string> actual;
  for (auto& [name, m] : net.named_modules()) {
    if (auto* sd = dynamic_cast<nn::StochasticDepth*>(m)) {
      EXPECT_EQ(sd->mode, "row");
      const std::string r = repr(*sd);
      actual.push_back(r.substr(r.find("p=") + 2, r.find(',') - r.find("p=") - 2));
    }
  }
  EXPECT_EQ(actual, expected);
  // Off: every block's probability is 0.
  auto off = models::efficientnet_b0({.stochastic_depth_prob = 0});
  for (nn::Module* m : off.modules()) {
    if (auto* sd = dynamic_cast<nn::StochasticDepth*>(m)) {
      EXPECT_EQ(sd->p, 0.0);
    }
  }
}

TEST(ModelsMobile, StochasticDepthDropsOnlyTheResidualBranch) {
  // With p = 1 a residual MBConv in training is the identity; a block without
  // a residual connection is unaffected.
  models::MBConvConfig same(6, 3, 1, 16, 16, 1);
  models::MBConv residual(same, 1.0);
  EXPECT_TRUE(residual.use_res_connect);
  const Tensor x = wick::randn({2, 16, 6, 6});
  residual.train();
  EXPECT_EQ(residual(x).to_vector<float>(), x.to_vector<float>());
  residual.eval();
  EXPECT_NE(residual(x).to_vector<float>(), x.to_vector<float>());

  models::MBConv projecting(models::MBConvConfig(6, 3, 1, 16, 24, 1), 1.0);
  EXPECT_FALSE(projecting.use_res_connect);
  projecting.train();
  EXPECT_EQ(projecting(x).sizes(), (Sizes{2, 24, 6, 6}));
}

// ---- initialisation ---------------------------------------------------------

TEST(ModelsMobile, WeightsStartAsTorchvisionDrawsThem) {
  wick::manual_seed(0);
  auto v2 = models::mobilenet_v2();
  // Last 1x1 convolution [1280, 320, 1, 1]: kaiming_normal_ fan_out, std sqrt(2 / 1280).
  const Stats conv = stats(v2.get_parameter("features.18.0.weight"));
  EXPECT_NEAR(conv.mean, 0, 0.002);
  EXPECT_NEAR(conv.std / std::sqrt(2.0 / 1280), 1, 0.02);
  // Depthwise [960, 1, 3, 3]: fan_out = 960 * 9.
  const Stats dw = stats(v2.get_parameter("features.17.conv.1.0.weight"));
  EXPECT_NEAR(dw.std / std::sqrt(2.0 / (960 * 9)), 1, 0.05);
  const Stats linear = stats(v2.get_parameter("classifier.1.weight"));
  EXPECT_NEAR(linear.std / 0.01, 1, 0.02);
  EXPECT_TRUE(all_equal(v2.get_parameter("classifier.1.bias"), 0));
  EXPECT_TRUE(all_equal(v2.get_parameter("features.18.1.weight"), 1));
  EXPECT_TRUE(all_equal(v2.get_parameter("features.18.1.bias"), 0));

  auto v3 = models::mobilenet_v3_large();
  EXPECT_NEAR(stats(v3.get_parameter("classifier.0.weight")).std / 0.01, 1, 0.02);
  EXPECT_NEAR(stats(v3.get_parameter("classifier.3.weight")).std / 0.01, 1, 0.02);
  // The squeeze-excitation convolutions: kaiming, zero bias.
  EXPECT_TRUE(all_equal(v3.get_parameter("features.4.block.2.fc1.bias"), 0));
  EXPECT_TRUE(all_equal(v3.get_parameter("features.4.block.2.fc2.bias"), 0));
  EXPECT_NEAR(stats(v3.get_parameter("features.15.block.2.fc1.weight")).std / std::sqrt(2.0 / 240),
              1, 0.05);
  auto& bn = v3.features.at<models::Conv2dNormActivation>(0).at<nn::BatchNorm2d>(1);
  EXPECT_EQ(bn.eps, 0.001);
  EXPECT_EQ(bn.momentum, 0.01);

  auto b0 = models::efficientnet_b0();
  // U(-1/sqrt(1000), 1/sqrt(1000)): std range / sqrt(3), all within the range.
  const double range = 1 / std::sqrt(1000.0);
  const Stats head = stats(b0.get_parameter("classifier.1.weight"));
  EXPECT_NEAR(head.std / (range / std::sqrt(3.0)), 1, 0.02);
  EXPECT_GE(head.min, -range);
  EXPECT_LE(head.max, range);
  EXPECT_GT(head.max, 0.99 * range);
  EXPECT_TRUE(all_equal(b0.get_parameter("classifier.1.bias"), 0));
  auto& b0_bn = b0.features.at<models::Conv2dNormActivation>(0).at<nn::BatchNorm2d>(1);
  EXPECT_EQ(b0_bn.eps, 1e-5);
  EXPECT_EQ(b0_bn.momentum, 0.1);
}

// ---- argument checks --------------------------------------------------------

TEST(ModelsMobile, InvalidArgumentsThrow) {
  EXPECT_THROW(models::mobilenet_v2({.width_mult = 0}), wick::Error);
  EXPECT_THROW(models::mobilenet_v2({.width_mult = -1}), wick::Error);
  EXPECT_THROW(models::mobilenet_v2({.round_nearest = 0}), wick::Error);
  EXPECT_THROW(
      models::mobilenet_v2({.inverted_residual_setting = std::vector<std::array<int64_t, 4>>{}}),
      wick::Error);
  EXPECT_THROW(models::mobilenet_v2({.inverted_residual_setting = {{{1, 16, 1, 3}}}}),
               wick::Error);  // stride 3
  EXPECT_THROW(models::mobilenet_v2({.dropout = 1.5}), wick::Error);
  EXPECT_THROW(models::mobilenetv2::InvertedResidual(8, 8, 0, 1), wick::Error);

  EXPECT_THROW(models::mobilenet_v3_small({.width_mult = 0}), wick::Error);
  EXPECT_THROW(models::mobilenet_v3_large({.dropout = -0.1}), wick::Error);
  EXPECT_THROW(models::mobilenet_v3_conf("mobilenet_v3_tiny"), wick::Error);
  EXPECT_THROW(models::mobilenetv3::InvertedResidualConfig(16, 3, 16, 16, false, "GELU", 1, 1),
               wick::Error);
  EXPECT_THROW(models::mobilenetv3::InvertedResidual(
                   models::mobilenetv3::InvertedResidualConfig(16, 3, 16, 16, false, "RE", 3, 1)),
               wick::Error);
  EXPECT_THROW(models::MobileNetV3({}, 1024), wick::Error);

  EXPECT_THROW(models::efficientnet_b0({.dropout = 2}), wick::Error);
  EXPECT_THROW(models::efficientnet_b0({.stochastic_depth_prob = 1.5}), wick::Error);
  EXPECT_THROW(models::EfficientNet({}), wick::Error);
  EXPECT_THROW(models::MBConv(models::MBConvConfig(6, 3, 3, 16, 16, 1), 0.0), wick::Error);
  EXPECT_THROW(models::MBConvConfig(6, 3, 1, 16, 16, 1, 0.0), wick::Error);  // width_mult
  EXPECT_THROW(models::MBConvConfig(0, 3, 1, 16, 16, 1), wick::Error);       // expand_ratio
}

// ---- models::create -----------------------------------------------------------

TEST(ModelsMobile, CreateHonoursNumClassesAndDropout) {
  struct Case {
    const char* name;
    const char* head;     // the last Linear's weight
    const char* dropout;  // the Dropout's path
  };
  for (const Case& c : {Case{"mobilenet_v2", "classifier.1.weight", "classifier.0"},
                        Case{"mobilenet_v3_small", "classifier.3.weight", "classifier.2"},
                        Case{"mobilenet_v3_large", "classifier.3.weight", "classifier.2"},
                        Case{"efficientnet_b0", "classifier.1.weight", "classifier.0"}}) {
    auto net = models::create(c.name, {.num_classes = 7, .dropout = 0.3});
    EXPECT_EQ(net->state_dict().at(c.head).size(0), 7) << c.name;
    auto& drop = nn::module_cast<nn::Dropout>(net->get_submodule(c.dropout));
    EXPECT_EQ(drop.p, 0.3) << c.name;
    auto fallback = models::create(c.name);
    EXPECT_EQ(nn::module_cast<nn::Dropout>(fallback->get_submodule(c.dropout)).p, 0.2) << c.name;
    const auto& names = models::architectures();
    EXPECT_NE(std::find(names.begin(), names.end(), c.name), names.end()) << c.name;
  }
}

TEST(ModelsMobile, SmallInputsRunInBothModes) {
  // min_size (1, 1) in torchvision's metadata: every stride-2 stage pads.
  wick::manual_seed(3);
  auto net = models::mobilenet_v3_small({.num_classes = 4});
  const Tensor x = wick::randn({2, 3, 1, 1});
  net.train();
  EXPECT_EQ(net(x).sizes(), (Sizes{2, 4}));
  wick::NoGradGuard no_grad;
  net.eval();
  EXPECT_EQ(net(x).sizes(), (Sizes{2, 4}));
}

}  // namespace
