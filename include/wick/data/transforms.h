// Batch transforms: per-batch, vectorised preprocessing applied by a DataLoader
// on its background thread (torchvision.transforms' ToTensor and Normalize,
// on whole batches).
//
//   namespace T = wick::data::transforms;
//   wick::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true,
//       .transform = T::compose({T::to_float(), T::normalize({0.2860}, {0.3530})})});
//
// The tensor functions (wick::data::to_float, wick::data::normalize) work on any
// [N, C, ...] tensor; the wick::data::transforms functions wrap them as
// Transforms that act on a Batch's input and leave its target alone.
#pragma once

#include <functional>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/data/dataset.h"

namespace wick::data {

/// A function from batch to batch, run on each batch a DataLoader yields.
using Transform = std::function<Batch(Batch)>;

/// uint8 pixels -> float32 in [0, 1] (x / 255), as torchvision's ToTensor.
/// Floating-point tensors are returned converted to float32 and unscaled; other
/// dtypes throw DTypeError. Always returns a new contiguous tensor.
Tensor to_float(const Tensor& images);

/// (x - mean[c]) / stddev[c] for each channel c of dimension 1 of a floating-point
/// [N, C, ...] tensor (torchvision's Normalize). mean and stddev have C entries,
/// or one entry used for every channel. Returns a new contiguous tensor of the
/// input's dtype. Throws ShapeError for a channel-count mismatch or fewer than
/// 2 dims, DTypeError for a non-floating input, wick::Error for a zero std.
Tensor normalize(const Tensor& images, const std::vector<double>& mean,
                 const std::vector<double>& stddev);

namespace transforms {

/// Applies `f` to the batch's input.
Transform map_input(std::function<Tensor(const Tensor&)> f);
/// Applies `f` to the batch's target.
Transform map_target(std::function<Tensor(const Tensor&)> f);
/// wick::data::to_float on the input.
Transform to_float();
/// wick::data::normalize(input, mean, stddev). Arguments are checked here.
Transform normalize(std::vector<double> mean, std::vector<double> stddev);
/// Applies the transforms in order (torchvision's Compose).
Transform compose(std::vector<Transform> transforms);

}  // namespace transforms
}  // namespace wick::data
