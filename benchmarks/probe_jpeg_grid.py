"""A probe for the splice cue the families miss: a local map of misaligned 8x8 JPEG grids.

    python benchmarks/probe_jpeg_grid.py [--win 64] [--step 32] [--n-jobs 2]

Five of the demo set's 16 photos are JPEG files (rocket, hubble_deep_field, retina, china, flower;
quantization tables near quality 85-90). A crop of one at offset (y0, x0) carries the photo's 8x8
grid at phase (-y0 mod 8, -x0 mod 8) before the demo encoder adds its own grid at phase 0; a
spliced region of another JPEG photo carries the donor's grid at another phase, one of a PNG photo
none. Per 8x8 phase, the blocking signal is the cross-boundary step of the luma against the
steps beside it, ``|d(c)| - (|d(c-1)| + |d(c+1)|) / 2`` with ``d(c) = Y(:, c+1) - Y(:, c)`` (the
horizontal-difference blockiness of Fan & de Queiroz, IEEE TIP 2003, and of the aligned/non-aligned
double-JPEG detectors, e.g. Bianchi & Piva, IEEE TIFS 2012), averaged per boundary phase over a
window and divided by the window's mean ``|d|``. The demo encoder's own phase is excluded; the
score of an old-grid phase is its value minus the median of the other phases, summed over x and y.
Columns: the whole image's best phase score, the windows' best scores (median, max, max - median),
the windows' score at the whole image's phase (median - min), how far each window's best phase
beats the image's (mean, max) and the share of windows whose best phase is not the image's.

Judged ONLY on a development draw (demo set seed 1, 120 per class, 256 px; grouped 5-fold as
benchmarks/probe_local.py), never on the seed-0 folds of the benchmark tables: the probe's columns
alone (standardized logistic regression, C=0.1, class-balanced), spectrum-lr's columns with and
without them, generalist-xgb's columns with and without them (its own pipeline after the features).
Then ``grid_survival``: whether the JPEG photos' own grid can be found in their crops at all,
before and after the demo encoder. Not in the package.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _generalization import detector_columns, extract, union_bank  # noqa: E402

JPEG_PHOTOS = ("rocket", "hubble_deep_field", "retina", "china", "flower")
COLUMNS = ("global_best", "win_best_median", "win_best_max", "win_best_range", "win_at_global_drop",
           "win_beats_global_mean", "win_beats_global_max", "win_other_phase_share")


def _phase_profiles(luma, axis):
    """Per-pixel blocking signal across boundaries along ``axis`` and the 8x8 phase of each boundary."""
    y = np.asarray(luma, np.float64)
    if axis == 0:
        y = y.T
    a = np.abs(np.diff(y, axis=1))  # a[:, c] = |Y[c+1] - Y[c]|: the boundary after column c
    b = a[:, 1:-1] - 0.5 * (a[:, :-2] + a[:, 2:])  # boundary after column c = 1 .. W-3
    phase = np.arange(1, y.shape[1] - 2) % 8  # 7: the boundary between blocks of the demo encoder's grid
    return (b, a[:, 1:-1], phase) if axis == 1 else (b.T, a[:, 1:-1].T, phase)


def _scores(b, a, phase, axis):
    """Old-grid score per phase (7 excluded: NaN) of one window's signal ``b`` normalised by mean |d|."""
    prof = np.array([b[:, phase == p].mean() if axis == 1 else b[phase == p, :].mean() for p in range(8)])
    prof /= a.mean() + 1e-6
    rest = prof[:7]
    out = np.full(8, np.nan)
    out[:7] = rest - np.median(rest)
    return out


def grid_vector(luma, win=64, step=32):
    """The probe's columns (``COLUMNS``) of one luma image."""
    bx, ax, phx = _phase_profiles(luma, 1)
    by, ay, phy = _phase_profiles(luma, 0)
    sx_g, sy_g = _scores(bx, ax, phx, 1), _scores(by, ay, phy, 0)
    gx, gy = int(np.nanargmax(sx_g)), int(np.nanargmax(sy_g))
    g_best = sx_g[gx] + sy_g[gy]
    h, w = bx.shape[0], by.shape[1]
    best, at_g, arg = [], [], []
    for r in range(0, max(h - win, 0) + 1, step):
        for c in range(0, max(w - win, 0) + 1, step):
            cx = slice(c, c + win)
            sx = _scores(bx[r:r + win, cx], ax[r:r + win, cx], phx[cx], 1)
            ry = slice(r, r + win)
            sy = _scores(by[ry, c:c + win], ay[ry, c:c + win], phy[ry], 0)
            px, py = int(np.nanargmax(sx)), int(np.nanargmax(sy))
            best.append(sx[px] + sy[py])
            at_g.append(sx[gx] + sy[gy])
            arg.append((px, py) != (gx, gy))
    best, at_g, arg = np.array(best), np.array(at_g), np.array(arg)
    beats = best - at_g
    return np.array([g_best, np.median(best), best.max(), best.max() - np.median(best),
                     np.median(at_g) - at_g.min(), beats.mean(), beats.max(), arg.mean()])


def near_zero_dct_map(luma, threshold=0.5):
    """Share of AC coefficients of magnitude < ``threshold`` in the 8x8 block DCT, per grid shift (dy, dx).

    A JPEG's own grid is where its quantization left many exact zeros (the non-aligned double-JPEG
    cue, e.g. Bianchi & Piva, IEEE TIFS 2012).
    """
    from scipy.fft import dctn

    y = np.asarray(luma, np.float64)
    out = np.zeros((8, 8))
    for dy in range(8):
        for dx in range(8):
            a = y[dy:, dx:]
            h, w = a.shape[0] // 8 * 8, a.shape[1] // 8 * 8
            blocks = a[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
            coef = np.abs(dctn(blocks - 128.0, axes=(2, 3), norm="ortho")).reshape(-1, 64)[:, 1:]
            out[dy, dx] = (coef < threshold).mean()
    return out


def grid_survival(n_crops=10, seed=5):
    """Is the JPEG photos' own grid found in their crops, before and after the demo encoder (q90)?

    Per JPEG photo, ``n_crops`` 256 px crops at random offsets (y0, x0): the expected old grid
    starts at ((-y0) mod 8, (-x0) mod 8). Counts how often the probe's best x / y phase over a
    window (the whole crop, 128 px, 64 px) is the expected one after the encoder (an x phase
    the encoder's own, 7, counts as a miss), and how often the grid shift with the most near-zero
    AC DCT coefficients is it, on the luma before encoding and after (the encoder's shift (0, 0)
    excluded there).
    """
    import cv2

    from forensics.datasets._demo import _encode_jpeg, _load_photos, _luma

    rng = np.random.default_rng(seed)
    print("\n| photo | probe phase found (crop / 128 / 64 px) | DCT zeros: before q90 | after q90 |")
    print("|---|---|---|---|")
    for photo in _load_photos():
        if photo.name not in JPEG_PHOTOS:
            continue
        phase_hits, raw_hits, enc_hits = {256: 0, 128: 0, 64: 0}, 0, 0
        for _ in range(n_crops):
            h, w = photo.rgb.shape[:2]
            y0, x0 = int(rng.integers(0, h - 256)), int(rng.integers(0, w - 256))
            crop = photo.rgb[y0:y0 + 256, x0:x0 + 256]
            enc = cv2.imdecode(np.frombuffer(_encode_jpeg(crop, 90), np.uint8), cv2.IMREAD_GRAYSCALE)
            ey, ex = (-y0) % 8, (-x0) % 8
            for win in phase_hits:
                bx, ax, phx = _phase_profiles(enc[:win, :win], 1)
                by, ay, phy = _phase_profiles(enc[:win, :win], 0)
                px = int(np.nanargmax(_scores(bx, ax, phx, 1)))
                py = int(np.nanargmax(_scores(by, ay, phy, 0)))
                phase_hits[win] += int(px == (ex - 1) % 8 and py == (ey - 1) % 8)
            raw = near_zero_dct_map(np.rint(_luma(crop)))
            raw_hits += int(np.unravel_index(np.argmax(raw), raw.shape) == (ey, ex))
            z = near_zero_dct_map(enc)
            z[0, 0] = -1.0
            enc_hits += int(np.unravel_index(np.argmax(z), z.shape) == (ey, ex))
        print(f"| {photo.name} | {' / '.join(str(v) for v in phase_hits.values())} of {n_crops} | "
              f"{raw_hits} of {n_crops} | {enc_hits} of {n_crops} |", flush=True)


def _cv(X, y, methods, splits, model_factory):
    from forensics.metrics import roc_auc

    res = {m: [] for m in ("all", "self_blend", "splice", "resample")}
    for tr, te in splits:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prob = model_factory().fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
        for m in res:
            keep = np.ones(len(te), bool) if m == "all" else (methods[te] == m) | (y[te] == 0)
            res[m].append(roc_auc(y[te][keep], prob[keep]))
    return res


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--win", type=int, default=64)
    parser.add_argument("--step", type=int, default=32)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)

    from sklearn.base import clone
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from forensics.datasets import make_demo_dataset
    from forensics.media import load_item
    from forensics.model_selection import make_cv

    t0 = time.perf_counter()
    data = make_demo_dataset(n_per_class=120, size=256, seed=1)  # the development draw: never seed 0
    items = list(data["item"])
    y, groups, methods = data["label"].to_numpy(), data["group"].to_numpy(), data["method"].to_numpy()
    splits = list(make_cv(y, groups, n_splits=5, random_state=0).split(np.zeros((len(y), 1)), y, groups))
    G = np.array([grid_vector(load_item(it, i).luma, args.win, args.step) for i, it in enumerate(items)])
    t_grid = time.perf_counter() - t0
    bank = union_bank(["spectrum-lr", "generalist-xgb"])
    F, names = extract(bank, items, cache_key=("demo", len(items), 1, "clean"), n_jobs=args.n_jobs, progress=False)

    def lr():
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                             LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000))

    variants = {"grid probe alone (LR)": (G, lr)}
    for det in ("spectrum-lr", "generalist-xgb"):
        cols, rest = detector_columns(det, names, items[:3], F[:3])
        variants[det] = (F[:, cols], lambda rest=rest: clone(rest))
        variants[f"{det} + grid probe"] = (np.hstack([F[:, cols], G]), lambda rest=rest: clone(rest))
    print(f"demo seed 1 (development draw), 240 items; grid probe {G.shape[1]} columns, window {args.win} "
          f"step {args.step} [{t_grid:.0f} s]\n")
    print("| variant | all | self_blend | splice | resample |\n|---|---|---|---|---|")
    for name, (X, factory) in variants.items():
        res = _cv(X, y, methods, splits, factory)
        print(f"| {name} | " + " | ".join(f"{np.nanmean(v):.3f} ± {np.nanstd(v, ddof=1):.3f}" for v in res.values())
              + " |", flush=True)

    # where the cue can exist at all: splices whose host or donor photo is a JPEG file
    src = data["source"].to_numpy()
    jpeg_splice = np.array([m == "splice" and any(p in JPEG_PHOTOS for p in s.split("+"))
                            for m, s in zip(methods, src)])
    print(f"\nsplices with a JPEG host or donor: {int(jpeg_splice.sum())} of {int((methods == 'splice').sum())}")
    reals = y == 0
    print("| column | reals median | splices with a JPEG photo: median | other splices: median |\n|---|---|---|---|")
    other = (methods == "splice") & ~jpeg_splice
    for j, col in enumerate(COLUMNS):
        print(f"| {col} | {np.median(G[reals, j]):.4f} | {np.median(G[jpeg_splice, j]):.4f} | "
              f"{np.median(G[other, j]):.4f} |")
    grid_survival()
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
