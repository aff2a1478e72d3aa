"""A stream that ends with a packet holding no picture: a capture or recording stopped between an access
unit's first bytes (delimiter, parameter sets, SEI; an MPEG-2 sequence header) and its slices.

FFmpeg's parsers hand those bytes on as one last packet; its decoders output no picture for it, and its
players show the frames before it. The truth here is PyAV (FFmpeg) decoding every packet of the file.
"""

import av
import numpy as np
import pytest
from video_fixtures import frame_level, with_tail

from forensics.media import read_frames, video_info
from forensics.media._video import _nal_types, _no_picture, _picture_test

N = 12


def _ffmpeg_frames(path):
    """What FFmpeg shows: the mean level of every picture its decoder outputs, packet by packet (a packet it
    refuses is skipped, as its players skip it)."""
    levels = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for p in c.demux(s):
            try:
                levels += [frame_level(f.to_ndarray(format="rgb24")) for f in p.decode()]
            except av.FFmpegError:
                pass
    return levels


@pytest.mark.parametrize("kind,codec", [
    ("raw", "h264"), ("raw", "hevc"), ("raw", "mpeg2video"),   # elementary streams (an RTSP or tuner dump)
    ("ts", "h264"), ("ts", "mpeg2video"),                       # a tuner's MPEG-TS capture
    ("mp4", "h264"), ("mp4", "hevc"), ("mkv", "h264"),          # a recorder whose last sample holds only SEI
])
def test_a_stream_ending_without_a_picture_counts_the_frames_ffmpeg_shows(tmp_path, kind, codec):
    """Before, the picture-less last packet was counted as frame 12 of 13: even sampling (n=4) asked for
    frames 0, 4, 8 and 12, never read the real last frame 11, and the row was partial ('1 requested frame(s)
    not decoded (12)'). Now it is no frame: 12 frames, n=4 reads 0, 4, 7 and 11, every frame's pixels are
    FFmpeg's, and nothing is reported. Look-alike: the same clip without the tail reads alike."""
    paths = with_tail(tmp_path, kind, codec)
    with av.open(str(paths["tail"])) as c:
        assert sum(1 for p in c.demux(video=0) if p.size) == N + 1  # the tail is a packet of its own
    for name, path in paths.items():
        shown = _ffmpeg_frames(path)
        assert len(shown) == N, name
        info = video_info(path)
        assert (info.n_frames, info.errors) == (N, ()), name
        r = read_frames(path, n=4)
        assert r.indices.tolist() == [0, 4, 7, 11] and r.missing.tolist() == [] and r.errors == [], name
        np.testing.assert_allclose([frame_level(f) for f in r.frames], [shown[k] for k in (0, 4, 7, 11)], atol=1e-9)
        every = read_frames(path, every=1)
        np.testing.assert_allclose([frame_level(f) for f in every.frames], shown, atol=1e-9)


def test_a_last_packet_holding_part_of_a_picture_is_still_a_frame(tmp_path):
    """Look-alike of the above: the capture stopped inside the last picture's slice (headers and 40 bytes of
    an IDR slice): that packet holds a picture, FFmpeg outputs it (damaged), and it stays frame 12, decoded
    with errors and named."""
    path = with_tail(tmp_path, "raw", "h264", cut_slice=40)["tail"]
    shown = _ffmpeg_frames(path)
    assert len(shown) == N + 1
    info = video_info(path)
    assert info.n_frames == N + 1
    r = read_frames(path, indices=[N])
    assert r.indices.tolist() == [N] and any(f"frame {N} decoded with errors" in e for e in r.errors)


def test_nal_units_are_read_in_both_layouts():
    """The unit walk by hand: Annex-B start codes of 3 and 4 bytes, and length prefixes of 4 and 2 bytes; a
    length that runs past the packet is no such layout (None)."""
    sei, slice_ = b"\x06\x05\x01\xaa", b"\x65\x88\x80"
    assert _nal_types(b"\x00\x00\x00\x01" + sei + b"\x00\x00\x01" + slice_, 0) == [0x06, 0x65]
    assert _nal_types(len(sei).to_bytes(4, "big") + sei + len(slice_).to_bytes(4, "big") + slice_, 4) == [0x06, 0x65]
    assert _nal_types(len(sei).to_bytes(2, "big") + sei, 2) == [0x06]
    assert _nal_types((len(sei) + 1).to_bytes(4, "big") + sei, 4) is None  # one byte past the end
    assert _nal_types(b"", 0) == [] and _nal_types(b"\x00\x00\x01", 0) == []


@pytest.mark.parametrize("codec,units,holds", [
    ("h264", [0x09, 0x67, 0x68, 0x06], False),  # AUD, SPS, PPS, SEI
    ("h264", [0x67, 0x68, 0x65], True),         # ... and an IDR slice (type 5)
    ("h264", [0x01], True),                     # a non-IDR slice (type 1, the lowest)
    ("h264", [0x0A], False),                    # end of sequence (type 10)
    ("hevc", [0x40, 0x42, 0x44, 0x4E], False),  # VPS, SPS, PPS, prefix SEI (types 32-34, 39)
    ("hevc", [0x40, 0x3E], True),               # ... and a type 31 unit (the last VCL type)
    ("hevc", [0x02], True),                     # TRAIL_R (type 1)
])
def test_which_units_hold_a_picture(codec, units, holds):
    """VCL NAL unit types at and around their bounds (H.264: 1-5; HEVC: below 32), in Annex-B packets."""
    stream = type("S", (), {"codec_context": type("C", (), {"name": codec, "extradata": b""})()})()
    test = _picture_test(stream)
    assert test(b"".join(b"\x00\x00\x00\x01" + bytes([u, 0x01]) for u in units)) is holds


def test_only_trailing_packets_without_a_picture_are_taken_and_one_is_always_left():
    """Walked back from the end: stops at the first packet with a picture (a picture-less packet before it,
    inside the stream, is kept), and never takes the first of the packets given."""
    def picture(data):
        return data == b"P"

    assert _no_picture(picture, [b"P", b"-", b"P", b"-", b"-"], 20) == [19, 18]
    assert _no_picture(picture, [b"-", b"-", b"-"], 3) == [2, 1]
    assert _no_picture(picture, [b"P"], 1) == [] and _no_picture(None, [b"-", b"-"], 2) == ()


def test_a_stream_ending_without_a_picture_keeps_its_times(tmp_path):
    """MPEG-TS (timestamps): the last frame keeps its time, 11 / 25 s, and the duration ends with it."""
    path = with_tail(tmp_path, "ts", "h264")["tail"]
    info = video_info(path)
    assert info.duration_s == pytest.approx(N / 25)
    r = read_frames(path, times=[info.duration_s - 1e-6])
    assert r.indices.tolist() == [N - 1] and r.timestamps[0] == pytest.approx((N - 1) / 25)
