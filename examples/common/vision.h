// Shared by the vision examples (classify, vision_infer, finetune): reading
// weights from any checkpoint file wick knows, and torchvision's ImageNet
// evaluation preprocessing.
#pragma once

#include <string>
#include <vector>

#include "wick/data/transforms.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"
#include "wick/models/imagenet.h"
#include "wick/nn/state_dict.h"

namespace examples {

/// The state_dict in `path`: a torch.save file (zip or legacy) of a state_dict,
/// or of a general checkpoint holding one under "model_state_dict" or
/// "state_dict" (what finetune and PyTorch's recipes write), or a safetensors
/// file. Keys all starting with "module." (DataParallel) lose it. Any
/// floating dtype: loading into a model converts it.
inline wick::nn::StateDict load_weights(const std::string& path) {
  if (wick::io::detect_format(path) == wick::io::Format::Safetensors)
    return wick::nn::StateDict(wick::Value(wick::io::load_safetensors(path).tensors));
  wick::Value v = wick::load(path);
  if (v.is_dict()) {
    for (const char* key : {"model_state_dict", "state_dict"}) {
      const wick::Value* inner = v.as_dict().find(wick::Value(key));
      if (inner && inner->is_dict()) {
        v = *inner;
        break;
      }
    }
  }
  if (!v.is_dict())
    throw wick::Error(path + ": expected a state_dict (a dict of tensors) but the file holds a " +
                      std::string(wick::kind_name(v.kind())));
  wick::nn::StateDict sd(v);
  bool all_prefixed = !sd.empty();
  for (const auto& [key, t] : sd) all_prefixed = all_prefixed && key.starts_with("module.");
  return all_prefixed ? wick::nn::strip_prefix(sd, "module.") : sd;
}

/// Interpolation by torchvision's name ("bilinear", "bicubic").
inline wick::data::Interpolation interpolation(const std::string& name) {
  if (name == "bicubic") return wick::data::Interpolation::Bicubic;
  if (name == "bilinear") return wick::data::Interpolation::Bilinear;
  throw wick::Error("unknown interpolation '" + name + "' (bilinear or bicubic)");
}

/// torchvision's ImageClassification transform on a uint8 [3, H, W] image:
/// resize the shorter side (antialiased), crop the centre, scale to [0, 1],
/// normalise. Returns float32 [1, 3, crop, crop].
inline wick::Tensor preprocess(const wick::Tensor& image,
                               const wick::models::EvalPreprocessing& p) {
  wick::Tensor x = wick::data::resize(image, p.resize_size, interpolation(p.interpolation));
  x = wick::data::center_crop(x, p.crop_size, p.crop_size);
  x = wick::data::to_float(x.unsqueeze(0));
  return wick::data::normalize(x, {p.mean.begin(), p.mean.end()},
                               {p.stddev.begin(), p.stddev.end()});
}

}  // namespace examples
