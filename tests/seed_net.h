// The recipe's network ("What is a state_dict"), for tests that train it.
// PyTorch's side of such tests defines the same layers in the same order.
#pragma once

#include "wick/wick.h"

namespace wick::testing {

struct SeedNet : nn::Module {
  nn::Conv2d& conv1 = register_module("conv1", nn::Conv2d(3, 6, 5));
  nn::MaxPool2d& pool = register_module("pool", nn::MaxPool2d(2, 2));
  nn::Conv2d& conv2 = register_module("conv2", nn::Conv2d(6, 16, 5));
  nn::Linear& fc1 = register_module("fc1", nn::Linear(16 * 5 * 5, 120));
  nn::Linear& fc2 = register_module("fc2", nn::Linear(120, 84));
  nn::Linear& fc3 = register_module("fc3", nn::Linear(84, 10));

  std::string name() const override { return "Net"; }
  Tensor forward(const Tensor& input) override {
    Tensor x = pool(relu(conv1(input)));
    x = pool(relu(conv2(x)));
    x = x.view({-1, 16 * 5 * 5});
    x = relu(fc1(x));
    x = relu(fc2(x));
    return fc3(x);
  }
};

}  // namespace wick::testing
