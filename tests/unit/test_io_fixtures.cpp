// Checkpoints written by PyTorch 2.11 on a GPU (tests/fixtures/torch-2.11, copied
// from the project's shared fixtures) load with every tensor's bytes matching the
// SHA-256 in manifest.json, and every non-tensor leaf matching its value.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "io/test_sha256.h"
#include "wick/io/serialize.h"

using namespace wick;
using namespace wick::io;

namespace {

const std::string kDir = std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/";

std::string tensor_sha256(const Tensor& t) {
  Tensor c = t.contiguous();
  return wick::test::sha256(static_cast<const unsigned char*>(c.data_ptr()), size_t(c.nbytes()));
}

// Dotted paths to every leaf, as the manifest lists them.
void flatten(const Value& v, const std::string& path, std::map<std::string, Value>& out) {
  auto join = [&](const std::string& k) { return path.empty() ? k : path + "." + k; };
  if (v.is_dict()) {
    for (const auto& [k, x] : v.as_dict())
      flatten(x, join(k.is_string() ? k.as_string() : k.repr()), out);
  } else if (v.is_list() || v.is_tuple()) {
    for (size_t i = 0; i < v.as_sequence().size(); ++i)
      flatten(v.as_sequence()[i], join(std::to_string(i)), out);
  } else {
    out[path] = v;
  }
}

LoadOptions copying() {
  LoadOptions o;
  o.mmap = false;
  return o;
}

nlohmann::json manifest() {
  std::ifstream f(kDir + "manifest.json");
  return nlohmann::json::parse(f);
}

void check_against_manifest(const std::string& file, const LoadOptions& options) {
  SCOPED_TRACE(file);
  nlohmann::json entries = manifest()["files"][file]["entries"];
  ASSERT_FALSE(entries.empty());
  Value v = load(kDir + file, options);
  std::map<std::string, Value> leaves;
  flatten(v, "", leaves);
  EXPECT_EQ(leaves.size(), entries.size());
  for (const auto& [path, e] : entries.items()) {
    SCOPED_TRACE(path);
    auto it = leaves.find(path);
    ASSERT_NE(it, leaves.end()) << "missing entry";
    const Value& x = it->second;
    if (e.contains("sha256")) {
      ASSERT_TRUE(x.is_tensor()) << x.type_name();
      const Tensor& t = x.as_tensor();
      EXPECT_EQ(std::string(dtype_name(t.dtype())), e["dtype"].get<std::string>());
      EXPECT_EQ(t.sizes(), Shape(e["shape"].get<std::vector<int64_t>>()));
      EXPECT_EQ(tensor_sha256(t), e["sha256"].get<std::string>());
    } else {
      const auto& j = e["value"];
      if (j.is_null())
        EXPECT_TRUE(x.is_none());
      else if (j.is_boolean())
        EXPECT_EQ(x.as_bool(), j.get<bool>());
      else if (j.is_number_integer())
        EXPECT_EQ(x.as_int(), j.get<int64_t>());
      else if (j.is_number_float())
        EXPECT_EQ(x.as_float(), j.get<double>());
      else if (j.is_string())
        EXPECT_EQ(x.as_string(), j.get<std::string>());
      else
        ADD_FAILURE() << "unexpected manifest value " << j;
    }
  }
}

}  // namespace

TEST(IoFixtures, Sha256OfKnownInputs) {
  EXPECT_EQ(wick::test::sha256(nullptr, 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char* abc = "abc";
  EXPECT_EQ(wick::test::sha256(reinterpret_cast<const unsigned char*>(abc), 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class IoFixtureFiles : public ::testing::TestWithParam<std::string> {};

TEST_P(IoFixtureFiles, MappedLoadMatchesManifest) {
  check_against_manifest(GetParam(),
                         LoadOptions{.mmap = true, .verify_crc = true, .floating_dtype = {}});
}

TEST_P(IoFixtureFiles, CopyingLoadMatchesManifest) {
  check_against_manifest(GetParam(),
                         LoadOptions{.mmap = false, .verify_crc = false, .floating_dtype = {}});
}

INSTANTIATE_TEST_SUITE_P(Torch211, IoFixtureFiles,
                         ::testing::Values("seed_net_state_dict.pt", "adam_checkpoint.pt",
                                           "scheduler_state.pt", "dtypes_and_views.pt",
                                           "legacy_format.pt", "new_dtypes.pt"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.substr(0, n.find('.'));
                         });

TEST(IoFixtures, MappedTensorsViewTheFile) {
  Value sd = load(kDir + "seed_net_state_dict.pt");
  const Tensor& w = sd["fc1.weight"].as_tensor();
  ASSERT_NE(w.storage()->mapped_file(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.storage()->data()) % 64, 0u);
  // Writing goes to a private copy of the page, never to the file.
  w.set({0, 0}, 123.0f);
  Value again = load(kDir + "seed_net_state_dict.pt");
  EXPECT_NE(again["fc1.weight"].as_tensor().at({0, 0}).to<float>(), 123.0f);
  Value copied = load(kDir + "seed_net_state_dict.pt", copying());
  EXPECT_EQ(copied["fc1.weight"].as_tensor().storage()->mapped_file(), nullptr);
}

TEST(IoFixtures, StateDictKeepsOrderAndMetadata) {
  Value sd = load(kDir + "seed_net_state_dict.pt");
  ASSERT_TRUE(sd.is_dict());
  EXPECT_TRUE(sd.as_dict().ordered());
  std::vector<std::string> keys;
  for (const auto& [k, v] : sd.as_dict()) keys.push_back(k.as_string());
  EXPECT_EQ(keys, (std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight",
                                            "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight",
                                            "fc2.bias", "fc3.weight", "fc3.bias"}));
  const Value& meta = sd.as_dict().metadata();
  ASSERT_TRUE(meta.is_dict());
  EXPECT_EQ(meta.size(), 7u);  // '', conv1, pool, conv2, fc1, fc2, fc3
  EXPECT_EQ(meta[""]["version"].as_int(), 1);
  EXPECT_EQ(meta["pool"]["version"].as_int(), 1);
}

TEST(IoFixtures, ViewsShareOneStorage) {
  Value v = load(kDir + "dtypes_and_views.pt");
  const Tensor& base = v["base"].as_tensor();
  const Tensor& row = v["row_slice"].as_tensor();
  const Tensor& col = v["col_slice"].as_tensor();
  EXPECT_EQ(row.storage(), base.storage());
  EXPECT_EQ(col.storage(), base.storage());
  EXPECT_EQ(row.storage_offset(), 6);
  EXPECT_EQ(col.strides(), (Shape{6, 1}));
  // The same tensor object under two keys stays one tensor.
  EXPECT_TRUE(v["tied_a"].as_tensor().is_same(v["tied_b"].as_tensor()));
  EXPECT_EQ(v["expanded"].as_tensor().strides(), (Shape{1, 0}));
  EXPECT_TRUE(v["param"].is_parameter());
  EXPECT_TRUE(v["param"].as_tensor().requires_grad());
  EXPECT_FALSE(v["base"].as_tensor().requires_grad());
  EXPECT_EQ(v["scalar"].as_tensor().dim(), 0);
  EXPECT_EQ(v["empty"].as_tensor().numel(), 0);
  // Mutation through one view is visible through the others.
  base.set({1, 0}, -7.0f);
  EXPECT_EQ(row.at({0, 0}).to<float>(), -7.0f);
}

TEST(IoFixtures, TrajectoryLossesMatchManifest) {
  Value v = load(kDir + "trajectory.pt");
  auto losses = manifest()["files"]["trajectory.pt"]["losses"].get<std::vector<double>>();
  EXPECT_EQ(v["losses"].as_tensor().to_vector<double>(), losses);
  EXPECT_EQ(v["lr"].as_float(), 0.01);
  EXPECT_EQ(v["momentum"].as_float(), 0.9);
  EXPECT_EQ(v["xs"].as_tensor().sizes(), (Shape{10, 16, 3, 32, 32}));
  EXPECT_EQ(v["init"]["fc1.weight"].as_tensor().sizes(), (Shape{120, 400}));
}

TEST(IoFixtures, FloatingDtypeConversionKeepsSharing) {
  LoadOptions o;
  o.floating_dtype = DType::Float64;
  Value v = load(kDir + "dtypes_and_views.pt", o);
  EXPECT_EQ(v["float32"].as_tensor().dtype(), DType::Float64);
  EXPECT_EQ(v["bfloat16"].as_tensor().dtype(), DType::Float64);
  EXPECT_EQ(v["int64"].as_tensor().dtype(), DType::Int64);
  EXPECT_EQ(v["row_slice"].as_tensor().storage(), v["base"].as_tensor().storage());
  EXPECT_TRUE(v["tied_a"].as_tensor().is_same(v["tied_b"].as_tensor()));
  EXPECT_TRUE(v["param"].is_parameter());
  Value orig = load(kDir + "dtypes_and_views.pt");
  EXPECT_EQ(v["row_slice"].as_tensor().to_vector<double>(),
            orig["row_slice"].as_tensor().to_vector<double>());
}
