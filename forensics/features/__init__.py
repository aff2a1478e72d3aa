"""Handcrafted forensic extractors (scikit-learn transformers) and the feature registry.

Names are imported on first use (numba kernels compile on their first call); see
:mod:`forensics._lazy`.
"""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._bank import ForensicFeatures, make_feature_bank
    from ._base import BaseExtractor, FeatureDoc
    from ._blur import BlurFeatures, blur_features
    from ._codec import CodecFeatures, codec_features
    from ._dct import DCTFeatures, dct_features
    from ._dct_spectrum import DCTSpectrumFeatures, dct_spectrum_features
    from ._noise import NoiseFeatures, noise_features
    from ._registry import ALL_EXTRACTORS, FAMILIES, PRESETS, list_features
    from ._spectral import SpectralFeatures, spectral_features
    from ._video import AGGREGATES, VideoFeatures
    from ._cooccurrence import CooccurrenceFeatures, LargeCooccurrenceFeatures, cooccurrence_features
    from ._face_region import FaceRegionFeatures, faceregion_features
    from ._upsampling import UpsamplingFeatures, upsampling_features
    from ._local import LocalInconsistencyFeatures, block_grid, local_features, local_maps, map_statistics
    from ._tiles import TILE_AGGREGATES, TiledFeatures, tile_boxes
    from ._kernels._warm import compile_kernels

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = [
    "BaseExtractor", "FeatureDoc", "ForensicFeatures", "make_feature_bank", "ALL_EXTRACTORS", "FAMILIES", "PRESETS",
    "list_features", "compile_kernels",
    "SpectralFeatures", "spectral_features",
    "DCTFeatures", "dct_features",
    "DCTSpectrumFeatures", "dct_spectrum_features",
    "NoiseFeatures", "noise_features",
    "BlurFeatures", "blur_features",
    "CodecFeatures", "codec_features",
    "VideoFeatures", "AGGREGATES",
    "CooccurrenceFeatures", "LargeCooccurrenceFeatures", "cooccurrence_features",
    "UpsamplingFeatures", "upsampling_features",
    "FaceRegionFeatures", "faceregion_features",
    "LocalInconsistencyFeatures", "local_features", "local_maps", "map_statistics", "block_grid",
    "TiledFeatures", "TILE_AGGREGATES", "tile_boxes",
]
