"""Codec equalization: give every item the same crop and the same JPEG encoder settings."""

from __future__ import annotations

import cv2
import numpy as np

from ._item import load_item

__all__ = ["equalize_jpeg"]


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
