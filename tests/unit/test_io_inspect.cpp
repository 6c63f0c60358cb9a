// Looking at files: detect_format, version_records, verify; and the save
// options a converter needs (a cast while writing, progress reports).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "wick/core/tensor.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"

namespace {

namespace fs = std::filesystem;
using namespace wick;
using io::Format;

const std::string kFixtures = std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/";

class IoInspect : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wick_inspect_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string read(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }
  static void write(const std::string& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
  }

  // {"w": 2x3 floats 1..6, "v": a view of w's second row, "n": int64 [7, 8], "epoch": 3}
  static Value sample() {
    Tensor w = arange(1, 7).to(DType::Float32).reshape({2, 3});
    Dict d(/*ordered=*/true);
    d.set("w", w);
    d.set("v", w.select(0, 1));
    d.set("n", arange(7, 9));
    d.set("epoch", 3);
    return Value(d);
  }

  fs::path dir_;
};

TEST_F(IoInspect, DetectsFormatsByContent) {
  std::string pt = path("a.safetensors");  // the name is not what counts
  io::save(sample(), pt);
  EXPECT_EQ(io::detect_format(pt), Format::PtZip);
  std::string st = path("b.pt");
  Dict t;
  t.set("x", ones({2}));
  io::save_safetensors(t, st);
  EXPECT_EQ(io::detect_format(st), Format::Safetensors);
  EXPECT_EQ(io::detect_format(kFixtures + "legacy_format.pt"), Format::PtLegacy);
  EXPECT_EQ(io::format_name(Format::PtZip), "pt-zip");
  EXPECT_EQ(io::format_name(Format::PtLegacy), "pt-legacy");
  EXPECT_EQ(io::format_name(Format::Safetensors), "safetensors");

  for (std::string junk : {std::string(), std::string("hello world, not a checkpoint"),
                           std::string("\x80\x02K\x01.", 5)}) {
    write(path("junk"), junk);
    try {
      io::detect_format(path("junk"));
      FAIL() << "accepted " << junk.size() << " junk bytes";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("not a PyTorch or safetensors checkpoint"),
                std::string::npos)
          << e.what();
    }
  }
  try {
    io::detect_format(path("missing"));
    FAIL();
  } catch (const FormatError&) {
    FAIL() << "a missing file is not a format error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
  }
}

TEST_F(IoInspect, VersionRecordsInFileOrder) {
  using Records = std::vector<std::pair<std::string, std::string>>;
  io::save(sample(), path("new.pt"));
  EXPECT_EQ(io::version_records(path("new.pt")), (Records{{".format_version", "1"},
                                                          {".storage_alignment", "64"},
                                                          {"byteorder", "little"},
                                                          {"version", "3"}}));
  io::save(sample(), path("old.pt"), {.layout = io::ZipLayout::Torch1_13});
  EXPECT_EQ(io::version_records(path("old.pt")), (Records{{"version", "3"}}));
  EXPECT_EQ(io::version_records(kFixtures + "legacy_format.pt"),
            (Records{{"magic", "0x1950a86a20f9469cfc6c"}, {"protocol version", "1001"}}));
  EXPECT_TRUE(io::version_records(kFixtures + "dtypes.safetensors").empty());
}

TEST_F(IoInspect, VerifySoundFiles) {
  io::save(sample(), path("a.pt"));
  io::VerifyResult r = io::verify(path("a.pt"));
  ASSERT_TRUE(r.ok()) << r.problem->str();
  EXPECT_EQ(r.format, Format::PtZip);
  // data.pkl, .format_version, .storage_alignment, byteorder, data/0, data/1, version
  EXPECT_EQ(r.records, 7u);
  EXPECT_EQ(r.tensors, 3u);
  EXPECT_EQ(r.nbytes, 6 * 4 + 3 * 4 + 2 * 8u);
  EXPECT_TRUE(r.crc_checked);

  for (const char* f :
       {"adam_checkpoint.pt", "dtypes_and_views.pt", "legacy_format.pt", "dtypes.safetensors"}) {
    io::VerifyResult fr = io::verify(kFixtures + f);
    EXPECT_TRUE(fr.ok()) << f << ": " << fr.problem->str();
    EXPECT_GT(fr.tensors, 0u) << f;
    EXPECT_EQ(fr.crc_checked, fr.format == Format::PtZip) << f;
  }
}

TEST_F(IoInspect, VerifyNamesTheCorruptRecordAndOffset) {
  Dict d;
  // A pattern that is easy to find in the file: 0x41414141 floats.
  Tensor t = zeros({16});
  std::memset(t.data_ptr(), 0x41, 64);
  d.set("t", t);
  io::save(Value(d), path("c.pt"));
  std::string bytes = read(path("c.pt"));
  size_t at = bytes.find(std::string(64, 'A'));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] = 'B';
  write(path("c.pt"), bytes);

  io::VerifyResult r = io::verify(path("c.pt"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem->record, "c/data/0");
  EXPECT_EQ(r.problem->offset, at);
  EXPECT_TRUE(r.problem->message.starts_with("CRC-32 mismatch (stored 0x")) << r.problem->message;
  EXPECT_TRUE(r.problem->str().starts_with("record 'c/data/0' (offset " + std::to_string(at) +
                                           "): CRC-32 mismatch"))
      << r.problem->str();
  // The loader without CRC checks does not notice: verify does more than load.
  EXPECT_NO_THROW(io::load(path("c.pt")));
}

TEST_F(IoInspect, VerifyReportsMalformedFilesAsProblems) {
  io::save(sample(), path("a.pt"));
  std::string bytes = read(path("a.pt"));
  write(path("trunc.pt"), bytes.substr(0, bytes.size() - 30));
  io::VerifyResult r = io::verify(path("trunc.pt"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.format, Format::PtZip);
  EXPECT_FALSE(r.problem->message.empty());
  EXPECT_EQ(r.problem->message.find(path("trunc.pt")), std::string::npos)
      << "the file name is not repeated: " << r.problem->message;

  write(path("junk"), "not a checkpoint at all");
  r = io::verify(path("junk"));
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.format.has_value());
  EXPECT_EQ(r.problem->str(), "not a PyTorch or safetensors checkpoint");

  std::string st = read(kFixtures + "dtypes.safetensors");
  write(path("short.safetensors"), st.substr(0, st.size() - 1));
  r = io::verify(path("short.safetensors"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.format, Format::Safetensors);

  EXPECT_THROW(io::verify(path("missing.pt")), Error);
}

TEST_F(IoInspect, SaveCastsFloatingTensorsKeepingViewsAndTheInput) {
  Value v = sample();
  io::save(v, path("h.pt"), {.floating_dtype = DType::Float16});
  EXPECT_EQ(v["w"].as_tensor().dtype(), DType::Float32) << "the saved value is not changed";

  Value back = io::load(path("h.pt"));
  const Tensor& w = back["w"].as_tensor();
  const Tensor& view = back["v"].as_tensor();
  EXPECT_EQ(w.dtype(), DType::Float16);
  EXPECT_EQ(view.dtype(), DType::Float16);
  EXPECT_EQ(back["n"].as_tensor().dtype(), DType::Int64);
  EXPECT_EQ(w.storage(), view.storage()) << "views of one storage stay one storage";
  EXPECT_EQ(view.storage_offset(), 3);
  EXPECT_EQ(w.to(DType::Float32).to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(back["n"].as_tensor().to_vector<int64_t>(), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(back["epoch"].as_int(), 3);
  // 6 halves + 2 int64s: the cast storage is written at its new size.
  EXPECT_TRUE(io::verify(path("h.pt")).ok());
  EXPECT_EQ(io::verify(path("h.pt")).nbytes, 6 * 2 + 3 * 2 + 2 * 8u);
}

TEST_F(IoInspect, SaveReportsProgress) {
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  io::SaveOptions o;
  o.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  io::save(sample(), path("p.pt"), o);
  ASSERT_FALSE(calls.empty());
  uint64_t total = 6 * 4 + 2 * 8;  // two storages: w's (v shares it) and n's
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].second, total);
    if (i > 0) {
      EXPECT_GE(calls[i].first, calls[i - 1].first);
    }
  }
  EXPECT_EQ(calls.back().first, total);

  calls.clear();
  Dict t;
  t.set("a", ones({4}, {.dtype = DType::Float64}));
  t.set("b", ones({2}, {.dtype = DType::Int32}));
  o.floating_dtype = DType::BFloat16;
  io::save_safetensors(t, path("p.safetensors"), {}, o);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(uint64_t(4 * 2 + 2 * 4), uint64_t(4 * 2 + 2 * 4)));
  io::SafetensorsFile f = io::load_safetensors(path("p.safetensors"));
  EXPECT_EQ(f.tensors.at("a").as_tensor().dtype(), DType::BFloat16);
  EXPECT_EQ(f.tensors.at("b").as_tensor().dtype(), DType::Int32);
  EXPECT_EQ(f.tensors.at("a").as_tensor().to(DType::Float32).to_vector<float>(),
            (std::vector<float>{1, 1, 1, 1}));
}

}  // namespace

namespace {

TEST(IoInspectShared, VerifyCountsEveryPathToASharedList) {
  // 16 levels of [x, x]: 2^16 paths to one tensor (the loader bounds the expansion
  // of shared containers at about a million nodes).
  Value v = Value::list({Value(wick::ones({1}))});
  for (int i = 0; i < 16; ++i) v = Value::list({v, v});
  std::string p = (std::filesystem::temp_directory_path() /
                   ("wick_inspect_shared_" + std::to_string(::getpid()) + ".pt"))
                      .string();
  io::save(v, p);
  io::VerifyResult r = io::verify(p);
  std::filesystem::remove(p);
  ASSERT_TRUE(r.ok()) << r.problem->str();
  EXPECT_EQ(r.tensors, size_t(1) << 16);
  EXPECT_EQ(r.nbytes, uint64_t(4) << 16);
}

}  // namespace
