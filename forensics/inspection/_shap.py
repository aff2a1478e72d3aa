"""SHAP attributions of a fitted detector on its feature table: global summaries and one item's top reasons."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ._importance import feature_family

__all__ = ["ShapResult", "shap_values", "shap_summary", "explain_item"]

_MISSING_SHAP = "SHAP attributions need the shap package: pip install shap"
_SKIP = ("equalize", "features")


def _import_shap():
    try:
        import shap
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_MISSING_SHAP) from exc
    return shap


@dataclass(repr=False)
class ShapResult:
    """What :func:`shap_values` returns; unpacks as ``values, base_value, names``.

    Attributes
    ----------
    values : ndarray of shape (n_explained, n_model_features)
        SHAP value of each model input feature for each explained item, in the units of
        ``output``.
    base_value : float
        The expected output (``values[i].sum() + base_value`` is item ``i``'s output).
    names : list of str
        Names of the model's input features (after the pipeline's column selection, e.g. the
        survivors of :class:`~forensics.preprocessing.CorrelationFilter`).
    data : ndarray of shape (n_explained, n_model_features)
        The model inputs that were explained (imputed, scaled, decorrelated).
    raw : ndarray of shape (n_explained, n_raw_features)
        The same items' rows of the feature table given to :func:`shap_values`.
    raw_names : list of str
        Names of ``raw``'s columns.
    index : ndarray of shape (n_explained,)
        Row of each explained item in that table.
    explainer : {"tree", "permutation"}
        ``shap.TreeExplainer``, or permutation sampling (see :func:`shap_values`).
    output : str
        What is explained: ``"log-odds"`` (the fake-class margin) or ``"probability"``.
    """

    values: np.ndarray
    base_value: float
    names: list
    data: np.ndarray = field(default=None)
    raw: np.ndarray = field(default=None)
    raw_names: list = field(default=None)
    index: np.ndarray = field(default=None)
    explainer: str = "tree"
    output: str = "log-odds"

    def __iter__(self):
        return iter((self.values, self.base_value, self.names))

    def __repr__(self):
        return (f"ShapResult(n_explained={self.values.shape[0]}, n_features={self.values.shape[1]}, "
                f"explainer={self.explainer!r}, output={self.output!r})")

    @property
    def prediction(self):
        """Each explained item's model output: ``base_value + values.sum(axis=1)``."""
        return self.base_value + self.values.sum(axis=1)

    def summary(self, by="feature"):
        """Mean |SHAP| per feature or per family; see :func:`shap_summary`."""
        return shap_summary(self, by=by)

    def explain(self, i, top=10):
        """The ``top`` contributions to the ``i``-th explained item; see :func:`explain_item`."""
        return _contributions(self, i, top)

    @property
    def explanation(self):
        """The values as a :class:`shap.Explanation`, for ``shap.plots`` (bar, beeswarm, waterfall...).

        ``values`` (n_explained, n_features), ``base_values`` (the base value repeated per item),
        ``data`` (the model inputs explained), ``feature_names``, ``output_names`` (``output``).
        shap is imported here, not with :mod:`forensics` (importing it costs seconds).

        Examples
        --------
        >>> import numpy as np
        >>> res = ShapResult(values=np.ones((2, 1)), base_value=0.5, names=["a__x"], data=np.zeros((2, 1)))
        >>> e = res.explanation
        >>> type(e).__name__, e.values.shape, float(e.base_values[0])
        ('Explanation', (2, 1), 0.5)
        """
        shap = _import_shap()
        values = np.asarray(self.values, dtype=np.float64)
        return shap.Explanation(values=values, base_values=np.full(values.shape[0], float(self.base_value)),
                                data=None if self.data is None else np.asarray(self.data, dtype=np.float64),
                                feature_names=list(self.names), output_names=self.output)


def shap_summary(result, by="feature"):
    """Global importance from SHAP values: mean absolute contribution per feature or family.

    Parameters
    ----------
    result : ShapResult
    by : {"feature", "family"}, default="feature"

    Returns
    -------
    pandas.DataFrame
        Sorted by ``mean_abs_shap`` descending, with columns ``name``, ``mean_abs_shap``,
        ``mean_shap`` (signed: positive pushes towards fake) and ``n_features``.

    Notes
    -----
    SHAP values add up, so a family's contribution to one item is the sum of its features'
    values; its importance is the mean over items of the absolute value of that sum (which is
    at most the sum of its features' mean |SHAP|: opposing features cancel).
    """
    values = np.asarray(result.values)
    if by == "feature":
        labels, blocks = list(result.names), [[j] for j in range(values.shape[1])]
    elif by == "family":
        fams = np.array([feature_family(n) for n in result.names])
        labels = list(dict.fromkeys(fams.tolist()))
        blocks = [np.flatnonzero(fams == f) for f in labels]
    else:
        raise ValueError(f"by must be 'feature' or 'family', got {by!r}")
    contrib = np.column_stack([values[:, b].sum(axis=1) for b in blocks]) if blocks else np.zeros((len(values), 0))
    table = pd.DataFrame({"name": labels, "mean_abs_shap": np.abs(contrib).mean(axis=0),
                          "mean_shap": contrib.mean(axis=0), "n_features": [len(b) for b in blocks]})
    return table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)


def _split_model(model):
    """(list of fitted transforming steps after the features, head) of a pipeline or a bare model."""
    if isinstance(model, Pipeline):
        steps = [(n, s) for n, s in model.steps[:-1] if n not in _SKIP and s not in (None, "passthrough")]
        return [s for _, s in steps], model.steps[-1][1]
    return [], model


def _transform(steps, F, names):
    Z = F
    for step in steps:
        Z = step.transform(Z)
        try:
            names = list(step.get_feature_names_out(np.asarray(names, dtype=object)))
        except (AttributeError, ValueError, TypeError):
            names = [f"x{j}" for j in range(np.shape(Z)[1])]
    return np.asarray(Z, dtype=np.float64), [str(n) for n in names]


def _tree_model(head):
    """The XGBoost booster wrapper behind a head, or None for other models."""
    if type(head).__name__ == "XGBoostHead" and hasattr(head, "model_"):
        return head.model_
    if type(head).__name__ == "XGBClassifier":
        return head
    return None


def _margin_function(head):
    """The model output explained by the model-agnostic explainer, and its name."""
    classes = list(getattr(head, "classes_", [0, 1]))
    if hasattr(head, "decision_function"):
        sign = 1.0 if classes[-1] == 1 else -1.0
        return (lambda Z: sign * np.asarray(head.decision_function(Z), dtype=np.float64).ravel()), "log-odds"
    col = classes.index(1)
    return (lambda Z: np.asarray(head.predict_proba(Z), dtype=np.float64)[:, col]), "probability"


def _permutation_shap(f, Z, B, *, n_permutations, rng, max_cells=8_000_000):
    """Interventional SHAP values by antithetic permutation sampling over a background set.

    For each item ``x`` and each sampled feature order (and its reverse), the features are
    switched one by one from the background rows' values to ``x``'s; the change of the mean
    output over the background at each switch is credited to the switched feature. Every order
    telescopes from ``mean f(B)`` to ``f(x)``, so the values add up exactly.
    """
    n, d = Z.shape
    m = B.shape[0]
    base = float(np.mean(f(B)))
    phi = np.zeros((n, d))
    orders = []
    for _ in range(n_permutations):
        o = rng.permutation(d)
        orders += [o, o[::-1]]
    masks = []
    for o in orders:  # masks[k]: the features already switched to x after k steps
        mk = np.zeros((d + 1, d), dtype=bool)
        for k in range(d):
            mk[k + 1] = mk[k]
            mk[k + 1, o[k]] = True
        masks.append(mk)
    per_item = len(orders) * (d + 1) * m * d
    chunk = max(1, int(max_cells // max(per_item, 1)))
    for start in range(0, n, chunk):
        items = Z[start: start + chunk]
        for o, mk in zip(orders, masks):
            X = np.where(mk[None, :, None, :], items[:, None, None, :], B[None, None, :, :])  # (c, d+1, m, d)
            v = f(X.reshape(-1, d)).reshape(len(items), d + 1, m).mean(axis=2)
            phi[start: start + len(items)][:, o] += np.diff(v, axis=1)
    return phi / len(orders), base


def shap_values(model, F, *, feature_names=None, max_samples=200, background=100, random_state=0):
    """SHAP values of a fitted detector on feature rows: ``values, base_value, names``.

    Parameters
    ----------
    model : fitted Pipeline or classifier
        A pipeline from :func:`forensics.make_pipeline` (its ``equalize`` and ``features`` steps
        are skipped: ``F`` is already the feature table; the steps between ``features`` and the
        head, e.g. impute, scale, decorrelate, are applied to ``F`` first), or a classifier of
        the columns of ``F``.
    F : array-like of shape (n_items, n_features), FeatureTable, or sequence of images
        Feature rows (the output of the pipeline's ``features`` step); a
        :class:`~forensics.FeatureTable` (its columns for the pipeline's ``features`` step,
        checked); or what the pipeline itself accepts (paths, encoded bytes, arrays), turned
        into feature rows by the fitted pipeline's own ``equalize`` and ``features`` steps.
    feature_names : list of str, optional
        Names of ``F``'s columns (default: a DataFrame's columns, else ``x0, x1...``).
    max_samples : int or None, default=200
        At most this many rows of ``F`` are explained, drawn at random without replacement
        (None: all).
    background : int or array-like, default=100
        Model-agnostic explainer only: reference rows that stand for "feature unknown". An int
        draws that many rows of ``F``; an array gives them (columns of ``F``, e.g. training
        rows). Ignored by the tree explainer, which uses the training paths stored in the trees.
    random_state : int, default=0
        Seed of the row sampling and of the permutations.

    Returns
    -------
    ShapResult
        Unpacks as ``values, base_value, names``; also holds the explained rows and how.

    Notes
    -----
    - XGBoost heads (:class:`forensics.heads.XGBoostHead`, ``xgboost.XGBClassifier``):
      ``shap.TreeExplainer`` in its default "tree path dependent" mode, exact TreeSHAP [1]_ of
      the margin (log-odds of fake), so ``base_value + values.sum(1)`` equals the booster's
      margin output. With early stopping the booster keeps all trees; SHAP explains them all.
    - Any other head (logistic regression, MLP, a calibrated wrapper): interventional SHAP
      values estimated by permutation sampling [2]_, the algorithm of
      ``shap.PermutationExplainer`` with an independent masker: for three random feature orders
      and their reverses (antithetic sampling), the features of the item are switched in one by
      one from the ``background`` rows' values, and each switch's change of the mean output over
      the background is credited to the switched feature; the values are averaged over the six
      orders. Each order telescopes from the mean background output to the item's output, so
      ``base_value + values.sum(1)`` equals the output exactly, and for a linear model every
      order gives the exact SHAP values ``coef_j (z_j - mean background z_j)``. It is
      implemented here in NumPy, batched over items, because shap's own explainer compiles
      numba kernels for about 20 s in every new process. It explains ``decision_function``
      (log-odds) when the head has one, else ``predict_proba`` of fake. Cost per item:
      ``6 (n_features + 1) x n_background`` model evaluations.

    References
    ----------
    .. [1] Lundberg et al., "From local explanations to global understanding with explainable
       AI for trees", Nature Machine Intelligence 2, 56-67 (2020), doi:10.1038/s42256-019-0138-9.
    .. [2] Strumbelj & Kononenko, "Explaining prediction models and individual predictions with
       feature contributions", Knowledge and Information Systems 41, 647-665 (2014),
       doi:10.1007/s10115-013-0679-x; Lundberg & Lee, "A unified approach to interpreting model
       predictions", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.heads import XGBoostHead
    >>> rng = np.random.default_rng(0)
    >>> F = rng.normal(size=(100, 3))
    >>> y = (F[:, 1] > 0).astype(int)
    >>> head = XGBoostHead(n_estimators=20).fit(F, y)
    >>> values, base, names = shap_values(head, F, feature_names=["a__x", "b__y", "c__z"])
    >>> values.shape, names[int(np.abs(values).mean(0).argmax())]
    ((100, 3), 'b__y')
    >>> bool(np.allclose(base + values.sum(1), head.decision_function(F), atol=1e-4))
    True
    """
    F, feature_names = _feature_rows(model, F, feature_names)
    if isinstance(F, pd.DataFrame):
        names = list(map(str, F.columns)) if feature_names is None else list(feature_names)
        F = F.to_numpy(dtype=np.float64)
    else:
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2:
            raise ValueError(f"F must be a 2-D feature table, got shape {F.shape}")
        names = [f"x{j}" for j in range(F.shape[1])] if feature_names is None else list(feature_names)
    if len(names) != F.shape[1]:
        raise ValueError(f"feature_names has {len(names)} names for {F.shape[1]} feature columns")
    if max_samples is not None and (isinstance(max_samples, bool) or not isinstance(max_samples, numbers.Integral)
                                    or max_samples < 1):
        raise ValueError(f"max_samples must be None or an int >= 1, got {max_samples!r}")
    rng = np.random.default_rng(random_state)
    n = F.shape[0]
    index = np.arange(n)
    if max_samples is not None and n > max_samples:
        index = np.sort(rng.choice(n, size=max_samples, replace=False))
    steps, head = _split_model(model)
    Z, z_names = _transform(steps, F[index], names)

    booster = _tree_model(head)
    if booster is not None:
        explainer = _import_shap().TreeExplainer(booster)
        values = np.asarray(explainer.shap_values(Z), dtype=np.float64)
        base = float(np.ravel(explainer.expected_value)[0])
        kind, output = "tree", "log-odds"
    else:
        if isinstance(background, numbers.Integral) and not isinstance(background, bool):
            if background < 1:
                raise ValueError(f"background must be an int >= 1 or an array of rows, got {background!r}")
            bg_rows = rng.choice(n, size=min(int(background), n), replace=False)
            B, _ = _transform(steps, F[np.sort(bg_rows)], names)
        else:
            B, _ = _transform(steps, np.asarray(background, dtype=np.float64), names)
        f, output = _margin_function(head)
        values, base = _permutation_shap(f, Z, B, n_permutations=3, rng=rng)
        kind = "permutation"
    return ShapResult(values=values.reshape(len(index), -1), base_value=base, names=z_names, data=Z,
                      raw=F[index], raw_names=names, index=index, explainer=kind, output=output)


def _feature_rows(model, X, feature_names):
    """(feature rows, names): items and tables go through the fitted pipeline's own feature step."""
    from .._tables import FeatureTable
    from ._importance import _is_feature_matrix

    if isinstance(X, FeatureTable):
        if not (isinstance(model, Pipeline) and "features" in model.named_steps):
            raise ValueError("a feature table needs a Pipeline with a 'features' step to pick its columns")
        F, names = X.features_for(model.named_steps["features"])
        return F, names if feature_names is None else feature_names
    if _is_feature_matrix(X):
        return X, feature_names
    if not (isinstance(model, Pipeline) and "features" in model.named_steps):
        raise ValueError("X is not a 2-D feature matrix, so model must be a fitted Pipeline with a 'features' step "
                         "that turns the items into feature columns")
    prefix = Pipeline([(n, s) for n, s in model.steps[: [n for n, _ in model.steps].index("features") + 1]])
    F = np.asarray(prefix.transform(X), dtype=np.float64)
    names = [str(n) for n in model.named_steps["features"].get_feature_names_out()]
    return F, names if feature_names is None else feature_names


def _contributions(result, i, top):
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise ValueError(f"top must be an int >= 1, got {top!r}")
    values = np.asarray(result.values)[i]
    raw_col = {n: j for j, n in enumerate(result.raw_names or [])}
    order = np.argsort(-np.abs(values), kind="stable")
    shown = order[:top]
    table = pd.DataFrame({
        "feature": [result.names[j] for j in shown],
        "family": [feature_family(result.names[j]) for j in shown],
        "value": [result.raw[i, raw_col[result.names[j]]] if result.names[j] in raw_col else np.nan
                  for j in shown],
        "model_input": result.data[i, shown] if result.data is not None else np.nan,
        "shap": values[shown],
    })
    table.attrs.update(base_value=result.base_value, output=result.output,
                       prediction=float(result.base_value + values.sum()),
                       others=float(values[order[top:]].sum()),
                       row=int(result.index[i]) if result.index is not None else int(i))
    return table


def explain_item(model, x, *, feature_names=None, background=None, top=10, random_state=0):
    """The features that pushed one item's prediction towards fake or real, largest first.

    Parameters
    ----------
    model : fitted Pipeline or classifier, or ShapResult
        As in :func:`shap_values`; or a :class:`ShapResult` whose ``x``-th explained item to show.
    x : array-like of shape (n_features,) or int
        One row of the feature table (or, with a ShapResult, the position of an explained item).
    feature_names : list of str, optional
        Names of the row's columns.
    background : array-like of shape (n_background, n_features), optional
        Reference rows (e.g. training rows) for the model-agnostic explainer; needed for heads
        other than XGBoost.
    top : int, default=10
        Number of contributions listed.
    random_state : int, default=0

    Returns
    -------
    pandas.DataFrame
        ``top`` rows sorted by ``|shap|`` descending: ``feature``, ``family``, ``value`` (the
        feature's value in the given row), ``model_input`` (after imputation/scaling), ``shap``
        (its contribution; positive pushes towards fake). ``attrs``: ``base_value``,
        ``prediction`` (``base_value`` + all contributions, in ``output`` units), ``others``
        (the sum of the contributions not listed) and ``output``.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.heads import XGBoostHead
    >>> rng = np.random.default_rng(0)
    >>> F = rng.normal(size=(100, 3))
    >>> head = XGBoostHead(n_estimators=20).fit(F, (F[:, 2] > 0).astype(int))
    >>> table = explain_item(head, F[0], feature_names=["a__x", "b__y", "c__z"], top=2)
    >>> table["feature"].iloc[0], len(table)
    ('c__z', 2)
    """
    if isinstance(model, ShapResult):
        return _contributions(model, int(x), top)
    row = np.asarray(x, dtype=np.float64)
    if row.ndim == 1:
        row = row[None, :]
    if row.ndim != 2 or row.shape[0] != 1:
        raise ValueError(f"x must be one row of the feature table, got shape {np.shape(x)}")
    _, head = _split_model(model)
    if _tree_model(head) is None and background is None:
        raise ValueError("a model-agnostic explanation needs background rows (e.g. training rows of the "
                         "feature table): pass background=")
    result = shap_values(model, row, feature_names=feature_names, max_samples=None,
                         background=background if background is not None else 1, random_state=random_state)
    return _contributions(result, 0, top)
