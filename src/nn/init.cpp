#include "wick/nn/init.h"

#include <cmath>
#include <string>

#include "wick/autograd/grad_mode.h"
#include "wick/core/error.h"

namespace wick::nn::init {

namespace {

thread_local bool skip_init = false;

void check_defined(const Tensor& t, const char* op) {
  WICK_CHECK(t.defined(), "nn::init::", op, ": the tensor is undefined");
}

int64_t correct_fan(const Tensor& t, std::string_view mode) {
  WICK_CHECK(mode == "fan_in" || mode == "fan_out", "nn::init: mode ", mode,
             " not supported, please use one of ['fan_in', 'fan_out']");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return mode == "fan_in" ? fan_in : fan_out;
}

/// The standard deviation of He initialisation (kaiming_uniform_ scales it by
/// sqrt(3) to get the bound of the uniform with that deviation).
double kaiming_std(const Tensor& t, double a, std::string_view mode,
                   std::string_view nonlinearity) {
  const int64_t fan = correct_fan(t, mode);
  return calculate_gain(nonlinearity, a) / std::sqrt(double(fan));
}

double xavier_std(const Tensor& t, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return gain * std::sqrt(2.0 / double(fan_in + fan_out));
}

}  // namespace

double calculate_gain(std::string_view nonlinearity, std::optional<double> param) {
  for (std::string_view linear : {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                  "conv_transpose2d", "conv_transpose3d", "sigmoid"})
    if (nonlinearity == linear) return 1;
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1 + slope * slope));
  }
  // PyTorch's empirical value for SELU (pytorch/pytorch#50664).
  if (nonlinearity == "selu") return 3.0 / 4;
  throw Error("nn::init::calculate_gain: unsupported nonlinearity " + std::string(nonlinearity));
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  check_defined(tensor, "calculate_fan_in_and_fan_out");
  WICK_CHECK(tensor.dim() >= 2,
             "nn::init: fan in and fan out can not be computed for tensor with fewer than 2 "
             "dimensions (got sizes ",
             tensor.sizes(), ")");
  int64_t receptive_field = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive_field *= tensor.size(d);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

const Tensor& uniform_(const Tensor& tensor, double a, double b, Generator* gen) {
  check_defined(tensor, "uniform_");
  if (skip_init) return tensor;
  NoGradGuard no_grad;
  return wick::uniform_(tensor, a, b, gen);
}

const Tensor& normal_(const Tensor& tensor, double mean, double std, Generator* gen) {
  check_defined(tensor, "normal_");
  if (skip_init) return tensor;
  NoGradGuard no_grad;
  return wick::normal_(tensor, mean, std, gen);
}

const Tensor& constant_(const Tensor& tensor, Scalar val) {
  check_defined(tensor, "constant_");
  if (skip_init) return tensor;
  NoGradGuard no_grad;
  return tensor.fill_(val);
}

const Tensor& ones_(const Tensor& tensor) {
  return constant_(tensor, 1);
}

const Tensor& zeros_(const Tensor& tensor) {
  return constant_(tensor, 0);
}

const Tensor& xavier_uniform_(const Tensor& tensor, double gain, Generator* gen) {
  check_defined(tensor, "xavier_uniform_");
  const double a = std::sqrt(3.0) * xavier_std(tensor, gain);
  return init::uniform_(tensor, -a, a, gen);
}

const Tensor& xavier_normal_(const Tensor& tensor, double gain, Generator* gen) {
  check_defined(tensor, "xavier_normal_");
  return init::normal_(tensor, 0, xavier_std(tensor, gain), gen);
}

const Tensor& kaiming_uniform_(const Tensor& tensor, double a, std::string_view mode,
                               std::string_view nonlinearity, Generator* gen) {
  check_defined(tensor, "kaiming_uniform_");
  // PyTorch only warns here; the fan would be 0 and the bound infinite.
  if (tensor.numel() == 0) return tensor;
  const double bound = std::sqrt(3.0) * kaiming_std(tensor, a, mode, nonlinearity);
  return init::uniform_(tensor, -bound, bound, gen);
}

const Tensor& kaiming_normal_(const Tensor& tensor, double a, std::string_view mode,
                              std::string_view nonlinearity, Generator* gen) {
  check_defined(tensor, "kaiming_normal_");
  if (tensor.numel() == 0) return tensor;
  return init::normal_(tensor, 0, kaiming_std(tensor, a, mode, nonlinearity), gen);
}

SkipInitGuard::SkipInitGuard() : previous_(skip_init) {
  skip_init = true;
}
SkipInitGuard::~SkipInitGuard() {
  skip_init = previous_;
}
bool SkipInitGuard::active() {
  return skip_init;
}

}  // namespace wick::nn::init
