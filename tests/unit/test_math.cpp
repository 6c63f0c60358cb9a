// Tensor math: values on hand-checkable cases, broadcasting, non-contiguous
// inputs, the parallel paths on big tensors (against naive loops), error
// messages, backward node names, and the autograd engine driven through these
// ops.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "wick/autograd/grad_mode.h"
#include "wick/autograd/graph.h"
#include "wick/core/parallel.h"
#include "wick/core/random.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

using namespace wick;
using testing::HasSubstr;

namespace {

Tensor F(const std::vector<float>& v, const Shape& s = {}) {
  return tensor<float>(v, s);
}
Tensor D(const std::vector<double>& v, const Shape& s = {}) {
  return tensor<double>(v, s);
}

std::vector<double> vals(const Tensor& t) {
  return t.to_vector<double>();
}

/// Runs f and returns the message of the exception of type E it throws.
template <class E, class Fn>
std::string error_of(Fn&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

/// Every element of the row-major flattening of `a` and `b` within tol.
void expect_close(const Tensor& a, const Tensor& b, double tol = 1e-6) {
  ASSERT_EQ(a.sizes(), b.sizes());
  auto x = vals(a), y = vals(b);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_NEAR(x[i], y[i], tol * (1 + std::abs(y[i]))) << "element " << i;
}

}  // namespace

// ---- elementwise --------------------------------------------------------------

TEST(MathElementwise, ArithmeticValuesFloat32AndFloat64) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor a = D({1, 2, 3, 4}, {2, 2}).to(dt), b = D({4, 3, 2, 1}, {2, 2}).to(dt);
    EXPECT_EQ(vals(a + b), (std::vector<double>{5, 5, 5, 5}));
    EXPECT_EQ(vals(a - b), (std::vector<double>{-3, -1, 1, 3}));
    EXPECT_EQ(vals(a * b), (std::vector<double>{4, 6, 6, 4}));
    expect_close(a / b, D({0.25, 2.0 / 3.0, 1.5, 4}, {2, 2}));
    EXPECT_EQ(vals(add(a, b, 2)), (std::vector<double>{9, 8, 7, 6}));
    EXPECT_EQ(vals(sub(a, b, 0.5)), (std::vector<double>{-1, 0.5, 2, 3.5}));
    EXPECT_EQ(vals(pow(a, b)), (std::vector<double>{1, 8, 9, 4}));
    EXPECT_EQ(vals(maximum(a, b)), (std::vector<double>{4, 3, 3, 4}));
    EXPECT_EQ(vals(minimum(a, b)), (std::vector<double>{1, 2, 2, 1}));
    EXPECT_EQ((a + b).dtype(), dt);
  }
}

TEST(MathElementwise, TensorScalarKeepsDtypeAndOrder) {
  Tensor a = F({1, 2, 4});
  EXPECT_EQ((a + 1).dtype(), DType::Float32);
  EXPECT_EQ((a * 2.5).dtype(), DType::Float32);
  EXPECT_EQ((a.to(DType::Float64) * 2.5f).dtype(), DType::Float64);
  EXPECT_EQ(vals(a + 1), (std::vector<double>{2, 3, 5}));
  EXPECT_EQ(vals(a - 1), (std::vector<double>{0, 1, 3}));
  EXPECT_EQ(vals(1 - a), (std::vector<double>{0, -1, -3}));
  EXPECT_EQ(vals(a * 2), (std::vector<double>{2, 4, 8}));
  EXPECT_EQ(vals(2 * a), (std::vector<double>{2, 4, 8}));
  EXPECT_EQ(vals(a / 2), (std::vector<double>{0.5, 1, 2}));
  EXPECT_EQ(vals(4 / a), (std::vector<double>{4, 2, 1}));
  EXPECT_EQ(vals(3 + a), (std::vector<double>{4, 5, 7}));
  EXPECT_EQ(vals(-a), (std::vector<double>{-1, -2, -4}));
  EXPECT_EQ(vals(a.pow(2)), (std::vector<double>{1, 4, 16}));
  EXPECT_EQ(vals(a.pow(0.5)), (std::vector<double>{1, std::sqrt(2.0f), 2}));
  EXPECT_EQ(vals(a.pow(-1)), (std::vector<double>{1, 0.5, 0.25}));
  expect_close(a.pow(1.5), D({1, std::pow(2.0, 1.5), 8}), 1e-6);
}

TEST(MathElementwise, BroadcastingLikePyTorch) {
  Tensor m = D({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = D({10, 20, 30});
  Tensor col = D({100, 200}, {2, 1});
  EXPECT_EQ(vals(m + row), (std::vector<double>{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ(vals(m + col), (std::vector<double>{101, 102, 103, 204, 205, 206}));
  Tensor outer = col * row;  // [2, 1] x [3] -> [2, 3]
  EXPECT_EQ(outer.sizes(), (Shape{2, 3}));
  EXPECT_EQ(vals(outer), (std::vector<double>{1000, 2000, 3000, 2000, 4000, 6000}));
  Tensor s = scalar_tensor(2.0, DType::Float64);
  EXPECT_EQ(vals(m * s), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ((s * s).dim(), 0);
  Tensor three = zeros({4, 1, 3}, {.dtype = DType::Float64});
  EXPECT_EQ((three + col).sizes(), (Shape{4, 2, 3}));
  EXPECT_EQ((zeros({0, 3}, {.dtype = DType::Float64}) + row).sizes(), (Shape{0, 3}));
}

TEST(MathElementwise, NonContiguousInputsMatchContiguous) {
  manual_seed(1);
  Tensor base = randn({6, 8}, {.dtype = DType::Float64});
  Tensor other = randn({8, 6}, {.dtype = DType::Float64});
  Tensor t = other.t();                                      // transposed
  Tensor s = base.slice(1, 1, 8, 2);                         // [6, 4] with stride 2
  Tensor e = base.select(1, 0).unsqueeze(1).expand({6, 4});  // stride 0
  ASSERT_FALSE(t.is_contiguous());
  ASSERT_FALSE(s.is_contiguous());
  expect_close(base * t, base * t.contiguous());
  expect_close(t + t, t.contiguous() * 2.0);
  expect_close(s - e, s.contiguous() - e.contiguous());
  expect_close(div(s, e), div(s.contiguous(), e.contiguous()));
  expect_close(exp(t), exp(t.contiguous()));
  expect_close(sigmoid(s), sigmoid(s.contiguous()));
  expect_close(maximum(s, e), maximum(s.contiguous(), e.contiguous()));
  // Spot-check one element by hand.
  EXPECT_DOUBLE_EQ((s - e).at({2, 3}).to<double>(),
                   base.at({2, 7}).to<double>() - base.at({2, 0}).to<double>());
}

TEST(MathElementwise, BigStridedTensorsMatchNaiveLoops) {
  // Large enough for the parallel chunked paths, odd sizes so that chunks cut
  // rows in the middle.
  set_num_threads(2);
  manual_seed(2);
  Tensor a = randn({301, 257}).t();  // [257, 301], transposed
  Tensor b = randn({301});
  Tensor out = a * b + a;
  auto av = a.to_vector<float>(), bv = b.to_vector<float>(), ov = out.to_vector<float>();
  for (int64_t i = 0; i < 257; ++i)
    for (int64_t j = 0; j < 301; ++j) {
      float want = av[size_t(i * 301 + j)] * bv[size_t(j)] + av[size_t(i * 301 + j)];
      ASSERT_FLOAT_EQ(ov[size_t(i * 301 + j)], want) << i << "," << j;
    }
  Tensor r = relu(a);
  auto rv = r.to_vector<float>();
  for (size_t i = 0; i < rv.size(); ++i) ASSERT_EQ(rv[i], std::max(av[i], 0.0f));
}

TEST(MathUnary, Values) {
  Tensor x = D({-2, 0, 0.5, 3});
  EXPECT_EQ(vals(relu(x)), (std::vector<double>{0, 0, 0.5, 3}));
  EXPECT_EQ(vals(abs(x)), (std::vector<double>{2, 0, 0.5, 3}));
  EXPECT_EQ(vals(neg(x)), (std::vector<double>{2, -0.0, -0.5, -3}));
  expect_close(exp(x), D({std::exp(-2.0), 1, std::exp(0.5), std::exp(3.0)}), 1e-15);
  expect_close(tanh(x), D({std::tanh(-2.0), 0, std::tanh(0.5), std::tanh(3.0)}), 1e-15);
  expect_close(
      sigmoid(x),
      D({1 / (1 + std::exp(2.0)), 0.5, 1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-3.0))}), 1e-15);
  Tensor p = D({1, 4, 9});
  EXPECT_EQ(vals(sqrt(p)), (std::vector<double>{1, 2, 3}));
  expect_close(log(p), D({0, std::log(4.0), std::log(9.0)}), 1e-15);
  EXPECT_TRUE(std::isnan(log(D({-1})).item<double>()));
  EXPECT_TRUE(std::isnan(relu(D({std::nan("")})).item<double>())) << "relu keeps NaN";
  Tensor f = F({-1, 2});
  EXPECT_EQ(f.relu().dtype(), DType::Float32);
  EXPECT_EQ(vals(f.exp()), (std::vector<double>{std::exp(-1.0f), std::exp(2.0f)}));
}

TEST(MathElementwise, WhereSelectsAndBroadcasts) {
  Tensor c = tensor<bool>({true, false, true});
  Tensor a = D({1, 2, 3}), b = D({-1, -2, -3});
  EXPECT_EQ(vals(where(c, a, b)), (std::vector<double>{1, -2, 3}));
  Tensor s = scalar_tensor(0.0, DType::Float64);
  EXPECT_EQ(vals(where(gt(a, 1.5), a, s)), (std::vector<double>{0, 2, 3}));
  Tensor col = D({10, 20}, {2, 1});
  EXPECT_EQ(where(c, col, b).sizes(), (Shape{2, 3}));
  EXPECT_EQ(vals(where(c, col, b)), (std::vector<double>{10, -2, 10, 20, -2, 20}));
}

// ---- comparisons ----------------------------------------------------------------

TEST(MathCompare, ResultsAreBoolAndAcceptAnyDtypes) {
  Tensor a = D({1, 2, 3}), b = D({3, 2, 1});
  Tensor lt_ab = lt(a, b);
  EXPECT_EQ(lt_ab.dtype(), DType::Bool);
  EXPECT_EQ(lt_ab.to_vector<bool>(), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(le(a, b).to_vector<bool>(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(gt(a, b).to_vector<bool>(), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(ge(a, b).to_vector<bool>(), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(eq(a, b).to_vector<bool>(), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(ne(a, b).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  Tensor i = tensor<int64_t>({1, 2, 5});
  EXPECT_EQ(eq(i, a).to_vector<bool>(), (std::vector<bool>{true, true, false})) << "int vs float";
  EXPECT_EQ(eq(i, tensor<int64_t>({1, 0, 5})).to_vector<bool>(),
            (std::vector<bool>{true, false, true}));
  EXPECT_EQ(gt(i, 1.5).to_vector<bool>(), (std::vector<bool>{false, true, true}))
      << "an integer tensor against a fractional scalar compares exactly";
  EXPECT_EQ(eq(tensor<bool>({true, false}), true).to_vector<bool>(),
            (std::vector<bool>{true, false}));
  EXPECT_EQ(lt(a, 2).to_vector<bool>(), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(eq(D({1, 2}, {2, 1}), D({1, 2})).sizes(), (Shape{2, 2}));
  EXPECT_EQ(eq(D({std::nan("")}), D({std::nan("")})).item<bool>(), false);
}

TEST(MathCompare, EqualAndAllclose) {
  Tensor a = D({1, 2, 3});
  EXPECT_TRUE(equal(a, D({1, 2, 3})));
  EXPECT_TRUE(equal(a, tensor<int64_t>({1, 2, 3})));
  EXPECT_FALSE(equal(a, D({1, 2, 4})));
  EXPECT_FALSE(equal(a, D({1, 2, 3}, {3, 1}))) << "sizes differ";
  EXPECT_TRUE(equal(D({1, 2, 3, 4}, {2, 2}).t(), D({1, 3, 2, 4}, {2, 2})));
  EXPECT_TRUE(allclose(a, a + 1e-9));
  EXPECT_FALSE(allclose(a, a + 1e-3));
  EXPECT_TRUE(allclose(a, a + 1e-3, 0, 2e-3));
  EXPECT_TRUE(allclose(D({1000}), D({1000.001}), 1e-5));
  EXPECT_FALSE(allclose(D({std::nan("")}), D({std::nan("")})));
  double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(allclose(D({inf}), D({inf})));
  EXPECT_FALSE(allclose(D({inf}), D({-inf})));
  EXPECT_TRUE(allclose(F({1, 2}), D({1, 2})));
}

// ---- in-place -------------------------------------------------------------------

TEST(MathInplace, ArithmeticBroadcastsIntoSelf) {
  Tensor x = D({1, 2, 3, 4, 5, 6}, {2, 3});
  x.add_(D({1, 1, 1}));
  EXPECT_EQ(vals(x), (std::vector<double>{2, 3, 4, 5, 6, 7}));
  x.sub_(D({1, 2}, {2, 1}), 2);
  EXPECT_EQ(vals(x), (std::vector<double>{0, 1, 2, 1, 2, 3}));
  x.mul_(D({2, 3, 4}));
  EXPECT_EQ(vals(x), (std::vector<double>{0, 3, 8, 2, 6, 12}));
  x.div_(D({2}));
  EXPECT_EQ(vals(x), (std::vector<double>{0, 1.5, 4, 1, 3, 6}));
  x.add_(1).mul_(2).div_(4);
  EXPECT_EQ(vals(x), (std::vector<double>{0.5, 1.25, 2.5, 1, 2, 3.5}));
  x.addcmul_(D({1, 1, 1}), D({2, 2, 2}), 0.5);  // += 0.5 * 1 * 2
  EXPECT_EQ(vals(x), (std::vector<double>{1.5, 2.25, 3.5, 2, 3, 4.5}));
  x.addcdiv_(D({3, 3, 3}), D({1, 2, 3}, {1, 3}), -1);  // -= 3 / [1, 2, 3]
  EXPECT_EQ(vals(x), (std::vector<double>{-1.5, 0.75, 2.5, -1, 1.5, 3.5}));
  Tensor f = F({1, 2});
  f.add_(F({1, 1}), 0.5);
  EXPECT_EQ(vals(f), (std::vector<double>{1.5, 2.5}));
}

TEST(MathInplace, NonContiguousDestinationAndIntegers) {
  Tensor m = zeros({3, 4}, {.dtype = DType::Float64});
  Tensor col = m.select(1, 2);  // stride 4
  col.add_(D({1, 2, 3}));
  EXPECT_EQ(vals(m.select(1, 2)), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(sum(m).item<double>(), 6) << "only the column was written";
  Tensor t = m.t();
  t.mul_(2.0).add_(D({1, 1, 1}));  // [4, 3] += [3]
  EXPECT_EQ(m.at({2, 2}).to<double>(), 7);
  EXPECT_EQ(m.at({0, 0}).to<double>(), 1);
  Tensor n = tensor<int64_t>({0});
  n.add_(1);
  n.add_(1);
  EXPECT_EQ(n.item<int64_t>(), 2);
  n.add_(tensor<int64_t>({5}), 2);
  EXPECT_EQ(n.item<int64_t>(), 12);
  // Big enough for the parallel strided path: [300, 200] view += [200].
  Tensor big = zeros({200, 300});
  big.t().add_(arange(200, DType::Float32));
  EXPECT_EQ(big.at({199, 0}).to<float>(), 199.0f);
  EXPECT_EQ(big.at({7, 299}).to<float>(), 7.0f);
  EXPECT_EQ(sum(big).item<double>(), 300.0 * 199 * 200 / 2);
}

TEST(MathInplace, OverlappingSourceIsReadBeforeWriting) {
  Tensor x = D({1, 2, 3, 4}, {2, 2});
  x.add_(x.t());  // x + x^T, as if computed out of place
  EXPECT_EQ(vals(x), (std::vector<double>{2, 5, 5, 8}));
  Tensor y = D({1, 2, 3, 4}, {2, 2});
  y.mul_(y);
  EXPECT_EQ(vals(y), (std::vector<double>{1, 4, 9, 16}));
  Tensor z = D({1, 2, 3, 4}, {2, 2});
  z.add_(z[0]);  // every row += the old first row
  EXPECT_EQ(vals(z), (std::vector<double>{2, 4, 4, 6}));
}

TEST(MathInplace, Errors) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(error_of<ShapeError>([&] { x.add_(zeros({3, 3})); }), HasSubstr("add_"));
  EXPECT_THAT(error_of<ShapeError>([&] { x.add_(zeros({2, 2, 3})); }), HasSubstr("[2, 3]"));
  EXPECT_THAT(error_of<DTypeError>([&] { x.add_(zeros({3}, {.dtype = DType::Float64})); }),
              HasSubstr("float64"));
  EXPECT_THAT(error_of<DTypeError>([&] { tensor<int64_t>({1}).div_(2); }), HasSubstr("div_"));
  EXPECT_THAT(error_of<DTypeError>([&] { tensor<int64_t>({1}).add_(0.5); }), HasSubstr("add_"));
  EXPECT_THAT(error_of<DTypeError>([&] { tensor<int64_t>({1}).add_(tensor<int64_t>({1}), 0.5); }),
              HasSubstr("alpha"));
  EXPECT_THAT(error_of<Error>([&] { zeros({1}).expand({3}).add_(1); }),
              HasSubstr("single memory location"));
  Tensor leaf = zeros({2}, {.requires_grad = true});
  EXPECT_THAT(error_of<Error>([&] { leaf.add_(1); }), HasSubstr("leaf"));
  EXPECT_THAT(error_of<Error>([&] { leaf.mul_(ones({2})); }), HasSubstr("mul_"));
  EXPECT_THAT(error_of<Error>([&] { leaf.addcmul_(ones({2}), ones({2})); }), HasSubstr("addcmul_"));
  {
    NoGradGuard no_grad;
    leaf.add_(1);  // allowed: optimizer step
  }
  EXPECT_EQ(vals(leaf), (std::vector<double>{1, 1}));
}

// ---- errors ---------------------------------------------------------------------

TEST(MathErrors, ShapeAndDtypeMessagesNameTheOp) {
  Tensor a = zeros({2, 3}), b = zeros({4, 5});
  std::string msg = error_of<ShapeError>([&] { a + zeros({4}); });
  EXPECT_THAT(msg, HasSubstr("add"));
  EXPECT_THAT(msg, HasSubstr("[2, 3]"));
  EXPECT_THAT(msg, HasSubstr("[4]"));
  EXPECT_THAT(error_of<ShapeError>([&] { mul(a, b); }), HasSubstr("mul"));
  EXPECT_THAT(error_of<ShapeError>([&] { where(tensor<bool>({true}), a, b); }), HasSubstr("where"));
  msg = error_of<DTypeError>([&] { a + zeros({2, 3}, {.dtype = DType::Float64}); });
  EXPECT_THAT(msg, HasSubstr("add"));
  EXPECT_THAT(msg, HasSubstr("float32"));
  EXPECT_THAT(msg, HasSubstr("float64"));
  EXPECT_THAT(msg, HasSubstr(".to("));
  msg = error_of<DTypeError>([&] { exp(tensor<int64_t>({1})); });
  EXPECT_THAT(msg, HasSubstr("exp"));
  EXPECT_THAT(msg, HasSubstr("int64"));
  EXPECT_THAT(error_of<DTypeError>([&] { tensor<int64_t>({1}) * 2; }), HasSubstr("mul"));
  EXPECT_THAT(error_of<DTypeError>([&] { relu(tensor<Half>({Half(1.0f)})); }),
              HasSubstr("float16"));
  EXPECT_THAT(error_of<DTypeError>([&] { where(a, a, a); }), HasSubstr("where"));
  EXPECT_THAT(error_of<DTypeError>([&] {
                lt(tensor<std::complex<float>>({{1, 1}}), tensor<float>({1}));
              }),
              HasSubstr("lt"));
}

// ---- reductions -----------------------------------------------------------------

TEST(MathReduce, SumAndMeanOverDims) {
  Tensor x = D({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(sum(x).item<double>(), 21);
  EXPECT_EQ(sum(x).dim(), 0);
  EXPECT_EQ(vals(sum(x, {0})), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(vals(sum(x, {1})), (std::vector<double>{6, 15}));
  EXPECT_EQ(vals(sum(x, {-1})), (std::vector<double>{6, 15}));
  EXPECT_EQ(sum(x, {1}, true).sizes(), (Shape{2, 1}));
  EXPECT_EQ(sum(x, {0, 1}).item<double>(), 21);
  EXPECT_EQ(sum(x, {0, 1}, true).sizes(), (Shape{1, 1}));
  EXPECT_EQ(sum(x, {}).item<double>(), 21) << "empty dims reduce everything, as in PyTorch 1.13";
  EXPECT_EQ(mean(x).item<double>(), 3.5);
  EXPECT_EQ(vals(mean(x, {0})), (std::vector<double>{2.5, 3.5, 4.5}));
  EXPECT_EQ(vals(x.mean({1}, true)), (std::vector<double>{2, 5}));
  EXPECT_EQ(x.t().sum({0}).sizes(), (Shape{2}));
  EXPECT_EQ(vals(x.t().sum({0})), (std::vector<double>{6, 15}));
  Tensor cube = arange(24, DType::Float64).view({2, 3, 4});
  // sum over dims 0 and 2: for middle index j, sum of i*12 + j*4 + k
  EXPECT_EQ(vals(sum(cube, {0, 2})), (std::vector<double>{60, 92, 124}));
  EXPECT_EQ(vals(sum(cube.permute({2, 0, 1}), {1, 0})), (std::vector<double>{60, 92, 124}));
  EXPECT_EQ(vals(sum(cube, {1})), vals(sum(cube.contiguous(), {1})));
  EXPECT_EQ(sum(scalar_tensor(2.5)).item<float>(), 2.5f);
  EXPECT_EQ(sum(zeros({0, 3})).item<float>(), 0.0f);
  EXPECT_TRUE(std::isnan(mean(zeros({0})).item<float>()));
  Tensor i = tensor<int64_t>({1, 2, 3});
  EXPECT_EQ(sum(i).dtype(), DType::Int64);
  EXPECT_EQ(sum(i).item<int64_t>(), 6);
  EXPECT_EQ(sum(tensor<bool>({true, false, true})).item<int64_t>(), 2);
  EXPECT_EQ(sum(tensor<int32_t>({1, 2, 3, 4}, {2, 2}), {0}).to_vector<int64_t>(),
            (std::vector<int64_t>{4, 6}));
}

TEST(MathReduce, Float32SumAccumulatesInDouble) {
  // [1e8, 1, 1, ..., 1, -1e8]: a float32 running sum cannot add 1 to 1e8
  // (the spacing there is 8) and would return 0; the exact sum is the count.
  const int64_t ones_count = 1000;
  std::vector<float> v(size_t(ones_count + 2), 1.0f);
  v.front() = 1e8f;
  v.back() = -1e8f;
  Tensor x = F(v);
  EXPECT_EQ(sum(x).item<float>(), float(ones_count));
  EXPECT_FLOAT_EQ(mean(x).item<float>(), float(ones_count) / float(ones_count + 2));
  // The same down columns (the accumulate-rows path) and along rows.
  Tensor cols = x.view({-1, 1}).expand({ones_count + 2, 3}).contiguous();
  EXPECT_EQ(vals(sum(cols, {0})), (std::vector<double>(3, double(ones_count))));
  EXPECT_EQ(vals(sum(cols.t(), {1})), (std::vector<double>(3, double(ones_count))));
  EXPECT_EQ(vals(sum(cols.t().contiguous(), {1})), (std::vector<double>(3, double(ones_count))));
  // 0.1f summed 10^6 times: a float accumulator drifts by ~1e-3 relative.
  Tensor tenth = full({1000000}, 0.1f);
  double want = 1000000 * double(0.1f);
  EXPECT_NEAR(sum(tenth).item<double>(), want, want * 1e-7);
}

TEST(MathReduce, BigStridedSumsMatchNaiveLoops) {
  set_num_threads(2);
  manual_seed(3);
  Tensor x = randn({70, 130, 11}, {.dtype = DType::Float64}).permute({2, 0, 1});  // [11, 70, 130]
  auto v = x.contiguous().to_vector<double>();
  for (Shape dims : {Shape{0}, Shape{1}, Shape{2}, Shape{0, 2}, Shape{1, 2}, Shape{0, 1}}) {
    Tensor s = sum(x, dims, true);
    // Naive reference: add every element into its output slot.
    Shape keep = {11, 70, 130};
    for (int64_t d : dims) keep[size_t(d)] = 1;
    std::vector<double> want(size_t(keep[0] * keep[1] * keep[2]), 0.0);
    for (int64_t a = 0; a < 11; ++a)
      for (int64_t b = 0; b < 70; ++b)
        for (int64_t c = 0; c < 130; ++c) {
          int64_t i = keep[0] == 1 ? 0 : a, j = keep[1] == 1 ? 0 : b, k = keep[2] == 1 ? 0 : c;
          want[size_t((i * keep[1] + j) * keep[2] + k)] += v[size_t((a * 70 + b) * 130 + c)];
        }
    ASSERT_EQ(s.sizes(), keep);
    auto got = vals(s);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-9) << dims << " " << i;
  }
  // Fixed chunking: the result does not depend on the thread count.
  Tensor f = x.to(DType::Float32);
  set_num_threads(1);
  float one = sum(f).item<float>();
  set_num_threads(2);
  EXPECT_EQ(sum(f).item<float>(), one);
  double all = 0;
  for (double e : v) all += e;
  EXPECT_NEAR(sum(x).item<double>(), all, 1e-9);
}

TEST(MathReduce, MaxAndArgmax) {
  Tensor x = D({1, 5, 5, 2, 0, 3}, {2, 3});
  EXPECT_EQ(max(x).item<double>(), 5);
  EXPECT_EQ(argmax(x).item<int64_t>(), 1) << "first index on ties";
  EXPECT_EQ(argmax(x).dtype(), DType::Int64);
  auto [v0, i0] = max(x, 0);
  EXPECT_EQ(vals(v0), (std::vector<double>{2, 5, 5}));
  EXPECT_EQ(i0.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0}));
  auto [v1, i1] = max(x, 1, true);
  EXPECT_EQ(v1.sizes(), (Shape{2, 1}));
  EXPECT_EQ(vals(v1), (std::vector<double>{5, 3}));
  EXPECT_EQ(i1.to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(argmax(x, -1, true).sizes(), (Shape{2, 1}));
  EXPECT_EQ(x.t().argmax().item<int64_t>(), 2) << "index into the row-major flattening of x.t()";
  EXPECT_EQ(argmax(x.t(), 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(
      max(D({1, std::nan(""), 3})).item<double>() != max(D({1, std::nan(""), 3})).item<double>(),
      true)
      << "NaN propagates";
  EXPECT_EQ(argmax(D({1, std::nan(""), 3})).item<int64_t>(), 1);
  EXPECT_EQ(argmax(tensor<int64_t>({3, 9, 9})).item<int64_t>(), 1);
  EXPECT_EQ(max(scalar_tensor(4.0)).item<float>(), 4.0f);
  EXPECT_EQ(max(scalar_tensor(4.0), 0).values.dim(), 0);
  EXPECT_EQ(x.max().item<double>(), 5);
}

TEST(MathReduce, BigArgmaxFindsFirstMaximumAcrossChunks) {
  set_num_threads(2);
  Tensor x = zeros({100000});
  x.set({70001}, 3.0);
  x.set({99999}, 3.0);
  x.set({5}, 2.0);
  EXPECT_EQ(argmax(x).item<int64_t>(), 70001);
  EXPECT_EQ(max(x).item<float>(), 3.0f);
  Tensor y = zeros({400, 300}).t();  // [300, 400], transposed
  y.set({299, 1}, 1.0);
  EXPECT_EQ(argmax(y).item<int64_t>(), 299 * 400 + 1);
  EXPECT_EQ(argmax(y, 0).at({1}).to<int64_t>(), 299);
  EXPECT_EQ(argmax(y, 1).at({299}).to<int64_t>(), 1);
}

TEST(MathReduce, Errors) {
  EXPECT_THAT(error_of<DTypeError>([] {
                mean(tensor<int64_t>({1, 2}));
              }),
              HasSubstr("mean(): could not infer output dtype"));
  EXPECT_THAT(error_of<IndexError>([] { sum(zeros({2, 3}), {2}); }), HasSubstr("sum"));
  EXPECT_THAT(error_of<IndexError>([] { sum(zeros({2, 3}), {1, -1}); }), HasSubstr("multiple"));
  EXPECT_THAT(error_of<IndexError>([] { max(zeros({0})); }), HasSubstr("max"));
  EXPECT_THAT(error_of<IndexError>([] { max(zeros({2, 0}), 1); }), HasSubstr("max"));
  EXPECT_THAT(error_of<IndexError>([] { argmax(zeros({2}), 1); }), HasSubstr("max"));
  EXPECT_THAT(error_of<DTypeError>([] { sum(tensor<Half>({Half(1.0f)})); }), HasSubstr("sum"));
}

// ---- matmul ---------------------------------------------------------------------

TEST(MathMatmul, AllRanksAgreeWithHandComputedProducts) {
  Tensor a = D({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = D({1, 0, 0, 1, 1, 1}, {3, 2});
  EXPECT_EQ(vals(matmul(a, b)), (std::vector<double>{4, 5, 10, 11}));
  Tensor v = D({1, 1, 1});
  EXPECT_EQ(matmul(v, v).dim(), 0);
  EXPECT_EQ(matmul(v, v).item<double>(), 3);
  EXPECT_EQ(vals(matmul(a, v)), (std::vector<double>{6, 15}));            // mv
  EXPECT_EQ(vals(matmul(D({1, 1}), a)), (std::vector<double>{5, 7, 9}));  // vm
  // Batched: [2, 2, 3] @ [3, 2], then [2, 2, 3] @ [1, 3, 2] (broadcast batch).
  Tensor a3 = D({1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12}, {2, 2, 3});  // [a, 2a]
  EXPECT_EQ(matmul(a3, b).sizes(), (Shape{2, 2, 2}));
  EXPECT_EQ(vals(matmul(a3, b)), (std::vector<double>{4, 5, 10, 11, 8, 10, 20, 22}));
  EXPECT_EQ(vals(matmul(a3, b.unsqueeze(0))), vals(matmul(a3, b)));
  EXPECT_EQ(matmul(a3, v).sizes(), (Shape{2, 2}));
  EXPECT_EQ(vals(matmul(a3, v)), (std::vector<double>{6, 15, 12, 30}));
  EXPECT_EQ(matmul(D({1, 1}), a3).sizes(), (Shape{2, 3}));
  EXPECT_EQ(vals(matmul(D({1, 1}), a3)), (std::vector<double>{5, 7, 9, 10, 14, 18}));
  Tensor b4 = b.unsqueeze(0).unsqueeze(0).expand({3, 1, 3, 2});  // [3, 1, 3, 2]
  Tensor r = matmul(a3, b4);                                     // -> [3, 2, 2, 2]
  EXPECT_EQ(r.sizes(), (Shape{3, 2, 2, 2}));
  EXPECT_EQ(vals(r[2]), vals(matmul(a3, b)));
  EXPECT_EQ(a.matmul(b).sizes(), (Shape{2, 2}));
  EXPECT_EQ(matmul(zeros({2, 0}), zeros({0, 3})).to_vector<float>(), std::vector<float>(6, 0.0f))
      << "k = 0 gives zeros";
  EXPECT_EQ(matmul(zeros({0, 2}), zeros({2, 3})).sizes(), (Shape{0, 3}));
}

TEST(MathMatmul, NonContiguousOperands) {
  manual_seed(4);
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor a = randn({5, 4}, {.dtype = dt}), b = randn({3, 5}, {.dtype = dt});
    Tensor want = matmul(a.t().contiguous(), b.t().contiguous());
    double tol = dt == DType::Float32 ? 1e-5 : 1e-12;
    expect_close(matmul(a.t(), b.t()), want, tol);  // both transposed: BLAS trans flags
    expect_close(matmul(a.t(), b.t().contiguous()), want, tol);
    Tensor big = randn({8, 10}, {.dtype = dt});
    Tensor s = big.slice(0, 0, 4).slice(1, 0, 10, 2);  // [4, 5], strides [10, 2]: BLAS can't
    expect_close(matmul(s, a), matmul(s.contiguous(), a), tol);
    Tensor strided_vec = big.select(1, 3).slice(0, 0, 5);  // 1-D with stride 10
    expect_close(matmul(b, strided_vec), matmul(b, strided_vec.contiguous()), tol);
    expect_close(matmul(strided_vec, a), matmul(strided_vec.contiguous(), a), tol);
    Tensor batch = randn({4, 2, 5}, {.dtype = dt}).permute({2, 1, 0});  // [5, 2, 4]
    Tensor w = randn({4, 3}, {.dtype = dt});
    expect_close(matmul(batch, w), matmul(batch.contiguous(), w), tol);  // folded rows copy
    // Rows that only look mergeable: the size-1 dim's stride is not the span
    // of the dims inside it.
    Tensor odd = randn({24}, {.dtype = dt}).as_strided({2, 1, 3, 4}, {7, 7, 4, 1});
    expect_close(matmul(odd, w), matmul(odd.contiguous(), w), tol);
    Tensor c = randn({5, 2, 3}, {.dtype = dt});
    expect_close(matmul(batch.transpose(1, 2), c), matmul(batch.transpose(1, 2).contiguous(), c),
                 tol);  // batched, each matrix transposed
  }
}

TEST(MathMatmul, ErrorsNameTheOpAndSizes) {
  std::string msg = error_of<ShapeError>([] { matmul(zeros({2, 3}), zeros({4, 5})); });
  EXPECT_THAT(msg, HasSubstr("matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"));
  EXPECT_THAT(msg, HasSubstr("[2, 3] and [4, 5]"));
  EXPECT_THAT(error_of<ShapeError>([] { matmul(zeros({3}), zeros({4})); }), HasSubstr("matmul"));
  EXPECT_THAT(error_of<ShapeError>([] {
                matmul(zeros({2, 2, 3}), zeros({3, 3, 2}));
              }),
              HasSubstr("matmul"));
  EXPECT_THAT(error_of<ShapeError>([] { matmul(scalar_tensor(1.0), zeros({2})); }),
              HasSubstr("at least 1D"));
  EXPECT_THAT(error_of<DTypeError>([] {
                matmul(zeros({2, 2}), zeros({2, 2}, {.dtype = DType::Float64}));
              }),
              HasSubstr("matmul"));
  EXPECT_THAT(error_of<ShapeError>([] {
                addmm(zeros({3}), zeros({2, 3}), zeros({4, 5}));
              }),
              HasSubstr("addmm: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"));
  EXPECT_THAT(error_of<ShapeError>([] {
                addmm(zeros({3}), zeros({2, 3}), zeros({3, 5}));
              }),
              HasSubstr("addmm"));
  EXPECT_THAT(error_of<ShapeError>([] {
                addmm(zeros({5}), zeros({3}), zeros({3, 5}));
              }),
              HasSubstr("addmm"));
}

TEST(MathMatmul, AddmmScalesAndBroadcastsInput) {
  Tensor m1 = D({1, 2, 3, 4}, {2, 2}), m2 = D({1, 0, 0, 1}, {2, 2});
  Tensor bias = D({10, 20});
  EXPECT_EQ(vals(addmm(bias, m1, m2)), (std::vector<double>{11, 22, 13, 24}));
  EXPECT_EQ(vals(addmm(bias, m1, m2, 0.5, 2)), (std::vector<double>{7, 14, 11, 18}));
  EXPECT_EQ(vals(addmm(D({1, 2}, {2, 1}), m1, m2.t())), (std::vector<double>{2, 3, 5, 6}));
  Tensor nan_bias = D({std::nan(""), std::nan("")});
  EXPECT_EQ(vals(addmm(nan_bias, m1, m2, 0)), (std::vector<double>{1, 2, 3, 4}))
      << "beta = 0 ignores input, NaN included";
}

// ---- backward node names --------------------------------------------------------

TEST(MathAutograd, NodeNamesMatchPyTorch) {
  Tensor x = D({1, 2, 3}).requires_grad_(), y = D({3, 2, 1}).requires_grad_();
  Tensor m = D({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  auto name = [](const Tensor& t) { return t.grad_fn() ? t.grad_fn()->name() : "none"; };
  EXPECT_EQ(name(x + y), "AddBackward0");
  EXPECT_EQ(name(x + 2), "AddBackward0");
  EXPECT_EQ(name(x - y), "SubBackward0");
  EXPECT_EQ(name(2 - x), "RsubBackward1");
  EXPECT_EQ(name(x * y), "MulBackward0");
  EXPECT_EQ(name(x * 2), "MulBackward0");
  EXPECT_EQ(name(x / y), "DivBackward0");
  EXPECT_EQ(name(x / 2), "DivBackward0");
  EXPECT_EQ(name(x.pow(2)), "PowBackward0");
  EXPECT_EQ(name(pow(x, y)), "PowBackward1");
  EXPECT_EQ(name(-x), "NegBackward0");
  EXPECT_EQ(name(abs(x)), "AbsBackward0");
  EXPECT_EQ(name(relu(x)), "ReluBackward0");
  EXPECT_EQ(name(exp(x)), "ExpBackward0");
  EXPECT_EQ(name(log(x)), "LogBackward0");
  EXPECT_EQ(name(tanh(x)), "TanhBackward0");
  EXPECT_EQ(name(sigmoid(x)), "SigmoidBackward0");
  EXPECT_EQ(name(sqrt(x)), "SqrtBackward0");
  EXPECT_EQ(name(maximum(x, y)), "MaximumBackward0");
  EXPECT_EQ(name(minimum(x, y)), "MinimumBackward0");
  EXPECT_EQ(name(where(gt(x, 1), x, y)), "WhereBackward0");
  EXPECT_EQ(name(x.sum()), "SumBackward0");
  EXPECT_EQ(name(x.sum({0})), "SumBackward1");
  EXPECT_EQ(name(x.mean()), "MeanBackward0");
  EXPECT_EQ(name(x.mean({0})), "MeanBackward1");
  EXPECT_EQ(name(x.max()), "MaxBackward1");
  EXPECT_EQ(name(max(x, 0).values), "MaxBackward0");
  EXPECT_EQ(name(max(x, 0).indices), "none");
  EXPECT_EQ(name(matmul(x, y)), "DotBackward0");
  EXPECT_EQ(name(matmul(m, x)), "MvBackward0");
  EXPECT_EQ(name(matmul(m, m.t())), "MmBackward0");
  EXPECT_EQ(name(matmul(m.unsqueeze(0), m.t())), "UnsafeViewBackward0");
  EXPECT_EQ(name(addmm(x, m.t(), m)), "AddmmBackward0");
  EXPECT_EQ(name(argmax(x)), "none");
  EXPECT_FALSE(gt(x, y).requires_grad());
}

// ---- the engine, driven through these ops ------------------------------------

TEST(MathAutograd, GradientsAccumulateOverBackwardCalls) {
  Tensor x = D({1, 2, 3}).requires_grad_();
  (x * x).sum().backward();
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{2, 4, 6}));
  (x * 3.0).sum().backward();
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{5, 7, 9}));
  x.set_grad(Tensor());
  x.sum().backward();
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{1, 1, 1}));
}

TEST(MathAutograd, RetainGraphAllowsASecondBackward) {
  Tensor x = D({1, 2}).requires_grad_();
  Tensor y = (x.exp() * x).sum();
  y.backward(Tensor(), true);
  std::vector<double> once = vals(x.grad());
  y.backward();  // graph was retained
  auto twice = vals(x.grad());
  for (size_t i = 0; i < 2; ++i) EXPECT_DOUBLE_EQ(twice[i], 2 * once[i]);
  EXPECT_THAT(error_of<Error>([&] { y.backward(); }), HasSubstr("second time"));
  Tensor z = (x * x).sum();
  z.backward();
  EXPECT_THAT(error_of<Error>([&] { z.backward(); }), HasSubstr("retain_graph"));
}

TEST(MathAutograd, NoGradRecordsNothingAndDetachCutsTheGraph) {
  Tensor x = D({1, 2}).requires_grad_();
  {
    NoGradGuard no_grad;
    Tensor y = x * 2 + exp(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_TRUE(y.is_leaf());
  }
  Tensor y = x * 2;
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(x.is_leaf());
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.storage(), y.storage());
  Tensor z = (d * x).sum();  // d is a constant: dz/dx = d = 2x
  z.backward();
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{2, 4}));
  Tensor c = D({1, 2});
  EXPECT_FALSE((c * c).requires_grad());
  EXPECT_TRUE((c * x).requires_grad());
}

TEST(MathAutograd, InPlaceOnLeafRequiringGradThrows) {
  Tensor x = D({1, 2}).requires_grad_();
  EXPECT_THAT(error_of<Error>([&] { x.add_(D({1, 1})); }), HasSubstr("add_"));
  EXPECT_THAT(error_of<Error>([&] { x.mul_(2); }), HasSubstr("leaf"));
  Tensor y = x * 2;
  EXPECT_THAT(error_of<Error>([&] { y.add_(1); }), HasSubstr("MulBackward0"));
  EXPECT_EQ(vals(x), (std::vector<double>{1, 2})) << "nothing was written";
}

TEST(MathAutograd, DiamondGraphSumsBothPaths) {
  Tensor x = D({1, 2, 3}).requires_grad_();
  Tensor a = x * 2, b = x.exp();
  Tensor y = (a * b).sum();  // d/dx (2x e^x) = 2 e^x + 2x e^x
  y.backward();
  auto g = vals(x.grad());
  for (int i = 0; i < 3; ++i) {
    double v = i + 1;
    EXPECT_NEAR(g[size_t(i)], 2 * std::exp(v) + 2 * v * std::exp(v), 1e-12);
  }
  Tensor w = D({3}).requires_grad_();
  (w * w * w).sum().backward();  // the same leaf three times in one expression
  EXPECT_DOUBLE_EQ(w.grad().item<double>(), 27);
}

TEST(MathAutograd, BackwardOnNonScalarNeedsAGradient) {
  Tensor x = D({1, 2}).requires_grad_();
  Tensor y = x * 3;
  EXPECT_THAT(error_of<Error>([&] { y.backward(); }), HasSubstr("scalar"));
  y.backward(D({1, 10}));
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{3, 30}));
  EXPECT_THAT(error_of<ShapeError>([&] { (x * 3).backward(D({1, 2, 3})); }), HasSubstr("backward"));
  EXPECT_THAT(error_of<Error>([&] { D({1}).sum().backward(); }),
              HasSubstr("does not require grad"));
}

TEST(MathAutograd, GradReturnsGradientsWithoutTouchingDotGrad) {
  Tensor x = D({1, 2}).requires_grad_(), y = D({3, 4}).requires_grad_();
  Tensor z = (x * y).sum();
  auto g = autograd::grad({z}, {x, y});
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(vals(g[0]), (std::vector<double>{3, 4}));
  EXPECT_EQ(vals(g[1]), (std::vector<double>{1, 2}));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(y.grad().defined());
  Tensor h = x * x;  // non-leaf input
  Tensor out = (h * 2).sum();
  auto gh = autograd::grad({out}, {h});
  EXPECT_EQ(vals(gh[0]), (std::vector<double>{2, 2}));
  EXPECT_FALSE(x.grad().defined());
}

TEST(MathAutograd, RetainGradKeepsNonLeafGradient) {
  Tensor x = D({1, 2}).requires_grad_();
  Tensor h = x * 3;
  h.retain_grad();
  (h * h).sum().backward();
  EXPECT_EQ(vals(h.grad()), (std::vector<double>{6, 12}));
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{18, 36}));
}

TEST(MathAutograd, Float32GradientsThroughBroadcasting) {
  Tensor w = F({1, 2, 3}).requires_grad_();
  Tensor x = F({1, 1, 1, 2, 2, 2}, {2, 3});
  (x * w).sum().backward();
  EXPECT_EQ(w.grad().dtype(), DType::Float32);
  EXPECT_EQ(vals(w.grad()), (std::vector<double>{3, 3, 3}));
}
