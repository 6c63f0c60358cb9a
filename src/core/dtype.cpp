#include "wick/core/dtype.h"

#include <array>
#include <cmath>
#include <string>

namespace wick {

uint16_t Half::from_float(float f) {
  // Round to nearest even, handling subnormals, overflow to inf and NaN.
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // NaN
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): value / 2^-24, rounded to nearest even.
    // Adding 0.5f shifts the bits so the float adder does the rounding.
    float r = std::bit_cast<float>(abs) + 0.5f;
    return uint16_t(sign | (std::bit_cast<uint32_t>(r) - 0x3f000000u));
  }
  uint32_t mant_odd = (abs >> 13) & 1u;
  abs += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
  return uint16_t(sign | (abs >> 13));
}

float Half::to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    float v = float(mant) * 0x1.0p-24f;
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

namespace {

struct Float8Format {
  int mant_bits;
  int bias;
  uint8_t max_finite;  // largest finite magnitude, as bits without the sign
};

constexpr Float8Format format_of(Float8Kind k) {
  switch (k) {
    case Float8Kind::E4M3fn:
      return {3, 7, 0x7e};
    case Float8Kind::E5M2:
      return {2, 15, 0x7b};
    case Float8Kind::E4M3fnuz:
      return {3, 8, 0x7f};
    case Float8Kind::E5M2fnuz:
      return {2, 16, 0x7f};
  }
  return {3, 7, 0x7e};
}

bool is_fnuz(Float8Kind k) {
  return k == Float8Kind::E4M3fnuz || k == Float8Kind::E5M2fnuz;
}

// m >> shift, rounded to nearest even (shift >= 0).
uint32_t shift_round_even(uint32_t m, int shift) {
  if (shift == 0) return m;
  if (shift > 31) return 0;
  uint32_t q = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  return q + (rest > half || (rest == half && (q & 1)));
}

}  // namespace

uint8_t float8_from_float(float f, Float8Kind kind) {
  const Float8Format fmt = format_of(kind);
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint8_t sign = uint8_t((x >> 24) & 0x80);
  const uint32_t abs = x & 0x7fffffffu;
  // What a NaN input and an overflow become (docs/formats.md §7.2).
  const uint8_t nan = is_fnuz(kind) ? 0x80 : uint8_t(sign | 0x7f);
  const uint8_t overflow = kind == Float8Kind::E5M2 ? uint8_t(sign | 0x7c) : nan;
  if (abs > 0x7f800000u) return nan;
  if (abs == 0x7f800000u) return overflow;
  // |f| = m * 2^(e - 23) with m < 2^24; float subnormals (e = -127 here)
  // are far below every float8 quantum and round to zero below.
  const int e = int(abs >> 23) - 127;
  const uint32_t m = (abs & 0x7fffffu) | (e > -127 ? 0x800000u : 0u);
  const int emin = 1 - fmt.bias;  // exponent of the smallest normal
  uint32_t mag;
  if (e < emin) {
    // Subnormal result: |f| in units of the subnormal quantum 2^(emin - mant_bits).
    mag = shift_round_even(m, 23 - fmt.mant_bits + (emin - e));
  } else {
    // A rounded 1.mmm in [2^mant_bits, 2^(mant_bits + 1)]; a carry out of the
    // mantissa lands in the exponent field, as it should.
    mag = (uint32_t(e - emin) << fmt.mant_bits) + shift_round_even(m, 23 - fmt.mant_bits);
  }
  if (mag > fmt.max_finite) return overflow;
  if (mag == 0 && is_fnuz(kind)) return 0;  // no negative zero
  return uint8_t(sign | mag);
}

float float8_to_float(uint8_t bits, Float8Kind kind) {
  const Float8Format fmt = format_of(kind);
  const uint32_t sign = uint32_t(bits & 0x80) << 24;
  const uint32_t mag = bits & 0x7fu;
  const uint32_t mant_mask = (1u << fmt.mant_bits) - 1;
  const uint32_t exp = mag >> fmt.mant_bits, mant = mag & mant_mask;
  // NaN and inf keep their sign and mantissa (as payload, quieted), as c10's
  // bit-level conversions give.
  if (is_fnuz(kind)) {
    if (bits == 0x80) return std::bit_cast<float>(0x7fc00000u);
  } else if (kind == Float8Kind::E4M3fn ? mag == 0x7f : exp == (0x7fu >> fmt.mant_bits)) {
    if (mant == 0) return std::bit_cast<float>(sign | 0x7f800000u);  // e5m2 inf
    return std::bit_cast<float>(sign | 0x7fc00000u | (mant << (23 - fmt.mant_bits)));
  }
  const int emin = 1 - fmt.bias;
  float v = exp == 0
                ? std::ldexp(float(mant), emin - fmt.mant_bits)
                : std::ldexp(float(mant | (mant_mask + 1)), int(exp) - fmt.bias - fmt.mant_bits);
  return sign ? -v : v;
}

namespace {
constexpr std::array<std::string_view, kNumDTypes> kNames = {
    "float32",       "float64",     "float16",         "bfloat16",        "int8",
    "int16",         "int32",       "int64",           "uint8",           "bool",
    "complex64",     "complex128",  "uint16",          "uint32",          "uint64",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "complex32"};
}

std::string_view dtype_name(DType t) {
  int i = static_cast<int>(t);
  if (i < 0 || i >= kNumDTypes) return "invalid";
  return kNames[i];
}

DType dtype_from_name(std::string_view full_name) {
  std::string_view name = full_name;
  if (name.starts_with("torch.")) name.remove_prefix(6);
  for (int i = 0; i < kNumDTypes; ++i)
    if (kNames[i] == name) return DType(i);
  struct Alias {
    std::string_view name;
    DType dtype;
  };
  static constexpr Alias aliases[] = {
      {"float", DType::Float32},    {"double", DType::Float64},     {"half", DType::Float16},
      {"short", DType::Int16},      {"int", DType::Int32},          {"long", DType::Int64},
      {"cfloat", DType::Complex64}, {"cdouble", DType::Complex128}, {"chalf", DType::Complex32}};
  for (const auto& a : aliases)
    if (a.name == name) return a.dtype;
  std::string all;
  for (std::string_view n : kNames) all += (all.empty() ? "" : ", ") + std::string(n);
  throw DTypeError("unknown dtype name '" + std::string(full_name) + "' (expected one of " + all +
                   ")");
}

void check_computable(DType t, std::string_view op) {
  if (!is_storage_only(t)) return;
  throw DTypeError(std::string(op) + ": " + std::string(dtype_name(t)) +
                   " tensors support no arithmetic in wick; convert with .to(wick::DType::" +
                   (compute_dtype(t) == DType::Float32 ? "Float32"
                    : compute_dtype(t) == DType::Int64 ? "Int64"
                                                       : "Complex64") +
                   ") first");
}

}  // namespace wick
