// DenseNet, SqueezeNet, ShuffleNet V2 and RegNet: what the comparison with
// torchvision (tests/models, group `cnn`) does not see. DenseNet's legacy key
// names load under any prefix and alongside the current ones; every invalid
// argument is a wick::Error; the smallest inputs torchvision documents work
// (and one less fails cleanly); a RegNet's modules follow its BlockParams;
// channel_shuffle interleaves; create() passes its options on.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/core/random.h"
#include "wick/models/models.h"
#include "wick/nn/dropout.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/reduce.h"

using namespace wick;

namespace {

/// A DenseNet small enough to build many times: two blocks, a transition.
models::DenseNet small_densenet(models::DenseNetOptions options = {.num_classes = 3}) {
  return models::DenseNet(4, {2, 1}, 8, options);
}

/// `key` as torchvision's published DenseNet files spell it.
std::string legacy(const std::string& key) {
  std::string out = key;
  for (const char* child : {"norm", "relu", "conv"}) {
    for (const char* index : {"1", "2"}) {
      const std::string modern = std::string(".") + child + index + ".";
      const std::string old = std::string(".") + child + "." + index + ".";
      if (out.find("denselayer") == std::string::npos) continue;
      if (const size_t at = out.rfind(modern); at != std::string::npos)
        out.replace(at, modern.size(), old);
    }
  }
  return out;
}

bool is_dense_layer_count(const std::string& key) {
  return key.find("denselayer") != std::string::npos && key.ends_with("num_batches_tracked");
}

/// The published form: legacy names, no num_batches_tracked in dense layers.
nn::StateDict published_form(const nn::StateDict& sd, const std::string& prefix = "") {
  nn::StateDict out;
  for (const auto& [key, t] : sd)
    if (!is_dense_layer_count(key)) out.set(prefix + legacy(key), t);
  return out;
}

void randomize(nn::Module& m) {
  NoGradGuard no_grad;
  for (const Tensor& t : m.parameters()) t.copy_(randn(t.sizes()));
  for (const auto& [name, t] : m.named_buffers()) {
    if (name.ends_with("running_var"))
      t.copy_(rand(t.sizes()) + 0.5);
    else if (name.ends_with("running_mean"))
      t.copy_(randn(t.sizes()));
    else
      t.fill_(5);  // num_batches_tracked
  }
}

void expect_same_state(const nn::Module& actual, const nn::Module& expected,
                       bool dense_counts_zero) {
  const nn::StateDict a = actual.state_dict(), e = expected.state_dict();
  ASSERT_EQ(a.keys(), e.keys());
  for (const auto& [key, t] : e) {
    if (dense_counts_zero && is_dense_layer_count(key))
      EXPECT_EQ(a.at(key).item<int64_t>(), 0) << key;
    else
      EXPECT_TRUE(equal(a.at(key), t)) << key;
  }
}

template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// ---- DenseNet's legacy key names ----------------------------------------------

TEST(ModelsDenseNet, LegacyHelperSpellsTorchvisionsNames) {
  EXPECT_EQ(legacy("features.denseblock1.denselayer2.norm1.running_var"),
            "features.denseblock1.denselayer2.norm.1.running_var");
  EXPECT_EQ(legacy("features.transition1.norm.weight"), "features.transition1.norm.weight");
}

TEST(ModelsDenseNet, LoadsPublishedLegacyNamesStrictly) {
  manual_seed(0);
  models::DenseNet source = small_densenet();
  randomize(source);
  const nn::StateDict file = published_form(source.state_dict());
  ASSERT_TRUE(file.contains("features.denseblock1.denselayer1.norm.1.weight"));
  ASSERT_FALSE(file.contains("features.denseblock1.denselayer1.norm1.weight"));

  models::DenseNet target = small_densenet();
  const nn::LoadResult r = target.load_state_dict(file);  // strict
  EXPECT_TRUE(r.ok());
  expect_same_state(target, source, /*dense_counts_zero=*/true);
  // The caller's dict is left as it was.
  EXPECT_TRUE(file.contains("features.denseblock1.denselayer1.norm.1.weight"));
  // state_dict() writes the current names.
  EXPECT_TRUE(target.state_dict().contains("features.denseblock2.denselayer1.conv2.weight"));
}

TEST(ModelsDenseNet, LoadsCurrentNamesAndLegacyCountsToo) {
  manual_seed(1);
  models::DenseNet source = small_densenet();
  randomize(source);
  models::DenseNet current = small_densenet();
  current.load_state_dict(source.state_dict());
  expect_same_state(current, source, false);

  // Legacy names with num_batches_tracked (torchvision's pattern leaves it).
  nn::StateDict with_counts;
  for (const auto& [key, t] : source.state_dict()) with_counts.set(legacy(key), t);
  ASSERT_TRUE(with_counts.contains("features.denseblock1.denselayer1.norm.2.num_batches_tracked"));
  models::DenseNet target = small_densenet();
  target.load_state_dict(with_counts);
  expect_same_state(target, source, false);
}

TEST(ModelsDenseNet, LegacyNamesUnderAPrefix) {
  struct Wrapper : nn::Module {
    models::DenseNet& backbone = register_module("backbone", small_densenet());
  };
  manual_seed(2);
  models::DenseNet source = small_densenet();
  randomize(source);
  Wrapper w;
  w.load_state_dict(published_form(source.state_dict(), "backbone."));
  expect_same_state(w.backbone, source, true);
  // A single dense layer loads its own legacy names too.
  models::DenseLayer layer(8, 4, 2, 0.0);
  nn::StateDict sd;
  for (const auto& [key, t] : layer.state_dict())
    sd.set(legacy("denselayer." + key).substr(std::string("denselayer.").size()), t);
  ASSERT_TRUE(sd.contains("conv.1.weight"));
  EXPECT_TRUE(layer.load_state_dict(sd).ok());
}

TEST(ModelsDenseNet, BothSpellingsOrStrayNamesAreErrors) {
  models::DenseNet model = small_densenet();
  nn::StateDict both = model.state_dict();
  both.set("features.denseblock1.denselayer1.norm.1.weight",
           both.at("features.denseblock1.denselayer1.norm1.weight"));
  const std::string e = error_of([&] { model.load_state_dict(both); });
  EXPECT_NE(e.find("Unexpected key(s) in state_dict: "
                   "\"features.denseblock1.denselayer1.norm.1.weight\""),
            std::string::npos)
      << e;
  EXPECT_TRUE(model.load_state_dict(both, /*strict=*/false).unexpected_keys.size() == 1);

  // Only <norm|relu|conv>.<1|2>.<tensor> is renamed.
  nn::StateDict stray = model.state_dict();
  stray.set("features.denseblock1.denselayer1.norm.3.weight", zeros({1}));
  stray.set("features.denseblock1.denselayer1.conv.1.weight.x", zeros({1}));
  stray.set("features.transition1.norm.1.weight", zeros({1}));
  const nn::LoadResult r = model.load_state_dict(stray, /*strict=*/false);
  EXPECT_EQ(r.unexpected_keys.size(), 3u);
  EXPECT_TRUE(r.missing_keys.empty());
}

TEST(ModelsDenseNet, DenseLayerShapesAndDropout) {
  models::DenseNet net = small_densenet({.num_classes = 3, .drop_rate = 0.5});
  // 8 initial features, +2*4 -> 16, transition halves to 8, +1*4 -> 12.
  EXPECT_EQ(net.classifier.in_features, 12);
  EXPECT_EQ(net.state_dict().version("features.denseblock1"), 2);  // _DenseBlock._version
  const Tensor x = randn({2, 3, 32, 32});
  net.eval();
  NoGradGuard no_grad;
  EXPECT_TRUE(equal(net(x), net(x)));  // no dropout in eval
  net.train();
  EXPECT_EQ(net(x).sizes(), (std::vector<int64_t>{2, 3}));
  const std::string r = net.repr();
  EXPECT_NE(r.find("(denselayer1): _DenseLayer(\n"), std::string::npos) << r;
  EXPECT_NE(r.find("(denseblock1): _DenseBlock("), std::string::npos) << r;
  EXPECT_NE(r.find("(transition1): _Transition("), std::string::npos) << r;
}

TEST(ModelsDenseNet, InvalidArguments) {
  EXPECT_THROW(models::DenseNet(4, {}, 8), Error);
  EXPECT_THROW(models::DenseNet(4, {2, 0}, 8), Error);
  EXPECT_THROW(models::DenseNet(0, {2}, 8), Error);
  EXPECT_THROW(models::DenseNet(4, {2}, -1), Error);
  EXPECT_THROW(models::DenseNet(4, {2}, 8, {.bn_size = 0}), Error);
  EXPECT_THROW(models::DenseNet(4, {2}, 8, {.drop_rate = 1.5}), Error);
}

// ---- smallest inputs (torchvision's documented min_size) ------------------------

TEST(ModelsCnn, SmallestInputs) {
  NoGradGuard no_grad;
  auto check = [](nn::Module&& m, int64_t smallest) {
    m.eval();
    EXPECT_EQ(m(randn({1, 3, smallest, smallest})).sizes(), (std::vector<int64_t>{1, 5}))
        << m.name() << " at " << smallest;
    EXPECT_THROW(m(randn({1, 3, smallest - 1, smallest - 1})), Error)
        << m.name() << " at " << smallest - 1;
  };
  check(models::squeezenet1_0({.num_classes = 5}), 21);
  check(models::squeezenet1_1({.num_classes = 5}), 17);
  check(models::densenet121({.num_classes = 5}), 29);
  // ShuffleNet V2 and RegNet take any size.
  auto any = [](nn::Module&& m) {
    m.eval();
    EXPECT_EQ(m(randn({1, 3, 1, 1})).sizes(), (std::vector<int64_t>{1, 5})) << m.name();
  };
  any(models::shufflenet_v2_x1_0({.num_classes = 5}));
  any(models::regnet_y_400mf({.num_classes = 5}));
}

// ---- SqueezeNet -------------------------------------------------------------------

TEST(ModelsSqueezeNet, InvalidVersion) {
  EXPECT_EQ(error_of([] { models::SqueezeNet("1_2"); }),
            "Unsupported SqueezeNet version 1_2: 1_0 or 1_1 expected");
  EXPECT_THROW(models::squeezenet1_1({.dropout = 2}), Error);
}

TEST(ModelsSqueezeNet, InitialisationAsTorchvision) {
  manual_seed(0);
  models::SqueezeNet net = models::squeezenet1_1({.num_classes = 1000});
  const nn::StateDict sd = net.state_dict();
  for (const auto& [key, t] : sd) {
    if (key.ends_with(".bias")) {
      EXPECT_EQ(t.abs().max().item<float>(), 0) << key;
    }
  }
  // The final convolution N(0, 0.01); the others kaiming_uniform (fan_in,
  // gain sqrt(2)): U(-b, b) with b = sqrt(6 / fan_in).
  const Tensor final_w = sd.at("classifier.1.weight");
  EXPECT_NEAR(std::sqrt((final_w * final_w).mean().item<double>()), 0.01, 0.001);
  const Tensor w = sd.at("features.12.expand3x3.weight");  // [256, 64, 3, 3]
  const double bound = std::sqrt(6.0 / (64 * 9));
  EXPECT_LE(w.abs().max().item<double>(), bound);
  EXPECT_GT(w.abs().max().item<double>(), 0.95 * bound);
}

// ---- ShuffleNet V2 ------------------------------------------------------------------

TEST(ModelsShuffleNet, ChannelShuffleInterleavesGroups) {
  const Tensor x = arange(6).to(DType::Float32).view({1, 6, 1, 1});
  EXPECT_EQ(models::shufflenetv2::channel_shuffle(x, 2).flatten().to_vector<float>(),
            (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(models::shufflenetv2::channel_shuffle(x, 3).flatten().to_vector<float>(),
            (std::vector<float>{0, 2, 4, 1, 3, 5}));
  EXPECT_THROW(models::shufflenetv2::channel_shuffle(x, 4), Error);
  EXPECT_THROW(models::shufflenetv2::channel_shuffle(x.view({6}), 2), Error);
}

TEST(ModelsShuffleNet, InvalidArguments) {
  EXPECT_EQ(error_of([] { models::shufflenetv2::InvertedResidual(8, 8, 4); }),
            "illegal stride value");
  EXPECT_THROW(models::shufflenetv2::InvertedResidual(8, 8, 0), Error);
  EXPECT_THROW(models::shufflenetv2::InvertedResidual(6, 8, 1), Error);  // inp != oup
  EXPECT_NO_THROW(models::shufflenetv2::InvertedResidual(6, 8, 2));
  EXPECT_THROW(models::ShuffleNetV2({4, 8}, {24, 116, 232, 464, 1024}), Error);
  EXPECT_THROW(models::ShuffleNetV2({4, 8, 4}, {24, 116, 232, 464}), Error);
  EXPECT_THROW(models::ShuffleNetV2({4, 0, 4}, {24, 116, 232, 464, 1024}), Error);
  EXPECT_THROW(models::ShuffleNetV2({1, 1, 1}, {24, 116, 0, 464, 1024}), Error);
  // stride-1 blocks have an empty branch1, as torchvision's.
  models::ShuffleNetV2 net = models::shufflenet_v2_x1_0();
  EXPECT_TRUE(net.stage2.at<models::shufflenetv2::InvertedResidual>(1).branch1.empty());
  EXPECT_EQ(net.stage2.at<models::shufflenetv2::InvertedResidual>(0).branch1.size(), 5u);
}

// ---- RegNet -------------------------------------------------------------------------

TEST(ModelsRegNet, ModulesFollowTheBlockParams) {
  // The widths themselves are compared with torchvision's in tests/models.
  const auto p = models::RegNetBlockParams::from_init_params(16, 48, 27.89, 2.09, 8, 1.0, 0.25);
  models::RegNet net = models::regnet_y_400mf({.num_classes = 10});
  ASSERT_EQ(net.trunk_output.size(), p.widths.size());
  int64_t width_in = 32;  // stem_width
  for (size_t s = 0; s < p.widths.size(); ++s) {
    const std::string stage = "block" + std::to_string(s + 1);
    auto& any = nn::module_cast<models::regnet::AnyStage>(net.trunk_output.get_submodule(stage));
    ASSERT_EQ(static_cast<int64_t>(any.size()), p.depths[s]) << stage;
    for (size_t i = 0; i < any.size(); ++i) {
      auto& block = any.at<models::regnet::ResBottleneckBlock>(i);
      EXPECT_EQ(&any.get_submodule(stage + "-" + std::to_string(i)), &block);
      auto& b = block.f.at<models::Conv2dNormActivation>(1).at<nn::Conv2d>(0);
      EXPECT_EQ(b.groups, b.out_channels / p.group_widths[s]);
      EXPECT_EQ(b.stride.h, i == 0 ? p.strides[s] : 1);
      auto& se = nn::module_cast<models::SqueezeExcitation>(block.f.get_submodule("se"));
      const int64_t in = i == 0 ? width_in : p.widths[s];
      EXPECT_EQ(se.fc1.out_channels,
                static_cast<int64_t>(std::nearbyint(0.25 * static_cast<double>(in))));
      EXPECT_EQ(block.f.at<models::Conv2dNormActivation>(3).out_channels, p.widths[s]);
      EXPECT_EQ(block.proj != nullptr, i == 0);
    }
    width_in = p.widths[s];
  }
  EXPECT_EQ(net.fc.in_features, p.widths.back());
  // RegNetX: no squeeze-excitation.
  const auto x = models::RegNetBlockParams::from_init_params(4, 24, 24.48, 2.54, 16);
  models::RegNet plain(x);
  for (const auto& [name, m] : plain.named_modules())
    EXPECT_EQ(name.find(".se"), std::string::npos) << name;
}

TEST(ModelsRegNet, BatchNormOptionsReachEveryLayer) {
  models::RegNet net = models::regnet_y_400mf({.norm = {.eps = 1e-3, .momentum = 0.01}});
  int count = 0;
  for (nn::Module* m : net.modules()) {
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      EXPECT_EQ(bn->eps, 1e-3);
      EXPECT_EQ(bn->momentum.value_or(-1), 0.01);
      ++count;
    }
  }
  EXPECT_GT(count, 0);
}

TEST(ModelsRegNet, InvalidArguments) {
  using P = models::RegNetBlockParams;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(P::from_init_params(16, 44, 27.89, 2.09, 8), Error);  // w_0 % 8
  EXPECT_THROW(P::from_init_params(16, 0, 27.89, 2.09, 8), Error);   // w_0 <= 0
  EXPECT_THROW(P::from_init_params(16, 48, -1, 2.09, 8), Error);     // w_a < 0
  EXPECT_THROW(P::from_init_params(16, 48, 27.89, 1.0, 8), Error);   // w_m <= 1
  EXPECT_THROW(P::from_init_params(0, 48, 27.89, 2.09, 8), Error);   // depth
  EXPECT_THROW(P::from_init_params(16, 48, 27.89, 2.09, 0), Error);  // group_width
  EXPECT_THROW(P::from_init_params(16, 48, nan, 2.09, 8), Error);
  EXPECT_THROW(P::from_init_params(16, 48, 27.89, 2.09, 8, 0.0), Error);
  EXPECT_THROW(P::from_init_params(16, 48, 27.89, 2.09, 8, 0.01), Error);  // no channel left
  EXPECT_THROW(P::from_init_params(16, 48, 1e30, 1.0001, 8), Error);       // widths overflow
  EXPECT_THROW(P::from_init_params(16, 48, 1e300, 2.09, 8), Error);        // float32 inf
  EXPECT_THROW(models::regnet::BottleneckTransform(8, 8, 1, {}, 8, 1e300, std::nullopt), Error);
  EXPECT_THROW(models::regnet::BottleneckTransform(8, 8, 1, {}, 8, 1.0, -1.0), Error);
  P p = P::from_init_params(16, 48, 27.89, 2.09, 8);
  p.strides.pop_back();
  EXPECT_THROW(models::RegNet{p}, Error);
  P empty;
  EXPECT_THROW(models::RegNet{empty}, Error);
}

// ---- the registry -----------------------------------------------------------------

TEST(ModelsCnn, CreatePassesOptions) {
  for (const char* name :
       {"densenet121", "squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x1_0", "regnet_y_400mf"}) {
    auto net = models::create(name, {.num_classes = 7});
    const nn::StateDict sd = net->state_dict();
    const std::string last = sd.keys().back();  // the classifier's bias
    EXPECT_EQ(sd.at(last).sizes(), (std::vector<int64_t>{7})) << name << " " << last;
  }
  auto dense = models::create("densenet121", {.num_classes = 7, .dropout = 0.2});
  auto& d = dynamic_cast<models::DenseNet&>(*dense);
  EXPECT_EQ(nn::module_cast<models::DenseLayer>(d.get_submodule("features.denseblock3.denselayer7"))
                .drop_rate,
            0.2);
  auto squeeze = models::create("squeezenet1_1", {.dropout = 0.25});
  EXPECT_EQ(dynamic_cast<models::SqueezeNet&>(*squeeze).classifier.at<nn::Dropout>(0).p, 0.25);
}
