// Optimizer: the base of SGD, Adam, AdamW, RMSprop and Adagrad (torch.optim).
//
// An optimizer holds parameter groups: tensors plus their hyper-parameters,
// kept in an Dict under PyTorch's key names, in PyTorch's order and with
// PyTorch's value types ('lr': 0.001 is a float, 'dampening': 0 an int,
// 'nesterov': False a bool, 'foreach': None), so that state_dict() is exactly
// what PyTorch 2.x writes and prints the same:
//
//   optim::SGD opt(net.parameters(), {.lr = 0.001, .momentum = 0.9});
//   opt.zero_grad();  loss.backward();  opt.step();
//   opt.param_groups()[0]["lr"] = 0.01;       // as optimizer.param_groups[0]['lr'] = 0.01
//   wick::save(opt.state_dict(), "opt.pt");   // {"state": {...}, "param_groups": [...]}
//   opt.load_state_dict(wick::load("opt.pt"));
//
// Per-group hyper-parameters: pass groups instead of one list of tensors;
// options given in a group override the optimizer's defaults for that group:
//
//   optim::SGD opt({{base.parameters()}, {head.parameters(), {{"lr", 1e-3}}}},
//                  {.lr = 1e-2, .momentum = 0.9});
//
// Per-parameter state (momentum buffers, Adam's moments, `step`) is an Dict
// per parameter, created when the parameter is first updated, holding PyTorch
// 2.x's keys (`step` is a 0-dim float32 tensor). load_state_dict accepts the
// layouts of PyTorch 1.x (numeric `step`) and 2.x.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/core/value.h"

namespace wick::optim {

/// One parameter group: the tensors and their hyper-parameters.
struct ParamGroup {
  std::vector<Tensor> params;
  /// Hyper-parameters by PyTorch's names ("lr", "momentum", "betas", ...).
  Dict options;

  ParamGroup() = default;
  /// `options` override the optimizer's defaults for this group only.
  ParamGroup(std::vector<Tensor> params,
             std::initializer_list<std::pair<std::string, Value>> options = {});

  /// The hyper-parameter `key`; throws wick::Error naming it if absent.
  Value& operator[](std::string_view key);
  const Value& operator[](std::string_view key) const;
  /// options["lr"] as a number.
  double lr() const;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that has a gradient (others are skipped).
  /// Runs without recording autograd history.
  virtual void step() = 0;
  /// Calls `closure` (with grad mode on) to recompute the loss, then step();
  /// returns the closure's loss.
  Tensor step(const std::function<Tensor()>& closure);
  /// Clears (set_to_none) or zeroes the gradient of every parameter.
  void zero_grad(bool set_to_none = true);

  /// Adds a group; its options fill in from defaults(). Throws wick::Error if
  /// a tensor is already in another group, is not a leaf, or is not
  /// floating point, or if an option has a name this optimizer does not know.
  void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// The hyper-parameters given at construction, completed with PyTorch's defaults.
  const Dict& defaults() const { return defaults_; }

  /// The state of `param` (empty until its first update).
  Dict& state(const Tensor& param);
  /// True when `param` has state.
  bool has_state(const Tensor& param) const;

  /// {"state": {index: {...}}, "param_groups": [{options..., "params": [indices]}]}
  /// Parameters are numbered across groups in order; `state` lists those that
  /// have state, in the order they got it. Tensors are shared, not copied.
  Value state_dict() const;
  /// Restores state and hyper-parameters from a state_dict of the same
  /// optimizer type (from wick or PyTorch 1.x/2.x). Throws wick::Error without
  /// changing anything when the number of groups or the size of a group
  /// differs, or when a state tensor's shape does not match its parameter.
  /// State tensors are copied and converted to the parameter's dtype (except
  /// `step`); options missing from an older file keep their defaults.
  void load_state_dict(const Value& state_dict);

  /// The class name: "SGD", "Adam", ...
  virtual std::string name() const = 0;
  /// PyTorch's repr: "SGD (\nParameter Group 0\n    dampening: 0\n ...)" with
  /// each group's options sorted by name.
  std::string repr() const;

 protected:
  /// `defaults`: every hyper-parameter with its value, in PyTorch's order.
  explicit Optimizer(Dict defaults) : defaults_(std::move(defaults)) {}
  /// Adds each group (see add_param_group); call from the derived constructor.
  void add_param_groups(std::vector<ParamGroup> groups);
  /// Brings a loaded per-parameter state to this version's layout, e.g. a
  /// numeric `step` becomes a 0-dim float32 tensor. The default does that for
  /// `step` and nothing else.
  virtual void upgrade_state(Dict& param_state) const;

 private:
  Dict defaults_;
  std::vector<ParamGroup> groups_;
  // Per-parameter state in the order it was created; index_ maps a
  // parameter's TensorImpl to its position. A deque, so that a reference
  // returned by state() stays valid when another parameter gets state.
  std::deque<std::pair<Tensor, Dict>> state_;
  std::unordered_map<const TensorImpl*, size_t> index_;
};

/// Prints opt.repr().
std::ostream& operator<<(std::ostream& os, const Optimizer& opt);

/// Helpers for option dicts: PyTorch keeps 0 (an int default) as int but
/// any other value as float; `int_default` says the PyTorch default is an int.
Value number(double v, bool int_default = false);

}  // namespace wick::optim
