#include "kernels/copy.h"

#include <cstring>
#include <type_traits>

#include "core/layout.h"
#include "core/strided.h"

namespace wick::kernels {

void copy(const Tensor& dst, const Tensor& src) {
  Shape bs = detail::broadcast_shapes(dst.sizes(), src.sizes(), "copy_");
  WICK_CHECK_AS(ShapeError, bs == dst.sizes(), "copy_: cannot broadcast source of sizes ",
                src.sizes(), " to destination of sizes ", dst.sizes());
  visit_dtype(dst.dtype(), [&]<class D>() {
    D* d = static_cast<D*>(dst.data_ptr());
    visit_dtype(src.dtype(), [&]<class S>() {
      const S* s = static_cast<const S*>(src.data_ptr());
      if (dst.is_contiguous() && src.is_contiguous() && src.sizes() == dst.sizes()) {
        const int64_t n = dst.numel();
        if constexpr (std::is_same_v<D, S>) {
          std::memmove(d, s, size_t(n) * sizeof(D));
        } else {
          for (int64_t i = 0; i < n; ++i) d[i] = convert_element<D>(s[i]);
        }
        return;
      }
      detail::StridedLoop<2> loop{dst.sizes(),
                                  {dst.strides(), detail::broadcast_strides(src, dst.sizes())}};
      loop.coalesce();
      detail::for_each_run(loop, [&](const std::array<int64_t, 2>& off,
                                     const std::array<int64_t, 2>& inner, int64_t n) {
        D* dp = d + off[0];
        const S* sp = s + off[1];
        for (int64_t i = 0; i < n; ++i) dp[i * inner[0]] = convert_element<D>(sp[i * inner[1]]);
      });
    });
  });
}

void fill(const Tensor& t, Scalar value) {
  visit_dtype(t.dtype(), [&]<class T>() {
    const T v = value.to<T>();
    T* base = static_cast<T*>(t.data_ptr());
    if (t.is_contiguous()) {
      std::fill(base, base + t.numel(), v);
      return;
    }
    detail::StridedLoop<1> loop{t.sizes(), {t.strides()}};
    loop.coalesce();
    detail::for_each_run(loop, [&](const std::array<int64_t, 1>& off,
                                   const std::array<int64_t, 1>& inner, int64_t n) {
      for (int64_t i = 0; i < n; ++i) base[off[0] + i * inner[0]] = v;
    });
  });
}

Tensor contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = detail::make_empty(t.sizes(), t.dtype());
  copy(out, t);
  return out;
}

}  // namespace wick::kernels
