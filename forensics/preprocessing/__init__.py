"""Steps between the feature bank and the head (2-D numeric input, NaN allowed)."""

from ._collinearity import CorrelationFilter

__all__ = ["CorrelationFilter"]
