// safetensors reading and writing (docs/formats.md §4).
#include "wick/io/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/layout.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "wick/core/tensor.h"

namespace wick::io {

using detail::Source;
using json = nlohmann::ordered_json;

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
  try {
    j = json::parse(header);
  } catch (const json::exception& e) {
    malformed(src, "invalid JSON in header: ", e.what());
  }
  if (!j.is_object()) malformed(src, "invalid JSON in header: not an object");

  SafetensorsFile out;
  std::vector<Entry> entries;
  auto uint_of = [&](const json& v, const std::string& name, const char* what) -> uint64_t {
    if (!v.is_number_unsigned())
      malformed(src, "invalid JSON in header: ", what, " of tensor '", name,
                "' must be a non-negative integer, got ", v.dump());
    return v.get<uint64_t>();
  };
  for (const auto& [key, v] : j.items()) {
    if (key == "__metadata__") {
      if (!v.is_object()) malformed(src, "invalid JSON in header: __metadata__ is not an object");
      for (const auto& [mk, mv] : v.items()) {
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
  json j = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) {
      WICK_CHECK(detail::valid_utf8(k) && detail::valid_utf8(v),
                 "save_safetensors: metadata is not UTF-8");
      m[k] = v;
    }
    j["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const Item& it : items) {
    WICK_CHECK(detail::valid_utf8(it.name), "save_safetensors: name is not UTF-8");
    WICK_CHECK(it.name != "__metadata__", "save_safetensors: '__metadata__' is reserved");
    uint64_t n = uint64_t(it.t.numel() * element_size(it.dtype));
    j[it.name] = {
        {"dtype", it.type->name}, {"shape", it.t.sizes()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string header = j.dump();
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
