// wick::models against torchvision: the C++ half of models_interop.py.
//
//   wick_models_interop DIR CASE
//
// Reads what models_interop.py wrote for case CASE into DIR, builds the wick
// model with the arguments the script gave torchvision, compares its repr
// with torchvision's, loads torchvision's state_dict strictly and compares
// eval logits (float32), then in float64 train logits, the cross-entropy
// loss, every parameter gradient and the buffers after the training step
// (each within 1e-4 of the reference's largest magnitude). For resnet18 it
// also loads the float16 checkpoint into the float32 model; for DenseNets
// the state_dict with torchvision's legacy key names; for the ViTs, the
// checkpoint with torchvision < 0.13's MLP key names; for RegNets it
// recomputes torchvision's BlockParams for the settings the script wrote.
// Then writes a freshly initialised model's state_dict and eval logits on an
// input of the case's size (CASE_wick.pt, CASE_wick_io.pt) for the script to
// load into torchvision. Prints each failure; exits 1 if any.
#include <chrono>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/core/random.h"
#include "wick/core/value.h"
#include "wick/io/serialize.h"
#include "wick/models/models.h"
#include "wick/nn/functional.h"
#include "wick/nn/init.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/reduce.h"

namespace models = wick::models;
namespace nn = wick::nn;
using wick::Tensor;

namespace {

constexpr double kTol = 1e-4;
constexpr int64_t kClasses = 10;
int failures = 0;

/// The builders with the arguments models_interop.py passes torchvision.
const std::map<std::string, std::function<std::unique_ptr<nn::Module>()>>& builders() {
  static const std::map<std::string, std::function<std::unique_ptr<nn::Module>()>> b = {
      {"resnet18",
       [] {
         return std::make_unique<models::ResNet>(models::resnet18({.num_classes = kClasses}));
       }},
      {"resnet34",
       [] {
         return std::make_unique<models::ResNet>(models::resnet34({.num_classes = kClasses}));
       }},
      {"resnet50",
       [] {
         return std::make_unique<models::ResNet>(
             models::resnet50({.num_classes = kClasses, .zero_init_residual = true}));
       }},
      {"resnet101",
       [] {
         return std::make_unique<models::ResNet>(models::resnet101({.num_classes = kClasses}));
       }},
      {"resnet152",
       [] {
         return std::make_unique<models::ResNet>(models::resnet152({.num_classes = kClasses}));
       }},
      {"resnext50_32x4d",
       [] {
         return std::make_unique<models::ResNet>(
             models::resnext50_32x4d({.num_classes = kClasses}));
       }},
      {"wide_resnet50_2",
       [] {
         return std::make_unique<models::ResNet>(models::wide_resnet50_2(
             {.num_classes = kClasses, .replace_stride_with_dilation = {false, true, true}}));
       }},
      {"vgg11",
       [] {
         return std::make_unique<models::VGG>(
             models::vgg11({.num_classes = kClasses, .dropout = 0}));
       }},
      {"vgg16",
       [] {
         return std::make_unique<models::VGG>(
             models::vgg16({.num_classes = kClasses, .dropout = 0}));
       }},
      {"vgg16_bn",
       [] {
         return std::make_unique<models::VGG>(
             models::vgg16_bn({.num_classes = kClasses, .dropout = 0}));
       }},
      {"alexnet",
       [] {
         return std::make_unique<models::AlexNet>(
             models::alexnet({.num_classes = kClasses, .dropout = 0}));
       }},
      {"densenet121",
       [] {
         return std::make_unique<models::DenseNet>(
             models::densenet121({.num_classes = kClasses, .drop_rate = 0}));
       }},
      {"squeezenet1_0",
       [] {
         return std::make_unique<models::SqueezeNet>(
             models::squeezenet1_0({.num_classes = kClasses, .dropout = 0}));
       }},
      {"squeezenet1_1",
       [] {
         return std::make_unique<models::SqueezeNet>(
             models::squeezenet1_1({.num_classes = kClasses, .dropout = 0}));
       }},
      {"shufflenet_v2_x1_0",
       [] {
         return std::make_unique<models::ShuffleNetV2>(
             models::shufflenet_v2_x1_0({.num_classes = kClasses}));
       }},
      {"regnet_y_400mf",
       [] {
         return std::make_unique<models::RegNet>(models::regnet_y_400mf({.num_classes = kClasses}));
       }},
      {"mobilenet_v2",
       [] {
         return std::make_unique<models::MobileNetV2>(
             models::mobilenet_v2({.num_classes = kClasses, .dropout = 0}));
       }},
      {"mobilenet_v3_small",
       [] {
         return std::make_unique<models::MobileNetV3>(
             models::mobilenet_v3_small({.num_classes = kClasses, .dropout = 0}));
       }},
      {"mobilenet_v3_large",
       [] {
         return std::make_unique<models::MobileNetV3>(
             models::mobilenet_v3_large({.num_classes = kClasses, .dropout = 0}));
       }},
      {"efficientnet_b0",
       [] {
         return std::make_unique<models::EfficientNet>(models::efficientnet_b0(
             {.num_classes = kClasses, .dropout = 0, .stochastic_depth_prob = 0}));
       }},
      {"convnext_tiny",
       [] {
         return std::make_unique<models::ConvNeXt>(
             models::convnext_tiny({.stochastic_depth_prob = 0, .num_classes = kClasses}));
       }},
      {"vit_b_16",
       [] {
         return std::make_unique<models::VisionTransformer>(
             models::vit_b_16({.dropout = 0, .attention_dropout = 0, .num_classes = kClasses}));
       }},
      {"vit_b_16_64px",
       [] {
         return std::make_unique<models::VisionTransformer>(models::vit_b_16(
             {.image_size = 64, .dropout = 0, .attention_dropout = 0, .num_classes = kClasses}));
       }},
  };
  return b;
}

/// Rounding noise allowed on top: some gradients are exactly zero in exact
/// arithmetic (a convolution's bias followed by BatchNorm) and only noise of
/// about 1e-17 in float64, so their largest magnitude is no scale.
constexpr double kNoise = 1e-12;

/// Checks |actual - expected| <= kTol * max|expected| + kNoise.
void expect_close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  if (!actual.defined() || actual.sizes() != expected.sizes()) {
    std::cout << "FAIL " << what << ": missing or wrong shape\n";
    ++failures;
    return;
  }
  Tensor a = actual.to(wick::DType::Float64), e = expected.to(wick::DType::Float64);
  const double scale = e.abs().max().item<double>();
  const double diff = (a - e).abs().max().item<double>();
  if (diff > kTol * scale + kNoise || std::isnan(diff)) {
    std::cout << "FAIL " << what << ": differs by " << diff << " (scale " << scale << ")\n";
    ++failures;
  }
}

Tensor eval_logits(nn::Module& model, const Tensor& x) {
  wick::NoGradGuard no_grad;
  model.eval();
  return model(x);
}

/// torchvision's legacy DenseNet names load strictly and give the same model
/// (the dense layers' num_batches_tracked, absent from such files, start at 0).
void compare_densenet_legacy(const std::string& dir, const std::string& name,
                             const nn::StateDict& sd, const Tensor& x, const Tensor& expected) {
  const nn::StateDict legacy(wick::io::load(dir + "/" + name + "_legacy.pt"));
  std::unique_ptr<nn::Module> model = builders().at(name)();
  model->load_state_dict(legacy);  // strict
  for (const auto& [key, t] : model->state_dict()) {
    if (key.find("denselayer") != std::string::npos && key.ends_with("num_batches_tracked")) {
      if (t.item<int64_t>() != 0) {
        std::cout << "FAIL " << name << " legacy " << key << " is not 0\n";
        ++failures;
      }
    } else {
      expect_close(t, sd.at(key), name + " legacy " + key);
    }
  }
  expect_close(eval_logits(*model, x), expected, name + " legacy eval logits");
}

std::vector<int64_t> ints(const wick::Value& list) {
  std::vector<int64_t> out;
  for (const wick::Value& v : list.as_list()) out.push_back(v.as_int());
  return out;
}

/// RegNetBlockParams::from_init_params against torchvision's BlockParams for
/// every case models_interop.py wrote (None: torchvision refuses the settings).
void compare_regnet_params(const std::string& dir) {
  const wick::Value cases = wick::io::load(dir + "/regnet_params.pt");
  for (const wick::Value& c : cases.as_list()) {
    const wick::Value& a = c["args"];
    const wick::Value& expected = c["expected"];
    std::ostringstream what;
    what << std::setprecision(17) << "RegNetBlockParams(depth=" << a["depth"].as_int()
         << ", w_0=" << a["w_0"].as_int() << ", w_a=" << a["w_a"].to_double()
         << ", w_m=" << a["w_m"].to_double() << ", group_width=" << a["group_width"].as_int()
         << ", bottleneck_multiplier=" << a["bottleneck_multiplier"].to_double() << ")";
    std::optional<double> se;
    if (!a["se_ratio"].is_none()) se = a["se_ratio"].to_double();
    std::optional<models::RegNetBlockParams> p;
    try {
      p = models::RegNetBlockParams::from_init_params(
          a["depth"].as_int(), a["w_0"].as_int(), a["w_a"].to_double(), a["w_m"].to_double(),
          a["group_width"].as_int(), a["bottleneck_multiplier"].to_double(), se);
    } catch (const wick::Error& e) {
      if (!expected.is_none()) {
        std::cout << "FAIL " << what.str() << ": " << e.what() << "\n";
        ++failures;
      }
      continue;
    }
    if (expected.is_none()) {
      std::cout << "FAIL " << what.str() << ": torchvision refuses it, wick does not\n";
      ++failures;
      continue;
    }
    std::vector<double> multipliers;
    for (const wick::Value& v : expected["bottleneck_multipliers"].as_list())
      multipliers.push_back(v.to_double());
    std::optional<double> expected_se;
    if (!expected["se_ratio"].is_none()) expected_se = expected["se_ratio"].to_double();
    if (p->depths != ints(expected["depths"]) || p->widths != ints(expected["widths"]) ||
        p->group_widths != ints(expected["group_widths"]) ||
        p->strides != ints(expected["strides"]) || p->bottleneck_multipliers != multipliers ||
        p->se_ratio != expected_se) {
      auto list = [](const auto& v) {
        std::ostringstream os;
        os << "[";
        for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
        return os.str() + "]";
      };
      std::cout << "FAIL " << what.str() << ": wick's depths " << list(p->depths) << ", widths "
                << list(p->widths) << ", group widths " << list(p->group_widths)
                << " differ from torchvision's " << expected.repr() << "\n";
      ++failures;
    }
  }
}

/// Returns the sizes of the reference input.
wick::Shape compare(const std::string& dir, const std::string& name) {
  const nn::StateDict sd(wick::io::load(dir + "/" + name + "_sd.pt"));
  const wick::Value io = wick::io::load(dir + "/" + name + "_io.pt");
  const Tensor x = io["x"].as_tensor();
  std::unique_ptr<nn::Module> model = builders().at(name)();
  if (const std::string expected = io["repr"].as_string(); model->repr() != expected) {
    std::cout << "FAIL " << name << " repr differs from torchvision's:\n"
              << model->repr() << "\n---- torchvision:\n"
              << expected << "\n";
    ++failures;
  }
  model->load_state_dict(sd);  // strict: throws on any mismatch
  expect_close(eval_logits(*model, x), io["eval"].as_tensor(), name + " eval logits");

  // Training in float64, as models_interop.py does (it says why).
  model->to(wick::DType::Float64).train();
  Tensor logits = (*model)(x.to(wick::DType::Float64));
  Tensor loss = nn::functional::cross_entropy(logits, io["target"].as_tensor());
  loss.backward();
  expect_close(logits, io["train"].as_tensor(), name + " train logits");
  expect_close(loss, io["loss"].as_tensor(), name + " loss");
  const nn::StateDict grads(io["grads"]);
  for (const auto& [key, p] : model->named_parameters())
    expect_close(p.grad(), grads.at(key), name + " grad " + key);
  const nn::StateDict after(io["after"]);
  const nn::StateDict now = model->state_dict();
  for (const auto& [key, v] : after) expect_close(now.at(key), v, name + " after step " + key);

  if (name.starts_with("densenet"))
    compare_densenet_legacy(dir, name, sd, x, io["eval"].as_tensor());
  if (name.starts_with("regnet")) compare_regnet_params(dir);

  if (name == "resnet18") {
    // float16 tensors load into the float32 model, converted as copy_ does.
    std::unique_ptr<nn::Module> m = builders().at(name)();
    m->load_state_dict(wick::io::load(dir + "/resnet18_half.pt"));
    const wick::Value half_io = wick::io::load(dir + "/resnet18_half_io.pt");
    expect_close(eval_logits(*m, x), half_io["eval"].as_tensor(), "resnet18 float16 eval logits");
  }
  if (dynamic_cast<models::VisionTransformer*>(model.get())) {
    // mlp.linear_1 / mlp.linear_2, as torchvision < 0.13 named them: loads
    // strictly, every tensor where torchvision's new names put it.
    model->load_state_dict(wick::io::load(dir + "/" + name + "_legacy.pt"));
    const nn::StateDict loaded = model->state_dict();
    for (const auto& [key, v] : sd)
      if (!wick::equal(loaded.at(key), v.to(wick::DType::Float64))) {
        std::cout << "FAIL " << name << " legacy keys: " << key << " differs\n";
        ++failures;
      }
  }
  return x.sizes();
}

/// Whether every element of `t` equals the first.
bool constant(const Tensor& t) {
  const Tensor flat = t.detach().reshape({-1});
  return (flat - flat.select(0, 0)).abs().max().item<double>() == 0;
}

void write_fresh(const std::string& dir, const std::string& name, const wick::Shape& input) {
  wick::manual_seed(1);
  std::unique_ptr<nn::Module> model = builders().at(name)();
  // Parameters that start constant get random values, as the script's do: a
  // ViT's zero head would make its logits 0 whatever the other weights.
  for (const Tensor& p : model->parameters())
    if (p.numel() > 1 && constant(p)) nn::init::normal_(p, 0, 0.05);
  const Tensor x = wick::randn({1, input[1], input[2], input[3]});
  wick::io::save(model->state_dict(), dir + "/" + name + "_wick.pt");
  wick::Dict io(false);
  io.set("x", x);
  io.set("eval", eval_logits(*model, x));
  wick::io::save(wick::Value(io), dir + "/" + name + "_wick_io.pt");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: wick_models_interop DIR NAME\n";
    return 2;
  }
  const std::string dir = argv[1], name = argv[2];
  try {
    write_fresh(dir, name, compare(dir, name));
  } catch (const std::exception& e) {
    std::cout << "FAIL " << name << ": " << e.what() << "\n";
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
