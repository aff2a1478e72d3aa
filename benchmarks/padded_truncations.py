"""Why a JPEG without its end-of-image marker (and a GIF without its trailer) is refused.

A file cut short and then padded (zeros, as an interrupted download leaves a preallocated file;
0xFF; random bytes) has no end marker. Two policies are measured on the same files:

- ``required`` (the library's): the item layer reads the file as it is; the missing marker is
  refused (:func:`forensics.media._item._scan_jpeg`; OpenCV's GIF reader).
- ``appended``: the marker is supplied (JPEG ``FF D9``, GIF ``3B``) and the strict decoder
  decides, which would accept a file whose writer left the marker out but is otherwise whole.

For each, the files accepted with pixels that differ from the intact file are counted
("accepted wrong"), and the look-alike (the intact file less its marker, which ``appended``
reads right) is checked. A second table cuts files of the formats without an end marker and
fills them with zeros to their length: which are refused, which decode to another picture.

    python benchmarks/padded_truncations.py [--cuts 150] [--seed 1]

Prints a markdown table (docs/results.md, "A missing end marker").
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import encode, natural_image  # noqa: E402

from forensics.media import ItemError, load_item  # noqa: E402

VARIANTS = {
    "JPEG baseline": ("jpeg", {}), "JPEG progressive": ("jpeg", {"progressive": True}),
    "JPEG 4:4:4": ("jpeg", {"subsampling": 0}), "GIF": ("gif", {}), "GIF interlaced": ("gif", {"interlace": True}),
}
MARKER = {"jpeg": b"\xff\xd9", "gif": b"\x3b"}
#: Formats without an end marker, cut and zero-filled to their length (second table).
OTHER = {"PNG": ("PNG", {}), "WebP lossy": ("WEBP", {"quality": 80}), "WebP lossless": ("WEBP", {"lossless": True}),
         "AVIF": ("AVIF", {}), "BMP": ("BMP", {}), "PPM": ("PPM", {}), "TIFF uncompressed": ("TIFF", {}),
         "TIFF LZW": ("TIFF", {"compression": "tiff_lzw"})}


def intact(kind, options):
    image = natural_image(3, (64, 96))
    if kind == "jpeg":
        return encode(image, "JPEG", quality=85, **options)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "GIF", **options)
    return buf.getvalue()


def outcome(data, ref):
    """"refused", "intact" or "wrong"."""
    try:
        pixels = load_item(data).pixels
    except ItemError:
        return "refused"
    return "intact" if np.array_equal(pixels, ref) else "wrong"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuts", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("| variant | cut + padded files | accepted wrong, marker required | accepted wrong, marker appended "
          "| intact file less its marker, required / appended |")
    print("|---|---|---|---|---|")
    totals = [0, 0, 0]
    for name, (kind, options) in VARIANTS.items():
        good = intact(kind, options)
        ref = load_item(good).pixels
        rng = np.random.default_rng(args.seed)
        marker = MARKER[kind]
        n = wrong_required = wrong_appended = 0
        for cut in rng.integers(len(good) // 4, len(good) - len(marker) - 1, args.cuts):
            rest = len(good) - cut
            for pad in (bytes(rest), bytes(rest - len(marker)), b"\xff" * rest,
                        rng.integers(0, 256, rest - len(marker), dtype=np.uint8).tobytes()):
                data = good[:cut] + pad
                n += 1
                wrong_required += outcome(data, ref) == "wrong"
                wrong_appended += outcome(data + marker, ref) == "wrong"
        bare = good[:-len(marker)]
        look_alike = f"{outcome(bare, ref)} / {outcome(bare + marker, ref)}"
        totals = [totals[0] + n, totals[1] + wrong_required, totals[2] + wrong_appended]
        print(f"| {name} | {n} | {wrong_required} | {wrong_appended} | {look_alike} |")
    print(f"| **total** | **{totals[0]}** | **{totals[1]}** | **{totals[2]}** | |")
    print()
    print("| format (cut, zero-filled to its length) | files | refused | accepted, wrong pixels |")
    print("|---|---|---|---|")
    for name, (fmt, options) in OTHER.items():
        good = encode(natural_image(3, (64, 96)), fmt, **options)
        ref = load_item(good).pixels
        rng = np.random.default_rng(args.seed)
        counts = {"refused": 0, "intact": 0, "wrong": 0}
        for cut in rng.integers(len(good) // 4, len(good) - 1, args.cuts):
            counts[outcome(good[:cut] + bytes(len(good) - cut), ref)] += 1
        print(f"| {name} | {args.cuts} | {counts['refused']} | {counts['wrong']} |")


if __name__ == "__main__":
    main()
