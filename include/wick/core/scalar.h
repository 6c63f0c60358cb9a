// Scalar: one number of any kind (bool, integer, floating, complex), as used by
// factories (`full`), element access (`item`) and tensor-scalar arithmetic.
#pragma once

#include <complex>
#include <cstdint>
#include <ostream>
#include <type_traits>

#include "wick/core/dtype.h"

namespace wick {

/// A number that remembers whether it was a bool, an integer, a float or a
/// complex value, so that `full({2}, 3)` can choose int64 like PyTorch does.
class Scalar {
 public:
  enum class Kind : uint8_t { Bool, Int, Float, Complex };

  Scalar() : kind_(Kind::Int), i_(0) {}
  Scalar(bool v) : kind_(Kind::Bool), i_(v) {}
  template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Scalar(T v)
      : kind_(Kind::Int), i_(int64_t(v)) {}
  Scalar(float v) : kind_(Kind::Float), d_(v) {}
  Scalar(double v) : kind_(Kind::Float), d_(v) {}
  Scalar(Half v) : kind_(Kind::Float), d_(float(v)) {}
  Scalar(BFloat16 v) : kind_(Kind::Float), d_(float(v)) {}
  template <Float8Kind K>
  Scalar(Float8<K> v) : kind_(Kind::Float), d_(float(v)) {}
  Scalar(ComplexHalf v) : Scalar(std::complex<float>(v)) {}
  template <class T>
  Scalar(std::complex<T> v) : kind_(Kind::Complex), c_(v.real(), v.imag()) {}

  Kind kind() const { return kind_; }
  bool is_floating_point() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_complex() const { return kind_ == Kind::Complex; }

  /// The value converted to T with PyTorch's conversion rules.
  template <class T>
  T to() const {
    switch (kind_) {
      case Kind::Bool:
        return convert_element<T>(bool(i_));
      case Kind::Int:
        return convert_element<T>(i_);
      case Kind::Float:
        return convert_element<T>(d_);
      case Kind::Complex:
        return convert_element<T>(c_);
    }
    return T();
  }

  /// The dtype PyTorch infers for a tensor made from this value alone.
  DType default_dtype() const {
    switch (kind_) {
      case Kind::Bool:
        return DType::Bool;
      case Kind::Int:
        return DType::Int64;
      case Kind::Float:
        return DType::Float32;
      case Kind::Complex:
        return DType::Complex64;
    }
    return DType::Float32;
  }

 private:
  Kind kind_;
  union {
    int64_t i_;
    double d_;
  };
  std::complex<double> c_{};
};

std::ostream& operator<<(std::ostream& os, const Scalar& s);

}  // namespace wick
