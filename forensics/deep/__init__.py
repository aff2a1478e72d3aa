"""Trainable deep detectors with the scikit-learn estimator API (torch/timm imported lazily).

- :class:`BackboneClassifier`: fine-tune a timm backbone (or train a small CNN) on images.
- :class:`VideoClassifier`: clip-level video models trained end to end (torchvision 3-D CNNs and
  video transformers, timm frame backbones with a GRU/LSTM/Transformer head, TimeSformer/ViViT).
- :class:`TemporalHead`: a (bi)LSTM/GRU classifier over per-frame embeddings of videos, with
  :func:`sequences_from_frames` to build its input from frame rows.
- :class:`ClipDataset` and :class:`Clip`: clips of face crops from the face-crop cache;
  :func:`make_motion_clips`: a generated task only motion can solve.
- :func:`plot_history`, :func:`load_checkpoint`: the learning curves and checkpoints every deep
  estimator writes (one training loop, ``forensics.deep._training``).
- :func:`augment_image`, :func:`augment_clip` and their parts: augmentation that keeps forensic
  traces meaningful.
"""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._augment import augment_clip, augment_image, color_jitter, hflip, jpeg_recompress, random_crop, rotate
    from ._classifier import CNN_SMALL, BackboneClassifier
    from ._clips import Clip, ClipDataset, clip_positions, make_motion_clips
    from ._temporal import TemporalHead, sequences_from_frames
    from ._training import HISTORY_METRICS, history_frame, load_checkpoint, plot_history
    from ._video import HF_VIDEO_MODELS, TEMPORAL_HEADS, VIDEO_MODELS, VideoClassifier

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["BackboneClassifier", "CNN_SMALL", "Clip", "ClipDataset", "HF_VIDEO_MODELS", "HISTORY_METRICS",
           "TEMPORAL_HEADS", "TemporalHead", "VIDEO_MODELS", "VideoClassifier", "augment_clip", "augment_image",
           "clip_positions", "color_jitter", "hflip", "history_frame", "jpeg_recompress", "load_checkpoint",
           "make_motion_clips", "plot_history", "random_crop", "rotate", "sequences_from_frames"]
