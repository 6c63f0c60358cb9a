// ConvNeXt and the Vision Transformer where the comparison with torchvision
// (tests/models, which checks logits, gradients and state_dicts both ways)
// cannot look: nn::init::trunc_normal_'s distribution and bounds, the
// models' initial weights, ViT's errors for image sizes (torchvision asserts
// there), its loading of the MLP key names of torchvision < 0.13, the head
// with representation_size, and models::create.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wick/core/error.h"
#include "wick/core/random.h"
#include "wick/models/models.h"
#include "wick/nn/init.h"
#include "wick/nn/linear.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/reduce.h"

using namespace wick;
namespace init = wick::nn::init;

namespace {

constexpr TensorOptions kF64 = {.dtype = DType::Float64};

struct Stats {
  double mean, std, min, max;
};

Stats stats_of(const Tensor& t) {
  const std::vector<double> v = t.to(DType::Float64).contiguous().to_vector<double>();
  double sum = 0, sq = 0;
  for (double x : v) sum += x;
  const double mean = sum / double(v.size());
  for (double x : v) sq += (x - mean) * (x - mean);
  return {mean, std::sqrt(sq / double(v.size() - 1)), *std::min_element(v.begin(), v.end()),
          *std::max_element(v.begin(), v.end())};
}

double phi(double x) {
  return std::exp(-x * x / 2) / std::sqrt(2 * std::acos(-1.0));
}
double Phi(double x) {
  return (1 + std::erf(x / std::sqrt(2.0))) / 2;
}

/// Mean and standard deviation of N(mean, std^2) truncated to [a, b].
std::pair<double, double> truncated_moments(double mean, double std, double a, double b) {
  const double alpha = (a - mean) / std, beta = (b - mean) / std;
  const double z = Phi(beta) - Phi(alpha);
  const double shift = (phi(alpha) - phi(beta)) / z;
  const double var = 1 + (alpha * phi(alpha) - beta * phi(beta)) / z - shift * shift;
  return {mean + std * shift, std * std::sqrt(var)};
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& part : parts)
    EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

/// A ViT small enough to build many times: 16x16 images, 8x8 patches, two
/// layers of width 16.
models::VisionTransformer tiny_vit(std::optional<int64_t> representation_size = std::nullopt) {
  return models::VisionTransformer(
      8, 2, 2, 16, 32,
      {.image_size = 16, .num_classes = 3, .representation_size = representation_size});
}

/// `sd` with every MLP key spelled as torchvision < 0.13 did (mlp.0 ->
/// mlp.linear_1, mlp.3 -> mlp.linear_2), metadata as given.
nn::StateDict with_legacy_keys(const nn::StateDict& sd) {
  nn::StateDict legacy = nn::rename_keys(sd, [](const std::string& key) {
    std::string k = key;
    for (auto [from, to] :
         {std::pair<std::string_view, std::string_view>{".mlp.0.", ".mlp.linear_1."},
          {".mlp.3.", ".mlp.linear_2."}})
      if (auto at = k.find(from); at != std::string::npos) k.replace(at, from.size(), to);
    return k;
  });
  legacy.set_metadata(sd.metadata());
  return legacy;
}

void expect_same_parameters(nn::Module& a, nn::Module& b) {
  const nn::StateDict sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.keys(), sb.keys());
  for (const auto& [key, t] : sa)
    EXPECT_EQ(t.contiguous().to_vector<float>(), sb.at(key).contiguous().to_vector<float>()) << key;
}

}  // namespace

// ---- nn::init::trunc_normal_ --------------------------------------------------------

TEST(NnInitTruncNormal, DefaultBoundsAreAbsoluteSoSmallStdIsPlainNormal) {
  manual_seed(5);
  // torchvision's std=0.02 within PyTorch's default [-2, 2]: 100 std away.
  Tensor t = init::trunc_normal_(empty({400, 500}), 0, 0.02);
  const Stats s = stats_of(t);
  EXPECT_NEAR(s.mean, 0, 2e-4);
  EXPECT_NEAR(s.std, 0.02, 0.02 * 0.01);
  EXPECT_GT(s.max, 0.02 * 4);  // 200k draws reach past 4 std: nothing was cut there
  EXPECT_LT(s.min, -0.02 * 4);
}

TEST(NnInitTruncNormal, ValuesStayWithinBoundsWithTheTruncatedMoments) {
  manual_seed(6);
  struct Case {
    double mean, std, a, b;
  };
  for (const Case& c : {Case{0, 1, -2, 2}, Case{0, 1, -0.5, 0.5}, Case{1, 2, 0, 1.5},
                        Case{0.3, 0.1, -0.1, 0.6}, Case{-3, 1, -4, -3.5}}) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      Tensor t = init::trunc_normal_(empty({200000}, {.dtype = dtype}), c.mean, c.std, c.a, c.b);
      const Stats s = stats_of(t);
      const auto [mean, std] = truncated_moments(c.mean, c.std, c.a, c.b);
      SCOPED_TRACE(testing::Message() << "mean " << c.mean << " std " << c.std << " [" << c.a
                                      << ", " << c.b << "] " << dtype);
      EXPECT_GE(s.min, c.a);
      EXPECT_LE(s.max, c.b);
      // Most of [a, b] is reached: the draws are not clumped at one end.
      EXPECT_LT(s.min, c.a + (c.b - c.a) * 0.01);
      EXPECT_GT(s.max, c.b - (c.b - c.a) * 0.01);
      EXPECT_NEAR(s.mean, mean, 0.01 * std);
      EXPECT_NEAR(s.std, std, 0.01 * std);
    }
  }
}

TEST(NnInitTruncNormal, QuantilesFollowTheTruncatedNormal) {
  manual_seed(7);
  const double a = -1, b = 2;
  std::vector<double> v =
      init::trunc_normal_(empty({100000}, kF64), 0, 1, a, b).to_vector<double>();
  std::sort(v.begin(), v.end());
  for (double q : {0.05, 0.25, 0.5, 0.75, 0.95}) {
    const double x = v[size_t(q * double(v.size()))];
    const double cdf = (Phi(x) - Phi(a)) / (Phi(b) - Phi(a));
    EXPECT_NEAR(cdf, q, 0.006) << "quantile " << q;
  }
}

TEST(NnInitTruncNormal, ReproducibleWithAGeneratorAndNoHistory) {
  Generator g1(9), g2(9);
  Tensor p = zeros({7, 3}).requires_grad_();
  init::trunc_normal_(p, 0, 1, -2, 2, &g1);
  Tensor q = init::trunc_normal_(empty({7, 3}), 0, 1, -2, 2, &g2);
  EXPECT_EQ(p.detach().to_vector<float>(), q.to_vector<float>());
  EXPECT_TRUE(p.is_leaf());
  // Other floating dtypes and views are filled in place.
  Tensor half = init::trunc_normal_(empty({64}, {.dtype = DType::Float16}), 0, 1, -1, 1);
  const Stats s = stats_of(half);
  EXPECT_GE(s.min, -1);
  EXPECT_LE(s.max, 1);
  Tensor base = zeros({4, 6});
  init::trunc_normal_(base.slice(1, 0, 6, 2), 5, 1, 4, 6);
  EXPECT_EQ(stats_of(base.slice(1, 1, 6, 2)).max, 0);  // the other columns untouched
  EXPECT_GE(stats_of(base.slice(1, 0, 6, 2)).min, 4);
}

TEST(NnInitTruncNormal, BadArguments) {
  expect_contains(error_of([] { init::trunc_normal_(empty({3}), 0, 0); }),
                  {"trunc_normal_", "std must be positive", "0"});
  expect_contains(error_of([] { init::trunc_normal_(empty({3}), 0, 1, 2, -2); }),
                  {"trunc_normal_", "a < b", "a=2", "b=-2"});
  expect_contains(error_of([] { init::trunc_normal_(zeros({3}, {.dtype = DType::Int64})); }),
                  {"trunc_normal_", "floating-point", "int64"});
  expect_contains(error_of([] { init::trunc_normal_(Tensor()); }), {"trunc_normal_", "undefined"});
}

// ---- ConvNeXt -----------------------------------------------------------------------

namespace {

/// One ConvNeXt-T for the tests below (28M parameters take a while to draw).
models::ConvNeXt& convnext() {
  static models::ConvNeXt net = [] {
    manual_seed(11);
    return models::convnext_tiny({.layer_scale = 0.5, .num_classes = 4});
  }();
  return net;
}

}  // namespace

TEST(ConvNeXt, InitialWeightsAreTorchvisions) {
  const nn::StateDict sd = convnext().state_dict();
  EXPECT_EQ(sd.size(), 182u);
  // Convolutions and linear layers: trunc_normal_(std=0.02), zero biases.
  for (const char* key :
       {"features.5.4.block.3.weight", "features.5.4.block.5.weight", "features.6.1.weight"}) {
    const Stats s = stats_of(sd.at(key));
    EXPECT_NEAR(s.std, 0.02, 0.0005) << key;
    EXPECT_NEAR(s.mean, 0, 0.0005) << key;
  }
  for (const char* key : {"features.0.0.bias", "features.1.0.block.0.bias",
                          "features.1.0.block.3.bias", "features.2.1.bias", "classifier.2.bias"})
    EXPECT_EQ(stats_of(sd.at(key)).max, 0) << key;
  // LayerNorms start at 1 and 0; layer_scale [dim, 1, 1] at the option.
  EXPECT_EQ(stats_of(sd.at("features.1.0.block.2.weight")).min, 1);
  EXPECT_EQ(stats_of(sd.at("classifier.0.bias")).max, 0);
  EXPECT_EQ(sd.at("features.7.2.layer_scale").sizes(), (Shape{768, 1, 1}));
  EXPECT_EQ(stats_of(sd.at("features.7.2.layer_scale")).min, 0.5);
  EXPECT_EQ(sd.at("classifier.2.weight").sizes(), (Shape{4, 768}));
}

TEST(ConvNeXt, StochasticDepthRampsOverTheBlocks) {
  models::ConvNeXt& net = convnext();  // torchvision's default 0.1
  auto p = [&](const char* path) {
    return dynamic_cast<nn::StochasticDepth&>(net.get_submodule(path)).p;
  };
  EXPECT_EQ(p("features.1.0.stochastic_depth"), 0);
  EXPECT_DOUBLE_EQ(p("features.1.1.stochastic_depth"), 0.1 * 1 / 17);
  EXPECT_DOUBLE_EQ(p("features.5.0.stochastic_depth"), 0.1 * 6 / 17);
  EXPECT_DOUBLE_EQ(p("features.7.2.stochastic_depth"), 0.1);
  // The blocks and stages print as torchvision's do.
  expect_contains(net.get_submodule("features.1.0").repr(),
                  {"CNBlock(\n  (block): Sequential(\n    (0): Conv2d(96, 96, kernel_size=(7, 7)",
                   "(1): Permute()", "(2): LayerNorm((96,), eps=1e-06, elementwise_affine=True)",
                   "(stochastic_depth): StochasticDepth(p=0.0, mode=row)"});
  expect_contains(net.get_submodule("features.0").repr(),
                  {"Conv2dNormActivation(", "LayerNorm2d((96,), eps=1e-06"});
}

TEST(ConvNeXt, BadBlockSettings) {
  expect_contains(error_of([] { models::ConvNeXt({}); }), {"block_setting should not be empty"});
  expect_contains(error_of([] { models::ConvNeXt({{8, std::nullopt, 0}}); }), {"num_layers=0"});
  // A one-block network (where torchvision divides by zero) has p = 0.
  models::ConvNeXt one({{8, std::nullopt, 1}}, {.num_classes = 2});
  EXPECT_EQ(one(randn({1, 3, 8, 8})).sizes(), (Shape{1, 2}));
}

// ---- Vision Transformer -------------------------------------------------------------

TEST(VisionTransformer, KeysShapesAndInitialWeights) {
  manual_seed(12);
  models::VisionTransformer net = tiny_vit();
  const nn::StateDict sd = net.state_dict();
  const std::vector<std::string> keys = sd.keys();
  ASSERT_GE(keys.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 6),
            (std::vector<std::string>{"class_token", "conv_proj.weight", "conv_proj.bias",
                                      "encoder.pos_embedding",
                                      "encoder.layers.encoder_layer_0.ln_1.weight",
                                      "encoder.layers.encoder_layer_0.ln_1.bias"}));
  EXPECT_EQ(std::vector<std::string>(keys.end() - 2, keys.end()),
            (std::vector<std::string>{"heads.head.weight", "heads.head.bias"}));
  EXPECT_EQ(sd.at("encoder.pos_embedding").sizes(), (Shape{1, 5, 16}));  // 2x2 patches + 1
  EXPECT_EQ(sd.at("encoder.layers.encoder_layer_1.self_attention.in_proj_weight").sizes(),
            (Shape{48, 16}));
  EXPECT_EQ(sd.at("encoder.layers.encoder_layer_1.mlp.3.weight").sizes(), (Shape{16, 32}));
  EXPECT_EQ(sd.version("encoder.layers.encoder_layer_0.mlp"), 2);
  // The head is zero, so a fresh model says 0 for every class.
  EXPECT_EQ(stats_of(net.eval()(randn({2, 3, 16, 16}))).max, 0);
  EXPECT_EQ(stats_of(net(randn({2, 3, 16, 16}))).min, 0);
  EXPECT_EQ(stats_of(sd.at("class_token")).max, 0);
  // MLP biases N(0, 1e-6^2); patchify stem truncated normal with std sqrt(1 / fan_in).
  EXPECT_LT(stats_of(sd.at("encoder.layers.encoder_layer_0.mlp.0.bias")).max, 1e-5);
  EXPECT_GT(stats_of(sd.at("encoder.layers.encoder_layer_0.mlp.0.bias")).std, 0);
  // ViT-B/16's stem (fan_in 3 * 16 * 16) and width, one layer.
  models::VisionTransformer big(16, 1, 12, 768, 3072, {.image_size = 32, .num_classes = 2});
  EXPECT_NEAR(stats_of(big.conv_proj.weight).std, std::sqrt(1.0 / 768), 0.01 / std::sqrt(768.0));
  EXPECT_NEAR(stats_of(big.encoder.pos_embedding).std, 0.02, 0.001);
  EXPECT_EQ(big.seq_length, 5);
}

TEST(VisionTransformer, RepresentationSizeAddsPreLogitsAndTanh) {
  manual_seed(13);
  models::VisionTransformer net = tiny_vit(6);
  const std::vector<std::string> keys = net.state_dict().keys();
  EXPECT_EQ(std::vector<std::string>(keys.end() - 4, keys.end()),
            (std::vector<std::string>{"heads.pre_logits.weight", "heads.pre_logits.bias",
                                      "heads.head.weight", "heads.head.bias"}));
  expect_contains(net.heads.repr(), {"(pre_logits): Linear(in_features=16, out_features=6",
                                     "(act): Tanh()", "(head): Linear(in_features=6"});
  auto& pre = dynamic_cast<nn::Linear&>(net.heads.get_submodule("pre_logits"));
  EXPECT_LE(stats_of(pre.weight).max, 2);
  EXPECT_EQ(stats_of(pre.bias).max, 0);
  EXPECT_EQ(net(randn({1, 3, 16, 16})).sizes(), (Shape{1, 3}));
}

TEST(VisionTransformer, ImageSizeNotDivisibleByPatchIsAnError) {
  // torchvision: "Input shape indivisible by patch size!" (an assert).
  const std::string e = error_of([] { models::vit_b_16({.image_size = 230}); });
  expect_contains(e, {"VisionTransformer", "image_size 230", "patch_size 16", "not divisible"});
  expect_contains(error_of([] { models::VisionTransformer(8, 1, 3, 16, 32, {.image_size = 16}); }),
                  {"embed_dim", "16", "num_heads=3"});
}

TEST(VisionTransformer, WrongInputSizeIsAShapeError) {
  models::VisionTransformer net = tiny_vit();
  net.eval();
  try {
    net(randn({1, 3, 24, 16}));
    ADD_FAILURE() << "no error";
  } catch (const ShapeError& e) {
    expect_contains(e.what(), {"wrong image height", "expected 16 but got 24", "[1, 3, 24, 16]"});
  }
  expect_contains(error_of([&] {
                    net(randn({1, 3, 16, 8}));
                  }),
                  {"wrong image width", "expected 16 but got 8"});
  expect_contains(error_of([&] { net(randn({3, 16, 16})); }), {"expected input [N, 3, 16, 16]"});
  expect_contains(error_of([&] {
                    net.encoder(randn({1, 4, 16}));
                  }),
                  {"Encoder", "(N, 5, 16)", "[1, 4, 16]"});
}

TEST(VisionTransformer, LoadsTheMlpKeysOfTorchvisionBefore013) {
  manual_seed(14);
  models::VisionTransformer source = tiny_vit();
  nn::init::normal_(source.heads.get_parameter("head.weight"));
  const nn::StateDict current = source.state_dict();
  const nn::StateDict legacy = with_legacy_keys(current);
  ASSERT_TRUE(legacy.contains("encoder.layers.encoder_layer_1.mlp.linear_2.bias"));
  ASSERT_FALSE(legacy.contains("encoder.layers.encoder_layer_1.mlp.3.bias"));

  // As the old files are: MLPBlock version 1, or no metadata at all; and
  // old names under version 2, which torchvision would refuse.
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE(variant);
    nn::StateDict sd = legacy;
    std::vector<std::pair<std::string, int64_t>> metadata;
    if (variant == 0)
      for (auto [prefix, version] : legacy.metadata())
        metadata.emplace_back(prefix, prefix.ends_with(".mlp") ? 1 : version);
    else if (variant == 2)
      metadata = legacy.metadata();
    sd.set_metadata(metadata);
    models::VisionTransformer target = tiny_vit();
    EXPECT_TRUE(target.load_state_dict(sd).ok());  // strict
    expect_same_parameters(target, source);
    const Tensor x = randn({1, 3, 16, 16});
    EXPECT_EQ(target.eval()(x).to_vector<float>(), source.eval()(x).to_vector<float>());
    // The caller's dict is left as it was.
    EXPECT_TRUE(sd.contains("encoder.layers.encoder_layer_0.mlp.linear_1.weight"));
  }

  // A file with both spellings is ambiguous: the old keys are unexpected.
  nn::StateDict both = current;
  both.set("encoder.layers.encoder_layer_0.mlp.linear_1.weight",
           current.at("encoder.layers.encoder_layer_0.mlp.0.weight"));
  models::VisionTransformer target = tiny_vit();
  expect_contains(error_of([&] { target.load_state_dict(both); }),
                  {"Unexpected key(s)", "encoder.layers.encoder_layer_0.mlp.linear_1.weight"});
  const nn::LoadResult r = target.load_state_dict(both, /*strict=*/false);
  EXPECT_EQ(r.unexpected_keys,
            (std::vector<std::string>{"encoder.layers.encoder_layer_0.mlp.linear_1.weight"}));
}

TEST(VisionTransformer, ReprReadsAsTorchvisions) {
  models::VisionTransformer net = tiny_vit();
  expect_contains(
      net.repr(),
      {"VisionTransformer(\n  (conv_proj): Conv2d(3, 16, kernel_size=(8, 8), stride=(8, 8))\n"
       "  (encoder): Encoder(\n    (dropout): Dropout(p=0.0, inplace=False)\n"
       "    (layers): Sequential(\n      (encoder_layer_0): EncoderBlock(\n"
       "        (ln_1): LayerNorm((16,), eps=1e-06, elementwise_affine=True)\n"
       "        (self_attention): MultiheadAttention(\n"
       "          (out_proj): NonDynamicallyQuantizableLinear(in_features=16, out_features=16, "
       "bias=True)\n        )\n",
       "        (mlp): MLPBlock(\n          (0): Linear(in_features=16, out_features=32, "
       "bias=True)\n          (1): GELU(approximate='none')\n"
       "          (2): Dropout(p=0.0, inplace=False)\n",
       "  (heads): Sequential(\n    (head): Linear(in_features=16, out_features=3, bias=True)\n"
       "  )\n)"});
}

// ---- models::create ---------------------------------------------------------------------

TEST(ModelsRegistryTransformer, CreateHonoursNumClassesAndDropout) {
  auto vit = models::create("vit_b_16", {.num_classes = 7, .dropout = 0.25});
  auto& v = dynamic_cast<models::VisionTransformer&>(*vit);
  EXPECT_EQ(v.heads.get_parameter("head.weight").sizes(), (Shape{7, 768}));
  EXPECT_EQ(v.image_size, 224);
  EXPECT_EQ(v.encoder.dropout.p, 0.25);
  EXPECT_EQ(dynamic_cast<nn::Dropout&>(v.get_submodule("encoder.layers.encoder_layer_11.mlp.4")).p,
            0.25);
  auto cnx = models::create("convnext_tiny", {.num_classes = 5, .dropout = 0.5});  // no dropout
  auto& c = dynamic_cast<models::ConvNeXt&>(*cnx);
  EXPECT_EQ(c.classifier.get_parameter("2.weight").sizes(), (Shape{5, 768}));
  EXPECT_EQ(c.state_dict().keys(), convnext().state_dict().keys());
}
