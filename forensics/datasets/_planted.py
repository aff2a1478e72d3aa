"""A generated image task whose only evidence is a small planted artefact at a known place."""

from __future__ import annotations

import numbers

import cv2
import numpy as np

__all__ = ["make_planted_artifact_images"]


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _background(rng, size):
    """A smooth colour texture: three octaves of blurred noise plus a random colour ramp, 0..255."""
    img = np.zeros((size, size, 3), np.float32)
    for sigma, weight in ((size / 6, 60.0), (size / 16, 25.0), (1.5, 6.0)):
        noise = rng.normal(size=(size, size, 3)).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
        noise /= max(float(noise.std()), 1e-6)
        img += weight * noise
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ramp = rng.uniform(-40, 40, size=(2, 3)).astype(np.float32)
    img += xx[..., None] * ramp[0] + yy[..., None] * ramp[1]
    img += rng.uniform(70, 185, size=3).astype(np.float32)
    return img


def make_planted_artifact_images(n_per_class=64, *, size=64, patch=16, amplitude=10.0, noise=4.0, seed=0):
    """Real and fake images that differ only by a small periodic artefact planted at a random place.

    Every image is a smooth random colour texture (blurred noise at three scales and a colour
    ramp) with white Gaussian noise of standard deviation ``noise`` everywhere. A fake also
    carries, in one ``patch`` x ``patch`` square at a uniformly random position, a
    checkerboard of +/- ``amplitude`` grey levels (period 2 pixels, the pattern transposed
    convolutions leave when they upsample [1]_). The square is the only evidence, and its place
    is known, so an explanation method can be checked: its heat map should fall inside the
    returned mask.

    Parameters
    ----------
    n_per_class : int >= 1, default=64
        Number of real and of fake images.
    size : int >= 8, default=64
        Side of the square images, in pixels.
    patch : int in [2, size], default=16
        Side of the planted square.
    amplitude : float > 0, default=10.0
        Half the peak-to-peak height of the checkerboard, in 8-bit grey levels.
    noise : float >= 0, default=4.0
        Standard deviation of the white noise on every image (so that high frequencies alone
        do not tell the classes apart).
    seed : int, default=0
        Seed of the :class:`numpy.random.Generator` drawing everything.

    Returns
    -------
    images : ndarray of uint8, shape (2 * n_per_class, size, size, 3)
        Reals first, then fakes; RGB.
    labels : ndarray of int, shape (2 * n_per_class,)
        0 for real, 1 for fake.
    masks : ndarray of bool, shape (2 * n_per_class, size, size)
        True inside the planted square (all False for reals).

    References
    ----------
    .. [1] A. Odena, V. Dumoulin and C. Olah, "Deconvolution and Checkerboard Artifacts",
       Distill (2016), doi:10.23915/distill.00003.

    Examples
    --------
    >>> from forensics.datasets import make_planted_artifact_images
    >>> X, y, masks = make_planted_artifact_images(4, size=32, patch=8)
    >>> X.shape, y.tolist(), int(masks[4].sum()), int(masks[0].sum())
    ((8, 32, 32, 3), [0, 0, 0, 0, 1, 1, 1, 1], 64, 0)
    """
    n = _check_int("n_per_class", n_per_class, 1)
    size = _check_int("size", size, 8)
    patch = _check_int("patch", patch, 2)
    if patch > size:
        raise ValueError(f"patch must be at most size ({size}), got {patch}")
    if not (isinstance(amplitude, numbers.Real) and amplitude > 0):
        raise ValueError(f"amplitude must be a number > 0, got {amplitude!r}")
    if not (isinstance(noise, numbers.Real) and noise >= 0):
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    images = np.empty((2 * n, size, size, 3), np.uint8)
    masks = np.zeros((2 * n, size, size), bool)
    checker = np.where((np.add.outer(np.arange(patch), np.arange(patch)) % 2) == 0, 1.0, -1.0).astype(np.float32)
    for i in range(2 * n):
        img = _background(rng, size) + rng.normal(0.0, noise, size=(size, size, 3)).astype(np.float32)
        if i >= n:
            r, c = rng.integers(0, size - patch + 1, size=2)
            img[r:r + patch, c:c + patch] += float(amplitude) * checker[..., None]
            masks[i, r:r + patch, c:c + patch] = True
        images[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    labels = np.repeat([0, 1], n)
    return images, labels, masks
