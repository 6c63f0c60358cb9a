// Internal: file access and the ZIP container of torch.save (spec section 1).
//
// Source gives random access to a checkpoint's bytes, mapped or read with
// pread. ZipReader finds the records through the end records and the central
// directory, checking every offset and size against the file. ZipWriter writes
// the layout torch's miniz-based writer produces, byte for byte: 64-byte aligned
// payloads through the "FB" padding field, data descriptors, ZIP64 end records.
// AtomicFile is the crash-safe output: a temporary file renamed over the target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wick/core/storage.h"

namespace wick::io::detail {

/// Random-access bytes: a memory-mapped file, a file read with pread, or a
/// caller's buffer.
class Source {
 public:
  static Source map(const std::string& path);
  static Source file(const std::string& path);
  static Source memory(std::span<const std::byte> bytes, std::string name = "<memory>");

  uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }
  /// The bytes in place (mapped or memory sources), else null.
  const std::byte* data() const { return data_; }
  /// The mapping of a mapped source, else null.
  const std::shared_ptr<MappedFile>& mapped() const { return mapped_; }
  /// Copies [offset, offset + n) to dst; throws FormatError naming `what` if
  /// the range is outside the file, wick::Error if reading fails.
  void read(uint64_t offset, void* dst, size_t n, std::string_view what) const;
  /// Throws FormatError unless [offset, offset + n) is inside the file.
  void check_range(uint64_t offset, uint64_t n, std::string_view what) const;

 private:
  std::string name_;
  uint64_t size_ = 0;
  const std::byte* data_ = nullptr;
  std::shared_ptr<MappedFile> mapped_;
  std::shared_ptr<int> fd_;
};

/// Uninitialised memory for a storage that a load fills: large ones come from
/// an anonymous mapping with transparent huge pages, which a copying load
/// fills several times faster than 4 KiB pages.
std::shared_ptr<Storage> allocate_storage(size_t nbytes);

/// One record of an archive, from the central directory.
struct ZipEntry {
  std::string name;
  uint64_t header_offset = 0;
  uint64_t size = 0;             // uncompressed
  uint64_t compressed_size = 0;  // bytes stored in the file
  uint32_t crc = 0;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint16_t flags = 0;
};

class ZipReader {
 public:
  /// Parses the end records and the central directory. Throws FormatError.
  explicit ZipReader(const Source& source);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  /// The entry named `name`, or null.
  const ZipEntry* find(std::string_view name) const;
  /// File offset of the entry's stored bytes (reads its local header), checked
  /// to lie inside the file.
  uint64_t data_offset(const ZipEntry& e) const;
  /// Reads the whole record into dst (e.size bytes), inflating if needed.
  void read(const ZipEntry& e, void* dst) const;
  std::string read_string(const ZipEntry& e) const;
  /// Throws FormatError unless the CRC-32 of `data` (e.size bytes) is e.crc.
  void check_crc(const ZipEntry& e, const void* data) const;

 private:
  const Source& src_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

/// Appends bytes to an output.
using Sink = std::function<void(const void* data, size_t n)>;

/// Writes records as torch does; call add() per record, then finish().
class ZipWriter {
 public:
  explicit ZipWriter(Sink sink) : sink_(std::move(sink)) {}
  /// Adds a stored record named `name` (with its prefix folder).
  void add(const std::string& name, std::span<const std::byte> data);
  /// Writes the central directory and the end records.
  void finish();

 private:
  void out(const void* p, size_t n) {
    sink_(p, n);
    offset_ += n;
  }
  Sink sink_;
  uint64_t offset_ = 0;
  std::vector<ZipEntry> entries_;
};

/// CRC-32 (zlib's) of any length.
uint32_t crc32_of(const void* data, size_t n);

/// A new file that replaces `path` only when commit() succeeds: bytes go to a
/// temporary file in the same directory, which commit() flushes, fsyncs and
/// renames over the target (then fsyncs the directory). Destroyed without a
/// commit, it removes the temporary file and leaves the target untouched.
/// The temporary file is named `.<name>.tmp-<pid>-...` next to the target (a
/// process killed mid-save leaves it behind), and gets the permission bits of
/// the file it replaces. Errors name the target and the OS error. A target
/// that is a symbolic link is followed: the file it points to is replaced.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Buffered write; large blocks go straight to the file.
  void write(const void* data, size_t n);
  void commit(bool fsync = true);

 private:
  AtomicFile(const std::string& resolved_path, int);  // after follow_links
  void flush();
  void put(const char* p, size_t n);
  std::string path_, temp_;
  int fd_ = -1;
  std::vector<char> buffer_;
  bool committed_ = false;
};

}  // namespace wick::io::detail
