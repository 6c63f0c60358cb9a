// Sequential, ModuleList and ModuleDict (torch/nn/modules/container.py).
#include "wick/nn/container.h"

#include <algorithm>

namespace wick::nn {

Module& ModuleSequence::operator[](size_t index) const {
  WICK_CHECK_AS(IndexError, index < items_.size(), name(), ": index ", index,
                " is out of range for ", items_.size(), " modules");
  return *items_[index];
}

std::shared_ptr<Module> ModuleSequence::ptr(size_t index) const {
  (*this)[index];  // range check
  return items_[index];
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (Module& m : *this) x = m(x);
  return x;
}

std::string ModuleList::repr() const {
  if (empty()) return name() + "()";
  // Runs of consecutive children with the same repr print once, with their
  // index range and count (PyTorch 2.x).
  struct Run {
    size_t start, end;
    std::string repr;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < size(); ++i) {
    std::string r = (*this)[i].repr();
    if (!runs.empty() && runs.back().repr == r)
      runs.back().end = i;
    else
      runs.push_back({i, i, std::move(r)});
  }
  std::string s = name() + "(";
  for (const Run& run : runs) {
    std::string line = run.start == run.end
                           ? wick::detail::concat("(", run.start, "): ", run.repr)
                           : wick::detail::concat("(", run.start, "-", run.end,
                                                  "): ", run.end - run.start + 1, " x ", run.repr);
    std::string indented;
    for (char c : line) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    s += "\n  " + indented;
  }
  return s + "\n)";
}

bool ModuleDict::contains(std::string_view key) const {
  return std::any_of(items_.begin(), items_.end(), [&](const Entry& e) { return e.first == key; });
}

Module& ModuleDict::operator[](std::string_view key) const {
  for (const auto& [k, m] : items_)
    if (k == key) return *m;
  throw Error(wick::detail::concat(name(), ": no module under key \"", key, "\""));
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, m] : items_) out.push_back(k);
  return out;
}

}  // namespace wick::nn
