// Parameter initialisers: the counterparts of `torch.nn.init`.
//
// Each function fills a floating-point tensor in place (without recording
// history: it runs under a NoGradGuard, so it also works on parameters that
// require grad) and returns it. Random ones draw from `gen`, or from wick's
// global generator (wick::manual_seed) when `gen` is null. The layers' default
// initialisation (nn::Linear, nn::Conv2d, ...) is built from these, with
// PyTorch's formulas, so the distributions match PyTorch's.
//
//   namespace init = wick::nn::init;
//   init::kaiming_normal_(conv.weight, 0, "fan_out", "relu");
//   init::zeros_(conv.bias);
//   init::xavier_uniform_(fc.weight, init::calculate_gain("tanh"));
//
// Nonlinearity and fan-mode names are PyTorch's strings; an unknown one
// throws wick::Error.
//
// SkipInitGuard turns every initialiser into a no-op on this thread, for
// building a model only to look at its state_dict's keys and shapes, or one
// whose every parameter and buffer is loaded right after (PyTorch's
// skip_init and meta-device construction serve the same purpose).
#pragma once

#include <optional>
#include <string_view>
#include <utility>

#include "wick/core/random.h"
#include "wick/core/scalar.h"
#include "wick/core/tensor.h"

namespace wick::nn::init {

/// The recommended gain for a nonlinearity: 1 for "linear", "conv1d",
/// "conv2d", "conv3d", "conv_transpose1d/2d/3d" and "sigmoid"; 5/3 for
/// "tanh"; sqrt(2) for "relu"; sqrt(2 / (1 + slope^2)) for "leaky_relu" (slope
/// = `param`, 0.01 when absent); 3/4 for "selu".
double calculate_gain(std::string_view nonlinearity, std::optional<double> param = std::nullopt);

/// (fan_in, fan_out) of a weight with at least 2 dims: size(1) and size(0),
/// each times the product of the sizes after dim 1 (the receptive field).
/// Throws wick::Error for fewer than 2 dims.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

/// Uniform on [a, b).
const Tensor& uniform_(const Tensor& tensor, double a = 0, double b = 1, Generator* gen = nullptr);

/// Normal with the given mean and standard deviation.
const Tensor& normal_(const Tensor& tensor, double mean = 0, double std = 1,
                      Generator* gen = nullptr);

/// Truncated normal: N(mean, std^2) restricted to [a, b]. The bounds are
/// absolute values, not multiples of std, as in PyTorch: the default [-2, 2]
/// truncates N(0, 0.02^2) nowhere in practice. Drawn as
/// torch.nn.init.trunc_normal_ draws it (a uniform between the normal CDF at
/// a and at b, mapped back through the inverse CDF, clamped to [a, b]), in
/// double precision whatever the dtype (PyTorch's float32 draws stop near
/// 5.4 std, and about one in 2^24 lands on a bound). Like PyTorch's method it
/// is meant for a <= mean <= b; with mean several std outside [a, b] the
/// values pile up at the nearer bound (PyTorch warns there). Throws
/// wick::Error unless the tensor is floating point, std > 0 and a < b.
const Tensor& trunc_normal_(const Tensor& tensor, double mean = 0, double std = 1, double a = -2,
                            double b = 2, Generator* gen = nullptr);

/// Every element `val`. Any dtype.
const Tensor& constant_(const Tensor& tensor, Scalar val);
/// Every element 1. Any dtype.
const Tensor& ones_(const Tensor& tensor);
/// Every element 0. Any dtype.
const Tensor& zeros_(const Tensor& tensor);

/// Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).
const Tensor& xavier_uniform_(const Tensor& tensor, double gain = 1, Generator* gen = nullptr);

/// Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
const Tensor& xavier_normal_(const Tensor& tensor, double gain = 1, Generator* gen = nullptr);

/// He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan), where gain
/// = calculate_gain(nonlinearity, a) (`a` is leaky_relu's negative slope) and
/// fan is fan_in or fan_out per `mode` ("fan_in" keeps the forward pass's
/// variance, "fan_out" the backward pass's). A tensor with no elements is
/// left alone, as in PyTorch.
const Tensor& kaiming_uniform_(const Tensor& tensor, double a = 0, std::string_view mode = "fan_in",
                               std::string_view nonlinearity = "leaky_relu",
                               Generator* gen = nullptr);

/// He normal: N(0, std^2) with std = gain / sqrt(fan) (see kaiming_uniform_).
const Tensor& kaiming_normal_(const Tensor& tensor, double a = 0, std::string_view mode = "fan_in",
                              std::string_view nonlinearity = "leaky_relu",
                              Generator* gen = nullptr);

/// While alive, the initialisers above (on this thread) check their arguments
/// and return the tensor untouched, so its memory stays as allocated
/// (uninitialised: large allocations are not even paged in). Nests.
class SkipInitGuard {
 public:
  SkipInitGuard();
  ~SkipInitGuard();
  SkipInitGuard(const SkipInitGuard&) = delete;
  SkipInitGuard& operator=(const SkipInitGuard&) = delete;
  /// True while a guard is alive on this thread.
  static bool active();

 private:
  bool previous_;
};

}  // namespace wick::nn::init
