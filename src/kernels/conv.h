// Internal: 2-D convolution kernels (im2col + GEMM) for float and double.
//
// All pointers address contiguous NCHW data: input [N, C_in, H, W], weight
// [C_out, C_in / groups, kH, kW], output [N, C_out, out_h, out_w]. Arguments are
// checked by the caller (src/nn/functional/).
//
// Threads: with several images and threads, each thread takes a contiguous
// range of images and OpenBLAS runs single-threaded meanwhile; with one image
// (or one thread) the images run in turn and each GEMM may use BLAS threads.
#pragma once

#include <cstdint>

namespace wick::kernels {

/// Sizes and hyper-parameters of one convolution.
struct Conv2dShape {
  int64_t batch, in_channels, in_h, in_w;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
  int64_t out_h, out_w;
};

/// Elements of one image's column matrix (C_in * kH * kW * out_h * out_w), or
/// 0 for a pointwise convolution, which needs none.
int64_t conv2d_columns_per_image(const Conv2dShape& s);

/// output = conv(input, weight) + bias (bias may be null). When `columns` is
/// not null it receives every image's column matrix, [batch,
/// conv2d_columns_per_image(s)], for conv2d_backward: training then unfolds
/// each image once instead of twice.
template <class T>
void conv2d_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias, T* output,
                    T* columns = nullptr);

/// Gradients of conv2d_forward: grad_input, grad_weight and grad_bias are
/// overwritten; pass null for those not wanted. `columns` (may be null) are
/// the forward pass's column matrices of `input`.
template <class T>
void conv2d_backward(const Conv2dShape& s, const T* grad_output, const T* input, const T* weight,
                     T* grad_input, T* grad_weight, T* grad_bias, const T* columns = nullptr);

}  // namespace wick::kernels
