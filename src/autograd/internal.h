// Internal: autograd rules that the op families apply.
#pragma once

#include "wick/autograd/grad_mode.h"
#include "wick/autograd/graph.h"

namespace wick::autograd {

/// Refuses an in-place operation `op` on t when grad mode is on and t
/// requires grad (PyTorch's rule for leaves; wick applies it to every tensor
/// requiring grad since it does not rebase history after in-place ops).
void check_inplace(const Tensor& t, const char* op);

}  // namespace wick::autograd
