// Tensor and Scalar printing: the simplest reprs, whose expected strings are
// obvious. The full comparison against PyTorch's own repr is tests/print/.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "wick/autograd/graph.h"
#include "wick/core/tensor.h"

using namespace wick;

namespace {
template <class T>
std::string str(const T& v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

TEST(Print, SimpleFloatVectors) {
  EXPECT_EQ(tensor<float>({1, 2}).repr(), "tensor([1., 2.])");
  EXPECT_EQ(tensor<float>({1.5f, -2}).repr(), "tensor([ 1.5000, -2.0000])");
  EXPECT_EQ(tensor<float>({0, 0}).repr(), "tensor([0., 0.])");
  EXPECT_EQ(str(tensor<float>({1, 2})), "tensor([1., 2.])") << "operator<< prints repr()";
}

TEST(Print, ZeroDimAndEmpty) {
  EXPECT_EQ(scalar_tensor(3.0).repr(), "tensor(3.)");
  EXPECT_EQ(scalar_tensor(int64_t(3)).repr(), "tensor(3)");
  EXPECT_EQ(scalar_tensor(true).repr(), "tensor(True)");
  EXPECT_EQ(empty({0}).repr(), "tensor([])");
  EXPECT_EQ(empty({0, 3}).repr(), "tensor([], size=(0, 3))");
  EXPECT_EQ(empty({0}, {.dtype = DType::Int64}).repr(), "tensor([], dtype=torch.int64)");
}

TEST(Print, DtypeSuffixOnlyWhereTheDtypeCannotBeInferred) {
  EXPECT_EQ(tensor<double>({1, 2}).repr(), "tensor([1., 2.], dtype=torch.float64)");
  EXPECT_EQ(tensor<int32_t>({1, 2}).repr(), "tensor([1, 2], dtype=torch.int32)");
  EXPECT_EQ(tensor<int64_t>({1, 2}).repr(), "tensor([1, 2])");
  EXPECT_EQ(tensor<bool>({true, false}).repr(), "tensor([ True, False])");
}

TEST(Print, TwoDimsPutRowsOnTheirOwnLines) {
  Tensor x = tensor<float>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(x.repr(), "tensor([[1., 2.],\n        [3., 4.]])");
  EXPECT_EQ(x.t().repr(), "tensor([[1., 3.],\n        [2., 4.]])") << "strides are honoured";
}

TEST(Print, NonFiniteValues) {
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(tensor<float>({NAN, 1}).repr(), "tensor([nan, 1.])");
  EXPECT_EQ(tensor<float>({-inf, inf}).repr(), "tensor([-inf, inf])");
}

TEST(Print, ComplexElements) {
  EXPECT_EQ(tensor<std::complex<float>>({{1, 2}}).repr(), "tensor([1.+2.j])");
  EXPECT_EQ(tensor<std::complex<float>>({{1, -2}}).repr(), "tensor([1.-2.j])");
}

TEST(Print, RequiresGradSuffix) {
  Tensor x = tensor<float>({1, 2});
  x.requires_grad_();
  EXPECT_EQ(x.repr(), "tensor([1., 2.], requires_grad=True)");
}

TEST(Print, GradFnSuffixUsesTheNodeName) {
  struct FakeNode : autograd::Node {
    std::string name() const override { return "AddBackward0"; }
    std::vector<Tensor> apply(const Tensor&) override { return {}; }
  };
  Tensor x = tensor<float>({1, 2});
  autograd::AutogradMeta& meta = x.mutable_autograd_meta();
  meta.requires_grad = true;
  meta.grad_fn = std::make_shared<FakeNode>();
  EXPECT_EQ(x.repr(), "tensor([1., 2.], grad_fn=<AddBackward0>)");
}

TEST(Print, UndefinedTensor) {
  EXPECT_EQ(Tensor().repr(), "tensor(undefined)");
}

TEST(Print, ScalarsPrintLikePythonNumbers) {
  EXPECT_EQ(str(Scalar(true)), "True");
  EXPECT_EQ(str(Scalar(false)), "False");
  EXPECT_EQ(str(Scalar(-7)), "-7");
  EXPECT_EQ(str(Scalar(int64_t(9007199254740993))), "9007199254740993");
  EXPECT_EQ(str(Scalar(1.0)), "1.0");
  EXPECT_EQ(str(Scalar(-0.0)), "-0.0");
  EXPECT_EQ(str(Scalar(2.5)), "2.5");
  EXPECT_EQ(str(Scalar(0.1)), "0.1");
  EXPECT_EQ(str(Scalar(0.1f)), "0.10000000149011612") << "float32 0.1 is not double 0.1";
  EXPECT_EQ(str(Scalar(1e-4)), "0.0001");
  EXPECT_EQ(str(Scalar(1e-5)), "1e-05");
  EXPECT_EQ(str(Scalar(1.5e-7)), "1.5e-07");
  EXPECT_EQ(str(Scalar(1e15)), "1000000000000000.0");
  EXPECT_EQ(str(Scalar(1e16)), "1e+16");
  EXPECT_EQ(str(Scalar(123.456)), "123.456");
  EXPECT_EQ(str(Scalar(std::nan(""))), "nan");
  EXPECT_EQ(str(Scalar(-std::numeric_limits<double>::infinity())), "-inf");
  EXPECT_EQ(str(Scalar(std::complex<double>(1, 2))), "(1+2j)");
  EXPECT_EQ(str(Scalar(std::complex<double>(1.5, -0.25))), "(1.5-0.25j)");
  EXPECT_EQ(str(Scalar(std::complex<double>(0, 2))), "2j");
  EXPECT_EQ(str(Scalar(std::complex<double>(-0.0, 2))), "(-0+2j)");
  EXPECT_EQ(str(Scalar(std::complex<double>(1, std::nan("")))), "(1+nanj)");
}
