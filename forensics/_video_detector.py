"""A frame-level detector applied to whole videos: frames sampled, each scored, scores aggregated."""

from __future__ import annotations

import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

__all__ = ["VideoDetector", "takes_videos"]


class VideoDetector(ClassifierMixin, BaseEstimator):
    """Score videos with a frame (or face crop) detector, aggregating its frame scores per video.

    The frame model is the usual image pipeline (a ``features`` step and a head, e.g.
    ``forensics.make_pipeline("forensic-xgb")``); it is trained on the sampled frames of the
    training videos, each frame labelled with its video's label, and a video's fake score is
    the aggregation of its frames' scores (:func:`forensics.metrics.aggregate_scores`), the
    frame-level protocol of FaceForensics++ and Celeb-DF results.

    Parameters
    ----------
    detector : Pipeline
        The frame model: a :class:`~sklearn.pipeline.Pipeline` whose first step is ``features``
        (a frame extractor of :mod:`forensics.features`).
    n_frames, every, faces, face_detector, face_model
        Which frames are sampled and whether faces are cropped: the ``n_frames``, ``every``,
        ``faces``, ``detector`` and ``model_path`` of
        :class:`~forensics.features.VideoFeatures`.
    aggregate : {"mean", "median", "max", "topk_mean"}, default="mean"
        How frame scores make the video score.
    k : int, default=3
        Frames averaged by ``"topk_mean"``.
    n_jobs : int, optional
        Videos (still images with ``input="image"``) decoded and cropped in parallel (joblib, or
        the Dask cluster of the active client; see :func:`forensics._parallel.run_in_order`).
    progress : bool, default=False
    input : {"video", "image"}, default="video"
        What ``X`` holds. ``"image"``: still images (paths or bytes), each searched for faces as
        a one-frame video in its display orientation (EXIF applied), the way ``forensics extract
        --faces`` and :func:`forensics.datasets.extract_faces` crop still images, with the same
        crop settings (needs ``faces=True``); an image's score aggregates its crops' scores. A
        video is refused in this mode, as a still image is by ``"video"``.
        :meth:`forensics.FeatureTable.fit_detector` sets it from the table it is fitted on.

    Attributes
    ----------
    features_ : VideoFeatures
        The fitted frame sampler and extractor.
    model_ : Pipeline
        The fitted steps after ``features`` (imputation, scaling, head), on frame rows.
    classes_ : ndarray
        ``[0, 1]``.

    Notes
    -----
    A video of which no frame can be used (unreadable, or no face found with ``faces=True``)
    has no score: ``predict_proba`` raises :class:`~forensics.media.ItemError` naming it.

    Examples
    --------
    >>> from forensics import VideoDetector, make_pipeline
    >>> det = VideoDetector(make_pipeline(features=["blur"]), n_frames=4, aggregate="median")
    >>> det.get_params()["aggregate"]
    'median'

    A face model of still images (trained on the rows of ``forensics extract --faces`` of images)
    scores still images:

    >>> stills = VideoDetector(make_pipeline(features=["blur"]), faces=True, input="image")
    >>> stills.get_params()["input"]
    'image'
    """

    def __init__(self, detector=None, *, n_frames=32, every=None, faces=False, face_detector="auto",
                 face_model=None, aggregate="mean", k=3, n_jobs=None, progress=False, input="video"):
        self.detector = detector
        self.n_frames = n_frames
        self.every = every
        self.faces = faces
        self.face_detector = face_detector
        self.face_model = face_model
        self.aggregate = aggregate
        self.k = k
        self.n_jobs = n_jobs
        self.progress = progress
        self.input = input

    def __setstate__(self, state):
        state.setdefault("input", "video")  # a model saved before the parameter existed scored videos
        super().__setstate__(state)

    def _parts(self):
        from .metrics import AGGREGATIONS

        if self.aggregate not in AGGREGATIONS:
            raise ValueError(f"aggregate must be one of {list(AGGREGATIONS)}, got {self.aggregate!r}")
        if self.input not in ("video", "image"):
            raise ValueError(f"input must be 'video' or 'image', got {self.input!r}")
        if self.input == "image" and not self.faces:
            raise ValueError("input='image' scores the face crops of still images: it needs faces=True (without "
                             "faces, a still-image model is the image pipeline itself)")
        pipe = self.detector
        if not (isinstance(pipe, Pipeline) and pipe.steps and pipe.steps[0][0] == "features"):
            raise TypeError("detector must be a Pipeline whose first step is 'features' "
                            "(e.g. forensics.make_pipeline('forensic-xgb'))")
        return pipe.steps[0][1], Pipeline(pipe.steps[1:])

    def _video_features(self, extractor):
        from .features import VideoFeatures

        return VideoFeatures(extractor, n_frames=self.n_frames, every=self.every, faces=self.faces,
                             detector=self.face_detector, model_path=self.face_model, n_jobs=self.n_jobs,
                             progress=self.progress).fit()

    def fit(self, X, y):
        """Sample and extract the frames of the videos ``X``, fit the frame model on them.

        Parameters
        ----------
        X : sequence of video paths (of still images with ``input="image"``)
        y : array-like of shape (n_videos,)
            Labels, fake = 1, real = 0.
        """
        extractor, rest = self._parts()
        self.features_ = self._video_features(extractor)
        F, meta, _ = self._frames(X)
        y = np.asarray(y)
        return self.fit_frames(F, y[meta["video"].to_numpy()])

    def fit_frames(self, F, y):
        """Fit the frame model on frame features already extracted (e.g. a frame-level feature table).

        Parameters
        ----------
        F : array-like of shape (n_frames, n_features)
            Rows of the frame extractor's features (the ``features`` step of ``detector``).
        y : array-like of shape (n_frames,)
            Each frame's label (its video's).
        """
        extractor, rest = self._parts()
        if not hasattr(self, "features_"):
            self.features_ = self._video_features(extractor)
        self.model_ = clone(rest).fit(F, y)
        self.classes_ = np.array([0, 1])
        return self

    def _frames(self, X):
        """(frame features, meta with ``video``, ``frame_index``, ``face_index``, status per item)."""
        if getattr(self, "input", "video") == "image":
            return _still_image_frames(self.features_, X)
        F, meta = self.features_.transform_frames(X)
        return F, meta, self.features_.status_

    def _frame_scores(self, X):
        check_is_fitted(self, "model_")
        self._parts()
        from .media._item import as_item_sequence

        X = as_item_sequence(X)  # a single path is refused, not read as one item per character
        F, meta, status = self._frames(X)
        if len(F) == 0:  # no usable frame in any video (e.g. one video without a face): nothing to score
            return np.empty(0, dtype=np.float64), meta, status
        proba = np.asarray(self.model_.predict_proba(F), dtype=np.float64)
        return proba[:, list(self.model_.classes_).index(1)], meta, status

    def frame_scores(self, X):
        """Fake score of every sampled frame: ``(scores, meta)`` with meta as ``VideoFeatures.transform_frames``."""
        scores, meta, _ = self._frame_scores(X)
        return scores, meta

    def predict_proba(self, X):
        """Probabilities ``[real, fake]`` per video, the fake one aggregated over its frames.

        Returns
        -------
        ndarray of shape (n_videos, 2)
        """
        from .media import ItemError
        from .media._item import as_item_sequence
        from .metrics import aggregate_scores

        X = as_item_sequence(X)
        scores, meta, status = self._frame_scores(X)
        n = len(X)
        video = meta["video"].to_numpy()
        missing = sorted(set(range(n)) - set(video.tolist()))
        if missing:
            i = missing[0]
            reason = status.loc[status["index"] == i, "error"]
            why = reason.iloc[0] if len(reason) and reason.iloc[0] else "no usable frame (no face found)"
            raise ItemError(i, str(X[i]), f"no frame to score: {why}")
        agg = aggregate_scores(scores, video, how=self.aggregate, k=self.k)
        fake = agg.reindex(range(n)).to_numpy(dtype=np.float64)
        return np.column_stack([1.0 - fake, fake])

    def predict(self, X):
        """1 (fake) where the aggregated fake score is at least 0.5, else 0."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


def _still_image_frames(video_features, X):
    """Face crop rows of still images, cropped as :func:`forensics.datasets.extract_faces` crops them.

    Each image is decoded in display orientation and searched for faces as a one-frame video by the
    cropper of ``video_features`` (its detector, margin, size, selection); the crops go through its
    fitted extractor. Images are processed where ``video_features.n_jobs`` says (joblib, or the
    Dask cluster; :func:`forensics._parallel.run_in_order`), results in input order. Returns the
    features, the meta (``video``, ``frame_index``, ``face_index``) and the status per image
    (``ok``, ``no_face``, ``error`` with the reason).
    """
    import pandas as pd
    from joblib import delayed
    from tqdm.auto import tqdm

    from ._parallel import run_in_order

    cropper = video_features._cropper()
    n_out = len(video_features.frame_feature_names_)
    jobs = (delayed(_one_still_image)(video_features.extractor_, cropper, x, i) for i, x in enumerate(X))
    blocks, meta, status = [], [], []
    for block, rows, state in tqdm(run_in_order(jobs, video_features.n_jobs), total=len(X), desc="images",
                                   unit="image", disable=not video_features.progress, leave=False):
        if block is not None:
            blocks.append(block)
        meta.extend(rows)
        status.append(state)
    F = np.vstack(blocks) if blocks else np.empty((0, n_out))
    meta = pd.DataFrame(meta, columns=["video", "frame_index", "face_index"]).astype(np.int64)
    return F, meta, pd.DataFrame(status, columns=["index", "status", "error"])


def _one_still_image(extractor, cropper, x, i):
    """(feature rows or None, meta rows, status row) of the still image ``x``, item ``i``."""
    from .datasets import VIDEO_SUFFIXES
    from .datasets._extract import _image_faces
    from .features._video import _crop_rows
    from .media import ItemError
    from .media._item import path_text

    is_path = isinstance(x, (str, os.PathLike))
    source = path_text(os.fspath(x)) if is_path else f"item {i}"
    try:
        if is_path and os.fspath(x).lower().endswith(VIDEO_SUFFIXES):
            raise ItemError(i, source, "is a video; this detector was trained on face crops of still images "
                                       "(give images)")
        crops, records, _ = _image_faces(cropper, x, i)
    except ItemError as exc:
        return None, [], (i, "error", exc.reason)
    found = [r for r in records if r.face_found]
    if not found:
        return None, [], (i, "no_face", "no face found in the image")
    block = _crop_rows(extractor, crops, i, source, [r.frame_index for r in found])
    return block, [(i, r.frame_index, r.face_index) for r in found], (i, "ok", "")


#: Steps that read video files: the first step of a pipeline (features) or its last (a clip model).
_VIDEO_FIRST = {"VideoFeatures", "AudioFeatures", "AVSyncFeatures"}
_VIDEO_LAST = {"VideoClassifier", "VideoDetector"}


def takes_videos(model):
    """Whether a fitted detector scores video files (True) or images (False).

    A :class:`VideoDetector`, a pipeline whose first step (after an ``equalize`` step) reads videos
    (``VideoFeatures``, ``AudioFeatures``, ``AVSyncFeatures``) or whose last step is a clip model
    (``VideoClassifier``). Classes are matched by name along their MRO, so deciding it never
    imports torch.

    Examples
    --------
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from forensics.features import VideoFeatures, BlurFeatures
    >>> takes_videos(Pipeline([("features", VideoFeatures(BlurFeatures())), ("clf", LogisticRegression())]))
    True
    >>> takes_videos(Pipeline([("features", BlurFeatures()), ("clf", LogisticRegression())]))
    False
    """
    def named(obj, names):
        return any(c.__name__ in names for c in type(obj).__mro__)

    if named(model, {"VideoDetector"}) and getattr(model, "input", "video") == "image":
        return False  # face crops of still images

    steps = [s for n, s in getattr(model, "steps", [(None, model)]) if n != "equalize"] or [model]
    return named(steps[0], _VIDEO_FIRST | _VIDEO_LAST) or named(steps[-1], _VIDEO_LAST)
