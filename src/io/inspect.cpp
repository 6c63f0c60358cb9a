// Looking at checkpoint files without loading them for use: format detection,
// version records and a full verification that reports the first problem.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "io/pickle.h"
#include "io/sniff.h"
#include "io/zip.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"

namespace wick::io {

using detail::Source;
using detail::ZipEntry;
using detail::ZipReader;

namespace {

Format detect(const Source& src) {
  if (auto format = detail::sniff_format(src)) return *format;
  detail::malformed(src, "not a PyTorch or safetensors checkpoint");
}

// Loader messages start with the file name; a VerifyProblem is about that file
// already.
std::string without_file(const Source& src, std::string message) {
  std::string prefix = src.name() + ": ";
  if (message.starts_with(prefix)) message.erase(0, prefix.size());
  return message;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// The loader bounds how far shared containers expand a tree (and refuses
// cycles), so walking every path is safe.
void count_tensors(const Value& v, VerifyResult& r) {
  for (const auto& [name, leaf] : leaves(v)) {
    if (!leaf.is_tensor()) continue;
    r.tensors += 1;
    r.nbytes += uint64_t(leaf.as_tensor().nbytes());
  }
}

// Every record's local header and CRC-32, in file order. Returns false after
// recording the first problem.
bool check_records(const Source& src, VerifyResult& r) {
  ZipReader zip(src);
  r.records = zip.entries().size();
  for (const ZipEntry& e : zip.entries()) {
    uint64_t off = e.header_offset;
    try {
      off = zip.data_offset(e);
      uint32_t crc = 0;
      if (e.method == 0 && src.data()) {
        crc = detail::crc32_of(src.data() + off, size_t(e.size));
      } else {
        // The inflate bound of ZipReader::read, checked before allocating.
        if (e.size / 1032 > e.compressed_size + 1)
          throw FormatError("deflated record claims " + std::to_string(e.size) + " bytes from " +
                            std::to_string(e.compressed_size));
        std::vector<std::byte> data(size_t(e.size));
        zip.read(e, data.data());
        crc = detail::crc32_of(data.data(), data.size());
      }
      if (crc != e.crc) {
        r.problem = VerifyProblem{
            e.name, off,
            "CRC-32 mismatch (stored " + hex32(e.crc) + ", computed " + hex32(crc) + ")"};
        return false;
      }
    } catch (const FormatError& err) {
      r.problem = VerifyProblem{e.name, off, without_file(src, err.what())};
      return false;
    }
  }
  r.crc_checked = true;
  return true;
}

}  // namespace

std::string_view format_name(Format format) {
  switch (format) {
    case Format::PtZip:
      return "pt-zip";
    case Format::PtLegacy:
      return "pt-legacy";
    case Format::Safetensors:
      return "safetensors";
  }
  return "unknown";
}

Format detect_format(const std::string& path) {
  return detect(Source::file(path));
}

std::vector<std::pair<std::string, std::string>> version_records(const std::string& path) {
  Source src = Source::map(path);
  std::vector<std::pair<std::string, std::string>> out;
  switch (detect(src)) {
    case Format::Safetensors:
      break;
    case Format::PtLegacy: {
      out.emplace_back("magic", "0x1950a86a20f9469cfc6c");
      auto no_storage = [&](const detail::StorageRef&) -> std::shared_ptr<Storage> {
        detail::malformed(src, "unexpected storage in the legacy header");
      };
      detail::UnpickleOptions o;
      o.what = src.name() + ": protocol pickle";
      std::span<const std::byte> all(src.data(), size_t(src.size()));
      const size_t magic =
          detail::legacy_magic_size(reinterpret_cast<const unsigned char*>(all.data()), all.size());
      Value protocol = detail::unpickle(all.subspan(magic), no_storage, o);
      out.emplace_back("protocol version", protocol.repr());
      break;
    }
    case Format::PtZip: {
      ZipReader zip(src);
      std::string prefix = zip.folder();
      for (const ZipEntry& e : zip.entries()) {
        if (!e.name.starts_with(prefix)) continue;
        std::string name = e.name.substr(prefix.size());
        bool top = name.find('/') == std::string::npos || name == ".data/version";
        if (!top || name.ends_with(".pkl") || e.size > 64) continue;
        std::string text = zip.read_string(e);
        if (!text.empty() && text.back() == '\n') text.pop_back();
        // Only text: these records are printed as they are.
        bool printable =
            std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
        if (printable) out.emplace_back(name, text);
      }
      break;
    }
  }
  return out;
}

std::string VerifyProblem::str() const {
  std::string s;
  if (!record.empty()) s += "record '" + record + "' ";
  if (offset) s += "(offset " + std::to_string(*offset) + ") ";
  if (!s.empty()) {
    s.back() = ':';
    s += ' ';
  }
  return s + message;
}

VerifyResult verify(const std::string& path) {
  VerifyResult r;
  Source src = Source::map(path);  // an unreadable file is an exception, not a result
  try {
    r.format = detect(src);
    switch (*r.format) {
      case Format::PtZip:
        if (!check_records(src, r)) return r;
        // The CRCs are checked; load the structure without reading data again.
        count_tensors(load(path), r);
        break;
      case Format::PtLegacy:
        count_tensors(load(path), r);
        break;
      case Format::Safetensors:
        for (const auto& [name, t] : load_safetensors(path).tensors) {
          r.tensors += 1;
          r.nbytes += uint64_t(t.as_tensor().nbytes());
        }
        break;
    }
  } catch (const Error& e) {
    // Once the file is open, anything the loader refuses is a problem of the
    // file (malformed values can also raise plain wick::Errors).
    r.problem = VerifyProblem{{}, {}, without_file(src, e.what())};
  }
  return r;
}

}  // namespace wick::io
