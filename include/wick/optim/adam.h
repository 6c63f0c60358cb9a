// Adam and AdamW (torch.optim.Adam, torch.optim.AdamW).
//
//   wick::optim::Adam opt(net.parameters(), {.lr = 1e-3, .betas = {0.9, 0.999}});
//   wick::optim::AdamW opt(net.parameters(), {.lr = 1e-3, .weight_decay = 1e-2});
//
// The update is PyTorch's single-tensor one, operation by operation, with
// step t counted in a 0-dim float32 tensor:
//   g = ±grad;  p = p * (1 - lr * wd) (AdamW)  or  g = g + wd * p (Adam)
//   m = beta1 * m + (1 - beta1) * g                      state "exp_avg"
//   v = beta2 * v + (1 - beta2) * g * g                  state "exp_avg_sq"
//   vmax = max(vmax, v)  (amsgrad)                        state "max_exp_avg_sq"
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v or vmax) / sqrt(1 - beta2^t) + eps)
// AdamW is Adam with decoupled_weight_decay = True, as in PyTorch 2.x; their
// param groups hold the same keys.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "wick/optim/optimizer.h"

namespace wick::optim {

/// Adam's hyper-parameters with PyTorch 2.x's defaults.
struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;
  /// Weight decay applied to the parameter (AdamW) instead of the gradient.
  bool decoupled_weight_decay = false;
};

/// AdamW's hyper-parameters with PyTorch 2.x's defaults (weight_decay 1e-2).
struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

class Adam : public Optimizer {
 public:
  /// Throws wick::Error with PyTorch's message for a negative lr, eps or
  /// weight_decay, or a beta outside [0, 1).
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});

  using Optimizer::step;
  void step() override;
  std::string name() const override { return "Adam"; }

 protected:
  /// For AdamW: `weight_decay_is_int` says whether a zero weight decay is
  /// PyTorch's int default (Adam) or a float (AdamW).
  Adam(const AdamOptions& options, bool weight_decay_is_int);
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options = {});

  std::string name() const override { return "AdamW"; }
};

}  // namespace wick::optim
