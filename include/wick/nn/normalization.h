// Normalisation layers: nn::BatchNorm1d, nn::BatchNorm2d and nn::LayerNorm,
// as torch.nn.BatchNorm1d / BatchNorm2d / LayerNorm.
//
//   nn::BatchNorm2d bn(16);                               // affine, tracked stats
//   nn::BatchNorm1d cma(8, {.momentum = std::nullopt});   // cumulative average
//   nn::LayerNorm ln({10, 10}, {.eps = 1e-6});
//   Tensor y = bn(x);        // training: batch statistics, running stats updated
//   bn.eval();               // now the running statistics are used
//   std::cout << bn;   // BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True,
//   track_running_stats=True)
//
// BatchNorm's state_dict holds weight, bias, running_mean, running_var and
// num_batches_tracked (int64, 0-dim), and its layout version is 2 like
// PyTorch's: loading a version-1 state_dict without num_batches_tracked fills
// it with 0 rather than reporting a missing key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wick/core/tensor.h"
#include "wick/nn/module.h"

namespace wick::nn {

/// Optional arguments of nn::BatchNorm1d / nn::BatchNorm2d.
struct BatchNormOptions {
  /// Added to the variance for numerical stability.
  double eps = 1e-5;
  /// Weight of the new batch in the running statistics:
  /// running = (1 - momentum) * running + momentum * batch. nullopt (PyTorch's
  /// momentum=None) makes the running statistics a cumulative average over
  /// the batches seen (momentum = 1 / num_batches_tracked).
  std::optional<double> momentum = 0.1;
  /// Whether to learn a per-channel weight (ones) and bias (zeros).
  bool affine = true;
  /// Whether to keep running statistics (and use them in eval mode). Without
  /// them the batch statistics are used in both modes.
  bool track_running_stats = true;
};

/// What BatchNorm1d and BatchNorm2d share (PyTorch's _BatchNorm); they differ
/// only in the input ranks they accept.
class BatchNormBase : public Module {
 public:
  /// Normalises over dim 1 (channels) using batch statistics in training
  /// (updating the running ones) and the running statistics in eval mode.
  /// Throws ShapeError for an input rank the layer does not accept.
  Tensor forward(const Tensor& input) override;
  /// `16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True`.
  std::string extra_repr() const override;
  /// running_mean = 0, running_var = 1, num_batches_tracked = 0.
  void reset_running_stats();
  /// reset_running_stats(), weight = 1, bias = 0.
  void reset_parameters();

  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine;
  bool track_running_stats;
  /// [num_features]; undefined unless affine.
  Tensor weight;
  Tensor bias;
  /// [num_features]; undefined unless track_running_stats.
  Tensor running_mean;
  Tensor running_var;
  /// 0-dim int64 count of training batches; undefined unless track_running_stats.
  Tensor num_batches_tracked;

 protected:
  BatchNormBase(int64_t num_features, const BatchNormOptions& options);
  /// Throws ShapeError unless the input rank is one this layer accepts.
  virtual void check_input_dim(const Tensor& input) const = 0;
  /// Adds a zero num_batches_tracked to a state_dict saved before version 2.
  void upgrade_state_dict(StateDict& sd, const std::string& prefix,
                          std::optional<int64_t> version) const override;
};

/// Batch normalisation of [N, C] or [N, C, L] input over N (and L).
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t num_features_, BatchNormOptions options = {})
      : BatchNormBase(num_features_, options) {}

 protected:
  void check_input_dim(const Tensor& input) const override;
};

/// Batch normalisation of [N, C, H, W] input over N, H and W.
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t num_features_, BatchNormOptions options = {})
      : BatchNormBase(num_features_, options) {}

 protected:
  void check_input_dim(const Tensor& input) const override;
};

/// Optional arguments of nn::LayerNorm.
struct LayerNormOptions {
  /// Added to the variance for numerical stability.
  double eps = 1e-5;
  /// Whether to learn a weight (ones) and, if `bias`, a bias (zeros) of sizes
  /// normalized_shape.
  bool elementwise_affine = true;
  bool bias = true;
};

/// Layer normalisation over the last dims of the input, whose sizes must be
/// normalized_shape: (x - mean) / sqrt(var + eps) * weight + bias.
class LayerNorm : public Module {
 public:
  LayerNorm(Shape normalized_shape, LayerNormOptions options = {});
  /// LayerNorm(10) normalises over a last dim of size 10.
  LayerNorm(int64_t normalized_shape_, LayerNormOptions options = {})
      : LayerNorm(Shape{normalized_shape_}, options) {}

  Tensor forward(const Tensor& input) override;
  /// `(10,), eps=1e-05, elementwise_affine=True`.
  std::string extra_repr() const override;
  /// weight = 1, bias = 0.
  void reset_parameters();

  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
  /// Sizes normalized_shape; undefined unless elementwise_affine (and, for
  /// bias, the bias option).
  Tensor weight;
  Tensor bias;
};

}  // namespace wick::nn
