// Elementwise math: arithmetic with broadcasting, comparisons and unary
// functions, the counterparts of torch.add, torch.eq, torch.relu, torch.where
// and Python's operators on tensors.
//
// Differentiable functions record their backward rule when an input requires
// grad (float32 and float64; the math kernels compute in those two dtypes).
// Binary operations broadcast like NumPy and PyTorch; mixing a tensor with a
// Scalar keeps the tensor's dtype. Tensors of different dtypes must be
// converted explicitly (`to`), except that comparisons accept any pair.
// Defined in src/ops/elementwise.cpp.
#pragma once

#include <string_view>

#include "wick/core/tensor.h"

namespace wick {

// ---- elementwise binary (broadcasting; differentiable) --------------------
Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = 1);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha = 1);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
/// Elementwise a ** b.
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, Scalar exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& a);

// ---- comparisons (broadcasting; result is bool; not differentiable) -------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, Scalar b);
Tensor gt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, Scalar b);
/// True when sizes match and every element pair is equal (any dtypes).
bool equal(const Tensor& a, const Tensor& b);
/// |a - b| <= atol + rtol * |b| everywhere (NaNs unequal).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

// ---- elementwise unary (differentiable) -----------------------------------
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor sqrt(const Tensor& x);

// ---- activations (elementwise; differentiable) ----------------------------
// Gradients at the kinks are PyTorch's: relu6' is 0 at 0 and 6, hardsigmoid'
// is 0 at -3 and 3, hardswish' is -0.5 at -3 and 1.5 at 3.

/// F.relu6: min(max(x, 0), 6).
Tensor relu6(const Tensor& x);
/// F.hardsigmoid: min(max(x + 3, 0), 6) / 6.
Tensor hardsigmoid(const Tensor& x);
/// F.hardswish: x * hardsigmoid(x).
Tensor hardswish(const Tensor& x);
/// F.silu: x * sigmoid(x).
Tensor silu(const Tensor& x);
/// F.gelu: x * Phi(x) with `approximate` "none" (Phi through erf) or "tanh"
/// (0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))).
Tensor gelu(const Tensor& x, std::string_view approximate = "none");

/// Selects a where cond is true, else b (broadcasting; differentiable in a, b).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

}  // namespace wick
