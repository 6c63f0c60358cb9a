#!/usr/bin/python3
"""Sharded checkpoints (docs/formats.md §9) between the `wick` program and the real
PyTorch 1.13 (without transformers, which Debian lacks: its layout is made here).

    sharded.py WICK WORKDIR

- torch.save writes pytorch_model-0000i-of-0000n.bin shards and a
  pytorch_model.bin.index.json as transformers' save_pretrained did before
  safetensors (shards filled in state_dict order, the index dumped with indent=2
  and sort_keys): `wick inspect --json` lists every tensor in state_dict order with
  its shard, `wick verify` passes, and `wick convert` to one .pt gives what
  torch.load of the shards gives, tensor for tensor.
- Python writes a safetensors-sharded directory (a small writer here: the
  `safetensors` package is not installed): wick reads it the same way.
- `wick convert --max-shard-size` writes safetensors shards whose tensors (read by a
  small safetensors reader here) equal torch's, whose split is the one
  huggingface_hub's split_torch_state_dict_into_shards makes (when no tensor is larger
  than the limit; see split() for the one difference), and whose index is
  byte for byte json.dumps(index, indent=2, sort_keys=True) + "\\n"; with --dtype the
  split follows the cast sizes.
"""
import collections
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from interop import Results  # noqa: E402
from seed_net import Net  # noqa: E402

ST_CODE = {torch.float32: 'F32', torch.float64: 'F64', torch.float16: 'F16',
           torch.bfloat16: 'BF16', torch.int8: 'I8', torch.int16: 'I16', torch.int32: 'I32',
           torch.int64: 'I64', torch.uint8: 'U8', torch.bool: 'BOOL', torch.complex64: 'C64'}
ST_DTYPE = {v: k for k, v in ST_CODE.items()}

class Checks(Results):
    def check(self, name, ok, detail=''):
        super().check(name, ok, detail)
        return ok


R = Checks()


def wick(exe, *args):
    r = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True)
    R.check('wick %s: no signal' % ' '.join(map(str, args)), r.returncode >= 0, r.stderr)
    return r


def nbytes(t):
    return t.numel() * t.element_size()


def state_dict():
    """The recipe's Net, a BatchNorm's buffers, every dtype, a view and a non-ASCII name,
    in one order that is not the name order."""
    torch.manual_seed(0)
    sd = collections.OrderedDict(Net().state_dict())
    bn = torch.nn.BatchNorm1d(4)
    bn(torch.randn(3, 4))
    for k, v in bn.state_dict().items():
        sd['bn.' + k] = v
    sd['extra.bf16'] = torch.randn(5, 3).to(torch.bfloat16)
    sd['extra.half'] = torch.randn(7).half()
    sd['extra.int8'] = torch.randint(-100, 100, (6,), dtype=torch.int8)
    sd['extra.mask'] = torch.rand(9) > 0.5
    sd['extra.complex'] = torch.randn(2, 2, dtype=torch.complex64)
    sd['extra.double'] = torch.randn(3, dtype=torch.float64)
    sd['extra.scalar'] = torch.tensor(2.5)
    sd['extra.empty'] = torch.zeros(0, 3)
    big = torch.randn(4, 6)
    sd['extra.row'] = big[2]  # a view: the shard saves its whole storage
    sd['\u00e9mbed.w\u00e9ight'] = torch.randn(2, 3)
    return sd


def split(sd, max_size):
    """wick's split: in order, a new shard when the next tensor would not fit, so that a
    tensor larger than max_size is alone. huggingface_hub's split_torch_state_dict_into_shards
    makes the same shards when no tensor is larger than max_size (it puts a larger one
    in a shard of its own ahead of the shard it is filling)."""
    shards, current = [], 0
    for name, t in sd.items():
        if not shards or (shards[-1] and current + nbytes(t) > max_size):
            shards.append([])
            current = 0
        shards[-1].append(name)
        current += nbytes(t)
    return shards


def index_text(weight_map, total):
    return json.dumps({'metadata': {'total_size': total}, 'weight_map': weight_map},
                      indent=2, sort_keys=True) + '\n'


def write_bin_checkpoint(sd, directory, max_size):
    """pytorch_model-0000i-of-0000n.bin and pytorch_model.bin.index.json."""
    os.makedirs(directory)
    shards = split(sd, max_size)
    weight_map = {}
    for i, names in enumerate(shards):
        fn = 'pytorch_model-%05d-of-%05d.bin' % (i + 1, len(shards))
        torch.save({n: sd[n] for n in names}, os.path.join(directory, fn))
        weight_map.update({n: fn for n in names})
    total = sum(nbytes(t) for t in sd.values())
    with open(os.path.join(directory, 'pytorch_model.bin.index.json'), 'w') as f:
        f.write(index_text(weight_map, total))
    return shards


def safetensors_bytes(tensors, metadata):
    """A safetensors file: tensors in the order given."""
    header, data = collections.OrderedDict(), b''
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, t in tensors.items():
        blob = t.contiguous().view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b''
        header[name] = {'dtype': ST_CODE[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + data


def read_safetensors(path):
    """(metadata, OrderedDict name -> tensor) in file order."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n], object_pairs_hook=collections.OrderedDict)
    meta = header.pop('__metadata__', None)
    out = collections.OrderedDict()
    for name, e in header.items():
        a, b = e['data_offsets']
        dtype = ST_DTYPE[e['dtype']]
        if b == a:
            out[name] = torch.empty(e['shape'], dtype=dtype)
        else:
            out[name] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]),
                                         dtype=dtype).reshape(e['shape'])
    return meta, out


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def check_all_equal(name, got, want):
    R.check(name + ': names', list(got) == list(want) or sorted(got) == sorted(want),
            '%s vs %s' % (list(got), list(want)))
    for k, t in want.items():
        R.check('%s: %s' % (name, k), k in got and same(got[k], t),
                '%s vs %s' % (got.get(k), t))


def check_inspect(exe, name, path, want, shard_of, index):
    r = wick(exe, 'inspect', path, '--json')
    if not R.check(name + ': inspect --json exit 0', r.returncode == 0, r.stderr):
        return
    doc = json.loads(r.stdout)
    got = [(t['name'], t['dtype'], t['shape'], t['shard']) for t in doc['tensors']]
    exp = [(k, str(t.dtype).replace('torch.', ''), list(t.shape), shard_of[k])
           for k, t in want.items()]
    R.check(name + ': inspect lists every tensor in order with its shard', got == exp,
            '\n  got  %s\n  want %s' % (got, exp))
    R.check(name + ': inspect index', doc.get('index') == index, doc.get('index'))
    R.check(name + ': inspect total_size', doc.get('total_size') == sum(
        nbytes(t) for t in want.values()), doc.get('total_size'))
    R.check(name + ': inspect shards', [s['name'] for s in doc.get('shards', [])] == sorted(
        set(shard_of.values())), doc.get('shards'))
    r = wick(exe, 'inspect', path)
    lines = r.stdout.splitlines()
    R.check(name + ': inspect shards line', r.returncode == 0 and len(lines) > 2 and
            lines[2].startswith('shards: %d (index %s' % (len(set(shard_of.values())), index)),
            r.stdout[:500])


def check_convert_to_pt(exe, name, path, want, work):
    out = os.path.join(work, name + '.pt')
    r = wick(exe, 'convert', path, out)
    if R.check(name + ': convert to .pt', r.returncode == 0, r.stderr + r.stdout):
        got = torch.load(out, weights_only=True)
        R.check(name + ': .pt keeps the load order', list(got) == list(want),
                '%s vs %s' % (list(got), list(want)))
        check_all_equal(name + ' -> .pt -> torch.load', got, want)


def bin_shards(exe, work):
    sd = state_dict()
    directory = os.path.join(work, 'bin')
    shards = write_bin_checkpoint(sd, directory, 20000)
    R.check('bin: several shards', len(shards) >= 3, len(shards))
    index = os.path.join(directory, 'pytorch_model.bin.index.json')
    # What torch.load gives, shard by shard: the reference.
    want = collections.OrderedDict()
    shard_of = {}
    for i, names in enumerate(shards):
        fn = 'pytorch_model-%05d-of-%05d.bin' % (i + 1, len(shards))
        loaded = torch.load(os.path.join(directory, fn))
        want.update(loaded)
        shard_of.update({n: fn for n in loaded})
    R.check('bin: torch.load of the shards gives the state_dict', list(want) == list(sd) and
            all(same(want[k], sd[k]) for k in sd))
    for path in (directory, index):
        check_inspect(exe, 'bin ' + path, path, want, shard_of, index)
        r = wick(exe, 'verify', path)
        R.check('bin: verify ' + path, r.returncode == 0 and r.stdout == (
            '%s: OK (%d shards, pt-zip, %d tensors, %d bytes, CRC-32 checked, total_size '
            'matches)\n' % (path, len(shards), len(sd), sum(nbytes(t) for t in sd.values()))),
            r.stdout + r.stderr)
    check_convert_to_pt(exe, 'bin', directory, want, work)

    # To safetensors shards: the hub's split, the exact index text, equal tensors.
    # fc1.weight (192000 bytes) is alone in the first split; none is too large in the second.
    for max_size in (15000, 200000, 10 ** 9):
        out = os.path.join(work, 'st_%d' % max_size)
        r = wick(exe, 'convert', directory, out, '--max-shard-size', max_size)
        if not R.check('bin -> safetensors shards of %d' % max_size, r.returncode == 0,
                       r.stderr):
            continue
        check_safetensors_dir('bin -> st %d' % max_size, out, want, max_size)
    # --dtype float16: shards filled by the cast sizes.
    out = os.path.join(work, 'st_half')
    r = wick(exe, 'convert', directory, out, '--max-shard-size', '20KB', '--dtype', 'float16')
    if R.check('bin -> safetensors shards --dtype float16', r.returncode == 0, r.stderr):
        half = collections.OrderedDict(
            (k, t.half() if t.is_floating_point() else t) for k, t in want.items())
        check_safetensors_dir('bin -> st --dtype float16', out, half, 20000)
        r = wick(exe, 'convert', out, os.path.join(work, 'half.pt'))
        got = torch.load(os.path.join(work, 'half.pt'), weights_only=True)
        check_all_equal('st --dtype float16 -> .pt', got, half)


def check_safetensors_dir(name, out, want, max_size):
    plan = split(want, max_size)
    files = sorted(os.listdir(out))
    if len(plan) == 1:
        R.check(name + ': one model.safetensors, no index', files == ['model.safetensors'], files)
        meta, got = read_safetensors(os.path.join(out, 'model.safetensors'))
        R.check(name + ': metadata format pt', meta == {'format': 'pt'}, meta)
        check_all_equal(name, got, want)
        return
    names = ['model-%05d-of-%05d.safetensors' % (i + 1, len(plan)) for i in range(len(plan))]
    R.check(name + ': files', files == names + ['model.safetensors.index.json'], files)
    weight_map = {k: names[i] for i, ks in enumerate(plan) for k in ks}
    with open(os.path.join(out, 'model.safetensors.index.json'), 'rb') as f:
        text = f.read()
    total = sum(nbytes(t) for t in want.values())
    R.check(name + ': index is json.dumps(indent=2, sort_keys=True)',
            text == index_text(weight_map, total).encode(),
            '\n%s\nvs\n%s' % (text.decode(), index_text(weight_map, total)))
    got = collections.OrderedDict()
    for i, fn in enumerate(names):
        meta, tensors = read_safetensors(os.path.join(out, fn))
        R.check(name + ': %s metadata format pt' % fn, meta == {'format': 'pt'}, meta)
        R.check(name + ': %s holds its part of the split' % fn, sorted(tensors) == sorted(
            plan[i]), '%s vs %s' % (sorted(tensors), sorted(plan[i])))
        got.update(tensors)
    check_all_equal(name, got, want)


def python_safetensors_shards(exe, work):
    """A directory as save_pretrained(safe_serialization=True) writes it, by Python."""
    sd = state_dict()
    directory = os.path.join(work, 'py_st')
    os.makedirs(directory)
    plan = split(sd, 20000)
    names = ['model-%05d-of-%05d.safetensors' % (i + 1, len(plan)) for i in range(len(plan))]
    weight_map, want, shard_of = {}, collections.OrderedDict(), {}
    for fn, keys in zip(names, plan):
        with open(os.path.join(directory, fn), 'wb') as f:
            f.write(safetensors_bytes({k: sd[k] for k in keys}, {'format': 'pt'}))
        weight_map.update({k: fn for k in keys})
        want.update((k, sd[k]) for k in sorted(keys))  # safetensors' name order per shard
        shard_of.update({k: fn for k in keys})
    index = os.path.join(directory, 'model.safetensors.index.json')
    with open(index, 'w') as f:
        f.write(index_text(weight_map, sum(nbytes(t) for t in sd.values())))
    for path in (directory, index):
        check_inspect(exe, 'python st ' + path, path, want, shard_of, index)
        r = wick(exe, 'verify', path)
        R.check('python st: verify ' + path, r.returncode == 0 and ': OK (%d shards, safetensors'
                % len(plan) in r.stdout, r.stdout + r.stderr)
    check_convert_to_pt(exe, 'python_st', directory, want, work)
    r = wick(exe, 'diff', directory, os.path.join(work, 'python_st.pt'))
    R.check('python st: diff with its .pt conversion', r.returncode == 0 and
            r.stdout == 'A and B are equal (%d entries)\n' % len(sd), r.stdout + r.stderr)
    # Removing a shard: verify names it (exit 1), inspect refuses (exit 2).
    os.remove(os.path.join(directory, names[1]))
    r = wick(exe, 'verify', directory)
    R.check('python st: verify a missing shard', r.returncode == 1 and r.stdout.startswith(
        directory + ': FAILED: ') and names[1] in r.stdout and 'does not exist' in r.stdout,
        r.stdout + r.stderr)
    r = wick(exe, 'inspect', directory)
    R.check('python st: inspect a missing shard', r.returncode == 2 and r.stdout == '' and
            names[1] in r.stderr, r.stderr)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    exe, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    bin_shards(exe, work)
    python_safetensors_shards(exe, work)
    return R.finish()


if __name__ == '__main__':
    sys.exit(main())
