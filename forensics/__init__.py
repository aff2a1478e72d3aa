"""forensics: forensic features for detecting deepfakes and AI-generated images.

The few public entry points live here; everything else is in the subpackages
(:mod:`forensics.media`, :mod:`forensics.features`, :mod:`forensics.datasets`).
Label convention everywhere: fake = 1, real = 0.
"""

__version__ = "0.1.0"

from .features import ForensicFeatures, list_features, make_feature_bank  # noqa: E402
from .media import ItemError  # noqa: E402

__all__ = ["ForensicFeatures", "ItemError", "list_features", "make_feature_bank", "__version__"]
