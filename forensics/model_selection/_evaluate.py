"""Cross-validation of a detector with a leakage-safe threshold protocol, timings and per-method tables."""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from time import perf_counter

import numpy as np
import pandas as pd
import scipy.sparse
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit
from tqdm.auto import tqdm

from ..metrics._metrics import EVALUATE_COLUMNS, THRESHOLD_RULES, _check_labels, choose_threshold, evaluate
from ._splits import check_group_leakage, make_cv

__all__ = ["CVResult", "cross_validate_detector"]

_TIMING_COLUMNS = ("fit_seconds", "predict_seconds", "fit_items_per_s", "predict_items_per_s")


@dataclass(repr=False)
class CVResult:
    """What :func:`cross_validate_detector` returns.

    Attributes
    ----------
    folds : pandas.DataFrame
        One row per outer fold (index ``fold``): the columns of the ``"all"`` row of
        :func:`~forensics.metrics.evaluate` on the test fold (``n``, ``n_fake`` count the test
        items; ``threshold`` is the one chosen on validation), then ``n_fit``, ``n_validation``,
        ``fit_seconds``, ``predict_seconds`` (scoring the test fold), ``fit_items_per_s`` and
        ``predict_items_per_s``.
    summary : pandas.DataFrame
        Index: the numeric columns of ``folds``; columns ``mean`` and ``std`` (over folds,
        ``ddof=1``).
    per_group : pandas.DataFrame
        :func:`~forensics.metrics.evaluate` on the pooled out-of-fold scores, each item judged with
        its own fold's threshold: the row ``"all"``, plus one row per method (its fakes + all
        reals) when ``methods`` was given. Pooling mixes the score scales of different folds'
        models; the per-fold AUCs in ``folds`` do not.
    oof_scores : ndarray of shape (n_items,)
        Out-of-fold fake-class score of every item (each item is in exactly one test fold).
    thresholds : ndarray of shape (n_splits,)
        The threshold of each fold, chosen on its validation part.
    test_fold : ndarray of shape (n_items,), int
        The fold in which each item was tested.
    threshold_rule : str or float
        The rule the thresholds were chosen with.
    video_folds, video_summary, video_per_group : pandas.DataFrame or None
        With ``videos``: the same three tables at video level, on video scores aggregated from
        the out-of-fold item (frame) scores by ``aggregate``; each video is judged with the
        threshold of the fold that tested it. None without ``videos``.
    video_scores : pandas.Series or None
        The aggregated out-of-fold score of each video, indexed by video id (first appearance
        order), named ``"score"``.
    video_labels : pandas.Series or None
        The label of each video, same index.
    aggregate : str or None
        The aggregation rule of :func:`~forensics.metrics.aggregate_scores` that made the video
        scores (``"topk_mean:3"`` for ``topk_mean`` with ``k=3``).
    estimators : list or None
        With ``return_estimator=True``: the model fitted in each fold (``estimators[f]`` scored
        the items with ``test_fold == f``), as :func:`sklearn.model_selection.cross_validate`
        returns them. None otherwise.
    """

    folds: pd.DataFrame
    summary: pd.DataFrame
    per_group: pd.DataFrame
    oof_scores: np.ndarray
    thresholds: np.ndarray
    test_fold: np.ndarray
    threshold_rule: object = field(default="eer")
    video_folds: pd.DataFrame = None
    video_summary: pd.DataFrame = None
    video_per_group: pd.DataFrame = None
    video_scores: pd.Series = None
    video_labels: pd.Series = None
    aggregate: str = None
    estimators: list = None

    def __repr__(self):
        parts = [f"n_splits={len(self.folds)}", f"threshold_rule={self.threshold_rule!r}"]
        for name in ("roc_auc", "eer", "balanced_accuracy"):
            mean, std = self.summary.loc[name, "mean"], self.summary.loc[name, "std"]
            parts.append(f"{name}={mean:.3f}+-{std:.3f}")
        if self.video_summary is not None:
            mean, std = self.video_summary.loc["roc_auc", "mean"], self.video_summary.loc["roc_auc", "std"]
            parts.append(f"video_roc_auc={mean:.3f}+-{std:.3f}")
        return f"CVResult({', '.join(parts)})"


class _FixedSplits:
    """A splitter that replays precomputed splits (to run the leakage check on them)."""

    def __init__(self, splits):
        self.splits = splits

    def split(self, X=None, y=None, groups=None):
        yield from self.splits


def _n_items(X):
    if scipy.sparse.issparse(X):
        return X.shape[0]
    return len(X)


def _take(X, idx):
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[idx]
    if isinstance(X, np.ndarray) or scipy.sparse.issparse(X):
        return X[idx]
    return [X[i] for i in idx]


def _fake_scores(estimator, X):
    """Fake-class scores: ``predict_proba[:, class 1]``, else ``decision_function`` oriented to 1."""
    classes = list(getattr(estimator, "classes_", [0, 1]))
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X), dtype=np.float64)[:, classes.index(1)]
    if hasattr(estimator, "decision_function"):
        d = np.asarray(estimator.decision_function(X), dtype=np.float64).ravel()
        return d if classes[-1] == 1 else -d
    raise TypeError(f"{type(estimator).__name__} has neither predict_proba nor decision_function")


def _has_both(y):
    return 0 < int(np.sum(y == 1)) < y.size


def _inner_split(fold, y, groups, train, validation_fraction, random_state):
    """Split an outer training part into (fit, validation) indices, stratified, grouped if groups."""
    y_train = y[train]
    zeros = np.zeros((train.size, 1))
    if groups is None:
        counts = np.bincount(y_train, minlength=2)
        if counts.min() < 2:
            raise ValueError(f"fold {fold}: the training part has {counts.min()} item(s) of class "
                             f"{int(counts.argmin())}; a fit/validation split needs at least 2")
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=validation_fraction, random_state=random_state)
        try:
            fit, val = next(splitter.split(zeros, y_train))
        except ValueError as exc:
            raise ValueError(f"fold {fold}: cannot split the training part into fit/validation with "
                             f"validation_fraction={validation_fraction}: {exc}") from exc
        return train[fit], train[val]
    g_train = groups[train]
    k = max(2, int(round(1 / validation_fraction)))
    n_groups = pd.Series(g_train).groupby(y_train).nunique()
    if len(n_groups) < 2 or n_groups.min() < 2:
        raise ValueError(f"fold {fold}: a class of the training part spans fewer than 2 groups; "
                         "no grouped fit/validation split can hold both classes on both sides")
    # at most as many splits as the larger class has items: more is scikit-learn's error "n_splits=5 cannot be
    # greater than the number of members in each class" (a small training part, each class under 1/fraction)
    n_splits = min(k, int(pd.unique(g_train).size), int(np.bincount(y_train).max()))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        # its n_splits comes from validation_fraction, not from the caller, and the split taken is checked
        # below to hold both classes on both sides: a small class's "fewer members than n_splits=4" only confuses
        warnings.filterwarnings("ignore", message="The least populated class in y has only", category=UserWarning)
        for fit, val in splitter.split(zeros, y_train, g_train):
            if _has_both(y_train[fit]) and _has_both(y_train[val]):
                return train[fit], train[val]
    raise ValueError(f"fold {fold}: no grouped fit/validation split of the training part holds both classes "
                     "on both sides; use fewer outer folds or a larger validation_fraction")


def _run_fold(fold, estimator, X, y, groups, train, test, rule, validation_fraction, random_state, keep=False):
    if isinstance(rule, str):
        fit, val = _inner_split(fold, y, groups, train, validation_fraction, random_state)
    else:
        fit, val = train, np.zeros(0, dtype=np.intp)
    est = clone(estimator)
    x_fit = _take(X, fit)
    start = perf_counter()
    est.fit(x_fit, y[fit])
    fit_seconds = perf_counter() - start
    if isinstance(rule, str):
        threshold = choose_threshold(y[val], _fake_scores(est, _take(X, val)), rule)
    else:
        threshold = float(rule)
    x_test = _take(X, test)
    start = perf_counter()
    scores = _fake_scores(est, x_test)
    predict_seconds = perf_counter() - start
    row = evaluate(y[test], scores, threshold=threshold).loc["all"].to_dict()
    row.update(n_fit=int(fit.size), n_validation=int(val.size), fit_seconds=fit_seconds,
               predict_seconds=predict_seconds, fit_items_per_s=fit.size / fit_seconds,
               predict_items_per_s=test.size / predict_seconds)
    return row, scores, threshold, (est if keep else None)


def cross_validate_detector(estimator, X, y, *, groups=None, methods=None, cv=5, threshold_rule="eer",
                            validation_fraction=0.2, random_state=0, n_jobs=None, progress=False, videos=None,
                            aggregate="mean", k=3, return_estimator=False):
    """Cross-validate a detector: out-of-fold scores, per-fold metrics at a validation-chosen threshold.

    Parameters
    ----------
    estimator : classifier
        Any scikit-learn classifier or Pipeline (e.g. a feature bank + head); it is cloned per
        fold. Fake-class scores come from ``predict_proba`` (else ``decision_function``, and the
        calibration metrics are then NaN).
    X : sequence of images or array-like of shape (n_items, ...)
        Indexed as ``X[idx]`` for NumPy arrays and sparse matrices, ``X.iloc[idx]`` for pandas
        objects, and ``[X[i] for i in idx]`` for anything else (a list of paths or images).
    y : array-like of shape (n_items,)
        Labels, fake = 1, real = 0.
    groups : array-like of shape (n_items,), optional
        Items of a group (video, identity, source photo; see
        :func:`groups_from_manifest`) never straddle a split, outer or inner.
    methods : array-like of shape (n_items,), optional
        Manipulation method of each item ("real" for reals), for the per-method rows of
        ``per_group``.
    cv : int or splitter, default=5
        An int: :func:`make_cv` (stratified, grouped when ``groups`` is given) with that many folds.
        A splitter: used as is; its test folds must partition the items, and with ``groups`` it
        must keep them apart (checked, so a splitter that ignores groups raises).
    threshold_rule : {"eer", "youden", "f1", "accuracy"} or float, default="eer"
        How each fold's threshold is chosen on its validation part
        (:func:`~forensics.metrics.choose_threshold`); a number is used as is, and then no
        validation part is held out.
    validation_fraction : float, default=0.2
        Share of each outer training part held out to choose the threshold. Without groups the
        split is a stratified shuffle split of exactly that size; with groups it is one fold of a
        ``StratifiedGroupKFold`` with ``round(1 / validation_fraction)`` folds, so the share is
        approximate (0.3 gives a third).
    random_state : int or None, default=0
        Seed of the outer folds (when ``cv`` is an int) and of the fit/validation splits.
    n_jobs : int or None, default=None
        Folds run in parallel by joblib (None = 1). Timings are then measured under contention.
    progress : bool, default=False
        Show a progress bar over folds.
    videos : array-like of shape (n_items,), optional
        The video each item (a frame or face crop) comes from: adds video-level results, each
        video scored by aggregating its items' out-of-fold scores. The items of a video are kept
        on one side of every split: ``videos`` are the groups when ``groups`` is None, and each
        video must lie within one group otherwise.
    aggregate : {"mean", "median", "max", "topk_mean"}, default="mean"
        How item scores make a video score (:func:`~forensics.metrics.aggregate_scores`).
    k : int, default=3
        Scores averaged by ``"topk_mean"``.
    return_estimator : bool, default=False
        Keep each fold's fitted model in ``estimators`` (e.g. to explain an item with the model
        that scored it out of fold).

    Returns
    -------
    CVResult
        ``folds``, ``summary``, ``per_group``, ``oof_scores``, ``thresholds``, ``test_fold``,
        and with ``videos`` the ``video_*`` tables.

    Notes
    -----
    Threshold protocol, per outer fold: the training part is split (stratified, grouped when
    ``groups`` is given) into a fit part and a validation part; a clone of ``estimator`` is fitted
    on the fit part; the threshold is chosen on the validation scores with ``threshold_rule``; it
    is carried unchanged to the test fold, where the thresholded metrics (accuracy, balanced
    accuracy, F1) are computed with it. The threshold-free metrics (ROC-AUC, AP, EER, log loss,
    Brier, ECE) are computed on the same test-fold scores. The model is not refitted on fit +
    validation, since the threshold belongs to the model it was chosen for. Nothing of a test fold
    is seen before it is scored. ``fit_seconds`` includes feature extraction when ``estimator``
    is a pipeline that starts with one; ``predict_seconds`` times scoring the test fold.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(n_samples=200, class_sep=2.0, random_state=0)
    >>> res = cross_validate_detector(LogisticRegression(), X, y, cv=4)
    >>> res.folds.shape[0], bool(np.isfinite(res.oof_scores).all())
    (4, True)
    >>> bool(res.summary.loc["roc_auc", "mean"] > 0.9)
    True
    """
    y = _check_labels(y)
    n = _n_items(X)
    if n != y.size:
        raise ValueError(f"X and y have different lengths: {n} and {y.size}")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise ValueError(f"groups must have the shape of y {y.shape}, got {groups.shape}")
    if methods is not None:
        methods = np.asarray(methods, dtype=object)
        if methods.shape != y.shape:
            raise ValueError(f"methods must have the shape of y {y.shape}, got {methods.shape}")
    if videos is not None:
        from ..metrics import AGGREGATIONS

        videos = np.asarray(videos)
        if videos.shape != y.shape:
            raise ValueError(f"videos must have the shape of y {y.shape}, got {videos.shape}")
        if aggregate not in AGGREGATIONS:
            raise ValueError(f"aggregate must be one of {list(AGGREGATIONS)}, got {aggregate!r}")
        if groups is None:
            groups = videos
        else:
            spread = pd.Series(groups).groupby(videos).nunique()
            if (spread > 1).any():
                raise ValueError(f"video {spread.index[int(np.argmax(spread.to_numpy() > 1))]!r} has items in several "
                                 "groups; the items of a video must share one group")
    if isinstance(threshold_rule, str):
        if threshold_rule not in THRESHOLD_RULES:
            raise ValueError(f"threshold_rule must be one of {list(THRESHOLD_RULES)} or a number, "
                             f"got {threshold_rule!r}")
        if (isinstance(validation_fraction, bool) or not isinstance(validation_fraction, numbers.Real)
                or not 0 < validation_fraction < 1):
            raise ValueError(f"validation_fraction must be a number in (0, 1), got {validation_fraction!r}")
    else:
        threshold_rule = choose_threshold(None, None, threshold_rule)  # validates the number
    if progress not in (True, False):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    if return_estimator not in (True, False):
        raise ValueError(f"return_estimator must be True or False, got {return_estimator!r}")

    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        splitter = make_cv(y, groups, n_splits=int(cv), shuffle=True, random_state=random_state)
    elif hasattr(cv, "split"):
        splitter = cv
    else:
        raise TypeError(f"cv must be an int or a splitter with a split method, got {cv!r}")
    with warnings.catch_warnings():  # a splitter that ignores groups is caught below, with a clearer error
        warnings.filterwarnings("ignore", message="The groups parameter is ignored", category=UserWarning)
        splits = [(np.asarray(tr, dtype=np.intp), np.asarray(te, dtype=np.intp))
                  for tr, te in splitter.split(np.zeros((n, 1)), y, groups)]

    test_fold = np.full(n, -1, dtype=np.intp)
    for f, (train, test) in enumerate(splits):
        if (test_fold[test] >= 0).any():
            i = int(test[test_fold[test] >= 0][0])
            raise ValueError(f"item {i} is in the test part of splits {test_fold[i]} and {f}: the test "
                             "folds of cv must partition the items (no ShuffleSplit)")
        if np.intersect1d(train, test).size:
            raise ValueError(f"split {f} has items in both its training and test parts")
        test_fold[test] = f
    if (test_fold < 0).any():
        i = int(np.flatnonzero(test_fold < 0)[0])
        raise ValueError(f"item {i} is in no test fold: the test folds of cv must cover every item")
    if groups is not None:
        check_group_leakage(_FixedSplits(splits), y, groups, on_leak="raise")

    jobs = (delayed(_run_fold)(f, estimator, X, y, groups, train, test, threshold_rule, validation_fraction,
                               random_state, return_estimator) for f, (train, test) in enumerate(splits))
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    if progress:
        results = tqdm(results, total=len(splits), desc="cross-validation folds")
    results = list(results)

    oof = np.empty(n, dtype=np.float64)
    thresholds = np.empty(len(splits), dtype=np.float64)
    rows = []
    estimators = []
    for f, ((_, test), (row, scores, threshold, est)) in enumerate(zip(splits, results)):
        oof[test] = scores
        thresholds[f] = threshold
        rows.append(row)
        estimators.append(est)
    folds = pd.DataFrame(rows, columns=[*EVALUATE_COLUMNS, "n_fit", "n_validation", *_TIMING_COLUMNS])
    folds.index.name = "fold"
    summary = folds.astype(np.float64).agg(["mean", "std"]).T
    summary.index.name = "metric"
    per_group = evaluate(y, oof, threshold=thresholds[test_fold], groups=methods)
    result = CVResult(folds=folds, summary=summary, per_group=per_group, oof_scores=oof,
                      thresholds=thresholds, test_fold=test_fold, threshold_rule=threshold_rule,
                      estimators=estimators if return_estimator else None)
    if videos is not None:
        _video_level(result, y, videos, methods, aggregate, k)
    return result


def _video_level(result, y, videos, methods, aggregate, k):
    """Fill the ``video_*`` fields of a CVResult from its out-of-fold item scores."""
    from ..metrics import aggregate_labels, aggregate_scores

    scores = aggregate_scores(result.oof_scores, videos, how=aggregate, k=k)
    labels = aggregate_labels(y, videos)
    first = pd.Series(np.arange(y.size)).groupby(pd.factorize(videos, sort=False)[0]).first().to_numpy()
    fold = result.test_fold[first]  # groups keep a video in one fold, so its first item's fold is its fold
    vy, vs = labels.to_numpy(dtype=np.int64), scores.to_numpy(dtype=np.float64)
    rows = []
    for f, threshold in enumerate(result.thresholds):
        m = fold == f
        row = evaluate(vy[m], vs[m], threshold=threshold).loc["all"].to_dict()
        rows.append(row)
    folds = pd.DataFrame(rows, columns=list(EVALUATE_COLUMNS))
    folds.index.name = "fold"
    summary = folds.astype(np.float64).agg(["mean", "std"]).T
    summary.index.name = "metric"
    vm = None if methods is None else np.asarray(methods, dtype=object)[first]
    result.video_folds, result.video_summary = folds, summary
    result.video_per_group = evaluate(vy, vs, threshold=result.thresholds[fold], groups=vm)
    result.video_scores, result.video_labels = scores, labels
    result.aggregate = aggregate if aggregate != "topk_mean" else f"topk_mean:{k}"
