#include "wick/optim/adagrad.h"

#include <cmath>

#include "optim/internal.h"
#include "wick/autograd/grad_mode.h"

namespace wick::optim {

namespace {

Dict adagrad_defaults(const AdagradOptions& o) {
  detail::check_arg(o.lr >= 0, "learning rate", o.lr);
  detail::check_arg(o.lr_decay >= 0, "lr_decay value", o.lr_decay);
  detail::check_arg(o.weight_decay >= 0, "weight_decay value", o.weight_decay);
  detail::check_arg(o.initial_accumulator_value >= 0, "initial_accumulator_value value",
                    o.initial_accumulator_value);
  detail::check_arg(o.eps >= 0, "epsilon value", o.eps);
  Dict d;
  d.set("lr", o.lr);
  d.set("lr_decay", number(o.lr_decay, true));
  d.set("eps", o.eps);
  d.set("weight_decay", number(o.weight_decay, true));
  d.set("initial_accumulator_value", number(o.initial_accumulator_value, true));
  d.set("foreach", nullptr);
  d.set("maximize", o.maximize);
  d.set("differentiable", false);
  d.set("fused", nullptr);
  return d;
}

// One PyTorch tensor op per line, each rounded to T.
template <class T>
void adagrad_update(T* p, const T* grad, T* sum, int64_t n, double weight_decay, double eps,
                    double clr, bool maximize) {
  const T wd = T(weight_decay), e = T(eps), neg_clr = T(-clr);
  const bool decay = weight_decay != 0;
  for (int64_t i = 0; i < n; ++i) {
    T g = maximize ? -grad[i] : grad[i];
    if (decay) g = g + wd * p[i];
    T s = sum[i] + g * g;
    sum[i] = s;
    T std_ = std::sqrt(s) + e;
    p[i] = p[i] + neg_clr * g / std_;
  }
}

}  // namespace

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& options)
    : Optimizer(adagrad_defaults(options)) {
  add_param_groups({ParamGroup(std::move(params))});
  init_state(options.initial_accumulator_value);
}

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& options)
    : Optimizer(adagrad_defaults(options)) {
  add_param_groups(std::move(groups));
  init_state(options.initial_accumulator_value);
}

void Adagrad::init_state(double initial_accumulator_value) {
  // PyTorch fills every sum with the constructor's value, whatever a group says.
  for (const ParamGroup& group : param_groups())
    for (const Tensor& p : group.params) {
      Dict& st = state(p);
      st.set(detail::key("step"), scalar_tensor(0.0, DType::Float32));
      st.set(detail::key("sum"), full(p.sizes(), initial_accumulator_value, {.dtype = p.dtype()}));
    }
}

void Adagrad::step() {
  NoGradGuard no_grad;
  for (const ParamGroup& group : param_groups()) {
    const double lr = detail::option(group, "lr"), lr_decay = detail::option(group, "lr_decay"),
                 eps = detail::option(group, "eps"),
                 weight_decay = detail::option(group, "weight_decay"),
                 init = detail::option(group, "initial_accumulator_value");
    const bool maximize = detail::flag(group, "maximize");
    for (const Tensor& p : group.params) {
      Tensor grad = detail::checked_grad("Adagrad", p);
      if (!grad.defined()) continue;
      Dict& st = state(p);
      // A group added after construction has no state yet (PyTorch fails
      // there); start it as the constructor would have, with its own value.
      const double t = detail::bump_step(st);
      Tensor sum = detail::state_tensor(st, detail::key("sum"), p, init);
      const double clr = lr / (1 + (t - 1) * lr_decay);
      if (p.dtype() == DType::Float32)
        adagrad_update(p.data<float>(), grad.data<float>(), sum.data<float>(), p.numel(),
                       weight_decay, eps, clr, maximize);
      else
        adagrad_update(p.data<double>(), grad.data<double>(), sum.data<double>(), p.numel(),
                       weight_decay, eps, clr, maximize);
    }
  }
}

}  // namespace wick::optim
