// Replays the fuzz corpus through the fuzz targets' entry code (tests/fuzz/
// targets.h): every seed in tests/fuzz/seeds/<target>/ must parse, and every
// input a fuzzer once crashed or hung on, kept in tests/fuzz/regressions/
// <target>/, must now parse or fail with a wick::Error (never another
// exception, a crash or a sanitizer report).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.h"

namespace fs = std::filesystem;

namespace {

using Entry = bool (*)(const uint8_t*, size_t);

struct Target {
  const char* name;
  Entry entry;
};

const Target kEntries[] = {{"unpickle", wick::fuzz::fuzz_unpickle},
                           {"pt_zip", wick::fuzz::fuzz_pt_zip},
                           {"pt_legacy", wick::fuzz::fuzz_pt_legacy},
                           {"safetensors", wick::fuzz::fuzz_safetensors},
                           {"idx", wick::fuzz::fuzz_idx},
                           {"sharded_index", wick::fuzz::fuzz_sharded_index}};

const fs::path kFuzzDir = fs::path(WICK_SOURCE_DIR) / "tests" / "fuzz";

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint8_t> read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

class FuzzCorpus : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzCorpus, SeedsParse) {
  auto seeds = files_in(kFuzzDir / "seeds" / GetParam().name);
  ASSERT_FALSE(seeds.empty()) << "no seeds for " << GetParam().name;
  for (const fs::path& p : seeds) {
    std::vector<uint8_t> bytes = read(p);
    ASSERT_FALSE(bytes.empty()) << p;
    EXPECT_TRUE(GetParam().entry(bytes.data(), bytes.size())) << p << " does not parse";
  }
}

TEST_P(FuzzCorpus, RegressionsFailCleanly) {
  for (const fs::path& p : files_in(kFuzzDir / "regressions" / GetParam().name)) {
    std::vector<uint8_t> bytes = read(p);
    EXPECT_NO_THROW(GetParam().entry(bytes.data(), bytes.size())) << p;
  }
}

INSTANTIATE_TEST_SUITE_P(Fuzz, FuzzCorpus, ::testing::ValuesIn(kEntries),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
