// libFuzzer target 'safetensors': see targets.h; run with scripts/fuzz.sh safetensors SECONDS.
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::fuzz_safetensors(data, size);
  return 0;
}
