// Joining and splitting tensors along a dimension: the counterparts of
// torch.cat, torch.stack, torch.chunk and torch.split.
//
// cat and stack copy into a new tensor; chunk and split return views of the
// input (narrow), as PyTorch does. All four are differentiable. Dims may be
// negative. Defined in src/ops/join.cpp.
//
//   Tensor y = wick::cat({a, b}, 1);                   // [n, ca + cb, h, w]
//   std::vector<Tensor> qkv = wick::chunk(x, 3, -1);   // three views of x
#pragma once

#include <cstdint>
#include <vector>

#include "wick/core/tensor.h"

namespace wick {

/// torch.cat: the inputs joined along `dim`. All must have one dtype and the
/// same sizes except in `dim`; 1-dim empty tensors are skipped, as in
/// PyTorch. The gradient of each input is its slice of the output's.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);

/// torch.stack: the inputs (all of one shape) joined along a new dimension
/// `dim` (in [-(ndim + 1), ndim]).
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);

/// torch.chunk: `chunks` views of ceil(size / chunks) along `dim` (the last
/// may be smaller; fewer views when the size runs out first).
std::vector<Tensor> chunk(const Tensor& input, int64_t chunks, int64_t dim = 0);

/// torch.split with an int: views of `split_size` along `dim`, the last one
/// smaller when the size is not a multiple.
std::vector<Tensor> split(const Tensor& input, int64_t split_size, int64_t dim = 0);

/// torch.split with a list: views of the given sizes along `dim`, which must
/// add up to the size of that dimension.
std::vector<Tensor> split(const Tensor& input, const std::vector<int64_t>& split_sizes,
                          int64_t dim = 0);

}  // namespace wick
