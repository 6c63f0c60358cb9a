// Element types: the dtypes PyTorch stores in checkpoints, their sizes and
// names, the 16- and 8-bit float formats, and a helper to run code for a
// dtype's C++ type.
//
// float16, bfloat16 and the four float8 formats are stored as raw bit patterns
// and convert to and from float with round-to-nearest-even, bit for bit as
// PyTorch does (docs/formats.md §7.2 has each format's special values).
//
// The dtypes PyTorch 2.x added (uint16/32/64, float8, complex32) are
// storage-only here: tensors of them are made, copied, viewed, converted,
// printed and saved, but no op computes in them; convert with
// `.to(compute_dtype(t))` first.
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
  UInt16,
  UInt32,
  UInt64,
  Float8_e4m3fn,
  Float8_e5m2,
  Float8_e4m3fnuz,
  Float8_e5m2fnuz,
  Complex32,
};

inline constexpr int kNumDTypes = 20;

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

/// The four float8 formats PyTorch has. All have a sign bit; e4m3 has 4
/// exponent and 3 mantissa bits, e5m2 5 and 2.
///  - E4M3fn: bias 7, no infinities, NaN is S.1111.111, largest 448.
///  - E5M2: bias 15, IEEE-like: infinities, NaNs, largest 57344.
///  - E4M3fnuz, E5M2fnuz: bias 8 and 16, no infinities, no negative zero,
///    one NaN (0x80); largest 240 and 57344.
/// Values that round beyond the largest finite one become NaN (inf for E5M2).
enum class Float8Kind : uint8_t { E4M3fn, E5M2, E4M3fnuz, E5M2fnuz };

/// float to float8 bits, rounding to nearest even, as PyTorch's c10 does.
uint8_t float8_from_float(float f, Float8Kind kind);

/// float8 bits to float (exact; a NaN gives a quiet NaN).
float float8_to_float(uint8_t bits, Float8Kind kind);

/// One float8 element, stored as its bit pattern.
template <Float8Kind K>
struct Float8 {
  uint8_t bits = 0;
  Float8() = default;
  Float8(float f) : bits(float8_from_float(f, K)) {}
  operator float() const { return float8_to_float(bits, K); }
};

using Float8_e4m3fn = Float8<Float8Kind::E4M3fn>;
using Float8_e5m2 = Float8<Float8Kind::E5M2>;
using Float8_e4m3fnuz = Float8<Float8Kind::E4M3fnuz>;
using Float8_e5m2fnuz = Float8<Float8Kind::E5M2fnuz>;

/// complex32 (PyTorch's chalf): two float16 halves, real first.
struct ComplexHalf {
  Half re;
  Half im;
  ComplexHalf() = default;
  ComplexHalf(std::complex<float> c) : re(c.real()), im(c.imag()) {}
  explicit operator std::complex<float>() const { return {float(re), float(im)}; }
};

/// Size in bytes of one element.
constexpr int64_t element_size(DType t) {
  constexpr int8_t sizes[kNumDTypes] = {4, 8,  2, 2, 1, 2, 4, 8, 1, 1,
                                        8, 16, 2, 4, 8, 1, 1, 1, 1, 4};
  return sizes[static_cast<int>(t)];
}

/// PyTorch's name without the `torch.` prefix: "float32", "int64", "bool", ...
std::string_view dtype_name(DType t);

/// Parses a name as PyTorch spells it (also accepts aliases such as "float",
/// "half", "long", "double", "chalf"). Throws DTypeError for an unknown name.
DType dtype_from_name(std::string_view name);

inline std::ostream& operator<<(std::ostream& os, DType t) {
  return os << dtype_name(t);
}

/// True for the float8 formats.
constexpr bool is_float8(DType t) {
  return t >= DType::Float8_e4m3fn && t <= DType::Float8_e5m2fnuz;
}
/// As PyTorch's: true for float32/64/16, bfloat16 and float8.
constexpr bool is_floating_point(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 ||
         t == DType::BFloat16 || is_float8(t);
}
constexpr bool is_complex(DType t) {
  return t == DType::Complex64 || t == DType::Complex128 || t == DType::Complex32;
}
constexpr bool is_integral(DType t, bool include_bool = false) {
  return (t >= DType::Int8 && t <= DType::UInt8) || (t >= DType::UInt16 && t <= DType::UInt64) ||
         (include_bool && t == DType::Bool);
}

/// True for the dtypes no op computes in: uint16/32/64, float8 and complex32.
constexpr bool is_storage_only(DType t) {
  return t >= DType::UInt16;
}

/// The dtype to convert a storage-only dtype to before computing: int64 for
/// uint16/32/64, float32 for float8, complex64 for complex32; `t` otherwise.
constexpr DType compute_dtype(DType t) {
  if (!is_storage_only(t)) return t;
  if (is_float8(t)) return DType::Float32;
  return t == DType::Complex32 ? DType::Complex64 : DType::Int64;
}

/// Throws DTypeError when `t` is storage-only, naming `op` and the conversion
/// to use ("add: float8_e4m3fn tensors support no arithmetic in wick; convert
/// with .to(wick::DType::Float32) first").
void check_computable(DType t, std::string_view op);

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
template <>
struct CppType<DType::UInt16> {
  using type = uint16_t;
};
template <>
struct CppType<DType::UInt32> {
  using type = uint32_t;
};
template <>
struct CppType<DType::UInt64> {
  using type = uint64_t;
};
template <>
struct CppType<DType::Float8_e4m3fn> {
  using type = Float8_e4m3fn;
};
template <>
struct CppType<DType::Float8_e5m2> {
  using type = Float8_e5m2;
};
template <>
struct CppType<DType::Float8_e4m3fnuz> {
  using type = Float8_e4m3fnuz;
};
template <>
struct CppType<DType::Float8_e5m2fnuz> {
  using type = Float8_e5m2fnuz;
};
template <>
struct CppType<DType::Complex32> {
  using type = ComplexHalf;
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
template <>
constexpr DType dtype_of<uint16_t>() {
  return DType::UInt16;
}
template <>
constexpr DType dtype_of<uint32_t>() {
  return DType::UInt32;
}
template <>
constexpr DType dtype_of<uint64_t>() {
  return DType::UInt64;
}
template <>
constexpr DType dtype_of<Float8_e4m3fn>() {
  return DType::Float8_e4m3fn;
}
template <>
constexpr DType dtype_of<Float8_e5m2>() {
  return DType::Float8_e5m2;
}
template <>
constexpr DType dtype_of<Float8_e4m3fnuz>() {
  return DType::Float8_e4m3fnuz;
}
template <>
constexpr DType dtype_of<Float8_e5m2fnuz>() {
  return DType::Float8_e5m2fnuz;
}
template <>
constexpr DType dtype_of<ComplexHalf>() {
  return DType::Complex32;
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
    case DType::UInt16:
      return f.template operator()<uint16_t>();
    case DType::UInt32:
      return f.template operator()<uint32_t>();
    case DType::UInt64:
      return f.template operator()<uint64_t>();
    case DType::Float8_e4m3fn:
      return f.template operator()<Float8_e4m3fn>();
    case DType::Float8_e5m2:
      return f.template operator()<Float8_e5m2>();
    case DType::Float8_e4m3fnuz:
      return f.template operator()<Float8_e4m3fnuz>();
    case DType::Float8_e5m2fnuz:
      return f.template operator()<Float8_e5m2fnuz>();
    case DType::Complex32:
      return f.template operator()<ComplexHalf>();
  }
  throw DTypeError("visit_dtype: invalid dtype value " + std::to_string(int(t)));
}

/// The element types narrower than float, which convert through float:
/// float16, bfloat16 and the float8 formats.
template <class T>
inline constexpr bool is_narrow_float_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
template <Float8Kind K>
inline constexpr bool is_narrow_float_v<Float8<K>> = true;

/// Converts one element value between any two element types, as PyTorch's
/// `to(dtype)` does: complex to real (bool included) drops the imaginary
/// part, anything else to bool is `!= 0`, float to integer truncates toward
/// zero, float16/bfloat16/float8 go through float (so float64 to float8
/// rounds twice, as in PyTorch) and complex32 through complex64.
template <class To, class From>
To convert_element(From v) {
  constexpr bool from_complex =
      std::is_same_v<From, std::complex<float>> || std::is_same_v<From, std::complex<double>>;
  constexpr bool to_complex =
      std::is_same_v<To, std::complex<float>> || std::is_same_v<To, std::complex<double>>;
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, ComplexHalf>) {
    return convert_element<To>(std::complex<float>(v));
  } else if constexpr (std::is_same_v<To, ComplexHalf>) {
    return ComplexHalf(convert_element<std::complex<float>>(v));
  } else if constexpr (from_complex) {
    if constexpr (to_complex)
      return To(typename To::value_type(v.real()), typename To::value_type(v.imag()));
    else
      return convert_element<To>(v.real());
  } else if constexpr (to_complex) {
    return To(typename To::value_type(convert_element<double>(v)), 0);
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (is_narrow_float_v<From>)
      return float(v) != 0.0f;
    else
      return v != From(0);
  } else if constexpr (is_narrow_float_v<From>) {
    return convert_element<To>(float(v));
  } else if constexpr (is_narrow_float_v<To>) {
    return To(float(v));  // via float, as PyTorch's Half(double), Float8_*(double) do
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // Out-of-range float to integer is undefined in C++; PyTorch's result is
    // unspecified there too. Clamp into int64 (uint64 for uint64) first so we
    // never hit UB.
    if (!(v == v)) return To(0);
    double d = double(v);
    if constexpr (std::is_same_v<To, uint64_t>) {
      if (d >= 1.8446744073709552e19) return UINT64_MAX;
      if (d >= 9.2233720368547758e18) return To(d);
    }
    if (d >= 9.2233720368547758e18) return To(int64_t(INT64_MAX));
    if (d <= -9.2233720368547758e18) return To(int64_t(INT64_MIN));
    return To(int64_t(d));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace wick
