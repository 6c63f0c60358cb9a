#include "core/layout.h"

#include <algorithm>

namespace wick::detail {

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = ndim == 0 ? 1 : ndim;  // like PyTorch, a 0-dim tensor accepts dim 0 and -1
  WICK_CHECK_AS(IndexError, dim >= -n && dim < n, op,
                ": dimension out of range (expected to be in range of [", -n, ", ", n - 1,
                "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

Shape contiguous_strides(const Shape& sizes) {
  Shape st(sizes.size());
  int64_t s = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    st[d] = s;
    // An empty tensor's strides still multiply its other sizes: [0, 2^40,
    // 2^40] holds nothing but its strides would overflow.
    WICK_CHECK_AS(ShapeError,
                  d == 0 || !__builtin_mul_overflow(s, std::max<int64_t>(sizes[d], 1), &s),
                  "sizes ", sizes, " are too large: their strides overflow int64");
  }
  return st;
}

int64_t checked_numel(const Shape& sizes, const char* op) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    WICK_CHECK_AS(ShapeError, s >= 0, op, ": negative size ", s, " in sizes ", sizes);
    WICK_CHECK_AS(ShapeError, !__builtin_mul_overflow(n, s, &n), op, ": sizes ", sizes,
                  " overflow the element count");
  }
  return n;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
    WICK_CHECK_AS(ShapeError, sa == sb || sa == 1 || sb == 1, op, ": the size of tensor a (", sa,
                  ") must match the size of tensor b (", sb, ") at non-singleton dimension ", i,
                  " (sizes ", a, " and ", b, ")");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

Shape broadcast_strides(const Tensor& t, const Shape& sizes) {
  Shape st(sizes.size(), 0);
  size_t lead = sizes.size() - size_t(t.dim());
  for (size_t i = 0; i < size_t(t.dim()); ++i)
    st[lead + i] = t.sizes()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

Tensor make_empty(const Shape& sizes, DType dtype, const char* op) {
  int64_t n = checked_numel(sizes, op);
  int64_t bytes;
  WICK_CHECK_AS(ShapeError, !__builtin_mul_overflow(n, element_size(dtype), &bytes), op, ": sizes ",
                sizes, " of ", dtype, " overflow the byte count");
  Shape strides = contiguous_strides(sizes);
  return make_tensor(Storage::allocate(size_t(bytes)), dtype, sizes, std::move(strides));
}

Tensor make_view(const Tensor& t, Shape sizes, Shape strides, int64_t offset) {
  return make_tensor(t.storage(), t.dtype(), std::move(sizes), std::move(strides), offset);
}

}  // namespace wick::detail
