#!/usr/bin/python3
"""`wick bench seed-net`, `wick bench model` and `wick bench io` run and print one JSON object
with their keys (a smoke test for the cli_bench ctest; nothing is timed).

    bench_smoke_test.py WICK WORKDIR
"""
import json
import math
import os
import shutil
import subprocess
import sys

SEED_NET_KEYS = ["train_step_us", "infer_us", "images_per_s", "batch", "threads", "steps"]
IO_KEYS = ["pt_save_mib_per_s", "pt_load_mib_per_s", "pt_load_peak_rss_added_mib",
           "st_save_mib_per_s", "st_load_mib_per_s", "st_load_peak_rss_added_mib",
           "pt_mapped_open_ms", "st_mapped_open_ms", "mib"]


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=100)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}: {r.stderr}")
    lines = r.stdout.strip().splitlines()
    if len(lines) != 1:
        sys.exit(f"FAIL: {' '.join(cmd)} printed {len(lines)} lines, want one JSON object")
    obj = json.loads(lines[0])
    if not isinstance(obj, dict):
        sys.exit(f"FAIL: {' '.join(cmd)} printed {lines[0]!r}, not a JSON object")
    return obj


def check_keys(obj, keys, what):
    for k in keys:
        if k not in obj:
            sys.exit(f"FAIL: {what}: no key {k!r} in {obj}")
        v = obj[k]
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            sys.exit(f"FAIL: {what}: {k} = {v!r} is not a finite non-negative number")


def main(wick, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    net = run_json([wick, "bench", "seed-net", "--steps", "2", "--batch", "2"])
    check_keys(net, SEED_NET_KEYS, "seed-net")
    if (net["batch"], net["steps"]) != (2, 2):
        sys.exit(f"FAIL: seed-net reports batch {net['batch']}, steps {net['steps']}; want 2, 2")
    if not math.isfinite(net["last_loss"]):
        sys.exit(f"FAIL: seed-net's loss is {net['last_loss']}")

    model = run_json([wick, "bench", "model", "--arch", "mobilenet_v3_small", "--size", "32",
                      "--batch", "2", "--steps", "1", "--warmup", "0", "--train"])
    check_keys(model, ["infer_us", "train_step_us", "images_per_s", "batch", "size"], "model")
    if (model["arch"], model["batch"], model["size"]) != ("mobilenet_v3_small", 2, 32):
        sys.exit(f"FAIL: model reports {model}; want mobilenet_v3_small, batch 2, size 32")
    if not math.isfinite(model["last_loss"]):
        sys.exit(f"FAIL: model's loss is {model['last_loss']}")
    bad = subprocess.run([wick, "bench", "model", "--arch", "resnet5"], capture_output=True,
                         text=True)
    if bad.returncode != 2 or "resnet50" not in bad.stderr:
        sys.exit(f"FAIL: --arch resnet5 exited {bad.returncode} with {bad.stderr!r}; want 2 "
                 "and a suggestion")

    io = run_json([wick, "bench", "io", "--mib", "8", "--rounds", "1", "--dir", work])
    check_keys(io, IO_KEYS, "io")
    if io["mib"] != 8 or io["pt_file_bytes"] < 8 << 20 or io["st_file_bytes"] < 8 << 20:
        sys.exit(f"FAIL: io wrote files smaller than the 8 MiB state_dict: {io}")
    if sorted(os.listdir(work)):
        sys.exit(f"FAIL: io left files behind in {work}: {os.listdir(work)}")

    bad = subprocess.run([wick, "bench", "seed-net", "--steps", "0"], capture_output=True,
                         text=True)
    if bad.returncode != 2 or "wick: error:" not in bad.stderr:
        sys.exit(f"FAIL: --steps 0 exited {bad.returncode} with {bad.stderr!r}; want 2")
    print("OK")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
