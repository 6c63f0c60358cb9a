#!/usr/bin/python3
"""Continue in PyTorch the Fashion-MNIST training that wick started.

    scripts/demo.sh     # or: cd build && bin/fashion_mnist  -> build/fashion_mnist_out/
    /usr/bin/python3 examples/python/continue_in_pytorch.py build/fashion_mnist_out/checkpoint.pt
    cd build && bin/fashion_mnist --resume fashion_mnist_out/checkpoint_pytorch.pt --epochs 4

Loads the general checkpoint {"epoch", "model_state_dict", "optimizer_state_dict",
"loss"} that examples/fashion_mnist.cpp writes (on PyTorch 2.x with weights_only=True:
it holds nothing but tensors and plain values) into the same network and SGD
optimizer, reports the test accuracy (wick's, to 0.1%), trains one more epoch, and
saves the next checkpoint in the same layout, which wick's `--resume` continues from.

Reads the Fashion-MNIST IDX files itself (gzip or raw) and normalises them as the
demo does: (x / 255 - 0.2860) / 0.3530. Needs only torch and numpy.
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
DEFAULT_ROOT = '/usr/share/datasets/fashion-mnist'


class Net(nn.Module):
    """The recipe's network ("What is a state_dict") for 1x28x28 images."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def read_idx(path):
    """An IDX file (raw, or gzip when it starts with gzip's magic) as a numpy array."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    zero, code, ndim = struct.unpack('>HBB', data[:4])
    dtypes = {0x08: '>u1', 0x09: '>i1', 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}
    if zero != 0 or code not in dtypes:
        raise ValueError('%s: not an IDX file' % path)
    dims = struct.unpack('>%dI' % ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtypes[code], offset=4 + 4 * ndim).reshape(dims)


def load_split(root, train):
    """Normalised images float32 [N, 1, 28, 28] and labels int64 [N]."""
    prefix = 'train' if train else 't10k'

    def find(name):
        for candidate in (name, name + '.gz'):
            if os.path.exists(os.path.join(root, candidate)):
                return os.path.join(root, candidate)
        raise FileNotFoundError('%s(.gz) not found in %s' % (name, root))

    images = read_idx(find('%s-images-idx3-ubyte' % prefix))
    labels = read_idx(find('%s-labels-idx1-ubyte' % prefix))
    x = torch.from_numpy(images.astype(np.uint8)).unsqueeze(1).float().div_(255)
    x = (x - MEAN) / STD
    return x, torch.from_numpy(labels.astype(np.int64))


def evaluate(model, x, y, batch_size=1000):
    """Top-1 test accuracy in percent."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    model.train()
    return 100.0 * correct / len(x)


def train_epoch(model, optimizer, x, y, batch_size, seed, epoch):
    """One epoch in an order that depends on (seed, epoch) only; the mean loss."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed * 1000003 + epoch))
    total, steps = 0.0, 0
    for i in range(0, len(x), batch_size):
        idx = order[i:i + batch_size]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
        total += loss.item()
        steps += 1
    return total / steps


def load_checkpoint(path):
    # On 2.x, weights_only=True: only tensors and plain values are unpickled. 1.13
    # has the flag, but its restricted unpickler rejects Python floats (BINFLOAT),
    # which every optimizer state_dict holds (lr), even one 1.13 saved itself.
    if int(torch.__version__.split('.')[0]) >= 2:
        return torch.load(path, map_location='cpu', weights_only=True)
    return torch.load(path, map_location='cpu')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('checkpoint', help="wick's (or any) general checkpoint of the demo's Net")
    ap.add_argument('--out', help='where to save the next checkpoint '
                    '(default: checkpoint_pytorch.pt beside the input)')
    ap.add_argument('--data', default=DEFAULT_ROOT, help='Fashion-MNIST directory')
    ap.add_argument('--epochs', type=int, default=1, help='epochs to train here')
    ap.add_argument('--limit', type=int, default=0, help='train on the first N images only')
    ap.add_argument('--batch-size', type=int, default=64)
    ap.add_argument('--seed', type=int, default=0, help='seed of the shuffle')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out = args.out or os.path.join(os.path.dirname(args.checkpoint), 'checkpoint_pytorch.pt')

    x_test, y_test = load_split(args.data, train=False)
    x_train, y_train = load_split(args.data, train=True)
    if args.limit > 0:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]

    ckpt = load_checkpoint(args.checkpoint)
    model = Net()
    model.load_state_dict(ckpt['model_state_dict'])
    # lr and momentum come from the checkpoint's param_groups.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    optimizer.load_state_dict(ckpt['optimizer_state_dict'])
    epoch, loss = ckpt['epoch'], ckpt['loss']
    print('loaded %s: epoch %d, loss %.4f (torch %s)' %
          (args.checkpoint, epoch, loss, torch.__version__))
    print('test accuracy %.2f%%' % evaluate(model, x_test, y_test), flush=True)

    for _ in range(args.epochs):
        start = time.perf_counter()
        loss = train_epoch(model, optimizer, x_train, y_train, args.batch_size, args.seed, epoch)
        seconds = time.perf_counter() - start
        epoch += 1
        accuracy = evaluate(model, x_test, y_test)
        print('epoch %d: train loss %.4f, test accuracy %.2f%%, %.1f s (%.0f images/s)' %
              (epoch, loss, accuracy, seconds, len(x_train) / seconds), flush=True)

    torch.save({'epoch': epoch, 'model_state_dict': model.state_dict(),
                'optimizer_state_dict': optimizer.state_dict(), 'loss': loss}, out)
    print('saved %s' % out)


if __name__ == '__main__':
    main()
