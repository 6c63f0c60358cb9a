#include "kernels/conv.h"

#include <algorithm>
#include <memory>

#include "core/parallel.h"
#include "kernels/blas.h"

namespace wick::kernels {

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

/// The output columns [lo, hi) whose input column ox * stride + x0 lies inside
/// [0, width); the others read padding.
void valid_range(int64_t x0, int64_t stride, int64_t width, int64_t out, int64_t& lo, int64_t& hi) {
  lo = x0 >= 0 ? 0 : ceil_div(-x0, stride);
  hi = width - x0 <= 0 ? 0 : ceil_div(width - x0, stride);
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
}

/// Copies n elements. Rows of small images are a few dozen floats, for which
/// a call to memcpy (what std::copy becomes) costs more than the copy; the
/// fixed-size blocks are copied inline with vector registers.
template <class T>
inline void copy_short(const T* __restrict src, T* __restrict dst, int64_t n) {
  constexpr int64_t kBlock = 32 / sizeof(T);
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    __builtin_memcpy(dst + i, src + i, kBlock * sizeof(T));
  }
  // The tail in fixed-size pieces too: a plain loop would become a memcpy call.
  const char* s = reinterpret_cast<const char*>(src + i);
  char* d = reinterpret_cast<char*>(dst + i);
  const int64_t bytes = (n - i) * int64_t(sizeof(T));  // < 32, a multiple of 4
  if (bytes & 16) {
    __builtin_memcpy(d, s, 16);
    s += 16;
    d += 16;
  }
  if (bytes & 8) {
    __builtin_memcpy(d, s, 8);
    s += 8;
    d += 8;
  }
  if (bytes & 4) __builtin_memcpy(d, s, 4);
}

/// Unfolds one image into its column matrix [C_in * kH * kW, out_h * out_w].
template <class T>
void im2col(const Conv2dShape& s, const T* in, T* col) {
  const int64_t plane = s.in_h * s.in_w, ld = s.out_h * s.out_w;
  if (s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0 && s.dilation_h == 1 &&
      s.dilation_w == 1) {
    // Every window lies inside the image: each row of the column matrix is
    // out_h runs of out_w consecutive input elements, with no padding to fill.
    for (int64_t c = 0; c < s.in_channels; ++c)
      for (int64_t ki = 0; ki < s.kernel_h; ++ki)
        for (int64_t kj = 0; kj < s.kernel_w; ++kj) {
          const T* src = in + c * plane + ki * s.in_w + kj;
          T* dst = col + ((c * s.kernel_h + ki) * s.kernel_w + kj) * ld;
          for (int64_t oy = 0; oy < s.out_h; ++oy)
            copy_short(src + oy * s.in_w, dst + oy * s.out_w, s.out_w);
        }
    return;
  }
  for (int64_t c = 0; c < s.in_channels; ++c) {
    for (int64_t ki = 0; ki < s.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < s.kernel_w; ++kj) {
        T* row = col + ((c * s.kernel_h + ki) * s.kernel_w + kj) * ld;
        const int64_t x0 = kj * s.dilation_w - s.pad_w;
        int64_t lo, hi;
        valid_range(x0, s.stride_w, s.in_w, s.out_w, lo, hi);
        for (int64_t oy = 0; oy < s.out_h; ++oy) {
          T* dst = row + oy * s.out_w;
          const int64_t iy = oy * s.stride_h - s.pad_h + ki * s.dilation_h;
          if (iy < 0 || iy >= s.in_h) {
            std::fill(dst, dst + s.out_w, T(0));
            continue;
          }
          const T* src = in + c * plane + iy * s.in_w;
          std::fill(dst, dst + lo, T(0));
          if (s.stride_w == 1) {
            copy_short(src + x0 + lo, dst + lo, hi - lo);
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = src[x0 + ox * s.stride_w];
          }
          std::fill(dst + hi, dst + s.out_w, T(0));
        }
      }
    }
  }
}

/// Adds a column matrix back onto the image planes: the adjoint of im2col.
/// `in` must be zeroed by the caller.
template <class T>
void col2im(const Conv2dShape& s, const T* col, T* in) {
  const int64_t plane = s.in_h * s.in_w, ld = s.out_h * s.out_w;
  for (int64_t c = 0; c < s.in_channels; ++c) {
    for (int64_t ki = 0; ki < s.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < s.kernel_w; ++kj) {
        const T* row = col + ((c * s.kernel_h + ki) * s.kernel_w + kj) * ld;
        const int64_t x0 = kj * s.dilation_w - s.pad_w;
        int64_t lo, hi;
        valid_range(x0, s.stride_w, s.in_w, s.out_w, lo, hi);
        for (int64_t oy = 0; oy < s.out_h; ++oy) {
          const int64_t iy = oy * s.stride_h - s.pad_h + ki * s.dilation_h;
          if (iy < 0 || iy >= s.in_h) continue;
          const T* src = row + oy * s.out_w;
          T* dst = in + c * plane + iy * s.in_w;
          if (s.stride_w == 1) {   // contiguous: vectorised
            T* d = dst + x0 + lo;  // x0 + lo >= 0 (valid_range)
            const T* g = src + lo;
            for (int64_t i = 0; i < hi - lo; ++i) d[i] += g[i];
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[x0 + ox * s.stride_w] += src[ox];
          }
        }
      }
    }
  }
}

/// A 1x1 kernel with stride 1 and no padding reads the image as its own
/// column matrix, so im2col is skipped.
bool is_pointwise(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 &&
         s.pad_w == 0;
}

/// Scratch memory that every user writes before reading.
template <class T>
std::unique_ptr<T[]> buffer(int64_t n) {
  return std::make_unique_for_overwrite<T[]>(size_t(std::max<int64_t>(n, 1)));
}

/// This thread's column-matrix scratch of at least n elements, valid until
/// the thread's next call. Column matrices of a few hundred KiB are above
/// malloc's mmap threshold: a fresh buffer per call would map, fault in and
/// unmap its pages every time. The scratch only grows, and holds no results
/// from one call to the next (every user writes before reading).
template <class T>
T* column_scratch(int64_t n) {
  thread_local std::unique_ptr<T[]> data;
  thread_local int64_t size = 0;
  if (n > size) {
    data.reset();
    data = std::make_unique_for_overwrite<T[]>(size_t(n));
    size = n;
  }
  return data.get();
}

/// Sizes shared by the forward and backward passes.
struct Dims {
  int64_t ohow, in_image, cols, k_g, cout_g;
  explicit Dims(const Conv2dShape& s)
      : ohow(s.out_h * s.out_w),
        in_image(s.in_channels * s.in_h * s.in_w),
        cols(s.in_channels * s.kernel_h * s.kernel_w * s.out_h * s.out_w),
        k_g(s.in_channels / s.groups * s.kernel_h * s.kernel_w),
        cout_g(s.out_channels / s.groups) {}
  bool empty() const { return k_g == 0 || ohow == 0 || cout_g == 0; }
};

/// Splits the batch into one contiguous range of images per thread and calls
/// f(chunk, begin, end) for each; returns the number of chunks. The images of
/// the seed network are small (GEMMs of 6 or 16 rows), so threads working on
/// whole images scale far better than BLAS threads splitting each small GEMM.
template <class F>
int64_t split_batch(int64_t batch, F&& f) {
  const int64_t chunks = std::min<int64_t>(batch, get_num_threads());
  if (chunks <= 1) {
    f(0, 0, batch);
    return 1;
  }
  kernels::SerialBlasScope serial_blas;  // threads split the batch instead
  detail::parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) f(c, c * batch / chunks, (c + 1) * batch / chunks);
  });
  return chunks;
}

}  // namespace

template <class T>
void conv2d_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias,
                    T* output) {
  const Dims d(s);
  const bool pointwise = is_pointwise(s);
  split_batch(s.batch, [&](int64_t, int64_t begin, int64_t end) {
    T* col = pointwise ? nullptr : column_scratch<T>(d.cols);
    for (int64_t n = begin; n < end; ++n) {
      const T* x = input + n * d.in_image;
      T* y = output + n * s.out_channels * d.ohow;
      for (int64_t c = 0; c < s.out_channels; ++c)
        std::fill(y + c * d.ohow, y + (c + 1) * d.ohow, bias ? bias[c] : T(0));
      if (d.empty()) continue;
      if (!pointwise) im2col(s, x, col);
      const T* cols = pointwise ? x : col;
      for (int64_t g = 0; g < s.groups; ++g)
        gemm(false, false, d.cout_g, d.ohow, d.k_g, T(1), weight + g * d.cout_g * d.k_g, d.k_g,
             cols + g * d.k_g * d.ohow, d.ohow, T(1), y + g * d.cout_g * d.ohow, d.ohow);
    }
  });
}

template <class T>
void conv2d_backward(const Conv2dShape& s, const T* grad_output, const T* input, const T* weight,
                     T* grad_input, T* grad_weight, T* grad_bias) {
  const Dims d(s);
  if (grad_bias) {
    for (int64_t c = 0; c < s.out_channels; ++c) {
      double acc = 0;
      for (int64_t n = 0; n < s.batch; ++n) {
        const T* gy = grad_output + (n * s.out_channels + c) * d.ohow;
        for (int64_t p = 0; p < d.ohow; ++p) acc += gy[p];
      }
      grad_bias[c] = T(acc);
    }
  }
  const int64_t w_numel = s.out_channels * d.k_g;
  if (grad_weight) std::fill(grad_weight, grad_weight + w_numel, T(0));
  if (grad_input && d.empty()) std::fill(grad_input, grad_input + s.batch * d.in_image, T(0));
  if (d.empty() || (!grad_weight && !grad_input)) return;
  const bool pointwise = is_pointwise(s);
  // Each chunk of images sums its weight gradient into a buffer of its own
  // (chunk 0 straight into grad_weight); the buffers are added at the end.
  const int64_t max_chunks = std::min<int64_t>(s.batch, get_num_threads());
  auto partial = buffer<T>(grad_weight ? (max_chunks - 1) * w_numel : 0);
  const int64_t chunks = split_batch(s.batch, [&](int64_t chunk, int64_t begin, int64_t end) {
    T* gw = chunk == 0 ? grad_weight : partial.get() + (chunk - 1) * w_numel;
    if (grad_weight && chunk > 0) std::fill(gw, gw + w_numel, T(0));
    T* col = pointwise ? nullptr : column_scratch<T>(d.cols);
    for (int64_t n = begin; n < end; ++n) {
      const T* x = input + n * d.in_image;
      const T* gy = grad_output + n * s.out_channels * d.ohow;
      if (grad_weight) {
        if (!pointwise) im2col(s, x, col);
        const T* cols = pointwise ? x : col;
        for (int64_t g = 0; g < s.groups; ++g)
          gemm(false, true, d.cout_g, d.k_g, d.ohow, T(1), gy + g * d.cout_g * d.ohow, d.ohow,
               cols + g * d.k_g * d.ohow, d.ohow, T(1), gw + g * d.cout_g * d.k_g, d.k_g);
      }
      if (grad_input) {
        // A pointwise convolution's column matrix is the image itself.
        T* gx = grad_input + n * d.in_image;
        T* cols = pointwise ? gx : col;
        for (int64_t g = 0; g < s.groups; ++g)
          gemm(true, false, d.k_g, d.ohow, d.cout_g, T(1), weight + g * d.cout_g * d.k_g, d.k_g,
               gy + g * d.cout_g * d.ohow, d.ohow, T(0), cols + g * d.k_g * d.ohow, d.ohow);
        if (!pointwise) {
          std::fill(gx, gx + d.in_image, T(0));
          col2im(s, col, gx);
        }
      }
    }
  });
  for (int64_t c = 1; c < chunks && grad_weight; ++c) {
    const T* p = partial.get() + (c - 1) * w_numel;
    for (int64_t i = 0; i < w_numel; ++i) grad_weight[i] += p[i];
  }
}

template void conv2d_forward<float>(const Conv2dShape&, const float*, const float*, const float*,
                                    float*);
template void conv2d_forward<double>(const Conv2dShape&, const double*, const double*,
                                     const double*, double*);
template void conv2d_backward<float>(const Conv2dShape&, const float*, const float*, const float*,
                                     float*, float*, float*);
template void conv2d_backward<double>(const Conv2dShape&, const double*, const double*,
                                      const double*, double*, double*, double*);

}  // namespace wick::kernels
