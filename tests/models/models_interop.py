"""wick::models against torchvision 0.14, both ways.

    models_interop.py WICK_MODELS_INTEROP DIR [CASE...]

Each case (all by default) is a torchvision builder with its arguments, a
batch and an input size (MODELS). For each: builds the model in torchvision
with random weights, and with random values wherever torchvision starts a
parameter or statistic at a constant (see randomize), writes into DIR its
state_dict (CASE_sd.pt) and one batch with the reference results
(CASE_io.pt: the model's repr, input, targets, eval logits, train logits,
cross-entropy loss, every parameter's gradient, the state after the
training step); resnet18
also as float16 (resnet18_half.pt, with the eval logits of those rounded
weights), and the ViTs also with the MLP keys of torchvision < 0.13
(CASE_legacy.pt, which torchvision loads to the same model). Eval is in
float32, training in float64 (see write_reference). Then runs the C++ side,
which compares wick's model with these and writes a freshly initialised wick
model's state_dict with its eval logits (CASE_wick.pt, CASE_wick_io.pt);
these are loaded strictly into torchvision here and must give the same
logits. Dropout is built with p=0 so training is deterministic.
"""
import collections
import dataclasses
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm

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
}


def build(name):
    case = MODELS[name]
    return getattr(tvm, case.builder or name)(num_classes=NUM_CLASSES, **case.kwargs)


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
    if name == 'resnet18':
        half = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
        torch.save(half, os.path.join(out, 'resnet18_half.pt'))
        rounded = build(name)
        rounded.load_state_dict(half)  # copy_ converts to float32
        rounded.eval()
        with torch.no_grad():
            torch.save({'eval': rounded(x)}, os.path.join(out, 'resnet18_half_io.pt'))


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
            if f.startswith(name + '_'):
                os.remove(os.path.join(out, f))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
