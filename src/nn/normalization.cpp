#include "wick/nn/normalization.h"

#include "core/format.h"
#include "wick/core/error.h"
#include "wick/nn/functional.h"
#include "wick/nn/init.h"

namespace wick::nn {

namespace {

std::string py_bool(bool b) {
  return b ? "True" : "False";
}

std::string py_float(double v) {
  return wick::detail::python_float_repr(v, true);
}

}  // namespace

// ---- BatchNorm ----------------------------------------------------------------

BatchNormBase::BatchNormBase(int64_t features, const BatchNormOptions& options)
    : num_features(features),
      eps(options.eps),
      momentum(options.momentum),
      affine(options.affine),
      track_running_stats(options.track_running_stats) {
  WICK_CHECK(features >= 0, "BatchNorm: expected a non-negative num_features but got ", features);
  // Version 2 added num_batches_tracked; PyTorch's loader keys off it.
  set_version(2);
  weight = register_parameter("weight", affine ? empty({features}) : Tensor());
  bias = register_parameter("bias", affine ? empty({features}) : Tensor());
  const bool t = track_running_stats;
  running_mean = register_buffer("running_mean", t ? empty({features}) : Tensor());
  running_var = register_buffer("running_var", t ? empty({features}) : Tensor());
  num_batches_tracked =
      register_buffer("num_batches_tracked", t ? empty({}, {.dtype = DType::Int64}) : Tensor());
  reset_parameters();
}

void BatchNormBase::reset_running_stats() {
  if (!track_running_stats) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  init::zeros_(num_batches_tracked);
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  if (!affine) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor BatchNormBase::forward(const Tensor& input) {
  check_input_dim(input);
  double factor = momentum.value_or(0.0);
  if (is_training() && track_running_stats && num_batches_tracked.defined()) {
    num_batches_tracked.add_(1);
    if (!momentum) factor = 1.0 / double(num_batches_tracked.item<int64_t>());
  }
  // Without running statistics there is nothing else to normalise with, so
  // eval mode uses the batch's own, as PyTorch does.
  const bool batch_stats = is_training() || !running_mean.defined();
  const bool pass_running = !is_training() || track_running_stats;
  return functional::batch_norm(input, pass_running ? running_mean : Tensor(),
                                pass_running ? running_var : Tensor(), weight, bias, batch_stats,
                                factor, eps);
}

std::string BatchNormBase::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + py_float(eps) +
         ", momentum=" + (momentum ? py_float(*momentum) : "None") + ", affine=" + py_bool(affine) +
         ", track_running_stats=" + py_bool(track_running_stats);
}

void BatchNormBase::upgrade_state_dict(StateDict& sd, const std::string& prefix,
                                       std::optional<int64_t> version) const {
  if ((!version || *version < 2) && track_running_stats) {
    const std::string key = prefix + "num_batches_tracked";
    if (!sd.contains(key)) sd.set(key, zeros({}, {.dtype = DType::Int64}));
  }
  Module::upgrade_state_dict(sd, prefix, version);
}

void BatchNorm1d::check_input_dim(const Tensor& input) const {
  WICK_CHECK_AS(ShapeError, input.defined() && (input.dim() == 2 || input.dim() == 3),
                "BatchNorm1d: expected 2D or 3D input (got ", input.defined() ? input.dim() : 0,
                "D input)");
}

void BatchNorm2d::check_input_dim(const Tensor& input) const {
  WICK_CHECK_AS(ShapeError, input.defined() && input.dim() == 4,
                "BatchNorm2d: expected 4D input (got ", input.defined() ? input.dim() : 0,
                "D input)");
}

// ---- LayerNorm ------------------------------------------------------------------

LayerNorm::LayerNorm(Shape shape, LayerNormOptions options)
    : normalized_shape(std::move(shape)),
      eps(options.eps),
      elementwise_affine(options.elementwise_affine) {
  WICK_CHECK(!normalized_shape.empty(),
             "LayerNorm: expected normalized_shape to be at least 1-dimensional");
  const bool with_bias = elementwise_affine && options.bias;
  weight = register_parameter("weight", elementwise_affine ? empty(normalized_shape) : Tensor());
  bias = register_parameter("bias", with_bias ? empty(normalized_shape) : Tensor());
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
  return functional::layer_norm(input, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  // A Python tuple: (10,) for one element, (10, 10) for more.
  std::string s = "(";
  for (size_t i = 0; i < normalized_shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(normalized_shape[i]);
  s += normalized_shape.size() == 1 ? ",)" : ")";
  return s + ", eps=" + py_float(eps) + ", elementwise_affine=" + py_bool(elementwise_affine);
}

}  // namespace wick::nn
