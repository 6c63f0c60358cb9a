// The autograd graph: how an operation records its backward rule, and how
// backward runs (torch.autograd).
//
// Each recorded operation becomes a node (wick/core/autograd_meta.h) whose
// `apply` maps the gradient of its one output to gradients of its inputs.
// Leaves that require grad are reached through an accumulator node that adds
// into `.grad`. Backward rules are lambdas given to `record`; they capture
// what they need (inputs, detached outputs) and are destroyed when the graph
// is freed after backward.
//
// An operation's backward rule sits next to its forward, in the file of its
// family: src/ops/ for the torch.* functions and Tensor's members,
// src/nn/functional/ for torch.nn.functional (docs/architecture.md).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "wick/core/autograd_meta.h"
#include "wick/core/tensor.h"

namespace wick::autograd {

/// The backward rule of a recorded operation: output gradient in, one
/// gradient per input out.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

/// True when grad mode is on and any defined input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
inline bool needs_grad(const Tensor& a) {
  return needs_grad({&a});
}
inline bool needs_grad(const Tensor& a, const Tensor& b) {
  return needs_grad({&a, &b});
}

/// Attaches a backward node named `name` to `output` (which must have been
/// freshly made by the operation), with one edge per input. `backward` runs
/// with grad mode off and returns one gradient per input, in order (undefined
/// for inputs that need none). Does nothing unless needs_grad(inputs).
void record(const Tensor& output, std::string name, const std::vector<Tensor>& inputs,
            BackwardFn backward);

/// Sums `grad` down to `sizes` (undoing broadcasting): leading dims are
/// summed away and dims of size 1 in `sizes` are summed with keepdim.
Tensor sum_to(const Tensor& grad, const Shape& sizes);

/// Clears the `.grad` of each tensor: drops it (`set_to_none`, PyTorch's
/// default) or zeroes it in place. What Module::zero_grad and
/// Optimizer::zero_grad do.
void zero_grad(const std::vector<Tensor>& tensors, bool set_to_none = true);

/// Runs backward from `roots` with the given gradients (see Tensor::backward).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph);

/// Gradients of `outputs` w.r.t. `inputs` without touching `.grad`
/// (like torch.autograd.grad, first order only).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);

}  // namespace wick::autograd
