"""Shortcut audit: how well do pixel-free file properties predict the label?

A detector trained on images whose two classes come from different pipelines can learn the
pipeline (JPEG quality, quantization tables, image size, EXIF...) instead of the forgery. The
audit measures that risk before any model is trained, from the file headers alone.
"""

from __future__ import annotations

import hashlib
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn import config_context
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, TargetEncoder
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..features._codec import _COL as _CODEC_COL
from ..features._codec import codec_vector
from ..media import ItemError, as_item_sequence, load_item

__all__ = ["AuditReport", "PROPERTIES", "ShortcutWarning", "VIDEO_PROPERTIES", "audit"]

#: The audited properties: name -> (kind, description). Kinds: "categorical" or "numeric".
PROPERTIES = {
    "format": ("categorical", "container format (jpeg, png, webp...; 'array' for in-memory arrays)"),
    "width": ("numeric", "image width in pixels"),
    "height": ("numeric", "image height in pixels"),
    "aspect_ratio": ("numeric", "width / height"),
    "n_pixels": ("numeric", "width * height"),
    "file_size": ("numeric", "size of the encoded file in bytes"),
    "bytes_per_pixel": ("numeric", "file_size / n_pixels"),
    "jpeg_quant_tables": ("categorical", "hash of the exact JPEG quantization tables (all of them)"),
    "jpeg_quality_luma": ("numeric", "IJG quality nearest the luma table"),
    "jpeg_quality_chroma": ("numeric", "IJG quality nearest the chroma table"),
    "chroma_subsampling": ("categorical", "JPEG chroma subsampling (4:2:0, 4:4:4, gray...)"),
    "progressive": ("numeric", "progressive JPEG (1/0)"),
    "exif_present": ("numeric", "an EXIF block is present (1/0)"),
    "camera_make_present": ("numeric", "EXIF Make tag is non-blank (1/0)"),
    "software_present": ("numeric", "EXIF Software tag is non-blank (1/0)"),
    "icc_present": ("numeric", "an ICC profile is embedded (1/0)"),
}

#: The audited properties of videos (read from the container and packet headers, no frame decoded).
VIDEO_PROPERTIES = {
    "container": ("categorical", "container format as FFmpeg names it (mp4/mov, matroska, avi...)"),
    "codec": ("categorical", "video codec (h264, hevc, vp9...)"),
    "width": ("numeric", "coded frame width in pixels"),
    "height": ("numeric", "coded frame height in pixels"),
    "aspect_ratio": ("numeric", "width / height"),
    "n_pixels": ("numeric", "width * height"),
    "rotation": ("numeric", "display rotation in degrees"),
    "fps": ("numeric", "average frame rate"),
    "n_frames": ("numeric", "number of frames"),
    "duration_s": ("numeric", "duration of the video stream in seconds"),
    "file_size": ("numeric", "size of the file in bytes"),
    "bit_rate": ("numeric", "bit rate in bits per second (the stream's, else the container's)"),
    "bits_per_pixel": ("numeric", "bit_rate / (n_pixels * fps): compression strength"),
    "keyframe_interval": ("numeric", "median distance in frames between keyframes (GOP)"),
    "audio_codec": ("categorical", "codec of the audio stream read (aac, opus, pcm_s16le...; missing without one)"),
    "audio_rate": ("numeric", "sample rate of that audio stream in Hz (resampling keeps its trace: spectral "
                              "bands above half of it hold no sound)"),
    "audio_channels": ("numeric", "channels of that audio stream"),
}

#: Name of the row that models all properties together.
COMBINED = "all_combined"

_REMEDY = ("equalize the codec (forensics.media.CodecEqualizer / equalize_jpeg) and re-measure; "
           "train and evaluate on the equalized items")
_VIDEO_REMEDY = ("re-encode every video with the same encoder and settings (codec, bit rate or CRF, frame rate, "
                 "size; the sound at one sample rate, no higher than the lowest source rate) and re-measure; or "
                 "compare detectors on face crops, which drop the frame size")
_SUBSAMPLING = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (4, 1): "4:1:1", (1, 2): "4:4:0"}


class ShortcutWarning(UserWarning):
    """The label of a data set can be predicted from file properties alone (see :func:`audit`)."""


# -- reading the properties -------------------------------------------------------------------------

def _missing_row():
    return {name: (None if kind == "categorical" else np.nan) for name, (kind, _) in PROPERTIES.items()}


def _item_properties(obj, index):
    """Pixel-free properties of one item, read from its bytes and header only."""
    item = load_item(obj, index)
    row = _missing_row()
    if item.data is None:  # an in-memory array: only its size is known
        h, w = item.shape
        row.update(format="array", width=float(w), height=float(h))
    else:
        header = item.header  # raises ItemError for non-images
        w, h = header.size
        try:
            vec = codec_vector(item.data, header=header)
        except ItemError:
            raise
        except Exception as exc:
            raise item.error(f"cannot parse the container header ({type(exc).__name__}: {exc})") from exc
        row.update(format=item.format, width=float(w), height=float(h), file_size=float(len(item.data)))
        col = _CODEC_COL
        row["exif_present"] = vec[col["codec__exif__present"]]
        row["camera_make_present"] = vec[col["codec__exif_make__present"]]
        row["software_present"] = vec[col["codec__exif_software__present"]]
        row["icc_present"] = vec[col["codec__icc_profile__present"]]
        if vec[col["codec__format__jpeg"]] == 1.0:
            row["jpeg_quality_luma"] = vec[col["codec__jpeg_quality__luma"]]
            row["jpeg_quality_chroma"] = vec[col["codec__jpeg_quality__chroma"]]
            row["progressive"] = vec[col["codec__progressive__flag"]]
            tables = getattr(header, "quantization", None) or {}
            digest = hashlib.sha1()
            for tid in sorted(tables):
                digest.update(bytes([tid]) + np.asarray(tables[tid], dtype=">u2").tobytes())
            row["jpeg_quant_tables"] = digest.hexdigest()[:12] if tables else None
            sub_h = vec[col["codec__chroma_subsampling__h"]]
            sub_v = vec[col["codec__chroma_subsampling__v"]]
            if np.isfinite(sub_h) and np.isfinite(sub_v):
                key = (int(round(sub_h)), int(round(sub_v)))
                row["chroma_subsampling"] = _SUBSAMPLING.get(key, f"{sub_h:g}x{sub_v:g}")
            else:
                row["chroma_subsampling"] = "gray" if len(header.layer) == 1 else f"{len(header.layer)} components"
    row["aspect_ratio"] = row["width"] / row["height"]
    row["n_pixels"] = row["width"] * row["height"]
    row["bytes_per_pixel"] = row["file_size"] / row["n_pixels"]
    return row


def _video_properties(obj, index):
    """Container and packet-header properties of one video file (no frame is decoded)."""
    import os

    from ..media import video_info

    info = video_info(obj, index=index)
    row = {name: (None if kind == "categorical" else np.nan) for name, (kind, _) in VIDEO_PROPERTIES.items()}
    row.update(container=info.container, codec=info.codec, width=float(info.width), height=float(info.height),
               rotation=float(info.rotation), fps=float(info.fps) if info.fps else np.nan,
               n_frames=float(info.n_frames), duration_s=float(info.duration_s) if info.duration_s else np.nan,
               file_size=float(os.path.getsize(obj)), bit_rate=float(info.bit_rate) if info.bit_rate else np.nan,
               keyframe_interval=float(info.keyframe_interval) if info.keyframe_interval else np.nan)
    row["aspect_ratio"] = row["width"] / row["height"]
    row["n_pixels"] = row["width"] * row["height"]
    row["bits_per_pixel"] = row["bit_rate"] / (row["n_pixels"] * row["fps"])
    from ..audio._read import audio_header

    sound = audio_header(obj, index=index)
    if sound is not None:
        row.update(audio_codec=sound["codec"], audio_rate=float(sound["rate"]) or np.nan,
                   audio_channels=float(sound["channels"]) or np.nan)
    return row


def _is_video(obj):
    from ..datasets import VIDEO_SUFFIXES

    return (isinstance(obj, str) or hasattr(obj, "__fspath__")) and str(obj).lower().endswith(VIDEO_SUFFIXES)


def _read_chunk(objs, start, on_error, video=False):
    props = VIDEO_PROPERTIES if video else PROPERTIES
    rows, records = [], []
    for k, obj in enumerate(objs):
        index = start + k
        source = str(obj) if isinstance(obj, str) or hasattr(obj, "__fspath__") else None
        try:
            rows.append(_video_properties(obj, index) if video else _item_properties(obj, index))
            records.append((index, source, "ok", ""))
        except ItemError as exc:
            if on_error == "raise":
                raise
            rows.append({name: (None if kind == "categorical" else np.nan) for name, (kind, _) in props.items()})
            records.append((index, source, "error", exc.reason))
    return rows, records


def _read_properties(seq, n_jobs, on_error, progress, video=False):
    n = len(seq)
    chunk = 64
    starts = list(range(0, n, chunk))
    parts = (
        ([seq[i] for i in range(s, min(s + chunk, n))], s) for s in starts
    )
    if n_jobs in (None, 1):
        results = (_read_chunk(objs, s, on_error, video) for objs, s in parts)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_read_chunk)(objs, s, on_error, video) for objs, s in parts
        )
    rows, records = [], []
    with tqdm(total=n, desc="audit", unit="img", disable=not progress, leave=False) as bar:
        for r, rec in results:
            rows.extend(r)
            records.extend(rec)
            bar.update(len(r))
    props = VIDEO_PROPERTIES if video else PROPERTIES
    values = pd.DataFrame(rows, columns=list(props))
    for name, (kind, _) in props.items():
        values[name] = values[name].astype(object if kind == "categorical" else np.float64)
    status = pd.DataFrame(records, columns=["index", "source", "status", "error"])
    return values, status


# -- scoring --------------------------------------------------------------------------------------

def _categorical(col):
    """Categories as strings, with the missing value as its own category."""
    return np.array(["<missing>" if pd.isna(v) else str(v) for v in col], dtype=object)[:, None]


def _model(kind, n_train, random_state):
    if kind == "categorical":  # fit + transform only: the internal folds are never used
        return TargetEncoder(target_type="binary")
    if kind == "numeric":
        return DecisionTreeClassifier(max_depth=3, min_samples_leaf=max(1, n_train // 100),
                                      random_state=random_state)
    return None


def _combined_model(cat_cols, num_cols, random_state):
    # Categories go to the trees as categories (no target encoding, so nothing to cross-fit);
    # beyond 250 distinct values the rare ones share one code, and unseen ones are "missing".
    encode = ColumnTransformer(
        [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                       max_categories=250), cat_cols),
         ("numbers", "passthrough", num_cols)],
    )
    hgb = HistGradientBoostingClassifier(
        max_iter=100, max_depth=3, min_samples_leaf=5, early_stopping=False, random_state=random_state,
        categorical_features=[True] * len(cat_cols) + [False] * len(num_cols),
    )
    return make_pipeline(encode, hgb)


def _score_fold(kind, X, y, train, test, random_state, cat_cols=None, num_cols=None):
    """Out-of-fold scores (estimated P(label = 1)) of one fold, and the training prior."""
    prior = y[train].mean()
    if kind == "categorical":
        enc = _model(kind, len(train), random_state).fit(X[train], y[train])
        return enc.transform(X[test])[:, 0], prior
    if kind == "numeric":
        tree = _model(kind, len(train), random_state).fit(X[train], y[train])
        proba = tree.predict_proba(X[test])
        return (proba[:, list(tree.classes_).index(1)] if 1 in tree.classes_ else np.zeros(len(test))), prior
    # a column without any value in this training part carries nothing here (and gradient boosting
    # cannot bin it): one JPEG among PNGs has JPEG fields only where it is, in one test part
    num_cols = [c for c in num_cols if X[c].iloc[train].notna().any()]
    model = _combined_model(cat_cols, num_cols, random_state).fit(X.iloc[train], y[train])
    return model.predict_proba(X.iloc[test])[:, 1], prior


def _evaluate(kind, X, y, splits, random_state, **kw):
    aucs, correct = [], 0
    for train, test in splits:  # parameters are ours and valid: skip sklearn's per-call checks
        scores, prior = _score_fold(kind, X, y, train, test, random_state, **kw)
        aucs.append(roc_auc_score(y[test], scores) if len(np.unique(y[test])) == 2 else np.nan)
        majority = 1 if prior > 0.5 else 0
        pred = np.where(scores > 0.5, 1, np.where(scores < 0.5, 0, majority))
        correct += int((pred == y[test]).sum())
    return float(np.nanmean(aucs)), float(np.nanstd(aucs)), correct / len(y)


# -- the report -----------------------------------------------------------------------------------

@dataclass(repr=False)
class AuditReport:
    """Result of :func:`audit`: how well each pixel-free property predicts the label.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per property (index: property name), sorted by ``auc`` descending (ties: fewer
        distinct values first), with columns
        ``kind`` ("categorical", "numeric" or "combined"), ``auc`` (mean out-of-fold ROC-AUC over
        the folds), ``auc_std`` (its standard deviation over the folds), ``accuracy``
        (out-of-fold accuracy of the property's rule), ``n_values`` (distinct values, missing
        counted as one), ``missing`` (fraction of items without a value), ``flagged``
        (``auc >= threshold``) and ``note``.
    flagged : list of str
        Names of the flagged properties, highest AUC first.
    n_items : int
        Number of audited items.
    class_balance : dict
        ``{label: count}``.
    threshold : float
        The AUC at or above which a property is flagged.
    n_splits : int
        Number of cross-validation folds.
    values : pandas.DataFrame
        The property values read from each item, shape (n_items, n_properties), in input order.
    status : pandas.DataFrame
        One row per item with ``index``, ``source``, ``status`` ("ok"/"error") and ``error``.
    kind : {"image", "video"}
        What was audited (:data:`PROPERTIES` or :data:`VIDEO_PROPERTIES`).
    """

    table: pd.DataFrame
    flagged: list
    n_items: int
    class_balance: dict
    threshold: float = 0.8
    n_splits: int = 5
    values: pd.DataFrame = field(default=None)
    status: pd.DataFrame = field(default=None)
    kind: str = "image"

    @property
    def warning_message(self):
        """The shortcut warning (empty string when nothing is flagged)."""
        if not self.flagged:
            return ""
        singles = [p for p in self.flagged if p != COMBINED]
        auc = self.table["auc"]
        if singles:
            shown = ", ".join(f"{p} alone (AUC {auc[p]:.2f})" for p in singles[:4])
            more = f" and {len(singles) - 4} more" if len(singles) > 4 else ""
            what = f"the label can be predicted from {shown}{more}"
        else:
            what = (f"the label can be predicted from the non-pixel properties combined "
                    f"(AUC {auc[COMBINED]:.2f})")
        return (f"SHORTCUT WARNING: {what}, without looking at the pixels. A detector trained or "
                f"evaluated on these items can score by learning the file pipeline instead of the "
                f"forgery. Remedy: {_VIDEO_REMEDY if self.kind == 'video' else _REMEDY}.")

    def _header(self):
        balance = ", ".join(f"{k}: {v}" for k, v in self.class_balance.items())
        lines = []
        if self.flagged:
            lines.append(self.warning_message)
        else:
            top = self.table.index[0]
            lines.append(f"No shortcut found: no pixel-free property predicts the label with AUC >= "
                         f"{self.threshold:g} (highest: {top}, AUC {self.table['auc'].iloc[0]:.2f}).")
        lines.append(f"{self.n_items} items (labels {balance}); {self.n_splits}-fold stratified "
                     f"out-of-fold ROC-AUC per property; flagged when AUC >= {self.threshold:g}.")
        n_err = 0 if self.status is None else int((self.status["status"] == "error").sum())
        if n_err:
            lines.append(f"{n_err} items could not be read (see .status); their properties are missing.")
        return lines

    def _rows(self):
        cols = ["property", "kind", "auc", "auc_std", "accuracy", "n_values", "missing", "flagged", "note"]
        rows = [cols]
        for name, r in self.table.iterrows():
            rows.append([
                name, r["kind"], f"{r['auc']:.3f}", f"{r['auc_std']:.3f}", f"{r['accuracy']:.3f}",
                str(int(r["n_values"])), f"{r['missing']:.2f}", "YES" if r["flagged"] else "",
                r["note"],
            ])
        return rows

    def __str__(self):
        rows = self._rows()
        widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
        right = {2, 3, 4, 5, 6}
        fmt = [
            "  ".join(c.rjust(w) if j in right else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))).rstrip()
            for row in rows
        ]
        fmt.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(self._header() + [""] + fmt)

    def to_markdown(self):
        """The report as Markdown: the warning (if any), a summary line and a pipe table."""
        rows = self._rows()
        head = self._header()
        if self.flagged:
            head[0] = f"**{head[0]}**"
        table = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
        table += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows[1:]]
        return "\n\n".join(head) + "\n\n" + "\n".join(table) + "\n"

    def __repr__(self):
        return (f"AuditReport(n_items={self.n_items}, flagged={self.flagged!r}, "
                f"max_auc={self.table['auc'].max():.3f})")


# -- the entry point ------------------------------------------------------------------------------

def _check_params(cv, threshold, n_jobs, progress, warn, on_error):
    if not (isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) and 0.5 <= threshold <= 1):
        raise ValueError(f"threshold must be a number in [0.5, 1], got {threshold!r}")
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool) and cv < 2:
        raise ValueError(f"cv must be an int >= 2 or a cross-validation splitter, got {cv!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0):
        raise ValueError(f"n_jobs must be None or a non-zero int, got {n_jobs!r}")
    for name, value in (("progress", progress), ("warn", warn)):
        if value not in (True, False):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be one of ['raise', 'nan'], got {on_error!r}")


def audit(X, y, *, cv=5, threshold=0.8, random_state=0, n_jobs=None, progress=False, warn=True,
          on_error="raise"):
    """Measure how well trivial, pixel-free file properties predict the label (shortcut audit).

    Each item's container header is parsed (no pixel is decoded) for its format, size, file
    size, JPEG quantization tables and quality, chroma subsampling, progressive flag, EXIF and
    ICC markers (:data:`PROPERTIES`); when every item is a video file, its container, codec,
    size, rotation, frame rate, frame count, duration, file size, bit rate, bits per pixel and
    keyframe interval instead (:data:`VIDEO_PROPERTIES`, read by
    :func:`forensics.media.video_info` from the headers and a packet scan, no frame decoded). For each property a one-column model is cross-validated against ``y``; the
    out-of-fold ROC-AUC says how much of the label that property gives away. A data set whose
    label can be read off the file pipeline cannot tell you whether a detector sees forgeries.

    Parameters
    ----------
    X : sequence of images, or of video paths
        Paths or encoded bytes (in-memory arrays have no container: only their size is audited);
        or paths of video files (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm``), all of them.
    y : array-like of shape (n_items,)
        Binary labels (fake = 1, real = 0).
    cv : int, cross-validation splitter or None, default=5
        An int gives ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``; None gives
        scikit-learn's default, ``StratifiedKFold(5)`` without shuffling.
    threshold : float in [0.5, 1], default=0.8
        A property is flagged when its out-of-fold AUC is at or above this.
    random_state : int, default=0
        Seed of the folds and of the models.
    n_jobs : int or None
        Items whose headers are read in parallel by joblib (None = 1).
    progress : bool, default=False
        Show a progress bar while reading the headers.
    warn : bool, default=True
        Emit a :class:`ShortcutWarning` when a property is flagged.
    on_error : {"raise", "nan"}, default="raise"
        "raise": an unreadable item raises :class:`~forensics.media.ItemError` naming it. "nan":
        its properties are missing (a category of their own) and ``report.status`` records it.

    Returns
    -------
    AuditReport
        ``print(report)`` shows the warning, the remedy and the table.

    Raises
    ------
    ItemError
        An item cannot be read (``on_error="raise"``).
    ValueError
        ``y`` is not binary, its length differs from ``X``, or a class has fewer than ``cv`` items.

    Warns
    -----
    ShortcutWarning
        When ``warn`` is True and a property (or all of them combined) is flagged.

    See Also
    --------
    forensics.media.CodecEqualizer : re-encodes every item the same way (the remedy).
    forensics.media.equalize_jpeg : the same, for one item.

    Notes
    -----
    Scores are out-of-fold, so a property that identifies individual files (a unique size or
    table) cannot score by memorisation: the model is fitted on the training folds and scored
    on the held-out fold, and the reported ``auc`` is the mean over folds of
    ``roc_auc_score(y_test, s_test)``.

    - Categorical properties (format, quantization-table hash, subsampling; missing is its own
      category): ``s`` is the target encoding learned on the training folds,
      ``s(c) = lambda_c mean(y | c) + (1 - lambda_c) prior`` with scikit-learn's empirical-Bayes
      shrinkage ``lambda_c = n_c / (n_c + var_c / var_y)`` (:class:`~sklearn.preprocessing.TargetEncoder`);
      a category unseen in training gets the training prior.
    - Numeric properties (missing allowed): ``s`` is ``P(y = 1)`` of a
      ``DecisionTreeClassifier(max_depth=3, min_samples_leaf=max(1, n_train // 100))`` on that
      single column (missing values go to the side that fits best), which picks the direction
      and thresholds on the training folds, so ``auc`` is reported as is (not ``max(auc, 1 - auc)``).
    - ``all_combined``: a small ``HistGradientBoostingClassifier`` (depth 3, 100 iterations) on
      all properties, categoricals as native categories (ordinal codes of the training folds;
      unseen -> missing); a numeric property without any value in a fold's training part is
      left out of that fold.
    - ``accuracy`` is the out-of-fold accuracy of ``s > 1/2`` (ties go to the training
      majority; to the first of the two sorted labels when the training part is balanced):
      compare it with the majority-class rate in ``class_balance``.
    - A property constant over the data set cannot separate anything: its AUC is 0.5 by
      definition and its note says so.

    An AUC near 1 for the quantization tables means that the two classes were saved by different
    encoders or at different qualities. Equalizing (centre crop, one JPEG re-encoding for every
    item) removes the table and size shortcuts; it does not erase the compression history in the
    pixels, which a detector may still exploit.

    References
    ----------
    .. [1] Geirhos et al., "Shortcut learning in deep neural networks", Nature Machine
       Intelligence 2, 665-673 (2020), doi:10.1038/s42256-020-00257-z.
    .. [2] Kee, Johnson & Farid, "Digital image authentication from JPEG headers", IEEE TIFS
       6(3), 2011, doi:10.1109/TIFS.2011.2128309.

    Examples
    --------
    >>> import io, warnings
    >>> import numpy as np
    >>> from PIL import Image
    >>> from forensics.inspection import audit
    >>> rng = np.random.default_rng(0)
    >>> def jpeg(q):
    ...     buf = io.BytesIO()
    ...     Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG", quality=q)
    ...     return buf.getvalue()
    >>> X = [jpeg(90) for _ in range(20)] + [jpeg(95) for _ in range(20)]
    >>> y = [0] * 20 + [1] * 20
    >>> report = audit(X, y, warn=False)
    >>> "jpeg_quant_tables" in report.flagged, bool(report.table.loc["format", "flagged"])
    (True, False)
    >>> float(report.table.loc["jpeg_quant_tables", "auc"])
    1.0
    """
    _check_params(cv, threshold, n_jobs, progress, warn, on_error)
    seq = as_item_sequence(X)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(seq):
        raise ValueError(f"y must be 1-D with one label per item: got shape {y.shape} for {len(seq)} items")
    labels, y01 = np.unique(y, return_inverse=True)
    if len(labels) != 2:
        raise ValueError(f"audit needs binary labels (fake = 1, real = 0), got {len(labels)} distinct: {labels[:5]}")
    counts = np.bincount(y01)
    splitter = (StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
                if isinstance(cv, numbers.Integral) else check_cv(cv, y01, classifier=True))
    n_splits = splitter.get_n_splits()
    if isinstance(cv, numbers.Integral) and counts.min() < cv:
        raise ValueError(f"the smaller class has {counts.min()} items, fewer than cv={cv} folds")

    video = len(seq) > 0 and all(_is_video(seq[i]) for i in range(len(seq)))
    props = VIDEO_PROPERTIES if video else PROPERTIES
    values, status = _read_properties(seq, n_jobs, on_error, progress, video)
    splits = list(splitter.split(np.zeros((len(y01), 1)), y01))

    records = []
    for name, (kind, _) in props.items():
        col = values[name]
        missing = float(col.isna().mean())
        if kind == "categorical":
            data = _categorical(col)
        else:
            data = col.to_numpy(dtype=np.float64)[:, None]
        # NaN is a value of its own here: count distinct values with missing as one.
        n_values = int(pd.Series(data[:, 0]).nunique(dropna=False))
        if n_values == 1:
            auc, auc_std, acc, note = 0.5, 0.0, counts.max() / len(y01), "constant over the data set"
        else:
            with config_context(skip_parameter_validation=True):
                auc, auc_std, acc = _evaluate(kind, data, y01, splits, random_state)
            unique = kind == "categorical" and n_values == len(y01)
            note = "unique per item: cannot generalise out of fold" if unique else ""
        records.append((name, kind, auc, auc_std, acc, n_values, missing, note))

    cat_cols = [n for n, (k, _) in props.items() if k == "categorical"]
    # a column without any value carries nothing (and gradient boosting cannot bin it)
    num_cols = [n for n, (k, _) in props.items() if k == "numeric" and values[n].notna().any()]
    frame = values.copy()
    for n in cat_cols:
        frame[n] = _categorical(frame[n])[:, 0]
    n_distinct = len(frame.astype(str).drop_duplicates())
    if n_distinct == 1:
        records.append((COMBINED, "combined", 0.5, 0.0, counts.max() / len(y01), 1, 0.0,
                        "constant over the data set"))
    else:
        # A few thousand rows: one OpenMP thread is fastest and immune to oversubscription.
        with config_context(skip_parameter_validation=True), threadpool_limits(1, user_api="openmp"):
            auc, auc_std, acc = _evaluate("combined", frame, y01, splits, random_state,
                                          cat_cols=cat_cols, num_cols=num_cols)
        records.append((COMBINED, "combined", auc, auc_std, acc, n_distinct,
                        float(values.isna().any(axis=1).mean()), "all properties, gradient boosting"))

    table = pd.DataFrame(records, columns=["property", "kind", "auc", "auc_std", "accuracy", "n_values",
                                           "missing", "note"]).set_index("property")
    table.insert(6, "flagged", table["auc"] >= threshold)
    # ties: the property with fewer distinct values is the plainer shortcut, listed first
    table = table.sort_values(["auc", "n_values"], ascending=[False, True], kind="stable")
    report = AuditReport(
        table=table,
        flagged=list(table.index[table["flagged"]]),
        n_items=len(y01),
        class_balance={(lab.item() if hasattr(lab, "item") else lab): int(c) for lab, c in zip(labels, counts)},
        threshold=float(threshold),
        n_splits=n_splits,
        values=values,
        status=status,
        kind="video" if video else "image",
    )
    if warn and report.flagged:
        warnings.warn(report.warning_message, ShortcutWarning, stacklevel=2)
    return report
