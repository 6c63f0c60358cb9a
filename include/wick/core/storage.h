// Storage: the bytes behind tensors, shared and reference-counted.
//
// A storage either owns 64-byte aligned heap memory or borrows a region of a
// memory-mapped file, which it keeps mapped for as long as any tensor uses it.
// Tensors hold a std::shared_ptr<Storage>; views share one storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace wick {

/// A read-only-on-disk memory map of a whole file. Pages are mapped private
/// (copy-on-write), so writing through a tensor never modifies the file.
class MappedFile {
 public:
  /// Maps `path`. Throws wick::Error naming the path and the OS error.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

/// A contiguous run of bytes that tensors view.
class Storage {
 public:
  /// Allocates `nbytes` of uninitialised, 64-byte aligned memory. Throws
  /// wick::Error when the allocation fails or the size is absurd.
  static std::shared_ptr<Storage> allocate(size_t nbytes);

  /// Borrows [offset, offset + nbytes) of a mapped file, keeping it alive.
  /// Throws wick::Error if the region is not inside the file.
  static std::shared_ptr<Storage> from_mapped(std::shared_ptr<MappedFile> file, size_t offset,
                                              size_t nbytes);

  /// Borrows caller-owned memory; `owner` is kept alive with the storage.
  static std::shared_ptr<Storage> borrow(void* data, size_t nbytes, std::shared_ptr<void> owner);

  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  std::byte* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  /// True when the bytes belong to someone else (a mapped file, a caller).
  bool is_borrowed() const { return owner_ != nullptr; }
  /// The mapped file this storage is a region of, or null.
  const std::shared_ptr<MappedFile>& mapped_file() const { return file_; }

 private:
  Storage() = default;
  std::byte* data_ = nullptr;
  size_t nbytes_ = 0;
  std::shared_ptr<void> owner_;
  std::shared_ptr<MappedFile> file_;
};

}  // namespace wick
