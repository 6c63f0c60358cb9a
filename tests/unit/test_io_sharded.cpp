// Sharded checkpoints (docs/formats.md §9): sizes, resolving a directory or
// an index, loading in the documented order, every check of the index, and
// saving in transformers' layout with the index's exact text.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"
#include "wick/io/sharded.h"
#include "wick/ops/elementwise.h"

namespace fs = std::filesystem;
using namespace wick;
using namespace wick::io;

namespace {

class IoSharded : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wick_sharded_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string read(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }
  static void write(const std::string& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  // The sorted file names in `sub`.
  std::vector<std::string> listing(const std::string& sub) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_ / sub)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  // Two shards as transformers writes them for .bin: a.* in shard 1, b.* in 2.
  void write_bin_checkpoint() {
    Dict s1(true), s2(true);
    s1.set("a.weight", arange(0, 6).to(DType::Float32).reshape({2, 3}));
    s1.set("a.bias", arange(0, 2).to(DType::Float32));
    s2.set("b.weight", arange(0, 4).to(DType::Float64).reshape({2, 2}));
    s2.set("b.steps", arange(0, 3));
    save(Value(s1), path("pytorch_model-00001-of-00002.bin"));
    save(Value(s2), path("pytorch_model-00002-of-00002.bin"));
    write_index("pytorch_model.bin.index.json", {{"a.weight", "pytorch_model-00001-of-00002.bin"},
                                                 {"a.bias", "pytorch_model-00001-of-00002.bin"},
                                                 {"b.weight", "pytorch_model-00002-of-00002.bin"},
                                                 {"b.steps", "pytorch_model-00002-of-00002.bin"}});
  }
  void write_index(const std::string& name,
                   const std::vector<std::pair<std::string, std::string>>& map) {
    nlohmann::json j = {{"metadata", {{"total_size", 1234}}},
                        {"weight_map", nlohmann::json::object()}};
    for (const auto& [k, v] : map) j["weight_map"][k] = v;
    write(path(name), j.dump(2));
  }

  // The FormatError load_sharded throws for `p`.
  static std::string error_of(const std::string& p) {
    try {
      load_sharded(p);
    } catch (const FormatError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no FormatError for " << p;
    return "";
  }

  fs::path dir_;
};

// Tensors of 40, 40, 40, 200 and 8 bytes.
Dict five_tensors() {
  Dict d(true);
  d.set("layer.0.weight", arange(0, 10).to(DType::Float32));
  d.set("layer.0.bias", arange(10, 20).to(DType::Float32));
  d.set("layer.1.weight", arange(20, 25).to(DType::Float64));
  d.set("embed", arange(0, 50).to(DType::Float32).reshape({5, 10}));
  d.set("step", arange(7, 8));
  return d;
}

void expect_same(const Dict& got, const Dict& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [k, v] : want) {
    SCOPED_TRACE(k.as_string());
    ASSERT_TRUE(got.contains(k));
    const Tensor &a = got.at(k).as_tensor(), &b = v.as_tensor();
    EXPECT_EQ(a.dtype(), b.dtype());
    EXPECT_TRUE(equal(a, b));
  }
}

std::vector<std::string> keys_of(const Dict& d) {
  std::vector<std::string> out;
  for (const auto& [k, v] : d) out.push_back(k.as_string());
  return out;
}

}  // namespace

TEST(IoShardedSize, ParsesTransformersSizes) {
  EXPECT_EQ(parse_size("1024"), 1024u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("10KB"), 10000u);
  EXPECT_EQ(parse_size("500MB"), 500000000u);
  EXPECT_EQ(parse_size("2GB"), 2000000000u);
  EXPECT_EQ(parse_size("5gb"), 5000000000u);
  EXPECT_EQ(parse_size("10kb"), 10000u);
  EXPECT_EQ(parse_size("1KiB"), 1024u);
  EXPECT_EQ(parse_size("100MiB"), 104857600u);
  EXPECT_EQ(parse_size("2GiB"), 2147483648u);
  EXPECT_EQ(parse_size("3gib"), 3u << 30);
  EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
}

TEST(IoShardedSize, RefusesEverythingElse) {
  for (const char* bad : {"", "GB", "-1", "+5", " 5GB", "5 GB", "1.5GB", "5TB", "5B", "5G", "0x10",
                          "5GBs", "18446744073709551616", "20000000000GB"}) {
    SCOPED_TRACE(bad);
    try {
      parse_size(bad);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("invalid size '" + std::string(bad) + "'"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(IoShardedSize, ShardNames) {
  EXPECT_EQ(shard_name(1, 3), "model-00001-of-00003.safetensors");
  EXPECT_EQ(shard_name(12, 345), "model-00012-of-00345.safetensors");
}

TEST_F(IoSharded, SaveInOneShardWritesModelSafetensorsWithoutIndex) {
  Dict d = five_tensors();
  SavedShards s = save_sharded(d, path("out"), 328);  // exactly everything
  EXPECT_EQ(s.index, "");
  EXPECT_EQ(s.shards, std::vector<std::string>{path("out/model.safetensors")});
  EXPECT_EQ(s.total_size, 328u);
  EXPECT_EQ(listing("out"), std::vector<std::string>{"model.safetensors"});
  SafetensorsFile f = load_safetensors(path("out/model.safetensors"));
  EXPECT_EQ(f.metadata, (std::vector<std::pair<std::string, std::string>>{{"format", "pt"}}));
  expect_same(f.tensors, d);

  ShardedCheckpoint c = load_sharded(path("out"));
  EXPECT_EQ(c.index, "");
  ASSERT_EQ(c.shards.size(), 1u);
  EXPECT_EQ(c.shards[0].name, "model.safetensors");
  EXPECT_EQ(c.shards[0].format, Format::Safetensors);
  EXPECT_FALSE(c.total_size);
  expect_same(c.tensors, d);
}

TEST_F(IoSharded, SaveInSeveralShardsKeepsOrderAndGivesBigTensorsTheirOwn) {
  Dict d = five_tensors();
  SavedShards s = save_sharded(d, path("out"), 100);
  // 40 + 40 | 40 | 200 (over the limit, alone) | 8
  ASSERT_EQ(s.shards.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(s.shards[i], path("out/" + shard_name(i + 1, 4)));
  EXPECT_EQ(s.index, path("out/model.safetensors.index.json"));
  EXPECT_EQ(s.total_size, 328u);
  EXPECT_EQ(keys_of(load_safetensors(s.shards[0]).tensors),
            (std::vector<std::string>{"layer.0.bias", "layer.0.weight"}));
  EXPECT_EQ(keys_of(load_safetensors(s.shards[1]).tensors),
            std::vector<std::string>{"layer.1.weight"});
  EXPECT_EQ(keys_of(load_safetensors(s.shards[2]).tensors), std::vector<std::string>{"embed"});
  EXPECT_EQ(keys_of(load_safetensors(s.shards[3]).tensors), std::vector<std::string>{"step"});
  for (const std::string& shard : s.shards)
    EXPECT_EQ(load_safetensors(shard).metadata,
              (std::vector<std::pair<std::string, std::string>>{{"format", "pt"}}));

  // Python's json.dumps(index, indent=2, sort_keys=True) + "\n".
  EXPECT_EQ(read(s.index),
            "{\n"
            "  \"metadata\": {\n"
            "    \"total_size\": 328\n"
            "  },\n"
            "  \"weight_map\": {\n"
            "    \"embed\": \"model-00003-of-00004.safetensors\",\n"
            "    \"layer.0.bias\": \"model-00001-of-00004.safetensors\",\n"
            "    \"layer.0.weight\": \"model-00001-of-00004.safetensors\",\n"
            "    \"layer.1.weight\": \"model-00002-of-00004.safetensors\",\n"
            "    \"step\": \"model-00004-of-00004.safetensors\"\n"
            "  }\n"
            "}\n");

  for (const std::string& from : {path("out"), path("out/"), s.index}) {
    SCOPED_TRACE(from);
    ShardedCheckpoint c = load_sharded(from);
    EXPECT_EQ(c.index, s.index);
    EXPECT_EQ(c.total_size, std::optional<uint64_t>(328));
    ASSERT_EQ(c.shards.size(), 4u);
    EXPECT_EQ(c.shards[2].name, shard_name(3, 4));
    EXPECT_EQ(c.shards[0].tensors, 2u);
    expect_same(c.tensors, d);
    // Shard order, then each shard's own (name) order.
    EXPECT_EQ(keys_of(c.tensors), (std::vector<std::string>{"layer.0.bias", "layer.0.weight",
                                                            "layer.1.weight", "embed", "step"}));
    ShardedVerifyResult v = verify_sharded(from);
    EXPECT_TRUE(v.ok()) << *v.problem;
    EXPECT_EQ(v.tensors, 5u);
    EXPECT_EQ(v.nbytes, 328u);
    EXPECT_EQ(v.files.names.size(), 4u);
  }
}

TEST_F(IoSharded, IndexEscapesNonAsciiAsPythonDoes) {
  Dict d(true);
  d.set("caf\xc3\xa9", arange(0, 2).to(DType::Float32));
  d.set("\xf0\x9f\x98\x80", arange(0, 2).to(DType::Float32));
  d.set("a\"b\\c", arange(0, 2).to(DType::Float32));
  SavedShards s = save_sharded(d, path("out"), 8);
  EXPECT_EQ(read(s.index),
            "{\n"
            "  \"metadata\": {\n"
            "    \"total_size\": 24\n"
            "  },\n"
            "  \"weight_map\": {\n"
            "    \"a\\\"b\\\\c\": \"model-00003-of-00003.safetensors\",\n"
            "    \"caf\\u00e9\": \"model-00001-of-00003.safetensors\",\n"
            "    \"\\ud83d\\ude00\": \"model-00002-of-00003.safetensors\"\n"
            "  }\n"
            "}\n");
  expect_same(load_sharded(path("out")).tensors, d);
}

TEST_F(IoSharded, SaveCastsAndFillsShardsByTheCastSizes) {
  Dict d = five_tensors();
  SaveOptions o;
  o.floating_dtype = DType::Float16;
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  o.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  // float16: 20 + 20 + 10 + 100 + 8 (int64 stays) = 158 bytes.
  SavedShards s = save_sharded(d, path("out"), 50);
  EXPECT_EQ(s.shards.size(), 5u);
  s = save_sharded(d, path("out"), 50, o);
  EXPECT_EQ(s.total_size, 158u);
  ASSERT_EQ(s.shards.size(), 3u);  // 20 + 20 + 10 | 100 | 8
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), (std::pair<uint64_t, uint64_t>{158, 158}));
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_LE(calls[i - 1].first, calls[i].first);
  ShardedCheckpoint c = load_sharded(path("out"));
  EXPECT_EQ(c.tensors.at("embed").as_tensor().dtype(), DType::Float16);
  EXPECT_EQ(c.tensors.at("step").as_tensor().dtype(), DType::Int64);
  // The earlier save's four shards are gone.
  EXPECT_EQ(listing("out"),
            (std::vector<std::string>{
                "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors", "model.safetensors.index.json"}));
}

TEST_F(IoSharded, ResavingRemovesWhatEarlierSavesLeft) {
  Dict d = five_tensors();
  save_sharded(d, path("out"), 100);
  write(path("out/notes.txt"), "mine");
  write(path("out/pytorch_model.bin"), "not ours");
  // One shard now: the index must go, or it would hide model.safetensors.
  save_sharded(d, path("out"), 1000);
  EXPECT_EQ(listing("out"),
            (std::vector<std::string>{"model.safetensors", "notes.txt", "pytorch_model.bin"}));
  // Sharded again: the single file goes.
  save_sharded(d, path("out"), 250);
  EXPECT_EQ(listing("out"),
            (std::vector<std::string>{
                "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json", "notes.txt", "pytorch_model.bin"}));
  EXPECT_EQ(read(path("out/notes.txt")), "mine");
}

TEST_F(IoSharded, SaveRefusesBeforeTouchingTheDirectory) {
  Dict d = five_tensors();
  save_sharded(d, path("out"), 100);
  std::string index = read(path("out/model.safetensors.index.json"));
  Dict bad = five_tensors();
  bad.set("z", arange(0, 2).to(DType::Complex128));
  EXPECT_THROW(save_sharded(bad, path("out"), 100), Error);
  Dict not_tensor = five_tensors();
  not_tensor.set("epoch", 3);
  EXPECT_THROW(save_sharded(not_tensor, path("out"), 100), Error);
  EXPECT_THROW(save_sharded(d, path("out"), 0), Error);
  EXPECT_EQ(read(path("out/model.safetensors.index.json")), index);
  expect_same(load_sharded(path("out")).tensors, d);
}

TEST_F(IoSharded, LoadsBinShardsInStateDictOrder) {
  write_bin_checkpoint();
  for (const std::string& from : {dir_.string(), path("pytorch_model.bin.index.json")}) {
    SCOPED_TRACE(from);
    ShardedCheckpoint c = load_sharded(from);
    EXPECT_EQ(c.index, path("pytorch_model.bin.index.json"));
    EXPECT_EQ(c.total_size, std::optional<uint64_t>(1234));
    ASSERT_EQ(c.shards.size(), 2u);
    EXPECT_EQ(c.shards[0].format, Format::PtZip);
    EXPECT_EQ(c.shards[1].path, path("pytorch_model-00002-of-00002.bin"));
    EXPECT_EQ(keys_of(c.tensors),
              (std::vector<std::string>{"a.weight", "a.bias", "b.weight", "b.steps"}));
    EXPECT_TRUE(c.tensors.at("b.weight").as_tensor().storage()->mapped_file() != nullptr);
    EXPECT_TRUE(verify_sharded(from).ok());
    EXPECT_TRUE(verify_sharded(from).crc_checked);
  }
}

TEST_F(IoSharded, DirectoryPrefersSafetensorsIndexThenFileThenBinIndexThenBin) {
  Dict d(true);
  d.set("x", arange(0, 2).to(DType::Float32));
  auto found = [&] { return resolve_checkpoint(dir_.string()); };
  try {
    found();
    ADD_FAILURE() << "an empty directory resolved";
  } catch (const Error& e) {
    std::string m = e.what();
    for (const char* name : {"model.safetensors.index.json", "model.safetensors",
                             "pytorch_model.bin.index.json", "pytorch_model.bin"})
      EXPECT_NE(m.find(name), std::string::npos) << m;
  }
  save(Value(d), path("pytorch_model.bin"));
  EXPECT_EQ(found().shards, std::vector<std::string>{path("pytorch_model.bin")});
  EXPECT_EQ(found().index, "");
  write_index("pytorch_model.bin.index.json", {{"x", "pytorch_model.bin"}});
  EXPECT_EQ(found().index, path("pytorch_model.bin.index.json"));
  save_safetensors(d, path("model.safetensors"));
  EXPECT_EQ(found().shards, std::vector<std::string>{path("model.safetensors")});
  EXPECT_EQ(found().index, "");
  write_index("model.safetensors.index.json", {{"x", "model.safetensors"}});
  EXPECT_EQ(found().index, path("model.safetensors.index.json"));
  EXPECT_EQ(found().names, std::vector<std::string>{"model.safetensors"});
  expect_same(load_sharded(dir_.string()).tensors, d);
}

TEST_F(IoSharded, KeyMissingFromItsShard) {
  write_bin_checkpoint();
  write_index("x.index.json", {{"a.weight", "pytorch_model-00001-of-00002.bin"},
                               {"a.bias", "pytorch_model-00001-of-00002.bin"},
                               {"a.gone", "pytorch_model-00001-of-00002.bin"},
                               {"b.weight", "pytorch_model-00002-of-00002.bin"},
                               {"b.steps", "pytorch_model-00002-of-00002.bin"}});
  EXPECT_EQ(error_of(path("x.index.json")),
            path("x.index.json") +
                ": key 'a.gone' is missing from shard 'pytorch_model-00001-of-00002.bin', "
                "where the index puts it");
}

TEST_F(IoSharded, KeyInTwoShards) {
  write_bin_checkpoint();
  Dict s2(true);
  s2.set("b.weight", arange(0, 4).to(DType::Float64).reshape({2, 2}));
  s2.set("b.steps", arange(0, 3));
  s2.set("a.bias", arange(0, 2).to(DType::Float32));
  save(Value(s2), path("pytorch_model-00002-of-00002.bin"));
  EXPECT_EQ(error_of(path("pytorch_model.bin.index.json")),
            path("pytorch_model.bin.index.json") +
                ": key 'a.bias' is in shard 'pytorch_model-00002-of-00002.bin', but the index "
                "puts it in 'pytorch_model-00001-of-00002.bin'");
}

TEST_F(IoSharded, KeyNotInTheIndex) {
  write_bin_checkpoint();
  write_index("x.index.json", {{"a.weight", "pytorch_model-00001-of-00002.bin"},
                               {"b.weight", "pytorch_model-00002-of-00002.bin"},
                               {"b.steps", "pytorch_model-00002-of-00002.bin"}});
  EXPECT_EQ(error_of(path("x.index.json")),
            path("x.index.json") +
                ": key 'a.bias' of shard 'pytorch_model-00001-of-00002.bin' is not in the "
                "weight_map");
}

TEST_F(IoSharded, MissingShard) {
  write_bin_checkpoint();
  fs::remove(path("pytorch_model-00002-of-00002.bin"));
  std::string m = error_of(dir_.string());
  EXPECT_EQ(m, path("pytorch_model.bin.index.json") +
                   ": shard 'pytorch_model-00002-of-00002.bin' (of key 'b.steps') does not "
                   "exist: " +
                   path("pytorch_model-00002-of-00002.bin"));
  ShardedVerifyResult v = verify_sharded(dir_.string());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(*v.problem, m);
}

TEST_F(IoSharded, ShardNamesThatLeaveTheDirectory) {
  write_bin_checkpoint();
  for (const auto& [name, why] : std::vector<std::pair<std::string, std::string>>{
           {"../../etc/passwd", "has a '..' component"},
           {"sub/../../x.bin", "has a '..' component"},
           {"/etc/passwd", "is an absolute path"},
           {"", "the shard name of key 'a.weight' is empty"}}) {
    SCOPED_TRACE(name);
    write_index("x.index.json", {{"a.weight", name}});
    std::string m = error_of(path("x.index.json"));
    EXPECT_EQ(m.rfind(path("x.index.json") + ": ", 0), 0u) << m;
    EXPECT_NE(m.find(why), std::string::npos) << m;
    if (!name.empty()) {
      EXPECT_NE(m.find("'" + name + "' of key 'a.weight'"), std::string::npos) << m;
    }
    ShardedVerifyResult v = verify_sharded(path("x.index.json"));
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(*v.problem, m);
  }
}

TEST_F(IoSharded, MalformedIndexes) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"{\"weight_map\": {\"a\": \"s.bin\",}}", "invalid JSON: "},
           {"{\"weight_map\":\n {\"a\" \"s.bin\"}}",
            "invalid JSON: parse error at line 2, column 13"},
           {"", "invalid JSON: "},
           {"[1, 2]", "the index is not a JSON object"},
           {"{\"metadata\": {}}", "no \"weight_map\""},
           {"{\"weight_map\": [\"a\"]}", "\"weight_map\" is not an object"},
           {"{\"weight_map\": {\"a\": 3}}",
            "the shard of key 'a' in \"weight_map\" is a number, not a string"},
           {"{\"metadata\": 5, \"weight_map\": {}}", "\"metadata\" is not an object"},
           {"{\"weight_map\": {\"a\": \"s\\u0000.bin\"}}", "contains a NUL byte"},
       }) {
    SCOPED_TRACE(c.text);
    write(path("m.index.json"), c.text);
    std::string m = error_of(path("m.index.json"));
    EXPECT_EQ(m.rfind(path("m.index.json") + ": ", 0), 0u) << m;
    EXPECT_NE(m.find(c.expect), std::string::npos) << m;
    EXPECT_FALSE(verify_sharded(path("m.index.json")).ok());
  }
  // total_size is reported, never checked, and may be absent or odd.
  write(path("m.index.json"), "{\"metadata\": {\"total_size\": 1.5}, \"weight_map\": {}}");
  ShardedCheckpoint c = load_sharded(path("m.index.json"));
  EXPECT_FALSE(c.total_size);
  EXPECT_TRUE(c.shards.empty());
  EXPECT_TRUE(c.tensors.empty());
}

TEST_F(IoSharded, ShardProblemsNameTheIndexAndTheShard) {
  write_bin_checkpoint();
  // Not a dict of tensors.
  Dict s1(true);
  s1.set("a.weight", arange(0, 6).to(DType::Float32).reshape({2, 3}));
  s1.set("a.bias", 3);
  save(Value(s1), path("pytorch_model-00001-of-00002.bin"));
  EXPECT_EQ(error_of(dir_.string()),
            path("pytorch_model.bin.index.json") +
                ": shard 'pytorch_model-00001-of-00002.bin': key 'a.bias' is of type int; a "
                "shard holds tensors only");
  // A damaged shard: verify names it with the record at fault.
  write_bin_checkpoint();
  std::string bytes = read(path("pytorch_model-00002-of-00002.bin"));
  size_t at = bytes.find(std::string("\0\0\0\0\0\0\xf0\x3f", 8));  // b.weight's 1.0
  ASSERT_NE(at, std::string::npos);
  bytes[at + 7] = char(bytes[at + 7] ^ 0x40);
  write(path("pytorch_model-00002-of-00002.bin"), bytes);
  ShardedVerifyResult v = verify_sharded(dir_.string());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.problem->rfind(path("pytorch_model.bin.index.json") +
                                 ": shard 'pytorch_model-00002-of-00002.bin': record '",
                             0),
            0u)
      << *v.problem;
  // A file that is not a checkpoint.
  write(path("pytorch_model-00002-of-00002.bin"), "hello");
  std::string m = error_of(dir_.string());
  EXPECT_NE(m.find("shard 'pytorch_model-00002-of-00002.bin': not a PyTorch or safetensors "
                   "checkpoint"),
            std::string::npos)
      << m;
}
