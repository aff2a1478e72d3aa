"""Codec equalization: give every item the same crop and the same JPEG encoder settings."""

from __future__ import annotations

import numbers
import os
import warnings

import cv2
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin

from ._item import FailedItemsWarning, ItemError, as_item_sequence, load_item

__all__ = ["CodecEqualizer", "equalize_jpeg"]


def equalize_jpeg(image, *, size=256, quality=90, index=0):
    """Centre-crop an image and re-encode it as JPEG, so the codec no longer tells classes apart.

    This is the "equalized" protocol of ``../shared/data/README.md``: decode, take the centre
    square crop of side ``s = min(size, H, W)`` at offsets ``((H - s) // 2, (W - s) // 2)``,
    re-encode with OpenCV at JPEG ``quality`` (OpenCV's default 4:2:0 chroma subsampling).
    Quantization tables, file size and image size then carry no label information, while the
    pixels keep their compression history (a double compression stays visible).

    Parameters
    ----------
    image : path, bytes or ndarray
        One item, as accepted by the feature extractors.
    size : int, default=256
        Side of the square crop (smaller images keep their shorter side).
    quality : int, default=90
        JPEG quality of the re-encoding.
    index : int, default=0
        Position of the item, used in error messages.

    Returns
    -------
    bytes
        The re-encoded JPEG file.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.media import equalize_jpeg, load_item
    >>> data = equalize_jpeg(np.zeros((300, 400, 3), np.uint8), size=256)
    >>> load_item(data).shape
    (256, 256)
    """
    item = load_item(image, index)
    rgb = item._validated
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(item.rgb), 0, 255).astype(np.uint8)
    elif rgb.ndim == 3 and rgb.shape[2] in (2, 4):
        rgb = rgb[:, :, :-1]
    h, w = rgb.shape[:2]
    s = min(size, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = rgb[top:top + s, left:left + s]
    if crop.ndim == 3 and crop.shape[2] == 3:
        crop = crop[:, :, ::-1]  # RGB -> OpenCV's BGR
    elif crop.ndim == 3:
        crop = crop[:, :, 0]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(crop), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise item.error("OpenCV could not encode the equalized crop")
    return buf.tobytes()


def _equalize_chunk(objs, start, size, quality, on_error):
    out, records = [], []
    for k, obj in enumerate(objs):
        index = start + k
        source = os.fspath(obj) if isinstance(obj, (str, os.PathLike)) else None
        try:
            out.append(equalize_jpeg(obj, size=size, quality=quality, index=index))
            records.append((index, source, "ok", ""))
        except ItemError as exc:
            if on_error == "raise":
                raise
            out.append(None)
            records.append((index, source, "error", exc.reason))
    return out, records


class CodecEqualizer(TransformerMixin, BaseEstimator):
    """Re-encode every item the same way (centre crop + one JPEG quality) to remove codec shortcuts.

    The transformer form of :func:`equalize_jpeg`, meant as the first step of a Pipeline, before
    a feature bank: ``transform`` maps each item (path, encoded bytes or array) to the bytes of
    its equalized JPEG, so every item reaching the features has the same quantization tables,
    the same subsampling and (for images of at least ``size`` pixels a side) the same size.

    Parameters
    ----------
    size : int, default=256
        Side of the centre square crop (smaller images keep their shorter side).
    quality : int in 1..100, default=90
        JPEG quality of the re-encoding (OpenCV, 4:2:0 subsampling).
    n_jobs : int or None
        Items processed in parallel by joblib (None = 1).
    on_error : {"raise", "none"}, default="raise"
        "raise": an item that cannot be decoded raises :class:`~forensics.media.ItemError`
        naming it. "none": its output is ``None`` and the failure is recorded in ``status_``;
        a downstream extractor with ``on_error="nan"`` then gives that item a NaN row, so rows
        are never dropped or shifted. (The original item is deliberately *not* passed through:
        a header-only family such as ``codec`` could still read it and reintroduce the very
        shortcut this step removes.)

    Attributes
    ----------
    status_ : pandas.DataFrame
        Set by each ``transform``: one row per item with ``index``, ``source``, ``status``
        ("ok" or "error") and ``error``.

    See Also
    --------
    equalize_jpeg : the single-item function.
    forensics.inspection.audit : measures the codec shortcuts this step removes.

    Notes
    -----
    For an image of height ``H`` and width ``W`` the crop side is ``s = min(size, H, W)`` at
    offsets ``((H - s) // 2, (W - s) // 2)``; the crop is re-encoded with OpenCV at JPEG
    ``quality``. The step is stateless: ``fit`` only validates the parameters and ``transform``
    works without it. The output is a list of ``bytes`` (not a 2-D array), so ``set_output`` is
    accepted and ignored.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.media import CodecEqualizer, load_item
    >>> images = [np.zeros((300, 400, 3), np.uint8), np.full((100, 80), 255, np.uint8)]
    >>> out = CodecEqualizer(size=256).fit_transform(images)
    >>> [type(b).__name__ for b in out], [load_item(b).shape for b in out]
    (['bytes', 'bytes'], [(256, 256), (80, 80)])
    """

    def __init__(self, *, size=256, quality=90, n_jobs=None, on_error="raise"):
        self.size = size
        self.quality = quality
        self.n_jobs = n_jobs
        self.on_error = on_error

    def _check_params(self):
        for name, low, high in (("size", 1, None), ("quality", 1, 100)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < low or (high is not None and value > high):
                rng = f"in {low}..{high}" if high is not None else f">= {low}"
                raise ValueError(f"{name} must be {rng}, got {value!r}")
        n_jobs = self.n_jobs
        if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0):
            raise ValueError(f"n_jobs must be None or a non-zero int, got {n_jobs!r}")
        if self.on_error not in ("raise", "none"):
            raise ValueError(f"on_error must be one of ['raise', 'none'], got {self.on_error!r}")

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never drop attributes of the live object
        state.pop("status_", None)  # about the last transform call, not the model; not saved
        return state

    def fit(self, X=None, y=None):
        """Validate the parameters (no data is needed).

        Parameters
        ----------
        X : sequence of images, optional
            Ignored; accepted for Pipeline compatibility.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        return self

    def transform(self, X):
        """Equalize every item.

        Parameters
        ----------
        X : sequence of images
            Paths, encoded bytes, or arrays (H, W) / (H, W, C); or a stacked array (N, H, W[, C]).

        Returns
        -------
        list of bytes (``None`` for failed items when ``on_error="none"``), one per item, in order.
        """
        self._check_params()
        seq = as_item_sequence(X)
        n = len(seq)
        serial = self.n_jobs in (None, 1)
        chunk = 16 if serial else max(1, min(64, n // (4 * abs(self.n_jobs)) or 1))
        starts = list(range(0, n, chunk))
        args = (([seq[i] for i in range(s, min(s + chunk, n))], s, self.size, self.quality, self.on_error)
                for s in starts)
        if serial:
            results = [_equalize_chunk(*a) for a in args]
        else:
            results = Parallel(n_jobs=self.n_jobs)(delayed(_equalize_chunk)(*a) for a in args)
        out, records = [], []
        for part, recs in results:
            out.extend(part)
            records.extend(recs)
        self.status_ = pd.DataFrame(records, columns=["index", "source", "status", "error"])
        failed = self.status_[self.status_["status"] == "error"]
        if len(failed):
            first = failed.iloc[0]
            warnings.warn(
                f"{len(failed)} of {n} items could not be equalized and are None (see status_); "
                f"first: item {first['index']}: {first['error']}",
                FailedItemsWarning,
                stacklevel=2,
            )
        return out

    def set_output(self, *, transform=None):
        """Accepted for Pipeline.set_output; the output (encoded bytes) is never a table."""
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        tags.non_deterministic = False
        return tags
