"""Reading sound: the audio track of a video, or an audio file, as mono float samples (PyAV)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..media import ItemError

__all__ = ["AudioTrack", "NoAudioError", "load_audio"]


class NoAudioError(ItemError):
    """The file opened but has no audio stream (a silent video): not an error of the file."""


@dataclass
class AudioTrack:
    """Decoded sound of one file.

    Attributes
    ----------
    samples : ndarray of float32, shape (n,)
        Mono samples in [-1, 1] (channels averaged), resampled to ``sr``.
    sr : int
        Sample rate in Hz.
    start_s : float
        Presentation time of the first sample in seconds, relative to the start of the audio
        stream's time base (0 for most files); used to align sound and frames.
    source_rate : int
        The stream's own sample rate.
    codec : str
        FFmpeg's codec name, e.g. ``"aac"``, ``"pcm_s16le"``.
    """

    samples: np.ndarray
    sr: int
    start_s: float
    source_rate: int
    codec: str

    @property
    def duration_s(self):
        return self.samples.size / self.sr


def load_audio(path, *, sr=22050, max_seconds=None, index=0):
    """Decode the first audio stream of a video or audio file to mono float32 at ``sr`` Hz.

    Parameters
    ----------
    path : str or path-like
        A video (its audio track) or an audio file: anything FFmpeg reads (MP4/AAC, MKV,
        WAV, FLAC, MP3...).
    sr : int, default=22050
        Output sample rate (FFmpeg's resampler, ``libswresample``).
    max_seconds : float, optional
        Stop after this much sound.
    index : int, default=0
        Position of the item in its input sequence, for error messages.

    Returns
    -------
    AudioTrack

    Raises
    ------
    NoAudioError
        The file has no audio stream.
    ItemError
        The file cannot be opened or its audio cannot be decoded (message names the item).

    Examples
    --------
    >>> try:
    ...     load_audio("missing.mp4", index=3)
    ... except ItemError as exc:
    ...     print(exc)
    item 3 (missing.mp4): file not found
    """
    import av

    src = os.fspath(path)
    if not os.path.isfile(src):
        raise ItemError(index, src, "file not found")
    try:
        container = av.open(src)
    except Exception as exc:
        raise ItemError(index, src, f"cannot open ({type(exc).__name__}: {exc})") from None
    try:
        if not container.streams.audio:
            raise NoAudioError(index, src, "no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=int(sr))
        chunks, start = [], None
        limit = None if max_seconds is None else int(round(max_seconds * sr))
        n = 0
        try:
            for frame in container.decode(stream):
                if start is None and frame.pts is not None and frame.time_base is not None:
                    start = float(frame.pts * frame.time_base)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    n += chunks[-1].size
                if limit is not None and n >= limit:
                    break
            else:
                for out in resampler.resample(None):  # flush the resampler's delay
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise ItemError(index, src, f"audio cannot be decoded ({exc})") from None
        samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
        if limit is not None:
            samples = samples[:limit]
        return AudioTrack(samples=samples, sr=int(sr), start_s=start or 0.0, source_rate=int(stream.rate or 0),
                          codec=stream.codec_context.name)
    finally:
        container.close()
