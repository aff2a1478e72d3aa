"""Robustness of the catalogued handcrafted detectors to re-compression, blur and down-scaling.

    python benchmarks/bench_robustness.py [--sets lfw_faceswap casia_v1 demo] [--per-class 600]
        [--demo-per-class 120] [--detectors ...] [--n-jobs 2] [--out results/robustness]

Each detector is trained on clean (codec-equalized) items and tested on the held-out fold after
each perturbation: JPEG re-compression at quality 90, 75, 50; Gaussian blur of sigma 1; area
down-scaling by 0.5; and their combination (blur, down-scale, JPEG 75). 5-fold stratified CV
(grouped by source photo on the demo set), the same folds for every perturbation; the table gives
ROC-AUC (mean +- std over folds), its drop from clean, and the expected calibration error of the
fake probability (15 bins). Features: one pass of a bank holding every family the detectors use,
per perturbation, cached in results/cache. Writes table.md and results.csv under --out.

``--augment``: the training folds also hold the training items after the perturbations of
AUGMENT (JPEG 90 and 50, blur, down-scaling; labels unchanged), as augmentation-trained detectors
are (Wang et al., CVPR 2020). JPEG 75 and the combination stay unseen in training: JPEG 75 lies
between two seen qualities, the combination composes seen operations.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _generalization import (  # noqa: E402
    DEFAULT_DETECTORS, PERTURBATIONS, ROOT, detector_columns, extract, load_set, perturb, union_bank,
)

#: Perturbations added to the training folds with --augment (JPEG 75 and "combined" stay unseen).
AUGMENT = ("jpeg90", "jpeg50", "blur1", "down0.5")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["lfw_faceswap", "casia_v1", "demo"])
    parser.add_argument("--per-class", type=int, default=600, help="images per class of the shared sets")
    parser.add_argument("--demo-per-class", type=int, default=120, help="items per class of the demo set")
    parser.add_argument("--detectors", nargs="+", default=list(DEFAULT_DETECTORS))
    parser.add_argument("--perturbations", nargs="+", default=list(PERTURBATIONS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--augment", action="store_true", help=f"train on clean + {', '.join(AUGMENT)} items")
    parser.add_argument("--out", default=None, help="default: results/robustness[_augmented]")
    args = parser.parse_args(argv)
    args.out = args.out or str(ROOT / "results" / ("robustness_augmented" if args.augment else "robustness"))
    needed = ["clean", *AUGMENT] if args.augment else ["clean"]
    wanted = set(needed) | set(args.perturbations)
    args.perturbations = [p for p in PERTURBATIONS if p in wanted] + sorted(wanted - set(PERTURBATIONS))

    from forensics.metrics import expected_calibration_error, roc_auc
    from forensics.model_selection import make_cv

    bank = union_bank(args.detectors)
    rows = []
    t_start = time.perf_counter()
    for set_name in args.sets:
        data = load_set(set_name, args.demo_per_class if set_name == "demo" else args.per_class, args.seed)
        y, groups = data["y"], data["groups"]
        features = {}
        for p in args.perturbations:
            t0 = time.perf_counter()
            items = [perturb(d, p) for d in data["items"]]
            features[p], names = extract(bank, items, cache_key=(set_name, len(items), args.seed, p),
                                         n_jobs=args.n_jobs)
            print(f"{set_name} {p}: {len(items)} items, {features[p].shape[1]} features, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        splits = list(make_cv(y, groups, n_splits=5, random_state=args.seed).split(np.zeros((len(y), 1)), y, groups))
        probe = data["items"][:3]
        for det in args.detectors:
            cols, rest = detector_columns(det, names, probe, features["clean"][:3])
            t0 = time.perf_counter()
            scores = {p: [] for p in args.perturbations}
            for train, test in splits:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    train_sets = ["clean", *AUGMENT] if args.augment else ["clean"]
                    F_fit = np.vstack([features[p][np.ix_(train, cols)] for p in train_sets])
                    model = clone(rest).fit(F_fit, np.tile(y[train], len(train_sets)))
                    for p in args.perturbations:
                        prob = model.predict_proba(features[p][np.ix_(test, cols)])[:, 1]
                        scores[p].append((roc_auc(y[test], prob), expected_calibration_error(y[test], prob)))
            clean = np.mean([a for a, _ in scores["clean"]]) if "clean" in scores else np.nan
            for p in args.perturbations:
                auc = np.array([a for a, _ in scores[p]])
                ece = np.array([e for _, e in scores[p]])
                rows.append(dict(set=set_name, detector=det, perturbation=p, auc_mean=auc.mean(),
                                 auc_std=auc.std(ddof=1), drop=clean - auc.mean(), ece_mean=ece.mean(),
                                 n_items=len(y), n_features=len(cols)))
            print(f"  {det}: " + ", ".join(f"{r['perturbation']} {r['auc_mean']:.3f}" for r in rows[-len(args.perturbations):])
                  + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "results.csv", index=False)
    trained = f"clean + {', '.join(AUGMENT)}" if args.augment else "clean"
    text = [f"# Robustness (trained on {trained}, tested perturbed)", "",
            f"`python benchmarks/bench_robustness.py {' '.join(sys.argv[1:])}`; 5-fold CV, seed {args.seed}; "
            f"cells: ROC-AUC mean ± std over folds (drop from clean) / ECE; total "
            f"{time.perf_counter() - t_start:.0f} s", ""]
    for set_name in args.sets:
        sub = table[table["set"] == set_name]
        text += [f"## {set_name} ({int(sub['n_items'].iloc[0])} items)", "",
                 "| detector | " + " | ".join(args.perturbations) + " |", "|---|" + "---|" * len(args.perturbations)]
        for det in args.detectors:
            cells = []
            for p in args.perturbations:
                r = sub[(sub["detector"] == det) & (sub["perturbation"] == p)].iloc[0]
                drop = "" if p == "clean" else f" ({-r['drop']:+.3f})"
                cells.append(f"{r['auc_mean']:.3f} ± {r['auc_std']:.3f}{drop} / {r['ece_mean']:.3f}")
            text.append(f"| {det} | " + " | ".join(cells) + " |")
        text.append("")
    (out / "table.md").write_text("\n".join(text))
    print("\n".join(text))
    print(f"wrote {out}/table.md and results.csv")


if __name__ == "__main__":
    main()
