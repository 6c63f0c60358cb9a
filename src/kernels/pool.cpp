#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/thread_pool.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wick::kernels {

namespace {

/// Planes per parallel chunk so that a chunk does at least ~32k window reads:
/// small tensors run inline.
int64_t plane_grain(int64_t work_per_plane) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_plane, 1));
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                         bool ceil_mode) {
  int64_t out =
      floor_div(in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) +
      1;
  // The last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

namespace {

/// Max pooling of one plane whose windows all lie inside the input (no
/// padding, no dilation, no ceil_mode overhang): the common case, without the
/// bounds tests, and with selects instead of branches, which random data
/// mispredicts. A NaN wins and the last NaN of a window is kept, as in the
/// general loop.
/// a where mask is all ones, b where it is zero, bit by bit.
template <class T>
T select_bits(int64_t mask, T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  Bits ab, bb;
  std::memcpy(&ab, &a, sizeof(T));
  std::memcpy(&bb, &b, sizeof(T));
  const Bits r = (Bits(mask) & ab) | (~Bits(mask) & bb);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}

template <class T, bool kIndices>
void max_pool_plane_inside(const Pool2dShape& s, const T* x, T* y, int64_t* idx) {
  for (int64_t oy = 0; oy < s.out_h; ++oy) {
    const int64_t y0 = oy * s.stride_h;
    T* yr = y + oy * s.out_w;
    int64_t* ir = kIndices ? idx + oy * s.out_w : nullptr;
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      yr[ox] = x[y0 * s.in_w + ox * s.stride_w];
      if constexpr (kIndices) ir[ox] = y0 * s.in_w + ox * s.stride_w;
    }
    // One window element at a time across the whole output row; `|` rather
    // than `||` so that the compiler emits selects.
    for (int64_t ki = 0; ki < s.kernel_h; ++ki) {
      for (int64_t kj = ki == 0 ? 1 : 0; kj < s.kernel_w; ++kj) {
        const int64_t off = (y0 + ki) * s.in_w + kj;
        const T* xr = x + off;
        for (int64_t ox = 0; ox < s.out_w; ++ox) {
          const T v = xr[ox * s.stride_w], best = yr[ox];
          // All ones when v replaces best; masks instead of `?:`, which the
          // compiler turns back into branches.
          const int64_t take = -int64_t(int(v > best) | int(v != v));
          yr[ox] = select_bits(take, v, best);
          if constexpr (kIndices) ir[ox] = (take & (off + ox * s.stride_w)) | (~take & ir[ox]);
        }
      }
    }
  }
}

#if defined(__SSE2__)
/// v where mask is set, else best: the window rule "a larger value or a NaN
/// replaces the best so far" for four outputs at once.
inline __m128 take_if(__m128 mask, __m128 v, __m128 best) {
  return _mm_or_ps(_mm_and_ps(mask, v), _mm_andnot_ps(mask, best));
}
inline __m128 replaces(__m128 v, __m128 best) {
  return _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v));
}

/// 2x2 windows with stride 2 over one float plane (all inside the input),
/// four outputs per step: even and odd columns of two input rows are split
/// with shuffles. The windows are visited in PyTorch's order (top-left,
/// top-right, bottom-left, bottom-right), so values and indices match the
/// scalar loop, NaNs included. The plane must have fewer than 2^31 elements
/// (indices are carried in 32-bit lanes).
template <bool kIndices>
void max_pool_plane_2x2(const Pool2dShape& s, const float* x, float* y, int64_t* idx) {
  for (int64_t oy = 0; oy < s.out_h; ++oy) {
    const float* r0 = x + 2 * oy * s.in_w;
    const float* r1 = r0 + s.in_w;
    float* yr = y + oy * s.out_w;
    int64_t* ir = kIndices ? idx + oy * s.out_w : nullptr;
    const int32_t top = int32_t(2 * oy * s.in_w), w = int32_t(s.in_w);
    int64_t ox = 0;
    for (; ox + 4 <= s.out_w; ox += 4) {
      const __m128 a0 = _mm_loadu_ps(r0 + 2 * ox), a1 = _mm_loadu_ps(r0 + 2 * ox + 4);
      const __m128 b0 = _mm_loadu_ps(r1 + 2 * ox), b1 = _mm_loadu_ps(r1 + 2 * ox + 4);
      const __m128 v[4] = {_mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)),
                           _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)),
                           _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)),
                           _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1))};
      __m128 best = v[0];
      const int32_t c = top + int32_t(2 * ox);
      const __m128i first = _mm_setr_epi32(c, c + 2, c + 4, c + 6);
      __m128i at = first;
      const int32_t step[4] = {0, 1, w, w + 1};
      for (int k = 1; k < 4; ++k) {
        const __m128 m = replaces(v[k], best);
        best = take_if(m, v[k], best);
        if constexpr (kIndices) {
          const __m128i mi = _mm_castps_si128(m);
          const __m128i cand = _mm_add_epi32(first, _mm_set1_epi32(step[k]));
          at = _mm_or_si128(_mm_and_si128(mi, cand), _mm_andnot_si128(mi, at));
        }
      }
      _mm_storeu_ps(yr + ox, best);
      if constexpr (kIndices) {
        const __m128i zero = _mm_setzero_si128();
        _mm_storeu_si128(reinterpret_cast<__m128i*>(ir + ox), _mm_unpacklo_epi32(at, zero));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(ir + ox + 2), _mm_unpackhi_epi32(at, zero));
      }
    }
    for (; ox < s.out_w; ++ox) {
      const int64_t at0 = 2 * oy * s.in_w + 2 * ox;
      const int64_t cand[4] = {at0, at0 + 1, at0 + s.in_w, at0 + s.in_w + 1};
      float best = x[cand[0]];
      int64_t best_i = cand[0];
      for (int k = 1; k < 4; ++k) {
        const float v = x[cand[k]];
        if (v > best || std::isnan(v)) best = v, best_i = cand[k];
      }
      yr[ox] = best;
      if constexpr (kIndices) ir[ox] = best_i;
    }
  }
}
#endif

/// Runs the 2x2 stride-2 kernel for float planes where it applies; false
/// otherwise (the caller then takes the general loops).
template <class T>
bool max_pool_plane_fast(const Pool2dShape& s, const T* x, T* y, int64_t* idx) {
#if defined(__SSE2__)
  if constexpr (std::is_same_v<T, float>) {
    if (s.in_h * s.in_w >= (int64_t(1) << 31)) return false;
    if (idx)
      max_pool_plane_2x2<true>(s, x, y, idx);
    else
      max_pool_plane_2x2<false>(s, x, y, idx);
    return true;
  }
#endif
  (void)s, (void)x, (void)y, (void)idx;
  return false;
}

}  // namespace

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* input, T* output, int64_t* indices) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  const bool inside = s.pad_h == 0 && s.pad_w == 0 && s.dilation_h == 1 && s.dilation_w == 1 &&
                      (s.out_h - 1) * s.stride_h + s.kernel_h <= s.in_h &&
                      (s.out_w - 1) * s.stride_w + s.kernel_w <= s.in_w;
  const bool square2 = s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2;
  detail::parallel_for(0, s.planes, plane_grain(out_plane * s.kernel_h * s.kernel_w),
                       [&](int64_t pb, int64_t pe) {
                         for (int64_t p = pb; p < pe; ++p) {
                           const T* x = input + p * in_plane;
                           T* y = output + p * out_plane;
                           int64_t* idx = indices ? indices + p * out_plane : nullptr;
                           if (inside && square2 && max_pool_plane_fast(s, x, y, idx)) continue;
                           if (inside) {
                             if (idx)
                               max_pool_plane_inside<T, true>(s, x, y, idx);
                             else
                               max_pool_plane_inside<T, false>(s, x, y, idx);
                             continue;
                           }
                           for (int64_t oy = 0; oy < s.out_h; ++oy) {
                             const int64_t y0 = oy * s.stride_h - s.pad_h;
                             for (int64_t ox = 0; ox < s.out_w; ++ox) {
                               const int64_t x0 = ox * s.stride_w - s.pad_w;
                               T best = -std::numeric_limits<T>::infinity();
                               int64_t best_i = -1;
                               for (int64_t ki = 0; ki < s.kernel_h; ++ki) {
                                 const int64_t iy = y0 + ki * s.dilation_h;
                                 if (iy < 0 || iy >= s.in_h) continue;
                                 for (int64_t kj = 0; kj < s.kernel_w; ++kj) {
                                   const int64_t ix = x0 + kj * s.dilation_w;
                                   if (ix < 0 || ix >= s.in_w) continue;
                                   const T v = x[iy * s.in_w + ix];
                                   if (v > best || std::isnan(v) || best_i < 0) {
                                     best = v;
                                     best_i = iy * s.in_w + ix;
                                   }
                                 }
                               }
                               y[oy * s.out_w + ox] = best;
                               if (idx) idx[oy * s.out_w + ox] = best_i;
                             }
                           }
                         }
                       });
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* grad_output, const int64_t* indices,
                         T* grad_input) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  detail::parallel_for(0, s.planes, plane_grain(in_plane + out_plane), [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      T* gx = grad_input + p * in_plane;
      const T* gy = grad_output + p * out_plane;
      const int64_t* idx = indices + p * out_plane;
      std::fill(gx, gx + in_plane, T(0));
      for (int64_t o = 0; o < out_plane; ++o)
        if (idx[o] >= 0) gx[idx[o]] += gy[o];
    }
  });
}

namespace {

/// One average-pooling window clipped to the input, with its divisor
/// (PyTorch's rules: the padded window size counts unless count_include_pad is
/// false; windows reaching past the right padding are cut there).
struct AvgWindow {
  int64_t y0, y1, x0, x1;
  int64_t divisor;
  bool empty() const { return y0 >= y1 || x0 >= x1; }
};

AvgWindow avg_window(const Pool2dShape& s, AvgPoolDivisor d, int64_t oy, int64_t ox) {
  int64_t y0 = oy * s.stride_h - s.pad_h, x0 = ox * s.stride_w - s.pad_w;
  int64_t y1 = std::min(y0 + s.kernel_h, s.in_h + s.pad_h);
  int64_t x1 = std::min(x0 + s.kernel_w, s.in_w + s.pad_w);
  const int64_t padded_size = (y1 - y0) * (x1 - x0);
  y0 = std::max<int64_t>(y0, 0);
  x0 = std::max<int64_t>(x0, 0);
  y1 = std::min(y1, s.in_h);
  x1 = std::min(x1, s.in_w);
  int64_t divisor = d.divisor_override    ? d.divisor_override
                    : d.count_include_pad ? padded_size
                                          : (y1 - y0) * (x1 - x0);
  return {y0, y1, x0, x1, divisor};
}

}  // namespace

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, AvgPoolDivisor d, const T* input, T* output) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  detail::parallel_for(0, s.planes, plane_grain(out_plane * s.kernel_h * s.kernel_w),
                       [&](int64_t pb, int64_t pe) {
                         for (int64_t p = pb; p < pe; ++p) {
                           const T* x = input + p * in_plane;
                           T* y = output + p * out_plane;
                           for (int64_t oy = 0; oy < s.out_h; ++oy) {
                             for (int64_t ox = 0; ox < s.out_w; ++ox) {
                               AvgWindow w = avg_window(s, d, oy, ox);
                               T acc = 0;
                               if (!w.empty()) {
                                 for (int64_t iy = w.y0; iy < w.y1; ++iy)
                                   for (int64_t ix = w.x0; ix < w.x1; ++ix)
                                     acc += x[iy * s.in_w + ix];
                                 acc /= T(w.divisor);
                               }
                               y[oy * s.out_w + ox] = acc;
                             }
                           }
                         }
                       });
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, AvgPoolDivisor d, const T* grad_output,
                         T* grad_input) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  detail::parallel_for(0, s.planes, plane_grain(out_plane * s.kernel_h * s.kernel_w),
                       [&](int64_t pb, int64_t pe) {
                         for (int64_t p = pb; p < pe; ++p) {
                           T* gx = grad_input + p * in_plane;
                           const T* gy = grad_output + p * out_plane;
                           std::fill(gx, gx + in_plane, T(0));
                           for (int64_t oy = 0; oy < s.out_h; ++oy) {
                             for (int64_t ox = 0; ox < s.out_w; ++ox) {
                               AvgWindow w = avg_window(s, d, oy, ox);
                               if (w.empty()) continue;
                               const T g = gy[oy * s.out_w + ox] / T(w.divisor);
                               for (int64_t iy = w.y0; iy < w.y1; ++iy)
                                 for (int64_t ix = w.x0; ix < w.x1; ++ix) gx[iy * s.in_w + ix] += g;
                             }
                           }
                         }
                       });
}

namespace {
int64_t adaptive_start(int64_t i, int64_t in, int64_t out) {
  return (i * in) / out;
}
int64_t adaptive_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// Calls f(o, y0, y1, x0, x1) for each output element o of a plane, in order,
// with its input window [y0, y1) x [x0, x1).
template <class F>
void adaptive_windows(const Pool2dShape& s, F&& f) {
  for (int64_t oy = 0; oy < s.out_h; ++oy) {
    const int64_t y0 = adaptive_start(oy, s.in_h, s.out_h);
    const int64_t y1 = adaptive_end(oy, s.in_h, s.out_h);
    for (int64_t ox = 0; ox < s.out_w; ++ox)
      f(oy * s.out_w + ox, y0, y1, adaptive_start(ox, s.in_w, s.out_w),
        adaptive_end(ox, s.in_w, s.out_w));
  }
}
}  // namespace

template <class T>
void adaptive_avg_pool2d_forward(const Pool2dShape& s, const T* input, T* output) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  detail::parallel_for(0, s.planes, plane_grain(in_plane + out_plane), [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      const T* x = input + p * in_plane;
      T* y = output + p * out_plane;
      adaptive_windows(s, [&](int64_t o, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
        T acc = 0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) acc += x[iy * s.in_w + ix];
        y[o] = acc / T((y1 - y0) * (x1 - x0));
      });
    }
  });
}

template <class T>
void adaptive_avg_pool2d_backward(const Pool2dShape& s, const T* grad_output, T* grad_input) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  detail::parallel_for(0, s.planes, plane_grain(in_plane + out_plane), [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      T* gx = grad_input + p * in_plane;
      const T* gy = grad_output + p * out_plane;
      std::fill(gx, gx + in_plane, T(0));
      adaptive_windows(s, [&](int64_t o, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
        const T g = gy[o] / T((y1 - y0) * (x1 - x0));
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) gx[iy * s.in_w + ix] += g;
      });
    }
  });
}

template <class T>
void adaptive_max_pool2d_forward(const Pool2dShape& s, const T* input, T* output,
                                 int64_t* indices) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  detail::parallel_for(0, s.planes, plane_grain(in_plane + out_plane), [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      const T* x = input + p * in_plane;
      adaptive_windows(s, [&](int64_t o, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
        // As PyTorch: the first maximum wins ties, a NaN always wins.
        T best = -std::numeric_limits<T>::infinity();
        int64_t best_i = y0 * s.in_w + x0;
        for (int64_t iy = y0; iy < y1; ++iy) {
          for (int64_t ix = x0; ix < x1; ++ix) {
            const T v = x[iy * s.in_w + ix];
            if (v > best || std::isnan(v)) {
              best = v;
              best_i = iy * s.in_w + ix;
            }
          }
        }
        output[p * out_plane + o] = best;
        indices[p * out_plane + o] = best_i;
      });
    }
  });
}

#define WICK_POOL_INSTANTIATE(T)                                                          \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int64_t*);        \
  template void max_pool2d_backward<T>(const Pool2dShape&, const T*, const int64_t*, T*); \
  template void avg_pool2d_forward<T>(const Pool2dShape&, AvgPoolDivisor, const T*, T*);  \
  template void avg_pool2d_backward<T>(const Pool2dShape&, AvgPoolDivisor, const T*, T*); \
  template void adaptive_avg_pool2d_forward<T>(const Pool2dShape&, const T*, T*);         \
  template void adaptive_avg_pool2d_backward<T>(const Pool2dShape&, const T*, T*);        \
  template void adaptive_max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int64_t*);
WICK_POOL_INSTANTIATE(float)
WICK_POOL_INSTANTIATE(double)
#undef WICK_POOL_INSTANTIATE

}  // namespace wick::kernels
