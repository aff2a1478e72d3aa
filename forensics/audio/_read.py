"""Reading sound: the audio track of a video, or an audio file, as mono float samples (PyAV)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..media import ItemError
from ..media._video import _ts_discont, pick_stream

__all__ = ["AudioTrack", "NoAudioError", "audio_header", "load_audio"]

# A frame whose timestamp is further than this from the end of the sound before it (seconds) starts
# after a gap (silence is inserted) or overlaps it (the overlap is dropped). Containers that store
# milliseconds (Matroska, FLV) round each timestamp by up to 0.5 ms, so smaller differences are
# rounding, not missing sound.
_GAP_TOLERANCE_S = 0.002
#: FFmpeg's default discontinuity threshold (``-dts_delta_threshold``, 10 s): a larger forward jump
#: in a format that allows discontinuities is a new part, not missing sound.
_DISCONT_S = 10.0
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

    from ..media._video import _CONTAINER_OPTIONS, DEFAULT_MAX_VIDEO_PIXELS, _local_file

    src, raw = _local_file(path, index)
    try:
        fh = open(raw, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise ItemError(index, src, f"cannot read file ({exc.strerror or exc})") from None
    try:
        # FFmpeg decodes video frames while it probes the streams: the video reader's frame-size limit
        # holds here too (a header declaring 16000x16000 cost 2.4 GB without it)
        container = av.open(fh, "r", container_options=dict(_CONTAINER_OPTIONS),
                            options={"max_pixels": str(DEFAULT_MAX_VIDEO_PIXELS)})
    except Exception as exc:
        fh.close()
        raise ItemError(index, src, f"cannot open ({type(exc).__name__}: {exc})") from None
    return src, fh, container


def _choose_stream(container, stream, index, src):
    """(position, stream, count) of the audio stream to read (the video reader's rule)."""
    audios = list(container.streams.audio)
    if not audios:
        raise NoAudioError(index, src, "no audio stream")
    k, chosen = pick_stream(audios, stream, "audio", index, src)
    return k, chosen, len(audios)


def _place(pieces, rate, discont=False):
    """Join ``(start_sample, mono)`` pieces on one timeline: gaps become zeros, overlaps are dropped.

    ``discont``: the container allows timestamp discontinuities (FFmpeg's ``AVFMT_TS_DISCONT``:
    MPEG-TS, MPEG-PS; e.g. captures joined with ``cat``). There, timestamps that go back, or jump
    forward by more than FFmpeg's 10 s discontinuity threshold, start a new part, joined on right
    after the sound before it (as the video reader continues its frame times), not read as
    repeated or missing sound.

    Returns the joined samples and the notes: one per kind (gaps, overlaps, restarts), with the
    count, the seconds involved and where the first one is.
    """
    tol = int(np.ceil(_GAP_TOLERANCE_S * rate))
    jump = int(round(_DISCONT_S * rate))
    out, pos, offset = [], pieces[0][0], 0
    kinds = {"gap": [], "overlap": [], "restart": []}  # (at, samples) of each
    for start, mono in pieces:
        start += offset
        shift = start - pos
        if discont and (shift < -tol or shift > jump):
            kinds["restart"].append((pos, shift))
            offset -= shift
            shift = 0
        if shift > tol:
            out.append(np.zeros(shift, np.float32))
            kinds["gap"].append((pos, shift))
            pos = start
        elif shift < -tol:
            kinds["overlap"].append((pos, -shift))
            mono = mono[-shift:]
            if mono.size == 0:
                continue
        out.append(mono)
        pos += mono.size
    notes = []
    for kind, found in kinds.items():
        if not found:
            continue
        at, total = found[0][0] / rate, sum(abs(s) for _, s in found) / rate
        if kind == "gap":
            notes.append(f"audio timestamps jump forward {len(found)} time(s), {total:.3f} s in all (sound "
                         f"missing; first at {at:.3f} s): silence inserted")
        elif kind == "overlap":
            notes.append(f"audio timestamps go back {len(found)} time(s), {total:.3f} s in all (sound repeated; "
                         f"first at {at:.3f} s): the overlaps dropped")
        else:
            notes.append(f"audio timestamps restart {len(found)} time(s) (a discontinuity, e.g. joined captures; "
                         f"first at {at:.3f} s): each part joined on after the sound before it")
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
        pieces, rate, layout, start, n, channels = [], None, None, None, 0, 0
        try:
            for frame in container.decode(st):
                if converter is not None and int(frame.sample_rate) != rate:
                    # one timeline at one rate: a joined capture at another rate is not read as wrong sound
                    at = float(frame.pts * frame.time_base) if frame.pts is not None else n / rate
                    raise ItemError(index, src, f"the audio's sample rate changes mid-stream ({rate} to "
                                                f"{int(frame.sample_rate)} Hz at {at:.3f} s); not supported")
                if converter is None or frame.layout.name != layout:
                    # a new converter when the channel layout changes (the channels are averaged per frame)
                    rate, layout = int(frame.sample_rate), frame.layout.name
                    channels = max(channels, len(frame.layout.channels))
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
            mono, notes = _place(pieces, rate, _ts_discont(container))
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
