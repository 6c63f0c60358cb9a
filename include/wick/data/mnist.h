// MNIST and Fashion-MNIST as datasets: 28x28 grey images and labels 0..9
// (torchvision.datasets.MNIST / FashionMNIST over the original IDX files).
//
//   wick::data::FashionMNIST train(wick::data::kFashionMNISTRoot, /*train=*/true);
//   train.inputs();   // uint8 [60000, 1, 28, 28]
//   train.targets();  // int64 [60000], values in 0..9
//   wick::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true,
//                                         .transform = wick::data::transforms::to_float()});
//
// `root` holds the four files train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or with a .gz
// suffix (Debian's dataset-fashion-mnist package installs the .gz files under
// kFashionMNISTRoot). Images stay uint8 (47 MB for the training set instead of
// 188 MB as float); convert per batch with transforms::to_float, or all at
// once with wick::data::to_float(ds.inputs()).
#pragma once

#include <array>
#include <string>

#include "wick/data/dataset.h"

namespace wick::data {

/// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* kFashionMNISTRoot = "/usr/share/datasets/fashion-mnist";

/// The MNIST handwritten digits: images uint8 [N, 1, 28, 28], labels int64 [N].
class MNIST : public TensorDataset {
 public:
  /// Loads the training (60000) or test (10000) split from `root`. Throws
  /// wick::Error naming the files when neither the raw nor the .gz file
  /// exists, wick::FormatError when a file is malformed, when images and
  /// labels disagree in count, or a label is outside 0..9.
  MNIST(const std::string& root, bool train = true);

  /// Class names, indexed by label.
  static const std::array<const char*, 10> classes;

 protected:
  MNIST(const std::string& root, bool train, const char* what);
};

/// Zalando's Fashion-MNIST: same layout as MNIST, clothing classes.
class FashionMNIST : public MNIST {
 public:
  /// As MNIST's constructor; root defaults to kFashionMNISTRoot.
  explicit FashionMNIST(const std::string& root = kFashionMNISTRoot, bool train = true);

  /// "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
  /// "Sneaker", "Bag", "Ankle boot".
  static const std::array<const char*, 10> classes;
};

}  // namespace wick::data
