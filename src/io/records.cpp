// Object records to state_dicts (docs/formats.md §8).
#include "io/records.h"

#include <unordered_set>

#include "wick/core/tensor.h"

namespace wick::io::detail {
namespace {

template <class... A>
[[noreturn]] void bad(const std::string& where, A&&... a) {
  throw FormatError(wick::detail::concat(where, ": ", std::forward<A>(a)...));
}

// The items of `[ "a", "b", ]` as the TorchScript printer writes them.
std::vector<std::string> parse_name_list(std::string_view s, const std::string& where,
                                         std::string_view what) {
  std::vector<std::string> out;
  size_t i = 0;
  auto skip = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
  };
  skip();
  if (i == s.size() || s[i] != '[') bad(where, what, " is not a list");
  ++i;
  while (true) {
    skip();
    if (i == s.size()) bad(where, what, " has no closing ']'");
    if (s[i] == ']') break;
    if (s[i] != '"') bad(where, what, " holds something other than a \"name\"");
    size_t end = s.find('"', i + 1);
    if (end == std::string_view::npos) bad(where, what, " has an unterminated name");
    std::string_view name = s.substr(i + 1, end - i - 1);
    if (name.find('\\') != std::string_view::npos)
      bad(where, what, " holds a name with an escape, which wick does not read");
    out.emplace_back(name);
    i = end + 1;
  }
  return out;
}

const ClassDecl* decl_of(const ClassDecls& decls, const std::string& type) {
  auto it = decls.find(type);
  return it == decls.end() ? nullptr : &it->second;
}

Value state_tensor(const Value& v, const std::string& where, const std::string& key) {
  if (!v.is_tensor())
    bad(where, "'", key, "' is declared a parameter or buffer but holds a ", v.type_name());
  return Value(v.as_tensor().detach());
}

// Module.state_dict() of a TorchScript module record: its parameters, its
// buffers, then each submodule's, depth first. `meta` gets the _metadata entry
// torch gives every scripted module: its prefix -> {"version": 1}.
void module_state(const Object& o, const std::string& prefix, const ClassDecls& decls,
                  const std::string& where, Dict& out, Dict& meta) {
  const ClassDecl* decl = decl_of(decls, o.type);
  Dict version;
  version.set("version", Value(1));
  meta.set(prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 1),
           Value(std::move(version)));
  auto add = [&](const std::string& name) {
    const Value* v = o.attributes.find(Value(name));
    if (!v) bad(where, o.type, " declares '", name, "' but the object has no such attribute");
    if (v->is_none()) return;  // an optional parameter that is absent (bias=False)
    out.set(prefix + name, state_tensor(*v, where, prefix + name));
  };
  if (decl) {
    for (const std::string& p : decl->parameters) add(p);
    for (const std::string& b : decl->buffers) add(b);
  } else {
    for (const auto& [k, v] : o.attributes)
      if (v.is_tensor()) add(k.as_string());
  }
  for (const auto& [k, v] : o.attributes) {
    if (!v.is_object() || v.as_object().reference) continue;
    const ClassDecl* sub = decl_of(decls, v.as_object().type);
    if (sub && !sub->module) continue;  // an attribute of a TorchScript class type
    module_state(v.as_object(), prefix + k.as_string() + ".", decls, where, out, meta);
  }
}

const Value& attribute(const Object& o, const std::string& name, const std::string& where) {
  const Value* v = o.attributes.find(Value(name));
  if (!v) bad(where, "the optimizer archive's ", o.type, " has no '", name, "'");
  return *v;
}

const Object& record(const Value& v, const std::string& what, const std::string& where) {
  if (!v.is_object() || v.as_object().reference)
    bad(where, "the optimizer archive's '", what, "' is a ", v.type_name(), ", not a module");
  return v.as_object();
}

// A "<name>/size" entry: a one-element int64 tensor.
int64_t size_entry(const Object& o, const std::string& name, const std::string& where) {
  const Value& v = attribute(o, name, where);
  if (!v.is_tensor() || v.as_tensor().numel() != 1 || v.as_tensor().dtype() != DType::Int64)
    bad(where, "the optimizer archive's '", name, "' is not a one-element int64 tensor");
  int64_t n = v.as_tensor().contiguous().data<int64_t>()[0];
  if (n < 0 || size_t(n) > o.attributes.size())
    bad(where, "the optimizer archive's '", name, "' says ", n, ", but ", o.type, " has only ",
        o.attributes.size(), " attributes");
  return n;
}

// libtorch's torch::save(optimizer): {state: {<param key>: {...}}, param_groups:
// {"param_groups/size", "param_groups/<i>": {"params/size", "params/<j>": key,
// options: {...}}}} -> PyTorch's optimizer state_dict, parameters numbered in
// group order as Optimizer.state_dict() numbers them.
Value optimizer_state(const Object& root, const std::string& where) {
  const Object& groups = record(attribute(root, "param_groups", where), "param_groups", where);
  const Object& state = record(attribute(root, "state", where), "state", where);
  std::unordered_map<std::string, int64_t> index;
  std::vector<std::string> order;
  Value param_groups = Value::list();
  const int64_t n = size_entry(groups, "param_groups/size", where);
  for (int64_t i = 0; i < n; ++i) {
    const std::string gname = "param_groups/" + std::to_string(i);
    const Object& g = record(attribute(groups, gname, where), gname, where);
    Dict group;
    const Value& options = attribute(g, "options", where);
    for (const auto& [k, v] : record(options, gname + "/options", where).attributes)
      group.set(k, v);
    Value params = Value::list();
    const int64_t m = size_entry(g, "params/size", where);
    for (int64_t j = 0; j < m; ++j) {
      const Value& key = attribute(g, "params/" + std::to_string(j), where);
      if (!key.is_string()) bad(where, gname, "'s params/", j, " is not a str");
      auto [it, fresh] = index.emplace(key.as_string(), int64_t(index.size()));
      if (!fresh) bad(where, "parameter '", key.as_string(), "' is in two parameter groups");
      order.push_back(key.as_string());
      params.as_list().push_back(Value(it->second));
    }
    group.set("params", params);
    param_groups.as_list().push_back(Value(std::move(group)));
  }
  for (const auto& [k, v] : state.attributes)
    if (!index.count(k.as_string()))
      bad(where, "the optimizer state names parameter '", k.as_string(),
          "', which no parameter group holds");
  Dict states;
  for (const std::string& key : order) {
    const Value* s = state.attributes.find(Value(key));
    if (!s) continue;
    Dict entry;
    for (const auto& [name, x] : record(*s, "state/" + key, where).attributes)
      entry.set(name, x.is_tensor() ? Value(x.as_tensor().detach()) : x);
    states.set(Value(index.at(key)), Value(std::move(entry)));
  }
  Dict out;
  out.set("state", Value(std::move(states)));
  out.set("param_groups", param_groups);
  return Value(std::move(out));
}

bool is_module_record(const Value& v) {
  if (!v.is_object() || v.as_object().reference) return false;
  const Dict& a = v.as_object().attributes;
  for (const char* name : {"_parameters", "_buffers", "_modules"}) {
    const Value* x = a.find(Value(name));
    if (!x || !x->is_dict()) return false;
  }
  return true;
}

// Module.state_dict() of a pickled nn.Module record.
void pickled_module_state(const Object& o, const std::string& prefix, Dict& out) {
  const Dict& a = o.attributes;
  std::unordered_set<std::string> non_persistent;
  if (const Value* s = a.find(Value("_non_persistent_buffers_set")); s && s->is_set())
    for (const Value& name : s->as_set())
      if (name.is_string()) non_persistent.insert(name.as_string());
  auto add = [&](const Value& name, const Value& v, const char* what) {
    if (v.is_none()) return;
    const std::string key = prefix + (name.is_string() ? name.as_string() : name.repr());
    if (!v.is_tensor())
      throw FormatError(wick::detail::concat("module '", o.type, "': ", what, " '", key, "' is a ",
                                             v.type_name(), ", not a tensor"));
    out.set(key, Value(v.as_tensor().detach()));
  };
  for (const auto& [k, v] : a.at(Value("_parameters")).as_dict()) add(k, v, "parameter");
  for (const auto& [k, v] : a.at(Value("_buffers")).as_dict())
    if (!k.is_string() || !non_persistent.count(k.as_string())) add(k, v, "buffer");
  for (const auto& [k, v] : a.at(Value("_modules")).as_dict()) {
    if (v.is_none()) continue;
    const std::string name = k.is_string() ? k.as_string() : k.repr();
    if (!is_module_record(v))
      throw FormatError(wick::detail::concat("module '", o.type, "': submodule '", prefix, name,
                                             "' is a ", v.type_name(), ", not a module"));
    pickled_module_state(v.as_object(), prefix + name + ".", out);
  }
}

Value module_state_dict(const Value& v) {
  Dict sd(/*ordered=*/true);
  pickled_module_state(v.as_object(), "", sd);
  return Value(std::move(sd));
}

// Replaces module records inside containers, each container once.
void replace_modules(const Value& v, std::unordered_set<const void*>& seen) {
  auto fix = [&](Value& item) {
    if (is_module_record(item))
      item = module_state_dict(item);
    else
      replace_modules(item, seen);
  };
  if (v.is_list() || v.is_tuple()) {
    if (!seen.insert(&v.as_sequence()).second) return;
    for (Value& item : v.as_sequence()) fix(item);
  } else if (v.is_set()) {
    if (!seen.insert(&v.as_set()).second) return;
    for (Value& item : v.as_set()) fix(item);
  } else if (v.is_dict() || v.is_object()) {
    Dict& d = v.is_dict() ? v.as_dict() : v.as_object().attributes;
    if (!seen.insert(&d).second) return;
    for (const Value& k : d.keys()) fix(d.at(k));
  }
}

}  // namespace

void parse_class_decls(std::string_view code, const std::string& module_name,
                       const std::string& where, ClassDecls& decls) {
  ClassDecl* current = nullptr;
  size_t pos = 0;
  while (pos < code.size()) {
    size_t nl = code.find('\n', pos);
    if (nl == std::string_view::npos) nl = code.size();
    std::string_view line = code.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.starts_with("class ")) {
      size_t end = line.find_first_of("(:");
      if (end == std::string_view::npos) bad(where, "malformed class line");
      std::string name(line.substr(6, end - 6));
      ClassDecl& d = decls[module_name + "." + name];
      d = ClassDecl{};
      d.module = line.substr(end).starts_with("(Module)");
      current = &d;
    } else if (!line.starts_with(" ")) {
      current = nullptr;
    } else if (current) {
      if (line.starts_with("  __parameters__ = "))
        current->parameters = parse_name_list(line.substr(19), where, "__parameters__");
      else if (line.starts_with("  __buffers__ = "))
        current->buffers = parse_name_list(line.substr(16), where, "__buffers__");
    }
  }
}

Value torchscript_state(const Value& root, const ClassDecls& decls, const std::string& where) {
  if (!root.is_object() || root.as_object().reference)
    bad(where, "a TorchScript archive's data.pkl holds a ", root.type_name(), ", not a module");
  const Object& o = root.as_object();
  if (o.attributes.contains(Value("param_groups")) && o.attributes.contains(Value("state")) &&
      o.attributes.contains(Value("pytorch_version")))
    return optimizer_state(o, where);
  Dict sd(/*ordered=*/true), meta(/*ordered=*/true);
  module_state(o, "", decls, where, sd, meta);
  sd.set_metadata(Value(std::move(meta)));
  return Value(std::move(sd));
}

Value extract_module_state_dicts(const Value& v) {
  if (is_module_record(v)) return module_state_dict(v);
  std::unordered_set<const void*> seen;
  replace_modules(v, seen);
  return v;
}

}  // namespace wick::io::detail
