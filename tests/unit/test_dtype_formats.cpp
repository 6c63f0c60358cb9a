// The narrow float formats against a reference this test computes from each
// format's definition (sign, exponent, mantissa, bias, special values), never
// from wick's code: decoding of every bit pattern of float8 (four formats),
// float16, bfloat16 and complex32's halves; encoding of every value, every
// midpoint between neighbours and the floats next to it, overflow boundaries,
// infinities, NaNs, subnormals and -0, rounded to nearest even by searching
// the format's values (docs/formats.md §7.2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "wick/core/tensor.h"

using namespace wick;

namespace {

// How a format spends its top exponent.
enum class Special {
  IEEE,  // all-ones exponent: inf (mantissa 0) or NaN
  FN,    // only S.1111.111 is NaN; no inf
  FNUZ,  // only 0x80 is NaN; no inf, no -0
};

struct Format {
  const char* name;
  int bits;  // 8 or 16
  int exp_bits, mant_bits, bias;
  Special special;
};

const Format kE4M3fn{"float8_e4m3fn", 8, 4, 3, 7, Special::FN};
const Format kE5M2{"float8_e5m2", 8, 5, 2, 15, Special::IEEE};
const Format kE4M3fnuz{"float8_e4m3fnuz", 8, 4, 3, 8, Special::FNUZ};
const Format kE5M2fnuz{"float8_e5m2fnuz", 8, 5, 2, 16, Special::FNUZ};
const Format kHalf{"float16", 16, 5, 10, 15, Special::IEEE};
const Format kBF16{"bfloat16", 16, 8, 7, 127, Special::IEEE};

uint32_t sign_bit(const Format& f) {
  return 1u << (f.bits - 1);
}
uint32_t exp_field(const Format& f, uint32_t b) {
  return (b >> f.mant_bits) & ((1u << f.exp_bits) - 1);
}
uint32_t mant_field(const Format& f, uint32_t b) {
  return b & ((1u << f.mant_bits) - 1);
}

bool ref_is_nan(const Format& f, uint32_t b) {
  const uint32_t top = (1u << f.exp_bits) - 1, all_mant = (1u << f.mant_bits) - 1;
  switch (f.special) {
    case Special::IEEE:
      return exp_field(f, b) == top && mant_field(f, b) != 0;
    case Special::FN:
      return exp_field(f, b) == top && mant_field(f, b) == all_mant;
    case Special::FNUZ:
      return b == sign_bit(f);
  }
  return false;
}

// The value of a bit pattern that is not NaN, from the definition.
double ref_decode(const Format& f, uint32_t b) {
  const bool neg = b & sign_bit(f);
  const int e = int(exp_field(f, b));
  const double m = mant_field(f, b);
  double v;
  if (f.special == Special::IEEE && e == (1 << f.exp_bits) - 1)
    v = std::numeric_limits<double>::infinity();
  else if (e == 0)
    v = std::ldexp(m, 1 - f.bias - f.mant_bits);  // subnormal: 0.mmm * 2^(1 - bias)
  else
    v = std::ldexp(m + std::ldexp(1.0, f.mant_bits), e - f.bias - f.mant_bits);
  return neg ? -v : v;
}

// The non-negative finite values in increasing order with their patterns,
// followed by the value one step past the largest (what overflow rounds to),
// whose pattern is the one after the largest: inf for IEEE formats, the NaN
// for fn and fnuz.
struct Ladder {
  std::vector<double> value;
  std::vector<uint32_t> bits;
};

Ladder ladder(const Format& f) {
  Ladder l;
  for (uint32_t b = 0; b < sign_bit(f); ++b) {
    if (ref_is_nan(f, b) || std::isinf(ref_decode(f, b))) break;
    l.value.push_back(ref_decode(f, b));
    l.bits.push_back(b);
  }
  const uint32_t top = l.bits.back();
  const double ulp = std::ldexp(1.0, int(exp_field(f, top)) - f.bias - f.mant_bits);
  l.value.push_back(l.value.back() + ulp);
  l.bits.push_back(top + 1);
  return l;
}

// The pattern a float must encode to: nearest value, ties to the even
// pattern, overflow to the ladder's last rung; NaN to the format's NaN with
// the input's sign (fnuz: its only NaN); no -0 in fnuz.
uint32_t ref_encode(const Format& f, const Ladder& l, float x) {
  const uint32_t sign = std::signbit(x) ? sign_bit(f) : 0;
  if (std::isnan(x)) {
    if (f.special == Special::FNUZ) return sign_bit(f);
    return sign | (sign_bit(f) - 1);  // all ones: e5m2's 0x7f, e4m3fn's 0x7f
  }
  const double a = std::fabs(double(x));
  uint32_t mag;
  if (a >= l.value.back()) {
    mag = l.bits.back();
  } else {
    size_t hi = size_t(std::upper_bound(l.value.begin(), l.value.end(), a) - l.value.begin());
    size_t lo = hi - 1;
    double dlo = a - l.value[lo], dhi = l.value[hi] - a;  // exact: a and values are close
    if (dlo < dhi)
      mag = l.bits[lo];
    else if (dhi < dlo)
      mag = l.bits[hi];
    else
      mag = (l.bits[lo] & 1) ? l.bits[hi] : l.bits[lo];
  }
  if (f.special == Special::FNUZ) {
    if (mag == sign_bit(f)) return sign_bit(f);  // overflow: the NaN
    if (mag == 0) return 0;
  }
  return sign | mag;
}

// Floats to encode: every value, every midpoint between neighbours (the last
// one between the largest and the overflow rung) and the floats on either
// side of it, each with both signs, and the special cases.
std::vector<float> probes(const Ladder& l) {
  std::vector<float> out;
  auto both = [&](float v) {
    out.push_back(v);
    out.push_back(-v);
  };
  for (size_t i = 0; i + 1 < l.value.size(); ++i) {
    both(float(l.value[i]));
    float mid = float((l.value[i] + l.value[i + 1]) / 2);
    EXPECT_EQ(double(mid), (l.value[i] + l.value[i + 1]) / 2) << "midpoint not exact";
    both(mid);
    both(std::nextafter(mid, 0.0f));
    both(std::nextafter(mid, INFINITY));
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {float(l.value.back()),
                  std::nextafter(float(l.value.back()), 0.0f),
                  1e30f,
                  std::numeric_limits<float>::max(),
                  inf,
                  0x1p-149f,
                  0x1p-126f,
                  std::nextafter(0x1p-126f, 0.0f),
                  0x1p-100f,
                  448.0f,
                  464.0f,
                  465.0f,
                  480.0f,
                  240.0f,
                  248.0f,
                  256.0f,
                  57344.0f,
                  61440.0f,
                  61441.0f,
                  65504.0f,
                  65520.0f,
                  65536.0f})
    both(v);
  for (uint32_t nan : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fbfffffu})
    out.push_back(std::bit_cast<float>(nan));
  return out;
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

// Checks one decoded float against the definition.
void expect_decoded(const Format& f, uint32_t b, float got) {
  if (ref_is_nan(f, b)) {
    EXPECT_TRUE(std::isnan(got)) << f.name << " " << hex(b);
    if (f.special != Special::FNUZ) {
      EXPECT_EQ(std::signbit(got), bool(b & sign_bit(f))) << f.name << " " << hex(b);
    }
    return;
  }
  double want = ref_decode(f, b);
  EXPECT_EQ(std::bit_cast<uint64_t>(double(got)), std::bit_cast<uint64_t>(want))
      << f.name << " " << hex(b) << ": got " << got << ", want " << want;
}

struct Float8Case {
  const Format* format;
  DType dtype;
  Float8Kind kind;
};

const Float8Case kFloat8[] = {{&kE4M3fn, DType::Float8_e4m3fn, Float8Kind::E4M3fn},
                              {&kE5M2, DType::Float8_e5m2, Float8Kind::E5M2},
                              {&kE4M3fnuz, DType::Float8_e4m3fnuz, Float8Kind::E4M3fnuz},
                              {&kE5M2fnuz, DType::Float8_e5m2fnuz, Float8Kind::E5M2fnuz}};

}  // namespace

// The reference itself, on facts the formats' specifications state.
TEST(FormatReference, KnownLimits) {
  EXPECT_EQ(ladder(kE4M3fn).value.end()[-2], 448.0);
  EXPECT_EQ(ladder(kE5M2).value.end()[-2], 57344.0);
  EXPECT_EQ(ladder(kE4M3fnuz).value.end()[-2], 240.0);
  EXPECT_EQ(ladder(kE5M2fnuz).value.end()[-2], 57344.0);
  EXPECT_EQ(ladder(kHalf).value.end()[-2], 65504.0);
  EXPECT_EQ(ladder(kE4M3fn).value[1], 0x1p-9);
  EXPECT_EQ(ladder(kE4M3fnuz).value[1], 0x1p-10);
  EXPECT_EQ(ladder(kE5M2).value[1], 0x1p-16);
  EXPECT_EQ(ladder(kE5M2fnuz).value[1], 0x1p-17);
  EXPECT_EQ(ladder(kE4M3fn).value.size(), 127u + 1);  // 0x00..0x7e, then the NaN rung
  EXPECT_EQ(ladder(kE4M3fnuz).value.size(), 128u + 1);
  EXPECT_EQ(ladder(kE5M2).value.size(), 124u + 1);
  EXPECT_EQ(ref_encode(kE4M3fn, ladder(kE4M3fn), 464.0f), 0x7eu) << "tie to even 448";
  EXPECT_EQ(ref_encode(kE4M3fnuz, ladder(kE4M3fnuz), 248.0f), 0x80u) << "tie to NaN";
  EXPECT_EQ(ref_encode(kE5M2, ladder(kE5M2), -61440.0f), 0xfcu) << "tie to -inf";
}

TEST(Float8Format, DecodesEveryPatternAsDefined) {
  for (const auto& c : kFloat8) {
    Tensor t = empty({256}, {.dtype = c.dtype});
    auto* p = static_cast<uint8_t*>(t.data_ptr());
    for (uint32_t b = 0; b < 256; ++b) {
      p[b] = uint8_t(b);
      expect_decoded(*c.format, b, float8_to_float(uint8_t(b), c.kind));
    }
    // The same through Tensor::to, to float32 and to float64.
    std::vector<float> f32 = t.to(DType::Float32).to_vector<float>();
    std::vector<double> f64 = t.to(DType::Float64).to_vector<double>();
    for (uint32_t b = 0; b < 256; ++b) {
      expect_decoded(*c.format, b, f32[b]);
      if (!ref_is_nan(*c.format, b)) {
        EXPECT_EQ(f64[b], ref_decode(*c.format, b));
      }
    }
  }
}

TEST(Float8Format, NaNDecodesQuiet) {
  for (const auto& c : kFloat8)
    for (uint32_t b = 0; b < 256; ++b)
      if (ref_is_nan(*c.format, b)) {
        EXPECT_NE(std::bit_cast<uint32_t>(float8_to_float(uint8_t(b), c.kind)) & 0x400000u, 0u)
            << c.format->name << " " << hex(b);
      }
}

TEST(Float8Format, EncodesToNearestEvenAsDefined) {
  for (const auto& c : kFloat8) {
    const Ladder l = ladder(*c.format);
    std::vector<float> xs = probes(l);
    for (float x : xs) {
      uint32_t want = ref_encode(*c.format, l, x);
      ASSERT_EQ(uint32_t(float8_from_float(x, c.kind)), want)
          << c.format->name << " of " << x << " (" << hex(std::bit_cast<uint32_t>(x)) << ")";
    }
    // Tensor::to from float32 and (through float32, as PyTorch) from float64.
    Tensor src = tensor<float>(xs);
    Tensor q = src.to(c.dtype), q64 = src.to(DType::Float64).to(c.dtype);
    const auto* p = static_cast<const uint8_t*>(q.data_ptr());
    const auto* p64 = static_cast<const uint8_t*>(q64.data_ptr());
    for (size_t i = 0; i < xs.size(); ++i) {
      ASSERT_EQ(uint32_t(p[i]), ref_encode(*c.format, l, xs[i])) << c.format->name << " " << xs[i];
      ASSERT_EQ(p64[i], p[i]) << c.format->name << " " << xs[i];
    }
  }
}

TEST(Float8Format, OverflowAndSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  // e4m3fn: no inf; beyond 464 (the tie to 448) is NaN, sign kept.
  EXPECT_EQ(Float8_e4m3fn(464.0f).bits, 0x7e);
  EXPECT_EQ(Float8_e4m3fn(464.5f).bits, 0x7f);
  EXPECT_EQ(Float8_e4m3fn(-inf).bits, 0xff);
  EXPECT_EQ(Float8_e4m3fn(-0.0f).bits, 0x80);
  // e5m2: IEEE, overflow to inf.
  EXPECT_EQ(Float8_e5m2(61439.0f).bits, 0x7b);
  EXPECT_EQ(Float8_e5m2(61440.0f).bits, 0x7c);
  EXPECT_EQ(Float8_e5m2(-inf).bits, 0xfc);
  EXPECT_EQ(float(Float8_e5m2(inf)), inf);
  // fnuz: one NaN, no -0.
  EXPECT_EQ(Float8_e4m3fnuz(-0.0f).bits, 0x00);
  EXPECT_EQ(Float8_e4m3fnuz(-0x1p-12f).bits, 0x00) << "underflow loses the sign";
  EXPECT_EQ(Float8_e4m3fnuz(-inf).bits, 0x80);
  EXPECT_EQ(Float8_e5m2fnuz(-std::nanf("")).bits, 0x80);
  EXPECT_EQ(Float8_e5m2fnuz(57344.0f).bits, 0x7f);
  EXPECT_TRUE(std::isnan(float(Float8_e5m2fnuz(61440.0f))));
}

TEST(Float16Format, DecodesEveryPatternAsDefined) {
  for (uint32_t b = 0; b < 0x10000; ++b) expect_decoded(kHalf, b, Half::to_float(uint16_t(b)));
}

TEST(Float16Format, EncodesToNearestEvenAsDefined) {
  const Ladder l = ladder(kHalf);
  for (float x : probes(l)) {
    uint16_t got = Half::from_float(x);
    if (std::isnan(x)) {
      EXPECT_TRUE(ref_is_nan(kHalf, got)) << hex(std::bit_cast<uint32_t>(x));
      EXPECT_EQ(bool(got & 0x8000), std::signbit(x));
      continue;
    }
    ASSERT_EQ(uint32_t(got), ref_encode(kHalf, l, x)) << x;
  }
}

TEST(BFloat16Format, DecodesEveryPatternAsDefined) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    BFloat16 v;
    v.bits = uint16_t(b);
    expect_decoded(kBF16, b, float(v));
  }
}

TEST(BFloat16Format, EncodesToNearestEvenAsDefined) {
  const Ladder l = ladder(kBF16);
  for (float x : probes(l)) {
    uint16_t got = BFloat16::from_float(x);
    if (std::isnan(x)) {
      EXPECT_TRUE(ref_is_nan(kBF16, got)) << hex(std::bit_cast<uint32_t>(x));
      EXPECT_EQ(bool(got & 0x8000), std::signbit(x));
      continue;
    }
    ASSERT_EQ(uint32_t(got), ref_encode(kBF16, l, x)) << x;
  }
}

// complex32 is two float16 halves: every pattern in each, both directions,
// through Tensor::to.
TEST(Complex32Format, ComponentsAreFloat16BothWays) {
  Tensor c = empty({0x10000}, {.dtype = DType::Complex32});
  auto* p = static_cast<uint16_t*>(c.data_ptr());
  for (uint32_t b = 0; b < 0x10000; ++b) {
    p[2 * b] = uint16_t(b);
    p[2 * b + 1] = uint16_t(b ^ 0x8000);
  }
  std::vector<std::complex<float>> v = c.to(DType::Complex64).to_vector<std::complex<float>>();
  for (uint32_t b = 0; b < 0x10000; ++b) {
    expect_decoded(kHalf, b, v[b].real());
    expect_decoded(kHalf, b ^ 0x8000, v[b].imag());
  }

  const Ladder l = ladder(kHalf);
  std::vector<float> xs = probes(l);
  std::vector<std::complex<float>> zs;
  for (size_t i = 0; i < xs.size(); ++i) zs.emplace_back(xs[i], xs[xs.size() - 1 - i]);
  Tensor q = tensor<std::complex<float>>(zs).to(DType::Complex32);
  const auto* h = static_cast<const uint16_t*>(q.data_ptr());
  for (size_t i = 0; i < zs.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      float x = k == 0 ? zs[i].real() : zs[i].imag();
      if (std::isnan(x))
        EXPECT_TRUE(ref_is_nan(kHalf, h[2 * i + k]));
      else
        ASSERT_EQ(uint32_t(h[2 * i + k]), ref_encode(kHalf, l, x)) << x;
    }
  }
  // From complex128 through complex64 (PyTorch's route), and from a real.
  Tensor d = tensor<std::complex<double>>({{1.0 + 0x1p-11 + 0x1p-40, -2.5}}).to(DType::Complex32);
  EXPECT_EQ(static_cast<const uint16_t*>(d.data_ptr())[0], 0x3c00) << "double rounding, as torch";
  EXPECT_EQ(static_cast<const uint16_t*>(d.data_ptr())[1], 0xc100);
  Tensor r = tensor<float>({3.0f}).to(DType::Complex32);
  EXPECT_EQ(static_cast<const uint16_t*>(r.data_ptr())[0], 0x4200);
  EXPECT_EQ(static_cast<const uint16_t*>(r.data_ptr())[1], 0x0000);
}
