"""Residual co-occurrences (steganalysis rich models): histograms of tuples of quantized, truncated
high-pass residuals of the luma (and, optionally, across colour channels), symmetrized."""

from __future__ import annotations

import functools
import itertools

import numpy as np

from ._base import BaseExtractor, FeatureDoc, Interval
from ._kernels._cooccurrence import (
    channel_histogram, directional_codes, square_codes, tuple_histogram_cols, tuple_histogram_rows,
)

__all__ = ["CooccurrenceFeatures", "LargeCooccurrenceFeatures", "cooccurrence_features", "cooccurrence_vector",
           "RESIDUALS", "LARGE_PARAMS"]

#: Residual kinds, in column order: first, second, third order (directional) and SQUARE 3x3 (isotropic).
RESIDUALS = ("o1", "o2", "o3", "kv3")

#: 1-D taps of the directional residuals, correlated along rows (horizontal) and columns (vertical).
TAPS = {
    "o1": np.array([-1.0, 1.0]),
    "o2": np.array([1.0, -2.0, 1.0]),
    "o3": np.array([-1.0, 3.0, -3.0, 1.0]),
}
#: SRM "SQUARE 3x3" (KV) taps.
KV3 = np.array([[-1.0, 2.0, -1.0], [2.0, -4.0, 2.0], [-1.0, 2.0, -1.0]])
#: Quantization step multiplier per residual (the residual "order" c of the SRM): step = q * c.
SCALE = {"o1": 1.0, "o2": 2.0, "o3": 3.0, "kv3": 4.0}

#: The parameters of the large preset (:class:`LargeCooccurrenceFeatures`): SRM-like order-4
#: co-occurrences of all four residuals (7 blocks of 169 symmetrized bins, 1183 columns).
LARGE_PARAMS = dict(residuals=RESIDUALS, order=4, truncation=2, q=1.0, color=False)

_SPAM = ("Pevny, Bas & Fridrich, 'Steganalysis by subtractive pixel adjacency matrix', IEEE TIFS 2010, "
         "doi:10.1109/TIFS.2010.2045842")
_SRM = ("Fridrich & Kodovsky, 'Rich models for steganalysis of digital images', IEEE TIFS 2012, "
        "doi:10.1109/TIFS.2012.2190402")
_GAN = ("Marra, Gragnaniello, Cozzolino & Verdoliva, 'Detection of GAN-generated fake images over social "
        "networks', IEEE MIPR 2018, doi:10.1109/MIPR.2018.00084; Nataraj et al., 'Detecting GAN generated fake "
        "images using co-occurrence matrices', Electronic Imaging 2019, doi:10.2352/ISSN.2470-1173.2019.5.MWSF-532")
_COLOR = ("Goljan, Fridrich & Cogranne, 'Rich model for steganalysis of color images', WIFS 2014, "
          "doi:10.1109/WIFS.2014.7084325")

_RESIDUAL_TEXT = {
    "o1": ("first-order", "r = Y[i,j+1] - Y[i,j]"),
    "o2": ("second-order", "r = Y[i,j] - 2Y[i,j+1] + Y[i,j+2]"),
    "o3": ("third-order", "r = -Y[i,j] + 3Y[i,j+1] - 3Y[i,j+2] + Y[i,j+3]"),
    "kv3": ("SQUARE 3x3 (KV)", "r = Y * [[-1,2,-1],[2,-4,2],[-1,2,-1]]"),
}
_CODE = "code = clip(rint(r / (q c)), -T, T), c = 1, 2, 3, 4 for o1, o2, o3, kv3"


def _docs():
    docs = []
    for res in RESIDUALS:
        name, formula = _RESIDUAL_TEXT[res]
        ref = f"{_SPAM}; {_SRM}; {_GAN}"
        params = "q<q>_<codes>: quantization step and the class representative (m2 = -2, 0, p1 = +1...)"
        sym = ("histogram of the tuples of `order` consecutive codes, normalized to sum 1, summed over the "
               "classes {t, -t, reversed t, -reversed t}")
        if res == "kv3":
            docs.append(FeatureDoc(
                "cooc", f"{res}_hv", params,
                f"Co-occurrence of the quantized {name} residual of the luma along rows and columns.",
                f"{formula}; {_CODE}; rows and columns pooled; {sym}", ref, "medium"))
        else:
            docs.append(FeatureDoc(
                "cooc", f"{res}_par", params,
                f"Co-occurrence of the quantized {name} residual of the luma along the filter's direction "
                "(horizontal residual along rows + vertical residual along columns).",
                f"horizontal {formula} and its vertical twin; {_CODE}; {sym}", ref, "medium"))
            docs.append(FeatureDoc(
                "cooc", f"{res}_perp", params,
                f"Co-occurrence of the quantized {name} residual of the luma across the filter's direction "
                "(horizontal residual along columns + vertical residual along rows).",
                f"horizontal {formula} and its vertical twin; {_CODE}; {sym}", ref, "medium"))
        docs.append(FeatureDoc(
            "cooc", f"{res}_rgb", params,
            f"Colour co-occurrence: the triple of the quantized {name} residuals of R, G and B at one pixel "
            "(only with color=True).",
            f"{formula} per channel; {_CODE}; histogram of (code_R, code_G, code_B), normalized, summed over "
            "the classes {t, -t}", f"{_COLOR}; {_SRM}", "medium"))
    return tuple(docs)


class _Residuals:
    """Parameter rule of ``residuals``: a non-empty set of distinct names from :data:`RESIDUALS`."""

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


class _Flag:
    """Parameter rule of a boolean: exactly True or False (1 and 0 are refused)."""

    def check(self, name, value):
        if value is not True and value is not False:
            raise TypeError(f"{name} must be True or False, got {value!r}")


def _selected(residuals):
    items = (residuals,) if isinstance(residuals, str) else tuple(residuals)
    return tuple(r for r in RESIDUALS if r in items)


@functools.lru_cache(maxsize=None)
def symmetry_classes(order, truncation, reverse=True):
    """Class of every histogram bin under sign flip (and reversal), and the class representatives.

    Parameters
    ----------
    order : int
        Tuple length ``d``.
    truncation : int
        ``T``: codes run over ``-T..T``.
    reverse : bool, default=True
        Also identify a tuple with its reversal (spatial co-occurrences); False for colour triples.

    Returns
    -------
    classes : ndarray of shape ((2T + 1) ** d,), int
        Class index of each bin (bins in the kernels' order, first code most significant).
    representatives : tuple of tuple of int
        The lexicographically smallest tuple of each class, classes sorted by it.

    Notes
    -----
    With ``T = 2``, 39 classes for ``d = 3`` and 169 for ``d = 4`` (as in the SRM); 63 colour
    classes (``d = 3``, sign only).
    """
    values = range(-truncation, truncation + 1)
    canon = {}
    for t in itertools.product(values, repeat=order):
        neg = tuple(-v for v in t)
        orbit = [t, neg, t[::-1], neg[::-1]] if reverse else [t, neg]
        canon[t] = min(orbit)
    reps = tuple(sorted(set(canon.values())))
    position = {r: k for k, r in enumerate(reps)}
    classes = np.array([position[canon[t]] for t in itertools.product(values, repeat=order)], dtype=np.intp)
    classes.setflags(write=False)
    return classes, reps


def _label(t):
    return "_".join("0" if v == 0 else (f"p{v}" if v > 0 else f"m{-v}") for v in t)


def _blocks(residuals, color):
    """(residual, scan) of every block, in column order."""
    out = []
    for res in _selected(residuals):
        out += [(res, "hv")] if res == "kv3" else [(res, "par"), (res, "perp")]
        if color:
            out.append((res, "rgb"))
    return out


def _names(residuals, order, truncation, q, color):
    names = []
    for res, scan in _blocks(residuals, color):
        _, reps = symmetry_classes(3 if scan == "rgb" else order, truncation, scan != "rgb")
        names += [f"cooc__{res}_{scan}__q{q:g}_{_label(t)}" for t in reps]
    return names


def _symmetrized(hist, order, truncation, reverse):
    classes, reps = symmetry_classes(order, truncation, reverse)
    total = hist.sum()
    if not total > 0:
        return np.full(len(reps), np.nan)
    return np.bincount(classes, weights=hist / total, minlength=len(reps))


def _code_planes(plane, res, step, truncation):
    """Codes of one plane for one residual: (horizontal, vertical) or (square, None)."""
    h, w = plane.shape
    if res == "kv3":
        out = np.zeros((max(h - 2, 0), max(w - 2, 0)), dtype=np.int8)
        if out.size:
            square_codes(plane, KV3, step, truncation, out)
        return out, None
    taps = TAPS[res]
    n = len(taps)
    ch = np.zeros((h, max(w - n + 1, 0)), dtype=np.int8)
    cv = np.zeros((max(h - n + 1, 0), w), dtype=np.int8)
    directional_codes(plane, taps, step, truncation, ch, cv)
    return ch, cv


def cooccurrence_vector(luma, rgb=None, *, residuals=("o1", "o2", "o3"), order=3, truncation=2, q=1.0,
                        color=False):
    """The co-occurrence row of an image given as arrays, in :class:`CooccurrenceFeatures` order.

    Parameters
    ----------
    luma : ndarray of shape (H, W)
        Luma on the 0..255 scale.
    rgb : ndarray of shape (H, W, 3), optional
        Colour image on the 0..255 scale (needed when ``color`` is True).
    residuals, order, truncation, q, color
        See :class:`CooccurrenceFeatures`.

    Returns
    -------
    ndarray of shape (n_features,), float64
        NaN for a block whose image is too small to hold one tuple.
    """
    y = np.ascontiguousarray(luma, dtype=np.float32)
    base = 2 * truncation + 1
    size = base ** order
    planes = None
    if color:
        planes = [np.ascontiguousarray(rgb[:, :, c], dtype=np.float32) for c in range(3)]
    parts = []
    for res in _selected(residuals):
        step = float(q) * SCALE[res]
        a, b = _code_planes(y, res, step, truncation)
        if res == "kv3":
            hv = np.zeros(size)
            tuple_histogram_rows(a, order, base, hv)
            tuple_histogram_cols(a, order, base, hv)
            parts.append(_symmetrized(hv, order, truncation, True))
        else:
            par = np.zeros(size)
            perp = np.zeros(size)
            tuple_histogram_rows(a, order, base, par)
            tuple_histogram_cols(b, order, base, par)
            tuple_histogram_cols(a, order, base, perp)
            tuple_histogram_rows(b, order, base, perp)
            parts += [_symmetrized(par, order, truncation, True), _symmetrized(perp, order, truncation, True)]
        if color:
            triple = np.zeros(base ** 3)
            codes = [_code_planes(p, res, step, truncation) for p in planes]
            for k in range(2 if res != "kv3" else 1):
                if codes[0][k].size:
                    channel_histogram(codes[0][k], codes[1][k], codes[2][k], base, triple)
            parts.append(_symmetrized(triple, 3, truncation, False))
    return np.concatenate(parts)


class CooccurrenceFeatures(BaseExtractor):
    """Residual co-occurrences: joint statistics of neighbouring high-pass residuals (SPAM / SRM).

    Camera images, generators, resampling and re-compression differ in how neighbouring pixels
    depend on each other once the content is removed. A high-pass filter removes the content,
    quantization and truncation keep the small residual values where those dependencies live, and
    the histogram of ``order`` consecutive residual codes (a co-occurrence) records their joint
    distribution. This is the spatial rich model of steganalysis, in a documented subset; the same
    features detect GAN images (Marra et al. 2018, Nataraj et al. 2019).

    Parameters
    ----------
    residuals : str or sequence of {"o1", "o2", "o3", "kv3"}, default=("o1", "o2", "o3")
        High-pass residuals of the luma: first, second and third order differences (directional:
        computed horizontally and vertically) and the SQUARE 3x3 "KV" kernel (isotropic).
    order : int, default=3
        Length ``d`` of the co-occurring tuples (2..4). SPAM uses 3, the SRM 4.
    truncation : int, default=2
        ``T``: residual codes are clipped to ``-T..T`` (1..4).
    q : float, default=1.0
        Quantization step, multiplied by the residual's order ``c`` (1, 2, 3, 4 for o1, o2, o3,
        kv3) as in the SRM.
    color : bool, default=False
        Add, per residual, the co-occurrence of the R, G and B residual codes at one pixel
        (spatio-colour rich model). Grey images give a diagonal histogram.
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``cooc__<residual>_<scan>__q<q>_<codes>``: scan ``par`` (along the filter direction),
        ``perp`` (across it), ``hv`` (rows and columns, isotropic kv3) or ``rgb``; ``<codes>`` the
        class representative. 234 columns with the defaults (3 residuals x 2 scans x 39 classes).

    See Also
    --------
    cooccurrence_features : the single-image function.
    LargeCooccurrenceFeatures : the large preset (1183 columns).

    Notes
    -----
    For a residual ``r`` of the luma ``Y`` (0..255), codes are ``clip(rint(r / (q c)), -T, T)``
    (``rint`` rounds half to even, an odd-symmetric quantizer). For a directional residual with
    horizontal version ``r_h`` (taps along a row) and vertical version ``r_v`` (the same taps down a
    column), with ``H_rows(x)`` the histogram of the tuples of ``d`` consecutive codes along the
    rows of ``x`` and ``H_cols`` down its columns:

    - ``par = H_rows(code(r_h)) + H_cols(code(r_v))`` (SPAM's and the SRM's co-occurrence along the
      residual direction; horizontal and vertical pooled because image statistics are roughly
      invariant to a 90 degree rotation),
    - ``perp = H_cols(code(r_h)) + H_rows(code(r_v))``;

    for ``kv3``, ``hv = H_rows(code(r)) + H_cols(code(r))``. Each histogram is divided by its
    total count and symmetrized: the tuples ``t``, ``-t``, ``reversed(t)`` and ``-reversed(t)``
    form one class and the column is the class total (SRM symmetrization; 39 classes for
    ``d = 3, T = 2``, 169 for ``d = 4``). Colour blocks histogram the triple
    ``(code(r_R), code(r_G), code(r_B))`` at each position (both orientations pooled for the
    directional residuals), symmetrized by sign only (63 classes for ``T = 2``).

    Residuals are evaluated where the filter fits inside the image (no padding). A block whose
    image is too small to hold a single tuple is NaN.

    Differences from the SRM: one quantization step per call (the SRM uses three), joint
    co-occurrences only (no min/max residuals), and no "EDGE" kernels; SPAM uses conditional
    transition probabilities of first-order differences with ``T = 3``, here joint histograms.

    References
    ----------
    .. [1] Pevny, Bas & Fridrich, "Steganalysis by subtractive pixel adjacency matrix", IEEE TIFS
       2010, doi:10.1109/TIFS.2010.2045842.
    .. [2] Fridrich & Kodovsky, "Rich models for steganalysis of digital images", IEEE TIFS 2012,
       doi:10.1109/TIFS.2012.2190402.
    .. [3] Goljan, Fridrich & Cogranne, "Rich model for steganalysis of color images", WIFS 2014,
       doi:10.1109/WIFS.2014.7084325.
    .. [4] Marra, Gragnaniello, Cozzolino & Verdoliva, "Detection of GAN-generated fake images over
       social networks", IEEE MIPR 2018, doi:10.1109/MIPR.2018.00084.
    .. [5] Nataraj et al., "Detecting GAN generated fake images using co-occurrence matrices",
       Electronic Imaging 2019, doi:10.2352/ISSN.2470-1173.2019.5.MWSF-532.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import CooccurrenceFeatures
    >>> ramp = np.tile(np.arange(32, dtype=np.uint8), (32, 1))  # first-order residual 1 along rows
    >>> cooc = CooccurrenceFeatures(residuals="o1").fit([ramp])
    >>> row = dict(zip(cooc.get_feature_names_out(), cooc.transform([ramp])[0]))
    >>> cooc.n_features_out_
    78
    >>> float(row["cooc__o1_par__q1_m1_m1_m1"])  # (1, 1, 1) along rows, (0, 0, 0) down columns
    0.5
    """

    family = "cooc"
    _param_rules = {
        "residuals": _Residuals(),
        "order": Interval(int, 2, 4),
        "truncation": Interval(int, 1, 4),
        "q": Interval(float, 0.05, 64.0),
        "color": _Flag(),
    }
    feature_docs = _docs()

    def __init__(self, *, residuals=("o1", "o2", "o3"), order=3, truncation=2, q=1.0, color=False, n_jobs=None,
                 on_error="raise", progress=False):
        self.residuals = residuals
        self.order = order
        self.truncation = truncation
        self.q = q
        self.color = color
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        return _names(self.residuals, self.order, self.truncation, self.q, self.color)

    def _compute(self, item):
        return cooccurrence_vector(item.luma, item.rgb if self.color else None, residuals=self.residuals,
                                   order=self.order, truncation=self.truncation, q=self.q, color=self.color)


class LargeCooccurrenceFeatures(CooccurrenceFeatures):
    """The large co-occurrence preset: order-4 tuples of all four residuals (1183 columns).

    The same extractor as :class:`CooccurrenceFeatures` with SRM-like defaults
    (:data:`LARGE_PARAMS`: ``residuals=("o1", "o2", "o3", "kv3"), order=4``): 7 blocks of 169
    symmetrized classes. Column names and formulas are those of ``cooc``; only the defaults differ.
    About 10x the columns of the default for a measured gain on casia_v1 (docs/results.md).

    Examples
    --------
    >>> from forensics.features import LargeCooccurrenceFeatures
    >>> LargeCooccurrenceFeatures().fit().n_features_out_
    1183
    """

    feature_docs = ()  # the columns are documented by CooccurrenceFeatures

    def __init__(self, *, residuals=RESIDUALS, order=4, truncation=2, q=1.0, color=False, n_jobs=None,
                 on_error="raise", progress=False):
        super().__init__(residuals=residuals, order=order, truncation=truncation, q=q, color=color,
                         n_jobs=n_jobs, on_error=on_error, progress=progress)


def cooccurrence_features(image, *, residuals=("o1", "o2", "o3"), order=3, truncation=2, q=1.0, color=False):
    """Residual co-occurrence features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
    residuals, order, truncation, q, color
        See :class:`CooccurrenceFeatures`.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import cooccurrence_features
    >>> row = cooccurrence_features(np.full((16, 16), 0.5))  # a flat image: every residual is 0
    >>> row["cooc__o2_par__q1_0_0_0"], len(row)
    (1.0, 234)
    """
    return CooccurrenceFeatures(residuals=residuals, order=order, truncation=truncation, q=q,
                                color=color).extract_one(image)
