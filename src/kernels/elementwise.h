// Internal: elementwise CPU kernels (arithmetic, unary functions, comparisons,
// where, fused helpers for backward rules). No autograd, no argument checks
// beyond internal invariants: src/ops/elementwise.cpp checks dtypes and shapes
// and allocates outputs, then calls these.
//
// Inputs are broadcast to the output's sizes; any operand may be strided. The
// output may be one of the inputs (in-place ops) but must not otherwise overlap
// them. Arithmetic runs in float32 and float64; add/sub/mul also in integer
// dtypes (for in-place updates of integer buffers).
#pragma once

#include <cstdint>

#include "wick/core/tensor.h"

namespace wick::kernels {

enum class Binary : uint8_t {
  Add,  // a + alpha * b
  Sub,  // a - alpha * b
  Mul,
  Div,
  Pow,
  Maximum,  // NaN-propagating
  Minimum,
  // Fused backward helpers (a is the incoming gradient unless noted).
  ReluGrad,     // b <= 0 ? 0 : a               (b: relu's output)
  SigmoidGrad,  // a * b * (1 - b)              (b: sigmoid's output)
  TanhGrad,     // a * (1 - b * b)              (b: tanh's output)
  PowBaseGrad,  // b == 0 ? 0 : b * a^(b - 1)   (a: base, b: exponent)
  PowExpGrad,   // a == 0 && b >= 0 ? 0 : a^b * log(a)   (a: base, b: exponent)
  // Activation gradients: a is the incoming gradient, b the activation's input.
  Relu6Grad,        // b <= 0 || b >= 6 ? 0 : a
  HardsigmoidGrad,  // -3 < b < 3 ? a / 6 : 0
  HardswishGrad,    // b < -3 ? 0 : b <= 3 ? a * (b / 3 + 0.5) : a
  SiluGrad,         // a * s * (1 + b * (1 - s)), s = sigmoid(b)
  GeluGrad,         // a * (Phi(b) + b * phi(b))   (erf form)
  GeluTanhGrad,     // derivative of the tanh approximation
};

enum class Unary : uint8_t {
  Neg,
  Abs,
  Relu,
  Exp,
  Log,
  Tanh,
  Sigmoid,
  Sqrt,
  Sign,         // -1, 0 or 1 (NaN stays NaN)
  Pow,          // x ^ param
  Relu6,        // min(max(x, 0), 6)
  Hardsigmoid,  // min(max(x + 3, 0), 6) / 6
  Hardswish,    // x * hardsigmoid(x)
  Silu,         // x * sigmoid(x)
  Gelu,         // x * Phi(x), Phi the standard normal CDF (via erf)
  GeluTanh,     // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
};

enum class Compare : uint8_t { Eq, Ne, Lt, Le, Gt, Ge };

/// out = op(a, b) with a, b broadcast to out's sizes; all three of one dtype.
void binary(Binary op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha = 1);
/// out = op(a, b) with b a number converted to out's dtype.
void binary(Binary op, const Tensor& out, const Tensor& a, Scalar b);
/// out = op(a, b) with a a number converted to out's dtype.
void binary(Binary op, const Tensor& out, Scalar a, const Tensor& b);

/// out = op(x) (same dtype); `param` is the exponent of Unary::Pow.
void unary(Unary op, const Tensor& out, const Tensor& x, double param = 0);

/// out (bool) = a <op> b, broadcast. Same-dtype real inputs compare natively,
/// anything else in float64.
void compare(Compare op, const Tensor& out, const Tensor& a, const Tensor& b);
void compare(Compare op, const Tensor& out, const Tensor& a, Scalar b);

/// out = cond ? a : b (cond bool or uint8; a, b and out of one dtype).
void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);

/// out = a + value * b * c (or a + value * b / c with `divide`).
void addcmul(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, Scalar value,
             bool divide);

/// True when |a - b| <= atol + rtol * |b| for every broadcast pair (any real
/// dtypes, compared in float64; NaN is never close; equal infinities are).
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol);

}  // namespace wick::kernels
