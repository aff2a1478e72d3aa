"""Per-image cost of the opt-in families at 256x256, against decoding and the default bank; kernels
against their NumPy references; cold (compiling) and warm first calls.

    python benchmarks/bench_family_cost.py [--n-images 100] [--repeats 5] [--out results/bench_family_cost.md]

Images: LFW faces resized to 256x256, JPEG q90 (scikit-image astronaut crops without ../shared), as
in bench_features.py. Per family: median over repeats of the time to extract all
images from decoded items (decode excluded), divided by the number of images; the same for the
default bank and for the JPEG decode, so the ratios are measured in one run. One core.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")  # timings of the compiled kernels, never their NumPy twins
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))  # the NumPy references live beside the tests
sys.path.insert(0, str(ROOT / "benchmarks"))
from _timing import median_time  # noqa: E402


def face_crops(n):
    """n JPEG byte strings of 256x256 RGB face crops (LFW reals from ../shared, else astronaut crops)."""
    folder = SHARED / "data" / "lfw_faceswap" / "real"
    out, source = [], "scikit-image astronaut face crops (JPEG q90)"
    if folder.is_dir():
        for path in sorted(folder.glob("*.jpg"))[:n]:
            img = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
            img = cv2.resize(img, (256, 256), interpolation=cv2.INTER_CUBIC)
            out.append(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
        source = "LFW real faces from ../shared (250 -> 256 px, JPEG q90)"
    if len(out) < n:
        from skimage import data

        astro = data.astronaut()[:, :, ::-1]
        rng = np.random.default_rng(0)
        while len(out) < n:
            y, x = rng.integers(0, 64, 2)
            crop = np.ascontiguousarray(astro[y:y + 256, 96 + x:96 + x + 256])
            out.append(cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return out, source


#: (registry name, what it is) of the families whose cost is reported.
FAMILIES = (("cooc", "co-occurrences, default (234)"), ("cooc_large", "co-occurrences, large preset (1183)"),
            ("upsampling", "up-sampling residuals (30)"), ("faceregion", "face-region consistency (39)"),
            ("local", "local inconsistency (24)"))

_COLD = """
import time, sys
t0 = time.perf_counter()
from forensics.features import make_feature_bank
bank = make_feature_bank([{family!r}]).fit()
data = open({path!r}, 'rb').read()
t1 = time.perf_counter()
bank.transform([data])
print(time.perf_counter() - t1)
"""


def cold_call(family, path, cache_dir):
    """Seconds of the first transform in a fresh interpreter with the given numba cache folder."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _COLD.format(family=family, path=path)], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_family_cost.md"))
    args = parser.parse_args(argv)

    from forensics.features import make_feature_bank
    from forensics.media import load_item

    data, source = face_crops(args.n_images)
    n = len(data)
    items = [load_item(d, i) for i, d in enumerate(data)]
    for it in items:  # decode once, and the luma/RGB planes every family reads
        _ = it.rgb, it.luma
    decode = median_time(lambda: [cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR) for d in data],
                         args.repeats) / n
    lines = [f"# Per-image cost of the opt-in families ({source}, {n} images, 256x256, one core)", "",
             f"`python benchmarks/bench_family_cost.py {' '.join(sys.argv[1:])}`; medians of {args.repeats} "
             "repeats, decode excluded from the family times.", "",
             "| extractor | ms / image | x JPEG decode | x default bank |", "|---|---|---|---|"]
    bank = make_feature_bank().fit()
    bank.transform(items[:2])
    t_bank = median_time(lambda: bank.transform(items), args.repeats) / n
    lines.append(f"| default bank (168) | {t_bank * 1e3:.2f} | {t_bank / decode:.1f} | 1.0 |")
    for family, what in FAMILIES:
        ext = make_feature_bank([family]).fit()
        ext.transform(items[:2])  # compile / load the kernels
        t = median_time(lambda: ext.transform(items), args.repeats) / n
        lines.append(f"| {what} | {t * 1e3:.2f} | {t / decode:.1f} | {t / t_bank:.2f} |")
    lines.append(f"| JPEG decode (OpenCV) | {decode * 1e3:.2f} | 1.0 | |")

    lines += ["", "Kernels against their plain references (same luma, medians; `local` is OpenCV/NumPy, not numba):",
              "", "| kernel | package ms | reference ms | speed-up |", "|---|---|---|---|"]
    from reference_cooccurrence import KERNEL_CASES as COOC
    from reference_local import KERNEL_CASES as LOCAL
    from reference_upsampling import KERNEL_CASES as UPS

    luma = items[0].luma
    for name, kernel, reference in (*COOC, *UPS, *LOCAL):
        kernel(luma)
        tk = median_time(lambda: kernel(luma), args.repeats * 3)
        tr = median_time(lambda: reference(luma), args.repeats)
        np.testing.assert_allclose(kernel(luma), reference(luma), rtol=1e-9, atol=1e-12, equal_nan=True)
        lines.append(f"| {name} | {tk * 1e3:.2f} | {tr * 1e3:.2f} | {tr / tk:.1f} |")

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "img.jpg")
        Path(path).write_bytes(data[0])
        lines += ["", "First transform in a fresh interpreter (numba compile with an empty cache / from the "
                  "on-disk cache):", "", "| extractor | cold s | cached s |", "|---|---|---|"]
        for family in ("cooc", "upsampling", "faceregion", "local"):
            cache = str(Path(tmp) / f"numba_{family}")
            cold = cold_call(family, path, cache)
            warm = cold_call(family, path, cache)
            lines.append(f"| {family} | {cold:.2f} | {warm:.2f} |")
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
