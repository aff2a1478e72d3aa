"""NumPy twins of the sharpness kernels of :mod:`._blur`, used while those are not compiled yet.

Each twin takes the kernel's arguments, fills the kernel's output buffers in place with the kernel's
semantics (``out`` of :func:`sharpness_edges` is added to; ``widths`` past the edge count is left
untouched) and returns what the kernel returns, with NumPy only (no numba: calling a twin never
compiles). Values: the edge count and widths are the kernel's (every decision compares exact stencil
values); the float sums agree within 1e-12 relative (see ``tests/test_kernel_twins_dbs.py``).
"""

import numpy as np


def sharpness_edges(img, grid, bounds, threshold, out, widths):
    """Twin of :func:`._blur.sharpness_edges` (per-cell focus sums and the edge widths); returns the
    number of edges."""
    h, w = img.shape
    n = w - 2
    if h < 3 or n < 1:
        return 0
    x = img.astype(np.float64)
    up, mid, dn = x[:-2], x[1:-1], x[2:]
    a, b, c = up[:, :-2], up[:, 1:-1], up[:, 2:]
    d, e, f = mid[:, :-2], mid[:, 1:-1], mid[:, 2:]
    g, hh, k = dn[:, :-2], dn[:, 1:-1], dn[:, 2:]
    sums = np.empty((4, h - 2, n))  # L, L^2, Gx^2 + Gy^2, Dx^2 + Dy^2
    lap = np.add(b, d, out=sums[0])  # b + d + f + hh - 4 e, in the kernel's order
    lap += f
    lap += hh
    lap -= 4.0 * e
    np.multiply(lap, lap, out=sums[1])
    gx = c + 2.0 * f + k
    gx -= a + 2.0 * d + g
    gy = g + 2.0 * hh + k
    gy -= a + 2.0 * b + c
    np.multiply(gx, gx, out=sums[2])
    sums[2] += np.square(gy, out=gy)
    dx = np.subtract(f, d, out=sums[3])
    dx *= dx
    dy = hh - b
    dy *= dy
    sums[3] += dy
    # cells: rows i (1 <= i < h - 1) of cell row i * grid // h are consecutive
    cell_row = (np.arange(1, h - 1) * grid) // h
    starts = np.flatnonzero(np.r_[True, cell_row[1:] != cell_row[:-1]])
    n_rows = np.diff(np.r_[starts, h - 2])
    for cj in range(grid):
        j0 = bounds[cj] - 1
        j1 = bounds[cj + 1] - 1
        if j1 <= j0:
            continue
        part = np.add.reduceat(sums[:, :, j0:j1].sum(axis=2), starts, axis=1)  # (4, cell rows)
        cells = cell_row[starts] * grid + cj
        out[cells, 0] += n_rows * (j1 - j0)
        out[cells, 1:] += part.T
    # edges: strict local maxima of |Gx| along the row, at least 4 * threshold
    mag = np.abs(gx)
    left = np.zeros_like(mag)
    left[:, 1:] = mag[:, :-1]
    right = np.zeros_like(mag)
    right[:, :-1] = mag[:, 1:]
    edge = ~(mag < 4.0 * threshold) & (mag > left) & (mag >= right)
    at = np.flatnonzero(edge)
    n_edges = at.size
    if n_edges:
        rising = gx.ravel()[at] > 0
        rows, cols = np.divmod(at, n)
        cols += 1  # the edge's column in the image
        lo = np.empty(n_edges, np.intp)
        hi = np.empty(n_edges, np.intp)
        for sel, step in ((rising, np.less), (~rising, np.greater)):
            if sel.any():  # a rising edge walks down to the left and up to the right
                lo[sel], hi[sel] = _walks(mid, step, rows[sel], cols[sel])
        widths[:n_edges] = hi - lo
    return n_edges


def _walks(mid, step, rows, cols):
    """Where the walks from the pixels ``(rows, cols)`` of ``mid`` (h, w) stop, as (left, right) offset
    by the same amount per row (their difference is the width): to the left while
    ``step(mid[r, j - 1], mid[r, j])``, to the right while ``step(mid[r, j], mid[r, j + 1])``, within
    the row."""
    h, w = mid.shape
    moves = np.zeros((h, w + 1), bool)  # moves[r, j]: the walk crosses between columns j - 1 and j
    moves[:, 1:w] = step(mid[:, :-1], mid[:, 1:])
    flat = moves.ravel()
    # a left walk stops at column j when it cannot cross j-1 | j; right at j when not j | j+1
    stops = np.flatnonzero(~flat)  # index r * (w + 1) + j: column j of row r, or j = w (the row end)
    pos = rows * (w + 1) + cols
    left = stops[np.searchsorted(stops, pos, side="right") - 1]
    right = stops[np.searchsorted(stops, pos + 1, side="left")] - 1
    return left, right


def haar_detail_energies(img, levels, out):
    """Twin of :func:`._blur.haar_detail_energies` (Haar detail energies, level 1 to ``levels``)."""
    step = 1 << levels
    h = (img.shape[0] // step) * step
    w = (img.shape[1] // step) * step
    x = img[:h, :w].astype(np.float64)
    for lev in range(levels):
        a, b = x[0::2, 0::2], x[0::2, 1::2]
        c, d = x[1::2, 0::2], x[1::2, 1::2]
        ch = 0.5 * (a + b - c - d)
        cv = 0.5 * (a - b + c - d)
        cd = 0.5 * (a - b - c + d)
        out[lev] = (ch * ch + cv * cv + cd * cd).sum()
        x = 0.5 * (a + b + c + d)


TWINS = {
    "sharpness_edges": sharpness_edges,
    "haar_detail_energies": haar_detail_energies,
}
