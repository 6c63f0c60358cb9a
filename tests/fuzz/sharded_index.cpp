// libFuzzer target 'sharded_index': see targets.h; run with
// scripts/fuzz.sh sharded_index SECONDS.
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::fuzz_sharded_index(data, size);
  return 0;
}
