// Internal: batch and layer normalisation kernels for float and double.
//
// Batch norm data is contiguous [N, C, S] (S = product of the spatial sizes, 1
// for [N, C] input); per-channel vectors have C elements. Layer norm data is
// contiguous [R, D]: R rows, each normalised over its D elements. Arguments are
// checked by the caller (src/nn/functional/).
#pragma once

#include <cstdint>

namespace wick::kernels {

/// Per-channel mean and biased variance of x [N, C, S].
template <class T>
void batch_norm_stats(const T* x, int64_t n, int64_t c, int64_t s, T* mean, T* var);

/// y = x * scale[c] + shift[c].
template <class T>
void batch_norm_apply(const T* x, int64_t n, int64_t c, int64_t s, const T* scale, const T* shift,
                      T* y);

/// Gradients of y = (x - mean[c]) * invstd[c] * weight[c] + bias[c]. With
/// `training`, mean and invstd are the batch's own statistics and the gradient
/// flows through them too. weight may be null (ones); any of grad_input,
/// grad_weight, grad_bias may be null (not wanted).
template <class T>
void batch_norm_backward(const T* grad_out, const T* x, int64_t n, int64_t c, int64_t s,
                         const T* mean, const T* invstd, const T* weight, bool training,
                         T* grad_input, T* grad_weight, T* grad_bias);

/// Layer norm of x [rows, cols]: y = (x - mean[r]) * rstd[r] * weight[j] +
/// bias[j], with the biased variance. Writes the per-row mean and rstd = 1 /
/// sqrt(var + eps) for backward. weight / bias may be null (ones / zeros).
template <class T>
void layer_norm_forward(const T* x, int64_t rows, int64_t cols, const T* weight, const T* bias,
                        double eps, T* y, T* mean, T* rstd);

/// Gradients of layer_norm_forward given its saved mean and rstd. weight may
/// be null (ones); any of grad_input, grad_weight, grad_bias may be null.
template <class T>
void layer_norm_backward(const T* grad_out, const T* x, int64_t rows, int64_t cols, const T* mean,
                         const T* rstd, const T* weight, T* grad_input, T* grad_weight,
                         T* grad_bias);

}  // namespace wick::kernels
