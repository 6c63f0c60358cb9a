// Internal: file access for every reader and writer of checkpoints.
//
// Source gives random access to a file's bytes, mapped or read with pread.
// allocate_storage gives the memory a copying load fills. AtomicFile is the
// crash-safe output: a temporary file renamed over the target. Defined in
// file.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wick/core/error.h"
#include "wick/core/storage.h"

namespace wick::io::detail {

class Source;

/// Throws FormatError: `src`'s name, ": ", then the streamed arguments. Every
/// reader reports malformed content this way.
template <class... A>
[[noreturn]] void malformed(const Source& src, A&&... a);

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
  int slot_ = -1;  // where remove_unfinished_saves() finds temp_
  std::vector<char> buffer_;
  bool committed_ = false;
};

template <class... A>
[[noreturn]] void malformed(const Source& src, A&&... a) {
  throw FormatError(wick::detail::concat(src.name(), ": ", std::forward<A>(a)...));
}

}  // namespace wick::io::detail
