// wick::autograd::gradcheck: passes for correct backward rules, fails (naming
// the input, element and values) for wrong ones, and handles non-contiguous
// inputs. The ops here are built in the test from Tensor::at/set and
// autograd::record so that a backward rule can be made deliberately wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "wick/autograd/gradcheck.h"
#include "wick/autograd/graph.h"
#include "wick/core/random.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

using namespace wick;
using autograd::gradcheck;

namespace {

constexpr TensorOptions kF64 = {.dtype = DType::Float64};

Shape unravel(int64_t flat, const Shape& sizes) {
  Shape idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return idx;
}

void for_each_index(const Shape& sizes, const std::function<void(const Shape&)>& f) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  for (int64_t i = 0; i < n; ++i) f(unravel(i, sizes));
}

double get(const Tensor& t, const Shape& i) {
  return t.at(i).to<double>();
}

/// y = x * x elementwise. The backward is 2 x, except that element
/// `wrong_flat` (if >= 0) gets 0 and every element is scaled by `factor` / 2.
Tensor square(const Tensor& x, double factor = 2.0, int64_t wrong_flat = -1) {
  Tensor out = zeros(x.sizes(), kF64);
  for_each_index(x.sizes(), [&](const Shape& i) { out.set(i, get(x, i) * get(x, i)); });
  autograd::record(out, "SquareBackward", {x},
                   [x = x.detach(), factor, wrong_flat](const Tensor& g) {
                     Tensor gi = zeros(x.sizes(), kF64);
                     int64_t flat = 0;
                     for_each_index(x.sizes(), [&](const Shape& i) {
                       gi.set(i, flat++ == wrong_flat ? 0.0 : factor * get(x, i) * get(g, i));
                     });
                     return std::vector<Tensor>{gi};
                   });
  return out;
}

/// Outer product out[i][j] = a[i] * b[j] of two 1-D tensors. With
/// `wrong_b`, b's gradient uses a[0] in place of a[i].
Tensor outer(const Tensor& a, const Tensor& b, bool wrong_b = false) {
  const int64_t m = a.size(0), n = b.size(0);
  Tensor out = zeros({m, n}, kF64);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) out.set({i, j}, get(a, {i}) * get(b, {j}));
  autograd::record(out, "OuterBackward", {a, b},
                   [a = a.detach(), b = b.detach(), m, n, wrong_b](const Tensor& g) {
                     Tensor ga = zeros({m}, kF64), gb = zeros({n}, kF64);
                     for (int64_t i = 0; i < m; ++i)
                       for (int64_t j = 0; j < n; ++j) {
                         ga.set({i}, get(ga, {i}) + get(g, {i, j}) * get(b, {j}));
                         double ai = get(a, {wrong_b ? 0 : i});
                         gb.set({j}, get(gb, {j}) + get(g, {i, j}) * ai);
                       }
                     return std::vector<Tensor>{ga, gb};
                   });
  return out;
}

/// sum(x^3) as a 0-dim tensor, with the right backward 3 x^2.
Tensor sum_cubes(const Tensor& x) {
  double s = 0;
  for_each_index(x.sizes(), [&](const Shape& i) { s += std::pow(get(x, i), 3); });
  Tensor out = full({}, s, kF64);
  autograd::record(out, "SumCubesBackward", {x}, [x = x.detach()](const Tensor& g) {
    Tensor gi = zeros(x.sizes(), kF64);
    double g0 = g.item<double>();
    for_each_index(x.sizes(), [&](const Shape& i) { gi.set(i, 3 * get(x, i) * get(x, i) * g0); });
    return std::vector<Tensor>{gi};
  });
  return out;
}

Tensor leaf(const Shape& sizes) {
  Tensor t = randn(sizes, kF64);
  t.requires_grad_();
  return t;
}

}  // namespace

TEST(Gradcheck, PassesForCorrectElementwiseOp) {
  manual_seed(1);
  auto r = gradcheck([](const std::vector<Tensor>& in) { return square(in[0]); }, {leaf({2, 3})});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_NE(r.message.find("36 Jacobian entries"), std::string::npos) << r.message;
}

TEST(Gradcheck, PassesForCorrectReductionToZeroDim) {
  manual_seed(2);
  auto r = gradcheck([](const std::vector<Tensor>& in) { return sum_cubes(in[0]); }, {leaf({7})});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Gradcheck, FailsForWrongBackwardAndNamesTheWorstElement) {
  manual_seed(3);
  Tensor x = leaf({2, 3});
  x.set({1, 2}, 0.5);  // the wrong element: analytic 0, numeric 2 * 0.5
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) { return square(in[0], 2.0, /*wrong_flat=*/5); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("element [1, 2] (flat 5)"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("output element [1, 2]"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("analytic 0 vs numeric 1 "), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("1 of 36 entries differ"), std::string::npos) << r.message;
}

TEST(Gradcheck, FailsForASlightlyScaledBackward) {
  manual_seed(4);
  // 2.01 x instead of 2 x: a 0.5% error, above rtol 1e-3.
  auto r =
      gradcheck([](const std::vector<Tensor>& in) { return square(in[0], 2.01); }, {leaf({5})});
  EXPECT_FALSE(r.ok) << r.message;
  // The same error passes when the caller loosens rtol past it.
  auto loose = gradcheck([](const std::vector<Tensor>& in) { return square(in[0], 2.01); },
                         {leaf({5})}, {.rtol = 1e-2});
  EXPECT_TRUE(loose.ok) << loose.message;
}

TEST(Gradcheck, NamesTheInputWhoseGradientIsWrong) {
  manual_seed(5);
  Tensor a = leaf({3}), b = leaf({4});
  auto good = gradcheck([](const std::vector<Tensor>& in) { return outer(in[0], in[1]); }, {a, b});
  EXPECT_TRUE(good.ok) << good.message;
  a.set({2}, 5.0);  // make a[2] differ clearly from a[0]
  a.set({0}, -1.0);
  auto bad = gradcheck(
      [](const std::vector<Tensor>& in) { return outer(in[0], in[1], /*wrong_b=*/true); }, {a, b});
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.message.find("input 1 (sizes [4])"), std::string::npos) << bad.message;
}

TEST(Gradcheck, SkipsInputsThatDoNotRequireGrad) {
  manual_seed(6);
  Tensor a = leaf({3});
  Tensor b = randn({4}, kF64);  // a constant: its (deliberately wrong) gradient is not checked
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) { return outer(in[0], in[1], /*wrong_b=*/true); }, {a, b});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_NE(r.message.find("over 1 inputs"), std::string::npos) << r.message;
}

TEST(Gradcheck, PerturbsNonContiguousInputsThroughTheirStrides) {
  manual_seed(7);
  Tensor base = randn({4, 6}, kF64);
  // [3, 4] with strides [2, 6] and offset 1: transposed, stepped, offset.
  Tensor x = base.t().slice(0, 1, 6, 2);
  ASSERT_FALSE(x.is_contiguous());
  ASSERT_EQ(x.storage_offset(), 1);
  x.requires_grad_();
  std::vector<double> before = base.to_vector<double>();
  auto r = gradcheck([](const std::vector<Tensor>& in) { return square(in[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(base.to_vector<double>(), before);  // every element restored, others untouched

  auto bad = gradcheck(
      [](const std::vector<Tensor>& in) { return square(in[0], 2.0, /*wrong_flat=*/6); }, {x});
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.message.find("element [1, 2] (flat 6)"), std::string::npos) << bad.message;
  EXPECT_EQ(base.to_vector<double>(), before);
}

TEST(Gradcheck, RestoresInputsWhenTheFunctionThrows) {
  manual_seed(8);
  Tensor x = leaf({3});
  std::vector<double> before = x.to_vector<double>();
  int calls = 0;
  auto fn = [&calls](const std::vector<Tensor>& in) {
    if (++calls > 1) throw Error("boom");
    return square(in[0]);
  };
  EXPECT_THROW(gradcheck(fn, {x}), Error);
  EXPECT_EQ(x.to_vector<double>(), before);
}

TEST(Gradcheck, RefusesMisuse) {
  auto id = [](const std::vector<Tensor>& in) { return square(in[0]); };
  Tensor f32 = randn({3});
  f32.requires_grad_();
  EXPECT_THROW(gradcheck(id, {f32}), DTypeError);
  EXPECT_THROW(gradcheck(id, {randn({3}, kF64)}), Error);  // nothing requires grad
  Tensor expanded = randn({1, 3}, kF64).expand({4, 3});
  expanded.requires_grad_();
  try {
    gradcheck(id, {expanded});
    ADD_FAILURE() << "an input with a stride-0 dim was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("share memory"), std::string::npos) << e.what();
  }
  Tensor x = leaf({3});
  auto to_f32 = [](const std::vector<Tensor>& in) { return square(in[0]).to(DType::Float32); };
  EXPECT_THROW(gradcheck(to_f32, {x}), DTypeError);
}

TEST(Gradcheck, PassesForLibraryOps) {
  manual_seed(9);
  Tensor a = leaf({3, 4}), b = leaf({4});
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) { return wick::tanh(in[0] * in[1]).sum({1}); }, {a, b});
  EXPECT_TRUE(r.ok) << r.message;
}
