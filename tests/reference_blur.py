"""Plain NumPy references for the blur kernels (tests and benchmarks only; the package never imports this)."""

import numpy as np

import pywt

from forensics.features._blur import sharpness_sums
from forensics.features._kernels._blur import haar_detail_energies


def sharpness_cells_ref(img, grid):
    """[count, sum L, sum L^2, sum(Gx^2+Gy^2), sum(Dx^2+Dy^2)] per grid cell, with array slicing."""
    y = np.asarray(img, dtype=np.float64)
    h, w = y.shape
    out = np.zeros((grid * grid, 5))
    if h < 3 or w < 3:
        return out
    c = y[1:-1, 1:-1]
    up, down, left, right = y[:-2, 1:-1], y[2:, 1:-1], y[1:-1, :-2], y[1:-1, 2:]
    lap = up + down + left + right - 4 * c
    gx = (y[:-2, 2:] + 2 * y[1:-1, 2:] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[1:-1, :-2] + y[2:, :-2])
    gy = (y[2:, :-2] + 2 * y[2:, 1:-1] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[:-2, 1:-1] + y[:-2, 2:])
    bren = (right - left) ** 2 + (down - up) ** 2
    ii, jj = np.meshgrid(np.arange(1, h - 1), np.arange(1, w - 1), indexing="ij")
    cell = (ii * grid // h) * grid + (jj * grid // w)
    for k, v in enumerate([np.ones_like(lap), lap, lap ** 2, gx ** 2 + gy ** 2, bren]):
        out[:, k] = np.bincount(cell.ravel(), weights=v.ravel(), minlength=grid * grid)
    return out


def edge_widths_ref(img, threshold):
    """Edge widths by the definition in the kernel docstring, with a Sobel from NumPy slicing."""
    y = np.asarray(img, dtype=np.float64)
    h, w = y.shape
    if h < 3 or w < 3:
        return np.empty(0)
    gx = np.zeros((h, w))
    gx[1:-1, 1:-1] = (y[:-2, 2:] + 2 * y[1:-1, 2:] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[1:-1, :-2] + y[2:, :-2])
    mag = np.abs(gx)
    left_mag = np.zeros_like(mag)
    left_mag[:, 2:] = mag[:, 1:-1]
    right_mag = np.zeros_like(mag)
    right_mag[:, 1:-2] = mag[:, 2:-1]
    is_edge = (mag >= 4 * threshold) & (mag > left_mag) & (mag >= right_mag)
    is_edge[[0, -1], :] = False
    is_edge[:, [0, -1]] = False
    widths = []
    for i, j in zip(*np.nonzero(is_edge)):
        s = 1.0 if gx[i, j] > 0 else -1.0
        row = y[i]
        left = j
        while left > 0 and s * (row[left - 1] - row[left]) < 0:
            left -= 1
        right = j
        while right < w - 1 and s * (row[right + 1] - row[right]) > 0:
            right += 1
        widths.append(right - left)
    return np.asarray(widths, dtype=float)


def haar_detail_energies_ref(img, levels):
    """Detail energies level 1..levels from PyWavelets on the crop whose sides are multiples of 2^levels."""
    step = 2 ** levels
    h, w = (img.shape[0] // step) * step, (img.shape[1] // step) * step
    coeffs = pywt.wavedec2(np.asarray(img, np.float64)[:h, :w], "haar", level=levels)
    return np.array([sum(float((b ** 2).sum()) for b in lvl) for lvl in coeffs[1:]][::-1])


def blur_row_ref(img, grid, threshold):
    """The 8 :class:`BlurFeatures` columns by their formulas, in float64 from the float32 luma:
    per-cell Laplacian variances with ``np.var``, edge widths from :func:`edge_widths_ref` and the
    Haar energies from PyWavelets."""
    y = np.asarray(img, dtype=np.float32).astype(np.float64)
    h, w = y.shape
    out = np.full(8, np.nan)
    if h >= 3 and w >= 3:
        c = y[1:-1, 1:-1]
        up, down, left, right = y[:-2, 1:-1], y[2:, 1:-1], y[1:-1, :-2], y[1:-1, 2:]
        lap = up + down + left + right - 4 * c
        gx = (y[:-2, 2:] + 2 * y[1:-1, 2:] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[1:-1, :-2] + y[2:, :-2])
        gy = (y[2:, :-2] + 2 * y[2:, 1:-1] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[:-2, 1:-1] + y[:-2, 2:])
        out[0] = np.log1p(np.var(lap))
        out[1] = np.log1p(np.mean(gx ** 2 + gy ** 2))
        out[2] = np.log1p(np.mean((right - left) ** 2 + (down - up) ** 2))
        widths = edge_widths_ref(y, threshold)
        out[4] = widths.mean() if widths.size else np.nan
        out[5] = widths.size / lap.size
        ii, jj = np.meshgrid(np.arange(1, h - 1), np.arange(1, w - 1), indexing="ij")
        cell = (ii * grid // h) * grid + (jj * grid // w)
        v = np.array([np.var(lap[cell == k]) for k in range(grid * grid) if (cell == k).any()])
        out[6] = v.std() / v.mean() if v.mean() > 0 else np.nan
        out[7] = np.log1p(v.max()) - np.log1p(v.min())
    if h >= 8 and w >= 8:
        e = haar_detail_energies_ref(y, 3)
        out[3] = e[0] / e.sum() if e.sum() > 0 else np.nan
    return out


def _kernel_haar(luma):
    out = np.zeros(3)
    haar_detail_energies(np.ascontiguousarray(luma, dtype=np.float32), 3, out)
    return out


def _kernel_sharpness(luma):
    cells, widths = sharpness_sums(luma, 4, 20.0)
    return np.concatenate([cells.ravel(), widths])


def _reference_sharpness(luma):
    return np.concatenate([sharpness_cells_ref(luma, 4).ravel(), edge_widths_ref(luma, 20.0)])


#: (name, kernel(luma), reference(luma)) for tests and benchmarks/bench_features.py.
KERNEL_CASES = [
    ("blur.sharpness_edges", _kernel_sharpness, _reference_sharpness),
    ("blur.haar_detail_energies", _kernel_haar, lambda luma: haar_detail_energies_ref(luma, 3)),
]
