"""forensics: forensic features for detecting deepfakes and AI-generated images.

The few public entry points live here; everything else is in the subpackages
(:mod:`forensics.media`, :mod:`forensics.features`, :mod:`forensics.preprocessing`,
:mod:`forensics.heads`, :mod:`forensics.metrics`, :mod:`forensics.model_selection`,
:mod:`forensics.inspection`, :mod:`forensics.datasets`, :mod:`forensics.embeddings`,
:mod:`forensics.deep`, :mod:`forensics.tracking`, :mod:`forensics.tuning`, and the detector
catalogue :mod:`forensics.estimators`). Feature tables (:func:`extract_table`,
:func:`read_table`) are the hand-off between extraction and everything after it. Label convention
everywhere: fake = 1, real = 0.

Names are imported on first use (``import forensics`` does not load scikit-learn, numba or
OpenCV); see :mod:`forensics._lazy`.
"""

from typing import TYPE_CHECKING

from ._lazy import attach

__version__ = "0.3.0"

if TYPE_CHECKING:
    from . import estimators  # the catalogue: forensics.estimators.get(name)
    # the subpackages that need no optional extra, so that forensics.metrics.evaluate works after import forensics
    from . import datasets, features, heads, inspection, media, metrics, model_selection, preprocessing, tracking, tuning
    from ._parallel import use_cluster
    from ._persistence import load, save
    from ._pipeline import make_pipeline
    from ._sources import load_data
    from ._tables import FeatureTable, TableMismatchError, extract_table, read_table
    from ._video_detector import VideoDetector
    from .features import ForensicFeatures, list_features, make_feature_bank
    from .inspection import AuditReport, ShortcutWarning, audit
    from .media import EmptyRowsWarning, FailedItemsWarning, ItemError

__getattr__, __dir__ = attach(__name__, __file__)


def list_estimators():
    """The detector catalogue as a DataFrame: name, input, summary, reference, requires (one row each).

    The same as :func:`forensics.estimators.list_estimators`; each name builds a detector with
    :func:`make_pipeline`.

    Examples
    --------
    >>> import forensics
    >>> "forensic-xgb" in set(forensics.list_estimators()["name"])
    True
    """
    from .estimators import list_estimators as catalogue

    return catalogue()

__all__ = ["AuditReport", "EmptyRowsWarning", "FailedItemsWarning", "FeatureTable", "ForensicFeatures", "ItemError", "ShortcutWarning", "TableMismatchError",
           "VideoDetector", "audit", "estimators", "extract_table", "list_estimators", "list_features", "load",
           "load_data", "make_feature_bank", "make_pipeline", "read_table", "save", "use_cluster", "__version__",
           "datasets", "features", "heads", "inspection", "media", "metrics", "model_selection", "preprocessing",
           "tracking", "tuning"]
