// Module: the base of every layer and model, as torch.nn.Module.
//
// A module owns parameters, buffers and child modules, each registered once
// under a name. Those names make the state_dict keys (`conv1.weight`), the
// repr, and the order of parameters() that optimizers index. A model is a
// struct deriving from Module whose members are the registered pieces:
//
//   struct Net : wick::nn::Module {
//     nn::Conv2d& conv1 = register_module("conv1", nn::Conv2d(3, 6, 5));
//     nn::MaxPool2d& pool = register_module("pool", nn::MaxPool2d(2, 2));
//     nn::Linear& fc1 = register_module("fc1", nn::Linear(16 * 5 * 5, 120));
//     Tensor forward(const Tensor& x) override {
//       return fc1(pool(relu(conv1(x))).view({-1, 16 * 5 * 5}));
//     }
//   };
//   Net net;
//   std::cout << net;                       // prints what print(net) prints in PyTorch
//   net.load_state_dict(wick::load("net.pt"));
//
// register_module takes the child by value and keeps it on the heap, so the
// returned reference stays valid for the parent's lifetime (also when the
// parent is moved). Members are initialised in declaration order, which is
// therefore the registration order. Modules cannot be copied (that would
// share parameters silently); they can be moved.
//
// A parameter is a Tensor that requires grad; a layer keeps a handle to it
// as a public member (`conv1.weight`) and the module keeps the same handle in
// its registry. Operations that replace a parameter's data (to(dtype),
// load_state_dict with assign) re-point the existing handle (PyTorch's
// `param.data = ...`), so member handles and optimizers keep seeing it.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/core/value.h"
#include "wick/nn/state_dict.h"

namespace wick::nn {

/// What load_state_dict did not match (PyTorch's `_IncompatibleKeys`).
struct LoadResult {
  std::vector<std::string> missing_keys;     // in the module, not in the state_dict
  std::vector<std::string> unexpected_keys;  // in the state_dict, not in the module
  bool ok() const { return missing_keys.empty() && unexpected_keys.empty(); }
};

/// Prints `<All keys matched successfully>` or
/// `_IncompatibleKeys(missing_keys=['fc3.bias'], unexpected_keys=[])` as PyTorch does.
std::ostream& operator<<(std::ostream& os, const LoadResult& r);

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  /// The computation. The default throws wick::Error naming the module: only
  /// modules with one tensor in and one out override it (Sequential calls it).
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }

  // ---- registration (each name once; names contain no '.') ----------------
  /// Registers a parameter and returns the same handle. A defined `value` that
  /// does not require grad is marked as requiring grad (floating dtypes only);
  /// pass `requires_grad = false` for a frozen parameter. An undefined `value`
  /// registers the name with no parameter (PyTorch's `bias=None`): it is
  /// skipped by parameters() and state_dict(). A non-leaf `value` (the result
  /// of an operation) is refused, as in PyTorch.
  Tensor register_parameter(std::string name, Tensor value, bool requires_grad = true);
  /// Registers a buffer: state that is not learned (running statistics).
  /// Non-persistent buffers are left out of state_dict(). Undefined `value`:
  /// registered as None, as for parameters.
  Tensor register_buffer(std::string name, Tensor value, bool persistent = true);
  /// Registers a child module, taking it by value; returns the stored child.
  template <std::derived_from<Module> M>
  M& register_module(std::string name, M module) {
    auto child = std::make_shared<M>(std::move(module));
    M& ref = *child;
    add_child(std::move(name), std::move(child));
    return ref;
  }
  /// Registers a child module held elsewhere too (shared ownership).
  template <std::derived_from<Module> M>
  M& register_module(std::string name, std::shared_ptr<M> module) {
    M& ref = *module;
    add_child(std::move(name), std::move(module));
    return ref;
  }

  // ---- traversal, in PyTorch's order ---------------------------------------
  /// This module's parameters, then (recurse) its children's, depth first.
  /// A parameter registered twice (tied weights) is listed once.
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(const std::string& prefix = "",
                                                               bool recurse = true) const;
  /// All buffers, persistent or not.
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(const std::string& prefix = "",
                                                            bool recurse = true) const;
  std::vector<Module*> children() const;
  std::vector<std::pair<std::string, Module*>> named_children() const;
  /// This module first, then every descendant, depth first, each once.
  std::vector<Module*> modules();
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "");
  /// The descendant at a dotted path ("layer1.0.conv1"; "" is this module).
  /// Throws wick::Error naming the first missing part.
  Module& get_submodule(std::string_view path) const;
  /// The parameter at a dotted path ("fc1.weight"). Throws wick::Error if absent.
  Tensor get_parameter(std::string_view path) const;
  Tensor get_buffer(std::string_view path) const;

  // ---- modes and bulk changes -----------------------------------------------
  /// Sets training mode on this module and every descendant.
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  /// PyTorch's `module.training`.
  bool is_training() const { return training_; }
  /// Clears every parameter's gradient (set_to_none) or fills it with zeros.
  void zero_grad(bool set_to_none = true);
  /// Converts floating-point parameters and buffers (and their gradients) to
  /// `dtype` in place: handles stay the same, their data is replaced.
  Module& to(DType dtype);
  /// Calls fn on every descendant (children first) and then on this module.
  Module& apply(const std::function<void(Module&)>& fn);
  /// Sets requires_grad on every parameter.
  Module& requires_grad_(bool on = true);

  // ---- state_dict ------------------------------------------------------------
  /// Parameters and persistent buffers by dotted name, detached, sharing
  /// storage with the module, with per-module versions in metadata().
  /// `prefix` goes before every key as given (PyTorch's: "model.").
  StateDict state_dict(const std::string& prefix = "") const;
  /// Copies `sd` into this module's parameters and persistent buffers,
  /// converting dtypes. Size mismatches are always an error; with `strict`,
  /// so are missing and unexpected keys. On error nothing is changed and the
  /// wick::Error reads like PyTorch's:
  ///   Error(s) in loading state_dict for Net:
  ///   	Missing key(s) in state_dict: "fc3.bias".
  /// and, when every key differs by one common prefix, says which prefix and
  /// how to fix it (nn::strip_prefix / nn::add_prefix). Otherwise applies what
  /// matches and returns the keys that did not. With `assign`, parameters and
  /// buffers adopt the given tensors' storage instead of copying (requires_grad
  /// of parameters is kept).
  LoadResult load_state_dict(const StateDict& sd, bool strict = true, bool assign = false);
  /// The same from a loaded file: `model.load_state_dict(wick::load(path))`.
  LoadResult load_state_dict(const Value& sd, bool strict = true, bool assign = false) {
    return load_state_dict(StateDict(sd), strict, assign);
  }

  // ---- repr ------------------------------------------------------------------
  /// The class name shown in the repr: by default the C++ class name without
  /// namespaces ("Net", "Conv2d").
  virtual std::string name() const;
  /// The text inside the parentheses, e.g. "in_features=400, out_features=120,
  /// bias=True". Empty by default.
  virtual std::string extra_repr() const { return {}; }
  /// PyTorch's repr(module): name, extra_repr and the children, indented.
  virtual std::string repr() const;

  /// The layout version of this module's state (PyTorch's `_version`): 1, or 2
  /// for BatchNorm. Saved in the state_dict's metadata.
  int64_t version() const { return version_; }

 protected:
  void set_version(int64_t v) { version_ = v; }
  /// Called by load_state_dict before matching keys, once per module with that
  /// module's `prefix` ("conv1.") and the version recorded for it in the
  /// loaded state_dict (nullopt when absent). A layer whose layout changed
  /// between versions upgrades `sd` here (BatchNorm adds a missing
  /// num_batches_tracked for version < 2).
  virtual void upgrade_state_dict(StateDict& sd, const std::string& prefix,
                                  std::optional<int64_t> version) const;

 private:
  struct Slot {
    std::string name;
    Tensor tensor;  // undefined: registered as None
    bool persistent = true;
  };
  void add_child(std::string name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name, std::string_view what) const;
  /// The parameter or buffer slot called `name` (None ones included), or null.
  const Slot* find_slot(const std::string& name) const;
  /// named_modules(prefix), or only this module when not recursing.
  std::vector<std::pair<std::string, Module*>> modules_for(const std::string& prefix,
                                                           bool recurse) const;
  /// Calls fn(module, "a.b.") on this module and every child registration,
  /// depth first, without deduplication (the state_dict traversal).
  void visit_state(const std::string& prefix,
                   const std::function<void(const Module&, const std::string&)>& fn) const;

  std::vector<Slot> parameters_;
  std::vector<Slot> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  int64_t version_ = 1;
};

/// Prints module.repr().
std::ostream& operator<<(std::ostream& os, const Module& module);

/// The C++ class name of `type` without namespaces or template arguments
/// ("wick::nn::Linear" -> "Linear"): what Module::name() shows.
std::string class_name(const std::type_info& type);

}  // namespace wick::nn
