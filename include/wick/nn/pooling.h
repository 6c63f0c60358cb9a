// Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d
// (torch.nn's).
//
// They have no parameters or buffers; they hold their sizes, print them as
// PyTorch does and call the pooling functions of wick::nn::functional. A size is
// written as in Python: one int for both dimensions (`2`) or a pair
// (`{2, 3}`), and the repr shows it the way it was given (`kernel_size=2`,
// `kernel_size=(2, 3)`). Required arguments are positional, optional ones go
// in an options struct with designated initializers; the stride, optional in
// PyTorch and defaulting to the kernel size, may also be given second:
//
//   nn::MaxPool2d pool(2, 2);                                    // MaxPool2d(2, 2)
//   nn::MaxPool2d p3(3, {.stride = 2, .padding = 1, .ceil_mode = true});
//   nn::AvgPool2d avg(3, {.stride = 1, .padding = 1, .count_include_pad = false});
//   nn::AdaptiveAvgPool2d gap(1);                                // output 1 x 1
//   nn::AdaptiveAvgPool2d cols({std::nullopt, 7});               // (None, 7): keep H
//
// (A pair stride given second is ambiguous with the options struct in C++:
// write `nn::MaxPool2d(3, {.stride = {2, 1}})`.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wick/core/tensor.h"
#include "wick/nn/functional.h"
#include "wick/nn/module.h"

namespace wick::nn {

/// A 2-D size given as Python gives it: one int used for both dimensions, or a
/// pair (h, w). It remembers which, because PyTorch's repr prints it as given.
struct Size2 {
  int64_t h = 0, w = 0;
  bool is_pair = false;

  Size2(int64_t v) : h(v), w(v) {}
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_), is_pair(true) {}
  /// `2` or `(2, 3)`, as Python prints an int or a tuple.
  std::string repr() const;
  operator functional::Pair() const { return {h, w}; }
};

/// A Size2 or nothing (Python's None), for a stride that defaults to the
/// kernel size. Unlike std::optional<Size2> it takes `{2, 1}` for a pair.
struct OptionalSize2 {
  std::optional<Size2> value;

  OptionalSize2() = default;
  OptionalSize2(std::nullopt_t) {}
  OptionalSize2(int64_t v) : value(Size2(v)) {}
  OptionalSize2(int64_t h, int64_t w) : value(Size2(h, w)) {}
  OptionalSize2(Size2 v) : value(v) {}
};

/// An adaptive pooling output size: one int, or (h, w) where either may be
/// std::nullopt (Python's None: keep the input's size in that dimension).
struct AdaptiveSize2 {
  std::optional<int64_t> h, w;
  bool is_pair = false;

  AdaptiveSize2(int64_t v) : h(v), w(v) {}
  AdaptiveSize2(std::optional<int64_t> h_, std::optional<int64_t> w_)
      : h(h_), w(w_), is_pair(true) {}
  /// `5`, `(5, 7)` or `(None, 7)`.
  std::string repr() const;
};

struct MaxPool2dOptions {
  /// The step between windows; defaults to the kernel size.
  OptionalSize2 stride = std::nullopt;
  /// Implicit -inf padding on both sides.
  Size2 padding = 0;
  /// The spacing between kernel elements.
  Size2 dilation = 1;
  /// Round the output size up instead of down.
  bool ceil_mode = false;
};

/// torch.nn.MaxPool2d: the maximum over each kernel_size window. Input
/// [N, C, H, W] or [C, H, W]. (PyTorch's return_indices is not supported.)
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, MaxPool2dOptions options = {});
  /// `MaxPool2d(2, 2)`: kernel_size then stride, as in Python.
  MaxPool2d(Size2 kernel_size, Size2 stride);

  Tensor forward(const Tensor& input) override;
  /// `kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False`
  std::string extra_repr() const override;

  Size2 kernel_size;
  Size2 stride;  // the kernel size when not given, as PyTorch stores it
  Size2 padding;
  Size2 dilation;
  bool ceil_mode;
};

struct AvgPool2dOptions {
  /// The step between windows; defaults to the kernel size.
  OptionalSize2 stride = std::nullopt;
  /// Implicit zero padding on both sides.
  Size2 padding = 0;
  /// Round the output size up instead of down.
  bool ceil_mode = false;
  /// Count the zero padding in the averages' divisor.
  bool count_include_pad = true;
  /// Divide by this instead of the window size.
  std::optional<int64_t> divisor_override = std::nullopt;
};

/// torch.nn.AvgPool2d: the mean over each kernel_size window.
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, AvgPool2dOptions options = {});
  /// `AvgPool2d(2, 2)`: kernel_size then stride, as in Python.
  AvgPool2d(Size2 kernel_size, Size2 stride);

  Tensor forward(const Tensor& input) override;
  /// `kernel_size=2, stride=2, padding=0` (PyTorch shows no more).
  std::string extra_repr() const override;

  Size2 kernel_size;
  Size2 stride;
  Size2 padding;
  bool ceil_mode;
  bool count_include_pad;
  std::optional<int64_t> divisor_override = std::nullopt;
};

/// torch.nn.AdaptiveAvgPool2d: averages over windows chosen so that the
/// output has `output_size` (a None dimension keeps the input's size).
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(AdaptiveSize2 output_size);

  Tensor forward(const Tensor& input) override;
  /// `output_size=(5, 7)`, `output_size=1`, `output_size=(None, 7)`
  std::string extra_repr() const override;

  AdaptiveSize2 output_size;
};

/// torch.nn.AdaptiveMaxPool2d (return_indices=False): the maximum over the
/// windows of AdaptiveAvgPool2d; output_size as there.
class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(AdaptiveSize2 output_size);

  Tensor forward(const Tensor& input) override;
  /// `output_size=(5, 7)`, `output_size=1`, `output_size=(None, 7)`
  std::string extra_repr() const override;

  AdaptiveSize2 output_size;
};

}  // namespace wick::nn
