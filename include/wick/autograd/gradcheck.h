// Gradient checking: compares the gradients autograd computes with central
// finite differences, like torch.autograd.gradcheck.
//
//   wick::Tensor x = wick::randn({3, 4}, {.dtype = wick::DType::Float64, .requires_grad = true});
//   auto r = wick::autograd::gradcheck(
//       [](const std::vector<wick::Tensor>& in) { return wick::tanh(in[0]); }, {x});
//   if (!r.ok) std::cerr << r.message << "\n";
//
// The check builds the full Jacobian both ways. Analytic: one backward pass
// per output element, seeded with a one-hot gradient (autograd::grad, so the
// inputs' `.grad` is left alone). Numeric: each element of each checked input
// is perturbed by ±eps in place, through the input's own strides, and the
// output difference is divided by 2·eps. Entry (output j, input element i)
// passes when |analytic - numeric| <= atol + rtol·|numeric|, as in
// torch.allclose. Full Jacobians cost one backward per output element and two
// forwards per input element: meant for small float64 inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "wick/core/tensor.h"

namespace wick::autograd {

/// Tolerances of gradcheck; PyTorch's defaults.
struct GradcheckOptions {
  /// Finite-difference step.
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

/// Outcome of gradcheck. On failure `message` names the input index, the
/// element index in that input, the output element, and the analytic and
/// numeric values of the worst mismatch; on success it says how many Jacobian
/// entries were compared.
struct GradcheckResult {
  bool ok = false;
  std::string message;
};

/// The function under test: inputs in, one tensor out.
using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

/// Checks the gradients of `fn` at `inputs` with respect to every input that
/// requires grad. Those inputs must be float64 leaves whose elements do not
/// overlap in memory (no stride-0 dims); they may be non-contiguous. Inputs
/// that do not require grad are passed through unchanged. `fn` must return a
/// float64 tensor and must be deterministic. Every input is left holding its
/// original values. Throws wick::Error (DTypeError for a wrong dtype) on misuse;
/// a wrong gradient is reported in the result, not thrown.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace wick::autograd
