// wick: the whole public API in one include.
//
//   #include <wick/wick.h>
//
//   wick::Tensor w = wick::randn({3}, {.requires_grad = true});
//   wick::Tensor loss = (w * w).sum();
//   loss.backward();                   // w.grad() == 2 * w
//
// Each header below opens with an overview of its part of the library; include
// them one by one to keep compile times down. Every public header belongs in
// this list (the `headers` test checks).
#pragma once

#include "wick/version.h"

// core: the tensor handle, its storage and dtypes, values, errors, threads
#include "wick/core/autograd_meta.h"
#include "wick/core/dtype.h"
#include "wick/core/error.h"
#include "wick/core/parallel.h"
#include "wick/core/random.h"
#include "wick/core/scalar.h"
#include "wick/core/storage.h"
#include "wick/core/tensor.h"
#include "wick/core/value.h"

// ops: torch.* and torch.autograd
#include "wick/autograd/grad_mode.h"
#include "wick/autograd/gradcheck.h"
#include "wick/autograd/graph.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/join.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

// io: checkpoint files
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"
#include "wick/io/sharded.h"
#include "wick/io/value.h"

// nn: torch.nn.functional, modules, state_dicts
#include "wick/nn/activation.h"
#include "wick/nn/attention.h"
#include "wick/nn/container.h"
#include "wick/nn/conv.h"
#include "wick/nn/dropout.h"
#include "wick/nn/embedding.h"
#include "wick/nn/functional.h"
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
#include "wick/nn/init.h"
#include "wick/nn/linear.h"
#include "wick/nn/module.h"
#include "wick/nn/normalization.h"
#include "wick/nn/pooling.h"
#include "wick/nn/state_dict.h"

// optim: optimizers and LR schedulers
#include "wick/optim/adagrad.h"
#include "wick/optim/adam.h"
#include "wick/optim/lr_scheduler.h"
#include "wick/optim/optimizer.h"
#include "wick/optim/rmsprop.h"
#include "wick/optim/sgd.h"

// data: datasets and loading
#include "wick/data/cifar.h"
#include "wick/data/dataloader.h"
#include "wick/data/dataset.h"
#include "wick/data/idx.h"
#include "wick/data/image.h"
#include "wick/data/mnist.h"
#include "wick/data/transforms.h"
#include "wick/models/blocks.h"
#include "wick/models/convnext.h"
#include "wick/models/densenet.h"
#include "wick/models/efficientnet.h"
#include "wick/models/imagenet.h"
#include "wick/models/mobilenetv2.h"
#include "wick/models/mobilenetv3.h"
#include "wick/models/models.h"
#include "wick/models/registry.h"
#include "wick/models/regnet.h"
#include "wick/models/resnet.h"
#include "wick/models/shufflenetv2.h"
#include "wick/models/squeezenet.h"
#include "wick/models/vgg.h"
#include "wick/models/vision_transformer.h"
