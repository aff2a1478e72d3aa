"""The generic folder layout: ``real/`` and ``fake/`` (optionally ``fake/<method>/``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._inventory import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Inventory, _shown
from ._manifest import deeper_hint, find_named

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "load_folder"]

_TOPS = ("real", "fake")


def _classifier(names):
    def classify(root, rel):
        if rel and rel[0] not in names:
            return "outside real/ and fake/ (no label)", False
        return None

    return classify


def _top_folder(root, top):
    """``root/top``, else the one folder whose name is ``top`` in another letter case (``Real/``,
    ``FAKE/``: folders made on Windows or macOS, which match names case-insensitively), by the
    data set loaders' one rule (:func:`~forensics.datasets._manifest.find_named`)."""
    found = find_named(root, top, folder_wanted=True)  # ValueError for two case variants
    if found is None:
        hint = deeper_hint(root, _TOPS) if root.is_dir() else ""
        raise FileNotFoundError(f"{root} has no {top}/ folder (expected real/ and fake/[<method>/]){hint}")
    return found


def load_folder(root, *, suffixes=IMAGE_SUFFIXES + VIDEO_SUFFIXES, strict=False):
    """Manifest of a folder dataset laid out as ``real/...`` and ``fake/[<method>/]...``.

    Labels come from the top folder name only (``real`` = 0, ``fake`` = 1), never from the
    order of directories; a name in another letter case (``Real/``, ``FAKE/``) is taken when the
    exact one is absent and it is the only such folder. Files directly in ``fake/`` get the method ``"fake"``; files in
    ``fake/<method>/`` (at any depth below it) get ``<method>``; real files get ``"real"``.
    Files that are not media (notes, sidecars, ``.DS_Store``) are ignored; every media file
    under ``root`` that is not listed is counted in a :class:`SkippedFilesWarning` that names
    its reason (see Notes).

    Parameters
    ----------
    root : str or Path
    suffixes : tuple of str
        File name suffixes (case-insensitive) to list: images and videos by default.
    strict : bool, default=False
        Raise :class:`SkippedFilesError` instead of warning when a media file under ``root``
        would be left out for a reason that loses data (outside ``real/`` and ``fake/``, broken
        link, unreadable...). Files excluded by ``suffixes`` or hidden are only warned about.

    Returns
    -------
    pandas.DataFrame
        Columns ``path`` (str), ``label`` (0/1), ``method``, ``kind`` (``"video"`` for the
        suffixes of :data:`VIDEO_SUFFIXES`, else ``"image"``); reals first, then fakes, each
        sorted by path. ``attrs``: ``dataset="folder"``, ``skipped`` (files left out, by
        reason). There is no ``group`` column: the layout says nothing about which files share
        a source (derive one, e.g. with :func:`forensics.model_selection.groups_from_manifest`,
        from what you know).

    Raises
    ------
    FileNotFoundError
        When ``root`` has no ``real/`` or ``fake/`` folder in any letter case, or either holds no
        listed file.
    ValueError
        When ``real/`` (or ``fake/``) is absent and two folders spell it in other letter cases
        (``REAL/`` and ``Real/``), naming both: which one holds the data set cannot be told.
    SkippedFilesError
        With ``strict=True``, see above.

    Warns
    -----
    SkippedFilesWarning
        Counting the media files under ``root`` that are not listed, by reason.

    Notes
    -----
    Media files are recognised by their suffix, case-insensitively (``.JPG``, ``.MP4``; see
    :data:`~forensics.datasets.MEDIA_SUFFIXES`). Links to files are listed under the link's
    own path; links to folders are followed, each folder once. Broken links, media names that
    are no regular file, unreadable files, hidden files (``._a.jpg``) and media with a suffix
    outside ``suffixes`` are not listed and are counted by reason.

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
    folders = [_top_folder(root, top) for top in _TOPS]
    inventory = Inventory(root)
    rows = []
    for label, (top, folder) in enumerate(zip(_TOPS, folders)):
        files = []
        for path in inventory.files_below(folder):
            if path.suffix.lower() in suffixes:
                files.append(path)
            else:
                inventory.skip(path, f"{path.suffix.lower()} file, not in suffixes=", harmless=True)
        if not files:
            left = inventory.problems_below(folder)
            note = (f"; {len(left)} media file(s) there cannot be listed (first: {_shown(str(left[0][0]))}: "
                    f"{left[0][1]})" if left else "")
            raise FileNotFoundError(f"{_shown(str(folder))} holds no image or video file ({', '.join(suffixes)})"
                                    + note)
        for path in sorted(files):
            rel = path.relative_to(folder).parts
            method = top if label == 0 or len(rel) == 1 else rel[0]
            kind = "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"
            rows.append(dict(path=str(path), label=label, method=method, kind=kind))
    skipped = inventory.settle([r["path"] for r in rows], loader="load_folder", strict=strict,
                               classify=_classifier({f.name for f in folders}))
    df = pd.DataFrame(rows, columns=["path", "label", "method", "kind"])
    df.attrs["dataset"] = "folder"
    df.attrs["skipped"] = skipped
    return df
