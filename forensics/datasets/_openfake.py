"""OpenFake (Livernoche et al., 2025): real and generated images in Parquet shards."""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import numpy as np

from ._inventory import MEDIA_SUFFIXES, Inventory, require_text_path
from ._manifest import finish

__all__ = ["load_openfake"]

_IMAGE_NAMES = ("image", "img", "image_bytes", "jpg", "png", "bytes")
_LABEL_NAMES = ("label", "labels", "is_fake", "class", "target")
_MODEL_NAMES = ("model", "generator", "model_name", "generator_name", "source_model")
_PROMPT_NAMES = ("prompt", "caption", "text")
_STRING_LABELS = {"real": 0, "fake": 1}


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("load_openfake reads Parquet with pyarrow, which is not installed: "
                          "pip install pyarrow") from None
    return pyarrow, pyarrow.parquet


def _shards(path_or_paths):
    """The shard files, and the inventory of the folders given (None when only files were given)."""
    if isinstance(path_or_paths, (str, os.PathLike)):
        path_or_paths = [path_or_paths]
    shards, folders = [], []
    for p in map(Path, path_or_paths):
        if p.is_dir():
            folders.append(p)
            shards.append(p)  # a placeholder, replaced by the folder's shards below
        elif p.is_file():
            require_text_path(p, "shard")  # pyarrow cannot open it, nor a table hold its name
            shards.append(p)
        else:
            raise FileNotFoundError(f"{p} not found: expected an OpenFake .parquet shard or a folder of shards")
    if not shards:
        raise ValueError("no shard given")
    inventory = Inventory(*folders, suffixes=MEDIA_SUFFIXES + (".parquet",)) if folders else None
    out = []
    for p in shards:
        if p not in folders:
            out.append(p)
            continue
        found = inventory.files_below(p, suffixes=(".parquet",))
        if not found:
            raise FileNotFoundError(f"{p} holds no .parquet file")
        out += found
    return out, inventory


_SHARD_NAME = re.compile(r"^(?P<stem>.+)-(?P<index>\d+)-of-(?P<count>\d+)\.parquet$", re.IGNORECASE)


def _missing_shards(shards):
    """Shards a set's own names say exist but were not given: ``train-00001-of-00004.parquet``.

    The Hub names each shard of a split with its index and the split's shard count; a shard
    absent from its folder (an interrupted download) would drop its rows without a trace.
    """
    sets = {}
    for p in shards:
        match = _SHARD_NAME.match(p.name)
        if match:
            key = (p.parent, match["stem"], match["count"])
            sets.setdefault(key, set()).add(int(match["index"]))
    missing = []
    for (folder, stem, count), found in sets.items():
        width = len(count)
        missing += [folder / f"{stem}-{i:0{width}d}-of-{count}.parquet" for i in range(int(count)) if i not in found]
    return sorted(missing)


def _is_image_type(t):
    pa, _ = _pyarrow()
    return (pa.types.is_binary(t) or pa.types.is_large_binary(t)
            or (pa.types.is_struct(t) and t.get_field_index("bytes") >= 0))


def _pick(schema, explicit, names, what, shard, check=None):
    """The column to use: ``explicit`` if given (must exist), else the first known name present."""
    if explicit is not None:
        if explicit not in schema.names:
            raise KeyError(f"{shard}: no column {explicit!r} ({what}); columns are {schema.names}")
        return explicit
    lower = {n.lower(): n for n in schema.names}
    for name in names:
        if name in lower and (check is None or check(schema.field(lower[name]).type)):
            return lower[name]
    if check is _is_image_type:  # fall back to the only binary-like column, if unique
        candidates = [f.name for f in schema if _is_image_type(f.type)]
        if len(candidates) == 1:
            return candidates[0]
    return None


def _class_names(schema, column):
    """Names of a Hugging Face ClassLabel column (int codes), from the schema metadata, if any."""
    meta = (schema.metadata or {}).get(b"huggingface")
    if not meta:
        return None
    try:
        info = json.loads(meta)["info"]["features"][column]
    except (ValueError, KeyError, TypeError):
        return None
    return info.get("names") if isinstance(info, dict) and info.get("_type") == "ClassLabel" else None


def _labels(values, shard, column, names):
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if names is not None and isinstance(v, int) and 0 <= v < len(names):
            v = names[v]
        if isinstance(v, str) and v.strip().lower() in _STRING_LABELS:
            out[i] = _STRING_LABELS[v.strip().lower()]
        elif isinstance(v, (bool, int, np.integer)) and int(v) in (0, 1):
            out[i] = int(v)
        else:
            raise ValueError(f"{shard}, row {i}: label {v!r} in column {column!r} is neither 'real'/'fake' "
                             f"nor 0/1")
    return out


def _warn_same_shard(shards):
    """Warn when shards given name one file (a folder and a shard in it, a link and its target,
    ``a.parquet`` and ``./a.parquet``): its rows would appear twice, silently."""
    from ._manifest import same_file_pairs

    pairs = same_file_pairs(shards, shards)  # an unreadable shard is refused when read, naming it
    if pairs:
        a, b = pairs[0]
        warnings.warn(f"load_openfake: {len(pairs)} shard(s) given name a file given before (first: {a} and {b}): its "
                      f"rows appear twice in the manifest, in both halves of a split unless a prompt groups them; "
                      f"pass each shard once", UserWarning, stacklevel=3)


def _warn_columns_some_shards_lack(used_by_shard):
    """Warn when some shards have a model or prompt column and others lack it.

    Each shard's columns are found on their own, so a shard without ``model`` gives its fakes the
    method ``"fake"`` (one pseudo-generator for leave-one-generator-out splits, beside the named
    ones of the other shards), and one without ``prompt`` gives its rows groups of their own, apart
    from rows of other shards with the same prompt (a group split that no longer holds them
    together). Either is what that shard says, but not what the set says: said, not silent.
    """
    consequence = {"model": "their fakes have method 'fake', not the generator's name",
                   "prompt": "their rows are each a group of their own, not grouped with rows of the same prompt "
                             "in the other shards"}
    for role, what in consequence.items():
        lacking = [(shard, n) for shard, used, n in used_by_shard if used[role] is None]
        if lacking and len(lacking) < len(used_by_shard):
            warnings.warn(f"load_openfake: {len(lacking)} of {len(used_by_shard)} shards {'has' if len(lacking) == 1 else 'have'} "
                          f"no {role} column while the others have one (first: {lacking[0][0]}, {sum(n for _, n in lacking)} rows in all): "
                          f"{what}", UserWarning, stacklevel=3)


def load_openfake(path_or_paths, *, image_column=None, label_column=None, model_column=None, strict=False):
    """Manifest of OpenFake images read from its Parquet shards, the image bytes included.

    OpenFake's shards (``ComplexDataLab/OpenFake`` on the Hugging Face Hub) have the columns
    ``image`` (a struct ``{"bytes", "path"}``: the encoded file and its original name),
    ``prompt``, ``label`` (``"real"`` / ``"fake"``), ``model`` (the generator; for reals the
    real source), ``type`` and ``release_date``. Only the image, label, model and prompt
    columns are read.

    Parameters
    ----------
    path_or_paths : str, Path or list of them
        Parquet files, or folders whose ``*.parquet`` files (any case, recursively, in natural
        order) are read. Other media files in those folders (loose images) are not read and are
        counted, by reason, in a :class:`SkippedFilesWarning`, as are broken links to shards
        and unreadable shards.
    image_column, label_column, model_column : str or None
        Column names, overriding the auto-detection: image from ``image``, ``img``,
        ``image_bytes``, ``jpg``, ``png``, ``bytes`` (else the only binary or
        ``{"bytes", ...}`` struct column); label from ``label``, ``labels``, ``is_fake``,
        ``class``, ``target``; model from ``model``, ``generator``, ``model_name``,
        ``generator_name``, ``source_model`` (optional).
    strict : bool, default=False
        Raise :class:`SkippedFilesError` instead of warning when a media file or shard in a
        folder given would be left out (hidden files are only warned about).

    Returns
    -------
    pandas.DataFrame
        One row per Parquet row, shards in order. Columns ``path`` (None: the image lives in
        ``item``), ``label`` (fake = 1), ``method`` (``"real"`` for reals, else the model
        column's value, ``"fake"`` without one), ``group``, ``item`` (the encoded image bytes,
        usable directly as ``X`` by the extractors), ``filename`` (the struct's ``path`` field,
        or None), ``model`` (raw value or None), ``prompt`` (or None), ``shard`` (the file) and
        ``row`` (row number in the shard). ``attrs``: ``dataset="openfake"``, ``columns`` (the
        column used for each of image, label, model and prompt, None when absent; a tuple with
        each shard's, in order, when the shards differ), ``skipped`` (files left out, by reason), ``missing_shards`` (see Warns).

    Raises
    ------
    FileNotFoundError
        For a missing shard or a folder without shards.
    KeyError
        When an explicit column is absent, or no image or label column can be found.
    ValueError
        For a label that is neither "real"/"fake" (any case) nor 0/1, or a row without image
        bytes, or a shard that is not valid Parquet, naming the shard and row.
    SkippedFilesError
        With ``strict=True``, see above.

    Warns
    -----
    SkippedFilesWarning
        Counting the files of the folders given that are not read, by reason.
    UserWarning
        When shards named as the Hub names them (``train-00001-of-00004.parquet``) are missing
        from a set: those present say how many the split has (``attrs["missing_shards"]``).
        When two shards given are one file (a folder and a shard in it, a link and its
        target): its rows are read twice and kept, with the warning naming the first pair.
        When some shards have a model or prompt column and others lack it (each shard's columns
        are found on their own): that shard's fakes have method ``"fake"``, or its rows groups of
        their own, apart from the same prompts in the other shards.

    Notes
    -----
    **Labels.** Strings ``"real"``/``"fake"`` map to 0/1. Integer labels that carry Hugging
    Face ``ClassLabel`` names in the schema metadata are mapped through those names (so
    ``names=["fake", "real"]`` is not read backwards); bare 0/1 integers or booleans are taken as
    fake = 1.

    **Groups.** OpenFake has no identities. Its fakes were generated from prompts describing
    real images, so a real image and the fakes made from its description share content; when a
    prompt column exists, rows with the same (non-empty) prompt share a group. Rows without a
    prompt are each their own group. To test generalisation to unseen generators instead, use
    ``groups_from_manifest(m, "method")`` or leave-one-generator-out splits.

    **Memory.** Every image of the shards is loaded into memory as ``bytes`` (about the
    shard's file size; OpenFake's shards are several hundred MB each, and the whole set is
    tens of GB). Load the shards one at a time, or a few, for large runs.

    References
    ----------
    .. [1] V. Livernoche, A. Thakur, K. Khoury, et al., "OpenFake: An Open Dataset and Platform
       Toward Large-Scale Deepfake Detection", arXiv:2509.09495, 2025.

    pyarrow is needed (an optional dependency: ``pip install pyarrow``).

    Examples
    --------
    >>> import io, tempfile, pathlib
    >>> import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    >>> from PIL import Image
    >>> def png(v):
    ...     buf = io.BytesIO(); Image.fromarray(np.full((4, 4, 3), v, np.uint8)).save(buf, "PNG")
    ...     return buf.getvalue()
    >>> image = pa.array([{"bytes": png(0), "path": "a.png"}, {"bytes": png(9), "path": "b.png"}])
    >>> table = pa.table({"image": image, "label": ["real", "fake"], "model": ["laion", "sdxl"],
    ...                   "prompt": ["a cat", "a cat"]})
    >>> shard = pathlib.Path(tempfile.mkdtemp()) / "train-0000.parquet"
    >>> pq.write_table(table, shard)
    >>> m = load_openfake(shard)
    >>> m[["label", "method", "group", "filename"]].values.tolist()
    [[0, 'real', 0, 'a.png'], [1, 'sdxl', 0, 'b.png']]
    >>> m["item"][1][:4]
    b'\\x89PNG'
    """
    pa, pq = _pyarrow()
    rows = []
    used_by_shard = []  # (shard, {role: column or None}, n_rows)
    shards, inventory = _shards(path_or_paths)
    missing = _missing_shards(shards)
    if missing:
        warnings.warn(f"load_openfake: {len(missing)} shard(s) that the shard names count are not there, so their "
                      f"rows are not in the manifest (first: {missing[0]}); download them, or pass the shards you "
                      f"mean to use as a list", UserWarning, stacklevel=2)
    _warn_same_shard(shards)
    skipped = {}
    if inventory is not None:
        skipped = inventory.settle(shards, loader="load_openfake", strict=strict,
                                   classify=lambda root, rel: ("not a .parquet shard", False))
    for shard in shards:
        try:
            schema = pq.read_schema(shard)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{shard} is not a readable Parquet file: {exc}") from None
        image = _pick(schema, image_column, _IMAGE_NAMES, "image", shard, _is_image_type)
        label = _pick(schema, label_column, _LABEL_NAMES, "label", shard)
        model = _pick(schema, model_column, _MODEL_NAMES, "model", shard)
        prompt = _pick(schema, None, _PROMPT_NAMES, "prompt", shard,
                       lambda t: pa.types.is_string(t) or pa.types.is_large_string(t))
        if image is None or label is None:
            raise KeyError(f"{shard}: found no {'image' if image is None else 'label'} column among "
                           f"{schema.names}; name it with {'image' if image is None else 'label'}_column=")
        if not _is_image_type(schema.field(image).type):
            raise ValueError(f"{shard}: column {image!r} is {schema.field(image).type}, not binary image bytes")
        used = dict(image=image, label=label, model=model, prompt=prompt)
        try:
            table = pq.read_table(shard, columns=[c for c in dict.fromkeys(used.values()) if c is not None])
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{shard} is not a readable Parquet file: {exc}") from None
        used_by_shard.append((shard, used, table.num_rows))
        col = table.column(image).combine_chunks()
        if pa.types.is_struct(col.type):
            data = col.field("bytes").to_pylist()
            names = col.field("path").to_pylist() if col.type.get_field_index("path") >= 0 else [None] * len(col)
        else:
            data, names = col.to_pylist(), [None] * len(col)
        labels = _labels(table.column(label).to_pylist(), shard, label, _class_names(schema, label))
        models = [None if v is None else str(v) for v in table.column(model).to_pylist()] if model else None
        prompts = table.column(prompt).to_pylist() if prompt else None
        for i, blob in enumerate(data):
            if not blob:
                raise ValueError(f"{shard}, row {i}: no image bytes in column {image!r}")
            m = models[i] if models else None
            rows.append(dict(path=None, label=int(labels[i]),
                             method="real" if labels[i] == 0 else (m or "fake"), item=blob,
                             filename=names[i], model=m, prompt=(prompts[i] or None) if prompts else None,
                             shard=str(shard), row=i))
    _warn_columns_some_shards_lack(used_by_shard)
    columns = {role: (lambda names: names[0] if len(set(names)) == 1 else names)(
        tuple(used[role] for _, used, _ in used_by_shard)) for role in ("image", "label", "model", "prompt")}
    return finish(rows, ["item", "filename", "model", "prompt", "shard", "row"], "openfake",
                  group_by=["prompt"], columns=columns if used_by_shard else None, skipped=skipped,
                  missing_shards=[str(p) for p in missing])
