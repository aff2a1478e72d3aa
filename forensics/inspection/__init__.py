"""Inspecting a data set and a detector: the shortcut audit, feature importance, SHAP, class activation
maps of the deep detectors (Grad-CAM), figures and a report."""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._audit import PROPERTIES, VIDEO_PROPERTIES, AuditReport, ShortcutWarning, audit
    from ._cam import (CAM_METHODS, GALLERY_GROUPS, GRADIENT_FREE_METHODS, CamResult, cam_gallery_figure, cam_mass,
                       cam_target_layer, explain_deep_item, gallery_indices, grad_cam, overlay_heatmap)
    from ._importance import feature_family, permutation_importance_cv, split_pipeline
    from ._plots import (
        average_spectra,
        error_examples,
        plot_error_gallery,
        plot_low_fpr,
        plot_confusion_matrix,
        plot_correlation_matrix,
        plot_feature_distributions,
        plot_importance,
        plot_metric_bars,
        plot_reliability,
        plot_roc_pr,
        plot_shap_bar,
        plot_shap_beeswarm,
        plot_spectra,
    )
    from ._report import ReportResult, build_report
    from ._shap import ShapResult, explain_item, shap_summary, shap_values

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["PROPERTIES", "VIDEO_PROPERTIES", "AuditReport", "ShortcutWarning", "audit",
           "permutation_importance_cv", "feature_family", "split_pipeline",
           "ShapResult", "shap_values", "shap_summary", "explain_item",
           "plot_feature_distributions", "plot_correlation_matrix", "plot_roc_pr", "plot_confusion_matrix",
           "plot_reliability", "plot_metric_bars", "plot_importance", "plot_shap_bar", "plot_shap_beeswarm",
           "plot_spectra", "average_spectra", "plot_low_fpr", "plot_error_gallery", "error_examples",
           "ReportResult", "build_report",
           "CAM_METHODS", "GALLERY_GROUPS", "GRADIENT_FREE_METHODS", "CamResult", "cam_gallery_figure", "cam_mass",
           "cam_target_layer", "explain_deep_item", "gallery_indices", "grad_cam", "overlay_heatmap"]
