// what_is_state_dict: PyTorch's recipe "What is a state_dict", in C++.
//
// Defines the recipe's network, creates SGD with momentum, and prints the
// model, each state_dict entry with its size, and the optimizer's state_dict.
// The output is PyTorch's, character for character (sizes print as
// `wick.Size(...)` where PyTorch prints `torch.Size(...)`).
//
//   build/bin/what_is_state_dict

#include <iostream>

#include "wick/wick.h"

using namespace wick;

// The network: each layer is registered once, by name, in the order it is
// declared; the forward pass reads as in Python.
struct Net : nn::Module {
  nn::Conv2d& conv1 = register_module("conv1", nn::Conv2d(3, 6, 5));
  nn::MaxPool2d& pool = register_module("pool", nn::MaxPool2d(2, 2));
  nn::Conv2d& conv2 = register_module("conv2", nn::Conv2d(6, 16, 5));
  nn::Linear& fc1 = register_module("fc1", nn::Linear(16 * 5 * 5, 120));
  nn::Linear& fc2 = register_module("fc2", nn::Linear(120, 84));
  nn::Linear& fc3 = register_module("fc3", nn::Linear(84, 10));

  Tensor forward(const Tensor& input) override {
    Tensor x = pool(relu(conv1(input)));
    x = pool(relu(conv2(x)));
    x = x.view({-1, 16 * 5 * 5});
    x = relu(fc1(x));
    x = relu(fc2(x));
    return fc3(x);
  }
};

int main() {
  try {
    Net model;
    optim::SGD optimizer(model.parameters(), {.lr = 0.001, .momentum = 0.9});

    std::cout << model << "\n";

    std::cout << "Model's state_dict:\n";
    for (const auto& [name, tensor] : model.state_dict())
      std::cout << name << " \t wick.Size(" << tensor.sizes() << ")\n";
    std::cout << "\n";

    std::cout << "Optimizer's state_dict:\n";
    Value optimizer_state = optimizer.state_dict();  // keep it alive while looping
    for (const auto& [key, value] : optimizer_state.as_dict())
      std::cout << key.as_string() << " \t " << value << "\n";
    return 0;
  } catch (const wick::Error& e) {
    std::cerr << "what_is_state_dict: " << e.what() << "\n";
    return 1;
  }
}
