#include "models/init_weights.h"

#include <cmath>

#include "wick/autograd/grad_mode.h"
#include "wick/nn/conv.h"
#include "wick/nn/init.h"
#include "wick/nn/linear.h"
#include "wick/nn/normalization.h"

namespace wick::models::detail {

void init_mobile_weights(nn::Module& model, LinearInit linear_init) {
  NoGradGuard no_grad;
  for (nn::Module* m : model.modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      nn::init::kaiming_normal_(conv->weight, 0, "fan_out");
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      if (bn->weight.defined()) nn::init::ones_(bn->weight);
      if (bn->bias.defined()) nn::init::zeros_(bn->bias);
    } else if (auto* linear = dynamic_cast<nn::Linear*>(m)) {
      if (linear_init == LinearInit::Normal) {
        nn::init::normal_(linear->weight, 0, 0.01);
      } else {
        const double range = 1.0 / std::sqrt(static_cast<double>(linear->out_features));
        nn::init::uniform_(linear->weight, -range, range);
      }
      if (linear->bias.defined()) nn::init::zeros_(linear->bias);
    }
  }
}

}  // namespace wick::models::detail
