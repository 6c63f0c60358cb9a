#include "wick/nn/init.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/thread_pool.h"
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

/// The inverse of erf on (-1, 1) (±inf at ±1): Giles' single-precision
/// approximation ("Approximating the erfinv function", 2010; relative error
/// below 4e-7), with `refine` one Newton step on erf, which squares the
/// error (for float64 results).
double erfinv(double y, bool refine) {
  if (y <= -1) return -std::numeric_limits<double>::infinity();
  if (y >= 1) return std::numeric_limits<double>::infinity();
  double w = -std::log((1 - y) * (1 + y)), p;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941})
      p = c + p * w;
  } else {
    w = std::sqrt(w) - 3;
    p = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682})
      p = c + p * w;
  }
  const double x = p * y;
  if (!refine) return x;
  const double two_over_sqrt_pi = 2 / std::sqrt(std::acos(-1.0));
  return x - (std::erf(x) - y) / (two_over_sqrt_pi * std::exp(-x * x));
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

const Tensor& trunc_normal_(const Tensor& tensor, double mean, double std, double a, double b,
                            Generator* gen) {
  check_defined(tensor, "trunc_normal_");
  WICK_CHECK(is_floating_point(tensor.dtype()),
             "nn::init::trunc_normal_: expected a floating-point tensor, got ", tensor.dtype());
  WICK_CHECK(std > 0, "nn::init::trunc_normal_: std must be positive, got ", std);
  WICK_CHECK(a < b, "nn::init::trunc_normal_: the bounds must satisfy a < b, got a=", a, ", b=", b);
  NoGradGuard no_grad;
  auto norm_cdf = [](double x) { return (1 + std::erf(x / std::sqrt(2.0))) / 2; };
  const double l = norm_cdf((a - mean) / std), u = norm_cdf((b - mean) / std);
  // In double whatever the dtype: a float uniform resolves 1 + y only to
  // 2^-24, which caps float draws near 5.4 std and sends about one draw in
  // 2^24 to -inf, clamped to a (PyTorch's float32 draws do both). In place
  // for a contiguous float64 tensor.
  const bool exact = tensor.dtype() == DType::Float64;
  const Tensor values =
      exact && tensor.is_contiguous() ? tensor : empty(tensor.sizes(), {.dtype = DType::Float64});
  wick::uniform_(values, 2 * l - 1, 2 * u - 1, gen);
  double* v = values.data<double>();
  const double scale = std * std::sqrt(2.0);
  detail::parallel_for(0, values.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      v[i] = std::clamp(erfinv(v[i], exact) * scale + mean, a, b);
  });
  if (!values.is_same(tensor)) tensor.copy_(values);
  return tensor;
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
