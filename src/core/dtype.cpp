#include "wick/core/dtype.h"

#include <array>
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
constexpr std::array<std::string_view, kNumDTypes> kNames = {
    "float32", "float64", "float16", "bfloat16", "int8",      "int16",
    "int32",   "int64",   "uint8",   "bool",     "complex64", "complex128"};
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
  static constexpr Alias aliases[] = {{"float", DType::Float32},    {"double", DType::Float64},
                                      {"half", DType::Float16},     {"short", DType::Int16},
                                      {"int", DType::Int32},        {"long", DType::Int64},
                                      {"cfloat", DType::Complex64}, {"cdouble", DType::Complex128}};
  for (const auto& a : aliases)
    if (a.name == name) return a.dtype;
  throw DTypeError("unknown dtype name '" + std::string(full_name) +
                   "' (expected one of float32, float64, float16, bfloat16, int8, int16, int32, "
                   "int64, uint8, bool, complex64, complex128)");
}

}  // namespace wick
