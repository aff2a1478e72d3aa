"""NumPy twins of the dct, blur and spectral kernels against the kernels (issue 10, cold start).

Two parts, one process (CPU clock, medians of interleaved repeats, one thread everywhere):

- ``speed``: each twin (``forensics/features/_kernels/_*_twins.py``) against its compiled kernel on
  the luma of a 256x256 and a 1024x1024 JPEG (a 1/f "photo", quality 90), with the arguments the
  feature code passes; the ratio twin / kernel and the sum of the twins per image. Also
  ``lattice_steps.py_func`` (the kernel's own Python, with ``lattice_scores.py_func``: no compile),
  the other candidate twin for the step rule.
- ``ties``: how many histogram counts of ``block_dct_stats`` the twin puts in another bin than the
  kernel, and whether every such coefficient is an exact half-integer (a tie: on integer-valued
  luma the DC and the (0, 4), (4, 0), (4, 4) frequencies are multiples of 1/8), on the regression
  fixture inputs and on JPEGs from ``../shared/data`` (colour luma as the library computes it, and
  the same files decoded grey: integer luma, as a grey JPEG gives). The same count for the kernel
  compiled for a CPU without FMA (``NUMBA_CPU_NAME=generic``, in a child process) against this
  machine's kernel, and for a tie-robust rounding (a coefficient within ``TIE_TOL`` of a
  half-integer rounds as that half-integer, half to even) applied to the coefficients of the
  kernel, the twin and the generic kernel, with how much the robust rule moves against today's
  kernel and which regression-fixture columns it changes beyond 1e-6.

    PYTHONPATH=$PWD python benchmarks/twins_dbs.py [--repeats 200] [--images 100] [--part speed|ties|all]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _timing import interleaved_ms  # noqa: E402

#: Tolerance of the proposed tie-robust rounding (coefficients are at most 1024 in magnitude; the
#: kernel's arithmetic errors measured here are below 1e-12).
TIE_TOL = 1e-9


def interleaved(fns, repeats):
    """Median CPU milliseconds of each callable, called in turn (after one warm-up each)."""
    return interleaved_ms(fns, repeats)


def photo_luma(size):
    """Luma of a (size, size) 1/f RGB field saved as JPEG quality 90, as the library reads it."""
    from regression_features import _encode, _field, _u8

    from forensics.media._item import load_item

    data = _encode(_u8(_field(np.random.default_rng(size), size, size)), "JPEG", quality=90)
    return load_item(data).luma


def calls(luma):
    """name -> (kernel, twin, fresh-arguments factory), with the feature code's arguments."""
    from forensics.features import _blur, _dct, _spectral
    from forensics.features._kernels import _blur as kb
    from forensics.features._kernels import _blur_twins as tb
    from forensics.features._kernels import _dct as kd
    from forensics.features._kernels import _dct_twins as td
    from forensics.features._kernels import _spectral as ks
    from forensics.features._kernels import _spectral_twins as ts

    h, w = luma.shape
    moments, hist, edges = _dct._block_stats(luma)
    hist = hist.copy()
    lat = (_dct.Q_MAX + 1, _dct.MIN_INFORMATIVE, _dct.LATTICE_MIN_SCORE, _dct.LATTICE_Z, _dct.LATTICE_RHO)
    # the spectral sums' inputs, built as spectral_vector builds them
    x, energy = _spectral._windowed(luma, "hann")
    geo = _spectral._geometry(h, w, 32, 0.5)
    p = (np.abs(np.fft.rfft2(x)) ** 2).ravel()
    lp = np.log(np.maximum(p, _spectral._REL_FLOOR * energy))
    n_bins = geo.bin_weight.shape[0]

    scores = kd.lattice_scores

    def steps_py():
        kd.lattice_steps.py_func.__globals__["lattice_scores"] = scores.py_func
        try:
            kd.lattice_steps.py_func(hist, *lat, np.empty(64))
        finally:
            kd.lattice_steps.py_func.__globals__["lattice_scores"] = scores

    return {
        "block_dct_stats": (kd.block_dct_stats, td.block_dct_stats, lambda: (
            luma, _dct._BASIS, np.empty((0, 64)), np.zeros((64, 4)), np.zeros((64, _dct.N_BINS), np.int64),
            np.zeros(4))),
        "lattice_steps": (kd.lattice_steps, td.lattice_steps, lambda: (hist, *lat, np.empty(64))),
        "sharpness_edges": (kb.sharpness_edges, tb.sharpness_edges, lambda: (
            luma, 4, _blur._bounds(w, 4), 20.0, np.zeros((16, 5)), np.empty((h - 2) * (w - 2)))),
        "haar_detail_energies": (kb.haar_detail_energies, tb.haar_detail_energies,
                                 lambda: (luma, 3, np.zeros(3))),
        "weighted_sums": (ks.weighted_sums, ts.weighted_sums, lambda: (
            p, lp, geo.weight, geo.wedge, geo.radial, np.zeros(7), np.zeros(n_bins + 1))),
    }, steps_py


def speed(repeats):
    lines = ["| kernel | size | kernel ms | twin ms | twin / kernel |", "|---|---|---|---|---|"]
    totals = {}
    for size in (256, 1024):
        luma = photo_luma(size)
        table, steps_py = calls(luma)
        reps = repeats if size == 256 else max(repeats // 8, 5)
        for name, (kernel, twin, args) in table.items():
            a_k, a_t = args(), args()
            fns = {"kernel": lambda: kernel(*a_k), "twin": lambda: twin(*a_t)}
            if name == "lattice_steps":
                fns["py_func"] = steps_py
            t = interleaved(fns, reps)
            totals[size] = totals.get(size, 0.0) + t["twin"]
            lines.append(f"| {name} | {size} | {t['kernel']:.3f} | {t['twin']:.3f} | {t['twin'] / t['kernel']:.1f} |")
            if "py_func" in t:
                lines.append(f"| lattice_steps.py_func (candidate twin) | {size} | {t['kernel']:.3f} | "
                             f"{t['py_func']:.3f} | {t['py_func'] / t['kernel']:.1f} |")
    lines.append("")
    lines += [f"sum of the twins per {s}x{s} image: {v:.2f} ms" for s, v in totals.items()]
    return "\n".join(lines)


# -- ties --------------------------------------------------------------------------------------------

def robust_abs_rint(c, tol=TIE_TOL):
    """``|rint(c)|``, except that a coefficient within ``tol`` of a half-integer rounds as that
    half-integer (half to even): the proposed tie-robust rounding."""
    a = np.abs(c)
    fl = np.floor(a)
    tie = np.abs(a - fl - 0.5) <= tol
    return np.where(tie, fl + (fl % 2 == 1), np.rint(a))


def hist_of(c, rounding, n_bins):
    """(64, n_bins) histograms of ``rounding(c)`` clipped to the top bin."""
    a = np.minimum(rounding(c), n_bins - 1).astype(np.int64) + np.arange(64) * n_bins
    return np.bincount(a.ravel(), minlength=64 * n_bins).reshape(64, n_bins)


def exact_ties(luma):
    """Boolean (n_blocks, 64): the coefficient is exactly a half-integer (only the frequencies
    whose basis products are 1/8 can be: u, v in {0, 4}; exact sums in float64)."""
    h, w = luma.shape
    nby, nbx = h // 8, w // 8
    b = (luma[: nby * 8, : nbx * 8].astype(np.float64) - 128.0).reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3)
    sign = np.array([1, -1, -1, 1, 1, -1, -1, 1], np.float64)
    out = np.zeros((nby * nbx, 64), bool)
    for u, su in ((0, np.ones(8)), (4, sign)):
        for v, sv in ((0, np.ones(8)), (4, sign)):
            t = np.einsum("...rx,r,x->...", b, su, sv).ravel()  # 8 * coefficient, exact
            out[:, u * 8 + v] = (t % 8 == 4)
    return out


def coefs_of(fn, luma):
    from forensics.features import _dct

    nb = (luma.shape[0] // 8) * (luma.shape[1] // 8)
    coefs = np.empty((nb, 64))
    fn(luma, _dct._BASIS, coefs, np.zeros((64, 4)), np.zeros((64, _dct.N_BINS), np.int64), np.zeros(4))
    return coefs


def tie_inputs(n_images):
    """name -> float32 luma: the regression fixture inputs, then shared JPEGs (colour and grey)."""
    import cv2
    from regression_features import load

    from forensics.media._item import load_item

    out = {}
    inputs, _ = load()
    for name, value in inputs.items():
        luma = load_item(value).luma
        if luma.shape[0] >= 8 and luma.shape[1] >= 8:
            out[f"fixture/{name}"] = luma
    if SHARED.is_dir():
        for folder in ("lfw_faceswap", "casia_v1"):
            paths = sorted((SHARED / "data" / folder).rglob("*.jpg"))
            paths = paths[:: max(len(paths) // n_images, 1)][:n_images]
            for p in paths:
                rel = p.relative_to(SHARED / "data")
                out[f"colour/{rel}"] = load_item(str(p)).luma
                out[f"grey/{rel}"] = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    return out


def _generic_child(npz_in, npz_out):
    """Child process (``NUMBA_CPU_NAME=generic``): the kernel's coefficients of each luma."""
    from forensics.features._kernels import _dct as kd

    with np.load(npz_in) as z:
        out = {k: coefs_of(kd.block_dct_stats, z[k]) for k in z.files}
    np.savez(npz_out, **out)


def generic_coefs(lumas):
    """The kernel's coefficients compiled for a generic x86-64 CPU (no FMA), in a fresh child."""
    keys = {f"k{i}": v for i, v in enumerate(lumas.values())}
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **keys)
        env = dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_CACHE_DIR=str(Path(tmp) / "cache"))
        code = f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import twins_dbs; " \
               f"twins_dbs._generic_child({str(src)!r}, {str(dst)!r})"
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        with np.load(dst) as z:
            return {name: z[f"k{i}"] for i, name in enumerate(lumas)}


def robust_fixture_changes():
    """Regression-fixture columns (every config with a dct family) changed beyond 1e-6 relative when
    the kernel's histograms use the tie-robust rounding."""
    from regression_features import CONFIGS, compute, load

    from forensics.features import _dct
    from forensics.features._kernels import _dct as kd

    def robust(img, basis, coefs, moments, hist, edges):
        nb = (img.shape[0] // 8) * (img.shape[1] // 8)
        c = coefs if coefs.shape[0] else np.empty((nb, 64))
        kd.block_dct_stats(img, basis, c, moments, np.zeros_like(hist), edges)
        hist += hist_of(c, robust_abs_rint, hist.shape[1])

    inputs, recorded = load()
    changed = []
    _dct.block_dct_stats = robust
    try:
        for config, (families, _) in CONFIGS.items():
            if families is not None and "dct" not in families:
                continue
            names, values = compute(inputs, config)
            want = recorded[config][1]
            bad = ~np.isclose(values, want, rtol=1e-6, atol=0, equal_nan=True)
            for i, j in zip(*np.nonzero(bad)):
                changed.append(f"{config}: {list(inputs)[i]} {names[j]} {want[i, j]!r} -> {values[i, j]!r}")
    finally:
        _dct.block_dct_stats = kd.block_dct_stats
    return changed


def twin_columns(lumas):
    """Per input group: {column: images where the DCT column (default parameters, and n_coeffs=20,
    n_steps=64) differs beyond 1e-6 relative between the kernels and the twins}, and the image count."""
    from forensics.features import _dct
    from forensics.features._kernels import _dct as kd
    from forensics.features._kernels import _dct_twins as td

    out = {}
    for params in ({}, dict(n_coeffs=20, n_steps=64)):
        names = _dct._feature_names(**{"n_coeffs": 9, "n_steps": 6, **params})
        for name, luma in lumas.items():
            group = name.split("/")[0]
            want = _dct.dct_vector(luma, **params)
            _dct.block_dct_stats, _dct.lattice_steps = td.block_dct_stats, td.lattice_steps
            try:
                got = _dct.dct_vector(luma, **params)
            finally:
                _dct.block_dct_stats, _dct.lattice_steps = kd.block_dct_stats, kd.lattice_steps
            bad = ~np.isclose(got, want, rtol=1e-6, atol=0, equal_nan=True)
            cols = out.setdefault((group, tuple(params.items())), {})
            for j in np.flatnonzero(bad):
                cols[names[j]] = cols.get(names[j], 0) + 1
    return out


def ties(n_images):
    from forensics.features import _dct
    from forensics.features._kernels import _dct as kd
    from forensics.features._kernels import _dct_twins as td

    lumas = tie_inputs(n_images)
    generic = generic_coefs(lumas)
    plain = lambda c: np.abs(np.rint(c))  # noqa: E731  (the kernel's rounding)
    rows = {}
    for name, luma in lumas.items():
        group = name.split("/")[0]
        ck, ct, cg = coefs_of(kd.block_dct_stats, luma), coefs_of(td.block_dct_stats, luma), generic[name]
        tie = exact_ties(luma)
        moved = lambda a, b: int(np.abs(a - b).sum() // 2)  # noqa: E731
        hk, ht, hg = (hist_of(c, plain, _dct.N_BINS) for c in (ck, ct, cg))
        rk, rt, rg = (hist_of(c, robust_abs_rint, _dct.N_BINS) for c in (ck, ct, cg))
        differ = plain(ck) != plain(ct)
        rows.setdefault(group, []).append(dict(
            ties=int(tie.sum()), twin=moved(hk, ht), generic=moved(hk, hg), twin_generic=moved(ht, hg),
            only_ties=bool((differ <= tie).all()),
            robust_twin=moved(rk, rt), robust_generic=moved(rk, rg), robust_change=moved(rk, hk),
            err=float(np.abs(ck - ct).max()) if ck.size else 0.0))
    lines = ["| inputs | n | exact ties / image (median, max) | twin vs kernel: moved counts / image "
             "(median, max; images with any) | generic-CPU kernel vs kernel | twin vs generic-CPU kernel | "
             "only at the exact ties of u, v in {0, 4} | "
             "robust rule: twin vs kernel | generic vs kernel | robust vs today's kernel | max abs coef diff |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for group, r in rows.items():
        def col(key):
            v = np.array([x[key] for x in r])
            return f"{np.median(v):g}, {v.max():g}; {int((v > 0).sum())}"
        lines.append(f"| {group} | {len(r)} | {col('ties')} | {col('twin')} | {col('generic')} | "
                     f"{col('twin_generic')} | {all(x['only_ties'] for x in r)} | {col('robust_twin')} | "
                     f"{col('robust_generic')} | "
                     f"{col('robust_change')} | {max(x['err'] for x in r):.2g} |")
    lines.append("")
    n_group = {g: len(r) for g, r in rows.items()}
    for (group, params), cols in twin_columns(lumas).items():
        text = ", ".join(f"{c} {n}" for c, n in sorted(cols.items())) or "none"
        lines.append(f"DCT columns changed beyond 1e-6 by the twins ({group}, {n_group[group]} images, "
                     f"{dict(params) or 'defaults'}): {text}")
    changed = robust_fixture_changes()
    lines.append("")
    lines.append(f"regression-fixture values changed beyond 1e-6 by the robust rule: {len(changed)}")
    lines += [f"  {c}" for c in changed]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--images", type=int, default=100, help="JPEGs per shared data set for the ties")
    ap.add_argument("--part", choices=("speed", "ties", "all"), default="all")
    args = ap.parse_args()
    if args.part in ("speed", "all"):
        print(speed(args.repeats))
        print()
    if args.part in ("ties", "all"):
        print(ties(args.images))


if __name__ == "__main__":
    main()
