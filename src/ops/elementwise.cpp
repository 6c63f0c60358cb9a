// Elementwise ops (wick/ops/elementwise.h) and Tensor's elementwise and
// in-place arithmetic members: argument checks, output allocation, the call
// into kernels/elementwise, and each op's backward rule. Backward rules run
// with grad mode off, so they freely call the public ops.
#include "wick/ops/elementwise.h"

#include <algorithm>

#include "autograd/internal.h"
#include "kernels/copy.h"
#include "kernels/elementwise.h"
#include "ops/internal.h"

namespace wick {

using namespace wick::detail;  // ops/internal.h
using kernels::Binary;
using kernels::Compare;
using kernels::Unary;

namespace {

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
  check_float(a, op);
  check_scalar(s, op);
  Tensor out = detail::make_empty(a.sizes(), a.dtype(), op);
  if (scalar_first)
    kernels::binary(k, out, s, a);
  else
    kernels::binary(k, out, a, s);
  return out;
}

Tensor unary_raw(Unary k, const char* op, const Tensor& x, double param = 0) {
  check_float(x, op);
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

// ---- in-place -----------------------------------------------------------------

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
  kernels::copy(copy, src);
  return copy;
}

/// Checks for in-place `self op= other`: grad rules, dtypes, and that other
/// broadcasts to self.
void check_inplace_args(const Tensor& self, const Tensor& other, const char* op, bool int_ok) {
  autograd::check_inplace(self, op);
  if (!(int_ok && is_integral(self.dtype()))) check_float(self, op);
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
    check_float(self, op);
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
  check_computable(t.dtype(), op);
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

// ---- activations ----------------------------------------------------------------

namespace {

/// An activation whose backward is a fused kernel of (grad, input).
Tensor activation(Unary k, Binary grad_k, const char* op, const char* node, const Tensor& x) {
  Tensor out = unary_raw(k, op, x);
  if (needs_grad(x)) {
    record(out, node, {x}, [grad_k, op, x = x.detach()](const Tensor& g) {
      return Grads{binary_raw(grad_k, op, g, x)};
    });
  }
  return out;
}

}  // namespace

Tensor relu6(const Tensor& x) {
  return activation(Unary::Relu6, Binary::Relu6Grad, "relu6", "HardtanhBackward0", x);
}

Tensor hardsigmoid(const Tensor& x) {
  return activation(Unary::Hardsigmoid, Binary::HardsigmoidGrad, "hardsigmoid",
                    "HardsigmoidBackward0", x);
}

Tensor hardswish(const Tensor& x) {
  return activation(Unary::Hardswish, Binary::HardswishGrad, "hardswish", "HardswishBackward0", x);
}

Tensor silu(const Tensor& x) {
  return activation(Unary::Silu, Binary::SiluGrad, "silu", "SiluBackward0", x);
}

Tensor gelu(const Tensor& x, std::string_view approximate) {
  WICK_CHECK(approximate == "none" || approximate == "tanh",
             "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  if (approximate == "tanh")
    return activation(Unary::GeluTanh, Binary::GeluTanhGrad, "gelu", "GeluBackward0", x);
  return activation(Unary::Gelu, Binary::GeluGrad, "gelu", "GeluBackward0", x);
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

// ---- Tensor members -----------------------------------------------------------

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
