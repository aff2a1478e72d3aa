"""make_pipeline: a catalogued detector by name, or features -> preprocessing -> head by parts."""

from __future__ import annotations

import copy
import numbers

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["make_pipeline", "make_features", "make_head"]

HEADS = ("logistic", "xgboost", "mlp")


class _Default:
    """Marks an argument the caller did not give (so a catalogued detector's value applies)."""

    def __repr__(self):
        return "<default>"


_D = _Default()
_PART_DEFAULTS = dict(features="full", equalize=False, impute="median", scale=True, decorrelate=None,
                      head="logistic", calibration=None)


def make_features(features="full", *, n_jobs=None, on_error="raise", progress=False):
    """The feature step of a pipeline from a short description.

    Parameters
    ----------
    features : str, list of str, dict or extractor
        A preset name (``"full"``, ``"minimal"``, ``"pixels"``), one extractor name
        (``"spectral"``, ``"dctspec"``...), a list of extractor names, a dict of
        :func:`~forensics.features.make_feature_bank` arguments (``families``, ``preset``,
        ``select``, ``<family>__<param>``), or an extractor instance (used as is).
    n_jobs, on_error, progress
        Passed to the bank (ignored for an instance).

    Returns
    -------
    extractor
    """
    from .features import ALL_EXTRACTORS, PRESETS, make_feature_bank
    from .features._base import BaseExtractor

    common = dict(n_jobs=n_jobs, on_error=on_error, progress=progress)
    if isinstance(features, (BaseExtractor, TransformerMixin)):  # an extractor, VideoFeatures...
        return features
    if isinstance(features, str):
        if features in PRESETS:
            return make_feature_bank(preset=None if features == "full" else features, **common)
        if features in ALL_EXTRACTORS:
            return make_feature_bank([features], **common)
        raise ValueError(f"unknown features {features!r}: use a preset {list(PRESETS)}, an extractor "
                         f"{list(ALL_EXTRACTORS)}, a list of extractors, a dict or an extractor instance")
    if isinstance(features, dict):
        return make_feature_bank(**{**common, **features})
    if isinstance(features, (list, tuple)):
        return make_feature_bank(list(features), **common)
    raise TypeError(f"features must be a str, list, dict or extractor, got {type(features).__name__}")


def make_head(head="logistic", *, random_state=0):
    """A classifier head by name (``"logistic"``, ``"xgboost"``, ``"mlp"``) or an estimator as is.

    - ``"logistic"``: ``LogisticRegression(class_weight="balanced", max_iter=5000)``.
    - ``"xgboost"``: :class:`forensics.heads.XGBoostHead` (``scale_pos_weight="balanced"``).
    - ``"mlp"``: :class:`forensics.heads.MLPHead` (torch when installed, else scikit-learn).
    """
    if isinstance(head, BaseEstimator):
        return head
    if head == "logistic":
        return LogisticRegression(class_weight="balanced", max_iter=5000, random_state=random_state)
    if head == "xgboost":
        from .heads import XGBoostHead

        return XGBoostHead(random_state=random_state)
    if head == "mlp":
        from .heads import MLPHead

        return MLPHead(random_state=random_state)
    raise ValueError(f"unknown head {head!r}; choose one of {list(HEADS)} or pass an estimator")


def make_pipeline(detector=None, *, features=_D, equalize=_D, impute=_D, scale=_D, decorrelate=_D, head=_D,
                  calibration=_D, random_state=0, n_jobs=None, on_error="raise", progress=False, **params):
    """Build a detector as a plain scikit-learn :class:`~sklearn.pipeline.Pipeline`.

    Two ways to call it:

    - by name of a catalogued detector, ``make_pipeline("forensic-xgb")``: the catalogue entry is
      a named set of the keyword arguments below (see :func:`forensics.list_estimators`), and any
      keyword you pass overrides it;
    - by parts: ``make_pipeline(features=["spectral", "noise"], decorrelate=0.95, head="xgboost")``.

    The steps are named ``equalize`` (optional), ``features``, ``impute``, ``scale``,
    ``decorrelate`` (optional) and ``head``, so every parameter is reachable by
    :class:`~sklearn.model_selection.GridSearchCV` as ``features__spectral__n_bins``,
    ``head__max_depth``... (with calibration the head is wrapped: ``head__estimator__max_depth``).

    Arguments left out take the catalogued detector's value when ``detector`` is given, else
    the default shown below.

    Parameters
    ----------
    detector : str, optional
        Name of a catalogued detector (``forensics.list_estimators()``).
    features : str, list, dict, extractor or None, default="full"
        See :func:`make_features`. None: no ``features`` step, the next step (usually the head,
        e.g. a :class:`forensics.deep.BackboneClassifier` trained on the images themselves)
        receives ``X`` as is; pass ``impute=None, scale=False`` with it.
    equalize : bool or dict, default=False
        Prepend :class:`forensics.media.CodecEqualizer` (dict: its parameters), so every item
        is centre-cropped and re-encoded identically before features are extracted.
    impute : str or None, default="median"
        ``SimpleImputer`` strategy for the NaN of features that do not apply to an item.
    scale : bool, default=True
        Standardize the features.
    decorrelate : float or None
        Threshold of :class:`forensics.preprocessing.CorrelationFilter` (None: no filter).
    head : {"logistic", "xgboost", "mlp"} or estimator, default="logistic"
        See :func:`make_head`.
    calibration : {None, "sigmoid", "isotonic"}
        Wrap the head in ``CalibratedClassifierCV(method=calibration, cv=3)``.
    random_state : int, default=0
    n_jobs, on_error, progress
        Passed to the feature extraction.
    **params
        Nested parameters set on the built pipeline, e.g. ``head__max_depth=3``.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> from forensics import make_pipeline
    >>> pipe = make_pipeline("spectrum-lr", head__C=0.5)
    >>> [name for name, _ in pipe.steps]
    ['features', 'impute', 'scale', 'head']
    >>> pipe.get_params()["head__C"]
    0.5
    >>> make_pipeline(features=["blur"], head="logistic", calibration="sigmoid").steps[-1][1].method
    'sigmoid'
    """
    given = dict(features=features, equalize=equalize, impute=impute, scale=scale, decorrelate=decorrelate,
                 head=head, calibration=calibration)
    parts = dict(_PART_DEFAULTS)
    if detector is not None:
        from .estimators import get

        parts.update(copy.deepcopy(get(detector).parts))
    parts.update({k: v for k, v in given.items() if v is not _D})
    pipe = _build(**parts, random_state=random_state, n_jobs=n_jobs, on_error=on_error, progress=progress)
    return pipe.set_params(**params) if params else pipe


def _build(*, features, equalize, impute, scale, decorrelate, head, calibration, random_state, n_jobs, on_error,
           progress):
    if calibration not in (None, "sigmoid", "isotonic"):
        raise ValueError(f"calibration must be None, 'sigmoid' or 'isotonic', got {calibration!r}")
    if decorrelate is not None and (isinstance(decorrelate, bool) or not isinstance(decorrelate, numbers.Real)
                                    or not 0 < decorrelate <= 1):
        raise ValueError(f"decorrelate must be None or a correlation threshold in (0, 1], got {decorrelate!r}")
    steps = []
    if equalize:
        from .media import CodecEqualizer

        steps.append(("equalize", CodecEqualizer(**(equalize if isinstance(equalize, dict) else {}))))
    if features is not None:
        steps.append(("features", make_features(features, n_jobs=n_jobs, on_error=on_error, progress=progress)))
    if impute:
        steps.append(("impute", SimpleImputer(strategy=impute, keep_empty_features=True)))
    if scale:
        steps.append(("scale", StandardScaler()))
    if decorrelate is not None:
        from .preprocessing import CorrelationFilter

        steps.append(("decorrelate", CorrelationFilter(threshold=decorrelate)))
    model = make_head(head, random_state=random_state)
    if calibration is not None:
        model = CalibratedClassifierCV(model, method=calibration, cv=3)
    steps.append(("head", model))
    return Pipeline(steps)
