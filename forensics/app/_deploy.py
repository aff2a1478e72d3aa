"""Deep image detectors as ONNX files: export with the preprocessing in the metadata, static INT8
quantization calibrated on a few images, and a scorer that runs on onnxruntime alone (no torch)."""

from __future__ import annotations

import json
import numbers
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["DETECTOR_KIND", "OnnxDetector", "export_detector", "preprocess_images", "quantize_static_int8"]

#: ``forensics.kind`` metadata of a file written by :func:`export_detector`.
DETECTOR_KIND = "image-classifier"


def _deep_head(model):
    """The BackboneClassifier of a model (bare or the only real step of a pipeline)."""
    from sklearn.pipeline import Pipeline

    from ..deep import BackboneClassifier

    est = model
    if isinstance(model, Pipeline):
        before = [name for name, step in model.steps[:-1] if step not in (None, "passthrough")]
        if before:
            raise ValueError(f"the pipeline has steps before the network ({', '.join(before)}); an ONNX file holds "
                             "the network only: export the BackboneClassifier of a pipeline without them")
        est = model.steps[-1][1]
    if not isinstance(est, BackboneClassifier):
        raise TypeError(f"export_detector takes a fitted BackboneClassifier (or a pipeline of one), got "
                        f"{type(est).__name__}; embedding networks export with EmbeddingTransformer.export_onnx")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    return est


def _json_label(value):
    return value.item() if isinstance(value, np.generic) else value


def preprocess_images(images, config, *, start=0):
    """Images -> the float32 batch (n, 3, h, w) a :class:`~forensics.deep.BackboneClassifier` network takes.

    Each image is decoded (:func:`forensics.media.load_item`, stored orientation), resized to
    ``config["input_size"]`` (``cv2.INTER_AREA`` when shrinking, else the interpolation) and
    normalised, ``(x / 255 - mean) / std``: what ``BackboneClassifier.decision_function`` does.
    """
    from ..deep._data import load_uint8, resize, to_batch

    size = tuple(int(v) for v in config["input_size"][-2:])
    views = [resize(load_uint8(x, start + k), size, config.get("interpolation", "bilinear"))
             for k, x in enumerate(images)]
    return to_batch(views, config["mean"], config["std"])


def quantize_static_int8(fp32_path, out_path, calibration, *, per_channel=True, calibrate_method="minmax"):
    """Write a statically quantized INT8 copy of an ONNX network, calibrated on example inputs.

    Parameters
    ----------
    fp32_path : str or Path
        The float32 ONNX file.
    out_path : str or Path
        Where to write the INT8 file.
    calibration : ndarray of float32, shape (n, ...)
        Preprocessed network inputs (a few real images: 16-64 are enough); each is fed alone.
    per_channel : bool, default=True
        One scale per output channel of each convolution's weights (per tensor otherwise).
    calibrate_method : {"minmax", "percentile", "entropy"}, default="minmax"
        How the activation ranges are set from the calibration outputs.

    Returns
    -------
    Path
        ``out_path``.

    Notes
    -----
    ``onnxruntime.quantization.quantize_static`` in QDQ format: weights int8 (symmetric),
    activations uint8 with the ranges observed on ``calibration``, after
    ``quant_pre_process`` (shape inference and graph optimisation). Unlike dynamic
    quantization, no range is computed at run time, so onnxruntime runs the convolutions as
    integer kernels (QLinearConv): dynamic INT8 was measured slower than fp32 and less accurate
    for these CNNs (``benchmarks/bench_embeddings.py``). The metadata of ``fp32_path`` is copied,
    with ``forensics.quantization = "static-int8"`` and the number of calibration inputs.
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ..embeddings._onnx import _quiet_quantizer, _write_metadata

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    if calibrate_method not in methods:
        raise ValueError(f"calibrate_method must be one of {list(methods)}, got {calibrate_method!r}")
    data = np.ascontiguousarray(calibration, dtype=np.float32)
    if data.ndim < 2 or len(data) == 0:
        raise ValueError(f"calibration must be a non-empty batch of network inputs, got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError("calibration holds NaN or infinite values")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    import onnx

    input_name = onnx.load(str(fp32_path), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rows = iter(range(len(data)))

        def get_next(self):
            i = next(self.rows, None)
            return None if i is None else {input_name: data[i:i + 1]}

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, _quiet_quantizer():
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=methods[calibrate_method])
    meta = _read_metadata(fp32_path)
    meta.update(quantization="static-int8", calibration_inputs=int(len(data)), calibrate_method=calibrate_method)
    _write_metadata(out_path, meta)
    return out_path


def _read_metadata(path):
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    out = {}
    for p in model.metadata_props:
        if p.key.startswith("forensics."):
            try:
                out[p.key[len("forensics."):]] = json.loads(p.value)
            except ValueError:
                out[p.key[len("forensics."):]] = p.value
    return out


def export_detector(model, path, *, int8=False, calibration=None, opset=17):
    """Export a fitted deep image detector to ONNX, with its preprocessing in the file.

    Parameters
    ----------
    model : fitted BackboneClassifier, or a Pipeline whose only step is one
    path : str or Path
        The ``.onnx`` file to write.
    int8 : bool, default=False
        Also write a statically quantized INT8 copy at
        :func:`forensics.embeddings.int8_path` ``(path)`` (``model.int8.onnx``), calibrated on
        ``calibration`` (:func:`quantize_static_int8`).
    calibration : sequence of images, optional
        Images (paths, bytes, arrays) for the INT8 calibration, e.g. 16-64 training images.
    opset : int, default=17

    Returns
    -------
    Path
        The fp32 file. Its metadata (``forensics.*``) holds ``kind`` ("image-classifier"),
        ``model_name``, ``input_size``, ``mean``, ``std``, ``interpolation`` and ``classes``:
        what :class:`OnnxDetector` needs to score images without torch.

    Examples
    --------
    >>> import numpy as np, pytest, tempfile, pathlib
    >>> _ = pytest.importorskip("torch"); _ = pytest.importorskip("onnxruntime")
    >>> from forensics.deep import BackboneClassifier
    >>> from forensics.app import OnnxDetector, export_detector
    >>> rng = np.random.default_rng(0)
    >>> X = list(rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)); y = [0, 1] * 4
    >>> clf = BackboneClassifier(model_name="cnn-small", weights=None, input_size=32, epochs=1,
    ...                          frozen_epochs=0, validation_fraction=None).fit(X, y)
    >>> path = export_detector(clf, pathlib.Path(tempfile.mkdtemp()) / "cnn.onnx")
    >>> bool(np.allclose(OnnxDetector(path).decision_function(X), clf.decision_function(X), atol=1e-4))
    True
    """
    est = _deep_head(model)
    cfg = est.data_config_
    metadata = dict(kind=DETECTOR_KIND, model_name=est.model_name, input_size=[int(v) for v in cfg["input_size"]],
                    mean=[float(v) for v in cfg["mean"]], std=[float(v) for v in cfg["std"]],
                    interpolation=str(cfg["interpolation"]), classes=[_json_label(c) for c in est.classes_],
                    output="logit of classes[1]")
    path = Path(est.export_onnx(path, opset=opset, metadata=metadata))
    if int8:
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8=True needs calibration images (e.g. 16-64 training images)")
        from ..embeddings import int8_path

        quantize_static_int8(path, int8_path(path), preprocess_images(calibration, cfg))
    return path


class OnnxDetector:
    """A deep image detector exported by :func:`export_detector`, scored with onnxruntime (no torch).

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file (fp32 or its INT8 copy).
    providers : list of str, optional
        onnxruntime execution providers (see :class:`forensics.embeddings.OnnxModel`).
    batch_size : int >= 1, default=32
        Images per ``session.run``.

    Attributes
    ----------
    model_ : forensics.embeddings.OnnxModel
    data_config_ : dict
        ``input_size``, ``mean``, ``std``, ``interpolation`` read from the file.
    classes_ : ndarray of shape (2,)
    metadata_ : dict
        Every ``forensics.*`` entry of the file.

    Raises
    ------
    ValueError
        On construction, when the file is not an image-detector export (an embedding network,
        a foreign ONNX file): the message says how to export one.
    """

    def __init__(self, path, *, providers=None, batch_size=32):
        from ..embeddings import OnnxModel

        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.path = Path(path)
        self.batch_size = int(batch_size)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {os.fspath(path)!r}")
        self.model_ = OnnxModel(self.path, providers=providers)
        try:
            meta = self.model_.metadata
        except Exception as exc:  # onnxruntime refuses a damaged file with its own exception types
            raise ValueError(f"{self.path.name} is not a readable ONNX file: {type(exc).__name__}: "
                             f"{str(exc)[:200]}") from None
        if meta.get("kind") != DETECTOR_KIND:
            what = "an embedding network" if "model_name" in meta else "not a forensics detector export"
            raise ValueError(f"{self.path.name} is {what} (no forensics.kind = {DETECTOR_KIND!r} in its metadata): "
                             "export a fitted BackboneClassifier with forensics.app.export_detector")
        self.metadata_ = meta
        self.data_config_ = dict(input_size=tuple(meta["input_size"]), mean=tuple(meta["mean"]),
                                 std=tuple(meta["std"]), interpolation=meta.get("interpolation", "bilinear"))
        self.classes_ = np.asarray(meta.get("classes", [0, 1]))

    def __repr__(self):
        return f"OnnxDetector({str(self.path)!r})"

    def run(self, batch):
        """Logits of an already preprocessed float32 batch (n, 3, h, w), shape (n,)."""
        out = []
        for start in range(0, len(batch), self.batch_size):
            out.append(np.asarray(self.model_.run(batch[start:start + self.batch_size]), np.float64).reshape(-1))
        return np.concatenate(out) if out else np.empty(0)

    def decision_function(self, X):
        """Logit of ``classes_[1]`` (fake) per image, shape (n_images,)."""
        from ..deep._data import image_sequence

        seq = image_sequence(X, type(self).__name__)
        out = []
        for start in range(0, len(seq), self.batch_size):
            items = [seq[i] for i in range(start, min(start + self.batch_size, len(seq)))]
            out.append(self.run(preprocess_images(items, self.data_config_, start=start)))
        return np.concatenate(out)

    def predict_proba(self, X):
        """(n_images, 2) probabilities in ``classes_`` order: ``sigmoid(logit)`` for ``classes_[1]``."""
        z = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Labels: ``classes_[1]`` when the logit is > 0."""
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
