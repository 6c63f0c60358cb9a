#include "wick/nn/dropout.h"

#include <utility>

#include "core/format.h"
#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"
#include "wick/nn/functional.h"

namespace wick::nn {

Dropout::Dropout(double p, DropoutOptions options)
    : p(p), inplace(options.inplace), generator(options.generator) {
  // PyTorch's ValueError text.
  WICK_CHECK(p >= 0 && p <= 1, "dropout probability has to be between 0 and 1, but got ",
             wick::detail::python_float_repr(p, true));
}

Tensor Dropout::forward(const Tensor& input) {
  if (!is_training()) return input;
  Tensor out = functional::dropout(input, p, true, generator);
  // See ReLU: in place only when no graph refers to the input.
  if (inplace && !(GradMode::is_enabled() && input.requires_grad())) {
    input.copy_(out);
    return input;
  }
  return out;
}

std::string Dropout::extra_repr() const {
  return "p=" + wick::detail::python_float_repr(p, true) +
         ", inplace=" + (inplace ? "True" : "False");
}

StochasticDepth::StochasticDepth(double p_, std::string mode_, Generator* generator_)
    : p(p_), mode(std::move(mode_)), generator(generator_) {
  // torchvision checks when the op runs; checking here points at the mistake.
  WICK_CHECK(p >= 0 && p <= 1, "drop probability has to be between 0 and 1, but got ",
             wick::detail::python_float_repr(p, true));
  WICK_CHECK(mode == "row" || mode == "batch", "mode has to be either 'batch' or 'row', but got ",
             mode);
}

Tensor StochasticDepth::forward(const Tensor& input) {
  return functional::stochastic_depth(input, p, mode, is_training(), generator);
}

std::string StochasticDepth::extra_repr() const {
  return "p=" + wick::detail::python_float_repr(p, true) + ", mode=" + mode;
}

}  // namespace wick::nn
