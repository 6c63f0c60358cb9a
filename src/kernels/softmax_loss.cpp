#include "kernels/softmax_loss.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/thread_pool.h"

namespace wick::kernels {

namespace {
/// Rows per parallel chunk: a chunk should touch at least ~32k elements.
int64_t row_grain(int64_t per_row) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(per_row, 1));
}
}  // namespace

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner, bool log) {
  if (dim == 0) return;
  if (inner == 1) {
    detail::parallel_for(0, outer, row_grain(dim), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* p = x + o * dim;
        T* q = y + o * dim;
        const T mx = *std::max_element(p, p + dim);
        T sum = 0;
        if (log) {
          for (int64_t d = 0; d < dim; ++d) sum += std::exp(p[d] - mx);
          const T lse = mx + std::log(sum);
          for (int64_t d = 0; d < dim; ++d) q[d] = p[d] - lse;
        } else {
          for (int64_t d = 0; d < dim; ++d) sum += (q[d] = std::exp(p[d] - mx));
          const T r = T(1) / sum;
          for (int64_t d = 0; d < dim; ++d) q[d] *= r;
        }
      }
    });
    return;
  }
  // Reduced dim not innermost: work on whole rows of `inner` at a time so the
  // memory access stays contiguous.
  detail::parallel_for(0, outer, row_grain(dim * inner), [&](int64_t b, int64_t e) {
    auto mx = std::make_unique<T[]>(size_t(inner));
    auto sum = std::make_unique<T[]>(size_t(inner));
    for (int64_t o = b; o < e; ++o) {
      const T* p = x + o * dim * inner;
      T* q = y + o * dim * inner;
      std::copy(p, p + inner, mx.get());
      for (int64_t d = 1; d < dim; ++d)
        for (int64_t i = 0; i < inner; ++i) {
          const T v = p[d * inner + i];
          if (v > mx[i] || std::isnan(v)) mx[i] = v;
        }
      std::fill(sum.get(), sum.get() + inner, T(0));
      for (int64_t d = 0; d < dim; ++d)
        for (int64_t i = 0; i < inner; ++i) {
          const T ex = std::exp(p[d * inner + i] - mx[i]);
          sum[i] += ex;
          if (!log) q[d * inner + i] = ex;
        }
      if (log) {
        for (int64_t i = 0; i < inner; ++i) sum[i] = mx[i] + std::log(sum[i]);
        for (int64_t d = 0; d < dim; ++d)
          for (int64_t i = 0; i < inner; ++i) q[d * inner + i] = p[d * inner + i] - sum[i];
      } else {
        for (int64_t i = 0; i < inner; ++i) sum[i] = T(1) / sum[i];
        for (int64_t d = 0; d < dim; ++d)
          for (int64_t i = 0; i < inner; ++i) q[d * inner + i] *= sum[i];
      }
    }
  });
}

template <class T>
void softmax_backward(const T* grad_out, const T* y, T* grad_input, int64_t outer, int64_t dim,
                      int64_t inner, bool log) {
  if (dim == 0) return;
  detail::parallel_for(0, outer, row_grain(dim * inner), [&](int64_t b, int64_t e) {
    auto acc = std::make_unique<T[]>(size_t(inner));
    for (int64_t o = b; o < e; ++o) {
      const T* g = grad_out + o * dim * inner;
      const T* p = y + o * dim * inner;
      T* q = grad_input + o * dim * inner;
      std::fill(acc.get(), acc.get() + inner, T(0));
      for (int64_t d = 0; d < dim; ++d)
        for (int64_t i = 0; i < inner; ++i)
          acc[i] += log ? g[d * inner + i] : g[d * inner + i] * p[d * inner + i];
      for (int64_t d = 0; d < dim; ++d)
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t k = d * inner + i;
          q[k] = log ? g[k] - std::exp(p[k]) * acc[i] : p[k] * (g[k] - acc[i]);
        }
    }
  });
}

template <class T>
double nll_loss_forward(const T* input, const int64_t* target, const T* weight, int64_t n,
                        int64_t c, int64_t s, int64_t ignore_index, T* out, double& total_weight) {
  double total = 0, wsum = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < s; ++j) {
      const int64_t t = target[i * s + j];
      T loss = 0;
      if (t != ignore_index) {
        const T w = weight ? weight[t] : T(1);
        loss = -w * input[(i * c + t) * s + j];
        wsum += w;
        total += loss;
      }
      if (out) out[i * s + j] = loss;
    }
  }
  total_weight = wsum;
  return total;
}

template <class T>
void nll_loss_backward(const T* grad_out, bool grad_per_element, double scale,
                       const int64_t* target, const T* weight, int64_t n, int64_t c, int64_t s,
                       int64_t ignore_index, T* grad_input) {
  std::fill(grad_input, grad_input + n * c * s, T(0));
  const T g0 = grad_per_element ? T(0) : T(double(grad_out[0]) * scale);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < s; ++j) {
      const int64_t t = target[i * s + j];
      if (t == ignore_index) continue;
      const T w = weight ? weight[t] : T(1);
      const T g = grad_per_element ? grad_out[i * s + j] : g0;
      grad_input[(i * c + t) * s + j] = -w * g;
    }
  }
}

#define WICK_SOFTMAX_INSTANTIATE(T)                                                             \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t, int64_t, bool);              \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, bool);   \
  template double nll_loss_forward<T>(const T*, const int64_t*, const T*, int64_t, int64_t,     \
                                      int64_t, int64_t, T*, double&);                           \
  template void nll_loss_backward<T>(const T*, bool, double, const int64_t*, const T*, int64_t, \
                                     int64_t, int64_t, int64_t, T*);
WICK_SOFTMAX_INSTANTIATE(float)
WICK_SOFTMAX_INSTANTIATE(double)
#undef WICK_SOFTMAX_INSTANTIATE

}  // namespace wick::kernels
