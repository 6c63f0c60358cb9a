#include "kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>

#include "core/layout.h"
#include "kernels/loop.h"

namespace wick::kernels {

namespace {

/// Sum of n elements of p at stride s. The stride-1 case keeps 8 independent
/// partial sums so the vectorised adds do not wait on one another.
template <class Acc, class T>
inline Acc run_sum(const T* p, int64_t s, int64_t n) {
  if (s != 1) {
    Acc acc = 0;
    for (int64_t i = 0; i < n; ++i) acc += Acc(p[i * s]);
    return acc;
  }
  Acc lane[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lane[j] += Acc(p[i + j]);
  for (; i < n; ++i) lane[0] += Acc(p[i]);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/// v replaces m in a running maximum: larger, or NaN (which then sticks).
template <class T>
inline T max_step(T m, T v) {
  return (v > m || v != v) ? v : m;
}

/// Largest of n (> 0) elements of p at stride s; NaN if any is NaN. The
/// stride-1 case is a SIMD max with the NaN check kept apart, since a
/// NaN-propagating select does not vectorise.
template <class T>
inline T run_max(const T* p, int64_t s, int64_t n) {
  if constexpr (std::is_floating_point_v<T> ||
                (std::is_integral_v<T> && !std::is_same_v<T, bool>)) {
    if (s == 1) {
      T m = p[0];
      int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
      for (int64_t i = 0; i < n; ++i) {
        T v = p[i];
        m = v > m ? v : m;
        nan |= int(v != v);
      }
      if constexpr (std::is_floating_point_v<T>)
        if (nan) return std::numeric_limits<T>::quiet_NaN();
      return m;
    }
  }
  T m = p[0];
  for (int64_t i = 1; i < n; ++i) m = max_step(m, p[i * s]);
  return m;
}

/// First position among n elements at stride s that holds m (or a NaN when
/// m is NaN); -1 if none.
template <class T>
inline int64_t find_first(const T* p, int64_t s, int64_t n, T m) {
  for (int64_t i = 0; i < n; ++i) {
    T v = p[i * s];
    if (v == m || (m != m && v != v)) return i;
  }
  return -1;
}

/// Sum of the row-major range [begin, end) of a one-operand loop.
template <class Acc, class T>
Acc block_sum(const StridedLoop<1>& loop, const T* p, int64_t begin, int64_t end) {
  Acc acc = 0;
  for_each_run(loop, begin, end, [&](const auto& off, const auto& st, int64_t n) {
    acc += run_sum<Acc>(p + off[0], st[0], n);
  });
  return acc;
}

/// Sum of a whole (big) range in fixed chunks of kGrain, the chunk sums
/// added in order, so the result does not depend on the thread count.
template <class Acc, class T>
Acc chunked_sum(const StridedLoop<1>& loop, const T* p) {
  int64_t n = loop.numel();
  int64_t chunks = (n + kGrain - 1) / kGrain;
  if (chunks <= 1) return block_sum<Acc>(loop, p, 0, n);
  std::vector<Acc> part(static_cast<size_t>(chunks));
  detail::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      part[size_t(c)] = block_sum<Acc>(loop, p, c * kGrain, std::min(n, (c + 1) * kGrain));
  });
  return std::accumulate(part.begin(), part.end(), Acc(0));
}

/// Dims (of size > 1) ordered by the magnitude of x's stride, largest first:
/// walking them in this order reads memory forwards.
Shape memory_order(const Tensor& x, const std::vector<bool>* only, bool want) {
  Shape dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.sizes()[size_t(d)] > 1 && (!only || (*only)[size_t(d)] == want)) dims.push_back(d);
  std::stable_sort(dims.begin(), dims.end(), [&](int64_t a, int64_t b) {
    return std::abs(x.strides()[size_t(a)]) > std::abs(x.strides()[size_t(b)]);
  });
  return dims;
}

template <class T, class Acc, class O>
void sum_impl(const Tensor& out, const Tensor& x, const std::vector<bool>& reduce, double scale) {
  constexpr bool kScale = std::is_floating_point_v<O>;
  const T* px = static_cast<const T*>(x.data_ptr());
  O* po = static_cast<O*>(out.data_ptr());
  const int64_t out_n = out.numel();
  Shape ostr = detail::contiguous_strides(out.sizes());
  for (size_t d = 0; d < reduce.size(); ++d)
    if (reduce[d]) ostr[d] = 0;
  auto finish = [&](Acc v) { return kScale ? O(double(v) * scale) : O(v); };
  if (x.numel() == 0) {  // empty sums are 0 (and empty means 0 * inf = NaN)
    std::fill(po, po + out_n, finish(Acc(0)));
    return;
  }

  Shape all = memory_order(x, nullptr, false);
  bool inner_reduced = all.empty() || reduce[size_t(all.back())];
  Shape kept = memory_order(x, &reduce, false);
  if (inner_reduced || kept.empty()) {
    // Each output element sums a block of x: outputs outside, reduced dims
    // inside in memory order.
    StridedLoop<1> red;
    for (int64_t d : memory_order(x, &reduce, true)) {
      red.sizes.push_back(x.sizes()[size_t(d)]);
      red.strides[0].push_back(x.strides()[size_t(d)]);
    }
    red.coalesce();
    const int64_t red_n = red.numel();
    if (out_n == 1) {
      *po = finish(chunked_sum<Acc>(red, px));
      return;
    }
    StridedLoop<2> outer;
    outer.sizes = out.sizes();
    outer.strides = {detail::contiguous_strides(out.sizes()), x.strides()};
    outer.coalesce();
    parallel_runs(
        outer,
        [&](const auto& off, const auto& st, int64_t n) {
          for (int64_t i = 0; i < n; ++i)
            po[off[0] + i * st[0]] = finish(block_sum<Acc>(red, px + off[1] + i * st[1], 0, red_n));
        },
        std::max<int64_t>(1, kGrain / std::max<int64_t>(red_n, 1)));
    return;
  }

  // The innermost dim of x is kept: walk x in memory order and add rows into
  // an accumulator, split across threads along that innermost dim so no two
  // threads write one output.
  std::vector<Acc> buf;
  Acc* acc;
  if constexpr (std::is_same_v<Acc, O>) {
    acc = po;
    std::fill(po, po + out_n, O(0));
  } else {
    buf.assign(size_t(out_n), Acc(0));
    acc = buf.data();
  }
  StridedLoop<2> loop;
  for (int64_t d : all) {
    loop.sizes.push_back(x.sizes()[size_t(d)]);
    loop.strides[0].push_back(ostr[size_t(d)]);
    loop.strides[1].push_back(x.strides()[size_t(d)]);
  }
  loop.coalesce();
  const int64_t inner = loop.sizes.back();
  const int64_t total = loop.numel();
  detail::parallel_for(0, inner, std::max<int64_t>(1, kGrain * inner / std::max<int64_t>(total, 1)),
                       [&](int64_t j0, int64_t j1) {
                         StridedLoop<2> part = loop;
                         part.sizes.back() = j1 - j0;
                         Acc* a = acc + j0 * loop.strides[0].back();
                         const T* p = px + j0 * loop.strides[1].back();
                         for_each_run(part, 0, part.numel(),
                                      [&](const auto& off, const auto& st, int64_t n) {
                                        Acc* ao = a + off[0];
                                        const T* xo = p + off[1];
                                        if (st[0] == 1 && st[1] == 1) {
                                          for (int64_t i = 0; i < n; ++i) ao[i] += Acc(xo[i]);
                                        } else {
                                          for (int64_t i = 0; i < n; ++i)
                                            ao[i * st[0]] += Acc(xo[i * st[1]]);
                                        }
                                      });
                       });
  if (!std::is_same_v<Acc, O> || (kScale && scale != 1))
    for (int64_t i = 0; i < out_n; ++i) po[i] = finish(acc[i]);
}

}  // namespace

void sum(const Tensor& out, const Tensor& x, const std::vector<bool>& reduce, double scale) {
  switch (x.dtype()) {
    case DType::Float32:
      return sum_impl<float, double, float>(out, x, reduce, scale);
    case DType::Float64:
      return sum_impl<double, double, double>(out, x, reduce, scale);
    default:
      dispatch_real<true>(x.dtype(), "sum",
                          [&]<class T>() { sum_impl<T, int64_t, int64_t>(out, x, reduce, scale); });
  }
}

namespace {

/// Largest element of x (NaN if any), in fixed chunks across threads.
template <class T>
T max_of(const StridedLoop<1>& loop, const T* px) {
  auto scan = [&](int64_t b, int64_t e) {
    T m = px[0];
    for_each_run(loop, b, e, [&](const auto& off, const auto& st, int64_t n) {
      m = max_step(m, run_max(px + off[0], st[0], n));
    });
    return m;
  };
  const int64_t n = loop.numel();
  const int64_t chunks = (n + kGrain - 1) / kGrain;
  if (chunks <= 1) return scan(0, n);
  std::vector<T> part(static_cast<size_t>(chunks));
  detail::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      part[size_t(c)] = scan(c * kGrain, std::min(n, (c + 1) * kGrain));
  });
  T m = part[0];
  for (T v : part) m = max_step(m, v);
  return m;
}

StridedLoop<1> flat_loop(const Tensor& x) {
  StridedLoop<1> loop;
  loop.sizes = x.sizes();
  loop.strides[0] = x.strides();
  loop.coalesce();  // keeps the row-major index of every element
  return loop;
}

}  // namespace

void max_all(const Tensor& value, const Tensor& x) {
  dispatch_real<true>(x.dtype(), "max", [&]<class T>() {
    *static_cast<T*>(value.data_ptr()) = max_of(flat_loop(x), static_cast<const T*>(x.data_ptr()));
  });
}

int64_t argmax_all(const Tensor& x) {
  int64_t index = -1;
  dispatch_real<true>(x.dtype(), "argmax", [&]<class T>() {
    StridedLoop<1> loop = flat_loop(x);
    const T* px = static_cast<const T*>(x.data_ptr());
    const T m = max_of(loop, px);
    // Second pass: the first position holding the maximum.
    int64_t pos = 0;
    for_each_run(loop, 0, loop.numel(), [&](const auto& off, const auto& st, int64_t n) {
      if (index >= 0) return;
      int64_t i = find_first(px + off[0], st[0], n, m);
      if (i >= 0) index = pos + i;
      pos += n;
    });
  });
  return index;
}

void max_dim(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  dispatch_real<true>(x.dtype(), "max", [&]<class T>() {
    const int64_t len = x.sizes()[size_t(dim)];
    const int64_t xs = x.strides()[size_t(dim)];
    StridedLoop<2> loop;  // over output positions: x's sizes with 1 at dim
    loop.sizes = values.sizes();
    loop.strides = {values.strides(), x.strides()};
    loop.coalesce();
    const T* px = static_cast<const T*>(x.data_ptr());
    T* pv = static_cast<T*>(values.data_ptr());
    int64_t* pi = static_cast<int64_t*>(indices.data_ptr());
    parallel_runs(
        loop,
        [&](const auto& off, const auto& st, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            const T* p = px + off[1] + i * st[1];
            T m = run_max(p, xs, len);
            pv[off[0] + i * st[0]] = m;
            pi[off[0] + i * st[0]] = find_first(p, xs, len, m);
          }
        },
        std::max<int64_t>(1, kGrain / len));
  });
}

void scatter_dim(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  dispatch_real<true>(dst.dtype(), "scatter", [&]<class T>() {
    const int64_t ds = dst.strides()[size_t(dim)];
    StridedLoop<3> loop;
    loop.sizes = src.sizes();
    loop.strides = {dst.strides(), index.strides(), src.strides()};
    loop.strides[0][size_t(dim)] = 0;  // size 1 there; the index picks the position
    loop.coalesce();
    T* pd = static_cast<T*>(dst.data_ptr());
    const int64_t* pi = static_cast<const int64_t*>(index.data_ptr());
    const T* ps = static_cast<const T*>(src.data_ptr());
    parallel_runs(loop, [&](const auto& off, const auto& st, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        pd[off[0] + i * st[0] + pi[off[1] + i * st[1]] * ds] = ps[off[2] + i * st[2]];
    });
  });
}

}  // namespace wick::kernels
