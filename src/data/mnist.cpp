// MNIST-layout datasets over IDX files.
#include "wick/data/mnist.h"

#include <filesystem>

#include "wick/core/error.h"
#include "wick/data/idx.h"

namespace wick::data {

namespace {

// The raw file if present, else the .gz one (torchvision keeps raw; Debian ships .gz).
std::string find_file(const std::string& root, const std::string& stem, const char* what) {
  namespace fs = std::filesystem;
  const fs::path raw = fs::path(root) / stem;
  const fs::path gz = fs::path(root) / (stem + ".gz");
  std::error_code ec;
  if (fs::is_regular_file(raw, ec)) return raw.string();
  if (fs::is_regular_file(gz, ec)) return gz.string();
  std::string hint = std::string(what) == "FashionMNIST"
                         ? std::string(
                               " (Debian's dataset-fashion-mnist package installs the "
                               "files in ") +
                               kFashionMNISTRoot + ")"
                         : "";
  throw Error(std::string(what) + ": neither " + stem + " nor " + stem + ".gz found in '" + root +
              "'" + hint);
}

Batch load_split(const std::string& root, bool train, const char* what) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_file(root, prefix + "-images-idx3-ubyte", what);
  const std::string labels_path = find_file(root, prefix + "-labels-idx1-ubyte", what);
  Tensor images = load_idx(images_path);
  Tensor labels = load_idx(labels_path);
  WICK_CHECK_AS(FormatError, images.dtype() == DType::UInt8 && images.dim() == 3, what, ": '",
                images_path, "': expected uint8 images [N, H, W] but the file holds ",
                images.dtype(), " ", images.sizes());
  WICK_CHECK_AS(FormatError, labels.dtype() == DType::UInt8 && labels.dim() == 1, what, ": '",
                labels_path, "': expected uint8 labels [N] but the file holds ", labels.dtype(),
                " ", labels.sizes());
  WICK_CHECK_AS(FormatError, images.size(0) == labels.size(0), what, ": '", images_path, "' holds ",
                images.size(0), " images but '", labels_path, "' holds ", labels.size(0),
                " labels");
  const uint8_t* l = labels.data<uint8_t>();
  for (int64_t i = 0, n = labels.numel(); i < n; ++i) {
    // IDX1 header is 8 bytes; offsets are in the decompressed data.
    WICK_CHECK_AS(FormatError, l[i] < 10, what, ": '", labels_path, "': label ", int(l[i]),
                  " of example ", i, " (byte offset ", 8 + i, ") is outside 0..9");
  }
  return {images.unsqueeze(1), labels.to(DType::Int64)};
}

}  // namespace

const std::array<const char*, 10> MNIST::classes = {"0 - zero",  "1 - one",  "2 - two", "3 - three",
                                                    "4 - four",  "5 - five", "6 - six", "7 - seven",
                                                    "8 - eight", "9 - nine"};

const std::array<const char*, 10> FashionMNIST::classes = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

MNIST::MNIST(const std::string& root, bool train) : MNIST(root, train, "MNIST") {}

MNIST::MNIST(const std::string& root, bool train, const char* what)
    : TensorDataset(load_split(root, train, what)) {}

FashionMNIST::FashionMNIST(const std::string& root, bool train)
    : MNIST(root, train, "FashionMNIST") {}

}  // namespace wick::data
