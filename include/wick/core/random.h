// Random numbers: a seedable generator and the random factories.
//
// `wick::manual_seed(s)` makes every later call of rand/randn/randint and of
// random initialisers and dropout reproducible. The streams are wick's own
// (they do not reproduce PyTorch's numbers, only its distributions).
#pragma once

#include <cstdint>

#include "wick/core/tensor.h"

namespace wick {

/// A counter-free 64-bit generator (xoshiro256**), seeded via splitmix64.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0x853c49e6748fea9bULL) { seed_(seed); }
  void seed_(uint64_t seed);
  uint64_t next_u64();
  /// Uniform in [0, 1) with 24 random bits (float) or 53 (double).
  float uniform_float() { return float(next_u64() >> 40) * 0x1.0p-24f; }
  double uniform_double() { return double(next_u64() >> 11) * 0x1.0p-53; }
  /// Standard normal (Box–Muller).
  double normal();
  /// Uniform integer in [low, high); high > low.
  int64_t randint(int64_t low, int64_t high);

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0;
};

/// The generator every random function uses unless given another.
Generator& default_generator();

/// Seeds the default generator.
void manual_seed(uint64_t seed);

/// Uniform on [0, 1).
Tensor rand(const Shape& sizes, TensorOptions options = {}, Generator* gen = nullptr);
/// Standard normal.
Tensor randn(const Shape& sizes, TensorOptions options = {}, Generator* gen = nullptr);
/// Uniform integers in [low, high); int64 unless options say otherwise.
Tensor randint(int64_t low, int64_t high, const Shape& sizes,
               TensorOptions options = {.dtype = DType::Int64}, Generator* gen = nullptr);

/// In place: uniform on [low, high) / normal(mean, std). Not differentiable.
const Tensor& uniform_(const Tensor& t, double low = 0, double high = 1, Generator* gen = nullptr);
const Tensor& normal_(const Tensor& t, double mean = 0, double std = 1, Generator* gen = nullptr);

}  // namespace wick
