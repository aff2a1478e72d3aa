"""Cost of the checks added for palette images, animated PNGs and multi-page TIFFs (round 8).

Each input is decoded through :func:`forensics.media.load_item` as the library does it
(``with checks``) and with the new check bypassed (``without``), interleaved, medians of
``--repeats`` CPU-time runs. Inputs: a palette PNG and a palette BMP (8-bit indices, 256
colours: the check is skipped, no index can lie past a full palette; and 200 colours: the
indices are read) and an RGB PNG (no palette) at ``--size`` pixels square; a
3-page TIFF (only the first page is decoded; the later pages' directories and strip tables
are walked); an animated PNG of 3 frames (the animation chunks are left out before the decode).

    python benchmarks/palette_check.py [--size 2048] [--repeats 7]

Prints a markdown table (docs/results.md, "Palette indices, APNG and TIFF pages").
"""

from __future__ import annotations

import argparse
import io
import os
import time
from unittest import mock

os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from forensics.media import _item, load_item  # noqa: E402


def _inputs(size):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    rgb[:, : size // 2] = rgb[:, : size // 2] // 32 * 32  # partly compressible, as photos are
    full = Image.fromarray(rgb).quantize(256)
    short = Image.fromarray(rgb).quantize(200)  # 200 colours for 8-bit indices: the indices are checked
    out = {}
    for name, im, fmt in (("palette PNG, 256 colours", full, "PNG"), ("palette PNG, 200 colours", short, "PNG"),
                          ("palette BMP, 256 colours", full, "BMP"), ("palette BMP, 200 colours", short, "BMP"),
                          ("RGB PNG", Image.fromarray(rgb), "PNG")):
        buf = io.BytesIO()
        im.save(buf, fmt)
        out[name] = (buf.getvalue(), "_check_palette_indices")
    pages = [Image.fromarray(np.roll(rgb, k, axis=0)) for k in range(3)]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    out["3-page TIFF (deflate)"] = (buf.getvalue(), "_check_tiff_pages")
    buf = io.BytesIO()
    pages[0].save(buf, "PNG", save_all=True, append_images=pages[1:], default_image=True)
    out["APNG, 3 frames + default image"] = (buf.getvalue(), "_png_default_image")
    return out


def _bypass(name):
    if name == "_png_default_image":
        return mock.patch.object(_item, name, lambda data, chunks: data)
    return mock.patch.object(_item, name, lambda *a, **k: None)


def _cpu(data, patch=None):
    start = time.process_time()
    if patch is None:
        load_item(data).pixels
    else:
        with patch:
            load_item(data).pixels
    return time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"| input ({args.size}x{args.size}) | bytes | with checks (CPU ms) | without (CPU ms) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, (data, check) in _inputs(args.size).items():
        load_item(data).pixels  # warm-up
        with_, without = [], []
        for _ in range(args.repeats):
            with_.append(_cpu(data))
            without.append(_cpu(data, _bypass(check)))
        a, b = np.median(with_) * 1e3, np.median(without) * 1e3
        print(f"| {name} | {len(data)} | {a:.1f} | {b:.1f} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
