// torch.nn.functional: the stateless neural-network functions that the
// modules of wick/nn/ call, one header per family. Every function is
// differentiable in float32 and float64 and checks its arguments, throwing
// wick::Error subclasses that name the function and the shapes involved.
//
//   namespace F = wick::nn::functional;
//   wick::Tensor loss = F::cross_entropy(F::relu(model(x)), target);
#pragma once

#include "wick/nn/functional/activation.h"
#include "wick/nn/functional/attention.h"
#include "wick/nn/functional/common.h"
#include "wick/nn/functional/conv.h"
#include "wick/nn/functional/dropout.h"
#include "wick/nn/functional/embedding.h"
#include "wick/nn/functional/linear.h"
#include "wick/nn/functional/loss.h"
#include "wick/nn/functional/normalization.h"
#include "wick/nn/functional/pooling.h"
