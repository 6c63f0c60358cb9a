#!/usr/bin/python3
"""Runs Debian's PyTorch on random inputs and writes what wick must reproduce.

Usage: /usr/bin/python3 tests/interop/gen_op_cases.py OUT_DIR

Writes two files into OUT_DIR:

  cases.json  the manifest: {"format": 1, "torch": version, "seed": s,
              "blob": "cases.bin", "blob_bytes": n, "cases": [case, ...]}
  cases.bin   every tensor's raw bytes, little-endian, back to back (each
              entry starts at a multiple of 8 bytes)

A case is
  {"name": unique, "family": "math" | "inplace" | "functional" | "views" |
             "dtype" | "factory",
   "op": name in the C++ op table, "params": {op parameters},
   "inputs": [tensor or null (an omitted optional argument)],
   "outputs": [expected tensor, ...],
   "grad_output": tensor or null (the random upstream gradient of output 0),
   "grads": [expected gradient of each input, or null],
   "check": "tol" | "exact" | "dropout",
   "layout": {"strides", "offset", "shares_storage"}   (views only)}
and a tensor is
  {"dtype": torch name without "torch.", "sizes", "strides", "offset",
   "storage_numel", "byte_offset": where its storage starts in cases.bin,
   "requires_grad" (inputs), "scale" (expected floating tensors)}.
An input's bytes are its WHOLE storage, so the C++ side rebuilds the same
layout (transposed, stepped, expanded, offset) with as_strided over a copy of
it. Expected tensors are contiguous with their own storage.

"scale" is the magnitude the float32 tolerance is measured against (see
test_ops_vs_torch.cpp): 1 for elementwise ops; for ops that accumulate many
terms (reductions, matmul, conv, pools, broadcast gradients, losses) it is the
largest |element| of the tensor itself and, for ops linear in each input, of
the same op run in float64 on |inputs| with |grad_output| -- the sum of the
absolute values of the terms, which bounds the rounding error of any
summation order.

Everything is drawn from torch.manual_seed(SEED), so the files are the same
on every run.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
import torchvision.ops

SEED = 20240601
FLOAT32 = torch.float32

DTYPES = {
    torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
    torch.bfloat16: "bfloat16", torch.int8: "int8", torch.int16: "int16",
    torch.int32: "int32", torch.int64: "int64", torch.uint8: "uint8", torch.bool: "bool",
    torch.complex64: "complex64", torch.complex128: "complex128",
}
BY_NAME = {v: k for k, v in DTYPES.items()}


# ---- tensors to bytes ---------------------------------------------------------

class Writer:
    def __init__(self):
        self.parts = []
        self.size = 0
        self.cases = []
        self.names = set()

    def _bytes(self, flat):
        if flat.dtype == torch.bfloat16:
            flat = flat.view(torch.int16)
        return flat.contiguous().numpy().tobytes()

    def _put(self, t):
        """Appends t's whole storage; returns its description."""
        t = t.detach()
        n = t.storage().size()
        raw = self._bytes(t.as_strided((n,), (1,), 0))
        ref = {"dtype": DTYPES[t.dtype], "sizes": list(t.shape), "strides": list(t.stride()),
               "offset": t.storage_offset(), "storage_numel": n, "byte_offset": self.size}
        self.parts.append(raw)
        self.size += len(raw)
        pad = (-self.size) % 8
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        return ref

    def input(self, t, requires_grad):
        ref = self._put(t)
        ref["requires_grad"] = bool(requires_grad)
        return ref

    def expected(self, t, scale=1.0):
        ref = self._put(t.detach().contiguous().clone())
        if t.is_floating_point() or t.is_complex():
            ref["scale"] = float(scale)
        return ref

    def save(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "cases.bin"), "wb") as f:
            for p in self.parts:
                f.write(p)
        manifest = {"format": 1, "torch": torch.__version__, "seed": SEED, "blob": "cases.bin",
                    "blob_bytes": self.size, "cases": self.cases}
        with open(os.path.join(out_dir, "cases.json"), "w") as f:
            json.dump(manifest, f, allow_nan=False, separators=(",", ":"))


W = Writer()


# ---- inputs: values and layouts -------------------------------------------------

def values(shape, kind, dtype):
    shape = tuple(shape)
    if kind == "normal":
        return torch.randn(shape, dtype=dtype)
    if kind == "pos":  # away from 0: log, sqrt, pow bases, divisors
        return torch.rand(shape, dtype=dtype) * 1.5 + 0.5
    if kind == "nonzero":
        return (torch.rand(shape, dtype=dtype) * 1.5 + 0.5) * torch.randn(shape).sign().to(dtype)
    if kind == "halves":  # few distinct values: ties for max/argmax/maximum
        return (torch.randint(-3, 4, shape) / 2).to(dtype)
    if kind == "relu":  # many exact zeros, as after a ReLU: ties inside pooling windows
        return torch.randn(shape, dtype=dtype).clamp(min=0)
    if kind == "big":  # softmax stability
        return torch.randn(shape, dtype=dtype) * 40
    if kind == "bool":
        return torch.randint(0, 2, shape).bool()
    if kind.startswith("int:"):  # int:LOW:HIGH
        _, lo, hi = kind.split(":")
        return torch.randint(int(lo), int(hi), shape, dtype=torch.int64).to(dtype)
    raise ValueError(kind)


def arrange(shape, layout, make):
    """A tensor of the given sizes whose memory layout is `layout`:
    c contiguous, t all dims reversed in memory, s last dim stepped by 2 from
    offset 1, o contiguous at storage offset 3, e first non-1 dim expanded
    from size 1 (stride 0), p channels-last (4-D), ts transposed and stepped."""
    shape = tuple(shape)
    nd = len(shape)
    if layout == "c" or nd == 0:
        return make(shape)
    if layout == "t":
        return make(shape[::-1]).permute(*reversed(range(nd)))
    if layout == "s":
        return make(shape[:-1] + (2 * shape[-1] + 1,))[..., 1::2]
    if layout == "o":
        n = math.prod(shape)
        return make((n + 3,))[3:].view(shape)
    if layout == "e":
        dims = [d for d in range(nd) if shape[d] > 1]
        if not dims:
            return make(shape)
        small = list(shape)
        small[dims[0]] = 1
        return make(tuple(small)).expand(shape)
    if layout == "p":
        n, c, h, w = shape
        return make((n, h, w, c)).permute(0, 3, 1, 2)
    if layout == "ts":
        return arrange((2 * shape[0],) + shape[1:], "t", make)[::2]
    raise ValueError(layout)


class In:
    """One input: a tensor (any layout) and whether it requires grad."""

    def __init__(self, t, rg):
        self.t = t
        self.rg = rg


def X(shape, layout="c", kind="normal", dtype=FLOAT32, rg=None):
    t = arrange(shape, layout, lambda s: values(s, kind, dtype))
    if rg is None:
        rg = t.is_floating_point()
    return In(t, rg)


def R(t, rg=False):
    return In(t, rg)


# ---- the ops, as PyTorch computes them -------------------------------------------
# Each takes (inputs, params) and returns a list of tensors; output 0 is the one
# differentiated. The C++ table in test_ops_vs_torch.cpp mirrors this one.

def _storage(t):
    return t.as_strided((t.storage().size(),), (1,), 0)


def _slice(x, p):
    idx = (slice(None),) * (p["dim"] % x.dim()) + (slice(p["start"], p["end"], p["step"]),)
    return x[idx]


def _inplace(method):
    def run(x, p):
        getattr(x[0], method)(*x[1:], **p)
        return [x[0], _storage(x[0])]
    return run


def _scalar_inplace(method):
    def run(x, p):
        getattr(x[0], method)(p["s"])
        return [x[0], _storage(x[0])]
    return run


def _batch_norm(x, p):
    out = F.batch_norm(x[0], x[1], x[2], x[3], x[4], training=p["training"],
                       momentum=p["momentum"], eps=p["eps"])
    return [out] + [t for t in (x[1], x[2]) if t is not None]


def _sdpa(x, p):
    """scaled_dot_product_attention as PyTorch 2 defines it (1.13 has none):
    softmax(q @ k^T * scale + mask) @ v, a bool mask keeping where true."""
    q, k, v, mask = x
    scores = q @ k.transpose(-2, -1) * p.get("scale", 1 / math.sqrt(q.shape[-1]))
    if p.get("is_causal"):
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
    if mask is not None and mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=q.dtype).masked_fill(~mask, float("-inf"))
    if mask is not None:
        scores = scores + mask
    return torch.softmax(scores, -1) @ v


def _mha(x, p):
    """torch.nn.MultiheadAttention run on the given weights (inputs 5-8)."""
    from torch.nn.utils.stateless import functional_call
    q, k, v, kpm, am, w_in, b_in, w_out, b_out = x
    m = torch.nn.MultiheadAttention(w_in.shape[1], p["num_heads"], bias=b_in is not None,
                                    batch_first=p["batch_first"]).to(q.dtype)
    sd = {"in_proj_weight": w_in, "out_proj.weight": w_out}
    if b_in is not None:
        sd.update({"in_proj_bias": b_in, "out_proj.bias": b_out})
    out, w = functional_call(m, sd, (q, k, v), {"key_padding_mask": kpm, "attn_mask": am,
                                                "need_weights": p["need_weights"]})
    return [out] if w is None else [out, w]


REDUCTION = {"none": "none", "mean": "mean", "sum": "sum"}

TORCH_OPS = {
    # math.h: binary
    "add": lambda x, p: [torch.add(x[0], x[1], alpha=p.get("alpha", 1))],
    "sub": lambda x, p: [torch.sub(x[0], x[1], alpha=p.get("alpha", 1))],
    "mul": lambda x, p: [torch.mul(x[0], x[1])],
    "div": lambda x, p: [torch.div(x[0], x[1])],
    "pow": lambda x, p: [torch.pow(x[0], x[1])],
    "pow_scalar": lambda x, p: [torch.pow(x[0], p["exponent"])],
    "maximum": lambda x, p: [torch.maximum(x[0], x[1])],
    "minimum": lambda x, p: [torch.minimum(x[0], x[1])],
    "op_add": lambda x, p: [x[0] + x[1]],
    "op_sub": lambda x, p: [x[0] - x[1]],
    "op_mul": lambda x, p: [x[0] * x[1]],
    "op_div": lambda x, p: [x[0] / x[1]],
    "add_ts": lambda x, p: [x[0] + p["s"]],
    "sub_ts": lambda x, p: [x[0] - p["s"]],
    "mul_ts": lambda x, p: [x[0] * p["s"]],
    "div_ts": lambda x, p: [x[0] / p["s"]],
    "add_st": lambda x, p: [p["s"] + x[0]],
    "sub_st": lambda x, p: [p["s"] - x[0]],
    "mul_st": lambda x, p: [p["s"] * x[0]],
    "div_st": lambda x, p: [p["s"] / x[0]],
    "op_neg": lambda x, p: [-x[0]],
    # comparisons
    **{c: (lambda c: lambda x, p: [getattr(torch, c)(x[0], x[1])])(c)
       for c in ("eq", "ne", "lt", "le", "gt", "ge")},
    **{c + "_s": (lambda c: lambda x, p: [getattr(torch, c)(x[0], p["s"])])(c)
       for c in ("eq", "ne", "lt", "le", "gt", "ge")},
    "equal": lambda x, p: [torch.tensor(torch.equal(x[0], x[1]))],
    "allclose": lambda x, p: [torch.tensor(torch.allclose(x[0], x[1], rtol=p["rtol"],
                                                          atol=p["atol"]))],
    # unary
    **{u: (lambda u: lambda x, p: [getattr(torch, u)(x[0])])(u)
       for u in ("neg", "abs", "relu", "exp", "log", "tanh", "sigmoid", "sqrt")},
    "where": lambda x, p: [torch.where(x[0], x[1], x[2])],
    # reductions
    "sum": lambda x, p: [torch.sum(x[0], p["dims"], keepdim=p["keepdim"]) if "dims" in p
                         else torch.sum(x[0])],
    "mean": lambda x, p: [torch.mean(x[0], p["dims"], keepdim=p["keepdim"]) if "dims" in p
                          else torch.mean(x[0])],
    "max": lambda x, p: [torch.max(x[0])],
    "max_dim": lambda x, p: list(torch.max(x[0], p["dim"], keepdim=p["keepdim"])),
    "argmax": lambda x, p: [torch.argmax(x[0], p["dim"], keepdim=p["keepdim"]) if "dim" in p
                            else torch.argmax(x[0])],
    "matmul": lambda x, p: [torch.matmul(x[0], x[1])],
    "addmm": lambda x, p: [torch.addmm(x[0], x[1], x[2], beta=p["beta"], alpha=p["alpha"])],
    # in-place arithmetic: outputs are self and its whole storage afterwards
    "add_": _inplace("add_"), "sub_": _inplace("sub_"), "mul_": _inplace("mul_"),
    "div_": _inplace("div_"), "addcmul_": _inplace("addcmul_"),
    "addcdiv_": _inplace("addcdiv_"),
    "add_s_": _scalar_inplace("add_"), "mul_s_": _scalar_inplace("mul_"),
    "div_s_": _scalar_inplace("div_"),
    # functional.h
    "conv2d": lambda x, p: [F.conv2d(x[0], x[1], x[2], stride=p["stride"], padding=p["padding"],
                                     dilation=p["dilation"], groups=p["groups"])],
    "linear": lambda x, p: [F.linear(x[0], x[1], x[2])],
    "max_pool2d": lambda x, p: [F.max_pool2d(x[0], p["kernel_size"], p.get("stride"),
                                             p["padding"], p["dilation"],
                                             ceil_mode=p["ceil_mode"])],
    "avg_pool2d": lambda x, p: [F.avg_pool2d(x[0], p["kernel_size"], p.get("stride"),
                                             p["padding"], p["ceil_mode"],
                                             p["count_include_pad"],
                                             p.get("divisor_override"))],
    "adaptive_avg_pool2d": lambda x, p: [F.adaptive_avg_pool2d(x[0], p["output_size"])],
    "batch_norm": _batch_norm,
    "dropout": lambda x, p: [F.dropout(x[0], p["p"], p["training"])],
    "softmax": lambda x, p: [F.softmax(x[0], p["dim"])],
    "log_softmax": lambda x, p: [F.log_softmax(x[0], p["dim"])],
    "nll_loss": lambda x, p: [F.nll_loss(x[0], x[1], x[2], ignore_index=p["ignore_index"],
                                         reduction=p["reduction"])],
    "cross_entropy": lambda x, p: [F.cross_entropy(x[0], x[1], x[2],
                                                   ignore_index=p["ignore_index"],
                                                   reduction=p["reduction"])],
    "mse_loss": lambda x, p: [F.mse_loss(x[0], x[1], reduction=p["reduction"])],
    # Tensor views and copies
    "view": lambda x, p: [x[0].view(p["sizes"])],
    "reshape": lambda x, p: [x[0].reshape(p["sizes"])],
    "permute": lambda x, p: [x[0].permute(p["dims"])],
    "transpose": lambda x, p: [x[0].transpose(p["dim0"], p["dim1"])],
    "t": lambda x, p: [x[0].t()],
    "narrow": lambda x, p: [x[0].narrow(p["dim"], p["start"], p["length"])],
    "slice": lambda x, p: [_slice(x[0], p)],
    "select": lambda x, p: [x[0].select(p["dim"], p["index"])],
    "index": lambda x, p: [x[0][p["index"]]],
    "expand": lambda x, p: [x[0].expand(p["sizes"])],
    "expand_as": lambda x, p: [x[0].expand_as(x[1])],
    "squeeze": lambda x, p: [x[0].squeeze()],
    "squeeze_dim": lambda x, p: [x[0].squeeze(p["dim"])],
    "unsqueeze": lambda x, p: [x[0].unsqueeze(p["dim"])],
    "flatten": lambda x, p: [x[0].flatten(p["start_dim"], p["end_dim"])],
    "contiguous": lambda x, p: [x[0].contiguous()],
    "clone": lambda x, p: [x[0].clone()],
    "detach": lambda x, p: [x[0].detach()],
    "to": lambda x, p: [x[0].to(BY_NAME[p["dtype"]], copy=p.get("copy", False))],
    "as_strided": lambda x, p: [x[0].as_strided(p["sizes"], p["strides"], p["offset"])],
    "copy_": lambda x, p: [x[0].copy_(x[1]), _storage(x[0])],
    "fill_": lambda x, p: [x[0].fill_(p["value"]), _storage(x[0])],
    "zero_": lambda x, p: [x[0].zero_(), _storage(x[0])],
    # ops for torchvision's models
    "relu6": lambda x, p: [F.relu6(x[0])],
    "hardsigmoid": lambda x, p: [F.hardsigmoid(x[0])],
    "hardswish": lambda x, p: [F.hardswish(x[0])],
    "silu": lambda x, p: [F.silu(x[0])],
    "gelu": lambda x, p: [F.gelu(x[0], approximate=p["approximate"])],
    "adaptive_max_pool2d": lambda x, p: [F.adaptive_max_pool2d(x[0], p["output_size"])],
    "stochastic_depth": lambda x, p: [torchvision.ops.stochastic_depth(
        x[0], p["p"], p["mode"], p["training"])],
    "sdpa": lambda x, p: [_sdpa(x, p)],
    "mha": _mha,
    "cat": lambda x, p: [torch.cat(x, p["dim"])],
    "stack": lambda x, p: [torch.stack(x, p["dim"])],
    "chunk": lambda x, p: list(torch.chunk(x[0], p["chunks"], p["dim"])),
    "split": lambda x, p: list(torch.split(x[0], p["split"], p["dim"])),
    # factories
    "arange": lambda x, p: [torch.arange(p["start"], p["end"], p["step"])],
    "scalar_tensor": lambda x, p: [torch.tensor(p["value"])],
}

# Tensor members that forward to the math.h functions: same torch op.
MEMBERS = ["sum", "mean", "max", "argmax", "relu", "exp", "log", "tanh", "sigmoid", "sqrt",
           "neg", "abs", "matmul", "pow_scalar"]
for _m in MEMBERS:
    TORCH_OPS["Tensor." + _m] = TORCH_OPS[_m]


# ---- one case ---------------------------------------------------------------------

def _max_abs(t):
    if t is None or t.numel() == 0 or not (t.is_floating_point() or t.is_complex()):
        return 0.0
    a = t.detach().abs().double()
    a = a[torch.isfinite(a)]
    return float(a.max()) if a.numel() else 0.0


def case(family, name, op, ins, params=None, check="tol", grad=True, scale="elem",
         layout=False):
    """Runs TORCH_OPS[op] on the inputs and records inputs, outputs and gradients.
    scale: "elem" (1), "max" (largest |element| of each tensor) or "abs" (also
    the |inputs| float64 run)."""
    params = params or {}
    full = f"{op}__{name}" if name else op
    assert full not in W.names, full
    W.names.add(full)
    fn = TORCH_OPS[op]
    originals = [None if i is None else i.t.detach().clone() for i in ins]
    # Serialise inputs first: some ops write into them.
    in_refs = [None if i is None else W.input(i.t, i.rg) for i in ins]
    leaves = []
    for i in ins:
        if i is None:
            leaves.append(None)
            continue
        t = i.t.detach()
        if i.rg:
            t.requires_grad_()
        leaves.append(t)
    outs = fn(leaves, params)

    gout = None
    grads = [None] * len(ins)
    if grad and outs[0].requires_grad:
        g0 = outs[0]
        gout = torch.randn(g0.shape, dtype=torch.float32).to(g0.dtype)
        g0.backward(gout)
        grads = [l.grad if (l is not None and l.requires_grad) else None for l in leaves]

    out_scales = [1.0] * len(outs)
    grad_scales = [1.0] * len(ins)
    if scale in ("max", "abs"):
        out_scales = [max(1.0, _max_abs(o)) for o in outs]
        grad_scales = [max(1.0, _max_abs(g)) for g in grads]
    if scale == "abs":
        a_ins = []
        for i, o in zip(ins, originals):
            if o is None:
                a_ins.append(None)
            elif o.is_floating_point():
                a_ins.append(o.abs().double().requires_grad_(i.rg))
            else:
                a_ins.append(o)
        a_outs = fn(a_ins, params)
        out_scales = [max(s, _max_abs(o)) for s, o in zip(out_scales, a_outs)]
        if gout is not None:
            a_outs[0].backward(gout.abs().double())
            grad_scales = [max(s, _max_abs(None if a is None else a.grad))
                           for s, a in zip(grad_scales, a_ins)]

    c = {"name": full, "family": family, "op": op, "params": params, "inputs": in_refs,
         "outputs": [W.expected(o, s) for o, s in zip(outs, out_scales)],
         "grad_output": None if gout is None else W.expected(gout),
         "grads": [None if g is None else W.expected(g, s) for g, s in zip(grads, grad_scales)],
         "check": check}
    if layout:
        o, x = outs[0], leaves[0]
        c["layout"] = {"strides": list(o.stride()), "offset": o.storage_offset(),
                       "shares_storage": o.storage().data_ptr() == x.storage().data_ptr()}
    W.cases.append(c)


# ---- the cases --------------------------------------------------------------------

def math_cases():
    # Binary elementwise ops over broadcasting shape pairs and layouts.
    pairs = [  # name, (sizes, layout) of a, of b
        ("vec7", ((7,), "c"), ((7,), "c")),
        ("row_bcast", ((3, 7), "t"), ((7,), "c")),
        ("outer_bcast", ((13, 1), "c"), ((1, 7), "s")),
        ("3d_strided", ((2, 3, 5), "s"), ((2, 3, 5), "t")),
        ("expanded", ((4, 5), "e"), ((4, 5), "o")),
        ("zero_dim", ((), "c"), ((3, 4), "t")),
        ("mid_bcast", ((2, 1, 4), "c"), ((3, 1), "c")),
        ("one_vs_5", ((1,), "c"), ((5,), "s")),
        ("empty", ((0, 3), "c"), ((3,), "c")),
    ]
    for op, kinds, params in [
        ("add", ("normal", "normal"), {}), ("add", ("normal", "normal"), {"alpha": 2.5}),
        ("sub", ("normal", "normal"), {}), ("sub", ("normal", "normal"), {"alpha": -3}),
        ("mul", ("normal", "normal"), {}), ("div", ("normal", "nonzero"), {}),
        ("pow", ("pos", "normal"), {}), ("maximum", ("normal", "normal"), {}),
        ("minimum", ("normal", "normal"), {}),
        ("op_add", ("normal", "normal"), {}), ("op_sub", ("normal", "normal"), {}),
        ("op_mul", ("normal", "normal"), {}), ("op_div", ("normal", "nonzero"), {}),
    ]:
        for pname, (sa, la), (sb, lb) in pairs:
            ins = [X(sa, la, kinds[0]), X(sb, lb, kinds[1])]
            suffix = "_alpha" if params else ""
            case("math", pname + suffix, op, ins, params, scale="abs")
    # Ties: maximum/minimum split the gradient in half where a == b.
    for op in ("maximum", "minimum"):
        case("math", "ties", op, [X((6, 7), kind="halves"), X((6, 7), "t", kind="halves")],
             scale="abs")
    # pow with a positive base and a broadcast exponent; float64 too.
    case("math", "f64", "pow", [X((4, 5), "s", "pos", torch.float64), X((5,), dtype=torch.float64)],
         scale="abs")
    for op, kind in [("add", "normal"), ("mul", "normal"), ("div", "nonzero")]:
        case("math", "f64", op, [X((3, 7), "t", dtype=torch.float64),
                                 X((7,), kind=kind, dtype=torch.float64)], scale="abs")

    # Tensor-scalar operators (both sides) and unary minus.
    for op in ("add_ts", "sub_ts", "mul_ts", "div_ts", "add_st", "sub_st", "mul_st", "div_st"):
        kind = "nonzero" if op == "div_st" else "normal"
        for s in (2, -0.75):
            case("math", f"s{'int' if isinstance(s, int) else 'float'}", op,
                 [X((3, 7), "t", kind)], {"s": s})
    case("math", "", "op_neg", [X((2, 3, 5), "s")])

    # pow with a scalar exponent: integer, fractional, negative, zero.
    for e in (2, 3, 0.5, -1, -2.5, 0, 1, 1.5):
        kind = "normal" if isinstance(e, int) and e >= 0 else "pos"
        tag = str(e).replace("-", "m").replace(".", "p")
        case("math", "e" + tag, "pow_scalar", [X((4, 7), "s", kind)], {"exponent": e})
    case("math", "e2_zeros", "pow_scalar",
         [R(torch.tensor([0.0, -0.0, 1.0, -2.0, 3.0]), True)], {"exponent": 2})

    # Comparisons: tensor-tensor with broadcasting and mixed dtypes, tensor-scalar.
    for c in ("eq", "ne", "lt", "le", "gt", "ge"):
        case("math", "bcast", c, [X((6, 7), "t", "halves"), X((7,), kind="halves")])
        case("math", "f32_vs_i64", c, [X((5, 4), "s", "int:-2:3"),
                                       X((4,), kind="int:-2:3", dtype=torch.int64)])
        case("math", "f32_vs_f64", c, [X((9,), kind="halves"),
                                       X((9,), kind="halves", dtype=torch.float64)])
        case("math", "i64", c, [X((3, 4), kind="int:-3:3", dtype=torch.int64),
                                X((3, 4), "t", kind="int:-3:3", dtype=torch.int64)])
        case("math", "", c + "_s", [X((5, 6), "t", "halves")], {"s": 0.5})
        case("math", "int_scalar", c + "_s", [X((5, 6), kind="int:-3:3", dtype=torch.int64)],
             {"s": 1})
        case("math", "nan", c, [R(torch.tensor([float("nan"), 1.0, float("inf"), -0.0])),
                                R(torch.tensor([float("nan"), float("nan"), float("inf"), 0.0]))])
    a = torch.randn(4, 5)
    case("math", "same", "equal", [R(a), R(a.clone())])
    case("math", "strided_same", "equal", [R(arange_like(a)), R(arange_like(a).t().contiguous().t())])
    b = a.clone()
    b[2, 3] += 1e-3
    case("math", "differs", "equal", [R(a), R(b)])
    case("math", "sizes_differ", "equal", [R(a), R(a[:3])])
    case("math", "close", "allclose", [R(a), R(b)], {"rtol": 1e-5, "atol": 1e-2})
    case("math", "not_close", "allclose", [R(a), R(b)], {"rtol": 1e-5, "atol": 1e-5})
    case("math", "bcast", "allclose", [R(a), R(a[1])], {"rtol": 1e-5, "atol": 1e-8})
    c_nan = torch.tensor([1.0, float("nan")])
    case("math", "nan", "allclose", [R(c_nan), R(c_nan.clone())], {"rtol": 1e-5, "atol": 1e-8})

    # Unary ops on odd shapes and layouts, plus special values.
    domain = {"log": "pos", "sqrt": "pos"}
    for u in ("neg", "abs", "relu", "exp", "log", "tanh", "sigmoid", "sqrt"):
        kind = domain.get(u, "normal")
        for lname, shape, lay in [("vec7", (7,), "c"), ("t", (13, 7), "t"), ("s", (2, 3, 5), "s"),
                                  ("scalar", (), "c"), ("e", (4, 1, 3), "e"), ("empty", (0, 4), "c"),
                                  ("o", (3, 3), "o")]:
            case("math", lname, u, [X(shape, lay, kind)])
        case("math", "f64", u, [X((5, 3), "t", kind, torch.float64)])
    inf, nan = float("inf"), float("nan")
    specials = {
        "exp": [-100, -1, 0, 1, 88, 89, 100, -inf, inf, nan],
        "log": [0, 1e-30, 1e-45, 1, 1e30, inf, -1, nan],
        "sqrt": [0, 1e-30, 1e-45, 1, 1e30, inf, -1, nan],
        "tanh": [-20, -10, -1e-5, 0, 1e-5, 10, 20, inf, -inf, nan],
        "sigmoid": [-100, -20, -1e-5, 0, 20, 100, inf, -inf, nan],
        "relu": [-1, -0.0, 0, 1e-45, 1, inf, -inf, nan],
        "abs": [-1, -0.0, 0, -inf, inf, nan],
        "neg": [-1, -0.0, 0, -inf, inf, nan],
    }
    for u, vals in specials.items():
        case("math", "special", u, [R(torch.tensor(vals, dtype=FLOAT32), True)])

    # where: bool condition, broadcasting all three.
    case("math", "bcast", "where", [X((4, 1, 5), kind="bool"), X((3, 5), "t"), X((4, 3, 1))],
         scale="abs")
    case("math", "same", "where", [X((6, 7), "t", kind="bool"), X((6, 7), "s"), X((6, 7))],
         scale="abs")
    case("math", "scalar_branch", "where", [X((5,), kind="bool"), X(()), X((5,), "s")],
         scale="abs")

    # Reductions.
    for op in ("sum", "mean"):
        for name, x, params in [
            ("all", X((13, 7), "t"), {}),
            ("dim0", X((13, 7), "t"), {"dims": [0], "keepdim": False}),
            ("dim1_keep", X((13, 7), "s"), {"dims": [1], "keepdim": True}),
            ("neg_dim", X((2, 3, 5), "s"), {"dims": [-1], "keepdim": False}),
            ("dims02", X((2, 3, 5), "t"), {"dims": [0, 2], "keepdim": False}),
            ("dims02_keep", X((2, 3, 5), "e"), {"dims": [2, 0], "keepdim": True}),
            ("all_dims", X((4, 1, 3)), {"dims": [0, 1, 2], "keepdim": False}),
            ("size1", X((4, 1, 3), "o"), {"dims": [1], "keepdim": False}),
            ("scalar", X(()), {}),
            ("long", X((3000,)), {}),
            ("long_dim", X((5, 1000), "t"), {"dims": [1], "keepdim": False}),
            ("empty", X((0, 3)), {"dims": [0], "keepdim": False}),
            ("empty_all", X((0, 3)), {}),
            ("f64", X((6, 5), "t", dtype=torch.float64), {"dims": [0], "keepdim": True}),
        ]:
            case("math", name, op, [x], params, scale="abs")
    for name, x in [("t", X((13, 7), "t")), ("s", X((2, 3, 5), "s")), ("scalar", X(())),
                    ("one", X((1,))), ("ties", X((4, 6), kind="halves")),
                    ("f64", X((5, 5), "t", dtype=torch.float64))]:
        case("math", name, "max", [x], scale="max")
    for name, x, d, k in [("d0", X((13, 7), "t"), 0, False), ("d1_keep", X((13, 7)), 1, True),
                          ("neg", X((2, 3, 5), "s"), -1, False), ("mid", X((2, 3, 5), "e"), 1, True),
                          ("size1", X((4, 1, 3)), 1, False), ("ties", X((5, 8), "t", "halves"), 1, False),
                          ("scalar", X(()), 0, False)]:
        case("math", name, "max_dim", [x], {"dim": d, "keepdim": k})
        case("math", name, "argmax", [x], {"dim": d, "keepdim": k})
    for name, x in [("t", X((13, 7), "t")), ("ties", X((4, 6), kind="halves")), ("scalar", X(()))]:
        case("math", name + "_all", "argmax", [x])

    # matmul in all its shapes; addmm.
    for name, a, b in [
        ("dot", X((7,)), X((7,), "s")),
        ("mv", X((3, 7), "t"), X((7,))),
        ("vm", X((7,), "s"), X((7, 5))),
        ("mm", X((3, 7)), X((7, 5))),
        ("mm_tt", X((3, 7), "t"), X((7, 5), "t")),
        ("mm_strided", X((13, 7), "s"), X((7, 13), "o")),
        ("k1", X((13, 1)), X((1, 7))),
        ("one", X((1, 1)), X((1, 1))),
        ("bmm", X((2, 3, 4)), X((2, 4, 5), "t")),
        ("bmm_bcast_rhs", X((2, 3, 4), "s"), X((4, 5))),
        ("bmm_bcast_lhs", X((3, 4)), X((2, 4, 5))),
        ("batch_bcast", X((2, 1, 3, 4)), X((5, 4, 2), "t")),
        ("batched_mv", X((2, 3, 4), "t"), X((4,))),
        ("vec_batched", X((4,)), X((2, 4, 3))),
        ("expanded", X((6, 5), "e"), X((5, 4))),
        ("empty_k", X((3, 0)), X((0, 4))),
        ("large", X((64, 48)), X((48, 33), "t")),
        ("f64", X((5, 6), "t", dtype=torch.float64), X((6, 4), dtype=torch.float64)),
    ]:
        case("math", name, "matmul", [a, b], scale="abs")
    for name, inp, params in [
        ("bias_row", X((5,)), {"beta": 1, "alpha": 1}),
        ("full", X((3, 5), "t"), {"beta": 1, "alpha": 1}),
        ("one", X((1, 1)), {"beta": 0.5, "alpha": -2.0}),
        ("col", X((3, 1)), {"beta": 2, "alpha": 0.25}),
        ("beta0_nan", R(torch.full((3, 5), float("nan")), True), {"beta": 0, "alpha": 1}),
    ]:
        case("math", name, "addmm", [inp, X((3, 7), "t"), X((7, 5), "s")], params, scale="abs")

    # Tensor members forward to the same functions.
    case("math", "", "Tensor.sum", [X((4, 5), "t")], scale="abs")
    case("math", "dims", "Tensor.sum", [X((4, 5), "t")], {"dims": [1], "keepdim": True},
         scale="abs")
    case("math", "", "Tensor.mean", [X((4, 5), "s")], scale="abs")
    case("math", "dims", "Tensor.mean", [X((4, 5), "s")], {"dims": [0], "keepdim": False},
         scale="abs")
    case("math", "", "Tensor.max", [X((4, 5), "t")], scale="max")
    case("math", "", "Tensor.argmax", [X((4, 5), "t")])
    case("math", "dim", "Tensor.argmax", [X((4, 5), "t")], {"dim": 1, "keepdim": False})
    for u in ("relu", "exp", "tanh", "sigmoid", "neg", "abs"):
        case("math", "", "Tensor." + u, [X((3, 4), "s")])
    for u in ("log", "sqrt"):
        case("math", "", "Tensor." + u, [X((3, 4), "s", "pos")])
    case("math", "", "Tensor.pow_scalar", [X((3, 4), "t", "pos")], {"exponent": 1.5})
    case("math", "", "Tensor.matmul", [X((3, 4), "t"), X((4, 2))], scale="abs")


def arange_like(t):
    return torch.arange(t.numel(), dtype=t.dtype).view(t.shape)


def inplace_cases():
    # Not differentiable: self is a strided view; the whole storage is compared
    # afterwards, so writes outside the view are caught.
    for op, other_kind, params in [("add_", "normal", {"alpha": 1}), ("add_", "normal", {"alpha": -0.5}),
                                   ("sub_", "normal", {"alpha": 2}), ("mul_", "normal", {}),
                                   ("div_", "nonzero", {})]:
        tag = "_alpha" if params.get("alpha", 1) != 1 else ""
        case("inplace", "bcast" + tag, op, [X((3, 7), "t", rg=False), X((7,), kind=other_kind, rg=False)],
             params)
        case("inplace", "strided" + tag, op, [X((2, 3, 5), "s", rg=False),
                                             X((2, 3, 5), "t", other_kind, rg=False)], params)
    for op in ("add_s_", "mul_s_", "div_s_"):
        case("inplace", "", op, [X((4, 6), "ts", rg=False)], {"s": -1.5})
        case("inplace", "int", op, [X((4, 6), "s", rg=False)], {"s": 3})
    for op in ("addcmul_", "addcdiv_"):
        kind = "nonzero" if op == "addcdiv_" else "normal"
        case("inplace", "", op, [X((4, 5), "t", rg=False), X((4, 5), "s", rg=False),
                                 X((5,), kind=kind, rg=False)], {"value": 0.3})
        case("inplace", "default", op, [X((3, 4), "s", rg=False), X((3, 4), rg=False),
                                        X((3, 4), "t", kind, rg=False)], {})


def functional_cases():
    # conv2d: stride, padding, dilation, groups, bias, layouts, unbatched.
    for name, x, w, b, p in [
        ("basic", X((2, 3, 7, 9)), X((4, 3, 3, 3)), X((4,)), (1, 0, 1, 1)),
        ("stride2_pad1_nobias", X((2, 3, 8, 7), "p"), X((5, 3, 3, 3)), None, (2, 1, 1, 1)),
        ("asym", X((1, 2, 9, 11)), X((3, 2, 3, 2), "s"), X((3,)), ([2, 1], [1, 2], [2, 1], 1)),
        ("groups2", X((1, 4, 7, 7), "s"), X((6, 2, 3, 3)), X((6,)), (1, 1, 1, 2)),
        ("depthwise", X((2, 3, 8, 8)), X((3, 1, 3, 3), "t"), X((3,)), (1, 1, 1, 3)),
        ("pointwise_cl", X((2, 8, 5, 5), "p"), X((4, 8, 1, 1)), X((4,)), (1, 0, 1, 1)),
        ("k5_pad2", X((1, 2, 13, 13)), X((3, 2, 5, 5)), X((3,), "s"), (1, 2, 1, 1)),
        ("dilation2", X((2, 2, 11, 10), "t"), X((2, 2, 3, 3)), None, (1, 2, 2, 1)),
        ("stride3_dil2_groups2", X((2, 4, 13, 12)), X((4, 2, 3, 2)), X((4,)), (3, 1, 2, 2)),
        ("kernel_gt_input", X((1, 1, 2, 2)), X((1, 1, 3, 3)), X((1,)), (1, 1, 1, 1)),
        ("unbatched", X((3, 7, 7)), X((2, 3, 3, 3)), X((2,)), (1, 1, 1, 1)),
        ("mnist_like", X((4, 1, 28, 28)), X((8, 1, 5, 5)), X((8,)), (1, 2, 1, 1)),
        ("expanded_input", X((3, 2, 6, 6), "e"), X((2, 2, 3, 3)), X((2,)), (1, 0, 1, 1)),
        ("f64", X((2, 2, 6, 5), dtype=torch.float64), X((3, 2, 3, 3), dtype=torch.float64),
         X((3,), dtype=torch.float64), (2, 1, 1, 1)),
    ]:
        stride, padding, dilation, groups = p
        case("functional", name, "conv2d", [x, w, b],
             {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups},
             scale="abs")

    for name, x, w, b in [("2d", X((3, 7)), X((5, 7)), X((5,))),
                          ("1d", X((7,)), X((5, 7), "t"), X((5,))),
                          ("3d", X((2, 3, 7), "s"), X((4, 7)), X((4,), "s")),
                          ("nobias", X((6, 4), "t"), X((3, 4)), None),
                          ("f64", X((3, 5), dtype=torch.float64), X((2, 5), dtype=torch.float64),
                           X((2,), dtype=torch.float64))]:
        case("functional", name, "linear", [x, w, b], scale="abs")

    pool_cfgs = [
        ("k2", (2, 3, 7, 9), "c", {"kernel_size": [2, 2], "padding": [0, 0]}),
        ("k3s2", (2, 3, 9, 9), "s", {"kernel_size": [3, 3], "stride": [2, 2], "padding": [0, 0]}),
        ("k3s2p1", (1, 2, 8, 7), "p", {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]}),
        ("asym", (1, 2, 9, 10), "t", {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 0]}),
        ("ceil", (2, 2, 8, 8), "c", {"kernel_size": [3, 3], "stride": [2, 2], "padding": [0, 0],
                                     "ceil_mode": True}),
        ("ceil_pad", (1, 3, 7, 10), "c", {"kernel_size": [3, 2], "stride": [2, 3],
                                          "padding": [1, 1], "ceil_mode": True}),
        ("ceil_k2_odd", (1, 1, 13, 13), "c", {"kernel_size": [2, 2], "ceil_mode": True,
                                              "padding": [0, 0]}),
        ("unbatched", (3, 7, 7), "c", {"kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1]}),
        ("global", (2, 4, 5, 5), "c", {"kernel_size": [5, 5], "padding": [0, 0]}),
    ]
    for name, shape, lay, p in pool_cfgs:
        mp = {"dilation": [1, 1], "ceil_mode": False, **p}
        case("functional", name, "max_pool2d", [X(shape, lay)], mp, scale="max")
        ap = {"ceil_mode": False, "count_include_pad": True, **p}
        case("functional", name, "avg_pool2d", [X(shape, lay)], ap, scale="abs")
    # Ties (all-zero windows after a ReLU): the gradient goes to the first
    # maximum in the window, in row-major order.
    for name, shape, p in [
        ("ties_k2", (2, 3, 6, 6), {"kernel_size": [2, 2], "padding": [0, 0]}),
        ("ties_k3s2_overlap", (1, 2, 9, 8), {"kernel_size": [3, 3], "stride": [2, 2],
                                             "padding": [1, 1]}),
    ]:
        mp = {"dilation": [1, 1], "ceil_mode": False, **p}
        case("functional", name, "max_pool2d", [X(shape, "c", "relu")], mp, scale="max")
    for name, shape, p in [
        ("dil2", (1, 2, 11, 11), {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                                  "dilation": [2, 2], "ceil_mode": False}),
        ("dil_asym_ceil", (2, 1, 10, 13), {"kernel_size": [2, 3], "stride": [2, 2],
                                           "padding": [0, 1], "dilation": [3, 2],
                                           "ceil_mode": True}),
    ]:
        case("functional", name, "max_pool2d", [X(shape)], p, scale="max")
    for name, shape, p in [
        ("no_pad_count", (1, 2, 7, 7), {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                                        "ceil_mode": False, "count_include_pad": False}),
        ("no_pad_count_ceil", (2, 2, 8, 7), {"kernel_size": [3, 3], "stride": [2, 2],
                                             "padding": [1, 1], "ceil_mode": True,
                                             "count_include_pad": False}),
        ("divisor", (1, 3, 6, 6), {"kernel_size": [2, 2], "padding": [0, 0], "ceil_mode": False,
                                   "count_include_pad": True, "divisor_override": 3}),
        ("divisor_pad", (1, 1, 5, 6), {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                                       "ceil_mode": True, "count_include_pad": True,
                                       "divisor_override": 5}),
    ]:
        case("functional", name, "avg_pool2d", [X(shape, "s")], p, scale="abs")
    for name, shape, lay, out in [("7x13_to_3x5", (2, 3, 7, 13), "c", [3, 5]),
                                  ("to_1x1", (2, 4, 6, 5), "p", [1, 1]),
                                  ("identity", (1, 2, 7, 13), "t", [7, 13]),
                                  ("upsample", (1, 2, 5, 5), "c", [7, 7]),
                                  ("to_2x3", (3, 2, 9, 10), "s", [2, 3]),
                                  ("unbatched", (3, 8, 7), "c", [3, 3])]:
        case("functional", name, "adaptive_avg_pool2d", [X(shape, lay)], {"output_size": out},
             scale="abs")

    # batch_norm: train/eval, with and without running stats and affine params.
    def stats(c):
        return [R(torch.randn(c) * 0.5), R(torch.rand(c) + 0.5)]

    for name, x, training, with_stats, affine, mom, eps in [
        ("train_2d", X((6, 3)), True, True, True, 0.1, 1e-5),
        ("train_4d", X((2, 3, 5, 7), "p"), True, True, True, 0.1, 1e-5),
        ("train_3d_mom", X((4, 5, 6), "s"), True, True, True, 0.3, 1e-3),
        ("train_nostats", X((3, 4, 3, 3)), True, False, True, 0.1, 1e-5),
        ("train_noaffine", X((5, 2, 4, 4), "t"), True, True, False, 0.1, 1e-5),
        ("eval_2d", X((6, 3), "t"), False, True, True, 0.1, 1e-5),
        ("eval_4d", X((2, 3, 5, 7)), False, True, True, 0.1, 1e-5),
        ("eval_noaffine", X((2, 4, 3, 3), "s"), False, True, False, 0.1, 1e-5),
        ("train_n1_spatial", X((1, 3, 4, 4)), True, True, True, 0.1, 1e-5),
        ("f64", X((4, 3, 2, 2), dtype=torch.float64), True, True, True, 0.1, 1e-5),
    ]:
        c = x.t.shape[1]
        dt = x.t.dtype
        rm, rv = stats(c) if with_stats else (None, None)
        if with_stats and dt != FLOAT32:
            rm, rv = R(rm.t.to(dt)), R(rv.t.to(dt))
        w, b = (X((c,), dtype=dt), X((c,), dtype=dt)) if affine else (None, None)
        case("functional", name, "batch_norm", [x, rm, rv, w, b],
             {"training": training, "momentum": mom, "eps": eps}, scale="max")

    # dropout: deterministic settings compare values; p in (0, 1) in training
    # compares structure (each output 0 or x / (1 - p), gradients to match).
    case("functional", "p0", "dropout", [X((4, 5), "t")], {"p": 0.0, "training": True})
    case("functional", "eval", "dropout", [X((4, 5), "s")], {"p": 0.5, "training": False})
    case("functional", "p1", "dropout", [X((4, 5))], {"p": 1.0, "training": True})
    case("functional", "p03", "dropout", [X((40, 50), "t")], {"p": 0.3, "training": True},
         check="dropout")
    case("functional", "p05_strided", "dropout", [X((20, 30), "s")], {"p": 0.5, "training": True},
         check="dropout")

    for op in ("softmax", "log_softmax"):
        for name, x, d in [("d1", X((13, 7)), 1), ("d0_t", X((13, 7), "t"), 0),
                           ("neg", X((2, 3, 5), "s"), -1), ("mid_t", X((2, 3, 5), "t"), 1),
                           ("vec", X((7,)), 0), ("size1", X((4, 1, 3)), 1),
                           ("big", X((5, 9), kind="big"), 1), ("scalar", X(()), 0),
                           ("expanded", X((3, 6), "e"), 1),
                           ("f64", X((4, 6), "s", dtype=torch.float64), 1)]:
            case("functional", name, op, [x], {"dim": d}, scale="max")

    # nll_loss / cross_entropy: weights, ignore_index, reductions, K-dim inputs.
    def tgt(shape, c, ignore=None, n_ignore=0):
        t = torch.randint(0, c, shape)
        if ignore is not None:
            flat = t.view(-1)
            flat[torch.randperm(flat.numel())[:n_ignore]] = ignore
        return R(t)

    # K-dim inputs are stepped, not channels-last: torch 1.13's nll_loss2d
    # backward refuses a channels-last input ("grad_input must be contiguous").
    for op in ("nll_loss", "cross_entropy"):
        kind = "normal"
        for red in ("mean", "sum", "none"):
            case("functional", f"basic_{red}", op, [X((5, 7), "t", kind), tgt((5,), 7), None],
                 {"ignore_index": -100, "reduction": red}, scale="abs")
            case("functional", f"weight_{red}", op,
                 [X((6, 4), "s", kind), tgt((6,), 4), R(torch.rand(4) + 0.5)],
                 {"ignore_index": -100, "reduction": red}, scale="abs")
            case("functional", f"ignore_{red}", op,
                 [X((8, 5), kind=kind), tgt((8,), 5, -100, 3), R(torch.rand(5) + 0.5)],
                 {"ignore_index": -100, "reduction": red}, scale="abs")
            case("functional", f"ignore_class2_{red}", op,
                 [X((8, 5), kind=kind), tgt((8,), 5, 2, 2), None],
                 {"ignore_index": 2, "reduction": red}, scale="abs")
            case("functional", f"kdim_{red}", op,
                 [X((2, 4, 3, 5), "s", kind), tgt((2, 3, 5), 4, -1, 4), R(torch.rand(4) + 0.5)],
                 {"ignore_index": -1, "reduction": red}, scale="abs")
        case("functional", "all_ignored_mean", op, [X((3, 4), kind=kind), R(torch.full((3,), -100)),
                                                    None],
             {"ignore_index": -100, "reduction": "mean"}, scale="abs")
        case("functional", "f64", op, [X((5, 3), dtype=torch.float64), tgt((5,), 3),
                                       R(torch.rand(3, dtype=torch.float64) + 0.5)],
             {"ignore_index": -100, "reduction": "mean"}, scale="abs")

    for red in ("mean", "sum", "none"):
        case("functional", red, "mse_loss", [X((13, 7), "s"), X((13, 7), "t")],
             {"reduction": red}, scale="max")
    case("functional", "scalar", "mse_loss", [X(()), X(())], {"reduction": "mean"}, scale="max")
    case("functional", "long", "mse_loss", [X((2000,)), X((2000,), rg=False)],
         {"reduction": "mean"}, scale="max")


def view_cases():
    def v(name, op, ins, params=None, grad=True, scale="elem"):
        case("views", name, op, ins, params, check="exact", grad=grad, scale=scale, layout=True)

    v("contig", "view", [X((3, 4, 5))], {"sizes": [12, 5]})
    v("infer", "view", [X((3, 4, 5), "o")], {"sizes": [-1]})
    v("split", "view", [X((3, 4, 5))], {"sizes": [3, 2, 2, 5]})
    v("transposed_split", "view", [X((6, 4), "t")], {"sizes": [3, 2, 2, 2]})
    v("size1_dims", "view", [X((4, 1, 6), "t")], {"sizes": [2, 2, 1, 6]})
    v("stepped_merge_inner", "view", [X((3, 4, 5), "s")], {"sizes": [3, 4, 5, 1]})
    v("scalar_to_1", "view", [X(())], {"sizes": [1]})
    v("view", "reshape", [X((3, 4, 5))], {"sizes": [5, -1]})
    v("copy", "reshape", [X((3, 4, 5), "t")], {"sizes": [-1]})
    v("stepped_copy", "reshape", [X((3, 4), "s")], {"sizes": [12]})
    v("expanded_copy", "reshape", [X((4, 5), "e")], {"sizes": [20]})
    v("to_scalar", "reshape", [X((1, 1))], {"sizes": []})
    v("3d", "permute", [X((2, 3, 5))], {"dims": [2, 0, 1]})
    v("neg_dims_strided", "permute", [X((2, 3, 5), "s")], {"dims": [-1, 1, 0]})
    v("outer", "transpose", [X((2, 3, 5))], {"dim0": 0, "dim1": 2})
    v("neg", "transpose", [X((2, 3, 5), "t")], {"dim0": -1, "dim1": 1})
    v("2d", "t", [X((3, 7), "s")])
    v("1d", "t", [X((7,))])
    v("mid", "narrow", [X((4, 6, 3))], {"dim": 1, "start": 2, "length": 3})
    v("neg_start", "narrow", [X((4, 6, 3), "t")], {"dim": -1, "start": -2, "length": 2})
    v("zero_len", "narrow", [X((4, 6))], {"dim": 0, "start": 4, "length": 0})
    v("step3", "slice", [X((10, 4))], {"dim": 0, "start": 1, "end": 9, "step": 3})
    v("neg_start_clamp", "slice", [X((4, 10), "t")], {"dim": 1, "start": -4, "end": 100, "step": 2})
    v("empty", "slice", [X((4, 10))], {"dim": 1, "start": 7, "end": 3, "step": 1})
    v("stepped_again", "slice", [X((3, 9), "s")], {"dim": -1, "start": 0, "end": 9, "step": 2})
    v("mid", "select", [X((4, 6, 3))], {"dim": 1, "index": 4})
    v("neg", "select", [X((4, 6, 3), "t")], {"dim": -1, "index": -1})
    v("to_scalar", "select", [X((5,), "s")], {"dim": 0, "index": 2})
    v("first_dim", "index", [X((4, 6), "t")], {"index": 3})
    v("bcast", "expand", [X((3, 1, 5))], {"sizes": [2, 3, 4, 5]}, scale="max")
    v("keep", "expand", [X((3, 1), "t")], {"sizes": [-1, 6]}, scale="max")
    v("scalar", "expand", [X(())], {"sizes": [4, 3]}, scale="max")
    v("", "expand_as", [X((1, 5)), X((4, 5), rg=False)], scale="max")
    v("all", "squeeze", [X((1, 3, 1, 5), "t")])
    v("none", "squeeze", [X((2, 3))])
    v("dim", "squeeze_dim", [X((3, 1, 5))], {"dim": 1})
    v("not_one", "squeeze_dim", [X((3, 1, 5), "s")], {"dim": 2})
    v("front", "unsqueeze", [X((3, 5))], {"dim": 0})
    v("back", "unsqueeze", [X((3, 5), "t")], {"dim": -1})
    v("mid_strided", "unsqueeze", [X((3, 5), "s")], {"dim": 1})
    v("scalar", "unsqueeze", [X(())], {"dim": 0})
    v("all", "flatten", [X((2, 3, 4))], {"start_dim": 0, "end_dim": -1})
    v("mid_copy", "flatten", [X((2, 3, 4), "t")], {"start_dim": 1, "end_dim": 2})
    v("mid_view", "flatten", [X((2, 3, 4, 5), "s")], {"start_dim": 0, "end_dim": 2})
    v("scalar", "flatten", [X(())], {"start_dim": 0, "end_dim": -1})
    v("copies", "contiguous", [X((3, 4), "t")])
    v("noop", "contiguous", [X((3, 4))])
    v("expanded", "contiguous", [X((3, 4), "e")], scale="max")
    v("strided", "clone", [X((3, 4, 2), "s")])
    v("", "detach", [X((3, 4), "t", rg=False)], grad=False)
    v("f64_grad", "to", [X((3, 4), "t")], {"dtype": "float64"})
    v("f16_grad", "to", [X((3, 4), "s")], {"dtype": "float16"})
    v("bf16_grad", "to", [X((3, 4))], {"dtype": "bfloat16"})
    v("f64_to_f32_grad", "to", [X((5,), "s", dtype=torch.float64)], {"dtype": "float32"})
    v("same_dtype", "to", [X((3, 4), "t")], {"dtype": "float32"})
    v("same_dtype_copy", "to", [X((3, 4), "t")], {"dtype": "float32", "copy": True})
    v("to_int", "to", [X((3, 4), "s", rg=False)], {"dtype": "int32"}, grad=False)
    v("", "as_strided", [X((4, 6), rg=False)], {"sizes": [3, 3], "strides": [1, 4], "offset": 2},
      grad=False)
    v("bcast_cast", "copy_", [X((3, 5), "t", rg=False), X((5,), dtype=torch.float64, rg=False)],
      grad=False)
    v("from_int", "copy_", [X((2, 6), "s", rg=False), X((2, 6), kind="int:-50:50",
                                                         dtype=torch.int64, rg=False)], grad=False)
    v("to_f16", "copy_", [X((4, 3), "t", dtype=torch.float16, rg=False), X((4, 3), rg=False)],
      grad=False)
    v("", "fill_", [X((4, 5), "ts", rg=False)], {"value": -2.5}, grad=False)
    v("", "zero_", [X((3, 4), "t", rg=False)], grad=False)
    v("int", "fill_", [X((3, 4), "s", kind="int:0:9", dtype=torch.int64, rg=False)], {"value": 7},
      grad=False)


def factory_cases():
    for name, start, end, step in [("int", 0, 10, 3), ("neg_step", 5, -4, -2),
                                   ("float", 0.0, 1.0, 0.1), ("float_exact", -1.0, 1.0, 0.25),
                                   ("float_many", 0.5, 100.25, 0.37)]:
        case("factory", name, "arange", [], {"start": start, "end": end, "step": step},
             check="tol" if isinstance(step, float) else "exact")
    for name, value in [("int", 3), ("float", 2.5), ("bool", True)]:
        case("factory", name, "scalar_tensor", [], {"value": value}, check="exact")


# ---- dtype conversions: every pair, bit for bit ---------------------------------

INT_RANGES = {torch.int8: (-2**7, 2**7 - 1), torch.int16: (-2**15, 2**15 - 1),
              torch.int32: (-2**31, 2**31 - 1), torch.int64: (-2**63, 2**63 - 1),
              torch.uint8: (0, 255)}
FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
COMPLEX = (torch.complex64, torch.complex128)


def float_specials():
    inf, nan = float("inf"), float("nan")
    v = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.7, -3.7, 0.1, 1 / 3, math.pi, -math.e,
         127.0, 127.9, -128.0, -128.9, 255.0, 255.9, 1000.5, 32767.0, -32768.0, 65535.0,
         65504.0, 65519.99, 65520.0, -65520.0, 1e5, 2.0**24 + 1, 2147483520.0, -2147483648.0,
         1e10, -1e10, 9.2e18, -9.2e18, 1e30, 3.38e38, 3.3961e38, 3.4e38, -3.4e38, 1e39,
         1e-3, 1e-8, 6e-8, 2.0**-24, 2.0**-25, 3 * 2.0**-25, 5 * 2.0**-25, 2.0**-14,
         2.0**-14 - 2.0**-25, 6.1e-5, 1e-39, -1e-39, 1.4e-45, 1e-46, 1e-300, -1e-300, 1e300,
         # halfway between neighbouring float16 / bfloat16 values (ties to even)
         1 + 2.0**-11, 1 + 3 * 2.0**-11, -(1 + 2.0**-11), 1024 + 0.5, 1025 + 0.5,
         1 + 2.0**-8, 1 + 3 * 2.0**-8, -(1 + 3 * 2.0**-8), 256 + 1.0, 257 + 1.0,
         # just above a halfway point in float64 (float64 -> float32 -> 16-bit rounds twice)
         1 + 2.0**-11 + 2.0**-40, 1 + 2.0**-8 + 2.0**-40,
         inf, -inf, nan, -nan]
    return v


def int_specials():
    return [0, 1, -1, 2, 7, -7, 100, 127, 128, -128, -129, 200, 255, 256, -255, 1000, 2047, 2049,
            32767, 32768, -32768, -32769, 65504, 65519, 65520, 65535, 65536, 16777217, -16777217,
            2**31 - 1, -2**31, 2**31, 2**53 + 1, 2**62 + 2**40 + 1, 2**63 - 1, -2**63]


def source_values(src):
    """Values of dtype src worth converting: specials, random values, and for
    16-bit floats every bit pattern."""
    if src == torch.bool:
        return torch.tensor([True, False, True])
    if src == torch.uint8:
        return torch.arange(256, dtype=torch.int64).to(torch.uint8)
    if src in INT_RANGES:
        lo, hi = INT_RANGES[src]
        v = [x for x in int_specials() if lo <= x <= hi]
        v += torch.randint(max(lo, -100000), min(hi, 100000), (40,)).tolist()
        return torch.tensor(v, dtype=torch.int64).to(src)
    if src in (torch.float16, torch.bfloat16):
        return torch.arange(-2**15, 2**15, dtype=torch.int32).to(torch.int16).view(src)
    if src in (torch.float32, torch.float64):
        base = torch.tensor(float_specials(), dtype=torch.float64).to(src)
        rnd = torch.randn(60, dtype=torch.float64) * torch.tensor([10.0 ** (k % 12 - 4)
                                                                    for k in range(60)])
        parts = [base, rnd.to(src)]
        if src == torch.float32:
            # Random bit patterns, and float32 values within a few ulps of
            # 16-bit halfway points: every rounding branch of float -> half/bf16.
            bits = torch.randint(-2**31, 2**31 - 1, (4000,), dtype=torch.int64).to(torch.int32)
            parts.append(bits.view(torch.float32))
            h = torch.randint(-2**15, 2**15, (600,), dtype=torch.int32).to(torch.int16)
            for fmt, shift in ((torch.float16, None), (torch.bfloat16, 16)):
                f = h.view(fmt).float()
                f = f[torch.isfinite(f)]
                fb = f.view(torch.int32)
                # the float32 halfway point to the next 16-bit value, +-1 ulp
                step = (1 << 12) if shift is None else (1 << 15)
                for d in (-1, 0, 1):
                    parts.append((fb + step + d).view(torch.float32))
        return torch.cat(parts)
    if src in COMPLEX:
        re = torch.tensor(float_specials(), dtype=torch.float64)
        im = re[torch.randperm(re.numel())]
        im[::3] = 0.0
        return torch.complex(re, im).to(src)
    raise ValueError(src)


def convertible(vals, dst):
    """Drops values whose conversion to dst is undefined: float -> integer of
    NaN, inf or anything out of range is UB in C++ and PyTorch's result depends
    on the CPU and code path (e.g. float -> uint8 of a negative number), so
    wick does not promise PyTorch's bits there."""
    if dst not in INT_RANGES or not (vals.is_floating_point() or vals.is_complex()):
        return vals
    re = vals.real if vals.is_complex() else vals
    f = re.double()
    lo, hi = INT_RANGES[dst]
    ok = torch.isfinite(f) & (torch.trunc(f) >= lo) & (torch.trunc(f) <= hi)
    if dst == torch.int64:  # 2^63 itself is not representable
        ok &= f.abs() < 9.2e18
    return vals[ok]


def dtype_cases():
    for src in DTYPES:
        all_vals = source_values(src)
        for dst in DTYPES:
            vals = convertible(all_vals, dst)
            n = vals.numel()
            # stepped layout: every other element of a storage, from offset 1
            base = torch.zeros(2 * n + 1, dtype=src)
            base[1::2] = vals
            x = base[1::2]
            case("dtype", f"{DTYPES[src]}_to_{DTYPES[dst]}", "to", [R(x)],
                 {"dtype": DTYPES[dst], "copy": True}, check="exact", grad=False)


def model_cases():
    """Ops that torchvision's models (MobileNet, EfficientNet, ConvNeXt, ViT)
    need. Drawn after every other family, so adding them left the earlier
    cases' random values as they were."""
    inf, nan = float("inf"), float("nan")
    kinks = [-6, -3, -1e-7, 0, 1e-7, 3, 6, 6.5, -2.999, 2.999, 100, -100, inf, -inf, nan]

    def big(shape, lay, dt=FLOAT32):  # spread over every piece of the piecewise ones
        return In(arrange(shape, lay, lambda s: torch.randn(s, dtype=dt) * 4), True)

    for op in ("relu6", "hardsigmoid", "hardswish", "silu", "gelu", "gelu_tanh"):
        name, params = op, {}
        if op.startswith("gelu"):
            name, params = "gelu", {"approximate": "tanh" if op == "gelu_tanh" else "none"}
        tag = "tanh_" if op == "gelu_tanh" else ""
        case("functional", tag + "t", name, [big((13, 7), "t")], params)
        case("functional", tag + "s", name, [big((2, 3, 5), "s")], params)
        case("functional", tag + "e", name, [big((4, 1, 3), "e")], params, scale="abs")
        case("functional", tag + "f64", name, [big((5, 3), "t", torch.float64)], params)
        case("functional", tag + "special", name, [R(torch.tensor(kinks), True)], params)

    # cat and stack copy; chunk and split are views (layout compared).
    for name, ins, d in [("dim1", [X((2, 3, 4), "t"), X((2, 1, 4)), X((2, 5, 4), "s")], 1),
                         ("neg", [X((3, 2)), X((3, 4), "t")], -1),
                         ("dim0_one", [X((4, 5), "e")], 0),
                         ("legacy_empty", [X((2, 3)), R(torch.empty(0), True), X((1, 3))], 0),
                         ("f64", [X((2, 3), dtype=torch.float64),
                                  X((2, 2), "t", dtype=torch.float64)], 1),
                         ("int", [X((2, 3), kind="int:-5:5", dtype=torch.int64),
                                  X((1, 3), kind="int:-5:5", dtype=torch.int64)], 0)]:
        case("functional", name, "cat", ins, {"dim": d})
    for name, ins, d in [("d0", [X((3, 4)), X((3, 4), "t")], 0),
                         ("last", [X((2, 3), "s"), X((2, 3)), X((2, 3), "o")], 2),
                         ("neg", [X((2, 3)), X((2, 3))], -2)]:
        case("functional", name, "stack", ins, {"dim": d})
    for name, x, chunks, d in [("even", X((6, 4)), 3, 0), ("uneven", X((2, 7), "t"), 3, -1),
                               ("fewer", X((5, 2)), 4, 0), ("more_than_size", X((2, 3)), 5, 1)]:
        case("views", name, "chunk", [x], {"chunks": chunks, "dim": d}, layout=True)
    for name, x, sp, d in [("int", X((7, 3), "s"), 3, 0), ("list", X((2, 6), "t"), [1, 4, 1], 1),
                           ("list_zero", X((4, 2)), [0, 4], -2), ("big", X((3, 2)), 5, 0)]:
        case("views", name, "split", [x], {"split": sp, "dim": d}, layout=True)

    # adaptive_max_pool2d: overlapping windows, upsampling, ties after a ReLU.
    for name, shape, lay, kind, out in [("7x13_to_3x5", (2, 3, 7, 13), "c", "normal", [3, 5]),
                                        ("to_1x1", (2, 4, 6, 5), "p", "normal", [1, 1]),
                                        ("identity", (1, 2, 7, 13), "t", "normal", [7, 13]),
                                        ("upsample", (1, 2, 5, 5), "c", "normal", [7, 7]),
                                        ("to_2x3", (3, 2, 9, 10), "s", "normal", [2, 3]),
                                        ("unbatched", (3, 8, 7), "c", "normal", [3, 3]),
                                        ("ties", (2, 3, 7, 6), "c", "relu", [3, 4]),
                                        ("f64", (1, 2, 6, 6), "c", "normal", [4, 4])]:
        dt = torch.float64 if name == "f64" else FLOAT32
        case("functional", name, "adaptive_max_pool2d", [X(shape, lay, kind, dt)],
             {"output_size": out}, scale="max")

    # stochastic_depth (torchvision 0.14): the deterministic settings compare
    # values; p in (0, 1) compares structure, with one element per row so that
    # the zero count is binomial as check "dropout" assumes.
    for name, x, params in [("p0_row", X((4, 3, 2), "t"), {"p": 0.0, "mode": "row"}),
                            ("eval_batch", X((4, 5), "s"), {"p": 0.5, "mode": "batch",
                                                            "training": False}),
                            ("eval_row", X((3, 4, 2)), {"p": 0.3, "mode": "row",
                                                        "training": False}),
                            ("p1_row", X((4, 5)), {"p": 1.0, "mode": "row"}),
                            ("p1_batch", X((2, 3), "t"), {"p": 1.0, "mode": "batch"})]:
        case("functional", name, "stochastic_depth", [x], {"training": True, **params})
    case("functional", "p03_row", "stochastic_depth", [X((2000, 1, 1), "s")],
         {"p": 0.3, "mode": "row", "training": True}, check="dropout")

    # scaled_dot_product_attention against the reference formula.
    keep = torch.rand(4, 6) > 0.3
    keep[:, 0] = True  # no fully masked rows
    for name, ins, params in [
        ("basic", [X((2, 4, 8)), X((2, 6, 8)), X((2, 6, 5)), None], {}),
        ("heads", [X((2, 3, 4, 8), "s"), X((2, 3, 6, 8), "t"), X((2, 3, 6, 8)), None], {}),
        ("bcast_kv", [X((3, 4, 8)), X((6, 8)), X((6, 2), "t"), None], {}),
        ("float_mask", [X((2, 4, 8)), X((2, 6, 8)), X((2, 6, 5)), X((4, 6))], {}),
        ("bool_mask", [X((2, 4, 8)), X((2, 6, 8)), X((2, 6, 5)), R(keep)], {}),
        ("causal", [X((2, 6, 4)), X((2, 6, 4)), X((2, 6, 3)), None], {"is_causal": True}),
        ("scale", [X((5, 8)), X((7, 8)), X((7, 8)), None], {"scale": 0.3}),
        ("f64", [X((2, 4, 8), dtype=torch.float64), X((2, 6, 8), dtype=torch.float64),
                 X((2, 6, 5), dtype=torch.float64), None], {}),
    ]:
        case("functional", name, "sdpa", ins, params, scale="abs")

    # nn.MultiheadAttention on the same weights (loaded through the state_dict
    # on the C++ side, so only query, key and value get gradients).

    def mha_weights(e, bias=True, dt=FLOAT32):
        w = [X((3 * e, e), dtype=dt, rg=False), X((3 * e,), dtype=dt, rg=False),
             X((e, e), dtype=dt, rg=False), X((e,), dtype=dt, rg=False)]
        return w if bias else [w[0], None, w[2], None]

    pad = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])
    causal = torch.ones(4, 5, dtype=torch.bool).triu(1)
    for name, ins, params in [
        ("self_seq_first", [X((4, 2, 8))] * 3 + [None, None] + mha_weights(8),
         {"num_heads": 2, "batch_first": False, "need_weights": True}),
        ("cross_batch_first", [X((2, 4, 8)), X((2, 5, 8), "s"), X((2, 5, 8)), None, None]
         + mha_weights(8), {"num_heads": 4, "batch_first": True, "need_weights": True}),
        ("masks", [X((2, 4, 8)), X((2, 5, 8)), X((2, 5, 8)), R(pad), R(causal)] + mha_weights(8),
         {"num_heads": 2, "batch_first": True, "need_weights": True}),
        ("float_mask_nobias", [X((4, 2, 6)), X((5, 2, 6)), X((5, 2, 6)), None, X((4, 5), rg=False)]
         + mha_weights(6, False), {"num_heads": 3, "batch_first": False, "need_weights": True}),
        ("no_weights", [X((3, 2, 8))] * 3 + [None, None] + mha_weights(8),
         {"num_heads": 1, "batch_first": False, "need_weights": False}),
        ("unbatched", [X((4, 8)), X((5, 8)), X((5, 8)), None, None] + mha_weights(8),
         {"num_heads": 2, "batch_first": False, "need_weights": True}),
        ("f64", [X((2, 3, 4), dtype=torch.float64)] * 3 + [None, None]
         + mha_weights(4, dt=torch.float64),
         {"num_heads": 2, "batch_first": True, "need_weights": True}),
    ]:
        case("functional", name, "mha", ins, params, scale="abs")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_op_cases.py OUT_DIR")
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    import warnings
    warnings.filterwarnings("ignore")  # complex -> real casts warn; that is the point
    math_cases()
    inplace_cases()
    functional_cases()
    view_cases()
    factory_cases()
    dtype_cases()
    model_cases()
    W.save(sys.argv[1])
    print(f"gen_op_cases: {len(W.cases)} cases, {W.size} bytes, torch {torch.__version__}")


if __name__ == "__main__":
    main()
