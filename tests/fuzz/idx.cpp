// libFuzzer target 'idx': see targets.h; run with scripts/fuzz.sh idx SECONDS.
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::fuzz_idx(data, size);
  return 0;
}
