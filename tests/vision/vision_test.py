#!/usr/bin/python3
"""Image input and the vision examples against PIL and torchvision 0.14.

    vision_test.py GROUP BIN_DIR WORKDIR

BIN_DIR holds wick_vision_interop, classify, vision_infer and finetune.
GROUP is one of:
    decode      JPEGs and PNGs of every kind written by PIL (and, for what PIL
                cannot write, by a small encoder here) decoded by wick as PIL's
                Image.open(f).convert('RGB') decodes them; damaged and hostile
                files refused with exit 2 and a message naming the file
    transforms  resize (bilinear and bicubic, up, down, odd, non-square, uint8
                and float), the shorter-side resize, center_crop (with padding)
                and to_float + normalize against torchvision.transforms.functional
    classify    classify on a PIL-made image against torchvision's own eval of
                the same preprocessing (resnet18, random weights); a 10-class
                checkpoint; wrong architecture, unknown architecture, bad images
    infer       vision_infer against torchvision's logits: resnet18 weights in
                float32, float16 and safetensors; MobileNetV3 in bfloat16 (legacy
                format), ShuffleNet (safetensors), EfficientNet (float16); bad
                inputs
    finetune    a finetune run with a tiny --limit, its checkpoint loaded by
                PyTorch, resumed with the backbone unfrozen, loaded again
    meta        src/models/imagenet_data.inc is what scripts/gen_imagenet_meta.py
                writes now

Each group prints one FAIL line per failed check and exits 1 if any failed.
"""
import io
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import warnings
import zlib

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from results import Results  # noqa: E402  (tests/results.py)

warnings.filterwarnings('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
BIN = WORK = None
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


R = Results()


class Run:
    def __init__(self, args, proc):
        self.args, self.rc = args, proc.returncode
        self.out = proc.stdout.decode('utf-8', 'replace')
        self.err = proc.stderr.decode('utf-8', 'replace')

    def __str__(self):
        return '%s -> rc %s\n  stdout: %r\n  stderr: %r' % (
            ' '.join(self.args), self.rc, self.out[-2000:], self.err[-2000:])


def run(program, *args, timeout=300):
    args = [os.path.join(BIN, program)] + [str(a) for a in args]
    r = Run(args, subprocess.run(args, capture_output=True, timeout=timeout))
    R.check('no signal: %s' % ' '.join(args[:3]), r.rc >= 0, r)
    return r


def work(*parts):
    return os.path.join(WORK, *parts)


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
    return path


def expect_error(name, r, path, phrase):
    """Exit 2, nothing on stdout, one stderr line naming `path` and containing `phrase`."""
    lines = r.err.strip().splitlines()
    ok = r.rc == 2 and r.out == '' and len(lines) == 1 and path in lines[0] and phrase in lines[0]
    return R.check(name, ok, '%s\n  want exit 2 and one line naming %r with %r' % (r, path, phrase))


# ---- images --------------------------------------------------------------------------------


def smooth_image(h, w, seed=0):
    """A smooth RGB picture (JPEG keeps it well) with a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255.0 / max(w - 1, 1), y * 255.0 / max(h - 1, 1),
                    127.5 + 127.5 * np.sin((x + 2 * y) / 7.0)], -1)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def encode_png(rows, width, height, color_type, depth, palette=None, trns=None, interlace=False):
    """A PNG from sample rows (numpy [height, width * channels] of ints), for the kinds PIL
    does not write: 16-bit colour, 2/4-bit grey, Adam7 interlacing."""
    def pack(row):
        if depth == 16:
            return b''.join(struct.pack('>H', int(v)) for v in row)
        if depth == 8:
            return bytes(int(v) for v in row)
        per = 8 // depth
        out = bytearray()
        for i in range(0, len(row), per):
            byte = 0
            for j, v in enumerate(row[i:i + per]):
                byte |= int(v) << (8 - depth * (j + 1))
            out.append(byte)
        return bytes(out)

    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    rows = np.asarray(rows).reshape(height, width, channels)
    raw = b''
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            sub = rows[y0::dy, x0::dx]
            if sub.size:
                raw += b''.join(b'\0' + pack(r.reshape(-1)) for r in sub)
    else:
        raw = b''.join(b'\0' + pack(r.reshape(-1)) for r in rows)
    data = b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack(
        '>IIBBBBB', width, height, depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        data += png_chunk(b'PLTE', bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        data += png_chunk(b'tRNS', trns)
    return data + png_chunk(b'IDAT', zlib.compress(raw)) + png_chunk(b'IEND', b'')


def decode(path):
    """wick's decode of `path` as uint8 [H, W, 3], or the Run on failure."""
    out = work('decoded.pt')
    if os.path.exists(out):
        os.remove(out)
    r = run('wick_vision_interop', 'decode', path, out)
    if r.rc != 0:
        return r
    t = torch.load(out)
    return t.permute(1, 2, 0).numpy()


def pil_rgb(path):
    return np.asarray(Image.open(path).convert('RGB'))


def check_decode(name, path, want, tolerance=0):
    got = decode(path)
    if isinstance(got, Run):
        return R.check('decode %s' % name, False, got)
    ok = got.shape == want.shape
    diff = int(np.abs(got.astype(int) - want.astype(int)).max()) if ok else None
    R.check('decode %s' % name, ok and diff <= tolerance,
            'shape %s vs %s, max diff %s (tolerance %d)' % (got.shape, want.shape, diff,
                                                            tolerance))
    return diff


def group_decode():
    os.makedirs(WORK)
    img = smooth_image(37, 53)
    # JPEG: PIL and wick both use Debian's libjpeg-turbo with its defaults, so the pixels
    # should agree exactly; one level of tolerance allows another libjpeg build.
    jpeg_diffs = []
    for name, kw, mode in [('q90 4:2:0', dict(quality=90), 'RGB'),
                           ('q95 4:4:4', dict(quality=95, subsampling=0), 'RGB'),
                           ('4:2:2', dict(quality=85, subsampling=1), 'RGB'),
                           ('progressive', dict(quality=80, progressive=True), 'RGB'),
                           ('optimized', dict(quality=70, optimize=True), 'RGB'),
                           ('greyscale', dict(quality=90), 'L')]:
        path = work(name.replace(' ', '_').replace(':', '') + '.jpg')
        Image.fromarray(img).convert(mode).save(path, **kw)
        jpeg_diffs.append(check_decode('JPEG ' + name, path, pil_rgb(path), tolerance=1))
    big = work('odd_size.jpg')
    Image.fromarray(smooth_image(301, 199, seed=1)).save(big, quality=88)
    jpeg_diffs.append(check_decode('JPEG 199x301', big, pil_rgb(big), tolerance=1))
    print('JPEG: max difference to PIL %s levels' % max(d for d in jpeg_diffs if d is not None))

    # PNG: exact, for every kind PIL writes.
    rgba = np.dstack([img, (np.arange(37 * 53) % 256).reshape(37, 53).astype(np.uint8)])
    kinds = {
        'RGB': Image.fromarray(img),
        'RGBA': Image.fromarray(rgba, 'RGBA'),
        'L': Image.fromarray(img).convert('L'),
        'LA': Image.fromarray(rgba, 'RGBA').convert('LA'),
        'P': Image.fromarray(img).convert('P', palette=Image.ADAPTIVE, colors=37),
        '1-bit': Image.fromarray(img).convert('1'),
        'I;16': Image.fromarray((img[..., 0].astype(np.uint16) * 257 // 3), 'I;16'),
    }
    for name, im in kinds.items():
        path = work('kind_%s.png' % name.replace(';', ''))
        im.save(path)
        want = pil_rgb(path)
        if name == 'I;16':
            # PIL clips 16-bit grey to 255; wick keeps the high byte, as PIL does for
            # 16-bit colour.
            want = np.repeat((np.asarray(Image.open(path), np.int64) >> 8).astype(np.uint8)
                             [..., None], 3, 2)
        check_decode('PNG ' + name, path, want)
    path = work('palette_trns.png')
    pal = Image.fromarray(img).convert('P', palette=Image.ADAPTIVE, colors=16)
    pal.save(path, transparency=3)
    check_decode('PNG palette with tRNS', path, pil_rgb(path))

    # Kinds PIL cannot write, from the encoder above; PIL reads them.
    rng = np.random.default_rng(5)
    rgb16 = rng.integers(0, 65536, (9, 11, 3))
    cases = {
        '16-bit RGB': encode_png(rgb16, 11, 9, 2, 16),
        '16-bit RGBA': encode_png(np.dstack([rgb16, rgb16[..., :1]]), 11, 9, 6, 16),
        '2-bit grey': encode_png(rng.integers(0, 4, (9, 11)), 11, 9, 0, 2),
        '4-bit grey': encode_png(rng.integers(0, 16, (9, 11)), 11, 9, 0, 4),
        '4-bit palette': encode_png(rng.integers(0, 16, (9, 11)), 11, 9, 3, 4,
                                    palette=rng.integers(0, 256, (16, 3))),
        'interlaced RGB': encode_png(img, 53, 37, 2, 8, interlace=True),
        'interlaced grey 16-bit': encode_png(rng.integers(0, 65536, (13, 10)), 10, 13, 0, 16,
                                             interlace=True),
        'RGB with tRNS': encode_png(img, 53, 37, 2, 8, trns=struct.pack('>HHH', 1, 2, 3)),
    }
    for name, data in cases.items():
        path = write(work(name.replace(' ', '_') + '.png'), data)
        want = pil_rgb(path)
        if name == 'interlaced grey 16-bit':
            want = np.repeat((np.asarray(Image.open(path), np.int64) >> 8).astype(np.uint8)
                             [..., None], 3, 2)
        check_decode('PNG ' + name, path, want)
    R.check('16-bit RGB keeps the high byte', np.array_equal(
        decode(work('16-bit_RGB.png')), (rgb16 >> 8).astype(np.uint8)), '')

    # Damaged and hostile files: exit 2, one line naming the file and the problem.
    good_jpg, good_png = work('q90_420.jpg'), work('kind_RGB.png')
    jpg, png = open(good_jpg, 'rb').read(), open(good_png, 'rb').read()
    hostile = [
        ('truncated JPEG', write(work('truncated.jpg'), jpg[:len(jpg) // 2]), 'truncated JPEG'),
        ('JPEG cut in its header', write(work('header_cut.jpg'), jpg[:40]), 'JPEG'),
        ('truncated PNG', write(work('truncated.png'), png[:len(png) // 2]), 'truncated PNG'),
        ('PNG without IEND', write(work('no_iend.png'), png[:-12]), 'truncated PNG'),
        ('text named .jpg', write(work('text.jpg'), b'this is not an image\n'),
         'not a JPEG or PNG image'),
        ('zero-byte file', write(work('empty.png'), b''), 'empty file'),
        ('missing file', work('no_such.jpg'), 'cannot open'),
        ('directory', work(), 'not a regular file'),
    ]
    gif = work('image.gif')
    Image.fromarray(img).save(gif)
    hostile.append(('GIF', gif, 'GIF images are not supported'))
    # A bad CRC in IDAT (critical) and in a tEXt chunk (ancillary): both refused.
    idat = png.index(b'IDAT')
    length = struct.unpack('>I', png[idat - 4:idat])[0]
    crc_at = idat + 4 + length
    bad = bytearray(png)
    bad[crc_at] ^= 0x55  # the data is intact, its CRC is not
    hostile.append(('PNG with a bad IDAT CRC', write(work('bad_crc.png'), bytes(bad)),
                    'IDAT: CRC error'))
    bad = bytearray(png)
    bad[idat + 4 + 10] ^= 0x55  # damaged data: zlib notices before the CRC is read
    hostile.append(('PNG with damaged IDAT data', write(work('bad_idat.png'), bytes(bad)),
                    'corrupt PNG'))
    text = png_chunk(b'tEXt', b'Comment\0hello')
    text = text[:-4] + bytes(b ^ 0xff for b in text[-4:])
    hostile.append(('PNG with a bad tEXt CRC', write(work('bad_text_crc.png'), png[:33] + text +
                                                     png[33:]), 'CRC'))
    # Huge declared sizes, refused before allocating: 100000 x 100000 PNG, 65000 x 65000 JPEG.
    ihdr = struct.pack('>IIBBBBB', 100000, 100000, 8, 2, 0, 0, 0)
    huge_png = png[:8] + png_chunk(b'IHDR', ihdr) + png[33:]
    hostile.append(('PNG of 10^10 pixels', write(work('huge.png'), huge_png), 'larger than'))
    sof = jpg.index(b'\xff\xc0')
    huge_jpg = jpg[:sof + 5] + struct.pack('>HH', 65000, 65000) + jpg[sof + 9:]
    hostile.append(('JPEG of 65000 x 65000', write(work('huge.jpg'), huge_jpg), 'larger than'))
    cmyk = work('cmyk.jpg')
    Image.fromarray(img).convert('CMYK').save(cmyk, quality=90)
    hostile.append(('CMYK JPEG', cmyk, 'CMYK JPEGs are not supported'))
    for name, path, phrase in hostile:
        start = time.time()
        r = run('wick_vision_interop', 'decode', path, work('never.pt'))
        expect_error('decode refuses %s' % name, r, path, phrase)
        R.check('%s refused quickly' % name, time.time() - start < 10, time.time() - start)


# ---- transforms ----------------------------------------------------------------------------


def wick_transform(command, tensor, *args):
    src, dst = work('in.pt'), work('out.pt')
    torch.save(tensor, src)
    r = run('wick_vision_interop', command, src, dst, *args)
    if not R.check('%s %s runs' % (command, ' '.join(map(str, args))), r.rc == 0, r):
        return None
    return torch.load(dst)


def group_transforms():
    os.makedirs(WORK)
    gen = torch.Generator().manual_seed(0)
    modes = {'bilinear': InterpolationMode.BILINEAR, 'bicubic': InterpolationMode.BICUBIC}
    worst = {'uint8': 0, 'float32': 0.0}
    cases = [((3, 37, 53), (24, 24)),     # down, non-square to square
             ((3, 37, 53), (100, 77)),    # up
             ((3, 300, 451), (224, 301)), # down, odd, non-square
             ((3, 300, 451), (301, 97)),  # down in one dim, barely in the other
             ((2, 3, 20, 17), (33, 9)),   # a batch; up in one dim, down in the other
             ((3, 5, 7), (64, 96)),       # large upscale of a tiny image
             ((1, 28, 28), (64, 64))]     # Fashion-MNIST to finetune's default size
    for shape, (h, w) in cases:
        img = torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen)
        for mode, im in modes.items():
            for dtype in ('uint8', 'float32'):
                x = img if dtype == 'uint8' else img.float() / 255
                got = wick_transform('resize', x, h, w, mode)
                want = F.resize(x, [h, w], im, antialias=True)
                if got is None:
                    continue
                ok = got.dtype == want.dtype and got.shape == want.shape
                diff = (got.double() - want.double()).abs().max().item() if ok else None
                worst[dtype] = max(worst[dtype], diff or 0)
                limit = 1 if dtype == 'uint8' else 1e-5
                R.check('resize %s %s -> %s %s' % (dtype, list(shape), [h, w], mode),
                        ok and diff <= limit, '%s %s vs %s %s, max diff %s' % (
                            got.dtype, list(got.shape), want.dtype, list(want.shape), diff))
    print('resize: max difference to torchvision %d levels (uint8), %.2e (float32)' % (
        worst['uint8'], worst['float32']))
    # Shorter side: the output size as torchvision computes it, and the pixels.
    for shape, size in [((3, 333, 500), 256), ((3, 500, 333), 256), ((3, 479, 640), 232),
                        ((3, 256, 999), 256), ((3, 17, 19), 224)]:
        img = torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen)
        got = wick_transform('resize_short', img, size, 'bilinear')
        want = F.resize(img, size, antialias=True)
        ok = got is not None and got.shape == want.shape
        R.check('resize shorter side %s to %d' % (list(shape), size), ok and (
            got.int() - want.int()).abs().max().item() <= 1,
            '%s vs %s' % (None if got is None else list(got.shape), list(want.shape)))
    # center_crop: exact, with torchvision's rounding of odd margins and its zero padding.
    for shape, (h, w) in [((3, 256, 341), (224, 224)), ((3, 255, 257), (224, 224)),
                          ((3, 225, 227), (224, 224)), ((3, 10, 30), (16, 16)),
                          ((3, 9, 9), (16, 12)), ((2, 3, 40, 41), (13, 14)), ((3, 5, 5), (5, 5))]:
        img = torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen)
        got = wick_transform('center_crop', img, h, w)
        want = F.center_crop(img, [h, w])
        R.check('center_crop %s to %s' % (list(shape), [h, w]),
                got is not None and got.shape == want.shape and torch.equal(got, want),
                '%s vs %s' % (None if got is None else list(got.shape), list(want.shape)))
    # to_float + normalize: exact.
    img = torch.randint(0, 256, (2, 3, 31, 17), dtype=torch.uint8, generator=gen)
    got = wick_transform('normalize', img)
    want = F.normalize(F.convert_image_dtype(img, torch.float), MEAN, STD)
    R.check('to_float + normalize equal torchvision', got is not None and torch.equal(got, want),
            'max diff %s' % (None if got is None else (got - want).abs().max().item()))


# ---- classify ------------------------------------------------------------------------------


def torchvision_eval(model, path, resize=256, crop=224):
    img = F.pil_to_tensor(Image.open(path).convert('RGB'))
    x = F.resize(img, resize, antialias=True)
    x = F.center_crop(x, crop)
    x = F.normalize(F.convert_image_dtype(x, torch.float), MEAN, STD)
    with torch.no_grad():
        return model.eval()(x[None]).softmax(1)[0]


ROW = re.compile(r'^\s*(\d+)\s+([0-9.]+)\s+(\d+)\s*(.*)$')


def parse_classify(text):
    """{image: [(index, probability, name)]} from classify's output."""
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        m = ROW.match(line)
        if m and current is not None:
            out[current].append((int(m.group(3)), float(m.group(2)), m.group(4)))
        else:
            current = line.rsplit(' (', 1)[0]
            out[current] = []
    return out


def check_topk(name, rows, probs, k=5):
    """Same classes as torchvision's top-k (ties within 1e-5 may swap), each probability
    within 1e-4 of torchvision's."""
    want = probs.topk(k)
    ok = len(rows) == k
    for r, (index, p, _) in enumerate(rows):
        ok = ok and abs(p - probs[index].item()) <= 1e-4
        ok = ok and (index == want.indices[r].item() or
                     abs(probs[index].item() - want.values[r].item()) <= 1e-5)
    R.check(name, ok, 'wick %s\n  torchvision %s' % (rows, list(zip(
        want.indices.tolist(), [round(v, 6) for v in want.values.tolist()]))))


def group_classify():
    os.makedirs(WORK)
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    weights = work('resnet18.pth')
    torch.save(model.state_dict(), weights)
    png, jpg = work('picture.png'), work('photo.jpg')
    Image.fromarray(smooth_image(300, 400, seed=2)).save(png)
    Image.fromarray(smooth_image(333, 250, seed=3)).save(jpg, quality=90)
    start = time.time()
    r = run('classify', '--arch', 'resnet18', '--weights', weights, png, jpg)
    print('classify of 2 images: %.1f s' % (time.time() - start))
    if R.check('classify runs', r.rc == 0 and r.err == '', r):
        got = parse_classify(r.out)
        R.check('classify prints both images', list(got) == [png, jpg], got)
        names = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta['categories']
        for path in (png, jpg):
            rows = got.get(path, [])
            check_topk('classify %s: top-5 as torchvision' % os.path.basename(path), rows,
                       torchvision_eval(model, path))
            R.check('classify %s: ImageNet names' % os.path.basename(path),
                    all(n == names[i] for i, _, n in rows), rows)
        R.check('classify names its preprocessing', 'resize 256 (bilinear, antialiased), '
                'center crop 224' in r.out, r.out)

    # Another class count: indices only; float16 weights; --topk.
    torch.manual_seed(1)
    small = torchvision.models.resnet18(num_classes=10)
    half = work('resnet18_10_half.pth')
    torch.save(small.half().state_dict(), half)
    small.float().load_state_dict(torch.load(half))
    r = run('classify', '--arch', 'resnet18', '--weights', half, '--topk', '3', png)
    if R.check('classify a 10-class float16 checkpoint', r.rc == 0, r):
        rows = parse_classify(r.out).get(png, [])
        check_topk('classify 10 classes: top-3 as torchvision', rows,
                   torchvision_eval(small, png), k=3)
        R.check('classify 10 classes: indices, no names', all(n == '' for *_, n in rows) and
                '10 classes' in r.out, r.out)

    # Wrong architecture: names the first mismatching key and suggests the right one.
    torch.manual_seed(2)
    r34 = work('resnet34.pth')
    torch.save(torchvision.models.resnet34().state_dict(), r34)
    r = run('classify', '--arch', 'resnet18', '--weights', r34, png)
    expect_error('classify resnet34 weights as resnet18', r, r34, "'layer1.2.conv1.weight'")
    R.check('classify suggests resnet34', "fit 'resnet34'" in r.err, r)
    vgg = work('alexnet.pth')
    torch.save(torchvision.models.alexnet().state_dict(), vgg)
    r = run('classify', '--arch', 'resnet18', '--weights', vgg, png)
    expect_error('classify alexnet weights as resnet18', r, vgg, "fit 'alexnet'")
    # Same keys, other shapes: a shape mismatch is named.
    odd = torchvision.models.resnet18().state_dict()
    odd['conv1.weight'] = torch.zeros(64, 3, 5, 5)
    odd_path = work('odd_conv1.pth')
    torch.save(odd, odd_path)
    r = run('classify', '--arch', 'resnet18', '--weights', odd_path, png)
    expect_error('classify a shape mismatch', r, odd_path,
                 'conv1.weight: [64, 3, 5, 5] in the state_dict, [64, 3, 7, 7] in the model')
    R.check('classify: no architecture fits', 'no known architecture fits' in r.err, r)
    r = run('classify', '--arch', 'resnet5', '--weights', weights, png)
    expect_error('classify an unknown architecture', r, 'resnet5', "did you mean 'resnet50'")

    # Bad images and files: exit 2 naming the file.
    text = write(work('notes.jpg'), b'not an image')
    r = run('classify', '--arch', 'resnet18', '--weights', weights, png, text)
    expect_error('classify a text file named .jpg', r, text, 'not a JPEG or PNG image')
    cut = write(work('cut.png'), open(png, 'rb').read()[:500])
    r = run('classify', '--arch', 'resnet18', '--weights', weights, cut)
    expect_error('classify a truncated PNG', r, cut, 'truncated PNG')
    r = run('classify', '--arch', 'resnet18', '--weights', work('none.pth'), png)
    expect_error('classify missing weights', r, work('none.pth'), 'none.pth')
    r = run('classify', '--arch', 'resnet18', '--weights', png, png)
    expect_error('classify an image as weights', r, png, png)
    r = run('classify', '--arch', 'resnet18', png)
    R.check('classify without --weights: usage error, exit 2', r.rc == 2 and r.out == '' and
            '--weights' in r.err, r)


# ---- vision_infer --------------------------------------------------------------------------


def save_safetensors(sd, path):
    """A safetensors file of a state_dict (the format is small; no package needed)."""
    codes = {torch.float32: 'F32', torch.float16: 'F16', torch.int64: 'I64'}
    header, blobs, offset = {}, [], 0
    for k, t in sd.items():
        data = t.contiguous().numpy().tobytes()
        header[k] = {'dtype': codes[t.dtype], 'shape': list(t.shape),
                     'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    head += b' ' * (-len(head) % 8)
    write(path, struct.pack('<Q', len(head)) + head + b''.join(blobs))


def group_infer():
    os.makedirs(WORK)
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    with torch.no_grad():  # statistics away from their defaults, so that eval mode matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    images = torch.randn(3, 3, 64, 80)
    torch.save(images, work('images.pt'))
    f32, f16, st = work('r18.pth'), work('r18_half.pth'), work('r18.safetensors')
    torch.save(model.state_dict(), f32)
    torch.save({k: v.half() if v.is_floating_point() else v
                for k, v in model.state_dict().items()}, f16)
    save_safetensors(model.state_dict(), st)
    half_model = torchvision.models.resnet18().eval()
    half_model.load_state_dict(torch.load(f16))  # the rounded weights, in float32
    for name, weights, reference in [('float32', f32, model), ('float16', f16, half_model),
                                     ('safetensors', st, model)]:
        out = work('logits_%s.pt' % name)
        start = time.time()
        r = run('vision_infer', 'resnet18', weights, work('images.pt'), out)
        if not R.check('vision_infer %s runs' % name, r.rc == 0, r):
            continue
        got = torch.load(out)
        with torch.no_grad():
            want = reference(images)
        scale = want.abs().max().item()
        diff = (got - want).abs().max().item() if got.shape == want.shape else None
        R.check('vision_infer %s: logits as torchvision' % name,
                got.dtype == torch.float32 and diff is not None and diff <= 1e-4 * scale,
                '%s %s vs %s, max diff %s (scale %.3g)' % (got.dtype, list(got.shape),
                                                           list(want.shape), diff, scale))
        print('vision_infer %s: max |diff| %.2e of max |logit| %.3g, %.1f s' % (
            name, diff or -1, scale, time.time() - start))
    # float64 input is converted.
    torch.save(images.double(), work('images64.pt'))
    r = run('vision_infer', 'resnet18', f32, work('images64.pt'), work('l64.pt'))
    R.check('vision_infer float64 input', r.rc == 0 and torch.allclose(
        torch.load(work('l64.pt')), torch.load(work('logits_float32.pt')), atol=1e-5), r)

    bad = [('rank 3', torch.randn(3, 64, 64), '[3, 64, 64]'),
           ('4 channels', torch.randn(1, 4, 32, 32), '[1, 4, 32, 32]'),
           ('uint8', torch.zeros(1, 3, 32, 32, dtype=torch.uint8), 'uint8'),
           ('a dict', {'x': torch.randn(1, 3, 32, 32)}, 'bare tensor')]
    for name, value, phrase in bad:
        path = work('bad_%s.pt' % name.replace(' ', '_'))
        torch.save(value, path)
        r = run('vision_infer', 'resnet18', f32, path, work('never.pt'))
        expect_error('vision_infer refuses %s' % name, r, path, phrase)
        R.check('vision_infer %s: no output' % name, not os.path.exists(work('never.pt')), '')
    r = run('vision_infer', 'resnet18', f32, work('missing.pt'), work('never.pt'))
    expect_error('vision_infer a missing input', r, work('missing.pt'), 'missing.pt')
    r = run('vision_infer', 'resnet34', f32, work('images.pt'), work('never.pt'))
    expect_error('vision_infer wrong architecture', r, f32, "fit 'resnet18'")
    r = run('vision_infer', 'resnet18', f32)
    R.check('vision_infer usage error exits 2', r.rc == 2 and r.out == '', r)

    # Other families, in other files and dtypes: each as torchvision computes
    # it with the weights the file holds (rounded, for bfloat16 and float16).
    others = [('mobilenet_v3_small', 'bfloat16', 'legacy .pth', 64),
              ('shufflenet_v2_x1_0', 'float32', 'safetensors', 64),
              ('efficientnet_b0', 'float16', '.pt', 64)]
    for arch, dtype, kind, size in others:
        start = time.time()
        torch.manual_seed(1)
        model = getattr(torchvision.models, arch)().eval()
        with torch.no_grad():  # no parameter left constant (a zero head gives 0 logits)
            for p in model.parameters():
                if p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                    p.normal_(0, 0.05)
        sd = {k: v.to(getattr(torch, dtype)) if v.is_floating_point() else v
              for k, v in model.state_dict().items()}
        path = work('%s_%s' % (arch, dtype) + ('.safetensors' if kind == 'safetensors' else '.pth'))
        if kind == 'safetensors':
            save_safetensors(sd, path)
        else:
            torch.save(sd, path, _use_new_zipfile_serialization=(kind == '.pt'))
        model.load_state_dict(sd)  # the rounded weights, in float32
        x = torch.randn(2, 3, size, size)
        torch.save(x, work('x_%s.pt' % arch))
        out = work('logits_%s.pt' % arch)
        r = run('vision_infer', arch, path, work('x_%s.pt' % arch), out)
        if not R.check('vision_infer %s (%s, %s) runs' % (arch, dtype, kind), r.rc == 0, r):
            continue
        got = torch.load(out)
        with torch.no_grad():
            want = model(x)
        scale = want.abs().max().item()
        diff = (got - want).abs().max().item() if got.shape == want.shape else None
        R.check('vision_infer %s: logits as torchvision' % arch,
                diff is not None and diff <= 1e-4 * scale,
                '%s vs %s, max diff %s (scale %.3g)' % (list(got.shape), list(want.shape), diff,
                                                        scale))
        print('vision_infer %s (%s, %s): max |diff| %.2e of max |logit| %.3g, %.1f s' % (
            arch, dtype, kind, diff or -1, scale, time.time() - start))


# ---- finetune ------------------------------------------------------------------------------


def group_finetune():
    os.makedirs(WORK)
    torch.manual_seed(0)
    backbone = work('backbone.pth')
    torch.save(torchvision.models.resnet18().state_dict(), backbone)
    out = work('out')
    common = ['--arch', 'resnet18', '--weights', backbone, '--size', '32', '--limit', '64',
              '--test-limit', '64', '--batch-size', '16', '--out', out]
    start = time.time()
    r = run('finetune', *common)
    print('finetune, 1 epoch of 64 images at 32x32: %.1f s' % (time.time() - start))
    if not R.check('finetune runs', r.rc == 0 and 'epoch 1: train loss' in r.out, r):
        return
    ckpt_path = os.path.join(out, 'checkpoint.pt')
    ckpt = torch.load(ckpt_path)  # torch 1.13's weights_only reader lacks BINFLOAT
    R.check('checkpoint keys', sorted(ckpt) == ['epoch', 'loss', 'model_state_dict',
                                                'optimizer_state_dict'] and ckpt['epoch'] == 1,
            sorted(ckpt))
    model = torchvision.models.resnet18(num_classes=10)
    try:
        model.load_state_dict(ckpt['model_state_dict'])  # strict
        loaded = True
    except RuntimeError as e:
        loaded = False
        print(e)
    R.check('the checkpoint loads strictly into torchvision resnet18(num_classes=10)', loaded)
    # Only the head trained: every other parameter equals the backbone's.
    original = torch.load(backbone)
    changed = [k for k, v in ckpt['model_state_dict'].items()
               if not k.startswith('fc.') and 'running' not in k and 'num_batches' not in k
               and not torch.equal(v, original[k])]
    R.check('frozen backbone: only fc changed (and BatchNorm statistics)', not changed, changed)
    R.check('BatchNorm statistics updated in train mode, as in the tutorial', not torch.equal(
        ckpt['model_state_dict']['bn1.running_mean'], original['bn1.running_mean']), '')
    opt = torch.optim.SGD([model.fc.weight, model.fc.bias], lr=0.001, momentum=0.9)
    try:
        opt.load_state_dict(ckpt['optimizer_state_dict'])
        R.check('optimizer state loads into torch SGD over fc', len(opt.state) == 2 and
                opt.state[model.fc.weight]['momentum_buffer'].shape == (10, 512), opt.state)
    except Exception as e:
        R.check('optimizer state loads into torch SGD over fc', False, e)

    # Resume to epoch 2 with the backbone unfrozen from epoch 2.
    r = run('finetune', *common, '--epochs', '2', '--unfreeze-epoch', '2', '--resume', ckpt_path)
    if R.check('finetune --resume --unfreeze-epoch 2', r.rc == 0 and 'resumed from' in r.out and
               'backbone unfrozen' in r.out and 'epoch 2: train loss' in r.out, r):
        ckpt2 = torch.load(ckpt_path)
        groups = ckpt2['optimizer_state_dict']['param_groups']
        R.check('unfrozen: two parameter groups (head, then backbone)', ckpt2['epoch'] == 2 and
                [len(g['params']) for g in groups] == [2, 60], [len(g['params']) for g in groups])
        model.load_state_dict(ckpt2['model_state_dict'])
        head = [model.fc.weight, model.fc.bias]
        rest = [p for n, p in model.named_parameters() if not n.startswith('fc.')]
        opt = torch.optim.SGD([{'params': head}, {'params': rest}], lr=0.001, momentum=0.9)
        opt.load_state_dict(ckpt2['optimizer_state_dict'])
        R.check('the backbone trained after unfreezing', not torch.equal(
            ckpt2['model_state_dict']['conv1.weight'], original['conv1.weight']), '')
    # Wrong backbone: refused naming the one it fits.
    r34 = work('r34.pth')
    torch.save(torchvision.models.resnet34().state_dict(), r34)
    r = run('finetune', '--arch', 'resnet18', '--weights', r34, '--out', out)
    expect_error('finetune refuses resnet34 weights as resnet18', r, r34, "fit 'resnet34'")


def group_meta():
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'gen_imagenet_meta.py'),
                        '--stdout'], capture_output=True)
    committed = open(os.path.join(ROOT, 'src', 'models', 'imagenet_data.inc'), 'rb').read()
    R.check('src/models/imagenet_data.inc is up to date', r.returncode == 0 and
            r.stdout == committed, 'run /usr/bin/python3 scripts/gen_imagenet_meta.py (%s)' %
            r.stderr.decode()[-500:])


GROUPS = {'decode': group_decode, 'transforms': group_transforms, 'classify': group_classify,
          'infer': group_infer, 'finetune': group_finetune, 'meta': group_meta}


def main():
    global BIN, WORK
    if len(sys.argv) != 4 or sys.argv[1] not in GROUPS:
        sys.exit('usage: vision_test.py {%s} BIN_DIR WORKDIR' % ','.join(GROUPS))
    BIN, WORK = os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    shutil.rmtree(WORK, ignore_errors=True)
    torch.set_num_threads(1)
    start = time.time()
    GROUPS[sys.argv[1]]()
    print('%s: %.1f s' % (sys.argv[1], time.time() - start))
    sys.exit(R.finish())


if __name__ == '__main__':
    main()
