// tensor_basics: a first tour of wick — tensors, views, broadcasting and
// autograd, ending with a tiny linear regression fitted by hand-written SGD.
//
//   build/bin/tensor_basics

#include <cmath>
#include <cstdio>
#include <iostream>

#include "wick/wick.h"

int main() {
  try {
    wick::manual_seed(0);

    // ---- tensors and views --------------------------------------------------
    wick::Tensor a = wick::arange(6, wick::DType::Float32).view({2, 3});
    std::cout << "a = arange(6).view({2, 3}):\n" << a << "\n";

    // A view shares a's storage: writing through it changes a.
    wick::Tensor at = a.t();
    std::cout << std::boolalpha << "a.t() shares a's storage: " << (at.storage() == a.storage())
              << ", is contiguous: " << at.is_contiguous() << "\n";
    at.select(0, 1).fill_(-1.0);
    std::cout << "after a.t()[1].fill_(-1):\n" << a << "\n";

    // Arithmetic broadcasts like NumPy and PyTorch.
    wick::Tensor row = wick::tensor<float>({10, 20, 30});
    std::cout << "a + [10, 20, 30]:\n" << a + row << "\n";
    std::cout << "a.sum({0}) = " << a.sum({0}) << ", a.mean() = " << a.mean() << "\n\n";

    // ---- autograd: fit y = 3x + 2 ---------------------------------------------
    wick::Tensor x = (wick::arange(-10, 10, 1, wick::DType::Float32) / 10.0).unsqueeze(1);
    wick::Tensor y = 3.0 * x + 2.0 + 0.01 * wick::randn({20, 1});

    wick::Tensor w = wick::zeros({1}, {.requires_grad = true});
    wick::Tensor b = wick::zeros({1}, {.requires_grad = true});
    const double lr = 0.3;
    for (int step = 0; step <= 100; ++step) {
      wick::Tensor loss = wick::nn::functional::mse_loss(x * w + b, y);
      if (step == 0) std::cout << "loss is made by " << loss.grad_fn()->name() << "\n";
      loss.backward();
      {
        wick::NoGradGuard no_grad;  // the update itself is not part of the graph
        w.sub_(w.grad(), lr);
        b.sub_(b.grad(), lr);
      }
      w.set_grad(wick::Tensor());
      b.set_grad(wick::Tensor());
      if (step % 20 == 0) {
        std::printf("step %3d  loss %.6f  w %.4f  b %.4f\n", step, loss.item<double>(),
                    w.item<double>(), b.item<double>());
      }
    }
    const double w_fit = w.item<double>(), b_fit = b.item<double>();
    std::printf("fitted y = %.3f x + %.3f  (data: y = 3x + 2 + noise)\n", w_fit, b_fit);
    if (std::abs(w_fit - 3) > 0.05 || std::abs(b_fit - 2) > 0.05) {
      std::cerr << "tensor_basics: error: the fit did not converge\n";
      return 1;
    }
    return 0;
  } catch (const wick::Error& e) {
    std::cerr << "tensor_basics: error: " << e.what() << "\n";
    return 1;
  }
}
