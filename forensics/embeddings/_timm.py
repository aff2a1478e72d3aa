"""Pretrained timm backbones as feature extractors: one pooled embedding row per image."""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ..features._base import BaseExtractor, FeatureDoc, Interval, Options

__all__ = ["EmbeddingTransformer", "preprocess_image"]

_MISSING_TORCH = (
    "EmbeddingTransformer needs PyTorch and timm: pip install \"scikit-forensics[torch]\" "
    "(or run an exported ONNX model with OnnxEmbeddingTransformer, which needs onnxruntime only)."
)

#: Suffixes of local weight files timm can load through ``pretrained_cfg_overlay=dict(file=...)``.
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")

#: Environment variable naming a folder of ``<model_name>.safetensors`` files used for
#: ``weights="imagenet"`` before timm's hub download (for offline machines).
MODEL_DIR_ENV = "FORENSICS_MODEL_DIR"

_INTERPOLATIONS = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}
_CROP_MODES = ("center", "squash", "border")
_SEED = 0  # random initialisation of weights=None models, so that they are reproducible


def _import_torch_timm():
    try:
        import timm
        import torch
    except ImportError as exc:
        raise ImportError(_MISSING_TORCH) from exc
    return torch, timm


# -- preprocessing (NumPy / OpenCV, no torchvision) -------------------------------------------------

def _resize(img, size_hw, interpolation):
    """cv2 resize to (h, w): INTER_AREA when shrinking (antialiased, as PIL is), else the mode."""
    h, w = img.shape[:2]
    new_h, new_w = int(size_hw[0]), int(size_hw[1])
    if (new_h, new_w) == (h, w):
        return img
    if interpolation != "nearest" and new_h <= h and new_w <= w:
        flag = cv2.INTER_AREA
    else:
        flag = _INTERPOLATIONS[interpolation]
    out = cv2.resize(np.ascontiguousarray(img), (new_w, new_h), interpolation=flag)
    return np.clip(out, 0.0, 255.0, out=out)  # bicubic overshoot: PIL clips to the 8-bit range too


def _centre_crop_or_pad(img, size_hw, fill):
    """torchvision ``CenterCrop`` (offsets ``int(round((H - h) / 2))``), padding with ``fill`` when smaller."""
    th, tw = size_hw
    h, w = img.shape[:2]
    if h < th or w < tw:
        ph, pw = max(th - h, 0), max(tw - w, 0)
        canvas = np.empty((h + ph, w + pw, 3), np.float32)
        canvas[:] = np.asarray(fill, np.float32)
        canvas[ph // 2:ph // 2 + h, pw // 2:pw // 2 + w] = img
        img, (h, w) = canvas, canvas.shape[:2]
    top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
    return img[top:top + th, left:left + tw]


def preprocess_image(rgb, *, input_size=(3, 224, 224), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                     crop_pct=0.875, interpolation="bicubic", crop_mode="center"):
    """timm's evaluation transform in NumPy/OpenCV: resize, centre crop, scale to [0, 1], normalize.

    Parameters
    ----------
    rgb : ndarray of shape (H, W, 3)
        RGB image on the 0..255 scale (uint8 or float, e.g. :attr:`forensics.media.Item.rgb`).
    input_size : tuple (3, h, w)
        Network input size (timm's ``input_size``).
    mean, std : tuple of 3 float
        Per-channel normalization on the [0, 1] scale.
    crop_pct : float in (0, 1]
        Share of the resized image kept by the centre crop (None: timm's default 0.875).
    interpolation : {"bicubic", "bilinear", "nearest"}
        Mode used when enlarging; shrinking always uses ``cv2.INTER_AREA`` (see Notes).
    crop_mode : {"center", "squash", "border"}
        timm's ``crop_mode``.

    Returns
    -------
    ndarray of shape (3, h, w), float32

    Notes
    -----
    The steps of ``timm.data.transforms_imagenet_eval``. With ``S = floor(s / crop_pct)`` for
    each target side ``s``:

    - ``"center"`` (timm's default): resize so that the shorter side is ``S`` keeping the aspect
      ratio (for a square target the longer side is ``int(S * long / short)``, as torchvision's
      ``Resize(int)``), then centre crop to ``(h, w)``;
    - ``"squash"``: resize to ``(S_h, S_w)`` ignoring the aspect ratio, then centre crop;
    - ``"border"``: resize so that the longer side fits, pad with ``255 * mean``, centre crop.

    Then ``x = (rgb / 255 - mean) / std``, channels first. The resize runs in float32 with
    OpenCV instead of PIL: shrinking uses ``INTER_AREA`` (pixel-area averaging, antialiased
    like PIL's filtered resize), enlarging the configured interpolation; values are clipped to
    [0, 255] after a resize and are not rounded to 8 bits. Outputs therefore differ slightly
    from timm + torchvision on PIL images (well below the spread between JPEG encoders).

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.embeddings import preprocess_image
    >>> img = np.zeros((8, 16, 3), np.uint8); img[:, 8:] = 255   # left half black, right white
    >>> x = preprocess_image(img, input_size=(3, 4, 4), mean=(0.5,) * 3, std=(0.5,) * 3, crop_pct=0.5)
    >>> x.shape, x.dtype
    ((3, 4, 4), dtype('float32'))
    >>> x[0]   # no resize (shorter side 8 = 4 / 0.5); columns 6..9 cropped; (v/255 - 0.5) / 0.5
    array([[-1., -1.,  1.,  1.],
           [-1., -1.,  1.,  1.],
           [-1., -1.,  1.,  1.],
           [-1., -1.,  1.,  1.]], dtype=float32)
    """
    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {img.shape}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {list(_INTERPOLATIONS)}, got {interpolation!r}")
    if crop_mode not in _CROP_MODES:
        raise ValueError(f"crop_mode must be one of {list(_CROP_MODES)}, got {crop_mode!r}")
    img = img.astype(np.float32, copy=False)
    th, tw = int(input_size[-2]), int(input_size[-1])
    pct = float(crop_pct) if crop_pct else 0.875
    sh, sw = int(np.floor(th / pct)), int(np.floor(tw / pct))
    h, w = img.shape[:2]
    fill = (0.0, 0.0, 0.0)
    if crop_mode == "squash":
        size = (sh, sw)
    elif crop_mode == "border":
        ratio = max(h / sh, w / sw)
        size = (round(h / ratio), round(w / ratio))
        fill = tuple(round(255 * m) for m in mean)
    elif sh == sw:  # torchvision Resize(int): the shorter side becomes S
        size = (sh, int(sh * w / h)) if h <= w else (int(sh * h / w), sh)
    else:  # timm ResizeKeepRatio(longest=0)
        ratio = min(h / sh, w / sw)
        size = (round(h / ratio), round(w / ratio))
    img = _centre_crop_or_pad(_resize(img, size, interpolation), (th, tw), fill)
    # x = (v / 255 - mean) / std, in place on one (h, w, 3) buffer, then channels first
    out = np.multiply(img, np.float32(1.0 / 255.0), dtype=np.float32)
    out -= np.asarray(mean, np.float32)
    out /= np.asarray(std, np.float32)
    return np.ascontiguousarray(out.transpose(2, 0, 1))


# -- model loading -------------------------------------------------------------------------------

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 2
_CACHE_LOCK = threading.Lock()


def _weights_file(model_name, weights):
    """The local file to load, or None for timm's hub download / a random init."""
    if weights is None:
        return None
    if weights == "imagenet":
        folder = os.environ.get(MODEL_DIR_ENV)
        if folder:
            for suffix in WEIGHT_SUFFIXES:
                candidate = Path(folder) / f"{model_name}{suffix}"
                if candidate.is_file():
                    return candidate
        return None
    return Path(weights)


def _hub_cached(model_name):
    """Whether timm's weights of ``model_name`` are already in the Hugging Face or torch hub cache."""
    hf = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    for folder in Path(hf).glob(f"models--timm--{model_name}*"):
        if any(p.is_file() or p.is_symlink() for p in (folder / "snapshots").rglob("*")):
            return True
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "torch")
    return any(Path(torch_home, "hub", "checkpoints").glob(f"{model_name}*"))


def _hub_reachable(timeout=1.5):
    """Whether the Hugging Face hub answers a TCP connection within ``timeout`` seconds (DNS included)."""
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy a direct probe says nothing: let the download try
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    result = []

    def probe():
        try:
            socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def check_weights_available(model_name, weights):
    """Fail at once, naming ``$FORENSICS_MODEL_DIR``, when pretrained weights cannot be had.

    ``weights=None`` needs nothing; a path must exist; ``"imagenet"`` is found in the folder named
    by ``FORENSICS_MODEL_DIR``, else in the Hugging Face / torch hub cache, else it needs the hub:
    with ``HF_HUB_OFFLINE`` set, or when the hub does not answer within 1.5 s, this raises instead
    of letting the download retry for a minute.

    Returns
    -------
    pathlib.Path or None
        The local file, or None (random init, cache or hub).

    Raises
    ------
    FileNotFoundError
        ``weights`` names a file that does not exist.
    RuntimeError
        The weights are not on this machine and the hub cannot be reached.
    """
    if weights is None:
        return None
    path = _weights_file(model_name, weights)
    if weights != "imagenet":
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {os.fspath(weights)!r} (weights must be 'imagenet', "
                                    "None or the path of a local timm checkpoint)")
        return path
    if path is not None or _hub_cached(model_name):
        return path
    folder = os.environ.get(MODEL_DIR_ENV)
    where = f"${MODEL_DIR_ENV} ({folder!r} has no {model_name}.safetensors)" if folder else f"${MODEL_DIR_ENV} (unset)"
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    if offline or not _hub_reachable():
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub cannot be reached"
        raise RuntimeError(f"the pretrained weights of {model_name!r} are not on this machine and {why}: put "
                           f"{model_name}.safetensors (or .pth) in the folder named by {where}, or pass "
                           f"weights='/path/to/{model_name}.safetensors'")
    return None


def _create_model(model_name, weights, *, num_classes=0, device="cpu"):
    """A timm model in eval mode on ``device`` with its weights (see :class:`EmbeddingTransformer`)."""
    torch, timm = _import_torch_timm()
    path = _weights_file(model_name, weights)
    if weights is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_SEED)
            model = timm.create_model(model_name, pretrained=False, num_classes=num_classes)
    elif path is not None:
        model = timm.create_model(model_name, pretrained=True, num_classes=num_classes,
                                  pretrained_cfg_overlay=dict(file=str(path)))
    else:
        check_weights_available(model_name, weights)  # offline: fail now, not after the hub's retries
        try:
            model = timm.create_model(model_name, pretrained=True, num_classes=num_classes)
        except Exception as exc:  # offline, hub error, no pretrained tag...
            raise RuntimeError(
                f"could not get the pretrained weights of {model_name!r} through timm "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). Offline, pass a local "
                f"file: weights='/path/to/{model_name}.safetensors' (or .pth), or put that file in the "
                f"folder named by ${MODEL_DIR_ENV}."
            ) from exc
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(device)


def _cached_model(model_name, weights, device):
    """Process-wide cache of the last few models: clones, CV folds and joblib chunks reuse them."""
    path = _weights_file(model_name, weights)
    stamp = None
    if path is not None:
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
    key = (model_name, str(weights), stamp, str(device))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    model = _create_model(model_name, weights, device=device)
    with _CACHE_LOCK:
        _CACHE[key] = model
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model


def _resolve_device(device):
    torch, _ = _import_torch_timm()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _check_device(device):
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or (
            device.startswith("cuda:") and device[5:].isdigit())):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<n>', got {device!r}")
    if device.startswith("cuda"):
        torch, _ = _import_torch_timm()
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but CUDA is not available; use device='auto' or 'cpu'")


class _EmbeddingBase(BaseExtractor):
    """Preprocessing, batching and naming shared by the torch and ONNX embedding extractors."""

    family = "emb"
    feature_docs = (
        FeatureDoc("emb", "<model_name>", "0000..: index of the pooled-embedding coordinate",
                   "Pooled penultimate-layer activations of a pretrained image backbone",
                   "z = pool(f(normalize(centre_crop(resize(x))))), the network without its classifier",
                   "Tan & Le, 'EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', "
                   "ICML 2019, arXiv:1905.11946 (and the timm model zoo)", cost="high", presets=()),
    )

    def _names(self, model_name, n):
        return [f"emb__{model_name}__{i:04d}" for i in range(n)]

    def _feature_names(self):
        check_is_fitted(self, "feature_names_out_")
        return list(self.feature_names_out_)

    def _prepare(self, item):
        cfg = self.data_config_
        return preprocess_image(item.rgb, input_size=cfg["input_size"], mean=cfg["mean"], std=cfg["std"],
                                crop_pct=cfg["crop_pct"], interpolation=cfg["interpolation"],
                                crop_mode=cfg["crop_mode"])

    def _compute(self, item):
        self._setup()
        return self._compute_batch([self._prepare(item)])[0]

    @property
    def _batch_size_hint(self):
        return self.batch_size

    def extract_one(self, image):
        """Embedding of one image as an ordered ``{name: value}`` dict (fits first if needed)."""
        if not hasattr(self, "feature_names_out_"):
            self.fit()
        return super().extract_one(image)


class EmbeddingTransformer(_EmbeddingBase):
    """Pooled embedding of a pretrained timm backbone, as a feature extractor (family ``emb``).

    The network runs without its classifier (``num_classes=0``), so each image gives the pooled
    penultimate-layer activations (1280 values for ``tf_efficientnet_lite0``). Being an
    extractor of this library, it composes with the handcrafted families: inside
    :class:`~forensics.features.ForensicFeatures` each image is decoded once for all families
    (e.g. ``ForensicFeatures([("blur", BlurFeatures()), ("emb", EmbeddingTransformer())])``), and
    it can be the frame extractor of :class:`~forensics.features.VideoFeatures`.

    Parameters
    ----------
    model_name : str, default="tf_efficientnet_lite0"
        A timm model name (``timm.list_models()``), optionally with a pretrained tag.
    weights : "imagenet", path or None, default="imagenet"
        ``"imagenet"``: timm's own pretrained weights (downloaded from the Hugging Face hub and
        cached; when the folder named by the ``FORENSICS_MODEL_DIR`` environment variable holds
        ``<model_name>.safetensors`` that file is used instead). A path: a local ``.safetensors``
        / ``.pth`` file in timm's layout (loaded with ``pretrained_cfg_overlay=dict(file=...)``),
        the way to work offline. None: random initialisation from a fixed seed (reproducible;
        for tests).
    batch_size : int >= 1, default=32
        Images per forward pass; at most this many preprocessed images are in memory at once
        (and, in a bank, about as many decoded items are processed per chunk).
    device : {"auto", "cpu", "cuda", "cuda:<n>"}, default="auto"
        "auto" uses CUDA when ``torch.cuda.is_available()``, else the CPU.
    amp : bool, default=False
        Mixed precision (``torch.autocast``, float16) on CUDA; ignored on the CPU. Outputs are
        returned as float64 either way.
    n_jobs, on_error, progress
        As for every extractor (see :class:`~forensics.features.BaseExtractor`).

    Attributes
    ----------
    model_ : torch.nn.Module
        The network in eval mode, loaded on first use (``transform``), not by ``fit``; pickling
        drops it and it is reloaded on the next use. Models are also cached per process (the
        last two), so clones and cross-validation folds share one copy: treat it as read-only.
    device_ : str
        The device resolved from ``device`` (set on first use).
    data_config_ : dict
        The preprocessing taken from the model's pretrained config
        (``timm.data.resolve_model_data_config``): input_size, interpolation, mean, std,
        crop_pct, crop_mode. See :func:`preprocess_image`.
    n_embedding_ : int
        Size of the embedding (``model.num_features``).
    feature_names_out_, n_features_out_, status_
        As for every extractor; names read ``emb__<model_name>__0000`` ...

    See Also
    --------
    OnnxEmbeddingTransformer : the same embedding from an exported ONNX file, without torch.
    preprocess_image : the preprocessing, as a function.

    Notes
    -----
    ``fit`` learns nothing: it checks the parameters and reads the embedding size and the
    preprocessing config from a weightless copy of the network built on PyTorch's ``meta``
    device, so fitting is cheap and loads no weights.

    Feature names have three parts like every column of the library, ``emb__<model_name>__<i>``
    (the ``emb__<i>`` of the original design gained the model name so that two backbones can be
    fused in one bank without name clashes).

    Inference runs under ``torch.inference_mode`` in batches of ``batch_size``. Parallelism has
    one level: with ``n_jobs=None`` items are processed in this process and PyTorch uses its own
    intra-op threads (all cores by default, ``torch.set_num_threads`` to change); with
    ``n_jobs > 1`` joblib workers each load the model once and joblib limits each worker to
    ``cores // n_jobs`` threads (``OMP_NUM_THREADS``, which PyTorch follows). On a GPU keep
    ``n_jobs=None``.

    CPU speed depends on the memory allocator more than on anything here: with glibc's defaults
    PyTorch page-faults its activations in again at every forward pass, worst for large batches
    (EfficientNet-Lite0, one thread: 7.7 img/s at batch 32 against 23 img/s with
    ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_`` set high, or jemalloc/tcmalloc
    preloaded; batch 1 is ~18 img/s either way). See ``benchmarks/bench_embeddings.py``.

    References
    ----------
    .. [1] Tan, M. & Le, Q. V. "EfficientNet: Rethinking Model Scaling for Convolutional Neural
       Networks", ICML 2019, arXiv:1905.11946.
    .. [2] Wightman, R. "PyTorch Image Models" (timm), doi:10.5281/zenodo.4414861.

    Examples
    --------
    >>> from forensics.embeddings import EmbeddingTransformer
    >>> emb = EmbeddingTransformer(model_name="test_efficientnet", weights=None)
    >>> emb.get_params()["batch_size"]
    32
    >>> import numpy as np  # the rest needs torch and timm
    >>> images = [np.full((40, 56, 3), 128, np.uint8), np.zeros((32, 32, 3), np.uint8)]
    >>> emb.fit(images).transform(images).shape  # doctest: +SKIP
    (2, 256)
    >>> emb.get_feature_names_out()[:2]  # doctest: +SKIP
    array(['emb__test_efficientnet__0000', 'emb__test_efficientnet__0001'], dtype=object)
    """

    _param_rules = {
        "batch_size": Interval(int, 1, None),
        "amp": Options((True, False)),
    }

    def __init__(self, *, model_name="tf_efficientnet_lite0", weights="imagenet", batch_size=32, device="auto",
                 amp=False, n_jobs=None, on_error="raise", progress=False):
        self.model_name = model_name
        self.weights = weights
        self.batch_size = batch_size
        self.device = device
        self.amp = amp
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    # -- fitting ----------------------------------------------------------------------------------
    def _check_params(self):
        super()._check_params()
        if not isinstance(self.model_name, str) or not self.model_name or "__" in self.model_name:
            raise ValueError(f"model_name must be a timm model name without '__', got {self.model_name!r}")
        weights = self.weights
        if weights is not None and weights != "imagenet":
            if not isinstance(weights, (str, os.PathLike)):
                raise ValueError(f"weights must be 'imagenet', a path to a weights file or None, got {weights!r}")
            path = Path(weights)
            if path.suffix.lower() not in WEIGHT_SUFFIXES:
                raise ValueError(f"weights must be 'imagenet', None or a {'/'.join(WEIGHT_SUFFIXES)} file, "
                                 f"got {weights!r}")
            if not path.is_file():
                raise FileNotFoundError(f"weights file not found: {weights}")
        _check_device(self.device)

    def fit(self, X=None, y=None):
        """Check the parameters, read the embedding size and preprocessing. Loads no weights.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        torch, timm = _import_torch_timm()
        if not timm.is_model(self.model_name):
            raise ValueError(f"model_name {self.model_name!r} is not a timm model (see timm.list_models())")
        with torch.device("meta"):
            skeleton = timm.create_model(self.model_name, pretrained=False, num_classes=0)
        cfg = timm.data.resolve_model_data_config(skeleton)
        self.data_config_ = dict(
            input_size=tuple(int(v) for v in cfg["input_size"]), interpolation=str(cfg.get("interpolation", "bicubic")),
            mean=tuple(float(v) for v in cfg["mean"]), std=tuple(float(v) for v in cfg["std"]),
            crop_pct=float(cfg.get("crop_pct") or 0.875), crop_mode=str(cfg.get("crop_mode") or "center"),
        )
        if self.data_config_["interpolation"] not in _INTERPOLATIONS:
            self.data_config_["interpolation"] = "bicubic"
        self.n_embedding_ = int(skeleton.num_features)
        self.feature_names_out_ = np.asarray(self._names(self.model_name, self.n_embedding_), dtype=object)
        self.n_features_out_ = self.n_embedding_
        self.__dict__.pop("model_", None)  # a refit with other parameters must not keep an old network
        return self

    # -- the network ------------------------------------------------------------------------------
    def _setup(self):
        check_is_fitted(self, "feature_names_out_")
        if getattr(self, "model_", None) is None:
            self.device_ = _resolve_device(self.device)
            self.model_ = _cached_model(self.model_name, self.weights, self.device_)

    def _compute_batch(self, prepared):
        torch, _ = _import_torch_timm()
        self._setup()
        model, device = self.model_, self.device_
        on_cuda = str(device).startswith("cuda")
        out = np.empty((len(prepared), self.n_features_out_), np.float64)
        autocast = (torch.autocast("cuda", dtype=torch.float16) if self.amp and on_cuda
                    else contextlib.nullcontext())
        with torch.inference_mode(), autocast:
            for start in range(0, len(prepared), self.batch_size):
                batch = np.stack(prepared[start:start + self.batch_size])
                x = torch.from_numpy(batch).to(device, non_blocking=on_cuda)
                y = model(x)
                out[start:start + len(batch)] = y.float().cpu().numpy().reshape(len(batch), -1)
        return out

    def export_onnx(self, path, **kwargs):
        """Export the embedding network to ONNX and return an extractor that runs the file.

        Parameters
        ----------
        path : str or Path
            Where to write the ``.onnx`` file.
        **kwargs
            Passed to :func:`forensics.embeddings.export_onnx` (``opset``, ``dynamic_batch``,
            ``quantize``...). The input shape is the model's ``input_size``.

        Returns
        -------
        OnnxEmbeddingTransformer
            Unfitted, with the same preprocessing and feature names (stored in the file's
            metadata too, so ``OnnxEmbeddingTransformer(path)`` alone finds them).
        """
        from ._onnx import OnnxEmbeddingTransformer, export_onnx

        fitted = self if hasattr(self, "feature_names_out_") else clone(self).fit()
        fitted._setup()
        cfg = fitted.data_config_
        metadata = {"model_name": fitted.model_name, **{k: v for k, v in cfg.items()}}
        out = export_onnx(fitted.model_, path, input_shape=cfg["input_size"], metadata=metadata, **kwargs)
        return OnnxEmbeddingTransformer(str(out), batch_size=self.batch_size, n_jobs=self.n_jobs,
                                        on_error=self.on_error, progress=self.progress)

    def __getstate__(self):
        # the weights are not pickled (they reload from ``weights`` on first use)
        state = self.__dict__.copy()
        for key in ("model_", "device_", "status_"):
            state.pop(key, None)
        return state

