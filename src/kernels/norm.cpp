#include "kernels/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"

namespace wick::kernels {

namespace {
/// Channels per parallel chunk: a chunk should touch at least ~32k elements.
int64_t channel_grain(int64_t per_channel) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(per_channel, 1));
}
}  // namespace

template <class T>
void batch_norm_stats(const T* x, int64_t n, int64_t c, int64_t s, T* mean, T* var) {
  const double count = double(n * s);
  detail::parallel_for(0, c, channel_grain(n * s), [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      // Two passes in double: the shifted second pass avoids the cancellation
      // of E[x^2] - E[x]^2.
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const T* p = x + (i * c + ch) * s;
        for (int64_t j = 0; j < s; ++j) sum += p[j];
      }
      const double m = sum / count;
      double sq = 0;
      for (int64_t i = 0; i < n; ++i) {
        const T* p = x + (i * c + ch) * s;
        for (int64_t j = 0; j < s; ++j) sq += (p[j] - m) * (p[j] - m);
      }
      mean[ch] = T(m);
      var[ch] = T(sq / count);
    }
  });
}

template <class T>
void batch_norm_apply(const T* x, int64_t n, int64_t c, int64_t s, const T* scale, const T* shift,
                      T* y) {
  detail::parallel_for(0, n * c, channel_grain(s), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const int64_t ch = row % c;
      const T a = scale[ch], sh = shift[ch];
      const T* p = x + row * s;
      T* q = y + row * s;
      for (int64_t j = 0; j < s; ++j) q[j] = p[j] * a + sh;
    }
  });
}

template <class T>
void batch_norm_backward(const T* grad_out, const T* x, int64_t n, int64_t c, int64_t s,
                         const T* mean, const T* invstd, const T* weight, bool training,
                         T* grad_input, T* grad_weight, T* grad_bias) {
  const double count = double(n * s);
  detail::parallel_for(0, c, channel_grain(n * s), [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      const double m = mean[ch], is = invstd[ch];
      double sum_g = 0, sum_gx = 0;  // sum(g), sum(g * (x - mean))
      for (int64_t i = 0; i < n; ++i) {
        const T* g = grad_out + (i * c + ch) * s;
        const T* p = x + (i * c + ch) * s;
        for (int64_t j = 0; j < s; ++j) {
          sum_g += g[j];
          sum_gx += g[j] * (p[j] - m);
        }
      }
      if (grad_weight) grad_weight[ch] = T(sum_gx * is);
      if (grad_bias) grad_bias[ch] = T(sum_g);
      if (!grad_input) continue;
      const double w = weight ? double(weight[ch]) : 1.0;
      // Training: dx = w * invstd * (g - mean(g) - xhat * mean(g * xhat)).
      const double g_shift = training ? sum_g / count : 0.0;
      const double x_coef = training ? sum_gx * is * is / count : 0.0;
      const T a = T(w * is);
      for (int64_t i = 0; i < n; ++i) {
        const T* g = grad_out + (i * c + ch) * s;
        const T* p = x + (i * c + ch) * s;
        T* q = grad_input + (i * c + ch) * s;
        for (int64_t j = 0; j < s; ++j) q[j] = T(g[j] - g_shift - (p[j] - m) * x_coef) * a;
      }
    }
  });
}

template <class T>
void layer_norm_forward(const T* x, int64_t rows, int64_t cols, const T* weight, const T* bias,
                        double eps, T* y, T* mean, T* rstd) {
  detail::parallel_for(0, rows, channel_grain(cols), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const T* p = x + r * cols;
      T* q = y + r * cols;
      // Two passes in double, as for batch norm.
      double sum = 0;
      for (int64_t j = 0; j < cols; ++j) sum += p[j];
      const double m = sum / double(cols);
      double sq = 0;
      for (int64_t j = 0; j < cols; ++j) sq += (p[j] - m) * (p[j] - m);
      const double rs = 1 / std::sqrt(sq / double(cols) + eps);
      mean[r] = T(m);
      rstd[r] = T(rs);
      for (int64_t j = 0; j < cols; ++j) {
        double v = (p[j] - m) * rs;
        if (weight) v *= weight[j];
        if (bias) v += bias[j];
        q[j] = T(v);
      }
    }
  });
}

template <class T>
void layer_norm_backward(const T* grad_out, const T* x, int64_t rows, int64_t cols, const T* mean,
                         const T* rstd, const T* weight, T* grad_input, T* grad_weight,
                         T* grad_bias) {
  if (grad_input) {
    detail::parallel_for(0, rows, channel_grain(cols), [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        const T* g = grad_out + r * cols;
        const T* p = x + r * cols;
        T* q = grad_input + r * cols;
        const double m = mean[r], rs = rstd[r];
        // With dy = g * weight and xhat = (x - mean) * rstd:
        // dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)).
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int64_t j = 0; j < cols; ++j) {
          const double dy = weight ? double(g[j]) * weight[j] : double(g[j]);
          sum_dy += dy;
          sum_dy_xhat += dy * (p[j] - m) * rs;
        }
        const double a = sum_dy / double(cols), b = sum_dy_xhat / double(cols);
        for (int64_t j = 0; j < cols; ++j) {
          const double dy = weight ? double(g[j]) * weight[j] : double(g[j]);
          q[j] = T(rs * (dy - a - (p[j] - m) * rs * b));
        }
      }
    });
  }
  if (!grad_weight && !grad_bias) return;
  // Column blocks in parallel: each block sums its columns over every row, so
  // no reduction across threads is needed.
  detail::parallel_for(0, cols, channel_grain(rows), [&](int64_t cb, int64_t ce) {
    std::vector<double> gw(size_t(ce - cb), 0.0), gb(size_t(ce - cb), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* g = grad_out + r * cols;
      const T* p = x + r * cols;
      const double m = mean[r], rs = rstd[r];
      for (int64_t j = cb; j < ce; ++j) {
        gw[size_t(j - cb)] += double(g[j]) * (p[j] - m) * rs;
        gb[size_t(j - cb)] += g[j];
      }
    }
    for (int64_t j = cb; j < ce; ++j) {
      if (grad_weight) grad_weight[j] = T(gw[size_t(j - cb)]);
      if (grad_bias) grad_bias[j] = T(gb[size_t(j - cb)]);
    }
  });
}

#define WICK_NORM_INSTANTIATE(T)                                                                  \
  template void batch_norm_stats<T>(const T*, int64_t, int64_t, int64_t, T*, T*);                 \
  template void batch_norm_apply<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*, T*); \
  template void batch_norm_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*,   \
                                       const T*, const T*, bool, T*, T*, T*);                     \
  template void layer_norm_forward<T>(const T*, int64_t, int64_t, const T*, const T*, double, T*, \
                                      T*, T*);                                                    \
  template void layer_norm_backward<T>(const T*, const T*, int64_t, int64_t, const T*, const T*,  \
                                       const T*, T*, T*, T*);
WICK_NORM_INSTANTIATE(float)
WICK_NORM_INSTANTIATE(double)
#undef WICK_NORM_INSTANTIATE

}  // namespace wick::kernels
