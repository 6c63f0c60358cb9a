// Finite-difference gradient checking over the public Tensor API only: the
// checker must not share code paths with the kernels it is meant to catch.
#include "wick/autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <utility>

#include "wick/autograd/grad_mode.h"
#include "wick/autograd/graph.h"

namespace wick::autograd {

namespace {

Shape unravel(int64_t flat, const Shape& sizes) {
  Shape idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return idx;
}

/// True when two indices of t reach the same element. Perturbing one element
/// would then move several logical elements at once, and the numeric
/// derivative would be the sum of their gradients (PyTorch refuses these too).
bool has_overlap(const Tensor& t) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size) of dims that move
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.sizes()[size_t(d)] > 1) dims.emplace_back(t.strides()[size_t(d)], t.sizes()[size_t(d)]);
  std::sort(dims.begin(), dims.end());
  int64_t reach = 0;  // largest offset the smaller-stride dims reach
  for (auto [stride, size] : dims) {
    if (stride <= reach) return true;
    reach += stride * (size - 1);
  }
  return false;
}

/// Sets one element and puts the old value back when it goes out of scope,
/// so inputs are restored even when `fn` throws.
class Perturbation {
 public:
  Perturbation(const Tensor& t, Shape index) : t_(t), index_(std::move(index)) {
    original_ = t_.at(index_).to<double>();
  }
  ~Perturbation() { t_.set(index_, original_); }
  Perturbation(const Perturbation&) = delete;
  Perturbation& operator=(const Perturbation&) = delete;
  void set(double delta) const { t_.set(index_, original_ + delta); }

 private:
  Tensor t_;
  Shape index_;
  double original_ = 0;
};

std::vector<double> evaluate(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  return fn(inputs).to_vector<double>();
}

/// One Jacobian entry that fails the tolerance, with how badly it fails.
struct Mismatch {
  double excess = -1;  // |a - n| - (atol + rtol |n|); +inf for NaNs
  size_t input = 0;
  int64_t element = 0, output = 0;
  double analytic = 0, numeric = 0;
};

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  WICK_CHECK(options.eps > 0, "gradcheck: eps must be positive (got ", options.eps, ")");
  std::vector<size_t> checked;
  std::vector<Tensor> checked_tensors;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    WICK_CHECK_AS(DTypeError, x.dtype() == DType::Float64, "gradcheck: input ", k,
                  " requires grad but is ", x.dtype(), "; finite differences need float64 inputs");
    WICK_CHECK(!has_overlap(x), "gradcheck: input ", k, " (sizes ", x.sizes(), ", strides ",
               x.strides(), ") has elements that share memory (e.g. from expand); pass a clone()");
    checked.push_back(k);
    checked_tensors.push_back(x);
  }
  WICK_CHECK(!checked.empty(), "gradcheck: none of the ", inputs.size(),
             " inputs requires grad; nothing to check");

  Tensor out;
  {
    EnableGradGuard grad_on;
    out = fn(inputs);
  }
  WICK_CHECK(out.defined(), "gradcheck: the function returned an undefined tensor");
  WICK_CHECK_AS(DTypeError, out.dtype() == DType::Float64, "gradcheck: the function returned a ",
                out.dtype(), " tensor; finite differences need float64 outputs");
  const int64_t n_out = out.numel();

  // analytic[k][j * n_in + i] = d out[j] / d input_k[i].
  std::vector<std::vector<double>> analytic(checked.size());
  for (size_t c = 0; c < checked.size(); ++c)
    analytic[c].assign(size_t(n_out * checked_tensors[c].numel()), 0.0);
  if (out.requires_grad()) {
    for (int64_t j = 0; j < n_out; ++j) {
      Tensor seed = zeros(out.sizes(), {.dtype = DType::Float64});
      seed.set(unravel(j, out.sizes()), 1.0);
      std::vector<Tensor> grads = grad({out}, checked_tensors, {seed}, /*retain_graph=*/true);
      for (size_t c = 0; c < checked.size(); ++c) {
        if (!grads[c].defined()) continue;  // does not depend on this input: zeros
        const Tensor& x = checked_tensors[c];
        if (grads[c].sizes() != x.sizes()) {
          std::ostringstream m;
          m << "gradcheck: the gradient of input " << checked[c] << " has sizes "
            << grads[c].sizes() << " but the input has sizes " << x.sizes();
          return {false, m.str()};
        }
        std::vector<double> g = grads[c].to_vector<double>();
        std::copy(g.begin(), g.end(), analytic[c].begin() + j * x.numel());
      }
    }
  }

  Mismatch worst;
  int64_t n_bad = 0, n_total = 0;
  for (size_t c = 0; c < checked.size(); ++c) {
    const Tensor& x = checked_tensors[c];
    const int64_t n_in = x.numel();
    for (int64_t i = 0; i < n_in; ++i) {
      std::vector<double> plus, minus;
      {
        Perturbation p(x, unravel(i, x.sizes()));
        p.set(options.eps);
        plus = evaluate(fn, inputs);
        p.set(-options.eps);
        minus = evaluate(fn, inputs);
      }
      WICK_CHECK(int64_t(plus.size()) == n_out && int64_t(minus.size()) == n_out,
                 "gradcheck: the output changed size when input ", checked[c], " was perturbed");
      for (int64_t j = 0; j < n_out; ++j) {
        double num = (plus[size_t(j)] - minus[size_t(j)]) / (2 * options.eps);
        double ana = analytic[c][size_t(j * n_in + i)];
        double excess = std::abs(ana - num) - (options.atol + options.rtol * std::abs(num));
        if (std::isnan(ana) || std::isnan(num)) excess = std::numeric_limits<double>::infinity();
        ++n_total;
        if (!(excess > 0)) continue;
        ++n_bad;
        if (excess > worst.excess) worst = {excess, checked[c], i, j, ana, num};
      }
    }
  }

  std::ostringstream m;
  m.precision(10);
  if (n_bad == 0) {
    m << "gradcheck: ok (" << n_total << " Jacobian entries over " << checked.size()
      << " inputs within atol " << options.atol << " + rtol " << options.rtol << ")";
    return {true, m.str()};
  }
  const Tensor& x = inputs[worst.input];
  m << "gradcheck: Jacobian mismatch for input " << worst.input << " (sizes " << x.sizes()
    << ") at element " << unravel(worst.element, x.sizes()) << " (flat " << worst.element
    << "), output element " << unravel(worst.output, out.sizes()) << " (flat " << worst.output
    << "): analytic " << worst.analytic << " vs numeric " << worst.numeric << " (|diff| "
    << std::abs(worst.analytic - worst.numeric) << " > atol " << options.atol << " + rtol "
    << options.rtol << " * |numeric|); " << n_bad << " of " << n_total << " entries differ";
  return {false, m.str()};
}

}  // namespace wick::autograd
