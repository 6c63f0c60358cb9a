// Internal: the ZIP container of torch.save (docs/formats.md §1).
//
// ZipReader finds the records through the end records and the central
// directory, checking every offset and size against the file. ZipWriter writes
// the layout torch's miniz-based writer produces, byte for byte: 64-byte aligned
// payloads through the "FB" padding field, data descriptors, ZIP64 end records.
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

#include "io/file.h"

namespace wick::io::detail {

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
  /// The folder every record of a torch.save archive lives in, with its
  /// slash: the first record's. Throws FormatError for an empty archive or a
  /// record outside that folder.
  std::string folder() const;
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

}  // namespace wick::io::detail
