#include "wick/optim/sgd.h"

#include "optim/internal.h"
#include "wick/autograd/grad_mode.h"

namespace wick::optim {

namespace {

Dict sgd_defaults(const SGDOptions& o) {
  detail::check_arg(o.lr >= 0, "learning rate", o.lr);
  detail::check_arg(o.momentum >= 0, "momentum value", o.momentum);
  detail::check_arg(o.weight_decay >= 0, "weight_decay value", o.weight_decay);
  WICK_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
             "Nesterov momentum requires a momentum and zero dampening");
  Dict d;
  d.set("lr", o.lr);
  d.set("momentum", number(o.momentum, true));
  d.set("dampening", number(o.dampening, true));
  d.set("weight_decay", number(o.weight_decay, true));
  d.set("nesterov", o.nesterov);
  d.set("maximize", o.maximize);
  d.set("foreach", nullptr);
  d.set("differentiable", false);
  d.set("fused", nullptr);
  return d;
}

struct SGDParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};

// Each line is one PyTorch tensor op, rounded to T as PyTorch rounds it;
// scalars are converted to T as ATen converts them for a T tensor.
template <class T>
void sgd_update(T* __restrict p, const T* __restrict grad, T* __restrict buf, bool first, int64_t n,
                const SGDParams& h) {
  const T wd = T(h.weight_decay), mom = T(h.momentum), damp = T(1 - h.dampening), neg_lr = T(-h.lr);
  const bool decay = h.weight_decay != 0;
  // The usual cases get loops of their own, which the compiler vectorises;
  // the general loop tests every option at every element.
  if (!h.maximize && !decay && !h.nesterov && (!buf || !first)) {
    if (!buf) {
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] + neg_lr * grad[i];
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      T b = buf[i] * mom;
      b = b + damp * grad[i];
      buf[i] = b;
      p[i] = p[i] + neg_lr * b;
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    T g = h.maximize ? -grad[i] : grad[i];
    if (decay) g = g + wd * p[i];
    if (buf) {
      T b;
      if (first) {
        b = g;
      } else {
        b = buf[i] * mom;
        b = b + damp * g;
      }
      buf[i] = b;
      g = h.nesterov ? g + mom * b : b;
    }
    p[i] = p[i] + neg_lr * g;
  }
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options) : Optimizer(sgd_defaults(options)) {
  add_param_groups({ParamGroup(std::move(params))});
}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(sgd_defaults(options)) {
  add_param_groups(std::move(groups));
}

void SGD::step() {
  NoGradGuard no_grad;
  for (const ParamGroup& group : param_groups()) {
    SGDParams h{detail::option(group, "lr"),        detail::option(group, "momentum"),
                detail::option(group, "dampening"), detail::option(group, "weight_decay"),
                detail::flag(group, "nesterov"),    detail::flag(group, "maximize")};
    for (const Tensor& p : group.params) {
      Tensor grad = detail::checked_grad("SGD", p);
      if (!grad.defined()) continue;
      Tensor buf;
      bool first = false;
      // PyTorch 2.x touches the state only when momentum != 0.
      if (h.momentum != 0) {
        Dict& st = state(p);
        const Value* b = st.find(detail::key("momentum_buffer"));
        first = !b || b->is_none();
        buf = detail::state_tensor(st, detail::key("momentum_buffer"), p);
      }
      if (p.dtype() == DType::Float32)
        sgd_update(p.data<float>(), grad.data<float>(), buf.defined() ? buf.data<float>() : nullptr,
                   first, p.numel(), h);
      else
        sgd_update(p.data<double>(), grad.data<double>(),
                   buf.defined() ? buf.data<double>() : nullptr, first, p.numel(), h);
    }
  }
}

}  // namespace wick::optim
