// Internal autograd helpers shared by the files that define differentiable ops.
#pragma once

#include "wick/autograd/grad_mode.h"
#include "wick/autograd/node.h"

namespace wick::autograd {

/// Refuses an in-place operation `op` on t when grad mode is on and t
/// requires grad (PyTorch's rule for leaves; wick applies it to every tensor
/// requiring grad since it does not rebase history after in-place ops).
void check_inplace(const Tensor& t, const char* op);

/// Refuses dtypes the math kernels do not compute in (float32, float64).
void check_float(const Tensor& t, const char* op);

}  // namespace wick::autograd
