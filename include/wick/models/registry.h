// The models by torchvision builder name, for programs that choose the
// architecture at run time (`classify --arch resnet50`, `vision_infer`):
//
//   std::unique_ptr<nn::Module> net = wick::models::create("mobilenet_v3_small");
//   net->load_state_dict(wick::load("mobilenet_v3_small.pth"));
//
// Each name builds what torchvision's builder of that name builds with
// weights=None and the arguments below; the typed builders (resnet50(),
// vgg16_bn(), ...) take every argument the builder has.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wick/nn/module.h"

namespace wick::models {

/// The arguments every classification builder shares.
struct CreateOptions {
  int64_t num_classes = 1000;
  /// The builder's `dropout` argument, where it has one (unset: the
  /// builder's default): the classifier's dropout (VGG, AlexNet, SqueezeNet,
  /// MobileNet, EfficientNet), every dropout of the encoder (ViT) or, for
  /// DenseNet, drop_rate after every dense layer. Models without one (ResNet,
  /// ConvNeXt, ShuffleNet, RegNet) ignore it.
  std::optional<double> dropout = std::nullopt;
};

/// The model torchvision's builder `name` makes. Throws wick::Error for an
/// unknown name, listing the known ones (and the closest, when one is close).
std::unique_ptr<nn::Module> create(std::string_view name, const CreateOptions& options = {});

/// The names create() knows, sorted.
const std::vector<std::string>& architectures();

}  // namespace wick::models
