"""wick::models against torchvision 0.14, both ways.

    models_interop.py WICK_MODELS_INTEROP DIR [NAME...]

For each model (all by default): builds it in torchvision with random
weights and random BatchNorm statistics, writes into DIR its state_dict
(NAME_sd.pt) and one batch with the reference results (NAME_io.pt: input,
targets, eval logits, train logits, cross-entropy loss, every parameter's
gradient, the state after the training step, the model's repr); resnet18 also as float16
(resnet18_half.pt, with the eval logits of those rounded weights). Eval is
in float32, training in float64 (see write_reference). Then runs
the C++ side, which compares wick's model with these and writes a freshly
initialised wick model's state_dict with its eval logits (NAME_wick.pt,
NAME_wick_io.pt); these are loaded strictly into torchvision here and must
give the same logits. Dropout is built with p=0 (and EfficientNet's
StochasticDepth too) so training is deterministic.
"""
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm

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
    'mobilenet_v2': ({'dropout': 0.0}, 2),
    'mobilenet_v3_small': ({'dropout': 0.0}, 2),
    'mobilenet_v3_large': ({'dropout': 0.0}, 2),
    'efficientnet_b0': ({'dropout': 0.0, 'stochastic_depth_prob': 0.0}, 2),
}


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
        'x': x, 'target': target, 'eval': eval_logits, 'train': train_logits.detach(),
        'loss': loss.detach(),
        'grads': {k: p.grad for k, p in model.named_parameters()},
        'after': {k: v for k, v in model.state_dict().items() if k not in
                  dict(model.named_parameters())},
        'repr': repr(model),
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
