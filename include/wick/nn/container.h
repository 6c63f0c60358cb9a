// Containers: Sequential, ModuleList and ModuleDict, as in torch.nn.
//
// Each holds child modules registered under their position ("0", "1", ...) or
// their key, so state_dict keys read `features.0.weight` as in PyTorch.
//
//   nn::Sequential mlp(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 2));
//   Tensor y = mlp(x);                            // children applied in order
//   nn::Linear& first = mlp.at<nn::Linear>(0);    // typed, checked access
//   nn::Sequential heads;
//   heads.push_back("head", nn::Linear(8, 10));    // named: `heads.head.weight`
//
//   nn::ModuleList blocks;
//   for (int i = 0; i < 3; ++i) blocks.push_back(nn::Linear(8, 8));
//   for (nn::Module& block : blocks) x = block(x);
//
//   nn::ModuleDict heads;
//   heads.insert("cls", nn::Linear(8, 10));
//   Tensor logits = heads["cls"](x);
//
// Modules are passed by value (moved in) or as std::shared_ptr (shared with
// the caller). Write `nn::Sequential seq{nn::ReLU(), nn::Tanh()}` with braces
// when every argument is default-constructed: with parentheses C++ would read
// a function declaration. Note that `nn::Sequential(nn::Sequential(a, b))` is the inner
// Sequential itself (C++ elides the copy), not a Sequential nesting it; use
// push_back to nest a lone Sequential.
#pragma once

#include <concepts>
#include <cstddef>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "wick/core/error.h"
#include "wick/nn/module.h"

namespace wick::nn {

namespace container_detail {
template <class T>
struct is_module_ptr : std::false_type {};
template <class M>
struct is_module_ptr<std::shared_ptr<M>> : std::bool_constant<std::derived_from<M, Module>> {};
}  // namespace container_detail

/// What a container constructor accepts: a module moved in, or a shared_ptr
/// to one.
template <class T>
concept ModuleArg = (std::derived_from<std::remove_cvref_t<T>, Module> &&
                     !std::is_lvalue_reference_v<T>) ||
                    container_detail::is_module_ptr<std::remove_cvref_t<T>>::value;

/// Iterates over shared_ptr<Module>s as Module&.
class ModuleIterator {
 public:
  using Base = std::vector<std::shared_ptr<Module>>::const_iterator;
  using iterator_category = std::forward_iterator_tag;
  using value_type = Module;
  using difference_type = std::ptrdiff_t;
  using pointer = Module*;
  using reference = Module&;

  ModuleIterator() = default;
  explicit ModuleIterator(Base it) : it_(it) {}
  Module& operator*() const { return **it_; }
  Module* operator->() const { return it_->get(); }
  ModuleIterator& operator++() {
    ++it_;
    return *this;
  }
  ModuleIterator operator++(int) {
    ModuleIterator old = *this;
    ++it_;
    return old;
  }
  bool operator==(const ModuleIterator&) const = default;

 private:
  Base it_;
};

/// `m` as an M; throws wick::Error naming `where` and both classes if it is
/// another class.
template <class M>
M& module_cast(Module& m, std::string_view where = "module") {
  auto* typed = dynamic_cast<M*>(&m);
  WICK_CHECK(typed, where, " is a ", m.name(), ", not a ", class_name(typeid(M)));
  return *typed;
}

/// The common part of Sequential and ModuleList: children named by position.
class ModuleSequence : public Module {
 public:
  ModuleSequence() = default;
  /// Registers each argument in order as "0", "1", ...
  template <ModuleArg... Ms>
  requires(sizeof...(Ms) > 0) explicit ModuleSequence(Ms&&... modules) {
    (push_back(std::forward<Ms>(modules)), ...);
  }
  /// Registers each module in order as "0", "1", ...
  explicit ModuleSequence(const std::vector<std::shared_ptr<Module>>& modules) {
    for (const auto& m : modules) push_back(m);
  }

  /// Appends a module under the name str(size()); returns the stored module.
  template <std::derived_from<Module> M>
  M& push_back(M module) {
    return push_back(std::make_shared<M>(std::move(module)));
  }
  template <std::derived_from<Module> M>
  M& push_back(std::shared_ptr<M> module) {
    return push_back_named(std::to_string(items_.size()), std::move(module));
  }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  /// The module at `index`; throws wick::IndexError when out of range.
  Module& operator[](size_t index) const;
  /// The module at `index` as an M; throws wick::Error if it is another class.
  template <class M>
  M& at(size_t index) const {
    return module_cast<M>((*this)[index], name() + "[" + std::to_string(index) + "]");
  }
  /// The module at `index`, shared.
  std::shared_ptr<Module> ptr(size_t index) const;

  ModuleIterator begin() const { return ModuleIterator(items_.begin()); }
  ModuleIterator end() const { return ModuleIterator(items_.end()); }

 protected:
  /// Appends `module` registered under `name`.
  template <std::derived_from<Module> M>
  M& push_back_named(std::string name, std::shared_ptr<M> module) {
    M& ref = register_module(std::move(name), module);
    items_.push_back(std::move(module));
    return ref;
  }

 private:
  std::vector<std::shared_ptr<Module>> items_;
};

/// Applies its children in order: forward(x) = child_n(...child_0(x)).
/// The repr is the default one (as PyTorch's).
class Sequential : public ModuleSequence {
 public:
  using ModuleSequence::ModuleSequence;
  using ModuleSequence::push_back;
  /// Appends a module under `name` rather than its position, as PyTorch's
  /// Sequential(OrderedDict(...)) names its children (torchvision's ViT:
  /// `encoder.layers.encoder_layer_0`, `heads.head`). It still runs in
  /// order and is still reachable by position through operator[]. Throws
  /// wick::Error if the name is taken or contains a '.'.
  template <std::derived_from<Module> M>
  M& push_back(std::string name, M module) {
    return push_back_named(std::move(name), std::make_shared<M>(std::move(module)));
  }
  template <std::derived_from<Module> M>
  M& push_back(std::string name, std::shared_ptr<M> module) {
    return push_back_named(std::move(name), std::move(module));
  }
  Tensor forward(const Tensor& input) override;
};

/// A list of modules, registered by position. It has no forward. Its repr
/// collapses runs of children with the same repr into "(0-2): 3 x Linear(...)",
/// as PyTorch 2.x prints.
class ModuleList : public ModuleSequence {
 public:
  using ModuleSequence::ModuleSequence;
  /// push_back under Python's name.
  template <std::derived_from<Module> M>
  M& append(M module) {
    return push_back(std::move(module));
  }
  template <std::derived_from<Module> M>
  M& append(std::shared_ptr<M> module) {
    return push_back(std::move(module));
  }
  std::string repr() const override;
};

/// An ordered dict of modules, registered under their keys.
class ModuleDict : public Module {
 public:
  using Entry = std::pair<std::string, std::shared_ptr<Module>>;

  ModuleDict() = default;
  /// Inserts each entry in order: ModuleDict({{"conv", conv}, {"pool", pool}}).
  explicit ModuleDict(const std::vector<Entry>& entries) {
    for (const auto& [key, m] : entries) insert(key, m);
  }

  /// Adds a module under `key` (a new key: registration names are unique) and
  /// returns the stored module.
  template <std::derived_from<Module> M>
  M& insert(std::string key, M module) {
    return insert(std::move(key), std::make_shared<M>(std::move(module)));
  }
  template <std::derived_from<Module> M>
  M& insert(std::string key, std::shared_ptr<M> module) {
    M& ref = register_module(key, module);
    items_.emplace_back(std::move(key), std::move(module));
    return ref;
  }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  bool contains(std::string_view key) const;
  /// The module under `key`; throws wick::Error naming the key if absent.
  Module& operator[](std::string_view key) const;
  /// The module under `key` as an M; throws wick::Error if it is another class.
  template <class M>
  M& at(std::string_view key) const {
    return module_cast<M>((*this)[key], name() + "[\"" + std::string(key) + "\"]");
  }
  std::vector<std::string> keys() const;
  /// The entries in insertion order.
  const std::vector<Entry>& items() const { return items_; }

 private:
  std::vector<Entry> items_;
};

}  // namespace wick::nn
