// libFuzzer target 'pt_zip': see targets.h; run with scripts/fuzz.sh pt_zip SECONDS.
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::fuzz_pt_zip(data, size);
  return 0;
}
