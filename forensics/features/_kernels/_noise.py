"""Noise-residual kernels: fused single passes that filter and accumulate residual moments per grid cell.

Every kernel fills ``cells[q, c, :] = [n, S1, S2, S3, S4]`` with ``Sk = sum((r - k_q) ** k)`` over
the residual samples ``r`` of row ``q`` falling in grid cell ``c``, and ``cross`` with the sums of
products ``sum((r_a - k_a) (r_b - k_b))`` for the channel pairs (r, g), (r, b), (g, b). The
per-row shift ``k_q`` is the residual of the first valid pixel: moments are shift-invariant, and
the shift makes a constant residual (e.g. a first-order difference on a linear ramp) give exactly
zero variance instead of a cancellation error. A pixel at image position (i, j) belongs to cell
``(i * grid // H) * grid + (j * grid // W)``. All sums are float64.
"""

import numpy as np

from ._config import kernel


@kernel
def _accumulate_row(buf, rows, shift, ci, grid, w, jlo, jhi, cells, cross):
    """Add the residual row ``buf[k, jlo:jhi]`` (image columns) to ``cells[rows[k], ci + cell(j)]``.

    Sums run over each cell's column segment in local scalars (one memory update per segment);
    ``x = buf[k, j] - shift[k]``. ``cross`` receives the products of buffer rows 0, 1, 2.
    """
    for cj in range(grid):
        j0 = max((cj * w + grid - 1) // grid, jlo)  # first column j with j * grid // w == cj
        j1 = min(((cj + 1) * w + grid - 1) // grid, jhi)
        if j1 <= j0:
            continue
        c = ci + cj
        for k in range(buf.shape[0]):
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            s4 = 0.0
            sh = shift[k]
            for j in range(j0, j1):
                x = buf[k, j] - sh
                x2 = x * x
                s1 += x
                s2 += x2
                s3 += x2 * x
                s4 += x2 * x2
            q = rows[k]
            cells[q, c, 0] += j1 - j0
            cells[q, c, 1] += s1
            cells[q, c, 2] += s2
            cells[q, c, 3] += s3
            cells[q, c, 4] += s4
        p01 = 0.0
        p02 = 0.0
        p12 = 0.0
        for j in range(j0, j1):
            a = buf[0, j] - shift[0]
            b = buf[1, j] - shift[1]
            d = buf[2, j] - shift[2]
            p01 += a * b
            p02 += a * d
            p12 += b * d
        cross[0] += p01
        cross[1] += p02
        cross[2] += p12


@kernel
def _med3(a, b, c):
    return max(min(a, b), min(max(a, b), c))


@kernel
def _median3x3_residual(img, q, i, j):
    """x[i, j] - median of the 3x3 neighbourhood of (i, j) in plane q of a (H, W, P) array."""
    # Sort each column, then med9 = med3(max of the minima, med3 of the medians, min of the maxima).
    lo0, mi0, hi0 = _sort3(img[i - 1, j - 1, q], img[i, j - 1, q], img[i + 1, j - 1, q])
    lo1, mi1, hi1 = _sort3(img[i - 1, j, q], img[i, j, q], img[i + 1, j, q])
    lo2, mi2, hi2 = _sort3(img[i - 1, j + 1, q], img[i, j + 1, q], img[i + 1, j + 1, q])
    med = _med3(max(lo0, max(lo1, lo2)), _med3(mi0, mi1, mi2), min(hi0, min(hi1, hi2)))
    return np.float64(img[i, j, q]) - np.float64(med)


@kernel
def _sort3(a, b, c):
    lo = min(a, b)
    hi = max(a, b)
    return min(lo, c), max(lo, min(hi, c)), max(hi, c)


@kernel
def median_moments(rgb, luma, grid, cells, cross):
    """Moments of the 3x3 median residual ``x - median3x3(x)`` of the r, g, b and luma planes.

    Parameters
    ----------
    rgb : float32 (H, W, 3), C-contiguous
    luma : float32 (H, W), C-contiguous
    grid : int
    cells : float64 (4, grid * grid, 5), output; rows r, g, b, luma.
    cross : float64 (3,), output; (r, g), (r, b), (g, b) products.

    Only interior pixels (1 <= i < H - 1, 1 <= j < W - 1) are used: no border padding.
    The median of nine uses the column-sort network: with each column of the window sorted into
    (lo, mid, hi), ``median = med3(max(lo), med3(mid), min(hi))`` (Paeth 1990), and the sorted
    columns are shared by the three windows that contain them.
    """
    h, w = luma.shape
    cells[:, :, :] = 0.0
    cross[:] = 0.0
    if h < 3 or w < 3:
        return
    y3 = luma.reshape((h, w, 1))
    shift = np.empty(4)
    for q in range(3):
        shift[q] = _median3x3_residual(rgb, q, 1, 1)
    shift[3] = _median3x3_residual(y3, 0, 1, 1)
    rows = np.arange(4)
    srt = np.empty((4, 3, w), dtype=np.float32)  # sorted column triples (lo, mid, hi) per plane
    buf = np.zeros((4, w))  # residual row, planes r, g, b, y
    for i in range(1, h - 1):
        for j in range(w):
            for q in range(3):
                lo, mi, hi = _sort3(rgb[i - 1, j, q], rgb[i, j, q], rgb[i + 1, j, q])
                srt[q, 0, j] = lo
                srt[q, 1, j] = mi
                srt[q, 2, j] = hi
            lo, mi, hi = _sort3(luma[i - 1, j], luma[i, j], luma[i + 1, j])
            srt[3, 0, j] = lo
            srt[3, 1, j] = mi
            srt[3, 2, j] = hi
        for q in range(4):
            for j in range(1, w - 1):
                a = max(srt[q, 0, j - 1], max(srt[q, 0, j], srt[q, 0, j + 1]))
                b = _med3(srt[q, 1, j - 1], srt[q, 1, j], srt[q, 1, j + 1])
                c = min(srt[q, 2, j - 1], min(srt[q, 2, j], srt[q, 2, j + 1]))
                x = luma[i, j] if q == 3 else rgb[i, j, q]
                buf[q, j] = np.float64(x) - np.float64(_med3(a, b, c))
        _accumulate_row(buf, rows, shift, ((i * grid) // h) * grid, grid, w, 1, w - 1, cells, cross)


# -- SRM high-pass filters (Fridrich & Kodovsky 2012), normalised as in Zhou et al. (2018) -----------

@kernel
def _ring(img, q, i, j, di, dj):
    """Sum of the four pixels (i +- di, j +- dj) and (i +- dj, j -+ di): a 90-degree-symmetric ring."""
    return ((np.float64(img[i - di, j - dj, q]) + np.float64(img[i + di, j + dj, q]))
            + (np.float64(img[i - dj, j + di, q]) + np.float64(img[i + dj, j - di, q])))


@kernel
def _kv3(img, q, i, j):
    """SQUARE 3x3 'KV' residual / 4: [[-1, 2, -1], [2, -4, 2], [-1, 2, -1]] / 4."""
    edges = _ring(img, q, i, j, 1, 0)
    corners = _ring(img, q, i, j, 1, 1)
    return (2.0 * edges - corners - 4.0 * np.float64(img[i, j, q])) * 0.25


@kernel
def _kv5(img, q, i, j):
    """SQUARE 5x5 'KV' residual / 12 (the kernel written out in :func:`srm_moments`)."""
    n1 = _ring(img, q, i, j, 1, 0)  # 4-neighbours: 8
    d1 = _ring(img, q, i, j, 1, 1)  # diagonal neighbours: -6
    n2 = _ring(img, q, i, j, 2, 0)  # distance-2 axis pixels: -2
    d2 = _ring(img, q, i, j, 2, 2)  # 5x5 corners: -1
    kn = _ring(img, q, i, j, 2, 1) + _ring(img, q, i, j, 1, 2)  # knight moves: 2
    return (8.0 * n1 - 6.0 * d1 - 2.0 * n2 - d2 + 2.0 * kn - 12.0 * np.float64(img[i, j, q])) / 12.0


@kernel
def srm_moments(rgb, luma, grid, cells, cross):
    """Moments of four SRM high-pass residuals, filtered and accumulated in one pass.

    Parameters
    ----------
    rgb : float32 (H, W, 3), C-contiguous
    luma : float32 (H, W), C-contiguous
    grid : int
    cells : float64 (7, grid * grid, 5), output. Rows:
        0, 1, 2: KV3 residual of r, g, b; 3: KV3 of luma; 4: first-order luma residual,
        horizontal and vertical pooled (two samples per pixel); 5: second-order luma residual,
        both directions pooled; 6: KV5 luma residual.
    cross : float64 (3,), output; KV3 (r, g), (r, b), (g, b) products.

    Notes
    -----
    All filters are evaluated at the same pixels, those with a full 5x5 window
    (2 <= i < H - 2, 2 <= j < W - 2), so every residual is free of padding. With ``X`` the plane:

    - first order: ``X[i, j+1] - X[i, j]`` and ``X[i+1, j] - X[i, j]``;
    - second order: ``(X[i, j-1] - 2 X[i, j] + X[i, j+1]) / 2`` and its vertical twin;
    - KV3: ``[[-1, 2, -1], [2, -4, 2], [-1, 2, -1]] / 4``;
    - KV5: ``[[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2],
      [-1, 2, -2, 2, -1]] / 12``.
    """
    h, w = luma.shape
    cells[:, :, :] = 0.0
    cross[:] = 0.0
    if h < 5 or w < 5:
        return
    y3 = luma.reshape((h, w, 1))
    shift = np.empty(7)
    for q in range(3):
        shift[q] = _kv3(rgb, q, 2, 2)
    shift[3] = _kv3(y3, 0, 2, 2)
    shift[4] = np.float64(luma[2, 3]) - luma[2, 2]
    shift[5] = (np.float64(luma[2, 1]) + luma[2, 3] - 2.0 * np.float64(luma[2, 2])) * 0.5
    shift[6] = _kv5(y3, 0, 2, 2)
    # buffer rows: KV3 r, g, b, y; first order h, v; second order h, v; KV5 -> cell rows
    rows = np.array([0, 1, 2, 3, 4, 4, 5, 5, 6])
    bshift = np.empty(9)
    for k in range(9):
        bshift[k] = shift[rows[k]]
    buf = np.zeros((9, w))
    for i in range(2, h - 2):
        for j in range(2, w - 2):
            buf[0, j] = _kv3(rgb, 0, i, j)
            buf[1, j] = _kv3(rgb, 1, i, j)
            buf[2, j] = _kv3(rgb, 2, i, j)
            buf[3, j] = _kv3(y3, 0, i, j)
            y = np.float64(luma[i, j])
            yl = np.float64(luma[i, j - 1])
            yr = np.float64(luma[i, j + 1])
            yu = np.float64(luma[i - 1, j])
            yd = np.float64(luma[i + 1, j])
            buf[4, j] = yr - y
            buf[5, j] = yd - y
            buf[6, j] = (yl + yr - 2.0 * y) * 0.5
            buf[7, j] = (yu + yd - 2.0 * y) * 0.5
            buf[8, j] = _kv5(y3, 0, i, j)
        _accumulate_row(buf, rows, bshift, ((i * grid) // h) * grid, grid, w, 2, w - 2, cells, cross)


@kernel
def residual_moments(res, grid, cells, cross):
    """Moments of materialised residual planes ``res`` (P, H, W), float64, every pixel used.

    ``cells`` is float64 (P, grid * grid, 5); ``cross`` (3,) takes the products of planes
    (0, 1), (0, 2), (1, 2) (P >= 3).
    """
    n_planes, h, w = res.shape
    cells[:, :, :] = 0.0
    cross[:] = 0.0
    shift = np.empty(n_planes)
    for q in range(n_planes):
        shift[q] = res[q, 0, 0]
    rows = np.arange(n_planes)
    for i in range(h):
        _accumulate_row(res[:, i, :], rows, shift, ((i * grid) // h) * grid, grid, w, 0, w, cells, cross)
