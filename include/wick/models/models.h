// wick::models: torchvision's classification models, built so that their
// state_dict keys, order and shapes equal torchvision's (strict loading of
// torchvision checkpoints, and the other way round).
#pragma once

#include "wick/models/imagenet.h"
#include "wick/models/registry.h"
#include "wick/models/resnet.h"
#include "wick/models/vgg.h"
