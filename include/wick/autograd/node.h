// The autograd graph: nodes, edges, per-tensor autograd state, and `record`,
// which differentiable operations call to attach their backward rule.
//
// Each recorded operation becomes a Node whose `apply` maps the gradient of its
// one output to gradients of its inputs. Leaves that require grad are reached
// through an AccumulateGrad node that adds into `.grad`. Backward rules are
// lambdas given to `record`; they capture what they need (inputs, detached
// outputs) and are destroyed when the graph is freed after backward.
//
// Every backward rule in wick lives in src/autograd/ (math.cpp, functional.cpp,
// views.cpp): one place to read and to check against PyTorch.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "wick/core/tensor.h"

namespace wick::autograd {

class Node;

/// Where a gradient flows: input `input_nr` of node `fn` (null: nowhere).
struct Edge {
  std::shared_ptr<Node> fn;
};

/// One recorded operation (or a gradient accumulator for a leaf).
class Node {
 public:
  virtual ~Node() = default;
  /// PyTorch-style name, e.g. "AddBackward0", "AccumulateGrad".
  virtual std::string name() const = 0;
  /// Gradients w.r.t. each input (undefined where not needed) given the
  /// gradient w.r.t. the output.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  /// Frees saved tensors after backward; a later backward through this node
  /// throws.
  virtual void release() {}
  /// One edge per input, in the order of `apply`'s result.
  std::vector<Edge> next_edges;
};

/// The backward rule of a recorded operation: output gradient in, one
/// gradient per input out.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

/// Autograd state hung off a TensorImpl.
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;         // null for leaves
  std::weak_ptr<Node> grad_accumulator;  // leaves only, created on demand
  // Shape and dtype of the output, to check and shape incoming gradients.
};

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

/// Runs backward from `roots` with the given gradients (see Tensor::backward).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph);

/// Gradients of `outputs` w.r.t. `inputs` without touching `.grad`
/// (like torch.autograd.grad, first order only).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);

}  // namespace wick::autograd
