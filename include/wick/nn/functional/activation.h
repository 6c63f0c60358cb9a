// Activations: torch.nn.functional.softmax and log_softmax (defined in
// src/nn/functional/activation.cpp), and F's names for the elementwise
// activations of wick/ops/elementwise.h (relu, sigmoid, tanh, relu6,
// hardsigmoid, hardswish, silu, gelu).
#pragma once

#include "wick/core/tensor.h"
#include "wick/ops/elementwise.h"

namespace wick::nn::functional {

/// Softmax over `dim`: exp(x) / sum(exp(x)), computed stably.
Tensor softmax(const Tensor& input, int64_t dim);
/// log(softmax(x)) over `dim`, computed without the softmax's rounding.
Tensor log_softmax(const Tensor& input, int64_t dim);

/// F.relu, F.sigmoid, F.tanh: the torch.* functions of the same names.
using wick::relu;
using wick::sigmoid;
using wick::tanh;
/// F.relu6, F.hardsigmoid, F.hardswish, F.silu, F.gelu.
using wick::gelu;
using wick::hardsigmoid;
using wick::hardswish;
using wick::relu6;
using wick::silu;

}  // namespace wick::nn::functional
