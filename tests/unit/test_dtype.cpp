// dtypes: sizes, names, the 16-bit float formats (round to nearest even, ties,
// subnormals, overflow, NaN) and element conversions through Tensor::to.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "wick/core/tensor.h"

using namespace wick;

namespace {

const DType kAll[] = {DType::Float32,
                      DType::Float64,
                      DType::Float16,
                      DType::BFloat16,
                      DType::Int8,
                      DType::Int16,
                      DType::Int32,
                      DType::Int64,
                      DType::UInt8,
                      DType::Bool,
                      DType::Complex64,
                      DType::Complex128,
                      DType::UInt16,
                      DType::UInt32,
                      DType::UInt64,
                      DType::Float8_e4m3fn,
                      DType::Float8_e5m2,
                      DType::Float8_e4m3fnuz,
                      DType::Float8_e5m2fnuz,
                      DType::Complex32};
static_assert(std::size(kAll) == kNumDTypes);

bool is_unsigned(DType t) {
  return t == DType::UInt8 || t == DType::UInt16 || t == DType::UInt32 || t == DType::UInt64;
}

float f(uint32_t bits) {
  return std::bit_cast<float>(bits);
}

// A 1-D tensor of `dtype` holding `values` (each converted by Scalar's rules).
Tensor make(DType dtype, const std::vector<Scalar>& values) {
  Tensor t = empty({int64_t(values.size())}, {.dtype = dtype});
  for (size_t i = 0; i < values.size(); ++i) t.set({int64_t(i)}, values[i]);
  return t;
}

std::complex<double> at(const Tensor& t, int64_t i) {
  return t.at({i}).to<std::complex<double>>();
}

}  // namespace

TEST(DType, ElementSizeMatchesTheCppType) {
  const int64_t expected[] = {4, 8, 2, 2, 1, 2, 4, 8, 1, 1, 8, 16, 2, 4, 8, 1, 1, 1, 1, 4};
  for (int i = 0; i < kNumDTypes; ++i) {
    DType t = kAll[i];
    EXPECT_EQ(element_size(t), expected[i]) << t;
    EXPECT_EQ(element_size(t), visit_dtype(t, []<class T>() { return int64_t(sizeof(T)); })) << t;
    EXPECT_EQ(visit_dtype(t, []<class T>() { return dtype_of<T>(); }), t);
    EXPECT_EQ(empty({3}, {.dtype = t}).nbytes(), 3 * expected[i]);
  }
}

TEST(DType, NamesAreTorchNamesAndRoundTrip) {
  const char* names[] = {
      "float32",       "float64",     "float16",         "bfloat16",        "int8",
      "int16",         "int32",       "int64",           "uint8",           "bool",
      "complex64",     "complex128",  "uint16",          "uint32",          "uint64",
      "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "complex32"};
  for (int i = 0; i < kNumDTypes; ++i) {
    EXPECT_EQ(dtype_name(kAll[i]), names[i]);
    EXPECT_EQ(dtype_from_name(names[i]), kAll[i]);
    EXPECT_EQ(dtype_from_name(std::string("torch.") + names[i]), kAll[i]);
    std::ostringstream s;
    s << kAll[i];
    EXPECT_EQ(s.str(), names[i]);
  }
}

TEST(DType, AliasesAreTorchAliases) {
  EXPECT_EQ(dtype_from_name("float"), DType::Float32);
  EXPECT_EQ(dtype_from_name("double"), DType::Float64);
  EXPECT_EQ(dtype_from_name("half"), DType::Float16);
  EXPECT_EQ(dtype_from_name("short"), DType::Int16);
  EXPECT_EQ(dtype_from_name("int"), DType::Int32);
  EXPECT_EQ(dtype_from_name("long"), DType::Int64);
  EXPECT_EQ(dtype_from_name("cfloat"), DType::Complex64);
  EXPECT_EQ(dtype_from_name("torch.cdouble"), DType::Complex128);
  EXPECT_EQ(dtype_from_name("chalf"), DType::Complex32);
  EXPECT_EQ(dtype_from_name("torch.chalf"), DType::Complex32);
}

TEST(DType, UnknownNamesThrowNamingTheName) {
  for (const char* bad : {"", "float8", "Float32", "torch.", "float8_e4m3", "float8_e8m0fnu",
                          "qint8", "uint128", "int64 "}) {
    try {
      dtype_from_name(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const DTypeError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(dtype_name(DType(200)), "invalid");
  EXPECT_THROW(visit_dtype(DType(200), []<class T>() {}), DTypeError);
}

TEST(DType, Categories) {
  for (DType t : kAll) {
    int kinds = is_floating_point(t) + is_complex(t) + is_integral(t, true);
    EXPECT_EQ(kinds, 1) << t << " is exactly one of floating, complex, integral-or-bool";
  }
  EXPECT_TRUE(is_floating_point(DType::BFloat16));
  EXPECT_TRUE(is_integral(DType::UInt8));
  EXPECT_FALSE(is_integral(DType::Bool));
  EXPECT_TRUE(is_integral(DType::Bool, true));
  EXPECT_TRUE(is_complex(DType::Complex128));
  // As torch.dtype's is_floating_point / is_complex, and torch's isIntegralType.
  for (DType t :
       {DType::Float8_e4m3fn, DType::Float8_e5m2, DType::Float8_e4m3fnuz, DType::Float8_e5m2fnuz})
    EXPECT_TRUE(is_floating_point(t) && is_float8(t)) << t;
  EXPECT_TRUE(is_complex(DType::Complex32));
  for (DType t : {DType::UInt16, DType::UInt32, DType::UInt64}) EXPECT_TRUE(is_integral(t)) << t;
  EXPECT_FALSE(is_float8(DType::Float16));
}

TEST(DType, StorageOnlyDTypesNameTheirComputeDType) {
  int storage_only = 0;
  for (DType t : kAll) {
    storage_only += is_storage_only(t);
    EXPECT_FALSE(is_storage_only(compute_dtype(t))) << t;
    if (!is_storage_only(t)) {
      EXPECT_EQ(compute_dtype(t), t);
    }
  }
  EXPECT_EQ(storage_only, 8);
  EXPECT_EQ(compute_dtype(DType::Float8_e5m2fnuz), DType::Float32);
  EXPECT_EQ(compute_dtype(DType::UInt64), DType::Int64);
  EXPECT_EQ(compute_dtype(DType::Complex32), DType::Complex64);
  EXPECT_NO_THROW(check_computable(DType::Float16, "add"));
  try {
    check_computable(DType::Float8_e4m3fn, "add");
    ADD_FAILURE() << "float8 accepted";
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(),
                 "add: float8_e4m3fn tensors support no arithmetic in wick; convert with "
                 ".to(wick::DType::Float32) first");
  }
}

// ---- float16 ------------------------------------------------------------------

TEST(Float16, EveryNonNaNValueRoundTripsExactly) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float v = Half::to_float(uint16_t(h));
    bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
    EXPECT_EQ(std::isnan(v), nan) << std::hex << h;
    if (!nan) {
      EXPECT_EQ(Half::from_float(v), h) << std::hex << h;
    }
  }
}

TEST(Float16, KnownEncodings) {
  EXPECT_EQ(Half::from_float(1.0f), 0x3c00);
  EXPECT_EQ(Half::from_float(-2.0f), 0xc000);
  EXPECT_EQ(Half::from_float(0.0f), 0x0000);
  EXPECT_EQ(Half::from_float(-0.0f), 0x8000);
  EXPECT_EQ(Half::from_float(65504.0f), 0x7bff);  // the largest half
  EXPECT_EQ(Half::from_float(0x1p-14f), 0x0400);  // the smallest normal
  EXPECT_EQ(Half::from_float(0x1p-24f), 0x0001);  // the smallest subnormal
  EXPECT_EQ(Half::from_float(-0x1p-24f), 0x8001);
  EXPECT_EQ(Half::to_float(0x03ff), 1023 * 0x1p-24f);  // the largest subnormal
}

// Between every pair of neighbouring halves: the exact midpoint goes to the
// even one, anything off the midpoint to the nearer one.
TEST(Float16, RoundsToNearestEvenBetweenEveryPairOfNeighbours) {
  for (uint16_t h = 0; h < 0x7bff; ++h) {
    float lo = Half::to_float(h), hi = Half::to_float(uint16_t(h + 1));
    float mid = (lo + hi) / 2;  // exact: float has 13 more mantissa bits
    uint16_t even = (h & 1) ? uint16_t(h + 1) : h;
    ASSERT_EQ(Half::from_float(mid), even) << std::hex << h;
    ASSERT_EQ(Half::from_float(std::nextafter(mid, 0.0f)), h) << std::hex << h;
    ASSERT_EQ(Half::from_float(std::nextafter(mid, INFINITY)), h + 1) << std::hex << h;
    ASSERT_EQ(Half::from_float(-mid), even | 0x8000) << std::hex << h;
  }
}

TEST(Float16, TiesAndSubnormals) {
  EXPECT_EQ(Half::from_float(1.0f + 0x1p-11f), 0x3c00) << "tie, down to even";
  EXPECT_EQ(Half::from_float(1.0f + 3 * 0x1p-11f), 0x3c02) << "tie, up to even";
  EXPECT_EQ(Half::from_float(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01) << "just above the tie";
  EXPECT_EQ(Half::from_float(0x1p-25f), 0x0000) << "half the smallest subnormal ties to 0";
  EXPECT_EQ(Half::from_float(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(Half::from_float(0x1p-25f * 1.0001f), 0x0001);
  EXPECT_EQ(Half::from_float(1023.5f * 0x1p-24f), 0x0400) << "largest subnormal ties up to normal";
  EXPECT_EQ(Half::from_float(0x1p-30f), 0x0000) << "underflow";
  EXPECT_EQ(Half::from_float(-0x1p-30f), 0x8000) << "underflow keeps the sign";
  EXPECT_EQ(Half::from_float(f(0x00000001)), 0x0000) << "float subnormal";
}

TEST(Float16, OverflowsToInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Half::from_float(65519.99f), 0x7bff);
  EXPECT_EQ(Half::from_float(65520.0f), 0x7c00) << "the tie above 65504 rounds to inf";
  EXPECT_EQ(Half::from_float(1e6f), 0x7c00);
  EXPECT_EQ(Half::from_float(-1e6f), 0xfc00);
  EXPECT_EQ(Half::from_float(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(Half::from_float(inf), 0x7c00);
  EXPECT_EQ(Half::from_float(-inf), 0xfc00);
  EXPECT_EQ(Half::to_float(0x7c00), inf);
}

TEST(Float16, NaNStaysNaN) {
  for (uint32_t b : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fbfffffu, 0x7f802000u}) {
    uint16_t h = Half::from_float(f(b));
    EXPECT_EQ(h & 0x7c00, 0x7c00) << std::hex << b;
    EXPECT_NE(h & 0x03ff, 0) << std::hex << b << " must not become inf";
    EXPECT_TRUE(std::isnan(float(Half(f(b)))));
  }
}

// ---- bfloat16 -------------------------------------------------------------------

TEST(BFloat16, EveryNonNaNValueRoundTripsExactly) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float v = f(h << 16);
    bool nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0;
    if (!nan)
      EXPECT_EQ(BFloat16::from_float(v), h) << std::hex << h;
    else
      EXPECT_TRUE(std::isnan(float(BFloat16(v))));
  }
}

TEST(BFloat16, RoundsToNearestEvenBetweenEveryPairOfNeighbours) {
  for (uint32_t h = 0; h < 0x7f7f; ++h) {
    uint32_t mid = (h << 16) | 0x8000;  // exactly halfway to h + 1
    uint32_t even = (h & 1) ? h + 1 : h;
    ASSERT_EQ(BFloat16::from_float(f(mid)), even) << std::hex << h;
    ASSERT_EQ(BFloat16::from_float(f(mid - 1)), h) << std::hex << h;
    ASSERT_EQ(BFloat16::from_float(f(mid + 1)), h + 1) << std::hex << h;
    ASSERT_EQ(BFloat16::from_float(f(mid | 0x80000000u)), even | 0x8000) << std::hex << h;
  }
}

TEST(BFloat16, OverflowSubnormalsAndNaN) {
  EXPECT_EQ(BFloat16::from_float(f(0x7f7f7fff)), 0x7f7f) << "below the last tie";
  EXPECT_EQ(BFloat16::from_float(f(0x7f7f8000)), 0x7f80) << "the last tie rounds to inf";
  EXPECT_EQ(BFloat16::from_float(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(BFloat16::from_float(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(BFloat16::from_float(0x1p-130f), 0x0008) << "float subnormals are bf16 subnormals";
  EXPECT_EQ(BFloat16::from_float(f(0x00008000)), 0x0000) << "tie to even zero";
  EXPECT_EQ(BFloat16::from_float(f(0x00018000)), 0x0002);
  EXPECT_EQ(BFloat16::from_float(-0.0f), 0x8000);
  for (uint32_t b : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f807fffu}) {
    uint16_t h = BFloat16::from_float(f(b));
    EXPECT_EQ(h & 0x7f80, 0x7f80) << std::hex << b;
    EXPECT_NE(h & 0x7f, 0) << std::hex << b << " must not become inf";
  }
}

// ---- convert_element ------------------------------------------------------------

TEST(ConvertElement, FloatToIntegerTruncatesTowardZero) {
  EXPECT_EQ(convert_element<int32_t>(2.7), 2);
  EXPECT_EQ(convert_element<int32_t>(-2.7), -2);
  EXPECT_EQ(convert_element<int8_t>(-0.99f), 0);
  EXPECT_EQ(convert_element<int64_t>(Half(-3.5f)), -3);
  EXPECT_EQ(convert_element<uint8_t>(BFloat16(200.0f)), 200);
  EXPECT_EQ(convert_element<int64_t>(9007199254740992.0), int64_t(1) << 53);
}

TEST(ConvertElement, OutOfRangeFloatToIntegerIsDefined) {
  // PyTorch leaves these unspecified; wick clamps into int64 and never hits UB.
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(convert_element<int64_t>(inf), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(convert_element<int64_t>(-inf), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(convert_element<int64_t>(1e300), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(convert_element<int64_t>(std::nan("")), 0);
  EXPECT_EQ(convert_element<int64_t>(-9223372036854775808.0), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(convert_element<int32_t>(std::numeric_limits<float>::quiet_NaN()), 0);
  EXPECT_EQ(convert_element<uint8_t>(Half(std::numeric_limits<float>::infinity())),
            uint8_t(std::numeric_limits<int64_t>::max()));
}

TEST(ConvertElement, IntegersWrapLikeCpp) {
  EXPECT_EQ(convert_element<uint8_t>(int64_t(300)), 44);
  EXPECT_EQ(convert_element<uint8_t>(int64_t(-1)), 255);
  EXPECT_EQ(convert_element<int8_t>(int16_t(200)), -56);
  EXPECT_EQ(convert_element<int64_t>(uint8_t(255)), 255) << "uint8 is unsigned";
  EXPECT_EQ(convert_element<float>(int64_t(16777217)), 16777216.0f) << "rounds to nearest even";
}

TEST(ConvertElement, BoolIsNonZero) {
  EXPECT_TRUE(convert_element<bool>(0.5));
  EXPECT_FALSE(convert_element<bool>(-0.0));
  EXPECT_TRUE(convert_element<bool>(std::nan("")));
  EXPECT_TRUE(convert_element<bool>(Half(0x1p-24f)));
  EXPECT_FALSE(convert_element<bool>(BFloat16(-0.0f)));
  EXPECT_TRUE(convert_element<bool>(int8_t(-1)));
  EXPECT_EQ(convert_element<double>(true), 1.0);
  EXPECT_EQ(float(convert_element<Half>(true)), 1.0f);
}

TEST(ConvertElement, ComplexToRealDropsTheImaginaryPart) {
  // Bool included: PyTorch's to(torch.bool) of 1j is False (the real part is 0).
  EXPECT_FALSE(convert_element<bool>(std::complex<float>(0, 1)));
  EXPECT_TRUE(convert_element<bool>(std::complex<double>(-0.5, 0)));
  EXPECT_FALSE(Scalar(std::complex<double>(0, 2)).to<bool>());
  EXPECT_EQ(convert_element<float>(std::complex<double>(1.5, -2)), 1.5f);
  EXPECT_EQ(convert_element<int64_t>(std::complex<float>(-3.7f, 9)), -3);
  EXPECT_EQ(float(convert_element<Half>(std::complex<float>(0.25f, 1))), 0.25f);
  EXPECT_EQ(convert_element<std::complex<float>>(std::complex<double>(0.1, -0.2)),
            std::complex<float>(0.1f, -0.2f));
  EXPECT_EQ(convert_element<std::complex<double>>(int64_t(-4)), std::complex<double>(-4, 0));
}

TEST(ConvertElement, Float64ToHalfGoesThroughFloat32LikePyTorch) {
  // 1 + 2^-11 + 2^-40 is just above a float16 tie, but float32 drops the 2^-40
  // first and the tie then goes to even: PyTorch's Half(double) does the same.
  double v = 1.0 + 0x1p-11 + 0x1p-40;
  EXPECT_EQ(convert_element<Half>(v).bits, 0x3c00);
  EXPECT_EQ(convert_element<BFloat16>(1.0 + 0x1p-8 + 0x1p-40).bits, 0x3f80);
}

// ---- Tensor::to -------------------------------------------------------------------

TEST(DTypeConversion, AllPairsKeepValuesThatFitEveryDtype) {
  for (DType from : kAll) {
    bool from_bool = from == DType::Bool;
    std::vector<Scalar> values = from_bool ? std::vector<Scalar>{true, false, true}
                                           : std::vector<Scalar>{0, 1, 2, 5, 96, 112};
    // Every value is exact in every dtype, float8 included.
    bool negatives = !is_unsigned(from) && !from_bool;
    if (negatives) values.insert(values.end(), {-1, -96, -128});
    Tensor src = make(from, values);
    for (DType to : kAll) {
      Tensor dst = src.to(to);
      ASSERT_EQ(dst.dtype(), to);
      ASSERT_EQ(dst.sizes(), src.sizes());
      bool signed_to = !is_unsigned(to) && to != DType::Bool;
      for (size_t i = 0; i < values.size(); ++i) {
        double v = values[i].to<double>();
        if (v < 0 && !signed_to) continue;
        double expected = to == DType::Bool ? double(v != 0) : v;
        EXPECT_EQ(at(dst, int64_t(i)), std::complex<double>(expected, 0))
            << from << " -> " << to << " element " << i;
      }
    }
  }
}

TEST(DTypeConversion, StridedSourcesConvertInLogicalOrder) {
  Tensor x = arange(6, DType::Int32).view({2, 3}).t();  // [[0, 3], [1, 4], [2, 5]]
  for (DType to : kAll) {
    Tensor y = x.to(to);
    EXPECT_TRUE(to == DType::Int32 || y.is_contiguous())
        << to << ": a converted copy is contiguous";
    EXPECT_EQ(y.sizes(), (Shape{3, 2}));
    EXPECT_EQ(y.at({0, 1}).to<double>(), to == DType::Bool ? 1.0 : 3.0) << to;
    EXPECT_EQ(y.at({2, 0}).to<double>(), to == DType::Bool ? 1.0 : 2.0) << to;
    EXPECT_EQ(y.at({0, 0}).to<double>(), 0.0) << to;
  }
}

TEST(DTypeConversion, FractionsNaNAndInfinity) {
  Tensor x = tensor<float>({2.7f, -2.7f, 0.5f, -0.0f});
  EXPECT_EQ(x.to(DType::Int32).to_vector<int64_t>(), (std::vector<int64_t>{2, -2, 0, 0}));
  EXPECT_EQ(x.to(DType::Bool).to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 1, 0}));
  const float inf = std::numeric_limits<float>::infinity();
  Tensor h = tensor<float>({NAN, inf, -inf, 1e6f, 1.0f + 0x1p-11f}).to(DType::Float16);
  std::vector<float> hv = h.to_vector<float>();
  EXPECT_TRUE(std::isnan(hv[0]));
  EXPECT_EQ(hv[1], inf);
  EXPECT_EQ(hv[2], -inf);
  EXPECT_EQ(hv[3], inf) << "overflow";
  EXPECT_EQ(hv[4], 1.0f) << "tie to even";
  std::vector<float> bv =
      tensor<float>({NAN, 1.0f + 0x1p-8f}).to(DType::BFloat16).to_vector<float>();
  EXPECT_TRUE(std::isnan(bv[0]));
  EXPECT_EQ(bv[1], 1.0f);
  EXPECT_TRUE(std::isnan(
      tensor<double>({NAN}).to(DType::Complex64).to_vector<std::complex<float>>()[0].real()));
}

TEST(DTypeConversion, ComplexToReal) {
  Tensor c = tensor<std::complex<float>>({{1.5f, 2}, {-3.25f, -1}, {0, 1}, {0, 0}});
  EXPECT_EQ(c.to(DType::Float32).to_vector<float>(), (std::vector<float>{1.5f, -3.25f, 0, 0}));
  EXPECT_EQ(c.to(DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{1, -3, 0, 0}));
  EXPECT_EQ(c.to(DType::Bool).to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 0, 0}))
      << "the imaginary part is dropped before the test for zero";
  EXPECT_EQ(c.to(DType::Float16).to_vector<float>(), (std::vector<float>{1.5f, -3.25f, 0, 0}));
  Tensor back = c.to(DType::Complex128).to(DType::Complex64);
  EXPECT_EQ(back.to_vector<std::complex<float>>(), c.to_vector<std::complex<float>>());
}

TEST(DTypeConversion, SameDtypeIsTheSameTensorUnlessCopyIsAsked) {
  Tensor x = tensor<float>({1, 2});
  EXPECT_TRUE(x.to(DType::Float32).is_same(x));
  Tensor y = x.to(DType::Float32, /*copy=*/true);
  EXPECT_FALSE(y.is_same(x));
  EXPECT_NE(y.storage(), x.storage());
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());
}

TEST(DTypeConversion, ZeroDimAndEmpty) {
  Tensor s = scalar_tensor(2.5).to(DType::Int16);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<int64_t>(), 2);
  Tensor e = empty({0, 3}).to(DType::Complex128);
  EXPECT_EQ(e.sizes(), (Shape{0, 3}));
  EXPECT_EQ(e.dtype(), DType::Complex128);
}
