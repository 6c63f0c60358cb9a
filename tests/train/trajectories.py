#!/usr/bin/python3
"""wick follows PyTorch's training trajectories (examples/match_pytorch.cpp).

    trajectories.py MATCH_PYTORCH WORKDIR

PyTorch (the one running this script, 1.13 on Debian) records trajectories of the
recipe's Net trained with SGD for several seeds, batch sizes, learning rates and
momenta, in the layout of tests/fixtures/torch-2.11/trajectory.pt. match_pytorch
replays each one; it must succeed and print PyTorch's losses (to 1e-4 relative).
A trajectory whose recorded losses, final parameters or momentum buffers were
tampered with must make it fail. Prints the largest loss difference found.
"""
import copy
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from seed_net import Net  # noqa: E402  (the recipe's Net)


# (seed, steps, batch, lr, momentum)
CASES = [
    (1, 10, 1, 0.01, 0.9),
    (2, 8, 7, 0.05, 0.5),
    (3, 12, 32, 0.003, 0.9),
    (4, 6, 64, 0.1, 0.0),
    (5, 10, 16, 0.02, 0.99),
]


def record(seed, steps, batch, lr, momentum):
    torch.manual_seed(seed)
    model = Net()
    init = copy.deepcopy(model.state_dict())
    xs, ys = torch.randn(steps, batch, 3, 32, 32), torch.randint(0, 10, (steps, batch))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for k in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xs[k]), ys[k])
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return {'init': init, 'xs': xs, 'ys': ys, 'lr': lr, 'momentum': momentum,
            'losses': torch.tensor(losses, dtype=torch.float64), 'final': model.state_dict(),
            'optimizer': optimizer.state_dict()}


def replay(exe, path):
    p = subprocess.run([exe, path], capture_output=True, text=True)
    losses = [float(line) for line in p.stdout.split()] if p.returncode == 0 else []
    return p, losses


def main(exe, work):
    os.makedirs(work, exist_ok=True)
    failed, largest = 0, 0.0

    def check(name, ok, detail=''):
        nonlocal failed
        if not ok:
            failed += 1
            print('FAIL %s %s' % (name, detail), flush=True)

    for case in CASES:
        name = 'seed=%d steps=%d batch=%d lr=%g momentum=%g' % case
        t = record(*case)
        path = os.path.join(work, 'trajectory_seed%d.pt' % case[0])
        torch.save(t, path)
        p, losses = replay(exe, path)
        check(name, p.returncode == 0, p.stdout + p.stderr)
        check(name + ': one loss per step', len(losses) == case[1], p.stdout)
        if len(losses) == case[1]:
            diffs = [abs(a - b) / abs(b) for a, b in zip(losses, t['losses'].tolist())]
            largest = max(largest, max(diffs))
            check(name + ': printed losses', max(diffs) <= 1e-4, diffs)
        print('%s: %s' % (name, ' | '.join(p.stderr.strip().splitlines())), flush=True)

    # The comparisons must be able to fail.
    base = record(*CASES[1])
    for what in ('losses', 'final', 'optimizer'):
        t = copy.deepcopy(base)
        if what == 'losses':
            t['losses'][3] *= 1.001
        elif what == 'final':
            t['final']['fc2.bias'][0] += 1e-3
        else:
            t['optimizer']['state'][4]['momentum_buffer'][0] += 1e-3
        path = os.path.join(work, 'tampered_%s.pt' % what)
        torch.save(t, path)
        p = subprocess.run([exe, path], capture_output=True, text=True)
        check('tampered %s is detected' % what, p.returncode == 1, p.stdout + p.stderr)

    print('largest relative loss difference over %d trajectories: %.3g' % (len(CASES), largest))
    print('FAILED' if failed else 'passed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
