"""A resumable preprocessing cache: face crops (and optional features) for every item of a manifest."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ._folder import VIDEO_SUFFIXES
from ._manifest import read_manifest_csv

__all__ = ["ExtractionResult", "QualityReport", "extract_faces"]

_RECORD_COLUMNS = ["row", "path", "label", "method", "frame_index", "time_s", "face_index", "face_found", "n_faces",
                   "score", "x", "y", "w", "h", "box_x", "box_y", "box_side", "track_id", "detection", "rotation",
                   "mirror", "orientation", "sar", "crop_path"]


@dataclass
class QualityReport:
    """What an extraction produced, and what looks wrong.

    Attributes
    ----------
    n_items, n_frames, n_crops : int
        Items (videos or images) processed, frames sampled, crops written.
    face_rate : pandas.DataFrame
        Fraction of sampled frames with a face, per label and per method.
    class_balance : dict
        Items per label.
    box_sides : dict
        min / median / max of the square crop box side in source pixels (before resizing).
    warnings : list of str
        Anomalies: a face-found rate below ``min_face_rate`` for a class or method, items with no
        face at all, items that could not be (fully) decoded, a class imbalance above 3:1.
    """

    n_items: int
    n_frames: int
    n_crops: int
    face_rate: pd.DataFrame
    class_balance: dict
    box_sides: dict
    warnings: list = field(default_factory=list)

    def __str__(self):
        lines = [f"{self.n_items} items, {self.n_frames} frames sampled, {self.n_crops} face crops",
                 f"class balance: {self.class_balance}",
                 "crop box side (source px): " + ", ".join(f"{k} {v:.0f}" for k, v in self.box_sides.items()),
                 "face-found rate:", self.face_rate.to_string(float_format=lambda v: f"{v:.3f}")]
        lines += [f"WARNING: {w}" for w in self.warnings] or ["no anomalies found"]
        return "\n".join(lines)


@dataclass
class ExtractionResult:
    """What :func:`extract_faces` returns: the crop manifest, every frame's record, the report, per-item status,
    and how many items' crops an earlier run had written (``n_reused``: taken as they were, not recomputed)."""

    crops: pd.DataFrame
    records: pd.DataFrame
    report: QualityReport
    status: pd.DataFrame | None = None
    n_reused: int = 0


def _key(path, occurrence):
    """The item's folder and file name under ``out_dir``: readable stem plus a hash of the path.

    A name with undecodable bytes (lone surrogates, as ``os.fsdecode`` holds Latin-1 bytes on a
    UTF-8 system) is hashed by its bytes, and those bytes read ``_`` in the stem, so the key is
    valid text that a CSV table can hold; other names keep the key they always had.
    """
    digest = hashlib.sha1(f"{path}\x00{occurrence}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
    stem = re.sub("[\udc80-\udcff]", "_", Path(str(path)).stem[:40])
    return f"{stem}-{digest}"


def _item_keys(paths):
    """The ``_key`` of each manifest row, in order: a path listed again gets its next occurrence."""
    seen, keys = {}, []
    for p in paths:
        seen[p] = seen.get(p, -1) + 1
        keys.append(_key(p, seen[p]))
    return keys


def _atomic_write(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _out_of_memory(exc):
    """True for an allocation failure, whether Python's or OpenCV's."""
    import cv2

    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, cv2.error) and ("insufficient memory" in text or "failed to allocate" in text)


def _image_faces(cropper, path, row_id):
    """Crops and records of a still image in display orientation, with its EXIF orientation.

    Memory: the decoded image plus at most one uint8 RGB copy (a few bytes per pixel); the
    detector sees a copy downscaled to ``detect_size``. An allocation failure becomes an
    :class:`ItemError` naming the item and its size.
    """
    from ..media import ItemError, load_item
    from ..media._faces import _display_image
    from ..media._item import path_text

    item = load_item(path, row_id)
    size = ""
    try:
        header = item.header
        if header is not None:
            w, h = header.size
            size = f" ({w}x{h}, {w * h / 1e6:.0f} megapixels)"
        rgb, orientation = _display_image(item)
        del item
        crops, recs = cropper.crop(rgb, 0)
    except ItemError:
        raise
    except Exception as exc:
        if _out_of_memory(exc):
            raise ItemError(row_id, path_text(str(path)),
                            f"out of memory while decoding or searching the image for faces{size}") from None
        raise
    return crops, recs, orientation


def _feature_rows(features, crops, row_id, path, frame_indices):
    """Feature rows of an item's crops in batches; a failing crop is NaN when ``features.on_error == "nan"``."""
    from ..features._video import _crop_rows
    from ..media import ItemError

    try:
        return _crop_rows(features, crops, row_id, path, frame_indices)
    except ItemError:
        if getattr(features, "on_error", "raise") != "nan":
            raise
    rows = np.full((len(crops), features.n_features_out_), np.nan)
    for k, (crop, frame_index) in enumerate(zip(crops, frame_indices)):
        try:
            rows[k] = _crop_rows(features, [crop], row_id, path, [frame_index])[0]
        except ItemError:
            pass
    return rows


def _process(row_id, row, out, cropper, n_frames, every, features):
    """Crop one item; write its crops, records (and features); the done marker is written last."""
    import cv2

    from ..media import ItemError, iter_display, read_display_frames
    from ..media._item import path_text

    path = row["path"]
    shown = path_text(str(path))  # undecodable bytes of a name escaped: the tables (CSV, JSON) hold text
    key = row["_key"]
    crop_dir = out / "crops" / key
    crop_dir.mkdir(parents=True, exist_ok=True)
    status, error = "ok", ""
    rotation, mirror, orientation, sar = 0, False, 1, 1.0
    stream, video_streams = -1, 0  # which video stream was read, of how many (-1, 0: an image or an unread file)
    crops, recs, n_sampled, per_frame = [], [], 0, {}
    try:
        if str(path).lower().endswith(VIDEO_SUFFIXES):
            video, rotation, sar = read_display_frames(path, n=n_frames, every=every, index=row_id)
            mirror = bool(video.mirror_applied)
            per_frame = video.per_frame()  # each frame's time and display transform (they may change mid-stream)
            stream, video_streams = int(video.info.stream), int(video.info.video_streams)
            n_sampled = len(video.frames)
            if video.errors:  # missing frames are among them (read_frames reports each)
                status, error = "partial", "; ".join(video.errors)
            try:
                crops, recs = cropper.crop_frames(iter_display(video))
            except Exception as exc:
                if _out_of_memory(exc):
                    raise ItemError(row_id, shown, "out of memory while searching the frames for faces") from None
                raise
            del video
        else:
            crops, recs, orientation = _image_faces(cropper, path, row_id)
            n_sampled = 1
    except ItemError as exc:
        crops, recs, status, error = [], [], "error", exc.reason
    if status != "error" and n_sampled and not any(r.face_found for r in recs):
        error = f"no face found in any of the {n_sampled} sampled frames" + (f"; {error}" if error else "")
        status = "no_face"
    records, found = [], []
    crops = iter(crops)
    for r in recs:
        # NaN time for a still image (no timeline) or an unread video
        when, rot, mir, ratio = per_frame.get(r.frame_index, (np.nan, rotation, mirror, sar))
        geometry = (r.track_id, r.detection, rot, mir, orientation, ratio)
        if not r.face_found:
            records.append((row_id, shown, row["label"], row["method"], r.frame_index, when, -1, False, r.n_faces,
                            np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, *geometry, ""))
            continue
        img = next(crops)
        name = f"{r.frame_index:06d}_{r.face_index:02d}.png"
        cv2.imwrite(str(crop_dir / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))  # PNG: lossless
        x, y, w, h = r.bbox
        # the crop square in the displayed frame (shifted inside it at a border): frame[y0:y0 + side, x0:x0 + side]
        x0, y0, side = (float(v) for v in r.box[:3]) if r.box is not None else (np.nan,) * 3
        records.append((row_id, shown, row["label"], row["method"], r.frame_index, when, r.face_index, True, r.n_faces,
                        float(r.score), x, y, w, h, x0, y0, side, *geometry, str(Path("crops") / key / name)))
        found.append((img, r.frame_index))
    table = pd.DataFrame(records, columns=_RECORD_COLUMNS)
    table.to_csv(out / "records" / f"{key}.csv", index=False)
    if features is not None:
        rows = (_feature_rows(features, [c for c, _ in found], row_id, shown, [f for _, f in found]) if found
                else np.empty((0, features.n_features_out_)))
        np.save(out / "features" / f"{key}.npy", rows)
    _atomic_write(out / "done" / f"{key}.json", json.dumps(dict(path=shown, status=status, error=error,
                                                                 rotation=rotation, mirror=mirror,
                                                                 orientation=orientation, sar=sar, stream=stream,
                                                                 video_streams=video_streams)))
    # a listed file that is not there (a DFDC part not yet downloaded): cropped again by the run that finds it
    missing = out / "done" / f"{key}.missing"
    if status == "error" and isinstance(path, (str, os.PathLike)) and not os.path.lexists(path):
        missing.touch()
    else:
        missing.unlink(missing_ok=True)  # after the new marker: an interruption in between only redoes the item
    return key


def extract_faces(manifest, out_dir, *, detector="auto", model_path=None, n_frames=32, every=None, margin=1.3,
                  size=256, select="largest", detect_size=640, features=None, min_face_rate=0.8, n_jobs=None,
                  progress=True):
    """Face crops for every item of a manifest, written incrementally and resumable.

    For each row (a video, or an image treated as a one-frame video) in manifest order: sample
    frames, detect faces and follow each person across the frames (the selected track only, so
    an item's crops never mix people), write each crop as a lossless PNG under
    ``out_dir/crops/<key>/``, its
    records (every sampled frame, faces found or not) under ``out_dir/records/`` and, when
    ``features`` is given, the crops' feature rows under ``out_dir/features/``; a ``done/``
    marker is written last, atomically. Running again after an interruption skips the items
    whose marker exists and redoes the rest, so the final outputs are identical to an
    uninterrupted run and no crop is duplicated. An item whose file was missing (status "error",
    file not found: a video a DFDC ``metadata.json`` lists before it is downloaded) is done only
    until the file is there: a run that finds it crops it. The settings the crops were made with
    are kept in ``out_dir/settings.json``; a run asking for others (detector, its model file,
    sampling, margin, size, selection, features) raises a ``ValueError`` naming them, rather
    than reuse crops or rows that are not what it asked for.

    Parameters
    ----------
    manifest : pandas.DataFrame
        With columns ``path``, ``label`` and ``method`` (e.g. from :mod:`forensics.datasets`).
    out_dir : str or Path
    detector, model_path, margin, size, select, detect_size
        See :class:`forensics.media.FaceCropper` and :func:`forensics.media.make_detector`.
        Detection runs on a copy downscaled to ``detect_size`` (longer side); crops are cut
        from the full-resolution picture.
    n_frames, every
        Frame sampling (see :func:`forensics.media.read_frames`).
    features : extractor, optional
        A fitted-or-not frame extractor; its rows are written per crop (computed on the batch of
        an item's crops). With ``features.on_error="nan"`` a crop it cannot process is a NaN row.
    min_face_rate : float, default=0.8
        The report warns about any class or method whose face-found rate is lower.
    n_jobs : int, optional
        Items processed in parallel (joblib).
    progress : bool, default=True

    Returns
    -------
    ExtractionResult
        ``crops``: the manifest extended to one row per crop (original columns plus
        ``crop_path`` relative to ``out_dir``, ``frame_index``, ``time_s`` (the frame's presentation
        time in seconds from the video's first shown frame, as ``read_frames`` gives it: exact for a
        variable frame rate; NaN for a still image), ``face_index``, ``score``, the face's box
        ``x, y, w, h``, the crop square ``box_x, box_y, box_side`` (the crop is
        ``frame[box_y:box_y + box_side, box_x:box_x + box_side]`` resized to ``size``: a square
        crossing a border is shifted inside the frame, see :func:`forensics.media.square_box`),
        ``track_id``, ``detection`` and the geometry columns below; also written as
        ``out_dir/crops.csv``); ``records``: every sampled frame (``out_dir/records.csv``);
        ``status``: one row per item (``path, status, error, rotation, mirror, orientation, sar,
        stream, video_streams``: the video stream read, by position among the file's video streams,
        and how many it holds; -1 and 0 for an image or a file that could not be read; status "ok",
        "partial", "no_face" or "error"); ``report``: a :class:`QualityReport`
        (``out_dir/report.txt``); ``n_reused``: the items whose crops an earlier (interrupted) run
        had written, taken as they are.

    Notes
    -----
    Geometry: detection and crops use what a viewer sees. ``rotation`` is the display rotation
    applied to the frame (degrees counter-clockwise; 0 for images; per crop the frame's own, which
    may change mid-stream; in ``status`` the first sampled frame's), ``mirror`` whether a display flip
    was applied (videos, per frame as ``rotation``; an image's flips are in its orientation),
    ``orientation`` the EXIF orientation applied to a still image (1-8; 1 for videos), ``sar`` the pixel aspect ratio
    resampled to square pixels (1.0 = square; per crop the frame's own, which may change
    mid-stream; in ``status`` the first sampled frame's). Box coordinates are in that geometry.

    Names: a path whose file name holds bytes that are not valid text (lone surrogates from
    ``os.fsdecode``, e.g. a Latin-1 name on a UTF-8 system; only an ``object`` column of a
    hand-built manifest can hold one) is read as any other; the ``path`` of ``crops``,
    ``records`` and ``status`` names it with those bytes escaped (``caf\\udce9.mp4``, as item
    errors name it), since a CSV or JSON table holds only text.

    Memory per item: a video holds its sampled frames; a still image its decoded pixels plus
    at most one uint8 copy (a few bytes per pixel), and the detector sees a small copy. An
    allocation failure is recorded as that item's error (status "error", the reason naming
    its size), not raised.
    """
    from joblib import delayed
    from sklearn.base import clone

    from .._parallel import run_in_order
    from .._tables import feature_fingerprint
    from ..media import FaceCropper, make_detector, resolve_detector

    for column in ("path", "label", "method"):
        if column not in manifest.columns:
            raise ValueError(f"the manifest needs a {column!r} column (got {list(manifest.columns)})")
    out = Path(out_dir)
    for sub in ("crops", "records", "done", "features"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rows = manifest.reset_index(drop=True).copy()
    keys = _item_keys(rows["path"])
    rows["_key"] = keys
    if features is not None:
        features = clone(features).fit()
    # what the crops (and rows) in out were made with: a rerun asking for others is refused, not served them;
    # frame sampling counts only where a video is listed (an image is one frame whatever n_frames says)
    videos = any(str(p).lower().endswith(VIDEO_SUFFIXES) for p in rows["path"])
    _check_settings(out, dict(
        detector=resolve_detector(detector, model_path) if isinstance(detector, str) else None,
        model_path=None if model_path is None else os.fspath(model_path), n_frames=n_frames if videos else None,
        every=every if videos else None, margin=margin, size=size, select=select, detect_size=detect_size,
        features=None if features is None else feature_fingerprint(features)))
    det = make_detector(detector, model_path=model_path) if isinstance(detector, str) else detector
    cropper = FaceCropper(det, margin=margin, size=size, select=select, detect_size=detect_size)
    # an item is done once its marker is written; one that failed because its file was missing is done until
    # the file is there (a rerun then crops it: the rows of a DFDC metadata.json whose videos came later)
    missing = {p.stem for p in (out / "done").glob("*.missing")}
    todo = [i for i, k in enumerate(keys) if not (out / "done" / f"{k}.json").exists()
            or (k in missing and os.path.lexists(rows["path"].iloc[i]))]
    bar = tqdm(total=len(rows), initial=len(rows) - len(todo), desc="extract", unit="item", disable=not progress)
    try:
        jobs = (delayed(_process)(i, rows.iloc[i], out, cropper, n_frames, every, features) for i in todo)
        for _ in run_in_order(jobs, n_jobs):  # each item persists its own outputs (forensics._parallel)
            bar.update(1)
    finally:
        bar.close()
    result = _collect(rows, out, features, min_face_rate)
    result.n_reused = len(rows) - len(todo)
    return result


def _check_settings(out, settings):
    """Refuse an ``out`` whose crops were made with other settings (``out/settings.json``), naming what
    differs; write the settings of a first run. A rerun reused every item's crops (and feature rows)
    whatever it asked: crops of another detector recorded as this one's, or rows of other features
    failing as "Shape of passed values is (24, 41), indices imply (24, 8)". A detector instance is
    not compared (None); a folder from before this file was written is taken as it is."""
    settings = json.loads(json.dumps(settings, sort_keys=True, default=repr))
    path = out / "settings.json"
    if not path.exists():
        if not any((out / "done").glob("*.json")):
            _atomic_write(path, json.dumps(settings, sort_keys=True))
        return
    old = json.loads(path.read_text(encoding="utf-8"))
    keys = [k for k in settings if old.get(k) != settings[k]
            and not (k in ("detector", "n_frames") and None in (old.get(k), settings[k]))  # an instance; images
            and not (k == "features" and settings[k] is None)]  # rows not asked for: those written are not read
    if keys:
        def shown(x, k):
            if k != "features" or not x.get(k):
                return repr(x.get(k))
            names = [str(e.get("class", "?")).rsplit(".", 1)[-1] for e in x[k]]
            same = [str(e.get("class", "?")).rsplit(".", 1)[-1] for e in (old if x is settings else settings)[k] or []]
            return repr(names) + (" (other parameters)" if names == same else "")

        def show(x):
            return ", ".join(f"{k}={shown(x, k)}" for k in keys)

        raise ValueError(f"{out} holds face crops made with {show(old)}; this run asks for {show(settings)}: use "
                         "another output folder, or delete it to start again")


def done_items(paths, out_dir):
    """How many of the items ``paths`` (a manifest's path column, in order) have their crops written
    under ``out_dir`` (their ``done/`` marker): what a rerun of :func:`extract_faces` reuses."""
    done = Path(out_dir) / "done"
    return sum((done / f"{key}.json").exists() for key in _item_keys(paths))


def _collect(rows, out, features, min_face_rate):
    # a file named "NA" or a method named "None" must come back as written, not as missing
    parts = [read_manifest_csv(out / "records" / f"{k}.csv") for k in rows["_key"]]
    records = pd.concat(parts, ignore_index=True)
    # An item's records were written when it was processed, with its row and labels in that run's manifest:
    # a run resumed with the manifest in another order (or relabelled) joined each crop to another row's
    # columns (group...) and kept the old labels. The row is the item's place now, the labels those given now.
    now = np.repeat(np.arange(len(rows)), [len(part) for part in parts])
    records["row"] = now
    for column in ("label", "method"):
        records[column] = rows[column].to_numpy()[now]
    records["crop_path"] = records["crop_path"].astype(object).fillna("")
    status = pd.DataFrame([json.loads((out / "done" / f"{k}.json").read_text()) for k in rows["_key"]])
    records["face_found"] = records["face_found"].astype(bool)  # an all-empty table reads as object
    found = records[records["face_found"]]
    extra = [c for c in rows.columns if c not in ("_key",) and c not in found.columns]
    crops = found.merge(rows[extra].assign(row=np.arange(len(rows))), on="row", how="left")
    first = [c for c in rows.columns if c != "_key"]  # the manifest's own columns, in its order
    crops = crops[[*first, *[c for c in found.columns if c not in first and c != "row"]]]
    crops.to_csv(out / "crops.csv", index=False)
    records.to_csv(out / "records.csv", index=False)
    if features is not None:
        F = np.vstack([np.load(out / "features" / f"{k}.npy") for k in rows["_key"]])
        table = pd.DataFrame(F, columns=[str(n) for n in features.get_feature_names_out()])
        pd.concat([crops.reset_index(drop=True), table], axis=1).to_csv(out / "features.csv", index=False)
    report = _report(rows, records, status, min_face_rate)
    (out / "report.txt").write_text(str(report) + "\n")
    status.insert(0, "row", np.arange(len(status)))
    return ExtractionResult(crops.reset_index(drop=True), records, report, status)


def _report(rows, records, status, min_face_rate):
    per_frame = records.groupby(["row", "frame_index"], sort=False).agg(face=("face_found", "max"), label=("label", "first"),
                                                                          method=("method", "first")).reset_index()
    rate = pd.concat([
        per_frame.groupby("label")["face"].mean().rename(lambda v: f"label={v}"),
        per_frame.groupby("method")["face"].mean().rename(lambda v: f"method={v}"),
    ]).to_frame("face_rate")
    rate["frames"] = pd.concat([per_frame.groupby("label").size().rename(lambda v: f"label={v}"),
                                per_frame.groupby("method").size().rename(lambda v: f"method={v}")])
    warnings = [f"face-found rate {r:.1%} for {name} (below {min_face_rate:.0%})"
                for name, r in rate["face_rate"].items() if r < min_face_rate]
    faceless = per_frame.groupby("row")["face"].max()
    n_faceless = int((faceless == 0).sum())
    if n_faceless:
        warnings.append(f"{n_faceless} items have no face in any sampled frame (they have no crop)")
    bad = status[status["status"].isin(["partial", "error"])]
    if len(bad):
        first = bad.iloc[0]
        warnings.append(f"{len(bad)} items could not be fully decoded ({(bad['status'] == 'error').sum()} not at all);"
                        f" first: {first['path']}: {first['error']}")
    balance = {int(k): int(v) for k, v in rows["label"].value_counts().sort_index().items()}
    if len(balance) == 2 and max(balance.values()) > 3 * min(balance.values()):
        warnings.append(f"class imbalance above 3:1 ({balance})")
    sides = records.loc[records["face_found"], "box_side"]
    box = dict(min=float(sides.min()), median=float(sides.median()), max=float(sides.max())) if len(sides) else {}
    return QualityReport(n_items=len(rows), n_frames=len(per_frame), n_crops=int(records["face_found"].sum()),
                         face_rate=rate, class_balance=balance, box_sides=box, warnings=warnings)
