"""Classifier heads for the feature table (binary: fake = 1, real = 0)."""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._mlp import MLPHead
    from ._xgboost import XGBoostHead

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["MLPHead", "XGBoostHead"]
