#!/usr/bin/python3
"""The Fashion-MNIST demo in wick and the same training in PyTorch, in one run.

    /usr/bin/python3 bench/fashion_mnist_vs_torch.py build/bin/fashion_mnist [--threads 2]

Runs examples/fashion_mnist.cpp with its defaults (or the given epochs, batch size,
lr, momentum, threads), then trains the same network the same way in PyTorch
(examples/python/continue_in_pytorch.py's Net, data and loop: SGD + momentum,
cross-entropy, shuffled batches, test accuracy after each epoch) with the same
number of threads, and prints test accuracy per epoch, training time, images/s and
wall time side by side. Reports; asserts nothing.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'examples',
                                'python'))
from continue_in_pytorch import DEFAULT_ROOT, Net, evaluate, load_split, train_epoch  # noqa: E402


def run_wick(exe, args):
    with tempfile.TemporaryDirectory() as out:
        cmd = [exe, '--epochs', str(args.epochs), '--batch-size', str(args.batch_size),
               '--lr', str(args.lr), '--momentum', str(args.momentum), '--threads',
               str(args.threads), '--seed', str(args.seed), '--data', args.data, '--out', out]
        start = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit('wick failed:\n' + p.stdout + p.stderr)
    epochs = [(float(a), float(s), float(r)) for a, s, r in re.findall(
        r'test accuracy ([\d.]+)%, ([\d.]+) s \(([\d.]+) images/s\)', p.stdout)]
    return epochs, wall


def run_torch(args):
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    x_test, y_test = load_split(args.data, train=False)
    x_train, y_train = load_split(args.data, train=True)
    torch.manual_seed(args.seed)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    epochs = []
    for epoch in range(args.epochs):
        t = time.perf_counter()
        train_epoch(model, optimizer, x_train, y_train, args.batch_size, args.seed, epoch)
        seconds = time.perf_counter() - t
        epochs.append((evaluate(model, x_test, y_test), seconds, len(x_train) / seconds))
    return epochs, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('wick_exe', help='build/bin/fashion_mnist')
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--batch-size', type=int, default=64)
    ap.add_argument('--lr', type=float, default=0.01)
    ap.add_argument('--momentum', type=float, default=0.9)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--data', default=DEFAULT_ROOT)
    args = ap.parse_args()

    results = {'wick': run_wick(args.wick_exe, args),
               'torch %s' % torch.__version__: run_torch(args)}
    print('Fashion-MNIST, %d epochs, batch %d, lr %g, momentum %g, %d threads' %
          (args.epochs, args.batch_size, args.lr, args.momentum, args.threads))
    print('%-18s %s  %10s %12s %10s' % ('', '  '.join('acc@%d' % (e + 1) for e in
                                                      range(args.epochs)),
                                        'train s', 'images/s', 'wall s'))
    for name, (epochs, wall) in results.items():
        train_s = sum(s for _, s, _ in epochs)
        images = sum(r * s for _, s, r in epochs)
        print('%-18s %s  %10.1f %12.0f %10.1f' % (
            name, '  '.join('%5.2f' % a for a, _, _ in epochs), train_s,
            images / train_s if train_s else 0, wall))


if __name__ == '__main__':
    main()
