"""The generic folder layout: ``real/`` and ``fake/`` (optionally ``fake/<method>/``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["IMAGE_SUFFIXES", "load_folder"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def load_folder(root, *, suffixes=IMAGE_SUFFIXES):
    """Manifest of a folder dataset laid out as ``real/...`` and ``fake/[<method>/]...``.

    Labels come from the top folder name only (``real`` = 0, ``fake`` = 1), never from the
    order of directories. Files directly in ``fake/`` get the method ``"fake"``; files in
    ``fake/<method>/`` (at any depth below it) get ``<method>``; real files get ``"real"``.

    Parameters
    ----------
    root : str or Path
    suffixes : tuple of str
        File name suffixes (case-insensitive) that count as images.

    Returns
    -------
    pandas.DataFrame
        Columns ``path`` (str), ``label`` (0/1), ``method``, sorted by label then path.

    Raises
    ------
    FileNotFoundError
        When ``root`` has no ``real/`` or ``fake/`` folder, or either holds no image.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for rel in ["real/a.jpg", "fake/swap/b.jpg", "fake/c.png", "fake/notes.txt"]:
    ...     (root / rel).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (root / rel).write_bytes(b"x")
    >>> load_folder(root)[["label", "method"]].values.tolist()
    [[0, 'real'], [1, 'fake'], [1, 'swap']]
    """
    root = Path(root)
    rows = []
    for label, top in ((0, "real"), (1, "fake")):
        folder = root / top
        if not folder.is_dir():
            raise FileNotFoundError(f"{root} has no {top}/ folder (expected real/ and fake/[<method>/])")
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
        if not files:
            raise FileNotFoundError(f"{folder} holds no image file ({', '.join(suffixes)})")
        for path in files:
            rel = path.relative_to(folder).parts
            method = top if label == 0 or len(rel) == 1 else rel[0]
            rows.append(dict(path=str(path), label=label, method=method))
    return pd.DataFrame(rows, columns=["path", "label", "method"])
