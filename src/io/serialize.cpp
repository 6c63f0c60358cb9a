// torch.save archives: loading (zip, legacy) and saving (docs/formats.md §1, §3, §5 and §6).
#include "wick/io/serialize.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "io/legacy.h"
#include "io/pickle.h"
#include "io/records.h"
#include "io/sniff.h"
#include "io/zip.h"
#include "wick/core/tensor.h"

namespace wick::io {

using detail::Source;
using detail::StorageRef;
using detail::ZipEntry;
using detail::ZipReader;

namespace {

// Reverses the bytes of each element (big-endian files, docs/formats.md §1.11); complex
// numbers swap each of their two halves.
void swap_bytes(std::byte* p, size_t nbytes, size_t esize) {
  for (size_t i = 0; i + esize <= nbytes; i += esize) std::reverse(p + i, p + i + esize);
}

// ---- dtype conversion on load -----------------------------------------------

class FloatingConverter {
 public:
  /// Makes the converted copy of a whole storage (given as a 1-D tensor).
  using MakeStorage = std::function<std::shared_ptr<Storage>(const Tensor& whole, DType to)>;

  explicit FloatingConverter(DType to, MakeStorage make = {}) : to_(to), make_(std::move(make)) {
    if (!make_) make_ = [](const Tensor& whole, DType t) { return whole.to(t, true).storage(); };
  }

  void visit(const Value& v) {
    if (!v.is_list() && !v.is_tuple() && !v.is_dict()) return;
    const void* id = v.is_dict() ? static_cast<const void*>(&v.as_dict())
                                 : static_cast<const void*>(&v.as_sequence());
    if (!seen_.insert(id).second) return;
    if (v.is_dict()) {
      Dict& d = v.as_dict();
      for (const Value& k : d.keys()) {
        Value& item = d.at(k);
        item = convert(item);
        visit(item);
      }
    } else {
      for (Value& item : v.as_sequence()) {
        item = convert(item);
        visit(item);
      }
    }
  }

  // A copy of the tree with converted tensors, leaving `v` as it is: new
  // containers, shared ones (and cycles) still shared, as in `v`.
  Value rebuild(const Value& v) {
    if (!v.is_list() && !v.is_tuple() && !v.is_dict()) return convert(v);
    const void* id = v.is_dict() ? static_cast<const void*>(&v.as_dict())
                                 : static_cast<const void*>(&v.as_sequence());
    if (auto it = copies_.find(id); it != copies_.end()) return it->second;
    if (v.is_dict()) {
      const Dict& d = v.as_dict();
      Dict copy(d.ordered());
      copy.set_counter(d.counter());
      copy.set_metadata(d.metadata());
      Value out(std::move(copy));
      copies_.emplace(id, out);
      for (const auto& [k, x] : d) out.as_dict().set(k, rebuild(x));
      return out;
    }
    Value out = v.is_list() ? Value::list() : Value::tuple();
    copies_.emplace(id, out);
    for (const Value& x : v.as_sequence()) out.as_sequence().push_back(rebuild(x));
    return out;
  }

  Value convert(const Value& v) {
    if (!v.is_tensor() || !is_floating_point(v.as_tensor().dtype()) || v.as_tensor().dtype() == to_)
      return v;
    const Tensor& t = v.as_tensor();
    auto key = std::make_pair(t.impl_ptr().get(), v.is_parameter());
    if (auto it = tensors_.find(key); it != tensors_.end()) return it->second;
    // Convert the whole storage once, so that views keep sharing it.
    std::shared_ptr<Storage>& converted = storages_[t.storage().get()];
    if (!converted) {
      const int64_t n = int64_t(t.storage()->nbytes()) / t.element_size();
      converted = make_(make_tensor(t.storage(), t.dtype(), {n}, {1}), to_);
    }
    Tensor out = make_tensor(converted, to_, t.sizes(), t.strides(), t.storage_offset());
    if (t.requires_grad()) out.requires_grad_(true);
    Value r = v.is_parameter() ? Value::parameter(out) : Value(out);
    tensors_.emplace(key, r);
    return r;
  }

 private:
  struct PairHash {
    size_t operator()(const std::pair<const void*, bool>& p) const {
      return std::hash<const void*>()(p.first) ^ size_t(p.second);
    }
  };
  DType to_;
  MakeStorage make_;
  std::unordered_set<const void*> seen_;
  std::unordered_map<const void*, Value> copies_;
  std::unordered_map<const Storage*, std::shared_ptr<Storage>> storages_;
  std::unordered_map<std::pair<const void*, bool>, Value, PairHash> tensors_;
};

Value finish(Value v, const LoadOptions& options) {
  if (options.floating_dtype) {
    FloatingConverter c(*options.floating_dtype);
    v = c.convert(v);
    c.visit(v);
  }
  return v;
}

// Bool storages must hold 0 or 1: any other byte is undefined behaviour as a
// C++ bool.
void check_bools(const Source& src, const std::string& record, const std::byte* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (uint8_t(p[i]) > 1)
      malformed(src, "bool storage '", record, "' holds byte ", int(p[i]), " at element ", i,
                " (bools must be 0 or 1)");
}

// ---- zip archives -------------------------------------------------------------

Value load_zip(const Source& src, const LoadOptions& options) {
  ZipReader zip(src);
  const std::string prefix = zip.folder();
  // A TorchScript archive (torch.jit.save, libtorch's torch::save) has code/
  // beside data.pkl: its classes load as records, walked into a state_dict.
  const std::string code = prefix + "code/";
  bool torchscript = zip.find(prefix + "constants.pkl") != nullptr;
  for (const ZipEntry& e : zip.entries()) torchscript = torchscript || e.name.starts_with(code);

  auto small = [&](const ZipEntry& e) {
    std::string s = zip.read_string(e);
    if (options.verify_crc) zip.check_crc(e, s.data());
    return s;
  };
  const ZipEntry* version = zip.find(prefix + ".data/version");
  if (!version) version = zip.find(prefix + "version");
  if (!version) malformed(src, "the archive has no 'version' record");
  {
    std::string v = small(*version);
    if (!v.empty() && v.back() == '\n') v.pop_back();
    bool digits = !v.empty() && v.size() < 10 &&
                  std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    int n = digits ? std::stoi(v) : -1;
    if (n < 1 || n > 10)
      malformed(src, "unsupported archive version '", v, "' (torch reads versions 1 to 10)");
  }
  bool big_endian = false;
  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {
    std::string s = small(*bo);
    if (s == "big")
      big_endian = true;
    else if (s != "little")
      malformed(src, "byteorder record says '", s, "' (expected little or big)");
  }
  const ZipEntry* pkl = zip.find(prefix + "data.pkl");
  if (!pkl) malformed(src, "the archive has no 'data.pkl' record");
  std::vector<std::byte> pickle(pkl->size);
  zip.read(*pkl, pickle.data());
  if (options.verify_crc) zip.check_crc(*pkl, pickle.data());

  auto resolve = [&](const StorageRef& ref) -> std::shared_ptr<Storage> {
    std::string record = prefix + "data/" + ref.key;
    const ZipEntry* e = zip.find(record);
    if (!e) malformed(src, "record '", record, "' is missing");
    int64_t esize = ref.dtype ? element_size(*ref.dtype) : 1;
    if (int64_t(e->size) != ref.nbytes)
      malformed(src, "record '", record, "' holds ", e->size, " bytes, but the pickle expects ",
                ref.nbytes, " (", ref.numel, " elements of ", esize, " bytes",
                ref.dtype ? wick::detail::concat(", ", *ref.dtype) : std::string(), ")");
    std::shared_ptr<Storage> s;
    uint64_t off = e->method == 0 ? zip.data_offset(*e) : 0;
    if (src.mapped() && e->method == 0 && !big_endian && off % 16 == 0) {
      s = Storage::from_mapped(src.mapped(), size_t(off), size_t(e->size));
    } else {
      s = detail::allocate_storage(size_t(e->size));
      zip.read(*e, s->data());
    }
    if (options.verify_crc) zip.check_crc(*e, s->data());
    // An untyped storage's element size is only known from the tensors that
    // view it, so its bytes cannot be put in this machine's order here.
    if (big_endian && !ref.dtype)
      malformed(src, "big-endian untyped storage '", record, "' is not supported");
    if (big_endian && esize > 1) {
      swap_bytes(s->data(), s->nbytes(), size_t(is_complex(*ref.dtype) ? esize / 2 : esize));
    }
    if (ref.dtype == DType::Bool) check_bools(src, record, s->data(), s->nbytes());
    return s;
  };
  detail::UnpickleOptions uo;
  uo.max_depth = options.max_depth;
  uo.what = src.name() + ": " + prefix + "data.pkl";
  uo.records = torchscript                  ? detail::Records::TorchScript
               : options.extract_state_dict ? detail::Records::Any
                                            : detail::Records::None;
  Value v = detail::unpickle(pickle, resolve, uo);
  if (torchscript) {
    // Only the class declarations' __parameters__ and __buffers__ lists are
    // read from code/ (docs/formats.md §8); nothing of it runs.
    detail::ClassDecls decls;
    for (const ZipEntry& e : zip.entries()) {
      if (!e.name.starts_with(code) || !e.name.ends_with(".py")) continue;
      std::string module = e.name.substr(code.size(), e.name.size() - code.size() - 3);
      std::replace(module.begin(), module.end(), '/', '.');
      detail::parse_class_decls(small(e), module, src.name() + ": " + e.name, decls);
    }
    v = detail::torchscript_state(v, decls, uo.what);
  } else if (options.extract_state_dict) {
    v = detail::extract_module_state_dicts(v);
  }
  return finish(std::move(v), options);
}

Value load_source(const Source& src, const LoadOptions& options) {
  switch (detail::sniff_format(src).value_or(Format::Safetensors)) {
    case Format::PtZip:
      return load_zip(src, options);
    case Format::PtLegacy:
      return finish(detail::load_legacy(src, options.max_depth, options.extract_state_dict),
                    options);
    case Format::Safetensors:
      break;
  }
  malformed(src,
            "not a PyTorch checkpoint: it starts with neither a zip header nor the legacy "
            "format's magic number (a safetensors file loads with load_safetensors)");
}

// ---- saving -------------------------------------------------------------------

// How much tensor data is written between two progress reports.
constexpr size_t kProgressChunk = size_t(64) << 20;

void write_archive(const Value& value, const std::string& prefix, const SaveOptions& options,
                   detail::Sink sink) {
  // A cast pickles a copy of the tree whose floating tensors view placeholder
  // storages (the converted size, no memory); each is converted from its
  // source just before it is written, so only one converted storage exists
  // at a time.
  Value tree = value;
  std::unordered_map<const Storage*, Tensor> sources;
  if (options.floating_dtype) {
    FloatingConverter c(*options.floating_dtype, [&](const Tensor& whole, DType to) {
      auto placeholder =
          Storage::borrow(nullptr, size_t(whole.numel() * element_size(to)), nullptr);
      sources.emplace(placeholder.get(), whole);
      return placeholder;
    });
    tree = c.rebuild(value);
  }
  std::vector<detail::PickledStorage> storages;
  std::string pkl = detail::pickle(tree, storages);
  uint64_t total = 0, done = 0;
  for (const auto& s : storages) total += uint64_t(s.numel * element_size(s.dtype));
  // ZipWriter hands a record's payload to the sink in one call with the
  // caller's pointer; that call is split so that progress moves within big
  // storages.
  const std::byte* payload = nullptr;
  auto counting = [&, sink = std::move(sink)](const void* p, size_t n) {
    if (p != payload || !options.progress) return sink(p, n);
    for (size_t off = 0; off < n;) {
      size_t m = std::min(n - off, kProgressChunk);
      sink(static_cast<const std::byte*>(p) + off, m);
      off += m;
      done += m;
      options.progress(done, total);
    }
  };
  auto bytes = [](std::string_view s) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size());
  };
  detail::ZipWriter zip(counting);
  std::string p = prefix + "/";
  zip.add(p + "data.pkl", bytes(pkl));
  if (options.layout == ZipLayout::Torch2) {
    zip.add(p + ".format_version", bytes("1"));
    zip.add(p + ".storage_alignment", bytes("64"));
    zip.add(p + "byteorder", bytes("little"));
  }
  std::vector<size_t> order(storages.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (options.layout == ZipLayout::Torch1_13)
    std::sort(order.begin(), order.end(),
              [](size_t a, size_t b) { return std::to_string(a) < std::to_string(b); });
  for (size_t i : order) {
    const auto& s = storages[i];
    std::shared_ptr<Storage> data = s.storage;
    if (auto it = sources.find(data.get()); it != sources.end())
      data = it->second.to(s.dtype, /*copy=*/true).storage();
    size_t n = size_t(s.numel * element_size(s.dtype));
    payload = data->data();
    zip.add(p + "data/" + std::to_string(i), std::span<const std::byte>(data->data(), n));
    payload = nullptr;
  }
  zip.add(p + "version", bytes("3\n"));
  zip.finish();
  if (options.progress) options.progress(total, total);
}

// torch names the archive folder after the file: its base name without the
// last extension.
std::string archive_prefix(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.find_last_of('.');
  if (dot != std::string::npos) base.resize(dot);
  return base.empty() ? "archive" : base;
}

}  // namespace

Value load(const std::string& path, const LoadOptions& options) {
  Source src = options.mmap ? Source::map(path) : Source::file(path);
  return load_source(src, options);
}

Value load_bytes(std::span<const std::byte> bytes, const LoadOptions& options) {
  return load_source(Source::memory(bytes), options);
}

void save(const Value& value, const std::string& path, const SaveOptions& options) {
  detail::AtomicFile file(path);
  write_archive(value, archive_prefix(path), options,
                [&](const void* p, size_t n) { file.write(p, n); });
  file.commit(options.fsync);
}

std::vector<std::byte> save_bytes(const Value& value, const SaveOptions& options,
                                  std::string_view prefix) {
  std::vector<std::byte> out;
  write_archive(value, std::string(prefix), options, [&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const std::byte*>(p), static_cast<const std::byte*>(p) + n);
  });
  return out;
}

}  // namespace wick::io
