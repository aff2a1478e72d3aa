"""Reading videos: container metadata, frame sampling and exact frame decoding.

A video item is read with `PyAV <https://pyav.basswood-io.com/>`_, the maintained Python binding
of FFmpeg's libavformat/libavcodec, rather than OpenCV's ``cv2.VideoCapture``:

- **Frame identity from the stream.** Before decoding, the packet headers of the chosen video
  stream are scanned (no decoding): every packet carries its presentation timestamp (pts), so
  the frames of the video are the packets in pts order, and frame ``k`` is the one with the
  ``k``-th smallest pts. A decoded picture is identified by its own pts, never by counting
  decoder outputs, so a packet that fails to decode, a frame the decoder drops, or a seek
  never relabels later frames. ``VideoCapture.set(CAP_PROP_POS_FRAMES, k)`` seeks through a
  timestamp guess that lands on neighbouring frames for streams with B-frames or a variable
  frame rate, and ``CAP_PROP_FRAME_COUNT`` is a guess from the header.
- **Counts and times checked against the data.** The frame count is the number of packets the
  scan finds; a header count or duration that disagrees is reported in ``errors`` (a stale
  header must not make evenly spaced sampling cover half of the clip). Frame times come from
  the pts, so ``times=`` works for variable-frame-rate video; edit lists (frames an MP4 edit
  list hides are not counted) and streams starting at a non-zero time are respected. Where a
  format allows timestamp discontinuities (MPEG-TS, MPEG-PS) and the decode timestamps go back
  (concatenated files), each part is shifted to follow the one before, as FFmpeg's command line
  does, so frames keep file order; the restart is reported in ``errors``.
- **What a viewer sees.** By default frames are returned in display geometry: the display
  matrix (or legacy ``rotate`` tag) is applied, as FFmpeg's own players do, and non-square
  pixels (sample aspect ratio != 1) are resampled to square ones.
- **Only the file named.** Local files are opened as Python file objects, so FFmpeg never
  reads a name as a protocol (``file:a.mp4``, ``concat:...``, ``http:...``), and nested I/O is
  disabled, so a playlist or concat list inside a file cannot make FFmpeg read another file or
  reach the network.
- **Errors are reported, not swallowed.** FFmpeg's error log lines, decoder exceptions and
  frames flagged corrupt are collected into ``errors``.

Frame index convention: frames are numbered from 0 in presentation order (increasing pts) among
the frames the video shows (packets an MP4 edit list discards are not counted). Timestamps are
presentation times in seconds relative to the first shown frame (``VideoInfo.start_time_s``
gives that frame's time on the file's timeline).

Display geometry decision (used across the library): face detection, face crops and anything
a person looks at use display geometry (``display=True``, the default); block-grid features
(DCT, codec blocks), which are defined on the coded 8x8/16x16 grid, may ask for the coded
layout with ``display=False``. :class:`VideoFrames` records what was applied
(``rotation_applied``, ``mirror_applied``, ``sar_applied``).
"""

from __future__ import annotations

import math
import os
import stat
import threading
import warnings
from bisect import bisect_left, bisect_right
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from ._item import ItemError, not_found_reason, path_text, read_error_reason

__all__ = [
    "DEFAULT_MAX_VIDEO_PIXELS",
    "VideoFrames",
    "VideoInfo",
    "iter_frames",
    "read_frames",
    "sample_indices",
    "video_info",
]

#: Number of frames sampled when no selector is given.
DEFAULT_N_FRAMES = 32
#: Largest frame (width x height) read by default: 67 megapixels, e.g. 8192 x 8192 (8K UHD is 33).
#: Lower than the images' limit because a read holds up to ``n`` frames (3 bytes per pixel each)
#: and the decoder its reference pictures; a header costs a few bytes to declare any size.
DEFAULT_MAX_VIDEO_PIXELS = 1 << 26

# At most this many distinct error messages are kept per call (repeats are counted).
_MAX_ERRORS = 20
# Seek to a keyframe only when it skips at least this many packets that would otherwise be
# decoded (a seek flushes the decoder, which then refills its reordering delay).
_SEEK_MIN_SKIP = 4
# Containers whose index makes keyframe seeks land where asked (others decode sequentially).
_SEEKABLE_FORMATS = ("mov", "mp4", "matroska", "webm")
#: Containers sought in by a keyframe's decode timestamp, without an index: FFmpeg's MPEG-TS seek searches the file
#: for a packet whose dts is at or before the one asked for (a pts lands past a keyframe whose pictures are
#: reordered), and indexes any packet it meets as a keyframe, so a landing before the keyframe is skipped to it
_DTS_SEEK_FORMATS = ("mpegts",)
# Containers that store each packet's presentation timestamp. Elsewhere (AVI, raw streams) FFmpeg
# guesses pts from dts, which is right only for streams without frame reordering.
_PTS_FORMATS = ("mov", "mp4", "matroska", "webm", "mpegts", "mpeg", "flv", "nut", "ogg", "mxf")
# Containers whose header durations are recorded, not estimated from the bit rate.
_DURATION_FORMATS = ("mov", "mp4", "matroska", "webm", "avi", "flv")
# Decoders that honour skip_frame for the packet being sent (others apply it later, or output a
# stand-in picture for a skipped one).
_SKIP_NONREF_CODECS = ("h264", "hevc")
#: Decoders that output nothing before a stream's first keyframe, nor that keyframe's leading pictures
#: (measured with this FFmpeg on MPEG-TS captures cut inside a GOP; see _Table._leading)
_LEADING_DROPPED_CODECS = ("h264", "hevc", "mpeg2video", "mpeg1video")
#: Formats of captures, which may start anywhere in a stream and whose keyframe flags are the codec parser's
#: (MPEG-TS, MPEG-PS, raw elementary streams); files of other containers start with a keyframe their muxer
#: flagged, so a first packet without the flag there is damage (a gap), not a capture's start
_CAPTURE_FORMATS = ("mpegts", "mpeg", "mpegvideo", "h264", "hevc")
# FFmpeg demuxers open nested inputs (playlists, concat lists, MP4 external references) through
# the protocol whitelist; no protocol is named "none", so every nested open is refused.
_CONTAINER_OPTIONS = {"protocol_whitelist": "none"}
# Python file object buffer for FFmpeg's reads (fewer Python calls than the 32 KiB default).
_IO_BUFFER = 1 << 20
# The packet scan stops reading when this many bytes pass without a packet of the stream read (other
# streams' packets do not count: a file whose other streams run on for more than this after the
# video ends is cut there and reported, a known limit): a file
# padded with zeros or junk (a preallocated download, a sparse file of a terabyte) is otherwise read
# to its end at the demuxer's resync speed (about 40 MB/s here: 4 GiB of zeros after a clip took 49 s).
_MAX_BYTES_WITHOUT_PACKET = 1 << 28


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of a video file, read from the container and a scan of its packet headers.

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
        Coded picture size in pixels (before SAR correction and rotation).
    rotation : int
        Counter-clockwise rotation in degrees, in (-180, 180], that a player applies for display:
        the angle of the stream's display matrix as FFmpeg reports it (``ffprobe``'s
        ``rotation``), or minus the legacy clockwise ``rotate`` metadata tag; 0 when neither is
        present. For a matrix without a mirror, ``np.rot90(frame, rotation // 90)`` turns a
        coded frame upright.
    fps : float or None
        Average frame rate in frames per second: ``n_frames / duration_s`` from the packet
        timestamps; FFmpeg's stream rate when the stream has no usable timestamps; None when
        neither is known.
    n_frames : int
        Number of frames the video shows (see ``n_frames_source``).
    n_frames_source : {"counted", "header", "estimated"}
        ``"counted"``: packets found by a scan of the whole stream (one packet per frame, no
        decoding; packets an edit list discards are not counted); ``"header"``: the container's
        frame count, used only when the scan found no packet; ``"estimated"``:
        ``round(duration * rate)`` when neither exists.
    duration_s : float or None
        Shown duration in seconds: from the first frame's pts to the end of the last frame
        (its pts plus its duration), from the scan; the header's duration when the scan has
        no timestamps.
    bit_rate : int or None
        Bit rate in bits per second: the video stream's when recorded, else the container's
        overall rate; None when unknown.
    keyframe_interval : float or None
        Median distance in packets between consecutive keyframes (from packet flags). None with
        fewer than two keyframes.
    sample_aspect_ratio : float
        Width of a pixel over its height (FFmpeg's ``av_guess_sample_aspect_ratio``: the
        container's value, else the codec's); 1.0 when unknown.
    display_width, display_height : int
        Size of the displayed picture: the coded width scaled by the sample aspect ratio
        (rounded), swapped with the height when the display transform turns by 90 degrees.
    mirrored : bool
        The display matrix includes a mirror (negative determinant).
    stream : int
        Which video stream was read: its position among the file's video streams (what
        ``stream=`` takes). By default the first stream flagged *default*, else the first.
    video_streams : int
        Number of video streams in the file (cover pictures included).
    start_time_s : float or None
        Time of the first shown frame on the file's timeline, in seconds (non-zero e.g. for
        MPEG-TS or an MP4 whose video starts late). Timestamps are relative to it.
    header_frames : int or None
        The container's frame count when it records one (checked against the scan).
    timing : {"pts", "decode order"}
        How frames are identified: by presentation timestamp (normal), or, for streams whose
        packets carry no timestamps (e.g. raw elementary streams), by decoder output order.
    errors : tuple of str
        Problems met while reading the header and scanning packets (e.g. ``File ended
        prematurely``, a header frame count or duration that the packets contradict).
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
    sample_aspect_ratio: float = 1.0
    display_width: int = 0
    display_height: int = 0
    mirrored: bool = False
    stream: int = 0
    video_streams: int = 1
    start_time_s: float | None = None
    header_frames: int | None = None
    timing: str = "pts"
    errors: tuple = ()


@dataclass
class VideoFrames:
    """Frames decoded from one video, with their exact indices and what went wrong.

    Attributes
    ----------
    frames : list of ndarray
        RGB uint8 arrays of shape (H, W, 3), in the order of ``requested`` (a frame requested
        twice appears twice, as the same array object). In display geometry by default (see
        ``rotation_applied``, ``sar_applied``); in the coded layout with ``display=False``.
    indices : ndarray of int
        The frame index of each array in ``frames``: ``requested`` with ``missing`` removed.
    timestamps : ndarray of float
        Presentation time in seconds of each returned frame (from its pts), relative to the
        first shown frame (NaN for a stream without timestamps).
    requested : ndarray of int
        The frame indices asked for, in the order asked.
    missing : ndarray of int
        Requested indices that could not be decoded (sorted, unique).
    errors : list of str
        Problems met while decoding (FFmpeg error messages, decoder exceptions, frames flagged
        corrupt, requested frames that did not decode), including ``info.errors``. Empty for
        a clean read.
    info : VideoInfo
        Metadata of the file (``rotation`` and display size from the first decoded frame).
    rotation_applied : int
        Counter-clockwise rotation in degrees applied to the first returned frame (0 with
        ``display=False`` or without a display transform).
    mirror_applied : bool
        A mirror was part of the display transform applied to the first returned frame.
    sar_applied : float
        Sample aspect ratio the width was resampled by (1.0: not resampled).
    rotations : ndarray of int
        Rotation applied to each returned frame (differs from ``rotation_applied`` only for a
        stream whose frames carry changing display matrices).
    mirrors : ndarray of bool
        Whether a mirror was part of the transform applied to each returned frame (as ``rotations``).
    sars : ndarray of float
        Sample aspect ratio each returned frame was resampled by (differs from ``sar_applied``
        only for a stream whose aspect ratio changes mid-stream, e.g. an MPEG-2 broadcast
        switching between 4:3 and 16:9, in a container that declares no ratio of its own).
    decoder : str
        ``"software"``, or the hardware device type the decoder was opened with (``hwaccel``).
    decoder_note : str
        Why a requested ``hwaccel`` is not in use ("" otherwise).
    """

    frames: list
    indices: np.ndarray
    timestamps: np.ndarray
    requested: np.ndarray
    missing: np.ndarray
    errors: list = field(default_factory=list)
    info: VideoInfo | None = None
    rotation_applied: int = 0
    mirror_applied: bool = False
    sar_applied: float = 1.0
    rotations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    mirrors: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    sars: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    decoder: str = "software"
    decoder_note: str = ""

    def __len__(self):
        return len(self.frames)

    def per_frame(self):
        """``{frame index: (time_s, rotation, mirror, sar)}`` of the returned frames: each one's presentation
        time and the display transform it was given (the matrix and the aspect ratio may change mid-stream)."""
        return {int(i): (float(t), int(r), bool(m), float(s))
                for i, t, r, m, s in zip(self.indices, self.timestamps, self.rotations, self.mirrors, self.sars)}


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
        self.ignore = set()  # FFmpeg messages explained by the reader (see _probe)
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
            if level <= av.logging.ERROR and message.strip() not in self.ignore:
                self.add(f"ffmpeg {name}: {message.strip()}")
        logs.clear()

    def __bool__(self):
        return bool(self.counts)

    def as_list(self):
        return [m if c == 1 else f"{m} (x{c})" for m, c in self.counts.items()]


def _describe(exc):
    msg = getattr(exc, "strerror", None) or str(exc)
    return f"{type(exc).__name__}: {msg}"


def _suffix(errors):
    return f" ({'; '.join(errors.as_list()[:3])})" if errors else ""


# -- opening ------------------------------------------------------------------------------------
def _local_file(path, index):
    """Check that ``path`` names a readable regular file; return (name for messages, fs path)."""
    try:
        raw = os.fspath(path)
    except TypeError:
        raise ItemError(index, None, f"a video must be given as a path, got {type(path).__name__}") from None
    text = os.fsdecode(raw) if isinstance(raw, bytes) else raw
    src = path_text(text)  # printable: undecodable bytes and NUL escaped, as load_item names an item
    if "\0" in text:
        raise ItemError(index, src, "the path contains a NUL byte")
    try:
        st = os.stat(raw)
    except (FileNotFoundError, NotADirectoryError):
        raise ItemError(index, src, not_found_reason(text)) from None
    except UnicodeEncodeError as exc:
        raise ItemError(index, src, f"the path cannot be encoded for the file system ({exc.reason})") from None
    except OSError as exc:
        raise ItemError(index, src, read_error_reason(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise ItemError(index, src, "is a directory, not a video file")
    if not stat.S_ISREG(st.st_mode):
        raise ItemError(index, src, "is not a regular file (device, pipe or socket)")
    if st.st_size == 0:
        raise ItemError(index, src, "file is empty (0 bytes)")
    return src, raw


class _BoundedFile:
    """A binary file whose reads end (FFmpeg sees the end of the file) once ``limit`` bytes were read without
    progress (``limit`` None: no bound).

    Progress is :meth:`mark` (a packet returned) once :meth:`bound` was called with ``at_mark=True``
    (the packet scan); while a container is opened (``at_mark=False``: FFmpeg reads the header and
    probes packets) it is the start of the opening. Once cut, the file ends for good at ``stop_at``
    (the last mark, or where the opening's reads were cut), so later passes (a reopening, decoding)
    stop there too.
    """

    def __init__(self, fh):
        self.fh, self.limit, self.since, self.at_mark = fh, None, 0, False
        self.marked_at, self.stop_at = 0, None

    def bound(self, limit, at_mark):
        self.limit, self.since, self.at_mark, self.marked_at = limit, 0, at_mark, self.fh.tell()

    def read(self, n=-1):
        if self.limit is not None and self.since >= self.limit and self.stop_at is None:
            self.stop_at = self.marked_at if self.at_mark else self.fh.tell()
        if self.stop_at is not None:
            left = self.stop_at - self.fh.tell()
            if left <= 0:
                return b""
            n = left if n is None or n < 0 else min(n, left)
        data = self.fh.read(n)
        self.since += len(data)
        return data

    def mark(self):
        self.since, self.marked_at = 0, self.fh.tell()

    @property
    def name(self):  # PyAV gives FFmpeg the file's name: some demuxers are chosen by its extension
        return self.fh.name

    def seek(self, offset, whence=0):
        return self.fh.seek(offset, whence)

    def tell(self):
        return self.fh.tell()

    def close(self):
        self.fh.close()


class _Video:
    """One opened video file: Python file object, PyAV container, chosen stream, packet table."""

    def __init__(self, path, index, stream=None, hwaccel=None, max_pixels=DEFAULT_MAX_VIDEO_PIXELS):
        self.index = index
        self.max_pixels = _as_count(max_pixels, "max_pixels")
        self.hwaccel, self.decoder, self.decoder_note = hwaccel, "software", ""
        self.src, raw = _local_file(path, index)
        try:
            self.fh = _BoundedFile(open(raw, "rb"))  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise ItemError(index, self.src, read_error_reason(exc)) from None
        self.container = None
        self.table = None
        try:
            self._open()
            self._choose_stream(stream)
            self._check_size()
            if self.decoder != "software" and not self.stream.codec_context.is_hwaccel:
                self._software(f"FFmpeg has no {self.decoder!r} decoder for {self.stream.codec_context.name}")
        except BaseException:
            self.close()
            raise

    def _software(self, why):
        """Record why the requested hardware decoding is not used (decoding goes on in software; read_frames
        warns at its caller's line)."""
        self.decoder, self.decoder_note = "software", f"hwaccel {self.hwaccel!r} not used: {why}; decoded in software"

    def _open_hw(self, av):
        """Open with hardware decoding (``hwaccel``); False, with the reason recorded, when it cannot start."""
        from av.codec.hwaccel import HWAccel, hwdevices_available

        offered = hwdevices_available()
        if self.hwaccel not in offered:
            self._software(f"this FFmpeg build offers no such device (it offers: {', '.join(offered) or 'none'})")
            return False
        with _ffmpeg_log() as logs:
            try:
                self.container = av.open(self.fh, "r", container_options=dict(_CONTAINER_OPTIONS),
                                         buffer_size=_IO_BUFFER, options=self.codec_options,
                                         hwaccel=HWAccel(self.hwaccel, allow_software_fallback=True))
            except (av.FFmpegError, OSError) as exc:  # no such device here, no driver, no permission
                self.fh.seek(0)
                self._software(f"the device could not start ({type(exc).__name__}: {exc})")
                return False
            logs.clear()
        self.decoder = self.hwaccel
        return True

    def _open(self):
        self.fh.bound(_MAX_BYTES_WITHOUT_PACKET, at_mark=False)
        try:
            self._open_container()
        finally:
            self.fh.bound(None, at_mark=False)

    def _open_container(self):
        import av

        if self.hwaccel is not None and not self.decoder_note and self._open_hw(av):
            return
        with _ffmpeg_log() as logs:
            try:
                self.container = av.open(self.fh, "r", container_options=dict(_CONTAINER_OPTIONS),
                                         buffer_size=_IO_BUFFER, options=self.codec_options)
            except av.FFmpegError as exc:
                if any("whitelist" in m for _, _, m in logs):
                    raise ItemError(self.index, self.src, "refers to other files or URLs (a playlist or concat "
                                    "list); only the file itself is read") from None
                unfinished = any("moov atom not found" in m for _, _, m in logs)
                causes = _Errors()
                causes.add_logs(logs)  # the demuxer's own words, e.g. "moov atom not found" (an MP4 cut short)
                detail = "; ".join([_describe(exc)] + causes.as_list()[:3])
                if unfinished:
                    # the classic crash of an MP4/MOV recorder that writes its index (moov) when it stops
                    raise ItemError(self.index, self.src, "not a readable video file: the recording was not "
                                    "finalized, it has no moov index (the box that lists its frames, written when a "
                                    "recording stops; a recorder that crashed, lost power or ran out of disk never "
                                    f"wrote it), so FFmpeg cannot read its frames ({detail})") from None
                raise ItemError(self.index, self.src, f"not a readable video file ({detail})") from None
            logs.clear()

    @property
    def codec_options(self):
        """FFmpeg decoder options: ``max_pixels`` makes the decoder refuse a picture larger than the limit
        (a stream whose codec headers change to a larger size mid-stream), as FFmpeg's probing of the
        file does when opening it."""
        return {"max_pixels": str(self.max_pixels)}

    def _check_size(self):
        """Refuse a stream whose coded frame size is above ``max_pixels``, before anything is decoded."""
        cc = self.stream.codec_context
        w, h = int(cc.width or 0), int(cc.height or 0)
        if w * h > self.max_pixels:
            raise ItemError(self.index, self.src, f"video frames are {w}x{h} ({w * h / 1e6:.0f} megapixels), above "
                                                  f"max_pixels={self.max_pixels}; raise max_pixels if this is intended")

    def _choose_stream(self, stream):
        import av

        c = self.container
        fmt = c.format.name
        if fmt == "image2" or fmt.endswith("_pipe"):
            raise ItemError(self.index, self.src, f"is a still image ({fmt} format), not a video")
        videos = list(c.streams.video)
        self.n_video = len(videos)
        cover = av.stream.Disposition.attached_pic
        picked = pick_stream(videos, stream, "video", self.index, self.src, exclude=cover)
        if picked is None:
            raise ItemError(self.index, self.src, f"has no video stream (container {fmt!r})")
        self.ordinal, self.stream = picked
        if stream is not None and self.stream.disposition & cover:
            raise ItemError(self.index, self.src, f"video stream {stream} is a cover picture, not a video")
        if self.stream.codec_context is None:  # a codec FFmpeg has no decoder for (e.g. an unknown AVI FourCC)
            raise ItemError(self.index, self.src, f"FFmpeg has no decoder for the codec of its video stream "
                                                  f"(container {fmt!r})")
        self.stream.codec_context.options = self.codec_options

    def close(self):
        if self.container is not None:
            self.container.close()
            self.container = None
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def seekable(self):
        name = self.container.format.name
        return any(part in _SEEKABLE_FORMATS for part in name.split(","))

    @property
    def by_dts(self):
        """Sought by a keyframe's decode timestamp (MPEG-TS; see ``_DTS_SEEK_FORMATS``)."""
        return bool(_formats(self.container) & set(_DTS_SEEK_FORMATS))

    def rewind(self):
        """Seek the demuxer back to the stream's first packet; False when that failed.

        Only for containers with an index (``seekable``); the caller checks where it landed.
        """
        import av

        dts, pts = self.table.first_packet if self.table is not None else (None, None)
        target = dts if dts is not None else pts
        if target is None or not self.seekable or (self.table is not None and self.table.pts_repeat):
            return False  # (with repeated pts FFmpeg's seek to the first one may land on a later copy)
        try:
            self.container.seek(int(target), stream=self.stream, backward=True)
        except (av.FFmpegError, OverflowError):
            return False
        return True

    def reopen(self):
        """Open the container again from the first byte (a fresh demuxer and decoder)."""
        self.container.close()
        self.container = None
        self.fh.seek(0)
        self._open()
        self.stream = list(self.container.streams.video)[self.ordinal]
        self.stream.codec_context.options = self.codec_options


# -- packet table -------------------------------------------------------------------------------
class _Table:
    """The frames of a stream as its packet headers describe them (built without decoding).

    Packets are numbered by decode position (their order in the file, empty flush packets
    excluded). Frames are the shown (not discarded) packets in presentation order.
    """

    def __init__(self, pkt_pts, pkt_dts, pkt_key, pkt_discard, pkt_dur, trust_pts=True, discont=False,
                 drops_leading=False, shown_pts=None, no_picture=(), not_random_access=(), first_output=None,
                 recovery=None, reference=None, leading_hidden=None):
        self.n_packets = len(pkt_pts)
        self.not_random_access = frozenset(not_random_access)
        self.no_picture = frozenset(no_picture)
        if self.no_picture:
            pkt_discard = [d or i in self.no_picture for i, d in enumerate(pkt_discard)]
        self.first_packet = (pkt_dts[0], pkt_pts[0]) if pkt_pts else (None, None)
        known = [d for d in pkt_dts if d is not None]
        # first and last decode timestamp when every packet has one (the slots of an AVI stream)
        self.dts_range = (min(known), max(known)) if known and len(known) == self.n_packets else None
        pkt_pts = self._continue_segments(pkt_pts, pkt_dts, pkt_dur) if discont else pkt_pts
        pkt_discard = (self._leading(pkt_pts, pkt_key, pkt_discard, trust_pts, shown_pts, first_output,
                                     leading_hidden) if drops_leading else pkt_discard)
        # packets never sent to the decoder: a capture's unshowable leading pictures and the packets that end
        # the stream without a picture (its complaints about them would be reported as damage)
        self.unsent = self.leading | self.no_picture
        shown = [i for i in range(self.n_packets) if not pkt_discard[i]]
        # those a container discards, and VP8 frames never shown (n_discarded tells an MP4/MOV edit list only)
        self.n_discarded = self.n_packets - len(shown) - len(self.no_picture)
        timed = bool(shown) and trust_pts and all(pkt_pts[i] is not None for i in shown)
        self.timing = "pts" if timed else "decode order"
        self.n = len(shown)
        self.pkt_pts = pkt_pts
        self.pkt_dts = pkt_dts
        self.frame_of_packet = np.full(self.n_packets, -1, dtype=np.int64)
        self.keyframe_interval = None
        keys = [i for i in range(self.n_packets) if pkt_key[i]]
        if len(keys) >= 2:
            self.keyframe_interval = float(np.median(np.diff(keys)))
        self.duplicates = 0
        if self.timing == "pts":
            order = sorted(shown, key=lambda i: (pkt_pts[i], i))  # presentation order, ties in decode order
            self.pts = np.array([pkt_pts[i] for i in order], dtype=np.int64)
            self.packet_of_frame = np.array(order, dtype=np.int64)
            self.frame_of_packet[self.packet_of_frame] = np.arange(self.n)
            self.duplicates = int(self.n - np.unique(self.pts).size)
            self.by_pts = {}
            for k, p in enumerate(self.pts.tolist()):
                self.by_pts.setdefault(p, []).append(k)
            self.last_duration = pkt_dur[order[-1]] if order else 0
            # Keyframes a decoder can start from: every packet before them in decode order is
            # shown before them (closed GOP boundary), so no later frame needs an earlier one
            # except leading pictures, which are never started from (see seek_target). A keyframe
            # flag on a picture that is no random access point (an H.264 recovery point of an
            # intra-refresh stream: the decoder withholds the pictures after it until the refresh
            # is complete) is no place to start either; the frames after its refresh have starts of
            # their own (_refresh_starts).
            self.clean_keys = []
            running = None
            for i in range(self.n_packets):
                p = pkt_pts[i]
                usable = pkt_key[i] and i not in self.not_random_access
                if usable and p is not None and (running is None or running < p):
                    self.clean_keys.append(i)
                if p is not None:
                    running = p if running is None else max(running, p)
            self._refresh_starts(pkt_pts, pkt_key, recovery or {}, reference or {})
            self.packet_of_pts = {}
            for i, p in enumerate(pkt_pts):
                if p is not None:
                    self.packet_of_pts.setdefault(p, i)
            # Packets sharing a pts (an MP4 edit list that shows a stretch twice or starts a later stretch
            # from an earlier keyframe: FFmpeg's index repeats those samples, as discarded decode-only
            # packets or shown again): a seek to a pts, or a landing told by its pts, is ambiguous there.
            self.pts_repeat = len(self.packet_of_pts) < sum(p is not None for p in pkt_pts)
        else:
            self.pts = None

    #: packets share a pts, so packets cannot be found by pts (no seeks; decode from the first byte)
    pts_repeat = False
    #: first packet of each timestamp segment after the first, and each segment's pts shift (see below)
    restarts = ()
    offsets = (0,)

    #: decode positions of the packets of a stream that starts between keyframes which the decoder never
    #: outputs (see _leading); they are not sent to it (its complaints about their missing references
    #: would be reported as damage)
    n_leading = 0
    leading = frozenset()
    #: decode positions of the packets that end the stream without holding a picture (see _no_picture); no
    #: frames, and not sent to the decoder either
    no_picture = frozenset()
    no_picture_sizes = frozenset()
    #: decode positions of samples inside the stream that hold no picture (see _inside_test): no frames, but sent to
    #: the decoder all the same, since the pictures after them may need what they carry (parameter sets, an end of
    #: sequence); its refusal of them ("no frame!") is expected, not damage
    sent_no_picture = frozenset()
    #: decode positions of MPEG-4 Part 2 N-VOPs the decoder outputs no picture for (in no_picture too; see
    #: _not_coded_test)
    not_coded = frozenset()

    def _leading(self, pkt_pts, pkt_key, pkt_discard, trust_pts, shown_pts=None, first_output=None,
                 leading_hidden=None):
        """``pkt_discard`` with the pictures a stream that starts between keyframes cannot show marked.

        A capture (MPEG-TS from a tuner, a cut made without re-encoding) may start after a keyframe:
        FFmpeg's H.264, HEVC and MPEG-2 decoders output nothing before the first keyframe in decode
        order, and its players show the keyframe first. Those packets are no frames here either
        (before, a TS cut 3 packets into a GOP of 10 counted 7 frames that never decode: frame 0,
        times= and even sampling pointed at them). The keyframe's leading pictures (after it in
        decode order, before the next keyframe, shown before it) are no frames when they reference
        pictures before it (HEVC RASL, open-GOP MPEG-2 and H.264 B-frames), but are when they
        reference only it (HEVC RADL, backward-only B-frames of a closed MPEG-2 GOP): which ones the
        decoder outputs is asked of it, ``shown_pts(first, last)`` giving the pts it outputs from
        the packets at decode positions ``first .. last`` (None when it cannot tell: then every
        leading picture is taken as not shown, as those of the usual open GOPs). Without timestamps to
        tell them by (a raw dump, whose frames are the decoder's outputs in order), their number is asked of
        the decoder: ``leading_hidden(first, after)`` is how many of the packets from the keyframe to the next
        it outputs no picture for, and as many packets after the keyframe are no frames (sent to it all the
        same; before, a raw HEVC dump cut inside an open GOP counted 23 frames where FFmpeg shows 20, an MPEG-2
        one 26 where it shows 24). Only at the stream's start, in a capture format (``_CAPTURE_FORMATS``).

        A capture without any keyframe flag starts after its stream's last random access point: an HEVC
        intra-refresh stream (x265 ``intra-refresh=1``: no IRAP picture after the first, and FFmpeg's HEVC
        parser flags no later packet), or a GOP's tail. It is asked of the decoder as a refresh from packet 0
        (below). FFmpeg's HEVC decoder outputs nothing from such a start (before, a TS cut 3 packets into a
        50-frame x265 intra-refresh stream counted 47 frames where FFmpeg shows none, and every read failed);
        when the probe saw only the first ``_LEADING_PROBE_PACKETS`` of a longer stream and none of them was
        output, the decoder is run over the whole stream (``_decoder_pass``; before, such a stream was left as it
        was: a 400-frame capture cut at packet 3 counted 397 frames that no read decoded); when the decoder
        fails, it cannot tell and the stream is left as it is.

        A capture of an intra-refresh stream starts at a recovery point (flagged a keyframe, no random
        access point: see ``_random_access_test``), from which FFmpeg's H.264 decoder outputs nothing
        until the refresh has swept the picture: there the decoder is asked which pictures it outputs
        from that packet on (``shown_pts(first)``: up to the last kept packet), and every picture shown
        before the first one it outputs is no frame (before, a TS cut 3 packets into such a stream
        counted 20 frames where FFmpeg shows 9: frames 0-10 were 'not decoded' and the rest numbered
        from the wrong start). Without timestamps (a raw H.264 dump, whose frames are the decoder's
        outputs in order) only their number matters: ``first_output(first)`` is ``first`` plus the number
        of packets from ``first`` on it outputs no picture for, and as many packets from ``first`` on are
        no frames (sent to the decoder all the same). A decoder that outputs nothing from ``first`` on, given the
        whole stream, shows no frame of it: all those packets are no frames (``video_info`` then refuses the item).
        """
        first = next((i for i in range(self.n_packets) if pkt_key[i]), None)
        # no keyframe flag at all: a capture cut after its stream's last random access point (an HEVC intra-refresh
        # stream, whose parser flags no recovery point; a GOP's tail), asked of the decoder as a refresh from packet 0
        unflagged = first is None
        if unflagged:
            if not self.n_packets:
                return pkt_discard
            first = 0
        out = list(pkt_discard)
        kp = pkt_pts[first]
        refresh = None  # an intra-refresh capture: the packets from ``first`` on that are decoded, never output
        start = unflagged or first in self.not_random_access
        if start and trust_pts and kp is not None and shown_pts is not None:
            shown = shown_pts(first)
            if shown is not None:  # None: it cannot tell; empty: nothing output from the stream (no frames)
                refresh = [i for i in range(first, self.n_packets)
                           if not out[i] and (not shown or pkt_pts[i] is not None and pkt_pts[i] < min(shown))]
        elif start and not (trust_pts and kp is not None) and first_output is not None:
            # no timestamps to tell them by (a raw dump): as many packets as the decoder outputs nothing for
            begin = first_output(first)
            if begin is not None:
                refresh = [i for i in range(first, begin) if not out[i]]
        if refresh is not None:
            # the refresh: no frames, but sent to the decoder (the pictures it outputs are built from them)
            leading = [i for i in range(first) if not out[i]]
            for i in leading + refresh:
                out[i] = True
            self.n_leading, self.leading = len(leading) + len(refresh), frozenset(leading)
            return out
        if unflagged:
            return pkt_discard
        after = next((i for i in range(first + 1, self.n_packets) if pkt_key[i]), self.n_packets)
        early = [i for i in range(first + 1, after)
                 if trust_pts and kp is not None and pkt_pts[i] is not None and pkt_pts[i] < kp and not out[i]]
        shown = shown_pts(first, early[-1]) if early and shown_pts is not None else None
        if shown is not None:
            early = [i for i in early if pkt_pts[i] not in shown]
        leading = [i for i in range(first) if not out[i]] + early
        hidden = []
        if not (trust_pts and kp is not None) and leading_hidden is not None:
            # no timestamps to tell the leading pictures by (a raw dump): as many packets after the keyframe as the
            # decoder outputs no picture for are no frames (sent to it all the same: only their number matters)
            hidden = [i for i in range(first + 1, after) if not out[i]][:leading_hidden(first, after) or 0]
        for i in leading + hidden:
            out[i] = True
        self.n_leading, self.leading = len(leading) + len(hidden), frozenset(leading)
        return out

    def _continue_segments(self, pkt_pts, pkt_dts, pkt_dur):
        """Timestamps made continuous across discontinuities (``discont``: formats such as MPEG-TS that allow them).

        Decode timestamps never go backwards inside a stream; where one does (concatenated
        streams, a splice, an encoder restart), a new segment starts. As FFmpeg's own command
        line does for such formats (``AVFMT_TS_DISCONT``), each segment is shifted to start one
        frame after the end of the one before, so frames keep their file order and times go on
        increasing. Returns the shifted pts; sets ``restarts`` and ``offsets``.
        """
        groups, last = [[]], None  # packets with a pts, per segment
        restarts = []
        for i, d in enumerate(pkt_dts):
            if d is not None:
                if last is not None and d < last:
                    groups.append([])
                    restarts.append(i)
                last = d
            if pkt_pts[i] is not None:
                groups[-1].append(i)
        if not restarts:
            return pkt_pts
        out, offsets, end, step = list(pkt_pts), [0], None, 1
        for j, idx in enumerate(groups):
            if j:
                offsets.append(end + step - min(pkt_pts[i] for i in idx) if idx and end is not None else offsets[-1])
            if not idx:
                continue
            shifted = [pkt_pts[i] + offsets[j] for i in idx]
            for i, q in zip(idx, shifted):
                out[i] = q
            top = max(range(len(idx)), key=shifted.__getitem__)
            end, step = shifted[top], pkt_dur[idx[top]]
            if step <= 0:
                gaps = np.diff(np.unique(shifted))
                step = int(np.median(gaps)) if gaps.size else 1
        self.restarts, self.offsets = restarts, offsets
        return out

    def _refresh_starts(self, pkt_pts, pkt_key, recovery, reference):
        """Set ``refresh_starts``: where to start decoding an intra-refresh stream for the frames after each recovery
        point whose refresh is complete.

        ``recovery``: ``{decode position: recovery_frame_cnt N}`` of the stream's keyframe-flagged recovery points
        (None where the SEI message is unreadable or not exact: see :func:`_refresh_tests`); ``reference``:
        ``{decode position: reference picture?}`` of the packets from the first one on. The refresh begun at R is
        complete at the recovery point picture P, the first reference picture whose frame_num is N above R's: the
        (N + 1)-th reference picture from R on. The frames from P on are FFmpeg's pictures decoded from the start
        (the SEI's exact_match_flag) only when R's refresh is decoded whole, which a decoder started at R does not
        always do: FFmpeg's H.264 decoder started at a recovery point whose frame_num is 0 has no reference for it
        ('Missing reference picture') and the refresh it begins is lost (the 10 pictures it outputs until the next
        refresh completes are wrong, with no error: every 8th recovery point of x264's clips with a recovery point
        every 10 frames; ``benchmarks/video_variants.py --intra-starts``); so decoding starts at the keyframe flag
        before R (an IDR or an earlier recovery point), from which R's refresh has every picture it references.
        Only streams without frame reordering: with x264's B-frames the pictures after a recovery point picture
        were not always FFmpeg's from the start (4 wrong after a recovery point whose frame_num is 7), so such
        streams are decoded from their IDR as before. A recovery point without a usable SEI message is no start
        either: the frames after it come from an earlier start.

        ``refresh_starts`` is a list of ``(P, S)``, sorted by P: from decode position S, every frame at or after
        decode position P is FFmpeg's.
        """
        self.refresh_starts = []
        if not recovery:
            return
        shown = [p for p in pkt_pts if p is not None]
        if len(shown) < self.n_packets or any(b < a for a, b in zip(shown, shown[1:])):
            return  # missing timestamps or reordered frames
        flags = [i for i in range(self.n_packets) if pkt_key[i]]
        refs = [i for i in range(self.n_packets) if reference.get(i)]
        out = []
        for r, count in recovery.items():
            j = bisect_left(refs, r)
            if count is None or j >= len(refs) or refs[j] != r or j + count >= len(refs):
                continue  # no usable SEI, the recovery point is no reference picture, or the stream ends first
            before = bisect_left(flags, r) - 1
            if before < 0:
                continue  # the first keyframe flag (a capture's start): the frames after it decode from the start
            out.append((refs[j + count], flags[before]))
        out.sort()
        best = -1
        for P, S in out:  # a later P may come with an earlier start: the latest start for every P on
            best = max(best, S)
            self.refresh_starts.append((P, best))

    #: see _refresh_starts
    refresh_starts = ()

    def seek_target(self, k, refresh=True):
        """Decode position of the last clean keyframe from which frame ``k`` decodes, or None; with ``refresh``, of
        the later start an intra-refresh stream's recovery points give (see ``_refresh_starts``)."""
        d = int(self.packet_of_frame[k])
        j = bisect_right(self.clean_keys, d) - 1
        while j >= 0 and self.pkt_pts[self.clean_keys[j]] > self.pts[k]:
            j -= 1  # frame k is a leading picture of that keyframe: start from the one before
        key = self.clean_keys[j] if j >= 0 else None
        if refresh and self.refresh_starts:
            i = bisect_right(self.refresh_starts, (d, self.n_packets)) - 1
            if i >= 0 and (key is None or self.refresh_starts[i][1] > key):
                return self.refresh_starts[i][1]
        return key

    def refresh_start(self, key):
        """Whether decode position ``key`` is a start of ``refresh_starts`` and no clean keyframe."""
        return any(S == key for _, S in self.refresh_starts) and key not in self.clean_keys


def _formats(container):
    return set(container.format.name.split(","))


def _scan(container, stream, errors, fh=None):
    """Read every packet header of ``stream`` (no decoding); return (table, scan completed).

    Frames are identified by pts when the container stores them, or when the stream has no
    frame reordering (then FFmpeg's pts = dts is exact); otherwise by decode order.
    """
    import av

    pts, dts, key, discard, dur = [], [], [], [], []
    drops = stream.codec_context.name in _LEADING_DROPPED_CODECS and bool(_formats(container) & set(_CAPTURE_FORMATS))
    kept = []  # a capture's first packets, to ask the decoder which leading pictures it shows (_Table._leading)
    # the packets after those, up to _LEADING_WINDOW after the first keyframe, when it comes late among them (a GOP as
    # long as x264's or x265's default of 250 puts it after packet 224): asked of the decoder for its leading pictures
    # only (leading_hidden)
    first_key, extra, position = None, [], -1
    picture = _picture_test(stream)
    last = deque(maxlen=_TRAILING_PACKETS)  # the stream's last packets: do they hold a picture? (_no_picture)
    # H.264/HEVC in MP4, Matroska, FLV (length-prefixed) or AVI (Annex-B chunks): a sample anywhere may hold no
    # picture (_inside_test)
    inside, inside_at, inside_sizes = _inside_test(stream, picture, _formats(container)), [], set()
    # (inlined below: the first unit's header byte, at leads_at, begins a unit that holds no picture: leads[byte];
    # leads_at 0: Annex-B, the byte after the first start code)
    leads_at, leads = inside if inside is not None else (0, None)
    random_access = _random_access_test(stream)
    not_random_access = []  # keyframe-flagged packets a decoder cannot start from (_random_access_test)
    # where a refresh completes serves only seeks: in a container the reader never seeks in, not parsed at all
    # (MPEG-TS is sought in by dts since round 11b)
    refresh = (_refresh_tests(stream) if _formats(container) & set(_SEEKABLE_FORMATS + _DTS_SEEK_FORMATS)
               else None)
    recovery, reference = {}, {}  # their recovery_frame_cnt, and which packets after the first are references
    mpeg4 = stream.codec_context.name == "mpeg4"
    vp8 = stream.codec_context.name == "vp8"
    not_coded, not_coded_at, previous = None, [], None  # MPEG-4 Part 2 N-VOPs (_not_coded_test)
    complete = False
    final = None  # the stream's last packet: is it cut short by the end of the file? (_cut_short)
    if fh is not None:
        fh.bound(_MAX_BYTES_WITHOUT_PACKET, at_mark=True)
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the flush packet at the end of the stream
                continue
            final = packet
            if fh is not None:
                fh.mark()
            position += 1
            if drops:
                if first_key is None and packet.is_keyframe:
                    first_key = position
                if len(kept) < _LEADING_PROBE_PACKETS:
                    kept.append(packet)
                elif first_key is not None and first_key <= len(kept) and position < first_key + _LEADING_WINDOW:
                    extra.append(packet)  # contiguous with kept: the keyframe is at most the packet after them
            if picture is not None:  # a large packet is taken as a picture (holding it would slow the reads down)
                size = packet.size
                last.append(packet if size <= _KEY_PREFIX else (size, None))
                if leads is not None and leads_at < size <= _KEY_PREFIX:
                    if leads_at:  # length-prefixed: the first unit's header byte, then (rarely) the units in place
                        view = memoryview(packet)
                        none = leads[view[leads_at]] and _holds_none(view, leads_at, leads)
                    else:  # Annex-B chunks (AVI)
                        none = _annexb_leads(packet, leads) and not picture(bytes(packet))
                    if none:
                        inside_at.append(len(pts))
                        inside_sizes.add(size)
            if (random_access is not None and packet.is_keyframe
                    and not random_access(bytes(memoryview(packet)[:_KEY_PREFIX]))):
                not_random_access.append(len(pts))
                if refresh is not None:
                    recovery[len(pts)] = refresh[0](bytes(memoryview(packet)[:_KEY_PREFIX]))
            if recovery:  # from the first recovery point on: which packets are reference pictures
                reference[len(pts)] = refresh[1](memoryview(packet))
            if mpeg4:
                if not pts:
                    not_coded = _not_coded_test(stream, bytes(memoryview(packet)[:_KEY_PREFIX]))
                elif not_coded is not None and not_coded(bytes(packet) if packet.size <= 256 else packet, previous):
                    not_coded_at.append(len(pts))
                previous = packet
            pts.append(packet.pts)
            dts.append(packet.dts)
            key.append(packet.is_keyframe)
            # a VP8 frame with show_frame = 0 (an alt-ref frame in its own packet): decoded as a reference, never shown
            discard.append(packet.is_discard or (vp8 and not memoryview(packet)[0] & _VP8_SHOW_FRAME))
            dur.append(packet.duration or 0)
        complete = True
    except av.FFmpegError as exc:
        errors.add(f"packet scan stopped after {len(pts)} packets ({_describe(exc)})")
    finally:
        if fh is not None:
            fh.bound(None, at_mark=False)
    if fh is not None and fh.stop_at is not None:
        complete = False
        errors.add(f"reading stopped at byte {fh.stop_at} of {os.fstat(fh.fh.fileno()).st_size}: "
                   f"{_MAX_BYTES_WITHOUT_PACKET >> 20} MiB read without a packet of the video (zeros or junk?); "
                   f"the rest of the file is not read ({len(pts)} packets found before)")
    trust = bool(_formats(container) & set(_PTS_FORMATS)) or not stream.codec_context.has_b_frames

    # the probes saw every packet: a decoder that outputs nothing from a packet on outputs nothing from the stream
    seen_all = len(pts) <= _LEADING_PROBE_PACKETS

    # the probes saw only the stream's first packets and the decoder output nothing from them: the decoder is run
    # over the whole stream, read again from the file (rare: a capture without a random access point in its first
    # _LEADING_PROBE_PACKETS packets), so that the count is what it shows, not the packets' (_decoder_pass)
    def shown_pts(first, last=None):
        shown = _decoder_shows(stream, kept, first, len(kept) - 1 if last is None else last)
        if shown == set() and last is None and not seen_all:
            shown = _decoder_pass(fh, stream, first, min(tail, default=len(pts)), until_output=True)
        return shown

    def first_output(first):
        hidden = _decoder_hidden(stream, kept, first)
        if hidden is not None and hidden == len(kept) - first and not seen_all:
            hidden = _decoder_pass(fh, stream, first, min(tail, default=len(pts)), until_output=False)
        return None if hidden is None else first + hidden

    def leading_hidden(first, after):
        """How many of the packets ``first`` (the first keyframe) to ``after - 1`` (before the next), at most
        ``_LEADING_WINDOW``, FFmpeg's decoder outputs no picture for; None when it cannot tell. 0 without frame
        reordering (no picture can be shown before the keyframe it follows) and after an H.264/HEVC IDR (whose
        leading pictures, HEVC RADL, reference only it) without asking."""
        pool = kept + extra if extra else kept  # extra: the window past the packets kept, when it was kept
        if not stream.codec_context.has_b_frames or first >= len(pool):
            return 0 if first < len(pool) else None
        layout = _nal_layout(stream)
        if layout is not None:
            name, size = layout
            data = bytes(memoryview(pool[first])[:_KEY_PREFIX])
            kinds = [_nal_type(data[a], name) for a, _ in _nal_units(data, size, prefix=True) or ()]
            if any(k in ((5,) if name == "h264" else (19, 20)) for k in kinds):
                return 0
        end = min(after, first + _LEADING_WINDOW)
        if end > len(pool):
            return None
        frames = _probe_decode(stream, pool[first:end])
        return None if frames is None else end - first - len(frames)

    last = [p if isinstance(p, tuple) else (p.size, bytes(p)) for p in last]
    tail = _no_picture(picture, [data for _, data in last], len(pts))
    cut = []  # the last packet, when the file ends inside it and FFmpeg's decoder shows no picture for it
    verdict = False if tail else _cut_short(stream, final, _formats(container), len(pts))
    if verdict is None:
        # the decoder run from the last keyframe to the end, with the cut packet and without it: no picture more
        # with it, no frame (two passes over the last GOP, only for a file that ends inside its last sample)
        # (the keyframe before the cut packet; the decoder must show a picture from it without the cut packet, or
        # nothing can be told: an unindexed AVI flags every packet a keyframe)
        start = next((i for i in range(len(pts) - 2, -1, -1) if key[i] and i not in not_random_access), None)
        verdict = False
        if start is not None and len(pts) - start <= _CUT_PASS_PACKETS and not stream.codec_context.has_b_frames:
            hidden = [_decoder_pass(fh, stream, start, stop, until_output=False, refused=True)
                      for stop in (len(pts) - 1, len(pts))]
            verdict = None not in hidden and hidden[0] < len(pts) - 1 - start and hidden[1] == hidden[0] + 1
    if verdict:
        cut = [len(pts) - 1]
        errors.add(f"the file ends inside the stream's last sample (packet {len(pts) - 1}, {final.size} bytes "
                   "present): FFmpeg's decoder shows no picture for it; not counted as a frame (a recording "
                   "interrupted while writing it)")
    if tail and extra:  # extra holds the packets from _LEADING_PROBE_PACKETS on
        del extra[max(min(tail) - _LEADING_PROBE_PACKETS, 0):]
    del kept[min(tail, default=len(kept)):]  # a picture-less tail is not sent to the probes either
    if len(inside_at) == len(pts):
        inside_at = []  # no packet holds a picture: left as they are (frames that do not decode), as _no_picture does
    table = _Table(pts, dts, key, discard, dur, trust, discont=_ts_discont(container), drops_leading=drops,
                   shown_pts=shown_pts, no_picture={*tail, *cut, *inside_at, *not_coded_at},
                   not_random_access=not_random_access,
                   first_output=first_output, recovery=recovery, reference=reference, leading_hidden=leading_hidden)
    # FFmpeg's parser says so of such a packet (MPEG-TS, MP4): "missing picture in access unit with size N"
    table.no_picture_sizes = {last[k - len(pts) + len(last)][0] for k in tail} | (inside_sizes if inside_at else set())
    table.not_coded = frozenset(not_coded_at)
    if inside_at:
        table.sent_no_picture = frozenset(inside_at)
        table.unsent = table.unsent - table.sent_no_picture
    return table, complete


#: Packets at the end of a stream checked for a picture (_no_picture).
_TRAILING_PACKETS = 8
#: Packets from the last keyframe to a cut last packet decoded (twice) to ask whether FFmpeg shows it (_scan); a
#: longer last GOP leaves it a frame, reported when it does not decode
_CUT_PASS_PACKETS = 600
#: Containers whose demuxer reads a sample of a size its index gives and flags one the file ends inside corrupt
#: (FFmpeg's ``av_get_packet``: fewer bytes than asked; the MP4 demuxer also says "partial file")
_SAMPLE_FORMATS = ("mov", "mp4", "matroska", "webm", "avi", "flv")
#: Bytes of a keyframe read to tell a random access point (_random_access_test): its parameter sets, SEI and
#: first slice header come first; a packet whose SEI runs past them is taken as one (its flag is kept)
_KEY_PREFIX = 1 << 16
#: Bytes of a packet read to find its first slice's nal_ref_idc (_refresh_tests)
_REF_PREFIX = 256


def _nal_units(data, length_size, prefix=False):
    """``(start, end)`` of each NAL unit (its header first) of an H.264/HEVC packet: length-prefixed (MP4,
    Matroska: ``length_size`` bytes before each unit) or Annex-B (``length_size`` 0: start codes, as MPEG-TS
    and raw streams hold them). None when a length runs past the packet (not the layout assumed); with
    ``prefix`` (``data`` is the packet's first bytes) the unit it cuts is the last, cut there."""
    out = []
    if length_size:
        at = 0
        while at + length_size < len(data):
            n = int.from_bytes(data[at:at + length_size], "big")
            if n == 0 or (at + length_size + n > len(data) and not prefix):
                return None
            out.append((at + length_size, min(at + length_size + n, len(data))))
            at += length_size + n
        return out if at == len(data) or prefix else None
    at = data.find(b"\x00\x00\x01")
    while at >= 0 and at + 3 < len(data):
        nxt = data.find(b"\x00\x00\x01", at + 3)
        end = len(data) if nxt < 0 else nxt - (data[nxt - 1] == 0)
        out.append((at + 3, end))
        at = nxt
    return out


def _nal_types(data, length_size):
    """The first header byte of each NAL unit of an H.264/HEVC packet (see :func:`_nal_units`); None when the
    packet is not in that layout."""
    units = _nal_units(data, length_size)
    return None if units is None else [data[a] for a, _ in units]


def _exp_golomb(data, bit):
    """``(value, next bit)`` of the unsigned Exp-Golomb code ue(v) at bit ``bit`` of ``data`` (H.264 9.1)."""
    zeros = 0
    while not (data[bit >> 3] >> (7 - (bit & 7))) & 1:
        zeros += 1
        bit += 1
    bit += 1
    value = 0
    for _ in range(zeros):
        value = (value << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1)
        bit += 1
    return (1 << zeros) - 1 + value, bit


def _recovery_point(unit, name):
    """``(count, exact_match_flag)`` of the recovery point SEI message in an SEI NAL unit ``unit`` (its header
    first): H.264's recovery_frame_cnt ue(v) and exact_match_flag u(1) (D.1.8), HEVC's recovery_poc_cnt se(v)
    and exact_match_flag (D.2.8); None without such a message or when the unit cannot be read."""
    rbsp = bytes(unit[1 if name == "h264" else 2:]).replace(b"\x00\x00\x03", b"\x00\x00")
    at = 0
    try:
        while at < len(rbsp) and rbsp[at] != 0x80:  # 0x80: the rbsp trailing bits after the last message
            values = []
            for _ in range(2):  # payloadType, payloadSize: runs of 0xFF, then the last byte
                v = 0
                while rbsp[at] == 0xFF:
                    v, at = v + 255, at + 1
                values.append(v + rbsp[at])
                at += 1
            kind, size = values
            if kind == 6:
                payload = rbsp[at:at + size]
                k, bit = _exp_golomb(payload, 0)
                exact = (payload[bit >> 3] >> (7 - (bit & 7))) & 1
                return (k if name == "h264" else (k + 1) // 2 * (1 if k % 2 else -1)), bool(exact)
            at += size
    except IndexError:
        return None
    return None


def _recovery_count(unit, name):
    """The count of :func:`_recovery_point` (the pictures to wait); None without a readable message."""
    point = _recovery_point(unit, name)
    return None if point is None else point[0]


def _nal_type(header, name):
    """The NAL unit type in a unit's first header byte: H.264's low 5 bits, HEVC's 6 bits after the forbidden bit
    (``name``: "h264" or "hevc", as :func:`_nal_layout` gives it)."""
    return header & 0x1F if name == "h264" else (header >> 1) & 0x3F


def _nal_layout(stream):
    """``(codec name, length prefix size)`` of an H.264/HEVC stream's packets (0: Annex-B start codes, as MPEG-TS and
    raw streams hold them; else from the ``avcC``/``hvcC`` record of the extradata, its first byte 1: byte 4, resp.
    21, low two bits, plus one); None for other codecs."""
    cc = stream.codec_context
    if cc.name not in ("h264", "hevc"):
        return None
    extra = bytes(cc.extradata or b"")
    at = 4 if cc.name == "h264" else 21
    return cc.name, ((extra[at] & 3) + 1 if len(extra) > at and extra[0] == 1 else 0)


def _random_access_test(stream):
    """A function telling whether a keyframe-flagged packet of an H.264/HEVC ``stream`` is a random access point
    (a decoder started there outputs the pictures that follow); None for other codecs (their flags are taken).

    Muxers and parsers also flag the recovery points of an intra-refresh stream (x264 ``--intra-refresh``,
    low-latency and conferencing encoders): a decoder started there outputs nothing until the refresh has
    swept the picture (FFmpeg's H.264 decoder: about one keyframe interval), so a seek to one lost the
    requested frames after it (frames 10 and 20 of a 50-frame MP4 with keyframes every 10: 'not decoded',
    FFmpeg's 'mmco: unref short failure'). Such a packet holds a recovery point SEI message whose count is
    above 0 (H.264 recovery_frame_cnt, HEVC recovery_poc_cnt: the pictures to wait) and no IDR (H.264 NAL type
    5) or IRAP picture (HEVC types 16-23). An open-GOP I-frame's recovery point (count 0) is a random access
    point, and so is a packet whose units cannot be read (its flag is kept), or one without a readable such message
    whose first slice is no H.264 P or B slice (:func:`_inter_slice`: a P picture so flagged is a recovery point
    whose message is damaged or lost; HEVC's flags are kept).
    The function is given the packet's first bytes (``_KEY_PREFIX``).
    """
    layout = _nal_layout(stream)
    if layout is None:
        return None
    name, length_size = layout

    irap = (5,) if name == "h264" else tuple(range(16, 24))
    sei = 6 if name == "h264" else 39

    def holds(data):
        units = _nal_units(data, length_size, prefix=True)
        if units is None:
            return True
        kinds = [_nal_type(data[a], name) for a, _ in units]
        if any(k in irap for k in kinds):
            return True
        counts = [_recovery_count(data[a:b], name) for (a, b), k in zip(units, kinds) if k == sei]
        if any(c is not None and c > 0 for c in counts):
            return False  # a gradual recovery: an intra refresh
        if name == "h264" and not any(c is not None for c in counts):
            return not _inter_slice(data, units, kinds)
        return True

    return holds


def _inter_slice(data, units, kinds):
    """Whether the first slice (NAL type 1) among an H.264 packet's ``units`` is a P or B slice (slice_type 0, 1,
    3, 5, 6, 8: first_mb_in_slice ue(v), then slice_type ue(v), 7.3.3); False without such a slice or when its
    header cannot be read.

    A keyframe-flagged packet without an IDR or a readable recovery point SEI message is a random access point
    only when it is an intra picture (an open-GOP I-frame): a P picture so flagged is a recovery point of an
    intra-refresh stream whose SEI message is damaged or lost, from which a decoder outputs nothing (or, without
    the message, pictures built on missing references).
    """
    first = next(((a, b) for (a, b), k in zip(units, kinds) if k == 1), None)
    if first is None:
        return False
    header = bytes(data[first[0] + 1:first[1]][:16]).replace(b"\x00\x00\x03", b"\x00\x00")
    try:
        _, bit = _exp_golomb(header, 0)
        kind, _ = _exp_golomb(header, bit)
    except IndexError:
        return False
    return kind % 5 in (0, 1, 3)


def _refresh_tests(stream):
    """``(recovery, reference)``: two functions of the first bytes of an H.264 ``stream``'s packets that tell where
    the gradual refresh begun at a recovery point (see :func:`_random_access_test`) is complete, for seeks
    (``_Table.refresh_starts``); None for other codecs.

    ``recovery(data)`` is the recovery point's recovery_frame_cnt N when the packet holds a readable recovery point
    SEI message with N above 0 and exact_match_flag 1 (the encoder's promise that the pictures from the recovery
    point on, in output order, are the ones a decoder started at the last IDR shows: H.264 D.2.8), else None (no
    such message, an unreadable or approximate one: the packet is then never started from for its refresh).
    ``reference(data)`` (the packet's bytes, a memoryview) is whether the packet's first slice (NAL types 1 and 5)
    has nal_ref_idc above 0: the recovery point picture is the first reference picture whose frame_num is N above
    the recovery point's
    (frame_num counts the reference pictures in decode order; FFmpeg's H.264 decoder outputs pictures from there
    on). A packet whose slice cannot be found in its first bytes is taken as no reference picture, which puts the
    recovery point later, never earlier.
    """
    layout = _nal_layout(stream)
    if layout is None or layout[0] != "h264":
        return None
    _, length_size = layout

    def recovery(data):
        units = _nal_units(data, length_size, prefix=True)
        if units is None or any(data[a] & 0x1F == 5 for a, _ in units):
            return None
        points = [_recovery_point(data[a:b], "h264") for a, b in units if data[a] & 0x1F == 6]
        points = [p for p in points if p is not None]
        if len(points) != 1 or points[0][0] <= 0 or not points[0][1]:
            return None
        return points[0][0]

    def reference(data):
        if length_size and len(data) > length_size and data[length_size] & 0x1F in (1, 5):
            return bool(data[length_size] & 0x60)  # the usual packet of MP4, Matroska: one slice first
        data = bytes(data[:_REF_PREFIX])
        units = _nal_units(data, length_size, prefix=True) or ()
        first = next((data[a] for a, _ in units if data[a] & 0x1F in (1, 5)), None)
        return first is not None and bool(first & 0x60)

    return recovery, reference


#: NAL unit types that hold no picture and that an access unit may begin or a stream end with: H.264 SEI, SPS,
#: PPS, access unit delimiter, end of sequence, end of stream, filler, SPS extension, subset SPS (Table 7-1);
#: HEVC VPS, SPS, PPS, access unit delimiter, end of sequence, end of bitstream, filler, prefix and suffix SEI
_NON_PICTURE_UNITS = {"h264": frozenset({6, 7, 8, 9, 10, 11, 12, 13, 15}), "hevc": frozenset(range(32, 41))}
#: MPEG-2 video start codes that hold no picture: user data, sequence header, extension, sequence end, group
_NON_PICTURE_CODES = frozenset({0xB2, 0xB3, 0xB5, 0xB7, 0xB8})


def _picture_test(stream):
    """A function telling whether a packet of ``stream`` may hold a picture, for the codecs whose parsers can end a
    stream with a packet that holds none; None for the others. It says no only for a packet that reads, whole,
    as units that hold no picture, so a damaged packet (random bytes, a cut) is still a picture (a frame that
    does not decode, reported as such).

    H.264, HEVC: the packet is a sequence of well-formed NAL units (:func:`_nal_layout`'s layout, forbidden bit
    0) of the types in ``_NON_PICTURE_UNITS`` only (ITU-T H.264 and H.265 Table 7-1). MPEG-2 video: it starts
    with a start code and holds only those of ``_NON_PICTURE_CODES`` (no picture start code 00 00 01 00, H.262
    6.2.3).
    """
    name = stream.codec_context.name
    if name == "mpeg2video":
        def holds_mpeg2(data):
            if not data.startswith(b"\x00\x00\x01"):
                return True
            at, codes = 0, []
            while at >= 0 and at + 3 < len(data):
                codes.append(data[at + 3])
                at = data.find(b"\x00\x00\x01", at + 3)
            return not codes or any(c not in _NON_PICTURE_CODES for c in codes)

        return holds_mpeg2
    layout = _nal_layout(stream)
    if layout is None:
        return None
    name, length_size = layout
    allowed = _NON_PICTURE_UNITS[name]

    def holds(data):
        if not length_size and not (data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")):
            return True
        units = _nal_units(data, length_size)
        if not units:
            return True  # not the layout, or no unit: taken as a picture
        return any(b <= a or data[a] & 0x80 or _nal_type(data[a], name) not in allowed for a, b in units)

    return holds


def _inside_test(stream, picture, formats):
    """``(at, leads)`` telling which packets of an H.264/HEVC ``stream`` may hold no picture, wherever they are in the
    stream: length-prefixed (MP4, Matroska, FLV: ``avcC`` / ``hvcC`` extradata), or Annex-B in a container whose
    packets FFmpeg's parser does not rebuild (AVI; not ``_CAPTURE_FORMATS``, ``formats`` being the container's);
    None for other codecs and containers. A packet of at most ``_KEY_PREFIX`` bytes whose byte ``at`` (its first NAL
    unit's header; ``at`` 0: Annex-B, the byte after its first start code, see :func:`_annexb_leads`) gives
    ``leads[byte]`` 1 begins with a unit that holds no picture (SEI, parameter sets, delimiter); it holds none when
    ``picture`` (the test of :func:`_picture_test`, on its bytes) says so. A larger packet is taken as a picture.
    (The scan inlines the test: a function call per packet cost as much again.)

    A muxer or recorder may store a sample of SEI or parameter sets only between the pictures (a camera writing
    its metadata SEI as a sample of its own, a remux that split an access unit). FFmpeg's decoder refuses it ("no
    frame!", the parser's "missing picture in access unit") and outputs nothing for it; its players show the
    pictures around it, each at its own pts, so its slot is a gap in the times (as a dropped frame's). It was
    counted as a frame that did not decode: 13 frames where FFmpeg shows 12, ``every=1`` reported frame 5 'not
    decoded' (MP4, Matroska, FLV, MOV; an AVI chunk alike). In an elementary stream (MPEG-TS, MPEG-PS, raw) FFmpeg's
    parsers join such units to the next picture, so only a stream's trailing packets can hold none
    (:func:`_no_picture`).

    Cost: one byte of each packet is read (a slice holds a picture); only a packet that begins with a unit that
    holds none is read whole (camera files that lead every sample with an SEI or a delimiter: each such packet).
    """
    layout = _nal_layout(stream)
    if picture is None or layout is None or not layout[1] and formats & set(_CAPTURE_FORMATS):
        return None
    name, size = layout
    allowed = _NON_PICTURE_UNITS[name]
    return size, bytes(1 if not h & 0x80 and _nal_type(h, name) in allowed else 0 for h in range(256))


def _holds_none(data, size, leads):
    """Whether a length-prefixed H.264/HEVC packet (``data``, a memoryview of it) whose first NAL unit holds no picture
    (the caller read its header) reads, whole, as units that hold none (``size``-byte lengths; ``leads``: 1 for a
    unit header of such a type, forbidden bit 0): what :func:`_picture_test` says, but read in place and stopped at
    the first unit that holds a picture (an access unit delimiter or an SEI before each slice, as a remux from
    MPEG-TS or a camera writes them, then costs a step, not a copy of the packet)."""
    n = data.nbytes
    at = size + int.from_bytes(data[:size], "big")  # the end of the first unit
    if at == size or at > n:
        return False  # an empty or cut unit: damage, taken as a picture
    if at + size >= n:
        return at == n
    if not leads[data[at + size]]:
        return False  # the usual case: the second unit holds a picture
    while at + size < n:
        end = at + size + int.from_bytes(data[at:at + size], "big")
        if end == at + size or end > n or not leads[data[at + size]]:
            return False
        at = end
    return at == n


def _annexb_leads(packet, leads):
    """``leads[byte]`` of the NAL unit header after an Annex-B packet's first start code (00 00 01 at its start, or
    after one zero byte); 0 when the packet does not begin with one."""
    head = bytes(memoryview(packet)[:5])
    at = 3 if head[:3] == b"\x00\x00\x01" else 4 if head[:4] == b"\x00\x00\x00\x01" else 0
    return leads[head[at]] if at and len(head) > at else 0


#: The show_frame bit of a VP8 frame tag (RFC 6386 9.1: its first byte's bit 4). Encoders (libvpx with alt-ref
#: frames: vpxenc's IVF, WebM/Matroska muxed from it) may store a frame that is decoded as a reference but never
#: shown in a packet of its own; FFmpeg's decoder outputs no picture for it (vp8_decode_frame: "if
#: (!s->invisible) ... got_frame"), so it is no frame. (VP9's are joined to the next frame as a superframe by
#: FFmpeg's demuxers, AV1's are inside a temporal unit.)
_VP8_SHOW_FRAME = 0x10


#: The MPEG-4 Part 2 VOP start code (ISO/IEC 14496-2 6.2.5)
_VOP_START = b"\x00\x00\x01\xb6"


def _read_bits(data, bit, n):
    """``n`` bits of ``data`` from bit ``bit`` (most significant first) as an int; None past its end."""
    end = bit + n
    if end > len(data) * 8:
        return None
    chunk = int.from_bytes(data[bit // 8:(end + 7) // 8], "big")
    return (chunk >> ((end + 7) // 8 * 8 - end)) & ((1 << n) - 1)


def _vol_time_bits(data):
    """Bits of an MPEG-4 Part 2 VOP's vop_time_increment, from the first video object layer header in ``data``
    (ISO/IEC 14496-2 6.2.3 video_object_layer(): ``vop_time_increment_resolution`` R, then FFmpeg's
    ``time_increment_bits = av_log2(R - 1) + 1``, at least 1); None when ``data`` holds no readable one."""
    at = 0
    while True:
        at = data.find(b"\x00\x00\x01", at)
        if at < 0 or at + 4 > len(data):
            return None
        if 0x20 <= data[at + 3] <= 0x2F:
            break
        at += 3
    bit = (at + 4) * 8 + 1 + 8  # random_accessible_vol, video_object_type_indication

    def take(n):
        nonlocal bit
        v = _read_bits(data, bit, n)
        bit += n
        if v is None:
            raise IndexError
        return v

    try:
        verid = 1
        if take(1):  # is_object_layer_identifier
            verid = take(4)
            take(3)
        if take(4) == 0xF:  # aspect_ratio_info: extended PAR
            take(16)
        if take(1):  # vol_control_parameters
            take(3)  # chroma_format, low_delay
            if take(1):  # vbv_parameters: 79 bits with their markers
                take(79)
        shape = take(2)
        if shape == 3 and verid != 1:
            take(4)
        take(1)  # marker
        resolution = take(16)
    except IndexError:
        return None
    return max((resolution - 1).bit_length(), 1) if resolution else None


def _not_coded_test(stream, first):
    """A function telling whether a packet of an MPEG-4 Part 2 ``stream`` (FFmpeg's ``mpeg4``: DivX, Xvid,
    FMP4...) is an N-VOP that FFmpeg's decoder outputs no picture for; None for other codecs, or when the
    stream's video object layer header cannot be read. ``first``: the bytes of the stream's first packet (its
    headers when the container keeps none apart).

    An N-VOP is a VOP with ``vop_coded`` = 0 (ISO/IEC 14496-2 6.2.5): "nothing changed", a placeholder that
    capture tools and Xvid/DivX write for a repeated or dropped frame. FFmpeg's decoder skips it ("frame
    skipped", no picture; ``ff_h263_decode_frame``), so a file with them shows fewer frames than it has
    packets (an AVI's header counts the packets). One exception: in a DivX "packed bitstream" (user data
    ``DivX...p``), a packet holds a P-VOP and the B-VOP shown before it, and the N-VOP that follows stands for
    the B-VOP, which FFmpeg's decoder outputs then; so an N-VOP right after a packet of two or more VOPs in
    such a stream is a picture. A 1-byte packet of a DivX or Xvid stream (a dropped frame's placeholder) is no
    picture either, with the same exception. Called with the packet (any bytes-like object) and the previous
    packet (read only for an N-VOP of a packed stream).

    Whatever its size: the VOP header is parsed (its first 8 bytes after the start code hold it unless the time
    jumps by more than a minute), not the packet's size trusted. Stuffing after the header (zero bytes, a capture
    tool's padding) leaves it an N-VOP, which FFmpeg's decoder skips alike (before, only a packet of at most 64 bytes
    was read: a 6-byte N-VOP padded to 65 counted as a frame that did not decode). Only a packet whose header says
    ``vop_coded`` = 0 is read further (is there a start code after its own?), so the test costs a coded VOP the
    same at any size.
    """
    if stream.codec_context.name != "mpeg4":
        return None
    headers = bytes(stream.codec_context.extradata or b"") + first
    bits = _vol_time_bits(headers)
    if bits is None:
        return None
    at = headers.find(b"\x00\x00\x01\xb2")
    packed = False
    writers = set()  # the encoders the user data names (FFmpeg's divx_version, xvid_build, lavc_build)
    while at >= 0:  # user data: FFmpeg's decode_user_data reads "DivX%db%d%c" / "DivX%dBuild%d%c", 'p': packed
        end = headers.find(b"\x00\x00\x01", at + 4)
        text = headers[at + 4:end if end >= 0 else len(headers)]
        packed = packed or (text.startswith(b"DivX") and text.rstrip(b"\x00").endswith(b"p"))
        writers.update(w for w in (b"DivX", b"XviD", b"Lavc") if text.startswith(w))
        at = headers.find(b"\x00\x00\x01\xb2", at + 4)
    tag = str(stream.codec_context.codec_tag or "").upper()
    # A 1-byte packet: the placeholder DivX and Xvid write for a dropped frame, which FFmpeg's decoder skips
    # ("frame skip 8": ff_mpeg4_decode_picture_header) in a stream it takes for theirs: named so by its user
    # data, or, without any, by a codec tag Xvid's family uses (ff_mpeg4_workaround_bugs), or QMP4's.
    skips_one_byte = bool(writers & {b"DivX", b"XviD"}) or tag == "QMP4" or (
        not writers and tag in ("XVID", "XVIX", "RMP4", "ZMP4", "SIPP"))

    low = (1 << 62) - 1  # the 62 bits after vop_coding_type in the 8 bytes after the start code
    # vop_coded's byte and bit when modulo_time_base is a single 0 (a VOP inside the second its time counts from)
    at0 = 4 + (5 + bits) // 8
    shift0 = 7 - (5 + bits) % 8

    def not_coded(data, previous):
        packet = data
        if type(data) is not bytes:  # a large packet: its first bytes
            data = bytes(memoryview(data)[:12])
        n = len(data)
        if n < 5:
            return n == 1 and skips_one_byte and not (packed and bytes(previous).count(_VOP_START) >= 2)
        if not data.startswith(_VOP_START):
            return False
        if not data[4] & 0x20 and n > at0:
            coded = data[at0] >> shift0 & 1
        else:
            head = data[4:12]
            x = int.from_bytes(head, "big") << 8 * (8 - len(head))
            bit = 2 + 62 - (~x & low).bit_length()  # vop_coding_type, then modulo_time_base's run of ones
            bit += 1 + 1 + bits + 1  # its ending 0, marker, vop_time_increment, marker: bit is vop_coded's
            if bit < 8 * len(head):
                coded = (x >> (63 - bit)) & 1
            else:  # a time step of a minute or more, or a packet cut inside its header: bit by bit
                whole, bit = bytes(packet), 32 + 2
                while bit % 8 and _read_bits(whole, bit, 1) == 1:
                    bit += 1
                if bit % 8 == 0:  # the run's whole 0xFF bytes at once (a hostile packet of them: 3 s a MB bit by bit)
                    rest = whole[bit // 8:]
                    bit += 8 * (len(rest) - len(rest.lstrip(b"\xff")))
                    while _read_bits(whole, bit, 1) == 1:
                        bit += 1
                coded = _read_bits(whole, bit + 1 + 1 + bits + 1, 1)
        if coded != 0 or bytes(packet).find(b"\x00\x00\x01", 4) >= 0:  # coded, cut short, or more than the VOP
            return False
        return not (packed and bytes(previous).count(_VOP_START) >= 2)

    return not_coded


def _cut_short(stream, packet, formats, n_packets):
    """Whether ``packet``, the last of a stream of ``n_packets`` (more than one), is a length-prefixed H.264/HEVC
    sample the file ends inside, so that FFmpeg's decoder shows no picture for it.

    A recorder interrupted while writing a sample (a crash, a full disk, a pulled cable: a fragmented MP4 of OBS,
    a browser's MediaRecorder or a phone's crash-safe mode cut inside a fragment's ``mdat``) leaves it cut: the
    index (``trun``) gives its full size, the demuxer reads what the file holds and flags the packet corrupt
    (``AV_PKT_FLAG_CORRUPT``; MP4: "partial file"). Its last NAL unit's length then runs past its end, and
    FFmpeg's H.264/HEVC decoders refuse such a packet whole (``ff_h2645_packet_split``: "Invalid NAL unit
    size"), so players show the frames before it. It was counted as the last frame: FFmpeg showed 10 frames and
    the reader counted 11, reported the 11th 'not decoded', and ``n=4`` asked for it rather than the real last
    frame. A packet flagged corrupt whose units all fit (damage inside a complete sample, a cut that fell between
    units) is left a frame, reported when it does not decode; so are formats whose corrupt flag means other
    damage (MPEG-TS: a lost TS packet). An intra-only codec's cut packet (MJPEG in MP4/MOV/AVI) is decoded alone: no
    picture from it, no frame. For other codecs (whose decoders show a cut picture or not, by where it is cut:
    MPEG-4 Part 2 in AVI cut at 30% of a picture refused, at 90% shown, concealed) None: the caller asks the
    decoder, from the last keyframe (see :func:`_scan`).
    """
    if packet is None or n_packets < 2 or not packet.is_corrupt or not formats & set(_SAMPLE_FORMATS):
        return False
    layout = _nal_layout(stream)
    if layout is not None and layout[1]:
        return _nal_units(bytes(packet), layout[1]) is None
    if getattr(getattr(stream.codec_context, "codec", None), "intra_only", False):
        # an intra-only codec (MJPEG, ProRes...): the packet is a picture by itself, so the decoder asked with it
        # alone says whether FFmpeg shows it (its MJPEG decoder refuses a JPEG cut inside its tables, and shows one
        # cut inside its scan data, concealed)
        return not _probe_decode(stream, [packet])
    return None  # other codecs (Annex-B H.264 in AVI, MPEG-4 Part 2, VP9...): the picture needs its references


def _no_picture(picture, last, n_packets):
    """Decode positions of the packets that end a stream of ``n_packets`` without holding a picture (``last``:
    the bytes of its last packets, None for one above ``_KEY_PREFIX`` bytes; ``picture``: the test of
    :func:`_picture_test`).

    A capture or recording that stops between an access unit's first bytes and its slices (a raw H.264/HEVC
    dump cut after an access unit delimiter, parameter sets or SEI; an MPEG-2 stream cut after a sequence
    header) ends with such a packet: FFmpeg's parsers hand it on as a packet, its decoders output no
    picture for it ("no frame!", or nothing), and its players show the frames before it. It was counted as
    the last frame: even sampling asked for it instead of the real last frame, which was never read, and the
    row was partial ("1 requested frame(s) not decoded"). Only trailing packets: inside a stream the parsers
    join such units to the picture that follows them. At least one packet is left.
    """
    if picture is None:
        return ()
    out = []
    for k in range(len(last) - 1, 0, -1):
        if last[k] is None or picture(last[k]):  # None: a packet above _KEY_PREFIX bytes, taken as a picture
            break
        out.append(n_packets - len(last) + k)
    return out


#: Packets of a capture's start kept by the scan to ask the decoder which leading pictures it shows.
_LEADING_PROBE_PACKETS = 256
#: Packets from a raw stream's first keyframe on given to the decoder to count its leading pictures it does not
#: output (see _scan's leading_hidden): they follow the keyframe in decode order, before its trailing pictures, so a
#: run of B-frames bounds them (x264 and x265 allow 16)
_LEADING_WINDOW = 32


def _new_decoder(stream):
    """A decoder of its own for ``stream``'s codec, with the stream's headers (extradata): the probes' decoder."""
    import av

    ctx = av.CodecContext.create(stream.codec_context.name, "r")
    if stream.codec_context.extradata:
        ctx.extradata = stream.codec_context.extradata
    return ctx


def _probe_decode(stream, packets):
    """The frames FFmpeg's decoder for ``stream`` outputs when given ``packets`` and flushed; None when it
    fails."""
    import av

    try:
        ctx = _new_decoder(stream)
        return [f for pkt in packets for f in ctx.decode(pkt)] + list(ctx.decode(None))
    except (av.FFmpegError, ValueError):
        return None


def _decoder_shows(stream, packets, first, last):
    """The pts of the pictures FFmpeg's decoder for ``stream`` outputs when given ``packets[first:last + 1]``
    (a keyframe and its leading pictures) and flushed; None when it cannot tell (the packets were not
    kept, the decoder failed, a picture without a pts)."""
    if last >= len(packets):
        return None
    frames = _probe_decode(stream, packets[first:last + 1])
    if frames is None:
        return None
    shown = {f.pts for f in frames}
    return None if None in shown else shown


def _decoder_hidden(stream, packets, first):
    """How many of ``packets[first:]`` FFmpeg's decoder for ``stream`` outputs no picture for (sent them all, then
    flushed; all of them when it outputs nothing); None when it fails."""
    frames = _probe_decode(stream, packets[first:])
    return None if frames is None else len(packets) - first - len(frames)


def _decoder_pass(fh, stream, first, stop, until_output, refused=False):
    """FFmpeg's decoder for ``stream`` run over the stream's packets at decode positions ``first`` to ``stop - 1``,
    read again from the file's first byte (a demuxer of its own on a new file object, ending where ``fh`` ended),
    one packet at a time (nothing held), then flushed. ``until_output``: the pts of the first picture it outputs
    as a set (empty when it outputs none; it stops there); else how many of those packets it outputs no picture
    for. None when it cannot tell (no file object, the file or the decoder failed, a picture without a pts);
    with ``refused``, a packet the decoder refuses is one it outputs nothing for.

    For a capture whose first ``_LEADING_PROBE_PACKETS`` packets (what the scan keeps for the probes) give no
    picture: an HEVC intra-refresh stream cut after its IDR (FFmpeg's decoder refuses every picture: "Error
    constructing the frame RPS", 4 ms for 397 packets of 96x64 here), or an H.264 intra refresh longer than the
    probe. Before, such a stream was left as it was: 397 frames counted that no read could decode.
    """
    import av

    if fh is None or stop <= first:
        return None if fh is None else (set() if until_output else 0)
    try:
        again = _BoundedFile(open(fh.fh.name, "rb"))  # noqa: SIM115 - closed below
    except (OSError, TypeError, ValueError):
        return None
    again.stop_at = fh.stop_at
    try:
        with _ffmpeg_log():  # what opening it says again is not kept (as when the file was opened: _open_container)
            c = av.open(again, "r", container_options=dict(_CONTAINER_OPTIONS), buffer_size=_IO_BUFFER)
        with c:
            s = c.streams[stream.index]
            ctx = _new_decoder(stream)
            pos, sent, output = -1, 0, 0
            for packet in c.demux(s):
                if not packet.size:
                    continue
                pos += 1
                if pos < first:
                    continue
                if pos >= stop:
                    break
                sent += 1
                try:
                    frames = ctx.decode(packet)
                except av.FFmpegError:
                    if not refused:
                        raise
                    frames = []  # ``refused``: a packet the decoder refuses outputs nothing (players skip it)
                if until_output and frames:
                    return None if frames[0].pts is None else {frames[0].pts}
                output += len(frames)
            frames = ctx.decode(None)
            if until_output:
                return set() if not frames else None if frames[0].pts is None else {frames[0].pts}
            return sent - output - len(frames)
    except (av.FFmpegError, ValueError, OSError, IndexError):
        return None
    finally:
        again.close()


#: FFmpeg's AVFMT_TS_DISCONT (libavformat/avformat.h): the format allows timestamp discontinuities.
_AVFMT_TS_DISCONT = 0x0200


def _ts_discont(container):
    """The format allows timestamp discontinuities (FFmpeg's ``AVFMT_TS_DISCONT``: MPEG-TS, MPEG-PS...)."""
    return bool(int(container.format.flags) & _AVFMT_TS_DISCONT)


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


def _tag_rotation(stream, errors):
    """The legacy clockwise ``rotate`` tag as counter-clockwise degrees, or None."""
    tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), None)
    if tag is None:
        return None
    try:
        return _normalize_angle(-float(tag))
    except (ValueError, OverflowError):  # not a number; NaN; an infinity (e.g. "inf", "1e400")
        shown = repr(tag) if len(tag) <= 40 else f"{tag[:40]!r}... ({len(tag)} characters)"  # a tag may be megabytes
        errors.add(f"unparsable rotate tag {shown}")
        return None


def _probe(video, errors):
    """Scan ``video``'s stream and build its :class:`VideoInfo` (rotation left at the tag's)."""
    container, stream = video.container, video.stream
    src, index = video.src, video.index
    with _ffmpeg_log() as logs:
        header_frames = int(stream.frames or 0) or None
        rate = _rate(stream)
        tb = stream.time_base
        table, complete = _scan(container, stream, errors, video.fh)
        video.table = table
        if _formats(container) & {"mov", "mp4"} and video.fh is not None:
            _check_boxes(video.fh.fh, errors)
        # the parser's words on the packets found to end the stream without a picture (said again while decoding)
        errors.ignore.update(f"missing picture in access unit with size {n}" for n in table.no_picture_sizes)
        errors.add_logs(logs)
    n = table.n
    duration_s = start_s = None
    fps = rate
    source = "counted"
    if n == 0 and table.n_leading:
        # a capture that starts after its stream's last random access point: FFmpeg's decoder shows none of it
        raise ItemError(index, src, f"video stream has no frames FFmpeg's decoder shows: its {table.n_leading} "
                        "packets follow no random access point (a capture cut after the last keyframe or inside "
                        "an intra refresh)" + _suffix(errors))
    if n == 0:
        header_s = _header_duration(container, stream)
        if header_frames:
            n, source = header_frames, "header"
        elif header_s and rate:
            n, source = int(round(header_s * rate)), "estimated"
        if n <= 0:
            raise ItemError(index, src, "video stream has no frames" + _suffix(errors))
        errors.add(f"the stream holds no packet: its {n} frames are the header's "
                   f"{'frame count' if source == 'header' else 'duration times the frame rate'}, "
                   "none of them readable (is the file cut before its first frame?)")
        duration_s = header_s or (n / rate if rate else None)
    elif table.timing == "pts" and tb:
        last = table.last_duration
        if last <= 0:
            gaps = np.diff(np.unique(table.pts))
            last = float(np.median(gaps)) if gaps.size else (1 / rate / tb if rate else 0)
        start_s = float(table.pts[0] * tb)
        duration_s = float((table.pts[-1] - table.pts[0] + last) * tb)
        if duration_s > 0:
            fps = n / duration_s
        _check_header(container, stream, table, header_frames, start_s, duration_s, complete, errors)
    else:
        duration_s = n / rate if rate else _header_duration(container, stream)
        if header_frames and header_frames != table.n_packets:
            errors.add(f"the header gives {header_frames} frames but the stream holds {table.n_packets} packets")
        if table.dts_range is not None and rate and tb:
            # Frames are timed k / fps here. An AVI stream whose decode timestamps (its frame slots) skip
            # some has empty slots, e.g. frames a capture dropped (FFmpeg returns no packet for an empty
            # chunk; a player holds the previous picture), so every frame after one is shown later.
            slots = int(round((table.dts_range[1] - table.dts_range[0]) * float(tb) * rate)) + 1
            if slots > table.n_packets:
                errors.add(f"the packets' decode timestamps span {slots} frame slots but the stream holds "
                           f"{table.n_packets} frames: {slots - table.n_packets} slot(s) are empty (frames a "
                           "capture dropped?); without presentation timestamps frames are timed k / fps, so "
                           "frames after an empty slot are shown later than their times say")
        last_coded = next((i for i in range(table.n_packets - 1, -1, -1) if i not in table.not_coded), -1)
        shown_after = sorted(k for k in table.not_coded if k < last_coded)  # a frame follows them
        if shown_after:
            at = ", ".join(map(str, shown_after[:5])) + (", ..." if len(shown_after) > 5 else "")
            errors.add(f"{len(shown_after)} packet(s) are MPEG-4 N-VOPs (not coded: the picture before is shown "
                       f"again for their slot; at packet {at}); without presentation timestamps frames are timed "
                       "k / fps, so frames after one are shown later than their times say")
    if table.restarts:
        shown = ", ".join(map(str, table.restarts[:5])) + (", ..." if len(table.restarts) > 5 else "")
        errors.add(f"the timestamps go back {len(table.restarts)} time(s) (at packet {shown}): a discontinuity, "
                   "e.g. concatenated streams; frames are numbered in file order and their times continue "
                   "across it")
    if table.duplicates:
        errors.add(f"{table.duplicates} frame(s) share their presentation timestamp with another frame "
                   "(kept in decode order)")
    bit_rate = stream.codec_context.bit_rate or container.bit_rate or None
    width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    sar = _sar(stream, errors)
    rotation = _tag_rotation(stream, errors) or 0
    geometry = _Geometry.from_tag(rotation)
    return VideoInfo(
        path=src,
        container=container.format.name,
        codec=stream.codec_context.name,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        n_frames=int(n),
        n_frames_source=source,
        duration_s=duration_s,
        bit_rate=int(bit_rate) if bit_rate else None,
        keyframe_interval=table.keyframe_interval,
        sample_aspect_ratio=sar,
        display_width=geometry.size(width, height, sar)[0],
        display_height=geometry.size(width, height, sar)[1],
        mirrored=geometry.mirrored,
        stream=video.ordinal,
        video_streams=video.n_video,
        start_time_s=start_s,
        header_frames=header_frames,
        timing=table.timing,
        errors=tuple(errors.as_list()),
    )


def _header_duration(container, stream):
    import av

    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


#: Top-level MP4 boxes walked at most by _check_boxes (two per fragment of a fragmented file).
_MAX_BOXES = 1 << 20
#: The bytes a box type may hold (printable ASCII)
_PRINTABLE = bytes(range(32, 127))
#: Bytes read at a time by the box walk
_BOX_BLOCK = 4096


def _box_at(fd, at, end, block):
    """``(size, type)`` of the MP4 box whose header is at byte ``at`` of the file ``fd`` of ``end`` bytes (size 0:
    to the end of the file; a 64-bit size read); None where no box header can be (fewer than 8 bytes left, a size
    below the header's, a type of other than printable characters). ``block``: ``[offset, bytes]`` of the last
    block read (4 KiB; a fragment's ``moof`` and the ``mdat`` header after it usually lie in one), read again when
    the header is not inside it."""
    start, data = block
    if not start <= at <= start + len(data) - 16:
        block[0], block[1] = start, data = at, os.pread(fd, _BOX_BLOCK, at)
    k = at - start
    head = data[k:k + 16]
    if len(head) < 8:
        return None
    size, kind = int.from_bytes(head[:4], "big"), head[4:8]
    if kind.translate(None, _PRINTABLE):
        return None
    if size == 1:
        if len(head) < 16:
            return None
        size = int.from_bytes(head[8:16], "big")
    elif size == 0:
        size = end - at
    return (size, kind.decode("ascii")) if size >= 8 else None


def _fragment_index(fd, at, size):
    """Byte offsets of the fragments (``moof`` boxes) an ``mfra`` box at ``at`` of ``size`` bytes lists in its ``tfra``
    boxes (ISO/IEC 14496-12, 8.8.10: per entry a time, a ``moof`` offset, then traf, trun and sample numbers of 1 to
    4 bytes each as ``length_size_of_*`` say)."""
    data = os.pread(fd, min(size, 1 << 24), at)
    out, k = [], 8
    while k + 8 <= len(data):
        n, kind = int.from_bytes(data[k:k + 4], "big"), data[k + 4:k + 8]
        if n < 8:
            break
        if kind == b"tfra" and k + 24 <= len(data):
            wide = data[k + 8] == 1  # version 1: 64-bit time and offset
            sizes = int.from_bytes(data[k + 16:k + 20], "big")
            extra = ((sizes >> 4) & 3) + ((sizes >> 2) & 3) + (sizes & 3) + 3
            count = int.from_bytes(data[k + 20:k + 24], "big")
            step, e = (16 if wide else 8) + extra, k + 24
            for _ in range(count):
                if e + step > min(k + n, len(data)):
                    break
                half = 8 if wide else 4
                out.append(int.from_bytes(data[e + half:e + 2 * half], "big"))
                e += step
        k += n
    return out


def _check_boxes(fh, errors):
    """Report what the top-level boxes of an MP4/MOV file say of an interrupted recording (read with ``pread``:
    8-16 bytes a box, the fragment index whole; the demuxer's position is not moved).

    - A box the file ends inside: a recording cut while writing it. FFmpeg's MP4 demuxer says nothing of a file
      that ends inside a fragment's ``moof`` (it reads the fragments before it and stops): the fragment and
      everything after it were lost without a word (the reader counted the frames FFmpeg shows, 10, and reported
      nothing). Inside an ``mdat`` it says "partial file" only where a sample is cut.
    - A fragment index (``mfra``) that lists fragments the file does not hold: a stale index (a recorder that
      wrote it, then lost or rewrote fragments). FFmpeg reads the fragments there are (and seeks by them), so
      the count is right; the loss was not reported.
    - A segment index (``sidx``, DASH-style, written before the fragments) that describes more bytes than follow
      it: fragments lost after it was written.
    """
    try:
        fd = fh.fileno()
        end = os.fstat(fd).st_size
        at, moofs, cut, indexes, last, block = 0, set(), None, [], (None, 0), [0, b""]
        for _ in range(_MAX_BOXES):
            box = _box_at(fd, at, end, block)
            if box is None:
                break
            size, kind = box
            if kind == "moof":
                moofs.add(at)
            elif kind in ("mfra", "sidx"):
                indexes.append((kind, at, size))
            if at + size > end:
                cut = (kind, at, size)
                break
            at += size
            last = kind, at - size
    except (OSError, ValueError, AttributeError):  # not a file with a descriptor: nothing to say
        return
    if cut is None and at == end and last[0] == "moof":
        errors.add(f"the file ends after a fragment's header (its 'moof' box at byte {last[1]}) before the frame "
                   "data it describes: a recording interrupted while writing; that fragment's frames are lost")
    if cut is not None:
        kind, at, size = cut
        what = {"moof": "a fragment's header (its frames, and any after them, are lost)",
                "mdat": "its frame data"}.get(kind, "it")
        errors.add(f"the file ends inside its {kind!r} box: {end - at} of its {size} bytes present (from byte {at}), "
                   f"cut inside {what}: a recording interrupted while writing")
    for kind, at, size in indexes:
        if kind == "mfra" and at + size <= end:
            missing = [o for o in _fragment_index(fd, at, size) if o not in moofs]
            if missing:
                errors.add(f"the fragment index ('mfra') lists {len(missing)} fragment(s) the file does not hold "
                           f"(a 'moof' box at byte {missing[0]}{', ...' if len(missing) > 1 else ''}): a stale "
                           "index, fragments lost after it was written; the frames are those the file holds")
        elif kind == "sidx" and at + size <= end:
            head = os.pread(fd, min(size, 1 << 24), at)
            wide = len(head) > 8 and head[8] == 1
            k = 20 + (8 if wide else 4)  # past its header, version/flags, reference_ID, timescale, earliest pts
            if len(head) < k + 8:
                continue
            first = int.from_bytes(head[k:k + (8 if wide else 4)], "big")
            k += 8 if wide else 4
            count = int.from_bytes(head[k + 2:k + 4], "big")
            k += 4
            total = sum(int.from_bytes(head[k + 12 * r:k + 12 * r + 4], "big") & 0x7FFFFFFF
                        for r in range(count) if k + 12 * r + 4 <= len(head))
            if at + size + first + total > end:
                errors.add(f"the segment index ('sidx') describes {total} bytes of fragments, the file holds "
                           f"{max(end - at - size - first, 0)} after it: fragments lost after it was written")


def _check_header(container, stream, table, header_frames, start_s, duration_s, complete, errors):
    """Report a header frame count or duration that the packets contradict."""
    import av

    # An MP4/MOV's count is its sample table's, from which FFmpeg builds the packets; an edit list makes it
    # drop samples past the edit's end, repeat samples (a stretch shown twice, decode-only copies) and mark
    # hidden ones discarded, so there the packets are no count of the samples and a mismatch means nothing.
    edited = "mov" in _formats(container) and (table.n_discarded or table.pts_repeat)
    if header_frames and header_frames != table.n_packets and not edited:
        errors.add(f"the header gives {header_frames} frames but the stream holds {table.n_packets} packets"
                   + ("" if complete else " (the scan stopped early)"))
    if not _formats(container) & set(_DURATION_FORMATS):
        return  # durations of other containers are estimates (e.g. from the bit rate)
    interval = duration_s / max(table.n, 1)
    tol = max(2 * interval, 0.02 * duration_s, 0.05)
    end_s = start_s + duration_s
    if stream.duration is not None and stream.time_base:
        s0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else start_s
        header_s = float(stream.duration * stream.time_base)
        if abs(header_s - duration_s) > tol and abs(s0 + header_s - end_s) > tol:
            errors.add(f"the header gives a duration of {header_s:.3f} s but the frames span {duration_s:.3f} s")
        return
    if container.duration is None or len(container.streams) != 1:
        return  # the container's duration may be another stream's
    header_s = container.duration / av.time_base
    # Demuxers disagree on whether the container duration counts from 0 or from the start time,
    # so a mismatch is one against both readings.
    if duration_s < header_s - tol and end_s < header_s - tol:
        errors.add(f"the container gives a duration of {header_s:.3f} s but the frames end at "
                   f"{end_s:.3f} s (truncated file?)")
    elif header_s < duration_s - tol and header_s < end_s - tol:  # a stale header (e.g. Matroska's Duration)
        errors.add(f"the container gives a duration of {header_s:.3f} s but the frames span {duration_s:.3f} s")


def _valid_sar(sar, width, height):
    """FFmpeg's ``av_image_check_sar``: the ratio scales neither side of a ``width`` x ``height`` frame below
    one pixel (a size not known yet, 0, is not checked). An unknown or malformed ratio (None, 0:1, x:0) passes
    here: ``_ratio`` reads it as 1."""
    if sar is None or sar.denominator <= 0 or sar.numerator <= 0:
        return True  # unknown (None, 0:1) or malformed: read as square by _ratio, as FFmpeg reads it as undefined
    if sar.numerator == sar.denominator or not (width and height):
        return True
    if sar.numerator < sar.denominator:
        return width * sar.numerator // sar.denominator > 0
    return height * sar.denominator // sar.numerator > 0


def _sar(stream, errors=None):
    """The sample aspect ratio FFmpeg's players use for the stream (float; 1.0 when unknown).

    The container's (MP4 ``pasp``, Matroska display size) when it declares a valid one, else the codec's.
    A ratio that would scale the coded width or height below one pixel (``av_image_check_sar``, which
    FFmpeg's decoders apply to the codec's ratio, "ignoring invalid SAR", but its demuxers not to the
    container's) is ignored, and reported in ``errors`` when given: a ``pasp`` box of 65535:1 on a
    96x64 clip made each displayed frame 6291360x64 (1.2 GB), 2**31-1:1 an OpenCV error.
    """
    cc = stream.codec_context
    w, h = int(cc.width or 0), int(cc.height or 0)
    try:
        sar = stream.sample_aspect_ratio
    except Exception:  # pragma: no cover - defensive
        sar = None
    if _valid_sar(sar, w, h):
        return _ratio(sar)
    codec = cc.sample_aspect_ratio
    fallback = _ratio(codec) if _valid_sar(codec, w, h) else 1.0
    if errors is not None:
        errors.add(f"sample aspect ratio {sar.numerator}:{sar.denominator} is invalid for {w}x{h} frames "
                   f"(it scales a side below one pixel); ignored, as FFmpeg's decoders ignore such a ratio: "
                   f"pixels taken as {'square' if fallback == 1.0 else f'{fallback:.4g} (the codec headers)'}")
    return fallback


def pick_stream(streams, stream, kind, index, src, exclude=0):
    """``(position, stream)`` of the stream to read among ``streams`` (one kind: video or audio).

    ``stream`` None: the first flagged *default* among those without an ``exclude`` disposition
    (e.g. cover pictures), else the first of those; None when there is none. An int: that
    position (TypeError for another type, ItemError naming the item when out of range).
    """
    import av

    if stream is None:
        usable = [(k, s) for k, s in enumerate(streams) if not (s.disposition & exclude)]
        default = [(k, s) for k, s in usable if s.disposition & av.stream.Disposition.default]
        return (default or usable or [None])[0]
    if isinstance(stream, (bool, np.bool_)) or not isinstance(stream, (int, np.integer)):
        raise TypeError(f"stream must be an integer (position among {kind} streams), got {stream!r}")
    if not 0 <= stream < len(streams):
        raise ItemError(index, src, f"has {len(streams)} {kind} stream(s); stream={stream} asked")
    return int(stream), streams[stream]


def _frame_threads(cc):
    """The decoder can decode several frames at once (FFmpeg's ``AV_CODEC_CAP_FRAME_THREADS``)."""
    import av

    try:
        return bool(cc.codec.capabilities & av.codec.Capabilities.frame_threads)
    except Exception:  # pragma: no cover - defensive: assume the lagging case
        return True


def _ratio(sar):
    """A sample aspect ratio (Fraction or None) as a float; 1.0 when unknown (0:1, x:0, None)."""
    if sar is None or sar.numerator <= 0 or sar.denominator <= 0:
        return 1.0
    return float(sar)


# -- display geometry ---------------------------------------------------------------------------
class _Geometry:
    """A display transform: numpy steps reproducing FFmpeg's player autorotation.

    The steps follow ``ffplay``/``ffmpeg``'s ``autorotate`` (fftools): from the display matrix
    ``m`` (3x3, 16.16 fixed point) and ``theta``, the clockwise angle
    ``-av_display_rotation_get(m)`` in [0, 360): 90 -> ``transpose`` if ``m[3] > 0`` else
    ``clock``; 180 -> ``hflip`` if ``m[0] < 0`` and ``vflip`` if ``m[4] < 0``; 270 ->
    ``clock_flip`` if ``m[3] < 0`` else ``cclock``; 0 -> ``vflip`` if ``m[4] < 0``.
    """

    _STEPS = {
        "clock": lambda a: np.rot90(a, -1),
        "cclock": lambda a: np.rot90(a, 1),
        "transpose": lambda a: a.transpose(1, 0, 2),
        "clock_flip": lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        "hflip": lambda a: a[:, ::-1],
        "vflip": lambda a: a[::-1],
    }

    def __init__(self, rotation=0, mirrored=False, steps=(), note=None):
        self.rotation = rotation
        self.mirrored = mirrored
        self.steps = tuple(steps)
        self.note = note

    @property
    def turns(self):
        return any(s in ("clock", "cclock", "transpose", "clock_flip") for s in self.steps)

    def size(self, width, height, sar):
        w = max(1, int(round(width * sar)))
        return (height, w) if self.turns else (w, height)

    @classmethod
    def from_tag(cls, rotation):
        """From a counter-clockwise angle (legacy ``rotate`` tag): pure rotation."""
        theta = (-rotation) % 360
        steps = {0: (), 90: ("clock",), 180: ("hflip", "vflip"), 270: ("cclock",)}.get(theta)
        if steps is None:
            return cls(rotation, False, (), f"rotate tag of {rotation} degrees (not a multiple of 90) not applied")
        return cls(rotation, False, steps)

    @classmethod
    def from_matrix(cls, m):
        a, b, c, d = (m[0] / 65536, m[1] / 65536, m[3] / 65536, m[4] / 65536)
        s0, s1 = math.hypot(a, c), math.hypot(b, d)
        if s0 == 0 or s1 == 0:
            return cls(0, False, (), "degenerate display matrix ignored")
        ccw = -math.degrees(math.atan2(b / s1, a / s0))  # av_display_rotation_get
        theta = -round(ccw)
        theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
        mirrored = a * d - b * c < 0
        rotation = _normalize_angle(ccw)
        if abs(theta - 90) < 1:
            steps = ("transpose",) if m[3] > 0 else ("clock",)
        elif abs(theta - 180) < 1:
            steps = (("hflip",) if m[0] < 0 else ()) + (("vflip",) if m[4] < 0 else ())
        elif abs(theta - 270) < 1:
            steps = ("clock_flip",) if m[3] < 0 else ("cclock",)
        elif abs(theta) < 1:  # theta is a whole number of degrees in [0, 360)
            steps = ("vflip",) if m[4] < 0 else ()
        else:
            return cls(rotation, mirrored, (), f"display matrix rotates by {rotation} degrees (not a multiple "
                                                "of 90); frames left unrotated")
        return cls(rotation, mirrored, steps)

    def apply(self, rgb):
        out = rgb
        for s in self.steps:
            out = self._STEPS[s](out)
        return np.ascontiguousarray(out) if self.steps else out


_IDENTITY = _Geometry()


#: Layouts of frames downloaded from a hardware decoder -> the planar layout software decoding gives.
_PLANAR = {"nv12": "yuv420p", "p010le": "yuv420p10le", "p016le": "yuv420p16le", "nv16": "yuv422p", "nv24": "yuv444p"}


class _Display:
    """Turns decoded frames into what a viewer sees (or leaves them coded)."""

    def __init__(self, stream, enabled, errors, tag_rotation, threads=1, video=None):
        from av.video.reformatter import VideoReformatter

        self.enabled = enabled
        self.video = video  # the opened _Video: its max_pixels bounds the displayed frame too
        self.errors = errors
        self.sar = _sar(stream)
        # FFmpeg's players take a frame's aspect ratio from av_guess_sample_aspect_ratio: the container's
        # when it declares one, else the frame's own, which the decoder takes from the codec's headers of
        # that picture (an MPEG-2 broadcast switching between 4:3 and 16:9 sequences changes it mid-stream).
        # PyAV gives the container's ratio, or the codec's from the stream's start, and the decoder's
        # current one, not the frame's: ``decoded`` records the decoder's after each packet, which with one
        # decoder thread is the ratio of that packet's picture (with frame threads it lags behind; a codec
        # without frame threads, MPEG-2 among them, decodes each packet's picture before it returns).
        self.follow = self.sar == _ratio(stream.codec_context.sample_aspect_ratio)  # the container declares no other
        self.exact = int(threads) == 1 or not _frame_threads(stream.codec_context)
        self._sar_of = {}  # pts -> the decoder's ratio for that picture, where it is not self.sar
        self.reported = False  # a change that cannot be told per frame was reported
        self.tag = _Geometry.from_tag(tag_rotation) if tag_rotation else _IDENTITY
        self._cache = {}
        # One converter for the whole read: FFmpeg's swscale context is built once, not per
        # frame (as frame.to_ndarray does), and uses the reader's thread count.
        self.reformatter = VideoReformatter()
        self.threads = int(threads)
        # hardware decoding (hwaccel) downloads frames in a semi-planar layout (nv12...), whose direct
        # RGB conversion differs from the software path by up to ~100 levels at chroma edges;
        # unpacked to the planar layout first (lossless), the RGB is the software decoder's exactly
        self.unpack = VideoReformatter() if stream.codec_context.is_hwaccel else None

    def geometry(self, frame):
        try:
            sd = frame.side_data.get("DISPLAYMATRIX")
        except Exception:  # pragma: no cover - defensive: side data API differences
            sd = None
        if sd is None:
            geo = self.tag
        else:
            key = bytes(sd)
            geo = self._cache.get(key)
            if geo is None:
                geo = self._cache[key] = _Geometry.from_matrix(np.frombuffer(key[:36], dtype="<i4").tolist())
        if geo.note and self.enabled:
            self.errors.add(geo.note)
        return geo

    def decoded(self, cc, key):
        """Note the decoder's (``cc``) aspect ratio after it decoded the packet whose (shifted) pts is ``key``.

        ``key`` None: a stream without timestamps, whose frames cannot be matched to their packets.
        """
        if not (self.enabled and self.follow):
            return
        now = cc.sample_aspect_ratio
        now = _ratio(now) if _valid_sar(now, int(cc.width or 0), int(cc.height or 0)) else 1.0
        if now == self.sar:
            return
        if self.exact and key is not None:
            self._sar_of[key] = now
        elif not self.reported:
            self.reported = True
            self.errors.add(f"the sample aspect ratio changes mid-stream ({self.sar:.4g} to {now:.4g}); "
                            + ("with several decoder threads frames cannot be matched to their own, "
                               if key is not None else "frames without timestamps cannot be matched to their own, ")
                            + f"so every frame is resampled by the first one's ({self.sar:.4g})")

    def convert(self, frame, key=None):
        """(rgb, geometry, sar applied, rotation applied) of a decoded frame (``key``: its shifted pts)."""
        geo = self.geometry(frame)
        if self.unpack is not None and frame.format.name in _PLANAR:
            frame = self.unpack.reformat(frame, format=_PLANAR[frame.format.name])
        rgb = self.reformatter.reformat(frame, format="rgb24", threads=self.threads).to_ndarray()
        if not self.enabled:
            return rgb, geo, 1.0, 0
        sar, own = 1.0, self._sar_of.get(key, self.sar)
        h, w = rgb.shape[:2]
        new_w = max(1, int(round(w * own)))
        v = self.video
        if v is not None and new_w * h > v.max_pixels:  # a valid ratio still multiplies the width by up to h
            raise ItemError(v.index, v.src, f"displayed frames would be {new_w}x{h} ({new_w * h / 1e6:.0f} megapixels: "
                                            f"{w}x{h} coded, sample aspect ratio {own:.6g}), above "
                                            f"max_pixels={v.max_pixels}; read with display=False for the coded "
                                            "frames, or raise max_pixels if this is intended")
        if new_w != w:
            import cv2

            interp = cv2.INTER_AREA if new_w < w else cv2.INTER_LINEAR
            rgb = cv2.resize(rgb, (new_w, h), interpolation=interp)
            sar = own
        return geo.apply(rgb), geo, sar, geo.rotation if geo.steps else 0


# -- sampling -----------------------------------------------------------------------------------
def _as_count(value, name, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def sample_indices(n_frames, *, n=DEFAULT_N_FRAMES, every=None, times=None, fps=None, timestamps=None,
                   duration=None):
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
        Times in seconds from the first frame. With ``timestamps``: the frame shown at each
        time, i.e. the last frame whose timestamp is <= t (exact for variable frame rates);
        times outside ``[0, duration]`` raise. Without: frame ``round(t * fps)`` (half up,
        constant frame rate assumed), clipped to ``n_frames - 1``; times outside
        ``[0, n_frames / fps]`` raise.
    fps : float, optional
        Frame rate, required with ``times`` when ``timestamps`` is not given.
    timestamps : array-like of float, shape (n_frames,), optional
        Presentation time of each frame in seconds from the first (non-decreasing), e.g. from
        the packet timestamps.
    duration : float, optional
        End of the last frame, with ``timestamps``; default: the last timestamp plus the median
        frame interval.

    Returns
    -------
    indices : ndarray of int64
        Sorted unique indices for ``n`` and ``every``; for ``times`` one index per time, in the
        order given.

    Raises
    ------
    ValueError
        For more than one selector, non-positive counts, ``times`` without ``fps`` or
        ``timestamps``, timestamps of the wrong length, or times out of range.

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
    >>> sample_indices(4, times=[0.1, 0.35, 0.9], timestamps=[0.0, 0.2, 0.3, 0.8], duration=1.0)
    array([0, 2, 3])
    """
    n_frames = _as_count(n_frames, "n_frames")
    if every is not None and times is not None:
        raise ValueError("give at most one of every and times")
    if times is not None:
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if t.ndim != 1:
            raise ValueError(f"times must be 1-D, got shape {t.shape}")
        if timestamps is not None:
            return _times_to_frames(t, timestamps, duration, n_frames)
        if fps is None or not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"times needs timestamps or a positive fps, got fps={fps!r}")
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


def _times_to_frames(t, timestamps, duration, n_frames):
    ts = np.asarray(timestamps, dtype=np.float64).ravel()
    if ts.size != n_frames:
        raise ValueError(f"timestamps has {ts.size} values for {n_frames} frames")
    if not np.all(np.isfinite(ts)) or np.any(np.diff(ts) < 0):
        raise ValueError("timestamps must be finite and non-decreasing")
    if duration is None:
        gaps = np.diff(ts)
        duration = float(ts[-1] + (np.median(gaps) if gaps.size else 0.0))
    end = float(duration) + 1e-9
    bad = t[~np.isfinite(t) | (t < 0) | (t > end)]
    if bad.size:
        raise ValueError(f"times {bad.tolist()} are outside the video (0 to {float(duration):.3f} s)")
    idx = np.searchsorted(ts, t + 1e-9, side="right") - 1  # 1 ns: a time equal to a pts is that frame
    return np.clip(idx, 0, n_frames - 1).astype(np.int64)


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


def _frame_times(table, tb):
    """Timestamps (s from the first frame) of all frames in presentation order, or None."""
    if table.timing != "pts" or not tb:
        return None
    return ((table.pts - table.pts[0]) * float(tb)).astype(np.float64)


# -- decoding -----------------------------------------------------------------------------------
class _Decode:
    """Decode the frames ``wanted`` of an opened, scanned video (see :func:`read_frames`).

    Iterating yields ``(index, seconds, rgb, rotation, sar, mirror)`` in increasing index order
    (what the display transform applied to that frame); with ``late`` (``read_frames``), a requested frame the
    decoder outputs after a later one (its pts below the previous output's: damage that disturbs the decoder's
    reordering) is yielded too, out of that order (before, it was skipped and reported 'not decoded' though
    FFmpeg's decoder output it).
    Afterwards ``n_output`` is the number of frames the decoder returned, ``got`` the indices
    yielded, ``ended`` whether the end of the stream was reached, ``first_geometry`` the display
    transform of the first frame decoded and ``seeks`` the number of keyframe seeks.
    """

    def __init__(self, video, wanted, errors, *, threads=1, display=True, seek=True, skip_nonref=True,
                 tag_rotation=None, late=False):
        table = video.table
        self.video = video
        # yield a requested frame the decoder outputs after a later one (damaged reordering), out of index order
        self.late = bool(late)
        self.got_set = set()
        self.by_pts = table.timing == "pts"
        self.wanted = [int(i) for i in wanted if not self.by_pts or i < table.n]
        self.errors = errors
        self.threads = int(threads)
        self.display = _Display(video.stream, display, errors, tag_rotation, threads, video=video)
        # a sample without a picture inside the stream may carry parameter sets that the pictures after it need
        # (_Table.sent_no_picture): a seek to a keyframe after it would skip it, so such streams are decoded in order
        self.seek = (bool(seek) and self.by_pts and (video.seekable or video.by_dts) and not table.restarts
                     and not table.pts_repeat and not table.sent_no_picture)
        # MPEG-TS: by dts, every keyframe's known; not across a timestamp discontinuity or wrap (table.restarts)
        self.by_dts = self.seek and video.by_dts
        if self.by_dts and any(d is None for d in table.pkt_dts):
            self.seek = self.by_dts = False
        self.skip_nonref = (bool(skip_nonref) and self.by_pts
                            and video.stream.codec_context.name in _SKIP_NONREF_CODECS)
        cc = video.stream.codec_context
        self.codec_name = cc.name
        try:
            self.intra_only = bool(cc.codec.intra_only)
        except Exception:  # pragma: no cover - defensive: a codec without a descriptor
            self.intra_only = False
        self.n_output = 0
        self.got = []
        self.ended = False
        self.first_geometry = None
        self.seeks = 0

    def _target(self, key):
        """The timestamp a seek to decode position ``key`` asks for: its pts, or its dts (MPEG-TS)."""
        table = self.video.table
        return int(table.pkt_dts[key] if self.by_dts else table.pkt_pts[key])

    def _configure(self):
        cc = self.video.stream.codec_context
        cc.thread_count = self.threads
        if self.threads != 1:
            cc.thread_type = "AUTO"
        self.skip = None

    def _begin(self):
        """Demux from the stream's first packet: (iterator, decode position to check or None)."""
        if self.video.rewind():
            landing = 0
        else:
            self.video.reopen()
            landing = None
        self._configure()
        return self.video.container.demux(self.video.stream), landing

    def __iter__(self):
        with _ffmpeg_log() as logs:
            if not self.wanted:
                self._check_decodes()
            elif self.by_pts:
                yield from self._by_pts(logs)
            else:
                yield from self._by_order(logs)
            self.errors.add_logs(logs)

    def _check_decodes(self):
        """No requested frame exists: decode up to one frame, so a file that decodes nothing still fails."""
        import av

        demux, _ = self._begin()
        try:
            for packet in demux:
                try:
                    self.n_output += len(packet.decode())
                except av.FFmpegError:
                    continue
                if self.n_output:
                    return
        except av.FFmpegError:
            self.n_output += len(self._drain())
            return
        self.ended = True

    def _drain(self):
        """The frames the decoder still holds (its reordering delay) when the demuxer fails mid-stream.

        At the end of a stream PyAV's demuxer sends the decoder an empty packet, which makes it
        output them; after a demuxer error nothing would.
        """
        import av

        try:
            return self.video.stream.codec_context.decode(None)
        except av.FFmpegError:
            return []

    def _concealed(self, logs, frames):
        """Whether the decoder reported damage (an error-level message of its own) while decoding the one
        frame of an intra-only stream (MJPEG, ProRes...).

        Such decoders conceal missing or broken data without flagging the frame corrupt (FFmpeg's
        MJPEG decoder fills a JPEG whose scan data stop short and logs ``overread``); in an intra-only
        stream the packet just sent is the frame it returns, so its messages belong to that frame.
        Streams with reference frames return another packet's frame, so their messages are not
        attributed (they stay in ``errors`` unattributed).
        """
        if not self.intra_only or len(frames) != 1:
            return False
        import av.logging

        return any(level <= av.logging.ERROR and name == self.codec_name for level, name, _ in logs)

    def _yield(self, frame, k, t, logs, key=None):
        rgb, geo, sar, rot = self.display.convert(frame, key)
        self.errors.add_logs(logs)
        if self.first_geometry is None:
            self.first_geometry = geo
        self.got.append(k)
        self.got_set.add(k)
        return k, t, rgb, rot, sar, bool(self.display.enabled and geo.steps and geo.mirrored)

    def _by_pts(self, logs):
        import av

        table, errors = self.video.table, self.errors
        tb = float(self.video.stream.time_base)
        t0 = int(table.pts[0])
        wanted, want = self.wanted, set(self.wanted)
        want_pts = {int(table.pts[k]) for k in wanted}
        i = 0
        used = {}  # pts -> frames with that pts already returned in this segment (duplicated pts)
        demux, landing = self._begin()
        cur = -1  # decode position of the last packet sent to the decoder
        last_out = None  # pts of the last frame output in this segment
        # timestamp segments (table.restarts): of the packets demuxed, of the frames output
        offsets = table.offsets
        seg_in = seg_out = 0
        last_dts = None
        seeking = self.seek
        refresh = True  # seek to the starts an intra-refresh stream's recovery points give (_Table.refresh_starts)
        from_refresh = False  # decoding from such a start
        passed = False  # ... and a frame asked for was passed without being output
        before_refresh = None  # the errors as they stood when that start was sought to
        while i < len(wanted):
            if passed:
                # The decoder did not output a frame asked for after such a start: the frames from there on are
                # decoded again as without those starts (from a clean keyframe, or from the first byte); what
                # that attempt reported is decoded, and reported, again
                errors.counts = before_refresh
                refresh = from_refresh = passed = False
                key = table.seek_target(wanted[i], refresh=False) if seeking else None
                restart = key is None
                if key is not None:
                    try:
                        self.video.container.seek(self._target(key), stream=self.video.stream, backward=True)
                    except av.FFmpegError:
                        restart = True
                    else:
                        self.seeks += 1
                        demux, landing = self.video.container.demux(self.video.stream), key
                if restart:
                    seeking = False
                    self.video.reopen()
                    self._configure()
                    demux, landing, cur = self.video.container.demux(self.video.stream), None, -1
                    seg_in, seg_out, last_dts = 0, 0, None
                used, last_out, self.skip = {}, None, None
                continue
            if seeking and landing is None:
                key = table.seek_target(wanted[i], refresh=refresh)
                if key is not None and key - cur > _SEEK_MIN_SKIP:
                    try:
                        self.video.container.seek(self._target(key), stream=self.video.stream, backward=True)
                    except av.FFmpegError:
                        seeking = False  # decode on sequentially from where we are
                    else:
                        self.seeks += 1
                        demux, landing, used = self.video.container.demux(self.video.stream), key, {}
                        last_out = None
                        self.skip = None
                        from_refresh = table.refresh_start(key)
                        if from_refresh:
                            before_refresh = dict(errors.counts)
                        continue
            try:
                packet = next(demux)
            except StopIteration:
                if from_refresh and i < len(wanted):
                    passed = True  # the stream ended before the decoder output a frame asked for
                    continue
                self.ended = True
                break
            except av.FFmpegError as exc:
                errors.add(f"reading stopped after packet {cur} ({_describe(exc)})")
                packet = None
            pos = None
            if packet is not None and packet.size:
                if table.restarts and packet.dts is not None:
                    if last_dts is not None and packet.dts < last_dts and seg_in + 1 < len(offsets):
                        seg_in += 1
                    last_dts = packet.dts
                pts = packet.pts + offsets[seg_in] if packet.pts is not None else None
                if table.pts_repeat:  # read from the first byte in file order: the next decode position
                    pos = cur + 1
                else:
                    pos = table.packet_of_pts.get(pts) if pts is not None else None
                if landing is not None:
                    if pos is None or pos > landing:
                        # The seek went past the packet asked for: decode from the first byte instead.
                        seeking = from_refresh = False
                        self.video.reopen()
                        self._configure()
                        demux, landing, used, cur = self.video.container.demux(self.video.stream), None, {}, -1
                        last_out, seg_in, seg_out, last_dts = None, 0, 0, None
                        continue
                    if pos < landing and self.by_dts:
                        continue  # MPEG-TS: landed before the keyframe (any packet is a keyframe to its seek)
                    if pos < landing:
                        # The seek landed on an earlier keyframe (FFmpeg's MP4 seek does in a B-frame stream
                        # whose edit list hides leading packets). Frames are still identified by pts, but
                        # asking again would land there again, for ever: decode on from here.
                        seeking = False
                    landing = None
                cur = pos if pos is not None else cur + 1
                if cur in table.unsent:
                    continue  # a picture of a capture's start that cannot be shown, or no picture (_Table.unsent)
                if self.skip_nonref:
                    mode = "DEFAULT" if pts is None or pts in want_pts else "NONREF"
                    if mode != self.skip:
                        self.video.stream.codec_context.skip_frame = self.skip = mode
            try:
                frames = packet.decode() if packet is not None else self._drain()
            except av.FFmpegError as exc:
                if packet is not None and packet.size and cur in table.sent_no_picture:
                    logs.clear()  # a sample without a picture, refused as expected (_Table.sent_no_picture)
                    continue
                if packet is not None and packet.size:
                    self.display.decoded(self.video.stream.codec_context, pts)
                k_packet = int(table.frame_of_packet[pos]) if pos is not None else -1
                what = f"frame {k_packet}" if k_packet >= 0 else f"packet {cur}"
                errors.add(f"{what}: packet failed to decode ({_describe(exc)})")
                errors.add_logs(logs)
                continue
            if packet is not None and packet.size:
                self.display.decoded(self.video.stream.codec_context, pts)
            if from_refresh and last_out is None:
                _drop_missing_references(logs)
            concealed = self._concealed(logs, frames)
            errors.add_logs(logs)
            for frame in frames:
                self.n_output += 1
                pts = frame.pts + offsets[seg_out] if frame.pts is not None else None
                # a frame of the next segment: its pts, shifted as this segment's, is unknown or goes back
                while seg_out < seg_in and (pts not in table.by_pts or (last_out is not None and pts < last_out)):
                    seg_out += 1
                    pts = frame.pts + offsets[seg_out]
                ks = table.by_pts.get(pts)
                if ks is None:
                    errors.add(f"decoder returned a frame with timestamp {frame.pts}, which no packet of the "
                               "stream carries; ignored")
                    continue
                late = last_out is not None and pts < last_out
                if late:
                    errors.add("the decoder returned frames out of timestamp order, so the stream's "
                               "timestamps may not identify its frames")
                last_out = pts
                n_used = used.get(pts, 0)
                used[pts] = n_used + 1
                k = ks[min(n_used, len(ks) - 1)]
                if frame.is_corrupt or concealed:
                    errors.add(f"frame {k} decoded with errors (damaged data concealed)")
                if from_refresh and k > wanted[i]:
                    passed = True  # wanted[i] was not output: decode it again without the refresh starts
                    break
                if (k >= wanted[i] or late and self.late and k not in self.got_set) and k in want:
                    yield self._yield(frame, k, float((pts - t0) * tb), logs, pts)
                while i < len(wanted) and wanted[i] <= k:
                    i += 1
                if i >= len(wanted):
                    break
            if packet is None and not passed:  # the demuxer failed: nothing more can be read
                break

    def _by_order(self, logs):
        """Streams without usable timestamps: frame k is the k-th picture the decoder outputs.

        Times are ``k / rate`` with the stream's nominal rate (such containers, AVI and raw
        streams, have a constant one).
        """
        import av

        errors = self.errors
        rate = _rate(self.video.stream)
        want = set(self.wanted)
        last = self.wanted[-1]
        demux, _ = self._begin()
        unsent, quiet = self.video.table.unsent, self.video.table.sent_no_picture
        k = 0
        d = -1  # decode position of the packet
        while k <= last:
            try:
                packet = next(demux)
            except StopIteration:
                self.ended = True
                break
            except av.FFmpegError as exc:
                errors.add(f"reading stopped after frame {k - 1} ({_describe(exc)})")
                packet = None
            if packet is not None and packet.size:
                d += 1
                if d in unsent:
                    continue  # a picture of a capture's start that cannot be shown, or no picture (_Table.unsent)
            try:
                frames = packet.decode() if packet is not None else self._drain()
            except av.FFmpegError as exc:
                if packet is not None and packet.size and d in quiet:
                    logs.clear()  # a sample without a picture, refused as expected (_Table.sent_no_picture)
                    continue
                errors.add(f"decoder error near frame {k} ({_describe(exc)})")
                errors.add_logs(logs)
                continue
            if packet is not None:
                self.display.decoded(self.video.stream.codec_context, None)
            concealed = self._concealed(logs, frames)
            errors.add_logs(logs)
            for frame in frames:
                self.n_output += 1
                if frame.is_corrupt or concealed:
                    errors.add(f"frame {k} decoded with errors (damaged data concealed)")
                if k in want:
                    yield self._yield(frame, k, k / rate if rate else float("nan"), logs)
                k += 1
                if k > last:
                    break
            if packet is None:  # the demuxer failed: nothing more can be read
                break


#: What FFmpeg's H.264 decoder says of the pictures before a start between IDRs that the pictures it decodes
#: reference (h264_refs.c, h264_slice.c): expected while it decodes the refresh from a start of
#: ``_Table.refresh_starts``, before it outputs a picture.
_MISSING_REFERENCE_MESSAGES = ("Missing reference picture", "mmco: unref short failure",
                               "reference picture missing during reorder", "Frame num gap")


def _drop_missing_references(logs):
    """Remove from ``logs`` FFmpeg's complaints about references from before the start
    (``_MISSING_REFERENCE_MESSAGES``); others stay, to be reported."""
    logs[:] = [entry for entry in logs if not entry[2].strip().startswith(_MISSING_REFERENCE_MESSAGES)]


def _missing(src, index, wanted, dec, n_frames, errors):
    """Sorted missing indices, recorded in ``errors``; ItemError when nothing decoded."""
    missing = np.array(sorted(set(int(i) for i in wanted) - set(dec.got)), dtype=np.int64)
    if dec.n_output == 0:
        raise ItemError(index, src, "no frame could be decoded" + _suffix(errors))
    if missing.size:
        inside, beyond = missing[missing < n_frames], missing[missing >= n_frames]
        why_inside = "the stream ended before them" if dec.ended and not dec.by_pts else "they did not decode"
        for part, why in ((inside, why_inside), (beyond, f"the stream holds {n_frames} frames")):
            if part.size:
                shown = part[:10].tolist() + (["..."] if part.size > 10 else [])
                errors.add(f"{part.size} requested frame(s) not decoded ({', '.join(map(str, shown))}): {why}")
    return missing


def _select(info, table, tb, n, every, times, indices):
    given = [name for name, v in (("every", every), ("times", times), ("indices", indices)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of every, times and indices; got {', '.join(given)}")
    if indices is not None:
        return _check_indices(indices)
    frame_times = _frame_times(table, tb) if times is not None else None
    if frame_times is not None:
        return sample_indices(info.n_frames, times=times, timestamps=frame_times, duration=info.duration_s)
    if times is not None and info.fps and info.fps > 0:
        # no timestamps (decode order): frame k is shown from k / fps, as its returned timestamp says, so a
        # time picks the frame shown then, as with timestamps (not the frame starting nearest to it)
        return sample_indices(info.n_frames, times=times, timestamps=np.arange(info.n_frames) / info.fps,
                              duration=info.n_frames / info.fps)
    return sample_indices(info.n_frames, n=n, every=every, times=times, fps=info.fps)


def _with_geometry(info, geo):
    if geo is None:
        return info
    w, h = geo.size(info.width, info.height, info.sample_aspect_ratio)
    return replace(info, rotation=geo.rotation, mirrored=geo.mirrored, display_width=w, display_height=h)


def video_info(path, *, index=0, stream=None, max_pixels=DEFAULT_MAX_VIDEO_PIXELS):
    """Read the metadata of a video file: a scan of its packet headers and its first frame.

    Parameters
    ----------
    path : str or path-like
        A video file in any container and codec FFmpeg reads. The name is only a file name:
        it is never read as a URL or protocol.
    index : int, default=0
        Position of the item in its input sequence, used in error messages.
    stream : int, optional
        Position of the video stream to read among the file's video streams; default: the
        first one flagged *default* (as players choose), else the first.
    max_pixels : int, default=DEFAULT_MAX_VIDEO_PIXELS
        Largest frame (width x height) read: a stream whose coded size is larger is refused
        before anything is decoded (its header costs a few bytes to declare any size).

    Returns
    -------
    VideoInfo
        Container, codec, coded and display size, rotation, sample aspect ratio, fps, frame
        count (with its source), duration, start time, bit rate, keyframe interval, the stream
        read, and the problems found.

    Raises
    ------
    ItemError
        For a missing, empty or unreadable file, a directory or device, a path with a NUL
        byte, a still image, a file without a video stream or with no frames, a playlist
        pointing to other files, a ``stream`` the file does not have, or frames larger than
        ``max_pixels``; the message names
        ``index`` and the path.

    Notes
    -----
    The scan reads every packet header of the stream (no decoding; about the cost of reading
    the file), so the frame count and duration are the ones the data holds; a header count or
    duration that disagrees is reported in ``errors``. The rotation needs the first frame
    decoded.

    Examples
    --------
    >>> import forensics.media._video as v
    >>> try:
    ...     v.video_info("no/such/video.mp4", index=3)
    ... except v.ItemError as exc:
    ...     print(exc)
    item 3 (no/such/video.mp4): file not found
    """
    import av

    with _Video(path, index, stream, max_pixels=max_pixels) as video:
        errors = _Errors()
        info = _probe(video, errors)
        if not video.rewind():
            video.reopen()
        display = _Display(video.stream, True, _Errors(), info.rotation)
        video.stream.codec_context.thread_count = 1
        geo = None
        with _ffmpeg_log():
            try:
                for frame in video.container.decode(video.stream):
                    geo = display.geometry(frame)
                    break
            except av.FFmpegError:
                pass  # decode problems are reported by read_frames
        return _with_geometry(info, geo)


def _read(path, index, stream, choose, *, threads, display, seek, skip_nonref=True, hwaccel=None,
          max_pixels=DEFAULT_MAX_VIDEO_PIXELS):
    """Open, scan, choose frames with ``choose(info, table, time_base)`` and decode them.

    Returns (requested, {index: (seconds, rgb, rotation, sar, mirror)}, missing, errors, info, decoder).
    """
    with _Video(path, index, stream, hwaccel=hwaccel, max_pixels=max_pixels) as video:
        errors = _Errors()
        info = _probe(video, errors)
        if video.table.n == 0:
            # no packet: the frame count is the header's (any number, e.g. 10**9) and no frame can decode;
            # selecting frames from it first would build arrays of that length (every=1, times=)
            raise ItemError(index, video.src, "no frame could be decoded" + _suffix(errors))
        requested = choose(info, video.table, video.stream.time_base)
        wanted = np.unique(requested)
        dec = _Decode(video, wanted, errors, threads=threads, display=display, seek=seek,
                      skip_nonref=skip_nonref, tag_rotation=info.rotation, late=True)
        got = {}
        try:
            for k, t, rgb, rot, sar, mirror in dec:
                got[k] = (t, rgb, rot, sar, mirror)
        except MemoryError:
            got.clear()
            raise ItemError(index, video.src, f"out of memory while decoding {wanted.size} frames of "
                                              f"{info.width}x{info.height} ({len(dec.got)} held, about "
                                              f"{wanted.size * info.width * info.height * 3 / 1e9:.1f} GB for all); "
                                              "ask for fewer frames, lower max_pixels or free memory") from None
        missing = _missing(video.src, index, wanted, dec, info.n_frames, errors)
        return requested, got, missing, errors, _with_geometry(info, dec.first_geometry), dec


def read_frames(path, *, n=DEFAULT_N_FRAMES, every=None, times=None, indices=None, index=0, threads=1,
                display=True, stream=None, seek=True, hwaccel=None, max_pixels=DEFAULT_MAX_VIDEO_PIXELS):
    """Decode selected frames of a video, with exact indices and a record of any damage.

    One selection mode applies: ``every``, ``times`` or ``indices`` when given (at most one of
    them), otherwise ``n`` evenly spaced frames (``n`` is then ignored, not an error).

    Parameters
    ----------
    path : str or path-like
        The video file (a file name, never read as a URL or protocol).
    n : int, default=32
        Number of evenly spaced frames when no other selector is given, over the frames the
        packet scan finds (not the header's count).
    every : int, optional
        Every ``every``-th frame (see :func:`sample_indices`).
    times : array-like of float, optional
        Times in seconds from the first frame: for each, the frame shown at that time (the
        last frame whose pts-derived time is <= t), for any time in ``[0, info.duration_s]``;
        variable frame rates are handled exactly. In a stream without timestamps
        (``info.timing == "decode order"``) frame ``k`` is shown from ``k / info.fps``. Times
        outside raise ValueError.
    indices : array-like of int, optional
        Explicit frame indices (>= 0), returned in the order given (repeats allowed).
        Indices past the end of the stream are reported in ``missing``.
    index : int, default=0
        Position of the item in its input sequence, used in error messages.
    threads : int, default=1
        Decoder threads; 0 lets FFmpeg choose. One by default because the library parallelises
        over items (joblib), and the two levels should not multiply. With several threads,
        FFmpeg messages emitted on decoder threads are not captured (corrupt-frame flags and
        missing frames still are).
    display : bool, default=True
        Return frames as a viewer sees them: the display matrix (or legacy ``rotate`` tag)
        applied, and non-square pixels resampled to square ones (the width scaled by the
        sample aspect ratio with ``cv2.INTER_AREA`` when it shrinks, ``cv2.INTER_LINEAR`` when
        it grows; the height kept). The ratio is the container's when it declares one of its
        own, else each frame's, from its codec headers (it may change mid-stream; with one
        decoder thread each frame gets its own, see ``sars``). False: the coded layout, for
        block-grid features.
    stream : int, optional
        Position of the video stream among the file's video streams; default: the stream
        flagged *default*, else the first (see :func:`video_info`).
    seek : bool, default=True
        Jump to a keyframe when the keyframe layout lets the decoder skip packets before the
        next requested frame (MP4/MOV and Matroska/WebM; MPEG-TS by the keyframe's decode timestamp,
        not in one whose timestamps restart). Frames are identified by pts either
        way, so the result is the same as with ``seek=False``; a seek that lands elsewhere
        than asked falls back to decoding from the start. An H.264 intra-refresh stream without
        B-frames is sought to the keyframe before the recovery point whose refresh is complete at
        the requested frame (see the user guide); should the decoder not output that frame, it is
        decoded again from the IDR.
    hwaccel : str, optional
        Opt-in hardware decoding: a device type of :func:`av.codec.hwaccel.hwdevices_available`
        (``"cuda"`` for NVDEC). Frames are downloaded to memory and converted as usual. When
        the device cannot be had (none on this machine, no driver, a codec it does not decode)
        the video is decoded in software and ``decoder_note`` says why (also a RuntimeWarning);
        it never fails the read. FFmpeg may still decode a stream in software that the device
        turns down mid-stream (its ``allow_software_fallback``).
    max_pixels : int, default=DEFAULT_MAX_VIDEO_PIXELS
        Largest frame (width x height) read, 67 megapixels by default: a stream whose coded size
        is larger is refused before decoding, and FFmpeg's decoder (its own ``max_pixels``)
        refuses a picture above it met mid-stream (that frame is then missing, with the
        decoder's message in ``errors``). With ``display``, a frame whose resampling to square
        pixels would make it larger is refused too (an ItemError naming the item).

    Returns
    -------
    VideoFrames
        ``frames``, ``indices``, ``timestamps``, ``requested``, ``missing``, ``errors``,
        ``info`` and what display transform was applied (``rotation_applied``,
        ``mirror_applied``, ``sar_applied``; per frame ``rotations``, ``mirrors``, ``sars``).

    Raises
    ------
    ItemError
        When the file cannot be opened as a video (see :func:`video_info`), its frames are larger
        than ``max_pixels``, not a single frame decodes, or memory runs out while decoding.
        Partial damage (a truncated or corrupt file, a stale header, zeros after the data) does
        not raise: the frames that decode are returned and ``errors`` and ``missing`` say what
        went wrong.
    ValueError
        For an invalid selection (several selectors, negative indices, times outside the video).

    Notes
    -----
    The stream's packet headers are scanned first (no decoding) to number the frames by pts;
    decoding then runs from the first packet (or a keyframe, see ``seek``) up to the last
    requested frame. Packets of frames not requested are decoded only when other frames
    reference them: non-reference frames are skipped (FFmpeg's ``skip_frame=NONREF`` set per
    packet), and only requested frames are converted to RGB.

    Memory: the returned frames take ``len(frames) * H * W * 3`` bytes, e.g. 200 MB for 32 frames
    of 1080p, 800 MB for 32 frames of 4K; at most ``n * max_pixels * 3`` (6.4 GB for 32 frames at
    the default limit), plus the decoder's reference pictures. Use :func:`iter_frames` to process one frame at a time.

    Examples
    --------
    >>> import forensics.media._video as v
    >>> try:
    ...     v.read_frames("missing.mkv", every=5, index=7)
    ... except v.ItemError as exc:
    ...     print(exc)
    item 7 (missing.mkv): file not found
    """
    def choose(info, table, tb):
        return _select(info, table, tb, n, every, times, indices)

    if hwaccel is not None and not isinstance(hwaccel, str):
        raise TypeError(f"hwaccel must be None or a device type name such as 'cuda', got {hwaccel!r}")
    requested, got, missing, errors, info, dec = _read(path, index, stream, choose, threads=threads,
                                                       display=display, seek=seek, hwaccel=hwaccel,
                                                       max_pixels=max_pixels)
    if dec.video.decoder_note:
        warnings.warn(f"{dec.video.src}: {dec.video.decoder_note}", RuntimeWarning, stacklevel=2)
    keep = [int(i) for i in requested if int(i) in got]
    first = got[keep[0]] if keep else None
    return VideoFrames(
        frames=[got[i][1] for i in keep],
        indices=np.array(keep, dtype=np.int64),
        timestamps=np.array([got[i][0] for i in keep], dtype=np.float64),
        requested=requested,
        missing=missing,
        errors=errors.as_list(),
        info=info,
        rotation_applied=int(first[2]) if first is not None else 0,
        mirror_applied=bool(first[4]) if first is not None else False,
        sar_applied=float(first[3]) if first is not None else 1.0,
        rotations=np.array([got[i][2] for i in keep], dtype=np.int64),
        mirrors=np.array([got[i][4] for i in keep], dtype=bool),
        sars=np.array([got[i][3] for i in keep], dtype=np.float64),
        decoder=dec.video.decoder,
        decoder_note=dec.video.decoder_note,
    )


def iter_frames(path, indices, *, index=0, threads=1, errors=None, display=True, stream=None, seek=True,
                max_pixels=DEFAULT_MAX_VIDEO_PIXELS):
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
    display, stream, seek, max_pixels
        As in :func:`read_frames`: display geometry by default (the transform is the one
        :func:`video_info` reports: ``rotation``, ``mirrored``, ``sample_aspect_ratio``).

    Yields
    ------
    frame_index : int
        The exact index of the frame.
    timestamp : float
        Its presentation time in seconds from the first frame.
    rgb : ndarray of uint8, shape (H, W, 3)
        The frame in RGB order, in display geometry unless ``display=False``.

    Raises
    ------
    ItemError
        As :func:`read_frames`: unreadable file, or no frame decodes.

    Notes
    -----
    Only one frame is held at a time (6 MB for 1080p), plus the decoder's reference frames and
    the packet table of the stream (a few numbers per frame).

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
    wanted = np.unique(_check_indices(indices))
    log = _Errors()
    with _Video(path, index, stream, max_pixels=max_pixels) as video:
        info = _probe(video, log)
        dec = _Decode(video, wanted, log, threads=threads, display=display, seek=seek, tag_rotation=info.rotation)
        for k, t, rgb, *_ in dec:
            yield k, t, rgb
        _missing(video.src, index, wanted, dec, info.n_frames, log)
        src = video.src
    messages = log.as_list()
    if errors is not None:
        errors.extend(messages)
    elif messages:
        warnings.warn(f"{src}: " + "; ".join(messages), RuntimeWarning, stacklevel=2)
