// Batch transforms: per-batch, vectorised preprocessing applied by a DataLoader
// on its background thread (torchvision.transforms' ToTensor and Normalize,
// on whole batches), and the image transforms of torchvision's classification
// preprocessing (Resize, CenterCrop) on [..., H, W] tensors:
//
//   Tensor img = wick::data::read_image("cat.jpg");            // uint8 [3, H, W]
//   img = wick::data::center_crop(wick::data::resize(img, 256), 224, 224);
//   Tensor x = wick::data::normalize(wick::data::to_float(img.unsqueeze(0)),
//                                    {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225});
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

/// How resize computes a pixel from its neighbours.
enum class Interpolation {
  Bilinear,  ///< triangle filter (torchvision's InterpolationMode.BILINEAR)
  Bicubic,   ///< Keys' cubic filter with a = -0.5 (InterpolationMode.BICUBIC)
};

/// Resizes the last two dims of an [..., H, W] image or batch to [height,
/// width] with antialiasing: when shrinking, the filter widens to cover every
/// input pixel (as PIL does), when enlarging it is plain interpolation with
/// align_corners=False. Equals torchvision 0.14's F.resize(img, [height,
/// width], interpolation, antialias=True) on tensors: uint8 images are resized
/// in float32 and rounded back (half to even) to uint8, clamped to [0, 255];
/// float32 and float64 images stay in their dtype. The image itself is
/// returned when the size does not change (as torchvision does); otherwise a
/// new contiguous tensor. docs/images.md has the formulas. Throws ShapeError
/// for fewer than 2 dims or a size < 1, DTypeError for other dtypes.
Tensor resize(const Tensor& image, int64_t height, int64_t width,
              Interpolation interpolation = Interpolation::Bilinear);

/// Resizes so that the shorter side becomes `size`, keeping the aspect ratio:
/// the longer side becomes floor(size * long / short) (torchvision's
/// F.resize(img, size) with an int).
Tensor resize(const Tensor& image, int64_t size,
              Interpolation interpolation = Interpolation::Bilinear);

/// The [height, width] window at the centre of an [..., H, W] image; its top
/// is round((H - height) / 2) with halves to even, as torchvision's
/// F.center_crop. A view when the image is large enough; when a side is
/// smaller than the crop, a new tensor in which the image is padded with
/// zeros, (crop - side) / 2 (rounded down) before it, the rest after.
/// Throws ShapeError for fewer than 2 dims or a size < 1.
Tensor center_crop(const Tensor& image, int64_t height, int64_t width);

namespace transforms {

/// Applies `f` to the batch's input.
Transform map_input(std::function<Tensor(const Tensor&)> f);
/// Applies `f` to the batch's target.
Transform map_target(std::function<Tensor(const Tensor&)> f);
/// wick::data::to_float on the input.
Transform to_float();
/// wick::data::normalize(input, mean, stddev). Arguments are checked here.
Transform normalize(std::vector<double> mean, std::vector<double> stddev);
/// wick::data::resize(input, height, width, interpolation) on a batch [N, C, H, W].
Transform resize(int64_t height, int64_t width,
                 Interpolation interpolation = Interpolation::Bilinear);
/// wick::data::center_crop(input, height, width) on a batch.
Transform center_crop(int64_t height, int64_t width);
/// Applies the transforms in order (torchvision's Compose).
Transform compose(std::vector<Transform> transforms);

}  // namespace transforms
}  // namespace wick::data
