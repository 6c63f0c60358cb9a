#include "wick/core/value.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ostream>

#include "core/format.h"
#include "core/ordered_index.h"

namespace wick {

std::string_view kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::None:
      return "None";
    case ValueKind::Bool:
      return "bool";
    case ValueKind::Int:
      return "int";
    case ValueKind::Float:
      return "float";
    case ValueKind::String:
      return "str";
    case ValueKind::Bytes:
      return "bytes";
    case ValueKind::Tensor:
      return "Tensor";
    case ValueKind::List:
      return "list";
    case ValueKind::Tuple:
      return "tuple";
    case ValueKind::Dict:
      return "dict";
    case ValueKind::Set:
      return "set";
    case ValueKind::Object:
      return "object";
  }
  return "invalid";
}

namespace {

// Python's repr of a str (bytes = false) or bytes (bytes = true) object.
std::string quoted_repr(const std::string& s, bool bytes) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out = bytes ? "b" : "";
  out += quote;
  for (unsigned char c : s) {
    if (c == '\\' || c == quote) {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  out += quote;
  return out;
}

// The index key of a dict key: True and 1 must collide, as in Python.
std::string key_id(const Value& key) {
  auto as_int = [](int64_t i) {
    std::string s(9, 'i');
    std::memcpy(s.data() + 1, &i, 8);
    return s;
  };
  switch (key.kind()) {
    case ValueKind::None:
      return "n";
    case ValueKind::Bool:
      return as_int(key.as_bool() ? 1 : 0);
    case ValueKind::Int:
      return as_int(key.as_int());
    case ValueKind::String:
      return "s" + key.as_string();
    default:
      throw Error("dict: keys must be None, bool, int or str, not " + key.type_name());
  }
}

}  // namespace

// ---- Value ------------------------------------------------------------------

Value::Value(std::string s) : v_(Str{std::make_shared<const std::string>(std::move(s))}) {}
Value::Value(Tensor t) : v_(TensorBox{std::move(t), false}) {}
Value::Value(Dict d) : v_(std::make_shared<Dict>(std::move(d))) {}

Value Value::list(List items) {
  Value v;
  v.v_ = ListBox{std::make_shared<List>(std::move(items))};
  return v;
}

Value Value::tuple(List items) {
  Value v;
  v.v_ = TupleBox{std::make_shared<List>(std::move(items))};
  return v;
}

Value Value::bytes(std::string data) {
  Value v;
  v.v_ = Bytes{std::make_shared<const std::string>(std::move(data))};
  return v;
}

Value Value::parameter(Tensor t) {
  WICK_CHECK(t.defined(), "Value::parameter: undefined tensor");
  Value v;
  v.v_ = TensorBox{std::move(t), true};
  return v;
}

Value Value::set(List items, bool frozen) {
  Value v;
  v.v_ = SetBox{std::make_shared<List>(std::move(items)), frozen};
  return v;
}

Value Value::object(Object record) {
  Value v;
  v.v_ = std::make_shared<Object>(std::move(record));
  return v;
}

bool Value::is_parameter() const {
  const auto* t = std::get_if<TensorBox>(&v_);
  return t && t->parameter;
}

std::string Value::type_name() const {
  if (is_dict() && as_dict().ordered()) return "OrderedDict";
  if (is_dict() && as_dict().counter()) return "Counter";
  if (is_parameter()) return "Parameter";
  if (is_set() && is_frozenset()) return "frozenset";
  if (is_object()) return as_object().type;
  return std::string(kind_name(kind()));
}

void Value::wrong_kind(std::string_view expected) const {
  throw Error(detail::concat("Value: expected ", expected, ", got ", type_name()));
}

bool Value::as_bool() const {
  if (!is_bool()) wrong_kind("bool");
  return std::get<bool>(v_);
}

int64_t Value::as_int() const {
  if (!is_int()) wrong_kind("int");
  return std::get<int64_t>(v_);
}

double Value::as_float() const {
  if (!is_float()) wrong_kind("float");
  return std::get<double>(v_);
}

double Value::to_double() const {
  switch (kind()) {
    case ValueKind::Float:
      return std::get<double>(v_);
    case ValueKind::Int:
      return double(std::get<int64_t>(v_));
    case ValueKind::Bool:
      return std::get<bool>(v_) ? 1.0 : 0.0;
    default:
      wrong_kind("a number (int, float or bool)");
  }
}

const std::string& Value::as_string() const {
  if (!is_string()) wrong_kind("str");
  return *std::get<Str>(v_).s;
}

const std::string& Value::as_bytes() const {
  if (!is_bytes()) wrong_kind("bytes");
  return *std::get<Bytes>(v_).s;
}

const Tensor& Value::as_tensor() const {
  if (!is_tensor()) wrong_kind("Tensor");
  return std::get<TensorBox>(v_).t;
}

List& Value::as_list() const {
  if (!is_list()) wrong_kind("list");
  return *std::get<ListBox>(v_).items;
}

List& Value::as_tuple() const {
  if (!is_tuple()) wrong_kind("tuple");
  return *std::get<TupleBox>(v_).items;
}

List& Value::as_sequence() const {
  if (is_list()) return *std::get<ListBox>(v_).items;
  if (is_tuple()) return *std::get<TupleBox>(v_).items;
  wrong_kind("list or tuple");
}

Dict& Value::as_dict() const {
  if (!is_dict()) wrong_kind("dict");
  return *std::get<std::shared_ptr<Dict>>(v_);
}

List& Value::as_set() const {
  if (!is_set()) wrong_kind("set");
  return *std::get<SetBox>(v_).items;
}

bool Value::is_frozenset() const {
  return is_set() && std::get<SetBox>(v_).frozen;
}

Object& Value::as_object() const {
  if (!is_object()) wrong_kind("object");
  return *std::get<std::shared_ptr<Object>>(v_);
}

size_t Value::size() const {
  switch (kind()) {
    case ValueKind::String:
      return as_string().size();
    case ValueKind::Bytes:
      return as_bytes().size();
    case ValueKind::List:
    case ValueKind::Tuple:
      return as_sequence().size();
    case ValueKind::Dict:
      return as_dict().size();
    case ValueKind::Set:
      return as_set().size();
    default:
      wrong_kind("str, bytes, list, tuple, set or dict");
  }
}

Value& Value::operator[](const Value& key) const {
  if (is_dict()) return as_dict().at(key);
  if (is_list() || is_tuple()) {
    WICK_CHECK(key.is_int(), type_name(), " indices must be integers, not ", key.type_name());
    List& items = as_sequence();
    int64_t n = int64_t(items.size());
    int64_t i = key.as_int();
    WICK_CHECK_AS(IndexError, i >= -n && i < n, type_name(), " index ", i,
                  " out of range for length ", n);
    return items[size_t(i < 0 ? i + n : i)];
  }
  wrong_kind("dict, list or tuple");
}

bool Value::contains(const Value& key) const {
  return as_dict().contains(key);
}

bool Value::is(const Value& other) const {
  if (kind() != other.kind()) return false;
  switch (kind()) {
    case ValueKind::None:
      return true;
    case ValueKind::Bool:
      return as_bool() == other.as_bool();
    case ValueKind::Int:
      return as_int() == other.as_int();
    case ValueKind::Float:
      return std::bit_cast<uint64_t>(as_float()) == std::bit_cast<uint64_t>(other.as_float());
    case ValueKind::String:
      return as_string() == other.as_string();
    case ValueKind::Bytes:
      return as_bytes() == other.as_bytes();
    case ValueKind::Tensor:
      return as_tensor().is_same(other.as_tensor()) && is_parameter() == other.is_parameter();
    case ValueKind::List:
    case ValueKind::Tuple:
      return &as_sequence() == &other.as_sequence();
    case ValueKind::Dict:
      return &as_dict() == &other.as_dict();
    case ValueKind::Set:
      return &as_set() == &other.as_set();
    case ValueKind::Object:
      return &as_object() == &other.as_object();
  }
  return false;
}

namespace {

// Appends v's repr to `out`: containers append their items in place, so a
// nested value costs its own length, not its length times its depth.
void repr_into(const Value& v, std::string& out) {
  switch (v.kind()) {
    case ValueKind::None:
      out += "None";
      return;
    case ValueKind::Bool:
      out += v.as_bool() ? "True" : "False";
      return;
    case ValueKind::Int:
      out += std::to_string(v.as_int());
      return;
    case ValueKind::Float:
      out += wick::detail::python_float_repr(v.as_float(), true);
      return;
    case ValueKind::String:
      out += quoted_repr(v.as_string(), false);
      return;
    case ValueKind::Bytes:
      out += quoted_repr(v.as_bytes(), true);
      return;
    case ValueKind::Tensor:
      if (v.is_parameter()) out += "Parameter containing:\n";
      out += v.as_tensor().repr();
      return;
    case ValueKind::List:
    case ValueKind::Tuple: {
      const List& items = v.as_sequence();
      out += v.is_list() ? "[" : "(";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        repr_into(items[i], out);
      }
      if (v.is_tuple() && items.size() == 1) out += ",";
      out += v.is_list() ? "]" : ")";
      return;
    }
    case ValueKind::Dict: {
      const Dict& d = v.as_dict();
      if (d.counter())
        out += d.empty() ? "Counter(" : "Counter({";
      else if (d.ordered())
        out += d.empty() ? "OrderedDict(" : "OrderedDict([";
      else
        out += "{";
      bool first = true;
      for (const auto& [k, x] : d) {
        out += first ? "" : ", ";
        first = false;
        if (d.ordered()) out += '(';
        repr_into(k, out);
        out += d.ordered() ? ", " : ": ";
        repr_into(x, out);
        if (d.ordered()) out += ')';
      }
      if (d.counter())
        out += d.empty() ? ")" : "})";
      else if (d.ordered())
        out += d.empty() ? ")" : "])";
      else
        out += "}";
      return;
    }
    case ValueKind::Set: {
      const List& items = v.as_set();
      const bool frozen = v.is_frozenset();
      if (items.empty()) {
        out += frozen ? "frozenset()" : "set()";
        return;
      }
      out += frozen ? "frozenset({" : "{";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        repr_into(items[i], out);
      }
      out += frozen ? "})" : "}";
      return;
    }
    case ValueKind::Object: {
      // Not Python's repr (which the class defines): the record itself.
      const Object& o = v.as_object();
      if (o.reference) {
        out += "<" + o.type + ">";
        return;
      }
      out += o.type + "(";
      bool first = true;
      for (const auto& [k, x] : o.attributes) {
        out += first ? "" : ", ";
        first = false;
        if (k.is_string())
          out += k.as_string();
        else
          repr_into(k, out);
        out += "=";
        repr_into(x, out);
      }
      out += ")";
      return;
    }
  }
  out += "?";
}

}  // namespace

std::string Value::repr() const {
  std::string out;
  repr_into(*this, out);
  return out;
}

std::ostream& operator<<(std::ostream& os, const Value& v) {
  return os << v.repr();
}

// ---- Dict -------------------------------------------------------------------

Value* Dict::find(const Value& key) {
  auto it = index_.find(key_id(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

const Value* Dict::find(const Value& key) const {
  return const_cast<Dict*>(this)->find(key);
}

Value& Dict::at(const Value& key) {
  Value* v = find(key);
  if (!v) {
    std::string known;
    for (size_t i = 0; i < items_.size() && i < 8; ++i)
      known += (i ? ", " : "") + items_[i].first.repr();
    if (items_.size() > 8) known += ", ...";
    throw Error("dict: no key " + key.repr() + " (keys: " + known + ")");
  }
  return *v;
}

const Value& Dict::at(const Value& key) const {
  return const_cast<Dict*>(this)->at(key);
}

void Dict::set(Value key, Value value) {
  auto [it, inserted] = index_.try_emplace(key_id(key), items_.size());
  if (inserted)
    items_.emplace_back(std::move(key), std::move(value));
  else
    items_[it->second].second = std::move(value);
}

bool Dict::erase(const Value& key) {
  auto it = index_.find(key_id(key));
  if (it == index_.end()) return false;
  detail::erase_ordered(index_, items_, it);
  return true;
}

void Dict::clear() {
  items_.clear();
  index_.clear();
}

std::vector<Value> Dict::keys() const {
  std::vector<Value> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(k);
  return out;
}

namespace {

void leaves_into(const Value& v, const std::string& path, size_t depth,
                 std::vector<std::pair<std::string, Value>>& out) {
  // Trees from files are bounded by the loader's max_depth; values built in
  // code could still contain themselves.
  WICK_CHECK(depth < 10000, "leaves: value nested deeper than 10000 levels at '", path, "'");
  auto child = [&](const std::string& part) { return path.empty() ? part : path + "." + part; };
  if ((v.is_list() || v.is_tuple() || v.is_set()) && v.size() > 0) {
    const List& items = v.is_set() ? v.as_set() : v.as_sequence();
    for (size_t i = 0; i < items.size(); ++i)
      leaves_into(items[i], child(std::to_string(i)), depth + 1, out);
  } else if ((v.is_dict() && v.size() > 0) ||
             (v.is_object() && !v.as_object().attributes.empty())) {
    for (const auto& [k, x] : v.is_dict() ? v.as_dict() : v.as_object().attributes)
      leaves_into(x, child(k.is_string() ? k.as_string() : k.repr()), depth + 1, out);
  } else {
    out.emplace_back(path, v);
  }
}

}  // namespace

std::vector<std::pair<std::string, Value>> leaves(const Value& value) {
  std::vector<std::pair<std::string, Value>> out;
  leaves_into(value, "", 0, out);
  return out;
}

}  // namespace wick
