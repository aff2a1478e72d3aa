"""Up-sampling residuals: the neighbouring-pixel relations that 2x up-sampling leaves, per 2x2 phase
and across scales (NPR)."""

from __future__ import annotations

import numpy as np

from ._base import BaseExtractor, FeatureDoc, Interval
from ._kernels._upsampling import phase_sums

__all__ = ["UpsamplingFeatures", "upsampling_features", "upsampling_vector", "npr_residual"]

#: Added to the phase energies before their log ratio (grey levels squared): far below the
#: quantization noise of an 8-bit image (1/12), so it matters only for (nearly) constant images.
EPS = 1e-3

_NPR = ("Tan, Zhao, Wei, Gu, Liu & Wei, 'Rethinking the up-sampling operations in CNN-based generative network "
        "for generalizable deepfake detection', CVPR 2024, doi:10.1109/CVPR52733.2024.02715")
_GALLAGHER = ("Gallagher, 'Detection of linear and cubic interpolation in JPEG compressed images', CRV 2005, "
              "doi:10.1109/CRV.2005.33")
_POPESCU = ("Popescu & Farid, 'Exposing digital forgeries by detecting traces of resampling', IEEE TSP 2005, "
            "doi:10.1109/TSP.2004.839932")
_ODENA = "Odena, Dumoulin & Olah, 'Deconvolution and checkerboard artifacts', Distill 2016, doi:10.23915/distill.00003"

_PARAMS = "s<k><d>: scale k (1 = full resolution) and direction d (h, v, or d = diagonal)"


def _docs():
    return (
        FeatureDoc("upsampling", "npr_energy", _PARAMS,
                   "Energy of the neighbouring-pixel residual: log mean squared difference between adjacent pixels.",
                   "log(1 + mean(D^2)), D_h = Y[i,j+1] - Y[i,j], D_v = Y[i+1,j] - Y[i,j], "
                   "D_d = Y[i+1,j+1] - Y[i,j]; scale k works on Y area-downscaled by 2^(k-1)",
                   f"{_NPR}; {_POPESCU}", presets=("minimal",)),
        FeatureDoc("upsampling", "phase_spread", _PARAMS,
                   "Period-2 structure of the NPR: how much the neighbour-difference energy depends on the 2x2 "
                   "phase (0 for a natural image, large after nearest-neighbour 2x up-sampling).",
                   "log((EPS + max_p E_p) / (EPS + min_p E_p)), E_p = mean(D^2) over the differences whose "
                   "top-left pixel has phase p (column parity for h, row parity for v, both for d), EPS = 1e-3",
                   f"{_NPR}; {_ODENA}", presets=("minimal",)),
        FeatureDoc("upsampling", "corr_spread", "s<k><d>: scale k and direction d (h or v)",
                   "Period-2 structure of the correlation of consecutive neighbour differences (equal "
                   "differences across an interpolated pixel after linear 2x up-sampling).",
                   "|rho_0 - rho_1|, rho_p = Pearson correlation of D[j] and D[j+1] over the pairs whose first "
                   "difference starts at a column (h) or row (v) of parity p; NaN when either is undefined",
                   f"{_NPR}; {_GALLAGHER}"),
        FeatureDoc("upsampling", "d2_spread", "s<k><d>: scale k and direction d (h or v)",
                   "Period-2 structure of the second-derivative energy (interpolated pixels have a small "
                   "second derivative: Gallagher's periodic variance).",
                   "log((EPS + max_p F_p) / (EPS + min_p F_p)), F_p = mean(S^2) over S = Y[j-1] - 2Y[j] + Y[j+1] "
                   "centred at parity p", _GALLAGHER),
    )


def npr_residual(luma):
    """The NPR map of Tan et al.: ``Y - up(down(Y))`` with nearest-neighbour resampling by 2.

    Parameters
    ----------
    luma : ndarray of shape (H, W)

    Returns
    -------
    ndarray of shape (2 * (H // 2), 2 * (W // 2)), float64
        Zero at the top-left pixel of every 2x2 block; elsewhere the difference to it.

    Examples
    --------
    >>> import numpy as np
    >>> npr_residual(np.arange(16.0).reshape(4, 4))[:2, :2]
    array([[0., 1.],
           [4., 5.]])
    """
    y = np.asarray(luma, dtype=np.float64)
    h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
    y = y[:h, :w]
    return y - np.repeat(np.repeat(y[0::2, 0::2], 2, axis=0), 2, axis=1)


def _down2(y):
    """Mean of each 2x2 block (odd last row / column dropped)."""
    h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
    y = y[:h, :w]
    return 0.25 * (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2])


def _log_ratio(sums, counts):
    """log((EPS + max_p m_p) / (EPS + min_p m_p)) over the phases p with samples, m_p = sums / counts."""
    means = [s / n for s, n in zip(sums, counts) if n > 0]
    if len(means) < 2:
        return np.nan
    return float(np.log((EPS + max(means)) / (EPS + min(means))))


def _corr(m, sa, sb, saa, sbb, sab):
    """Pearson correlation from power sums; NaN under 2 pairs or for a constant side."""
    if m < 2:
        return np.nan
    va = saa / m - (sa / m) ** 2
    vb = sbb / m - (sb / m) ** 2
    den = m * np.sqrt(max(va, 0.0) * max(vb, 0.0))
    if not den > 1e-12:
        return np.nan
    return float(np.clip((sab / m - (sa / m) * (sb / m)) * m / den, -1.0, 1.0))


def _scale_row(y):
    """The 10 values of one scale: h and v (energy, phase, corr, d2), then d (energy, phase)."""
    sums = np.zeros(48)
    phase_sums(np.ascontiguousarray(y), sums)
    out = []
    for base in (0, 20):
        s = sums[base:base + 20]
        n = s[0] + s[1]
        out.append(np.log1p((s[2] + s[3]) / n) if n > 0 else np.nan)
        out.append(_log_ratio(s[2:4], s[0:2]))
        rho = [_corr(*s[4 + 6 * p:10 + 6 * p]) for p in (0, 1)]
        out.append(abs(rho[0] - rho[1]))
        out.append(_log_ratio(s[18:20], s[16:18]))
    n = sums[40:44].sum()
    out.append(np.log1p(sums[44:48].sum() / n) if n > 0 else np.nan)
    out.append(_log_ratio(sums[44:48], sums[40:44]))
    return out


def upsampling_vector(luma, *, n_scales=3):
    """The up-sampling row of a luma image, in :class:`UpsamplingFeatures` column order.

    Parameters
    ----------
    luma : ndarray of shape (H, W)
        Luma on the 0..255 scale.
    n_scales : int, default=3
        See :class:`UpsamplingFeatures`.

    Returns
    -------
    ndarray of shape (10 * n_scales,), float64
    """
    y = np.ascontiguousarray(luma, dtype=np.float64)
    out = []
    for k in range(n_scales):
        if k:
            y = _down2(y)
        if min(y.shape) < 2:
            out += [np.nan] * 10
            continue
        out += _scale_row(y)
    return np.asarray(out, dtype=np.float64)


def _names(n_scales):
    names = []
    for k in range(1, n_scales + 1):
        for d in ("h", "v"):
            names += [f"upsampling__npr_energy__s{k}{d}", f"upsampling__phase_spread__s{k}{d}",
                      f"upsampling__corr_spread__s{k}{d}", f"upsampling__d2_spread__s{k}{d}"]
        names += [f"upsampling__npr_energy__s{k}d", f"upsampling__phase_spread__s{k}d"]
    return names


class UpsamplingFeatures(BaseExtractor):
    """Up-sampling residuals: period-2 traces of 2x up-sampling in neighbouring-pixel differences (NPR).

    Generators up-sample their feature maps (nearest neighbour, bilinear, transposed convolution),
    and resized or re-generated regions are interpolated. Up-sampling by 2 ties each pixel to its
    neighbours differently depending on its position in the 2x2 block: Tan et al. (2024) feed the
    "neighbouring pixel relationships" ``NPR = Y - up(down(Y))`` (nearest neighbour) to a CNN.
    These features summarise the same relations by hand, without knowing the block lattice: the
    energy of neighbour differences, and how strongly it, their correlation and the second
    derivative depend on the 2x2 phase, at three scales (the image and its 2x and 4x
    area-downscaled versions, so 4x and 8x up-sampling show at the coarser scales).

    Parameters
    ----------
    n_scales : int, default=3
        Scales (1..5): scale ``k`` works on the luma area-downscaled by ``2 ** (k - 1)``.
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``upsampling__<feature>__s<k><direction>``; 30 columns with the defaults.

    See Also
    --------
    upsampling_features : the single-image function.
    npr_residual : the NPR map itself.

    Notes
    -----
    With ``Y`` the luma (0..255) at one scale and ``D`` the horizontal (``Y[i,j+1] - Y[i,j]``),
    vertical or diagonal (``Y[i+1,j+1] - Y[i,j]``) neighbour differences:

    - ``npr_energy = log(1 + mean(D^2))``;
    - ``phase_spread = log((EPS + max_p E_p) / (EPS + min_p E_p))`` with ``E_p`` the mean of
      ``D^2`` over the differences whose first pixel has 2x2 phase ``p`` (column parity for h,
      row parity for v, both for d) and ``EPS = 1e-3``. The NPR of Tan et al. is ``D`` at one
      phase (the within-block differences); comparing the phases makes the measure independent
      of where the 2x2 lattice starts, which a crop may shift;
    - ``corr_spread = |rho_0 - rho_1|``, ``rho_p`` the correlation of consecutive differences
      ``(D[j], D[j+1])`` with ``j`` of parity ``p`` (after linear 2x up-sampling the two
      differences around an interpolated pixel are equal);
    - ``d2_spread``: the ``phase_spread`` of the second difference
      ``Y[j-1] - 2Y[j] + Y[j+1]`` by the parity of its centre (zero at interpolated pixels of a
      linear up-sampling: Gallagher's periodic second-derivative variance).

    The coarser scales use the mean of each 2x2 block (odd last row/column dropped). A scale
    whose image is smaller than 2x2 is NaN; so are the ratios of a missing phase.

    References
    ----------
    .. [1] Tan et al., "Rethinking the up-sampling operations in CNN-based generative network for
       generalizable deepfake detection", CVPR 2024, doi:10.1109/CVPR52733.2024.02715.
    .. [2] Gallagher, "Detection of linear and cubic interpolation in JPEG compressed images",
       CRV 2005, doi:10.1109/CRV.2005.33.
    .. [3] Popescu & Farid, "Exposing digital forgeries by detecting traces of resampling", IEEE
       TSP 2005, doi:10.1109/TSP.2004.839932.
    .. [4] Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016,
       doi:10.23915/distill.00003.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import UpsamplingFeatures
    >>> rng = np.random.default_rng(0)
    >>> small = rng.integers(0, 256, (32, 32)).astype(np.uint8)
    >>> nearest = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)  # 2x nearest-neighbour up-sampling
    >>> ups = UpsamplingFeatures(n_scales=1).fit([nearest])
    >>> row = dict(zip(ups.get_feature_names_out(), ups.transform([nearest])[0]))
    >>> bool(row["upsampling__phase_spread__s1h"] > 10)  # every other difference is exactly 0
    True
    """

    family = "upsampling"
    _param_rules = {"n_scales": Interval(int, 1, 5)}
    feature_docs = _docs()

    def __init__(self, *, n_scales=3, n_jobs=None, on_error="raise", progress=False):
        self.n_scales = n_scales
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        return _names(self.n_scales)

    def _compute(self, item):
        return upsampling_vector(item.luma, n_scales=self.n_scales)


def upsampling_features(image, *, n_scales=3):
    """Up-sampling residual features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
    n_scales : int, default=3
        See :class:`UpsamplingFeatures`.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import upsampling_features
    >>> row = upsampling_features(np.full((16, 16), 0.5), n_scales=1)
    >>> row["upsampling__npr_energy__s1h"], row["upsampling__phase_spread__s1h"]
    (0.0, 0.0)
    """
    return UpsamplingFeatures(n_scales=n_scales).extract_one(image)
