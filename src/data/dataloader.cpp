// DataLoader: epoch orders, and one pass over them with a bounded prefetch queue
// filled by a worker thread.
#include "wick/data/dataloader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "wick/core/error.h"
#include "wick/core/random.h"

namespace wick::data {

namespace detail {

struct EpochRun {
  std::shared_ptr<const Dataset> dataset;
  Transform transform;
  std::vector<int64_t> order;
  int64_t batch_size = 1;
  int64_t num_batches = 0;
  int64_t prefetch = 0;

  // Consumer side (only the iterator's thread touches these).
  Batch current;
  int64_t consumed = 0;
  bool finished = false;

  // Shared with the worker, under `mutex`.
  std::mutex mutex;
  std::condition_variable not_full, not_empty;
  std::deque<Batch> queue;
  std::exception_ptr error;
  bool stop = false;
  std::thread worker;

  Batch make(int64_t b) const {
    const int64_t begin = b * batch_size;
    const int64_t end = std::min<int64_t>(begin + batch_size, int64_t(order.size()));
    Batch batch = dataset->get_batch(std::span(order).subspan(size_t(begin), size_t(end - begin)));
    if (transform) batch = transform(std::move(batch));
    return batch;
  }

  void work() {
    try {
      for (int64_t b = 0; b < num_batches; ++b) {
        Batch batch = make(b);
        std::unique_lock lock(mutex);
        not_full.wait(lock, [&] { return stop || int64_t(queue.size()) < prefetch; });
        if (stop) return;
        queue.push_back(std::move(batch));
        not_empty.notify_one();
      }
    } catch (...) {
      std::lock_guard lock(mutex);
      error = std::current_exception();
      not_empty.notify_one();
    }
  }

  void start() {
    if (prefetch > 0 && num_batches > 0) worker = std::thread([this] { work(); });
  }

  // Makes the next batch current, or marks the pass finished. Batches made
  // before a worker failure are still delivered; the failure comes after them.
  void advance() {
    current = {};
    if (consumed == num_batches) {
      finished = true;
      return;
    }
    if (prefetch == 0) {
      try {
        current = make(consumed++);
      } catch (...) {
        finished = true;
        throw;
      }
      return;
    }
    std::unique_lock lock(mutex);
    not_empty.wait(lock, [&] { return !queue.empty() || error; });
    if (queue.empty()) {
      finished = true;
      std::rethrow_exception(error);
    }
    current = std::move(queue.front());
    queue.pop_front();
    ++consumed;
    not_full.notify_one();
  }

  ~EpochRun() {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    not_full.notify_all();
    if (worker.joinable()) worker.join();
  }
};

}  // namespace detail

DataLoader::DataLoader(const Dataset& dataset, DataLoaderOptions options)
    // A non-owning shared_ptr: the caller keeps the dataset alive (documented).
    : DataLoader(std::shared_ptr<const Dataset>(std::shared_ptr<const Dataset>(), &dataset),
                 std::move(options)) {}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  WICK_CHECK(dataset_ != nullptr, "DataLoader: null dataset");
  WICK_CHECK(options_.batch_size >= 1,
             "DataLoader: batch_size should be a positive integer value, but got batch_size=",
             options_.batch_size);
  WICK_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be >= 0, got ", options_.prefetch);
}

int64_t DataLoader::size() const {
  const int64_t n = dataset_->size(), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

std::vector<int64_t> DataLoader::indices(int64_t e) const {
  std::vector<int64_t> order(size_t(dataset_->size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (options_.shuffle) {
    // Seeded from (seed, epoch) alone, so any epoch can be replayed without
    // replaying the ones before it (DistributedSampler's set_epoch contract).
    // splitmix64 of the seed keeps (seed, e + 1) and (seed + 1, e) apart.
    uint64_t z = options_.seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    Generator g(z ^ uint64_t(e));
    for (int64_t i = int64_t(order.size()) - 1; i > 0; --i) {
      std::swap(order[size_t(i)], order[size_t(g.randint(0, i + 1))]);
    }
  }
  if (options_.drop_last) order.resize(size_t(size() * options_.batch_size));
  return order;
}

DataLoader::Iterator DataLoader::begin() {
  auto run = std::make_unique<detail::EpochRun>();
  run->dataset = dataset_;
  run->transform = options_.transform;
  run->order = indices(epoch_++);
  run->batch_size = options_.batch_size;
  run->num_batches = size();
  run->prefetch = options_.prefetch;
  run->start();
  run->advance();  // may throw; `run` then joins its worker on the way out
  return Iterator(std::move(run));
}

DataLoader::Iterator::Iterator() = default;
DataLoader::Iterator::Iterator(std::unique_ptr<detail::EpochRun> run) : run_(std::move(run)) {}
DataLoader::Iterator::Iterator(Iterator&&) noexcept = default;
DataLoader::Iterator& DataLoader::Iterator::operator=(Iterator&&) noexcept = default;
DataLoader::Iterator::~Iterator() = default;

Batch& DataLoader::Iterator::operator*() const {
  WICK_CHECK(run_ && !run_->finished, "DataLoader::Iterator: dereferencing the end iterator");
  return run_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  WICK_CHECK(run_ && !run_->finished, "DataLoader::Iterator: incrementing the end iterator");
  run_->advance();
  return *this;
}

bool DataLoader::Iterator::operator==(std::default_sentinel_t) const {
  return !run_ || run_->finished;
}

}  // namespace wick::data
