"""What every data set loader returns: a manifest, and the small helpers the loaders share.

A manifest is a :class:`pandas.DataFrame` with one row per item and at least the columns

``path``
    The file (str), or None for an item that only lives in memory (OpenFake rows).
``label``
    int, fake = 1, real = 0.
``method``
    ``"real"`` for real items, else the manipulation method or the generator's name.
``group``
    int, ``0..G-1``: items that share a group must stay on the same side of a train/test split
    (same person, same source video...). Pass it as ``groups`` to the model-selection helpers.

plus loader-specific columns, and ``df.attrs["dataset"]`` naming the loader.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MANIFEST_COLUMNS", "check_manifest"]

#: The columns every loader's manifest has, in this order, before its own columns.
MANIFEST_COLUMNS = ("path", "label", "method", "group")


def check_manifest(manifest):
    """Check that a DataFrame is a manifest: the common columns, labels in {0, 1}, reals named "real".

    Parameters
    ----------
    manifest : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        The same object, unchanged.

    Raises
    ------
    ValueError
        Naming the first offending row (its index and path).

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"path": ["a.jpg", "b.jpg"], "label": [0, 1], "method": ["real", "swap"], "group": [0, 1]})
    >>> check_manifest(m) is m
    True
    """
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"a manifest is a pandas DataFrame, got {type(manifest).__name__}")
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing}; a manifest has {list(MANIFEST_COLUMNS)}")
    return check_labels(manifest)


def check_labels(manifest):
    """Labels in {0, 1}, and method "real" for reals and only reals; ValueError naming the first bad row."""
    label = manifest["label"].to_numpy()
    bad = np.flatnonzero(~np.isin(label, (0, 1)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"row {i} ({manifest['path'].iloc[i]}): label {label[i]!r} is not 0 (real) or 1 (fake)")
    mismatch = np.flatnonzero((label == 0) != (manifest["method"].to_numpy(dtype=object) == "real"))
    if mismatch.size:
        i = int(mismatch[0])
        raise ValueError(f"row {i} ({manifest['path'].iloc[i]}): label {label[i]} with method "
                         f"{manifest['method'].iloc[i]!r}; reals and only reals have method 'real'")
    return manifest


def natural_key(text):
    """Sort key that orders ``part_2`` before ``part_10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]


def text_encoding(path):
    """How a data set's text file (manifest CSV, DFDC labels.csv, metadata.json, the Celeb-DF list) is decoded.

    ``"utf-16"`` when the file starts with UTF-16's byte-order mark (Excel's "Unicode text", Windows
    PowerShell's ``Out-File``; the mark gives the byte order), else ``"utf-8-sig"`` (UTF-8, a leading
    byte-order mark dropped, as Windows tools write it). No other encoding is guessed: UTF-16 without
    its mark or Windows-1252 is left to fail as UTF-8, naming the file.
    """
    with open(path, "rb") as f:
        head = f.read(2)
    return "utf-16" if head in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def read_text(path):
    """The text of a data set's metadata file (JSON, list, labels.csv), decoded as :func:`text_encoding` says.

    Windows tools often start UTF-8 files with a BOM, which ``json.loads`` refuses and which would
    glue itself to the first field of a list, or write UTF-16 with its BOM. Raises ValueError
    naming the file when it is not text in that encoding, or holds a NUL character (UTF-16 without
    its mark, which reads as UTF-8 with a NUL after each ASCII letter: a DFDC labels.csv so written
    was refused as lacking the columns filename and label, its header shown as ``'f\\x00i\\x00...'``);
    an OSError, e.g. no permission, names it already.
    """
    encoding = text_encoding(path)
    shown = "UTF-16" if encoding == "utf-16" else "UTF-8"
    try:
        text = Path(path).read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not {shown} text ({exc.reason} at byte {exc.start})") from None
    if "\x00" in text:  # UTF-16 without its mark reads as UTF-8 with a NUL after each ASCII letter
        raise ValueError(f"{path} is not {shown} text (a NUL character at character {text.index(chr(0))}: UTF-16 "
                         f"without its byte-order mark?); save it as UTF-8, or as UTF-16 with its byte-order mark")
    return text


def separator_line(line):
    """The separator a first line ``sep=;`` (Excel's separator line, written and read before a CSV's
    header) names, or None when ``line`` is not one."""
    hint = re.fullmatch(r'"?sep=(.)"?,*', line.rstrip("\r\n"))
    return hint.group(1) if hint else None


def find_named(folder, name, *, folder_wanted=False):
    """``folder/name``, else the one entry of ``folder`` named ``name`` in another letter case; None when neither.

    A data set copied through Windows or macOS (file systems that match names case-insensitively)
    may hold ``Metadata.json``, ``Original_Sequences/`` or ``Youtube-real/``. The exact name wins;
    one case variant is taken in its place. Only files (``folder_wanted=False``) or only folders
    count. A ``folder`` that is None, absent or cannot be listed has none.

    Raises
    ------
    ValueError
        When two or more case variants exist and the exact name does not, naming them: which one
        is the data set's cannot be told.
    """
    if folder is None:
        return None
    folder = Path(folder)
    kind = Path.is_dir if folder_wanted else Path.is_file
    exact = folder / name
    if kind(exact):
        return exact
    try:
        twins = sorted(p for p in folder.iterdir()
                       if p.name.casefold() == name.casefold() and p.name != name and kind(p))
    except OSError:
        return None
    if len(twins) > 1:
        raise ValueError(f"{folder}: {' and '.join(repr(p.name) for p in twins)} differ only in letter case and "
                         f"no {name!r} exists: which one is meant cannot be told; keep one")
    return twins[0] if twins else None


def read_json(path):
    """The JSON value of a data set's metadata file (:func:`read_text`), refusing a key given twice.

    ``json.loads`` keeps the last of two equal keys of an object without a word, so a DFDC
    ``metadata.json`` merged by hand that lists ``a.mp4`` as REAL and then as FAKE gave the video
    the second label silently. A key given twice in any object is a ValueError naming the file
    and the key, as is text that is not JSON.
    """
    import json

    def unique(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen[key] = value
        return seen

    try:
        return json.loads(read_text(path), object_pairs_hook=unique)
    except _DuplicateKey as exc:
        raise ValueError(f"{path}: the key {exc.args[0]!r} is given twice in one object (JSON readers keep "
                         f"only one of them: which one is the reader's choice)") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


class _DuplicateKey(Exception):
    pass


#: Manifest columns that hold names (file paths, methods, groups, splits): read as written.
NAME_COLUMNS = ("path", "method", "group", "split", "kind", "crop_path")


#: pandas' default missing-value strings as its documentation lists them (``read_csv``, ``na_values``),
#: for a pandas whose private ``STR_NA_VALUES`` has moved.
_DOCUMENTED_NA_STRINGS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                          "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


def _pandas_na_strings():
    """The strings this pandas reads as missing by default (its own set, else the documented list)."""
    try:
        from pandas._libs.parsers import STR_NA_VALUES  # what this version really uses
    except ImportError:  # pragma: no cover - a pandas that moved it
        return sorted(_DOCUMENTED_NA_STRINGS)
    return sorted(STR_NA_VALUES)


def read_manifest_csv(path, names=NAME_COLUMNS, **kwargs):
    """:func:`pandas.read_csv` where the columns ``names`` keep every value as written.

    pandas reads ``NA``, ``None``, ``null``, ``nan``, ``N/A`` and a dozen other strings
    (``pandas._libs.parsers.STR_NA_VALUES``, the documented list where that moved) as missing in every column, so a file literally
    named ``NA`` became an empty path, and a group or method named ``None`` a missing one. In the
    columns ``names`` only an empty cell is missing; other columns (labels, scores) keep pandas'
    defaults. Parser errors propagate (the callers name the file).

    The file is UTF-8 (a leading byte-order mark dropped), or UTF-16 when it starts with UTF-16's
    byte-order mark (Excel's "Unicode text", Windows PowerShell's ``Out-File``), which said
    "'utf-8' codec can't decode byte 0xff in position 0".
    A first line ``sep=;`` (Excel's separator line, which it writes and reads before the header)
    sets the separator: it was read as the header, and the rows "had more fields than the header".

    The table keeps the file's columns as they are: a data row with more fields than the header
    is a :class:`pandas.errors.ParserError` naming its line (pandas takes the first column of a
    file whose every row has one field more than the header for the row labels, which shifted
    every value one column left: the label read as the path, a third field as the label), and
    so is a column name given twice (pandas would rename the second ``label.1`` and the first
    would be used, whatever the second says).

    Examples
    --------
    >>> import io
    >>> text = "path,label,group,score\\nNA,1,None,NA\\nnull,0,,0.5\\n"
    >>> t = read_manifest_csv(io.StringIO(text))
    >>> t["path"].tolist(), t["group"].isna().tolist(), t["score"].isna().tolist()
    (['NA', 'null'], [False, True], [True, False])
    """
    import csv
    import warnings

    def rewind():
        if hasattr(path, "seek"):  # a file object: read again from its start
            path.seek(0)

    hint = None  # Excel's separator line ('sep=;'), which Excel reads and writes before the header
    if isinstance(path, (str, os.PathLike)):
        if "encoding" not in kwargs and text_encoding(path) == "utf-16":  # with its byte-order mark
            kwargs["encoding"] = "utf-16"
        with open(path, encoding=kwargs.get("encoding") or "utf-8-sig", errors="replace", newline="") as f:
            hint = separator_line(f.readline())
        if hint and "sep" not in kwargs and "skiprows" not in kwargs:
            kwargs.update(sep=hint, skiprows=1)

    header = pd.read_csv(path, nrows=0, **kwargs).columns
    rewind()
    written = pd.read_csv(path, nrows=1, header=None, dtype=str, keep_default_na=False, **kwargs)
    rewind()
    twice = sorted({c for c in written.iloc[0].tolist() if written.iloc[0].tolist().count(c) > 1}) if len(written) else []
    if twice:
        raise pd.errors.ParserError(f"the column(s) {', '.join(map(repr, twice))} appear more than once in the header")
    defaults = _pandas_na_strings()
    na_values = {c: ([""] if c in names else defaults) for c in header}
    dtype = {c: str for c in header if c in names and c != "group"}
    kwargs.setdefault("index_col", False)  # never take a first column for row labels
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        table = pd.read_csv(path, keep_default_na=False, na_values=na_values, dtype=dtype, **kwargs)
    for w in caught:
        if issubclass(w.category, pd.errors.ParserWarning) and "does not match length" in str(w.message):
            line = "a data row"
            if isinstance(path, (str, os.PathLike)):
                with open(path, encoding=kwargs.get("encoding") or "utf-8-sig", newline="") as f:
                    if kwargs.get("skiprows") == 1:
                        f.readline()
                    reader = csv.reader(f, delimiter=kwargs.get("sep", ","))
                    width = len(next(reader, []))
                    # rows that only end with empty fields (a comma after the last value, as some
                    # spreadsheets write) are read right (index_col=False drops them); others are not
                    line = next((f"line {reader.line_num}" for row in reader
                                 if len(row) > width and any(v.strip() for v in row[width:])), None)
                if line is None:
                    continue
            else:
                width = len(header)
            raise pd.errors.ParserError(f"{line} has more fields than the header's {width} (a comma in a name "
                                        f"that is not quoted?)")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return table


def cwd_note(written, base):
    """``""``, or a note for rows whose relative path is absent from the CSV's folder ``base`` but
    names a file from the current folder: paths are read from the CSV's folder (a manifest written
    by a script run elsewhere, ``data/real/a.jpg`` saved as ``data/manifest.csv``, names
    ``data/data/real/a.jpg``). The file found is not read in its place: it is only named."""
    base = Path(base)
    found = [w for w in written if not os.path.isabs(w) and not os.path.lexists(base / w) and os.path.isfile(w)]
    if not found or base.resolve() == Path.cwd().resolve():
        return ""
    return (f"; {len(found)} of them name a file from the current folder {os.getcwd()} (first: {found[0]}), but "
            f"relative paths are read from the manifest's folder {base}: write them relative to it, or absolute")


def spelled_note(written, base):
    """``""``, or a note counting the rows absent from the manifest's folder ``base`` that are written
    as URLs (``https://...``, ``file:///data/a.jpg``) or with a leading ``~``, naming the first:
    relative paths are joined to ``base``, so ``file:///data/a.jpg`` was looked for as
    ``<base>/file:/data/a.jpg`` and ``~/a.jpg`` as ``<base>/~/a.jpg``, with no word of why. The
    file meant is named, never read in their place."""
    from ..media._item import _spelling_reason, path_text

    kinds = {}
    for w in written:
        text = os.fsdecode(w)
        if not (text.startswith("~") or "://" in text):  # (a pattern is named by normalization_note, under base)
            continue
        reason = None if os.path.lexists(Path(base) / text) else _spelling_reason(text)
        if reason is not None:
            reason = reason.removeprefix("file not found; ")
            kinds.setdefault(reason.split(":")[0], []).append((text, reason))
    return "".join(f"; {len(rs)} of them (first: {path_text(rs[0][0])!r}): {rs[0][1]}" for rs in kinds.values())


def normalization_note(paths):
    """``""``, or a note counting the absent ``paths`` for which a look-alike file exists (a name that
    differs only in Unicode normalization, NFC/NFD; Windows separators; both; letter case or trailing
    spaces and dots), one count per kind, and those that are symbolic link loops,
    naming the first of each; appended to "not on disk" warnings."""
    import errno

    from ..media._item import LINK_LOOP, not_found_reason

    reasons = [r for r in (not_found_reason(p) for p in paths if not os.path.lexists(p)) if r != "file not found"]
    kinds = {}  # one count per kind of look-alike (normalization, separators, case...), naming the first
    for r in reasons:
        kinds.setdefault(tuple(k in r for k in ("normalization", "separators", "letter case", "leading spaces",
                                                "spaces or dots")),
                         []).append(r)
    loops = []  # links to themselves, or to each other: there, but with no file at their end
    for p in paths:
        try:
            os.stat(p)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                loops.append(p)
    note = "".join(f"; {len(rs)} of them: {rs[0].removeprefix('file not found; ')}" for rs in kinds.values())
    return note + (f"; {len(loops)} of them: {LINK_LOOP} (first: {loops[0]})" if loops else "")


def same_file_pairs(keys, paths):
    """``[(key of the first, key of a later one)]`` of the ``paths`` (named by ``keys``) that are one
    file (same device and inode); paths that cannot be read are skipped."""
    first, pairs = {}, []
    for k, p in zip(keys, paths):
        try:
            st = os.stat(p)
        except (OSError, TypeError, ValueError):
            continue
        key = (st.st_dev, st.st_ino)
        if key in first:
            pairs.append((first[key], k))
        else:
            first[key] = k
    return pairs


def warn_same_file(source, paths, stacklevel=2, names=None):
    """Warn when rows of the manifest ``source`` name one file (same device and inode: the same path
    twice, ``./a.jpg`` and ``a.jpg``, a link and its target, ``A.jpg`` and ``a.jpg`` on a
    case-insensitive file system), counting them and naming the first pair; ``paths`` is a Series
    (its index gives the row numbers), ``names`` (same index) how the source writes them, when
    the paths would print alike. Paths that cannot be read are left to the caller's check."""
    import warnings

    pairs = same_file_pairs(paths.index, paths)
    if pairs:
        i, j = pairs[0]
        shown = paths if names is None else names
        warnings.warn(f"{len(pairs)} row(s) of {source} name a file that an earlier row names (first: rows {i} and "
                      f"{j}: {shown[i]} and {shown[j]}); the file counts twice, in both halves of a split unless a "
                      f"group column joins them", UserWarning, stacklevel=stacklevel + 1)


def deeper_hint(root, names):
    """``""``, or a note naming the subfolder of ``root`` that holds every one of ``names`` (the data
    set's top folders or files) when ``root`` itself does not: a copy unpacked into a folder of its
    own (``root/Celeb-DF-v2/Celeb-real/``) given its parent. Names are compared case-insensitively."""
    root = Path(root)
    want = {n.lower() for n in names}
    try:
        found = sorted(d for d in root.iterdir() if d.is_dir() and want <= {c.name.lower() for c in d.iterdir()})
    except OSError:
        return ""
    if not found:
        return ""
    return f"; the layout lies one folder deeper, in {found[0]}: pass that folder as root"


def require_dir(path, what):
    """Return ``path`` when it is a directory, else raise FileNotFoundError naming it and ``what``."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} not found: expected {what}")
    return path


def list_named(inventory, folder, pattern, suffix=".mp4"):
    """Media files of ``folder`` (not recursive) with ``suffix`` whose stem fully matches ``pattern``.

    Returns the matching paths and their match objects, in natural order. The suffix is
    matched case-insensitively (``.MP4``). Other media files of the folder are recorded in
    ``inventory`` with their reason: a name that does not follow ``pattern``, or another
    format than ``suffix``.
    """
    regex = re.compile(pattern)
    found = []
    for path in inventory.files(folder):
        if path.suffix.lower() != suffix:
            inventory.skip(path, f"not a {suffix} file (the layout holds {suffix} files)")
            continue
        match = regex.fullmatch(path.stem)
        if match:
            found.append((path, match))
        else:
            inventory.skip(path, f"{suffix} whose name does not follow the data set's naming ({pattern})")
    return found


def finish(rows, extra, dataset, group_by=None, **attrs):
    """Build the manifest DataFrame: common columns, then ``extra``; int labels, groups, ``attrs``."""
    df = pd.DataFrame(rows, columns=["path", "label", "method", *extra], dtype=object)
    # object columns keep None for "no value" on pandas 2 and 3 alike (pandas 3 would infer
    # its str dtype and turn None into NaN); numbers and booleans get their own dtypes back.
    for c in df.columns:
        if len(df) and all(isinstance(v, (bool, np.bool_)) for v in df[c]):
            df[c] = df[c].astype(bool)
        elif len(df) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in df[c]):
            df[c] = df[c].astype(np.int64)
    df["label"] = df["label"].astype(np.int64)
    if group_by is not None:
        from ..model_selection._splits import groups_from_manifest

        group = groups_from_manifest(df, group_by) if len(df) else np.zeros(0, np.int64)
        df.insert(3, "group", np.asarray(group, dtype=np.int64))
    df.attrs["dataset"] = dataset
    df.attrs.update(attrs)
    return df
