"""Noise-residual features: moments, spatial inconsistency and cross-channel correlation of
median, wavelet and SRM high-pass residuals, and a robust (Haar MAD) noise level."""

from __future__ import annotations

import functools

import numpy as np
import pywt

from ._base import BaseExtractor, FeatureDoc, Interval, Options
from ._workspace import scratch
from ._kernels import _noise as _compiled
from ._kernels._tier import tiered

#: The kernels as the feature code calls them: their NumPy twins until compiling them pays off.
filter_row_pairs = tiered(_compiled.filter_row_pairs)
filter_row_streams = tiered(_compiled.filter_row_streams)
haar_abs_hh = tiered(_compiled.haar_abs_hh)
median_flat = tiered(_compiled.median_flat)
median_moments = tiered(_compiled.median_moments)
plane_moments = tiered(_compiled.plane_moments)
srm_moments = tiered(_compiled.srm_moments)

__all__ = ["NoiseFeatures", "noise_features", "noise_vector"]

#: The residual kinds, in column order.
RESIDUALS = ("median", "wavelet", "srm")
#: SRM filters with luma statistics, in column order; the first one also gets channel statistics.
SRM_FILTERS = ("srmkv3", "srmo1", "srmo2", "srmkv5")
_CHANNELS = ("r", "g", "b")
_PAIRS = ("rg", "rb", "gb")

#: A residual variance at or below this (std 1e-6 grey levels, under the float32 resolution of the
#: 0..255 scale) is zero: its skewness, kurtosis and correlations are NaN.
TINY_VAR = 1e-12
#: Gaussian MAD consistency constant: median(|N(0, 1)|) = 0.6745.
MAD_TO_SIGMA = 0.6745

_LUKAS = ("Lukas, Fridrich & Goljan, 'Digital camera identification from sensor pattern noise', "
          "IEEE TIFS 2006, doi:10.1109/TIFS.2006.873602")
_DONOHO = ("Donoho & Johnstone, 'Ideal spatial adaptation by wavelet shrinkage', Biometrika 1994, "
           "doi:10.1093/biomet/81.3.425")
_SRM = ("Fridrich & Kodovsky, 'Rich models for steganalysis of digital images', IEEE TIFS 2012, "
        "doi:10.1109/TIFS.2012.2190402; Zhou et al., 'Learning rich features for image manipulation "
        "detection', CVPR 2018, doi:10.1109/CVPR.2018.00116")
_MEDIAN = ("Kang, Stamm, Peng & Liu, 'Robust median filtering forensics using an autoregressive model', "
           "IEEE TIFS 2013, doi:10.1109/TIFS.2013.2273394")
_LOCAL = ("Mahdian & Saic, 'Using noise inconsistencies for blind image forensics', Image and Vision "
          "Computing 2009, doi:10.1016/j.imavis.2009.02.001")
_COLOR = ("Goljan, Fridrich & Cogranne, 'Rich model for steganalysis of color images', WIFS 2014, "
          "doi:10.1109/WIFS.2014.7084325")

_HAAR_HH = "HH = (X[2i,2j] - X[2i,2j+1] - X[2i+1,2j] + X[2i+1,2j+1]) / 2"

_RESIDUAL_TEXT = {
    "median": ("3x3 median residual", "R = X - median3x3(X) on interior pixels", _MEDIAN, "low"),
    "wavelet": ("wavelet-denoising residual",
                "R = Y - W^-1(soft(W Y, t)), W = <wavelet> DWT of <wavelet_level> levels, "
                "t = sigma sqrt(2 ln(HW)), sigma = median|HH1| / 0.6745 (HH1 of W, interior)",
                f"{_LUKAS}; {_DONOHO}", "medium"),
    "srmkv3": ("SRM 'SQUARE 3x3' KV residual", "R = X * [[-1,2,-1],[2,-4,2],[-1,2,-1]] / 4", _SRM, "low"),
    "srmo1": ("SRM first-order residual (horizontal and vertical pooled)",
              "R = X[i,j+1] - X[i,j] and X[i+1,j] - X[i,j]", _SRM, "low"),
    "srmo2": ("SRM second-order residual (horizontal and vertical pooled)",
              "R = (X[i,j-1] - 2X[i,j] + X[i,j+1]) / 2 and its vertical twin", _SRM, "low"),
    "srmkv5": ("SRM 'SQUARE 5x5' KV residual",
               "R = X * [[-1,2,-2,2,-1],[2,-6,8,-6,2],[-2,8,-12,8,-2],[2,-6,8,-6,2],[-1,2,-2,2,-1]] / 12",
               _SRM, "low"),
}

_MINIMAL = {"srmkv3_var", "srmkv3_corr", "srmkv3_local_var_spread", "sigma_mad"}


def _docs():
    docs = []

    def add(feature, params, description, formula, reference, cost):
        presets = ("minimal",) if feature in _MINIMAL else ("full",)
        docs.append(FeatureDoc("noise", feature, params, description, formula, reference, cost, presets))

    for res in ("median", "wavelet", "srmkv3"):
        name, formula, ref, cost = _RESIDUAL_TEXT[res]
        chans = {"median": "r, g, b: colour channel", "wavelet": "y: luma",
                 "srmkv3": "r, g, b, y: colour channel or luma"}[res]
        what = f"the luma {name}" if res == "wavelet" else f"the {name} per channel"
        add(f"{res}_var", chans, f"Noise level: log variance of {what}.",
            f"log(1 + Var(R)), {formula}", ref, cost)
        add(f"{res}_skew", chans, f"Skewness of {what}.",
            "m3 / m2^1.5 (population moments of R; NaN when Var(R) <= 1e-12)", ref, cost)
        add(f"{res}_kurt", chans, f"Excess kurtosis of {what}.",
            "m4 / m2^2 - 3 (population moments of R; NaN when Var(R) <= 1e-12)", ref, cost)
        if res != "wavelet":
            add(f"{res}_corr", "rg, rb, gb: channel pair",
                f"Pearson correlation of the {name} between colour channels (1 for grey images).",
                "cov(R_a, R_b) / sqrt(Var(R_a) Var(R_b)); NaN when a channel residual is constant",
                f"{_COLOR}; {ref}", cost)
        else:
            add("sigma_mad", "r, g, b, y: colour channel or luma",
                "Robust noise standard deviation from the level-1 Haar diagonal sub-band (MAD estimate).",
                f"median(|HH|) / 0.6745, {_HAAR_HH} over the 2x2 blocks of the even-cropped plane; "
                "NaN below 2x2", f"{_DONOHO}; {_LUKAS}", "low")
        for stat, formula_stat in (("local_var_spread", "std_c(log(1 + v_c))"),
                                   ("local_var_logrange", "max_c log(1 + v_c) - min_c log(1 + v_c)")):
            add(f"{res}_{stat}", "g<grid>: grid x grid cells",
                f"Spatial inconsistency of the noise level: spread of the per-cell variance of the luma {name}.",
                f"{formula_stat}, v_c = Var(R) of the luma residual in cell c", f"{_LOCAL}; {ref}", cost)
    for res in SRM_FILTERS[1:]:
        name, formula, ref, cost = _RESIDUAL_TEXT[res]
        add(f"{res}_var", "y: luma", f"Noise level: log variance of the luma {name}.",
            f"log(1 + Var(R)), {formula}", ref, cost)
        add(f"{res}_skew", "y: luma", f"Skewness of the luma {name}.",
            "m3 / m2^1.5 (NaN when Var(R) <= 1e-12)", ref, cost)
        add(f"{res}_kurt", "y: luma", f"Excess kurtosis of the luma {name}.",
            "m4 / m2^2 - 3 (NaN when Var(R) <= 1e-12)", ref, cost)
        for stat, formula_stat in (("local_var_spread", "std_c(log(1 + v_c))"),
                                   ("local_var_logrange", "max_c log(1 + v_c) - min_c log(1 + v_c)")):
            add(f"{res}_{stat}", "g<grid>: grid x grid cells",
                f"Spatial inconsistency of the noise level: spread of the per-cell variance of the luma {name}.",
                f"{formula_stat}, v_c = Var(R) in cell c", f"{_LOCAL}; {ref}", cost)
    return tuple(docs)


class _Residuals:
    """Parameter rule of ``residuals``: a non-empty subset of :data:`RESIDUALS`, or one name."""

    def check(self, name, value):
        items = (value,) if isinstance(value, str) else value
        try:
            items = tuple(items)
        except TypeError:
            raise TypeError(f"{name} must be a name or a sequence of names from {list(RESIDUALS)}, "
                            f"got {value!r}") from None
        bad = [v for v in items if v not in RESIDUALS]
        if bad or not items or len(set(items)) != len(items):
            raise ValueError(f"{name} must be a non-empty set of distinct names from {list(RESIDUALS)}, "
                             f"got {value!r}")


def _selected(residuals):
    items = (residuals,) if isinstance(residuals, str) else tuple(residuals)
    return tuple(r for r in RESIDUALS if r in items)


def _names(residuals, grid):
    g = f"g{grid}"
    names = []
    for res in _selected(residuals):
        blocks = [res] if res != "srm" else list(SRM_FILTERS)
        for k, block in enumerate(blocks):
            chans = {"median": ("r", "g", "b"), "wavelet": ("y",)}.get(
                res, ("r", "g", "b", "y") if k == 0 else ("y",))
            for stat in ("var", "skew", "kurt"):
                names += [f"noise__{block}_{stat}__{c}" for c in chans]
            if k == 0 and res != "wavelet":
                names += [f"noise__{block}_corr__{p}" for p in _PAIRS]
            if res == "wavelet":
                names += [f"noise__sigma_mad__{c}" for c in _CHANNELS + ("y",)]
            names += [f"noise__{block}_local_var_spread__{g}", f"noise__{block}_local_var_logrange__{g}"]
    return names


class NoiseFeatures(BaseExtractor):
    """Noise residuals: their level, shape, spatial consistency and colour correlation.

    A camera leaves sensor noise that is roughly uniform over the frame and weakly correlated
    between colour channels after demosaicing; generators, splicing and face swaps break these
    regularities (a pasted region with another noise level, residuals without heavy tails, too
    strongly or weakly correlated channels). The image is split into a residual by three
    denoisers -- a 3x3 median filter, wavelet soft thresholding (of the luma) and the SRM
    high-pass filters -- and each residual is summarised by moments, a grid of local variances
    and channel correlations; a robust noise level per channel comes from the Haar diagonal band.

    Parameters
    ----------
    residuals : str or sequence of {"median", "wavelet", "srm"}, default=("median", "wavelet", "srm")
        Which residuals to compute. Columns always come in the order median, wavelet, srm.
    grid : int, default=4
        The image is split into ``grid x grid`` cells for the local-variance spread.
    wavelet : {"haar", "db2", "db4", "db8", "sym4", "sym8"}, default="db4"
        Wavelet of the denoising residual.
    wavelet_level : int, default=2
        Decomposition levels of the denoising residual (1..4).
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``noise__<residual>_<stat>__<channel or grid>``; see ``feature_docs``. 55 columns with
        the default parameters.

    See Also
    --------
    noise_features : the single-image function.
    noise_vector : the row computed from arrays.

    Notes
    -----
    Residuals ``R`` are computed on the colour channels ``r, g, b`` of the 0..255 image and on
    its BT.601 luma ``y``:

    - ``median``: ``R = X - median3x3(X)`` on interior pixels (no padding), ``X`` = r, g, b, y.
    - ``wavelet``: ``R = Y - W^-1(soft(W Y, t))`` on the luma only, with ``W`` the ``wavelet``
      DWT over ``wavelet_level`` levels (symmetric extension), soft thresholding of every detail
      coefficient at the universal threshold ``t = sigma sqrt(2 ln(H W))`` and the MAD noise
      estimate ``sigma = median(|HH1|) / 0.6745`` from the finest diagonal sub-band of ``W``
      (Donoho & Johnstone 1994); the median runs over the HH1 coefficients whose filter support
      lies inside the image (the extension would bias it low). The transform is pywt's
      ``wavedec2`` / ``waverec2`` in float64, computed by two numba kernels, one for the passes
      along each axis (tested against pywt); since
      ``soft(d, t) = d - clip(d, -t, t)`` and ``W^-1 W = I``, it synthesises
      ``R = W^-1(0, clip(D, -t, t))`` directly, which is the same residual without the
      cancellation of ``Y - denoised``.
    - ``sigma_mad``: the same MAD estimate ``median(|HH|) / 0.6745`` per plane r, g, b, y, from
      the level-1 *Haar* diagonal band ``HH = (a - b - c + d) / 2`` of the 2x2 blocks
      ``[[a, b], [c, d]]`` of the even-cropped plane (``pywt.dwt2(X, "haar")`` HH). Haar needs
      no border extension and annihilates any ``f(i) + g(j)`` (ramps, separable shading), so for
      white noise of deviation ``s`` it reads ``s``.
    - ``srm``: the SRM high-pass filters of Fridrich & Kodovsky (2012), normalised as in Zhou
      et al. (2018): first order ``X[i,j+1] - X[i,j]`` (``srmo1``; horizontal and vertical
      samples pooled), second order ``(X[i,j-1] - 2X[i,j] + X[i,j+1]) / 2`` (``srmo2``, pooled),
      ``SQUARE 3x3`` KV / 4 (``srmkv3``) and ``SQUARE 5x5`` KV / 12 (``srmkv5``), all evaluated
      at the pixels with a full 5x5 window. To keep the column count moderate, the channel
      statistics and correlations are those of ``srmkv3`` (the kernel the others approximate at
      other scales); the other filters report luma statistics only. For white noise of standard
      deviation ``s`` the residual variances are ``s^2 * sum(k^2)``: 2, 1.5, 2.25 and 596/144.

    Per residual and plane: ``var = log(1 + m2)``, ``skew = m3 / m2^1.5``, ``kurt = m4 / m2^2 - 3``
    (population central moments ``mk``; ``skew``/``kurt`` are NaN when ``m2 <= 1e-12``, i.e. a
    constant residual) and ``corr`` the Pearson correlation of two channel residuals (NaN when
    one is constant). Grey images have three equal channels: their correlations are 1 (or NaN
    when constant). For the luma residual, with ``v_c`` its variance in grid cell ``c`` (a pixel
    ``(i, j)`` of an ``H x W`` image lies in cell ``(i * grid // H, j * grid // W)``; empty cells
    are skipped), ``local_var_spread = std_c(log(1 + v_c))`` and
    ``local_var_logrange = max_c - min_c`` of the same.

    Images too small for a residual give NaN for its columns: median needs 3x3 pixels, srm 5x5,
    ``sigma_mad`` 2x2, the wavelet residual a side of at least ``(filter length - 1) *
    2**wavelet_level`` (28 for db4, level 2).
    A constant image gives ``var = 0``, ``local_var_* = 0``, ``sigma_mad = 0`` (up to rounding)
    and NaN skewness, kurtosis and correlations.

    References
    ----------
    .. [1] Fridrich & Kodovsky, "Rich models for steganalysis of digital images", IEEE TIFS 2012,
       doi:10.1109/TIFS.2012.2190402.
    .. [2] Zhou, Han, Morariu & Davis, "Learning rich features for image manipulation detection",
       CVPR 2018, doi:10.1109/CVPR.2018.00116.
    .. [3] Lukas, Fridrich & Goljan, "Digital camera identification from sensor pattern noise",
       IEEE TIFS 2006, doi:10.1109/TIFS.2006.873602.
    .. [4] Donoho & Johnstone, "Ideal spatial adaptation by wavelet shrinkage", Biometrika 1994,
       doi:10.1093/biomet/81.3.425.
    .. [5] Mahdian & Saic, "Using noise inconsistencies for blind image forensics", Image and
       Vision Computing 2009, doi:10.1016/j.imavis.2009.02.001.
    .. [6] Kang, Stamm, Peng & Liu, "Robust median filtering forensics using an autoregressive
       model", IEEE TIFS 2013, doi:10.1109/TIFS.2013.2273394.
    .. [7] Goljan, Fridrich & Cogranne, "Rich model for steganalysis of color images", WIFS 2014,
       doi:10.1109/WIFS.2014.7084325.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import NoiseFeatures
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(128 + 5 * rng.standard_normal((64, 64)), 0, 255).astype(np.uint8)
    >>> noise = NoiseFeatures(residuals="srm").fit([noisy])
    >>> row = dict(zip(noise.get_feature_names_out(), noise.transform([noisy])[0]))
    >>> bool(abs(np.expm1(row["noise__srmkv3_var__y"]) / (2.25 * 25) - 1) < 0.15)
    True
    >>> float(row["noise__srmkv3_corr__rg"])  # a grey image: equal channel residuals
    1.0
    """

    family = "noise"
    _param_rules = {
        "residuals": _Residuals(),
        "grid": Interval(int, 1, 64),
        "wavelet": Options(("haar", "db2", "db4", "db8", "sym4", "sym8")),
        "wavelet_level": Interval(int, 1, 4),
    }
    feature_docs = _docs()

    def __init__(self, *, residuals=RESIDUALS, grid=4, wavelet="db4", wavelet_level=2, n_jobs=None,
                 on_error="raise", progress=False):
        self.residuals = residuals
        self.grid = grid
        self.wavelet = wavelet
        self.wavelet_level = wavelet_level
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        return _names(self.residuals, self.grid)

    def _compute(self, item):
        return noise_vector(item.rgb, item.luma, residuals=self.residuals, grid=self.grid,
                            wavelet=self.wavelet, wavelet_level=self.wavelet_level)


# -- from kernel sums to statistics -------------------------------------------------------------

def _moments(sums):
    """(..., 5) shifted power sums [n, S1..S4] -> (var, skew, kurt) arrays; NaN where n == 0."""
    sums = np.asarray(sums, dtype=np.float64)
    n = sums[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = sums[..., 1] / n
        e2, e3, e4 = sums[..., 2] / n, sums[..., 3] / n, sums[..., 4] / n
        m2 = np.maximum(e2 - mu * mu, 0.0)
        m3 = e3 - 3.0 * mu * e2 + 2.0 * mu ** 3
        m4 = e4 - 4.0 * mu * e3 + 6.0 * mu * mu * e2 - 3.0 * mu ** 4
        flat = m2 <= TINY_VAR
        m2 = np.where(flat, 0.0, m2)
        skew = np.where(flat, np.nan, m3 / m2 ** 1.5)
        kurt = np.where(flat, np.nan, m4 / (m2 * m2) - 3.0)
    return m2, skew, kurt


def _correlations(sums, cross):
    """Pearson correlations of rows 0, 1, 2 of ``sums`` (5,) each, from the cross products."""
    n = sums[0, 0]
    out = np.full(3, np.nan)
    if not n > 0:
        return out
    mu = sums[:3, 1] / n
    var = np.maximum(sums[:3, 2] / n - mu * mu, 0.0)
    for k, (a, b) in enumerate(((0, 1), (0, 2), (1, 2))):
        if var[a] > TINY_VAR and var[b] > TINY_VAR:
            cov = cross[k] / n - mu[a] * mu[b]
            out[k] = np.clip(cov / np.sqrt(var[a] * var[b]), -1.0, 1.0)
    return out


def _local_spreads(cells):
    """(R, C, 5) per-cell sums -> (std, max - min) (R,) each of log(1 + cell variance) over the
    non-empty cells of each row; NaN for a row without a non-empty cell."""
    filled = cells[..., 0] > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        n = cells[..., 0]
        mu = cells[..., 1] / n
        m2 = np.maximum(cells[..., 2] / n - mu * mu, 0.0)
        v = np.log1p(np.where(filled & (m2 > TINY_VAR), m2, 0.0))
        count = filled.sum(axis=1)
        mean = np.where(filled, v, 0.0).sum(axis=1) / count
        std = np.sqrt(np.where(filled, (v - mean[:, None]) ** 2, 0.0).sum(axis=1) / count)
        spread = np.where(filled, v, -np.inf).max(axis=1) - np.where(filled, v, np.inf).min(axis=1)
    empty = count == 0
    return np.where(empty, np.nan, std), np.where(empty, np.nan, spread)


def _planes(rgb, luma):
    """The float32 planes (4, H, W) r, g, b, y that the kernels read (channels de-interleaved once;
    a scratch array: valid until the next call in this thread)."""
    h, w = luma.shape
    planes = scratch("noise.planes", (4, h, w), np.float32)
    planes[:3] = np.moveaxis(np.asarray(rgb), -1, 0)
    planes[3] = luma
    return planes


@functools.lru_cache(maxsize=64)
def _bounds(w, grid, jlo, jhi):
    """Column bounds (grid + 1,) of the cells ``j * grid // w == c``, clipped to ``jlo .. jhi``."""
    c = np.arange(grid + 1)
    out = np.clip((c * w + grid - 1) // grid, jlo, jhi).astype(np.int64)
    out.setflags(write=False)
    return out


#: Bins of the histogram selection of the exact median.
_SELECT_BINS = 1024


def _median(values):
    """Exact median of a float64 array without NaN (any shape, at least one value)."""
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    counts = np.empty((4, _SELECT_BINS), dtype=np.int64)
    return float(median_flat(flat, counts, scratch("noise.cand", (flat.size + 1,))))


def median_abs(x):
    """``np.median(np.abs(x))``, exactly (NaN when ``x`` is empty or holds a NaN)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    if a.size == 0 or np.isnan(a).any():
        return np.nan
    return _median(a)


def haar_sigma(planes):
    """MAD noise deviation ``median(|HH|) / 0.6745`` of the level-1 Haar HH band of each plane (P,).

    The band comes from the ``haar_abs_hh`` kernel: NumPy slicing gives the same values bitwise but
    made the family 1.11x slower (``benchmarks/noise_library_paths.py``).
    """
    p, h, w = planes.shape
    if h < 2 or w < 2:
        return np.full(p, np.nan)
    hh = scratch("noise.hh", (h // 2, w // 2))
    counts = np.empty((4, _SELECT_BINS), dtype=np.int64)
    cand = scratch("noise.cand", (hh.size + 1,))
    out = np.empty(p)
    for k in range(p):
        haar_abs_hh(planes[k], hh)
        out[k] = median_flat(hh.ravel(), counts, cand)
    return out / MAD_TO_SIGMA


@functools.lru_cache(maxsize=None)
def _filter_bank(wavelet):
    """(dec_lo, dec_hi, rec_lo, rec_hi) float64 arrays and the filter length of a pywt wavelet."""
    wav = pywt.Wavelet(wavelet)
    bank = tuple(np.ascontiguousarray(f, dtype=np.float64) for f in wav.filter_bank)
    return bank, wav.dec_len


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _symmetric(k, n):
    """Index into a length-``n`` signal of position ``k`` of pywt's "symmetric" (half-sample)
    extension: ``x~[-1 - j] = x[j]``, ``x~[n + j] = x[n - 1 - j]``, period ``2n``."""
    k = k % (2 * n)
    return np.where(k < n, k, 2 * n - 1 - k).astype(np.int64)


@functools.lru_cache(maxsize=256)
def _analysis_rows(wavelet, n):
    """(dst, idx, coef) of one DWT level along axis 0 of ``n`` rows for :func:`filter_row_pairs`.

    ``pywt.dwt(x, wavelet, "symmetric", axis=0)``: ``a[o] = sum_j dec_lo[j] x~[2o + 1 - j]`` (``d``
    with ``dec_hi``), ``o < m = (n + F - 1) // 2``, ``x~`` the symmetric extension; ``a`` goes to
    rows ``0 .. m - 1``, ``d`` to rows ``m .. 2m - 1``.
    """
    (lo, hi, _, _), f = _filter_bank(wavelet)
    m = (n + f - 1) // 2
    o = np.arange(m)
    idx = _symmetric(2 * o[:, None] + 1 - np.arange(f)[None, :], n)
    dst = np.stack([o, o + m], axis=1).astype(np.int64)
    return _frozen(dst, idx, np.stack([lo, hi]))


@functools.lru_cache(maxsize=256)
def _synthesis_rows(wavelet, n):
    """(dst, idx, coef) of one inverse DWT level along axis 0 into ``n`` rows for :func:`filter_row_pairs`.

    ``pywt.idwt(a, d, wavelet, "symmetric", axis=0)`` trimmed to ``n`` rows, ``a`` and ``d`` the
    ``m = (n + F - 1) // 2`` rows ``0 .. m - 1`` and ``m .. 2m - 1`` of the source:
    ``y[2s + p] = sum_j rec_lo[2j + p] a[s + F/2 - 1 - j] + rec_hi[2j + p] d[s + F/2 - 1 - j]``.
    """
    (_, _, lo, hi), f = _filter_bank(wavelet)
    m, half = (n + f - 1) // 2, f // 2
    s = np.arange((n + 1) // 2)
    rows = s[:, None] + half - 1 - np.arange(half)[None, :]
    idx = np.concatenate([rows, rows + m], axis=1).astype(np.int64)
    dst = np.stack([2 * s, 2 * s + 1], axis=1).astype(np.int64)
    coef = np.stack([np.concatenate([lo[p::2], hi[p::2]]) for p in (0, 1)])
    return _frozen(dst, idx, coef)


@functools.lru_cache(maxsize=256)
def _analysis_cols(wavelet, n):
    """(left, right, coef, 0) of one DWT level along axis 1 of ``n`` columns for
    :func:`filter_row_streams`: the indices of the ``F - 2`` extension samples before the row and
    of the samples from the last complete pair (``2 (n // 2)``) to ``2m`` (``m = (n + F - 1) // 2``;
    the last sample of an odd row, then the extension), and the polyphase taps (odd samples with
    ``lo[0::2]``, even samples with ``lo[1::2]``; ``hi`` likewise)."""
    (lo, hi, _, _), f = _filter_bank(wavelet)
    m = (n + f - 1) // 2
    left = _symmetric(np.arange(f - 2) - (f - 2), n)
    right = _symmetric(np.arange(n // 2 * 2, 2 * m), n)  # from the last pair inside the row
    coef = np.stack([np.stack([lo[0::2], lo[1::2]]), np.stack([hi[0::2], hi[1::2]])])
    return (*_frozen(left, right, coef), 0)


@functools.lru_cache(maxsize=None)
def _synthesis_cols(wavelet):
    """(left, right, coef, 1) of one inverse DWT level along axis 1 for :func:`filter_row_streams`:
    no extension, the even (``p = 0``) and odd (``p = 1``) reconstruction taps of ``a`` and ``d``."""
    (_, _, lo, hi), _ = _filter_bank(wavelet)
    none = np.zeros(0, dtype=np.int64)
    coef = np.stack([np.stack([lo[p::2], hi[p::2]]) for p in (0, 1)])
    return (*_frozen(none, none.copy(), coef), 1)


def wavelet_residual(x, wavelet, level, mad_to_sigma, out):
    """Residual of wavelet soft-threshold denoising of one plane into ``out``; returns sigma.

    Parameters
    ----------
    x : array (H, W)
        The plane; ``min(H, W) >= F - 1`` per level (``pywt.dwt_max_level(min(H, W), F) >= level``).
    wavelet : str
        A pywt wavelet name with filters of even length ``F`` (``"db4"``).
    level : int >= 1
    mad_to_sigma : float
        0.6745: ``sigma = median|HH1 interior| / mad_to_sigma``.
    out : float64 (H, W), C-contiguous, output
        The residual ``R = x - W^-1(soft(W x, t))``, ``t = sigma sqrt(2 ln(HW))``.

    Notes
    -----
    ``W`` is the 2-D DWT of ``pywt.wavedec2(x, wavelet, mode="symmetric", level=level)`` (axis 0
    then axis 1 per level; approximation kept, soft thresholding of every detail band) and
    ``W^-1`` that of ``pywt.waverec2`` (axis 1 then axis 0; the reconstructed approximation
    trimmed to the next detail shape, the result to (H, W)), in float64: a pass along axis 0 is
    one call of :func:`filter_row_pairs`, a pass along axis 1 one call of
    :func:`filter_row_streams`, with the tables of ``_analysis_rows`` / ``_analysis_cols`` /
    ``_synthesis_rows`` / ``_synthesis_cols``. A level's bands are held as one array
    ``[[aa, ad], [da, dd]]``. ``sigma`` is the MAD over the HH1 coefficients whose filter support
    lies inside the plane, ``HH1[s:s + n_i, s:s + n_j]``, ``s = F/2 - 1``, ``n_i = (H - F) // 2 + 1``
    (and likewise along W). Since ``soft(d, t) = d - clip(d, -t, t)`` and the transform is linear
    with perfect reconstruction (``W^-1 W = I``), ``R = W^-1(0, clip(D, -t, t))``: the
    approximation is set to zero and only the clipped details are synthesised. This is exact in
    exact arithmetic and avoids the cancellation of ``x - denoised``.
    """
    h, w = x.shape
    f = _filter_bank(wavelet)[1]
    src = scratch("noise.wavelet.x", (h, w))
    np.copyto(src, x)
    n0, n1 = h, w  # this level's input: src[:n0, :n1]
    levels = []
    for lev in range(level):
        m0, m1 = (n0 + f - 1) // 2, (n1 + f - 1) // 2
        half = scratch(f"noise.wavelet.{lev}.half", (2 * m0, n1))  # [a; d] along axis 0
        filter_row_pairs(src, *_analysis_rows(wavelet, n0), n1, half)
        bands = scratch(f"noise.wavelet.{lev}.bands", (2 * m0, 2 * m1))  # [[aa, ad], [da, dd]]
        filter_row_streams(half, *_analysis_cols(wavelet, n1), bands)
        levels.append((n0, n1, m0, m1, half, bands))
        src, n0, n1 = bands[:m0], m0, m1  # the approximation: bands[:m0, :m1]
    n0, n1, m0, m1, _, bands = levels[0]
    s = f // 2 - 1
    hh1 = bands[m0:, m1:][s:s + (h - f) // 2 + 1, s:s + (w - f) // 2 + 1]
    sigma = _median(np.abs(hh1, out=scratch("noise.wavelet.abs", hh1.shape))) / mad_to_sigma
    t = sigma * np.sqrt(2.0 * np.log(h * w))
    for lev in range(level - 1, -1, -1):
        n0, n1, m0, m1, half, bands = levels[lev]
        if lev == level - 1:
            bands[:m0, :m1] = 0.0  # below it, the approximation is the coarser level's synthesis
        for band in (bands[:m0, m1:], bands[m0:]):
            np.clip(band, -t, t, out=band)
        filter_row_streams(bands, *_synthesis_cols(wavelet), half)  # axis 1 ...
        target = out if lev == 0 else levels[lev - 1][5][:n0]  # the finer level's approximation rows
        filter_row_pairs(half, *_synthesis_rows(wavelet, n0), n1, target)  # ... then axis 0
    return sigma


def residual_moments(r, grid, cells):
    """Moments of a materialised residual plane (H, W), every pixel used, into ``cells`` (grid^2, 5)."""
    r = np.ascontiguousarray(r, dtype=np.float64)
    cells[:] = 0.0
    if r.size:
        plane_moments(r, grid, _bounds(r.shape[1], grid, 0, r.shape[1]), cells)


def median_stats(planes, grid):
    """Kernel sums of the 3x3 median residual of every plane: (cells (P, grid^2, 5), cross (3,)).

    Zero counts (NaN statistics) for planes smaller than 3x3. One fused kernel pass: ``cv2.medianBlur``
    plus the moments of the materialised float64 residual (``plane_moments``) gives the same statistics
    within 1e-14 relative but made the family 1.19x slower (``benchmarks/noise_library_paths.py``).
    """
    p, h, w = planes.shape
    cells, cross = np.zeros((p, grid * grid, 5)), np.zeros(3)
    if h >= 3 and w >= 3:
        median_moments(planes, grid, _bounds(w, grid, 1, w - 1), cells, cross)
    return cells, cross


def srm_stats(planes, grid):
    """Kernel sums of the SRM residuals of the planes r, g, b, y: (cells (7, grid^2, 5), cross (3,)).

    Zero counts (NaN statistics) for planes smaller than 5x5; see ``srm_moments`` for the rows. One
    fused kernel pass: OpenCV filters (``sepFilter2D`` / ``filter2D`` in float64) plus ``plane_moments``
    give the same statistics within 1e-12 relative but made the family 1.6x slower
    (``benchmarks/noise_library_paths.py``).
    """
    h, w = planes.shape[1:]
    cells, cross = np.zeros((7, grid * grid, 5)), np.zeros(3)
    if h >= 5 and w >= 5:
        srm_moments(planes, grid, _bounds(w, grid, 2, w - 2), cells, cross)
    return cells, cross


def wavelet_stats(luma, grid, wavelet="db4", level=2):
    """Kernel sums of the wavelet residual of the luma: cells (grid^2, 5) (zero counts when the
    plane is too small for ``level`` levels of ``wavelet``)."""
    h, w = luma.shape
    dec_len = _filter_bank(wavelet)[1]
    cells = np.zeros((grid * grid, 5))
    if pywt.dwt_max_level(min(h, w), dec_len) >= level:
        residual = scratch("noise.wavelet.residual", (h, w))
        wavelet_residual(luma, wavelet, level, MAD_TO_SIGMA, residual)
        plane_moments(residual, grid, _bounds(w, grid, 0, w), cells)
    return cells


#: Rows of the stacked per-residual cells (see ``noise_vector``): median r, g, b, y; wavelet y;
#: SRM KV3 r, g, b, y, first order, second order, KV5.
_ROWS = {"median": slice(0, 4), "wavelet": slice(4, 5), "srm": slice(5, 12)}


def noise_vector(rgb, luma, *, residuals=RESIDUALS, grid=4, wavelet="db4", wavelet_level=2):
    """The noise row of an image given as arrays, in :class:`NoiseFeatures` column order.

    Parameters
    ----------
    rgb : ndarray (H, W, 3)
        Colour image on the 0..255 scale.
    luma : ndarray (H, W)
        Its luma on the 0..255 scale.
    residuals, grid, wavelet, wavelet_level
        See :class:`NoiseFeatures`.

    Returns
    -------
    ndarray of shape (n_features,), float64
    """
    planes = _planes(rgb, luma)
    selected = _selected(residuals)
    # every residual's kernel sums go into one (12, grid^2, 5) stack, summarised by one set of
    # vectorised calls (zero counts where the image is too small: NaN statistics)
    cells = np.zeros((12, grid * grid, 5))
    cross = np.zeros((2, 3))
    if "median" in selected:
        cells[_ROWS["median"]], cross[0] = median_stats(planes, grid)
    if "wavelet" in selected:
        cells[4] = wavelet_stats(planes[3], grid, wavelet, wavelet_level)
    if "srm" in selected:
        cells[_ROWS["srm"]], cross[1] = srm_stats(planes, grid)
    m2, skew, kurt = _moments(cells.sum(axis=1))
    var = np.log1p(m2)
    spread, logrange = _local_spreads(cells)
    parts = []
    for res in selected:
        if res == "median":
            rows = [0, 1, 2]
            parts += [var[rows], skew[rows], kurt[rows], _correlations(cells[:3].sum(axis=1), cross[0]),
                      [spread[3], logrange[3]]]
        elif res == "wavelet":
            parts += [var[4:5], skew[4:5], kurt[4:5], haar_sigma(planes), [spread[4], logrange[4]]]
        else:
            rows = [5, 6, 7, 8]
            parts += [var[rows], skew[rows], kurt[rows], _correlations(cells[5:8].sum(axis=1), cross[1]),
                      [spread[8], logrange[8]]]
            for row in (9, 10, 11):
                parts.append([var[row], skew[row], kurt[row], spread[row], logrange[row]])
    return np.concatenate(parts)


def noise_features(image, *, residuals=RESIDUALS, grid=4, wavelet="db4", wavelet_level=2):
    """Noise-residual features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
    residuals, grid, wavelet, wavelet_level
        See :class:`NoiseFeatures`.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import noise_features
    >>> flat = np.full((32, 32, 3), 0.5)
    >>> row = noise_features(flat, residuals="median")
    >>> row["noise__median_var__r"], row["noise__median_local_var_spread__g4"]
    (0.0, 0.0)
    >>> row["noise__median_kurt__r"]  # a constant residual has no shape
    nan
    """
    return NoiseFeatures(residuals=residuals, grid=grid, wavelet=wavelet,
                         wavelet_level=wavelet_level).extract_one(image)
