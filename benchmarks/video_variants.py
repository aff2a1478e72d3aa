"""Video variants of rounds 8 to 11 against FFmpeg's own decoding: what the reader gives vs the truth.

Usage::

    python benchmarks/video_variants.py
    python benchmarks/video_variants.py --scan-cost     # what the round-9 checks cost a scan
    python benchmarks/video_variants.py --intra-seek    # keyframe seeks in intra-refresh clips
    python benchmarks/video_variants.py --intra-cost    # sampling an intra-refresh clip: refresh starts on and off
    python benchmarks/video_variants.py --intra-starts  # FFmpeg decoding from each recovery point vs from the start
    python benchmarks/video_variants.py --codecs        # round 10: other codecs and containers only
    python benchmarks/video_variants.py --round11       # round 11: its defects and variants only
    python benchmarks/video_variants.py --round11b      # round 11b: interrupted recordings (fMP4, MP4/MOV, MKV, TS)
    python benchmarks/video_variants.py --codec-cost    # what the N-VOP and VP8 show_frame tests cost a scan
    python benchmarks/video_variants.py --box-cost      # round 11b: what walking an MP4's top-level boxes costs
    python benchmarks/video_variants.py --ts-intra-cost # round 11b: n=8 of intra-refresh MPEG-TS vs MP4; TS seeks
    python benchmarks/video_variants.py --cut-cost      # round 11b: video_info of an AVI cut inside a picture
    python benchmarks/video_variants.py --normal-cost [--against OTHER/forensics/media/_video.py]
                                                        # round 11: video_info, read_frames(n=8) of normal MP4/MKV

Each variant is built in a temporary folder (tests/video_fixtures.py and the builders of
tests/test_media_variants.py) and read with ``video_info`` and ``read_frames(every=1)``. The truth is the file
decoded by PyAV (FFmpeg) from its first byte: the frames it outputs, in order (a packet its decoder refuses
skipped). Columns: frames FFmpeg shows; ``video_info``'s ``n_frames`` (or the exception it raised); frames the
reader returned; whether their coded pixels (``display=False``) equal FFmpeg's, frame by frame (mean level within
1e-9); whether their timestamps equal the pts of FFmpeg's pictures, from the first (within 1 µs; "no pts" for raw
streams; since round 11; where FFmpeg's decoder outputs a picture after a later one, its pictures are put in pts
order first); the first displayed frame's size (``display=True``); whether ``read_frames(n=4)`` reads the frame
FFmpeg shows last (its pixels); ``errors`` of the display read (how many; the first, cut to 90 characters). Run it
with ``PYTHONPATH`` at another checkout to compare versions.
"""

from __future__ import annotations

import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def truth(path, arrays=False):
    """What FFmpeg shows decoding ``path`` from its first byte: each picture's mean level (``arrays``: its RGB
    pixels), in output order."""
    import av

    from video_fixtures import frame_level

    levels = []
    with av.open(str(path)) as c:
        for packet in c.demux(video=0):
            try:
                levels += [(lambda a: a if arrays else frame_level(a))(f.to_ndarray(format="rgb24"))
                           for f in packet.decode()]
            except av.FFmpegError:  # a packet the decoder refuses is skipped, as FFmpeg's players skip it
                pass
    return levels


def truth_times(path):
    """The presentation times (s, from the first) of the pictures FFmpeg outputs decoding ``path`` as ``truth`` does;
    None when one has no pts (a raw stream)."""
    import av

    times = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for packet in c.demux(s):
            try:
                times += [None if f.pts is None else float(f.pts * s.time_base) for f in packet.decode()]
            except av.FFmpegError:
                pass
    if not times or None in times:
        return None
    return np.array(times) - times[0]


def build(tmp):
    import av
    from test_media_variants import _mp4_shifted, _mp4_with_pasp, _raw_h264_cut, _ts_cut, _webm_vp9, _with_edit_list
    from video_fixtures import index_frames

    cases = {}
    for pasp in ((65535, 1), (1000, 1), (1, 1000), (64, 1), (3, 2)):
        cases[f"MP4 pasp {pasp[0]}:{pasp[1]} on 96x64 (VUI 4:3)"] = _mp4_with_pasp(tmp / f"p{pasp[0]}_{pasp[1]}.mp4", *pasp)
    coded = np.full((48, 48, 3), 120, np.uint8)
    for size in ((4800, 48), (2304, 48)):
        cases[f"WebM display size {size[0]}x{size[1]} on 48x48"] = _webm_vp9(tmp / f"d{size[0]}.webm", [coded] * 2,
                                                                             display_size=size)
    plain = _mp4_shifted(tmp / "plain.mp4", index_frames(12, step=15), 0, bframes=False)
    for name, edits in (("a stretch shown again", [(300, 0), (500, 3072), (300, 4096)]),
                        ("a loop", [(500, 0), (500, 0)]), ("a cut", [(300, 0), (300, 6144)]),
                        ("the end trimmed", [(500, 0)])):
        cases[f"MP4 edit list: {name}"] = _with_edit_list(plain, tmp / f"e{len(cases)}.mp4", edits)
    for codec, at in (("libx264", 3), ("libx265", 3), ("mpeg2video", 3), ("mpeg2video", 1), ("libx264", 10)):
        cut, _ = _ts_cut(tmp, codec, at)
        cases[f"MPEG-TS {codec} cut at packet {at}"] = cut
    cases["raw H.264 cut at packet 3"] = _raw_h264_cut(tmp)
    # round 9: streams ending with a packet that holds no picture (a capture stopped before the slices)
    from video_fixtures import with_tail

    for kind, codec, what in (("raw", "h264", "raw H.264"), ("raw", "hevc", "raw HEVC"),
                              ("raw", "mpeg2video", "raw MPEG-2"), ("ts", "h264", "MPEG-TS H.264"),
                              ("ts", "mpeg2video", "MPEG-TS MPEG-2"), ("mp4", "h264", "MP4 H.264"),
                              ("mp4", "hevc", "MP4 HEVC"), ("mkv", "h264", "Matroska H.264")):
        folder = tmp / f"tail_{kind}_{codec}"
        folder.mkdir()
        cases[f"{what} ending with a packet without a picture"] = with_tail(folder, kind, codec)["tail"]
    # round 9: intra-refresh streams, whose recovery points are flagged as keyframes
    from video_fixtures import intra_refresh

    for ext in (".mp4", ".mkv"):
        cases[f"{ext[1:].upper()} intra-refresh, 50 frames"] = intra_refresh(tmp / f"ir{ext}", 50)
    whole = intra_refresh(tmp / "ir.ts", 30, step=8)
    with av.open(str(whole)) as c:
        where = [p.pos for p in c.demux(video=0) if p.size]
    for at in (3, 12):
        cut = tmp / f"ir_cut{at}.ts"
        cut.write_bytes(whole.read_bytes()[:376] + whole.read_bytes()[where[at] // 188 * 188:])
        cases[f"MPEG-TS intra-refresh capture cut at packet {at}"] = cut
    return cases


def build_codecs(tmp):
    """Round 10: the codecs and containers users' files come in, beyond H.264/HEVC/MPEG-2 in MP4/MKV/TS."""
    from test_video_codecs import _mpeg4_avi, _vp8, packed, with_copies, with_n_vops
    from video_fixtures import encode_video, index_frames

    frames = index_frames(24, step=8)
    gop = {"g": "12", "sc_threshold": "1000000000"}
    cases = {
        "AVI MPEG-4 Part 2, 2 B-frames": encode_video(tmp / "m4b.avi", "avi", "mpeg4", frames, b_frames=2, options=gop),
        "AVI MPEG-4 Part 2 tagged XVID, 2 B-frames": encode_video(tmp / "xvid.avi", "avi", "mpeg4", frames, b_frames=2,
                                                             options={**gop, "vtag": "XVID"}),
        "AVI MS-MPEG-4 v3 (DIV3)": encode_video(tmp / "div3.avi", "avi", "msmpeg4v3", frames),
        "AVI MJPEG, SAR 3:2": encode_video(tmp / "mj.avi", "avi", "mjpeg", frames, pix="yuvj420p", sar=(3, 2)),
        "VOB MPEG-2, SAR 16:11, B-frames": encode_video(tmp / "v.vob", "vob", "mpeg2video", frames, b_frames=2, sar=(16, 11)),
        "MPEG-PS MPEG-1": encode_video(tmp / "m1.mpg", "mpeg", "mpeg1video", frames, b_frames=2),
        "FLV H.264 (x264 B-frames)": encode_video(tmp / "f.flv", "flv", "libx264", frames, options={"preset": "veryfast"}),
        "FLV Sorenson H.263": encode_video(tmp / "f1.flv", "flv", "flv", frames),
        "ASF WMV2": encode_video(tmp / "w.wmv", "asf", "wmv2", frames),
        "WebM VP9, rotation 90": encode_video(tmp / "r.webm", "webm", "libvpx-vp9", frames, rotation=90),
        "WebM VP9 with alpha": encode_video(tmp / "al.webm", "webm", "libvpx-vp9", frames, pix="yuva420p"),
        "MP4 AV1 (SVT-AV1), rotation 90": encode_video(tmp / "a.mp4", "mp4", "libsvtav1", frames, rotation=90,
                                                  options={"preset": "12"}),
        "Matroska AV1 (SVT-AV1)": encode_video(tmp / "a.mkv", "matroska", "libsvtav1", frames, options={"preset": "12"}),
        "IVF AV1 (SVT-AV1)": encode_video(tmp / "a.ivf", "ivf", "libsvtav1", frames, options={"preset": "12"}),
        "MOV ProRes 422 HQ 10-bit, rotation 90": encode_video(tmp / "p.mov", "mov", "prores_ks", frames,
                                                         pix="yuv422p10le", rotation=90),
        "3GP MPEG-4 Part 2, rotation 90": encode_video(tmp / "m.3gp", "3gp", "mpeg4", frames, rotation=90, b_frames=1),
    }
    plain = _mpeg4_avi(tmp / "p.avi", index_frames(24, step=8))
    cases["AVI MPEG-4 Part 2, 2 N-VOP placeholders"] = with_n_vops(plain, tmp / "nv.avi", after=(3, 7))
    b1 = _mpeg4_avi(tmp / "b1.avi", frames, b_frames=1)
    cases["AVI DivX packed bitstream ('DivX503b1393p')"] = packed(b1, tmp / "pk.avi")
    cases["AVI packed bitstream without the 'p' user data"] = packed(b1, tmp / "pk_no.avi", user=None)
    for fmt, ext in (("webm", "webm"), ("ivf", "ivf")):
        vp8 = _vp8(tmp / f"s.{ext}", fmt, index_frames(12, step=12))
        cases[f"{ext.upper()} VP8, 2 frames never shown (show_frame 0)"] = with_copies(vp8, tmp / f"h.{ext}", fmt,
                                                                                     (3, 7), 0)
    return {k: v for k, v in cases.items() if v is not None}


def _ts_wrapping(path, frames, codec, options):
    """An MPEG-TS of ``frames`` at 25 fps whose 33-bit 90 kHz timestamps wrap after frame 6."""
    from fractions import Fraction

    import av

    mpeg = codec.startswith("mpeg")  # FFmpeg's MPEG-1/2 encoders take only their standard frame rates' time bases
    tb = Fraction(1, 25) if mpeg else Fraction(1, 90000)
    start = (2**33 - 7 * 3600) // 3600 if mpeg else 2**33 - 7 * 3600
    with av.open(str(path), "w", format="mpegts") as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = options
        s.codec_context.time_base = tb
        for k, arr in enumerate(frames):
            f = av.VideoFrame.from_ndarray(arr, format="rgb24")
            f.pts, f.time_base = start + k * (1 if mpeg else 3600), tb
            for pk in s.encode(f):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    return path


def build_round11(tmp):
    """Round 11: the defects of round 10 (captures without a random access point in their first packets, raw dumps
    cut inside an open GOP, samples without a picture inside a stream, N-VOPs with stuffing) and variants of the
    same kinds in codecs and containers used less before (MPEG-1, MPEG-PS, PTS wrap, FLV, AVI H.264, fMP4 cut inside
    a fragment, HEVC with negative CTS offsets and an empty edit)."""
    import struct
    from fractions import Fraction

    import av
    from test_media_variants import _with_edit_list
    from test_video_capture_ends import _cut
    from test_video_codecs import VOP, _mpeg4_avi, _n_vop, _packets, _remux
    from video_fixtures import encode_video, index_frames, write_video, with_sample_inside

    x265 = {"x265-params": "log-level=none"}
    frames = index_frames(30, step=8)
    cases = {}
    ir = write_video(tmp / "ir.ts", index_frames(400, step=4), codec="libx265",
                     options={"x265-params": "intra-refresh=1:keyint=10:log-level=none"})
    cases["MPEG-TS HEVC intra-refresh, 400 frames, cut at packet 3"] = _cut(ir, 3, "ts", tmp / "ir3.ts")
    gop = write_video(tmp / "gop.ts", index_frames(30, step=4), codec="libx265",
                      options={"x265-params": "keyint=10:min-keyint=10:scenecut=0:log-level=none"})
    cases["raw HEVC (x265 open GOPs) cut at packet 3"] = _cut(gop, 3, "raw", tmp / "gop3.hevc")
    m2 = write_video(tmp / "m2.ts", frames, codec="mpeg2video", options={"g": "3", "bf": "2"})
    cases["raw MPEG-2 (open GOPs of 3) cut at packet 3"] = _cut(m2, 3, "raw", tmp / "m2_3.m2v")
    m1 = write_video(tmp / "m1.ts", frames, codec="mpeg1video", options={"g": "6", "bf": "2"})
    cases["MPEG-TS MPEG-1 (open GOPs of 6) cut at packet 3"] = _cut(m1, 3, "ts", tmp / "m1_3.ts")
    cases["raw MPEG-1 (open GOPs of 6) cut at packet 3"] = _cut(m1, 3, "raw", tmp / "m1_3.m1v")
    for fmt, codec, ext in (("mpeg", "mpeg1video", "mpg"), ("vob", "mpeg2video", "vob")):
        ps = encode_video(tmp / f"ps.{ext}", fmt, codec, frames, b_frames=2, options={"g": "6"})
        data = ps.read_bytes()
        packs = [i for i in range(len(data) - 3) if data[i:i + 4] == b"\x00\x00\x01\xba"]
        cut = tmp / f"ps_cut.{ext}"
        cut.write_bytes(data[min(packs, key=lambda i: abs(i - 0.3 * len(data))):])
        cases[f"MPEG-PS ({fmt}) {codec} cut at the pack nearest 30%"] = cut
    for ext in (".mp4", ".mkv"):
        for enc in ("libx264", "libx265"):
            src = write_video(tmp / f"s_{enc}{ext}", index_frames(12), codec=enc, gop=6,
                              options=x265 if enc == "libx265" else None)
            cases[f"{ext[1:].upper()} {enc}, an SEI-only sample at decode position 5"] = with_sample_inside(
                src, tmp / f"sei_{enc}{ext}", 5)
    flv = encode_video(tmp / "s.flv", "flv", "libx264", index_frames(12), options={"g": "6", "bf": "0"})
    cases["FLV H.264, an SEI-only sample at decode position 5"] = with_sample_inside(flv, tmp / "sei.flv", 5)
    avi = encode_video(tmp / "s.avi", "avi", "libx264", index_frames(12), options={"g": "6", "bf": "0"})
    with av.open(str(avi)) as c:
        chunks = [bytes(p) for p in c.demux(video=0) if p.size]
    sei = b"\x00\x00\x00\x01\x06\x05\x11" + bytes(range(1, 17)) + b"\x41\x80"
    with av.open(str(avi)) as c, av.open(str(tmp / "sei.avi"), "w", format="avi") as o:
        t = o.add_stream_from_template(c.streams.video[0])
        for k, data in enumerate(chunks[:5] + [sei] + chunks[5:]):
            q = av.Packet(data)
            q.stream, q.time_base, q.pts, q.dts, q.is_keyframe = t, c.streams.video[0].time_base, k, k, k in (0, 7)
            o.mux(q)
    cases["AVI H.264 (Annex-B), an SEI-only chunk at decode position 5"] = tmp / "sei.avi"
    m4 = _mpeg4_avi(tmp / "m4.avi", index_frames(6, step=12))
    pk = _packets(m4)
    nvop = _n_vop(pk[2][pk[2].find(VOP):], 5)
    for pad in (bytes(59), bytes(4000)):
        cases[f"AVI MPEG-4 Part 2, an N-VOP with {len(pad)} bytes of stuffing"] = _remux(
            m4, tmp / f"nv{len(pad)}.avi", [pk[0], pk[1], nvop + pad, *pk[2:]])
    for codec, options in (("libx265", {"x265-params": "keyint=5:min-keyint=5:scenecut=0:log-level=none"}),
                           ("mpeg2video", {"g": "5", "bf": "2"})):
        wrap = _ts_wrapping(tmp / f"w_{codec}.ts", frames, codec, options)
        cases[f"MPEG-TS {codec}, PTS wrap after frame 6"] = wrap
        for at in (3, 8):
            cases[f"MPEG-TS {codec}, PTS wrap, cut at packet {at}"] = _cut(wrap, at, "ts", tmp / f"w{at}_{codec}.ts")
    for flags in (None, "negative_cts_offsets"):
        src = tmp / f"h_{flags}.mp4"
        with av.open(str(src), "w", format="mp4", options={"movflags": flags} if flags else {}) as c:
            s = c.add_stream("libx265", rate=10)
            s.height, s.width, s.pix_fmt = 64, 96, "yuv420p"
            s.options = {"g": "5", **x265}
            for k, f in enumerate(index_frames(12, step=12)):
                vf = av.VideoFrame.from_ndarray(f, format="rgb24")
                vf.pts, vf.time_base = k, Fraction(1, 10)
                for q in s.encode(vf):
                    c.mux(q)
            for q in s.encode():
                c.mux(q)
        data = src.read_bytes()
        at = data.find(b"elst")
        d0, t0 = struct.unpack(">Ii", data[at + 12:at + 20])
        cases[f"MP4 HEVC B-frames{', negative CTS offsets' if flags else ''}, an empty edit of 0.3 s first"] = (
            _with_edit_list(src, tmp / f"late_{flags}.mp4", [(300, -1), (d0, t0)]))
    vfr = np.cumsum([0] + [40, 40, 200, 20, 20, 100, 40, 40, 40] * 4)[:30].tolist()
    for enc in ("libx264", "libx265"):
        cases[f"MPEG-TS {enc}, variable frame rate (20-200 ms)"] = write_video(
            tmp / f"vfr_{enc}.ts", frames, codec=enc, pts=vfr, options=x265 if enc == "libx265" else None)
    flv = encode_video(tmp / "d.flv", "flv", "libx264", frames, options={"g": "10"})
    data = bytearray(flv.read_bytes())
    at = data.find(b"duration")
    struct.pack_into(">d", data, at + 9, 100.0)  # onMetaData's duration (an AMF number after its name)
    (tmp / "stale.flv").write_bytes(bytes(data))
    cases["FLV H.264, onMetaData duration 100 s (1.2 s of frames)"] = tmp / "stale.flv"
    rng = np.random.default_rng(3)
    for codec, options in (("libx265", {"x265-params": "keyint=10:min-keyint=10:scenecut=0:log-level=none"}),
                           ("mpeg2video", {"g": "10", "bf": "2"}), ("mpeg1video", {"g": "6", "bf": "2"})):
        src = write_video(tmp / f"t_{codec}.ts", frames, codec=codec, options=options)
        data = src.read_bytes()
        n188 = len(data) // 188
        cut = tmp / f"trunc_{codec}.ts"
        cut.write_bytes(data[:n188 * 6 // 10 * 188 + 77])
        cases[f"MPEG-TS {codec}, cut at 60% inside a TS packet"] = cut
        damaged = bytearray(data)
        for k in rng.choice(np.arange(4, n188), size=3, replace=False):
            damaged[k * 188 + 4:k * 188 + 188] = rng.integers(0, 256, 184, dtype=np.uint8).tobytes()
        (tmp / f"noise_{codec}.ts").write_bytes(bytes(damaged))
        cases[f"MPEG-TS {codec}, 3 TS packets' payloads replaced by noise"] = tmp / f"noise_{codec}.ts"
    from video_fixtures import mkv_laced

    plain = write_video(tmp / "unlaced.mkv", index_frames(12, step=12), gop=6, options={"bf": "0"})
    for group in (2, 3):
        for timed in (True, False):
            cases[f"MKV H.264, Xiph-laced {group} frames a block, {'with' if timed else 'without'} DefaultDuration"] = (
                mkv_laced(plain, tmp / f"laced{group}{timed}.mkv", group, timed))
    frag = write_video(tmp / "frag.mp4", frames, gop=10, fragmented=True)
    data = frag.read_bytes()
    moofs = [i - 4 for i in range(len(data) - 3) if data[i:i + 4] == b"moof"]
    cut = tmp / "frag_cut.mp4"
    cut.write_bytes(data[:(moofs[1] + moofs[2]) // 2])
    cases["fMP4 H.264 cut inside its second fragment's samples"] = cut
    return cases


def build_round11b(tmp):
    """Round 11b: recordings interrupted by a crash, a full disk or a pulled cable, as recorders write them: a
    fragmented MP4 (OBS, MediaRecorder, phones' crash-safe modes) cut inside a fragment's samples, inside its
    ``moof``, between ``moof`` and ``mdat``, with a stale ``sidx`` / ``mfra`` index; an MP4 or MOV whose ``moov`` (at
    the end) was never written; Matroska/WebM cut inside a cluster, with and without Cues and Duration, and with a
    Duration written before the end; MPEG-TS captures that start inside a GOP and end inside a PES packet."""
    import av
    from test_video_capture_ends import _cut
    from video_fixtures import encode_video, index_frames, mp4_boxes, write_video

    x265 = {"x265-params": "keyint=10:min-keyint=10:scenecut=0:log-level=none"}
    frames = index_frames(30, step=8)
    cases = {}
    for enc in ("libx264", "libx265"):
        frag = write_video(tmp / f"frag_{enc}.mp4", frames, codec=enc, gop=10, fragmented=True,
                           options=x265 if enc == "libx265" else None)
        data = frag.read_bytes()
        boxes = mp4_boxes(data)
        moof = [b for b in boxes if b[2] == "moof"]
        mdat = [b for b in boxes if b[2] == "mdat"]
        with av.open(str(frag)) as c:
            pos = [(q.pos, q.size) for q in c.demux(video=0) if q.size]
        inside = [p for p in pos if mdat[1][0] < p[0] < mdat[1][0] + mdat[1][1]]
        cuts = {"inside its second fragment's samples": (moof[1][0] + moof[2][0]) // 2,
                "1 byte before its second fragment's end": mdat[1][0] + mdat[1][1] - 1,
                "at a sample boundary inside its second fragment": inside[len(inside) // 2][0],
                "inside its second moof": moof[1][0] + moof[1][1] // 2,
                "between its second moof and mdat": mdat[1][0]}
        for what, at in cuts.items():
            name = f"fMP4 {enc} cut {what}"
            (tmp / f"frag{len(cases)}.mp4").write_bytes(data[:at])
            cases[name] = tmp / f"frag{len(cases)}.mp4"
    # other codecs cut inside a sample: VP9 and MPEG-4 Part 2 in fMP4 (their decoders show a cut picture), MJPEG in a
    # MOV whose index comes first, cut inside its last sample's tables (refused) and 1% before its end (concealed)
    for codec, opts, pix in (("libvpx-vp9", {"g": "10", "deadline": "realtime", "cpu-used": "8"}, "yuv420p"),
                             ("mpeg4", {"g": "10", "bf": "2"}, "yuv420p"), ("mjpeg", {}, "yuvj420p")):
        src = tmp / f"o_{codec}.{'mov' if codec == 'mjpeg' else 'mp4'}"
        flags = "faststart" if codec == "mjpeg" else "frag_keyframe+empty_moov+default_base_moof"
        encode_video(src, src.suffix[1:], codec, frames, pix=pix, options=opts, container_options={"movflags": flags})
        data = src.read_bytes()
        with av.open(str(src)) as c:
            pos = [(q.pos, q.size) for q in c.demux(video=0) if q.size]
        for k, frac in ((-1, 0.3), (-1, 0.99)) if codec == "mjpeg" else ((14, 0.5),):
            out = tmp / f"o_{codec}_{frac}{src.suffix}"
            out.write_bytes(data[:pos[k][0] + int(pos[k][1] * frac)])
            where = "its last sample" if k == -1 else f"sample {k}"
            cases[f"{'MOV' if codec == 'mjpeg' else 'fMP4'} {codec} cut at {frac:.0%} of {where}"] = out
    # AVI recordings (their index, at the end, never written) cut inside their 20th picture, no B-frames
    for codec in ("libx264", "mpeg4", "mjpeg"):
        src = encode_video(tmp / f"rec_{codec}.avi", "avi", codec, frames, pix="yuvj420p" if codec == "mjpeg" else
                           "yuv420p", options=None if codec == "mjpeg" else {"g": "10", "bf": "0"})
        data = src.read_bytes()
        with av.open(str(src)) as c:
            at, size = [(q.pos, q.size) for q in c.demux(video=0) if q.size][19]
        for frac in (0.3, 0.9):
            out = tmp / f"rec_{codec}_{frac}.avi"
            out.write_bytes(data[:at + int(size * frac)])
            cases[f"AVI {codec} (no index) cut at {frac:.0%} of its 20th picture"] = out
    # an index written for more than the file holds: a global sidx (DASH-style, written at the end before the
    # first fragment) of a file cut inside its second fragment; the mfra of a whole recording after its first two
    # fragments (the third lost)
    for flags, what in (("frag_keyframe+empty_moov+default_base_moof+global_sidx", "sidx"), (None, "mfra")):
        src = encode_video(tmp / f"idx_{what}.mp4", "mp4", "libx264", frames,
                           options={"g": "10", "keyint_min": "10", "sc_threshold": "0", "threads": "1"},
                           container_options={"movflags": flags or "frag_keyframe+empty_moov+default_base_moof"})
        data = src.read_bytes()
        boxes = mp4_boxes(data)
        moof = [b for b in boxes if b[2] == "moof"]
        out = tmp / f"stale_{what}.mp4"
        if what == "sidx":
            out.write_bytes(data[:(moof[1][0] + moof[2][0]) // 2])
        else:
            mfra = [b for b in boxes if b[2] == "mfra"]
            out.write_bytes(data[:moof[2][0]] + (data[mfra[0][0]:] if mfra else b""))
        how = "cut inside its second fragment" if what == "sidx" else "third fragment lost"
        cases[f"fMP4 H.264, a stale {what} ({how})"] = out
    for ext in ("mp4", "mov"):
        plain = write_video(tmp / f"plain.{ext}", frames, gop=10)
        data = plain.read_bytes()
        moov = [b for b in mp4_boxes(data) if b[2] == "moov"]
        (tmp / f"nomoov.{ext}").write_bytes(data[:moov[0][0]])
        cases[f"{ext.upper()} H.264 whose moov (at the end) was never written"] = tmp / f"nomoov.{ext}"
    for enc, ext, live in (("libx264", "mkv", False), ("libx264", "mkv", True), ("libvpx-vp9", "webm", True),
                           ("libvpx", "webm", True)):
        src = tmp / f"rec_{enc}_{live}.{ext}"
        with av.open(str(src), "w", format="matroska" if ext == "mkv" else "webm",
                     options={"cluster_time_limit": "400", **({"live": "1"} if live else {})}) as o:
            st = o.add_stream(enc, rate=25)
            st.width, st.height, st.pix_fmt = 96, 64, "yuv420p"
            st.options = {"g": "10", **({"keyint_min": "10", "sc_threshold": "0", "threads": "1"}
                                        if enc == "libx264" else {"deadline": "realtime", "cpu-used": "8"})}
            for f in frames:
                for q in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    o.mux(q)
            for q in st.encode():
                o.mux(q)
        data = src.read_bytes()
        clusters = [i for i in range(len(data) - 3) if data[i:i + 4] == b"\x1f\x43\xb6\x75"]
        cut = tmp / f"cut_{enc}_{live}.{ext}"
        at = (clusters[1] + (clusters[2] if len(clusters) > 2 else len(data))) // 2
        cut.write_bytes(data[:at])
        kind = "live: no Cues, no Duration" if live else "Duration of the whole, Cues lost"
        cases[f"{ext.upper()} {enc} cut inside its second cluster ({kind})"] = cut
        if not live:
            at = data.find(b"\x44\x89")  # Segment Info's Duration (a float of the whole recording)
            size = data[at + 2] & 0x7F
            stale = bytearray(data)
            stale[at + 3:at + 3 + size] = (struct.pack(">d", 200.0) if size == 8 else struct.pack(">f", 200.0))
            (tmp / "stale_dur.mkv").write_bytes(bytes(stale))
            cases["MKV libx264, a Duration written before the end (0.2 s of 1.2 s)"] = tmp / "stale_dur.mkv"
    for enc, options in (("libx264", {"g": "10", "bf": "2"}), ("libx265", x265),
                         ("mpeg2video", {"g": "10", "bf": "2"})):
        src = write_video(tmp / f"ts_{enc}.ts", frames, codec=enc, options=options)
        started = _cut(src, 3, "ts", tmp / f"ts3_{enc}.ts")
        data = started.read_bytes()
        (tmp / f"ts3e_{enc}.ts").write_bytes(data[:len(data) // 188 * 188 * 7 // 10 // 188 * 188 + 77])
        cases[f"MPEG-TS {enc} starting at packet 3 (inside a GOP), ending inside a PES (70%)"] = tmp / f"ts3e_{enc}.ts"
    return cases


def main(codecs=False, round11=False, round11b=False):
    import av
    from video_fixtures import frame_level

    from forensics.media import read_frames, video_info

    with tempfile.TemporaryDirectory() as d:
        if round11b:
            cases = build_round11b(Path(d))
        elif round11:
            cases = build_round11(Path(d))
        elif codecs:
            cases = build_codecs(Path(d))
        else:
            cases = {**build(Path(d)), **build_codecs(Path(d)), **build_round11(Path(d)), **build_round11b(Path(d))}
        print("| variant | FFmpeg frames | n_frames | returned | pixels = FFmpeg's | times = FFmpeg's | display size "
              "| n=4 reads the last | errors |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, path in cases.items():
            try:
                want, when = truth(path), truth_times(path)
                if when is not None and np.any(np.diff(when) < 0) and np.unique(when).size == when.size:
                    # FFmpeg's decoder output a picture after a later one (damage): the reader returns frames in
                    # index (pts) order, so FFmpeg's pictures are compared in pts order too
                    order = np.argsort(when, kind="stable")
                    want, when = [want[k] for k in order], when[order]
            except av.FFmpegError as exc:
                try:
                    video_info(path)
                    said = "opened it"
                except Exception as err:  # noqa: BLE001 - the table records what the reader did
                    said = f"{type(err).__name__}: {str(err).split('): ', 1)[-1][:110]}..."
                print(f"| {name} | FFmpeg cannot open it ({str(exc)[:60]}) | reader: {said} |", flush=True)
                continue
            try:
                counted = video_info(path).n_frames
            except Exception as exc:  # noqa: BLE001 - the table records what the reader did
                counted = type(exc).__name__
            try:
                r = read_frames(path, every=1)
                got = [frame_level(f) for f in read_frames(path, every=1, display=False).frames]
                same = len(got) == len(want) and np.allclose(got, want, atol=1e-9)
                shape = "x".join(map(str, r.frames[0].shape[1::-1])) if len(r) else ""
                times = ("no pts" if when is None else
                         len(when) == len(r) and np.allclose(r.timestamps, when, atol=1e-6))
                err = (r.errors[0][:90] + ("..." if len(r.errors[0]) > 90 else "")) if r.errors else ""
                four = read_frames(path, n=4, display=False)
                last = bool(len(four)) and abs(frame_level(four.frames[-1]) - want[-1]) < 1e-9
                row = (counted, len(r), same, times, shape, last, f"{len(r.errors)}: {err}" if err else "0")
            except Exception as exc:  # noqa: BLE001 - the table records what the reader did
                row = (counted, "", "", "", "", "", f"{type(exc).__name__}: {str(exc)[:90]}")
            print(f"| {name} | {len(want)} | " + " | ".join(str(v).replace("|", "/") for v in row) + " |", flush=True)


def scan_cost(n_frames=3000, repeats=9):
    """CPU ms of ``video_info`` (open + packet scan + first frame) with the round-9 checks (the stream's last
    packets for a picture, keyframes for a random access point) and without them (switched off in the same
    process), interleaved medians: an H.264 clip of small packets in MPEG-TS, MP4 and raw H.264, and an
    intra-only 1280x720 MP4 (every packet a keyframe of about 1 MB)."""
    from contextlib import ExitStack
    from unittest import mock

    import av
    from _timing import interleaved_ms
    from video_fixtures import index_frames, write_video

    import forensics.media._video as v

    with tempfile.TemporaryDirectory() as d:
        frames = index_frames(30, size=(240, 320))
        src = write_video(Path(d) / "clip.ts", [frames[k % 30] for k in range(n_frames)], gop=25)
        small = f"{n_frames} frames 320x240"
        paths = {f"MPEG-TS, {small}": src, f"MP4, {small}": Path(d) / "clip.mp4",
                 f"raw H.264, {small}": Path(d) / "clip.h264"}
        for name, fmt in ((f"MP4, {small}", "mp4"), (f"raw H.264, {small}", "h264")):
            with av.open(str(src)) as i, av.open(str(paths[name]), "w", format=fmt) as o:
                t = o.add_stream_from_template(i.streams.video[0])
                for p in i.demux(video=0):
                    if p.size:
                        p.stream = t
                        o.mux(p)
        noise = [np.random.default_rng(k).integers(0, 256, (720, 1280, 3), dtype=np.uint8) for k in range(4)]
        paths["MP4 intra-only, 120 frames 1280x720"] = write_video(
            Path(d) / "intra.mp4", [noise[k % 4] for k in range(120)], gop=1, crf=10, preset="ultrafast")
        print("| clip | with the checks (ms) | without (ms) | ratio |")
        print("|---|---|---|---|")
        for name, path in paths.items():
            def off(path=path):
                with ExitStack() as stack:
                    for f in ("_picture_test", "_random_access_test"):
                        stack.enter_context(mock.patch.object(v, f, lambda stream: None))
                    v.video_info(path)

            ms = interleaved_ms({"on": lambda path=path: v.video_info(path), "off": off}, repeats)
            print(f"| {name} | {ms['on']:.1f} | {ms['off']:.1f} | {ms['on'] / ms['off']:.3f} |", flush=True)


def intra_seek():
    """``read_frames(n=6)`` (keyframe seeks on, the default) of 50-frame intra-refresh clips (recovery points
    flagged as keyframes every 10 frames) against FFmpeg decoding them from the first byte."""
    from video_fixtures import frame_level, intra_refresh

    from forensics.media import read_frames

    with tempfile.TemporaryDirectory() as d:
        print("| clip | frames asked | returned | pixels = FFmpeg's | missing | errors |")
        print("|---|---|---|---|---|---|")
        for ext in (".mp4", ".mkv"):
            path = intra_refresh(Path(d) / f"ir{ext}", 50)
            want = truth(path)
            r = read_frames(path, n=6)
            same = all(abs(frame_level(f) - want[k]) < 1e-9 for f, k in zip(r.frames, r.indices))
            err = (r.errors[0][:90] + ("..." if len(r.errors[0]) > 90 else "")) if r.errors else ""
            print(f"| {ext[1:].upper()} intra-refresh | {r.requested.tolist()} | {r.indices.tolist()} | {same} | "
                  f"{r.missing.tolist()} | {len(r.errors)}{': ' + err if err else ''} |", flush=True)


def intra_cost(n_frames=600, repeats=5):
    """CPU ms of ``read_frames(n=8)`` on intra-refresh MP4s (x264 ``--intra-refresh``, recovery points every 10
    frames, no IDR after the first picture) against the same frames encoded with an IDR every 10 frames: without
    B-frames, sought to the starts the recovery points give (``_Table.refresh_starts``: "after") and with those
    switched off ("before": decoded from the start, as round 9 left it); with x264's B-frames (no such starts:
    decoded from the start); and what the scan's reading of recovery points and reference pictures costs
    ``video_info`` of the first. Interleaved medians, one process; the frames returned are checked against
    FFmpeg decoding each file from its first byte."""
    from _timing import interleaved_ms
    from video_fixtures import index_frames, write_video

    from unittest import mock

    from forensics.media import _video as v
    from forensics.media import read_frames

    def before(path, read=lambda path: read_frames(path, n=8)):
        with mock.patch.object(v, "_refresh_tests", lambda stream: None):
            return read(path)

    with tempfile.TemporaryDirectory() as d:
        frames = [f for f in index_frames(30, size=(240, 320))]
        frames = [frames[k % 30] for k in range(n_frames)]
        paths = {}
        for b, opt in (("no B-frames", {"bf": "0"}), ("B-frames", {})):
            paths[f"intra-refresh, {b}"] = write_video(Path(d) / f"ir{len(paths)}.mp4", frames, gop=10,
                                                       options={"intra-refresh": "1", **opt})
            paths[f"IDR every 10, {b}"] = write_video(Path(d) / f"idr{len(paths)}.mp4", frames, gop=10, options=opt)
        for name, path in paths.items():
            want = truth(path, arrays=True)
            r = read_frames(path, n=8)
            assert r.missing.size == 0 and not r.errors, name
            assert all(np.array_equal(f, want[k]) for f, k in zip(r.frames, r.indices)), name
        a, b = paths["intra-refresh, no B-frames"], paths["intra-refresh, B-frames"]
        ms = interleaved_ms({"intra-refresh, no B-frames, before": lambda: before(a),
                             "intra-refresh, no B-frames, after": lambda: read_frames(a, n=8),
                             "IDR every 10, no B-frames": lambda: read_frames(paths["IDR every 10, no B-frames"], n=8),
                             "intra-refresh, B-frames (decoded from the start)": lambda: read_frames(b, n=8),
                             "IDR every 10, B-frames": lambda: read_frames(paths["IDR every 10, B-frames"], n=8),
                             "video_info, intra-refresh, no B-frames, before": lambda: before(a, v.video_info),
                             "video_info, intra-refresh, no B-frames, after": lambda: v.video_info(a)},
                            repeats)
        print(f"| clip ({n_frames} frames 320x240, n=8) | CPU ms |")
        print("|---|---|")
        for name, t in ms.items():
            print(f"| {name} | {t:.1f} |")
        idr, info = ms["IDR every 10, no B-frames"], "video_info, intra-refresh, no B-frames, "
        print(f"no B-frames: before / IDR {ms['intra-refresh, no B-frames, before'] / idr:.2f}, "
              f"after / IDR {ms['intra-refresh, no B-frames, after'] / idr:.2f}; B-frames: intra-refresh / IDR "
              f"{ms['intra-refresh, B-frames (decoded from the start)'] / ms['IDR every 10, B-frames']:.2f}; "
              f"video_info after / before {ms[info + 'after'] / ms[info + 'before']:.2f}")


def intra_starts(n_frames=120):
    """For each recovery point R after the first of x264 ``--intra-refresh`` MP4s (recovery points every 10
    frames; index frames and moving blurred noise, 64x96 and 240x320; with and without B-frames): FFmpeg's
    decoder given the packets from R on (as after a seek to R) against the file decoded from its first byte:
    the decode position of the first picture it outputs, and how many of the pictures it outputs differ, pixel
    for pixel. Why the reader starts at the keyframe before R, and not for B-frame streams."""
    import av
    import cv2
    from video_fixtures import index_frames, write_video

    def decode(path, start=0):
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            packets = [q for q in c.demux(s) if q.size]
            cc = av.CodecContext.create("h264", "r")
            cc.extradata = s.codec_context.extradata
            out = {}
            for q in packets[start:] + [None]:
                for f in cc.decode(q):
                    out[f.pts] = f.to_ndarray(format="rgb24")
        return packets, out

    def moving(size):
        h, w = size
        big = np.random.default_rng(1).integers(0, 256, size=(h + 4 * n_frames, w + 4 * n_frames, 3)).astype(np.uint8)
        big = cv2.GaussianBlur(big, (7, 7), 2)
        return [big[3 * k:3 * k + h, 2 * k:2 * k + w] for k in range(n_frames)]

    from forensics.media._video import _exp_golomb, _nal_units

    def read_bits(data, bit, n):
        v = 0
        for _ in range(n):
            v, bit = (v << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1), bit + 1
        return v, bit

    def frame_num(extradata, packet):
        """The first slice's frame_num (x264's SPS: no scaling matrices), from the avcC SPS's log2_max_frame_num."""
        n = int.from_bytes(extradata[6:8], "big")
        sps = extradata[8:8 + n].replace(b"\x00\x00\x03", b"\x00\x00")
        _, bit = _exp_golomb(sps, 32)
        if sps[1] in (100, 110, 122, 244, 44, 83, 86, 118, 128):
            chroma, bit = _exp_golomb(sps, bit)
            bit += chroma == 3
            _, bit = _exp_golomb(sps, bit)
            _, bit = _exp_golomb(sps, bit)
            bit += 2  # qpprime_y_zero_transform_bypass_flag, seq_scaling_matrix_present_flag (0)
        log2, _ = _exp_golomb(sps, bit)
        data = bytes(packet)
        a = next(a for a, _ in _nal_units(data, 4) if data[a] & 0x1F in (1, 5))
        bit = 0
        for _ in range(3):  # first_mb_in_slice, slice_type, pic_parameter_set_id
            _, bit = _exp_golomb(data[a + 1:a + 40], bit)
        return read_bits(data[a + 1:a + 40], bit, log2 + 4)[0]

    print("| clip | R (its frame_num): first output, differing pictures (only where some differ) | starts | "
          "with differences |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for content in ("index", "moving"):
            for size in ((64, 96), (240, 320)):
                for b, opt in (("no B-frames", {"bf": "0"}), ("B-frames", {})):
                    frames = index_frames(n_frames, size=size, step=1) if content == "index" else moving(size)
                    path = write_video(Path(d) / "s.mp4", frames, gop=10, options={"intra-refresh": "1", **opt})
                    packets, truth = decode(path)
                    pos = {q.pts: i for i, q in enumerate(packets)}
                    rows, n = [], 0
                    for r in [i for i, q in enumerate(packets) if q.is_keyframe][1:]:
                        _, out = decode(path, r)
                        if not out:
                            continue  # the stream ends before the refresh does
                        n += 1
                        bad = sum(not np.array_equal(v, truth[t]) for t, v in out.items())
                        if bad:
                            fn = frame_num(bytes(packets[0].stream.codec_context.extradata), packets[r])
                            rows.append(f"{r} ({fn}): {pos[min(out)]}, {bad}")
                    print(f"| {content} {size[1]}x{size[0]}, {b} | {'; '.join(rows)} | {n} | {len(rows)} |", flush=True)


def codec_cost(n_frames=3000, repeats=9):
    """video_info of a 3000-frame MPEG-4 AVI with 2 B-frames (every packet's VOP header read by the N-VOP test: since
    round 11 whatever its size, the first 12 bytes of a packet above 256 bytes) and a VP8 WebM, with the
    round-10 tests on and off (the N-VOP test replaced by None; VP8's by a codec name no stream has), in one
    run, interleaved; medians of ``repeats``."""
    import time
    from unittest import mock

    from test_video_codecs import _mpeg4_avi, _vp8
    from video_fixtures import index_frames

    from forensics.media import _video, video_info

    frames = index_frames(30, step=7)
    with tempfile.TemporaryDirectory() as d:
        avi = _mpeg4_avi(Path(d) / "long.avi", [frames[k % 30] for k in range(n_frames)], b_frames=2)
        webm = _vp8(Path(d) / "long.webm", "webm", [frames[k % 30] for k in range(n_frames)])
        for path in (avi, webm):
            on, off = [], []
            for _ in range(repeats):
                t = time.perf_counter()
                video_info(path)
                on.append(time.perf_counter() - t)
                with mock.patch.object(_video, "_not_coded_test", lambda *a: None), \
                        mock.patch.object(_video, "_VP8_SHOW_FRAME", 0xFF):  # every VP8 frame then reads as shown
                    t = time.perf_counter()
                    video_info(path)
                    off.append(time.perf_counter() - t)
            print(f"{path.name}: video_info {np.median(on) * 1e3:.1f} ms with the tests, {np.median(off) * 1e3:.1f} ms "
                  f"without ({np.median(on) / np.median(off):.2f}x)")


def box_cost(n_frames=3000, repeats=9):
    """Round 11b: CPU ms of ``video_info`` of fragmented MP4s (x264, 3000 frames 320x240, a fragment per keyframe
    every 25 or every 5 frames: 120 or 600 fragments, 240 or 1200 top-level boxes) and of a plain MP4, with the
    top-level box walk (``_check_boxes``) on and switched off in the same process, interleaved medians; and the walk
    alone over a synthetic file of 100,000 boxes (a long recording of short fragments)."""
    from unittest import mock

    from _timing import interleaved_ms
    from video_fixtures import index_frames

    import forensics.media._video as v

    frames = index_frames(30, size=(240, 320))
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for gop, flags in ((25, "frag_keyframe+empty_moov+default_base_moof"), (5, "frag_keyframe+empty_moov+"
                                                                                     "default_base_moof"), (25, None)):
            import av

            path = Path(d) / f"f{gop}{bool(flags)}.mp4"
            with av.open(str(path), "w", format="mp4", options={"movflags": flags} if flags else {}) as o:
                st = o.add_stream("libx264", rate=25)
                st.width, st.height, st.pix_fmt = 320, 240, "yuv420p"
                st.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "threads": "1",
                              "preset": "veryfast"}
                for k in range(n_frames):
                    for q in st.encode(av.VideoFrame.from_ndarray(frames[k % 30], format="rgb24")):
                        o.mux(q)
                for q in st.encode():
                    o.mux(q)
            name = f"fMP4, a fragment every {gop} frames" if flags else "plain MP4"
            paths[name] = path
        fns = {}
        for name, path in paths.items():
            fns[f"{name}, on"] = lambda path=path: v.video_info(path)

            def off(path=path):
                with mock.patch.object(v, "_check_boxes", lambda *a: None):
                    return v.video_info(path)
            fns[f"{name}, off"] = off
        many = Path(d) / "many.mp4"
        body = b"".join((8).to_bytes(4, "big") + (b"moof" if k % 2 else b"mdat") for k in range(100_000))
        many.write_bytes((12).to_bytes(4, "big") + b"ftypisom" + body)

        def walk():
            with open(many, "rb") as fh:
                v._check_boxes(fh, v._Errors())
        fns["the walk alone, 100,000 boxes"] = walk
        ms = interleaved_ms(fns, repeats)
        print(f"| {n_frames} frames 320x240 | video_info CPU ms, box walk on | off | on / off |")
        print("|---|---|---|---|")
        for key in [k for k in ms if k.endswith(", on")]:
            base = key[:-4]
            print(f"| {base} | {ms[key]:.1f} | {ms[base + ', off']:.1f} | {ms[key] / ms[base + ', off']:.3f} |")
        print(f"| the walk alone, 100,000 boxes | {ms['the walk alone, 100,000 boxes']:.1f} | | |")


def ts_intra_cost(n_frames=600, repeats=5):
    """Round 11b: CPU ms of ``read_frames(n=8)`` of x264 MPEG-TS clips (600 frames 320x240, intra refresh with recovery
    points every 10 frames, or an IDR every 10; without and with B-frames) and of the intra-refresh TS remuxed to
    MP4 as it is (same packets), interleaved medians of ``repeats``; every read checked equal to FFmpeg decoding the
    file from its first byte. Then where FFmpeg's MPEG-TS seek lands (PyAV ``seek(pts, backward=True)`` to the pts of
    every 10th keyframe or recovery point from the 5th) and whether decoding from that packet (packets before it
    dropped) gives FFmpeg's pixels (what the reader's MPEG-TS seeks, by dts since round 11b, rely on). "before": the
    same calls with those seeks switched off (``_DTS_SEEK_FORMATS`` empty), in the same interleaved run."""
    import av
    from _timing import interleaved_ms
    from video_fixtures import index_frames, write_video

    from forensics.media import read_frames

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        frames = index_frames(30, size=(240, 320))
        frames = [frames[k % 30] for k in range(n_frames)]
        paths = {}
        for b, opt in (("no B-frames", {"bf": "0"}), ("B-frames", {})):
            ts = write_video(d / f"ir{len(paths)}.ts", frames, gop=10, options={"intra-refresh": "1", **opt})
            mp4 = d / f"ir{len(paths)}.mp4"
            with av.open(str(ts)) as i, av.open(str(mp4), "w", format="mp4") as o:
                t = o.add_stream_from_template(i.streams.video[0])
                for q in i.demux(video=0):
                    if q.size:
                        q.stream = t
                        o.mux(q)
            paths[f"MPEG-TS intra refresh, {b}"] = ts
            paths[f"the same remuxed to MP4, {b}"] = mp4
            paths[f"MPEG-TS IDR every 10, {b}"] = write_video(d / f"idr{len(paths)}.ts", frames, gop=10, options=opt)
        for name, path in paths.items():
            want = truth(path, arrays=True)
            r = read_frames(path, n=8)
            assert r.missing.size == 0 and not r.errors, name
            assert all(np.array_equal(f, want[k]) for f, k in zip(r.frames, r.indices)), name
        from unittest import mock

        from forensics.media import _video as v

        def off(fn):  # round 11b's MPEG-TS seeks (and recovery points parsed in TS) switched off
            def run():
                with mock.patch.object(v, "_DTS_SEEK_FORMATS", ()):
                    return fn()
            return run

        fns = {}
        for k, p in paths.items():
            fns[k] = lambda p=p: read_frames(p, n=8)
            if k.startswith("MPEG-TS"):
                fns[k + ", not sought (before)"] = off(fns[k])
        ts = paths["MPEG-TS intra refresh, no B-frames"]
        fns["video_info, MPEG-TS intra refresh, no B-frames"] = lambda: v.video_info(ts)
        fns["video_info, the same, recovery points not parsed (before)"] = off(lambda: v.video_info(ts))
        ms = interleaved_ms(fns, repeats)
        print(f"| clip ({n_frames} frames 320x240), read_frames(n=8) | CPU ms |")
        print("|---|---|")
        for name, t in ms.items():
            print(f"| {name} | {t:.1f} |")
        print()
        print("| MPEG-TS clip | seek by | seeks | landed on the packet asked for | landed past it (never reached) "
              "| FFmpeg's pixels |")
        print("|---|---|---|---|---|---|")
        for name, path in paths.items():
            if not name.startswith("MPEG-TS"):
                continue
            want = truth(path, arrays=True)
            with av.open(str(path)) as c:
                pk = [(q.pts, q.dts, q.is_keyframe) for q in c.demux(video=0) if q.size]
            order = sorted(p for p, _, _ in pk)
            keys = [i for i, (_, _, key) in enumerate(pk) if key][5::10]
            for by in ("pts", "dts"):
                exact = passed = 0
                same = True
                for k in keys:
                    target = pk[k][0]
                    with av.open(str(path)) as c:
                        s = c.streams.video[0]
                        s.codec_context.thread_count = 1
                        c.seek(pk[k][0 if by == "pts" else 1], stream=s, backward=True)
                        out, started, first = [], False, None
                        for q in c.demux(s):
                            if not q.size:
                                continue
                            first = q.pts if first is None else first
                            if not started and q.pts != target:
                                continue  # packets before the one asked for are dropped
                            started = True
                            out += q.decode()
                            if len(out) >= 12:
                                break
                    exact += first == target
                    passed += not started
                    same &= all(np.array_equal(f.to_ndarray(format="rgb24"), want[order.index(f.pts)]) for f in out)
                print(f"| {name} | {by} | {len(keys)} | {exact} | {passed} | {same} |")


def cut_cost(n_frames=3000, repeats=5):
    """Round 11b: CPU ms of ``video_info`` of an x264 AVI (320x240, a keyframe every 250, no B-frames) cut a third of
    the way into its picture 2899 (150 packets after the last keyframe: the decoder is run twice over them to ask
    whether FFmpeg shows the cut picture), with that test on and off (``_cut_short`` answering False) in the same
    process, and of the same file cut after that picture (nothing to ask); interleaved medians of ``repeats``."""
    from unittest import mock

    import av
    from _timing import interleaved_ms
    from video_fixtures import encode_video, index_frames

    import forensics.media._video as v

    frames = index_frames(30, size=(240, 320))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        src = encode_video(d / "long.avi", "avi", "libx264", [frames[k % 30] for k in range(n_frames)],
                           options={"g": "250", "bf": "0"})
        data = src.read_bytes()
        with av.open(str(src)) as c:
            at, size = [(q.pos, q.size) for q in c.demux(video=0) if q.size][2899]
        (d / "cut.avi").write_bytes(data[:at + size // 3])
        (d / "whole.avi").write_bytes(data[:at + size])

        def off():
            with mock.patch.object(v, "_cut_short", lambda *a: False):
                return v.video_info(d / "cut.avi")
        assert v.video_info(d / "cut.avi").n_frames == 2899 and off().n_frames == 2900
        ms = interleaved_ms({"cut inside picture 2899, asked": lambda: v.video_info(d / "cut.avi"),
                             "the same, not asked": off,
                             "cut after picture 2899": lambda: v.video_info(d / "whole.avi")}, repeats)
        print("| AVI x264 320x240, keyframe every 250 | video_info CPU ms |")
        print("|---|---|")
        for name, t in ms.items():
            print(f"| {name} | {t:.1f} |")


def _other_video_module(path):
    """Another checkout's ``forensics/media/_video.py`` loaded beside this one (as ``forensics.media._video_other``:
    its relative imports are this package's), to time two versions in one process."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("forensics.media._video_other", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def normal_cost(n_frames=3000, repeats=9, against=None):
    """CPU ms of ``video_info`` and ``read_frames(n=8)`` of normal files (x264 with B-frames, a keyframe every 25, 3000
    frames 320x240, in MP4 and Matroska, and the MPEG-TS encode remuxed to MP4), with the round-11 test for samples
    without a picture inside a stream (``_inside_test``) on and switched off in the same process, interleaved
    medians of ``repeats``; with ``against`` (``--against PATH``: another checkout's ``forensics/media/_video.py``),
    that version's calls too, in the same interleaved run ("other")."""
    from unittest import mock

    from _timing import interleaved_ms
    from video_fixtures import index_frames, write_video

    import forensics.media._video as v

    def off(fn):
        def run():
            if not hasattr(v, "_inside_test"):
                return fn()
            with mock.patch.object(v, "_inside_test", lambda *args: None):
                return fn()
        return run

    with tempfile.TemporaryDirectory() as d:
        frames = index_frames(30, size=(240, 320))
        clip = [frames[k % 30] for k in range(n_frames)]
        paths = {ext[1:].upper(): write_video(Path(d) / f"clip{ext}", clip, gop=25) for ext in (".mp4", ".mkv")}
        # the MPEG-TS encode remuxed to MP4 as it is (``ffmpeg -c copy``): x264 wrote an access unit delimiter
        # before each picture, so every sample begins with a unit that holds no picture
        import av

        ts = write_video(Path(d) / "clip.ts", clip, gop=25)
        remuxed = paths["MP4 remuxed from MPEG-TS (AUD-led)"] = Path(d) / "remuxed.mp4"
        with av.open(str(ts)) as i, av.open(str(remuxed), "w", format="mp4") as o:
            t = o.add_stream_from_template(i.streams.video[0])
            for packet in i.demux(video=0):
                if packet.size:
                    packet.stream = t
                    o.mux(packet)
        fns = {}
        for ext, path in paths.items():
            for name, fn in (("video_info", lambda path=path: v.video_info(path)),
                             ("read_frames(n=8)", lambda path=path: v.read_frames(path, n=8))):
                fns[f"{ext} {name}, on"] = fn
                fns[f"{ext} {name}, off"] = off(fn)
        other = _other_video_module(against) if against else None
        if other is not None:
            for ext, path in paths.items():
                fns[f"{ext} video_info, other"] = lambda path=path: other.video_info(path)
                fns[f"{ext} read_frames(n=8), other"] = lambda path=path: other.read_frames(path, n=8)
        ms = interleaved_ms(fns, repeats)
        print(f"| normal clip ({n_frames} frames 320x240) | CPU ms, on | off | on / off |"
              + (" other version | on / other |" if other else ""))
        print("|---|---|---|---|" + ("---|---|" if other else ""))
        for key in [k for k in ms if k.endswith(", on")]:
            base = key[:-4]
            row = f"| {base} | {ms[key]:.1f} | {ms[base + ', off']:.1f} | {ms[key] / ms[base + ', off']:.3f} |"
            if other:
                row += f" {ms[base + ', other']:.1f} | {ms[key] / ms[base + ', other']:.3f} |"
            print(row)


if __name__ == "__main__":
    # one measurement per option; without one, the variant tables
    options = {"--intra-seek": intra_seek, "--scan-cost": scan_cost, "--intra-cost": intra_cost,
               "--intra-starts": intra_starts, "--codec-cost": codec_cost, "--cut-cost": cut_cost,
               "--ts-intra-cost": ts_intra_cost, "--box-cost": box_cost}
    chosen = next((option for option in options if option in sys.argv), None)
    if chosen is not None:
        options[chosen]()
    elif "--normal-cost" in sys.argv:
        normal_cost(against=sys.argv[sys.argv.index("--against") + 1] if "--against" in sys.argv else None)
    else:
        main(codecs="--codecs" in sys.argv, round11="--round11" in sys.argv, round11b="--round11b" in sys.argv)
