// Resumes training from a general checkpoint, as PyTorch's recipe "Saving and
// loading a general checkpoint" does, and writes the next one:
//
//   wick_resume IN.pt DATA.pt OUT.pt STEPS
//
// IN.pt holds {"epoch", "model_state_dict", "optimizer_state_dict", "loss"}
// for the recipe's Net and SGD; DATA.pt holds {"xs": [S, N, 3, 32, 32],
// "ys": [S, N]}. Step k trains on batch k; "epoch" counts steps done.
#include <iostream>

#include "seed_net.h"

using namespace wick;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: wick_resume IN.pt DATA.pt OUT.pt STEPS\n";
    return 2;
  }
  try {
    testing::SeedNet model;
    optim::SGD optimizer(model.parameters(), {.lr = 0.001, .momentum = 0.9});

    Value ckpt = wick::load(argv[1]);
    model.load_state_dict(ckpt["model_state_dict"]);
    optimizer.load_state_dict(ckpt["optimizer_state_dict"]);
    int64_t epoch = ckpt["epoch"].as_int();

    Value data = wick::load(argv[2]);
    Tensor xs = data["xs"].as_tensor(), ys = data["ys"].as_tensor();
    double loss_value = ckpt["loss"].to_double();
    for (int64_t steps = std::stoll(argv[4]); steps > 0; --steps, ++epoch) {
      optimizer.zero_grad();
      Tensor loss = nn::functional::cross_entropy(model(xs[epoch]), ys[epoch]);
      loss.backward();
      optimizer.step();
      loss_value = loss.item<double>();
    }

    Dict out;
    out.set("epoch", epoch);
    out.set("model_state_dict", model.state_dict());
    out.set("optimizer_state_dict", optimizer.state_dict());
    out.set("loss", loss_value);
    wick::save(out, argv[3]);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wick_resume: " << e.what() << "\n";
    return 1;
  }
}
