"""Deep backbones as feature extractors (torch and timm imported lazily: ``pip install "scikit-forensics[torch]"``).

- :class:`EmbeddingTransformer`: the pooled embedding of a pretrained timm network, an extractor
  of family ``emb`` that composes with the handcrafted families in a
  :class:`~forensics.features.ForensicFeatures` bank.
- :func:`export_onnx`, :class:`OnnxModel`, :class:`OnnxEmbeddingTransformer`: export a network to
  ONNX (optionally INT8) and run it with onnxruntime, without torch.
"""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._onnx import OnnxEmbeddingTransformer, OnnxModel, export_onnx, int8_path
    from ._timm import EmbeddingTransformer, preprocess_image

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["EmbeddingTransformer", "OnnxEmbeddingTransformer", "OnnxModel", "export_onnx", "int8_path",
           "preprocess_image"]
