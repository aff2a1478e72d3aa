"""Speed of the handcrafted bank against JPEG decoding, and of each numba kernel against its reference.

Targets (issue #2): on 256x256 RGB JPEG face crops, the full bank on one core costs at most 4x the
time of decoding the JPEG (a ratio measured in this run); each numba kernel is at least 5x faster
than its NumPy reference. Also reports the cold first call (numba compile, empty cache), the cold
call with a warm on-disk cache, and images/s with 1 and 2 joblib workers.

    python benchmarks/bench_features.py [--n-images 200] [--repeats 7] [--out results/bench_features.md]

Face crops: LFW faces from ../shared/data/lfw_faceswap/real (250x250) resized to 256x256 with
bicubic interpolation and re-encoded by OpenCV at JPEG quality 90; without ../shared, 256x256 crops
of scikit-image's astronaut photo (the face) at small offsets. Absolute times are noisy on shared
machines: read the ratios, each a median over repeats taken in the same run.
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
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))  # the NumPy references live beside the tests


def face_crops(n):
    """n JPEG byte strings of 256x256 RGB face crops (and where they came from)."""
    folder = SHARED / "data" / "lfw_faceswap" / "real"
    out = []
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
        source = "scikit-image astronaut face crops (JPEG q90)"
    return out, source


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


_COLD = """
import time, numpy as np, cv2
cv2.setNumThreads(1)
t0 = time.perf_counter()
from forensics.features import make_feature_bank
t1 = time.perf_counter()
bank = make_feature_bank().fit()
data = open({path!r}, 'rb').read()
bank.transform([data])
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def cold_calls(sample):
    """(import s, first transform s) in fresh processes: empty numba cache, then warm cache."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "face.jpg"
        path.write_bytes(sample)
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache"))
        runs = []
        for _ in range(2):  # first: compiles and fills the cache; second: loads from the cache
            res = subprocess.run([sys.executable, "-c", _COLD.format(path=str(path))], env=env,
                                 capture_output=True, text=True, check=True)
            runs.append(tuple(float(v) for v in res.stdout.split()))
    return runs


def kernel_ratios(repeats):
    import importlib

    rng = np.random.default_rng(0)
    luma = cv2.GaussianBlur(rng.uniform(0, 255, (256, 256)).astype(np.float32), (0, 0), 1.5)
    rows = []
    for family in ("spectral", "dct", "noise", "blur", "codec"):
        try:
            module = importlib.import_module(f"reference_{family}")
        except ImportError:
            continue
        for name, kern, ref in getattr(module, "KERNEL_CASES", []):
            kern(luma), ref(luma)  # compile / warm up
            tk = median_time(lambda: kern(luma), repeats * 3)
            tr = median_time(lambda: ref(luma), repeats * 3)
            rows.append(dict(kernel=name, kernel_ms=tk * 1e3, reference_ms=tr * 1e3, speedup=tr / tk))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_features.md"))
    args = parser.parse_args(argv)

    from forensics.features import FAMILIES, make_feature_bank
    from forensics.media import load_item

    crops, source = face_crops(args.n_images)
    sample = crops[:32]
    bank = make_feature_bank().fit()
    bank.transform(sample[:2])  # compile

    decode = median_time(lambda: [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in sample],
                         args.repeats) / len(sample)
    full = median_time(lambda: bank.transform(sample), args.repeats) / len(sample)
    per_family = {}
    for name, cls in FAMILIES.items():
        ext = cls().fit()
        items = [load_item(b) for b in sample]
        for it in items:  # decode outside the timing: the family's own cost
            it.luma, it.rgb
        per_family[name] = median_time(lambda: [ext._compute(it) for it in items], args.repeats) / len(sample)

    throughput = {}
    for n_jobs in (1, 2):
        b = make_feature_bank(n_jobs=n_jobs).fit()
        b.transform(crops[:8])
        t = median_time(lambda: b.transform(crops), max(1, args.repeats // 3))
        throughput[n_jobs] = len(crops) / t

    cold = cold_calls(sample[0])
    kernels = kernel_ratios(args.repeats)

    lines = [
        "# Feature bank speed",
        "",
        f"Images: {len(crops)} x 256x256 RGB JPEG, {source}; {bank.n_features_out_} features; "
        f"one core (OMP/OpenCV threads = 1), medians of {args.repeats} repeats.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| JPEG decode (cv2.imdecode) per image | {decode * 1e3:.2f} ms |",
        f"| full bank per image (read + decode + all families) | {full * 1e3:.2f} ms |",
        f"| **ratio bank / decode** (target <= 4) | **{full / decode:.2f}** |",
        *[f"| family `{k}` alone per image (decode excluded) | {v * 1e3:.2f} ms ({v / decode:.2f}x decode) |"
          for k, v in per_family.items()],
        f"| images/s, n_jobs=1 | {throughput[1]:.1f} |",
        f"| images/s, n_jobs=2 | {throughput[2]:.1f} |",
        f"| cold: import forensics (empty numba cache) | {cold[0][0]:.2f} s |",
        f"| cold: first transform, compiling all kernels | {cold[0][1]:.2f} s |",
        f"| cold: first transform, kernels loaded from the on-disk cache | {cold[1][1]:.2f} s |",
        "",
        "| numba kernel (256x256) | kernel ms | NumPy reference ms | speed-up (target >= 5) |",
        "|---|---|---|---|",
        *[f"| {r['kernel']} | {r['kernel_ms']:.3f} | {r['reference_ms']:.3f} | {r['speedup']:.1f}x |" for r in kernels],
        "",
    ]
    report = "\n".join(lines)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    out.with_suffix(".json").write_text(json.dumps(dict(
        decode_s=decode, bank_s=full, ratio=full / decode, per_family_s=per_family,
        images_per_s=throughput, cold=cold, kernels=kernels, source=source), indent=2))
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
