"""ONNX export of torch networks, and running the exported files with onnxruntime (no torch)."""

from __future__ import annotations

import contextlib
import json
import logging
import numbers
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._timm import _CROP_MODES, _INTERPOLATIONS, _EmbeddingBase
from ..features._base import Interval

__all__ = ["OnnxEmbeddingTransformer", "OnnxModel", "export_onnx", "int8_path"]

_MISSING_ORT = "running ONNX models needs onnxruntime: pip install onnxruntime (or onnxruntime-gpu)"
_MISSING_EXPORT = ("exporting to ONNX needs PyTorch and onnx: pip install \"scikit-forensics[torch]\" onnx "
                   "(and onnxruntime for quantize=True)")
_META_PREFIX = "forensics."
_EXPORTERS = ("auto", "legacy", "dynamo")


def _import_ort():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(_MISSING_ORT) from exc
    return onnxruntime


def int8_path(path):
    """Where :func:`export_onnx` writes the INT8 copy of ``path``: ``model.onnx`` -> ``model.int8.onnx``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.int8{path.suffix or '.onnx'}")


@contextlib.contextmanager
def _quiet_quantizer():
    """onnxruntime's quantizer logs a warning per tensor whose type it cannot infer (root logger)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _write_metadata(path, metadata):
    import onnx

    model = onnx.load(str(path))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in metadata.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if _META_PREFIX + key in existing:
            existing[_META_PREFIX + key].value = text
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = _META_PREFIX + key, text
    onnx.save(model, str(path))


def export_onnx(module, path, *, input_shape=(3, 224, 224), opset=17, dynamic_batch=True, quantize=False,
                metadata=None, exporter="auto"):
    """Export a torch module taking one float32 NCHW batch to an ONNX file.

    Parameters
    ----------
    module : torch.nn.Module
        The network; exported in eval mode on its own device (its training flag is restored).
    path : str or Path
        The ``.onnx`` file to write (parent folders are created).
    input_shape : tuple of int, default=(3, 224, 224)
        Shape of one input item, without the batch dimension.
    opset : int >= 14, default=17
        ONNX opset version.
    dynamic_batch : bool, default=True
        Leave the batch dimension of the input and output free (named ``batch``); False fixes
        it to 1.
    quantize : bool, default=False
        Also write a dynamically quantized INT8 copy beside it, at :func:`int8_path` ``(path)``
        (``model.int8.onnx``), with ``onnxruntime.quantization.quantize_dynamic`` (uint8
        weights; activations quantized at run time).
    metadata : dict, optional
        Key/value pairs stored in the file's ``metadata_props`` as ``forensics.<key>`` (values
        JSON-encoded), read back by :attr:`OnnxModel.metadata`.
    exporter : {"auto", "legacy", "dynamo"}, default="auto"
        "legacy": ``torch.onnx.export(..., dynamo=False)`` (TorchScript tracing, dynamic axes);
        "dynamo": the ``torch.export`` based exporter (``dynamic_shapes``); "auto" tries the
        legacy exporter first and falls back to dynamo when it fails or is gone.

    Returns
    -------
    Path
        The fp32 file (the INT8 one, when asked for, is at ``int8_path(path)``).

    Notes
    -----
    "auto" prefers the legacy exporter because, with torch 2.15 here, it exports an
    EfficientNet-Lite0 in about 1 s at exactly the requested opset with a free batch axis,
    whereas the dynamo exporter takes several times longer and emits opset 18 (its down-conversion
    to 17 fails on some Resize/Slice nodes). Both give the same outputs to ~1e-6.

    Dynamic INT8 quantization suits MatMul-heavy networks (transformers, MLP heads). On
    convolutional backbones onnxruntime runs the quantized convolutions as ``ConvInteger``,
    which on the CPU is slower than fp32 and less accurate (see ``benchmarks/bench_embeddings.py``):
    measure before using it.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from forensics.embeddings import export_onnx, OnnxModel  # doctest: +SKIP
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
    ...                           torch.nn.Flatten())  # doctest: +SKIP
    >>> path = export_onnx(net, "net.onnx", input_shape=(3, 32, 32))  # doctest: +SKIP
    >>> OnnxModel(path).run(np.zeros((5, 3, 32, 32), np.float32)).shape  # doctest: +SKIP
    (5, 4)
    """
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) or opset < 14:
        raise ValueError(f"opset must be an int >= 14, got {opset!r}")
    if exporter not in _EXPORTERS:
        raise ValueError(f"exporter must be one of {list(_EXPORTERS)}, got {exporter!r}")
    shape = tuple(int(v) for v in input_shape)
    if not shape or any(v < 1 for v in shape):
        raise ValueError(f"input_shape must be positive sizes without the batch dimension, got {input_shape!r}")
    try:
        import onnx  # noqa: F401  (both exporters write through it)
        import torch
    except ImportError as exc:
        raise ImportError(_MISSING_EXPORT) from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    param = next(iter(module.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    # batch 2: an exporter tracing with batch 1 may specialise the batch dimension
    dummy = torch.zeros((2 if dynamic_batch else 1, *shape), dtype=torch.float32, device=device)
    was_training = module.training
    module.eval()
    errors = []
    try:
        for kind in (("legacy", "dynamo") if exporter == "auto" else (exporter,)):
            try:
                _export(torch, module, dummy, path, kind, opset, dynamic_batch)
                break
            except Exception as exc:  # noqa: PERF203 - try the next exporter
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
        else:
            raise RuntimeError("ONNX export failed: " + " | ".join(errors))
    finally:
        module.train(was_training)
    if metadata:
        _write_metadata(path, metadata)
    if quantize:
        _import_ort()
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with _quiet_quantizer():
            quantize_dynamic(str(path), str(int8_path(path)), weight_type=QuantType.QUInt8)
        if metadata:
            _write_metadata(int8_path(path), {**metadata, "quantization": "dynamic-int8"})
    return path


def _export(torch, module, dummy, path, kind, opset, dynamic_batch):
    common = dict(input_names=["input"], output_names=["output"], opset_version=opset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notes of the legacy exporter, tracer warnings
        if kind == "legacy":
            axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
            torch.onnx.export(module, (dummy,), str(path), dynamo=False, dynamic_axes=axes, do_constant_folding=True,
                              **common)
        else:
            shapes = ({0: torch.export.Dim("batch", min=1, max=65536)},) if dynamic_batch else None
            with contextlib.redirect_stdout(open(os.devnull, "w")):
                torch.onnx.export(module, (dummy,), str(path), dynamo=True, dynamic_shapes=shapes,
                                  external_data=False, **common)


class OnnxModel:
    """An ONNX file run with onnxruntime: one float32 input batch in, the first output out.

    The session is created on first use and is not pickled (only the path and providers are),
    so the wrapper goes into joblib workers and saved pipelines.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    providers : list of str, optional
        onnxruntime execution providers. None: ``CUDAExecutionProvider`` then the CPU when
        onnxruntime-gpu sees a GPU, else the CPU alone.

    Notes
    -----
    Threads: onnxruntime's intra-op pool follows ``OMP_NUM_THREADS`` when it is set (joblib
    sets it to ``cores // n_jobs`` in its workers), else uses every core: one level of
    parallelism, as elsewhere in the library.
    """

    def __init__(self, path, *, providers=None):
        self.path = Path(path)
        self.providers = providers
        self._session = None

    @property
    def session(self):
        """The ``onnxruntime.InferenceSession`` (created on first access)."""
        if self._session is None:
            ort = _import_ort()
            if not self.path.is_file():
                raise FileNotFoundError(f"ONNX model not found: {self.path}")
            options = ort.SessionOptions()
            options.log_severity_level = 3
            threads = os.environ.get("OMP_NUM_THREADS", "")
            if threads.isdigit() and int(threads) > 0:
                options.intra_op_num_threads = int(threads)
            providers = self.providers
            if providers is None:
                from .._device import onnx_providers

                providers, _ = onnx_providers("auto", ort.get_available_providers())
            self._session = ort.InferenceSession(str(self.path), sess_options=options, providers=list(providers))
        return self._session

    @property
    def device(self):
        """``"cuda"`` or ``"cpu"``: where the session runs, read from the session itself (opens it)."""
        return "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"

    @property
    def input_shape(self):
        """Input shape as stored (a free dimension is a name such as ``"batch"``)."""
        return list(self.session.get_inputs()[0].shape)

    @property
    def output_shape(self):
        """Shape of the first output as stored."""
        return list(self.session.get_outputs()[0].shape)

    @property
    def metadata(self):
        """The ``forensics.*`` entries of the file's metadata, decoded (prefix removed)."""
        raw = self.session.get_modelmeta().custom_metadata_map
        out = {}
        for key, value in raw.items():
            if key.startswith(_META_PREFIX):
                try:
                    out[key[len(_META_PREFIX):]] = json.loads(value)
                except ValueError:
                    out[key[len(_META_PREFIX):]] = value
        return out

    def run(self, batch):
        """Run one batch.

        Parameters
        ----------
        batch : array-like, e.g. (n, 3, h, w)
            Converted to contiguous float32.

        Returns
        -------
        ndarray
            The model's first output, e.g. (n, n_features).
        """
        session = self.session
        x = np.ascontiguousarray(batch, dtype=np.float32)
        return session.run(None, {session.get_inputs()[0].name: x})[0]

    def __getstate__(self):  # plain types only, so that skops files can hold it
        return {"path": str(self.path), "providers": None if self.providers is None else list(self.providers)}

    def __setstate__(self, state):
        self.path = Path(state["path"])
        self.providers = state["providers"]
        self._session = None

    def __repr__(self):
        return f"OnnxModel({str(self.path)!r})"


class OnnxEmbeddingTransformer(_EmbeddingBase):
    """The embedding of an exported network (ONNX file) as a feature extractor, without torch.

    Runs on onnxruntime alone, so a pipeline trained with
    :class:`~forensics.embeddings.EmbeddingTransformer` can be served on a CPU machine without
    PyTorch: export with :meth:`EmbeddingTransformer.export_onnx`, which returns this extractor
    configured with the same preprocessing and feature names (also stored in the file).

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file (input: float32 batch ``(n, 3, h, w)``; first output ``(n, F)``).
    model_name : str, optional
        Middle part of the feature names ``emb__<model_name>__<i>``. None: the name stored in
        the file by :meth:`EmbeddingTransformer.export_onnx`, else the file's stem.
    input_size, mean, std, crop_pct, interpolation, crop_mode : optional
        The preprocessing (see :func:`preprocess_image`). None: the value stored in the file;
        ``input_size``, ``mean`` and ``std`` must come from one or the other, and the others
        default to 0.875, "bicubic" and "center".
    batch_size : int >= 1, default=32
        Images per ``session.run``.
    providers : list of str, optional
        See :class:`OnnxModel`.
    n_jobs, on_error, progress
        As for every extractor.

    Attributes
    ----------
    model_ : OnnxModel
        The model (its session opens lazily; pickling keeps only the path).
    data_config_ : dict
        The preprocessing used.
    n_embedding_ : int
    feature_names_out_, n_features_out_, status_
        As for every extractor.

    See Also
    --------
    export_onnx, EmbeddingTransformer
    """

    _param_rules = {"batch_size": Interval(int, 1, None)}

    def __init__(self, path, *, model_name=None, input_size=None, mean=None, std=None, crop_pct=None,
                 interpolation=None, crop_mode=None, batch_size=32, providers=None, n_jobs=None, on_error="raise",
                 progress=False):
        self.path = path
        self.model_name = model_name
        self.input_size = input_size
        self.mean = mean
        self.std = std
        self.crop_pct = crop_pct
        self.interpolation = interpolation
        self.crop_mode = crop_mode
        self.batch_size = batch_size
        self.providers = providers
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def fit(self, X=None, y=None):
        """Open the file, read its preprocessing metadata and output size.

        Returns
        -------
        self
        """
        self._check_params()
        if not isinstance(self.path, (str, os.PathLike)) or not Path(self.path).is_file():
            raise FileNotFoundError(f"path must be an existing .onnx file, got {self.path!r}")
        model = OnnxModel(self.path, providers=self.providers)
        meta = model.metadata
        given = dict(input_size=self.input_size, mean=self.mean, std=self.std, crop_pct=self.crop_pct,
                     interpolation=self.interpolation, crop_mode=self.crop_mode)
        defaults = dict(crop_pct=0.875, interpolation="bicubic", crop_mode="center")
        cfg = {k: (v if v is not None else meta.get(k, defaults.get(k))) for k, v in given.items()}
        missing = [k for k in ("input_size", "mean", "std") if cfg[k] is None]
        if missing:
            raise ValueError(f"{self.path} stores no preprocessing metadata: pass {', '.join(missing)} "
                             "(e.g. input_size=(3, 224, 224), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))")
        size = tuple(int(v) for v in cfg["input_size"])
        size = size if len(size) == 3 else (3, *size)
        if len(size) != 3 or size[0] != 3:
            raise ValueError(f"input_size must be (3, h, w), got {cfg['input_size']!r}")
        for key in ("mean", "std"):
            if len(tuple(cfg[key])) != 3 or (key == "std" and min(cfg[key]) <= 0):
                raise ValueError(f"{key} must be 3 numbers (std > 0), got {cfg[key]!r}")
        if cfg["interpolation"] not in _INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {list(_INTERPOLATIONS)}, got {cfg['interpolation']!r}")
        if cfg["crop_mode"] not in _CROP_MODES:
            raise ValueError(f"crop_mode must be one of {list(_CROP_MODES)}, got {cfg['crop_mode']!r}")
        if not 0 < float(cfg["crop_pct"]) <= 1:
            raise ValueError(f"crop_pct must be in (0, 1], got {cfg['crop_pct']!r}")
        self.data_config_ = dict(input_size=size, interpolation=str(cfg["interpolation"]),
                                 mean=tuple(float(v) for v in cfg["mean"]), std=tuple(float(v) for v in cfg["std"]),
                                 crop_pct=float(cfg["crop_pct"]), crop_mode=str(cfg["crop_mode"]))
        n_out = model.output_shape[-1]
        if not isinstance(n_out, int):  # a free last dimension: ask the model
            n_out = model.run(np.zeros((1, *size), np.float32)).reshape(1, -1).shape[1]
        name = self.model_name or meta.get("model_name") or Path(self.path).stem
        name = str(name).replace("__", "_")
        self.model_ = model
        self.n_embedding_ = int(n_out)
        self.feature_names_out_ = np.asarray(self._names(name, self.n_embedding_), dtype=object)
        self.n_features_out_ = self.n_embedding_
        return self

    def _setup(self):
        check_is_fitted(self, "model_")

    def _compute_batch(self, prepared):
        out = np.empty((len(prepared), self.n_features_out_), np.float64)
        for start in range(0, len(prepared), self.batch_size):
            batch = np.stack(prepared[start:start + self.batch_size])
            out[start:start + len(batch)] = self.model_.run(batch).reshape(len(batch), -1)
        return out

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("status_", None)
        return state

