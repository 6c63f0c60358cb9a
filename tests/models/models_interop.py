"""wick::models against torchvision 0.14, both ways.

    models_interop.py WICK_MODELS_INTEROP DIR [CASE...]

Each case (all by default) is a torchvision builder with its arguments, a
batch and an input size (MODELS). For each: builds the model in torchvision
with random weights, and with random values wherever torchvision starts a
parameter or statistic at a constant (see randomize), writes into DIR its
state_dict (CASE_sd.pt) and one batch with the reference results
(CASE_io.pt: the model's repr, input, targets, eval logits, train logits,
cross-entropy loss, every parameter's gradient, the state after the
training step); resnet18 also as float16 (resnet18_half.pt, with the eval
logits of those rounded weights); DenseNets also with torchvision's legacy
key names (CASE_legacy.pt); the ViTs also with the MLP keys of torchvision
< 0.13 (CASE_legacy.pt, which torchvision loads to the same model); RegNets
also torchvision's BlockParams for every RegNet builder's settings, 400
random ones and 270 probes of its float32 arithmetic (regnet_params.pt).
Eval is in float32, training in float64 (see write_reference). Then runs the
C++ side, which compares wick's model with these and writes a freshly
initialised wick model's state_dict with its eval logits (CASE_wick.pt,
CASE_wick_io.pt); these are loaded strictly into torchvision here and must
give the same logits. Dropout is built with p=0 (and EfficientNet's and
ConvNeXt's StochasticDepth too) so training is deterministic.
"""
import collections
import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Case:
    """torchvision's `builder` (the case's own name when None) with `kwargs`
    (num_classes aside), run on a batch of `batch` images of size x size."""
    kwargs: dict = dataclasses.field(default_factory=dict)
    batch: int = 2
    size: int = 64
    builder: str = None


MODELS = {
    'resnet18': Case(),
    'resnet34': Case(),
    'resnet50': Case({'zero_init_residual': True}),
    'resnet101': Case(batch=1),
    'resnet152': Case(batch=1),
    'resnext50_32x4d': Case(),
    'wide_resnet50_2': Case({'replace_stride_with_dilation': [False, True, True]}, batch=1),
    'vgg11': Case({'dropout': 0.0}),
    'vgg16': Case({'dropout': 0.0}, batch=1),
    'vgg16_bn': Case({'dropout': 0.0}),
    'alexnet': Case({'dropout': 0.0}),
    'convnext_tiny': Case({'stochastic_depth_prob': 0.0}),
    # ViT-B/16 on its real 14x14 patch grid, and on a 4x4 one (64x64 input)
    # to keep the suite fast: the same 86M parameters, 17 tokens instead of 197.
    'vit_b_16': Case({'dropout': 0.0, 'attention_dropout': 0.0}, batch=1, size=224),
    'vit_b_16_64px': Case({'image_size': 64, 'dropout': 0.0, 'attention_dropout': 0.0},
                          builder='vit_b_16'),
    'densenet121': Case({'drop_rate': 0}),
    'squeezenet1_0': Case({'dropout': 0.0}),
    'squeezenet1_1': Case({'dropout': 0.0}),
    'shufflenet_v2_x1_0': Case(),
    'regnet_y_400mf': Case(),
    'mobilenet_v2': Case({'dropout': 0.0}),
    'mobilenet_v3_small': Case({'dropout': 0.0}),
    'mobilenet_v3_large': Case({'dropout': 0.0}),
    'efficientnet_b0': Case({'dropout': 0.0, 'stochastic_depth_prob': 0.0}),
}

# torchvision's published DenseNet weights spell a dense layer's children
# `norm.1`, `conv.2`, ... (its loader renames them with this pattern).
DENSENET_CURRENT = re.compile(
    r'^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$')
DENSENET_NBT = re.compile(r'^.*denselayer\d+\.norm[12]\.num_batches_tracked$')


def build(name):
    case = MODELS[name]
    builder = getattr(tvm, case.builder or name)
    kwargs = dict(case.kwargs)
    if (case.builder or name).startswith('efficientnet_'):
        # torchvision's efficientnet builders fix the dropout (passing one is
        # a TypeError); build with theirs and set it afterwards.
        dropout = kwargs.pop('dropout')
        model = builder(num_classes=NUM_CLASSES, **kwargs)
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = dropout
        return model
    return builder(num_classes=NUM_CLASSES, **kwargs)


def randomize(model):
    """Random values where torchvision starts at a constant, so that eval and
    train differ, every buffer is exercised and no path is silenced:
    BatchNorm statistics and affine weights, LayerNorm affine weights,
    ConvNeXt's layer_scale (1e-6 would hide its blocks), ViT's class token and
    its head (zeros, which would make every other gradient zero), and zero
    biases."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(3)
            elif isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for name, p in model.named_parameters():
            if p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                p.normal_(0, 0.2 if name.endswith('layer_scale') else 0.05)


def close(actual, expected):
    scale = expected.abs().max().item()
    return (actual - expected).abs().max().item() <= TOL * max(scale, 1e-30)


def write_reference(name, out):
    torch.manual_seed(0)
    model = build(name)
    randomize(model)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(model.state_dict(), os.path.join(out, name + '_sd.pt'))
    case = MODELS[name]
    if (case.builder or name).startswith('vit_'):
        write_legacy(name, out, sd, model.state_dict()._metadata)
    x = torch.randn(case.batch, 3, case.size, case.size)
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


def write_legacy(name, out, sd, metadata):
    """The state_dict as torchvision < 0.13 wrote it: each MLPBlock's Linears
    named linear_1 and linear_2, its version 1. torchvision 0.14 itself must
    load it to the same weights."""
    legacy = collections.OrderedDict()
    for k, v in sd.items():
        for i, old in ((0, 'linear_1'), (3, 'linear_2')):
            k = re.sub(rf'(\.mlp)\.{i}\.', rf'\1.{old}.', k)
        legacy[k] = v
    legacy._metadata = {k: dict(v) for k, v in metadata.items()}
    for prefix, meta in legacy._metadata.items():
        if prefix.endswith('.mlp'):
            meta['version'] = 1
    assert any('.mlp.linear_1.' in k for k in legacy), name + ': nothing renamed'
    check = build(name)
    check.load_state_dict(legacy, strict=True)
    for k, v in check.state_dict().items():
        assert torch.equal(v, sd[k]), name + ': torchvision loads the legacy keys differently'
    torch.save(legacy, os.path.join(out, name + '_legacy.pt'))


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
