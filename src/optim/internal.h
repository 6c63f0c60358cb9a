// Helpers shared by the optimizers in src/optim (not installed).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "wick/core/error.h"
#include "wick/core/tensor.h"
#include "wick/core/value.h"
#include "wick/optim/optimizer.h"

namespace wick::optim::detail {

/// A hyper-parameter as Python's str() prints what the user would have typed:
/// integral values without ".0" ("Invalid learning rate: -1"), others as
/// Python floats ("0.001").
std::string format_number(double v);

/// Throws wick::Error with PyTorch's "Invalid <what>: <v>" unless `ok`.
inline void check_arg(bool ok, std::string_view what, double v) {
  WICK_CHECK(ok, "Invalid ", what, ": ", format_number(v));
}

/// The option `key` of a group as a double (ints and bools accepted).
double option(const ParamGroup& group, std::string_view key);
/// The option `key` of a group as a bool.
bool flag(const ParamGroup& group, std::string_view key);

/// The gradient of `param` ready for a kernel: defined (else the caller skips
/// the parameter), same dtype and sizes as the parameter, contiguous. Throws
/// wick::Error naming the optimizer when the parameter itself cannot be
/// updated in place by a flat loop (non-contiguous, or not float32/float64).
Tensor checked_grad(const char* optimizer, const Tensor& param);

/// The tensor state[key], created as zeros like `param` (or filled with
/// `fill`) when absent or None. Returns a contiguous tensor of param's dtype
/// and sizes, replacing a loaded one that is not contiguous.
Tensor state_tensor(Dict& state, const Value& key, const Tensor& param, double fill = 0);

/// Adds 1 to the 0-dim `step` tensor (created as float32 0 when absent) and
/// returns the new value, as `step_t += 1; step = step_t.item()`.
double bump_step(Dict& state);

/// Interned keys, so that a step does not build key strings per parameter.
const Value& key(std::string_view name);

}  // namespace wick::optim::detail
