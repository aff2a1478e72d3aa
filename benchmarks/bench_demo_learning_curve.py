"""What limits the demo per-method figures: a learning curve, and matched-generator augmentation.

    python benchmarks/bench_demo_learning_curve.py curve [--sizes 120 240 480 960] [--seeds 0]
        [--detectors spectrum-lr forensic-xgb generalist-xgb] [--n-jobs 2] [--out results/demo_curve]
    python benchmarks/bench_demo_learning_curve.py nested [--per-class 960] [--fractions 0.125 0.25 0.5 1]
        [--cut items|groups] [--repeats 1] [--detectors ...] [--n-jobs 2] [--out results/demo_curve]
    python benchmarks/bench_demo_learning_curve.py augment [--per-class 120] [--k 1 4] [--sources raw decoded]
        [--aug-seed 0] [--detectors ...] [--n-jobs 2] [--out results/demo_curve]

Protocol (every part): the "seen" column of the methods table of bench_cross_dataset.py. The demo
set (``make_demo_dataset(n, size=256, seed)``), 5-fold CV grouped by source photo
(``forensics.model_selection.make_cv``, seed as the set); each detector is fitted once per fold on
the whole training part (every method) and scored on the test fold's reals against the test
fold's fakes of one method (and of all methods: "all"). Features come from one bank holding every
family the detectors use (``_generalization.union_bank``), each detector reading exactly its own
columns (checked equal to its own feature step on a few items). Mean ± std (ddof=1) over the 5 folds.

- ``curve``: the same at several set sizes. A larger set is a different draw of the generator
  (``make_demo_dataset`` draws every crop from one stream), not the smaller one plus items, and
  crops of a photo overlap more as n grows (16 photos, 15 groups).
- ``nested``: one large draw (960 per class) and its 5 folds; the test folds stay whole and each
  training fold is cut to nested random shares of its reals and of its fakes (the smaller share
  inside the larger), so only the training size changes, not the draw or the test items; with
  ``--cut groups``, to shares of its photo groups instead (fewer photos, all their crops).
- ``augment``: the 120-per-class set; each training fold gets ``k`` pseudo-fakes per training
  real made by the demo's own generator (``_self_blend``, ``_resample``, ``_splice``; the methods
  in turn from a balanced random start per real, so each real's first pseudo-fake is the k=1 set;
  splice donors are other training-fold reals of another photo group, grey when the host is grey;
  every pseudo-fake encoded by the demo's encoder, ``_encode_jpeg`` at q90). Test folds are
  untouched. ``--sources raw``: from the exact pixels the real item was encoded from (recovered
  while the set is built, checked to re-encode to the same bytes), i.e. the demo's generator
  exactly; ``decoded``: from the decoded training JPEG, as a user of the recipe would (one more
  JPEG generation than the test fakes have). This is an upper bound with a matched generator,
  NOT a generalization figure. The ``pseudo only`` row trains on the reals and their k
  pseudo-fakes without any real fake. The pseudo-fakes are drawn for the largest k, so the k=1 set
  of ``--k 1 4`` and of ``--k 1 4 16`` are different draws; ``--aug-seed`` draws them anew.

Writes ``<part>.md`` and ``<part>.csv`` under --out.
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
from _generalization import ROOT, detector_columns, extract, union_bank  # noqa: E402

DETECTORS = ("spectrum-lr", "forensic-xgb", "generalist-xgb")
SIZE = 256
QUALITY = 90


def demo_with_sources(per_class, seed):
    """The demo set and, per row, the uint8 RGB pixels its JPEG was encoded from.

    The pixels are recorded by wrapping the demo module's one encoder while the set is built; each
    is checked to re-encode to the row's bytes, so they are exactly the generator's pre-encoding image.
    """
    from forensics.datasets import _demo

    raws, encode = [], _demo._encode_jpeg

    def recording(rgb, quality):
        raws.append(np.array(rgb))
        return encode(rgb, quality)

    _demo._encode_jpeg = recording
    try:
        demo = _demo.make_demo_dataset(n_per_class=per_class, size=SIZE, seed=seed, quality=QUALITY)
    finally:
        _demo._encode_jpeg = encode
    if len(raws) != len(demo) or any(encode(r, QUALITY) != b for r, b in zip(raws, demo["item"])):
        raise RuntimeError("the recorded pixels do not re-encode to the demo items")
    gray = {p.name: p.is_gray for p in _demo._load_photos()}
    demo["is_gray"] = [gray.get(s.split("+")[0], False) for s in demo["source"]]
    return demo, raws


def seen_per_method(F, y, methods, folds, cols, rest, extra=None, pseudo_only=False, subsets=None):
    """Per-fold ROC-AUC of one detector: {method or "all": [auc per fold]}.

    ``extra[f]``: feature rows of pseudo-fakes (label 1) added to training fold ``f``; with
    ``pseudo_only`` the training fold's real fakes are dropped. ``subsets[f]``: the training
    items kept of fold ``f`` (default: all).
    """
    from forensics.metrics import roc_auc

    kinds = ["all", *sorted(set(methods[y == 1]))]
    out = {m: [] for m in kinds}
    for f, (train, test) in enumerate(folds):
        if subsets is not None:
            train = subsets[f]
        if pseudo_only:
            train = train[y[train] == 0]
        X, yy = F[train][:, cols], y[train]
        if extra is not None:
            X, yy = np.vstack([X, extra[f][:, cols]]), np.r_[yy, np.ones(len(extra[f]), dtype=yy.dtype)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = clone(rest).fit(X, yy)
            prob = model.predict_proba(F[test][:, cols])[:, 1]
        yt, mt = y[test], methods[test]
        for m in kinds:
            keep = (yt == 0) | (mt == m) if m != "all" else np.ones(len(yt), bool)
            out[m].append(roc_auc(yt[keep], prob[keep]))
    return out


def _summary(aucs):
    a = np.asarray(aucs, float)
    return float(np.nanmean(a)), float(np.nanstd(a, ddof=1))


def _load(per_class, seed, bank, n_jobs):
    t0 = time.perf_counter()
    demo, raws = demo_with_sources(per_class, seed)
    items, y = list(demo["item"]), demo["label"].to_numpy()
    F, names = extract(bank, items, cache_key=("demo", len(items), seed, "clean"), n_jobs=n_jobs, progress=False)
    groups = demo["group"].to_numpy()
    from forensics.model_selection import make_cv

    folds = list(make_cv(y, groups, n_splits=5, random_state=seed).split(np.zeros((len(y), 1)), y, groups))
    print(f"demo n={per_class}/class seed {seed}: {len(items)} items, {F.shape[1]} features "
          f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    return dict(demo=demo, raws=raws, items=items, y=y, methods=demo["method"].to_numpy(), groups=groups,
                F=F, names=names, folds=folds)


def run_curve(args):
    bank = union_bank(args.detectors)
    rows = []
    for seed in args.seeds:
        for n in args.sizes:
            d = _load(n, seed, bank, args.n_jobs)
            for det in args.detectors:
                t0 = time.perf_counter()
                cols, rest = detector_columns(det, d["names"], d["items"][:3], d["F"][:3])
                res = seen_per_method(d["F"], d["y"], d["methods"], d["folds"], cols, rest)
                for m, aucs in res.items():
                    mean, std = _summary(aucs)
                    rows.append(dict(seed=seed, n_per_class=n, detector=det, method=m, auc=mean, auc_std=std,
                                     folds=" ".join(f"{a:.3f}" for a in aucs)))
                print(f"  {det:15s} " + "  ".join(f"{m} {np.nanmean(a):.3f} ± {np.nanstd(a, ddof=1):.3f}"
                                                  for m, a in res.items())
                      + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    table = pd.DataFrame(rows)
    lines = []
    for seed in args.seeds:
        sub = table[table["seed"] == seed]
        methods = list(dict.fromkeys(sub["method"]))
        lines += [f"seed {seed}", "", "| detector | n per class | " + " | ".join(methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        for det in args.detectors:
            for n in args.sizes:
                cell = sub[(sub["detector"] == det) & (sub["n_per_class"] == n)].set_index("method")
                lines.append(f"| {det} | {n} | " + " | ".join(
                    f"{cell.loc[m, 'auc']:.3f} ± {cell.loc[m, 'auc_std']:.3f}" for m in methods) + " |")
        lines.append("")
    return table, lines


def _nested_subsets(train, y, groups, frac, cut, rng):
    """The training items kept of one fold: a share of its reals and of its fakes, or of its photo groups."""
    if cut == "items":
        return np.sort(np.concatenate([o[:max(1, int(round(frac * len(o))))]
                                       for o in (rng.permutation(train[y[train] == c]) for c in (0, 1))]))
    order = rng.permutation(np.unique(groups[train]))
    kept = order[:max(1, int(round(frac * len(order))))]
    return np.sort(train[np.isin(groups[train], kept)])


def run_nested(args):
    """One large draw, its 5 folds fixed; each training fold cut to nested random subsets.

    ``--cut items``: a share of the fold's reals and of its fakes (all its photos, fewer crops of
    each); ``--cut groups``: a share of its photo groups with all their items (fewer photos). The
    shares of one repeat are nested (one random order per fold and repeat); with ``--repeats`` the
    per-fold AUC is averaged over that many random orders before the mean and std over folds.
    """
    bank = union_bank(args.detectors)
    d = _load(args.per_class, args.seed, bank, args.n_jobs)
    y, groups = d["y"], d["groups"]
    rows = []
    for frac in args.fractions:
        subsets = []  # [repeat][fold]
        for r in range(args.repeats):
            key = (lambda f: [args.seed, 2000 + f]) if r == 0 else (lambda f: [args.seed, 2000 + f, r])
            subsets.append([_nested_subsets(train, y, groups, frac, args.cut, np.random.default_rng(key(f)))
                            for f, (train, _) in enumerate(d["folds"])])
        n_train = int(np.mean([len(s) for rep in subsets for s in rep]))
        n_groups = float(np.mean([len(np.unique(groups[s])) for rep in subsets for s in rep]))
        for det in args.detectors:
            cols, rest = detector_columns(det, d["names"], d["items"][:3], d["F"][:3])
            reps = [seen_per_method(d["F"], y, d["methods"], d["folds"], cols, rest, subsets=rep) for rep in subsets]
            res = {m: list(np.nanmean([rep[m] for rep in reps], axis=0)) for m in reps[0]}
            for m, aucs in res.items():
                mean, std = _summary(aucs)
                rows.append(dict(cut=args.cut, fraction=frac, n_train=n_train, n_groups=n_groups, detector=det,
                                 method=m, auc=mean, auc_std=std, folds=" ".join(f"{a:.3f}" for a in aucs)))
            print(f"  {frac:5.3f} ({n_train} training items, {n_groups:.1f} photo groups) {det:15s} "
                  + "  ".join(f"{m} {np.nanmean(a):.3f} ± {np.nanstd(a, ddof=1):.3f}" for m, a in res.items()),
                  flush=True)
    table = pd.DataFrame(rows)
    methods = list(dict.fromkeys(table["method"]))
    lines = [f"demo n={args.per_class} per class, seed {args.seed}; test folds fixed, training folds cut by "
             f"{args.cut}, {args.repeats} repeat(s)", "",
             "| detector | share of training fold (items, photo groups) | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for (det, frac), g in table.groupby(["detector", "fraction"], sort=False):
        cell = g.set_index("method")
        lines.append(f"| {det} | {frac:g} ({int(g['n_train'].iloc[0])}, {g['n_groups'].iloc[0]:.1f}) | "
                     + " | ".join(f"{cell.loc[m, 'auc']:.3f} ± {cell.loc[m, 'auc_std']:.3f}" for m in methods) + " |")
    return table, lines


def pseudo_fakes(sources, train_reals, groups, is_gray, k, rng):
    """``k`` pseudo-fakes per training real by the demo's own manipulations, as JPEG q90 bytes.

    Returns the bytes and, per pseudo-fake, (index of its real, j in 0..k-1, method).
    """
    from forensics.datasets._demo import DEMO_METHODS, _as_gray, _encode_jpeg, _resample, _self_blend, _splice

    start = rng.permutation(np.arange(len(train_reals)) % len(DEMO_METHODS))
    items, meta = [], []
    for pos, i in enumerate(train_reals):
        donors = train_reals[groups[train_reals] != groups[i]]  # other photos of the training fold only
        for j in range(k):
            method = DEMO_METHODS[(start[pos] + j) % len(DEMO_METHODS)]
            crop = sources[i]
            if method == "self_blend":
                image, _ = _self_blend(crop, rng, bool(is_gray[i]))
            elif method == "resample":
                image, _ = _resample(crop, rng)
            else:
                donor = sources[int(rng.choice(donors))]
                image, _ = _splice(crop, _as_gray(donor) if is_gray[i] else donor, rng)
            items.append(_encode_jpeg(image, QUALITY))
            meta.append((int(i), j, method))
    return items, meta


def run_augment(args):
    bank = union_bank(args.detectors)
    d = _load(args.per_class, args.seed, bank, args.n_jobs)
    y, groups, is_gray = d["y"], d["groups"], d["demo"]["is_gray"].to_numpy()
    decoded = [cv2.cvtColor(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
               for b in d["items"]]
    k_max = max(args.k)
    probe = {det: detector_columns(det, d["names"], d["items"][:3], d["F"][:3]) for det in args.detectors}
    rows = []

    def record(det, setting, res):
        for m, aucs in res.items():
            mean, std = _summary(aucs)
            rows.append(dict(detector=det, setting=setting, method=m, auc=mean, auc_std=std,
                             folds=" ".join(f"{a:.3f}" for a in aucs)))
        print(f"  {det:15s} {setting:22s} " + "  ".join(f"{m} {np.nanmean(a):.3f} ± {np.nanstd(a, ddof=1):.3f}"
                                                          for m, a in res.items()), flush=True)

    for det, (cols, rest) in probe.items():
        record(det, "none", seen_per_method(d["F"], y, d["methods"], d["folds"], cols, rest))
    for source in args.sources:
        pixels = d["raws"] if source == "raw" else decoded
        t0 = time.perf_counter()
        extra = {}  # k -> per-fold feature rows
        for f, (train, _) in enumerate(d["folds"]):
            train_reals = np.sort(train[y[train] == 0])
            rng = np.random.default_rng([args.seed, 1000 + f] + ([args.aug_seed] if args.aug_seed else []))
            items, meta = pseudo_fakes(pixels, train_reals, groups, is_gray, k_max, rng)
            key = ("demo-pseudo", len(d["items"]), args.seed, source, k_max, f, tuple(train_reals))
            key += (args.aug_seed,) if args.aug_seed else ()
            P, _ = extract(bank, items, cache_key=key, n_jobs=args.n_jobs, progress=False)
            j = np.array([m[1] for m in meta])
            for k in args.k:
                extra.setdefault(k, []).append(P[j < k])
        print(f"pseudo-fakes from {source} pixels: {sum(len(e) for e in extra[k_max])} over 5 folds "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)
        for det, (cols, rest) in probe.items():
            for k in args.k:
                record(det, f"{source} k={k}", seen_per_method(d["F"], y, d["methods"], d["folds"], cols, rest,
                                                               extra=extra[k]))
            record(det, f"{source} k={k_max} pseudo only",
                   seen_per_method(d["F"], y, d["methods"], d["folds"], cols, rest, extra=extra[k_max],
                                   pseudo_only=True))
    table = pd.DataFrame(rows)
    methods = list(dict.fromkeys(table["method"]))
    lines = ["| detector | training folds | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for (det, setting), g in table.groupby(["detector", "setting"], sort=False):
        cell = g.set_index("method")
        lines.append(f"| {det} | {setting} | " + " | ".join(f"{cell.loc[m, 'auc']:.3f} ± {cell.loc[m, 'auc_std']:.3f}"
                                                         for m in methods) + " |")
    return table, lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["curve", "nested", "augment"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[120, 240, 480, 960])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="curve: draws of the demo set")
    parser.add_argument("--per-class", type=int, default=None,
                        help="augment / nested: size of the set (default 120 / 960)")
    parser.add_argument("--seed", type=int, default=0, help="augment / nested: the draw")
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.125, 0.25, 0.5, 1.0],
                        help="nested: shares of each training fold kept")
    parser.add_argument("--cut", choices=["items", "groups"], default="items",
                        help="nested: cut the training folds' items or their photo groups")
    parser.add_argument("--repeats", type=int, default=1, help="nested: random orders averaged per fold")
    parser.add_argument("--k", nargs="+", type=int, default=[1, 4], help="augment: pseudo-fakes per training real")
    parser.add_argument("--sources", nargs="+", choices=["raw", "decoded"], default=["raw", "decoded"])
    parser.add_argument("--aug-seed", type=int, default=0, help="augment: another draw of the pseudo-fakes")
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "results" / "demo_curve"))
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    if args.per_class is None:
        args.per_class = 960 if args.part == "nested" else 120
    table, lines = {"curve": run_curve, "nested": run_nested, "augment": run_augment}[args.part](args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{args.part}.csv", index=False)
    lines = [f"`python benchmarks/bench_demo_learning_curve.py {' '.join(sys.argv[1:])}`; "
             f"total {time.perf_counter() - t0:.0f} s", "", *lines]
    (out / f"{args.part}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
