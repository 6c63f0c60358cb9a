// safetensors: the reference file (safetensors 0.8.0) loads and re-saves byte for
// byte, the writer matches the example of docs/formats.md §4.4, and every validation
// rule of docs/formats.md §4.3 holds.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "io/test_sha256.h"
#include "wick/io/safetensors.h"

using namespace wick;
using namespace wick::io;

namespace {

const std::string kFile =
    std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/dtypes.safetensors";

std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {reinterpret_cast<const std::byte*>(s.data()),
          reinterpret_cast<const std::byte*>(s.data()) + s.size()};
}

// A file with `header` (padded as given) and `data` bytes.
std::vector<std::byte> file_with(const std::string& header, size_t data) {
  std::vector<std::byte> out(8 + header.size() + data, std::byte(0));
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::string error_of(const std::vector<std::byte>& f) {
  try {
    load_safetensors_bytes(f);
  } catch (const FormatError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no FormatError";
  return "";
}

const std::string kX = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

}  // namespace

TEST(IoSafetensors, ReferenceFileMatchesManifest) {
  std::ifstream m(std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/manifest.json");
  auto entries = nlohmann::json::parse(m)["files"]["dtypes.safetensors"]["entries"];
  for (bool mmap : {true, false}) {
    LoadOptions o;
    o.mmap = mmap;
    SafetensorsFile f = load_safetensors(kFile, o);
    ASSERT_EQ(f.tensors.size(), entries.size());
    for (const auto& [name, e] : entries.items()) {
      SCOPED_TRACE(name);
      const Tensor& t = f.tensors.at(name).as_tensor();
      EXPECT_EQ(std::string(dtype_name(t.dtype())), e["dtype"].get<std::string>());
      EXPECT_EQ(t.sizes(), Shape(e["shape"].get<std::vector<int64_t>>()));
      Tensor c = t.contiguous();
      EXPECT_EQ(
          wick::test::sha256(static_cast<const unsigned char*>(c.data_ptr()), size_t(c.nbytes())),
          e["sha256"].get<std::string>());
      EXPECT_EQ(t.storage()->mapped_file() != nullptr, mmap);
    }
    ASSERT_EQ(f.metadata.size(), 2u);
    EXPECT_EQ(f.metadata[0], (std::pair<std::string, std::string>{"origin", "fixture"}));
    EXPECT_EQ(f.metadata[1], (std::pair<std::string, std::string>{"format", "pt"}));
    EXPECT_EQ(f.tensors.keys().front().as_string(), "base");  // name order
  }
}

TEST(IoSafetensors, ResavingTheReferenceFileIsByteIdentical) {
  SafetensorsFile f = load_safetensors(kFile);
  EXPECT_TRUE(save_safetensors_bytes(f.tensors, f.metadata) == read_file(kFile));
}

TEST(IoSafetensors, WriterMatchesSpecExample) {
  Dict d;
  d.set("b", tensor<int64_t>({1, 2}));
  d.set("a", tensor<float>({1.5f, 2.5f}));
  d.set("h", ones({1}, {.dtype = DType::Float16}));
  std::vector<std::byte> out = save_safetensors_bytes(d, {{"format", "pt"}});
  std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      R"("h":{"dtype":"F16","shape":[1],"data_offsets":[24,26]}}    )";
  ASSERT_EQ(out.size(), 8 + 200 + 26u);
  EXPECT_EQ(uint8_t(out[0]), 200);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data()) + 8, 200), header);
  const unsigned char data[] = {1, 0, 0, 0, 0, 0,    0,    0, 2, 0,    0,    0, 0,
                                0, 0, 0, 0, 0, 0xc0, 0x3f, 0, 0, 0x20, 0x40, 0, 0x3c};
  EXPECT_EQ(std::memcmp(out.data() + 208, data, 26), 0);
  Dict x;
  x.set("x", zeros({3}));
  EXPECT_EQ(uint8_t(save_safetensors_bytes(x)[0]), 56);
}

TEST(IoSafetensors, RoundTripOfEveryDtypeAndOddShapes) {
  Dict d;
  for (DType t :
       {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16, DType::Int8, DType::Int16,
        DType::Int32, DType::Int64, DType::UInt8, DType::Bool, DType::Complex64})
    d.set(std::string(dtype_name(t)), arange(6, DType::Int64).view({2, 3}).to(t));
  d.set("scalar", scalar_tensor(3.5));
  d.set("empty", zeros({0, 4}));
  d.set("transposed", arange(6, DType::Float32).view({2, 3}).t());
  d.set("param", Value::parameter(ones({2})));
  SafetensorsFile f = load_safetensors_bytes(save_safetensors_bytes(d, {{"k", "v\xc3\xa9"}}));
  EXPECT_EQ(f.metadata[0].second, "v\xc3\xa9");
  for (const auto& [k, v] : d) {
    const Tensor& a = v.as_tensor();
    const Tensor& b = f.tensors.at(k).as_tensor();
    EXPECT_EQ(a.dtype(), b.dtype()) << k.as_string();
    EXPECT_EQ(a.sizes(), b.sizes()) << k.as_string();
    EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>()) << k.as_string();
  }
  Dict c;
  c.set("z", zeros({2}, {.dtype = DType::Complex128}));
  EXPECT_THROW(save_safetensors_bytes(c), Error);
  Dict bad;
  bad.set(1, zeros({2}));
  EXPECT_THROW(save_safetensors_bytes(bad), Error);
}

TEST(IoSafetensors, ValidationRules) {
  EXPECT_NE(error_of(std::vector<std::byte>(5)).find("header too small"), std::string::npos);
  auto huge = file_with("", 0);
  uint64_t n = 100000001;
  std::memcpy(huge.data(), &n, 8);
  EXPECT_NE(error_of(huge).find("header too large"), std::string::npos);
  auto past = file_with(kX, 8);
  n = 5000;
  std::memcpy(past.data(), &n, 8);
  EXPECT_NE(error_of(past).find("invalid header length"), std::string::npos);
  EXPECT_NE(error_of(file_with("{\"x\xff\":1}", 0)).find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(error_of(file_with("{nope", 0)).find("invalid JSON"), std::string::npos);
  EXPECT_NE(error_of(file_with(R"({"__metadata__":{"a":1}})", 0)).find("not a string"),
            std::string::npos);
  EXPECT_NE(error_of(file_with(R"({"x":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8))
                .find("unknown dtype"),
            std::string::npos);
  EXPECT_NE(error_of(file_with(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8))
                .find("non-negative"),
            std::string::npos);
  EXPECT_NE(error_of(file_with(R"({"x":{"dtype":"F8_E8M0","shape":[2],"data_offsets":[0,2]}})", 2))
                .find("wick lacks"),
            std::string::npos);
  // Extra fields are ignored; whitespace around the JSON is fine.
  EXPECT_NO_THROW(load_safetensors_bytes(
      file_with(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8)));
  EXPECT_NO_THROW(load_safetensors_bytes(file_with(" \n" + kX + " \t\r\n ", 8)));
  EXPECT_NE(error_of(file_with(kX + std::string(3, '\0'), 8)).find("invalid JSON"),
            std::string::npos);
  // Holes, overlaps, aliases, a first range not at 0.
  std::string two = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[%]}})";
  auto with = [&](const std::string& range, size_t data) {
    std::string h = two;
    h.replace(h.find('%'), 1, range);
    return file_with(h, data);
  };
  EXPECT_NE(error_of(with("8,12", 12)).find("invalid offset for tensor 'b'"), std::string::npos);
  EXPECT_NE(error_of(with("2,6", 6)).find("invalid offset"), std::string::npos);
  EXPECT_NE(error_of(with("0,4", 4)).find("invalid offset"), std::string::npos);
  EXPECT_NE(error_of(with("4,2", 4)).find("invalid offset"), std::string::npos);
  EXPECT_NO_THROW(load_safetensors_bytes(with("4,8", 8)));
  // Offsets listed out of order are fine; duplicate names leave a hole.
  EXPECT_NO_THROW(
      load_safetensors_bytes(file_with(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                                       R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                       8)));
  EXPECT_NE(error_of(file_with(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                               8))
                .find("invalid offset"),
            std::string::npos);
  EXPECT_NE(error_of(file_with(kX, 9)).find("not fully covered"), std::string::npos);
  EXPECT_THROW(load_safetensors_bytes(file_with(kX, 7)), FormatError);
  EXPECT_NE(error_of(file_with(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8))
                .find("invalid shape, data type, or offset"),
            std::string::npos);
  EXPECT_NE(error_of(file_with(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,8],)"
                               R"("data_offsets":[0,8]}})",
                               8))
                .find("overflow"),
            std::string::npos);
  auto bools = file_with(R"({"x":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", 2);
  bools.back() = std::byte(2);
  EXPECT_NE(error_of(bools).find("bool tensor"), std::string::npos);
  auto scalar =
      load_safetensors_bytes(file_with(R"({"s":{"dtype":"I8","shape":[],"data_offsets":[0,1]},)"
                                       R"("z":{"dtype":"F64","shape":[0,3],"data_offsets":[1,1]}})",
                                       1));
  EXPECT_EQ(scalar.tensors.at("s").as_tensor().dim(), 0);
  EXPECT_EQ(scalar.tensors.at("z").as_tensor().numel(), 0);
}

TEST(IoSafetensors, MutatedFilesFailCleanlyOrLoad) {
  std::vector<std::byte> file = read_file(kFile);
  for (size_t n = 0; n < file.size(); n += 7) {
    std::vector<std::byte> cut(file.begin(), file.begin() + std::ptrdiff_t(n));
    EXPECT_THROW(load_safetensors_bytes(cut), Error) << n;
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 3000; ++i) {
    auto bad = file;
    bad[rng() % 1300] = std::byte(rng());
    try {
      load_safetensors_bytes(bad);
    } catch (const Error&) {
    }
  }
}
