// The tables of wick/models/imagenet.h, generated into imagenet_data.inc.
#include "wick/models/imagenet.h"

namespace wick::models {

namespace {

struct Preset {
  const char* name;
  const char* weights;
  bool is_default;
  int64_t resize_size, crop_size;
  const char* interpolation;
  std::array<double, 3> mean, stddev;
};

#include "imagenet_data.inc"

}  // namespace

const std::array<const char*, 1000>& imagenet_categories() {
  return kCategories;
}

std::optional<EvalPreprocessing> eval_preprocessing(std::string_view name,
                                                    std::string_view weights) {
  for (const Preset& p : kPresets) {
    if (name != p.name || (weights == "DEFAULT" ? !p.is_default : weights != p.weights)) continue;
    return EvalPreprocessing{p.weights,       p.resize_size, p.crop_size,
                             p.interpolation, p.mean,        p.stddev};
  }
  return std::nullopt;
}

}  // namespace wick::models
