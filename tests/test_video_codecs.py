"""Round 10: video kinds in other codecs and containers (MPEG-4 Part 2 in AVI: N-VOP placeholders, DivX
packed bitstreams). The truth is FFmpeg's own decoding of every packet (PyAV), as in
benchmarks/video_variants.py."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from video_fixtures import encode_video

from forensics.media import read_frames, video_info

av = pytest.importorskip("av")

VOP = b"\x00\x00\x01\xb6"


def _encoder(name):
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - any failure means this FFmpeg cannot write it
        pytest.skip(f"this FFmpeg has no {name} encoder")


def _mpeg4_avi(path, frames, *, fps=25, b_frames=0):
    """Encode ``frames`` with FFmpeg's MPEG-4 Part 2 encoder into an AVI (keyframe every 12, no scene cuts)."""
    _encoder("mpeg4")
    return encode_video(path, "avi", "mpeg4", frames, fps=fps, b_frames=b_frames,
                        options={"g": "12", "sc_threshold": "1000000000"})


def _vop_type(data):
    at = data.find(VOP)
    return "IPBS"[data[at + 4] >> 6] if 0 <= at < len(data) - 4 else None


def _n_vop(p_vop, time_bits, coded=False):
    """The N-VOP for the P-VOP ``p_vop``: its header bits up to ``vop_coded``, that bit 0 (``coded``: 1, a P-VOP
    cut after its header), stuffing to a byte."""
    bits = "".join(f"{b:08b}" for b in p_vop[4:12])
    i = 2
    while bits[i] == "1":
        i += 1
    head = bits[:i + 1 + 1 + time_bits + 1] + ("1" if coded else "0")
    head += "0" + "1" * ((8 - (len(head) + 1) % 8) % 8)
    return VOP + int(head, 2).to_bytes(len(head) // 8, "big")


def _remux(src, dst, chunks):
    """Write ``chunks`` (bytes) as the video packets of an AVI with ``src``'s stream, one frame slot each."""
    with av.open(str(src)) as c, av.open(str(dst), "w", format="avi") as o:
        i = c.streams.video[0]
        s = o.add_stream_from_template(i)
        for n, d in enumerate(chunks):
            p = av.Packet(d)
            p.stream, p.time_base, p.dts, p.pts = s, i.time_base, n, n
            p.is_keyframe = _vop_type(d) == "I"
            o.mux(p)
    return dst


def _packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def with_n_vops(src, dst, after, time_bits=5):
    """``src`` (no B-frames) with an N-VOP placeholder after each packet in ``after`` (a capture's repeated
    frames)."""
    out = []
    for k, d in enumerate(_packets(src)):
        out += [d, _n_vop(d[d.find(VOP):], time_bits)] if k in after else [d]
    return _remux(src, dst, out)


def packed(src, dst, user=b"DivX503b1393p", time_bits=5):
    """``src`` (one B-frame) as a DivX packed bitstream: each P-VOP and the B-VOP after it in one chunk, then an
    N-VOP standing for the B-VOP; ``user``: user data put before the first VOP (None: none)."""
    pk, out, k = _packets(src), [], 0
    while k < len(pk):
        if k + 1 < len(pk) and _vop_type(pk[k]) == "P" and _vop_type(pk[k + 1]) == "B":
            out += [pk[k] + pk[k + 1], _n_vop(pk[k][pk[k].find(VOP):], time_bits)]
            k += 2
        else:
            out.append(pk[k])
            k += 1
    if user:
        at = out[0].find(VOP)
        out[0] = out[0][:at] + b"\x00\x00\x01\xb2" + user + out[0][at:]
    return _remux(src, dst, out)


def _truth(path):
    """What FFmpeg shows decoding ``path`` from its first byte: each picture's mean level, in output order (as
    benchmarks/video_variants.py's ``truth``)."""
    from video_fixtures import frame_level

    levels = []
    with av.open(str(path)) as c:
        for packet in c.demux(video=0):
            levels += [frame_level(f.to_ndarray(format="rgb24")) for f in packet.decode()]
    return levels


def _check_like_ffmpeg(path, n_packets, note=False):
    """``path`` read as FFmpeg shows it, every frame and the last of n=3; no problem said but (``note``) the
    N-VOPs' one."""
    from video_fixtures import frame_level

    want = _truth(path)
    info = video_info(path)
    assert info.n_frames == len(want) and info.header_frames == n_packets
    assert not [e for e in info.errors if "header" in e]  # the AVI header counts packets, as the scan does
    r = read_frames(path, every=1, display=False)
    assert [e.startswith("10 packet(s) are MPEG-4 N-VOPs") for e in r.errors] == ([True] if note else [])
    np.testing.assert_allclose([frame_level(f) for f in r.frames], want, atol=1e-9)
    last = read_frames(path, n=3, display=False)
    assert abs(frame_level(last.frames[-1]) - want[-1]) < 1e-9 and len(last.errors) == note
    return info, r


@pytest.mark.parametrize("fps,time_bits", [(25, 5), (60, 6), (8, 3)])
def test_n_vop_placeholders_are_no_frames(tmp_path, fps, time_bits):
    """An MPEG-4 AVI with N-VOPs (vop_coded = 0, 'nothing changed') after packets 3 and 7: FFmpeg outputs no
    picture for them. They were counted as frames (n_frames 26 of 24 shown) and read_frames(every=1) said '2
    requested frame(s) not decoded (4, 9)'. The VOP time field's width follows the frame rate (vop_time_
    increment_resolution 25, 60, 8: 5, 6, 3 bits), so a misread width reads another bit as vop_coded."""
    from video_fixtures import index_frames

    src = _mpeg4_avi(tmp_path / "p.avi", index_frames(12, step=12), fps=fps)
    plain = _check_like_ffmpeg(src, 12)[0]  # the valid look-alike: every packet a coded VOP
    assert plain.n_frames == 12
    nv = with_n_vops(src, tmp_path / "nv.avi", after=(3, 7), time_bits=time_bits)
    info, r = _check_like_ffmpeg(nv, 14)
    assert info.n_frames == 12 and len(r) == 12
    assert info.timing == "pts"  # the frames after a placeholder keep their slot's time
    np.testing.assert_allclose(np.asarray(r.timestamps)[[3, 4, 7, 8]], np.array([3, 5, 8, 10]) / fps)


@pytest.mark.parametrize("pad", [b"", bytes(58), bytes(59), bytes(4000), b"\x7f" * 300, b"\xff" * 90])
def test_n_vop_with_stuffing_is_no_frame_whatever_its_size(tmp_path, pad):
    """An N-VOP (6 bytes here) followed by stuffing (zero bytes, 0x7F or 0xFF bytes: a capture tool's padding) is an
    N-VOP whatever its size: FFmpeg's decoder reads its header, finds vop_coded = 0 and outputs nothing (6 pictures).
    Before, only a packet of at most 64 bytes was read: from 65 bytes on (59 bytes of stuffing) it was a frame that
    did not decode (7 counted). Look-alikes: the same header with vop_coded = 1 (a P-VOP cut after its header), and
    with the same stuffing, is a frame (7); and so is the N-VOP followed by another VOP in the same packet."""
    from video_fixtures import index_frames

    src = _mpeg4_avi(tmp_path / "p.avi", index_frames(6, step=12))
    pk = _packets(src)
    nvop = _n_vop(pk[2][pk[2].find(VOP):], 5)
    assert len(nvop) == 6
    path = _remux(src, tmp_path / "nv.avi", [pk[0], pk[1], nvop + pad, *pk[2:]])
    assert len(_truth(path)) == 6 and video_info(path).n_frames == 6
    r = read_frames(path, every=1, display=False)
    assert len(r) == 6 and r.missing.size == 0
    for name, chunk in (("cut", _n_vop(pk[2][pk[2].find(VOP):], 5, coded=True) + pad), ("more", nvop + pad + pk[2])):
        other = _remux(src, tmp_path / f"{name}.avi", [pk[0], pk[1], chunk, *pk[2:]])
        assert video_info(other).n_frames == 7, name


def test_the_n_vop_test_reads_long_time_steps_and_short_packets(tmp_path):
    """The header is read from the 8 bytes after the start code; a modulo_time_base run longer than they hold (a time
    step of 62 s and more) or a packet that ends inside them is read bit by bit: the N-VOP is still found, and a
    packet cut before its vop_coded bit is no N-VOP. Headers written bit by bit (ISO/IEC 14496-2 6.2.5) for the
    stream of FFmpeg's encoder at 25 fps (5 time bits): P-VOP type 01, the run of ones, 0, marker 1, the time,
    marker 1, vop_coded, stuffing 0 then ones to a byte."""
    from video_fixtures import index_frames

    from forensics.media._video import _not_coded_test

    src = _mpeg4_avi(tmp_path / "p.avi", index_frames(2, step=12))
    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        test = _not_coded_test(stream, _packets(src)[0])
    assert test is not None

    def vop(run, coded, extra=b""):
        head = "01" + "1" * run + "0" + "1" + "00011" + "1" + str(coded)
        head += "0" + "1" * ((8 - (len(head) + 1) % 8) % 8)
        return VOP + int(head, 2).to_bytes(len(head) // 8, "big") + extra

    for run in (0, 1, 50, 61, 62, 63, 70, 200):
        assert test(vop(run, 0), None) and test(vop(run, 0, bytes(100)), None), run
        assert not test(vop(run, 1), None) and not test(vop(run, 1, bytes(100)), None), run
        whole = vop(run, 0)
        bit = 32 + 2 + run + 1 + 1 + 5 + 1  # vop_coded
        assert not test(whole[:bit // 8], None), run  # cut before the byte holding vop_coded


def _with_user_data(packets, user):
    """``packets`` with the user data ``user`` put before the first VOP (what the encoder's header says)."""
    out = list(packets)
    at = out[0].find(VOP)
    out[0] = out[0][:at] + b"\x00\x00\x01\xb2" + user + out[0][at:]
    return out


@pytest.mark.parametrize("user", [b"DivX503b1393", b"XviD0050"])
@pytest.mark.parametrize("filler", [b"\x7f", b"\x00"])
def test_one_byte_placeholders_of_divx_and_xvid_are_no_frames(tmp_path, user, filler):
    """DivX and Xvid write a 1-byte chunk for a dropped frame; FFmpeg's decoder skips it ('frame skip 8') in a
    stream whose user data names them. It was counted as a frame (13 of the 12 FFmpeg shows) and read as
    '1 requested frame(s) not decoded (4)'. Look-alike: the same chunk in the stream FFmpeg's own encoder
    wrote (user data 'Lavc'): FFmpeg refuses to decode it, and it stays a frame that does not decode."""
    from video_fixtures import index_frames

    src = _mpeg4_avi(tmp_path / "p.avi", index_frames(12, step=12))
    pk = _packets(src)
    named = _remux(src, tmp_path / "f.avi", _with_user_data(pk[:4] + [filler] + pk[4:], user))
    info, r = _check_like_ffmpeg(named, 13)
    assert info.n_frames == 12 == len(r)
    lavc = _remux(src, tmp_path / "l.avi", pk[:4] + [filler] + pk[4:])
    assert video_info(lavc).n_frames == 13
    assert any("packet failed to decode" in e for e in read_frames(lavc, every=1, display=False).errors)


def test_one_byte_placeholder_after_a_packed_chunk_is_the_buffered_frame(tmp_path):
    """In a DivX packed bitstream the chunk after a P-VOP + B-VOP chunk stands for the B-VOP, which FFmpeg
    outputs then, whether it is an N-VOP or a 1-byte placeholder: 24 frames of 24 packets either way."""
    from video_fixtures import index_frames

    src = _mpeg4_avi(tmp_path / "b.avi", index_frames(24, step=8), b_frames=1)
    pk = _packets(packed(src, tmp_path / "pk.avi", user=b"DivX503b1393p"))
    ones = [b"\x7f" if k and pk[k - 1].count(VOP) == 2 else d for k, d in enumerate(pk)]
    dst = _remux(src, tmp_path / "ones.avi", ones)
    info, r = _check_like_ffmpeg(dst, 24)
    assert info.n_frames == 24 == len(r)
    # but an N-VOP or a 1-byte chunk after a packet of one VOP (the I-VOP) stands for nothing: skipped
    for extra in (_n_vop(pk[0][pk[0].find(VOP):], 5), b"\x7f"):
        lone = _remux(src, tmp_path / "lone.avi", [pk[0], extra, *pk[1:]])
        assert video_info(lone).n_frames == 24 == len(_truth(lone))


@pytest.mark.parametrize("user,shown", [(b"DivX503b1393p", 24), (b"DivX503b1393", 14), (None, 14)])
def test_divx_packed_bitstream(tmp_path, user, shown):
    """A DivX packed bitstream (a P-VOP and its B-VOP in one AVI chunk, an N-VOP after): with the user data
    'DivX...p' FFmpeg's decoder keeps the B-VOP and outputs it for the N-VOP (24 frames of 24 packets); without
    the 'p' it decodes the first VOP of each packet only and skips the N-VOPs (14)."""
    from video_fixtures import index_frames

    src = _mpeg4_avi(tmp_path / "b.avi", index_frames(24, step=8), b_frames=1)
    assert _check_like_ffmpeg(src, 24)[0].timing == "decode order"
    dst = packed(src, tmp_path / "pk.avi", user=user)
    assert sum(d.count(VOP) == 2 for d in _packets(dst)) == 10
    info, r = _check_like_ffmpeg(dst, 24, note=shown == 14)
    assert info.n_frames == shown == len(r)


def test_n_vops_among_b_frames_say_the_times_are_late(tmp_path):
    """An AVI with B-frames has no presentation timestamps: frame k is timed k / fps. An N-VOP holds a slot
    (the picture before shown again), so the frames after it are shown later than k / fps: said, naming the
    packets, as for a capture's empty chunks (round 5). Look-alikes: the packed stream (its N-VOPs are the
    B-VOPs' slots) and an N-VOP at the very end (no frame after it) say nothing."""
    from video_fixtures import index_frames

    src = _mpeg4_avi(tmp_path / "b.avi", index_frames(24, step=8), b_frames=1)
    r = read_frames(packed(src, tmp_path / "np.avi", user=None), every=1)
    said = [e for e in r.info.errors if "N-VOPs" in e]
    assert r.info.timing == "decode order" and len(said) == 1
    assert said[0].startswith("10 packet(s) are MPEG-4 N-VOPs (not coded: the picture before is shown again for "
                              "their slot; at packet 2, 4, 6, 8, 10, ...)")
    assert not any("N-VOP" in e for e in video_info(packed(src, tmp_path / "p.avi")).errors)
    pk = _packets(src)
    p_vop = next(d for d in reversed(pk) if _vop_type(d) == "P")
    end = _remux(src, tmp_path / "end.avi", pk + [_n_vop(p_vop[p_vop.find(VOP):], 5)])
    info = video_info(end)
    assert info.n_frames == 24 == len(_truth(end)) and not any("N-VOP" in e for e in info.errors)


def _vp8(path, fmt, frames):
    _encoder("libvpx")
    return encode_video(path, fmt, "libvpx", frames, options={"auto-alt-ref": "0", "threads": "1"})


def with_copies(src, dst, fmt, before, shown):
    """``src`` with a copy of each packet in ``before`` put before it, its VP8 show_frame bit set to ``shown``
    (0: an alt-ref-like frame, decoded as a reference, never shown), every packet in its own slot."""
    with av.open(str(src)) as c:
        i = c.streams.video[0]
        pk = [bytes(p) for p in c.demux(i) if p.size]
    out = []
    for k, d in enumerate(pk):
        out += [bytes([d[0] & ~0x10 | (0x10 if shown else 0)]) + d[1:], d] if k in before else [d]
    with av.open(str(src)) as c, av.open(str(dst), "w", format=fmt) as o:
        s = o.add_stream_from_template(c.streams.video[0])
        for n, d in enumerate(out):
            p = av.Packet(d)
            p.stream, p.time_base, p.pts, p.dts = s, Fraction(1, 25), n, n
            p.is_keyframe = n == 0
            o.mux(p)
    return dst


@pytest.mark.parametrize("fmt,ext", [("webm", "webm"), ("ivf", "ivf"), ("matroska", "mkv")])
def test_vp8_frames_never_shown_are_no_frames(tmp_path, fmt, ext):
    """A VP8 stream with two frames of show_frame = 0 in packets of their own (alt-ref frames as vpxenc writes
    them to IVF, and WebM muxed from it): FFmpeg decodes them as references and outputs no picture. They were
    counted (14 of 12 shown) and read_frames(every=1) said '2 requested frame(s) not decoded (3, 8)'; now they
    are decoded (the frames after them need them: pixels equal FFmpeg's) and not counted. Look-alike: the same
    copies with show_frame = 1 are frames (14)."""
    from video_fixtures import frame_level, index_frames

    src = _vp8(tmp_path / f"s.{ext}", fmt, index_frames(12, step=12))
    for shown, n in ((0, 12), (1, 14)):
        path = with_copies(src, tmp_path / f"h{shown}.{ext}", fmt, (3, 7), shown)
        want = _truth(path)
        info = video_info(path)
        r = read_frames(path, every=1, display=False)
        assert info.n_frames == len(want) == len(r) == n and not info.errors and not r.errors
        np.testing.assert_allclose([frame_level(f) for f in r.frames], want, atol=1e-9)
        if not shown:  # the frames keep their own times: the hidden ones' slots (3, 8) are skipped
            assert np.round(np.asarray(r.timestamps)[2:5] * 25).tolist() == [2, 4, 5]
            last = read_frames(path, n=2, display=False)
            assert abs(frame_level(last.frames[-1]) - want[-1]) < 1e-9 and not last.errors


def test_face_crops_of_a_clip_with_n_vops(tmp_path):
    """extract_faces over an MPEG-4 AVI of 6 pictures with 2 N-VOP placeholders: one crop row per picture FFmpeg
    shows, each timed by its own slot (the placeholders' slots 0.08 and 0.2 s skipped), status ok (it was
    'partial': 8 frames asked, 2 'not decoded'). Look-alike: the same clip without placeholders, 6 rows k / fps."""
    import pandas as pd
    from test_video_features import UprightFaceDetector, _upright_picture

    from forensics.datasets import extract_faces

    _encoder("mpeg4")
    src = tmp_path / "a.avi"
    with av.open(str(src), "w", format="avi") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"
        s.options = {"qscale": "2"}
        assert _upright_picture().shape == (96, 128, 3)
        for _ in range(6):
            for p in s.encode(av.VideoFrame.from_ndarray(_upright_picture(), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    pk = _packets(src)
    nv = _remux(src, tmp_path / "nv.avi", [pk[0], pk[1], _n_vop(pk[1][pk[1].find(VOP):], 5), pk[2], pk[3],
                                           _n_vop(pk[3][pk[3].find(VOP):], 5), pk[4], pk[5]])
    m = pd.DataFrame(dict(path=[str(src), str(nv)], label=[0, 1], method="m"))
    res = extract_faces(m, tmp_path / "out", detector=UprightFaceDetector(), every=1, size=32, progress=False)
    assert res.status["status"].tolist() == ["ok", "ok"] and res.records["face_found"].all()
    times = {p: g["time_s"].round(6).tolist() for p, g in res.crops.groupby("path")}
    assert times[str(src)] == [0.0, 0.04, 0.08, 0.12, 0.16, 0.2]
    assert times[str(nv)] == [0.0, 0.04, 0.12, 0.16, 0.24, 0.28]


def _vol(resolution, *, verid=None, par=None, vbv=False, grayscale=False):
    """A video object layer header written bit by bit from ISO/IEC 14496-2 6.2.3, up to and past
    vop_time_increment_resolution: the optional fields its reader must step over."""
    bits = "1" + f"{1:08b}"  # random_accessible_vol, video_object_type_indication (simple)
    bits += ("1" + f"{verid:04b}" + "001") if verid is not None else "0"
    bits += ("1111" + f"{par[0]:08b}{par[1]:08b}") if par else "0001"  # aspect_ratio_info: extended PAR or 1:1
    if vbv:  # vol_control_parameters: chroma_format 1, low_delay 1, vbv_parameters with 79 bits of values
        bits += "1" + "01" + "1" + "1" + "".join("1" if k % 3 else "0" for k in range(79))
    else:
        bits += "0"
    bits += ("11" + ("0110" if verid not in (None, 1) else "")) if grayscale else "00"  # shape (+ extension)
    bits += "1" + f"{resolution:016b}" + "1"  # marker, vop_time_increment_resolution, marker
    bits += "0" * (-len(bits) % 8)
    return b"\x00\x00\x01\x20" + int(bits, 2).to_bytes(len(bits) // 8, "big")


@pytest.mark.parametrize("fields", [{}, {"verid": 2}, {"par": (12, 11)}, {"vbv": True},
                                    {"grayscale": True, "verid": 2}, {"grayscale": True, "verid": 1},
                                    {"verid": 5, "par": (40, 33), "vbv": True, "grayscale": True}])
@pytest.mark.parametrize("resolution,bits", [(25, 5), (30000, 15), (2, 1), (1, 1), (60, 6)])
def test_the_time_field_width_is_read_past_every_optional_vol_field(fields, resolution, bits):
    """vop_time_increment's width (FFmpeg's av_log2(R - 1) + 1) read from layer headers with each optional
    field FFmpeg's own encoder never writes: a layer identifier, an extended pixel aspect ratio, VBV
    parameters (79 bits) and a grey-scale shape's extension (only for verid != 1); a misstep there reads
    another 16 bits as the resolution."""
    from forensics.media._video import _vol_time_bits

    assert _vol_time_bits(b"\x00\x00\x01\xb0\x01" + _vol(resolution, **fields)) == bits
    assert _vol_time_bits(_vol(resolution, **fields)[:6]) is None  # cut inside the header


def test_the_n_vop_test_at_the_edges_of_its_fast_reads(tmp_path):
    """Review of round 11: the VOP header is read from the 8 bytes after the start code; a vop_coded bit that is the
    last of them (a modulo_time_base run of 53 ones at 5 time bits), the first after them (54) or the second (55)
    is read right, coded or not, and so is the header of an I- or B-VOP type (its run of 0 to 2 ones read from the
    right bit); a packet of the start code alone (4 bytes) or less is no N-VOP (nothing to read),
    never an error."""
    from video_fixtures import index_frames

    from forensics.media._video import _not_coded_test

    src = _mpeg4_avi(tmp_path / "p.avi", index_frames(2, step=12))
    with av.open(str(src)) as c:
        test = _not_coded_test(c.streams.video[0], _packets(src)[0])

    def vop(run, coded, kind="01"):
        head = kind + "1" * run + "0" + "1" + "00011" + "1" + str(coded)
        head += "0" + "1" * ((8 - (len(head) + 1) % 8) % 8)
        return VOP + int(head, 2).to_bytes(len(head) // 8, "big")

    for run in (52, 53, 54, 55, 56):
        assert 2 + run + 1 + 1 + 5 + 1 in range(62, 67)  # vop_coded's bit after the start code
        assert test(vop(run, 0), None) and test(vop(run, 0) + bytes(40), None), run
        assert not test(vop(run, 1), None) and not test(vop(run, 1) + bytes(40), None), run
    for kind in ("00", "10"):  # I and B-VOP types: the first bit after them is modulo_time_base's whatever they are
        for run in (0, 1, 2):
            assert test(vop(run, 0, kind), None) and not test(vop(run, 1, kind), None), (kind, run)
    for data in (VOP, VOP[:3], VOP[:2]):
        assert not test(data, None)
    # long runs (a time jump of minutes; a hostile packet of 0xFF bytes): the whole 0xFF bytes of the run are
    # skipped at once, and vop_coded is still read from the right bit wherever the run ends
    for run in (70, 77, 78, 79, 80, 81, 500, 8001):
        assert test(vop(run, 0), None) and not test(vop(run, 1), None), run
        assert test(vop(run, 0) + bytes(40), None) and not test(vop(run, 1) + bytes(40), None), run
