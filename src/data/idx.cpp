// IDX reader. Sizes come from the file, so every declared size is checked
// against the bytes actually present (raw) or inflated (gzip) before it is
// trusted, and gzip output is never allowed to grow past the declared size.
#include "wick/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <vector>

#include "wick/core/error.h"
#include "wick/core/storage.h"

namespace wick::data {

namespace {

constexpr int64_t kMaxBytes = std::numeric_limits<int64_t>::max() / 2;

std::string hex(uint64_t v, int digits) {
  static const char* d = "0123456789abcdef";
  std::string s = "0x";
  for (int i = digits - 1; i >= 0; --i) s += d[(v >> (4 * i)) & 15];
  return s;
}

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

struct Header {
  DType dtype = DType::UInt8;
  Shape dims;
  int64_t data_bytes = 0;  // numel * element size, overflow-checked
};

// Parses the 4-byte magic: 0, 0, type code, number of dims.
void parse_magic(const uint8_t* p, const std::string& name, Header& h, int& ndims) {
  WICK_CHECK_AS(FormatError, p[0] == 0 && p[1] == 0, "load_idx: '", name, "': bad magic ",
                hex(be32(p), 8),
                " at byte offset 0 (an IDX file starts with two zero bytes, a type code "
                "and the number of dimensions)");
  // The type codes of the format, in code order.
  constexpr std::pair<uint8_t, DType> kTypes[] = {{0x08, DType::UInt8},   {0x09, DType::Int8},
                                                  {0x0B, DType::Int16},   {0x0C, DType::Int32},
                                                  {0x0D, DType::Float32}, {0x0E, DType::Float64}};
  const auto* type = std::find_if(std::begin(kTypes), std::end(kTypes),
                                  [&](const auto& t) { return t.first == p[2]; });
  if (type == std::end(kTypes))
    throw FormatError("load_idx: '" + name + "': unknown element type code " + hex(p[2], 2) +
                      " at byte offset 2 (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)");
  h.dtype = type->second;
  ndims = p[3];
  WICK_CHECK_AS(FormatError, ndims >= 1, "load_idx: '", name,
                "': zero dimensions declared at byte offset 3");
}

void parse_dims(const uint8_t* p, int ndims, const std::string& name, Header& h) {
  // The product of the nonzero dims is bounded too: a tensor's strides are
  // that product, even when a zero dim makes it empty.
  int64_t numel = 1, nonzero = 1;
  for (int i = 0; i < ndims; ++i) {
    const int64_t d = be32(p + 4 * i);
    h.dims.push_back(d);
    // d < 2^32, so the product only overflows when it really is absurd.
    const int64_t m = std::max<int64_t>(d, 1);
    WICK_CHECK_AS(FormatError, nonzero <= kMaxBytes / m / element_size(h.dtype), "load_idx: '",
                  name, "': declared dims ", h.dims, "... at byte offset ", 4 + 4 * i,
                  " are too large");
    nonzero *= m;
    numel *= d;
  }
  h.data_bytes = numel * element_size(h.dtype);
}

// IDX is big-endian; convert to the host's order in place.
void to_host_order(std::byte* data, int64_t numel, int64_t elem) {
  if constexpr (std::endian::native == std::endian::big) return;
  for (int64_t i = 0; i < numel; ++i) std::reverse(data + i * elem, data + (i + 1) * elem);
}

Tensor finish(const Header& h, const uint8_t* data) {
  Tensor t = empty(h.dims, {.dtype = h.dtype});
  if (h.data_bytes > 0) {
    std::memcpy(t.data_ptr(), data, size_t(h.data_bytes));
    if (element_size(h.dtype) > 1)
      to_host_order(static_cast<std::byte*>(t.data_ptr()), t.numel(), element_size(h.dtype));
  }
  return t;
}

Tensor parse_raw(std::span<const uint8_t> bytes, const std::string& name) {
  const int64_t size = int64_t(bytes.size());
  WICK_CHECK_AS(FormatError, size >= 4, "load_idx: '", name, "': the file is ", size,
                " bytes, too short for the 4-byte IDX magic");
  Header h;
  int ndims = 0;
  parse_magic(bytes.data(), name, h, ndims);
  const int64_t header = 4 + 4 * int64_t(ndims);
  WICK_CHECK_AS(FormatError, size >= header, "load_idx: '", name, "': truncated header: ", ndims,
                " dims need ", header, " header bytes but the file ends at byte offset ", size);
  parse_dims(bytes.data() + 4, ndims, name, h);
  WICK_CHECK_AS(FormatError, size - header == h.data_bytes, "load_idx: '", name,
                "': declared dims ", h.dims, " (", h.dtype, ") need ", h.data_bytes,
                " data bytes after the ", header, "-byte header, but the file has ", size - header,
                size - header < h.data_bytes ? " (truncated: the data ends at byte offset "
                                             : " (extra data from byte offset ",
                size - header < h.data_bytes ? size : header + h.data_bytes, ")");
  return finish(h, bytes.data() + header);
}

// Streams a gzip file's decompressed bytes; multi-member files are joined, as gzip -d does.
class Inflater {
 public:
  Inflater(std::span<const uint8_t> in, const std::string& name) : in_(in), name_(name) {
    if (inflateInit2(&z_, 15 + 16) != Z_OK)
      throw Error("load_idx: '" + name + "': cannot initialise zlib");
  }
  ~Inflater() { inflateEnd(&z_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Fills up to n bytes; fewer only at the end of the data.
  size_t read(uint8_t* dst, size_t n) {
    z_.next_out = dst;
    z_.avail_out = uInt(n);  // callers read at most 1 << 24 bytes at a time
    while (z_.avail_out > 0 && !ended_) {
      if (z_.avail_in == 0) {
        const size_t left = in_.size() - consumed_;
        WICK_CHECK_AS(FormatError, left > 0, "load_idx: '", name_,
                      "': truncated gzip stream: the compressed data ends at byte offset ",
                      in_.size(), " after ", total_ + (n - z_.avail_out),
                      " decompressed bytes, before the end of the stream");
        const size_t chunk = std::min<size_t>(left, size_t(1) << 30);
        z_.next_in = const_cast<Bytef*>(in_.data() + consumed_);
        z_.avail_in = uInt(chunk);
        consumed_ += chunk;
      }
      const int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        const size_t pos = consumed_ - z_.avail_in;  // compressed offset after this member
        if (pos == in_.size()) {
          ended_ = true;
        } else {
          WICK_CHECK_AS(FormatError,
                        in_.size() - pos >= 2 && in_[pos] == 0x1f && in_[pos + 1] == 0x8b,
                        "load_idx: '", name_, "': ", in_.size() - pos,
                        " bytes of trailing garbage after the gzip stream at byte offset ", pos);
          inflateReset(&z_);
        }
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw FormatError("load_idx: '" + name_ + "': corrupt gzip data near byte offset " +
                          std::to_string(consumed_ - z_.avail_in) + ": " +
                          (z_.msg ? z_.msg : "zlib error " + std::to_string(rc)));
      }
    }
    const size_t got = n - z_.avail_out;
    total_ += got;
    return got;
  }

  int64_t total() const { return int64_t(total_); }

 private:
  z_stream z_{};
  std::span<const uint8_t> in_;
  const std::string& name_;
  size_t consumed_ = 0;  // compressed bytes handed to zlib
  size_t total_ = 0;     // decompressed bytes returned
  bool ended_ = false;
};

Tensor parse_gzip(std::span<const uint8_t> bytes, const std::string& name) {
  Inflater in(bytes, name);
  uint8_t head[4 + 4 * 255];
  WICK_CHECK_AS(FormatError, in.read(head, 4) == 4, "load_idx: '", name,
                "': the decompressed data is ", in.total(),
                " bytes, too short for the 4-byte IDX magic");
  Header h;
  int ndims = 0;
  parse_magic(head, name, h, ndims);
  const int64_t header = 4 + 4 * int64_t(ndims);
  WICK_CHECK_AS(FormatError, int64_t(in.read(head + 4, size_t(header - 4))) == header - 4,
                "load_idx: '", name, "': truncated header: ", ndims, " dims need ", header,
                " header bytes but the decompressed data ends at byte offset ", in.total());
  parse_dims(head + 4, ndims, name, h);

  // Grow geometrically, never past the declared size: a tiny file claiming
  // 2^40 elements fails when its stream ends, after allocating what it holds.
  std::vector<uint8_t> data;
  size_t filled = 0;
  const size_t want = size_t(h.data_bytes);
  while (filled < want) {
    if (filled == data.size())
      data.resize(std::min(want, std::max<size_t>(data.size() * 2, size_t(1) << 16)));
    const size_t n = std::min(data.size() - filled, size_t(1) << 24);
    const size_t got = in.read(data.data() + filled, n);
    filled += got;
    WICK_CHECK_AS(FormatError, got == n, "load_idx: '", name, "': declared dims ", h.dims, " (",
                  h.dtype, ") need ", h.data_bytes, " data bytes after the ", header,
                  "-byte header, but the decompressed data ends at byte offset ", in.total(),
                  " (truncated)");
  }
  uint8_t extra;
  WICK_CHECK_AS(FormatError, in.read(&extra, 1) == 0, "load_idx: '", name, "': declared dims ",
                h.dims, " (", h.dtype, ") need ", h.data_bytes,
                " data bytes, but the decompressed data has more from byte offset ",
                header + h.data_bytes);
  return finish(h, data.data());
}

}  // namespace

Tensor parse_idx(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return parse_gzip(bytes, name);
  return parse_raw(bytes, name);
}

Tensor load_idx(const std::string& path) {
  std::shared_ptr<MappedFile> file = MappedFile::open(path);
  return parse_idx({reinterpret_cast<const uint8_t*>(file->data()), file->size()}, path);
}

}  // namespace wick::data
