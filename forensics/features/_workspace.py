"""Scratch arrays reused from one image to the next (per thread).

An image-sized temporary allocated afresh for every image costs more than its arithmetic: the
allocator returns large blocks to the system, and the next allocation page-faults on every 4 KiB
page it touches (about 500 faults per 256x256 image for the noise family, ~40% of its time on a
busy machine). Families therefore take their large scratch arrays from :func:`scratch`, which
keeps one array per name and thread and hands it back while the shape and dtype stay the same,
as they do over a data set of equal-sized images.

Arrays above :data:`MAX_BYTES` are not kept (at that size the arithmetic dominates, and holding
them would pin memory). A caller must not return a scratch array or keep it past its own call.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["scratch", "MAX_BYTES"]

#: Largest array kept between calls (64 MiB: a 2048 x 2048 float64 plane is 32 MiB).
MAX_BYTES = 64 << 20

_local = threading.local()


def scratch(name, shape, dtype=np.float64):
    """An uninitialised array of ``shape`` and ``dtype``, reused across calls with the same ``name``.

    Parameters
    ----------
    name : str
        Identifies the use site; two arrays alive at the same time need two names.
    shape : tuple of int
    dtype : numpy dtype, default float64

    Returns
    -------
    ndarray, C-contiguous, contents undefined.
    """
    store = getattr(_local, "arrays", None)
    if store is None:
        store = _local.arrays = {}
    arr = store.get(name)
    if arr is not None and arr.shape == shape and arr.dtype == dtype:
        return arr  # the common case, kept cheap: this runs a few dozen times per image
    shape = tuple(int(s) for s in shape)
    arr = np.empty(shape, dtype)
    if arr.nbytes <= MAX_BYTES:
        store[name] = arr
    return arr
