// Optimizers: option dicts, state layout, state_dict round trips, errors and
// repr. Trajectories against the real PyTorch are in tests/optim.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/io/serialize.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"
#include "wick/optim/adagrad.h"
#include "wick/optim/adam.h"
#include "wick/optim/rmsprop.h"
#include "wick/optim/sgd.h"

using namespace wick;
using optim::ParamGroup;

namespace {

std::vector<Tensor> make_params(int n, DType dtype = DType::Float32) {
  std::vector<Tensor> ps;
  for (int i = 0; i < n; ++i) {
    Tensor p = arange(0, 2 * (i + 1), 1, dtype).reshape({i + 1, 2}).clone();
    p.requires_grad_();
    ps.push_back(p);
  }
  return ps;
}

void set_grads(const std::vector<Tensor>& ps, double base) {
  for (size_t i = 0; i < ps.size(); ++i)
    ps[i].set_grad(full(ps[i].sizes(), base + 0.25 * double(i), {.dtype = ps[i].dtype()}));
}

std::vector<std::string> keys(const Dict& d) {
  std::vector<std::string> out;
  for (const auto& [k, v] : d) out.push_back(k.as_string());
  return out;
}

std::string thrown(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<nothing thrown>";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST(OptimSGD, RecipeStateDictPrintsAsPyTorch) {
  auto ps = make_params(10);
  optim::SGD opt(ps, {.lr = 0.001, .momentum = 0.9});
  EXPECT_EQ(opt.state_dict().repr(),
            "{'state': {}, 'param_groups': [{'lr': 0.001, 'momentum': 0.9, 'dampening': 0, "
            "'weight_decay': 0, 'nesterov': False, 'maximize': False, 'foreach': None, "
            "'differentiable': False, 'fused': None, 'params': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}]}");
}

TEST(OptimSGD, ReprAsPyTorch) {
  auto ps = make_params(2);
  optim::SGD opt(ps, {.lr = 0.001, .momentum = 0.9});
  EXPECT_EQ(opt.repr(),
            "SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: False\n"
            "    foreach: None\n    fused: None\n    lr: 0.001\n    maximize: False\n"
            "    momentum: 0.9\n    nesterov: False\n    weight_decay: 0\n)");
  optim::SGD two({{{ps[0]}}, {{ps[1]}, {{"lr", 0.5}}}}, {.lr = 0.1});
  EXPECT_TRUE(contains(two.repr(), "Parameter Group 1\n    dampening: 0\n"));
  EXPECT_TRUE(contains(two.repr(), "    lr: 0.5\n"));
}

TEST(OptimAdam, GroupKeysOrderAndTypes) {
  auto ps = make_params(2);
  optim::Adam adam(ps);
  const Dict& g = adam.param_groups()[0].options;
  EXPECT_EQ(keys(g), (std::vector<std::string>{
                         "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach",
                         "capturable", "differentiable", "fused", "decoupled_weight_decay"}));
  EXPECT_TRUE(g.at("betas").is_tuple());
  EXPECT_TRUE(g.at("weight_decay").is_int());
  EXPECT_TRUE(g.at("eps").is_float());
  EXPECT_TRUE(g.at("foreach").is_none());
  EXPECT_FALSE(g.at("decoupled_weight_decay").as_bool());

  optim::AdamW adamw(ps);
  const Dict& w = adamw.param_groups()[0].options;
  EXPECT_EQ(keys(w), keys(g));
  EXPECT_TRUE(w.at("weight_decay").is_float());
  EXPECT_EQ(w.at("weight_decay").as_float(), 0.01);
  EXPECT_TRUE(w.at("decoupled_weight_decay").as_bool());
  EXPECT_EQ(adamw.name(), "AdamW");
}

TEST(OptimOthers, GroupKeysOrderAndTypes) {
  auto ps = make_params(1);
  optim::RMSprop rms(ps);
  EXPECT_EQ(keys(rms.param_groups()[0].options),
            (std::vector<std::string>{"lr", "momentum", "alpha", "eps", "centered", "weight_decay",
                                      "capturable", "foreach", "maximize", "differentiable"}));
  EXPECT_TRUE(rms.param_groups()[0]["momentum"].is_int());
  optim::RMSprop rms2(ps, {.momentum = 0.5});
  EXPECT_TRUE(rms2.param_groups()[0]["momentum"].is_float());

  optim::Adagrad ada(ps);
  EXPECT_EQ(keys(ada.param_groups()[0].options),
            (std::vector<std::string>{"lr", "lr_decay", "eps", "weight_decay",
                                      "initial_accumulator_value", "foreach", "maximize",
                                      "differentiable", "fused"}));
  EXPECT_TRUE(ada.param_groups()[0]["lr_decay"].is_int());
  EXPECT_TRUE(ada.param_groups()[0]["eps"].is_float());
}

TEST(OptimSGD, GroupOptionsOverrideDefaultsInPythonOrder) {
  auto ps = make_params(2);
  optim::SGD opt({{{ps[0]}}, {{ps[1]}, {{"momentum", 0.5}}}}, {.lr = 0.01});
  // setdefault: the group's own key first, then the remaining defaults.
  EXPECT_EQ(keys(opt.param_groups()[1].options)[0], "momentum");
  EXPECT_EQ(keys(opt.param_groups()[1].options)[1], "lr");
  EXPECT_EQ(opt.param_groups()[1].lr(), 0.01);
  Value sd = opt.state_dict();
  EXPECT_EQ(sd["param_groups"][1]["params"].repr(), "[1]");
  EXPECT_EQ(sd["param_groups"][0]["params"].repr(), "[0]");
}

TEST(OptimSGD, GroupsWithDifferentLr) {
  auto ps = make_params(2);
  Tensor before0 = ps[0].detach().clone(), before1 = ps[1].detach().clone();
  optim::SGD opt({{{ps[0]}}, {{ps[1]}, {{"lr", 0.5}}}}, {.lr = 0.125});
  ps[0].set_grad(ones(ps[0].sizes()));
  ps[1].set_grad(ones(ps[1].sizes()));
  opt.step();
  EXPECT_EQ(ps[0].at({0, 0}).to<double>(), before0.at({0, 0}).to<double>() - 0.125);
  EXPECT_EQ(ps[1].at({1, 1}).to<double>(), before1.at({1, 1}).to<double>() - 0.5);
  opt.param_groups()[0]["lr"] = 0.25;  // as optimizer.param_groups[0]['lr'] = 0.25
  opt.step();
  EXPECT_EQ(ps[0].at({0, 0}).to<double>(), before0.at({0, 0}).to<double>() - 0.375);
}

TEST(OptimSGD, MomentumByHand) {
  Tensor p = full({1}, 1.0, {.dtype = DType::Float64});
  p.requires_grad_();
  optim::SGD opt({p}, {.lr = 0.5, .momentum = 0.5});
  p.set_grad(full({1}, 1.0, {.dtype = DType::Float64}));
  opt.step();  // buf = 1, p = 0.5
  EXPECT_EQ(p.item<double>(), 0.5);
  opt.step();  // buf = 0.5 + 1 = 1.5, p = 0.5 - 0.75
  EXPECT_EQ(p.item<double>(), -0.25);
  EXPECT_EQ(opt.state(p).at("momentum_buffer").as_tensor().item<double>(), 1.5);
}

TEST(OptimSGD, StateOnlyWithMomentumAndSkipsParamsWithoutGrad) {
  auto ps = make_params(3);
  optim::SGD plain(ps, {.lr = 0.1});
  set_grads(ps, 1.0);
  plain.step();
  EXPECT_EQ(plain.state_dict()["state"].size(), 0u);

  auto qs = make_params(3);
  Tensor untouched = qs[0].detach().clone();
  optim::SGD mom(qs, {.lr = 0.1, .momentum = 0.9});
  qs[2].set_grad(ones(qs[2].sizes()));
  qs[1].set_grad(ones(qs[1].sizes()));
  mom.step();
  Value sd = mom.state_dict();
  // Indices in the order parameters got state (group order here: 1 then 2).
  ASSERT_EQ(sd["state"].size(), 2u);
  EXPECT_EQ(sd["state"].as_dict().keys()[0].as_int(), 1);
  EXPECT_EQ(sd["state"].as_dict().keys()[1].as_int(), 2);
  EXPECT_EQ(keys(sd["state"][1].as_dict()), std::vector<std::string>{"momentum_buffer"});
  EXPECT_FALSE(mom.has_state(qs[0]));
  EXPECT_EQ(qs[0].to_vector<float>(), untouched.to_vector<float>());
}

TEST(OptimAdam, StateLayout) {
  auto ps = make_params(2);
  optim::Adam opt(ps, {.amsgrad = true});
  set_grads(ps, 0.5);
  opt.step();
  opt.step();
  Value sd = opt.state_dict();
  Dict& st = sd["state"][0].as_dict();
  EXPECT_EQ(keys(st),
            (std::vector<std::string>{"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}));
  const Tensor& step = st.at("step").as_tensor();
  EXPECT_EQ(step.dtype(), DType::Float32);
  EXPECT_EQ(step.dim(), 0);
  EXPECT_EQ(step.item<double>(), 2.0);
  EXPECT_EQ(st.at("exp_avg").as_tensor().sizes(), ps[0].sizes());
  // The state_dict shares the optimizer's tensors, as PyTorch's does.
  EXPECT_TRUE(st.at("exp_avg").as_tensor().is_same(opt.state(ps[0]).at("exp_avg").as_tensor()));
}

TEST(OptimRMSprop, StateLayout) {
  auto ps = make_params(1);
  optim::RMSprop opt(ps, {.momentum = 0.9, .centered = true});
  set_grads(ps, 0.5);
  opt.step();
  EXPECT_EQ(keys(opt.state(ps[0])),
            (std::vector<std::string>{"step", "square_avg", "momentum_buffer", "grad_avg"}));
  EXPECT_EQ(opt.state(ps[0]).at("step").as_tensor().item<double>(), 1.0);
}

TEST(OptimAdagrad, StateCreatedAtConstruction) {
  auto ps = make_params(2);
  optim::Adagrad opt(ps, {.initial_accumulator_value = 0.5});
  Value sd = opt.state_dict();
  ASSERT_EQ(sd["state"].size(), 2u);
  EXPECT_EQ(keys(sd["state"][1].as_dict()), (std::vector<std::string>{"step", "sum"}));
  EXPECT_EQ(sd["state"][1]["sum"].as_tensor().at({0, 0}).to<double>(), 0.5);
  EXPECT_EQ(sd["state"][1]["step"].as_tensor().item<double>(), 0.0);
}

TEST(OptimAdam, StateDictRoundTripThroughBytes) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    auto ps = make_params(3, dtype);
    optim::Adam a(ps, {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
    for (int i = 0; i < 3; ++i) {
      set_grads(ps, 0.3 * (i + 1));
      a.step();
    }
    std::vector<Tensor> qs;
    for (const Tensor& p : ps) {
      Tensor q = p.detach().clone();
      q.requires_grad_();
      qs.push_back(q);
    }
    optim::Adam b(qs, {.lr = 0.5});
    std::vector<std::byte> bytes = io::save_bytes(a.state_dict());
    b.load_state_dict(io::load_bytes(bytes));
    EXPECT_EQ(b.param_groups()[0].lr(), 0.01);
    EXPECT_EQ(b.state_dict().repr(), a.state_dict().repr());
    for (int i = 0; i < 2; ++i) {
      set_grads(ps, -0.2 * (i + 1));
      set_grads(qs, -0.2 * (i + 1));
      a.step();
      b.step();
    }
    for (size_t i = 0; i < ps.size(); ++i) {
      if (dtype == DType::Float32)
        EXPECT_EQ(ps[i].to_vector<float>(), qs[i].to_vector<float>());
      else
        EXPECT_EQ(ps[i].to_vector<double>(), qs[i].to_vector<double>());
    }
  }
}

TEST(OptimLoad, AcceptsPyTorch1StepAndCastsToParamDtype) {
  auto ps = make_params(1);
  optim::RMSprop opt(ps);
  Dict st;
  st.set("step", int64_t(7));
  st.set("square_avg", full({1, 2}, 0.25, {.dtype = DType::Float64}));
  Dict state;
  state.set(int64_t(0), st);
  Dict group;
  group.set("lr", 0.5);
  group.set("momentum", int64_t(0));
  group.set("alpha", 0.9);
  group.set("eps", 1e-8);
  group.set("centered", false);
  group.set("weight_decay", int64_t(0));
  group.set("params", Value::list({int64_t(0)}));
  Dict sd;
  sd.set("state", state);
  sd.set("param_groups", Value::list({Value(group)}));
  opt.load_state_dict(sd);
  const Dict& loaded = opt.state(ps[0]);
  EXPECT_EQ(loaded.at("step").as_tensor().dtype(), DType::Float32);
  EXPECT_EQ(loaded.at("step").as_tensor().dim(), 0);
  EXPECT_EQ(loaded.at("step").as_tensor().item<double>(), 7.0);
  EXPECT_EQ(loaded.at("square_avg").as_tensor().dtype(), DType::Float32);
  // Missing 1.x options keep their defaults, after the loaded ones.
  EXPECT_EQ(keys(opt.param_groups()[0].options).back(), "differentiable");
  EXPECT_EQ(opt.param_groups()[0].lr(), 0.5);
  EXPECT_EQ(opt.param_groups()[0]["alpha"].as_float(), 0.9);
  // The loaded tensor is a copy, not the caller's.
  EXPECT_FALSE(loaded.at("square_avg").as_tensor().is_same(st.at("square_avg").as_tensor()));
}

TEST(OptimLoad, RefusesMismatchesWithoutChangingAnything) {
  auto ps = make_params(2);
  optim::SGD opt(ps, {.lr = 0.1, .momentum = 0.9});
  set_grads(ps, 1.0);
  opt.step();
  const std::string before = opt.state_dict().repr();

  auto other = make_params(2);
  optim::SGD two(std::vector<ParamGroup>{{{other[0]}}, {{other[1]}}}, {.lr = 0.3});
  EXPECT_TRUE(contains(thrown([&] { opt.load_state_dict(two.state_dict()); }),
                       "loaded state dict has a different number of parameter groups"));
  optim::SGD one_param({other[0]}, {.lr = 0.3});
  EXPECT_TRUE(contains(thrown([&] { opt.load_state_dict(one_param.state_dict()); }),
                       "loaded state dict contains a parameter group that doesn't match the "
                       "size of optimizer's group"));
  // Right structure, wrong state shape for the second parameter.
  Value sd = opt.state_dict();
  sd["param_groups"][0]["lr"] = 0.7;
  Dict bad;
  bad.set("momentum_buffer", zeros({5}));
  sd["state"].as_dict().set(int64_t(1), bad);
  EXPECT_TRUE(contains(thrown([&] { opt.load_state_dict(sd); }), "has size [5]"));
  EXPECT_EQ(opt.state_dict().repr(), before);
  EXPECT_EQ(opt.param_groups()[0].lr(), 0.1);
}

TEST(OptimArgs, PyTorchMessages) {
  auto ps = make_params(1);
  EXPECT_TRUE(contains(thrown([&] { optim::SGD(ps, {.lr = -1}); }), "Invalid learning rate: -1"));
  EXPECT_TRUE(contains(thrown([&] { optim::SGD(ps, {.lr = 0.1, .momentum = -0.5}); }),
                       "Invalid momentum value: -0.5"));
  EXPECT_TRUE(contains(thrown([&] { optim::SGD(ps, {.lr = 0.1, .nesterov = true}); }),
                       "Nesterov momentum requires a momentum and zero dampening"));
  EXPECT_TRUE(contains(thrown([&] {
                         optim::Adam(ps, {.betas = {1.0, 0.999}});
                       }),
                       "Invalid beta parameter at index 0: 1"));
  EXPECT_TRUE(contains(thrown([&] {
                         optim::AdamW(ps, {.betas = {0.9, -0.1}});
                       }),
                       "Invalid beta parameter at index 1: -0.1"));
  EXPECT_TRUE(
      contains(thrown([&] { optim::Adam(ps, {.eps = -1e-8}); }), "Invalid epsilon value: -1e-08"));
  EXPECT_TRUE(contains(thrown([&] { optim::RMSprop(ps, {.alpha = -1}); }), "Invalid alpha value"));
  EXPECT_TRUE(contains(thrown([&] { optim::Adagrad(ps, {.lr_decay = -1}); }),
                       "Invalid lr_decay value: -1"));
  EXPECT_TRUE(contains(thrown([&] { optim::Adagrad(ps, {.initial_accumulator_value = -2}); }),
                       "Invalid initial_accumulator_value value: -2"));
}

TEST(OptimArgs, ParamGroupChecks) {
  auto ps = make_params(2);
  optim::SGD opt({ps[0]}, {.lr = 0.1});
  EXPECT_TRUE(contains(thrown([&] { opt.add_param_group(ParamGroup({ps[0]})); }),
                       "some parameters appear in more than one parameter group"));
  EXPECT_TRUE(contains(thrown([&] {
                         opt.add_param_group(ParamGroup({ps[1]}, {{"lrr", 0.1}}));
                       }),
                       "unknown option 'lrr'"));
  EXPECT_EQ(opt.param_groups().size(), 1u);
  opt.add_param_group(ParamGroup({ps[1]}, {{"lr", 0.2}}));
  EXPECT_EQ(opt.param_groups().size(), 2u);
  EXPECT_EQ(opt.param_groups()[1].lr(), 0.2);
  EXPECT_TRUE(opt.param_groups()[1]["momentum"].is_int());

  Tensor leaf = ones({2});
  leaf.requires_grad_();
  Tensor non_leaf = leaf.exp();
  EXPECT_TRUE(contains(thrown([&] { optim::SGD({non_leaf}, {.lr = 0.1}); }),
                       "can't optimize a non-leaf Tensor"));
  EXPECT_TRUE(contains(thrown([&] { optim::SGD({arange(4)}, {.lr = 0.1}); }), "floating"));
  EXPECT_TRUE(contains(thrown([&] { optim::SGD(std::vector<Tensor>{}, {.lr = 0.1}); }),
                       "empty parameter list"));

  Tensor wide = zeros({4, 4});
  Tensor strided = wide.t();
  strided.requires_grad_();
  optim::SGD s({strided}, {.lr = 0.1});
  strided.set_grad(ones({4, 4}));
  EXPECT_TRUE(contains(thrown([&] { s.step(); }), "must be contiguous"));
}

TEST(OptimBase, ZeroGradAndClosure) {
  auto ps = make_params(2);
  optim::SGD opt(ps, {.lr = 0.1});
  set_grads(ps, 1.0);
  opt.zero_grad(false);
  EXPECT_TRUE(ps[0].grad().defined());
  EXPECT_EQ(ps[0].grad().sum().item<double>(), 0.0);
  opt.zero_grad();
  EXPECT_FALSE(ps[0].grad().defined());

  NoGradGuard no_grad;
  bool grad_on = false;
  Tensor loss = opt.step([&] {
    grad_on = GradMode::is_enabled();
    Tensor l = (ps[0] * ps[0]).sum();
    l.backward();
    return l;
  });
  EXPECT_TRUE(grad_on);
  EXPECT_EQ(loss.item<double>(), 1.0);  // 0^2 + 1^2
  EXPECT_FLOAT_EQ(ps[0].at({0, 1}).to<float>(), 1.0f - 0.1f * 2.0f);
  EXPECT_FALSE(GradMode::is_enabled());
}

// PyTorch 2.11's own files (tests/fixtures/torch-2.11, saved from a GPU).
namespace {

std::vector<Tensor> params_like(const Value& state, const char* key) {
  std::vector<Tensor> ps;
  for (const auto& [k, v] : state.as_dict()) {
    Tensor p = zeros(v[key].as_tensor().sizes());
    p.requires_grad_();
    ps.push_back(p);
  }
  return ps;
}

}  // namespace

TEST(OptimFixtures, Torch211AdamCheckpoint) {
  Value ckpt = io::load(WICK_SOURCE_DIR "/tests/fixtures/torch-2.11/adam_checkpoint.pt");
  const Value& saved = ckpt["optim"];
  auto ps = params_like(saved["state"], "exp_avg");
  ASSERT_EQ(ps.size(), 6u);
  optim::Adam opt(ps, {.amsgrad = true});
  // A fresh wick Adam has exactly 2.11's groups: keys, order, value types.
  EXPECT_EQ(opt.state_dict()["param_groups"].repr(), saved["param_groups"].repr());
  opt.load_state_dict(saved);
  EXPECT_EQ(opt.state_dict().repr(), saved.repr());
  set_grads(ps, 0.1);
  opt.step();
  const Dict& st = opt.state(ps[3]);
  EXPECT_EQ(keys(st),
            (std::vector<std::string>{"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}));
  EXPECT_EQ(st.at("step").as_tensor().item<double>(),
            saved["state"][3]["step"].as_tensor().item<double>() + 1);
}

TEST(OptimFixtures, Torch211SgdWithSchedulerKeys) {
  Value ckpt = io::load(WICK_SOURCE_DIR "/tests/fixtures/torch-2.11/scheduler_state.pt");
  const Value& saved = ckpt["optimizer"];
  auto ps = params_like(saved["state"], "momentum_buffer");
  ASSERT_EQ(ps.size(), 10u);
  optim::SGD opt(ps, {.lr = 0.001, .momentum = 0.9});
  opt.load_state_dict(saved);
  // 'initial_lr', added by the scheduler, survives; the printout is 2.11's.
  EXPECT_EQ(opt.param_groups()[0]["initial_lr"].as_float(), 0.001);
  EXPECT_EQ(opt.state_dict().repr(), saved.repr());
}
