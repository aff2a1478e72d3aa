"""A small web app that scores one image or video, and the ONNX deployment of deep detectors.

- ``forensics app`` (:func:`main`): a Streamlit page (the ``app`` extra) where a user uploads a
  file, picks a saved model (a ``forensics train`` output or an ONNX export) and sees the fake
  score, the file's own properties (the shortcut audit of one item), for videos the score of
  each sampled frame and the frames with faces, and an explanation (SHAP, Grad-CAM or
  occlusion).
- :func:`score_upload`, :func:`load_detector` and the reports: the same without Streamlit
  (no torch needed for ONNX files and handcrafted pipelines).
- :func:`export_detector`, :func:`quantize_static_int8`, :class:`OnnxDetector`: a fitted
  :class:`~forensics.deep.BackboneClassifier` as an ONNX file (fp32 and statically quantized
  INT8) with its preprocessing in the metadata, scored with onnxruntime alone.
"""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._deploy import DETECTOR_KIND, OnnxDetector, export_detector, preprocess_images, quantize_static_int8
    from ._launch import build_parser, main
    from ._occlusion import occlusion_map
    from ._scoring import (AppError, Detector, Explanation, ImageReport, VideoReport, find_models, load_detector,
                           score_image, score_upload, score_video, sniff, yunet_path)

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["AppError", "DETECTOR_KIND", "Detector", "Explanation", "ImageReport", "OnnxDetector", "VideoReport",
           "build_parser", "export_detector", "find_models", "load_detector", "main", "occlusion_map",
           "preprocess_images", "quantize_static_int8", "score_image", "score_upload", "score_video", "sniff",
           "yunet_path"]
