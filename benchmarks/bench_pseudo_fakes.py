"""Detectors trained without a single fake: self-blended pseudo-fakes of the reals (SBI), tested on real fakes.

    python benchmarks/bench_pseudo_fakes.py [--sets lfw_faceswap casia_v1] [--per-class 600]
        [--detectors ...] [--n-jobs 2] [--seed 0] [--out results/pseudo_fakes]

Self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022)
are the field's way of training a detector for manipulations it has never seen: every real image
gives a pseudo-fake, a soft region of it replaced by a slightly transformed copy of itself (the
demo set's ``self_blend``: colour jitter, scale 0.95-1.05, shift, blur or sharpening, a soft
ellipse). For each of 5 stratified folds (the same folds as the other generalization benchmarks):

- ``supervised``: the detector fitted on the training folds' reals and fakes (the usual figure);
- ``pseudo``: fitted on the training folds' reals and one self-blend of each of them, encoded by the
  same JPEG encoder (quality 90), so no fake of the set is ever seen; tested on the same test fold
  of real reals and real fakes.

Also prints, per set, the columns of the face-consistency detector whose means move most between
reals and fakes, and how the self-blends move them (in standard deviations of the reals): a
detector fitted on pseudo-fakes learns their direction, which need not be the fakes'.
Writes table.md and results.csv under --out.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _generalization import ROOT, detector_columns, extract, fake_probability, load_set, union_bank  # noqa: E402

DETECTORS = ("spectrum-lr", "dct-lr", "forensic-xgb", "cooc-lr", "face-consistency-lr", "generalist-xgb")


def pseudo_fakes(items, seed):
    """One self-blended JPEG (quality 90, the equalized items' encoder) per item, drawn from ``seed``."""
    from forensics.datasets._demo import _encode_jpeg, _self_blend

    rng = np.random.default_rng(seed)
    out = []
    for data in items:
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        s = min(h, w)  # the blending mask lives on the centred square (the face of a face crop)
        y0, x0 = (h - s) // 2, (w - s) // 2
        blended = rgb.copy()
        blended[y0:y0 + s, x0:x0 + s] = _self_blend(np.ascontiguousarray(rgb[y0:y0 + s, x0:x0 + s]), rng)[0]
        out.append(_encode_jpeg(blended, 90))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["lfw_faceswap", "casia_v1"])
    parser.add_argument("--per-class", type=int, default=600)
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "results" / "pseudo_fakes"))
    args = parser.parse_args(argv)

    from forensics.metrics import roc_auc
    from forensics.model_selection import make_cv

    t0 = time.perf_counter()
    bank = union_bank(args.detectors)
    rows, shifts = [], []
    for name in args.sets:
        data = load_set(name, args.per_class, seed=args.seed)
        items, y = data["items"], data["y"]
        reals = np.flatnonzero(y == 0)
        F, names = extract(bank, items, cache_key=(name, args.per_class, args.seed, "clean"), n_jobs=args.n_jobs)
        P, _ = extract(bank, pseudo_fakes([items[i] for i in reals], args.seed + 1),
                       cache_key=(name, args.per_class, args.seed, "self_blend", args.seed + 1), n_jobs=args.n_jobs)
        row_of_real = {r: k for k, r in enumerate(reals)}
        folds = list(make_cv(y, data["groups"], n_splits=5, random_state=args.seed).split(F, y, data["groups"]))
        for det in args.detectors:
            cols, rest = detector_columns(det, names, items[:4], F[:4])
            auc = {"supervised": [], "pseudo": []}
            for train, test in folds:
                train_reals = train[y[train] == 0]
                X_pseudo = np.vstack([F[train_reals][:, cols], P[[row_of_real[r] for r in train_reals]][:, cols]])
                y_pseudo = np.r_[np.zeros(len(train_reals)), np.ones(len(train_reals))]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for key, (X, yy) in {"supervised": (F[train][:, cols], y[train]),
                                         "pseudo": (X_pseudo, y_pseudo)}.items():
                        model = clone(rest).fit(X, yy)
                        auc[key].append(roc_auc(y[test], fake_probability(model, F[test][:, cols])))
            rows.append(dict(set=name, detector=det, **{f"{k}_mean": np.mean(v) for k, v in auc.items()},
                             **{f"{k}_std": np.std(v) for k, v in auc.items()}))
            print(f"{name:13s} {det:20s} supervised {np.mean(auc['supervised']):.3f} ± {np.std(auc['supervised']):.3f}"
                  f"   pseudo {np.mean(auc['pseudo']):.3f} ± {np.std(auc['pseudo']):.3f}", flush=True)
            if det == "face-consistency-lr":
                sd = F[reals][:, cols].std(0) + 1e-12
                fake_shift = (F[y == 1][:, cols].mean(0) - F[reals][:, cols].mean(0)) / sd
                pseudo_shift = (P[:, cols].mean(0) - F[reals][:, cols].mean(0)) / sd
                for j in np.argsort(-np.abs(fake_shift))[:5]:
                    shifts.append(dict(set=name, column=names[cols][j], fakes=fake_shift[j], self_blends=pseudo_shift[j]))
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "results.csv", index=False)
    lines = ["| set | detector | supervised | pseudo-fakes only |", "|---|---|---|---|"]
    lines += [f"| {r.set} | {r.detector} | {r.supervised_mean:.3f} ± {r.supervised_std:.3f} | "
              f"{r.pseudo_mean:.3f} ± {r.pseudo_std:.3f} |" for r in table.itertuples()]
    lines += ["", "| set | column | fakes - reals (sd) | self-blends - reals (sd) |", "|---|---|---|---|"]
    lines += [f"| {s['set']} | `{s['column']}` | {s['fakes']:+.2f} | {s['self_blends']:+.2f} |" for s in shifts]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
