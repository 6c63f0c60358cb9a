// libFuzzer target 'unpickle': see targets.h; run with scripts/fuzz.sh unpickle SECONDS.
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::fuzz_unpickle(data, size);
  return 0;
}
