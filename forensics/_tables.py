"""Feature tables: extracted features as Parquet, with the provenance that says how they were made.

A feature table is the hand-off between extraction, which is slow (decoding, faces, networks),
and everything after it (cross-validation, training, tuning, reports), which is fast. It has
one row per item (an image, a video, or a sampled frame / face crop of a video), the manifest's
columns (``path``, ``label``, ``method``, ``group``...), ``item_index`` (the item's row in the
manifest: the frames of one video share it), ``status`` and ``error``, then one column per
feature. The Parquet file's metadata records the versions, the extractor's parameters (per
column), the frame and face settings, the equalization, the command and the configuration;
:meth:`FeatureTable.features_for` refuses a table whose features were made another way than
the detector at hand would make them, so a table can be reused but never silently mixed.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FeatureTable", "TableMismatchError", "extract_table", "feature_fingerprint", "read_table",
           "TABLE_FORMAT", "LEVELS"]

#: Version of the table layout and metadata; a table of another format is refused.
TABLE_FORMAT = 1
#: What a row is: an image, a whole video (aggregated over its frames), or one frame / face crop.
LEVELS = ("image", "video", "frame")
_META_KEY = b"forensics"
_RUNTIME = ("n_jobs", "on_error", "progress")
#: VideoFeatures parameters that change the values of a video's rows (the frame settings).
_FRAME_PARAMS = ("n_frames", "every", "faces", "detector", "model_path", "margin", "size", "select", "no_face")
_META_COLUMNS = ("item_index", "frame_index", "face_index", "status", "error")


class TableMismatchError(ValueError):
    """A feature table made with other versions or settings than the run that reads it."""


# -- fingerprints -------------------------------------------------------------------------------------

def _canonical(value):
    """A JSON round trip: tuples become lists, anything else its repr, so dicts compare by value."""
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def _qualname(obj):
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _params(est):
    params = est.get_params(deep=False)
    return _canonical({k: v for k, v in params.items() if k not in _RUNTIME and k != "extractors"})


def feature_fingerprint(extractor):
    """How each column of a fitted extractor is made: ``[{"class", "params", "columns"}, ...]``.

    One entry per extractor that produces columns (each family of a
    :class:`~forensics.features.ForensicFeatures` bank, or the extractor itself); ``params``
    leaves out what does not change values (``n_jobs``, ``on_error``, ``progress``), so two
    fingerprints agree exactly when the same columns would hold the same numbers.

    Parameters
    ----------
    extractor : fitted extractor
        A bank, a single family, an embedding transformer, or a
        :class:`~forensics.features.VideoFeatures` (then its frame extractor's entries, with
        column names of the frame features).

    Returns
    -------
    list of dict

    Examples
    --------
    >>> from forensics.features import make_feature_bank
    >>> fp = feature_fingerprint(make_feature_bank(["blur"]).fit())
    >>> fp[0]["class"], fp[0]["columns"][0]
    ('forensics.features._blur.BlurFeatures', 'blur__laplacian_var__log')
    """
    from .features import VideoFeatures

    if isinstance(extractor, VideoFeatures):
        extractor = extractor.extractor_
    names = [str(n) for n in extractor.get_feature_names_out()]
    inner = getattr(extractor, "extractors_", None)
    if inner is None:
        return [dict(**{"class": _qualname(extractor)}, params=_params(extractor), columns=names)]
    kept = set(names)
    entries = []
    for _, est in inner:
        cols = [str(c) for c in est.get_feature_names_out() if str(c) in kept]
        if cols:
            entries.append(dict(**{"class": _qualname(est)}, params=_params(est), columns=cols))
    return entries


def frame_values(video_features):
    """The frame settings of a (fitted) VideoFeatures, the face detector as the backend that ran (not "auto")."""
    settings = {k: getattr(video_features, k) for k in _FRAME_PARAMS}
    if getattr(video_features, "face_detector_", None) is not None:
        settings["detector"] = video_features.face_detector_
    return settings


def _frame_settings(video_features):
    return _canonical(frame_values(video_features))


def _versions():
    out = {"python": sys.version.split()[0]}
    for name, module in (("forensics", "forensics"), ("numpy", "numpy"), ("scipy", "scipy"),
                         ("scikit-learn", "sklearn"), ("scikit-image", "skimage"), ("opencv", "cv2"),
                         ("av", "av"), ("numba", "numba"), ("pandas", "pandas"), ("pyarrow", "pyarrow"),
                         ("torch", "torch"), ("timm", "timm")):
        mod = sys.modules.get(module)
        if mod is None and module not in ("torch", "timm"):  # never import torch just to name it
            try:
                mod = __import__(module)
            except ImportError:
                mod = None
        if mod is not None:
            out[name] = str(getattr(mod, "__version__", "?"))
    return out


# -- the table ---------------------------------------------------------------------------------------

@dataclass(repr=False)
class FeatureTable:
    """Extracted features with their provenance (see the module notes); Parquet on disk.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per item (image, video or frame): the manifest's columns, ``item_index``
        (``frame_index``, ``time_s``, the frame's presentation time in seconds from the video's first
        shown frame, and ``face_index`` at frame level), ``status`` (``"ok"``, ``"partial"``
        or ``"error"``) and ``error``, then the feature columns.
    feature_names : list of str
        The feature columns, in order.
    meta : dict
        The provenance: ``format``, ``versions``, ``level``, ``features`` (the spec as given
        and the fingerprint: :func:`feature_fingerprint`), ``frames`` (video settings),
        ``equalize``, ``source``, ``command``, ``config``, ``audit``, ``created``.
    path : pathlib.Path or None
        The file it was read from or written to.
    """

    data: pd.DataFrame
    feature_names: list
    meta: dict = field(default_factory=dict)
    path: Path = None

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        where = f", path={os.fspath(self.path)!r}" if self.path is not None else ""
        return (f"FeatureTable(n_rows={len(self.data)}, n_features={len(self.feature_names)}, "
                f"level={self.level!r}{where})")

    # -- views --------------------------------------------------------------------------------------
    @property
    def level(self):
        """``"image"``, ``"video"`` or ``"frame"`` (see :data:`LEVELS`)."""
        return self.meta.get("level", "image")

    @property
    def X(self):
        """The feature columns as a float64 array of shape (n_rows, n_features)."""
        return self.data[self.feature_names].to_numpy(dtype=np.float64)

    @property
    def y(self):
        """Labels (fake = 1, real = 0), or None for an unlabelled table."""
        return self.data["label"].to_numpy(dtype=np.int64) if "label" in self.data.columns else None

    @property
    def methods(self):
        """Manipulation method of each row (``"real"`` for reals), or None."""
        return self.data["method"].to_numpy(dtype=object) if "method" in self.data.columns else None

    @property
    def videos(self):
        """At frame level, the video of each row (its ``item_index``); else None."""
        return self.data["item_index"].to_numpy(dtype=np.int64) if self.level == "frame" else None

    @property
    def groups(self):
        """What must not straddle a split: the ``group`` column, else at frame level the video; else None."""
        if "group" in self.data.columns:
            return self.data["group"].to_numpy()
        return self.videos

    @property
    def paths(self):
        """The source file of each row (the video, for frame rows)."""
        return self.data["path"].to_numpy(dtype=object)

    @property
    def ok(self):
        """Rows whose item could be processed (``status`` is not ``"error"``)."""
        return (self.data["status"] != "error").to_numpy()

    def subset(self, mask):
        """The rows selected by a boolean mask or an index array, as a new table (same provenance)."""
        data = self.data.iloc[np.flatnonzero(mask) if np.asarray(mask).dtype == bool else mask]
        return FeatureTable(data.reset_index(drop=True), list(self.feature_names), self.meta, self.path)

    def video_table(self):
        """One row per video of a frame-level table: path, label, method, group (first of each video)."""
        if self.level != "frame":
            raise ValueError(f"a {self.level}-level table has no videos to aggregate")
        cols = [c for c in ("item_index", "path", "label", "method", "group") if c in self.data.columns]
        return self.data[cols].drop_duplicates("item_index").reset_index(drop=True)

    # -- checks ------------------------------------------------------------------------------------
    def check_version(self):
        """Refuse a table of another table format or forensics version (:class:`TableMismatchError`)."""
        from . import __version__

        name = os.fspath(self.path) if self.path is not None else "the feature table"
        fmt = self.meta.get("format")
        if fmt != TABLE_FORMAT:
            raise TableMismatchError(f"{name} has table format {fmt!r}; this version reads format {TABLE_FORMAT}: "
                                     "re-extract it with 'forensics extract'")
        written = self.meta.get("versions", {}).get("forensics")
        if written != __version__:
            raise TableMismatchError(f"{name} was extracted by forensics {written}; this is forensics {__version__}, "
                                     "whose features may differ: re-extract it with this version")
        return self

    def check_frames(self, *, model=None, **settings):
        """Refuse a table whose frame settings differ from those asked (None values are not checked).

        Parameters
        ----------
        model : str, optional
            Who asks, when it is a saved model rather than the run's options (e.g. ``"the model
            'm.joblib'"``): the refusal then says the model was fitted with the setting, and to give
            it the files or a table extracted so, not to drop an option the user never gave.
        **settings
            ``level``, and any of the frame settings (``n_frames``, ``every``, ``faces``,
            ``detector``, ``model_path``...), as a run asks for them.
        """
        name = os.fspath(self.path) if self.path is not None else "the feature table"
        level = settings.pop("level", None)
        if level is not None and level != self.level:
            raise TableMismatchError(f"{name} holds {self.level}-level rows; " + (
                f"{model} scores {level}-level rows: give it the files, or a table extracted with --level {level}"
                if model else f"this run asks for level {level!r}: re-extract with --level {level} or drop --level"))
        recorded = self.meta.get("frames") or {}
        for key, value in settings.items():
            if value is None or key not in _FRAME_PARAMS:
                continue
            if self.meta.get("kind") != "video":
                raise TableMismatchError(f"{name} holds images; the frame setting {key}={value!r} applies to videos")
            shown, expected = f"{key}={value!r}", recorded.get(key)
            if key == "detector" and settings.get("faces", recorded.get("faces")):
                from .media import resolve_detector  # the backend "auto" crops with here, which the table records

                if value == "auto":
                    value = resolve_detector(value, settings.get("model_path", recorded.get("model_path")))
                    shown = f"detector='auto' (here {value!r})"
                if expected == "auto" and recorded.get("faces"):
                    # a table written before the backend was recorded: its "auto" taken as what "auto" picks
                    # here, as a model saved then is (load_model's note); it was refused by every model since
                    expected = resolve_detector("auto", recorded.get("model_path"))
            if _canonical(value) != expected:
                raise TableMismatchError(f"{name} was extracted with {key}={recorded.get(key)!r}; " + (
                    f"{model} was fitted with {shown}: give it the files, or a table extracted as it was"
                    if model else f"this run asks for {shown}: re-extract, or drop the option to use the table's"))
        return self

    def features_for(self, extractor, *, detector=None):
        """The columns ``extractor`` would compute, taken from the table after checking they match.

        Parameters
        ----------
        extractor : extractor
            The ``features`` step of a detector (fitted here, on no data, if it is not).
        detector : str, optional
            The detector's catalogue name, written into the re-extraction command the error
            suggests when the table lacks columns (``NAME`` when not given).

        Returns
        -------
        F : ndarray of shape (n_rows, n_columns)
        names : list of str

        Raises
        ------
        TableMismatchError
            The table lacks a column the extractor makes, or made one with other parameters,
            or was written by another version.
        """
        from sklearn.base import clone

        self.check_version()
        try:
            fitted = extractor if hasattr(extractor, "feature_names_out_") else clone(extractor).fit()
        except Exception as exc:
            raise TableMismatchError(f"cannot set up the detector's feature step: {exc}") from exc
        name = os.fspath(self.path) if self.path is not None else "the feature table"
        wanted = feature_fingerprint(fitted)
        recorded = {}
        for entry in self.meta.get("features", {}).get("extractors", []):
            for col in entry["columns"]:
                recorded[col] = entry
        lacking = [col for entry in wanted for col in entry["columns"] if col not in recorded]
        for entry in wanted:  # a family made with other parameters first: that is what to change
            for col in entry["columns"]:
                have = recorded.get(col)
                if have is None:
                    continue
                if have["class"] != entry["class"] or have["params"] != entry["params"]:
                    diff = sorted(k for k in set(have["params"]) | set(entry["params"])
                                  if have["params"].get(k) != entry["params"].get(k))
                    what = ", ".join(f"{k}={have['params'].get(k)!r} (the detector: {entry['params'].get(k)!r})"
                                     for k in diff[:3]) or f"class {have['class']} vs {entry['class']}"
                    raise TableMismatchError(f"{name} made the feature {col!r} with other parameters: {what}; "
                                             "re-extract with the detector's features")
        if lacking:
            raise TableMismatchError(self._lacking_message(name, lacking, fitted, detector))
        names = [str(n) for n in fitted.get_feature_names_out()]
        if self.level == "video":
            from .features import VideoFeatures

            video = VideoFeatures(fitted, **{k: v for k, v in (self.meta.get("frames") or {}).items()
                                             if k in _FRAME_PARAMS},
                                  aggregate=tuple(self.meta.get("aggregate", ("mean",)))).fit()
            names = [str(n) for n in video.get_feature_names_out()]
        missing = [n for n in names if n not in self.data.columns]
        if missing:
            raise TableMismatchError(f"{name} lacks the column {missing[0]!r}")
        return self.data[names].to_numpy(dtype=np.float64), names

    def reextract_command(self, detector=None):
        """The ``forensics extract`` command that makes this table's rows with a detector's features.

        The table's source, level, frame and face settings, equalization and group pattern are
        repeated, so the new table has the same rows (the same frames of the same items, the same
        groups); only the features change, and the output goes to a new folder.

        Parameters
        ----------
        detector : str, optional
            The detector's catalogue name (``NAME`` when not given).

        Returns
        -------
        str
            A shell command line (arguments quoted as the shell needs). ``DATA`` stands for the
            source when the table does not record it (a manifest built in memory).

        Examples
        --------
        >>> import pandas as pd
        >>> table = FeatureTable(pd.DataFrame({"path": ["a.mp4"], "status": ["ok"]}), [],
        ...                      {"kind": "video", "level": "frame", "source": {"data": "videos/"},
        ...                       "frames": {"n_frames": 4, "faces": False}})
        >>> table.reextract_command("forensic-xgb")
        'forensics extract videos/ --level frame --n-frames 4 --detector forensic-xgb --out NEW_DIR/'
        """
        import shlex

        meta = self.meta
        source = meta.get("source") or {}
        data = source.get("data")
        dataset = source.get("dataset")
        words = ["forensics", "extract", shlex.quote(str(data)) if data else "DATA"]
        if dataset and dataset not in ("folder", "manifest") and data and ":" not in str(data):
            words += ["--dataset", shlex.quote(str(dataset))]
        frames = meta.get("frames") or {}
        faces = bool(frames.get("faces"))
        if faces:
            words.append("--faces")
            if frames.get("detector"):
                words += ["--face-detector", shlex.quote(str(frames["detector"]))]
            if frames.get("model_path"):
                words += ["--face-model", shlex.quote(str(frames["model_path"]))]
        if meta.get("kind") == "video":
            words += ["--level", str(self.level)]
            if frames.get("every") is not None:
                words += ["--every", str(frames["every"])]
            elif frames.get("n_frames") is not None:
                words += ["--n-frames", str(frames["n_frames"])]
        if meta.get("equalize"):
            words.append("--equalize")
        pattern = (meta.get("config") or {}).get("data.group_pattern")
        if pattern:
            words += ["--group-pattern", shlex.quote(str(pattern))]
        words += ["--detector", shlex.quote(detector) if detector else "NAME", "--out", "NEW_DIR/"]
        return " ".join(words)

    def _lacking_message(self, name, lacking, extractor, detector=None):
        """Why the table cannot serve the detector (the columns it lacks, by family) and what to do."""
        families = list(dict.fromkeys(str(c).split("__")[0] for c in lacking))
        spec = self.meta.get("features", {}).get("spec")
        text = (f"{name} lacks {len(lacking)} feature column{'s' if len(lacking) != 1 else ''} the detector needs "
                f"(famil{'ies' if len(families) != 1 else 'y'} {', '.join(families)}; first: {lacking[0]!r}): the "
                f"table was extracted with features={spec!r}. Re-extract the same rows with the detector's features "
                f"({self.reextract_command(detector)})")
        decoded = self.meta.get("kind") == "video" or (self.meta.get("frames") or {}).get("faces")
        if decoded and families == ["codec"] and getattr(extractor, "preset", "") is None:
            # the default table of video frames and face crops is the "pixels" preset: every family but codec,
            # whose columns describe a file (format, quantization tables, bytes per pixel...), not decoded pixels
            text += (", or fit the detector without its codec family, which describes image files and is NaN or "
                     "constant on decoded video frames and face crops: --set features__preset=pixels (in Python "
                     "detector.set_params(features__preset='pixels'))")
        return text

    def fit_detector(self, detector, *, aggregate="mean", k=3):
        """Fit a detector on the table's rows and return a model that scores files, not rows.

        The steps after ``features`` are fitted on the table's feature columns (checked with
        :meth:`features_for`; rows with status ``"error"`` are left out); the returned model
        extracts the same features from new files: for images, the detector's pipeline (with the
        table's equalization first when it was extracted equalized); at video level, a pipeline
        whose first step is :class:`~forensics.features.VideoFeatures` with the table's frame
        settings; at frame level, a :class:`~forensics.VideoDetector` that aggregates frame scores
        with ``aggregate`` (of still images, ``input="image"``, for the face crops of images that
        ``forensics extract --faces`` writes: it crops new images the same way).

        Parameters
        ----------
        detector : Pipeline
            A pipeline whose first step is ``features`` (e.g. ``forensics.make_pipeline(name)``).
        aggregate, k
            Frame level: how frame scores make a video score.

        Returns
        -------
        Pipeline or VideoDetector
            Fitted.
        """
        from sklearn.base import clone
        from sklearn.pipeline import Pipeline

        if not (isinstance(detector, Pipeline) and detector.steps[0][0] == "features"):
            raise TypeError("detector must be a Pipeline whose first step is 'features' (forensics.make_pipeline)")
        table = self.subset(self.ok)
        if not len(table):
            raise ValueError("no row of the table could be read (every status is 'error')")
        extractor = clone(detector.steps[0][1]).fit()
        F, _ = table.features_for(extractor)
        rest = clone(Pipeline(detector.steps[1:])).fit(F, table.y)
        frames = {k_: v for k_, v in (self.meta.get("frames") or {}).items() if k_ in _FRAME_PARAMS}
        if self.level == "frame":
            from ._video_detector import VideoDetector

            model = VideoDetector(Pipeline([("features", extractor), *rest.steps]),
                                  n_frames=frames.get("n_frames", 32), every=frames.get("every"),
                                  faces=frames.get("faces", False), face_detector=frames.get("detector", "auto"),
                                  face_model=frames.get("model_path"), aggregate=aggregate, k=k,
                                  input="image" if self.meta.get("kind") == "image" else "video")
            model.features_ = model._video_features(extractor)
            model.model_, model.classes_ = rest, np.array([0, 1])
            return model
        if self.level == "video":
            from .features import VideoFeatures

            video = VideoFeatures(extractor, aggregate=tuple(self.meta.get("aggregate") or ("mean",)),
                                  **frames).fit()
            return Pipeline([("features", video), *rest.steps])
        steps = [("features", extractor), *rest.steps]
        equalize = self.meta.get("equalize")
        if equalize:
            from .media import CodecEqualizer

            steps.insert(0, ("equalize", CodecEqualizer(**(equalize if isinstance(equalize, dict) else {})).fit()))
        return Pipeline(steps)

    # -- files -----------------------------------------------------------------------------------------
    def to_parquet(self, path):
        """Write the table and its provenance (Parquet metadata key ``forensics``), atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        table = pa.Table.from_pandas(self.data, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps(dict(self.meta, feature_names=list(self.feature_names)),
                                     default=repr).encode("utf-8")
        table = table.replace_schema_metadata(meta)
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self.path = path
        return path


def read_meta(path):
    """The provenance of a feature table file, or None for a Parquet file that is not one."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(_META_KEY)
    return None if raw is None else json.loads(raw.decode("utf-8"))


def read_table(path):
    """Read a feature table written by :func:`extract_table` / ``forensics extract``.

    Parameters
    ----------
    path : str or Path
        The ``.parquet`` file.

    Returns
    -------
    FeatureTable

    Raises
    ------
    FileNotFoundError
        No such file.
    TableMismatchError
        A Parquet file without the feature table's metadata.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature table not found: {os.fspath(path)!r}")
    try:
        meta = read_meta(path)
    except Exception as exc:  # pyarrow raises its own types for a file that is not Parquet
        raise TableMismatchError(f"{os.fspath(path)!r} is not a readable Parquet file: {exc}") from None
    if meta is None:
        raise TableMismatchError(f"{os.fspath(path)!r} is a Parquet file but not a feature table (no 'forensics' "
                                 "metadata); write one with 'forensics extract'")
    data = pq.read_table(path).to_pandas()
    names = meta.pop("feature_names")
    return FeatureTable(data, names, meta, path)


# -- extraction ---------------------------------------------------------------------------------------

def _one_line(text):
    return " ".join(str(text).split())


def _path_key(path):
    """An item's path as the table writes it and as a manifest and a saved table are compared: an
    in-memory item has none (None in the manifest, read back from Parquet as None or NaN); a name
    that is not valid text (undecodable bytes) is written escaped."""
    if path is None or (isinstance(path, float) and math.isnan(path)):
        return None
    from .media._item import path_text

    return path_text(path) if isinstance(path, str) else str(path)


def _items(manifest, rows):
    if "item" in manifest.columns:
        return [manifest["item"].iloc[i] if manifest["path"].iloc[i] is None else manifest["path"].iloc[i]
                for i in rows]
    return [manifest["path"].iloc[i] for i in rows]


def _meta_frame(manifest, rows):
    keep = [c for c in manifest.columns if c not in ("item", "kind", "exists") and c not in _META_COLUMNS]
    part = manifest.iloc[rows][keep].reset_index(drop=True)
    for c in part.columns:  # bytes, lists, dicts do not belong in a flat table
        if part[c].dtype == object and part[c].map(lambda v: isinstance(v, (bytes, bytearray, list, dict))).any():
            part = part.drop(columns=c)
    if "path" in part.columns:
        # a name that is not valid text (Latin-1 bytes on a UTF-8 system: lone surrogates) cannot be
        # stored in Parquet, which failed after the extraction: written with the bytes escaped, as
        # every message and the face-crop tables name it
        shown = [_path_key(v) for v in part["path"]]
        if shown != part["path"].tolist():
            part["path"] = pd.Series(shown, dtype=object)
    part.insert(0, "item_index", np.asarray(rows, dtype=np.int64))
    return part


def _check_kept_metadata(frame, manifest, names, where, own):
    """Refuse to reuse kept rows (a finished table, the chunks of an interrupted run, the rows a retry
    keeps) whose manifest columns (label, method, group...) differ from the data given now: the
    table would carry the old values or mix the two. ``own``: the table's own columns (item_index,
    status... and, at frame level, the frames' times), which no manifest holds."""
    items = frame.drop_duplicates("item_index").reset_index(drop=True)
    now = _meta_frame(manifest, items["item_index"].tolist())
    kept = [c for c in items.columns if c not in names and c not in own]
    given = [c for c in now.columns if c not in own]
    if set(kept) != set(given):
        c = sorted(set(kept) ^ set(given))[0]
        side = f"only {os.fspath(where)} has it" if c in kept else "only the data given has it"
        hint = (" (a group column comes from the data or from --group-pattern: give the same pattern as the run "
                "that wrote it)" if c == "group" else "")
        raise TableMismatchError(f"{os.fspath(where)} and the data given differ in the column {c!r} ({side}){hint}; "
                                 "rerun with the same data (rows already extracted are kept, not re-read), or delete "
                                 "it to start again")

    def missing(v):
        return pd.api.types.is_scalar(v) and pd.isna(v)

    def same(old, new):  # 1 and 1.0 are the same label; None and NaN the same missing value
        if missing(old) or missing(new):
            return missing(old) and missing(new)
        return bool(old == new)

    for c in given:
        for k, (old, new) in enumerate(zip(items[c], now[c])):
            if not same(old, new):
                raise TableMismatchError(f"{os.fspath(where)} holds {c}={old!r} for {items['path'].iloc[k]}, the "
                                         f"data given {new!r}; rerun with the same data (rows already extracted "
                                         "are kept, not re-read), or delete it to start again")


def _chunk_images(manifest, rows, extractor, equalizer, names):
    X = _items(manifest, rows)
    errors = [""] * len(rows)
    if equalizer is not None:
        X = equalizer.transform(X)
        for r in equalizer.status_.itertuples():
            if r.status != "ok":
                errors[r.index] = _one_line(r.error)
    F = extractor.transform(X)
    for r in extractor.status_.itertuples():
        if r.status == "error" and not errors[r.index]:
            errors[r.index] = _one_line(r.error)
    part = _meta_frame(manifest, rows)
    part["status"] = ["error" if e else "ok" for e in errors]
    part["error"] = errors
    return pd.concat([part, pd.DataFrame(F, columns=names)], axis=1)


def _chunk_videos(manifest, rows, video, names):
    paths = _items(manifest, rows)
    F = video.transform(paths)
    status = video.status_
    part = _meta_frame(manifest, rows)
    part["status"] = status["status"].to_numpy()
    part["error"] = [_one_line(e) for e in status["error"]]
    return pd.concat([part, pd.DataFrame(F, columns=names)], axis=1)


def _chunk_frames(manifest, rows, video, names):
    paths = _items(manifest, rows)
    F, meta = video.transform_frames(paths)
    status = video.status_.set_index("index")
    base = _meta_frame(manifest, rows)
    blocks = []
    for k in range(len(rows)):
        sel = np.flatnonzero(meta["video"].to_numpy() == k)
        st, err = status.loc[k, "status"], _one_line(status.loc[k, "error"])
        if sel.size == 0:  # nothing usable (unreadable, or no face): one recorded row, never a lost video
            if st != "error":
                st, err = "error", err or "no usable frame (no face found in the sampled frames)"
            block = base.iloc[[k]].copy()
            block["frame_index"], block["time_s"], block["face_index"] = -1, np.nan, -1
            values = np.full((1, len(names)), np.nan)
        else:
            block = base.iloc[np.repeat(k, sel.size)].copy()
            block["frame_index"] = meta["frame_index"].to_numpy()[sel]
            block["time_s"] = meta["time_s"].to_numpy()[sel]
            block["face_index"] = meta["face_index"].to_numpy()[sel]
            values = F[sel]
        block["status"], block["error"] = st, err
        blocks.append(pd.concat([block.reset_index(drop=True), pd.DataFrame(values, columns=names)], axis=1))
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=[*base.columns, *names])


def mixed_kinds(manifest):
    """How a manifest mixes images and videos, for a refusal: each kind's count and the first file of
    the fewer kind (a stray image in a folder of videos is then found at once); None when it holds one
    kind (or no ``kind`` column).

    Examples
    --------
    >>> import pandas as pd
    >>> mixed_kinds(pd.DataFrame({"path": ["a.mp4", "x.jpg", "b.mp4"], "kind": ["video", "image", "video"]}))
    '1 image and 2 videos (the image: x.jpg)'
    """
    if "kind" not in manifest.columns or set(manifest["kind"]) != {"image", "video"}:
        return None
    kinds = manifest["kind"].to_numpy()
    counts = {k: int((kinds == k).sum()) for k in ("image", "video")}
    fewer = "image" if counts["image"] <= counts["video"] else "video"
    at = int(np.flatnonzero(kinds == fewer)[0])
    path = manifest["path"].iloc[at]
    first = _path_key(path) if _path_key(path) is not None else f"row {at}"
    text = " and ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in counts.items())
    return f"{text} ({'the' if counts[fewer] == 1 else 'first'} {fewer}: {first})"


def _resolve_level(kinds, level, mixed=None):
    if kinds == {"image", "video"}:
        raise ValueError(f"the data mixes images and videos{': ' + mixed if mixed else ''}, whose feature columns "
                         "differ; extract them separately")
    kind = "video" if kinds == {"video"} else "image"
    if level is None:
        level = "frame" if kind == "video" else "image"
    if level not in LEVELS:
        raise ValueError(f"level must be one of {list(LEVELS)}, got {level!r}")
    if kind == "image" and level != "image":
        raise ValueError(f"level {level!r} applies to videos; the data holds images")
    if kind == "video" and level == "image":
        raise ValueError("videos are extracted at level 'frame' (one row per sampled frame) or 'video' (one row per "
                         "video, aggregated over its frames)")
    return kind, level


def extract_table(manifest, *, features="full", level=None, n_frames=32, every=None, faces=False,
                  face_detector="auto", face_model=None, aggregate=None, equalize=False, n_jobs=None, progress=False,
                  chunk_size=64, out=None, config=None, command=None, audit=None, retry_failed=False):
    """Extract a feature table from the items of a manifest; resumable when written to ``out``.

    Parameters
    ----------
    manifest : pandas.DataFrame
        One row per item with ``path`` (or ``item`` holding in-memory bytes), optionally
        ``label``, ``method``, ``group`` and ``kind`` (see :func:`forensics.load_data`).
    features : str, list, dict or extractor, default="full"
        The extractor (:func:`forensics.make_pipeline`'s ``features`` argument: a preset, family
        names, bank arguments, or an instance such as a detector's ``features`` step).
    level : {"image", "video", "frame"}, optional
        Images: ``"image"``. Videos: ``"frame"`` (default; one row per sampled frame, or per
        face crop with ``faces``) or ``"video"`` (one row per video: each frame feature's
        aggregates over time, :class:`~forensics.features.VideoFeatures`). The default differs
        from the command line's: ``forensics extract`` makes one row per video unless given
        ``--level frame`` (or ``--faces``); here videos give frame rows unless ``level="video"``.
    n_frames, every, faces, face_detector, face_model
        Video settings (:class:`~forensics.features.VideoFeatures`: ``n_frames``, ``every``,
        ``faces``, ``detector``, ``model_path``).
    aggregate : tuple of str, optional
        Level ``"video"``: the temporal aggregates (default: all of
        :data:`~forensics.features.AGGREGATES`).
    equalize : bool or dict, default=False
        Images: re-encode each item the same way first (:class:`~forensics.media.CodecEqualizer`;
        a dict gives its parameters).
    n_jobs, progress
        Parallel items and progress bar of the extractor.
    chunk_size : int, default=64
        Items extracted per chunk; with ``out``, each chunk is saved as it finishes.
    out : str or Path, optional
        Write the table there (``.parquet``). An interrupted run leaves its finished chunks in
        ``<out>.parts/``; the same call again extracts only the items not done and writes the same
        table as an uninterrupted run. Chunks or a table written with other settings or for other
        items are refused (:class:`TableMismatchError`), never mixed, and so are a table or
        chunks whose manifest columns (label, method, group...) differ from the data given
        (labels changed between an interrupted run and its resume would otherwise be half old,
        half new). A finished table is returned as it is, failed rows included, unless
        ``retry_failed``. ``meta["n_kept"]`` counts the items taken from a table or chunks already
        there (not recomputed).
    retry_failed : bool, default=False
        With ``out``: extract again the items whose rows have status ``"error"`` in the table
        already there (or in the chunks of an interrupted run), e.g. after a transient read
        error. The rows that succeeded are kept as they are, not recomputed (``"partial"`` rows
        included); each retried item's rows carry its new status and error (a video at frame
        level may now give several frame rows); rows stay in manifest order with their
        ``item_index``. ``meta["n_retried"]`` counts the items retried by this call. The
        table is rewritten through ``<out>.parts/`` like an extraction: an interrupted retry
        resumes when called again. Data whose manifest columns differ from those of the kept
        rows is refused, as for any resume.
    config, command : optional
        Recorded in the provenance (the resolved configuration and the command line).
    audit : AuditReport, optional
        The shortcut audit of the items, recorded in the provenance (flagged properties and the
        warning), so that runs reading the table can report it without the files.

    Returns
    -------
    FeatureTable
        Rows in manifest order (frames in time order within a video); an item that cannot be read
        is a row with ``status="error"`` and NaN features, never a dropped row.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2)]
    >>> manifest = pd.DataFrame({"path": [None, None], "item": images, "label": [0, 1]})
    >>> table = extract_table(manifest, features=["blur"])
    >>> table.level, table.X.shape, table.data["status"].tolist()
    ('image', (2, 8), ['ok', 'ok'])

    Written to a file, an item that failed (here a missing file) is extracted again with
    ``retry_failed`` once it can be read, and only that item:

    >>> import os, tempfile
    >>> from PIL import Image
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, f"{i}.png") for i in range(2)]
    >>> Image.fromarray(images[0]).save(paths[0])
    >>> files = pd.DataFrame({"path": paths, "label": [0, 1]})
    >>> out = os.path.join(folder, "t.parquet")
    >>> extract_table(files, features=["blur"], out=out).data["status"].tolist()
    ['ok', 'error']
    >>> Image.fromarray(images[1]).save(paths[1])
    >>> extract_table(files, features=["blur"], out=out).data["status"].tolist()  # finished: as it was
    ['ok', 'error']
    >>> again = extract_table(files, features=["blur"], out=out, retry_failed=True)
    >>> again.data["status"].tolist(), again.meta["n_retried"]
    (['ok', 'ok'], 1)
    """
    from sklearn.base import clone

    from . import __version__
    from ._pipeline import make_features
    from .features import AGGREGATES, VideoFeatures

    if "path" not in manifest.columns:
        raise ValueError("the manifest needs a 'path' column")
    if retry_failed and out is None:
        raise ValueError("retry_failed applies to a table written to out (the failed rows of that file are "
                         "extracted again); without out, every item is extracted anyway")
    kinds = set(manifest["kind"]) if "kind" in manifest.columns else {"image"}
    kind, level = _resolve_level(kinds, level, mixed_kinds(manifest))
    if kind == "video" and equalize:
        raise ValueError("equalize applies to images; video frames are decoded pixels")
    reserved = _META_COLUMNS + (("time_s",) if level == "frame" else ())  # a frame's time in a frame table
    clash = [c for c in manifest.columns if c in reserved]
    if clash:
        raise ValueError(f"the manifest has a column named {clash[0]!r}, which the feature table uses itself; rename it")
    if isinstance(features, str) or isinstance(features, (list, tuple, dict)):
        spec = features
        extractor = make_features(features, on_error="nan", n_jobs=n_jobs, progress=progress)
    else:
        spec = _describe_extractor(features)
        extractor = clone(features)
        params = extractor.get_params(deep=False)
        extractor.set_params(**{k: v for k, v in dict(on_error="nan", n_jobs=n_jobs, progress=progress).items()
                                if k in params})
    extractor.fit()
    frames = None
    if kind == "video":
        aggregate = tuple(AGGREGATES if aggregate is None else aggregate)
        video = VideoFeatures(extractor, n_frames=n_frames, every=every, faces=faces, detector=face_detector,
                              model_path=face_model, aggregate=aggregate, on_error="nan", n_jobs=n_jobs,
                              progress=progress).fit()
        frames = _frame_settings(video)
        names = [str(n) for n in (video.get_feature_names_out() if level == "video" else video.frame_feature_names_)]
    else:
        names = [str(n) for n in extractor.get_feature_names_out()]
    equalizer = None
    if equalize:
        from .media import CodecEqualizer

        equalizer = CodecEqualizer(**(equalize if isinstance(equalize, dict) else {}), on_error="none",
                                   n_jobs=n_jobs).fit()
    meta = dict(
        format=TABLE_FORMAT, versions=_versions(), level=level, kind=kind,
        features=dict(spec=_canonical(spec), extractors=feature_fingerprint(extractor)),
        frames=frames, aggregate=list(aggregate) if kind == "video" and level == "video" else None,
        equalize=_canonical(equalize if isinstance(equalize, dict) else bool(equalize)),
        source=dict(data=manifest.attrs.get("source"), dataset=manifest.attrs.get("dataset"), n_items=len(manifest)),
    )
    if (meta["versions"].get("forensics")) != __version__:
        meta["versions"]["forensics"] = __version__
    signature = json.dumps({k: meta[k] for k in ("format", "level", "kind", "features", "frames", "aggregate",
                                                 "equalize")}, sort_keys=True, default=repr)
    signature += json.dumps(meta["versions"].get("forensics"))

    from .media import FailedItemsWarning

    def run_chunk(rows):
        with warnings.catch_warnings():  # failures are recorded per row (status, error)
            warnings.filterwarnings("ignore", category=FailedItemsWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="joblib")
            if kind == "image":
                return _chunk_images(manifest, rows, extractor, equalizer, names)
            if level == "video":
                return _chunk_videos(manifest, rows, video, names)
            return _chunk_frames(manifest, rows, video, names)

    n = len(manifest)
    parts_dir = None
    done = {}
    checked = None
    if out is not None:
        out = Path(out)
        keys = [_path_key(p) for p in manifest["path"]]
        if out.exists():
            old = read_meta(out)
            if old is None or not _same_signature(old.get("signature"), signature):
                why = _settings_change(old.get("signature") if old is not None else None, signature)
                raise TableMismatchError(f"{os.fspath(out)} was written {why}; use another output, or delete it to "
                                         "start again")
            existing = read_table(out)
            if [_path_key(p) for p in existing.data.drop_duplicates("item_index")["path"]] != keys:
                raise TableMismatchError(f"{os.fspath(out)} holds other items than the data given; use another "
                                         "output, or delete it to start again")
            _check_kept_metadata(existing.data, manifest, names, out, reserved)
            if not retry_failed or not existing.data["status"].eq("error").any():
                existing.meta["n_retried"] = 0
                existing.meta["n_kept"] = int(existing.data["item_index"].nunique())  # nothing recomputed
                return existing
            # the finished table becomes the one saved chunk of a run to resume; its failed items are
            # then left out of it below and extracted again, like the items of an interrupted run
            parts_dir = out.with_name(out.name + ".parts")
            shutil.rmtree(parts_dir, ignore_errors=True)  # chunks beside a finished table are stale
            parts_dir.mkdir(parents=True)
            (parts_dir / "settings.json").write_text(signature, encoding="utf-8")
            tmp = parts_dir / ".part-000000.tmp"
            existing.data.to_parquet(tmp, index=False)
            os.replace(tmp, parts_dir / "part-000000.parquet")
            out.unlink()
            checked = parts_dir / "part-000000.parquet"  # its rows were checked just above
        parts_dir = out.with_name(out.name + ".parts")
        parts_dir.mkdir(parents=True, exist_ok=True)
        sig_file = parts_dir / "settings.json"
        if sig_file.exists():
            written = sig_file.read_text(encoding="utf-8")
            if not _same_signature(written, signature):
                raise TableMismatchError(f"{os.fspath(parts_dir)} holds chunks extracted "
                                         f"{_settings_change(written, signature)}; use another output, or delete "
                                         "that folder to start again")
        else:
            sig_file.write_text(signature, encoding="utf-8")
        for part in sorted(parts_dir.glob("part-*.parquet")):
            frame = pd.read_parquet(part)
            for idx, path in frame.drop_duplicates("item_index")[["item_index", "path"]].itertuples(index=False):
                if idx >= n or keys[idx] != _path_key(path):
                    raise TableMismatchError(f"{os.fspath(parts_dir)} holds chunks of other items than the data "
                                             f"given (first: {path}); use another output, or delete that folder")
            done[part] = frame
    for part, frame in done.items():  # chunks of an interrupted run: their labels, groups... must be the data's
        if part != checked:
            _check_kept_metadata(frame, manifest, names, parts_dir, reserved)
    n_retried = 0
    if retry_failed and done:
        # leave the failed items out of the saved chunks (rewritten first, so that an interruption
        # cannot leave an item both in its old chunk and in a new one); they are extracted below
        for part, frame in list(done.items()):
            failed = frame["item_index"][frame["status"].eq("error")].unique()
            if failed.size:
                n_retried += int(failed.size)
                kept = frame[~frame["item_index"].isin(failed)].reset_index(drop=True)
                if len(kept):
                    tmp = part.with_name("." + part.stem + ".tmp")
                    kept.to_parquet(tmp, index=False)
                    os.replace(tmp, part)
                    done[part] = kept
                else:
                    part.unlink()
                    del done[part]
    done_items = set()
    for frame in done.values():
        done_items.update(frame["item_index"].tolist())
    todo = [i for i in range(n) if i not in done_items]
    chunks = list(done.values())
    # new chunks are numbered after every saved one (a chunk left empty by a retry is gone)
    counter = max((int(p.stem.split("-")[1]) + 1 for p in done), default=0)
    from tqdm.auto import tqdm

    from .features._base import expecting

    # one job of len(todo) items, extracted chunk by chunk: the up-front compile rule counts the job
    with tqdm(total=n, initial=n - len(todo), desc="extract", unit=kind, disable=not progress, leave=False,
              file=sys.stderr) as bar, expecting(len(todo)):
        for start in range(0, len(todo), chunk_size):
            rows = todo[start:start + chunk_size]
            frame = run_chunk(rows)
            if parts_dir is not None:
                tmp = parts_dir / f".part-{counter:06d}.tmp"
                frame.to_parquet(tmp, index=False)
                os.replace(tmp, parts_dir / f"part-{counter:06d}.parquet")
                counter += 1
            chunks.append(frame)
            bar.update(len(rows))
    data = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=names)
    order = ["item_index"] + (["frame_index", "time_s", "face_index"] if level == "frame" else [])
    # frames stay in time order within their video: a stable sort on item_index alone keeps it
    data = data.sort_values("item_index", kind="stable").reset_index(drop=True) if len(data) else data
    if level == "frame":
        # the video's columns, then item_index, frame_index, time_s, face_index, status, error, features
        front = [c for c in data.columns if c not in (*order, "status", "error", *names)]
        data = data[["item_index", *[c for c in front if c != "item_index"], "frame_index", "time_s", "face_index",
                     "status", "error", *names]]
    meta.update(created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                command=command, config=_canonical(config) if config is not None else None,
                audit=_audit_summary(audit), signature=signature, n_retried=n_retried, n_kept=len(done_items),
                n_failed=int(data.drop_duplicates("item_index")["status"].eq("error").sum()) if len(data) else 0)
    table = FeatureTable(data, names, meta)
    if out is not None:
        table.to_parquet(out)
        shutil.rmtree(parts_dir, ignore_errors=True)
    return table


def _parse_signature(signature):
    """``(settings, forensics version)`` of an extraction signature, or None when unreadable."""
    try:
        settings, end = json.JSONDecoder().raw_decode(signature)
        version = json.loads(signature[end:])
    except (TypeError, ValueError):
        return None
    return (settings, version) if isinstance(settings, dict) else None


def _same_signature(written, signature):
    """Whether a table (or its chunks) written with ``written`` is this run's: the same signature, or one
    written before the face detector was recorded (``"auto"``) that is this run's with "auto" as it
    resolves here (as such a table is checked by :meth:`FeatureTable.check_frames`)."""
    if written == signature:
        return True
    parsed = _parse_signature(written) if isinstance(written, str) else None
    frames = parsed[0].get("frames") if parsed is not None else None
    if not (isinstance(frames, dict) and frames.get("faces") and frames.get("detector") == "auto"):
        return False
    from .media import resolve_detector

    settings, version = parsed
    settings = dict(settings, frames=dict(frames, detector=resolve_detector("auto", frames.get("model_path"))))
    return json.dumps(settings, sort_keys=True, default=repr) + json.dumps(version) == signature


def _flat(value, prefix=""):
    """Nested settings as ``{"frames.n_frames": 4, ...}``; the extractors' parameters one key per family."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if prefix == "features.extractors" and isinstance(value, list):
        out = {}
        for entry in value:
            if isinstance(entry, dict) and "class" in entry:
                family = str(entry["class"]).rsplit(".", 1)[-1]
                out[f"features.{family}.columns"] = len(entry.get("columns", ()))
                out.update(_flat(entry.get("params", {}), f"features.{family}"))
        return out or {prefix: value}
    return {prefix: value}


def _settings_change(written, signature):
    """What differs between the settings a table (or its chunks) was written with and this run's, in words:
    ``"with frames.n_frames=4; this run asks for frames.n_frames=8"``, or the version that wrote it."""
    old, new = _parse_signature(written) if written else None, _parse_signature(signature)
    if old is None or new is None:
        return "with other settings or by another version (its settings are not readable)"
    (old_settings, old_version), (new_settings, new_version) = old, new
    if old_version != new_version:
        return f"by forensics {old_version}; this is forensics {new_version}, whose features may differ"
    # named as the config keys a user sets (config.yaml), where there is one
    config_key = {"level": "frames.level", "equalize": "features.equalize", "frames.detector": "frames.face_detector",
                  "frames.model_path": "frames.face_model"}
    a, b = ({config_key.get(k, k): v for k, v in _flat(x).items()} for x in (old_settings, new_settings))
    keys = [k for k in dict.fromkeys([*a, *b]) if (k in a, a.get(k)) != (k in b, b.get(k))]
    if "features.spec" in keys:  # other features: their families' parameters differ as a consequence
        keys = [k for k in keys if k == "features.spec" or not k.startswith("features.") or k.count(".") == 1]
    if not keys:
        return "with other settings"
    shown = keys[:4]
    more = f" (and {len(keys) - len(shown)} more)" if len(keys) > len(shown) else ""

    def show(settings):
        return ", ".join(f"{k}={settings[k]!r}" if k in settings else f"no {k}" for k in shown)

    return f"with {show(a)}; this run asks for {show(b)}{more}"


def saved_items(out):
    """How many items a (possibly interrupted) :func:`extract_table` call writing ``out`` has saved:
    those of the finished table, else of the chunks in ``<out>.parts/``; what the same call resumes from."""
    out = Path(out)
    if out.is_file():
        return int(pd.read_parquet(out, columns=["item_index"])["item_index"].nunique())
    parts = sorted(out.with_name(out.name + ".parts").glob("part-*.parquet"))
    return len({int(i) for p in parts for i in pd.read_parquet(p, columns=["item_index"])["item_index"]})


def _describe_extractor(extractor):
    """A short text for an extractor instance: ``ForensicFeatures(spectral; select=[...])``."""
    inner = getattr(extractor, "extractors", None)
    parts = [", ".join(name for name, _ in inner)] if inner else []
    for key in ("preset", "select"):
        value = getattr(extractor, key, None)
        if value is not None:
            parts.append(f"{key}={value!r}")
    return f"{type(extractor).__name__}({'; '.join(parts)})"


def _audit_summary(report):
    if report is None:
        return None
    return _canonical(dict(flagged=list(report.flagged), warning=report.warning_message,
                           threshold=report.threshold, n_items=report.n_items,
                           auc={str(k): float(v) for k, v in report.table["auc"].items()}))
