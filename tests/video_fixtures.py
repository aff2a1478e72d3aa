"""Helpers that write small deterministic test videos with PyAV (H.264 via libx264).

Import from tests as ``from video_fixtures import write_video, index_frames, face_video``.
Everything is generated from fixed seeds. The encoder is not bit-exact from run to run here:
about one write in 15-40 of the same frames gives other bytes (decoded frames then differ by
~0.2 grey levels on average, at most 6), with x264's threads, lookahead threads and the
conversion all on one thread, so tests compare decoded pixels within a tolerance.
"""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

LFW_REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw_faceswap" / "real"

_CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".ts": "mpegts", ".avi": "avi"}


def write_video(path, frames, fps=25, codec="libx264", *, gop=None, crf=18, preset="veryfast",
                options=None, rotation=None, fragmented=False, mirror=False, pts=None, time_base=None,
                sample_aspect_ratio=None, metadata=None):
    """Encode ``frames`` (RGB uint8 (H, W, 3) arrays, even H and W) into ``path``.

    The container follows the extension (.mp4 .mov .mkv .ts .avi).

    Parameters
    ----------
    gop : int, optional
        Fixed keyframe interval: sets x264's ``g`` and ``keyint_min`` and disables scene-cut
        keyframes, so keyframes fall exactly on 0, gop, 2*gop...
    crf, preset : x264 quality and speed (``veryfast`` uses B-frames, so decode order differs
        from presentation order, which the exact-index tests want).
    options : dict, optional
        Extra encoder options (strings), applied last.
    rotation : int, optional
        Counter-clockwise display rotation written as the stream's display matrix.
    fragmented : bool
        For MP4: write a fragmented file (moov first, one fragment per keyframe), which stays
        partly readable when truncated.
    mirror : bool
        With ``rotation``: add a horizontal flip to the display matrix
        (``set_display_rotation(rotation, hflip=True)``).
    pts : sequence of int, optional
        Presentation timestamp of each frame in ``time_base`` units (variable frame rate);
        default: one frame every ``1 / fps`` seconds.
    time_base : Fraction, optional
        Time base of ``pts``; default 1/1000 s when ``pts`` is given.
    sample_aspect_ratio : Fraction, optional
        Pixel aspect ratio written in the stream (width of a pixel over its height).
    metadata : dict, optional
        Stream metadata tags (e.g. the legacy ``{"rotate": "90"}``).

    Returns
    -------
    Path
    """
    import av

    path = Path(path)
    frames = list(frames)
    h, w = frames[0].shape[:2]
    fmt = _CONTAINERS.get(path.suffix.lower())
    copts = {"movflags": "frag_keyframe+empty_moov+default_base_moof"} if fragmented else {}
    out = av.open(os.fspath(path), "w", format=fmt, options=copts)
    try:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if pts is not None:
            tb = time_base or Fraction(1, 1000)
            stream.codec_context.time_base = tb
            stream.time_base = tb
        if sample_aspect_ratio is not None:
            stream.codec_context.sample_aspect_ratio = Fraction(sample_aspect_ratio)
        if metadata:
            stream.metadata.update(metadata)
        opts = {}
        if codec == "libx264":
            opts = {"crf": str(crf), "preset": preset, "threads": "1"}
            if gop is not None:
                opts.update(g=str(gop), keyint_min=str(gop), sc_threshold="0")
        elif gop is not None:
            opts["g"] = str(gop)
        opts.update(options or {})
        stream.options = opts
        stream.codec_context.thread_count = 1
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=mirror)
        for k, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr, dtype=np.uint8), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = int(pts[k]), stream.codec_context.time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    finally:
        out.close()
    return path


def index_frames(n_frames, size=(64, 96), step=7, seed=0):
    """Frames whose content encodes their index: frame k has mean grey level ``16 + step * k``.

    A light fixed texture (amplitude +-6) keeps the encoder from treating frames as identical;
    its mean is zero, so the mean of frame k stays ``16 + step * k`` up to codec error
    (about +-2 levels at crf 18). ``16 + step * (n_frames - 1)`` must stay below ~235.
    """
    h, w = size
    rng = np.random.default_rng(seed)
    tex = rng.integers(-6, 7, size=(h, w, 1)).astype(np.float64)
    tex -= tex.mean()
    out = []
    for k in range(n_frames):
        level = 16 + step * k
        out.append(np.clip(np.round(level + tex), 0, 255).astype(np.uint8).repeat(3, axis=2))
    return out


def frame_level(rgb):
    """Inverse of :func:`index_frames`: the mean grey level of a decoded frame."""
    return float(np.asarray(rgb, dtype=np.float64).mean())


def _background(h, w, n_frames, seed):
    """A textured background wide enough for a slow pan of one pixel per frame."""
    rng = np.random.default_rng(seed)
    W = w + n_frames + 8
    yy, xx = np.mgrid[0:h, 0:W]
    base = 110 + 40 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    noise = rng.normal(0, 10, size=(h, W))
    rgb = np.stack([base + noise, base * 0.9 + noise, base * 0.8 + 20 + noise], -1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def synthetic_face(size):
    """A face-like RGB pattern of shape (size, size, 3): skin ellipse, dark eyes, brows, mouth."""
    s = int(size)
    yy, xx = np.mgrid[0:s, 0:s] / s
    img = np.full((s, s, 3), (70, 60, 50), np.float64)  # dark hair / background frame
    skin = ((xx - 0.5) / 0.36) ** 2 + ((yy - 0.55) / 0.45) ** 2 <= 1
    img[skin] = (215, 170, 140)
    for cx in (0.36, 0.64):
        eye = ((xx - cx) / 0.08) ** 2 + ((yy - 0.45) / 0.04) ** 2 <= 1
        img[eye] = (30, 25, 25)
        brow = (np.abs(xx - cx) < 0.1) & (np.abs(yy - 0.36) < 0.015)
        img[brow] = (60, 40, 30)
    nose = (np.abs(xx - 0.5) < 0.03) & (yy > 0.48) & (yy < 0.64)
    img[nose] = (180, 130, 105)
    mouth = ((xx - 0.5) / 0.14) ** 2 + ((yy - 0.76) / 0.03) ** 2 <= 1
    img[mouth] = (120, 40, 40)
    return img.astype(np.uint8)


def face_video(path, n_frames=20, size=(160, 160), faces_from=None, *, fps=25, face_size=None,
               seed=0, **encode_kw):
    """Write a video of one face moving slowly over a textured, panning background.

    Parameters
    ----------
    path : str or Path
        Output file (container from the extension).
    n_frames : int
        Number of frames.
    size : (H, W) or int
        Frame size (even numbers).
    faces_from : str, Path, "synthetic" or None
        Folder of face photos (the first one in sorted order, offset by ``seed``, is used). None
        uses the LFW photos at ``../shared/data/lfw_faceswap/real`` when that folder exists and
        a synthetic face otherwise; ``"synthetic"`` forces the synthetic face.
    face_size : int, optional
        Side of the pasted square photo; default 60% of the smaller frame side.
    **encode_kw
        Passed to :func:`write_video` (``gop``, ``crf``, ``rotation``...).

    Returns
    -------
    boxes : ndarray of int, shape (n_frames, 4)
        Per frame, ``(x, y, w, h)`` of the pasted photo. For an LFW photo (250x250 crops centred
        on the face) the face itself covers roughly its central half; for the synthetic face
        the skin ellipse fills most of it.
    source : str
        ``"lfw:<file name>"`` or ``"synthetic"``.

    Notes
    -----
    The photo moves one pixel right every other frame and the background pans one pixel per
    frame, so consecutive frames differ while the face stays whole inside the frame.
    """
    from PIL import Image

    h, w = (size, size) if np.isscalar(size) else size
    fs = int(face_size or 0.6 * min(h, w)) // 2 * 2
    folder = LFW_REAL if faces_from is None else faces_from
    if folder != "synthetic" and Path(folder).is_dir():
        files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        photo_path = files[seed % len(files)]
        face = np.asarray(Image.open(photo_path).convert("RGB").resize((fs, fs), Image.BICUBIC))
        source = f"lfw:{photo_path.name}"
    else:
        face = synthetic_face(fs)
        source = "synthetic"
    bg = _background(h, w, n_frames, seed)
    x0 = max(0, (w - fs) // 2 - n_frames // 4)
    y0 = (h - fs) // 2
    frames, boxes = [], []
    for k in range(n_frames):
        frame = bg[:, k:k + w].copy()
        x = min(x0 + k // 2, w - fs)
        frame[y0:y0 + fs, x:x + fs] = face
        frames.append(frame)
        boxes.append((x, y0, fs, fs))
    write_video(path, frames, fps=fps, **encode_kw)
    return np.array(boxes, dtype=np.int64), source


def scramble_packets(src, dst, seed=0):
    """Copy the video stream of ``src`` into ``dst`` with every packet's bytes replaced by noise.

    Timestamps and container structure stay valid, so the file opens and its packets demux, but
    no frame decodes: the "nothing decodable" case.
    """
    import av

    rng = np.random.default_rng(seed)
    with av.open(os.fspath(src)) as inp, av.open(os.fspath(dst), "w") as out:
        s = inp.streams.video[0]
        o = out.add_stream_from_template(s)
        for pk in inp.demux(s):
            if pk.size == 0:
                continue
            q = av.Packet(rng.integers(0, 256, pk.size, dtype=np.uint8).tobytes())
            q.pts, q.dts, q.time_base = pk.pts, pk.dts, pk.time_base
            q.stream = o
            out.mux(q)
    return Path(dst)


def remux(src, dst, *, shift=0.0, pts=None, damage=(), keep=0, seed=0):
    """Copy the video stream of ``src`` into ``dst`` (container from the extension), altered.

    Parameters
    ----------
    shift : float
        Seconds added to every timestamp. Negative: the first frames get negative times, which
        the MP4 muxer turns into an edit list that hides them (what a stream-copy cut writes);
        positive: the video starts late (an empty edit in MP4, a first timestamp > 0 in MKV).
    pts : callable, optional
        ``pts(position, pts) -> new pts`` for each packet (position in decode order), e.g. to
        duplicate a timestamp or leave a gap; dts follow for intra-only streams.
    damage : collection of int
        Decode positions of packets whose payload is replaced by random bytes (same size):
        undecodable packets inside an intact container.
    keep : int
        Leading bytes of each damaged packet left intact (its headers: a frame that decodes with
        concealed errors rather than not at all).
    """
    import av

    rng = np.random.default_rng(seed)
    fmt = _CONTAINERS.get(Path(dst).suffix.lower())
    with av.open(os.fspath(src)) as inp, av.open(os.fspath(dst), "w", format=fmt) as out:
        s = inp.streams.video[0]
        o = out.add_stream_from_template(s)
        delta = int(round(shift / s.time_base))
        position = 0
        for pk in inp.demux(s):
            if pk.size == 0:
                continue
            new_pts = pk.pts + delta if pk.pts is not None else None
            new_dts = pk.dts + delta if pk.dts is not None else None
            if pts is not None:
                changed = pts(position, new_pts)
                if new_dts is not None and new_dts == new_pts:
                    new_dts = changed
                new_pts = changed
            if position in damage:
                head = bytes(pk)[:keep]
                q = av.Packet(head + rng.integers(0, 256, pk.size - len(head), dtype=np.uint8).tobytes())
                q.is_keyframe = pk.is_keyframe
            else:
                q = av.Packet(bytes(pk))
                q.is_keyframe = pk.is_keyframe
            q.pts, q.dts, q.time_base = new_pts, new_dts, pk.time_base
            q.stream = o
            out.mux(q)
            position += 1
    return Path(dst)


def patch_avi_frame_count(path, n_frames):
    """Overwrite the frame count of an AVI's headers (avih total frames, strh length) in place.

    What an outside tool that rewrites a file without fixing its header leaves behind.
    """
    data = bytearray(Path(path).read_bytes())
    i = data.find(b"avih")
    data[i + 24:i + 28] = struct.pack("<I", n_frames)  # dwTotalFrames
    j = data.find(b"strh")
    data[j + 40:j + 44] = struct.pack("<I", n_frames)  # dwLength of the first stream
    Path(path).write_bytes(bytes(data))
    return Path(path)


def write_streams(path, videos, *, default=None, fps=25):
    """Write several video streams (lists of RGB frames, one list per stream) into one file.

    ``default``: index of the stream flagged *default* (the others are not); None flags none.
    """
    import av

    fmt = _CONTAINERS.get(Path(path).suffix.lower())
    with av.open(os.fspath(path), "w", format=fmt) as out:
        streams = []
        for k, frames in enumerate(videos):
            s = out.add_stream("libx264", rate=fps)
            s.height, s.width = frames[0].shape[:2]
            s.pix_fmt = "yuv420p"
            s.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
            s.codec_context.thread_count = 1
            s.disposition = av.stream.Disposition.default if k == default else av.stream.Disposition(0)
            streams.append(s)
        for t in range(max(len(v) for v in videos)):
            for s, frames in zip(streams, videos):
                if t < len(frames):
                    f = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[t]), format="rgb24")
                    for p in s.encode(f):
                        out.mux(p)
        for s in streams:
            for p in s.encode():
                out.mux(p)
    return Path(path)


def _orientation_sei(ccw_degrees, hflip=False):
    """An H.264 SEI NAL unit (type 6) holding one display orientation message (payload type 47):
    rotate ``ccw_degrees`` counter-clockwise, mirror horizontally if ``hflip`` (H.264 D.1.27)."""
    def ue(v):
        return "0" * ((v + 1).bit_length() - 1) + format(v + 1, "b")

    # cancel flag, hor_flip, ver_flip, anticlockwise_rotation (1/65536 turns), repetition period, extension flag
    bits = "0" + str(int(hflip)) + "0" + format(round(ccw_degrees * 65536 / 360) % 65536, "016b") + ue(0) + "0"
    bits += "0" * (-len(bits) % 8)
    payload = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    rbsp, out, zeros = bytes([47, len(payload)]) + payload + b"\x80", bytearray(), 0
    for b in rbsp:  # emulation prevention: no 00 00 0x inside a NAL unit
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return b"\x06" + bytes(out)


def orient_frames(src, dst, orientations):
    """Copy the H.264 stream of ``src`` (Matroska or MP4: length-prefixed NAL units) into ``dst``,
    putting a display orientation SEI in front of packet k for each ``k: (ccw_degrees, hflip)`` of
    ``orientations``: a stream whose frames carry their own display matrices (FFmpeg's decoder
    exports them as frame side data), as a camera that turns mid-recording writes."""
    import av

    fmt = _CONTAINERS.get(Path(dst).suffix.lower())
    with av.open(os.fspath(src)) as inp, av.open(os.fspath(dst), "w", format=fmt) as out:
        s = inp.streams.video[0]
        o = out.add_stream_from_template(s)
        for k, pk in enumerate(p for p in inp.demux(s) if p.size):
            data = bytes(pk)
            if k in orientations:
                nal = _orientation_sei(*orientations[k])
                data = len(nal).to_bytes(4, "big") + nal + data
            q = av.Packet(data)
            q.pts, q.dts, q.time_base, q.is_keyframe = pk.pts, pk.dts, pk.time_base, pk.is_keyframe
            q.stream = o
            out.mux(q)
    return Path(dst)


def talking(n=100, fps=25, seed=0, offset_frames=0, sr=22050):
    """(frames, sound) of a face whose mouth opens in bursts and of noise bursts ``offset_frames``
    later (0: in sync, sample for frame): 64x64 RGB uint8 frames, mono float sound at ``sr``."""
    rng = np.random.default_rng(seed)
    openness, t = np.zeros(n), 2
    while t < n:
        length, gap = rng.integers(3, 8), rng.integers(3, 8)
        openness[t:t + length] = 1
        t += length + gap
    frames = []
    for k in range(n):
        f = np.full((64, 64, 3), 170, np.uint8)
        f[16:52, 16:48] = 200  # face
        h = 2 + int(6 * openness[k])
        f[44 - h // 2:44 + h // 2 + 1, 24:41] = 40  # the mouth, between the corners (24, 44) and (40, 44)
        frames.append(f)
    spf = sr // fps
    sound = 0.002 * rng.normal(size=n * spf)
    for k in range(n):
        j = k + offset_frames
        if openness[k] and 0 <= j < n:
            sound[j * spf:(j + 1) * spf] += 0.3 * rng.normal(size=spf)
    return frames, sound


# -- H.264 sequence parameter sets (round 7: a header that declares any frame size) ----------------
def _unescape(nal):
    """RBSP of a NAL unit: emulation-prevention bytes (00 00 03) removed."""
    out, zeros = bytearray(), 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _escape(rbsp):
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _sps_with_size(nal, width_mbs, height_mbs):
    """The SPS NAL unit ``nal`` (libx264's: no scaling matrices, pic_order_cnt_type 0 or 2) declaring
    ``16 * width_mbs`` x ``16 * height_mbs`` pixels (H.264 7.3.2.1.1); every other field kept."""
    bits = "".join(f"{b:08b}" for b in _unescape(nal)[1:])
    pos = 0

    def u(n):
        nonlocal pos
        pos += n
        return int(bits[pos - n:pos], 2)

    def ue():
        nonlocal pos
        zeros = bits.index("1", pos) - pos
        pos += 2 * zeros + 1
        return int(bits[pos - zeros - 1:pos], 2) - 1

    def ue_bits(v):
        b = f"{v + 1:b}"
        return "0" * (len(b) - 1) + b

    profile = u(8)
    u(16)
    ue()  # constraint flags, level, seq_parameter_set_id
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        if ue() == 3:
            u(1)
        ue(), ue(), u(1)
        assert u(1) == 0, "SPS with scaling matrices"
    ue()
    poc = ue()
    assert poc in (0, 2), "pic_order_cnt_type 1"
    if poc == 0:
        ue()
    ue(), u(1)  # max_num_ref_frames, gaps_in_frame_num_allowed
    start = pos
    ue(), ue()
    rest = bits[pos:].rstrip("0")  # up to the rbsp stop bit
    new = bits[:start] + ue_bits(width_mbs - 1) + ue_bits(height_mbs - 1) + rest
    new += "0" * (-len(new) % 8)
    return nal[:1] + _escape(bytes(int(new[i:i + 8], 2) for i in range(0, len(new), 8)))


def h264_declaring(path, sizes, n_frames=8, gop=4):
    """A 64x48 Annex-B H.264 stream (flat frames, headers repeated at each of its keyframes, one every
    ``gop`` frames) whose ``k``-th sequence parameter set declares ``sizes[k]`` macroblocks
    (width, height), or keeps its own where ``sizes[k]`` is None. The slices still code 64x48: a
    larger declared picture is mostly concealed by the decoder."""
    import av

    raw = Path(path).with_suffix(".raw.h264")
    c = av.open(str(raw), "w", format="h264")
    s = c.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    s.options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1", "bf": "0"}
    for k in range(n_frames):
        img = np.full((48, 64, 3), 40 + 20 * k, np.uint8)
        for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    parts = raw.read_bytes().split(b"\x00\x00\x01")
    raw.unlink()
    out, k = [parts[0]], 0
    for p in parts[1:]:
        if p and p[0] & 0x1F == 7:  # a sequence parameter set
            size = sizes[k] if k < len(sizes) else None
            k += 1
            if size is not None:
                body = p.rstrip(b"\x00")
                p = _sps_with_size(body, *size) + p[len(body):]
        out.append(p)
    Path(path).write_bytes(b"\x00\x00\x01".join(out))
    return path


def to_mpegts(src, dst, first_pts=0, fps=25):
    """Copy an Annex-B H.264 stream's packets into MPEG-TS (timestamps ``first_pts``, +1... at 1/fps)."""
    import av

    i = av.open(str(src), options={"max_pixels": "3072"})  # the probe does not decode a huge declared picture
    s = i.streams.video[0]
    o = av.open(str(dst), "w", format="mpegts")
    t = o.add_stream_from_template(s)
    k = first_pts
    for p in i.demux(s):
        if p.size == 0:
            continue
        p.stream, p.time_base, p.pts, p.dts = t, Fraction(1, fps), k, k
        k += 1
        o.mux(p)
    o.close()
    i.close()
    return dst


def with_metadata(path, title, rotate, n_frames=4):
    """A grey 64x48 H.264 clip of ``n_frames`` frames (container by ``path``'s suffix) whose container
    title is ``title`` and whose video stream's ``rotate`` tag is ``rotate`` (both may be megabytes)."""
    import av

    c = av.open(str(path), "w")
    c.metadata["title"] = title
    s = c.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    s.metadata["rotate"] = rotate
    for _ in range(n_frames):
        for p in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return path


# -- streams ending with a packet that holds no picture -------------------------------------------
#: the picture-less units a capture may end with: H.264 types 6-9 (SEI, SPS, PPS, AUD), HEVC 32-35, 39
NON_VCL = {"h264": lambda b: not 1 <= b & 0x1F <= 5, "hevc": lambda b: (b >> 1) & 0x3F >= 32}


def annexb_units(data):
    """Annex-B NAL units of ``data`` (without their start codes)."""
    out, at = [], data.find(b"\x00\x00\x01")
    while at >= 0:
        nxt = data.find(b"\x00\x00\x01", at + 3)
        end = len(data) if nxt < 0 else nxt - (data[nxt - 1] == 0)
        out.append(data[at + 3:end])
        at = nxt
    return out


def _picture_headers(first, codec):
    """The bytes of a stream's first packet ``first`` (Annex-B) that precede its picture: the non-VCL NAL
    units (H.264/HEVC) or, for MPEG-2, everything before the picture start code."""
    if codec == "mpeg2video":
        return first[:first.find(b"\x00\x00\x01\x00")]
    return b"".join(b"\x00\x00\x00\x01" + u for u in annexb_units(first) if NON_VCL[codec](u[0]))


def with_tail(folder, kind, codec, cut_slice=0, n_frames=12):
    """A clip of ``n_frames`` frames (index_frames, B-frames, keyframes every 6) in ``folder``, whose stream
    ends with one more packet holding the headers of the first packet only (``kind`` "ts" or "raw": an
    elementary stream; ``cut_slice``: and that many bytes of its first slice, a picture cut short) or one
    SEI ("mp4", "mkv"), and the same clip without it: ``{"plain": path, "tail": path}``.

    What a capture or recording stopped between an access unit's first bytes and its slices leaves.
    """
    import av

    folder = Path(folder)
    enc = {"h264": "libx264", "hevc": "libx265", "mpeg2video": "mpeg2video"}[codec]
    opts = {"x265-params": "log-level=none"} if codec == "hevc" else None
    ext = {"ts": ".ts", "mp4": ".mp4", "mkv": ".mkv"}.get(kind, ".ts")
    src = write_video(folder / f"src{ext}", index_frames(n_frames), codec=enc, gop=6, options=opts)
    with av.open(str(src)) as c:
        packets = [(bytes(p), p.pts, p.dts, p.duration, p.is_keyframe, p.time_base)
                   for p in c.demux(video=0) if p.size]
    first = packets[0][0]
    if kind in ("mp4", "mkv"):  # one SEI (user data unregistered: a 16-byte UUID and one byte), length-prefixed
        sei = {"h264": b"\x06", "hevc": b"\x4e\x01"}[codec] + b"\x05\x11" + bytes(range(1, 17)) + b"\x41\x80"
        tail = len(sei).to_bytes(4, "big") + sei
    else:
        tail = _picture_headers(first, codec)
    if cut_slice:
        picture = first[len(_picture_headers(first, codec)):] if codec == "mpeg2video" else None
        if picture is None:
            unit = next(u for u in annexb_units(first) if not NON_VCL[codec](u[0]))
            picture = b"\x00\x00\x00\x01" + unit
        tail += picture[:cut_slice]
    out = {}
    for name, extra in (("plain", b""), ("tail", tail)):
        path = folder / f"{name}.{kind}"
        if kind == "raw":  # an elementary stream: the parser splits the file's bytes into packets
            fmt = {"h264": "h264", "hevc": "hevc", "mpeg2video": "mpeg2video"}[codec]
            with av.open(str(src)) as i, av.open(str(path), "w", format=fmt) as o:
                s = i.streams.video[0]
                t = o.add_stream_from_template(s)
                for p in i.demux(s):
                    if p.size:
                        p.stream = t
                        o.mux(p)
            path.write_bytes(path.read_bytes() + extra)
        else:
            with av.open(str(src)) as i, av.open(str(path), "w") as o:
                t = o.add_stream_from_template(i.streams.video[0])
                rows = packets + ([(extra, max(p[1] for p in packets) + packets[-1][3],
                                    packets[-1][2] + packets[-1][3], packets[-1][3], False, packets[-1][5])]
                                  if extra else [])
                for data, pts, dts, dur, key, tb in rows:
                    q = av.Packet(data)
                    q.pts, q.dts, q.duration, q.is_keyframe, q.time_base, q.stream = pts, dts, dur, key, tb, t
                    o.mux(q)
        out[name] = path
    return out


def intra_refresh(path, n_frames, step=4, b_frames=True, size=(64, 96)):
    """``index_frames(n_frames, step=step, size=size)`` encoded by x264 with ``--intra-refresh`` (no IDR after the
    first picture: a column of intra blocks sweeps each keyframe interval of 10, and muxers and parsers flag the
    recovery points as keyframes); the container by ``path``'s suffix. With ``b_frames`` (the default) x264's
    ``veryfast`` B-frames (frames reordered: the ``bframes`` option once given here is no libx264 option and
    was ignored); without, ``bf=0``: decode order is presentation order, every picture a reference."""
    options = {"intra-refresh": "1"} if b_frames else {"intra-refresh": "1", "bf": "0"}
    return write_video(path, index_frames(n_frames, step=step, size=size), gop=10, options=options)


def encode_video(path, fmt, codec, frames, *, fps=25, pix="yuv420p", options=None, b_frames=None, sar=None,
                 rotation=None, container_options=None):
    """``frames`` encoded by FFmpeg's ``codec`` into ``path`` (container ``fmt``, muxer options
    ``container_options``, e.g. ``{"movflags": "faststart"}``); None when this FFmpeg lacks it."""
    import av

    try:
        av.codec.Codec(codec, "w")
    except Exception:  # noqa: BLE001 - no such encoder here
        return None
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix
        if b_frames is not None:
            s.codec_context.max_b_frames = b_frames
        if sar:
            s.codec_context.sample_aspect_ratio = Fraction(*sar)
        s.options = options or {}
        if rotation is not None:
            s.set_display_rotation(rotation)
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def mp4_boxes(data):
    """``(offset, size, type)`` of an MP4's top-level boxes (a size past the end of ``data`` kept as declared; the walk
    stops at a size below 8, a box to the end of the file or a 64-bit size)."""
    out, at = [], 0
    while at + 8 <= len(data):
        n = int.from_bytes(data[at:at + 4], "big")
        out.append((at, n, data[at + 4:at + 8].decode("latin-1")))
        if n < 8:
            break
        at += n
    return out


def packet_rows(path):
    """``(payload, pts, dts, duration, is_keyframe, time_base)`` of every non-empty packet of ``path``'s first video
    stream, in decode order (what :func:`mux_rows` writes back)."""
    import av

    with av.open(str(path)) as c:
        return [(bytes(p), p.pts, p.dts, p.duration, p.is_keyframe, p.time_base) for p in c.demux(video=0) if p.size]


def mux_rows(template, dst, rows):
    """``rows`` (as :func:`packet_rows` gives them) muxed to ``dst`` in a stream copied from ``template``'s first video
    stream (its codec parameters); the container follows ``dst``'s extension. Returns ``dst``."""
    import av

    with av.open(str(template)) as i, av.open(str(dst), "w") as o:
        t = o.add_stream_from_template(i.streams.video[0])
        for payload, pts, dts, dur, key, tb in rows:
            q = av.Packet(payload)
            q.pts, q.dts, q.duration, q.is_keyframe, q.time_base, q.stream = pts, dts, dur, key, tb, t
            o.mux(q)
    return Path(dst)


def with_sample_inside(src, dst, k, data=None):
    """``src`` (MP4 or Matroska, H.264 or HEVC) remuxed to ``dst`` with one more sample at decode position ``k``:
    ``data`` (length-prefixed NAL units; default one SEI, user data unregistered, as ``with_tail`` writes). Its pts
    is the smallest of the samples from ``k`` on; every sample shown from then on is shown one frame later, and
    every one from ``k`` on decoded one frame later (decode times keep increasing): what a recorder that stores a
    metadata sample between two pictures writes. Returns ``dst``."""
    import av

    with av.open(str(src)) as c:
        codec = c.streams.video[0].codec_context.name
    packets = packet_rows(src)
    if data is None:
        sei = {"h264": b"\x06", "hevc": b"\x4e\x01"}[codec] + b"\x05\x11" + bytes(range(1, 17)) + b"\x41\x80"
        data = len(sei).to_bytes(4, "big") + sei
    step = packets[0][3]
    at = min(p[1] for p in packets[k:])
    rows = []
    for i, (payload, pts, dts, dur, key, tb) in enumerate(packets):
        if i == k:
            rows.append((data, at, dts, step, False, tb))
        rows.append((payload, pts + step if pts >= at else pts, dts + step if i >= k else dts, dur, key, tb))
    return mux_rows(src, dst, rows)


def _ebml_id(data, at):
    """``(element id, position after it)`` of the EBML element id at ``at`` (its length marked by the first byte)."""
    n = 1
    while not data[at] & (0x80 >> (n - 1)):
        n += 1
    return int.from_bytes(data[at:at + n], "big"), at + n


def _ebml_children(data):
    """``[(id, payload)]`` of the EBML elements that fill ``data`` (a size of all ones: the rest of ``data``)."""
    out, at = [], 0
    while at < len(data):
        eid, at = _ebml_id(data, at)
        n = 1
        while not data[at] & (0x80 >> (n - 1)):
            n += 1
        size = int.from_bytes(data[at:at + n], "big") & ((1 << (7 * n)) - 1)
        at += n
        size = len(data) - at if size == (1 << (7 * n)) - 1 else size
        out.append((eid, data[at:at + size]))
        at += size
    return out


def _ebml(eid, payload):
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + (1 << 56 | len(payload)).to_bytes(8, "big") + payload


def mkv_laced(src, dst, group=2, default_duration=True):
    """``src`` (a Matroska file of one video track, SimpleBlocks, no B-frames) rewritten with up to ``group``
    consecutive frames in one Xiph-laced SimpleBlock (a keyframe always starts a block; the block's timecode is its
    first frame's), its SeekHead and Cues dropped and the Segment's size left unknown; without ``default_duration``
    the track's DefaultDuration is dropped too, so the frames after a block's first have no timestamp (Matroska
    times a lace by that duration). Returns ``dst``."""
    data = Path(src).read_bytes()
    top = _ebml_children(data)
    header = next(p for i, p in top if i == 0x1A45DFA3)
    segment = next(p for i, p in top if i == 0x18538067)
    out = b""
    for eid, payload in _ebml_children(segment):
        if eid in (0x114D9B74, 0x1C53BB6B, 0xEC):  # SeekHead, Cues, Void
            continue
        if eid == 0x1654AE6B and not default_duration:  # Tracks: each TrackEntry without DefaultDuration
            payload = b"".join(_ebml(t, b"".join(_ebml(i, q) for i, q in _ebml_children(p) if i != 0x23E383)
                                        if t == 0xAE else p) for t, p in _ebml_children(payload))
        if eid == 0x1F43B675:  # Cluster: its SimpleBlocks laced
            kids = _ebml_children(payload)
            blocks = [p for i, p in kids if i == 0xA3]
            new = b"".join(_ebml(i, p) for i, p in kids if i != 0xA3)
            k = 0
            while k < len(blocks):
                run = [blocks[k]]
                while len(run) < group and k + len(run) < len(blocks) and not blocks[k + len(run)][3] & 0x80:
                    run.append(blocks[k + len(run)])
                k += len(run)
                if len(run) == 1:
                    new += _ebml(0xA3, run[0])
                    continue
                frames = [b[4:] for b in run]
                lace = bytes([len(frames) - 1]) + b"".join(b"\xff" * (len(f) // 255) + bytes([len(f) % 255])
                                                          for f in frames[:-1])
                new += _ebml(0xA3, run[0][:3] + bytes([run[0][3] | 0x02]) + lace + b"".join(frames))
            payload = new
        out += _ebml(eid, payload)
    Path(dst).write_bytes(_ebml(0x1A45DFA3, header) + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + out)
    return Path(dst)
