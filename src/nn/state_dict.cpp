// StateDict: ordered name -> tensor with PyTorch's _metadata, its conversion
// to and from Value, and the key-renaming helpers.
#include "wick/nn/state_dict.h"

#include "core/ordered_index.h"

namespace wick::nn {

StateDict::StateDict(const Value& value) {
  WICK_CHECK(value.is_dict(), "state_dict: expected a dict of str -> Tensor, got ",
             value.type_name());
  const Dict& dict = value.as_dict();
  for (const auto& [key, v] : dict) {
    WICK_CHECK(key.is_string(), "state_dict: key ", key.repr(), " is a ", key.type_name(),
               ", not a str");
    WICK_CHECK(v.is_tensor(), "state_dict: the value of \"", key.as_string(), "\" is a ",
               v.type_name(), ", not a Tensor");
    set(key.as_string(), v.as_tensor());
  }
  // PyTorch reads _metadata leniently (a missing version means "unknown"), and
  // so do we: entries that are not prefix -> {"version": int} are skipped.
  const Value& meta = dict.metadata();
  if (!meta.is_dict()) return;
  for (const auto& [prefix, local] : meta.as_dict()) {
    if (!prefix.is_string() || !local.is_dict()) continue;
    const Value* version = local.as_dict().find("version");
    if (version && version->is_int()) metadata_.emplace_back(prefix.as_string(), version->as_int());
  }
}

const Tensor* StateDict::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

const Tensor& StateDict::at(std::string_view key) const {
  const Tensor* t = find(key);
  WICK_CHECK(t, "state_dict: no key \"", key, "\"");
  return *t;
}

void StateDict::set(std::string key, Tensor value) {
  WICK_CHECK(value.defined(), "state_dict: the value of \"", key, "\" is an undefined tensor");
  auto [it, inserted] = index_.emplace(key, items_.size());
  if (inserted)
    items_.emplace_back(std::move(key), std::move(value));
  else
    items_[it->second].second = std::move(value);
}

bool StateDict::erase(std::string_view key) {
  auto it = index_.find(std::string(key));
  if (it == index_.end()) return false;
  wick::detail::erase_ordered(index_, items_, it);
  return true;
}

std::vector<std::string> StateDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, t] : items_) out.push_back(k);
  return out;
}

std::optional<int64_t> StateDict::version(std::string_view prefix) const {
  for (const auto& [p, v] : metadata_)
    if (p == prefix) return v;
  return std::nullopt;
}

Value StateDict::to_value() const {
  Dict dict(/*ordered=*/true);
  for (const auto& [k, t] : items_) dict.set(k, t);
  if (!metadata_.empty()) {
    Dict meta(/*ordered=*/true);
    for (const auto& [prefix, version] : metadata_) {
      Dict local;
      local.set("version", version);
      meta.set(prefix, local);
    }
    dict.set_metadata(meta);
  }
  return dict;
}

namespace {

// Sets `key` in metadata, replacing an existing entry in place (as Python's
// dict assignment does).
void set_version(std::vector<std::pair<std::string, int64_t>>& meta, std::string key,
                 int64_t version) {
  for (auto& [k, v] : meta)
    if (k == key) {
      v = version;
      return;
    }
  meta.emplace_back(std::move(key), version);
}

}  // namespace

StateDict strip_prefix(const StateDict& sd, std::string_view prefix) {
  StateDict out;
  for (const auto& [k, t] : sd) out.set(k.starts_with(prefix) ? k.substr(prefix.size()) : k, t);
  // As torch's consume_prefix_in_state_dict_if_present: the wrapper's own
  // module ("module" for "module.") becomes the root "".
  std::string_view bare = prefix.ends_with('.') ? prefix.substr(0, prefix.size() - 1) : prefix;
  std::vector<std::pair<std::string, int64_t>> meta;
  for (const auto& [k, v] : sd.metadata()) {
    if (!k.empty() && (k == bare || k.starts_with(prefix)))
      set_version(meta, k == bare ? std::string() : k.substr(prefix.size()), v);
    else
      set_version(meta, k, v);
  }
  out.set_metadata(std::move(meta));
  return out;
}

StateDict add_prefix(const StateDict& sd, std::string_view prefix) {
  StateDict out;
  for (const auto& [k, t] : sd) out.set(std::string(prefix) + k, t);
  std::string_view bare = prefix.ends_with('.') ? prefix.substr(0, prefix.size() - 1) : prefix;
  std::vector<std::pair<std::string, int64_t>> meta;
  for (const auto& [k, v] : sd.metadata())
    meta.emplace_back(k.empty() ? std::string(bare) : std::string(prefix) + k, v);
  out.set_metadata(std::move(meta));
  return out;
}

StateDict rename_keys(const StateDict& sd,
                      const std::function<std::string(const std::string&)>& fn) {
  StateDict out;
  for (const auto& [k, t] : sd) {
    std::string renamed = fn(k);
    if (renamed.empty()) continue;
    WICK_CHECK(!out.contains(renamed), "rename_keys: \"", k, "\" is renamed to \"", renamed,
               "\", which another key was already renamed to");
    out.set(std::move(renamed), t);
  }
  out.set_metadata(sd.metadata());
  return out;
}

}  // namespace wick::nn
