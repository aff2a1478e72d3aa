"""The DeepFake Detection Challenge training set (Dolhansky et al., 2020): parts with metadata.json."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ._manifest import finish, natural_key

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


def load_dfdc(root):
    """Manifest of DFDC training videos from the ``metadata.json`` of each part.

    Layout: ``root`` is one part, or holds parts (any subfolder with a ``metadata.json``)::

        dfdc_train_part_0/metadata.json
        dfdc_train_part_0/aaqaifqrwn.mp4 ...
        dfdc_train_part_1/...

    where ``metadata.json`` maps each file name to
    ``{"label": "FAKE" | "REAL", "split": "train", "original": "xyz.mp4" | null}``.
    Labels come from the metadata only. Files not named in a metadata.json (other videos, the
    zip's extra files) are ignored, with a warning counting the ``.mp4`` among them.

    Parameters
    ----------
    root : str or Path

    Returns
    -------
    pandas.DataFrame
        One row per metadata entry, parts in natural order (part_2 before part_10), entries in
        file order. Columns ``path``, ``label`` (fake = 1), ``method`` (``"real"`` or
        ``"fake"``: the metadata does not say which of DFDC's methods made a fake), ``group``,
        ``video_id`` (file stem), ``original`` (stem of the real video a fake was made from;
        None for reals and fakes without one), ``part`` (the part folder's name), ``split`` (the
        metadata's, None when absent) and ``exists`` (whether the video file is on disk).
        ``attrs``: ``dataset="dfdc"``, ``parts``.

    Raises
    ------
    FileNotFoundError
        When no metadata.json is found.
    ValueError
        For unreadable JSON or an entry without a REAL/FAKE label, naming the file and entry.

    Warns
    -----
    UserWarning
        When videos named in the metadata are missing on disk: their rows are kept with
        ``exists=False`` (drop them with ``m[m.exists]``), so that nothing disappears silently.

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
    rows, unlisted, missing = [], [], []
    parts = _parts(root)
    for part in parts:
        meta_file = part / "metadata.json"
        try:
            meta = json.loads(meta_file.read_text())
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
            exists = path.is_file()
            if not exists:
                missing.append(str(path))
            rows.append(dict(path=str(path), label=label, method="fake" if label else "real",
                             video_id=_stem(name), original=_stem(original) if original else None,
                             part=part.name, split=entry.get("split"), exists=exists,
                             key=_stem(original) if original else _stem(name)))
        names = set(meta)
        unlisted += [p for p in part.glob("*.mp4") if p.name not in names]
    if missing:
        warnings.warn(f"{len(missing)} of {len(rows)} videos named in metadata.json are not on disk "
                      f"(first: {missing[0]}); their rows have exists=False", UserWarning, stacklevel=2)
    if unlisted:
        warnings.warn(f"ignored {len(unlisted)} .mp4 file(s) that no metadata.json names "
                      f"(first: {unlisted[0]})", UserWarning, stacklevel=2)
    df = finish(rows, ["video_id", "original", "part", "split", "exists", "key"], "dfdc", group_by="key",
                parts=[p.name for p in parts])
    return df.drop(columns="key")
