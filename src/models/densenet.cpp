#include "wick/models/densenet.h"

#include <string_view>
#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/nn/functional/dropout.h"
#include "wick/nn/functional/pooling.h"
#include "wick/nn/init.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/join.h"

namespace wick::models {

namespace {

/// `drop_rate` after checking it is a probability.
double checked_drop_rate(double drop_rate) {
  WICK_CHECK(drop_rate >= 0 && drop_rate <= 1,
             "DenseNet: drop_rate must be a probability in [0, 1], got ", drop_rate);
  return drop_rate;
}

/// `n` after checking it is positive; `what` names it in the error.
int64_t positive(int64_t n, std::string_view what) {
  WICK_CHECK(n > 0, "DenseNet: ", what, " must be positive, got ", n);
  return n;
}

/// The children of a dense layer that the legacy weights spell with a dot.
constexpr std::string_view kLegacyChildren[] = {"norm", "relu", "conv"};

/// For `rest` (a key under a dense layer) of the form "norm.1.weight": the
/// current spelling "norm1.weight"; otherwise empty.
std::string modern_key(std::string_view rest) {
  for (std::string_view child : kLegacyChildren) {
    // child, '.', '1' or '2', '.', then a tensor name without dots
    if (rest.size() <= child.size() + 3 || !rest.starts_with(child)) continue;
    const char index = rest[child.size() + 1];
    if (rest[child.size()] != '.' || (index != '1' && index != '2') ||
        rest[child.size() + 2] != '.')
      continue;
    const std::string_view tensor = rest.substr(child.size() + 3);
    if (tensor.find('.') != std::string_view::npos) continue;
    return std::string(child) + index + "." + std::string(tensor);
  }
  return {};
}

}  // namespace

DenseLayer::DenseLayer(int64_t num_input_features, int64_t growth_rate, int64_t bn_size,
                       double drop_rate_, bool memory_efficient_)
    : norm1(register_module("norm1",
                            nn::BatchNorm2d(positive(num_input_features, "num_input_features")))),
      relu1(register_module("relu1", nn::ReLU(/*inplace=*/true))),
      conv1(register_module(
          "conv1", nn::Conv2d(num_input_features,
                              positive(bn_size, "bn_size") * positive(growth_rate, "growth_rate"),
                              1, {.bias = false}))),
      norm2(register_module("norm2", nn::BatchNorm2d(bn_size * growth_rate))),
      relu2(register_module("relu2", nn::ReLU(/*inplace=*/true))),
      conv2(register_module("conv2", nn::Conv2d(bn_size * growth_rate, growth_rate, 3,
                                                {.padding = 1, .bias = false}))),
      drop_rate(checked_drop_rate(drop_rate_)),
      memory_efficient(memory_efficient_) {}

Tensor DenseLayer::forward(const std::vector<Tensor>& inputs) {
  Tensor concatenated = inputs.size() == 1 ? inputs[0] : cat(inputs, 1);
  Tensor bottleneck = conv1(relu1(norm1(concatenated)));
  Tensor out = conv2(relu2(norm2(bottleneck)));
  if (drop_rate > 0) out = nn::functional::dropout(out, drop_rate, is_training());
  return out;
}

Tensor DenseLayer::forward(const Tensor& input) {
  return forward(std::vector<Tensor>{input});
}

void DenseLayer::upgrade_state_dict(nn::StateDict& sd, const std::string& prefix,
                                    std::optional<int64_t> version) const {
  std::vector<std::pair<std::string, std::string>> renames;
  for (const auto& [key, tensor] : sd) {
    if (!key.starts_with(prefix)) continue;
    std::string modern = modern_key(std::string_view(key).substr(prefix.size()));
    if (!modern.empty()) renames.emplace_back(key, prefix + modern);
  }
  for (const auto& [legacy, modern] : renames) {
    if (sd.contains(modern)) continue;  // both spellings: the legacy one is unexpected
    Tensor t = sd.at(legacy);
    sd.erase(legacy);
    sd.set(modern, std::move(t));
  }
  Module::upgrade_state_dict(sd, prefix, version);
}

DenseBlock::DenseBlock(int64_t num_layers, int64_t num_input_features, int64_t bn_size,
                       int64_t growth_rate, double drop_rate, bool memory_efficient) {
  set_version(2);  // torchvision's _DenseBlock._version
  positive(num_layers, "the layers of a dense block");
  for (int64_t i = 0; i < num_layers; ++i) {
    insert("denselayer" + std::to_string(i + 1),
           DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate,
                      memory_efficient));
  }
}

Tensor DenseBlock::forward(const Tensor& input) {
  std::vector<Tensor> features{input};
  for (const auto& [key, layer] : items())
    features.push_back(module_cast<DenseLayer>(*layer, "_DenseBlock[\"" + key + "\"]")(features));
  return cat(features, 1);
}

Transition::Transition(int64_t num_input_features, int64_t num_output_features) {
  push_back("norm", nn::BatchNorm2d(num_input_features));
  push_back("relu", nn::ReLU(/*inplace=*/true));
  push_back("conv", nn::Conv2d(num_input_features, num_output_features, 1, {.bias = false}));
  push_back("pool", nn::AvgPool2d(2, 2));
}

nn::Sequential DenseNet::make_features(int64_t growth_rate,
                                       const std::vector<int64_t>& block_config,
                                       int64_t num_init_features, const DenseNetOptions& options) {
  WICK_CHECK(!block_config.empty(), "DenseNet: block_config must name at least one block");
  checked_drop_rate(options.drop_rate);
  nn::Sequential f;
  f.push_back("conv0", nn::Conv2d(3, positive(num_init_features, "num_init_features"), 7,
                                  {.stride = 2, .padding = 3, .bias = false}));
  f.push_back("norm0", nn::BatchNorm2d(num_init_features));
  f.push_back("relu0", nn::ReLU(/*inplace=*/true));
  f.push_back("pool0", nn::MaxPool2d(3, {.stride = 2, .padding = 1}));
  num_features_ = num_init_features;
  for (size_t i = 0; i < block_config.size(); ++i) {
    const int64_t num_layers = block_config[i];
    f.push_back("denseblock" + std::to_string(i + 1),
                DenseBlock(num_layers, num_features_, options.bn_size, growth_rate,
                           options.drop_rate, options.memory_efficient));
    num_features_ += num_layers * growth_rate;
    if (i + 1 != block_config.size()) {
      f.push_back("transition" + std::to_string(i + 1),
                  Transition(num_features_, num_features_ / 2));
      num_features_ /= 2;
    }
  }
  f.push_back("norm5", nn::BatchNorm2d(num_features_));
  return f;
}

DenseNet::DenseNet(int64_t growth_rate, std::vector<int64_t> block_config,
                   int64_t num_init_features, DenseNetOptions options)
    : features(register_module(
          "features", make_features(growth_rate, block_config, num_init_features, options))),
      classifier(register_module("classifier", nn::Linear(num_features_, options.num_classes))) {
  NoGradGuard no_grad;
  for (nn::Module* m : modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      nn::init::kaiming_normal_(conv->weight);
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = dynamic_cast<nn::Linear*>(m)) {
      nn::init::zeros_(linear->bias);
    }
  }
}

Tensor DenseNet::forward(const Tensor& input) {
  Tensor out = relu(features(input));
  out = nn::functional::adaptive_avg_pool2d(out, {1, 1});
  return classifier(out.flatten(1));
}

DenseNet densenet121(DenseNetOptions options) {
  return DenseNet(32, {6, 12, 24, 16}, 64, options);
}

}  // namespace wick::models
