// Value: the object tree of a checkpoint.
//
// torch.save pickles a Python object; checkpoints use a small part of Python:
// None, bool, int, float, str, bytes, tensors (and nn.Parameter), lists, tuples,
// sets, dicts and OrderedDicts. A Value holds one of these, or an Object: an
// inert record of an instance of a class wick never constructs (the modules
// of a TorchScript archive, or pickled Python objects when a load asks for
// them), holding the class's name and the attributes the file set.
//
// Like a Python object and like wick::Tensor, a Value is a handle: copying it
// shares lists, tuples and dicts, so an object that appears twice in a file (one
// list referenced from two places) stays one object, and editing a dict through
// one handle is visible through every other. Accessors are therefore const and
// still hand out mutable containers, as Tensor's do.
//
//   wick::Value ckpt = wick::load("checkpoint.pt");
//   int64_t epoch = ckpt["epoch"].as_int();
//   wick::Tensor w = ckpt["model_state_dict"]["fc1.weight"].as_tensor();
//   for (const auto& [id, state] : ckpt["optimizer_state_dict"]["state"].as_dict())
//     std::cout << id << ": " << state["momentum_buffer"].as_tensor().sizes() << "\n";
//
//   wick::Dict sd(/*ordered=*/true);
//   sd.set("weight", wick::ones({2, 2}));
//   wick::save(sd, "sd.pt");
//
// Indexing follows Python: v[key] looks a key up in a dict (keys may be strings
// or integers, as in an optimizer's `state`), v[i] indexes a list or tuple.
// Accessors throw wick::Error naming the expected and the actual kind.
#pragma once

#include <concepts>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "wick/core/error.h"
#include "wick/core/tensor.h"

namespace wick {

/// What a Value holds. The names are Python's type names (see kind_name).
enum class ValueKind : uint8_t {
  None,
  Bool,
  Int,
  Float,
  String,
  Bytes,
  Tensor,
  List,
  Tuple,
  Dict,
  Set,
  Object
};

/// Python's name for a kind: "None", "bool", "int", "float", "str", "bytes",
/// "Tensor", "list", "tuple", "dict", "set", "object".
std::string_view kind_name(ValueKind kind);

class Dict;
class Value;
struct Object;

/// The items of a list or tuple.
using List = std::vector<Value>;

class Value {
 public:
  /// None.
  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}
  Value(bool b) : v_(b) {}
  /// An int. Unsigned values above INT64_MAX throw wick::Error.
  template <std::integral I>
  requires(!std::same_as<I, bool>) Value(I i) : v_(checked_int(i)) {}
  Value(double d) : v_(d) {}
  Value(float f) : v_(double(f)) {}
  /// A str (UTF-8).
  Value(std::string s);
  Value(std::string_view s) : Value(std::string(s)) {}
  Value(const char* s) : Value(std::string(s)) {}
  /// A plain tensor (its requires_grad travels with it).
  Value(Tensor t);
  /// A dict; the Dict is shared, not copied.
  Value(Dict d);

  /// A list of `items`.
  static Value list(List items = {});
  /// A tuple of `items`.
  static Value tuple(List items = {});
  /// A bytes object.
  static Value bytes(std::string data);
  /// An nn.Parameter wrapping `t` (pickled with torch._utils._rebuild_parameter).
  static Value parameter(Tensor t);
  /// A set (or a frozenset) of `items`, kept in the order given. Items are not
  /// deduplicated: a set read from a file holds what the file listed.
  static Value set(List items = {}, bool frozen = false);
  /// An Object record of class `type` (dotted, "__torch__.Net").
  static Value object(Object record);

  // ---- kind -----------------------------------------------------------------
  ValueKind kind() const { return ValueKind(v_.index()); }
  bool is_none() const { return kind() == ValueKind::None; }
  bool is_bool() const { return kind() == ValueKind::Bool; }
  bool is_int() const { return kind() == ValueKind::Int; }
  bool is_float() const { return kind() == ValueKind::Float; }
  bool is_string() const { return kind() == ValueKind::String; }
  bool is_bytes() const { return kind() == ValueKind::Bytes; }
  bool is_tensor() const { return kind() == ValueKind::Tensor; }
  bool is_list() const { return kind() == ValueKind::List; }
  bool is_tuple() const { return kind() == ValueKind::Tuple; }
  bool is_dict() const { return kind() == ValueKind::Dict; }
  /// A set or a frozenset.
  bool is_set() const { return kind() == ValueKind::Set; }
  bool is_object() const { return kind() == ValueKind::Object; }
  /// True for a tensor that is an nn.Parameter.
  bool is_parameter() const;
  /// Python's type name of this value: kind_name(), "OrderedDict" for an
  /// ordered dict, "Counter" for a counter, "Parameter" for a parameter,
  /// "frozenset" for a frozen set and an Object's class name for an Object.
  std::string type_name() const;

  // ---- access (throw wick::Error on the wrong kind) -------------------------
  bool as_bool() const;
  int64_t as_int() const;
  /// A float only; see to_double for "any number".
  double as_float() const;
  /// An int, float or bool as a double (Python code often stores 0 for 0.0).
  double to_double() const;
  const std::string& as_string() const;
  const std::string& as_bytes() const;
  const Tensor& as_tensor() const;
  /// The items of a list.
  List& as_list() const;
  /// The items of a tuple.
  List& as_tuple() const;
  /// The items of a list or a tuple.
  List& as_sequence() const;
  Dict& as_dict() const;
  /// The items of a set or frozenset.
  List& as_set() const;
  /// True for a frozenset.
  bool is_frozenset() const;
  Object& as_object() const;

  /// Python's len(): items of a list, tuple, set or dict, bytes of a str or bytes.
  size_t size() const;
  /// Python's `v[key]`: a dict lookup (throws wick::Error naming a missing key)
  /// or, for a list or tuple, the item at an int index (negative counts from
  /// the end).
  Value& operator[](const Value& key) const;
  /// True when this dict has `key`.
  bool contains(const Value& key) const;

  /// True when both are the same object: equal scalars, or the same list, tuple
  /// or dict, or the same tensor handle. (Python's `is`, widened to scalars.)
  bool is(const Value& other) const;

  /// Python's repr, e.g. `{'epoch': 5, 'loss': 0.4, 'w': tensor([1., 2.])}`.
  std::string repr() const;

 private:
  struct Str {
    std::shared_ptr<const std::string> s;
  };
  struct Bytes {
    std::shared_ptr<const std::string> s;
  };
  struct TensorBox {
    Tensor t;
    bool parameter = false;
  };
  struct ListBox {
    std::shared_ptr<List> items;
  };
  struct TupleBox {
    std::shared_ptr<List> items;
  };
  struct SetBox {
    std::shared_ptr<List> items;
    bool frozen = false;
  };
  using Variant =
      std::variant<std::monostate, bool, int64_t, double, Str, Bytes, TensorBox, ListBox, TupleBox,
                   std::shared_ptr<Dict>, SetBox, std::shared_ptr<Object>>;

  template <class I>
  static int64_t checked_int(I i) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(int64_t))
      WICK_CHECK(i <= uint64_t(INT64_MAX), "Value: ", i, " does not fit in a 64-bit int");
    return int64_t(i);
  }
  [[noreturn]] void wrong_kind(std::string_view expected) const;

  Variant v_;
};

/// Prints v.repr().
std::ostream& operator<<(std::ostream& os, const Value& v);

/// A dict that keeps insertion order, as Python's dict and OrderedDict do.
/// Keys are None, bool, int or str (True and 1 are the same key, as in Python).
/// `ordered()` tells a collections.OrderedDict (state_dicts) from a plain dict,
/// and `counter()` a collections.Counter (MultiStepLR's milestones); the three
/// pickle differently. A module state_dict's `_metadata` attribute
/// (per-module versions) is kept in `metadata()`.
class Dict {
 public:
  using Item = std::pair<Value, Value>;

  /// An empty dict; an OrderedDict when `ordered`.
  explicit Dict(bool ordered = false) : ordered_(ordered) {}

  bool ordered() const { return ordered_; }
  void set_ordered(bool ordered) { ordered_ = ordered; }
  /// True for a collections.Counter (never also ordered).
  bool counter() const { return counter_; }
  void set_counter(bool counter) { counter_ = counter; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  /// The value under `key`, or null.
  Value* find(const Value& key);
  const Value* find(const Value& key) const;
  bool contains(const Value& key) const { return find(key) != nullptr; }
  /// The value under `key`; throws wick::Error naming the key if absent.
  Value& at(const Value& key);
  const Value& at(const Value& key) const;
  /// Sets `key` to `value`. A new key goes last; an existing key keeps its
  /// place (as in Python). Throws wick::Error for a key kind dicts do not take.
  void set(Value key, Value value);
  /// Removes `key`; returns whether it was present.
  bool erase(const Value& key);
  void clear();

  /// The items in insertion order.
  const std::vector<Item>& items() const { return items_; }
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }
  /// The keys in insertion order.
  std::vector<Value> keys() const;

  /// The `_metadata` attribute of a module state_dict (an OrderedDict of
  /// module prefix -> {"version": n}), or None.
  const Value& metadata() const { return metadata_; }
  void set_metadata(Value metadata) { metadata_ = std::move(metadata); }

 private:
  std::vector<Item> items_;
  // key -> position in items_, keyed by an encoding of the key (see key_id).
  std::unordered_map<std::string, size_t> index_;
  bool ordered_ = false;
  bool counter_ = false;
  Value metadata_;
};

/// An instance of a class wick does not construct, as a record: the class's
/// dotted name and the attributes the file set on it (its `__dict__`). The
/// modules of a TorchScript archive load as Objects (`__torch__.Net`), and
/// so do the objects of a pickled whole model when the load asks for them
/// (see LoadOptions). Nothing of the class is ever run. An Object that names
/// a class or function without an instance of it (`self.act = F.relu`) is a
/// `reference` with no attributes.
struct Object {
  /// The class's dotted name: "__torch__.Net", "torch.nn.modules.conv.Conv2d".
  std::string type;
  /// The instance's attributes, in the order the file set them.
  Dict attributes;
  /// True when the file names `type` itself rather than an instance of it.
  bool reference = false;
};

/// The leaves of a value tree with their dotted paths, depth first in order:
/// dict keys (a str as it is, other keys as their repr), list, tuple and set
/// indices and Object attribute names are the path's parts, joined by "." —
/// `optimizer_state_dict.state.0.momentum_buffer`, `param_groups.0.betas.1`.
/// Leaves are tensors, scalars, strings, bytes and empty containers; a leaf
/// at the root has the path "". A value reached twice (a shared list) is
/// listed under each path, as Python would walk it.
std::vector<std::pair<std::string, Value>> leaves(const Value& value);

}  // namespace wick
