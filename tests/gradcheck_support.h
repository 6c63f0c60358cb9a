// What the finite-difference gradient-check suites of the neural-network ops
// share: float64 leaves and one set of tolerances.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "wick/autograd/gradcheck.h"
#include "wick/core/random.h"

namespace wick::testing {

using Inputs = std::vector<Tensor>;

constexpr TensorOptions kF64 = {.dtype = DType::Float64};

/// A float64 leaf that requires grad.
inline Tensor leaf(const Shape& sizes) {
  return randn(sizes, kF64).requires_grad_();
}

/// gradcheck with eps 1e-6 and 1e-6 absolute plus 1e-5 relative tolerance.
inline void check(const autograd::GradcheckFn& fn, const Inputs& inputs) {
  auto r = autograd::gradcheck(fn, inputs, {.eps = 1e-6, .atol = 1e-6, .rtol = 1e-5});
  EXPECT_TRUE(r.ok) << r.message;
}

}  // namespace wick::testing
