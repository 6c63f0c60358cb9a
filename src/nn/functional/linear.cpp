// linear: input @ weight.T + bias as one GEMM over all rows, and its
// backward rule.
#include "wick/nn/functional/linear.h"

#include "kernels/blas.h"
#include "nn/functional/internal.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

namespace {

/// C = A·B (op() per the flags) over contiguous row-major matrices, also for
/// empty ones, which BLAS does not accept.
template <class T>
void matmul_raw(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, const T* b, T beta,
                T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == T(0)) std::fill(c, c + m * n, T(0));
    return;
  }
  kernels::gemm(ta, tb, m, n, k, T(1), a, ta ? m : k, b, tb ? k : n, beta, c, n);
}

}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  const char* op = "linear";
  check_input(input, op);
  check_defined(weight, op, "weight");
  check_same_dtype(weight, input, op, "weight");
  check_same_dtype(bias, input, op, "bias");
  WICK_CHECK_AS(ShapeError, weight.dim() == 2, op,
                ": expected weight of 2 dims [out, in] but got sizes ", weight.sizes());
  WICK_CHECK_AS(ShapeError, input.dim() >= 1 && input.size(-1) == weight.size(1), op,
                ": input of sizes ", input.sizes(), " does not fit weight of sizes ",
                weight.sizes(), " (the last input size must equal weight.size(1))");
  const int64_t f_in = weight.size(1), f_out = weight.size(0);
  check_vector(bias, f_out, op, "bias");
  const int64_t rows =
      detail::checked_numel(Shape(input.sizes().begin(), input.sizes().end() - 1), op);
  Shape out_sizes = input.sizes();
  out_sizes.back() = f_out;

  Tensor x = kernels::contiguous(input), w = kernels::contiguous(weight),
         b = contiguous_or_undefined(bias);
  Tensor out = make_empty(out_sizes, input.dtype(), op);
  visit_float(input.dtype(), [&]<class T>() {
    T* y = out.data<T>();
    if (b.defined()) {
      const T* pb = b.data<T>();
      for (int64_t r = 0; r < rows; ++r) std::copy(pb, pb + f_out, y + r * f_out);
    }
    matmul_raw<T>(false, true, rows, f_out, f_in, x.data<T>(), w.data<T>(),
                  b.defined() ? T(1) : T(0), y);
  });

  if (autograd::needs_grad({&input, &weight, &bias})) {
    const bool need_x = input.requires_grad(), need_w = weight.requires_grad();
    const bool need_b = wants_grad(bias);
    record_optional(out, bias.defined() ? "AddmmBackward0" : "MmBackward0", {input, weight, bias},
                    [rows, f_in, f_out, need_x, need_w, need_b, x = x.detach(), w = w.detach(),
                     in_sizes = input.sizes()](const Tensor& grad) {
                      Tensor g = grad_as(grad, x.dtype());
                      Tensor gx, gw, gb;
                      visit_float(x.dtype(), [&]<class T>() {
                        if (need_x) {
                          gx = make_empty(in_sizes, x.dtype());
                          matmul_raw<T>(false, false, rows, f_in, f_out, g.data<T>(), w.data<T>(),
                                        T(0), gx.data<T>());
                        }
                        if (need_w) {
                          gw = make_empty({f_out, f_in}, x.dtype());
                          matmul_raw<T>(true, false, f_out, f_in, rows, g.data<T>(), x.data<T>(),
                                        T(0), gw.data<T>());
                        }
                        if (need_b) {
                          gb = make_empty({f_out}, x.dtype());
                          std::vector<double> acc(size_t(f_out), 0.0);
                          const T* pg = g.data<T>();
                          for (int64_t r = 0; r < rows; ++r)
                            for (int64_t j = 0; j < f_out; ++j) acc[size_t(j)] += pg[r * f_out + j];
                          std::copy(acc.begin(), acc.end(), gb.data<T>());
                        }
                      });
                      return std::vector<Tensor>{gx, gw, gb};
                    });
  }
  return out;
}

}  // namespace wick::nn::functional
