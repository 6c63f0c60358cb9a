"""wick::models against torchvision 0.14, both ways.

    models_interop.py WICK_MODELS_INTEROP DIR [NAME...]

For each model (all by default): builds it in torchvision with random
weights and random BatchNorm statistics, writes into DIR its state_dict
(NAME_sd.pt) and one batch with the reference results (NAME_io.pt: the
model's repr, input, targets, eval logits, train logits, cross-entropy loss,
every parameter's gradient, the state after the training step); resnet18
also as float16 (resnet18_half.pt, with the eval logits of those rounded
weights); DenseNets also with torchvision's legacy key names
(NAME_legacy.pt); RegNets also torchvision's BlockParams for every RegNet
builder's settings, 400 random ones and 270 probes of its float32 arithmetic
(regnet_params.pt). Eval is in float32, training in float64 (see
write_reference). Then runs
the C++ side, which compares wick's model with these and writes a freshly
initialised wick model's state_dict with its eval logits (NAME_wick.pt,
NAME_wick_io.pt); these are loaded strictly into torchvision here and must
give the same logits. Dropout is built with p=0 (and EfficientNet's
StochasticDepth too) so training is deterministic.
"""
import itertools
import os
import random
import re
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm
import torchvision.models.densenet as tv_densenet
import torchvision.models.regnet as tv_regnet

TOL = 1e-4
NUM_CLASSES = 10

# name -> (builder kwargs, batch)
MODELS = {
    'resnet18': ({}, 2),
    'resnet34': ({}, 2),
    'resnet50': ({'zero_init_residual': True}, 2),
    'resnet101': ({}, 1),
    'resnet152': ({}, 1),
    'resnext50_32x4d': ({}, 2),
    'wide_resnet50_2': ({'replace_stride_with_dilation': [False, True, True]}, 1),
    'vgg11': ({'dropout': 0.0}, 2),
    'vgg16': ({'dropout': 0.0}, 1),
    'vgg16_bn': ({'dropout': 0.0}, 2),
    'alexnet': ({'dropout': 0.0}, 2),
    'densenet121': ({'drop_rate': 0}, 2),
    'squeezenet1_0': ({'dropout': 0.0}, 2),
    'squeezenet1_1': ({'dropout': 0.0}, 2),
    'shufflenet_v2_x1_0': ({}, 2),
    'regnet_y_400mf': ({}, 2),
    'mobilenet_v2': ({'dropout': 0.0}, 2),
    'mobilenet_v3_small': ({'dropout': 0.0}, 2),
    'mobilenet_v3_large': ({'dropout': 0.0}, 2),
    'efficientnet_b0': ({'dropout': 0.0, 'stochastic_depth_prob': 0.0}, 2),
}

# torchvision's published DenseNet weights spell a dense layer's children
# `norm.1`, `conv.2`, ... (its loader renames them with this pattern).
DENSENET_CURRENT = re.compile(
    r'^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$')
DENSENET_NBT = re.compile(r'^.*denselayer\d+\.norm[12]\.num_batches_tracked$')


def build(name):
    kwargs, _ = MODELS[name]
    if name.startswith('efficientnet_'):
        # torchvision's efficientnet builders fix the dropout (passing one is
        # a TypeError); build with theirs and set it afterwards.
        kwargs = dict(kwargs)
        dropout = kwargs.pop('dropout')
        model = getattr(tvm, name)(num_classes=NUM_CLASSES, **kwargs)
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = dropout
        return model
    return getattr(tvm, name)(num_classes=NUM_CLASSES, **kwargs)


def randomize_batchnorm(model):
    """Statistics and affine weights away from their defaults, so that eval
    and train differ and every buffer is exercised."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(3)


def close(actual, expected):
    scale = expected.abs().max().item()
    return (actual - expected).abs().max().item() <= TOL * max(scale, 1e-30)


def write_reference(name, out):
    torch.manual_seed(0)
    model = build(name)
    randomize_batchnorm(model)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(model.state_dict(), os.path.join(out, name + '_sd.pt'))
    x = torch.randn(MODELS[name][1], 3, 64, 64)
    target = torch.randint(0, NUM_CLASSES, (x.shape[0],))
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    # Training in float64: with batch statistics over a few values, BatchNorm's
    # backward amplifies rounding so much that PyTorch's own float32 gradients
    # differ from its float64 ones by up to 40% on these models.
    model.double().train()
    train_logits = model(x.double())
    loss = F.cross_entropy(train_logits, target)
    loss.backward()
    io = {
        'repr': repr(model),
        'x': x, 'target': target, 'eval': eval_logits, 'train': train_logits.detach(),
        'loss': loss.detach(),
        'grads': {k: p.grad for k, p in model.named_parameters()},
        'after': {k: v for k, v in model.state_dict().items() if k not in
                  dict(model.named_parameters())},
    }
    torch.save(io, os.path.join(out, name + '_io.pt'))
    if name.startswith('densenet'):
        write_densenet_legacy(name, sd, out)
    if name.startswith('regnet'):
        write_regnet_params(out)
    if name == 'resnet18':
        half = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
        torch.save(half, os.path.join(out, 'resnet18_half.pt'))
        rounded = build(name)
        rounded.load_state_dict(half)  # copy_ converts to float32
        rounded.eval()
        with torch.no_grad():
            torch.save({'eval': rounded(x)}, os.path.join(out, 'resnet18_half_io.pt'))


def write_densenet_legacy(name, sd, out):
    """NAME_legacy.pt: the state_dict as torchvision's published DenseNet
    files have it: legacy names, no num_batches_tracked in the dense layers
    (they predate it), no _metadata. torchvision's own loader must accept it."""
    legacy = {}
    for k, v in sd.items():
        if DENSENET_NBT.match(k):
            continue
        legacy[DENSENET_CURRENT.sub(r'\1.\2.\3', k)] = v
    assert sum(k != DENSENET_CURRENT.sub(r'\1.\2.\3', k) for k in sd) > 0

    class Weights:  # what tv_densenet._load_state_dict asks of a WeightsEnum
        @staticmethod
        def get_state_dict(progress):
            return dict(legacy)

    model = build(name)
    tv_densenet._load_state_dict(model, Weights, False)  # strict
    torch.save(legacy, os.path.join(out, name + '_legacy.pt'))


class _Captured(Exception):
    pass


def torchvision_regnet_configs():
    """The from_init_params arguments of every torchvision RegNet builder, as
    the builders pass them (captured, not copied)."""
    configs = []
    original = tv_regnet.BlockParams

    class Capture(original):
        @classmethod
        def from_init_params(cls, **kwargs):
            configs.append(kwargs)
            raise _Captured()

    tv_regnet.BlockParams = Capture
    try:
        for builder in sorted(n for n in dir(tvm) if n.startswith('regnet_')):
            try:
                getattr(tvm, builder)()
            except _Captured:
                pass
    finally:
        tv_regnet.BlockParams = original
    assert len(configs) >= 15, configs
    return configs


def write_regnet_params(out):
    """regnet_params.pt: torchvision's BlockParams for every RegNet builder's
    settings, for random ones (some invalid: expected None) and for probes of
    its float32 arithmetic, which the C++ side recomputes with
    RegNetBlockParams::from_init_params."""
    configs = torchvision_regnet_configs()
    rng = random.Random(0)
    for _ in range(400):
        configs.append({
            'depth': rng.randint(1, 40),
            'w_0': 8 * rng.randint(1, 60),
            'w_a': round(rng.uniform(0, 150), rng.choice([0, 1, 2, 6])),
            'w_m': round(rng.uniform(1.05, 3.5), rng.choice([1, 2, 6])),
            'group_width': rng.choice([1, 2, 4, 8, 16, 24, 40, 48, 56, 64, 112, 128, 232]),
            'bottleneck_multiplier': rng.choice([1.0, 1.0, 0.5, 0.25, 0.75, 2.0, 0.01]),
            'se_ratio': rng.choice([None, 0.25]),
        })
    # Probes of the float32 arithmetic: w_m a hair off a value whose products
    # with w_0 / 8 end in .5, so that rounding w_m to float32 (as torch.pow's
    # scalar is) decides which way the width rounds; in float64 about one in
    # ten of these gives other widths.
    for base, eps, w_0 in itertools.product(
            [1.5, 2.5, 1.25, 2.25, 3.5, 1.75, 2.75, 1.125, 3.25],
            [-2e-7, -1e-7, -4e-8, 4e-8, 1e-7, 2e-7], [8, 24, 40, 56, 72]):
        w_m = base + eps
        configs.append({'depth': 12, 'w_0': w_0, 'w_a': w_0 * (w_m - 1), 'w_m': w_m,
                        'group_width': 8})
    cases = []
    for c in configs:
        args = {'bottleneck_multiplier': 1.0, 'se_ratio': None, **c}
        try:
            p = tv_regnet.BlockParams.from_init_params(**args)
            expected = {'depths': p.depths, 'widths': p.widths, 'group_widths': p.group_widths,
                        'bottleneck_multipliers': p.bottleneck_multipliers,
                        'strides': p.strides, 'se_ratio': p.se_ratio}
        except (ValueError, ZeroDivisionError):
            expected = None
        cases.append({'args': args, 'expected': expected})
    torch.save(cases, os.path.join(out, 'regnet_params.pt'))


def check_wick(name, out):
    """wick's own state_dict loads strictly into torchvision, same logits."""
    model = build(name)
    sd = torch.load(os.path.join(out, name + '_wick.pt'))
    assert list(sd.keys()) == list(model.state_dict().keys()), name + ': key order differs'
    model.load_state_dict(sd, strict=True)
    io = torch.load(os.path.join(out, name + '_wick_io.pt'))
    model.eval()
    with torch.no_grad():
        logits = model(io['x'])
    if not close(logits, io['eval']):
        print(f'{name}: torchvision with wick weights differs: '
              f'{(logits - io["eval"]).abs().max().item()}')
        return False
    return True


def main():
    binary, out = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(MODELS)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    ok = True
    for name in names:
        start = time.time()
        write_reference(name, out)
        run = subprocess.run([binary, out, name])
        passed = run.returncode == 0 and check_wick(name, out)
        ok = ok and passed
        print(f'{name}: {"ok" if passed else "FAILED"} ({time.time() - start:.1f} s)', flush=True)
        for f in os.listdir(out):  # the files are large (VGG: 0.5 GB each)
            if f.startswith(name + '_') or f == 'regnet_params.pt':
                os.remove(os.path.join(out, f))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
