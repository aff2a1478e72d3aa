"""FaceForensics++ (Rössler et al., ICCV 2019): the layout written by its download script."""

from __future__ import annotations

import warnings
from pathlib import Path

from ._inventory import Inventory
from ._manifest import deeper_hint, find_named, finish, list_named, read_json, require_dir

__all__ = ["FFPP_METHODS", "load_faceforensics"]

#: The manipulation methods of the FaceForensics++ benchmark (youtube sequences, 1000 videos each).
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")

_DFD = "DeepFakeDetection"
_COMPRESSIONS = {"c0": ("raw", "c0"), "raw": ("raw", "c0"), "c23": ("c23",), "c40": ("c40",)}
_SPLITS = ("train", "val", "test")


def _folder(parent, *names):
    """``parent/names[0]/names[1]/...``, each name matched as written, else in its one other letter case
    (``Original_Sequences/``, ``C23/``: a copy made through Windows or macOS; :func:`find_named`, which
    refuses two case variants and no exact name); None when one is absent."""
    for name in names:
        parent = find_named(parent, name, folder_wanted=True)
    return parent


def _videos_dir(base, compression):
    """``base/<comp>/videos``; c0 is stored as ``raw/`` by the download script (``c0/`` accepted)."""
    for name in _COMPRESSIONS[compression]:
        folder = _folder(base, name, "videos")
        if folder is not None:
            return folder
    return None


def _read_splits(folder):
    """Map each id pair (frozenset) to its split, from the official train/val/test.json."""
    pairs = {}
    for split in _SPLITS:
        file = find_named(folder, f"{split}.json")  # or 'Train.json'
        if file is None:
            raise FileNotFoundError(f"{folder / f'{split}.json'} not found: the official split folder needs "
                                    f"{', '.join(s + '.json' for s in _SPLITS)}")
        entries = read_json(file)
        for k, pair in enumerate(entries):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(i, str) for i in pair)):
                raise ValueError(f"{file}: entry {k} is {pair!r}; expected a [target, source] pair of id strings")
            key = frozenset(pair)
            if pairs.setdefault(key, split) != split:
                raise ValueError(f"{file}: pair {pair} is also in {pairs[key]}.json")
    return pairs


_COMP_OF_FOLDER = {"raw": "c0", "c0": "c0", "c23": "c23", "c40": "c40"}
_AUXILIARY = {"masks": "mask video", "images": "extracted frame (images/ folder)"}


def _classifier(comp, methods, subsets, read, tops):
    """Why a media file under the FF++ root is not in the manifest (see load_faceforensics).

    ``tops`` maps the top folders read (as spelled on disk) to their canonical names, ``read`` holds
    the ``videos/`` folders read (their parts under the root, as spelled on disk). Names below the
    top folders are compared case-insensitively (``Deepfakes/C23/`` is c23 Deepfakes)."""
    known = {m.casefold(): m for m in set(FFPP_METHODS) | {_DFD}}

    def classify(_, rel):
        if len(rel) < 4 or rel[0] not in tops:
            return None
        top, name, sub = tops[rel[0]], rel[1], rel[2].casefold()
        if top == "original_sequences":
            if name.casefold() not in ("youtube", "actors"):
                return f"in an unknown original subset folder {name}/", False
            name = name.casefold()
        elif name.casefold() not in known:
            return f"in an unknown method folder {name}/ (known: {', '.join(sorted(known.values()))})", False
        else:
            name = known[name.casefold()]
        if sub in _AUXILIARY:
            return f"{_AUXILIARY[sub]} (not a detection input)", True
        if rel[3].casefold() == "images":
            return _AUXILIARY["images"] + " (not a detection input)", True
        if sub not in _COMP_OF_FOLDER or rel[3].casefold() != "videos" or len(rel) != 5:
            return None
        if _COMP_OF_FOLDER[sub] != comp:  # first: with methods=None, a method without a folder for comp
            return f"compression {_COMP_OF_FOLDER[sub]} not selected (compression=)", True  # is left out for this
        if top == "manipulated_sequences" and name not in methods:
            return f"method {name} not selected (methods=)", True
        if top == "original_sequences" and name not in subsets:
            return f"original {name} videos not selected (they come with methods=[{_DFD!r}])", True
        if tuple(rel[:4]) not in read:
            return (f"{comp} videos also stored in {'/'.join(rel[:4])}/, which was not read (another folder for "
                    f"{comp} was, or one in the exact letter case)"), False
        return None

    return classify


def load_faceforensics(root, *, compression="c23", methods=None, splits_dir=None, strict=False):
    """Manifest of FaceForensics++ videos (the layout of the official download script).

    Layout under ``root`` (``<comp>`` is ``c23``, ``c40``, or ``raw`` for c0)::

        original_sequences/youtube/<comp>/videos/000.mp4 ... 999.mp4
        manipulated_sequences/<Method>/<comp>/videos/000_003.mp4 ...
        splits/train.json, val.json, test.json          (optional, see splits_dir)

    and, for DeepFakeDetection (only when asked for in ``methods``)::

        original_sequences/actors/<comp>/videos/01__exit_phone_room.mp4
        manipulated_sequences/DeepFakeDetection/<comp>/videos/01_02__exit_phone_room__YVGY8LOK.mp4

    A manipulated video ``000_003`` replaces (or reenacts) the face in target video ``000`` using
    source video ``003``. Only ``.mp4`` files (any case: ``.MP4``) in the ``videos/`` folders
    are read. Every other media file under ``root`` is counted, by reason, in one
    :class:`SkippedFilesWarning`: videos of another compression or of a method not selected,
    mask videos and extracted frames (these lose no data), and, losing data, ``.mp4`` files
    whose name does not follow the naming above, other formats, unknown method folders, files
    outside the layout, broken links and unreadable files. Files that are not media (models,
    JSON, notes) are ignored.

    Folder and file names are matched as written, else in another letter case (a copy made
    through Windows or macOS: ``Original_Sequences/``, ``Manipulated_Sequences/Deepfakes/C23/videos/``,
    ``Splits/Train.json``), as :func:`load_dfdc` reads its files: the exact name wins (a case
    variant beside it is not read, and its videos are counted), and two case variants of one name
    with no exact one are refused naming both. ``method`` and ``subset`` keep their canonical
    names; ``path`` is as on disk.

    Parameters
    ----------
    root : str or Path
        The folder holding ``original_sequences/`` and ``manipulated_sequences/``.
    compression : {"c23", "c40", "c0", "raw"}, default="c23"
        H.264 constant-rate factor of the videos; ``"raw"`` is an alias of ``"c0"``, which the
        download script stores in ``raw/`` folders (``c0/`` folders are accepted too).
    methods : list of str or None, default=None
        Manipulation methods to include. None: those of :data:`FFPP_METHODS` (Deepfakes,
        Face2Face, FaceSwap, NeuralTextures, FaceShifter) whose folder exists, at least one.
        A method named here must exist. ``"DeepFakeDetection"`` (Google/Jigsaw's actor videos)
        is never included by default, since it is a different data set with other identities and
        no official split; naming it also adds the real ``actors`` videos.
    strict : bool, default=False
        Raise :class:`SkippedFilesError` instead of warning when a media file under ``root``
        would be left out for a reason that loses data. Videos excluded by ``compression`` or
        ``methods``, mask videos, extracted frames and hidden files are only warned about.
    splits_dir : str or Path or None, default=None
        Folder holding the official ``train.json``, ``val.json`` and ``test.json`` (lists of
        ``[target, source]`` id pairs, from the FaceForensics GitHub repository). None:
        ``root/splits`` when it exists, else no split (column ``split`` all None).

    Returns
    -------
    pandas.DataFrame
        One row per video: the originals (youtube, then actors) then each method, by name.
        Columns ``path``, ``label`` (fake = 1), ``method`` (``"real"`` or the method folder
        name), ``group``, ``video_id`` (``"000"``, ``"000_003"``), ``target_id``, ``source_id``
        (for an original its id and None), ``subset`` (``"youtube"`` or ``"actors"``),
        ``compression`` (``"c0"``, ``"c23"`` or ``"c40"``) and ``split`` (``"train"``, ``"val"``,
        ``"test"`` or None). ``attrs``: ``dataset="faceforensics"``, ``methods``, ``compression``.

    Raises
    ------
    FileNotFoundError
        Naming the missing folder (originals, a requested method) or split file.
    ValueError
        For an unknown compression or method, a malformed split file, or two names of the layout
        that differ only in letter case where the exact name is absent (naming both).
    SkippedFilesError
        With ``strict=True``, see above.

    Warns
    -----
    UserWarning
        When youtube videos are in no pair of the official split files.
    SkippedFilesWarning
        Counting the media files under ``root`` that are not listed, by reason.

    Notes
    -----
    **Groups.** ``group`` is the connected component of the identities: the fake ``000_003``
    links ids ``000`` and ``003``, so the originals ``000`` and ``003``, ``000_003`` and
    ``003_000`` (for every method) share one group, and a cross-validation split that keeps groups
    together never trains on a person's face and tests on a fake made from it. In FF++ each id
    is paired with exactly one other, so the youtube groups are pairs of videos. Ids name videos,
    not people: a few people (news anchors, politicians) appear in several youtube videos, which
    nothing in the data set records. The actors of DeepFakeDetection are swapped with many
    others and usually form a single group.

    **Splits.** The official split has 360/70/70 (train/val/test) pairs, i.e. 720/140/140
    original videos. A manipulated video ``a_b`` takes the split of the pair ``[a, b]`` (or
    ``[b, a]``), an original that of the pair containing its id. Videos whose ids are in no
    pair, and all DeepFakeDetection / actors videos, get None, with a warning counting the
    youtube ones.

    References
    ----------
    .. [1] A. Rössler, D. Cozzolino, L. Verdoliva, C. Riess, J. Thies, M. Nießner,
       "FaceForensics++: Learning to Detect Manipulated Facial Images", ICCV 2019.
       https://doi.org/10.1109/ICCV.2019.00009

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for rel in ["original_sequences/youtube/c23/videos/000.mp4",
    ...             "original_sequences/youtube/c23/videos/003.mp4",
    ...             "original_sequences/youtube/c23/videos/001.mp4",
    ...             "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4"]:
    ...     (root / rel).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (root / rel).write_bytes(b"")
    >>> m = load_faceforensics(root)
    >>> m[["video_id", "label", "method", "group"]].values.tolist()
    [['000', 0, 'real', 0], ['001', 0, 'real', 1], ['003', 0, 'real', 0], ['000_003', 1, 'Deepfakes', 0]]
    """
    root = Path(root)
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be one of {sorted(_COMPRESSIONS)}, got {compression!r}")
    comp = "c0" if compression == "raw" else compression
    known = FFPP_METHODS + (_DFD,)
    tops = {t: _folder(root, t) for t in ("original_sequences", "manipulated_sequences")}
    if tops["manipulated_sequences"] is None and tops["original_sequences"] is None:
        raise FileNotFoundError(f"{root} has neither manipulated_sequences/ nor original_sequences/ (the official "
                                f"download script's layout)"
                                + deeper_hint(root, ["manipulated_sequences", "original_sequences"]))
    if methods is None:
        methods = [m for m in FFPP_METHODS if _videos_dir(_folder(tops["manipulated_sequences"], m), comp)]
        if not methods:
            raise FileNotFoundError(
                f"{root / 'manipulated_sequences'}: found no <Method>/{_COMPRESSIONS[comp][0]}/videos folder "
                f"for any of {', '.join(FFPP_METHODS)}")
    else:
        methods = [methods] if isinstance(methods, str) else list(methods)
        unknown = [m for m in methods if m not in known]
        if unknown:
            raise ValueError(f"unknown FaceForensics++ method {unknown[0]!r}; known: {', '.join(known)}")
        methods = [m for m in known if m in methods]  # canonical order, no repeats

    sub = _COMPRESSIONS[comp][0]
    rows, read = [], set()
    inventory = Inventory(root)
    subsets = ["youtube"] + (["actors"] if _DFD in methods else [])
    for subset in subsets:
        base = _folder(tops["original_sequences"], subset)
        folder = _videos_dir(base, comp) or require_dir(
            (base or (tops["original_sequences"] or root / "original_sequences") / subset) / sub / "videos",
            f"the real {subset} videos")
        read.add(folder.relative_to(root).parts)
        pattern = r"\d{3}" if subset == "youtube" else r"(\d{2})__\S+"
        for path, match in list_named(inventory, folder, pattern):
            vid = path.stem
            ident = vid if subset == "youtube" else match.group(1)
            rows.append(dict(path=str(path), label=0, method="real", video_id=vid, target_id=ident,
                             source_id=None, subset=subset))
    for method in methods:
        base = _folder(tops["manipulated_sequences"], method)
        folder = _videos_dir(base, comp) or require_dir(
            (base or (tops["manipulated_sequences"] or root / "manipulated_sequences") / method) / sub / "videos",
            f"the {method} videos")
        read.add(folder.relative_to(root).parts)
        subset = "actors" if method == _DFD else "youtube"
        pattern = r"(\d{3})_(\d{3})" if subset == "youtube" else r"(\d{2})_(\d{2})__\S+"
        for path, match in list_named(inventory, folder, pattern):
            rows.append(dict(path=str(path), label=1, method=method, video_id=path.stem,
                             target_id=match.group(1), source_id=match.group(2), subset=subset))

    if splits_dir is not None:
        split_of_pair = _read_splits(require_dir(splits_dir, "the official split folder (train/val/test.json)"))
    elif _folder(root, "splits") is not None:  # or 'Splits/'
        split_of_pair = _read_splits(_folder(root, "splits"))
    else:
        split_of_pair = None
    unsplit = 0
    if split_of_pair is not None:
        split_of_id = {}
        for pair, s in split_of_pair.items():
            for i in sorted(pair):
                if split_of_id.setdefault(i, (s, pair))[0] != s:  # the original would take the last one silently
                    other, where = split_of_id[i]
                    raise ValueError(f"the split files put video {i} in {other} (pair {sorted(where)}) and in {s} "
                                     f"(pair {sorted(pair)}): its original video cannot take one split")
        split_of_id = {i: s for i, (s, _) in split_of_id.items()}
        for row in rows:
            if row["subset"] != "youtube":
                row["split"] = None
                continue
            if row["label"] == 0:
                row["split"] = split_of_id.get(row["target_id"])
            else:
                row["split"] = split_of_pair.get(frozenset((row["target_id"], row["source_id"])))
            unsplit += row["split"] is None
    if unsplit:
        warnings.warn(f"{unsplit} youtube video(s) are in no pair of the official split files: split None",
                      UserWarning, stacklevel=2)
    for row in rows:
        row["compression"] = comp
        row.setdefault("split", None)
    skipped = inventory.settle([r["path"] for r in rows], loader="load_faceforensics", strict=strict,
                               classify=_classifier(comp, set(methods), set(subsets), read,
                                                    {f.name: t for t, f in tops.items() if f is not None}))
    columns = ["video_id", "target_id", "source_id", "subset", "compression", "split"]
    return finish(rows, columns, "faceforensics", group_by=["target_id", "source_id"],
                  methods=list(methods), compression=comp, skipped=skipped)
