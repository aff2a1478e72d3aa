"""Why the local-inconsistency family is weak on the demo set: two probes behind its note in docs/results.md.

- ``pairs``: the same crop with and without the manipulation (self-blend, splice; the demo set's
  own functions, a seed the benchmarks do not use), both through the demo encoder (JPEG q90);
  per column, the fraction of pairs where the manipulated crop reads higher, and the median
  paired difference. This is the cue with the image content held fixed: how much of it the
  maps see at all.
- ``dev``: a development draw of the demo set (seed 1; the benchmarks use seed 0), grouped 5-fold
  CV of standardized logistic regression (C=0.1, class-balanced) per method, for the default
  family, other block sizes and overlaps, and a fourth map from the noise estimator of Lyu, Pan &
  Zhang (2014) (kurtosis concentration of the 15 AC 4x4 DCT band-pass responses per block,
  ``sqrt(kurt_k) = sqrt(kurt) (1 - s^2 / var_k)`` solved by least squares). Variants are judged
  here, never on the seed-0 folds of the benchmark tables.

    python benchmarks/probe_local.py [--probes pairs dev] [--n-pairs 120]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np


def lyu_noise_map(luma, block=32, overlap=0.0):
    """log(0.25 + s) per block, s the Lyu-Pan-Zhang noise deviation (a candidate map, not in the package)."""
    from scipy.fft import dct

    from forensics.features._local import _block_sums, block_grid

    y = np.asarray(luma, np.float64)
    n_rows, n_cols, step = block_grid(y.shape, block, overlap)
    hc, wc = (n_rows - 1) * step + block, (n_cols - 1) * step + block
    basis = dct(np.eye(4), norm="ortho", axis=0)
    a, b = [], []
    for u in range(4):
        for v in range(4):
            if not (u or v):
                continue
            r = cv2.filter2D(y, cv2.CV_64F, np.outer(basis[u], basis[v]), borderType=cv2.BORDER_REFLECT_101)[:hc, :wc]
            m1, m2, m3, m4 = (_block_sums(r ** p, n_rows, n_cols, block, step) / block ** 2 for p in (1, 2, 3, 4))
            var = np.maximum(m2 - m1 ** 2, 1e-12)
            kurt = (m4 - 4 * m1 * m3 + 6 * m1 ** 2 * m2 - 3 * m1 ** 4) / var ** 2 - 3.0
            a.append(np.sqrt(np.maximum(kurt, 0.0)))
            b.append(1.0 / var)
    a, b = np.array(a), np.array(b)
    ma, mb, mab, mbb = a.mean(0), b.mean(0), (a * b).mean(0), (b * b).mean(0)
    sqrt_kurt = (ma * mbb - mab * mb) / np.maximum(mbb - mb ** 2, 1e-30)
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = 1.0 / mb - ma / (sqrt_kurt * mb)
    cap = (1.0 / b).min(0)
    s2 = np.where(np.isfinite(s2), np.clip(s2, 0.0, cap), cap)
    return np.log(0.25 + np.sqrt(s2))


def pairs(n_pairs):
    from forensics.datasets import _demo as demo
    from forensics.features._local import _names, local_vector
    from forensics.media import load_item

    rng = np.random.default_rng(123)
    photos = [p for p in demo._load_photos() if min(p.rgb.shape[:2]) >= 256]
    diffs = {"self_blend": [], "splice": []}
    for i in range(n_pairs):
        photo = photos[i % len(photos)]
        crop = demo._random_crop(photo, 256, rng)
        for method in diffs:
            if method == "self_blend":
                img, _ = demo._self_blend(crop, rng, photo.is_gray)
            else:
                others = [p for p in photos if p.group != photo.group]
                donor = demo._random_crop(others[int(rng.integers(len(others)))], 256, rng)
                img, _ = demo._splice(crop, demo._as_gray(donor) if photo.is_gray else donor, rng)
            real = local_vector(load_item(demo._encode_jpeg(crop, 90), 0).luma)
            fake = local_vector(load_item(demo._encode_jpeg(img, 90), 0).luma)
            diffs[method].append(fake - real)
    print(f"## pairs: {n_pairs} crops, each with and without the manipulation (seed 123)\n")
    print("| column | self_blend: P(fake > real) | median diff | splice: P(fake > real) | median diff |")
    print("|---|---|---|---|---|")
    d = {m: np.array(v) for m, v in diffs.items()}
    for k, name in enumerate(_names()):
        cells = [f"{(d[m][:, k] > 0).mean():.2f} | {np.median(d[m][:, k]):+.3f}" for m in d]
        print(f"| {name} | " + " | ".join(cells) + " |")


def dev():
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from forensics.datasets import make_demo_dataset
    from forensics.features._local import local_vector, map_statistics
    from forensics.media import load_item
    from forensics.metrics import roc_auc
    from forensics.model_selection import make_cv

    data = make_demo_dataset(n_per_class=120, size=256, seed=1)
    lumas = [load_item(it, 0).luma for it in data["item"]]
    y, groups, methods = data["label"].to_numpy(), data["group"].to_numpy(), data["method"].to_numpy()
    splits = list(make_cv(y, groups, n_splits=5, random_state=0).split(np.zeros((len(y), 1)), y, groups))
    default = np.array([local_vector(v) for v in lumas])
    lyu = np.array([map_statistics(lyu_noise_map(v)) for v in lumas])
    variants = {"default (block 32, overlap 0)": default}
    for block, overlap in ((32, 0.5), (16, 0.0), (16, 0.5), (64, 0.5)):
        variants[f"block {block}, overlap {overlap}"] = np.array([local_vector(v, block=block, overlap=overlap)
                                                                  for v in lumas])
    variants["Lyu et al. noise map alone"] = lyu
    variants["default + Lyu et al. noise map"] = np.hstack([default, lyu])
    print("\n## dev: demo set seed 1 (240 items), grouped 5-fold CV, LR; ROC-AUC per method (fakes of it vs reals)\n")
    print("| variant | all | self_blend | splice | resample |\n|---|---|---|---|---|")
    for name, X in variants.items():
        cells = []
        for held in ("all", "self_blend", "splice", "resample"):
            aucs = []
            for tr, te in splits:
                if held != "all":
                    te = te[(methods[te] == held) | (y[te] == 0)]
                model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                      LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000))
                aucs.append(roc_auc(y[te], model.fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]))
            cells.append(f"{np.mean(aucs):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", nargs="+", default=["pairs", "dev"], choices=["pairs", "dev"])
    parser.add_argument("--n-pairs", type=int, default=120)
    args = parser.parse_args(argv)
    if "pairs" in args.probes:
        pairs(args.n_pairs)
    if "dev" in args.probes:
        dev()


if __name__ == "__main__":
    main()
