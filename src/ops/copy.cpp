// Tensor's copy members (contiguous, clone, to, copy_, fill_): argument
// checks, the copy and fill kernels (kernels/copy), and the backward rules of
// the differentiable ones.
#include "kernels/copy.h"
#include "autograd/internal.h"
#include "core/layout.h"

namespace wick {

using autograd::record;

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = detail::make_empty(sizes(), dtype(), "clone");
  kernels::copy(out, *this);
  record(out, "CloneBackward0", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::to(DType dt, bool copy) const {
  if (dt == dtype() && !copy) return *this;
  Tensor out = detail::make_empty(sizes(), dt, "to");
  kernels::copy(out, *this);
  if (is_floating_point(dt) || is_complex(dt)) {
    record(out, "ToCopyBackward0", {*this},
           [src = dtype()](const Tensor& g) { return std::vector<Tensor>{g.to(src)}; });
  }
  return out;
}

const Tensor& Tensor::fill_(Scalar value) const {
  autograd::check_inplace(*this, "fill_");
  kernels::fill(*this, value);
  return *this;
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  autograd::check_inplace(*this, "copy_");
  WICK_CHECK(!autograd::needs_grad(src),
             "copy_: copying from a tensor that requires grad is not "
             "differentiable in wick; detach() the source or use NoGradGuard");
  if (src.storage() == storage()) {
    kernels::copy(*this, src.clone());  // may overlap: go through a temporary
  } else {
    kernels::copy(*this, src);
  }
  return *this;
}

}  // namespace wick
