// DenseNet: torchvision's classification model (torchvision.models.densenet),
// with the same arguments, module names and registration order, so that
// state_dict() keys, their order and shapes equal torchvision's:
//
//   wick::models::DenseNet net = wick::models::densenet121();
//   net.load_state_dict(wick::load("densenet121-a639ec97.pth"));   // torchvision's file
//   net.eval();
//   Tensor logits = net(images);                                     // [N, 3, H, W] -> [N, 1000]
//
// torchvision's published DenseNet weights predate its current module names:
// they spell a dense layer's children `norm.1`, `relu.1`, `conv.1`, `norm.2`,
// ... (`features.denseblock1.denselayer1.norm.1.weight`) where the modules are
// now `norm1`, `conv1`, ... torchvision renames them in its weight loader;
// wick's DenseLayer renames them whenever a state_dict is loaded into it
// (Module::upgrade_state_dict), so load_state_dict accepts both spellings,
// strictly, under any prefix. state_dict() always writes the current names.
//
// Weights start as torchvision draws them: convolutions kaiming_normal_
// (fan_in, leaky_relu with a = 0), BatchNorm 1 and 0, the classifier's weight
// as nn::Linear does and its bias 0. Inputs down to 29x29 work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wick/core/tensor.h"
#include "wick/nn/activation.h"
#include "wick/nn/container.h"
#include "wick/nn/conv.h"
#include "wick/nn/linear.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"
#include "wick/nn/pooling.h"

namespace wick::models {

/// torchvision's _DenseLayer: BatchNorm, ReLU, 1x1 convolution to
/// bn_size * growth_rate channels, BatchNorm, ReLU, 3x3 convolution to
/// growth_rate channels, then dropout when drop_rate > 0. Child names: norm1,
/// relu1, conv1, norm2, relu2, conv2. Its repr calls it `_DenseLayer`.
class DenseLayer : public nn::Module {
 public:
  /// Throws wick::Error for non-positive sizes or drop_rate outside [0, 1].
  DenseLayer(int64_t num_input_features, int64_t growth_rate, int64_t bn_size, double drop_rate,
             bool memory_efficient = false);
  /// The growth_rate new feature maps from the concatenation (along the
  /// channels) of all the block's earlier feature maps.
  Tensor forward(const std::vector<Tensor>& inputs);
  /// The same for a single feature map.
  Tensor forward(const Tensor& input) override;
  using nn::Module::operator();
  Tensor operator()(const std::vector<Tensor>& inputs) { return forward(inputs); }
  std::string name() const override { return "_DenseLayer"; }

  nn::BatchNorm2d& norm1;
  nn::ReLU& relu1;
  nn::Conv2d& conv1;
  nn::BatchNorm2d& norm2;
  nn::ReLU& relu2;
  nn::Conv2d& conv2;
  double drop_rate;
  /// Accepted for torchvision's signature; no effect (torchvision recomputes
  /// the bottleneck in backward to save memory; the numbers are the same).
  bool memory_efficient;

 protected:
  /// Renames the legacy keys under this layer (`norm.1.weight` ->
  /// `norm1.weight`, also `relu`, `conv` and `.2`) when the current name is
  /// not in `sd` already. torchvision renames weight, bias, running_mean and
  /// running_var; wick renames every tensor under those children
  /// (num_batches_tracked too). As in torchvision, the versions recorded for
  /// the legacy names are not moved, so BatchNorm treats norm1 and norm2 as
  /// of unknown version and adds a missing num_batches_tracked (the
  /// published files have none).
  void upgrade_state_dict(nn::StateDict& sd, const std::string& prefix,
                          std::optional<int64_t> version) const override;
};

/// torchvision's _DenseBlock (a ModuleDict, version 2): `num_layers` dense
/// layers named denselayer1, denselayer2, ...; each sees the block's input and
/// every earlier layer's output, and the block returns all of them
/// concatenated: num_input_features + num_layers * growth_rate channels.
class DenseBlock : public nn::ModuleDict {
 public:
  DenseBlock(int64_t num_layers, int64_t num_input_features, int64_t bn_size, int64_t growth_rate,
             double drop_rate, bool memory_efficient = false);
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "_DenseBlock"; }
};

/// torchvision's _Transition (a Sequential): norm, relu, conv (1x1), pool
/// (2x2 average), halving the resolution.
class Transition : public nn::Sequential {
 public:
  Transition(int64_t num_input_features, int64_t num_output_features);
  std::string name() const override { return "_Transition"; }
};

/// torchvision's DenseNet arguments after the architecture's three
/// (growth_rate, block_config, num_init_features).
struct DenseNetOptions {
  int64_t num_classes = 1000;
  /// Bottleneck width as a multiple of growth_rate.
  int64_t bn_size = 4;
  /// Dropout probability after each dense layer (0: none, deterministic).
  double drop_rate = 0;
  /// Accepted and ignored: torchvision's checkpointing changes memory use,
  /// not results.
  bool memory_efficient = false;
};

/// torchvision.models.DenseNet (DenseNet-BC). Children: features (a Sequential
/// of conv0, norm0, relu0, pool0, denseblock1, transition1, ..., denseblockN,
/// norm5) and classifier (Linear); forward ends with ReLU, global average
/// pooling and the classifier.
class DenseNet : public nn::Module {
 public:
  /// `block_config`: dense layers per block ({6, 12, 24, 16} for DenseNet-121).
  /// Throws wick::Error for an empty block_config, non-positive counts or
  /// sizes, or drop_rate outside [0, 1].
  DenseNet(int64_t growth_rate, std::vector<int64_t> block_config, int64_t num_init_features,
           DenseNetOptions options = {});
  /// [N, 3, H, W] -> logits [N, num_classes].
  Tensor forward(const Tensor& input) override;

 private:
  // The channel count while features is built, declared before the children
  // so that it is initialised first.
  int64_t num_features_ = 0;
  nn::Sequential make_features(int64_t growth_rate, const std::vector<int64_t>& block_config,
                               int64_t num_init_features, const DenseNetOptions& options);

 public:
  nn::Sequential& features;
  nn::Linear& classifier;
};

/// DenseNet-121: growth_rate 32, block_config {6, 12, 24, 16}, 64 initial features.
DenseNet densenet121(DenseNetOptions options = {});

}  // namespace wick::models
