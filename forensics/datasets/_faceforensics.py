"""FaceForensics++ (Rössler et al., ICCV 2019): the layout written by its download script."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ._manifest import finish, list_named, require_dir

__all__ = ["FFPP_METHODS", "load_faceforensics"]

#: The manipulation methods of the FaceForensics++ benchmark (youtube sequences, 1000 videos each).
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")

_DFD = "DeepFakeDetection"
_COMPRESSIONS = {"c0": ("raw", "c0"), "raw": ("raw", "c0"), "c23": ("c23",), "c40": ("c40",)}
_SPLITS = ("train", "val", "test")


def _videos_dir(base, compression):
    """``base/<comp>/videos``; c0 is stored as ``raw/`` by the download script (``c0/`` accepted)."""
    for name in _COMPRESSIONS[compression]:
        folder = base / name / "videos"
        if folder.is_dir():
            return folder
    return None


def _read_splits(folder):
    """Map each id pair (frozenset) to its split, from the official train/val/test.json."""
    pairs = {}
    for split in _SPLITS:
        file = folder / f"{split}.json"
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found: the official split folder needs "
                                    f"{', '.join(s + '.json' for s in _SPLITS)}")
        try:
            entries = json.loads(file.read_text())
        except ValueError as exc:
            raise ValueError(f"{file} is not valid JSON: {exc}") from None
        for k, pair in enumerate(entries):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(i, str) for i in pair)):
                raise ValueError(f"{file}: entry {k} is {pair!r}; expected a [target, source] pair of id strings")
            key = frozenset(pair)
            if pairs.setdefault(key, split) != split:
                raise ValueError(f"{file}: pair {pair} is also in {pairs[key]}.json")
    return pairs


def load_faceforensics(root, *, compression="c23", methods=None, splits_dir=None):
    """Manifest of FaceForensics++ videos (the layout of the official download script).

    Layout under ``root`` (``<comp>`` is ``c23``, ``c40``, or ``raw`` for c0)::

        original_sequences/youtube/<comp>/videos/000.mp4 ... 999.mp4
        manipulated_sequences/<Method>/<comp>/videos/000_003.mp4 ...
        splits/train.json, val.json, test.json          (optional, see splits_dir)

    and, for DeepFakeDetection (only when asked for in ``methods``)::

        original_sequences/actors/<comp>/videos/01__exit_phone_room.mp4
        manipulated_sequences/DeepFakeDetection/<comp>/videos/01_02__exit_phone_room__YVGY8LOK.mp4

    A manipulated video ``000_003`` replaces (or reenacts) the face in target video ``000`` using
    source video ``003``. Only ``.mp4`` files in the ``videos/`` folders are read; masks, models,
    extracted images and other files are ignored, and ``.mp4`` files whose name does not follow
    the naming above are ignored with a warning that counts them.

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
        For an unknown compression or method, or a malformed split file.

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
    if methods is None:
        methods = [m for m in FFPP_METHODS if _videos_dir(root / "manipulated_sequences" / m, comp)]
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
    rows = []
    subsets = ["youtube"] + (["actors"] if _DFD in methods else [])
    for subset in subsets:
        base = root / "original_sequences" / subset
        folder = _videos_dir(base, comp) or require_dir(base / sub / "videos", f"the real {subset} videos")
        pattern = r"\d{3}" if subset == "youtube" else r"(\d{2})__\S+"
        for path, match in list_named(folder, pattern):
            vid = path.stem
            ident = vid if subset == "youtube" else match.group(1)
            rows.append(dict(path=str(path), label=0, method="real", video_id=vid, target_id=ident,
                             source_id=None, subset=subset))
    for method in methods:
        base = root / "manipulated_sequences" / method
        folder = _videos_dir(base, comp) or require_dir(base / sub / "videos", f"the {method} videos")
        subset = "actors" if method == _DFD else "youtube"
        pattern = r"(\d{3})_(\d{3})" if subset == "youtube" else r"(\d{2})_(\d{2})__\S+"
        for path, match in list_named(folder, pattern):
            rows.append(dict(path=str(path), label=1, method=method, video_id=path.stem,
                             target_id=match.group(1), source_id=match.group(2), subset=subset))

    if splits_dir is not None:
        split_of_pair = _read_splits(require_dir(splits_dir, "the official split folder (train/val/test.json)"))
    elif (root / "splits").is_dir():
        split_of_pair = _read_splits(root / "splits")
    else:
        split_of_pair = None
    unsplit = 0
    if split_of_pair is not None:
        split_of_id = {i: s for pair, s in split_of_pair.items() for i in pair}
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
    columns = ["video_id", "target_id", "source_id", "subset", "compression", "split"]
    return finish(rows, columns, "faceforensics", group_by=["target_id", "source_id"],
                  methods=list(methods), compression=comp)
