"""Whole-image log-DCT spectrum on a normalized frequency grid (Frank et al. 2020)."""

from __future__ import annotations

import numpy as np
from scipy import fft

from ._base import BaseExtractor, FeatureDoc, Interval

__all__ = ["DCTSpectrumFeatures", "dct_spectrum_features"]

_FRANK = ("Frank et al., 'Leveraging frequency analysis for deep fake image recognition', ICML 2020, "
          "PMLR 119:3247-3258, arXiv:2003.08685")


class DCTSpectrumFeatures(BaseExtractor):
    """Log-magnitude 2-D DCT of the whole luma, averaged on an ``n_bands x n_bands`` frequency grid.

    Frank et al. (2020) showed that GAN up-sampling leaves a grid of artefacts in the DCT
    spectrum that a *linear* classifier separates. They resize every image to one size; this
    extractor never resizes: it pools the spectrum over bands of *normalized* frequency, so any
    size (and non-square images) map to the same ``n_bands^2`` columns.

    Parameters
    ----------
    n_bands : int, default=16
        Bands per axis; the output has ``n_bands ** 2`` columns.
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``dctspec__log_abs__uAAvBB`` with ``AA`` the vertical and ``BB`` the horizontal band.

    Notes
    -----
    With ``Y`` the (H, W) luma and the orthonormal DCT-II
    ``D[k, l] = a_k a_l sum_{m,n} Y[m, n] cos(pi (2m+1) k / 2H) cos(pi (2n+1) l / 2W)``
    (``a_0 = sqrt(1/N)``, ``a_k = sqrt(2/N)``), row ``k`` lies in band ``floor(k n_bands / H)``
    and column ``l`` in band ``floor(l n_bands / W)``; each feature is the mean of
    ``log(|D[k, l]| + 1e-3)`` over its band (bands with no coefficient, in images smaller than
    ``n_bands``, are NaN). Normalization across the data set (Frank et al. standardize each
    coefficient) is left to the pipeline's scaler.

    References
    ----------
    .. [1] Frank et al., ICML 2020, arXiv:2003.08685.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import DCTSpectrumFeatures
    >>> img = np.random.default_rng(0).integers(0, 256, (40, 56), dtype=np.uint8)
    >>> ext = DCTSpectrumFeatures(n_bands=4).fit([img])
    >>> ext.transform([img]).shape
    (1, 16)
    """

    family = "dctspec"
    _param_rules = {"n_bands": Interval(int, 1, 256)}
    feature_docs = (
        FeatureDoc("dctspec", "log_abs", "uAAvBB: vertical band AA, horizontal band BB of n_bands",
                   "Mean log-magnitude of the whole-image DCT-II in one band of normalized frequency.",
                   "mean over (k, l) in band of log(|DCT2_ortho(Y)[k, l]| + 1e-3), band = (floor(k n / H), floor(l n / W))",
                   _FRANK, cost="medium"),
    )

    def __init__(self, *, n_bands=16, n_jobs=None, on_error="raise", progress=False):
        self.n_bands = n_bands
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        n = self.n_bands
        width = max(2, len(str(n - 1)))
        return [f"dctspec__log_abs__u{u:0{width}d}v{v:0{width}d}" for u in range(n) for v in range(n)]

    def _compute(self, item):
        return dct_spectrum_vector(item.luma, n_bands=self.n_bands)


def dct_spectrum_vector(luma, *, n_bands=16):
    """The ``n_bands ** 2`` pooled log-DCT values of a (H, W) luma array, row-major over bands."""
    y = np.asarray(luma, dtype=np.float64)
    h, w = y.shape
    logabs = np.log(np.abs(fft.dctn(y, type=2, norm="ortho")) + 1e-3)
    rows = (np.arange(h) * n_bands) // h  # band of each row, non-decreasing
    cols = (np.arange(w) * n_bands) // w
    row_bands, row_starts, row_counts = np.unique(rows, return_index=True, return_counts=True)
    col_bands, col_starts, col_counts = np.unique(cols, return_index=True, return_counts=True)
    sums = np.add.reduceat(np.add.reduceat(logabs, row_starts, axis=0), col_starts, axis=1)
    out = np.full((n_bands, n_bands), np.nan)
    out[np.ix_(row_bands, col_bands)] = sums / (row_counts[:, None] * col_counts[None, :])
    return out.ravel()


def dct_spectrum_features(image, *, n_bands=16):
    """Pooled whole-image log-DCT spectrum of one image as an ordered ``{name: value}`` dict.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import dct_spectrum_features
    >>> row = dct_spectrum_features(np.full((8, 8), 128, np.uint8), n_bands=2)
    >>> # flat image: DC = 8 * 128 = 1024, every other coefficient 0 -> log(1e-3) = -6.908
    >>> [round(v, 3) for v in row.values()]  # band (0, 0) = (log(1024.001) + 15 * -6.908) / 16
    [-6.043, -6.908, -6.908, -6.908]
    """
    return DCTSpectrumFeatures(n_bands=n_bands).extract_one(image)
