"""Local inconsistency: how unevenly the noise level, sharpness and fine-to-coarse detail ratio of
the luma vary over a grid of blocks (the blind splicing cue of local noise estimation)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._base import BaseExtractor, FeatureDoc, Interval

__all__ = ["LocalInconsistencyFeatures", "local_features", "local_vector", "local_maps", "map_statistics",
           "block_grid"]

#: median(|N(0, 1)|): the MAD of a Gaussian in units of its deviation.
MAD_TO_SIGMA = 0.6745
#: Added to a block's noise deviation before its log (grey levels): about the deviation of 8-bit
#: rounding (1 / sqrt(12) = 0.29), so that flat (clipped, quantized) blocks do not dominate the spread.
EPS_SIGMA = 0.25
#: Added to both energies of the sharpness ratio (grey levels squared): the variance of 8-bit rounding.
EPS_ENERGY = 1.0 / 12.0
#: A map variance at or below this is constant: its kurtosis, Moran's I and split are NaN.
TINY_VAR = 1e-12
#: The block maps, in column order.
MAPS = ("noise", "sharpness", "hfratio")
#: The statistics of each map, in column order.
STATS = ("std", "max_median", "median_min", "range90", "kurt", "moran", "split_ratio", "split_area")

_MAHDIAN = ("Mahdian & Saic, 'Using noise inconsistencies for blind image forensics', Image and Vision Computing "
            "2009, doi:10.1016/j.imavis.2009.02.001")
_LYU = ("Lyu, Pan & Zhang, 'Exposing region splicing forgeries with blind local noise estimation', IJCV 2014, "
        "doi:10.1007/s11263-013-0688-y")
_DONOHO = ("Donoho & Johnstone, 'Ideal spatial adaptation by wavelet shrinkage', Biometrika 1994, "
           "doi:10.1093/biomet/81.3.425")
_MORAN = "Moran, 'Notes on continuous stochastic phenomena', Biometrika 1950, doi:10.2307/2332142"
_OTSU = ("Otsu, 'A threshold selection method from gray-level histograms', IEEE TSMC 1979, "
         "doi:10.1109/TSMC.1979.4310076")
_PERTUZ = ("Pertuz, Puig & Garcia, 'Analysis of focus measure operators for shape-from-focus', Pattern "
           "Recognition 2013, doi:10.1016/j.patcog.2012.11.011")

_MAP_TEXT = (
    "m_b over the blocks b of the grid, one of: noise = log(EPS_S + median|HH1| / 0.6745); "
    "sharpness = log((EPS_E + mean L^2) / (EPS_E + var Y)); hfratio = log((EPS_S + median|HH1| / 0.6745) / "
    "(EPS_S + median|HH2| / 0.6745)); HH1 = (a - b - c + d) / 2 of the 2x2 cells [[a, b], [c, d]] of the luma Y, "
    "HH2 the same of LL1 = (a + b + c + d) / 2 (level-2 Haar), L = Y * [[0,1,0],[1,-4,1],[0,1,0]] (reflected "
    "border), EPS_S = 0.25, EPS_E = 1/12; statistics over the blocks' own pixels"
)
_PARAMS = "noise, sharpness, hfratio: the block map"


def _docs():
    def add(stat, description, formula, reference, presets=("full",)):
        return FeatureDoc("local", stat, _PARAMS, description, f"{formula}; {_MAP_TEXT}", reference, "low", presets)

    spread = f"{_MAHDIAN}; {_LYU}"
    return (
        add("std", "Spread of the block map: how much the trace varies over the image.",
            "sqrt(mean_b (m_b - mean m)^2) (population deviation over the n blocks; NaN below 2 blocks)",
            f"{spread}; {_DONOHO}", ("minimal",)),
        add("max_median", "How far the most extreme block lies above the typical one (an odd region with more "
            "noise, or sharper).", "max_b m_b - median_b m_b (NaN below 2 blocks)", spread),
        add("median_min", "How far the lowest block lies below the typical one (an odd region with less noise, or "
            "blurred).", "median_b m_b - min_b m_b (NaN below 2 blocks)", spread),
        add("range90", "Robust range of the block map.",
            "P95 - P5 of m_b (percentiles with linear interpolation, numpy's default; NaN below 2 blocks)", spread),
        add("kurt", "Tails of the block map: a few odd blocks among many alike give a large kurtosis.",
            "mean (m_b - mean m)^4 / var^2 - 3 (population moments; NaN when var <= 1e-12 or below 2 blocks)",
            spread),
        add("moran", "Spatial autocorrelation of the block map (Moran's I): a coherent odd region reads high, "
            "scattered variation near 0.",
            "I = (n / S0) sum_(b~c) z_b z_c / sum_b z_b^2, z = m - mean m, b~c over the ordered pairs of blocks "
            "adjacent in the grid (4-neighbourhood), S0 their number; NaN without an adjacent pair or when "
            "var <= 1e-12", f"{_MORAN}; {_LYU}", ("minimal",)),
        add("split_ratio", "Strength of the best two-group split of the block map (Otsu): near 1 when the blocks "
            "form two well separated groups (a region with another trace), lower for a unimodal spread.",
            "max_k w0 w1 (mu0 - mu1)^2 / var over the splits of the sorted values between distinct values "
            "(w: group fractions, mu: group means): the between-group share of the variance (eta^2); NaN when "
            "var <= 1e-12", f"{_OTSU}; {_MAHDIAN}", ("minimal",)),
        add("split_area", "Area fraction of the smaller group of that best split (the size of the odd region).",
            "min(k, n - k) / n at the k of split_ratio (the first maximum); NaN when split_ratio is NaN",
            f"{_OTSU}; {_MAHDIAN}"),
    )


# -- the block grid and the maps ------------------------------------------------------------------

def _step(block, overlap):
    """Block step in pixels: ``block * (1 - overlap)`` rounded to a multiple of 4 (at least 4)."""
    return max(4, 4 * int(round(block * (1.0 - overlap) / 4.0)))


def block_grid(shape, block=32, overlap=0.0):
    """Rows and columns of the block grid of an image, and the step between blocks.

    Parameters
    ----------
    shape : tuple
        ``(H, W)`` of the image.
    block : int, default=32
        Block side in pixels (a multiple of 4).
    overlap : float, default=0
        Fraction of a block shared with the next one.

    Returns
    -------
    n_rows, n_cols, step : int
        Blocks ``[r * step, r * step + block) x [c * step, c * step + block)``; 0 rows or columns
        when the image is smaller than one block.

    Examples
    --------
    >>> block_grid((256, 250))
    (8, 7, 32)
    >>> block_grid((256, 256), overlap=0.5)
    (15, 15, 16)
    >>> block_grid((31, 300))[:2]
    (0, 9)
    """
    step = _step(block, overlap)
    h, w = int(shape[0]), int(shape[1])
    n_rows = (h - block) // step + 1 if h >= block else 0
    n_cols = (w - block) // step + 1 if w >= block else 0
    return n_rows, n_cols, step


def _block_sums(plane, n_rows, n_cols, block, step):
    """Sums of ``plane`` over every block of the grid (n_rows, n_cols), from its integral image."""
    integral = cv2.integral(np.ascontiguousarray(plane, dtype=np.float64), sdepth=cv2.CV_64F)
    r0 = np.arange(n_rows) * step
    c0 = np.arange(n_cols) * step
    r1, c1 = r0 + block, c0 + block
    return (integral[np.ix_(r1, c1)] - integral[np.ix_(r0, c1)] - integral[np.ix_(r1, c0)]
            + integral[np.ix_(r0, c0)])


def _block_medians(plane, n_rows, n_cols, side, step):
    """Median of ``plane`` over each ``side x side`` window at multiples of ``step`` (n_rows, n_cols)."""
    windows = sliding_window_view(plane, (side, side))[::step, ::step][:n_rows, :n_cols]
    return np.median(windows.reshape(n_rows, n_cols, side * side), axis=-1)


def _haar(y):
    """Level-1 Haar bands (LL, |HH|) of a plane with even sides: orthonormal, as ``pywt.dwt2(y, "haar")``."""
    a, b, c, d = y[0::2, 0::2], y[0::2, 1::2], y[1::2, 0::2], y[1::2, 1::2]
    return (a + b + c + d) / 2.0, np.abs(a - b - c + d) / 2.0


def local_maps(luma, *, block=32, overlap=0.0):
    """The three block maps of a luma image (see :class:`LocalInconsistencyFeatures`).

    Parameters
    ----------
    luma : ndarray of shape (H, W)
        Luma on the 0..255 scale.
    block, overlap
        See :class:`LocalInconsistencyFeatures`.

    Returns
    -------
    dict of str -> ndarray of shape (n_rows, n_cols), float64
        ``noise``, ``sharpness``, ``hfratio`` per block (:func:`block_grid`); empty arrays when
        the image is smaller than one block.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = 128 + 4 * rng.standard_normal((64, 96))
    >>> maps = local_maps(y)
    >>> maps["noise"].shape
    (2, 3)
    >>> round(float(np.mean(np.exp(maps["noise"]) - 0.25)), 1)  # white noise of deviation 4
    4.1
    """
    y = np.asarray(luma, dtype=np.float64)
    n_rows, n_cols, step = block_grid(y.shape, block, overlap)
    if n_rows == 0 or n_cols == 0:
        empty = np.empty((n_rows, n_cols))
        return {name: empty.copy() for name in MAPS}
    hc, wc = (n_rows - 1) * step + block, (n_cols - 1) * step + block
    ll1, hh1 = _haar(y[:hc, :wc])
    _, hh2 = _haar(ll1)
    sigma1 = _block_medians(hh1, n_rows, n_cols, block // 2, step // 2) / MAD_TO_SIGMA
    sigma2 = _block_medians(hh2, n_rows, n_cols, block // 4, step // 4) / MAD_TO_SIGMA
    lap = cv2.Laplacian(np.ascontiguousarray(y, dtype=np.float64), cv2.CV_64F, ksize=1,
                        borderType=cv2.BORDER_REFLECT_101)[:hc, :wc]
    area = float(block * block)
    lap_energy = _block_sums(lap * lap, n_rows, n_cols, block, step) / area
    mean = _block_sums(y[:hc, :wc], n_rows, n_cols, block, step) / area
    var = np.maximum(_block_sums(y[:hc, :wc] ** 2, n_rows, n_cols, block, step) / area - mean * mean, 0.0)
    return {
        "noise": np.log(EPS_SIGMA + sigma1),
        "sharpness": np.log((EPS_ENERGY + lap_energy) / (EPS_ENERGY + var)),
        "hfratio": np.log((EPS_SIGMA + sigma1) / (EPS_SIGMA + sigma2)),
    }


# -- statistics of one map ------------------------------------------------------------------------

def _moran(m):
    """Moran's I of a 2-D map with 4-neighbour (rook) adjacency; NaN without a pair or variance."""
    z = m - m.mean()
    denom = float((z * z).sum())
    pairs = 2 * (m.shape[0] * (m.shape[1] - 1) + m.shape[1] * (m.shape[0] - 1))  # ordered pairs
    if pairs == 0 or not denom > TINY_VAR * m.size:
        return np.nan
    cross = 2.0 * (float((z[:, 1:] * z[:, :-1]).sum()) + float((z[1:, :] * z[:-1, :]).sum()))
    return m.size / pairs * cross / denom


def _split(values):
    """(between-group share of the variance, smaller group's fraction) of the best two-group split."""
    v = np.sort(values)
    n = v.size
    total = v.var()
    if not total > TINY_VAR:
        return np.nan, np.nan
    k = np.arange(1, n)
    csum = np.cumsum(v)[:-1]
    mu0 = csum / k
    mu1 = (v.sum() - csum) / (n - k)
    between = (k / n) * (1.0 - k / n) * (mu0 - mu1) ** 2
    between[v[1:] == v[:-1]] = -np.inf  # a split must fall between two distinct values
    best = int(np.argmax(between))
    return float(min(between[best] / total, 1.0)), min(k[best], n - k[best]) / n


def map_statistics(m):
    """The eight statistics of one block map, in :data:`STATS` order (NaN below 2 blocks).

    Parameters
    ----------
    m : ndarray of shape (n_rows, n_cols)

    Returns
    -------
    ndarray of shape (8,), float64

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 4)); m[:2, :2] = 1.0  # one coherent odd quarter
    >>> stats = dict(zip(STATS, map_statistics(m)))
    >>> float(stats["split_ratio"]), float(stats["split_area"]), round(float(stats["moran"]), 3)
    (1.0, 0.25, 0.556)
    """
    m = np.asarray(m, dtype=np.float64)
    v = m.ravel()
    if v.size < 2:
        return np.full(len(STATS), np.nan)
    med = float(np.median(v))
    p5, p95 = np.percentile(v, [5.0, 95.0])
    z = v - v.mean()
    var = float((z * z).mean())
    kurt = float((z ** 4).mean() / (var * var) - 3.0) if var > TINY_VAR else np.nan
    ratio, area = _split(v)
    return np.array([np.sqrt(var), v.max() - med, med - v.min(), p95 - p5, kurt, _moran(m), ratio, area])


def local_vector(luma, *, block=32, overlap=0.0):
    """The local-inconsistency row of a luma image, in :class:`LocalInconsistencyFeatures` column order.

    Parameters
    ----------
    luma : ndarray of shape (H, W)
        Luma on the 0..255 scale.
    block, overlap
        See :class:`LocalInconsistencyFeatures`.

    Returns
    -------
    ndarray of shape (24,), float64
        NaN throughout when the image holds fewer than 2 blocks.
    """
    maps = local_maps(luma, block=block, overlap=overlap)
    return np.concatenate([map_statistics(maps[name]) for name in MAPS])


def _names():
    return [f"local__{stat}__{name}" for name in MAPS for stat in STATS]


class _Block:
    """Parameter rule of ``block``: an int multiple of 4 in 8..256."""

    def check(self, name, value):
        Interval(int, 8, 256).check(name, value)
        if value % 4:
            raise ValueError(f"{name} must be a multiple of 4 (two Haar levels tile it), got {value!r}")


class LocalInconsistencyFeatures(BaseExtractor):
    """Local inconsistency: how unevenly noise level, sharpness and detail ratio vary over blocks.

    A spliced, self-blended or retouched region has been through another camera, another
    resampling, a blur or a sharpening: its noise level and its sharpness differ from the rest of
    the image, while a camera's noise is about the same everywhere (Mahdian & Saic 2009; Lyu,
    Pan & Zhang 2014). The luma is cut into a grid of blocks; each block gets three measures (its
    noise deviation, its normalized sharpness and its fine-to-coarse detail ratio), and each of
    these maps is summarised by how much it varies (spread, extremes, tails), whether the odd
    blocks form one coherent region (Moran's I) and how well the blocks split into two groups
    (Otsu) and how large the smaller group is.

    No column reads where a block lies: every statistic is invariant to any permutation of the
    blocks, except Moran's I, which reads only which blocks are neighbours. A region's absolute
    position (the demo set's manipulated regions are near the centre) cannot be learned.

    Parameters
    ----------
    block : int, default=32
        Block side in pixels: a multiple of 4 in 8..256.
    overlap : float, default=0.0
        Fraction of a block shared with its neighbour, in [0, 0.75]: the step between blocks is
        ``block * (1 - overlap)`` rounded to a multiple of 4 (at least 4).
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``local__<statistic>__<map>``: 24 columns (8 statistics of 3 maps).

    See Also
    --------
    local_features : the single-image function.
    local_maps, map_statistics : the block maps and their statistics.
    NoiseFeatures : its ``local_var_*`` columns are the spread of a residual's variance over a
        coarse fixed grid (4 x 4 cells).

    Notes
    -----
    Blocks ``[r s, r s + B) x [c s, c s + B)`` of the luma ``Y`` (0..255) with side ``B`` and step
    ``s`` (:func:`block_grid`); the grid starts at the top-left pixel and the last rows and
    columns that do not fill a block are left out. Per block:

    - ``noise = log(EPS_S + sigma1)``, ``sigma1 = median|HH1| / 0.6745``: the MAD noise
      deviation of the level-1 Haar diagonal band ``HH1 = (a - b - c + d) / 2`` of the block's
      2x2 cells (Donoho & Johnstone 1994; the block estimate of Mahdian & Saic 2009);
    - ``sharpness = log((EPS_E + mean L^2) / (EPS_E + var Y))``: the Laplacian energy
      (``L = Y * [[0,1,0],[1,-4,1],[0,1,0]]``, reflected at the image border) over the block's
      variance, so contrast cancels: a blurred block reads low, a sharpened one high (the
      Laplacian focus measure of Pertuz et al. 2013, normalized);
    - ``hfratio = log((EPS_S + sigma1) / (EPS_S + sigma2))``, ``sigma2`` the same MAD deviation of
      the level-2 band ``HH2`` (the Haar transform of ``LL1 = (a + b + c + d) / 2``): about 0 for
      white noise, lower where fine detail is missing relative to coarse detail;

    ``EPS_S = 0.25`` grey levels and ``EPS_E = 1/12`` (8-bit rounding). Per map ``m`` over its
    ``n`` blocks: ``std`` (population), ``max_median``, ``median_min``, ``range90 = P95 - P5``,
    ``kurt`` (excess, population), ``moran`` (Moran's I, 4-neighbour adjacency,
    ``I = (n / S0) sum_(b~c) z_b z_c / sum z_b^2`` over the ``S0`` ordered adjacent pairs),
    ``split_ratio`` (the largest between-group variance ``w0 w1 (mu0 - mu1)^2`` over the splits of
    the sorted values, over the total variance) and ``split_area`` (the smaller group's fraction).

    Images with fewer than 2 blocks (a side below ``block``, or a single block) give NaN in every
    column: a spread needs two blocks.

    Measured, a negative result: alone (the ``local-lr`` detector) the family reaches 5-fold CV
    ROC-AUC 0.50-0.81 on the demo, CASIA v1 and LFW face-swap sets, and added to the
    ``generalist-xgb`` bank or the pixel families it changes nothing beyond the folds' spread: the
    spread of these maps between images is set by the content far more than by a manipulated
    region (``docs/results.md``, "Local inconsistency: a negative result"). A map without variance (a constant image) gives 0 for the
    spreads and NaN for ``kurt``, ``moran`` and the split (any grid of 2 or more blocks has an
    adjacent pair, so Moran's I is defined whenever the map varies).

    References
    ----------
    .. [1] Mahdian & Saic, "Using noise inconsistencies for blind image forensics", Image and
       Vision Computing 2009, doi:10.1016/j.imavis.2009.02.001.
    .. [2] Lyu, Pan & Zhang, "Exposing region splicing forgeries with blind local noise
       estimation", IJCV 2014, doi:10.1007/s11263-013-0688-y.
    .. [3] Donoho & Johnstone, "Ideal spatial adaptation by wavelet shrinkage", Biometrika 1994,
       doi:10.1093/biomet/81.3.425.
    .. [4] Moran, "Notes on continuous stochastic phenomena", Biometrika 1950, doi:10.2307/2332142.
    .. [5] Otsu, "A threshold selection method from gray-level histograms", IEEE TSMC 1979,
       doi:10.1109/TSMC.1979.4310076.
    .. [6] Pertuz, Puig & Garcia, "Analysis of focus measure operators for shape-from-focus",
       Pattern Recognition 2013, doi:10.1016/j.patcog.2012.11.011.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import LocalInconsistencyFeatures
    >>> rng = np.random.default_rng(0)
    >>> img = 128 + 2 * rng.standard_normal((128, 128))
    >>> img[32:96, 32:96] += 6 * rng.standard_normal((64, 64))  # a noisier pasted square
    >>> ext = LocalInconsistencyFeatures().fit()
    >>> row = dict(zip(ext.get_feature_names_out(), ext.transform([np.clip(img, 0, 255).astype(np.uint8)])[0]))
    >>> float(row["local__split_area__noise"])  # 4 of the 16 blocks
    0.25
    >>> bool(row["local__split_ratio__noise"] > 0.95 and row["local__moran__noise"] > 0.3)
    True
    """

    family = "local"
    _param_rules = {"block": _Block(), "overlap": Interval(float, 0.0, 0.75)}
    feature_docs = _docs()

    def __init__(self, *, block=32, overlap=0.0, n_jobs=None, on_error="raise", progress=False):
        self.block = block
        self.overlap = overlap
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        return _names()

    def _compute(self, item):
        return local_vector(item.luma, block=self.block, overlap=self.overlap)


def local_features(image, *, block=32, overlap=0.0):
    """Local-inconsistency features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
    block, overlap
        See :class:`LocalInconsistencyFeatures`.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import local_features
    >>> row = local_features(np.full((64, 64), 0.5))
    >>> row["local__std__noise"], row["local__moran__noise"]  # a constant image: no spread, no pattern
    (0.0, nan)
    >>> bool(np.isnan(local_features(np.full((16, 16), 0.5))["local__std__noise"]))  # under one block
    True
    """
    return LocalInconsistencyFeatures(block=block, overlap=overlap).extract_one(image)
