// A tensor's autograd state: whether it requires grad, its accumulated
// gradient, and the graph node that produced it.
//
// Core keeps this state so that every tensor can answer requires_grad(),
// grad(), is_leaf() and grad_fn(), print them, and travel through a
// checkpoint with its requires_grad flag. Core only stores it: the autograd
// layer (wick/autograd/graph.h) creates the nodes, records them on the outputs
// of operations and runs backward through them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wick/core/tensor.h"

namespace wick::autograd {

class Node;

/// Where a gradient flows: into node `fn` (null: nowhere).
struct Edge {
  std::shared_ptr<Node> fn;
};

/// One recorded operation, or the gradient accumulator of a leaf. The
/// autograd layer defines the kinds of node; core only asks for the name.
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

/// The autograd state hung off a tensor; tensors without one neither
/// require grad nor have history.
struct AutogradMeta {
  bool requires_grad = false;
  /// Keep `.grad` for this non-leaf tensor during backward.
  bool retains_grad = false;
  /// The accumulated gradient (undefined until a backward reaches it).
  Tensor grad;
  /// The node that produced the tensor; null for leaves.
  std::shared_ptr<Node> grad_fn;
  /// A leaf's accumulator node, created when a graph first uses the leaf.
  std::weak_ptr<Node> grad_accumulator;
};

}  // namespace wick::autograd
