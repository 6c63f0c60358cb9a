// The storage-only dtypes (uint16/32/64, float8, complex32): tensors of them
// are made, copied, viewed, made contiguous, converted and printed; every op
// that computes refuses them, naming the conversion to use.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "wick/core/random.h"
#include "wick/core/tensor.h"
#include "wick/ops/elementwise.h"

using namespace wick;

namespace {

const DType kStorageOnly[] = {DType::UInt16,          DType::UInt32,      DType::UInt64,
                              DType::Float8_e4m3fn,   DType::Float8_e5m2, DType::Float8_e4m3fnuz,
                              DType::Float8_e5m2fnuz, DType::Complex32};

// [[0, 1, 2], [3, 4, 5]] in `dt`.
Tensor grid(DType dt) {
  return arange(6, DType::Int64).view({2, 3}).to(dt);
}

std::vector<double> values(const Tensor& t) {
  return t.to(DType::Float64).to_vector<double>();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DTypeError& e) {
    return e.what();
  }
  return "(no DTypeError)";
}

}  // namespace

TEST(StorageOnly, FactoriesAndElementAccess) {
  for (DType dt : kStorageOnly) {
    SCOPED_TRACE(dtype_name(dt));
    EXPECT_EQ(values(zeros({3}, {.dtype = dt})), (std::vector<double>{0, 0, 0}));
    EXPECT_EQ(values(ones({2}, {.dtype = dt})), (std::vector<double>{1, 1}));
    EXPECT_EQ(values(full({2}, 3, {.dtype = dt})), (std::vector<double>{3, 3}));
    Tensor t = empty({2}, {.dtype = dt});
    t.set({0}, 6);
    t.set({1}, 0.5);
    EXPECT_EQ(t.at({0}).to<double>(), 6);
    EXPECT_EQ(t.at({1}).to<double>(), is_integral(dt) ? 0 : 0.5);
    EXPECT_EQ(scalar_tensor(2, dt).item<double>(), 2);
    EXPECT_EQ(arange(4, dt).sizes(), (Shape{4}));
    t.fill_(4);
    EXPECT_EQ(values(t), (std::vector<double>{4, 4}));
  }
}

TEST(StorageOnly, ViewsShareAndCopiesCopy) {
  for (DType dt : kStorageOnly) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor g = grid(dt);
    Tensor tr = g.t();
    EXPECT_EQ(tr.storage(), g.storage());
    EXPECT_FALSE(tr.is_contiguous());
    EXPECT_EQ(values(tr), (std::vector<double>{0, 3, 1, 4, 2, 5}));
    Tensor c = tr.contiguous();
    EXPECT_TRUE(c.is_contiguous());
    EXPECT_NE(c.storage(), g.storage());
    EXPECT_EQ(values(c), (std::vector<double>{0, 3, 1, 4, 2, 5}));
    EXPECT_EQ(values(g.view({3, 2}).select(0, 2)), (std::vector<double>{4, 5}));
    EXPECT_EQ(values(g.narrow(1, 1, 2).reshape({4})), (std::vector<double>{1, 2, 4, 5}));
    EXPECT_EQ(values(g.select(1, 0).view({2, 1}).expand({2, 2})),
              (std::vector<double>{0, 0, 3, 3}));
    Tensor k = g.clone();
    EXPECT_NE(k.storage(), g.storage());
    EXPECT_EQ(std::memcmp(k.data_ptr(), g.data_ptr(), size_t(g.nbytes())), 0);
    // copy_ converts from any dtype and copies within the dtype, strided.
    Tensor dst = zeros({3, 2}, {.dtype = dt});
    dst.copy_(tr);
    EXPECT_EQ(values(dst), (std::vector<double>{0, 3, 1, 4, 2, 5}));
    dst.copy_(tensor<float>({7, 6}));
    EXPECT_EQ(values(dst), (std::vector<double>{7, 6, 7, 6, 7, 6}));
  }
}

TEST(StorageOnly, ConvertsToAndFromEveryDType) {
  for (DType dt : kStorageOnly) {
    for (int i = 0; i < kNumDTypes; ++i) {
      DType other = DType(i);
      SCOPED_TRACE(std::string(dtype_name(dt)) + " <-> " + std::string(dtype_name(other)));
      std::vector<double> want =
          other == DType::Bool ? std::vector<double>{0, 1, 1, 1, 1, 1} : values(grid(DType::Int64));
      EXPECT_EQ(values(grid(dt).to(other)), want);
      EXPECT_EQ(values(grid(other).to(dt)), want);
      EXPECT_EQ(values(grid(other).t().to(dt)), values(grid(other).t())) << "strided";
    }
  }
}

TEST(StorageOnly, UnsignedKeepTheirRange) {
  Tensor u = tensor<int64_t>({-1, int64_t(1) << 40, 65535}).to(DType::UInt64);
  EXPECT_EQ(u.to(DType::Float64).to_vector<double>(),
            (std::vector<double>{18446744073709551615.0, 1099511627776.0, 65535.0}));
  EXPECT_EQ(u.to(DType::Int64).to_vector<int64_t>(),
            (std::vector<int64_t>{-1, int64_t(1) << 40, 65535}))
      << "uint64 to int64 wraps, as in C++ and PyTorch";
  EXPECT_EQ(u.to(DType::UInt16).to(DType::Int64).to_vector<int64_t>(),
            (std::vector<int64_t>{65535, 0, 65535}));
  EXPECT_EQ(u.to(DType::UInt32).to(DType::Int64).to_vector<int64_t>(),
            (std::vector<int64_t>{4294967295, 0, 65535}));
  Tensor big = tensor<double>({1.8e19, 9.3e18, -1.0, 1e30}).to(DType::UInt64);
  const auto* p = static_cast<const uint64_t*>(big.data_ptr());
  EXPECT_EQ(p[0], 18000000000000000000u);
  EXPECT_EQ(p[1], 9300000000000000000u);
  EXPECT_EQ(p[3], std::numeric_limits<uint64_t>::max());
  EXPECT_NE(u.repr().find("[18446744073709551615,"), std::string::npos) << u.repr();
}

TEST(StorageOnly, PrintsThroughConversion) {
  Tensor x = tensor<float>({1.5f, -2, 0.25f, 224});
  for (DType dt :
       {DType::Float8_e4m3fn, DType::Float8_e5m2, DType::Float8_e4m3fnuz, DType::Float8_e5m2fnuz}) {
    Tensor q = x.to(dt);
    std::string f32 = q.to(DType::Float32).repr();
    EXPECT_EQ(q.repr(),
              f32.substr(0, f32.size() - 1) + ", dtype=torch." + std::string(dtype_name(dt)) + ")");
  }
  EXPECT_EQ(x.to(DType::Float8_e4m3fn).repr(),
            "tensor([  1.5000,  -2.0000,   0.2500, 224.0000], dtype=torch.float8_e4m3fn)");
  EXPECT_EQ(tensor<float>({1.5f, 448}).to(DType::Float8_e4m3fnuz).repr(),
            "tensor([1.5000,    nan], dtype=torch.float8_e4m3fnuz)")
      << "448 is beyond e4m3fnuz's 240";
  EXPECT_EQ(grid(DType::UInt16).repr(),
            "tensor([[0, 1, 2],\n        [3, 4, 5]], dtype=torch.uint16)");
  EXPECT_EQ(tensor<std::complex<float>>({{1, -2}}).to(DType::Complex32).repr(),
            "tensor([1.-2.j], dtype=torch.complex32)");
}

TEST(StorageOnly, ArithmeticIsRefusedNamingTheConversion) {
  for (DType dt : kStorageOnly) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor a = grid(dt);
    const std::string want = std::string(dtype_name(dt)) +
                             " tensors support no arithmetic in wick; convert with "
                             ".to(wick::DType::" +
                             (is_float8(dt)            ? "Float32"
                              : dt == DType::Complex32 ? "Complex64"
                                                       : "Int64") +
                             ") first";
    auto refused = [&](const char* what, const std::function<void()>& f) {
      std::string e = error_of(f);
      EXPECT_NE(e.find(want), std::string::npos) << what << ": " << e;
    };
    refused("add", [&] { (void)(a + a); });
    refused("mul scalar", [&] { (void)(a * 2); });
    refused("add_", [&] { a.add_(a); });
    refused("sum", [&] { (void)a.sum(); });
    refused("mean", [&] { (void)a.mean(); });
    refused("exp", [&] { (void)a.exp(); });
    refused("relu", [&] { (void)a.relu(); });
    refused("matmul", [&] { (void)a.matmul(a.t()); });
    refused("eq", [&] { (void)eq(a, a); });
    refused("lt scalar", [&] { (void)lt(a, 1); });
    refused("uniform_", [&] { uniform_(a, 0, 1); });
    // The suggested conversion works.
    if (!is_complex(dt)) {
      EXPECT_EQ(values(a.to(compute_dtype(dt)).sum()), (std::vector<double>{15}));
    }
  }
}
