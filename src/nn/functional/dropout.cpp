// dropout: the mask drawn from a Generator, and its backward rule;
// stochastic_depth: a broadcast mask and the differentiable mul.
#include "wick/nn/functional/dropout.h"

#include "nn/functional/internal.h"
#include "wick/ops/elementwise.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

Tensor dropout(const Tensor& input, double p, bool training, Generator* gen) {
  const char* op = "dropout";
  check_input(input, op);
  WICK_CHECK(p >= 0 && p <= 1, op, ": dropout probability has to be between 0 and 1, but got ", p);
  if (!training || p == 0) return input;
  Tensor x = kernels::contiguous(input);
  Tensor out = make_empty(input.sizes(), input.dtype(), op);
  // The mask holds 0 or 1 / (1 - p): backward is one multiplication.
  Tensor mask = make_empty(input.sizes(), input.dtype(), op);
  Generator& g = gen ? *gen : default_generator();
  visit_float(input.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* py = out.data<T>();
    T* pm = mask.data<T>();
    const int64_t numel = x.numel();
    if (p == 1) {
      std::fill(pm, pm + numel, T(0));
    } else {
      const T scale = T(1 / (1 - p)), keep = T(1 - p);
      for (int64_t i = 0; i < numel; ++i) {
        T u;
        if constexpr (std::is_same_v<T, float>)
          u = g.uniform_float();
        else
          u = g.uniform_double();
        pm[i] = u < keep ? scale : T(0);
      }
    }
    for (int64_t i = 0; i < numel; ++i) py[i] = px[i] * pm[i];
  });
  if (autograd::needs_grad(input)) {
    autograd::record(out, p == 1 ? "MulBackward0" : "NativeDropoutBackward0", {input},
                     [mask](const Tensor& grad) {
                       Tensor g = grad_as(grad, mask.dtype());
                       Tensor gx = make_empty(mask.sizes(), mask.dtype());
                       visit_float(mask.dtype(), [&]<class T>() {
                         const T* pg = g.data<T>();
                         const T* pm = mask.data<T>();
                         T* po = gx.data<T>();
                         for (int64_t i = 0, e = gx.numel(); i < e; ++i) po[i] = pg[i] * pm[i];
                       });
                       return std::vector<Tensor>{gx};
                     });
  }
  return out;
}

Tensor stochastic_depth(const Tensor& input, double p, std::string_view mode, bool training,
                        Generator* gen) {
  const char* op = "stochastic_depth";
  check_input(input, op);
  WICK_CHECK(p >= 0 && p <= 1, op, ": drop probability has to be between 0 and 1, but got ", p);
  WICK_CHECK(mode == "row" || mode == "batch", op,
             ": mode has to be either 'batch' or 'row', but got ", mode);
  if (!training || p == 0) return input;
  Shape size(size_t(input.dim()), 1);
  if (mode == "row" && input.dim() > 0) size[0] = input.size(0);
  const double survival = 1 - p;
  Tensor noise = make_empty(size, input.dtype(), op);
  Generator& g = gen ? *gen : default_generator();
  visit_float(input.dtype(), [&]<class T>() {
    // torchvision: bernoulli(survival), then divided by survival unless it is 0.
    const T keep = survival > 0 ? T(1 / survival) : T(0);
    T* pn = noise.data<T>();
    for (int64_t i = 0, e = noise.numel(); i < e; ++i)
      pn[i] = g.uniform_double() < survival ? keep : T(0);
  });
  return input * noise;
}

}  // namespace wick::nn::functional
