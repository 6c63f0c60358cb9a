"""Modules against the real PyTorch, both ways.

    nn_interop.py torch_to_wick WICK_NN_INTEROP DIR
        Builds the test models in PyTorch, writes what it observes into DIR
        (cases.json: state_dict keys, shapes, dtypes, _metadata, module names,
        reprs, load_state_dict messages, init statistics; *.pt: state_dicts,
        inputs, outputs), then runs the C++ side, which builds the same models
        in wick and compares (gtest filter TorchToWick.*).
    nn_interop.py wick_to_torch WICK_NN_INTEROP DIR
        Runs the C++ side to write wick's state_dicts, inputs and outputs into
        DIR, then loads them into the PyTorch models (strict) and compares
        outputs, updated running statistics and _metadata.

The models here and in nn_interop.cpp must stay the same structure.
"""
import collections
import json
import os
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from seed_net import Net  # noqa: E402  (the recipe's Net)

TOL = 1e-5


# ---- the models (mirrored in nn_interop.cpp) ---------------------------------

class BNNet(nn.Module):
    """BatchNorm in its variants: affine=False, track_running_stats=False,
    momentum=None (cumulative average)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2)
        self.bn2 = nn.BatchNorm2d(16, affine=False, momentum=0.2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16, 32)
        self.bn3 = nn.BatchNorm1d(32, track_running_stats=False)
        self.fc2 = nn.Linear(32, 10)
        self.bn4 = nn.BatchNorm1d(10, eps=1e-3, momentum=None)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.flatten(self.pool(x))
        x = self.relu(self.bn3(self.fc1(x)))
        return self.bn4(self.fc2(x))


class Nested(nn.Module):
    """Containers inside containers and every parameterless layer."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True)),
            nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
            nn.Conv2d(4, 8, 3),
            nn.Sigmoid(),
            nn.MaxPool2d((2, 2), stride=1, dilation=2),
            nn.AvgPool2d(2),
            nn.AdaptiveAvgPool2d((None, 3)),
            nn.Flatten(),
        )
        self.blocks = nn.ModuleList([nn.Linear(48, 16), nn.Tanh(), nn.LayerNorm(16),
                                     nn.Dropout(0.25)])
        self.heads = nn.ModuleDict({
            'cls': nn.Sequential(nn.Linear(16, 5), nn.LogSoftmax(dim=1)),
            'prob': nn.Softmax(dim=1),
            'skip': nn.Identity(),
        })
        self.emb = nn.Embedding(10, 16, padding_idx=0)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.register_buffer('tokens', torch.tensor([0, 3, 5, 9]), persistent=False)

    def forward(self, x):
        h = self.features(x)
        for block in self.blocks:
            h = block(h)
        h = h + self.emb(self.tokens).mean(0)
        h = self.heads['skip'](h)
        h = self.heads['prob'](self.heads['cls'](h))
        return h + self.gap(x).flatten(1).sum(1, keepdim=True)


MODELS = {
    # name: (constructor, input shape, compare train-mode outputs)
    'net': (Net, (4, 3, 32, 32), True),
    'bnnet': (BNNet, (6, 3, 12, 12), True),
    'nested': (Nested, (2, 3, 16, 16), False),  # Dropout: eval only
}

# Layers whose default initialisation is compared: (spec for the C++ side,
# PyTorch module, whether the values are bounded (uniform) so that min / max
# are seed-independent).
INIT_LAYERS = [
    ({'layer': 'Linear', 'args': [400, 3000]}, lambda: nn.Linear(400, 3000), True),
    ({'layer': 'Conv2d', 'args': [16, 2000, 3, 3, 1]}, lambda: nn.Conv2d(16, 2000, 3), True),
    ({'layer': 'Conv2d', 'args': [8, 1024, 3, 5, 2]},
     lambda: nn.Conv2d(8, 1024, (3, 5), groups=2), True),
    ({'layer': 'Embedding', 'args': [3000, 200]}, lambda: nn.Embedding(3000, 200), False),
    ({'layer': 'BatchNorm2d', 'args': [64]}, lambda: nn.BatchNorm2d(64), True),
    ({'layer': 'BatchNorm1d', 'args': [64]}, lambda: nn.BatchNorm1d(64), True),
    ({'layer': 'LayerNorm', 'args': [500]}, lambda: nn.LayerNorm(500), True),
]


def dtype_name(dt):
    return str(dt).replace('torch.', '')


def randomize_batchnorm(model, gen):
    """Non-trivial running statistics and affine parameters, so that eval
    mode and loading actually matter."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.affine:
                    m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                    m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
                if m.track_running_stats:
                    m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=gen))
                    m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
                    m.num_batches_tracked.fill_(3)


def run_model(model, x, train):
    """Eval output, then (if `train`) train output and the state_dict after it."""
    out = {}
    model.eval()
    with torch.no_grad():
        out['eval'] = model(x)
    if train:
        model.train()
        with torch.no_grad():
            out['train'] = model(x)
        out['after_train'] = collections.OrderedDict(
            (k, v.clone()) for k, v in model.state_dict().items())
    return out


def load_error(model, sd, strict=True):
    """PyTorch's RuntimeError text, or the repr of the _IncompatibleKeys."""
    try:
        return 'ok: ' + str(model.load_state_dict(sd, strict=strict))
    except RuntimeError as e:
        return 'error: ' + str(e)


def with_metadata(items, metadata):
    sd = collections.OrderedDict(items)
    sd._metadata = metadata
    return sd


def error_variants(sd):
    """State dicts that fail (or half-fail) to load, by name. Each keeps the
    original _metadata, as an edited PyTorch state_dict would."""
    keys = list(sd.keys())
    meta = sd._metadata
    first_param = next(k for k in keys if k.endswith('weight'))
    out = {
        'missing': with_metadata([(k, v) for k, v in sd.items() if k != keys[-1]], meta),
        'unexpected': with_metadata(list(sd.items()) + [('extra.weight', torch.zeros(2, 2))],
                                    meta),
        'size': with_metadata([(k, torch.zeros(3, 7) if k == first_param else v)
                               for k, v in sd.items()], meta),
        'combined': with_metadata([(k, torch.zeros(1) if k == first_param else v)
                                   for k, v in sd.items() if k != keys[1]]
                                  + [('zz.bias', torch.zeros(1)), ('aa', torch.zeros(1))],
                                  meta),
        'prefix': with_metadata([('module.' + k, v) for k, v in sd.items()],
                                collections.OrderedDict(
                                    (('module.' + p) if p else 'module', v)
                                    for p, v in meta.items())),
    }
    return out


def legacy_batchnorm_variant(sd):
    """A version-1 BatchNorm state_dict: no num_batches_tracked, version 1."""
    items = [(k, v) for k, v in sd.items() if not k.endswith('num_batches_tracked')]
    meta = collections.OrderedDict((p, dict(v, version=1) if 'version' in v else v)
                                   for p, v in sd._metadata.items())
    return with_metadata(items, meta)


def tensor_stats(t):
    t = t.detach().double().flatten()
    return {'n': t.numel(), 'min': t.min().item(), 'max': t.max().item(),
            'mean': t.mean().item(), 'std': t.std().item() if t.numel() > 1 else 0.0}


# ---- torch -> wick -------------------------------------------------------------

def torch_to_wick(binary, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    cases = {'models': {}, 'init': []}
    for name, (ctor, in_shape, train) in MODELS.items():
        model = ctor()
        randomize_batchnorm(model, gen)
        sd = model.state_dict()
        case = {
            'class': type(model).__name__,
            'state_dict': [[k, list(v.shape), dtype_name(v.dtype)] for k, v in sd.items()],
            'metadata': [[p, m['version']] for p, m in sd._metadata.items()],
            'named_parameters': [n for n, _ in model.named_parameters()],
            'named_buffers': [n for n, _ in model.named_buffers()],
            'named_modules': [[n, type(m).__name__] for n, m in model.named_modules()],
            'named_children': [n for n, _ in model.named_children()],
            'repr': repr(model),
            'train': train,
        }
        torch.save(sd, os.path.join(out_dir, name + '_sd.pt'))
        x = torch.randn(in_shape, generator=gen)
        io = {'x': x}
        io.update(run_model(model, x, train))
        torch.save(io, os.path.join(out_dir, name + '_io.pt'))

        # load_state_dict reports, strict and not, on a fresh model each time.
        errors = {}
        for variant, bad in error_variants(sd).items():
            fname = '%s_bad_%s.pt' % (name, variant)
            torch.save(bad, os.path.join(out_dir, fname))
            errors[variant] = {
                'file': fname,
                'strict': load_error(ctor(), bad, strict=True),
                'non_strict': load_error(ctor(), bad, strict=False),
            }
        if name == 'bnnet':
            legacy = legacy_batchnorm_variant(sd)
            torch.save(legacy, os.path.join(out_dir, 'bnnet_legacy.pt'))
            m = ctor()
            errors['legacy'] = {'file': 'bnnet_legacy.pt', 'strict': load_error(m, legacy),
                                'non_strict': load_error(ctor(), legacy, strict=False)}
            torch.save(m.state_dict(), os.path.join(out_dir, 'bnnet_legacy_loaded.pt'))
        case['errors'] = errors
        cases['models'][name] = case

    for spec, make, bounded in INIT_LAYERS:
        layer = make()
        for pname, t in list(layer.named_parameters()) + list(layer.named_buffers()):
            entry = dict(spec)
            entry.update({'tensor': pname, 'shape': list(t.shape), 'dtype': dtype_name(t.dtype),
                          'bounded': bounded, 'stats': tensor_stats(t)})
            cases['init'].append(entry)

    with open(os.path.join(out_dir, 'cases.json'), 'w') as f:
        json.dump(cases, f, indent=1)
    env = dict(os.environ, WICK_NN_INTEROP_DIR=out_dir)
    return subprocess.call([binary, '--gtest_filter=TorchToWick.*', '--gtest_brief=1'], env=env)


# ---- wick -> torch -------------------------------------------------------------

def max_diff(a, b):
    return (a.double() - b.double()).abs().max().item()


def close(a, b):
    return a.shape == b.shape and bool(((a.double() - b.double()).abs()
                                        <= TOL + TOL * b.double().abs()).all())


def wick_to_torch(binary, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rc = subprocess.call([binary, 'write', out_dir])
    if rc != 0:
        print('FAIL: %s write %s exited with %d' % (binary, out_dir, rc))
        return 1
    failures = []

    def check(cond, what):
        print(('ok    ' if cond else 'FAIL  ') + what)
        if not cond:
            failures.append(what)

    for name, (ctor, _, train) in MODELS.items():
        sd = torch.load(os.path.join(out_dir, name + '_sd.pt'), weights_only=True)
        io = torch.load(os.path.join(out_dir, name + '_io.pt'), weights_only=True)
        model = ctor()
        reference = model.state_dict()
        check(list(sd.keys()) == list(reference.keys()), name + ': keys and order')
        check(all(sd[k].dtype == v.dtype and sd[k].shape == v.shape
                  for k, v in reference.items() if k in sd), name + ': dtypes and shapes')
        check(getattr(sd, '_metadata', None) == reference._metadata,
              name + ': _metadata %r' % (getattr(sd, '_metadata', None),))
        try:
            result = model.load_state_dict(sd, strict=True)
            check(not result.missing_keys and not result.unexpected_keys,
                  name + ': load_state_dict(strict=True)')
        except RuntimeError as e:
            check(False, name + ': load_state_dict(strict=True): ' + str(e))
            continue
        out = run_model(model, io['x'], train)
        check(close(out['eval'], io['eval']),
              name + ': eval output (max diff %.3g)' % max_diff(out['eval'], io['eval']))
        if train:
            check(close(out['train'], io['train']),
                  name + ': train output (max diff %.3g)' % max_diff(out['train'], io['train']))
            after = io['after_train']
            check(list(after.keys()) == list(out['after_train'].keys()),
                  name + ': state_dict keys after a training step')
            for k, v in out['after_train'].items():
                if k in after:
                    check(after[k].dtype == v.dtype and close(after[k], v),
                          '%s: %s after a training step' % (name, k))
    print('%d failure(s)' % len(failures))
    return 1 if failures else 0


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ('torch_to_wick', 'wick_to_torch'):
        print(__doc__)
        return 2
    direction, binary, out_dir = sys.argv[1:]
    return (torch_to_wick if direction == 'torch_to_wick' else wick_to_torch)(binary, out_dir)


if __name__ == '__main__':
    sys.exit(main())
