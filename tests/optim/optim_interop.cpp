// The wick side of optim_interop.py: runs the optimizer cases it wrote.
//
//   wick_optim_interop WORKDIR
//
// WORKDIR/cases.pt (torch.save by Python) is a list of cases: {"name",
// "optimizer", "options" (constructor keyword arguments), "groups" (a list of
// {"params": [indices], other options}), "params" (initial tensors),
// "grads" (one list per step, a tensor or None per parameter), "params50"
// (PyTorch's parameters after 50 steps)}, and WORKDIR/<name>_torch50.pt is
// PyTorch's optimizer.state_dict() after 50 steps. For each case this writes
//   <name>_wick.pt    {"full_params", "full_state": 100 steps from the start,
//                      "resume_params", "resume_state": PyTorch's step-50
//                      state loaded, then steps 50..99,
//                      "params50": wick's parameters after 50 steps}
//   <name>_wick50.pt  wick's optimizer.state_dict() after 50 steps (io::save)
#include <array>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "wick/io/serialize.h"
#include "wick/optim/adagrad.h"
#include "wick/optim/adam.h"
#include "wick/optim/rmsprop.h"
#include "wick/optim/sgd.h"

using namespace wick;

namespace {

std::vector<Tensor> leaves(const List& tensors) {
  std::vector<Tensor> out;
  for (const Value& v : tensors) {
    Tensor t = v.as_tensor().detach().clone();
    t.requires_grad_();
    out.push_back(t);
  }
  return out;
}

double num(const Dict& kw, const char* key, double fallback) {
  const Value* v = kw.find(key);
  return v ? v->to_double() : fallback;
}

bool flag(const Dict& kw, const char* key, bool fallback) {
  const Value* v = kw.find(key);
  return v ? v->as_bool() : fallback;
}

std::array<double, 2> betas(const Dict& kw, std::array<double, 2> fallback) {
  const Value* v = kw.find("betas");
  return v ? std::array<double, 2>{(*v)[0].to_double(), (*v)[1].to_double()} : fallback;
}

// The constructor's keyword arguments go to the options struct, as in
// Python; each group keeps only its own options.
std::unique_ptr<optim::Optimizer> make(const Value& c, const std::vector<Tensor>& params) {
  std::vector<optim::ParamGroup> groups;
  for (const Value& g : c["groups"].as_list()) {
    optim::ParamGroup group;
    for (const Value& i : g["params"].as_list()) group.params.push_back(params[i.as_int()]);
    for (const auto& [k, v] : g.as_dict())
      if (k.as_string() != "params") group.options.set(k, v);
    groups.push_back(std::move(group));
  }
  const std::string& name = c["optimizer"].as_string();
  const Dict& kw = c["options"].as_dict();
  if (name == "SGD") {
    optim::SGDOptions d;
    return std::make_unique<optim::SGD>(
        groups, optim::SGDOptions{.lr = num(kw, "lr", d.lr),
                                  .momentum = num(kw, "momentum", d.momentum),
                                  .dampening = num(kw, "dampening", d.dampening),
                                  .weight_decay = num(kw, "weight_decay", d.weight_decay),
                                  .nesterov = flag(kw, "nesterov", d.nesterov),
                                  .maximize = flag(kw, "maximize", d.maximize)});
  }
  if (name == "Adam") {
    optim::AdamOptions d;
    return std::make_unique<optim::Adam>(
        groups, optim::AdamOptions{.lr = num(kw, "lr", d.lr),
                                   .betas = betas(kw, d.betas),
                                   .eps = num(kw, "eps", d.eps),
                                   .weight_decay = num(kw, "weight_decay", d.weight_decay),
                                   .amsgrad = flag(kw, "amsgrad", d.amsgrad),
                                   .maximize = flag(kw, "maximize", d.maximize)});
  }
  if (name == "AdamW") {
    optim::AdamWOptions d;
    return std::make_unique<optim::AdamW>(
        groups, optim::AdamWOptions{.lr = num(kw, "lr", d.lr),
                                    .betas = betas(kw, d.betas),
                                    .eps = num(kw, "eps", d.eps),
                                    .weight_decay = num(kw, "weight_decay", d.weight_decay),
                                    .amsgrad = flag(kw, "amsgrad", d.amsgrad),
                                    .maximize = flag(kw, "maximize", d.maximize)});
  }
  if (name == "RMSprop") {
    optim::RMSpropOptions d;
    return std::make_unique<optim::RMSprop>(
        groups, optim::RMSpropOptions{.lr = num(kw, "lr", d.lr),
                                      .alpha = num(kw, "alpha", d.alpha),
                                      .eps = num(kw, "eps", d.eps),
                                      .weight_decay = num(kw, "weight_decay", d.weight_decay),
                                      .momentum = num(kw, "momentum", d.momentum),
                                      .centered = flag(kw, "centered", d.centered),
                                      .maximize = flag(kw, "maximize", d.maximize)});
  }
  if (name == "Adagrad") {
    optim::AdagradOptions d;
    return std::make_unique<optim::Adagrad>(
        groups,
        optim::AdagradOptions{.lr = num(kw, "lr", d.lr),
                              .lr_decay = num(kw, "lr_decay", d.lr_decay),
                              .weight_decay = num(kw, "weight_decay", d.weight_decay),
                              .initial_accumulator_value =
                                  num(kw, "initial_accumulator_value", d.initial_accumulator_value),
                              .eps = num(kw, "eps", d.eps),
                              .maximize = flag(kw, "maximize", d.maximize)});
  }
  throw Error("unknown optimizer " + name);
}

void run(optim::Optimizer& opt, const std::vector<Tensor>& params, const List& grads, size_t from,
         size_t to) {
  for (size_t s = from; s < to; ++s) {
    const List& g = grads[s].as_list();
    for (size_t i = 0; i < params.size(); ++i)
      params[i].set_grad(g[i].is_none() ? Tensor() : g[i].as_tensor());
    opt.step();
  }
}

Value snapshot(const std::vector<Tensor>& params) {
  List out;
  for (const Tensor& p : params) out.emplace_back(p.detach().clone());
  return Value::list(std::move(out));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: wick_optim_interop WORKDIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  try {
    Value cases = io::load(dir + "/cases.pt");
    for (const Value& c : cases.as_list()) {
      const std::string& name = c["name"].as_string();
      const List& grads = c["grads"].as_list();
      Dict out;

      std::vector<Tensor> params = leaves(c["params"].as_list());
      auto opt = make(c, params);
      run(*opt, params, grads, 0, 50);
      out.set("params50", snapshot(params));
      io::save(opt->state_dict(), dir + "/" + name + "_wick50.pt");
      run(*opt, params, grads, 50, grads.size());
      out.set("full_params", snapshot(params));
      out.set("full_state", opt->state_dict());

      std::vector<Tensor> resumed = leaves(c["params50"].as_list());
      auto opt2 = make(c, resumed);
      opt2->load_state_dict(io::load(dir + "/" + name + "_torch50.pt"));
      run(*opt2, resumed, grads, 50, grads.size());
      out.set("resume_params", snapshot(resumed));
      out.set("resume_state", opt2->state_dict());

      io::save(Value(out), dir + "/" + name + "_wick.pt");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wick_optim_interop: %s\n", e.what());
    return 1;
  }
  return 0;
}
