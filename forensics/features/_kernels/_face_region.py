"""Face-region kernel: one pass that sums every per-pixel energy and colour map by region and by radial bin.

``region_sums(labels, bins, res, gx, gy, y, b1, b2, b3, b4, rgb, cb_gain, cr_gain, out, out_bins)``
with ``labels`` (N,) region indices 0..3, ``bins`` (N,) radial bins 0..n_bins (n_bins = outside),
float32 planes of N = H * W pixels (flattened, C order): the KV residual ``res``, the Sobel
gradients ``gx``, ``gy``, the luma ``y`` = ``b0`` and its Gaussian blurs ``b1..b4``, and ``rgb``
(N, 3). Adds to ``out[label]`` (4, 14) float64:

    [count, res^2, gx^2 + gy^2, (b0 - b1)^2, (b1 - b2)^2, (b2 - b3)^2, (b3 - b4)^2,
     Y, Cb, Cr, Y^2, Cb^2, Cr^2, 0]

with ``Y = y``, ``Cb = cb_gain (B - y)``, ``Cr = cr_gain (R - y)``; and to ``out_bins[bin]``
(n_bins + 1, 3): ``[count, res^2, gx^2 + gy^2]``. Sums are float64.
"""

import numpy as np

from ._config import kernel


@kernel
def region_sums(labels, bins, res, gx, gy, y, b1, b2, b3, b4, rgb, cb_gain, cr_gain, out, out_bins):
    n = labels.shape[0]
    for i in range(n):
        k = labels[i]
        r = np.float64(res[i])
        ne = r * r
        a = np.float64(gx[i])
        b = np.float64(gy[i])
        g = a * a + b * b
        v0 = np.float64(y[i])
        v1 = np.float64(b1[i])
        v2 = np.float64(b2[i])
        v3 = np.float64(b3[i])
        v4 = np.float64(b4[i])
        cb = cb_gain * (np.float64(rgb[i, 2]) - v0)
        cr = cr_gain * (np.float64(rgb[i, 0]) - v0)
        row = out[k]
        row[0] += 1.0
        row[1] += ne
        row[2] += g
        row[3] += (v0 - v1) * (v0 - v1)
        row[4] += (v1 - v2) * (v1 - v2)
        row[5] += (v2 - v3) * (v2 - v3)
        row[6] += (v3 - v4) * (v3 - v4)
        row[7] += v0
        row[8] += cb
        row[9] += cr
        row[10] += v0 * v0
        row[11] += cb * cb
        row[12] += cr * cr
        q = bins[i]
        out_bins[q, 0] += 1.0
        out_bins[q, 1] += ne
        out_bins[q, 2] += g
