// Shared by the training examples: a classifier's top-1 accuracy over a
// test loader.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wick/autograd/grad_mode.h"
#include "wick/data/dataloader.h"
#include "wick/nn/module.h"

namespace examples {

/// Top-1 accuracy in percent of `model` over every batch of `loader`, in eval
/// mode without gradients; leaves the model in train mode.
inline double evaluate(wick::nn::Module& model, wick::data::DataLoader& loader) {
  wick::NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0, total = 0;
  for (wick::data::Batch& batch : loader) {
    std::vector<int64_t> predicted = model(batch.input).argmax(1).to_vector<int64_t>();
    std::vector<int64_t> target = batch.target.contiguous().to_vector<int64_t>();
    for (size_t i = 0; i < target.size(); ++i) correct += predicted[i] == target[i];
    total += int64_t(target.size());
  }
  model.train();
  return 100.0 * double(correct) / double(std::max<int64_t>(total, 1));
}

}  // namespace examples
