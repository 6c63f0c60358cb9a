// Damaged checkpoints: real files (torch 2.11's zip and legacy fixtures, a
// safetensors fixture and a file wick writes) truncated at every byte and
// with single bits flipped in their headers, pickles and tensor data. Each
// damaged file must give a wick::Error naming the file, or load - and then a
// flip in a zip record must show up as that record's CRC-32 failure in verify(),
// or the flip was harmless (the value is unchanged). Never a crash, a hang or
// an allocation the file cannot justify.
//
// How allocations are bounded: each file's damaged variants are loaded in a
// forked child. The child records its address-space size (VmSize) first and
// reports its peak (VmPeak) at the end; the difference covers every mapping and
// allocation made on the way, touched or not (a loader that reserved a declared
// 1 TB without touching it would not show in the resident size, but shows here).
// Without ASan the child also runs under RLIMIT_AS of its start size plus a
// margin, so a runaway allocation fails at once instead of swapping. alarm()
// turns a hang into a SIGALRM that the parent reports.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "io/pickle.h"
#include "io/zip.h"
#include "wick/core/tensor.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"

#if defined(__SANITIZE_ADDRESS__)
#define WICK_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WICK_TEST_ASAN 1
#endif
#endif
#ifndef WICK_TEST_ASAN
#define WICK_TEST_ASAN 0
#endif

using namespace wick;
using namespace wick::io;
namespace iod = wick::io::detail;
namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

namespace {

const std::string kFixtures = std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/";

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {reinterpret_cast<const std::byte*>(s.data()),
          reinterpret_cast<const std::byte*>(s.data()) + s.size()};
}

void write_file(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

Bytes bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()),
          reinterpret_cast<const std::byte*>(s.data()) + s.size()};
}

// "VmSize:   1234 kB" -> bytes.
uint64_t proc_status(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = std::strlen(field);
  while (std::getline(f, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::stoull(line.substr(n + 1)) * 1024;
  return 0;
}

struct ChildResult {
  bool exited = false;  // normally, not by a signal
  int signal = 0;
  std::string failures;  // what the body found wrong, one per line
  uint64_t vm_growth = 0;
};

// Runs `body` in a forked child (see the file comment). `body` returns the
// problems it found, empty when all is well.
ChildResult in_child(const std::function<std::string()>& body, unsigned timeout_s,
                     uint64_t as_margin = uint64_t(1) << 30) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    uint64_t start = proc_status("VmSize");
    if (!WICK_TEST_ASAN) {
      rlimit lim{rlim_t(start + as_margin), rlim_t(start + as_margin)};
      ::setrlimit(RLIMIT_AS, &lim);
    }
    ::alarm(timeout_s);
    std::string out;
    try {
      out = body();
    } catch (const std::exception& e) {
      out = std::string("uncaught exception: ") + e.what() + "\n";
    } catch (...) {
      out = "uncaught non-std exception\n";
    }
    uint64_t peak = proc_status("VmPeak");
    std::string msg = std::to_string(peak > start ? peak - start : 0) + "\n" + out;
    for (size_t done = 0; done < msg.size();) {
      ssize_t w = ::write(fds[1], msg.data() + done, msg.size() - done);
      if (w <= 0) break;
      done += size_t(w);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[4096];
  for (ssize_t r; (r = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    msg.append(buf, size_t(r));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ChildResult r;
  r.exited = WIFEXITED(status);
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  size_t nl = msg.find('\n');
  if (nl != std::string::npos) {
    r.vm_growth = std::stoull(msg.substr(0, nl));
    r.failures = msg.substr(nl + 1);
  }
  return r;
}

// What a load gives, for telling a harmless flip from a change: every leaf's
// path and value, tensors by dtype, shape, strides, offset and bytes.
std::string fingerprint(const Value& v) {
  std::string out;
  for (const auto& [path, leaf] : leaves(v)) {
    out += path + "=";
    if (leaf.is_tensor()) {
      const Tensor& t = leaf.as_tensor();
      std::ostringstream s;
      s << t.dtype() << t.sizes() << t.strides() << t.storage_offset() << ":";
      Tensor c = t.contiguous();
      out += s.str();
      out.append(static_cast<const char*>(c.data_ptr()), size_t(c.nbytes()));
    } else {
      out += leaf.repr();
    }
    out += "\n";
  }
  return out;
}

// The structure alone (no tensor bytes), for formats without checksums.
std::string structure(const Value& v) {
  std::string out;
  for (const auto& [path, leaf] : leaves(v)) {
    std::ostringstream s;
    s << path << ":" << leaf.type_name();
    if (leaf.is_tensor()) s << leaf.as_tensor().dtype() << leaf.as_tensor().sizes();
    out += s.str() + "\n";
  }
  return out;
}

enum class FileKind { Zip, Legacy, Safetensors };

// Byte ranges of a file: its container/header bytes, its pickle(s) and its
// tensor data, and the offsets where records begin and end.
struct Regions {
  std::vector<uint64_t> header, pickle, data;
  std::vector<uint64_t> boundaries;
  // For zip data bytes: the record each belongs to.
  std::map<uint64_t, std::string> record_of;
};

Regions zip_regions(const Bytes& file) {
  Regions r;
  iod::Source src = iod::Source::memory(file);
  iod::ZipReader zip(src);
  std::vector<char> payload(file.size(), 0);  // 0 header, 1 pickle, 2 data
  for (const iod::ZipEntry& e : zip.entries()) {
    uint64_t off = zip.data_offset(e);
    bool pkl = e.name.ends_with("data.pkl");
    for (uint64_t i = off; i < off + e.compressed_size; ++i) {
      payload[i] = pkl ? 1 : 2;
      r.record_of[i] = e.name;
    }
    r.boundaries.insert(r.boundaries.end(), {e.header_offset, off, off + e.compressed_size});
  }
  for (uint64_t i = 0; i < file.size(); ++i) {
    (payload[i] == 0 ? r.header : payload[i] == 1 ? r.pickle : r.data).push_back(i);
    // Central directory entries, zip64 end record and locator, end record.
    static const uint32_t sigs[] = {0x02014b50, 0x06064b50, 0x07064b50, 0x06054b50};
    if (payload[i] == 0 && i + 4 <= file.size()) {
      uint32_t v;
      std::memcpy(&v, file.data() + i, 4);
      for (uint32_t s : sigs)
        if (v == s) r.boundaries.push_back(i);
    }
  }
  return r;
}

// Legacy: magic, protocol and sys-info pickles are the header; the object
// pickle and key list the pickle; the element counts and bytes the data.
Regions legacy_regions(const Bytes& file) {
  Regions r;
  size_t pos = 15;  // the magic number's pickle
  std::vector<size_t> ends{pos};
  auto fake = [](const iod::StorageRef& ref) { return Storage::allocate(size_t(ref.nbytes)); };
  for (int i = 0; i < 4; ++i) {
    size_t used = 0;
    iod::unpickle(std::span<const std::byte>(file).subspan(pos), fake, {}, &used);
    pos += used;
    ends.push_back(pos);
  }
  for (uint64_t i = 0; i < file.size(); ++i)
    (i < ends[2] ? r.header : i < ends[4] ? r.pickle : r.data).push_back(i);
  r.boundaries.assign(ends.begin(), ends.end());
  for (uint64_t b = ends[4]; b < file.size(); b += 8) r.boundaries.push_back(b);
  return r;
}

Regions safetensors_regions(const Bytes& file) {
  Regions r;
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  for (uint64_t i = 0; i < file.size(); ++i) (i < 8 + n ? r.header : r.data).push_back(i);
  r.boundaries = {8, 8 + n};
  return r;
}

Value load_any(FileKind kind, const std::string& path) {
  if (kind == FileKind::Safetensors) return Value(load_safetensors(path).tensors);
  return load(path);
}
Value load_any_bytes(FileKind kind, const Bytes& b) {
  if (kind == FileKind::Safetensors) return Value(load_safetensors_bytes(b).tensors);
  return load_bytes(b);
}

// A problem line for the child's report.
template <class... A>
std::string problem(A&&... a) {
  std::ostringstream s;
  (s << ... << a);
  return s.str() + "\n";
}

// Truncates at every offset (in memory) and at the record boundaries (as files,
// also checked by verify).
std::string truncations(FileKind kind, const Bytes& file, const Regions& regions,
                        const std::string& dir) {
  std::string out;
  for (size_t n = 0; n < file.size(); ++n) {
    Bytes cut(file.begin(), file.begin() + std::ptrdiff_t(n));
    try {
      load_any_bytes(kind, cut);
      out += problem("truncated to ", n, " bytes: loaded");
    } catch (const Error& e) {
      if (!*e.what()) out += problem("truncated to ", n, " bytes: empty message");
    }
  }
  std::string path = dir + "/truncated.bin";
  for (uint64_t b : regions.boundaries)
    for (uint64_t n : {b - 1, b, b + 1}) {
      if (n >= file.size()) continue;
      write_file(path, Bytes(file.begin(), file.begin() + std::ptrdiff_t(n)));
      try {
        load_any(kind, path);
        out += problem("truncated file of ", n, " bytes: loaded");
      } catch (const Error& e) {
        if (std::string(e.what()).find(path) == std::string::npos)
          out += problem("truncated to ", n, ": message does not name the file: ", e.what());
      }
      VerifyResult v = verify(path);
      if (v.ok()) out += problem("truncated to ", n, ": verify found no problem");
    }
  return out;
}

// Single-bit flips at deterministic pseudo-random positions of each region.
std::string flips(FileKind kind, const Bytes& file, const Regions& regions, const std::string& dir,
                  int per_region, int* counted) {
  std::string out;
  const std::string original = fingerprint(load_any_bytes(kind, file));
  const std::string shape = structure(load_any_bytes(kind, file));
  std::string path = dir + "/flipped.bin";
  std::mt19937_64 rng(20240611);
  const char* names[] = {"header", "pickle", "data"};
  const std::vector<uint64_t>* sets[] = {&regions.header, &regions.pickle, &regions.data};
  for (int region = 0; region < 3; ++region) {
    const auto& where = *sets[region];
    if (where.empty()) continue;
    for (int i = 0; i < per_region; ++i) {
      uint64_t at = where[rng() % where.size()];
      int bit = int(rng() % 8);
      Bytes bad = file;
      bad[at] ^= std::byte(1u << bit);
      write_file(path, bad);
      ++*counted;
      std::string where_s = wick::detail::concat(names[region], " byte ", at, " bit ", bit, ": ");
      std::string err;
      Value v;
      try {
        v = load_any(kind, path);
      } catch (const Error& e) {
        err = e.what();
        if (err.find(path) == std::string::npos)
          out += problem(where_s, "message does not name the file: ", err);
      }
      VerifyResult r;
      try {
        r = verify(path);
      } catch (const Error& e) {
        out += problem(where_s, "verify threw: ", e.what());
        continue;
      }
      if (!err.empty()) {
        if (r.ok()) out += problem(where_s, "load failed (", err, ") but verify passed");
        continue;
      }
      if (kind == FileKind::Zip && region > 0) {
        // A changed payload byte always changes the record's CRC-32.
        std::string record = regions.record_of.at(at);
        if (!r.problem || r.problem->record != record ||
            r.problem->message.find("CRC-32 mismatch") == std::string::npos)
          out += problem(where_s, "loaded, and verify did not report the CRC-32 of '", record,
                         "': ", r.problem ? r.problem->str() : "ok");
      } else if (kind == FileKind::Zip) {
        // A container byte: loads unchanged, or verify sees it.
        if (r.ok() && fingerprint(v) != original)
          out += problem(where_s, "loaded a different value and verify passed");
      } else if (kind == FileKind::Safetensors && at < 8) {
        out += problem(where_s, "a changed header length loaded");
      } else if (region == 2 && structure(v) != shape) {
        // No checksums: data flips change values, never the structure.
        out += problem(where_s, "a data flip changed the structure");
      }
    }
  }
  return out;
}

struct Damaged {
  std::string name;
  FileKind kind;
  Bytes file;
};

Bytes wick_checkpoint() {
  Dict sd(true);
  sd.set("fc.weight", arange(12, DType::Float32).reshape({3, 4}));
  sd.set("fc.bias", tensor<double>({0.5, -1.25, 3.0}));
  sd.set("steps", arange(5, DType::Int64));
  sd.set("mask", tensor<bool>({true, false, false, true}));
  Dict ck;
  ck.set("model", Value(std::move(sd)));
  ck.set("epoch", Value(int64_t(3)));
  ck.set("lr", Value(0.125));
  ck.set("history", Value::list({Value(1.5), Value("text"), Value::tuple({Value(true)})}));
  return save_bytes(Value(std::move(ck)));
}

void run_damaged(const Damaged& d, int per_region) {
  std::string dir = ::testing::TempDir() + "wick_damaged_" + std::to_string(::getpid());
  fs::create_directories(dir);
  ASSERT_NO_THROW(load_any_bytes(d.kind, d.file)) << d.name;
  Regions regions = d.kind == FileKind::Zip      ? zip_regions(d.file)
                    : d.kind == FileKind::Legacy ? legacy_regions(d.file)
                                                 : safetensors_regions(d.file);
  ASSERT_FALSE(regions.header.empty());
  ASSERT_FALSE(regions.data.empty());
  if (d.kind != FileKind::Safetensors) {
    ASSERT_FALSE(regions.pickle.empty());
  }
  int counted = 0;
  int* counted_p = &counted;  // the child's count is reported through its output
  ChildResult r = in_child(
      [&] {
        std::string out = truncations(d.kind, d.file, regions, dir);
        out += flips(d.kind, d.file, regions, dir, per_region, counted_p);
        return out + "flips " + std::to_string(counted) + "\n";
      },
      WICK_TEST_ASAN ? 600 : 120);
  fs::remove_all(dir);
  ::testing::Test::RecordProperty("vm_growth_bytes", std::to_string(r.vm_growth));
  EXPECT_TRUE(r.exited) << d.name << ": the child died of signal " << r.signal
                        << (r.signal == SIGALRM ? " (a hang)" : "");
  std::string expected_tail =
      "flips " + std::to_string(per_region * (d.kind == FileKind::Safetensors ? 2 : 3)) + "\n";
  ASSERT_TRUE(r.failures.ends_with(expected_tail)) << d.name << ":\n" << r.failures;
  r.failures.resize(r.failures.size() - expected_tail.size());
  EXPECT_EQ(r.failures, "") << d.name;
  // Address space grown by all of the loads together: fixed costs (allocator
  // arenas, the library's buffers) but nothing in proportion to the sizes the
  // damaged files declare, which reach terabytes.
  EXPECT_LT(r.vm_growth, (uint64_t(WICK_TEST_ASAN ? 64 : 16) << 20) + 64 * d.file.size())
      << d.name << ": the loads grew the address space by " << r.vm_growth << " bytes";
}

}  // namespace

TEST(IoDamaged, TheMeasurementSeesUntouchedAllocations) {
  // What the bounds below rely on: a reservation that is never touched (as a
  // loader trusting a declared size would make) shows in the child's growth.
  ChildResult r = in_child(
      [] {
        auto s = iod::allocate_storage(size_t(256) << 20);
        return s->nbytes() == (size_t(256) << 20) ? "" : "wrong size\n";
      },
      60);
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.failures, "");
  EXPECT_GE(r.vm_growth, uint64_t(256) << 20);
}

TEST(IoDamaged, TorchZipCheckpoint) {
  run_damaged({"adam_checkpoint.pt", FileKind::Zip, read_file(kFixtures + "adam_checkpoint.pt")},
              300);
}

TEST(IoDamaged, TorchLegacyCheckpoint) {
  run_damaged({"legacy_format.pt", FileKind::Legacy, read_file(kFixtures + "legacy_format.pt")},
              300);
}

TEST(IoDamaged, Safetensors) {
  run_damaged(
      {"dtypes.safetensors", FileKind::Safetensors, read_file(kFixtures + "dtypes.safetensors")},
      300);
}

TEST(IoDamaged, WickZipCheckpoint) {
  run_damaged({"wick", FileKind::Zip, wick_checkpoint()}, 300);
}

// ---- a small file that declares a huge tensor -------------------------------------

namespace {

std::string u32le(uint32_t v) {
  return std::string(reinterpret_cast<const char*>(&v), 4);
}
std::string ustr(const std::string& s) {
  return "X" + u32le(uint32_t(s.size())) + s;
}
// LONG1 of a positive value below 2^39.
std::string long1(uint64_t v) {
  return std::string("\x8a\x05", 2) + std::string(reinterpret_cast<const char*>(&v), 5);
}

constexpr uint64_t kTB = uint64_t(1) << 40;

// A pickled float32 tensor of `numel` elements over storage '0' of `numel`.
std::string huge_tensor_pickle(uint64_t numel) {
  return "\x80\x02"
         "ctorch._utils\n_rebuild_tensor_v2\n((" +
         ustr("storage") + "ctorch\nFloatStorage\n" + ustr("0") + ustr("cpu") + long1(numel) +
         "tQK\x00(" + long1(numel) +
         "t(K\x01t\x89"
         "ccollections\nOrderedDict\n)RtR.";
}

Bytes zip_of(const std::vector<std::pair<std::string, std::string>>& records) {
  Bytes out;
  iod::ZipWriter w([&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const std::byte*>(p), static_cast<const std::byte*>(p) + n);
  });
  for (const auto& [name, data] : records) w.add(name, bytes_of(data));
  w.finish();
  return out;
}

// Central directory entry of `name`: its offset in the file.
size_t central_entry(const Bytes& f, const std::string& name) {
  for (size_t i = 0; i + 46 + name.size() <= f.size(); ++i)
    if (std::memcmp(f.data() + i, "PK\x01\x02", 4) == 0 &&
        std::memcmp(f.data() + i + 46, name.data(), name.size()) == 0)
      return i;
  throw std::runtime_error("no central entry for " + name);
}

void set_le(Bytes& f, size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) f[at + size_t(i)] = std::byte((v >> (8 * i)) & 0xff);
}

// Loads `file` in a child with little address space; expects a wick::Error
// containing `expect` (and not an out-of-memory one).
void expect_fails_small(const std::string& what, const Bytes& file, const std::string& expect,
                        FileKind kind = FileKind::Zip) {
  ASSERT_LT(file.size(), 1024u) << what;
  std::string path = ::testing::TempDir() + "wick_huge_" + std::to_string(::getpid()) + ".bin";
  write_file(path, file);
  ChildResult r = in_child(
      [&] {
        std::string out;
        for (bool mmap : {true, false}) {
          LoadOptions options;
          options.mmap = mmap;
          try {
            if (kind == FileKind::Safetensors)
              load_safetensors(path, options);
            else
              load(path, options);
            out += problem("loaded");
          } catch (const Error& e) {
            std::string m = e.what();
            if (m.find(expect) == std::string::npos || m.find("out of memory") != std::string::npos)
              out += problem("wrong error: ", m);
          }
        }
        VerifyResult v = verify(path);
        if (v.ok() || v.problem->message.find(expect) == std::string::npos)
          out += problem("verify: ", v.ok() ? "ok" : v.problem->str());
        return out;
      },
      60, uint64_t(512) << 20);
  fs::remove(path);
  ::testing::Test::RecordProperty(
      "vm_growth_bytes_" + std::string(what == "zip deflated"        ? "zip_deflated"
                                       : what == "deflated data.pkl" ? "deflated_pkl"
                                                                     : what),
      std::to_string(r.vm_growth));
  EXPECT_TRUE(r.exited) << what << ": signal " << r.signal;
  EXPECT_EQ(r.failures, "") << what;
  EXPECT_LT(r.vm_growth, uint64_t(WICK_TEST_ASAN ? 64 : 16) << 20)
      << what << ": address space grew by " << r.vm_growth;
}

}  // namespace

TEST(IoDamaged, OneKilobyteFileDeclaringATerabyteFailsWithoutAllocating) {
  const std::string two_floats("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);
  const uint64_t numel = kTB / 4;
  // A stored record of 8 bytes under a storage of 2^38 floats.
  Bytes zip = zip_of(
      {{"a/data.pkl", huge_tensor_pickle(numel)}, {"a/data/0", two_floats}, {"a/version", "3\n"}});
  expect_fails_small("zip", zip, "holds 8 bytes, but the pickle expects 1099511627776");

  // The storage record claims to be a deflated 2^40 bytes (ZIP64 sizes).
  {
    Bytes f = zip_of({{"a/data.pkl", huge_tensor_pickle(numel)},
                      {"a/data/0", std::string(16, '\0')},
                      {"a/version", "3\n"}});
    // Make data/0's central entry deflated, with a ZIP64 size of 2^40: the
    // entry carries no extra field, so point its 16 bytes of zeros there by
    // rewriting the entry with an 20-byte extra instead of patching in place.
    size_t at = central_entry(f, "a/data/0");
    set_le(f, at + 10, 8, 2);           // method: deflate
    set_le(f, at + 24, 0xffffffff, 4);  // size: in the ZIP64 extra
    Bytes extra(12);
    set_le(extra, 0, 1, 2);  // ZIP64 extra id
    set_le(extra, 2, 8, 2);
    set_le(extra, 4, kTB, 8);
    size_t name_end = at + 46 + 8;
    uint16_t old_extra = uint16_t(uint8_t(f[at + 30]) | uint8_t(f[at + 31]) << 8);
    set_le(f, at + 30, old_extra + 12, 2);
    f.insert(f.begin() + std::ptrdiff_t(name_end), extra.begin(), extra.end());
    // The directory grew by 12 bytes: fix its size in the ZIP64 end record and
    // the end record, and the locator's pointer to the former.
    size_t end64 = 0, loc = 0, end = 0;
    for (size_t i = at; i + 4 <= f.size(); ++i) {
      uint32_t v;
      std::memcpy(&v, f.data() + i, 4);
      if (v == 0x06064b50) end64 = i;
      if (v == 0x07064b50) loc = i;
      if (v == 0x06054b50) end = i;
    }
    ASSERT_TRUE(end64 && loc && end);
    auto get = [&](size_t i, int n) {
      uint64_t v = 0;
      for (int k = 0; k < n; ++k) v |= uint64_t(uint8_t(f[i + size_t(k)])) << (8 * k);
      return v;
    };
    set_le(f, end64 + 40, get(end64 + 40, 8) + 12, 8);
    set_le(f, loc + 8, get(loc + 8, 8) + 12, 8);
    if (get(end + 12, 4) != 0xffffffff) set_le(f, end + 12, get(end + 12, 4) + 12, 4);
    expect_fails_small("zip deflated", f, "1099511627776");
  }

  // data.pkl claims to inflate to 4 GiB.
  {
    Bytes f = zip_of(
        {{"a/data.pkl", huge_tensor_pickle(2)}, {"a/data/0", two_floats}, {"a/version", "3\n"}});
    size_t at = central_entry(f, "a/data.pkl");
    set_le(f, at + 10, 8, 2);
    set_le(f, at + 24, 0xfffffff0, 4);
    expect_fails_small("deflated data.pkl", f, "4294967280");
  }

  // Legacy: the storage's bytes would follow the pickles.
  {
    const std::string magic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15);
    std::string obj = huge_tensor_pickle(numel);
    std::string file = magic + "\x80\x02M\xe9\x03." + "\x80\x02}." + obj + "\x80\x02](" +
                       ustr("0") + "e." + std::string(reinterpret_cast<const char*>(&numel), 8) +
                       two_floats;
    expect_fails_small("legacy", bytes_of(file), "more than the file holds", FileKind::Zip);
  }

  // safetensors: a header declaring 2^38 floats over 8 bytes of data.
  {
    std::string header = R"({"w":{"dtype":"F32","shape":[274877906944],"data_offsets":[0,)" +
                         std::to_string(kTB) + "]}}";
    uint64_t n = header.size();
    std::string file = std::string(reinterpret_cast<const char*>(&n), 8) + header + two_floats;
    expect_fails_small("safetensors", bytes_of(file), "not fully covered", FileKind::Safetensors);
  }
}
