// SGD: stochastic gradient descent with momentum, dampening, weight decay,
// Nesterov momentum and maximize (torch.optim.SGD).
//
//   wick::optim::SGD opt(net.parameters(), {.lr = 0.001, .momentum = 0.9});
//   opt.zero_grad();  loss.backward();  opt.step();
//
// The update is PyTorch's single-tensor one, operation by operation:
//   g = ±grad + weight_decay * p
//   b = g (first step) or momentum * b + (1 - dampening) * g;  state "momentum_buffer"
//   g = g + momentum * b (nesterov) or b
//   p = p - lr * g
// State exists only when momentum != 0, as in PyTorch 2.x.
#pragma once

#include <string>
#include <vector>

#include "wick/optim/optimizer.h"

namespace wick::optim {

/// SGD's hyper-parameters with PyTorch 2.x's defaults.
struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  /// Throws wick::Error with PyTorch's message for a negative lr, momentum or
  /// weight_decay, or nesterov without momentum or with dampening.
  SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options = {});

  using Optimizer::step;
  void step() override;
  std::string name() const override { return "SGD"; }
};

}  // namespace wick::optim
