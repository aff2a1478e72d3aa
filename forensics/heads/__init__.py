"""Classifier heads for the feature table (binary: fake = 1, real = 0)."""

from ._mlp import MLPHead
from ._xgboost import XGBoostHead

__all__ = ["MLPHead", "XGBoostHead"]
