"""NumPy twins of the block-DCT kernels of :mod:`._dct`, used while those are not compiled yet.

Each twin takes the kernel's arguments, fills the kernel's output buffers in place with the kernel's
semantics (accumulating outputs are added to) and returns what the kernel returns, with NumPy only
(no numba: calling a twin never compiles). Values: integer outputs (histograms, steps) are the
kernel's; float outputs agree within 1e-12 relative, or an absolute bound where a value is zero up to
rounding (see ``tests/test_kernel_twins_dbs.py``). A coefficient that is a half-integer in exact
arithmetic (they occur on integer-valued luma) is recognised within :data:`._dct.TIE` and rounded
half to even by both, so the histograms do not depend on the last bit of either's arithmetic.
"""

import functools

import numpy as np

from ._dct import TIE


def block_dct_stats(img, basis, coefs, moments, hist, edges):
    """Twin of :func:`._dct.block_dct_stats` (8x8 DCT of the complete blocks, with statistics).

    The transform uses the kernel's even/odd butterfly with its sums in the kernel's source order,
    vectorised over the blocks, without fused multiply-adds; the histograms round exact
    half-integers as the kernel does (:data:`._dct.TIE`).
    """
    h, w = img.shape
    nby, nbx = h // 8, w // 8
    nb = nby * nbx
    top = hist.shape[1] - 1
    area = img[: nby * 8, : nbx * 8].astype(np.float64)
    b = (area - 128.0).reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3)  # (nby, nbx, row, column)
    within = (np.abs(b[..., :, 1:] - b[..., :, :-1]).sum() + np.abs(b[..., 1:, :] - b[..., :-1, :]).sum()
              if nb else 0.0)
    across = 0.0
    n_across = 0
    if nb and nbx > 1:
        across += np.abs(area[:, 8::8] - area[:, 7:-1:8]).sum()
        n_across += 8 * nby * (nbx - 1)
    if nb and nby > 1:
        across += np.abs(area[8::8, :] - area[7:-1:8, :]).sum()
        n_across += 8 * nbx * (nby - 1)
    ce = basis[0::2, :4]
    co = basis[1::2, :4]
    # rows: tmp[r, u] = sum_x C[u, x] blk[r, x], with x and 7 - x folded (s: even u, d: odd u)
    s = b[..., :4] + b[..., :3:-1]
    d = b[..., :4] - b[..., :3:-1]
    tmp = np.empty(b.shape)
    tmp[..., 0::2] = _rows(s, ce)
    tmp[..., 1::2] = _rows(d, co)
    # columns: res[u, v] = sum_r C[u, r] tmp[r, v]
    s = tmp[..., :4, :] + tmp[..., :3:-1, :]
    d = tmp[..., :4, :] - tmp[..., :3:-1, :]
    res = np.empty(b.shape)
    res[..., 0::2, :] = _columns(s, ce)
    res[..., 1::2, :] = _columns(d, co)
    c = res.reshape(nb, 64)
    if coefs.shape[0] > 0:
        coefs[:nb] = c
    c2 = c * c
    moments[:, 0] += c.sum(axis=0)
    moments[:, 1] += c2.sum(axis=0)
    moments[:, 2] += (c2 * c).sum(axis=0)
    moments[:, 3] += (c2 * c2).sum(axis=0)
    a = np.abs(c)
    f = np.floor(a)
    a = np.where(np.abs(a - f - 0.5) <= TIE, f + f % 2.0, np.rint(a))  # the kernel's rounding of ties (TIE)
    a = np.minimum(a, top).astype(np.int64)
    a += np.arange(64) * hist.shape[1]
    hist += np.bincount(a.ravel(), minlength=hist.size).reshape(hist.shape)
    edges[0] = within
    edges[1] = 112.0 * nby * nbx
    edges[2] = across
    edges[3] = n_across


def _rows(x, half):
    """``out[..., r, i] = ((half[i, 0] x[..., r, 0] + half[i, 1] x[..., r, 1]) + ...) + half[i, 3] x[..., r, 3]``
    (the kernel's order of the sums)."""
    return (x[..., :, None, 0] * half[:, 0] + x[..., :, None, 1] * half[:, 1]
            + x[..., :, None, 2] * half[:, 2] + x[..., :, None, 3] * half[:, 3])


def _columns(x, half):
    """``out[..., i, v] = ((half[i, 0] x[..., 0, v] + half[i, 1] x[..., 1, v]) + ...) + half[i, 3] x[..., 3, v]``."""
    return (x[..., None, 0, :] * half[:, 0, None] + x[..., None, 1, :] * half[:, 1, None]
            + x[..., None, 2, :] * half[:, 2, None] + x[..., None, 3, :] * half[:, 3, None])


@functools.lru_cache(maxsize=8)
def _lattice_index(n_bins, n_q):
    """The lattice bins ``n = m q`` (``m >= 1``, ``n + 1 < n_bins``) of every ``2 <= q < n_q`` in one
    array, the start of each ``q``'s run in it, and the ``q`` whose run is not empty."""
    runs = [np.arange(q, n_bins - 1, q) for q in range(2, n_q)]
    full = np.array([len(r) > 0 for r in runs], bool)
    on = np.concatenate([r for r in runs if len(r)] + [np.zeros(0, np.intp)])
    starts = np.cumsum([0] + [len(r) for r in runs if len(r)])[:-1]
    return on, starts, np.arange(2, n_q)[full]


def lattice_scores(hist, out):
    """Twin of :func:`._dct.lattice_scores` (on-lattice and expected-off-lattice counts).

    The kernel stops each sum after the row's last non-empty bin; the terms it skips are zero, so
    the full sums are the same integers.
    """
    n_rows, n_bins = hist.shape
    on, starts, qs = _lattice_index(n_bins, out.shape[1])
    if not len(on) or not n_rows:
        return
    bins = np.ascontiguousarray(hist.T)  # (n_bins, n_rows): one gather copies whole rows
    side = bins[:-2] + bins[2:]  # side[n - 1] = hist[:, n - 1] + hist[:, n + 1]
    out[:, qs, 0] = np.add.reduceat(bins[on], starts, axis=0).T
    out[:, qs, 1] = 0.5 * np.add.reduceat(side[on - 1], starts, axis=0).T


def lattice_steps(hist, n_q, min_informative, min_score, z, rho, steps):
    """Twin of :func:`._dct.lattice_steps` (the quantization step of each histogram row)."""
    n_rows, n_bins = hist.shape
    scores = np.zeros((n_rows, max(n_q, 0), 2))
    lattice_scores(hist, scores)
    inf = hist[:, 2:]
    n_inf = inf.sum(axis=1)
    peak = inf.max(axis=1, initial=0)
    x = (scores[:, 2:, 0] - scores[:, 2:, 1]) / np.maximum(n_inf.astype(np.float64), 1.0)[:, None]
    best = x.max(axis=1, initial=-np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):  # n_inf = 0: the row is NaN anyway
        floor = np.maximum(min_score, z / np.sqrt(n_inf.astype(np.float64)))
    hit = x >= rho * best[:, None]
    # the largest q with X(q) >= rho max X (2 when none)
    last = x.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1) if x.shape[1] else np.zeros(n_rows, np.intp)
    last = np.where(hit.any(axis=1), last, 0) + 2
    out = np.where(best < floor, 1.0, last.astype(np.float64))
    out[(n_inf < min_informative) | (peak == n_inf)] = np.nan
    steps[:n_rows] = out


TWINS = {
    "block_dct_stats": block_dct_stats,
    "lattice_steps": lattice_steps,
}
