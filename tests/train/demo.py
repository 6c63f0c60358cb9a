#!/usr/bin/python3
"""Tests of the Fashion-MNIST demo (examples/fashion_mnist.cpp) on a subset.

    demo.py resume FASHION_MNIST WORKDIR
        Two epochs in one run, and one epoch then `--resume` for the second, give the
        same loss at every step; the outputs (checkpoint, loss.csv, loss.svg, progress
        lines on stderr) are there and well-formed. Needs no torch.

    demo.py interop FASHION_MNIST CONTINUE_IN_PYTORCH WORKDIR
        wick trains an epoch; examples/python/continue_in_pytorch.py (the real
        PyTorch) loads the checkpoint with weights_only=True, reports wick's test
        accuracy (to 0.1%), trains one more epoch and saves; wick resumes from that
        file, reports PyTorch's accuracy, and trains on with a lower loss.
"""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

LIMIT = '3000'  # training images: a few seconds per epoch
INTEROP_LIMIT = '2000'
DATA = ['--data', os.environ.get('WICK_FASHION_MNIST_ROOT', '/usr/share/datasets/fashion-mnist')]


class Results:
    def __init__(self):
        self.failed = 0

    def check(self, name, ok, detail=''):
        print('%s %s' % ('ok  ' if ok else 'FAIL', name), flush=True)
        if not ok:
            self.failed += 1
            print('     %s' % (detail,), flush=True)
        return ok

    def finish(self):
        print('FAILED: %d' % self.failed if self.failed else 'passed')
        return 1 if self.failed else 0


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    print('$ %s  -> %d\n%s' % (' '.join(cmd), p.returncode, p.stdout), flush=True)
    return p


def accuracies(stdout):
    """Test accuracies reported after each epoch, in order."""
    return [float(a) for a in re.findall(r'^epoch \d+: .*test accuracy ([\d.]+)%', stdout, re.M)]


def train_losses(stdout):
    return [float(a) for a in re.findall(r'^epoch \d+: train loss ([\d.]+)', stdout, re.M)]


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def resume(exe, work):
    res = Results()
    whole, split = fresh_dir(os.path.join(work, 'whole')), fresh_dir(os.path.join(work, 'split'))
    common = ['--limit', LIMIT, '--seed', '7', '--threads', '2'] + DATA
    a = run([exe, '--epochs', '2', '--out', whole] + common)
    b1 = run([exe, '--epochs', '1', '--out', split] + common)
    b2 = run([exe, '--epochs', '2', '--out', split, '--resume',
              os.path.join(split, 'checkpoint.pt')] + common)
    for name, p in (('two epochs', a), ('first epoch', b1), ('resumed', b2)):
        if not res.check(name + ' runs', p.returncode == 0, p.stderr[-2000:]):
            return res.finish()

    rows = open(os.path.join(whole, 'loss.csv')).read().splitlines()
    steps = -(-int(LIMIT) // 64)
    res.check('loss.csv: header and one row per step', rows[0] == 'step,epoch,loss' and
              len(rows) == 1 + 2 * steps, rows[:2] + [len(rows)])
    res.check('loss.csv: steps 1.. and epochs 1, 2',
              [r.split(',')[:2] for r in rows[1:]] ==
              [[str(i + 1), str(i // steps + 1)] for i in range(2 * steps)], rows[1:4])
    res.check('resumed run has the same loss at every step',
              open(os.path.join(split, 'loss.csv')).read() == '\n'.join(rows) + '\n')
    res.check('and the same accuracy', accuracies(a.stdout)[1:] == accuracies(b2.stdout) and
              len(accuracies(b2.stdout)) == 1, (accuracies(a.stdout), accuracies(b2.stdout)))
    res.check('resume reports the checkpoint\'s accuracy',
              'test accuracy %.2f%%' % accuracies(b1.stdout)[0] in b2.stdout.split('\n')[1])
    other = run([exe, '--epochs', '1', '--out', fresh_dir(os.path.join(work, 'other')), '--limit',
                 LIMIT, '--seed', '8', '--threads', '2'] + DATA)
    res.check('another seed trains differently',
              train_losses(other.stdout) and train_losses(other.stdout) != train_losses(b1.stdout),
              (train_losses(other.stdout), train_losses(b1.stdout)))
    res.check('learns (accuracy after 2 small epochs > 50%)', accuracies(a.stdout)[-1] > 50,
              accuracies(a.stdout))
    res.check('fresh model reports the same accuracy',
              'fresh model: test accuracy %.2f%% (the same)' % accuracies(a.stdout)[-1] in a.stdout)
    res.check('wall time and images/s reported',
              re.search(r'trained 6000 images in [\d.]+ s: \d+ images/s; wall time', a.stdout))
    lines = a.stderr.splitlines()
    res.check('progress: plain lines with loss, images/s and ETA when stderr is no terminal',
              '\r' not in a.stderr and len(lines) >= 2 * 10 and all(
                  re.match(r'epoch [12]/2 +\d+% \d+/3000 loss [\d.]+ +\d+ img/s +(ETA|took) ', l)
                  for l in lines), lines[:3])
    svg = ET.parse(os.path.join(whole, 'loss.svg')).getroot()
    res.check('loss.svg is an SVG with the curves', svg.tag.endswith('svg') and
              len(svg.findall('{http://www.w3.org/2000/svg}polyline')) == 2)
    return res.finish()


def interop(exe, script, work):
    res = Results()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'io'))
    from interop import ALLOWED_GLOBALS, pickle_globals  # noqa: E402

    out = fresh_dir(os.path.join(work, 'roundtrip'))
    common = ['--limit', INTEROP_LIMIT, '--threads', '2'] + DATA
    w1 = run([exe, '--epochs', '1', '--out', out] + common)
    if not res.check('wick trains', w1.returncode == 0, w1.stderr[-2000:]):
        return res.finish()
    ckpt = os.path.join(out, 'checkpoint.pt')
    bad = pickle_globals(ckpt) - ALLOWED_GLOBALS
    res.check("wick's checkpoint uses only globals torch 2.x's weights_only allows", not bad, bad)

    from_torch = os.path.join(out, 'from_torch.pt')
    t = run(['/usr/bin/python3', script, ckpt, '--out', from_torch] + common)
    if not res.check('continue_in_pytorch runs', t.returncode == 0, t.stderr[-2000:]):
        return res.finish()
    wick_acc = accuracies(w1.stdout)[0]
    torch_accs = [float(a) for a in re.findall(r'test accuracy ([\d.]+)%', t.stdout)]
    res.check("PyTorch reports wick's test accuracy (to 0.1%)",
              abs(torch_accs[0] - wick_acc) <= 0.1, (wick_acc, torch_accs))
    res.check('PyTorch continued at epoch 2', re.search(r'^epoch 2: ', t.stdout, re.M))

    w2 = run([exe, '--epochs', '3', '--out', out, '--resume', from_torch] + common)
    if not res.check('wick resumes from PyTorch\'s checkpoint', w2.returncode == 0,
                     w2.stderr[-2000:]):
        return res.finish()
    m = re.search(r'resumed from .*: epoch (\d+), loss [\d.]+, test accuracy ([\d.]+)%', w2.stdout)
    res.check("wick reports PyTorch's accuracy (to 0.1%) at epoch 2",
              m and m.group(1) == '2' and abs(float(m.group(2)) - torch_accs[1]) <= 0.1,
              (m and m.groups(), torch_accs))
    res.check('wick trains epoch 3', re.search(r'^epoch 3: ', w2.stdout, re.M))
    res.check('and keeps improving: lower loss and higher accuracy than after epoch 1',
              train_losses(w2.stdout)[0] < train_losses(w1.stdout)[0] and
              accuracies(w2.stdout)[0] > wick_acc,
              (train_losses(w1.stdout), train_losses(w2.stdout), wick_acc, accuracies(w2.stdout)))
    return res.finish()


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == 'resume':
        sys.exit(resume(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 5 and sys.argv[1] == 'interop':
        sys.exit(interop(sys.argv[2], sys.argv[3], sys.argv[4]))
    sys.exit(__doc__)
