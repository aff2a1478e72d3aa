"""Occlusion sensitivity of an ONNX detector: a heat map that needs no gradient and no torch."""

from __future__ import annotations

import numbers

import cv2
import numpy as np

__all__ = ["occlusion_map"]


def occlusion_map(detector, image, *, grid=8, batch_size=8):
    """Where hiding part of an image lowers an ONNX detector's fake logit the most.

    Parameters
    ----------
    detector : OnnxDetector
    image : ndarray of uint8, shape (H, W, 3)
        The RGB image, as the detector reads it.
    grid : int >= 2, default=8
        The network input is cut into ``grid x grid`` cells; each is hidden in turn.
    batch_size : int >= 1, default=8
        Occluded copies per network run (the runtime's activation memory grows with it: about
        40 MB per image for MobileNetV2 at 224 x 224).

    Returns
    -------
    heatmap : ndarray of float32, shape (H, W)
        In [0, 1], at the image's resolution (all 0 when no cell lowers the logit).
    logit : float
        The logit of the whole image.

    Notes
    -----
    Occlusion sensitivity [1]_: with ``z`` the logit of the image and ``z_k`` the logit when
    cell ``k`` of the normalised input is set to 0 (the training mean colour), the cell's value
    is ``max(z - z_k, 0)``; the grid of values is divided by its maximum and resized to the
    image (bilinear). It costs ``grid**2`` network runs (one batch). Grad-CAM needs the
    gradients of the torch model; this map is what the app shows for ONNX files.

    References
    ----------
    .. [1] M. D. Zeiler and R. Fergus, "Visualizing and Understanding Convolutional Networks",
       ECCV 2014, doi:10.1007/978-3-319-10590-1_53.
    """
    from ._deploy import preprocess_images

    if isinstance(grid, bool) or not isinstance(grid, numbers.Integral) or grid < 2:
        raise ValueError(f"grid must be an int >= 2, got {grid!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    image = np.asarray(image)
    x = preprocess_images([image], detector.data_config_)  # (1, 3, h, w)
    _, _, h, w = x.shape
    rows = np.linspace(0, h, grid + 1).round().astype(int)
    cols = np.linspace(0, w, grid + 1).round().astype(int)
    cells = [(rows[r], rows[r + 1], cols[c], cols[c + 1]) for r in range(grid) for c in range(grid)]
    z = [detector.run(x)[0]]
    for start in range(0, len(cells), batch_size):
        part = cells[start:start + batch_size]
        batch = np.repeat(x, len(part), axis=0)
        for k, (r0, r1, c0, c1) in enumerate(part):
            batch[k, :, r0:r1, c0:c1] = 0.0
        z.extend(detector.run(batch))
    z = np.asarray(z, dtype=np.float64)
    drop = np.maximum(z[0] - z[1:], 0.0).reshape(grid, grid).astype(np.float32)
    if drop.max() > 0:
        drop /= drop.max()
    heat = cv2.resize(drop, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(heat, 0.0, 1.0).astype(np.float32), float(z[0])
