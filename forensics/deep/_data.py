"""Images in, network tensors out: decoding, resizing to the input size and normalisation."""

from __future__ import annotations

import cv2
import numpy as np

from ..media import ItemError, as_item_sequence, load_item

_CV2_INTERPOLATION = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC, "nearest": cv2.INTER_NEAREST,
                      "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}


def image_sequence(X, name):
    """``X`` as an indexable sequence of images; a clear error when it is empty or not a sequence."""
    seq = as_item_sequence(X)
    if len(seq) == 0:
        raise ValueError(f"{name}: X is empty; pass a non-empty sequence of images (paths, bytes or arrays)")
    return seq


def load_uint8(obj, index):
    """One element of ``X`` decoded to an RGB uint8 array (H, W, 3); errors name the item."""
    item = load_item(obj, index)
    try:
        rgb = item.rgb
    except ItemError:
        raise
    except Exception as exc:  # an unexpected decoder failure: name the item, keep the cause
        raise ItemError(index, item.source, f"{type(exc).__name__}: {exc}") from exc
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def resize(image, size, interpolation="bicubic"):
    """Resize to ``size = (H, W)`` with OpenCV; unchanged (no resampling) when already that size.

    Shrinking uses ``INTER_AREA`` (an anti-aliased box filter); enlarging uses the model's
    pretrained interpolation (bicubic for most timm models).
    """
    h, w = image.shape[:2]
    if (h, w) == tuple(size):
        return image
    shrink = h >= size[0] and w >= size[1]
    flag = cv2.INTER_AREA if shrink else _CV2_INTERPOLATION.get(interpolation, cv2.INTER_LINEAR)
    out = cv2.resize(image, (int(size[1]), int(size[0])), interpolation=flag)
    return out if out.ndim == 3 else out[:, :, None]


def to_batch(images, mean, std):
    """A list of uint8 (H, W, 3) images of one size -> float32 (N, 3, H, W), ``(x / 255 - mean) / std``."""
    arr = np.stack(images).astype(np.float32) / np.float32(255.0)
    arr -= np.asarray(mean, dtype=np.float32)
    arr /= np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
