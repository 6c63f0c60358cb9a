// The legacy stream format (torch <= 1.5, or _use_new_zipfile_serialization=False).
#include "io/legacy.h"

#include <cstring>
#include <unordered_map>

#include "io/pickle.h"
#include "io/records.h"
#include "io/sniff.h"

namespace wick::io::detail {

Value load_legacy(const Source& src, size_t max_depth, bool extract_state_dict) {
  // The pickles are parsed in place; a file source is mapped for that while
  // the storages are still copied out, so no mapping outlives the load.
  Source mapped;
  const Source* in = &src;
  if (!src.data()) {
    mapped = Source::map(src.name());
    in = &mapped;
  }
  std::span<const std::byte> all(in->data(), size_t(in->size()));
  size_t pos = legacy_magic_size(reinterpret_cast<const unsigned char*>(all.data()), all.size());
  if (pos == 0)
    malformed(src,
              "not a PyTorch checkpoint: invalid magic number (neither a zip archive nor the "
              "legacy format)");
  auto no_storage = [&](const StorageRef&) -> std::shared_ptr<Storage> {
    malformed(src, "unexpected storage in the legacy header");
  };
  auto next = [&](const StorageResolver& resolve, const char* what, bool objects = false) {
    UnpickleOptions o;
    o.max_depth = max_depth;
    if (objects && extract_state_dict) o.records = Records::Any;
    o.what = src.name() + ": " + what + " pickle at byte " + std::to_string(pos);
    size_t used = 0;
    Value v = unpickle(all.subspan(pos), resolve, o, &used);
    pos += used;
    return v;
  };
  Value protocol = next(no_storage, "protocol");
  if (!protocol.is_int() || protocol.as_int() != 1001)
    malformed(src, "invalid legacy protocol version ", protocol.repr(), " (expected 1001)");
  next(no_storage, "sys-info");

  struct Pending {
    std::shared_ptr<Storage> storage;
    int64_t numel;
    std::optional<DType> dtype;
    bool filled = false;
  };
  std::unordered_map<std::string, Pending> storages;
  uint64_t declared = 0;
  auto resolve = [&](const StorageRef& ref) -> std::shared_ptr<Storage> {
    // The bytes follow the pickles, so all storages together must fit in the
    // file: checked before anything is allocated.
    declared += uint64_t(ref.nbytes);
    if (declared > src.size())
      malformed(src, "legacy storages declare ", declared, " bytes, more than the file holds (",
                src.size(), ")");
    auto s = allocate_storage(size_t(ref.nbytes));
    storages[ref.key] = {s, ref.numel, ref.dtype};
    return s;
  };
  Value result = next(resolve, "object", /*objects=*/true);
  Value keys = next(no_storage, "storage key list");
  if (!keys.is_list()) malformed(src, "legacy storage key list is a ", keys.type_name());

  for (const Value& k : keys.as_list()) {
    if (!k.is_string()) malformed(src, "legacy storage key ", k.repr(), " is not a str");
    auto it = storages.find(k.as_string());
    if (it == storages.end()) malformed(src, "legacy storage '", k.as_string(), "' is never used");
    Pending& p = it->second;
    int64_t count = 0;
    src.read(pos, &count, 8, "element count of storage '" + k.as_string() + "'");
    pos += 8;
    if (count != p.numel)
      malformed(src, "legacy storage '", k.as_string(), "' holds ", count,
                " elements, the pickle says ", p.numel);
    size_t n = size_t(p.storage->nbytes());
    src.read(pos, p.storage->data(), n, "data of storage '" + k.as_string() + "'");
    pos += n;
    p.filled = true;
  }
  for (const auto& [key, p] : storages)
    if (!p.filled) malformed(src, "legacy storage '", key, "' has no data");
  for (const auto& [key, p] : storages)
    if (p.dtype == DType::Bool)  // any byte but 0 and 1 is undefined as a C++ bool
      for (size_t i = 0; i < p.storage->nbytes(); ++i)
        if (uint8_t(p.storage->data()[i]) > 1)
          malformed(src, "bool storage '", key, "' holds byte ", int(p.storage->data()[i]));
  return extract_state_dict ? extract_module_state_dicts(result) : result;
}

}  // namespace wick::io::detail
