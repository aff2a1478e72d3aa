"""Fourier-spectrum features of the luma: radial profile, energy ratios, direction, up-sampling peaks."""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft

from ._base import BaseExtractor, FeatureDoc, Interval, Options
from ._kernels import _spectral as _compiled
from ._kernels._tier import tiered
from ._workspace import scratch

#: The kernels as the feature code calls them: their NumPy twins until compiling them pays off.
weighted_sums = tiered(_compiled.weighted_sums)

__all__ = ["SpectralFeatures", "spectral_features", "spectral_vector"]

_DURALL = ("Durall et al., 'Watch your up-convolution: CNN based generative deep neural networks are failing "
           "to reproduce spectral distributions', CVPR 2020, doi:10.1109/CVPR42600.2020.00791; "
           "Durall et al., 'Unmasking DeepFakes with simple features', arXiv:1911.00686 (2019)")
_DZANIC = ("Dzanic, Shah & Witherden, 'Fourier spectrum discrepancies in deep network generated images', "
           "NeurIPS 2020, arXiv:1911.06465")
_ZHANG = ("Zhang, Karaman & Chang, 'Detecting and simulating artifacts in GAN fake images', WIFS 2019, "
          "doi:10.1109/WIFS47025.2019.9035107; Odena, Dumoulin & Olah, 'Deconvolution and checkerboard "
          "artifacts', Distill 2016, doi:10.23915/distill.00003")
_SHANNON = "Shannon, 'A mathematical theory of communication', Bell Syst. Tech. J. 1948, doi:10.1002/j.1538-7305.1948.tb01338.x"

#: tan(22.5 deg): half-width of the directional wedges.
_TAN_WEDGE = math.tan(math.pi / 8)
#: Power floor before logarithms, relative to the mean power (Parseval: sum of squared pixels).
_REL_FLOOR = 1e-12
#: Up-sampling factors whose spectral peaks are measured.
_FACTORS = (2, 4)
#: Half-size of the neighbourhood whose median normalizes a peak (5 x 5 window).
_PEAK_RADIUS = 2
_N_SCALARS = 9


class SpectralFeatures(BaseExtractor):
    """Fourier power spectrum of the luma: radial profile, high/low energy, slope, direction, peaks.

    Up-sampling layers of generators (transposed convolutions, nearest / zero-insertion
    up-sampling) leave their mark in the frequency domain: a distorted high-frequency tail of the
    azimuthally averaged spectrum and periodic peaks at multiples of ``1 / factor`` cycles/pixel.

    Parameters
    ----------
    n_bins : int, default=32
        Number of equal-width normalized-radius bins on (0, 1] of the azimuthal profile.
    window : {"hann", None}, default="hann"
        Taper applied to the mean-subtracted luma before the FFT, to suppress the cross that the
        image borders (a periodic extension with jumps) leave on the frequency axes.
    cutoff : float, default=0.5
        Normalized radius separating low and high frequencies in ``hf_lf_ratio``.
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``spectral__<feature>__<param>``; see ``feature_docs`` and ``docs/features.md``.

    See Also
    --------
    spectral_features : the single-image function.

    Notes
    -----
    With ``Y`` the BT.601 luma (H x W, any size, never resized), ``x = (Y - mean(Y)) w`` where
    ``w[i, j] = v_H[i] v_W[j]``, ``v_N[n] = sin^2(pi (n + 1) / (N + 1))`` (the Hann window of
    ``N + 2`` points without its two zero end points, so no pixel is lost; ``v = 1`` when
    ``window=None``). ``P = |FFT2(x)|^2`` with frequencies ``fx, fy`` in [-0.5, 0.5)
    cycles/pixel, normalized radius ``r = sqrt(fx^2 + fy^2) / 0.5`` (1 at Nyquist on the axes).
    DC (``r = 0``) is always excluded; the corners ``r > 1`` are excluded from every feature but
    ``entropy`` and ``upsampling_peak``. Logarithms use ``max(P, f)`` with the floor
    ``f = 1e-12 sum(x^2)`` (1e-12 times the mean power), so exact zeros stay finite and a gain
    change ``Y -> g Y`` shifts every log-power by the same ``2 log10 g``.

    - ``azimuthal__bKK``: ``A_k = mean_{r in bin k} log10 P``, bins ``(k/n, (k+1)/n]``, minus
      ``mean_k A_k`` over non-empty bins (empty bins, in tiny images, are NaN).
    - ``hf_lf_ratio__r<c>``: ``log10(sum_{c < r <= 1} P / sum_{0 < r <= c} P)``.
    - ``slope__loglog`` / ``slope_residual__rms``: least-squares line ``A_k ~ a log10 c_k + b``
      over non-empty bins with centres ``c_k = (k + 0.5) / n``; ``a`` (about -2 for natural
      images, a ``1/f^alpha`` power law) and the RMS of the residuals.
    - ``entropy__norm``: ``-sum p ln p / ln(M)``, ``p = P / sum P`` over the ``M = HW - 1``
      non-DC frequencies (corners included).
    - ``direction__h``, ``__v``, ``__d``: share of the energy of ``0 < r <= 1`` with
      ``|fy| <= tan(22.5 deg) |fx|`` (h: near the horizontal frequency axis, i.e. intensity
      varying along x: vertical edges and stripes), ``|fx| <= tan(22.5 deg) |fy|`` (v: near the
      vertical frequency axis: horizontal edges and stripes) and the rest (d: within 22.5 deg of
      either diagonal). The three sum to 1.
    - ``upsampling_peak__x<s>``: over the peak positions ``(fy, fx)`` in multiples of ``1/s``
      within [-0.5, 0.5)^2 except DC (3 for s = 2, 15 for s = 4), the mean of
      ``log10(P[k] / median P[n])``, ``k`` the nearest frequency sample (``round half up`` of
      ``f N``) and ``n`` the 24 others of its periodic 5 x 5 neighbourhood, DC excluded.
      Needs H, W >= 5.

    A 1 x 1 or constant image has no spectrum to speak of: every feature is NaN.

    References
    ----------
    .. [1] Durall et al., "Watch your up-convolution", CVPR 2020, doi:10.1109/CVPR42600.2020.00791.
    .. [2] Durall et al., "Unmasking DeepFakes with simple features", arXiv:1911.00686, 2019.
    .. [3] Dzanic, Shah & Witherden, "Fourier spectrum discrepancies in deep network generated
       images", NeurIPS 2020, arXiv:1911.06465.
    .. [4] Zhang, Karaman & Chang, "Detecting and simulating artifacts in GAN fake images",
       WIFS 2019, doi:10.1109/WIFS47025.2019.9035107.
    .. [5] Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016,
       doi:10.23915/distill.00003.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import SpectralFeatures
    >>> stripes = np.tile(np.array([0, 255], dtype=np.uint8), (16, 8))  # varies along x only
    >>> spec = SpectralFeatures(window=None).fit([stripes])
    >>> row = dict(zip(spec.get_feature_names_out(), spec.transform([stripes])[0]))
    >>> float(round(row["spectral__direction__h"], 6)), float(round(row["spectral__direction__v"], 6))
    (1.0, 0.0)
    """

    family = "spectral"
    _param_rules = {
        "n_bins": Interval(int, 2, 4096),
        "window": Options(("hann", None)),
        "cutoff": Interval(float, 0.0, 1.0),
    }
    feature_docs = (
        FeatureDoc("spectral", "azimuthal", "bKK: normalized-radius bin KK of n_bins on (0, 1]",
                   "Azimuthally averaged log10 power spectrum, centred on its mean (gain invariant).",
                   "A_k - mean_k A_k, A_k = mean over (k/n < r <= (k+1)/n) of log10 P", _DURALL,
                   cost="medium"),
        FeatureDoc("spectral", "hf_lf_ratio", "r<cutoff>: normalized radius separating low and high",
                   "Log ratio of high- to low-frequency spectral energy.",
                   "log10(sum_{cutoff < r <= 1} P / sum_{0 < r <= cutoff} P)", _DURALL,
                   cost="medium", presets=("minimal",)),
        FeatureDoc("spectral", "slope", "loglog: slope in log10-log10 coordinates",
                   "Power-law exponent of the radial spectrum (about -2 for natural images).",
                   "a of the least-squares fit A_k ~ a log10((k + 0.5)/n) + b over non-empty bins",
                   _DZANIC, cost="medium", presets=("minimal",)),
        FeatureDoc("spectral", "slope_residual", "rms: root mean square",
                   "Departure of the radial spectrum from a power law.",
                   "sqrt(mean_k (A_k - a log10 c_k - b)^2)", _DZANIC, cost="medium"),
        FeatureDoc("spectral", "entropy", "norm: divided by ln(number of non-DC frequencies)",
                   "Normalized Shannon entropy of the power distribution over frequencies.",
                   "-sum p ln p / ln(HW - 1), p = P / sum P over non-DC frequencies", _SHANNON,
                   cost="medium"),
        FeatureDoc("spectral", "direction", "h, v, d: wedges of +-22.5 deg about the fx axis, fy axis, diagonals",
                   "Share of spectral energy near the horizontal / vertical frequency axes and the diagonals.",
                   "sum_{wedge, 0 < r <= 1} P / sum_{0 < r <= 1} P; h: |fy| <= tan(pi/8)|fx|, "
                   "v: |fx| <= tan(pi/8)|fy|, d: the rest", _DURALL, cost="medium"),
        FeatureDoc("spectral", "upsampling_peak", "x2, x4: up-sampling factor s",
                   "Strength of the periodic spectral peaks that s-fold up-sampling leaves.",
                   "mean over peaks f in (Z/s)^2 cap [-0.5, 0.5)^2, f != 0, of "
                   "log10(P(f) / median of P over its 5x5 neighbourhood)", _ZHANG,
                   cost="medium", presets=("minimal",)),
    )

    def __init__(self, *, n_bins=32, window="hann", cutoff=0.5, n_jobs=None, on_error="raise", progress=False):
        self.n_bins = n_bins
        self.window = window
        self.cutoff = cutoff
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        width = max(2, len(str(self.n_bins - 1)))
        names = [f"spectral__azimuthal__b{k:0{width}d}" for k in range(self.n_bins)]
        names += [
            f"spectral__hf_lf_ratio__r{self.cutoff:g}", "spectral__slope__loglog",
            "spectral__slope_residual__rms", "spectral__entropy__norm",
            "spectral__direction__h", "spectral__direction__v", "spectral__direction__d",
        ]
        names += [f"spectral__upsampling_peak__x{s}" for s in _FACTORS]
        return names

    def _compute(self, item):
        return spectral_vector(item.luma, n_bins=self.n_bins, window=self.window, cutoff=self.cutoff)


def _window(n):
    """Hann window of ``n + 2`` points without its zero end points: ``sin^2(pi (k + 1) / (n + 1))``."""
    return np.square(np.sin(np.pi * np.arange(1, n + 1) / (n + 1)))


@functools.lru_cache(maxsize=8)
def _window2d(h, w):
    """The separable (H, W) taper ``v_H[i] v_W[j]`` (cached per shape: images of a data set share few
    shapes; read-only)."""
    win = np.outer(_window(h), _window(w))
    win.setflags(write=False)
    return win


def _windowed(luma, window):
    """(x, sum x^2): the mean-subtracted, optionally Hann-windowed luma (float64) and its energy.

    float64 throughout: the log spectrum of smooth images spans more than float32's ~1e-14
    relative power resolution.
    """
    luma = np.asarray(luma)
    x = scratch("spectral.x", luma.shape)  # valid until the next call in this thread
    np.subtract(luma, luma.mean(dtype=np.float64), out=x, dtype=np.float64)
    if window == "hann":
        x *= _window2d(*x.shape)
    # a plain reduction, not np.dot/np.vdot: a BLAS call on a long vector may start threads,
    # which cost tens of milliseconds per call on a busy machine
    return x, float(np.square(x).sum())


class _Geometry:
    """Per-shape constants of the half spectrum ``rfft2`` returns, (H, W // 2 + 1) flattened.

    ``weight``: 2 for the columns ``1 .. (W - 1) // 2``, which stand for themselves and their
    conjugate mirror ``(-fy, -fx)`` (same power, radius and wedge), 1 for the others, 0 at DC.
    ``wedge``: 0 outside the disc ``0 < r <= 1``, else ``1 + 3 * (r > cutoff) + k`` with ``k`` =
    0 (h: ``|fy| <= tan(22.5 deg) |fx|``), 1 (v: ``|fx| <= tan(22.5 deg) |fy|``, not h), 2 (d).
    ``radial``: the bin ``ceil(r n_bins) - 1`` inside the disc, ``n_bins`` outside;
    ``bin_weight``: the summed weights of each bin. The comparisons are those of the definitions,
    in float64 on ``fx = j / W`` and ``|fy| = |ky / H|``.
    """

    def __init__(self, h, w, n_bins, cutoff):
        wh = w // 2 + 1
        i = np.arange(h)
        ay = np.abs(np.where(i <= (h - 1) // 2, i, i - h) / h)[:, None]
        j = np.arange(wh)
        ax = (j / w)[None, :]
        rad = 2.0 * np.sqrt(ax * ax + ay * ay)
        weight = np.broadcast_to(np.where((j >= 1) & (j <= (w - 1) // 2), 2.0, 1.0), (h, wh)).copy()
        weight[0, 0] = 0.0
        disc = ~(rad > 1.0)
        disc[0, 0] = False
        horizontal = ay <= _TAN_WEDGE * ax
        vertical = ~horizontal & (ax <= _TAN_WEDGE * ay)
        wedge = np.where(horizontal, 0, np.where(vertical, 1, 2)) + 1 + 3 * (rad > cutoff)
        self.weight = weight.ravel()
        self.wedge = np.where(disc, wedge, 0).ravel().astype(np.intp)
        self.radial = np.where(disc, np.ceil(rad * n_bins) - 1, n_bins).ravel().astype(np.intp)
        self.bin_weight = np.bincount(self.radial, weights=self.weight, minlength=n_bins + 1)[:n_bins]
        for a in (self.weight, self.wedge, self.radial, self.bin_weight):
            a.setflags(write=False)


@functools.lru_cache(maxsize=8)
def _geometry(h, w, n_bins, cutoff):
    return _Geometry(h, w, n_bins, cutoff)


@functools.lru_cache(maxsize=16)
def _peak_geometry(h, w, factor):
    """Flat half-spectrum indices of the up-sampling peaks (n,) and of their neighbourhoods (n, m).

    Samples that ``rfft2`` does not store (``kx > W // 2``) are read at their conjugate mirror
    ``((H - ky) % H, W - kx)``. Neighbourhoods that contain DC have one sample less: their last
    slot is -1 (padding). Returns (peaks, neighbours, sizes).
    """
    wh = w // 2 + 1

    def flat(ky, kx):
        if kx > w // 2:
            ky, kx = (h - ky) % h, w - kx
        return ky * wh + kx

    size = (2 * _PEAK_RADIUS + 1) ** 2 - 1
    peaks, neighbours, sizes = [], [], []
    lo, hi = -(factor // 2), factor - factor // 2
    for a in range(lo, hi):
        ky = math.floor(a / factor * h + 0.5) % h
        for b in range(lo, hi):
            kx = math.floor(b / factor * w + 0.5) % w
            if ky == 0 and kx == 0:
                continue
            nb = [flat((ky + dy) % h, (kx + dx) % w)
                  for dy in range(-_PEAK_RADIUS, _PEAK_RADIUS + 1) for dx in range(-_PEAK_RADIUS, _PEAK_RADIUS + 1)
                  if not (dy == 0 and dx == 0) and not ((ky + dy) % h == 0 and (kx + dx) % w == 0)]
            peaks.append(flat(ky, kx))
            sizes.append(len(nb))
            neighbours.append(nb + [-1] * (size - len(nb)))
    out = (np.array(peaks, dtype=np.intp), np.array(neighbours, dtype=np.intp).reshape(len(peaks), size),
           np.array(sizes, dtype=np.intp))
    for a in out:
        a.setflags(write=False)
    return out


def _upsampling_peak(p, h, w, factor, floor):
    """Mean log10 prominence of the ``factor``-fold up-sampling peaks in the flat half power ``p``
    (see :class:`SpectralFeatures` Notes); NaN when there is no peak."""
    peaks, neighbours, sizes = _peak_geometry(h, w, factor)
    if not len(peaks):
        return np.nan
    vals = np.where(neighbours >= 0, np.maximum(p[neighbours], floor), np.inf)
    vals.sort(axis=1)
    rows = np.arange(len(peaks))
    med = 0.5 * (vals[rows, (sizes - 1) // 2] + vals[rows, sizes // 2])
    return float(np.mean(np.log10(np.maximum(p[peaks], floor) / med)))


def spectrum_sums(p, geo, floor):
    """The sums every spectral feature is made of, from the flat half power spectrum ``p``.

    Parameters
    ----------
    p : float64 ndarray (H * (W // 2 + 1),)
        ``|rfft2(x)|^2`` flattened.
    geo : _Geometry
        The constants of the shape.
    floor : float
        Power floor (> 0) of the logarithms of the radial profile.

    Returns
    -------
    bins : ndarray (n_bins, 2)
        Per radial bin [sum of weights, sum of weight * ln max(P, floor)] over ``0 < r <= 1``.
    sums : ndarray (7,)
        [E_low, E_high, E_horizontal, E_vertical, E_diagonal] over ``0 < r <= 1``, then
        [S, T] = [sum P, sum P ln P] over every non-DC frequency (``0 ln 0 = 0``), each sample
        counted with its weight.
    """
    n = p.shape[0]
    # ln max(P, floor) for the radial profile (NumPy's vectorised log: numba's is a scalar call);
    # the entropy needs ln P itself, which differs only where 0 < P < floor (rare: a correction)
    lp = np.log(np.maximum(p, floor, out=scratch("spectral.lp", (n,))), out=scratch("spectral.lp", (n,)))
    e = np.zeros(7)
    n_bins = geo.bin_weight.shape[0]
    log_sums = np.zeros(n_bins + 1)
    s_all, t_all = weighted_sums(p, lp, geo.weight, geo.wedge, geo.radial, e, log_sums)
    small = p < floor
    if small.any():
        sel = small & (p > 0.0) & (geo.weight > 0.0)
        t_all += float((geo.weight[sel] * p[sel] * (np.log(p[sel]) - math.log(floor))).sum())
    sums = np.array([e[1:4].sum(), e[4:7].sum(), e[1] + e[4], e[2] + e[5], e[3] + e[6], s_all, t_all])
    log_sums = log_sums[:n_bins]
    return np.column_stack([geo.bin_weight, log_sums]), sums


def spectral_vector(luma, *, n_bins=32, window="hann", cutoff=0.5):
    """The spectral row of a float (H, W) luma image, in :class:`SpectralFeatures` column order.

    One real FFT of the windowed luma (``scipy.fft.rfft2``, float64); every sum runs over its
    half spectrum with per-shape constants (:class:`_Geometry`), in one pass of a small kernel.
    """
    x, energy = _windowed(luma, window)
    h, w = x.shape
    out = np.full(n_bins + _N_SCALARS, np.nan)
    if h * w < 2 or not energy > 0.0:
        return out  # 1x1 or constant image: no non-DC spectrum
    floor = _REL_FLOOR * energy
    spec = scipy.fft.rfft2(x, overwrite_x=True)
    n = spec.size  # the scratch arrays are flat (one shape per name), viewed as 2-D where needed
    p = scratch("spectral.p", (n,))
    np.square(spec.real, out=p.reshape(spec.shape))
    p += np.square(spec.imag, out=scratch("spectral.tmp", (n,)).reshape(spec.shape)).ravel()
    geo = _geometry(h, w, n_bins, float(cutoff))
    bins, sums = spectrum_sums(p, geo, floor)
    e_lo, e_hi, e_h, e_v, e_d, s_all, t_all = sums
    log_sums = bins[:, 1]

    filled = geo.bin_weight > 0
    profile = np.full(n_bins, np.nan)
    profile[filled] = log_sums[filled] / geo.bin_weight[filled] / math.log(10.0)
    if filled.any():
        out[:n_bins] = profile - profile[filled].mean()
    k = n_bins
    if e_lo > 0 and e_hi > 0:
        out[k] = math.log10(e_hi / e_lo)
    if filled.sum() >= 2:
        centres = np.log10((np.flatnonzero(filled) + 0.5) / n_bins)
        a = profile[filled]
        dc, da = centres - centres.mean(), a - a.mean()
        slope = float(np.sum(dc * da) / np.sum(dc * dc))  # least squares with intercept
        out[k + 1] = slope
        out[k + 2] = math.sqrt(np.mean(np.square(da - slope * dc)))
    n_freq = h * w - 1
    if n_freq >= 2 and s_all > 0:
        out[k + 3] = (math.log(s_all) - t_all / s_all) / math.log(n_freq)
    e_dir = e_h + e_v + e_d
    if e_dir > 0:
        out[k + 4:k + 7] = np.array([e_h, e_v, e_d]) / e_dir
    if h >= 2 * _PEAK_RADIUS + 1 and w >= 2 * _PEAK_RADIUS + 1:
        for m, factor in enumerate(_FACTORS):
            out[k + 7 + m] = _upsampling_peak(p, h, w, factor, floor)
    return out


def spectral_features(image, *, n_bins=32, window="hann", cutoff=0.5):
    """Fourier-spectrum features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
    n_bins, window, cutoff
        See :class:`SpectralFeatures`.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import spectral_features
    >>> rng = np.random.default_rng(0)
    >>> row = spectral_features(rng.random((32, 48)))
    >>> len(row), round(row["spectral__direction__h"] + row["spectral__direction__v"]
    ...                 + row["spectral__direction__d"], 12)
    (41, 1.0)
    """
    return SpectralFeatures(n_bins=n_bins, window=window, cutoff=cutoff).extract_one(image)
