// The backward engine, grad mode, `record`, and Tensor's backward members.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "autograd/internal.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/reduce.h"

namespace wick {

namespace {
thread_local bool g_grad_enabled = true;
}

bool GradMode::is_enabled() {
  return g_grad_enabled;
}
void GradMode::set_enabled(bool enabled) {
  g_grad_enabled = enabled;
}

namespace autograd {

namespace {

/// A recorded operation: the lambda given to `record`.
class FunctionNode : public Node {
 public:
  FunctionNode(std::string name, BackwardFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(const Tensor& grad_output) override {
    WICK_CHECK(fn_ != nullptr, "backward: trying to backward through ", name_,
               " a second time, after its saved tensors were freed; pass retain_graph=true "
               "to the first backward call if you need to backward twice");
    return fn_(grad_output);
  }
  void release() override { fn_ = nullptr; }
  std::weak_ptr<TensorImpl> retained;  // set by retain_grad()

 private:
  std::string name_;
  BackwardFn fn_;
};

/// Adds incoming gradients into a leaf's `.grad`.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& g) override {
    AutogradMeta& meta = Tensor(leaf_).mutable_autograd_meta();
    if (!meta.grad.defined() && can_steal(g, Tensor(leaf_))) {
      meta.grad = g;  // what PyTorch's AccumulateGrad does too: no copy
      return {};
    }
    accumulate(meta, Tensor(leaf_), g);
    return {};
  }
  /// A gradient that nothing but the engine holds (no other handle, no view
  /// of its storage) and that is laid out like the leaf can become the leaf's
  /// .grad as it is: nobody can observe the difference from a copy.
  static bool can_steal(const Tensor& g, const Tensor& owner) {
    return g.defined() && g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 &&
           g.dtype() == owner.dtype() && g.sizes() == owner.sizes() && g.storage_offset() == 0 &&
           g.is_contiguous() && owner.is_contiguous() && !g.requires_grad();
  }
  static void accumulate(AutogradMeta& meta, const Tensor& owner, const Tensor& g) {
    WICK_CHECK_AS(ShapeError, g.sizes() == owner.sizes(), "backward: gradient of sizes ", g.sizes(),
                  " does not match tensor of sizes ", owner.sizes());
    if (!meta.grad.defined()) {
      meta.grad = g.dtype() == owner.dtype() ? g.clone() : g.to(owner.dtype(), true);
    } else {
      meta.grad.add_(g.dtype() == owner.dtype() ? g : g.to(owner.dtype()));
    }
  }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined()) return nullptr;
  AutogradMeta* a = t.autograd_meta();
  if (!a || !a->requires_grad) return nullptr;
  if (a->grad_fn) return a->grad_fn;
  if (auto acc = a->grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
  a->grad_accumulator = acc;
  return acc;
}

Tensor add_grads(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return add(a, b);
}

/// Runs the graph below `roots`. With `capture` non-empty, gradients arriving
/// at the captured nodes are returned instead of accumulated into leaves.
std::vector<Tensor> execute(const std::vector<std::shared_ptr<Node>>& roots,
                            const std::vector<Tensor>& root_grads, bool retain_graph,
                            const std::vector<std::shared_ptr<Node>>& capture) {
  NoGradGuard no_grad;
  // Count, for every reachable node, how many edges lead into it.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  std::vector<std::shared_ptr<Node>> all;  // keeps nodes alive while we run
  for (const auto& r : roots) {
    if (r && seen.insert(r.get()).second) {
      stack.push_back(r.get());
      all.push_back(r);
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const auto& e : n->next_edges) {
      if (!e.fn) continue;
      deps[e.fn.get()]++;
      if (seen.insert(e.fn.get()).second) {
        stack.push_back(e.fn.get());
        all.push_back(e.fn);
      }
    }
  }

  std::unordered_map<Node*, Tensor> pending;
  for (size_t i = 0; i < roots.size(); ++i)
    if (roots[i]) pending[roots[i].get()] = add_grads(pending[roots[i].get()], root_grads[i]);

  std::unordered_map<Node*, size_t> capture_index;
  for (size_t i = 0; i < capture.size(); ++i)
    if (capture[i]) capture_index[capture[i].get()] = i;
  std::vector<Tensor> captured(capture.size());
  bool capturing = !capture.empty();

  std::vector<Node*> ready;
  for (const auto& r : roots)
    if (r && deps[r.get()] == 0 && std::find(ready.begin(), ready.end(), r.get()) == ready.end())
      ready.push_back(r.get());

  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g = std::move(pending[n]);
    pending.erase(n);
    if (auto it = capture_index.find(n); it != capture_index.end()) captured[it->second] = g;
    bool is_leaf_acc = dynamic_cast<AccumulateGrad*>(n) != nullptr;
    std::vector<Tensor> grads;
    if (g.defined() && !(capturing && is_leaf_acc)) {
      if (auto* f = dynamic_cast<FunctionNode*>(n)) {
        if (auto out = f->retained.lock(); out && !capturing) {
          Tensor retained(out);
          AccumulateGrad::accumulate(retained.mutable_autograd_meta(), retained, g);
        }
      }
      grads = n->apply(g);
      WICK_CHECK(grads.empty() || grads.size() == n->next_edges.size(), "backward: ", n->name(),
                 " returned ", grads.size(), " gradients for ", n->next_edges.size(), " inputs");
    }
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      Node* next = n->next_edges[i].fn.get();
      if (!next) continue;
      if (i < grads.size() && grads[i].defined())
        pending[next] = add_grads(pending[next], grads[i]);
      if (--deps[next] == 0) ready.push_back(next);
    }
  }
  if (!retain_graph)
    for (const auto& n : all) n->release();
  return captured;
}

std::vector<Tensor> default_root_grads(const std::vector<Tensor>& roots,
                                       const std::vector<Tensor>& grads) {
  std::vector<Tensor> out(roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    WICK_CHECK(r.requires_grad(), "backward: element ", i,
               " of tensors does not require grad and does not have a grad_fn");
    if (i < grads.size() && grads[i].defined()) {
      WICK_CHECK_AS(ShapeError, grads[i].sizes() == r.sizes(), "backward: gradient of sizes ",
                    grads[i].sizes(), " does not match output of sizes ", r.sizes());
      out[i] = grads[i];
    } else {
      WICK_CHECK(r.numel() == 1,
                 "backward: grad can be implicitly created only for scalar "
                 "outputs (this output has sizes ",
                 r.sizes(), ")");
      out[i] = ones_like(r);
    }
  }
  return out;
}

}  // namespace

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

void record(const Tensor& output, std::string name, const std::vector<Tensor>& inputs,
            BackwardFn backward) {
  if (!GradMode::is_enabled()) return;
  bool any = false;
  for (const auto& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return;
  auto node = std::make_shared<FunctionNode>(std::move(name), std::move(backward));
  node->next_edges.reserve(inputs.size());
  for (const auto& t : inputs) node->next_edges.push_back(Edge{gradient_edge(t)});
  auto& m = output.mutable_autograd_meta();
  m.requires_grad = true;
  m.grad_fn = std::move(node);
}

Tensor sum_to(const Tensor& grad, const Shape& sizes) {
  if (grad.sizes() == sizes) return grad;
  int64_t lead = grad.dim() - int64_t(sizes.size());
  WICK_CHECK_AS(ShapeError, lead >= 0, "sum_to: cannot sum sizes ", grad.sizes(), " to ", sizes);
  Shape dims;
  for (int64_t d = 0; d < grad.dim(); ++d)
    if (d < lead || (sizes[size_t(d - lead)] == 1 && grad.sizes()[size_t(d)] != 1))
      dims.push_back(d);
  Tensor r = dims.empty() ? grad : sum(grad, dims, true);
  return r.reshape(sizes);
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph) {
  std::vector<Tensor> g = default_root_grads(roots, grads);
  std::vector<std::shared_ptr<Node>> nodes;
  for (const auto& r : roots) nodes.push_back(gradient_edge(r));
  execute(nodes, g, retain_graph, {});
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  std::vector<Tensor> g = default_root_grads(outputs, grad_outputs);
  std::vector<std::shared_ptr<Node>> nodes, capture;
  for (const auto& r : outputs) nodes.push_back(gradient_edge(r));
  for (size_t i = 0; i < inputs.size(); ++i) {
    WICK_CHECK(inputs[i].requires_grad(), "grad: input ", i, " does not require grad");
    capture.push_back(gradient_edge(inputs[i]));
  }
  return execute(nodes, g, retain_graph, capture);
}

void zero_grad(const std::vector<Tensor>& tensors, bool set_to_none) {
  NoGradGuard no_grad;
  for (const Tensor& t : tensors) {
    Tensor g = t.grad();
    if (!g.defined()) continue;
    if (set_to_none)
      t.set_grad(Tensor());
    else
      g.zero_();
  }
}

void check_inplace(const Tensor& t, const char* op) {
  if (!GradMode::is_enabled() || !t.requires_grad()) return;
  if (t.is_leaf())
    throw Error(detail::concat(op,
                               ": a leaf tensor that requires grad is being used in an "
                               "in-place operation; wrap the update in wick::NoGradGuard"));
  throw Error(detail::concat(op,
                             ": in-place operation on a tensor that requires grad (produced by ",
                             t.grad_fn()->name(), ") is not supported; use the out-of-place form"));
}

}  // namespace autograd

// ---- Tensor's backward members ------------------------------------------------

void Tensor::retain_grad() const {
  WICK_CHECK(requires_grad(),
             "retain_grad: can't retain_grad on a tensor that doesn't require grad");
  if (is_leaf()) return;
  auto& m = mutable_autograd_meta();
  m.retains_grad = true;
  if (auto* f = dynamic_cast<autograd::FunctionNode*>(m.grad_fn.get())) f->retained = impl_ptr();
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::run_backward({*this}, {gradient}, retain_graph);
}

}  // namespace wick
