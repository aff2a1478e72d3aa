"""The NumPy twins of the wavelet, Haar and median kernels against the kernels (issue 10, cold start).

``forensics/features/_kernels/_wavelet_twins.py`` holds NumPy twins of ``filter_row_pairs``,
``filter_row_streams``, ``haar_abs_hh`` and ``median_flat``, which the library calls until the
kernels are compiled. This script measures, on 256 px and 1024 px images (LFW faces from
``../shared`` resized by bicubic and JPEG-encoded at quality 90, as ``bench_features.py``; the
scikit-image astronaut without ``../shared``):

1. per kernel, the exact calls the noise family makes for one image (the wavelet residual, db4,
   two levels, and the Haar noise level of the four planes), recorded once, then replayed through
   the kernel and through the twin, interleaved on the CPU clock (medians over repeats, then over
   images): the twin's time, the kernel's and their ratio, and the largest difference of the
   outputs (filters: relative to ``max|src| * sum|coef|``; Haar band and median: must be 0);
2. the two stages together (``wavelet_residual`` + ``haar_sigma``) with the kernels and with the twins;
3. the noise columns (``noise_vector``) through the twins against the kernels on ``--n-agree``
   JPEGs of ``../shared/data`` (CASIA colour and LFW, native sizes) and their grey versions: the
   largest relative difference per column, NaN where NaN, and how often the MAD noise levels (the
   one selection whose input the twins can change by rounding) came out bitwise equal;
4. the first call of the two stages through the twins in a fresh interpreter (nothing compiles).

    python benchmarks/twins_wavelet.py [--n-images 6] [--repeats 15] [--sizes 256 1024] [--n-agree 40]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_features import SHARED, _faces, interleaved, jpegs  # noqa: E402

from forensics.features import _noise as family  # noqa: E402
from forensics.features._kernels import _noise as kernels  # noqa: E402
from forensics.features._kernels._wavelet_twins import TWINS  # noqa: E402
from forensics.media._item import Item  # noqa: E402


def _decoded(data):
    item = Item(data=data)
    return np.ascontiguousarray(item.rgb), np.ascontiguousarray(item.luma)


def _stages(rgb, luma):
    """The two stages of the noise family that call these kernels (and no other kernel), as the
    family calls them: the wavelet residual of the luma (db4, two levels; ``wavelet_stats`` without
    its moments) and the Haar noise level of the four planes."""
    planes = family._planes(rgb, luma)
    family.wavelet_residual(planes[3], "db4", 2, family.MAD_TO_SIGMA,
                            family.scratch("noise.wavelet.residual", planes.shape[1:]))
    family.haar_sigma(planes)


@contextmanager
def patched(replacements):
    """The noise family's kernel names replaced by ``replacements`` (name -> callable)."""
    saved = {name: getattr(family, name) for name in replacements}
    for name, fn in replacements.items():
        setattr(family, name, fn)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(family, name, fn)


def record_calls(rgb, luma):
    """name -> [argument tuples] of every kernel call of the two stages for one image (copies)."""
    calls = {name: [] for name in TWINS}

    def recorder(name):
        def call(*args):
            calls[name].append(tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args))
            return getattr(kernels, name)(*args)
        return call

    with patched({name: recorder(name) for name in TWINS}):
        _stages(rgb, luma)
    return calls


#: Index of the output argument of each kernel (None: the value is returned).
_OUT = {"filter_row_pairs": 5, "filter_row_streams": 5, "haar_abs_hh": 1, "median_flat": None}


def _deviation(name, args):
    """Largest difference between the kernel's and the twin's output on one call (see module doc)."""
    got = []
    for fn in (getattr(kernels, name), TWINS[name]):
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        r = fn(*a)
        got.append(r if _OUT[name] is None else a[_OUT[name]])
    diff = float(np.max(np.abs(np.asarray(got[0]) - np.asarray(got[1])), initial=0.0))
    if name.startswith("filter"):
        src, coef = args[0], args[3]
        scale = np.abs(src).max() * np.abs(coef).reshape(coef.shape[0], -1).sum(axis=1).max()
        return diff / scale if scale else diff
    return diff


def per_kernel(images, repeats):
    """{name: (kernel s, twin s, ratio, max deviation)}: medians over images of the per-image times."""
    rows = {name: [] for name in TWINS}
    for rgb, luma in images:
        calls = record_calls(rgb, luma)
        for name, arglist in calls.items():
            dev = max(_deviation(name, a) for a in arglist)

            def run(fn, arglist=arglist):
                return lambda: [fn(*a) for a in arglist]

            t = interleaved({"kernel": run(getattr(kernels, name)), "twin": run(TWINS[name])}, repeats)
            rows[name].append((t["kernel"], t["twin"], t["twin"] / t["kernel"], dev, len(arglist)))
    return {name: (float(np.median([r[0] for r in v])), float(np.median([r[1] for r in v])),
                   float(np.median([r[2] for r in v])), max(r[3] for r in v), v[0][4]) for name, v in rows.items()}


def whole(images, repeats):
    """(kernels s, twins s, ratio): medians over images of the two stages' time per image."""
    out = []
    for rgb, luma in images:
        fns = {"kernels": lambda: _stages(rgb, luma)}

        def twins_run():
            with patched(TWINS):
                _stages(rgb, luma)

        fns["twins"] = twins_run
        t_k = interleaved(fns, repeats)
        out.append((t_k["kernels"], t_k["twins"], t_k["twins"] / t_k["kernels"]))
    return tuple(float(np.median([o[i] for o in out])) for i in range(3))


def agreement(n):
    """Noise columns through the twins against the kernels on shared JPEGs (colour and grey)."""
    paths = []
    for folder in ("casia_v1/real", "casia_v1/fake", "lfw_faceswap/real", "lfw_faceswap/fake"):
        paths += sorted((SHARED / "data" / folder).rglob("*.jpg"))[: max(1, n // 4)]
    if not paths:
        return None
    names = family.NoiseFeatures().fit().get_feature_names_out()
    worst = np.zeros(len(names))
    nan_mismatch = equal_sigma = equal_haar = n_images = 0
    sigmas = {}

    def wavelet_residual(*args, _f=family.wavelet_residual):
        s = _f(*args)
        sigmas.setdefault("w", []).append(s)
        return s

    for p in paths:
        data = p.read_bytes()
        rgb, luma = _decoded(data)
        for rgb_, luma_ in ((rgb, luma), (np.repeat(luma[..., None], 3, axis=2), luma)):
            sigmas.clear()
            with patched({"wavelet_residual": wavelet_residual}):
                want = family.noise_vector(rgb_, luma_)
                haar_k = family.haar_sigma(family._planes(rgb_, luma_))
                with patched(TWINS):
                    got = family.noise_vector(rgb_, luma_)
                    haar_t = family.haar_sigma(family._planes(rgb_, luma_))
            nan_mismatch += int((np.isnan(got) != np.isnan(want)).any())
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.where(np.isnan(want), 0.0, np.abs(got - want) / np.maximum(np.abs(want), 1e-300))
            worst = np.maximum(worst, np.nan_to_num(rel, nan=np.inf))
            equal_sigma += int(sigmas["w"][0] == sigmas["w"][1])
            equal_haar += int(np.array_equal(haar_k, haar_t))
            n_images += 1
    return names, worst, nan_mismatch, equal_sigma, equal_haar, n_images


_FIRST = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    from forensics.features import _noise as family
    from forensics.features._kernels._wavelet_twins import TWINS
    for name, fn in TWINS.items():
        setattr(family, name, fn)
    rng = np.random.default_rng(0)
    rgb = (rng.random((256, 256, 3)) * 255).astype(np.float32)
    luma = rgb.mean(axis=2)
    times = []
    for _ in range(2):
        c0 = time.process_time()
        planes = family._planes(rgb, luma)
        family.wavelet_residual(planes[3], "db4", 2, family.MAD_TO_SIGMA, np.empty((256, 256)))
        family.haar_sigma(planes)
        times.append(time.process_time() - c0)
    from forensics.features._kernels import _noise as kernels
    print(times[0], times[1], sum(len(getattr(kernels, n).overloads) for n in TWINS))
""")


def first_call():
    """(first, second) CPU s of the two stages through the twins in a fresh interpreter, and the
    number of signatures of the four kernels compiled or loaded meanwhile (0: none)."""
    out = subprocess.run([sys.executable, "-c", _FIRST.format(root=str(ROOT))], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    first, second, loaded = out.stdout.split()
    return float(first), float(second), int(loaded)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--n-agree", type=int, default=40)
    args = ap.parse_args(argv)
    faces, source = _faces(args.n_images)
    print(f"images: {source}; one core, CPU clock, medians of {args.repeats} interleaved repeats")
    for size in args.sizes:
        images = [_decoded(b) for b in jpegs(faces, size)]
        print(f"\n{size}x{size}: per kernel, the calls of one image (wavelet db4 level 2 + Haar sigma of 4 planes)")
        print(f"  {'kernel':20s} {'calls':>5s} {'kernel ms':>10s} {'twin ms':>9s} {'twin/kernel':>11s} "
              f"{'max deviation':>14s}")
        for name, (tk, tt, ratio, dev, n_calls) in per_kernel(images, args.repeats).items():
            print(f"  {name:20s} {n_calls:5d} {tk * 1e3:10.3f} {tt * 1e3:9.3f} {ratio:11.1f} {dev:14.2e}")
        tk, tt, ratio = whole(images, args.repeats)
        print(f"  both stages: kernels {tk * 1e3:.2f} ms, twins {tt * 1e3:.2f} ms, twins/kernels {ratio:.1f}")
    agree = agreement(args.n_agree)
    if agree is None:
        print("\nagreement: skipped (no ../shared/data)")
    else:
        names, worst, nan_mismatch, eq_sigma, eq_haar, n = agree
        order = np.argsort(worst)[::-1]
        print(f"\nnoise columns through the twins vs the kernels, {n} images (shared JPEGs, colour and grey):")
        print(f"  largest relative difference {worst.max():.2e} ({names[order[0]]}); columns above 1e-9: "
              f"{int((worst > 1e-9).sum())} of {len(names)}; images with a NaN mismatch: {nan_mismatch}")
        print(f"  wavelet MAD sigma bitwise equal on {eq_sigma} of {n} images; "
              f"Haar sigmas (4 planes) on {eq_haar} of {n}")
        for k in order[:3]:
            print(f"    {names[k]}: {worst[k]:.2e}")
    first, second, loaded = first_call()
    print(f"\nfresh interpreter, 256 px, both stages through the twins: first call {first * 1e3:.1f} ms CPU, "
          f"second {second * 1e3:.1f} ms; kernel signatures compiled or loaded: {loaded}")


if __name__ == "__main__":
    main()
