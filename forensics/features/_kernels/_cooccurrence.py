"""Residual co-occurrence kernels: quantized, truncated high-pass residual codes and the histograms
of their co-occurring tuples along rows, along columns and across colour channels.

A residual ``r`` becomes the code ``clip(rint(r / q), -T, T) + T`` in ``0..2T`` (``rint`` rounds
half to even, so the quantizer is odd-symmetric: ``code(-r) = 2T - code(r)``). A tuple of ``d``
codes ``(c_0, ..., c_{d-1})`` is histogram bin ``sum_k c_k * B ** (d - 1 - k)`` with ``B = 2T + 1``
(``c_0`` is the most significant digit). Histograms are float64 counts added into ``out``.

Loops run over contiguous rows (a residual row is a sum of shifted row slices, so LLVM vectorises
it); the histogram loops count into four interleaved sub-histograms, which breaks the
store-to-load dependency of runs of equal bins (most residual codes of a smooth image are 0).
"""

import numpy as np

from ._config import kernel


@kernel
def _quantize_row(buf, inv, t, out):
    for j in range(out.shape[0]):
        c = np.rint(buf[j] * inv)
        c = min(max(c, -t), t)
        out[j] = np.int8(c + t)


@kernel
def directional_codes(img, taps, q, t, out_h, out_v):
    """Codes of a 1-D high-pass filter applied along rows (``out_h``) and along columns (``out_v``).

    ``taps`` (length L) is correlated with the image: ``r_h[i, j] = sum_k taps[k] img[i, j + k]``
    for ``0 <= j < W - L + 1`` and ``r_v[i, j] = sum_k taps[k] img[i + k, j]`` for
    ``0 <= i < H - L + 1``. ``out_h`` is (H, W - L + 1) and ``out_v`` (H - L + 1, W), int8.
    """
    h, w = img.shape
    n = taps.shape[0]
    inv = 1.0 / q
    tf = np.float64(t)
    m = w - n + 1
    if m > 0:
        buf = np.empty(m)
        for i in range(h):
            src = img[i]
            t0 = taps[0]
            for j in range(m):
                buf[j] = t0 * np.float64(src[j])
            for k in range(1, n):
                s = src[k:k + m]
                tk = taps[k]
                for j in range(m):
                    buf[j] += tk * np.float64(s[j])
            _quantize_row(buf, inv, tf, out_h[i])
    if h - n + 1 > 0:
        buf = np.empty(w)
        for i in range(h - n + 1):
            t0 = taps[0]
            src = img[i]
            for j in range(w):
                buf[j] = t0 * np.float64(src[j])
            for k in range(1, n):
                s = img[i + k]
                tk = taps[k]
                for j in range(w):
                    buf[j] += tk * np.float64(s[j])
            _quantize_row(buf, inv, tf, out_v[i])


@kernel
def square_codes(img, taps, q, t, out):
    """Codes of a 2-D high-pass filter ``taps`` (K x K) over the valid region: ``out`` is
    (H - K + 1, W - K + 1), ``r[i, j] = sum_{a, b} taps[a, b] img[i + a, j + b]``."""
    kh, kw = taps.shape
    inv = 1.0 / q
    tf = np.float64(t)
    m = out.shape[1]
    buf = np.empty(m)
    for i in range(out.shape[0]):
        buf[:] = 0.0
        for a in range(kh):
            src = img[i + a]
            for b in range(kw):
                s = src[b:b + m]
                tk = taps[a, b]
                for j in range(m):
                    buf[j] += tk * np.float64(s[j])
        _quantize_row(buf, inv, tf, out[i])


@kernel
def _count(idx, n, counts):
    """counts[k % 4, idx[k]] += 1 for k < n (four interleaved sub-histograms)."""
    k = 0
    while k + 4 <= n:
        counts[0, idx[k]] += 1
        counts[1, idx[k + 1]] += 1
        counts[2, idx[k + 2]] += 1
        counts[3, idx[k + 3]] += 1
        k += 4
    while k < n:
        counts[0, idx[k]] += 1
        k += 1


@kernel
def tuple_histogram_rows(codes, order, base, out):
    """Add the histogram of the ``order`` consecutive codes along each row of ``codes`` to ``out``."""
    h, w = codes.shape
    m = w - order + 1
    if m <= 0:
        return
    counts = np.zeros((4, out.shape[0]), dtype=np.int64)
    idx = np.empty(m, dtype=np.int64)
    for i in range(h):
        row = codes[i]
        for j in range(m):
            idx[j] = row[j]
        for k in range(1, order):
            s = row[k:k + m]
            for j in range(m):
                idx[j] = idx[j] * base + s[j]
        _count(idx, m, counts)
    for b in range(out.shape[0]):
        out[b] += counts[0, b] + counts[1, b] + counts[2, b] + counts[3, b]


@kernel
def tuple_histogram_cols(codes, order, base, out):
    """Add the histogram of the ``order`` consecutive codes down each column of ``codes`` to ``out``."""
    h, w = codes.shape
    if h - order + 1 <= 0:
        return
    counts = np.zeros((4, out.shape[0]), dtype=np.int64)
    idx = np.empty(w, dtype=np.int64)
    for i in range(h - order + 1):
        row = codes[i]
        for j in range(w):
            idx[j] = row[j]
        for k in range(1, order):
            s = codes[i + k]
            for j in range(w):
                idx[j] = idx[j] * base + s[j]
        _count(idx, w, counts)
    for b in range(out.shape[0]):
        out[b] += counts[0, b] + counts[1, b] + counts[2, b] + counts[3, b]


@kernel
def channel_histogram(c0, c1, c2, base, out):
    """Add the histogram of the code triples ``(c0, c1, c2)`` at each position to ``out``."""
    h, w = c0.shape
    counts = np.zeros((4, out.shape[0]), dtype=np.int64)
    idx = np.empty(w, dtype=np.int64)
    for i in range(h):
        a = c0[i]
        b = c1[i]
        c = c2[i]
        for j in range(w):
            idx[j] = (np.int64(a[j]) * base + b[j]) * base + c[j]
        _count(idx, w, counts)
    for k in range(out.shape[0]):
        out[k] += counts[0, k] + counts[1, k] + counts[2, k] + counts[3, k]
