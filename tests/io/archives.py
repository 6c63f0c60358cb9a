#!/usr/bin/python3
"""TorchScript archives, libtorch's files and pickled whole models, against the real
PyTorch 1.13 (and libtorch 1.13 where it is installed).

    archives.py WICK_IO_INTEROP WICK LIBTORCH_ARCHIVES|- WORKDIR

- torch.jit.script(m).save / torch.jit.trace(m).save of the recipe's Net, a model with
  BatchNorm and a nested module: wick reads each as the state_dict that
  torch.jit.load(path).state_dict() gives (keys, order, dtypes, bytes, _metadata), the
  recipe's Net loads into wick's Net and computes what the scripted module computes,
  and `wick convert` extracts the same tensors to .pt (torch.load reads them) and to
  .safetensors.
- libtorch (tests/io/libtorch_archives.cpp): torch::save of a module, of an SGD and an
  Adam optimizer, of a vector of tensors, and torch::pickle_save: wick reads the module
  as torch.jit.load(...).state_dict() and each optimizer as the PyTorch-layout
  state_dict the generator wrote from libtorch's in-memory state.
- torch.save(model) of the recipe's Net, a torchvision ResNet-18 and a model with custom
  submodule classes (protocols 2 and 4, zip and legacy formats): refused by default;
  with extract_state_dict, read as model.state_dict(); `wick convert
  --extract-state-dict` writes a file torch.load(weights_only=True) accepts.
- Sets, frozensets and bytearrays (protocols 2, 4, 5) load; calling os.system stays
  refused with extract_state_dict, and nothing runs.
"""
import collections
import hashlib
import json
import os
import struct
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, '..'))
from interop import Describer, Results, first_difference, run  # noqa: E402
from seed_net import Net  # noqa: E402


class SetDescriber(Describer):
    """interop.py's description, plus sets (items sorted: Python's order is a hash's)."""

    def __call__(self, v):
        if isinstance(v, (set, frozenset)):
            items = sorted((self(x) for x in v), key=lambda d: json.dumps(d, sort_keys=True))
            return {'type': type(v).__name__, 'items': items}
        if isinstance(v, bytearray):
            return {'type': 'bytes', 'hex': bytes(v).hex()}
        return super().__call__(v)


def sort_sets(d):
    """A wick description with set items in the order SetDescriber gives them."""
    if isinstance(d, dict):
        d = {k: sort_sets(x) for k, x in d.items()}
        if d.get('type') in ('set', 'frozenset'):
            d['items'] = sorted(d['items'], key=lambda x: json.dumps(x, sort_keys=True))
        return d
    if isinstance(d, list):
        return [sort_sets(x) for x in d]
    return d


def plain_state_dict(model):
    """model.state_dict() without _metadata: the class versions it holds are class
    attributes, which a pickle does not carry."""
    return collections.OrderedDict(model.state_dict())


class BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(F.relu(self.bn(self.conv(x))).mean((2, 3)))


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, n)
        self.scale = nn.Parameter(torch.randn(n))
        self.register_buffer('count', torch.zeros((), dtype=torch.int64))
        self.register_buffer('scratch', torch.zeros(n), persistent=False)
        self.act = F.relu

    def forward(self, x):
        return self.act(self.lin(x)) * self.scale


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(3), Block(3)])
        self.head = nn.Sequential(nn.Linear(3, 5, bias=False), nn.ReLU(), nn.Linear(5, 2))
        self.register_buffer('table', torch.arange(6, dtype=torch.float64).reshape(2, 3))

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def check_value(res, name, exe, path, want, *flags):
    for mode in ([], ['--copy']):
        r = run(exe, 'describe', path, *mode, *flags)
        ok = r.returncode == 0
        diff = first_difference(want, sort_sets(json.loads(r.stdout))) if ok else r.stderr
        res.check('%s: wick reads %s' % (name, mode or 'mapped'), ok and diff is None, diff)


def safetensors_tensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop('__metadata__', None)
    return {k: (v['dtype'], v['shape'], hashlib.sha256(
        data[v['data_offsets'][0]:v['data_offsets'][1]]).hexdigest()) for k, v in header.items()}


def torchscript(res, exe, wick, work):
    torch.manual_seed(0)
    bn = BNNet()
    bn(torch.randn(4, 3, 6, 6))  # running statistics that are not the initial ones
    bn.eval()
    cases = [('net_script', torch.jit.script(Net())),
             ('net_trace', torch.jit.trace(Net(), torch.randn(1, 3, 32, 32))),
             ('bn_script', torch.jit.script(bn)), ('nested_script', torch.jit.script(Nested()))]
    for name, module in cases:
        path = os.path.join(work, name + '.pt')
        module.save(path)
        loaded = torch.jit.load(path)
        sd = loaded.state_dict()
        check_value(res, name, exe, path, Describer()(sd))
        out = os.path.join(work, name + '_weights.pt')
        r = run(wick, 'convert', path, out)
        ok = r.returncode == 0
        diff = first_difference(Describer()(sd), Describer()(torch.load(out, weights_only=True))) \
            if ok else r.stderr
        res.check('%s: wick convert to .pt, torch.load reads it' % name, ok and diff is None, diff)
        st = os.path.join(work, name + '.safetensors')
        r = run(wick, 'convert', path, st)
        want = {k: (v.dtype, list(v.shape), hashlib.sha256(v.contiguous().numpy().tobytes())
                    .hexdigest()) for k, v in sd.items()}
        want = {k: ({torch.float32: 'F32', torch.int64: 'I64', torch.float64: 'F64'}[d], s, h)
                for k, (d, s, h) in want.items()}
        got = safetensors_tensors(st) if r.returncode == 0 else r.stderr
        res.check('%s: wick convert to .safetensors' % name, got == want, got)
        r = run(wick, 'inspect', path)
        res.check('%s: wick inspect lists the state_dict' % name,
                  r.returncode == 0 and all(k in r.stdout for k in sd), r.stderr)
        if name.startswith('net_'):
            x = torch.arange(3 * 32 * 32, dtype=torch.float32).reshape(1, 3, 32, 32) / 3072
            want_out = loaded(x).detach().flatten().tolist()
            r = run(exe, 'seed-net', path)
            got_out = json.loads(r.stdout) if r.returncode == 0 else None
            close = got_out is not None and len(got_out) == len(want_out) and all(
                abs(a - b) <= 1e-5 * (1 + abs(b)) for a, b in zip(got_out, want_out))
            res.check('%s: loads into wick\'s Net and computes the same' % name, close,
                      r.stderr or (got_out, want_out))


def libtorch(res, exe, generator, work):
    out = os.path.join(work, 'libtorch')
    os.makedirs(out, exist_ok=True)
    r = subprocess.run([generator, out], capture_output=True, text=True)
    res.check('libtorch generator runs', r.returncode == 0, r.stderr)
    if r.returncode:
        return
    for name in ('module', 'tensors'):
        path = os.path.join(out, name + '.pt')
        check_value(res, 'libtorch ' + name, exe, path,
                    Describer()(torch.jit.load(path).state_dict()))
    for name in ('sgd', 'adam'):
        want = Describer()(torch.load(os.path.join(out, name + '_expected.pt')))
        check_value(res, 'libtorch ' + name, exe, os.path.join(out, name + '.pt'), want)
    path = os.path.join(out, 'pickle.pt')
    check_value(res, 'libtorch pickle_save', exe, path, Describer()(torch.load(path)))


def whole_models(res, exe, wick, work):
    torch.manual_seed(1)
    cases = [('net', Net()), ('resnet18', torchvision.models.resnet18()), ('nested', Nested())]
    for name, model in cases:
        want = Describer()(plain_state_dict(model))
        for proto in (2, 4):
            for legacy in (False, True):
                tag = '%s_whole_p%d%s' % (name, proto, '_legacy' if legacy else '')
                path = os.path.join(work, tag + '.pt')
                torch.save(model, path, pickle_protocol=proto,
                           _use_new_zipfile_serialization=not legacy)
                r = run(exe, 'describe', path)
                res.check('%s: refused without extract_state_dict' % tag,
                          r.returncode == 1 and 'torch.save(model)' in r.stderr, r.stderr)
                check_value(res, tag, exe, path, want, '--extract-state-dict')
        out = os.path.join(work, name + '_extracted.pt')
        r = run(wick, 'convert', '--extract-state-dict',
                os.path.join(work, '%s_whole_p2.pt' % name), out)
        ok = r.returncode == 0
        diff = first_difference(want, Describer()(torch.load(out, weights_only=True))) \
            if ok else r.stderr
        res.check('%s: wick convert --extract-state-dict' % name, ok and diff is None, diff)
        if ok:
            model.load_state_dict(torch.load(out))


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ('touch ' + self.marker,))


def sets_and_hostile(res, exe, work):
    value = {'s': {3, 1, 2}, 'f': frozenset({'a', 'b'}), 'e': set(), 'b': bytearray(b'\x00ab'),
             't': torch.ones(2)}
    for proto in (2, 3, 4, 5):
        path = os.path.join(work, 'sets_p%d.pt' % proto)
        torch.save(value, path, pickle_protocol=proto)
        check_value(res, 'sets protocol %d' % proto, exe, path, SetDescriber()(torch.load(path)))
    marker = os.path.join(work, 'MARKER')
    path = os.path.join(work, 'evil.pt')
    torch.save({'x': Evil(marker)}, path, pickle_protocol=4)
    for flags in ([], ['--extract-state-dict']):
        r = run(exe, 'describe', path, *flags)
        res.check('os.system refused %s' % flags, r.returncode == 1 and 'system' in r.stderr
                  and not os.path.exists(marker), r.stderr)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    exe, wick, generator, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    res = Results()
    torchscript(res, exe, wick, work)
    if generator != '-':
        libtorch(res, exe, generator, work)
    else:
        res.check('libtorch is installed (scripts/setup.sh installs libtorch-dev)', False)
    whole_models(res, exe, wick, work)
    sets_and_hostile(res, exe, work)
    return res.finish()


if __name__ == '__main__':
    sys.exit(main())
