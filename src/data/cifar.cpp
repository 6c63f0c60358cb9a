// CIFAR-10 binary batches.
#include "wick/data/cifar.h"

#include <cstring>
#include <filesystem>

#include "wick/core/error.h"
#include "wick/core/storage.h"

namespace wick::data {

namespace {
constexpr int64_t kImageBytes = 3 * 32 * 32;
constexpr int64_t kRecordBytes = 1 + kImageBytes;
}  // namespace

Batch load_cifar10_batch(const std::string& path) {
  std::shared_ptr<MappedFile> file = MappedFile::open(path);
  const int64_t size = int64_t(file->size());
  WICK_CHECK_AS(FormatError, size > 0, "load_cifar10_batch: '", path, "' is empty");
  WICK_CHECK_AS(FormatError, size % kRecordBytes == 0, "load_cifar10_batch: '", path, "' is ", size,
                " bytes, not a multiple of the 3073-byte record (1 label + 3072 pixels); ",
                "the last record starting at byte offset ", size / kRecordBytes * kRecordBytes,
                " is incomplete");
  const int64_t n = size / kRecordBytes;
  Tensor images = empty({n, 3, 32, 32}, {.dtype = DType::UInt8});
  Tensor labels = empty({n}, {.dtype = DType::Int64});
  const auto* src = reinterpret_cast<const uint8_t*>(file->data());
  uint8_t* img = images.data<uint8_t>();
  int64_t* lab = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* rec = src + i * kRecordBytes;
    WICK_CHECK_AS(FormatError, rec[0] < 10, "load_cifar10_batch: '", path, "': label ", int(rec[0]),
                  " of record ", i, " (byte offset ", i * kRecordBytes, ") is outside 0..9");
    lab[i] = rec[0];
    std::memcpy(img + i * kImageBytes, rec + 1, size_t(kImageBytes));
  }
  return {images, labels};
}

namespace {

Batch load_split(const std::string& root, bool train) {
  std::vector<std::string> names;
  if (train) {
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    names.push_back("test_batch.bin");
  }
  std::vector<Batch> parts;
  int64_t total = 0;
  for (const std::string& name : names) {
    parts.push_back(load_cifar10_batch((std::filesystem::path(root) / name).string()));
    total += parts.back().target.size(0);
  }
  if (parts.size() == 1) return parts[0];
  Batch all{empty({total, 3, 32, 32}, {.dtype = DType::UInt8}),
            empty({total}, {.dtype = DType::Int64})};
  int64_t at = 0;
  for (const Batch& p : parts) {
    const int64_t k = p.target.size(0);
    std::memcpy(all.input.data<uint8_t>() + at * kImageBytes, p.input.data_ptr(),
                size_t(p.input.nbytes()));
    std::memcpy(all.target.data<int64_t>() + at, p.target.data_ptr(), size_t(p.target.nbytes()));
    at += k;
  }
  return all;
}

}  // namespace

const std::array<const char*, 10> CIFAR10::classes = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

CIFAR10::CIFAR10(const std::string& root, bool train) : TensorDataset(load_split(root, train)) {}

}  // namespace wick::data
