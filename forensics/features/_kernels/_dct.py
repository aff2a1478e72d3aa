"""Block-DCT kernels: one fused pass over the 8x8 JPEG grid (transform, per-frequency power sums,
histograms of rounded magnitudes, block-boundary differences), and the quantization-lattice
scores of those histograms."""

import numpy as np

from ._config import array, f32, f64, i64, kernel


#: A coefficient within this of a half-integer is that half-integer. On integer-valued luma (grey
#: images, decoded JPEG luma) the (0, 0), (0, 4), (4, 0) and (4, 4) coefficients, and some others, are
#: multiples of 1/8 in exact arithmetic, so exact half-integers occur; their computed values fall a
#: last bit above or below, so plain ``rint`` put them in one bin or the next depending on the CPU
#: (fused multiply-adds) and on the code (the NumPy twin). Since version 0.2.0 they round half to even
#: as exact arithmetic says. The margin is wide: the kernel and its twin, computing the coefficients
#: (|c| <= 1024) in two orders, differed by at most 4.5e-13 (``benchmarks/twins_dbs.py``).
TIE = 1e-9


@kernel(signature=(array(f32, 2), array(f64, 2), array(f64, 2), array(f64, 2), array(i64, 2), array(f64, 1)))
def block_dct_stats(img, basis, coefs, moments, hist, edges):
    """Orthonormal 8x8 DCT-II of every complete block of ``img - 128``, with statistics, in one pass.

    Blocks are aligned to the image origin (the JPEG grid); the incomplete blocks of the right
    and bottom borders are skipped. Block ``b = by * (W // 8) + bx`` covers rows ``8 by .. 8 by + 7``
    and columns ``8 bx .. 8 bx + 7``.

    Parameters
    ----------
    img : float32 (H, W)
        Luma, 0..255.
    basis : float64 (8, 8)
        The orthonormal DCT-II matrix ``C[u, x] = a(u) cos(pi (2x + 1) u / 16)``,
        ``a(0) = sqrt(1/8)``, ``a(u > 0) = 1/2``. The transform of a block ``B`` is ``C @ B @ C.T``;
        it is computed with the even/odd butterfly of the basis (``C[u, 7 - x] = (-1)^u C[u, x]``).
    coefs : float64 (n_blocks, 64) or (0, 64)
        Receives the coefficients in natural (row-major, ``u * 8 + v``) order; a buffer with no
        rows switches the storage off (the statistics are still computed).
    moments : float64 (64, 4), zeroed
        Receives the power sums ``[sum c, sum c^2, sum c^3, sum c^4]`` of each frequency.
    hist : int64 (64, n_bins), zeroed
        Receives the histogram of ``min(|rint(c)|, n_bins - 1)`` of each frequency
        (``rint`` rounds half to even; a coefficient within ``TIE`` of a half-integer counts as that
        half-integer, see :data:`TIE`).
    edges : float64 (4,)
        Receives ``[sum |d| within blocks, n within, sum |d| across block boundaries, n across]``
        over horizontal and vertical neighbour pairs ``d`` of the complete-block area; a pair
        crosses a boundary when its first pixel is the last row/column of a block and the next
        block is complete too.
    """
    h, w = img.shape
    nby = h // 8
    nbx = w // 8
    store = coefs.shape[0] > 0
    top = hist.shape[1] - 1
    ce = np.empty((4, 4))
    co = np.empty((4, 4))
    for i in range(4):
        for x in range(4):
            ce[i, x] = basis[2 * i, x]
            co[i, x] = basis[2 * i + 1, x]
    blk = np.empty((8, 8))
    tmp = np.empty((8, 8))
    res = np.empty((8, 8))
    within = 0.0
    across = 0.0
    n_across = 0
    for by in range(nby):
        y0 = by * 8
        for bx in range(nbx):
            x0 = bx * 8
            for r in range(8):
                for x in range(8):
                    blk[r, x] = np.float64(img[y0 + r, x0 + x]) - 128.0
            # boundary differences
            for r in range(8):
                for x in range(7):
                    within += abs(blk[r, x + 1] - blk[r, x])
                    within += abs(blk[x + 1, r] - blk[x, r])
            if bx + 1 < nbx:
                for r in range(8):
                    across += abs(np.float64(img[y0 + r, x0 + 8]) - np.float64(img[y0 + r, x0 + 7]))
                n_across += 8
            if by + 1 < nby:
                for x in range(8):
                    across += abs(np.float64(img[y0 + 8, x0 + x]) - np.float64(img[y0 + 7, x0 + x]))
                n_across += 8
            # rows: tmp[r, u] = sum_x C[u, x] blk[r, x]
            for r in range(8):
                s0 = blk[r, 0] + blk[r, 7]
                s1 = blk[r, 1] + blk[r, 6]
                s2 = blk[r, 2] + blk[r, 5]
                s3 = blk[r, 3] + blk[r, 4]
                d0 = blk[r, 0] - blk[r, 7]
                d1 = blk[r, 1] - blk[r, 6]
                d2 = blk[r, 2] - blk[r, 5]
                d3 = blk[r, 3] - blk[r, 4]
                for i in range(4):
                    tmp[r, 2 * i] = ce[i, 0] * s0 + ce[i, 1] * s1 + ce[i, 2] * s2 + ce[i, 3] * s3
                    tmp[r, 2 * i + 1] = co[i, 0] * d0 + co[i, 1] * d1 + co[i, 2] * d2 + co[i, 3] * d3
            # columns: res[u, v] = sum_r C[u, r] tmp[r, v]
            for v in range(8):
                s0 = tmp[0, v] + tmp[7, v]
                s1 = tmp[1, v] + tmp[6, v]
                s2 = tmp[2, v] + tmp[5, v]
                s3 = tmp[3, v] + tmp[4, v]
                d0 = tmp[0, v] - tmp[7, v]
                d1 = tmp[1, v] - tmp[6, v]
                d2 = tmp[2, v] - tmp[5, v]
                d3 = tmp[3, v] - tmp[4, v]
                for i in range(4):
                    res[2 * i, v] = ce[i, 0] * s0 + ce[i, 1] * s1 + ce[i, 2] * s2 + ce[i, 3] * s3
                    res[2 * i + 1, v] = co[i, 0] * d0 + co[i, 1] * d1 + co[i, 2] * d2 + co[i, 3] * d3
            b = by * nbx + bx
            for u in range(8):
                for v in range(8):
                    k = u * 8 + v
                    c = res[u, v]
                    if store:
                        coefs[b, k] = c
                    c2 = c * c
                    moments[k, 0] += c
                    moments[k, 1] += c2
                    moments[k, 2] += c2 * c
                    moments[k, 3] += c2 * c2
                    a = abs(c)
                    f = np.floor(a)
                    if abs(a - f - 0.5) <= TIE:  # a half-integer in exact arithmetic: half to even, whatever the last bit
                        a = f + f % 2.0
                    else:
                        a = np.rint(a)
                    idx = top if a >= top else int(a)
                    hist[k, idx] += 1
    edges[0] = within
    edges[1] = 112.0 * nby * nbx
    edges[2] = across
    edges[3] = n_across


@kernel
def lattice_scores(hist, out):
    """On-lattice and expected-off-lattice counts of each histogram row for every step ``q``.

    For row ``k`` and ``2 <= q < out.shape[1]``, over the multiples ``n = m q`` (``m >= 1``) with
    ``n + 1 < n_bins``::

        out[k, q, 0] = sum_m hist[k, m q]
        out[k, q, 1] = sum_m (hist[k, m q - 1] + hist[k, m q + 1]) / 2

    The second sum is what the lattice bins would hold if the histogram were locally linear
    (no quantization). ``out`` comes zeroed; entries for ``q < 2`` stay zero. The sums stop after the last non-empty
    bin ``a`` of the row (terms with ``n - 1 > a`` are zero): coefficient magnitudes rarely
    reach the top of the histogram, so this skips most of the strided reads.
    """
    n_rows, n_bins = hist.shape
    n_q = out.shape[1]
    for k in range(n_rows):
        row = hist[k]
        last = n_bins - 1
        while last >= 0 and row[last] == 0:
            last -= 1
        limit = min(n_bins - 1, last + 2)  # n + 1 < n_bins and n - 1 <= last
        for q in range(2, min(n_q, limit)):
            on = 0
            off = 0
            n = q
            while n < limit:
                on += row[n]
                off += row[n - 1] + row[n + 1]
                n += q
            out[k, q, 0] = on
            out[k, q, 1] = 0.5 * off


@kernel(signature=(array(i64, 2), i64, i64, f64, f64, f64, array(f64, 1)))
def lattice_steps(hist, n_q, min_informative, min_score, z, rho, steps):
    """Quantization step of each histogram row from its lattice scores (the rule of ``estimate_steps``).

    With ``n_inf = sum_{a >= 2} hist[k, a]`` and, for ``2 <= q < n_q``, the excess
    ``X(q) = (on(q) - off(q)) / max(n_inf, 1)`` of :func:`lattice_scores`:

    - NaN when ``n_inf < min_informative`` or when one bin ``a >= 2`` holds all of ``n_inf``;
    - else 1 when ``max X < max(min_score, z / sqrt(n_inf))`` (no lattice);
    - else the largest ``q`` with ``X(q) >= rho max X``.

    ``steps`` : float64 (n_rows,), output.
    """
    n_rows, n_bins = hist.shape
    scores = np.zeros((n_rows, n_q, 2))
    lattice_scores(hist, scores)
    for k in range(n_rows):
        row = hist[k]
        n_inf = 0
        top = 0
        for a in range(2, n_bins):
            n_inf += row[a]
            top = max(top, row[a])
        if n_inf < min_informative or top == n_inf:
            steps[k] = np.nan
            continue
        denom = max(np.float64(n_inf), 1.0)
        best = -np.inf
        for q in range(2, n_q):
            best = max(best, (scores[k, q, 0] - scores[k, q, 1]) / denom)
        if best < max(min_score, z / np.sqrt(np.float64(n_inf))):
            steps[k] = 1.0
            continue
        step = 2
        for q in range(n_q - 1, 1, -1):
            if (scores[k, q, 0] - scores[k, q, 1]) / denom >= rho * best:
                step = q
                break
        steps[k] = step
