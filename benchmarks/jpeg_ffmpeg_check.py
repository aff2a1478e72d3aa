"""What a second check of every JPEG by FFmpeg's MJPEG decoder would cost, and whom it would refuse.

The fuzz run's only accepted-wrong kind (``benchmarks/fuzz_items.py``) is a JPEG whose damaged
entropy-coded data runs an AC coefficient index past the 64 of an 8x8 block: libjpeg-turbo, the
item layer's decoder, clamps the index and decodes a wrong picture without a warning; FFmpeg's
MJPEG decoder with ``err_detect=explode`` refuses it ("error count: N"). Decoding every JPEG a
second time with FFmpeg would close that gap. This script measures, in one run, the median time
of the item layer's decode (``load_item(bytes).rgb``) and of FFmpeg's decode of the same bytes,
on synthetic JPEGs of three sizes (quality 90, 4:2:0), and, when ``--data`` holds JPEGs (the
shared real images), how many of those FFmpeg refuses while the item layer decodes them (false
refusals, which a second check would add).

    python benchmarks/jpeg_ffmpeg_check.py [--data ../shared/data] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def ffmpeg_refuses(data):
    """Whether FFmpeg's MJPEG decoder with err_detect=explode refuses the JPEG ``data``."""
    import av

    codec = av.CodecContext.create("mjpeg", "r")
    codec.options = {"err_detect": "explode"}
    try:
        return not (codec.decode(av.Packet(data)) + codec.decode(None))
    except av.FFmpegError:
        return True


def _times(data, repeats):
    from forensics.media import load_item

    lib, ff = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        load_item(data).rgb
        t1 = time.perf_counter()
        ffmpeg_refuses(data)
        t2 = time.perf_counter()
        lib.append(t1 - t0)
        ff.append(t2 - t1)
    return statistics.median(lib), statistics.median(ff)


def main(argv=None):
    from PIL import Image

    from fuzz_items import picture
    from forensics.media import ItemError, load_item

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print("| JPEG | item layer decode (ms) | FFmpeg check (ms) | check / decode |")
    print("|---|---|---|---|")
    for h, w in [(256, 256), (1024, 1024), (3000, 4000)]:
        rgb = np.asarray(Image.fromarray(picture(1, (h // 4, w // 4))).resize((w, h), Image.BICUBIC))
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=90)
        lib, ff = _times(buf.getvalue(), args.repeats if h < 2000 else max(3, args.repeats // 2))
        print(f"| synthetic {h}x{w} | {1e3 * lib:.1f} | {1e3 * ff:.1f} | {ff / lib:.2f} |")
    files = sorted(p for p in Path(args.data).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")) \
        if Path(args.data).is_dir() else []
    if not files:
        print(f"\n{args.data}: no JPEGs, false refusals not measured")
        return 0
    lib_t, ff_t, refused, unread = [], [], [], 0
    for f in files:
        data = f.read_bytes()
        try:
            t0 = time.perf_counter()
            load_item(data).rgb
            t1 = time.perf_counter()
        except ItemError:
            unread += 1
            continue
        bad = ffmpeg_refuses(data)
        t2 = time.perf_counter()
        lib_t.append(t1 - t0)
        ff_t.append(t2 - t1)
        if bad:
            refused.append(f)
    lib, ff = statistics.median(lib_t), statistics.median(ff_t)
    print(f"| {len(lib_t)} real JPEGs of {args.data} (one pass each) | {1e3 * lib:.2f} | {1e3 * ff:.2f} | {ff / lib:.2f} |")
    print(f"\nFFmpeg refuses {len(refused)} of the {len(lib_t)} JPEGs the item layer decodes"
          + (f" (first: {refused[0]})" if refused else "") + f"; {unread} refused by the item layer too")
    return 0


if __name__ == "__main__":
    sys.exit(main())
