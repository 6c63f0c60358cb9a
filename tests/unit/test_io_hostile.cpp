// The hostile-checkpoint corpus of tests/fixtures/hostile (made by
// make_hostile.py, which also shows with --verify that Python's own pickle runs
// the commands in it): every file must be refused with a wick::Error naming
// the problem, by load (mapped and read), load_bytes and verify (indexes of
// sharded checkpoints by load_sharded and verify_sharded), and nothing in
// it may run - each case runs with the current directory set to an empty
// temporary one, which must still be empty afterwards (the command-executing
// pickles would create their marker file there).
#include <gtest/gtest.h>

#include <unistd.h>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "io/pickle.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"
#include "wick/io/sharded.h"

using namespace wick;
using namespace wick::io;
namespace iod = wick::io::detail;
namespace fs = std::filesystem;

namespace {

const std::string kCorpus = std::string(WICK_SOURCE_DIR) + "/tests/fixtures/hostile/";

struct Case {
  std::string file;
  std::string kind;    // zip, extract (zip read with extract_state_dict), legacy, pickle,
                       // safetensors or index (of a sharded checkpoint)
  std::string marker;  // the file the pickle would create under Python, or empty
  std::vector<std::string> expect;
};

std::vector<Case> read_cases() {
  std::vector<Case> out;
  std::ifstream in(kCorpus + "cases.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Case c;
    std::string expect;
    std::getline(fields, c.file, '\t');
    std::getline(fields, c.kind, '\t');
    std::getline(fields, c.marker, '\t');
    std::getline(fields, expect);
    if (c.marker == "-") c.marker.clear();
    std::istringstream parts(expect);
    for (std::string s; std::getline(parts, s, '|');) c.expect.push_back(s);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {reinterpret_cast<const std::byte*>(s.data()),
          reinterpret_cast<const std::byte*>(s.data()) + s.size()};
}

// Runs the test body with an empty temporary directory as the current one.
class InEmptyDir {
 public:
  InEmptyDir() {
    std::string tmpl = ::testing::TempDir() + "wick_hostile_XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    if (!made) throw std::runtime_error("mkdtemp failed");
    dir_ = made;
    old_ = fs::current_path();
    fs::current_path(dir_);
  }
  ~InEmptyDir() {
    fs::current_path(old_);
    fs::remove_all(dir_);
  }
  // Everything in the directory (nothing, unless something ran).
  std::vector<std::string> contents() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename());
    return out;
  }

 private:
  fs::path dir_, old_;
};

class IoHostile : public ::testing::TestWithParam<Case> {};

void expect_names(const Case& c, const std::string& message, const char* how) {
  // Names from the file are escaped: no control characters reach the message.
  for (char ch : message)
    EXPECT_GE(static_cast<unsigned char>(ch), 0x20) << c.file << " via " << how << ": " << message;
  for (const std::string& s : c.expect)
    EXPECT_NE(message.find(s), std::string::npos)
        << c.file << " via " << how << ": '" << s << "' missing from: " << message;
}

}  // namespace

TEST_P(IoHostile, RefusedAndNothingRuns) {
  const Case& c = GetParam();
  const std::string path = kCorpus + c.file;
  ASSERT_TRUE(fs::exists(path)) << path;
  InEmptyDir dir;
  auto refused = [&](const char* how, auto&& f) {
    try {
      f();
      ADD_FAILURE() << c.file << " via " << how << " loaded without an error";
    } catch (const Error& e) {
      expect_names(c, e.what(), how);
    }
  };
  if (c.kind == "pickle") {
    std::vector<std::byte> bytes = read_file(path);
    auto no_storage = [](const iod::StorageRef&) -> std::shared_ptr<Storage> {
      throw FormatError("no storages in a bare pickle");
    };
    refused("unpickle", [&] { iod::unpickle(bytes, no_storage); });
  } else if (c.kind == "index") {
    refused("load_sharded", [&] { load_sharded(path); });
    ShardedVerifyResult r = verify_sharded(path);
    ASSERT_TRUE(r.problem.has_value()) << c.file << ": verify_sharded found no problem";
    expect_names(c, *r.problem, "verify_sharded");
  } else if (c.kind == "safetensors") {
    refused("load_safetensors (mmap)", [&] { load_safetensors(path); });
    LoadOptions read;
    read.mmap = false;
    refused("load_safetensors (read)", [&] { load_safetensors(path, read); });
    refused("load_safetensors_bytes", [&] { load_safetensors_bytes(read_file(path)); });
    VerifyResult r = verify(path);
    ASSERT_TRUE(r.problem.has_value()) << c.file << ": verify found no problem";
    expect_names(c, r.problem->str(), "verify");
    EXPECT_EQ(r.format, Format::Safetensors) << c.file;
  } else {
    // "extract" cases are read as pickled whole models (extract_state_dict).
    LoadOptions mapped;
    mapped.extract_state_dict = c.kind == "extract";
    LoadOptions read = mapped;
    read.mmap = false;
    refused("load (mmap)", [&] { load(path, mapped); });
    refused("load (read)", [&] { load(path, read); });
    refused("load_bytes", [&] { load_bytes(read_file(path), mapped); });
    VerifyResult r = verify(path);
    ASSERT_TRUE(r.problem.has_value()) << c.file << ": verify found no problem";
    // verify() reads as load() does by default, which refuses extract cases earlier.
    if (c.kind != "extract") expect_names(c, r.problem->str(), "verify");
    EXPECT_EQ(r.format, c.kind == "legacy" ? Format::PtLegacy : Format::PtZip) << c.file;
  }
  if (!c.marker.empty()) {
    EXPECT_FALSE(fs::exists(c.marker)) << c.file << " ran its command";
  }
  EXPECT_TRUE(dir.contents().empty()) << c.file << " created " << dir.contents().front();
}

INSTANTIATE_TEST_SUITE_P(IoHostileFiles, IoHostile, ::testing::ValuesIn(read_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name;
                           for (char ch : info.param.file)
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

TEST(IoHostileCorpus, IsCompleteAndCoversTheClassicAttacks) {
  std::vector<Case> cases = read_cases();
  ASSERT_GE(cases.size(), 100u);
  std::set<std::string> listed;
  size_t markers = 0, legacy = 0, bare = 0;
  for (const Case& c : cases) {
    listed.insert(c.file);
    markers += !c.marker.empty();
    legacy += c.kind == "legacy";
    bare += c.kind == "pickle";
    EXPECT_FALSE(c.expect.empty()) << c.file;
    if (!c.marker.empty()) {
      EXPECT_EQ(c.marker.rfind("wick_hostile_marker_", 0), 0u) << c.file;
    }
  }
  EXPECT_GE(markers, 20u);
  EXPECT_GE(legacy, 5u);
  EXPECT_GE(bare, 1u);
  // Every file of the corpus is a case (nothing silently skipped).
  for (const auto& e : fs::directory_iterator(kCorpus)) {
    std::string name = e.path().filename();
    if (name == "cases.tsv" || name == "make_hostile.py") continue;
    EXPECT_TRUE(listed.count(name)) << name << " is not in cases.tsv";
  }
  // The classic attacks (shell commands, eval, subprocess) are all there.
  for (const char* name : {"os_system.pt",
                           "posix_system.pt",
                           "nt_system.pt",
                           "builtins_eval.pt",
                           "builtins_exec.pt",
                           "__builtin___eval.pt",
                           "builtins_import.pt",
                           "subprocess_popen.pt",
                           "inst_os_system.pt",
                           "obj_ordered_dict.pt",
                           "newobj_ordered_dict.pt",
                           "newobj_ex_ordered_dict.pt",
                           "build_setstate_hijack.pt",
                           "ext_ext1.pt",
                           "ext_ext2.pt",
                           "ext_ext4.pt",
                           "deep_marks.pt",
                           "deep_lists.pt",
                           "memo_get_unset.pt",
                           "memo_long_get_huge.pt",
                           "binunicode8_huge.pt",
                           "binbytes8_huge.pt",
                           "long4_huge.pt",
                           "pickled_module_linear.pt",
                           "storage_numel_2e40.pt",
                           "many_ints.pt",
                           "shared_tuple_size_calls.pt",
                           "many_records.pt",
                           "many_tensors.safetensors",
                           "many_metadata.safetensors",
                           "index_dotdot_etc_passwd.index.json",
                           "index_absolute_etc_passwd.index.json"})
    EXPECT_TRUE(listed.count(name)) << name;
}
