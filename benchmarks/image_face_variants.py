"""What the face path and the item layer give for round 10's still-image variants (before/after).

Two parts, each printed as Markdown:

* face crops of still images of deeper samples through ``forensics.datasets.extract_faces``
  (YuNet from ``../shared/models``, skipped when absent) on scikit-image's astronaut written as a
  12-bit PGM (maxval 4095), PGMs of maxval 1000 and 100, a 16-bit and an 8-bit PNG: the item's
  status and the crop's peak and mean sample (the 8-bit PNG's crop is the reference);
* the cost of asking a 12-megapixel PNG without an ``eXIf`` chunk for its EXIF orientation after
  decoding it (``load_item(path).orientation``): CPU seconds (median of 5) and the resident memory
  it adds (``/proc/self/statm``, Linux).

Run it on two checkouts to compare them::

    PYTHONPATH=$PWD python benchmarks/image_face_variants.py
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from forensics.media import load_item

MODEL = Path(os.environ.get("FORENSICS_MODEL_DIR", Path(__file__).resolve().parents[2] / "shared" / "models"))
MODEL = MODEL / "face_detection_yunet_2023mar.onnx"


def _pnm(grey, maxval):
    body = np.round(grey / 255 * maxval).astype(">u2" if maxval > 255 else np.uint8).tobytes()
    return b"P5\n%d %d\n%d\n" % (grey.shape[1], grey.shape[0], maxval) + body


def face_rows(tmp):
    import skimage.data

    from forensics.datasets import extract_faces

    grey = np.asarray(Image.fromarray(skimage.data.astronaut()[:, 60:440]).convert("L"))
    files = {"PGM maxval 4095 (12-bit)": ("g4095.pgm", _pnm(grey, 4095)),
             "PGM maxval 1000": ("g1000.pgm", _pnm(grey, 1000)),
             "PGM maxval 100 (8-bit container)": ("g100.pgm", _pnm(grey, 100))}
    for name, (fname, data) in files.items():
        (tmp / fname).write_bytes(data)
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp / "g16.png")
    Image.fromarray(grey).save(tmp / "g8.png")
    files["PNG 16-bit"] = ("g16.png", None)
    files["PNG 8-bit (reference)"] = ("g8.png", None)
    manifest = pd.DataFrame({"path": [str(tmp / f) for f, _ in files.values()], "label": 0, "method": "real"})
    res = extract_faces(manifest, tmp / "out", detector="yunet", model_path=str(MODEL), progress=False)
    print("| file | status | crop peak | crop mean |\n|---|---|---|---|")
    for name, (fname, _) in files.items():
        status = res.status.loc[res.status["path"] == str(tmp / fname), "status"].iloc[0]
        crops = res.crops[res.crops["path"] == str(tmp / fname)]
        if len(crops):
            crop = np.asarray(Image.open(tmp / "out" / crops["crop_path"].iloc[0]))
            print(f"| {name} | {status} | {crop.max()} | {crop.mean():.1f} |")
        else:
            print(f"| {name} | {status} | - | - |")


def _rss_mb():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def png_orientation_cost(tmp, repeats=5):
    picture = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), np.uint8)
    path = tmp / "big.png"
    Image.fromarray(picture).save(path, compress_level=1)
    del picture
    gc.collect()
    times, grown, decode = [], [], []
    for _ in range(repeats):
        item = load_item(str(path))
        t = time.process_time()
        item.pixels
        decode.append(time.process_time() - t)
        before = _rss_mb()
        t = time.process_time()
        item.orientation
        times.append(time.process_time() - t)
        grown.append(_rss_mb() - before)
        del item
        gc.collect()
    print(f"\n12-megapixel PNG without eXIf: orientation {np.median(times):.3f} CPU s and {np.median(grown):.1f} MB "
          f"resident added, after load_item(...).pixels {np.median(decode):.3f} CPU s (medians of {repeats})")


def main():
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if MODEL.is_file():
            face_rows(tmp)
        else:
            print(f"(face rows skipped: no YuNet model at {MODEL})")
        png_orientation_cost(tmp)


if __name__ == "__main__":
    main()
