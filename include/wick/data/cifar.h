// CIFAR-10's binary batches as tensors and as a dataset
// (torchvision.datasets.CIFAR10 over the "binary version" files).
//
//   wick::data::CIFAR10 train("cifar-10-batches-bin", /*train=*/true);
//   train.inputs();   // uint8 [50000, 3, 32, 32]
//   train.targets();  // int64 [50000], values in 0..9
//
// Each file (data_batch_1.bin ... data_batch_5.bin, test_batch.bin) is a run of
// 3073-byte records: one label byte, then 1024 red, 1024 green and 1024 blue
// pixel bytes of a 32x32 image in row-major order.
#pragma once

#include <array>
#include <string>

#include "wick/data/dataset.h"

namespace wick::data {

/// Reads one CIFAR-10 binary batch file: input uint8 [N, 3, 32, 32], target
/// int64 [N]. Throws wick::Error when the file cannot be read,
/// wick::FormatError naming the file when its size is not a multiple of 3073
/// or a label is outside 0..9 (with the byte offset of that label).
Batch load_cifar10_batch(const std::string& path);

/// CIFAR-10: images uint8 [N, 3, 32, 32], labels int64 [N].
class CIFAR10 : public TensorDataset {
 public:
  /// Loads data_batch_1.bin ... data_batch_5.bin (train, N = 50000 for the
  /// real files) or test_batch.bin (N = 10000) from `root`, concatenated in
  /// that order. Errors as load_cifar10_batch.
  CIFAR10(const std::string& root, bool train = true);

  /// "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
  /// "ship", "truck".
  static const std::array<const char*, 10> classes;
};

}  // namespace wick::data
