"""NumPy twins of the wavelet, Haar and median kernels of :mod:`._noise`, used until those compile.

``filter_row_pairs``, ``filter_row_streams``, ``haar_abs_hh`` and ``median_flat`` each have a twin
here with the kernel's signature and semantics (outputs written in place, columns and rows the
kernel leaves alone left alone, the same return value), written in plain NumPy: no numba, so
calling a twin compiles nothing. The library calls a twin while its kernel is neither compiled in
the process nor in numba's on-disk cache (issue 10, cold start).

Values: ``haar_abs_hh`` and ``median_flat`` give the kernel's values bitwise (the Haar band is exact
float64 arithmetic on float32 input; the median is a selection, then the kernel's one rounding
``0.5 * (lower + upper)``). The two filter twins compute the same sums of ``K`` (or ``2K``)
products in another order (BLAS), so they agree with the kernels to a few ulps of the largest term:
within ``1e-12`` relative, or ``1e-14 * max|src| * sum|coef|`` absolute where a coefficient is zero
up to rounding (a detail coefficient of a smooth signal). They make no discrete decision.

Speed: one gathered block of taps and one matrix product per chunk of rows (chunks of at most
:data:`_BLOCK` gathered values, so the block stays in cache on large images);
``benchmarks/twins_wavelet.py`` measures them against the kernels.
"""

import numpy as np

__all__ = ["TWINS", "filter_row_pairs", "filter_row_streams", "haar_abs_hh", "median_flat"]

#: Gathered float64 values per chunk in the filter twins (2 MiB).
_BLOCK = 1 << 18


def filter_row_pairs(src, dst, idx, coef, width, out):
    """Twin of :func:`._noise.filter_row_pairs`: ``out[dst[o, p], :width] = coef[p] @ src[idx[o], :width]``.

    The source rows of a chunk of table rows are gathered as one (rows, K, width) block and
    weighted by one batched matrix product; a second output row at or past ``out.shape[0]`` is
    dropped. As for the kernel, ``src`` and ``out`` must not overlap.
    """
    n, k = idx.shape
    n_rows = out.shape[0]
    rows = src[:, :width]
    step = max(1, _BLOCK // max(1, k * width))
    for o0 in range(0, n, step):
        o1 = min(n, o0 + step)
        taps = np.take(rows, idx[o0:o1].ravel(), axis=0).reshape(o1 - o0, k, width)
        y = np.matmul(coef, taps)  # (rows, 2, width)
        d = dst[o0:o1]
        out[d[:, 0], :width] = y[:, 0]
        keep = d[:, 1] < n_rows
        out[d[keep, 1], :width] = y[keep, 1]


def _stream_columns(n_in, left, right, synthesis):
    """Column indices ``cols`` of a row such that ``row[cols]`` interleaves the two streams of
    :func:`filter_row_streams`: ``row[cols[2q]] = P_1[q]``, ``row[cols[2q + 1]] = P_0[q]``."""
    if synthesis:  # P_0 = a = row[:L], P_1 = d = row[L:2L]
        half = n_in // 2
        cols = np.empty(2 * half, dtype=np.int64)
        cols[0::2] = np.arange(half, 2 * half)
        cols[1::2] = np.arange(half)
        return cols
    # the extended row [row[left], row[:2 (N // 2)], row[right]], whole pairs of each part
    return np.concatenate([left[:left.shape[0] // 2 * 2], np.arange(n_in // 2 * 2),
                           right[:right.shape[0] // 2 * 2]]).astype(np.int64, copy=False)


def filter_row_streams(src, left, right, coef, synthesis, out):
    """Twin of :func:`._noise.filter_row_streams`: one DWT (``synthesis == 0``) or inverse DWT level
    along axis 1.

    The two streams of each row are interleaved (``P_1[q]``, ``P_0[q]``, ...), so that output ``t``
    of both filters reads the ``2K`` consecutive values from ``2t``: for a chunk of rows, those
    windows are gathered as a (2K, rows, T) block and weighted by one matrix product with the
    (2, 2K) taps. Columns of ``out`` the kernel does not write (an odd analysis width's last one)
    are left alone.
    """
    n_r, n_in = src.shape
    n_out = out.shape[1]
    k = coef.shape[2]
    n_s = (n_out + 1) // 2 if synthesis else n_out // 2
    cols = _stream_columns(n_in, left, right, synthesis)
    # weight of window position i = 2 (K - 1 - j) + (1 for P_0, 0 for P_1) in output p: coef[p, s, j]
    taps = np.empty((2, 2 * k))
    taps[:, 1::2] = coef[:, 0, ::-1]
    taps[:, 0::2] = coef[:, 1, ::-1]
    half = n_out // 2
    step = max(1, _BLOCK // max(1, 2 * k * n_s))
    for r0 in range(0, n_r, step):
        r1 = min(n_r, r0 + step)
        streams = np.take(src[r0:r1], cols, axis=1)
        windows = np.empty((2 * k, r1 - r0, n_s))
        for i in range(2 * k):
            windows[i] = streams[:, i:i + 2 * n_s:2]
        y = (taps @ windows.reshape(2 * k, -1)).reshape(2, r1 - r0, n_s)
        o = out[r0:r1]
        if synthesis:  # even outputs from y[0], odd ones from y[1]; an odd width ends on y[0]
            o[:, 0:2 * half:2] = y[0, :, :half]
            o[:, 1:2 * half:2] = y[1, :, :half]
            if n_out % 2:
                o[:, n_out - 1] = y[0, :, half]
        else:
            o[:, :n_s] = y[0]
            o[:, n_s:2 * n_s] = y[1]


def haar_abs_hh(plane, hh):
    """Twin of :func:`._noise.haar_abs_hh`: ``hh = |(a - b) - (c - d)| / 2`` over the 2x2 blocks,
    by strided slicing in float64 (the same operations in the same order: bitwise equal)."""
    ho, wo = hh.shape
    x = plane[:2 * ho, :2 * wo]
    top, bottom = x[0::2], x[1::2]
    diff = np.subtract(top[:, 0::2], top[:, 1::2], dtype=np.float64)
    diff -= np.subtract(bottom[:, 0::2], bottom[:, 1::2], dtype=np.float64)
    np.abs(diff, out=diff)
    np.multiply(diff, 0.5, out=hh)


def median_flat(vals, counts, cand):
    """Twin of :func:`._noise.median_flat`: the exact median of ``vals`` (n,) by ``np.partition``
    of a copy in ``cand``; ``0.5 * (lower + upper)`` for an even count, as the kernel.

    ``counts`` is not used; ``cand`` is scratch here as in the kernel (its contents afterwards are
    unspecified in both). ``n == 0`` is outside the kernel's contract; the twin returns what the
    kernel does then, ``0.5 * (-inf + cand[0])``.
    """
    n = vals.shape[0]
    if n == 0:
        return float(0.5 * (-np.inf + cand[0]))
    k = n // 2
    part = cand[:n]
    np.copyto(part, vals)
    if n % 2:
        part.partition(k)
        return float(part[k])
    part.partition((k - 1, k))
    return float(0.5 * (part[k - 1] + part[k]))


#: Kernel name -> twin.
TWINS = {
    "filter_row_pairs": filter_row_pairs,
    "filter_row_streams": filter_row_streams,
    "haar_abs_hh": haar_abs_hh,
    "median_flat": median_flat,
}
