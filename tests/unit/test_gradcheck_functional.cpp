// Finite-difference gradient checks (float64) of every function in
// wick/nn/functional/*.h over its main parameter combinations.
#include <gtest/gtest.h>

#include "wick/autograd/gradcheck.h"
#include "wick/core/random.h"
#include "wick/nn/functional.h"

#include "gradcheck_support.h"

using namespace wick;
namespace F = wick::nn::functional;

using namespace wick::testing;

TEST(GradcheckFunctional, Conv2d) {
  struct Case {
    Shape in, weight;
    F::Pair stride, pad, dil;
    int64_t groups;
  };
  const Case cases[] = {
      {{2, 2, 5, 5}, {3, 2, 3, 3}, 1, 0, 1, 1},  // plain, batch 2
      {{1, 2, 6, 5}, {2, 2, 3, 2}, 2, 0, 1, 1},  // stride 2
      {{2, 2, 4, 4}, {2, 2, 3, 3}, 1, 1, 1, 1},  // padding
      {{1, 2, 7, 7}, {2, 2, 3, 3}, 1, 1, 2, 1},  // dilation 2
      {{2, 4, 4, 5}, {4, 2, 2, 2}, 1, 0, 1, 2},  // groups 2
      {{1, 3, 6, 6}, {3, 1, 3, 3}, {2, 1}, {1, 0}, {1, 2}, 3},
      {{2, 3, 3, 4}, {2, 3, 1, 1}, 1, 0, 1, 1},  // 1x1, no im2col
      // Stride 1 down the rows (unfolded along the width only) with every
      // other option: stride, padding and dilation differing by axis, groups.
      {{2, 4, 6, 7}, {4, 2, 3, 2}, {1, 2}, {2, 1}, {2, 1}, 2},
      {{1, 2, 3, 3}, {2, 2, 1, 1}, 1, 1, 1, 1},  // 1x1 with padding
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "input " << c.in << " weight " << c.weight);
    check(
        [&](const Inputs& in) {
          return F::conv2d(in[0], in[1], in[2], c.stride, c.pad, c.dil, c.groups);
        },
        {leaf(c.in), leaf(c.weight), leaf({c.weight[0]})});
  }
  // Unbatched, no bias, and a non-contiguous input.
  check([](const Inputs& in) { return F::conv2d(in[0], in[1], Tensor(), 1, 1); },
        {leaf({2, 4, 4}), leaf({2, 2, 3, 3})});
  Tensor xt = randn({1, 2, 5, 4}, kF64).transpose(2, 3).requires_grad_();
  check([](const Inputs& in) { return F::conv2d(in[0], in[1]); }, {xt, leaf({2, 2, 2, 2})});
}

TEST(GradcheckFunctional, Linear) {
  check([](const Inputs& in) { return F::linear(in[0], in[1], in[2]); },
        {leaf({3, 4}), leaf({2, 4}), leaf({2})});
  check([](const Inputs& in) { return F::linear(in[0], in[1]); }, {leaf({2, 3, 4}), leaf({5, 4})});
  check([](const Inputs& in) { return F::linear(in[0], in[1], in[2]); },
        {leaf({4}), leaf({3, 4}), leaf({3})});
}

TEST(GradcheckFunctional, MaxPool2d) {
  struct Case {
    Shape in;
    F::Pair k, s, p, d;
    bool ceil;
  };
  const Case cases[] = {
      {{2, 2, 4, 4}, 2, 2, 0, 1, false},
      {{1, 2, 5, 5}, 3, 2, 1, 1, false},
      {{1, 1, 7, 7}, 2, 1, 0, 2, false},
      {{1, 2, 5, 6}, 2, 2, 0, 1, true},
      {{2, 5, 5}, {3, 2}, {2, 1}, {1, 0}, 1, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "input " << c.in);
    check([&](const Inputs& in) { return F::max_pool2d(in[0], c.k, c.s, c.p, c.d, c.ceil); },
          {leaf(c.in)});
  }
}

TEST(GradcheckFunctional, AvgPool2d) {
  struct Case {
    F::Pair k, s, p;
    bool ceil, include_pad;
    std::optional<int64_t> divisor;
  };
  const Case cases[] = {
      {2, 2, 0, false, true, std::nullopt},  {3, 2, 1, false, true, std::nullopt},
      {3, 2, 1, false, false, std::nullopt}, {2, 2, 1, true, true, std::nullopt},
      {3, 2, 1, true, false, std::nullopt},  {{3, 2}, 1, {1, 0}, false, true, 5},
  };
  for (const Case& c : cases) {
    check(
        [&](const Inputs& in) {
          return F::avg_pool2d(in[0], c.k, c.s, c.p, c.ceil, c.include_pad, c.divisor);
        },
        {leaf({2, 2, 5, 6})});
  }
}

TEST(GradcheckFunctional, AdaptiveAvgPool2d) {
  for (F::Pair out : {F::Pair(1), F::Pair(2, 3), F::Pair(3, 4), F::Pair(5, 7)})
    check([&](const Inputs& in) { return F::adaptive_avg_pool2d(in[0], out); },
          {leaf({2, 2, 5, 7})});
  check([](const Inputs& in) { return F::adaptive_avg_pool2d(in[0], 2); }, {leaf({3, 5, 5})});
}

TEST(GradcheckFunctional, AdaptiveMaxPool2d) {
  // Random normal values: no ties, so finite differences see one maximum.
  for (F::Pair out : {F::Pair(1), F::Pair(2, 3), F::Pair(3, 4), F::Pair(5, 7)})
    check([&](const Inputs& in) { return F::adaptive_max_pool2d(in[0], out); },
          {leaf({2, 2, 5, 7})});
  check([](const Inputs& in) { return F::adaptive_max_pool2d(in[0], 2); }, {leaf({3, 5, 5})});
}

TEST(GradcheckFunctional, AdaptiveMaxPool2dGradientGoesToTheFirstMaximum) {
  Tensor x = zeros({1, 1, 2, 3}, {.dtype = DType::Float64}).requires_grad_();
  F::adaptive_max_pool2d(x, F::Pair(1, 2)).sum().backward();
  // Windows: columns [0, 2) and [1, 3); all values tie.
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 0, 0, 0, 0}));
}

TEST(GradcheckFunctional, StochasticDepth) {
  // A fresh generator per call: the same mask on every evaluation.
  for (const char* mode : {"row", "batch"}) {
    check(
        [mode](const Inputs& in) {
          Generator g(11);
          return F::stochastic_depth(in[0], 0.4, mode, true, &g);
        },
        {leaf({6, 2, 3})});
  }
}

TEST(GradcheckFunctional, ScaledDotProductAttention) {
  // Batch and head dims, L != S, Ev != E.
  check([](const Inputs& in) { return F::scaled_dot_product_attention(in[0], in[1], in[2]); },
        {leaf({2, 3, 4, 5}), leaf({2, 3, 6, 5}), leaf({2, 3, 6, 2})});
  // Broadcast key and value over the batch; a float mask (differentiable too).
  check(
      [](const Inputs& in) { return F::scaled_dot_product_attention(in[0], in[1], in[2], in[3]); },
      {leaf({2, 3, 4}), leaf({5, 4}), leaf({5, 3}), leaf({3, 5})});
  Tensor keep = tensor<bool>({true, false, true, true, true, false}, {2, 3});
  check(
      [keep](const Inputs& in) {
        return F::scaled_dot_product_attention(in[0], in[1], in[2], keep, 0, false, 0.7);
      },
      {leaf({2, 2, 4}), leaf({2, 3, 4}), leaf({2, 3, 4})});
  check(
      [](const Inputs& in) {
        return F::scaled_dot_product_attention(in[0], in[1], in[2], {}, 0, true);
      },
      {leaf({3, 4, 2}), leaf({3, 4, 2}), leaf({3, 4, 3})});
}

TEST(GradcheckFunctional, ScaledDotProductAttentionMasks) {
  Tensor q = randn({1, 2, 3}, {.dtype = DType::Float64}),
         k = randn({1, 2, 3}, {.dtype = DType::Float64});
  Tensor v = tensor<double>({1, 10, 100, 1000}, {1, 2, 2});
  // Causal: the first query sees only the first key.
  Tensor out = F::scaled_dot_product_attention(q, k, v, {}, 0, true);
  EXPECT_EQ(out.to_vector<double>()[0], 1);
  EXPECT_EQ(out.to_vector<double>()[1], 10);
  // A bool mask equals the additive mask with -inf.
  Tensor keep = tensor<bool>({true, false, true, true}, {2, 2});
  Tensor add = tensor<double>({0, -INFINITY, 0, 0}, {2, 2});
  EXPECT_TRUE(allclose(F::scaled_dot_product_attention(q, k, v, keep),
                       F::scaled_dot_product_attention(q, k, v, add)));
  EXPECT_THROW(F::scaled_dot_product_attention(q, k, v, keep, 0, true), Error);
  EXPECT_THROW(F::scaled_dot_product_attention(q, k.narrow(2, 0, 2), v), ShapeError);
}

TEST(GradcheckFunctional, BatchNorm) {
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    Tensor rm = randn({3}, kF64), rv = rand({3}, kF64);
    rv.add_(0.5);
    check(
        [&](const Inputs& in) {
          return F::batch_norm(in[0], rm, rv, in[1], in[2], training, 0.1, 1e-5);
        },
        {leaf({4, 3, 2, 2}), leaf({3}), leaf({3})});
    check(
        [&](const Inputs& in) {
          return F::batch_norm(in[0], rm, rv, Tensor(), Tensor(), training);
        },
        {leaf({5, 3})});
  }
}

TEST(GradcheckFunctional, Dropout) {
  for (double p : {0.3, 0.7, 1.0}) {
    // A fresh generator per call keeps the function deterministic.
    check(
        [&](const Inputs& in) {
          Generator g(11);
          return F::dropout(in[0], p, true, &g);
        },
        {leaf({4, 5})});
  }
}

TEST(GradcheckFunctional, SoftmaxAndLogSoftmax) {
  for (int64_t dim : {0, 1, 2}) {
    check([&](const Inputs& in) { return F::softmax(in[0], dim); }, {leaf({3, 4, 2})});
    check([&](const Inputs& in) { return F::log_softmax(in[0], dim); }, {leaf({3, 4, 2})});
  }
}

TEST(GradcheckFunctional, NllLossAndCrossEntropy) {
  Tensor t = tensor<int64_t>({0, 2, 1, 2, 0});
  Tensor w = rand({3}, kF64);
  Tensor t_spatial = randint(0, 4, {2, 3, 2});
  t_spatial.set({1, 1, 0}, int64_t(-100));
  for (auto red : {F::Reduction::None, F::Reduction::Mean, F::Reduction::Sum}) {
    SCOPED_TRACE(int(red));
    for (const Tensor& weight : {Tensor(), w}) {
      for (int64_t ignore : {int64_t(-100), int64_t(2)}) {
        check([&](const Inputs& in) { return F::nll_loss(in[0], t, weight, ignore, red); },
              {leaf({5, 3})});
        check([&](const Inputs& in) { return F::cross_entropy(in[0], t, weight, ignore, red); },
              {leaf({5, 3})});
      }
    }
    check([&](const Inputs& in) { return F::cross_entropy(in[0], t_spatial, Tensor(), -100, red); },
          {leaf({2, 4, 3, 2})});
  }
}

TEST(GradcheckFunctional, MseLoss) {
  for (auto red : {F::Reduction::None, F::Reduction::Mean, F::Reduction::Sum})
    check([&](const Inputs& in) { return F::mse_loss(in[0], in[1], red); },
          {leaf({3, 4}), leaf({3, 4})});
}
