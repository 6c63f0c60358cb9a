// Internal: 2-D pooling kernels (max, average, adaptive average, adaptive max)
// for float and double.
//
// Inputs are contiguous stacks of planes [planes, in_h, in_w] (planes = N * C);
// outputs are [planes, out_h, out_w]. Arguments are checked by the caller
// (src/nn/functional/).
#pragma once

#include <cstdint>

namespace wick::kernels {

/// Sizes and hyper-parameters of one pooling.
struct Pool2dShape {
  int64_t planes, in_h, in_w, out_h, out_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  int64_t dilation_h = 1, dilation_w = 1;
};

/// Output size of one pooled dimension, PyTorch's pooling_output_shape.
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                         bool ceil_mode);

/// Max over each window (padding counts as -inf; NaN wins); `indices` gets the
/// flat index (iy * in_w + ix) of each maximum within its plane; `indices` may
/// be null when no backward pass needs them (inference).
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* input, T* output, int64_t* indices);

/// grad_input (overwritten) gets each output gradient at its saved index.
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* grad_output, const int64_t* indices,
                         T* grad_input);

/// Options of average pooling that change the divisor.
struct AvgPoolDivisor {
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
};

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, AvgPoolDivisor d, const T* input, T* output);

/// grad_input (overwritten) gets each output gradient spread over its window.
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, AvgPoolDivisor d, const T* grad_output,
                         T* grad_input);

/// Adaptive average pooling: output cell i covers [floor(i * in / out),
/// ceil((i + 1) * in / out)). Only planes, in_*, out_* of `s` are used.
template <class T>
void adaptive_avg_pool2d_forward(const Pool2dShape& s, const T* input, T* output);

template <class T>
void adaptive_avg_pool2d_backward(const Pool2dShape& s, const T* grad_output, T* grad_input);

/// Adaptive max pooling over the windows of adaptive average pooling;
/// `indices` (never null) gets each maximum's flat index within its plane, as
/// for max_pool2d, so max_pool2d_backward (which reads only planes, in_*,
/// out_* of `s`) is its backward.
template <class T>
void adaptive_max_pool2d_forward(const Pool2dShape& s, const T* input, T* output, int64_t* indices);

}  // namespace wick::kernels
