"""Face-region consistency: the inner face against its surroundings (noise, sharpness, spectral
slope, colour) and the energy of a blending boundary around it, for face crops or any region."""

from __future__ import annotations

import functools
import math
import numbers

import cv2
import numpy as np

from ._base import BaseExtractor, FeatureDoc, Interval
from ._kernels._face_region import region_sums

__all__ = ["FaceRegionFeatures", "faceregion_features", "faceregion_vector", "ellipse_rho", "mask_rho"]

#: Added to energies before a log (grey levels squared): below 8-bit quantization noise (1/12).
EPS = 1e-3
#: Deviations of the difference-of-Gaussians pyramid whose band energies give the spectral slope.
DOG_SIGMAS = (0.7, 1.4, 2.8, 5.6)
#: median(|N(0, 1)|), and the deviation of the KV/4 residual of unit white noise (sqrt(36) / 4).
MAD_TO_SIGMA = 0.6745
KV_GAIN = 1.5
_KV = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32) / 4
_CHANNELS = ("Y", "Cb", "Cr")
#: BT.601 / JPEG chroma gains: Cb = 0.5 (B - Y) / (1 - 0.114), Cr = 0.5 (R - Y) / (1 - 0.299).
CB_GAIN = 0.5 / 0.886
CR_GAIN = 0.5 / 0.701

_FWA = ("Li & Lyu, 'Exposing DeepFake videos by detecting face warping artifacts', CVPR Workshops 2019, "
        "arXiv:1811.00656")
_XRAY = "Li et al., 'Face X-ray for more general face forgery detection', CVPR 2020, doi:10.1109/CVPR42600.2020.00505"
_NOISE = ("Mahdian & Saic, 'Using noise inconsistencies for blind image forensics', Image and Vision Computing 2009, "
          "doi:10.1016/j.imavis.2009.02.001")
_SLOPE = ("van der Schaaf & van Hateren, 'Modelling the power spectra of natural images', Vision Research 1996, "
          "doi:10.1016/0042-6989(96)00002-8")
_COLOR = ("Li, Li, Tan & Huang, 'Identification of deep network generated images using disparities in color "
          "components', Signal Processing 2020, doi:10.1016/j.sigpro.2020.107616")

_REGIONS = ("inner", "outer", "contrast", "ring_contrast")
_REGION_TEXT = ("inner: rho < 1 - band; outer: rho >= 1 + band; contrast = inner - outer; ring_contrast = "
                "[1 - band <= rho < 1] - [1 <= rho < 1 + band] (the two sides of the boundary)")


def _docs():
    regions = "inner, outer, contrast, ring_contrast: " + _REGION_TEXT
    return (
        FeatureDoc("faceregion", "noise", regions,
                   "Noise level of the face region against its surroundings (a pasted face brings its own noise).",
                   "log(median(|R|) / (0.6745 * 1.5)) over the region, R = Y * [[-1,2,-1],[2,-4,2],[-1,2,-1]] / 4 "
                   "(reflected border); differences of logs for the contrasts", f"{_NOISE}; {_FWA}", "medium"),
        FeatureDoc("faceregion", "sharpness", regions,
                   "Sharpness of the face region against its surroundings (a warped, resized face is blurrier).",
                   "log(EPS + mean(Gx^2 + Gy^2)) over the region, Gx, Gy = 3x3 Sobel of Y blurred by a Gaussian "
                   "of sigma 1", _FWA, "medium"),
        FeatureDoc("faceregion", "slope", regions,
                   "Spectral slope of the face region against its surroundings, from octave band energies.",
                   "least-squares slope of log(EPS + mean(B_k^2)) against log(1 / s_k) over the region, "
                   "B_k = G_{s_(k-1)} Y - G_{s_k} Y, s = (0), 0.7, 1.4, 2.8, 5.6 (G_0 Y = Y); 2 - alpha for a "
                   "power spectrum 1 / f^alpha", f"{_SLOPE}; {_FWA}", "medium"),
        FeatureDoc("faceregion", "colour_mean", "ring_<c>, contrast_<c>: channel c in Y, Cb, Cr",
                   "Colour mismatch across the blending boundary and between face and surroundings.",
                   "mean(c) over [1 - band <= rho < 1] minus over [1 <= rho < 1 + band] (ring_), inner minus "
                   "outer (contrast_); Y = BT.601 luma, Cb = 0.564 (B - Y), Cr = 0.713 (R - Y) (JPEG chroma "
                   "without its offset)", f"{_XRAY}; {_COLOR}"),
        FeatureDoc("faceregion", "colour_std", "ring_<c>: channel c in Y, Cb, Cr",
                   "Colour texture mismatch across the blending boundary.",
                   "std(c) over [1 - band <= rho < 1] minus over [1 <= rho < 1 + band]", f"{_XRAY}; {_COLOR}"),
        FeatureDoc("faceregion", "boundary_energy", "noise, gradient: which energy map",
                   "Energy on the blending boundary relative to both sides (a blend leaves a seam).",
                   "log(EPS + mean_ring E) - (log(EPS + mean_inner E) + log(EPS + mean_outer E)) / 2, "
                   "E = R^2 (noise) or Gx^2 + Gy^2 (gradient), ring = |rho - 1| < band", f"{_XRAY}; {_FWA}"),
        FeatureDoc("faceregion", "noise_profile", "b<k>: radial bin k of rho in [lo, hi) (n_bins bins)",
                   "Radial profile of the noise energy across the face boundary, centred (a seam is a bump).",
                   "P_k - mean_k P_k, P_k = log(EPS + mean(R^2) over bin k), bins of rho on [0.4, 1.6)",
                   f"{_XRAY}; {_NOISE}"),
        FeatureDoc("faceregion", "gradient_profile", "b<k>: radial bin k of rho in [lo, hi) (n_bins bins)",
                   "Radial profile of the gradient energy across the face boundary, centred.",
                   "P_k - mean_k P_k, P_k = log(EPS + mean(Gx^2 + Gy^2) over bin k)", f"{_XRAY}; {_FWA}"),
        FeatureDoc("faceregion", "detected", "flag: 1 found, 0 not found (geometry used)",
                   "Whether the detector found a face (only with a detector; otherwise the crop geometry is used).",
                   "1 if detector.detect(image) returned a face else 0", "see forensics.media.make_detector"),
    )


# -- geometry -------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _ellipse_rho_cached(h, w, cx, cy, ax, ay, angle):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(angle), math.sin(angle)
    u = (c * dx + s * dy) / ax
    v = (-s * dx + c * dy) / ay
    rho = np.sqrt(u * u + v * v)
    rho.setflags(write=False)
    return rho


def ellipse_rho(shape, center, axes, angle=0.0):
    """Normalized elliptical radius of every pixel: 1 on the ellipse, 0 at its centre.

    Parameters
    ----------
    shape : tuple
        ``(H, W)`` of the image.
    center : tuple of 2 float
        ``(cx, cy)`` in pixel coordinates (x to the right, y down; pixel centres at integers).
    axes : tuple of 2 float
        Semi-axes ``(ax, ay)`` in pixels, along the ellipse's own x and y directions (> 0).
    angle : float, default=0
        Rotation of the ellipse in radians (its x axis towards +y).

    Returns
    -------
    ndarray of shape (H, W), float64, read-only
        ``sqrt(u^2 + v^2)`` with ``(u, v)`` the pixel offset in the ellipse frame divided by the
        semi-axes.

    Examples
    --------
    >>> ellipse_rho((3, 5), (2, 1), (2, 1))[1]
    array([1. , 0.5, 0. , 0.5, 1. ])
    """
    ax, ay = float(axes[0]), float(axes[1])
    if not (ax > 0 and ay > 0):
        raise ValueError(f"ellipse semi-axes must be > 0, got {tuple(axes)}")
    return _ellipse_rho_cached(int(shape[0]), int(shape[1]), float(center[0]), float(center[1]), ax, ay,
                               float(angle))


def mask_rho(mask):
    """The normalized radius of an arbitrary region: 1 on its boundary, < 1 inside, > 1 outside.

    Parameters
    ----------
    mask : ndarray of shape (H, W)
        The region (nonzero / True inside).

    Returns
    -------
    ndarray of shape (H, W), float64
        ``1 - d_in / R`` inside and ``1 + d_out / R`` outside, with ``d_in`` (``d_out``) the
        Euclidean distance to the nearest pixel outside (inside) the region and
        ``R = sqrt(area / pi)`` the radius of the disc of the same area; for a disc this is the
        disc's own normalized radius, up to half a pixel.

    Raises
    ------
    ValueError
        When the mask is empty or covers the whole image (no boundary).
    """
    m = np.asarray(mask) != 0
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {m.shape}")
    area = int(m.sum())
    if area == 0 or area == m.size:
        raise ValueError("mask must contain both region and non-region pixels")
    inside = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    radius = math.sqrt(area / math.pi)
    # distanceTransform gives the distance to the nearest zero pixel: a pixel next to the boundary
    # reads 1; subtract half a pixel so the boundary sits between the two sides.
    return np.where(m, 1.0 - (inside - 0.5) / radius, 1.0 + (outside - 0.5) / radius)


def crop_geometry(shape, *, margin=1.3, aspect=1.3):
    """The face ellipse of a square face crop made with ``margin`` (:func:`forensics.media.crop_face`).

    The crop's side ``S = min(H, W)`` is ``margin`` times the face box's longer side, which is its
    height for a face box taller than wide by ``aspect``. The ellipse inscribed in that box:
    centre the image centre, semi-axes ``(S / (2 margin aspect), S / (2 margin))``.

    Returns
    -------
    center, axes : tuple of 2 float each
    """
    h, w = int(shape[0]), int(shape[1])
    ay = min(h, w) / (2.0 * margin)
    return ((w - 1) / 2.0, (h - 1) / 2.0), (ay / aspect, ay)


def box_geometry(shape, box):
    """The ellipse inscribed in a box ``(x, y, w, h)`` given as fractions of the image width/height."""
    h, w = int(shape[0]), int(shape[1])
    x0, y0, bw, bh = (float(v) for v in box)
    return (x0 * w + bw * w / 2.0 - 0.5, y0 * h + bh * h / 2.0 - 0.5), (bw * w / 2.0, bh * h / 2.0)


def face_geometry(face, shape):
    """The ellipse of a detected face: inscribed in its box, rolled with the eye line when landmarks exist."""
    x, y, bw, bh = (float(v) for v in face.bbox)
    angle = 0.0
    lm = getattr(face, "landmarks", None)
    if lm is not None and np.all(np.isfinite(lm)):
        (lx, ly), (rx, ry) = lm[0], lm[1]
        angle = math.atan2(ry - ly, rx - lx)
    return (x + bw / 2.0 - 0.5, y + bh / 2.0 - 0.5), (bw / 2.0, bh / 2.0), angle


# -- statistics -----------------------------------------------------------------------------------

#: Region labels of the layout, in the order of the four-valued statistics.
INNER, OUTER, RING_IN, RING_OUT = range(4)


def region_layout(rho, band=0.15, n_bins=8, lo=0.4, hi=1.6):
    """Where every pixel goes: its region and its radial bin (computed once per geometry).

    Parameters
    ----------
    rho : ndarray of shape (H, W)
        Normalized radius (:func:`ellipse_rho`, :func:`mask_rho`).
    band, n_bins, lo, hi
        Ring half-width and radial profile bins (see :class:`FaceRegionFeatures`).

    Returns
    -------
    labels : ndarray of shape (H * W,), int
        Region of each pixel: 0 inner ``rho < 1 - band``, 1 outer ``rho >= 1 + band``, 2 ring
        inside ``1 - band <= rho < 1``, 3 ring outside ``1 <= rho < 1 + band``.
    index : tuple of 4 ndarray
        Flat pixel indices of each region.
    bins : ndarray of shape (H * W,), int
        Radial bin ``floor((rho - lo) / (hi - lo) * n_bins)``, or ``n_bins`` outside ``[lo, hi)``.

    All three are read-only: a layout is cached per geometry and shared by every image of that
    geometry, so a write into it would move the next image's pixels to another region.
    """
    r = np.asarray(rho, dtype=np.float64).ravel()
    labels = np.where(r < 1.0 - band, INNER,
                      np.where(r >= 1.0 + band, OUTER, np.where(r < 1.0, RING_IN, RING_OUT))).astype(np.intp)
    index = tuple(np.flatnonzero(labels == k) for k in range(4))
    bins = np.floor((r - lo) / (hi - lo) * n_bins)
    bins = np.where((bins >= 0) & (bins < n_bins), bins, n_bins).astype(np.intp)
    for a in (labels, bins, *index):
        a.setflags(write=False)
    return labels, index, bins


@functools.lru_cache(maxsize=16)
def _ellipse_layout(shape, center, axes, angle, band, n_bins):
    return region_layout(ellipse_rho(shape, center, axes, angle), band, n_bins)


def _log(x):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(EPS + x)


def _slopes(band_means):
    """Least-squares slope of log(EPS + band energy) against log(1 / sigma), per region: (4,)."""
    x = -np.log(np.array(DOG_SIGMAS))  # log of the band's frequency ~ 1 / (its upper sigma): octaves
    x = x - x.mean()
    e = _log(band_means)  # (n_bands, 4)
    return (x[:, None] * (e - e.mean(axis=0))).sum(axis=0) / (x * x).sum()


def _four(values):
    """(4,) region values -> [inner, outer, inner - outer, ring inside - ring outside]."""
    return [values[INNER], values[OUTER], values[INNER] - values[OUTER], values[RING_IN] - values[RING_OUT]]


def faceregion_vector(rgb, luma, rho=None, *, band=0.15, n_bins=8, lo=0.4, hi=1.6, layout=None):
    """The face-region row of an image given as arrays and a region geometry, without the detector flag.

    Parameters
    ----------
    rgb : ndarray of shape (H, W, 3)
        Colour image on the 0..255 scale.
    luma : ndarray of shape (H, W)
        Its BT.601 luma on the 0..255 scale.
    rho : ndarray of shape (H, W)
        Normalized radius of each pixel (:func:`ellipse_rho` or :func:`mask_rho`): the region is
        ``rho < 1``. Not needed when ``layout`` is given.
    band, n_bins, lo, hi
        See :class:`FaceRegionFeatures`.
    layout : tuple, optional
        :func:`region_layout` of ``rho`` (computed here when None).

    Returns
    -------
    ndarray of shape (23 + 2 * n_bins,), float64
        NaN for statistics of an empty region.
    """
    labels, index, bins = layout if layout is not None else region_layout(rho, band, n_bins, lo, hi)
    y = np.ascontiguousarray(luma, dtype=np.float32)
    counts = np.array([ix.size for ix in index], dtype=np.float64)

    res = cv2.filter2D(y, cv2.CV_32F, _KV, borderType=cv2.BORDER_REFLECT_101)
    smooth = cv2.GaussianBlur(y, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT_101)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    blurs = [cv2.GaussianBlur(y, (0, 0), s, borderType=cv2.BORDER_REFLECT_101) for s in DOG_SIGMAS]
    rgb = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, 3)
    sums = np.zeros((4, 14))
    bin_sums = np.zeros((n_bins + 1, 3))
    region_sums(labels, bins, res.ravel(), gx.ravel(), gy.ravel(), y.ravel(), *(b.ravel() for b in blurs), rgb,
                CB_GAIN, CR_GAIN, sums, bin_sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums[:, 1:13] / counts[:, None]).T  # (12, 4) per-region means; NaN for an empty region
    energy_noise, energy_grad = means[0], means[1]
    band_means = means[2:6]
    colour_mean = means[6:9]
    colour_sq = means[9:12]

    abs_res = np.abs(res).ravel()
    noise = np.array([math.log(EPS + float(np.median(abs_res[ix])) / (MAD_TO_SIGMA * KV_GAIN)) if ix.size
                      else np.nan for ix in index])
    out = _four(noise) + _four(_log(energy_grad)) + _four(_slopes(band_means))
    for c in range(3):
        out += [colour_mean[c, RING_IN] - colour_mean[c, RING_OUT], colour_mean[c, INNER] - colour_mean[c, OUTER]]
    with np.errstate(invalid="ignore"):
        colour_std = np.sqrt(np.maximum(colour_sq - colour_mean ** 2, 0.0))
    out += list(colour_std[:, RING_IN] - colour_std[:, RING_OUT])

    ring_n = counts[RING_IN] + counts[RING_OUT]
    for m, energy in ((1, energy_noise), (2, energy_grad)):
        ring = (sums[RING_IN, m] + sums[RING_OUT, m]) / ring_n if ring_n else np.nan
        out.append(float(_log(ring) - 0.5 * (_log(energy[INNER]) + _log(energy[OUTER]))))

    bin_counts = bin_sums[:n_bins, 0]
    for m in (1, 2):
        with np.errstate(invalid="ignore", divide="ignore"):
            prof = np.where(bin_counts > 0, _log(bin_sums[:n_bins, m] / np.maximum(bin_counts, 1)), np.nan)
        filled = np.isfinite(prof)
        out += list(prof - prof[filled].mean()) if filled.any() else [np.nan] * n_bins
    return np.asarray(out, dtype=np.float64)


def _names(n_bins, with_flag):
    names = []
    for feature in ("noise", "sharpness", "slope"):
        names += [f"faceregion__{feature}__{r}" for r in _REGIONS]
    for c in _CHANNELS:
        names += [f"faceregion__colour_mean__ring_{c}", f"faceregion__colour_mean__contrast_{c}"]
    names += [f"faceregion__colour_std__ring_{c}" for c in _CHANNELS]
    names += ["faceregion__boundary_energy__noise", "faceregion__boundary_energy__gradient"]
    names += [f"faceregion__noise_profile__b{k}" for k in range(n_bins)]
    names += [f"faceregion__gradient_profile__b{k}" for k in range(n_bins)]
    if with_flag:
        names.append("faceregion__detected__flag")
    return names


class _Box:
    """Parameter rule of ``box``: None or 4 finite fractions (x, y, w, h) with w, h > 0."""

    def check(self, name, value):
        if value is None:
            return
        try:
            vals = tuple(value)
        except TypeError:
            raise TypeError(f"{name} must be None or (x, y, w, h) fractions of the image, got {value!r}") from None
        if len(vals) != 4 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                                     for v in vals):
            raise ValueError(f"{name} must be None or 4 finite numbers (x, y, w, h), got {value!r}")
        if not (vals[2] > 0 and vals[3] > 0):
            raise ValueError(f"{name} must have w, h > 0, got {value!r}")


class _Detector:
    """Parameter rule of ``detector``: None or an object with a ``detect(rgb)`` method."""

    def check(self, name, value):
        if value is not None and not callable(getattr(value, "detect", None)):
            raise TypeError(f"{name} must be None or a face detector with a detect(rgb) method, got {value!r}")


class FaceRegionFeatures(BaseExtractor):
    """Face-region consistency: the inner face against its surroundings, and its blending boundary.

    A face swap or a face reenactment pastes a synthesized face into a real frame: the inner face
    and its surroundings then differ in noise level, sharpness, spectrum and colour, and the
    blending leaves a seam along the boundary of the pasted region (Li & Lyu 2019; the blending
    boundary of Face X-ray, Li et al. 2020). This family measures those differences between the
    face ellipse and its surroundings, on the two sides of its boundary, and along a radial
    profile across it (so a boundary a little inside or outside the assumed ellipse still shows).

    Where the face is: by default, the geometry of the library's face crops
    (:func:`forensics.media.crop_face`): a square crop whose side is ``margin`` times the face
    box's longer side, centred on it, so the face is the ellipse inscribed in the centred box of
    height ``side / margin`` and width ``height / aspect``. ``box`` gives the region explicitly
    (any image, any region), and ``detector`` finds the face in each image (its box, rolled with
    the eye line when the detector gives landmarks). The single-image function also takes a mask.

    Parameters
    ----------
    margin : float, default=1.3
        Crop side over the face box's longer side (the cropper's default is 1.3). For LFW-style
        250x250 images with a face of about 125 px, 2.0.
    aspect : float, default=1.3
        Face box height over width (1.32: the median of YuNet boxes on 50 LFW faces).
    box : tuple of 4 float or None, default=None
        ``(x, y, w, h)`` of the region's box as fractions of the image width and height; the
        region is the ellipse inscribed in it. Overrides ``margin`` and ``aspect``.
    detector : face detector or None, default=None
        An object with ``detect(rgb) -> list[Face]`` (largest first), e.g.
        ``forensics.media.YuNetDetector``. When set, the largest face defines the ellipse and a
        column ``faceregion__detected__flag`` says whether one was found (else the crop geometry
        is used). Detection costs far more than the features.
    band : float, default=0.15
        Half-width of the boundary ring, in units of the normalized radius ``rho``.
    n_bins : int, default=8
        Radial profile bins of ``rho`` over ``[0.4, 1.6)``.
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``faceregion__<feature>__<param>``: 39 columns with the defaults (40 with a detector).

    See Also
    --------
    faceregion_features : the single-image function (also with a mask).
    ellipse_rho, mask_rho : the region geometry.

    Notes
    -----
    Every pixel gets a normalized radius ``rho`` (1 on the region's boundary; see
    :func:`ellipse_rho`, :func:`mask_rho`). Regions: inner ``rho < 1 - band``, ring inside
    ``1 - band <= rho < 1``, ring outside ``1 <= rho < 1 + band``, outer ``rho >= 1 + band``.
    With ``Y`` the luma (0..255):

    - ``noise``: ``log(median|R| / (0.6745 * 1.5))``, ``R`` the KV residual / 4 (reads the
      deviation of white noise);
    - ``sharpness``: ``log(EPS + mean(Gx^2 + Gy^2))`` of the Sobel gradient of ``Y`` blurred with
      sigma 1;
    - ``slope``: least-squares slope of the log band energies of a difference-of-Gaussians
      pyramid (band ``k`` between Gaussian blurs of sigma ``s_(k-1)`` and ``s_k``, ``s`` = 0, 0.7,
      1.4, 2.8, 5.6) against ``log(1 / s_k)``: about ``2 - alpha`` for a ``1 / f^alpha`` power
      spectrum (octave bands), computed inside a region of any shape;

    each as ``inner``, ``outer``, ``contrast = inner - outer`` and
    ``ring_contrast = ring inside - ring outside``; ``colour_mean`` / ``colour_std``: differences
    of the mean / deviation of ``Y``, ``Cb = 0.564 (B - Y)`` and ``Cr = 0.713 (R - Y)`` (the
    BT.601 / JPEG colour space) across the ring and between inner and outer; ``boundary_energy``: the log
    energy on the ring minus the mean of the inner and outer log energies; ``*_profile``: the log
    energy per radial bin, centred by its mean over bins. ``EPS = 1e-3``. Statistics of an empty
    region (a crop too small, a box outside the image) are NaN.

    References
    ----------
    .. [1] Li & Lyu, "Exposing DeepFake videos by detecting face warping artifacts", CVPR
       Workshops 2019, arXiv:1811.00656.
    .. [2] Li et al., "Face X-ray for more general face forgery detection", CVPR 2020,
       doi:10.1109/CVPR42600.2020.00505.
    .. [3] Mahdian & Saic, "Using noise inconsistencies for blind image forensics", Image and
       Vision Computing 2009, doi:10.1016/j.imavis.2009.02.001.
    .. [4] van der Schaaf & van Hateren, "Modelling the power spectra of natural images", Vision
       Research 1996, doi:10.1016/0042-6989(96)00002-8.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import FaceRegionFeatures
    >>> rng = np.random.default_rng(0)
    >>> img = np.clip(128 + 2 * rng.standard_normal((96, 96)), 0, 255)
    >>> yy, xx = np.mgrid[:96, :96]
    >>> face = ((xx - 47.5) / 28) ** 2 + ((yy - 47.5) / 36) ** 2 < 1
    >>> img[face] += 6 * rng.standard_normal(face.sum())  # a noisier pasted face
    >>> ext = FaceRegionFeatures().fit()
    >>> row = dict(zip(ext.get_feature_names_out(), ext.transform([np.clip(img, 0, 255).astype(np.uint8)])[0]))
    >>> bool(row["faceregion__noise__contrast"] > 1.0)  # log noise level: inner well above outer
    True
    """

    family = "faceregion"
    _param_rules = {
        "margin": Interval(float, 1.0, 10.0),
        "aspect": Interval(float, 0.25, 4.0),
        "box": _Box(),
        "detector": _Detector(),
        "band": Interval(float, 0.01, 0.5),
        "n_bins": Interval(int, 2, 32),
    }
    feature_docs = _docs()

    def __init__(self, *, margin=1.3, aspect=1.3, box=None, detector=None, band=0.15, n_bins=8, n_jobs=None,
                 on_error="raise", progress=False):
        self.margin = margin
        self.aspect = aspect
        self.box = box
        self.detector = detector
        self.band = band
        self.n_bins = n_bins
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        return _names(self.n_bins, self.detector is not None)

    def _compute(self, item):
        rgb, luma = item.rgb, item.luma
        shape = luma.shape
        angle = 0.0
        found = None
        if self.detector is not None:
            faces = self.detector.detect(np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8)))
            found = bool(faces)
        if found:
            center, axes, angle = face_geometry(faces[0], shape)
        elif self.box is not None:
            center, axes = box_geometry(shape, self.box)
        else:
            center, axes = crop_geometry(shape, margin=self.margin, aspect=self.aspect)
        layout = _ellipse_layout(tuple(shape), tuple(float(v) for v in center), tuple(float(v) for v in axes),
                                 float(angle), float(self.band), int(self.n_bins))
        row = faceregion_vector(rgb, luma, band=self.band, n_bins=self.n_bins, layout=layout)
        if found is not None:
            row = np.append(row, float(found))
        return row


def faceregion_features(image, *, mask=None, margin=1.3, aspect=1.3, box=None, detector=None, band=0.15, n_bins=8):
    """Face-region consistency features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
    mask : ndarray of shape (H, W), optional
        The region (nonzero inside), used instead of an ellipse: any shape (a landmark hull, a
        segmentation). Its normalized radius comes from :func:`mask_rho`.
    margin, aspect, box, detector, band, n_bins
        See :class:`FaceRegionFeatures` (ignored for the geometry when ``mask`` is given).

    Raises
    ------
    ValueError
        When ``mask`` does not have the image's height and width, or has no boundary.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import faceregion_features
    >>> img = np.full((64, 64), 0.5)
    >>> mask = np.zeros((64, 64), bool); mask[16:48, 20:44] = True
    >>> row = faceregion_features(img, mask=mask)
    >>> row["faceregion__colour_mean__ring_Y"], row["faceregion__noise__contrast"]
    (0.0, 0.0)
    """
    ext = FaceRegionFeatures(margin=margin, aspect=aspect, box=box, detector=detector, band=band, n_bins=n_bins)
    if mask is None:
        return ext.extract_one(image)
    from ..media import load_item

    ext._check_params()
    item = load_item(image, 0)
    mask = np.asarray(mask)
    if mask.shape != tuple(item.shape):
        raise ValueError(f"mask has shape {mask.shape}, the image {tuple(item.shape)}")
    row = faceregion_vector(item.rgb, item.luma, mask_rho(mask), band=band, n_bins=n_bins)
    names = _names(n_bins, False)
    return dict(zip(names, (float(v) for v in row)))
