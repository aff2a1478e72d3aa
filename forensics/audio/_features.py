"""Audio descriptors of a video's sound track (or an audio file), one row per item, with librosa."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..media import ItemError
from ._read import NoAudioError, load_audio

__all__ = ["AudioFeatures", "audio_features", "audio_feature_names"]

_N_CONTRAST = 7  # librosa's default 6 octave bands + the band above


def audio_feature_names(n_mfcc=13):
    """Column names of :func:`audio_features`, in order (``audio__<feature>__<param>``)."""
    names = []
    for feat in ("mfcc", "mfcc_delta"):
        for stat in ("mean", "std"):
            names += [f"audio__{feat}__{stat}_{k:02d}" for k in range(n_mfcc)]
    for feat in ("centroid", "bandwidth", "rolloff"):
        names += [f"audio__{feat}__mean", f"audio__{feat}__std"]
    for stat in ("mean", "std"):
        names += [f"audio__contrast__{stat}_b{b}" for b in range(_N_CONTRAST)]
    for feat in ("zcr", "rms"):
        names += [f"audio__{feat}__mean", f"audio__{feat}__std"]
    names.append("audio__duration__s")
    return names


def _delta_width(n_frames):
    """librosa's default width 9, or the largest odd width <= n_frames (at least 3); None if < 3."""
    if n_frames < 3:
        return None
    return min(9, n_frames if n_frames % 2 else n_frames - 1)


def audio_features(samples, sr, *, n_mfcc=13, n_fft=2048, hop_length=512):
    """The audio feature vector of one sound (see :data:`~forensics.audio.AUDIO_FEATURES`).

    Parameters
    ----------
    samples : ndarray of shape (n,)
        Mono samples, float on the [-1, 1] scale.
    sr : int
        Sample rate in Hz; above 12800 (the spectral contrast's last octave band starts at 6400 Hz).
    n_mfcc : int, default=13
    n_fft : int, default=2048
        STFT size and frame length (samples) of every frame-wise descriptor.
    hop_length : int, default=512

    Returns
    -------
    ndarray of float64, shape (len(audio_feature_names(n_mfcc)),)
        Per frame-wise descriptor, its mean and population standard deviation over the STFT
        frames, in the order of :func:`audio_feature_names`. The MFCC deltas are NaN for sound
        shorter than 3 frames.

    Raises
    ------
    ValueError
        Empty or non-finite samples.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 16000
    >>> tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)
    >>> f = dict(zip(audio_feature_names(), audio_features(tone, sr, n_fft=512, hop_length=128)))
    >>> round(f["audio__centroid__mean"] / 100) * 100, round(float(f["audio__rms__mean"]), 2)
    (1000, 0.35)
    """
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"samples must be a non-empty 1-D array, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("samples contain NaN or infinite values")
    if sr <= 12800:
        raise ValueError(f"sr must be above 12800 Hz (spectral contrast bands reach 6400-12800 Hz), got {sr}")
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length)
    width = _delta_width(mfcc.shape[1])
    delta = (librosa.feature.delta(mfcc, width=width) if width is not None
             else np.full_like(mfcc, np.nan))
    rows = [mfcc, delta]
    out = []
    for m in rows:
        out += [m.mean(axis=1), m.std(axis=1)]
    for fn in (librosa.feature.spectral_centroid, librosa.feature.spectral_bandwidth,
               librosa.feature.spectral_rolloff):
        v = fn(S=S, sr=sr, n_fft=n_fft, hop_length=hop_length)[0]
        out.append(np.array([v.mean(), v.std()]))
    contrast = librosa.feature.spectral_contrast(S=S, sr=sr, n_fft=n_fft, hop_length=hop_length)
    out += [contrast.mean(axis=1), contrast.std(axis=1)]
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop_length)[0]
    rms = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop_length)[0]
    out += [np.array([zcr.mean(), zcr.std()]), np.array([rms.mean(), rms.std()]), np.array([y.size / sr])]
    return np.concatenate(out).astype(np.float64)


def _one(path, index, params, on_error):
    """(row, status, reason) of one item; NaN row on a recorded failure."""
    n = len(audio_feature_names(params["n_mfcc"]))
    streams = (-1, 0, 0)
    try:
        track = load_audio(path, sr=params["sr"], max_seconds=params["max_seconds"], index=index)
        streams = (track.stream, track.n_streams, track.source_rate)
        if track.samples.size == 0:
            raise NoAudioError(index, str(path), "the audio stream holds no samples")
        row = audio_features(track.samples, track.sr, n_mfcc=params["n_mfcc"], n_fft=params["n_fft"],
                             hop_length=params["hop_length"])
        return row, "ok", "; ".join(track.errors), streams
    except NoAudioError as exc:
        return np.full(n, np.nan), "no_audio", exc.reason, streams
    except ItemError as exc:
        if on_error == "raise":
            raise
        return np.full(n, np.nan), "error", exc.reason, streams
    except ValueError as exc:
        if on_error == "raise":
            raise ItemError(index, str(path), str(exc)) from None
        return np.full(n, np.nan), "error", str(exc), streams


class AudioFeatures(TransformerMixin, BaseEstimator):
    """Audio descriptors of each item's sound: MFCCs and deltas, spectral shape, zero crossings, energy.

    ``X`` is a sequence of paths: videos (their audio track is decoded with PyAV) or
    audio files. Each item gives one row, so the transformer sits beside
    :class:`~forensics.features.VideoFeatures` in a :class:`~sklearn.pipeline.FeatureUnion`
    over the same video paths (one row per video, labels and groups unchanged).

    Parameters
    ----------
    sr : int > 12800, default=22050
        Sample rate the sound is resampled to (FFmpeg's resampler) before analysis.
    n_mfcc : int >= 1, default=13
    n_fft : int >= 16, default=2048
        STFT size and frame length in samples (93 ms at 22.05 kHz).
    hop_length : int >= 1, default=512
    max_seconds : float or None, default=None
        Analyse at most this much sound from the start.
    on_error : {"raise", "nan"}, default="raise"
        An unreadable file raises :class:`~forensics.media.ItemError` naming it, or gives a NaN
        row recorded in ``status_``. A readable video **without an audio stream always gives a NaN
        row** with status ``"no_audio"``: silence is a property of the item, not an error.
    n_jobs : int or None, default=None
        Items processed in parallel (joblib).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
    status_ : pandas.DataFrame
        After ``transform``: per item ``index``, ``source``, ``status`` (``"ok"``, ``"no_audio"``,
        ``"error"``), ``reason`` (for an ``"ok"`` row: gaps in the sound's timestamps filled with
        silence, see :func:`~forensics.audio.load_audio`), ``stream`` (which audio stream was
        read: its position among the file's audio streams, the one flagged *default*, else the
        first), ``audio_streams`` (how many the file holds; -1 and 0 when it could not be
        opened) and ``source_rate`` (the stream's own sample rate in Hz, before resampling to
        ``sr``; 0 when no stream was read). Bands of the spectral contrast above half the
        source rate hold no sound of the item, only the resampler's roll-off, so their values
        follow the source rate (a 440 Hz tone: ``contrast__mean_b5`` 39.1 / 13.6 / 30.9 from 8 /
        22.05 / 48 kHz); :func:`forensics.inspection.audit` flags a label that follows it
        (its ``audio_rate`` property).

    Notes
    -----
    The features, their formulas and references are in
    :data:`~forensics.audio.AUDIO_FEATURES` (the audio section of the feature catalogue): per
    STFT frame descriptor, the mean and population standard deviation over the frames; all are
    computed by librosa from the magnitude STFT (Hann window, centred frames) of the resampled
    mono sound.

    Examples
    --------
    >>> af = AudioFeatures().fit()
    >>> af.get_feature_names_out()[:2].tolist()
    ['audio__mfcc__mean_00', 'audio__mfcc__mean_01']
    """

    def __init__(self, *, sr=22050, n_mfcc=13, n_fft=2048, hop_length=512, max_seconds=None, on_error="raise",
                 n_jobs=None):
        self.sr = sr
        self.n_mfcc = n_mfcc
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.max_seconds = max_seconds
        self.on_error = on_error
        self.n_jobs = n_jobs

    def _check_params(self):
        for name, low in (("sr", 12801), ("n_mfcc", 1), ("n_fft", 16), ("hop_length", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
        if self.max_seconds is not None and (isinstance(self.max_seconds, bool)
                                             or not isinstance(self.max_seconds, numbers.Real)
                                             or not self.max_seconds > 0):
            raise ValueError(f"max_seconds must be None or > 0, got {self.max_seconds!r}")
        if self.on_error not in ("raise", "nan"):
            raise ValueError(f"on_error must be 'raise' or 'nan', got {self.on_error!r}")

    def fit(self, X=None, y=None):
        """Check the parameters (nothing is learned); return self."""
        self._check_params()
        self.feature_names_out_ = np.array(audio_feature_names(self.n_mfcc), dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def transform(self, X):
        """One row of audio features per item, shape (n_items, n_features)."""
        check_is_fitted(self, "feature_names_out_")
        if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
            raise TypeError(f"AudioFeatures: X must be a sequence of file paths, got {type(X).__name__}")
        paths = list(X)
        for i, p in enumerate(paths):
            if not isinstance(p, (str, bytes)) and not hasattr(p, "__fspath__"):
                raise ItemError(i, None, f"AudioFeatures takes file paths, got {type(p).__name__}")
        params = dict(sr=self.sr, n_mfcc=self.n_mfcc, n_fft=self.n_fft, hop_length=self.hop_length,
                      max_seconds=self.max_seconds)
        jobs = (delayed(_one)(p, i, params, self.on_error) for i, p in enumerate(paths))
        results = list(jobs) if self.n_jobs in (None, 1) else Parallel(n_jobs=self.n_jobs)(jobs)
        if self.n_jobs in (None, 1):
            results = [fn(*a, **k) for fn, a, k in results]
        self.status_ = pd.DataFrame([dict(index=i, source=str(p), status=s, reason=r, stream=k, audio_streams=m,
                                          source_rate=rate)
                                     for i, (p, (_, s, r, (k, m, rate))) in enumerate(zip(paths, results))],
                                    columns=["index", "source", "status", "reason", "stream", "audio_streams",
                                             "source_rate"])
        if not results:
            return np.empty((0, self.n_features_out_))
        return np.vstack([r for r, *_ in results])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags
