"""Blur / sharpness features of the luma channel."""

from __future__ import annotations

import functools

import numpy as np

from ._base import BaseExtractor, FeatureDoc, Interval
from ._workspace import scratch
from ._kernels import _blur as _compiled
from ._kernels._tier import tiered

#: The kernels as the feature code calls them: their NumPy twins until compiling them pays off.
haar_detail_energies = tiered(_compiled.haar_detail_energies)
sharpness_edges = tiered(_compiled.sharpness_edges)

__all__ = ["BlurFeatures", "blur_features"]

_PECH = "Pech-Pacheco et al., 'Diatom autofocusing in brightfield microscopy', ICPR 2000, doi:10.1109/ICPR.2000.903548"


class BlurFeatures(BaseExtractor):
    """Blur and sharpness of the luma: global focus measures, edge width and their spatial spread.

    Generated images and face swaps are often blended, resampled or smoothed; a pasted region
    is often sharper or blurrier than its surroundings. These measures quantify both.

    Parameters
    ----------
    grid : int, default=4
        The image is split into ``grid x grid`` cells for the local (inconsistency) features.
    edge_threshold : float, default=20
        Minimum intensity step, in grey levels, for a pixel to count as an edge in the edge-width
        measure (the Sobel response threshold is four times this).
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``blur__<feature>__<param>``; see ``feature_docs`` and ``docs/features.md``.

    See Also
    --------
    blur_features : the single-image function.

    Notes
    -----
    With ``Y`` the BT.601 luma (0..255), over interior pixels:

    - ``laplacian_var``: ``log(1 + Var(L))``, ``L = Y[i-1,j] + Y[i+1,j] + Y[i,j-1] + Y[i,j+1] - 4Y[i,j]``.
    - ``tenengrad``: ``log(1 + mean(Gx^2 + Gy^2))`` with 3x3 Sobel ``Gx``, ``Gy``.
    - ``brenner``: ``log(1 + mean(Dx^2 + Dy^2))``, central differences ``Dx = Y[i,j+1] - Y[i,j-1]``.
    - ``hf_ratio``: Haar wavelet energy ratio ``E1 / (E1 + E2 + E3)`` where ``Ek`` is the energy of
      the level-k detail sub-bands (level 1 finest), on the top-left crop whose sides are
      multiples of 8 (so each level tiles exactly; equal to ``pywt.wavedec2(crop, "haar", 3)``).
    - ``edge_width``: mean width of vertical edges (Marziliano et al.); ``edge_density`` the
      fraction of interior pixels that are such edges.
    - ``local_lapvar_cv`` / ``local_lapvar_logrange``: over the grid cells' Laplacian variances
      ``v_c``, ``std(v) / mean(v)`` and ``log(1 + max v) - log(1 + min v)``.

    Images smaller than 3x3 have no interior: their features are NaN. ``hf_ratio`` needs at least
    8x8 pixels.

    References
    ----------
    .. [1] Pech-Pacheco et al., ICPR 2000 (variance of the Laplacian).
    .. [2] Krotkov, "Focusing", IJCV 1987, doi:10.1007/BF00127822 (Tenengrad).
    .. [3] Brenner et al., J. Histochem. Cytochem. 1976, doi:10.1177/24.1.1254907.
    .. [4] Tong et al., "Blur detection for digital images using wavelet transform", ICME 2004,
       doi:10.1109/ICME.2004.1394133.
    .. [5] Marziliano et al., "A no-reference perceptual blur metric", ICIP 2002,
       doi:10.1109/ICIP.2002.1038902.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import BlurFeatures
    >>> step = np.zeros((16, 16), dtype=np.uint8); step[:, 8:] = 255
    >>> blur = BlurFeatures().fit([step])
    >>> row = dict(zip(blur.get_feature_names_out(), blur.transform([step])[0]))
    >>> float(row["blur__edge_width__mean"])
    1.0
    """

    family = "blur"
    _param_rules = {"grid": Interval(int, 1, 64), "edge_threshold": Interval(float, 0.0, 255.0)}
    feature_docs = (
        FeatureDoc("blur", "laplacian_var", "log: natural log of 1 + value",
                   "Variance of the 4-neighbour Laplacian of the luma: the classic focus measure.",
                   "log(1 + Var(L)), L = 4-neighbour Laplacian of Y over interior pixels", _PECH,
                   presets=("minimal",)),
        FeatureDoc("blur", "tenengrad", "log: natural log of 1 + value",
                   "Mean squared Sobel gradient magnitude of the luma.",
                   "log(1 + mean(Gx^2 + Gy^2)), Gx, Gy = 3x3 Sobel responses",
                   "Krotkov, 'Focusing', IJCV 1987, doi:10.1007/BF00127822"),
        FeatureDoc("blur", "brenner", "log: natural log of 1 + value",
                   "Mean squared two-pixel difference (Brenner gradient), both directions.",
                   "log(1 + mean((Y[i,j+1]-Y[i,j-1])^2 + (Y[i+1,j]-Y[i-1,j])^2))",
                   "Brenner et al., J. Histochem. Cytochem. 1976, doi:10.1177/24.1.1254907"),
        FeatureDoc("blur", "hf_ratio", "haar3: 3-level Haar decomposition",
                   "Share of the finest wavelet detail energy among three levels; low for blurred images.",
                   "E1 / (E1 + E2 + E3), Ek = sum of squared level-k Haar detail coefficients (cH, cV, cD)",
                   "Tong et al., ICME 2004, doi:10.1109/ICME.2004.1394133", presets=("minimal",)),
        FeatureDoc("blur", "edge_width", "mean: average over edge pixels",
                   "Mean width of vertical edges, from the edge pixel to the nearest intensity extrema.",
                   "mean over edge pixels of (right extremum - left extremum) along the row",
                   "Marziliano et al., ICIP 2002, doi:10.1109/ICIP.2002.1038902", cost="medium"),
        FeatureDoc("blur", "edge_density", "t<edge_threshold>: minimum step in grey levels",
                   "Fraction of interior pixels detected as vertical edges by the edge-width measure.",
                   "n_edges / ((H - 2)(W - 2))",
                   "Marziliano et al., ICIP 2002, doi:10.1109/ICIP.2002.1038902", cost="medium"),
        FeatureDoc("blur", "local_lapvar_cv", "g<grid>: grid x grid cells",
                   "Spatial inconsistency of sharpness: coefficient of variation of per-cell Laplacian variance.",
                   "std_c(v_c) / mean_c(v_c), v_c = Var(L) in cell c", _PECH, presets=("minimal",)),
        FeatureDoc("blur", "local_lapvar_logrange", "g<grid>: grid x grid cells",
                   "Spatial inconsistency of sharpness: log range of per-cell Laplacian variance.",
                   "log(1 + max_c v_c) - log(1 + min_c v_c)", _PECH),
    )

    def __init__(self, *, grid=4, edge_threshold=20.0, n_jobs=None, on_error="raise", progress=False):
        self.grid = grid
        self.edge_threshold = edge_threshold
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        g = f"g{self.grid}"
        return [
            "blur__laplacian_var__log", "blur__tenengrad__log", "blur__brenner__log",
            "blur__hf_ratio__haar3", "blur__edge_width__mean", f"blur__edge_density__t{self.edge_threshold:g}",
            f"blur__local_lapvar_cv__{g}", f"blur__local_lapvar_logrange__{g}",
        ]

    def _compute(self, item):
        return blur_vector(item.luma, grid=self.grid, edge_threshold=self.edge_threshold)


@functools.lru_cache(maxsize=64)
def _bounds(w, grid):
    """Column bounds (grid + 1,) of the cells ``j * grid // w == c``, clipped to the interior 1 .. w - 1."""
    out = np.clip((np.arange(grid + 1) * w + grid - 1) // grid, 1, w - 1).astype(np.int64)
    out.setflags(write=False)
    return out


def sharpness_sums(luma, grid=4, edge_threshold=20.0):
    """(cells (grid * grid, 5), widths (n_edges,)) of a luma image with at least 3x3 pixels.

    ``cells`` holds per grid cell [count, sum L, sum L^2, sum(Gx^2 + Gy^2), sum(Dx^2 + Dy^2)] over
    the interior pixels and ``widths`` the widths of the vertical edges in row-major order; see
    ``_kernels._blur.sharpness_edges``. The luma is read as float32.
    """
    y = np.ascontiguousarray(luma, dtype=np.float32)
    h, w = y.shape
    cells = np.zeros((grid * grid, 5))
    widths = scratch("blur.widths", ((h - 2) * (w - 2),))
    n_edges = sharpness_edges(y, grid, _bounds(w, grid), float(edge_threshold), cells, widths)
    return cells, widths[:n_edges].copy()


def blur_vector(luma, *, grid=4, edge_threshold=20.0):
    """The blur row of a float (H, W) luma image, in :class:`BlurFeatures` column order."""
    y = np.ascontiguousarray(luma, dtype=np.float32)
    h, w = y.shape
    out = np.full(8, np.nan)
    if h >= 3 and w >= 3:
        cells, widths = sharpness_sums(y, grid, edge_threshold)
        n_edges = len(widths)
        n, s1, s2, ten, bren = cells.sum(axis=0)
        out[0] = np.log1p(max(s2 / n - (s1 / n) ** 2, 0.0))
        out[1] = np.log1p(ten / n)
        out[2] = np.log1p(bren / n)
        out[4] = widths.mean() if n_edges else np.nan
        out[5] = n_edges / ((h - 2) * (w - 2))
        filled = cells[cells[:, 0] > 0]
        v = np.maximum(filled[:, 2] / filled[:, 0] - (filled[:, 1] / filled[:, 0]) ** 2, 0.0)
        mean_v = v.mean()
        out[6] = v.std() / mean_v if mean_v > 0 else np.nan
        out[7] = np.log1p(v.max()) - np.log1p(v.min())
    if h >= 8 and w >= 8:
        energies = np.zeros(3)
        haar_detail_energies(y, 3, energies)
        total = energies.sum()
        out[3] = energies[0] / total if total > 0 else np.nan
    return out


def blur_features(image, *, grid=4, edge_threshold=20.0):
    """Blur / sharpness features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
    grid, edge_threshold
        See :class:`BlurFeatures`.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import blur_features
    >>> flat = np.full((32, 32), 0.5)
    >>> blur_features(flat)["blur__laplacian_var__log"]
    0.0
    """
    return BlurFeatures(grid=grid, edge_threshold=edge_threshold).extract_one(image)
