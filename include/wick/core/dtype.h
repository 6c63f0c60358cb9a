// Element types: the dtypes PyTorch stores in checkpoints, their sizes and
// names, the 16-bit float formats, and a helper to run code for a dtype's C++ type.
//
// float16 and bfloat16 are stored as raw 16-bit words and convert to and from
// float with round-to-nearest-even, as PyTorch does.
#pragma once

#include <bit>
#include <complex>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string_view>

#include "wick/core/error.h"

namespace wick {

/// An element type. The order is wick's own; names follow PyTorch.
enum class DType : uint8_t {
  Float32,
  Float64,
  Float16,
  BFloat16,
  Int8,
  Int16,
  Int32,
  Int64,
  UInt8,
  Bool,
  Complex64,
  Complex128,
};

inline constexpr int kNumDTypes = 12;

/// IEEE 754 half precision, stored as its 16-bit pattern.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f) : bits(from_float(f)) {}
  operator float() const { return to_float(bits); }
  static uint16_t from_float(float f);
  static float to_float(uint16_t h);
};

/// bfloat16: the top 16 bits of a float32, rounded to nearest even.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) : bits(from_float(f)) {}
  operator float() const { return std::bit_cast<float>(uint32_t(bits) << 16); }
  static uint16_t from_float(float f) {
    uint32_t u = std::bit_cast<uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
  }
};

/// Size in bytes of one element.
constexpr int64_t element_size(DType t) {
  constexpr int8_t sizes[] = {4, 8, 2, 2, 1, 2, 4, 8, 1, 1, 8, 16};
  return sizes[static_cast<int>(t)];
}

/// PyTorch's name without the `torch.` prefix: "float32", "int64", "bool", ...
std::string_view dtype_name(DType t);

/// Parses a name as PyTorch spells it (also accepts aliases such as "float",
/// "half", "long", "double"). Throws DTypeError for an unknown name.
DType dtype_from_name(std::string_view name);

inline std::ostream& operator<<(std::ostream& os, DType t) {
  return os << dtype_name(t);
}

constexpr bool is_floating_point(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}
constexpr bool is_complex(DType t) {
  return t == DType::Complex64 || t == DType::Complex128;
}
constexpr bool is_integral(DType t, bool include_bool = false) {
  return (t >= DType::Int8 && t <= DType::UInt8) || (include_bool && t == DType::Bool);
}

/// The C++ type that holds one element of a dtype.
template <DType T>
struct CppType;
template <>
struct CppType<DType::Float32> {
  using type = float;
};
template <>
struct CppType<DType::Float64> {
  using type = double;
};
template <>
struct CppType<DType::Float16> {
  using type = Half;
};
template <>
struct CppType<DType::BFloat16> {
  using type = BFloat16;
};
template <>
struct CppType<DType::Int8> {
  using type = int8_t;
};
template <>
struct CppType<DType::Int16> {
  using type = int16_t;
};
template <>
struct CppType<DType::Int32> {
  using type = int32_t;
};
template <>
struct CppType<DType::Int64> {
  using type = int64_t;
};
template <>
struct CppType<DType::UInt8> {
  using type = uint8_t;
};
template <>
struct CppType<DType::Bool> {
  using type = bool;
};
template <>
struct CppType<DType::Complex64> {
  using type = std::complex<float>;
};
template <>
struct CppType<DType::Complex128> {
  using type = std::complex<double>;
};

/// The dtype of a C++ element type.
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::Float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::Float64;
}
template <>
constexpr DType dtype_of<Half>() {
  return DType::Float16;
}
template <>
constexpr DType dtype_of<BFloat16>() {
  return DType::BFloat16;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::Int8;
}
template <>
constexpr DType dtype_of<int16_t>() {
  return DType::Int16;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::Int32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::Int64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::UInt8;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::Bool;
}
template <>
constexpr DType dtype_of<std::complex<float>>() {
  return DType::Complex64;
}
template <>
constexpr DType dtype_of<std::complex<double>>() {
  return DType::Complex128;
}

/// Calls `f.template operator()<T>()` with T the C++ type of `t`:
///   visit_dtype(t, [&]<class T>() { ... });
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
    case DType::Float16:
      return f.template operator()<Half>();
    case DType::BFloat16:
      return f.template operator()<BFloat16>();
    case DType::Int8:
      return f.template operator()<int8_t>();
    case DType::Int16:
      return f.template operator()<int16_t>();
    case DType::Int32:
      return f.template operator()<int32_t>();
    case DType::Int64:
      return f.template operator()<int64_t>();
    case DType::UInt8:
      return f.template operator()<uint8_t>();
    case DType::Bool:
      return f.template operator()<bool>();
    case DType::Complex64:
      return f.template operator()<std::complex<float>>();
    case DType::Complex128:
      return f.template operator()<std::complex<double>>();
  }
  throw DTypeError("visit_dtype: invalid dtype value " + std::to_string(int(t)));
}

/// Converts one element value between any two element types, as PyTorch's
/// `to(dtype)` does: complex to real (bool included) drops the imaginary
/// part, anything else to bool is `!= 0`, float to integer truncates toward zero.
template <class To, class From>
To convert_element(From v) {
  constexpr bool from_complex =
      std::is_same_v<From, std::complex<float>> || std::is_same_v<From, std::complex<double>>;
  constexpr bool to_complex =
      std::is_same_v<To, std::complex<float>> || std::is_same_v<To, std::complex<double>>;
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (from_complex) {
    if constexpr (to_complex)
      return To(typename To::value_type(v.real()), typename To::value_type(v.imag()));
    else
      return convert_element<To>(v.real());
  } else if constexpr (to_complex) {
    return To(typename To::value_type(convert_element<double>(v)), 0);
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>)
      return float(v) != 0.0f;
    else
      return v != From(0);
  } else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) {
    return convert_element<To>(float(v));
  } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    return To(float(v));  // via float, as PyTorch's Half(double) and BFloat16(double) do
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // Out-of-range float to integer is undefined in C++; PyTorch's result is
    // unspecified there too. Clamp into int64 first so we never hit UB.
    if (!(v == v)) return To(0);
    double d = double(v);
    if (d >= 9.2233720368547758e18) return To(int64_t(INT64_MAX));
    if (d <= -9.2233720368547758e18) return To(int64_t(INT64_MIN));
    return To(int64_t(d));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace wick
