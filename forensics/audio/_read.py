"""Reading sound: the audio track of a video, or an audio file, as mono float samples (PyAV)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..media import ItemError

__all__ = ["AudioTrack", "NoAudioError", "audio_header", "load_audio"]

# A frame whose timestamp is further than this from the end of the sound before it (seconds) starts
# after a gap (silence is inserted) or overlaps it (the overlap is dropped). Containers that store
# milliseconds (Matroska, FLV) round each timestamp by up to 0.5 ms, so smaller differences are
# rounding, not missing sound.
_GAP_TOLERANCE_S = 0.002
# The mono sound is resampled in blocks of this many source samples.
_BLOCK = 1 << 16


class NoAudioError(ItemError):
    """The file opened but has no audio stream (a silent video): not an error of the file."""


@dataclass
class AudioTrack:
    """Decoded sound of one file.

    Attributes
    ----------
    samples : ndarray of float32, shape (n,)
        Mono samples (the mean of the channels, so within [-1, 1] when every channel is),
        resampled to ``sr``, each at its presentation time: sample ``i`` plays at
        ``start_s + i / sr``.
    sr : int
        Sample rate in Hz.
    start_s : float
        Presentation time of the first sample in seconds, on the container's clock (the same
        clock as the video stream's timestamps; 0 for most files, e.g. 1.4 in an MPEG-TS
        capture).
    source_rate : int
        The stream's own sample rate.
    codec : str
        FFmpeg's codec name, e.g. ``"aac"``, ``"pcm_s16le"``.
    channels : int
        Channels of the stream (all averaged into ``samples``).
    stream : int
        Which audio stream was read: its position among the file's audio streams.
    n_streams : int
        Audio streams in the file.
    errors : tuple of str
        Timestamp gaps filled with silence and overlaps dropped (empty for a continuous stream).
    """

    samples: np.ndarray
    sr: int
    start_s: float
    source_rate: int
    codec: str
    channels: int = 1
    stream: int = 0
    n_streams: int = 1
    errors: tuple = field(default_factory=tuple)

    @property
    def duration_s(self):
        return self.samples.size / self.sr


def _open(path, index):
    """(name for messages, file object, PyAV container) of a local file, opened as the video reader opens
    one: a Python file object, so FFmpeg never reads the name as a protocol (a file called
    ``concat:a.wav|b.wav`` was read as those two files), and nested opening of other files refused."""
    import av

    from ..media._video import _CONTAINER_OPTIONS, _local_file

    src, raw = _local_file(path, index)
    try:
        fh = open(raw, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise ItemError(index, src, f"cannot read file ({exc.strerror or exc})") from None
    try:
        container = av.open(fh, "r", container_options=dict(_CONTAINER_OPTIONS))
    except Exception as exc:
        fh.close()
        raise ItemError(index, src, f"cannot open ({type(exc).__name__}: {exc})") from None
    return src, fh, container


def _choose_stream(container, stream, index, src):
    import av

    audios = list(container.streams.audio)
    if not audios:
        raise NoAudioError(index, src, "no audio stream")
    if stream is None:
        default = [k for k, s in enumerate(audios) if s.disposition & av.stream.Disposition.default]
        k = default[0] if default else 0
    else:
        if isinstance(stream, (bool, np.bool_)) or not isinstance(stream, (int, np.integer)):
            raise TypeError(f"stream must be an integer (position among audio streams), got {stream!r}")
        if not 0 <= stream < len(audios):
            raise ItemError(index, src, f"has {len(audios)} audio stream(s); stream={stream} asked")
        k = int(stream)
    return k, audios[k], len(audios)


def _place(pieces, rate):
    """Join ``(start_sample, mono)`` pieces on one timeline: gaps become zeros, overlaps are dropped.

    Returns the joined samples and one message per gap or overlap.
    """
    tol = int(np.ceil(_GAP_TOLERANCE_S * rate))
    out, notes, pos = [], [], pieces[0][0]
    for start, mono in pieces:
        shift = start - pos
        if shift > tol:
            out.append(np.zeros(shift, np.float32))
            notes.append(f"audio timestamps jump {shift / rate:.3f} s forward at {pos / rate:.3f} s "
                         f"(sound missing): silence inserted")
            pos = start
        elif shift < -tol:
            notes.append(f"audio timestamps go {-shift / rate:.3f} s back at {pos / rate:.3f} s "
                         f"(sound repeated): the overlap dropped")
            mono = mono[-shift:]
            if mono.size == 0:
                continue
        out.append(mono)
        pos += mono.size
    return np.concatenate(out), notes


def _resample(mono, rate, sr):
    """``mono`` (float32, at ``rate`` Hz) resampled to ``sr`` Hz by FFmpeg's resampler."""
    import av

    if rate == sr or mono.size == 0:
        return mono
    resampler = av.AudioResampler(format="flt", layout="mono", rate=int(sr))
    chunks = []
    for s in range(0, mono.size, _BLOCK):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(mono[None, s:s + _BLOCK]), format="flt",
                                           layout="mono")
        frame.sample_rate, frame.pts = int(rate), s
        chunks += [o.to_ndarray().reshape(-1) for o in resampler.resample(frame)]
    chunks += [o.to_ndarray().reshape(-1) for o in resampler.resample(None)]  # the resampler's delay
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def audio_header(path, *, index=0):
    """The audio stream a reader takes from ``path`` (the one flagged *default*, else the first), from the
    container's headers (nothing decoded).

    Parameters
    ----------
    path : str or path-like
        A video or audio file.
    index : int, default=0
        Position of the item in its input sequence, for error messages.

    Returns
    -------
    dict or None
        ``rate`` (the stream's sample rate in Hz, as :attr:`AudioTrack.source_rate`), ``codec``
        (FFmpeg's name) and ``channels``; None when the file has no audio stream.

    Raises
    ------
    ItemError
        The file is missing or cannot be opened (message names the item).

    Examples
    --------
    >>> try:
    ...     audio_header("missing.mp4", index=2)
    ... except ItemError as exc:
    ...     print(exc)
    item 2 (missing.mp4): file not found
    """
    src, fh, container = _open(path, index)
    try:
        try:
            _, st, _ = _choose_stream(container, None, index, src)
        except NoAudioError:
            return None
        cc = st.codec_context
        return dict(rate=int(st.rate or 0), codec=cc.name if cc is not None else "",
                    channels=int(cc.channels) if cc is not None else 0)
    finally:
        container.close()
        fh.close()


def load_audio(path, *, sr=22050, max_seconds=None, index=0, stream=None):
    """Decode an audio stream of a video or audio file to mono float32 at ``sr`` Hz.

    Each decoded frame is placed at its presentation time: a stretch of sound missing from the
    stream (its timestamps jump forward, e.g. a dropped chunk in a capture) is filled with
    silence and a stretch sent twice (timestamps going back) is dropped, so that every later
    sample keeps its time; both are reported in ``AudioTrack.errors``. The channels are averaged
    at the stream's own rate, then FFmpeg's resampler (``libswresample``) converts the rate.

    Parameters
    ----------
    path : str or path-like
        A video (its audio track) or an audio file: anything FFmpeg reads (MP4/AAC, MKV,
        WAV, FLAC, MP3...).
    sr : int, default=22050
        Output sample rate.
    max_seconds : float, optional
        Stop after this much sound.
    index : int, default=0
        Position of the item in its input sequence, for error messages.
    stream : int, optional
        Position of the audio stream to read among the file's audio streams; by default the
        one flagged *default*, else the first (as the video reader chooses its stream).

    Returns
    -------
    AudioTrack

    Raises
    ------
    NoAudioError
        The file has no audio stream.
    ItemError
        The file cannot be opened, its audio cannot be decoded, or ``stream`` names no audio
        stream (message names the item).

    Examples
    --------
    >>> try:
    ...     load_audio("missing.mp4", index=3)
    ... except ItemError as exc:
    ...     print(exc)
    item 3 (missing.mp4): file not found
    """
    import av

    src, fh, container = _open(path, index)
    try:
        ordinal, st, n_streams = _choose_stream(container, stream, index, src)
        converter = None  # planar float at the first frame's rate and layout
        pieces, rate, start, n, channels = [], None, None, 0, 0
        try:
            for frame in container.decode(st):
                if converter is None:
                    rate, channels = int(frame.sample_rate), len(frame.layout.channels)
                    converter = av.AudioResampler(format="fltp", layout=frame.layout, rate=rate)
                for out in converter.resample(frame):
                    mono = out.to_ndarray().mean(axis=0, dtype=np.float32)
                    if frame.pts is not None and frame.time_base is not None:
                        at = int(round(float(frame.pts * frame.time_base) * rate))
                    else:  # no timestamp: right after the sound before it
                        at = pieces[-1][0] + pieces[-1][1].size if pieces else 0
                    if start is None:
                        start = at
                    pieces.append((at, mono))
                    n = at - start + mono.size
                if max_seconds is not None and n >= max_seconds * rate:
                    break
        except av.error.FFmpegError as exc:
            if not pieces:
                raise ItemError(index, src, f"audio cannot be decoded ({exc})") from None
        if pieces:
            mono, notes = _place(pieces, rate)
            samples = _resample(mono, rate, int(sr)).astype(np.float32, copy=False)
        else:
            samples, notes = np.zeros(0, np.float32), []
        if max_seconds is not None:
            samples = samples[:int(round(max_seconds * sr))]
        return AudioTrack(samples=samples, sr=int(sr), start_s=(start / rate) if start is not None else 0.0,
                          source_rate=int(st.rate or rate or 0), codec=st.codec_context.name, channels=channels,
                          stream=ordinal, n_streams=n_streams, errors=tuple(notes))
    finally:
        container.close()
        fh.close()
