// The parameterless layers: pooling, activations, Dropout. Their outputs are
// compared with the functional ops they wrap (themselves compared with PyTorch
// in tests/interop) and with PyTorch in tests/nn; here: constructor forms,
// defaults, reprs, train/eval, in-place behaviour and argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/core/random.h"
#include "wick/nn/activation.h"
#include "wick/nn/container.h"
#include "wick/nn/dropout.h"
#include "wick/nn/functional.h"
#include "wick/nn/pooling.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

namespace {

namespace nn = wick::nn;
namespace F = wick::nn::functional;
using wick::Tensor;

std::string repr(const nn::Module& m) {
  std::ostringstream s;
  s << m;
  return s.str();
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.to_vector<double>() == b.to_vector<double>();
}

TEST(NnSimpleLayers, PoolingReprsShowSizesAsGiven) {
  EXPECT_EQ(repr(nn::MaxPool2d(2, 2)),
            "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(repr(nn::MaxPool2d(3)),
            "MaxPool2d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(repr(nn::MaxPool2d({2, 3}, {.stride = {1, 2}, .padding = 1, .ceil_mode = true})),
            "MaxPool2d(kernel_size=(2, 3), stride=(1, 2), padding=1, dilation=1, ceil_mode=True)");
  EXPECT_EQ(repr(nn::AvgPool2d(2, 2)), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  EXPECT_EQ(repr(nn::AvgPool2d(3, {.padding = {1, 0}, .count_include_pad = false})),
            "AvgPool2d(kernel_size=3, stride=3, padding=(1, 0))");
  EXPECT_EQ(repr(nn::AdaptiveAvgPool2d({5, 7})), "AdaptiveAvgPool2d(output_size=(5, 7))");
  EXPECT_EQ(repr(nn::AdaptiveAvgPool2d(1)), "AdaptiveAvgPool2d(output_size=1)");
  EXPECT_EQ(repr(nn::AdaptiveMaxPool2d(3)), "AdaptiveMaxPool2d(output_size=3)");
  EXPECT_EQ(repr(nn::AdaptiveMaxPool2d({2, std::nullopt})),
            "AdaptiveMaxPool2d(output_size=(2, None))");
  EXPECT_EQ(repr(nn::AdaptiveAvgPool2d({std::nullopt, 7})),
            "AdaptiveAvgPool2d(output_size=(None, 7))");
}

TEST(NnSimpleLayers, ActivationAndDropoutReprs) {
  EXPECT_EQ(repr(nn::ReLU()), "ReLU()");
  EXPECT_EQ(repr(nn::ReLU(true)), "ReLU(inplace=True)");
  EXPECT_EQ(repr(nn::Sigmoid()), "Sigmoid()");
  EXPECT_EQ(repr(nn::ReLU6()), "ReLU6()");
  EXPECT_EQ(repr(nn::ReLU6(true)), "ReLU6(inplace=True)");
  EXPECT_EQ(repr(nn::Hardsigmoid(true)), "Hardsigmoid()");  // PyTorch omits inplace here
  EXPECT_EQ(repr(nn::Hardswish(true)), "Hardswish()");
  EXPECT_EQ(repr(nn::SiLU()), "SiLU()");
  EXPECT_EQ(repr(nn::SiLU(true)), "SiLU(inplace=True)");
  EXPECT_EQ(repr(nn::GELU()), "GELU(approximate='none')");
  EXPECT_EQ(repr(nn::GELU("tanh")), "GELU(approximate='tanh')");
  EXPECT_THROW(nn::GELU("fast"), wick::Error);
  EXPECT_EQ(repr(nn::Tanh()), "Tanh()");
  EXPECT_EQ(repr(nn::Softmax(1)), "Softmax(dim=1)");
  EXPECT_EQ(repr(nn::Softmax()), "Softmax(dim=None)");
  EXPECT_EQ(repr(nn::LogSoftmax(-1)), "LogSoftmax(dim=-1)");
  EXPECT_EQ(repr(nn::Dropout()), "Dropout(p=0.5, inplace=False)");
  EXPECT_EQ(repr(nn::Dropout(0.1, {.inplace = true})), "Dropout(p=0.1, inplace=True)");
  EXPECT_EQ(repr(nn::Dropout(0)), "Dropout(p=0.0, inplace=False)");
}

TEST(NnSimpleLayers, PoolingForwardsTheirOptions) {
  wick::manual_seed(3);
  Tensor x = wick::randn({2, 3, 9, 8});
  EXPECT_TRUE(same_values(nn::MaxPool2d(2, 2)(x), F::max_pool2d(x, 2, F::Pair(2))));
  EXPECT_TRUE(
      equal(nn::MaxPool2d(3, {.stride = 2, .padding = 1, .dilation = 2, .ceil_mode = true})(x),
            F::max_pool2d(x, 3, F::Pair(2), 1, 2, true)));
  EXPECT_EQ(nn::MaxPool2d(3, {.stride = 2, .padding = 1, .ceil_mode = true})(x).sizes(),
            wick::Shape({2, 3, 5, 5}));
  Tensor excl = nn::AvgPool2d(3, {.stride = 1, .padding = 1, .count_include_pad = false})(x);
  Tensor incl = nn::AvgPool2d(3, {.stride = 1, .padding = 1})(x);
  EXPECT_TRUE(same_values(excl, F::avg_pool2d(x, 3, F::Pair(1), 1, false, false)));
  EXPECT_FALSE(same_values(excl, incl));  // the corner windows differ
  EXPECT_TRUE(same_values(nn::AvgPool2d(2, {.divisor_override = 3})(x),
                          F::avg_pool2d(x, 2, std::nullopt, 0, false, true, 3)));
  EXPECT_TRUE(
      same_values(nn::AdaptiveAvgPool2d({3, 2})(x), F::adaptive_avg_pool2d(x, F::Pair(3, 2))));
  // None keeps the input's size in that dimension.
  EXPECT_EQ(nn::AdaptiveAvgPool2d({std::nullopt, 2})(x).sizes(), wick::Shape({2, 3, 9, 2}));
  EXPECT_EQ(nn::AdaptiveAvgPool2d({4, std::nullopt})(x).sizes(), wick::Shape({2, 3, 4, 8}));
  EXPECT_TRUE(
      same_values(nn::AdaptiveMaxPool2d({3, 2})(x), F::adaptive_max_pool2d(x, F::Pair(3, 2))));
  EXPECT_EQ(nn::AdaptiveMaxPool2d({std::nullopt, 2})(x).sizes(), wick::Shape({2, 3, 9, 2}));
}

TEST(NnSimpleLayers, PoolingRejectsNonPositiveSizes) {
  EXPECT_THROW(nn::MaxPool2d(0), wick::Error);
  EXPECT_THROW(nn::MaxPool2d(2, {.stride = {1, 0}}), wick::Error);
  EXPECT_THROW(nn::AvgPool2d(-1), wick::Error);
  EXPECT_THROW(nn::AdaptiveAvgPool2d({std::nullopt, 0}), wick::Error);
  EXPECT_THROW(nn::AdaptiveMaxPool2d(0), wick::Error);
}

TEST(NnSimpleLayers, ActivationsMatchTheirFunctions) {
  wick::manual_seed(4);
  Tensor x = wick::randn({4, 5});
  EXPECT_TRUE(same_values(nn::ReLU()(x), wick::relu(x)));
  EXPECT_TRUE(same_values(nn::Sigmoid()(x), wick::sigmoid(x)));
  EXPECT_TRUE(same_values(nn::Tanh()(x), wick::tanh(x)));
  EXPECT_TRUE(same_values(nn::ReLU6()(x * 4.0), wick::relu6(x * 4.0)));
  EXPECT_TRUE(same_values(nn::Hardsigmoid()(x), wick::hardsigmoid(x)));
  EXPECT_TRUE(same_values(nn::Hardswish()(x), wick::hardswish(x)));
  EXPECT_TRUE(same_values(nn::SiLU()(x), wick::silu(x)));
  EXPECT_TRUE(same_values(nn::GELU()(x), wick::gelu(x)));
  EXPECT_TRUE(same_values(nn::GELU("tanh")(x), wick::gelu(x, "tanh")));
  Tensor y = x.clone();
  Tensor out = nn::Hardswish(true)(y);
  EXPECT_TRUE(out.is_same(y));
  EXPECT_TRUE(same_values(y, wick::hardswish(x)));
  EXPECT_TRUE(same_values(nn::Softmax(0)(x), F::softmax(x, 0)));
  EXPECT_TRUE(same_values(nn::LogSoftmax(1)(x), F::log_softmax(x, 1)));
}

TEST(NnSimpleLayers, SoftmaxWithoutDimUsesPyTorchsLegacyChoice) {
  wick::manual_seed(5);
  Tensor x2 = wick::randn({3, 4}), x3 = wick::randn({2, 3, 4}), x4 = wick::randn({2, 3, 4, 5});
  EXPECT_TRUE(same_values(nn::Softmax()(x2), F::softmax(x2, 1)));
  EXPECT_TRUE(same_values(nn::Softmax()(x3), F::softmax(x3, 0)));
  EXPECT_TRUE(same_values(nn::Softmax()(x4), F::softmax(x4, 1)));
  EXPECT_TRUE(same_values(nn::LogSoftmax()(x3), F::log_softmax(x3, 0)));
}

TEST(NnSimpleLayers, ReluInplaceWritesIntoTheInputWhenNothingIsRecorded) {
  Tensor x = wick::tensor<float>({-1, 2, -3, 4});
  Tensor y = nn::ReLU(true)(x);
  EXPECT_TRUE(y.is_same(x));
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>({0, 2, 0, 4}));
  // Not in place: the input is kept.
  Tensor z = wick::tensor<float>({-1, 2});
  nn::ReLU()(z);
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>({-1, 2}));
}

TEST(NnSimpleLayers, ReluInplaceOnATensorThatRequiresGradStaysDifferentiable) {
  Tensor w = wick::tensor<float>({-1, 2, -3, 4});
  w.requires_grad_();
  Tensor y = nn::ReLU(true)(w * 2.0);
  y.sum().backward();
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>({0, 4, 0, 8}));
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>({0, 2, 0, 2}));
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>({-1, 2, -3, 4}));
}

TEST(NnSimpleLayers, StochasticDepthFollowsTorchvision) {
  EXPECT_EQ(repr(nn::StochasticDepth(0.2, "row")), "StochasticDepth(p=0.2, mode=row)");
  EXPECT_EQ(repr(nn::StochasticDepth(0.5, "batch")), "StochasticDepth(p=0.5, mode=batch)");
  EXPECT_THROW(nn::StochasticDepth(1.5, "row"), wick::Error);
  EXPECT_THROW(nn::StochasticDepth(0.1, "col"), wick::Error);
  wick::manual_seed(6);
  Tensor x = wick::randn({64, 3, 2});
  // The identity (the same tensor) when not training or p == 0.
  nn::StochasticDepth sd(0.5, "row");
  sd.eval();
  EXPECT_TRUE(sd(x).is_same(x));
  EXPECT_TRUE(F::stochastic_depth(x, 0.0, "row").is_same(x));
  EXPECT_TRUE(same_values(F::stochastic_depth(x, 1.0, "batch"), wick::zeros({64, 3, 2})));
  // Row mode: each sample is all zero or all x / (1 - p); both happen.
  sd.train();
  Tensor y = sd(x);
  int dropped = 0;
  for (int64_t i = 0; i < 64; ++i) {
    bool zero = same_values(y[i], wick::zeros({3, 2}));
    dropped += zero;
    if (!zero) {
      EXPECT_TRUE(wick::allclose(y[i], x[i] * 2.0));
    }
  }
  EXPECT_GT(dropped, 10);
  EXPECT_LT(dropped, 54);
  // Batch mode: one draw for everything.
  Tensor z = F::stochastic_depth(x, 0.25, "batch");
  EXPECT_TRUE(same_values(z, wick::zeros({64, 3, 2})) || wick::allclose(z, x / 0.75));
}

TEST(NnSimpleLayers, DropoutIsTheIdentityInEval) {
  nn::Dropout drop(0.5);
  EXPECT_TRUE(drop.is_training());
  drop.eval();
  Tensor x = wick::randn({100});
  EXPECT_TRUE(drop(x).is_same(x));
}

TEST(NnSimpleLayers, DropoutInTrainingZeroesAboutPAndScalesTheRest) {
  wick::manual_seed(6);
  const double p = 0.3;
  nn::Dropout drop(p);
  Tensor x = wick::ones({20000});
  auto y = drop(x).to_vector<float>();
  int zeros = 0;
  for (float v : y) {
    if (v == 0) {
      ++zeros;
    } else {
      ASSERT_FLOAT_EQ(v, float(1 / (1 - p)));
    }
  }
  // Binomial(20000, 0.3): standard deviation ~65 zeros.
  EXPECT_NEAR(zeros, 6000, 400);
  EXPECT_TRUE(same_values(nn::Dropout(0)(x), x));
  EXPECT_EQ(nn::Dropout(1)(x).sum().item<double>(), 0.0);
}

TEST(NnSimpleLayers, DropoutFollowsTrainAndEvalOfItsParent) {
  nn::Sequential seq(nn::ReLU(), nn::Dropout(0.9));
  Tensor x = wick::ones({1000});
  seq.eval();
  EXPECT_TRUE(same_values(seq(x), x));
  seq.train();
  EXPECT_FALSE(same_values(seq(x), x));
}

TEST(NnSimpleLayers, DropoutUsesTheGivenGenerator) {
  wick::Generator g1(42), g2(42);
  nn::Dropout a(0.5, {.generator = &g1}), b(0.5, {.generator = &g2});
  Tensor x = wick::ones({64});
  EXPECT_TRUE(same_values(a(x), b(x)));
}

TEST(NnSimpleLayers, DropoutInplace) {
  wick::manual_seed(8);
  Tensor x = wick::ones({1000});
  Tensor y = nn::Dropout(0.5, {.inplace = true})(x);
  EXPECT_TRUE(y.is_same(x));
  EXPECT_LT(x.sum().item<double>(), 1500.0);  // about half zeroed, the rest doubled
  EXPECT_GT(x.sum().item<double>(), 500.0);
  EXPECT_NE(x.to_vector<float>(), std::vector<float>(1000, 1.f));
}

TEST(NnSimpleLayers, DropoutRejectsProbabilitiesOutsideZeroOne) {
  try {
    nn::Dropout(1.5);
    FAIL() << "no error";
  } catch (const wick::Error& e) {
    EXPECT_STREQ(e.what(), "dropout probability has to be between 0 and 1, but got 1.5");
  }
  EXPECT_THROW(nn::Dropout(-0.1), wick::Error);
}

TEST(NnSimpleLayers, NoParametersNoStateButVersionedInMetadata) {
  nn::Sequential seq(nn::MaxPool2d(2), nn::AvgPool2d(2), nn::AdaptiveAvgPool2d(1), nn::ReLU(),
                     nn::Sigmoid(), nn::Tanh(), nn::Softmax(1), nn::LogSoftmax(1), nn::Dropout());
  EXPECT_TRUE(seq.parameters().empty());
  EXPECT_TRUE(seq.buffers().empty());
  nn::StateDict sd = seq.state_dict();
  EXPECT_TRUE(sd.empty());
  EXPECT_EQ(sd.metadata().size(), 10u);  // the Sequential and its nine children
  EXPECT_EQ(seq.at<nn::MaxPool2d>(0).stride.h, 2);
  EXPECT_EQ(seq.at<nn::Dropout>(8).p, 0.5);
  EXPECT_EQ(seq.at<nn::Softmax>(6).name(), "Softmax");
}

}  // namespace
