"""Cost of a PIL image as an item: a lazily opened one is read as its file, by the strict decoder.

A PIL image opened from a file and not yet loaded is the item of that file: decoded once by the
item layer's strict decoder (so that damage Pillow ignores is refused, see
docs/user-guide/inputs.md), not by Pillow. Medians of repeats in one run, per image, for a JPEG
(quality 90) of ``--size`` pixels:

- ``lazy PIL``: ``load_item(Image.open(buf)).pixels`` (the file's strict decode);
- ``lazy PIL, no check``: the same with the file switched off (Pillow's own load, as the item layer
  read such images before the strict check);
- ``loaded PIL``: the same image already loaded by the caller (no file to check);
- ``bytes``: ``load_item(data).pixels`` (the strict decode alone), the reference.

    python benchmarks/bench_pil_items.py [--size 1024] [--repeats 15]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _timing import median_time  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    from PIL import Image

    from forensics.media import load_item

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (args.size // 16, args.size // 16, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(small).resize((args.size, args.size), Image.BICUBIC))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    data = buf.getvalue()

    def lazy():
        load_item(Image.open(io.BytesIO(data))).pixels

    def loaded():
        im = Image.open(io.BytesIO(data))
        im.load()
        return im

    def loaded_item():
        load_item(pre).pixels

    pre = loaded()
    from unittest import mock

    with mock.patch("forensics.media._item._pil_file_bytes", return_value=None):
        t_nocheck = median_time(lazy, args.repeats)
    t_lazy = median_time(lazy, args.repeats)
    t_loaded = median_time(loaded_item, args.repeats)
    t_bytes = median_time(lambda: load_item(data).pixels, args.repeats)
    print(f"{args.size}x{args.size} JPEG q90, medians of {args.repeats}: lazy PIL {t_lazy * 1e3:.1f} ms, "
          f"lazy PIL without the check {t_nocheck * 1e3:.1f} ms (ratio {t_lazy / t_nocheck:.2f}), "
          f"loaded PIL {t_loaded * 1e3:.1f} ms, bytes {t_bytes * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
