// match_pytorch: replays a training trajectory recorded by PyTorch and checks
// that wick follows it step by step.
//
//   build/bin/match_pytorch tests/fixtures/torch-2.11/trajectory.pt
//
// The file (written by torch.save) holds the recipe's Net as `init` (a
// state_dict), the batches `xs` [steps, batch, 3, 32, 32] and `ys` [steps,
// batch], and the SGD settings `lr` and `momentum`. wick loads `init`, then
// runs one SGD step per batch with cross-entropy, printing the loss before each
// step, one per line, on stdout. When the file also holds them, it compares
// with PyTorch's `losses` (1e-4 relative), the final state_dict `final` and
// the optimizer's state_dict `optimizer` (parameters and momentum buffers to
// 1e-4), reports the largest differences on stderr and exits with 1 if any is
// exceeded.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "wick/wick.h"

using namespace wick;

// The recipe's network, as in examples/what_is_state_dict.cpp.
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

// The largest |a - b| over two tensors of the same shape, in float64.
static double max_abs_diff(const Tensor& a, const Tensor& b, const std::string& what) {
  WICK_CHECK_AS(ShapeError, a.sizes() == b.sizes(), "match_pytorch: ", what, " has sizes ",
                a.sizes(), " but PyTorch's has ", b.sizes());
  std::vector<double> x = a.to(DType::Float64).contiguous().to_vector<double>();
  std::vector<double> y = b.to(DType::Float64).contiguous().to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double d = std::abs(x[i] - y[i]);
    if (!(d <= worst)) worst = d;  // NaN counts as the worst
  }
  return worst;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: match_pytorch TRAJECTORY.pt\n";
    return 2;
  }
  constexpr double tolerance = 1e-4;
  try {
    Value trajectory = wick::load(argv[1]);
    Net model;
    model.load_state_dict(trajectory["init"]);
    optim::SGD optimizer(model.parameters(), {.lr = trajectory["lr"].to_double(),
                                              .momentum = trajectory["momentum"].to_double()});
    Tensor xs = trajectory["xs"].as_tensor(), ys = trajectory["ys"].as_tensor();
    WICK_CHECK_AS(ShapeError, xs.dim() == 5 && ys.dim() == 2 && xs.size(0) == ys.size(0),
                  "match_pytorch: expected xs [steps, batch, 3, 32, 32] and ys [steps, batch], "
                  "got ",
                  xs.sizes(), " and ", ys.sizes());

    std::vector<double> losses;
    for (int64_t k = 0; k < xs.size(0); ++k) {
      optimizer.zero_grad();
      Tensor loss = nn::functional::cross_entropy(model(xs[k]), ys[k]);
      losses.push_back(loss.item<float>());
      std::printf("%.9g\n", losses.back());
      loss.backward();
      optimizer.step();
    }
    std::fflush(stdout);

    bool ok = true;
    auto report = [&](const char* what, double worst) {
      std::fprintf(stderr, "match_pytorch: largest %s difference %.3g\n", what, worst);
      if (!(worst <= tolerance)) ok = false;
    };
    if (trajectory.contains("losses")) {
      std::vector<double> expected =
          trajectory["losses"].as_tensor().to(DType::Float64).contiguous().to_vector<double>();
      WICK_CHECK(expected.size() == losses.size(), "match_pytorch: ", losses.size(), " steps but ",
                 expected.size(), " recorded losses");
      double worst = 0;
      for (size_t i = 0; i < losses.size(); ++i) {
        double rel = std::abs(losses[i] - expected[i]) / std::max(std::abs(expected[i]), 1e-12);
        if (!(rel <= worst)) worst = rel;
      }
      report("relative loss", worst);
    }
    if (trajectory.contains("final")) {
      nn::StateDict expected(trajectory["final"]), got = model.state_dict();
      WICK_CHECK(expected.keys() == got.keys(), "match_pytorch: `final` has other keys than Net");
      double worst = 0;
      for (const auto& [name, tensor] : got)
        worst = std::max(worst, max_abs_diff(tensor, expected.at(name), name));
      report("parameter", worst);
    }
    if (trajectory.contains("optimizer")) {
      Value expected = trajectory["optimizer"], got = optimizer.state_dict();
      const Value& group = expected["param_groups"][0];
      WICK_CHECK(
          group["lr"].to_double() == optimizer.param_groups()[0].lr() &&
              group["momentum"].to_double() == trajectory["momentum"].to_double(),
          "match_pytorch: `optimizer` was recorded with other hyper-parameters: ", group.repr());
      // PyTorch 1.x keeps `momentum_buffer: None` when momentum is 0; 2.x and
      // wick keep no state then.
      size_t buffers = 0;
      double worst = 0;
      for (const auto& [index, state] : expected["state"].as_dict()) {
        if (state["momentum_buffer"].is_none()) continue;
        ++buffers;
        worst = std::max(worst, max_abs_diff(got["state"][index]["momentum_buffer"].as_tensor(),
                                             state["momentum_buffer"].as_tensor(),
                                             "momentum_buffer " + index.repr()));
      }
      WICK_CHECK(buffers == got["state"].size(), "match_pytorch: PyTorch has ", buffers,
                 " momentum buffers, wick ", got["state"].size());
      report("momentum buffer", worst);
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "match_pytorch: " << e.what() << "\n";
    return 1;
  }
}
