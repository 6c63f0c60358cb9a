#include "kernels/matmul.h"

#include <algorithm>
#include <climits>

#include "core/layout.h"
#include "core/strided.h"
#include "kernels/blas.h"
#include "kernels/copy.h"

namespace wick::kernels {

namespace {

/// How BLAS reads one row-major rows x cols matrix with strides (rs, cs):
/// directly (cs == 1), as the transpose of a row-major matrix (rs == 1), or
/// not at all (ok false: make it contiguous first).
struct BlasLayout {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};

BlasLayout blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  // Strides of size-1 dims are arbitrary; the leading dimension only has to
  // be valid for BLAS (>= the row length, >= 1).
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(cols, 1)))
    return {true, false, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(rows, 1)))
    return {true, true, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
  return {};
}

/// t itself when BLAS can read its matrices, else a contiguous copy.
Tensor blas_ready(const Tensor& t, BlasLayout& layout) {
  int64_t nd = t.dim();
  int64_t rows = t.sizes()[size_t(nd - 2)], cols = t.sizes()[size_t(nd - 1)];
  layout = blas_layout(rows, cols, t.strides()[size_t(nd - 2)], t.strides()[size_t(nd - 1)]);
  if (layout.ok) return t;
  Tensor c = kernels::contiguous(t);
  layout = blas_layout(rows, cols, c.strides()[size_t(nd - 2)], c.strides()[size_t(nd - 1)]);
  return c;
}

}  // namespace

void matmul(const Tensor& out, const Tensor& a_in, const Tensor& b_in, double alpha, double beta) {
  const int64_t nd = out.dim();
  const int64_t m = out.sizes()[size_t(nd - 2)], n = out.sizes()[size_t(nd - 1)];
  const int64_t k = a_in.sizes()[size_t(nd - 1)];
  WICK_CHECK_AS(ShapeError, m < INT_MAX && n < INT_MAX && k < INT_MAX, "matmul: sizes ",
                a_in.sizes(), " and ", b_in.sizes(), " exceed what BLAS can index");
  if (out.numel() == 0) return;
  BlasLayout la, lb;
  Tensor a = blas_ready(a_in, la), b = blas_ready(b_in, lb);
  Shape batch(out.sizes().begin(), out.sizes().end() - 2);
  Shape sa = detail::broadcast_strides(a, out.sizes()),
        sb = detail::broadcast_strides(b, out.sizes());
  Shape so = out.strides();
  sa.resize(batch.size());
  sb.resize(batch.size());
  so.resize(batch.size());
  visit_dtype(out.dtype(), [&]<class T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      T* pc = static_cast<T*>(out.data_ptr());
      const T* pa = static_cast<const T*>(a.data_ptr());
      const T* pb = static_cast<const T*>(b.data_ptr());
      auto one = [&](int64_t oc, int64_t oa, int64_t ob) {
        T* c = pc + oc;
        if (k == 0) {  // BLAS may leave C alone when k == 0
          for (int64_t i = 0; i < m * n; ++i) c[i] = beta == 0 ? T(0) : T(beta) * c[i];
          return;
        }
        gemm(la.trans, lb.trans, m, n, k, T(alpha), pa + oa, la.ld, pb + ob, lb.ld, T(beta), c, n);
      };
      detail::StridedLoop<3> loop{batch, {so, sa, sb}};
      detail::for_each_run(loop, [&](const std::array<int64_t, 3>& off,
                                     const std::array<int64_t, 3>& inner, int64_t count) {
        for (int64_t i = 0; i < count; ++i)
          one(off[0] + i * inner[0], off[1] + i * inner[1], off[2] + i * inner[2]);
      });
    } else {
      check_computable(out.dtype(), "matmul");
      throw DTypeError(detail::concat("matmul: not implemented for dtype ", out.dtype()));
    }
  });
}

}  // namespace wick::kernels
