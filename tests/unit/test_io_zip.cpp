// The zip container: the writer reproduces torch's bytes (the golden file of
// docs/formats.md §1.8), and the reader refuses truncated, corrupt or inconsistent archives
// with a wick::FormatError instead of crashing.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fstream>

#include <zlib.h>
#include <cstring>
#include <random>

#include "io/pickle.h"
#include "io/zip.h"
#include "wick/io/serialize.h"

using namespace wick;
using namespace wick::io;
namespace iod = wick::io::detail;
using namespace std::string_literals;

namespace {

std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(std::byte(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// torch 1.13: torch.save({'w': torch.tensor([1., 2.])}, buffer) - docs/formats.md §1.8.
const std::string kGolden =
    "504b03040000080800000000000000000000000000000000000010001200617263686976652f646174612e706b6c46"
    "42"
    "0e005a5a5a5a5a5a5a5a5a5a5a5a5a5a80027d7100580100000077710163746f7263682e5f7574696c730a5f726562"
    "75"
    "696c645f74656e736f725f76320a71022828580700000073746f72616765710363746f7263680a466c6f617453746f"
    "72"
    "6167650a71045801000000307105580300000063707571064b02747107514b004b028571084b018571098963636f6c"
    "6c"
    "656374696f6e730a4f726465726564446963740a710a2952710b74710c52710d732e504b07083aba1187a2000000a2"
    "00"
    "0000504b0304000008080000000000000000000000000000000000000e002200617263686976652f646174612f3046"
    "42"
    "1e005a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a0000803f00000040504b070876a53f"
    "2e"
    "0800000008000000504b0304000008080000000000000000000000000000000000000f003b00617263686976652f76"
    "65"
    "7273696f6e464237005a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
    "5a"
    "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a330a504b0708d19e67550200000002000000504b0102000000000808000000"
    "00"
    "00003aba1187a2000000a2000000100000000000000000000000000000000000617263686976652f646174612e706b"
    "6c"
    "504b010200000000080800000000000076a53f2e08000000080000000e00000000000000000000000000f200000061"
    "72"
    "63686976652f646174612f30504b0102000000000808000000000000d19e675502000000020000000f000000000000"
    "00"
    "00000000000058010000617263686976652f76657273696f6e504b06062c000000000000001e032d00000000000000"
    "00"
    "0003000000000000000300000000000000b700000000000000d201000000000000504b060700000000890200000000"
    "00"
    "0001000000504b05060000000003000300b7000000d20100000000";

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// An archive with the given records, written by the torch-style writer.
std::vector<std::byte> archive(const std::vector<std::pair<std::string, std::string>>& records) {
  std::vector<std::byte> out;
  iod::ZipWriter z([&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const std::byte*>(p), static_cast<const std::byte*>(p) + n);
  });
  for (const auto& [name, data] : records) z.add(name, bytes_of(data));
  z.finish();
  return out;
}

// data.pkl of {'w': tensor of `numel` float32 from storage '0'} (protocol 2).
std::string w_pickle(int numel, int size) {
  std::string p = "\x80\x02}X\x01\x00\x00\x00w"s;
  p += "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"s;
  p += "X\x01\x00\x00\x00"
       "0X\x03\x00\x00\x00"
       "cpuK"s;
  p += char(numel);
  p += "tQK\x00K"s;
  p += char(size);
  p += "\x85K\x01\x85\x89"
       "ccollections\nOrderedDict\n)RtRs.";
  return p;
}

std::string error_of(const std::vector<std::byte>& file, LoadOptions o = {}) {
  try {
    load_bytes(file, o);
  } catch (const FormatError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no FormatError";
  return "";
}

Value golden_value() {
  Dict d;
  d.set("w", tensor<float>({1.f, 2.f}));
  return Value(d);
}

}  // namespace

TEST(IoZip, WriterReproducesTorchGoldenFile) {
  SaveOptions o;
  o.layout = ZipLayout::Torch1_13;
  std::vector<std::byte> ours = save_bytes(golden_value(), o, "archive");
  std::vector<std::byte> golden = from_hex(kGolden);
  ASSERT_EQ(ours.size(), 747u);
  EXPECT_TRUE(ours == golden);
}

TEST(IoZip, ReaderReadsGoldenFile) {
  Value v = load_bytes(
      from_hex(kGolden),
      LoadOptions{.mmap = false, .verify_crc = true, .floating_dtype = {}, .max_depth = 100});
  EXPECT_EQ(v["w"].as_tensor().to_vector<float>(), (std::vector<float>{1.f, 2.f}));
}

TEST(IoZip, PayloadsAre64ByteAlignedForAnyNameLength) {
  // Padding of 0 and 63 bytes and everything between (docs/formats.md §1.4).
  for (size_t len = 1; len < 70; ++len) {
    std::string name = "p/" + std::string(len, 'n');
    auto file = archive({{name, "abc"}, {"p/x", ""}, {"p/y", "z"}});
    iod::Source src = iod::Source::memory(file);
    iod::ZipReader z(src);
    for (const auto& e : z.entries()) {
      EXPECT_EQ(z.data_offset(e) % 64, 0u) << e.name;
      std::string s(e.size, '\0');
      z.read(e, s.data());
      z.check_crc(e, s.data());
    }
    EXPECT_EQ(z.find("p/x")->flags, 0x0800);  // empty: no data descriptor
    EXPECT_EQ(z.find(name)->flags, 0x0808);
  }
}

TEST(IoZip, Torch2LayoutHasItsRecordsInOrder) {
  Dict d;
  for (int i = 0; i < 12; ++i) d.set(std::string("t").append(std::to_string(i)), full({1}, i));
  auto file = save_bytes(Value(d));
  iod::Source src = iod::Source::memory(file);
  iod::ZipReader z(src);
  std::vector<std::string> names;
  for (const auto& e : z.entries()) names.push_back(e.name);
  ASSERT_EQ(names.size(), 17u);
  EXPECT_EQ(names[0], "archive/data.pkl");
  EXPECT_EQ(names[1], "archive/.format_version");
  EXPECT_EQ(names[2], "archive/.storage_alignment");
  EXPECT_EQ(names[3], "archive/byteorder");
  EXPECT_EQ(names[4], "archive/data/0");
  EXPECT_EQ(names[6], "archive/data/2");  // numeric order in 2.7+
  EXPECT_EQ(names[16], "archive/version");
  SaveOptions o;
  o.layout = ZipLayout::Torch1_13;
  auto old = save_bytes(Value(d), o);
  iod::Source src13 = iod::Source::memory(old);
  iod::ZipReader z13(src13);
  EXPECT_EQ(z13.entries()[1].name, "archive/data/0");
  EXPECT_EQ(z13.entries()[3].name, "archive/data/10");  // sorted as strings in 1.13
  EXPECT_EQ(load_bytes(old)["t11"].as_tensor().item<float>(), 11.f);
}

TEST(IoZip, TruncatedArchivesFailCleanly) {
  std::vector<std::byte> file = from_hex(kGolden);
  for (size_t n = 0; n < file.size(); ++n) {
    std::vector<std::byte> cut(file.begin(), file.begin() + std::ptrdiff_t(n));
    EXPECT_THROW(load_bytes(cut), Error) << n;
  }
}

TEST(IoZip, CorruptBytesFailCleanlyOrLoad) {
  // Single flipped bytes anywhere: a wick::Error or a value, never a crash.
  std::vector<std::byte> file = from_hex(kGolden);
  std::mt19937 rng(1);
  for (size_t i = 0; i < file.size(); ++i) {
    auto bad = file;
    bad[i] = std::byte(uint8_t(bad[i]) ^ uint8_t(1 + rng() % 255));
    try {
      load_bytes(
          bad,
          LoadOptions{.mmap = false, .verify_crc = true, .floating_dtype = {}, .max_depth = 100});
    } catch (const Error&) {
    }
  }
}

TEST(IoZip, CrcMismatchIsReportedWhenVerifying) {
  std::vector<std::byte> file = from_hex(kGolden);
  file[0x140] ^= std::byte(0x01);  // first payload byte of data/0
  EXPECT_NE(error_of(file,
                     LoadOptions{
                         .mmap = false, .verify_crc = true, .floating_dtype = {}, .max_depth = 100})
                .find("CRC-32 mismatch in record 'archive/data/0'"),
            std::string::npos);
  // torch does not check; neither does the default.
  EXPECT_NO_THROW(load_bytes(file));
}

TEST(IoZip, RefusesInconsistentArchives) {
  std::string pkl = w_pickle(2, 2);
  std::string two_floats("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);
  auto ok = archive({{"a/data.pkl", pkl}, {"a/data/0", two_floats}, {"a/version", "3\n"}});
  EXPECT_EQ(load_bytes(ok)["w"].as_tensor().to_vector<float>(), (std::vector<float>{1, 2}));

  auto e = error_of(archive({{"a/data.pkl", pkl}, {"a/data/0", two_floats}}));
  EXPECT_NE(e.find("no 'version' record"), std::string::npos) << e;
  e = error_of(archive({{"a/data.pkl", pkl}, {"a/data/0", two_floats}, {"a/version", "11"}}));
  EXPECT_NE(e.find("unsupported archive version '11'"), std::string::npos) << e;
  e = error_of(archive({{"a/data.pkl", pkl},
                        {"a/data/0", two_floats},
                        {"a/version", "3"},
                        {"a/byteorder", "middle"}}));
  EXPECT_NE(e.find("byteorder"), std::string::npos) << e;
  e = error_of(archive({{"a/data.pkl", pkl}, {"a/version", "3"}}));
  EXPECT_NE(e.find("record 'a/data/0' is missing"), std::string::npos) << e;
  e = error_of(archive({{"a/data.pkl", pkl}, {"a/data/0", two_floats}, {"b/version", "3"}}));
  EXPECT_NE(e.find("outside the archive's folder"), std::string::npos) << e;
  e = error_of(archive({{"data.pkl", pkl}, {"version", "3"}}));
  EXPECT_NE(e.find("not in a folder"), std::string::npos) << e;
  e = error_of(
      archive({{"a/data.pkl", w_pickle(3, 3)}, {"a/data/0", two_floats}, {"a/version", "3"}}));
  EXPECT_NE(e.find("holds 8 bytes, but the pickle expects 12"), std::string::npos) << e;
  e = error_of(
      archive({{"a/data.pkl", w_pickle(2, 3)}, {"a/data/0", two_floats}, {"a/version", "3"}}));
  EXPECT_NE(e.find("does not fit in storage"), std::string::npos) << e;
  e = error_of(archive({{"a/data.pkl", pkl},
                        {"a/data/0", two_floats},
                        {"a/version", "3"},
                        {"a/constants.pkl", ""}}));
  EXPECT_NE(e.find("TorchScript"), std::string::npos) << e;
  // No local header at offset 0: not a zip checkpoint (torch's own test, docs/formats.md §1.1).
  e = error_of(archive({}));
  EXPECT_NE(e.find("not a PyTorch checkpoint"), std::string::npos) << e;
  std::vector<std::byte> junk(100, std::byte(7));
  EXPECT_NE(error_of(junk).find("not a PyTorch checkpoint"), std::string::npos);
  // A name with a control character (here a terminal escape) never reaches a
  // message: the archive is refused, naming the byte.
  e = error_of(archive({{"a/data.pkl", pkl}, {"a/data/\x1b[2J0", two_floats}, {"a/version", "3"}}));
  EXPECT_NE(e.find("control character 0x1b"), std::string::npos) << e;
  EXPECT_EQ(e.find('\x1b'), std::string::npos) << e;
  // `.data/version` is accepted instead of `version` (docs/formats.md §1.3).
  EXPECT_NO_THROW(load_bytes(
      archive({{"a/data.pkl", pkl}, {"a/data/0", two_floats}, {"a/.data/version", "3\n"}})));
}

TEST(IoZip, BigEndianStoragesAreSwapped) {
  std::string be("\x3f\x80\x00\x00\x40\x00\x00\x00", 8);
  auto file = archive({{"a/data.pkl", w_pickle(2, 2)},
                       {"a/byteorder", "big"},
                       {"a/data/0", be},
                       {"a/version", "3"}});
  EXPECT_EQ(load_bytes(file)["w"].as_tensor().to_vector<float>(), (std::vector<float>{1, 2}));
  // An untyped storage's element size is unknown when it is read, so a
  // big-endian one is refused rather than loaded with its bytes unswapped.
  auto str = [](const std::string& v) { return "X"s + char(v.size()) + "\0\0\0"s + v; };
  std::string v3 = "\x80\x02}"s + str("w") + "ctorch._utils\n_rebuild_tensor_v3\n((" +
                   str("storage") + "ctorch.storage\nUntypedStorage\n" + str("0") + str("cpu") +
                   "K\x08tQK\x00K\x02\x85K\x01\x85\x89"
                   "ccollections\nOrderedDict\n)R"s +
                   "ctorch\nfloat32\ntRs.";
  std::string e = error_of(
      archive({{"a/data.pkl", v3}, {"a/byteorder", "big"}, {"a/data/0", be}, {"a/version", "3"}}));
  EXPECT_NE(e.find("big-endian untyped storage 'a/data/0' is not supported"), std::string::npos)
      << e;
  // The same archive in little-endian order loads.
  EXPECT_EQ(load_bytes(archive({{"a/data.pkl", v3}, {"a/data/0", be}, {"a/version", "3"}}))["w"]
                .as_tensor()
                .numel(),
            2);
}

TEST(IoZip, CorruptCentralDirectoryFieldsAreCaught) {
  std::vector<std::byte> golden = from_hex(kGolden);
  auto set32 = [](std::vector<std::byte>& f, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) f[at + size_t(i)] = std::byte((v >> (8 * i)) & 0xff);
  };
  // Local header offset of data/0 (central entry at 0x210, field at +42).
  auto f = golden;
  set32(f, 0x210 + 42, 0x7fffffff);
  EXPECT_NE(error_of(f).find("outside the file"), std::string::npos);
  // Its sizes.
  f = golden;
  set32(f, 0x210 + 20, 0x7ffffff0);
  set32(f, 0x210 + 24, 0x7ffffff0);
  EXPECT_THROW(load_bytes(f), FormatError);
  // The zip64 end record's central directory offset.
  f = golden;
  set32(f, 0x289 + 48, 0x12345);
  EXPECT_NE(error_of(f).find("central directory"), std::string::npos);
  // Entry count far beyond what the directory can hold.
  f = golden;
  set32(f, 0x289 + 32, 0x100000);
  EXPECT_NE(error_of(f).find("cannot hold"), std::string::npos);
}

TEST(IoZip, MutatedTorchFilesFailCleanlyOrLoad) {
  // A torch 2.11 archive with 17 storages, truncated at many points and with
  // random bytes overwritten: a wick::Error or a value, never a crash.
  std::ifstream f(std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/dtypes_and_views.pt",
                  std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> file(reinterpret_cast<const std::byte*>(s.data()),
                              reinterpret_cast<const std::byte*>(s.data()) + s.size());
  ASSERT_GT(file.size(), 6000u);
  ASSERT_NO_THROW(load_bytes(file));
  for (size_t n = 0; n < file.size(); n += 13) {
    std::vector<std::byte> cut(file.begin(), file.begin() + std::ptrdiff_t(n));
    EXPECT_THROW(load_bytes(cut), Error) << n;
  }
  std::mt19937 rng(3);
  int failures = 0;
  for (int i = 0; i < 3000; ++i) {
    auto bad = file;
    for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = std::byte(rng());
    try {
      load_bytes(bad);
    } catch (const Error&) {
      ++failures;
    }
  }
  EXPECT_GT(failures, 0);
}

TEST(IoZip, LegacyFormatChecksDeclaredSizesBeforeAllocating) {
  std::ifstream f(std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/legacy_format.pt",
                  std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto as_bytes = [](const std::string& x) {
    return std::vector<std::byte>(reinterpret_cast<const std::byte*>(x.data()),
                                  reinterpret_cast<const std::byte*>(x.data()) + x.size());
  };
  Value v = load_bytes(as_bytes(s));
  EXPECT_EQ(v["n"].as_int(), 7);
  EXPECT_EQ(v["w"].as_tensor().sizes(), (Shape{3, 3}));
  // Declare 2^40 elements for the first storage (BININT1 9 -> LONG1 2^40).
  size_t at = s.find("FloatStorage");
  ASSERT_NE(at, std::string::npos);
  at = s.find("K\x09", at);
  ASSERT_NE(at, std::string::npos);
  std::string big =
      s.substr(0, at) + std::string("\x8a\x06\x00\x00\x00\x00\x00\x01", 8) + s.substr(at + 2);
  try {
    load_bytes(as_bytes(big));
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("more than the file holds"), std::string::npos)
        << e.what();
  }
  for (size_t n = 0; n < s.size(); n += 5)
    EXPECT_THROW(load_bytes(as_bytes(s.substr(0, n))), Error) << n;
}

TEST(IoZip, Crc32MatchesZlibForAnyLengthAndAlignment) {
  std::vector<unsigned char> buf((size_t(20) << 20) + 200);
  std::mt19937 rng(11);
  for (auto& b : buf) b = uint8_t(rng());
  std::vector<size_t> lengths = {0, 1, 15, 16, 63, 64, 65, 127, 128, 129, 1000, 4096, 65537};
  for (size_t len : lengths)
    for (size_t off : {0, 1, 7, 16, 33}) {
      uint32_t want = uint32_t(::crc32_z(0, buf.data() + off, len));
      EXPECT_EQ(iod::crc32_of(buf.data() + off, len), want) << len << " at " << off;
    }
  // Big enough to be split across threads.
  size_t big = buf.size() - 3;
  EXPECT_EQ(iod::crc32_of(buf.data() + 3, big), uint32_t(::crc32_z(0, buf.data() + 3, big)));
}

TEST(IoZip, Zip64RecordsOf4GiBAndBeyond) {
  // A 4 GiB + 64 byte uint8 storage, then a small one whose header lies past
  // the 4 GiB mark (docs/formats.md §1.4–1.7). The big payload is untouched anonymous
  // memory (zero pages, no RSS) and becomes a hole in a sparse file.
  const size_t big_n = (size_t(1) << 32) + 64;
  void* mem = ::mmap(nullptr, big_n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto big = Storage::borrow(mem, big_n,
                             std::shared_ptr<void>(mem, [big_n](void* p) { ::munmap(p, big_n); }));
  Dict d;
  d.set("big", make_tensor(big, DType::UInt8, {int64_t(big_n)}, {1}));
  d.set("small", arange(3));
  std::vector<iod::PickledStorage> storages;
  std::string pkl = iod::pickle(Value(d), storages);
  ASSERT_EQ(storages.size(), 2u);

  // A name of its own: two builds may run their suites at the same time.
  std::string path = ::testing::TempDir() + "zip64_big_" + std::to_string(::getpid()) + ".pt";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  iod::ZipWriter z([&](const void* p, size_t n) {
    if (p == mem) {
      ASSERT_GE(::lseek(fd, off_t(n), SEEK_CUR), 0);  // a hole reads as zeros
    } else {
      ASSERT_EQ(::write(fd, p, n), ssize_t(n));
    }
  });
  auto span_of = [](const void* p, size_t n) {
    return std::span<const std::byte>(static_cast<const std::byte*>(p), n);
  };
  z.add("zip64_big/data.pkl", span_of(pkl.data(), pkl.size()));
  z.add("zip64_big/data/0", span_of(mem, big_n));
  z.add("zip64_big/data/1", span_of(storages[1].storage->data(), 24));
  z.add("zip64_big/version", span_of("3\n", 2));
  z.finish();
  ::close(fd);

  iod::Source src = iod::Source::map(path);
  iod::ZipReader reader(src);
  const iod::ZipEntry* e0 = reader.find("zip64_big/data/0");
  const iod::ZipEntry* e1 = reader.find("zip64_big/data/1");
  ASSERT_TRUE(e0 && e1);
  EXPECT_EQ(e0->size, big_n);
  EXPECT_GT(e1->header_offset, uint64_t(1) << 32);
  EXPECT_EQ(reader.data_offset(*e1) % 64, 0u);
  // Local header of the big record: zip64 field (size, 0) then FB padding.
  const auto* h = reinterpret_cast<const unsigned char*>(src.data()) + e0->header_offset;
  EXPECT_EQ(h[30 + 16], 0x01);          // extra id 0x0001
  EXPECT_EQ(h[30 + 16 + 2], 16);        // two u64
  EXPECT_EQ(h[30 + 16 + 4 + 4], 0x01);  // size = 2^32 + 64: byte 4 of the u64 is 1
  // The small record's descriptor is 24 bytes (u64 sizes) and its CRC checks.
  uint64_t after = reader.data_offset(*e1) + 24;
  EXPECT_EQ(std::memcmp(reinterpret_cast<const char*>(src.data()) + after, "PK\x07\x08", 4), 0);
  reader.check_crc(*e1, reinterpret_cast<const char*>(src.data()) + reader.data_offset(*e1));

  Value v = load(path);
  EXPECT_EQ(v["big"].as_tensor().numel(), int64_t(big_n));
  EXPECT_NE(v["big"].as_tensor().storage()->mapped_file(), nullptr);  // a view of the file
  EXPECT_EQ(v["small"].as_tensor().to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
  ::unlink(path.c_str());
}
