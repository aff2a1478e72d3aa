"""Run catalogued detectors on one data set, as-is and codec-equalized, with leakage-safe CV."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from ._evaluate import cross_validate_detector

__all__ = ["BenchmarkResult", "benchmark_detectors"]

_METRICS = ("roc_auc", "average_precision", "eer", "ece", "balanced_accuracy")


@dataclass
class BenchmarkResult:
    """What :func:`benchmark_detectors` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (detector, protocol): ``<metric>_mean``/``<metric>_std`` over folds for
        ROC-AUC, average precision, EER, ECE and balanced accuracy at the validation-chosen
        threshold; ``features_items_per_s`` (feature extraction, once per item),
        ``fit_items_per_s`` and ``predict_items_per_s`` (the rest of the pipeline, medians over
        folds), ``n_features``; ``status`` is ``"ok"`` or why the detector was skipped.
        With video frames (a frame-level feature table), ``video_<metric>_mean``/``_std`` give
        the same at video level (frame scores aggregated per video).
    per_method : pandas.DataFrame
        ROC-AUC per manipulation method (its fakes vs all reals) on pooled out-of-fold scores,
        one row per (detector, protocol); empty without methods.
    results : dict
        ``(detector, protocol) -> CVResult``.
    """

    table: pd.DataFrame
    per_method: pd.DataFrame
    results: dict

    def to_markdown(self):
        """The table as Markdown: ``mean ± std`` cells, one row per detector and protocol."""
        video = "video_roc_auc_mean" in self.table.columns
        head = ["detector", "protocol", "ROC-AUC", *(["video ROC-AUC"] if video else []), "AP", "EER", "ECE",
                "bal. acc.", "features/s", "fit/s", "predict/s"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for _, r in self.table.iterrows():
            if r["status"] != "ok":
                lines.append(f"| {r['detector']} | {r['protocol']} | " + f"skipped: {r['status']} |"
                             + " |" * (len(head) - 3))
                continue
            cells = [f"{r[m + '_mean']:.3f} ± {r[m + '_std']:.3f}" for m in _METRICS]
            if video:
                cells.insert(1, f"{r['video_roc_auc_mean']:.3f} ± {r['video_roc_auc_std']:.3f}")
            rates = [f"{r[c]:.0f}" if np.isfinite(r[c]) else "–"
                     for c in ("features_items_per_s", "fit_items_per_s", "predict_items_per_s")]
            lines.append(f"| {r['detector']} | {r['protocol']} | " + " | ".join(cells + rates) + " |")
        return "\n".join(lines)


def default_detectors():
    """The catalogued detectors :func:`benchmark_detectors` runs by default: image detectors with a
    feature step that need no torch (deep detectors need weights or GPU-scale training)."""
    from ..estimators import get, names

    return [n for n in names() if get(n).input == "image" and "torch" not in get(n).requires
            and get(n).parts.get("features", "full") is not None]


def benchmark_detectors(X, y=None, *, detectors=None, groups=None, methods=None, protocols=("as-is", "equalized"),
                        cv=5, threshold_rule="eer", random_state=0, n_jobs=None, progress=False, aggregate="mean",
                        k=3):
    """Cross-validate catalogued detectors on one data set, as-is and with the codec equalized.

    Feature extraction is per item and learns nothing from the data, so each distinct feature
    step is computed once per protocol over all items and shared by the detectors and folds that
    use it; everything after it (imputation, scaling, decorrelation, head) is fitted inside each
    fold by :func:`cross_validate_detector` (grouped folds when ``groups`` is given, threshold
    chosen on a validation split of the training part).

    Parameters
    ----------
    X : sequence of images, or FeatureTable
        Items, or a feature table (:func:`forensics.read_table`): then each detector's feature
        columns are read from it after checking that they were made as the detector makes them
        (:meth:`~forensics.FeatureTable.features_for`), nothing is extracted, ``y``, ``groups``
        and ``methods`` default to the table's, and ``protocols`` must be the table's own
        (``"equalized"`` when it was extracted with equalization). Rows with status ``"error"``
        are left out. A frame-level table adds video-level metrics.
    y : array-like of {0, 1}
        Labels (optional with a table).
    detectors : list of str or of (str, Pipeline), optional
        Catalogue names (default: every image detector of the catalogue that does not need
        torch: deep detectors download weights or train networks, so they run only when named),
        or (name, pipeline) pairs to run a pipeline you built (e.g. with other parameters); its
        first step must be ``features``.
    groups : array-like, optional
        Group of each item (source photo, identity, video): folds never split a group.
    methods : array-like of str, optional
        Manipulation method of each item ("real" for reals), for the per-method breakdown.
    protocols : tuple of {"as-is", "equalized"}
        "equalized" runs every item through :class:`forensics.media.CodecEqualizer` first.
    cv, threshold_rule, random_state
        See :func:`cross_validate_detector`.
    n_jobs, progress
        For feature extraction.
    aggregate, k
        With a frame-level table: how frame scores make a video score
        (:func:`~forensics.metrics.aggregate_scores`).

    Returns
    -------
    BenchmarkResult
    """
    from .. import make_pipeline
    from .._parallel import n_workers
    from .._tables import FeatureTable
    from ..estimators import get
    from ..features._base import compile_ahead
    from ..media import CodecEqualizer

    table = X if isinstance(X, FeatureTable) else None
    videos = None
    if table is not None:
        table = table.subset(table.ok)
        y = table.y if y is None else y
        groups = table.groups if groups is None else groups
        methods = table.methods if methods is None else methods
        videos = table.videos
        own = "equalized" if table.meta.get("equalize") else "as-is"
        if tuple(protocols) == ("as-is", "equalized"):
            protocols = (own,)
        if list(protocols) != [own]:
            raise ValueError(f"the feature table was extracted {own}; it cannot give the protocols {list(protocols)}")
    if y is None:
        raise ValueError("y is required unless X is a labelled feature table")
    y = np.asarray(y)
    if detectors is None:  # deep detectors need weights or GPU-scale training: name them explicitly
        detectors = default_detectors()
    detectors = [d if isinstance(d, tuple) else (d, None) for d in detectors]
    no_features = [n for n, p in detectors if (get(n).parts.get("features", "full") is None if p is None
                                               else p.steps[0][0] != "features")]
    if no_features:
        raise ValueError(f"{no_features} take raw images (no feature step): cross-validate them with "
                         "forensics.model_selection.cross_validate_detector(make_pipeline(name), X, y, ...)")
    unknown = [p for p in protocols if p not in ("as-is", "equalized")]
    if unknown:
        raise ValueError(f"unknown protocols {unknown}; use 'as-is' and/or 'equalized'")
    rows, per_method, results = [], [], {}
    for protocol in protocols:
        if table is None:
            items = X if protocol == "as-is" else CodecEqualizer(n_jobs=n_jobs).fit(X).transform(X)
        cache = {}
        for name, pipe in detectors:
            row = dict(detector=name, protocol=protocol, status="ok")
            try:
                if pipe is None:
                    pipe = make_pipeline(name, n_jobs=n_jobs, progress=progress, random_state=random_state)
                features, rest = pipe.steps[0][1], Pipeline(pipe.steps[1:])
                key = repr(sorted(clone(features).get_params(deep=True).items(), key=lambda kv: kv[0]))
                if key not in cache:
                    if table is not None:
                        F_new, _ = table.features_for(features)
                        cache[key] = (F_new, float("nan"))
                    else:
                        t0 = time.perf_counter()
                        fitted = clone(features).fit(items)
                        t_fit = time.perf_counter() - t0
                        # a long benchmark compiles the kernels before its first extraction, outside the timing
                        compile_ahead([fitted], len(items) * len(detectors), n_workers(n_jobs))
                        t0 = time.perf_counter()
                        F_new = fitted.transform(items)
                        cache[key] = (F_new, len(items) / (t_fit + time.perf_counter() - t0))
                F, feature_rate = cache[key]
                res = cross_validate_detector(rest, F, y, groups=groups, methods=methods, cv=cv,
                                              threshold_rule=threshold_rule, random_state=random_state,
                                              videos=videos, aggregate=aggregate, k=k)
            except ImportError as exc:
                row["status"] = str(exc).splitlines()[0]
                rows.append(row)
                continue
            results[(name, protocol)] = res
            for metric in _METRICS:
                row[f"{metric}_mean"] = res.summary.loc[metric, "mean"]
                row[f"{metric}_std"] = res.summary.loc[metric, "std"]
            if res.video_summary is not None:
                for metric in _METRICS:
                    row[f"video_{metric}_mean"] = res.video_summary.loc[metric, "mean"]
                    row[f"video_{metric}_std"] = res.video_summary.loc[metric, "std"]
            row["features_items_per_s"] = feature_rate
            row["fit_items_per_s"] = float(res.folds["fit_items_per_s"].median())
            row["predict_items_per_s"] = float(res.folds["predict_items_per_s"].median())
            row["n_features"] = F.shape[1]
            rows.append(row)
            if methods is not None:
                per = res.per_group if res.video_per_group is None else res.video_per_group
                aucs = per["roc_auc"].drop(index="all", errors="ignore")
                per_method.append(dict(detector=name, protocol=protocol, **aucs.to_dict()))
    return BenchmarkResult(pd.DataFrame(rows), pd.DataFrame(per_method), results)
