// nn::MultiheadAttention: PyTorch's parameter names, shapes, init and repr, a
// float64 gradient check through the whole layer, and its mask conventions.
// Its values against torch.nn.MultiheadAttention are in the interop tests.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "wick/nn/attention.h"
#include "wick/nn/functional.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/reduce.h"

#include "gradcheck_support.h"

using namespace wick;
using namespace wick::testing;
namespace F = wick::nn::functional;

namespace {

std::string repr(const nn::Module& m) {
  std::ostringstream os;
  os << m;
  return os.str();
}

}  // namespace

TEST(NnAttention, MultiheadAttentionHasPyTorchsStateDict) {
  nn::MultiheadAttention m(8, 2);
  std::vector<std::string> keys;
  for (const auto& [name, t] : m.named_parameters()) keys.push_back(name);
  EXPECT_EQ(keys, (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                            "out_proj.bias"}));
  EXPECT_EQ(m.in_proj_weight.sizes(), Shape({24, 8}));
  EXPECT_TRUE(equal(m.in_proj_bias, zeros({24})));
  EXPECT_TRUE(equal(m.out_proj.bias, zeros({8})));
  EXPECT_EQ(repr(m),
            "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, "
            "out_features=8, bias=True)\n)");
  nn::MultiheadAttention no_bias(6, 3, {.bias = false});
  EXPECT_EQ(no_bias.named_parameters().size(), 2u);
  EXPECT_THROW(nn::MultiheadAttention(8, 3), Error);
}

TEST(NnAttention, MultiheadAttentionShapesAndGradients) {
  manual_seed(9);
  nn::MultiheadAttention m(4, 2, {.batch_first = true});
  m.to(DType::Float64);
  Tensor mask = tensor<bool>({false, false, true, false, false, false}, {2, 3});  // [N, S]
  check([&](const Inputs& in) { return m.forward(in[0], in[1], in[2], mask).first; },
        {leaf({2, 2, 4}), leaf({2, 3, 4}), leaf({2, 3, 4})});
  check([&](const Inputs& in) { return m.forward(in[0], in[0], in[0]).second; }, {leaf({2, 3, 4})});
  auto [out, weights] =
      m.forward(randn({2, 5, 4}, kF64), randn({2, 3, 4}, kF64), randn({2, 3, 4}, kF64), mask);
  EXPECT_EQ(out.sizes(), Shape({2, 5, 4}));
  EXPECT_EQ(weights.sizes(), Shape({2, 5, 3}));
  // The padded key gets no weight; every row sums to 1.
  EXPECT_EQ(weights.select(0, 0).select(1, 2).abs().max().item<double>(), 0.0);
  EXPECT_TRUE(allclose(weights.sum({2}), ones({2, 5}, kF64)));
  // Without need_weights, no weights; per-head weights on request.
  EXPECT_FALSE(m.forward(out, out, out, {}, false).second.defined());
  EXPECT_EQ(m.forward(out, out, out, {}, true, {}, false).second.sizes(), Shape({2, 2, 5, 5}));
}
