"""Cross-dataset and cross-method generalization of the catalogued handcrafted detectors, with calibration.

    python benchmarks/bench_cross_dataset.py [--sets lfw_faceswap casia_v1 demo] [--per-class 600]
        [--demo-per-class 120] [--detectors ...] [--n-jobs 2] [--out results/cross_dataset]

Data: the codec-equalized shared sets and the embedded demo set (see _generalization.load_set).

- Data-set matrix: each detector trained on one whole set and tested on each other whole set
  (ROC-AUC and expected calibration error of the fake probability, 15 bins); the diagonal is the
  in-distribution 5-fold CV figure (grouped by source photo on the demo set).
- Methods: 5-fold CV in which the test fold's fakes are of one method and the training folds either
  contain all methods ("seen") or every method but that one ("unseen"): casia_v1 splice vs
  copy-move, demo self_blend / resample / splice. Reals are split by the same folds.

Writes table.md and results.csv under --out. Features come from the same cache as
bench_robustness.py (one pass per set of a bank holding every family the detectors use).
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
from _generalization import DEFAULT_DETECTORS, ROOT, detector_columns, extract, load_set, union_bank  # noqa: E402


def _fit_score(rest, F_train, y_train, F_test, y_test):
    from forensics.metrics import expected_calibration_error, roc_auc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clone(rest).fit(F_train, y_train)
        prob = model.predict_proba(F_test)[:, 1]
    return roc_auc(y_test, prob), expected_calibration_error(y_test, prob)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["lfw_faceswap", "casia_v1", "demo"])
    parser.add_argument("--per-class", type=int, default=600)
    parser.add_argument("--demo-per-class", type=int, default=120)
    parser.add_argument("--detectors", nargs="+", default=list(DEFAULT_DETECTORS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "results" / "cross_dataset"))
    args = parser.parse_args(argv)

    from forensics.model_selection import make_cv

    t_start = time.perf_counter()
    bank = union_bank(args.detectors)
    sets = {}
    for name in args.sets:
        data = load_set(name, args.demo_per_class if name == "demo" else args.per_class, args.seed)
        data["F"], names = extract(bank, data["items"], cache_key=(name, len(data["items"]), args.seed, "clean"),
                                   n_jobs=args.n_jobs)
        y, groups = data["y"], data["groups"]
        data["splits"] = list(make_cv(y, groups, n_splits=5, random_state=args.seed).split(np.zeros((len(y), 1)), y,
                                                                                            groups))
        sets[name] = data
        print(f"{name}: {len(y)} items, {data['F'].shape[1]} features", flush=True)

    matrix, methods = [], []
    first = sets[args.sets[0]]
    for det in args.detectors:
        cols, rest = detector_columns(det, names, first["items"][:3], first["F"][:3])
        t0 = time.perf_counter()
        for a in args.sets:
            A = sets[a]
            FA, yA = A["F"][:, cols], A["y"]
            for b in args.sets:
                if a == b:
                    res = [_fit_score(rest, FA[tr], yA[tr], FA[te], yA[te]) for tr, te in A["splits"]]
                    auc, ece = np.mean([r[0] for r in res]), np.mean([r[1] for r in res])
                else:
                    B = sets[b]
                    auc, ece = _fit_score(rest, FA, yA, B["F"][:, cols], B["y"])
                matrix.append(dict(detector=det, train=a, test=b, auc=auc, ece=ece))
            fakes = sorted(set(A["methods"][yA == 1]))
            if len(fakes) < 2:
                continue
            m_all = A["methods"]
            for held in fakes:
                for mode in ("seen", "unseen"):
                    res = []
                    for tr, te in A["splits"]:
                        tr = tr[(m_all[tr] != held)] if mode == "unseen" else tr
                        te = te[(m_all[te] == held) | (yA[te] == 0)]
                        res.append(_fit_score(rest, FA[tr], yA[tr], FA[te], yA[te]))
                    methods.append(dict(detector=det, set=a, method=held, mode=mode, auc=np.nanmean([r[0] for r in res]),
                                        auc_std=np.nanstd([r[0] for r in res], ddof=1),
                                        ece=np.nanmean([r[1] for r in res])))
        print(f"  {det} [{time.perf_counter() - t0:.0f} s]", flush=True)

    matrix, methods = pd.DataFrame(matrix), pd.DataFrame(methods)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    matrix.to_csv(out / "results.csv", index=False)
    methods.to_csv(out / "methods.csv", index=False)
    text = ["# Cross-dataset and cross-method generalization", "",
            f"`python benchmarks/bench_cross_dataset.py {' '.join(sys.argv[1:])}`; seed {args.seed}; "
            f"cells: ROC-AUC / ECE; total {time.perf_counter() - t_start:.0f} s", "",
            "## Train on a set (rows), test on a set (columns); diagonal: 5-fold CV", ""]
    for det in args.detectors:
        sub = matrix[matrix["detector"] == det]
        text += [f"### {det}", "", "| train \\ test | " + " | ".join(args.sets) + " |", "|---|" + "---|" * len(args.sets)]
        for a in args.sets:
            cells = [sub[(sub["train"] == a) & (sub["test"] == b)].iloc[0] for b in args.sets]
            text.append(f"| {a} | " + " | ".join(f"{c['auc']:.3f} / {c['ece']:.3f}" for c in cells) + " |")
        text.append("")
    if len(methods):
        text += ["## Held-out methods (5-fold CV; test fakes of one method; trained with it or without it)", "",
                 "| detector | set | method | seen: AUC / ECE | unseen: AUC / ECE |", "|---|---|---|---|---|"]
        for (det, s, m), g in methods.groupby(["detector", "set", "method"], sort=False):
            seen, unseen = g[g["mode"] == "seen"].iloc[0], g[g["mode"] == "unseen"].iloc[0]
            text.append(f"| {det} | {s} | {m} | {seen['auc']:.3f} ± {seen['auc_std']:.3f} / {seen['ece']:.3f} | "
                        f"{unseen['auc']:.3f} ± {unseen['auc_std']:.3f} / {unseen['ece']:.3f} |")
        text.append("")
    (out / "table.md").write_text("\n".join(text))
    print("\n".join(text))
    print(f"wrote {out}/table.md, results.csv and methods.csv")


if __name__ == "__main__":
    main()
