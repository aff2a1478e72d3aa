"""Where the items of a run come from: a folder, a manifest file, or a data set root by loader name.

:func:`load_data` turns what a user names (``data/``, ``items.csv``, ``celebdf:/data/Celeb-DF``)
into a manifest: one row per item with ``path``, ``label`` (fake = 1), ``method``, ``kind``
(``"image"`` or ``"video"``), ``group`` when the source knows it, and ``item`` when the items
live in memory (OpenFake's encoded bytes). Feature tables (``.parquet`` written by
:func:`forensics.extract_table`) are read by :func:`forensics.read_table` instead.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATASETS", "load_data", "parse_source"]

#: Loader names accepted by ``--dataset`` (and as ``NAME:ROOT``): the function each calls.
DATASETS = {
    "faceforensics": "load_faceforensics",
    "celebdf": "load_celebdf",
    "dfdc": "load_dfdc",
    "openfake": "load_openfake",
    "folder": "load_folder",
}


def parse_source(text, dataset=None):
    """Split ``"NAME:ROOT"`` into ``(NAME, ROOT)``; a plain path gives ``(dataset, path)``.

    Examples
    --------
    >>> parse_source("celebdf:/data/Celeb-DF-v2")
    ('celebdf', '/data/Celeb-DF-v2')
    >>> parse_source("data/", dataset="dfdc")
    ('dfdc', 'data/')
    >>> parse_source("C:/data")  # not a loader name: a path
    (None, 'C:/data')
    """
    text = os.fspath(text)
    name, sep, rest = text.partition(":")
    if sep and name in DATASETS and rest:
        if dataset is not None and dataset != name:
            raise ValueError(f"{text!r} names the loader {name!r} but --dataset says {dataset!r}")
        return name, rest
    return dataset, text


def _read_manifest(path, *, labels):
    import numpy as np
    import pandas as pd

    from .datasets._manifest import cwd_note, read_manifest_csv, spelled_note, warn_same_file

    if path.suffix.lower() == ".parquet":
        table = pd.read_parquet(path)
    else:
        try:
            table = read_manifest_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the manifest {os.fspath(path)!r}: {' '.join(str(exc).split())}") from None
    needed = ["path", "label"] if labels else ["path"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"the manifest {os.fspath(path)!r} lacks the column(s) {', '.join(missing)} "
                         f"(it has {', '.join(map(str, table.columns))})")
    if table["path"].isna().any():
        raise ValueError(f"the manifest {os.fspath(path)!r} has an empty path in row "
                         f"{int(np.flatnonzero(table['path'].isna().to_numpy())[0])}")
    base = path.parent
    written = table["path"].tolist()
    if not all(Path(p).is_absolute() for p in written):
        from .datasets._inventory import require_text_path

        require_text_path(base, "manifest folder")  # its relative rows' paths would hold its bytes
    table["path"] = [p if Path(p).is_absolute() else os.fspath(base / p) for p in table["path"]]
    note = cwd_note(written, base) + spelled_note(written, base)
    if note:
        import warnings

        warnings.warn(f"the manifest {os.fspath(path)!r} names files absent from its folder{note}", UserWarning,
                      stacklevel=3)
    if "label" in table.columns:
        bad = ~table["label"].isin([0, 1])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"the manifest {os.fspath(path)!r}, row {i} ({table['path'].iloc[i]}): label "
                             f"{table['label'].iloc[i]!r} is not 0 (real) or 1 (fake)")
        table["label"] = table["label"].astype(np.int64)
        if "method" not in table.columns:
            table["method"] = np.where(table["label"] == 0, "real", "fake")
    warn_same_file(os.fspath(path), table["path"], stacklevel=3)
    return table


def _kind_of(path):
    from .datasets import VIDEO_SUFFIXES

    return "video" if Path(str(path)).suffix.lower() in VIDEO_SUFFIXES else "image"


def load_data(source, *, dataset=None, labels=True, group_pattern=None, kind=None, strict=False):
    """The manifest of a data source.

    Parameters
    ----------
    source : str or Path
        A folder laid out as ``real/...`` and ``fake/[<method>/]...``
        (:func:`forensics.datasets.load_folder`); a manifest ``.csv`` (or ``.parquet``) with a
        ``path`` column (relative paths are read from the file's folder), ``label`` (fake = 1,
        real = 0) and optionally ``method`` and ``group``; or the root of a standard data set,
        named by ``dataset`` or written ``NAME:ROOT`` (``faceforensics``, ``celebdf``, ``dfdc``,
        ``openfake``; see :data:`DATASETS`).
    dataset : str, optional
        The loader to read ``source`` with.
    labels : bool, default=True
        Require a ``label`` column (False for scoring unlabelled items).
    group_pattern : str, optional
        A regular expression applied to each file name (:func:`~forensics.model_selection.groups_from_names`): its capture
        groups, joined by ``/`` when there are several (e.g. actor and source video), else the
        whole match, become the item's ``group``, replacing the source's own.
    kind : {"image", "video"}, optional
        Keep only items of this kind (a folder of both gives the asked kind); None keeps all.
    strict : bool, default=False
        A folder or a data set root: raise :class:`~forensics.datasets.SkippedFilesError`
        instead of warning when a media file under it would be left out of the manifest for a
        reason that loses data (unlabelled, outside the layout, unreadable listing); the
        loader's ``strict`` (``forensics VERB --strict``). A manifest file lists its items itself:
        it does not apply.

    Returns
    -------
    pandas.DataFrame
        The loader's manifest plus ``kind``; ``attrs["source"]`` is ``source`` as given and
        ``attrs["dataset"]`` the loader's name. A file the source lists but that is missing on
        disk (a DFDC ``metadata.json`` entry, a manifest row) stays a row (``exists=False``
        where the loader says so): :func:`~forensics.extract_table` gives it a row of status
        ``"error"`` (file not found) and NaN features, and extracts it again with
        ``retry_failed`` once it is there; it is never dropped.

    Raises
    ------
    FileNotFoundError
        ``source`` does not exist, or holds no item of the asked kind.
    ValueError
        A malformed manifest (the message names the file and row), an unknown loader, or a
        ``group_pattern`` that is not a regular expression or does not match a file name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for rel in ["real/a.jpg", "fake/swap/b.mp4"]:
    ...     (root / rel).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (root / rel).write_bytes(b"x")
    >>> load_data(root)[["label", "method", "kind"]].values.tolist()
    [[0, 'real', 'image'], [1, 'swap', 'video']]
    """
    from . import datasets

    dataset, text = parse_source(source, dataset)
    path = Path(text)
    if dataset is not None:
        if dataset not in DATASETS:
            raise ValueError(f"unknown data set loader {dataset!r}; use one of {', '.join(DATASETS)}")
        if not path.exists():
            raise FileNotFoundError(f"the {dataset} root {text!r} does not exist")
        # a listed file missing on disk (DFDC: exists=False) stays a row: reading it gives status error
        manifest = getattr(datasets, DATASETS[dataset])(path, strict=strict)
    elif path.is_dir():
        manifest = datasets.load_folder(path, strict=strict)
    elif path.is_file():
        if path.suffix.lower() not in (".csv", ".parquet"):
            raise ValueError(f"DATA {text!r} is a file but not a manifest (.csv or .parquet); give a folder with "
                             "real/ and fake/ sub-folders, a manifest, or a data set root with --dataset")
        manifest = _read_manifest(path, labels=labels)
    else:
        from .media._item import _spelling_reason

        url = (_spelling_reason(text) or "").removeprefix("file not found; ")  # a file:// URL names its local
        if url.startswith("it is a URL"):                                    # path; '~' is not expanded
            url = "it is a URL: DATA is read from local files, nothing is downloaded"
        url = "; " + url if url else ""
        raise FileNotFoundError(f"DATA not found: {text!r} (expected a folder with real/ and fake/ sub-folders, "
                                f"a manifest .csv, or a data set root with --dataset){url}")
    if "kind" not in manifest.columns:
        manifest["kind"] = ["image" if p is None else _kind_of(p) for p in manifest["path"]]
    if kind is not None:
        keep = manifest["kind"] == kind
        if not keep.any():
            raise FileNotFoundError(f"DATA {text!r} holds no {kind} file")
        manifest = manifest[keep].reset_index(drop=True)
    if group_pattern is not None:
        from .model_selection import groups_from_names

        manifest["group"] = groups_from_names(group_pattern, manifest["path"])
    manifest.attrs["source"] = os.fspath(source)
    manifest.attrs.setdefault("dataset", dataset or "folder")
    return manifest
