// The models by torchvision builder name, for programs that choose the
// architecture at run time (`classify --arch resnet50`, `vision_infer`):
//
//   std::unique_ptr<nn::Module> net = wick::models::create("mobilenet_v3_small");
//   net->load_state_dict(wick::load("mobilenet_v3_small.pth"));
//
// Each name builds what torchvision's builder of that name builds with
// weights=None and the arguments below; the typed builders (resnet50(),
// vgg16_bn(), ...) take every argument the builder has.
//
// For a checkpoint of unknown provenance, the functions below compare a
// state_dict with what each architecture holds, without a table per model:
// an architecture's keys and shapes come from building it (with
// initialisation skipped, so that costs allocation only), and its classifier
// is whatever changes shape with num_classes.
//
//   nn::StateDict sd(wick::load("weights.pth"));
//   auto net = wick::models::from_state_dict("resnet50", sd);  // any class count
//   std::optional<std::string> arch = wick::models::match_architecture(sd);
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

/// The state_dict keys of architecture `name` whose shapes depend on
/// num_classes: its classifier's weight and bias (torchvision's `fc`,
/// `classifier.6`, `heads.head`, ...; auxiliary classifiers too). Found by
/// building the model with two class counts; cached. Throws as create().
const std::vector<std::string>& classifier_keys(std::string_view name);

/// The class count of a state_dict for architecture `name`: the size of its
/// classifier weight in the class dimension. Throws wick::Error naming the
/// key when it is missing, or when the classifier's tensors disagree.
int64_t num_classes(std::string_view name, const nn::StateDict& sd);

/// How a state_dict differs from what an architecture holds.
struct StateDictMismatch {
  /// Keys of the architecture that the state_dict lacks, in the model's order.
  std::vector<std::string> missing_keys;
  /// Keys of the state_dict that the architecture lacks, in the file's order.
  std::vector<std::string> unexpected_keys;
  /// "key: [64, 3, 7, 7] in the state_dict, [64, 3, 3, 3] in the model", in
  /// the model's order.
  std::vector<std::string> shape_mismatches;

  bool empty() const {
    return missing_keys.empty() && unexpected_keys.empty() && shape_mismatches.empty();
  }
  /// One line: the count of each kind and its first `show` entries, e.g.
  /// "96 unexpected keys ('layer1.2.conv1.weight', ...)".
  std::string summary(size_t show = 3) const;
};

/// Compares `sd`'s keys and shapes with those of architecture `name`, the
/// classifier's class count aside (any count matches). Dtypes are not
/// compared: loading converts them. Throws as create() for an unknown name.
StateDictMismatch compare_state_dict(std::string_view name, const nn::StateDict& sd);

/// The first architecture of architectures() whose keys and shapes equal
/// `sd`'s, the class count aside; nullopt when none does. Builds (without
/// initialising) each architecture once per process.
std::optional<std::string> match_architecture(const nn::StateDict& sd);

/// The model create(name) makes with `sd`'s class count, and `sd` loaded
/// into it strictly (dtypes converted). Throws wick::Error when `sd` does not
/// fit: the message has compare_state_dict's summary and, when another
/// architecture fits, names it ("... these weights fit 'resnet34'").
/// Initialisation is skipped when the load replaces every parameter and buffer.
std::unique_ptr<nn::Module> from_state_dict(std::string_view name, const nn::StateDict& sd);

}  // namespace wick::models
