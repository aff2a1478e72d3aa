"""The contract every handcrafted extractor follows, and the one extraction loop they share."""

from __future__ import annotations

import contextlib
import contextvars
import numbers
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import sklearn
from joblib import delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._parallel import n_workers as _n_workers, run_in_order
from ..media import DEFAULT_MAX_PIXELS, EmptyRowsWarning, FailedItemsWarning, Item, ItemError, as_item_sequence, load_item
from ..media._item import path_text

__all__ = ["BaseExtractor", "FeatureDoc", "Interval", "Options", "compile_ahead", "expecting", "run_extraction"]


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

    Extractors that are faster on several items at once (a neural network) also override the
    optional batched hooks, which :func:`run_extraction` uses for every extractor, chunk by chunk:
    ``_prepare(item)`` does the per-item work (decode, validate, preprocess into something small)
    and raises for a bad item, so the failure is attributed to that item; ``_compute_batch(prepared)``
    turns the prepared values of the good items of a chunk into rows, shape (n, n_features);
    ``_setup()`` runs once per chunk before any item, outside the per-item error handling (load a
    model: a failure there is the extractor's, not an item's); ``_batch_size_hint`` (None unless
    batched) sets the chunk size. The defaults compute the row in ``_prepare`` and stack.

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
    def _kernel_families(self):
        """Families whose numba kernels this extractor runs (compiled before the first item)."""
        return (getattr(self, "family", None),)

    def _feature_names(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self, item):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- optional batched hooks (see the class notes) ---------------------------------------------
    def _setup(self):
        """Prepare shared state (e.g. load a model) before a chunk of items; default: nothing."""

    def _prepare(self, item):
        """Per-item part of the batched computation; raises for a bad item. Default: the row itself."""
        return np.asarray(self._compute(item), dtype=np.float64).ravel()

    def _compute_batch(self, prepared):
        """Rows of several prepared items, shape (len(prepared), n_features). Default: stack them."""
        return np.vstack(prepared)

    @property
    def _batch_size_hint(self):
        """Items per ``_compute_batch`` call a batched extractor wants (None: not batched)."""
        return None

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
        try:
            values = self._compute(item)
        except Exception as exc:
            raise _as_item_error(exc, 0, item.source) from None
        return dict(zip(self._feature_names(), (float(v) for v in values)))

    def __getstate__(self):
        # ``status_`` describes the last transform call, not the model: it is not saved (and a
        # DataFrame cannot go into a safe skops file).
        state = dict(super().__getstate__())  # a copy: never drop attributes of the live object
        state.pop("status_", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags


# -- the extraction loop --------------------------------------------------------------------------

class _Refused:
    """Stands in for an item that cannot travel to a worker process; the worker raises its error."""

    def __init__(self, error):
        self.error = error


def _source(obj):
    if isinstance(obj, _Refused):
        return obj.error.source
    if isinstance(obj, str) or hasattr(obj, "__fspath__"):
        try:
            src = os.fspath(obj)
        except Exception:
            return None
        return path_text(os.fsdecode(src)) if isinstance(src, (str, bytes)) else None
    return getattr(obj, "source", None) if isinstance(obj, Item) else None


def _portable(obj, index, max_pixels):
    """``obj`` in a form that pickles to a joblib worker, or a :class:`_Refused` carrying its ItemError.

    Paths, bytes and plain arrays go as they are; everything else is wrapped here, in the parent,
    so that an item that cannot be pickled (a generator, a closed PIL image, a custom path
    object) fails as that item instead of taking the whole batch down.
    """
    if isinstance(obj, (str, bytes)):
        return obj
    if isinstance(obj, np.ndarray) and obj.ndim >= 2 and obj.shape[0] * obj.shape[1] > max_pixels:
        # refused here: pickling it (a broadcast view of a huge shape expands) could exhaust memory
        return _Refused(ItemError(index, None, f"image of shape {obj.shape} is above max_pixels={max_pixels}"))
    if isinstance(obj, np.ndarray) and not obj.dtype.hasobject:
        return np.asarray(obj) if isinstance(obj, np.matrix) else obj  # a masked array keeps its mask
    try:
        if isinstance(obj, os.PathLike):
            return os.fspath(obj) if isinstance(os.fspath(obj), str) else load_item(obj, index, max_pixels=max_pixels)
        if isinstance(obj, np.ndarray):
            raise ItemError(index, None, f"unsupported dtype {obj.dtype}; use uint8, uint16, float32/float64 "
                                         "in [0, 1] or bool")
        item = load_item(obj, index, max_pixels=max_pixels)
        pixels = item._pixels
        if isinstance(pixels, np.ndarray) and pixels.dtype.hasobject:
            raise item.error(f"unsupported dtype {pixels.dtype}")
        return item
    except ItemError as exc:
        return _Refused(exc)
    except Exception as exc:
        return _Refused(ItemError(index, _source(obj), f"{type(exc).__name__}: {exc}"))


def _as_item_error(exc, index, source):
    """Any exception raised while handling one item, as an ItemError naming it."""
    if isinstance(exc, ItemError):
        return exc
    if isinstance(exc, MemoryError):
        err = ItemError(index, source, f"out of memory ({str(exc) or 'allocation failed'}); lower max_pixels or free memory")
    else:
        err = ItemError(index, source, f"{type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err


def _prepare_item(extractors, obj, index, max_pixels):
    """Load one item and run the per-item part of every extractor -> list of prepared values."""
    if isinstance(obj, _Refused):
        raise obj.error
    try:
        item = load_item(obj, index, max_pixels=max_pixels)
    except Exception as exc:  # load_item raises ItemError by contract; anything else is still this item's
        raise _as_item_error(exc, index, _source(obj)) from None
    try:
        return [ext._prepare(item) for ext in extractors]
    except Exception as exc:  # a failure inside a feature: name the item, keep the cause
        raise _as_item_error(exc, index, item.source) from None


def _batch_rows(extractors, prepared):
    """Rows of the prepared items, extractor blocks side by side."""
    n = len(prepared)
    parts = [np.asarray(ext._compute_batch([p[j] for p in prepared]), dtype=np.float64).reshape(n, -1)
             for j, ext in enumerate(extractors)]
    return np.hstack(parts) if len(parts) > 1 else parts[0]


def _extract_chunk(extractors, objs, start, n_features, on_error, max_pixels):
    """Rows of a chunk of items: per-item preparation, then one batched computation of the good ones.

    A failure is always pinned to its item: preparation is per item, and when the batched part
    fails the good items are rerun one by one to find which one it was. Rows never shift.
    Failures are returned, never raised, so the caller can raise the first one in input order
    whichever worker finishes first.

    Returns
    -------
    rows : ndarray (len(objs), n_features)
    records : list of (index, source, status, error)
    first_error : ItemError or None
        The failure with the lowest index (with ``on_error="raise"`` the chunk stops at it).
    """
    for ext in extractors:
        ext._setup()
    rows = np.full((len(objs), n_features), np.nan)
    sources = [_source(obj) for obj in objs]
    failures = {}
    prepared, good = [], []
    for k, obj in enumerate(objs):
        try:
            prepared.append(_prepare_item(extractors, obj, start + k, max_pixels))
            good.append(k)
        except ItemError as exc:
            failures[k] = exc
            if on_error == "raise":
                break  # nothing after it matters: this is the first failure of the chunk
    if good:
        try:
            blocks = [(good, _batch_rows(extractors, prepared))]
        except Exception:  # rerun item by item: the batch failure belongs to one (or more) of them
            blocks = []
            for k, p in zip(good, prepared):
                try:
                    blocks.append(([k], _batch_rows(extractors, [p])))
                except Exception as exc:
                    failures[k] = _as_item_error(exc, start + k, sources[k])
        for ks, block in blocks:
            if block.shape != (len(ks), n_features):  # a bug, not bad input: never let a row shift columns
                raise RuntimeError(f"extractors returned {block.shape[1]} values for {n_features} feature names")
            rows[ks] = block
    records = []
    for k in range(len(objs)):
        if k in failures:
            rows[k] = np.nan
            records.append((start + k, failures[k].source or sources[k], "error", failures[k].reason))
        else:
            records.append((start + k, sources[k], "ok", ""))
    return rows, records, (failures[min(failures)] if failures else None)


_INSIDE = (str(Path(__file__).resolve().parents[1]) + os.sep, str(Path(sklearn.__file__).resolve().parent) + os.sep)


def _outside_stacklevel():
    """``stacklevel`` for a warning from the caller of this function that points at the user's line.

    The first frame outside this package and scikit-learn: ``transform``, ``fit_transform`` and a
    ``Pipeline`` reach :func:`run_extraction` through one or more of their frames (scikit-learn
    wraps ``transform`` for ``set_output``), so no fixed depth fits every caller.
    """
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_INSIDE):
        frame, level = frame.f_back, level + 1
    return level


#: Items from which a serial extraction compiles the kernels before its first item (in parallel
#: children where CPUs are idle). A shorter job leaves the choice to the twins' budget (see
#: ``_kernels._tier``): the default bank through the twins costs ~7 ms per 128 px image and ~23 ms
#: per 256 px one, so 512 images of 128-256 px cost 0.5-1.5x the kernels' compile time (~8 CPU s;
#: ``benchmarks/bench_cold_tier.py``).
UPFRONT_COMPILE_ITEMS = 512

#: Items of the whole job when an extraction runs in chunks (``expecting``); 0 outside one.
_JOB_ITEMS = contextvars.ContextVar("forensics_job_items", default=0)


@contextlib.contextmanager
def expecting(n_items):
    """Within this block, extractions are chunks of one job of ``n_items`` items.

    A caller that extracts a long job chunk by chunk (``forensics extract`` and ``predict``
    save or score 64 items at a time) says so, so that the kernels compile before the first
    chunk as they would for one call with every item (:data:`UPFRONT_COMPILE_ITEMS`), instead
    of each chunk counting as a short job. ``n_items`` counts the items given to ``transform``
    (videos for a video extractor, which multiplies by its frames).
    """
    token = _JOB_ITEMS.set(int(n_items))
    try:
        yield
    finally:
        _JOB_ITEMS.reset(token)


def compile_ahead(extractors, n_items, n_workers, *, images_per_item=1):
    """Compile the kernels of ``extractors`` before a job of ``n_items`` items if it is long or parallel.

    A long serial job (:data:`UPFRONT_COMPILE_ITEMS` images or more, counting the whole job of an
    enclosing :func:`expecting`; ``images_per_item``: the frames sampled from each video) or any
    parallel one (``n_workers != 1``, whose workers load the kernels from numba's cache) compiles
    them once, in parallel children where CPUs are idle; a short one runs their NumPy twins until
    compiling pays off (``_kernels._tier``).

    Raises
    ------
    ValueError
        ``FORENSICS_UNCOMPILED_SECONDS`` is set to something other than a number of CPU seconds
        >= 0 (checked here, before any item, so that it is not recorded as every item's error).
    """
    families = {f for ext in extractors for f in getattr(ext, "_kernel_families", tuple)() if f}
    if families:  # a bad FORENSICS_UNCOMPILED_SECONDS is the caller's error, not every item's
        from ._kernels._tier import _env_budget

        _env_budget()
    if not (n_items and families):
        return
    if n_workers != 1 or max(int(n_items), _JOB_ITEMS.get()) * images_per_item >= UPFRONT_COMPILE_ITEMS:
        from ._kernels._warm import compile_kernels

        compile_kernels(sorted(families), load=n_workers == 1)


def run_extraction(extractors, X, n_features, *, n_jobs=None, on_error="raise", progress=False,
                   desc="features", max_pixels=DEFAULT_MAX_PIXELS):
    """Run ``extractors`` over every item of ``X``, decoding each item once.

    Rows come back in input order, one per item, whatever ``n_jobs`` is; a failed item is a NaN
    row (``on_error="nan"``) or an :class:`~forensics.media.ItemError` (``"raise"``). With
    several bad items, ``"raise"`` names the first one in input order, for any ``n_jobs``.

    Returns
    -------
    features : ndarray of shape (n_items, n_features)
    status : pandas.DataFrame with columns index, source, status, error
    """
    seq = as_item_sequence(X)
    n = len(seq)
    out = np.full((n, n_features), np.nan)
    records = []
    n_workers = _n_workers(n_jobs)  # 1: in this process (see forensics._parallel)
    chunk = 16 if n_workers == 1 else max(1, min(64, n // (4 * max(abs(n_workers), 1)) or 1))
    hints = [int(h) for h in (ext._batch_size_hint for ext in extractors) if h]
    if hints:  # a batched extractor: chunks of its batch size (bounded memory, hot caches)
        chunk = max(hints) if n_workers == 1 else max(chunk, max(hints))
    starts = list(range(0, n, chunk))
    compile_ahead(extractors, n, n_workers)
    bar = tqdm(total=n, desc=desc, unit="img", disable=not progress, leave=False)
    try:
        if n_workers == 1:
            results = (
                _extract_chunk(extractors, [seq[i] for i in range(s, min(s + chunk, n))], s, n_features,
                               on_error, max_pixels)
                for s in starts
            )
        else:
            stop = []  # set at the first failure with on_error="raise": no further chunk is dispatched

            def tasks():
                for s in starts:
                    if stop:
                        return
                    objs = [_portable(seq[i], i, max_pixels) for i in range(s, min(s + chunk, n))]
                    yield delayed(_extract_chunk)(extractors, objs, s, n_features, on_error, max_pixels)

            results = run_in_order(tasks(), n_jobs)
        first = None
        for s, (rows, recs, first_error) in zip(starts, results):
            if first_error is not None and on_error == "raise" and first is None:
                first = first_error  # chunks arrive in input order: this is the first bad item
                if n_workers == 1:
                    break
                stop.append(True)  # drain what was already dispatched, so the workers stay usable
            if first is None:
                out[s:s + len(rows)] = rows
                records.extend(recs)
                bar.update(len(rows))
        if first is not None:
            raise first
    finally:
        bar.close()
    status = pd.DataFrame(records, columns=["index", "source", "status", "error"])
    n_failed = int((status["status"] == "error").sum()) if n else 0
    if n_failed:
        first = status[status["status"] == "error"].iloc[0]
        warnings.warn(
            f"{n_failed} of {n} items could not be processed and are NaN rows (see status_); "
            f"first: item {first['index']}: {first['error']}",
            FailedItemsWarning,
            stacklevel=_outside_stacklevel(),
        )
    if n and n_features:
        empty = np.flatnonzero((status["status"] == "ok").to_numpy() & np.isnan(out).all(axis=1))
        if empty.size:
            warnings.warn(
                f"{empty.size} of {n} items were read but have no value in any of the {n_features} columns "
                f"(every feature NaN, e.g. an image smaller than the families need): a model would score them "
                f"from imputed values only; first: item {int(empty[0])}",
                EmptyRowsWarning,
                stacklevel=_outside_stacklevel(),
            )
    return out, status
