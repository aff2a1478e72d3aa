"""Up-sampling residual kernels: per-phase sums of neighbouring-pixel differences in one pass.

``phase_sums(y, out)`` fills ``out`` (48 float64) for a (H, W) image:

- horizontal, ``D[i, j] = y[i, j+1] - y[i, j]`` with phase ``p = j % 2``:
  ``out[p]`` count, ``out[2 + p]`` sum of ``D^2``; for the consecutive pairs ``(D[i, j], D[i, j+1])``
  with ``p = j % 2``, ``out[4 + 6p : 10 + 6p]`` = count, sum a, sum b, sum a^2, sum b^2, sum ab;
  for the second difference ``S = y[i, j] - 2 y[i, j+1] + y[i, j+2]`` centred on column ``j + 1``
  with ``p = (j + 1) % 2``, ``out[16 + p]`` count and ``out[18 + p]`` sum of ``S^2``;
- vertical: the same layout at ``out[20:40]`` along columns (phase = row parity);
- diagonal, ``D[i, j] = y[i+1, j+1] - y[i, j]`` with phase ``k = 2 (i % 2) + j % 2``:
  ``out[40 + k]`` count and ``out[44 + k]`` sum of ``D^2``.
"""

import numpy as np

from ._config import kernel


@kernel
def _row_sums(r, out, base):
    """Horizontal sums of one row ``r`` into ``out[base:base + 20]``."""
    w = r.shape[0]
    for p in range(2):
        n = 0.0
        e = 0.0
        for j in range(p, w - 1, 2):
            d = np.float64(r[j + 1]) - np.float64(r[j])
            n += 1.0
            e += d * d
        out[base + p] += n
        out[base + 2 + p] += e
        m = 0.0
        sa = 0.0
        sb = 0.0
        saa = 0.0
        sbb = 0.0
        sab = 0.0
        f = 0.0
        for j in range(p, w - 2, 2):
            a = np.float64(r[j + 1]) - np.float64(r[j])
            b = np.float64(r[j + 2]) - np.float64(r[j + 1])
            m += 1.0
            sa += a
            sb += b
            saa += a * a
            sbb += b * b
            sab += a * b
            s = b - a
            f += s * s
        k = base + 4 + 6 * p
        out[k] += m
        out[k + 1] += sa
        out[k + 2] += sb
        out[k + 3] += saa
        out[k + 4] += sbb
        out[k + 5] += sab
        q = 1 - p  # the second difference starting at j is centred on j + 1
        out[base + 16 + q] += m
        out[base + 18 + q] += f


@kernel
def phase_sums(y, out):
    """Fill ``out[:48]`` with the per-phase sums of the module docstring (``out`` is zeroed first)."""
    h, w = y.shape
    out[:] = 0.0
    for i in range(h):
        _row_sums(y[i], out, 0)
    for i in range(h - 1):
        p = i % 2
        r0 = y[i]
        r1 = y[i + 1]
        e = 0.0
        for j in range(w):
            d = np.float64(r1[j]) - np.float64(r0[j])
            e += d * d
        out[20 + p] += w
        out[22 + p] += e
        if i + 2 < h:
            r2 = y[i + 2]
            sa = 0.0
            sb = 0.0
            saa = 0.0
            sbb = 0.0
            sab = 0.0
            f = 0.0
            for j in range(w):
                a = np.float64(r1[j]) - np.float64(r0[j])
                b = np.float64(r2[j]) - np.float64(r1[j])
                sa += a
                sb += b
                saa += a * a
                sbb += b * b
                sab += a * b
                s = b - a
                f += s * s
            k = 24 + 6 * p
            out[k] += w
            out[k + 1] += sa
            out[k + 2] += sb
            out[k + 3] += saa
            out[k + 4] += sbb
            out[k + 5] += sab
            q = 1 - p
            out[36 + q] += w
            out[38 + q] += f
        for c in range(2):
            n = 0.0
            e = 0.0
            for j in range(c, w - 1, 2):
                d = np.float64(r1[j + 1]) - np.float64(r0[j])
                n += 1.0
                e += d * d
            out[40 + 2 * p + c] += n
            out[44 + 2 * p + c] += e
