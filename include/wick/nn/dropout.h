// Dropout: torch.nn.Dropout, the regulariser that is only active in training,
// and torchvision.ops.StochasticDepth, which drops whole residual branches.
//
//   nn::Dropout drop(0.25);          // Dropout(p=0.25, inplace=False)
//   model.train();  y = drop(x);     // zeroes each element with probability p,
//                                    // scales the others by 1 / (1 - p)
//   model.eval();   y = drop(x);     // y is x
//
// The random stream is wick's default generator (wick::manual_seed), or the
// one given in the options.
#pragma once

#include <string>

#include "wick/core/random.h"
#include "wick/core/tensor.h"
#include "wick/nn/module.h"

namespace wick::nn {

struct DropoutOptions {
  /// Write the result into the input (see ReLU for when wick can).
  bool inplace = false;
  /// The generator to draw from; null means wick's default generator. Not
  /// owned: it must outlive the module.
  Generator* generator = nullptr;
};

/// torch.nn.Dropout. In training mode each element is zeroed with
/// probability p and the rest are scaled by 1 / (1 - p); in eval mode the
/// input is returned unchanged. Throws wick::Error unless 0 <= p <= 1.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, DropoutOptions options = {});
  Tensor forward(const Tensor& input) override;
  /// `p=0.5, inplace=False`
  std::string extra_repr() const override;

  double p;
  bool inplace;
  Generator* generator;
};

/// torchvision.ops.StochasticDepth: functional::stochastic_depth with this
/// module's training flag. Throws wick::Error unless 0 <= p <= 1 and mode is
/// "row" or "batch".
class StochasticDepth : public Module {
 public:
  StochasticDepth(double p_, std::string mode_, Generator* generator_ = nullptr);
  Tensor forward(const Tensor& input) override;
  /// `p=0.2, mode=row`: the repr is torchvision's `StochasticDepth(p=0.2, mode=row)`.
  std::string extra_repr() const override;

  double p;
  std::string mode;
  Generator* generator;
};

}  // namespace wick::nn
