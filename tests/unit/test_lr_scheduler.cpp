// LR schedulers: learning-rate sequences, state_dict layout and types (against
// the PyTorch 2.11 fixture), resuming from a state_dict, and errors. The
// comparison of whole trajectories with the real PyTorch is in
// tests/optim/sched (ctest label `interop`).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "wick/io/serialize.h"
#include "wick/optim/adam.h"
#include "wick/optim/lr_scheduler.h"
#include "wick/optim/sgd.h"

using namespace wick;
using namespace wick::optim;

namespace {

std::vector<Tensor> params() {
  return {zeros({3}).requires_grad_(), zeros({2, 2}).requires_grad_()};
}

double lr_of(const Optimizer& opt, size_t group = 0) {
  return opt.param_groups()[group].lr();
}

std::vector<std::string> keys(const Value& d) {
  std::vector<std::string> out;
  for (const auto& [k, v] : d.as_dict()) out.push_back(k.as_string());
  return out;
}

// The message of the wick::Error `f` throws ("" if none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(LRSchedulerTest, StepLRDecaysEveryStepSize) {
  SGD opt(params(), {.lr = 1.0});
  StepLR sched(opt, {.step_size = 2, .gamma = 0.5});
  // Construction takes the first step (epoch 0) and records initial_lr.
  EXPECT_EQ(sched.last_epoch(), 0);
  EXPECT_EQ(sched.get_last_lr(), std::vector<double>{1.0});
  EXPECT_EQ(opt.param_groups()[0]["initial_lr"].as_float(), 1.0);
  std::vector<double> seen;
  for (int i = 0; i < 6; ++i) {
    sched.step();
    seen.push_back(lr_of(opt));
  }
  EXPECT_EQ(seen, (std::vector<double>{1.0, 0.5, 0.5, 0.25, 0.25, 0.125}));
  EXPECT_EQ(sched.get_last_lr(), std::vector<double>{0.125});
}

TEST(LRSchedulerTest, StepLRIsChainable) {
  // The recursive form multiplies the current lr, so an outside change sticks.
  SGD opt(params(), {.lr = 1.0});
  StepLR sched(opt, {.step_size = 2, .gamma = 0.5});
  opt.param_groups()[0]["lr"] = 4.0;
  sched.step();
  EXPECT_EQ(lr_of(opt), 4.0);
  sched.step();
  EXPECT_EQ(lr_of(opt), 2.0);
}

TEST(LRSchedulerTest, MultiStepLRCountsRepeatedMilestones) {
  SGD opt(params(), {.lr = 1.0});
  MultiStepLR sched(opt, {.milestones = {2, 2, 4}, .gamma = 0.5});
  std::vector<double> seen;
  for (int i = 0; i < 5; ++i) {
    sched.step();
    seen.push_back(lr_of(opt));
  }
  EXPECT_EQ(seen, (std::vector<double>{1.0, 0.25, 0.25, 0.125, 0.125}));
  Value sd = sched.state_dict();
  EXPECT_EQ(sd["milestones"].repr(), "Counter({2: 2, 4: 1})");  // a collections.Counter, as PyTorch
}

TEST(LRSchedulerTest, ExponentialLRMultipliesEachStep) {
  SGD opt(params(), {.lr = 0.1});
  ExponentialLR sched(opt, {.gamma = 0.9});
  EXPECT_EQ(lr_of(opt), 0.1);
  double expect = 0.1;
  for (int i = 0; i < 20; ++i) {
    sched.step();
    expect *= 0.9;
    EXPECT_EQ(lr_of(opt), expect);
  }
}

TEST(LRSchedulerTest, CosineAnnealingFollowsTheCosine) {
  const double base = 0.1, eta_min = 0.001;
  const int T = 10;
  SGD opt(params(), {.lr = base});
  CosineAnnealingLR sched(opt, {.T_max = T, .eta_min = eta_min});
  for (int e = 1; e <= 3 * T; ++e) {
    sched.step();
    // The recursive form agrees with the closed form up to rounding.
    double closed = eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * e / T)) / 2;
    EXPECT_NEAR(lr_of(opt), closed, 1e-12 * base) << "epoch " << e;
  }
}

TEST(LRSchedulerTest, LinearLRRampsFromStartToEndFactor) {
  SGD opt(params(), {.lr = 0.05});
  LinearLR sched(opt, {.start_factor = 0.5, .total_iters = 4});
  EXPECT_DOUBLE_EQ(lr_of(opt), 0.025);
  std::vector<double> want = {0.03125, 0.0375, 0.04375, 0.05, 0.05, 0.05};
  for (double w : want) {
    sched.step();
    EXPECT_NEAR(lr_of(opt), w, 1e-15);
  }
  // Defaults are PyTorch's: start 1/3, end 1.0, 5 iterations.
  SGD opt2(params(), {.lr = 0.3});
  LinearLR dflt(opt2);
  EXPECT_NEAR(lr_of(opt2), 0.1, 1e-15);
  EXPECT_EQ(dflt.state_dict()["total_iters"].as_int(), 5);
}

TEST(LRSchedulerTest, OneCycleCyclesLrAndMomentum) {
  SGD opt(params(), {.lr = 1.0, .momentum = 0.9});
  OneCycleLR sched(opt, {.max_lr = 1.0, .total_steps = 10, .anneal_strategy = "linear"});
  const ParamGroup& g = opt.param_groups()[0];
  EXPECT_DOUBLE_EQ(g["initial_lr"].as_float(), 1.0 / 25);
  EXPECT_DOUBLE_EQ(g["max_lr"].as_float(), 1.0);
  EXPECT_DOUBLE_EQ(g["min_lr"].as_float(), 1.0 / 25 / 1e4);
  EXPECT_DOUBLE_EQ(lr_of(opt), 1.0 / 25);
  EXPECT_DOUBLE_EQ(g["momentum"].as_float(), 0.95);
  // Phase 1 ends at step pct_start * total_steps - 1 = 2: lr at max, momentum at base.
  sched.step();
  sched.step();
  EXPECT_DOUBLE_EQ(lr_of(opt), 1.0);
  EXPECT_DOUBLE_EQ(g["momentum"].as_float(), 0.85);
  for (int i = 3; i <= 9; ++i) sched.step();
  EXPECT_NEAR(lr_of(opt), 1.0 / 25 / 1e4, 1e-15);
  EXPECT_NEAR(g["momentum"].as_float(), 0.95, 1e-15);
  sched.step();  // step 10 == total_steps is still allowed, as in PyTorch
  EXPECT_EQ(error_of([&] { sched.step(); }),
            "Tried to step 11 times. The specified number of total steps is 10");
  EXPECT_EQ(sched.last_epoch(), 10);  // the failed step did not count
}

TEST(LRSchedulerTest, OneCycleCyclesAdamBeta1) {
  Adam opt(params(), {.lr = 1e-3, .betas = {0.8, 0.99}});
  OneCycleLR sched(opt, {.max_lr = 0.01, .total_steps = 20, .three_phase = true});
  const ParamGroup& g = opt.param_groups()[0];
  ASSERT_TRUE(g["betas"].is_tuple());
  EXPECT_EQ(g["betas"].repr(), "(0.95, 0.99)");
  for (int i = 0; i < 5; ++i) sched.step();  // phase 1 ends at 0.3 * 20 - 1 = 5
  EXPECT_DOUBLE_EQ(lr_of(opt), 0.01);
  EXPECT_DOUBLE_EQ(g["betas"][0].as_float(), 0.85);
  EXPECT_EQ(g["betas"][1].as_float(), 0.99);
  for (int i = 0; i < 5; ++i) sched.step();  // phase 2 ends at 2 * 0.3 * 20 - 2 = 10
  EXPECT_NEAR(lr_of(opt), 0.01 / 25, 1e-17);
  Value sd = sched.state_dict();
  EXPECT_EQ(keys(sd), (std::vector<std::string>{
                          "total_steps", "_schedule_phases", "_anneal_func_type", "cycle_momentum",
                          "use_beta1", "base_lrs", "last_epoch", "_step_count", "_is_initial",
                          "_get_lr_called_within_step", "_last_lr"}));
  // end_step is a float except for the last phase's (total_steps - 1), as in PyTorch.
  EXPECT_TRUE(sd["_schedule_phases"][0]["end_step"].is_float());
  EXPECT_TRUE(sd["_schedule_phases"][2]["end_step"].is_int());
  EXPECT_TRUE(sd["use_beta1"].as_bool());
}

TEST(LRSchedulerTest, StateDictMatchesPyTorch211Fixture) {
  Value fixture =
      io::load(std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/scheduler_state.pt");
  // The fixture: StepLR(step_size=2, gamma=0.5) on SGD(lr=0.001, momentum=0.9), one step.
  SGD opt(params(), {.lr = 0.001, .momentum = 0.9});
  StepLR sched(opt, {.step_size = 2, .gamma = 0.5});
  sched.step();
  // Same keys, order, value types and values: the reprs are equal.
  EXPECT_EQ(sched.state_dict().repr(), fixture["scheduler"].repr());
  EXPECT_EQ(keys(sched.state_dict()), keys(fixture["scheduler"]));
  // The group got PyTorch's initial_lr, just before "params" in the saved group.
  EXPECT_EQ(opt.state_dict()["param_groups"][0]["initial_lr"].repr(),
            fixture["optimizer"]["param_groups"][0]["initial_lr"].repr());
}

TEST(LRSchedulerTest, StateDictTypesAndOrder) {
  SGD opt(params(), {.lr = 0.1});
  CosineAnnealingLR cos(opt, {.T_max = 5});
  Value sd = cos.state_dict();
  EXPECT_EQ(keys(sd),
            (std::vector<std::string>{"T_max", "eta_min", "base_lrs", "last_epoch", "_step_count",
                                      "_is_initial", "_get_lr_called_within_step", "_last_lr"}));
  EXPECT_TRUE(sd["T_max"].is_int());
  EXPECT_TRUE(sd["eta_min"].is_float());  // PyTorch 2.x's default is 0.0
  EXPECT_TRUE(sd["base_lrs"].is_list());
  EXPECT_EQ(sd["_step_count"].as_int(), 1);
  EXPECT_FALSE(sd["_is_initial"].as_bool());

  SGD opt2(params(), {.lr = 0.1});
  ReduceLROnPlateau plateau(opt2);
  Value p = plateau.state_dict();
  EXPECT_EQ(p.repr(),
            "{'factor': 0.1, 'default_min_lr': 0, 'min_lrs': [0], 'patience': 10, "
            "'cooldown': 0, 'eps': 1e-08, 'last_epoch': 0, '_last_lr': [0.1], "
            "'mode_worse': inf, 'mode': 'min', 'threshold': 0.0001, 'threshold_mode': 'rel', "
            "'best': inf, 'cooldown_counter': 0, 'num_bad_epochs': 0}");
  ReduceLROnPlateau per_group(opt2, {.mode = "max", .min_lrs = {1e-5}});
  EXPECT_EQ(per_group.state_dict()["default_min_lr"].repr(), "None");
  EXPECT_EQ(per_group.state_dict()["min_lrs"].repr(), "[1e-05]");
  EXPECT_EQ(per_group.state_dict()["best"].repr(), "-inf");
}

TEST(LRSchedulerTest, ReduceLROnPlateauPatienceCooldownAndFloor) {
  SGD opt(params(), {.lr = 1.0});
  ReduceLROnPlateau sched(opt, {.factor = 0.5, .patience = 1, .cooldown = 1, .min_lr = 0.2});
  std::vector<double> metrics = {5, 4, 4, 4, 4, 4, 4, 4, 4, 3};
  std::vector<double> seen;
  for (double m : metrics) {
    sched.step(m);
    seen.push_back(lr_of(opt));
  }
  // Two epochs without improvement (patience 1) halve the lr, then one epoch of
  // cooldown; the lr never goes below min_lr.
  EXPECT_EQ(seen, (std::vector<double>{1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25}));
  sched.step(3);
  sched.step(3);
  sched.step(3);
  EXPECT_EQ(lr_of(opt), 0.2);
  EXPECT_EQ(sched.get_last_lr(), std::vector<double>{0.2});
  EXPECT_EQ(sched.best(), 3);
}

TEST(LRSchedulerTest, ReduceLROnPlateauMaxModeAbsThreshold) {
  SGD opt(params(), {.lr = 1.0});
  ReduceLROnPlateau sched(
      opt, {.mode = "max", .patience = 0, .threshold = 0.5, .threshold_mode = "abs"});
  sched.step(1.0);  // first metric always improves on -inf
  EXPECT_EQ(sched.best(), 1.0);
  sched.step(1.4);  // not > 1.0 + 0.5: a bad epoch, beyond patience 0
  EXPECT_EQ(lr_of(opt), 0.1);
  sched.step(1.6);
  EXPECT_EQ(sched.best(), 1.6);
  EXPECT_EQ(lr_of(opt), 0.1);
}

namespace {

// Runs `steps` steps of a scheduler made by `make` on a fresh SGD and returns
// the lrs; when `split` > 0, saves optimizer and scheduler state (through a
// .pt file) after `split` steps and continues in a new optimizer + scheduler.
template <class Make>
std::vector<double> run(Make make, int steps, int split, const std::string& tag) {
  auto opt = std::make_unique<SGD>(params(), SGDOptions{.lr = 0.1, .momentum = 0.9});
  auto sched = make(*opt);
  std::vector<double> lrs;
  for (int i = 0; i < steps; ++i) {
    if (split > 0 && i == split) {
      Dict ckpt;
      ckpt.set("optimizer", opt->state_dict());
      ckpt.set("scheduler", sched->state_dict());
      std::string path =
          (std::filesystem::temp_directory_path() / ("wick_sched_" + tag + ".pt")).string();
      io::save(Value(ckpt), path);
      Value loaded = io::load(path);
      std::filesystem::remove(path);
      opt = std::make_unique<SGD>(params(), SGDOptions{.lr = 0.1, .momentum = 0.9});
      sched = make(*opt);  // a fresh scheduler, as a resuming script makes one
      opt->load_state_dict(loaded["optimizer"]);
      sched->load_state_dict(loaded["scheduler"]);
    }
    sched->step();
    lrs.push_back(opt->param_groups()[0].lr());
    const ParamGroup& g = opt->param_groups()[0];
    lrs.push_back(g["momentum"].to_double());
  }
  return lrs;
}

}  // namespace

TEST(LRSchedulerTest, ResumeMidwayEqualsUninterrupted) {
  auto check = [](auto make, const std::string& tag) {
    std::vector<double> whole = run(make, 25, 0, tag);
    for (int split : {1, 7, 13}) EXPECT_EQ(run(make, 25, split, tag), whole) << tag << " " << split;
  };
  check([](Optimizer& o) { return std::make_unique<StepLR>(o, StepLROptions{.step_size = 3}); },
        "step");
  check(
      [](Optimizer& o) {
        return std::make_unique<MultiStepLR>(o, MultiStepLROptions{.milestones = {3, 8, 8, 20}});
      },
      "multistep");
  check(
      [](Optimizer& o) {
        return std::make_unique<ExponentialLR>(o, ExponentialLROptions{.gamma = 0.93});
      },
      "exp");
  check(
      [](Optimizer& o) {
        return std::make_unique<CosineAnnealingLR>(
            o, CosineAnnealingLROptions{.T_max = 6, .eta_min = 0.01});
      },
      "cos");
  check(
      [](Optimizer& o) {
        return std::make_unique<LinearLR>(o,
                                          LinearLROptions{.start_factor = 0.25, .total_iters = 9});
      },
      "linear");
  check(
      [](Optimizer& o) {
        return std::make_unique<OneCycleLR>(
            o, OneCycleLROptions{.max_lr = 0.5, .total_steps = 25, .three_phase = true});
      },
      "onecycle");
}

TEST(LRSchedulerTest, ReduceLROnPlateauResumes) {
  std::vector<double> metrics = {3, 2, 2, 2, 2.5, 1, 1, 1, 1, 1, 0.5, 0.6, 0.7, 0.8};
  auto run_plateau = [&](int split) {
    auto opt = std::make_unique<SGD>(params(), SGDOptions{.lr = 1.0});
    ReduceLROnPlateauOptions o{.patience = 1, .cooldown = 2, .min_lr = 1e-3};
    auto sched = std::make_unique<ReduceLROnPlateau>(*opt, o);
    std::vector<double> lrs;
    for (size_t i = 0; i < metrics.size(); ++i) {
      if (split > 0 && int(i) == split) {
        Value osd = io::load_bytes(io::save_bytes(opt->state_dict()));
        Value ssd = io::load_bytes(io::save_bytes(sched->state_dict()));
        opt = std::make_unique<SGD>(params(), SGDOptions{.lr = 1.0});
        sched = std::make_unique<ReduceLROnPlateau>(*opt, o);
        opt->load_state_dict(osd);
        sched->load_state_dict(ssd);
      }
      sched->step(metrics[i]);
      lrs.push_back(opt->param_groups()[0].lr());
    }
    return lrs;
  };
  std::vector<double> whole = run_plateau(0);
  EXPECT_LT(whole.back(), 1.0);  // the sequence does reduce
  for (int split : {2, 5, 9}) EXPECT_EQ(run_plateau(split), whole) << split;
}

TEST(LRSchedulerTest, LoadsPyTorch113Layout) {
  // PyTorch 1.13 has 'verbose' and no '_is_initial'.
  SGD opt(params(), {.lr = 1.0});
  StepLR sched(opt, {.step_size = 10});
  Dict d;
  d.set("step_size", 3);
  d.set("gamma", 0.5);
  d.set("base_lrs", Value::list({1.0}));
  d.set("last_epoch", 4);
  d.set("verbose", false);
  d.set("_step_count", 5);
  d.set("_get_lr_called_within_step", false);
  d.set("_last_lr", Value::list({0.5}));
  opt.param_groups()[0]["lr"] = 0.5;
  sched.load_state_dict(Value(d));
  EXPECT_EQ(sched.last_epoch(), 4);
  EXPECT_EQ(sched.state_dict()["step_size"].as_int(), 3);
  sched.step();
  sched.step();
  EXPECT_EQ(lr_of(opt), 0.25);  // epoch 6 is a multiple of step_size 3
  EXPECT_FALSE(sched.state_dict().contains("verbose"));
}

TEST(LRSchedulerTest, BadStateDictChangesNothing) {
  SGD opt(params(), {.lr = 1.0});
  StepLR sched(opt, {.step_size = 2});
  sched.step();
  const std::string before = sched.state_dict().repr();
  Value sd = sched.state_dict();
  sd.as_dict().erase("_last_lr");
  sd["step_size"] = 7;
  EXPECT_EQ(error_of([&] { sched.load_state_dict(sd); }),
            "StepLR.load_state_dict: missing key '_last_lr'");
  EXPECT_EQ(sched.state_dict().repr(), before);
  Value sd2 = sched.state_dict();
  sd2["gamma"] = "half";
  EXPECT_EQ(error_of([&] { sched.load_state_dict(sd2); }),
            "StepLR.load_state_dict: 'gamma' must be a float, got str");
  Value sd3 = sched.state_dict();
  sd3["base_lrs"] = Value::list({1.0, 2.0});
  EXPECT_EQ(error_of([&] { sched.load_state_dict(sd3); }),
            "StepLR.load_state_dict: 'base_lrs' has 2 values but the optimizer has 1 param "
            "groups");
  EXPECT_EQ(sched.state_dict().repr(), before);
}

TEST(LRSchedulerTest, ErrorsAreWordedLikePyTorch) {
  SGD opt(params(), {.lr = 0.1});
  EXPECT_EQ(error_of([&] { StepLR s(opt, {}); }),
            "StepLR.__init__() missing 1 required positional argument: 'step_size'");
  EXPECT_EQ(error_of([&] { ExponentialLR s(opt, {}); }),
            "ExponentialLR.__init__() missing 1 required positional argument: 'gamma'");
  EXPECT_EQ(error_of([&] { LinearLR s(opt, {.start_factor = 0}); }),
            "Starting multiplicative factor expected to be greater than 0 and less or equal to "
            "1.");
  EXPECT_EQ(error_of([&] { LinearLR s(opt, {.end_factor = 1.5}); }),
            "Ending multiplicative factor expected to be between 0 and 1.");
  EXPECT_EQ(error_of([&] { OneCycleLR s(opt, {.max_lr = 1.0}); }),
            "You must define either total_steps OR (epochs AND steps_per_epoch)");
  EXPECT_EQ(error_of([&] { OneCycleLR s(opt, {.max_lr = 1.0, .total_steps = 0}); }),
            "Expected positive integer total_steps, but got 0");
  EXPECT_EQ(
      error_of([&] { OneCycleLR s(opt, {.max_lr = 1.0, .total_steps = 5, .pct_start = 1.5}); }),
      "Expected float between 0 and 1 pct_start, but got 1.5");
  EXPECT_EQ(error_of([&] {
              OneCycleLR s(opt, {.max_lr = 1.0, .total_steps = 5, .anneal_strategy = "exp"});
            }),
            "anneal_strategy must be one of 'cos' or 'linear', instead got exp");
  EXPECT_EQ(error_of([&] {
              OneCycleLR s(opt, {.max_lrs = {1.0, 2.0}, .total_steps = 5});
            }),
            "max_lr must have the same length as optimizer.param_groups. max_lr has 2 values, "
            "param_groups has 1.");
  EXPECT_EQ(error_of([&] { ReduceLROnPlateau s(opt, {.factor = 1.0}); }),
            "Factor should be < 1.0.");
  EXPECT_EQ(error_of([&] { ReduceLROnPlateau s(opt, {.mode = "median"}); }),
            "mode median is unknown!");
  EXPECT_EQ(error_of([&] { ReduceLROnPlateau s(opt, {.threshold_mode = "pct"}); }),
            "threshold mode pct is unknown!");
  EXPECT_EQ(error_of([&] {
              ReduceLROnPlateau s(opt, {.min_lrs = {0.1, 0.2}});
            }),
            "expected 1 min_lrs, got 2");

  // Resuming with last_epoch needs the initial_lr a first scheduler wrote.
  SGD fresh(params(), {.lr = 0.1});
  EXPECT_EQ(error_of([&] { StepLR s(fresh, {.step_size = 2, .last_epoch = 3}); }),
            "param 'initial_lr' is not specified in param_groups[0] when resuming an optimizer");
  StepLR first(fresh, {.step_size = 2});
  StepLR resumed(fresh, {.step_size = 2, .last_epoch = 3});
  EXPECT_EQ(resumed.last_epoch(), 4);
}

TEST(LRSchedulerTest, OneCycleNeedsMomentumOrBetas) {
  SGD opt(params(), {.lr = 0.1});
  // SGD always has a momentum option, so this works (momentum becomes 0.95).
  OneCycleLR ok(opt, {.max_lr = 1.0, .total_steps = 4});
  EXPECT_DOUBLE_EQ(opt.param_groups()[0]["momentum"].as_float(), 0.95);
  SGD opt2(params(), {.lr = 0.1});
  OneCycleLR no_cycle(opt2, {.max_lr = 1.0, .total_steps = 4, .cycle_momentum = false});
  EXPECT_FALSE(no_cycle.state_dict().contains("use_beta1"));
  EXPECT_FALSE(opt2.param_groups()[0].options.contains("max_momentum"));
}
