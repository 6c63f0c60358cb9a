// ZIP reading and writing for torch.save archives (docs/formats.md §1.4–1.10).
#include "io/zip.h"

#include <zlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "wick/core/error.h"

namespace wick::io::detail {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kLocator64Sig = 0x07064b50;
constexpr uint32_t kDescriptorSig = 0x08074b50;
constexpr uint32_t k32 = 0xffffffffu;

uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

}  // namespace

namespace {

#if defined(__x86_64__)
// CRC-32 by folding with carry-less multiplication (Intel, "Fast CRC
// Computation for Generic Polynomials Using PCLMULQDQ", constants for the
// bit-reflected ZIP polynomial). `len` is a multiple of 64, at least 64; `crc`
// and the result are the raw (inverted) register. zlib's table-driven CRC runs
// at ~2 GB/s; this is several times faster, so saving is not CRC-bound.
#define WICK_CLMUL __attribute__((target("pclmul,sse4.1")))
WICK_CLMUL inline __m128i load(const unsigned char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
// x * k (both halves, carry-less) + next: one 128-bit folding step.
WICK_CLMUL inline __m128i fold(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

WICK_CLMUL uint32_t crc32_fold(const unsigned char* buf, size_t len, uint32_t crc) {
  alignas(16) static const uint64_t k1k2[] = {0x0154442bd4, 0x01c6e41596};
  alignas(16) static const uint64_t k3k4[] = {0x01751997d0, 0x00ccaa009e};
  alignas(16) static const uint64_t k5k0[] = {0x0163cd6124, 0x0000000000};
  alignas(16) static const uint64_t poly[] = {0x01db710641, 0x01f7011641};
  __m128i x1 = _mm_xor_si128(load(buf), _mm_cvtsi32_si128(int(crc)));
  __m128i x2 = load(buf + 16), x3 = load(buf + 32), x4 = load(buf + 48);
  __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(k1k2));
  for (buf += 64, len -= 64; len >= 64; buf += 64, len -= 64) {
    x1 = fold(x1, k, load(buf));
    x2 = fold(x2, k, load(buf + 16));
    x3 = fold(x3, k, load(buf + 32));
    x4 = fold(x4, k, load(buf + 48));
  }
  k = _mm_load_si128(reinterpret_cast<const __m128i*>(k3k4));
  x1 = fold(x1, k, x2);
  x1 = fold(x1, k, x3);
  x1 = fold(x1, k, x4);
  // 128 -> 64 -> 32 bits, then Barrett reduction.
  __m128i mask = _mm_setr_epi32(~0, 0, ~0, 0);
  x2 = _mm_clmulepi64_si128(x1, k, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
  k = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(k5k0));
  x2 = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask), k, 0x00), x2);
  k = _mm_load_si128(reinterpret_cast<const __m128i*>(poly));
  x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask), k, 0x10);
  x2 = _mm_clmulepi64_si128(_mm_and_si128(x2, mask), k, 0x00);
  return uint32_t(_mm_extract_epi32(_mm_xor_si128(x1, x2), 1));
}
#undef WICK_CLMUL

bool have_fold() {
  static const bool yes = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return yes;
}
#endif

// zlib-compatible crc32(crc, p, n).
uLong crc32_part(uLong crc, const Bytef* p, size_t n) {
#if defined(__x86_64__)
  if (n >= 64 && have_fold()) {
    size_t m = n - n % 64;
    crc = ~crc32_fold(p, m, ~uint32_t(crc)) & 0xffffffffu;
    p += m;
    n -= m;
  }
#endif
  return ::crc32_z(crc, p, n);
}

}  // namespace

uint32_t crc32_of(const void* data, size_t n) {
  // Big records are also split across threads, the parts joined with
  // crc32_combine.
  constexpr size_t kPart = size_t(8) << 20;
  const auto* p = static_cast<const Bytef*>(data);
  if (n < 2 * kPart) return uint32_t(crc32_part(0, p, n));
  size_t parts = (n + kPart - 1) / kPart;
  std::vector<uLong> crcs(parts);
  wick::detail::parallel_for(0, int64_t(parts), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      size_t off = size_t(i) * kPart;
      crcs[size_t(i)] = crc32_part(0, p + off, std::min(kPart, n - off));
    }
  });
  uLong crc = crcs[0];
  for (size_t i = 1; i < parts; ++i)
    crc = ::crc32_combine(crc, crcs[i], z_off_t(std::min(kPart, n - i * kPart)));
  return uint32_t(crc);
}

// ---- reading --------------------------------------------------------------------

ZipReader::ZipReader(const Source& src) : src_(src) {
  const uint64_t size = src.size();
  if (size < 22)
    malformed(src, "not a zip archive: ", size, " bytes is too short for its end record");
  // The end record sits in the last 22 + 65535 (comment) bytes.
  uint64_t tail_len = std::min<uint64_t>(size, 22 + 65535);
  std::vector<unsigned char> tail(tail_len);
  src.read(size - tail_len, tail.data(), tail_len, "end of central directory");
  int64_t at = -1;
  for (int64_t i = int64_t(tail_len) - 22; i >= 0; --i) {
    if (le(&tail[size_t(i)], 4) == kEndSig &&
        uint64_t(i) + 22 + le(&tail[size_t(i) + 20], 2) <= tail_len) {
      at = i;
      break;
    }
  }
  if (at < 0)
    malformed(src, "no end of central directory record: the archive is truncated or corrupt");
  const unsigned char* e = &tail[size_t(at)];
  uint64_t end_pos = size - tail_len + uint64_t(at);
  uint64_t count = le(e + 10, 2), cd_size = le(e + 12, 4), cd_offset = le(e + 16, 4);
  // ZIP64: a locator just before the end record points at the ZIP64 end record.
  if (end_pos >= 20) {
    unsigned char loc[20];
    src.read(end_pos - 20, loc, 20, "zip64 locator");
    if (le(loc, 4) == kLocator64Sig) {
      uint64_t rec = le(loc + 8, 8);
      unsigned char z[56];
      src.read(rec, z, 56, "zip64 end of central directory");
      if (le(z, 4) != kEnd64Sig) malformed(src, "bad zip64 end record signature at byte ", rec);
      count = le(z + 32, 8);
      cd_size = le(z + 40, 8);
      cd_offset = le(z + 48, 8);
      end_pos = rec;
    }
  }
  if (cd_offset > end_pos || cd_size > end_pos - cd_offset)
    malformed(src, "central directory [", cd_offset, ", ", cd_offset, " + ", cd_size,
              ") is outside the archive (end records at byte ", end_pos, ")");
  if (count > cd_size / 46)
    malformed(src, "central directory of ", cd_size, " bytes cannot hold ", count, " entries");
  std::vector<unsigned char> cd(cd_size);
  src.read(cd_offset, cd.data(), cd_size, "central directory");

  entries_.reserve(count);
  size_t p = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (cd_size - p < 46 || le(&cd[p], 4) != kCentralSig)
      malformed(src, "central directory entry ", i, " at byte ", cd_offset + p, " is corrupt");
    const unsigned char* h = &cd[p];
    ZipEntry z;
    z.flags = uint16_t(le(h + 8, 2));
    z.method = uint16_t(le(h + 10, 2));
    z.crc = uint32_t(le(h + 16, 4));
    z.compressed_size = le(h + 20, 4);
    z.size = le(h + 24, 4);
    size_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
    z.header_offset = le(h + 42, 4);
    if (cd_size - p - 46 < name_len + extra_len + comment_len)
      malformed(src, "central directory entry ", i, " runs past the directory");
    z.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    // Names go into error messages: control characters (terminal escapes)
    // there could hide or rewrite them, and no writer of checkpoints uses any.
    for (unsigned char c : z.name)
      if (c < 0x20 || c == 0x7f)
        malformed(src, "central directory entry ", i, " has a name with control character 0x",
                  "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
    // ZIP64 extra: the 64-bit values of the fields that hold 0xFFFFFFFF.
    const unsigned char* x = h + 46 + name_len;
    for (size_t k = 0; k + 4 <= extra_len;) {
      size_t id = le(x + k, 2), len = le(x + k + 2, 2);
      if (k + 4 + len > extra_len) malformed(src, "bad extra field in entry '", z.name, "'");
      if (id == 1) {
        size_t f = k + 4, fend = k + 4 + len;
        auto next = [&](uint64_t& v) {
          if (v != k32) return;
          if (fend - f < 8) malformed(src, "short zip64 extra field in entry '", z.name, "'");
          v = le(x + f, 8);
          f += 8;
        };
        next(z.size);
        next(z.compressed_size);
        next(z.header_offset);
      }
      k += 4 + len;
    }
    if (z.flags & 1) malformed(src, "entry '", z.name, "' is encrypted");
    if (z.method != 0 && z.method != 8)
      malformed(src, "entry '", z.name, "' uses compression method ", z.method,
                " (only stored and deflated records are supported)");
    if (z.method == 0 && z.size != z.compressed_size)
      malformed(src, "stored entry '", z.name, "' has different sizes (", z.size, " and ",
                z.compressed_size, ")");
    src.check_range(z.header_offset, 30, "local header of '" + z.name + "'");
    if (z.compressed_size > src.size())
      malformed(src, "entry '", z.name, "' claims ", z.compressed_size,
                " bytes, more than the file");
    // Callers allocate e.size before inflating: bound it here by what deflate
    // can expand to (~1032:1), so a tiny file cannot ask for terabytes.
    if (z.method == 8 && z.size / 1032 > z.compressed_size + 1)
      malformed(src, "deflated entry '", z.name, "' claims ", z.size, " bytes from ",
                z.compressed_size, " compressed (more than deflate can expand to)");
    index_.emplace(z.name, entries_.size());
    entries_.push_back(std::move(z));
    p += 46 + name_len + extra_len + comment_len;
  }
}

std::string ZipReader::folder() const {
  if (entries_.empty()) malformed(src_, "the archive has no records");
  const std::string& first = entries_.front().name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos)
    malformed(src_, "record '", first,
              "' is not in a folder (torch.save archives put every record in one)");
  std::string prefix = first.substr(0, slash + 1);
  for (const ZipEntry& e : entries_)
    if (!e.name.starts_with(prefix))
      malformed(src_, "record '", e.name, "' is outside the archive's folder '", prefix, "'");
  return prefix;
}

const ZipEntry* ZipReader::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

uint64_t ZipReader::data_offset(const ZipEntry& e) const {
  unsigned char h[30];
  src_.read(e.header_offset, h, 30, "local header of '" + e.name + "'");
  if (le(h, 4) != kLocalSig)
    malformed(src_, "no local header for '", e.name, "' at byte ", e.header_offset);
  uint64_t name_len = le(h + 26, 2), extra_len = le(h + 28, 2);
  if (name_len != e.name.size())
    malformed(src_, "local header name of '", e.name, "' differs from the central directory");
  std::string name(name_len, '\0');
  src_.read(e.header_offset + 30, name.data(), name_len, "local header name");
  if (name != e.name)
    malformed(src_, "local header name '", name, "' differs from the central directory ('", e.name,
              "')");
  uint64_t off = e.header_offset + 30 + name_len + extra_len;
  src_.check_range(off, e.compressed_size, "data of '" + e.name + "'");
  return off;
}

void ZipReader::read(const ZipEntry& e, void* dst) const {
  uint64_t off = data_offset(e);
  if (e.method == 0) return src_.read(off, dst, e.size, "data of '" + e.name + "'");
  // Deflate expands at most ~1032:1; anything beyond is a corrupt header, and
  // refusing it early keeps a tiny file from asking for huge allocations.
  if (e.size / 1032 > e.compressed_size + 1)
    malformed(src_, "deflated record '", e.name, "' claims ", e.size, " bytes from ",
              e.compressed_size);
  std::vector<unsigned char> in(e.compressed_size);
  src_.read(off, in.data(), in.size(), "data of '" + e.name + "'");
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw Error("zlib: inflateInit2 failed");
  zs.next_in = in.data();
  zs.avail_in = uInt(std::min<size_t>(in.size(), UINT32_MAX));
  zs.next_out = static_cast<Bytef*>(dst);
  zs.avail_out = uInt(std::min<uint64_t>(e.size, UINT32_MAX));
  int rc = Z_OK;
  while (rc == Z_OK) {
    rc = inflate(&zs, Z_FINISH);
    if (rc == Z_BUF_ERROR && zs.avail_out == 0 && zs.total_out < e.size) {
      zs.avail_out = uInt(std::min<uint64_t>(e.size - zs.total_out, UINT32_MAX));
      rc = Z_OK;
    } else if (rc == Z_BUF_ERROR && zs.avail_in == 0 && zs.total_in < in.size()) {
      zs.avail_in = uInt(std::min<size_t>(in.size() - zs.total_in, UINT32_MAX));
      rc = Z_OK;
    }
  }
  uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != e.size)
    malformed(src_, "deflated record '", e.name, "' is corrupt (inflated ", produced, " of ",
              e.size, " bytes)");
}

std::string ZipReader::read_string(const ZipEntry& e) const {
  if (e.size > (1u << 20))
    malformed(src_, "record '", e.name, "' is too large (", e.size, " bytes)");
  std::string s(e.size, '\0');
  read(e, s.data());
  return s;
}

void ZipReader::check_crc(const ZipEntry& e, const void* data) const {
  uint32_t c = crc32_of(data, e.size);
  if (c != e.crc)
    malformed(src_, "CRC-32 mismatch in record '", e.name, "': the archive says ", std::hex, e.crc,
              ", the data has ", c, std::dec, " (the file is corrupt)");
}

// ---- writing --------------------------------------------------------------------

namespace {
struct Bytes {
  std::string s;
  void u16(uint64_t v) { put(v, 2); }
  void u32(uint64_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s += char((v >> (8 * i)) & 0xff);
  }
};
}  // namespace

void ZipWriter::add(const std::string& name, std::span<const std::byte> data) {
  ZipEntry e;
  e.name = name;
  e.header_offset = offset_;
  e.size = e.compressed_size = data.size();
  e.crc = data.empty() ? 0 : crc32_of(data.data(), data.size());
  e.flags = data.empty() ? 0x0800 : 0x0808;
  bool big_size = e.size >= k32, big_offset = e.header_offset >= k32;
  size_t z = (big_size || big_offset) ? 4 + (big_size ? 16 : 0) + (big_offset ? 8 : 0) : 0;
  uint64_t start = e.header_offset + 30 + name.size() + z + 4;
  size_t padding = size_t((64 - start % 64) % 64);

  Bytes h;
  h.u32(kLocalSig);
  h.u16(0);  // version needed
  h.u16(e.flags);
  h.u16(0);  // stored
  h.u16(0);  // time
  h.u16(0);  // date
  h.u32(0);  // crc, sizes: in the data descriptor
  h.u32(0);
  h.u32(0);
  h.u16(name.size());
  h.u16(z + 4 + padding);
  h.s += name;
  if (z) {
    h.u16(1);
    h.u16(z - 4);
    if (big_size) {
      h.u64(e.size);
      h.u64(0);
    }
    if (big_offset) h.u64(e.header_offset);
  }
  h.s += "FB";
  h.u16(padding);
  h.s.append(padding, 'Z');
  out(h.s.data(), h.s.size());
  if (!data.empty()) {
    out(data.data(), data.size());
    Bytes d;
    d.u32(kDescriptorSig);
    d.u32(e.crc);
    if (big_size || big_offset) {
      d.u64(e.size);
      d.u64(e.size);
    } else {
      d.u32(e.size);
      d.u32(e.size);
    }
    out(d.s.data(), d.s.size());
  }
  entries_.push_back(std::move(e));
}

void ZipWriter::finish() {
  uint64_t cd_offset = offset_;
  for (const ZipEntry& e : entries_) {
    bool big_size = e.size >= k32, big_offset = e.header_offset >= k32;
    Bytes x;
    if (big_size || big_offset) {
      x.u16(1);
      x.u16((big_size ? 16 : 0) + (big_offset ? 8 : 0));
      if (big_size) {
        x.u64(e.size);
        x.u64(e.size);
      }
      if (big_offset) x.u64(e.header_offset);
    }
    Bytes c;
    c.u32(kCentralSig);
    c.u16(0);  // made by
    c.u16(0);  // needed
    c.u16(e.flags);
    c.u16(0);
    c.u16(0);
    c.u16(0);
    c.u32(e.crc);
    c.u32(big_size ? k32 : e.size);
    c.u32(big_size ? k32 : e.size);
    c.u16(e.name.size());
    c.u16(x.s.size());
    c.u16(0);  // comment
    c.u16(0);  // disk
    c.u16(0);  // internal attributes
    c.u32(0);  // external attributes
    c.u32(big_offset ? k32 : e.header_offset);
    c.s += e.name;
    c.s += x.s;
    out(c.s.data(), c.s.size());
  }
  uint64_t cd_size = offset_ - cd_offset;
  uint64_t end64 = offset_;
  uint64_t n = entries_.size();
  Bytes t;
  t.u32(kEnd64Sig);
  t.u64(44);
  t.u16(0x031e);
  t.u16(45);
  t.u32(0);
  t.u32(0);
  t.u64(n);
  t.u64(n);
  t.u64(cd_size);
  t.u64(cd_offset);
  t.u32(kLocator64Sig);
  t.u32(0);
  t.u64(end64);
  t.u32(1);
  t.u32(kEndSig);
  t.u16(0);
  t.u16(0);
  t.u16(std::min<uint64_t>(n, 0xffff));
  t.u16(std::min<uint64_t>(n, 0xffff));
  t.u32(std::min<uint64_t>(cd_size, k32));
  t.u32(std::min<uint64_t>(cd_offset, k32));
  t.u16(0);
  out(t.s.data(), t.s.size());
}

}  // namespace wick::io::detail
