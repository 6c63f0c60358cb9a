// Losses: argument checks, the calls into kernels/softmax_loss and the
// backward rules.
#include "wick/nn/functional/loss.h"

#include "kernels/softmax_loss.h"
#include "nn/functional/internal.h"
#include "wick/autograd/grad_mode.h"
#include "wick/nn/functional/activation.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

namespace {

void check_target_dtype(const Tensor& target, const char* op) {
  check_defined(target, op, "target");
  WICK_CHECK_AS(DTypeError, target.dtype() == DType::Int64, op,
                ": expected target of dtype int64 (class indices) but got ", target.dtype());
}

/// nll_loss under the name `op` (nll_loss or cross_entropy).
Tensor nll_loss_impl(const Tensor& input, const Tensor& target, const Tensor& weight,
                     int64_t ignore_index, Reduction reduction, const char* op) {
  check_input(input, op);
  check_target_dtype(target, op);
  check_same_dtype(weight, input, op, "weight");
  WICK_CHECK_AS(ShapeError, input.dim() >= 1, op,
                ": expected input of sizes [C], [N, C] or [N, C, d1, ...] but got sizes ",
                input.sizes());
  // Unbatched input [C] with a 0-dim target is one sample of a batch.
  const bool unbatched = input.dim() == 1;
  Shape target_sizes;
  if (!unbatched) {
    target_sizes = input.sizes();
    target_sizes.erase(target_sizes.begin() + 1);
  }
  WICK_CHECK_AS(ShapeError, target.sizes() == target_sizes, op, ": expected target of sizes ",
                target_sizes, " for input of sizes ", input.sizes(), " but got sizes ",
                target.sizes());
  const int64_t n = unbatched ? 1 : input.size(0), c = unbatched ? input.size(0) : input.size(1);
  const int64_t s = n * c == 0 ? 0 : input.numel() / (n * c);
  check_vector(weight, c, op, "weight");
  WICK_CHECK(!(GradMode::is_enabled() && wants_grad(weight)), op,
             ": the derivative for 'weight' is not implemented");

  Tensor t = kernels::contiguous(target);
  const int64_t* pt = t.data<int64_t>();
  for (int64_t i = 0, e = t.numel(); i < e; ++i)
    WICK_CHECK_AS(IndexError, pt[i] == ignore_index || (pt[i] >= 0 && pt[i] < c), op, ": target ",
                  pt[i], " is out of bounds for ", c, " classes");

  Tensor x = kernels::contiguous(input), w = contiguous_or_undefined(weight);
  Tensor out = reduction == Reduction::None ? make_empty(target.sizes(), input.dtype(), op)
                                            : make_empty({}, input.dtype(), op);
  double total_weight = 0;
  visit_float(input.dtype(), [&]<class T>() {
    T* po = reduction == Reduction::None ? out.data<T>() : nullptr;
    double total = kernels::nll_loss_forward<T>(x.data<T>(), pt, ptr_or_null<T>(w), n, c, s,
                                                ignore_index, po, total_weight);
    if (reduction == Reduction::Sum) out.data<T>()[0] = T(total);
    // 0 / 0 gives NaN when every target is ignored, as in PyTorch.
    if (reduction == Reduction::Mean) out.data<T>()[0] = T(total / total_weight);
  });
  if (autograd::needs_grad(input)) {
    const double scale = reduction == Reduction::Mean ? 1 / total_weight : 1.0;
    autograd::record(
        out, "NllLossBackward0", {input},
        [t, w, n, c, s, ignore_index, scale, per_element = reduction == Reduction::None,
         in_sizes = input.sizes(), dtype = input.dtype()](const Tensor& grad) {
          Tensor g = grad_as(grad, dtype);
          Tensor gx = make_empty(in_sizes, dtype);
          visit_float(dtype, [&]<class T>() {
            kernels::nll_loss_backward<T>(g.data<T>(), per_element, scale, t.data<int64_t>(),
                                          ptr_or_null<T>(w), n, c, s, ignore_index, gx.data<T>());
          });
          return std::vector<Tensor>{gx};
        });
  }
  return out;
}

}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                int64_t ignore_index, Reduction reduction) {
  return nll_loss_impl(input, target, weight, ignore_index, reduction, "nll_loss");
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                     int64_t ignore_index, Reduction reduction) {
  const char* op = "cross_entropy";
  check_input(input, op);
  check_target_dtype(target, op);
  WICK_CHECK_AS(ShapeError, input.dim() >= 1, op,
                ": expected input of sizes [C], [N, C] or [N, C, d1, ...] but got sizes ",
                input.sizes());
  Tensor logp = log_softmax(input, input.dim() == 1 ? 0 : 1);
  return nll_loss_impl(logp, target, weight, ignore_index, reduction, op);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  const char* op = "mse_loss";
  check_input(input, op);
  check_defined(target, op, "target");
  check_same_dtype(target, input, op, "target");
  WICK_CHECK_AS(ShapeError, input.sizes() == target.sizes(), op, ": input of sizes ", input.sizes(),
                " and target of sizes ", target.sizes(), " differ");
  Tensor x = kernels::contiguous(input), t = kernels::contiguous(target);
  Tensor diff = make_empty(input.sizes(), input.dtype(), op);
  Tensor out = reduction == Reduction::None ? make_empty(input.sizes(), input.dtype(), op)
                                            : make_empty({}, input.dtype(), op);
  const int64_t numel = x.numel();
  visit_float(input.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    const T* pt = t.data<T>();
    T* pd = diff.data<T>();
    double total = 0;
    for (int64_t i = 0; i < numel; ++i) {
      pd[i] = px[i] - pt[i];
      total += double(pd[i]) * pd[i];
    }
    if (reduction == Reduction::None) {
      T* po = out.data<T>();
      for (int64_t i = 0; i < numel; ++i) po[i] = pd[i] * pd[i];
    } else {
      out.data<T>()[0] = T(reduction == Reduction::Mean ? total / double(numel) : total);
    }
  });
  if (autograd::needs_grad(input, target)) {
    const bool need_x = input.requires_grad(), need_t = target.requires_grad();
    const double scale = reduction == Reduction::Mean ? 2.0 / double(numel) : 2.0;
    autograd::record(out, "MseLossBackward0", {input, target},
                     [diff, scale, need_x, need_t,
                      per_element = reduction == Reduction::None](const Tensor& grad) {
                       Tensor g = grad_as(grad, diff.dtype());
                       Tensor gx = make_empty(diff.sizes(), diff.dtype());
                       visit_float(diff.dtype(), [&]<class T>() {
                         const T* pg = g.data<T>();
                         const T* pd = diff.data<T>();
                         T* po = gx.data<T>();
                         const T g0 = per_element ? T(0) : T(double(pg[0]) * scale);
                         for (int64_t i = 0, e = gx.numel(); i < e; ++i)
                           po[i] = per_element ? T(scale) * pd[i] * pg[i] : g0 * pd[i];
                       });
                       Tensor gt;
                       if (need_t) {
                         gt = make_empty(gx.sizes(), gx.dtype());
                         visit_float(gx.dtype(), [&]<class T>() {
                           const T* p = gx.data<T>();
                           T* q = gt.data<T>();
                           for (int64_t i = 0, e = gx.numel(); i < e; ++i) q[i] = -p[i];
                         });
                       }
                       return std::vector<Tensor>{need_x ? gx : Tensor(), gt};
                     });
  }
  return out;
}

}  // namespace wick::nn::functional
