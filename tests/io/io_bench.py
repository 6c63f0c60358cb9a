#!/usr/bin/python3
"""Checkpoint speed: wick next to PyTorch in one run (not a test; prints a table).

    io_bench.py WICK_IO_BENCH WORKDIR [MIB]

For a MIB-sized (default 256) state_dict of 16 float32 tensors: save throughput to a
new file and over an existing one (torch.save vs wick, with and without fsync;
torch.save never fsyncs and overwrites in place, wick renames a temporary file over
the target, which makes ext4 start writing the new data back at once), copying load
throughput (torch.load vs wick), peak resident memory of a copying load relative to
the file (torch: added by the load; wick: the whole process), and the time
to open a file mapped, at MIB and at 8 x MIB. Each figure is the best of 5 interleaved
runs (peak memory: the worst).
Files are loaded from the page cache (each is read once before timing).
"""
import json
import os
import subprocess
import sys
import time

import torch


ROUNDS = 5


def best_of(n, fn):
    best = float('inf')
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def wick(exe, *args):
    r = subprocess.run([exe] + list(args), capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def torch_load_in_child(path):
    """Seconds of torch.load in a fresh process, and the peak memory it added
    (VmHWM after the load minus VmRSS before it)."""
    code = ('import sys,time,torch\n'
            'def status(key):\n'
            '    for line in open("/proc/self/status"):\n'
            '        if line.startswith(key): return int(line.split()[1]) * 1024\n'
            'before = status("VmRSS:")\n'
            't0=time.perf_counter(); sd=torch.load(sys.argv[1]); dt=time.perf_counter()-t0\n'
            'print(dt, status("VmHWM:") - before)')
    r = subprocess.run([sys.executable, '-c', code, path], capture_output=True, text=True,
                       check=True)
    dt, rss = r.stdout.split()
    return float(dt), int(rss)


def warm(path):
    with open(path, 'rb') as f:
        while f.read(1 << 24):
            pass


def main(exe, work, mib):
    os.makedirs(work, exist_ok=True)
    mb = mib * (1 << 20) / 1e6
    per = mib * (1 << 20) // 16 // 4
    sd = {'layer%d.weight' % i: torch.arange(per, dtype=torch.float32) % 1000 * 0.001 + i
          for i in range(16)}
    tpath = os.path.join(work, 'torch.pt')
    wpath = os.path.join(work, 'wick.pt')
    # Interleaved best-of-N: the machine may be shared, and the page cache's
    # writeback makes single runs swing widely.
    t_save = w_save = w_save_nosync = t_load = w_load = float('inf')
    t_new = w_new = w_new_nosync = float('inf')
    t_rss = w_rss = 0
    for _ in range(ROUNDS):
        # Replacing an existing file (w: atomically, by rename) ...
        t_save = min(t_save, best_of(1, lambda: torch.save(sd, tpath)))
        w_save = min(w_save, wick(exe, 'save', wpath, str(mib))['seconds'])
        w_save_nosync = min(w_save_nosync,
                            wick(exe, 'save', wpath, str(mib), '--no-fsync')['seconds'])
        # ... and writing a new one.
        for p in (tpath, wpath):
            os.remove(p)
        t_new = min(t_new, best_of(1, lambda: torch.save(sd, tpath)))
        os.remove(wpath) if os.path.exists(wpath) else None
        w_new = min(w_new, wick(exe, 'save', wpath, str(mib))['seconds'])
        os.remove(wpath)
        w_new_nosync = min(w_new_nosync,
                           wick(exe, 'save', wpath, str(mib), '--no-fsync')['seconds'])
    size = os.path.getsize(wpath)
    warm(tpath)
    warm(wpath)
    for _ in range(ROUNDS):
        dt, rss = torch_load_in_child(tpath)
        t_load, t_rss = min(t_load, dt), max(t_rss, rss)
        r = wick(exe, 'load', wpath, 'copy')
        w_load, w_rss = min(w_load, r['seconds']), max(w_rss, r['peak_rss_kib'] * 1024)
    w_map = min(wick(exe, 'load', wpath, 'mmap')['seconds'] for _ in range(5))
    big = os.path.join(work, 'wick_big.pt')
    wick(exe, 'save', big, str(8 * mib), '--no-fsync')
    w_map_big = min(wick(exe, 'load', big, 'mmap')['seconds'] for _ in range(5))
    os.remove(big)

    print('%d MiB state_dict (16 float32 tensors), file %d bytes' % (mib, size))
    print('%-34s %10s %10s %8s' % ('', 'torch', 'wick', 'ratio'))
    rows = [('save new file MB/s (wick fsync)', t_new, w_new),
            ('save new file MB/s (wick no fsync)', t_new, w_new_nosync),
            ('overwrite MB/s (wick fsync)', t_save, w_save),
            ('overwrite MB/s (wick no fsync)', t_save, w_save_nosync)]
    for label, t, w in rows:
        print('%-34s %9.0f %9.0f %7.1fx' % (label, mb / t, mb / w, t / w))
    print('%-34s %9.0f %9.0f %7.1fx' % ('copying load MB/s', mb / t_load, mb / w_load,
                                        t_load / w_load))
    print('%-34s %9.2f %9.2f' % ('copying load peak RSS / file size', t_rss / size,
                                 w_rss / size))
    print('%-34s %9s %8.2fms' % ('mapped open, %d MiB' % mib, '-', w_map * 1e3))
    print('%-34s %9s %8.2fms' % ('mapped open, %d MiB' % (8 * mib), '-', w_map_big * 1e3))
    for p in (tpath, wpath):
        os.remove(p)


if __name__ == '__main__':
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 256)
