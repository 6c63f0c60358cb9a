// StateDict: a model's parameters and persistent buffers by dotted name.
//
// What `model.state_dict()` returns: an ordered map from names such as
// `conv1.weight` or `layer1.0.bn1.running_mean` to tensors, in PyTorch's order
// (registration order; a module's parameters, then its buffers, then its
// children, depth first). It also carries the per-module versions PyTorch
// stores beside it (its `_metadata`: module prefix -> version), which tell
// loaders how old a layout is (BatchNorm is version 2).
//
//   for (const auto& [name, t] : model.state_dict())
//     std::cout << name << " \t " << t.sizes() << "\n";
//   wick::save(model.state_dict(), "model.pt");              // torch.load reads it
//   model.load_state_dict(wick::load("model.pt"));           // and back
//
// A StateDict converts to and from Value (an OrderedDict with `_metadata`),
// so it can be saved alone or placed inside a general checkpoint. The helpers
// at the bottom rename keys for warm-starting one model from another.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/core/value.h"

namespace wick::nn {

class StateDict {
 public:
  using Item = std::pair<std::string, Tensor>;

  StateDict() = default;
  /// Reads a state_dict from a loaded checkpoint value: a dict (or OrderedDict)
  /// of str -> tensor, `_metadata` included when present. Throws wick::Error
  /// naming the first key that is not a string or whose value is not a tensor.
  explicit StateDict(const Value& value);

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  /// The tensor under `key`, or null.
  const Tensor* find(std::string_view key) const;
  /// The tensor under `key`; throws wick::Error naming the key if absent.
  const Tensor& at(std::string_view key) const;
  /// Sets `key`. A new key goes last; an existing key keeps its place.
  void set(std::string key, Tensor value);
  /// Removes `key`; returns whether it was present.
  bool erase(std::string_view key);

  /// The entries in order.
  const std::vector<Item>& items() const { return items_; }
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }
  std::vector<std::string> keys() const;

  /// PyTorch's `_metadata`: module prefix ("" for the root, "conv1", "layer1.0")
  /// -> that module's version, in module order. Empty when unknown (a file
  /// written without it).
  const std::vector<std::pair<std::string, int64_t>>& metadata() const { return metadata_; }
  void set_metadata(std::vector<std::pair<std::string, int64_t>> metadata) {
    metadata_ = std::move(metadata);
  }
  /// The version recorded for the module at `prefix`, if any.
  std::optional<int64_t> version(std::string_view prefix) const;

  /// An OrderedDict of the entries with `_metadata` as PyTorch pickles it
  /// (prefix -> {"version": n}). Tensors are shared, not copied.
  Value to_value() const;
  /// So a StateDict can be saved or stored in a checkpoint dict directly.
  operator Value() const { return to_value(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::pair<std::string, int64_t>> metadata_;
};

/// The entries whose key starts with `prefix`, with the prefix removed (and
/// metadata renamed alike); other entries are kept unchanged. strip_prefix(sd,
/// "module.") undoes the names DataParallel leaves.
StateDict strip_prefix(const StateDict& sd, std::string_view prefix);
/// Every key (and metadata prefix) with `prefix` put in front.
StateDict add_prefix(const StateDict& sd, std::string_view prefix);
/// Every key renamed by `fn`; an empty result drops the entry. Throws
/// wick::Error when two keys are renamed to the same name.
StateDict rename_keys(const StateDict& sd,
                      const std::function<std::string(const std::string&)>& fn);

}  // namespace wick::nn
