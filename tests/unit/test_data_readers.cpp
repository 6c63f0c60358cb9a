// IDX, MNIST-layout and CIFAR-10 readers: small files written here (raw and
// gzip, well-formed and malformed), and the real Fashion-MNIST files.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "wick/core/error.h"
#include "wick/data/cifar.h"
#include "wick/data/idx.h"
#include "wick/data/mnist.h"

namespace fs = std::filesystem;
using namespace wick;
using Bytes = std::vector<uint8_t>;

namespace {

class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("wick_data_" + std::to_string(::getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write(const std::string& name, const Bytes& bytes) const {
    std::ofstream f(path(name), std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    EXPECT_TRUE(f.good());
    return path(name);
  }

  fs::path dir_;
};

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

// An IDX file: header, then each element's bytes in big-endian order.
template <class T>
Bytes idx(uint8_t code, const std::vector<uint32_t>& dims, const std::vector<T>& values) {
  Bytes b = {0, 0, code, uint8_t(dims.size())};
  for (uint32_t d : dims) put_be32(b, d);
  for (T v : values) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    if (std::endian::native == std::endian::little) std::reverse(raw, raw + sizeof(T));
    b.insert(b.end(), raw, raw + sizeof(T));
  }
  return b;
}

Bytes gzip(const Bytes& raw) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&z, uLong(raw.size())) + 64);
  z.next_in = const_cast<Bytef*>(raw.data());
  z.avail_in = uInt(raw.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Runs f, expecting a FormatError whose message contains every fragment.
template <class F>
void expect_format_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected wick::FormatError";
  } catch (const FormatError& e) {
    for (const std::string& s : fragments) {
      EXPECT_NE(std::string(e.what()).find(s), std::string::npos)
          << "message '" << e.what() << "' lacks '" << s << "'";
    }
  }
}

Bytes u8_images(uint32_t n, uint32_t h, uint32_t w) {
  std::vector<uint8_t> v(size_t(n) * h * w);
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t(i * 7 + 3);
  return idx<uint8_t>(0x08, {n, h, w}, v);
}

}  // namespace

// ---- IDX -------------------------------------------------------------------

TEST_F(DataFiles, IdxRawUInt8KeepsDimsAndValues) {
  Tensor t = data::load_idx(write("a-idx3-ubyte", u8_images(2, 3, 4)));
  EXPECT_EQ(t.dtype(), DType::UInt8);
  EXPECT_EQ(t.sizes(), Shape({2, 3, 4}));
  std::vector<uint8_t> v = t.to_vector<uint8_t>();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], uint8_t(i * 7 + 3));
}

TEST_F(DataFiles, IdxEveryElementTypeIsBigEndian) {
  Tensor i8 = data::load_idx(write("i8", idx<int8_t>(0x09, {3}, {-128, -1, 127})));
  EXPECT_EQ(i8.dtype(), DType::Int8);
  EXPECT_EQ(i8.to(DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{-128, -1, 127}));

  Tensor i16 = data::load_idx(write("i16", idx<int16_t>(0x0B, {2, 2}, {258, -2, 32767, -32768})));
  EXPECT_EQ(i16.dtype(), DType::Int16);
  EXPECT_EQ(i16.sizes(), Shape({2, 2}));
  EXPECT_EQ(i16.to(DType::Int64).to_vector<int64_t>(),
            (std::vector<int64_t>{258, -2, 32767, -32768}));

  Tensor i32 = data::load_idx(write("i32", idx<int32_t>(0x0C, {2}, {16909060, -5})));
  EXPECT_EQ(i32.dtype(), DType::Int32);
  EXPECT_EQ(i32.to_vector<int32_t>(), (std::vector<int32_t>{16909060, -5}));

  Tensor f32 = data::load_idx(write("f32", idx<float>(0x0D, {3}, {1.5f, -2.25f, 1e-30f})));
  EXPECT_EQ(f32.dtype(), DType::Float32);
  EXPECT_EQ(f32.to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 1e-30f}));

  Tensor f64 = data::load_idx(write("f64", idx<double>(0x0E, {1, 2}, {3.141592653589793, -0.1})));
  EXPECT_EQ(f64.dtype(), DType::Float64);
  EXPECT_EQ(f64.sizes(), Shape({1, 2}));
  EXPECT_EQ(f64.to_vector<double>(), (std::vector<double>{3.141592653589793, -0.1}));
}

TEST_F(DataFiles, IdxGzipEqualsRaw) {
  Bytes raw = idx<int32_t>(0x0C, {3, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, -15});
  Tensor a = data::load_idx(write("raw", raw));
  Tensor b = data::load_idx(write("gz.gz", gzip(raw)));
  EXPECT_EQ(b.dtype(), DType::Int32);
  EXPECT_EQ(b.sizes(), Shape({3, 5}));
  EXPECT_EQ(a.to_vector<int32_t>(), b.to_vector<int32_t>());
  // Detection is by content, not by name: a .gz name on a raw file still reads.
  Tensor c = data::load_idx(write("raw-named.gz", raw));
  EXPECT_EQ(a.to_vector<int32_t>(), c.to_vector<int32_t>());
}

TEST_F(DataFiles, IdxGzipLargerThanOneChunkAndMultiMember) {
  Bytes raw = u8_images(300, 28, 28);  // 235 KB: several growth steps of the output
  Tensor a = data::load_idx(write("big.gz", gzip(raw)));
  EXPECT_EQ(a.sizes(), Shape({300, 28, 28}));
  EXPECT_EQ(a.to_vector<uint8_t>(), Bytes(raw.begin() + 16, raw.end()));
  // gzip -d joins members; so do we.
  Bytes split =
      cat(gzip(Bytes(raw.begin(), raw.begin() + 1000)), gzip(Bytes(raw.begin() + 1000, raw.end())));
  Tensor b = data::load_idx(write("members.gz", split));
  EXPECT_EQ(a.to_vector<uint8_t>(), b.to_vector<uint8_t>());
}

TEST_F(DataFiles, IdxEmptyDimIsAnEmptyTensor) {
  Tensor t = data::load_idx(write("empty", idx<uint8_t>(0x08, {0, 28, 28}, {})));
  EXPECT_EQ(t.sizes(), Shape({0, 28, 28}));
  EXPECT_EQ(t.numel(), 0);
}

TEST_F(DataFiles, IdxMalformedHeadersAreFormatErrors) {
  std::string p = write("short", {0, 0, 8});
  expect_format_error([&] { data::load_idx(p); }, {p, "too short"});
  p = write("empty-file", {});
  expect_format_error([&] { data::load_idx(p); }, {p, "too short"});
  p = write("magic", cat({1, 0, 8, 1}, {0, 0, 0, 1, 5}));
  expect_format_error([&] { data::load_idx(p); }, {p, "bad magic", "0x01000801", "byte offset 0"});
  p = write("type", cat({0, 0, 0x0A, 1}, {0, 0, 0, 1, 5}));
  expect_format_error([&] { data::load_idx(p); }, {p, "unknown element type code 0x0a"});
  p = write("nodims", {0, 0, 8, 0, 5});
  expect_format_error([&] { data::load_idx(p); }, {p, "zero dimensions"});
  p = write("header", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0});
  expect_format_error([&] { data::load_idx(p); }, {p, "truncated header", "16 header bytes"});
  // The same problems inside gzip.
  p = write("magic.gz", gzip(cat({0, 1, 8, 1}, {0, 0, 0, 1, 5})));
  expect_format_error([&] { data::load_idx(p); }, {p, "bad magic"});
  p = write("header.gz", gzip({0, 0, 8, 3, 0, 0, 0, 2, 0, 0}));
  expect_format_error([&] { data::load_idx(p); }, {p, "truncated header"});
}

TEST_F(DataFiles, IdxDimsThatDoNotMatchTheRawDataSize) {
  Bytes full = u8_images(2, 3, 4);  // 16 + 24 bytes
  std::string p = write("trunc", Bytes(full.begin(), full.end() - 5));
  expect_format_error([&] { data::load_idx(p); },
                      {p, "[2, 3, 4]", "need 24 data bytes", "truncated", "byte offset 35"});
  p = write("extra", cat(full, {1, 2}));
  expect_format_error([&] { data::load_idx(p); }, {p, "extra data from byte offset 40"});
  // 3 x 2^32-1 elements declared: rejected by the size check, nothing allocated.
  p = write("huge", cat(idx<uint8_t>(0x08, {0xffffffffu, 0xffffffffu}, {}), {1, 2, 3}));
  EXPECT_THROW(data::load_idx(p), FormatError);
  p = write("overflow", idx<double>(0x0E, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {}));
  expect_format_error([&] { data::load_idx(p); }, {p, "too large"});
}

TEST_F(DataFiles, IdxGzipTruncatedShortLongOrCorrupt) {
  Bytes raw = u8_images(50, 28, 28);
  Bytes gz = gzip(raw);
  // Compressed stream cut in the middle.
  std::string p = write("cut.gz", Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  expect_format_error([&] { data::load_idx(p); }, {p, "truncated gzip stream"});
  // Cut just before the gzip trailer (CRC + size): all data inflated but no end.
  p = write("notrailer.gz", Bytes(gz.begin(), gz.end() - 8));
  expect_format_error([&] { data::load_idx(p); }, {p, "truncated gzip stream"});
  // Complete stream whose content is shorter than its header declares.
  p = write("short.gz", gzip(Bytes(raw.begin(), raw.end() - 100)));
  expect_format_error([&] { data::load_idx(p); }, {p, "[50, 28, 28]", "need 39200 data bytes",
                                                   "ends at byte offset 39116", "truncated"});
  // Complete stream with more content than declared.
  p = write("long.gz", gzip(cat(raw, {9})));
  expect_format_error([&] { data::load_idx(p); }, {p, "has more from byte offset 39216"});
  // Garbage after the stream.
  p = write("trailing.gz", cat(gz, {1, 2, 3}));
  expect_format_error([&] { data::load_idx(p); }, {p, "3 bytes of trailing garbage",
                                                   "byte offset " + std::to_string(gz.size())});
  // Corrupted deflate data or checksum.
  Bytes bad = gz;
  for (size_t i = 20; i < 60; ++i) bad[i] ^= 0x5a;
  p = write("corrupt.gz", bad);
  EXPECT_THROW(data::load_idx(p), FormatError);
  bad = gz;
  bad[bad.size() - 6] ^= 1;  // CRC32
  p = write("crc.gz", bad);
  expect_format_error([&] { data::load_idx(p); }, {p, "corrupt gzip data"});
}

TEST_F(DataFiles, IdxGzipClaimingHugeDimsFailsWithoutAllocatingThem) {
  // 2^36 floats (256 GB) declared by a small file: must fail when the
  // stream ends, having grown its buffer only to what was inflated.
  Bytes header = idx<float>(0x0D, {0x10000000u, 0x100u}, {});
  std::string p = write("bomb.gz", gzip(cat(header, Bytes(1000, 0))));
  expect_format_error([&] { data::load_idx(p); }, {p, "truncated"});
}

TEST_F(DataFiles, IdxMissingFileIsAnError) {
  try {
    data::load_idx(path("nope"));
    FAIL() << "expected wick::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path("nope")), std::string::npos) << e.what();
  }
}

// ---- MNIST layout ------------------------------------------------------------

namespace {
Bytes labels_idx(const std::vector<uint8_t>& labels) {
  return idx<uint8_t>(0x08, {uint32_t(labels.size())}, labels);
}
}  // namespace

TEST_F(DataFiles, MnistReadsRawAndGzipSplits) {
  write("train-images-idx3-ubyte", u8_images(5, 28, 28));
  write("train-labels-idx1-ubyte", labels_idx({3, 0, 9, 1, 1}));
  write("t10k-images-idx3-ubyte.gz", gzip(u8_images(2, 28, 28)));
  write("t10k-labels-idx1-ubyte.gz", gzip(labels_idx({7, 2})));

  data::MNIST train(dir_.string(), true);
  EXPECT_EQ(train.size(), 5);
  EXPECT_EQ(train.inputs().dtype(), DType::UInt8);
  EXPECT_EQ(train.inputs().sizes(), Shape({5, 1, 28, 28}));
  EXPECT_EQ(train.targets().dtype(), DType::Int64);
  EXPECT_EQ(train.targets().to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 9, 1, 1}));
  EXPECT_EQ(train.inputs().at({1, 0, 0, 0}).to<int64_t>(), int64_t(uint8_t(784 * 7 + 3)));

  data::FashionMNIST test(dir_.string(), false);
  EXPECT_EQ(test.size(), 2);
  EXPECT_EQ(test.targets().to_vector<int64_t>(), (std::vector<int64_t>{7, 2}));
  EXPECT_STREQ(data::FashionMNIST::classes[9], "Ankle boot");
}

TEST_F(DataFiles, MnistRejectsBadLabelsAndMismatchedFiles) {
  write("train-images-idx3-ubyte", u8_images(3, 28, 28));
  std::string labels = write("train-labels-idx1-ubyte", labels_idx({1, 10, 2}));
  expect_format_error([&] { data::MNIST(dir_.string(), true); },
                      {labels, "label 10", "example 1", "byte offset 9", "0..9"});
  write("train-labels-idx1-ubyte", labels_idx({1, 2}));
  expect_format_error([&] { data::MNIST(dir_.string(), true); }, {"3 images", "2 labels"});
  std::string images = write("train-images-idx3-ubyte", idx<int16_t>(0x0B, {2, 2}, {1, 2, 3, 4}));
  expect_format_error([&] { data::MNIST(dir_.string(), true); }, {images, "expected uint8 images"});
}

TEST_F(DataFiles, MnistMissingFilesNameThem) {
  try {
    data::FashionMNIST(dir_.string(), false);
    FAIL() << "expected wick::Error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("t10k-images-idx3-ubyte.gz"), std::string::npos) << m;
    EXPECT_NE(m.find(dir_.string()), std::string::npos) << m;
    EXPECT_NE(m.find("dataset-fashion-mnist"), std::string::npos) << m;
  }
}

// The real files from Debian's dataset-fashion-mnist (installed by scripts/setup.sh).
TEST(DataFashionMNIST, RealFilesLoad) {
  ASSERT_TRUE(fs::exists(std::string(data::kFashionMNISTRoot) + "/train-images-idx3-ubyte.gz"))
      << data::kFashionMNISTRoot
      << " is missing: scripts/setup.sh installs it (Debian package dataset-fashion-mnist)";
  for (bool train : {true, false}) {
    data::FashionMNIST ds(data::kFashionMNISTRoot, train);
    const int64_t n = train ? 60000 : 10000;
    EXPECT_EQ(ds.size(), n);
    EXPECT_EQ(ds.inputs().sizes(), Shape({n, 1, 28, 28}));
    EXPECT_EQ(ds.inputs().dtype(), DType::UInt8);
    EXPECT_EQ(ds.targets().sizes(), Shape({n}));
    EXPECT_EQ(ds.targets().dtype(), DType::Int64);
    // Fashion-MNIST is balanced: n / 10 images of each class.
    std::vector<int64_t> count(10, 0);
    for (int64_t l : ds.targets().to_vector<int64_t>()) {
      ASSERT_TRUE(l >= 0 && l < 10) << l;
      ++count[size_t(l)];
    }
    for (int64_t c : count) EXPECT_EQ(c, n / 10);
    // Real images: not all zero, and use the whole 0..255 range.
    std::vector<uint8_t> px = ds.inputs().narrow(0, 0, 100).to_vector<uint8_t>();
    EXPECT_EQ(*std::min_element(px.begin(), px.end()), 0);
    EXPECT_EQ(*std::max_element(px.begin(), px.end()), 255);
  }
}

// ---- CIFAR-10 ----------------------------------------------------------------

namespace {
// n records; record i has label labels[i] and pixel j = (i * 31 + j) mod 256.
Bytes cifar(const std::vector<uint8_t>& labels, int salt = 0) {
  Bytes b;
  for (size_t i = 0; i < labels.size(); ++i) {
    b.push_back(labels[i]);
    for (size_t j = 0; j < 3072; ++j) b.push_back(uint8_t(i * 31 + j + size_t(salt)));
  }
  return b;
}
}  // namespace

TEST_F(DataFiles, CifarBatchLayout) {
  data::Batch b = data::load_cifar10_batch(write("data_batch_1.bin", cifar({6, 9, 0})));
  EXPECT_EQ(b.input.sizes(), Shape({3, 3, 32, 32}));
  EXPECT_EQ(b.input.dtype(), DType::UInt8);
  EXPECT_EQ(b.target.dtype(), DType::Int64);
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{6, 9, 0}));
  // Record 2, green channel (offset 1024), row 1, column 5 -> pixel byte 1024 + 32 + 5.
  EXPECT_EQ(b.input.at({2, 1, 1, 5}).to<int64_t>(), int64_t(uint8_t(2 * 31 + 1024 + 32 + 5)));
  EXPECT_EQ(b.input.at({0, 2, 31, 31}).to<int64_t>(), int64_t(uint8_t(3071)));
}

TEST_F(DataFiles, CifarMalformedFiles) {
  Bytes good = cifar({1, 2});
  std::string p = write("cut.bin", Bytes(good.begin(), good.end() - 1));
  expect_format_error(
      [&] { data::load_cifar10_batch(p); },
      {p, "6145 bytes", "not a multiple of the 3073-byte record", "byte offset 3073"});
  p = write("label.bin", cifar({1, 2, 10}));
  expect_format_error([&] { data::load_cifar10_batch(p); },
                      {p, "label 10", "record 2", "byte offset 6146"});
  p = write("empty.bin", {});
  expect_format_error([&] { data::load_cifar10_batch(p); }, {p, "empty"});
  EXPECT_THROW(data::load_cifar10_batch(path("missing.bin")), Error);
}

TEST_F(DataFiles, Cifar10SplitsConcatenateInOrder) {
  for (int i = 1; i <= 5; ++i) {
    write("data_batch_" + std::to_string(i) + ".bin", cifar({uint8_t(i), uint8_t(i + 1)}, i));
  }
  write("test_batch.bin", cifar({9, 8, 7}));
  data::CIFAR10 train(dir_.string(), true);
  EXPECT_EQ(train.size(), 10);
  EXPECT_EQ(train.targets().to_vector<int64_t>(),
            (std::vector<int64_t>{1, 2, 2, 3, 3, 4, 4, 5, 5, 6}));
  EXPECT_EQ(train.inputs().sizes(), Shape({10, 3, 32, 32}));
  // Example 7 is record 1 of data_batch_4 (salt 4): first pixel 31 + 4.
  EXPECT_EQ(train.inputs().at({7, 0, 0, 0}).to<int64_t>(), 35);
  data::CIFAR10 test(dir_.string(), false);
  EXPECT_EQ(test.targets().to_vector<int64_t>(), (std::vector<int64_t>{9, 8, 7}));
  EXPECT_STREQ(data::CIFAR10::classes[0], "airplane");
  fs::remove(dir_ / "data_batch_3.bin");
  EXPECT_THROW(data::CIFAR10(dir_.string(), true), Error);
}
