#!/usr/bin/python3
"""Optimizers in wick against the real PyTorch (1.13, Debian's python3-torch).

    optim_interop.py WICK_OPTIM_INTEROP WORKDIR

For every optimizer and each of its options (SGD momentum/dampening/weight_decay/
nesterov/maximize; Adam and AdamW betas/eps/weight_decay/amsgrad/maximize; RMSprop
alpha/eps/weight_decay/momentum/centered/maximize; Adagrad lr_decay/weight_decay/
initial_accumulator_value/eps/maximize), in float32 and for some cases float64:

1. the same initial parameters and the same 100 gradients (generated here from a
   fixed seed; one parameter gets a gradient only on even steps, one never) run
   through torch.optim and through wick (wick_optim_interop reads them with io::load);
   final parameters AND optimizer state must agree;
2. resume torch -> wick: PyTorch's optimizer.state_dict() after 50 steps (torch.save)
   is loaded by wick, which runs steps 50..99; must agree with PyTorch's 100 steps;
3. resume wick -> torch: wick's state_dict after 50 steps (io::save) is read with a
   plain torch.load and loaded by torch.optim.X.load_state_dict, with wick's
   parameters after 50 steps; PyTorch runs steps 50..99; must agree with PyTorch's
   100 steps.

Tolerance: for every tensor pair (wick w, PyTorch t) the norm-wise relative error
    err = max_i |w_i - t_i| / max(max_i |t_i|, 1e-30)
must be <= 1e-6 (float32 and float64 alike). `step` values must be equal. The
largest err per optimizer is printed.
"""
import math
import os
import shutil
import subprocess
import sys

import torch

STEPS = 100
RTOL = 1e-6
IMPLEMENTATION_FLAGS = {'foreach', 'fused', 'capturable', 'differentiable'}
SHAPES = [(6, 5), (5,), (2, 3, 4), (3,), (4,)]  # [3]: grads on even steps only; [4]: never

CASES = [
    ('SGD', {'lr': 0.05}),
    ('SGD', {'lr': 0.05, 'momentum': 0.9}),
    ('SGD', {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.3}),
    ('SGD', {'lr': 0.05, 'momentum': 0.9, 'nesterov': True}),
    ('SGD', {'lr': 0.05, 'weight_decay': 0.1}),
    ('SGD', {'lr': 0.05, 'momentum': 0.5, 'weight_decay': 0.01, 'maximize': True}),
    ('Adam', {'lr': 0.01}),
    ('Adam', {'lr': 0.01, 'betas': (0.8, 0.99), 'eps': 1e-6}),
    ('Adam', {'lr': 0.01, 'weight_decay': 0.1}),
    ('Adam', {'lr': 0.01, 'amsgrad': True}),
    ('Adam', {'lr': 0.01, 'maximize': True}),
    ('Adam', {'lr': 0.01, 'amsgrad': True, 'weight_decay': 0.05, 'maximize': True}),
    ('AdamW', {'lr': 0.01}),
    ('AdamW', {'lr': 0.01, 'betas': (0.85, 0.95), 'eps': 1e-6, 'weight_decay': 0.2}),
    ('AdamW', {'lr': 0.01, 'amsgrad': True}),
    ('AdamW', {'lr': 0.01, 'maximize': True, 'amsgrad': True}),
    ('RMSprop', {'lr': 0.01}),
    ('RMSprop', {'lr': 0.01, 'alpha': 0.9, 'eps': 1e-6}),
    ('RMSprop', {'lr': 0.01, 'weight_decay': 0.1}),
    ('RMSprop', {'lr': 0.01, 'momentum': 0.9}),
    ('RMSprop', {'lr': 0.01, 'centered': True}),
    ('RMSprop', {'lr': 0.01, 'centered': True, 'momentum': 0.5, 'maximize': True}),
    ('Adagrad', {'lr': 0.1}),
    ('Adagrad', {'lr': 0.1, 'lr_decay': 0.01}),
    ('Adagrad', {'lr': 0.1, 'weight_decay': 0.1}),
    ('Adagrad', {'lr': 0.1, 'initial_accumulator_value': 0.1, 'eps': 1e-6}),
    ('Adagrad', {'lr': 0.1, 'maximize': True, 'lr_decay': 0.05}),
]
# The richest case of each optimizer again in float64, and one two-group case each
# (the second group with its own lr).
F64 = {'SGD': 5, 'Adam': 11, 'AdamW': 15, 'RMSprop': 21, 'Adagrad': 26}


def make_case(index, opt, options, dtype, two_groups):
    gen = torch.Generator().manual_seed(1000 + index)
    params = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in SHAPES]
    grads = []
    for step in range(STEPS):
        scale = 0.1 * (1.5 + math.sin(step / 7.0))
        row = []
        for i, s in enumerate(SHAPES):
            g = (torch.randn(s, generator=gen, dtype=torch.float64) * scale).to(dtype)
            row.append(None if i == 4 or (i == 3 and step % 2) else g)
        grads.append(row)
    if two_groups:
        groups = [{'params': [0, 2, 4]}, {'params': [1, 3], 'lr': options['lr'] * 0.5}]
    else:
        groups = [{'params': list(range(len(SHAPES)))}]
    name = '%02d_%s_%s%s' % (index, opt, str(dtype).replace('torch.', ''),
                             '_groups' if two_groups else '')
    return {'name': name, 'optimizer': opt, 'options': options, 'groups': groups,
            'params': params, 'grads': grads}


def torch_optimizer(case, params):
    groups = [{**{k: v for k, v in g.items() if k != 'params'},
               'params': [params[i] for i in g['params']]} for g in case['groups']]
    return getattr(torch.optim, case['optimizer'])(groups, **case['options'])


def leaves(tensors):
    return [t.detach().clone().requires_grad_() for t in tensors]


def run(opt, params, grads, start, stop):
    for step in range(start, stop):
        for p, g in zip(params, grads[step]):
            p.grad = None if g is None else g.clone()
        opt.step()


def err(w, t):
    assert w.shape == t.shape and w.dtype == t.dtype, (w.shape, t.shape, w.dtype, t.dtype)
    scale = max(t.abs().max().item(), 1e-30) if t.numel() else 1.0
    return (w.double() - t.double()).abs().max().item() / scale if t.numel() else 0.0


def compare(what, wparams, wstate, tparams, tstate):
    """Largest err over parameters and state; raises on a structural difference."""
    worst = 0.0
    for w, t in zip(wparams, tparams):
        worst = max(worst, err(w, t.detach()))
    tst = {k: {sk: sv for sk, sv in v.items() if sv is not None}
           for k, v in tstate['state'].items()}
    tst = {k: v for k, v in tst.items() if v}
    # PyTorch 1.13 keeps momentum_buffer None where 2.x keeps nothing.
    wst = {k: {sk: sv for sk, sv in v.items() if sv is not None}
           for k, v in wstate['state'].items()}
    wst = {k: v for k, v in wst.items() if v}
    if sorted(wst) != sorted(tst):
        raise AssertionError('%s: state for params %s, PyTorch has %s' % (what, sorted(wst), sorted(tst)))
    for k in tst:
        if sorted(wst[k]) != sorted(tst[k]):
            raise AssertionError('%s: state[%d] keys %s, PyTorch %s' % (what, k, sorted(wst[k]), sorted(tst[k])))
        for key, tv in tst[k].items():
            wv = wst[k][key]
            if key == 'step':
                if float(wv) != float(tv):
                    raise AssertionError('%s: state[%d][step] %s != %s' % (what, k, wv, tv))
                if not (torch.is_tensor(wv) and wv.dtype == torch.float32 and wv.dim() == 0):
                    raise AssertionError('%s: step is not a 0-dim float32 tensor: %r' % (what, wv))
            else:
                worst = max(worst, err(wv, tv))
    for wg, tg in zip(wstate['param_groups'], tstate['param_groups']):
        for key, tv in tg.items():
            if key in IMPLEMENTATION_FLAGS:
                continue  # 1.13's defaults differ from 2.x's (fused False vs None)
            if wg[key] != tv:
                raise AssertionError('%s: param group %s = %r, PyTorch %r' % (what, key, wg[key], tv))
    return worst


def main():
    binary, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cases = []
    for i, (opt, options) in enumerate(CASES):
        cases.append(make_case(i, opt, options, torch.float32, False))
        if F64.get(opt) == i:
            cases.append(make_case(i, opt, options, torch.float64, False))
            cases.append(make_case(i, opt, options, torch.float32, True))

    expected = {}
    for case in cases:
        params = leaves(case['params'])
        opt = torch_optimizer(case, params)
        run(opt, params, case['grads'], 0, 50)
        case['params50'] = [p.detach().clone() for p in params]
        torch.save(opt.state_dict(), os.path.join(work, case['name'] + '_torch50.pt'))
        run(opt, params, case['grads'], 50, STEPS)
        expected[case['name']] = (params, opt.state_dict())
    torch.save(cases, os.path.join(work, 'cases.pt'))

    subprocess.run([binary, work], check=True)

    worst = {}
    failures = []
    for case in cases:
        name = case['name']
        tparams, tstate = expected[name]
        out = torch.load(os.path.join(work, name + '_wick.pt'))
        errs = []
        try:
            errs.append(compare(name + ' (100 steps)', out['full_params'], out['full_state'],
                                tparams, tstate))
            errs.append(compare(name + ' (torch 50 -> wick 50)', out['resume_params'],
                                out['resume_state'], tparams, tstate))
            params = leaves(out['params50'])
            opt = torch_optimizer(case, params)
            opt.load_state_dict(torch.load(os.path.join(work, name + '_wick50.pt')))
            run(opt, params, case['grads'], 50, STEPS)
            errs.append(compare(name + ' (wick 50 -> torch 50)', params, opt.state_dict(),
                                tparams, tstate))
        except AssertionError as e:
            failures.append(str(e))
            continue
        e = max(errs)
        worst[case['optimizer']] = max(worst.get(case['optimizer'], 0.0), e)
        if e > RTOL:
            failures.append('%s: relative error %.3g > %g' % (name, e, RTOL))
        print('%-45s max err %.3g' % (name, e))
    print('max relative error per optimizer:')
    for opt, e in worst.items():
        print('  %-8s %.3g' % (opt, e))
    if failures:
        print('FAILED:\n  ' + '\n  '.join(failures))
        return 1
    print('all %d cases agree within %g' % (len(cases), RTOL))
    return 0


if __name__ == '__main__':
    sys.exit(main())
