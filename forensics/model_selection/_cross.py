"""Cross-data-set evaluation: train on one data set, test on others (and the matrix of all pairs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from ..metrics import aggregate_labels, aggregate_scores, evaluate
from ._evaluate import _fake_scores, cross_validate_detector

__all__ = ["CrossDatasetResult", "cross_dataset_matrix", "fit_and_score"]


def _features(pipe, table):
    if not (isinstance(pipe, Pipeline) and pipe.steps[0][0] == "features"):
        raise TypeError("the detector must be a Pipeline whose first step is 'features' (forensics.make_pipeline)")
    table = table.subset(table.ok)
    F, _ = table.features_for(pipe.steps[0][1])
    return table, F, Pipeline(pipe.steps[1:])


def fit_and_score(detector, train, test, *, threshold=0.5, aggregate="mean", k=3):
    """Fit a detector on all of one feature table and score another.

    Parameters
    ----------
    detector : Pipeline
        A pipeline whose first step is ``features`` (e.g. ``forensics.make_pipeline(name)``);
        its feature columns are read from both tables (checked, never re-extracted).
    train, test : FeatureTable
        Labelled tables; rows with status ``"error"`` are left out.
    threshold : float, default=0.5
        Threshold of the thresholded metrics on the test set.
    aggregate, k
        With frame-level tables: the video score (:func:`~forensics.metrics.aggregate_scores`).

    Returns
    -------
    dict
        ``metrics``: :func:`~forensics.metrics.evaluate` on the test rows (index ``all`` and one
        row per method); ``video_metrics``: the same per video (frame-level tables) or None;
        ``scores``: the test rows' fake scores; ``model``: the fitted steps after ``features``.
    """
    train, F_train, rest = _features(detector, train)
    test, F_test, _ = _features(detector, test)
    model = clone(rest).fit(F_train, train.y)
    scores = _fake_scores(model, F_test)
    out = dict(metrics=evaluate(test.y, scores, threshold=threshold, groups=test.methods), video_metrics=None,
               scores=scores, model=model)
    if test.videos is not None:
        vs = aggregate_scores(scores, test.videos, how=aggregate, k=k)
        vy = aggregate_labels(test.y, test.videos)
        first = pd.Series(np.arange(len(test))).groupby(pd.factorize(test.videos, sort=False)[0]).first().to_numpy()
        methods = None if test.methods is None else test.methods[first]
        out["video_metrics"] = evaluate(vy.to_numpy(), vs.to_numpy(), threshold=threshold, groups=methods)
    return out


@dataclass
class CrossDatasetResult:
    """What :func:`cross_dataset_matrix` returns.

    Attributes
    ----------
    matrix : pandas.DataFrame
        ``metric`` with the training data set as rows and the test data set as columns; the
        diagonal is the grouped cross-validation mean on the data set itself.
    video_matrix : pandas.DataFrame or None
        The same at video level (frame-level tables).
    table : pandas.DataFrame
        Long form: one row per (train, test) with ``roc_auc``, ``average_precision``, ``eer``
        (and ``video_*``), ``n_test``, ``how`` (``"cv"`` on the diagonal, ``"fit on train"``).
    """

    matrix: pd.DataFrame
    video_matrix: pd.DataFrame
    table: pd.DataFrame


def cross_dataset_matrix(detector, tables, *, cv=5, threshold_rule="eer", threshold=0.5, aggregate="mean", k=3,
                         random_state=0, metric="roc_auc"):
    """Train on each data set, test on each other: the generalisation matrix of a detector.

    Parameters
    ----------
    detector : Pipeline
        A pipeline whose first step is ``features``; its columns must be in every table.
    tables : dict of str to FeatureTable
        Labelled feature tables by name, e.g. ``{"FF++": ..., "Celeb-DF": ...}``.
    cv, threshold_rule, random_state
        The diagonal: :func:`cross_validate_detector` on each table (grouped folds when it has
        groups or videos).
    threshold : float, default=0.5
        Threshold of the off-diagonal thresholded metrics.
    aggregate, k
        Video scores of frame-level tables.
    metric : str, default="roc_auc"
        The metric shown in ``matrix``.

    Returns
    -------
    CrossDatasetResult
    """
    names = list(tables)
    rows = []
    for a in names:
        ta = tables[a]
        for b in names:
            tb = tables[b]
            if a == b:
                t, F, rest = _features(detector, ta)
                res = cross_validate_detector(rest, F, t.y, groups=t.groups, methods=t.methods, cv=cv,
                                              threshold_rule=threshold_rule, random_state=random_state,
                                              videos=t.videos, aggregate=aggregate, k=k)
                row = {m: res.summary.loc[m, "mean"] for m in ("roc_auc", "average_precision", "eer")}
                if res.video_summary is not None:
                    row.update({f"video_{m}": res.video_summary.loc[m, "mean"]
                                for m in ("roc_auc", "average_precision", "eer")})
                row.update(train=a, test=b, n_test=len(t), how="cv")
            else:
                out = fit_and_score(detector, ta, tb, threshold=threshold, aggregate=aggregate, k=k)
                row = {m: out["metrics"].loc["all", m] for m in ("roc_auc", "average_precision", "eer")}
                if out["video_metrics"] is not None:
                    row.update({f"video_{m}": out["video_metrics"].loc["all", m]
                                for m in ("roc_auc", "average_precision", "eer")})
                row.update(train=a, test=b, n_test=int(out["metrics"].loc["all", "n"]), how="fit on train")
            rows.append(row)
    table = pd.DataFrame(rows)
    first = ["train", "test", "how", "n_test"]
    table = table[first + [c for c in table.columns if c not in first]]
    matrix = table.pivot(index="train", columns="test", values=metric).loc[names, names]
    video = None
    if f"video_{metric}" in table.columns:
        video = table.pivot(index="train", columns="test", values=f"video_{metric}").loc[names, names]
    return CrossDatasetResult(matrix=matrix, video_matrix=video, table=table)
