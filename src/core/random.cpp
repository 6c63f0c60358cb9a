#include "wick/core/random.h"

#include <cmath>

#include "core/layout.h"
#include "core/strided.h"

namespace wick {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}
}  // namespace

void Generator::seed_(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
  has_spare_ = false;
}

uint64_t Generator::next_u64() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 1.0 - uniform_double();  // (0, 1]: log is finite
  double u2 = uniform_double();
  double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2 * M_PI * u2);
}

int64_t Generator::randint(int64_t low, int64_t high) {
  uint64_t range = uint64_t(high) - uint64_t(low);
  // Rejection sampling for an unbiased result.
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x;
  do x = next_u64();
  while (x >= limit);
  return int64_t(uint64_t(low) + x % range);
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) {
  default_generator().seed_(seed);
}

namespace {
template <class Fn>
const Tensor& fill_random(const Tensor& t, const char* op, Fn&& draw) {
  check_computable(t.dtype(), op);
  visit_dtype(t.dtype(), [&]<class T>() {
    if constexpr (std::is_same_v<T, bool> || std::is_integral_v<T> ||
                  std::is_same_v<T, std::complex<float>> ||
                  std::is_same_v<T, std::complex<double>> || std::is_same_v<T, ComplexHalf>) {
      throw DTypeError(
          detail::concat(op, ": expected a floating-point tensor but got ", t.dtype()));
    } else {
      T* base = static_cast<T*>(t.data_ptr());
      detail::StridedLoop<1> loop{t.sizes(), {t.strides()}};  // row-major: the draws' order
      detail::for_each_run(loop, [&](const std::array<int64_t, 1>& off,
                                     const std::array<int64_t, 1>& inner, int64_t n) {
        for (int64_t i = 0; i < n; ++i) base[off[0] + i * inner[0]] = T(draw());
      });
    }
  });
  return t;
}
}  // namespace

const Tensor& uniform_(const Tensor& t, double low, double high, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  if (t.dtype() == DType::Float64)
    return fill_random(t, "uniform_", [&] { return low + (high - low) * g.uniform_double(); });
  return fill_random(t, "uniform_",
                     [&] { return float(low) + float(high - low) * g.uniform_float(); });
}

const Tensor& normal_(const Tensor& t, double mean, double std, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  return fill_random(t, "normal_", [&] { return mean + std * g.normal(); });
}

Tensor rand(const Shape& sizes, TensorOptions options, Generator* gen) {
  Tensor t = detail::make_empty(sizes, options.dtype, "rand");
  uniform_(t, 0, 1, gen);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor randn(const Shape& sizes, TensorOptions options, Generator* gen) {
  Tensor t = detail::make_empty(sizes, options.dtype, "randn");
  normal_(t, 0, 1, gen);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& sizes, TensorOptions options,
               Generator* gen) {
  WICK_CHECK(high > low, "randint: expected low < high but got low=", low, ", high=", high);
  Generator& g = gen ? *gen : default_generator();
  Tensor t = detail::make_empty(sizes, options.dtype, "randint");
  visit_dtype(t.dtype(), [&]<class T>() {
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = convert_element<T>(g.randint(low, high));
  });
  return t;
}

}  // namespace wick
