#!/usr/bin/python3
"""LR schedulers: wick against the real PyTorch (1.13, Debian's python3-torch).

    sched_interop.py WICK_SCHED_INTEROP WORKDIR

For every case (a scheduler with an option set, on SGD or Adam with one or two
param groups) PyTorch steps the optimizer and the scheduler N times, recording
each group's lr (and, for OneCycleLR, its momentum or betas[0]) after
construction and after every step. Then wick_sched_interop does the same, and:

  * the trajectories must agree to 1e-12 relative (they are in fact expected to be
    bit-identical, as both take PyTorch's recursive step() formulas);
  * torch -> wick: PyTorch's optimizer + scheduler state_dicts, saved at step K,
    load into a fresh wick optimizer + scheduler, which continues to N and must
    follow PyTorch's uninterrupted trajectory (1.13 layout: 'verbose', no
    '_is_initial');
  * wick -> torch: wick's state_dicts (PyTorch 2.x's layout), saved at step K, load
    with torch.load (1.13's weights_only loader refuses floats) into a fresh
    PyTorch optimizer + scheduler, which continues to N and must follow the same
    trajectory; the keys and Python value types of wick's scheduler state_dict
    must be PyTorch's;
  * the PyTorch 2.11 fixture scheduler_state.pt (StepLR after one step, with its
    SGD) loads into both, and both continue identically.
"""
import json
import math
import os
import shutil
import subprocess
import sys

import torch
import torch.optim.lr_scheduler as lrs

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, '..', '..', 'fixtures', 'torch-2.11', 'scheduler_state.pt')
RTOL = 1e-12

PLATEAU_METRICS = [5.0, 4.0, 4.0, 3.9999, 4.0, 4.1, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.5, 2.5,
                   2.5, 2.5, 2.5, 2.5, 1.0, 1.0, 0.99999, 1.0, 1.0, 1.0, 1.0]
PLATEAU_MAX_METRICS = [0.1, 0.2, 0.25, 0.2, 0.2, 0.2, 0.5, 0.5, 0.45, 0.5, 0.7, 0.7, 0.7, 0.7,
                       0.7, 0.7, 0.7, 0.7, 0.71, 0.72]

CASES = [
    dict(sched='StepLR', kwargs=dict(step_size=3, gamma=0.5), group_lrs=[0.1, 0.03],
         optim='SGD', optim_kwargs=dict(momentum=0.9), steps=20),
    dict(sched='StepLR', kwargs=dict(step_size=4), group_lrs=[0.07], optim='SGD',
         optim_kwargs={}, steps=17),
    dict(sched='MultiStepLR', kwargs=dict(milestones=[3, 7, 7, 12], gamma=0.3),
         group_lrs=[0.1, 0.01], optim='SGD', optim_kwargs=dict(momentum=0.5), steps=15),
    dict(sched='MultiStepLR', kwargs=dict(milestones=[5]), group_lrs=[0.2], optim='Adam',
         optim_kwargs={}, steps=8),
    dict(sched='ExponentialLR', kwargs=dict(gamma=0.95), group_lrs=[0.1], optim='SGD',
         optim_kwargs={}, steps=40),
    dict(sched='ExponentialLR', kwargs=dict(gamma=0.7), group_lrs=[0.3, 0.011], optim='Adam',
         optim_kwargs={}, steps=25),
    dict(sched='CosineAnnealingLR', kwargs=dict(T_max=10), group_lrs=[0.1], optim='SGD',
         optim_kwargs=dict(momentum=0.9), steps=35),
    dict(sched='CosineAnnealingLR', kwargs=dict(T_max=7, eta_min=0.001), group_lrs=[0.05, 0.2],
         optim='SGD', optim_kwargs={}, steps=30),
    dict(sched='LinearLR', kwargs={}, group_lrs=[0.1], optim='SGD', optim_kwargs={}, steps=10),
    dict(sched='LinearLR', kwargs=dict(start_factor=0.1, end_factor=0.8, total_iters=12),
         group_lrs=[0.3, 0.07], optim='Adam', optim_kwargs={}, steps=20),
    dict(sched='OneCycleLR', kwargs=dict(max_lr=0.1, total_steps=30), group_lrs=[0.01],
         optim='SGD', optim_kwargs=dict(momentum=0.9), steps=30),
    dict(sched='OneCycleLR',
         kwargs=dict(max_lr=[0.1, 0.05], epochs=4, steps_per_epoch=6, pct_start=0.25,
                     anneal_strategy='linear', three_phase=True),
         group_lrs=[0.01, 0.01], optim='SGD', optim_kwargs=dict(momentum=0.9), steps=24),
    dict(sched='OneCycleLR',
         kwargs=dict(max_lr=0.01, total_steps=25, base_momentum=0.8, max_momentum=0.9,
                     div_factor=10.0, final_div_factor=100.0),
         group_lrs=[0.001], optim='Adam', optim_kwargs=dict(betas=[0.9, 0.99]), steps=25),
    dict(sched='OneCycleLR',
         kwargs=dict(max_lr=0.3, total_steps=20, three_phase=True, pct_start=0.4),
         group_lrs=[0.001, 0.002], optim='Adam', optim_kwargs=dict(betas=[0.85, 0.95]),
         steps=20),
    dict(sched='OneCycleLR', kwargs=dict(max_lr=0.2, total_steps=12, cycle_momentum=False),
         group_lrs=[0.001], optim='SGD', optim_kwargs={}, steps=12),
    dict(sched='ReduceLROnPlateau', kwargs=dict(patience=2), group_lrs=[0.1, 0.5],
         optim='SGD', optim_kwargs={}, metrics=PLATEAU_METRICS),
    dict(sched='ReduceLROnPlateau',
         kwargs=dict(mode='max', factor=0.5, patience=1, threshold=0.05, threshold_mode='abs',
                     cooldown=2, min_lr=[0.01, 0.001]),
         group_lrs=[0.1, 0.05], optim='Adam', optim_kwargs={}, metrics=PLATEAU_MAX_METRICS),
    dict(sched='ReduceLROnPlateau',
         kwargs=dict(factor=0.3, patience=0, threshold=0.1, cooldown=1, min_lr=0.004, eps=1e-3),
         group_lrs=[0.1], optim='SGD', optim_kwargs=dict(momentum=0.9),
         metrics=PLATEAU_METRICS),
]
for c in CASES:
    if 'metrics' in c:
        c['steps'] = len(c['metrics'])
    c['split'] = c['steps'] // 2 - 1
FIXTURE_STEPS = 9


def make_optimizer(case):
    groups = [{'params': [torch.zeros(2, requires_grad=True)], 'lr': lr}
              for lr in case['group_lrs']]
    kwargs = dict(case['optim_kwargs'])
    if 'betas' in kwargs:
        kwargs['betas'] = tuple(kwargs['betas'])
    return getattr(torch.optim, case['optim'])(groups, lr=case['group_lrs'][0], **kwargs)


def make_scheduler(case, opt):
    return getattr(lrs, case['sched'])(opt, **case['kwargs'])


def record(case, opt):
    row = [g['lr'] for g in opt.param_groups]
    if case['sched'] == 'OneCycleLR' and case['kwargs'].get('cycle_momentum', True):
        row += [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups]
    return row


def sanitized(sched_sd):
    """A 1.13 state_dict as a weights-only file can hold it (MultiStepLR's
    Counter stays: 2.x's weights_only loader and wick accept it)."""
    sd = dict(sched_sd)
    sd.pop('anneal_func', None)  # a bound method
    return sd


def run_torch(case, save=None, load=None, states=None):
    """The trajectory; saves the state after step `split` to `save` (and the
    scheduler's state_dict as it is into `states`), or continues from `load`
    (saved after step `split`) in fresh objects."""
    opt = make_optimizer(case)
    sched = make_scheduler(case, opt)
    rows = [record(case, opt)]
    for i in range(1, case['steps'] + 1):
        opt.step()
        if case['sched'] == 'ReduceLROnPlateau':
            sched.step(case['metrics'][i - 1])
        else:
            sched.step()
        rows.append(record(case, opt))
        if i == case['split'] and states is not None:
            states[case['name']] = sched.state_dict()
        if i == case['split'] and save:
            torch.save({'optimizer': opt.state_dict(),
                        'scheduler': sanitized(sched.state_dict())}, save)
        if i == case['split'] and load:
            ckpt = torch.load(load)
            opt = make_optimizer(case)
            sched = make_scheduler(case, opt)
            opt.load_state_dict(ckpt['optimizer'])
            sched.load_state_dict(ckpt['scheduler'])
    return rows


def run_torch_fixture():
    ckpt = torch.load(FIXTURE, map_location='cpu')
    shapes = [s['momentum_buffer'].shape for _, s in sorted(ckpt['optimizer']['state'].items())]
    opt = torch.optim.SGD([torch.zeros(s, requires_grad=True) for s in shapes], lr=0.001,
                          momentum=0.9)
    sched = lrs.StepLR(opt, step_size=2, gamma=0.5)
    opt.load_state_dict(ckpt['optimizer'])
    sched.load_state_dict(ckpt['scheduler'])
    rows = [[g['lr'] for g in opt.param_groups]]
    for _ in range(FIXTURE_STEPS):
        opt.step()
        sched.step()
        rows.append([g['lr'] for g in opt.param_groups])
    return rows


def compare(what, got, want, failures):
    """Max relative difference; records a failure above RTOL or on a shape mismatch."""
    if len(got) != len(want) or any(len(a) != len(b) for a, b in zip(got, want)):
        failures.append(f'{what}: shape {[len(r) for r in got]} != {[len(r) for r in want]}')
        return math.inf
    worst = 0.0
    for step, (a_row, b_row) in enumerate(zip(got, want)):
        for a, b in zip(a_row, b_row):
            scale = max(abs(a), abs(b))
            rel = 0.0 if a == b else abs(a - b) / scale
            worst = max(worst, rel)
            if rel > RTOL:
                failures.append(f'{what}: step {step}: wick {a!r} != torch {b!r} (rel {rel:.3g})')
                return rel
    return worst


# Where PyTorch 2.x's default has another type than 1.13's.
TYPES_2X = {('CosineAnnealingLR', 'eta_min'): 'float'}  # 2.x: eta_min=0.0, 1.13: eta_min=0


def type_name(v):
    """The Python type, with the types of items (MultiStepLR's milestones
    are a Counter in both)."""
    if isinstance(v, (list, tuple)):
        return type(v).__name__ + '[' + ','.join(sorted({type_name(x) for x in v})) + ']'
    if isinstance(v, dict):
        return type(v).__name__ + '[' + ','.join(sorted({f'{type_name(k)}:{type_name(x)}'
                                          for k, x in v.items()})) + ']'
    return type(v).__name__


def expected_keys(case, torch_sd):
    """PyTorch 2.x's keys, in order, from 1.13's: 2.x dropped 'verbose', adds
    '_is_initial' after '_step_count', and OneCycleLR stores the name of its
    annealing function instead of the bound method."""
    keys = [k for k in torch_sd if k not in ('verbose',)]
    if case['sched'] == 'ReduceLROnPlateau':
        # 2.x reordered its attributes; check the set.
        return sorted(set(keys) | {'default_min_lr'})
    keys = [('_anneal_func_type' if k == 'anneal_func' else k) for k in keys]
    keys.insert(keys.index('_step_count') + 1, '_is_initial')
    return keys


def check_state_types(case, wick_sd, torch_sd, failures):
    want = expected_keys(case, torch_sd)
    got = list(wick_sd)
    if case['sched'] == 'ReduceLROnPlateau':
        got = sorted(got)
    if got != want:
        failures.append(f"{case['name']}: state_dict keys {got} != PyTorch's {want}")
    for k, v in wick_sd.items():
        if k in torch_sd and k != 'anneal_func':
            tw = type_name(v)
            tt = TYPES_2X.get((case['sched'], k), type_name(torch_sd[k]))
            if tw != tt:
                failures.append(f"{case['name']}: state_dict['{k}'] is {tw} in wick, {tt} in "
                                "PyTorch")


def main():
    wick_bin, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    for i, c in enumerate(CASES):
        c['name'] = f"{i}-{c['sched']}"
        c['torch_file'] = os.path.join(work, f'case{i}_torch.pt')
        c['wick_file'] = os.path.join(work, f'case{i}_wick.pt')
    expected = {}
    torch_states = {}
    for c in CASES:
        expected[c['name']] = run_torch(c, save=c['torch_file'], states=torch_states)
    spec = {'cases': CASES, 'fixture': os.path.abspath(FIXTURE), 'fixture_steps': FIXTURE_STEPS}
    cases_json = os.path.join(work, 'cases.json')
    out_json = os.path.join(work, 'wick.json')
    with open(cases_json, 'w') as f:
        json.dump(spec, f, indent=1)
    subprocess.run([wick_bin, cases_json, out_json], check=True)
    with open(out_json) as f:
        wick = json.load(f)

    failures = []
    for c in CASES:
        name, w = c['name'], wick['cases'][c['name']]
        if 'error' in w:
            failures.append(f'{name}: wick failed: {w["error"]}')
            continue
        want = expected[name]
        r1 = compare(f'{name} trajectory', w['trajectory'], want, failures)
        r2 = compare(f'{name} resumed from torch', w['resumed_from_torch'], want, failures)
        r3 = compare(f'{name} torch resumed from wick',
                     run_torch(c, load=c['wick_file']), want, failures)
        wick_sd = torch.load(c['wick_file'])['scheduler']
        check_state_types(c, wick_sd, torch_states[name], failures)
        print(f'{name:22s} {len(want):3d} steps  max rel diff: trajectory {r1:.1e}, '
              f'torch->wick {r2:.1e}, wick->torch {r3:.1e}')
    if 'error' in wick['fixture']:
        failures.append(f"fixture: wick failed: {wick['fixture']['error']}")
    else:
        r = compare('2.11 fixture continued', wick['fixture']['trajectory'], run_torch_fixture(),
                    failures)
        print(f'2.11 fixture StepLR     {FIXTURE_STEPS} steps  max rel diff {r:.1e}')
    for f in failures:
        print('FAIL', f)
    print(f'{len(CASES)} cases + fixture: {"FAILED" if failures else "all agree"}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
