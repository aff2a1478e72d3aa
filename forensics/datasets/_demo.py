"""The embedded demo set: real crops and manipulated crops of photos shipped with installed packages.

Nothing is downloaded. The photos are read from the data folders that the scikit-image and
scikit-learn wheels install (``skimage/data`` and ``sklearn/datasets/images``); a missing file
is skipped. Every item, real or fake, ends as a JPEG encoded with the same encoder and the same
settings, so the container and the quantization tables cannot give the label away.
"""

from __future__ import annotations

import json
import numbers
import os
import re
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

__all__ = ["DEMO_METHODS", "DEMO_VIDEO_METHODS", "make_demo_dataset", "run_demo", "save_demo_dataset",
           "save_demo_videos"]

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
    from ._inventory import require_text_path

    require_text_path(root, "folder")  # before writing: no loader would read the files back
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



# -- demo videos -------------------------------------------------------------------------------------

#: The manipulations of the fake demo videos, applied to every frame alike.
DEMO_VIDEO_METHODS = ("resample", "self_blend")


def _write_h264(path, frames, fps, crf):
    import av

    out = av.open(os.fspath(path), "w", format="mp4")
    try:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        stream.codec_context.thread_count = 1
        for arr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    finally:
        out.close()


def save_demo_videos(path, n_per_class=4, n_frames=12, size=64, seed=0, *, fps=10, crf=18,
                     methods=("resample",), overwrite=False):
    """Write short demo videos (a camera pan over the shipped photos) as ``real/`` and ``fake/<method>/``.

    Each video pans a ``size`` x ``size`` window in a straight line across one photo (every
    photo hosts as many real as fake videos, so content cannot give the label away); a fake
    video applies one manipulation of the image demo set to every frame alike (the same
    parameters throughout, as a face-swap pipeline would): ``resample`` (the generator-style
    down/up-sampling round trip) or ``self_blend`` (a blended region). Real and fake videos are
    encoded by the same encoder with the same settings (H.264 via PyAV, ``crf``, yuv420p, one
    thread), so nothing but the pixels differs by construction; the bit rate may still differ,
    since manipulated frames compress differently (the shortcut audit measures it). Nothing is
    downloaded.

    Parameters
    ----------
    path : str or path-like
        Folder written: ``real/<k>_<photo>.mp4`` and ``fake/<method>/<k>_<photo>.mp4``.
    n_per_class : int, default=4
        Real videos, and fake videos (the methods taken in turn).
    n_frames : int, default=12
    size : int, default=64
        Frame side in pixels (even, at least 32).
    seed : int, default=0
    fps : int, default=10
    crf : int, default=18
        x264 constant rate factor of every video.
    methods : tuple of str, default=("resample",)
        Taken from :data:`DEMO_VIDEO_METHODS`. ``self_blend`` changes a small region of small
        frames and is much harder to see than the resampling.
    overwrite : bool, default=False
        Allow writing into ``real/`` or ``fake/`` folders that already hold files.

    Returns
    -------
    pandas.DataFrame
        ``path``, ``label`` (fake = 1), ``method``, ``group`` (the source photo: the videos of one
        photo must stay on one side of a split; ``--group-pattern '_(\\w+)\\.mp4$'`` recovers it
        from the file names).

    Examples
    --------
    >>> import tempfile
    >>> from forensics.datasets import save_demo_videos
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     manifest = save_demo_videos(tmp, n_per_class=2, n_frames=4, methods=("resample", "self_blend"))
    ...     manifest[["label", "method", "group"]].values.tolist()
    [[0, 'real', 'astronaut'], [0, 'real', 'chelsea'], [1, 'resample', 'astronaut'], [1, 'self_blend', 'chelsea']]
    """
    n_per_class = _check_int("n_per_class", n_per_class, 1)
    n_frames = _check_int("n_frames", n_frames, 2)
    size = _check_int("size", size, _MIN_SIZE)
    if size % 2:
        raise ValueError(f"size must be even (H.264 with 4:2:0 chroma), got {size}")
    unknown = [m for m in methods if m not in DEMO_VIDEO_METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be taken from {list(DEMO_VIDEO_METHODS)}, got {list(methods)!r}")
    root = Path(path)
    from ._inventory import require_text_path

    require_text_path(root, "folder")  # before writing: no loader would read the files back
    if not overwrite:
        for sub in ("real", "fake"):
            folder = root / sub
            if folder.is_dir() and any(folder.iterdir()):
                raise FileExistsError(f"{folder} already holds files; pass overwrite=True to write anyway")
    photos = [p for p in _load_photos() if min(p.rgb.shape[:2]) >= 2 * size]
    if not photos:
        raise RuntimeError("no shipped photo is large enough for videos of this size")
    rng = np.random.default_rng(seed)
    # every photo hosts as many real as fake videos (pair k: real and fake from photo k mod P), so
    # the content of a photo cannot give the label away; reals first, then fakes
    plan = [("real", 0, k) for k in range(n_per_class)] + [(methods[k % len(methods)], 1, k)
                                                            for k in range(n_per_class)]
    rows = []
    for k, (method, label, pair) in enumerate(plan):
        photo = photos[pair % len(photos)]
        h, w = photo.rgb.shape[:2]
        (y0, y1), (x0, x1) = (rng.integers(0, h - size + 1, 2), rng.integers(0, w - size + 1, 2))
        item_seed = int(rng.integers(2**31))
        frames = []
        for t in range(n_frames):
            u = t / (n_frames - 1)
            y, x = int(round(y0 + u * (y1 - y0))), int(round(x0 + u * (x1 - x0)))
            frame = np.array(photo.rgb[y:y + size, x:x + size])
            if method == "resample":
                frame, _ = _resample(frame, np.random.default_rng(item_seed), "area_bilinear")
            elif method == "self_blend":
                frame, _ = _self_blend(frame, np.random.default_rng(item_seed), photo.is_gray)
            frames.append(frame)
        folder = root / "real" if label == 0 else root / "fake" / method
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{k:03d}_{_UNSAFE.sub('_', photo.group)}.mp4"
        _write_h264(target, frames, fps, crf)
        rows.append(dict(path=str(target), label=label, method=method, group=photo.group))
    return pd.DataFrame(rows, columns=["path", "label", "method", "group"])


# -- the demo run (``forensics demo``) ---------------------------------------------------------------

#: Inverse regularisation strength of the demo's logistic-regression head. With a few hundred
#: items and about as many standardised features, a strong penalty keeps the head honest.
DEMO_C = 0.1
DEMO_N_SPLITS = 5


def run_demo(out_dir, *, n_per_class=120, size=256, seed=0, n_jobs=None, progress=True, catalogue=True,
             report=True):
    """The offline demo: demo set, feature bank, grouped cross-validation, catalogue, report.

    Builds the embedded demo set (:func:`make_demo_dataset`), extracts the full handcrafted
    feature bank, cross-validates a logistic-regression head with 5 folds grouped by source
    photo and prints each step (the narrative ``forensics demo`` shows); then, unless turned
    off, every catalogued image detector on the same data
    (:func:`forensics.model_selection.benchmark_detectors`) and the HTML report of forensic-xgb
    (:func:`forensics.inspection.build_report`).

    Parameters
    ----------
    out_dir : str or Path
        Folder written: ``features.csv``, ``results.json``, ``catalogue.csv``/``.md`` and
        ``report/``; created if needed.
    n_per_class, size, seed
        See :func:`make_demo_dataset` (``seed`` also shuffles the folds).
    n_jobs : int, optional
        Images processed in parallel.
    progress : bool, default=True
        Show progress bars.
    catalogue, report : bool, default=True
        Run parts two and three.

    Returns
    -------
    dict
        The content of ``results.json`` (data set, features, fold AUCs, means, per method, timings).
    """
    from types import SimpleNamespace

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = SimpleNamespace(n_per_class=n_per_class, size=size, seed=seed, n_jobs=n_jobs, progress=progress,
                           catalogue=catalogue, report=report)
    return _run_demo(args, out)


def _demo_head(seed):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("classify", LogisticRegression(C=DEMO_C, max_iter=2000, random_state=seed)),
    ])


def _auc(y, score):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def _grouped_cv(X, y, groups, seed):
    """Out-of-fold fake probabilities and per-fold AUCs of the demo head."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold

    cv = StratifiedGroupKFold(n_splits=DEMO_N_SPLITS, shuffle=True, random_state=seed)
    head = _demo_head(seed)
    oof = np.full(len(y), np.nan)
    folds = []
    for train, test in cv.split(X, y, groups):
        model = clone(head).fit(X[train], y[train])
        oof[test] = model.predict_proba(X[test])[:, 1]
        folds.append(dict(auc=_auc(y[test], oof[test]), n_test=int(len(test)),
                          groups=sorted(set(groups[test].tolist()))))
    return oof, folds


def _families(names):
    return list(dict.fromkeys(str(n).split("__", 1)[0] for n in names))


def _json_number(value):  # noqa: D103
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def _run_demo(args, out):
    import pandas as pd

    from ..features import make_feature_bank
    from ..features._base import expecting
    from ..media import FailedItemsWarning
    from ..model_selection._benchmark import default_detectors

    timings = {}

    print("forensics demo: the embedded demo set, built offline from photos shipped with "
          "scikit-image and scikit-learn")
    t0 = time.perf_counter()
    demo = make_demo_dataset(n_per_class=args.n_per_class, size=args.size, seed=args.seed)
    timings["dataset"] = time.perf_counter() - t0
    counts = demo["method"].value_counts()
    fakes = ", ".join(f"{m} {int(counts.get(m, 0))}" for m in DEMO_METHODS)
    print(f"  {len(demo)} JPEG images {args.size}x{args.size} ({int((demo['label'] == 0).sum())} real; "
          f"{int((demo['label'] == 1).sum())} fake: {fakes}) from {len(demo.attrs['photos'])} photos in "
          f"{demo['group'].nunique()} groups, every item encoded alike (OpenCV, quality "
          f"{demo.attrs['quality']}, 4:2:0)  [{timings['dataset']:.1f} s]")

    t0 = time.perf_counter()
    bank = make_feature_bank(n_jobs=args.n_jobs, on_error="nan", progress=args.progress)
    # the catalogue extracts the items again for each detector: one long job, whose kernels compile first
    job = len(demo) * (1 + (len(default_detectors()) if args.catalogue else 0))
    with warnings.catch_warnings(record=True) as caught, expecting(job):  # failed items are reported below
        warnings.simplefilter("always", RuntimeWarning)
        X = bank.fit_transform(demo["item"])
    for w in caught:
        if not issubclass(w.category, FailedItemsWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    timings["features"] = time.perf_counter() - t0
    names = [str(n) for n in bank.get_feature_names_out()]
    families = _families(names)
    print(f"  features: {X.shape[1]} columns from families {', '.join(families)}  "
          f"[{timings['features']:.1f} s]")

    status = bank.status_
    failed = status[status["status"] != "ok"]
    if len(failed) == len(demo):
        raise ValueError(f"feature extraction failed on every item; first: item "
                           f"{failed.iloc[0]['index']}: {failed.iloc[0]['error']}")
    if len(failed):
        print(f"  warning: {len(failed)} items could not be processed and are NaN rows "
              f"(imputed); first: item {failed.iloc[0]['index']}: {failed.iloc[0]['error']}")
    finite = np.isfinite(X)
    n_inf = int((~finite & ~np.isnan(X)).sum())
    if n_inf:
        print(f"  warning: {n_inf} infinite feature values treated as missing")
        X = np.where(finite, X, np.nan)
    n_missing = int(np.isnan(X).sum())
    if n_missing:
        print(f"  {n_missing} missing values ({n_missing / X.size:.2%} of the table) are imputed by the "
              "column median")

    y = demo["label"].to_numpy()
    groups = demo["group"].to_numpy()
    methods = demo["method"].to_numpy()
    print(f"\nCross-validation: {DEMO_N_SPLITS}-fold StratifiedGroupKFold, grouped by source photo.")
    print("  Why grouped: crops of one photo share its content, camera noise and earlier compression; "
          "with crops of one photo in both train and test the head can recognise the photo instead "
          "of the manipulation, and the AUC leaks.")
    print(f"  head: median imputation -> standardisation -> logistic regression (C={DEMO_C})")
    t0 = time.perf_counter()
    oof, folds = _grouped_cv(X, y, groups, args.seed)
    timings["cv"] = time.perf_counter() - t0
    for k, fold in enumerate(folds, 1):
        print(f"  fold {k}: ROC-AUC {fold['auc']:.3f}  ({fold['n_test']} test items from "
              f"{len(fold['groups'])} photo groups)")
    fold_auc = np.array([f["auc"] for f in folds])
    mean, std = float(np.nanmean(fold_auc)), float(np.nanstd(fold_auc))
    print(f"  ROC-AUC {mean:.3f} ± {std:.3f} (mean ± std over {len(folds)} folds)")
    per_method = {}
    real = methods == "real"
    for m in DEMO_METHODS:
        mask = real | (methods == m)
        if (methods == m).any():
            per_method[m] = _auc(y[mask], oof[mask])
    print("  per method (out-of-fold scores, fakes of one method vs all reals): "
          + ", ".join(f"{m} {a:.3f}" for m, a in per_method.items()))
    pooled = _auc(y, oof)

    table = pd.DataFrame(X, columns=names)
    table["label"] = y
    table["method"] = methods
    table["group"] = groups
    features_path = out / "features.csv"
    results_path = out / "results.json"
    results = dict(
        command="demo",
        dataset=dict(n_items=int(len(demo)), n_per_class=args.n_per_class, size=args.size, seed=args.seed,
                     quality=demo.attrs["quality"], photos=demo.attrs["photos"],
                     n_groups=int(demo["group"].nunique()),
                     methods={m: int(counts.get(m, 0)) for m in DEMO_METHODS}),
        features=dict(n_features=int(X.shape[1]), families=families, n_failed_items=int(len(failed)),
                      n_missing_values=n_missing),
        cv=dict(splitter=f"StratifiedGroupKFold(n_splits={DEMO_N_SPLITS}, shuffle=True, random_state={args.seed})",
                groups="source photo",
                head=f"SimpleImputer(median) -> StandardScaler -> LogisticRegression(C={DEMO_C}, max_iter=2000)"),
        fold_auc=[_json_number(a) for a in fold_auc],
        auc_mean=_json_number(mean),
        auc_std=_json_number(std),
        auc_pooled_oof=_json_number(pooled),
        auc_per_method={m: _json_number(a) for m, a in per_method.items()},
        seconds={k: round(v, 3) for k, v in timings.items()},
    )
    try:
        table.to_csv(features_path, index=False)
        results_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OSError(f"cannot write the results to {os.fspath(out)!r}: {exc.strerror or exc}") from None
    print(f"\nWrote {features_path} ({table.shape[0]} rows x {table.shape[1]} columns: features + label, "
          f"method, group) and {results_path}")
    if args.catalogue:
        _run_catalogue(demo, out, args)
    if args.report:
        _run_demo_report(demo, out, args)
    return results


def _run_demo_report(demo, out, args):
    """Part three of the demo: the HTML report (audit, CV, importances, plots) of forensic-xgb."""
    from ..inspection import build_report

    print("\nReport: audit, cross-validation, permutation and SHAP importances and plots of forensic-xgb "
          "on the same data ...", flush=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = build_report(list(demo["item"]), demo["label"].to_numpy(), detector="forensic-xgb",
                              groups=demo["group"].to_numpy(), methods=demo["method"].to_numpy(),
                              out_dir=out / "report", title="forensics demo: forensic-xgb on the embedded demo set",
                              random_state=args.seed, progress=args.progress)
    print(f"Wrote {result.html_path} (self-contained, open it in a browser) and {result.markdown_path}  "
          f"[{time.perf_counter() - t0:.1f} s]")


def _run_catalogue(demo, out, args):
    """Part two of the demo: every catalogued image detector, grouped CV, one results table."""
    from ..model_selection import benchmark_detectors

    print("\nThe detector catalogue on the same data (forensics.list_estimators()); 5-fold grouped CV, "
          "threshold chosen on a validation split of each training fold (EER rule):")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # loky notes about the CPU count on small machines
        bench = benchmark_detectors(list(demo["item"]), demo["label"].to_numpy(), groups=demo["group"].to_numpy(),
                                    methods=demo["method"].to_numpy(), protocols=("as-is",),
                                    random_state=args.seed, n_jobs=args.n_jobs, progress=args.progress)
    print(bench.to_markdown())
    if len(bench.per_method):
        print("\nROC-AUC per manipulation method (pooled out-of-fold scores, its fakes vs all reals):")
        print(bench.per_method.drop(columns="protocol").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    try:
        bench.table.to_csv(out / "catalogue.csv", index=False)
        (out / "catalogue.md").write_text(bench.to_markdown() + "\n", encoding="utf-8")
    except OSError as exc:
        raise OSError(f"cannot write the results to {os.fspath(out)!r}: {exc.strerror or exc}") from None
    print(f"Wrote {out / 'catalogue.csv'} and {out / 'catalogue.md'}  [{time.perf_counter() - t0:.1f} s]")
