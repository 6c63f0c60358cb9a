#include "wick/optim/adam.h"

#include <algorithm>
#include <cmath>

#include "optim/internal.h"
#include "wick/autograd/grad_mode.h"

namespace wick::optim {

namespace {

Dict adam_defaults(const AdamOptions& o, bool weight_decay_is_int) {
  detail::check_arg(o.lr >= 0, "learning rate", o.lr);
  detail::check_arg(o.eps >= 0, "epsilon value", o.eps);
  detail::check_arg(o.betas[0] >= 0 && o.betas[0] < 1, "beta parameter at index 0", o.betas[0]);
  detail::check_arg(o.betas[1] >= 0 && o.betas[1] < 1, "beta parameter at index 1", o.betas[1]);
  detail::check_arg(o.weight_decay >= 0, "weight_decay value", o.weight_decay);
  Dict d;
  d.set("lr", o.lr);
  d.set("betas", Value::tuple({o.betas[0], o.betas[1]}));
  d.set("eps", o.eps);
  d.set("weight_decay", number(o.weight_decay, weight_decay_is_int));
  d.set("amsgrad", o.amsgrad);
  d.set("maximize", o.maximize);
  d.set("foreach", nullptr);
  d.set("capturable", false);
  d.set("differentiable", false);
  d.set("fused", nullptr);
  d.set("decoupled_weight_decay", o.decoupled_weight_decay);
  return d;
}

AdamOptions from_adamw(const AdamWOptions& o) {
  return {.lr = o.lr,
          .betas = o.betas,
          .eps = o.eps,
          .weight_decay = o.weight_decay,
          .amsgrad = o.amsgrad,
          .maximize = o.maximize,
          .decoupled_weight_decay = true};
}

struct AdamStep {
  double beta1, beta2, weight_decay, decay_factor, bc2_sqrt, neg_step_size, eps;
  bool decoupled, maximize;
};

// One PyTorch tensor op per line, each rounded to T; scalars converted to T
// as ATen converts them (the bias corrections are computed in double, as
// Python computes them).
template <class T>
void adam_update(T* p, const T* grad, T* m, T* v, T* vmax, int64_t n, const AdamStep& h) {
  const T b1 = T(h.beta1), one_b1 = T(1 - h.beta1), b2 = T(h.beta2), one_b2 = T(1 - h.beta2);
  const T wd = T(h.weight_decay), factor = T(h.decay_factor), bc2 = T(h.bc2_sqrt);
  const T eps = T(h.eps), neg_step = T(h.neg_step_size);
  const bool coupled_decay = !h.decoupled && h.weight_decay != 0;
  const bool decoupled_decay = h.decoupled && h.weight_decay != 0;
  for (int64_t i = 0; i < n; ++i) {
    T g = h.maximize ? -grad[i] : grad[i];
    if (decoupled_decay) p[i] = p[i] * factor;
    if (coupled_decay) g = g + wd * p[i];
    T mi = m[i] * b1;
    mi = mi + one_b1 * g;
    m[i] = mi;
    T vi = v[i] * b2;
    vi = vi + one_b2 * g * g;
    v[i] = vi;
    if (vmax) {
      vi = std::max(vmax[i], vi);
      vmax[i] = vi;
    }
    T denom = std::sqrt(vi) / bc2;
    denom = denom + eps;
    p[i] = p[i] + neg_step * mi / denom;
  }
}

}  // namespace

Adam::Adam(const AdamOptions& options, bool weight_decay_is_int)
    : Optimizer(adam_defaults(options, weight_decay_is_int)) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options) : Adam(options, true) {
  add_param_groups({ParamGroup(std::move(params))});
}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options) : Adam(options, true) {
  add_param_groups(std::move(groups));
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : Adam(from_adamw(options), false) {
  add_param_groups({ParamGroup(std::move(params))});
}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options)
    : Adam(from_adamw(options), false) {
  add_param_groups(std::move(groups));
}

void Adam::step() {
  NoGradGuard no_grad;
  const std::string who = name();
  for (const ParamGroup& group : param_groups()) {
    const List& betas = group["betas"].as_sequence();
    WICK_CHECK(betas.size() == 2, who, ": 'betas' must hold two numbers, has ", betas.size());
    const double lr = detail::option(group, "lr"), beta1 = betas[0].to_double(),
                 beta2 = betas[1].to_double(), eps = detail::option(group, "eps"),
                 weight_decay = detail::option(group, "weight_decay");
    const bool amsgrad = detail::flag(group, "amsgrad"), maximize = detail::flag(group, "maximize");
    // A file from an older PyTorch has no such key; AdamW decouples anyway.
    const Value* dwd = group.options.find(detail::key("decoupled_weight_decay"));
    const bool decoupled = dwd ? detail::flag(group, "decoupled_weight_decay") : who == "AdamW";
    for (const Tensor& p : group.params) {
      Tensor grad = detail::checked_grad(who.c_str(), p);
      if (!grad.defined()) continue;
      Dict& st = state(p);
      const double t = detail::bump_step(st);
      Tensor m = detail::state_tensor(st, detail::key("exp_avg"), p);
      Tensor v = detail::state_tensor(st, detail::key("exp_avg_sq"), p);
      Tensor vmax = amsgrad ? detail::state_tensor(st, detail::key("max_exp_avg_sq"), p) : Tensor();
      const double bias_correction1 = 1 - std::pow(beta1, t);
      const double bias_correction2 = 1 - std::pow(beta2, t);
      AdamStep h{beta1,
                 beta2,
                 weight_decay,
                 1 - lr * weight_decay,
                 std::sqrt(bias_correction2),
                 -(lr / bias_correction1),
                 eps,
                 decoupled,
                 maximize};
      if (p.dtype() == DType::Float32)
        adam_update(p.data<float>(), grad.data<float>(), m.data<float>(), v.data<float>(),
                    amsgrad ? vmax.data<float>() : nullptr, p.numel(), h);
      else
        adam_update(p.data<double>(), grad.data<double>(), m.data<double>(), v.data<double>(),
                    amsgrad ? vmax.data<double>() : nullptr, p.numel(), h);
    }
  }
}

}  // namespace wick::optim
