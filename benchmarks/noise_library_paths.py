"""Could OpenCV / NumPy replace the noise family's median, SRM and Haar kernels? (issue 10, cold start)

Issue 10 asks of every numba kernel that it be >= 5x its plain reference "or replaced by the library
function (OpenCV, scipy.fft, PyWavelets) when that is as fast", and each kernel the first transform
does not compile saves its compile time. This script builds the library versions of three noise
kernels and measures them against the kernels, so that the decision rests on figures:

- ``median_moments`` -> ``cv2.medianBlur`` (float32, 3x3) over the four planes stacked as one
  (4H, W) image (the rows where two planes meet are border rows, never used), the residual
  ``x - median`` in float64 (``cv2.subtract(..., dtype=CV_64F)``, exact), shifted by its first
  interior value, border zeroed, moments per cell by the compiled ``plane_moments`` (kept for the
  wavelet residual anyway), channel cross products by ``np.dot``; variant: the moments by
  ``np.add.reduceat`` over the cells instead of ``plane_moments``;
- ``srm_moments`` -> the planes converted to float64 once ((4H, W)), KV3 by ``cv2.sepFilter2D``
  (``-(1/4) [1, -2, 1]^T [1, -2, 1]``) over the stacked planes, first order by NumPy differences,
  second order by ``cv2.filter2D`` with ``[0.5, -1, 0.5]`` (and its transpose), KV5 (rank 2) as two
  ``cv2.sepFilter2D`` (``[-1, 2, -2, 2, -1]^T [1, 0, -2, 0, 1] + [2, -6, 8, -6, 2]^T [0, 1, -2, 1, 0]``)
  then / 12, then the same shifted moments as above (OpenCV 5's ``filter2D`` has no float32 ->
  float64 path, hence the conversion);
- ``haar_abs_hh`` -> NumPy slicing in float64, column pairs first (``a - b`` and ``c - d`` in one
  strided subtraction over every row), then the row pairs, ``abs``, ``* 0.5``; variant (the band
  alone): the planes times the sign checkerboard, 2x2 block means by ``cv2.resize(INTER_AREA)``.

Measured, one core, CPU clock, medians of interleaved repeats:

1. agreement: the largest relative difference of every statistic (moments, correlations,
   per-cell variances) between each library version and its kernel, on the 256 px faces and on
   random planes of odd and tiny sizes (the Haar band must be bitwise equal);
2. time per image of each stage, kernel against library;
3. the whole noise family (``NoiseFeatures._compute``) and the whole bank (``transform``) with the
   kernels, with each library version swapped in alone, and with all three;
4. cold start, in fresh processes with an empty ``NUMBA_CACHE_DIR``: the compile CPU seconds of
   each of the three kernels once the kernels the family keeps (``plane_moments``, ``median_flat``)
   are compiled (what replacing them would save), and the first ``transform`` of one image (noise
   family, then the bank) with the kernels and with the library versions (interleaved pairs).

    python benchmarks/noise_library_paths.py [--n-images 32] [--repeats 15] [--sizes 256 1024] [--cold-pairs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from contextlib import contextmanager
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")  # timings of the compiled kernels, never their NumPy twins

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

from bench_features import _faces, interleaved, jpegs  # noqa: E402
from forensics.features import _noise as N  # noqa: E402
from forensics.features._kernels._noise import median_flat, plane_moments  # noqa: E402
from forensics.features._workspace import scratch  # noqa: E402

KERNELS = ("median_moments", "srm_moments", "haar_abs_hh")

_V121 = np.array([1.0, -2.0, 1.0])
_H121 = np.array([-0.25, 0.5, -0.25])
_KV5_V = (np.array([-1.0, 2, -2, 2, -1]), np.array([2.0, -6, 8, -6, 2]))
_KV5_H = (np.array([1.0, 0, -2, 0, 1]), np.array([0.0, 1, -2, 1, 0]))
_O2 = np.array([[0.5, -1.0, 0.5]])


# -- the library versions (same inputs and outputs as median_stats / srm_stats / haar_sigma) --------

def _counts(h, w, grid, b):
    rows = np.diff(N._bounds(h, grid, b, h - b))
    cols = np.diff(N._bounds(w, grid, b, w - b))
    return np.outer(rows, cols).ravel().astype(np.float64)


def _plane_moments_cells(res, b, grid, cells, rows):
    for i, row in enumerate(rows):
        plane_moments(res[i], grid, N._bounds(res.shape[2], grid, b, res.shape[2] - b), cells[row])


def _reduceat_cells(res, b, grid, cells, rows):
    """Cell sums of d, d^2, d^3, d^4 by np.add.reduceat over row then column cell bounds (border is zero)."""
    h, w = res.shape[1:]
    rb = N._bounds(h, grid, b, h - b)[:-1]
    cb = N._bounds(w, grid, b, w - b)[:-1]
    d2 = res * res
    for k, power in enumerate((res, d2, d2 * res, d2 * d2), start=1):
        sums = np.add.reduceat(np.add.reduceat(power, rb, axis=1), cb, axis=2).reshape(len(rows), -1)
        for i, row in enumerate(rows):
            cells[row, :, k] += sums[i]


def _shifted_moments(res, rows, b, grid, cells, cross, cell_sums=_plane_moments_cells):
    """``res`` (Q, H, W) float64 residuals valid on ``[b:H-b, b:W-b]``: shift each by its first valid
    value (pooled rows share the first one's, as the kernels do), zero the border, sum the moments
    per cell into ``cells[rows[q]]`` and the products of planes 0, 1, 2 into ``cross``."""
    q, h, w = res.shape
    k = res[:, b, b].copy()
    for i in range(1, q):
        if rows[i] == rows[i - 1]:
            k[i] = k[i - 1]
    res -= k[:, None, None]
    res[:, :b] = 0.0
    res[:, h - b:] = 0.0
    res[:, :, :b] = 0.0
    res[:, :, w - b:] = 0.0
    cell_sums(res, b, grid, cells, rows)
    n = _counts(h, w, grid, b)
    for row in set(rows):
        cells[row, :, 0] = n * rows.count(row)
    a, g, bl = res[0].ravel(), res[1].ravel(), res[2].ravel()
    cross[:] = np.dot(a, g), np.dot(a, bl), np.dot(g, bl)


def median_stats_library(planes, grid, cell_sums=_plane_moments_cells):
    p, h, w = planes.shape
    cells, cross = np.zeros((p, grid * grid, 5)), np.zeros(3)
    if h < 3 or w < 3:
        return cells, cross
    flat = planes.reshape(p * h, w)
    med = cv2.medianBlur(flat, 3, dst=scratch("bench.median", (p * h, w), np.float32))
    res = scratch("bench.median.res", (p, h, w))
    cv2.subtract(flat, med, dst=res.reshape(p * h, w), dtype=cv2.CV_64F)
    _shifted_moments(res, list(range(p)), 1, grid, cells, cross, cell_sums)
    return cells, cross


def median_stats_reduceat(planes, grid):
    return median_stats_library(planes, grid, _reduceat_cells)


def srm_stats_library(planes, grid):
    _, h, w = planes.shape
    cells, cross = np.zeros((7, grid * grid, 5)), np.zeros(3)
    if h < 5 or w < 5:
        return cells, cross
    x = scratch("bench.srm.x", (4 * h, w))
    np.copyto(x, planes.reshape(4 * h, w))
    res = scratch("bench.srm.res", (9, h, w))
    cv2.sepFilter2D(x, cv2.CV_64F, _H121, _V121, dst=res[:4].reshape(4 * h, w))  # KV3, r g b y
    y = x[3 * h:]
    np.subtract(y[:, 1:], y[:, :-1], out=res[4][:, :-1])  # X[i, j+1] - X[i, j]
    np.subtract(y[1:], y[:-1], out=res[5][:-1])  # X[i+1, j] - X[i, j]
    cv2.filter2D(y, cv2.CV_64F, _O2, dst=res[6])
    cv2.filter2D(y, cv2.CV_64F, _O2.T, dst=res[7])
    t = scratch("bench.srm.t", (h, w))
    cv2.sepFilter2D(y, cv2.CV_64F, _KV5_H[0], _KV5_V[0], dst=res[8])
    cv2.sepFilter2D(y, cv2.CV_64F, _KV5_H[1], _KV5_V[1], dst=t)
    res[8] += t
    res[8] /= 12.0
    _shifted_moments(res, [0, 1, 2, 3, 4, 4, 5, 5, 6], 2, grid, cells, cross)
    return cells, cross


def haar_sigma_numpy(planes):
    p, h, w = planes.shape
    if h < 2 or w < 2:
        return np.full(p, np.nan)
    h2, w2 = h // 2, w // 2
    d = scratch("bench.haar.d", (p, 2 * h2, w2))
    np.subtract(planes[:, :2 * h2, 0:2 * w2:2], planes[:, :2 * h2, 1:2 * w2:2], out=d, dtype=np.float64)
    hh = scratch("bench.haar.hh", (p, h2, w2))
    np.subtract(d[:, 0::2], d[:, 1::2], out=hh)
    np.abs(hh, out=hh)
    hh *= 0.5
    counts = np.empty((4, N._SELECT_BINS), dtype=np.int64)
    cand = scratch("noise.cand", (h2 * w2 + 1,))
    out = np.empty(p)
    for k in range(p):
        out[k] = median_flat(hh[k].ravel(), counts, cand)
    return out / N.MAD_TO_SIGMA


def haar_hh_area(planes):
    """|HH| of every plane by OpenCV: the planes times the sign checkerboard ``(-1)^(i+j)`` (exact,
    float64 out), 2x2 block means by ``cv2.resize(INTER_AREA)``, ``abs``, ``* 2`` (the band only,
    without the medians)."""
    p, h, w = planes.shape
    h2, w2 = h // 2, w // 2
    even = planes[:, :2 * h2, :2 * w2]
    signs = np.where(np.add.outer(np.arange(2 * h2), np.arange(2 * w2)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    signed = scratch("bench.haar.signed", (p * 2 * h2, 2 * w2))
    cv2.multiply(np.ascontiguousarray(even).reshape(p * 2 * h2, 2 * w2),
                 np.ascontiguousarray(np.broadcast_to(signs, even.shape)).reshape(p * 2 * h2, 2 * w2),
                 dst=signed, dtype=cv2.CV_64F)
    hh = cv2.resize(signed, (w2, p * h2), dst=scratch("bench.haar.area", (p * h2, w2)), interpolation=cv2.INTER_AREA)
    np.abs(hh, out=hh)
    hh *= 2.0
    return hh.reshape(p, h2, w2)


def haar_hh_kernel(planes):
    """|HH| of every plane by the kernel (the band only, without the medians)."""
    from forensics.features._kernels._noise import haar_abs_hh

    p, h, w = planes.shape
    hh = scratch("bench.haar.kernel", (p, h // 2, w // 2))
    for k in range(p):
        haar_abs_hh(planes[k], hh[k])
    return hh


SWAPS = {"median_stats": median_stats_library, "srm_stats": srm_stats_library, "haar_sigma": haar_sigma_numpy}


@contextmanager
def library(*names):
    """The noise family with the named stages (keys of SWAPS) replaced by their library versions."""
    orig = {n: getattr(N, n) for n in names}
    for n in names:
        setattr(N, n, SWAPS[n])
    try:
        yield
    finally:
        for n, f in orig.items():
            setattr(N, n, f)


# -- 1. agreement -------------------------------------------------------------------------------------

def agreement(planes_list):
    """Largest relative difference per library version over every comparable statistic."""
    import reference_noise as R

    rng = np.random.default_rng(0)
    extra = [R.planes_of((rng.random(s) * 255).astype(np.float32))
             for s in [(3, 3), (5, 5), (7, 9), (13, 17), (24, 31), (64, 33)] for _ in range(3)]
    worst = {}
    for p in list(planes_list) + extra:
        for name, kern, lib in (("median_stats", N.median_stats, median_stats_library),
                                ("median_stats, moments by np.add.reduceat", N.median_stats, median_stats_reduceat),
                                ("srm_stats", N.srm_stats, srm_stats_library)):
            a, b = R.kernel_vector(*kern(p, 4)), R.kernel_vector(*lib(p, 4))
            if not np.array_equal(np.isnan(a), np.isnan(b)):
                raise AssertionError(f"{name}: NaN where the kernel has none, or the reverse")
            ok = np.isfinite(a)
            rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(a[ok]), 1e-300)
            worst[name] = max(worst.get(name, 0.0), float(rel.max(initial=0.0)))
        worst["haar_sigma (bitwise: 0 = equal)"] = max(worst.get("haar_sigma (bitwise: 0 = equal)", 0.0),
                                                       float(not np.array_equal(N.haar_sigma(p), haar_sigma_numpy(p))))
        if min(p.shape[1:]) >= 2:
            worst["Haar band by cv2.resize (bitwise: 0 = equal)"] = max(
                worst.get("Haar band by cv2.resize (bitwise: 0 = equal)", 0.0),
                float(not np.array_equal(haar_hh_kernel(p), haar_hh_area(p))))
    return worst


# -- 4. cold start ------------------------------------------------------------------------------------

_MARGINAL = textwrap.dedent("""
    import json, time
    from numba import njit, types
    njit(lambda a: a[0] + 1.0).compile((types.Array(types.float64, 1, "C"),))  # numba's one-off set-up
    from forensics.features._kernels._config import DECLARED
    import forensics.features._kernels._noise
    mod = "forensics.features._kernels._noise"
    out = {{}}
    for name in ("plane_moments", "median_flat") + {kernels!r}:
        disp, sig = DECLARED[(mod, name)]
        t = time.process_time()
        disp.compile(sig)
        out[name] = time.process_time() - t
    print(json.dumps(out))
""")

_FIRST = textwrap.dedent("""
    import json, sys, time
    c0 = time.process_time()
    sys.path.insert(0, {bench!r})
    import cv2
    cv2.setNumThreads(1)
    import forensics.features as F
    if {library!r}:
        import noise_library_paths as L
        from forensics.features._kernels._config import DECLARED
        for name in L.KERNELS:
            del DECLARED[("forensics.features._kernels._noise", name)]
        swap = L.library(*L.SWAPS)  # kept referenced: a collected generator would undo the swap
        swap.__enter__()
    est = F.NoiseFeatures() if {family!r} == "noise" else F.make_feature_bank()
    est.fit()
    c1 = time.process_time()
    est.transform([{image!r}])
    print(json.dumps(time.process_time() - c1))
""")


def _child(code, tmp):
    env = dict(os.environ, NUMBA_CACHE_DIR=tempfile.mkdtemp(dir=tmp), PYTHONPATH=str(ROOT),
               FORENSICS_COMPILE_JOBS="1")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp)
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def cold(sample, pairs):
    """Marginal compile CPU s of the three kernels, and first-transform CPU s (kernels / library)."""
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "face.jpg"
        image.write_bytes(sample)
        marginal = [_child(_MARGINAL.format(kernels=KERNELS), tmp) for _ in range(pairs)]
        first = {}
        for _ in range(pairs):
            for family in ("noise", "bank"):
                for lib in (False, True):
                    code = _FIRST.format(bench=str(HERE), library=lib, family=family, image=str(image))
                    first.setdefault(f"{family}, {'library' if lib else 'kernels'}", []).append(_child(code, tmp))
    return marginal, first


# -- main ---------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--cold-pairs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "results" / "noise_library_paths.md"))
    args = parser.parse_args(argv)
    import forensics.features as F
    from forensics.media import load_item

    faces, source = _faces(args.n_images)
    lines = [f"# Library versions of the noise kernels ({source}, one core, CPU clock, medians of "
             f"{args.repeats} interleaved repeats; load average {os.getloadavg()[0]:.1f} at the start)", ""]
    for size in args.sizes:
        data = jpegs(faces, size)
        n = len(data)
        items = [load_item(b) for b in data]
        for it in items:
            it.luma, it.rgb, it.header
        planes = [N._planes(it.rgb, it.luma).copy() for it in items]
        if size == args.sizes[0]:
            lines += ["## Agreement with the kernels (largest relative difference)", ""]
            lines += [f"- {k}: {v:.1e}" for k, v in agreement(planes).items()] + [""]
        stage = interleaved({
            "median_moments (kernel)": lambda: [N.median_stats(p, 4) for p in planes],
            "median: cv2.medianBlur + cv2.subtract + plane_moments": lambda: [median_stats_library(p, 4) for p in planes],
            "median: the same, moments by np.add.reduceat": lambda: [median_stats_reduceat(p, 4) for p in planes],
            "srm_moments (kernel)": lambda: [N.srm_stats(p, 4) for p in planes],
            "srm: cv2 filters + plane_moments": lambda: [srm_stats_library(p, 4) for p in planes],
            "haar_abs_hh + medians (kernel)": lambda: [N.haar_sigma(p) for p in planes],
            "haar: NumPy slicing + medians": lambda: [haar_sigma_numpy(p) for p in planes],
            "Haar band alone, 4 planes (kernel)": lambda: [haar_hh_kernel(p) for p in planes],
            "Haar band alone: sign checkerboard + cv2.resize(INTER_AREA)": lambda: [haar_hh_area(p) for p in planes],
        }, args.repeats)
        noise, bank = F.NoiseFeatures().fit(), F.make_feature_bank().fit()

        def family(*names):
            def run():
                with library(*names):
                    for it in items:
                        noise._compute(it)
            return run

        def whole(*names):
            def run():
                with library(*names):
                    bank.transform(data)
            return run

        fam = interleaved({"kernels": family(), "median library": family("median_stats"),
                           "srm library": family("srm_stats"), "haar NumPy": family("haar_sigma"),
                           "all three library": family(*SWAPS),
                           "bank, kernels": whole(), "bank, all three library": whole(*SWAPS)}, args.repeats)
        lines += [f"## {size}x{size}, {n} images: ms per image", "", "| stage | ms |", "|---|---|"]
        lines += [f"| {k} | {v / n * 1e3:.3f} |" for k, v in stage.items()]
        lines += ["", "| noise family (`_compute`) / bank (`transform`) | ms | / kernels |", "|---|---|---|"]
        base = {"bank": fam["bank, kernels"], "noise": fam["kernels"]}
        lines += [f"| {k} | {v / n * 1e3:.3f} | {v / base['bank' if k.startswith('bank') else 'noise']:.3f} |"
                  for k, v in fam.items()] + [""]
        print("\n".join(lines[-25:]), flush=True)
    marginal, first = cold(jpegs(faces[:1], 256)[0], args.cold_pairs)
    lines += ["## Cold start (fresh processes, empty numba cache, CPU s)", "",
              "Compile CPU s of each kernel after numba's set-up, `plane_moments` and `median_flat` "
              "(kept), per run: " + "; ".join(", ".join(f"{k} {v:.2f}" for k, v in m.items()) for m in marginal), "",
              "| first `transform` of one 256 px image | CPU s per run (interleaved) | median |", "|---|---|---|"]
    lines += [f"| {k} | {', '.join(f'{x:.2f}' for x in v)} | {np.median(v):.2f} |" for k, v in first.items()]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
