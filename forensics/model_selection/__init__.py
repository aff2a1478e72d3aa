"""Leakage-safe model selection: groups from a manifest, grouped stratified folds, a leakage check,
cross-validation of a detector with a validation-chosen threshold (and video-level results), catalogue
benchmarks, and cross-data-set evaluation."""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._benchmark import BenchmarkResult, benchmark_detectors
    from ._cross import CrossDatasetResult, cross_dataset_matrix, fit_and_score
    from ._evaluate import CVResult, cross_validate_detector
    from ._splits import check_group_leakage, groups_from_manifest, groups_from_names, make_cv

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["make_cv", "groups_from_manifest", "groups_from_names", "check_group_leakage", "cross_validate_detector", "CVResult",
           "benchmark_detectors", "BenchmarkResult", "cross_dataset_matrix", "CrossDatasetResult", "fit_and_score"]
