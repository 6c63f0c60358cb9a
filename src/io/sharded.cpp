// Sharded checkpoints: finding, loading, checking and saving them
// (docs/formats.md §9).
#include "wick/io/sharded.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <unordered_set>

#include "io/file.h"
#include "wick/core/tensor.h"
#include "wick/io/safetensors.h"

namespace wick::io {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";
// What a directory is searched for, in order of preference.
constexpr const char* kLookedFor[] = {kIndexName, kSingleName, "pytorch_model.bin.index.json",
                                      "pytorch_model.bin"};
constexpr uint64_t kMaxIndexBytes = 100000000;  // as for a safetensors header

// A resolved checkpoint with what the checks need from its index.
struct Resolved {
  CheckpointFiles files;
  std::map<std::string, std::string> weight_map;  // key -> shard name
  std::vector<std::vector<std::string>> keys;     // per shard, the keys the index puts there
};

template <class... A>
[[noreturn]] void bad_index(const std::string& index, A&&... a) {
  throw FormatError(wick::detail::concat(index, ": ", std::forward<A>(a)...));
}

// A shard name must stay inside the index's directory. Symbolic links are
// followed: the Hugging Face cache keeps every file of a snapshot as a link
// into a blobs/ directory beside it.
void check_shard_name(const std::string& index, const std::string& key, const std::string& name) {
  if (name.empty()) bad_index(index, "the shard name of key '", key, "' is empty");
  if (name.find('\0') != std::string::npos)
    bad_index(index, "the shard name of key '", key, "' contains a NUL byte");
  fs::path p(name);
  if (p.has_root_directory())
    bad_index(index, "shard '", name, "' of key '", key,
              "' is an absolute path; shard names are relative to the index's directory");
  for (const fs::path& part : p)
    if (part == "..")
      bad_index(index, "shard '", name, "' of key '", key,
                "' has a '..' component, which would leave the index's directory");
}

std::string read_index_text(const std::string& path) {
  detail::Source src = detail::Source::file(path);
  if (src.size() > kMaxIndexBytes)
    bad_index(path, "index too large (", src.size(), " bytes; at most ", kMaxIndexBytes, ")");
  std::string text(size_t(src.size()), '\0');
  src.read(0, text.data(), text.size(), "index");
  return text;
}

Resolved parse_index(const std::string& path) {
  json j;
  try {
    j = json::parse(read_index_text(path));
  } catch (const json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 2, column 13: ..."
    std::string message = e.what();
    if (size_t end = message.find("] "); message.starts_with("[json.") && end != message.npos)
      message.erase(0, end + 2);
    bad_index(path, "invalid JSON: ", message);
  }
  if (!j.is_object()) bad_index(path, "the index is not a JSON object");
  Resolved r;
  r.files.index = path;
  if (j.contains("metadata")) {
    const json& meta = j["metadata"];
    if (!meta.is_object()) bad_index(path, "\"metadata\" is not an object");
    // Only reported: writers disagree on what total_size counts.
    if (meta.contains("total_size") && meta["total_size"].is_number_unsigned())
      r.files.total_size = meta["total_size"].get<uint64_t>();
  }
  if (!j.contains("weight_map")) bad_index(path, "no \"weight_map\"");
  const json& map = j["weight_map"];
  if (!map.is_object()) bad_index(path, "\"weight_map\" is not an object");
  std::set<std::string> names;
  for (const auto& [key, shard] : map.items()) {
    // Its type, not its text: dumping a deeply nested value would recurse.
    if (!shard.is_string())
      bad_index(path, "the shard of key '", key, "' in \"weight_map\" is ",
                shard.is_array() || shard.is_object() ? "an " : "a ", shard.type_name(),
                ", not a string");
    const std::string& name = shard.get_ref<const std::string&>();
    check_shard_name(path, key, name);
    r.weight_map.emplace(key, name);
    names.insert(name);
  }
  fs::path dir = fs::path(path).parent_path();
  for (const std::string& name : names) {
    r.files.names.push_back(name);
    r.files.shards.push_back((dir / name).string());
  }
  r.keys.resize(names.size());
  for (const auto& [key, name] : r.weight_map) {
    size_t i = size_t(std::lower_bound(r.files.names.begin(), r.files.names.end(), name) -
                      r.files.names.begin());
    r.keys[i].push_back(key);
  }
  return r;
}

Resolved resolve(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const char* name : kLookedFor) {
      std::string candidate = (fs::path(path) / name).string();
      if (fs::exists(candidate, ec)) return resolve(candidate);
    }
    std::string looked;
    for (const char* name : kLookedFor) looked += looked.empty() ? name : std::string(", ") + name;
    throw Error(path + ": no checkpoint in this directory (looked for " + looked + ")");
  }
  if (path.ends_with(".json")) return parse_index(path);
  Resolved r;
  r.files.shards = {path};
  r.files.names = {fs::path(path).filename().string()};
  r.keys.resize(1);
  return r;
}

// A shard's tensors in its own order.
struct ShardContents {
  Format format;
  Dict tensors{/*ordered=*/true};
};

ShardContents read_shard(const std::string& path, const LoadOptions& options) {
  ShardContents out{detect_format(path)};
  if (out.format == Format::Safetensors) {
    out.tensors = load_safetensors(path, options).tensors;
    return out;
  }
  Value v = load(path, options);
  if (!v.is_dict())
    throw FormatError(path + ": a shard must hold a dict of str -> tensor, not a " + v.type_name());
  for (const auto& [k, t] : v.as_dict()) {
    if (!k.is_string())
      throw FormatError(path + ": a shard's keys must be str, not " + k.type_name() + " " +
                        k.repr());
    if (!t.is_tensor())
      throw FormatError(path + ": key '" + k.as_string() + "' is of type " + t.type_name() +
                        "; a shard holds tensors only");
    out.tensors.set(k, t);
  }
  return out;
}

void check_exists(const Resolved& r, size_t i) {
  std::error_code ec;
  if (!r.files.index.empty() && !fs::exists(r.files.shards[i], ec))
    bad_index(r.files.index, "shard '", r.files.names[i], "' (of key '", r.keys[i].front(),
              "') does not exist: ", r.files.shards[i]);
}

// Shard i of an indexed checkpoint: present, readable, and holding exactly
// the keys the index puts there. Errors in the shard itself are reported as
// the index's, naming the shard.
ShardContents open_shard(const Resolved& r, size_t i, const LoadOptions& options) {
  const std::string &index = r.files.index, &path = r.files.shards[i], &name = r.files.names[i];
  if (index.empty()) return read_shard(path, options);
  check_exists(r, i);
  ShardContents c;
  try {
    c = read_shard(path, options);
  } catch (const FormatError& e) {
    std::string message = e.what();
    if (message.starts_with(path + ": ")) message.erase(0, path.size() + 2);
    bad_index(index, "shard '", name, "': ", message);
  }
  for (const auto& [k, v] : c.tensors) {
    const std::string& key = k.as_string();
    auto it = r.weight_map.find(key);
    if (it == r.weight_map.end())
      bad_index(index, "key '", key, "' of shard '", name, "' is not in the weight_map");
    if (it->second != name)
      bad_index(index, "key '", key, "' is in shard '", name, "', but the index puts it in '",
                it->second, "'");
  }
  for (const std::string& key : r.keys[i])
    if (!c.tensors.contains(Value(key)))
      bad_index(index, "key '", key, "' is missing from shard '", name,
                "', where the index puts it");
  return c;
}

// Removes `path` if it exists; throws when it exists and cannot be removed.
void remove_if_present(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw Error("cannot remove '" + path + "': " + std::strerror(errno));
}

void sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

CheckpointFiles resolve_checkpoint(const std::string& path) {
  return resolve(path).files;
}

ShardedCheckpoint load_sharded(const std::string& path, const LoadOptions& options) {
  Resolved r = resolve(path);
  ShardedCheckpoint out;
  out.index = r.files.index;
  out.total_size = r.files.total_size;
  for (size_t i = 0; i < r.files.shards.size(); ++i) {
    ShardContents c = open_shard(r, i, options);
    out.shards.push_back({r.files.names[i], r.files.shards[i], c.format, c.tensors.size()});
    for (const auto& [k, v] : c.tensors) out.tensors.set(k, v);
  }
  return out;
}

ShardedVerifyResult verify_sharded(const std::string& path) {
  ShardedVerifyResult res;
  Resolved r;
  try {
    r = resolve(path);
  } catch (const FormatError& e) {
    res.problem = e.what();
    return res;
  }
  res.files = r.files;
  bool crc = !r.files.shards.empty();
  for (size_t i = 0; i < r.files.shards.size(); ++i) {
    const std::string &index = r.files.index, &shard = r.files.shards[i];
    try {
      check_exists(r, i);
      VerifyResult v = verify(shard);
      if (v.format) res.formats.push_back(*v.format);
      if (!v.ok()) {
        res.problem = index.empty()
                          ? v.problem->str()
                          : index + ": shard '" + r.files.names[i] + "': " + v.problem->str();
        return res;
      }
      crc = crc && v.crc_checked;
      res.tensors += v.tensors;
      res.nbytes += v.nbytes;
      open_shard(r, i, {});  // the index against the shard's keys
    } catch (const Error& e) {
      res.problem = e.what();
      return res;
    }
  }
  res.crc_checked = crc;
  return res;
}

std::string shard_name(size_t index, size_t count) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", index, count);
  return buf;
}

SavedShards save_sharded(const Dict& tensors, const std::string& dir, uint64_t max_shard_size,
                         const SaveOptions& options) {
  WICK_CHECK(max_shard_size > 0, "save_sharded: the largest shard size must be positive");
  // The writer's own checks (str keys, tensors, UTF-8 names, dtypes
  // safetensors has), run on empty tensors of the same names and saved
  // dtypes, so that a dict it would refuse changes nothing in `dir`.
  Dict probe(/*ordered=*/true);
  std::vector<uint64_t> sizes;
  for (const auto& [k, v] : tensors) {
    WICK_CHECK(v.is_tensor(), "save_sharded: '", k.repr(), "' is a ", v.type_name(),
               ", not a tensor");
    DType dt = v.as_tensor().dtype();
    if (options.floating_dtype && is_floating_point(dt)) dt = *options.floating_dtype;
    probe.set(k, empty({0}, {.dtype = dt}));
    sizes.push_back(uint64_t(v.as_tensor().numel()) * uint64_t(element_size(dt)));
  }
  save_safetensors_bytes(probe);

  // Shards in the dict's order: a new one when the next tensor would take
  // the current one over the limit.
  std::vector<Dict> shards(1, Dict(/*ordered=*/true));
  std::vector<uint64_t> shard_bytes(1, 0);
  SavedShards out;
  size_t i = 0;
  for (const auto& [k, v] : tensors) {
    uint64_t n = sizes[i++];
    if (!shards.back().empty() && shard_bytes.back() + n > max_shard_size) {
      shards.emplace_back(/*ordered=*/true);
      shard_bytes.push_back(0);
    }
    shards.back().set(k, v);
    shard_bytes.back() += n;
    out.total_size += n;
  }
  const size_t count = shards.size();
  std::vector<std::string> names;
  json index = {{"metadata", {{"total_size", out.total_size}}}, {"weight_map", json::object()}};
  for (size_t s = 0; s < count; ++s) {
    names.push_back(count == 1 ? kSingleName : shard_name(s + 1, count));
    for (const auto& [k, v] : shards[s]) index["weight_map"][k.as_string()] = names.back();
  }
  // Python's json.dumps(index, indent=2, sort_keys=True): keys sorted by code
  // point (the byte order of UTF-8), non-ASCII escaped.
  std::string index_text = index.dump(2, ' ', /*ensure_ascii=*/true) + "\n";

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot save to '" + dir + "': cannot create the directory: " + ec.message());
  const fs::path d(dir);
  // An earlier index goes first: until the new one is written, the directory
  // then holds no index at all rather than one over a mix of shards.
  remove_if_present((d / kIndexName).string());
  if (options.fsync) sync_directory(dir);

  SaveOptions shard_options = options;
  uint64_t before = 0;
  if (options.progress)
    shard_options.progress = [&](uint64_t done, uint64_t) {
      options.progress(before + done, out.total_size);
    };
  for (size_t s = 0; s < count; ++s) {
    out.shards.push_back((d / names[s]).string());
    save_safetensors(shards[s], out.shards.back(), {{"format", "pt"}}, shard_options);
    before += shard_bytes[s];
  }
  if (count > 1) {
    out.index = (d / kIndexName).string();
    detail::AtomicFile file(out.index);
    file.write(index_text.data(), index_text.size());
    file.commit(options.fsync);
  }

  // The complete save makes what earlier saves left behind unreachable.
  static const std::regex kShardPattern("model-[0-9]{5}-of-[0-9]{5}\\.safetensors");
  std::unordered_set<std::string> written(names.begin(), names.end());
  std::vector<std::string> stale;
  for (const auto& e : fs::directory_iterator(d, ec)) {
    std::string name = e.path().filename().string();
    if (!written.count(name) && std::regex_match(name, kShardPattern) && e.is_regular_file(ec))
      stale.push_back(e.path().string());
  }
  if (count > 1) stale.push_back((d / kSingleName).string());
  for (const std::string& path : stale) remove_if_present(path);
  if (options.fsync && !stale.empty()) sync_directory(dir);
  return out;
}

uint64_t parse_size(std::string_view text) {
  auto fail = [&](const std::string& why) -> uint64_t {
    throw Error(wick::detail::concat("invalid size '", text, "': ", why,
                                     " (a whole number of bytes, or one followed by KB, MB, GB, "
                                     "KiB, MiB or GiB, e.g. 5GB or 500MiB)"));
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return fail("it does not start with a digit");
  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i)
    if (__builtin_mul_overflow(value, uint64_t(10), &value) ||
        __builtin_add_overflow(value, uint64_t(text[i] - '0'), &value))
      return fail("too large");
  std::string unit;
  for (char c : text.substr(digits)) unit += char(std::toupper(static_cast<unsigned char>(c)));
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},
      {"KB", 1000},
      {"MB", 1000000},
      {"GB", 1000000000},
      {"KIB", uint64_t(1) << 10},
      {"MIB", uint64_t(1) << 20},
      {"GIB", uint64_t(1) << 30},
  };
  for (const auto& [name, scale] : kUnits)
    if (unit == name) {
      if (__builtin_mul_overflow(value, scale, &value)) return fail("too large");
      return value;
    }
  return fail("unknown unit '" + std::string(text.substr(digits)) + "'");
}

}  // namespace wick::io
