#!/usr/bin/python3
"""Writes the tensor-printing cases that wick's repr must match, asking the real
PyTorch for each expected string.

    /usr/bin/python3 tests/print_cases.py OUT.json

Every tensor is built from explicit values (no randomness) so that the C++ side
(tests/print/test_print_pytorch.cpp) can rebuild it exactly. A case is

    {"name", "dtype", "sizes", "values", "requires_grad", "ops", "expected"}

where `values` are the row-major elements of a contiguous tensor of `sizes`:
floating values as float.hex() strings (exact), integers as decimal strings,
bools as "0"/"1", complex values as [real_hex, imag_hex]. `requires_grad`
marks that base tensor a leaf requiring grad; `ops` are then applied in order
(views, clone, to) and `expected` is repr() of the result.
"""

import json
import math
import sys

import torch

DTYPES = {
    torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
    torch.bfloat16: "bfloat16", torch.int8: "int8", torch.int16: "int16",
    torch.int32: "int32", torch.int64: "int64", torch.uint8: "uint8",
    torch.bool: "bool", torch.complex64: "complex64", torch.complex128: "complex128",
}
BY_NAME = {v: k for k, v in DTYPES.items()}

cases = []


def export(v, dtype):
    if dtype.is_complex:
        return [float.hex(v.real), float.hex(v.imag)]
    if dtype.is_floating_point:
        return float.hex(v)
    if dtype == torch.bool:
        return "1" if v else "0"
    return str(v)


def apply(t, op):
    kind = op["op"]
    if kind == "t":
        return t.t()
    if kind == "slice":
        idx = [slice(None)] * t.dim()
        idx[op["dim"]] = slice(op["start"], op["end"], op["step"])
        return t[tuple(idx)]
    if kind == "select":
        return t.select(op["dim"], op["index"])
    if kind == "permute":
        return t.permute(*op["dims"])
    if kind == "expand":
        return t.expand(*op["sizes"])
    if kind == "view":
        return t.view(*op["sizes"])
    if kind == "clone":
        return t.clone()
    if kind == "to":
        return t.to(BY_NAME[op["dtype"]])
    raise ValueError(kind)


def case(name, t, ops=(), requires_grad=False):
    base = t.detach().contiguous()
    values = [export(v, base.dtype) for v in base.reshape(-1).tolist()]
    x = base.clone().requires_grad_() if requires_grad else base
    for op in ops:
        x = apply(x, op)
    cases.append({
        "name": name, "dtype": DTYPES[base.dtype], "sizes": list(base.shape),
        "values": values, "requires_grad": requires_grad, "ops": list(ops),
        "expected": repr(x),
    })


def T(values, dtype=None):
    return torch.tensor(values, dtype=dtype)


def ar(n, dtype=torch.float32):
    return torch.arange(n, dtype=torch.float64).to(dtype)


nan, inf = math.nan, math.inf
f32, f64, f16, bf16 = torch.float32, torch.float64, torch.float16, torch.bfloat16
ints = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8]
cplx = [torch.complex64, torch.complex128]

# ---- every dtype: 1-D, 0-dim, 2-D, empty ------------------------------------
for dt, name in DTYPES.items():
    if dt == torch.bool:
        vals, grid = [True, False, True], [[True, False, False], [False, True, True]]
    elif dt == torch.uint8:
        vals, grid = [1, 0, 3, 255], [[0, 1, 2], [30, 40, 250]]
    elif dt.is_complex:
        vals, grid = [1 + 2j, -0.5 - 1j, 0j], [[1, 2j, -3], [4 + 0.5j, 5, -6j]]
    else:
        vals, grid = [1, 0, -3, 7], [[0, -1, 2], [30, 40, 100]]
    case(f"{name}_1d", T(vals, dt))
    case(f"{name}_0d", T(vals[0], dt))
    case(f"{name}_2d", T(grid, dt))
    case(f"{name}_empty", T([], dt))
    case(f"{name}_empty_2x0", torch.zeros(2, 0, dtype=dt))
for dt in [f32, f64, f16, bf16]:
    case(f"{DTYPES[dt]}_fractions", T([0.1, -2.5, 3.25, 1 / 3], dt))
    case(f"{DTYPES[dt]}_small", T([1e-3, 2e-5, 0.5], dt))
case("int64_extremes", T([-2**63, 2**63 - 1, 0]))
case("int8_extremes", T([-128, 127, 0], torch.int8))
case("int32_wide", T([-2147483648, 7], torch.int32))

# ---- float formatting: int mode, fixed, sci, non-finite, signed zero ---------
case("int_valued", T([1., 2., 3.]))
case("mixed", T([1.5, 2.25, -3.]))
case("sci_small", T([1e-5, 1.0]))
case("sci_small_alone", T([1e-5]))
case("sci_large_ints", T([1e10, 1.]))
case("ints_at_1e8", T([1e8, 1.]))
case("ints_above_1e8", T([123456789.]))
case("ints_ratio_1000", T([1., 1000.]))
case("ints_ratio_1001", T([1., 1001.]))
case("frac_ratio_1001", T([0.5, 500.5]))
case("frac_1e-3", T([0.001, 0.5]))
case("frac_1e-4_float32", T([0.0001, 1.]))  # float32 0.0001 is just below 1e-4
case("frac_1e-4_float64", T([0.0001, 1.], f64))
case("non_finite", T([nan, inf, -inf]))
case("nan_only", T([nan]))
case("nan_and_int", T([nan, 1.]))
case("inf_and_frac", T([inf, 1.5, -2.25]))
case("inf_in_sci", T([inf, 1e-5, nan]))
case("zeros", T([0., -0.]))
case("neg_zero_0d", T(-0.))
case("neg_zero_frac", T([-0.0, 1.5]))
case("neg_zero_sci", T([-0.0, 1e-7]))
case("alignment", T([1.23456789, -12345.6789, 0.5]))
case("rounding", T([0.00015, 0.99995, 1.00005, 2.5]))
case("subnormal", T([1e-40, 1.]))
case("float_max", T([3.4e38, -1.]))
case("sci_3_digit_exponent", T([1e100, 1.], f64))
case("sci_neg_big", T([-1e-5, 1e5]))
case("float64_precise", T([0.1, 0.2, 0.1 + 0.2], f64))
case("float16_inexact", T([0.1, 1000.3, 65504.], f16))
case("bfloat16_big", T([3e38, 1.], bf16))
case("half_nonfinite", T([inf, nan, 2.], f16))
case("half_subnormal", T([6e-8, 1.], f16))
case("double_subnormal", T([5e-324, 1e-300], f64))
case("frac_ratio_1000", T([0.5, 500.]))
case("rounding_widens", T([9.99996, 1.5]))
case("exact_tie_fixed", T([1.03125, 2.5]))  # 1.03125 is exact: the tie goes to even
case("exact_tie_sci", T([1.03125, 1e-5]))

# ---- shapes -------------------------------------------------------------------
case("3d", ar(24).reshape(2, 3, 4))
case("4d", (ar(48) / 4).reshape(2, 2, 3, 4))
case("5d_int", torch.arange(32).reshape(2, 2, 2, 2, 2))
case("1x1", T([[7.]]))
case("size_1", T([7.]))
case("3x1", T([[1.], [2.], [3.]]))
case("1x3_int", T([[1, 2, 3]]))
case("2x1x3", (ar(6) - 2).reshape(2, 1, 3))
case("empty_0x3", torch.zeros(0, 3))
case("empty_2x0x3", torch.zeros(2, 0, 3))
case("empty_3x0_int", torch.zeros(3, 0, dtype=torch.int64))
case("0d_float", T(3.))
case("0d_frac", T(-2.5))
case("0d_sci", T(1e-6))
case("0d_nan", T(nan))
case("0d_complex", T(1 - 2j))

# ---- line wrapping --------------------------------------------------------------
case("wrap_1d_float", ar(30) / 7)
case("wrap_1d_int", torch.arange(100))
case("wrap_1d_neg_int", torch.arange(-30, 30) * 1001)
case("wrap_2d_float", (ar(100) / 3).reshape(4, 25))
case("wrap_3d_float", (ar(80) - 40).reshape(2, 2, 20))
case("wrap_complex", torch.complex(ar(20, f32), -ar(20, f32) / 3))
case("wrap_bool", torch.arange(40) % 3 == 0)
case("wrap_sci", ar(40) * 1e-6)

# ---- summarisation (> 1000 elements) ---------------------------------------------
case("sum_1d_float", ar(1001))
case("sum_1d_int", torch.arange(1001))
case("sum_2d", (ar(2000) / 3).reshape(40, 50))
case("sum_no_cut", ar(6 * 6 * 6 * 6).reshape(6, 6, 6, 6))
case("sum_4d", ar(7 * 7 * 7 * 3).reshape(7, 7, 7, 3))
hidden = ar(1001)
hidden[500] = 1e10
case("sum_hidden_big", hidden)  # the formatter sees only the printed elements
hidden_nan = (ar(2000) / 4).reshape(10, 200)
hidden_nan[5, 100] = nan
case("sum_hidden_nan", hidden_nan)
case("sum_complex", torch.complex(ar(1200, f32), ar(1200, f32) / 8))
case("sum_bool", torch.arange(1001) % 2 == 0)
case("sum_inner_cut", ar(1200).reshape(3, 400))
case("sum_outer_cut", ar(2000).reshape(2000, 1))
case("sum_half", ar(1500, f16) / 2)
case("sum_int8", (torch.arange(1100) % 200 - 100).to(torch.int8))
case("sum_sci", ar(1100) * 1e-7)

# ---- complex specifics -----------------------------------------------------------
case("complex_sci_imag", T([1 + 2j, -0.5 - 1e-5j]))
case("complex_neg_zero", T([complex(1, -0.0), complex(-0.0, 0.0)]))
case("complex_nan_imag", T([complex(1, nan), complex(inf, -inf)]))
case("complex_2d", torch.complex(ar(6, f64), ar(6, f64) - 2.5).reshape(2, 3))
case("complex_frac", T([0.25 + 1.5j, 3 - 0.125j], torch.complex128))

# ---- autograd suffixes -----------------------------------------------------------
case("grad_leaf", T([1., 2.]), requires_grad=True)
case("grad_leaf_float64", T([1., 2.], f64), requires_grad=True)
case("grad_leaf_0d", T(2.5), requires_grad=True)
case("grad_empty", torch.zeros(0, 2), requires_grad=True)
case("grad_2d", (ar(6) / 4).reshape(2, 3), requires_grad=True)
for n in range(8, 13):  # some of these push the suffix onto its own line
    case(f"grad_wrap_{n}", ar(n) / 3, requires_grad=True)
case("grad_wrap_float64", ar(9, f64) / 3, requires_grad=True)
case("grad_clone", T([1., 2.]), [{"op": "clone"}], requires_grad=True)
case("grad_view", ar(6), [{"op": "view", "sizes": [2, 3]}], requires_grad=True)
case("grad_permute", ar(6).reshape(2, 3), [{"op": "permute", "dims": [1, 0]}],
     requires_grad=True)
case("grad_to_float64", ar(6), [{"op": "to", "dtype": "float64"}], requires_grad=True)
case("grad_select", ar(6).reshape(2, 3), [{"op": "select", "dim": 0, "index": 1}],
     requires_grad=True)

# ---- non-contiguous views --------------------------------------------------------
case("view_t", ar(6).reshape(2, 3), [{"op": "t"}])
case("view_step2", ar(20).reshape(2, 10), [{"op": "slice", "dim": 1, "start": 1, "end": 10,
                                             "step": 2}])
case("view_expand", T([[1.5], [2.], [3.]]), [{"op": "expand", "sizes": [3, 4]}])
case("view_permute_3d", ar(24, torch.int32).reshape(2, 3, 4),
     [{"op": "permute", "dims": [2, 0, 1]}])
case("view_expand_huge", T([[1.5]]), [{"op": "expand", "sizes": [2000, 2000]}])
case("view_select", ar(24).reshape(2, 3, 4), [{"op": "select", "dim": 1, "index": 2}])

if len(sys.argv) != 2:
    sys.exit("usage: print_cases.py OUT.json")
with open(sys.argv[1], "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, indent=1)
print(f"print_cases.py: wrote {len(cases)} cases to {sys.argv[1]}")
