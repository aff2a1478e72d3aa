"""Plain NumPy reference of the spectral family (full, fft-shifted spectrum; masks and bincount).

Never imported by the package. It uses the full complex ``fft2`` in float64, a centred
(``fftshift``) spectrum with explicit frequency grids, boolean masks and ``np.bincount``, while
the package works on the flattened half spectrum of ``rfft2`` with per-shape constants.
"""

import math

import numpy as np

import scipy.fft

from forensics.features._spectral import _geometry, _upsampling_peak, _windowed, spectrum_sums

TAN_WEDGE = math.tan(math.pi / 8)


def _freqs(n):
    """Frequencies in cycles/pixel of the fft-shifted axis: k / n for k = -(n // 2) .. (n - 1) // 2."""
    return np.arange(-(n // 2), (n - 1) // 2 + 1) / n


def shifted_power(luma, window="hann"):
    """(P, fy, fx): centred power spectrum of the mean-subtracted, optionally windowed luma."""
    y = np.asarray(luma, dtype=np.float64)
    h, w = y.shape
    x = y - y.mean()
    if window == "hann":
        wy = np.hanning(h + 2)[1:-1]
        wx = np.hanning(w + 2)[1:-1]
        x = x * np.outer(wy, wx)
    p = np.fft.fftshift(np.abs(np.fft.fft2(x)) ** 2)
    fy, fx = np.meshgrid(_freqs(h), _freqs(w), indexing="ij")
    return p, fy, fx, float(np.sum(x ** 2))


def reference_spectral_vector(luma, n_bins=32, window="hann", cutoff=0.5):
    y = np.asarray(luma, dtype=np.float64)
    h, w = y.shape
    out = np.full(n_bins + 9, np.nan)
    p, fy, fx, energy = shifted_power(y, window)
    if h * w < 2 or energy == 0:
        return out
    floor = 1e-12 * energy
    r = np.sqrt(fx ** 2 + fy ** 2) * 2.0
    nondc = r > 0
    disc = nondc & (r <= 1.0)

    # azimuthal profile of log10 power
    logp = np.log10(np.maximum(p, floor))
    idx = (np.ceil(r[disc] * n_bins) - 1).astype(int)
    counts = np.bincount(idx, minlength=n_bins)
    sums = np.bincount(idx, weights=logp[disc], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(counts > 0, sums / counts, np.nan)
    filled = counts > 0
    if filled.any():
        out[:n_bins] = profile - np.nanmean(profile)

    e_lo = p[disc & (r <= cutoff)].sum()
    e_hi = p[disc & (r > cutoff)].sum()
    if e_lo > 0 and e_hi > 0:
        out[n_bins] = np.log10(e_hi / e_lo)

    if filled.sum() >= 2:
        xc = np.log10((np.arange(n_bins)[filled] + 0.5) / n_bins)
        slope, icpt = np.polyfit(xc, profile[filled], 1)
        out[n_bins + 1] = slope
        out[n_bins + 2] = np.sqrt(np.mean((profile[filled] - (slope * xc + icpt)) ** 2))

    pn = p[nondc]
    if pn.size >= 2 and pn.sum() > 0:
        q = pn / pn.sum()
        q = q[q > 0]
        out[n_bins + 3] = -np.sum(q * np.log(q)) / np.log(pn.size)

    ax, ay = np.abs(fx), np.abs(fy)
    hor = disc & (ay <= TAN_WEDGE * ax)
    ver = disc & (ax <= TAN_WEDGE * ay)
    dia = disc & ~hor & ~ver
    total = p[disc].sum()
    if total > 0:
        out[n_bins + 4:n_bins + 7] = [p[hor].sum() / total, p[ver].sum() / total, p[dia].sum() / total]

    if h >= 5 and w >= 5:
        out[n_bins + 7:n_bins + 9] = [reference_upsampling_peak(p, floor, s) for s in (2, 4)]
    return out


def reference_upsampling_peak(p, floor, s):
    """Mean log10(P(peak) / median of its 5x5 periodic neighbourhood) over the 1/s lattice, on the
    fft-shifted power ``p`` (DC at (H // 2, W // 2))."""
    h, w = p.shape
    cy, cx = h // 2, w // 2
    centre = np.zeros((5, 5), bool)
    centre[2, 2] = True
    vals = []
    for ny in range(-(s // 2), s - s // 2):
        for nx in range(-(s // 2), s - s // 2):
            py = int(np.floor(ny / s * h + 0.5))
            px = int(np.floor(nx / s * w + 0.5))
            if py % h == 0 and px % w == 0:
                continue
            rows = (cy + py + np.arange(-2, 3)) % h
            cols = (cx + px + np.arange(-2, 3)) % w
            patch = np.maximum(p[np.ix_(rows, cols)], floor)
            is_dc = (rows[:, None] == cy) & (cols[None, :] == cx)
            ref = np.median(patch[~centre & ~is_dc])
            vals.append(np.log10(patch[2, 2] / ref))
    return np.mean(vals) if vals else np.nan


# -- kernel cases: the package path (rfft2 half spectrum) vs the NumPy way (fft2 + masks) ----------

def _half_power(luma):
    x, energy = _windowed(luma, "hann")
    spec = scipy.fft.rfft2(x)
    return (np.abs(spec) ** 2).ravel(), x.shape, energy


def _kernel_sums(luma, n_bins=32):
    """bins (n_bins, 2) and the 7 sums of ``spectrum_sums``, through the package's own preparation."""
    p, (h, w), energy = _half_power(luma)
    bins, sums = spectrum_sums(p, _geometry(h, w, n_bins, 0.5), 1e-12 * energy)
    return np.concatenate([bins.ravel(), sums])


def _reference_sums(luma, n_bins=32):
    """The same numbers with masks and bincount on the full shifted spectrum."""
    return _reference_sums_of(*shifted_power(luma, "hann"), n_bins=n_bins)


def _reference_sums_of(p, fy, fx, energy, n_bins=32):
    floor = 1e-12 * energy
    r = np.sqrt(fx ** 2 + fy ** 2) * 2.0
    nondc = r > 0
    disc = nondc & (r <= 1.0)
    idx = (np.ceil(r[disc] * n_bins) - 1).astype(int)
    counts = np.bincount(idx, minlength=n_bins)
    logs = np.bincount(idx, weights=np.log(np.maximum(p[disc], floor)), minlength=n_bins)
    ax, ay = np.abs(fx), np.abs(fy)
    hor = disc & (ay <= TAN_WEDGE * ax)
    ver = disc & (ax <= TAN_WEDGE * ay)
    pn = p[nondc]
    pos = pn[pn > 0]
    sums = [p[disc & (r <= 0.5)].sum(), p[disc & (r > 0.5)].sum(), p[hor].sum(), p[ver].sum(),
            p[disc & ~hor & ~ver].sum(), pn.sum(), np.sum(pos * np.log(pos))]
    return np.concatenate([np.column_stack([counts, logs]).ravel(), sums])


def _kernel_peaks(luma):
    p, (h, w), energy = _half_power(luma)
    return np.array([_upsampling_peak(p, h, w, s, 1e-12 * energy) for s in (2, 4)])


def _reference_peaks(luma):
    p, _, _, energy = shifted_power(luma, "hann")
    return np.array([reference_upsampling_peak(p, 1e-12 * energy, s) for s in (2, 4)])


KERNEL_CASES = [
    ("spectrum_sums", _kernel_sums, _reference_sums),
    ("upsampling_peak", _kernel_peaks, _reference_peaks),
]


# -- benchmark cases: the spectrum is prepared outside the timing, so the ratio is that of the sums --

def _prepare_spectrum(luma):
    p, (h, w), energy = _half_power(luma)
    return dict(p=p, geo=_geometry(h, w, 32, 0.5), h=h, w=w, floor=1e-12 * energy,
                full=shifted_power(luma, "hann"))


def _bench_kernel_sums(prep):
    return spectrum_sums(prep["p"], prep["geo"], prep["floor"])


def _bench_reference_sums(prep):
    return _reference_sums_of(*prep["full"])


def _bench_kernel_peaks(prep):
    return [_upsampling_peak(prep["p"], prep["h"], prep["w"], s, prep["floor"]) for s in (2, 4)]


def _bench_reference_peaks(prep):
    p, _, _, energy = prep["full"]
    return [reference_upsampling_peak(p, 1e-12 * energy, s) for s in (2, 4)]


#: (name, prepare(luma), package(prepared), reference(prepared)) for benchmarks/bench_features.py.
BENCH_CASES = [
    ("spectrum_sums", _prepare_spectrum, _bench_kernel_sums, _bench_reference_sums),
    ("upsampling_peak (NumPy)", _prepare_spectrum, _bench_kernel_peaks, _bench_reference_peaks),
]
