// Datasets, the DataLoader (order, epochs, prefetch thread, errors) and batch transforms.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <optional>
#include <set>
#include <vector>

#include "wick/core/error.h"
#include "wick/data/dataloader.h"
#include "wick/data/dataset.h"
#include "wick/data/transforms.h"

using namespace wick;
using data::Batch;
using data::DataLoader;
using data::Example;

namespace {

// inputs[i] = [i, 100 + i, 200 + i] (float), targets[i] = i (int64).
data::TensorDataset numbered(int64_t n) {
  Tensor x = empty({n, 3});
  Tensor y = empty({n}, {.dtype = DType::Int64});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < 3; ++j) x.set({i, j}, double(100 * j + i));
    y.set({i}, i);
  }
  return data::TensorDataset(x, y);
}

// Records how the loader uses the dataset; throws for `poison` if set.
class Recording : public data::TensorDataset {
 public:
  explicit Recording(int64_t n, int64_t poison = -1)
      : TensorDataset(numbered(n)), poison_(poison) {}
  Example get(int64_t i) const override {
    ++gets;
    return TensorDataset::get(i);
  }
  Batch get_batch(std::span<const int64_t> indices) const override {
    ++batches;
    for (int64_t i : indices) {
      if (i == poison_) throw Error("Recording: poisoned index " + std::to_string(i));
    }
    return TensorDataset::get_batch(indices);
  }
  mutable std::atomic<int64_t> gets{0}, batches{0};

 private:
  int64_t poison_;
};

// Only size() and get(): exercises Dataset's generic get_batch.
class Squares : public data::Dataset {
 public:
  int64_t size() const override { return 10; }
  Example get(int64_t i) const override { return {full({2, 2}, double(i * i)), scalar_tensor(i)}; }
};

std::vector<std::vector<int64_t>> epoch_targets(DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (Batch& b : loader) out.push_back(b.target.to_vector<int64_t>());
  return out;
}

std::vector<int64_t> flat(const std::vector<std::vector<int64_t>>& v) {
  std::vector<int64_t> f;
  for (const auto& b : v) f.insert(f.end(), b.begin(), b.end());
  return f;
}

}  // namespace

// ---- datasets ----------------------------------------------------------------

TEST(DataDataset, TensorDatasetGetAndGetBatch) {
  data::TensorDataset ds = numbered(6);
  EXPECT_EQ(ds.size(), 6);
  Example e = ds.get(4);
  EXPECT_EQ(e.input.to_vector<float>(), (std::vector<float>{4, 104, 204}));
  EXPECT_EQ(e.target.item<int64_t>(), 4);
  std::vector<int64_t> idx = {5, 0, 5, 2};
  Batch b = ds.get_batch(idx);
  EXPECT_EQ(b.input.sizes(), Shape({4, 3}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), idx);
  EXPECT_EQ(b.input.to_vector<float>(),
            (std::vector<float>{5, 105, 205, 0, 100, 200, 5, 105, 205, 2, 102, 202}));
  // The batch owns its data: writing it leaves the dataset alone.
  b.input.fill_(-1.0);
  EXPECT_EQ(ds.get(5).input.to_vector<float>(), (std::vector<float>{5, 105, 205}));
  EXPECT_THROW(ds.get(6), IndexError);
  EXPECT_THROW(ds.get(-1), IndexError);
  std::vector<int64_t> bad = {1, 6};
  EXPECT_THROW(ds.get_batch(bad), IndexError);
}

TEST(DataDataset, TensorDatasetChecksSizesAndMakesContiguous) {
  EXPECT_THROW(data::TensorDataset(zeros({3, 2}), zeros({4})), ShapeError);
  EXPECT_THROW(data::TensorDataset(scalar_tensor(1.0), zeros({1})), ShapeError);
  Tensor x = arange(0, 12, 1, DType::Float32).view({3, 4}).t();  // [4, 3], not contiguous
  data::TensorDataset ds(x, arange(4));
  EXPECT_TRUE(ds.inputs().is_contiguous());
  std::vector<int64_t> idx = {3, 1};
  EXPECT_EQ(ds.get_batch(idx).input.to_vector<float>(), (std::vector<float>{3, 7, 11, 1, 5, 9}));
}

TEST(DataDataset, GenericGetBatchStacksExamples) {
  Squares ds;
  std::vector<int64_t> idx = {3, 1};
  Batch b = ds.get_batch(idx);
  EXPECT_EQ(b.input.sizes(), Shape({2, 2, 2}));
  EXPECT_EQ(b.input.to_vector<float>(), (std::vector<float>{9, 9, 9, 9, 1, 1, 1, 1}));
  EXPECT_EQ(b.target.sizes(), Shape({2}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{3, 1}));
  DataLoader loader(ds, {.batch_size = 4});
  EXPECT_EQ(flat(epoch_targets(loader)), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

// ---- loader order ------------------------------------------------------------

TEST(DataLoader, SequentialBatchesAndSize) {
  data::TensorDataset ds = numbered(10);
  DataLoader loader(ds, {.batch_size = 4});
  EXPECT_EQ(loader.size(), 3);
  auto batches = epoch_targets(loader);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(batches[2], (std::vector<int64_t>{8, 9}));
  int n = 0;
  for (Batch& b : loader) {
    EXPECT_EQ(b.input.sizes(), Shape({n < 2 ? 4 : 2, 3}));
    EXPECT_EQ(b.input.at({0, 1}).to<double>(), 100 + 4 * n);
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(DataLoader, DropLast) {
  data::TensorDataset ds = numbered(10);
  DataLoader loader(ds, {.batch_size = 4, .shuffle = true, .drop_last = true});
  EXPECT_EQ(loader.size(), 2);
  for (int epoch = 0; epoch < 3; ++epoch) {
    auto batches = epoch_targets(loader);
    ASSERT_EQ(batches.size(), 2u);
    for (const auto& b : batches) EXPECT_EQ(b.size(), 4u);
    std::vector<int64_t> all = flat(batches);
    std::set<int64_t> seen(all.begin(), all.end());
    EXPECT_EQ(seen.size(), 8u);  // no repeats
  }
  DataLoader exact(ds, {.batch_size = 5, .drop_last = true});
  EXPECT_EQ(exact.size(), 2);
  DataLoader too_big(ds, {.batch_size = 11, .drop_last = true});
  EXPECT_EQ(too_big.size(), 0);
  EXPECT_TRUE(epoch_targets(too_big).empty());
  DataLoader one(ds, {.batch_size = 11});
  EXPECT_EQ(epoch_targets(one),
            (std::vector<std::vector<int64_t>>{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}));
}

TEST(DataLoader, ShuffleIsAPermutationReproducibleFromSeedAndEpoch) {
  data::TensorDataset ds = numbered(50);
  DataLoader a(ds, {.batch_size = 8, .shuffle = true, .seed = 7});
  DataLoader b(ds, {.batch_size = 8, .shuffle = true, .seed = 7});
  DataLoader other_seed(ds, {.batch_size = 8, .shuffle = true, .seed = 8});
  std::vector<std::vector<std::vector<int64_t>>> epochs;
  for (int e = 0; e < 4; ++e) {
    EXPECT_EQ(a.epoch(), e);
    auto ea = epoch_targets(a);
    EXPECT_EQ(ea, epoch_targets(b));  // same seed, same epoch: same batches
    EXPECT_NE(flat(ea), flat(epoch_targets(other_seed)));
    std::vector<int64_t> sorted = flat(ea);
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(50);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all);  // every index exactly once
    std::vector<int64_t> identity = all;
    EXPECT_NE(flat(ea), identity);
    epochs.push_back(ea);
  }
  EXPECT_NE(epochs[0], epochs[1]);  // a new order each epoch
  EXPECT_NE(epochs[1], epochs[2]);
  EXPECT_EQ(flat(epochs[2]), a.indices(2));
}

TEST(DataLoader, SetEpochResumesTheUninterruptedOrder) {
  data::TensorDataset ds = numbered(37);
  const data::DataLoaderOptions opt{.batch_size = 5, .shuffle = true, .seed = 42};
  DataLoader uninterrupted(ds, opt);
  std::vector<std::vector<std::vector<int64_t>>> runs;
  for (int e = 0; e < 5; ++e) runs.push_back(epoch_targets(uninterrupted));

  DataLoader resumed(ds, opt);  // a new process resuming at epoch 3
  resumed.set_epoch(3);
  EXPECT_EQ(epoch_targets(resumed), runs[3]);
  EXPECT_EQ(resumed.epoch(), 4);
  EXPECT_EQ(epoch_targets(resumed), runs[4]);
  // An explicit set_epoch before every epoch gives the same as the implicit count.
  DataLoader explicit_epochs(ds, opt);
  for (int e : {1, 0, 4}) {
    explicit_epochs.set_epoch(e);
    EXPECT_EQ(epoch_targets(explicit_epochs), runs[size_t(e)]);
  }
  // An early break still consumes the epoch.
  DataLoader broken(ds, opt);
  for (Batch& b : broken) {
    EXPECT_EQ(b.target.to_vector<int64_t>(), runs[0][0]);
    break;
  }
  EXPECT_EQ(epoch_targets(broken), runs[1]);
}

TEST(DataLoader, PrefetchDoesNotChangeTheBatches) {
  data::TensorDataset ds = numbered(23);
  for (int64_t prefetch : {0, 1, 2, 5, 100}) {
    DataLoader loader(ds, {.batch_size = 4, .shuffle = true, .seed = 3, .prefetch = prefetch});
    std::vector<int64_t> got;
    for (Batch& b : loader) {
      std::vector<int64_t> t = b.target.to_vector<int64_t>();
      std::vector<float> x = b.input.to_vector<float>();
      for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(x[i * 3 + 2], float(200 + t[i]));
      got.insert(got.end(), t.begin(), t.end());
    }
    EXPECT_EQ(got, loader.indices(0)) << "prefetch " << prefetch;
  }
}

TEST(DataLoader, RejectsBadOptions) {
  data::TensorDataset ds = numbered(3);
  EXPECT_THROW(DataLoader(ds, {.batch_size = 0}), Error);
  EXPECT_THROW(DataLoader(ds, {.prefetch = -1}), Error);
  EXPECT_THROW(DataLoader(std::shared_ptr<const data::Dataset>(), {}), Error);
}

TEST(DataLoader, EmptyDataset) {
  data::TensorDataset ds = numbered(0);
  DataLoader loader(ds, {.batch_size = 4, .shuffle = true});
  EXPECT_EQ(loader.size(), 0);
  EXPECT_TRUE(epoch_targets(loader).empty());
}

// ---- the worker thread -------------------------------------------------------

TEST(DataLoader, OneGatherPerBatchAndNoPerSampleCalls) {
  Recording ds(1000);
  DataLoader loader(ds, {.batch_size = 64, .shuffle = true});
  int64_t n = 0;
  for (Batch& b : loader) n += b.target.numel();
  EXPECT_EQ(n, 1000);
  EXPECT_EQ(ds.batches.load(), loader.size());
  EXPECT_EQ(ds.gets.load(), 0);
}

TEST(DataLoader, EarlyBreakStopsTheWorker) {
  Recording ds(1000);
  for (int64_t prefetch : {1, 3}) {
    ds.batches = 0;
    DataLoader loader(ds, {.batch_size = 10, .prefetch = prefetch});
    int seen = 0;
    for (Batch& b : loader) {
      (void)b;
      if (++seen == 2) break;
    }
    // The iterator was destroyed at the break and joined the worker, which can
    // have made at most: 2 handed out + `prefetch` queued + 1 in hand.
    const int64_t made = ds.batches.load();
    EXPECT_GE(made, 2);
    EXPECT_LE(made, 2 + prefetch + 1);
    EXPECT_EQ(ds.batches.load(), made);  // nothing runs any more
  }
}

TEST(DataLoader, IteratorOutlivesAnEarlyDestroyedLoaderAndStopsWhenDropped) {
  auto ds = std::make_shared<Recording>(100);
  std::optional<DataLoader::Iterator> it;
  {
    DataLoader loader(std::shared_ptr<const data::Dataset>(ds), {.batch_size = 10});
    it.emplace(loader.begin());
  }
  EXPECT_EQ((**it).target.to_vector<int64_t>()[0], 0);
  ++*it;
  EXPECT_EQ((**it).target.to_vector<int64_t>()[0], 10);
  it.reset();  // joins the worker
  const int64_t made = ds->batches.load();
  EXPECT_LE(made, 2 + 2 + 1);
}

TEST(DataLoader, WorkerExceptionReachesTheConsumerAfterEarlierBatches) {
  for (int64_t prefetch : {0, 1, 2}) {
    Recording ds(100, /*poison=*/35);
    DataLoader loader(ds, {.batch_size = 10, .prefetch = prefetch});
    int delivered = 0;
    try {
      for (Batch& b : loader) {
        EXPECT_EQ(b.target.to_vector<int64_t>()[0], 10 * delivered);
        ++delivered;
      }
      ADD_FAILURE() << "expected the dataset's error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("poisoned index 35"), std::string::npos) << e.what();
    }
    EXPECT_EQ(delivered, 3) << "prefetch " << prefetch;
    // The loader is usable again afterwards (the next epoch fails the same way).
    EXPECT_THROW(epoch_targets(loader), Error);
  }
  // A failure in the first batch comes out of begin().
  Recording first(100, /*poison=*/0);
  DataLoader loader(first, {.batch_size = 10});
  EXPECT_THROW(loader.begin(), Error);
}

TEST(DataLoader, TransformExceptionReachesTheConsumer) {
  data::TensorDataset ds = numbered(30);
  int calls = 0;
  DataLoader loader(ds, {.batch_size = 10, .transform = [&](Batch b) {
                           if (++calls == 2) throw ShapeError("transform failed");
                           return b;
                         }});
  EXPECT_THROW(epoch_targets(loader), ShapeError);
}

TEST(DataLoader, ManyShortEpochsDoNotHang) {
  Recording ds(200);
  DataLoader loader(ds, {.batch_size = 3, .shuffle = true, .prefetch = 1});
  int64_t total = 0;
  for (int e = 0; e < 200; ++e) {
    int k = 0;
    for (Batch& b : loader) {
      total += b.target.numel();
      if (++k == e % 5) break;
    }
  }
  EXPECT_GT(total, 0);
}

// ---- transforms --------------------------------------------------------------

TEST(DataTransforms, ToFloatScalesUInt8) {
  Tensor x = tensor(std::vector<uint8_t>{0, 1, 128, 255}).view({1, 1, 2, 2});
  Tensor y = data::to_float(x);
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_EQ(y.sizes(), Shape({1, 1, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0.f, 1.f / 255.f, 128.f / 255.f, 1.f}));
  Tensor d = data::to_float(tensor(std::vector<double>{0.5, 2.0}));
  EXPECT_EQ(d.dtype(), DType::Float32);
  EXPECT_EQ(d.to_vector<float>(), (std::vector<float>{0.5f, 2.0f}));
  EXPECT_THROW(data::to_float(tensor(std::vector<int64_t>{1})), DTypeError);
}

TEST(DataTransforms, NormalizePerChannel) {
  Tensor x = arange(0, 12, 1, DType::Float32).view({2, 3, 2});  // N=2, C=3, 2 values each
  Tensor y = data::normalize(x, {1, 2, 3}, {1, 2, 4});
  std::vector<float> v = y.to_vector<float>();
  std::vector<float> want;
  const float m[3] = {1, 2, 3}, s[3] = {1, 2, 4};
  for (int i = 0; i < 12; ++i) want.push_back((float(i) - m[(i / 2) % 3]) / s[(i / 2) % 3]);
  EXPECT_EQ(v, want);
  // One entry applies to every channel; float64 stays float64.
  Tensor z = data::normalize(x.to(DType::Float64), {0.5}, {0.25});
  EXPECT_EQ(z.dtype(), DType::Float64);
  EXPECT_EQ(z.at({1, 2, 1}).to<double>(), (11 - 0.5) / 0.25);
  EXPECT_THROW(data::normalize(x, {1, 2}, {1, 2}), ShapeError);
  EXPECT_THROW(data::normalize(x, {1}, {1, 2}), ShapeError);
  EXPECT_THROW(data::normalize(x, {1}, {0}), Error);
  EXPECT_THROW(data::normalize(tensor(std::vector<uint8_t>{1, 2}).view({1, 2}), {0}, {1}),
               DTypeError);
  EXPECT_THROW(data::normalize(zeros({3}), {0}, {1}), ShapeError);
  EXPECT_THROW(data::transforms::normalize({0}, {0}), Error);  // checked when built
}

TEST(DataTransforms, LoaderAppliesComposedTransformToInputsOnly) {
  Tensor images = empty({6, 1, 2, 2}, {.dtype = DType::UInt8});
  for (int64_t i = 0; i < 6; ++i) images.select(0, i).fill_(i * 50);
  data::TensorDataset ds(images, arange(6));
  namespace T = data::transforms;
  DataLoader loader(ds, {.batch_size = 4,
                         .transform = T::compose(
                             {T::to_float(), T::normalize({0.5}, {0.25}),
                              T::map_target([](const Tensor& t) { return t.to(DType::Int32); })})});
  int64_t k = 0;
  for (Batch& b : loader) {
    EXPECT_EQ(b.input.dtype(), DType::Float32);
    EXPECT_EQ(b.target.dtype(), DType::Int32);
    std::vector<float> x = b.input.to_vector<float>();
    for (int64_t i = 0; i < b.target.numel(); ++i, ++k) {
      const float want = (float(k * 50) / 255.f - 0.5f) / 0.25f;
      for (int j = 0; j < 4; ++j) EXPECT_EQ(x[size_t(i * 4 + j)], want);
    }
  }
  EXPECT_EQ(k, 6);
}
