"""Tiles for large images: any extractor run over a grid of tiles, its rows aggregated per image."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ..media import Item
from ._base import BaseExtractor, Interval

__all__ = ["TiledFeatures", "TILE_AGGREGATES", "tile_boxes"]

#: Aggregates over the tiles of one image, in column order.
TILE_AGGREGATES = ("mean", "max", "std", "min", "median")
#: The tile grid's origin is a multiple of this, so tiles of a multiple-of-8 size keep the JPEG lattice.
ALIGN = 8
_COUNT = "tiles__n_tiles__used"


def tile_boxes(shape, tile_size=256, max_tiles=16):
    """The tiles of an image: a centred grid of ``tile_size`` squares, at most ``max_tiles`` of them.

    Parameters
    ----------
    shape : tuple
        ``(H, W)`` of the image.
    tile_size : int, default=256
        Side of the tiles. A side of the image shorter than it gives one tile of that side's
        length (the tile is then the whole height or width).
    max_tiles : int, default=16
        When the grid holds more tiles, this many are taken, evenly spaced in raster order.

    Returns
    -------
    list of (y0, x0, h, w)
        Tiles ``image[y0:y0 + h, x0:x0 + w]``, in raster order.

    Notes
    -----
    The grid has ``max(1, H // tile_size)`` rows and ``max(1, W // tile_size)`` columns of
    non-overlapping tiles and is centred in the image, its origin rounded down to a multiple of 8,
    so with a ``tile_size`` that is a multiple of 8 every tile starts on the JPEG block lattice of
    the image (block statistics stay aligned).

    Examples
    --------
    >>> tile_boxes((1024, 1024))[:2]
    [(0, 0, 256, 256), (0, 256, 256, 256)]
    >>> tile_boxes((600, 300), tile_size=256)
    [(40, 16, 256, 256), (296, 16, 256, 256)]
    >>> tile_boxes((100, 80))
    [(0, 0, 100, 80)]
    """
    h, w = int(shape[0]), int(shape[1])
    th, tw = min(tile_size, h), min(tile_size, w)
    ny, nx = max(1, h // tile_size), max(1, w // tile_size)
    y_origin = ((h - ny * th) // 2) // ALIGN * ALIGN
    x_origin = ((w - nx * tw) // 2) // ALIGN * ALIGN
    boxes = [(y_origin + r * th, x_origin + c * tw, th, tw) for r in range(ny) for c in range(nx)]
    if len(boxes) > max_tiles:
        keep = np.unique(np.round(np.linspace(0, len(boxes) - 1, max_tiles)).astype(int))
        boxes = [boxes[k] for k in keep]
    return boxes


def _aggregate(rows, aggregate):
    """(n_tiles, F) tile rows -> (F * len(aggregate),), feature-major; NaN tiles are skipped."""
    rows = np.asarray(rows, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, which is meant
        parts = {
            "mean": np.nanmean(rows, axis=0),
            "max": np.nanmax(rows, axis=0),
            "std": np.nanstd(rows, axis=0),
            "min": np.nanmin(rows, axis=0),
            "median": np.nanmedian(rows, axis=0),
        }
    return np.stack([parts[a] for a in aggregate], axis=1).ravel()


class _Aggregates:
    """Parameter rule of ``aggregate``: a non-empty tuple of distinct names from TILE_AGGREGATES."""

    def check(self, name, value):
        items = (value,) if isinstance(value, str) else value
        try:
            items = tuple(items)
        except TypeError:
            raise TypeError(f"{name} must be a sequence of names from {list(TILE_AGGREGATES)}, got {value!r}") from None
        if not items or any(a not in TILE_AGGREGATES for a in items) or len(set(items)) != len(items):
            raise ValueError(f"{name} must be distinct names from {list(TILE_AGGREGATES)}, got {value!r}")


class TiledFeatures(BaseExtractor):
    """Features of large images over a grid of tiles, aggregated per image (mean, max, std...).

    A detector trained on 256-pixel crops sees a 4000x3000 photo through one centre crop, and
    misses a manipulation outside it. This wrapper cuts each image into a centred grid of
    ``tile_size`` tiles (at most ``max_tiles``), runs any extractor of the library on every tile,
    and aggregates the tile rows per feature: the mean describes the whole image, the maximum and
    the spread show a region that differs from the rest. Each image is still decoded once.

    Parameters
    ----------
    extractor : extractor or None, default=None
        Any image extractor of this library (a family, a
        :class:`~forensics.features.ForensicFeatures` bank, an embedding). None: the bank with the
        ``"pixels"`` preset (container metadata describes the file, not a tile). Its parameters
        are reachable as ``extractor__...``.
    tile_size : int, default=256
        Side of the tiles in pixels (16..8192).
    max_tiles : int, default=16
        Most tiles per image (a 1024x1024 image has exactly 16); more are subsampled evenly.
    aggregate : tuple of str, default=("mean", "max", "std")
        Per feature, over the tiles: any of ``mean``, ``max``, ``std`` (population), ``min``,
        ``median``. NaN tile values are skipped; a feature NaN on every tile is NaN.
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    extractor_ : extractor
        The fitted inner extractor.
    feature_names_out_ : ndarray of str
        ``<inner feature>__tile_<aggregate>`` for every inner feature and aggregate
        (feature-major), then ``tiles__n_tiles__used``.

    See Also
    --------
    tile_boxes : where the tiles are.

    Notes
    -----
    With a ``tile_size`` that is a multiple of 8 (the default), tiles start on multiples of 8
    pixels, so block-DCT statistics keep the image's JPEG lattice.
    Tiles are decoded pixels: features of the file container (the ``codec`` family) do not apply
    to them and are NaN; compute those on the whole item alongside if needed. An image smaller
    than a tile is one tile (the whole image).

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import BlurFeatures, TiledFeatures
    >>> img = np.zeros((64, 128), np.uint8); img[:, 64:] = np.tile([0, 255], (64, 32))  # flat | busy
    >>> tiled = TiledFeatures(BlurFeatures(), tile_size=64).fit([img])
    >>> row = dict(zip(tiled.get_feature_names_out(), tiled.transform([img])[0]))
    >>> float(row["tiles__n_tiles__used"])
    2.0
    >>> bool(row["blur__laplacian_var__log__tile_max"] > row["blur__laplacian_var__log__tile_mean"])
    True
    """

    family = "tiles"
    _param_rules = {
        "tile_size": Interval(int, 16, 8192),
        "max_tiles": Interval(int, 1, 4096),
        "aggregate": _Aggregates(),
    }

    def __init__(self, extractor=None, *, tile_size=256, max_tiles=16, aggregate=("mean", "max", "std"), n_jobs=None,
                 on_error="raise", progress=False):
        self.extractor = extractor
        self.tile_size = tile_size
        self.max_tiles = max_tiles
        self.aggregate = aggregate
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _check_params(self):
        super()._check_params()
        if self.extractor is not None and not isinstance(self.extractor, BaseExtractor):
            raise TypeError(f"extractor must be an extractor of this library or None, got {self.extractor!r}")

    def _inner(self):
        if self.extractor is None:
            from ._bank import ForensicFeatures

            return ForensicFeatures(preset="pixels")
        return clone(self.extractor)

    def fit(self, X=None, y=None):
        """Validate the parameters, fit the inner extractor and fix the output columns."""
        self._check_params()
        self.extractor_ = self._inner().fit(X)
        aggregate = (self.aggregate,) if isinstance(self.aggregate, str) else tuple(self.aggregate)
        inner = [str(n) for n in self.extractor_.get_feature_names_out()]
        names = [f"{n}__tile_{a}" for n in inner for a in aggregate] + [_COUNT]
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.n_features_out_ = len(names)
        return self

    def _feature_names(self):
        check_is_fitted(self, "extractor_")
        return list(self.feature_names_out_)

    def _tile_items(self, item):
        arr = item._validated
        return [Item(item.index, item.source, pixels=np.ascontiguousarray(arr[y0:y0 + h, x0:x0 + w]),
                     max_pixels=item.max_pixels)
                for y0, x0, h, w in tile_boxes(arr.shape, self.tile_size, self.max_tiles)]

    def _aggregate_rows(self, rows):
        aggregate = (self.aggregate,) if isinstance(self.aggregate, str) else tuple(self.aggregate)
        return np.append(_aggregate(rows, aggregate), float(len(rows)))

    def _compute(self, item):
        rows = [np.asarray(self.extractor_._compute(t), dtype=np.float64).ravel() for t in self._tile_items(item)]
        return self._aggregate_rows(np.vstack(rows))

    # batched hooks: the inner extractor prepares each tile, then computes all tiles of a chunk at once
    def _setup(self):
        self.extractor_._setup()

    def _prepare(self, item):
        return [self.extractor_._prepare(t) for t in self._tile_items(item)]

    def _compute_batch(self, prepared):
        flat = [p for tiles in prepared for p in tiles]
        rows = np.asarray(self.extractor_._compute_batch(flat), dtype=np.float64).reshape(len(flat), -1)
        out, start = [], 0
        for tiles in prepared:
            out.append(self._aggregate_rows(rows[start:start + len(tiles)]))
            start += len(tiles)
        return np.vstack(out)

    @property
    def _batch_size_hint(self):
        inner = getattr(self, "extractor_", None)
        hint = inner._batch_size_hint if inner is not None else None
        return max(1, int(hint) // self.max_tiles) if hint else None

    def extract_one(self, image):
        """Features of one image as an ordered ``{name: value}`` dict."""
        if not hasattr(self, "extractor_"):
            self.fit()
        return super().extract_one(image)
