#!/usr/bin/python3
"""Regenerates the fuzz seeds in tests/fuzz/seeds/<target>/ (scripts/fuzz.sh adds
the fixtures that fit). Needs PyTorch (run with /usr/bin/python3):

    /usr/bin/python3 tests/fuzz/make_seeds.py [--wick build/bin/wick]

Seeds: small checkpoints written by torch.save (zip and legacy formats, pickle
protocols 2, 3 and 4), the
same converted by wick's CLI when --wick is given (wick-written .pt and
.safetensors), hand-written safetensors files (the safetensors package is not
needed), the data.pkl records of the zip seeds for the unpickler, and small IDX
files (uint8 images and labels, int16, float32, float64, gzip).
"""
import argparse
import collections
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")


def put(target, name, data):
    os.makedirs(os.path.join(SEEDS, target), exist_ok=True)
    with open(os.path.join(SEEDS, target, name), "wb") as f:
        f.write(data)


def saved(obj, legacy=False, protocol=2):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)
    return buf.getvalue()


def checkpoints():
    """Small values covering what the loaders accept."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    base = torch.arange(12, dtype=torch.float32)
    dtypes = collections.OrderedDict()
    for dt in [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8,
               torch.uint8, torch.int16, torch.int32, torch.int64, torch.bool,
               torch.complex64, torch.complex128]:
        dtypes[str(dt)] = (torch.arange(3) % 2).to(dt)
    return {
        "state_dict": net.state_dict(),
        "checkpoint": {"epoch": 3, "loss": 0.25, "model_state_dict": net.state_dict(),
                       "optimizer_state_dict": opt.state_dict(), "name": "run\u00e9",
                       "flags": (True, False, None), "raw": b"\x00\x01", "big": 2**62},
        "views": {"base": base, "view": base[2:8].view(2, 3), "t": base.view(3, 4).t(),
                  "scalar": torch.tensor(1.5), "empty": torch.zeros(0, 3)},
        "dtypes": dtypes,
        "parameter": {"p": torch.nn.Parameter(torch.ones(2, 2)), "list": [1, [2.5, "x"], {}]},
    }


def safetensors(tensors, metadata=None):
    """A safetensors file as the reference writer lays it out."""
    names = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
             torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
             torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64"}
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, t in sorted(tensors.items()):
        t = t.contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def idx(t, code):
    import numpy as np
    fmt = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    head = bytes([0, 0, code, t.dim()]) + b"".join(struct.pack(">I", d) for d in t.shape)
    return head + t.numpy().astype(np.dtype(fmt)).tobytes()


def archive_seeds():
    """TorchScript archives, pickled whole models and sets: the records paths."""
    torch.manual_seed(2)
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "archive.pt")
        torch.jit.script(module).save(path)
        with open(path, "rb") as f:
            data = f.read()
    put("pt_zip", "torchscript_sequential.pt", data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pkl = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
        put("unpickle", "torchscript_sequential.pkl", zf.read(pkl))
    for protocol in [2, 4]:
        whole = saved(torch.nn.Linear(2, 1), protocol=protocol)
        put("pt_zip", "whole_linear_protocol%d.pt" % protocol, whole)
        put("pt_legacy", "whole_linear_protocol%d.pt" % protocol,
            saved(torch.nn.Linear(2, 1), True, protocol))
        with zipfile.ZipFile(io.BytesIO(whole)) as zf:
            pkl = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
            put("unpickle", "whole_linear_protocol%d.pkl" % protocol, zf.read(pkl))
    for protocol in [2, 4, 5]:
        value = {"s": {1, 2}, "f": frozenset([3]), "b": bytearray(b"ab")}
        put("unpickle", "sets_protocol%d.pkl" % protocol,
            __import__("pickle").dumps(value, protocol=protocol))


def index_seeds():
    """Indexes over the fixed shards of targets.h's fuzz_sharded_index (keys a, b; c)."""
    first, second = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    put("sharded_index", "two_shards.json",
        (json.dumps({"metadata": {"total_size": 24},
                     "weight_map": {"a": first, "b": first, "c": second}},
                    indent=2, sort_keys=True) + "\n").encode())
    put("sharded_index", "one_shard.json", json.dumps({"weight_map": {"c": second}}).encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wick", help="the wick CLI, to add wick-written files")
    args = ap.parse_args()
    for t in ["unpickle", "pt_zip", "pt_legacy", "safetensors", "idx", "sharded_index"]:
        shutil.rmtree(os.path.join(SEEDS, t), ignore_errors=True)
    index_seeds()

    tmp = tempfile.mkdtemp()
    for name, obj in checkpoints().items():
        z = saved(obj)
        put("pt_zip", name + ".pt", z)
        put("pt_legacy", name + ".pt", saved(obj, legacy=True))
        with zipfile.ZipFile(io.BytesIO(z)) as zf:
            pkl = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
            put("unpickle", name + ".pkl", zf.read(pkl))
        if args.wick:  # wick's own writer: the .pt as wick saves it, and as safetensors
            src = os.path.join(tmp, name + ".pt")
            with open(src, "wb") as f:
                f.write(z)
            for ext, target in [(".pt", "pt_zip"), (".safetensors", "safetensors")]:
                out = os.path.join(tmp, "wick_" + name + ext)
                r = subprocess.run([args.wick, "convert", src, out], capture_output=True)
                if r.returncode == 0:
                    with open(out, "rb") as f:
                        put(target, "wick_" + name + ext, f.read())
                    if ext == ".pt":
                        with zipfile.ZipFile(out) as zf:
                            pkl = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
                            put("unpickle", "wick_" + name + ".pkl", zf.read(pkl))
    shutil.rmtree(tmp)
    # Pickle protocols 3 and 4 (frames, BINBYTES, SHORT_BINUNICODE, MEMOIZE,
    # STACK_GLOBAL) in both containers.
    for name in ["checkpoint", "views"]:
        for protocol in [3, 4]:
            z = saved(checkpoints()[name], protocol=protocol)
            tag = "%s_protocol%d" % (name, protocol)
            put("pt_zip", tag + ".pt", z)
            put("pt_legacy", tag + ".pt", saved(checkpoints()[name], True, protocol))
            with zipfile.ZipFile(io.BytesIO(z)) as zf:
                pkl = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
                put("unpickle", tag + ".pkl", zf.read(pkl))

    put("safetensors", "dtypes.safetensors",
        safetensors({str(dt)[6:]: (torch.arange(4) % 2).to(dt)
                     for dt in [torch.float64, torch.float32, torch.float16, torch.bfloat16,
                                torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
                                torch.bool, torch.complex64]}))
    put("safetensors", "metadata.safetensors",
        safetensors({"w": torch.ones(2, 3), "b": torch.zeros(2), "s": torch.tensor(7.0),
                     "e": torch.zeros(0, 4)}, {"format": "pt", "epoch": "3"}))
    put("safetensors", "empty.safetensors", safetensors({}))

    torch.manual_seed(1)
    images = torch.randint(0, 256, (3, 4, 4), dtype=torch.uint8)
    put("idx", "images-idx3-ubyte", idx(images, 0x08))
    put("idx", "labels-idx1-ubyte", idx(torch.tensor([7, 2, 1, 0], dtype=torch.uint8), 0x08))
    put("idx", "images-idx3-ubyte.gz", gzip.compress(idx(images, 0x08), mtime=0))
    put("idx", "int8-idx2", idx(torch.tensor([[-1, 2], [3, -4]]), 0x09))
    put("idx", "int16-idx1", idx(torch.tensor([-300, 5, 1000]), 0x0B))
    put("idx", "int32-idx2", idx(torch.arange(6).view(2, 3) - 3, 0x0C))
    put("idx", "float32-idx2", idx(torch.randn(2, 3), 0x0D))
    put("idx", "float64-idx1.gz", gzip.compress(idx(torch.randn(5).double(), 0x0E), mtime=0))
    put("idx", "empty-idx2", idx(torch.zeros(0, 3, dtype=torch.uint8), 0x08))
    archive_seeds()


if __name__ == "__main__":
    main()
