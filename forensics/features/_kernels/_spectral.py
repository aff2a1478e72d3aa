"""Spectral kernel: one fused pass over the half power spectrum of a real image (``rfft2``)
accumulating the radial, energy-ratio, directional and entropy sums."""

import math

import numpy as np

from ._config import kernel


@kernel
def spectrum_sums(spec, width, n_bins, cutoff, tan_wedge, floor, bins, sums):
    """Accumulate the spectral sums of a real (H, width) image from its ``rfft2`` output.

    Parameters
    ----------
    spec : complex ndarray (H, width // 2 + 1)
        ``scipy.fft.rfft2`` of the image. Column ``j`` has frequency ``fx = j / width`` and row
        ``i`` has ``fy = i / H`` (``(i - H) / H`` above ``(H - 1) // 2``), in cycles/pixel.
        Columns ``1 .. (width - 1) // 2`` stand for themselves and their conjugate mirror
        ``(-fy, -fx)`` (same power, radius and wedge), so they carry weight 2; the others weight 1.
        The DC sample ``(0, 0)`` is skipped.
    width : int
        Width of the image (the parity is not recoverable from ``spec``).
    n_bins : int
        Number of equal-width bins of the normalized radius ``r = 2 sqrt(fx^2 + fy^2)`` on
        (0, 1]: ``r`` falls in bin ``ceil(r * n_bins) - 1``.
    cutoff : float
        Radius separating the low (``0 < r <= cutoff``) and high (``cutoff < r <= 1``) energies.
    tan_wedge : float
        ``tan(22.5 deg)``: a sample is horizontal when ``|fy| <= tan_wedge |fx|``, vertical when
        ``|fx| <= tan_wedge |fy|``, diagonal otherwise.
    floor : float
        Power floor (> 0) applied before the logarithm of the radial bins.
    bins : float64 ndarray (n_bins, 2)
        Receives per bin [weight, sum of weight * ln(max(P, floor))] over samples with r <= 1.
    sums : float64 ndarray (7,)
        Receives [E_low, E_high, E_horizontal, E_vertical, E_diagonal] over 0 < r <= 1, then
        [S, T] = [sum P, sum P ln P] over every non-DC frequency (``0 ln 0 = 0``).

    Notes
    -----
    Along a row (fixed ``fy``) the radius, the low/high split and both wedge tests are monotone
    in ``j``, so each class is a contiguous run of columns, found with the same comparisons as
    the definitions, and the energies are plain (vectorised) sums over runs; the radial bins,
    non-decreasing in ``j``, are summed per run of equal bins.
    """
    h, wh = spec.shape
    bins[:, :] = 0.0
    half = (width - 1) // 2
    log_floor = math.log(floor)
    p = np.empty(wh)
    wp = np.empty(wh)
    lnp = np.empty(wh)
    wgt = np.empty(wh)
    ax = np.empty(wh)
    rad = np.empty(wh)
    for j in range(wh):
        wgt[j] = 2.0 if (1 <= j <= half) else 1.0
        ax[j] = j / width
    e_lo = 0.0
    e_hi = 0.0
    e_h = 0.0
    e_v = 0.0
    e_d = 0.0
    s_all = 0.0
    t_all = 0.0
    for i in range(h):
        ky = i if i <= (h - 1) // 2 else i - h
        ay = abs(ky / h)
        row = spec[i]
        for j in range(wh):
            c = row[j]
            re = np.float64(c.real)
            im = np.float64(c.imag)
            v = re * re + im * im
            p[j] = v
            wp[j] = wgt[j] * v
        for j in range(wh):  # a tight loop of library logs (no vector math library in numba here)
            lnp[j] = math.log(p[j]) if p[j] > 0.0 else -np.inf
        start = 1 if i == 0 else 0  # DC excluded
        s_row = 0.0
        t_row = 0.0
        for j in range(start, wh):
            s_row += wp[j]
            t_row += wp[j] * lnp[j] if p[j] > 0.0 else 0.0
        s_all += s_row
        t_all += t_row
        # the runs of the disc 0 < r <= 1 and of its classes (monotone in j)
        ay2 = ay * ay
        for j in range(wh):
            rad[j] = 2.0 * math.sqrt(ax[j] * ax[j] + ay2)
        end = start
        while end < wh and not rad[end] > 1.0:
            end += 1
        cut = start
        while cut < end and not rad[cut] > cutoff:
            cut += 1
        j_h = start  # first horizontal column: ay <= tan ax
        while j_h < end and not ay <= tan_wedge * ax[j_h]:
            j_h += 1
        j_v = start  # end of the vertical run: ax <= tan ay (and not horizontal)
        while j_v < j_h and ax[j_v] <= tan_wedge * ay:
            j_v += 1
        acc = 0.0
        for j in range(start, cut):
            acc += wp[j]
        e_lo += acc
        acc = 0.0
        for j in range(cut, end):
            acc += wp[j]
        e_hi += acc
        acc = 0.0
        for j in range(j_h, end):
            acc += wp[j]
        e_h += acc
        acc = 0.0
        for j in range(start, j_v):
            acc += wp[j]
        e_v += acc
        acc = 0.0
        for j in range(j_v, j_h):
            acc += wp[j]
        e_d += acc
        # radial bins: the bin index is non-decreasing in j, so runs of one bin are summed first
        b_run = -1
        n_run = 0.0
        l_run = 0.0
        for j in range(start, end):
            b = int(math.ceil(rad[j] * n_bins)) - 1
            lp = lnp[j] if p[j] > floor else log_floor
            if b != b_run:
                if b_run >= 0:
                    bins[b_run, 0] += n_run
                    bins[b_run, 1] += l_run
                b_run = b
                n_run = 0.0
                l_run = 0.0
            n_run += wgt[j]
            l_run += wgt[j] * lp
        if b_run >= 0:
            bins[b_run, 0] += n_run
            bins[b_run, 1] += l_run
    sums[0] = e_lo
    sums[1] = e_hi
    sums[2] = e_h
    sums[3] = e_v
    sums[4] = e_d
    sums[5] = s_all
    sums[6] = t_all


@kernel
def _power_at(spec, width, ky, kx):
    """Power at full-spectrum indices (ky, kx), 0 <= ky < H, 0 <= kx < width, from ``rfft2``."""
    if kx > width // 2:  # not stored: use the conjugate mirror (-ky, -kx)
        ky = (spec.shape[0] - ky) % spec.shape[0]
        kx = width - kx
    c = spec[ky, kx]
    re = np.float64(c.real)
    im = np.float64(c.imag)
    return re * re + im * im


@kernel
def upsampling_peak(spec, width, factor, radius, floor):
    """Mean log10 prominence of the spectral peaks that ``factor``-fold up-sampling leaves.

    The peaks are the frequencies ``(fy, fx) = (a / factor, b / factor)`` for integers
    ``a, b`` in ``-(factor // 2) .. factor - factor // 2 - 1`` (the lattice in [-0.5, 0.5)^2),
    each taken at its nearest sample ``k = floor(f N + 0.5) mod N`` per axis; peaks landing on
    DC are skipped. A peak's prominence is ``log10(max(P[k], floor) / m)``, ``m`` the median of
    ``max(P, floor)`` over the other samples of the periodic ``(2 radius + 1)^2`` window around
    ``k``, DC left out. Returns NaN when no peak is left. ``spec`` is the ``rfft2`` output of a
    real (H, width) image.
    """
    h = spec.shape[0]
    size = 2 * radius + 1
    buf = np.empty(size * size)
    lo = -(factor // 2)
    hi = factor - factor // 2
    total = 0.0
    n_peaks = 0
    for a in range(lo, hi):
        ky = int(math.floor(a / factor * h + 0.5)) % h
        for b in range(lo, hi):
            kx = int(math.floor(b / factor * width + 0.5)) % width
            if ky == 0 and kx == 0:
                continue
            m = 0
            for dy in range(-radius, radius + 1):
                ny = (ky + dy) % h
                for dx in range(-radius, radius + 1):
                    nx = (kx + dx) % width
                    if (dy == 0 and dx == 0) or (ny == 0 and nx == 0):
                        continue
                    buf[m] = max(_power_at(spec, width, ny, nx), floor)
                    m += 1
            vals = np.sort(buf[:m])
            med = 0.5 * (vals[(m - 1) // 2] + vals[m // 2])
            peak = max(_power_at(spec, width, ky, kx), floor)
            total += math.log10(peak / med)
            n_peaks += 1
    if n_peaks == 0:
        return np.nan
    return total / n_peaks
