"""Steps between the feature bank and the head (2-D numeric input, NaN allowed)."""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._collinearity import CorrelationFilter

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["CorrelationFilter"]
