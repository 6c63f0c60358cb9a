// The pickler: protocol 2 as Python's pickle.Pickler writes it for the objects
// torch.save meets (docs/formats.md §2.10), so that a wick-written data.pkl is byte for byte
// torch's when the value trees agree. The memo follows the rule of docs/formats.md §2.10:
// strings are reused by content, except the keys of a module state_dict and of
// its _metadata (always written fresh) and storage keys (reused only by tensors
// of the same storage).
#include <bit>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "io/pickle.h"
#include "wick/core/tensor.h"

namespace wick::io::detail {
namespace {

constexpr size_t kBatch = 1000;  // Python's _BATCHSIZE
constexpr size_t kMaxDepth = 1000;

// The legacy storage class torch.save names for a dtype, or nullptr for the
// dtypes PyTorch 2.x added, which it saves as an UntypedStorage plus the dtype
// through _rebuild_tensor_v3 (docs/formats.md §2.10).
const char* storage_class(DType t) {
  switch (t) {
    case DType::Float32:
      return "FloatStorage";
    case DType::Float64:
      return "DoubleStorage";
    case DType::Float16:
      return "HalfStorage";
    case DType::BFloat16:
      return "BFloat16Storage";
    case DType::Int8:
      return "CharStorage";
    case DType::Int16:
      return "ShortStorage";
    case DType::Int32:
      return "IntStorage";
    case DType::Int64:
      return "LongStorage";
    case DType::UInt8:
      return "ByteStorage";
    case DType::Bool:
      return "BoolStorage";
    case DType::Complex64:
      return "ComplexFloatStorage";
    case DType::Complex128:
      return "ComplexDoubleStorage";
    case DType::UInt16:
    case DType::UInt32:
    case DType::UInt64:
    case DType::Float8_e4m3fn:
    case DType::Float8_e5m2:
    case DType::Float8_e4m3fnuz:
    case DType::Float8_e5m2fnuz:
    case DType::Complex32:
      return nullptr;
  }
  throw Error("save: invalid dtype");
}

class Pickler {
 public:
  explicit Pickler(std::vector<PickledStorage>& storages) : storages_(storages) {}

  std::string run(const Value& v) {
    out_ += "\x80\x02";
    save(v, 0);
    out_ += '.';
    return std::move(out_);
  }

 private:
  // ---- primitives -----------------------------------------------------------
  void op(char c) { out_ += c; }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_ += char((v >> (8 * i)) & 0xff);
  }
  uint32_t put() {
    uint32_t idx = next_memo_++;
    if (idx < 256) {
      op('q');
      out_ += char(idx);
    } else {
      op('r');
      u32(idx);
    }
    return idx;
  }
  void get(uint32_t idx) {
    if (idx < 256) {
      op('h');
      out_ += char(idx);
    } else {
      op('j');
      u32(idx);
    }
  }

  void save_int(int64_t v) {
    if (v >= 0 && v <= 0xff) {
      op('K');
      out_ += char(v);
    } else if (v >= 0 && v <= 0xffff) {
      op('M');
      out_ += char(v & 0xff);
      out_ += char(v >> 8);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      u32(uint32_t(int32_t(v)));
    } else {
      // Python's encode_long: the shortest little-endian two's complement.
      uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
      size_t n = size_t(std::bit_width(mag) >> 3) + 1;
      std::string bytes;
      for (size_t i = 0; i < n; ++i)
        bytes += char(i < 8 ? (uint64_t(v) >> (8 * i)) & 0xff : (v < 0 ? 0xff : 0));
      if (v < 0 && n > 1 && uint8_t(bytes[n - 1]) == 0xff && (uint8_t(bytes[n - 2]) & 0x80))
        bytes.pop_back();
      op('\x8a');
      out_ += char(bytes.size());
      out_ += bytes;
    }
  }

  void save_float(double d) {
    op('G');
    uint64_t bits = std::bit_cast<uint64_t>(d);
    for (int i = 7; i >= 0; --i) out_ += char((bits >> (8 * i)) & 0xff);
  }

  // BINUNICODE + memo. `fresh`: always a new memo entry, not reused later.
  void save_string(const std::string& s, bool fresh = false) {
    if (!fresh) {
      auto it = strings_.find(s);
      if (it != strings_.end()) return get(it->second);
    }
    WICK_CHECK(valid_utf8(s), "save: string ", Value(s).repr(), " is not valid UTF-8");
    WICK_CHECK(s.size() <= UINT32_MAX, "save: string of ", s.size(), " bytes is too long");
    op('X');
    u32(uint32_t(s.size()));
    out_ += s;
    uint32_t idx = put();
    if (!fresh) strings_.emplace(s, idx);
  }

  void save_global(const char* module, const char* name) {
    std::string id = std::string(module) + "\n" + name + "\n";
    auto it = globals_.find(id);
    if (it != globals_.end()) return get(it->second);
    op('c');
    out_ += id;
    globals_.emplace(id, put());
  }

  // A tuple of ints (sizes, strides): never shared, memoized unless empty.
  void save_int_tuple(const Shape& s) {
    if (s.empty()) return op(')');
    if (s.size() > 3) op('(');
    for (int64_t v : s) save_int(v);
    op(s.size() > 3 ? 't' : char(0x84 + s.size()));
    put();
  }

  void save_ordered_dict_call() {
    save_global("collections", "OrderedDict");
    op(')');
    op('R');
  }

  // ---- values -----------------------------------------------------------------
  void save(const Value& v, size_t depth, bool fresh_string = false) {
    WICK_CHECK(depth < kMaxDepth, "save: values nested deeper than ", kMaxDepth, " levels");
    switch (v.kind()) {
      case ValueKind::None:
        return op('N');
      case ValueKind::Bool:
        return op(v.as_bool() ? '\x88' : '\x89');
      case ValueKind::Int:
        return save_int(v.as_int());
      case ValueKind::Float:
        return save_float(v.as_float());
      case ValueKind::String:
        return save_string(v.as_string(), fresh_string);
      case ValueKind::Bytes:
        return save_bytes(v);
      case ValueKind::Tensor:
        return save_tensor(v);
      case ValueKind::Object:
        throw Error(wick::detail::concat(
            "save: an Object record of class '", v.as_object().type,
            "' cannot be saved (wick never pickles classes); save the tensors it holds, "
            "e.g. its state_dict"));
      case ValueKind::List:
      case ValueKind::Tuple:
      case ValueKind::Dict:
      case ValueKind::Set:
        break;
    }
    const void* id = v.is_dict()  ? static_cast<const void*>(&v.as_dict())
                     : v.is_set() ? static_cast<const void*>(&v.as_set())
                                  : static_cast<const void*>(&v.as_sequence());
    WICK_CHECK(!active_.count(id), "save: a ", v.type_name(), " that contains itself");
    if (auto it = objects_.find(id); it != objects_.end()) return get(it->second);
    active_.insert(id);
    if (v.is_list())
      save_list(v, id, depth);
    else if (v.is_set())
      save_set(v, id, depth);
    else if (v.is_tuple())
      save_tuple(v, id, depth);
    else
      save_dict(v, id, depth);
    active_.erase(id);
  }

  void save_list(const Value& v, const void* id, size_t depth) {
    op(']');
    objects_.emplace(id, put());
    save_appends(v.as_list(), depth);
  }

  // As Python below protocol 4: set.__reduce__ is (set, (list(self),)), the
  // list and the tuple being new objects that are memoized but never reused.
  void save_set(const Value& v, const void* id, size_t depth) {
    save_global("__builtin__", v.is_frozenset() ? "frozenset" : "set");
    op(']');
    put();
    save_appends(v.as_set(), depth);
    op('\x85');  // TUPLE1
    put();
    op('R');
    objects_.emplace(id, put());
  }

  // A list's items, in batches of APPENDS as Python writes them.
  void save_appends(const List& items, size_t depth) {
    for (size_t i = 0; i < items.size() || i == 0; i += kBatch) {
      size_t n = std::min(kBatch, items.size() - i);
      if (n > 1) op('(');
      for (size_t k = i; k < i + n; ++k) save(items[k], depth + 1);
      if (n > 1)
        op('e');
      else if (n == 1)
        op('a');
      if (n < kBatch) break;
    }
  }

  void save_tuple(const Value& v, const void* id, size_t depth) {
    const List& items = v.as_tuple();
    if (items.empty()) return op(')');  // never memoized
    if (items.size() > 3) op('(');
    for (const Value& x : items) save(x, depth + 1);
    op(items.size() > 3 ? 't' : char(0x84 + items.size()));
    objects_.emplace(id, put());
  }

  // A dict's items, in batches of SETITEMS as Python writes them.
  void save_items(const Dict& d, size_t depth, bool fresh_keys) {
    const auto& items = d.items();
    for (size_t i = 0; i < items.size() || i == 0; i += kBatch) {
      size_t n = std::min(kBatch, items.size() - i);
      if (n > 1) op('(');
      for (size_t k = i; k < i + n; ++k) {
        save(items[k].first, depth + 1, fresh_keys);
        save(items[k].second, depth + 1);
      }
      if (n > 1)
        op('u');
      else if (n == 1)
        op('s');
      if (n < kBatch) break;
    }
  }

  void save_dict(const Value& v, const void* id, size_t depth, bool fresh_keys = false) {
    const Dict& d = v.as_dict();
    if (d.counter()) {
      // As Python: Counter.__reduce__ is (Counter, (dict(self),)).
      WICK_CHECK(d.metadata().is_none(), "save: a Counter cannot carry _metadata");
      save_global("collections", "Counter");
      op('}');
      put();
      save_items(d, depth, fresh_keys);
      op('\x85');  // TUPLE1
      put();
      op('R');
      objects_.emplace(id, put());
      return;
    }
    if (d.ordered()) {
      save_ordered_dict_call();
    } else {
      op('}');
    }
    objects_.emplace(id, put());
    // Keys of a module state_dict are built at run time by torch, so each is
    // a new string object that Python's memo never reuses.
    save_items(d, depth, fresh_keys || !d.metadata().is_none());
    if (!d.metadata().is_none()) {
      WICK_CHECK(d.ordered(), "save: only an OrderedDict can carry _metadata");
      const Value& meta = d.metadata();
      op('}');
      put();
      save_string("_metadata");
      if (meta.is_dict()) {
        const void* mid = &meta.as_dict();
        WICK_CHECK(!objects_.count(mid) && !active_.count(mid),
                   "save: a _metadata dict that is shared with another value");
        active_.insert(mid);
        save_dict(meta, mid, depth + 1, /*fresh_keys=*/true);
        active_.erase(mid);
      } else {
        save(meta, depth + 1);
      }
      op('s');
      op('b');
    }
  }

  void save_bytes(const Value& v) {
    const void* id = &v.as_bytes();
    if (auto it = objects_.find(id); it != objects_.end()) return get(it->second);
    // Python (protocol 2) writes bytes as _codecs.encode(latin-1 text, 'latin1').
    save_global("_codecs", "encode");
    std::string text;
    for (unsigned char c : v.as_bytes()) {
      if (c < 0x80) {
        text += char(c);
      } else {
        text += char(0xc0 | (c >> 6));
        text += char(0x80 | (c & 0x3f));
      }
    }
    save_string(text, /*fresh=*/true);
    save_string("latin1");
    op('\x86');
    put();
    op('R');
    objects_.emplace(id, put());
  }

  // ---- tensors ----------------------------------------------------------------
  void save_tensor(const Value& v) {
    const Tensor& t = v.as_tensor();
    WICK_CHECK(t.defined(), "save: undefined tensor");
    const void* id = t.impl_ptr().get();
    auto& memo = v.is_parameter() ? parameters_ : tensors_;
    if (auto it = memo.find(id); it != memo.end()) return get(it->second);
    if (v.is_parameter()) {
      // Parameter.__reduce_ex__: _rebuild_parameter(self.data, requires_grad,
      // OrderedDict()), where self.data is a new tensor object each time.
      save_global("torch._utils", "_rebuild_parameter");
      save_tensor_reduce(t, /*requires_grad=*/false);
      op(t.requires_grad() ? '\x88' : '\x89');
      save_ordered_dict_call();
      put();
      op('\x87');
      put();
      op('R');
      memo.emplace(id, put());
    } else {
      memo.emplace(id, save_tensor_reduce(t, t.requires_grad()));
    }
  }

  // Writes _rebuild_tensor_v2(...) (v3 for an untyped storage) and returns
  // the memo index of the result.
  uint32_t save_tensor_reduce(const Tensor& t, bool requires_grad) {
    const auto& storage = t.storage();
    WICK_CHECK(storage != nullptr, "save: tensor without storage");
    DType dtype = t.dtype();
    int64_t esize = element_size(dtype);
    int64_t numel = int64_t(storage->nbytes()) / esize;
    for (size_t d = 0; d < t.sizes().size(); ++d)
      WICK_CHECK(t.strides()[d] >= 0, "save: tensor with negative stride ", t.strides());
    const char* typed = storage_class(dtype);

    save_global("torch._utils", typed ? "_rebuild_tensor_v2" : "_rebuild_tensor_v3");
    op('(');
    // The persistent id ('storage', class, key, location, numel), numel in
    // bytes for an untyped storage.
    op('(');
    save_string("storage");
    if (typed)
      save_global("torch", typed);
    else
      save_global("torch.storage", "UntypedStorage");
    auto it = storage_ids_.find(storage.get());
    if (it == storage_ids_.end()) {
      size_t index = storages_.size();
      storages_.push_back({storage, dtype, numel});
      op('X');
      std::string key = std::to_string(index);
      u32(uint32_t(key.size()));
      out_ += key;
      it = storage_ids_.emplace(storage.get(), StorageId{index, put()}).first;
    } else {
      const PickledStorage& s = storages_[it->second.index];
      WICK_CHECK(s.dtype == dtype, "save: one storage is viewed both as ", s.dtype, " and as ",
                 dtype, "; torch.save refuses that too - save a copy (clone()) of one of them");
      get(it->second.key_memo);
    }
    save_string("cpu");
    save_int(typed ? numel : numel * esize);
    op('t');
    put();
    op('Q');
    save_int(t.storage_offset());
    save_int_tuple(t.sizes());
    save_int_tuple(t.strides());
    op(requires_grad ? '\x88' : '\x89');
    save_ordered_dict_call();
    put();
    if (!typed) save_global("torch", std::string(dtype_name(dtype)).c_str());
    op('t');
    put();
    op('R');
    return put();
  }

  struct StorageId {
    size_t index;
    uint32_t key_memo;
  };

  std::string out_;
  uint32_t next_memo_ = 0;
  std::vector<PickledStorage>& storages_;
  std::unordered_map<const Storage*, StorageId> storage_ids_;
  std::unordered_map<std::string, uint32_t> strings_;
  std::unordered_map<std::string, uint32_t> globals_;
  std::unordered_map<const void*, uint32_t> objects_;
  std::unordered_map<const void*, uint32_t> tensors_;
  std::unordered_map<const void*, uint32_t> parameters_;
  std::unordered_set<const void*> active_;
};

}  // namespace

std::string pickle(const Value& v, std::vector<PickledStorage>& storages) {
  return Pickler(storages).run(v);
}

}  // namespace wick::io::detail
