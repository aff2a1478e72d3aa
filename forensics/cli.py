"""The ``forensics`` command line: one sub-command per job.

``forensics VERB --help`` documents each verb. The verbs:

``demo``
    Build the embedded demo set, extract the handcrafted bank, report a grouped CV ROC-AUC.
``audit DATA``
    The shortcut audit (:func:`forensics.audit`): can the label be read off the file pipeline?
``extract DATA --out DIR``
    A feature table (``DIR/features.csv``), resumable; ``--faces`` crops faces first.
``train DATA --detector NAME --out MODEL``
    Fit a catalogued detector on every item and save it (:func:`forensics.save`).
``evaluate DATA (--detector NAME | --model MODEL)``
    Cross-validated metrics of catalogued detectors, or a model scored on a test set.
``predict MODEL INPUTS...``
    Fake scores for files and folders, one row per input, failures recorded per row.
``report DATA --out DIR``
    An HTML and Markdown report (:func:`forensics.inspection.build_report`).
``app [--models DIR | --model FILE | --demo]``
    A web page that scores one uploaded image or video (:mod:`forensics.app`; Streamlit).

``DATA`` is a folder laid out as ``real/...`` and ``fake/[<method>/]...``
(:func:`forensics.datasets.load_folder`) or a manifest ``.csv`` with a ``path`` column (relative
paths are read from the CSV's folder), ``label`` (fake = 1, real = 0) and optionally ``method``
and ``group``.

New verbs are added by writing a ``_add_<verb>(subparsers)`` function that registers its
options and sets ``func`` to the function that runs it, and listing it in ``_VERBS``.

Exit status (scripts can rely on it): 0 on success; 1 for an error, reported on one line on
stderr (a missing path, an unreadable model, every input failing); 2 for bad arguments
(unknown option or detector, malformed value); 3 when ``audit --fail-on-shortcut`` flags a
property; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
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
    parser.add_argument("--size", type=_int_at_least(32), default=256, metavar="PX",
                        help="side of the square crops in pixels (default: %(default)s)")
    parser.add_argument("--seed", type=_int_at_least(0), default=0,
                        help="seed of the data set and of the fold shuffling (default: %(default)s)")
    parser.add_argument("--n-jobs", type=_n_jobs, default=None, metavar="N",
                        help="images processed in parallel (default: 1; -1 uses every core)")
    parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    parser.add_argument("--no-catalogue", action="store_true",
                        help="skip the second part: the catalogued detectors on the same data")
    parser.add_argument("--no-report", action="store_true",
                        help="skip the third part: the HTML report (OUT/report/report.html)")
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
    if not args.no_report:
        _run_demo_report(demo, out, args)
    return 0


def _run_demo_report(demo, out, args):
    """Part three of the demo: the HTML report (audit, CV, importances, plots) of forensic-xgb."""
    from .inspection import build_report

    print("\nReport: audit, cross-validation, permutation and SHAP importances and plots of forensic-xgb "
          "on the same data ...", flush=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = build_report(list(demo["item"]), demo["label"].to_numpy(), detector="forensic-xgb",
                              groups=demo["group"].to_numpy(), methods=demo["method"].to_numpy(),
                              out_dir=out / "report", title="forensics demo: forensic-xgb on the embedded demo set",
                              random_state=args.seed, progress=not args.no_progress)
    print(f"Wrote {result.html_path} (self-contained, open it in a browser) and {result.markdown_path}  "
          f"[{time.perf_counter() - t0:.1f} s]")


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


# -- shared by the verbs below ----------------------------------------------------------------------

#: Exit status of ``audit --fail-on-shortcut`` when a property is flagged.
EXIT_SHORTCUT = 3
#: Items processed per chunk by ``extract`` (each chunk is appended to the table at once).
EXTRACT_CHUNK = 64
_MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle")


class UsageError(CommandError):
    """A bad argument found only once the command runs (exit status 2, like argparse's)."""


def _common(parser, *, n_jobs=True):
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    if n_jobs:
        parser.add_argument("--n-jobs", type=_n_jobs, default=None, metavar="N",
                            help="items processed in parallel (default: 1; -1 uses every core)")


def _data_arguments(parser, *, labels=True):
    parser.add_argument("data", metavar="DATA",
                        help="a folder with real/ and fake/[<method>/] sub-folders, or a manifest .csv "
                             "with a path column" + (" and a label column (fake = 1)" if labels else ""))
    parser.add_argument("--group-pattern", metavar="REGEX", default=None,
                        help="derive each item's group (items that must not straddle a split) from its file "
                             "name: the first capture group of REGEX, else the whole match (default: the "
                             "manifest's group column, if any)")


def _detector_name(text):
    from .estimators import names

    if text not in names():
        raise argparse.ArgumentTypeError(f"unknown detector {text!r}; the catalogue has {', '.join(names())} "
                                         "(forensics.list_estimators())")
    return text


def _model_path(text):
    if Path(text).suffix.lower() not in _MODEL_SUFFIXES:
        raise argparse.ArgumentTypeError(f"{text!r}: the model file must end in .skops (safe to load) or "
                                         ".joblib/.pkl (a pickle)")
    return text


def _set_pair(text):
    """``--set head__max_depth=3``: a pipeline parameter and a Python literal (else a string)."""
    import ast

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. head__max_depth=3), got {text!r}")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return key, value


def _features_spec(text):
    """``--features``: a preset, or a comma-separated list of extractor names."""
    from .features import ALL_EXTRACTORS, PRESETS

    if text in PRESETS:
        return text
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in ALL_EXTRACTORS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown features {', '.join(unknown) or repr(text)}: use a preset "
                                         f"({', '.join(PRESETS)}) or extractors ({', '.join(ALL_EXTRACTORS)}), "
                                         "comma-separated")
    return names


def _threshold(text):
    from .metrics import THRESHOLD_RULES

    if text in THRESHOLD_RULES:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or one of {', '.join(THRESHOLD_RULES)}, "
                                         f"got {text!r}") from None


def _one_line(text):
    """A message on one line, without memory addresses (``<object at 0x7f...>`` differs run to run)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", " ".join(str(text).split()))


def _read_manifest(path, *, labels):
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype={"path": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read the manifest {os.fspath(path)!r}: {_one_line(exc)}") from None
    needed = ["path", "label"] if labels else ["path"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise CommandError(f"the manifest {os.fspath(path)!r} lacks the column(s) {', '.join(missing)} "
                           f"(it has {', '.join(map(str, table.columns))})")
    if table["path"].isna().any():
        raise CommandError(f"the manifest {os.fspath(path)!r} has an empty path in row "
                           f"{int(np.flatnonzero(table['path'].isna())[0])}")
    base = path.parent
    table["path"] = [p if Path(p).is_absolute() else os.fspath(base / p) for p in table["path"]]
    if "label" in table.columns:
        bad = ~table["label"].isin([0, 1])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise CommandError(f"the manifest {os.fspath(path)!r}, row {i} ({table['path'].iloc[i]}): label "
                               f"{table['label'].iloc[i]!r} is not 0 (real) or 1 (fake)")
        table["label"] = table["label"].astype(np.int64)
        if "method" not in table.columns:
            table["method"] = np.where(table["label"] == 0, "real", "fake")
    return table


def _load_data(data, *, suffixes=None, labels=True, group_pattern=None):
    """The manifest of DATA (a folder dataset or a manifest CSV), with groups when known."""
    from .datasets import IMAGE_SUFFIXES, VIDEO_SUFFIXES, load_folder

    path = Path(data)
    if path.is_dir():
        manifest = load_folder(path, suffixes=suffixes or IMAGE_SUFFIXES + VIDEO_SUFFIXES)
    elif path.is_file():
        if path.suffix.lower() != ".csv":
            raise CommandError(f"DATA {data!r} is a file but not a manifest .csv; give a folder with real/ "
                               "and fake/ sub-folders or a .csv")
        manifest = _read_manifest(path, labels=labels)
    else:
        raise CommandError(f"DATA not found: {data!r} (expected a folder with real/ and fake/ sub-folders, or "
                           "a manifest .csv)")
    if "kind" not in manifest.columns:
        manifest["kind"] = ["video" if Path(p).suffix.lower() in VIDEO_SUFFIXES else "image"
                            for p in manifest["path"]]
    if group_pattern is not None:
        try:
            regex = re.compile(group_pattern)
        except re.error as exc:
            raise UsageError(f"--group-pattern {group_pattern!r} is not a regular expression: {exc}") from None
        groups = []
        for p in manifest["path"]:
            match = regex.search(Path(p).name)
            if match is None:
                raise CommandError(f"--group-pattern {group_pattern!r} does not match the file name of {p}")
            groups.append(match.group(1) if regex.groups else match.group(0))
        manifest["group"] = groups
    return manifest


def _groups(manifest):
    return manifest["group"].to_numpy() if "group" in manifest.columns else None


def _no_groups_note(manifest):
    if "group" not in manifest.columns:
        print("  note: no groups given (no group column, no --group-pattern): items are treated as independent. "
              "If several items share a source (crops of a photo, frames of a video, one person), give "
              "--group-pattern so they stay on one side of every split, or the metrics leak.")


def _input_kind(detector):
    from .estimators import get

    return get(detector).input


def _suffixes_for(detector):
    from .datasets import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    return VIDEO_SUFFIXES if detector is not None and _input_kind(detector) == "video" else IMAGE_SUFFIXES


def _set_progress(pipe, flag):
    """Turn the progress bars of a pipeline's steps on or off (their ``progress`` parameter)."""
    steps = getattr(pipe, "steps", [("model", pipe)])
    for _, step in steps:
        if hasattr(step, "get_params") and "progress" in step.get_params(deep=False):
            step.set_params(progress=flag)


def _fake_scores(model, X):
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X))
        classes = list(getattr(model, "classes_", [0, 1]))
        return proba[:, classes.index(1) if 1 in classes else -1]
    return np.asarray(model.decision_function(X), dtype=np.float64).ravel()


@contextlib.contextmanager
def _quiet_warnings():
    """Silence library warnings the command reports itself (failed items) or that only add noise (loky)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*could not be (processed|read|equalized).*", category=RuntimeWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="joblib")
        yield


def _write_text(path, text, what):
    path = Path(path)
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {what} to {os.fspath(path)!r}: {exc.strerror or exc}") from None


def _json_ready(value):
    """Plain JSON values: NaN/inf -> null, NumPy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# -- audit -----------------------------------------------------------------------------------------

def _add_audit(subparsers):
    parser = subparsers.add_parser(
        "audit",
        help="shortcut audit: can the label be predicted from file properties alone?",
        description=(
            "Read each image's container header (format, size, file size, JPEG quantization tables and "
            "quality, chroma subsampling, EXIF/ICC markers; no pixel is decoded) and cross-validate a "
            "one-property model against the label. A property that predicts the label (AUC >= the "
            "threshold) is flagged: a detector could score by learning the file pipeline instead of "
            "the forgery. Prints the report; the warning is printed, not an error (exit 0), unless "
            f"--fail-on-shortcut is given (then exit {EXIT_SHORTCUT} when a property is flagged)."
        ),
    )
    _data_arguments(parser)
    parser.add_argument("--per-class", type=_int_at_least(2), default=None, metavar="N",
                        help="audit a random sample of at most N items of each class (default: all)")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the report as JSON to OUT")
    parser.add_argument("--cv", type=_int_at_least(2), default=5, metavar="K", help="folds (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=0.8, metavar="AUC",
                        help="flag a property whose out-of-fold AUC is at least this (default: %(default)s)")
    parser.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the sample and the folds")
    parser.add_argument("--fail-on-shortcut", action="store_true",
                        help=f"exit with status {EXIT_SHORTCUT} when a property is flagged (for CI scripts)")
    _common(parser)
    parser.set_defaults(func=_run_audit)


def _sample_per_class(manifest, n, seed):
    rng = np.random.default_rng(seed)
    keep = []
    for label in (0, 1):
        idx = np.flatnonzero(manifest["label"].to_numpy() == label)
        keep.extend(idx if len(idx) <= n else rng.choice(idx, n, replace=False))
    return manifest.iloc[np.sort(np.asarray(keep, dtype=np.int64))].reset_index(drop=True)


def _run_audit(args):
    from .datasets import IMAGE_SUFFIXES
    from .inspection import audit

    if not 0.5 <= args.threshold <= 1:
        raise UsageError(f"--threshold must be in [0.5, 1], got {args.threshold}")
    manifest = _load_data(args.data, suffixes=IMAGE_SUFFIXES, group_pattern=args.group_pattern)
    if args.per_class is not None:
        manifest = _sample_per_class(manifest, args.per_class, args.seed)
    report = audit(list(manifest["path"]), manifest["label"].to_numpy(), cv=args.cv, threshold=args.threshold,
                   random_state=args.seed, n_jobs=args.n_jobs, progress=not args.no_progress, warn=False,
                   on_error="nan")
    print(report)
    failed = report.status[report.status["status"] != "ok"] if report.status is not None else []
    if len(failed):
        first = failed.iloc[0]
        print(f"\nwarning: {len(failed)} items could not be read (their properties are missing); first: "
              f"{first['source']}: {first['error']}")
    if args.json:
        table = report.table.reset_index().rename(columns={"index": "property"})
        payload = dict(
            n_items=report.n_items, class_balance={str(k): v for k, v in report.class_balance.items()},
            threshold=report.threshold, n_splits=report.n_splits, flagged=list(report.flagged),
            warning=report.warning_message, table=table.to_dict(orient="records"),
            n_failed_items=len(failed),
        )
        _write_text(args.json, json.dumps(_json_ready(payload), indent=2) + "\n", "the audit")
        print(f"\nWrote {args.json}")
    return EXIT_SHORTCUT if args.fail_on_shortcut and report.flagged else 0


# -- extract ---------------------------------------------------------------------------------------

def _add_extract(subparsers):
    parser = subparsers.add_parser(
        "extract",
        help="extract a feature table (CSV) from images, videos or face crops; resumable",
        description=(
            "Extract handcrafted features for every item of DATA into OUT/features.csv: the manifest's "
            "columns, status and error (an item that cannot be read is a row of empty features with "
            "status 'error', never a dropped row), then one column per feature. Items are processed in "
            "chunks appended as they finish; running the same command again after an interruption skips "
            "the items already written (keyed by path) and yields the same file as an uninterrupted run. "
            "Videos (without --faces) give one row per video: the frame features aggregated over "
            "--n-frames frames. With --faces, faces are detected and cropped first and the table has one "
            "row per crop (forensics.datasets.extract_faces, also resumable; crops in OUT/crops/)."
        ),
    )
    parser.add_argument("data", metavar="DATA|MANIFEST.csv",
                        help="a folder with real/ and fake/[<method>/] sub-folders, or a manifest .csv with a "
                             "path column")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (features.csv is written there)")
    parser.add_argument("--features", type=_features_spec, default=None, metavar="SPEC",
                        help="a preset (full, minimal, pixels) or comma-separated extractors, e.g. spectral,noise "
                             "(default: full for images, pixels for video frames and face crops)")
    parser.add_argument("--equalize", action="store_true",
                        help="re-encode every image the same way first (forensics.media.CodecEqualizer), so "
                             "the codec cannot give the label away")
    parser.add_argument("--faces", action="store_true", help="detect and crop faces; one row per crop")
    parser.add_argument("--detector", default="auto", choices=("auto", "yunet", "cascade", "mtcnn"),
                        help="face detector for --faces (default: %(default)s)")
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="model file of the face detector (the YuNet ONNX file for --detector yunet)")
    parser.add_argument("--n-frames", type=_int_at_least(1), default=32, metavar="N",
                        help="frames sampled evenly from each video (default: %(default)s)")
    parser.add_argument("--chunk-size", type=_int_at_least(1), default=EXTRACT_CHUNK, metavar="N",
                        help="items per appended chunk (default: %(default)s)")
    _common(parser)
    parser.set_defaults(func=_run_extract)


def _row_keys(paths):
    """Each row's key: its path, plus the occurrence number when a path is listed twice."""
    seen, keys = {}, []
    for p in paths:
        seen[p] = seen.get(p, -1) + 1
        keys.append(p if seen[p] == 0 else f"{p}#{seen[p]}")
    return keys


def _written_keys(table_path, header, path_column):
    """Keys of the rows already in a features.csv; a torn last line (interrupted write) is cut off."""
    raw = table_path.read_bytes()
    if not raw:
        return []
    end = raw.rfind(b"\n") + 1
    if end < len(raw):
        with open(table_path, "r+b") as f:
            f.truncate(end)
        raw = raw[:end]
    text = raw.decode("utf-8")
    first = text.split("\n", 1)[0]
    if first != header:
        raise CommandError(f"{os.fspath(table_path)} was written with other settings or data (its columns "
                           "differ); use another --out folder, or delete the file to start again")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return _row_keys([r[path_column] for r in rows if r])


def _run_extract(args):
    import pandas as pd
    from tqdm.auto import tqdm

    from ._pipeline import make_features
    from .features import VideoFeatures
    from .media import CodecEqualizer

    manifest = _load_data(args.data, labels=False)
    if args.faces:
        if args.equalize:
            raise UsageError("--equalize re-encodes whole images; it does not apply to --faces crops")
        return _extract_faces(manifest, args)
    kinds = set(manifest["kind"])
    if kinds == {"image", "video"}:
        raise CommandError(f"DATA {args.data!r} mixes images and videos, whose feature columns differ; extract "
                           "them separately (or use --faces: one row per face crop for both)")
    video = kinds == {"video"}
    if video and args.equalize:
        raise UsageError("--equalize applies to images; video frames are decoded pixels")
    out = _prepare_out(args.out)
    frame_features = make_features(args.features or ("pixels" if video else "full"), on_error="nan",
                                   n_jobs=args.n_jobs)
    if video:
        extractor = VideoFeatures(frame_features, faces=False, n_frames=args.n_frames, on_error="nan",
                                  n_jobs=args.n_jobs).fit()
    else:
        extractor = frame_features.fit()
    equalizer = CodecEqualizer(on_error="none", n_jobs=args.n_jobs).fit() if args.equalize else None
    names = [str(n) for n in extractor.get_feature_names_out()]
    meta = [c for c in manifest.columns if c != "kind"]
    clash = [c for c in meta if c in ("status", "error")]
    if clash:
        raise CommandError(f"the manifest has a column named {clash[0]!r}, which the feature table uses for the "
                           "status of each item; rename it")
    columns = meta + ["status", "error"] + names
    header = pd.DataFrame(columns=columns).to_csv(index=False).rstrip("\n")
    table_path = out / "features.csv"

    keys = _row_keys(list(manifest["path"]))
    done = _written_keys(table_path, header, meta.index("path")) if table_path.exists() else []
    unknown = sorted(set(done) - set(keys))
    if unknown:
        raise CommandError(f"{os.fspath(table_path)} holds rows of items that DATA does not list (first: "
                           f"{unknown[0]}); use another --out folder")
    if not done:
        table_path.write_text(header + "\n", encoding="utf-8")
    done_set = set(done)
    todo = [i for i, k in enumerate(keys) if k not in done_set]
    print(f"forensics extract: {len(manifest)} {'videos' if video else 'images'}, {len(names)} features"
          + (f"; {len(done)} already in {table_path}, {len(todo)} to go" if done else ""))

    n_failed = 0
    first_error = None
    bar = tqdm(total=len(keys), initial=len(keys) - len(todo), desc="extract", unit="item",
               disable=args.no_progress, file=sys.stderr)
    with _quiet_warnings():
        try:
            for start in range(0, len(todo), args.chunk_size):
                rows = todo[start:start + args.chunk_size]
                X = [manifest["path"].iloc[i] for i in rows]
                errors = [""] * len(rows)
                if equalizer is not None:
                    X = equalizer.transform(X)
                    for r in equalizer.status_.itertuples():
                        if r.status != "ok":
                            errors[r.index] = _one_line(r.error)
                F = extractor.transform(X)
                for r in extractor.status_.itertuples():
                    if r.status == "error" and not errors[r.index]:
                        errors[r.index] = _one_line(r.error)
                chunk = manifest.iloc[rows][meta].reset_index(drop=True)
                chunk["status"] = ["error" if e else "ok" for e in errors]
                chunk["error"] = errors
                chunk = pd.concat([chunk, pd.DataFrame(F, columns=names)], axis=1)
                text = chunk.to_csv(index=False, header=False)
                with open(table_path, "a", encoding="utf-8", newline="") as f:  # one write per chunk
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                bad = [j for j, e in enumerate(errors) if e]
                if bad and first_error is None:
                    first_error = f"{manifest['path'].iloc[rows[bad[0]]]}: {errors[bad[0]]}"
                n_failed += len(bad)
                bar.update(len(rows))
        finally:
            bar.close()

    if done and todo and done != keys[:len(done)]:
        _reorder_table(table_path, keys, meta.index("path"))
    written = pd.read_csv(table_path, usecols=["status"])
    n_errors = int((written["status"] != "ok").sum())
    if n_failed:
        print(f"  warning: {n_failed} items could not be processed (status 'error', empty features); first: "
              f"{first_error}")
    print(f"Wrote {table_path} ({len(written)} rows x {len(columns)} columns; {n_errors} with status error)")
    if len(written) and n_errors == len(written):
        raise CommandError(f"feature extraction failed on every item; see the error column of {table_path}")
    return 0


def _reorder_table(table_path, keys, path_column):
    """Rewrite a resumed table in DATA order (when the rows written before were not a prefix)."""
    text = table_path.read_text(encoding="utf-8")
    lines = list(csv.reader(io.StringIO(text)))
    header, rows = lines[0], [r for r in lines[1:] if r]
    by_key = dict(zip(_row_keys([r[path_column] for r in rows]), rows))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(by_key[k] for k in keys if k in by_key)
    tmp = table_path.with_suffix(".csv.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, table_path)


def _extract_faces(manifest, args):
    from ._pipeline import make_features
    from .datasets import extract_faces

    for column in ("label", "method"):
        if column not in manifest.columns:
            raise CommandError(f"--faces needs a {column!r} column in the manifest (it reports face-found rates "
                               "per class and method)")
    if args.detector == "yunet" and args.model is None:
        raise UsageError("--detector yunet needs --model PATH (the YuNet ONNX file)")
    if args.model is not None and not Path(args.model).is_file():
        raise CommandError(f"face detector model not found: {args.model!r}")
    out = _prepare_out(args.out)
    features = make_features(args.features or "pixels", on_error="nan")
    with _quiet_warnings():
        result = extract_faces(manifest.drop(columns=["kind"]), out, detector=args.detector, model_path=args.model,
                               n_frames=args.n_frames, features=features, n_jobs=args.n_jobs,
                               progress=not args.no_progress)
    print(result.report)
    print(f"Wrote {out / 'features.csv'} ({len(result.crops)} face crops from {len(manifest)} items), "
          f"{out / 'crops.csv'}, {out / 'records.csv'} and {out / 'report.txt'}")
    return 0


# -- train -----------------------------------------------------------------------------------------

def _add_train(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="fit a catalogued detector on every item of DATA and save it",
        description=(
            "Build a catalogued detector (forensics.make_pipeline(NAME); forensics.list_estimators() lists "
            "them), fit it on every item of DATA and save it with forensics.save: .skops is safe to load "
            "(no arbitrary code), .joblib is a pickle (load only files you trust)."
        ),
    )
    _data_arguments(parser)
    parser.add_argument("--detector", required=True, type=_detector_name, metavar="NAME",
                        help="catalogued detector to fit")
    parser.add_argument("--set", dest="params", type=_set_pair, action="append", default=[], metavar="NAME=VALUE",
                        help="a pipeline parameter, e.g. --set head__C=0.1 (repeatable; values are Python "
                             "literals, else strings)")
    parser.add_argument("--equalize", action="store_true",
                        help="prepend codec equalization (forensics.media.CodecEqualizer) to the pipeline")
    parser.add_argument("--out", required=True, type=_model_path, metavar="MODEL",
                        help="where to save the fitted model (.skops or .joblib)")
    parser.add_argument("--seed", type=_int_at_least(0), default=0, help="random_state of the pipeline")
    _common(parser)
    parser.set_defaults(func=_run_train)


def _build_detector(name, args, params=()):
    from . import make_pipeline

    kwargs = dict(random_state=getattr(args, "seed", 0), n_jobs=args.n_jobs, progress=not args.no_progress)
    if args.equalize:
        kwargs["equalize"] = True
    pipe = make_pipeline(name, **kwargs)
    if params:
        valid = pipe.get_params(deep=True)
        unknown = [k for k, _ in params if k not in valid]
        if unknown:
            close = [k for k in valid if k.split("__")[-1] == unknown[0].split("__")[-1]]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"--set {unknown[0]}: the {name} pipeline has no such parameter{hint}")
        pipe.set_params(**dict(params))
    return pipe


def _run_train(args):
    from . import save

    pipe = _build_detector(args.detector, args, args.params)  # bad --set names fail before the data is read
    manifest = _load_data(args.data, suffixes=_suffixes_for(args.detector), group_pattern=args.group_pattern)
    y = manifest["label"].to_numpy()
    if len(np.unique(y)) < 2:
        raise CommandError(f"DATA {args.data!r} has items of one class only; training needs reals and fakes")
    out = Path(args.out)
    if out.parent != Path(""):
        _prepare_out(out.parent)
    counts = np.bincount(y, minlength=2)
    print(f"forensics train: {args.detector} on {len(y)} items ({counts[0]} real, {counts[1]} fake)")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="joblib")
        pipe.fit(list(manifest["path"]), y)
    _set_progress(pipe, False)  # a saved model stays quiet; predict turns the bars on when it wants them
    try:
        save(pipe, out)
    except OSError as exc:
        raise CommandError(f"cannot write the model to {os.fspath(out)!r}: {exc.strerror or exc}") from None
    print(f"  fitted in {time.perf_counter() - t0:.1f} s; steps: {' -> '.join(n for n, _ in pipe.steps)}")
    print(f"Wrote {out}")
    return 0


# -- evaluate --------------------------------------------------------------------------------------

def _add_evaluate(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="cross-validated metrics of catalogued detectors, or a model scored on a test set",
        description=(
            "With --detector: cross-validate the detector(s) on DATA (forensics.model_selection."
            "benchmark_detectors: folds grouped when groups are known, threshold chosen on a validation "
            "split of each training fold) and print mean +- std over folds; with --test, fit on all of "
            "DATA and score TESTDATA instead (a cross-data-set test). With --model: score DATA, the test "
            "set, with a saved model. Test-set tables (forensics.metrics.evaluate) have a row 'all' and "
            "one per manipulation method (its fakes against all reals)."
        ),
    )
    _data_arguments(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--detector", type=lambda t: t if t == "all" else _detector_name(t), action="append",
                       metavar="NAME", help="catalogued detector to evaluate (repeatable; 'all' for every image "
                                            "detector)")
    which.add_argument("--model", default=None, metavar="MODEL",
                       help="a model saved by 'forensics train' (DATA is then the test set)")
    parser.add_argument("--cv", type=_int_at_least(2), default=5, metavar="K", help="folds (default: %(default)s)")
    parser.add_argument("--test", default=None, metavar="TESTDATA",
                        help="with --detector: fit on all of DATA, score this test set (folder or manifest .csv)")
    parser.add_argument("--equalize", action="store_true",
                        help="with --detector: re-encode every item the same way first (codec equalization)")
    parser.add_argument("--threshold", type=_threshold, default=0.5, metavar="T",
                        help="test-set threshold on the fake score (default: %(default)s); a rule name (eer, "
                             "youden, f1, accuracy) picks it on the test set itself, which is optimistic")
    parser.add_argument("--out", default=None, metavar="FILE.csv", help="write the results table as CSV")
    parser.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the folds and pipelines")
    _common(parser)
    parser.set_defaults(func=_run_evaluate)


def _run_evaluate(args):
    if args.model is not None:
        if args.test is not None:
            raise UsageError("--test goes with --detector; with --model, DATA is the test set")
        if args.equalize:
            raise UsageError("--equalize goes with --detector; a saved model keeps the steps it was trained with")
        return _evaluate_model(args)
    detectors = list(dict.fromkeys(args.detector))
    if "all" in detectors:
        from .estimators import get, names

        detectors = [n for n in names() if get(n).input == "image"]
    if args.test is not None:
        return _evaluate_on_test(detectors, args)
    return _evaluate_cv(detectors, args)


def _evaluate_cv(detectors, args):
    from .model_selection import benchmark_detectors

    kinds = {_input_kind(d) for d in detectors}
    if len(kinds) > 1:
        raise UsageError("evaluate image and video detectors separately (they read different files)")
    manifest = _load_data(args.data, suffixes=_suffixes_for(detectors[0]), group_pattern=args.group_pattern)
    y = manifest["label"].to_numpy()
    protocol = "equalized" if args.equalize else "as-is"
    groups = _groups(manifest)
    print(f"forensics evaluate: {', '.join(detectors)} on {len(y)} items, {args.cv}-fold CV"
          + (f" grouped by {manifest['group'].nunique()} groups" if groups is not None else "")
          + f", protocol {protocol}")
    _no_groups_note(manifest)
    with _quiet_warnings():
        bench = benchmark_detectors(list(manifest["path"]), y, detectors=detectors, groups=groups,
                                    methods=manifest["method"].to_numpy(), protocols=(protocol,), cv=args.cv,
                                    random_state=args.seed, n_jobs=args.n_jobs, progress=not args.no_progress)
    print(bench.to_markdown())
    if len(bench.per_method):
        print("\nROC-AUC per manipulation method (pooled out-of-fold scores, its fakes vs all reals):")
        print(bench.per_method.drop(columns="protocol").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.out:
        table = bench.table
        if len(bench.per_method):
            per = bench.per_method.drop(columns="protocol").set_index("detector").add_prefix("roc_auc__")
            table = table.join(per, on="detector")
        _write_text(args.out, table.to_csv(index=False), "the results")
        print(f"\nWrote {args.out}")
    if (bench.table["status"] != "ok").all():
        raise CommandError(f"no detector could run: {bench.table['status'].iloc[0]}")
    return 0


def _score_table(model, manifest, args, what):
    from .metrics import evaluate

    y = manifest["label"].to_numpy()
    with _quiet_warnings():
        scores = _fake_scores(model, list(manifest["path"]))
    table = evaluate(y, scores, threshold=args.threshold, groups=manifest["method"].to_numpy())
    print(f"Metrics of {what} on {len(y)} test items (threshold {args.threshold}; per method: its fakes vs all "
          "reals):")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.out:
        _write_text(args.out, table.reset_index().to_csv(index=False), "the results")
        print(f"\nWrote {args.out}")
    return 0


def _evaluate_on_test(detectors, args):
    if len(detectors) != 1:
        raise UsageError("--test scores one detector: give a single --detector")
    name = detectors[0]
    pipe = _build_detector(name, args)
    suffixes = _suffixes_for(name)
    train = _load_data(args.data, suffixes=suffixes, group_pattern=args.group_pattern)
    test = _load_data(args.test, suffixes=suffixes)
    print(f"forensics evaluate: {name} fitted on {len(train)} items of {args.data}, tested on {len(test)} items "
          f"of {args.test}")
    shared = set(map(os.path.realpath, train["path"])) & set(map(os.path.realpath, test["path"]))
    if shared:
        print(f"  warning: {len(shared)} test items are also training items (e.g. {sorted(shared)[0]}): the "
              "metrics are optimistic")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="joblib")
        pipe.fit(list(train["path"]), train["label"].to_numpy())
    return _score_table(pipe, test, args, name)


def _evaluate_model(args):
    from .datasets import IMAGE_SUFFIXES, VIDEO_SUFFIXES
    from .features import VideoFeatures

    model = _load_model(args.model)
    first = getattr(model, "steps", [(None, model)])[0][1]
    suffixes = VIDEO_SUFFIXES if isinstance(first, VideoFeatures) else IMAGE_SUFFIXES
    _set_progress(model, not args.no_progress)
    manifest = _load_data(args.data, suffixes=suffixes, group_pattern=args.group_pattern)
    return _score_table(model, manifest, args, args.model)


def _load_model(path):
    from . import load

    if not Path(path).is_file():
        raise CommandError(f"model not found: {path!r}")
    try:
        return load(path)
    except (OSError, ValueError, EOFError) as exc:
        raise CommandError(f"cannot load the model {path!r}: {_one_line(exc)}") from None
    except Exception as exc:  # a corrupt pickle or zip raises almost anything
        raise CommandError(f"cannot load the model {path!r}: {type(exc).__name__}: {_one_line(exc)}") from None


# -- predict ---------------------------------------------------------------------------------------

def _add_predict(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help="fake scores of image (or video) files and folders with a saved model",
        description=(
            "Score each input with a model saved by 'forensics train' (or forensics.save). INPUTS are files "
            "and folders (a folder contributes its image files, or video files for a video model, sorted, "
            "recursively). One row per input file, in order: input, score (probability of fake), "
            "prediction (1 = fake, score >= --threshold), status ('ok' or 'error') and error. An input "
            "that cannot be read is a row with status 'error'; the exit status is 0 unless every input "
            "fails."
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="the saved model (.skops or .joblib)")
    parser.add_argument("inputs", metavar="INPUTS", nargs="+", help="image or video files, and folders of them")
    parser.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default: %(default)s)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write there instead of to standard output")
    parser.add_argument("--threshold", type=float, default=0.5, metavar="T",
                        help="score at or above which an input is predicted fake (default: %(default)s)")
    parser.add_argument("--chunk-size", type=_int_at_least(1), default=EXTRACT_CHUNK, metavar="N",
                        help="inputs scored per call (default: %(default)s)")
    _common(parser, n_jobs=False)
    parser.set_defaults(func=_run_predict)


def _expand_inputs(inputs, suffixes):
    """(input, path or None, error) per input file; folders are expanded, sorted, recursively."""
    rows = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            if not files:
                rows.append((text, None, f"folder holds no file with suffix {', '.join(suffixes)}"))
            rows.extend((os.fspath(p), os.fspath(p), "") for p in files)
        elif path.is_file():
            rows.append((text, text, ""))
        else:
            rows.append((text, None, "not found"))
    return rows


def _item_reason(exc):
    from .media import ItemError

    return _one_line(exc.reason if isinstance(exc, ItemError) else f"{type(exc).__name__}: {exc}")


def _run_predict(args):
    import pandas as pd
    from tqdm.auto import tqdm

    from .datasets import IMAGE_SUFFIXES, VIDEO_SUFFIXES
    from .features import VideoFeatures

    model = _load_model(args.model)
    _set_progress(model, False)
    steps = getattr(model, "steps", [(None, model)])
    video = isinstance(steps[0][1], VideoFeatures)
    rows = _expand_inputs(args.inputs, VIDEO_SUFFIXES if video else IMAGE_SUFFIXES)
    scores = np.full(len(rows), np.nan)
    errors = [e for _, _, e in rows]
    todo = [i for i, (_, path, _) in enumerate(rows) if path is not None]
    bar = tqdm(total=len(todo), desc="predict", unit="item", disable=args.no_progress, file=sys.stderr)
    with _quiet_warnings():
        try:
            for start in range(0, len(todo), args.chunk_size):
                part = todo[start:start + args.chunk_size]
                try:
                    scores[part] = _fake_scores(model, [rows[i][1] for i in part])
                except (ValueError, OSError, RuntimeError, TypeError):
                    for i in part:  # one bad item spoils the chunk: score its items one by one
                        try:
                            scores[i] = _fake_scores(model, [rows[i][1]])[0]
                        except (ValueError, OSError, RuntimeError, TypeError) as exc:
                            errors[i] = _item_reason(exc)
                bar.update(len(part))
        finally:
            bar.close()
    for i in range(len(rows)):
        if not errors[i] and not np.isfinite(scores[i]):
            errors[i] = "the model gave no finite score"
    ok = np.array([not e for e in errors])
    table = pd.DataFrame(dict(
        input=[r[0] for r in rows],
        score=np.where(ok, scores, np.nan),
        prediction=pd.array([int(s >= args.threshold) if k else None for s, k in zip(scores, ok)], dtype="Int64"),
        status=np.where(ok, "ok", "error"),
        error=errors,
    ))
    if args.format == "csv":
        text = table.to_csv(index=False)
    else:
        records = [_json_ready(dict(r, prediction=None if pd.isna(r["prediction"]) else int(r["prediction"])))
                   for r in table.to_dict(orient="records")]
        text = json.dumps(records, indent=2) + "\n"
    if args.out:
        _write_text(args.out, text, "the predictions")
    else:
        sys.stdout.write(text)
    n_bad = int((~ok).sum())
    if 0 < n_bad < len(rows):
        first = int(np.flatnonzero(~ok)[0])
        print(f"forensics predict: {n_bad} of {len(rows)} inputs failed (status error); first: {rows[first][0]}: "
              f"{errors[first]}", file=sys.stderr)
    if args.out:
        print(f"Wrote {args.out} ({len(rows)} rows)", file=sys.stderr)
    if n_bad == len(rows):
        raise CommandError(f"every input failed; first: {rows[0][0]}: {errors[0]}")
    return 0


# -- report ----------------------------------------------------------------------------------------

def _add_report(subparsers):
    parser = subparsers.add_parser(
        "report",
        help="an HTML + Markdown report: audit, cross-validated metrics, importance, SHAP, figures",
        description=(
            "Write a report on DATA and a detector into OUT (forensics.inspection.build_report): the shortcut "
            "audit, cross-validated metrics (grouped folds when groups are known), permutation importance, "
            "SHAP, and figures; OUT/report.html is self-contained, OUT/report.md links the PNG and CSV files "
            "beside it."
        ),
    )
    _data_arguments(parser)
    parser.add_argument("--detector", type=_detector_name, default=None, metavar="NAME",
                        help="catalogued detector to cross-validate (default: the report's own default)")
    parser.add_argument("--equalize", action="store_true", help="re-encode every item the same way first")
    parser.add_argument("--cv", type=_int_at_least(2), default=5, metavar="K", help="folds (default: %(default)s)")
    parser.add_argument("--title", default=None, help="title of the report")
    parser.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the folds, SHAP sample and shuffles")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _common(parser, n_jobs=False)
    parser.set_defaults(func=_run_report)


def _run_report(args):
    from .inspection import build_report

    manifest = _load_data(args.data, suffixes=_suffixes_for(args.detector), group_pattern=args.group_pattern)
    out = _prepare_out(args.out)
    kwargs = dict(groups=_groups(manifest), methods=manifest["method"].to_numpy(), cv=args.cv,
                  equalize=args.equalize, out_dir=out, title=args.title, random_state=args.seed,
                  progress=not args.no_progress)
    if args.detector is not None:
        kwargs["detector"] = args.detector
    print(f"forensics report: {len(manifest)} items of {args.data}")
    _no_groups_note(manifest)
    with _quiet_warnings():
        result = build_report(list(manifest["path"]), manifest["label"].to_numpy(), **kwargs)
    print(f"Wrote {result.html_path} and {result.markdown_path}")
    return 0


# -- entry point -----------------------------------------------------------------------------------

def _add_app(subparsers):  # the app verb's options and code live in forensics.app._launch
    from .app._launch import add_parser
    return add_parser(subparsers)


_VERBS = (_add_demo, _add_audit, _add_extract, _add_train, _add_evaluate, _add_predict, _add_report, _add_app)


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
        The exit status: 0 on success; 1 on an error (printed on one line to stderr); 2 for bad
        arguments (argparse, or a bad value found once the command runs, such as an unknown
        ``--set`` parameter); 3 when ``audit --fail-on-shortcut`` flags a property; 130 when
        interrupted.

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
    except UsageError as exc:
        verb = parser._subparsers._group_actions[0].choices[args.command]  # the verb's own usage line
        verb.print_usage(sys.stderr)
        print(f"forensics {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (CommandError, OSError, ValueError, ImportError) as exc:  # ItemError is a ValueError
        message = _one_line(exc) or type(exc).__name__
        print(f"forensics {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"forensics {args.command}: interrupted", file=sys.stderr)
        return 130
