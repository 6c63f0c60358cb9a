"""Runs wick's benchmarks and the same work in PyTorch and libtorch, in one run,
and prints a Markdown table of every figure and the ratios.

    /usr/bin/python3 bench/compare_pytorch.py --bin build/bin            # everything
    /usr/bin/python3 bench/compare_pytorch.py --bin build/bin --quick    # ~2 minutes
    /usr/bin/python3 bench/compare_pytorch.py --rows seed-net --threads 1,2 --rounds 5
    /usr/bin/python3 bench/compare_pytorch.py --rows models --threads 2 --rounds 3

Rows, each at every thread count of --threads (io and mapped open
use the machine's default):
  seed-net  the recipe's Net: training step at batch 4 and 64, inference at
            batch 1 and 64: `wick bench seed-net` vs PyTorch 1.13 from Python
            vs bench/libtorch_seed_net (libtorch's C++ frontend). Every side
            computes the loss, all gradients and the SGD-momentum update.
  io        .pt save and copying load of a 256 MiB state_dict of 2048x2048
            float32 tensors: `wick bench io` vs torch.save / torch.load (in a
            fresh process, from the page cache; peak resident memory added)
            and vs bench/libtorch_io (torch::pickle_save / pickle_load). Each
            side saves and loads 3 times a round; its round figure is the
            median (a VM's first touch of long-unused memory is slow).
  mmap      mapped open of a .pt file of 256 MiB and 2 GiB (target < 10 ms;
            neither PyTorch 1.13 nor its libtorch has a mapped load).
  sgemm     1024^3 through wick::matmul (bench_kernels) vs cblas_sgemm called
            directly (bench/sgemm_openblas).
  kernels   the conv2d and sgemm kernel rows of bench_kernels vs PyTorch.
  models    torchvision's resnet18, resnet50, mobilenet_v3_small,
            efficientnet_b0 and vit_b_16 (--models) at 224x224: inference at
            batch 1 and 8 and a training step (SGD-momentum) at batch 8:
            `wick bench model` vs torchvision 0.14 from Python vs
            bench/libtorch_model running the same models traced to
            TorchScript (one trace in eval mode, one in train mode). Random
            weights, 1000 classes, default dropout. Measured, no targets yet.

Runs alternate between wick and its peers round by round (--rounds); each
figure is the median over rounds. PyTorch runs in one worker process per
thread count (torch.set_num_threads, and OPENBLAS_NUM_THREADS for the BLAS
its Debian build calls), so its import is paid once. Ratios are wick speed /
peer speed: above 1 means wick is faster. The machine may be shared: the
1-minute load average is printed before and after.
"""

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

GEMM_N = 1024
# name, in_channels, image size, out_channels, kernel, input requires grad
CONVS = [("conv1", 3, 32, 6, 5, False), ("conv2", 6, 14, 16, 5, True)]
BATCHES = [4, 64]
SEED_BATCHES = [1, 4, 64]  # training rows use 4 and 64, inference rows 1 and 64
IO_MIB = 256
IO_REPEATS = 3  # saves and loads per side and round; the median counts
BIG_MIB = 2048
MODEL_ARCHS = "resnet18,resnet50,mobilenet_v3_small,efficientnet_b0,vit_b_16"
MODEL_SIZE = 224
# (batch, whether a training step is timed too): inference rows at 1 and 8,
# the training row at 8
MODEL_RUNS = [(1, False), (8, True)]

# ---- the PyTorch worker: one process per thread count, commands on stdin ----
WORKER = r'''
import json, os, subprocess, sys, time
import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]))
sys.path.insert(0, sys.argv[2])
from seed_net import Net  # tests/seed_net.py: the recipe's network, as the tests use it


def timed(step, warmup, steps):
    """Mean seconds of one call of step() over `steps` calls after `warmup`
    untimed ones, and the last call's result."""
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        last = step()
    return (time.perf_counter() - t0) / steps, last


def timed_training(net, images, labels, steps, warmup):
    """timed() of the training step every side runs: zero_grad, forward in
    train mode, cross_entropy, backward, SGD(lr 0.01, momentum 0.9).step()."""
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def train_step():
        opt.zero_grad()
        loss = F.cross_entropy(net(images), labels)
        loss.backward()
        opt.step()
        return loss

    net.train()
    return timed(train_step, warmup, steps)


def seed_net(batch, steps, warmup):
    torch.manual_seed(0)
    net = Net()
    images = torch.randn(batch, 3, 32, 32)
    labels = torch.randint(0, 10, (batch,))
    train_s, loss = timed_training(net, images, labels, steps, warmup)
    net.eval()
    with torch.no_grad():
        infer_s, out = timed(lambda: net(images), warmup, steps)
    return {"train_step_us": train_s * 1e6, "infer_us": infer_s * 1e6,
            "images_per_s": batch / train_s, "last_loss": loss.item(),
            "output_sum": out.sum().item()}


def build_model(arch):
    import torchvision
    torch.manual_seed(0)
    return getattr(torchvision.models, arch)()


def model_bench(arch, batch, size, train, steps, warmup):
    net = build_model(arch)
    images = torch.randn(batch, 3, size, size)
    labels = torch.randint(0, 1000, (batch,))
    r = {}
    net.eval()
    with torch.no_grad():
        infer_s, out = timed(lambda: net(images), warmup, steps)
    r["infer_us"] = infer_s * 1e6
    r["output_sum"] = out.sum().item()
    if train:
        train_s, loss = timed_training(net, images, labels, steps, warmup)
        r["train_step_us"] = train_s * 1e6
        r["last_loss"] = loss.item()
    return r


def trace_model(arch, size, eval_path, train_path):
    """TorchScript files of the model for bench/libtorch_model: a trace fixes
    BatchNorm's and Dropout's mode, so one in each."""
    import warnings
    net = build_model(arch)
    example = torch.randn(2, 3, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about torchvision's shape checks
        net.eval()
        torch.jit.trace(net, example, check_trace=False).save(eval_path)
        net.train()
        torch.jit.trace(net, example, check_trace=False).save(train_path)
    return {}


LOAD = (
    "import sys,time,torch\n"
    "def status(key):\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith(key): return int(line.split()[1]) * 1024\n"
    "before = status('VmRSS:')\n"
    "t0 = time.perf_counter(); sd = torch.load(sys.argv[1]); dt = time.perf_counter() - t0\n"
    "print(dt, status('VmHWM:') - before, sum(float(t[0, 0]) for t in sd.values()))\n")

sds = {}
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "seed-net":
        r = seed_net(cmd["batch"], cmd["steps"], cmd["warmup"])
    elif cmd["op"] == "model":
        r = model_bench(cmd["arch"], cmd["batch"], cmd["size"], cmd["train"], cmd["steps"],
                        cmd["warmup"])
    elif cmd["op"] == "trace":
        r = trace_model(cmd["arch"], cmd["size"], cmd["eval"], cmd["train"])
    elif cmd["op"] == "save":
        # The tensors `wick bench io` saves, from its --save-reference file.
        sd = sds.setdefault(cmd["ref"], torch.load(cmd["ref"]))
        if os.path.exists(cmd["path"]):
            os.remove(cmd["path"])  # a new file, as `wick bench io` writes
        t0 = time.perf_counter()
        torch.save(sd, cmd["path"])
        r = {"seconds": time.perf_counter() - t0}
    elif cmd["op"] == "load":
        # A fresh process, so the peak memory is the load's (as `wick bench io`).
        with open(cmd["path"], "rb") as f:
            while f.read(1 << 24):
                pass
        out = subprocess.run([sys.executable, "-c", LOAD, cmd["path"]], check=True,
                             capture_output=True, text=True).stdout.split()
        r = {"seconds": float(out[0]), "peak_rss_added": int(out[1])}
    print(json.dumps(r), flush=True)
'''


class TorchWorker:
    def __init__(self, threads):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(threads), tests], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"compare_pytorch.py: the PyTorch worker died running {cmd}")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def machine():
    """The CPU and the OpenBLAS kernels every side uses (wick opens the same
    libopenblas.so.0 that Debian's PyTorch and libtorch link), asked in a
    child process so that this one does not start OpenBLAS's threads."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    probe = ("import ctypes; b = ctypes.CDLL('libopenblas.so.0'); "
             "b.openblas_get_corename.restype = b.openblas_get_config.restype = ctypes.c_char_p; "
             "print(b.openblas_get_corename().decode(), '|', b.openblas_get_config().decode())")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    blas = r.stdout.strip() if r.returncode == 0 else "OpenBLAS not found"
    coretype = os.environ.get("OPENBLAS_CORETYPE", "unset")
    return (f"CPU: {cpu}, {os.cpu_count()} cores; OpenBLAS kernels: {blas}; "
            f"OPENBLAS_CORETYPE={coretype} (the same for every side)")


def run_json_or_empty(cmd):
    """Runs a command that prints nothing on success."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"compare_pytorch.py: {' '.join(cmd)} failed ({r.returncode}): {r.stderr}")


def run_json(cmd, threads=None):
    env = dict(os.environ)
    if threads:
        env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"compare_pytorch.py: {' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---- the kernel rows (bench_kernels vs PyTorch in this process) --------------

def run_wick_kernels(binary, threads, min_time, repetitions, extra):
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


def run_torch_kernels(threads, min_time, repetitions):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
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
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def kernel_rows(wick, pt, threads):
    rows = []
    for variant in ["wick_matmul", "cblas_sgemm"]:
        w = wick[f"sgemm_1024/{variant}"]["flops"]
        p = pt["sgemm_1024"]["flops"]
        label = "wick::matmul" if variant == "wick_matmul" else "cblas_sgemm (direct)"
        rows.append(f"| kernel: sgemm 1024³, {label} vs torch.matmul | {threads} "
                    f"| {w / 1e9:.1f} GFLOP/s | {p / 1e9:.1f} GFLOP/s | — | {w / p:.2f} | — | — |")
    for name, cin, size, cout, k, _ in CONVS:
        for batch in BATCHES:
            for step in ["forward", "forward_backward"]:
                key = f"{name}_b{batch}/{step}"
                w, p = wick[key]["seconds"], pt[key]["seconds"]
                label = (f"kernel: {name} [{batch},{cin},{size},{size}] * "
                         f"[{cout},{cin},{k},{k}] {step.replace('_', '+')}")
                rows.append(f"| {label} | {threads} | {fmt_time(w)} | {fmt_time(p)} | — "
                            f"| {p / w:.2f} | — | — |")
    return rows


# ---- the rows with targets -----------------------------------------------------

def rotate(sides, rnd):
    """The sides in the order they run in round rnd: who goes first
    alternates, so drift in other load is shared."""
    return sides[rnd % len(sides):] + sides[:rnd % len(sides)]


def med(xs):
    return statistics.median(xs) if xs else None


def ratio(wick_time, peer_time, target=None):
    """wick speed / peer speed from two times; marks a missed target."""
    if wick_time is None or peer_time is None:
        return "—"
    r = peer_time / wick_time
    return f"{r:.2f}" + ("" if target is None or r >= target else " (missed)")


def t_or_dash(seconds):
    return fmt_time(seconds) if seconds is not None else "—"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kernels_binary", nargs="?",
                        help="path of bench_kernels (default: BIN/bench_kernels)")
    parser.add_argument("--bin", default="build/bin",
                        help="where wick, bench_kernels, sgemm_openblas and libtorch_seed_net "
                             "are (default: build/bin)")
    parser.add_argument("--rows", default="seed-net,io,mmap,sgemm",
                        help="comma-separated: seed-net, io, mmap, sgemm, kernels, models "
                             "(default: the rows with targets, seed-net,io,mmap,sgemm)")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated thread counts (default: 1,2)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of alternating runs; figures are medians (default: 5)")
    parser.add_argument("--steps", type=int, default=100,
                        help="timed seed-net steps per run (default: 100)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="untimed seed-net steps before timing (default: 10)")
    parser.add_argument("--models", default=MODEL_ARCHS,
                        help=f"models rows: torchvision builder names (default: {MODEL_ARCHS})")
    parser.add_argument("--model-steps", type=int, default=3,
                        help="models rows: timed steps per run (default: 3)")
    parser.add_argument("--model-warmup", type=int, default=2,
                        help="models rows: untimed steps before timing (default: 2; "
                             "TorchScript's profiling executor optimises on the second run)")
    parser.add_argument("--dir", default=None,
                        help="where io benchmarks write files (default: a temporary directory)")
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of 30 steps: about two minutes on 2 cores")
    parser.add_argument("--min-time", type=float, default=0.1,
                        help="kernels rows: seconds of one repetition of a case (default: 0.1)")
    parser.add_argument("--repetitions", type=int, default=5,
                        help="kernels rows: repetitions per case; the best is reported")
    args, extra = parser.parse_known_args()
    if args.quick:
        args.rounds, args.steps, args.warmup = 3, 30, 5
        args.model_steps, args.model_warmup = 2, 1
    rows_wanted = set(args.rows.split(","))
    unknown = rows_wanted - {"seed-net", "io", "mmap", "sgemm", "kernels", "models"}
    if unknown:
        sys.exit(f"compare_pytorch.py: unknown rows {sorted(unknown)}")
    threads_list = [int(t) for t in args.threads.split(",")]

    def exe(name, required=True):
        path = os.path.join(args.bin, name)
        if not os.path.exists(path):
            if required:
                sys.exit(f"compare_pytorch.py: no {path}; build it first (ninja -C "
                         f"{os.path.dirname(args.bin.rstrip('/')) or '.'} {name}) or pass --bin")
            return None
        return path

    wick = exe("wick")
    libtorch = exe("libtorch_seed_net", required=False) if "seed-net" in rows_wanted else None
    libtorch_io = exe("libtorch_io", required=False) if "io" in rows_wanted else None
    libtorch_model = exe("libtorch_model", required=False) if "models" in rows_wanted else None
    archs = [a for a in args.models.split(",") if a] if "models" in rows_wanted else []
    openblas = exe("sgemm_openblas") if "sgemm" in rows_wanted else None
    kernels = None
    if rows_wanted & {"sgemm", "kernels"}:
        kernels = args.kernels_binary or exe("bench_kernels")

    if "kernels" in rows_wanted:
        # The kernel rows run PyTorch in this process: OpenBLAS reads its
        # thread count once, when torch loads it.
        os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(
            max(threads_list))
    import torch  # the rows with targets run in the workers

    load_before = os.getloadavg()[0]
    workers = {t: TorchWorker(t) for t in threads_list}
    io_dir = args.dir or tempfile.mkdtemp(prefix="wick-compare-")
    os.makedirs(io_dir, exist_ok=True)
    # Every side saves the same tensors: the state_dict `wick bench io` builds,
    # written once for PyTorch and libtorch to load before timing their saves.
    io_ref = os.path.join(io_dir, "reference.pt")
    if "io" in rows_wanted:
        run_json_or_empty([wick, "bench", "io", "--mib", str(IO_MIB), "--save-reference", io_ref])
    # results[key][side] = list of figures over rounds
    res = {}
    traces = {}  # arch -> (eval, train) TorchScript files for libtorch_model
    if archs and libtorch_model:
        for arch in archs:
            traces[arch] = (os.path.join(io_dir, arch + "_eval.pt"),
                            os.path.join(io_dir, arch + "_train.pt"))
            workers[max(threads_list)].ask(op="trace", arch=arch, size=MODEL_SIZE,
                                           eval=traces[arch][0], train=traces[arch][1])

    def add(key, side, value):
        res.setdefault(key, {}).setdefault(side, []).append(value)

    steps = ["--steps", str(args.steps), "--warmup", str(args.warmup)]

    def run_model(side, arch, batch, train, threads):
        """One side's `models` figures for arch at batch (None: libtorch not built)."""
        common = ["--batch", str(batch), "--size", str(MODEL_SIZE), "--threads", str(threads),
                  "--steps", str(args.model_steps), "--warmup", str(args.model_warmup)]
        if side == "wick":
            return run_json([wick, "bench", "model", "--arch", arch] + common
                            + (["--train"] if train else []), threads)
        if side == "pytorch":
            return workers[threads].ask(op="model", arch=arch, batch=batch, size=MODEL_SIZE,
                                        train=train, steps=args.model_steps,
                                        warmup=args.model_warmup)
        if not libtorch_model:
            return None
        eval_trace, train_trace = traces[arch]
        return run_json([libtorch_model, "--eval", eval_trace]
                        + (["--train", train_trace] if train else []) + common, threads)
    for rnd in range(args.rounds):
        print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr, flush=True)
        if "seed-net" in rows_wanted:
            for t in threads_list:
                for b in SEED_BATCHES:
                    for side in rotate(["wick", "pytorch", "libtorch"], rnd):
                        if side == "wick":
                            r = run_json([wick, "bench", "seed-net", "--batch", str(b),
                                          "--threads", str(t)] + steps, t)
                        elif side == "pytorch":
                            r = workers[t].ask(op="seed-net", batch=b, steps=args.steps,
                                               warmup=args.warmup)
                        elif libtorch:
                            r = run_json([libtorch, "--batch", str(b), "--threads", str(t)]
                                         + steps, t)
                        else:
                            continue
                        add(("train", b, t), side, r["train_step_us"] * 1e-6)
                        add(("infer", b, t), side, r["infer_us"] * 1e-6)
        if archs:
            for t, arch, (b, train) in itertools.product(threads_list, archs, MODEL_RUNS):
                for side in rotate(["wick", "pytorch", "libtorch"], rnd):
                    r = run_model(side, arch, b, train, t)
                    if r is None:
                        continue
                    add(("model-infer", arch, b, t), side, r["infer_us"] * 1e-6)
                    if train:
                        add(("model-train", arch, b, t), side, r["train_step_us"] * 1e-6)
        if "io" in rows_wanted:
            def io_wick():
                w = run_json([wick, "bench", "io", "--mib", str(IO_MIB), "--rounds",
                              str(IO_REPEATS), "--dir", io_dir])
                add("save", "wick", w["pt_save_s"])
                add("load", "wick", w["pt_load_s"])
                add("load_rss", "wick", w["pt_load_peak_rss_added_mib"])
                add("st_save", "wick", w["st_save_s"])
                add("st_load", "wick", w["st_load_s"])
                add(("mmap", IO_MIB), "wick", w["pt_mapped_open_ms"] * 1e-3)

            # Each side saves and loads IO_REPEATS times per round and reports
            # the medians (`wick bench io --rounds` does the same inside):
            # on this VM the first write or read into memory that sat unused
            # for a while is several times slower than the next (memory the
            # hypervisor took back is faulted in again), whoever's turn it is.
            def io_pytorch():
                pt_path = os.path.join(io_dir, "torch.pt")
                worker = workers[max(threads_list)]
                saves, loads, rss = [], [], []
                for _ in range(IO_REPEATS):
                    saves.append(worker.ask(op="save", path=pt_path, ref=io_ref)["seconds"])
                    r = worker.ask(op="load", path=pt_path)
                    loads.append(r["seconds"])
                    rss.append(r["peak_rss_added"] / (1 << 20))
                add("save", "pytorch", statistics.median(saves))
                add("load", "pytorch", statistics.median(loads))
                add("load_rss", "pytorch", max(rss))
                os.remove(pt_path)

            def io_libtorch():
                if not libtorch_io:
                    return
                lt_path = os.path.join(io_dir, "libtorch.pt")
                saves, loads, rss = [], [], []
                for _ in range(IO_REPEATS):
                    saves.append(run_json([libtorch_io, "save", lt_path, io_ref])["seconds"])
                    with open(lt_path, "rb") as f:  # from the page cache, as the others
                        while f.read(1 << 24):
                            pass
                    r = run_json([libtorch_io, "load", lt_path])
                    loads.append(r["seconds"])
                    rss.append(r["peak_rss_added"] / (1 << 20))
                add("save", "libtorch", statistics.median(saves))
                add("load", "libtorch", statistics.median(loads))
                add("load_rss", "libtorch", max(rss))
                os.remove(lt_path)

            for side in rotate([io_wick, io_pytorch, io_libtorch], rnd):
                # Each side starts with no dirty pages of the last one's files
                # being written back (which slows both writes and reads).
                os.sync()
                side()
        if "mmap" in rows_wanted:
            for mib in ([BIG_MIB] if "io" in rows_wanted else [IO_MIB, BIG_MIB]):
                w = run_json([wick, "bench", "io", "--mib", str(mib), "--rounds", "1",
                              "--mapped-only", "--dir", io_dir])
                add(("mmap", mib), "wick", w["pt_mapped_open_ms"] * 1e-3)
        if "sgemm" in rows_wanted:
            for t in threads_list:
                k = run_wick_kernels(kernels, t, args.min_time, 1,
                                     ["--benchmark_filter=sgemm_1024/wick"])
                add(("sgemm", t), "wick", k["sgemm_1024/wick_matmul"]["seconds"])
                o = run_json([openblas, "--n", str(GEMM_N), "--reps", "10"], t)
                add(("sgemm", t), "openblas", o["seconds"])
    for w in workers.values():
        w.close()
    if os.path.exists(io_ref):
        os.remove(io_ref)
    for paths in traces.values():
        for path in paths:
            os.remove(path)
    if not args.dir:
        os.rmdir(io_dir)

    print(machine())
    peers = [p for p, built in [("bench/libtorch_seed_net", libtorch),
                                ("bench/libtorch_io", libtorch_io),
                                ("bench/libtorch_model", libtorch_model)] if built]
    print(f"PyTorch {torch.__version__} (Python) and libtorch "
          f"({', '.join(peers) if peers else 'not built'}); "
          f"{args.rounds} rounds, medians; seed-net {args.steps} steps after {args.warmup} "
          f"warm-up; models {args.model_steps} steps after {args.model_warmup} "
          f"warm-up; {os.cpu_count()} cores; 1-minute load average before/after: "
          f"{load_before:.2f}/{os.getloadavg()[0]:.2f}\n")
    print("| work | threads | wick | PyTorch | libtorch | wick/PyTorch | wick/libtorch "
          "| target |")
    print("|---|---|---|---|---|---|---|---|")

    def m(key, side):
        return med(res.get(key, {}).get(side, []))

    if "seed-net" in rows_wanted:
        for kind, batch, target in [("train", 4, 3), ("train", 64, 2), ("infer", 1, 5),
                                    ("infer", 64, 2)]:
            for t in threads_list:
                key = (kind, batch, t)
                w, p, l = m(key, "wick"), m(key, "pytorch"), m(key, "libtorch")
                label = (f"seed Net training step, batch {batch}" if kind == "train"
                         else f"seed Net inference, batch {batch}")
                print(f"| {label} | {t} | {t_or_dash(w)} | {t_or_dash(p)} | {t_or_dash(l)} "
                      f"| {ratio(w, p, target)} | {ratio(w, l, target)} | ≥ {target}× |")
    for arch in archs:
        for kind, b in [("model-infer", 1), ("model-infer", 8), ("model-train", 8)]:
            for t in threads_list:
                key = (kind, arch, b, t)
                w, p, l = m(key, "wick"), m(key, "pytorch"), m(key, "libtorch")
                label = (f"{arch} {'inference' if kind == 'model-infer' else 'training step'}, "
                         f"batch {b}, {MODEL_SIZE}×{MODEL_SIZE}")
                print(f"| {label} | {t} | {t_or_dash(w)} | {t_or_dash(p)} | {t_or_dash(l)} "
                      f"| {ratio(w, p)} | {ratio(w, l)} | — |")
    if "io" in rows_wanted:
        def rate(seconds):
            return f"{t_or_dash(seconds)} ({IO_MIB / seconds:.0f} MiB/s)" if seconds else "—"

        for key, label, peer in [("save", ".pt save", "torch.save / torch::pickle_save"),
                                 ("load", ".pt copying load", "torch.load / torch::pickle_load")]:
            w, p, l = m(key, "wick"), m(key, "pytorch"), m(key, "libtorch")
            print(f"| {label}, {IO_MIB} MiB (vs {peer}) | default | {rate(w)} | {rate(p)} "
                  f"| {rate(l)} | {ratio(w, p, 5)} | {ratio(w, l, 5)} | ≥ 5× |")
        w, p, l = m("load_rss", "wick"), m("load_rss", "pytorch"), m("load_rss", "libtorch")
        print(f"| .pt copying load, {IO_MIB} MiB: peak resident memory added | default "
              f"| {w:.0f} MiB | {p:.0f} MiB | {f'{l:.0f} MiB' if l is not None else '—'} "
              f"| — | — | — |")
        for key, label in [("st_save", "safetensors save"),
                           ("st_load", "safetensors copying load")]:
            w = m(key, "wick")
            print(f"| {label}, {IO_MIB} MiB (no peer in PyTorch 1.13) | default "
                  f"| {t_or_dash(w)} ({IO_MIB / w:.0f} MiB/s) | — | — | — | — | — |")
    if rows_wanted & {"io", "mmap"}:
        for mib in [IO_MIB, BIG_MIB]:
            w = m(("mmap", mib), "wick")
            if w is None:
                continue
            print(f"| mapped open (.pt), {mib} MiB | default | {t_or_dash(w)} "
                  f"| n/a (no mmap load in 1.13) | — | — | — "
                  f"| < 10 ms{'' if w < 0.01 else ' (missed)'} |")
    if "sgemm" in rows_wanted:
        for t in threads_list:
            w, o = m(("sgemm", t), "wick"), m(("sgemm", t), "openblas")
            flops = 2.0 * GEMM_N**3
            print(f"| sgemm 1024³ (wick::matmul vs cblas_sgemm direct; OpenBLAS in the PyTorch "
                  f"column) | {t} | {flops / w / 1e9:.1f} GFLOP/s | {flops / o / 1e9:.1f} GFLOP/s "
                  f"| — | {ratio(w, o, 0.9)} | — | ≥ 0.9× |")
    if "kernels" in rows_wanted:
        t = max(threads_list)
        wk = run_wick_kernels(kernels, t, args.min_time, args.repetitions, extra)
        pk = run_torch_kernels(t, args.min_time, args.repetitions)
        print("\n".join(kernel_rows(wk, pk, t)))


if __name__ == "__main__":
    main()
