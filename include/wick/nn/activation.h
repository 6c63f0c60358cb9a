// Activation layers: ReLU, ReLU6, Hardsigmoid, Hardswish, SiLU, GELU,
// Sigmoid, Tanh, Softmax, LogSoftmax (torch.nn's).
//
// Modules without parameters that apply one function, for use in Sequential
// and wherever a model wants the function as a named child. They print as
// PyTorch prints them (`ReLU()`, `ReLU(inplace=True)`, `Softmax(dim=1)`).
//
//   nn::Sequential head(nn::Linear(84, 10), nn::LogSoftmax(1));
//
// Inside a forward, the free functions (wick::relu, functional::softmax) do
// the same without a module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wick/core/tensor.h"
#include "wick/nn/module.h"

namespace wick::nn {

/// torch.nn.ReLU: max(x, 0) elementwise. With `inplace` the result is written
/// into the input and the input is returned, as in PyTorch, when autograd does
/// not record the call (no grad mode, or an input that does not require
/// grad); when it does, wick computes out of place (it has no in-place
/// autograd), so the input is left unchanged and the result is the same.
class ReLU : public Module {
 public:
  explicit ReLU(bool inplace_ = false) : inplace(inplace_) {}
  Tensor forward(const Tensor& input) override;
  /// Empty, or `inplace=True`.
  std::string extra_repr() const override;

  bool inplace;
};

/// torch.nn.ReLU6: min(max(x, 0), 6); `inplace` as for ReLU.
class ReLU6 : public Module {
 public:
  explicit ReLU6(bool inplace_ = false) : inplace(inplace_) {}
  Tensor forward(const Tensor& input) override;
  /// Empty, or `inplace=True`.
  std::string extra_repr() const override;

  bool inplace;
};

/// torch.nn.Hardsigmoid: min(max(x + 3, 0), 6) / 6; `inplace` as for ReLU.
/// Prints as `Hardsigmoid()` whatever `inplace` is, as PyTorch does.
class Hardsigmoid : public Module {
 public:
  explicit Hardsigmoid(bool inplace_ = false) : inplace(inplace_) {}
  Tensor forward(const Tensor& input) override;

  bool inplace;
};

/// torch.nn.Hardswish: x * hardsigmoid(x); `inplace` as for ReLU. Prints as
/// `Hardswish()` whatever `inplace` is, as PyTorch does.
class Hardswish : public Module {
 public:
  explicit Hardswish(bool inplace_ = false) : inplace(inplace_) {}
  Tensor forward(const Tensor& input) override;

  bool inplace;
};

/// torch.nn.SiLU: x * sigmoid(x); `inplace` as for ReLU.
class SiLU : public Module {
 public:
  explicit SiLU(bool inplace_ = false) : inplace(inplace_) {}
  Tensor forward(const Tensor& input) override;
  /// Empty, or `inplace=True`.
  std::string extra_repr() const override;

  bool inplace;
};

/// torch.nn.GELU: x * Phi(x), exact ("none") or with the tanh approximation
/// ("tanh"); see wick::gelu.
class GELU : public Module {
 public:
  explicit GELU(std::string approximate_ = "none");
  Tensor forward(const Tensor& input) override;
  /// `approximate='none'` or `approximate='tanh'`.
  std::string extra_repr() const override;

  std::string approximate;
};

/// torch.nn.Sigmoid: 1 / (1 + exp(-x)) elementwise.
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

/// torch.nn.Tanh: tanh(x) elementwise.
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

/// torch.nn.Softmax: exp(x) / sum(exp(x)) along `dim`. Without a dim, PyTorch's
/// legacy choice is made per input: dim 0 for 0-, 1- and 3-dim inputs, else 1.
class Softmax : public Module {
 public:
  explicit Softmax(std::optional<int64_t> dim_ = std::nullopt) : dim(dim_) {}
  Tensor forward(const Tensor& input) override;
  /// `dim=1`, or `dim=None`.
  std::string extra_repr() const override;

  std::optional<int64_t> dim;
};

/// torch.nn.LogSoftmax: log(softmax(x)) along `dim`, computed stably. The dim
/// is optional as for Softmax.
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(std::optional<int64_t> dim_ = std::nullopt) : dim(dim_) {}
  Tensor forward(const Tensor& input) override;
  /// `dim=1`, or `dim=None`.
  std::string extra_repr() const override;

  std::optional<int64_t> dim;
};

}  // namespace wick::nn
