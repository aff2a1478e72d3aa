"""Noise-residual kernels: fused passes that filter and accumulate residual moments per grid cell,
the level-1 Haar diagonal band with the exact median of its absolute values, and one level of the
wavelet transform or its inverse along axis 0 (combinations of rows) or axis 1 (polyphase streams).

The moment kernels add to ``cells[q, c, :] = [n, S1, S2, S3, S4]`` with ``Sk = sum((r - k_q) ** k)``
over the residual samples ``r`` of stream ``q`` in grid cell ``c``, and (when they have one) to
``cross`` the sums of products ``sum((r_a - k_a) (r_b - k_b))`` for the channel pairs (r, g),
(r, b), (g, b). The shift ``k_q`` is the residual of the stream's first valid pixel: moments are
shift-invariant, and the shift makes a constant residual (e.g. a first-order difference on a
linear ramp) give exactly zero variance instead of a cancellation error. A pixel at image position
(i, j) belongs to cell ``(i * grid // H) * grid + (j * grid // W)``; the column bounds of the cells
come in ``bounds`` (``grid + 1`` values, already clipped to the columns the residual is defined on).
All sums are float64.

Images come in planar: ``planes`` float32 (P, H, W), C-contiguous, so that every filter runs along
contiguous rows (SIMD). Inner loops run ``for t in range(n)`` over slices that start where the loop
starts: an index that numba cannot prove non-negative (``j - 1``) keeps its negative-index
wraparound test, which stops LLVM from vectorising the loop. Scratch rows are allocated inside
the kernels (so LLVM knows they alias nothing and vectorises the loops that write them), and every
kernel is called with one set of argument types: nothing is compiled twice.
"""

import numpy as np

from ._config import array, f32, f64, i64, kernel


@kernel
def _accumulate(row, shift, cells, ci, bounds):
    """Add the moments of ``row[bounds[c]:bounds[c + 1]] - shift`` to ``cells[ci + c]`` for each column
    cell ``c`` (one memory update per segment)."""
    for cj in range(bounds.shape[0] - 1):
        j0 = bounds[cj]
        j1 = bounds[cj + 1]
        if j1 <= j0:
            continue
        seg = row[j0:j1]
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        s4 = 0.0
        for t in range(seg.shape[0]):
            x = seg[t] - shift
            x2 = x * x
            s1 += x
            s2 += x2
            s3 += x2 * x
            s4 += x2 * x2
        c = cells[ci + cj]
        c[0] += j1 - j0
        c[1] += s1
        c[2] += s2
        c[3] += s3
        c[4] += s4


@kernel
def _cross(buf, shift, j0, j1, cross):
    """Add the products of the shifted rows (0, 1), (0, 2), (1, 2) of ``buf[:, j0:j1]`` to ``cross``."""
    r0 = buf[0, j0:j1]
    r1 = buf[1, j0:j1]
    r2 = buf[2, j0:j1]
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


@kernel(signature=(array(f32, 3), i64, array(i64, 1, True), array(f64, 3), array(f64, 1)))
def median_moments(planes, grid, bounds, cells, cross):
    """Moments of the 3x3 median residual ``x - median3x3(x)`` of every plane (interior pixels).

    Parameters
    ----------
    planes : float32 (P, H, W), C-contiguous, P >= 3, H, W >= 3
        Usually r, g, b and luma.
    grid : int
    bounds : int64 (grid + 1,)
        Column bounds of the cells clipped to the interior ``1 .. W - 1``.
    cells : float64 (P, grid * grid, 5), zeroed, output.
    cross : float64 (3,), zeroed, output; products of planes (0, 1), (0, 2), (1, 2).

    Notes
    -----
    Only interior pixels (1 <= i < H - 1, 1 <= j < W - 1) are used: no border padding. The median
    of nine uses the column-sort network: with each column of the window sorted into (lo, mid, hi),
    ``median = med3(max(lo), med3(mid), min(hi))`` (Paeth 1990); the sorted columns of a row are
    computed once and shared by the three windows that contain them.
    """
    n_planes, h, w = planes.shape
    lo = np.empty(w, dtype=np.float32)  # local buffers: LLVM knows they alias nothing
    mi = np.empty(w, dtype=np.float32)
    hi = np.empty(w, dtype=np.float32)
    buf = np.zeros((n_planes, w))
    shift = np.empty(n_planes)
    for i in range(1, h - 1):
        ci = ((i * grid) // h) * grid
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
            for t in range(w - 2):
                a = max(lo[t], max(lo[t + 1], lo[t + 2]))
                b = max(min(mi[t], mi[t + 1]), min(max(mi[t], mi[t + 1]), mi[t + 2]))
                c = min(hi[t], min(hi[t + 1], hi[t + 2]))
                res[t] = np.float64(ctr[t]) - np.float64(max(min(a, b), min(max(a, b), c)))
            if i == 1:
                shift[q] = buf[q, 1]
            _accumulate(buf[q], shift[q], cells[q], ci, bounds)
        _cross(buf, shift, bounds[0], bounds[grid], cross)  # bounds[0], bounds[grid]: the valid columns


@kernel(signature=(array(f32, 3), i64, array(i64, 1, True), array(f64, 3), array(f64, 1)))
def srm_moments(planes, grid, bounds, cells, cross):
    """Moments of four SRM high-pass residuals, filtered and accumulated in one pass.

    Parameters
    ----------
    planes : float32 (4, H, W), C-contiguous, H, W >= 5
        r, g, b and luma.
    grid : int
    bounds : int64 (grid + 1,)
        Column bounds of the cells clipped to ``2 .. W - 2``.
    cells : float64 (7, grid * grid, 5), zeroed, output. Rows:
        0, 1, 2: KV3 residual of r, g, b; 3: KV3 of luma; 4: first-order luma residual,
        horizontal and vertical pooled (two samples per pixel); 5: second-order luma residual,
        both directions pooled; 6: KV5 luma residual.
    cross : float64 (3,), zeroed, output; KV3 (r, g), (r, b), (g, b) products.

    Notes
    -----
    All filters are evaluated at the same pixels, those with a full 5x5 window
    (2 <= i < H - 2, 2 <= j < W - 2), so every residual is free of padding. With ``X`` the plane:

    - first order: ``X[i, j+1] - X[i, j]`` and ``X[i+1, j] - X[i, j]``;
    - second order: ``(X[i, j-1] - 2 X[i, j] + X[i, j+1]) / 2`` and its vertical twin;
    - KV3: ``[[-1, 2, -1], [2, -4, 2], [-1, 2, -1]] / 4``, i.e. ``-1/4`` times the vertical then the
      horizontal second difference ``[1, -2, 1]`` (exact in float64 for float32 inputs);
    - KV5: ``[[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2],
      [-1, 2, -2, 2, -1]] / 12``, evaluated from the row sums ``A = X[i-2] + X[i+2]``,
      ``B = X[i-1] + X[i+1]``, ``C = X[i]`` as ``E[j-2] + E[j+2] + F[j-1] + F[j+1] + G[j]`` with
      ``E = -A + 2B - 2C``, ``F = 2A - 6B + 8C``, ``G = -2A + 8B - 12C`` (exact in float64 for
      float32 inputs: integer weights), then / 12.

    Buffer rows: KV3 r, g, b, y; first order h, v; second order h, v; KV5; they go to the cell
    rows 0, 1, 2, 3, 4, 4, 5, 5, 6.
    """
    h, w = planes.shape[1:]
    buf = np.zeros((12, w))  # rows 0-8: residual rows, 9-11: KV5 row sums
    shift = np.empty(9)
    e = buf[9]
    f = buf[10]
    g = buf[11]
    for i in range(2, h - 2):
        for q in range(4):  # KV3 = -(1/4) [1, -2, 1]^T [1, -2, 1]: vertical then horizontal difference
            up = planes[q, i - 1]
            mid = planes[q, i]
            dn = planes[q, i + 1]
            for j in range(w):
                f[j] = (np.float64(up[j]) + np.float64(dn[j])) - 2.0 * np.float64(mid[j])
            o = buf[q, 2:]
            fl = f[1:]
            for t in range(w - 4):  # output t is column t + 2
                o[t] = (2.0 * fl[t + 1] - (fl[t] + fl[t + 2])) * 0.25
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
        o1h = buf[4, 2:]
        o1v = buf[5, 2:]
        o2h = buf[6, 2:]
        o2v = buf[7, 2:]
        kv5 = buf[8, 2:]
        yl = y2[1:]
        yu = y1[2:]
        yd = y3[2:]
        for t in range(w - 4):  # output t is column t + 2
            y = np.float64(yl[t + 1])
            left = np.float64(yl[t])
            right = np.float64(yl[t + 2])
            o1h[t] = right - y
            o1v[t] = np.float64(yd[t]) - y
            o2h[t] = (left + right - 2.0 * y) * 0.5
            o2v[t] = (np.float64(yu[t]) + np.float64(yd[t]) - 2.0 * y) * 0.5
            kv5[t] = ((e[t] + e[t + 4]) + (f[t + 1] + f[t + 3]) + g[t + 2]) / 12.0
        if i == 2:
            for k in range(9):
                shift[k] = buf[k, 2]
            shift[5] = shift[4]  # pooled rows share one shift
            shift[7] = shift[6]
        ci = ((i * grid) // h) * grid
        for k in range(9):
            _accumulate(buf[k], shift[k], cells[k - (k > 4) - (k > 6)], ci, bounds)
        _cross(buf, shift, bounds[0], bounds[grid], cross)  # bounds[0], bounds[grid]: the valid columns


@kernel(signature=(array(f64, 2), i64, array(i64, 1, True), array(f64, 2)))
def plane_moments(r, grid, bounds, cells):
    """Add the moments of a residual plane (every pixel) to ``cells`` (grid * grid, 5); shift r[0, 0].

    Parameters
    ----------
    r : float64 (H, W), C-contiguous
    grid : int
    bounds : int64 (grid + 1,), the column bounds of the cells over ``0 .. W``.
    cells : float64 (grid * grid, 5), output (added to).
    """
    h = r.shape[0]
    shift = r[0, 0]
    for i in range(h):
        _accumulate(r[i], shift, cells, ((i * grid) // h) * grid, bounds)


# -- robust noise level: level-1 Haar diagonal band and the exact median of absolute values ---------

@kernel(signature=(array(f32, 2), array(f64, 2)))
def haar_abs_hh(plane, hh):
    """|HH| of the level-1 Haar diagonal band of the even-cropped plane, into ``hh`` (H // 2, W // 2).

    ``hh[i, j] = |(a - b) - (c - d)| / 2`` with ``a, b, c, d = X[2i, 2j], X[2i, 2j+1], X[2i+1, 2j],
    X[2i+1, 2j+1]`` (float64; exact for float32 input): ``abs(pywt.dwt2(X, "haar")[1][2])`` of the
    even crop. The last row / column of an odd-sized plane is dropped; Haar has no border.
    """
    ho, wo = hh.shape
    for i in range(ho):
        r0 = plane[2 * i]
        r1 = plane[2 * i + 1]
        out = hh[i]
        for j in range(wo):
            a = np.float64(r0[2 * j])
            b = np.float64(r0[2 * j + 1])
            c = np.float64(r1[2 * j])
            d = np.float64(r1[2 * j + 1])
            out[j] = abs((a - b) - (c - d)) * 0.5


# _select_round and kth_smallest have one caller each (median_flat): numba inlines them into it
# (``inline=True``), so one function compiles at the first call instead of three, ~0.2 s less, at
# the same run time (benchmarks/profile_compile.py; docs/results.md, "Cold start").
@kernel(inline=True)
def _select_round(src, n, k, counts, dst):
    """One round of the histogram selection of rank ``k`` among ``src[:n]`` (min < max).

    Counts the values into ``counts.shape[1]`` bins between their min and max (four interleaved
    histograms, so runs of equal values do not serialise on one counter; the bin index is monotone
    in the value), then copies the values of the bin holding rank ``k`` to ``dst`` (branch-free:
    every value is written, the cursor advances only for the selected bin, so ``dst`` needs
    ``n + 1`` slots; ``dst`` may be ``src``). Returns (number copied, rank of ``k`` among them).
    """
    nb = counts.shape[1]
    lo = src[0]
    hi = src[0]
    for t in range(n):
        lo = min(lo, src[t])
        hi = max(hi, src[t])
    scale = nb / (hi - lo)
    for b in range(nb):
        counts[0, b] = 0
        counts[1, b] = 0
        counts[2, b] = 0
        counts[3, b] = 0
    for t in range(n):
        counts[t & 3, min(int((src[t] - lo) * scale), nb - 1)] += 1
    sel = 0
    while True:
        in_bin = counts[0, sel] + counts[1, sel] + counts[2, sel] + counts[3, sel]
        if in_bin > k:
            break
        k -= in_bin
        sel += 1
    m = 0
    for t in range(n):
        v = src[t]
        dst[m] = v
        m += min(int((v - lo) * scale), nb - 1) == sel
    return m, k


@kernel(inline=True)
def kth_smallest(vals, n, k, counts):
    """The ``k``-th smallest (0-based) of ``vals[:n]`` (float64, no NaN; ``vals`` has n + 1 slots
    and is overwritten), exactly: histogram rounds (:func:`_select_round`) until the candidates
    are all equal or at most 32, which are then ordered by insertion. Linear time: each round
    keeps one bin of ``counts.shape[1]``.
    """
    while n > 32:
        lo = vals[0]
        hi = vals[0]
        for t in range(n):
            lo = min(lo, vals[t])
            hi = max(hi, vals[t])
        if not (lo < hi and counts.shape[1] / (hi - lo) < np.inf):
            if lo == hi:
                return lo
            break  # a range of a few ulps: the insertion sort below finishes
        n, k = _select_round(vals, n, k, counts, vals)
    for t in range(1, n):  # insertion sort of the last few
        v = vals[t]
        s = t
        while s > 0 and vals[s - 1] > v:
            vals[s] = vals[s - 1]
            s -= 1
        vals[s] = v
    return vals[k]


@kernel(signature=(array(f64, 1), array(i64, 2), array(f64, 1)))
def median_flat(vals, counts, cand):
    """``np.median(vals)`` of a float64 array (n,), n >= 1, without NaN, exactly; ``vals`` unchanged.

    The upper middle value is :func:`kth_smallest` of a copy in ``cand`` (scratch, n + 1 slots);
    for an even count the lower middle value is the largest value below it, or the upper one
    itself when enough values equal it. ``counts``: int64 (4, bins) scratch.
    """
    n = vals.shape[0]
    k = n // 2
    for t in range(n):
        cand[t] = vals[t]
    upper = kth_smallest(cand, n, k, counts)
    if n % 2 == 1:
        return upper
    n_below = 0
    lower = -np.inf
    for t in range(n):
        v = vals[t]
        is_below = v < upper
        n_below += is_below
        lower = max(lower, v if is_below else -np.inf)
    if n_below < k:
        lower = upper
    return 0.5 * (lower + upper)


# -- wavelet soft-threshold residual: one level of the DWT or inverse DWT along an axis --------------

@kernel(signature=(array(f64, 2), array(i64, 2, True), array(i64, 2, True), array(f64, 2, True), i64,
                   array(f64, 2)))
def filter_row_pairs(src, dst, idx, coef, width, out):
    """Along axis 0: rows of ``out`` as linear combinations of rows of ``src``, two per table row.

    ``out[dst[o, p], :width] = sum_k coef[p, k] * src[idx[o, k], :width]`` for ``p = 0, 1``; an
    output row at or past ``out.shape[0]`` is computed into a spare row and dropped.

    Parameters
    ----------
    src : float64 (R, >= width), C-contiguous
    dst : int64 (n, 2), read-only
        The two output rows of each table row.
    idx : int64 (n, K), K even, read-only
        The source rows of each table row (the same for both outputs).
    coef : float64 (2, K), read-only
        The weights of the two outputs.
    width : int
        Columns to compute.
    out : float64 (R', >= width), C-contiguous, output.

    Notes
    -----
    One DWT level along axis 0 is a table with ``dst[o] = (o, m + o)`` (approximation and detail
    rows stacked), ``idx[o, j]`` the row ``2o + 1 - j`` of the extended signal and ``coef`` the
    decomposition filters; one inverse level has ``dst[s] = (2s, 2s + 1)``, ``idx`` the rows of the
    stacked approximation and detail, ``coef`` the even and odd taps of the reconstruction filters
    (``forensics.features._noise``). Both outputs read each source row once, two taps per sweep, in
    contiguous (vectorised) loops along the rows.
    """
    n_rows = out.shape[0]
    n_taps = idx.shape[1]
    spare = np.empty(width)
    a = coef[0]
    b = coef[1]
    for o in range(idx.shape[0]):
        r0 = out[dst[o, 0], :width]
        r1 = out[dst[o, 1], :width] if dst[o, 1] < n_rows else spare[:width]
        x0 = src[idx[o, 0], :width]
        x1 = src[idx[o, 1], :width]
        a0 = a[0]
        a1 = a[1]
        b0 = b[0]
        b1 = b[1]
        for t in range(width):  # the first two taps assign: no zeroing pass
            u = x0[t]
            v = x1[t]
            r0[t] = a0 * u + a1 * v
            r1[t] = b0 * u + b1 * v
        for k in range(2, n_taps, 2):
            x0 = src[idx[o, k], :width]
            x1 = src[idx[o, k + 1], :width]
            a0 = a[k]
            a1 = a[k + 1]
            b0 = b[k]
            b1 = b[k + 1]
            for t in range(width):
                u = x0[t]
                v = x1[t]
                r0[t] += a0 * u + a1 * v
                r1[t] += b0 * u + b1 * v


@kernel(signature=(array(f64, 2), array(i64, 1, True), array(i64, 1, True), array(f64, 3, True), i64,
                   array(f64, 2)))
def filter_row_streams(src, left, right, coef, synthesis, out):
    """One DWT level (``synthesis == 0``) or inverse DWT level (``synthesis == 1``) along axis 1.

    Each row is turned into two streams ``P_0``, ``P_1`` of length ``L``, filtered into two output
    streams of length ``T``::

        Y_p[t] = sum_j coef[p, 0, j] P_0[t + K - 1 - j] + coef[p, 1, j] P_1[t + K - 1 - j]

    - analysis: the row extended to ``[row[left], row, row[right]]`` (``left``: the ``F - 2``
      samples before it, ``right``: those after it, pywt's "symmetric" extension as indices),
      ``P_0`` its odd and ``P_1`` its even samples, ``L = (len(left) + N + len(right)) / 2``;
      ``Y_0`` (approximation) goes to columns ``0 .. T - 1`` and ``Y_1`` (detail) to
      ``T .. 2T - 1``, ``T = M / 2``;
    - synthesis: the row is ``[a | d]``, ``P_0 = a``, ``P_1 = d`` (``L = N / 2``); ``Y_0`` (even
      outputs) goes to columns ``2t``, ``Y_1`` (odd outputs) to ``2t + 1``, the last dropped when
      ``M`` is odd.

    Parameters
    ----------
    src : float64 (R, N), C-contiguous
    left, right : int64, read-only
        Column indices of the extension (empty for a synthesis).
    coef : float64 (2, 2, K), read-only
        ``coef[p, s, j]``: weight of stream ``s`` at tap ``j`` in output ``p``.
    synthesis : int, 0 or 1
    out : float64 (R, M), C-contiguous, output.

    Notes
    -----
    This is the polyphase form of ``pywt.dwt`` / ``pywt.idwt`` along a row: ``a[o] = sum_m
    lo[2m] O[o - m + Q] + lo[2m + 1] E[o - m + Q]`` with ``Q = K - 1 = F/2 - 1``, and ``y[2s + p] =
    sum_j rec_lo[2j + p] a[s + Q - j] + rec_hi[2j + p] d[s + Q - j]``. The split into even and odd
    samples, the filter loops and the interleaving run over contiguous buffers (vectorised).
    """
    n_in = src.shape[1]
    n_out = out.shape[1]
    n_left = left.shape[0]
    n_right = right.shape[0]
    k_taps = coef.shape[2]
    if synthesis:
        n_len = n_in // 2
        n_s = (n_out + 1) // 2
    else:
        n_len = (n_left + n_in + n_right) // 2
        n_s = n_out // 2
    n_pairs = n_in // 2  # analysis: the sample pairs (2t, 2t + 1) inside the row
    p0 = np.empty(n_len)  # local buffers: LLVM knows they alias nothing, and vectorises
    p1 = np.empty(n_len)
    y0 = np.empty(n_s)
    y1 = np.empty(n_s)
    for r in range(src.shape[0]):
        row = src[r]
        o = out[r]
        if not synthesis:  # odd samples of the extended row to p0, even ones to p1
            for q in range(n_left // 2):
                p1[q] = row[left[2 * q]]
                p0[q] = row[left[2 * q + 1]]
            e0 = p0[n_left // 2:]
            e1 = p1[n_left // 2:]
            for t in range(n_pairs):
                e1[t] = row[2 * t]
                e0[t] = row[2 * t + 1]
            e0 = p0[n_left // 2 + n_pairs:]
            e1 = p1[n_left // 2 + n_pairs:]
            for q in range(n_right // 2):
                e1[q] = row[right[2 * q]]
                e0[q] = row[right[2 * q + 1]]
        # a synthesis reads the halves [a | d] of the row in place and interleaves its outputs
        # afterwards; an analysis reads the split buffers and writes its two halves in place
        s0 = row[:n_len] if synthesis else p0[:n_len]
        s1 = row[n_len:2 * n_len] if synthesis else p1[:n_len]
        a = y0[:n_s] if synthesis else o[:n_s]
        b = y1[:n_s] if synthesis else o[n_s:2 * n_s]
        for t in range(n_s):
            a[t] = 0.0
            b[t] = 0.0
        for j in range(k_taps):
            u0 = s0[k_taps - 1 - j:]
            u1 = s1[k_taps - 1 - j:]
            c00 = coef[0, 0, j]
            c01 = coef[0, 1, j]
            c10 = coef[1, 0, j]
            c11 = coef[1, 1, j]
            for t in range(n_s):
                u = u0[t]
                v = u1[t]
                a[t] += c00 * u + c01 * v
                b[t] += c10 * u + c11 * v
        if synthesis:
            for t in range(n_out // 2):
                o[2 * t] = y0[t]
                o[2 * t + 1] = y1[t]
            if n_out % 2:
                o[n_out - 1] = y0[n_out // 2]
