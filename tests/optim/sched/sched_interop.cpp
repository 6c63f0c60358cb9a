// wick's side of sched_interop.py: runs the cases it describes with wick's
// optimizers and schedulers and writes what it saw.
//
//   wick_sched_interop CASES.json OUT.json
//
// For each case: the trajectory (each group's lr, and for OneCycleLR its
// momentum or betas[0], after construction and after every step), with the
// optimizer and scheduler state saved after step `split` to `wick_file`; and
// the trajectory continued, after step `split`, by a fresh optimizer and
// scheduler loaded from PyTorch's `torch_file`. Then the PyTorch 2.11 fixture
// (StepLR with its SGD, after one step) loaded and stepped. A case that throws
// reports {"error": message} instead.
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "wick/io/serialize.h"
#include "wick/optim/adam.h"
#include "wick/optim/lr_scheduler.h"
#include "wick/optim/sgd.h"

using json = nlohmann::json;
using namespace wick;
using namespace wick::optim;

namespace {

std::unique_ptr<Optimizer> make_optimizer(const json& c) {
  std::vector<ParamGroup> groups;
  for (double lr : c["group_lrs"]) {
    ParamGroup g;
    g.params = {zeros({2}).requires_grad_()};
    g.options.set("lr", lr);
    groups.push_back(std::move(g));
  }
  const json& kw = c["optim_kwargs"];
  const double lr = c["group_lrs"][0];
  if (c["optim"] == "SGD")
    return std::make_unique<SGD>(std::move(groups),
                                 SGDOptions{.lr = lr, .momentum = kw.value("momentum", 0.0)});
  AdamOptions o{.lr = lr};
  if (kw.contains("betas")) o.betas = {kw["betas"][0], kw["betas"][1]};
  return std::make_unique<Adam>(std::move(groups), o);
}

// A scalar-or-list keyword argument (max_lr, min_lr): the list goes to `list`.
void scalar_or_list(const json& v, std::optional<double>& scalar, std::vector<double>& list) {
  if (v.is_array())
    list = v.get<std::vector<double>>();
  else
    scalar = v.get<double>();
}

// Either kind of scheduler behind one interface.
struct Scheduler {
  std::unique_ptr<LRScheduler> sched;
  std::unique_ptr<ReduceLROnPlateau> plateau;

  void step(double metric) { sched ? sched->step() : plateau->step(metric); }
  Value state_dict() const { return sched ? sched->state_dict() : plateau->state_dict(); }
  void load_state_dict(const Value& sd) {
    sched ? sched->load_state_dict(sd) : plateau->load_state_dict(sd);
  }
};

Scheduler make_scheduler(const json& c, Optimizer& opt) {
  const std::string name = c["sched"];
  const json& kw = c["kwargs"];
  Scheduler s;
  if (name == "StepLR") {
    s.sched =
        std::make_unique<StepLR>(opt, StepLROptions{.step_size = kw["step_size"].get<int64_t>(),
                                                    .gamma = kw.value("gamma", 0.1)});
  } else if (name == "MultiStepLR") {
    s.sched = std::make_unique<MultiStepLR>(
        opt, MultiStepLROptions{.milestones = kw["milestones"].get<std::vector<int64_t>>(),
                                .gamma = kw.value("gamma", 0.1)});
  } else if (name == "ExponentialLR") {
    s.sched = std::make_unique<ExponentialLR>(
        opt, ExponentialLROptions{.gamma = kw["gamma"].get<double>()});
  } else if (name == "CosineAnnealingLR") {
    s.sched = std::make_unique<CosineAnnealingLR>(
        opt, CosineAnnealingLROptions{.T_max = kw["T_max"].get<int64_t>(),
                                      .eta_min = kw.value("eta_min", 0.0)});
  } else if (name == "LinearLR") {
    LinearLROptions o;
    o.start_factor = kw.value("start_factor", o.start_factor);
    o.end_factor = kw.value("end_factor", o.end_factor);
    o.total_iters = kw.value("total_iters", o.total_iters);
    s.sched = std::make_unique<LinearLR>(opt, o);
  } else if (name == "OneCycleLR") {
    OneCycleLROptions o;
    scalar_or_list(kw["max_lr"], o.max_lr, o.max_lrs);
    if (kw.contains("total_steps")) o.total_steps = kw["total_steps"].get<int64_t>();
    if (kw.contains("epochs")) o.epochs = kw["epochs"].get<int64_t>();
    if (kw.contains("steps_per_epoch")) o.steps_per_epoch = kw["steps_per_epoch"].get<int64_t>();
    o.pct_start = kw.value("pct_start", o.pct_start);
    o.anneal_strategy = kw.value("anneal_strategy", o.anneal_strategy);
    o.cycle_momentum = kw.value("cycle_momentum", o.cycle_momentum);
    o.base_momentum = kw.value("base_momentum", o.base_momentum);
    o.max_momentum = kw.value("max_momentum", o.max_momentum);
    o.div_factor = kw.value("div_factor", o.div_factor);
    o.final_div_factor = kw.value("final_div_factor", o.final_div_factor);
    o.three_phase = kw.value("three_phase", o.three_phase);
    s.sched = std::make_unique<OneCycleLR>(opt, o);
  } else if (name == "ReduceLROnPlateau") {
    ReduceLROnPlateauOptions o;
    o.mode = kw.value("mode", o.mode);
    o.factor = kw.value("factor", o.factor);
    o.patience = kw.value("patience", o.patience);
    o.threshold = kw.value("threshold", o.threshold);
    o.threshold_mode = kw.value("threshold_mode", o.threshold_mode);
    o.cooldown = kw.value("cooldown", o.cooldown);
    if (kw.contains("min_lr")) {
      std::optional<double> min_lr;
      scalar_or_list(kw["min_lr"], min_lr, o.min_lrs);
      o.min_lr = min_lr.value_or(0.0);
    }
    o.eps = kw.value("eps", o.eps);
    s.plateau = std::make_unique<ReduceLROnPlateau>(opt, o);
  } else {
    throw Error("unknown scheduler " + name);
  }
  return s;
}

std::vector<double> record(const json& c, const Optimizer& opt) {
  std::vector<double> row;
  for (const ParamGroup& g : opt.param_groups()) row.push_back(g.lr());
  const json& kw = c["kwargs"];
  if (c["sched"] == "OneCycleLR" && kw.value("cycle_momentum", true))
    for (const ParamGroup& g : opt.param_groups())
      row.push_back(g.options.contains("betas") ? g["betas"][0].to_double()
                                                : g["momentum"].to_double());
  return row;
}

// The trajectory; saves after step `split` to `save`, or continues from `load`.
json run(const json& c, const std::string& save, const std::string& load) {
  auto opt = make_optimizer(c);
  Scheduler sched = make_scheduler(c, *opt);
  const int steps = c["steps"], split = c["split"];
  json rows = json::array({record(c, *opt)});
  for (int i = 1; i <= steps; ++i) {
    opt->step();
    sched.step(c.contains("metrics") ? c["metrics"][i - 1].get<double>() : 0.0);
    rows.push_back(record(c, *opt));
    if (i == split && !save.empty()) {
      Dict ckpt;
      ckpt.set("optimizer", opt->state_dict());
      ckpt.set("scheduler", sched.state_dict());
      io::save(Value(ckpt), save);
    }
    if (i == split && !load.empty()) {
      Value ckpt = io::load(load);
      sched = Scheduler{};  // the old scheduler refers to the old optimizer
      opt = make_optimizer(c);
      sched = make_scheduler(c, *opt);
      opt->load_state_dict(ckpt["optimizer"]);
      sched.load_state_dict(ckpt["scheduler"]);
    }
  }
  return rows;
}

json run_fixture(const std::string& path, int steps) {
  Value ckpt = io::load(path);
  std::vector<Tensor> params;
  for (const auto& [index, state] : ckpt["optimizer"]["state"].as_dict())
    params.push_back(zeros(state["momentum_buffer"].as_tensor().sizes()).requires_grad_());
  SGD opt(params, {.lr = 0.001, .momentum = 0.9});
  StepLR sched(opt, {.step_size = 2, .gamma = 0.5});
  opt.load_state_dict(ckpt["optimizer"]);
  sched.load_state_dict(ckpt["scheduler"]);
  json rows = json::array({std::vector<double>{opt.param_groups()[0].lr()}});
  for (int i = 0; i < steps; ++i) {
    opt.step();
    sched.step();
    rows.push_back(std::vector<double>{opt.param_groups()[0].lr()});
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: wick_sched_interop CASES.json OUT.json\n";
    return 2;
  }
  json spec = json::parse(std::ifstream(argv[1]));
  json out = {{"cases", json::object()}};
  for (const json& c : spec["cases"]) {
    json r;
    try {
      r["trajectory"] = run(c, c["wick_file"], "");
      r["resumed_from_torch"] = run(c, "", c["torch_file"]);
    } catch (const std::exception& e) {
      r = {{"error", e.what()}};
    }
    out["cases"][c["name"].get<std::string>()] = r;
  }
  try {
    out["fixture"] = {{"trajectory", run_fixture(spec["fixture"], spec["fixture_steps"])}};
  } catch (const std::exception& e) {
    out["fixture"] = {{"error", e.what()}};
  }
  std::ofstream(argv[2]) << out.dump(1);
  return 0;
}
