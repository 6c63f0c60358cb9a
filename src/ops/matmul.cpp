// Matrix products (wick/ops/matmul.h): argument checks, how torch.matmul's
// 1-D and batched cases map onto GEMMs (kernels/matmul), and their backward
// rules.
#include "wick/ops/matmul.h"

#include <algorithm>

#include "kernels/copy.h"
#include "kernels/matmul.h"
#include "ops/internal.h"
#include "wick/autograd/graph.h"
#include "wick/ops/elementwise.h"

namespace wick {

using namespace wick::detail;  // ops/internal.h

namespace {

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
  Tensor cont = kernels::contiguous(t);
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

}  // namespace

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
  if (b != 0) kernels::copy(out, input);
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

// ---- Tensor members -----------------------------------------------------------

Tensor Tensor::matmul(const Tensor& other) const {
  return wick::matmul(*this, other);
}

}  // namespace wick
