"""Runs wick's kernel benchmarks and the same work in PyTorch, in one run, and
prints a Markdown table of both figures and their ratio.

    /usr/bin/python3 bench/compare_pytorch.py build/bin/bench_kernels --threads 2

The wick side is bench/bench_kernels.cpp, run with --benchmark_format=json;
the PyTorch side (Debian's python3-torch, 1.13) repeats each case here with
torch.set_num_threads set to the same count. Both sides report wall-clock
time per call: the best of several repetitions, each the mean over many calls
after warm-up. The ratio is wick speed / PyTorch speed: above 1
means wick is faster. PyTorch's figures include its Python call overhead,
which is part of what a PyTorch user pays per op.
"""

import argparse
import json
import os
import subprocess
import sys
import time

GEMM_N = 1024
# name, in_channels, image size, out_channels, kernel, input requires grad
CONVS = [("conv1", 3, 32, 6, 5, False), ("conv2", 6, 14, 16, 5, True)]
BATCHES = [4, 64]


def run_wick(binary, threads, min_time, repetitions, extra):
    cmd = [binary, "--threads", str(threads), "--benchmark_format=json",
           f"--benchmark_min_time={min_time}", f"--benchmark_repetitions={repetitions}"] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    results = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue  # aggregates (mean, median, stddev) of the repetitions
        name = b["run_name"].removesuffix("/real_time")
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        seconds = b["real_time"] * scale
        if name not in results or seconds < results[name]["seconds"]:
            results[name] = {"seconds": seconds, "flops": b.get("FLOPS")}
    return results


def mean_time(fn, min_time, repetitions):
    """Seconds per call of fn: the best of `repetitions` means, each over at
    least min_time after warm-up (as Google Benchmark's repetitions)."""
    for _ in range(3):
        fn()
    iters, best = 1, float("inf")
    for _ in range(repetitions):
        while True:
            start = time.perf_counter()
            for _ in range(iters):
                fn()
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                best = min(best, elapsed / iters)
                break
            iters = max(iters * 2, int(iters * min_time / max(elapsed, 1e-9) * 1.2))
    return best


def run_torch(min_time, repetitions):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    results = {}
    a, b = torch.randn(GEMM_N, GEMM_N), torch.randn(GEMM_N, GEMM_N)
    with torch.no_grad():
        t = mean_time(lambda: torch.matmul(a, b), min_time, repetitions)
    results["sgemm_1024"] = {"seconds": t, "flops": 2.0 * GEMM_N**3 / t}
    for name, cin, size, cout, k, input_grad in CONVS:
        for batch in BATCHES:
            base = f"{name}_b{batch}"
            x = torch.randn(batch, cin, size, size)
            w = torch.randn(cout, cin, k, k)
            bias = torch.randn(cout)
            with torch.no_grad():
                results[base + "/forward"] = {
                    "seconds": mean_time(lambda: F.conv2d(x, w, bias), min_time, repetitions)}
            x.requires_grad_(input_grad)
            w.requires_grad_()
            bias.requires_grad_()
            out = size - k + 1
            g = torch.randn(batch, cout, out, out)

            def step():
                x.grad = w.grad = bias.grad = None
                F.conv2d(x, w, bias).backward(g)

            results[base + "/forward_backward"] = {
                "seconds": mean_time(step, min_time, repetitions)}
    return results


def fmt_time(seconds):
    return f"{seconds * 1e6:.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def table(wick, pt):
    rows = ["| benchmark | wick | PyTorch | wick speed / PyTorch speed |",
            "|---|---|---|---|"]
    for variant in ["wick_matmul", "cblas_sgemm"]:
        w = wick[f"sgemm_1024/{variant}"]["flops"]
        p = pt["sgemm_1024"]["flops"]
        label = "wick::matmul" if variant == "wick_matmul" else "cblas_sgemm (direct)"
        rows.append(f"| sgemm 1024³, {label} vs torch.matmul | {w / 1e9:.1f} GFLOP/s "
                    f"| {p / 1e9:.1f} GFLOP/s | {w / p:.2f} |")
    for name, cin, size, cout, k, _ in CONVS:
        for batch in BATCHES:
            for step in ["forward", "forward_backward"]:
                key = f"{name}_b{batch}/{step}"
                w, p = wick[key]["seconds"], pt[key]["seconds"]
                label = (f"{name} [{batch},{cin},{size},{size}] * [{cout},{cin},{k},{k}] "
                         f"{step.replace('_', '+')}")
                rows.append(f"| {label} | {fmt_time(w)} | {fmt_time(p)} | {p / w:.2f} |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="build/bin/bench_kernels",
                        help="path of bench_kernels (default: build/bin/bench_kernels)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for both wick and PyTorch (default: all cores)")
    parser.add_argument("--min-time", type=float, default=0.1,
                        help="seconds of one repetition of a case (default: 0.1)")
    parser.add_argument("--repetitions", type=int, default=5,
                        help="repetitions per case; the best is reported, which keeps "
                             "other load on the machine out of the figures (default: 5)")
    args, extra = parser.parse_known_args()
    if not os.path.exists(args.binary):
        sys.exit(f"compare_pytorch.py: no benchmark binary at {args.binary}; build it first "
                 "(ninja -C build bench_kernels) or pass its path")
    # torch.set_num_threads does not reach the BLAS that Debian's PyTorch calls
    # for matmul (OpenBLAS reads its thread count once, when it is loaded).
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    wick = run_wick(args.binary, args.threads, args.min_time, args.repetitions, extra)
    pt = run_torch(args.min_time, args.repetitions)
    # Other work on the machine skews both sides; the load average shows it.
    print(f"threads: {args.threads}; PyTorch {torch.__version__}; 1-minute load average "
          f"before/after: {load_before:.2f}/{os.getloadavg()[0]:.2f}\n")
    print(table(wick, pt))


if __name__ == "__main__":
    main()
