#include "wick/nn/pooling.h"

#include "wick/core/error.h"

namespace wick::nn {

namespace {

std::string int_or_none(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string("None");
}

// Python's repr of an int or of a 2-tuple. (Built by appending: GCC 12 warns
// falsely about `"(" + std::string`.)
std::string pair_repr(const std::string& h, const std::string& w, bool is_pair) {
  if (!is_pair) return h;
  std::string s = "(";
  s.append(h).append(", ").append(w).append(")");
  return s;
}

}  // namespace

std::string Size2::repr() const {
  return pair_repr(std::to_string(h), std::to_string(w), is_pair);
}

std::string AdaptiveSize2::repr() const {
  return pair_repr(int_or_none(h), int_or_none(w), is_pair);
}

namespace {

// PyTorch refuses non-positive sizes when the op runs; checking at
// construction points at the line that made the mistake.
void check_positive(const char* layer, const char* what, const Size2& s) {
  WICK_CHECK(s.h > 0 && s.w > 0, layer, ": ", what, " must be positive, got ", s.repr());
}

void check_adaptive_size(const char* layer, const AdaptiveSize2& s) {
  WICK_CHECK(s.h.value_or(1) > 0 && s.w.value_or(1) > 0, layer,
             ": output_size must be positive, got ", s.repr());
}

/// The output size with a None dimension resolved against this input; the
/// functional op checks the input's rank, so only read the sizes when there
/// are enough dims.
functional::Pair resolved(const AdaptiveSize2& s, const Tensor& input) {
  int64_t h = s.h.value_or(input.dim() >= 2 ? input.size(-2) : 1);
  int64_t w = s.w.value_or(input.dim() >= 2 ? input.size(-1) : 1);
  return functional::Pair(h, w);
}

}  // namespace

MaxPool2d::MaxPool2d(Size2 kernel_size, MaxPool2dOptions options)
    : kernel_size(kernel_size),
      stride(options.stride.value.value_or(kernel_size)),
      padding(options.padding),
      dilation(options.dilation),
      ceil_mode(options.ceil_mode) {
  check_positive("MaxPool2d", "kernel_size", kernel_size);
  check_positive("MaxPool2d", "stride", stride);
  check_positive("MaxPool2d", "dilation", dilation);
}

MaxPool2d::MaxPool2d(Size2 kernel_size, Size2 stride)
    : MaxPool2d(kernel_size, MaxPool2dOptions{.stride = stride}) {}

Tensor MaxPool2d::forward(const Tensor& input) {
  return functional::max_pool2d(input, kernel_size, functional::Pair(stride), padding, dilation,
                                ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + kernel_size.repr() + ", stride=" + stride.repr() +
         ", padding=" + padding.repr() + ", dilation=" + dilation.repr() +
         ", ceil_mode=" + (ceil_mode ? "True" : "False");
}

AvgPool2d::AvgPool2d(Size2 kernel_size, AvgPool2dOptions options)
    : kernel_size(kernel_size),
      stride(options.stride.value.value_or(kernel_size)),
      padding(options.padding),
      ceil_mode(options.ceil_mode),
      count_include_pad(options.count_include_pad),
      divisor_override(options.divisor_override) {
  check_positive("AvgPool2d", "kernel_size", kernel_size);
  check_positive("AvgPool2d", "stride", stride);
}

AvgPool2d::AvgPool2d(Size2 kernel_size, Size2 stride)
    : AvgPool2d(kernel_size, AvgPool2dOptions{.stride = stride}) {}

Tensor AvgPool2d::forward(const Tensor& input) {
  return functional::avg_pool2d(input, kernel_size, functional::Pair(stride), padding, ceil_mode,
                                count_include_pad, divisor_override);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + kernel_size.repr() + ", stride=" + stride.repr() +
         ", padding=" + padding.repr();
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(AdaptiveSize2 output_size) : output_size(output_size) {
  check_adaptive_size("AdaptiveAvgPool2d", output_size);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) {
  return functional::adaptive_avg_pool2d(input, resolved(output_size, input));
}

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + output_size.repr();
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(AdaptiveSize2 output_size) : output_size(output_size) {
  check_adaptive_size("AdaptiveMaxPool2d", output_size);
}

Tensor AdaptiveMaxPool2d::forward(const Tensor& input) {
  return functional::adaptive_max_pool2d(input, resolved(output_size, input));
}

std::string AdaptiveMaxPool2d::extra_repr() const {
  return "output_size=" + output_size.repr();
}

}  // namespace wick::nn
