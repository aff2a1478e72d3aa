"""Reading a manifest written as CSV (by hand, by another tool, or ``manifest.to_csv``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._inventory import Inventory, _shown, require_text_path
from ._manifest import check_labels, cwd_note, normalization_note, read_manifest_csv, spelled_note, warn_same_file

__all__ = ["read_manifest"]


def read_manifest(path, *, root=None, strict=False):
    """Read a manifest CSV, and account for the media files under its root that it does not list.

    The CSV has one row per item and at least the columns ``path`` and ``label`` (fake = 1,
    real = 0); ``method`` (``"real"`` for reals) and ``group`` are optional, other columns are
    kept. Relative paths are read from the CSV's folder.

    Parameters
    ----------
    path : str or Path
        The ``.csv`` file.
    root : str or Path or None, default=None
        The folder whose media files the manifest is meant to cover; None: the CSV's folder.
        Every media file under it that no row names is counted in a
        :class:`SkippedFilesWarning` ("not listed in the manifest CSV").
    strict : bool, default=False
        Raise :class:`SkippedFilesError` instead of that warning (hidden files are only warned
        about).

    Returns
    -------
    pandas.DataFrame
        The CSV's columns with ``path`` made absolute-or-CSV-relative (str), ``label`` as int,
        ``method`` (derived as ``"real"`` / ``"fake"`` when absent), and ``exists`` (whether the
        row's file is a readable regular file). ``attrs``: ``dataset="manifest"``, ``source``
        (the CSV), ``skipped`` (files under ``root`` left out, by reason).

    Raises
    ------
    FileNotFoundError
        When the CSV (or ``root``) does not exist.
    ValueError
        For a CSV that cannot be parsed, a missing ``path`` or ``label`` column, an empty path,
        or a label that is not 0/1 (or a method that contradicts it), naming the row.
    SkippedFilesError
        With ``strict=True``, see above.

    Warns
    -----
    UserWarning
        When rows name files that are absent, broken links or unreadable: the rows are kept
        with ``exists=False``. When two rows name one file (the same path twice, ``./a.jpg``
        and ``a.jpg``, a link and its target, ``A.jpg`` and ``a.jpg`` on a case-insensitive
        file system): the rows are kept, and the file counts twice (in both halves of a split,
        unless a ``group`` column joins them).
    SkippedFilesWarning
        Counting the media files under ``root`` that no row names, by reason.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["a.jpg", "b.jpg"]:
    ...     _ = (root / name).write_bytes(b"x")
    >>> _ = (root / "manifest.csv").write_text("path,label\\na.jpg,0\\nb.jpg,1\\n")
    >>> m = read_manifest(root / "manifest.csv")
    >>> m[["label", "method", "exists"]].values.tolist()
    [[0, 'real', True], [1, 'fake', True]]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{_shown(os.fspath(path))} not found: expected a manifest .csv")
    try:
        table = read_manifest_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the manifest {path}: {' '.join(str(exc).split())}") from None
    missing = [c for c in ("path", "label") if c not in table.columns]
    if missing:
        raise ValueError(f"the manifest {path} lacks the column(s) {', '.join(missing)} "
                         f"(it has {', '.join(map(str, table.columns))})")
    empty = np.flatnonzero(table["path"].isna().to_numpy() | (table["path"].astype(str).str.strip() == ""))
    if empty.size:
        raise ValueError(f"the manifest {path}, row {int(empty[0])}: empty path")
    base = path.parent
    written = table["path"].tolist()
    if not all(os.path.isabs(p) for p in written):
        require_text_path(base, "manifest folder")  # its relative rows' paths would hold its bytes
    table["path"] = [p if os.path.isabs(p) else os.fspath(base / p) for p in table["path"]]
    label = pd.to_numeric(table["label"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isin(label, (0.0, 1.0)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"the manifest {path}, row {i} ({table['path'].iloc[i]}): label "
                         f"{table['label'].tolist()[i]!r} is not 0 (real) or 1 (fake)")
    table["label"] = label.astype(np.int64)
    if "method" not in table.columns:
        table["method"] = np.where(table["label"] == 0, "real", "fake").astype(object)
    try:
        check_labels(table)
    except ValueError as exc:
        raise ValueError(f"the manifest {path}: {exc}") from None
    if root is not None and not Path(root).is_dir():
        raise FileNotFoundError(f"{root} not found: expected the folder the manifest covers")
    inventory = Inventory(Path(root) if root is not None else base)
    exists = [os.path.isfile(p) and os.access(p, os.R_OK) and inventory.problem(p) is None for p in table["path"]]
    table["exists"] = np.asarray(exists, dtype=bool)
    if not table["exists"].all():
        absent = table["path"][~table["exists"]]
        warnings.warn(f"{len(absent)} of {len(table)} rows of {path} name a file that is "
                      f"absent or not readable (first: {absent.iloc[0]}); their rows have exists=False"
                      + normalization_note(absent)
                      + cwd_note([w for w, ok in zip(written, exists) if not ok], base)
                      + spelled_note([w for w, ok in zip(written, exists) if not ok], base), UserWarning, stacklevel=2)
    warn_same_file(path, table["path"][table["exists"]], stacklevel=2)
    skipped = inventory.settle(table["path"], loader="read_manifest", strict=strict,
                               classify=lambda _, rel: ("not listed in the manifest CSV (unlabelled)", False))
    table.attrs.update(dataset="manifest", source=str(path), skipped=skipped)
    return table
