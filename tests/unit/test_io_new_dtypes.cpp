// The dtypes PyTorch 2.x added (uint16/32/64, float8, complex32) in checkpoint
// files: PyTorch 2.11's new_dtypes.pt loads, and wick writes its pickle byte for
// byte (UntypedStorage + _rebuild_tensor_v3 + the dtype, docs/formats.md §2.10);
// every new dtype round-trips through .pt and safetensors, views and sharing
// kept; complex32, which safetensors has no name for, is refused by name.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "io/file.h"
#include "io/zip.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"

using namespace wick;
using namespace wick::io;

namespace {

const std::string kFixture =
    std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/new_dtypes.pt";

const DType kNew[] = {DType::UInt16,          DType::UInt32,      DType::UInt64,
                      DType::Float8_e4m3fn,   DType::Float8_e5m2, DType::Float8_e4m3fnuz,
                      DType::Float8_e5m2fnuz, DType::Complex32};

std::string record(std::span<const std::byte> archive, const std::string& suffix) {
  auto src = io::detail::Source::memory(archive);
  io::detail::ZipReader zip(src);
  for (const auto& e : zip.entries())
    if (e.name.ends_with(suffix)) return zip.read_string(e);
  ADD_FAILURE() << "no record " << suffix;
  return "";
}

std::vector<std::byte> file_bytes(const std::string& path) {
  auto src = io::detail::Source::file(path);
  std::vector<std::byte> out(src.size());
  src.read(0, out.data(), out.size(), "file");
  return out;
}

std::string bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), size_t(c.nbytes()));
}

// A tensor of `dt` whose bytes are a pattern (float8 NaNs and all included).
Tensor patterned(const Shape& sizes, DType dt, uint8_t seed) {
  Tensor t = empty(sizes, {.dtype = dt});
  auto* p = static_cast<uint8_t*>(t.data_ptr());
  for (int64_t i = 0; i < t.nbytes(); ++i) p[i] = uint8_t(seed + 37 * i);
  return t;
}

}  // namespace

TEST(IoNewDTypes, FixtureHoldsTheDTypesPyTorch2Wrote) {
  Value v = load(kFixture);
  const std::pair<const char*, DType> want[] = {{"float8_e4m3fn", DType::Float8_e4m3fn},
                                                {"float8_e5m2", DType::Float8_e5m2},
                                                {"uint16", DType::UInt16},
                                                {"uint32", DType::UInt32},
                                                {"uint64", DType::UInt64},
                                                {"complex128", DType::Complex128},
                                                {"int8", DType::Int8}};
  for (auto [name, dt] : want) {
    const Tensor& t = v[name].as_tensor();
    EXPECT_EQ(t.dtype(), dt) << name;
    EXPECT_EQ(t.sizes(), (Shape{4, 3})) << name;
  }
  // The integers are 0..199; the float8 values randn * 3, so within ±15.
  for (const char* n : {"uint16", "uint32", "uint64"})
    for (int64_t x : v[n].as_tensor().to_vector<int64_t>()) EXPECT_TRUE(x >= 0 && x < 200) << n;
  for (const char* n : {"float8_e4m3fn", "float8_e5m2"})
    for (float x : v[n].as_tensor().to_vector<float>()) EXPECT_LT(std::fabs(x), 15.0f) << n;
  // Known bytes of data/0 (27 b0 3b ...): 0x27 is 1.875 * 2^-3, 0xb0 is -1.0 * 2^-1.
  EXPECT_EQ(v["float8_e4m3fn"].as_tensor().at({0, 0}).to<double>(), 0.234375);
  EXPECT_EQ(v["float8_e4m3fn"].as_tensor().at({0, 1}).to<double>(), -0.5);
  // data/1 starts be 41: e5m2 0xbe is -1.5 * 2^0, 0x41 is 1.25 * 2^1.
  EXPECT_EQ(v["float8_e5m2"].as_tensor().at({0, 0}).to<double>(), -1.5);
  EXPECT_EQ(v["float8_e5m2"].as_tensor().at({0, 1}).to<double>(), 2.5);
}

TEST(IoNewDTypes, ResavedPickleIsPyTorchsByteForByte) {
  Value v = load(kFixture);
  std::vector<std::byte> ours = save_bytes(v, {}, "new_dtypes");
  std::vector<std::byte> theirs = file_bytes(kFixture);
  EXPECT_EQ(record(ours, "/data.pkl"), record(theirs, "/data.pkl"));
  for (int i = 0; i < 7; ++i) {
    std::string r = "/data/" + std::to_string(i);
    EXPECT_EQ(record(ours, r), record(theirs, r)) << r;
  }
  Value again = load_bytes(ours);
  for (const auto& [k, x] : v.as_dict()) {
    const Tensor &a = x.as_tensor(), &b = again[k.as_string()].as_tensor();
    EXPECT_EQ(a.dtype(), b.dtype());
    EXPECT_EQ(a.sizes(), b.sizes());
    EXPECT_EQ(bytes_of(a), bytes_of(b)) << k.as_string();
  }
}

TEST(IoNewDTypes, EveryNewDTypeRoundTripsWithViewsAndSharing) {
  Dict d(true);
  for (DType dt : kNew) {
    std::string n(dtype_name(dt));
    Tensor base = patterned({4, 6}, dt, uint8_t(dt));
    d.set(n, base);
    d.set(n + "_view", base.narrow(0, 1, 2).t());
    d.set(n + "_0dim", patterned({}, dt, 3));
    d.set(n + "_empty", empty({0, 2}, {.dtype = dt}));
  }
  d.set("param", Value::parameter(patterned({3}, DType::Float8_e5m2, 9)));
  for (bool mmap : {true, false}) {
    std::string path = ::testing::TempDir() + "/new_dtypes_roundtrip.pt";
    save(Value(d), path);
    Value back = load(path, LoadOptions{.mmap = mmap, .verify_crc = true, .floating_dtype = {}});
    for (const auto& [k, x] : d) {
      std::string n = k.as_string();
      const Tensor &a = x.as_tensor(), &b = back[n].as_tensor();
      EXPECT_EQ(b.dtype(), a.dtype()) << n;
      EXPECT_EQ(b.sizes(), a.sizes()) << n;
      EXPECT_EQ(b.strides(), a.strides()) << n;
      EXPECT_EQ(b.storage_offset(), a.storage_offset()) << n;
      EXPECT_EQ(bytes_of(b), bytes_of(a)) << n;
    }
    for (DType dt : kNew) {
      std::string n(dtype_name(dt));
      EXPECT_EQ(back[n].as_tensor().storage(), back[n + "_view"].as_tensor().storage()) << n;
    }
    EXPECT_TRUE(back["param"].is_parameter());
  }
}

TEST(IoNewDTypes, PickleNamesUntypedStorageAndTheDType) {
  for (DType dt : kNew) {
    Dict d;
    d.set("t", patterned({2}, dt, 1));
    std::string pkl = record(save_bytes(Value(d)), "/data.pkl");
    std::string n(dtype_name(dt));
    EXPECT_NE(pkl.find("ctorch._utils\n_rebuild_tensor_v3\n"), std::string::npos) << n;
    EXPECT_NE(pkl.find("ctorch.storage\nUntypedStorage\n"), std::string::npos) << n;
    EXPECT_NE(pkl.find("ctorch\n" + n + "\n"), std::string::npos) << n;
    EXPECT_EQ(pkl.find("_rebuild_tensor_v2"), std::string::npos) << n;
    // The persistent id ends 'cpu', BINPUT, then its size in bytes (BININT1).
    size_t p = pkl.find("cpu");
    ASSERT_NE(p, std::string::npos) << n;
    EXPECT_EQ(pkl.substr(p + 3, 4),
              std::string("q") + pkl[p + 4] + "K" + char(2 * element_size(dt)))
        << n;
  }
}

TEST(IoNewDTypes, SafetensorsNamesAndRoundTrip) {
  Dict d(true);
  const std::pair<DType, const char*> names[] = {{DType::UInt16, "U16"},
                                                 {DType::UInt32, "U32"},
                                                 {DType::UInt64, "U64"},
                                                 {DType::Float8_e4m3fn, "F8_E4M3"},
                                                 {DType::Float8_e5m2, "F8_E5M2"},
                                                 {DType::Float8_e4m3fnuz, "F8_E4M3FNUZ"},
                                                 {DType::Float8_e5m2fnuz, "F8_E5M2FNUZ"}};
  for (auto [dt, st] : names) d.set(std::string(dtype_name(dt)), patterned({2, 3}, dt, 5));
  std::vector<std::byte> bytes = save_safetensors_bytes(d);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header =
      nlohmann::json::parse(std::string(reinterpret_cast<const char*>(bytes.data()) + 8, n));
  for (auto [dt, st] : names) EXPECT_EQ(header[std::string(dtype_name(dt))]["dtype"], st) << st;
  SafetensorsFile f = load_safetensors_bytes(bytes);
  for (auto [dt, st] : names) {
    const Tensor& t = f.tensors.at(std::string(dtype_name(dt))).as_tensor();
    EXPECT_EQ(t.dtype(), dt) << st;
    EXPECT_EQ(bytes_of(t), bytes_of(d.at(std::string(dtype_name(dt))).as_tensor())) << st;
  }
}

TEST(IoNewDTypes, SafetensorsRefusesComplex32NamingTensorAndDType) {
  Dict d;
  d.set("spectrum", patterned({2}, DType::Complex32, 1));
  try {
    save_safetensors_bytes(d);
    ADD_FAILURE() << "complex32 saved";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'spectrum'"), std::string::npos) << m;
    EXPECT_NE(m.find("complex32"), std::string::npos) << m;
    EXPECT_NE(m.find(".to(wick::DType::Complex64)"), std::string::npos) << m;
  }
}

TEST(IoNewDTypes, LoadCastsFloat8WithTheFloatingDType) {
  LoadOptions o;
  o.floating_dtype = DType::Float32;
  Value v = load(kFixture, o);
  Value raw = load(kFixture);
  EXPECT_EQ(v["float8_e4m3fn"].as_tensor().dtype(), DType::Float32);
  EXPECT_EQ(v["float8_e4m3fn"].as_tensor().to_vector<float>(),
            raw["float8_e4m3fn"].as_tensor().to_vector<float>());
  EXPECT_EQ(v["uint16"].as_tensor().dtype(), DType::UInt16) << "integers are not floating";
}
