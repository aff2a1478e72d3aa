"""NumPy twins of the noise moment kernels of :mod:`._noise` (``median_moments``, ``srm_moments``,
``plane_moments``), called instead of them until they are compiled (no numba here, not even a helper).

Each twin has its kernel's signature, adds to the kernel's outputs in place with its semantics
(the shifted power sums ``[n, S1, S2, S3, S4]`` per grid cell, the cross products; a cell or
``cross`` that the kernel does not touch stays untouched) and returns what it returns (``None``).
The residuals are the kernel's float64 values, operation for operation (the 3x3 median is a
selection, ``cv2.medianBlur`` on float32 gives the same value; the SRM filters use the kernel's
integer weights and order of additions); so are the shifts, the counts ``n`` (identical) and the
cells the pixels fall in. The sums are added in another order (vectorised over rows, then over
the columns of a cell), so they differ in the last bits only: for finite inputs ``n``, ``S2``,
``S4`` within 1e-12 relative, and the signed sums, which can cancel to zero up to rounding, within
1e-12 of the Cauchy-Schwarz bound of the sum of their absolute values: ``S1`` within
``1e-12 sqrt(n S2)``, ``S3`` within ``1e-12 sqrt(S2 S4)``, a cross product ``(a, b)`` within
``1e-12 sqrt(S2_a S2_b)`` (tests/test_noise_twins.py).

The work runs in chunks of rows that never straddle two rows of cells, so the float64 temporaries
stay under a few MB whatever the image size; the median twin also holds the 3x3 medians of the
planes (float32, the planes' size). Import-cheap: OpenCV is imported at the first call.
"""

import numpy as np

#: Elements of the residual rows of one chunk (buffer rows * image rows * width): 0.5 MB of float64,
#: so that a chunk and its temporaries stay in a core's L2 cache (fewer chunks are slower: the
#: memory traffic; more are slower: the per-call overhead).
_CHUNK = 1 << 16


def _groups(i0, i1, h, grid, width, n_buffers):
    """The image rows ``i0 .. i1 - 1`` by row of cells: ``(ci, blocks)`` with ``ci = ((i * grid) // h)
    * grid`` (as in the kernels) and ``blocks`` the ``(a, b)`` row ranges of that row of cells, at
    most ``_CHUNK // (n_buffers * width)`` rows each."""
    if i1 <= i0:
        return
    rows = np.arange(i0, i1)
    cell_row = (rows * grid) // h
    starts = np.flatnonzero(np.r_[True, cell_row[1:] != cell_row[:-1]])
    ends = np.r_[starts[1:], rows.size]
    step = max(1, _CHUNK // max(n_buffers * width, 1))
    for s, e in zip(starts.tolist(), ends.tolist()):
        yield int(cell_row[s]) * grid, [(i0 + a, i0 + min(a + step, e)) for a in range(s, e, step)]


class _Sums:
    """The sums a kernel adds, gathered over chunks, then added to the outputs in one step.

    ``acc[k, c] = [n, S1..S4]`` of residual row ``k`` in cell ``c``; ``touched[c]``: the kernel adds
    to cell ``c`` (a non-empty column segment of a row it processes).
    """

    def __init__(self, n_rows, n_cells, bounds, width):
        self.acc = np.zeros((n_rows, n_cells, 5))
        self.touched = np.zeros(n_cells, dtype=bool)
        self.cross = np.zeros(3)
        self.cols = np.zeros((4, n_rows, width))  # column sums of x, x^2, x^3, x^4 in one row of cells
        self.n_rows = 0
        self.segments = [(cj, int(bounds[cj]), int(bounds[cj + 1])) for cj in range(bounds.shape[0] - 1)
                         if bounds[cj + 1] > bounds[cj]]

    def add(self, x):
        """Add the column sums of the powers of ``x`` (K, m, W), float64, already shifted."""
        x2 = x * x
        cols = self.cols
        cols[0] += x.sum(axis=1)
        cols[1] += x2.sum(axis=1)
        cols[2] += np.einsum("kmw,kmw->kw", x2, x)
        cols[3] += np.einsum("kmw,kmw->kw", x2, x2)
        self.n_rows += x.shape[1]

    def flush(self, ci):
        """Move the column sums into the cells ``ci + cj`` (each row of the column segment ``cj``)."""
        for cj, j0, j1 in self.segments:  # slicing as the kernel's ``row[j0:j1]``; count j1 - j0
            cell = self.acc[:, ci + cj]
            cell[:, 0] += self.n_rows * (j1 - j0)
            cell[:, 1:] += self.cols[:, :, j0:j1].sum(axis=2).T
            self.touched[ci + cj] = True
        self.cols[:] = 0.0
        self.n_rows = 0

    def add_cross(self, x, j0, j1):
        """Add the products of the (shifted) rows 0, 1, 2 of ``x`` over the columns ``j0:j1``."""
        a, b, d = x[0, :, j0:j1], x[1, :, j0:j1], x[2, :, j0:j1]
        self.cross += np.einsum("mw,mw->", a, b), np.einsum("mw,mw->", a, d), np.einsum("mw,mw->", b, d)

    def store(self, cells, targets):
        """``cells[targets[k]] += acc[k]`` on the touched cells, in the order of ``k``."""
        for k, t in enumerate(targets):
            cells[t, self.touched] += self.acc[k, self.touched]


def median_moments(planes, grid, bounds, cells, cross):
    """Twin of :func:`._noise.median_moments` (3x3 median residual moments of every plane, interior
    pixels; cross products of planes (0, 1), (0, 2), (1, 2))."""
    import cv2

    n_planes, h, w = planes.shape
    if h < 3:
        return None  # no interior row: the kernel's row loop is empty
    sums = _Sums(n_planes, cells.shape[1], bounds, w)
    # the kernel's buffer rows: residual at columns 1 .. w - 2, zero at columns 0 and w - 1
    shift = np.zeros(n_planes)
    if w >= 3:
        # float32 3x3 median: a min/max sorting network, an exact selection; the planes stacked
        # as one (P H, W) image (rows where two planes meet are border rows, never used)
        med = cv2.medianBlur(planes.reshape(n_planes * h, w), 3).reshape(planes.shape)
        shift[:] = planes[:, 1, 1].astype(np.float64) - med[:, 1, 1].astype(np.float64)
    for ci, blocks in _groups(1, h - 1, h, grid, w, n_planes):
        for a, b in blocks:
            x = np.zeros((n_planes, b - a, w))
            if w >= 3:
                np.subtract(planes[:, a:b, 1:w - 1], med[:, a:b, 1:w - 1], out=x[:, :, 1:w - 1],
                            dtype=np.float64)
            x -= shift[:, None, None]
            sums.add(x)
            sums.add_cross(x, bounds[0], bounds[grid])
        sums.flush(ci)
    sums.store(cells, range(n_planes))
    cross += sums.cross
    return None


#: ``srm_moments`` buffer row -> cell row: KV3 r, g, b, y; first order h, v; second order h, v; KV5.
_SRM_TARGETS = (0, 1, 2, 3, 4, 4, 5, 5, 6)


def _srm_rows(planes, a, b, w):
    """The nine ``srm_moments`` buffer rows (9, b - a, w) for the image rows ``a .. b - 1``, float64,
    zero outside the columns 2 .. w - 3, each value computed as the kernel computes it."""
    x = np.zeros((9, b - a, w))
    if w < 5:
        return x
    p = planes[:, a - 2:b + 2].astype(np.float64)  # rows a - 2 .. b + 1
    m = b - a
    c = slice(2, w - 2)  # output columns
    # KV3 of r, g, b, y: vertical second difference, then (2 f[j] - (f[j-1] + f[j+1])) / 4
    f = (p[:, 1:m + 1] + p[:, 3:m + 3]) - 2.0 * p[:, 2:m + 2]
    x[0:4, :, c] = (2.0 * f[:, :, 2:w - 2] - (f[:, :, 1:w - 3] + f[:, :, 3:w - 1])) * 0.25
    y0, y1, y2, y3, y4 = (p[3, k:k + m] for k in range(5))
    y = y2[:, c]
    right = y2[:, 3:w - 1]
    x[4, :, c] = right - y
    x[5, :, c] = y3[:, c] - y
    x[6, :, c] = (y2[:, 1:w - 3] + right - 2.0 * y) * 0.5
    x[7, :, c] = (y1[:, c] + y3[:, c] - 2.0 * y) * 0.5
    # KV5 from the row sums A = y0 + y4, B = y1 + y3, C = y2 (integer weights), then / 12
    sa = y0 + y4
    sb = y1 + y3
    e = 2.0 * (sb - y2) - sa
    f = 2.0 * sa - 6.0 * sb + 8.0 * y2
    g = 8.0 * sb - 2.0 * sa - 12.0 * y2
    x[8, :, c] = ((e[:, 0:w - 4] + e[:, 4:w]) + (f[:, 1:w - 3] + f[:, 3:w - 1]) + g[:, c]) / 12.0
    return x


def srm_moments(planes, grid, bounds, cells, cross):
    """Twin of :func:`._noise.srm_moments` (moments of the KV3, first- and second-order and KV5
    residuals at the pixels with a full 5x5 window; KV3 cross products of r, g, b)."""
    h, w = planes.shape[1:]
    if h < 5:
        return None  # no row with a full 5x5 window: the kernel's row loop is empty
    sums = _Sums(9, cells.shape[1], bounds, w)
    shift = _srm_rows(planes, 2, 3, w)[:, 0, 2] if w >= 5 else np.zeros(9)
    shift[5] = shift[4]  # pooled rows share one shift
    shift[7] = shift[6]
    for ci, blocks in _groups(2, h - 2, h, grid, w, 9):
        for a, b in blocks:
            x = _srm_rows(planes, a, b, w)
            x -= shift[:, None, None]
            sums.add(x)
            sums.add_cross(x, bounds[0], bounds[grid])
        sums.flush(ci)
    sums.store(cells, _SRM_TARGETS)
    cross += sums.cross
    return None


def plane_moments(r, grid, bounds, cells):
    """Twin of :func:`._noise.plane_moments` (moments of every pixel of ``r``, shifted by ``r[0, 0]``)."""
    h, w = r.shape
    if h == 0:
        return None
    sums = _Sums(1, cells.shape[0], bounds, w)
    shift = r[0, 0] if w else 0.0
    for ci, blocks in _groups(0, h, h, grid, w, 1):
        for a, b in blocks:
            sums.add(r[None, a:b] - shift)
        sums.flush(ci)
    sums.store(cells[None], (0,))
    return None


TWINS = {"median_moments": median_moments, "srm_moments": srm_moments, "plane_moments": plane_moments}
