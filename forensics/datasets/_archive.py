"""Checking and extracting ZIP archives of data sets without trusting them.

Data sets arrive as archives from strangers. A hostile (or broken) archive can write outside
the target folder (``../evil``, ``/etc/x``, ``C:\\x``, a symlink then a file through it), fill
the disk (a zip bomb: a few kB that inflate to terabytes), or shadow one file with another of
the same name. :func:`validate_zip` refuses all of these from the central directory, before
anything is decompressed; :func:`safe_extract_zip` extracts only an archive that passed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["UnsafeArchiveError", "ZipReport", "safe_extract_zip", "validate_zip"]

_CHUNK = 1 << 20
_LIMITS = {"max_files": 100_000, "max_total_bytes": 50 * 2**30, "max_ratio": 200, "ratio_min_bytes": 2**20}
_SPECIAL = (stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK)


class UnsafeArchiveError(ValueError):
    """An archive refused by :func:`validate_zip` or :func:`safe_extract_zip`.

    Attributes
    ----------
    archive : str
        Path of the archive.
    entry : str or None
        Name of the offending entry as stored in the archive (None when the archive as a whole is
        at fault, e.g. not a ZIP file).
    reason : str
        What is wrong, without the archive and entry prefix.
    """

    def __init__(self, archive, entry, reason):
        self.archive = str(archive)
        self.entry = entry
        self.reason = reason
        where = f"{archive}" + (f", entry {entry!r}" if entry is not None else "")
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        return (type(self), (self.archive, self.entry, self.reason))


@dataclass
class ZipReport:
    """What :func:`validate_zip` found in an archive that passed every check.

    Attributes
    ----------
    path : str
        The archive.
    files : list of str
        Normalised relative paths of the file entries, in archive order.
    n_dirs : int
        Number of directory entries.
    total_bytes : int
        Sum of the uncompressed sizes of the files.
    compressed_bytes : int
        Sum of their compressed sizes.
    sha256 : dict of str to str
        Content hash of each file (empty when ``hash_contents=False``).
    duplicate_content : list of list of str
        Groups of (non-empty) files with identical content, each sorted by archive order.
    warnings : list of str
        Human-readable notes that are not errors: duplicate content, names that differ only in
        case (they collide on case-insensitive file systems).
    """

    path: str
    files: list = field(default_factory=list)
    n_dirs: int = 0
    total_bytes: int = 0
    compressed_bytes: int = 0
    sha256: dict = field(default_factory=dict)
    duplicate_content: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def ratio(self):
        """Overall compression ratio, uncompressed / compressed bytes."""
        return self.total_bytes / max(self.compressed_bytes, 1)


def _unicode_path_field(extra, raw):
    """The UTF-8 name of an Info-ZIP Unicode Path extra field (0x7075) that belongs to ``raw``, or None.

    The field (version 1) carries the CRC-32 of the header's name: a name changed by a tool that
    left the field as it was no longer matches it, and the field is then ignored (APPNOTE 4.6.9).
    """
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4:pos + 4 + size]
        if tag == 0x7075 and len(body) >= 5 and body[0] == 1 and struct.unpack_from("<I", body, 1)[0] == zlib.crc32(raw):
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                return None
        pos += 4 + size
    return None


def _entry_name(info):
    """``(name, how)``: the entry's name as its writer wrote it, and how it was read when not by the flag.

    A name whose UTF-8 flag (general purpose bit 11) is unset is cp437 by the ZIP standard, and
    zipfile decodes it so; but many tools write UTF-8 names without setting the flag, which cp437
    turns into other characters (``café.jpg`` -> ``caf├⌐.jpg``), extracted under that name, so
    that a manifest naming ``café.jpg`` found no file. Such a name is read from the Info-ZIP
    Unicode Path extra field when one matches it, else as UTF-8 when it is valid UTF-8 (a name
    really in cp437 is almost never so: its accented letters are single bytes above 127, which
    UTF-8 never has alone); other non-ASCII names stay cp437 (``how`` says so).
    """
    if info.flag_bits & 0x800:
        return info.filename, None
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:  # pragma: no cover - zipfile decoded it with cp437, which covers every byte
        return info.filename, None
    if raw.isascii():
        return info.filename, None
    field = _unicode_path_field(info.extra, raw)
    if field is not None:
        return field, "unicode-path"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return info.filename, "cp437"


def _normalise(archive, info):
    """The entry's relative POSIX path, or raise: absolute, drive letter, ``..``, control chars."""
    raw = info.filename
    name = raw.replace("\\", "/")
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        raise UnsafeArchiveError(archive, raw, "empty name or control character in the name")
    if name.startswith("/"):
        raise UnsafeArchiveError(archive, raw, "absolute path")
    if re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(archive, raw, "path with a drive letter")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(archive, raw, "'..' in the path (would escape the target folder)")
    if not parts:
        raise UnsafeArchiveError(archive, raw, "name resolves to the target folder itself")
    return "/".join(parts)


def _read_checked(archive, zf, info, sink):
    """Stream an entry into ``sink(chunk)``; refuse more bytes than declared; decoder errors wrapped.

    Whatever the zipfile module or a decompressor raises while reading (bad CRC, bad local
    header, corrupt deflate/bzip2/LZMA data, an unsupported method...) becomes an
    :class:`UnsafeArchiveError`; an error of ``sink`` (a full disk) propagates unchanged.
    """
    n = 0
    try:
        src = zf.open(info)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a malformed archive
        raise UnsafeArchiveError(archive, info.filename, f"cannot be read ({_describe(exc)})") from None
    with src:
        while True:
            try:
                chunk = src.read(_CHUNK)
            except Exception as exc:  # noqa: BLE001
                raise UnsafeArchiveError(archive, info.filename, f"cannot be read ({_describe(exc)})") from None
            if not chunk:
                break
            n += len(chunk)
            if n > info.file_size:
                raise UnsafeArchiveError(archive, info.filename, "more data than its declared size")
            sink(chunk)
    if n != info.file_size:
        raise UnsafeArchiveError(archive, info.filename, f"{n} bytes instead of the declared {info.file_size}")


def _describe(exc):
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check(path, max_files, max_total_bytes, max_ratio, ratio_min_bytes):
    """Run the header checks; return (zipfile infos of files, relative names, report)."""
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found") from None
    except Exception as exc:  # noqa: BLE001 - BadZipFile, but also UnicodeDecodeError (a name flagged
        # UTF-8 that is not), NotImplementedError (a version zipfile does not know), ValueError...
        raise UnsafeArchiveError(path, None, f"not a readable ZIP archive ({_describe(exc)})") from None
    infos = zf.infolist()
    report = ZipReport(path=str(path))
    if len(infos) > max_files:
        raise UnsafeArchiveError(path, infos[max_files].filename,
                                 f"more than max_files={max_files} entries ({len(infos)})")
    seen, folded, files = {}, {}, []
    read_as = {}  # how names without the UTF-8 flag were read: [(name, cp437 reading)]
    for info in infos:
        name, how = _entry_name(info)
        if how is not None:
            read_as.setdefault(how, []).append((name, info.filename))
            info.filename = name  # (zipfile checks the local header against orig_filename, unchanged)
        rel = _normalise(path, info)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind in _SPECIAL:
            what = "symbolic link" if kind == stat.S_IFLNK else "special file (device, FIFO or socket)"
            raise UnsafeArchiveError(path, info.filename, f"{what}; only regular files and folders are accepted")
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(path, info.filename, "encrypted entry")
        if rel in seen:
            raise UnsafeArchiveError(path, info.filename, f"duplicate name (same path as entry {seen[rel]!r})")
        seen[rel] = info.filename
        low = unicodedata.normalize("NFC", rel).casefold()
        if low in folded:
            how = ("case" if unicodedata.normalize("NFC", folded[low][1]) != unicodedata.normalize("NFC", rel)
                   else "Unicode normalization (NFC/NFD: they print alike)")
            report.warnings.append(f"{info.filename!r} and {folded[low][0]!r} differ only in {how}: they collide "
                                   f"on case-insensitive file systems" if how == "case" else
                                   f"{info.filename!r} and {folded[low][0]!r} differ only in {how}: they collide on "
                                   f"macOS file systems, and a list naming one form finds only that one")
        folded.setdefault(low, (info.filename, rel))
        if info.is_dir():
            report.n_dirs += 1
            continue
        report.total_bytes += info.file_size
        report.compressed_bytes += info.compress_size
        if report.total_bytes > max_total_bytes:
            raise UnsafeArchiveError(path, info.filename,
                                     f"total uncompressed size exceeds max_total_bytes={max_total_bytes}")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= ratio_min_bytes and ratio > max_ratio:
            raise UnsafeArchiveError(path, info.filename, f"compression ratio {ratio:.0f} exceeds max_ratio="
                                     f"{max_ratio} ({info.file_size} bytes from {info.compress_size}): zip bomb?")
        files.append((info, rel))
    if report.total_bytes >= ratio_min_bytes and report.ratio > max_ratio:
        worst = max(files, key=lambda f: f[0].file_size / max(f[0].compress_size, 1))[0]
        raise UnsafeArchiveError(path, worst.filename, f"overall compression ratio {report.ratio:.0f} exceeds "
                                 f"max_ratio={max_ratio} (this entry is the most compressed): zip bomb?")
    names = {rel for _, rel in files}
    for info, rel in files:  # a file used as a folder by another entry: "a" and "a/b"
        parent = rel.rsplit("/", 1)[0] if "/" in rel else None
        while parent:
            if parent in names:
                raise UnsafeArchiveError(path, info.filename, f"its folder {parent!r} is also a file entry")
            parent = parent.rsplit("/", 1)[0] if "/" in parent else None
    # (a folder entry "a/" and a file "a" normalise to the same path: refused above as a duplicate name)
    report.files = [rel for _, rel in files]
    if "utf-8" in read_as:
        (name, cp437), n = read_as["utf-8"][0], len(read_as["utf-8"])
        report.warnings.append(f"{n} entry name(s) are UTF-8 without the archive's UTF-8 flag, read as UTF-8 (first: "
                               f"{name!r}, which the ZIP standard's cp437 would read {cp437!r})")
    if "cp437" in read_as:
        (name, _), n = read_as["cp437"][0], len(read_as["cp437"])
        report.warnings.append(f"{n} entry name(s) are not ASCII, not UTF-8 and carry no UTF-8 flag: read as cp437, "
                               f"the ZIP standard's encoding (first: {name!r}); if the archive was written in another "
                               f"code page (a Windows system's), these names are not the ones its writer saw")
    return zf, files, report


def validate_zip(path, *, max_files=100_000, max_total_bytes=50 * 2**30, max_ratio=200,
                 ratio_min_bytes=2**20, hash_contents=True):
    """Check a ZIP archive against path traversal, links, zip bombs and name clashes.

    Every check on names, types and sizes is made on the central directory, before anything is
    decompressed; then (``hash_contents=True``) each file is streamed once to hash it, refusing
    any entry that inflates past its declared size or fails its CRC.

    Parameters
    ----------
    path : str or Path
        The archive.
    max_files : int, default=100_000
        Most entries (files and folders) accepted.
    max_total_bytes : int, default=50 GiB
        Most total uncompressed bytes accepted.
    max_ratio : float, default=200
        Highest compression ratio (uncompressed / compressed) accepted, per entry and overall.
        Deflate reaches about 1000 on runs of zeros; real media (JPEG, PNG, MP4) hardly
        compresses at all, text about 3-10.
    ratio_min_bytes : int, default=1 MiB
        The ratio limit applies to entries (and archives) of at least this many uncompressed
        bytes: a small file cannot fill a disk, and tiny text files often exceed ratio 200.
    hash_contents : bool, default=True
        Hash every file (SHA-256) to report duplicate contents; False skips the decompression.

    Returns
    -------
    ZipReport
        Files, sizes, hashes, and warnings (duplicate contents, case-only name clashes, names
        without the UTF-8 flag read as UTF-8 or left as cp437: see :func:`_entry_name`).

    Raises
    ------
    UnsafeArchiveError
        A ValueError naming the archive and the offending entry, for: an absolute path, a drive
        letter, a ``..`` component, a control character in a name; a symbolic link or other
        special file (from the Unix mode in ``external_attr``); an encrypted entry; a duplicate
        name (after normalising ``\\`` to ``/`` and dropping ``.`` and empty components); a
        file that is also used as a folder; more than ``max_files`` entries; more than
        ``max_total_bytes`` in total; a compression ratio above ``max_ratio``; an entry that
        cannot be read (bad CRC, bad local header, corrupt deflate/bzip2/LZMA data, an
        unsupported compression method) or holds more data than declared; a file that is no
        ZIP or whose central directory cannot be parsed (truncated, a name flagged UTF-8 that
        is not, a version zipfile does not read, a corrupt ZIP64 field). No other exception
        type escapes for a malformed archive.
    FileNotFoundError
        When ``path`` does not exist.

    Examples
    --------
    >>> import io, tempfile, pathlib, zipfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.zip"
    >>> with zipfile.ZipFile(path, "w") as zf:
    ...     zf.writestr("real/a.jpg", b"same")
    ...     zf.writestr("fake/b.jpg", b"same")
    >>> report = validate_zip(path)
    >>> report.files, report.duplicate_content
    (['real/a.jpg', 'fake/b.jpg'], [['real/a.jpg', 'fake/b.jpg']])
    >>> with zipfile.ZipFile(path, "w") as zf:
    ...     zf.writestr("../evil.sh", b"rm -rf ~")
    >>> validate_zip(path)
    Traceback (most recent call last):
    ...
    forensics.datasets._archive.UnsafeArchiveError: ...'..' in the path (would escape the target folder)
    """
    zf, files, report = _check(path, max_files, max_total_bytes, max_ratio, ratio_min_bytes)
    with zf:
        if hash_contents:
            by_hash = {}
            for info, rel in files:
                h = hashlib.sha256()
                _read_checked(path, zf, info, h.update)
                report.sha256[rel] = digest = h.hexdigest()
                if info.file_size:
                    by_hash.setdefault(digest, []).append(rel)
            report.duplicate_content = [names for names in by_hash.values() if len(names) > 1]
            for names in report.duplicate_content:
                report.warnings.append(f"{len(names)} files have identical content: {', '.join(names)}")
    return report


def _no_links_below(target, rel):
    """Refuse when an existing component of ``target/rel`` (below ``target``) is a link or a file."""
    current = target
    parts = rel.split("/")
    for k, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            raise FileExistsError(f"{current} is a symbolic link; refusing to write through it")
        if k < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            raise FileExistsError(f"{current} exists and is not a folder")


def _new_folder(parent, prefix):
    """A fresh folder in ``parent``, created with the process's default mode (unlike mkdtemp's 0700)."""
    while True:
        path = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue


def _make_parents(folder):
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    created = []
    current = Path(folder)
    while not os.path.lexists(current):
        created.append(current)
        current = current.parent
    for path in reversed(created):
        os.mkdir(path)
    return created


_NAME_ERRNOS = {errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL}


def _write_entries(path, zf, entries, dir_entries, staging):
    """Write the files and folder entries under ``staging``; a name the file system refuses is the archive's fault."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    for info, rel in entries:
        dest = staging.joinpath(*rel.split("/"))
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(dest, flags, 0o666)
        except OSError as exc:
            if exc.errno in _NAME_ERRNOS:
                raise UnsafeArchiveError(path, info.filename, f"name cannot be written here ({exc.strerror})") from None
            raise
        with os.fdopen(fd, "wb") as out:
            _read_checked(path, zf, info, out.write)
    for info, rel in dir_entries:
        try:
            staging.joinpath(*rel.split("/")).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno in _NAME_ERRNOS:
                raise UnsafeArchiveError(path, info.filename, f"name cannot be written here ({exc.strerror})") from None
            raise


def safe_extract_zip(path, target, **limits):
    """Validate a ZIP archive, then extract its files into ``target`` without trusting it.

    The archive must pass the checks of :func:`validate_zip` (same ``limits``; contents are not
    hashed). Every file is first written into a fresh hidden staging folder, each opened with
    ``O_EXCL | O_NOFOLLOW`` and streamed with its declared size enforced; only when all of them
    were written does anything appear in ``target``. When ``target`` does not exist, the staging
    folder is made beside it (same parent, so the same file system) and renamed to ``target``
    at the end; when it exists, the staging folder is made inside it and the files are moved
    into place. On any error the staging folder is removed, folders the call created (``target``
    and its missing parents included) are removed, and files already moved are taken back:
    a failed extraction leaves no empty or partial ``target`` behind. Nothing from the archive
    sets permissions: files get the process's default (read/write, no execute bit, no setuid),
    and timestamps are not restored. Existing files are never overwritten, and an existing
    symbolic link in ``target`` on the way to a file is refused.

    Parameters
    ----------
    path : str or Path
        The archive.
    target : str or Path
        Folder to extract into (created when absent, with its parents).
    **limits
        ``max_files``, ``max_total_bytes``, ``max_ratio``, ``ratio_min_bytes``: see
        :func:`validate_zip`.

    Returns
    -------
    list of Path
        The extracted files (``target / relative path``), in archive order. Folders are created
        as needed, including empty folder entries, and are not listed.

    Raises
    ------
    UnsafeArchiveError
        For every reason of :func:`validate_zip`, and for an entry name the file system refuses
        (too long, invalid bytes).
    FileExistsError
        When a file to write already exists in ``target``, ``target`` is a file, or a link or
        file is in the way.
    FileNotFoundError
        When ``path`` does not exist.
    OSError
        For a failure of the disk itself (full, no permission), after the same clean-up.

    Notes
    -----
    The checks guard against hostile archives, not against another process changing ``target``
    while the extraction runs (the final moves are plain renames).

    Examples
    --------
    >>> import tempfile, pathlib, zipfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> with zipfile.ZipFile(tmp / "data.zip", "w") as zf:
    ...     zf.writestr("real/a.jpg", b"jpeg bytes")
    >>> [p.relative_to(tmp).as_posix() for p in safe_extract_zip(tmp / "data.zip", tmp / "out")]
    ['out/real/a.jpg']
    """
    unknown = sorted(set(limits) - set(_LIMITS))
    if unknown:
        raise TypeError(f"unknown limit(s) {unknown}; known: {', '.join(_LIMITS)}")
    # One open archive for the checks and the extraction: what was checked is what is written.
    zf, entries, _ = _check(path, **{**_LIMITS, **limits})
    target = Path(target)
    with zf:
        dir_entries = [(info, _normalise(path, info)) for info in zf.infolist() if info.is_dir()]
        if os.path.lexists(target) and not target.is_dir():
            raise FileExistsError(f"{target} exists and is not a folder; cannot extract {path} into it")
        existed = target.is_dir()
        if existed:
            for rel in [rel for _, rel in entries + dir_entries]:
                _no_links_below(target, rel)
            for _, rel in entries:
                if os.path.lexists(target / rel):
                    raise FileExistsError(f"{target / rel} already exists; refusing to overwrite it from {path}")
        created, moved, made_dirs, staging = [], [], [], None
        try:
            created = _make_parents(target.parent)
            staging = _new_folder(target if existed else target.parent, f".{target.name}.extract-")
            _write_entries(path, zf, entries, dir_entries, staging)
            if not existed:
                if os.path.lexists(target):
                    raise FileExistsError(f"{target} appeared during the extraction; leaving it alone")
                os.rename(staging, target)
                staging = None
                return [target.joinpath(*rel.split("/")) for _, rel in entries]
            for _, rel in dir_entries:
                _no_links_below(target, rel)
                made_dirs += _make_parents(target.joinpath(*rel.split("/")))
            written = []
            for _, rel in entries:
                _no_links_below(target, rel)
                dest = target.joinpath(*rel.split("/"))
                made_dirs += _make_parents(dest.parent)
                if os.path.lexists(dest):
                    raise FileExistsError(f"{dest} appeared during the extraction; refusing to overwrite it")
                os.replace(staging.joinpath(*rel.split("/")), dest)
                moved.append(dest)
                written.append(dest)
            return written
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
                staging = None
            for dest in moved:  # take back what was moved into an existing target
                try:
                    os.unlink(dest)
                except OSError:
                    pass
            for folder in sorted(made_dirs, key=lambda d: len(d.parts), reverse=True) + created:
                try:
                    os.rmdir(folder)
                except OSError:
                    pass
            raise
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
