// Internal: softmax, log_softmax and loss kernels for float and double.
//
// Softmax data is contiguous and seen as [outer, dim, inner], the reduced
// dimension in the middle. Loss inputs are contiguous [N, C, S] (S = product
// of the extra dims, 1 for [N, C]) with int64 targets [N, S]. Arguments and
// target ranges are checked by the caller (src/nn/functional/).
#pragma once

#include <cstdint>

namespace wick::kernels {

/// y = softmax(x) or log_softmax(x) along the middle dimension; stable
/// (the maximum is subtracted first).
template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner, bool log);

/// Gradient from the forward output y: softmax gx = y * (g - sum(g * y)),
/// log_softmax gx = g - exp(y) * sum(g).
template <class T>
void softmax_backward(const T* grad_out, const T* y, T* grad_input, int64_t outer, int64_t dim,
                      int64_t inner, bool log);

/// Per-element negative log-likelihood -weight[t] * input[n, t, s] into `out`
/// [N, S] (0 where t == ignore_index) when `out` is non-null. Returns the sum
/// of the losses and sets `total_weight` to the sum of weight[t] over
/// non-ignored targets. weight may be null (ones).
template <class T>
double nll_loss_forward(const T* input, const int64_t* target, const T* weight, int64_t n,
                        int64_t c, int64_t s, int64_t ignore_index, T* out, double& total_weight);

/// grad_input [N, C, S] (overwritten) = -weight[t] * grad_scale(n, s) at the
/// target class, 0 elsewhere; grad_scale is grad_out[n, s] when
/// `grad_per_element`, otherwise the single value grad_out[0] * scale.
template <class T>
void nll_loss_backward(const T* grad_out, bool grad_per_element, double scale,
                       const int64_t* target, const T* weight, int64_t n, int64_t c, int64_t s,
                       int64_t ignore_index, T* grad_input);

}  // namespace wick::kernels
