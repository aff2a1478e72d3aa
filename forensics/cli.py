"""The ``forensics`` command line: one sub-command per job.

``forensics demo`` (also ``python -m forensics demo`` and ``make demo``) builds the embedded
demo set, extracts the handcrafted feature bank and reports a grouped cross-validated ROC-AUC.
New verbs are added by writing a ``_add_<verb>(subparsers)`` function that registers its
options and sets ``func`` to the function that runs it, and listing it in ``_VERBS``.

Exit status: 0 on success, 2 for bad arguments (argparse), 1 for an error, reported on one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["build_parser", "main"]

#: Inverse regularisation strength of the demo's logistic-regression head. With a few hundred
#: items and about as many standardised features, a strong penalty keeps the head honest.
DEMO_C = 0.1
DEMO_N_SPLITS = 5


class CommandError(Exception):
    """A failure to report to the user on one line (exit status 1), without a traceback."""


# -- argument types -------------------------------------------------------------------------------

def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"int>={low}"  # argparse shows the name in its messages
    return parse


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must be a non-zero integer (-1 uses every core)")
    return value


# -- demo ------------------------------------------------------------------------------------------

def _add_demo(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="cross-validate the feature bank on the embedded demo set (offline)",
        description=(
            "Build the embedded demo set (real and manipulated JPEG crops of photos shipped with "
            "scikit-image and scikit-learn), extract the full handcrafted feature bank, and report "
            "the ROC-AUC of a logistic-regression head under 5-fold cross-validation grouped by "
            "source photo. Writes OUT/features.csv and OUT/results.json."
        ),
    )
    parser.add_argument("--out", default="results/demo", metavar="DIR",
                        help="folder for features.csv and results.json (default: %(default)s)")
    parser.add_argument("--n-per-class", type=_int_at_least(10), default=120, metavar="N",
                        help="real items, and fake items, in the demo set (default: %(default)s)")
    parser.add_argument("--size", type=_int_at_least(32), default=128, metavar="PX",
                        help="side of the square crops in pixels (default: %(default)s)")
    parser.add_argument("--seed", type=_int_at_least(0), default=0,
                        help="seed of the data set and of the fold shuffling (default: %(default)s)")
    parser.add_argument("--n-jobs", type=_n_jobs, default=None, metavar="N",
                        help="images processed in parallel (default: 1; -1 uses every core)")
    parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    parser.add_argument("--no-catalogue", action="store_true",
                        help="skip the second part: the catalogued detectors on the same data")
    parser.set_defaults(func=_run_demo)


def _prepare_out(path):
    """Create the output folder and prove it is writable before any long computation."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise CommandError(f"cannot write to --out {os.fspath(out)!r}: {exc.strerror or exc}") from None
    return out


def _demo_head(seed):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("classify", LogisticRegression(C=DEMO_C, max_iter=2000, random_state=seed)),
    ])


def _auc(y, score):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def _grouped_cv(X, y, groups, seed):
    """Out-of-fold fake probabilities and per-fold AUCs of the demo head."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold

    cv = StratifiedGroupKFold(n_splits=DEMO_N_SPLITS, shuffle=True, random_state=seed)
    head = _demo_head(seed)
    oof = np.full(len(y), np.nan)
    folds = []
    for train, test in cv.split(X, y, groups):
        model = clone(head).fit(X[train], y[train])
        oof[test] = model.predict_proba(X[test])[:, 1]
        folds.append(dict(auc=_auc(y[test], oof[test]), n_test=int(len(test)),
                          groups=sorted(set(groups[test].tolist()))))
    return oof, folds


def _families(names):
    return list(dict.fromkeys(str(n).split("__", 1)[0] for n in names))


def _json_number(value):
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def _run_demo(args):
    import pandas as pd

    from .datasets import DEMO_METHODS, make_demo_dataset
    from .features import make_feature_bank

    out = _prepare_out(args.out)
    timings = {}

    print("forensics demo: the embedded demo set, built offline from photos shipped with "
          "scikit-image and scikit-learn")
    t0 = time.perf_counter()
    demo = make_demo_dataset(n_per_class=args.n_per_class, size=args.size, seed=args.seed)
    timings["dataset"] = time.perf_counter() - t0
    counts = demo["method"].value_counts()
    fakes = ", ".join(f"{m} {int(counts.get(m, 0))}" for m in DEMO_METHODS)
    print(f"  {len(demo)} JPEG images {args.size}x{args.size} ({int((demo['label'] == 0).sum())} real; "
          f"{int((demo['label'] == 1).sum())} fake: {fakes}) from {len(demo.attrs['photos'])} photos in "
          f"{demo['group'].nunique()} groups, every item encoded alike (OpenCV, quality "
          f"{demo.attrs['quality']}, 4:2:0)  [{timings['dataset']:.1f} s]")

    t0 = time.perf_counter()
    bank = make_feature_bank(n_jobs=args.n_jobs, on_error="nan", progress=not args.no_progress)
    with warnings.catch_warnings(record=True) as caught:  # failed items are reported below
        warnings.simplefilter("always", RuntimeWarning)
        X = bank.fit_transform(demo["item"])
    for w in caught:
        if not (issubclass(w.category, RuntimeWarning) and "could not be processed" in str(w.message)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    timings["features"] = time.perf_counter() - t0
    names = [str(n) for n in bank.get_feature_names_out()]
    families = _families(names)
    print(f"  features: {X.shape[1]} columns from families {', '.join(families)}  "
          f"[{timings['features']:.1f} s]")

    status = bank.status_
    failed = status[status["status"] != "ok"]
    if len(failed) == len(demo):
        raise CommandError(f"feature extraction failed on every item; first: item "
                           f"{failed.iloc[0]['index']}: {failed.iloc[0]['error']}")
    if len(failed):
        print(f"  warning: {len(failed)} items could not be processed and are NaN rows "
              f"(imputed); first: item {failed.iloc[0]['index']}: {failed.iloc[0]['error']}")
    finite = np.isfinite(X)
    n_inf = int((~finite & ~np.isnan(X)).sum())
    if n_inf:
        print(f"  warning: {n_inf} infinite feature values treated as missing")
        X = np.where(finite, X, np.nan)
    n_missing = int(np.isnan(X).sum())
    if n_missing:
        print(f"  {n_missing} missing values ({n_missing / X.size:.2%} of the table) are imputed by the "
              "column median")

    y = demo["label"].to_numpy()
    groups = demo["group"].to_numpy()
    methods = demo["method"].to_numpy()
    print(f"\nCross-validation: {DEMO_N_SPLITS}-fold StratifiedGroupKFold, grouped by source photo.")
    print("  Why grouped: crops of one photo share its content, camera noise and earlier compression; "
          "with crops of one photo in both train and test the head can recognise the photo instead "
          "of the manipulation, and the AUC leaks.")
    print(f"  head: median imputation -> standardisation -> logistic regression (C={DEMO_C})")
    t0 = time.perf_counter()
    oof, folds = _grouped_cv(X, y, groups, args.seed)
    timings["cv"] = time.perf_counter() - t0
    for k, fold in enumerate(folds, 1):
        print(f"  fold {k}: ROC-AUC {fold['auc']:.3f}  ({fold['n_test']} test items from "
              f"{len(fold['groups'])} photo groups)")
    fold_auc = np.array([f["auc"] for f in folds])
    mean, std = float(np.nanmean(fold_auc)), float(np.nanstd(fold_auc))
    print(f"  ROC-AUC {mean:.3f} ± {std:.3f} (mean ± std over {len(folds)} folds)")
    per_method = {}
    real = methods == "real"
    for m in DEMO_METHODS:
        mask = real | (methods == m)
        if (methods == m).any():
            per_method[m] = _auc(y[mask], oof[mask])
    print("  per method (out-of-fold scores, fakes of one method vs all reals): "
          + ", ".join(f"{m} {a:.3f}" for m, a in per_method.items()))
    pooled = _auc(y, oof)

    table = pd.DataFrame(X, columns=names)
    table["label"] = y
    table["method"] = methods
    table["group"] = groups
    features_path = out / "features.csv"
    results_path = out / "results.json"
    results = dict(
        command="demo",
        dataset=dict(n_items=int(len(demo)), n_per_class=args.n_per_class, size=args.size, seed=args.seed,
                     quality=demo.attrs["quality"], photos=demo.attrs["photos"],
                     n_groups=int(demo["group"].nunique()),
                     methods={m: int(counts.get(m, 0)) for m in DEMO_METHODS}),
        features=dict(n_features=int(X.shape[1]), families=families, n_failed_items=int(len(failed)),
                      n_missing_values=n_missing),
        cv=dict(splitter=f"StratifiedGroupKFold(n_splits={DEMO_N_SPLITS}, shuffle=True, random_state={args.seed})",
                groups="source photo",
                head=f"SimpleImputer(median) -> StandardScaler -> LogisticRegression(C={DEMO_C}, max_iter=2000)"),
        fold_auc=[_json_number(a) for a in fold_auc],
        auc_mean=_json_number(mean),
        auc_std=_json_number(std),
        auc_pooled_oof=_json_number(pooled),
        auc_per_method={m: _json_number(a) for m, a in per_method.items()},
        seconds={k: round(v, 3) for k, v in timings.items()},
    )
    try:
        table.to_csv(features_path, index=False)
        results_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write the results to {os.fspath(out)!r}: {exc.strerror or exc}") from None
    print(f"\nWrote {features_path} ({table.shape[0]} rows x {table.shape[1]} columns: features + label, "
          f"method, group) and {results_path}")
    if not args.no_catalogue:
        _run_catalogue(demo, out, args)
    return 0


def _run_catalogue(demo, out, args):
    """Part two of the demo: every catalogued image detector, grouped CV, one results table."""
    from .model_selection import benchmark_detectors

    print("\nThe detector catalogue on the same data (forensics.list_estimators()); 5-fold grouped CV, "
          "threshold chosen on a validation split of each training fold (EER rule):")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # loky notes about the CPU count on small machines
        bench = benchmark_detectors(list(demo["item"]), demo["label"].to_numpy(), groups=demo["group"].to_numpy(),
                                    methods=demo["method"].to_numpy(), protocols=("as-is",),
                                    random_state=args.seed, n_jobs=args.n_jobs, progress=not args.no_progress)
    print(bench.to_markdown())
    if len(bench.per_method):
        print("\nROC-AUC per manipulation method (pooled out-of-fold scores, its fakes vs all reals):")
        print(bench.per_method.drop(columns="protocol").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    try:
        bench.table.to_csv(out / "catalogue.csv", index=False)
        (out / "catalogue.md").write_text(bench.to_markdown() + "\n", encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write the results to {os.fspath(out)!r}: {exc.strerror or exc}") from None
    print(f"Wrote {out / 'catalogue.csv'} and {out / 'catalogue.md'}  [{time.perf_counter() - t0:.1f} s]")


# -- entry point -----------------------------------------------------------------------------------

_VERBS = (_add_demo,)


def build_parser():
    """The argument parser of the ``forensics`` command, with one sub-parser per verb."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="forensics",
        description="Forensic features for detecting deepfakes and AI-generated images.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_verb in _VERBS:
        add_verb(subparsers)
    return parser


def main(argv=None):
    """Run the ``forensics`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 1 on an error (printed on one line to stderr). Bad
        arguments exit with status 2 through argparse.

    Examples
    --------
    >>> from forensics.cli import main
    >>> main(["demo", "--n-per-class", "20", "--size", "64", "--out", "results/demo"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CommandError, OSError, ValueError) as exc:  # ItemError is a ValueError
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"forensics {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"forensics {args.command}: interrupted", file=sys.stderr)
        return 130
