// RMSprop (torch.optim.RMSprop).
//
//   wick::optim::RMSprop opt(net.parameters(), {.lr = 1e-2, .alpha = 0.99});
//
// The update is PyTorch's single-tensor one, operation by operation:
//   g = ±grad + weight_decay * p
//   v = alpha * v + (1 - alpha) * g * g                    state "square_avg"
//   a = alpha * a + (1 - alpha) * g  (centered)            state "grad_avg"
//   d = sqrt(v - a * a) (centered) or sqrt(v), then d + eps
//   b = momentum * b + g / d;  p = p - lr * b  (momentum > 0) state "momentum_buffer"
//   p = p - lr * g / d  (otherwise)
// `step` counts updates in a 0-dim float32 tensor, as in PyTorch 2.x.
#pragma once

#include <string>
#include <vector>

#include "wick/optim/optimizer.h"

namespace wick::optim {

/// RMSprop's hyper-parameters with PyTorch 2.x's defaults.
struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;
};

class RMSprop : public Optimizer {
 public:
  /// Throws wick::Error with PyTorch's message for a negative lr, eps,
  /// momentum, weight_decay or alpha.
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& options = {});

  using Optimizer::step;
  void step() override;
  std::string name() const override { return "RMSprop"; }
};

}  // namespace wick::optim
