// A user's first wick program: a tensor, a gradient, a sum.
#include <wick/wick.h>

#include <cstdio>

int main() {
  wick::Tensor t = wick::arange(1, 5, 1, wick::DType::Float32).view({2, 2});  // 1 2; 3 4
  wick::Tensor w = wick::ones({2, 2}, {.requires_grad = true});
  wick::Tensor total = (t * w).sum();
  total.backward();  // d total / d w == t
  std::printf("wick %s sum=%g grad_sum=%g\n", WICK_VERSION_STRING, total.item<double>(),
              w.grad().sum().item<double>());
  return 0;
}
