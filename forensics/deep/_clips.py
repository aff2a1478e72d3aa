"""Clips of face crops: T frames of one video, from the face-crop cache, for clip-level video models.

A *clip* is ``T`` frames of one video in time order (default 16, evenly spaced), the unit a
3-D CNN or a frame backbone with a temporal head reads. :class:`ClipDataset` builds them from the
cache :func:`forensics.datasets.extract_faces` writes (its ``crops.csv`` and PNG crops), keeps the
label and group of each video, and gives each clip as a lazy :class:`Clip` (paths only; the
pixels are read when needed), so a data set of thousands of videos costs no memory until used.
:func:`make_motion_clips` generates the motion-only task that proves a model uses time.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..media import ItemError

__all__ = ["Clip", "ClipDataset", "clip_positions", "make_motion_clips"]


@dataclass(frozen=True)
class Clip:
    """``T`` face crops of one video, in time order (paths only: pixels are read by :meth:`load`).

    Attributes
    ----------
    frames : tuple of str
        The crop image files (PNG), one per frame, in time order (a file can repeat when the
        video has fewer crops than the clip has frames).
    frame_indices : tuple of int
        The video frame index of each crop.
    video : str
        The source video (its path in the manifest).
    label : int or None
        Fake = 1, real = 0 (the manifest's label).
    group : int or None
        The manifest's group (what must not straddle folds).
    clip_index : int
        Rank of this clip among the clips of its video (0 = earliest).
    """

    frames: tuple
    frame_indices: tuple
    video: str
    label: int | None = None
    group: int | None = None
    clip_index: int = 0

    def __len__(self):
        return len(self.frames)

    def load(self, index=None):
        """The frames as one RGB uint8 array (T, H, W, 3).

        Parameters
        ----------
        index : int, optional
            Position of the clip in its input sequence, for error messages.

        Raises
        ------
        ItemError
            When a crop cannot be read or the crops differ in size; names the clip and the file.
        """
        import cv2

        where = -1 if index is None else index
        out = []
        for path in self.frames:
            bgr = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
            if bgr is None:
                reason = "file not found" if not Path(path).is_file() else "not a readable image"
                raise ItemError(where, self.video, f"crop {path}: {reason}")
            out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if len({f.shape for f in out}) > 1:
            raise ItemError(where, self.video, f"the crops of this clip differ in size: {sorted({f.shape for f in out})}")
        return np.stack(out)


def clip_positions(n_available, n_frames, clips_per_video=1):
    """Which of a video's ``n_available`` frames (in time order) go in each clip.

    The frames are cut into ``clips_per_video`` contiguous, equal segments (as near as integer
    boundaries allow), and each clip takes ``n_frames`` positions evenly spaced over its segment,
    first and last included: ``round(linspace(a, b - 1, n_frames))``. A segment shorter than
    ``n_frames`` repeats frames (the clip then plays slower); a video with fewer frames than
    clips gives fewer clips, never an empty one.

    Parameters
    ----------
    n_available : int >= 1
    n_frames : int >= 1
    clips_per_video : int >= 1, default=1

    Returns
    -------
    list of ndarray of int, each (n_frames,)

    Examples
    --------
    >>> [p.tolist() for p in clip_positions(10, 4)]
    [[0, 3, 6, 9]]
    >>> [p.tolist() for p in clip_positions(10, 3, clips_per_video=2)]
    [[0, 2, 4], [5, 7, 9]]
    >>> [p.tolist() for p in clip_positions(2, 4)]
    [[0, 0, 1, 1]]
    """
    for name, v in (("n_available", n_available), ("n_frames", n_frames), ("clips_per_video", clips_per_video)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v!r}")
    k = min(clips_per_video, n_available)
    bounds = np.floor(np.linspace(0, n_available, k + 1) + 1e-9).astype(int)
    return [np.round(np.linspace(a, b - 1, n_frames) + 1e-9).astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:])]


class ClipDataset(Sequence):
    """A sequence of :class:`Clip` with their labels, groups and videos (``X``, ``y``, ``groups``).

    Build it with :meth:`from_crops` from the face-crop cache. Indexing with an int gives a
    :class:`Clip`; with a slice or an array of indices, a new ClipDataset. It is what
    :class:`~forensics.deep.VideoClassifier` takes as ``X``; pass ``dataset.groups`` as
    ``groups`` to a group-aware splitter so that the clips of one video (and of one identity,
    when the manifest's group says so) never straddle folds.

    Parameters
    ----------
    clips : sequence of Clip

    Attributes
    ----------
    labels : ndarray of int (n_clips,)
    groups : ndarray of int (n_clips,)
    videos : ndarray of str (n_clips,)
    skipped : pandas.DataFrame
        Videos of the cache that gave no clip, with the reason (``path``, ``reason``); empty when
        built from clips directly.

    Examples
    --------
    >>> ds = ClipDataset([Clip(("a.png",), (0,), "v0.mp4", 1, 0), Clip(("b.png",), (0,), "v1.mp4", 0, 1)])
    >>> len(ds), ds.labels.tolist(), ds[1].video
    (2, [1, 0], 'v1.mp4')
    """

    def __init__(self, clips, skipped=None):
        self.clips = list(clips)
        if not all(isinstance(c, Clip) for c in self.clips):
            raise TypeError("ClipDataset takes Clip objects")
        self.skipped = skipped if skipped is not None else pd.DataFrame(columns=["path", "reason"])

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, key):
        if isinstance(key, numbers.Integral):
            return self.clips[key]
        if isinstance(key, slice):
            return ClipDataset(self.clips[key])
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return ClipDataset([self.clips[int(i)] for i in idx])

    def __repr__(self):
        return f"ClipDataset({len(self)} clips of {len(set(self.videos.tolist()))} videos)"

    @property
    def labels(self):
        return np.array([-1 if c.label is None else c.label for c in self.clips], dtype=np.int64)

    @property
    def groups(self):
        return np.array([-1 if c.group is None else c.group for c in self.clips], dtype=np.int64)

    @property
    def videos(self):
        return np.array([c.video for c in self.clips], dtype=object)

    @classmethod
    def from_crops(cls, source, *, n_frames=16, clips_per_video=1, face_index=0, root=None):
        """Clips from the face-crop cache of :func:`forensics.datasets.extract_faces`.

        Parameters
        ----------
        source : ExtractionResult, str or Path, or pandas.DataFrame
            What ``extract_faces`` returned, its output folder (``crops.csv`` is read there), or
            the crops table itself (then give ``root``, the folder its ``crop_path`` is relative to).
        n_frames : int >= 1, default=16
            Frames per clip, evenly spaced (see :func:`clip_positions`).
        clips_per_video : int >= 1, default=1
            Clips per video, from consecutive segments of its crops.
        face_index : int, default=0
            Which face of each frame (0 = the largest, as the cropper ranks them); frames
            without that face are left out of the video's sequence.
        root : str or Path, optional
            The cache folder, when ``source`` is a table.

        Returns
        -------
        ClipDataset
            Clips ordered by video (order of first appearance in the cache), then time. Labels
            come from the ``label`` column, groups from ``group`` when present (else one group
            per video). Videos with no usable crop are listed in ``skipped``.
        """
        records = None
        if isinstance(source, pd.DataFrame):
            if root is None:
                raise ValueError("with a crops table, give root= (the folder its crop_path is relative to)")
            crops, root = source, Path(root)
        elif hasattr(source, "crops") and hasattr(source, "records"):
            crops, records = source.crops, source.records
            if root is None:
                raise ValueError("with an ExtractionResult, give root= (the out_dir given to extract_faces)")
            root = Path(root)
        else:
            root = Path(source)
            table = root / "crops.csv"
            if not table.is_file():
                raise FileNotFoundError(f"{table} not found: expected the output folder of extract_faces")
            from ..datasets._manifest import read_manifest_csv  # names ("NA", "None") read as written

            crops = read_manifest_csv(table)
            if (root / "records.csv").is_file():
                records = read_manifest_csv(root / "records.csv")
        missing = [c for c in ("path", "label", "crop_path", "frame_index", "face_index") if c not in crops.columns]
        if missing:
            raise ValueError(f"the crops table lacks column(s) {missing} (expected extract_faces' crops.csv)")
        clip_positions(1, n_frames, clips_per_video)  # validates both
        table = crops[crops["face_index"] == face_index].copy()
        table["_dir"] = [str(Path(p).parent) for p in table["crop_path"]]  # one folder per manifest row
        videos = list(dict.fromkeys(zip(table["path"].astype(str), table["_dir"])))
        groups = table.groupby(["path", "_dir"], sort=False)
        if "group" in table.columns:
            group_of = {k: int(g["group"].iloc[0]) for k, g in groups}
        else:
            group_of = {k: i for i, k in enumerate(videos)}
        clips = []
        for key in videos:
            g = groups.get_group(key).sort_values("frame_index", kind="stable")
            g = g.drop_duplicates("frame_index")
            paths = [str(root / p) for p in g["crop_path"]]
            idx = g["frame_index"].to_numpy(dtype=np.int64)
            labels = g["label"].unique()
            if labels.size != 1:
                raise ValueError(f"video {key[0]} has crops with different labels {labels.tolist()}")
            for k, pos in enumerate(clip_positions(len(paths), n_frames, clips_per_video)):
                clips.append(Clip(tuple(paths[i] for i in pos), tuple(int(idx[i]) for i in pos), key[0],
                                  int(labels[0]), group_of[key], k))
        skipped = pd.DataFrame(columns=["path", "reason"])
        if records is not None and len(records):
            with_clip = {v for v, _ in videos}
            rows = []
            for path, g in records.groupby("path", sort=False):
                if str(path) in with_clip:
                    continue
                has_face = bool(g["face_found"].astype(bool).any())
                rows.append((str(path), f"no crop with face_index={face_index}" if has_face else
                             "no face found in any sampled frame (or the video could not be decoded)"))
            skipped = pd.DataFrame(rows, columns=["path", "reason"])
        return cls(clips, skipped)

    def as_torch(self, *, size=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)):
        """A ``torch.utils.data.Dataset`` of ``(tensor (T, 3, H, W) float32, label)`` pairs.

        Pixels are scaled to [0, 1], then ``(x - mean) / std``; ``size=(H, W)`` resizes each
        crop (OpenCV, area interpolation when shrinking). For users with their own training loop.
        """
        from ._data import resize
        from ._torch import import_torch

        torch = import_torch("ClipDataset.as_torch")
        clips = self.clips
        mean = np.asarray(mean, np.float32)[:, None, None]
        std = np.asarray(std, np.float32)[:, None, None]

        class _Clips(torch.utils.data.Dataset):
            def __len__(self):
                return len(clips)

            def __getitem__(self, i):
                frames = clips[i].load(i)
                if size is not None:
                    frames = np.stack([resize(f, tuple(size), "bilinear") for f in frames])
                x = frames.astype(np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
                return torch.from_numpy(np.ascontiguousarray((x - mean) / std)), int(clips[i].label)

        return _Clips()


def make_motion_clips(n, *, n_frames=8, size=32, seed=0, noise=4.0):
    """A generated task in which only motion tells the classes apart.

    Each clip shows a grey striped pattern that turns and zooms smoothly: in frame ``t``, the
    grey level at pixel ``(x, y)`` (centred coordinates) is
    ``128 + 90 sin(k_t (x cos a_t + y sin a_t)) + noise``, with orientation
    ``a_t = a_0 + omega t`` and spatial frequency ``k_t = 0.55 exp(z (t - (T - 1) / 2))`` rad/px;
    ``a_0`` uniform in ``[0, pi)``, ``omega`` in ``+-[0.15, 0.3]`` rad/frame and ``z`` in
    ``+-[0.12, 0.2]`` per frame (signs at random). Real clips (label 0) play in order; fake clips
    (label 1) are the same kind of clip with its frames shuffled in time (never the identity).

    A fake clip holds exactly the frames a real clip would, in another order, so every frame
    has the same distribution in both classes and any model that sees frames one at a time (or
    pools them without order) is at chance by construction: only the motion (the order of the
    frames) carries the label. The rotation is what a 3-D convolution sees move locally; the
    zoom changes the texture scale, which even globally pooled per-frame features keep, so a
    frame backbone with a temporal head can follow it too. Clips differ only in their motion
    (no per-clip colour or phase), which keeps small networks from memorising clips instead.

    Parameters
    ----------
    n : int
        Number of clips; labels alternate 0, 1, 0, 1...
    n_frames : int, default=8
    size : int, default=32
        Frame side in pixels.
    seed : int, default=0
    noise : float, default=4.0
        Standard deviation of the i.i.d. Gaussian pixel noise (grey levels).

    Returns
    -------
    X : ndarray of uint8, shape (n, n_frames, size, size, 3)
    y : ndarray of int, shape (n,)

    Examples
    --------
    >>> X, y = make_motion_clips(4, n_frames=6, size=16)
    >>> X.shape, y.tolist()
    ((4, 6, 16, 16, 3), [0, 1, 0, 1])
    """
    rng = np.random.default_rng(seed)
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size].astype(np.float64) - c
    X = np.empty((n, n_frames, size, size, 3), np.uint8)
    y = np.arange(n) % 2
    t = np.arange(n_frames)
    for i in range(n):
        a = rng.uniform(0, np.pi) + rng.choice([-1, 1]) * rng.uniform(0.15, 0.3) * t
        k = 0.55 * np.exp(rng.choice([-1, 1]) * rng.uniform(0.12, 0.2) * (t - (n_frames - 1) / 2))
        arg = xx[None] * (k * np.cos(a))[:, None, None] + yy[None] * (k * np.sin(a))[:, None, None]
        grey = 128 + 90 * np.sin(arg) + noise * rng.normal(size=(n_frames, size, size))
        if y[i]:
            order = rng.permutation(n_frames)
            while np.array_equal(order, t):
                order = rng.permutation(n_frames)
            grey = grey[order]
        X[i] = np.clip(np.rint(grey), 0, 255).astype(np.uint8)[..., None]
    return X, y
