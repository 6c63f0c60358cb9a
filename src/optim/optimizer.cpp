#include "wick/optim/optimizer.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <unordered_set>

#include "core/format.h"
#include "optim/internal.h"
#include "wick/autograd/grad_mode.h"
#include "wick/autograd/graph.h"
#include "wick/core/error.h"

namespace wick::optim {

// ---- detail -----------------------------------------------------------------

namespace detail {

std::string format_number(double v) {
  return wick::detail::python_float_repr(v, false);
}

double option(const ParamGroup& group, std::string_view key) {
  const Value& v = group[key];
  WICK_CHECK(v.is_int() || v.is_float() || v.is_bool(), "param group option '", key,
             "' must be a number, got ", v.type_name());
  return v.to_double();
}

bool flag(const ParamGroup& group, std::string_view key) {
  const Value& v = group[key];
  if (v.is_none()) return false;  // foreach/fused: None means "let the library choose"
  WICK_CHECK(v.is_bool() || v.is_int(), "param group option '", key, "' must be a bool, got ",
             v.type_name());
  return v.is_bool() ? v.as_bool() : v.as_int() != 0;
}

Tensor checked_grad(const char* optimizer, const Tensor& param) {
  Tensor grad = param.grad();
  if (!grad.defined()) return grad;
  WICK_CHECK_AS(DTypeError, param.dtype() == DType::Float32 || param.dtype() == DType::Float64,
                optimizer, ": parameters must be float32 or float64, got ", param.dtype());
  WICK_CHECK(param.is_contiguous(), optimizer,
             ": a parameter must be contiguous to be updated in place (sizes ", param.sizes(),
             ", strides ", param.strides(), ")");
  WICK_CHECK_AS(ShapeError, grad.sizes() == param.sizes(), optimizer, ": gradient of size ",
                grad.sizes(), " for a parameter of size ", param.sizes());
  // A gradient of another dtype or layout is converted once; the usual case
  // (autograd output: same dtype, contiguous) costs nothing.
  if (grad.dtype() != param.dtype()) grad = grad.to(param.dtype());
  return grad.contiguous();
}

Tensor state_tensor(Dict& state, const Value& key, const Tensor& param, double fill) {
  Value* v = state.find(key);
  if (v && v->is_tensor()) {
    const Tensor& t = v->as_tensor();
    if (t.is_contiguous() && t.dtype() == param.dtype() && t.sizes() == param.sizes()) return t;
    WICK_CHECK_AS(ShapeError, t.numel() == param.numel(), "optimizer state '", key.as_string(),
                  "' has size ", t.sizes(), " but its parameter has size ", param.sizes());
    Tensor fixed = t.to(param.dtype()).contiguous().clone().view(param.sizes());
    *v = Value(fixed);
    return fixed;
  }
  Tensor t = fill == 0 ? zeros(param.sizes(), {.dtype = param.dtype()})
                       : full(param.sizes(), fill, {.dtype = param.dtype()});
  state.set(key, t);
  return t;
}

double bump_step(Dict& state) {
  Value* v = state.find(key("step"));
  if (!v || !v->is_tensor()) {
    double prev = v && !v->is_none() ? v->to_double() : 0.0;
    state.set(key("step"), scalar_tensor(prev, DType::Float32));
    v = state.find(key("step"));
  }
  const Tensor& t = v->as_tensor();
  WICK_CHECK(t.numel() == 1, "optimizer state 'step' must have one element, has size ", t.sizes());
  if (t.dtype() == DType::Float32) {
    float* p = t.data<float>();  // `step_t += 1` in float32, as PyTorch
    *p += 1.0f;
    return *p;
  }
  double next = t.item<double>() + 1;
  t.fill_(next);
  return t.item<double>();
}

const Value& key(std::string_view name) {
  // Values are handles over immutable strings, so sharing them across
  // threads is safe once created; the map itself is guarded.
  static std::mutex mu;
  static std::map<std::string, Value, std::less<>> keys;
  std::lock_guard lock(mu);
  auto it = keys.find(name);
  if (it == keys.end()) it = keys.emplace(std::string(name), Value(name)).first;
  return it->second;
}

}  // namespace detail

// ---- ParamGroup ---------------------------------------------------------------

ParamGroup::ParamGroup(std::vector<Tensor> params_,
                       std::initializer_list<std::pair<std::string, Value>> options_)
    : params(std::move(params_)) {
  for (const auto& [k, v] : options_) options.set(k, v);
}

Value& ParamGroup::operator[](std::string_view key) {
  Value* v = options.find(Value(key));
  WICK_CHECK(v, "param group has no option '", key, "'");
  return *v;
}

const Value& ParamGroup::operator[](std::string_view key) const {
  const Value* v = options.find(Value(key));
  WICK_CHECK(v, "param group has no option '", key, "'");
  return *v;
}

double ParamGroup::lr() const {
  return detail::option(*this, "lr");
}

// ---- Optimizer ----------------------------------------------------------------

Tensor Optimizer::step(const std::function<Tensor()>& closure) {
  Tensor loss;
  {
    EnableGradGuard enable;
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const ParamGroup& g : groups_) autograd::zero_grad(g.params, set_to_none);
}

void Optimizer::add_param_group(ParamGroup group) {
  WICK_CHECK(!group.params.empty(), name(), ": optimizer got an empty parameter list");
  std::unordered_set<const TensorImpl*> seen;
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    WICK_CHECK(p.defined(), name(), ": parameter ", i, " of the group is an undefined tensor");
    WICK_CHECK(p.is_leaf(), name(), ": can't optimize a non-leaf Tensor (parameter ", i,
               " of the group)");
    WICK_CHECK_AS(DTypeError, is_floating_point(p.dtype()), name(),
                  ": can only optimize floating-point tensors, parameter ", i, " is ", p.dtype());
    // PyTorch only warns here ("in future, this will cause an error"); a
    // parameter listed twice would be updated twice per step.
    WICK_CHECK(seen.insert(p.impl_ptr().get()).second, name(),
               ": optimizer contains a parameter group with duplicate parameters (parameter ", i,
               ")");
  }
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params)
      WICK_CHECK(!seen.count(p.impl_ptr().get()), name(),
                 ": some parameters appear in more than one parameter group");
  // A name is known when it is a default or already an option of another
  // group (LR schedulers add 'initial_lr' and friends to existing groups).
  for (const auto& [k, v] : group.options) {
    bool known = defaults_.contains(k);
    for (const ParamGroup& g : groups_) known = known || g.options.contains(k);
    WICK_CHECK(known, name(), ": unknown option ", k.repr(), " in a param group");
  }
  // Python's setdefault: the group's own options first, in its order, then
  // the remaining defaults in the optimizer's order.
  for (const auto& [k, v] : defaults_)
    if (!group.options.contains(k)) group.options.set(k, v);
  groups_.push_back(std::move(group));
}

void Optimizer::add_param_groups(std::vector<ParamGroup> groups) {
  WICK_CHECK(!groups.empty(), name(), ": optimizer got an empty parameter list");
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

Dict& Optimizer::state(const Tensor& param) {
  auto it = index_.find(param.impl_ptr().get());
  if (it != index_.end()) return state_[it->second].second;
  bool member = false;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) member = member || p.is_same(param);
  WICK_CHECK(member, name(), ": state() of a tensor that is not a parameter of this optimizer");
  index_.emplace(param.impl_ptr().get(), state_.size());
  state_.emplace_back(param, Dict());
  return state_.back().second;
}

bool Optimizer::has_state(const Tensor& param) const {
  return index_.count(param.impl_ptr().get()) != 0;
}

Value Optimizer::state_dict() const {
  std::unordered_map<const TensorImpl*, int64_t> ids;
  List groups;
  int64_t next = 0;
  for (const ParamGroup& g : groups_) {
    Dict packed;
    for (const auto& [k, v] : g.options) packed.set(k, v);
    List params;
    for (const Tensor& p : g.params) {
      ids.emplace(p.impl_ptr().get(), next);
      params.emplace_back(next++);
    }
    packed.set("params", Value::list(std::move(params)));
    groups.emplace_back(std::move(packed));
  }
  Dict state;
  for (const auto& [param, st] : state_) {
    auto it = ids.find(param.impl_ptr().get());
    if (it == ids.end()) continue;  // cannot happen: state exists only for members
    Dict copy;
    for (const auto& [k, v] : st) copy.set(k, v);
    state.set(it->second, copy);
  }
  Dict sd;
  sd.set("state", state);
  sd.set("param_groups", Value::list(std::move(groups)));
  return sd;
}

void Optimizer::upgrade_state(Dict& param_state) const {
  Value* step = param_state.find(detail::key("step"));
  if (step && (step->is_int() || step->is_float()))
    *step = Value(scalar_tensor(step->to_double(), DType::Float32));
}

void Optimizer::load_state_dict(const Value& sd) {
  WICK_CHECK(sd.is_dict() && sd.contains("state") && sd.contains("param_groups"), name(),
             ".load_state_dict: expected a dict with 'state' and 'param_groups', got ",
             sd.type_name());
  const List& saved_groups = sd["param_groups"].as_sequence();
  WICK_CHECK(saved_groups.size() == groups_.size(),
             "loaded state dict has a different number of parameter groups (", saved_groups.size(),
             " in the state dict, ", groups_.size(), " in the ", name(), " optimizer)");
  std::unordered_map<int64_t, Tensor> id_map;
  std::vector<Dict> new_options;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const Value& saved = saved_groups[gi];
    WICK_CHECK(saved.is_dict() && saved.contains("params"), name(),
               ".load_state_dict: param_groups[", gi, "] is not a dict with 'params'");
    const List& ids = saved["params"].as_sequence();
    WICK_CHECK(ids.size() == groups_[gi].params.size(),
               "loaded state dict contains a parameter group that doesn't match the size of "
               "optimizer's group (group ",
               gi, ": ", ids.size(), " parameters in the state dict, ", groups_[gi].params.size(),
               " in the optimizer)");
    for (size_t i = 0; i < ids.size(); ++i) id_map[ids[i].as_int()] = groups_[gi].params[i];
    Dict options;
    for (const auto& [k, v] : saved.as_dict())
      if (!(k.is_string() && k.as_string() == "params")) options.set(k, v);
    // Options an older version did not have keep this optimizer's defaults.
    for (const auto& [k, v] : defaults_)
      if (!options.contains(k)) options.set(k, v);
    new_options.push_back(std::move(options));
  }

  std::deque<std::pair<Tensor, Dict>> new_state;
  std::unordered_map<const TensorImpl*, size_t> new_index;
  for (const auto& [k, v] : sd["state"].as_dict()) {
    WICK_CHECK(k.is_int(), name(), ".load_state_dict: state keys must be parameter indices, got ",
               k.repr());
    auto it = id_map.find(k.as_int());
    WICK_CHECK(it != id_map.end(), name(), ".load_state_dict: state for parameter ", k.as_int(),
               ", which is in no parameter group");
    const Tensor& param = it->second;
    WICK_CHECK(v.is_dict(), name(), ".load_state_dict: state[", k.as_int(), "] is a ",
               v.type_name(), ", not a dict");
    Dict st;
    for (const auto& [sk, sv] : v.as_dict()) {
      if (!sv.is_tensor()) {
        st.set(sk, sv);
        continue;
      }
      const Tensor& t = sv.as_tensor();
      bool is_step = sk.is_string() && sk.as_string() == "step";
      if (is_step) {
        st.set(sk, t.clone());
        continue;
      }
      WICK_CHECK_AS(ShapeError, t.sizes() == param.sizes(), name(), ".load_state_dict: state[",
                    k.as_int(), "][", sk.repr(), "] has size ", t.sizes(),
                    " but its parameter has size ", param.sizes());
      // A copy (never a view of the loaded file), in the parameter's dtype
      // for floating state, as PyTorch's cast does.
      DType dt = is_floating_point(param.dtype()) && is_floating_point(t.dtype()) ? param.dtype()
                                                                                  : t.dtype();
      st.set(sk, t.to(dt, /*copy=*/true).contiguous());
    }
    upgrade_state(st);
    if (new_index.emplace(param.impl_ptr().get(), new_state.size()).second)
      new_state.emplace_back(param, std::move(st));
  }

  // Everything checked: commit.
  for (size_t gi = 0; gi < groups_.size(); ++gi) groups_[gi].options = std::move(new_options[gi]);
  state_ = std::move(new_state);
  index_ = std::move(new_index);
}

std::string Optimizer::repr() const {
  std::ostringstream os;
  os << name() << " (";
  for (size_t i = 0; i < groups_.size(); ++i) {
    os << "\nParameter Group " << i << "\n";
    std::vector<std::pair<std::string, Value>> items;
    for (const auto& [k, v] : groups_[i].options)
      items.emplace_back(k.is_string() ? k.as_string() : k.repr(), v);
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    // str() of each value: a str prints bare, everything else as its repr.
    for (const auto& [k, v] : items)
      os << "    " << k << ": " << (v.is_string() ? v.as_string() : v.repr()) << "\n";
  }
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Optimizer& opt) {
  return os << opt.repr();
}

Value number(double v, bool int_default) {
  if (int_default && v == 0) return Value(int64_t(0));
  return Value(v);
}

}  // namespace wick::optim
