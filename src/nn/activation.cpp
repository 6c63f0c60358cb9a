#include "wick/nn/activation.h"

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

}  // namespace

Tensor ReLU::forward(const Tensor& input) {
  Tensor out = wick::relu(input);
  // Writing into the input is only safe when no graph refers to it.
  if (inplace && !(GradMode::is_enabled() && input.requires_grad())) {
    input.copy_(out);
    return input;
  }
  return out;
}

std::string ReLU::extra_repr() const {
  return inplace ? "inplace=True" : "";
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
