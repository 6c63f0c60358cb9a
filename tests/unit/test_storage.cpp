// Storage: aligned heap memory, borrowed memory, and regions of mapped files
// that stay mapped while a tensor uses them and never write back to disk.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/storage_cache.h"
#include "wick/core/tensor.h"

using namespace wick;

namespace {

// A file under the temp directory, removed when the test ends.
struct TempFile {
  std::string path;
  explicit TempFile(const std::vector<char>& bytes) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wick_storage_XXXXXX").string();
    int fd = mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    if (!bytes.empty() && ::write(fd, bytes.data(), bytes.size()) != ssize_t(bytes.size()))
      throw std::runtime_error("write failed");
    ::close(fd);
    path = tmpl;
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::vector<char> read() const {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

std::vector<char> float_bytes(const std::vector<float>& v) {
  std::vector<char> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A 1-D float32 tensor over a whole storage.
Tensor over(std::shared_ptr<Storage> s) {
  const auto n = int64_t(s->nbytes() / sizeof(float));
  return make_tensor(std::move(s), DType::Float32, {n}, {1});
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no exception>";
}

}  // namespace

TEST(Storage, AllocateIsAlignedSizedAndWritable) {
  for (size_t n :
       {size_t(0), size_t(1), size_t(3), size_t(63), size_t(64), size_t(65), size_t(4097)}) {
    auto s = Storage::allocate(n);
    ASSERT_NE(s->data(), nullptr) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(s->data()) % 64, 0u) << n;
    EXPECT_EQ(s->nbytes(), n);
    EXPECT_FALSE(s->is_borrowed());
    EXPECT_EQ(s->mapped_file(), nullptr);
    std::memset(s->data(), 0xab, n);  // the sanitizer run checks the bounds
  }
}

TEST(Storage, FreedBlocksAreKeptForReuseWithinBounds) {
  const size_t before = detail::storage_cache_bytes();
#if defined(__SANITIZE_ADDRESS__)
  // With AddressSanitizer every block goes back to malloc.
  { auto s = Storage::allocate(size_t(1) << 20); }
  EXPECT_EQ(detail::storage_cache_bytes(), 0u);
#else
  // A freed block is kept and handed out again for the same size.
  const size_t n = (size_t(1) << 20) + 100;  // rounds up to a multiple of 64
  void* first;
  {
    auto s = Storage::allocate(n);
    first = s->data();
  }
  const size_t kept = detail::storage_cache_bytes();
  EXPECT_EQ(kept, before + (n + 63) / 64 * 64);
  auto again = Storage::allocate(n);
  EXPECT_EQ(again->data(), first);
  EXPECT_EQ(detail::storage_cache_bytes(), before);
  // A block above the size bound is freed, not kept.
  { auto big = Storage::allocate(detail::kStorageCacheMaxBlock + 64); }
  EXPECT_EQ(detail::storage_cache_bytes(), before);
  // The total never exceeds its bound.
  {
    std::vector<std::shared_ptr<Storage>> many;
    for (int i = 0; i < 12; ++i) many.push_back(Storage::allocate(size_t(8) << 20));
  }
  EXPECT_LE(detail::storage_cache_bytes(), detail::kStorageCacheMaxBytes);
  EXPECT_GT(detail::storage_cache_bytes(), detail::kStorageCacheMaxBytes - (size_t(8) << 20));
#endif
}

TEST(Storage, AbsurdSizesThrowInsteadOfAllocating) {
  std::string msg = message_of([] { Storage::allocate((size_t(1) << 62) + 1); });
  EXPECT_NE(msg.find("Storage::allocate"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string((size_t(1) << 62) + 1)), std::string::npos) << msg;
  EXPECT_THROW(Storage::allocate(SIZE_MAX), Error) << "no overflow when rounding up";
}

TEST(Storage, BorrowKeepsTheOwnerAlive) {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3});
  std::weak_ptr<std::vector<float>> watch = owner;
  auto s = Storage::borrow(owner->data(), 3 * sizeof(float), owner);
  owner.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_TRUE(s->is_borrowed());
  Tensor t = over(s);
  s.reset();
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  t = Tensor();
  EXPECT_TRUE(watch.expired());
}

TEST(Storage, BorrowWithoutOwnerDoesNotFree) {
  float local[2] = {5, 6};
  {
    auto s = Storage::borrow(local, sizeof local, nullptr);
    EXPECT_TRUE(s->is_borrowed());
    EXPECT_EQ(over(s).to_vector<float>(), (std::vector<float>{5, 6}));
  }  // freeing a stack array here would crash or trip the sanitizer
  EXPECT_EQ(local[1], 6);
}

TEST(MappedStorage, KeepsTheFileMappedAfterTheHandleIsDropped) {
  TempFile file(float_bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  auto mapped = MappedFile::open(file.path);
  EXPECT_EQ(mapped->size(), 32u);
  EXPECT_EQ(mapped->path(), file.path);
  std::weak_ptr<MappedFile> watch = mapped;
  Tensor t = over(Storage::from_mapped(mapped, 8, 16));  // elements 2..5
  mapped.reset();
  EXPECT_FALSE(watch.expired()) << "the storage holds the mapping";
  EXPECT_TRUE(t.storage()->is_borrowed());
  EXPECT_EQ(t.storage()->mapped_file(), watch.lock());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{3, 4, 5, 6}));
  Tensor view = t.slice(0, 1, 3);
  t = Tensor();
  EXPECT_EQ(view.to_vector<float>(), (std::vector<float>{4, 5})) << "views keep it too";
  view = Tensor();
  EXPECT_TRUE(watch.expired()) << "unmapped with the last tensor";
}

TEST(MappedStorage, WritesStayPrivateToTheProcess) {
  std::vector<char> original = float_bytes({1, 2, 3, 4});
  TempFile file(original);
  Tensor t = over(Storage::from_mapped(MappedFile::open(file.path), 0, 16));
  t.fill_(9.0);
  t.set({0}, 7.0);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{7, 9, 9, 9}));
  EXPECT_EQ(file.read(), original) << "the file on disk is unchanged";
  Tensor again = over(Storage::from_mapped(MappedFile::open(file.path), 0, 16));
  EXPECT_EQ(again.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}))
      << "a new mapping sees the file, not the other mapping's writes";
}

TEST(MappedStorage, EmptyFile) {
  TempFile file({});
  auto mapped = MappedFile::open(file.path);
  EXPECT_EQ(mapped->size(), 0u);
  EXPECT_EQ(Storage::from_mapped(mapped, 0, 0)->nbytes(), 0u);
  EXPECT_THROW(Storage::from_mapped(mapped, 0, 1), Error);
}

TEST(MappedStorage, RegionsOutsideTheFileThrowNamingThePath) {
  TempFile file(float_bytes({1, 2, 3, 4}));
  auto mapped = MappedFile::open(file.path);
  EXPECT_NO_THROW(Storage::from_mapped(mapped, 0, 16));
  EXPECT_NO_THROW(Storage::from_mapped(mapped, 16, 0));
  for (auto [offset, nbytes] :
       {std::pair<size_t, size_t>{0, 17}, {12, 8}, {17, 0}, {8, SIZE_MAX}, {SIZE_MAX, 2}}) {
    std::string msg = message_of([&] { Storage::from_mapped(mapped, offset, nbytes); });
    EXPECT_NE(msg.find(file.path), std::string::npos) << offset << "+" << nbytes << ": " << msg;
    EXPECT_NE(msg.find(std::to_string(offset)), std::string::npos) << msg;
  }
  EXPECT_THROW(Storage::from_mapped(nullptr, 0, 0), Error);
}

TEST(MappedFile, OpenErrorsNameThePath) {
  std::string missing = (std::filesystem::temp_directory_path() / "wick_no_such_file.bin").string();
  std::string msg = message_of([&] { MappedFile::open(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << "the OS error is included: " << msg;
  std::string dir = std::filesystem::temp_directory_path().string();
  msg = message_of([&] { MappedFile::open(dir); });
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
}
