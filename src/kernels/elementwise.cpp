#include "kernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/layout.h"
#include "kernels/copy.h"
#include "kernels/loop.h"

namespace wick::kernels {

namespace {

template <class T>
constexpr bool kFloat = std::is_floating_point_v<T>;

// GELU's constants, as PyTorch's kernels spell them.
constexpr double kInvSqrt2 = 0.70710678118654752440;     // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluKappa = 0.044715;

template <class T>
T hardsigmoid_of(T v) {
  return std::min(std::max(v + T(3), T(0)), T(6)) / T(6);
}

template <class T>
T gelu_tanh_inner(T v) {
  return T(kSqrt2OverPi) * (v + T(kGeluKappa) * v * v * v);
}

/// A loop over `sizes` for operands given as tensors (null: a scalar, stride 0).
template <size_t N>
StridedLoop<N> make_loop(const Shape& sizes, const std::array<const Tensor*, N>& ops) {
  StridedLoop<N> loop;
  loop.sizes = sizes;
  for (size_t k = 0; k < N; ++k)
    loop.strides[k] = ops[k] ? detail::broadcast_strides(*ops[k], sizes) : Shape(sizes.size(), 0);
  loop.coalesce();
  return loop;
}

/// True when every tensor operand is contiguous with the output's sizes, so
/// that the whole operation is one flat loop.
template <size_t N>
bool all_flat(const std::array<const Tensor*, N>& ops) {
  for (const Tensor* t : ops)
    if (t && (t->sizes() != ops[0]->sizes() || !t->is_contiguous())) return false;
  return true;
}

template <class T>
const T* base(const Tensor* t, const T* scalar) {
  return t ? static_cast<const T*>(t->data_ptr()) : scalar;
}

// One innermost run of a two-input op. The stride-1 / stride-0 cases are
// spelled out so the compiler vectorises them.
template <class O, class A, class B, class F>
inline void run3(O* o, const A* a, const B* b, int64_t so, int64_t sa, int64_t sb, int64_t n,
                 const F& f) {
  if (so == 1 && sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (so == 1 && sa == 1 && sb == 0) {
    const B y = *b;
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], y);
  } else if (so == 1 && sa == 0 && sb == 1) {
    const A x = *a;
    for (int64_t i = 0; i < n; ++i) o[i] = f(x, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb]);
  }
}

/// out[i] = f(a[i], b[i]) over out's sizes; a null tensor means the scalar
/// pointed to by the matching pointer.
template <class O, class A, class B, class F>
void loop3(const Tensor& out, const Tensor* ta, const A* sa, const Tensor* tb, const B* sb,
           const F& f) {
  O* po = static_cast<O*>(out.data_ptr());
  const A* pa = base(ta, sa);
  const B* pb = base(tb, sb);
  if (all_flat<3>({&out, ta, tb})) {
    int64_t ia = ta ? 1 : 0, ib = tb ? 1 : 0;
    detail::parallel_for(0, out.numel(), kGrain, [&](int64_t s, int64_t e) {
      run3(po + s, pa + s * ia, pb + s * ib, 1, ia, ib, e - s, f);
    });
    return;
  }
  auto loop = make_loop<3>(out.sizes(), {&out, ta, tb});
  parallel_runs(loop, [&](const auto& off, const auto& st, int64_t n) {
    run3(po + off[0], pa + off[1], pb + off[2], st[0], st[1], st[2], n, f);
  });
}

/// out[i] = f(a[i], b[i], c[i]) over out's sizes (all operands tensors).
template <class O, class A, class B, class C, class F>
void loop4(const Tensor& out, const Tensor& ta, const Tensor& tb, const Tensor& tc, const F& f) {
  O* po = static_cast<O*>(out.data_ptr());
  const A* pa = static_cast<const A*>(ta.data_ptr());
  const B* pb = static_cast<const B*>(tb.data_ptr());
  const C* pc = static_cast<const C*>(tc.data_ptr());
  auto run = [&](int64_t oo, int64_t oa, int64_t ob, int64_t oc, int64_t so, int64_t sa, int64_t sb,
                 int64_t sc, int64_t n) {
    O* o = po + oo;
    const A* a = pa + oa;
    const B* b = pb + ob;
    const C* c = pc + oc;
    if (so == 1 && sa == 1 && sb == 1 && sc == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i], c[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb], c[i * sc]);
    }
  };
  if (all_flat<4>({&out, &ta, &tb, &tc})) {
    detail::parallel_for(0, out.numel(), kGrain,
                         [&](int64_t s, int64_t e) { run(s, s, s, s, 1, 1, 1, 1, e - s); });
    return;
  }
  auto loop = make_loop<4>(out.sizes(), {&out, &ta, &tb, &tc});
  parallel_runs(loop, [&](const auto& off, const auto& st, int64_t n) {
    run(off[0], off[1], off[2], off[3], st[0], st[1], st[2], st[3], n);
  });
}

/// Calls g(f) with the functor computing `op` in T.
template <class T, class G>
void with_binary(Binary op, T alpha, G&& g) {
  switch (op) {
    case Binary::Add:
      return g([alpha](T x, T y) { return T(x + alpha * y); });
    case Binary::Sub:
      return g([alpha](T x, T y) { return T(x - alpha * y); });
    case Binary::Mul:
      return g([](T x, T y) { return T(x * y); });
    default:
      break;
  }
  if constexpr (kFloat<T>) {
    switch (op) {
      case Binary::Div:
        return g([](T x, T y) { return x / y; });
      case Binary::Pow:
        return g([](T x, T y) { return T(std::pow(x, y)); });
      case Binary::Maximum:
        return g([](T x, T y) { return std::isnan(x) ? x : (x > y ? x : y); });
      case Binary::Minimum:
        return g([](T x, T y) { return std::isnan(x) ? x : (x < y ? x : y); });
      case Binary::ReluGrad:
        return g([](T gr, T y) { return y <= T(0) ? T(0) : gr; });
      case Binary::SigmoidGrad:
        return g([](T gr, T y) { return gr * y * (T(1) - y); });
      case Binary::TanhGrad:
        return g([](T gr, T y) { return gr * (T(1) - y * y); });
      case Binary::PowBaseGrad:
        return g([](T x, T e) { return e == T(0) ? T(0) : T(e * std::pow(x, e - T(1))); });
      case Binary::PowExpGrad:
        return g([](T x, T e) {
          return x == T(0) && e >= T(0) ? T(0) : T(std::pow(x, e) * std::log(x));
        });
      // The kinks follow PyTorch's derivatives: relu6 and hardsigmoid have no
      // gradient at their end points, hardswish takes the middle piece's slope.
      case Binary::Relu6Grad:
        return g([](T gr, T x) { return x <= T(0) || x >= T(6) ? T(0) : gr; });
      case Binary::HardsigmoidGrad:
        // PyTorch multiplies by 1/6 rounded to float, in float64 too.
        return g([](T gr, T x) { return x > T(-3) && x < T(3) ? gr * T(1.0f / 6.0f) : T(0); });
      case Binary::HardswishGrad:
        return g([](T gr, T x) {
          return x < T(-3) ? T(0) : x <= T(3) ? gr * (x / T(3) + T(0.5)) : gr;
        });
      case Binary::SiluGrad:
        return g([](T gr, T x) {
          T s = T(1) / (T(1) + std::exp(-x));
          return gr * s * (T(1) + x * (T(1) - s));
        });
      case Binary::GeluGrad:
        return g([](T gr, T x) {
          T cdf = T(0.5) * (T(1) + std::erf(x * T(kInvSqrt2)));
          T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
          return gr * (cdf + x * pdf);
        });
      case Binary::GeluTanhGrad:
        return g([](T gr, T x) {
          T t = std::tanh(gelu_tanh_inner(x));
          T inner_d = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluKappa) * x * x);
          return gr * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * inner_d);
        });
      default:
        break;
    }
  }
  throw DTypeError(
      detail::concat("binary kernel: op ", int(op), " is not implemented for ", dtype_of<T>()));
}

/// The dtypes compared natively (the others are compared as float64):
/// dispatch_real's and bool. Returns false for the others.
template <class F>
bool dispatch_compare(DType dt, F&& f) {
  return try_dispatch<float, double, int64_t, int32_t, int16_t, int8_t, uint8_t, bool>(dt, f);
}

template <class T, class G>
void with_compare(Compare op, G&& g) {
  switch (op) {
    case Compare::Eq:
      return g([](T x, T y) { return x == y; });
    case Compare::Ne:
      return g([](T x, T y) { return x != y; });
    case Compare::Lt:
      return g([](T x, T y) { return x < y; });
    case Compare::Le:
      return g([](T x, T y) { return x <= y; });
    case Compare::Gt:
      return g([](T x, T y) { return x > y; });
    case Compare::Ge:
      return g([](T x, T y) { return x >= y; });
  }
}

/// t converted to float64 (t itself when it already is).
Tensor as_double(const Tensor& t) {
  if (t.dtype() == DType::Float64) return t;
  Tensor r = detail::make_empty(t.sizes(), DType::Float64, "compare");
  copy(r, t);
  return r;
}

}  // namespace

void binary(Binary op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha) {
  dispatch_real<false>(out.dtype(), "binary", [&]<class T>() {
    with_binary<T>(op, alpha.to<T>(), [&](const auto& f) {
      loop3<T, T, T>(out, &a, static_cast<const T*>(nullptr), &b, static_cast<const T*>(nullptr),
                     f);
    });
  });
}

void binary(Binary op, const Tensor& out, const Tensor& a, Scalar b) {
  dispatch_real<false>(out.dtype(), "binary", [&]<class T>() {
    const T y = b.to<T>();
    with_binary<T>(op, T(1),
                   [&](const auto& f) { loop3<T, T, T>(out, &a, nullptr, nullptr, &y, f); });
  });
}

void binary(Binary op, const Tensor& out, Scalar a, const Tensor& b) {
  dispatch_real<false>(out.dtype(), "binary", [&]<class T>() {
    const T x = a.to<T>();
    with_binary<T>(op, T(1),
                   [&](const auto& f) { loop3<T, T, T>(out, nullptr, &x, &b, nullptr, f); });
  });
}

void unary(Unary op, const Tensor& out, const Tensor& x, double param) {
  dispatch_float(out.dtype(), "unary", [&]<class T>() {
    const T dummy{};
    auto go = [&](auto f) {
      loop3<T, T, T>(out, &x, nullptr, nullptr, &dummy, [f](T v, T) { return f(v); });
    };
    const T p = T(param);
    switch (op) {
      case Unary::Neg:
        return go([](T v) { return -v; });
      case Unary::Abs:
        return go([](T v) { return std::abs(v); });
      case Unary::Relu:
        return go([](T v) { return v < T(0) ? T(0) : v; });  // keeps NaN
      case Unary::Exp:
        return go([](T v) { return std::exp(v); });
      case Unary::Log:
        return go([](T v) { return std::log(v); });
      case Unary::Tanh:
        return go([](T v) { return std::tanh(v); });
      case Unary::Sigmoid:
        return go([](T v) { return T(1) / (T(1) + std::exp(-v)); });
      case Unary::Sqrt:
        return go([](T v) { return std::sqrt(v); });
      case Unary::Sign:
        return go([](T v) { return T((T(0) < v) - (v < T(0))); });  // sign(NaN) = 0, as in PyTorch
      case Unary::Pow:
        // The common exponents avoid pow(), as PyTorch's kernel does.
        if (param == 2) return go([](T v) { return v * v; });
        if (param == 3) return go([](T v) { return v * v * v; });
        if (param == 1) return go([](T v) { return v; });
        if (param == 0.5) return go([](T v) { return std::sqrt(v); });
        if (param == -1) return go([](T v) { return T(1) / v; });
        if (param == -2) return go([](T v) { return T(1) / (v * v); });
        return go([p](T v) { return T(std::pow(v, p)); });
      case Unary::Relu6:
        return go([](T v) { return v < T(0) ? T(0) : v > T(6) ? T(6) : v; });  // keeps NaN
      case Unary::Hardsigmoid:
        return go([](T v) { return hardsigmoid_of(v); });
      case Unary::Hardswish:
        return go([](T v) { return v * hardsigmoid_of(v); });
      case Unary::Silu:
        return go([](T v) { return v / (T(1) + std::exp(-v)); });
      case Unary::Gelu:
        return go([](T v) { return v * T(0.5) * (T(1) + std::erf(v * T(kInvSqrt2))); });
      case Unary::GeluTanh:
        return go([](T v) { return T(0.5) * v * (T(1) + std::tanh(gelu_tanh_inner(v))); });
    }
  });
}

void compare(Compare op, const Tensor& out, const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype()) {
    bool done = dispatch_compare(a.dtype(), [&]<class T>() {
      with_compare<T>(op, [&](const auto& f) {
        loop3<bool, T, T>(out, &a, static_cast<const T*>(nullptr), &b,
                          static_cast<const T*>(nullptr), f);
      });
    });
    if (done) return;
  }
  Tensor da = as_double(a), db = as_double(b);
  with_compare<double>(op, [&](const auto& f) {
    loop3<bool, double, double>(out, &da, static_cast<const double*>(nullptr), &db,
                                static_cast<const double*>(nullptr), f);
  });
}

void compare(Compare op, const Tensor& out, const Tensor& a, Scalar b) {
  // Floating tensors compare in their own dtype (PyTorch casts the number);
  // integer tensors against an integer compare exactly; the rest in double.
  bool done = dispatch_compare(a.dtype(), [&]<class T>() {
    if constexpr (kFloat<T>) {
      const T y = b.to<T>();
      with_compare<T>(op,
                      [&](const auto& f) { loop3<bool, T, T>(out, &a, nullptr, nullptr, &y, f); });
    } else if (b.is_integral() || b.is_bool()) {
      const int64_t y = b.to<int64_t>();
      with_compare<int64_t>(op, [&](const auto& f) {
        loop3<bool, T, int64_t>(out, &a, nullptr, nullptr, &y,
                                [f](T x, int64_t v) { return f(int64_t(x), v); });
      });
    } else {
      const double y = b.to<double>();
      with_compare<double>(op, [&](const auto& f) {
        loop3<bool, T, double>(out, &a, nullptr, nullptr, &y,
                               [f](T x, double v) { return f(double(x), v); });
      });
    }
  });
  if (done) return;
  Tensor da = as_double(a);
  const double y = b.to<double>();
  with_compare<double>(
      op, [&](const auto& f) { loop3<bool, double, double>(out, &da, nullptr, nullptr, &y, f); });
}

void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  dispatch_float(out.dtype(), "where", [&]<class T>() {
    auto pick = [](auto c, T x, T y) { return c ? x : y; };
    if (cond.dtype() == DType::Bool)
      loop4<T, bool, T, T>(out, cond, a, b, pick);
    else
      loop4<T, uint8_t, T, T>(out, cond, a, b, pick);
  });
}

void addcmul(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, Scalar value,
             bool divide) {
  dispatch_float(out.dtype(), divide ? "addcdiv_" : "addcmul_", [&]<class T>() {
    const T v = value.to<T>();
    if (divide)
      loop4<T, T, T, T>(out, a, b, c, [v](T x, T y, T z) { return x + v * y / z; });
    else
      loop4<T, T, T, T>(out, a, b, c, [v](T x, T y, T z) { return x + v * y * z; });
  });
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  Tensor da = as_double(a), db = as_double(b);
  Shape sizes = detail::broadcast_shapes(a.sizes(), b.sizes(), "allclose");
  auto loop = make_loop<2>(sizes, {&da, &db});
  const double* pa = static_cast<const double*>(da.data_ptr());
  const double* pb = static_cast<const double*>(db.data_ptr());
  bool close = true;
  for_each_run(loop, 0, loop.numel(), [&](const auto& off, const auto& st, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      double x = pa[off[0] + i * st[0]], y = pb[off[1] + i * st[1]];
      double diff = std::abs(x - y);  // inf - inf is NaN: never close
      close = close && (x == y || (std::isfinite(diff) && diff <= atol + rtol * std::abs(y)));
    }
  });
  return close;
}

}  // namespace wick::kernels
