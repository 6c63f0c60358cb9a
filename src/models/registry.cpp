#include "wick/models/registry.h"

#include <algorithm>
#include <functional>
#include <map>
#include <sstream>

#include "wick/core/error.h"
#include "wick/models/convnext.h"
#include "wick/models/densenet.h"
#include "wick/models/efficientnet.h"
#include "wick/models/mobilenetv2.h"
#include "wick/models/mobilenetv3.h"
#include "wick/models/regnet.h"
#include "wick/models/resnet.h"
#include "wick/models/shufflenetv2.h"
#include "wick/models/squeezenet.h"
#include "wick/models/vgg.h"
#include "wick/models/vision_transformer.h"

namespace wick::models {

namespace {

using Builder = std::function<std::unique_ptr<nn::Module>(const CreateOptions&)>;

template <class M, class Options, class Fn>
Builder resnet_like(Fn fn) {
  return [fn](const CreateOptions& o) {
    Options options;
    options.num_classes = o.num_classes;
    return std::unique_ptr<nn::Module>(std::make_unique<M>(fn(options)));
  };
}

template <class M, class Options, class Fn>
Builder with_dropout(Fn fn) {
  return [fn](const CreateOptions& o) {
    Options options;
    options.num_classes = o.num_classes;
    if (o.dropout) options.dropout = *o.dropout;
    return std::unique_ptr<nn::Module>(std::make_unique<M>(fn(options)));
  };
}

/// DenseNet's only dropout is drop_rate, after every dense layer.
Builder densenet(DenseNet (*fn)(DenseNetOptions)) {
  return [fn](const CreateOptions& o) {
    DenseNetOptions options;
    options.num_classes = o.num_classes;
    if (o.dropout) options.drop_rate = *o.dropout;
    return std::unique_ptr<nn::Module>(std::make_unique<DenseNet>(fn(options)));
  };
}

const std::map<std::string, Builder, std::less<>>& table() {
  static const std::map<std::string, Builder, std::less<>> t = {
      {"resnet18", resnet_like<ResNet, ResNetOptions>(resnet18)},
      {"resnet34", resnet_like<ResNet, ResNetOptions>(resnet34)},
      {"resnet50", resnet_like<ResNet, ResNetOptions>(resnet50)},
      {"resnet101", resnet_like<ResNet, ResNetOptions>(resnet101)},
      {"resnet152", resnet_like<ResNet, ResNetOptions>(resnet152)},
      {"resnext50_32x4d", resnet_like<ResNet, ResNetOptions>(resnext50_32x4d)},
      {"wide_resnet50_2", resnet_like<ResNet, ResNetOptions>(wide_resnet50_2)},
      {"vgg11", with_dropout<VGG, VGGOptions>(vgg11)},
      {"vgg11_bn", with_dropout<VGG, VGGOptions>(vgg11_bn)},
      {"vgg16", with_dropout<VGG, VGGOptions>(vgg16)},
      {"vgg16_bn", with_dropout<VGG, VGGOptions>(vgg16_bn)},
      {"alexnet", with_dropout<AlexNet, AlexNetOptions>(alexnet)},
      {"densenet121", densenet(densenet121)},
      {"squeezenet1_0", with_dropout<SqueezeNet, SqueezeNetOptions>(squeezenet1_0)},
      {"squeezenet1_1", with_dropout<SqueezeNet, SqueezeNetOptions>(squeezenet1_1)},
      {"shufflenet_v2_x1_0", resnet_like<ShuffleNetV2, ShuffleNetV2Options>(shufflenet_v2_x1_0)},
      {"regnet_y_400mf", resnet_like<RegNet, RegNetOptions>(regnet_y_400mf)},
      {"mobilenet_v2", with_dropout<MobileNetV2, MobileNetV2Options>(mobilenet_v2)},
      {"mobilenet_v3_large", with_dropout<MobileNetV3, MobileNetV3Options>(mobilenet_v3_large)},
      {"mobilenet_v3_small", with_dropout<MobileNetV3, MobileNetV3Options>(mobilenet_v3_small)},
      {"efficientnet_b0", with_dropout<EfficientNet, EfficientNetOptions>(efficientnet_b0)},
      {"convnext_tiny", resnet_like<ConvNeXt, ConvNeXtOptions>(convnext_tiny)},
      {"vit_b_16", with_dropout<VisionTransformer, VisionTransformerOptions>(vit_b_16)},
  };
  return t;
}

/// Levenshtein distance, for suggesting a name.
size_t distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::unique_ptr<nn::Module> create(std::string_view name, const CreateOptions& options) {
  const auto& t = table();
  if (auto it = t.find(name); it != t.end()) return it->second(options);
  std::ostringstream message;
  message << "unknown architecture '" << name << "'";
  std::string closest;
  size_t best = 3;  // suggest only names within two edits
  for (const auto& [known, builder] : t) {
    if (const size_t d = distance(name, known); d < best) {
      best = d;
      closest = known;
    }
  }
  if (!closest.empty()) message << " (did you mean '" << closest << "'?)";
  message << "; known:";
  for (const auto& known : architectures()) message << " " << known;
  throw Error(message.str());
}

const std::vector<std::string>& architectures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, builder] : table()) n.push_back(name);
    return n;
  }();
  return names;
}

}  // namespace wick::models
