// Finite-difference gradient checks (float64) of nn::functional::layer_norm and
// nn::functional::embedding, the ops behind nn::LayerNorm and nn::Embedding.
#include <gtest/gtest.h>

#include "wick/autograd/gradcheck.h"
#include "wick/autograd/graph.h"
#include "wick/core/random.h"
#include "wick/nn/functional.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

#include "gradcheck_support.h"

using namespace wick;
namespace F = wick::nn::functional;

using namespace wick::testing;

TEST(GradcheckNnOps, LayerNorm) {
  struct Case {
    Shape in, normalized;
  };
  const Case cases[] = {
      {{3, 5}, {5}},
      {{2, 3, 4}, {3, 4}},
      {{4}, {4}},              // one row
      {{2, 2, 3}, {2, 2, 3}},  // the whole tensor
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "input " << c.in << " normalized " << c.normalized);
    check([&](const Inputs& in) { return F::layer_norm(in[0], c.normalized, in[1], in[2]); },
          {leaf(c.in), leaf(c.normalized), leaf(c.normalized)});
    check([&](const Inputs& in) { return F::layer_norm(in[0], c.normalized); }, {leaf(c.in)});
    check([&](const Inputs& in) { return F::layer_norm(in[0], c.normalized, in[1]); },
          {leaf(c.in), leaf(c.normalized)});
    check([&](const Inputs& in) { return F::layer_norm(in[0], c.normalized, Tensor(), in[1]); },
          {leaf(c.in), leaf(c.normalized)});
  }
  // Large eps, a non-contiguous input, and weight/bias only (input fixed).
  check([](const Inputs& in) { return F::layer_norm(in[0], {3}, in[1], in[2], 0.5); },
        {leaf({4, 3}), leaf({3}), leaf({3})});
  Tensor xt = randn({5, 3}, kF64).t().requires_grad_();
  check([](const Inputs& in) { return F::layer_norm(in[0], {5}, in[1], in[2]); },
        {xt, leaf({5}), leaf({5})});
  Tensor fixed = randn({6, 4}, kF64);
  check([&](const Inputs& in) { return F::layer_norm(fixed, {4}, in[0], in[1]); },
        {leaf({4}), leaf({4})});
}

TEST(GradcheckNnOps, LayerNormWeightsTheGradientOfEveryOutput) {
  // A non-uniform upstream gradient: tanh of the output, so the check covers
  // the weight and bias sums over rows with different gradients per row.
  check(
      [](const Inputs& in) {
        return tanh(F::layer_norm(in[0], {2, 3}, in[1], in[2]));
      },
      {leaf({3, 2, 2, 3}), leaf({2, 3}), leaf({2, 3})});
}

TEST(GradcheckNnOps, Embedding) {
  // Repeated indices accumulate into the same row; any index shape.
  Tensor ids = tensor<int64_t>({1, 4, 1, 0, 4, 4}, {2, 3});
  check([&](const Inputs& in) { return F::embedding(ids, in[0]); }, {leaf({5, 3})});
  check([&](const Inputs& in) { return tanh(F::embedding(ids, in[0])); }, {leaf({6, 2})});
  Tensor one = scalar_tensor(int64_t(2));
  check([&](const Inputs& in) { return F::embedding(one, in[0]); }, {leaf({3, 4})});
  // A non-contiguous weight.
  Tensor wt = randn({3, 5}, kF64).t().requires_grad_();
  check([&](const Inputs& in) { return F::embedding(ids, in[0]); }, {wt});
  // A padding row that is not looked up leaves every other gradient intact.
  Tensor no_pad = tensor<int64_t>({1, 2, 2}, {3});
  check([&](const Inputs& in) { return F::embedding(no_pad, in[0], 0); }, {leaf({4, 2})});
}

TEST(GradcheckNnOps, EmbeddingPaddingRowGetsZeroGradient) {
  // Finite differences would see the padding row (the output depends on it);
  // the analytic gradient must not, so this is checked directly.
  Tensor w = leaf({4, 2});
  Tensor ids = tensor<int64_t>({3, 1, 3, 0}, {4});
  Tensor g = autograd::grad({(F::embedding(ids, w, -1) * 2.0).sum()}, {w})[0];
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{2, 2, 2, 2, 0, 0, 0, 0}));
}
