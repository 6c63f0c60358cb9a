// Argument types shared by the functions of torch.nn.functional: Pair (the
// height and width of a 2-D window, stride or padding) and Reduction (how a
// loss reduces over its elements).
#pragma once

#include <cstdint>

namespace wick::nn::functional {

/// A pair of sizes for 2-D ops (height, width); `{3}` or `3` means {3, 3}.
struct Pair {
  int64_t h, w;
  Pair(int64_t v) : h(v), w(v) {}
  Pair(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

/// How a loss reduces its per-element values: not at all, to their mean, or
/// to their sum (PyTorch's reduction="none" | "mean" | "sum").
enum class Reduction { None, Mean, Sum };

}  // namespace wick::nn::functional
