#include "wick/nn/linear.h"

#include <cmath>

#include "wick/core/error.h"
#include "wick/nn/functional.h"
#include "wick/nn/init.h"

namespace wick::nn {

Linear::Linear(int64_t in, int64_t out, LinearOptions options)
    : in_features(in), out_features(out) {
  WICK_CHECK(in >= 0 && out >= 0,
             "Linear: expected non-negative in_features and out_features but "
             "got in_features=",
             in, ", out_features=", out);
  weight = register_parameter("weight", empty({out, in}));
  bias = register_parameter("bias", options.bias ? empty({out}) : Tensor());
  reset_parameters();
}

void Linear::reset_parameters() {
  // a = sqrt(5) makes the weight bound 1/sqrt(fan_in): gain sqrt(2 / 6) times
  // sqrt(3 / fan_in). PyTorch keeps this historical choice; so do we.
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = in_features > 0 ? 1 / std::sqrt(double(in_features)) : 0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& input) {
  return functional::linear(input, weight, bias);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) +
         ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False");
}

Tensor Identity::forward(const Tensor& input) {
  return input;
}

Flatten::Flatten(FlattenOptions options) : start_dim(options.start_dim), end_dim(options.end_dim) {}

Tensor Flatten::forward(const Tensor& input) {
  return input.flatten(start_dim, end_dim);
}

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
}

}  // namespace wick::nn
