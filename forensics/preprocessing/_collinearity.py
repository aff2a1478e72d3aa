"""Drop one feature of each highly correlated pair (NaN-aware, with a documented keep rule)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ..features._base import Interval, Options

__all__ = ["CorrelationFilter"]

_DROPPED_COLUMNS = ["feature", "correlated_with", "correlation", "reason"]


def _auc_distance(x, y_pos):
    """``|AUC - 0.5| * 2`` of one feature against a boolean label, on its non-NaN rows.

    Computed from the Mann-Whitney statistic as ``|2U - n1 n0| / (n1 n0)``: ``2U - n1 n0`` is an
    integer, so a feature and its negation score exactly the same (a true tie). Returns 0 (no
    evidence) when a class is absent from the non-NaN rows.
    """
    ok = ~np.isnan(x)
    x, pos = x[ok], y_pos[ok]
    n1 = int(pos.sum())
    n0 = pos.size - n1
    if n1 == 0 or n0 == 0:
        return 0.0
    ranks = rankdata(x)  # average ranks for ties (the AUC's half credit)
    u = ranks[pos].sum() - n1 * (n1 + 1) / 2.0
    return abs(2.0 * u - n1 * n0) / (n1 * n0)


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Drop one feature of each pair whose absolute correlation exceeds ``threshold``.

    Handcrafted banks hold near-duplicates (a statistic at two scales, a mean and its RMS); this
    step removes them before a head that dislikes collinearity (linear models, their
    coefficients, SHAP attributions). Correlations are computed over pairwise-complete rows, so
    NaN cells (a codec column on non-JPEG items) are allowed and pass through ``transform``.

    Parameters
    ----------
    threshold : float in [0, 1], default=0.95
        A pair is redundant when ``|corr| > threshold`` (strictly). ``1.0`` drops nothing for
        correlation (constant columns may still go, see ``drop_constant``).
    method : {"pearson", "spearman"}, default="pearson"
        Correlation coefficient (:meth:`pandas.DataFrame.corr`). "spearman" catches monotone,
        non-linear duplicates.
    keep : {"auc", "missing"}, default="auc"
        Which feature of a redundant pair stays (see Notes).
    drop_constant : bool, default=True
        Also drop columns with fewer than two distinct observed values (constant or all-NaN),
        recorded with reason ``"constant"``. With False they are kept. Either way such a column
        has an undefined correlation and is never the reason another column is dropped.
    min_periods : int >= 2, default=3
        Fewest pairwise-complete rows for a correlation to count; pairs with fewer overlapping
        rows are never redundant (two points always correlate at +-1).

    Attributes
    ----------
    support_ : ndarray of shape (n_features_in_,), bool
        True for kept features (also :meth:`get_support`).
    dropped_ : pandas.DataFrame
        One row per dropped feature, in the order the decisions were made, with columns
        ``feature``, ``correlated_with`` (the partner kept at that step; missing for
        "constant"), ``correlation`` (signed; NaN for "constant") and ``reason`` ("constant" or
        "correlated").
    correlation_ : pandas.DataFrame of shape (n_features_in_, n_features_in_)
        The correlation matrix, indexed by feature name (NaN where undefined).
    auc_distance_ : ndarray of shape (n_features_in_,)
        ``2 |AUC - 0.5|`` of each feature alone against ``y`` (its non-NaN rows) when the AUC
        rule was used, else NaN.
    keep_ : {"auc", "missing"}
        The rule actually used (``"missing"`` when ``keep="auc"`` but ``y`` was absent or not
        binary; a non-binary ``y`` also warns).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` had string column names (a DataFrame).

    See Also
    --------
    sklearn.feature_selection.VarianceThreshold : constant columns only.

    Notes
    -----
    For columns :math:`i < j` with :math:`|r_{ij}| >` ``threshold`` (and at least
    ``min_periods`` complete rows), pairs are processed greedily from the highest
    :math:`|r_{ij}|` down (ties: earlier pair first). A pair with an already dropped member is
    skipped. The partner kept at one step can still be dropped by a later, weaker pair (with
    ``a``, ``d = -a`` and ``b ~ 2a``: ``d`` goes for ``a``, then ``a`` for ``b`` if ``b``
    scores better), so ``correlated_with`` is not always in the output. In a pair, the keeper is:

    - ``keep="auc"`` with a binary ``y``: the feature whose univariate ROC-AUC is farther from
      0.5, i.e. larger :math:`|2U - n_1 n_0| / (n_1 n_0)` (Mann-Whitney :math:`U` on its
      non-NaN rows); ties go to fewer NaN, then the earlier column.
    - ``keep="missing"``, or no ``y``: fewer NaN, then the earlier column.

    Using ``y`` in the keep rule is supervised selection: fit it inside the cross-validated
    Pipeline, never on the full data before splitting.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> a, c = rng.normal(size=(2, 50))
    >>> X = pd.DataFrame({"a": a, "b": 2 * a + 1e-3 * rng.normal(size=50), "c": c})
    >>> filt = CorrelationFilter(keep="missing").fit(X)
    >>> filt.get_feature_names_out().tolist()
    ['a', 'c']
    >>> filt.dropped_[["feature", "correlated_with", "reason"]].values.tolist()
    [['b', 'a', 'correlated']]
    """

    _param_rules = {
        "threshold": Interval(float, 0.0, 1.0),
        "method": Options(("pearson", "spearman")),
        "keep": Options(("auc", "missing")),
        "drop_constant": Options((True, False)),
        "min_periods": Interval(int, 2, None),
    }

    def __init__(self, *, threshold=0.95, method="pearson", keep="auc", drop_constant=True, min_periods=3):
        self.threshold = threshold
        self.method = method
        self.keep = keep
        self.drop_constant = drop_constant
        self.min_periods = min_periods

    def fit(self, X, y=None):
        """Find the redundant features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features; NaN allowed.
        y : array-like of shape (n_samples,), optional
            Labels (fake = 1, real = 0) for ``keep="auc"``.

        Returns
        -------
        self
        """
        for name, rule in self._param_rules.items():
            rule.check(name, getattr(self, name))
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", ensure_min_samples=2)
        n_features = X.shape[1]
        names = self._names()

        keep_rule, y_pos = self._resolve_keep(y, X.shape[0])
        n_missing = np.isnan(X).sum(axis=0)
        if keep_rule == "auc":
            self.auc_distance_ = np.array([_auc_distance(X[:, j], y_pos) for j in range(n_features)])
        else:
            self.auc_distance_ = np.full(n_features, np.nan)
        self.keep_ = keep_rule

        frame = pd.DataFrame(X, columns=names)
        r = frame.corr(method=self.method, min_periods=self.min_periods).to_numpy()
        constant = frame.nunique(dropna=True).to_numpy() < 2

        support = np.ones(n_features, dtype=bool)
        records = []
        if self.drop_constant:
            for j in np.flatnonzero(constant):
                support[j] = False
                records.append((names[j], None, float("nan"), "constant"))

        iu, ju = np.triu_indices(n_features, k=1)
        values = r[iu, ju]
        with np.errstate(invalid="ignore"):
            redundant = np.abs(values) > self.threshold  # NaN compares False
        redundant &= ~constant[iu] & ~constant[ju]
        iu, ju, values = iu[redundant], ju[redundant], values[redundant]
        order = np.argsort(-np.abs(values), kind="stable")  # triu order breaks ties
        for i, j, value in zip(iu[order], ju[order], values[order]):
            if not (support[i] and support[j]):
                continue
            drop, kept = (j, i) if self._prefer(i, j, n_missing) else (i, j)
            support[drop] = False
            records.append((names[drop], names[kept], float(value), "correlated"))

        self.support_ = support
        # plain arrays and lists, so skops can save the fitted filter; the frames are built on access
        self._correlation = r
        self._dropped_records = records
        return self

    @property
    def dropped_(self):
        check_is_fitted(self, "support_")
        return pd.DataFrame.from_records(self._dropped_records, columns=_DROPPED_COLUMNS)

    @property
    def correlation_(self):
        check_is_fitted(self, "support_")
        names = self._names()
        return pd.DataFrame(self._correlation, index=names, columns=names)

    # -- helpers ---------------------------------------------------------------------------------
    def _names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(n) for n in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _resolve_keep(self, y, n_samples):
        if self.keep == "missing" or y is None:
            return "missing", None
        y = np.asarray(y)
        kind = type_of_target(y)
        if kind != "binary":
            warnings.warn(
                f"CorrelationFilter(keep='auc') needs a binary y, got a {kind!r} target; "
                "keeping the feature with fewer NaN instead (keep='missing').",
                UserWarning,
                stacklevel=3,
            )
            return "missing", None
        if y.shape[0] != n_samples:
            raise ValueError(f"y has {y.shape[0]} samples, X has {n_samples}")
        classes = np.unique(y)
        if classes.size < 2:  # type_of_target calls one label "binary"
            return "missing", None
        return "auc", y == classes[-1]

    def _prefer(self, i, j, n_missing):
        """True when feature i (the earlier column) is kept over j."""
        if self.keep_ == "auc":
            si, sj = self.auc_distance_[i], self.auc_distance_[j]
            if si != sj:
                return si > sj
        if n_missing[i] != n_missing[j]:
            return n_missing[i] < n_missing[j]
        return True

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
