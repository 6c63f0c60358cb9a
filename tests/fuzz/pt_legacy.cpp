// libFuzzer target 'pt_legacy': see targets.h; run with scripts/fuzz.sh pt_legacy SECONDS.
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::fuzz_pt_legacy(data, size);
  return 0;
}
