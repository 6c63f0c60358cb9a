// safetensors reading and writing (docs/formats.md §4).
#include "wick/io/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "core/layout.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "wick/core/tensor.h"

namespace wick::io {

using detail::Source;
using json = nlohmann::json;

namespace {

struct STDType {
  const char* name;
  int bits;
  int rank;  // position in the reference enum, which orders the writer
  std::optional<DType> dtype;
};

// The reference enum, in its order.
const STDType kTypes[] = {
    {"BOOL", 8, 0, DType::Bool},
    {"F4", 4, 1, {}},
    {"F6_E2M3", 6, 2, {}},
    {"F6_E3M2", 6, 3, {}},
    {"U8", 8, 4, DType::UInt8},
    {"I8", 8, 5, DType::Int8},
    {"F8_E5M2", 8, 6, DType::Float8_e5m2},
    {"F8_E4M3", 8, 7, DType::Float8_e4m3fn},
    {"F8_E8M0", 8, 8, {}},
    {"F8_E4M3FNUZ", 8, 9, DType::Float8_e4m3fnuz},
    {"F8_E5M2FNUZ", 8, 10, DType::Float8_e5m2fnuz},
    {"I16", 16, 11, DType::Int16},
    {"U16", 16, 12, DType::UInt16},
    {"F16", 16, 13, DType::Float16},
    {"BF16", 16, 14, DType::BFloat16},
    {"I32", 32, 15, DType::Int32},
    {"U32", 32, 16, DType::UInt32},
    {"F32", 32, 17, DType::Float32},
    {"C64", 64, 18, DType::Complex64},
    {"F64", 64, 19, DType::Float64},
    {"I64", 64, 20, DType::Int64},
    {"U64", 64, 21, DType::UInt64},
};

const STDType* type_of(DType t) {
  for (const auto& s : kTypes)
    if (s.dtype == t) return &s;
  return nullptr;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// Parses a header into a json whose objects are std::maps (a key is found in
// O(log n), where an ordered_json searches linearly), keeping the file order of
// the top-level keys and of __metadata__'s keys. nlohmann's parse callback
// cannot do this: it rescans the parent object at every object's end.
class HeaderParser : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<json>;
  explicit HeaderParser(json& root) : Base(root) {}
  bool start_object(size_t n) {
    ++depth_;
    return Base::start_object(n);
  }
  bool end_object() {
    --depth_;
    return Base::end_object();
  }
  bool start_array(size_t n) {
    ++depth_;
    return Base::start_array(n);
  }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }
  bool key(std::string& k) {
    if (depth_ == 1) {
      names.push_back(k);
      if (k == "__metadata__") meta_keys.clear();  // a repeated key replaces the value
    } else if (depth_ == 2 && !names.empty() && names.back() == "__metadata__") {
      meta_keys.push_back(k);
    }
    return Base::key(k);
  }

  /// Keys in file order, repeats included.
  std::vector<std::string> names, meta_keys;

 private:
  int depth_ = 0;
};

SafetensorsFile load_source(const Source& src, const LoadOptions& options) {
  if (src.size() < 8) malformed(src, "header too small (", src.size(), " bytes)");
  uint64_t n = 0;
  src.read(0, &n, 8, "header length");
  if (n > 100000000) malformed(src, "header too large (", n, " bytes; at most 100000000)");
  if (n > src.size() - 8)
    malformed(src, "invalid header length ", n, " (the file has ", src.size(), " bytes)");
  std::string header(n, '\0');
  src.read(8, header.data(), n, "header");
  if (!detail::valid_utf8(header)) malformed(src, "invalid UTF-8 in header");
  // nlohmann's parser stops at a NUL; the reference rejects NUL padding.
  if (header.find('\0') != std::string::npos)
    malformed(src, "invalid JSON in header: NUL byte at ", header.find('\0'));
  json j;
  HeaderParser parser(j);
  try {
    json::sax_parse(header, &parser);
  } catch (const json::exception& e) {
    malformed(src, "invalid JSON in header: ", e.what());
  }
  std::vector<std::string>&names = parser.names, &meta_keys = parser.meta_keys;
  if (!j.is_object()) malformed(src, "invalid JSON in header: not an object");
  // A repeated key keeps its first place and its last value (as in the DOM).
  auto first_places = [](std::vector<std::string>& keys, size_t distinct) {
    if (keys.size() == distinct) return;
    std::unordered_set<std::string> seen;
    std::erase_if(keys, [&](const std::string& k) { return !seen.insert(k).second; });
  };
  first_places(names, j.size());
  if (j.contains("__metadata__")) first_places(meta_keys, j["__metadata__"].size());

  SafetensorsFile out;
  std::vector<Entry> entries;
  auto uint_of = [&](const json& v, const std::string& name, const char* what) -> uint64_t {
    if (!v.is_number_unsigned())
      malformed(src, "invalid JSON in header: ", what, " of tensor '", name,
                "' must be a non-negative integer, got ", v.dump());
    return v.get<uint64_t>();
  };
  for (const std::string& key : names) {
    const json& v = j.at(key);
    if (key == "__metadata__") {
      if (!v.is_object()) malformed(src, "invalid JSON in header: __metadata__ is not an object");
      for (const std::string& mk : meta_keys) {
        const json& mv = v.at(mk);
        if (!mv.is_string())
          malformed(src, "invalid JSON in header: metadata value '", mk, "' is not a string");
        out.metadata.emplace_back(mk, mv.get<std::string>());
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      malformed(src, "invalid JSON in header: tensor '", key,
                "' needs dtype, shape and data_offsets");
    const json& dt = v["dtype"];
    const STDType* type = nullptr;
    for (const auto& t : kTypes)
      if (dt.is_string() && dt.get<std::string>() == t.name) type = &t;
    if (!type)
      malformed(src, "invalid JSON in header: unknown dtype ", dt.dump(), " of '", key, "'");
    if (!type->dtype)
      malformed(src, "tensor '", key, "' has dtype ", type->name, ", which wick lacks");
    const json& shape = v["shape"];
    const json& offs = v["data_offsets"];
    if (!shape.is_array() || !offs.is_array() || offs.size() != 2)
      malformed(src, "invalid JSON in header: bad shape or data_offsets of '", key, "'");
    Entry e{key,
            *type->dtype,
            {},
            uint_of(offs[0], key, "data_offsets"),
            uint_of(offs[1], key, "data_offsets")};
    for (const json& d : shape) {
      uint64_t s = uint_of(d, key, "shape");
      if (s > uint64_t(INT64_MAX)) malformed(src, "shape of '", key, "' overflows");
      e.shape.push_back(int64_t(s));
    }
    entries.push_back(std::move(e));
  }

  // The byte ranges must tile the data section exactly (docs/formats.md §4.3, rule 5).
  std::vector<Entry*> by_offset;
  for (Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  uint64_t expect = 0;
  for (const Entry* e : by_offset) {
    if (e->begin != expect || e->end < e->begin)
      malformed(src, "invalid offset for tensor '", e->name, "': [", e->begin, ", ", e->end,
                ") where ", expect,
                " was expected (ranges must tile the data without holes or "
                "overlaps)");
    uint64_t numel = 1, nbytes;
    for (int64_t s : e->shape)
      if (__builtin_mul_overflow(numel, uint64_t(s), &numel))
        malformed(src, "overflow computing buffer size of '", e->name, "'");
    if (__builtin_mul_overflow(numel, uint64_t(element_size(e->dtype)), &nbytes))
      malformed(src, "overflow computing buffer size of '", e->name, "'");
    // An empty tensor's strides are the product of its other sizes: that must
    // fit in int64 too.
    int64_t span = 1;
    for (int64_t s : e->shape)
      if (__builtin_mul_overflow(span, std::max<int64_t>(s, 1), &span))
        malformed(src, "shape ", e->shape, " of tensor '", e->name,
                  "' is too large (its strides overflow)");
    if (nbytes != e->end - e->begin)
      malformed(src, "invalid shape, data type, or offset for tensor '", e->name, "': ", e->shape,
                " ", e->dtype, " needs ", nbytes, " bytes, the range holds ", e->end - e->begin);
    expect = e->end;
  }
  uint64_t data_start = 8 + n;
  if (expect != src.size() - data_start)
    malformed(src, "incomplete metadata, file not fully covered: tensors end at byte ",
              data_start + expect, " of ", src.size());

  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  for (const Entry& e : entries) {
    uint64_t off = data_start + e.begin;
    size_t nbytes = size_t(e.end - e.begin);
    std::shared_ptr<Storage> s;
    if (src.mapped() && off % uint64_t(element_size(e.dtype)) == 0) {
      s = Storage::from_mapped(src.mapped(), size_t(off), nbytes);
    } else {
      s = detail::allocate_storage(nbytes);
      src.read(off, s->data(), nbytes, "data of '" + e.name + "'");
    }
    if (e.dtype == DType::Bool)
      for (size_t i = 0; i < nbytes; ++i)
        if (uint8_t(s->data()[i]) > 1)
          malformed(src, "bool tensor '", e.name, "' holds byte ", int(s->data()[i]));
    Tensor t;
    try {
      t = make_tensor(std::move(s), e.dtype, e.shape, wick::detail::contiguous_strides(e.shape));
    } catch (const Error& err) {
      malformed(src, "tensor '", e.name, "': ", err.what());
    }
    if (options.floating_dtype && is_floating_point(t.dtype())) t = t.to(*options.floating_dtype);
    out.tensors.set(e.name, t);
  }
  return out;
}

void write(const Dict& tensors, const std::vector<std::pair<std::string, std::string>>& metadata,
           const SaveOptions& options, detail::Sink sink) {
  struct Item {
    std::string name;
    Tensor t;  // as given: cast and made contiguous only when written
    DType dtype;
    const STDType* type;
  };
  std::vector<Item> items;
  uint64_t total = 0, done = 0;
  for (const auto& [k, v] : tensors) {
    WICK_CHECK(k.is_string(), "save_safetensors: keys must be str, got ", k.type_name());
    WICK_CHECK(v.is_tensor(), "save_safetensors: '", k.as_string(), "' is a ", v.type_name(),
               ", not a tensor");
    DType dtype = v.as_tensor().dtype();
    if (options.floating_dtype && is_floating_point(dtype)) dtype = *options.floating_dtype;
    const STDType* type = type_of(dtype);
    WICK_CHECK(type, "save_safetensors: '", k.as_string(), "' is ", dtype,
               ", which safetensors cannot hold (the format has no name for it)",
               is_complex(dtype) ? "; convert it with .to(wick::DType::Complex64) first" : "");
    items.push_back({k.as_string(), v.as_tensor(), dtype, type});
    total += uint64_t(v.as_tensor().numel() * element_size(dtype));
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.type->rank != b.type->rank) return a.type->rank > b.type->rank;
    return a.name < b.name;
  });
  // The header is built as text: a json object would cost more per key than
  // the file's size justifies (docs/formats.md §4.4 gives its exact form).
  auto quoted = [](const std::string& s) { return json(s).dump(); };
  std::string header = "{";
  if (!metadata.empty()) {
    // A repeated key keeps its first place and takes its last value.
    std::vector<std::pair<const std::string*, const std::string*>> meta;
    std::unordered_map<std::string_view, size_t> place;
    place.reserve(metadata.size());
    for (const auto& [k, v] : metadata) {
      WICK_CHECK(detail::valid_utf8(k) && detail::valid_utf8(v),
                 "save_safetensors: metadata is not UTF-8");
      auto [it, fresh] = place.try_emplace(k, meta.size());
      if (fresh)
        meta.emplace_back(&k, &v);
      else
        meta[it->second].second = &v;
    }
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < meta.size(); ++i) {
      if (i) header += ',';
      header += quoted(*meta[i].first);
      header += ':';
      header += quoted(*meta[i].second);
    }
    header += "}";
  }
  uint64_t offset = 0;
  for (const Item& it : items) {
    WICK_CHECK(detail::valid_utf8(it.name), "save_safetensors: name is not UTF-8");
    WICK_CHECK(it.name != "__metadata__", "save_safetensors: '__metadata__' is reserved");
    uint64_t n = uint64_t(it.t.numel() * element_size(it.dtype));
    if (header.size() > 1) header += ',';
    header += quoted(it.name);
    header += ":{\"dtype\":\"";
    header += it.type->name;
    header += "\",\"shape\":[";
    for (size_t d = 0; d < it.t.sizes().size(); ++d) {
      if (d) header += ',';
      header += std::to_string(it.t.sizes()[d]);
    }
    header += "],\"data_offsets\":[";
    header += std::to_string(offset);
    header += ',';
    header += std::to_string(offset + n);
    header += "]}";
    offset += n;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  uint64_t len = header.size();
  sink(&len, 8);
  sink(header.data(), header.size());
  // One tensor is converted at a time, so a cast or a view costs memory for
  // that tensor only; big ones are written in parts for progress reports.
  constexpr size_t kChunk = size_t(64) << 20;
  for (const Item& it : items) {
    Tensor t = it.t.to(it.dtype).contiguous();
    const auto* p = static_cast<const std::byte*>(t.data_ptr());
    size_t n = size_t(t.nbytes());
    for (size_t off = 0; off < n;) {
      size_t m = std::min(n - off, kChunk);
      sink(p + off, m);
      off += m;
      done += m;
      if (options.progress) options.progress(done, total);
    }
  }
  if (options.progress) options.progress(total, total);
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path, const LoadOptions& options) {
  Source src = options.mmap ? Source::map(path) : Source::file(path);
  return load_source(src, options);
}

SafetensorsFile load_safetensors_bytes(std::span<const std::byte> bytes,
                                       const LoadOptions& options) {
  return load_source(Source::memory(bytes), options);
}

void save_safetensors(const Dict& tensors, const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& metadata,
                      const SaveOptions& options) {
  detail::AtomicFile file(path);
  write(tensors, metadata, options, [&](const void* p, size_t n) { file.write(p, n); });
  file.commit(options.fsync);
}

std::vector<std::byte> save_safetensors_bytes(
    const Dict& tensors, const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::vector<std::byte> out;
  write(tensors, metadata, {}, [&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const std::byte*>(p), static_cast<const std::byte*>(p) + n);
  });
  return out;
}

}  // namespace wick::io
