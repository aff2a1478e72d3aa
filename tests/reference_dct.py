"""Plain NumPy/SciPy references for the block-DCT kernels (the package never imports this file)."""

import functools

import numpy as np
import scipy.fft

from forensics.features._dct import (
    LATTICE_MIN_SCORE, LATTICE_RHO, LATTICE_Z, MIN_INFORMATIVE, N_BINS, Q_MAX, dct_basis,
)
from forensics.features._kernels._dct import block_dct_stats, lattice_scores, lattice_steps


def reference_block_dct(luma):
    """(n_blocks, 64) orthonormal DCT-II of the complete 8x8 blocks of ``luma - 128``, natural order."""
    y = np.asarray(luma, dtype=np.float64)
    nby, nbx = y.shape[0] // 8, y.shape[1] // 8
    blocks = (y[:nby * 8, :nbx * 8] - 128.0).reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3)
    return scipy.fft.dctn(blocks, axes=(2, 3), norm="ortho").reshape(nby * nbx, 64)


def reference_block_stats(luma):
    """(coefs, moments, hist, edges) as :func:`block_dct_stats` defines them."""
    y = np.asarray(luma, dtype=np.float64)
    coefs = reference_block_dct(y)
    c2 = coefs * coefs
    moments = np.stack([coefs.sum(axis=0), c2.sum(axis=0), (c2 * coefs).sum(axis=0), (c2 * c2).sum(axis=0)], axis=1)
    idx = np.minimum(np.abs(np.rint(coefs)), N_BINS - 1).astype(np.int64)
    hist = np.bincount((idx + N_BINS * np.arange(64)).ravel(), minlength=64 * N_BINS).reshape(64, N_BINS)
    nby, nbx = y.shape[0] // 8, y.shape[1] // 8
    a = y[:nby * 8, :nbx * 8]
    dx = np.abs(np.diff(a, axis=1))  # pair (j, j + 1)
    dy = np.abs(np.diff(a, axis=0))
    bx = (np.arange(dx.shape[1]) % 8) == 7
    by = (np.arange(dy.shape[0]) % 8) == 7
    within = dx[:, ~bx].sum() + dy[~by, :].sum()
    across = dx[:, bx].sum() + dy[by, :].sum()
    edges = np.array([within, dx[:, ~bx].size + dy[~by, :].size, across, dx[:, bx].size + dy[by, :].size])
    return coefs, moments, hist, edges


def reference_lattice_scores(hist, n_q=Q_MAX + 1):
    """out[k, q] = [sum_m h[mq], sum_m (h[mq-1] + h[mq+1]) / 2] over m >= 1 with mq + 1 < n_bins."""
    h = np.asarray(hist, dtype=np.float64)
    n_bins = h.shape[1]
    out = np.zeros((h.shape[0], n_q, 2))
    for q in range(2, n_q):
        on = h[:, q:n_bins - 1:q]  # n = q, 2q, ... with n + 1 < n_bins
        out[:, q, 0] = on.sum(axis=1)
        out[:, q, 1] = 0.5 * (h[:, q - 1:n_bins - 2:q].sum(axis=1) + h[:, q + 1::q][:, :on.shape[1]].sum(axis=1))
    return out


def reference_steps(hist):
    """The step rule of ``estimate_steps`` in NumPy, from :func:`reference_lattice_scores`."""
    hist = np.asarray(hist, dtype=np.int64)
    scores = reference_lattice_scores(hist)
    informative = hist[:, 2:]
    n_inf = informative.sum(axis=1).astype(np.float64)
    excess = (scores[:, 2:, 0] - scores[:, 2:, 1]) / np.maximum(n_inf, 1.0)[:, None]  # q = 2..Q_MAX
    best = excess.max(axis=1)
    with np.errstate(divide="ignore"):
        floor = np.maximum(LATTICE_MIN_SCORE, LATTICE_Z / np.sqrt(n_inf))
    high = excess >= LATTICE_RHO * best[:, None]
    steps = (Q_MAX - np.argmax(high[:, ::-1], axis=1)).astype(np.float64)  # coarsest q: the last True
    steps[best < floor] = 1.0
    steps[informative.max(axis=1) == n_inf] = np.nan
    steps[n_inf < MIN_INFORMATIVE] = np.nan
    return steps


def lattice_hist(seed, n_rows=64):
    """(n_rows, N_BINS) histograms of |rint(c)| of Laplacian coefficients, row k quantized by a step
    drawn in 1..40 (1: none), with 0..3 of rounding noise and a few nearly empty rows."""
    rng = np.random.default_rng(seed)
    hist = np.zeros((n_rows, N_BINS), dtype=np.int64)
    for k in range(n_rows):
        n = int(rng.choice([5, 40, 300, 2000]))
        q = int(rng.integers(1, 41))
        c = rng.laplace(0, rng.uniform(2, 80), n)
        c = np.round(c / q) * q + rng.uniform(-0.5, 0.5, n) * rng.integers(0, 4)
        idx = np.minimum(np.abs(np.rint(c)), N_BINS - 1).astype(np.int64)
        hist[k] = np.bincount(idx, minlength=N_BINS)
    return hist


# -- the callables the benchmark harness times (luma float32 (H, W) in, comparable numbers out) --

def _kernel_block_stats(luma):
    y = np.ascontiguousarray(luma, dtype=np.float32)
    n_blocks = (y.shape[0] // 8) * (y.shape[1] // 8)
    coefs = np.empty((n_blocks, 64))
    moments = np.zeros((64, 4))  # the kernel adds to zeroed outputs
    hist = np.zeros((64, N_BINS), dtype=np.int64)
    edges = np.zeros(4)
    block_dct_stats(y, dct_basis(), coefs, moments, hist, edges)
    return coefs, moments, hist, edges


def _hist_from_luma(luma):
    """A deterministic (64, N_BINS) count table made from the luma (input of the lattice kernel)."""
    return np.ascontiguousarray(np.resize(np.asarray(luma, dtype=np.float32), (64, N_BINS)).astype(np.int64))


def _kernel_lattice(luma):
    out = np.zeros((64, Q_MAX + 1, 2))
    lattice_scores(_hist_from_luma(luma), out)
    return out


def _reference_lattice(luma):
    return reference_lattice_scores(_hist_from_luma(luma))


@functools.lru_cache(maxsize=4)
def _cached_lattice_hist(seed):
    hist = lattice_hist(seed)
    hist.setflags(write=False)
    return hist


def _steps_input(luma):
    """A lattice histogram fixture chosen by the luma (built once: the timing is of the rule only)."""
    return _cached_lattice_hist(int(np.asarray(luma, dtype=np.float64).sum()) % 1000)


def _kernel_steps(luma):
    steps = np.empty(64)
    lattice_steps(_steps_input(luma), Q_MAX + 1, MIN_INFORMATIVE, LATTICE_MIN_SCORE, LATTICE_Z, LATTICE_RHO,
                  steps)
    return steps


def _reference_steps(luma):
    return reference_steps(_steps_input(luma))


KERNEL_CASES = [
    ("block_dct_stats", _kernel_block_stats, reference_block_stats),
    ("lattice_scores", _kernel_lattice, _reference_lattice),
    ("lattice_steps", _kernel_steps, _reference_steps),
]
