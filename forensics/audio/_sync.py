"""Audio-visual synchrony: does the mouth move when the voice is loud? Cross-correlation and lag."""

from __future__ import annotations

import numbers
import os

import cv2
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..media import ItemError
from ._read import NoAudioError, load_audio

__all__ = ["AVSyncFeatures", "av_sync", "mouth_box", "mouth_motion", "audio_envelope", "AV_SYNC_NAMES"]

#: Columns of :class:`AVSyncFeatures`.
AV_SYNC_NAMES = ("av__sync__peak", "av__sync__lag_frames", "av__sync__lag_s", "av__sync__zero_lag",
                 "av__sync__n_frames")
_PATCH = (16, 32)  # mouth patch (rows, columns) after resizing


def mouth_box(face, frame_shape):
    """The mouth region of a face, ``(x0, y0, x1, y1)`` in pixels (clipped to the frame), or None.

    With landmarks (YuNet, MTCNN: ``landmarks[3]`` and ``landmarks[4]`` are the mouth corners):
    a box centred on the corners' midpoint, ``1.5 w`` wide and ``w`` high, ``w`` the distance
    between the corners. Without landmarks (the cascade): the middle half of the bottom third
    of the face box.
    """
    h, w = frame_shape[:2]
    if face.landmarks is not None:
        lm = np.asarray(face.landmarks, dtype=np.float64)
        (xl, yl), (xr, yr) = lm[3], lm[4]
        width = max(float(np.hypot(xr - xl, yr - yl)), 2.0)
        cx, cy = (xl + xr) / 2, (yl + yr) / 2
        box = (cx - 0.75 * width, cy - 0.5 * width, cx + 0.75 * width, cy + 0.5 * width)
    else:
        x, y, bw, bh = face.bbox
        box = (x + 0.25 * bw, y + 2 * bh / 3, x + 0.75 * bw, y + bh)
    x0, y0 = int(max(0, np.floor(box[0]))), int(max(0, np.floor(box[1])))
    x1, y1 = int(min(w, np.ceil(box[2]))), int(min(h, np.ceil(box[3])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def mouth_motion(frames, boxes):
    """Mouth motion per frame: mean absolute grey-level change of the mouth patch.

    Parameters
    ----------
    frames : sequence of ndarray (H, W, 3), uint8
        Consecutive frames.
    boxes : sequence of (x0, y0, x1, y1) or None
        The mouth box of each frame (None: no face).

    Returns
    -------
    ndarray of float64, shape (len(frames),)
        ``m[0] = NaN``; ``m[t] = mean |P_t - P_{t-1}|`` where ``P_t`` is the grey mouth patch of
        frame t (BT.601 luma) resized to 16 x 32 inside the box of frame t; NaN where either
        frame has no box.
    """
    patches = []
    for frame, box in zip(frames, boxes):
        if box is None:
            patches.append(None)
            continue
        x0, y0, x1, y1 = box
        grey = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
        patches.append(cv2.resize(grey, (_PATCH[1], _PATCH[0]), interpolation=cv2.INTER_AREA))
    out = np.full(len(patches), np.nan)
    for t in range(1, len(patches)):
        if patches[t] is not None and patches[t - 1] is not None:
            out[t] = float(np.mean(np.abs(patches[t] - patches[t - 1])))
    return out


def audio_envelope(samples, sr, times, start_s=0.0):
    """RMS of the sound over each frame's display interval ``[times[t], times[t+1])``.

    Parameters
    ----------
    samples : ndarray (n,)
    sr : int
    times : ndarray (T,)
        Frame presentation times in seconds (the last interval gets the median frame duration).
    start_s : float, default=0.0
        Time of the first sample.

    Returns
    -------
    ndarray (T,)
        NaN where the interval holds no sample.
    """
    times = np.asarray(times, dtype=np.float64)
    step = float(np.median(np.diff(times))) if times.size > 1 else 1.0 / 25
    ends = np.append(times[1:], times[-1] + step)
    out = np.full(times.size, np.nan)
    for t, (a, b) in enumerate(zip(times, ends)):
        i0, i1 = int(round((a - start_s) * sr)), int(round((b - start_s) * sr))
        i0, i1 = max(i0, 0), min(i1, samples.size)
        if i1 > i0:
            out[t] = float(np.sqrt(np.mean(np.square(samples[i0:i1], dtype=np.float64))))
    return out


def av_sync(motion, energy, *, max_lag):
    """Normalised cross-correlation of mouth motion and audio energy over lags ``-max_lag..max_lag``.

    The audio energy is first differenced in absolute value (``|e_t - e_{t-1}|``, onsets and
    offsets of sound, which is what a moving mouth produces). For lag ``l``, ``r(l)`` is Pearson's
    correlation of the pairs ``(m[t], a[t + l])`` where both are finite:
    ``r(l) = sum (m - mean_m)(a - mean_a) / sqrt(sum (m - mean_m)^2 sum (a - mean_a)^2)``, the means
    over those pairs (the normalised cross-correlation of Bracewell, *The Fourier Transform and Its
    Applications*; as :func:`numpy.corrcoef` of the pairs), so ``-1 <= r(l) <= 1`` whatever frames
    are missing. Before 0.3.0 both series were z-scored once over all their finite frames, and
    ``r(l)`` could pass 1 when frames were missing (no face, no sound).

    Parameters
    ----------
    motion, energy : ndarray (T,)
        :func:`mouth_motion` and :func:`audio_envelope` of the same frames (NaN allowed).
    max_lag : int >= 0
        In frames.

    Returns
    -------
    peak : float
        ``max_l r(l)``, in [-1, 1] (NaN when no lag has 4 valid pairs with both sides varying).
    lag : int
        The argmax: positive when the sound comes *after* the mouth movement; of lags with the
        same peak (a periodic motion), the one nearest 0, the negative one of two as near; 0
        when the peak is NaN.
    zero_lag : float
        ``r(0)`` (NaN when it is undefined).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = rng.random(60)
    >>> e = np.cumsum(np.concatenate([[0, 0, 0], m[:-3]]))  # energy changes follow the motion by 3 frames
    >>> peak, lag, _ = av_sync(m, e, max_lag=5)
    >>> lag, round(peak, 2)
    (3, 1.0)
    """
    m = np.asarray(motion, dtype=np.float64)
    a = np.full_like(np.asarray(energy, dtype=np.float64), np.nan)
    e = np.asarray(energy, dtype=np.float64)
    a[1:] = np.abs(np.diff(e))

    T = m.size
    best, best_lag, r0 = -np.inf, 0, np.nan
    for lag in sorted(range(-max_lag, max_lag + 1), key=lambda l: (abs(l), l)):  # ties: the lag nearest 0
        if lag >= 0:
            x, yv = m[:T - lag], a[lag:]
        else:
            x, yv = m[-lag:], a[:T + lag]
        ok = np.isfinite(x) & np.isfinite(yv)
        if ok.sum() < 4:
            continue
        dx, dy = x[ok] - x[ok].mean(), yv[ok] - yv[ok].mean()
        norm = np.sqrt(np.dot(dx, dx) * np.dot(dy, dy))
        if not norm > 0:  # one side constant over these pairs: no correlation to speak of
            continue
        r = float(np.clip(np.dot(dx, dy) / norm, -1.0, 1.0))  # the clip: rounding only
        if lag == 0:
            r0 = r
        if r > best:
            best, best_lag = r, lag
    if not np.isfinite(best):
        return np.nan, 0, np.nan
    return best, best_lag, r0


class AVSyncFeatures(TransformerMixin, BaseEstimator):
    """Agreement between mouth motion and voice energy over time, per video (lip-sync check).

    For every frame (up to ``max_seconds``): the face is detected, the mouth region is cut
    (:func:`mouth_box`, from the mouth-corner landmarks when the detector gives them), its
    frame-to-frame change is measured (:func:`mouth_motion`); the sound is decoded with PyAV,
    and its RMS over each frame's display interval is taken (:func:`audio_envelope`, using the
    frame timestamps, so variable frame rates are handled). :func:`av_sync` cross-correlates the
    two, on the container's clock: a sound track that starts later or earlier than the video
    (or a stream whose timestamps do not start at 0, as in MPEG-TS) is compared with the frames
    it plays with. In a genuine talking video the mouth moves when the sound starts and stops, at lag
    ~0; a lip-sync deepfake or a dubbed video correlates weakly or at an offset.

    Parameters
    ----------
    detector : str or detector, default="auto"
        A :func:`forensics.media.make_detector` backend name (``"yunet"`` gives mouth-corner
        landmarks) or any object with ``detect(rgb) -> list[Face]``.
    model_path : str, optional
        Model file of the YuNet backend.
    max_seconds : float, default=10.0
        Frames and sound analysed from the start.
    max_lag_s : float, default=0.5
        Largest offset searched, in seconds (each side).
    on_error : {"raise", "nan"}, default="raise"
        As :class:`AudioFeatures`; a video without sound always gives a NaN row (``"no_audio"``),
        and a silent sound track NaN correlations (``"no_audio"`` too).

    Attributes
    ----------
    status_ : pandas.DataFrame
        Per video ``index``, ``source``, ``status``, ``reason``, ``stream``,
        ``audio_streams`` and ``source_rate`` (as :class:`AudioFeatures`: the audio's own sample
        rate, 0 when no stream was read; a label that follows it is a shortcut the audit flags).
        ``status`` is ``"ok"`` (``reason``: gaps in the sound's timestamps filled with silence, if
        any), ``"no_audio"`` (no sound track: NaN row; or a sound that does not change over the
        frames analysed, silent or constant, or present in fewer than 5 of them: NaN but
        ``n_frames``), ``"no_face"`` (the mouth found in too few frames to correlate: NaN but
        ``n_frames``), ``"no_motion"`` (the mouth found but never moving, e.g. a still picture with
        a voice: NaN but ``n_frames``) or ``"error"`` (with ``on_error="nan"``); ``reason`` says
        which.

    Notes
    -----
    Columns: ``av__sync__peak`` (the maximum normalised cross-correlation, in [-1, 1]),
    ``av__sync__lag_frames`` and ``av__sync__lag_s`` (its lag: positive when the sound comes
    after the mouth movement), ``av__sync__zero_lag`` (the correlation at lag 0) and
    ``av__sync__n_frames`` (frames with a mouth box). The idea follows SyncNet [1]_, which learns
    the audio and mouth embeddings; here both signals are hand-made, so no training is needed.

    References
    ----------
    .. [1] J. S. Chung and A. Zisserman, "Out of time: automated lip sync in the wild", ACCV
       workshops 2016, doi:10.1007/978-3-319-54427-4_19.
    """

    def __init__(self, *, detector="auto", model_path=None, max_seconds=10.0, max_lag_s=0.5, on_error="raise"):
        self.detector = detector
        self.model_path = model_path
        self.max_seconds = max_seconds
        self.max_lag_s = max_lag_s
        self.on_error = on_error

    def fit(self, X=None, y=None):
        """Check the parameters; return self."""
        for name in ("max_seconds", "max_lag_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v > 0:
                raise ValueError(f"{name} must be > 0, got {v!r}")
        if self.on_error not in ("raise", "nan"):
            raise ValueError(f"on_error must be 'raise' or 'nan', got {self.on_error!r}")
        self.feature_names_out_ = np.array(AV_SYNC_NAMES, dtype=object)
        return self

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def _detector(self):
        if isinstance(self.detector, str):
            from ..media import make_detector

            return make_detector(self.detector, model_path=self.model_path)
        return self.detector

    def _one(self, path, index, detector):
        from ..media import iter_frames, video_info

        src = os.fspath(path)
        info = video_info(src, index=index)
        video_start = info.start_time_s if info.start_time_s is not None else 0.0
        # enough sound for the frames analysed when the sound starts at 0 and the video later
        track = load_audio(src, index=index, max_seconds=self.max_seconds + 1.0 + max(video_start, 0.0))
        fps = info.fps or 25.0
        n = max(2, min(info.n_frames, int(round(self.max_seconds * fps))))
        frames, times, boxes = [], [], []
        errors = []
        for _, ts, rgb in iter_frames(src, range(n), index=index, errors=errors):
            faces = detector.detect(rgb)
            boxes.append(mouth_box(faces[0], rgb.shape) if faces else None)
            frames.append(rgb)
            times.append(ts)
        motion = mouth_motion(frames, boxes)
        times = np.asarray(times, dtype=np.float64)
        if not np.all(np.isfinite(times)):
            times = np.arange(len(frames)) / fps
        # Frame times count from the first shown frame, the sound's start from the container's clock
        # (an MPEG-TS starts near 1.4 s; a stream may start later than the other): one clock for both.
        energy = audio_envelope(track.samples, track.sr, times + video_start, start_s=track.start_s)
        max_lag = int(round(self.max_lag_s * fps))
        peak, lag, r0 = av_sync(motion, energy, max_lag=max_lag)
        n_boxes = sum(b is not None for b in boxes)
        status, reason = "ok", "; ".join(track.errors)
        if not np.isfinite(peak):  # say which side has nothing to correlate
            moving = np.asarray(motion, dtype=np.float64)
            moving = moving[np.isfinite(moving)]
            heard = np.asarray(energy, dtype=np.float64)
            heard = heard[np.isfinite(heard)]
            changes = np.abs(np.diff(np.asarray(energy, dtype=np.float64)))
            changes = changes[np.isfinite(changes)]
            if moving.size < 4:
                status = "no_face"
                reason = f"mouth found in {n_boxes} of {len(frames)} frames: too few to correlate"
            elif heard.size < 5:  # fewer than 4 changes of the sound: a track shorter than the frames analysed
                status = "no_audio"
                reason = (f"sound in only {heard.size} of the {len(frames)} frames analysed: too few to "
                          f"correlate with the mouth, found in {n_boxes} of them")
            elif changes.size < 4 or np.ptp(changes) == 0:
                # the mouth was followed, but the sound does not change (silence, or a constant level)
                status = "no_audio"
                reason = (f"the sound does not change over the {len(frames)} frames analysed (silent or "
                          f"constant): nothing to correlate with the mouth, found in {n_boxes} of them")
            elif np.ptp(moving) == 0:  # a face that never moves (a still picture with a voice)
                status = "no_motion"
                reason = (f"the mouth, found in {n_boxes} of {len(frames)} frames, does not move: nothing to "
                          "correlate with the sound")
            else:  # both sides vary, but too few frames have both
                status = "no_face"
                reason = (f"mouth found in {n_boxes} of {len(frames)} frames, sound in {heard.size}: too few "
                          "frames with both to correlate")
        row = np.array([peak, lag, lag / fps, r0, n_boxes], dtype=np.float64)
        return row, status, reason, (track.stream, track.n_streams, track.source_rate)

    def transform(self, X):
        """One row per video: ``av__sync__peak, lag_frames, lag_s, zero_lag, n_frames``."""
        check_is_fitted(self, "feature_names_out_")
        if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
            raise TypeError(f"AVSyncFeatures: X must be a sequence of video paths, got {type(X).__name__}")
        detector = self._detector()
        rows, status = [], []
        for i, path in enumerate(X):
            streams = (-1, 0, 0)
            try:
                row, s, r, streams = self._one(path, i, detector)
            except NoAudioError as exc:
                row, s, r = np.full(len(AV_SYNC_NAMES), np.nan), "no_audio", exc.reason
            except ItemError as exc:
                if self.on_error == "raise":
                    raise
                row, s, r = np.full(len(AV_SYNC_NAMES), np.nan), "error", exc.reason
            if s in ("no_face", "no_audio", "no_motion"):
                row[:4] = np.nan
            rows.append(row)
            status.append(dict(index=i, source=str(path), status=s, reason=r, stream=streams[0],
                               audio_streams=streams[1], source_rate=streams[2]))
        self.status_ = pd.DataFrame(status, columns=["index", "source", "status", "reason", "stream",
                                                     "audio_streams", "source_rate"])
        return np.vstack(rows) if rows else np.empty((0, len(AV_SYNC_NAMES)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags
