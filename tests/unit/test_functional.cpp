// wick::nn::functional: values that can be checked by hand, output sizes for the
// parameter combinations, the im2col convolution against a direct loop, error
// messages, dropout statistics and seeding, batch_norm's running statistics.
// Gradients are checked in test_gradcheck_functional.cpp; agreement with
// PyTorch itself is checked by the interop tests.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "wick/autograd/graph.h"
#include "wick/core/parallel.h"
#include "wick/core/random.h"
#include "wick/nn/functional.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

using namespace wick;
namespace F = wick::nn::functional;

namespace {

constexpr TensorOptions kF64 = {.dtype = DType::Float64};

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

Tensor f32(std::vector<float> v, const Shape& sizes) {
  return tensor<float>(v, sizes);
}

void expect_near_all(const Tensor& t, const std::vector<double>& want, double tol = 1e-5) {
  std::vector<double> got = values(t);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
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

/// The textbook six-loop convolution, for comparison with im2col + GEMM.
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, F::Pair st, F::Pair pad,
                    F::Pair dil, int64_t groups) {
  const int64_t n = x.size(0), cin = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t cout = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t oh = (h + 2 * pad.h - dil.h * (kh - 1) - 1) / st.h + 1;
  const int64_t ow = (wd + 2 * pad.w - dil.w * (kw - 1) - 1) / st.w + 1;
  const int64_t cin_g = cin / groups, cout_g = cout / groups;
  Tensor out = zeros({n, cout, oh, ow}, kF64);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t co = 0; co < cout; ++co)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          double acc = b.defined() ? b.at({co}).to<double>() : 0.0;
          const int64_t g = co / cout_g;
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t ki = 0; ki < kh; ++ki)
              for (int64_t kj = 0; kj < kw; ++kj) {
                int64_t iy = y * st.h - pad.h + ki * dil.h, ix = xo * st.w - pad.w + kj * dil.w;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += x.at({i, g * cin_g + ci, iy, ix}).to<double>() *
                       w.at({co, ci, ki, kj}).to<double>();
              }
          out.set({i, co, y, xo}, acc);
        }
  return out;
}

void expect_close(const Tensor& a, const Tensor& b, double tol) {
  ASSERT_EQ(a.sizes(), b.sizes());
  std::vector<double> va = values(a), vb = values(b);
  for (size_t i = 0; i < va.size(); ++i) ASSERT_NEAR(va[i], vb[i], tol) << "element " << i;
}

/// Restores the thread count a test changed.
struct ThreadsGuard {
  int saved = get_num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

}  // namespace

// ---- conv2d -------------------------------------------------------------------

TEST(FunctionalConv2d, AllOnesKernelSumsWindows) {
  Tensor x = arange(16, DType::Float32).view({1, 1, 4, 4});
  Tensor w = ones({1, 1, 3, 3});
  Tensor y = F::conv2d(x, w, f32({1}, {1}));
  EXPECT_EQ(y.sizes(), (Shape{1, 1, 2, 2}));
  // 0+1+2+4+5+6+8+9+10 = 45, then shifted windows; plus the bias 1.
  expect_near_all(y, {46, 55, 82, 91});
}

TEST(FunctionalConv2d, PaddingCountsZeros) {
  Tensor y = F::conv2d(ones({1, 1, 3, 3}), ones({1, 1, 3, 3}), Tensor(), 1, 1);
  expect_near_all(y, {4, 6, 4, 6, 9, 6, 4, 6, 4});
}

TEST(FunctionalConv2d, StrideAndDilationPickInputs) {
  Tensor x = arange(25, DType::Float32).view({1, 1, 5, 5});
  Tensor w = zeros({1, 1, 2, 2});
  w.set({0, 0, 1, 1}, 1.0);  // picks input (oy*s + d, ox*s + d)
  Tensor y = F::conv2d(x, w, Tensor(), 2, 0, 2);
  EXPECT_EQ(y.sizes(), (Shape{1, 1, 2, 2}));
  expect_near_all(y, {12, 14, 22, 24});
}

TEST(FunctionalConv2d, GroupsKeepChannelsApart) {
  Tensor x = ones({1, 2, 3, 3});
  x.select(1, 1).fill_(2.0);
  Tensor w = ones({4, 1, 1, 1});
  w.select(0, 3).fill_(-1.0);
  Tensor y = F::conv2d(x, w, Tensor(), 1, 0, 1, 2);
  EXPECT_EQ(y.sizes(), (Shape{1, 4, 3, 3}));
  EXPECT_EQ(y.at({0, 0, 1, 1}).to<float>(), 1.0f);
  EXPECT_EQ(y.at({0, 1, 2, 0}).to<float>(), 1.0f);
  EXPECT_EQ(y.at({0, 2, 0, 0}).to<float>(), 2.0f);
  EXPECT_EQ(y.at({0, 3, 0, 2}).to<float>(), -2.0f);
}

TEST(FunctionalConv2d, OutputSizesForParameterCombinations) {
  struct Case {
    Shape in, weight;
    F::Pair stride, pad, dil;
    int64_t groups;
    Shape out;
  };
  const Case cases[] = {
      {{2, 3, 32, 32}, {6, 3, 5, 5}, 1, 0, 1, 1, {2, 6, 28, 28}},
      {{2, 6, 14, 14}, {16, 6, 5, 5}, 1, 0, 1, 1, {2, 16, 10, 10}},
      {{1, 4, 10, 9}, {6, 2, 3, 3}, {2, 1}, {1, 0}, {1, 2}, 2, {1, 6, 5, 5}},
      {{1, 2, 7, 7}, {2, 2, 3, 3}, 2, 1, 1, 1, {1, 2, 4, 4}},
      {{1, 2, 7, 8}, {4, 1, 3, 2}, 3, {2, 1}, 3, 2, {1, 4, 2, 3}},
      {{3, 1, 5, 5}, {1, 1, 1, 1}, 1, 0, 1, 1, {3, 1, 5, 5}},
      {{3, 1, 5, 5}, {1, 1, 5, 5}, 1, 0, 1, 1, {3, 1, 1, 1}},
  };
  for (const Case& c : cases) {
    Tensor y = F::conv2d(randn(c.in), randn(c.weight), Tensor(), c.stride, c.pad, c.dil, c.groups);
    EXPECT_EQ(y.sizes(), c.out) << "input " << c.in << " weight " << c.weight;
  }
}

TEST(FunctionalConv2d, MatchesDirectLoopForParameterCombinations) {
  struct Case {
    Shape in, weight;
    F::Pair stride, pad, dil;
    int64_t groups;
  };
  const Case cases[] = {
      {{2, 3, 8, 7}, {4, 3, 3, 3}, 1, 0, 1, 1},
      {{2, 4, 9, 8}, {6, 2, 3, 2}, 2, 1, 1, 2},
      {{1, 2, 9, 9}, {3, 2, 3, 3}, 1, 2, 2, 1},
      {{3, 4, 6, 5}, {4, 1, 2, 3}, {1, 2}, {0, 1}, {2, 1}, 4},
      {{2, 3, 5, 5}, {5, 3, 1, 1}, 1, 0, 1, 1},
      {{2, 3, 5, 5}, {5, 3, 1, 1}, 2, 1, 1, 1},
      {{2, 4, 9, 11}, {6, 2, 4, 3}, {1, 3}, {3, 2}, {2, 2}, 2},
      {{1, 3, 4, 4}, {2, 3, 1, 3}, 1, {1, 0}, 1, 1},
  };
  for (const Case& c : cases) {
    Tensor x = randn(c.in, kF64), w = randn(c.weight, kF64), b = randn({c.weight[0]}, kF64);
    Tensor y = F::conv2d(x, w, b, c.stride, c.pad, c.dil, c.groups);
    expect_close(y, naive_conv2d(x, w, b, c.stride, c.pad, c.dil, c.groups), 1e-10);
  }
}

TEST(FunctionalConv2d, SameResultWithOneOrTwoThreadsAndInFloat32) {
  ThreadsGuard guard;
  Tensor x = randn({5, 3, 12, 12}, kF64), w = randn({4, 3, 3, 3}, kF64);
  set_num_threads(1);
  Tensor one = F::conv2d(x, w, Tensor(), 1, 1);
  set_num_threads(2);
  Tensor two = F::conv2d(x, w, Tensor(), 1, 1);
  expect_close(one, two, 1e-12);
  Tensor f = F::conv2d(x.to(DType::Float32), w.to(DType::Float32), Tensor(), 1, 1);
  EXPECT_EQ(f.dtype(), DType::Float32);
  expect_close(f, one, 1e-4);
}

TEST(FunctionalConv2d, LargeBatchSplitIntoBlocksMatchesImageByImage) {
  // Large enough that the kernel splits the batch into several GEMM blocks
  // (the last one partial); each image convolved alone must give the same.
  const int64_t batch = 45;
  Tensor x = randn({batch, 3, 64, 64}).requires_grad_();
  Tensor w = randn({4, 3, 3, 3}).requires_grad_();
  Tensor b = randn({4}).requires_grad_();
  Tensor gy = randn({batch, 4, 62, 62});
  Tensor y = F::conv2d(x, w, b);
  y.backward(gy);
  Tensor gw_sum = zeros({4, 3, 3, 3});
  for (int64_t n : {int64_t(0), int64_t(20), int64_t(41), batch - 1}) {
    Tensor xn = x.detach()[n].unsqueeze(0).clone().requires_grad_();
    Tensor wn = w.detach().clone().requires_grad_();
    Tensor yn = F::conv2d(xn, wn, b.detach());
    expect_close(yn[0], y.detach()[n], 1e-4);
    yn.backward(gy[n].unsqueeze(0));
    expect_close(xn.grad()[0], x.grad()[n], 1e-4);
  }
  // grad_weight accumulates over every block: compare with the image sum.
  for (int64_t n = 0; n < batch; ++n) {
    Tensor wn = w.detach().clone().requires_grad_();
    F::conv2d(x.detach()[n].unsqueeze(0), wn).backward(gy[n].unsqueeze(0));
    gw_sum = gw_sum + wn.grad();
  }
  expect_close(w.grad(), gw_sum, 1e-2);
}

TEST(FunctionalConv2d, UnbatchedInputAndNonContiguousInput) {
  Tensor x = randn({2, 6, 5}, kF64), w = randn({3, 2, 3, 3}, kF64);
  Tensor y = F::conv2d(x, w);
  EXPECT_EQ(y.sizes(), (Shape{3, 4, 3}));
  expect_close(y, F::conv2d(x.unsqueeze(0), w).squeeze(0), 1e-12);
  Tensor xt = randn({1, 2, 5, 6}, kF64).transpose(2, 3);
  ASSERT_FALSE(xt.is_contiguous());
  expect_close(F::conv2d(xt, w), F::conv2d(xt.contiguous(), w), 1e-12);
}

TEST(FunctionalConv2d, EmptyBatch) {
  Tensor x = zeros({0, 3, 8, 8}).requires_grad_();
  Tensor w = randn({6, 3, 3, 3}).requires_grad_();
  Tensor y = F::conv2d(x, w);
  EXPECT_EQ(y.sizes(), (Shape{0, 6, 6, 6}));
  y.backward(zeros({0, 6, 6, 6}));
  EXPECT_EQ(x.grad().sizes(), (Shape{0, 3, 8, 8}));
  expect_near_all(w.grad().flatten().slice(0, 0, 3), {0, 0, 0});
  EXPECT_EQ(F::max_pool2d(zeros({0, 2, 4, 4}), 2).sizes(), (Shape{0, 2, 2, 2}));
}

TEST(FunctionalConv2d, BadArgumentsNameConv2dAndSizes) {
  Tensor x = randn({1, 3, 8, 8});
  expect_error<ShapeError>(
      [&] {
        F::conv2d(x, randn({6, 3}));
      },
      {"conv2d", "expected weight of 4 dims", "[6, 3]"});
  expect_error<ShapeError>(
      [&] {
        F::conv2d(x, randn({6, 2, 3, 3}));
      },
      {"conv2d", "[1, 3, 8, 8]", "3 channels", "[6, 2, 3, 3]", "groups=1"});
  expect_error<ShapeError>(
      [&] {
        F::conv2d(randn({1, 4, 8, 8}), randn({6, 2, 3, 3}), {}, 1, 0, 1, 4);
      },
      {"conv2d", "groups=4"});
  expect_error<ShapeError>(
      [&] {
        F::conv2d(x, randn({6, 3, 9, 9}));
      },
      {"conv2d", "output size is too small"});
  expect_error<ShapeError>(
      [&] {
        F::conv2d(x, randn({6, 3, 3, 3}), randn({5}));
      },
      {"conv2d", "bias", "[5]"});
  expect_error<ShapeError>(
      [&] {
        F::conv2d(randn({8, 8}), randn({6, 3, 3, 3}));
      },
      {"conv2d", "[8, 8]"});
  expect_error<DTypeError>(
      [&] {
        F::conv2d(zeros({1, 3, 8, 8}, {.dtype = DType::Int64}), randn({6, 3, 3, 3}));
      },
      {"conv2d", "int64"});
  expect_error<DTypeError>(
      [&] {
        F::conv2d(x, randn({6, 3, 3, 3}, kF64));
      },
      {"conv2d", "weight", "float64"});
  expect_error<Error>([&] { F::conv2d(x, randn({6, 3, 3, 3}), {}, 0); }, {"conv2d", "stride"});
}

// ---- linear -------------------------------------------------------------------

TEST(FunctionalLinear, MatchesHandComputation) {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = f32({1, 0, -1, 2, 2, 2}, {2, 3});
  Tensor y = F::linear(x, w, f32({10, 20}, {2}));
  EXPECT_EQ(y.sizes(), (Shape{2, 2}));
  expect_near_all(y, {1 - 3 + 10, 12 + 20, 4 - 6 + 10, 30 + 20});
  Tensor y3 = F::linear(x.view({1, 2, 3}), w);
  EXPECT_EQ(y3.sizes(), (Shape{1, 2, 2}));
  expect_near_all(y3, {-2, 12, -2, 30});
  EXPECT_EQ(F::linear(f32({1, 2, 3}, {3}), w).sizes(), (Shape{2}));
  // No input features: the output is the bias.
  expect_near_all(F::linear(zeros({2, 0}), zeros({2, 0}), f32({1, 2}, {2})), {1, 2, 1, 2});
  expect_near_all(F::linear(zeros({2, 0}), zeros({3, 0})), {0, 0, 0, 0, 0, 0});
}

TEST(FunctionalLinear, BadArguments) {
  expect_error<ShapeError>(
      [] {
        F::linear(randn({2, 3}), randn({4, 5}));
      },
      {"linear", "[2, 3]", "[4, 5]"});
  expect_error<ShapeError>([] { F::linear(randn({2, 3}), randn({3})); }, {"linear", "[3]"});
  expect_error<ShapeError>(
      [] {
        F::linear(randn({2, 3}), randn({4, 3}), randn({3}));
      },
      {"linear", "bias", "[3]"});
  expect_error<DTypeError>(
      [] {
        F::linear(randn({2, 3}), randn({4, 3}, kF64));
      },
      {"linear", "float64"});
}

// ---- pooling ------------------------------------------------------------------

TEST(FunctionalPool, MaxPoolOnArange) {
  Tensor x = arange(16, DType::Float32).view({1, 1, 4, 4});
  expect_near_all(F::max_pool2d(x, 2), {5, 7, 13, 15});
  // Dilation 2: window {0, 2} x {0, 2} shifted by one.
  expect_near_all(F::max_pool2d(x, 2, 1, 0, 2), {10, 11, 14, 15});
  // Padding is -inf, so even all-negative inputs keep their maxima.
  Tensor neg = arange(-16, 0, 1, DType::Float32).view({1, 4, 4});
  Tensor y = F::max_pool2d(neg, 3, 2, 1);
  EXPECT_EQ(y.sizes(), (Shape{1, 2, 2}));
  expect_near_all(y, {-11, -9, -3, -1});
}

TEST(FunctionalPool, MaxPool2x2PicksLikePyTorchWithTiesAndNaNs) {
  // float32 2x2/stride-2 pooling has a vectorised path; its values and the
  // positions its gradient goes to must follow the rule of the scalar loop:
  // the first maximum in window order wins, and any NaN wins (the last one).
  // Widths 14 and 7 leave a partial vector at the end of each row.
  for (int64_t width : {14, 7}) {
    const int64_t h = 6, planes = 3;
    std::vector<float> v(size_t(planes * h * width));
    uint32_t state = 12345;
    for (float& e : v) {
      state = state * 1664525u + 1013904223u;
      e = float((state >> 24) % 4);  // few values: many ties
      if ((state >> 8) % 13 == 0) e = std::numeric_limits<float>::quiet_NaN();
    }
    Tensor x = tensor<float>(v).view({1, planes, h, width}).requires_grad_();
    Tensor y = F::max_pool2d(x, 2);
    y.backward(ones(y.sizes()));
    const int64_t ow = width / 2, oh = h / 2;
    std::vector<float> want_grad(v.size(), 0.f);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t best = -1;
          for (int64_t ki = 0; ki < 2; ++ki)
            for (int64_t kj = 0; kj < 2; ++kj) {
              const int64_t i = (p * h + 2 * oy + ki) * width + 2 * ox + kj;
              if (best < 0 || v[size_t(i)] > v[size_t(best)] || std::isnan(v[size_t(i)])) best = i;
            }
          const float got = y.detach()[0][p][oy][ox].item<float>();
          if (std::isnan(v[size_t(best)]))
            EXPECT_TRUE(std::isnan(got)) << "plane " << p << " (" << oy << ", " << ox << ")";
          else
            EXPECT_EQ(got, v[size_t(best)]) << "plane " << p << " (" << oy << ", " << ox << ")";
          want_grad[size_t(best)] = 1.f;
        }
    EXPECT_EQ(x.grad().reshape({-1}).to_vector<float>(), want_grad) << "width " << width;
  }
}

TEST(FunctionalPool, AvgPoolOnArangeAndPaddingRules) {
  Tensor x = arange(16, DType::Float32).view({1, 1, 4, 4});
  expect_near_all(F::avg_pool2d(x, 2), {2.5, 4.5, 10.5, 12.5});
  Tensor o = ones({1, 1, 3, 3});
  // Corner windows cover 4 real elements of 9.
  EXPECT_NEAR(F::avg_pool2d(o, 3, 1, 1).at({0, 0, 0, 0}).to<double>(), 4.0 / 9, 1e-6);
  EXPECT_NEAR(F::avg_pool2d(o, 3, 1, 1, false, false).at({0, 0, 0, 0}).to<double>(), 1.0, 1e-6);
  EXPECT_NEAR(F::avg_pool2d(o, 3, 1, 1, false, true, 2).at({0, 0, 0, 0}).to<double>(), 2.0, 1e-6);
  EXPECT_NEAR(F::avg_pool2d(o, 3, 1, 1, false, true, 2).at({0, 0, 1, 1}).to<double>(), 4.5, 1e-6);
  // ceil_mode: the extra window sticks out past the input (not into padding),
  // so it averages only the one element it covers.
  Tensor c = F::avg_pool2d(ones({1, 5, 5}), 2, 2, 0, true);
  EXPECT_EQ(c.sizes(), (Shape{1, 3, 3}));
  EXPECT_NEAR(c.at({0, 2, 2}).to<double>(), 1.0, 1e-6);
  Tensor a5 = arange(25, DType::Float32).view({1, 1, 5, 5});
  EXPECT_NEAR(F::avg_pool2d(a5, 2, 2, 0, true).at({0, 0, 2, 2}).to<double>(), 24.0, 1e-6);
}

TEST(FunctionalPool, OutputSizesIncludingCeilMode) {
  struct Case {
    int64_t in, k, s, p, d;
    bool ceil;
    int64_t out;
  };
  const Case cases[] = {
      {4, 2, 2, 0, 1, false, 2},
      {5, 2, 2, 0, 1, false, 2},
      {5, 2, 2, 0, 1, true, 3},
      {6, 3, 2, 1, 1, false, 3},
      {6, 3, 2, 1, 1, true, 4},
      {5, 2, 2, 1, 1, false, 3},
      // ceil would give 4, but the 4th window would start in the right padding.
      {5, 2, 2, 1, 1, true, 3},
      {7, 3, 1, 0, 2, false, 3},
      {7, 2, 3, 1, 2, true, 3},
      {32, 2, 2, 0, 1, false, 16},
  };
  for (const Case& c : cases) {
    Tensor x = randn({2, 3, c.in, c.in + 1});
    Tensor m = F::max_pool2d(x, c.k, c.s, c.p, c.d, c.ceil);
    EXPECT_EQ(m.size(2), c.out) << "in " << c.in << " k " << c.k << " s " << c.s << " p " << c.p
                                << " d " << c.d << " ceil " << c.ceil;
    if (c.d == 1) {
      EXPECT_EQ(F::avg_pool2d(x, c.k, c.s, c.p, c.ceil).size(2), c.out);
    }
  }
  // Non-square parameters act on each dimension separately.
  EXPECT_EQ(F::max_pool2d(randn({1, 7, 9}), {2, 3}, {{1, 2}}).sizes(), (Shape{1, 6, 4}));
}

TEST(FunctionalPool, AdaptiveAvgPoolWindows) {
  Tensor x = arange(5, DType::Float32).view({1, 1, 1, 5});
  // Windows [0, 2), [1, 4), [3, 5).
  expect_near_all(F::adaptive_avg_pool2d(x, {1, 3}), {0.5, 2.0, 3.5});
  Tensor r = randn({2, 3, 4, 6});
  expect_close(F::adaptive_avg_pool2d(r, {4, 6}), r, 0);
  Tensor g = F::adaptive_avg_pool2d(arange(16, DType::Float32).view({1, 4, 4}), 1);
  EXPECT_EQ(g.sizes(), (Shape{1, 1, 1}));
  EXPECT_NEAR(g.item<double>(), 7.5, 1e-6);
  expect_near_all(F::adaptive_avg_pool2d(arange(16, DType::Float32).view({1, 1, 4, 4}), 2),
                  {2.5, 4.5, 10.5, 12.5});
}

TEST(FunctionalPool, BadArguments) {
  Tensor x = randn({1, 1, 6, 6});
  expect_error<ShapeError>([&] { F::max_pool2d(x, 3, 1, 2); },
                           {"max_pool2d", "pad should be at most half of effective kernel size"});
  expect_error<ShapeError>([&] { F::avg_pool2d(x, 2, 2, 2); },
                           {"avg_pool2d", "pad should be at most half of effective kernel size"});
  expect_error<ShapeError>([&] { F::max_pool2d(x, 7); },
                           {"max_pool2d", "[1, 1, 6, 6]", "output size is too small"});
  expect_error<ShapeError>([&] { F::max_pool2d(randn({6, 6}), 2); }, {"max_pool2d", "[6, 6]"});
  expect_error<ShapeError>([&] { F::adaptive_avg_pool2d(randn({6}), 2); },
                           {"adaptive_avg_pool2d", "[6]"});
  expect_error<DTypeError>(
      [&] {
        F::avg_pool2d(zeros({1, 2, 2}, {.dtype = DType::Int32}), 2);
      },
      {"avg_pool2d", "int32"});
  expect_error<Error>([&] { F::avg_pool2d(x, 2, 2, 0, false, true, 0); },
                      {"avg_pool2d", "divisor_override"});
  expect_error<Error>([&] { F::max_pool2d(x, 0); }, {"max_pool2d", "kernel_size"});
}

// ---- batch_norm ---------------------------------------------------------------

TEST(FunctionalBatchNorm, TrainingUsesBatchStatsAndUpdatesRunningStats) {
  // Channel 0: 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3);
  // channel 1: all 10 (var 0).
  Tensor x = f32({1, 10, 2, 10, 3, 10, 4, 10}, {4, 2});
  Tensor rm = zeros({2}), rv = ones({2});
  Tensor y = F::batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.1, 1e-5);
  const double s = 1 / std::sqrt(1.25 + 1e-5);
  expect_near_all(y, {-1.5 * s, 0, -0.5 * s, 0, 0.5 * s, 0, 1.5 * s, 0});
  expect_near_all(rm, {0.25, 1.0});
  expect_near_all(rv, {0.9 + 0.1 * 5.0 / 3.0, 0.9});
  // A second step moves them again from there.
  F::batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.5);
  expect_near_all(rm, {0.5 * 0.25 + 0.5 * 2.5, 0.5 * 1.0 + 0.5 * 10});

  Tensor yw = F::batch_norm(x, Tensor(), Tensor(), f32({2, 1}, {2}), f32({1, -1}, {2}), true);
  expect_near_all(yw, {-3 * s + 1, -1, -s + 1, -1, s + 1, -1, 3 * s + 1, -1});
}

TEST(FunctionalBatchNorm, EvalUsesRunningStats) {
  Tensor x = f32({1, 2, 3, 4}, {2, 2});
  Tensor rm = f32({1, 2}, {2}), rv = f32({4, 1}, {2});
  Tensor y = F::batch_norm(x, rm, rv, f32({2, 3}, {2}), f32({0, 1}, {2}), false, 0.1, 0.0);
  expect_near_all(y, {0, 1, 2 * 2 / 2.0, 3 * 2 + 1});
  expect_near_all(rm, {1, 2});  // untouched
  expect_near_all(rv, {4, 1});
}

TEST(FunctionalBatchNorm, SpatialInputNormalisesPerChannel) {
  Tensor x = randn({3, 4, 5, 2}, kF64) * 3.0 + 2.0;
  Tensor y = F::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0);
  for (int64_t c = 0; c < 4; ++c) {
    std::vector<double> v = values(y.select(1, c).contiguous());
    double m = 0, q = 0;
    for (double e : v) m += e;
    m /= double(v.size());
    for (double e : v) q += (e - m) * (e - m);
    EXPECT_NEAR(m, 0, 1e-12);
    EXPECT_NEAR(q / double(v.size()), 1, 1e-9);
  }
}

TEST(FunctionalBatchNorm, BadArguments) {
  expect_error<ShapeError>(
      [] {
        F::batch_norm(randn({1, 3}), {}, {}, {}, {}, true);
      },
      {"batch_norm", "more than 1 value per channel", "[1, 3]"});
  expect_error<ShapeError>(
      [] {
        F::batch_norm(randn({4, 3}), zeros({2}), ones({2}), {}, {}, true);
      },
      {"batch_norm", "running_mean", "[3]", "[2]"});
  expect_error<Error>(
      [] {
        F::batch_norm(randn({4, 3}), {}, {}, {}, {}, false);
      },
      {"batch_norm", "evaluation"});
  expect_error<ShapeError>([] { F::batch_norm(randn({4}), {}, {}, {}, {}, true); },
                           {"batch_norm", "[4]"});
  expect_error<DTypeError>(
      [] {
        F::batch_norm(randn({4, 3}), {}, {}, ones({3}, kF64), {}, true);
      },
      {"batch_norm", "weight", "float64"});
}

// ---- dropout ------------------------------------------------------------------

TEST(FunctionalDropout, KeepsTheMeanAndZeroesAboutP) {
  const int64_t n = 200000;
  for (double p : {0.2, 0.5, 0.9}) {
    Tensor y = F::dropout(ones({n}), p);
    std::vector<double> v = values(y);
    int64_t zeros_seen = 0;
    double sum = 0;
    for (double e : v) {
      if (e == 0)
        ++zeros_seen;
      else
        EXPECT_NEAR(e, 1 / (1 - p), 1e-5);
      sum += e;
    }
    EXPECT_NEAR(double(zeros_seen) / double(n), p, 0.01) << "p " << p;
    EXPECT_NEAR(sum / double(n), 1.0, 0.03) << "p " << p;
  }
}

TEST(FunctionalDropout, SeedingReproduces) {
  Tensor x = randn({1000}, kF64);
  manual_seed(42);
  Tensor a = F::dropout(x, 0.5);
  manual_seed(42);
  Tensor b = F::dropout(x, 0.5);
  Tensor c = F::dropout(x, 0.5);
  expect_close(a, b, 0);
  EXPECT_NE(values(b), values(c));
  Generator g1(7), g2(7);
  expect_close(F::dropout(x, 0.3, true, &g1), F::dropout(x, 0.3, true, &g2), 0);
}

TEST(FunctionalDropout, IdentityZerosAndBadP) {
  Tensor x = randn({3, 4});
  EXPECT_TRUE(F::dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(F::dropout(x, 0.0).is_same(x));
  for (double e : values(F::dropout(x, 1.0))) EXPECT_EQ(e, 0.0);
  expect_error<Error>([&] { F::dropout(x, 1.5); }, {"dropout", "1.5"});
  expect_error<Error>([&] { F::dropout(x, -0.1); }, {"dropout", "-0.1"});
}

// ---- softmax and losses -------------------------------------------------------

TEST(FunctionalSoftmax, HandValuesAndStability) {
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), z = 1 + e1 + e2;
  expect_near_all(F::softmax(f32({0, 1, 2}, {3}), 0), {1 / z, e1 / z, e2 / z});
  expect_near_all(F::log_softmax(f32({0, 1, 2}, {3}), 0),
                  {-std::log(z), 1 - std::log(z), 2 - std::log(z)});
  // Large inputs: no overflow, since the maximum is subtracted first.
  const double a = 1 / (1 + std::exp(1.0));
  expect_near_all(F::softmax(f32({1000, 1001}, {1, 2}), 1), {a, 1 - a});
  expect_near_all(F::log_softmax(f32({1000, 1001}, {1, 2}), -1), {std::log(a), std::log(1 - a)},
                  1e-4);
}

TEST(FunctionalSoftmax, AnyDimSumsToOne) {
  Tensor x = randn({3, 4, 5}, kF64);
  for (int64_t dim : {0, 1, 2, -1}) {
    Tensor y = F::softmax(x, dim), ly = F::log_softmax(x, dim);
    const int64_t d = dim < 0 ? dim + 3 : dim;
    Shape other;
    for (int64_t k = 0; k < 3; ++k)
      if (k != d) other.push_back(k);
    for (int64_t i = 0; i < x.size(other[0]); ++i)
      for (int64_t j = 0; j < x.size(other[1]); ++j) {
        double sum = 0;
        for (int64_t k = 0; k < x.size(d); ++k) {
          Shape idx(3);
          idx[size_t(other[0])] = i;
          idx[size_t(other[1])] = j;
          idx[size_t(d)] = k;
          sum += y.at(idx).to<double>();
          EXPECT_NEAR(std::log(y.at(idx).to<double>()), ly.at(idx).to<double>(), 1e-12);
        }
        EXPECT_NEAR(sum, 1.0, 1e-12);
      }
  }
  expect_error<IndexError>([&] { F::softmax(x, 3); }, {"softmax"});
}

TEST(FunctionalLoss, NllLossReductionsWeightsIgnoreIndex) {
  Tensor logp = f32({-1, -2, -3, -4, -5, -6}, {2, 3});
  Tensor t = tensor<int64_t>({0, 2});
  EXPECT_NEAR(F::nll_loss(logp, t).item<double>(), 3.5, 1e-6);
  EXPECT_NEAR(F::nll_loss(logp, t, {}, -100, F::Reduction::Sum).item<double>(), 7, 1e-6);
  expect_near_all(F::nll_loss(logp, t, {}, -100, F::Reduction::None), {1, 6});
  Tensor w = f32({1, 2, 3}, {3});
  // Mean divides by the summed weights of the targets: (1 + 18) / (1 + 3).
  EXPECT_NEAR(F::nll_loss(logp, t, w).item<double>(), 19.0 / 4, 1e-6);
  expect_near_all(F::nll_loss(logp, t, w, -100, F::Reduction::None), {1, 18});
  EXPECT_NEAR(F::nll_loss(logp, t, w, 2).item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(F::nll_loss(logp, t, {}, 0, F::Reduction::Sum).item<double>(), 6, 1e-6);
  EXPECT_TRUE(std::isnan(F::nll_loss(logp, tensor<int64_t>({1, 1}), {}, 1).item<double>()));
}

TEST(FunctionalLoss, NllLossSpatialAndUnbatched) {
  // [N=1, C=2, d=3]: targets pick -x[0, t_j, j].
  Tensor logp = f32({-1, -2, -3, -4, -5, -6}, {1, 2, 3});
  Tensor t = tensor<int64_t>({1, 0, 1}, {1, 3});
  expect_near_all(F::nll_loss(logp, t, {}, -100, F::Reduction::None), {4, 2, 6});
  EXPECT_NEAR(F::nll_loss(logp, t).item<double>(), 4, 1e-6);
  EXPECT_NEAR(F::nll_loss(f32({-1, -2}, {2}), scalar_tensor(int64_t(1))).item<double>(), 2, 1e-6);
}

TEST(FunctionalLoss, CrossEntropyIsLogSoftmaxThenNll) {
  Tensor x = zeros({1, 3});
  EXPECT_NEAR(F::cross_entropy(x, tensor<int64_t>({1})).item<double>(), std::log(3.0), 1e-6);
  Tensor r = randn({4, 5, 2}, kF64);
  Tensor t = randint(0, 5, {4, 2});
  t.set({0, 1}, int64_t(-1));
  for (auto red : {F::Reduction::None, F::Reduction::Mean, F::Reduction::Sum}) {
    Tensor w = rand({5}, kF64);
    expect_close(F::cross_entropy(r, t, w, -1, red),
                 F::nll_loss(F::log_softmax(r, 1), t, w, -1, red), 1e-12);
  }
}

TEST(FunctionalLoss, MseLoss) {
  Tensor x = f32({1, 2, 3}, {3}), t = f32({1, 1, 1}, {3});
  expect_near_all(F::mse_loss(x, t, F::Reduction::None), {0, 1, 4});
  EXPECT_NEAR(F::mse_loss(x, t).item<double>(), 5.0 / 3, 1e-6);
  EXPECT_NEAR(F::mse_loss(x, t, F::Reduction::Sum).item<double>(), 5, 1e-6);
  expect_error<ShapeError>([&] { F::mse_loss(x, f32({1, 1}, {2})); }, {"mse_loss", "[3]", "[2]"});
}

TEST(FunctionalLoss, BadArguments) {
  Tensor logp = randn({2, 3});
  expect_error<IndexError>(
      [&] {
        F::nll_loss(logp, tensor<int64_t>({0, 5}));
      },
      {"nll_loss", "5", "3 classes"});
  expect_error<IndexError>(
      [&] {
        F::cross_entropy(logp, tensor<int64_t>({-2, 0}));
      },
      {"cross_entropy", "-2", "3 classes"});
  expect_error<DTypeError>([&] { F::nll_loss(logp, f32({0, 1}, {2})); }, {"nll_loss", "int64"});
  expect_error<ShapeError>(
      [&] {
        F::nll_loss(logp, tensor<int64_t>({0, 1, 2}));
      },
      {"nll_loss", "[2]", "[3]"});
  expect_error<ShapeError>([&] { F::cross_entropy(logp, tensor<int64_t>({0})); },
                           {"cross_entropy", "[2, 3]"});
  expect_error<ShapeError>(
      [&] {
        F::nll_loss(logp, tensor<int64_t>({0, 1}), ones({4}));
      },
      {"nll_loss", "weight", "[4]"});
}

// ---- autograd nodes -----------------------------------------------------------

TEST(FunctionalGraph, NodesHavePyTorchNames) {
  Tensor x = randn({2, 3, 6, 6}).requires_grad_();
  Tensor w = randn({4, 3, 3, 3}).requires_grad_();
  Tensor v = randn({4, 3}).requires_grad_();
  Tensor t = tensor<int64_t>({0, 2, 1, 0});
  auto name = [](const Tensor& y) { return y.grad_fn() ? y.grad_fn()->name() : "none"; };
  EXPECT_EQ(name(F::conv2d(x, w)), "ConvolutionBackward0");
  EXPECT_EQ(name(F::linear(v, randn({2, 3}), randn({2}))), "AddmmBackward0");
  EXPECT_EQ(name(F::linear(v, randn({2, 3}))), "MmBackward0");
  EXPECT_EQ(name(F::max_pool2d(x, 2)), "MaxPool2DWithIndicesBackward0");
  EXPECT_EQ(name(F::avg_pool2d(x, 2)), "AvgPool2DBackward0");
  EXPECT_EQ(name(F::adaptive_avg_pool2d(x, 2)), "AdaptiveAvgPool2DBackward0");
  EXPECT_EQ(name(F::batch_norm(x, {}, {}, {}, {}, true)), "NativeBatchNormBackward0");
  EXPECT_EQ(name(F::dropout(x, 0.5)), "NativeDropoutBackward0");
  EXPECT_EQ(name(F::softmax(v, 1)), "SoftmaxBackward0");
  EXPECT_EQ(name(F::log_softmax(v, 1)), "LogSoftmaxBackward0");
  EXPECT_EQ(name(F::nll_loss(v, t)), "NllLossBackward0");
  EXPECT_EQ(name(F::cross_entropy(v, t)), "NllLossBackward0");
  EXPECT_EQ(name(F::mse_loss(v, randn({4, 3}))), "MseLossBackward0");
  // Nothing is recorded when no input requires grad.
  EXPECT_EQ(name(F::conv2d(x.detach(), w.detach())), "none");
}

TEST(FunctionalGraph, WeightOnlyAndBiasOnlyGradients) {
  // Optional inputs that are undefined or do not require grad get no gradient.
  Tensor x = randn({2, 3, 5, 5});
  Tensor w = randn({2, 3, 3, 3});
  Tensor b = zeros({2}).requires_grad_();
  F::conv2d(x, w, b).sum().backward();
  ASSERT_TRUE(b.grad().defined());
  expect_near_all(b.grad(), {18, 18});  // 2 images x 3 x 3 outputs
  Tensor g = ones({3}).requires_grad_();
  F::batch_norm(randn({4, 3}), {}, {}, {}, g, true).sum().backward();
  expect_near_all(g.grad(), {4, 4, 4});
}
