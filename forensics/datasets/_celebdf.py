"""Celeb-DF v2 (Li et al., CVPR 2020): celebrity videos and their DeepFake face swaps."""

from __future__ import annotations

import posixpath
import warnings
from pathlib import Path

from ._inventory import Inventory
from ._manifest import deeper_hint, find_named, finish, list_named, read_text

__all__ = ["load_celebdf"]

_FOLDERS = {  # folder -> (label, naming pattern of the video stem)
    "Celeb-real": (0, r"(id\d+)_(\d+)"),
    "YouTube-real": (0, r"\d+"),
    "Celeb-synthesis": (1, r"(id\d+)_(id\d+)_(\d+)"),
}
_TEST_LIST = "List_of_testing_videos.txt"


def _find_folder(root, name):
    """``root/name``, else its one case variant (``Youtube-real`` is common; :func:`find_named`, which
    refuses two case variants and no exact name, naming both)."""
    found = find_named(root, name, folder_wanted=True)
    if found is not None:
        return found
    raise FileNotFoundError(f"{root / name} not found: Celeb-DF needs the folders {', '.join(_FOLDERS)} "
                            f"(and {_TEST_LIST}) directly under {root}" + deeper_hint(root, [name]))


def _read_test_list(file):
    """``{"Folder/name.mp4": label}`` with the list's own convention (1 = real, 0 = fake).

    A name is read as the path it writes: Windows separators, a leading ``./`` and the folder in
    another letter case (``youtube-real/00170.mp4``) name the video the official spelling names
    (such an entry was reported as not on disk and its video, a test video, given the split
    ``"train"``). A video listed twice with both digits (real on one line, fake on another) is
    refused naming both lines: only the last digit was checked against the video's folder, so the
    contradiction of a list read with the wrong convention could vanish.
    """
    listed, line_of = {}, {}
    for lineno, line in enumerate(read_text(file).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise ValueError(f"{file}, line {lineno}: {line!r}; expected '<1 real | 0 fake> <folder>/<video>.mp4'")
        name = posixpath.normpath(parts[1].replace("\\", "/"))  # 'YouTube-real\\x.mp4', './YouTube-real/x.mp4'
        if name.lower().endswith(".mp4"):  # the list says .mp4; a copy may hold .MP4
            name = name[:-4] + ".mp4"
        folder, sep, rest = name.partition("/")
        # the folder in another letter case ('youtube-real/...') names the same folder, as on disk
        name = next((f for f in _FOLDERS if f.lower() == folder.lower()), folder) + sep + rest
        if listed.setdefault(name, int(parts[0])) != int(parts[0]):
            raise ValueError(f"{file}, line {lineno}: {name} is listed with {parts[0]}, and with {listed[name]} on "
                             f"line {line_of[name]} (1 = real, 0 = fake in this file): which one holds cannot be told")
        line_of.setdefault(name, lineno)
    return listed


def _classifier(folders):
    def classify(_, rel):
        if len(rel) > 2 and rel[0] in folders:
            return f"in a subfolder of {rel[0]}/ (the layout has the videos directly in it)", False
        return None

    return classify


def load_celebdf(root, *, strict=False):
    """Manifest of Celeb-DF (v2) videos and its official test list.

    Layout under ``root``::

        Celeb-real/id0_0000.mp4          real: celebrity id0, video 0000
        YouTube-real/00000.mp4           real: other YouTube videos (no identity given)
        Celeb-synthesis/id0_id16_0000.mp4  fake: video id0_0000 with the face of id16
        List_of_testing_videos.txt       lines "1 YouTube-real/00170.mp4" (1 = real, 0 = fake)

    Only ``.mp4`` files (any case: ``.MP4``) directly in the three folders are read. Every other
    media file under ``root`` (an ``.mp4`` whose name does not follow the naming above, another
    format, a file in a subfolder or in another folder, a broken link...) is counted, by
    reason, in a :class:`SkippedFilesWarning`; files that are not media are ignored. Folder
    names, and the test list's, are matched case-insensitively when the exact one is absent
    (some copies have ``Youtube-real``), as :func:`load_dfdc` reads its files: the exact name wins
    (a case variant beside it is not read, and its videos are counted outside the layout), and two
    case variants with no exact name are refused naming both. The test list is UTF-8 (a leading
    byte-order mark dropped), or UTF-16 when it starts with UTF-16's byte-order mark (as Windows
    tools write it), decoded as manifest CSVs are.

    Parameters
    ----------
    root : str or Path
        The folder holding ``Celeb-real/``, ``Celeb-synthesis/`` and ``YouTube-real/``.
    strict : bool, default=False
        Raise :class:`SkippedFilesError` instead of warning when a media file under ``root``
        would be left out for a reason that loses data. Hidden files are only warned about.

    Returns
    -------
    pandas.DataFrame
        One row per video, ordered Celeb-real, YouTube-real, Celeb-synthesis, then by name.
        Columns ``path``, ``label`` (fake = 1), ``method`` (``"real"`` or
        ``"Celeb-synthesis"``), ``group``, ``video_id`` (file stem), ``target_id`` (the
        celebrity whose video it is, ``"id0"``; None for YouTube-real), ``source_id`` (the
        celebrity whose face was swapped in, fakes only), ``original`` (the real video a fake
        was made from, ``"id0_0000"``; None for reals), ``folder`` and ``split`` (``"test"`` for
        the videos in the test list, else ``"train"``; all None without the list or with an
        empty one).
        ``attrs``: ``dataset="celebdf"``, ``skipped`` (files left out, by reason).

    Raises
    ------
    FileNotFoundError
        Naming the missing folder.
    ValueError
        For a malformed test-list line, a list that is not UTF-8 text (or UTF-16 after its
        byte-order mark), a listed label that contradicts the video's folder, a video listed with
        both digits (naming both lines), or two case variants of a folder or of the list and no
        exact name (naming both).
    SkippedFilesError
        With ``strict=True``, see above.

    Warns
    -----
    UserWarning
        When ``List_of_testing_videos.txt`` is absent or lists no video (``split`` is then None), or lists videos
        that are not on disk (counted; they get no row).
    SkippedFilesWarning
        Counting the media files under ``root`` that are not listed, by reason.

    Notes
    -----
    **Label inversion.** In ``List_of_testing_videos.txt`` the digit is 1 for a *real* video
    and 0 for a fake, the opposite of this library's fake = 1. The manifest's ``label`` comes
    from the folder (``Celeb-synthesis`` = 1); the list's digit is only checked against it
    (1 - digit must equal the label), so a swapped list raises instead of flipping labels.

    **Groups.** ``group`` joins the identities: ``id0_id16_0000`` links id0 and id16, so all
    videos of id0 and of id16 (real or fake) share a group, transitively. Every celebrity is
    swapped with several others, so the Celeb videos may collapse into few large groups; use
    the official ``split`` for a standard evaluation. Each YouTube-real video has no known
    identity and is its own group.

    References
    ----------
    .. [1] Y. Li, X. Yang, P. Sun, H. Qi, S. Lyu, "Celeb-DF: A Large-scale Challenging Dataset
       for DeepFake Forensics", CVPR 2020. https://doi.org/10.1109/CVPR42600.2020.00327

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for rel in ["Celeb-real/id0_0000.mp4", "Celeb-real/id16_0001.mp4", "Celeb-real/id3_0000.mp4",
    ...             "YouTube-real/00000.mp4", "Celeb-synthesis/id0_id16_0000.mp4"]:
    ...     (root / rel).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (root / rel).write_bytes(b"")
    >>> _ = (root / "List_of_testing_videos.txt").write_text("0 Celeb-synthesis/id0_id16_0000.mp4\\n")
    >>> m = load_celebdf(root)
    >>> m["video_id"].tolist()
    ['id0_0000', 'id3_0000', 'id16_0001', '00000', 'id0_id16_0000']
    >>> m["label"].tolist(), m["group"].tolist()  # id0 and id16 linked by the swap
    ([0, 0, 0, 0, 1], [0, 1, 0, 2, 0])
    >>> m["split"].tolist()
    ['train', 'train', 'train', 'train', 'test']
    """
    root = Path(root)
    rows = []
    folders = {name: _find_folder(root, name) for name in _FOLDERS}
    inventory = Inventory(root)
    for name, (label, pattern) in _FOLDERS.items():
        folder = folders[name]
        for path, match in list_named(inventory, folder, pattern):
            if name == "Celeb-real":
                target, source, original = match.group(1), None, None
            elif name == "YouTube-real":
                target, source, original = None, None, None
            else:
                target, source = match.group(1), match.group(2)
                original = f"{target}_{match.group(3)}"
            rows.append(dict(path=str(path), label=label, method="real" if label == 0 else name,
                             video_id=path.stem, target_id=target, source_id=source, original=original,
                             folder=name, key=f"{name}/{path.stem}.mp4"))

    test_file = find_named(root, _TEST_LIST) or root / _TEST_LIST  # or 'list_of_testing_videos.txt'
    listed = _read_test_list(test_file) if test_file.is_file() else None
    if listed:
        seen = set()
        for row in rows:
            digit = listed.get(row["key"])
            if digit is not None and 1 - digit != row["label"]:
                raise ValueError(f"{test_file}: {row['key']} is listed with {digit} (1 = real, 0 = fake in "
                                 f"this file) but its folder makes it {'fake' if row['label'] else 'real'}")
            row["split"] = "train" if digit is None else "test"
            seen.add(row["key"])
        absent = [k for k in listed if k not in seen]
        if absent:
            warnings.warn(f"{len(absent)} video(s) of {test_file} are not on disk (first: {absent[0]}); "
                          f"they have no row", UserWarning, stacklevel=2)
    else:  # without the list (or with an empty one) no video can be called a training video
        why = "not found" if listed is None else "lists no video (an empty copy?)"
        warnings.warn(f"{test_file} {why}: split is None for every video", UserWarning, stacklevel=2)
        for row in rows:
            row["split"] = None
    for row in rows:
        del row["key"]
    skipped = inventory.settle([r["path"] for r in rows], loader="load_celebdf", strict=strict,
                               classify=_classifier({f.name for f in folders.values()}))
    columns = ["video_id", "target_id", "source_id", "original", "folder", "split"]
    return finish(rows, columns, "celebdf", group_by=["target_id", "source_id"], skipped=skipped)
