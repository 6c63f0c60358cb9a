#include "wick/nn/activation.h"

#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/nn/functional.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

namespace wick::nn {

namespace {

// PyTorch's _get_softmax_dim: the legacy choice when no dim was given.
int64_t implicit_softmax_dim(const Tensor& input) {
  int64_t n = input.dim();
  return (n == 0 || n == 1 || n == 3) ? 0 : 1;
}

std::string dim_repr(const std::optional<int64_t>& dim) {
  return "dim=" + (dim ? std::to_string(*dim) : std::string("None"));
}

/// `out`, or with `inplace` the input overwritten with it. Writing into the
/// input is only safe when no graph refers to it.
Tensor maybe_inplace(bool inplace, const Tensor& input, const Tensor& out) {
  if (inplace && !(GradMode::is_enabled() && input.requires_grad())) {
    input.copy_(out);
    return input;
  }
  return out;
}

std::string inplace_repr(bool inplace) {
  return inplace ? "inplace=True" : "";
}

}  // namespace

Tensor ReLU::forward(const Tensor& input) {
  return maybe_inplace(inplace, input, wick::relu(input));
}

std::string ReLU::extra_repr() const {
  return inplace_repr(inplace);
}

Tensor ReLU6::forward(const Tensor& input) {
  return maybe_inplace(inplace, input, wick::relu6(input));
}

std::string ReLU6::extra_repr() const {
  return inplace_repr(inplace);
}

Tensor Hardsigmoid::forward(const Tensor& input) {
  return maybe_inplace(inplace, input, wick::hardsigmoid(input));
}

Tensor Hardswish::forward(const Tensor& input) {
  return maybe_inplace(inplace, input, wick::hardswish(input));
}

Tensor SiLU::forward(const Tensor& input) {
  return maybe_inplace(inplace, input, wick::silu(input));
}

std::string SiLU::extra_repr() const {
  return inplace_repr(inplace);
}

GELU::GELU(std::string approximate_) : approximate(std::move(approximate_)) {
  WICK_CHECK(approximate == "none" || approximate == "tanh",
             "GELU: approximate must be 'none' or 'tanh', got '", approximate, "'");
}

Tensor GELU::forward(const Tensor& input) {
  return wick::gelu(input, approximate);
}

std::string GELU::extra_repr() const {
  return "approximate='" + approximate + "'";
}

Tensor Sigmoid::forward(const Tensor& input) {
  return wick::sigmoid(input);
}

Tensor Tanh::forward(const Tensor& input) {
  return wick::tanh(input);
}

Tensor Softmax::forward(const Tensor& input) {
  return functional::softmax(input, dim.value_or(implicit_softmax_dim(input)));
}

std::string Softmax::extra_repr() const {
  return dim_repr(dim);
}

Tensor LogSoftmax::forward(const Tensor& input) {
  return functional::log_softmax(input, dim.value_or(implicit_softmax_dim(input)));
}

std::string LogSoftmax::extra_repr() const {
  return dim_repr(dim);
}

}  // namespace wick::nn
