"""The DeepFake Detection Challenge (Dolhansky et al., 2020): training parts (metadata.json), test set (labels.csv)."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import pandas as pd

from ._inventory import Inventory
from ._manifest import (find_named, finish, natural_key, normalization_note, read_json, read_text,
                        separator_line, warn_same_file)

__all__ = ["load_dfdc"]

_LABELS = {"REAL": 0, "FAKE": 1}


_TEST_LABELS = "labels.csv"
_METADATA = "metadata.json"


def _named(folder, name, *, folder_wanted=False):
    """``folder/name``, else the one entry named ``name`` in another letter case (``Metadata.json``,
    ``METADATA.JSON``, ``Labels.csv``, ``Videos/``: copies made on Windows or macOS, which match names
    case-insensitively); None when there is neither (:func:`find_named`, which refuses two such entries
    and no exact one: which one holds the labels cannot be told). A broken link of the exact name is
    said to be one."""
    exact = folder / name
    if exact.is_symlink() and not exact.exists():  # the labels are there, out of reach: never "no metadata.json"
        what = "the part's videos" if folder_wanted else "the part's labels"
        raise FileNotFoundError(f"{exact} is a broken symbolic link (to {os.readlink(exact)}): {what} cannot be read")
    return find_named(folder, name, folder_wanted=folder_wanted)


def _is_part(folder):
    return _named(folder, _METADATA) is not None or _named(folder, _TEST_LABELS) is not None


def _deeper_parts(root):
    """Part folders two levels below ``root`` (``root/dfdc_train_all/dfdc_train_part_0/``), for the error's hint."""
    try:
        return sorted(q for p in root.iterdir() if p.is_dir() for q in p.iterdir() if q.is_dir() and _is_part(q))
    except OSError:
        return []


def _parts(root):
    """The part folders: ``root`` itself when it holds metadata.json or labels.csv, else its subfolders that do."""
    if _is_part(root):
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} not found: expected a DFDC part folder or a folder of parts")
    parts = sorted((p for p in root.iterdir() if p.is_dir() and _is_part(p)), key=lambda p: natural_key(p.name))
    if not parts:
        deeper = _deeper_parts(root)
        hint = (f"; parts lie one folder deeper ({len(deeper)}, first {deeper[0].relative_to(root)}): pass "
                f"{deeper[0].parent} as root" if deeper else "")
        raise FileNotFoundError(f"{root} has no metadata.json or labels.csv, and no subfolder (dfdc_train_part_N/, "
                                f"test/) holds one{hint}")
    return parts


def _video_folder(part):
    """Where a part's videos are: the test set's ``videos/`` subfolder when labels.csv sits beside one."""
    videos = _named(part, "videos", folder_wanted=True)
    if _named(part, _METADATA) is None and videos is not None:
        return videos
    return part


def _read_entries(part):
    """(file, {name: entry}) of a part: its metadata.json, else its labels.csv (the test set's)."""
    meta_file = _named(part, _METADATA)
    if meta_file is not None:
        meta = read_json(meta_file)
        if not isinstance(meta, dict):
            raise ValueError(f"{meta_file}: expected an object mapping file names to entries")
        return meta_file, meta
    file = _named(part, _TEST_LABELS)
    lines = read_text(file).splitlines()
    sep = separator_line(lines[0]) if lines else None  # Excel's 'sep=;' line before the header
    skipped = int(sep is not None)
    rows = list(csv.reader(lines[skipped:], delimiter=sep or ","))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "filename" not in header or "label" not in header:
        found = rows[0] if rows else "nothing"
        raise ValueError(f"{file}: expected the columns filename,label (1 = fake), found {found}")
    at_name, at_label = header.index("filename"), header.index("label")
    meta = {}
    for k, row in enumerate(rows[1:], start=2 + skipped):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ValueError(f"{file}, line {k}: {len(row)} fields, the header has {len(header)}")
        name, value = row[at_name].strip(), row[at_label].strip()
        if name in meta:
            raise ValueError(f"{file}, line {k}: {name!r} is listed twice")
        meta[name] = {"label": {"0": "REAL", "1": "FAKE"}.get(value, value), "split": "test"}  # checked as metadata
    return file, meta


def _stem(name):
    return name[:-4] if name.lower().endswith(".mp4") else name


def _classifier(root, parts):
    names = {p.name for p in parts}
    single = parts == [root]

    def classify(_, rel):
        if single or len(rel) != 2:
            return "outside the layout (not directly in a part folder)", False
        if rel[0] not in names:
            return "in a folder without metadata.json or labels.csv (unlabelled)", False
        return None

    return classify


def load_dfdc(root, *, strict=False):
    """Manifest of DFDC training videos from the ``metadata.json`` of each part.

    Layout: ``root`` is one part, or holds parts (any subfolder with a ``metadata.json``)::

        dfdc_train_part_0/metadata.json
        dfdc_train_part_0/aaqaifqrwn.mp4 ...
        dfdc_train_part_1/...

    where ``metadata.json`` maps each file name to
    ``{"label": "FAKE" | "REAL", "split": "train", "original": "xyz.mp4" | null}``.
    The test set is a part too: a folder holding ``labels.csv`` (columns ``filename,label``,
    label 1 = fake, 0 = real; ``FAKE``/``REAL`` also read) and its videos, in a ``videos/``
    subfolder when there is one, else beside it (``test/labels.csv``, ``test/videos/x.mp4``).
    Its rows have ``split="test"`` and no ``original`` (each video is its own group). A folder
    with both files is read from ``metadata.json``. ``Metadata.json``, ``Labels.csv`` or ``Videos/`` in
    another letter case (a copy made on Windows or macOS) are read when the exact name is absent.
    ``labels.csv`` and ``metadata.json`` are UTF-8 (a leading byte-order mark dropped) or UTF-16
    with its byte-order mark (as Windows tools write them), decoded as manifest CSVs are; a first
    line ``sep=;`` (Excel's separator line) sets the separator of ``labels.csv``.
    Labels come from the metadata only. Media files that no metadata.json (or labels.csv) names (a part
    folder without metadata.json, videos the metadata does not list, files outside the part
    folders) cannot be labelled: they are counted, by reason, in a
    :class:`SkippedFilesWarning` naming the first ones.

    Parameters
    ----------
    root : str or Path
    strict : bool, default=False
        Raise :class:`SkippedFilesError` instead of warning when a media file under ``root``
        would be left out for a reason that loses data (unlabelled, outside the layout, broken
        link, unreadable...). Hidden files are only warned about.

    Returns
    -------
    pandas.DataFrame
        One row per metadata entry, parts in natural order (part_2 before part_10), entries in
        file order. Columns ``path``, ``label`` (fake = 1), ``method`` (``"real"`` or
        ``"fake"``: the metadata does not say which of DFDC's methods made a fake), ``group``,
        ``video_id`` (file stem), ``original`` (stem of the real video a fake was made from;
        None for reals and fakes without one), ``part`` (the part folder's name), ``split`` (the
        metadata's, None when absent) and ``exists`` (whether the video file is on disk).
        ``attrs``: ``dataset="dfdc"``, ``parts``, ``skipped`` (files left out, by reason).

    Raises
    ------
    FileNotFoundError
        When no metadata.json or labels.csv is found.
    ValueError
        For unreadable JSON, an entry without a REAL/FAKE label (0/1 in labels.csv), a labels.csv
        without the columns filename and label, with a short line or a name listed twice,
        naming the file and entry or line; for two case variants of ``metadata.json``,
        ``labels.csv`` or ``videos/`` and no exact name, naming both.
    SkippedFilesError
        With ``strict=True``, see above.

    Warns
    -----
    UserWarning
        When videos named in the metadata (or labels.csv) are missing on disk (or are broken links, or
        unreadable): their rows are kept with ``exists=False`` (drop them with ``m[m.exists]``),
        so that nothing disappears silently; :func:`forensics.load_data` and the command line keep
        them too, and an extraction gives each a row of status ``"error"`` (file not found). When two entries name one file (``b.mp4`` and
        ``./b.mp4`` or ``../dfdc_train_part_0/b.mp4``, a link and its target): both rows are kept,
        in two groups, so the file can sit in both halves of a split.
    SkippedFilesWarning
        Counting the media files under ``root`` that no metadata.json or labels.csv names, by reason.

    Notes
    -----
    **Groups.** ``group`` is the original video: a real video and every fake made from it share
    a group (across parts too), so no fold trains on the source of a test fake; names are
    compared case-insensitively (``"original": "B.MP4"`` joins ``b.mp4``), and an original written
    with its folder (``dfdc_train_part_0/b.mp4``) is that video's name. The metadata has
    no actor id, and DFDC's actors appear in several original videos, so two groups may still
    show the same person; identity-level separation needs DFDC's full release (or a clustering
    of faces).

    References
    ----------
    .. [1] B. Dolhansky, J. Bitton, B. Pflaum, J. Lu, R. Howes, M. Wang, C. C. Ferrer, "The
       DeepFake Detection Challenge (DFDC) Dataset", arXiv:2006.07397, 2020.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> part = pathlib.Path(tempfile.mkdtemp()) / "dfdc_train_part_0"
    >>> part.mkdir()
    >>> meta = {"a.mp4": {"label": "FAKE", "split": "train", "original": "b.mp4"},
    ...         "b.mp4": {"label": "REAL", "split": "train", "original": None},
    ...         "c.mp4": {"label": "REAL", "split": "train"}}
    >>> _ = (part / "metadata.json").write_text(json.dumps(meta))
    >>> for name in meta:
    ...     _ = (part / name).write_bytes(b"")
    >>> m = load_dfdc(part.parent)
    >>> m[["video_id", "label", "method", "group", "exists"]].values.tolist()
    [['a', 1, 'fake', 0, True], ['b', 0, 'real', 0, True], ['c', 0, 'real', 1, True]]
    """
    root = Path(root)
    rows, missing, names = [], [], []
    parts = _parts(root)
    inventory = Inventory(root)
    for part in parts:
        meta_file, meta = _read_entries(part)
        folder = _video_folder(part)
        for name, entry in meta.items():
            label = _LABELS.get(str(entry.get("label", "")).upper()) if isinstance(entry, dict) else None
            if label is None:
                raise ValueError(f"{meta_file}: entry {name!r} is {entry!r}; expected a 'label' of REAL or FAKE"
                                 + (" (or 0 / 1)" if meta_file.name.lower() == _TEST_LABELS else ""))
            path = folder / name
            original = entry.get("original") if label == 1 else None
            if original is not None and not isinstance(original, str):
                raise ValueError(f"{meta_file}: entry {name!r} has the original {original!r}; expected a file name "
                                 f"or null")
            if original:  # a video named with its folder ('dfdc_train_part_0/b.mp4', '.\\b.mp4') is that video
                original = original.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or None
            exists = path.is_file() and inventory.problem(path) is None
            if not exists:
                missing.append(str(path))
            names.append(f"{meta_file.parent.name}/{meta_file.name}: {name!r}")  # as the metadata writes it
            rows.append(dict(path=str(path), label=label, method="fake" if label else "real",
                             video_id=_stem(name), original=_stem(original) if original else None,
                             part=part.name, split=entry.get("split"), exists=exists,
                             # grouped case-insensitively: a metadata naming 'B.MP4' for the file 'b.mp4' (written
                             # on a case-insensitive system) must not split a fake from its original
                             key=(_stem(original) if original else _stem(name)).casefold()))
        for path in inventory.files(folder):
            if path.name not in meta:
                inventory.skip(path, f"not named in its part's {meta_file.name} (unlabelled)")
    if missing:
        warnings.warn(f"{len(missing)} of {len(rows)} videos named in metadata.json or labels.csv are not on disk, "
                      f"or not readable (first: {missing[0]}); their rows have exists=False (extracted, each is a row of "
                      "status 'error', NaN features)" + normalization_note(missing),
                      UserWarning, stacklevel=2)
    # entries naming one file ('b.mp4' and './b.mp4' or '../part/b.mp4'): two rows, and two groups
    paths, on_disk = [r["path"] for r in rows], [r["exists"] for r in rows]
    warn_same_file(f"the DFDC metadata under {root}", pd.Series(paths)[on_disk], stacklevel=2,
                   names=pd.Series(names)[on_disk])
    skipped = inventory.settle(paths, loader="load_dfdc", strict=strict,
                               classify=_classifier(root, parts))
    df = finish(rows, ["video_id", "original", "part", "split", "exists", "key"], "dfdc", group_by="key",
                parts=[p.name for p in parts], skipped=skipped)
    return df.drop(columns="key")
