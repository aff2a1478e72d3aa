"""Independent references for the codec family (tests only; the package never imports this).

The codec family parses bytes and has no numba kernel, so ``KERNEL_CASES`` is empty. What is
here is a from-scratch JPEG marker walker (ITU-T T.81, B.1) that the tests compare with the
Pillow-based values of :mod:`forensics.features._codec`, and a plain-Python IJG table scaler.
"""

from __future__ import annotations

import struct

# No numba kernel in this family: nothing for the kernel benchmark harness.
KERNEL_CASES = []

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PROGRESSIVE_SOF = {0xC2, 0xC6, 0xCA, 0xCE}


def zigzag_order(n=8):
    """Natural (row-major) index of each zig-zag position, built by walking the anti-diagonals."""
    order = []
    for s in range(2 * n - 1):
        cells = [(i, s - i) for i in range(n) if 0 <= s - i < n]
        if s % 2 == 0:  # even diagonals run bottom-left -> top-right
            cells.reverse()
        order.extend(i * n + j for i, j in cells)
    return order


def parse_jpeg(data):
    """Walk the marker segments of a JPEG up to the first SOS.

    Returns
    -------
    dict with ``tables`` ({Tq: list of 64 ints in natural order}), ``precision``, ``width``,
    ``height``, ``components`` (list of (id, h, v, Tq)), ``progressive`` (bool), ``exif`` (bool,
    an APP1 starting with ``Exif\\0\\0``), ``icc`` (bool, an APP2 ``ICC_PROFILE\\0``).
    """
    assert data[:2] == b"\xff\xd8", "not a JPEG (no SOI)"
    zz = zigzag_order()
    out = dict(tables={}, components=[], progressive=False, exif=False, icc=False)
    pos = 2
    while pos < len(data):
        assert data[pos] == 0xFF, f"expected a marker at byte {pos}"
        while data[pos] == 0xFF:
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        seg = data[pos + 2:pos + length]
        pos += length
        if marker == 0xDB:  # DQT: one or more tables
            k = 0
            while k < len(seg):
                pq, tq = seg[k] >> 4, seg[k] & 15
                k += 1
                size = 2 if pq else 1
                vals = [int.from_bytes(seg[k + size * i:k + size * (i + 1)], "big") for i in range(64)]
                k += 64 * size
                natural = [0] * 64
                for zpos, nat in enumerate(zz):
                    natural[nat] = vals[zpos]
                out["tables"][tq] = natural
        elif marker in _SOF:
            out["precision"] = seg[0]
            out["height"], out["width"] = struct.unpack(">HH", seg[1:5])
            for c in range(seg[5]):
                cid, hv, tq = seg[6 + 3 * c:9 + 3 * c]
                out["components"].append((cid, hv >> 4, hv & 15, tq))
            out["progressive"] = marker in _PROGRESSIVE_SOF
        elif marker == 0xE1 and seg.startswith(b"Exif\x00\x00"):
            out["exif"] = True
        elif marker == 0xE2 and seg.startswith(b"ICC_PROFILE\x00"):
            out["icc"] = True
        elif marker == 0xDA:  # SOS: entropy-coded data follows
            break
    return out


def ijg_table_python(base, quality, force_baseline=True):
    """libjpeg's ``jpeg_quality_scaling`` + ``jpeg_add_quant_table``, transcribed in plain Python."""
    q = min(max(quality, 1), 100)
    scale = 5000 // q if q < 50 else 200 - q * 2
    out = []
    for b in base:
        t = (b * scale + 50) // 100
        t = max(t, 1)
        t = min(t, 32767)
        if force_baseline:
            t = min(t, 255)
        out.append(t)
    return out


def reference_quality(table, base):
    """Quality 1..100 with the smallest L1 distance (highest Q on ties) by brute force in Python."""
    best = None
    for q in range(1, 101):
        d = sum(abs(a - b) for a, b in zip(table, ijg_table_python(base, q)))
        if best is None or d <= best[0]:
            best = (d, q)
    return best[1], best[0] == 0
