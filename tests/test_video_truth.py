"""Media truth for videos: display geometry, frame identity from the stream, streams and names.

Every input is generated here (PyAV writes it); each test states the kind of file it stands for.
Frames of ``index_frames`` carry their index in their mean grey level (16 + step * k), so a
returned frame's identity is read from its pixels, independently of the reader's bookkeeping.
"""

import os
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from video_fixtures import (
    frame_level,
    index_frames,
    patch_avi_frame_count,
    remux,
    write_streams,
    write_video,
)

from forensics.media import ItemError, iter_frames, read_frames, sample_indices, video_info


def ids(frames, step=7):
    """Frame identities read from the pixels of ``index_frames`` frames."""
    return np.rint((np.array([frame_level(f) for f in frames]) - 16) / step).astype(int).tolist()


def picture(h=48, w=64):
    """An upright picture that no rotation or mirror maps onto itself: two ramps and a corner block."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([40 + 160 * xx / (w - 1), 40 + 160 * yy / (h - 1), np.full((h, w), 90.0)], -1)
    img[: h // 3, : w // 4] = 230  # top-left marker
    return img.astype(np.uint8)


def mad(a, b):
    return float(np.abs(a.astype(float) - b.astype(float)).mean()) if a.shape == b.shape else np.inf


def matrix_reference(coded, m):
    """Display image by FFmpeg's definition of the display matrix (libavutil/display.h).

    Each coded pixel (x, y) goes to (x', y') = (x, y, 1) @ M, then the result is shifted to
    non-negative coordinates. Independent of the reader's step-by-step (ffplay) implementation.
    """
    a, b, c, d = m[0] / 65536, m[1] / 65536, m[3] / 65536, m[4] / 65536
    h, w = coded.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    x2, y2 = np.rint(xs * a + ys * c).astype(int), np.rint(xs * b + ys * d).astype(int)
    x2 -= x2.min()
    y2 -= y2.min()
    out = np.zeros((y2.max() + 1, x2.max() + 1, 3), coded.dtype)
    out[y2, x2] = coded[ys, xs]
    return out


def stored_matrix(path):
    """The display matrix FFmpeg attaches to the first decoded frame (9 int32), via PyAV."""
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return np.frombuffer(bytes(frame.side_data.get("DISPLAYMATRIX"))[:36], "<i4").tolist()


# -- 1. display geometry ----------------------------------------------------------------------------
@pytest.mark.parametrize("ext,rotation", [(".mp4", 90), (".mp4", 180), (".mp4", -90), (".mkv", 90)])
def test_display_matrix_turns_frames_upright(tmp_path, ext, rotation):
    # A phone stores the sensor's pixels and a matrix telling players how to turn them.
    upright = picture()
    coded = np.ascontiguousarray(np.rot90(upright, -(rotation // 90)))
    path = write_video(tmp_path / f"phone{ext}", [coded] * 3, rotation=rotation)
    r = read_frames(path, indices=[2, 0])
    assert r.indices.tolist() == [2, 0]
    for frame in r.frames:
        assert mad(frame, upright) < 5
        for wrong in (1, 2, 3):  # the test can tell orientations apart
            assert mad(frame, np.rot90(upright, wrong)) > 20
    assert r.rotation_applied == rotation and r.rotations.tolist() == [rotation] * 2
    assert not r.mirror_applied
    info = r.info
    assert info.rotation == rotation and not info.mirrored
    assert (info.width, info.height) == coded.shape[1::-1]
    assert (info.display_width, info.display_height) == (64, 48)
    assert video_info(path).display_width == 64
    raw = read_frames(path, indices=[0], display=False)
    assert mad(raw.frames[0], coded) < 5 and raw.rotation_applied == 0
    (k, _, frame), = iter_frames(path, [2], errors=[])
    assert k == 2 and np.array_equal(frame, r.frames[0])
    (_, _, frame), = iter_frames(path, [2], errors=[], display=False)
    assert frame.shape == coded.shape


@pytest.mark.parametrize("rotation", [0, 90, 180, -90])
def test_mirrored_display_matrix_matches_its_definition(tmp_path, rotation):
    # A front camera may add a mirror to the matrix; every rotation+mirror combination.
    coded = picture()
    path = write_video(tmp_path / "selfie.mp4", [coded] * 2, rotation=rotation, mirror=True)
    expected = matrix_reference(coded, stored_matrix(path))
    r = read_frames(path, indices=[1])
    assert r.frames[0].shape == expected.shape
    assert mad(r.frames[0], expected) < 5
    assert mad(r.frames[0], np.rot90(coded, rotation // 90)) > 20  # not the unmirrored turn
    assert r.mirror_applied and r.info.mirrored
    assert read_frames(path, indices=[1], display=False).mirror_applied is False


def test_legacy_rotate_tag_is_applied(tmp_path):
    # Old tools wrote a clockwise "rotate" tag instead of a matrix.
    upright = picture()
    coded = np.ascontiguousarray(np.rot90(upright, 1))  # turning it 90 degrees clockwise shows it upright
    path = write_video(tmp_path / "tagged.mkv", [coded] * 2, metadata={"rotate": "90"})
    info = video_info(path)
    assert info.rotation == -90 and (info.display_width, info.display_height) == (64, 48)
    r = read_frames(path, indices=[0])
    assert mad(r.frames[0], upright) < 5 and r.rotation_applied == -90
    assert mad(read_frames(path, indices=[0], display=False).frames[0], coded) < 5


@pytest.mark.parametrize("sar,coded_width", [(Fraction(4, 3), 48), (Fraction(3, 4), 86)])
def test_non_square_pixels_are_resampled_to_square(tmp_path, sar, coded_width):
    # Anamorphic video: the coded width is squeezed (SAR > 1) or stretched (SAR < 1).
    shown = picture(48, 64)
    coded = cv2.resize(shown, (coded_width, 48), interpolation=cv2.INTER_AREA)
    path = write_video(tmp_path / "anamorphic.mp4", [coded] * 2, sample_aspect_ratio=sar)
    display_width = round(coded_width * sar)
    info = video_info(path)
    assert info.sample_aspect_ratio == pytest.approx(float(sar))
    assert (info.width, info.display_width, info.display_height) == (coded_width, display_width, 48)
    r = read_frames(path, indices=[1])
    assert r.frames[0].shape == (48, display_width, 3)
    assert r.sar_applied == pytest.approx(float(sar))
    assert mad(r.frames[0], cv2.resize(shown, (display_width, 48), interpolation=cv2.INTER_AREA)) < 6
    raw = read_frames(path, indices=[1], display=False)
    assert raw.frames[0].shape == (48, coded_width, 3) and raw.sar_applied == 1.0
    interp = cv2.INTER_LINEAR if sar > 1 else cv2.INTER_AREA
    assert np.array_equal(r.frames[0], cv2.resize(raw.frames[0], (display_width, 48), interpolation=interp))


def test_square_pixels_are_left_alone(tmp_path):
    path = write_video(tmp_path / "square.mp4", [picture()] * 2, sample_aspect_ratio=Fraction(1, 1))
    r = read_frames(path, indices=[0])
    assert r.sar_applied == 1.0 and r.info.sample_aspect_ratio == 1.0
    assert np.array_equal(r.frames[0], read_frames(path, indices=[0], display=False).frames[0])


def test_sample_aspect_ratio_then_rotation(tmp_path):
    # Anamorphic and rotated: pixels are made square in the coded layout, then turned.
    shown = picture(48, 64)
    coded = np.ascontiguousarray(np.rot90(cv2.resize(shown, (48, 48), interpolation=cv2.INTER_AREA), -1))
    path = write_video(tmp_path / "both.mp4", [coded] * 2, rotation=90, sample_aspect_ratio=Fraction(4, 3))
    info = video_info(path)
    assert (info.display_width, info.display_height) == (48, 64)
    r = read_frames(path, indices=[0])
    raw = read_frames(path, indices=[0], display=False).frames[0]
    expected = np.rot90(cv2.resize(raw, (64, 48), interpolation=cv2.INTER_LINEAR), 1)
    assert r.frames[0].shape == (64, 48, 3) and np.array_equal(r.frames[0], expected)


# -- 2. frame bookkeeping from the stream -------------------------------------------------------------
@pytest.mark.parametrize("header", [30, 90])
def test_stale_header_frame_count_is_checked_against_the_packets(tmp_path, header):
    # An outside tool rewrote the file but not its header (too small, or too large).
    path = write_video(tmp_path / "clip.avi", index_frames(60, step=3), fps=10, codec="mjpeg")
    patch_avi_frame_count(path, header)
    info = video_info(path)
    assert info.n_frames == 60 and info.header_frames == header
    assert any(f"header gives {header} frames" in e and "60 packets" in e for e in info.errors)
    r = read_frames(path, n=4)
    assert r.indices.tolist() == [0, 20, 39, 59]  # the whole clip, not the header's share
    assert ids(r.frames, step=3) == [0, 20, 39, 59]
    np.testing.assert_allclose(r.timestamps, [0, 2.0, 3.9, 5.9], atol=1e-9)
    assert any(f"header gives {header} frames" in e for e in r.errors)  # -> status "partial"


def test_stale_header_makes_video_features_partial(tmp_path):
    from forensics.features import BlurFeatures, VideoFeatures

    path = patch_avi_frame_count(write_video(tmp_path / "clip.avi", index_frames(12, step=3), codec="mjpeg"), 6)
    vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=3).fit()
    vf.transform([path])
    assert vf.status_["status"].tolist() == ["partial"]
    assert "header gives 6 frames" in vf.status_["error"].iloc[0]
    fine = write_video(tmp_path / "fine.avi", index_frames(12, step=3), codec="mjpeg")
    vf.transform([fine])
    assert vf.status_["status"].tolist() == ["ok"]


VFR_PTS = [200 * i for i in range(20)] + [3800 + 20 * (i + 1) for i in range(20)]  # ms: 5 fps, then 50 fps


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_times_select_the_frame_shown_at_each_time(tmp_path, ext):
    # A recorder that drops its rate: 20 frames 200 ms apart, then 20 frames 20 ms apart (MKV
    # declares 30 fps, as such a recorder would).
    path = write_video(tmp_path / f"vfr{ext}", index_frames(40, step=5), fps=30, pts=VFR_PTS)
    times = np.array(VFR_PTS) / 1000
    info = video_info(path)
    assert info.n_frames == 40 and info.timing == "pts"
    assert 4.2 < info.duration_s < 4.3
    assert info.fps == pytest.approx(40 / info.duration_s)
    asked = [0.0, 0.199, 0.2, 1.05, 3.79, 3.8, 3.81, 3.9, 4.2, info.duration_s]
    shown = [0, 0, 1, 5, 18, 19, 19, 24, 39, 39]  # the last frame whose time is <= t, by hand
    r = read_frames(path, times=asked)
    assert r.indices.tolist() == shown and r.requested.tolist() == shown
    assert ids(r.frames, step=5) == shown
    np.testing.assert_allclose(r.timestamps, times[shown], atol=1e-6)
    assert r.errors == []
    every = read_frames(path, every=1)
    np.testing.assert_allclose(every.timestamps, times, atol=1e-6)
    assert ids(every.frames, step=5) == list(range(40))
    with pytest.raises(ValueError, match="outside"):
        read_frames(path, times=[info.duration_s + 0.05])
    with pytest.raises(ValueError, match="outside"):
        read_frames(path, times=[-0.01])


def test_edit_list_hides_leading_frames(tmp_path):
    # A stream-copy cut: the first 3 coded frames stay in the file for decoding, an edit list hides them.
    src = write_video(tmp_path / "src.mp4", index_frames(20), fps=25, gop=5)
    cut = remux(src, tmp_path / "cut.mp4", shift=-3 / 25)
    info = video_info(cut)
    assert info.n_frames == 17 and info.header_frames == 20  # the header counts coded samples
    assert info.errors == () and info.start_time_s == 0.0
    assert info.duration_s == pytest.approx(17 / 25)
    r = read_frames(cut, every=1)
    assert r.indices.tolist() == list(range(17)) and r.errors == []
    assert ids(r.frames) == list(range(3, 20))
    np.testing.assert_allclose(r.timestamps, np.arange(17) / 25, atol=1e-6)
    r = read_frames(cut, n=3)
    assert r.indices.tolist() == [0, 8, 16] and ids(r.frames) == [3, 11, 19] and r.errors == []


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_video_starting_late_is_timed_from_its_first_frame(tmp_path, ext):
    src = write_video(tmp_path / "src.mkv", index_frames(20), fps=25, gop=5)
    late = remux(src, tmp_path / f"late{ext}", shift=0.4)
    info = video_info(late)
    assert info.start_time_s == pytest.approx(0.4) and info.n_frames == 20
    assert info.duration_s == pytest.approx(0.8) and info.errors == ()
    r = read_frames(late, times=[0.0, 0.5, 0.79])
    assert r.indices.tolist() == [0, 12, 19] and ids(r.frames) == [0, 12, 19]
    np.testing.assert_allclose(r.timestamps, [0.0, 0.48, 0.76], atol=1e-6)
    assert r.errors == []


@pytest.mark.parametrize("ext,open_gop", [(".mp4", False), (".mkv", False), (".mkv", True)])
def test_keyframe_seeks_keep_frame_identity_with_b_frames(tmp_path, ext, open_gop):
    # B-frames: decode order differs from presentation order; keyframes every 5 frames.
    from forensics.media._video import _read

    opts = {"bf": "3"} | ({"x264-params": "open-gop=1"} if open_gop else {})
    path = write_video(tmp_path / f"b{ext}", index_frames(30), gop=5, options=opts)
    want = [27, 1, 12, 13, 22]
    seeking = read_frames(path, indices=want)
    assert seeking.indices.tolist() == want and ids(seeking.frames) == want
    np.testing.assert_allclose(seeking.timestamps, np.array(want) / 25, atol=1e-6)
    assert seeking.errors == []
    for other in (read_frames(path, indices=want, seek=False), read_frames(path, indices=want, threads=2)):
        assert other.indices.tolist() == want
        assert all(np.array_equal(a, b) for a, b in zip(seeking.frames, other.frames))
    *_, dec = _read(path, 0, None, lambda info, table, tb: np.array(want), threads=1, display=True, seek=True)
    assert dec.seeks >= (1 if open_gop else 2)  # 1 -> 12 and 13 -> 22 skip a keyframe interval each (closed GOPs)
    *_, dec = _read(path, 0, None, lambda info, table, tb: np.array(want), threads=1, display=True, seek=False)
    assert dec.seeks == 0


def test_undecodable_packet_does_not_relabel_later_frames(tmp_path):
    # One packet's data is destroyed inside an intact container (all-intra, so nothing else depends on it).
    src = write_video(tmp_path / "intra.mkv", index_frames(30), gop=1)
    bad = remux(src, tmp_path / "bad.mkv", damage={10})
    r = read_frames(bad, every=1)
    assert r.indices.tolist() == [k for k in range(30) if k != 10]
    assert ids(r.frames) == r.indices.tolist()  # every returned frame is the one its index says
    assert r.missing.tolist() == [10]
    assert any("frame 10" in e for e in r.errors)
    r = read_frames(bad, indices=[9, 11, 29])
    assert ids(r.frames) == [9, 11, 29] and r.missing.size == 0


def test_duplicated_and_missing_timestamps_keep_identity(tmp_path):
    # A muxer repeated one timestamp (packet 8 = packet 7) and a recorder dropped a frame after
    # packet 13 (later times jump by one frame interval).
    src = write_video(tmp_path / "intra.mkv", index_frames(20), fps=25, gop=1)
    odd = remux(src, tmp_path / "odd.mkv", pts=lambda i, p: p - 40 if i == 8 else (p + 40 if i >= 14 else p))
    r = read_frames(odd, every=1)
    assert r.indices.tolist() == list(range(20)) and ids(r.frames) == list(range(20))
    assert r.timestamps[7] == r.timestamps[8] == pytest.approx(0.28)
    assert r.timestamps[14] == pytest.approx(0.6)
    assert any("share their presentation timestamp" in e for e in r.errors)
    r = read_frames(odd, times=[0.6, 0.32, 0.56])
    assert r.indices.tolist() == [14, 8, 13] and ids(r.frames) == [14, 8, 13]


def test_three_frames_sharing_one_timestamp_keep_their_order(tmp_path):
    """Packets 7, 8 and 9 carry one timestamp: each keeps its own position (the first, second and
    third frame of that timestamp), not two of them the same; the two-frame case is above."""
    src = write_video(tmp_path / "intra.mkv", index_frames(12), fps=25, gop=1)
    odd = remux(src, tmp_path / "three.mkv", pts=lambda i, p: p - 40 * (i - 7) if i in (8, 9) else p)
    r = read_frames(odd, every=1)
    assert r.indices.tolist() == list(range(12)) and ids(r.frames) == list(range(12))
    assert r.timestamps[7] == r.timestamps[8] == r.timestamps[9] == pytest.approx(0.28)
    r = read_frames(odd, indices=[9, 8])
    assert r.indices.tolist() == [9, 8] and ids(r.frames) == [9, 8]


def test_sample_indices_from_timestamps_by_hand():
    ts = [0.0, 0.2, 0.3, 0.8]
    assert sample_indices(4, times=[0.0, 0.1, 0.2, 0.25, 0.79, 0.8, 1.0], timestamps=ts, duration=1.0).tolist() == \
        [0, 0, 1, 1, 2, 3, 3]
    # default duration: last timestamp + median interval (0.2)
    assert sample_indices(4, times=[0.95], timestamps=ts).tolist() == [3]
    with pytest.raises(ValueError, match="outside"):
        sample_indices(4, times=[1.01], timestamps=ts)
    with pytest.raises(ValueError, match="outside"):
        sample_indices(4, times=[1.0001], timestamps=ts, duration=1.0)
    with pytest.raises(ValueError, match="3 values for 4"):
        sample_indices(4, times=[0.1], timestamps=ts[:3])
    with pytest.raises(ValueError, match="non-decreasing"):
        sample_indices(4, times=[0.1], timestamps=[0.0, 0.3, 0.2, 0.8])
    assert sample_indices(4, times=[0.1], timestamps=ts, fps=100).tolist() == [0]  # timestamps win over fps


# -- 3. several video streams ----------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_the_default_stream_is_read_unless_another_is_chosen(tmp_path, ext):
    small = [np.full((32, 48, 3), 40, np.uint8)] * 4
    main = [np.full((48, 64, 3), 200, np.uint8)] * 6
    path = write_streams(tmp_path / f"two{ext}", [small, main], default=1)
    info = video_info(path)
    assert (info.stream, info.video_streams, info.width, info.n_frames) == (1, 2, 64, 6)
    r = read_frames(path)
    assert len(r) == 6 and abs(frame_level(r.frames[0]) - 200) < 3 and r.info.stream == 1
    r = read_frames(path, stream=0)
    assert len(r) == 4 and abs(frame_level(r.frames[0]) - 40) < 3 and r.info.stream == 0
    assert [k for k, _, _ in iter_frames(path, [0, 5], errors=[])] == [0, 5]
    assert [k for k, _, _ in iter_frames(path, [0, 5], errors=[], stream=0)] == [0]
    with pytest.raises(ItemError, match="2 video stream"):
        read_frames(path, stream=2, index=4)
    with pytest.raises(TypeError, match="stream"):
        read_frames(path, stream="1")


def test_without_a_default_flag_the_first_stream_is_read(tmp_path):
    path = write_streams(tmp_path / "two.mkv", [[np.full((32, 48, 3), 40, np.uint8)] * 3,
                                                [np.full((48, 64, 3), 200, np.uint8)] * 5], default=None)
    info = video_info(path)
    assert (info.stream, info.width, info.n_frames) == (0, 48, 3)


# -- 4. names are names ----------------------------------------------------------------------------
NAMES = ["clip:1.mp4", "file:a.mp4", "concat:a.mp4|a.mp4", "http:a.mp4", "subfile:,,start,0,end,0,,:a.mp4",
         "видео клип (копия).MP4", "café 100% #1.mkv"]


def test_file_names_are_never_protocols(tmp_path, monkeypatch):
    write_video(tmp_path / "a.mp4", [np.full((32, 32, 3), 30, np.uint8)] * 3)
    for k, name in enumerate(NAMES):
        write_video(tmp_path / name, [np.full((32, 32, 3), 60 + 20 * k, np.uint8)] * 5)
    monkeypatch.chdir(tmp_path)
    for k, name in enumerate(NAMES):
        for path in (name, tmp_path / name, os.fsencode(name)):
            r = read_frames(path, n=8)
            assert len(r) == 5, name  # its own 5 frames, not a.mp4's 3
            assert abs(frame_level(r.frames[0]) - (60 + 20 * k)) < 3, name
            assert r.info.path == name if path == name else True
        assert video_info(name).n_frames == 5


def test_nul_byte_in_path_is_an_item_error(tmp_path):
    with pytest.raises(ItemError, match="NUL") as exc:
        read_frames(str(tmp_path / "a\0b.mp4"), index=4)
    assert exc.value.index == 4 and "\0" not in str(exc.value)
    with pytest.raises(ItemError, match="NUL"):
        video_info("x\0.mp4")
    # a lone surrogate cannot be encoded for the file system (valid look-alike: any real name)
    with pytest.raises(ItemError, match="cannot be encoded") as exc:
        read_frames("clip\ud800.mp4", index=6)
    assert exc.value.index == 6
    with pytest.raises(ItemError, match="file not found"):
        read_frames(tmp_path / "clip\u00e9.mp4")


@pytest.mark.parametrize("kind", ["m3u8", "ffconcat"])
def test_a_file_cannot_make_ffmpeg_read_another_file(tmp_path, kind):
    write_video(tmp_path / "other.mp4", [np.full((32, 32, 3), 30, np.uint8)] * 3)
    if kind == "m3u8":
        text = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\nother.mp4\n#EXT-X-ENDLIST\n"
    else:
        text = "ffconcat version 1.0\nfile other.mp4\n"
    path = tmp_path / f"list.{kind}"
    path.write_text(text)
    for fn in (read_frames, video_info):
        with pytest.raises(ItemError, match="refers to other files") as exc:
            fn(path, index=2)
        assert exc.value.index == 2 and exc.value.source == str(path)


def test_non_regular_files_are_refused(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(ItemError, match="not a regular file"):
        read_frames(fifo)
    with pytest.raises(ItemError, match="file not found"):
        read_frames(tmp_path / "a.mp4" / "b.mp4")


def test_a_seek_that_lands_past_its_keyframe_falls_back_to_decoding_from_the_start(tmp_path):
    # A broken index can make a container land after the keyframe asked for; the reader checks
    # where it landed (by the first packet's pts) and decodes from the first byte instead.
    from forensics.media._video import _Decode, _Errors, _probe, _Video

    path = write_video(tmp_path / "b.mp4", index_frames(30), gop=5)
    want = [1, 22, 27]
    with _Video(path, 0) as video:
        info = _probe(video, _Errors())
        real = video.container

        class LandsLate:  # seeks one keyframe interval further than asked
            def seek(self, offset, **kw):
                return real.seek(offset + 5 * int(1 / (25 * video.stream.time_base)), **kw)

            def __getattr__(self, name):
                return getattr(real, name)

        video.container = LandsLate()
        errors = _Errors()
        dec = _Decode(video, want, errors, tag_rotation=info.rotation)
        got = {k: rgb for k, _, rgb, *_ in dec}
    assert dec.seeks == 1 and sorted(got) == want  # the late landing was noticed, then sequential
    assert ids([got[k] for k in want]) == want and not errors


def test_a_request_only_past_the_end_still_checks_that_the_file_decodes(tmp_path):
    from video_fixtures import scramble_packets

    path = write_video(tmp_path / "v.mkv", index_frames(5), gop=1)
    r = read_frames(path, indices=[40])
    assert len(r) == 0 and r.missing.tolist() == [40] and any("holds 5 frames" in e for e in r.errors)
    with pytest.raises(ItemError, match="no frame could be decoded"):
        read_frames(scramble_packets(path, tmp_path / "s.mkv"), indices=[40])


def _mpeg4_avi(path, fourcc=b"FMP4"):
    out = av.open(str(path), "w")
    s = out.add_stream("mpeg4", rate=10)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    for i in range(4):
        for p in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")):
            out.mux(p)
    for p in s.encode():
        out.mux(p)
    out.close()
    data = path.read_bytes()
    assert data.count(b"FMP4") == 2  # the stream header's handler and the bitmap header's compression
    path.write_bytes(data.replace(b"FMP4", fourcc))
    return path


def test_a_codec_without_a_decoder_is_an_item_error_naming_the_file(tmp_path):
    """An AVI whose FourCC FFmpeg does not know: a clear ItemError, not an AttributeError; the same file
    with its real FourCC decodes."""
    unknown = _mpeg4_avi(tmp_path / "unknown.avi", b"ZQZQ")
    for call in (lambda: video_info(unknown), lambda: read_frames(unknown, n=2)):
        with pytest.raises(ItemError, match=r"unknown\.avi.*no decoder for the codec"):
            call()
    known = _mpeg4_avi(tmp_path / "known.avi")
    assert video_info(known).codec == "mpeg4"
    assert len(read_frames(known, n=2).frames) == 2
