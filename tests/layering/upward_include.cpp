// A core source that includes a header of the nn layer, above it. The build
// must refuse it: core's include tree has no wick/nn.
#include "wick/nn/module.h"

int wick_layering_probe_include() {
  return 0;
}
