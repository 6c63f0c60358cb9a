// What torchvision's ImageNet weights predict and expect: the 1000 category
// names by class index, and each architecture's evaluation preprocessing as
// its weights' metadata gives it (torchvision 0.14's `weights.transforms()`):
//
//   auto p = wick::models::eval_preprocessing("resnet50");   // IMAGENET1K_V2
//   // p->resize_size == 232, p->crop_size == 224, p->interpolation == "bilinear"
//   std::cout << wick::models::imagenet_categories()[281];   // "tabby"
//
// The data is generated from torchvision by scripts/gen_imagenet_meta.py and
// covers every classification builder torchvision has, registered in wick or
// not yet.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wick::models {

/// torchvision's ImageNet-1K category names, indexed by class.
const std::array<const char*, 1000>& imagenet_categories();

/// The evaluation transform of one set of torchvision weights: resize the
/// shorter side to resize_size, crop the centre crop_size x crop_size,
/// scale to [0, 1], normalise with mean and stddev (torchvision's std).
struct EvalPreprocessing {
  std::string weights;        ///< the weights' name: "IMAGENET1K_V1", ...
  int64_t resize_size = 256;  ///< the shorter side after resizing
  int64_t crop_size = 224;
  std::string interpolation = "bilinear";  ///< or "bicubic"
  std::array<double, 3> mean = {0.485, 0.456, 0.406};
  std::array<double, 3> stddev = {0.229, 0.224, 0.225};
};

/// The preprocessing of torchvision's weights `weights` for builder `name`;
/// "DEFAULT" picks the builder's default weights. nullopt when torchvision
/// 0.14 has no such ImageNet-1K weights.
std::optional<EvalPreprocessing> eval_preprocessing(std::string_view name,
                                                    std::string_view weights = "DEFAULT");

}  // namespace wick::models
