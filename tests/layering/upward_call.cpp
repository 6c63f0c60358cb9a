// A core source that calls Tensor::sum, which the ops layer defines. Core's
// layer link (-Wl,--no-undefined over core alone) must refuse it.
#include "wick/core/tensor.h"

wick::Tensor wick_layering_probe_call(const wick::Tensor& t) {
  return t.sum();
}
