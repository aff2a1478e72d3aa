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

Colour jitter and small rotations are available for those who want them (``color_jitter`` and
``rotation`` of :func:`augment_image`), **off by default**: jitter rescales the colour
statistics and a rotation resamples every pixel (bilinear interpolation low-passes the image),
so both can erase or fake the very traces a forensic detector should learn. Turn them on only
when the detector is meant to rely on semantic or temporal cues (e.g. face motion) rather than
pixel-level traces, and compare with them off.

All functions are pure NumPy/OpenCV and take the random generator explicitly, so a seed gives
the same augmented images.
"""

from __future__ import annotations

import numbers

import cv2
import numpy as np

__all__ = ["hflip", "random_crop", "jpeg_recompress", "color_jitter", "rotate", "augment_image", "augment_clip"]


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


def color_jitter(image, brightness=0.0, contrast=0.0, saturation=0.0):
    """Scale brightness, contrast and saturation of an RGB image by ``1 + value`` each.

    In order: ``x * (1 + brightness)``; contrast around the image's mean grey level
    ``m + (x - m) * (1 + contrast)``; saturation around each pixel's luma
    ``Y + (x - Y) * (1 + saturation)`` with ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601).
    The result is clipped to 0..255 (and rounded for uint8 input).

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8 or float on the 0..255 scale
    brightness, contrast, saturation : float > -1, default=0.0
        Relative changes; 0 leaves the image as it is.

    Returns
    -------
    ndarray of the same shape and dtype

    Examples
    --------
    >>> import numpy as np
    >>> color_jitter(np.full((2, 2, 3), 100, np.uint8), brightness=0.5)[0, 0].tolist()
    [150, 150, 150]
    """
    for name, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if not v > -1:
            raise ValueError(f"{name} must be > -1, got {v!r}")
    image = np.asarray(image)
    x = image.astype(np.float32)
    if brightness:
        x = x * np.float32(1 + brightness)
    if contrast:
        m = np.float32(x.mean())
        x = m + (x - m) * np.float32(1 + contrast)
    if saturation:
        luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = luma[..., None] + (x - luma[..., None]) * np.float32(1 + saturation)
    x = np.clip(x, 0, 255)
    return (np.rint(x).astype(np.uint8) if image.dtype == np.uint8 else x.astype(image.dtype))


def rotate(image, degrees):
    """Rotate an image about its centre by ``degrees`` (counter-clockwise), same size.

    Bilinear interpolation (``cv2.warpAffine``), borders filled by reflection
    (``BORDER_REFLECT_101``) so no black corners appear.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
    degrees : float

    Returns
    -------
    ndarray of the same shape and dtype

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(9, dtype=np.float32).reshape(3, 3)
    >>> rotate(img, 90).round().astype(int).tolist()  # counter-clockwise
    [[2, 5, 8], [1, 4, 7], [0, 3, 6]]
    """
    image = np.asarray(image)
    if not degrees:
        return np.ascontiguousarray(image)
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(degrees), 1.0)
    out = cv2.warpAffine(np.ascontiguousarray(image), matrix, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT_101)
    return out.reshape(image.shape)


def _check_policy(crop_scale, jpeg_probability, jpeg_quality, color_jitter_, rotation):
    if not 0 <= jpeg_probability <= 1:
        raise ValueError(f"jpeg_probability must be in [0, 1], got {jpeg_probability!r}")
    if crop_scale is not None:
        _check_scale(crop_scale, "crop_scale")
    low, high = jpeg_quality
    if not 1 <= low <= high <= 100:
        raise ValueError(f"jpeg_quality must be a range (low, high) with 1 <= low <= high <= 100, got {jpeg_quality!r}")
    if isinstance(color_jitter_, bool) or not isinstance(color_jitter_, numbers.Real) or not 0 <= color_jitter_ < 1:
        raise ValueError(f"color_jitter must be in [0, 1), got {color_jitter_!r}")
    if isinstance(rotation, bool) or not isinstance(rotation, numbers.Real) or not 0 <= rotation <= 45:
        raise ValueError(f"rotation must be in [0, 45] degrees, got {rotation!r}")
    return low, high


def _draw(rng, shape, *, flip, crop_scale, jpeg_probability, jpeg_quality, keep_size, color_jitter, rotation):
    """Draw every random choice of one augmentation (so a clip can apply the same to all frames).

    The draws are in a fixed order; the JPEG, flip and crop draws are those earlier versions
    made, so the default policy gives the same images for the same seed.
    """
    low, high = _check_policy(crop_scale, jpeg_probability, jpeg_quality, color_jitter, rotation)
    u_jpeg, quality, u_flip = rng.random(), int(rng.integers(low, high + 1)), rng.random()
    p = dict(jpeg=quality if u_jpeg < jpeg_probability else None, flip=bool(flip and u_flip < 0.5), crop=None,
             pad=None)
    h, w = shape[:2]
    if crop_scale is not None and crop_scale < 1:
        ch = int(rng.integers(int(np.ceil(crop_scale * h)), h + 1))
        cw = int(rng.integers(int(np.ceil(crop_scale * w)), w + 1))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        p["crop"] = (top, left, ch, cw)
        if keep_size and (ch, cw) != (h, w):
            p["pad"] = (int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)))
    jitter, angle = rng.uniform(-1.0, 1.0, 3), rng.uniform(-1.0, 1.0)
    p["jitter"] = tuple(float(v) * color_jitter for v in jitter)
    p["angle"] = float(angle) * rotation
    return p


def _apply(image, p):
    if any(p["jitter"]):
        image = color_jitter(image, *p["jitter"])
    if p["angle"]:
        image = rotate(image, p["angle"])
    if p["jpeg"] is not None:
        image = jpeg_recompress(image, p["jpeg"])
    if p["flip"]:
        image = hflip(image)
    if p["crop"] is not None:
        top, left, ch, cw = p["crop"]
        h, w = image.shape[:2]
        crop = np.ascontiguousarray(image[top:top + ch, left:left + cw])
        if p["pad"] is not None:
            ptop, pleft = p["pad"]
            pads = ((ptop, h - ch - ptop), (pleft, w - cw - pleft)) + ((0, 0),) * (crop.ndim - 2)
            crop = np.pad(crop, pads, mode="reflect" if min(crop.shape[:2]) > 1 else "edge")
        image = crop
    return np.ascontiguousarray(image)


def augment_image(image, rng, *, flip=True, crop_scale=0.9, jpeg_probability=0.5, jpeg_quality=(70, 95),
                  keep_size=False, color_jitter=0.0, rotation=0.0):
    """The default training augmentation of :class:`~forensics.deep.BackboneClassifier`.

    In order: colour jitter and a small rotation (both off by default), a JPEG re-save (with
    probability ``jpeg_probability``, quality uniform in ``jpeg_quality``) of the whole picture,
    as a re-shared file would be; a horizontal flip with probability 1/2; a grid crop of at
    least ``crop_scale`` of each side. See the module notes for why colour jitter, rotation
    and blur are not in the default policy (they alter the traces the detector should learn).

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
    color_jitter : float in [0, 1), default=0.0
        Brightness, contrast and saturation each change by a factor ``1 + u`` with ``u``
        uniform in ``[-color_jitter, color_jitter]`` (:func:`color_jitter`). 0: off.
    rotation : float in [0, 45], default=0.0
        Rotation by an angle uniform in ``[-rotation, rotation]`` degrees (:func:`rotate`). 0: off.

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
    p = _draw(rng, np.shape(image), flip=flip, crop_scale=crop_scale, jpeg_probability=jpeg_probability,
              jpeg_quality=jpeg_quality, keep_size=keep_size, color_jitter=color_jitter, rotation=rotation)
    return _apply(image, p)


def augment_clip(frames, rng, **policy):
    """Augment the frames of one clip with the *same* random choices (one draw per clip).

    A different flip, crop or jitter per frame would add frame-to-frame changes that are not in
    the video, i.e. fake motion; so :class:`~forensics.deep.VideoClassifier` draws once per clip.

    Parameters
    ----------
    frames : sequence of ndarray (H, W, 3), or ndarray (T, H, W, 3)
        All of one size.
    rng : numpy.random.Generator
    **policy
        The keyword arguments of :func:`augment_image`.

    Returns
    -------
    ndarray of shape (T, H', W', 3)

    Examples
    --------
    >>> import numpy as np
    >>> clip = np.random.default_rng(0).integers(0, 256, (4, 20, 20, 3), dtype=np.uint8)
    >>> out = augment_clip(clip, np.random.default_rng(3), jpeg_probability=0, keep_size=True)
    >>> out.shape
    (4, 20, 20, 3)
    """
    frames = [np.asarray(f) for f in frames]
    p = _draw(rng, frames[0].shape, **{**dict(flip=True, crop_scale=0.9, jpeg_probability=0.5,
                                              jpeg_quality=(70, 95), keep_size=False, color_jitter=0.0,
                                              rotation=0.0), **policy})
    return np.stack([_apply(f, p) for f in frames])
