// The layers with parameters (nn::Linear, Conv2d, BatchNorm1d/2d, LayerNorm,
// Embedding) and nn::Identity / nn::Flatten: shapes, forward against the
// functional ops, default initialisation statistics, reprs, BatchNorm's
// running statistics and state_dict upgrade; nn::init; the forward values and
// errors of nn::functional::layer_norm and nn::functional::embedding. Their gradients
// are checked in test_gradcheck_nn_ops.cpp; module-level comparisons against
// PyTorch itself are in tests/nn.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "wick/autograd/grad_mode.h"
#include "wick/core/random.h"
#include "wick/nn/conv.h"
#include "wick/nn/embedding.h"
#include "wick/nn/functional.h"
#include "wick/nn/init.h"
#include "wick/nn/linear.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

using namespace wick;
namespace F = wick::nn::functional;
namespace init = wick::nn::init;

namespace {

constexpr TensorOptions kF64 = {.dtype = DType::Float64};

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

/// Mean, (population) standard deviation and largest absolute value.
struct Stats {
  double mean, std, max_abs;
};

Stats stats_of(const Tensor& t) {
  std::vector<double> v = values(t);
  double sum = 0, max_abs = 0;
  for (double x : v) {
    sum += x;
    max_abs = std::max(max_abs, std::abs(x));
  }
  const double mean = sum / double(v.size());
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  return {mean, std::sqrt(sq / double(v.size())), max_abs};
}

/// U(-bound, bound) drawn into t: every value inside, the extremes near the
/// bound, mean near 0 and standard deviation near bound / sqrt(3).
void expect_uniform(const Tensor& t, double bound) {
  Stats s = stats_of(t);
  const double n = double(t.numel());
  EXPECT_LE(s.max_abs, bound);
  EXPECT_GT(s.max_abs, bound * (1 - 20 / n));
  const double std = bound / std::sqrt(3.0);
  EXPECT_NEAR(s.mean, 0, 5 * std / std::sqrt(n));
  EXPECT_NEAR(s.std, std, 0.02 * std);
}

void expect_normal(const Tensor& t, double mean, double std) {
  Stats s = stats_of(t);
  const double n = double(t.numel());
  EXPECT_NEAR(s.mean, mean, 5 * std / std::sqrt(n));
  EXPECT_NEAR(s.std, std, 0.02 * std);
}

void expect_close(const Tensor& a, const Tensor& b, double tol = 1e-6) {
  ASSERT_EQ(a.sizes(), b.sizes());
  std::vector<double> va = values(a), vb = values(b);
  for (size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], vb[i], tol) << "element " << i;
}

/// Runs f and checks that it throws E with every string of `parts` in the message.
template <class E, class Fn>
void expect_error(Fn&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

std::vector<std::string> keys_of(const nn::Module& m) {
  return m.state_dict().keys();
}

}  // namespace

// ---- nn::init -------------------------------------------------------------------

TEST(NnInit, CalculateGain) {
  for (const char* linear : {"linear", "conv1d", "conv2d", "conv_transpose2d", "sigmoid"})
    EXPECT_EQ(init::calculate_gain(linear), 1.0) << linear;
  EXPECT_DOUBLE_EQ(init::calculate_gain("tanh"), 5.0 / 3);
  EXPECT_DOUBLE_EQ(init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu"), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu", 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu", 0.0), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain("selu"), 0.75);
  expect_error<Error>([] { init::calculate_gain("swish"); }, {"unsupported nonlinearity swish"});
}

TEST(NnInit, FanInAndFanOut) {
  EXPECT_EQ(init::calculate_fan_in_and_fan_out(empty({6, 3, 5, 5})), std::make_pair(75L, 150L));
  EXPECT_EQ(init::calculate_fan_in_and_fan_out(empty({4, 2})), std::make_pair(2L, 4L));
  expect_error<Error>([] { init::calculate_fan_in_and_fan_out(empty({4})); },
                      {"fewer than 2 dimensions", "[4]"});
  expect_error<Error>(
      [] {
        init::kaiming_uniform_(empty({4, 4}), 0, "fan_avg");
      },
      {"mode fan_avg not supported"});
}

TEST(NnInit, ConstantsAnyDtype) {
  Tensor f = empty({3, 2});
  EXPECT_EQ(values(init::ones_(f)), std::vector<double>(6, 1.0));
  EXPECT_EQ(values(init::zeros_(f)), std::vector<double>(6, 0.0));
  EXPECT_EQ(values(init::constant_(f, 2.5)), std::vector<double>(6, 2.5));
  Tensor i = empty({2}, {.dtype = DType::Int64});
  EXPECT_EQ(values(init::constant_(i, 7)), std::vector<double>(2, 7.0));
}

TEST(NnInit, DistributionsFollowTheirFormulas) {
  manual_seed(1);
  Tensor t = empty({200, 300}, kF64);  // fan_in 300, fan_out 200
  expect_uniform(init::uniform_(t, -0.5, 0.5), 0.5);
  init::uniform_(t, 2, 3);
  EXPECT_NEAR(stats_of(t).mean, 2.5, 0.01);
  expect_normal(init::normal_(t, 1, 2), 1, 2);
  expect_uniform(init::xavier_uniform_(t), std::sqrt(6.0 / 500));
  expect_uniform(init::xavier_uniform_(t, 2), 2 * std::sqrt(6.0 / 500));
  expect_normal(init::xavier_normal_(t), 0, std::sqrt(2.0 / 500));
  // Kaiming: gain / sqrt(fan), leaky_relu with slope a by default.
  expect_uniform(init::kaiming_uniform_(t), std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(300.0));
  expect_uniform(init::kaiming_uniform_(t, std::sqrt(5.0)), 1 / std::sqrt(300.0));
  expect_uniform(init::kaiming_uniform_(t, 0, "fan_out", "relu"),
                 std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(200.0));
  expect_normal(init::kaiming_normal_(t, 0, "fan_in", "relu"), 0, std::sqrt(2.0 / 300));
  expect_normal(init::kaiming_normal_(t, 0, "fan_out", "tanh"), 0, 5.0 / 3 / std::sqrt(200.0));
  // Conv weights: the receptive field multiplies the fans.
  Tensor w = empty({64, 32, 3, 3});
  expect_normal(init::kaiming_normal_(w, 0, "fan_out", "relu"), 0, std::sqrt(2.0 / (64 * 9)));
}

TEST(NnInit, WorksOnParametersWithoutRecordingHistory) {
  Tensor p = zeros({8, 4}).requires_grad_();
  ASSERT_TRUE(GradMode::is_enabled());
  init::kaiming_uniform_(p);
  init::normal_(p);
  init::zeros_(p);
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(p.requires_grad());
  EXPECT_TRUE(GradMode::is_enabled());
  // A zero-element tensor is left alone (its fan would be 0).
  Tensor e = empty({0, 3});
  EXPECT_NO_THROW(init::kaiming_uniform_(e));
}

TEST(NnInit, GeneratorMakesDrawsReproducible) {
  Generator g1(42), g2(42);
  Tensor a = empty({5, 5}), b = empty({5, 5});
  init::xavier_normal_(a, 1, &g1);
  init::xavier_normal_(b, 1, &g2);
  EXPECT_EQ(values(a), values(b));
  manual_seed(3);
  nn::Linear l1(6, 4);
  manual_seed(3);
  nn::Linear l2(6, 4);
  EXPECT_EQ(values(l1.weight), values(l2.weight));
  EXPECT_EQ(values(l1.bias), values(l2.bias));
}

// ---- Linear, Identity, Flatten -------------------------------------------------------

TEST(NnLinear, ShapesParametersAndForward) {
  nn::Linear fc(400, 120);
  EXPECT_EQ(fc.in_features, 400);
  EXPECT_EQ(fc.out_features, 120);
  EXPECT_EQ(fc.weight.sizes(), Shape({120, 400}));
  EXPECT_EQ(fc.bias.sizes(), Shape({120}));
  EXPECT_TRUE(fc.weight.requires_grad());
  EXPECT_TRUE(fc.bias.requires_grad());
  ASSERT_EQ(fc.parameters().size(), 2u);
  EXPECT_TRUE(fc.parameters()[0].is_same(fc.weight));
  EXPECT_EQ(keys_of(fc), (std::vector<std::string>{"weight", "bias"}));

  Tensor x = randn({3, 7, 400});
  Tensor y = fc(x);
  EXPECT_EQ(y.sizes(), Shape({3, 7, 120}));
  expect_close(y, F::linear(x, fc.weight, fc.bias), 0);
  y.sum().backward();
  EXPECT_TRUE(fc.weight.grad().defined());
  EXPECT_TRUE(fc.bias.grad().defined());
}

TEST(NnLinear, NoBiasIsAbsentFromStateDict) {
  nn::Linear fc(4, 2, {.bias = false});
  EXPECT_FALSE(fc.bias.defined());
  EXPECT_EQ(fc.parameters().size(), 1u);
  EXPECT_EQ(keys_of(fc), std::vector<std::string>{"weight"});
  Tensor x = randn({5, 4});
  expect_close(fc(x), F::linear(x, fc.weight), 0);
  EXPECT_EQ(fc.extra_repr(), "in_features=4, out_features=2, bias=False");
}

TEST(NnLinear, DefaultInitIsUniformWithBoundOneOverSqrtFanIn) {
  manual_seed(7);
  nn::Linear fc(400, 500);
  expect_uniform(fc.weight, 1 / std::sqrt(400.0));
  Stats b = stats_of(fc.bias);
  EXPECT_LE(b.max_abs, 1 / std::sqrt(400.0));
  EXPECT_GT(b.max_abs, 0.95 / std::sqrt(400.0));
  // reset_parameters draws afresh.
  std::vector<double> before = values(fc.weight);
  fc.reset_parameters();
  EXPECT_NE(values(fc.weight), before);
}

TEST(NnLinear, Repr) {
  nn::Linear fc(400, 120);
  EXPECT_EQ(fc.repr(), "Linear(in_features=400, out_features=120, bias=True)");
  EXPECT_EQ(fc.name(), "Linear");
}

TEST(NnIdentityFlatten, ForwardAndRepr) {
  nn::Identity id;
  Tensor x = randn({2, 3, 4, 5});
  EXPECT_TRUE(id(x).is_same(x));
  EXPECT_EQ(id.repr(), "Identity()");
  EXPECT_TRUE(keys_of(id).empty());

  nn::Flatten flat;
  EXPECT_EQ(flat(x).sizes(), Shape({2, 60}));
  EXPECT_EQ(flat(x).storage(), x.storage());  // a view
  EXPECT_EQ(flat.repr(), "Flatten(start_dim=1, end_dim=-1)");
  nn::Flatten mid({.start_dim = 0, .end_dim = 2});
  EXPECT_EQ(mid(x).sizes(), Shape({24, 5}));
  EXPECT_EQ(mid.extra_repr(), "start_dim=0, end_dim=2");
}

// ---- Conv2d ---------------------------------------------------------------------

TEST(NnConv2d, ShapesAndForwardEqualsFunctional) {
  nn::Conv2d c(3, 8, {3, 5}, {.stride = {2, 1}, .padding = {1, 2}, .bias = false});
  EXPECT_EQ(c.weight.sizes(), Shape({8, 3, 3, 5}));
  EXPECT_FALSE(c.bias.defined());
  EXPECT_EQ(keys_of(c), std::vector<std::string>{"weight"});
  Tensor x = randn({2, 3, 9, 10});
  Tensor y = c(x);
  EXPECT_EQ(y.sizes(), Shape({2, 8, 5, 10}));
  expect_close(y, F::conv2d(x, c.weight, Tensor(), {2, 1}, {1, 2}), 0);

  nn::Conv2d g(4, 6, 3, {.padding = 1, .dilation = 2, .groups = 2});
  EXPECT_EQ(g.weight.sizes(), Shape({6, 2, 3, 3}));
  EXPECT_EQ(keys_of(g), (std::vector<std::string>{"weight", "bias"}));
  Tensor x2 = randn({1, 4, 7, 7});
  expect_close(g(x2), F::conv2d(x2, g.weight, g.bias, 1, 1, 2, 2), 0);
}

TEST(NnConv2d, DefaultInitUsesFanInOfTheKernel) {
  manual_seed(11);
  nn::Conv2d c(16, 64, 3);  // fan_in 16 * 9 = 144
  const double bound = 1 / 12.0;
  expect_uniform(c.weight, bound);
  Stats b = stats_of(c.bias);
  EXPECT_LE(b.max_abs, bound);
  EXPECT_GT(b.max_abs, 0.8 * bound);
  nn::Conv2d grouped(16, 64, 3, {.groups = 4});  // fan_in 4 * 9 = 36
  expect_uniform(grouped.weight, 1 / 6.0);
}

TEST(NnConv2d, Repr) {
  EXPECT_EQ(nn::Conv2d(3, 6, 5).repr(), "Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))");
  EXPECT_EQ(nn::Conv2d(1, 6, 5, {.padding = 2}).repr(),
            "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))");
  EXPECT_EQ(nn::Conv2d(3, 8, {3, 5}, {.stride = {2, 1}, .bias = false}).repr(),
            "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 1), bias=False)");
  EXPECT_EQ(nn::Conv2d(4, 8, 3, {.padding = {1, 0}, .dilation = 2, .groups = 4}).extra_repr(),
            "4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 0), dilation=(2, 2), groups=4");
}

TEST(NnConv2d, BadArguments) {
  expect_error<Error>([] { nn::Conv2d(3, 6, 3, {.padding_mode = "reflect"}); },
                      {"padding_mode='reflect'", "not supported", "'zeros'"});
  expect_error<Error>([] { nn::Conv2d(3, 6, 3, {.padding_mode = "mirror"}); },
                      {"padding_mode must be one of", "'mirror'"});
  expect_error<Error>([] { nn::Conv2d(3, 6, 3, {.groups = 2}); },
                      {"in_channels must be divisible by groups"});
  expect_error<Error>([] { nn::Conv2d(4, 6, 3, {.groups = 4}); },
                      {"out_channels must be divisible by groups"});
  expect_error<Error>([] { nn::Conv2d(4, 6, 3, {.groups = 0}); }, {"groups must be a positive"});
  expect_error<Error>([] { nn::Conv2d(4, 6, {3, 0}); }, {"kernel_size", "(3, 0)"});
  expect_error<Error>([] { nn::Conv2d(4, 6, 3, {.stride = 0}); }, {"stride", "(0, 0)"});
}

// ---- BatchNorm -------------------------------------------------------------------

TEST(NnBatchNorm, ParametersBuffersAndVersion) {
  nn::BatchNorm2d bn(16);
  EXPECT_EQ(bn.version(), 2);
  EXPECT_EQ(keys_of(bn), (std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                                   "num_batches_tracked"}));
  EXPECT_EQ(values(bn.weight), std::vector<double>(16, 1.0));
  EXPECT_EQ(values(bn.bias), std::vector<double>(16, 0.0));
  EXPECT_EQ(values(bn.running_mean), std::vector<double>(16, 0.0));
  EXPECT_EQ(values(bn.running_var), std::vector<double>(16, 1.0));
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::Int64);
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 0);
  EXPECT_FALSE(bn.running_mean.requires_grad());
  EXPECT_EQ(bn.parameters().size(), 2u);
  EXPECT_EQ(bn.buffers().size(), 3u);

  nn::BatchNorm1d plain(5, {.affine = false, .track_running_stats = false});
  EXPECT_FALSE(plain.weight.defined());
  EXPECT_FALSE(plain.running_mean.defined());
  EXPECT_FALSE(plain.num_batches_tracked.defined());
  EXPECT_TRUE(keys_of(plain).empty());
}

TEST(NnBatchNorm, TrainingUpdatesRunningStatsWithMomentum) {
  nn::BatchNorm1d bn(3, {.momentum = 0.25});
  Tensor x = randn({6, 3, 4}, kF64);
  bn.to(DType::Float64);
  Tensor y = bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  // Batch statistics per channel (over N and L), computed here by hand.
  Tensor mean = x.mean({0, 2});
  Tensor var_biased = (x - mean.view({1, 3, 1})).pow(2).mean({0, 2});
  const double count = 6 * 4;
  std::vector<double> m = values(mean), v = values(var_biased);
  std::vector<double> rm = values(bn.running_mean), rv = values(bn.running_var);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(rm[c], 0.25 * m[c], 1e-12);
    EXPECT_NEAR(rv[c], 0.75 + 0.25 * v[c] * count / (count - 1), 1e-12);
  }
  // The output is normalised with the batch's biased variance.
  Tensor want = (x - mean.view({1, 3, 1})) / (var_biased.view({1, 3, 1}) + 1e-5).sqrt();
  expect_close(y, want, 1e-10);
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
  EXPECT_NEAR(values(bn.running_mean)[0], 0.75 * 0.25 * m[0] + 0.25 * m[0], 1e-12);
}

TEST(NnBatchNorm, MomentumNoneIsACumulativeAverage) {
  nn::BatchNorm2d bn(2, {.momentum = std::nullopt});
  std::vector<double> mean_sum(2, 0), var_sum(2, 0);
  const int batches = 4;
  for (int b = 0; b < batches; ++b) {
    Tensor x = randn({3, 2, 2, 2}) * double(b + 1) + double(b);
    Tensor m = x.mean({0, 2, 3});
    Tensor v = (x - m.view({1, 2, 1, 1})).pow(2).sum({0, 2, 3}) / 11.0;  // unbiased, 12 values
    for (size_t c = 0; c < 2; ++c) {
      mean_sum[c] += values(m)[c];
      var_sum[c] += values(v)[c];
    }
    bn(x);
  }
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), batches);
  for (size_t c = 0; c < 2; ++c) {
    EXPECT_NEAR(values(bn.running_mean)[c], mean_sum[c] / batches, 1e-4);
    EXPECT_NEAR(values(bn.running_var)[c], var_sum[c] / batches, 1e-4);
  }
  EXPECT_EQ(bn.extra_repr(), "2, eps=1e-05, momentum=None, affine=True, track_running_stats=True");
}

TEST(NnBatchNorm, EvalUsesRunningStatsAndLeavesThemAlone) {
  nn::BatchNorm2d bn(2);
  {
    NoGradGuard no_grad;
    bn.running_mean.copy_(tensor<float>({1.0f, -2.0f}));
    bn.running_var.copy_(tensor<float>({4.0f, 0.25f}));
    bn.weight.copy_(tensor<float>({2.0f, 1.0f}));
    bn.bias.copy_(tensor<float>({0.5f, 0.0f}));
  }
  bn.eval();
  Tensor x = randn({3, 2, 4, 4});
  Tensor y = bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 0);
  EXPECT_EQ(values(bn.running_mean), (std::vector<double>{1.0, -2.0}));
  EXPECT_EQ(values(bn.running_var), (std::vector<double>{4.0, 0.25}));
  Tensor rm = bn.running_mean.view({1, 2, 1, 1}), rv = bn.running_var.view({1, 2, 1, 1});
  Tensor want =
      (x - rm) / (rv + 1e-5).sqrt() * bn.weight.view({1, 2, 1, 1}) + bn.bias.view({1, 2, 1, 1});
  expect_close(y, want, 1e-5);
  bn.train();
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
}

TEST(NnBatchNorm, WithoutRunningStatsEvalUsesTheBatch) {
  nn::BatchNorm1d bn(3, {.affine = false, .track_running_stats = false});
  bn.eval();
  Tensor x = randn({8, 3}) * 3.0 + 5.0;
  Tensor y = bn(x);
  for (double m : values(y.mean({0}))) EXPECT_NEAR(m, 0, 1e-5);
  Tensor var = y.pow(2).mean({0});
  for (double v : values(var)) EXPECT_NEAR(v, 1, 1e-3);
}

TEST(NnBatchNorm, WrongRankIsAShapeError) {
  nn::BatchNorm2d bn2(3);
  expect_error<ShapeError>(
      [&] {
        bn2(randn({2, 3, 4}));
      },
      {"BatchNorm2d", "expected 4D input (got 3D input)"});
  nn::BatchNorm1d bn1(3);
  expect_error<ShapeError>(
      [&] {
        bn1(randn({2, 3, 4, 4}));
      },
      {"BatchNorm1d", "expected 2D or 3D input (got 4D input)"});
  EXPECT_EQ(bn1(randn({4, 3})).sizes(), Shape({4, 3}));
  EXPECT_EQ(bn1(randn({4, 3, 5})).sizes(), Shape({4, 3, 5}));
  // A wrong rank is refused before the batch is counted.
  EXPECT_EQ(bn2.num_batches_tracked.item<int64_t>(), 0);
}

TEST(NnBatchNorm, Repr) {
  EXPECT_EQ(nn::BatchNorm2d(16).repr(),
            "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(nn::BatchNorm1d(
                8, {.eps = 0.001, .momentum = 0.01, .affine = false, .track_running_stats = false})
                .repr(),
            "BatchNorm1d(8, eps=0.001, momentum=0.01, affine=False, track_running_stats=False)");
  EXPECT_EQ(nn::BatchNorm1d(4, {.momentum = 1}).extra_repr(),
            "4, eps=1e-05, momentum=1.0, affine=True, track_running_stats=True");
}

namespace {
struct BnNet : nn::Module {
  nn::Conv2d& conv = register_module("conv", nn::Conv2d(1, 3, 3));
  nn::BatchNorm2d& bn = register_module("bn", nn::BatchNorm2d(3));
};
}  // namespace

TEST(NnBatchNorm, StateDictRecordsVersion2) {
  BnNet net;
  nn::StateDict sd = net.state_dict();
  EXPECT_EQ(sd.version("bn"), 2);
  EXPECT_EQ(sd.version("conv"), 1);
  EXPECT_EQ(sd.at("bn.num_batches_tracked").dtype(), DType::Int64);
}

TEST(NnBatchNorm, UpgradesAnOldStateDictWithoutNumBatchesTracked) {
  BnNet src, dst;
  {
    NoGradGuard no_grad;
    src.bn.running_mean.fill_(0.5);
    dst.bn.num_batches_tracked.fill_(5);
  }
  // A version-1 state_dict: no num_batches_tracked, metadata saying version 1.
  nn::StateDict old = src.state_dict();
  ASSERT_TRUE(old.erase("bn.num_batches_tracked"));
  old.set_metadata({{"", 1}, {"conv", 1}, {"bn", 1}});
  nn::LoadResult r = dst.load_state_dict(old);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(dst.bn.num_batches_tracked.item<int64_t>(), 0);
  EXPECT_EQ(values(dst.bn.running_mean), std::vector<double>(3, 0.5));

  // No metadata at all counts as old too.
  nn::StateDict bare = old;
  bare.set_metadata({});
  EXPECT_TRUE(dst.load_state_dict(bare).ok());

  // A version-2 state_dict missing the key is really missing it.
  nn::StateDict v2 = src.state_dict();
  v2.erase("bn.num_batches_tracked");
  expect_error<Error>([&] { dst.load_state_dict(v2); }, {"bn.num_batches_tracked"});
  nn::LoadResult loose = dst.load_state_dict(v2, false);
  EXPECT_EQ(loose.missing_keys, std::vector<std::string>{"bn.num_batches_tracked"});

  // Without running stats there is nothing to add.
  nn::BatchNorm2d untracked(3, {.track_running_stats = false});
  nn::StateDict sd = untracked.state_dict();
  sd.set_metadata({{"", 1}});
  EXPECT_TRUE(untracked.load_state_dict(sd).ok());
}

// ---- LayerNorm -------------------------------------------------------------------

TEST(NnLayerNorm, ParametersForwardAndRepr) {
  nn::LayerNorm ln({10, 10});
  EXPECT_EQ(ln.weight.sizes(), Shape({10, 10}));
  EXPECT_EQ(values(ln.weight), std::vector<double>(100, 1.0));
  EXPECT_EQ(values(ln.bias), std::vector<double>(100, 0.0));
  EXPECT_EQ(keys_of(ln), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(ln.repr(), "LayerNorm((10, 10), eps=1e-05, elementwise_affine=True)");
  init::normal_(ln.weight);
  init::normal_(ln.bias);
  Tensor x = randn({3, 10, 10});
  expect_close(ln(x), F::layer_norm(x, {10, 10}, ln.weight, ln.bias), 0);

  nn::LayerNorm one(10);
  EXPECT_EQ(one.normalized_shape, Shape({10}));
  EXPECT_EQ(one.repr(), "LayerNorm((10,), eps=1e-05, elementwise_affine=True)");
  nn::LayerNorm no_bias(6, {.eps = 1e-6, .bias = false});
  EXPECT_FALSE(no_bias.bias.defined());
  EXPECT_EQ(keys_of(no_bias), std::vector<std::string>{"weight"});
  EXPECT_EQ(no_bias.extra_repr(), "(6,), eps=1e-06, elementwise_affine=True");
  nn::LayerNorm plain({2, 3}, {.elementwise_affine = false});
  EXPECT_TRUE(keys_of(plain).empty());
  EXPECT_EQ(plain.extra_repr(), "(2, 3), eps=1e-05, elementwise_affine=False");
  Tensor x2 = randn({4, 2, 3});
  expect_close(plain(x2), F::layer_norm(x2, {2, 3}), 0);
}

TEST(FunctionalLayerNorm, NormalisesEachRowOverTheLastDims) {
  Tensor x = randn({4, 3, 5}, kF64) * 3.0 + 2.0;
  Tensor w = randn({3, 5}, kF64), b = randn({3, 5}, kF64);
  Tensor y = F::layer_norm(x, {3, 5}, w, b, 1e-5);
  // By hand with differentiable math: statistics over the last two dims.
  Tensor mean = x.mean({1, 2}, true);
  Tensor var = (x - mean).pow(2).mean({1, 2}, true);
  expect_close(y, (x - mean) / (var + 1e-5).sqrt() * w + b, 1e-10);
  // Over the last dim only, no affine; float32 too.
  Tensor xf = randn({2, 6}) * 10.0;
  Tensor yf = F::layer_norm(xf, {6});
  EXPECT_EQ(yf.dtype(), DType::Float32);
  for (double m : values(yf.mean({1}))) EXPECT_NEAR(m, 0, 1e-5);
  for (double v : values(yf.pow(2).mean({1}))) EXPECT_NEAR(v, 1, 1e-3);
  // A non-contiguous input gives the same as its contiguous copy.
  Tensor xt = randn({5, 4}, kF64).t();
  expect_close(F::layer_norm(xt, {5}), F::layer_norm(xt.contiguous(), {5}), 0);
  // Empty batch.
  EXPECT_EQ(F::layer_norm(empty({0, 5}), {5}).sizes(), Shape({0, 5}));
}

TEST(FunctionalLayerNorm, BadArguments) {
  expect_error<ShapeError>(
      [] {
        F::layer_norm(randn({2, 5}), {10});
      },
      {"layer_norm", "normalized_shape=[10]", "[2, 5]"});
  expect_error<ShapeError>([] { F::layer_norm(randn({5}), {2, 5}); }, {"layer_norm", "[2, 5]"});
  expect_error<ShapeError>(
      [] {
        F::layer_norm(randn({2, 5}), {5}, randn({4}));
      },
      {"layer_norm", "weight", "[5]", "[4]"});
  expect_error<ShapeError>(
      [] {
        F::layer_norm(randn({2, 5}), {});
      },
      {"layer_norm", "at least 1-dimensional"});
  expect_error<DTypeError>(
      [] {
        F::layer_norm(randn({2, 5}), {5}, randn({5}, kF64));
      },
      {"layer_norm", "weight"});
}

// ---- Embedding -------------------------------------------------------------------

TEST(NnEmbedding, LooksUpRowsAndHasPyTorchInit) {
  manual_seed(5);
  nn::Embedding emb(1000, 64);
  EXPECT_EQ(emb.weight.sizes(), Shape({1000, 64}));
  EXPECT_EQ(keys_of(emb), std::vector<std::string>{"weight"});
  expect_normal(emb.weight, 0, 1);
  Tensor ids = tensor<int64_t>({5, 0, 17, 5, 999, 3}, {2, 3});
  Tensor y = emb(ids);
  EXPECT_EQ(y.sizes(), Shape({2, 3, 64}));
  expect_close(y.select(0, 1).select(0, 1), emb.weight.select(0, 999), 0);
  expect_close(y.select(0, 0).select(0, 0), emb.weight.select(0, 5), 0);
  EXPECT_EQ(emb.repr(), "Embedding(1000, 64)");
  // int32 indices and a 0-dim index.
  expect_close(emb(tensor<int32_t>({17}, {1})), emb.weight.narrow(0, 17, 1), 0);
  EXPECT_EQ(emb(scalar_tensor(int64_t(3))).sizes(), Shape({64}));
}

TEST(NnEmbedding, PaddingRowStartsAtZeroAndGetsNoGradient) {
  nn::Embedding emb(10, 3, {.padding_idx = 0});
  EXPECT_EQ(values(emb.weight.select(0, 0)), std::vector<double>(3, 0.0));
  EXPECT_NE(values(emb.weight.select(0, 1)), std::vector<double>(3, 0.0));
  EXPECT_EQ(emb.repr(), "Embedding(10, 3, padding_idx=0)");
  Tensor ids = tensor<int64_t>({0, 2, 0, 2, 2, 7}, {2, 3});
  emb(ids).sum().backward();
  Tensor g = emb.weight.grad();
  ASSERT_TRUE(g.defined());
  // Repeated indices accumulate; the padding row stays at zero.
  EXPECT_EQ(values(g.select(0, 0)), std::vector<double>(3, 0.0));
  EXPECT_EQ(values(g.select(0, 2)), std::vector<double>(3, 3.0));
  EXPECT_EQ(values(g.select(0, 7)), std::vector<double>(3, 1.0));
  EXPECT_EQ(values(g.select(0, 1)), std::vector<double>(3, 0.0));

  nn::Embedding last(10, 3, {.padding_idx = -1});
  EXPECT_EQ(last.padding_idx, 9);
  EXPECT_EQ(last.extra_repr(), "10, 3, padding_idx=9");
  EXPECT_EQ(values(last.weight.select(0, 9)), std::vector<double>(3, 0.0));
}

TEST(NnEmbedding, BadIndicesAndArguments) {
  nn::Embedding emb(10, 3);
  expect_error<IndexError>(
      [&] {
        emb(tensor<int64_t>({1, 10}, {2}));
      },
      {"embedding", "index 10", "out of range", "10"});
  expect_error<IndexError>([&] { emb(tensor<int64_t>({-1}, {1})); }, {"embedding", "index -1"});
  expect_error<DTypeError>([&] { emb(tensor<float>({1.0f}, {1})); }, {"embedding", "int64"});
  expect_error<Error>([] { nn::Embedding(10, 3, {.padding_idx = 10}); },
                      {"padding_idx must be within num_embeddings"});
  expect_error<Error>([] { nn::Embedding(10, 3, {.padding_idx = -11}); },
                      {"padding_idx must be within num_embeddings"});
  expect_error<Error>(
      [] {
        F::embedding(tensor<int64_t>({1}, {1}), randn({4, 2}), 4);
      },
      {"embedding", "padding_idx 4"});
  expect_error<ShapeError>([] { F::embedding(tensor<int64_t>({1}, {1}), randn({4})); },
                           {"embedding", "2 dims"});
}
