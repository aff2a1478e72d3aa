"""Trainable deep detectors with the scikit-learn estimator API (torch/timm imported lazily).

- :class:`BackboneClassifier`: fine-tune a timm backbone (or train a small CNN) on images.
- :class:`TemporalHead`: a (bi)LSTM/GRU classifier over per-frame embeddings of videos, with
  :func:`sequences_from_frames` to build its input from frame rows.
- :func:`augment_image` and its parts: augmentation that keeps forensic traces meaningful.
"""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._augment import augment_image, hflip, jpeg_recompress, random_crop
    from ._classifier import CNN_SMALL, BackboneClassifier
    from ._temporal import TemporalHead, sequences_from_frames

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["BackboneClassifier", "CNN_SMALL", "TemporalHead", "augment_image", "hflip", "jpeg_recompress",
           "random_crop", "sequences_from_frames"]
