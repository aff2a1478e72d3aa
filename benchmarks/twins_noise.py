"""The NumPy twins of the noise moment kernels against the kernels: speed and agreement (issue 10,
cold start; ``forensics/features/_kernels/_noise_twins.py``).

Measured, one core (OpenCV, BLAS and numba threads set to 1), CPU clock, medians of interleaved
repeats (kernels compiled and warm beforehand):

1. time per call of each kernel and its twin (``median_moments`` and ``srm_moments`` on the four
   planes r, g, b, y; ``plane_moments`` on the db4 level-2 wavelet residual of the luma, as the noise
   family calls them, grid 4) on 256x256 and 1024x1024 JPEGs (LFW faces from ../shared resized with
   bicubic interpolation, or scikit-image's astronaut without ../shared), and the twin / kernel ratio;
   the noise family's ``_compute`` with the kernels and with the three twins in their place;
2. agreement on real images: the noise family (every column) through the kernels and through the
   twins, on colour and grey JPEGs (LFW and CASIA from ../shared as stored; grey: the same decoded
   to grey and re-encoded as JPEG quality 90) and the regression fixture inputs: NaN patterns that
   differ, the largest relative difference of a column (and which), and the images whose median
   cell sums of r, g, b and their cross products (integer-valued residuals of uint8 data: exact
   sums in any order) are bitwise the kernel's (the luma of a colour image is not integer-valued).

    python benchmarks/twins_noise.py [--n-images 16] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

from bench_features import _faces, interleaved, jpegs  # noqa: E402
from forensics.features import _noise as N  # noqa: E402
from forensics.features._kernels import _noise as K  # noqa: E402
from forensics.features._kernels import _noise_twins as T  # noqa: E402
from forensics.features._noise import NoiseFeatures  # noqa: E402
from forensics.media._item import Item  # noqa: E402

GRID = 4


class _Twins:
    """Context: the noise family's module-level kernel names bound to the twins."""

    def __enter__(self):
        self.saved = {name: getattr(N, name) for name in T.TWINS}
        for name, twin in T.TWINS.items():
            setattr(N, name, twin)

    def __exit__(self, *exc):
        for name, fn in self.saved.items():
            setattr(N, name, fn)


def _calls(item):
    """name -> (kernel call, twin call) on one decoded image, as the noise family makes them."""
    h, w = item.luma.shape
    planes = N._planes(item.rgb, item.luma).copy()
    residual = np.empty((h, w))
    N.wavelet_residual(planes[3], "db4", 2, N.MAD_TO_SIGMA, residual)
    args = {
        "median_moments": lambda: (planes, GRID, N._bounds(w, GRID, 1, w - 1), np.zeros((4, GRID ** 2, 5)),
                                   np.zeros(3)),
        "srm_moments": lambda: (planes, GRID, N._bounds(w, GRID, 2, w - 2), np.zeros((7, GRID ** 2, 5)),
                                np.zeros(3)),
        "plane_moments": lambda: (residual, GRID, N._bounds(w, GRID, 0, w), np.zeros((GRID ** 2, 5))),
    }
    out = {}
    for name, make in args.items():
        ka, ta = make(), make()
        out[name] = (lambda f=getattr(K, name), a=ka: f(*a), lambda f=T.TWINS[name], a=ta: f(*a))
    return out


def speed(images, sizes, repeats):
    rows = []
    for size in sizes:
        items = [Item(data=b) for b in jpegs(images, size)]
        per = {}
        for item in items:
            calls = _calls(item)
            fns = {f"{name} {tier}": fn for name, pair in calls.items() for tier, fn in zip(("kernel", "twin"), pair)}
            for k, v in interleaved(fns, repeats).items():
                per.setdefault(k, []).append(v)
        extractor = NoiseFeatures().fit()

        def family():
            for item in items:
                extractor._compute(item)

        def family_twins():
            with _Twins():
                family()

        fam = interleaved({"kernel": family, "twin": family_twins}, max(3, repeats // 3))
        for name in T.TWINS:
            k = float(np.median(per[f"{name} kernel"]))
            t = float(np.median(per[f"{name} twin"]))
            rows.append((size, name, k, t))
        rows.append((size, "noise family (_compute)", fam["kernel"] / len(items), fam["twin"] / len(items)))
    print(f"\n## Speed ({len(images)} images per size, {repeats} interleaved repeats, CPU ms per image)\n")
    print("| size | kernel | kernel ms | twin ms | twin / kernel |")
    print("|---|---|---|---|---|")
    for size, name, k, t in rows:
        print(f"| {size} | {name} | {k * 1e3:.3f} | {t * 1e3:.3f} | {t / k:.1f} |")


def _real_images(n):
    """(label, encoded bytes) of colour and grey JPEGs from ../shared, n of each kind and set."""
    out = []
    for folder in ("lfw_faceswap", "casia_v1"):
        every = sorted((SHARED / folder).rglob("*.jpg"))
        paths = every[::max(1, len(every) // n)][:n]  # spread over the set (real and fake folders)
        for p in paths:
            data = p.read_bytes()
            out.append((f"{folder} colour", data))
            grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
            out.append((f"{folder} grey", cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()))
    return out


def agreement(n):
    import regression_features

    inputs = [("regression fixture", x) for x in regression_features.load()[0].values()]
    if SHARED.is_dir():
        inputs += _real_images(n)
    else:
        print("(../shared/data absent: regression fixture inputs only)")
    groups = {}
    for label, x in inputs:
        groups.setdefault(label, []).append(x)
    print(f"\n## Agreement: noise family through the twins against the kernels ({len(inputs)} images)\n")
    print("| inputs | images | columns | NaN patterns differing | max relative difference (column) "
          "| median r, g, b sums bitwise equal |")
    print("|---|---|---|---|---|---|")
    for params in ({}, dict(grid=3, wavelet="sym4", wavelet_level=3)):
        for label, xs in groups.items():
            ext = NoiseFeatures(**params).fit()
            names = ext.get_feature_names_out()
            with warnings.catch_warnings():  # the fixture's 1x1 image has no noise value (meant)
                warnings.simplefilter("ignore")
                want = ext.transform(xs)
                with _Twins():
                    got = ext.transform(xs)
            nan_diff = int((np.isnan(got) != np.isnan(want)).sum())
            both = np.isfinite(got) & np.isfinite(want)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(both, np.abs(got - want) / np.maximum(np.abs(want), 1e-300), 0.0)
            exact = 0
            for x in xs:
                item = Item(data=x) if isinstance(x, bytes) else Item(pixels=x)
                try:
                    planes = N._planes(item.rgb, item.luma).copy()
                except Exception:  # an input the family refuses (none in these sets)
                    continue
                g = params.get("grid", 4)
                ref = N.median_stats(planes, g)
                with _Twins():
                    twin = N.median_stats(planes, g)
                exact += bool(np.array_equal(ref[0][:3], twin[0][:3]) and np.array_equal(ref[1], twin[1]))
            worst = names[np.unravel_index(np.argmax(rel), rel.shape)[1]]
            print(f"| {label} {params or 'defaults'} | {len(xs)} | {got.shape[1]} | {nan_diff} | "
                  f"{rel.max():.2e} ({worst}) | {exact} / {len(xs)} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-images", type=int, default=16)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    args = p.parse_args(argv)
    images, source = _faces(args.n_images)
    print(f"# NumPy twins of the noise moment kernels\n\nImages: {source}")
    speed(images, args.sizes, args.repeats)
    agreement(args.n_images)


if __name__ == "__main__":
    main()
