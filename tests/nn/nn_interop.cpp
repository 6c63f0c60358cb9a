// Modules against the real PyTorch: the C++ half of nn_interop.py.
//
//   wick_nn_interop --gtest_filter=TorchToWick.*   (WICK_NN_INTEROP_DIR=DIR)
//       compares wick's models with what nn_interop.py observed in PyTorch
//       and wrote into DIR: state_dict layout, module names, reprs, outputs
//       of PyTorch's weights, load_state_dict messages, init statistics.
//   wick_nn_interop write DIR
//       writes wick's state_dicts, inputs and outputs for nn_interop.py to
//       load into PyTorch.
//   wick_nn_interop --gtest_filter=Trajectory.*
//       replays the PyTorch 2.11 SGD trajectory fixture (no Python needed).
//
// The models mirror the ones in nn_interop.py; keep them the same structure.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "wick/autograd/grad_mode.h"
#include "wick/core/random.h"
#include "wick/io/serialize.h"
#include "wick/nn/activation.h"
#include "wick/nn/container.h"
#include "wick/nn/conv.h"
#include "wick/nn/dropout.h"
#include "wick/nn/embedding.h"
#include "wick/nn/functional.h"
#include "wick/nn/linear.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"
#include "wick/nn/pooling.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"
#include "wick/optim/sgd.h"

#include "seed_net.h"

namespace nn = wick::nn;
using json = nlohmann::json;
using wick::Tensor;

// ---- the models (mirrored in nn_interop.py) ------------------------------------

/// The seed Net of the recipe "What is a state_dict".
using Net = wick::testing::SeedNet;

/// BatchNorm in its variants: affine=False, track_running_stats=False,
/// momentum=None.
struct BNNet : nn::Module {
  nn::Conv2d& conv1 = register_module("conv1", nn::Conv2d(3, 8, 3, {.padding = 1, .bias = false}));
  nn::BatchNorm2d& bn1 = register_module("bn1", nn::BatchNorm2d(8));
  nn::ReLU& relu = register_module("relu", nn::ReLU());
  nn::Conv2d& conv2 = register_module("conv2", nn::Conv2d(8, 16, 3, {.stride = 2}));
  nn::BatchNorm2d& bn2 =
      register_module("bn2", nn::BatchNorm2d(16, {.momentum = 0.2, .affine = false}));
  nn::AdaptiveAvgPool2d& pool = register_module("pool", nn::AdaptiveAvgPool2d(1));
  nn::Flatten& flatten = register_module("flatten", nn::Flatten());
  nn::Linear& fc1 = register_module("fc1", nn::Linear(16, 32));
  nn::BatchNorm1d& bn3 =
      register_module("bn3", nn::BatchNorm1d(32, {.track_running_stats = false}));
  nn::Linear& fc2 = register_module("fc2", nn::Linear(32, 10));
  nn::BatchNorm1d& bn4 =
      register_module("bn4", nn::BatchNorm1d(10, {.eps = 1e-3, .momentum = std::nullopt}));

  Tensor forward(const Tensor& input) override {
    Tensor x = relu(bn1(conv1(input)));
    x = relu(bn2(conv2(x)));
    x = flatten(pool(x));
    x = relu(bn3(fc1(x)));
    return bn4(fc2(x));
  }
};

nn::Sequential make_features() {
  nn::Sequential f;
  f.push_back(nn::Sequential(nn::Conv2d(3, 4, 3, {.padding = 1}), nn::ReLU(/*inplace=*/true)));
  f.push_back(nn::MaxPool2d(3, {.stride = 2, .padding = 1, .ceil_mode = true}));
  f.push_back(nn::AvgPool2d(3, {.stride = 1, .padding = 1, .count_include_pad = false}));
  f.push_back(nn::Conv2d(4, 8, 3));
  f.push_back(nn::Sigmoid());
  f.push_back(nn::MaxPool2d({2, 2}, {.stride = 1, .dilation = 2}));
  f.push_back(nn::AvgPool2d(2));
  f.push_back(nn::AdaptiveAvgPool2d({std::nullopt, 3}));
  f.push_back(nn::Flatten());
  return f;
}

nn::ModuleDict make_heads() {
  nn::ModuleDict heads;
  heads.insert("cls", nn::Sequential(nn::Linear(16, 5), nn::LogSoftmax(1)));
  heads.insert("prob", nn::Softmax(1));
  heads.insert("skip", nn::Identity());
  return heads;
}

/// Containers inside containers and every parameterless layer.
struct Nested : nn::Module {
  nn::Sequential& features = register_module("features", make_features());
  nn::ModuleList& blocks = register_module(
      "blocks",
      nn::ModuleList(nn::Linear(48, 16), nn::Tanh(), nn::LayerNorm(16), nn::Dropout(0.25)));
  nn::ModuleDict& heads = register_module("heads", make_heads());
  nn::Embedding& emb = register_module("emb", nn::Embedding(10, 16, {.padding_idx = 0}));
  nn::AdaptiveAvgPool2d& gap = register_module("gap", nn::AdaptiveAvgPool2d(1));
  Tensor tokens =
      register_buffer("tokens", wick::tensor<int64_t>({0, 3, 5, 9}), /*persistent=*/false);

  Tensor forward(const Tensor& x) override {
    Tensor h = features(x);
    for (nn::Module& block : blocks) h = block(h);
    h = h + emb(tokens).mean({0});
    h = heads["skip"](h);
    h = heads["prob"](heads["cls"](h));
    return h + gap(x).flatten(1).sum({1}, true);
  }
};

struct ModelSpec {
  std::function<std::unique_ptr<nn::Module>()> make;
  wick::Shape input;
  bool train;  // compare train-mode outputs (no Dropout in the model)
};

const std::map<std::string, ModelSpec>& models() {
  static const std::map<std::string, ModelSpec> m = {
      {"net", {[] { return std::make_unique<Net>(); }, {4, 3, 32, 32}, true}},
      {"bnnet", {[] { return std::make_unique<BNNet>(); }, {6, 3, 12, 12}, true}},
      {"nested", {[] { return std::make_unique<Nested>(); }, {2, 3, 16, 16}, false}},
  };
  return m;
}

// ---- helpers ------------------------------------------------------------------

/// Eval output, then (if `train`) train output and a copy of the state_dict after it.
struct Outputs {
  Tensor eval, train;
  nn::StateDict after_train;
};

Outputs run_model(nn::Module& model, const Tensor& x, bool train) {
  wick::NoGradGuard no_grad;
  Outputs out;
  model.eval();
  out.eval = model(x);
  if (train) {
    model.train();
    out.train = model(x);
    for (const auto& [k, v] : model.state_dict()) out.after_train.set(k, v.clone());
    out.after_train.set_metadata(model.state_dict().metadata());
  }
  return out;
}

/// Largest |a - b| beyond 1e-5 + 1e-5 |b|, as nn_interop.py's close(); 0 when within.
double excess(const Tensor& a, const Tensor& b) {
  auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < av.size(); ++i) {
    double d = std::abs(av[i] - bv[i]) - (1e-5 + 1e-5 * std::abs(bv[i]));
    if (!(d <= 0)) worst = std::max(worst, std::isnan(d) ? INFINITY : d);
  }
  return worst;
}

void expect_close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  EXPECT_EQ(excess(actual, expected), 0.0) << what << ": differs by more than 1e-5";
}

std::string dir() {
  const char* d = std::getenv("WICK_NN_INTEROP_DIR");
  return d ? d : "";
}

const json& cases() {
  static const json j = [] {
    std::ifstream f(dir() + "/cases.json");
    if (!f) return json();
    return json::parse(f);
  }();
  return j;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

/// True when every line of `torch` appears in `wick` in order and the lines
/// wick adds all mention `module.` (the prefix hint).
bool torch_lines_with_prefix_hint(const std::string& wick_msg, const std::string& torch_msg) {
  auto w = lines(wick_msg), t = lines(torch_msg);
  size_t j = 0;
  int extra = 0;
  for (const auto& line : w) {
    if (j < t.size() && line == t[j]) {
      ++j;
    } else {
      if (line.find("module.") == std::string::npos) return false;
      ++extra;
    }
  }
  return j == t.size() && extra > 0;
}

// ---- torch -> wick ------------------------------------------------------------

class TorchToWick : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir().empty()) << "set WICK_NN_INTEROP_DIR (nn_interop.py does)";
    ASSERT_TRUE(cases().is_object()) << "no cases.json in " << dir();
    c_ = cases()["models"][GetParam()];
    model_ = models().at(GetParam()).make();
  }
  std::string path(const std::string& file) const { return dir() + "/" + file; }

  json c_;
  std::unique_ptr<nn::Module> model_;
};

TEST_P(TorchToWick, StateDictLayout) {
  nn::StateDict sd = model_->state_dict();
  json got = json::array();
  for (const auto& [k, v] : sd)
    got.push_back(
        {k, json(std::vector<int64_t>(v.sizes())), std::string(wick::dtype_name(v.dtype()))});
  EXPECT_EQ(got.dump(1), c_["state_dict"].dump(1));
  json meta = json::array();
  for (const auto& [prefix, version] : sd.metadata()) meta.push_back({prefix, version});
  EXPECT_EQ(meta.dump(), c_["metadata"].dump());
}

TEST_P(TorchToWick, Names) {
  std::vector<std::string> params, buffers, children;
  for (const auto& [n, t] : model_->named_parameters()) params.push_back(n);
  for (const auto& [n, t] : model_->named_buffers()) buffers.push_back(n);
  for (const auto& [n, m] : model_->named_children()) children.push_back(n);
  json modules = json::array();
  for (const auto& [n, m] : model_->named_modules()) modules.push_back({n, m->name()});
  EXPECT_EQ(json(params), c_["named_parameters"]);
  EXPECT_EQ(json(buffers), c_["named_buffers"]);
  EXPECT_EQ(json(children), c_["named_children"]);
  EXPECT_EQ(modules.dump(1), c_["named_modules"].dump(1));
}

TEST_P(TorchToWick, Repr) {
  std::ostringstream s;
  s << *model_;
  EXPECT_EQ(s.str(), c_["repr"].get<std::string>());
  EXPECT_EQ(model_->name(), c_["class"].get<std::string>());
}

TEST_P(TorchToWick, LoadTorchWeightsAndCompareOutputs) {
  nn::LoadResult r = model_->load_state_dict(wick::io::load(path(GetParam() + "_sd.pt")));
  EXPECT_TRUE(r.ok());
  wick::Value io = wick::io::load(path(GetParam() + "_io.pt"));
  bool train = c_["train"].get<bool>();
  Outputs out = run_model(*model_, io["x"].as_tensor(), train);
  expect_close(out.eval, io["eval"].as_tensor(), "eval output");
  if (!train) return;
  expect_close(out.train, io["train"].as_tensor(), "train output");
  nn::StateDict expected(io["after_train"]);
  ASSERT_EQ(out.after_train.keys(), expected.keys());
  for (const auto& [k, v] : expected) {
    EXPECT_EQ(out.after_train.at(k).dtype(), v.dtype()) << k;
    expect_close(out.after_train.at(k), v, k + " after a training step");
  }
}

/// Values of a state_dict, copied, to tell whether a failed load changed anything.
std::vector<std::vector<double>> snapshot(const nn::Module& m) {
  std::vector<std::vector<double>> out;
  for (const auto& [k, v] : m.state_dict()) out.push_back(v.to_vector<double>());
  return out;
}

TEST_P(TorchToWick, LoadStateDictMessages) {
  for (const auto& [variant, e] : c_["errors"].items()) {
    SCOPED_TRACE(variant);
    nn::StateDict bad(wick::io::load(path(e["file"].get<std::string>())));
    for (bool strict : {true, false}) {
      SCOPED_TRACE(strict ? "strict" : "non-strict");
      std::string expected = e[strict ? "strict" : "non_strict"].get<std::string>();
      auto model = models().at(GetParam()).make();
      auto before = snapshot(*model);
      std::string got;
      try {
        std::ostringstream s;
        s << model->load_state_dict(bad, strict);
        got = "ok: " + s.str();
      } catch (const wick::Error& err) {
        got = std::string("error: ") + err.what();
        EXPECT_EQ(snapshot(*model), before) << "a failed load changed the model";
      }
      if (variant == "prefix" && strict)
        EXPECT_TRUE(torch_lines_with_prefix_hint(got, expected)) << "wick:\n"
                                                                 << got << "\ntorch:\n"
                                                                 << expected;
      else
        EXPECT_EQ(got, expected);
      if (variant == "legacy" && strict) {
        nn::StateDict loaded(wick::io::load(path("bnnet_legacy_loaded.pt")));
        for (const auto& [k, v] : loaded) expect_close(model->state_dict().at(k), v, k);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TorchToWick, ::testing::Values("net", "bnnet", "nested"),
                         [](const auto& info) { return info.param; });

/// A fresh layer of the spec nn_interop.py describes.
std::unique_ptr<nn::Module> make_layer(const json& e) {
  std::string layer = e["layer"];
  std::vector<int64_t> a = e["args"];
  if (layer == "Linear") return std::make_unique<nn::Linear>(a[0], a[1]);
  if (layer == "Conv2d")
    return std::make_unique<nn::Conv2d>(a[0], a[1], wick::nn::functional::Pair(a[2], a[3]),
                                        nn::Conv2dOptions{.groups = a[4]});
  if (layer == "Embedding") return std::make_unique<nn::Embedding>(a[0], a[1]);
  if (layer == "BatchNorm2d") return std::make_unique<nn::BatchNorm2d>(a[0]);
  if (layer == "BatchNorm1d") return std::make_unique<nn::BatchNorm1d>(a[0]);
  if (layer == "LayerNorm") return std::make_unique<nn::LayerNorm>(a[0]);
  return nullptr;
}

// Statistics of wick's default initialisation against PyTorch's for the same
// shapes. The shapes are large, so the tolerances (6 standard errors of each
// statistic) are tight enough that a wrong bound or fan fails, while the seed
// does not matter. Constant initialisations must match exactly.
TEST(TorchToWickInit, DefaultInitDistributions) {
  ASSERT_TRUE(cases().is_object()) << "no cases.json in " << dir();
  ASSERT_FALSE(cases()["init"].empty());
  for (const auto& e : cases()["init"]) {
    std::string what =
        e["layer"].get<std::string>() + e["args"].dump() + "." + e["tensor"].get<std::string>();
    SCOPED_TRACE(what);
    auto layer = make_layer(e);
    ASSERT_TRUE(layer);
    Tensor t;
    for (const auto& [n, p] : layer->named_parameters())
      if (n == e["tensor"]) t = p;
    for (const auto& [n, b] : layer->named_buffers())
      if (n == e["tensor"]) t = b;
    ASSERT_TRUE(t.defined());
    EXPECT_EQ(json(std::vector<int64_t>(t.sizes())), e["shape"]);
    EXPECT_EQ(std::string(wick::dtype_name(t.dtype())), e["dtype"].get<std::string>());

    auto v = t.to_vector<double>();
    double n = double(v.size()), lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
    for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x), sum += x;
    double mean = sum / n;
    for (double x : v) sq += (x - mean) * (x - mean);
    double sd = n > 1 ? std::sqrt(sq / (n - 1)) : 0;

    const json& s = e["stats"];
    double tn = s["n"], tmin = s["min"], tmax = s["max"], tmean = s["mean"], tsd = s["std"];
    ASSERT_EQ(n, tn);
    if (tsd == 0) {  // a constant: ones, zeros
      EXPECT_EQ(lo, tmin);
      EXPECT_EQ(hi, tmax);
      EXPECT_EQ(sd, 0);
      continue;
    }
    EXPECT_NEAR(mean, tmean, 6 * std::sqrt((tsd * tsd + sd * sd) / n)) << "mean";
    EXPECT_NEAR(sd, tsd, 6 * tsd * std::sqrt(1 / n)) << "std";
    if (e["bounded"].get<bool>()) {
      // Uniform: with thousands of draws both extremes come within 1% of
      // the bound, so they must agree with PyTorch's to 1% of the range.
      EXPECT_NEAR(lo, tmin, 0.01 * (tmax - tmin)) << "min";
      EXPECT_NEAR(hi, tmax, 0.01 * (tmax - tmin)) << "max";
    }
  }
}

// ---- wick -> torch --------------------------------------------------------------

/// Writes, per model, NAME_sd.pt (wick's state_dict) and NAME_io.pt (input,
/// outputs, state_dict after a training step) for nn_interop.py.
int write_files(const std::string& out) {
  wick::manual_seed(7);
  for (const auto& [name, spec] : models()) {
    auto model = spec.make();
    if (name == "bnnet") {
      // One training batch first, so that the running statistics PyTorch
      // loads are not the initial zeros and ones.
      wick::NoGradGuard no_grad;
      model->train();
      (*model)(wick::randn(spec.input));
    }
    wick::io::save(model->state_dict(), out + "/" + name + "_sd.pt");
    Tensor x = wick::randn(spec.input);
    Outputs o = run_model(*model, x, spec.train);
    wick::Dict io(false);
    io.set("x", x);
    io.set("eval", o.eval);
    if (spec.train) {
      io.set("train", o.train);
      io.set("after_train", o.after_train.to_value());
    }
    wick::io::save(wick::Value(io), out + "/" + name + "_io.pt");
    std::cout << "wrote " << out << "/" << name << "_{sd,io}.pt\n";
  }
  return 0;
}

// ---- the PyTorch 2.11 trajectory fixture -----------------------------------------

// tests/fixtures/torch-2.11/trajectory.pt: the seed Net, SGD(lr, momentum), 10
// steps of cross-entropy on xs / ys, run by PyTorch 2.11 on a GPU. Tolerances:
// PyTorch 1.13 on the CPU (float32, or float64) reproduces the fixture's losses
// to about 3e-7 and its final weights to about 2e-8, so the GPU run is float32
// arithmetic with ordinary rounding. wick's kernels sum in other orders, which
// moves each result by a few float32 ulps. We allow 1e-5 on losses (about 2.3:
// 4e-6 relative) and 1e-6 + 1e-5 relative on weights and momentum buffers;
// the weights move by up to ~1e-2 over the run and one step by ~1e-3, so a
// wrong update rule, learning rate, momentum or a skipped step fails by
// orders of magnitude.
TEST(Trajectory, SeedNetSgdMomentumMatchesPyTorch211) {
  wick::Value fx =
      wick::io::load(std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/trajectory.pt");
  Net net;
  ASSERT_TRUE(net.load_state_dict(fx["init"]).ok());
  wick::optim::SGD opt(net.parameters(),
                       {.lr = fx["lr"].to_double(), .momentum = fx["momentum"].to_double()});
  Tensor xs = fx["xs"].as_tensor(), ys = fx["ys"].as_tensor();
  std::vector<double> expected_losses = fx["losses"].as_tensor().to_vector<double>();
  ASSERT_EQ(int64_t(expected_losses.size()), xs.size(0));
  for (int64_t i = 0; i < xs.size(0); ++i) {
    opt.zero_grad();
    Tensor loss = wick::nn::functional::cross_entropy(net(xs[i]), ys[i]);
    EXPECT_NEAR(loss.item<double>(), expected_losses[size_t(i)], 1e-5) << "loss before step " << i;
    loss.backward();
    opt.step();
  }
  auto expect_near = [](const Tensor& got, const Tensor& want, const std::string& what) {
    ASSERT_EQ(got.sizes(), want.sizes()) << what;
    auto g = got.to_vector<double>(), w = want.to_vector<double>();
    double worst = 0;
    for (size_t j = 0; j < g.size(); ++j)
      worst = std::max(worst, std::abs(g[j] - w[j]) - 1e-5 * std::abs(w[j]));
    EXPECT_LE(worst, 1e-6) << what;
  };
  nn::StateDict final_sd(fx["final"]);
  nn::StateDict sd = net.state_dict();
  ASSERT_EQ(sd.keys(), final_sd.keys());
  for (const auto& [k, v] : final_sd) expect_near(sd.at(k), v, "final " + k);
  // The momentum buffers, by parameter index as PyTorch numbers them.
  wick::Value state = opt.state_dict()["state"];
  wick::Value fstate = fx["optimizer"]["state"];
  ASSERT_EQ(state.size(), fstate.size());
  for (int64_t i = 0; i < int64_t(fstate.size()); ++i)
    expect_near(state[i]["momentum_buffer"].as_tensor(), fstate[i]["momentum_buffer"].as_tensor(),
                "momentum_buffer " + std::to_string(i));
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "write") {
    try {
      return write_files(argv[2]);
    } catch (const std::exception& e) {
      std::cerr << "wick_nn_interop write: " << e.what() << "\n";
      return 1;
    }
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
