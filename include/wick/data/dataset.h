// Datasets: indexable collections of (input, target) examples
// (torch.utils.data.Dataset and TensorDataset).
//
//   wick::data::TensorDataset ds(images, labels);   // images [N, ...], labels [N]
//   wick::data::Example e = ds.get(3);              // e.input = images[3], e.target = labels[3]
//   wick::data::Batch b = ds.get_batch({{7, 1, 4}}); // inputs [3, ...], targets [3]
//
// A DataLoader (wick/data/dataloader.h) asks a dataset for whole batches with
// get_batch, which TensorDataset answers with one memcpy per row into freshly
// allocated batch tensors: no per-sample tensors on the training path. A
// dataset of your own only needs size() and get(); override get_batch when a
// faster gather exists.
#pragma once

#include <cstdint>
#include <span>

#include "wick/core/tensor.h"

namespace wick::data {

/// One example: the input and its target (a label, a regression target...).
struct Example {
  Tensor input;
  Tensor target;
};

/// A batch: inputs and targets stacked along a new first dimension.
using Batch = Example;

/// The dataset interface. get and get_batch may be called from a DataLoader's
/// background thread while the caller's thread uses the dataset too, so they
/// must be safe to call concurrently (both are const).
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of examples.
  virtual int64_t size() const = 0;
  /// Example `index` in [0, size()); throws wick::IndexError outside it.
  virtual Example get(int64_t index) const = 0;
  /// The examples at `indices` stacked into contiguous [n, ...] tensors. The
  /// default calls get for each index and copies each example into the batch
  /// (all examples must have the same sizes and dtypes; ShapeError/DTypeError
  /// otherwise). The returned tensors are new: callers may keep or modify them.
  virtual Batch get_batch(std::span<const int64_t> indices) const;
};

/// Examples are rows of two tensors that share their first dimension
/// (torch.utils.data.TensorDataset with two tensors). get returns views;
/// get_batch copies rows with one memcpy each.
class TensorDataset : public Dataset {
 public:
  /// Throws ShapeError unless both tensors have at least one dimension and the
  /// same size in it. Non-contiguous tensors are made contiguous once here.
  TensorDataset(Tensor inputs, Tensor targets);
  /// Over `all.input` and `all.target`.
  explicit TensorDataset(const Batch& all) : TensorDataset(all.input, all.target) {}

  int64_t size() const override { return inputs_.size(0); }
  Example get(int64_t index) const override;
  Batch get_batch(std::span<const int64_t> indices) const override;

  /// All inputs [N, ...] and all targets [N, ...] (contiguous).
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_;
  Tensor targets_;
};

}  // namespace wick::data
