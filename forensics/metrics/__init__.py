"""Detection metrics (ranking, thresholded, calibration), scikit-learn scorers and video-level aggregation.

Label convention: fake = 1, real = 0; scores are of the fake class (higher = more likely fake).
"""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._aggregate import AGGREGATIONS, aggregate_labels, aggregate_scores
    from ._metrics import (
        EVALUATE_COLUMNS,
        THRESHOLD_RULES,
        average_precision,
        brier_score,
        choose_threshold,
        equal_error_rate,
        evaluate,
        expected_calibration_error,
        log_loss,
        make_scorers,
        roc_auc,
        roc_auc_ci,
        roc_points,
        threshold_metrics,
        tpr_at_fpr,
    )

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = [
    "roc_auc", "average_precision", "equal_error_rate", "roc_points", "roc_auc_ci", "tpr_at_fpr",
    "expected_calibration_error", "brier_score", "log_loss",
    "threshold_metrics", "choose_threshold", "THRESHOLD_RULES",
    "evaluate", "EVALUATE_COLUMNS", "make_scorers",
    "aggregate_scores", "aggregate_labels", "AGGREGATIONS",
]
