"""The DeepFake Detection Challenge training set (Dolhansky et al., 2020): parts with metadata.json."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ._inventory import Inventory
from ._manifest import finish, natural_key, normalization_note, read_text

__all__ = ["load_dfdc"]

_LABELS = {"REAL": 0, "FAKE": 1}


def _parts(root):
    """The part folders: ``root`` itself when it holds metadata.json, else its subfolders that do."""
    if (root / "metadata.json").is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} not found: expected a DFDC part folder or a folder of parts")
    parts = sorted((p for p in root.iterdir() if p.is_dir() and (p / "metadata.json").is_file()),
                   key=lambda p: natural_key(p.name))
    if not parts:
        raise FileNotFoundError(f"{root} has no metadata.json, and no subfolder (dfdc_train_part_N/) holds one")
    return parts


def _stem(name):
    return name[:-4] if name.lower().endswith(".mp4") else name


def _classifier(root, parts):
    names = {p.name for p in parts}
    single = parts == [root]

    def classify(_, rel):
        if single or len(rel) != 2:
            return "outside the layout (not directly in a part folder)", False
        if rel[0] not in names:
            return "in a folder without metadata.json (unlabelled)", False
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
    Labels come from the metadata only. Media files that no metadata.json names (a part
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
        When no metadata.json is found.
    ValueError
        For unreadable JSON or an entry without a REAL/FAKE label, naming the file and entry.
    SkippedFilesError
        With ``strict=True``, see above.

    Warns
    -----
    UserWarning
        When videos named in the metadata are missing on disk (or are broken links, or
        unreadable): their rows are kept with ``exists=False`` (drop them with ``m[m.exists]``),
        so that nothing disappears silently.
    SkippedFilesWarning
        Counting the media files under ``root`` that no metadata.json names, by reason.

    Notes
    -----
    **Groups.** ``group`` is the original video: a real video and every fake made from it share
    a group (across parts too), so no fold trains on the source of a test fake. The metadata has
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
    rows, missing = [], []
    parts = _parts(root)
    inventory = Inventory(root)
    for part in parts:
        meta_file = part / "metadata.json"
        text = read_text(meta_file)
        try:
            meta = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{meta_file} is not valid JSON: {exc}") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{meta_file}: expected an object mapping file names to entries")
        for name, entry in meta.items():
            label = _LABELS.get(str(entry.get("label", "")).upper()) if isinstance(entry, dict) else None
            if label is None:
                raise ValueError(f"{meta_file}: entry {name!r} is {entry!r}; expected a 'label' of REAL or FAKE")
            path = part / name
            original = entry.get("original") if label == 1 else None
            exists = path.is_file() and inventory.problem(path) is None
            if not exists:
                missing.append(str(path))
            rows.append(dict(path=str(path), label=label, method="fake" if label else "real",
                             video_id=_stem(name), original=_stem(original) if original else None,
                             part=part.name, split=entry.get("split"), exists=exists,
                             key=_stem(original) if original else _stem(name)))
        for path in inventory.files(part):
            if path.name not in meta:
                inventory.skip(path, "not named in its part's metadata.json (unlabelled)")
    if missing:
        warnings.warn(f"{len(missing)} of {len(rows)} videos named in metadata.json are not on disk, or not "
                      f"readable (first: {missing[0]}); their rows have exists=False" + normalization_note(missing),
                      UserWarning, stacklevel=2)
    skipped = inventory.settle([r["path"] for r in rows], loader="load_dfdc", strict=strict,
                               classify=_classifier(root, parts))
    df = finish(rows, ["video_id", "original", "part", "split", "exists", "key"], "dfdc", group_by="key",
                parts=[p.name for p in parts], skipped=skipped)
    return df.drop(columns="key")
