#!/usr/bin/python3
"""Tests of the `wick` command-line program against docs/cli.md.

    cli_test.py GROUP WICK WORKDIR

GROUP is one of:
    usage    --help, --version and every kind of bad usage (no torch needed)
    errors   unreadable, empty, random, truncated and hostile files (no torch needed)
    fixtures inspect, convert and diff on tests/fixtures/torch-2.11 against manifest.json
             (no torch needed: tensor values are checked through safetensors bytes)
    new_dtypes  convert --dtype to and from float8 and diff on new_dtypes.pt (no torch needed)
    verify   sound files, flipped CRC-checked bytes, truncation, corrupted headers
    torch_inspect  files torch 1.13 writes now, inspected against what torch.load sees
    torch_convert  convert pt->pt, pt->safetensors, safetensors->pt, --dtype, read back
                   by torch 1.13; pickle globals limited to torch 2.x's weights_only set
    torch_diff     every kind of difference line, tolerances, exit codes, across formats
    torch_hostile  torch.save(model) and pickles calling os.system, through every subcommand
    interrupt      SIGINT and SIGTERM during convert: no temporary file, OUT unchanged
    sharded  directories and index files: convert --max-shard-size, inspect, verify, diff,
             usage errors and every problem of an index (no torch needed)
    complexity     every subcommand on inputs of n and 8n entries: near-linear time

Every run of the program is checked not to have died by a signal. Each group
prints one FAIL line per failed check and exits 1 if any failed.
"""
import collections
import hashlib
import io
import json
import math
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from results import Results  # noqa: E402  (tests/results.py)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'fixtures', 'torch-2.11')
MANIFEST = json.load(open(os.path.join(FIXTURES, 'manifest.json')))['files']

ELEMENT_SIZE = {'float32': 4, 'float64': 8, 'float16': 2, 'bfloat16': 2, 'int8': 1, 'int16': 2,
                'int32': 4, 'int64': 8, 'uint8': 1, 'bool': 1, 'complex64': 8, 'complex128': 16,
                'uint16': 2, 'uint32': 4, 'uint64': 8, 'float8_e4m3fn': 1, 'float8_e5m2': 1,
                'float8_e4m3fnuz': 1, 'float8_e5m2fnuz': 1, 'complex32': 4}
# safetensors dtype codes.
ST_CODE = {'float32': 'F32', 'float64': 'F64', 'float16': 'F16', 'bfloat16': 'BF16', 'int8': 'I8',
           'int16': 'I16', 'int32': 'I32', 'int64': 'I64', 'uint8': 'U8', 'bool': 'BOOL',
           'complex64': 'C64', 'uint16': 'U16', 'uint32': 'U32', 'uint64': 'U64',
           'float8_e4m3fn': 'F8_E4M3', 'float8_e5m2': 'F8_E5M2', 'float8_e4m3fnuz': 'F8_E4M3FNUZ',
           'float8_e5m2fnuz': 'F8_E5M2FNUZ'}
ST_DTYPE = {v: k for k, v in ST_CODE.items()}
# Fixtures holding dtypes torch 1.13 lacks (float8, uint16/32/64): the torch groups skip
# them; the new_dtypes group checks them without torch.
TORCH_1_13_CANNOT_LOAD = {'new_dtypes.pt'}

WICK = None
WORK = None


R = Results()


class Run:
    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.out = proc.stdout.decode('utf-8', 'replace')
        self.err = proc.stderr.decode('utf-8', 'replace')

    def __str__(self):
        return 'wick %s -> rc %s\n  stdout: %r\n  stderr: %r' % (
            ' '.join(self.args), self.rc, self.out[:2000], self.err[:2000])


def wick(*args):
    args = [str(a) for a in args]
    proc = subprocess.run([WICK] + args, capture_output=True, timeout=120)
    r = Run(args, proc)
    # Never a crash or a signal, whatever the input.
    R.check('no signal: wick %s' % ' '.join(args), r.rc >= 0, r)
    return r


def work(*parts):
    return os.path.join(WORK, *parts)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
    return path


# ---- expectations shared by the groups ------------------------------------------------------


def expect_file_error(name, r, path, phrase=None):
    """Exit 2, nothing on stdout, exactly one stderr line `wick: error: <path>: ...`."""
    lines = r.err.splitlines()
    ok = (r.rc == 2 and r.out == '' and len(lines) == 1 and r.err.endswith('\n')
          and lines[0].startswith('wick: error: ') and path in lines[0]
          and (phrase is None or phrase in lines[0]))
    return R.check(name, ok, '%s\n  want exit 2, one line naming %r%s' % (
        r, path, ' containing %r' % phrase if phrase else ''))


def expect_usage_error(name, r, cmd):
    """Exit 2, nothing on stdout, one line `wick: error: ... (see 'wick <cmd> --help')`."""
    lines = r.err.splitlines()
    hint = "(see 'wick %s--help')" % (cmd + ' ' if cmd else '')
    ok = (r.rc == 2 and r.out == '' and len(lines) == 1 and lines[0].startswith('wick: error: ')
          and lines[0].endswith(hint))
    return R.check(name, ok, '%s\n  want exit 2 and one line ending %r' % (r, hint))


def expect_unchanged(name, path, before):
    now = read(path) if os.path.exists(path) else None
    R.check(name, now == before, 'was %s, now %s' % (
        'absent' if before is None else '%d bytes' % len(before),
        'absent' if now is None else '%d bytes' % len(now)))


def no_leftovers(name, directory, allowed):
    extra = sorted(set(os.listdir(directory)) - set(allowed))
    R.check(name, not extra, 'unexpected files %s' % extra)


def human_size_ok(text, n):
    m = re.fullmatch(r'([0-9.]+) (B|bytes|KiB|MiB|GiB)', text.strip())
    if not m:
        return False
    scale = {'B': 1, 'bytes': 1, 'KiB': 1024, 'MiB': 1024 ** 2, 'GiB': 1024 ** 3}[m.group(2)]
    return abs(float(m.group(1)) - n / scale) <= 0.05 + 1e-9


def shape_text(shape):
    return '[' + ', '.join(str(s) for s in shape) + ']'


def json_value(v):
    """The JSON mapping of a non-tensor leaf (docs/cli.md §6.3)."""
    if isinstance(v, float):
        if math.isnan(v):
            return 'nan'
        if math.isinf(v):
            return 'inf' if v > 0 else '-inf'
        return v
    if isinstance(v, bytes):
        return {'bytes': v.hex()}
    if isinstance(v, (list, tuple)):
        assert not v
        return []
    if isinstance(v, dict):
        assert not v
        return {}
    return v


def same_json_value(got, want):
    # bool is an int in Python: keep True from matching 1.
    if type(got) != type(want) and not (isinstance(want, float) and type(got) is int):
        return False
    return got == want


def type_names(v):
    """The type names a non-tensor leaf may show (Python's own first)."""
    if v is None:
        return {'None', 'NoneType'}
    if isinstance(v, collections.Counter):
        return {'Counter', 'dict'}
    if isinstance(v, collections.OrderedDict):
        return {'OrderedDict', 'dict'}
    return {type(v).__name__}


class Expected:
    """What inspect must list for a file: tensors [(name, dtype, shape)], values [(name, v)]."""

    def __init__(self, fmt, tensors, values, versions=None, ordered=True):
        self.fmt, self.tensors, self.values = fmt, tensors, values
        self.versions, self.ordered = versions, ordered


def zip_versions(path):
    """The small top-level records of a torch zip archive, in file order."""
    with zipfile.ZipFile(path) as z:
        out = collections.OrderedDict()
        for info in z.infolist():
            rel = info.filename.split('/', 1)[1]
            if '/' not in rel and rel != 'data.pkl':
                out[rel] = z.read(info).decode().strip()
        return out


def check_inspect_json(name, path, exp):
    r = wick('inspect', path, '--json')
    if not R.check(name + ': inspect --json exit 0', r.rc == 0 and r.err == '', r):
        return
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        R.check(name + ': inspect --json is one JSON document', False, '%s\n%s' % (e, r.out[:500]))
        return
    R.check(name + ': json file', doc.get('file') == path, doc.get('file'))
    R.check(name + ': json format', doc.get('format') == exp.fmt, doc.get('format'))
    if exp.versions is not None:
        got = doc.get('versions')
        R.check(name + ': json versions', isinstance(got, dict) and list(got.items()) == list(
            exp.versions.items()), '%r vs %r' % (got, dict(exp.versions)))
    tensors = doc.get('tensors', [])
    got_t = [(t.get('name'), t.get('dtype'), t.get('shape')) for t in tensors]
    want_t = [(n, d, list(s)) for n, d, s in exp.tensors]
    if not exp.ordered:
        got_t, want_t = sorted(got_t), sorted(want_t)
    R.check(name + ': json tensors (name, dtype, shape)', got_t == want_t,
            '\n  got  %s\n  want %s' % (got_t, want_t))
    for t in tensors:
        numel = math.prod(t.get('shape') or [])
        R.check(name + ': json numel/nbytes of ' + str(t.get('name')),
                t.get('numel') == numel and t.get('nbytes') == numel * ELEMENT_SIZE.get(
                    t.get('dtype'), -1), t)
    values = doc.get('values', [])
    got_v = [v.get('name') for v in values]
    want_v = [n for n, _ in exp.values]
    R.check(name + ': json value names', (got_v if exp.ordered else sorted(got_v)) ==
            (want_v if exp.ordered else sorted(want_v)), '\n  got  %s\n  want %s' % (got_v, want_v))
    by_name = {v.get('name'): v for v in values}
    for n, v in exp.values:
        g = by_name.get(n, {})
        R.check(name + ': json value ' + n, same_json_value(g.get('value'), json_value(v))
                and g.get('type') in type_names(v), '%r vs %r (%s)' % (g, json_value(v),
                                                                        type_names(v)))
    numel = sum(math.prod(s) for _, _, s in exp.tensors)
    nbytes = sum(math.prod(s) * ELEMENT_SIZE[d] for _, d, s in exp.tensors)
    want_totals = {'tensors': len(exp.tensors), 'numel': numel, 'nbytes': nbytes,
                   'values': len(exp.values)}
    R.check(name + ': json totals', doc.get('totals') == want_totals,
            '%r vs %r' % (doc.get('totals'), want_totals))


TENSOR_ROW = re.compile(r'^(\S+)(\s+)(\S+)\s+(\[[0-9, ]*\])\s+(\d+)\s+(\d+)$')
VALUE_ROW = re.compile(r'^(\S+)(\s+)(\S+)\s+(.*)$')
TOTALS = re.compile(r'^totals: (\d+) tensors?, (\d+) elements?, (\d+) bytes? \(([^)]*)\); '
                    r'(\d+) values?$')


def check_inspect_human(name, path, exp):
    r = wick('inspect', path)
    if not R.check(name + ': inspect exit 0', r.rc == 0 and r.err == '', r):
        return
    lines = r.out.splitlines()
    R.check(name + ': human file line', lines[:1] == ['file: ' + path], lines[:1])
    fmt_line = lines[1] if len(lines) > 1 else ''
    R.check(name + ': human format line', re.match(r'^format: %s(\s|$)' % exp.fmt, fmt_line),
            fmt_line)
    for k, v in (exp.versions or {}).items():
        R.check(name + ': human version ' + k, '%s: %s' % (k, v) in fmt_line, fmt_line)
    # Tensor table: from the `name dtype shape elements bytes` header to the next blank line.
    tensor_rows, value_rows, totals = [], [], None
    section = None
    header_t = header_v = None
    for line in lines[2:]:
        if re.match(r'^name\s+dtype\s+shape\s+elements\s+bytes$', line):
            section, header_t = 't', line
        elif re.match(r'^value\s+type\s+value$', line):
            section, header_v = 'v', line
        elif line.startswith('totals:'):
            totals, section = line, None
        elif not line.strip():
            section = None
        elif section == 't':
            tensor_rows.append(line)
        elif section == 'v':
            value_rows.append(line)
    if exp.tensors:
        R.check(name + ': human tensor header', header_t is not None, r.out[:1000])
    if exp.values:
        R.check(name + ': human value header', header_v is not None, r.out[:1000])
    got_t = []
    for row in tensor_rows:
        m = TENSOR_ROW.match(row)
        if not R.check(name + ': tensor row parses', m, repr(row)):
            continue
        got_t.append((m.group(1), m.group(3), m.group(4)))
        numel = math.prod(json.loads(m.group(4)))
        R.check(name + ': tensor row numbers ' + m.group(1), int(m.group(5)) == numel and int(
            m.group(6)) == numel * ELEMENT_SIZE.get(m.group(3), -1), row)
        if header_t:
            R.check(name + ': dtype column aligned ' + m.group(1),
                    m.start(3) == header_t.index('dtype'), '\n%s\n%s' % (header_t, row))
    if header_t and tensor_rows:
        widths = {len(x) for x in [header_t] + tensor_rows}
        R.check(name + ': numbers right-aligned (rows of equal width)', len(widths) == 1,
                '\n' + '\n'.join([header_t] + tensor_rows[:5]))
    want_t = [(n, d, shape_text(s)) for n, d, s in exp.tensors]
    if not exp.ordered:
        got_t, want_t = sorted(got_t), sorted(want_t)
    R.check(name + ': human tensors', got_t == want_t, '\n  got  %s\n  want %s' % (got_t, want_t))
    got_v = []
    for row in value_rows:
        m = VALUE_ROW.match(row)
        if not R.check(name + ': value row parses', m, repr(row)):
            continue
        got_v.append((m.group(1), m.group(3), m.group(4)))
        if header_v:
            R.check(name + ': type column aligned ' + m.group(1),
                    m.start(3) == header_v.index('type'), '\n%s\n%s' % (header_v, row))
    want_v = [(n, repr(v)) for n, v in exp.values]
    got_nv = [(n, v) for n, _, v in got_v]
    if not exp.ordered:
        got_nv, want_v = sorted(got_nv), sorted(want_v)
    R.check(name + ': human values (Python repr)', got_nv == want_v,
            '\n  got  %s\n  want %s' % (got_nv, want_v))
    types = {n: t for n, t, _ in got_v}
    for n, v in exp.values:
        R.check(name + ': human type ' + n, types.get(n) in type_names(v), types.get(n))
    m = TOTALS.match(totals or '')
    numel = sum(math.prod(s) for _, _, s in exp.tensors)
    nbytes = sum(math.prod(s) * ELEMENT_SIZE[d] for _, d, s in exp.tensors)
    R.check(name + ': human totals', m and int(m.group(1)) == len(exp.tensors)
            and int(m.group(2)) == numel and int(m.group(3)) == nbytes
            and human_size_ok(m.group(4), nbytes) and int(m.group(5)) == len(exp.values),
            '%r; want %d tensors, %d elements, %d bytes, %d values' % (
                totals, len(exp.tensors), numel, nbytes, len(exp.values)))


def check_inspect(name, path, exp):
    check_inspect_json(name, path, exp)
    check_inspect_human(name, path, exp)


# ---- safetensors without torch --------------------------------------------------------------


def read_safetensors(path):
    """(header as an ordered dict without __metadata__, metadata, data bytes)."""
    raw = read(path)
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n], object_pairs_hook=collections.OrderedDict)
    meta = header.pop('__metadata__', None)
    return header, meta, raw[8 + n:]


def write_safetensors(path, tensors, metadata=None):
    """tensors: [(name, dtype, shape, bytes)] in file order."""
    header, data = collections.OrderedDict(), b''
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, dtype, shape, blob in tensors:
        assert len(blob) == math.prod(shape) * ELEMENT_SIZE[dtype]
        header[name] = {'dtype': ST_CODE[dtype], 'shape': list(shape),
                        'data_offsets': [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    return write(path, struct.pack('<Q', len(text)) + text + data)


def st_tensor_bytes(header, data, name):
    a, b = header[name]['data_offsets']
    return data[a:b]


def zip_record(path, suffix):
    """(ZipInfo, offset of its data) of the record whose name ends with suffix."""
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(suffix))
    raw = read(path)
    off = info.header_offset
    name_len, extra_len = struct.unpack('<HH', raw[off + 26:off + 30])
    return info, off + 30 + name_len + extra_len


# ---- groups ---------------------------------------------------------------------------------


def group_usage():
    fixture = os.path.join(FIXTURES, 'seed_net_state_dict.pt')
    r = wick('--version')
    R.check('--version', r.rc == 0 and re.fullmatch(r'wick \d+\.\d+\.\d+\S*\n', r.out), r)
    r = wick('--help')
    R.check('--help exit 0', r.rc == 0 and r.err == '', r)
    for cmd in ('inspect', 'convert', 'diff', 'verify'):
        R.check('--help lists ' + cmd, re.search(r'^\s+%s\s+\S' % cmd, r.out, re.M), r.out)
    R.check('--help: nothing left unimplemented',
            'not implemented' not in r.out and 'planned' not in r.out.lower(), r.out)
    for cmd, words in [('inspect', ['--json', 'FILE']), ('diff', ['--atol', '--rtol']),
                       ('verify', ['FILE']),
                       ('convert', ['--dtype', '.safetensors', '__metadata__', '.pt', '.pth',
                                    '.bin', 'repr', 'metadata'])]:
        r = wick(cmd, '--help')
        R.check(cmd + ' --help exit 0', r.rc == 0 and r.err == '' and 'usage' in r.out.lower(), r)
        for w in words:
            R.check('%s --help mentions %s' % (cmd, w), w in r.out, r.out)
    r = wick('convert', '--help')
    R.check('convert --help: safetensors -> .pt drops the metadata',
            re.search(r'metadata[^.]*(not|dropped|lost|discard)', r.out, re.I | re.S), r.out)
    R.check('convert --help: views become contiguous copies',
            re.search(r'contiguous|cop(y|ies)', r.out, re.I), r.out)

    expect_usage_error('unknown subcommand', wick('frobnicate', fixture), '')
    expect_usage_error('unknown top-level option', wick('--frobnicate'), '')
    expect_usage_error('inspect: missing FILE', wick('inspect'), 'inspect')
    expect_usage_error('inspect: two files', wick('inspect', fixture, fixture), 'inspect')
    expect_usage_error('inspect: unknown option', wick('inspect', fixture, '--frob'), 'inspect')
    expect_usage_error('verify: missing FILE', wick('verify'), 'verify')
    expect_usage_error('diff: missing B', wick('diff', fixture), 'diff')
    expect_usage_error('diff: missing A and B', wick('diff'), 'diff')
    expect_usage_error('convert: missing OUT', wick('convert', fixture), 'convert')
    expect_usage_error('convert: missing IN and OUT', wick('convert'), 'convert')
    for bad in ('abc', '', '1e', '--rtol'):
        expect_usage_error('diff: bad --atol %r' % bad,
                           wick('diff', fixture, fixture, '--atol', bad), 'diff')
    expect_usage_error('diff: bad --rtol', wick('diff', fixture, fixture, '--rtol', 'x1'), 'diff')
    expect_usage_error('diff: --atol without a value', wick('diff', fixture, fixture, '--atol'),
                       'diff')
    os.makedirs(WORK, exist_ok=True)
    for bad in ('int8', 'float', 'nonsense', 'torch.float16', ''):
        out = work('bad_dtype.pt')
        r = wick('convert', fixture, out, '--dtype', bad)
        expect_usage_error('convert: bad --dtype %r' % bad, r, 'convert')
        R.check('convert: bad --dtype %r writes nothing' % bad, not os.path.exists(out))
    for ext in ('out.txt', 'out', 'out.pt.gz', 'out.safetensor', 'out.json'):
        out = work(ext)
        expect_usage_error('convert: unknown OUT extension %s' % ext,
                           wick('convert', fixture, out), 'convert')
        R.check('convert: %s not written' % ext, not os.path.exists(out))
    no_leftovers('usage: no files left behind', WORK, [])


def group_errors():
    os.makedirs(WORK)
    good = os.path.join(FIXTURES, 'seed_net_state_dict.pt')
    missing = work('does_not_exist.pt')
    directory = work('a_directory.pt')
    os.makedirs(directory)
    empty = write(work('empty.pt'), b'')
    random_bytes = write(work('random.pt'), bytes((i * 197 + 13) % 256 for i in range(4096)))
    text = write(work('text.pt'), b'hello, this is not a checkpoint\n')
    truncated = write(work('truncated.pt'), read(good)[:len(read(good)) // 2])
    st_trunc = write(work('truncated.safetensors'),
                     read(os.path.join(FIXTURES, 'dtypes.safetensors'))[:-10])
    legacy_trunc = write(work('legacy_truncated.pt'),
                         read(os.path.join(FIXTURES, 'legacy_format.pt'))[:-20])
    # Not a torch file but a pickle, and a zip without a data.pkl.
    plain_pickle = write(work('plain.pkl'), pickle.dumps({'a': 1}, protocol=2))
    with zipfile.ZipFile(work('not_torch.zip'), 'w') as z:
        z.writestr('stuff/readme.txt', 'hi')
    not_torch_zip = work('not_torch.zip')
    # A torch-layout archive whose pickle calls os.system (built without torch).
    marker = work('MARKER_must_not_exist')

    class Evil:
        def __reduce__(self):
            return (os.system, ('touch ' + marker,))

    evil = work('evil.pt')
    with zipfile.ZipFile(evil, 'w') as z:
        z.writestr('evil/data.pkl', pickle.dumps(Evil(), protocol=2))
        z.writestr('evil/version', '3\n')
    evil_legacy = write(work('evil_legacy.pt'), b''.join(pickle.dumps(x, protocol=2) for x in (
        0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True}))
        + pickle.dumps(Evil(), protocol=2))

    bad_files = [('missing file', missing, None), ('directory', directory, None),
                 ('empty file', empty, None),
                 ('random bytes', random_bytes, 'not a PyTorch or safetensors checkpoint'),
                 ('text', text, 'not a PyTorch or safetensors checkpoint'),
                 ('plain pickle', plain_pickle, None),
                 ('zip without data.pkl', not_torch_zip, None),
                 ('truncated zip', truncated, None), ('truncated safetensors', st_trunc, None),
                 ('truncated legacy', legacy_trunc, None),
                 ('pickle calling os.system', evil, None),
                 ('legacy pickle calling os.system', evil_legacy, None)]
    out = work('out.pt')
    existing = work('existing.safetensors')
    for what, path, phrase in bad_files:
        expect_file_error('inspect: ' + what, wick('inspect', path), path, phrase)
        expect_file_error('inspect --json: ' + what, wick('inspect', path, '--json'), path, phrase)
        expect_file_error('diff (as A): ' + what, wick('diff', path, good), path, phrase)
        expect_file_error('diff (as B): ' + what, wick('diff', good, path), path, phrase)
        expect_file_error('convert: ' + what, wick('convert', path, out), path, phrase)
        R.check('convert: %s: no OUT' % what, not os.path.exists(out))
        write(existing, b'precious bytes')
        expect_file_error('convert over existing OUT: ' + what,
                          wick('convert', path, existing), path, phrase)
        expect_unchanged('convert: %s: existing OUT unchanged' % what, existing, b'precious bytes')
        r = wick('verify', path)
        if path in (missing, directory):
            expect_file_error('verify: ' + what, r, path, phrase)
        else:
            # Opened but unsound: a negative answer, on stdout.
            R.check('verify: %s: FAILED, exit 1' % what, r.rc == 1 and r.err == '' and re.fullmatch(
                re.escape(path) + r': FAILED: .+\n', r.out), r)
    R.check('os.system never ran', not os.path.exists(marker))
    # OUT in a directory that does not exist: the error names OUT.
    bad_out = work('no_such_dir', 'x.pt')
    expect_file_error('convert: OUT directory missing', wick('convert', good, bad_out), bad_out)
    bad_out = work('no_such_dir', 'x.safetensors')
    expect_file_error('convert: OUT directory missing (safetensors)',
                      wick('convert', good, bad_out), bad_out)
    # OUT is a directory.
    out_dir = work('outdir.pt')
    os.makedirs(out_dir)
    expect_file_error('convert: OUT is a directory', wick('convert', good, out_dir), out_dir)
    R.check('convert: OUT directory kept', os.path.isdir(out_dir) and not os.listdir(out_dir))
    no_leftovers('errors: no temporary files left behind', WORK,
                 [os.path.basename(p) for _, p, _ in bad_files if p != missing]
                 + ['existing.safetensors', 'not_torch.zip', 'outdir.pt'])


def manifest_expected(fname):
    entries = MANIFEST[fname]['entries']
    tensors = [(n, e['dtype'], e['shape']) for n, e in entries.items() if 'dtype' in e]
    values = [(n, e['value']) for n, e in entries.items() if 'dtype' not in e]
    path = os.path.join(FIXTURES, fname)
    fmt = 'safetensors' if fname.endswith('.safetensors') else (
        'pt-zip' if zipfile.is_zipfile(path) else 'pt-legacy')
    return path, Expected(fmt, tensors, values, zip_versions(path) if fmt == 'pt-zip' else None,
                          ordered=False)


def check_diff_tensors_equal(name, a, b, tensor_names, exact):
    """diff A B: no line about any tensor; with exact, exit 0 and the equal summary."""
    r = wick('diff', a, b)
    if exact:
        return R.check(name, r.rc == 0 and r.err == '' and r.out == (
            'A and B are equal (%d entries)\n' % len(tensor_names)), r)
    names = set(tensor_names)
    bad = [x for x in r.out.splitlines() if x.startswith(('values differ', 'dtype differs',
                                                         'shape differs'))
           or x.startswith(('only in A: ', 'only in B: ')) and x[11:] in names]
    return R.check(name + ' (tensors)', r.rc in (0, 1) and r.err == '' and not bad, r)


def group_fixtures():
    os.makedirs(WORK)
    for fname in sorted(MANIFEST):
        if 'entries' not in MANIFEST[fname]:
            continue
        path, exp = manifest_expected(fname)
        if fname == 'dtypes.safetensors':
            _, meta, _ = read_safetensors(path)
            exp.values = [('__metadata__.' + k, v) for k, v in meta.items()]
        check_inspect(fname, path, exp)
        if exp.fmt == 'pt-legacy':
            r = wick('inspect', path, '--json')
            try:
                versions = json.loads(r.out).get('versions', {})
            except ValueError:
                versions = {}
            R.check(fname + ': legacy versions name the protocol 1001',
                    '1001' in json.dumps(versions), versions)
        # Tensor values: through a safetensors conversion, read without torch, against the
        # manifest's SHA-256 of each tensor's contiguous bytes. safetensors has no complex128.
        tensors = [(n, d, s) for n, d, s in exp.tensors if d != 'complex128']
        out = work(fname.replace('.', '_') + '.safetensors')
        r = wick('convert', path, out)
        if len(tensors) < len(exp.tensors):
            expect_file_error(fname + ': convert to safetensors refuses complex128', r, out,
                              'complex128')
            continue
        if not expect_wrote(fname + ': convert to safetensors', r, out, 'safetensors',
                            len(tensors), sum(math.prod(s) * ELEMENT_SIZE[d]
                                              for _, d, s in tensors)):
            continue
        header, meta, data = read_safetensors(out)
        R.check(fname + ': safetensors names', sorted(header) == sorted(n for n, _, _ in tensors),
                list(header))
        entries = MANIFEST[fname]['entries']
        for n, d, s in tensors:
            h = header.get(n, {})
            blob = st_tensor_bytes(header, data, n) if n in header else b''
            R.check('%s: %s dtype/shape in safetensors' % (fname, n),
                    h.get('dtype') == ST_CODE[d] and h.get('shape') == s, h)
            R.check('%s: %s values (sha256 vs manifest)' % (fname, n),
                    hashlib.sha256(blob).hexdigest() == entries[n]['sha256'])
        want_meta = {n: repr(v) for n, v in exp.values}
        if fname == 'dtypes.safetensors':
            want_meta = dict(read_safetensors(path)[1])
        R.check(fname + ': safetensors __metadata__', (meta or {}) == want_meta,
                '%r vs %r' % (meta, want_meta))
        check_diff_tensors_equal(fname + ': diff with its safetensors conversion', path, out,
                                 [n for n, _, _ in tensors], not exp.values)
        r = wick('verify', out)
        R.check(fname + ': verify the conversion', r.rc == 0 and r.out.startswith(out + ': OK ('),
                r)
        # And back: .safetensors -> .pt -> .safetensors keeps every byte of every tensor.
        back = work(fname.replace('.', '_') + '_back.pt')
        again = work(fname.replace('.', '_') + '_again.safetensors')
        r1, r2 = wick('convert', out, back), wick('convert', back, again)
        if R.check(fname + ': round trip', r1.rc == 0 and r2.rc == 0, '%s\n%s' % (r1, r2)):
            h2, _, d2 = read_safetensors(again)
            R.check(fname + ': round trip tensors', sorted(h2) == sorted(header) and all(
                st_tensor_bytes(h2, d2, n) == st_tensor_bytes(header, data, n) for n in header))
            check_diff_tensors_equal(fname + ': diff safetensors vs its .pt', out, back,
                                     [n for n, _, _ in tensors], not exp.values)
    # Across formats: the pt fixture holds everything the safetensors one holds, plus a
    # complex64 tensor and the second name of a tied tensor.
    pt = os.path.join(FIXTURES, 'dtypes_and_views.pt')
    st = os.path.join(FIXTURES, 'dtypes.safetensors')
    r = wick('diff', pt, st)
    lines = [x for x in r.out.splitlines() if '__metadata__' not in x]
    R.check('diff dtypes_and_views.pt dtypes.safetensors', r.rc == 1 and lines[:2] == [
        'only in A: complex64', 'only in A: tied_b'] and len(lines) == 3 and re.fullmatch(
            r'A and B differ: (\d+) of (\d+) entries', lines[2]), r)
    r = wick('diff', st, pt)
    lines = [x for x in r.out.splitlines() if '__metadata__' not in x]
    R.check('diff dtypes.safetensors dtypes_and_views.pt', r.rc == 1 and lines[:2] == [
        'only in B: complex64', 'only in B: tied_b'], r)
    r = wick('diff', pt, pt)
    R.check('diff a fixture with itself', r.rc == 0 and r.out == 'A and B are equal (21 entries)\n',
            r)
    # trajectory.pt (no entries in the manifest): its float64 losses are the manifest's.
    traj = os.path.join(FIXTURES, 'trajectory.pt')
    out = work('trajectory.safetensors')
    r = wick('convert', traj, out)
    if R.check('trajectory: convert', r.rc == 0 and os.path.exists(out), r):
        header, meta, data = read_safetensors(out)
        h = header.get('losses', {})
        fmt = {'F32': 'f', 'F64': 'd'}.get(h.get('dtype'), 'x')
        blob = st_tensor_bytes(header, data, 'losses') if h else b''
        got = list(struct.unpack('<%d%s' % (len(blob) // struct.calcsize(fmt), fmt), blob)) \
            if fmt != 'x' else []
        want = MANIFEST['trajectory.pt']['losses']
        R.check('trajectory: losses', len(got) == len(want) and all(
            abs(a - b) <= 1e-6 * abs(b) for a, b in zip(got, want)), '%s vs %s' % (got, want))


def group_verify():
    os.makedirs(WORK)
    for fname in sorted(f for f in os.listdir(FIXTURES) if f != 'manifest.json'):
        path = os.path.join(FIXTURES, fname)
        r = wick('verify', path)
        if fname.endswith('.safetensors'):
            header, _, _ = read_safetensors(path)
            want = r'%s: OK \(safetensors, .*\b%d tensors\b.*\)\n' % (re.escape(path), len(header))
        elif zipfile.is_zipfile(path):
            records = len(zipfile.ZipFile(path).namelist())
            want = r'%s: OK \(pt-zip, %d records, \d+ tensors, \d+ bytes, CRC-32 checked\)\n' % (
                re.escape(path), records)
        else:
            want = r'%s: OK \(pt-legacy, .*\)\n' % re.escape(path)
        R.check('verify ' + fname, r.rc == 0 and r.err == '' and re.fullmatch(want, r.out), r)
        entries = MANIFEST.get(fname, {}).get('entries')
        if entries and zipfile.is_zipfile(path):
            n = sum('dtype' in e for e in entries.values())
            nbytes = sum(math.prod(e['shape']) * ELEMENT_SIZE[e['dtype']]
                         for e in entries.values() if 'dtype' in e)
            m = re.search(r'(\d+) tensors, (\d+) bytes', r.out)
            R.check('verify %s: tensor count and bytes' % fname,
                    m and int(m.group(1)) == n and int(m.group(2)) == nbytes,
                    '%s; want %d tensors, %d bytes' % (r.out, n, nbytes))

    src = os.path.join(FIXTURES, 'seed_net_state_dict.pt')
    raw = read(src)
    # A flipped byte inside a tensor's record: the CRC-32 of that record.
    info, data_off = zip_record(src, '/data/4')
    flipped = bytearray(raw)
    flipped[data_off + 1000] ^= 0x40
    bad = write(work('flipped.pt'), bytes(flipped))
    r = wick('verify', bad)
    m = re.fullmatch(r"%s: FAILED: record '([^']+)' \(offset (\d+)\): CRC-32 mismatch "
                     r"\(stored 0x([0-9a-fA-F]+), computed 0x([0-9a-fA-F]+)\)\n" % re.escape(bad),
                     r.out)
    computed = zlib.crc32(bytes(flipped[data_off:data_off + info.file_size]))
    R.check('verify flipped data byte: FAILED naming record, offset and both CRCs',
            r.rc == 1 and r.err == '' and m and m.group(1) == info.filename
            and int(m.group(2)) in (info.header_offset, data_off)
            and int(m.group(3), 16) == info.CRC and int(m.group(4), 16) == computed,
            '%s\n  want record %s at %d or %d, stored %08x computed %08x' % (
                r, info.filename, info.header_offset, data_off, info.CRC, computed))
    # A flipped byte in data.pkl.
    info, data_off = zip_record(src, '/data.pkl')
    flipped = bytearray(raw)
    flipped[data_off + 3] ^= 0x01
    bad = write(work('flipped_pkl.pt'), bytes(flipped))
    r = wick('verify', bad)
    R.check('verify flipped data.pkl byte', r.rc == 1 and r.out.startswith(
        "%s: FAILED: record '%s' (offset " % (bad, info.filename)) and 'CRC-32' in r.out, r)
    # Truncated files.
    for cut in (len(raw) // 2, len(raw) - 5, 100):
        bad = write(work('truncated_%d.pt' % cut), raw[:cut])
        r = wick('verify', bad)
        R.check('verify truncated at %d' % cut, r.rc == 1 and r.err == '' and re.fullmatch(
            re.escape(bad) + r': FAILED: .+\n', r.out), r)
    # A corrupted local header of one record (its signature): names the record.
    info, _ = zip_record(src, '/data/2')
    broken = bytearray(raw)
    broken[info.header_offset:info.header_offset + 4] = b'XXXX'
    bad = write(work('bad_local_header.pt'), bytes(broken))
    r = wick('verify', bad)
    R.check('verify corrupted local header', r.rc == 1 and r.out.startswith(
        "%s: FAILED: record '%s'" % (bad, info.filename)) and str(info.header_offset) in r.out, r)
    # A storage record that is missing.
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(work('missing_storage.pt'), 'w') as zout:
        for i in zin.infolist():
            if not i.filename.endswith('/data/2'):
                zout.writestr(i.filename, zin.read(i))
    r = wick('verify', work('missing_storage.pt'))
    R.check('verify missing storage record', r.rc == 1 and 'seed_net_state_dict/data/2' in r.out,
            r)
    # A storage record that is too small for its tensor.
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(work('short_storage.pt'), 'w') as zout:
        for i in zin.infolist():
            data = zin.read(i)
            zout.writestr(i.filename, data[:-4] if i.filename.endswith('/data/0') else data)
    r = wick('verify', work('short_storage.pt'))
    R.check('verify short storage record', r.rc == 1 and 'seed_net_state_dict/data/0' in r.out, r)

    # safetensors: a corrupted JSON header, a header length past the end, overlapping and
    # out-of-range offsets, a shape that does not match its byte span.
    st = os.path.join(FIXTURES, 'dtypes.safetensors')
    sraw = read(st)
    (n,) = struct.unpack('<Q', sraw[:8])
    bad = write(work('bad_json.safetensors'), sraw[:8] + b'[' + sraw[9:])
    r = wick('verify', bad)
    R.check('verify safetensors corrupted JSON header', r.rc == 1 and re.fullmatch(
        re.escape(bad) + r': FAILED: .+\n', r.out), r)
    bad = write(work('bad_len.safetensors'), struct.pack('<Q', len(sraw)) + sraw[8:])
    r = wick('verify', bad)
    R.check('verify safetensors header length past the end', r.rc == 1 and r.out.startswith(
        bad + ': FAILED: '), r)
    blob = bytes(range(48))
    for what, tensors in [
            ('overlapping', [('a', 'float32', [6], blob[:24]), ('b', 'float32', [6], blob[:24])]),
            ('shape vs span', [('a', 'float32', [5], blob[:24])])]:
        p = work('st_%s.safetensors' % what.replace(' ', '_'))
        header = collections.OrderedDict()
        if what == 'overlapping':
            header['a'] = {'dtype': 'F32', 'shape': [6], 'data_offsets': [0, 24]}
            header['b'] = {'dtype': 'F32', 'shape': [6], 'data_offsets': [16, 40]}
        else:
            header['a'] = {'dtype': 'F32', 'shape': [5], 'data_offsets': [0, 24]}
        text = json.dumps(header).encode()
        text += b' ' * (-len(text) % 8)
        write(p, struct.pack('<Q', len(text)) + text + blob[:40 if what == 'overlapping' else 24])
        r = wick('verify', p)
        R.check('verify safetensors %s' % what, r.rc == 1 and r.err == '' and re.fullmatch(
            re.escape(p) + r': FAILED: .+\n', r.out), r)
        expect_file_error('inspect safetensors %s' % what, wick('inspect', p), p)
    del n


# ---- groups that need torch 1.13 -----------------------------------------------------------


def torch_modules():
    sys.path.insert(0, os.path.join(HERE, '..', 'io'))
    import interop  # noqa: E402  (tests/io/interop.py: the weights_only allow-list)
    import torch
    return interop, torch


def py_flatten(v, path=''):
    child = (lambda p: p) if not path else (lambda p: path + '.' + p)
    if isinstance(v, (list, tuple)) and len(v):
        for i, x in enumerate(v):
            yield from py_flatten(x, child(str(i)))
    elif isinstance(v, dict) and len(v):
        for k, x in v.items():
            yield from py_flatten(x, child(k if isinstance(k, str) else repr(k)))
    else:
        yield path, v


def torch_expected(torch, path, obj):
    tensors, values = [], []
    for n, v in py_flatten(obj):
        if isinstance(v, torch.Tensor):
            tensors.append((n, str(v.dtype).replace('torch.', ''), list(v.shape)))
        else:
            values.append((n, v))
    fmt = 'pt-zip' if zipfile.is_zipfile(path) else 'pt-legacy'
    return Expected(fmt, tensors, values, zip_versions(path) if fmt == 'pt-zip' else None)


def torch_corpus(interop, torch):
    """name -> object, every file torch 1.13 writes for these tests."""
    nn = torch.nn
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(12, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(4, 1, 4, 4)).pow(2).mean().backward()
        opt.step()
    adam_model = nn.Linear(3, 2)
    adam = torch.optim.Adam(adam_model.parameters(), amsgrad=True)
    adam_model(torch.randn(5, 3)).sum().backward()
    adam.step()
    dtypes = collections.OrderedDict()
    for d in interop.DTYPES:
        name = interop.dtype_name(d)
        dtypes[name] = interop.random_tensor((3, 4), d)
        dtypes[name + '_0dim'] = interop.random_tensor((), d)
        dtypes[name + '_empty'] = interop.random_tensor((0, 5), d)
    b = torch.arange(24.).view(4, 6)
    views = {'base': b, 'row_slice': b[1:3], 'col_slice': b[:, 2:5], 'transposed': b.t(),
             'tied_a': b, 'tied_b': b, 'expanded': torch.arange(3.).view(3, 1).expand(3, 4),
             'int_slice': torch.arange(12)[2:5]}
    t = torch.randn(2, 2)
    nested = {'layers': [[torch.ones(2), torch.zeros(3, dtype=torch.int32)],
                         (torch.arange(4.).view(2, 2), (t, 5))],
              'meta': {'tags': ('a', 'b'), 'empty_list': [], 'empty_tuple': (), 'empty_dict': {},
                       'empty_ordered': collections.OrderedDict(),
                       'empty_counter': collections.Counter(), 7: 'int key'},
              'none': None, 'flag': True, 'off': False, 'blob': b'\x00\xff\x10',
              'empty_blob': b'', 'nan': math.nan, 'inf': math.inf, 'ninf': -math.inf,
              'neg_zero': -0.0, 'tiny': 5e-324, 'big': 2 ** 62, 'neg': -3,
              'text': 'h\u00e9llo \u2713', 'quote': "it's \"q\"\n", 'again': t}
    general = {'epoch': 3, 'model_state_dict': model.state_dict(),
               'optimizer_state_dict': opt.state_dict(), 'loss': 0.4, 'name': 'abc',
               'note': None}
    return collections.OrderedDict([
        ('state_dict', model.state_dict()),
        ('general_checkpoint', general),
        ('adam_state', {'model': adam_model.state_dict(), 'optim': adam.state_dict()}),
        ('nested', nested),
        ('all_dtypes', dtypes),
        ('views', views),
    ])


def save_corpus(interop, torch):
    os.makedirs(WORK)
    files = []
    for name, obj in torch_corpus(interop, torch).items():
        path = work(name + '.pt')
        torch.save(obj, path)
        files.append((name, path))
    for name in ('general_checkpoint', 'all_dtypes', 'views'):
        path = work(name + '_legacy.pt')
        torch.save(torch.load(work(name + '.pt')), path, _use_new_zipfile_serialization=False)
        files.append((name + '_legacy', path))
    return files


def group_torch_inspect():
    interop, torch = torch_modules()
    for name, path in save_corpus(interop, torch):
        exp = torch_expected(torch, path, torch.load(path))
        check_inspect(name, path, exp)
        # verify and diff on the same files: sound, and equal to themselves.
        nbytes = sum(math.prod(s) * ELEMENT_SIZE[d] for _, d, s in exp.tensors)
        r = wick('verify', path)
        R.check(name + ': verify OK', r.rc == 0 and r.err == '' and re.fullmatch(
            r'%s: OK \(%s, (%d records, )?%d tensors, %d bytes(, CRC-32 checked)?\)\n' % (
                re.escape(path), exp.fmt, len(zipfile.ZipFile(path).namelist()) if
                exp.fmt == 'pt-zip' else 0, len(exp.tensors), nbytes), r.out), r)
        r = wick('diff', path, path)
        R.check(name + ': diff with itself', r.rc == 0 and r.out == (
            'A and B are equal (%d entries)\n' % (len(exp.tensors) + len(exp.values))), r)
    # The 2.11 fixtures, as torch 1.13 loads them (order included).
    for fname in sorted(MANIFEST):
        path = os.path.join(FIXTURES, fname)
        if fname.endswith('.safetensors') or fname in TORCH_1_13_CANNOT_LOAD:
            continue
        exp = torch_expected(torch, path, torch.load(path, map_location='cpu'))
        check_inspect('fixture ' + fname, path, exp)
    # safetensors: names in file order, metadata as __metadata__.<key> str values.
    st = os.path.join(FIXTURES, 'dtypes.safetensors')
    header, meta, _ = read_safetensors(st)
    exp = Expected('safetensors', [(n, ST_DTYPE[h['dtype']], h['shape']) for n, h in
                                   header.items()],
                   [('__metadata__.' + k, v) for k, v in meta.items()], ordered=False)
    check_inspect('dtypes.safetensors', st, exp)


def torch_equal_described(interop, a, b):
    return interop.first_difference(interop.describe(a), interop.describe(b))


def expect_wrote(name, r, out, fmt, n_tensors, tensor_bytes):
    m = re.fullmatch(r'wrote %s \(%s, (\d+) tensors?, (\d+) bytes\)\n' % (re.escape(out), fmt),
                     r.out)
    return R.check(name, r.rc == 0 and r.err == '' and m and int(m.group(1)) == n_tensors
                   and int(m.group(2)) == tensor_bytes,
                   '%s\n  want %d tensors, %d bytes' % (r, n_tensors, tensor_bytes))


def tensor_leaves(torch, obj):
    return [(n, v) for n, v in py_flatten(obj) if isinstance(v, torch.Tensor)]


def raw_bytes(torch, t):
    t = t.detach().contiguous().reshape(-1)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b''


def check_globals(interop, name, path):
    bad = interop.pickle_globals(path) - interop.ALLOWED_GLOBALS
    R.check(name + ': every pickle global is one weights_only allows', not bad, bad)


def group_torch_convert():
    interop, torch = torch_modules()
    files = save_corpus(interop, torch)
    files += [('fixture ' + f, os.path.join(FIXTURES, f)) for f in sorted(MANIFEST)
              if f.endswith('.pt') and f not in TORCH_1_13_CANNOT_LOAD]
    for name, path in files:
        obj = torch.load(path, map_location='cpu')
        leaves = tensor_leaves(torch, obj)
        nbytes = sum(t.numel() * t.element_size() for _, t in leaves)
        tag = re.sub(r'\W', '_', name)
        # pt -> pt: torch.load sees exactly the input, sharing included.
        out = work(tag + '_out.pt')
        r = wick('convert', path, out)
        if expect_wrote(name + ': convert to .pt', r, out, 'pt-zip', len(leaves), nbytes):
            diff = torch_equal_described(interop, obj, torch.load(out))
            R.check(name + ': pt->pt loads equal (values, dtypes, structure, sharing)',
                    diff is None, diff)
            check_globals(interop, name, out)
            R.check(name + ': zip CRCs', zipfile.ZipFile(out).testzip() is None)
        for ext in ('pth', 'bin'):
            other = work(tag + '_out.' + ext)
            r = wick('convert', path, other)
            R.check(name + ': .%s is PyTorch zip too' % ext, r.rc == 0 and os.path.exists(
                other) and zipfile.is_zipfile(other) and torch_equal_described(
                    interop, obj, torch.load(other)) is None, r)
        # pt -> pt with --dtype: floating-point tensors cast, the rest untouched.
        for dt in ('float16', 'float64', 'bfloat16', 'float32'):
            out = work('%s_%s.pt' % (tag, dt))
            r = wick('convert', path, out, '--dtype', dt)
            if not R.check('%s: convert --dtype %s' % (name, dt), r.rc == 0, r):
                continue
            got = torch.load(out)
            got_leaves = list(py_flatten(got))
            want_leaves = list(py_flatten(obj))
            R.check('%s: --dtype %s keeps the structure' % (name, dt),
                    [n for n, _ in got_leaves] == [n for n, _ in want_leaves],
                    [n for n, _ in got_leaves])
            target = getattr(torch, dt)
            for (n, g), (_, w) in zip(got_leaves, want_leaves):
                if isinstance(w, torch.Tensor):
                    want = w.detach().to(target) if w.is_floating_point() else w.detach()
                    ok = (isinstance(g, torch.Tensor) and g.dtype == want.dtype
                          and g.shape == want.shape and g.requires_grad == w.requires_grad
                          and torch.equal(g.detach(), want)
                          if not want.dtype.is_complex else torch.equal(g, want))
                    if want.is_floating_point() and want.numel():
                        ok = ok and torch.equal(g.detach().isnan(), want.isnan())
                    R.check('%s: --dtype %s: %s' % (name, dt, n), ok,
                            '%s vs %s' % (getattr(g, 'dtype', g), want.dtype))
                else:
                    R.check('%s: --dtype %s: value %s' % (name, dt, n),
                            repr(g) == repr(w), '%r vs %r' % (g, w))
            check_globals(interop, '%s --dtype %s' % (name, dt), out)
        # pt -> safetensors (complex128 cannot be held: that case is checked below).
        if any(t.dtype == torch.complex128 for _, t in leaves):
            continue
        for dt in (None, 'bfloat16'):
            out = work(tag + ('_%s' % dt if dt else '') + '.safetensors')
            r = wick('convert', path, out, *(['--dtype', dt] if dt else []))
            want_leaves = [(n, t.detach().to(getattr(torch, dt)) if dt and t.is_floating_point()
                            else t.detach()) for n, t in leaves]
            want_bytes = sum(t.numel() * t.element_size() for _, t in want_leaves)
            what = '%s: convert to safetensors%s' % (name, ' --dtype ' + dt if dt else '')
            if not expect_wrote(what, r, out, 'safetensors', len(leaves), want_bytes):
                continue
            if not dt:  # a file and its conversion are the same checkpoint
                r = wick('diff', path, out)
                R.check(what + ': diff says equal', r.rc == 0 and
                        r.out.startswith('A and B are equal'), r)
            header, meta, data = read_safetensors(out)
            R.check(what + ': names', sorted(header) == sorted(n for n, _ in leaves),
                    list(header))
            for n, t in want_leaves:
                h = header.get(n, {})
                R.check('%s: %s' % (what, n), h.get('dtype') == ST_CODE[
                    interop.dtype_name(t.dtype)] and h.get('shape') == list(t.shape)
                    and n in header and st_tensor_bytes(header, data, n) == raw_bytes(torch, t),
                    h)
            want_meta = {n: repr(v) for n, v in py_flatten(obj) if not isinstance(
                v, torch.Tensor)}
            R.check(what + ': __metadata__ holds the reprs of the non-tensor leaves',
                    (meta or {}) == want_meta, '\n  got  %r\n  want %r' % (meta, want_meta))
            # safetensors -> pt: an OrderedDict in name order (as the safetensors
            # library's load_file returns it), metadata dropped.
            back = out[:-len('.safetensors')] + '_back.pt'
            r = wick('convert', out, back)
            if not expect_wrote(what + ' -> .pt', r, back, 'pt-zip', len(leaves), want_bytes):
                continue
            got = torch.load(back)
            in_name_order = sorted(header)
            R.check(what + ' -> .pt: an OrderedDict in name order',
                    isinstance(got, collections.OrderedDict) and list(got) == in_name_order,
                    '%s %s vs %s' % (type(got).__name__, list(got), in_name_order))
            want = dict(want_leaves)
            for n, t in got.items():
                R.check('%s -> .pt: %s' % (what, n), n in want and t.dtype == want[n].dtype and (
                    torch.equal(t, want[n]) or torch.equal(t.isnan(), want[n].isnan()) and
                    torch.equal(t.nan_to_num(), want[n].nan_to_num())))
            check_globals(interop, what + ' -> .pt', back)
    # The safetensors fixture -> .pt, checked against torch's reading of the .pt fixture.
    st = os.path.join(FIXTURES, 'dtypes.safetensors')
    out = work('dtypes_from_safetensors.pt')
    r = wick('convert', st, out)
    if R.check('dtypes.safetensors -> .pt', r.rc == 0, r):
        got = torch.load(out)
        ref = torch.load(os.path.join(FIXTURES, 'dtypes_and_views.pt'), map_location='cpu')
        R.check('dtypes.safetensors -> .pt: no metadata carried', '__metadata__' not in got and all(
            isinstance(v, torch.Tensor) for v in got.values()), list(got))
        for n, t in got.items():
            R.check('dtypes.safetensors -> .pt: ' + n, torch.equal(t, ref[n].detach()) and
                    t.dtype == ref[n].dtype)
        check_globals(interop, 'dtypes.safetensors -> .pt', out)
    # A failed convert leaves an existing OUT as it was, and leaves no temporary file.
    sub = work('failing')
    os.makedirs(sub)
    bad_in = os.path.join(sub, 'complex128.pt')
    torch.save({'ok': torch.ones(2), 'z': torch.ones(2, dtype=torch.complex128)}, bad_in)
    for out, before in [(os.path.join(sub, 'existing.safetensors'), b'old contents'),
                        (os.path.join(sub, 'absent.safetensors'), None)]:
        if before is not None:
            write(out, before)
        r = wick('convert', bad_in, out)
        expect_file_error('convert complex128 to safetensors fails', r, bad_in
                          if bad_in in r.err else out)
        R.check('convert complex128 error names the tensor', "'z'" in r.err or ' z' in r.err
                or 'z:' in r.err, r.err)
        expect_unchanged('failed convert leaves %s' % os.path.basename(out), out, before)
    no_leftovers('failed convert leaves no temporary file', sub,
                 ['complex128.pt', 'existing.safetensors'])
    # Overwriting an existing OUT on success.
    out = os.path.join(sub, 'existing.safetensors')
    src = os.path.join(FIXTURES, 'dtypes.safetensors')
    r = wick('convert', src, out)
    R.check('convert replaces an existing OUT on success', r.rc == 0 and read_safetensors(
        out)[0].keys() == read_safetensors(src)[0].keys(), r)


def group_torch_diff():
    interop, torch = torch_modules()
    os.makedirs(WORK)
    f = torch.float32
    a = collections.OrderedDict([
        ('same', torch.arange(6, dtype=f).view(2, 3)), ('only_a', torch.ones(1)),
        ('dt', torch.ones(2)), ('sh', torch.zeros(2, 3)), ('vals', torch.zeros(2, 3)),
        ('epoch', 3), ('kind', 1), ('loss', 0.4), ('name', 'x'), ('nested', {'k': [1, 2]})])
    vals = torch.zeros(2, 3)
    vals[1, 0], vals[0, 2] = 0.5, -0.25
    b = collections.OrderedDict([
        ('same', torch.arange(6, dtype=f).view(2, 3)), ('dt', torch.ones(2, dtype=torch.float64)),
        ('sh', torch.zeros(3, 2)), ('vals', vals), ('epoch', 4), ('kind', 1.0), ('loss', 0.4),
        ('name', 'x'), ('nested', {'k': [1, 2]}), ('only_b', torch.ones(1))])
    pa, pb = work('a.pt'), work('b.pt')
    torch.save(a, pa)
    torch.save(b, pb)
    want = ['only in A: only_a', 'only in B: only_b', 'dtype differs: dt: float32 vs float64',
            'shape differs: sh: [2, 3] vs [3, 2]', 'type differs: kind: int vs float',
            'value differs: epoch: 3 vs 4']
    r = wick('diff', pa, pb)
    lines = r.out.splitlines()
    R.check('diff: every kind of line, in order', r.rc == 1 and r.err == '' and lines[:6] == want
            and len(lines) == 8, '%s\n  want %s' % (r, want))
    m = re.fullmatch(r'values differ: vals: max abs diff (\S+) at \[1, 0\] \(2 of 6 elements\)',
                     lines[6] if len(lines) > 6 else '')
    R.check('diff: values differ line', m and float(m.group(1)) == 0.5, lines[6:7])
    R.check('diff: summary', lines[-1:] == ['A and B differ: 7 of 12 entries'], lines[-1:])
    r = wick('diff', pb, pa)
    lines = r.out.splitlines()
    R.check('diff swapped', r.rc == 1 and lines[:5] == [
        'only in A: only_b', 'only in B: only_a', 'dtype differs: dt: float64 vs float32',
        'shape differs: sh: [3, 2] vs [2, 3]', 'type differs: kind: float vs int'], r)
    r = wick('diff', pa, pa)
    R.check('diff: a file with itself', r.rc == 0 and r.err == '' and
            r.out == 'A and B are equal (11 entries)\n', r)
    # Copies in other formats are equal.
    for ext in ('pt', 'safetensors'):
        sd = collections.OrderedDict([('w', torch.randn(3, 4)), ('b', torch.arange(3)),
                                      ('h', torch.randn(2).half()), ('m', torch.rand(3) > 0.5)])
        src = work('sd.pt')
        torch.save(sd, src)
        conv = work('sd_conv.' + ext)
        wick('convert', src, conv)
        r = wick('diff', src, conv)
        R.check('diff .pt vs its .%s conversion' % ext, r.rc == 0 and
                r.out == 'A and B are equal (4 entries)\n', r)
    # Legacy vs zip of the same object.
    legacy = work('a_legacy.pt')
    torch.save(a, legacy, _use_new_zipfile_serialization=False)
    r = wick('diff', pa, legacy)
    R.check('diff zip vs legacy of the same object', r.rc == 0 and
            r.out == 'A and B are equal (11 entries)\n', r)
    # A safetensors file whose one element differs from the .pt's.
    st = work('sd_conv.safetensors')
    if not R.check('diff: the safetensors copy exists', os.path.exists(st)):
        return
    header, meta, data = read_safetensors(st)
    blob = bytearray(st_tensor_bytes(header, data, 'w'))
    struct.pack_into('<f', blob, 4 * 5, struct.unpack_from('<f', blob, 4 * 5)[0] + 2.0)
    tensors = [(n, ST_DTYPE[h['dtype']], h['shape'], bytes(blob) if n == 'w' else
                st_tensor_bytes(header, data, n)) for n, h in header.items()]
    st2 = write_safetensors(work('sd_changed.safetensors'), tensors, meta)
    r = wick('diff', work('sd.pt'), st2)
    lines = r.out.splitlines()
    m = re.fullmatch(r'values differ: w: max abs diff (\S+) at \[1, 1\] \(1 of 12 elements\)',
                     lines[0] if lines else '')
    R.check('diff across formats: one element', r.rc == 1 and m and abs(
        float(m.group(1)) - 2.0) < 1e-5 and lines[1:] == ['A and B differ: 1 of 4 entries'], r)

    # Tolerances.
    def pair(tag, x, y):
        p, q = work(tag + '_a.pt'), work(tag + '_b.pt')
        torch.save(x, p)
        torch.save(y, q)
        return p, q

    p, q = pair('tol', {'w': torch.tensor([1.0, 2.0], dtype=torch.float64)},
                {'w': torch.tensor([1.001, 2.0], dtype=torch.float64)})
    for opts, code in [([], 1), (['--atol', '0.01'], 0), (['--atol', '0.0001'], 1),
                       (['--rtol', '0.01'], 0), (['--rtol', '0.0001'], 1),
                       (['--atol', '0.0005', '--rtol', '0.0005'], 0),
                       (['--atol', '0.0004', '--rtol', '0.0004'], 1),
                       (['--atol=0.01'], 0), (['--atol', '1e-2'], 0)]:
        r = wick('diff', p, q, *opts)
        want = (r'A and B are equal \(1 entr(y|ies)\)\n' if code == 0 else
                r'values differ: w: .*\nA and B differ: 1 of 1 entr(y|ies)\n')
        R.check('diff tolerance %s -> %d' % (' '.join(opts) or 'exact', code),
                r.rc == code and re.fullmatch(want, r.out), r)
    # rtol is relative to B: |a-b| <= atol + rtol*|b|.
    p, q = pair('rel', {'w': torch.tensor([10.0], dtype=torch.float64)},
                {'w': torch.tensor([11.0], dtype=torch.float64)})
    r1, r2 = wick('diff', p, q, '--rtol', '0.095'), wick('diff', q, p, '--rtol', '0.095')
    R.check('diff rtol relative to B', r1.rc == 0 and r2.rc == 1, '%s\n%s' % (r1, r2))
    p, q = pair('ints', {'i': torch.tensor([1, 2])}, {'i': torch.tensor([1, 3])})
    r = wick('diff', p, q)
    R.check('diff ints exact', r.rc == 1 and r.out.splitlines()[:1] == [
        'values differ: i: max abs diff 1 at [1] (1 of 2 elements)'], r)
    r = wick('diff', p, q, '--atol', '1')
    R.check('diff ints with --atol 1', r.rc == 0, r)
    p, q = pair('nan', {'n': torch.tensor([math.nan, 1.0, math.inf])},
                {'n': torch.tensor([math.nan, 1.0, math.inf])})
    R.check('diff nan equals nan', wick('diff', p, q).rc == 0)
    p, q = pair('nan2', {'n': torch.tensor([math.nan, 1.0])}, {'n': torch.tensor([0.0, 1.0])})
    r = wick('diff', p, q, '--atol', '1000')
    R.check('diff nan vs number differs whatever the tolerance', r.rc == 1 and re.match(
        r'values differ: n: max abs diff \S+ at \[0\] \(1 of 2 elements\)', r.out), r)
    p, q = pair('bool', {'m': torch.tensor([True, False])}, {'m': torch.tensor([True, True])})
    r = wick('diff', p, q)
    R.check('diff bools', r.rc == 1 and re.match(
        r'values differ: m: max abs diff 1(\.0)? at \[1\] \(1 of 2 elements\)', r.out), r)
    p, q = pair('complex', {'z': torch.tensor([1 + 1j, 2 + 0j])},
                {'z': torch.tensor([1 + 1j, 2 + 0j]) + torch.tensor([0j, 3 + 4j])})
    r = wick('diff', p, q)
    R.check('diff complex: magnitude of the difference', r.rc == 1 and re.match(
        r'values differ: z: max abs diff 5(\.0)? at \[1\] \(1 of 2 elements\)', r.out), r)
    p, q = pair('scalars', {'loss': 0.4, 'lr': 0.1, 'n': None, 's': 'a'},
                {'loss': 0.45, 'lr': 0.1, 'n': None, 's': 'b'})
    r = wick('diff', p, q)
    R.check('diff scalar values', r.rc == 1 and r.out.splitlines() == [
        'value differs: loss: 0.4 vs 0.45', "value differs: s: 'a' vs 'b'",
        'A and B differ: 2 of 4 entries'], r)
    r = wick('diff', p, q, '--atol', '0.1')
    R.check('diff scalar floats within tolerance', r.rc == 1 and r.out.splitlines() == [
        "value differs: s: 'a' vs 'b'", 'A and B differ: 1 of 4 entries'], r)
    p, q = pair('empty', {'state': {}, 'x': []}, {'state': {}, 'x': []})
    R.check('diff empty containers equal', wick('diff', p, q).rc == 0)
    p, q = pair('empty2', {'state': {}}, {'state': {0: {'m': torch.ones(1)}}})
    r = wick('diff', p, q)
    R.check('diff empty vs filled dict', r.rc == 1 and 'only in A: state' in r.out.splitlines()
            and 'only in B: state.0.m' in r.out.splitlines(), r)


def group_torch_hostile():
    interop, torch = torch_modules()
    os.makedirs(WORK)
    module = work('module.pt')
    torch.save(torch.nn.Linear(2, 2), module)
    module_legacy = work('module_legacy.pt')
    torch.save(torch.nn.Linear(2, 2), module_legacy, _use_new_zipfile_serialization=False)
    marker = work('MARKER_must_not_exist')

    class Evil:
        def __reduce__(self):
            return (os.system, ('touch ' + marker,))

    evil = work('evil.pt')
    torch.save({'w': torch.ones(2), 'x': Evil()}, evil)
    evil_legacy = work('evil_legacy.pt')
    torch.save({'x': Evil()}, evil_legacy, _use_new_zipfile_serialization=False)
    good = work('good.pt')
    torch.save({'w': torch.ones(2)}, good)
    existing = work('existing.pt')
    for what, path, phrase in [('pickled module', module, 'Linear'),
                               ('pickled module (legacy)', module_legacy, 'Linear'),
                               ('os.system', evil, 'system'),
                               ('os.system (legacy)', evil_legacy, 'system')]:
        expect_file_error('inspect: ' + what, wick('inspect', path), path, phrase)
        expect_file_error('inspect --json: ' + what, wick('inspect', path, '--json'), path, phrase)
        expect_file_error('diff A: ' + what, wick('diff', path, good), path, phrase)
        expect_file_error('diff B: ' + what, wick('diff', good, path), path, phrase)
        write(existing, b'keep me')
        expect_file_error('convert: ' + what, wick('convert', path, existing), path, phrase)
        expect_unchanged('convert %s: existing OUT unchanged' % what, existing, b'keep me')
        out = work('never.safetensors')
        expect_file_error('convert to safetensors: ' + what, wick('convert', path, out), path)
        R.check('convert %s: no OUT' % what, not os.path.exists(out))
        r = wick('verify', path)
        R.check('verify: %s: FAILED' % what, r.rc == 1 and r.out.startswith(path + ': FAILED: ')
                and phrase in r.out, r)
    R.check('os.system never ran', not os.path.exists(marker))
    # Objects common in real checkpoints that are not weights: the error names
    # the global and says what wrote it and what to save instead.
    import argparse
    import numpy
    net = torch.nn.Linear(2, 2)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    for what, obj, phrase in [
            ('numpy scalar', {'w': torch.ones(2), 'acc': numpy.float64(0.5)}, 'torch.from_numpy'),
            ('numpy array', {'a': numpy.zeros(3)}, 'NumPy'),
            ('argparse args', {'args': argparse.Namespace(lr=0.1)}, 'vars(args)'),
            ('whole optimizer', {'optimizer': sgd}, 'optimizer.state_dict()'),
            ('whole scheduler', {'s': torch.optim.lr_scheduler.StepLR(sgd, 1)},
             'scheduler.state_dict()')]:
        path = work(what.replace(' ', '_') + '.pt')
        torch.save(obj, path)
        r = wick('inspect', path)
        expect_file_error('inspect: ' + what, r, path, phrase)
        R.check('inspect: %s: names the global and its offset' % what,
                'unsupported global' in r.err and 'at byte' in r.err, r)
    # The module file is fine for torch itself: the refusal is wick's choice, not a bad file.
    R.check('torch loads the module file', isinstance(torch.load(module), torch.nn.Linear))
    del interop


def many_tensors_file(path, n, numel, metadata=0):
    """A safetensors file of n float32 tensors of numel zeros and `metadata` entries."""
    header = collections.OrderedDict()
    if metadata:
        header['__metadata__'] = {'m%d' % i: 'v' for i in range(metadata)}
    for i in range(n):
        header['t%07d' % i] = {'dtype': 'F32', 'shape': [numel],
                               'data_offsets': [4 * numel * i, 4 * numel * (i + 1)]}
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    return write(path, struct.pack('<Q', len(text)) + text + bytes(4 * numel * n))


def ints_pt_file(path, n):
    """A torch.save-style archive of a list of n ints (no torch needed)."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', pickle.dumps(list(range(n)), protocol=2))
        z.writestr('archive/version', b'3\n')
    return path


def group_complexity():
    """Every subcommand takes near-linear time: inputs of n and 8n entries, the
    fastest of three runs each, must not differ by more than 16x (a quadratic
    path gives 64x). WICK_COMPLEXITY_SCALE divides n (sanitizer builds)."""
    os.makedirs(WORK)
    scale = int(os.environ.get('WICK_COMPLEXITY_SCALE', '1'))

    def seconds(args):
        best = 1e30
        for _ in range(3):
            start = time.perf_counter()
            r = wick(*args)
            best = min(best, time.perf_counter() - start)
            R.check('complexity: wick %s succeeds' % ' '.join(map(str, args)), r.rc in (0, 1), r)
        return best

    def near_linear(name, n, make, args):
        n = max(n // scale, 16)
        small, big = make(n, 'small'), make(8 * n, 'big')
        for attempt in range(2):  # a second round only after a failure (a load spike)
            t1, t8 = seconds(args(small)), seconds(args(big))
            print('%s: n = %d: %.3f s, 8n: %.3f s (x%.1f)' % (name, n, t1, t8, t8 / t1))
            if t8 < 16 * max(t1, 0.005):
                break
        R.check('complexity: ' + name, t8 < 16 * max(t1, 0.005),
                'n = %d: %.3f s, 8n: %.3f s' % (n, t1, t8))

    out = work('out.safetensors')
    near_linear('convert a list of ints to safetensors', 12000,
                lambda n, tag: ints_pt_file(work('ints_%s.pt' % tag), n),
                lambda f: ['convert', f, out])
    near_linear('inspect one-element tensors', 3000,
                lambda n, tag: many_tensors_file(work('one_%s.safetensors' % tag), n, 1),
                lambda f: ['inspect', f])
    near_linear('inspect --json one-element tensors', 3000,
                lambda n, tag: many_tensors_file(work('one_%s.safetensors' % tag), n, 1),
                lambda f: ['inspect', '--json', f])
    near_linear('verify zero-sized tensors', 3000,
                lambda n, tag: many_tensors_file(work('zero_%s.safetensors' % tag), n, 0),
                lambda f: ['verify', f])
    near_linear('inspect metadata entries', 8000,
                lambda n, tag: many_tensors_file(work('meta_%s.safetensors' % tag), 0, 0, n),
                lambda f: ['inspect', f])
    near_linear('diff one-element tensors', 2000,
                lambda n, tag: many_tensors_file(work('one_%s.safetensors' % tag), n, 1),
                lambda f: ['diff', f, f])

    def tensors_pt(n, tag):
        st = many_tensors_file(work('t_%s.safetensors' % tag), n, 1)
        pt = work('t_%s.pt' % tag)
        wick('convert', st, pt)
        return pt
    near_linear('convert tensors from .pt to safetensors', 1500, tensors_pt,
                lambda f: ['convert', f, out])
    near_linear('verify a .pt of tensors', 1500, tensors_pt, lambda f: ['verify', f])


def group_interrupt():
    """SIGINT or SIGTERM during `wick convert` removes its temporary file and
    leaves OUT as it was. WICK_TEST_STALL_CONVERT_WRITE makes convert stall
    once its temporary file is being written, so the signal comes mid-write."""
    import signal
    os.makedirs(WORK)
    src = many_tensors_file(work('in.safetensors'), 200, 1000)
    for sig in (signal.SIGINT, signal.SIGTERM):
        for ext in ('pt', 'safetensors'):
            name = '%s during convert to .%s' % (signal.Signals(sig).name, ext)
            out = write(work('out.' + ext), b'keep me')
            env = dict(os.environ, WICK_TEST_STALL_CONVERT_WRITE='1')
            proc = subprocess.Popen([WICK, 'convert', src, out], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            temp = None
            for _ in range(1000):
                temps = [f for f in os.listdir(WORK) if f.startswith('.out.%s.tmp-' % ext)]
                if temps:
                    temp = temps[0]
                    break
                time.sleep(0.01)
            R.check(name + ': the temporary file appears', temp is not None)
            proc.send_signal(sig)
            try:
                rc = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            R.check(name + ': ended by the signal', rc == -sig, 'rc %s' % rc)
            no_leftovers(name + ': no temporary file', WORK,
                         {'in.safetensors', 'out.pt', 'out.safetensors'})
            expect_unchanged(name + ': OUT unchanged', out, b'keep me')
    # Without a signal the same convert completes.
    out = work('out.safetensors')
    R.check('convert completes without a signal', wick('convert', src, out).rc == 0)
    R.check('the converted file is whole', read_safetensors(out)[0].keys() == set(
        't%07d' % i for i in range(200)))

# ---- the dtypes PyTorch 2.x added, without torch ---------------------------------------------

# (exponent bits, mantissa bits, bias, special) of each float8 format, for decoding by the
# formats' definitions (docs/formats.md §7.2).
FLOAT8 = {'float8_e4m3fn': (4, 3, 7, 'fn'), 'float8_e5m2': (5, 2, 15, 'ieee'),
          'float8_e4m3fnuz': (4, 3, 8, 'fnuz'), 'float8_e5m2fnuz': (5, 2, 16, 'fnuz')}


def float8_value(dtype, b):
    e_bits, m_bits, bias, special = FLOAT8[dtype]
    e, m = (b >> m_bits) & ((1 << e_bits) - 1), b & ((1 << m_bits) - 1)
    if (special == 'fnuz' and b == 0x80) or (special == 'fn' and b & 0x7f == 0x7f) or (
            special == 'ieee' and e == (1 << e_bits) - 1 and m):
        return math.nan
    if special == 'ieee' and e == (1 << e_bits) - 1:
        v = math.inf
    elif e == 0:
        v = math.ldexp(m, 1 - bias - m_bits)
    else:
        v = math.ldexp(m + (1 << m_bits), e - bias - m_bits)
    return -v if b & 0x80 else v


def pt_tensors(path):
    """{name: (dtype, raw bytes)} of a flat dict of tensors in a .pt file, read without torch
    or wick: each tensor must cover its whole storage record, contiguously."""
    z = zipfile.ZipFile(path)
    folder = z.namelist()[0].split('/')[0]

    def rebuild(storage, offset, size, stride, *rest):
        dtype = rest[2] if len(rest) > 2 else storage[0]
        data = z.read('%s/data/%s' % (folder, storage[1]))
        want = [math.prod(size[i + 1:]) for i in range(len(size))]
        assert offset == 0 and list(stride) == want and len(data) == math.prod(size) * \
            ELEMENT_SIZE[dtype], (offset, stride, len(data))
        return dtype, data

    typed = {'FloatStorage': 'float32', 'DoubleStorage': 'float64', 'HalfStorage': 'float16',
             'BFloat16Storage': 'bfloat16', 'CharStorage': 'int8', 'ShortStorage': 'int16',
             'IntStorage': 'int32', 'LongStorage': 'int64', 'ByteStorage': 'uint8',
             'BoolStorage': 'bool', 'ComplexFloatStorage': 'complex64',
             'ComplexDoubleStorage': 'complex128'}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ('collections', 'OrderedDict'):
                return collections.OrderedDict
            if module == 'torch._utils' and name.startswith('_rebuild_tensor_v'):
                return rebuild
            if module in ('torch', 'torch.storage') and name in typed:
                return typed[name]
            if (module, name) == ('torch.storage', 'UntypedStorage'):
                return 'untyped'
            if module == 'torch' and name in ELEMENT_SIZE:
                return name
            raise pickle.UnpicklingError('unexpected global %s.%s' % (module, name))

        def persistent_load(self, pid):
            return (pid[1], pid[2])

    return dict(Reader(io.BytesIO(z.read(folder + '/data.pkl'))).load())


def group_new_dtypes():
    os.makedirs(WORK)
    src = os.path.join(FIXTURES, 'new_dtypes.pt')
    orig = pt_tensors(src)
    R.check('new_dtypes: read without torch', sorted(orig) == sorted(
        ['float8_e4m3fn', 'float8_e5m2', 'uint16', 'uint32', 'uint64', 'int8', 'complex128'])
        and all(orig[n][0] == n for n in orig if n != 'int8'),
        {n: d for n, (d, _) in orig.items()})
    # --dtype float32: the float8 tensors are decoded, the others written as they are.
    f32 = work('new_dtypes_f32.pt')
    r = wick('convert', src, f32, '--dtype', 'float32')
    R.check('new_dtypes: convert --dtype float32', r.rc == 0 and r.err == '', r)
    got = pt_tensors(f32)
    for n in ('float8_e4m3fn', 'float8_e5m2'):
        dtype, blob = got.get(n, (None, b''))
        vals = list(struct.unpack('<%df' % (len(blob) // 4), blob))
        want = [float8_value(n, b) for b in orig[n][1]]
        R.check('new_dtypes --dtype float32: %s decoded' % n, dtype == 'float32' and vals == want,
                '%s %s vs %s' % (dtype, vals, want))
    for n in ('uint16', 'uint32', 'uint64', 'int8'):
        R.check('new_dtypes --dtype float32: %s untouched' % n, got.get(n) == orig[n])
    # And back to float8: the e4m3fn values are exact in float32, so their bytes return.
    back = work('new_dtypes_back.pt')
    r = wick('convert', f32, back, '--dtype', 'float8_e4m3fn')
    R.check('new_dtypes: convert --dtype float8_e4m3fn', r.rc == 0 and r.err == '', r)
    got = pt_tensors(back)
    R.check('new_dtypes: float32 -> float8_e4m3fn round trip',
            got.get('float8_e4m3fn') == orig['float8_e4m3fn'], got.get('float8_e4m3fn'))
    R.check('new_dtypes: e5m2 cast to e4m3fn', got.get('float8_e5m2', ('',))[0] == 'float8_e4m3fn')
    # diff: equal to itself; a dtype change; value changes in float8 and unsigned tensors.
    r = wick('diff', src, src)
    R.check('new_dtypes: diff with itself', r.rc == 0 and r.out == 'A and B are equal (7 entries)\n',
            r)
    r = wick('diff', src, f32)
    R.check('new_dtypes: diff names the dtype change', r.rc == 1 and
            'dtype differs: float8_e4m3fn: float8_e4m3fn vs float32' in r.out.splitlines(), r)
    # safetensors (which has no complex128): the others, written here without wick, convert
    # to .pt and back under their safetensors names.
    names = [n for n in orig if n != 'complex128']
    header, data, off = collections.OrderedDict(), b'', 0
    for n in names:
        header[n] = {'dtype': ST_CODE[orig[n][0]], 'shape': [4, 3],
                     'data_offsets': [off, off + len(orig[n][1])]}
        data += orig[n][1]
        off += len(orig[n][1])
    head = json.dumps(header).encode()
    st = write(work('new_dtypes.safetensors'), struct.pack('<Q', len(head)) + head + data)
    pt = work('from_safetensors.pt')
    r = wick('convert', st, pt)
    R.check('new_dtypes: safetensors -> pt', r.rc == 0, r)
    got = pt_tensors(pt) if r.rc == 0 else {}
    R.check('new_dtypes: safetensors -> pt keeps dtypes and bytes',
            all(got.get(n) == orig[n] for n in names), got)
    again = work('again.safetensors')
    r = wick('convert', pt, again)
    R.check('new_dtypes: pt -> safetensors', r.rc == 0, r)
    if r.rc == 0:
        h2, _, d2 = read_safetensors(again)
        R.check('new_dtypes: safetensors names U16 U32 U64 F8_E4M3 F8_E5M2',
                {n: h2[n]['dtype'] for n in h2} == {n: header[n]['dtype'] for n in names} and
                all(st_tensor_bytes(h2, d2, n) == orig[n][1] for n in names), h2)
    r = wick('diff', src, st)
    R.check('new_dtypes: diff .pt with .safetensors', r.rc == 1 and
            r.out.splitlines()[:1] == ['only in A: complex128'] and
            not any(x.startswith('values differ') for x in r.out.splitlines()), r)
    raw = bytearray(read(st))
    base = 8 + len(head)
    edits = {'float8_e4m3fn': (5, 0x01), 'uint64': (8 * 7, 0xff), 'uint16': (2 * 11 + 1, 0x80)}
    for n, (at, x) in edits.items():
        raw[base + header[n]['data_offsets'][0] + at] ^= x
    edited = write(work('edited.safetensors'), bytes(raw))
    r = wick('diff', st, edited)
    b8 = orig['float8_e4m3fn'][1][5]
    d8 = abs(float8_value('float8_e4m3fn', b8) - float8_value('float8_e4m3fn', b8 ^ 0x01))
    u64 = struct.unpack('<Q', orig['uint64'][1][56:64])[0]
    u16 = struct.unpack('<H', orig['uint16'][1][22:24])[0]
    want = ['values differ: float8_e4m3fn: max abs diff %r at [1, 2] (1 of 12 elements)' % d8,
            'values differ: uint16: max abs diff %d at [3, 2] (1 of 12 elements)' % (
                abs((u16 ^ 0x8000) - u16)),
            'values differ: uint64: max abs diff %d at [2, 1] (1 of 12 elements)' % (
                abs((u64 ^ 0xff) - u64))]
    R.check('new_dtypes: diff finds each changed element', r.rc == 1 and sorted(
        x for x in r.out.splitlines() if x.startswith('values differ')) == want,
        '%s\n  want %s' % (r, want))


def sharded_index(directory, weight_map, total=None, name='model.safetensors.index.json'):
    index = {'metadata': {'total_size': total} if total is not None else {},
             'weight_map': weight_map}
    return write(os.path.join(directory, name),
                 (json.dumps(index, indent=2, sort_keys=True) + '\n').encode())


def group_sharded():
    os.makedirs(WORK)
    src = os.path.join(FIXTURES, 'seed_net_state_dict.pt')
    _, exp = manifest_expected('seed_net_state_dict.pt')
    nbytes = sum(math.prod(s) * ELEMENT_SIZE[d] for _, d, s in exp.tensors)
    names = [n for n, _, _ in exp.tensors]

    # convert --max-shard-size: transformers' names, the index, the result line.
    out = work('shards')
    r = wick('convert', src, out, '--max-shard-size', '100KB')
    shards = ['model-%05d-of-00003.safetensors' % i for i in (1, 2, 3)]
    index = os.path.join(out, 'model.safetensors.index.json')
    R.check('sharded: convert --max-shard-size 100KB', r.rc == 0 and r.err == '' and r.out == (
        'wrote %s (safetensors, 3 shards, 10 tensors, %d bytes)\n' % (index, nbytes)), r)
    R.check('sharded: shard files', sorted(os.listdir(out)) == shards + [
        'model.safetensors.index.json'], os.listdir(out))
    doc = json.loads(read(index))
    R.check('sharded: index', doc['metadata'] == {'total_size': nbytes} and
            sorted(doc['weight_map']) == sorted(names) and
            set(doc['weight_map'].values()) == set(shards) and
            read(index) == (json.dumps(doc, indent=2, sort_keys=True) + '\n').encode(), doc)
    for shard in shards:
        header, meta, data = read_safetensors(os.path.join(out, shard))
        size = sum(math.prod(h['shape']) * ELEMENT_SIZE[ST_DTYPE[h['dtype']]]
                   for h in header.values())
        R.check('sharded: %s is at most 100KB or one tensor' % shard,
                meta == {'format': 'pt'} and (size <= 100000 or len(header) == 1), (meta, size))

    # inspect, verify and diff on the directory and on the index.
    sd_exp = Expected('safetensors', exp.tensors, [], {}, ordered=False)
    for path in (out, out + '/', index):
        check_inspect('sharded inspect ' + path, path, sd_exp)
        r = wick('inspect', path)
        R.check('sharded: inspect shards line %s' % path, r.out.splitlines()[2:3] == [
            'shards: 3 (index %s, total_size %d)' % (index, nbytes)], r)
        r = wick('inspect', path, '--json')
        d = json.loads(r.out) if r.rc == 0 else {}
        R.check('sharded: inspect --json adds index, total_size, shards, shard', d.get('index') ==
                index and d.get('total_size') == nbytes and [
                    (x['name'], x['file'], x['format']) for x in d.get('shards', [])] == [
                        (x, os.path.join(out, x), 'safetensors') for x in shards] and
                sum(x['tensors'] for x in d['shards']) == 10 and all(
                    doc['weight_map'][t['name']] == t['shard'] for t in d['tensors']), d)
        r = wick('verify', path)
        R.check('sharded: verify %s' % path, r.rc == 0 and r.err == '' and r.out == (
            '%s: OK (3 shards, safetensors, 10 tensors, %d bytes, total_size matches)\n' % (
                path, nbytes)), r)
        r = wick('diff', src, path)
        R.check('sharded: diff with the source %s' % path, r.rc == 0 and
                r.out == 'A and B are equal (10 entries)\n', r)
    # Back to one file, cast, into an existing directory, and to one shard.
    r = wick('convert', out, work('back.pt'))
    R.check('sharded: convert back to .pt', r.rc == 0 and r.out == (
        'wrote %s (pt-zip, 10 tensors, %d bytes)\n' % (work('back.pt'), nbytes)), r)
    r = wick('diff', src, work('back.pt'))
    R.check('sharded: .pt from shards equals the source', r.rc == 0, r)
    r = wick('convert', index, work('half') + '/', '--dtype', 'float16', '--max-shard-size', '50KB')
    R.check('sharded: shards to shards --dtype float16', r.rc == 0 and r.out == (
        'wrote %s (safetensors, 3 shards, 10 tensors, %d bytes)\n' % (
            os.path.join(work('half'), 'model.safetensors.index.json'), nbytes // 2)), r)
    os.makedirs(work('existing'))
    r = wick('convert', src, work('existing'))
    one = os.path.join(work('existing'), 'model.safetensors')
    R.check('sharded: an existing directory OUT gets model.safetensors (default 5GB)', r.rc == 0
            and r.out == 'wrote %s (safetensors, 10 tensors, %d bytes)\n' % (one, nbytes) and
            os.listdir(work('existing')) == ['model.safetensors'], r)
    r = wick('verify', work('existing'))
    R.check('sharded: a directory without an index verifies as its file', r.rc == 0 and r.out == (
        '%s: OK (safetensors, 10 tensors, %d bytes)\n' % (work('existing'), nbytes)), r)
    r = wick('inspect', work('existing'))
    R.check('sharded: a directory without an index inspects as its file', r.rc == 0 and
            'shards:' not in r.out and r.out.splitlines()[:2] == [
                'file: ' + work('existing'), 'format: safetensors'], r)
    r = wick('convert', src, work('new_dir'), '--max-shard-size', '1GiB')
    R.check('sharded: --max-shard-size makes a new directory', r.rc == 0 and
            os.listdir(work('new_dir')) == ['model.safetensors'], r)
    # Shards hold tensors only.
    adam = os.path.join(FIXTURES, 'adam_checkpoint.pt')
    expect_file_error('sharded: non-tensor entries refused',
                      wick('convert', adam, work('adam') + '/'), adam, 'shards hold tensors only')

    # Usage errors, before anything is read or written.
    for args, what in [((work('x.pt'), '--max-shard-size', '1MB'), '.pt OUT'),
                       ((work('x.safetensors'), '--max-shard-size', '1MB'), '.safetensors OUT'),
                       ((work('d'), '--max-shard-size', '1.5GB'), 'a fraction'),
                       ((work('d'), '--max-shard-size', '5TB'), 'an unknown unit'),
                       ((work('d'), '--max-shard-size', 'big'), 'no number'),
                       ((work('d'), '--max-shard-size', '0'), 'zero'),
                       ((work('d'), '--max-shard-size'), 'no value')]:
        r = wick('convert', src, *args)
        expect_usage_error('sharded: --max-shard-size with %s' % what, r, 'convert')
        R.check('sharded: %s: nothing written' % what,
                not os.path.exists(args[0]), os.listdir(WORK))

    # Broken checkpoints: verify answers FAILED (exit 1), the others refuse (exit 2).
    def broken(name, weight_map, want, files=shards, text=None):
        d = work(name)
        os.makedirs(d)
        for f in files:
            shutil.copy(os.path.join(out, f), d)
        idx = sharded_index(d, weight_map, nbytes)
        if text is not None:
            write(idx, text)
        for path in (d, idx):
            r = wick('verify', path)
            shown = idx if path == d else ''
            R.check('sharded %s: verify %s FAILED' % (name, path), r.rc == 1 and r.err == '' and
                    r.out.startswith(path + ': FAILED: ' + (shown + ': ' if shown else '')) and
                    all(w in r.out for w in want) and len(r.out.splitlines()) == 1, r)
            for cmd in (('inspect', path), ('diff', src, path), ('convert', path, work('x.pt'))):
                expect_file_error('sharded %s: %s' % (name, cmd[0]), wick(*cmd), path, want[-1])
        return d

    wm = dict(doc['weight_map'])
    broken('missing_key', dict(wm, **{'fc9.weight': shards[0]}),
           ["key 'fc9.weight'", "shard '%s'" % shards[0], 'missing from'])
    broken('unlisted_key', {k: v for k, v in wm.items() if k != 'conv1.bias'},
           ["key 'conv1.bias'", "shard '%s'" % wm['conv1.bias'], 'not in the weight_map'])
    # A shard file the index does not name is not part of the checkpoint; total_size is
    # reported, not checked.
    d = work('unnamed_shard')
    shutil.copytree(out, d)
    sharded_index(d, {k: v for k, v in wm.items() if v != shards[1]}, nbytes)
    r = wick('verify', d)
    small = nbytes - 192000
    R.check('sharded: a shard the index does not name is ignored', r.rc == 0 and r.out == (
        '%s: OK (2 shards, safetensors, 9 tensors, %d bytes, total_size in the index is %d)\n'
        % (d, small, nbytes)), r)
    # conv1.bias is in the first shard; the index says the third, which is read later.
    R.check('sharded: conv1.bias in shard 1', wm['conv1.bias'] == shards[0], wm)
    broken('wrong_shard', dict(wm, **{'conv1.bias': shards[2]}),
           ["key 'conv1.bias'", "is in shard '%s'" % shards[0],
            "but the index puts it in '%s'" % shards[2]])
    broken('missing_shard', wm, ["shard '%s'" % shards[1], 'does not exist'],
           files=[shards[0], shards[2]])
    broken('escape', dict(wm, **{'fc1.weight': '../../etc/passwd'}),
           ["shard '../../etc/passwd'", "key 'fc1.weight'", "'..' component"])
    broken('absolute', dict(wm, **{'fc1.weight': '/etc/passwd'}),
           ["shard '/etc/passwd'", "key 'fc1.weight'", 'absolute path'])
    broken('bad_json', wm, ['invalid JSON: parse error at line 1, column 22'],
           text=b'{"weight_map": {"a": }')
    broken('not_str', wm, ["the shard of key 'a' in \"weight_map\" is a number, not a string"],
           text=b'{"weight_map": {"a": 7}}')
    # A damaged shard: verify names the shard and the tensor.
    d = work('damaged')
    shutil.copytree(out, d)
    raw = bytearray(read(os.path.join(d, shards[2])))
    raw[12] = ord('!')
    write(os.path.join(d, shards[2]), bytes(raw))
    r = wick('verify', d)
    R.check('sharded: verify a damaged shard', r.rc == 1 and r.out.startswith(
        '%s: FAILED: %s: shard \'%s\': ' % (d, os.path.join(d, 'model.safetensors.index.json'),
                                            shards[2])), r)
    # No checkpoint in a directory: an error listing what was looked for.
    os.makedirs(work('empty_dir'))
    for cmd in ('inspect', 'verify'):
        expect_file_error('sharded: %s of an empty directory' % cmd,
                          wick(cmd, work('empty_dir')), work('empty_dir'),
                          'no checkpoint in this directory (looked for model.safetensors.index.json'
                          ', model.safetensors, pytorch_model.bin.index.json, pytorch_model.bin)')
    expect_file_error('sharded: verify of a missing index', wick('verify', work('none.index.json')),
                      work('none.index.json'))
    no_leftovers('sharded: no temporary files left behind', out, shards + [
        'model.safetensors.index.json'])


GROUPS = {'usage': group_usage, 'errors': group_errors, 'fixtures': group_fixtures,
          'verify': group_verify, 'new_dtypes': group_new_dtypes, 'torch_inspect': group_torch_inspect,
          'torch_convert': group_torch_convert, 'torch_diff': group_torch_diff,
          'torch_hostile': group_torch_hostile, 'complexity': group_complexity,
          'interrupt': group_interrupt, 'sharded': group_sharded}


def main():
    global WICK, WORK
    if len(sys.argv) != 4 or sys.argv[1] not in GROUPS:
        sys.exit('usage: cli_test.py {%s} WICK WORKDIR' % ','.join(GROUPS))
    WICK, WORK = os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    shutil.rmtree(WORK, ignore_errors=True)
    GROUPS[sys.argv[1]]()
    sys.exit(R.finish())


if __name__ == '__main__':
    main()
