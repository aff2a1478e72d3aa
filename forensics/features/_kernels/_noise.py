"""Noise-residual kernels: fused single passes that filter and accumulate residual moments per grid
cell, the level-1 Haar diagonal band, an exact median of absolute values, and the wavelet
soft-threshold residual (separable DWT / inverse DWT with pywt's "symmetric" extension).

The moment kernels fill ``cells[q, c, :] = [n, S1, S2, S3, S4]`` with ``Sk = sum((r - k_q) ** k)``
over the residual samples ``r`` of row ``q`` falling in grid cell ``c``, and (when they have one)
``cross`` with the sums of products ``sum((r_a - k_a) (r_b - k_b))`` for the channel pairs
(r, g), (r, b), (g, b). The per-row shift ``k_q`` is the residual of the first valid pixel:
moments are shift-invariant, and the shift makes a constant residual (e.g. a first-order difference
on a linear ramp) give exactly zero variance instead of a cancellation error. A pixel at image
position (i, j) belongs to cell ``(i * grid // H) * grid + (j * grid // W)``. All sums are float64.

Images come in planar: ``planes`` float32 (P, H, W), C-contiguous, so that every filter runs along
contiguous rows (SIMD) and the colour channels are de-interleaved once for all kernels. Inner loops
run ``for t in range(n)`` over slices that start where the loop starts: an index that numba cannot
prove non-negative (``range(j0, j1)`` with run-time ``j0``, or ``j - 1``) keeps its negative-index
wraparound test, which stops LLVM from vectorising the loop (4-5x slower here).
"""

import numpy as np

from ._config import kernel


@kernel
def _accumulate_row(buf, rows, shift, ci, grid, w, jlo, jhi, cells):
    """Add the residual row ``buf[k, jlo:jhi]`` (image columns) to ``cells[rows[k], ci + cell(j)]``.

    Sums run over each cell's column segment in local scalars (one memory update per segment);
    ``x = buf[k, j] - shift[k]``.
    """
    for cj in range(grid):
        j0 = max((cj * w + grid - 1) // grid, jlo)  # first column j with j * grid // w == cj
        j1 = min(((cj + 1) * w + grid - 1) // grid, jhi)
        if j1 <= j0:
            continue
        c = ci + cj
        for k in range(buf.shape[0]):
            seg = buf[k, j0:j1]
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            s4 = 0.0
            sh = shift[k]
            for t in range(seg.shape[0]):
                x = seg[t] - sh
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


@kernel
def _cross_row(buf, shift, jlo, jhi, cross):
    """Add the products of buffer rows (0, 1), (0, 2), (1, 2) over columns ``jlo:jhi`` to ``cross``."""
    r0 = buf[0, jlo:jhi]
    r1 = buf[1, jlo:jhi]
    r2 = buf[2, jlo:jhi]
    k0 = shift[0]
    k1 = shift[1]
    k2 = shift[2]
    p01 = 0.0
    p02 = 0.0
    p12 = 0.0
    for t in range(r0.shape[0]):
        a = r0[t] - k0
        b = r1[t] - k1
        d = r2[t] - k2
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
def median_moments(planes, grid, cells, cross):
    """Moments of the 3x3 median residual ``x - median3x3(x)`` of every plane.

    Parameters
    ----------
    planes : float32 (P, H, W), C-contiguous, P >= 3
        Usually r, g, b and luma.
    grid : int
    cells : float64 (P, grid * grid, 5), output, one row per plane.
    cross : float64 (3,), output; products of planes (0, 1), (0, 2), (1, 2).

    Only interior pixels (1 <= i < H - 1, 1 <= j < W - 1) are used: no border padding.
    The median of nine uses the column-sort network: with each column of the window sorted into
    (lo, mid, hi), ``median = med3(max(lo), med3(mid), min(hi))`` (Paeth 1990); the sorted
    columns of a row are computed once and shared by the three windows that contain them.
    """
    n_planes, h, w = planes.shape
    cells[:, :, :] = 0.0
    cross[:] = 0.0
    if h < 3 or w < 3:
        return
    lo = np.empty(w, dtype=np.float32)
    mi = np.empty(w, dtype=np.float32)
    hi = np.empty(w, dtype=np.float32)
    buf = np.zeros((n_planes, w))
    shift = np.empty(n_planes)
    rows = np.arange(n_planes)
    for i in range(1, h - 1):
        for q in range(n_planes):
            up = planes[q, i - 1]
            mid = planes[q, i]
            dn = planes[q, i + 1]
            for j in range(w):  # sort each column triple
                a = up[j]
                b = mid[j]
                c = dn[j]
                l1 = min(a, b)
                h1 = max(a, b)
                lo[j] = min(l1, c)
                mi[j] = max(l1, min(h1, c))
                hi[j] = max(h1, c)
            # window t covers columns t, t + 1, t + 2 and is centred on column t + 1
            res = buf[q, 1:]
            ctr = mid[1:]
            lo1 = lo[1:]
            lo2 = lo[2:]
            mi1 = mi[1:]
            mi2 = mi[2:]
            hi1 = hi[1:]
            hi2 = hi[2:]
            for t in range(w - 2):
                a = max(lo[t], max(lo1[t], lo2[t]))
                b = _med3(mi[t], mi1[t], mi2[t])
                c = min(hi[t], min(hi1[t], hi2[t]))
                res[t] = np.float64(ctr[t]) - np.float64(_med3(a, b, c))
        if i == 1:
            for q in range(n_planes):
                shift[q] = buf[q, 1]
        _accumulate_row(buf, rows, shift, ((i * grid) // h) * grid, grid, w, 1, w - 1, cells)
        _cross_row(buf, shift, 1, w - 1, cross)


# -- SRM high-pass filters (Fridrich & Kodovsky 2012), normalised as in Zhou et al. (2018) -----------

@kernel
def _kv3_row(up, mid, dn, out, jlo, jhi):
    """``out[j]`` = SQUARE 3x3 'KV' residual / 4 at row ``mid``, ``jlo <= j < jhi`` (``jlo >= 1``):
    [[-1, 2, -1], [2, -4, 2], [-1, 2, -1]] / 4."""
    n = jhi - jlo
    ul = up[jlo - 1:]
    uc = up[jlo:]
    ur = up[jlo + 1:]
    ml = mid[jlo - 1:]
    mc = mid[jlo:]
    mr = mid[jlo + 1:]
    dl = dn[jlo - 1:]
    dc = dn[jlo:]
    dr = dn[jlo + 1:]
    o = out[jlo:]
    for t in range(n):
        vl = np.float64(ul[t]) + np.float64(dl[t])
        vc = np.float64(uc[t]) + np.float64(dc[t])
        vr = np.float64(ur[t]) + np.float64(dr[t])
        o[t] = (2.0 * (vc + np.float64(ml[t]) + np.float64(mr[t])) - (vl + vr) - 4.0 * np.float64(mc[t])) * 0.25


@kernel
def srm_moments(planes, grid, cells, cross):
    """Moments of four SRM high-pass residuals, filtered and accumulated in one pass.

    Parameters
    ----------
    planes : float32 (4, H, W), C-contiguous
        r, g, b and luma.
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
      [-1, 2, -2, 2, -1]] / 12``, evaluated from the row sums ``A = X[i-2] + X[i+2]``,
      ``B = X[i-1] + X[i+1]``, ``C = X[i]`` as ``E[j-2] + E[j+2] + F[j-1] + F[j+1] + G[j]`` with
      ``E = -A + 2B - 2C``, ``F = 2A - 6B + 8C``, ``G = -2A + 8B - 12C`` (exact in float64 for
      float32 inputs: integer weights), then / 12.
    """
    h, w = planes.shape[1:]
    cells[:, :, :] = 0.0
    cross[:] = 0.0
    if h < 5 or w < 5:
        return
    # buffer rows: KV3 r, g, b, y; first order h, v; second order h, v; KV5 -> cell rows
    rows = np.array([0, 1, 2, 3, 4, 4, 5, 5, 6])
    shift = np.empty(9)
    buf = np.zeros((9, w))
    e = np.empty(w)
    f = np.empty(w)
    g = np.empty(w)
    for i in range(2, h - 2):
        for q in range(4):
            _kv3_row(planes[q, i - 1], planes[q, i], planes[q, i + 1], buf[q], 2, w - 2)
        y0 = planes[3, i - 2]
        y1 = planes[3, i - 1]
        y2 = planes[3, i]
        y3 = planes[3, i + 1]
        y4 = planes[3, i + 2]
        for j in range(w):
            a = np.float64(y0[j]) + np.float64(y4[j])
            b = np.float64(y1[j]) + np.float64(y3[j])
            c = np.float64(y2[j])
            e[j] = 2.0 * (b - c) - a
            f[j] = 2.0 * a - 6.0 * b + 8.0 * c
            g[j] = 8.0 * b - 2.0 * a - 12.0 * c
        # output t is column j = t + 2
        o1h = buf[4, 2:]
        o1v = buf[5, 2:]
        o2h = buf[6, 2:]
        o2v = buf[7, 2:]
        kv5 = buf[8, 2:]
        yc = y2[2:]
        yl = y2[1:]
        yr = y2[3:]
        yu = y1[2:]
        yd = y3[2:]
        e4 = e[4:]
        f1 = f[1:]
        f3 = f[3:]
        g2 = g[2:]
        for t in range(w - 4):
            y = np.float64(yc[t])
            left = np.float64(yl[t])
            right = np.float64(yr[t])
            o1h[t] = right - y
            o1v[t] = np.float64(yd[t]) - y
            o2h[t] = (left + right - 2.0 * y) * 0.5
            o2v[t] = (np.float64(yu[t]) + np.float64(yd[t]) - 2.0 * y) * 0.5
            kv5[t] = ((e[t] + e4[t]) + (f1[t] + f3[t]) + g2[t]) / 12.0
        if i == 2:
            for k in range(9):
                shift[k] = buf[k, 2]
            shift[5] = shift[4]  # pooled rows share one shift
            shift[7] = shift[6]
        _accumulate_row(buf, rows, shift, ((i * grid) // h) * grid, grid, w, 2, w - 2, cells)
        _cross_row(buf, shift, 2, w - 2, cross)


@kernel
def residual_moments(r, grid, cells):
    """Moments of a materialised residual plane, every pixel used.

    Parameters
    ----------
    r : float (H, W)
        The residual (e.g. the output of :func:`wavelet_residual`).
    grid : int
    cells : float64 (grid * grid, 5), output.
    """
    h, w = r.shape
    cells[:, :] = 0.0
    if h == 0 or w == 0:
        return
    buf = np.empty((1, w))
    shift = np.empty(1)
    shift[0] = np.float64(r[0, 0])
    rows = np.zeros(1, dtype=np.int64)
    out = cells.reshape((1, cells.shape[0], cells.shape[1]))
    row = buf[0]
    for i in range(h):
        ri = r[i]
        for j in range(w):
            row[j] = np.float64(ri[j])
        _accumulate_row(buf, rows, shift, ((i * grid) // h) * grid, grid, w, 0, w, out)


# -- robust noise level: level-1 Haar diagonal band and its median absolute value ---------------------

@kernel
def haar_hh(planes, hh):
    """Level-1 Haar diagonal (HH) detail band of every plane of the even-cropped image.

    Parameters
    ----------
    planes : float32 (P, H, W)
    hh : float64 (P, H // 2, W // 2), output
        ``hh[p, i, j] = (a - b - c + d) / 2`` with ``a, b, c, d = X[2i, 2j], X[2i, 2j+1],
        X[2i+1, 2j], X[2i+1, 2j+1]``: ``pywt.dwt2(X[:2(H//2), :2(W//2)], "haar")[1][2]``. The
        last row / column of an odd-sized plane is dropped; the Haar filter has no border.
    """
    n_planes, ho, wo = hh.shape
    for p in range(n_planes):
        for i in range(ho):
            r0 = planes[p, 2 * i]
            r1 = planes[p, 2 * i + 1]
            out = hh[p, i]
            for j in range(wo):
                a = np.float64(r0[2 * j])
                b = np.float64(r0[2 * j + 1])
                c = np.float64(r1[2 * j])
                d = np.float64(r1[2 * j + 1])
                out[j] = ((a - b) - (c - d)) * 0.5


_N_BINS = 1024


@kernel
def _bin(v, lo, scale):
    """Histogram bin of ``v`` in ``[lo, hi]`` (``scale = _N_BINS / (hi - lo)``): monotone in ``v``."""
    return min(int((v - lo) * scale), _N_BINS - 1)


@kernel
def _select(vals, n, k, buf_a, buf_b):
    """The ``k``-th smallest (0-based) of ``vals[:n]`` (no NaN), by histogram refinement.

    Each round bins the candidates into 1024 bins between their min and max (the bin index is
    monotone in the value, so the bins are ordered), keeps only the bin that holds rank ``k``,
    and stops when the candidates are all equal or at most 32 (then sorted). ``vals`` is not
    modified; ``buf_a``, ``buf_b`` are scratch of size ``n``.
    """
    counts = np.zeros(_N_BINS, dtype=np.int64)
    src = vals
    dst = buf_a
    other = buf_b
    m = n
    while True:
        if m <= 32:
            tail = np.sort(src[:m])
            return tail[k]
        lo = src[0]
        hi = src[0]
        for t in range(1, m):
            v = src[t]
            lo = min(lo, v)
            hi = max(hi, v)
        if lo == hi:
            return lo
        scale = _N_BINS / (hi - lo)
        counts[:] = 0
        for t in range(m):
            counts[_bin(src[t], lo, scale)] += 1
        below = 0
        sel = 0
        while below + counts[sel] <= k:
            below += counts[sel]
            sel += 1
        c = 0
        for t in range(m):  # branch-free compaction: always write, advance only when in the bin
            v = src[t]
            dst[c] = v
            c += _bin(v, lo, scale) == sel
        k -= below
        m = c
        src = dst
        dst = other
        other = src


@kernel
def median_abs(x):
    """``median(|x|)`` over all elements of a 2-D array, exactly as ``np.median(np.abs(x))``.

    NaN when ``x`` is empty or holds a NaN. Even counts average the two middle values. The
    first round of :func:`_select` runs on ``x`` itself (four interleaved histograms break the
    dependency of consecutive equal bins); only the candidates of the selected bin are copied,
    so no image-sized buffer is allocated.
    """
    h, w = x.shape
    n = h * w
    if n == 0:
        return np.nan
    lo = np.inf
    hi = -np.inf
    nan = False
    for i in range(h):
        row = x[i]
        for j in range(w):
            v = abs(np.float64(row[j]))
            nan |= v != v
            lo = min(lo, v)
            hi = max(hi, v)
    if nan:
        return np.nan
    k = n // 2
    if lo == hi:
        upper = lo
    else:
        scale = _N_BINS / (hi - lo)
        counts = np.zeros((4, _N_BINS), dtype=np.int64)
        for i in range(h):
            row = x[i]
            w4 = w - w % 4
            for j in range(0, w4, 4):
                counts[0, _bin(abs(np.float64(row[j])), lo, scale)] += 1
                counts[1, _bin(abs(np.float64(row[j + 1])), lo, scale)] += 1
                counts[2, _bin(abs(np.float64(row[j + 2])), lo, scale)] += 1
                counts[3, _bin(abs(np.float64(row[j + 3])), lo, scale)] += 1
            for j in range(w4, w):
                counts[0, _bin(abs(np.float64(row[j])), lo, scale)] += 1
        below = 0
        sel = 0
        while True:
            in_bin = counts[0, sel] + counts[1, sel] + counts[2, sel] + counts[3, sel]
            if below + in_bin > k:
                break
            below += in_bin
            sel += 1
        cand = np.empty(in_bin + 1)  # + 1: the branch-free compaction writes one past the last
        c = 0
        for i in range(h):
            row = x[i]
            for j in range(w):
                v = abs(np.float64(row[j]))
                cand[c] = v
                c += _bin(v, lo, scale) == sel
        upper = _select(cand, in_bin, k - below, np.empty(in_bin), np.empty(in_bin))
    if n % 2 == 1:
        return upper
    # rank k - 1: the largest value below ``upper`` if k values lie below it, else ``upper`` itself
    n_below = 0
    lower = -np.inf
    for i in range(h):
        row = x[i]
        for j in range(w):
            v = abs(np.float64(row[j]))
            below_v = v < upper
            n_below += below_v
            lower = max(lower, v if below_v else -np.inf)
    if n_below < k:
        lower = upper
    return 0.5 * (lower + upper)


# -- wavelet soft-threshold residual: separable DWT / inverse DWT, pywt's "symmetric" extension -------

@kernel
def _sym(k, n):
    """Index into a length-``n`` signal of position ``k`` of its half-sample symmetric extension
    (pywt ``"symmetric"``: ``x[-1 - m] = x[m]``, ``x[n + m] = x[n - 1 - m]``, period ``2n``)."""
    p = k % (2 * n)
    return p if p < n else 2 * n - 1 - p


@kernel
def _dwt_cols(x, lo, hi, a, d):
    """One DWT level along axis 0: ``a[o] = sum_j lo[j] x~[2o + 1 - j]`` (``d`` with ``hi``),
    ``x~`` the symmetric extension of the rows of ``x``; ``a``, ``d`` have ``(N + F - 1) // 2``
    rows (``pywt.dwt(x, w, "symmetric", axis=0)``). Vectorised along the contiguous rows."""
    n_in, m = x.shape
    f = lo.shape[0]
    for o in range(a.shape[0]):
        ar = a[o]
        dr = d[o]
        ar[:] = 0.0
        dr[:] = 0.0
        for j in range(0, f, 2):  # two taps per sweep (F is even): half the accumulator traffic
            x0 = x[_sym(2 * o + 1 - j, n_in)]
            x1 = x[_sym(2 * o - j, n_in)]
            l0 = lo[j]
            l1 = lo[j + 1]
            h0 = hi[j]
            h1 = hi[j + 1]
            for t in range(m):
                u = x0[t]
                v = x1[t]
                ar[t] += l0 * u + l1 * v
                dr[t] += h0 * u + h1 * v


@kernel
def _dwt_rows(x, lo, hi, a, d):
    """One DWT level along axis 1 (the same formula along each row), in polyphase form.

    With the extended row split into even ``E[q] = x~[2(q - Q)]`` and odd ``O[q] = x~[2(q - Q) + 1]``
    samples (``Q = F/2 - 1``), ``a[o] = sum_m lo[2m] O[o - m + Q] + lo[2m + 1] E[o - m + Q]``:
    contiguous loops over ``o``.
    """
    n_rows, n_in = x.shape
    f = lo.shape[0]
    half = f // 2
    q0 = half - 1
    n = a.shape[1]
    ev = np.empty(n + q0)
    od = np.empty(n + q0)
    # q with 0 <= 2(q - q0) and 2(q - q0) + 1 < n_in read the row directly; the others extend it
    q_lo = q0
    q_hi = min(n + q0, q0 + n_in // 2)
    for r in range(n_rows):
        xr = x[r]
        for q in range(q_lo):
            k = 2 * (q - q0)
            ev[q] = xr[_sym(k, n_in)]
            od[q] = xr[_sym(k + 1, n_in)]
        inner = xr[:2 * (q_hi - q0)]
        e_in = ev[q_lo:]
        o_in = od[q_lo:]
        for t in range(q_hi - q_lo):
            e_in[t] = inner[2 * t]
            o_in[t] = inner[2 * t + 1]
        for q in range(q_hi, n + q0):
            k = 2 * (q - q0)
            ev[q] = xr[_sym(k, n_in)]
            od[q] = xr[_sym(k + 1, n_in)]
        ar = a[r]
        dr = d[r]
        ar[:] = 0.0
        dr[:] = 0.0
        for mm in range(half):
            e = ev[q0 - mm:]
            o = od[q0 - mm:]
            l0 = lo[2 * mm]
            l1 = lo[2 * mm + 1]
            h0 = hi[2 * mm]
            h1 = hi[2 * mm + 1]
            for t in range(n):
                ar[t] += l0 * o[t] + l1 * e[t]
                dr[t] += h0 * o[t] + h1 * e[t]


@kernel
def _idwt_cols(a, d, lo, hi, y):
    """One inverse DWT level along axis 0 into the first ``y.shape[0]`` rows of the output
    ``y[2s + p] = sum_j lo[2j + p] a[s + F/2 - 1 - j] + hi[2j + p] d[s + F/2 - 1 - j]``
    (``pywt.idwt(a, d, w, "symmetric", axis=0)``, ``2n - F + 2`` rows, trimmed)."""
    m = y.shape[1]
    half = lo.shape[0] // 2
    for yi in range(y.shape[0]):
        s = yi // 2
        p = yi - 2 * s
        yr = y[yi]
        yr[:] = 0.0
        for j in range(half):
            k = s + half - 1 - j
            ca = a[k]
            cd = d[k]
            fl = lo[2 * j + p]
            fh = hi[2 * j + p]
            for t in range(m):
                yr[t] += fl * ca[t] + fh * cd[t]


@kernel
def _idwt_rows(a, d, lo, hi, y):
    """One inverse DWT level along axis 1 into the first ``y.shape[1]`` columns (see
    :func:`_idwt_cols`); even and odd outputs are computed in contiguous loops, then interleaved."""
    n_rows, n = a.shape
    half = lo.shape[0] // 2
    ns = n - half + 1
    n_out = y.shape[1]
    ye = np.empty(ns)
    yo = np.empty(ns)
    for r in range(n_rows):
        ar = a[r]
        dr = d[r]
        ye[:] = 0.0
        yo[:] = 0.0
        for j in range(half):
            ca = ar[half - 1 - j:]
            cd = dr[half - 1 - j:]
            le = lo[2 * j]
            lo_ = lo[2 * j + 1]
            he = hi[2 * j]
            ho = hi[2 * j + 1]
            for t in range(ns):
                ye[t] += le * ca[t] + he * cd[t]
                yo[t] += lo_ * ca[t] + ho * cd[t]
        yr = y[r]
        for s in range(n_out // 2):
            yr[2 * s] = ye[s]
            yr[2 * s + 1] = yo[s]
        if n_out % 2:
            yr[n_out - 1] = ye[n_out // 2]


@kernel
def _clip(x, t):
    """``x = clip(x, -t, t)`` in place."""
    for i in range(x.shape[0]):
        row = x[i]
        for j in range(x.shape[1]):
            row[j] = min(max(row[j], -t), t)


@kernel
def wavelet_residual(x, dec_lo, dec_hi, rec_lo, rec_hi, level, mad_to_sigma, out):
    """Residual of wavelet soft-threshold denoising of one plane; returns the MAD noise deviation.

    Parameters
    ----------
    x : float (H, W)
        The plane; ``min(H, W) >= F - 1`` per level (``pywt.dwt_max_level(min(H, W), F) >= level``).
    dec_lo, dec_hi, rec_lo, rec_hi : float64 (F,), F even
        The wavelet's filters (``pywt.Wavelet(name).filter_bank``).
    level : int >= 1
    mad_to_sigma : float
        0.6745: ``sigma = median|HH1 interior| / mad_to_sigma``.
    out : float64 (H, W), output
        The residual ``R = x - W^-1(soft(W x, t))``, ``t = sigma sqrt(2 ln(HW))``.

    Notes
    -----
    ``W`` is the 2-D DWT of ``pywt.wavedec2(x, w, mode="symmetric", level=level)`` (axis 0 then
    axis 1 per level; approximation kept, soft thresholding of every detail band) and ``W^-1``
    that of ``pywt.waverec2`` (axis 1 then axis 0; the reconstructed approximation trimmed to
    the next detail shape, the result to (H, W)). ``sigma`` is the MAD over the HH1 coefficients
    whose filter support lies inside the plane, ``HH1[s:s + n_i, s:s + n_j]``, ``s = F/2 - 1``,
    ``n_i = (H - F) // 2 + 1`` (and likewise along W).
    Since ``soft(d, t) = d - clip(d, -t, t)`` and the transform is linear with perfect
    reconstruction (``W^-1 W = I``), ``R = W^-1(0, clip(D, -t, t))``: the approximation is set
    to zero and only the clipped details are synthesised. This is exact in exact arithmetic and
    avoids the cancellation of ``x - denoised`` (the residual is accurate relative to itself).
    """
    h, w = x.shape
    f = dec_lo.shape[0]
    x64 = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            x64[i, j] = x[i, j]
    # analysis: per level the bands (ad, da, dd); ``aa`` feeds the next level
    bands = []
    shapes = []
    cur = x64
    for lev in range(level):
        n0, n1 = cur.shape
        m0 = (n0 + f - 1) // 2
        m1 = (n1 + f - 1) // 2
        lo_c = np.empty((m0, n1))
        hi_c = np.empty((m0, n1))
        _dwt_cols(cur, dec_lo, dec_hi, lo_c, hi_c)
        aa = np.empty((m0, m1))
        ad = np.empty((m0, m1))
        da = np.empty((m0, m1))
        dd = np.empty((m0, m1))
        _dwt_rows(lo_c, dec_lo, dec_hi, aa, ad)
        _dwt_rows(hi_c, dec_lo, dec_hi, da, dd)
        bands.append(ad)
        bands.append(da)
        bands.append(dd)
        shapes.append((n0, n1))
        cur = aa
    dd1 = bands[2]
    s = f // 2 - 1
    sigma = median_abs(dd1[s:s + (h - f) // 2 + 1, s:s + (w - f) // 2 + 1]) / mad_to_sigma
    t = sigma * np.sqrt(2.0 * np.log(h * w))
    for b in bands:
        _clip(b, t)
    # synthesis of the clipped details from a zero approximation
    approx = np.zeros(cur.shape)
    for lev in range(level - 1, -1, -1):
        ad = bands[3 * lev]
        da = bands[3 * lev + 1]
        dd = bands[3 * lev + 2]
        n0, n1 = shapes[lev]
        m0 = ad.shape[0]
        lo_r = np.empty((m0, n1))
        hi_r = np.empty((m0, n1))
        _idwt_rows(approx, ad, rec_lo, rec_hi, lo_r)
        _idwt_rows(da, dd, rec_lo, rec_hi, hi_r)
        target = out if lev == 0 else np.empty((n0, n1))
        _idwt_cols(lo_r, hi_r, rec_lo, rec_hi, target)
        approx = target
    return sigma
