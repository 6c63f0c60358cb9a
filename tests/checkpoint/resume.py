#!/usr/bin/python3
"""A general checkpoint moves PyTorch -> wick -> PyTorch while training continues.

    resume.py WICK_RESUME WORKDIR

PyTorch (1.13) trains the recipe's Net with SGD + momentum for 8 steps, keeping the
state after step 3 and after step 6. It writes the step-3 general checkpoint
{"epoch", "model_state_dict", "optimizer_state_dict", "loss"} with torch.save; wick
resumes from it for 3 steps and writes its own checkpoint. That file must hold what
PyTorch had after step 6 (within float32 rounding), use only globals that torch 2.x's
weights_only loader allows, and load with load_state_dict into a fresh PyTorch model
and optimizer that then train steps 7 and 8 exactly like the uninterrupted run.
"""
import copy
import os
import sys

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(here, '..'), os.path.join(here, '..', 'io')]
from interop import ALLOWED_GLOBALS, Results, pickle_globals, run  # noqa: E402
from seed_net import Net  # noqa: E402


def train(model, optimizer, xs, ys, start, stop):
    loss = None
    for k in range(start, stop):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xs[k]), ys[k])
        loss.backward()
        optimizer.step()
    return loss.item()


def checkpoint(model, optimizer, epoch, loss):
    return {'epoch': epoch, 'model_state_dict': copy.deepcopy(model.state_dict()),
            'optimizer_state_dict': copy.deepcopy(optimizer.state_dict()), 'loss': loss}


def close(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def main(exe, work):
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    xs, ys = torch.randn(8, 4, 3, 32, 32), torch.randint(0, 10, (8, 4))
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    at3 = checkpoint(model, optimizer, 3, train(model, optimizer, xs, ys, 0, 3))
    at6 = checkpoint(model, optimizer, 6, train(model, optimizer, xs, ys, 3, 6))
    train(model, optimizer, xs, ys, 6, 8)
    at8 = model.state_dict()

    data, ckpt_in, ckpt_out = (os.path.join(work, n) for n in ('data.pt', 'in.pt', 'out.pt'))
    torch.save({'xs': xs, 'ys': ys}, data)
    torch.save(at3, ckpt_in)
    res = Results()
    p = run(exe, ckpt_in, data, ckpt_out, '3')
    res.check('wick resumes from a torch checkpoint', p.returncode == 0, p.stderr)
    if p.returncode != 0:
        return res.finish()

    bad = pickle_globals(ckpt_out) - ALLOWED_GLOBALS
    res.check('globals allowed by weights_only', not bad, bad)
    got = torch.load(ckpt_out)
    res.check('keys', list(got) == list(at6), list(got))
    res.check('epoch', got['epoch'] == 6 and type(got['epoch']) is int, got['epoch'])
    res.check('loss is a float near torch\'s', type(got['loss']) is float and
              abs(got['loss'] - at6['loss']) <= 1e-4 * abs(at6['loss']), (got['loss'], at6['loss']))
    sd, ref = got['model_state_dict'], at6['model_state_dict']
    res.check('state_dict keys', list(sd) == list(ref), list(sd))
    res.check('state_dict _metadata', getattr(sd, '_metadata', None) == ref._metadata,
              getattr(sd, '_metadata', None))
    for k in ref:
        res.check('model %s' % k, close(sd[k], ref[k]), (sd[k] - ref[k]).abs().max())
    osd, oref = got['optimizer_state_dict'], at6['optimizer_state_dict']
    # wick writes PyTorch 2.x's groups, which add 'fused' to 1.13's keys.
    res.check('optimizer param_groups', len(osd['param_groups']) == len(oref['param_groups']) and
              all(list(g)[:len(r) - 1] == list(r)[:-1] and all(g[k] == r[k] for k in r) and
                  set(g) - set(r) <= {'fused'}
                  for g, r in zip(osd['param_groups'], oref['param_groups'])),
              (osd['param_groups'], oref['param_groups']))
    res.check('optimizer state keys', list(osd['state']) == list(oref['state']), list(osd['state']))
    for i, s in oref['state'].items():
        res.check('momentum_buffer %d' % i,
                  list(osd['state'][i]) == list(s) and
                  close(osd['state'][i]['momentum_buffer'], s['momentum_buffer']))

    # PyTorch picks wick's checkpoint up and trains on as if never interrupted.
    model2 = Net()
    optimizer2 = torch.optim.SGD(model2.parameters(), lr=0.5)
    res.check('load_state_dict strict', not model2.load_state_dict(sd).missing_keys)
    optimizer2.load_state_dict(osd)
    res.check('optimizer hyper-parameters restored', optimizer2.param_groups[0]['lr'] == 0.01)
    train(model2, optimizer2, xs, ys, got['epoch'], 8)
    for k, v in model2.state_dict().items():
        res.check('continued in torch: %s' % k, close(v, at8[k]), (v - at8[k]).abs().max())
    return res.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
