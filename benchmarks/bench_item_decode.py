"""Cost of the strict item decode, and its memory per pixel on a large image.

1. Time: 256x256 RGB JPEG face crops (the images of ``bench_features.py``), per image, medians of
   repeats in one run: the item layer's decode now (``load_item(b).pixels``: header, marker walk
   with quantization-table and scan checks, libjpeg-turbo through simplejpeg in strict mode)
   against the previous item decode (header, end-of-image check, ``cv2.imdecode`` of
   ``IMREAD_UNCHANGED`` and a BGR -> RGB conversion) and against plain ``cv2.imdecode``
   (``IMREAD_COLOR``, the reference of ``bench_features.py``).
2. Memory: in a fresh process per case, the peak resident size added by decoding a large
   synthetic picture (``--megapixels``, JPEG and PNG), in bytes per pixel, for ``pixels``,
   ``display_rgb`` (uint8, shown orientation) and ``rgb`` (float32, what features use).

    python benchmarks/bench_item_decode.py [--n-images 64] [--repeats 15] [--megapixels 48]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")  # timings of the compiled kernels, never their NumPy twins

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _timing import median_time  # noqa: E402



def previous_decode(data):
    """The item decode before strict decoding (kept here as the baseline)."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.size
    sos = data.find(b"\xff\xda")
    if sos < 0 or data.rfind(b"\xff\xd9", sos) < 0:
        raise ValueError("truncated")
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def large_file(kind, megapixels, folder):
    """A large synthetic picture (smooth gradients and edges) encoded as JPEG q90 or PNG."""
    h = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    w = int(megapixels * 1e6 / h)
    y, x = np.mgrid[0:h:64, 0:w:64]
    small = np.dstack([(x * 7) % 256, (y * 5) % 256, (x + y) % 256]).astype(np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    path = Path(folder) / f"large.{'jpg' if kind == 'jpeg' else 'png'}"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90] if kind == "jpeg" else [])
    return path, h * w


def memory_case(path, n_pixels, what):
    """Run in a fresh child: peak RSS added by ``load_item(bytes).<what>``, in bytes per pixel."""
    code = f"""
import cv2
cv2.setNumThreads(1)
from forensics.media import load_item
def kib(field):
    return int(open('/proc/self/status').read().split(field + ':')[1].split()[0]) * 1024
data = open({str(path)!r}, 'rb').read()
open('/proc/self/clear_refs', 'w').write('5')  # reset the peak (VmHWM) to the current size
base = kib('VmRSS')
item = load_item(data, 0)
out = item.{what}
print((kib('VmHWM') - base) / {n_pixels})
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(res.stdout.split()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--megapixels", type=float, default=48)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_item_decode.json"))
    args = parser.parse_args(argv)

    from bench_features import face_crops

    from forensics.media import load_item

    crops, source = face_crops(args.n_images)
    for b in crops[:4]:  # warm up, and the two decodes agree
        assert np.array_equal(load_item(b).pixels, previous_decode(b))
    t_new = median_time(lambda: [load_item(b).pixels for b in crops], args.repeats) / len(crops)
    t_old = median_time(lambda: [previous_decode(b) for b in crops], args.repeats) / len(crops)
    t_cv2 = median_time(lambda: [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in crops],
                        args.repeats) / len(crops)
    memory = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("jpeg", "png"):
            path, n = large_file(kind, args.megapixels, tmp)
            for what in ("pixels", "display_rgb", "rgb"):
                memory[f"{kind} {what}"] = dict(bytes_per_pixel=round(memory_case(path, n, what), 2), pixels=n,
                                                file_bytes=path.stat().st_size)
    result = dict(
        images=f"{len(crops)} x 256x256 JPEG, {source}", repeats=args.repeats,
        strict_item_decode_ms=round(t_new * 1e3, 4), previous_item_decode_ms=round(t_old * 1e3, 4),
        cv2_imdecode_color_ms=round(t_cv2 * 1e3, 4), ratio_strict_to_previous=round(t_new / t_old, 3),
        ratio_strict_to_cv2=round(t_new / t_cv2, 3), memory=memory,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
