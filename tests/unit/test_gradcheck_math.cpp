// Finite-difference gradient checks (float64) for every differentiable op of
// wick/ops/*.h, on broadcast, expanded and non-contiguous inputs, plus
// hand-checked gradients at the points finite differences cannot judge (ties,
// relu and abs at 0).
#include <gtest/gtest.h>

#include <cmath>

#include "wick/autograd/gradcheck.h"
#include "wick/core/random.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/join.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

using namespace wick;

namespace {

using Inputs = std::vector<Tensor>;

/// Central differences with eps 1e-6, compared within 1e-6 abs + 1e-5 rel.
void check(const autograd::GradcheckFn& fn, const Inputs& inputs) {
  autograd::GradcheckOptions options{.eps = 1e-6, .atol = 1e-6, .rtol = 1e-5};
  auto r = autograd::gradcheck(fn, inputs, options);
  EXPECT_TRUE(r.ok) << r.message;
}

constexpr TensorOptions kF64{.dtype = DType::Float64};

/// A float64 leaf of normal values.
Tensor leaf(const Shape& sizes) {
  return randn(sizes, kF64).requires_grad_();
}

/// A non-contiguous float64 leaf: the transpose of a [b, a] tensor.
Tensor leaf_t(int64_t a, int64_t b) {
  return randn({b, a}, kF64).t().requires_grad_();
}

/// A float64 leaf with values in [lo, lo + 1).
Tensor positive(const Shape& sizes, double lo = 0.5) {
  return (rand(sizes, kF64) + lo).requires_grad_();
}

std::vector<double> grad_of(const Tensor& t) {
  return t.grad().to_vector<double>();
}

class GradcheckMath : public testing::Test {
 protected:
  void SetUp() override { manual_seed(7); }
};

}  // namespace

TEST_F(GradcheckMath, AddSub) {
  check([](const Inputs& in) { return add(in[0], in[1], 2.5); }, {leaf({2, 3}), leaf({3})});
  check([](const Inputs& in) { return in[0] + in[1]; }, {leaf_t(3, 4), leaf({3, 1})});
  check([](const Inputs& in) { return sub(in[0], in[1], -0.5); }, {leaf({2, 1, 3}), leaf({4, 1})});
  check([](const Inputs& in) { return in[0] - in[1]; }, {leaf_t(2, 3), leaf_t(2, 3)});
  // Only one input requires grad; the other is a constant.
  check([](const Inputs& in) { return in[0] - in[1]; }, {leaf({3}), randn({2, 3}, kF64)});
}

TEST_F(GradcheckMath, MulDiv) {
  check([](const Inputs& in) { return in[0] * in[1]; }, {leaf({2, 1}), leaf({3})});
  check([](const Inputs& in) { return mul(in[0], in[1]); }, {leaf_t(3, 2), leaf_t(3, 2)});
  check([](const Inputs& in) { return in[0] / in[1]; }, {leaf({2, 3}), positive({3})});
  check([](const Inputs& in) { return div(in[0], in[1]); }, {leaf_t(4, 3), positive({4, 1})});
  check([](const Inputs& in) { return in[0] * in[0]; }, {leaf({3})});  // same input twice
}

TEST_F(GradcheckMath, TensorScalarOperators) {
  check([](const Inputs& in) { return in[0] + 2.0; }, {leaf_t(2, 3)});
  check([](const Inputs& in) { return in[0] - 2.0; }, {leaf({3})});
  check([](const Inputs& in) { return 2.0 - in[0]; }, {leaf({3})});
  check([](const Inputs& in) { return in[0] * -3.0; }, {leaf_t(2, 3)});
  check([](const Inputs& in) { return 3.0 * in[0]; }, {leaf({3})});
  check([](const Inputs& in) { return in[0] / 4.0; }, {leaf({3})});
  check([](const Inputs& in) { return 4.0 / in[0]; }, {positive({2, 3})});
  check([](const Inputs& in) { return 1.0 + in[0]; }, {leaf({3})});
  check([](const Inputs& in) { return -in[0]; }, {leaf_t(2, 3)});
  check([](const Inputs& in) { return neg(in[0]); }, {leaf({3})});
}

TEST_F(GradcheckMath, Pow) {
  for (double p : {2.0, 3.0, 0.5, -1.0, -2.0, 1.5, 1.0, 0.0})
    check([p](const Inputs& in) { return pow(in[0], p); }, {positive({2, 3})});
  check([](const Inputs& in) { return in[0].pow(3); }, {leaf_t(3, 2)});  // negative bases
  check([](const Inputs& in) { return pow(in[0], in[1]); }, {positive({2, 3}), leaf({3})});
  check([](const Inputs& in) { return pow(in[0], in[1]); }, {positive({3, 1}), leaf_t(3, 2)});
}

TEST_F(GradcheckMath, MaximumMinimum) {
  check([](const Inputs& in) { return maximum(in[0], in[1]); }, {leaf({2, 3}), leaf({3})});
  check([](const Inputs& in) { return minimum(in[0], in[1]); }, {leaf_t(3, 2), leaf({3, 1})});
}

TEST_F(GradcheckMath, Unary) {
  check([](const Inputs& in) { return abs(in[0]); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return relu(in[0]); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return exp(in[0]); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return log(in[0]); }, {positive({3, 4})});
  check([](const Inputs& in) { return tanh(in[0]); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return sigmoid(in[0]); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return sqrt(in[0]); }, {positive({3, 4})});
  // Members, and an expanded (stride-0) operand inside the function.
  check([](const Inputs& in) { return in[0].expand({3, 4}).tanh() * in[0].exp(); }, {leaf({4})});
  check([](const Inputs& in) { return in[0].relu() + in[0].sigmoid() + in[0].abs(); }, {leaf({5})});
  check([](const Inputs& in) { return in[0].log() + in[0].sqrt(); }, {positive({5})});
}

TEST_F(GradcheckMath, Activations) {
  // Values spread over every piece of the piecewise functions (kinks at -3,
  // 0, 3 and 6), away from the kinks themselves.
  auto spread = [] { return (randn({3, 5}, kF64) * 4.0).requires_grad_(); };
  check([](const Inputs& in) { return relu6(in[0]); }, {spread()});
  check([](const Inputs& in) { return hardsigmoid(in[0]); }, {spread()});
  check([](const Inputs& in) { return hardswish(in[0]); }, {spread()});
  check([](const Inputs& in) { return silu(in[0]); }, {spread()});
  check([](const Inputs& in) { return gelu(in[0]); }, {spread()});
  check([](const Inputs& in) { return gelu(in[0], "tanh"); }, {leaf_t(3, 4)});
  EXPECT_THROW(gelu(leaf({2}), "erf"), Error);
}

TEST_F(GradcheckMath, ActivationGradientsAtTheKinks) {
  // PyTorch's choices, which finite differences cannot judge.
  auto grads = [](Tensor (*f)(const Tensor&)) {
    Tensor z = tensor<double>({-3, 0, 3, 6}).requires_grad_();
    f(z).sum().backward();
    return grad_of(z);
  };
  EXPECT_EQ(grads(relu6), (std::vector<double>{0, 0, 1, 0}));
  EXPECT_EQ(grads(hardsigmoid), (std::vector<double>{0, double(1.0f / 6.0f), 0, 0}));  // as PyTorch
  EXPECT_EQ(grads(hardswish), (std::vector<double>{-0.5, 0.5, 1.5, 1}));
}

TEST_F(GradcheckMath, CatStackChunkSplit) {
  check(
      [](const Inputs& in) {
        return cat({in[0], in[1], in[2]}, 1);
      },
      {leaf({2, 3}), leaf_t(2, 1), leaf({2, 4})});
  check(
      [](const Inputs& in) {
        return cat({in[0], in[1]}, -3) * in[1].sum();
      },
      {leaf({1, 2, 3}), leaf({2, 2, 3})});
  // The same tensor twice: its gradient is the sum of both slices'.
  check([](const Inputs& in) { return cat({in[0], in[0].exp()}, 0); }, {leaf({2, 3})});
  check([](const Inputs& in) { return stack({in[0], in[1]}, -1); }, {leaf_t(3, 2), leaf({3, 2})});
  check(
      [](const Inputs& in) {
        std::vector<Tensor> c = chunk(in[0], 3, -1);
        return c[0] * 2.0 + c[2].exp();
      },
      {leaf({2, 6})});
  check(
      [](const Inputs& in) {
        std::vector<Tensor> s = split(in[0], {1, 3}, 0);
        return s[1].sum({0}) * s[0];
      },
      {leaf_t(4, 3)});
  check([](const Inputs& in) { return split(in[0], 2, 1).back(); }, {leaf({3, 5})});
}

TEST_F(GradcheckMath, Where) {
  Tensor cond = tensor<bool>({true, false, true});
  check([cond](const Inputs& in) { return where(cond, in[0], in[1]); }, {leaf({2, 3}), leaf({3})});
  check([cond](const Inputs& in) { return where(cond, in[0], in[1]); },
        {leaf({2, 1}), leaf_t(2, 3)});
}

TEST_F(GradcheckMath, SumMean) {
  check([](const Inputs& in) { return sum(in[0]); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return sum(in[0], {1}); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return sum(in[0], {0, 2}, true); }, {leaf({2, 3, 4})});
  check([](const Inputs& in) { return in[0].sum({-1}, true); }, {leaf({2, 3})});
  check([](const Inputs& in) { return mean(in[0]); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return mean(in[0], {0}); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return in[0].mean({1, 2}, true); }, {leaf({2, 3, 4})});
  check([](const Inputs& in) { return in[0].expand({2, 3}).sum({0}); }, {leaf({3})});
}

TEST_F(GradcheckMath, Max) {
  // Distinct random values: no ties, so the max is differentiable.
  check([](const Inputs& in) { return max(in[0]); }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return max(in[0], 0).values; }, {leaf_t(3, 4)});
  check([](const Inputs& in) { return max(in[0], 1, true).values; }, {leaf({2, 3, 4})});
  check([](const Inputs& in) { return in[0].max(); }, {leaf({5})});
}

TEST_F(GradcheckMath, Matmul) {
  check([](const Inputs& in) { return matmul(in[0], in[1]); }, {leaf({4}), leaf({4})});
  check([](const Inputs& in) { return matmul(in[0], in[1]); }, {leaf_t(3, 4), leaf({4})});
  check([](const Inputs& in) { return matmul(in[0], in[1]); }, {leaf({3}), leaf_t(3, 2)});
  check([](const Inputs& in) { return matmul(in[0], in[1]); }, {leaf_t(2, 3), leaf_t(3, 4)});
  check([](const Inputs& in) { return in[0].matmul(in[1]); }, {leaf({2, 3}), leaf({3, 2})});
  // Batched with broadcast batch dims, 3-D @ 2-D (folded), 3-D @ 1-D, 1-D @ 3-D.
  check([](const Inputs& in) { return matmul(in[0], in[1]); },
        {leaf({2, 1, 2, 3}), leaf({3, 3, 2})});
  check([](const Inputs& in) { return matmul(in[0], in[1]); }, {leaf({2, 2, 3}), leaf_t(3, 2)});
  check([](const Inputs& in) { return matmul(in[0].transpose(0, 2), in[1]); },
        {leaf({3, 2, 2}), leaf({3, 2})});  // folded rows need a copy
  check([](const Inputs& in) { return matmul(in[0], in[1]); }, {leaf({2, 2, 3}), leaf({3})});
  check([](const Inputs& in) { return matmul(in[0], in[1]); }, {leaf({3}), leaf({2, 3, 2})});
  check(
      [](const Inputs& in) {
        return matmul(in[0].expand({2, 2, 3}), in[1]);
      },
      {leaf({2, 3}), leaf({2, 3, 2})});
}

TEST_F(GradcheckMath, Addmm) {
  check([](const Inputs& in) { return addmm(in[0], in[1], in[2]); },
        {leaf({4}), leaf({2, 3}), leaf({3, 4})});
  check([](const Inputs& in) { return addmm(in[0], in[1], in[2], 0.5, -2.0); },
        {leaf({2, 1}), leaf_t(2, 3), leaf_t(3, 4)});
  check([](const Inputs& in) { return addmm(in[0], in[1], in[2], 0.0, 1.0); },
        {leaf({2, 4}), leaf({2, 3}), leaf({3, 4})});
}

TEST_F(GradcheckMath, Composite) {
  // A small MLP-like expression mixing most ops.
  check(
      [](const Inputs& in) {
        Tensor h = relu(addmm(in[2], in[0], in[1]));
        return (sigmoid(h) * tanh(h) - h / 3.0).pow(2).mean({1});
      },
      {leaf({3, 4}), leaf({4, 5}), leaf({5})});
}

// ---- points where finite differences cannot decide -----------------------------

TEST_F(GradcheckMath, TiesAndKinksFollowPyTorch) {
  Tensor x = tensor<double>({1, 3, 3, 2}).requires_grad_();
  max(x).backward();
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 0.5, 0.5, 0})) << "max(): ties share evenly";

  Tensor y = tensor<double>({1, 3, 3, 2}).requires_grad_();
  max(y, 0).values.backward();
  EXPECT_EQ(grad_of(y), (std::vector<double>{0, 1, 0, 0})) << "max(dim): the returned index";

  Tensor a = tensor<double>({1, 2, 3}).requires_grad_(),
         b = tensor<double>({2, 2, 2}).requires_grad_();
  maximum(a, b).sum().backward();
  EXPECT_EQ(grad_of(a), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(grad_of(b), (std::vector<double>{1, 0.5, 0}));
  a.set_grad(Tensor());
  b.set_grad(Tensor());
  minimum(a, b).sum().backward();
  EXPECT_EQ(grad_of(a), (std::vector<double>{1, 0.5, 0}));
  EXPECT_EQ(grad_of(b), (std::vector<double>{0, 0.5, 1}));

  Tensor z = tensor<double>({-1, 0, 2}).requires_grad_();
  (relu(z) + abs(z)).sum().backward();
  EXPECT_EQ(grad_of(z), (std::vector<double>{-1, 0, 2})) << "relu'(0) = abs'(0) = 0";

  Tensor p = tensor<double>({0, 2}).requires_grad_(), e = tensor<double>({2, 0}).requires_grad_();
  pow(p, e).sum().backward();
  EXPECT_EQ(grad_of(p), (std::vector<double>{0, 0})) << "d/dbase: 2*0^1 = 0, and exponent 0 -> 0";
  EXPECT_EQ(grad_of(e)[0], 0) << "d/dexp at base 0 is masked to 0, as PyTorch does";
  EXPECT_DOUBLE_EQ(grad_of(e)[1], std::log(2.0));
}
