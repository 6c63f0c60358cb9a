// Internal: the bookkeeping of an insertion-ordered map kept as a vector of
// items plus an index from key to position (Dict, nn::StateDict).
#pragma once

#include <cstddef>

namespace wick::detail {

/// Removes the entry `it` of `index` and its item, then moves the positions
/// of the items after it down by one.
template <class Index, class Items>
void erase_ordered(Index& index, Items& items, typename Index::iterator it) {
  const size_t pos = it->second;
  index.erase(it);
  items.erase(items.begin() + std::ptrdiff_t(pos));
  for (auto& entry : index)
    if (entry.second > pos) --entry.second;
}

}  // namespace wick::detail
