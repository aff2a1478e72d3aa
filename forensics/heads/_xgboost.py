"""Gradient-boosted trees head (XGBoost), NaN-native, class-imbalance aware."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..features._base import Interval

__all__ = ["XGBoostHead"]

_MISSING_XGBOOST = (
    "XGBoostHead needs the xgboost package: pip install \"scikit-forensics[xgboost]\" "
    "(or \"scikit-forensics[xgboost-cpu]\" for the CPU-only wheel)."
)


def _import_xgboost():
    try:
        import xgboost
    except ImportError as exc:
        raise ImportError(_MISSING_XGBOOST) from exc
    return xgboost


def _binary_targets(estimator, y):
    """Check a binary target; return (classes_, y encoded as 0/1 with classes_[1] -> 1)."""
    check_classification_targets(y)
    classes, encoded = np.unique(y, return_inverse=True)
    if classes.size != 2:
        raise ValueError(
            f"Only binary classification is supported. {type(estimator).__name__} needs two "
            f"classes (fake = 1, real = 0); y has {classes.size} class{'' if classes.size == 1 else 'es'}: "
            f"{classes.tolist()[:10]}"
        )
    return classes, encoded.astype(np.int64)


def _validation_split(estimator, X, y01):
    """Stratified hold-out of ``validation_fraction`` of the rows (at least one row per class)."""
    n_val = max(2, int(np.ceil(estimator.validation_fraction * y01.size)))
    if min(np.bincount(y01)) < 2 or y01.size - n_val < 2:
        raise ValueError(
            f"{type(estimator).__name__}: early stopping needs at least 2 rows of each class to hold "
            f"out a stratified validation split; got class counts {np.bincount(y01).tolist()}"
        )
    return train_test_split(X, y01, test_size=n_val, stratify=y01, random_state=estimator.random_state)


class XGBoostHead(ClassifierMixin, BaseEstimator):
    """Binary gradient-boosted trees on the feature table (wraps ``xgboost.XGBClassifier``).

    XGBoost handles NaN natively (each split learns a default direction for missing values), so
    codec columns that are NaN on non-JPEG items need no imputation. xgboost is an optional
    dependency, imported at ``fit``.

    Parameters
    ----------
    n_estimators : int >= 1, default=300
        Boosting rounds (trees).
    max_depth : int >= 1, default=4
        Depth of each tree.
    learning_rate : float in (0, 1], default=0.05
        Shrinkage of each tree's contribution.
    subsample : float in (0, 1], default=0.8
        Fraction of rows sampled per tree.
    colsample_bytree : float in (0, 1], default=0.8
        Fraction of columns sampled per tree.
    min_child_weight : float >= 0, default=1.0
        Minimum hessian sum in a leaf.
    reg_lambda : float >= 0, default=1.0
        L2 penalty on leaf weights.
    scale_pos_weight : "balanced", float > 0 or None, default="balanced"
        Weight of the positive class (``classes_[1]``, fake = 1) in the loss. "balanced" uses
        ``n_negative / n_positive`` counted on the rows used for training; None means 1.
    early_stopping_rounds : int >= 1 or None, default=None
        If set, a stratified ``validation_fraction`` of the training rows is held out and
        boosting stops once its log loss has not improved for this many rounds.
    validation_fraction : float in (0, 1), default=0.15
        Held-out share for early stopping (ignored without it).
    n_jobs : int, default=1
        Threads used by XGBoost.
    random_state : int or None, default=0
        Seed of XGBoost's row/column sampling and of the validation split.

    Attributes
    ----------
    model_ : xgboost.XGBClassifier
        The fitted booster.
    classes_ : ndarray of shape (2,)
        Labels; ``classes_[1]`` is the positive class (fake = 1 with 0/1 labels).
    feature_importances_ : ndarray of shape (n_features_in_,)
        XGBoost's importances (``model_.feature_importances_``, "gain" by default).
    scale_pos_weight_ : float
        The positive-class weight actually used.
    best_iteration_ : int or None
        0-based index of the best round on the validation split with early stopping, else None.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` had string column names.

    See Also
    --------
    MLPHead : a small neural network head.

    Notes
    -----
    With early stopping the booster is trained on ``1 - validation_fraction`` of the rows and
    used as is: it is not refit on all rows, and predictions use the trees up to
    ``best_iteration_`` (XGBoost's behaviour after early stopping). ``scale_pos_weight`` is then
    counted on the training part only.

    References
    ----------
    Chen, T. and Guestrin, C., "XGBoost: A Scalable Tree Boosting System", KDD 2016.
    https://doi.org/10.1145/2939672.2939785

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> X[::7, 2] = np.nan
    >>> y = (X[:, 0] > 0).astype(int)
    >>> head = XGBoostHead(n_estimators=30).fit(X, y)
    >>> head.predict_proba(X).shape
    (200, 2)
    >>> float((head.predict(X) == y).mean()) > 0.95
    True
    """

    _param_rules = {
        "n_estimators": Interval(int, 1, None),
        "max_depth": Interval(int, 1, None),
        "learning_rate": Interval(float, 0.0, 1.0),
        "subsample": Interval(float, 0.0, 1.0),
        "colsample_bytree": Interval(float, 0.0, 1.0),
        "min_child_weight": Interval(float, 0.0, None),
        "reg_lambda": Interval(float, 0.0, None),
        "validation_fraction": Interval(float, 0.0, 1.0),
        "n_jobs": Interval(int, None, None),
    }

    def __init__(
        self,
        *,
        n_estimators=300,
        max_depth=4,
        learning_rate=0.05,
        subsample=0.8,
        colsample_bytree=0.8,
        min_child_weight=1.0,
        reg_lambda=1.0,
        scale_pos_weight="balanced",
        early_stopping_rounds=None,
        validation_fraction=0.15,
        n_jobs=1,
        random_state=0,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.scale_pos_weight = scale_pos_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_params(self):
        for name, rule in self._param_rules.items():
            rule.check(name, getattr(self, name))
        for name in ("learning_rate", "subsample", "colsample_bytree", "validation_fraction"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.validation_fraction >= 1:
            raise ValueError(f"validation_fraction must be < 1, got {self.validation_fraction!r}")
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a non-zero int, got 0")
        spw = self.scale_pos_weight
        if not (spw is None or spw == "balanced"):
            Interval(float, 0.0, None).check("scale_pos_weight", spw)
            if spw <= 0:
                raise ValueError(f"scale_pos_weight must be 'balanced', None or > 0, got {spw!r}")
        if self.early_stopping_rounds is not None:
            Interval(int, 1, None).check("early_stopping_rounds", self.early_stopping_rounds)
        if self.random_state is not None:
            Interval(int, 0, 2**32 - 1).check("random_state", self.random_state)

    def fit(self, X, y):
        """Fit the booster.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features; NaN allowed (missing values).
        y : array-like of shape (n_samples,)
            Binary labels (fake = 1, real = 0).

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan")
        self.classes_, y01 = _binary_targets(self, y)
        xgboost = _import_xgboost()

        fit_kw = {"verbose": False}
        X_train, y_train = X, y01
        if self.early_stopping_rounds is not None:
            X_train, X_val, y_train, y_val = _validation_split(self, X, y01)
            fit_kw["eval_set"] = [(X_val, y_val)]

        if self.scale_pos_weight == "balanced":
            n_pos = int(y_train.sum())
            self.scale_pos_weight_ = (y_train.size - n_pos) / n_pos
        elif self.scale_pos_weight is None:
            self.scale_pos_weight_ = 1.0
        else:
            self.scale_pos_weight_ = float(self.scale_pos_weight)

        self.model_ = xgboost.XGBClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight,
            reg_lambda=self.reg_lambda,
            scale_pos_weight=self.scale_pos_weight_,
            early_stopping_rounds=self.early_stopping_rounds,
            eval_metric="logloss",
            objective="binary:logistic",
            tree_method="hist",
            missing=np.nan,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        self.model_.fit(X_train, y_train, **fit_kw)
        self.best_iteration_ = int(self.model_.best_iteration) if self.early_stopping_rounds is not None else None
        return self

    @property
    def feature_importances_(self):
        check_is_fitted(self, "model_")
        return self.model_.feature_importances_

    def _validate_X(self, X):
        check_is_fitted(self, "model_")
        return validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)

    def decision_function(self, X):
        """Log-odds of the positive class (``classes_[1]``), shape (n_samples,)."""
        X = self._validate_X(X)
        return self.model_.predict(X, output_margin=True).astype(np.float64)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, 2), columns in ``classes_`` order."""
        X = self._validate_X(X)
        return self.model_.predict_proba(X).astype(np.float64)

    def predict(self, X):
        """Predicted labels (positive when its probability exceeds 0.5)."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags
