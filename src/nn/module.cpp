// Module: registration, traversal, bulk changes, state_dict and repr, following
// torch/nn/modules/module.py.
#include "wick/nn/module.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <unordered_set>

#include "wick/autograd/grad_mode.h"
#include "wick/autograd/graph.h"

namespace wick::nn {

namespace {

// Dotted names as named_parameters() and named_modules() build them.
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// A state_dict prefix ("layer1.0.") names its module in _metadata without the dot.
std::string metadata_key(const std::string& prefix) {
  return prefix.empty() || prefix.back() != '.' ? prefix : prefix.substr(0, prefix.size() - 1);
}

// Python's list repr of strings: ['a', 'b'].
std::string py_list(const std::vector<std::string>& items) {
  List list(items.begin(), items.end());
  return Value::list(std::move(list)).repr();
}

std::string quoted_join(const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) s += (s.empty() ? "\"" : ", \"") + k + "\"";
  return s;
}

// PyTorch's _addindent: indents every line but the first.
std::string add_indent(const std::string& s, int spaces) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out.append(size_t(spaces), ' ');
  }
  return out;
}

std::string torch_size(const Shape& s) {
  return wick::detail::concat("torch.Size(", s, ")");
}

// When every model key and some state_dict key differ by one common prefix
// ending in '.', strict loading cannot succeed however the user retries; say
// which prefix and which helper fixes it.
std::string prefix_hint(const std::vector<std::string>& model_keys, const StateDict& sd) {
  if (model_keys.empty() || sd.empty()) return {};
  auto candidates = [](const std::string& longer, const std::string& shorter) {
    bool ok = longer.size() > shorter.size() && longer.ends_with(shorter) &&
              longer[longer.size() - shorter.size() - 1] == '.';
    return ok ? std::optional(longer.substr(0, longer.size() - shorter.size())) : std::nullopt;
  };
  for (const auto& [key, t] : sd) {
    auto p = candidates(key, model_keys[0]);
    if (p && std::all_of(model_keys.begin(), model_keys.end(),
                         [&](const std::string& k) { return sd.contains(*p + k); }))
      return wick::detail::concat("The state_dict's keys start with \"", *p,
                                  "\" where the model's do not; load nn::strip_prefix(sd, \"", *p,
                                  "\") instead.");
  }
  const std::string& first = sd.items().front().first;
  for (const auto& m : model_keys) {
    auto p = candidates(m, first);
    if (p && std::all_of(model_keys.begin(), model_keys.end(), [&](const std::string& k) {
          return k.starts_with(*p) && sd.contains(k.substr(p->size()));
        }))
      return wick::detail::concat("The model's keys start with \"", *p,
                                  "\" where the state_dict's do not; load nn::add_prefix(sd, \"",
                                  *p, "\") instead.");
  }
  return {};
}

}  // namespace

std::string class_name(const std::type_info& type) {
  int status = 0;
  char* raw = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string full = status == 0 && raw ? raw : type.name();
  std::free(raw);
  // Drop template arguments, then keep what follows the last "::"
  // ("wick::nn::Box<float>" -> "Box", "Test::TestBody()::Net" -> "Net").
  std::string plain;
  int depth = 0;
  for (char c : full) {
    if (c == '<') ++depth;
    if (depth == 0) plain += c;
    if (c == '>') --depth;
  }
  size_t colon = plain.rfind("::");
  return colon == std::string::npos ? plain : plain.substr(colon + 2);
}

std::ostream& operator<<(std::ostream& os, const LoadResult& r) {
  if (r.ok()) return os << "<All keys matched successfully>";
  return os << "_IncompatibleKeys(missing_keys=" << py_list(r.missing_keys)
            << ", unexpected_keys=" << py_list(r.unexpected_keys) << ")";
}

std::ostream& operator<<(std::ostream& os, const Module& module) {
  return os << module.repr();
}

Tensor Module::forward(const Tensor&) {
  throw Error(
      wick::detail::concat("Module [", name(), "] is missing the required \"forward\" function"));
}

// ---- registration -----------------------------------------------------------

void Module::check_new_name(const std::string& name, std::string_view what) const {
  WICK_CHECK(!name.empty(), this->name(), ": cannot register a ", what, " with an empty name");
  WICK_CHECK(name.find('.') == std::string::npos, this->name(), ": cannot register ", what, " \"",
             name, "\": names cannot contain \".\"");
  auto same = [&](const auto& slot) { return slot.name == name; };
  bool taken = std::any_of(parameters_.begin(), parameters_.end(), same) ||
               std::any_of(buffers_.begin(), buffers_.end(), same) ||
               std::any_of(children_.begin(), children_.end(),
                           [&](const auto& c) { return c.first == name; });
  WICK_CHECK(!taken, this->name(), ": cannot register ", what, " \"", name,
             "\": the name is already used by a parameter, buffer or child module");
}

Tensor Module::register_parameter(std::string name, Tensor value, bool requires_grad) {
  check_new_name(name, "parameter");
  if (value.defined()) {
    WICK_CHECK(value.is_leaf(), this->name(), ": cannot register parameter \"", name,
               "\": it was produced by ", value.grad_fn_name(),
               "; parameters must be leaf tensors (detach() it)");
    if (is_floating_point(value.dtype()) || is_complex(value.dtype()))
      value.requires_grad_(requires_grad);
  }
  parameters_.push_back({std::move(name), value, true});
  return value;
}

Tensor Module::register_buffer(std::string name, Tensor value, bool persistent) {
  check_new_name(name, "buffer");
  buffers_.push_back({std::move(name), value, persistent});
  return value;
}

void Module::add_child(std::string name, std::shared_ptr<Module> child) {
  check_new_name(name, "module");
  WICK_CHECK(child != nullptr, this->name(), ": cannot register module \"", name, "\": it is null");
  children_.emplace_back(std::move(name), std::move(child));
}

// ---- traversal ----------------------------------------------------------------

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module*>> out;
  std::unordered_set<const Module*> memo;
  auto visit = [&](auto& self, Module& m, const std::string& p) -> void {
    if (!memo.insert(&m).second) return;
    out.emplace_back(p, &m);
    for (auto& [name, child] : m.children_) self(self, *child, join(p, name));
  };
  visit(visit, *this, prefix);
  return out;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out;
  for (auto& [name, m] : named_modules()) out.push_back(m);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const {
  std::vector<std::pair<std::string, Module*>> out;
  std::unordered_set<const Module*> memo;
  for (const auto& [name, child] : children_)
    if (memo.insert(child.get()).second) out.emplace_back(name, child.get());
  return out;
}

std::vector<Module*> Module::children() const {
  std::vector<Module*> out;
  for (auto& [name, m] : named_children()) out.push_back(m);
  return out;
}

namespace {

// PyTorch's _named_members: each module's own slots (its parameters_ or its
// buffers_), skipping None and tensors already seen (tied weights), over
// named_modules() when recursing.
template <class Slots>
std::vector<std::pair<std::string, Tensor>> named_members(
    const std::vector<std::pair<std::string, Module*>>& modules, const Slots Module::*slots) {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> memo;
  for (const auto& [prefix, m] : modules)
    for (const auto& slot : m->*slots)
      if (slot.tensor.defined() && memo.insert(slot.tensor.impl_ptr().get()).second)
        out.emplace_back(join(prefix, slot.name), slot.tensor);
  return out;
}

std::vector<Tensor> values(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : named) out.push_back(t);
  return out;
}

}  // namespace

std::vector<std::pair<std::string, Module*>> Module::modules_for(const std::string& prefix,
                                                                 bool recurse) const {
  // named_modules() only reads, but hands out mutable pointers; traversals
  // of a const module reuse it.
  auto* self = const_cast<Module*>(this);
  if (!recurse) return {{prefix, self}};
  return self->named_modules(prefix);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(const std::string& prefix,
                                                                     bool recurse) const {
  return named_members(modules_for(prefix, recurse), &Module::parameters_);
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(const std::string& prefix,
                                                                  bool recurse) const {
  return named_members(modules_for(prefix, recurse), &Module::buffers_);
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  return values(named_parameters("", recurse));
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  return values(named_buffers("", recurse));
}

Module& Module::get_submodule(std::string_view path) const {
  const Module* m = this;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string item(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    auto it = std::find_if(m->children_.begin(), m->children_.end(),
                           [&](const auto& c) { return c.first == item; });
    if (it == m->children_.end()) {
      WICK_CHECK(!m->find_slot(item), "`", item, "` is not an nn.Module");
      throw Error(wick::detail::concat(m->name(), " has no attribute `", item, "`"));
    }
    m = it->second.get();
  }
  return const_cast<Module&>(*m);
}

const Module::Slot* Module::find_slot(const std::string& name) const {
  for (const auto* slots : {&parameters_, &buffers_})
    for (const auto& s : *slots)
      if (s.name == name) return &s;
  return nullptr;
}

Tensor Module::get_parameter(std::string_view path) const {
  size_t dot = path.rfind('.');
  const Module& m = get_submodule(dot == std::string_view::npos ? "" : path.substr(0, dot));
  std::string name(dot == std::string_view::npos ? path : path.substr(dot + 1));
  for (const auto& s : m.parameters_)
    if (s.name == name && s.tensor.defined()) return s.tensor;
  bool exists = m.find_slot(name) || std::any_of(m.children_.begin(), m.children_.end(),
                                                 [&](const auto& c) { return c.first == name; });
  WICK_CHECK(!exists, "`", name, "` is not an nn.Parameter");
  throw Error(wick::detail::concat(m.name(), " has no attribute `", name, "`"));
}

Tensor Module::get_buffer(std::string_view path) const {
  size_t dot = path.rfind('.');
  const Module& m = get_submodule(dot == std::string_view::npos ? "" : path.substr(0, dot));
  std::string name(dot == std::string_view::npos ? path : path.substr(dot + 1));
  for (const auto& s : m.buffers_)
    if (s.name == name) return s.tensor;  // undefined for a buffer registered as None
  bool exists = m.find_slot(name) || std::any_of(m.children_.begin(), m.children_.end(),
                                                 [&](const auto& c) { return c.first == name; });
  WICK_CHECK(!exists, "`", name, "` is not a buffer");
  throw Error(wick::detail::concat(m.name(), " has no attribute `", name, "`"));
}

// ---- modes and bulk changes -----------------------------------------------------

Module& Module::train(bool on) {
  training_ = on;
  for (Module* c : children()) c->train(on);
  return *this;
}

void Module::zero_grad(bool set_to_none) {
  autograd::zero_grad(parameters(), set_to_none);
}

Module& Module::to(DType dtype) {
  WICK_CHECK(
      is_floating_point(dtype) || is_complex(dtype),
      "Module.to only accepts floating point or complex dtypes, but got desired dtype=", dtype);
  NoGradGuard no_grad;
  auto convertible = [](const Tensor& t) {
    return t.defined() && (is_floating_point(t.dtype()) || is_complex(t.dtype()));
  };
  for (Module* m : modules()) {
    for (const Slot& s : m->parameters_) {
      if (!convertible(s.tensor)) continue;
      // set_data drops a gradient whose dtype no longer matches: convert it too.
      Tensor g = s.tensor.grad();
      s.tensor.set_data(s.tensor.to(dtype));
      if (g.defined()) s.tensor.set_grad(g.to(dtype));
    }
    for (const Slot& s : m->buffers_)
      if (convertible(s.tensor)) s.tensor.set_data(s.tensor.to(dtype));
  }
  return *this;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  for (Module* c : children()) c->apply(fn);
  fn(*this);
  return *this;
}

Module& Module::requires_grad_(bool on) {
  for (const Tensor& p : parameters()) p.requires_grad_(on);
  return *this;
}

// ---- state_dict -------------------------------------------------------------------

// state_dict and load_state_dict walk _modules directly, as PyTorch does: a
// child registered under two names is visited under both.
void Module::visit_state(const std::string& prefix,
                         const std::function<void(const Module&, const std::string&)>& fn) const {
  fn(*this, prefix);
  for (const auto& [name, child] : children_) child->visit_state(prefix + name + ".", fn);
}

StateDict Module::state_dict(const std::string& prefix) const {
  StateDict sd;
  std::vector<std::pair<std::string, int64_t>> metadata;
  visit_state(prefix, [&](const Module& m, const std::string& p) {
    metadata.emplace_back(metadata_key(p), m.version_);
    for (const Slot& s : m.parameters_)
      if (s.tensor.defined()) sd.set(p + s.name, s.tensor.detach());
    for (const Slot& s : m.buffers_)
      if (s.tensor.defined() && s.persistent) sd.set(p + s.name, s.tensor.detach());
  });
  sd.set_metadata(std::move(metadata));
  return sd;
}

void Module::upgrade_state_dict(StateDict&, const std::string&, std::optional<int64_t>) const {}

LoadResult Module::load_state_dict(const StateDict& given, bool strict, bool assign) {
  StateDict sd = given;  // upgrades edit the copy, never the caller's dict
  visit_state("", [&](const Module& m, const std::string& p) {
    m.upgrade_state_dict(sd, p, sd.version(metadata_key(p)));
  });

  // Validate everything before touching the module, so that a failure leaves
  // it exactly as it was.
  struct Copy {
    Tensor dst, src;
  };
  std::vector<Copy> copies;
  std::vector<std::string> model_keys, errors;
  LoadResult result;
  visit_state("", [&](const Module& m, const std::string& p) {
    std::vector<const Slot*> local;
    for (const Slot& s : m.parameters_)
      if (s.tensor.defined()) local.push_back(&s);
    for (const Slot& s : m.buffers_)
      if (s.tensor.defined() && s.persistent) local.push_back(&s);
    for (const Slot* s : local) {
      std::string key = p + s->name;
      model_keys.push_back(key);
      const Tensor* found = sd.find(key);
      if (!found) {
        result.missing_keys.push_back(key);
        continue;
      }
      Tensor src = *found;
      // PyTorch 0.3 saved 0-dim parameters as 1-dim.
      if (s->tensor.dim() == 0 && src.dim() == 1 && src.size(0) > 0) src = src[0];
      if (src.sizes() != s->tensor.sizes()) {
        errors.push_back(wick::detail::concat(
            "size mismatch for ", key, ": copying a param with shape ", torch_size(src.sizes()),
            " from checkpoint, the shape in current model is ", torch_size(s->tensor.sizes()),
            "."));
        continue;
      }
      copies.push_back({s->tensor, src});
    }
    // A key under this prefix is unexpected unless its first part names a
    // tensor of this module or a child (which then judges the rest).
    for (const auto& [key, t] : sd) {
      if (!key.starts_with(p)) continue;
      std::string first = key.substr(p.size(), key.find('.', p.size()) - p.size());
      bool known = std::any_of(local.begin(), local.end(),
                               [&](const Slot* s) { return s->name == first; }) ||
                   std::any_of(m.children_.begin(), m.children_.end(),
                               [&](const auto& c) { return c.first == first; });
      if (!known) result.unexpected_keys.push_back(key);
    }
  });

  if (strict) {
    if (!result.unexpected_keys.empty())
      errors.insert(errors.begin(), "Unexpected key(s) in state_dict: " +
                                        quoted_join(result.unexpected_keys) + ". ");
    if (!result.missing_keys.empty())
      errors.insert(errors.begin(),
                    "Missing key(s) in state_dict: " + quoted_join(result.missing_keys) + ". ");
  }
  if (!errors.empty()) {
    std::string msg = "Error(s) in loading state_dict for " + name() + ":";
    for (const auto& e : errors) msg += "\n\t" + e;
    if (strict && !result.ok()) {
      std::string hint = prefix_hint(model_keys, sd);
      if (!hint.empty()) msg += "\n\t" + hint;
    }
    throw Error(msg);
  }

  NoGradGuard no_grad;
  for (const Copy& c : copies) {
    if (assign)
      c.dst.set_data(c.src);
    else
      c.dst.copy_(c.src);
  }
  return result;
}

// ---- repr ---------------------------------------------------------------------------

std::string Module::name() const {
  return class_name(typeid(*this));
}

std::string Module::repr() const {
  std::vector<std::string> extra_lines, child_lines;
  std::string extra = extra_repr();
  for (size_t start = 0; !extra.empty();) {
    size_t nl = extra.find('\n', start);
    extra_lines.push_back(extra.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  for (const auto& [name, child] : children_)
    child_lines.push_back("(" + name + "): " + add_indent(child->repr(), 2));
  std::string s = name() + "(";
  if (extra_lines.size() == 1 && child_lines.empty()) {
    s += extra_lines[0];
  } else if (!extra_lines.empty() || !child_lines.empty()) {
    for (const auto* lines : {&extra_lines, &child_lines})
      for (const auto& line : *lines) s += "\n  " + line;
    s += "\n";
  }
  return s + ")";
}

}  // namespace wick::nn
