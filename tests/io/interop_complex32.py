#!/usr/bin/python3
"""complex32 checkpoints between wick and the real PyTorch 1.13, both ways.

    interop_complex32.py WICK_IO_INTEROP WORKDIR

PyTorch 1.13 has complex32 tensors and their conversions, but its torch.save
refuses them and it has no _rebuild_tensor_v3: PyTorch 2.x saves a complex32
tensor as an UntypedStorage (size in bytes) rebuilt by
torch._utils._rebuild_tensor_v3(storage, offset, size, stride, requires_grad,
OrderedDict(), torch.complex32) (docs/formats.md §2.10). This script gives 1.13
exactly those two missing pieces (TORCH_2X_SHIM below: how a complex32 tensor
reduces, and the rebuild function); everything else is 1.13's own: the
pickler, the zip writer and reader, persistent ids and storages, and the
complex64 <-> complex32 conversions that wick's results are compared with,
bit for bit.

Checks:
  torch -> wick  1.13 saves complex32 tensors (views sharing one storage); wick
                 describes them as torch does, and re-saves a byte-identical data.pkl.
  wick -> torch  wick converts complex64 values (ties, overflow, subnormals, inf,
                 NaN, -0) to complex32 and saves them; 1.13 loads them and finds
                 the bits its own conversion gives. And back: wick's complex32 ->
                 complex64 equals 1.13's.
"""
import collections
import os
import subprocess
import sys
import warnings
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import Results, describe, first_difference  # noqa: E402

warnings.filterwarnings('ignore', message='ComplexHalf support is experimental')


# ---- TORCH_2X_SHIM: what PyTorch 2.x has and 1.13 lacks, for complex32 only --------------

def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    # 1.13's persistent_load hands an UntypedStorage over as a uint8 TypedStorage.
    untyped = storage._storage if isinstance(storage, torch.storage.TypedStorage) else storage
    t = torch.empty((0,), dtype=dtype)
    t.set_(untyped, storage_offset, size, stride)
    t.requires_grad = requires_grad
    return t


_rebuild_tensor_v3.__module__ = 'torch._utils'
torch._utils._rebuild_tensor_v3 = _rebuild_tensor_v3
_reduce_ex_internal = torch.Tensor._reduce_ex_internal


def _reduce_2x(self, proto):
    if self.dtype != torch.complex32:
        return _reduce_ex_internal(self, proto)
    return (torch._utils._rebuild_tensor_v3,
            (self.storage().untyped(), self.storage_offset(), tuple(self.size()), self.stride(),
             self.requires_grad, collections.OrderedDict(), self.dtype))


torch.Tensor._reduce_ex_internal = _reduce_2x

# ---- end of TORCH_2X_SHIM -------------------------------------------------------------------


def values():
    """complex64 values whose float16 rounding is delicate, then random ones."""
    special = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, 65504, 65519.996,
               65520, 1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -25 * 1.0001, 1023.5 * 2 ** -24,
               2 ** -30, 0.0, -0.0, float('inf'), float('-inf'), float('nan'), 0.1, -2.5]
    re = torch.tensor(special + [-x for x in special], dtype=torch.float32)
    im = re.flip(0)
    torch.manual_seed(0)
    rnd = torch.randn(200, dtype=torch.complex64) * 300
    return torch.cat([torch.complex(re, im), rnd])


def bits(t):
    """The raw bytes of a complex32 or complex64 tensor (contiguous)."""
    return torch.view_as_real(t.contiguous()).numpy().tobytes() if t.dtype != torch.complex32 \
        else torch.view_as_real(t.contiguous()).view(torch.int16).numpy().tobytes()


def run(exe, *args):
    return subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True)


def record(path, suffix):
    with zipfile.ZipFile(path) as z:
        return next(z.read(n) for n in z.namelist() if n.endswith(suffix))


def main(exe, work):
    res = Results()
    os.makedirs(work, exist_ok=True)
    z64 = values()
    c32 = z64.to(torch.complex32)  # PyTorch 1.13's own conversion
    res.check('1.13 converts to complex32', c32.dtype == torch.complex32)

    # torch -> wick: structure, sharing and bytes, and a byte-identical re-saved pickle.
    obj = {'c32': c32, 'view': c32[2:9], 'grid': c32[:6].view(2, 3).t(), 'zero_dim': c32[3]}
    torch_file = os.path.join(work, 'torch_c32.pt')
    torch.save(obj, torch_file)
    pkl = record(torch_file, '/data.pkl')
    res.check('1.13 + shim writes what 2.x writes',
              b'_rebuild_tensor_v3' in pkl and b'torch.storage\nUntypedStorage' in pkl
              and b'ctorch\ncomplex32\n' in pkl and b'Storage\n' not in pkl.replace(
                  b'UntypedStorage\n', b''), pkl)
    r = run(exe, 'describe', torch_file)
    res.check('wick reads 1.13 complex32', r.returncode == 0, r.stderr)
    if r.returncode == 0:
        import json
        diff = first_difference(describe(obj), json.loads(r.stdout))
        res.check('wick sees what torch sees', diff is None, diff)
    resaved = os.path.join(work, 'resaved_c32.pt')
    r = run(exe, 'resave', torch_file, resaved)
    res.check('wick re-saves it', r.returncode == 0, r.stderr)
    if r.returncode == 0:
        res.check('re-saved data.pkl is byte-identical', record(resaved, '/data.pkl') == pkl)
        back = torch.load(resaved)
        res.check('1.13 loads the re-saved file', bits(back['c32']) == bits(c32) and
                  back['view'].storage().data_ptr() == back['c32'].storage().data_ptr() and
                  bits(back['grid']) == bits(obj['grid']))

    # wick -> torch: wick's complex64 -> complex32 against 1.13's, bit for bit.
    src = os.path.join(work, 'source_c64.pt')
    torch.save({'z': z64}, src)
    wick_file = os.path.join(work, 'wick_c32.pt')
    r = run(exe, 'convert', src, wick_file, 'complex32')
    res.check('wick converts and saves complex32', r.returncode == 0, r.stderr)
    if r.returncode == 0:
        got = torch.load(wick_file)['z']
        res.check('1.13 loads wick complex32', got.dtype == torch.complex32 and
                  got.shape == c32.shape)
        b_got, b_want = bits(got), bits(c32)
        bad = [i for i in range(0, len(b_want), 2) if b_got[i:i + 2] != b_want[i:i + 2]]
        res.check('wick complex64 -> complex32 == torch, every bit', not bad,
                  ['%d: %s vs %s' % (i // 4, b_got[i:i + 2].hex(), b_want[i:i + 2].hex())
                   for i in bad[:10]])
    # And complex32 -> complex64.
    back64 = os.path.join(work, 'wick_c64.pt')
    r = run(exe, 'convert', torch_file, back64, 'complex64')
    res.check('wick converts complex32 to complex64', r.returncode == 0, r.stderr)
    if r.returncode == 0:
        got = torch.load(back64)['c32']
        res.check('wick complex32 -> complex64 == torch, every bit',
                  got.dtype == torch.complex64 and bits(got) == bits(c32.to(torch.complex64)))
    return res.finish()


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
