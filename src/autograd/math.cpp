// Tensor math as differentiable operations: argument checks, output
// allocation, the kernel call, and every backward rule of wick/autograd/math.h.
// Backward rules run with grad mode off, so they freely call the public ops.
#include "wick/autograd/math.h"

#include <algorithm>

#include "autograd/internal.h"
#include "core/layout.h"
#include "kernels/elementwise.h"
#include "kernels/matmul.h"
#include "kernels/reduce.h"

namespace wick {

using autograd::needs_grad;
using autograd::record;
using autograd::sum_to;
using kernels::Binary;
using kernels::Compare;
using kernels::Unary;

namespace {

using Grads = std::vector<Tensor>;

bool is_float(DType t) {
  return t == DType::Float32 || t == DType::Float64;
}

/// Both float32 or both float64.
void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  autograd::check_float(a, op);
  autograd::check_float(b, op);
  WICK_CHECK_AS(DTypeError, a.dtype() == b.dtype(), op,
                ": expected both tensors to have the same dtype, but got ", a.dtype(), " and ",
                b.dtype(), "; convert one with .to(dtype) first");
}

void check_scalar(Scalar s, const char* op) {
  WICK_CHECK_AS(DTypeError, !s.is_complex(), op, ": complex scalars are not supported");
}

Shape broadcast(const Tensor& a, const Tensor& b, const char* op) {
  return a.sizes() == b.sizes() ? a.sizes() : detail::broadcast_shapes(a.sizes(), b.sizes(), op);
}

/// Elementwise results without autograd (forward passes and the fused
/// helpers of backward rules).
Tensor binary_raw(Binary k, const char* op, const Tensor& a, const Tensor& b, Scalar alpha = 1) {
  check_pair(a, b, op);
  Tensor out = detail::make_empty(broadcast(a, b, op), a.dtype(), op);
  kernels::binary(k, out, a, b, alpha);
  return out;
}

Tensor scalar_raw(Binary k, const char* op, const Tensor& a, Scalar s, bool scalar_first) {
  autograd::check_float(a, op);
  check_scalar(s, op);
  Tensor out = detail::make_empty(a.sizes(), a.dtype(), op);
  if (scalar_first)
    kernels::binary(k, out, s, a);
  else
    kernels::binary(k, out, a, s);
  return out;
}

Tensor unary_raw(Unary k, const char* op, const Tensor& x, double param = 0) {
  autograd::check_float(x, op);
  Tensor out = detail::make_empty(x.sizes(), x.dtype(), op);
  kernels::unary(k, out, x, param);
  return out;
}

bool is_one(Scalar s) {
  return s.to<double>() == 1.0;
}

Tensor scaled(const Tensor& g, Scalar s) {
  return is_one(s) ? g : g * s;
}

Tensor zero_scalar(DType dt) {
  return full({}, 0, {.dtype = dt});
}

/// A contiguous result viewed with other sizes (same element count).
Tensor reshaped(const Tensor& t, const Shape& sizes) {
  return detail::make_view(t, sizes, detail::contiguous_strides(sizes), t.storage_offset());
}

// ---- reductions -------------------------------------------------------------

/// Which dims `dims` names (all of them when empty, as PyTorch 1.13 does).
std::vector<bool> reduce_mask(const Tensor& x, const Shape& dims, const char* op) {
  std::vector<bool> mask(size_t(x.dim()), dims.empty());
  for (int64_t d : dims) {
    int64_t w = detail::wrap_dim(d, x.dim(), op);
    if (x.dim() == 0) continue;
    WICK_CHECK_AS(IndexError, !mask[size_t(w)], op, ": dim ", w,
                  " appears multiple times in the list of dims ", dims);
    mask[size_t(w)] = true;
  }
  return mask;
}

Shape keepdim_sizes(const Tensor& x, const std::vector<bool>& mask) {
  Shape s = x.sizes();
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) s[d] = 1;
  return s;
}

Shape squeezed_sizes(const Tensor& x, const std::vector<bool>& mask) {
  Shape s;
  for (size_t d = 0; d < mask.size(); ++d)
    if (!mask[d]) s.push_back(x.sizes()[d]);
  return s;
}

DType sum_dtype(const Tensor& x, const char* op) {
  DType t = x.dtype();
  if (is_float(t)) return t;
  WICK_CHECK_AS(DTypeError, is_integral(t, true), op, ": not implemented for dtype ", t);
  return DType::Int64;
}

/// Sum (times scale) over the dims in mask; records `name` when x needs grad.
Tensor reduce_sum(const Tensor& x, const std::vector<bool>& mask, bool keepdim, double scale,
                  const char* op, const char* name) {
  Shape keep = keepdim_sizes(x, mask);
  Tensor out = detail::make_empty(keep, sum_dtype(x, op), op);
  kernels::sum(out, x, mask, scale);
  if (!keepdim) out = reshaped(out, squeezed_sizes(x, mask));
  if (needs_grad(x)) {
    record(out, name, {x}, [keep, sizes = x.sizes(), scale](const Tensor& g) {
      Tensor gs = scale == 1 ? g : g * scale;
      return Grads{gs.reshape(keep).expand(sizes)};
    });
  }
  return out;
}

void check_mean_dtype(const Tensor& x) {
  WICK_CHECK_AS(DTypeError, is_float(x.dtype()),
                "mean(): could not infer output dtype. Input dtype must be either a floating point "
                "or complex dtype. Got: ",
                x.dtype());
}

/// Number of elements the mask reduces over.
double reduced_count(const Tensor& x, const std::vector<bool>& mask) {
  double n = 1;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) n *= double(x.sizes()[d]);
  return n;
}

/// x as at least 1-D (a 0-dim tensor reduces like a [1]).
Tensor at_least_1d(const Tensor& x) {
  return x.dim() > 0 ? x : detail::make_view(x, {1}, {1}, x.storage_offset());
}

// ---- matmul -----------------------------------------------------------------

/// out = alpha * a @ b for 2-D a, b (no checks beyond the kernel's).
Tensor mm_raw(const Tensor& a, const Tensor& b, double alpha = 1) {
  Tensor out = detail::make_empty({a.sizes()[0], b.sizes()[1]}, a.dtype(), "matmul");
  kernels::matmul(out, a, b, alpha);
  return out;
}

/// t with its leading dims merged: [..., r, c] -> [rows, c], a view when the
/// strides allow, else a contiguous copy.
Tensor fold_rows(const Tensor& t) {
  const int64_t nd = t.dim(), c = t.sizes().back();
  // The row dims that move (size != 1) merge into one when each one's stride
  // spans the next one; size-1 dims have meaningless strides and are skipped.
  int64_t rows = 1, row_stride = std::max<int64_t>(c, 1), inner_span = -1;
  bool view = true;
  for (int64_t d = nd - 2; d >= 0; --d) {
    int64_t size = t.sizes()[size_t(d)], stride = t.strides()[size_t(d)];
    rows *= size;
    if (size == 1) continue;
    if (inner_span < 0)
      row_stride = stride;
    else if (stride != inner_span)
      view = false;
    inner_span = stride * size;
  }
  if (view)
    return detail::make_view(t, {rows, c}, {row_stride, t.strides().back()}, t.storage_offset());
  Tensor cont = detail::contiguous_raw(t);
  return detail::make_view(cont, {rows, c}, {c, 1}, cont.storage_offset());
}

/// torch.matmul without autograd.
Tensor matmul_raw(const Tensor& a, const Tensor& b) {
  // 1-D operands become a row (a) or a column (b), removed again at the end.
  Tensor a2 = a.dim() == 1
                  ? detail::make_view(a, {1, a.sizes()[0]}, {0, a.strides()[0]}, a.storage_offset())
                  : a;
  Tensor b2 = b.dim() == 1
                  ? detail::make_view(b, {b.sizes()[0], 1}, {b.strides()[0], 0}, b.storage_offset())
                  : b;
  const int64_t m = a2.sizes()[size_t(a2.dim() - 2)], k = a2.sizes().back();
  const int64_t k2 = b2.sizes()[size_t(b2.dim() - 2)], n = b2.sizes().back();
  WICK_CHECK_AS(ShapeError, k == k2, "matmul: mat1 and mat2 shapes cannot be multiplied (", m, "x",
                k, " and ", k2, "x", n, "); input sizes ", a.sizes(), " and ", b.sizes());
  Shape batch_a(a2.sizes().begin(), a2.sizes().end() - 2);
  Shape batch_b(b2.sizes().begin(), b2.sizes().end() - 2);
  Shape batch = detail::broadcast_shapes(batch_a, batch_b, "matmul");
  Shape final_sizes = batch;
  if (a.dim() > 1) final_sizes.push_back(m);
  if (b.dim() > 1) final_sizes.push_back(n);

  if (b2.dim() == 2 && a2.dim() > 2) {
    // [..., m, k] @ [k, n]: one GEMM over all rows, as PyTorch folds it.
    Tensor out = mm_raw(fold_rows(a2), b2);
    return reshaped(out, final_sizes);
  }
  Shape out_sizes = batch;
  out_sizes.push_back(m);
  out_sizes.push_back(n);
  auto pad = [&](const Tensor& t) {
    size_t lead = out_sizes.size() - size_t(t.dim());
    if (lead == 0) return t;
    Shape sz(lead, 1), st(lead, 0);
    sz.insert(sz.end(), t.sizes().begin(), t.sizes().end());
    st.insert(st.end(), t.strides().begin(), t.strides().end());
    return detail::make_view(t, sz, st, t.storage_offset());
  };
  Tensor out = detail::make_empty(out_sizes, a.dtype(), "matmul");
  kernels::matmul(out, pad(a2), pad(b2));
  return reshaped(out, final_sizes);
}

const char* matmul_node_name(int64_t da, int64_t db) {
  if (da == 1 && db == 1) return "DotBackward0";
  if (da == 2 && db == 1) return "MvBackward0";
  if (da == 1 && db == 2) return "SqueezeBackward3";  // PyTorch: unsqueeze, mm, squeeze
  if (da == 2 && db == 2) return "MmBackward0";
  return "UnsafeViewBackward0";
}

// ---- in-place ---------------------------------------------------------------

/// Refuses a destination whose elements alias each other (expanded dims).
void check_no_internal_overlap(const Tensor& t, const char* op) {
  for (int64_t d = 0; d < t.dim(); ++d)
    WICK_CHECK(t.sizes()[size_t(d)] <= 1 || t.strides()[size_t(d)] != 0, op,
               ": unsupported operation: more than one element of the written-to tensor (sizes ",
               t.sizes(), ", strides ", t.strides(),
               ") refers to a single memory location; clone() it first");
}

/// `src` when reading it while writing `dst` element by element is safe,
/// otherwise a private copy (it shares dst's memory with another layout).
Tensor unaliased(const Tensor& dst, const Tensor& src) {
  if (src.storage() != dst.storage()) return src;
  if (src.storage_offset() == dst.storage_offset() &&
      detail::broadcast_strides(src, dst.sizes()) == dst.strides())
    return src;
  Tensor copy = detail::make_empty(src.sizes(), src.dtype(), "copy");
  detail::copy_raw(copy, src);
  return copy;
}

/// Checks for in-place `self op= other`: grad rules, dtypes, and that other
/// broadcasts to self.
void check_inplace_args(const Tensor& self, const Tensor& other, const char* op, bool int_ok) {
  autograd::check_inplace(self, op);
  if (!(int_ok && is_integral(self.dtype()))) autograd::check_float(self, op);
  WICK_CHECK_AS(DTypeError, other.dtype() == self.dtype(), op, ": expected other to have dtype ",
                self.dtype(), " (the dtype of self) but got ", other.dtype(),
                "; convert it with .to(dtype) first");
  Shape bs = detail::broadcast_shapes(self.sizes(), other.sizes(), op);
  WICK_CHECK_AS(ShapeError, bs == self.sizes(), op, ": output with shape ", self.sizes(),
                " doesn't match the broadcast shape ", bs, " (other has shape ", other.sizes(),
                ")");
  check_no_internal_overlap(self, op);
}

void inplace_binary(const Tensor& self, const Tensor& other, Binary k, const char* op, Scalar alpha,
                    bool int_ok) {
  check_inplace_args(self, other, op, int_ok);
  check_scalar(alpha, op);
  WICK_CHECK_AS(DTypeError, !is_integral(self.dtype()) || alpha.is_integral() || alpha.is_bool(),
                op, ": for integer tensors, alpha must be an integer (got ", alpha, ")");
  kernels::binary(k, self, self, unaliased(self, other), alpha);
}

void inplace_scalar(const Tensor& self, Scalar s, Binary k, const char* op, bool int_ok) {
  autograd::check_inplace(self, op);
  check_scalar(s, op);
  if (int_ok && is_integral(self.dtype())) {
    WICK_CHECK_AS(DTypeError, s.is_integral() || s.is_bool(), op, ": result type ",
                  s.default_dtype(), " can't be cast to the desired output type ", self.dtype());
  } else {
    autograd::check_float(self, op);
  }
  check_no_internal_overlap(self, op);
  kernels::binary(k, self, self, s);
}

void inplace_addc(const Tensor& self, const Tensor& t1, const Tensor& t2, Scalar value,
                  bool divide) {
  const char* op = divide ? "addcdiv_" : "addcmul_";
  check_inplace_args(self, t1, op, false);
  check_inplace_args(self, t2, op, false);
  check_scalar(value, op);
  kernels::addcmul(self, self, unaliased(self, t1), unaliased(self, t2), value, divide);
}

}  // namespace

// ---- elementwise binary -----------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  check_scalar(alpha, "add");
  Tensor out = binary_raw(Binary::Add, "add", a, b, alpha);
  if (needs_grad(a, b)) {
    record(
        out, "AddBackward0", {a, b},
        [sa = a.sizes(), sb = b.sizes(), alpha, ra = a.requires_grad(),
         rb = b.requires_grad()](const Tensor& g) {
          return Grads{ra ? sum_to(g, sa) : Tensor(), rb ? sum_to(scaled(g, alpha), sb) : Tensor()};
        });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  check_scalar(alpha, "sub");
  Tensor out = binary_raw(Binary::Sub, "sub", a, b, alpha);
  if (needs_grad(a, b)) {
    record(out, "SubBackward0", {a, b},
           [sa = a.sizes(), sb = b.sizes(), alpha, ra = a.requires_grad(),
            rb = b.requires_grad()](const Tensor& g) {
             return Grads{
                 ra ? sum_to(g, sa) : Tensor(),
                 rb ? sum_to(is_one(alpha) ? -g : g * Scalar(-alpha.to<double>()), sb) : Tensor()};
           });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(Binary::Mul, "mul", a, b);
  if (needs_grad(a, b)) {
    // Each input's gradient needs only the other input.
    bool ra = a.requires_grad(), rb = b.requires_grad();
    record(out, "MulBackward0", {a, b},
           [ca = rb ? a : Tensor(), cb = ra ? b : Tensor(), sa = a.sizes(),
            sb = b.sizes()](const Tensor& g) {
             return Grads{cb.defined() ? sum_to(g * cb, sa) : Tensor(),
                          ca.defined() ? sum_to(g * ca, sb) : Tensor()};
           });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(Binary::Div, "div", a, b);
  if (needs_grad(a, b)) {
    record(out, "DivBackward0", {a, b},
           [a, b, ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
             return Grads{ra ? sum_to(g / b, a.sizes()) : Tensor(),
                          rb ? sum_to(-g * a / (b * b), b.sizes()) : Tensor()};
           });
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(Binary::Pow, "pow", a, b);
  if (needs_grad(a, b)) {
    record(out, "PowBackward1", {a, b},
           [a, b, ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
             Tensor ga, gb;
             if (ra) ga = sum_to(g * binary_raw(Binary::PowBaseGrad, "pow", a, b), a.sizes());
             if (rb) gb = sum_to(g * binary_raw(Binary::PowExpGrad, "pow", a, b), b.sizes());
             return Grads{ga, gb};
           });
  }
  return out;
}

Tensor pow(const Tensor& a, Scalar exponent) {
  check_scalar(exponent, "pow");
  double p = exponent.to<double>();
  Tensor out = unary_raw(Unary::Pow, "pow", a, p);
  if (needs_grad(a)) {
    record(out, "PowBackward0", {a}, [a, p](const Tensor& g) {
      if (p == 0) return Grads{zeros_like(a)};
      return Grads{g * unary_raw(Unary::Pow, "pow", a, p - 1) * p};
    });
  }
  return out;
}

namespace {
/// maximum/minimum: the gradient goes to the chosen input, half to each on ties.
Tensor extremum(const Tensor& a, const Tensor& b, bool is_max) {
  const char* op = is_max ? "maximum" : "minimum";
  Tensor out = binary_raw(is_max ? Binary::Maximum : Binary::Minimum, op, a, b);
  if (needs_grad(a, b)) {
    record(out, is_max ? "MaximumBackward0" : "MinimumBackward0", {a, b},
           [a, b, is_max, ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
             Tensor zero = zero_scalar(g.dtype()), half = g * 0.5;
             Tensor tie = eq(a, b), a_wins = is_max ? gt(a, b) : lt(a, b);
             Tensor ga, gb;
             if (ra) ga = sum_to(where(tie, half, where(a_wins, g, zero)), a.sizes());
             if (rb) gb = sum_to(where(tie, half, where(a_wins, zero, g)), b.sizes());
             return Grads{ga, gb};
           });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum(a, b, true);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum(a, b, false);
}

Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}

// Tensor-scalar forms keep the tensor's dtype; the node names are those
// Python's PyTorch shows for `x + 2`, `2 - x`, ... .
Tensor operator+(const Tensor& a, Scalar b) {
  Tensor out = scalar_raw(Binary::Add, "add", a, b, false);
  if (needs_grad(a)) record(out, "AddBackward0", {a}, [](const Tensor& g) { return Grads{g}; });
  return out;
}

Tensor operator-(const Tensor& a, Scalar b) {
  Tensor out = scalar_raw(Binary::Sub, "sub", a, b, false);
  if (needs_grad(a)) record(out, "SubBackward0", {a}, [](const Tensor& g) { return Grads{g}; });
  return out;
}

Tensor operator*(const Tensor& a, Scalar b) {
  Tensor out = scalar_raw(Binary::Mul, "mul", a, b, false);
  if (needs_grad(a))
    record(out, "MulBackward0", {a}, [b](const Tensor& g) { return Grads{g * b}; });
  return out;
}

Tensor operator/(const Tensor& a, Scalar b) {
  Tensor out = scalar_raw(Binary::Div, "div", a, b, false);
  if (needs_grad(a))
    record(out, "DivBackward0", {a}, [b](const Tensor& g) { return Grads{g / b}; });
  return out;
}

Tensor operator+(Scalar a, const Tensor& b) {
  return b + a;
}
Tensor operator*(Scalar a, const Tensor& b) {
  return b * a;
}

Tensor operator-(Scalar a, const Tensor& b) {
  Tensor out = scalar_raw(Binary::Sub, "rsub", b, a, true);
  if (needs_grad(b)) record(out, "RsubBackward1", {b}, [](const Tensor& g) { return Grads{-g}; });
  return out;
}

Tensor operator/(Scalar a, const Tensor& b) {
  Tensor out = scalar_raw(Binary::Div, "div", b, a, true);
  if (needs_grad(b)) {
    // d(a / b) = -a / b^2 = -out / b
    record(out, "MulBackward0", {b},
           [b, o = out.detach()](const Tensor& g) { return Grads{-g * o / b}; });
  }
  return out;
}

Tensor operator-(const Tensor& a) {
  return neg(a);
}

// ---- comparisons ------------------------------------------------------------

namespace {
void check_comparable(const Tensor& t, const char* op) {
  WICK_CHECK_AS(DTypeError, !is_complex(t.dtype()), op, ": not implemented for dtype ", t.dtype());
}

Tensor compare(Compare k, const char* op, const Tensor& a, const Tensor& b) {
  check_comparable(a, op);
  check_comparable(b, op);
  Tensor out = detail::make_empty(broadcast(a, b, op), DType::Bool, op);
  kernels::compare(k, out, a, b);
  return out;
}

Tensor compare(Compare k, const char* op, const Tensor& a, Scalar b) {
  check_comparable(a, op);
  check_scalar(b, op);
  Tensor out = detail::make_empty(a.sizes(), DType::Bool, op);
  kernels::compare(k, out, a, b);
  return out;
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) {
  return compare(Compare::Eq, "eq", a, b);
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare(Compare::Ne, "ne", a, b);
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare(Compare::Lt, "lt", a, b);
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare(Compare::Le, "le", a, b);
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare(Compare::Gt, "gt", a, b);
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare(Compare::Ge, "ge", a, b);
}
Tensor eq(const Tensor& a, Scalar b) {
  return compare(Compare::Eq, "eq", a, b);
}
Tensor ne(const Tensor& a, Scalar b) {
  return compare(Compare::Ne, "ne", a, b);
}
Tensor lt(const Tensor& a, Scalar b) {
  return compare(Compare::Lt, "lt", a, b);
}
Tensor le(const Tensor& a, Scalar b) {
  return compare(Compare::Le, "le", a, b);
}
Tensor gt(const Tensor& a, Scalar b) {
  return compare(Compare::Gt, "gt", a, b);
}
Tensor ge(const Tensor& a, Scalar b) {
  return compare(Compare::Ge, "ge", a, b);
}

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  if (is_complex(a.dtype()) || is_complex(b.dtype()))
    return a.to_vector<std::complex<double>>() == b.to_vector<std::complex<double>>();
  Tensor e = eq(a, b);
  const bool* p = e.data<bool>();
  return std::all_of(p, p + e.numel(), [](bool v) { return v; });
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  check_comparable(a, "allclose");
  check_comparable(b, "allclose");
  return kernels::allclose(a, b, rtol, atol);
}

// ---- elementwise unary ------------------------------------------------------

Tensor neg(const Tensor& x) {
  Tensor out = unary_raw(Unary::Neg, "neg", x);
  if (needs_grad(x)) record(out, "NegBackward0", {x}, [](const Tensor& g) { return Grads{-g}; });
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_raw(Unary::Abs, "abs", x);
  if (needs_grad(x)) {
    record(out, "AbsBackward0", {x}, [x](const Tensor& g) {
      return Grads{g * unary_raw(Unary::Sign, "abs", x)};  // sign(0) = 0: no gradient at 0
    });
  }
  return out;
}

Tensor relu(const Tensor& x) {
  Tensor out = unary_raw(Unary::Relu, "relu", x);
  if (needs_grad(x)) {
    record(out, "ReluBackward0", {x}, [y = out.detach()](const Tensor& g) {
      return Grads{binary_raw(Binary::ReluGrad, "relu", g, y)};
    });
  }
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_raw(Unary::Exp, "exp", x);
  if (needs_grad(x))
    record(out, "ExpBackward0", {x}, [y = out.detach()](const Tensor& g) { return Grads{g * y}; });
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = unary_raw(Unary::Log, "log", x);
  if (needs_grad(x))
    record(out, "LogBackward0", {x}, [x](const Tensor& g) { return Grads{g / x}; });
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = unary_raw(Unary::Tanh, "tanh", x);
  if (needs_grad(x)) {
    record(out, "TanhBackward0", {x}, [y = out.detach()](const Tensor& g) {
      return Grads{binary_raw(Binary::TanhGrad, "tanh", g, y)};
    });
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_raw(Unary::Sigmoid, "sigmoid", x);
  if (needs_grad(x)) {
    record(out, "SigmoidBackward0", {x}, [y = out.detach()](const Tensor& g) {
      return Grads{binary_raw(Binary::SigmoidGrad, "sigmoid", g, y)};
    });
  }
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_raw(Unary::Sqrt, "sqrt", x);
  if (needs_grad(x)) {
    record(out, "SqrtBackward0", {x},
           [y = out.detach()](const Tensor& g) { return Grads{g / y * 0.5}; });
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  WICK_CHECK_AS(DTypeError, cond.dtype() == DType::Bool || cond.dtype() == DType::UInt8,
                "where: expected condition to be a bool tensor but got ", cond.dtype());
  check_pair(a, b, "where");
  Shape sizes = detail::broadcast_shapes(broadcast(a, b, "where"), cond.sizes(), "where");
  Tensor out = detail::make_empty(sizes, a.dtype(), "where");
  kernels::where(out, cond, a, b);
  if (needs_grad(a, b)) {
    record(out, "WhereBackward0", {a, b},
           [cond, sa = a.sizes(), sb = b.sizes(), ra = a.requires_grad(),
            rb = b.requires_grad()](const Tensor& g) {
             Tensor zero = zero_scalar(g.dtype());
             return Grads{ra ? sum_to(where(cond, g, zero), sa) : Tensor(),
                          rb ? sum_to(where(cond, zero, g), sb) : Tensor()};
           });
  }
  return out;
}

// ---- reductions -------------------------------------------------------------

Tensor sum(const Tensor& x) {
  return reduce_sum(x, std::vector<bool>(size_t(x.dim()), true), false, 1, "sum", "SumBackward0");
}

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  return reduce_sum(x, reduce_mask(x, dims, "sum"), keepdim, 1, "sum", "SumBackward1");
}

Tensor mean(const Tensor& x) {
  check_mean_dtype(x);
  return reduce_sum(x, std::vector<bool>(size_t(x.dim()), true), false, 1.0 / double(x.numel()),
                    "mean", "MeanBackward0");
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  check_mean_dtype(x);
  auto mask = reduce_mask(x, dims, "mean");
  return reduce_sum(x, mask, keepdim, 1.0 / reduced_count(x, mask), "mean", "MeanBackward1");
}

Tensor max(const Tensor& x) {
  WICK_CHECK_AS(IndexError, x.numel() > 0,
                "max(): Expected reduction dim to be specified for input.numel() == 0 (sizes ",
                x.sizes(), "). Specify the reduction dim with the 'dim' argument.");
  Tensor out = detail::make_empty({}, x.dtype(), "max");
  kernels::max_all(out, x);
  if (needs_grad(x)) {
    // PyTorch's evenly_distribute_backward: ties share the gradient.
    record(out, "MaxBackward1", {x}, [x, v = out.detach()](const Tensor& g) {
      Tensor mask = eq(x, v).to(x.dtype());
      return Grads{mask * (g / sum(mask))};
    });
  }
  return out;
}

ValuesIndices max(const Tensor& x_in, int64_t dim, bool keepdim) {
  Tensor x = at_least_1d(x_in);
  int64_t d = detail::wrap_dim(dim, x_in.dim(), "max");
  WICK_CHECK_AS(IndexError, x.sizes()[size_t(d)] > 0, "max(): Expected reduction dim ", d,
                " to have non-zero size (sizes ", x_in.sizes(), ")");
  std::vector<bool> mask(size_t(x.dim()), false);
  mask[size_t(d)] = true;
  Shape keep = keepdim_sizes(x, mask);
  Tensor values = detail::make_empty(keep, x.dtype(), "max");
  Tensor indices = detail::make_empty(keep, DType::Int64, "max");
  kernels::max_dim(values, indices, x, d);
  Shape final_sizes = x_in.dim() == 0 ? Shape{} : keepdim ? keep : squeezed_sizes(x, mask);
  Tensor v = reshaped(values, final_sizes), i = reshaped(indices, final_sizes);
  if (needs_grad(x_in)) {
    record(v, "MaxBackward0", {x_in},
           [indices, keep, d, sizes = x_in.sizes(), xs = x.sizes()](const Tensor& g) {
             Tensor gi = zeros(xs, {.dtype = g.dtype()});
             kernels::scatter_dim(gi, d, indices, g.reshape(keep));
             return Grads{gi.reshape(sizes)};
           });
  }
  return {v, i};
}

Tensor argmax(const Tensor& x) {
  WICK_CHECK_AS(IndexError, x.numel() > 0,
                "argmax(): Expected reduction dim to be specified for input.numel() == 0 (sizes ",
                x.sizes(), ")");
  return full({}, kernels::argmax_all(x), {.dtype = DType::Int64});
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard no_grad;  // only the indices are wanted
  return max(x, dim, keepdim).indices;
}

// ---- matrix products --------------------------------------------------------

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_pair(a, b, "matmul");
  WICK_CHECK_AS(ShapeError, a.dim() >= 1 && b.dim() >= 1,
                "matmul: both arguments need to be at least 1D, but they are ", a.dim(), "D and ",
                b.dim(), "D");
  Tensor out = matmul_raw(a, b);
  if (needs_grad(a, b)) {
    record(out, matmul_node_name(a.dim(), b.dim()), {a, b},
           [a, b, ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
             // Work with the 1-D operands made 2-D, and the gradient shaped
             // like the full batched product.
             Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
             Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
             Shape full_sizes = detail::broadcast_shapes(
                 Shape(a2.sizes().begin(), a2.sizes().end() - 2),
                 Shape(b2.sizes().begin(), b2.sizes().end() - 2), "matmul");
             full_sizes.push_back(a2.sizes()[size_t(a2.dim() - 2)]);
             full_sizes.push_back(b2.sizes().back());
             Tensor g2 = g.reshape(full_sizes);
             Tensor ga, gb;
             if (ra)
               ga = sum_to(matmul_raw(g2, b2.transpose(-1, -2)), a2.sizes()).reshape(a.sizes());
             if (rb) {
               if (b2.dim() == 2 && a2.dim() > 2)  // folded forward: fold here too
                 gb = mm_raw(fold_rows(a2).t(), fold_rows(g2));
               else
                 gb = sum_to(matmul_raw(a2.transpose(-1, -2), g2), b2.sizes());
               gb = gb.reshape(b.sizes());
             }
             return Grads{ga, gb};
           });
  }
  return out;
}

Tensor addmm(const Tensor& input, const Tensor& m1, const Tensor& m2, Scalar beta, Scalar alpha) {
  check_pair(m1, m2, "addmm");
  check_pair(input, m1, "addmm");
  check_scalar(alpha, "addmm");
  check_scalar(beta, "addmm");
  WICK_CHECK_AS(ShapeError, m1.dim() == 2 && m2.dim() == 2,
                "addmm: mat1 and mat2 must be matrices, got ", m1.dim(), "-D and ", m2.dim(),
                "-D tensors (sizes ", m1.sizes(), " and ", m2.sizes(), ")");
  const int64_t m = m1.sizes()[0], k = m1.sizes()[1], n = m2.sizes()[1];
  WICK_CHECK_AS(ShapeError, k == m2.sizes()[0],
                "addmm: mat1 and mat2 shapes cannot be multiplied (", m, "x", k, " and ",
                m2.sizes()[0], "x", n, ")");
  Shape out_sizes{m, n};
  WICK_CHECK_AS(ShapeError,
                detail::broadcast_shapes(input.sizes(), out_sizes, "addmm") == out_sizes,
                "addmm: input of sizes ", input.sizes(),
                " cannot be broadcast to the product's sizes ", out_sizes);
  const double b = beta.to<double>(), a = alpha.to<double>();
  Tensor out = detail::make_empty(out_sizes, m1.dtype(), "addmm");
  if (b != 0) detail::copy_raw(out, input);
  kernels::matmul(out, m1, m2, a, b);
  if (needs_grad({&input, &m1, &m2})) {
    record(out, "AddmmBackward0", {input, m1, m2},
           [m1, m2, a, b, si = input.sizes(), ri = input.requires_grad(), r1 = m1.requires_grad(),
            r2 = m2.requires_grad()](const Tensor& g) {
             return Grads{ri ? sum_to(b == 1 ? g : g * b, si) : Tensor(),
                          r1 ? mm_raw(g, m2.t(), a) : Tensor(),
                          r2 ? mm_raw(m1.t(), g, a) : Tensor()};
           });
  }
  return out;
}

// ---- Tensor members ---------------------------------------------------------

Tensor Tensor::sum() const {
  return wick::sum(*this);
}
Tensor Tensor::sum(const Shape& dims, bool keepdim) const {
  return wick::sum(*this, dims, keepdim);
}
Tensor Tensor::mean() const {
  return wick::mean(*this);
}
Tensor Tensor::mean(const Shape& dims, bool keepdim) const {
  return wick::mean(*this, dims, keepdim);
}
Tensor Tensor::max() const {
  return wick::max(*this);
}
Tensor Tensor::argmax() const {
  return wick::argmax(*this);
}
Tensor Tensor::argmax(int64_t dim, bool keepdim) const {
  return wick::argmax(*this, dim, keepdim);
}
Tensor Tensor::relu() const {
  return wick::relu(*this);
}
Tensor Tensor::exp() const {
  return wick::exp(*this);
}
Tensor Tensor::log() const {
  return wick::log(*this);
}
Tensor Tensor::tanh() const {
  return wick::tanh(*this);
}
Tensor Tensor::sigmoid() const {
  return wick::sigmoid(*this);
}
Tensor Tensor::sqrt() const {
  return wick::sqrt(*this);
}
Tensor Tensor::pow(Scalar exponent) const {
  return wick::pow(*this, exponent);
}
Tensor Tensor::neg() const {
  return wick::neg(*this);
}
Tensor Tensor::abs() const {
  return wick::abs(*this);
}
Tensor Tensor::matmul(const Tensor& other) const {
  return wick::matmul(*this, other);
}

const Tensor& Tensor::add_(const Tensor& other, Scalar alpha) const {
  inplace_binary(*this, other, Binary::Add, "add_", alpha, true);
  return *this;
}

const Tensor& Tensor::add_(Scalar other) const {
  inplace_scalar(*this, other, Binary::Add, "add_", true);
  return *this;
}

const Tensor& Tensor::sub_(const Tensor& other, Scalar alpha) const {
  inplace_binary(*this, other, Binary::Sub, "sub_", alpha, true);
  return *this;
}

const Tensor& Tensor::mul_(const Tensor& other) const {
  inplace_binary(*this, other, Binary::Mul, "mul_", 1, true);
  return *this;
}

const Tensor& Tensor::mul_(Scalar other) const {
  inplace_scalar(*this, other, Binary::Mul, "mul_", true);
  return *this;
}

const Tensor& Tensor::div_(const Tensor& other) const {
  inplace_binary(*this, other, Binary::Div, "div_", 1, false);
  return *this;
}

const Tensor& Tensor::div_(Scalar other) const {
  inplace_scalar(*this, other, Binary::Div, "div_", false);
  return *this;
}

const Tensor& Tensor::addcmul_(const Tensor& t1, const Tensor& t2, Scalar value) const {
  inplace_addc(*this, t1, t2, value, false);
  return *this;
}

const Tensor& Tensor::addcdiv_(const Tensor& t1, const Tensor& t2, Scalar value) const {
  inplace_addc(*this, t1, t2, value, true);
  return *this;
}

}  // namespace wick
