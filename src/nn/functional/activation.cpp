// softmax and log_softmax: argument checks, the call into
// kernels/softmax_loss and the backward rules.
#include "wick/nn/functional/activation.h"

#include "kernels/softmax_loss.h"
#include "nn/functional/internal.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

namespace {

Tensor softmax_impl(const Tensor& input, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_input(input, op);
  const int64_t nd = std::max<int64_t>(input.dim(), 1);
  dim = detail::wrap_dim(dim, nd, op);
  int64_t outer = 1, size = 1, inner = 1;
  for (int64_t d = 0; d < input.dim(); ++d) {
    if (d < dim) outer *= input.size(d);
    if (d == dim) size = input.size(d);
    if (d > dim) inner *= input.size(d);
  }
  Tensor x = kernels::contiguous(input);
  Tensor out = make_empty(input.sizes(), input.dtype(), op);
  visit_float(input.dtype(), [&]<class T>() {
    kernels::softmax_forward<T>(x.data<T>(), out.data<T>(), outer, size, inner, log);
  });
  if (autograd::needs_grad(input)) {
    autograd::record(out, log ? "LogSoftmaxBackward0" : "SoftmaxBackward0", {input},
                     [y = out.detach(), outer, size, inner, log](const Tensor& grad) {
                       Tensor g = grad_as(grad, y.dtype());
                       Tensor gx = make_empty(y.sizes(), y.dtype());
                       visit_float(y.dtype(), [&]<class T>() {
                         kernels::softmax_backward<T>(g.data<T>(), y.data<T>(), gx.data<T>(), outer,
                                                      size, inner, log);
                       });
                       return std::vector<Tensor>{gx};
                     });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& input, int64_t dim) {
  return softmax_impl(input, dim, false);
}

Tensor log_softmax(const Tensor& input, int64_t dim) {
  return softmax_impl(input, dim, true);
}

}  // namespace wick::nn::functional
