"""Plainly-correct NumPy / SciPy references of the noise kernels (never imported by the package).

Each reference materialises the residual images with ``scipy.ndimage`` and computes two-pass
central moments with NumPy, and returns the same comparable vector as the kernel side:

    [m2, skew, kurt of every residual row] + [corr rg, rb, gb] + [per-cell variance of every row]

(NaN for empty cells; skew/kurt NaN and m2 = 0 when m2 <= 1e-12, the documented rule). The Haar
band is NumPy slicing, the median of absolute values ``np.median(np.abs(x))`` and the wavelet
residual the textbook pywt computation ``x - waverec2(soft(wavedec2(x)))`` in float64.
"""

import numpy as np
import pywt
from scipy import ndimage

from forensics.features._kernels._noise import haar_abs_hh
from forensics.features._noise import (
    MAD_TO_SIGMA, TINY_VAR, _correlations, _moments, median_abs, median_stats, residual_moments, srm_stats,
    wavelet_residual,
)

GRID = 4

KV3 = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], dtype=np.float64) / 4.0
KV5 = np.array([[-1, 2, -2, 2, -1],
                [2, -6, 8, -6, 2],
                [-2, 8, -12, 8, -2],
                [2, -6, 8, -6, 2],
                [-1, 2, -2, 2, -1]], dtype=np.float64) / 12.0
O1_H = np.array([[0, 0, 0], [0, -1, 1], [0, 0, 0]], dtype=np.float64)  # X[i, j+1] - X[i, j]
O2_H = np.array([[0, 0, 0], [1, -2, 1], [0, 0, 0]], dtype=np.float64) / 2.0


def rgb_of(luma):
    """A deterministic colour image built from a luma plane (channels not equal)."""
    luma = np.asarray(luma, dtype=np.float32)
    return np.ascontiguousarray(np.stack([luma, np.roll(luma, 1, 0), np.roll(luma, 1, 1)], -1))


def planes_of(luma):
    """(4, H, W) float32 planes as the kernels read them: the channels of :func:`rgb_of`, then the luma."""
    luma = np.asarray(luma, dtype=np.float32)
    return np.ascontiguousarray(np.stack([luma, np.roll(luma, 1, 0), np.roll(luma, 1, 1), luma]))


# -- statistics from materialised residuals -------------------------------------------------------

def plane_stats(x):
    """(m2, skew, kurt) of a sample by two-pass central moments; the 1e-12 rule for constants."""
    x = np.asarray(x, dtype=np.float64).ravel()
    d = x - x.mean()
    d2 = d * d
    m2 = d2.mean()
    if m2 <= TINY_VAR:
        return 0.0, np.nan, np.nan
    return m2, (d2 * d).mean() / m2 ** 1.5, (d2 * d2).mean() / m2 ** 2 - 3.0


def pearson(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    da, db = a - a.mean(), b - b.mean()
    va, vb = (da * da).mean(), (db * db).mean()
    if va <= TINY_VAR or vb <= TINY_VAR:
        return np.nan
    return (da * db).mean() / np.sqrt(va * vb)


def cell_index(h, w, rows, cols, grid=GRID):
    """Cell of each pixel (rows x cols index arrays into an H x W image)."""
    return ((rows[:, None] * grid) // h) * grid + (cols[None, :] * grid) // w


def cell_variances(x, idx, grid=GRID):
    """Population variance of ``x`` per cell (two-pass with np.bincount); NaN for empty cells."""
    x = np.asarray(x, dtype=np.float64).ravel()
    idx = idx.ravel()
    n = np.bincount(idx, minlength=grid * grid).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(idx, weights=x, minlength=grid * grid) / n
        d = x - mean[idx]
        var = np.bincount(idx, weights=d * d, minlength=grid * grid) / n
    return np.where(var <= TINY_VAR, 0.0, var)


def stats_vector(rows, corr, cell_vars):
    """The comparable vector from per-row samples, correlations and per-cell variances."""
    moments = np.array([plane_stats(r) for r in rows]).T.ravel()  # all m2, then skew, then kurt
    return np.concatenate([moments, corr, np.concatenate(cell_vars)])


def kernel_vector(cells, cross):
    """The comparable vector from kernel sums (uses the package's moment formulas)."""
    m2, skew, kurt = _moments(cells.sum(axis=1))
    cell_m2 = _moments(cells)[0]
    return np.concatenate([m2, skew, kurt, _correlations(cells[:3].sum(axis=1), cross), cell_m2.ravel()])


# -- median residual ------------------------------------------------------------------------------

def median_residuals(rgb, luma):
    """Interior residuals ``x - median3x3(x)`` of r, g, b, y: list of (H-2, W-2) float64 arrays."""
    planes = [rgb[:, :, c] for c in range(3)] + [luma]
    return [(p.astype(np.float64) - ndimage.median_filter(p, size=3))[1:-1, 1:-1] for p in planes]


def median_reference(luma, grid=GRID):
    rgb = rgb_of(luma)
    h, w = luma.shape
    res = median_residuals(rgb, luma)
    idx = cell_index(h, w, np.arange(1, h - 1), np.arange(1, w - 1), grid)
    corr = [pearson(res[a], res[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    return stats_vector(res, corr, [cell_variances(r, idx, grid) for r in res])


def median_kernel(luma, grid=GRID):
    cells, cross = median_stats(planes_of(luma), grid)
    return kernel_vector(cells, cross)


# -- SRM residuals ----------------------------------------------------------------------------------

def srm_residuals(rgb, luma):
    """The seven SRM residual rows of ``srm_moments`` over pixels with a full 5x5 window.

    Rows: KV3 of r, g, b, y; first order of y (horizontal and vertical concatenated); second
    order of y (both directions); KV5 of y.
    """
    def filt(plane, k):
        return ndimage.correlate(plane.astype(np.float64), k, mode="nearest")[2:-2, 2:-2]

    y = luma
    kv3 = [filt(rgb[:, :, c], KV3) for c in range(3)] + [filt(y, KV3)]
    o1 = np.concatenate([filt(y, O1_H).ravel(), filt(y, O1_H.T).ravel()])
    o2 = np.concatenate([filt(y, O2_H).ravel(), filt(y, O2_H.T).ravel()])
    return kv3 + [o1, o2, filt(y, KV5)]


def srm_reference(luma, grid=GRID):
    rgb = rgb_of(luma)
    h, w = luma.shape
    res = srm_residuals(rgb, luma)
    idx = cell_index(h, w, np.arange(2, h - 2), np.arange(2, w - 2), grid)
    idx2 = np.concatenate([idx.ravel(), idx.ravel()])
    corr = [pearson(res[a], res[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    cell_vars = [cell_variances(r, idx2 if r.ndim == 1 else idx, grid) for r in res]
    return stats_vector(res, corr, cell_vars)


def srm_kernel(luma, grid=GRID):
    cells, cross = srm_stats(planes_of(luma), grid)
    return kernel_vector(cells, cross)


# -- moments of a materialised residual plane ------------------------------------------------------

def residual_reference(luma, grid=GRID):
    x = np.asarray(luma, dtype=np.float64)
    h, w = x.shape
    idx = cell_index(h, w, np.arange(h), np.arange(w), grid)
    return np.concatenate([plane_stats(x), cell_variances(x, idx, grid)])


def residual_kernel(luma, grid=GRID):
    cells = np.empty((grid * grid, 5))
    residual_moments(np.asarray(luma, dtype=np.float32), grid, cells)
    return np.concatenate([np.array(_moments(cells.sum(axis=0))), _moments(cells)[0]])


# -- wavelet soft-threshold residual -----------------------------------------------------------------

def wavelet_choice(shape):
    """(wavelet, level) for a test plane: db4 at level 2 (the default) when the plane allows it,
    else the longest of db2 / haar that fits at least one level; None for a 1-pixel side."""
    for name in ("db4", "db2", "haar"):
        level = min(2, pywt.dwt_max_level(min(shape), pywt.Wavelet(name).dec_len))
        if level >= 1:
            return name, level
    return None


def wavelet_reference(luma, wavelet=None, level=None):
    """[residual.ravel(), sigma] by the definition, with pywt in float64:
    ``x - waverec2(soft(wavedec2(x), t))`` over the symmetric extension, ``t = sigma sqrt(2 ln HW)``,
    ``sigma = median|HH1 interior| / 0.6745``."""
    x = np.asarray(luma, dtype=np.float64)
    h, w = x.shape
    if wavelet is None:
        choice = wavelet_choice(x.shape)
        if choice is None:
            return np.empty(0)
        wavelet, level = choice
    f = pywt.Wavelet(wavelet).dec_len
    coeffs = pywt.wavedec2(x, wavelet, mode="symmetric", level=level)
    s = f // 2 - 1
    hh1 = coeffs[-1][2][s:s + (h - f) // 2 + 1, s:s + (w - f) // 2 + 1]
    sigma = np.median(np.abs(hh1)) / MAD_TO_SIGMA
    t = sigma * np.sqrt(2.0 * np.log(h * w))
    shrunk = [coeffs[0]] + [tuple(pywt.threshold(d, t, mode="soft") for d in det) for det in coeffs[1:]]
    residual = x - pywt.waverec2(shrunk, wavelet, mode="symmetric")[:h, :w]
    return np.concatenate([residual.ravel(), [sigma]])


def wavelet_kernel(luma, wavelet=None, level=None):
    x = np.asarray(luma, dtype=np.float32)
    if wavelet is None:
        choice = wavelet_choice(x.shape)
        if choice is None:
            return np.empty(0)
        wavelet, level = choice
    out = np.empty(x.shape)
    sigma = wavelet_residual(x, wavelet, level, MAD_TO_SIGMA, out)
    return np.concatenate([out.ravel(), [sigma]])


# -- Haar diagonal band and the median of absolute values --------------------------------------------

def haar_reference(luma):
    """|HH|, HH = (a - b - c + d) / 2 over the 2x2 blocks of the even-cropped plane, by slicing."""
    x = np.asarray(luma, dtype=np.float64)
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    x = x[:h, :w]
    return np.abs(x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2.0


def haar_kernel(luma):
    luma = np.ascontiguousarray(luma, dtype=np.float32)
    hh = np.empty((luma.shape[0] // 2, luma.shape[1] // 2))
    haar_abs_hh(luma, hh)
    return hh


def median_abs_reference(luma):
    return np.array([np.median(np.abs(np.asarray(luma, dtype=np.float64)))])


def median_abs_kernel(luma):
    return np.array([median_abs(np.asarray(luma))])


KERNEL_CASES = [
    ("median_moments", median_kernel, median_reference),
    ("srm_moments", srm_kernel, srm_reference),
    ("residual_moments", residual_kernel, residual_reference),
    ("wavelet_residual", wavelet_kernel, wavelet_reference),
    ("haar_abs_hh", haar_kernel, haar_reference),
    ("median_abs", median_abs_kernel, median_abs_reference),
]
