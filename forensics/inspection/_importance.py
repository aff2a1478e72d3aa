"""Permutation importance on held-out folds, per feature or per feature family."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import check_scoring
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if

__all__ = ["permutation_importance_cv", "feature_family", "split_pipeline"]

_COLUMNS = ["name", "importance_mean", "importance_std", "n_features"]


def feature_family(name):
    """Family of a feature name ``family__feature__param`` (the part before the first ``__``).

    Examples
    --------
    >>> feature_family("spectral__azimuthal__b03"), feature_family("x0")
    ('spectral', 'x0')
    """
    return str(name).split("__", 1)[0]


def split_pipeline(estimator):
    """Split a Pipeline at its ``features`` step: ``(prefix, rest)``.

    ``prefix`` holds every step up to and including ``features`` (``equalize`` and the feature
    bank: per-item work that learns nothing from the data), ``rest`` the steps after it
    (imputation, scaling, decorrelation, head) as a new, unfitted-or-fitted Pipeline sharing the
    same step objects. An estimator without a ``features`` step gives ``(None, estimator)``.

    Examples
    --------
    >>> from forensics import make_pipeline
    >>> prefix, rest = split_pipeline(make_pipeline("spectrum-lr"))
    >>> [n for n, _ in prefix.steps], [n for n, _ in rest.steps]
    (['features'], ['impute', 'scale', 'head'])
    """
    if isinstance(estimator, Pipeline) and "features" in estimator.named_steps:
        k = [name for name, _ in estimator.steps].index("features")
        return Pipeline(estimator.steps[: k + 1]), Pipeline(estimator.steps[k + 1:])
    return None, estimator


def _is_feature_matrix(X):
    if isinstance(X, pd.DataFrame):
        return True
    return isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "fiub"


def _prepare(estimator, X, feature_names):
    """(model on features, feature matrix float64, names): extract features once if X holds images."""
    from .._tables import FeatureTable

    prefix, rest = split_pipeline(estimator)
    if isinstance(X, FeatureTable):
        if prefix is None:
            raise ValueError("a feature table needs a Pipeline with a 'features' step to pick its columns")
        F, names = X.features_for(prefix.steps[-1][1])
        return rest, F, names if feature_names is None else [str(n) for n in feature_names]
    if _is_feature_matrix(X):
        model = rest
        if isinstance(X, pd.DataFrame):
            names = list(map(str, X.columns)) if feature_names is None else list(feature_names)
            F = X.to_numpy(dtype=np.float64)
        else:
            F = np.asarray(X, dtype=np.float64)
            names = None if feature_names is None else list(feature_names)
    else:
        if prefix is None:
            raise ValueError("X is not a 2-D feature matrix, so estimator must be a Pipeline with a 'features' "
                             "step that turns the items into feature columns")
        prefix = clone(prefix)
        F = np.asarray(prefix.fit(X).transform(X), dtype=np.float64)
        model = rest
        names = list(prefix.steps[-1][1].get_feature_names_out()) if feature_names is None else list(feature_names)
    if names is None:
        names = [f"x{j}" for j in range(F.shape[1])]
    if len(names) != F.shape[1]:
        raise ValueError(f"feature_names has {len(names)} names for {F.shape[1]} feature columns")
    return model, F, [str(n) for n in names]


def _blocks(names, by):
    """(labels, list of column-index arrays) for by = "feature" or "family"."""
    if by == "feature":
        return list(names), [np.array([j]) for j in range(len(names))]
    if by == "family":
        fams = [feature_family(n) for n in names]
        labels = list(dict.fromkeys(fams))
        return labels, [np.flatnonzero(np.array(fams) == lab) for lab in labels]
    raise ValueError(f"by must be 'feature' or 'family', got {by!r}")


def _splits(cv, y, groups, random_state):
    from ..model_selection import make_cv

    n = y.size
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        splitter = make_cv(y, groups, n_splits=int(cv), shuffle=True, random_state=random_state)
    elif hasattr(cv, "split"):
        splitter = cv
    elif isinstance(cv, (list, tuple)):
        return [(np.asarray(tr, dtype=np.intp), np.asarray(te, dtype=np.intp)) for tr, te in cv]
    else:
        raise TypeError(f"cv must be an int, a splitter or a list of (train, test) index pairs, got {cv!r}")
    return [(np.asarray(tr, dtype=np.intp), np.asarray(te, dtype=np.intp))
            for tr, te in splitter.split(np.zeros((n, 1)), y, groups)]


class _Replay(ClassifierMixin, BaseEstimator):
    """Stands for a fitted classifier during scoring: answers from predictions made in one batch.

    The permuted copies of a test fold are stacked and predicted with one call per response
    method (what a scorer asks for: ``predict_proba``, ``decision_function``, ``predict``);
    the scorer is then run on each copy in turn, getting its slice of those predictions.
    """

    def __init__(self, estimator=None, X=None):
        self.estimator = estimator
        self.X = X

    def _start(self, estimator, X):
        self.estimator, self.X, self._cache, self._offset = estimator, X, {}, 0
        self.classes_ = estimator.classes_
        return self

    def _answer(self, method, X):
        if method not in self._cache:
            self._cache[method] = getattr(self.estimator, method)(self.X)
        return self._cache[method][self._offset: self._offset + len(X)]

    @available_if(lambda self: hasattr(self.estimator, "predict_proba"))
    def predict_proba(self, X):
        return self._answer("predict_proba", X)

    @available_if(lambda self: hasattr(self.estimator, "decision_function"))
    def decision_function(self, X):
        return self._answer("decision_function", X)

    @available_if(lambda self: hasattr(self.estimator, "predict"))
    def predict(self, X):
        return self._answer("predict", X)


def _positive_scores(est, X):
    """The scores the "roc_auc" scorer ranks: decision_function, else predict_proba of classes_[1]."""
    if hasattr(est, "decision_function"):
        return np.asarray(est.decision_function(X), dtype=np.float64).ravel()
    return np.asarray(est.predict_proba(X), dtype=np.float64)[:, 1]


def _batch_auc(est, X, y):
    """ROC-AUC as the Mann-Whitney statistic with average ranks for ties (equal to roc_auc_score)."""
    s = _positive_scores(est, X)
    pos = np.asarray(y) == np.asarray(est.classes_)[1]
    n1 = int(pos.sum())
    n0 = pos.size - n1
    ranks = rankdata(s)
    return (ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def _fold_importances(model, F, y, train, test, blocks_per_by, n_repeats, scoring, seed, max_cells=4_000_000):
    """Fit on train, permute each block of each grouping on test: arrays (n_blocks, n_repeats)."""
    est = clone(model).fit(F[train], y[train])
    X_test, y_test = F[test], y[test]
    if scoring == "roc_auc" and hasattr(est, "classes_") and np.unique(y_test).size == 2:
        scorer = _batch_auc  # same numbers as the "roc_auc" scorer, without its per-call checks
    else:
        scorer = check_scoring(est, scoring=scoring)
    baseline = float(scorer(est, X_test, y_test))
    replay_ok = hasattr(est, "classes_")
    per_batch = max(1, int(max_cells // max(1, X_test.size)))  # permuted copies predicted per call
    jobs = [(g, b, cols) for g, blocks in enumerate(blocks_per_by) for b, cols in enumerate(blocks)]
    out = [np.empty((len(blocks), n_repeats)) for blocks in blocks_per_by]
    for start in range(0, len(jobs), max(1, per_batch // n_repeats)):
        chunk = jobs[start: start + max(1, per_batch // n_repeats)]
        copies = []
        for _, _, cols in chunk:
            # The permutation scheme of sklearn.inspection.permutation_importance (one seed shared by
            # all blocks, the index shuffled again at each repeat), applied to a whole column block.
            rng = check_random_state(seed)
            X_perm = X_test.copy()
            idx = np.arange(X_perm.shape[0])
            for _ in range(n_repeats):
                rng.shuffle(idx)
                X_perm[:, cols] = X_perm[np.ix_(idx, cols)]
                copies.append(X_perm.copy())
        if replay_ok:
            replay = _Replay()._start(est, np.concatenate(copies))
            target, n_test = replay, X_test.shape[0]
        else:
            target = est
        k = 0
        for g, b, _ in chunk:
            for r in range(n_repeats):
                if replay_ok:
                    replay._offset = k * n_test
                out[g][b, r] = baseline - float(scorer(target, copies[k], y_test))
                k += 1
    return baseline, out


def _permutation_cv(model, F, y, splits, groupings, *, n_repeats, scoring, random_state, n_jobs):
    """Shared engine: one fit per fold, importances for every grouping ``(labels, blocks)``."""
    rng = check_random_state(random_state)
    seeds = [rng.randint(np.iinfo(np.int32).max + 1) for _ in splits]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fold_importances)(model, F, y, tr, te, [b for _, b in groupings], n_repeats, scoring, s)
        for (tr, te), s in zip(splits, seeds))
    tables = []
    for g, (labels, blocks) in enumerate(groupings):
        raw = np.concatenate([res[1][g] for res in results], axis=1)  # (n_blocks, n_folds * n_repeats)
        table = pd.DataFrame({"name": labels, "importance_mean": raw.mean(axis=1),
                              "importance_std": raw.std(axis=1), "n_features": [len(b) for b in blocks]})
        order = np.argsort(-table["importance_mean"].to_numpy(), kind="stable")
        table = table.iloc[order].reset_index(drop=True)
        table.attrs.update(importances=raw[order], baseline=np.array([res[0] for res in results]),
                           scoring=scoring, n_repeats=n_repeats, n_splits=len(splits))
        tables.append(table)
    return tables


def permutation_importance_cv(estimator, X, y, *, groups=None, cv=5, n_repeats=5, scoring="roc_auc",
                              by="feature", feature_names=None, random_state=0, n_jobs=None):
    """Permutation importance measured on held-out folds, per feature or per feature family.

    In each fold a clone of the model is fitted on the training part; then, on the test part,
    the values of one feature (``by="feature"``) or of all the columns of one family jointly
    (``by="family"``) are shuffled across items and the drop of the score is recorded. Held-out
    folds measure what the model needs to generalise, not what it memorised.

    Parameters
    ----------
    estimator : classifier or Pipeline
        A Pipeline from :func:`forensics.make_pipeline` (its steps up to ``features`` turn the
        items into columns once, over all items, since they learn nothing from the labels; the
        steps after it are cloned and fitted per fold), or any classifier of a feature matrix.
    X : sequence of images, array-like of shape (n_items, n_features), or FeatureTable
        What the pipeline accepts (paths, encoded bytes, arrays; when ``estimator`` starts with a
        ``features`` step, extracted once), a precomputed feature matrix (a 2-D numeric array or
        DataFrame; then the steps up to ``features`` are skipped), or a
        :class:`~forensics.FeatureTable` (the columns of the ``features`` step, checked).
    y : array-like of shape (n_items,)
        Labels, fake = 1, real = 0.
    groups : array-like of shape (n_items,), optional
        Groups that folds must not split (see :func:`forensics.model_selection.make_cv`).
    cv : int, splitter or list of (train, test) index pairs, default=5
        An int gives :func:`~forensics.model_selection.make_cv` folds (stratified, grouped when
        ``groups`` is given, shuffled with ``random_state``): the folds of
        :func:`~forensics.model_selection.cross_validate_detector` with the same arguments.
    n_repeats : int, default=5
        Shuffles per feature (or family) and fold.
    scoring : str or callable, default="roc_auc"
        A scikit-learn scorer; importance = baseline score - score with the block shuffled.
    by : {"feature", "family"}, default="feature"
        Shuffle one column at a time, or all the columns of a family together (the family is
        the part of the name before the first ``__``).
    feature_names : list of str, optional
        Column names (default: the features step's ``get_feature_names_out()``, a DataFrame's
        columns, or ``x0, x1...``).
    random_state : int, default=0
        Seed of the folds and of the shuffles.
    n_jobs : int, optional
        Folds run in parallel by joblib.

    Returns
    -------
    pandas.DataFrame
        One row per feature or family, sorted by ``importance_mean`` descending, with columns
        ``name``, ``importance_mean`` and ``importance_std`` (over folds x repeats, ``ddof=0``),
        ``n_features`` (columns shuffled together). ``attrs`` holds ``importances`` (the raw
        drops, shape (n_rows, n_folds * n_repeats), in the table's order) and ``baseline`` (the
        unshuffled test score of each fold).

    Notes
    -----
    Shuffling one of two correlated columns leaves the model the other one, so each gets little
    credit although together they may carry the decision; shuffling the family block jointly
    (the same row permutation applied to all its columns, which keeps their joint distribution)
    measures what the family as a whole contributes. Family importances are therefore not sums
    of feature importances.

    For one fold and ``by="feature"`` the shuffles are those of
    :func:`sklearn.inspection.permutation_importance` with ``random_state`` set to the fold's
    seed (the first fold's seed is the one that function draws from ``random_state``), so both
    give the same numbers on the same fitted model and test part.

    References
    ----------
    .. [1] Breiman, "Random Forests", Machine Learning 45, 5-32 (2001),
       doi:10.1023/A:1010933404324.
    .. [2] Fisher, Rudin & Dominici, "All models are wrong, but many are useful: learning a
       variable's importance by studying an entire class of prediction models simultaneously",
       JMLR 20(177), 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 3))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> table = permutation_importance_cv(LogisticRegression(), X, y, cv=3, feature_names=["a__x", "b__y", "b__z"])
    >>> table["name"].iloc[0]
    'a__x'
    >>> permutation_importance_cv(LogisticRegression(), X, y, cv=3, by="family",
    ...                           feature_names=["a__x", "b__y", "b__z"])[["name", "n_features"]].values.tolist()
    [['a', 1], ['b', 2]]
    """
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, numbers.Integral) or n_repeats < 1:
        raise ValueError(f"n_repeats must be an int >= 1, got {n_repeats!r}")
    labels_blocks = _blocks([], by)  # validates `by` before any work
    del labels_blocks
    y = np.asarray(y)
    model, F, names = _prepare(estimator, X, feature_names)
    if F.shape[0] != y.size:
        raise ValueError(f"X and y have different lengths: {F.shape[0]} and {y.size}")
    if groups is not None:
        groups = np.asarray(groups)
    splits = _splits(cv, y, groups, random_state)
    return _permutation_cv(model, F, y, splits, [_blocks(names, by)], n_repeats=n_repeats, scoring=scoring,
                           random_state=random_state, n_jobs=n_jobs)[0]
