"""Is the casia_v1 signal the splice or the files' compression history? A grid-shift control.

    python benchmarks/bench_compression_history.py [--per-class 600] [--n-jobs 2]

The equalized protocol (centre crop, JPEG q90) keeps the pixels' compression history, and on
casia_v1 its centre crops start on multiples of 8, so the first compression's 8x8 grid stays
aligned with the new one (aligned double compression). The control crops the same images 4 px
off the grid (a 248 px square at a block-aligned centre offset + 4) before the same q90
re-encoding, which misaligns the two grids. 5-fold stratified CV ROC-AUC of standardized logistic
regression (C=0.1, class-balanced) per feature group, aligned vs shifted crops. The ``local`` groups
ask whether the local-inconsistency family (a splicing cue that does not read the JPEG grid) adds
to the pixel families without ``dct``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _generalization import load_set  # noqa: E402


def shifted(path, size=248, shift=4, quality=90):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    s = min(size, h - shift, w - shift)
    y0 = (h - s) // 2 // 8 * 8 + shift
    x0 = (w - s) // 2 // 8 * 8 + shift
    return cv2.imencode(".jpg", img[y0:y0 + s, x0:x0 + s], [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression

    from forensics import make_pipeline
    from forensics.features import make_feature_bank
    from forensics.model_selection import cross_validate_detector

    data = load_set("casia_v1", args.per_class, args.seed)
    paths = data["paths"]
    groups = {"dct": ("dct__",), "cooc_large": ("cooc__",), "spectral + noise + blur": ("spectral__", "noise__", "blur__"),
              "local": ("local__",), "spectral + noise + blur + local": ("spectral__", "noise__", "blur__", "local__")}
    bank = make_feature_bank(["spectral", "dct", "noise", "blur", "cooc_large", "local"], n_jobs=args.n_jobs)
    head = LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)
    rows = {}
    for crop, items in (("aligned (equalized)", data["items"]), ("shifted 4 px", [shifted(p) for p in paths])):
        F = bank.fit(items).transform(items)
        names = np.asarray(bank.get_feature_names_out()).astype(str)
        for label, prefixes in groups.items():
            cols = np.flatnonzero([n.startswith(prefixes) for n in names])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = cross_validate_detector(make_pipeline(features=None, head=head), F[:, cols], data["y"],
                                              methods=data["methods"], random_state=args.seed)
            per = res.per_group["roc_auc"]
            rows[(label, crop)] = (res.summary.loc["roc_auc", "mean"], res.summary.loc["roc_auc", "std"],
                                   per.get("Sp_D_splice_different_images"), per.get("Sp_S_same_image_copymove"))
            print(label, crop, rows[(label, crop)], flush=True)
    print(f"\n`python benchmarks/bench_compression_history.py {' '.join(sys.argv[1:])}`\n")
    print("| features | aligned crop: AUC (splice / copy-move) | shifted crop: AUC (splice / copy-move) |\n|---|---|---|")
    for label in groups:
        cells = [f"{m:.3f} ± {s:.3f} ({a:.3f} / {b:.3f})" for m, s, a, b in
                 (rows[(label, c)] for c in ("aligned (equalized)", "shifted 4 px"))]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
