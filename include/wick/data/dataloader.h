// DataLoader: batches of a dataset, optionally shuffled, prepared ahead of time
// on a background thread (torch.utils.data.DataLoader with a DistributedSampler-
// style, epoch-seeded shuffle).
//
//   wick::data::DataLoader loader(train_set, {.batch_size = 64, .shuffle = true, .seed = 0});
//   for (int epoch = start_epoch; epoch < epochs; ++epoch) {
//     loader.set_epoch(epoch);           // order = f(seed, epoch): resumable
//     for (wick::data::Batch& b : loader) train_step(b.input, b.target);
//   }
//
// Order: with shuffle, each pass visits a permutation that depends only on
// (seed, epoch); without, indices go 0, 1, 2, .... Each begin() uses epoch()
// and then advances it by one, so a plain loop over epochs gets a new order
// per epoch, and a run resumed with set_epoch(k) sees exactly the batches an
// uninterrupted run saw in epoch k.
//
// Prefetch: with prefetch > 0 a worker thread fills a queue of up to `prefetch`
// batches (gather + transform) while the caller trains on the current one.
// Breaking out of the loop, or destroying the iterator, stops and joins the
// worker; an exception thrown in the worker (by the dataset or the transform)
// is rethrown to the caller from the iterator's ++ (or from begin()).
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <vector>

#include "wick/data/dataset.h"
#include "wick/data/transforms.h"

namespace wick::data {

/// DataLoader settings (PyTorch's names where it has them).
struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  /// Seed of the shuffle; the order of epoch e depends only on (seed, e).
  uint64_t seed = 0;
  /// Drop the last batch when it would be smaller than batch_size.
  bool drop_last = false;
  /// Batches prepared ahead on a worker thread; 0 prepares each batch on the
  /// caller's thread when it is needed (no thread).
  int64_t prefetch = 2;
  /// Applied to each batch (on the worker thread when prefetch > 0). May be empty.
  Transform transform = nullptr;
};

namespace detail {
struct EpochRun;  // one pass over the data: order, queue, worker thread
}

class DataLoader {
 public:
  /// Borrows `dataset`, which must outlive the loader and its iterators.
  /// Throws wick::Error for batch_size < 1 or prefetch < 0.
  DataLoader(const Dataset& dataset, DataLoaderOptions options = {});
  /// Shares ownership of `dataset`.
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});

  /// Number of batches per epoch: ceil(N / batch_size), or floor with drop_last.
  int64_t size() const;
  /// The epoch the next begin() will use.
  int64_t epoch() const { return epoch_; }
  /// Makes the next begin() use epoch `e` (and later ones e + 1, ...).
  void set_epoch(int64_t e) { epoch_ = e; }
  /// The order of dataset indices epoch `e` visits (size() * batch_size entries
  /// or fewer; the last batch's may be short).
  std::vector<int64_t> indices(int64_t e) const;
  const DataLoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return *dataset_; }

  /// An input iterator over one epoch's batches; move-only. Owns the pass:
  /// destroying it stops the worker thread.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;

    Iterator();
    explicit Iterator(std::unique_ptr<detail::EpochRun> run);
    Iterator(Iterator&&) noexcept;
    Iterator& operator=(Iterator&&) noexcept;
    ~Iterator();

    /// The current batch; valid until the next ++.
    Batch& operator*() const;
    Batch* operator->() const { return &**this; }
    /// Moves to the next batch; rethrows an exception raised while preparing it.
    Iterator& operator++();
    void operator++(int) { ++*this; }
    /// True once every batch of the epoch has been visited.
    bool operator==(std::default_sentinel_t) const;

   private:
    std::unique_ptr<detail::EpochRun> run_;
  };

  /// Starts a pass over epoch(), then advances epoch() by one.
  Iterator begin();
  std::default_sentinel_t end() const { return {}; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
};

}  // namespace wick::data
