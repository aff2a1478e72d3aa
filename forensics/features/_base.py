"""The contract every handcrafted extractor follows, and the one extraction loop they share."""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from ..media import DEFAULT_MAX_PIXELS, ItemError, as_item_sequence, load_item

__all__ = ["BaseExtractor", "FeatureDoc", "Interval", "Options", "run_extraction"]


@dataclass(frozen=True)
class FeatureDoc:
    """Registry entry of one feature (a ``family__feature`` with its parameterised columns).

    Parameters
    ----------
    family, feature : str
        The first two parts of the column names ``family__feature__param``.
    params : str
        What the third part of the name means (e.g. ``"b00..b31: normalized-radius bin"``).
    description : str
        One sentence a user can read.
    formula : str
        The definition, in plain text / LaTeX-light.
    reference : str
        Paper (authors, venue, year) and DOI or URL where the feature comes from.
    cost : {"low", "medium", "high"}
        Relative compute cost per image.
    presets : tuple of str
        Presets the feature belongs to; every feature is in ``"full"``.
    """

    family: str
    feature: str
    params: str
    description: str
    formula: str
    reference: str
    cost: str = "low"
    presets: tuple = ("full",)

    @property
    def prefix(self):
        return f"{self.family}__{self.feature}__"


@dataclass(frozen=True)
class Interval:
    """Numeric parameter rule: type and inclusive bounds (None = unbounded)."""

    type: type
    low: float | None = None
    high: float | None = None

    def check(self, name, value):
        target = numbers.Integral if self.type is int else numbers.Real
        if isinstance(value, bool) or not isinstance(value, target):
            raise TypeError(f"{name} must be {'an int' if self.type is int else 'a number'}, got {value!r}")
        check_scalar(value, name, target, min_val=self.low, max_val=self.high)


@dataclass(frozen=True)
class Options:
    """Parameter rule: one of a fixed set of values."""

    values: tuple

    def check(self, name, value):
        if value not in self.values:
            raise ValueError(f"{name} must be one of {list(self.values)}, got {value!r}")


_COMMON_RULES = {
    "on_error": Options(("raise", "nan")),
    "progress": Options((True, False)),
}


def _check_n_jobs(value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value == 0):
        raise ValueError(f"n_jobs must be None or a non-zero int, got {value!r}")


class BaseExtractor(TransformerMixin, BaseEstimator):
    """Base class of the handcrafted extractors (scikit-learn transformer contract).

    ``X`` is a sequence of items (paths, encoded bytes or decoded arrays, ragged sizes allowed);
    ``transform`` returns a float64 array of shape (n_items, n_features_out_).

    Subclasses define ``family``, ``feature_docs``, ``_param_rules`` and two methods:
    ``_feature_names()`` (the column names for the current parameters) and ``_compute(item)``
    (one float64 row for one :class:`~forensics.media.Item`).

    Common parameters (present on every extractor)
    ----------------------------------------------
    n_jobs : int or None
        Items processed in parallel by joblib (None = 1). Kernels themselves are serial.
    on_error : {"raise", "nan"}
        "raise": an unprocessable item raises :class:`~forensics.media.ItemError` naming it.
        "nan": its row is NaN and the failure is recorded in ``status_``.
    progress : bool
        Show a progress bar during ``transform``.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        Column names ``family__feature__param``.
    n_features_out_ : int
        Number of columns.
    status_ : pandas.DataFrame
        Set by each ``transform``: one row per item with ``index``, ``source``, ``status``
        ("ok" or "error") and ``error``. Not kept when the extractor is pickled or saved.
    """

    family: ClassVar[str] = ""
    feature_docs: ClassVar[tuple] = ()
    _param_rules: ClassVar[dict] = {}

    # -- to implement ---------------------------------------------------------------------------
    def _feature_names(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self, item):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- scikit-learn API -----------------------------------------------------------------------
    def _check_params(self):
        params = self.get_params(deep=False)
        rules = {**_COMMON_RULES, **self._param_rules}
        for name, rule in rules.items():
            if name in params:
                rule.check(name, params[name])
        if "n_jobs" in params:
            _check_n_jobs(params["n_jobs"])

    def fit(self, X=None, y=None):
        """Validate the parameters and fix the output columns. No data is needed.

        Parameters
        ----------
        X : sequence of images, optional
            Ignored; accepted for Pipeline compatibility.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        names = list(self._feature_names())
        if len(set(names)) != len(names):
            raise ValueError(f"{type(self).__name__} produced duplicate feature names")
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.n_features_out_ = len(names)
        return self

    def transform(self, X):
        """Extract one row of features per item.

        Parameters
        ----------
        X : sequence of images
            Paths, encoded bytes, or arrays (H, W) / (H, W, C); or a stacked array (N, H, W[, C]).

        Returns
        -------
        ndarray of shape (n_items, n_features_out_), float64
        """
        check_is_fitted(self, "feature_names_out_")
        out, self.status_ = run_extraction(
            [self], X, self.n_features_out_, n_jobs=self.n_jobs, on_error=self.on_error,
            progress=self.progress, desc=type(self).__name__,
        )
        return out

    def get_feature_names_out(self, input_features=None):
        """Column names ``family__feature__param`` (``input_features`` is ignored)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def extract_one(self, image):
        """Features of one image as an ordered ``{name: value}`` dict (the pure-function form)."""
        self._check_params()
        item = load_item(image, 0)
        values = self._compute(item)
        return dict(zip(self._feature_names(), (float(v) for v in values)))

    def __getstate__(self):
        # ``status_`` describes the last transform call, not the model: it is not saved (and a
        # DataFrame cannot go into a safe skops file).
        state = super().__getstate__()
        state.pop("status_", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags


# -- the extraction loop --------------------------------------------------------------------------

def _extract_row(extractors, obj, index, n_features, max_pixels):
    """One item -> (row, error message or "")."""
    item = load_item(obj, index, max_pixels=max_pixels)
    try:
        parts = [np.asarray(ext._compute(item), dtype=np.float64).ravel() for ext in extractors]
    except ItemError:
        raise
    except Exception as exc:  # a failure inside a feature: name the item, keep the cause
        raise ItemError(index, item.source, f"{type(exc).__name__}: {exc}") from exc
    row = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if row.shape[0] != n_features:  # a bug, not bad input: never let a row shift columns
        raise RuntimeError(f"extractors returned {row.shape[0]} values for {n_features} feature names")
    return row


def _extract_chunk(extractors, objs, start, n_features, on_error, max_pixels):
    rows = np.full((len(objs), n_features), np.nan)
    records = []
    for k, obj in enumerate(objs):
        index = start + k
        source = str(obj) if isinstance(obj, (str,)) or hasattr(obj, "__fspath__") else None
        try:
            rows[k] = _extract_row(extractors, obj, index, n_features, max_pixels)
            records.append((index, source, "ok", ""))
        except ItemError as exc:
            if on_error == "raise":
                raise
            records.append((index, source, "error", exc.reason))
    return rows, records


def run_extraction(extractors, X, n_features, *, n_jobs=None, on_error="raise", progress=False,
                   desc="features", max_pixels=DEFAULT_MAX_PIXELS):
    """Run ``extractors`` over every item of ``X``, decoding each item once.

    Rows come back in input order, one per item, whatever ``n_jobs`` is; a failed item is a NaN
    row (``on_error="nan"``) or an :class:`~forensics.media.ItemError` (``"raise"``).

    Returns
    -------
    features : ndarray of shape (n_items, n_features)
    status : pandas.DataFrame with columns index, source, status, error
    """
    seq = as_item_sequence(X)
    n = len(seq)
    out = np.full((n, n_features), np.nan)
    records = []
    n_workers = 1 if n_jobs in (None, 1) else n_jobs
    chunk = 16 if n_workers == 1 else max(1, min(64, n // (4 * max(abs(n_workers), 1)) or 1))
    starts = list(range(0, n, chunk))
    bar = tqdm(total=n, desc=desc, unit="img", disable=not progress, leave=False)
    try:
        if n_workers == 1:
            results = (
                _extract_chunk(extractors, [seq[i] for i in range(s, min(s + chunk, n))], s, n_features,
                               on_error, max_pixels)
                for s in starts
            )
        else:
            results = Parallel(n_jobs=n_workers, return_as="generator")(
                delayed(_extract_chunk)(extractors, [seq[i] for i in range(s, min(s + chunk, n))], s,
                                        n_features, on_error, max_pixels)
                for s in starts
            )
        for s, (rows, recs) in zip(starts, results):
            out[s:s + len(rows)] = rows
            records.extend(recs)
            bar.update(len(rows))
    finally:
        bar.close()
    status = pd.DataFrame(records, columns=["index", "source", "status", "error"])
    n_failed = int((status["status"] == "error").sum()) if n else 0
    if n_failed:
        first = status[status["status"] == "error"].iloc[0]
        warnings.warn(
            f"{n_failed} of {n} items could not be processed and are NaN rows (see status_); "
            f"first: item {first['index']}: {first['error']}",
            RuntimeWarning,
            stacklevel=3,
        )
    return out, status
