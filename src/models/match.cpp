// State_dicts against architectures: classifier_keys, num_classes,
// compare_state_dict, match_architecture, from_state_dict (registry.h).
//
// Nothing here lists models. An architecture's keys and shapes are read off
// the model itself, built with initialisation skipped (its parameters are
// allocated but never written, so even the largest costs next to nothing),
// and its classifier is what changes shape between two class counts. A family
// added to the registry is covered without a line here.
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "wick/core/error.h"
#include "wick/models/registry.h"
#include "wick/nn/init.h"

namespace wick::models {

namespace {

struct Signature {
  struct Entry {
    std::string key;
    Shape shape;  // with num_classes = 1000
    // Bit d set: dimension d is the class count.
    uint64_t class_dims = 0;
  };
  std::vector<Entry> entries;  // in state_dict order
  std::unordered_map<std::string, size_t> index;
  std::vector<std::string> classifier_keys;
};

std::vector<std::pair<std::string, Shape>> shapes_of(std::string_view name, int64_t classes) {
  nn::init::SkipInitGuard skip;
  std::unique_ptr<nn::Module> model =
      create(name, {.num_classes = classes, .dropout = std::nullopt});
  std::vector<std::pair<std::string, Shape>> out;
  for (const auto& [key, t] : model->state_dict()) out.emplace_back(key, t.sizes());
  return out;
}

const Signature& signature(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Signature>, std::less<>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(name); it != cache.end()) return *it->second;
  // Two class counts no layer size equals by chance.
  const auto a = shapes_of(name, 1000), b = shapes_of(name, 7);
  auto sig = std::make_unique<Signature>();
  WICK_CHECK(a.size() == b.size(), "models: '", name,
             "' has different state_dict keys for different class counts");
  for (size_t i = 0; i < a.size(); ++i) {
    Signature::Entry e{a[i].first, a[i].second, 0};
    WICK_CHECK(b[i].first == e.key && b[i].second.size() == e.shape.size() && e.shape.size() < 64,
               "models: '", name, "' has a different entry ", b[i].first,
               " for another class count");
    for (size_t d = 0; d < e.shape.size(); ++d)
      if (e.shape[d] != b[i].second[d]) e.class_dims |= uint64_t(1) << d;
    if (e.class_dims) sig->classifier_keys.push_back(e.key);
    sig->index.emplace(e.key, sig->entries.size());
    sig->entries.push_back(std::move(e));
  }
  return *cache.emplace(std::string(name), std::move(sig)).first->second;
}

std::string shape_text(const Shape& s, uint64_t class_dims) {
  std::ostringstream os;
  os << "[";
  for (size_t d = 0; d < s.size(); ++d) {
    if (d) os << ", ";
    if (class_dims >> d & 1)
      os << "classes";
    else
      os << s[d];
  }
  os << "]";
  return os.str();
}

bool same_shape(const Signature::Entry& e, const Shape& shape) {
  if (shape.size() != e.shape.size()) return false;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!(e.class_dims >> d & 1) && shape[d] != e.shape[d]) return false;
  return true;
}

void list(std::ostringstream& os, size_t count, const char* what, const char* whats,
          const std::vector<std::string>& items, size_t show, bool quote) {
  if (items.empty()) return;
  if (os.tellp() > 0) os << "; ";
  os << count << " " << (count == 1 ? what : whats) << " (";
  for (size_t i = 0; i < std::min(show, items.size()); ++i)
    os << (i ? ", " : "") << (quote ? "'" : "") << items[i] << (quote ? "'" : "");
  if (items.size() > show) os << ", ...";
  os << ")";
}

}  // namespace

std::string StateDictMismatch::summary(size_t show) const {
  std::ostringstream os;
  list(os, unexpected_keys.size(), "unexpected key", "unexpected keys", unexpected_keys, show,
       true);
  list(os, missing_keys.size(), "missing key", "missing keys", missing_keys, show, true);
  list(os, shape_mismatches.size(), "shape mismatch", "shape mismatches", shape_mismatches, show,
       false);
  return os.str();
}

const std::vector<std::string>& classifier_keys(std::string_view name) {
  return signature(name).classifier_keys;
}

int64_t num_classes(std::string_view name, const nn::StateDict& sd) {
  const Signature& sig = signature(name);
  WICK_CHECK(!sig.classifier_keys.empty(), "models: '", name,
             "' has no entry whose size is the class count");
  int64_t classes = -1;
  std::string first;
  for (const std::string& key : sig.classifier_keys) {
    const Signature::Entry& e = sig.entries[sig.index.at(key)];
    const Tensor* t = sd.find(key);
    WICK_CHECK(t, "the state_dict has no '", key, "', part of the classifier of '", name, "'");
    WICK_CHECK(same_shape(e, t->sizes()), "the state_dict's '", key, "' has sizes ", t->sizes(),
               " but '", name, "' expects ", shape_text(e.shape, e.class_dims));
    for (size_t d = 0; d < e.shape.size(); ++d) {
      if (!(e.class_dims >> d & 1)) continue;
      if (classes < 0) {
        classes = t->size(int64_t(d));
        first = key;
      }
      WICK_CHECK(t->size(int64_t(d)) == classes, "the state_dict's classifier disagrees on the ",
                 "class count: '", first, "' has ", classes, " classes, '", key, "' sizes ",
                 t->sizes());
    }
  }
  WICK_CHECK(classes >= 1, "the state_dict's classifier of '", name, "' has no classes");
  return classes;
}

StateDictMismatch compare_state_dict(std::string_view name, const nn::StateDict& sd) {
  const Signature& sig = signature(name);
  StateDictMismatch m;
  for (const Signature::Entry& e : sig.entries) {
    const Tensor* t = sd.find(e.key);
    if (!t) {
      m.missing_keys.push_back(e.key);
    } else if (!same_shape(e, t->sizes())) {
      std::ostringstream os;
      os << e.key << ": " << t->sizes() << " in the state_dict, "
         << shape_text(e.shape, e.class_dims) << " in the model";
      m.shape_mismatches.push_back(os.str());
    }
  }
  for (const auto& [key, t] : sd)
    if (!sig.index.contains(key)) m.unexpected_keys.push_back(key);
  return m;
}

std::optional<std::string> match_architecture(const nn::StateDict& sd) {
  for (const std::string& name : architectures()) {
    const Signature& sig = signature(name);
    if (sig.entries.size() == sd.size() && compare_state_dict(name, sd).empty()) return name;
  }
  return std::nullopt;
}

std::unique_ptr<nn::Module> from_state_dict(std::string_view name, const nn::StateDict& sd) {
  const StateDictMismatch mismatch = compare_state_dict(name, sd);
  if (!mismatch.empty()) {
    std::ostringstream os;
    os << "the state_dict does not fit architecture '" << name << "': " << mismatch.summary();
    if (std::optional<std::string> fits = match_architecture(sd))
      os << "; these weights fit '" << *fits << "'";
    else
      os << "; no known architecture fits them";
    throw Error(os.str());
  }
  const CreateOptions options{.num_classes = num_classes(name, sd), .dropout = std::nullopt};
  std::unique_ptr<nn::Module> model;
  {
    nn::init::SkipInitGuard skip;
    model = create(name, options);
  }
  // Uninitialised memory is only safe when the strict load below overwrites
  // everything: a buffer left out of the state_dict (non-persistent) would
  // keep it, so such a model is built again, initialised.
  const nn::StateDict own = model->state_dict();
  for (const auto& [key, buffer] : model->named_buffers()) {
    if (!own.contains(key)) {
      model = create(name, options);
      break;
    }
  }
  model->load_state_dict(sd, /*strict=*/true);
  return model;
}

}  // namespace wick::models
