"""Bad input at scale: a seeded fuzz run of the item layer, counted per category.

Feeds malformed inputs to :func:`forensics.media.load_item` (decode, ``rgb``, ``luma``,
``display_rgb``) and mixed good/bad batches to a feature bank (``n_jobs`` 1 and 2,
``on_error`` "nan" and "raise"), each batch of cases in a child process with an address-space
limit (``--mem-mb`` above the child's size after import) and a wall-clock limit, and counts per
category:

- ``item_errors``: refused with :class:`~forensics.ItemError` (the contract);
- ``other_exceptions``: anything else raised (target 0);
- ``crashes_hangs``: the child died or ran past the time limit on that input (target 0);
- ``accepted_intact``: status ok, and the pixels are those of the intact file (e.g. a flipped
  bit in metadata) or, for arrays and objects, those of the equivalent plain array;
- ``accepted_wrong``: status ok with pixels that differ from the intact file although the damage
  is detectable: the file's length changed (a truncation), the format carries a check over the
  damaged bytes (PNG CRC-32), or an independent decoder refuses the file (FFmpeg's MJPEG
  decoder with ``err_detect=explode`` for JPEG; Pillow for formats decoded by OpenCV, OpenCV
  for those decoded by Pillow) (target 0);
- ``undetectable_by_format``: status ok with different pixels where the same-length damage sits
  in bytes no check covers and the independent decoder accepts the file too: a valid file of
  another picture, which no reader can tell from the intended one (JPEG entropy-coded data and
  tables, WebP/BMP/GIF/TIFF/PNM payloads carry no checksum);
- ``shifted_rows`` (batches): a row whose values are not the item's own row computed alone, or
  a status index out of place; for ``on_error="raise"``, an error naming another item than the
  first bad one (target 0).

    python benchmarks/fuzz_items.py [--n 10500] [--batches 300] [--seed 0] [--jobs 2]
        [--out results/fuzz_items.json]

Writes ``results/fuzz_items.json`` and a markdown table beside it (``.md``). ``tests/
test_item_truth.py`` runs a fixed subset of about 200 inputs in process.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MALLOC_ARENA_MAX", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIZE = (48, 64)
COUNTS = ("inputs", "item_errors", "other_exceptions", "crashes_hangs", "accepted_intact", "accepted_wrong",
          "undetectable_by_format", "shifted_rows")


# -- intact files ---------------------------------------------------------------------------------

def picture(seed, shape=SIZE):
    """A deterministic natural-looking RGB uint8 picture (smooth field plus texture)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    r = np.sqrt(fx ** 2 + fy ** 2)
    r[0, 0] = 1.0
    chans = []
    for _ in range(3):
        field = np.real(np.fft.ifft2((rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / r))
        chans.append((field - field.min()) / (np.ptp(field) + 1e-12))
    img = np.stack(chans, -1) * 200 + 20 + rng.normal(0, 3, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _pil(arr, fmt, **kw):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def _cv2(arr, ext, params=()):
    import cv2

    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR if arr.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(ext, arr, list(params))
    assert ok
    return buf.tobytes()


def intact_files(seed):
    """{format variant: encoded bytes} of one picture."""
    import cv2
    from PIL import Image

    rgb = picture(seed)
    grey = rgb[:, :, 1]
    rgb16 = (rgb.astype(np.uint32) * 256 + np.arange(rgb.size).reshape(rgb.shape) % 256).astype(np.uint16)
    files = {
        "jpeg_420": _pil(rgb, "JPEG", quality=90),
        "jpeg_444": _pil(rgb, "JPEG", quality=95, subsampling=0),
        "jpeg_progressive": _pil(rgb, "JPEG", quality=85, progressive=True),
        "jpeg_restart": _cv2(rgb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_RST_INTERVAL, 2]),
        "jpeg_grey": _pil(grey, "JPEG", quality=90),
        "png_rgb": _pil(rgb, "PNG"),
        "png_rgba": _pil(np.dstack([rgb, grey]), "PNG"),
        "png_grey16": _cv2(rgb16[:, :, 0], ".png"),
        "png_palette": _pil_palette(rgb),
        "tiff_raw": _pil(rgb, "TIFF"),
        "tiff_lzw": _pil(rgb, "TIFF", compression="tiff_lzw"),
        "tiff_deflate": _pil(rgb, "TIFF", compression="tiff_adobe_deflate"),
        "tiff_rgb16": _cv2(rgb16, ".tiff"),
        "webp_lossless": _pil(rgb, "WEBP", lossless=True),
        "webp_lossy": _pil(rgb, "WEBP", quality=90),
        "bmp": _pil(rgb, "BMP"),
        "gif": _pil(np.asarray(Image.fromarray(rgb).quantize(64).convert("RGB")), "GIF"),
        "ppm": _pil(rgb, "PPM"),
        "pgm16": _cv2(rgb16[:, :, 2], ".pgm"),
        "avif": _pil(rgb, "AVIF", quality=90),
    }
    return files


def _pil_palette(rgb):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).quantize(64).save(buf, "PNG")
    return buf.getvalue()


FORMATS = tuple(intact_files(0))
_INTACT_CACHE = {}


def intact(fmt, seed):
    key = seed % 4
    if key not in _INTACT_CACHE:
        _INTACT_CACHE[key] = intact_files(key)
    return _INTACT_CACHE[key][fmt]


# -- mutations ------------------------------------------------------------------------------------

def _png_chunk(ctype, body):
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _end_marker(fmt):
    if fmt.startswith("jpeg"):
        return b"\xff\xd9"
    if fmt.startswith("png"):
        return _png_chunk(b"IEND", b"")
    return b""


def _short_data(fmt, data, rng):
    """A file whose pixel data stop short of the declared size, every structure otherwise valid."""
    if fmt.startswith("jpeg"):
        sos = data.find(b"\xff\xda")
        start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
        eoi = data.rfind(b"\xff\xd9")
        cut = start + int(rng.integers(1, max(2, eoi - start - 1)))
        return data[:cut] + b"\xff\xd9"
    if fmt.startswith("png"):  # fewer rows than IHDR says, zlib stream and CRCs valid
        import cv2

        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        ihdr = data[8:33]
        depth, ctype = data[24], data[25]
        if ctype == 3:  # palette: keep the palette chunks, rebuild IDAT from index rows
            from PIL import Image

            arr = np.asarray(Image.open(io.BytesIO(data)))
        elif arr.ndim == 3:
            arr = arr[:, :, [2, 1, 0, 3][:arr.shape[2]]] if arr.shape[2] >= 3 else arr
        keep = int(rng.integers(0, arr.shape[0]))
        rows = arr[:keep]
        if depth == 16:
            rows = rows.astype(">u2")
        raw = b"".join(b"\x00" + r.tobytes() for r in rows)
        middle = b""
        pos = 33
        while pos < len(data):
            n = int.from_bytes(data[pos:pos + 4], "big")
            ct = data[pos + 4:pos + 8]
            if ct not in (b"IDAT", b"IEND"):
                middle += data[pos:pos + 12 + n]
            pos += 12 + n
        return data[:8] + ihdr + middle + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")
    if fmt.startswith("tiff") or fmt in ("bmp", "ppm", "pgm16", "gif", "webp_lossless", "webp_lossy", "avif"):
        return _declared_larger(fmt, data, rng)
    return data[: len(data) // 2]


def _declared_larger(fmt, data, rng):
    """Raise the declared height (fixing any checksum), so the data no longer fill the picture."""
    h, w = SIZE
    extra = int(rng.integers(1, 64))
    b = bytearray(data)
    if fmt.startswith("jpeg"):
        i = data.find(b"\xff\xc0") if data.find(b"\xff\xc0") >= 0 else data.find(b"\xff\xc2")
        struct.pack_into(">H", b, i + 5, h + extra)
    elif fmt.startswith("png"):
        struct.pack_into(">I", b, 20, h + extra)
        struct.pack_into(">I", b, 29, zlib.crc32(bytes(b[12:29])))
    elif fmt == "bmp":
        struct.pack_into("<i", b, 22, h + extra)
    elif fmt in ("ppm", "pgm16"):
        return data.replace(f"{w} {h}".encode(), f"{w} {h + extra}".encode(), 1).replace(
            f"{w}\n{h}".encode(), f"{w}\n{h + extra}".encode(), 1)
    elif fmt == "gif":
        struct.pack_into("<H", b, 8, h + extra)
        i = data.find(b"\x2c")
        if i > 0:
            struct.pack_into("<H", b, i + 7, h + extra)
    elif fmt.startswith("tiff"):
        order = "<" if data[:2] == b"II" else ">"
        ifd = struct.unpack_from(order + "I", data, 4)[0]
        n = struct.unpack_from(order + "H", data, ifd)[0]
        for k in range(n):
            e = ifd + 2 + 12 * k
            tag, typ = struct.unpack_from(order + "HH", data, e)
            if tag == 257:  # ImageLength
                if typ == 3:
                    struct.pack_into(order + "H", b, e + 8, h + extra)
                else:
                    struct.pack_into(order + "I", b, e + 8, h + extra)
    else:  # webp / avif: no simple height field; cut the payload instead
        return data[: max(16, len(data) - int(rng.integers(1, len(data) // 2)))]
    return bytes(b)


def _bomb(fmt, rng):
    """A header that declares an enormous picture over a few bytes of data."""
    big = int(rng.choice([30000, 65000, 100000, 1 << 20]))
    if fmt == "png":
        ihdr = struct.pack(">IIBBBBB", big, big, 8, 2, 0, 0, 0)
        idat = zlib.compress(b"\x00" * 4096)
        return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    if fmt == "jpeg":
        base = bytearray(intact("jpeg_420", 0))
        i = base.find(b"\xff\xc0")
        struct.pack_into(">HH", base, i + 5, min(big, 65535), min(big, 65535))
        return bytes(base)
    if fmt == "gif":
        return b"GIF89a" + struct.pack("<HH", min(big, 65535), min(big, 65535)) + b"\x00\x00\x00" + \
            b"\x2c" + struct.pack("<HHHH", 0, 0, min(big, 65535), min(big, 65535)) + b"\x00\x02\x02\x44\x01\x00\x3b"
    if fmt == "bmp":
        return b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, big, big, 1, 24, 0, 16,
                                                                              0, 0, 0, 0) + b"\x00" * 16
    if fmt == "ppm":
        return f"P6\n{big} {big}\n255\n".encode() + b"\x00" * 64
    if fmt == "tiff":
        base = bytearray(intact("tiff_raw", 0))
        ifd = struct.unpack_from("<I", base, 4)[0]
        n = struct.unpack_from("<H", base, ifd)[0]
        for k in range(n):
            e = ifd + 2 + 12 * k
            tag, typ = struct.unpack_from("<HH", base, e)
            if tag in (256, 257):
                if typ == 3:
                    struct.pack_into("<H", base, e + 8, min(big, 65535))
                else:
                    struct.pack_into("<I", base, e + 8, big)
        return bytes(base)
    # webp: VP8L header with 14-bit dimensions at their maximum
    body = b"\x2f" + struct.pack("<I", (16383) | (16383 << 14)) + b"\x00" * 32
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(body)) + b"WEBP" + b"VP8L" + struct.pack("<I", len(body)) + body


MAGIC = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
         b"BM", b"GIF89a", b"P6\n", b"P5\n", b"\x00\x00\x00\x1cftypavif"]


def make_file_case(category, fmt, seed):
    """-> (bytes, intact bytes or None, same_length) for a file-mutation case."""
    rng = np.random.default_rng(seed)
    if category == "random_bytes":
        return rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes(), None, False
    if category == "magic_random":
        m = MAGIC[int(rng.integers(len(MAGIC)))]
        return m + rng.integers(0, 256, int(rng.integers(0, 2048)), dtype=np.uint8).tobytes(), None, False
    if category == "bomb_header":
        return _bomb(fmt, rng), None, False
    good = intact(fmt, seed)
    if category == "truncation":
        return good[: int(rng.integers(1, len(good)))], good, False
    if category == "truncation_end_marker":
        return good[: int(rng.integers(1, len(good) - 1))] + _end_marker(fmt), good, False
    if category == "short_data":
        return _short_data(fmt, good, rng), good, False
    if category == "declared_larger":
        return _declared_larger(fmt, good, rng), good, False
    if category == "bit_flips":
        b = bytearray(good)
        for _ in range(int(rng.integers(1, 5))):
            p = int(rng.integers(0, len(b)))
            b[p] ^= 1 << int(rng.integers(0, 8))
        return bytes(b), good, True
    if category == "byte_runs":
        b = bytearray(good)
        p = int(rng.integers(0, len(b)))
        n = min(int(rng.integers(1, 64)), len(b) - p)
        b[p:p + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes() if rng.random() < 0.5 else bytes(n)
        return bytes(b), good, True
    raise ValueError(category)


# -- arrays and objects -----------------------------------------------------------------------------


def _matrix(arr):
    """``np.matrix`` (an input users still pass), without NumPy's PendingDeprecationWarning about it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(arr)

def make_object_case(category, variant, seed, tmp):
    """-> (object, expected plain array or None). ``None`` expected: must be refused."""
    rng = np.random.default_rng(seed)
    img = picture(seed % 4)
    f = img.astype(np.float64) / 255
    if category == "odd_arrays":
        cases = {
            "big_endian_f4": (f.astype(">f4"), f.astype(np.float32)),
            "big_endian_f8": (f.astype(">f8"), f),
            "big_endian_u2": ((img.astype(np.uint16) * 257).astype(">u2"), img.astype(np.uint16) * 257),
            "matrix": (_matrix(img[:, :, 0]), img[:, :, 0]),
            "fortran": (np.asfortranarray(img), img),
            "strided": (img[::2, ::-1], np.ascontiguousarray(img[::2, ::-1])),
            "readonly": (_readonly(img), img),
            "masked_none": (np.ma.masked_array(img, mask=False), img),
            "masked_some": (np.ma.masked_array(img, mask=img > 128), None),
            "int8": (img.astype(np.int8), None),
            "int32": (img.astype(np.int32), None),
            "int64": (img.astype(np.int64), None),
            "float16": (f.astype(np.float16), None),
            "complex": (f.astype(np.complex64), None),
            "object": (img.astype(object), None),
            "zero_dim": (np.array(3.0), None),
            "one_dim": (img.ravel(), None),
            "four_dim": (img[None, None], None),
            "five_channels": (np.dstack([img, img[:, :, :2]]), None),
            "zero_size": (img[:0], None),
            "nan": (np.where(rng.random(f.shape) < 0.01, np.nan, f), None),
            "inf": (np.where(rng.random(f.shape) < 0.01, np.inf, f), None),
            "out_of_range": (f * 255, None),
            "negative": (f - 0.5, None),
            "huge_broadcast": (np.broadcast_to(np.uint8(7), (1 << 16, 1 << 16)), None),
            "bool": (img[:, :, 0] > 100, img[:, :, 0] > 100),
            "one_channel": (img[:, :, :1], img[:, :, 0]),
            "two_channels": (img[:, :, :2], img[:, :, :2]),
        }
        return cases[variant]
    # wrong Python types and bad paths / PIL images
    from PIL import Image

    if variant == "none":
        return None, None
    if variant == "int":
        return int(rng.integers(100)), None
    if variant == "float":
        return float(rng.random()), None
    if variant == "dict":
        return {"image": img}, None
    if variant == "list_image":
        return img.tolist(), None
    if variant == "set":
        return {1, 2}, None
    if variant == "generator":
        return (x for x in range(3)), None
    if variant == "lambda":
        return (lambda: img), None
    if variant == "object":
        return object(), None
    if variant == "missing_path":
        return str(Path(tmp) / f"missing_{seed}.png"), None
    if variant == "nul_path":
        return str(Path(tmp) / "a\x00b.png"), None
    if variant == "surrogate_path":
        return str(Path(tmp) / "bad\ud800name.png"), None
    if variant == "directory":
        return str(tmp), None
    if variant == "pathlib_missing":
        return Path(tmp) / "nope.jpg", None
    if variant == "closed_pil":
        im = Image.open(io.BytesIO(intact("png_rgb", seed)))
        im.close()
        return im, None
    if variant == "truncated_pil":
        data = intact("jpeg_420", seed)
        return Image.open(io.BytesIO(data[: len(data) // 2])), None
    if variant == "pil_ok":
        return Image.fromarray(img), img
    if variant == "pil_mode_I":
        return Image.fromarray(img[:, :, 0].astype(np.int32)), None
    if variant == "pil_mode_F_out_of_range":
        return Image.fromarray(img[:, :, 0].astype(np.float32)), None
    if variant == "bytearray_ok":
        return bytearray(intact("png_rgb", seed)), img
    if variant == "memoryview_ok":
        return memoryview(intact("png_rgb", seed)), img
    if variant == "empty_bytes":
        return b"", None
    if variant == "text_file":
        p = Path(tmp) / f"text_{seed}.jpg"
        p.write_text("not an image")
        return str(p), None
    if variant == "fifo":
        p = Path(tmp) / f"fifo_{seed}"
        if not p.exists():
            os.mkfifo(p)
        return str(p), None
    raise ValueError(variant)


def _readonly(a):
    a = a.copy()
    a.setflags(write=False)
    return a


ODD_ARRAYS = ("big_endian_f4", "big_endian_f8", "big_endian_u2", "matrix", "fortran", "strided", "readonly",
              "masked_none", "masked_some", "int8", "int32", "int64", "float16", "complex", "object", "zero_dim",
              "one_dim", "four_dim", "five_channels", "zero_size", "nan", "inf", "out_of_range", "negative",
              "huge_broadcast", "bool", "one_channel", "two_channels")
WRONG_TYPES = ("none", "int", "float", "dict", "list_image", "set", "generator", "lambda", "object", "missing_path",
               "nul_path", "surrogate_path", "directory", "pathlib_missing", "closed_pil", "truncated_pil",
               "pil_ok", "pil_mode_I", "pil_mode_F_out_of_range", "bytearray_ok", "memoryview_ok", "empty_bytes",
               "text_file", "fifo")
FILE_CATEGORIES = ("truncation", "truncation_end_marker", "short_data", "declared_larger", "bit_flips", "byte_runs")
BOMB_FORMATS = ("png", "jpeg", "gif", "bmp", "ppm", "tiff", "webp")


def plan(n, n_batches, seed):
    """The case list: (category, variant, seed) triples, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    cases = []
    per_file = int(n * 0.86)
    for k in range(per_file):  # mutations of every format variant, round robin
        cat = FILE_CATEGORIES[k % len(FILE_CATEGORIES)]
        fmt = FORMATS[(k // len(FILE_CATEGORIES)) % len(FORMATS)]
        cases.append((cat, fmt, int(rng.integers(1 << 31))))
    rest = n - per_file
    for k in range(rest):
        r = k % 5
        if r == 0:
            cases.append(("random_bytes", "-", int(rng.integers(1 << 31))))
        elif r == 1:
            cases.append(("magic_random", "-", int(rng.integers(1 << 31))))
        elif r == 2:
            cases.append(("bomb_header", BOMB_FORMATS[k % len(BOMB_FORMATS)], int(rng.integers(1 << 31))))
        elif r == 3:
            cases.append(("odd_arrays", ODD_ARRAYS[k % len(ODD_ARRAYS)], int(rng.integers(1 << 31))))
        else:
            cases.append(("wrong_types", WRONG_TYPES[k % len(WRONG_TYPES)], int(rng.integers(1 << 31))))
    for k in range(n_batches):
        cases.append((f"mixed_batch_njobs{1 + k % 2}", "raise" if k % 3 == 0 else "nan", int(rng.integers(1 << 31))))
    return cases


# -- running one case -----------------------------------------------------------------------------

def _item_outcome(obj, index=0):
    """-> ("error", reason) | ("other", text) | ("ok", rgb float32 array)."""
    from forensics.media import ItemError, load_item

    try:
        item = load_item(obj, index)
        rgb = item.rgb
        item.luma
        d = item.display_rgb
        if d.shape[2] != 3 or d.dtype != np.uint8:
            return ("other", f"display_rgb has shape {d.shape} dtype {d.dtype}")
        return ("ok", rgb)
    except ItemError as exc:
        return ("error", exc.reason)
    except Exception as exc:  # the contract is broken
        return ("other", f"{type(exc).__name__}: {exc}"[:300])


def _independent_refusal(fmt, data):
    """Why a decoder other than the item layer's refuses ``data`` (see the module notes), or "".

    The reason is the decoder's first message with its numbers as N (FFmpeg's ``error count: N``
    is an AC coefficient run past the 64 of an 8x8 block), so that accepted-wrong files can be
    counted by kind.
    """
    try:
        if fmt.startswith("jpeg"):
            import av
            import av.logging

            codec = av.CodecContext.create("mjpeg", "r")
            codec.options = {"err_detect": "explode"}
            level = av.logging.get_level()
            av.logging.set_level(av.logging.VERBOSE)  # FFmpeg says why only at this level
            try:
                with av.logging.Capture() as logs:
                    try:
                        frames = codec.decode(av.Packet(data)) + codec.decode(None)
                        failure = "" if frames else "FFmpeg gives no frame"
                    except av.FFmpegError as exc:
                        failure = f"FFmpeg: {exc.strerror or exc}"
            finally:
                av.logging.set_level(level)
            if not failure:
                return ""
            said = [m[2].strip() for m in logs if m[0] <= av.logging.ERROR and m[2].strip()]
            return re.sub(r"\d+", "N", f"FFmpeg: {said[0]}" if said else failure)
        if fmt in ("gif", "avif"):
            import cv2

            arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            return "OpenCV decodes no image" if arr is None else ""
        from PIL import Image

        im = Image.open(io.BytesIO(data))
        im.load()
        return ""
    except Exception as exc:
        return re.sub(r"\d+", "N", f"{type(exc).__name__}: {exc}"[:120])


def _independent_refuses(fmt, data):
    """Whether a decoder other than the item layer's refuses ``data``."""
    return bool(_independent_refusal(fmt, data))


def _differs(a, b):
    return a.shape != b.shape or float(np.max(np.abs(a.astype(np.float64) - b))) > 1e-3


def run_single(case, tmp):
    """Counts for one single-input case -> dict(category, outcome, detail)."""
    category, variant, seed = case
    if category in ("odd_arrays", "wrong_types"):
        obj, expected = make_object_case(category, variant, seed, tmp)
        kind, value = _item_outcome(obj)
        if kind != "ok":
            return kind if kind == "other" else "item_errors", value if kind == "other" else ""
        if expected is None:
            return "accepted_wrong", f"{variant}: accepted, should be refused"
        from forensics.media import load_item

        ref = load_item(np.ascontiguousarray(np.asarray(expected)), 0).rgb
        return ("accepted_wrong", f"{variant}: pixels differ") if _differs(value, ref) else ("accepted_intact", "")
    data, good, same_length = make_file_case(category, variant, seed)
    kind, value = _item_outcome(data)
    if kind == "error":
        return "item_errors", ""
    if kind == "other":
        return "other_exceptions", value
    if good is None:  # random bytes / bomb headers accepted: only wrong if a decoder refuses them
        return ("accepted_wrong", "accepted a file an independent decoder refuses") \
            if _independent_refuses(variant if variant != "-" else "png", data) else ("accepted_intact", "")
    ref = _item_outcome(good)[1]
    if not _differs(value, ref):
        return "accepted_intact", ""
    why = ("length changed" if not same_length else "PNG CRC-32" if variant.startswith("png")
           else _independent_refusal(variant, data))
    if why:
        return "accepted_wrong", f"{category}/{variant} seed {seed}: {why}"
    return "undetectable_by_format", ""


def _batch_items(seed, tmp):
    """A mixed list of good and bad items with the expected single-item outcome of each."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 41))
    items = []
    for _ in range(n):
        u = rng.random()
        s = int(rng.integers(1 << 31))
        if u < 0.45:
            items.append(intact(FORMATS[int(rng.integers(len(FORMATS)))], s))
        elif u < 0.6:
            items.append(picture(s % 4))
        elif u < 0.85:
            cat = FILE_CATEGORIES[int(rng.integers(len(FILE_CATEGORIES)))]
            items.append(make_file_case(cat, FORMATS[int(rng.integers(len(FORMATS)))], s)[0])
        elif u < 0.93:
            items.append(make_object_case("odd_arrays", ODD_ARRAYS[int(rng.integers(len(ODD_ARRAYS)))], s, tmp)[0])
        else:
            variant = WRONG_TYPES[int(rng.integers(len(WRONG_TYPES)))]
            if variant == "fifo":
                variant = "generator"
            items.append(make_object_case("wrong_types", variant, s, tmp)[0])
    return items


_BANK = {}


def _bank(n_jobs, on_error):
    from forensics.features import make_feature_bank

    key = (n_jobs, on_error)
    if key not in _BANK:
        _BANK[key] = make_feature_bank(preset="minimal", n_jobs=n_jobs, on_error=on_error).fit()
    return _BANK[key]


def run_batch(case, tmp):
    """-> counts for one mixed batch (``detail`` holds what went wrong, if anything)."""
    import warnings

    from forensics.media import ItemError

    category, on_error, seed = case
    n_jobs = 2 if category.endswith("2") else 1
    items = _batch_items(seed, tmp)
    # the expected row of each item, computed alone (rebuilt items: generators are single-use)
    alone = []
    single = _bank(1, "nan")
    for i, obj in enumerate(_batch_items(seed, tmp)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                row = single.transform([obj])[0]
                alone.append((row, single.status_["status"].iloc[0]))
            except Exception as exc:
                alone.append((None, f"other: {type(exc).__name__}: {exc}"[:200]))
    counts = Counter(inputs=len(items))
    counts.detail = [st for _, st in alone if st.startswith("other")]
    bank = _bank(n_jobs, on_error)
    first_bad = next((i for i, (_, st) in enumerate(alone) if st != "ok"), None)
    for _, st in alone:
        counts["item_errors" if st == "error" else "accepted_intact" if st == "ok" else "other_exceptions"] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X = bank.transform(items)
        if on_error == "raise" and first_bad is not None:
            counts["shifted_rows"] += 1  # should have raised
            counts.detail.append(f"no error raised; item {first_bad} fails alone")
            return counts
        status = bank.status_
        if list(status["index"]) != list(range(len(items))):
            counts["shifted_rows"] += len(items)
            counts.detail.append("status index out of order")
        for i, (row, st) in enumerate(alone):
            if row is None:
                continue
            if (st == "ok") != (status["status"].iloc[i] == "ok") or not np.array_equal(X[i], row, equal_nan=True):
                counts["shifted_rows"] += 1
                counts.detail.append(f"item {i} ({type(items[i]).__name__}): alone {st}, in batch "
                                     f"{status['status'].iloc[i]} {status['error'].iloc[i][:80]}")
    except ItemError as exc:
        if on_error != "raise" or exc.index != first_bad:
            counts["shifted_rows"] += 1
            counts.detail.append(f"raised for item {exc.index}, first bad is {first_bad}")
    except Exception as exc:
        counts["other_exceptions"] += 1
        counts.detail.append(f"batch raised {type(exc).__name__}: {exc}"[:300])
    return counts


# -- child processes --------------------------------------------------------------------------------

def child(case_file, out_file, mem_mb):
    import resource

    import forensics.features  # noqa: F401  (imports before the limit: their size is not the input's)
    import forensics.media  # noqa: F401

    vm = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
    limit = vm + mem_mb * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cases = [tuple(c) for c in json.loads(Path(case_file).read_text())]
    with tempfile.TemporaryDirectory() as tmp, open(out_file, "a") as out:
        for k, case in enumerate(cases):
            out.write(json.dumps({"start": k}) + "\n")
            out.flush()
            if case[0].startswith("mixed_batch"):
                counts = run_batch(case, tmp)
                detail = "; ".join(getattr(counts, "detail", []))
                out.write(json.dumps({"done": k, "counts": dict(counts), "detail": detail}) + "\n")
            else:
                outcome, detail = run_single(case, tmp)
                out.write(json.dumps({"done": k, "outcome": outcome, "detail": detail}) + "\n")
            out.flush()


def run_cases(cases, *, jobs=2, per_case_s=20.0, mem_mb=1500, batch=250, log=print):
    """Run cases in child processes; -> (per-category counts, examples of failures)."""
    counts = defaultdict(Counter)
    by_format = defaultdict(Counter)  # file mutations only: outcomes per format variant
    examples = defaultdict(list)
    wrong_by_reason = Counter()  # file mutations accepted wrong: what tells the damage
    pending = [cases[i:i + batch] for i in range(0, len(cases), batch)]
    running = []
    tmpdir = tempfile.mkdtemp(prefix="fuzz_items_")
    serial = 0

    def launch(group):
        nonlocal serial
        serial += 1
        cf, of = Path(tmpdir) / f"c{serial}.json", Path(tmpdir) / f"o{serial}.jsonl"
        cf.write_text(json.dumps(group))
        of.write_text("")
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(cf), str(of), str(mem_mb)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")})
        running.append((proc, group, of, time.monotonic()))

    def harvest(proc, group, of, crashed):
        lines = [json.loads(x) for x in of.read_text().splitlines() if x.strip()]
        done = {d["done"]: d for d in lines if "done" in d}
        started = [d["start"] for d in lines if "start" in d]
        for k, d in done.items():
            cat = group[k][0]
            if "counts" in d:
                counts[cat].update(d["counts"])
                if d.get("detail") and len(examples[cat]) < 8:
                    examples[cat].append(f"{group[k]}: {d['detail']}")
            else:
                counts[cat]["inputs"] += 1
                counts[cat][d["outcome"]] += 1
                if cat in FILE_CATEGORIES:
                    by_format[group[k][1]]["inputs"] += 1
                    by_format[group[k][1]][d["outcome"]] += 1
                if d["outcome"] == "accepted_wrong" and cat in FILE_CATEGORIES:
                    wrong_by_reason[d["detail"].split(": ", 1)[-1]] += 1
                if d["outcome"] in ("other_exceptions", "accepted_wrong") and len(examples[cat]) < 8:
                    examples[cat].append(f"{group[k]}: {d['detail']}")
        if crashed:
            last = max(started) if started else 0
            if last not in done:
                cat = group[last][0]
                counts[cat]["inputs"] += 1
                counts[cat]["crashes_hangs"] += 1
                examples[cat].append(f"{group[last]}: {crashed}")
            rest = group[last + 1:]
            if rest:
                pending.insert(0, rest)

    t0 = time.monotonic()
    while pending or running:
        while pending and len(running) < jobs:
            launch(pending.pop(0))
        time.sleep(0.2)
        for entry in list(running):
            proc, group, of, started = entry
            rc = proc.poll()
            limit = per_case_s * len(group) + 60
            if rc is None and time.monotonic() - started > limit:
                proc.kill()
                proc.wait()
                rc = "hang"
            if rc is None:
                continue
            running.remove(entry)
            lines = of.read_text().splitlines()
            n_done = sum('"done"' in x for x in lines)
            crashed = None if (rc == 0 and n_done == len(group)) else f"child exit {rc}"
            harvest(proc, group, of, crashed)
        if log:
            n_done = sum(c["inputs"] for c in counts.values())
            log(f"\r{n_done} inputs, {time.monotonic() - t0:.0f} s", end="")
    if log:
        log()
    return counts, examples, by_format, wrong_by_reason


def table(counts):
    lines = ["| | " + " | ".join(COUNTS) + " |", "|---" * (len(COUNTS) + 1) + "|"]
    total = Counter()
    for cat in sorted(counts):
        total.update(counts[cat])
        lines.append(f"| {cat} | " + " | ".join(str(counts[cat].get(c, 0)) for c in COUNTS) + " |")
    lines.append("| **total** | " + " | ".join(f"**{total.get(c, 0)}**" for c in COUNTS) + " |")
    return "\n".join(lines), total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10500, help="single malformed inputs")
    parser.add_argument("--batches", type=int, default=300, help="mixed good/bad batches")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="child processes at a time")
    parser.add_argument("--mem-mb", type=int, default=1500, help="address space allowed above the child's size")
    parser.add_argument("--per-case-s", type=float, default=20.0)
    parser.add_argument("--out", default=str(ROOT / "results" / "fuzz_items.json"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    for fmt in FORMATS:  # the intact files are the reference: each must decode
        for s in range(4):
            kind, value = _item_outcome(intact(fmt, s))
            if kind != "ok":
                raise SystemExit(f"intact {fmt} (picture {s}) does not decode: {value}")
    cases = plan(args.n, args.batches, args.seed)
    t0 = time.time()
    counts, examples, by_format, wrong_by_reason = run_cases(
        cases, jobs=args.jobs, per_case_s=args.per_case_s, mem_mb=args.mem_mb,
        log=lambda *a, **k: print(*a, **k, flush=True))
    md, total = table(counts)
    md_formats, _ = table(by_format)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = (f"python benchmarks/fuzz_items.py --n {args.n} --batches {args.batches} --seed {args.seed} "
               f"--jobs {args.jobs} --mem-mb {args.mem_mb}")
    result = dict(command=command, seconds=round(time.time() - t0, 1), counts={k: dict(v) for k, v in counts.items()},
                  total=dict(total), by_format={k: dict(v) for k, v in by_format.items()},
                  examples={k: v for k, v in examples.items() if v},
                  accepted_wrong_by_reason=dict(wrong_by_reason.most_common()))
    out.write_text(json.dumps(result, indent=1))
    text = (f"# Item-layer fuzz run\n\n`{command}` ({result['seconds']} s)\n\n{md}\n\n"
            f"File mutations ({', '.join(FILE_CATEGORIES)}) by format:\n\n{md_formats}\n")
    if wrong_by_reason:
        text += ("\nFile mutations accepted wrong, by what tells the damage:\n\n"
                 + "\n".join(f"- {why}: {n}" for why, n in wrong_by_reason.most_common()) + "\n")
    if result["examples"]:
        text += "\nExamples of failures:\n\n" + "\n".join(f"- {k}: {e}" for k, v in result["examples"].items()
                                                         for e in v) + "\n"
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
