"""Reading videos: container metadata, frame sampling and exact frame decoding.

A video item is read with `PyAV <https://pyav.basswood-io.com/>`_, the maintained Python binding
of FFmpeg's libavformat/libavcodec, rather than OpenCV's ``cv2.VideoCapture``:

- **Exact frame indices and timestamps.** Frames are counted as the decoder outputs them, so
  frame ``k`` is the ``k``-th picture of the stream, and each carries its own presentation
  timestamp. ``VideoCapture.set(CAP_PROP_POS_FRAMES, k)`` seeks through a timestamp guess that
  is known to land on neighbouring frames for streams with B-frames or variable frame rate,
  and ``CAP_PROP_FRAME_COUNT`` is an estimate from the duration.
- **Metadata.** The codec, container format, bit rate, display-matrix rotation and keyframe
  positions (read from packet headers, without decoding) are all exposed; ``VideoCapture``
  gives width, height, an fps and a frame-count guess.
- **Errors are reported, not swallowed.** FFmpeg's error log lines, decoder exceptions and
  frames flagged corrupt are collected into ``errors``; ``VideoCapture.read`` returns
  ``False`` for a truncated file and for the end of a good one alike.

Frame index convention: the index of a frame is its position, counted from 0, in the sequence
of pictures the decoder outputs (presentation order for well-formed streams). Timestamps are
the frames' presentation times in seconds relative to the stream's start time.
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from ._item import ItemError

__all__ = [
    "VideoFrames",
    "VideoInfo",
    "iter_frames",
    "read_frames",
    "sample_indices",
    "video_info",
]

#: Number of frames sampled when no selector is given.
DEFAULT_N_FRAMES = 32

# When the header already gives the frame count, the keyframe scan stops after this many packets.
_KEYFRAME_SCAN_PACKETS = 3000
# At most this many distinct error messages are kept per call (repeats are counted).
_MAX_ERRORS = 20


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of a video file, read from the container and a scan of packet headers.

    Attributes
    ----------
    path : str
        The file.
    container : str
        FFmpeg's name of the container format, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``,
        ``"matroska,webm"``, ``"mpegts"``.
    codec : str
        FFmpeg's name of the video codec, e.g. ``"h264"``, ``"hevc"``, ``"vp9"``.
    width, height : int
        Coded picture size in pixels (before rotation).
    rotation : int
        Counter-clockwise rotation in degrees, in (-180, 180], that a player applies for display:
        the angle of the stream's display matrix as FFmpeg reports it (``ffprobe``'s
        ``rotation``), or minus the legacy clockwise ``rotate`` metadata tag; 0 when neither is
        present. ``np.rot90(frame, rotation // 90)`` turns a decoded frame upright.
    fps : float or None
        Average frame rate (frames per second) from the container; FFmpeg's guess when the
        average is not recorded; None when neither is known.
    n_frames : int
        Number of frames (see ``n_frames_source``).
    n_frames_source : {"header", "counted", "estimated"}
        ``"header"``: the container's frame count; ``"counted"``: the number of video packets
        found by a scan of the whole file (one packet per frame, no decoding);
        ``"estimated"``: ``round(duration_s * fps)``, used only when the scan failed.
    duration_s : float or None
        Duration of the video stream in seconds (the container's duration when the stream has
        none; ``n_frames / fps`` as a last resort).
    bit_rate : int or None
        Bit rate in bits per second: the video stream's when recorded, else the container's
        overall rate; None when unknown.
    keyframe_interval : float or None
        Median distance in frames between consecutive keyframes, from packet flags (no decoding;
        at most the first 3000 packets when the header gives the frame count). None with fewer
        than two keyframes.
    errors : tuple of str
        Problems met while reading the header and scanning packets (e.g. ``File ended
        prematurely``, or a duration that implies more frames than the file holds).
    """

    path: str
    container: str
    codec: str
    width: int
    height: int
    rotation: int
    fps: float | None
    n_frames: int
    n_frames_source: str
    duration_s: float | None
    bit_rate: int | None
    keyframe_interval: float | None
    errors: tuple = ()


@dataclass
class VideoFrames:
    """Frames decoded from one video, with their exact indices and what went wrong.

    Attributes
    ----------
    frames : list of ndarray
        RGB uint8 arrays of shape (H, W, 3), in the order of ``requested`` (a frame requested
        twice appears twice, as the same array object). The display rotation
        (``info.rotation``) is **not** applied, so pixels keep the coded layout.
    indices : ndarray of int
        The frame index of each array in ``frames``: ``requested`` with ``missing`` removed.
    timestamps : ndarray of float
        Presentation time in seconds of each returned frame, relative to the stream start
        (NaN where a frame has no timestamp).
    requested : ndarray of int
        The frame indices asked for, in the order asked.
    missing : ndarray of int
        Requested indices that could not be decoded (sorted, unique).
    errors : list of str
        Problems met while decoding (FFmpeg error messages, decoder exceptions, frames flagged
        corrupt, a stream that ended before the requested frames), including ``info.errors``.
        Empty for a clean read.
    info : VideoInfo
        Metadata of the file.
    """

    frames: list
    indices: np.ndarray
    timestamps: np.ndarray
    requested: np.ndarray
    missing: np.ndarray
    errors: list = field(default_factory=list)
    info: VideoInfo | None = None

    def __len__(self):
        return len(self.frames)


# -- FFmpeg error log capture -------------------------------------------------------------------
_log_lock = threading.Lock()
_log_users = 0
_saved_level = None
_saved_skip = True


@contextmanager
def _ffmpeg_log():
    """Capture FFmpeg's error messages emitted by this thread.

    PyAV silences FFmpeg's log by default; while any call of this module is running, the level
    is raised to ERROR (if lower), PyAV's suppression of repeated messages is turned off, and
    both are restored afterwards. Messages from other threads are not captured (decoding with
    ``threads=1`` keeps FFmpeg's own messages on the calling thread).
    """
    import av.logging

    global _log_users, _saved_level, _saved_skip
    with _log_lock:
        if _log_users == 0:
            _saved_level = av.logging.get_level()
            _saved_skip = av.logging.get_skip_repeated()
            if _saved_level is None or _saved_level < av.logging.ERROR:
                av.logging.set_level(av.logging.ERROR)
            # PyAV holds back a message identical to the previous one (globally, across calls),
            # which would hide a file's error if the previous file had the same one.
            av.logging.set_skip_repeated(False)
        _log_users += 1
    try:
        with av.logging.Capture(local=True) as logs:
            yield logs
    finally:
        with _log_lock:
            _log_users -= 1
            if _log_users == 0:
                av.logging.set_level(_saved_level)
                av.logging.set_skip_repeated(_saved_skip)


class _Errors:
    """Distinct error messages in order of first appearance, with repeat counts."""

    def __init__(self, initial=()):
        self.counts = {}
        for msg in initial:
            self.add(msg)

    def add(self, msg):
        if msg in self.counts:
            self.counts[msg] += 1
        elif len(self.counts) < _MAX_ERRORS:
            self.counts[msg] = 1
        else:
            self.counts["(further distinct errors not kept)"] = self.counts.get(
                "(further distinct errors not kept)", 0
            ) + 1

    def add_logs(self, logs):
        import av.logging

        for level, name, message in logs:
            if level <= av.logging.ERROR:
                self.add(f"ffmpeg {name}: {message.strip()}")
        logs.clear()

    def __bool__(self):
        return bool(self.counts)

    def as_list(self):
        return [m if c == 1 else f"{m} (x{c})" for m, c in self.counts.items()]


# -- opening ------------------------------------------------------------------------------------
def _open(path, index):
    """Open ``path`` with PyAV and return (container, video stream); ItemError on failure."""
    import av

    src = os.fspath(path)
    if not os.path.exists(src):
        raise ItemError(index, src, "file not found")
    if os.path.isdir(src):
        raise ItemError(index, src, "is a directory, not a video file")
    try:
        size = os.path.getsize(src)
    except OSError as exc:
        raise ItemError(index, src, f"cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise ItemError(index, src, "file is empty (0 bytes)")
    try:
        container = av.open(src, "r")
    except av.FFmpegError as exc:
        raise ItemError(index, src, f"not a readable video file ({_describe(exc)})") from None
    except OSError as exc:
        raise ItemError(index, src, f"cannot read file ({exc.strerror or exc})") from None
    fmt = container.format.name
    if fmt == "image2" or fmt.endswith("_pipe"):
        container.close()
        raise ItemError(index, src, f"is a still image ({fmt} format), not a video")
    streams = [
        s for s in container.streams.video
        if not (s.disposition & av.stream.Disposition.attached_pic)  # cover art in audio files
    ]
    if not streams:
        container.close()
        raise ItemError(index, src, f"has no video stream (container {fmt!r})")
    return container, streams[0]


def _describe(exc):
    msg = getattr(exc, "strerror", None) or str(exc)
    return f"{type(exc).__name__}: {msg}"


def _rate(stream):
    for name in ("average_rate", "guessed_rate", "base_rate"):
        try:
            r = getattr(stream, name)
        except Exception:  # pragma: no cover - defensive: attribute missing in some builds
            r = None
        if r:
            return float(r)
    return None


def _normalize_angle(deg):
    deg = int(round(float(deg))) % 360
    return deg - 360 if deg > 180 else deg


def _rotation(container, stream, errors, decode=True):
    """Display rotation, counter-clockwise degrees (see :class:`VideoInfo`).

    None when there is no ``rotate`` tag and ``decode`` is False (the caller then reads it from
    the first frame it decodes itself).
    """
    import av

    tag = stream.metadata.get("rotate")
    if tag is not None:
        try:
            return _normalize_angle(-float(tag))  # legacy tag is clockwise
        except ValueError:
            errors.add(f"unparsable rotate tag {tag!r}")
    if not decode:
        return None
    # FFmpeg attaches the stream's display matrix to every decoded frame: decode the first one.
    stream.codec_context.thread_count = 1
    try:
        for frame in container.decode(stream):
            return _frame_rotation(frame)
    except av.FFmpegError:
        pass  # decode problems are reported by read_frames
    return 0


def _frame_rotation(frame):
    rot = frame.rotation
    return _normalize_angle(rot) if rot else 0


def _probe(container, stream, src, index, decode_rotation=True):
    import av

    errors = _Errors()
    with _ffmpeg_log() as logs:
        header_frames = int(stream.frames or 0)
        fps = _rate(stream)
        tb = stream.time_base
        duration_s = None
        if stream.duration is not None and tb:
            duration_s = float(stream.duration * tb)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        # Packet scan (headers only, no decoding): count and keyframe positions.
        n_packets, keyframes, scan_complete = 0, [], False
        limit = _KEYFRAME_SCAN_PACKETS if header_frames > 0 else None
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet at the end of the stream
                    continue
                if packet.is_keyframe:
                    keyframes.append(n_packets)
                n_packets += 1
                if limit is not None and n_packets >= limit:
                    break
            else:
                scan_complete = True
        except av.FFmpegError as exc:
            errors.add(f"packet scan stopped after {n_packets} packets ({_describe(exc)})")
        errors.add_logs(logs)
        if header_frames > 0:
            n_frames, source = header_frames, "header"
        elif scan_complete or n_packets > 0:
            n_frames, source = n_packets, "counted"
            if duration_s and fps:
                implied = int(round(duration_s * fps))
                if implied - n_packets > max(2, 0.02 * implied):
                    errors.add(
                        f"container duration {duration_s:.3f} s implies about {implied} frames but "
                        f"only {n_packets} were found (truncated file?)"
                    )
        elif duration_s and fps:
            n_frames, source = int(round(duration_s * fps)), "estimated"
        else:
            n_frames, source = 0, "estimated"
        if n_frames <= 0:
            raise ItemError(index, src, "video stream has no frames" + _suffix(errors))
        if duration_s is None and fps:
            duration_s = n_frames / fps
        gaps = np.diff(keyframes)
        keyframe_interval = float(np.median(gaps)) if gaps.size else None
        bit_rate = stream.codec_context.bit_rate or container.bit_rate or None
        if decode_rotation:
            try:
                container.seek(0)
            except av.FFmpegError:
                pass
        rotation = _rotation(container, stream, errors, decode=decode_rotation)
        logs.clear()  # decode messages of the first frame are reported by read_frames
    return VideoInfo(
        path=src,
        container=container.format.name,
        codec=stream.codec_context.name,
        width=int(stream.codec_context.width),
        height=int(stream.codec_context.height),
        rotation=rotation,
        fps=fps,
        n_frames=int(n_frames),
        n_frames_source=source,
        duration_s=duration_s,
        bit_rate=int(bit_rate) if bit_rate else None,
        keyframe_interval=keyframe_interval,
        errors=tuple(errors.as_list()),
    )


def _suffix(errors):
    return f" ({'; '.join(errors.as_list()[:3])})" if errors else ""


def video_info(path, *, index=0):
    """Read the metadata of a video file without decoding it (one frame aside).

    Parameters
    ----------
    path : str or path-like
        A video file in any container and codec FFmpeg reads.
    index : int, default=0
        Position of the item in its input sequence, used in error messages.

    Returns
    -------
    VideoInfo
        Container, codec, size, rotation, fps, frame count (with its source), duration, bit
        rate and keyframe interval.

    Raises
    ------
    ItemError
        For a missing, empty or unreadable file, a directory, a still image, a file without a
        video stream or with no frames; the message names ``index`` and the path.

    Notes
    -----
    The packet scan reads the file's packet headers (no decoding): the whole file when the
    container records no frame count (Matroska, MPEG-TS, fragmented MP4), otherwise only the
    first 3000 packets for the keyframe interval. The rotation needs the first frame decoded.

    Examples
    --------
    >>> import forensics.media._video as v
    >>> try:
    ...     v.video_info("no/such/video.mp4", index=3)
    ... except v.ItemError as exc:
    ...     print(exc)
    item 3 (no/such/video.mp4): file not found
    """
    return _video_info(path, index)


def _video_info(path, index, decode_rotation=True):
    container, stream = _open(path, index)
    try:
        return _probe(container, stream, os.fspath(path), index, decode_rotation)
    finally:
        container.close()


# -- sampling -----------------------------------------------------------------------------------
def _as_count(value, name, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def sample_indices(n_frames, *, n=DEFAULT_N_FRAMES, every=None, times=None, fps=None):
    """Choose frame indices of a video of ``n_frames`` frames.

    One selection mode applies: ``every`` or ``times`` when given (at most one of them),
    otherwise ``n`` evenly spaced frames. ``n`` is the default mode, so it is ignored (not an
    error) when ``every`` or ``times`` is given.

    Parameters
    ----------
    n_frames : int
        Number of frames in the video (>= 1).
    n : int, default=32
        Number of evenly spaced frames: ``np.linspace(0, n_frames - 1, n)`` rounded half up, so
        the first and last frames are always included. With ``n >= n_frames`` every frame is
        returned (``n_frames`` indices, not ``n``).
    every : int, optional
        Take every ``every``-th frame: 0, every, 2*every, ... below ``n_frames``.
    times : array-like of float, optional
        Times in seconds from the start; frame ``round(t * fps)`` (half up), clipped to
        ``n_frames - 1`` for times in the last frame's interval. Times outside
        ``[0, n_frames / fps]`` raise. For variable-frame-rate video this is an approximation
        based on the average rate.
    fps : float, optional
        Frame rate, required with ``times`` (``VideoInfo.fps``).

    Returns
    -------
    indices : ndarray of int64
        Sorted unique indices for ``n`` and ``every``; for ``times`` one index per time, in the
        order given.

    Raises
    ------
    ValueError
        For more than one selector, non-positive counts, ``times`` without ``fps`` or times out
        of range.

    Examples
    --------
    >>> from forensics.media._video import sample_indices
    >>> sample_indices(10, n=4)
    array([0, 3, 6, 9])
    >>> sample_indices(10, every=4)
    array([0, 4, 8])
    >>> sample_indices(3, n=32)
    array([0, 1, 2])
    >>> sample_indices(100, times=[0.0, 1.0, 0.5], fps=25)
    array([ 0, 25, 13])
    """
    n_frames = _as_count(n_frames, "n_frames")
    if every is not None and times is not None:
        raise ValueError("give at most one of every and times")
    if times is not None:
        if fps is None or not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"times needs a positive fps, got fps={fps!r}")
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if t.ndim != 1:
            raise ValueError(f"times must be 1-D, got shape {t.shape}")
        end = n_frames / float(fps)
        bad = t[~np.isfinite(t) | (t < 0) | (t > end)]
        if bad.size:
            raise ValueError(
                f"times {bad.tolist()} are outside the video (0 to {end:.3f} s, {n_frames} frames "
                f"at {float(fps):g} fps)"
            )
        idx = np.floor(t * float(fps) + 0.5).astype(np.int64)
        return np.minimum(idx, n_frames - 1)
    if every is not None:
        every = _as_count(every, "every")
        return np.arange(0, n_frames, every, dtype=np.int64)
    n = _as_count(n, "n")
    if n >= n_frames:
        return np.arange(n_frames, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    idx = np.floor(np.linspace(0, n_frames - 1, n) + 0.5).astype(np.int64)
    return np.unique(idx)


def _check_indices(indices):
    arr = np.asarray(indices)
    if arr.ndim != 1:
        arr = np.atleast_1d(arr)
        if arr.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("indices is empty")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError("indices must be whole numbers")
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"indices must be >= 0, got {arr[arr < 0].tolist()}")
    return arr


# -- decoding -----------------------------------------------------------------------------------
def _decode_wanted(container, stream, wanted, errors, start_time, state):
    """Yield (index, seconds, rgb) for each index in the sorted unique array ``wanted``.

    Decodes sequentially from the start, counting output frames; converts to RGB only the
    wanted ones; stops after the last wanted index. Continues past bad packets. Returns the
    number of frames decoded (StopIteration value). ``state["rotation"]`` receives the display
    rotation of the first decoded frame.
    """
    import av

    wanted_set = set(int(i) for i in wanted)
    last = int(wanted[-1])
    tb = stream.time_base
    k = 0
    demux = container.demux(stream)
    with _ffmpeg_log() as logs:
        while k <= last:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                errors.add(f"reading stopped after frame {k - 1} ({_describe(exc)})")
                break
            try:
                decoded = packet.decode()
            except av.FFmpegError as exc:
                errors.add(f"decoder error near frame {k} ({_describe(exc)})")
                errors.add_logs(logs)
                continue
            errors.add_logs(logs)
            for frame in decoded:
                if k == 0:
                    state["rotation"] = _frame_rotation(frame)
                if frame.is_corrupt:
                    errors.add(f"frame {k} decoded with errors (damaged data concealed)")
                if k in wanted_set:
                    pts = frame.pts
                    t = float((pts - start_time) * tb) if pts is not None and tb else float("nan")
                    rgb = frame.to_ndarray(format="rgb24")
                    errors.add_logs(logs)
                    yield k, t, rgb
                k += 1
                if k > last:
                    break
        errors.add_logs(logs)
    return k


def _run(path, wanted, index, threads, errors, state=None):
    """Open ``path`` and decode ``wanted``; yields and returns like :func:`_decode_wanted`."""
    container, stream = _open(path, index)
    try:
        cc = stream.codec_context
        cc.thread_count = int(threads)
        if threads != 1:
            cc.thread_type = "AUTO"
        start = stream.start_time if stream.start_time is not None else 0
        state = {} if state is None else state
        return (yield from _decode_wanted(container, stream, wanted, errors, start, state))
    finally:
        container.close()


def _finish(src, index, wanted, got, n_decoded, errors):
    missing = np.array(sorted(set(int(i) for i in wanted) - set(got)), dtype=np.int64)
    if n_decoded == 0:
        raise ItemError(index, src, "no frame could be decoded" + _suffix(errors))
    if missing.size:
        shown = missing[:10].tolist() + (["..."] if missing.size > 10 else [])
        errors.add(
            f"{missing.size} requested frame(s) not decoded ({', '.join(map(str, shown))}): "
            f"the stream ended after {n_decoded} decoded frames"
        )
    return missing


def read_frames(path, *, n=DEFAULT_N_FRAMES, every=None, times=None, indices=None, index=0, threads=1):
    """Decode selected frames of a video, with exact indices and a record of any damage.

    One selection mode applies: ``every``, ``times`` or ``indices`` when given (at most one of
    them), otherwise ``n`` evenly spaced frames (``n`` is then ignored, not an error).

    Parameters
    ----------
    path : str or path-like
        The video file.
    n : int, default=32
        Number of evenly spaced frames when no other selector is given.
    every, times : optional
        Frame selection, see :func:`sample_indices` (computed on ``info.n_frames``, with
        ``info.fps`` for ``times``).
    indices : array-like of int, optional
        Explicit frame indices (>= 0), returned in the order given (repeats allowed).
        Indices past the end of the stream are reported in ``missing``.
    index : int, default=0
        Position of the item in its input sequence, used in error messages.
    threads : int, default=1
        Decoder threads; 0 lets FFmpeg choose. One by default because the library parallelises
        over items (joblib), and the two levels should not multiply.

    Returns
    -------
    VideoFrames
        ``frames`` (RGB uint8, rotation not applied), ``indices``, ``timestamps``,
        ``requested``, ``missing``, ``errors`` and ``info``.

    Raises
    ------
    ItemError
        When the file cannot be opened as a video (see :func:`video_info`) or not a single frame
        decodes. Partial damage (a truncated or corrupt file) does not raise: the frames that
        decode are returned and ``errors`` and ``missing`` say what went wrong.

    Notes
    -----
    Decoding is sequential from the first frame, counting the frames the decoder outputs, up to
    the last requested index; only requested frames are converted to RGB. This keeps indices
    exact for any codec (B-frames, open GOPs, variable frame rate) at the cost of decoding every
    frame before the last one requested; no seeking is done.

    Memory: the returned frames take ``len(frames) * H * W * 3`` bytes, e.g. 200 MB for 32 frames
    of 1080p. Use :func:`iter_frames` to process one frame at a time.

    Examples
    --------
    >>> import forensics.media._video as v
    >>> try:
    ...     v.read_frames("missing.mkv", every=5, index=7)
    ... except v.ItemError as exc:
    ...     print(exc)
    item 7 (missing.mkv): file not found
    """
    src = os.fspath(path)
    info = _video_info(path, index, decode_rotation=False)  # rotation comes from frame 0 below
    given = [name for name, v in (("every", every), ("times", times), ("indices", indices)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of every, times and indices; got {', '.join(given)}")
    if indices is not None:
        requested = _check_indices(indices)
    else:
        requested = sample_indices(info.n_frames, n=n, every=every, times=times, fps=info.fps)
    wanted = np.unique(requested)
    errors = _Errors(info.errors)
    got = {}
    state = {}
    gen = _run(path, wanted, index, threads, errors, state)
    while True:
        try:
            k, t, rgb = next(gen)
        except StopIteration as stop:
            n_decoded = stop.value
            break
        got[k] = (t, rgb)
    missing = _finish(src, index, wanted, got, n_decoded, errors)
    if info.rotation is None:
        info = replace(info, rotation=state.get("rotation", 0))
    keep = [int(i) for i in requested if int(i) in got]
    return VideoFrames(
        frames=[got[i][1] for i in keep],
        indices=np.array(keep, dtype=np.int64),
        timestamps=np.array([got[i][0] for i in keep], dtype=np.float64),
        requested=requested,
        missing=missing,
        errors=errors.as_list(),
        info=info,
    )


def iter_frames(path, indices, *, index=0, threads=1, errors=None):
    """Decode the frames at ``indices`` one at a time (constant memory).

    Parameters
    ----------
    path : str or path-like
        The video file.
    indices : array-like of int
        Frame indices (>= 0); they are decoded and yielded in increasing order, each once.
    index : int, default=0
        Position of the item in its input sequence, used in error messages.
    threads : int, default=1
        Decoder threads (see :func:`read_frames`).
    errors : list, optional
        When given, decoding problems and requested indices that could not be decoded are
        appended to it as strings; otherwise they are issued as one ``RuntimeWarning`` naming
        the file when the generator finishes.

    Yields
    ------
    frame_index : int
        The exact index of the frame.
    timestamp : float
        Its presentation time in seconds from the stream start.
    rgb : ndarray of uint8, shape (H, W, 3)
        The frame in RGB order, display rotation not applied.

    Raises
    ------
    ItemError
        As :func:`read_frames`: unreadable file, or no frame decodes.

    Notes
    -----
    Only one frame is held at a time (6 MB for 1080p), plus the decoder's reference frames.
    Unlike :func:`read_frames`, this does not scan the file first (no :class:`VideoInfo`).

    Examples
    --------
    >>> import forensics.media._video as v
    >>> gen = v.iter_frames("missing.ts", [0, 10])
    >>> try:
    ...     next(gen)
    ... except v.ItemError as exc:
    ...     print(exc.reason)
    file not found
    """
    src = os.fspath(path)
    wanted = np.unique(_check_indices(indices))
    log = _Errors()
    got = []
    n_decoded = yield from _collect(_run(path, wanted, index, threads, log), got)
    _finish(src, index, wanted, got, n_decoded, log)
    messages = log.as_list()
    if errors is not None:
        errors.extend(messages)
    elif messages:
        warnings.warn(f"{src}: " + "; ".join(messages), RuntimeWarning, stacklevel=2)


def _collect(gen, got):
    """Re-yield ``gen`` noting the yielded indices in ``got``; return its return value."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        got.append(item[0])
        yield item

