// Adagrad (torch.optim.Adagrad).
//
//   wick::optim::Adagrad opt(net.parameters(), {.lr = 1e-2, .lr_decay = 1e-4});
//
// The update is PyTorch's single-tensor one, operation by operation:
//   g = ±grad + weight_decay * p
//   clr = lr / (1 + (t - 1) * lr_decay)
//   s = s + g * g                                          state "sum"
//   p = p - clr * g / (sqrt(s) + eps)
// As in PyTorch, the constructor creates the state of every parameter
// (`step` 0 and `sum` filled with initial_accumulator_value).
#pragma once

#include <string>
#include <vector>

#include "wick/optim/optimizer.h"

namespace wick::optim {

/// Adagrad's hyper-parameters with PyTorch 2.x's defaults.
struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  bool maximize = false;
};

class Adagrad : public Optimizer {
 public:
  /// Throws wick::Error with PyTorch's message for a negative lr, lr_decay,
  /// weight_decay, initial_accumulator_value or eps.
  Adagrad(std::vector<Tensor> params, const AdagradOptions& options = {});
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& options = {});

  using Optimizer::step;
  void step() override;
  std::string name() const override { return "Adagrad"; }

 private:
  void init_state(double initial_accumulator_value);
};

}  // namespace wick::optim
