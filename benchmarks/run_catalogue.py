"""Every catalogued image detector on a folder data set, as-is and codec-equalized.

    python benchmarks/run_catalogue.py DATA_DIR [--per-class 600] [--out results/catalogue_NAME]
    python benchmarks/run_catalogue.py --demo

DATA_DIR is laid out as ``real/`` and ``fake/[<method>/]`` (forensics.datasets.load_folder).
Runs 5-fold stratified CV (grouped when the data set has groups: the demo set groups crops by
source photo; folders have none), thresholds chosen on a validation split of each training fold
(EER rule), and writes a results table (mean ± std of ROC-AUC, AP, EER, ECE, balanced accuracy;
feature, fit and predict throughput) as CSV and Markdown, plus the per-method ROC-AUC table.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="folder with real/ and fake/[<method>/]")
    parser.add_argument("--demo", action="store_true", help="use the embedded demo set instead of a folder")
    parser.add_argument("--per-class", type=int, default=600, help="images drawn per class (seeded)")
    parser.add_argument("--detectors", nargs="+", default=None)
    parser.add_argument("--protocols", nargs="+", default=["as-is", "equalized"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    from forensics.datasets import IMAGE_SUFFIXES, load_folder, make_demo_dataset
    from forensics.model_selection import benchmark_detectors

    groups = None
    if args.demo:
        manifest = make_demo_dataset(n_per_class=args.per_class if args.per_class != 600 else 120, seed=args.seed)
        X = list(manifest["item"])
        groups = manifest["group"].to_numpy()
        name = "demo"
    elif args.data:
        manifest = load_folder(args.data, suffixes=IMAGE_SUFFIXES)
        rng = np.random.default_rng(args.seed)
        keep = []
        for label in (0, 1):
            idx = np.flatnonzero(manifest["label"].to_numpy() == label)
            keep.extend(sorted(rng.choice(idx, min(args.per_class, len(idx)), replace=False)))
        manifest = manifest.iloc[sorted(keep)].reset_index(drop=True)
        X = [Path(p).read_bytes() for p in manifest["path"]]
        name = Path(args.data).resolve().name
    else:
        parser.error("give a data folder or --demo")
        return 2
    y = manifest["label"].to_numpy()
    methods = manifest["method"].to_numpy()
    print(f"{name}: {len(y)} items ({int((y == 0).sum())} real, {int((y == 1).sum())} fake), "
          f"methods {sorted(set(methods) - {'real'})}", flush=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = benchmark_detectors(X, y, detectors=args.detectors, groups=groups, methods=methods,
                                  protocols=tuple(args.protocols), random_state=args.seed, n_jobs=args.n_jobs,
                                  progress=True)
    out = Path(args.out or ROOT / "results" / f"catalogue_{name}")
    out.mkdir(parents=True, exist_ok=True)
    res.table.to_csv(out / "table.csv", index=False)
    res.per_method.to_csv(out / "per_method.csv", index=False)
    text = "\n".join([
        f"# Catalogue on {name}", "",
        f"{len(y)} items, 5-fold {'grouped ' if groups is not None else ''}stratified CV, seed {args.seed}; "
        f"`python benchmarks/run_catalogue.py {' '.join(sys.argv[1:])}`", "",
        res.to_markdown(), "",
        "ROC-AUC per method (pooled out-of-fold scores, that method's fakes vs all reals):", "",
        res.per_method.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else res.per_method.to_string(),
        "", f"total {time.perf_counter() - t0:.0f} s", ""])
    (out / "table.md").write_text(text)
    print(text)
    print(f"wrote {out}/table.csv, per_method.csv, table.md")


def _has_tabulate():
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
