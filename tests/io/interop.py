#!/usr/bin/python3
"""Checkpoint interop between wick and the real PyTorch (1.13, Debian's python3-torch).

    interop.py torch_to_wick WICK_IO_INTEROP WORKDIR
        torch.save writes a corpus (every dtype, views, shared storages, tied entries,
        stride 0, Parameters, nested containers, optimizer/scheduler states, a general
        checkpoint, the legacy format, >65,535 records, archives rewritten by Python's
        zipfile, pickle protocols 3 to 5 in both formats); wick must describe each exactly
        as torch.load sees it, must re-save it
        so that torch.load returns the same again (byte for byte the same file where
        torch's layout is reproduced), and must refuse a pickled module and a pickle
        that calls os.system.
    interop.py wick_to_torch WICK_IO_INTEROP WORKDIR
        wick writes its corpus with a description of each value; torch.load must see
        exactly that, weights_only=True must accept the files without floats, and
        every global in every pickle must be one that torch 2.x's weights_only loader
        allows.

A description (see interop.cpp) lists every leaf, and for tensors dtype, shape,
strides, offset, requires_grad, the SHA-256 of the whole storage and first-met ids of
tensors, storages, lists and dicts, so that equal descriptions mean equal values and
equal sharing.
"""
import collections
import hashlib
import json
import math
import os
import pickletools
import shutil
import struct
import subprocess
import sys
import zipfile

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from results import Results  # noqa: E402  (tests/results.py)
from seed_net import Net  # noqa: E402

# The globals torch 2.x's weights_only unpickler accepts that a wick file may use.
ALLOWED_GLOBALS = {
    'collections OrderedDict', 'collections Counter', 'torch._utils _rebuild_tensor_v2',
    'torch._utils _rebuild_parameter', 'torch Size', '_codecs encode',
} | {'torch ' + c + 'Storage' for c in (
    'Float', 'Double', 'Half', 'BFloat16', 'Char', 'Short', 'Int', 'Long', 'Byte', 'Bool',
    'ComplexFloat', 'ComplexDouble')}

# Files wick re-saves differently from torch on purpose, and why.
NOT_BYTE_IDENTICAL = {
    'python_values': "b'' is pickled as _codecs.encode('', 'latin1') (allowed by torch 2.x's "
                     "weights_only loader) instead of Python's bytes()",
}

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8,
          torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64,
          torch.complex128]


def dtype_name(dt):
    return str(dt).replace('torch.', '')


class Describer:
    def __init__(self):
        self.storages, self.tensors, self.containers = {}, {}, {}

    @staticmethod
    def _id(ids, key):
        return ids.setdefault(key, len(ids))

    def storage_bytes(self, t):
        st = t.storage()
        whole = torch.empty(0, dtype=t.dtype).set_(st, 0, (st.size(),), (1,))
        if t.dtype == torch.bool:
            return whole.to(torch.uint8).numpy().tobytes()
        return whole.view(torch.uint8).numpy().tobytes()

    def __call__(self, v):
        if v is None:
            return {'type': 'None'}
        if isinstance(v, bool):
            return {'type': 'bool', 'value': v}
        if isinstance(v, int):
            return {'type': 'int', 'value': str(v)}
        if isinstance(v, float):
            return {'type': 'float', 'bits': struct.pack('>d', v).hex()}
        if isinstance(v, str):
            return {'type': 'str', 'value': v}
        if isinstance(v, bytes):
            return {'type': 'bytes', 'hex': v.hex()}
        if isinstance(v, torch.Tensor):
            data = self.storage_bytes(v)
            return {'type': 'Parameter' if isinstance(v, nn.Parameter) else 'Tensor',
                    'dtype': dtype_name(v.dtype), 'shape': list(v.shape),
                    'stride': list(v.stride()), 'offset': v.storage_offset(),
                    'requires_grad': v.requires_grad,
                    'tensor': self._id(self.tensors, id(v)),
                    'storage': self._id(self.storages, v.storage()._cdata),
                    'storage_nbytes': len(data), 'sha256': hashlib.sha256(data).hexdigest()}
        if isinstance(v, (list, tuple)):
            out = {'type': 'list' if isinstance(v, list) else 'tuple',
                   'items': [self(x) for x in v]}
            if isinstance(v, list):
                out['id'] = self._id(self.containers, id(v))
            return out
        if isinstance(v, dict):
            ordered = isinstance(v, collections.OrderedDict)
            counter = isinstance(v, collections.Counter)
            out = {'type': 'OrderedDict' if ordered else 'Counter' if counter else 'dict',
                   'id': self._id(self.containers, id(v))}
            out['items'] = [[self(k), self(x)] for k, x in v.items()]
            meta = getattr(v, '_metadata', None) if ordered else None
            if meta is not None:
                out['metadata'] = self(meta)
            return out
        raise TypeError('cannot describe %r' % type(v))


def describe(v):
    return Describer()(v)


def first_difference(a, b, path='root'):
    if type(a) != type(b):
        return '%s: %r vs %r' % (path, a, b)
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return '%s.%s missing on one side' % (path, k)
            d = first_difference(a[k], b[k], path + '.' + k)
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return '%s: length %d vs %d' % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, '%s[%d]' % (path, i))
            if d:
                return d
        return None
    return None if a == b else '%s: %r vs %r' % (path, a, b)


def pickle_globals(path):
    """Every GLOBAL in an archive's data.pkl, as 'module name'."""
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith('/data.pkl'))
        data = z.read(name)
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == 'GLOBAL'}


def run(exe, *args):
    return subprocess.run([exe] + list(args), capture_output=True, text=True)


# ---- torch writes, wick reads ---------------------------------------------------------

class Evil:
    def __reduce__(self):
        return (os.system, ('echo this must never run',))


def random_tensor(shape, dtype):
    if dtype == torch.bool:
        return torch.rand(shape) > 0.5
    if dtype.is_complex:
        return torch.randn(shape, dtype=dtype)
    if dtype.is_floating_point:
        return (torch.randn(shape) * 10).to(dtype)
    info = torch.iinfo(dtype)
    return torch.randint(max(info.min, -1000), min(info.max, 1000), shape, dtype=dtype)


def stepped_optimizer_states():
    out = {}
    for name, make in [
        ('sgd_momentum', lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
        ('sgd_plain', lambda p: torch.optim.SGD(p, lr=0.01)),
        ('adam_amsgrad', lambda p: torch.optim.Adam(p, amsgrad=True)),
        ('adamw', lambda p: torch.optim.AdamW(p)),
        ('rmsprop', lambda p: torch.optim.RMSprop(p, momentum=0.5, centered=True)),
        ('adagrad', lambda p: torch.optim.Adagrad(p)),
    ]:
        model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
        opt = make(model.parameters())
        for _ in range(2):
            opt.zero_grad()
            model(torch.randn(8, 5)).pow(2).mean().backward()
            opt.step()
        out[name] = (model, opt)
    return out


def torch_corpus():
    torch.manual_seed(0)
    cases = collections.OrderedDict()
    net = Net()
    cases['recipe_state_dict'] = net.state_dict()
    seq = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Dropout(0.5),
                        nn.MaxPool2d(2))
    cases['bn_sequential_state_dict'] = seq.state_dict()
    cases['keep_vars_state_dict'] = net.state_dict(keep_vars=True)
    opts = stepped_optimizer_states()
    for name, (model, opt) in opts.items():
        cases[name + '_state'] = opt.state_dict()
    model, sgd = opts['sgd_momentum']
    sched = torch.optim.lr_scheduler.StepLR(sgd, step_size=2, gamma=0.5)
    sgd.step()
    sched.step()
    cases['steplr_state'] = {'scheduler': sched.state_dict(), 'optimizer': sgd.state_dict()}
    multistep = torch.optim.lr_scheduler.MultiStepLR(
        torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1), milestones=[2, 4, 4])
    cases['multisteplr_state'] = multistep.state_dict()  # milestones is a Counter
    cases['general_checkpoint'] = {'epoch': 5, 'model_state_dict': model.state_dict(),
                                   'optimizer_state_dict': sgd.state_dict(), 'loss': 0.4}
    dt = collections.OrderedDict()
    for d in DTYPES:
        dt[dtype_name(d)] = random_tensor((3, 4), d)
        dt[dtype_name(d) + '_0dim'] = random_tensor((), d)
        dt[dtype_name(d) + '_empty'] = random_tensor((0, 5), d)
    cases['all_dtypes'] = dt
    b = torch.arange(24.).view(4, 6)
    cases['views'] = {
        'base': b, 'row_slice': b[1:3], 'col_slice': b[:, 2:5], 'stepped': b[:, ::2],
        'transposed': b.t(), 'tied_a': b, 'tied_b': b, 'flat': b.view(24),
        'expanded': torch.arange(3.).view(3, 1).expand(3, 4),
        'slice_only': torch.arange(12, dtype=torch.int64)[2:4],
        'selected': torch.arange(24, dtype=torch.int16).view(2, 3, 4)[:, 2],
        'permuted': torch.randn(2, 3, 4).to(torch.bfloat16).permute(2, 0, 1),
        'empty_1d': torch.empty(0), 'empty_3d': torch.empty(2, 0, 3)}
    shared = [1, 2]
    cases['python_values'] = {
        'none': None, 'bools': [True, False], 'text': 'h\u00e9llo \u2713 \U0001f642',
        'ints': [0, 255, 256, 65535, 65536, -1, -256, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
                 2**40, -2**40, 2**63 - 1, -2**63],
        'floats': [math.nan, math.inf, -math.inf, -0.0, 0.001, 1e-08, 0.9, 0.999, 5e-324],
        'tuple': (1, (), (1, 2, 3, 4), ('x',)), 'int_keys': {0: 'a', 7: 'b'},
        'bytes': b'\x00\x01\x7f\x80\xff', 'empty_bytes': b'', 'shared': [shared, shared],
        'long_list': list(range(2500)), 'empty_dict': {}, 'empty_list': [],
        'ordered': collections.OrderedDict([('z', 1), ('a', 2)]),
        'counter': collections.Counter({'b': 2, 7: 1}), 'empty_counter': collections.Counter()}
    cases['requires_grad'] = {'leaf': torch.randn(3, requires_grad=True),
                              'param': nn.Parameter(torch.randn(2, 2)),
                              'frozen': nn.Parameter(torch.randn(2), requires_grad=False)}
    cases['big_state_dict'] = nn.Sequential(*[nn.Linear(2, 2) for _ in range(600)]).state_dict()
    cases['zip64_records'] = [torch.tensor(i, dtype=torch.int32) for i in range(70000)]
    return cases


def rewrite_zip(src, dst, compression, prefix=None, version_first=False, dirs=False):
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        old = names[0].split('/')[0]
        records = [(n, zin.read(n)) for n in names]
    if version_first:
        records.sort(key=lambda r: not r[0].endswith('/version'))
    with zipfile.ZipFile(dst, 'w', compression=compression) as zout:
        new = prefix or old
        if dirs:
            zout.writestr(new + '/', b'')
            zout.writestr(new + '/data/', b'')
        for n, data in records:
            zout.writestr(new + n[len(old):], data)


def torch_to_wick(exe, work):
    res = Results()
    src_dir, resaved = os.path.join(work, 'torch'), os.path.join(work, 'resaved')
    for d in (src_dir, resaved):
        os.makedirs(d, exist_ok=True)
    files = []
    corpus = torch_corpus()
    for name, obj in corpus.items():
        path = os.path.join(src_dir, name + '.pt')
        torch.save(obj, path)
        files.append((name, path, True))
    ckpt = os.path.join(src_dir, 'general_checkpoint.pt')
    legacy = os.path.join(src_dir, 'legacy_checkpoint.pt')
    torch.save(torch.load(ckpt), legacy, _use_new_zipfile_serialization=False)
    files.append(('legacy_checkpoint', legacy, False))
    legacy_views = os.path.join(src_dir, 'legacy_views.pt')
    torch.save(torch.load(os.path.join(src_dir, 'views.pt')), legacy_views,
               _use_new_zipfile_serialization=False)
    files.append(('legacy_views', legacy_views, False))
    # torch.save(..., pickle_protocol=N): frames, BINBYTES, SHORT_BINUNICODE,
    # MEMOIZE and STACK_GLOBAL from protocol 3 and 4 on, in both containers.
    # (The two largest cases add time, not opcodes.)
    for proto in (3, 4, 5):
        for name, obj in corpus.items():
            if name in ('big_state_dict', 'zip64_records'):
                continue
            path = os.path.join(src_dir, '%s_protocol%d.pt' % (name, proto))
            torch.save(obj, path, pickle_protocol=proto)
            files.append(('%s_protocol%d' % (name, proto), path, False))
        for base in ('general_checkpoint', 'views'):
            path = os.path.join(src_dir, 'legacy_%s_protocol%d.pt' % (base, proto))
            torch.save(torch.load(os.path.join(src_dir, base + '.pt')), path,
                       _use_new_zipfile_serialization=False, pickle_protocol=proto)
            files.append(('legacy_%s_protocol%d' % (base, proto), path, False))
    for tag, kw in [('deflated', dict(compression=zipfile.ZIP_DEFLATED)),
                    ('zipfile_stored', dict(compression=zipfile.ZIP_STORED)),
                    ('version_first_dirs_spaced_prefix',
                     dict(compression=zipfile.ZIP_STORED, prefix='my ckpt',
                          version_first=True, dirs=True))]:
        for base in ('general_checkpoint', 'views'):
            path = os.path.join(src_dir, '%s_%s.pt' % (base, tag))
            rewrite_zip(os.path.join(src_dir, base + '.pt'), path, **kw)
            files.append((base + '_' + tag, path, False))

    for name, path, torch_layout in files:
        want = describe(torch.load(path))
        for mode in ([], ['--copy']):
            r = run(exe, 'describe', path, *mode)
            ok = r.returncode == 0
            diff = first_difference(want, json.loads(r.stdout)) if ok else r.stderr
            res.check('%s: wick reads %s' % (name, mode or 'mapped'), ok and diff is None, diff)
        for layout in ('1.13', '2'):
            out = os.path.join(resaved, layout, os.path.basename(path))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            r = run(exe, 'resave', path, out, layout)
            if r.returncode != 0:
                res.check('%s: wick re-saves (%s)' % (name, layout), False, r.stderr)
                continue
            diff = first_difference(want, describe(torch.load(out)))
            res.check('%s: torch reads wick (%s layout)' % (name, layout), diff is None, diff)
            bad = pickle_globals(out) - ALLOWED_GLOBALS
            res.check('%s: globals allowed' % name, not bad, bad)
            res.check('%s: zip CRCs' % name, zipfile.ZipFile(out).testzip() is None)
            if layout == '1.13' and torch_layout and name not in NOT_BYTE_IDENTICAL:
                with open(path, 'rb') as a, open(out, 'rb') as b:
                    same = a.read() == b.read()
                res.check('%s: byte-identical to torch 1.13' % name, same)

    # What must be refused, with a message that says why.
    module_path = os.path.join(src_dir, 'whole_module.pt')
    torch.save(Net(), module_path)
    r = run(exe, 'describe', module_path)
    res.check('whole module refused', r.returncode == 1 and 'seed_net.Net' in r.stderr
              and 'state_dict()' in r.stderr, r.stderr)
    evil_path = os.path.join(src_dir, 'evil.pt')
    torch.save({'x': Evil()}, evil_path)
    r = run(exe, 'describe', evil_path)
    res.check('os.system refused', r.returncode == 1 and 'posix.system' in r.stderr and
              'never run' not in r.stdout, r.stderr)
    return res.finish()


# ---- wick writes, torch reads ---------------------------------------------------------

def wick_to_torch(exe, work):
    res = Results()
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    r = run(exe, 'write', work)
    res.check('wick writes its corpus', r.returncode == 0, r.stderr)
    names = sorted(f[:-3] for f in os.listdir(work) if f.endswith('.pt'))
    res.check('corpus is there', len(names) >= 6, names)
    for name in names:
        path = os.path.join(work, name + '.pt')
        with open(os.path.join(work, name + '.json')) as f:
            want = json.load(f)
        diff = first_difference(want, describe(torch.load(path)))
        res.check('%s: torch reads wick' % name, diff is None, diff)
        if name.endswith('_wo'):
            try:
                diff = first_difference(want, describe(torch.load(path, weights_only=True)))
            except Exception as e:  # noqa: BLE001 - report whatever torch raised
                diff = repr(e)
            res.check('%s: torch weights_only reads wick' % name, diff is None, diff)
        bad = pickle_globals(path) - ALLOWED_GLOBALS
        res.check('%s: globals allowed' % name, not bad, bad)
        with zipfile.ZipFile(path) as z:
            res.check('%s: zip CRCs' % name, z.testzip() is None)
            infos = z.infolist()
            res.check('%s: records stored, 64-aligned' % name,
                      all(i.compress_type == zipfile.ZIP_STORED for i in infos) and
                      all((i.header_offset + 30 + len(i.filename.encode()) +
                           len(local_extra(path, i))) % 64 == 0 for i in infos))
    return res.finish()


def local_extra(path, info):
    with open(path, 'rb') as f:
        f.seek(info.header_offset + 28)
        n = struct.unpack('<H', f.read(2))[0]
        f.seek(info.header_offset + 30 + len(info.filename.encode()))
        return f.read(n)


if __name__ == '__main__':
    if len(sys.argv) != 4 or sys.argv[1] not in ('torch_to_wick', 'wick_to_torch'):
        sys.exit(__doc__)
    fn = torch_to_wick if sys.argv[1] == 'torch_to_wick' else wick_to_torch
    sys.exit(fn(sys.argv[2], sys.argv[3]))
