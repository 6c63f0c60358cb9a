// Tensor math: elementwise arithmetic with broadcasting, comparisons, unary
// functions, reductions and matrix products. The counterparts of `torch.*`.
//
// All differentiable functions here record their backward rule when an input
// requires grad (float32 and float64; the math kernels compute in those two
// dtypes). Binary operations broadcast like NumPy and PyTorch; mixing a tensor
// with a Scalar keeps the tensor's dtype. Tensors of different dtypes must be
// converted explicitly (`to`), except that comparisons accept any pair.
#pragma once

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
/// Selects a where cond is true, else b (broadcasting; differentiable in a, b).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- reductions -----------------------------------------------------------
/// Sum of all elements (0-dim) or over `dims` (differentiable).
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
/// Largest element (0-dim; differentiable, gradient split evenly among ties
/// as PyTorch does).
Tensor max(const Tensor& x);
/// Largest values along `dim` and their indices (int64); `values` is
/// differentiable (gradient to the index returned).
struct ValuesIndices {
  Tensor values;
  Tensor indices;
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
/// Index of the largest element (first one on ties), int64.
Tensor argmax(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

// ---- matrix products (BLAS; differentiable) -------------------------------
/// torch.matmul: 1-D/2-D products and batched products with broadcasting of
/// batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
/// beta * input + alpha * (m1 @ m2); m1, m2 2-D, input broadcast to the result.
Tensor addmm(const Tensor& input, const Tensor& m1, const Tensor& m2, Scalar beta = 1,
             Scalar alpha = 1);

}  // namespace wick
