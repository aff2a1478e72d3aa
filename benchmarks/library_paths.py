"""Kernels against the library functions that could replace them (issue 10: "every numba kernel
>= 5x its plain reference, or replaced by the library function when that is as fast").

For each candidate, the kernel path of the package and the library path are timed interleaved in
one process (CPU clock, medians, one thread everywhere) on a 256x256 luma, and their values
compared:

- wavelet residual, one analysis pass along axis 0 and one along axis 1 (level 1, db4): the numba
  kernels (``filter_row_pairs``, ``filter_row_streams``) against OpenCV
  ``copyMakeBorder(BORDER_REFLECT)`` (pywt's "symmetric") plus ``sepFilter2D`` with the flipped
  taps, kept at every other sample; the whole residual against PyWavelets ``wavedec2`` / ``waverec2``;
- block DCT statistics: ``block_dct_stats`` against the DCT as two matrix products over the
  blocks (BLAS) followed by NumPy moments and ``bincount`` histograms, or by a numba kernel for
  the statistics alone (defined here, uncached); on real JPEGs from ``../shared`` (when present),
  how many histogram counts move and which DCT columns change beyond 1e-6 relative;
- Haar detail energies: ``haar_detail_energies`` against NumPy strided slices;
- quantization steps: ``lattice_steps`` against a ``scipy.sparse`` product with the lattice
  weights and the same rule in NumPy.

    python benchmarks/library_paths.py [--repeats 300] [--images 80]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")  # timings of the compiled kernels, never their NumPy twins

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _timing import interleaved_ms  # noqa: E402


def interleaved(fns, repeats):
    """Median CPU milliseconds of each callable, called in turn (after one warm-up each)."""
    return interleaved_ms(fns, repeats)


def _luma():
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.uniform(0, 255, (256, 256)).astype(np.float32), (0, 0), 1.5)


def wavelet(luma, repeats):
    import pywt
    from reference_noise import wavelet_reference

    from forensics.features._kernels._noise import filter_row_pairs, filter_row_streams
    from forensics.features._noise import MAD_TO_SIGMA, _analysis_cols, _analysis_rows, _filter_bank, wavelet_residual

    (lo, hi, _, _), f = _filter_bank("db4")
    x = luma.astype(np.float64)
    n0, n1 = x.shape
    m0 = (n0 + f - 1) // 2
    out = np.empty((2 * m0, n1))
    table = _analysis_rows("db4", n0)

    def kernel():
        filter_row_pairs(x, *table, n1, out)

    one = np.ones(1)
    lo_k, hi_k = lo[::-1].copy(), hi[::-1].copy()

    def opencv():
        # y[n] = sum_j lo[j] x~[n - j] at n = 2o + 1: correlation with the flipped taps, anchor 0,
        # over the input extended by F - 1 rows on each side
        pad = cv2.copyMakeBorder(x, f - 1, f - 1, 0, 0, cv2.BORDER_REFLECT)
        a = cv2.sepFilter2D(pad, cv2.CV_64F, one, lo_k, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        d = cv2.sepFilter2D(pad, cv2.CV_64F, one, hi_k, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        return a[1:2 * m0:2], d[1:2 * m0:2]

    m1 = (n1 + f - 1) // 2
    out_rows = np.empty((n0, 2 * m1))
    cols_table = _analysis_cols("db4", n1)

    def kernel_rows():
        filter_row_streams(x, *cols_table, out_rows)

    def opencv_rows():
        pad = cv2.copyMakeBorder(x, 0, 0, f - 1, f - 1, cv2.BORDER_REFLECT)
        a = cv2.sepFilter2D(pad, cv2.CV_64F, lo_k, one, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        d = cv2.sepFilter2D(pad, cv2.CV_64F, hi_k, one, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        return a[:, 1:2 * m1:2], d[:, 1:2 * m1:2]

    kernel()
    kernel_rows()
    a, d = opencv()
    a1, d1 = opencv_rows()
    ref_a, ref_d = pywt.dwt(x, "db4", mode="symmetric", axis=0)
    ref_a1, ref_d1 = pywt.dwt(x, "db4", mode="symmetric", axis=1)
    t = interleaved({"kernel": kernel, "opencv": opencv, "kernel_rows": kernel_rows, "opencv_rows": opencv_rows},
                    repeats)
    res = np.empty_like(x)

    def residual():
        return wavelet_residual(luma, "db4", 2, MAD_TO_SIGMA, res)

    t2 = interleaved({"kernel": residual, "pywt": lambda: wavelet_reference(luma, "db4", 2)}, repeats // 3)
    sigma = residual()
    want = wavelet_reference(luma, "db4", 2)
    return [
        ("wavelet: one analysis pass along axis 0 (level 1, db4, lo + hi)", t["kernel"], "OpenCV pad + sepFilter2D, [1::2]",
         t["opencv"], max(np.abs(out[:m0] - ref_a).max(), np.abs(out[m0:] - ref_d).max()) / np.abs(ref_a).max(),
         max(np.abs(a - ref_a).max(), np.abs(d - ref_d).max()) / np.abs(ref_a).max()),
        ("wavelet: one analysis pass along axis 1 (level 1, db4, lo + hi)", t["kernel_rows"],
         "OpenCV pad + sepFilter2D, [:, 1::2]", t["opencv_rows"],
         max(np.abs(out_rows[:, :m1] - ref_a1).max(), np.abs(out_rows[:, m1:] - ref_d1).max()) / np.abs(ref_a1).max(),
         max(np.abs(a1 - ref_a1).max(), np.abs(d1 - ref_d1).max()) / np.abs(ref_a1).max()),
        ("wavelet residual (db4, 2 levels)", t2["kernel"], "PyWavelets wavedec2 / waverec2", t2["pywt"],
         np.abs(np.append(res.ravel(), sigma) - want).max() / np.abs(want).max(), 0.0),
    ]


def _gemm_dct(y, basis, basis_t):
    """(n_blocks, 64) coefficients, natural order: rows then columns of every block as matrix products."""
    h, w = y.shape
    nby, nbx = h // 8, w // 8
    a = np.asarray(y[:nby * 8, :nbx * 8], np.float64) - 128.0
    t = (a.reshape(nby * 8 * nbx, 8) @ basis_t).reshape(nby, 8, nbx * 8)  # t[r, (bx, v)]
    c = basis @ t  # c[by, u, (bx, v)]
    return np.ascontiguousarray(c.reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3)).reshape(-1, 64)


def _numpy_stats(c, n_bins):
    c2 = c * c
    moments = np.stack([c.sum(0), c2.sum(0), (c2 * c).sum(0), (c2 * c2).sum(0)], 1)
    idx = np.minimum(np.abs(np.rint(c)), n_bins - 1).astype(np.int64)
    hist = np.bincount((idx + n_bins * np.arange(64)).ravel(), minlength=64 * n_bins).reshape(64, n_bins)
    return moments, hist


def _stats_kernel():
    from numba import njit

    @njit(nogil=True, fastmath={"reassoc", "contract", "nsz"})
    def coef_stats(c, moments, hist):
        top = hist.shape[1] - 1
        s1 = np.zeros(64)
        s2 = np.zeros(64)
        s3 = np.zeros(64)
        s4 = np.zeros(64)
        for b in range(c.shape[0]):
            row = c[b]
            for k in range(64):
                x = row[k]
                x2 = x * x
                s1[k] += x
                s2[k] += x2
                s3[k] += x2 * x
                s4[k] += x2 * x2
            for k in range(64):
                a = abs(np.rint(row[k]))
                hist[k, top if a >= top else int(a)] += 1
        for k in range(64):
            moments[k, 0] += s1[k]
            moments[k, 1] += s2[k]
            moments[k, 2] += s3[k]
            moments[k, 3] += s4[k]

    return coef_stats


def block_dct(luma, repeats, n_images):
    import forensics.features._dct as dct

    basis = dct.dct_basis()
    basis_t = np.ascontiguousarray(basis.T)
    coef_stats = _stats_kernel()

    def gemm_numpy(y):
        return _numpy_stats(_gemm_dct(y, basis, basis_t), dct.N_BINS)

    def gemm_kernel(y):
        moments, hist = np.zeros((64, 4)), np.zeros((64, dct.N_BINS), np.int64)
        coef_stats(_gemm_dct(y, basis, basis_t), moments, hist)
        return moments, hist

    moments, hist, _ = dct._block_stats(luma)
    moments, hist = moments.copy(), hist.copy()
    rows = []
    t = interleaved({"kernel": lambda: dct._block_stats(luma), "numpy": lambda: gemm_numpy(luma),
                     "hybrid": lambda: gemm_kernel(luma)}, repeats)
    for key, label, fn in (("numpy", "two matrix products (BLAS) + NumPy moments and bincount", gemm_numpy),
                           ("hybrid", "two matrix products (BLAS) + a numba kernel for the statistics", gemm_kernel)):
        m2, h2 = fn(luma)
        rows.append(("block DCT statistics (edges excluded from the library paths)", t["kernel"], label, t[key],
                     0.0, np.abs(m2 - moments).max() / np.abs(moments).max()))
    lines = []
    paths = sorted((SHARED / "data").glob("*/*/*.jpg")) if (SHARED / "data").is_dir() else []
    if paths:
        rng = np.random.default_rng(0)
        paths = [paths[i] for i in sorted(rng.choice(len(paths), min(n_images, len(paths)), replace=False))]
        names = dct._feature_names(9, 6)
        changed = np.zeros(len(names), int)
        moved = []
        original = dct._block_stats

        def gemm_stats(y, coefs=None):
            _, _, edges = original(y)
            m, h = gemm_numpy(y)
            return m, h, edges

        try:
            for p in paths:
                y = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32)
                dct._block_stats = original
                want = dct.dct_vector(y)
                h_kernel = original(y)[1].copy()
                dct._block_stats = gemm_stats
                got = dct.dct_vector(y)
                moved.append(int(np.abs(gemm_stats(y)[1] - h_kernel).sum() // 2))
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel = np.where(np.isnan(want) & np.isnan(got), 0.0, np.abs(got - want) / np.abs(want))
                changed += ~(rel <= 1e-6)
        finally:
            dct._block_stats = original
        lines.append(f"{len(paths)} JPEGs from ../shared/data (grey, full size): histogram counts moved by the "
                     f"matrix-product DCT (coefficients at exact half-integers rounded the other way), median "
                     f"{np.median(moved):.0f}, max {max(moved)} per image")
        lines += [f"  {n}: beyond 1e-6 relative on {c} of {len(paths)} images" for n, c in zip(names, changed) if c]
    return rows, lines


def haar(luma, repeats):
    from forensics.features._kernels._blur import haar_detail_energies

    def numpy_path(y, levels=3):
        step = 1 << levels
        h, w = (y.shape[0] // step) * step, (y.shape[1] // step) * step
        a = np.asarray(y[:h, :w], np.float64)
        out = np.empty(levels)
        for lev in range(levels):
            s = a[:, 0::2] + a[:, 1::2]
            d = a[:, 0::2] - a[:, 1::2]
            ch, cv, cd = s[0::2] - s[1::2], d[0::2] + d[1::2], d[0::2] - d[1::2]
            out[lev] = 0.25 * (np.vdot(ch, ch) + np.vdot(cv, cv) + np.vdot(cd, cd))
            a = 0.5 * (s[0::2] + s[1::2])
        return out

    def kernel():
        e = np.zeros(3)
        haar_detail_energies(luma, 3, e)
        return e

    t = interleaved({"kernel": kernel, "numpy": lambda: numpy_path(luma)}, repeats)
    return [("Haar detail energies (3 levels)", t["kernel"], "NumPy strided slices", t["numpy"], 0.0,
             np.abs(numpy_path(luma) - kernel()).max() / kernel().max())]


def lattice(repeats):
    import scipy.sparse as sp

    import forensics.features._dct as dct

    rows, cols, vals = [], [], []
    for q in range(2, dct.Q_MAX + 1):
        for n in range(q, dct.N_BINS - 1, q):
            rows += [n, n - 1, n + 1]
            cols += [q - 2] * 3
            vals += [1.0, -0.5, -0.5]
    weights_t = sp.csr_matrix(sp.csc_matrix((vals, (rows, cols)), shape=(dct.N_BINS, dct.Q_MAX - 1)).T)

    def sparse_path(hist):
        h = hist.astype(np.float64)
        informative = h[:, 2:]
        n_inf = informative.sum(axis=1)
        excess = (weights_t @ h.T).T / np.maximum(n_inf, 1.0)[:, None]
        best = excess.max(axis=1)
        with np.errstate(divide="ignore"):
            floor = np.maximum(dct.LATTICE_MIN_SCORE, dct.LATTICE_Z / np.sqrt(n_inf))
        high = excess >= dct.LATTICE_RHO * best[:, None]
        steps = (dct.Q_MAX - np.argmax(high[:, ::-1], axis=1)).astype(np.float64)
        steps[best < floor] = 1.0
        steps[informative.max(axis=1) == n_inf] = np.nan
        steps[n_inf < dct.MIN_INFORMATIVE] = np.nan
        return steps

    # a JPEG-compressed (q75) smooth image: histograms with lattices
    luma = _luma()
    jpeg = cv2.imdecode(cv2.imencode(".jpg", luma.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 75])[1], 0)
    hist = dct._block_stats(jpeg.astype(np.float32))[1].copy()
    t = interleaved({"kernel": lambda: dct.estimate_steps(hist), "sparse": lambda: sparse_path(hist)}, repeats)
    same = np.array_equal(dct.estimate_steps(hist), sparse_path(hist), equal_nan=True)
    return [("quantization steps of 64 histograms", t["kernel"], "scipy.sparse lattice product + NumPy rule",
             t["sparse"], 0.0, 0.0 if same else np.inf)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--images", type=int, default=80)
    args = parser.parse_args(argv)
    luma = _luma()
    rows = wavelet(luma, args.repeats)
    dct_rows, lines = block_dct(luma, args.repeats, args.images)
    rows += dct_rows + haar(luma, args.repeats) + lattice(args.repeats)
    print("| computation | package ms | library path | library ms | library / package | "
          "package error | library error |")
    print("|---|---|---|---|---|---|---|")
    for name, t_k, label, t_l, err_k, err_l in rows:
        print(f"| {name} | {t_k:.3f} | {label} | {t_l:.3f} | {t_l / t_k:.2f} | {err_k:.1e} | {err_l:.1e} |")
    print("\nerrors: largest difference relative to the largest reference value (PyWavelets for the wavelet "
          "rows, the package for the others)")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
