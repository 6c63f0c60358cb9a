// Linear layers and shape helpers: nn::Linear, nn::Identity, nn::Flatten, as
// torch.nn.Linear, torch.nn.Identity and torch.nn.Flatten.
//
//   nn::Linear fc1(400, 120);                 // weight [120, 400], bias [120]
//   nn::Linear head(4, 2, {.bias = false});   // no bias: absent from state_dict
//   Tensor y = fc1(x);                        // x [..., 400] -> y [..., 120]
//   std::cout << fc1;   // Linear(in_features=400, out_features=120, bias=True)
//
// Parameters are initialised as PyTorch's reset_parameters does, drawing from
// wick's global generator (wick::manual_seed).
#pragma once

#include <cstdint>
#include <string>

#include "wick/core/tensor.h"
#include "wick/nn/module.h"

namespace wick::nn {

/// Optional arguments of nn::Linear.
struct LinearOptions {
  /// Whether to learn an additive bias.
  bool bias = true;
};

/// y = x · weightᵀ + bias. weight [out_features, in_features] starts as
/// kaiming_uniform_(a = sqrt(5)), that is U(-1/sqrt(in), 1/sqrt(in)), and bias
/// [out_features] as U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, LinearOptions options = {});

  /// input [..., in_features] -> [..., out_features].
  Tensor forward(const Tensor& input) override;
  /// `in_features=400, out_features=120, bias=True`.
  std::string extra_repr() const override;
  /// Draws weight and bias afresh as the constructor does.
  void reset_parameters();

  int64_t in_features;
  int64_t out_features;
  Tensor weight;
  /// Undefined when constructed with bias = false.
  Tensor bias;
};

/// Returns its input unchanged; a placeholder where a layer is optional.
class Identity : public Module {
 public:
  Identity() = default;
  Tensor forward(const Tensor& input) override;
};

/// Optional arguments of nn::Flatten.
struct FlattenOptions {
  /// First dim to flatten (negative counts from the end).
  int64_t start_dim = 1;
  /// Last dim to flatten (negative counts from the end).
  int64_t end_dim = -1;
};

/// Flattens dims start_dim..end_dim into one: [N, C, H, W] -> [N, C*H*W] by
/// default (a view when the strides allow it).
class Flatten : public Module {
 public:
  explicit Flatten(FlattenOptions options = {});
  Tensor forward(const Tensor& input) override;
  /// `start_dim=1, end_dim=-1`.
  std::string extra_repr() const override;

  int64_t start_dim;
  int64_t end_dim;
};

}  // namespace wick::nn
