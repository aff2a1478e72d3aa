"""The generic folder layout: ``real/`` and ``fake/`` (optionally ``fake/<method>/``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "load_folder"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def load_folder(root, *, suffixes=IMAGE_SUFFIXES + VIDEO_SUFFIXES):
    """Manifest of a folder dataset laid out as ``real/...`` and ``fake/[<method>/]...``.

    Labels come from the top folder name only (``real`` = 0, ``fake`` = 1), never from the
    order of directories. Files directly in ``fake/`` get the method ``"fake"``; files in
    ``fake/<method>/`` (at any depth below it) get ``<method>``; real files get ``"real"``.
    Files whose suffix is not in ``suffixes`` (notes, thumbnails' sidecars...) are ignored.

    Parameters
    ----------
    root : str or Path
    suffixes : tuple of str
        File name suffixes (case-insensitive) to list: images and videos by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``path`` (str), ``label`` (0/1), ``method``, ``kind`` (``"video"`` for the
        suffixes of :data:`VIDEO_SUFFIXES`, else ``"image"``); reals first, then fakes, each
        sorted by path. ``attrs["dataset"] = "folder"``. There is no ``group`` column: the
        layout says nothing about which files share a source (derive one, e.g. with
        :func:`forensics.model_selection.groups_from_manifest`, from what you know).

    Raises
    ------
    FileNotFoundError
        When ``root`` has no ``real/`` or ``fake/`` folder, or either holds no listed file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for rel in ["real/a.jpg", "fake/swap/b.jpg", "fake/c.png", "fake/d.MP4", "fake/notes.txt"]:
    ...     (root / rel).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (root / rel).write_bytes(b"x")
    >>> load_folder(root)[["label", "method", "kind"]].values.tolist()
    [[0, 'real', 'image'], [1, 'fake', 'image'], [1, 'fake', 'video'], [1, 'swap', 'image']]
    """
    root = Path(root)
    suffixes = tuple(s.lower() for s in suffixes)
    rows = []
    for label, top in ((0, "real"), (1, "fake")):
        folder = root / top
        if not folder.is_dir():
            raise FileNotFoundError(f"{root} has no {top}/ folder (expected real/ and fake/[<method>/])")
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
        if not files:
            raise FileNotFoundError(f"{folder} holds no image or video file ({', '.join(suffixes)})")
        for path in files:
            rel = path.relative_to(folder).parts
            method = top if label == 0 or len(rel) == 1 else rel[0]
            kind = "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"
            rows.append(dict(path=str(path), label=label, method=method, kind=kind))
    df = pd.DataFrame(rows, columns=["path", "label", "method", "kind"])
    df.attrs["dataset"] = "folder"
    return df
