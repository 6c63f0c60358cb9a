// The safe unpickler (docs/formats.md §2.2–2.9). Every operand read is bounds
// checked, every declared length is checked against the bytes that remain
// before anything is allocated, and the only "calls" are the handlers below for
// allow-listed globals.
//
// Shared containers: a list, tuple or dict fetched from the memo (BINGET) is
// frozen - appending to it or setting items in it afterwards is an error. Python
// writes a shared container whole before it refers to it again, so checkpoints
// never need that, and it guarantees that a hostile file cannot build a cycle
// (which would leak, and hang whoever walks the tree) or make a container deeper
// than the depth recorded for it.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "io/pickle.h"
#include "wick/core/tensor.h"

namespace wick::io::detail {

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0)
      len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
      len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
      len = 4, cp = c & 0x07;
    else
      return false;
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff) return false;
    i += len;
  }
  return true;
}

namespace {

// The allow-listed globals, resolved to what wick does with them.
enum class Global : uint8_t {
  OrderedDict,
  Counter,          // collections.Counter, called with one dict
  RebuildTensor,    // torch._utils._rebuild_tensor (storage, offset, size, stride)
  RebuildTensorV2,  // ... + requires_grad, hooks[, metadata]
  RebuildTensorV3,  // ... + requires_grad, hooks, dtype[, metadata]
  RebuildParameter,
  RebuildParameterWithState,
  ParameterClass,  // torch.nn.parameter.Parameter, for NEWOBJ
  Size,            // torch.Size
  Encode,          // _codecs.encode (bytes in protocol 2)
  Bytes,           // builtins.bytes, called with () for b'' by protocol 2
  TypedStorage,    // torch.FloatStorage etc.; `dtype` says which
  UntypedStorage,  // torch.storage.UntypedStorage
  DTypeValue,      // torch.float32 etc.
  Set,             // builtins.set / frozenset, called with one list (protocol 2)
  FrozenSet,
  ByteArray,   // builtins.bytearray, called with bytes or nothing
  JitList,     // torch.jit._pickle.build_*list: returns its list
  JitTypeTag,  // torch.jit._pickle.restore_type_tag: returns its value
  Class,       // a class or function recorded, never called (Records)
};

struct GlobalObj {
  Global id;
  DType dtype = DType::Float32;
  std::string name;  // module.name, for messages
};

struct StorageObj {
  std::shared_ptr<Storage> storage;
  std::optional<DType> dtype;
  std::string key;
};

struct ObjTuple;

// A stack or memo entry: a value, or one of the objects that only exist while
// unpickling (a callable global, a storage, and a tuple holding either - the
// persistent id holds a storage class, a tensor's arguments hold its storage).
using Obj = std::variant<Value, GlobalObj, StorageObj, std::shared_ptr<ObjTuple>>;

struct ObjTuple {
  std::vector<Obj> items;
  size_t depth = 1;
  uint64_t weight = 1;
};

struct StorageClass {
  const char* name;
  DType dtype;
};

// clang-format off
constexpr StorageClass kStorageClasses[] = {
    {"FloatStorage", DType::Float32}, {"DoubleStorage", DType::Float64},
    {"HalfStorage", DType::Float16},  {"BFloat16Storage", DType::BFloat16},
    {"CharStorage", DType::Int8},     {"ShortStorage", DType::Int16},
    {"IntStorage", DType::Int32},     {"LongStorage", DType::Int64},
    {"ByteStorage", DType::UInt8},    {"BoolStorage", DType::Bool},
    {"ComplexFloatStorage", DType::Complex64}, {"ComplexDoubleStorage", DType::Complex128}};

// Names torch's weights-only loader accepts but wick cannot represent; they get
// a message saying so instead of "not allowed".
constexpr const char* kTorchOnly[] = {
    "torch.device", "builtins.complex",
    "torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass", "torch._tensor._rebuild_from_type_v2",
    "torch.serialization._get_layout", "torch.Tensor", "torch.storage.TypedStorage",
    "torch.QInt8Storage", "torch.QUInt8Storage", "torch.QInt32Storage", "torch.QUInt4x2Storage",
    "torch.QUInt2x4Storage", "torch.ComplexHalfStorage"};

// torch dtypes wick has no counterpart for.
constexpr const char* kDTypeOnlyInTorch[] = {
    "float8_e8m0fnu", "float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2",
    "quint8", "qint8", "qint32", "quint4x2", "quint2x4", "int1", "int2", "int3", "int4", "int5",
    "int6", "int7", "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7"};

struct OpName {
  uint8_t op;
  const char* name;
};
constexpr OpName kOpNames[] = {
    {0x80, "PROTO"}, {'.', "STOP"}, {'(', "MARK"}, {'}', "EMPTY_DICT"}, {']', "EMPTY_LIST"},
    {')', "EMPTY_TUPLE"}, {0x8f, "EMPTY_SET"}, {'t', "TUPLE"}, {0x85, "TUPLE1"},
    {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {'s', "SETITEM"}, {'u', "SETITEMS"}, {'a', "APPEND"},
    {'e', "APPENDS"}, {'K', "BININT1"}, {'M', "BININT2"}, {'J', "BININT"}, {0x8a, "LONG1"},
    {0x8b, "LONG4"}, {'G', "BINFLOAT"}, {'X', "BINUNICODE"}, {'U', "SHORT_BINSTRING"},
    {'N', "NONE"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {'q', "BINPUT"},
    {'r', "LONG_BINPUT"}, {'h', "BINGET"}, {'j', "LONG_BINGET"}, {'c', "GLOBAL"},
    {'R', "REDUCE"}, {'b', "BUILD"}, {0x81, "NEWOBJ"}, {0x92, "NEWOBJ_EX"}, {'Q', "BINPERSID"},
    {'P', "PERSID"}, {'i', "INST"}, {'o', "OBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"},
    {0x84, "EXT4"}, {0x95, "FRAME"}, {0x94, "MEMOIZE"}, {0x93, "STACK_GLOBAL"},
    {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {'2', "DUP"},
    {'0', "POP"}, {'1', "POP_MARK"}, {'l', "LIST"}, {'d', "DICT"}, {'I', "INT"},
    {'L', "LONG"}, {'F', "FLOAT"}, {'S', "STRING"}, {'V', "UNICODE"}, {'g', "GET"},
    {'p', "PUT"}, {'T', "BINSTRING"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
    {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x96, "BYTEARRAY8"}, {0x97, "NEXT_BUFFER"},
    {0x98, "READONLY_BUFFER"}};
// clang-format on

const char* opcode_name(uint8_t op) {
  for (const auto& o : kOpNames)
    if (o.op == op) return o.name;
  return "unknown opcode";
}

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> data, const StorageResolver& resolve,
            const UnpickleOptions& options)
      : p_(reinterpret_cast<const uint8_t*>(data.data())),
        n_(data.size()),
        resolve_(resolve),
        opt_(options) {
    // Sized up front from the pickle's length (a container or memo entry
    // takes at least two bytes of it; capped so a hostile size claims
    // nothing): rehashing large node maps costs more than the entries.
    const size_t expected = std::min<size_t>(n_ / 16, size_t(1) << 20);
    memo_.reserve(expected);
    info_.reserve(expected);
  }

  ~Unpickler() {
    // On failure, break any half-built structure apart so nothing outlives us
    // in a cycle (see the file comment: the frozen rule prevents cycles, this
    // is belt and braces for the error path).
    if (!done_)
      for (auto& [i, obj] : memo_) clear_container(obj);
  }

  Value run(size_t* end) {
    while (true) {
      op_pos_ = pos_;
      op_ = u8();
      if (step()) break;
    }
    if (end) *end = pos_;
    done_ = true;
    return std::move(result_);
  }

 private:
  // ---- errors and reading ---------------------------------------------------
  [[noreturn]] void fail(const std::string& msg) const {
    throw FormatError(
        concat(opt_.what, ": ", msg, " (", opcode_name(op_), " at byte ", op_pos_, ")"));
  }
  template <class... A>
  static std::string concat(A&&... a) {
    return wick::detail::concat(std::forward<A>(a)...);
  }

  void need(size_t k) {
    if (k > n_ - pos_) {
      if (pos_ == op_pos_) {  // the opcode itself is missing
        op_ = 0;
        throw FormatError(
            concat(opt_.what, ": truncated: no STOP opcode before the end (", n_, " bytes)"));
      }
      fail(concat("truncated: needs ", k, " more bytes, only ", n_ - pos_, " left"));
    }
  }
  uint8_t u8() {
    need(1);
    return p_[pos_++];
  }
  uint64_t uint_le(size_t k) {
    need(k);
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i) v |= uint64_t(p_[pos_ + i]) << (8 * i);
    pos_ += k;
    return v;
  }
  // The length operand of a string or bytes opcode: 1, 4 or 8 bytes.
  size_t length_operand() {
    switch (op_) {
      case 'U':
      case 'C':
      case 0x8c:
        return u8();
      case 0x8d:
      case 0x8e:
      case 0x96: {
        const uint64_t k = uint_le(8);
        need(size_t(std::min<uint64_t>(k, SIZE_MAX)));
        return size_t(k);
      }
      default:
        return size_t(uint_le(4));
    }
  }
  std::string bytes(size_t k) {
    need(k);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), k);
    pos_ += k;
    return s;
  }
  std::string line() {
    const void* nl = std::memchr(p_ + pos_, '\n', n_ - pos_);
    if (!nl) fail("truncated: GLOBAL operand has no newline");
    size_t k = size_t(static_cast<const uint8_t*>(nl) - (p_ + pos_));
    std::string s = bytes(k);
    ++pos_;
    return s;
  }

  // ---- stack ----------------------------------------------------------------
  size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
  size_t avail() const { return stack_.size() - base(); }
  void require(size_t k) {
    if (avail() < k) fail(concat("needs ", k, " item(s) on the stack, has ", avail()));
  }
  Obj pop() {
    require(1);
    Obj o = std::move(stack_.back());
    stack_.pop_back();
    return o;
  }
  size_t pop_mark() {
    if (marks_.empty()) fail("no MARK to close");
    size_t m = marks_.back();
    marks_.pop_back();
    return m;
  }
  void push(Obj o) { stack_.push_back(std::move(o)); }

  // The value an entry holds; globals and storages cannot go into containers.
  Value as_value(Obj&& o, const char* role) const {
    if (auto* v = std::get_if<Value>(&o)) return std::move(*v);
    if (auto* g = std::get_if<GlobalObj>(&o)) {
      // With records on, a class or function named as a value (a module's
      // `self.act = F.relu`) is recorded by name.
      if (opt_.records == Records::Any || (opt_.records != Records::None && g->id == Global::Class))
        return Value::object(Object{g->name, Dict(), true});
      if (g->id == Global::DTypeValue)
        fail(concat("a torch.dtype value (", g->name, ") as ", role,
                    " is not supported in wick values"));
      fail(concat("the global ", g->name, " used as ", role, " without being called"));
    }
    if (auto* t = std::get_if<std::shared_ptr<ObjTuple>>(&o))
      for (Obj& item : (*t)->items)
        if (!std::holds_alternative<Value>(item)) return as_value(Obj(item), role);
    fail(concat("a bare storage used as ", role, " (only tensors are supported)"));
  }

  // ---- containers: depth and sharing ----------------------------------------
  // depth: levels of nesting below; weight: nodes a walk of the tree visits,
  // counting shared sub-trees once per reference (bounded, so that a small file
  // cannot expand into an exponential tree through repeated references).
  struct Info {
    size_t depth = 1;
    bool frozen = false;
    uint64_t weight = 1;
  };
  uint64_t max_weight() const { return std::max<uint64_t>(uint64_t(n_) * 16, 1u << 20); }
  // What is tracked of a value: a scalar has depth 0 and weight 1, a
  // container not seen yet (a fresh one) depth 1 and weight 1.
  Info info_of(const Value& v) const {
    const void* id = container_id(v);
    if (!id) return Info{0, false, 1};
    auto it = info_.find(id);
    return it == info_.end() ? Info{} : it->second;
  }
  Info info_of(const Obj& o) const {
    if (auto* v = std::get_if<Value>(&o)) return info_of(*v);
    if (auto* t = std::get_if<std::shared_ptr<ObjTuple>>(&o))
      return Info{(*t)->depth, false, (*t)->weight};
    return Info{0, false, 1};
  }
  template <class X>
  uint64_t weight_of(const X& x) const {
    return info_of(x).weight;
  }
  template <class X>
  size_t depth_of(const X& x) const {
    return info_of(x).depth;
  }
  void check_weight(uint64_t w) const {
    if (w > max_weight())
      fail(concat("the value tree expands to more than ", max_weight(),
                  " nodes through repeated references to shared containers"));
  }
  // Calls that copy or scan an existing container (a shared one can be passed
  // again and again) spend from one budget of the pickle's size in items (at
  // least 2^20), so that such repeats cost the file's size, not its square.
  void spend(uint64_t items) {
    const uint64_t budget = std::max<uint64_t>(n_, 1u << 20);
    copied_ += items;
    if (copied_ > budget)
      fail(concat("the file copies more than ", budget,
                  " container items through repeated references to shared containers"));
  }
  static const void* container_id(const Value& v) {
    if (v.is_list() || v.is_tuple()) return &v.as_sequence();
    if (v.is_dict()) return &v.as_dict();
    if (v.is_set()) return &v.as_set();
    if (v.is_object()) return &v.as_object();
    return nullptr;
  }
  void track(const Value& v, size_t depth, uint64_t weight = 1) {
    if (depth > opt_.max_depth) fail(concat("nesting deeper than ", opt_.max_depth, " levels"));
    check_weight(weight);
    // A fresh container may reuse a dead one's address: reset, not update.
    info_[container_id(v)] = Info{depth, false, weight};
  }
  // Called before putting `child` into container `target`.
  void grow(const Value& target, const Value& child, const char* what) {
    Info& in = info_[container_id(target)];
    if (in.frozen)
      fail(concat(what, " into a ", target.type_name(),
                  " that was already referenced again through the memo"));
    size_t d = depth_of(child) + 1;
    if (d > opt_.max_depth) fail(concat("nesting deeper than ", opt_.max_depth, " levels"));
    in.depth = std::max(in.depth, d);
    in.weight += weight_of(child);
    check_weight(in.weight);
  }
  static void clear_container(Obj& o) {
    Value* v = std::get_if<Value>(&o);
    if (!v) return;
    if (v->is_list() || v->is_tuple()) v->as_sequence().clear();
    if (v->is_dict()) v->as_dict().clear();
    if (v->is_set()) v->as_set().clear();
    if (v->is_object()) v->as_object().attributes.clear();
  }

  // The dict that SETITEM(S) fills, or the list that APPEND(S) fills: it
  // sits `below` entries under the top of the stack.
  Value& target(size_t below, ValueKind kind) {
    const char* what = kind == ValueKind::Dict ? "dict" : kind == ValueKind::Set ? "set" : "list";
    if (stack_.size() < below + 1 || stack_.size() - below - 1 < base())
      fail(concat("no ", what, " on the stack to ",
                  kind == ValueKind::Dict ? "set items in" : "add to"));
    Obj& o = stack_[stack_.size() - below - 1];
    auto* v = std::get_if<Value>(&o);
    if (!v || v->kind() != kind || v->is_frozenset())
      fail(concat(kind == ValueKind::Dict   ? "setting items in a "
                  : kind == ValueKind::List ? "appending to a "
                                            : "adding to a ",
                  v ? v->type_name() : std::string("non-value"), " (only a ", what,
                  kind == ValueKind::Dict ? " takes items)" : " takes them)"));
    return *v;
  }
  void set_item(Value& dict, Obj&& key, Obj&& value) {
    Value k = as_value(std::move(key), "a dict key");
    Value v = as_value(std::move(value), "a dict value");
    if (!(k.is_string() || k.is_int() || k.is_bool() || k.is_none()))
      fail(concat("dict key of type ", k.type_name(), " (wick dicts take str, int, bool or None)"));
    grow(dict, v, "setting an item");
    dict.as_dict().set(std::move(k), std::move(v));
  }
  Obj make_tuple(size_t from) {
    size_t depth = 1;
    uint64_t weight = 1;
    bool values = true;
    for (size_t i = from; i < stack_.size(); ++i) {
      depth = std::max(depth, depth_of(stack_[i]) + 1);
      weight += weight_of(stack_[i]);  // each term is bounded, so this cannot wrap
      values = values && std::holds_alternative<Value>(stack_[i]);
    }
    if (depth > opt_.max_depth) fail(concat("nesting deeper than ", opt_.max_depth, " levels"));
    check_weight(weight);
    if (!values) {
      auto t = std::make_shared<ObjTuple>();
      t->items.assign(std::make_move_iterator(stack_.begin() + std::ptrdiff_t(from)),
                      std::make_move_iterator(stack_.end()));
      t->depth = depth;
      t->weight = weight;
      stack_.resize(from);
      return t;
    }
    List items;
    items.reserve(stack_.size() - from);
    for (size_t i = from; i < stack_.size(); ++i)
      items.push_back(std::get<Value>(std::move(stack_[i])));
    stack_.resize(from);
    Value t = Value::tuple(std::move(items));
    track(t, depth, weight);
    return t;
  }
  // The items of a tuple entry, values or not.
  std::vector<Obj> tuple_items(const Obj& o, const char* what) {
    if (auto* t = std::get_if<std::shared_ptr<ObjTuple>>(&o)) {
      spend((*t)->items.size());
      return (*t)->items;
    }
    auto* v = std::get_if<Value>(&o);
    if (!v || !v->is_tuple()) fail(concat(what, " is not a tuple"));
    spend(v->as_tuple().size());
    return std::vector<Obj>(v->as_tuple().begin(), v->as_tuple().end());
  }

  // ---- memo -----------------------------------------------------------------
  void put(uint32_t index) {
    require(1);
    if (memo_.size() >= opt_.max_memo && !memo_.count(index))
      fail(concat("more than ", opt_.max_memo, " memo entries"));
    memo_[index] = stack_.back();
  }
  void get(uint32_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail(concat("memo index ", index, " was never set"));
    if (auto* v = std::get_if<Value>(&it->second))
      if (const void* id = container_id(*v)) info_[id].frozen = true;
    push(it->second);
  }

  // ---- globals --------------------------------------------------------------
  GlobalObj resolve_global(std::string module, const std::string& name) {
    if (module == "__builtin__") module = "builtins";
    std::string full = module + "." + name;
    auto found = [&](Global id, DType dt = DType::Float32) { return GlobalObj{id, dt, full}; };
    if (full == "collections.OrderedDict") return found(Global::OrderedDict);
    if (full == "collections.Counter") return found(Global::Counter);
    if (module == "torch._utils") {
      if (name == "_rebuild_tensor") return found(Global::RebuildTensor);
      if (name == "_rebuild_tensor_v2") return found(Global::RebuildTensorV2);
      if (name == "_rebuild_tensor_v3") return found(Global::RebuildTensorV3);
      if (name == "_rebuild_parameter") return found(Global::RebuildParameter);
      if (name == "_rebuild_parameter_with_state") return found(Global::RebuildParameterWithState);
    }
    if (full == "torch.nn.parameter.Parameter") return found(Global::ParameterClass);
    if (full == "torch.Size") return found(Global::Size);
    if (full == "_codecs.encode") return found(Global::Encode);
    if (full == "builtins.bytes") return found(Global::Bytes);
    if (full == "torch.storage.UntypedStorage" || full == "torch.UntypedStorage")
      return found(Global::UntypedStorage);
    if (module == "torch") {
      for (const auto& c : kStorageClasses)
        if (name == c.name) return found(Global::TypedStorage, c.dtype);
      for (const char* d : kDTypeOnlyInTorch)
        if (name == d) {
          const std::string_view hint = writer_hint(full);
          fail(concat("the dtype ", full, " is not supported by wick",
                      hint.empty() ? "" : " - it is typically ", hint));
        }
      // clang-format off
      static constexpr const char* kDTypes[] = {
          "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int8",
          "int16", "short", "int32", "int", "int64", "long", "uint8", "bool", "complex64",
          "cfloat", "complex128", "cdouble", "uint16", "uint32", "uint64", "float8_e4m3fn",
          "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "complex32", "chalf"};
      // clang-format on
      for (const char* d : kDTypes)
        if (name == d) return found(Global::DTypeValue, dtype_from_name(name));
    }
    if (full == "builtins.set") return found(Global::Set);
    if (full == "builtins.frozenset") return found(Global::FrozenSet);
    if (full == "builtins.bytearray") return found(Global::ByteArray);
    const bool torchscript_class = module == "__torch__" || module.starts_with("__torch__.");
    if (opt_.records != Records::None && torchscript_class) return found(Global::Class);
    if (opt_.records == Records::TorchScript && module == "torch.jit._pickle") {
      if (name == "build_intlist" || name == "build_doublelist" || name == "build_boollist" ||
          name == "build_tensorlist")
        return found(Global::JitList);
      if (name == "restore_type_tag") return found(Global::JitTypeTag);
    }
    const std::string_view hint = writer_hint(full);
    auto with_hint = [&](std::string msg) {
      return hint.empty() ? msg : concat(msg, " - it is typically ", hint);
    };
    for (const char* t : kTorchOnly)
      if (full == t)
        fail(with_hint(concat("the global '", full,
                              "' is allowed by torch's weights-only loader but not supported by "
                              "wick")));
    if (opt_.records == Records::Any) return found(Global::Class);
    if (torchscript_class)
      fail(concat("the TorchScript class '", printable(full, Printable::Ascii),
                  "' outside a TorchScript archive's data.pkl"));
    if (!hint.empty())
      fail(concat("unsupported global '", printable(full, Printable::Ascii),
                  "': wick loads only tensors, storages, OrderedDicts and plain values, as "
                  "torch.load(weights_only=True) does - it is typically ",
                  hint));
    bool looks_like_class = !name.empty() && name[0] >= 'A' && name[0] <= 'Z';
    if (module == "__main__" || module.starts_with("torch.nn.") ||
        (looks_like_class && !module.starts_with("builtins")))
      fail(concat("the file holds a pickled Python object of class '",
                  printable(full, Printable::Ascii),
                  "', not only tensors and containers - was a whole model saved with "
                  "torch.save(model)? Save model.state_dict() instead and load that"));
    fail(concat("unsupported global '", printable(full, Printable::Ascii),
                "': wick loads only tensors, storages, OrderedDicts and plain values, as "
                "torch.load(weights_only=True) does"));
  }

  // ---- reduce handlers ------------------------------------------------------
  static const char* arg_name(Global g, size_t i) {
    static const char* tensor_args[] = {"storage",        "storage_offset", "size",
                                        "stride",         "requires_grad",  "backward_hooks",
                                        "dtype/metadata", "metadata"};
    static const char* param_args[] = {"data", "requires_grad", "backward_hooks", "state"};
    if (g == Global::RebuildParameter || g == Global::RebuildParameterWithState ||
        g == Global::ParameterClass)
      return i < 4 ? param_args[i] : "extra";
    return i < 8 ? tensor_args[i] : "extra";
  }

  const Value& value_arg(const GlobalObj& g, const std::vector<Obj>& args, size_t i) {
    auto* v = std::get_if<Value>(&args[i]);
    if (!v) fail(concat(g.name, ": argument ", arg_name(g.id, i), " has the wrong type"));
    return *v;
  }
  // Argument i, which must be of `kind` ("must be an int, not str").
  const Value& kind_arg(const GlobalObj& g, const std::vector<Obj>& args, size_t i,
                        ValueKind kind) {
    const Value& v = value_arg(g, args, i);
    if (v.kind() != kind)
      fail(concat(g.name, ": argument ", arg_name(g.id, i), " must be ",
                  kind == ValueKind::Int ? "an " : "a ", kind_name(kind), ", not ", v.type_name()));
    return v;
  }
  int64_t int_arg(const GlobalObj& g, const std::vector<Obj>& args, size_t i) {
    return kind_arg(g, args, i, ValueKind::Int).as_int();
  }
  Shape shape_arg(const GlobalObj& g, const std::vector<Obj>& args, size_t i) {
    const Value& v = kind_arg(g, args, i, ValueKind::Tuple);
    spend(v.as_tuple().size());
    Shape s;
    for (const Value& x : v.as_tuple()) {
      if (!x.is_int())
        fail(concat(g.name, ": argument ", arg_name(g.id, i), " holds a ", x.type_name()));
      s.push_back(x.as_int());
    }
    return s;
  }
  bool bool_arg(const GlobalObj& g, const std::vector<Obj>& args, size_t i) {
    return kind_arg(g, args, i, ValueKind::Bool).as_bool();
  }
  void check_empty_dict_arg(const GlobalObj& g, const std::vector<Obj>& args, size_t i) {
    const Value& v = kind_arg(g, args, i, ValueKind::Dict);
    // Backward hooks are dropped by torch too (with a warning); lazy conj/neg
    // bits and Parameter attributes are state wick cannot hold.
    if (!v.as_dict().empty() && std::string_view(arg_name(g.id, i)) != "backward_hooks")
      fail(concat(g.name, ": non-empty ", arg_name(g.id, i), " ", v.repr(),
                  " is not supported by wick"));
  }

  // A tensor over `s`; make_tensor checks that the view stays inside the
  // storage, and its message gets the global's and the storage's names.
  Value rebuild_tensor(const GlobalObj& g, const StorageObj& s, DType dtype, int64_t offset,
                       const Shape& sizes, const Shape& strides) {
    try {
      return Value(make_tensor(s.storage, dtype, sizes, strides, offset));
    } catch (const Error& e) {
      fail(concat(g.name, " over storage '", s.key, "': ", e.what()));
    }
  }

  Obj call(const GlobalObj& g, const std::vector<Obj>& args) {
    auto arity = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi)
        fail(concat(g.name, " takes ", lo == hi ? concat(lo) : concat(lo, " to ", hi),
                    " arguments, got ", args.size()));
    };
    switch (g.id) {
      case Global::OrderedDict: {
        arity(0, 0);
        Value d{Dict(true)};
        track(d, 1);
        return d;
      }
      case Global::Counter: {
        // Counter.__reduce__ gives (Counter, (dict(self),)): copy that dict.
        arity(0, 1);
        Value d{Dict()};
        d.as_dict().set_counter(true);
        if (args.empty()) {
          track(d, 1);
          return d;
        }
        const Value* items = std::get_if<Value>(&args[0]);
        if (!items || !items->is_dict() || items->as_dict().ordered() || items->as_dict().counter())
          fail(concat(g.name, ": argument must be a dict"));
        track(d, depth_of(*items), weight_of(*items));
        spend(items->as_dict().size());
        for (const auto& [k, v] : items->as_dict()) d.as_dict().set(k, v);
        return d;
      }
      case Global::RebuildTensor:
      case Global::RebuildTensorV2:
      case Global::RebuildTensorV3: {
        size_t lo = g.id == Global::RebuildTensor ? 4 : g.id == Global::RebuildTensorV2 ? 6 : 7;
        arity(lo, lo + (g.id == Global::RebuildTensor ? 0 : 1));
        auto* s = std::get_if<StorageObj>(&args[0]);
        if (!s) fail(concat(g.name, ": argument storage is not a storage"));
        DType dtype;
        if (g.id == Global::RebuildTensorV3) {
          auto* dt = std::get_if<GlobalObj>(&args[6]);
          if (!dt || dt->id != Global::DTypeValue)
            fail(concat(g.name, ": argument dtype must be a torch dtype"));
          dtype = dt->dtype;
          if (s->dtype && *s->dtype != dtype)
            fail(concat(g.name, ": dtype ", dtype, " differs from storage '", s->key, "' (",
                        *s->dtype, ")"));
        } else {
          if (!s->dtype)
            fail(concat(g.name, ": an untyped storage needs _rebuild_tensor_v3 and a dtype"));
          dtype = *s->dtype;
        }
        int64_t offset = int_arg(g, args, 1);
        Shape sizes = shape_arg(g, args, 2);
        Shape strides = shape_arg(g, args, 3);
        bool requires_grad = false;
        if (g.id != Global::RebuildTensor) {
          requires_grad = bool_arg(g, args, 4);
          check_empty_dict_arg(g, args, 5);
          if (args.size() == lo + 1) check_empty_dict_arg(g, args, lo);
        }
        // A typed bool storage was checked when it was read; an untyped one
        // viewed as bool is checked here (any byte but 0 or 1 is undefined
        // behaviour as a C++ bool).
        if (dtype == DType::Bool && !s->dtype && bool_checked_.insert(s->storage.get()).second) {
          const std::byte* p = s->storage->data();
          for (size_t i = 0, n = s->storage->nbytes(); i < n; ++i)
            if (uint8_t(p[i]) > 1)
              fail(concat(g.name, ": untyped storage '", s->key, "' viewed as bool holds byte ",
                          int(p[i]), " at ", i, " (bools must be 0 or 1)"));
        }
        Value t = rebuild_tensor(g, *s, dtype, offset, sizes, strides);
        if (requires_grad) set_requires_grad(g, t.as_tensor());
        return t;
      }
      case Global::RebuildParameter:
      case Global::RebuildParameterWithState:
      case Global::ParameterClass: {
        if (g.id == Global::RebuildParameter)
          arity(3, 3);
        else if (g.id == Global::RebuildParameterWithState)
          arity(4, 4);
        else
          arity(1, 2);
        const Value& data = value_arg(g, args, 0);
        if (!data.is_tensor() || data.is_parameter())
          fail(concat(g.name, ": argument data must be a tensor, not ", data.type_name()));
        bool requires_grad = args.size() > 1 ? bool_arg(g, args, 1) : true;
        if (args.size() > 2) check_empty_dict_arg(g, args, 2);
        if (args.size() > 3) check_empty_dict_arg(g, args, 3);
        // torch's Parameter is a new tensor object over the same data.
        Tensor p = data.as_tensor().detach();
        if (requires_grad) set_requires_grad(g, p);
        return Value::parameter(p);
      }
      case Global::Size: {
        arity(1, 1);
        const Value& v = value_arg(g, args, 0);
        if (!v.is_tuple() && !v.is_list())
          fail(concat(g.name, ": argument must be a tuple of ints"));
        spend(v.as_sequence().size());
        for (const Value& x : v.as_sequence())
          if (!x.is_int()) fail(concat(g.name, ": argument must be a tuple of ints"));
        Value t = Value::tuple(v.as_sequence());
        track(t, 2, 1 + t.as_tuple().size());
        return t;
      }
      case Global::Encode: {
        arity(2, 2);
        const Value& text = value_arg(g, args, 0);
        const Value& enc = value_arg(g, args, 1);
        if (!text.is_string() || !enc.is_string() ||
            (enc.as_string() != "latin1" && enc.as_string() != "latin-1"))
          fail(concat(g.name, ": only encode(str, 'latin1') (a bytes object) is supported"));
        return Value::bytes(latin1(g, text.as_string()));
      }
      case Global::Bytes:
        arity(0, 0);
        return Value::bytes("");
      case Global::Set:
      case Global::FrozenSet: {
        // Below protocol 4 a set is (set, (list(items),)).
        arity(0, 1);
        List items;
        size_t depth = 1;
        uint64_t weight = 1;
        if (!args.empty()) {
          const Value& l = value_arg(g, args, 0);
          if (!l.is_list() && !l.is_tuple())
            fail(concat(g.name, ": argument must be a list, not ", l.type_name()));
          items = l.as_sequence();
          depth = depth_of(l);
          weight = weight_of(l);
        }
        Value set = Value::set(std::move(items), g.id == Global::FrozenSet);
        track(set, depth, weight);
        return set;
      }
      case Global::ByteArray: {
        // Protocol 2: (bytearray, (latin-1 text, 'latin-1')); 3 and 4: (bytearray, (bytes,)).
        // wick has no mutable bytes: a bytearray loads as bytes.
        arity(0, 2);
        if (args.empty()) return Value::bytes("");
        const Value& data = value_arg(g, args, 0);
        if (args.size() == 1 && data.is_bytes()) return Value::bytes(data.as_bytes());
        if (args.size() == 2) return call(GlobalObj{Global::Encode, DType::Float32, g.name}, args);
        fail(concat(g.name, ": only bytearray(bytes) and bytearray(str, 'latin-1') are supported"));
      }
      case Global::JitList: {
        arity(1, 1);
        const Value& l = value_arg(g, args, 0);
        if (!l.is_list()) fail(concat(g.name, ": argument must be a list, not ", l.type_name()));
        return l;
      }
      case Global::JitTypeTag:
        arity(2, 2);
        if (!value_arg(g, args, 1).is_string()) fail(concat(g.name, ": type tag must be a str"));
        return value_arg(g, args, 0);
      case Global::Class: {
        const std::string_view hint = writer_hint(g.name);
        fail(concat("calling ", g.name,
                    ": wick records the objects of classes outside its allow-list, but never "
                    "calls anything",
                    hint.empty() ? "" : " - it is typically ", hint));
      }
      default:
        fail(concat(g.name, " cannot be called"));
    }
  }

  void set_requires_grad(const GlobalObj& g, const Tensor& t) {
    try {
      t.requires_grad_(true);
    } catch (const Error& e) {
      fail(concat(g.name, ": ", e.what()));
    }
  }

  // Python's bytes <-> latin-1 str: each code point below 256 is one byte.
  std::string latin1(const GlobalObj& g, const std::string& s) {
    std::string out;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) {
      if (p[i] < 0x80) {
        out += char(p[i++]);
      } else if ((p[i] & 0xe0) == 0xc0 && i + 1 < s.size()) {
        unsigned cp = ((p[i] & 0x1fu) << 6) | (p[i + 1] & 0x3fu);
        if (cp > 0xff) fail(concat(g.name, ": character U+", cp, " is not latin-1"));
        out += char(cp);
        i += 2;
      } else {
        fail(concat(g.name, ": string is not latin-1"));
      }
    }
    return out;
  }

  // obj.__setstate__(state) of a record: Python's default sets the items of a
  // dict state (or of both dicts of a (dict, slots) pair) as attributes.
  void build_object(const Value& record, const Value& state) {
    Object& o = record.as_object();
    if (o.reference) fail(concat("BUILD on the class ", o.type, " itself"));
    auto set_attributes = [&](const Value& d) {
      if (d.is_none()) return;
      if (!d.is_dict())
        fail(concat("BUILD state of ", o.type, " must be a dict, not ", d.type_name()));
      for (const auto& [k, v] : d.as_dict()) {
        if (!k.is_string())
          fail(concat("attribute name ", k.repr(), " of ", o.type, " is not a str"));
        grow(record, v, "BUILD");
        o.attributes.set(k, v);
      }
    };
    if (state.is_tuple() && state.size() == 2) {
      set_attributes(state.as_tuple()[0]);
      set_attributes(state.as_tuple()[1]);
    } else {
      set_attributes(state);
    }
  }

  // ---- persistent ids -------------------------------------------------------
  Obj persistent_load(const Obj& pid_obj) {
    std::vector<Obj> t = tuple_items(pid_obj, "persistent id");
    auto value = [&](size_t i) -> const Value* { return std::get_if<Value>(&t[i]); };
    std::string tag;
    if (!t.empty() && value(0)) {
      const Value& v = *value(0);
      tag = v.is_string() ? v.as_string() : v.is_bytes() ? v.as_bytes() : "";
    }
    if (tag == "module" && opt_.records == Records::Any && t.size() >= 2 &&
        std::holds_alternative<GlobalObj>(t[1]))
      return t[1];  // the legacy format's module class, with its source: the class
    if (tag == "module")
      fail(
          "the file holds a pickled nn.Module class (persistent id 'module') - was a whole "
          "model saved with torch.save(model)? Save model.state_dict() instead and load that");
    if (tag != "storage" || (t.size() != 5 && t.size() != 6))
      fail("unsupported persistent id (expected ('storage', class, key, location, numel))");
    auto text = [&](size_t i, const char* what) -> std::string {
      const Value* v = value(i);
      if (v && v->is_string()) return v->as_string();
      if (v && v->is_bytes()) return v->as_bytes();  // Python-2 era files
      if (v && v->is_int()) return std::to_string(v->as_int());
      fail(concat("persistent id ", what, " must be a str"));
    };
    StorageRef ref;
    ref.key = text(2, "key");
    ref.location = text(3, "location");
    if (!value(4) || !value(4)->is_int() || value(4)->as_int() < 0)
      fail("persistent id numel must be a non-negative int");
    ref.numel = value(4)->as_int();
    auto* cls = std::get_if<GlobalObj>(&t[1]);
    if (!cls || (cls->id != Global::TypedStorage && cls->id != Global::UntypedStorage))
      fail("persistent id names no storage class");
    if (cls->id == Global::TypedStorage) ref.dtype = cls->dtype;
    int64_t esize = ref.dtype ? element_size(*ref.dtype) : 1;
    if (__builtin_mul_overflow(ref.numel, esize, &ref.nbytes))
      fail(concat("storage '", ref.key, "' of ", ref.numel, " elements overflows"));

    StorageObj root = storage_for(ref);
    if (t.size() == 6 && !(value(5) && value(5)->is_none())) {
      // Legacy view: (view_key, offset, view_numel) into the root storage.
      const Value* view = value(5);
      if (!view || !view->is_tuple() || view->as_tuple().size() != 3 ||
          !view->as_tuple()[1].is_int() || !view->as_tuple()[2].is_int())
        fail("bad storage view in persistent id");
      const List& vt = view->as_tuple();
      std::string vkey = vt[0].is_string() ? vt[0].as_string() : vt[0].repr();
      if (auto it = views_.find(vkey); it != views_.end()) return it->second;
      int64_t off = vt[1].as_int(), cnt = vt[2].as_int();
      int64_t total = int64_t(root.storage->nbytes()) / esize;
      if (off < 0 || cnt < 0 || off > total || cnt > total - off)
        fail(concat("storage view [", off, ", ", off, " + ", cnt, ") is outside storage '", ref.key,
                    "' of ", total, " elements"));
      StorageObj v{
          Storage::borrow(root.storage->data() + off * esize, size_t(cnt * esize), root.storage),
          root.dtype, vkey};
      views_.emplace(vkey, v);
      return v;
    }
    return root;
  }

  StorageObj storage_for(const StorageRef& ref) {
    auto it = storages_.find(ref.key);
    if (it != storages_.end()) {
      const StorageObj& s = it->second;
      if (s.dtype != ref.dtype || int64_t(s.storage->nbytes()) != ref.nbytes)
        fail(concat("storage '", ref.key, "' is referenced with two different types or sizes"));
      return s;
    }
    std::shared_ptr<Storage> st = resolve_(ref);
    if (!st || int64_t(st->nbytes()) != ref.nbytes)
      fail(concat("storage '", ref.key, "' has the wrong size"));
    StorageObj s{std::move(st), ref.dtype, ref.key};
    storages_.emplace(ref.key, s);
    return s;
  }

  // ---- the opcodes ------------------------------------------------------------
  // Returns true at STOP.
  bool step() {
    switch (op_) {
      case 0x80: {  // PROTO
        uint8_t proto = u8();
        if (proto > 5) fail(concat("unsupported pickle protocol ", int(proto)));
        return false;
      }
      case '.': {  // STOP
        if (!marks_.empty()) fail("MARK without a closing opcode");
        if (stack_.size() != 1)
          fail(concat("the stack holds ", stack_.size(), " items at STOP, expected 1"));
        result_ = as_value(pop(), "the result");
        return true;
      }
      case '(':
        if (marks_.size() >= opt_.max_depth)
          fail(concat("more than ", opt_.max_depth, " nested MARKs"));
        marks_.push_back(stack_.size());
        return false;
      case '}': {
        Value d{Dict(false)};
        track(d, 1);
        push(std::move(d));
        return false;
      }
      case ']': {
        Value l = Value::list();
        track(l, 1);
        push(std::move(l));
        return false;
      }
      case ')': {
        Value t = Value::tuple();
        track(t, 1);
        push(std::move(t));
        return false;
      }
      case 't': {
        size_t m = pop_mark();
        push(make_tuple(m));
        return false;
      }
      case 0x85:
      case 0x86:
      case 0x87: {
        size_t k = size_t(op_ - 0x84);
        require(k);
        push(make_tuple(stack_.size() - k));
        return false;
      }
      case 's': {  // SETITEM
        require(3);
        Obj v = pop(), k = pop();
        set_item(target(0, ValueKind::Dict), std::move(k), std::move(v));
        return false;
      }
      case 'u': {  // SETITEMS
        size_t m = pop_mark();
        if ((stack_.size() - m) % 2) fail("odd number of items for SETITEMS");
        Value& d = target(stack_.size() - m, ValueKind::Dict);
        for (size_t i = m; i < stack_.size(); i += 2)
          set_item(d, std::move(stack_[i]), std::move(stack_[i + 1]));
        stack_.resize(m);
        return false;
      }
      case 'a': {  // APPEND
        require(2);
        Obj x = pop();
        Value& l = target(0, ValueKind::List);
        Value v = as_value(std::move(x), "a list item");
        grow(l, v, "appending");
        l.as_list().push_back(std::move(v));
        return false;
      }
      case 'e': {  // APPENDS
        size_t m = pop_mark();
        Value& l = target(stack_.size() - m, ValueKind::List);
        for (size_t i = m; i < stack_.size(); ++i) {
          Value v = as_value(std::move(stack_[i]), "a list item");
          grow(l, v, "appending");
          l.as_list().push_back(std::move(v));
        }
        stack_.resize(m);
        return false;
      }
      case 'K':
        push(Value(int64_t(u8())));
        return false;
      case 'M':
        push(Value(int64_t(uint_le(2))));
        return false;
      case 'J':
        push(Value(int64_t(int32_t(uint32_t(uint_le(4))))));
        return false;
      case 0x8a: {  // LONG1
        size_t k = u8();
        if (k > 8) {
          need(k);
          fail(concat("integer of ", k, " bytes does not fit in 64 bits"));
        }
        uint64_t v = uint_le(k);
        if (k > 0 && k < 8 && (v >> (8 * k - 1)) & 1) v |= ~uint64_t(0) << (8 * k);  // sign
        push(Value(int64_t(v)));
        return false;
      }
      case 'G': {  // BINFLOAT, big-endian
        need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p_[pos_ + size_t(i)];
        pos_ += 8;
        push(Value(std::bit_cast<double>(bits)));
        return false;
      }
      case 'X':    // BINUNICODE
      case 0x8c:   // SHORT_BINUNICODE (protocol 4)
      case 0x8d:   // BINUNICODE8 (protocol 4)
      case 'U': {  // SHORT_BINSTRING (Python 2 str, read as UTF-8 like torch.load)
        std::string s = bytes(length_operand());
        if (!valid_utf8(s)) fail("string is not valid UTF-8");
        push(Value(std::move(s)));
        return false;
      }
      case 'C':     // SHORT_BINBYTES (protocol 3)
      case 'B':     // BINBYTES (protocol 3)
      case 0x8e:    // BINBYTES8 (protocol 4)
      case 0x96: {  // BYTEARRAY8 (protocol 5): loads as bytes (wick has no mutable bytes)
        push(Value::bytes(bytes(length_operand())));
        return false;
      }
      case 0x95: {  // FRAME (protocol 4): the length of the next frame
        // The whole pickle is in memory, so frames need no buffering; a frame
        // that claims more bytes than remain is an error, as in Python.
        const uint64_t k = uint_le(8);
        if (k > n_ - pos_)
          fail(concat("frame of ", k, " bytes, but only ", n_ - pos_, " bytes remain"));
        return false;
      }
      case 0x94:  // MEMOIZE (protocol 4): memo[len(memo)] = top, as in Python
        if (memo_.size() >= UINT32_MAX) fail("too many memo entries");
        put(uint32_t(memo_.size()));
        return false;
      case 0x93: {  // STACK_GLOBAL (protocol 4): module and name from the stack
        require(2);
        Value name = as_value(pop(), "STACK_GLOBAL's name");
        Value module = as_value(pop(), "STACK_GLOBAL's module");
        if (!module.is_string() || !name.is_string())
          fail(concat("STACK_GLOBAL needs two str, got ", module.type_name(), " and ",
                      name.type_name()));
        push(resolve_global(module.as_string(), name.as_string()));
        return false;
      }
      case 0x8f: {  // EMPTY_SET (protocol 4)
        Value set = Value::set();
        track(set, 1);
        push(std::move(set));
        return false;
      }
      case 0x90: {  // ADDITEMS (protocol 4): add the items above the mark to the set below it
        size_t m = pop_mark();
        Value& set = target(stack_.size() - m, ValueKind::Set);
        for (size_t i = m; i < stack_.size(); ++i) {
          Value v = as_value(std::move(stack_[i]), "a set item");
          grow(set, v, "adding");
          set.as_set().push_back(std::move(v));
        }
        stack_.resize(m);
        return false;
      }
      case 0x91: {  // FROZENSET (protocol 4): the items above the mark
        size_t m = pop_mark();
        Value set = Value::set({}, true);
        track(set, 1);
        for (size_t i = m; i < stack_.size(); ++i) {
          Value v = as_value(std::move(stack_[i]), "a frozenset item");
          grow(set, v, "adding");
          set.as_set().push_back(std::move(v));
        }
        stack_.resize(m);
        push(std::move(set));
        return false;
      }
      case 0x97:  // NEXT_BUFFER (protocol 5)
      case 0x98:  // READONLY_BUFFER (protocol 5)
        fail(
            "an out-of-band buffer (pickle protocol 5): such a pickle needs buffers passed "
            "beside it and cannot come from a file");
      case 'N':
        push(Value());
        return false;
      case 0x88:
        push(Value(true));
        return false;
      case 0x89:
        push(Value(false));
        return false;
      case 'q':
        put(u8());
        return false;
      case 'r':
        put(uint32_t(uint_le(4)));
        return false;
      case 'h':
        get(u8());
        return false;
      case 'j':
        get(uint32_t(uint_le(4)));
        return false;
      case 'c': {  // GLOBAL
        std::string module = line();
        std::string name = line();
        push(resolve_global(std::move(module), name));
        return false;
      }
      case 'R':     // REDUCE
      case 0x81:    // NEWOBJ
      case 0x92: {  // NEWOBJ_EX (protocol 4): NEWOBJ with keyword arguments
        if (op_ == 0x92) {
          require(3);
          Value kwargs = as_value(pop(), "NEWOBJ_EX's keyword arguments");
          if (!kwargs.is_dict() || kwargs.size() != 0)
            fail(concat("NEWOBJ_EX with keyword arguments (", kwargs.repr(),
                        "): no allowed class takes any"));
        }
        require(2);
        Obj args = pop();
        Obj callable = pop();
        auto* g = std::get_if<GlobalObj>(&callable);
        if (!g) fail("calling something that is not an allowed global");
        if (op_ != 'R' && g->id == Global::Class) {
          // cls.__new__(cls): an empty record that BUILD fills.
          std::vector<Obj> a = tuple_items(args, "the arguments");
          if (!a.empty())
            fail(concat(opcode_name(op_), " of ", g->name, " with arguments: wick records only ",
                        "objects created without them"));
          Value record = Value::object(Object{g->name, Dict(), false});
          track(record, 1);
          push(std::move(record));
          return false;
        }
        if (op_ != 'R' && g->id != Global::ParameterClass)
          fail(concat(opcode_name(op_), " is only allowed for torch.nn.parameter.Parameter, not ",
                      g->name));
        if (op_ == 'R' && g->id == Global::ParameterClass)
          fail(concat("REDUCE on the class ", g->name));
        push(call(*g, tuple_items(args, "the arguments")));
        return false;
      }
      case 'b': {  // BUILD
        require(2);
        Obj state_obj = pop();
        auto* target = std::get_if<Value>(&stack_.back());
        if (target && target->is_object()) {
          build_object(*target, as_value(std::move(state_obj), "BUILD state"));
          return false;
        }
        if (!target || !target->is_dict() || !target->as_dict().ordered())
          fail(concat("BUILD is only allowed on an OrderedDict, not on ",
                      target ? target->type_name() : std::string("a global or storage")));
        Value state = as_value(std::move(state_obj), "BUILD state");
        if (!state.is_dict()) fail(concat("BUILD state must be a dict, not ", state.type_name()));
        for (const auto& [k, v] : state.as_dict()) {
          if (!k.is_string() || k.as_string() != "_metadata")
            fail(concat("OrderedDict attribute ", k.repr(),
                        " is not supported (only _metadata is kept)"));
          grow(*target, v, "BUILD");
          target->as_dict().set_metadata(v);
        }
        return false;
      }
      case 'Q': {  // BINPERSID
        Obj pid = pop();
        push(persistent_load(pid));
        return false;
      }
      default:
        fail(concat("unsupported pickle opcode 0x", "0123456789abcdef"[op_ >> 4],
                    "0123456789abcdef"[op_ & 15], " (", opcode_name(op_),
                    "); a torch.save checkpoint does not contain it"));
    }
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  const StorageResolver& resolve_;
  const UnpickleOptions& opt_;
  std::vector<Obj> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Obj> memo_;
  std::unordered_map<const void*, Info> info_;
  std::unordered_map<std::string, StorageObj> storages_;
  std::unordered_map<std::string, StorageObj> views_;  // legacy storage views
  std::unordered_set<const Storage*> bool_checked_;    // untyped storages seen as bool
  uint64_t copied_ = 0;                                // see spend()
  Value result_;
  bool done_ = false;
};

}  // namespace

Value unpickle(std::span<const std::byte> data, const StorageResolver& resolve,
               const UnpickleOptions& options, size_t* end) {
  Unpickler u(data, resolve, options);
  return u.run(end);
}

}  // namespace wick::io::detail
