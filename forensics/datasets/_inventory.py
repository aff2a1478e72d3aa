"""Every media file under a data set's root, and an account of those a loader leaves out.

A loader must never make data vanish without a word. Each loader lists the folders of its
layout through an :class:`Inventory` (one walk of the root, one policy for links, case and
unreadable files), records why it left a file out, and calls :meth:`Inventory.settle`: every
media file under the root is then either in the manifest or counted, by reason, in one
:class:`SkippedFilesWarning`, and ``strict=True`` turns the data-losing reasons into a
:class:`SkippedFilesError`.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from pathlib import Path

from ..media._item import LINK_LOOP
from ._manifest import natural_key

__all__ = ["IMAGE_SUFFIXES", "MEDIA_SUFFIXES", "VIDEO_SUFFIXES", "Inventory", "SkippedFilesError",
           "SkippedFilesWarning"]

#: Image suffixes the folder loader lists by default (matched case-insensitively).
#: Every format the item decoder reads (:data:`forensics.media.IMAGE_FORMATS`) is listed.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm",
                  ".pnm", ".avif", ".mpo")
#: Video suffixes the folder loader lists by default (matched case-insensitively): the containers of
#: the videos met in practice that FFmpeg reads (MP4/MOV family, Matroska/WebM, AVI, MPEG-PS (.mpg, .vob),
#: MPEG-TS (.ts, .mts and .m2ts camcorder and Blu-ray files), FLV, ASF (.wmv), MXF).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".3gp", ".mpg", ".mpeg", ".vob", ".ts", ".mts",
                  ".m2ts", ".flv", ".wmv", ".mxf")
#: Every suffix recognised as a media file when accounting for the files a loader leaves out
#: (case-insensitive): the listed formats plus image formats no decoder here reads.
MEDIA_SUFFIXES = IMAGE_SUFFIXES + VIDEO_SUFFIXES + (".heic", ".heif", ".jxl", ".jp2")

BROKEN_LINK = "broken symbolic link"
NOT_REGULAR = "not a regular file (FIFO, device or socket)"
UNREADABLE = "unreadable (no read permission)"
UNLISTABLE = "folder that cannot be listed (its files are unknown)"
HIDDEN = "hidden (name or folder starting with '.', or __MACOSX)"
UNDECODABLE = ("name that is not valid text in the file system's encoding (undecodable bytes, e.g. Latin-1 "
               "from an old archive): a manifest table cannot hold it; rename the file")
LOOP = "link back to a folder that holds it (a loop, not followed)"
TRAILING = ("name ending in spaces or dots after its suffix ('a.jpg ', 'a.jpg.'): the suffix is not recognised "
            "and Windows cannot hold the name; rename the file")
#: Reasons that lose no data: ``strict=True`` still only warns about them.
_HARMLESS = {HIDDEN, LOOP}
_EXAMPLES = 3


class SkippedFilesWarning(UserWarning):
    """Media files under a loader's root that are not in its manifest, counted by reason."""


class SkippedFilesError(ValueError):
    """Raised by a loader called with ``strict=True`` when media files under its root would be left out.

    Attributes
    ----------
    loader : str
        The loader's name (``"load_dfdc"``...).
    skipped : dict of str to list of str
        Each reason that loses data, with the paths it left out (the paths as found under the
        root, links not resolved).
    """

    def __init__(self, loader, skipped, message):
        self.loader = loader
        self.skipped = skipped
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.loader, self.skipped, str(self)))


def _is_text(name):
    """False for a file name holding undecodable bytes (lone surrogates in Python's str)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def require_text_path(path, what):
    """Raise ValueError when ``path`` (a data set's folder, a manifest) holds bytes that are not valid text.

    A Latin-1 folder name on a UTF-8 system (Python holds its bytes as lone surrogates) is in
    every file's path under it, which no manifest table can hold: pandas 3 and pyarrow raised a bare
    ``UnicodeEncodeError`` naming no path, after the walk. A file name so made is counted among
    the skipped files; the folder that holds them all is refused at once, named with its bytes escaped.
    """
    text = os.fspath(path)
    if not _is_text(text):
        raise ValueError(f"{_shown(text)}: the {what}'s path holds bytes that are not valid text in the file system's "
                         f"encoding (shown escaped, e.g. Latin-1 from an old archive): a manifest table cannot hold "
                         f"the paths under it; rename it")


def trailing_suffix(name):
    """The suffix of ``name`` once trailing spaces and dots are dropped (``'a.JPG. '`` -> ``'.jpg'``),
    or ``""`` when it has none of either (Windows drops them; Linux keeps them in the name)."""
    stripped = name.rstrip(" .")
    return os.path.splitext(stripped)[1].lower() if stripped != name else ""


def _shown(text):
    """``text`` printable and encodable: undecodable bytes of a file name as backslash escapes
    (:func:`forensics.media.path_text`, as item errors name such files)."""
    from ..media._item import path_text

    return path_text(text)


def _norm(path):
    return os.path.normpath(os.path.abspath(os.fspath(path)))


class Inventory:
    """The media files under one or more roots, found in one walk with one policy.

    Policy: names are matched to :data:`MEDIA_SUFFIXES` case-insensitively (``.MP4`` is a
    video). Links are followed, and what they reach is listed under the link's own path (as
    a loader would label it there): a link to a file is a file, a link to a folder is a
    folder, except a link back to a folder that holds it (a loop), recorded as :data:`LOOP`
    and not followed. A file reachable by two paths is two paths. A broken link, a media name that is no regular file, a
    file without read permission and a folder that cannot be listed are never listed; they
    are recorded with their reason. Files in hidden folders (``.x/``, ``__MACOSX/``) or with a
    hidden name (``._x.jpg``, macOS resource forks) are recorded as :data:`HIDDEN`.

    Parameters
    ----------
    *roots : str or Path
        Folders to walk (they must exist).
    suffixes : tuple of str
        Suffixes counted as media (lower case).
    """

    def __init__(self, *roots, suffixes=MEDIA_SUFFIXES):
        self.roots = [Path(r) for r in roots]
        for root in self.roots:
            require_text_path(root, "folder")
        self.suffixes = tuple(s.lower() for s in suffixes)
        self._files = {}     # folder (normalised) -> [Path], natural order
        self._problems = {}  # normalised path -> (Path, reason)
        self._reasons = {}   # normalised path -> (reason, harmless): a loader's own account
        for root in self.roots:
            self._walk(root)

    def _walk(self, root):
        st = os.stat(root)
        stack = [(root, False, False, frozenset({(st.st_dev, st.st_ino)}))]
        while stack:
            folder, hidden, undecodable, above = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: natural_key(e.name))
            except OSError:
                self._problems[_norm(folder)] = (folder, UNLISTABLE)
                continue
            files = []
            for entry in entries:
                path = folder / entry.name
                name_hidden = hidden or entry.name.startswith(".") or entry.name == "__MACOSX"
                name_undecodable = undecodable or not _is_text(entry.name)
                try:
                    is_dir = entry.is_dir()  # follows links
                except OSError:
                    is_dir = False
                if is_dir:
                    try:
                        st = os.stat(path)
                    except OSError:
                        self._problems[_norm(path)] = (path, UNLISTABLE)
                        continue
                    key = (st.st_dev, st.st_ino)
                    if key in above:
                        self._problems[_norm(path)] = (path, LOOP)
                    else:
                        stack.append((path, name_hidden, name_undecodable, above | {key}))
                    continue
                if os.path.splitext(entry.name)[1].lower() not in self.suffixes:
                    if trailing_suffix(entry.name) in self.suffixes:  # media, its suffix masked: never silent
                        self._problems[_norm(path)] = (path, HIDDEN if name_hidden else TRAILING)
                    continue
                reason = self._file_problem(path)
                if reason is None and name_hidden:
                    reason = HIDDEN
                if reason is None and name_undecodable:
                    reason = UNDECODABLE
                if reason is None:
                    files.append(path)
                else:
                    self._problems[_norm(path)] = (path, reason)
            self._files[_norm(folder)] = files

    @staticmethod
    def _file_problem(path):
        try:
            st = os.stat(path)  # follows links
        except FileNotFoundError:
            return BROKEN_LINK if os.path.islink(path) else UNREADABLE
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a link to itself, or links to each other: not "broken"
                return LINK_LOOP
            return BROKEN_LINK if os.path.islink(path) else UNREADABLE
        if not stat.S_ISREG(st.st_mode):
            return NOT_REGULAR
        if not os.access(path, os.R_OK):
            return UNREADABLE
        return None

    def files(self, folder, suffixes=None):
        """The listable media files directly in ``folder`` (natural order), optionally by suffix.

        A folder that was not walked (absent, outside the roots) has none.
        """
        found = self._files.get(_norm(folder), [])
        if suffixes is None:
            return list(found)
        suffixes = tuple(s.lower() for s in suffixes)
        return [p for p in found if p.suffix.lower() in suffixes]

    def files_below(self, folder, suffixes=None):
        """The listable media files in ``folder`` and all its subfolders, sorted by path."""
        top = _norm(folder)
        out = []
        for key in self._files:
            if key == top or key.startswith(top + os.sep):
                out += self.files(key, suffixes)
        return sorted(out, key=lambda p: natural_key(str(p)))

    def problems_below(self, folder):
        """``(path, reason)`` of every file or folder in ``folder`` and below that could not be listed."""
        top = _norm(folder)
        return [(path, reason) for key, (path, reason) in self._problems.items()
                if key == top or key.startswith(top + os.sep)]

    def problem(self, path):
        """The reason ``path`` could not be listed (broken link, unreadable...), or None."""
        found = self._problems.get(_norm(path))
        return None if found is None else found[1]

    def skip(self, path, reason, *, harmless=False):
        """Record that the loader leaves ``path`` out, and why.

        ``harmless=True`` marks a reason that loses no data (a file the caller's own
        parameters exclude): ``strict=True`` does not raise for it.
        """
        self._reasons[_norm(path)] = (reason, harmless)

    def _root_of(self, path):
        for root in self.roots:
            try:
                return root, Path(path).relative_to(root)
            except ValueError:
                continue
        return None, Path(path)

    def settle(self, listed, *, loader, strict=False, classify=None, stacklevel=3, what="are not in the manifest"):
        """Account for every media file not in ``listed``: warn (or raise) by reason.

        Parameters
        ----------
        listed : iterable of path-like
            The paths the manifest holds (None entries are ignored).
        loader : str
            Name used in the messages.
        strict : bool
            Raise :class:`SkippedFilesError` when a reason that loses data applies.
        classify : callable or None
            ``classify(root, rel)`` for a media file the loader neither listed nor gave a reason
            for: ``(reason, harmless)`` or None for the default, "outside the layout".
        what : str
            How the warning says the files were left out.

        Returns
        -------
        dict of str to int
            Number of files per reason (empty when nothing was left out).
        """
        listed = {_norm(p) for p in listed if p is not None}
        groups = {}  # reason -> (harmless, [Path])

        def add(path, reason, harmless):
            groups.setdefault(reason, (harmless, []))[1].append(path)

        for files in self._files.values():
            for path in files:
                key = _norm(path)
                if key in listed:
                    continue
                if key in self._reasons:
                    add(path, *self._reasons[key])
                    continue
                root, rel = self._root_of(path)
                found = classify(root, rel.parts) if classify is not None else None
                add(path, *(found or ("outside the data set's layout (no label)", False)))
        for key, (path, reason) in self._problems.items():
            if key not in listed:
                add(path, reason, reason in _HARMLESS)
        if not groups:
            return {}
        lost = {r: v for r, v in groups.items() if not v[0]}
        if strict and lost:
            message = self._message(loader, lost, "would be left out of the manifest (strict=True)")
            raise SkippedFilesError(loader, {r: [str(p) for p in v[1]] for r, v in lost.items()}, message)
        hint = "; pass strict=True (the command line's --strict) to make this an error" if lost else ""
        warnings.warn(self._message(loader, groups, what) + hint, SkippedFilesWarning,
                      stacklevel=stacklevel)
        return {r: len(v[1]) for r, v in groups.items()}

    def _message(self, loader, groups, what):
        total = sum(len(v[1]) for v in groups.values())
        where = ", ".join(_shown(str(r)) for r in self.roots)
        parts = []
        for reason, (_, paths) in sorted(groups.items(), key=lambda kv: -len(kv[1][1])):
            shown = []
            for p in paths[:_EXAMPLES]:
                root, rel = self._root_of(p)
                text = _shown(rel.as_posix() if root is not None else str(p))
                shown.append(repr(text) if text.endswith((" ", ".")) else text)  # trailing spaces made visible
            more = ", ..." if len(paths) > _EXAMPLES else ""
            parts.append(f"{len(paths)} {reason} (e.g. {', '.join(shown)}{more})")
        return f"{loader}: {total} media file(s) under {where} {what}: " + "; ".join(parts)
