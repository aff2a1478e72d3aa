"""One input item: the raw encoded bytes (when there are any) plus lazily decoded pixels.

Every extractor receives an :class:`Item`. The item reads the file once, parses the container
header once and decodes the pixels once, however many feature families look at it, so a
:class:`~forensics.features.ForensicFeatures` pass costs one decode per image.
"""

from __future__ import annotations

import io
import os
import re
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage

__all__ = ["Item", "ItemError", "as_item_sequence", "load_item", "DEFAULT_MAX_PIXELS"]

#: Images larger than this many pixels are refused before decoding (decompression-bomb guard).
DEFAULT_MAX_PIXELS = 1 << 28  # 268 megapixels, e.g. 16384 x 16384

# PIL's own bomb guard would only warn below 2x its limit; ours is explicit and per item.
PILImage.MAX_IMAGE_PIXELS = None

_SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64, np.bool_)


class ItemError(ValueError):
    """An input item that cannot be processed.

    The message always names the item's position in ``X`` and, when it has one, its path, so
    that a failure in a run over a million files can be found.

    Attributes
    ----------
    index : int
        Position of the item in the input sequence.
    source : str or None
        The path of the item, or None for in-memory bytes and arrays.
    reason : str
        What went wrong, without the item prefix.
    """

    def __init__(self, index, source, reason):
        self.index = index
        self.source = source
        self.reason = reason
        where = f"item {index}" + (f" ({source})" if source else "")
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):  # keep the attributes when raised inside a joblib worker
        return (type(self), (self.index, self.source, self.reason))


class Item:
    """An image to analyse: raw bytes (if encoded) and lazily decoded, cached pixels.

    Parameters
    ----------
    index : int
        Position in the input sequence (used in error messages and status records).
    source : str or None
        Path the bytes came from, if any.
    data : bytes or None
        The encoded file (JPEG, PNG, ...). None for an in-memory array.
    pixels : ndarray or None
        A decoded image, (H, W) or (H, W, C) with C in {1, 2, 3, 4}, RGB channel order.
    max_pixels : int
        Refuse images with more pixels than this, before decoding.

    Notes
    -----
    Pixel conventions, shared by every family:

    - ``rgb`` is float32 (H, W, 3) on the 0..255 scale of 8-bit images, whatever the input
      dtype: uint16 is divided by 257, float input must lie in [0, 1] (the scikit-image
      convention) and is multiplied by 255. Grey images repeat their one channel; an alpha
      channel is dropped (``has_alpha`` records it).
    - ``luma`` is ITU-R BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B``, the transform JPEG
      uses, so block-DCT statistics live on the same lattice as the encoder's.
    - Files are decoded without applying the EXIF orientation: the pixel grid stays aligned
      with the 8x8 blocks of the compressed data.
    """

    def __init__(self, index=0, source=None, data=None, pixels=None, max_pixels=DEFAULT_MAX_PIXELS):
        self.index = index
        self.source = source
        self.data = data
        self._pixels = pixels
        self.max_pixels = max_pixels

    # -- errors -----------------------------------------------------------------------------
    def error(self, reason):
        """Return an :class:`ItemError` naming this item."""
        return ItemError(self.index, self.source, reason)

    # -- container ----------------------------------------------------------------------------
    @cached_property
    def header(self):
        """The PIL image opened lazily on the bytes (header parsed, pixels not decoded).

        None for in-memory arrays. Raises :class:`ItemError` when the bytes are not an image.
        """
        if self.data is None:
            return None
        try:
            im = PILImage.open(io.BytesIO(self.data))
        except Exception as exc:  # PIL raises several types for garbage input
            detail = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(exc))  # stable text
            raise self.error(f"not a readable image file ({type(exc).__name__}: {detail})") from None
        w, h = im.size
        if w <= 0 or h <= 0:
            raise self.error(f"image has zero size ({w}x{h})")
        if w * h > self.max_pixels:
            raise self.error(
                f"image is {w}x{h} ({w * h / 1e6:.0f} megapixels), above max_pixels="
                f"{self.max_pixels}; raise max_pixels if this is intended"
            )
        return im

    @property
    def format(self):
        """Container format in lower case (``"jpeg"``, ``"png"``...), or ``"array"``."""
        if self.data is None:
            return "array"
        return (self.header.format or "unknown").lower()

    # -- pixels -------------------------------------------------------------------------------
    @property
    def pixels(self):
        """The decoded image as stored: (H, W) or (H, W, C), RGB(A) order, native dtype."""
        if self._pixels is None:
            self._pixels = self._decode()
        return self._pixels

    def _decode(self):
        header = self.header  # validates size before any decoding work
        if header.format == "JPEG":
            _check_jpeg_complete(self)
        buf = np.frombuffer(self.data, dtype=np.uint8)
        arr = None
        try:
            arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            arr = None
        if arr is not None and arr.size:
            if arr.ndim == 3 and arr.shape[2] == 3:
                arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
            elif arr.ndim == 3 and arr.shape[2] == 4:
                arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
            return np.ascontiguousarray(arr)
        # OpenCV could not decode it (e.g. palette GIF on some builds): let PIL try.
        try:
            im = PILImage.open(io.BytesIO(self.data))
            im.load()
        except Exception as exc:
            raise self.error(f"cannot decode image ({type(exc).__name__}: {exc})") from None
        if im.mode in ("P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
        arr = np.asarray(im)
        if arr.dtype not in _SUPPORTED_DTYPES or arr.size == 0:
            raise self.error(f"unsupported pixel mode {im.mode!r}")
        return np.ascontiguousarray(arr)

    @cached_property
    def _validated(self):
        arr = self.pixels
        if not isinstance(arr, np.ndarray):
            raise self.error(f"pixels must be a numpy array, got {type(arr).__name__}")
        if arr.dtype not in _SUPPORTED_DTYPES:
            raise self.error(
                f"unsupported dtype {arr.dtype}; use uint8, uint16, float32/float64 in [0, 1] or bool"
            )
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
            raise self.error(f"expected an image of shape (H, W) or (H, W, C) with C in 1..4, got {arr.shape}")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise self.error(f"image has zero size {arr.shape}")
        if arr.shape[0] * arr.shape[1] > self.max_pixels:
            raise self.error(f"image of shape {arr.shape} is above max_pixels={self.max_pixels}")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                raise self.error("image contains NaN or infinite values")
            lo, hi = float(arr.min()), float(arr.max())
            if lo < -1e-6 or hi > 1 + 1e-6:
                raise self.error(
                    f"float images must lie in [0, 1] (found {lo:g}..{hi:g}); divide 8-bit data by 255"
                )
        return arr

    @property
    def has_alpha(self):
        """True when the decoded image carried an alpha channel (which features ignore)."""
        arr = self._validated
        return arr.ndim == 3 and arr.shape[2] in (2, 4)

    @property
    def is_gray(self):
        """True for single-channel (optionally with alpha) images."""
        arr = self._validated
        return arr.ndim == 2 or arr.shape[2] == 2

    @property
    def shape(self):
        """(H, W) of the image."""
        return self._validated.shape[:2]

    @cached_property
    def rgb(self):
        """float32 (H, W, 3) image on the 0..255 scale (see class notes)."""
        arr = self._validated
        if arr.ndim == 3:
            arr = arr[:, :, :1] if arr.shape[2] == 2 else arr[:, :, :3]
        out = _to_255(arr)
        if out.ndim == 2:
            out = out[:, :, None]
        if out.shape[2] == 1:
            out = np.repeat(out, 3, axis=2)
        return np.ascontiguousarray(out)

    @cached_property
    def luma(self):
        """float32 (H, W) BT.601 luma on the 0..255 scale."""
        arr = self._validated
        if self.is_gray:
            g = arr if arr.ndim == 2 else arr[:, :, 0]
            return np.ascontiguousarray(_to_255(g))
        # OpenCV's RGB -> grey uses exactly the BT.601 weights (0.299, 0.587, 0.114).
        return np.ascontiguousarray(cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY))

    def __repr__(self):
        kind = f"{len(self.data)} bytes" if self.data is not None else "array"
        src = f" {self.source!r}" if self.source else ""
        return f"Item({self.index}{src}, {kind})"


def _to_255(arr):
    if arr.dtype == np.uint8:
        return arr.astype(np.float32)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / np.float32(257.0)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32) * np.float32(255.0)
    return np.clip(arr.astype(np.float32), 0.0, 1.0) * np.float32(255.0)


def _check_jpeg_complete(item):
    """Raise when a JPEG stream has no end-of-image marker after its first scan.

    Decoders fill a truncated JPEG with grey and only warn; forensic features on such a
    picture would describe the filler, so truncation is an error.
    """
    data = item.data
    pos = 2
    n = len(data)
    sos = -1
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        seg_len = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            sos = pos + 2 + seg_len
            break
        pos += 2 + seg_len
    if sos < 0 or sos >= n:
        raise item.error("truncated JPEG: no image data (start-of-scan) found")
    tail = data[sos:]
    if tail.rfind(b"\xff\xd9") < 0:
        raise item.error("truncated JPEG: the end-of-image marker is missing")


def load_item(obj, index=0, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Wrap one element of ``X`` (path, bytes, array, PIL image or :class:`Item`) as an Item.

    Files are read here; nothing is decoded until a feature asks for pixels.

    Raises
    ------
    ItemError
        For a missing, unreadable or empty file, or an unsupported type; the message names
        ``index`` and the path.
    """
    if isinstance(obj, Item):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        src = os.fspath(obj)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ItemError(index, src, "file not found") from None
        except IsADirectoryError:
            raise ItemError(index, src, "is a directory, not an image file") from None
        except OSError as exc:
            raise ItemError(index, src, f"cannot read file ({exc.strerror or exc})") from None
        if not data:
            raise ItemError(index, src, "file is empty (0 bytes)")
        return Item(index, src, data, max_pixels=max_pixels)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        if not data:
            raise ItemError(index, None, "empty bytes")
        return Item(index, None, data, max_pixels=max_pixels)
    if isinstance(obj, np.ndarray):
        return Item(index, None, pixels=obj, max_pixels=max_pixels)
    if isinstance(obj, PILImage.Image):
        im = obj.convert("RGB") if obj.mode not in ("L", "RGB", "RGBA", "LA", "I;16") else obj
        return Item(index, getattr(obj, "filename", None) or None, pixels=np.asarray(im), max_pixels=max_pixels)
    raise ItemError(
        index, None, f"unsupported item type {type(obj).__name__}; expected a path, bytes or an image array"
    )


def as_item_sequence(X):
    """Check that ``X`` is a sequence of items and return it as a list-like (no copy of arrays).

    Accepted: list/tuple of items, a 1-D object array or pandas Series of items, or a stacked
    array of images with shape (N, H, W) or (N, H, W, C).

    Raises
    ------
    TypeError
        When ``X`` is a single path, bytes object or a 2-D array, which would otherwise be read
        as a sequence of characters or rows.
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(
            "X must be a sequence of images (paths, bytes or arrays), got a single "
            f"{type(X).__name__}; wrap one image as [image]"
        )
    if hasattr(X, "iloc") and hasattr(X, "to_numpy"):  # pandas Series / single-column DataFrame
        if getattr(X, "ndim", 1) == 2:
            if X.shape[1] != 1:
                raise TypeError("a DataFrame X must have exactly one column of images")
            X = X.iloc[:, 0]
        return list(X.to_numpy())
    if isinstance(X, np.ndarray):
        if X.dtype == object and X.ndim == 1:
            return list(X)
        if X.ndim in (3, 4):
            return X  # stacked images: X[i] is one image
        raise TypeError(
            f"X as an array must be a stack of images (N, H, W) or (N, H, W, C), got shape {X.shape}; "
            "to pass one image use [image]"
        )
    try:
        n = len(X)
    except TypeError:
        raise TypeError(f"X must be a sequence of images, got {type(X).__name__}") from None
    del n
    return X
