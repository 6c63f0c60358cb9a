// wick::models: torchvision's classification models, built so that their
// state_dict keys, order and shapes equal torchvision's (strict loading of
// torchvision checkpoints, and the other way round).
#pragma once

#include "wick/models/blocks.h"
#include "wick/models/convnext.h"
#include "wick/models/densenet.h"
#include "wick/models/efficientnet.h"
#include "wick/models/imagenet.h"
#include "wick/models/mobilenetv2.h"
#include "wick/models/mobilenetv3.h"
#include "wick/models/registry.h"
#include "wick/models/regnet.h"
#include "wick/models/resnet.h"
#include "wick/models/shufflenetv2.h"
#include "wick/models/squeezenet.h"
#include "wick/models/vgg.h"
#include "wick/models/vision_transformer.h"
