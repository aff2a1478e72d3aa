"""Training-time augmentation that keeps forensic traces meaningful: flips, grid crops, JPEG re-saves.

The traces a deepfake detector learns are mostly high-frequency (upsampling checkerboards,
blending seams, resampling and compression statistics). Augmentations common in photo
classification destroy or imitate them: colour jitter shifts the colour statistics some
generators leave, blur and sub-pixel resampling (rotations, scale jitter, random resized crops)
low-pass the very frequencies that carry the evidence. So the default policy is limited to

- horizontal flips (a pixel permutation: every local statistic is kept, mirrored);
- small crops (each side at least 90 %) taken on the pixel grid, by slicing: no interpolation;
- random JPEG re-compression at quality 70-95, which is what social media does to both real and
  fake images, so the detector does not learn "no JPEG = fake" from a codec shortcut.

All functions are pure NumPy/OpenCV and take the random generator explicitly, so a seed gives
the same augmented images.
"""

from __future__ import annotations

import numbers

import cv2
import numpy as np

__all__ = ["hflip", "random_crop", "jpeg_recompress", "augment_image"]


def hflip(image):
    """Mirror an image left-right (exact: a permutation of the columns).

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)

    Returns
    -------
    ndarray of the same shape and dtype (a contiguous copy)

    Examples
    --------
    >>> import numpy as np
    >>> hflip(np.array([[1, 2, 3]])).tolist()
    [[3, 2, 1]]
    """
    return np.ascontiguousarray(np.asarray(image)[:, ::-1])


def _check_scale(value, name="min_scale"):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")


def random_crop(image, rng, *, min_scale=0.9):
    """A random window of the image whose sides are at least ``min_scale`` of the original.

    The window is a slice of the pixel grid (integer offset and size), so no pixel is
    interpolated. Height and width are drawn independently, uniformly in
    ``[ceil(min_scale * side), side]``, and the offset uniformly among the valid ones.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
    rng : numpy.random.Generator
    min_scale : float in (0, 1], default=0.9
        Smallest side of the crop as a fraction of the image side.

    Returns
    -------
    ndarray of shape (h, w[, C]), same dtype
        A contiguous copy.

    Examples
    --------
    >>> import numpy as np
    >>> crop = random_crop(np.zeros((100, 50, 3)), np.random.default_rng(0))
    >>> 90 <= crop.shape[0] <= 100 and 45 <= crop.shape[1] <= 50
    True
    """
    _check_scale(min_scale)
    image = np.asarray(image)
    h, w = image.shape[:2]
    ch = int(rng.integers(int(np.ceil(min_scale * h)), h + 1))
    cw = int(rng.integers(int(np.ceil(min_scale * w)), w + 1))
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(image[top:top + ch, left:left + cw])


def jpeg_recompress(image, quality):
    """Encode an RGB image as JPEG at ``quality`` (OpenCV) and decode it back.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, 3), uint8 or float on the 0..255 scale
        RGB channel order (it is converted to OpenCV's BGR for the encoder, so the chroma
        planes are the ones a real JPEG of this picture would have).
    quality : int in [1, 100]

    Returns
    -------
    ndarray of the same shape and dtype
        Float input is rounded and clipped to 8 bits before encoding (a JPEG holds 8-bit samples).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    >>> out = jpeg_recompress(img, 75)
    >>> out.shape == img.shape and out.dtype == img.dtype and not np.array_equal(out, img)
    True
    """
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int in [1, 100], got {quality!r}")
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 3), got {image.shape}")
    u8 = image if image.dtype == np.uint8 else np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if u8.ndim == 3:
        u8 = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV only fails on invalid shapes, checked above
        raise RuntimeError("OpenCV could not encode the image as JPEG")
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED if image.ndim == 2 else cv2.IMREAD_COLOR)
    if out.ndim == 3:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return out.astype(image.dtype, copy=False)


def augment_image(image, rng, *, flip=True, crop_scale=0.9, jpeg_probability=0.5, jpeg_quality=(70, 95),
                  keep_size=False):
    """The default training augmentation of :class:`~forensics.deep.BackboneClassifier`.

    In order: a JPEG re-save (with probability ``jpeg_probability``, quality uniform in
    ``jpeg_quality``) of the whole picture, as a re-shared file would be; a horizontal flip with
    probability 1/2; a grid crop of at least ``crop_scale`` of each side. No colour jitter and
    no blur (see the module notes: both alter the traces the detector should learn).

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8 (or float on the 0..255 scale)
    rng : numpy.random.Generator
    flip : bool, default=True
    crop_scale : float in (0, 1] or None, default=0.9
        Smallest crop side as a fraction of the image side; None or 1 for no crop.
    jpeg_probability : float in [0, 1], default=0.5
    jpeg_quality : (int, int), default=(70, 95)
        Inclusive range of the JPEG quality.
    keep_size : bool, default=False
        Return an image of the input size: the crop is then placed back at a random position
        in a reflect-padded canvas (a shift on the pixel grid). Used when the image already has
        the network's input size, where resizing a crop back up would interpolate every pixel.

    Returns
    -------
    ndarray (H', W', 3), same dtype

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    >>> a = augment_image(img, np.random.default_rng(7))
    >>> b = augment_image(img, np.random.default_rng(7))
    >>> np.array_equal(a, b)
    True
    >>> augment_image(img, np.random.default_rng(7), keep_size=True).shape
    (40, 40, 3)
    """
    if not 0 <= jpeg_probability <= 1:
        raise ValueError(f"jpeg_probability must be in [0, 1], got {jpeg_probability!r}")
    if crop_scale is not None:
        _check_scale(crop_scale, "crop_scale")
    low, high = jpeg_quality
    if not 1 <= low <= high <= 100:
        raise ValueError(f"jpeg_quality must be a range (low, high) with 1 <= low <= high <= 100, got {jpeg_quality!r}")
    # Always draw the same number of variates, so one option does not shift the others' draws.
    u_jpeg, quality, u_flip = rng.random(), int(rng.integers(low, high + 1)), rng.random()
    if u_jpeg < jpeg_probability:
        image = jpeg_recompress(image, quality)
    if flip and u_flip < 0.5:
        image = hflip(image)
    if crop_scale is not None and crop_scale < 1:
        h, w = image.shape[:2]
        crop = random_crop(image, rng, min_scale=crop_scale)
        if keep_size and crop.shape[:2] != (h, w):
            top = int(rng.integers(0, h - crop.shape[0] + 1))
            left = int(rng.integers(0, w - crop.shape[1] + 1))
            pads = ((top, h - crop.shape[0] - top), (left, w - crop.shape[1] - left)) + ((0, 0),) * (crop.ndim - 2)
            crop = np.pad(crop, pads, mode="reflect" if min(crop.shape[:2]) > 1 else "edge")
        image = crop
    return np.ascontiguousarray(image)
