"""Video-level features: sample frames, crop faces, run a frame extractor, aggregate over time."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from joblib import delayed
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._parallel import n_workers, run_in_order
from ..media import EmptyRowsWarning, FailedItemsWarning, Item, ItemError, as_item_sequence
from ._base import BaseExtractor, compile_ahead

__all__ = ["VideoFeatures", "AGGREGATES"]

#: Aggregates over the frames of one video, in column order.
AGGREGATES = ("mean", "std", "min", "max", "tdiff")
_NO_FACE = ("skip", "frame", "nan")
_QUALITY = ("video__n_frames__sampled", "video__n_frames__used", "video__face_rate__sampled")
# Counts of frames, numbers even when no frame gave any feature value (the face rate is about the content).
_COUNTS = _QUALITY[:2]


class VideoFeatures(TransformerMixin, BaseEstimator):
    """One feature row per video: frames sampled, faces cropped, a frame extractor, temporal aggregates.

    In a Pipeline, ``X`` is a sequence of video paths and each video stays one sample (so
    labels, groups and folds stay per video). :meth:`transform_frames` gives one row per
    frame instead, with the video as the group, for frame-level training and grouped CV.

    Parameters
    ----------
    extractor : extractor, optional
        Any frame-level extractor of this library (a family, a
        :class:`~forensics.features.ForensicFeatures` bank, or a deep embedding later). Default:
        the bank with the ``"pixels"`` preset (codec features do not apply to decoded frames).
        Its parameters are reachable as ``extractor__...`` in a grid search.
    n_frames : int, default=32
        Frames sampled evenly over the video (the setting the literature reports as critical for
        reproducing results). Ignored when ``every`` is given.
    every : int, optional
        Sample every k-th frame instead.
    faces : bool, default=True
        Crop faces (False: the extractor sees whole frames). Faces are detected and cropped in
        display geometry (the video's display rotation applied, non-square pixels resampled to
        square, see :func:`forensics.media.read_display_frames`); whole frames (``faces=False``)
        keep the coded layout, so the codec's block grid stays aligned. ``status_`` and
        ``records_`` say which rotation and pixel aspect ratio were applied.
    detector : str or detector, default="auto"
        A backend name for :func:`forensics.media.make_detector` (``"yunet"``, ``"cascade"``,
        ``"mtcnn"``, ``"auto"``) or a detector instance. ``fit`` resolves ``"auto"`` to the
        backend it picks on this machine (``face_detector_``); a fitted (saved) object keeps
        cropping with that backend wherever it runs, and refuses to run where it cannot
        (``ImportError`` or ``FileNotFoundError`` naming it), never switching to another.
    model_path : str, optional
        Model file for the YuNet backend.
    margin, size, select
        Face crop parameters (see :class:`forensics.media.FaceCropper`). ``select`` picks one
        face *track* (one person, followed across the sampled frames): ``"largest"`` (default,
        the largest total box area over the frames: big and present in many frames) or
        ``"best"`` (highest total score); every crop of a row belongs to that track, so a row
        never mixes people. ``"all"`` works with :meth:`transform_frames` only.
    detect_size : int or None, default=640
        The detector sees frames downscaled to this longer side; boxes are mapped back and
        crops cut from the full-resolution frame (None: detect at full resolution). Faces are
        searched near their previous position first (see :class:`forensics.media.FaceCropper`).
    no_face : {"skip", "frame", "nan"}, default="skip"
        What a sampled frame without a face contributes: "skip" leaves it out of the aggregates,
        "frame" uses its centre square crop (resized to ``size``) instead, "nan" gives a NaN
        frame row. Every frame is recorded in ``records_`` whatever the policy. A video with no
        face in any sampled frame gets status ``"no_face"`` in ``status_`` (and a warning): its
        row is NaN under "skip" and "nan", centre crops under "frame".
    aggregate : tuple of str, default=AGGREGATES
        Per feature: ``mean``, ``std``, ``min``, ``max`` over the used frames and ``tdiff``, the
        mean absolute difference between consecutive used frames (temporal flicker).
    n_jobs : int, optional
        Videos processed in parallel by joblib.
    on_error : {"raise", "nan"}, default="raise"
        A video that cannot be read raises :class:`~forensics.media.ItemError` naming it, or
        gives a NaN row recorded in ``status_``.
    progress : bool, default=False
    max_pixels : int or None, default=None
        Largest video frame (width x height) read; None: the readers' default
        (:data:`forensics.media.DEFAULT_MAX_VIDEO_PIXELS`, 67 megapixels). A video with larger
        frames is an error row (or :class:`~forensics.media.ItemError`) naming it, before any
        decoding; a picture growing past it mid-stream is a missing frame (status "partial").

    Attributes
    ----------
    extractor_ : extractor
        The fitted frame extractor.
    face_detector_ : str or None
        With ``faces`` and a backend name: the backend that crops the faces
        (:func:`forensics.media.resolve_detector`, ``"auto"`` resolved at ``fit``); None without
        faces or with a detector instance.
    feature_names_out_ : ndarray of str
        ``<frame feature>__<aggregate>`` for every frame feature and aggregate, then the quality
        columns ``video__n_frames__sampled``, ``video__n_frames__used`` and
        ``video__face_rate__sampled`` (fraction of sampled frames with a face).
    records_ : pandas.DataFrame
        After ``transform``: one row per sampled frame and crop, frames without a face
        included: ``video, source, frame_index, time_s`` (the frame's presentation time),
        ``face_index, face_found, bbox`` (the face, ``(x, y, w, h)``), ``box`` (the crop square
        ``(x0, y0, side, side)`` of :func:`forensics.media.square_box`, shifted inside the frame at
        a border; None without a face), ``score, n_faces, used, track_id`` (the person; -1
        without a face), ``detection`` ("full", "near", or "none" without face detection),
        ``rotation`` (degrees counter-clockwise applied), ``mirror`` (a display flip applied)
        and ``sar`` (the frame's pixel aspect ratio resampled to square; 1.0 = square pixels),
        each the frame's own: they may change mid-stream (a broadcast switching between 4:3 and
        16:9, a camera writing a new display orientation).
    status_ : pandas.DataFrame
        After ``transform``: one row per video: ``index, source, status`` ("ok"; "partial"
        when some frames could not be decoded; "no_face" when faces were asked for and none
        was found in any sampled frame; "error"), ``error`` (the reason), ``rotation``,
        ``mirror``, ``sar`` (the first sampled frame's), ``stream`` (which video stream was
        read: its position among the file's video streams, the one flagged *default*, else the
        first) and ``video_streams`` (how many the file holds); -1 and 0 for a video that could
        not be opened.

    Notes
    -----
    With ``f_t`` the frame features of the used frames in time order (t = 1..T):
    ``tdiff = mean_t |f_t - f_{t-1}|`` (NaN when T < 2), ``std`` is the population standard
    deviation. Columns whose frames are all NaN aggregate to NaN.

    Examples
    --------
    >>> from forensics.features import VideoFeatures, BlurFeatures
    >>> vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=4).fit()
    >>> list(vf.get_feature_names_out()[:2])
    ['blur__laplacian_var__log__mean', 'blur__laplacian_var__log__std']
    """

    def __init__(self, extractor=None, *, n_frames=32, every=None, faces=True, detector="auto", model_path=None,
                 margin=1.3, size=256, select="largest", detect_size=640, no_face="skip", aggregate=AGGREGATES,
                 n_jobs=None, on_error="raise", progress=False, max_pixels=None):
        self.extractor = extractor
        self.n_frames = n_frames
        self.every = every
        self.faces = faces
        self.detector = detector
        self.model_path = model_path
        self.margin = margin
        self.size = size
        self.select = select
        self.detect_size = detect_size
        self.no_face = no_face
        self.aggregate = aggregate
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress
        self.max_pixels = max_pixels

    # -- parameters -------------------------------------------------------------------------------
    def _check_params(self):
        for name, low in (("n_frames", 1), ("size", 8)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if self.max_pixels is not None and (isinstance(self.max_pixels, bool)
                                            or not isinstance(self.max_pixels, numbers.Integral)
                                            or self.max_pixels < 1):
            raise ValueError(f"max_pixels must be None or an int >= 1, got {self.max_pixels!r}")
        if self.every is not None and (isinstance(self.every, bool) or not isinstance(self.every, numbers.Integral)
                                       or self.every < 1):
            raise ValueError(f"every must be None or an int >= 1, got {self.every!r}")
        if isinstance(self.margin, bool) or not isinstance(self.margin, numbers.Real) or self.margin < 1:
            raise ValueError(f"margin must be a number >= 1, got {self.margin!r}")
        if self.detect_size is not None and (isinstance(self.detect_size, bool)
                                             or not isinstance(self.detect_size, numbers.Integral)
                                             or self.detect_size < 32):
            raise ValueError(f"detect_size must be None or an int >= 32, got {self.detect_size!r}")
        if self.no_face not in _NO_FACE:
            raise ValueError(f"no_face must be one of {list(_NO_FACE)}, got {self.no_face!r}")
        if self.on_error not in ("raise", "nan"):
            raise ValueError(f"on_error must be one of ['raise', 'nan'], got {self.on_error!r}")
        if self.select not in ("largest", "best", "all"):
            raise ValueError(f"select must be one of ['largest', 'best', 'all'], got {self.select!r}")
        aggregate = (self.aggregate,) if isinstance(self.aggregate, str) else tuple(self.aggregate)
        if not aggregate or any(a not in AGGREGATES for a in aggregate) or len(set(aggregate)) != len(aggregate):
            raise ValueError(f"aggregate must be distinct names from {list(AGGREGATES)}, got {self.aggregate!r}")
        if self.extractor is not None and not isinstance(self.extractor, BaseExtractor):
            raise TypeError(f"extractor must be a frame extractor of forensics.features, got {self.extractor!r}")
        if self.n_jobs is not None and (isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, numbers.Integral)
                                        or self.n_jobs == 0):
            raise ValueError(f"n_jobs must be None or a non-zero int, got {self.n_jobs!r}")
        return aggregate

    def fit(self, X=None, y=None):
        """Validate the parameters and fit the frame extractor (no data needed)."""
        aggregate = self._check_params()
        if self.extractor is None:
            from ._bank import ForensicFeatures

            extractor = ForensicFeatures(preset="pixels")
        else:
            extractor = clone(self.extractor)
        self.extractor_ = extractor.fit()
        self.face_detector_ = None
        if self.faces and isinstance(self.detector, str):
            from ..media import resolve_detector

            try:
                self.face_detector_ = resolve_detector(self.detector, self.model_path)
            except ValueError:
                raise ValueError("detector must be 'auto', 'yunet', 'cascade', 'mtcnn' or a detector instance, got "
                                 f"{self.detector!r}") from None
        frame_names = [str(n) for n in self.extractor_.get_feature_names_out()]
        self.frame_feature_names_ = np.asarray(frame_names, dtype=object)
        self.aggregate_ = aggregate
        names = [f"{n}__{a}" for n in frame_names for a in aggregate] + list(_QUALITY)
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.n_features_out_ = len(names)
        return self

    def get_feature_names_out(self, input_features=None):
        """Aggregated column names (see the class attributes)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never drop attributes of the live object
        for key in ("status_", "records_"):  # about the last call, not the model
            state.pop(key, None)
        return state

    # -- work -------------------------------------------------------------------------------------
    def _cropper(self):
        from ..media import FaceCropper, make_detector, resolve_detector
        from ..media._faces import unavailable_reason

        detector = self.detector
        if isinstance(detector, str):
            name = getattr(self, "face_detector_", None)
            if name is None:  # fitted (saved) before the backend was recorded: what "auto" picks here, said aloud
                name = resolve_detector(detector, self.model_path)
                if detector == "auto":
                    warnings.warn("this VideoFeatures was fitted (saved) without recording which face detector "
                                  f"cropped its faces (detector='auto'); it crops with {name!r} here, which may "
                                  "differ from the one it was fitted with: refit it to record the detector",
                                  UserWarning, stacklevel=3)
            reason = unavailable_reason(name, self.model_path)
            if reason is not None:
                error = ImportError if name == "mtcnn" else FileNotFoundError
                raise error(f"cannot crop faces as fitted: {reason} (the faces were cropped with {name!r}; another "
                            "detector would crop other faces)")
            detector = make_detector(name, model_path=self.model_path)
        return FaceCropper(detector, margin=self.margin, size=self.size, select=self.select,
                           detect_size=self.detect_size)

    def _run(self, X):
        check_is_fitted(self, "extractor_")
        seq = as_item_sequence(X)
        # a long job or workers: the kernels compile before the first video, not in each worker
        compile_ahead([self.extractor_], len(seq), n_workers(self.n_jobs),
                      images_per_item=self.n_frames if self.every is None else 1)
        cropper = self._cropper() if self.faces else None
        jobs = (delayed(_video_frames)(self, cropper, seq[i], i) for i in range(len(seq)))
        results = run_in_order(jobs, self.n_jobs)  # in order, wherever they run (forensics._parallel)
        out = []
        for res in tqdm(results, total=len(seq), desc="videos", unit="video", disable=not self.progress,
                        leave=False):
            out.append(res)
        return out

    def transform(self, X):
        """One aggregated row per video.

        Parameters
        ----------
        X : sequence of video paths

        Returns
        -------
        ndarray of shape (n_videos, n_features_out_)

        Raises
        ------
        ValueError
            With ``faces=True`` and ``select="all"``: a row aggregating every face track would
            mix people (use :meth:`transform_frames` for one row per face).
        """
        check_is_fitted(self, "extractor_")
        if self.faces and self.select == "all":
            raise ValueError("select='all' keeps every face track, and one row per video would mix people; use "
                             "select='largest' or 'best', or transform_frames (one row per face, with its track_id)")
        results = self._run(X)
        rows = [_aggregate(r["frames"], r["n_sampled"], r["n_faces"], self.aggregate_, len(self.frame_feature_names_))
                if r["status"] != "error" else np.full(self.n_features_out_, np.nan) for r in results]
        self._record(results, stacklevel=4)  # scikit-learn's set_output wraps transform: one frame more
        out = np.vstack(rows) if rows else np.empty((0, self.n_features_out_))
        keep = [n not in _COUNTS for n in self.feature_names_out_]
        _warn_empty(results, out[:, keep], stacklevel=3)
        return out

    def transform_frames(self, X):
        """One row per used frame (or face) instead of per video, for frame-level models.

        Returns
        -------
        features : ndarray of shape (n_rows, n_frame_features)
        meta : pandas.DataFrame
            Per row: ``video`` (position in ``X``, use it as the CV group), ``source``,
            ``frame_index``, ``time_s`` (the frame's presentation time in seconds from the
            video's first shown frame, from its timestamp: exact for a variable frame rate),
            ``face_index`` (-1 for a whole-frame row) and ``track_id`` (the face track, i.e. the
            person; -1 without a face).
        """
        results = self._run(X)
        self._record(results, stacklevel=3)
        blocks, meta = [], []
        for r in results:
            for (frame_index, time_s, face_index, track_id), values in zip(r["keys"], r["frames"]):
                blocks.append(values)
                meta.append((r["index"], r["source"], frame_index, time_s, face_index, track_id))
        n = len(self.frame_feature_names_)
        features = np.vstack(blocks) if blocks else np.empty((0, n))
        meta = pd.DataFrame(meta, columns=["video", "source", "frame_index", "time_s", "face_index", "track_id"])
        return features, meta.astype({"time_s": "float64"})

    def _record(self, results, stacklevel):
        """Set ``status_`` and ``records_``; warn about failed and faceless videos at the caller's line."""
        self.status_ = pd.DataFrame([(r["index"], r["source"], r["status"], r["error"], r["rotation"], r["mirror"],
                                      r["sar"], r["stream"], r["video_streams"]) for r in results],
                                    columns=["index", "source", "status", "error", "rotation", "mirror", "sar",
                                             "stream", "video_streams"])
        records = [rec for r in results for rec in r["records"]]
        self.records_ = pd.DataFrame(records, columns=list(_RECORD_COLUMNS))
        failed = self.status_[self.status_["status"] == "error"]
        if len(failed):
            first = failed.iloc[0]
            warnings.warn(f"{len(failed)} of {len(results)} videos could not be read and are NaN rows (see status_); "
                          f"first: video {first['index']} ({first['source']}): {first['error']}", FailedItemsWarning,
                          stacklevel=stacklevel)
        faceless = self.status_[self.status_["status"] == "no_face"]
        if len(faceless):
            warnings.warn(f"{len(faceless)} of {len(results)} videos have no face in any sampled frame (status "
                          f"'no_face' in status_, no_face={self.no_face!r}); first: video "
                          f"{faceless.iloc[0]['index']} ({faceless.iloc[0]['source']})", RuntimeWarning,
                          stacklevel=stacklevel)


def _warn_empty(results, content, stacklevel):
    """Warn about videos read without any value besides their frame counts (every frame feature NaN).

    Videos without a face are left out (they have their own warning and a face rate of 0). The
    category is the item layer's (:class:`~forensics.media.EmptyRowsWarning`), which ``forensics
    predict`` filters and records per item instead.
    """
    read = np.array([r["status"] in ("ok", "partial") for r in results], dtype=bool)
    if not content.shape[1] or not read.any():
        return
    empty = np.flatnonzero(read & np.isnan(content).all(axis=1))
    if empty.size:
        first = results[int(empty[0])]
        warnings.warn(f"{empty.size} of {len(results)} videos were read but have no value in any of the "
                      f"{content.shape[1]} columns besides the frame counts (every frame feature NaN, e.g. frames "
                      f"smaller than the families need): a model would score them from imputed values only; first: "
                      f"video {first['index']} ({first['source']})", EmptyRowsWarning, stacklevel=stacklevel + 1)


_RECORD_COLUMNS = ("video", "source", "frame_index", "time_s", "face_index", "face_found", "bbox", "box", "score",
                   "n_faces", "used", "track_id", "detection", "rotation", "mirror", "sar")


def _video_frames(vf, cropper, obj, index):
    """Frame feature rows of one video, with its face records and status."""
    source = str(obj)
    # n_sampled and n_faces are set by _fill (an error row has neither: it is all NaN)
    res = dict(index=index, source=source, status="ok", error="", frames=[], keys=[], records=[], rotation=0,
               mirror=False, sar=1.0, stream=-1, video_streams=0)
    try:
        _fill(vf, cropper, obj, index, res)
    except ItemError as exc:
        if vf.on_error == "raise":
            raise
        res.update(status="error", error=exc.reason, frames=[], keys=[], records=[])
    except MemoryError:
        exc = ItemError(index, source, "out of memory while processing the video's frames")
        if vf.on_error == "raise":
            raise exc from None
        res.update(status="error", error=exc.reason, frames=[], keys=[], records=[])
    return res


def _fill(vf, cropper, obj, index, res):
    from ..media import DEFAULT_MAX_VIDEO_PIXELS, iter_display, read_display_frames, read_frames

    source = res["source"]
    limit = DEFAULT_MAX_VIDEO_PIXELS if vf.max_pixels is None else vf.max_pixels
    if cropper is None:
        # whole frames keep the coded layout: the codec's block grid stays aligned (nothing applied)
        video = read_frames(obj, n=vf.n_frames, every=vf.every, index=index, display=False, max_pixels=limit)
        frames = ((int(i), f) for i, f in zip(video.indices, video.frames))
    else:
        video, res["rotation"], res["sar"] = read_display_frames(obj, n=vf.n_frames, every=vf.every, index=index,
                                                                 max_pixels=limit)
        res["mirror"] = bool(video.mirror_applied)
        frames = iter_display(video)
    res["stream"], res["video_streams"] = int(video.info.stream), int(video.info.video_streams)
    problems = "; ".join(video.errors)  # missing frames are among them (read_frames reports each)
    if problems:
        res.update(status="partial", error=problems)
    res["n_sampled"] = len(video.frames)
    rot, mirror, sar = res["rotation"], res["mirror"], res["sar"]
    per_frame = video.per_frame()  # each frame's time and display transform (they may change mid-stream)

    def time_of(frame_index):
        return per_frame[frame_index][0] if frame_index in per_frame else np.nan

    def transform_of(frame_index):
        return per_frame[frame_index][1:] if frame_index in per_frame else (rot, mirror, sar)

    todo = []  # (frame_index, face_index, track_id, image or None for a NaN row)
    if cropper is None:
        res["n_faces"] = None  # no detection: the face rate is undefined, not 0
        for frame_index, frame in frames:
            todo.append((frame_index, -1, -1, frame))
            res["records"].append((index, source, frame_index, time_of(frame_index), -1, False, None, None,
                                   np.nan, 0, True, -1, "none", rot, mirror, sar))
    else:
        centres = {}
        if vf.no_face == "frame":
            def keep_centres(pairs):
                for frame_index, frame in pairs:
                    centres[frame_index] = _centre_square(frame, vf.size)
                    yield frame_index, frame
            frames = keep_centres(frames)
        crops, records = cropper.crop_frames(frames)
        crops = iter(crops)
        res["n_faces"] = len({r.frame_index for r in records if r.face_found})
        for r in records:
            used = r.face_found or vf.no_face != "skip"
            res["records"].append((index, source, r.frame_index, time_of(r.frame_index), r.face_index,
                                   r.face_found, r.bbox, r.box, r.score, r.n_faces, used, r.track_id, r.detection,
                                   *transform_of(r.frame_index)))
            if r.face_found:
                todo.append((r.frame_index, r.face_index, r.track_id, next(crops)))
            elif vf.no_face == "nan":
                todo.append((r.frame_index, -1, -1, None))
            elif vf.no_face == "frame":
                todo.append((r.frame_index, -1, -1, centres[r.frame_index]))
        if res["n_sampled"] and res["n_faces"] == 0:
            res.update(status="no_face", error=f"no face found in any of the {res['n_sampled']} sampled frames "
                       f"(no_face={vf.no_face!r})" + (f"; {problems}" if problems else ""))
    images = [(k, img) for k, (*_, img) in enumerate(todo) if img is not None]
    rows = np.full((len(todo), len(vf.frame_feature_names_)), np.nan)
    if images:
        computed = _crop_rows(vf.extractor_, [img for _, img in images], index, source,
                              [todo[k][0] for k, _ in images])
        rows[[k for k, _ in images]] = computed
    res["frames"] = list(rows)
    res["keys"] = [(fi, time_of(fi), face, track) for fi, face, track, _ in todo]


def _crop_rows(extractor, images, index, source, frame_indices):
    """Feature rows of a video's crops through the extractor's batched hooks, chunk by chunk.

    A failure is pinned to its frame: preparation runs per crop, and when the batched part of a
    chunk fails its crops are rerun one by one. Raises :class:`ItemError` naming the video and frame.
    """
    hint = extractor._batch_size_hint
    chunk = int(hint) if hint else len(images)
    extractor._setup()
    out = []
    for s in range(0, len(images), chunk):
        part, where = images[s:s + chunk], frame_indices[s:s + chunk]
        prepared = []
        for img, frame_index in zip(part, where):
            try:
                prepared.append(extractor._prepare(Item(index, source, pixels=img)))
            except Exception as exc:
                raise ItemError(index, source, f"frame {frame_index}: {type(exc).__name__}: {exc}") from exc
        try:
            block = extractor._compute_batch(prepared)
        except Exception as batch_exc:
            for p, frame_index in zip(prepared, where):
                try:
                    extractor._compute_batch([p])
                except Exception as exc:
                    raise ItemError(index, source, f"frame {frame_index}: {type(exc).__name__}: {exc}") from exc
            raise ItemError(index, source, f"frames {where[0]}..{where[-1]}: {type(batch_exc).__name__}: "
                            f"{batch_exc}") from batch_exc
        out.append(np.asarray(block, dtype=np.float64).reshape(len(part), -1))
    return np.vstack(out)


def _centre_square(frame, size):
    import cv2

    h, w = frame.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = frame[top:top + s, left:left + s]
    interp = cv2.INTER_AREA if s > size else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=interp)


def _aggregate(frames, n_sampled, n_faces, aggregate, n_features):
    """Aggregate rows of frame features (time order) into one video row (+ quality columns)."""
    F = np.vstack(frames) if frames else np.full((0, n_features), np.nan)
    parts = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns aggregate to NaN
        empty = np.full(n_features, np.nan)
        parts["mean"] = np.nanmean(F, axis=0) if len(F) else empty
        parts["std"] = np.nanstd(F, axis=0) if len(F) else empty
        parts["min"] = np.nanmin(F, axis=0) if len(F) else empty
        parts["max"] = np.nanmax(F, axis=0) if len(F) else empty
        parts["tdiff"] = np.nanmean(np.abs(np.diff(F, axis=0)), axis=0) if len(F) >= 2 else empty
    stacked = np.stack([parts[a] for a in aggregate], axis=1).ravel()  # feature-major: f1__mean, f1__std, ...
    rate = n_faces / n_sampled if n_sampled and n_faces is not None else np.nan
    return np.concatenate([stacked, [n_sampled, len(F), rate]])
