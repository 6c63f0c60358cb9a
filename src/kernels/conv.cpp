#include "kernels/conv.h"

#include <algorithm>
#include <memory>

#include "core/thread_pool.h"
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

/// One row of an unfolded image: dst[ox] = src[x0 + ox * stride] for ox in
/// [lo, hi) (see valid_range), 0 for the padding around them; or all 0 when
/// src is null (a padding row).
template <class T>
inline void unfold_row(const T* src, T* dst, int64_t x0, int64_t stride, int64_t lo, int64_t hi,
                       int64_t out_w) {
  if (!src) {
    std::fill(dst, dst + out_w, T(0));
    return;
  }
  std::fill(dst, dst + lo, T(0));
  if (stride == 1) {
    copy_short(src + x0 + lo, dst + lo, hi - lo);
  } else {
    for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = src[x0 + ox * stride];
  }
  std::fill(dst + hi, dst + out_w, T(0));
}

/// The adjoint of unfold_row: dst[x0 + ox * stride] += src[ox] for ox in [lo, hi).
template <class T>
inline void fold_row(const T* src, T* dst, int64_t x0, int64_t stride, int64_t lo, int64_t hi) {
  if (stride == 1) {       // contiguous: vectorised
    T* d = dst + x0 + lo;  // x0 + lo >= 0 (valid_range)
    for (int64_t i = 0; i < hi - lo; ++i) d[i] += src[lo + i];
  } else {
    for (int64_t ox = lo; ox < hi; ++ox) dst[x0 + ox * stride] += src[ox];
  }
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
          const int64_t iy = oy * s.stride_h - s.pad_h + ki * s.dilation_h;
          const T* src = iy < 0 || iy >= s.in_h ? nullptr : in + c * plane + iy * s.in_w;
          unfold_row(src, row + oy * s.out_w, x0, s.stride_w, lo, hi, s.out_w);
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
          fold_row(row + oy * s.out_w, in + c * plane + iy * s.in_w, x0, s.stride_w, lo, hi);
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
template <class T, int kSlot = 0>
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

/// How a convolution becomes GEMMs. Three ways, by shape:
///  - pointwise (1x1, stride 1, no padding): the image is its own column
///    matrix, one GEMM per group;
///  - rows (stride_h == 1): the image is unfolded along the kernel's width
///    only, into U [C_in, kW, H + 2 pad_h, out_w]. Kernel row ki of the
///    column matrix is U shifted down by ki * dilation_h rows, so one GEMM
///    per kernel row reads U in place (leading dimension (H + 2 pad_h) * out_w)
///    with that row's weights, packed as [kH, C_out, C_in/groups * kW]. U is
///    kH times smaller than the full column matrix: the unfold, the most
///    memory traffic of a small convolution, shrinks by as much;
///  - full: the classic im2col column matrix, one GEMM per group.
struct Plan {
  enum Mode { kPointwise, kRows, kFull } mode;
  int64_t ohow, in_image, cout_g;
  int64_t k;          // GEMM depth per (group, kernel row)
  int64_t ld;         // leading dimension of the unfolded image
  int64_t cols;       // elements of one unfolded image (0 for pointwise)
  int64_t taps;       // GEMMs per group: kH for rows, else 1
  int64_t tap_shift;  // how far kernel row t's GEMM reads into U: t * tap_shift

  explicit Plan(const Conv2dShape& s)
      : ohow(s.out_h * s.out_w),
        in_image(s.in_channels * s.in_h * s.in_w),
        cout_g(s.out_channels / s.groups) {
    const int64_t cin_g = s.in_channels / s.groups;
    if (is_pointwise(s)) {
      mode = kPointwise, k = cin_g, ld = ohow, cols = 0, taps = 1, tap_shift = 0;
    } else if (s.stride_h == 1) {
      mode = kRows, k = cin_g * s.kernel_w, ld = (s.in_h + 2 * s.pad_h) * s.out_w;
      cols = s.in_channels * s.kernel_w * ld, taps = s.kernel_h, tap_shift = s.dilation_h * s.out_w;
    } else {
      mode = kFull, k = cin_g * s.kernel_h * s.kernel_w, ld = ohow;
      cols = s.in_channels * s.kernel_h * s.kernel_w * ohow, taps = 1, tap_shift = 0;
    }
  }
  bool empty() const { return k == 0 || ohow == 0 || cout_g == 0; }
  /// Offsets of group g, kernel row t in the packed weight and in U.
  int64_t a_offset(const Conv2dShape& s, int64_t g, int64_t t) const {
    return (t * s.out_channels + g * cout_g) * k;
  }
  int64_t b_offset(int64_t g, int64_t t) const { return g * k * ld + t * tap_shift; }
};

/// Unfolds one image along the kernel's width: U[c][kj][yp][ox] is input
/// pixel (yp - pad_h, ox * stride_w - pad_w + kj * dilation_w), 0 outside.
template <class T>
void unfold_rows(const Conv2dShape& s, const T* in, T* u) {
  const int64_t plane = s.in_h * s.in_w, rows = s.in_h + 2 * s.pad_h;
  for (int64_t c = 0; c < s.in_channels; ++c) {
    for (int64_t kj = 0; kj < s.kernel_w; ++kj) {
      T* dst = u + (c * s.kernel_w + kj) * rows * s.out_w;
      const int64_t x0 = kj * s.dilation_w - s.pad_w;
      int64_t lo, hi;
      valid_range(x0, s.stride_w, s.in_w, s.out_w, lo, hi);
      for (int64_t yp = 0; yp < rows; ++yp, dst += s.out_w) {
        const int64_t iy = yp - s.pad_h;
        const T* src = iy < 0 || iy >= s.in_h ? nullptr : in + c * plane + iy * s.in_w;
        unfold_row(src, dst, x0, s.stride_w, lo, hi, s.out_w);
      }
    }
  }
}

/// The adjoint of unfold_rows: sums U's gradient back onto the (zeroed) image.
template <class T>
void fold_rows(const Conv2dShape& s, const T* u, T* in) {
  const int64_t plane = s.in_h * s.in_w, rows = s.in_h + 2 * s.pad_h;
  for (int64_t c = 0; c < s.in_channels; ++c) {
    for (int64_t kj = 0; kj < s.kernel_w; ++kj) {
      const T* src = u + ((c * s.kernel_w + kj) * rows + s.pad_h) * s.out_w;
      const int64_t x0 = kj * s.dilation_w - s.pad_w;
      int64_t lo, hi;
      valid_range(x0, s.stride_w, s.in_w, s.out_w, lo, hi);
      for (int64_t iy = 0; iy < s.in_h; ++iy, src += s.out_w)
        fold_row(src, in + c * plane + iy * s.in_w, x0, s.stride_w, lo, hi);
    }
  }
}

/// The weight as the plan's GEMMs read it: itself, or for rows
/// [kH, C_out, C_in/groups * kW] (to_packed) and back (!to_packed, adding).
template <class T>
void repack_weight(const Conv2dShape& s, const T* from, T* to, bool to_packed) {
  const int64_t cin_g = s.in_channels / s.groups, kh = s.kernel_h, kw = s.kernel_w;
  for (int64_t ki = 0; ki < kh; ++ki)
    for (int64_t oc = 0; oc < s.out_channels; ++oc)
      for (int64_t c = 0; c < cin_g; ++c)
        for (int64_t kj = 0; kj < kw; ++kj) {
          const int64_t w = ((oc * cin_g + c) * kh + ki) * kw + kj;
          const int64_t p = ((ki * s.out_channels + oc) * cin_g + c) * kw + kj;
          if (to_packed)
            to[p] = from[w];
          else
            to[w] += from[p];
        }
}

template <class T>
void unfold(const Conv2dShape& s, const Plan& plan, const T* x, T* u) {
  if (plan.mode == Plan::kRows)
    unfold_rows(s, x, u);
  else
    im2col(s, x, u);
}

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

int64_t conv2d_columns_per_image(const Conv2dShape& s) {
  return Plan(s).cols;
}

template <class T>
void conv2d_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias, T* output,
                    T* columns) {
  const Plan plan(s);
  const bool rows = plan.mode == Plan::kRows, pointwise = plan.mode == Plan::kPointwise;
  std::unique_ptr<T[]> packed;
  if (rows && !plan.empty()) {
    packed = buffer<T>(s.out_channels * plan.k * plan.taps);
    repack_weight(s, weight, packed.get(), true);
  }
  const T* a = rows ? packed.get() : weight;
  split_batch(s.batch, [&](int64_t, int64_t begin, int64_t end) {
    T* u = pointwise || columns ? nullptr : column_scratch<T>(plan.cols);
    for (int64_t n = begin; n < end; ++n) {
      const T* x = input + n * plan.in_image;
      T* y = output + n * s.out_channels * plan.ohow;
      for (int64_t c = 0; c < s.out_channels; ++c)
        std::fill(y + c * plan.ohow, y + (c + 1) * plan.ohow, bias ? bias[c] : T(0));
      if (plan.empty()) continue;
      if (columns && !pointwise) u = columns + n * plan.cols;
      if (!pointwise) unfold(s, plan, x, u);
      const T* b = pointwise ? x : u;
      for (int64_t g = 0; g < s.groups; ++g)
        for (int64_t t = 0; t < plan.taps; ++t)
          gemm(false, false, plan.cout_g, plan.ohow, plan.k, T(1), a + plan.a_offset(s, g, t),
               plan.k, b + plan.b_offset(g, t), plan.ld, T(1), y + g * plan.cout_g * plan.ohow,
               plan.ohow);
    }
  });
}

template <class T>
void conv2d_backward(const Conv2dShape& s, const T* grad_output, const T* input, const T* weight,
                     T* grad_input, T* grad_weight, T* grad_bias, const T* columns) {
  const Plan plan(s);
  if (grad_bias) {
    // Summed in double, in 8 independent lanes: one accumulator would chain
    // every addition behind the last one's latency.
    constexpr int64_t kLanes = 8;
    for (int64_t c = 0; c < s.out_channels; ++c) {
      double lane[kLanes] = {};
      double tail = 0;
      for (int64_t n = 0; n < s.batch; ++n) {
        const T* gy = grad_output + (n * s.out_channels + c) * plan.ohow;
        int64_t p = 0;
        for (; p + kLanes <= plan.ohow; p += kLanes)
          for (int64_t j = 0; j < kLanes; ++j) lane[j] += double(gy[p + j]);
        for (; p < plan.ohow; ++p) tail += double(gy[p]);
      }
      for (double v : lane) tail += v;
      grad_bias[c] = T(tail);
    }
  }
  const int64_t w_numel = s.out_channels * plan.k * plan.taps;
  if (grad_weight) std::fill(grad_weight, grad_weight + w_numel, T(0));
  if (grad_input && plan.empty()) std::fill(grad_input, grad_input + s.batch * plan.in_image, T(0));
  if (plan.empty() || (!grad_weight && !grad_input)) return;
  const bool rows = plan.mode == Plan::kRows, pointwise = plan.mode == Plan::kPointwise;
  std::unique_ptr<T[]> packed;
  if (rows) {
    packed = buffer<T>(w_numel);
    repack_weight(s, weight, packed.get(), true);
  }
  const T* a = rows ? packed.get() : weight;
  // Each chunk of images sums its weight gradient, in the GEMMs' layout, into
  // a buffer of its own (for full and pointwise plans, chunk 0 straight into
  // grad_weight); the buffers are added up at the end.
  const int64_t max_chunks = std::max<int64_t>(1, std::min<int64_t>(s.batch, get_num_threads()));
  const int64_t own = rows ? max_chunks : max_chunks - 1;
  auto partial = buffer<T>(grad_weight ? own * w_numel : 0);
  auto chunk_grad = [&](int64_t chunk) {
    return rows         ? partial.get() + chunk * w_numel
           : chunk == 0 ? grad_weight
                        : partial.get() + (chunk - 1) * w_numel;
  };
  const int64_t chunks = split_batch(s.batch, [&](int64_t chunk, int64_t begin, int64_t end) {
    T* gw = grad_weight ? chunk_grad(chunk) : nullptr;
    if (gw && gw != grad_weight) std::fill(gw, gw + w_numel, T(0));
    T* u = pointwise ? nullptr : column_scratch<T, 0>(plan.cols);
    T* gu = pointwise ? nullptr : column_scratch<T, 1>(plan.cols);
    for (int64_t n = begin; n < end; ++n) {
      const T* x = input + n * plan.in_image;
      const T* gy = grad_output + n * s.out_channels * plan.ohow;
      if (gw) {
        const T* b = pointwise ? x : columns ? columns + n * plan.cols : u;
        if (!pointwise && !columns) unfold(s, plan, x, u);
        for (int64_t g = 0; g < s.groups; ++g)
          for (int64_t t = 0; t < plan.taps; ++t)
            gemm(false, true, plan.cout_g, plan.k, plan.ohow, T(1),
                 gy + g * plan.cout_g * plan.ohow, plan.ohow, b + plan.b_offset(g, t), plan.ld,
                 T(1), gw + plan.a_offset(s, g, t), plan.k);
      }
      if (grad_input) {
        // A pointwise convolution's column matrix is the image itself. The
        // rows plan's kernel rows overlap in U, so their GEMMs accumulate.
        T* gx = grad_input + n * plan.in_image;
        T* c = pointwise ? gx : gu;
        if (rows) std::fill(gu, gu + plan.cols, T(0));
        for (int64_t g = 0; g < s.groups; ++g)
          for (int64_t t = 0; t < plan.taps; ++t)
            gemm(true, false, plan.k, plan.ohow, plan.cout_g, T(1), a + plan.a_offset(s, g, t),
                 plan.k, gy + g * plan.cout_g * plan.ohow, plan.ohow, rows ? T(1) : T(0),
                 c + plan.b_offset(g, t), plan.ld);
        if (!pointwise) {
          std::fill(gx, gx + plan.in_image, T(0));
          if (rows)
            fold_rows(s, gu, gx);
          else
            col2im(s, gu, gx);
        }
      }
    }
  });
  if (!grad_weight) return;
  if (rows) {
    for (int64_t c = 0; c < chunks; ++c)
      repack_weight(s, partial.get() + c * w_numel, grad_weight, false);
    return;
  }
  for (int64_t c = 1; c < chunks; ++c) {
    const T* p = partial.get() + (c - 1) * w_numel;
    for (int64_t i = 0; i < w_numel; ++i) grad_weight[i] += p[i];
  }
}

template void conv2d_forward<float>(const Conv2dShape&, const float*, const float*, const float*,
                                    float*, float*);
template void conv2d_forward<double>(const Conv2dShape&, const double*, const double*,
                                     const double*, double*, double*);
template void conv2d_backward<float>(const Conv2dShape&, const float*, const float*, const float*,
                                     float*, float*, float*, const float*);
template void conv2d_backward<double>(const Conv2dShape&, const double*, const double*,
                                      const double*, double*, double*, double*, const double*);

}  // namespace wick::kernels
