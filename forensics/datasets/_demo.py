"""The embedded demo set: real crops and manipulated crops of photos shipped with installed packages.

Nothing is downloaded. The photos are read from the data folders that the scikit-image and
scikit-learn wheels install (``skimage/data`` and ``sklearn/datasets/images``); a missing file
is skipped. Every item, real or fake, ends as a JPEG encoded with the same encoder and the same
settings, so the container and the quantization tables cannot give the label away.
"""

from __future__ import annotations

import numbers
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

__all__ = ["DEMO_METHODS", "make_demo_dataset", "save_demo_dataset"]

#: The manipulations that make the fake half of the demo set, in the order they are assigned.
DEMO_METHODS = ("self_blend", "resample", "splice")

# (file name, group). Crops of one group must stay on one side of a CV split: the two motorcycle
# pictures are a stereo pair of one scene, so they share a group.
_SKIMAGE_PHOTOS = (
    ("astronaut.png", "astronaut"),
    ("chelsea.png", "chelsea"),
    ("coffee.png", "coffee"),
    ("rocket.jpg", "rocket"),
    ("motorcycle_left.png", "motorcycle"),
    ("motorcycle_right.png", "motorcycle"),
    ("hubble_deep_field.jpg", "hubble_deep_field"),
    ("retina.jpg", "retina"),
    ("ihc.png", "ihc"),
    ("camera.png", "camera"),
    ("moon.png", "moon"),
    ("brick.png", "brick"),
    ("grass.png", "grass"),
    ("gravel.png", "gravel"),
)
_SKLEARN_PHOTOS = (
    ("china.jpg", "china"),
    ("flower.jpg", "flower"),
)

#: Crops whose luma standard deviation is below this (flat black sky, retina background) are
#: redrawn, for real and fake items alike: a flat crop shows no manipulation at all.
_MIN_CROP_STD = 4.0
_MAX_CROP_TRIES = 50
_MIN_SIZE = 32


@dataclass(frozen=True)
class _Photo:
    """One source photo: name (file stem), CV group, RGB uint8 pixels and whether it is grey."""

    name: str
    group: str
    rgb: np.ndarray
    is_gray: bool


def _photo_files():
    """(path, group) of every photo the installed packages ship, in a fixed order."""
    import skimage
    import sklearn

    skimage_dir = Path(os.path.dirname(skimage.__file__)) / "data"
    sklearn_dir = Path(os.path.dirname(sklearn.__file__)) / "datasets" / "images"
    files = [(skimage_dir / f, g) for f, g in _SKIMAGE_PHOTOS]
    files += [(sklearn_dir / f, g) for f, g in _SKLEARN_PHOTOS]
    return [(path, group) for path, group in files if path.is_file()]


@lru_cache(maxsize=1)
def _load_photos():
    """Decode the shipped photos once per process (read-only arrays)."""
    photos = []
    for path, group in _photo_files():
        try:
            with Image.open(path) as im:
                im.load()
                is_gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
                rgb = np.asarray(im.convert("L").convert("RGB") if is_gray else im.convert("RGB"))
        except OSError:  # an unreadable file is treated like a missing one
            continue
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        rgb.setflags(write=False)
        photos.append(_Photo(path.stem, group, rgb, is_gray))
    return tuple(photos)


# -- building blocks (array level, uint8 RGB in and out) ------------------------------------------

def _luma(rgb):
    rgb = rgb.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _to_uint8(img):
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _random_crop(photo, size, rng):
    """A ``size`` x ``size`` crop at native resolution, redrawn while it is nearly flat."""
    h, w = photo.rgb.shape[:2]
    for _ in range(_MAX_CROP_TRIES):
        y = int(rng.integers(0, h - size + 1))
        x = int(rng.integers(0, w - size + 1))
        crop = photo.rgb[y:y + size, x:x + size]
        if float(_luma(crop).std()) >= _MIN_CROP_STD:
            break
    return np.array(crop)  # the last draw if every try was flat


def _soft_mask(size, rng, shape="ellipse", max_axis=0.3):
    """A soft region mask in [0, 1], exactly 0 outside a bounded support.

    A filled ellipse (random centre, axes, angle) or rectangle is blurred by a Gaussian whose
    kernel is truncated at 3 sigma, so the mask is zero everywhere farther than that from the
    shape and the region is known exactly.
    """
    hard = np.zeros((size, size), dtype=np.uint8)
    cy, cx = rng.uniform(0.35, 0.65, 2) * size
    ay, ax = rng.uniform(0.18, max_axis, 2) * size
    if shape == "ellipse":
        angle = float(rng.uniform(0.0, 180.0))
        cv2.ellipse(hard, (int(round(cx)), int(round(cy))), (max(int(round(ax)), 1), max(int(round(ay)), 1)),
                    angle, 0.0, 360.0, 1, thickness=-1)
    else:
        cv2.rectangle(hard, (int(round(cx - ax)), int(round(cy - ay))), (int(round(cx + ax)), int(round(cy + ay))),
                      1, thickness=-1)
    sigma = float(rng.uniform(0.015, 0.035)) * size
    radius = max(int(np.ceil(3 * sigma)), 1)
    mask = cv2.GaussianBlur(hard.astype(np.float32), (2 * radius + 1, 2 * radius + 1), sigma,
                            borderType=cv2.BORDER_CONSTANT)
    mask[mask < 1e-4] = 0.0  # float residue of the blur: keep the support exact
    return np.clip(mask, 0.0, 1.0)


def _blend(base, other, mask):
    """``base + mask * (other - base)``: unchanged wherever ``mask == 0``."""
    base_f = base.astype(np.float32)
    return _to_uint8(base_f + mask[..., None] * (other.astype(np.float32) - base_f))


def _self_blend(crop, rng, is_gray=False):
    """A self-blended image: a soft region of ``crop`` replaced by a transformed copy of itself.

    The copy gets a small colour/brightness jitter, a slight scale and shift, then a slight blur
    or sharpening; it is blended back through a soft ellipse at a random ratio.

    Returns
    -------
    image : ndarray (H, W, 3) uint8
    mask : ndarray (H, W) float32, the blending weights (0 outside the region).
    """
    size = crop.shape[0]
    src = crop.astype(np.float32)
    n_gain = 1 if is_gray else 3  # a grey photo must stay grey
    gain = 1.0 + rng.uniform(-0.06, 0.06, n_gain)
    offset = rng.uniform(-8.0, 8.0) + rng.uniform(-3.0, 3.0, n_gain)
    src = src * gain.astype(np.float32) + offset.astype(np.float32)
    scale = float(rng.uniform(0.95, 1.05))
    shift = rng.uniform(-2.0, 2.0, 2)
    warp = cv2.getRotationMatrix2D((size / 2.0, size / 2.0), 0.0, scale)
    warp[:, 2] += shift
    src = cv2.warpAffine(src, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if rng.random() < 0.5:
        src = cv2.GaussianBlur(src, (0, 0), float(rng.uniform(0.6, 1.2)))
    else:
        smooth = cv2.GaussianBlur(src, (0, 0), 1.0)
        src = src + float(rng.uniform(0.4, 1.0)) * (src - smooth)
    mask = _soft_mask(size, rng, "ellipse") * float(rng.choice([0.5, 0.75, 1.0, 1.0]))
    return _blend(crop, src, mask), mask


#: Ways of the resampling round trip, chosen at random per item.
_RESAMPLE_VARIANTS = ("area_bilinear", "area_nearest", "zero_insert")


def _resample(crop, rng, variant=None):
    """A generator-style round trip: downscale by 2 (area), upscale back to the crop size.

    The upscaling is bilinear, nearest-neighbour, or zero insertion followed by a 4x4 kernel
    with stride 2 (a transposed convolution with near-bilinear weights, slightly perturbed as a
    learned kernel would be, which leaves the periodic checkerboard of Odena et al.).

    Returns
    -------
    image : ndarray (H, W, 3) uint8
    variant : str, one of ``_RESAMPLE_VARIANTS`` (drawn from ``rng`` unless given).
    """
    size = crop.shape[0]
    if variant is None:
        variant = _RESAMPLE_VARIANTS[int(rng.integers(len(_RESAMPLE_VARIANTS)))]
    half = (size + 1) // 2
    down = cv2.resize(crop.astype(np.float32), (half, half), interpolation=cv2.INTER_AREA)
    if variant == "area_bilinear":
        up = cv2.resize(down, (size, size), interpolation=cv2.INTER_LINEAR)
    elif variant == "area_nearest":
        up = cv2.resize(down, (size, size), interpolation=cv2.INTER_NEAREST)
    else:
        kernel = np.array([0.25, 0.75, 0.75, 0.25]) + rng.uniform(-0.02, 0.02, 4)
        kernel = (kernel * 2.0 / kernel.sum()).astype(np.float32)  # unit gain on average over phases
        pad = 2
        padded = cv2.copyMakeBorder(down, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        zeros = np.zeros((2 * padded.shape[0], 2 * padded.shape[1], 3), dtype=np.float32)
        zeros[::2, ::2] = padded
        full = cv2.sepFilter2D(zeros, -1, kernel, kernel, borderType=cv2.BORDER_CONSTANT)
        up = full[2 * pad:2 * pad + size, 2 * pad:2 * pad + size]
    return _to_uint8(up), variant


def _splice(host, donor, rng):
    """A region of ``donor`` (a crop of another photo) pasted into ``host`` through a soft mask.

    Returns
    -------
    image : ndarray (H, W, 3) uint8
    mask : ndarray (H, W) float32, the pasting weights (0 outside the region).
    """
    shape = "ellipse" if rng.random() < 0.5 else "rectangle"
    mask = _soft_mask(host.shape[0], rng, shape)
    return _blend(host, donor, mask), mask


def _as_gray(rgb):
    """Grey version of an RGB uint8 image, kept on three equal channels."""
    y = _to_uint8(_luma(rgb))
    return np.repeat(y[..., None], 3, axis=2)


def _encode_jpeg(rgb, quality):
    """The one encoder every item goes through: OpenCV baseline JPEG, 4:2:0, three channels."""
    params = [
        cv2.IMWRITE_JPEG_QUALITY, int(quality),
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
        cv2.IMWRITE_JPEG_OPTIMIZE, 0,
        cv2.IMWRITE_JPEG_PROGRESSIVE, 0,
    ]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buf.tobytes()


# -- the data set ----------------------------------------------------------------------------------

def _check_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return int(value)


def _method_counts(n, methods=DEMO_METHODS):
    """Split ``n`` fakes as evenly as possible: the first methods take the remainder."""
    base, extra = divmod(n, len(methods))
    return {m: base + (k < extra) for k, m in enumerate(methods)}


def make_demo_dataset(n_per_class=120, size=128, seed=0, quality=90):
    """A small labelled set of real and manipulated JPEG crops, built offline in a second or two.

    Real items are random square crops, at native resolution, of photographs that scikit-image
    and scikit-learn install with their code. Fake items are crops of the same photos changed
    by one of three documented manipulations that leave real forensic traces (see Notes). Every
    item, real or fake, is then encoded by the same JPEG encoder with the same settings, so the
    codec carries no label.

    Parameters
    ----------
    n_per_class : int, default=120
        Number of real items and of fake items (the classes are balanced).
    size : int, default=128
        Side of the square crops, in pixels (at least 32). Photos smaller than ``size`` are
        not used.
    seed : int or None, default=0
        Seed of the :class:`numpy.random.Generator` that draws everything; a given seed gives
        byte-identical items.
    quality : int, default=90
        JPEG quality of every item (OpenCV encoder, 4:2:0 chroma subsampling, baseline).

    Returns
    -------
    pandas.DataFrame
        One row per item, reals first, with columns:

        - ``item``: the JPEG file as bytes (a valid input of every extractor);
        - ``label``: 1 for fake, 0 for real;
        - ``method``: ``"real"`` or one of :data:`DEMO_METHODS`;
        - ``group``: the source photo of the crop (crops of one photo share it; the two
          motorcycle pictures, a stereo pair, are one group). Pass it as ``groups`` to a
          grouped cross-validation, otherwise crops of one photo fall in train and test;
        - ``source``: the photo name, or ``"host+donor"`` for a splice.

        ``DataFrame.attrs`` records the parameters.

    Raises
    ------
    ValueError
        For parameters out of range, or when no shipped photo is at least ``size`` pixels wide
        and high.

    See Also
    --------
    save_demo_dataset : the same set written as a folder of ``.jpg`` files.

    Notes
    -----
    Every photo hosts the same number of real and of fake items (up to one), so the photo
    identity says nothing about the label. Fakes are split evenly among the methods:

    - ``"self_blend"`` (self-blended image, Shiohara & Yamasaki [1]_): a copy of the crop is
      transformed (per-channel gain ``1 +- 0.06`` and offset ``+-8`` grey levels, scale
      ``1 +- 0.05``, shift ``+-2`` px, then Gaussian blur of sigma 0.6..1.2 or unsharp masking)
      and blended back through a soft ellipse ``M`` at ratio ``r`` in {0.5, 0.75, 1}:
      ``out = x + r M (T(x) - x)``. Pixels outside the mask's support are untouched.
    - ``"resample"``: downscale by 2 with area averaging, upscale back with bilinear or nearest
      interpolation, or with zero insertion followed by a 4x4, stride-2 kernel near
      ``[1, 3, 3, 1] / 4`` per axis (a transposed convolution, the upsampling of many
      generators [2]_, [3]_). The whole crop is resampled.
    - ``"splice"``: a soft elliptical or rectangular region of a crop of another photo (another
      group; converted to grey when the host is grey) pasted into the crop.

    Masks are blurred filled shapes with a Gaussian truncated at 3 sigma, so they are exactly
    zero outside a known region. Nearly flat crops (luma std < 4) are redrawn for both classes.

    References
    ----------
    .. [1] K. Shiohara and T. Yamasaki, "Detecting Deepfakes with Self-Blended Images",
       CVPR 2022, doi:10.1109/CVPR52688.2022.01816.
    .. [2] A. Odena, V. Dumoulin and C. Olah, "Deconvolution and Checkerboard Artifacts",
       Distill 2016, doi:10.23915/distill.00003.
    .. [3] X. Zhang, S. Karaman and S.-F. Chang, "Detecting and Simulating Artifacts in GAN Fake
       Images", WIFS 2019, doi:10.1109/WIFS47025.2019.9035107.

    Examples
    --------
    >>> from forensics.datasets import make_demo_dataset
    >>> demo = make_demo_dataset(n_per_class=6, size=64)
    >>> demo["label"].value_counts().to_dict()
    {0: 6, 1: 6}
    >>> demo["method"].value_counts().sort_index().to_dict()
    {'real': 6, 'resample': 2, 'self_blend': 2, 'splice': 2}
    >>> demo["item"][0][:2] == b"\\xff\\xd8"  # JPEG bytes
    True
    """
    n_per_class = _check_int("n_per_class", n_per_class, 1)
    size = _check_int("size", size, _MIN_SIZE)
    quality = _check_int("quality", quality, 1, 100)
    if seed is not None:
        seed = _check_int("seed", seed, 0)
    photos = [p for p in _load_photos() if min(p.rgb.shape[:2]) >= size]
    if not photos:
        raise ValueError(f"no shipped photo is at least {size}x{size} pixels; use a smaller size")
    if len({p.group for p in photos}) < 2:
        raise ValueError(f"splicing needs photos of two groups at least {size}x{size}; use a smaller size")
    rng = np.random.default_rng(seed)

    # Each photo hosts the same number of real and of fake items (up to one).
    hosts = np.arange(n_per_class) % len(photos)
    real_hosts = rng.permutation(hosts)
    fake_hosts = rng.permutation(hosts)
    counts = _method_counts(n_per_class)
    fake_methods = rng.permutation(np.repeat(np.array(DEMO_METHODS), [counts[m] for m in DEMO_METHODS]))

    rows = []
    for k in real_hosts:
        photo = photos[k]
        crop = _random_crop(photo, size, rng)
        rows.append((_encode_jpeg(crop, quality), 0, "real", photo.group, photo.name))
    for k, method in zip(fake_hosts, fake_methods):
        photo = photos[k]
        crop = _random_crop(photo, size, rng)
        source = photo.name
        if method == "self_blend":
            image, _ = _self_blend(crop, rng, photo.is_gray)
        elif method == "resample":
            image, _ = _resample(crop, rng)
        else:
            others = [p for p in photos if p.group != photo.group]
            donor_photo = others[int(rng.integers(len(others)))]
            donor = _random_crop(donor_photo, size, rng)
            if photo.is_gray:
                donor = _as_gray(donor)
            image, _ = _splice(crop, donor, rng)
            source = f"{photo.name}+{donor_photo.name}"
        rows.append((_encode_jpeg(image, quality), 1, str(method), photo.group, source))

    manifest = pd.DataFrame(rows, columns=["item", "label", "method", "group", "source"])
    manifest["label"] = manifest["label"].astype(np.int64)
    manifest.attrs.update(n_per_class=n_per_class, size=size, seed=seed, quality=quality,
                          photos=[p.name for p in photos])
    return manifest


_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")


def save_demo_dataset(path, n_per_class=120, size=128, seed=0, quality=90, *, overwrite=False):
    """Write the demo set as a folder of JPEG files in the generic ``real/`` + ``fake/`` layout.

    The layout is ``path/real/<k>_<source>.jpg`` and ``path/fake/<method>/<k>_<source>.jpg``,
    the folder structure every folder loader of the project reads (label from the top folder,
    method from the sub-folder).

    Parameters
    ----------
    path : str or path-like
        Folder to write into (created if needed).
    n_per_class, size, seed, quality
        See :func:`make_demo_dataset`.
    overwrite : bool, default=False
        Allow writing when ``path/real`` or ``path/fake`` already holds files; stale files of a
        previous, larger set would otherwise be read as part of this one.

    Returns
    -------
    pandas.DataFrame
        The manifest of :func:`make_demo_dataset` with a ``path`` column (str) added.

    Raises
    ------
    FileExistsError
        When the target folders already hold files and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from forensics.datasets import save_demo_dataset
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     manifest = save_demo_dataset(tmp, n_per_class=3, size=64)
    ...     sorted(p.name for p in pathlib.Path(tmp).iterdir())
    ['fake', 'real']
    """
    root = Path(path)
    if not overwrite:
        for sub in ("real", "fake"):
            folder = root / sub
            if folder.is_dir() and any(folder.iterdir()):
                raise FileExistsError(f"{folder} already holds files; pass overwrite=True to write anyway")
    manifest = make_demo_dataset(n_per_class=n_per_class, size=size, seed=seed, quality=quality)
    paths = []
    for k, row in enumerate(manifest.itertuples(index=False)):
        folder = root / "real" if row.label == 0 else root / "fake" / row.method
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{k:04d}_{_UNSAFE.sub('_', row.source)}.jpg"
        target.write_bytes(row.item)
        paths.append(str(target))
    manifest["path"] = paths
    return manifest
