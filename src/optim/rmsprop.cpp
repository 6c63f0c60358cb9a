#include "wick/optim/rmsprop.h"

#include <cmath>

#include "optim/internal.h"
#include "wick/autograd/grad_mode.h"

namespace wick::optim {

namespace {

Dict rmsprop_defaults(const RMSpropOptions& o) {
  detail::check_arg(o.lr >= 0, "learning rate", o.lr);
  detail::check_arg(o.eps >= 0, "epsilon value", o.eps);
  detail::check_arg(o.momentum >= 0, "momentum value", o.momentum);
  detail::check_arg(o.weight_decay >= 0, "weight_decay value", o.weight_decay);
  detail::check_arg(o.alpha >= 0, "alpha value", o.alpha);
  Dict d;
  d.set("lr", o.lr);
  d.set("momentum", number(o.momentum, true));
  d.set("alpha", o.alpha);
  d.set("eps", o.eps);
  d.set("centered", o.centered);
  d.set("weight_decay", number(o.weight_decay, true));
  d.set("capturable", false);
  d.set("foreach", nullptr);
  d.set("maximize", o.maximize);
  d.set("differentiable", false);
  return d;
}

struct RMSpropStep {
  double lr, alpha, eps, weight_decay, momentum;
  bool maximize;
};

// One PyTorch 1.13 tensor op per line, each rounded to T (the centered
// average is mul_ + add_, not 2.x's lerp_).
template <class T>
void rmsprop_update(T* p, const T* grad, T* sq, T* gavg, T* buf, int64_t n, const RMSpropStep& h) {
  const T alpha = T(h.alpha), one_alpha = T(1 - h.alpha), wd = T(h.weight_decay);
  const T eps = T(h.eps), mom = T(h.momentum), neg_lr = T(-h.lr), minus_one = T(-1);
  const bool decay = h.weight_decay != 0;
  for (int64_t i = 0; i < n; ++i) {
    T g = h.maximize ? -grad[i] : grad[i];
    if (decay) g = g + wd * p[i];
    T s = sq[i] * alpha;
    s = s + one_alpha * g * g;
    sq[i] = s;
    T avg;
    if (gavg) {
      T a = gavg[i] * alpha;
      a = a + one_alpha * g;
      gavg[i] = a;
      avg = std::sqrt(s + minus_one * a * a);
    } else {
      avg = std::sqrt(s);
    }
    avg = avg + eps;
    if (buf) {
      T b = buf[i] * mom;
      b = b + g / avg;
      buf[i] = b;
      p[i] = p[i] + neg_lr * b;
    } else {
      p[i] = p[i] + neg_lr * g / avg;
    }
  }
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : Optimizer(rmsprop_defaults(options)) {
  add_param_groups({ParamGroup(std::move(params))});
}

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& options)
    : Optimizer(rmsprop_defaults(options)) {
  add_param_groups(std::move(groups));
}

void RMSprop::step() {
  NoGradGuard no_grad;
  for (const ParamGroup& group : param_groups()) {
    RMSpropStep h{detail::option(group, "lr"),       detail::option(group, "alpha"),
                  detail::option(group, "eps"),      detail::option(group, "weight_decay"),
                  detail::option(group, "momentum"), detail::flag(group, "maximize")};
    const bool centered = detail::flag(group, "centered");
    for (const Tensor& p : group.params) {
      Tensor grad = detail::checked_grad("RMSprop", p);
      if (!grad.defined()) continue;
      Dict& st = state(p);
      detail::bump_step(st);
      Tensor sq = detail::state_tensor(st, detail::key("square_avg"), p);
      Tensor buf =
          h.momentum > 0 ? detail::state_tensor(st, detail::key("momentum_buffer"), p) : Tensor();
      Tensor gavg = centered ? detail::state_tensor(st, detail::key("grad_avg"), p) : Tensor();
      if (p.dtype() == DType::Float32)
        rmsprop_update(p.data<float>(), grad.data<float>(), sq.data<float>(),
                       centered ? gavg.data<float>() : nullptr,
                       buf.defined() ? buf.data<float>() : nullptr, p.numel(), h);
      else
        rmsprop_update(p.data<double>(), grad.data<double>(), sq.data<double>(),
                       centered ? gavg.data<double>() : nullptr,
                       buf.defined() ? buf.data<double>() : nullptr, p.numel(), h);
    }
  }
}

}  // namespace wick::optim
