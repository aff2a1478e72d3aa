"""The video reader's bookkeeping by kind (issue 16), without decoding: frame selection at and
around each boundary, the packet table on hand-written packet lists (reordering, discards,
duplicates, leading pictures), display transforms from their definitions, error capping.

The packet lists are the values PyAV reports per packet (pts, dts, keyframe, discard, duration);
the table is the real class, fed as ``_scan`` feeds it.
"""

import numpy as np
import pytest

from forensics.media._video import (_MAX_ERRORS, _as_count, _check_indices, _Errors, _Geometry, _normalize_angle,
                                    _suffix, _Table, sample_indices)

# -- frame selection ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_frames, n", [(9, 9), (9, 10), (9, 8), (2, 2), (2, 1), (1, 1), (1, 5)])
def test_n_around_the_frame_count(n_frames, n):
    got = sample_indices(n_frames, n=n)
    expected = np.unique(np.floor(np.linspace(0, n_frames - 1, n) + 0.5)) if n < n_frames else np.arange(n_frames)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    assert got[0] == 0 and (n == 1 or got[-1] == n_frames - 1)


def test_n_rounds_half_up_and_keeps_the_last_frame():
    # linspace(0, 7, 3) = 0, 3.5, 7: 3.5 rounds up (banker's rounding would give 4 too, so use 5.5)
    assert sample_indices(12, n=3).tolist() == [0, 6, 11]  # 0, 5.5, 11
    assert sample_indices(4, n=3).tolist() == [0, 2, 3]  # 0, 1.5, 3
    assert sample_indices(100, n=2).tolist() == [0, 99]
    assert sample_indices(100, n=1).tolist() == [0]


@pytest.mark.parametrize("n_frames, every, expected", [
    (10, 1, list(range(10))), (10, 9, [0, 9]), (10, 10, [0]), (10, 11, [0]), (11, 5, [0, 5, 10]),
])
def test_every_at_its_boundaries(n_frames, every, expected):
    assert sample_indices(n_frames, every=every).tolist() == expected


def test_times_with_fps_at_and_around_the_end():
    # 10 frames at 4 fps: the video lasts 2.5 s; t = 2.5 is inside (clipped to the last frame)
    assert sample_indices(10, times=[2.5], fps=4).tolist() == [9]
    assert sample_indices(10, times=[2.25], fps=4).tolist() == [9]
    assert sample_indices(10, times=[0.125, 0.375, 0.0], fps=4).tolist() == [1, 2, 0]  # half up: 0.5 -> 1, 1.5 -> 2
    assert sample_indices(10, times=0.5, fps=4).tolist() == [2]  # a scalar time
    assert sample_indices(10, times=[1], fps=np.float32(4)).tolist() == [4]
    with pytest.raises(ValueError, match=r"times \[2.5001\] are outside the video \(0 to 2.500 s, 10 frames at 4 fps\)"):
        sample_indices(10, times=[1.0, 2.5001], fps=4)
    with pytest.raises(ValueError, match="outside"):
        sample_indices(10, times=[-1e-9], fps=4)
    for fps in (None, 0, -4, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"times needs timestamps or a positive fps, got fps="):
            sample_indices(10, times=[0.0], fps=fps)
    with pytest.raises(ValueError, match=r"times must be 1-D, got shape \(1, 2\)"):
        sample_indices(10, times=[[0.0, 1.0]], fps=4)
    with pytest.raises(ValueError, match="at most one of every and times"):
        sample_indices(10, times=[0.0], every=2, fps=4)


def test_times_with_timestamps_at_each_frame_boundary():
    ts = [0.0, 0.5, 0.5, 1.5]  # a duplicated timestamp, then a long frame
    assert sample_indices(4, times=[0.5 - 1e-6, 0.5, 1.499, 1.5], timestamps=ts, duration=2.0).tolist() == [0, 2, 2, 3]
    assert sample_indices(4, times=[2.0], timestamps=ts, duration=2.0).tolist() == [3]  # at the end: inside
    with pytest.raises(ValueError, match=r"outside the video \(0 to 2.000 s\)"):
        sample_indices(4, times=[2.00001], timestamps=ts, duration=2.0)
    # default duration: 1.5 + median(0.5, 0, 1.0) = 2.0
    assert sample_indices(4, times=[2.0], timestamps=ts).tolist() == [3]
    with pytest.raises(ValueError, match="outside"):
        sample_indices(4, times=[2.0001], timestamps=ts)
    assert sample_indices(1, times=[0.0], timestamps=[0.0]).tolist() == [0]  # one frame: duration is its start
    with pytest.raises(ValueError, match="outside"):
        sample_indices(1, times=[0.001], timestamps=[0.0])
    for bad in ([0.0, np.nan, 1.0, 2.0], [0.0, np.inf, 1.0, 2.0]):
        with pytest.raises(ValueError, match="finite and non-decreasing"):
            sample_indices(4, times=[0.0], timestamps=bad)
    with pytest.raises(ValueError, match="5 values for 4 frames"):
        sample_indices(4, times=[0.0], timestamps=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="outside"):
        sample_indices(4, times=[np.nan], timestamps=ts)


def test_counts_must_be_integers_at_least_their_minimum():
    assert _as_count(1, "n") == 1 and _as_count(np.int32(3), "n") == 3 and isinstance(_as_count(np.int64(2), "n"), int)
    assert _as_count(0, "k", minimum=0) == 0
    with pytest.raises(ValueError, match="k must be >= 0, got -1"):
        _as_count(-1, "k", minimum=0)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        _as_count(0, "n")
    for bad in (True, np.bool_(True), 2.0, "3", None):
        with pytest.raises(TypeError, match="n must be an integer, got"):
            _as_count(bad, "n")


def test_explicit_indices_are_checked():
    np.testing.assert_array_equal(_check_indices([3, 0, 3]), [3, 0, 3])
    np.testing.assert_array_equal(_check_indices(5), [5])
    np.testing.assert_array_equal(_check_indices(np.array([2.0, 0.0])), [2, 0])
    assert _check_indices(np.array([1], np.uint8)).dtype == np.int64
    np.testing.assert_array_equal(_check_indices([0]), [0])
    with pytest.raises(ValueError, match=r"indices must be >= 0, got \[-1, -3\]"):
        _check_indices([2, -1, 0, -3])
    with pytest.raises(ValueError, match=r"1-D, got shape \(2, 2\)"):
        _check_indices([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="indices is empty"):
        _check_indices([])
    for bad in ([1.5], [np.nan], [np.inf]):
        with pytest.raises(ValueError, match="whole numbers"):
            _check_indices(np.array(bad))
    for bad in (["a"], [True, False]):
        with pytest.raises(TypeError, match="indices must be integers, got dtype"):
            _check_indices(bad)


# -- errors: distinct messages, repeats counted, capped -------------------------------------------

def test_errors_are_counted_and_capped():
    errs = _Errors(["a", "b", "a"])
    assert bool(errs) and errs.as_list() == ["a (x2)", "b"]
    assert not _Errors()
    assert _suffix(_Errors()) == ""
    assert _suffix(_Errors(["w", "x", "y", "z", "x"])) == " (w; x (x2); y)"
    full = _Errors(f"m{i}" for i in range(_MAX_ERRORS))
    assert len(full.as_list()) == _MAX_ERRORS and "(further distinct errors not kept)" not in full.counts
    full.add("m0")
    full.add("extra1")
    full.add("extra2")
    full.add("extra1")
    listed = full.as_list()
    assert listed[0] == "m0 (x2)" and len(listed) == _MAX_ERRORS + 1
    assert listed[-1] == "(further distinct errors not kept) (x3)"
    assert _MAX_ERRORS == 20


# -- the packet table ---------------------------------------------------------------------------

def _table(pts, key, discard=None, dur=None, dts=None, trust=True):
    n = len(pts)
    return _Table(list(pts), list(dts if dts is not None else range(n)), list(key),
                  list(discard if discard is not None else [False] * n), list(dur if dur is not None else [1] * n),
                  trust)


def test_table_of_a_stream_with_b_frames():
    # decode order I0 P3 B1 B2 | I4 P7 B5 B6 (closed GOPs): pts as a reordering encoder writes them
    pts = [0, 3, 1, 2, 4, 7, 5, 6]
    key = [1, 0, 0, 0, 1, 0, 0, 0]
    t = _table(pts, key, dur=[1, 1, 1, 1, 1, 3, 1, 2])
    assert t.timing == "pts" and t.n == 8 and t.n_packets == 8
    assert t.pts.tolist() == list(range(8))
    assert t.packet_of_frame.tolist() == [0, 2, 3, 1, 4, 6, 7, 5]
    assert t.frame_of_packet.tolist() == [0, 3, 1, 2, 4, 7, 5, 6]
    assert t.keyframe_interval == 4.0 and t.duplicates == 0
    assert t.clean_keys == [0, 4] and t.first_packet == (0, 0)
    assert t.last_duration == 3  # the duration of the last frame shown (pts 7), not of the last packet
    assert [t.seek_target(k) for k in range(8)] == [0, 0, 0, 0, 4, 4, 4, 4]
    assert t.packet_of_pts[3] == 1 and t.by_pts[5] == [5]


def test_open_gop_leading_pictures_seek_from_the_previous_keyframe():
    # decode order I0 P2 B1 | I5 B3 B4 (leading pictures of I5, referencing P2) P6
    pts = [0, 2, 1, 5, 3, 4, 6]
    key = [1, 0, 0, 1, 0, 0, 0]
    t = _table(pts, key)
    assert t.clean_keys == [0, 3]  # I5 is clean: nothing before it in decode order shows after it
    assert [t.seek_target(k) for k in range(7)] == [0, 0, 0, 0, 0, 3, 3]  # frames 3, 4 lead I5: from I0
    # a keyframe shown before an earlier-decoded frame is not a clean start
    t = _table([0, 4, 2, 3, 5], [1, 0, 1, 0, 0])
    assert t.clean_keys == [0]
    assert t.seek_target(1) == 0


def test_discarded_duplicate_and_missing_timestamps():
    t = _table([0, 1, 1, 2], [1, 0, 0, 1], discard=[False, True, False, False], dts=[-1, 0, 1, 2])
    assert t.n == 3 and t.n_packets == 4 and t.pts.tolist() == [0, 1, 2]
    assert t.frame_of_packet.tolist() == [0, -1, 1, 2] and t.first_packet == (-1, 0)
    assert t.keyframe_interval == 3.0
    dup = _table([0, 1, 1, 2], [1, 0, 0, 0])
    assert dup.duplicates == 1 and dup.by_pts[1] == [1, 2]  # ties kept in decode order
    assert dup.packet_of_pts[1] == 1
    no_pts = _table([0, None, 2], [1, 0, 0])
    assert no_pts.timing == "decode order" and no_pts.pts is None and no_pts.n == 3 and no_pts.duplicates == 0
    assert _table([0, None, 2], [1, 0, 0], discard=[False, True, False]).timing == "pts"  # a discarded one
    assert _table([0, 1], [1, 0], trust=False).timing == "decode order"
    assert _table([0], [1]).keyframe_interval is None
    assert _table([0, 1, 2, 3, 4, 5, 6], [1, 1, 0, 0, 0, 1, 0]).keyframe_interval == 2.5  # median of 1, 4
    empty = _Table([], [], [], [], [], True)
    assert empty.n == 0 and empty.timing == "decode order" and empty.first_packet == (None, None)


# -- display geometry -----------------------------------------------------------------------------

def test_normalize_angle_range():
    assert [_normalize_angle(d) for d in (0, 90, 180, 181, 270, 360, -90, -180, -181, 450, 89.6, "-90")] == [
        0, 90, 180, -179, -90, 0, -90, 180, 179, 90, 90, -90]


def test_geometry_from_the_rotate_tag():
    a = np.arange(6).reshape(2, 3, 1)
    for rotation, turn in ((0, 0), (90, 1), (-90, -1), (180, 2)):
        g = _Geometry.from_tag(rotation)
        assert g.note is None and not g.mirrored and g.rotation == rotation
        np.testing.assert_array_equal(g.apply(a), np.rot90(a, turn))
        assert g.turns == (turn in (1, -1))
    g = _Geometry.from_tag(45)
    assert g.steps == () and "rotate tag of 45 degrees (not a multiple of 90) not applied" == g.note
    assert g.apply(a) is a


def test_geometry_size_with_sample_aspect_ratio():
    assert _Geometry.from_tag(0).size(100, 50, 1.5) == (150, 50)
    assert _Geometry.from_tag(90).size(100, 50, 1.5) == (50, 150)
    assert _Geometry.from_tag(0).size(3, 50, 0.1) == (1, 50)  # at least one pixel
    assert _Geometry.from_tag(0).size(5, 2, 0.5) == (2, 2)  # round(2.5) == 2


def _matrix(a, b, c, d):
    return [int(a * 65536), int(b * 65536), 0, int(c * 65536), int(d * 65536), 0, 0, 0, 1 << 30]


@pytest.mark.parametrize("m, steps, rotation, mirrored", [
    ((1, 0, 0, 1), (), 0, False),
    ((0, 1, -1, 0), ("clock",), -90, False),      # theta 90, m[3] < 0
    ((0, 1, 1, 0), ("transpose",), -90, True),    # theta 90, m[3] > 0
    ((-1, 0, 0, -1), ("hflip", "vflip"), 180, False),
    ((-1, 0, 0, 1), ("hflip",), 180, True),
    ((1, 0, 0, -1), ("vflip",), 0, True),
    ((0, -1, 1, 0), ("cclock",), 90, False),      # theta 270, m[3] > 0
    ((0, -1, -1, 0), ("clock_flip",), 90, True),  # theta 270, m[3] < 0
])
def test_geometry_from_the_display_matrix(m, steps, rotation, mirrored):
    g = _Geometry.from_matrix(_matrix(*m))
    assert g.steps == steps and g.rotation == rotation and g.mirrored == mirrored and g.note is None
    a = np.arange(6).reshape(2, 3, 1)
    out = g.apply(a)
    assert out.flags["C_CONTIGUOUS"] and out.shape == ((3, 2, 1) if g.turns else (2, 3, 1))


@pytest.mark.parametrize("m, steps", [
    ((1, 0, 0, 1), ()), ((0, 1, -1, 0), ("clock",)), ((0, 1, 1, 0), ("transpose",)),
    ((-1, 0, 0, -1), ("hflip", "vflip")), ((-1, 0, 0, 1), ("hflip",)), ((1, 0, 0, -1), ("vflip",)),
    ((0, -1, 1, 0), ("cclock",)), ((0, -1, -1, 0), ("clock_flip",)),
])
def test_geometry_depends_on_signs_not_on_scale(m, steps):
    """The same matrices at the smallest scale 16.16 can hold (entries of +-1/65536): only the
    signs of the entries choose the steps, as in FFmpeg's autorotate."""
    a, b, c, d = m
    assert _Geometry.from_matrix([a, b, 0, c, d, 0, 0, 0, 1 << 30]).steps == steps


def test_geometry_step_definitions():
    a = np.arange(6).reshape(2, 3, 1)
    expected = {"clock": np.rot90(a, -1), "cclock": np.rot90(a, 1), "transpose": a.transpose(1, 0, 2),
                "clock_flip": a[::-1, ::-1].transpose(1, 0, 2), "hflip": a[:, ::-1], "vflip": a[::-1]}
    for name, want in expected.items():
        np.testing.assert_array_equal(_Geometry(0, False, (name,)).apply(a), want, err_msg=name)


def test_geometry_of_degenerate_and_oblique_matrices():
    g = _Geometry.from_matrix(_matrix(0, 0, 0, 0))
    assert g.steps == () and g.note == "degenerate display matrix ignored"
    assert g.rotation == 0 and g.mirrored is False and not g.turns
    g = _Geometry.from_matrix(_matrix(0, 1, 0, 0))  # first column zero
    assert g.note == "degenerate display matrix ignored"
    r = np.sqrt(0.5)
    g = _Geometry.from_matrix(_matrix(r, -r, r, r))
    assert g.steps == () and g.rotation == 45 and "display matrix rotates by 45 degrees" in g.note
    near = _Geometry.from_matrix(_matrix(np.cos(np.radians(90.4)), np.sin(np.radians(90.4)),
                                         -np.sin(np.radians(90.4)), np.cos(np.radians(90.4))))
    assert near.steps == ("clock",)  # within a degree of 90: a quarter turn
    off = _Geometry.from_matrix(_matrix(np.cos(np.radians(88)), np.sin(np.radians(88)),
                                        -np.sin(np.radians(88)), np.cos(np.radians(88))))
    assert off.steps == () and off.note is not None
    scaled = _Geometry.from_matrix(_matrix(0, 2, -2, 0))  # a scale does not change the angle
    assert scaled.steps == ("clock",)
    for deg in (0.4, -0.4):  # rounds to 0: upright
        almost = _Geometry.from_matrix(_matrix(np.cos(np.radians(deg)), np.sin(np.radians(deg)),
                                               -np.sin(np.radians(deg)), np.cos(np.radians(deg))))
        assert almost.steps == () and almost.note is None and almost.rotation == 0
    tilted = _Geometry.from_matrix(_matrix(np.cos(np.radians(-1)), np.sin(np.radians(-1)),
                                           -np.sin(np.radians(-1)), np.cos(np.radians(-1))))
    assert tilted.steps == () and tilted.rotation == 1 and "rotates by 1 degrees" in tilted.note


# -- with small real files: thresholds and refusals of the reader ---------------------------------

@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from video_fixtures import index_frames, write_video

    d = tmp_path_factory.mktemp("units")
    # no B-frames: packets in frame order, keyframes at 0, 5, 10, ...
    return write_video(d / "v.mp4", index_frames(30), gop=5, options={"bf": "0"})


def _seeks(path, want):
    from forensics.media._video import _Decode, _Errors, _probe, _Video

    with _Video(path, 0) as video:
        info = _probe(video, _Errors())
        dec = _Decode(video, want, _Errors(), tag_rotation=info.rotation)
        got = [k for k, *_ in dec]
    assert got == sorted(want)
    return dec.seeks


def test_keyframe_seek_only_when_it_skips_more_than_four_packets(clip):
    from forensics.media._video import _SEEK_MIN_SKIP

    assert _SEEK_MIN_SKIP == 4
    assert _seeks(clip, [1, 6]) == 0  # keyframe 5 is 4 packets past packet 1: decode on
    assert _seeks(clip, [0, 6]) == 1  # 5 packets: seek
    assert _seeks(clip, [6]) == 1  # from the start (position -1): 6 packets to keyframe 5
    assert _seeks(clip, [3]) == 0  # its keyframe is the first packet


def test_missing_frames_are_listed_up_to_ten(clip):
    from forensics.media._video import read_frames

    r = read_frames(clip, indices=[2] + list(range(30, 40)))
    assert r.missing.tolist() == list(range(30, 40))
    assert "10 requested frame(s) not decoded (30, 31, 32, 33, 34, 35, 36, 37, 38, 39): the stream holds 30 " \
           "frames" in r.errors
    r = read_frames(clip, indices=[2] + list(range(30, 41)))
    assert "11 requested frame(s) not decoded (30, 31, 32, 33, 34, 35, 36, 37, 38, 39, ...): the stream holds " \
           "30 frames" in r.errors
    assert r.indices.tolist() == [2] and len(r.frames) == 1 and r.timestamps.tolist() == [2 / 25]


def test_stream_argument_is_checked(clip):
    from forensics.media import ItemError
    from forensics.media._video import read_frames, video_info

    assert video_info(clip, stream=0).stream == 0 and video_info(clip, stream=np.int64(0)).video_streams == 1
    for bad in (1, 2, -1):  # the first position past the end, one further, and before the start
        with pytest.raises(ItemError, match=rf"item 2 \(.*v\.mp4\): has 1 video stream\(s\); stream={bad} asked"):
            video_info(clip, index=2, stream=bad)
    for bad in (True, 0.0, "0"):
        with pytest.raises(TypeError, match="stream must be an integer"):
            read_frames(clip, n=1, stream=bad)


def test_paths_of_each_kind(clip, tmp_path):
    from forensics.media import ItemError
    from forensics.media._video import video_info

    assert video_info(bytes(str(clip), "utf-8")).n_frames == 30
    with pytest.raises(ItemError, match="a video must be given as a path, got int") as err:
        video_info(5, index=4)
    assert err.value.index == 4 and err.value.source is None
    with pytest.raises(ItemError, match="file not found"):
        video_info(clip / "inner.mp4")  # a file used as a folder
    with pytest.raises(ItemError, match="the path cannot be encoded for the file system") as err:
        video_info(str(tmp_path / "a\ud800b.mp4"))
    str(err.value).encode("utf-8")


def test_read_frames_reports_what_it_applied(clip):
    from forensics.media._video import read_frames

    r = read_frames(clip, indices=[4, 1])
    assert (r.rotation_applied, r.mirror_applied, r.sar_applied) == (0, False, 1.0)
    assert r.rotations.tolist() == [0, 0] and r.mirrors.tolist() == [False, False]
    assert r.decoder == "software" and r.decoder_note == ""
    assert r.info.n_frames == 30 and r.info.timing == "pts" and r.info.fps == pytest.approx(25)
    assert r.info.duration_s == pytest.approx(1.2) and r.info.keyframe_interval == 5
    none = read_frames(clip, indices=[31])
    assert (none.rotation_applied, none.sar_applied, len(none)) == (0, 1.0, 0)


def _mkv_with_audio(path, n):
    import av
    from video_fixtures import index_frames

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 96, 64, "yuv420p"
        v.options = {"crf": "18", "preset": "veryfast", "threads": "1", "g": "5", "keyint_min": "5", "sc_threshold": "0"}
        a = out.add_stream("pcm_s16le", rate=8000)
        for k, arr in enumerate(index_frames(n)):
            for pk in v.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(pk)
            f = av.AudioFrame.from_ndarray(np.zeros((1, 320), np.int16), format="s16", layout="mono")
            f.sample_rate, f.pts = 8000, k * 320
            for pk in a.encode(f):
                out.mux(pk)
        for s in (v, a):
            for pk in s.encode():
                out.mux(pk)
    return path


def test_container_duration_is_checked_only_for_a_single_stream(tmp_path):
    from video_fixtures import index_frames, write_video

    from forensics.media._video import video_info

    one = write_video(tmp_path / "one.mkv", index_frames(30), gop=5)
    assert video_info(one).errors == ()  # look-alike: intact
    data = one.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:int(len(data) * 0.8)])
    info = video_info(cut)
    assert info.n_frames == 20
    assert "the container gives a duration of 1.200 s but the frames end at 0.800 s (truncated file?)" in info.errors
    two = _mkv_with_audio(tmp_path / "two.mkv", 30)
    data = two.read_bytes()
    cut.write_bytes(data[:int(len(data) * 0.8)])
    info = video_info(cut)
    assert 0 < info.n_frames < 30  # cut too, but the container's duration may be the audio's: not compared
    assert not any("container gives a duration" in e for e in info.errors)


def test_variable_frame_rate_without_packet_durations_ends_one_median_interval_after_the_last_frame(tmp_path):
    from video_fixtures import index_frames, write_video

    from forensics.media._video import _Errors, _probe, _rate, _Video

    # MPEG-TS stores no packet durations; intervals of 20 ms once, then 40 ms: FFmpeg's rate guess
    # follows the shortest interval (50 fps), the median interval is 40 ms
    path = write_video(tmp_path / "vfr.ts", index_frames(6), pts=[0, 20, 60, 100, 140, 180])
    with _Video(path, 0) as video:
        info = _probe(video, _Errors())
        assert video.table.last_duration == 0 and _rate(video.stream) == 50
    assert info.duration_s == pytest.approx(0.22) and info.fps == pytest.approx(6 / 0.22)
    assert info.n_frames == 6 and info.errors == ()


def test_rotation_is_rounded_from_the_exact_16_16_matrix():
    """av_display_rotation_get on integer entries: the angle of (m0, m3) and (m1, m4) normalised by
    their own lengths; here 30.49992 degrees, just below a rounding boundary."""
    import math

    m = [56074, -33030, 0, 33030, 56074, 0, 0, 0, 1 << 30]
    ccw = -math.degrees(math.atan2(m[1] / math.hypot(m[1], m[4]), m[0] / math.hypot(m[0], m[3])))
    assert 30.4999 < ccw < 30.5
    g = _Geometry.from_matrix(m)
    assert g.rotation == 30 and g.steps == () and "rotates by 30 degrees" in g.note


def test_second_column_zero_is_degenerate_too():
    g = _Geometry.from_matrix(_matrix(1, 0, 0, 0))
    assert g.steps == () and g.note == "degenerate display matrix ignored" and g.rotation == 0


def test_whole_number_sample_aspect_ratio(tmp_path):
    from fractions import Fraction

    from video_fixtures import index_frames, write_video

    from forensics.media._video import read_frames, video_info

    path = write_video(tmp_path / "wide.mp4", index_frames(3, size=(32, 24)), sample_aspect_ratio=Fraction(2, 1))
    info = video_info(path)
    assert info.sample_aspect_ratio == 2.0 and (info.width, info.display_width, info.display_height) == (24, 48, 32)
    r = read_frames(path, indices=[0])
    assert r.frames[0].shape == (32, 48, 3) and r.sar_applied == 2.0


def test_a_request_past_the_end_decodes_past_an_undecodable_first_packet(tmp_path):
    from video_fixtures import index_frames, remux, write_video

    from forensics.media._video import read_frames

    src = write_video(tmp_path / "intra.mkv", index_frames(5), gop=1)
    bad = remux(src, tmp_path / "bad.mkv", damage={0})
    r = read_frames(bad, indices=[1])
    assert r.indices.tolist() == [1]
    assert any(e.startswith("frame 0: packet failed to decode (InvalidDataError") for e in r.errors)  # frame 0 too
    r = read_frames(remux(src, tmp_path / "bad2.mkv", damage={2}), indices=[1, 3])
    assert r.indices.tolist() == [1, 3] and r.missing.tolist() == []
    assert any(e.startswith("frame 2: packet failed to decode (InvalidDataError") for e in r.errors)
    r = read_frames(bad, indices=[40])  # nothing requested exists: the file must still decode something
    assert len(r) == 0 and r.missing.tolist() == [40]


def _with_cover(path, n_frames, cover_first=True):
    """An MP4 holding a cover picture (a JPEG stream flagged attached_pic) and, unless n_frames is 0,
    a video stream."""
    import io

    import av
    from PIL import Image
    from video_fixtures import index_frames

    jpg = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(jpg, "JPEG")
    with av.open(str(path), "w") as out:
        def add_cover():
            c = out.add_stream("mjpeg")
            c.width, c.height, c.pix_fmt = 16, 16, "yuvj420p"
            c.disposition = av.stream.Disposition.attached_pic
            return c

        c = add_cover() if cover_first else None
        v = None
        if n_frames:
            v = out.add_stream("libx264", rate=25)
            v.width, v.height, v.pix_fmt = 96, 64, "yuv420p"
            v.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
        c = c or add_cover()
        pk = av.Packet(jpg.getvalue())
        pk.stream, pk.pts, pk.dts = c, 0, 0
        out.mux(pk)
        if v is not None:
            for arr in index_frames(n_frames):
                for q in v.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    out.mux(q)
            for q in v.encode():
                out.mux(q)
    return path


def test_cover_pictures_are_never_read_as_the_video(tmp_path):
    from forensics.media import ItemError
    from forensics.media._video import read_frames, video_info

    path = _with_cover(tmp_path / "cover.mp4", 5)
    info = video_info(path)
    assert (info.stream, info.video_streams, info.n_frames, info.width) == (0, 2, 5, 96)  # the muxer puts it first
    assert video_info(path, stream=0).n_frames == 5
    with pytest.raises(ItemError, match=r"video stream 1 is a cover picture, not a video"):
        read_frames(path, stream=1)
    only = _with_cover(tmp_path / "only.mp4", 0)
    with pytest.raises(ItemError, match=r"has no video stream \(container 'mov,mp4"):
        video_info(only)


def test_video_frames_defaults():
    from forensics.media._video import VideoFrames

    empty = np.zeros(0, np.int64)
    r = VideoFrames(frames=[], indices=empty, timestamps=np.zeros(0), requested=empty, missing=empty)
    assert len(r) == 0 and r.errors == [] and r.info is None
    assert r.rotations.dtype == np.int64 and r.rotations.shape == (0,)
    assert r.mirrors.dtype == bool and r.mirrors.shape == (0,)
    assert (r.rotation_applied, r.mirror_applied, r.sar_applied, r.decoder, r.decoder_note) == (0, False, 1.0,
                                                                                                "software", "")


def test_last_frame_lasts_its_own_packet_duration(tmp_path):
    from video_fixtures import index_frames, write_video

    from forensics.media._video import _Errors, _probe, _Video

    # intervals 100, 100, 100, 40, 40 ms: the median is 100 ms, the last frame's packet says 40 ms
    path = write_video(tmp_path / "vfr.mkv", index_frames(6), pts=[0, 100, 200, 300, 340, 380])
    with _Video(path, 0) as video:
        info = _probe(video, _Errors())
        assert video.table.last_duration == 40
    assert info.duration_s == pytest.approx(0.42)


def test_decode_order_stream_is_timed_by_its_nominal_rate(tmp_path):
    from video_fixtures import index_frames, write_video

    from forensics.media._video import read_frames, video_info

    path = write_video(tmp_path / "v.avi", index_frames(10), gop=5)  # AVI with B-frames: no usable pts
    info = video_info(path)
    assert (info.timing, info.n_frames, info.fps) == ("decode order", 10, 25.0)
    assert info.duration_s == pytest.approx(10 / 25) and info.errors == ()  # no timestamps, no duplicates
    r = read_frames(path, indices=[7, 0, 3])
    assert r.indices.tolist() == [7, 0, 3]
    np.testing.assert_allclose(r.timestamps, [7 / 25, 0, 3 / 25])


def test_a_matrix_one_degree_off_a_quarter_turn_is_not_turned():
    import math

    for deg, steps in ((90, ("clock",)), (91, ()), (89, ()), (179, ()), (181, ()), (271, ()), (269, ()),
                       (1, ()), (359, ()), (0, ()), (360, ())):
        t = math.radians(-deg)  # clockwise deg: theta = deg
        g = _Geometry.from_matrix(_matrix(math.cos(t), -math.sin(t), math.sin(t), math.cos(t)))
        assert g.steps == steps, deg
        assert (g.note is None) is (deg % 90 == 0), deg  # one degree off is left unturned, and said so


def test_leading_pictures_of_the_first_keyframe_have_no_seek_target():
    # decode order K(pts 2) B(0) B(1) P(3): frames 0 and 1 are shown before the first keyframe
    t = _table([2, 0, 1, 3], [1, 0, 0, 0])
    assert t.clean_keys == [0]
    assert [t.seek_target(k) for k in range(4)] == [None, None, 0, 0]


def test_os_errors_other_than_missing_name_the_file(tmp_path):
    from forensics.media import ItemError
    from forensics.media._video import read_frames

    long_name = tmp_path / ("x" * 300 + ".mp4")  # longer than a file name may be
    with pytest.raises(ItemError, match=r"item 6 \(.*\): cannot read file \(File name too long\)") as err:
        read_frames(long_name, index=6)
    assert err.value.index == 6


def test_bit_rate_falls_back_to_the_containers(clip, tmp_path):
    import av
    from video_fixtures import index_frames, write_video

    from forensics.media._video import video_info

    mkv = write_video(tmp_path / "v.mkv", index_frames(10), gop=5)
    with av.open(str(mkv)) as c:
        assert not c.streams.video[0].codec_context.bit_rate and c.bit_rate > 0  # Matroska: no stream rate
        expected = c.bit_rate
    assert video_info(mkv).bit_rate == expected
    with av.open(str(clip)) as c:
        stream_rate = c.streams.video[0].codec_context.bit_rate
    assert stream_rate and video_info(clip).bit_rate == stream_rate  # MP4: the stream's own


def test_decoding_records_whether_the_stream_ended(tmp_path):
    from video_fixtures import index_frames, write_video

    from forensics.media._video import _Decode, _Errors, _probe, _Video

    avi = write_video(tmp_path / "v.avi", index_frames(10), gop=5)  # decode order: requests are not cut to n
    for want, ended in (([2], False), ([2, 9], False), ([2, 15], True)):
        with _Video(avi, 0) as video:
            info = _probe(video, _Errors())
            dec = _Decode(video, want, _Errors(), tag_rotation=info.rotation)
            got = [k for k, *_ in dec]
        assert not dec.by_pts and dec.ended is ended, want
        assert got == [k for k in want if k < 10]


def test_video_info_defaults():
    from forensics.media._video import VideoInfo

    info = VideoInfo(path="v.mp4", container="mov,mp4", codec="h264", width=64, height=48, rotation=0, fps=25.0,
                     n_frames=10, n_frames_source="counted", duration_s=0.4, bit_rate=None, keyframe_interval=None)
    assert (info.sample_aspect_ratio, info.display_width, info.display_height, info.mirrored) == (1.0, 0, 0, False)
    assert (info.stream, info.video_streams, info.start_time_s, info.header_frames) == (0, 1, None, None)
    assert (info.timing, info.errors) == ("pts", ())


@pytest.mark.parametrize("n, fps", [(30, 25), (45, 30)])
def test_header_only_matroska_is_estimated_from_the_container_duration(tmp_path, n, fps):
    """With the file cut before the first cluster (no packet to count), the frame count is the
    header duration times the rate (FFmpeg gives a stream without packet timing the segment's
    duration). Look-alike: the intact file, counted; and the file cut inside the first cluster,
    counted up to the cut."""
    from video_fixtures import index_frames, write_video

    from forensics.media._video import video_info

    path = write_video(tmp_path / "a.mkv", index_frames(n), fps=fps, gop=5)
    full = video_info(path)
    assert (full.n_frames, full.n_frames_source, full.duration_s) == (n, "counted", pytest.approx(n / fps))
    data = path.read_bytes()
    cluster = data.find(bytes.fromhex("1F43B675"))
    head = tmp_path / "head.mkv"
    head.write_bytes(data[:cluster + 4])
    info = video_info(head)
    assert (info.n_frames, info.n_frames_source) == (n, "estimated")
    assert info.errors == (f"the stream holds no packet: its {n} frames are the header's duration times the frame "
                           "rate, none of them readable (is the file cut before its first frame?)",)
    assert info.duration_s == pytest.approx(n / fps) and info.fps == fps
    head.write_bytes(data[:cluster + (len(data) - cluster) // 3])
    cut = video_info(head)
    assert cut.n_frames_source == "counted" and 0 < cut.n_frames < n
    assert not any("holds no packet" in e for e in cut.errors) and full.errors == ()


@pytest.mark.parametrize("n, fps", [(30, 25), (45, 30)])
def test_header_duration_falls_back_to_the_containers(tmp_path, n, fps):
    """The stream's own duration when it has one (MP4: the track header), else the container's
    (``AV_TIME_BASE`` units; Matroska, whose whole files give no stream duration). ``video_info``
    counts the packets of a whole file, so the fallback is checked on the opened files."""
    import av
    from video_fixtures import index_frames, write_video

    from forensics.media._video import _header_duration

    frames = index_frames(n)
    mp4 = write_video(tmp_path / "a.mp4", frames, fps=fps, gop=5)
    mkv = write_video(tmp_path / "a.mkv", frames, fps=fps, gop=5)
    with av.open(str(mp4)) as own, av.open(str(mkv)) as bare:
        assert own.streams.video[0].duration is not None and bare.streams.video[0].duration is None
        assert bare.duration == round(n / fps * 1e6)
        assert _header_duration(own, own.streams.video[0]) == pytest.approx(n / fps)
        assert _header_duration(bare, bare.streams.video[0]) == pytest.approx(n / fps)


@pytest.mark.parametrize("header", [8, 12])
def test_stale_avi_header_is_reported_and_the_packets_counted(tmp_path, header):
    """AVI is timed in decode order: its frame count is the packets', its duration count / rate;
    a header length (strh dwLength) that disagrees, above or below, is reported. Look-alike: the
    intact file, without error."""
    import struct

    from video_fixtures import index_frames, write_video

    from forensics.media._video import video_info

    path = write_video(tmp_path / "v.avi", index_frames(10), gop=5)
    intact = video_info(path)
    assert (intact.timing, intact.n_frames, intact.header_frames, intact.errors) == ("decode order", 10, 10, ())
    data = bytearray(path.read_bytes())
    strh = data.find(b"strh")
    assert data[strh + 8:strh + 12] == b"vids" and struct.unpack_from("<I", data, strh + 40) == (10,)
    struct.pack_into("<I", data, strh + 40, header)  # dwLength
    stale = tmp_path / "stale.avi"
    stale.write_bytes(bytes(data))
    info = video_info(stale)
    assert (info.n_frames, info.header_frames, info.n_frames_source) == (10, header, "counted")
    assert info.duration_s == pytest.approx(10 / 25) and info.fps == 25
    assert info.errors == (f"the header gives {header} frames but the stream holds 10 packets",)


def test_a_file_cut_before_its_first_packet_has_no_frames(tmp_path):
    """A fragmented MP4 cut right after its moov: a stream header with no frame and no duration.
    Look-alike: cut after its first fragment, counted up to there."""
    from video_fixtures import index_frames, write_video

    from forensics.media import ItemError
    from forensics.media._video import video_info

    path = write_video(tmp_path / "f.mp4", index_frames(10), gop=5, fragmented=True)
    data = path.read_bytes()
    first, second = data.find(b"moof") - 4, data.find(b"moof", data.find(b"moof") + 4) - 4
    assert 0 < first < second
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:first])
    with pytest.raises(ItemError, match=r"^item 3 \(.*cut\.mp4\): video stream has no frames$"):
        video_info(cut, index=3)
    cut.write_bytes(data[:second])
    assert video_info(cut).n_frames == 5


def test_rotate_tags_that_are_not_finite_numbers_are_reported(tmp_path):
    """The legacy rotate tag is the file's text: words, an empty value, NaN and infinities
    ("1e400" overflowed out of video_info as a bare OverflowError) are reported and ignored.
    Look-alikes: whole and fractional numbers, turned and rounded."""
    from video_fixtures import index_frames, write_video

    from forensics.media._video import video_info

    for tag in ("abc", "", "nan", "inf", "-1e400"):
        path = write_video(tmp_path / "v.mkv", index_frames(2), metadata={"rotate": tag})
        info = video_info(path)
        assert info.rotation == 0 and info.errors == (f"unparsable rotate tag {tag!r}",)
    for tag, rotation in (("90", -90), ("-90.4", 90), ("450", -90)):
        path = write_video(tmp_path / "v.mkv", index_frames(2), metadata={"rotate": tag})
        info = video_info(path)
        assert info.rotation == rotation and info.errors == ()


# -- seed-25 survivors, by kind -------------------------------------------------------------------

@pytest.mark.parametrize("ext, seekable", [(".mp4", True), (".mkv", True), (".ts", False), (".avi", False)])
def test_rewind_seeks_only_in_indexed_containers(tmp_path, ext, seekable):
    """rewind() seeks back to the first packet in containers with an index (MP4, Matroska) and
    declines elsewhere (MPEG-TS, AVI), where the caller reopens the file instead."""
    from video_fixtures import index_frames, write_video

    from forensics.media._video import _Errors, _probe, _Video

    path = write_video(tmp_path / f"v{ext}", index_frames(3), fps=30)
    with _Video(path, 0) as video:
        assert video.rewind() is False  # no packet table yet: nothing to seek to
        _probe(video, _Errors())
        assert video.seekable is seekable and video.rewind() is seekable


def test_one_frame_without_packet_duration_lasts_one_nominal_interval(tmp_path):
    """A one-frame MPEG-TS written with its own timestamps stores no packet duration, and one
    frame has no interval to take a median of: it lasts one interval of the stream's nominal
    rate (FFmpeg's guess, here from the 1/1000 s time base). Look-alike: two frames, timed by
    their interval."""
    from video_fixtures import index_frames, write_video

    from forensics.media._video import _Errors, _probe, _rate, _Video

    with _Video(write_video(tmp_path / "one.ts", index_frames(1), pts=[0]), 0) as video:
        info = _probe(video, _Errors())
        rate = _rate(video.stream)
        assert video.table.last_duration == 0 and rate == 2000
    assert (info.n_frames, info.errors) == (1, ())
    assert info.duration_s == pytest.approx(1 / rate) and info.fps == pytest.approx(rate)
    with _Video(write_video(tmp_path / "two.ts", index_frames(2), pts=[0, 40]), 0) as video:
        info = _probe(video, _Errors())
        assert video.table.last_duration == 0
    assert info.duration_s == pytest.approx(0.08) and info.fps == pytest.approx(25)


@pytest.mark.parametrize("n, fps, inside, outside", [
    (250, 25, 9.81, 9.79),  # tolerance 2% of 10 s = 0.2 s
    (10, 5, 1.61, 1.59),  # two frame intervals, 0.4 s
    (50, 100, 0.455, 0.445),  # the 0.05 s floor (two intervals: 0.02 s)
])
def test_header_duration_tolerance_each_term_just_inside_and_outside(tmp_path, n, fps, inside, outside):
    """The stream header's duration (MP4 mdhd) is compared with the frames' span within
    max(2 intervals, 2% of the span, 0.05 s): each term in turn is the largest, and a header just
    inside it passes, just outside it is reported."""
    import struct

    from video_fixtures import index_frames, write_video

    from forensics.media._video import video_info

    path = write_video(tmp_path / "v.mp4", index_frames(n, size=(16, 16)), fps=fps, gop=25)
    assert video_info(path).errors == ()
    data = path.read_bytes()
    mdhd = data.find(b"mdhd")
    assert data[mdhd + 4] == 0  # version 0: 32-bit timescale and duration
    timescale = struct.unpack_from(">I", data, mdhd + 16)[0]
    stale = tmp_path / "stale.mp4"
    for header, reported in ((inside, False), (outside, True)):
        patched = bytearray(data)
        struct.pack_into(">I", patched, mdhd + 20, round(header * timescale))
        stale.write_bytes(bytes(patched))
        info = video_info(stale)
        assert info.duration_s == pytest.approx(n / fps) and info.n_frames == n
        message = f"the header gives a duration of {header:.3f} s but the frames span {n / fps:.3f} s"
        assert info.errors == ((message,) if reported else ())


def test_ffmpeg_log_settings_are_restored_after_overlapping_reads():
    """A level quieter than ERROR (here FATAL) is raised to ERROR while reading, so errors are
    captured; it is saved by the first of overlapping reads (threads) and restored by the last:
    an inner read must not save the outer read's ERROR level as the user's."""
    import av.logging

    from forensics.media._video import _ffmpeg_log

    before = av.logging.get_level()
    try:
        av.logging.set_level(av.logging.FATAL)
        with _ffmpeg_log():
            assert av.logging.get_level() == av.logging.ERROR
            with _ffmpeg_log():
                assert av.logging.get_level() == av.logging.ERROR
            assert av.logging.get_level() == av.logging.ERROR  # the outer read still runs
        assert av.logging.get_level() == av.logging.FATAL
    finally:
        av.logging.set_level(before)


def test_info_of_a_read_that_returns_no_frame_keeps_the_display_size(tmp_path):
    """read_frames' info when no requested frame exists (none decoded for its geometry): the
    display size comes from the header, with the sample aspect ratio applied to the width."""
    from fractions import Fraction

    from video_fixtures import index_frames, write_video

    from forensics.media._video import read_frames

    path = write_video(tmp_path / "wide.mp4", index_frames(3, size=(32, 24)), sample_aspect_ratio=Fraction(2, 1))
    r = read_frames(path, indices=[50])
    assert r.missing.tolist() == [50] and r.frames == []
    assert (r.info.width, r.info.height, r.info.display_width, r.info.display_height) == (24, 32, 48, 32)


def test_table_trusts_timestamps_by_default():
    t = _Table([1, 0, 2], [0, 1, 2], [True, False, False], [False] * 3, [1, 1, 1])
    assert t.timing == "pts" and t.pts.tolist() == [0, 1, 2] and t.packet_of_frame.tolist() == [1, 0, 2]
    assert _Table([1, 0, 2], [0, 1, 2], [True, False, False], [False] * 3, [1, 1, 1], False).timing == "decode order"


def test_after_a_seek_the_position_is_the_landing_packet(clip):
    """After a seek the decode position is the packet landed on, not a count of packets read:
    the next request is seeked to only when its keyframe is more than four packets further."""
    assert _seeks(clip, [6, 12]) == 1  # seek to keyframe 5; keyframe 10 is 4 packets past 6: decode on
    assert _seeks(clip, [6, 17]) == 2  # keyframe 15 is 9 packets past 6: seek again


# -- earlier fresh samples' survivors without a test until now, by kind -----------------------------

def _avi_with_start(path, n, fps, *, start=None, length=None):
    """An AVI without B-frames (so timed by its pts) whose stream header is patched: ``start``
    (strh dwStart, frames before the stream begins: its frames' pts start there while FFmpeg keeps
    the stream's start_time at 0) and ``length`` (strh dwLength: the header's frame count and
    duration)."""
    import struct

    from video_fixtures import index_frames, write_video

    src = write_video(path, index_frames(n, size=(16, 16)), fps=fps, gop=4, options={"bf": "0"})
    data = bytearray(src.read_bytes())
    strh = data.find(b"strh")
    assert data[strh + 8:strh + 12] == b"vids" and struct.unpack_from("<III", data, strh + 32) == (fps, 0, n)
    if start is not None:
        struct.pack_into("<I", data, strh + 36, start)
    if length is not None:
        struct.pack_into("<I", data, strh + 40, length)
    src.write_bytes(bytes(data))
    return src


def _duration_errors(info):
    return [e for e in info.errors if "duration" in e]


def test_a_stream_starting_late_is_compared_from_its_header_start(tmp_path):
    """A header duration is accepted when it matches the frames' span OR their end counted from
    the stream's start (demuxers differ); an AVI whose stream starts 2 s late (dwStart) has a
    stream start_time of 0, so the two tests differ there: each alone accepts the header."""
    from forensics.media._video import video_info

    # 8 frames at 4 fps from 2.25 s (FFmpeg's AVI pts start one frame after dwStart): span 2 s, end 4.25 s
    late = video_info(_avi_with_start(tmp_path / "late.avi", 8, 4, start=8))
    assert (late.timing, late.start_time_s, late.duration_s, late.n_frames) == ("pts", 2.25, 2.0, 8)
    assert late.errors == ()  # header 2 s = the span (not the end 4.25 s from 0)
    # a header counted from 0 to the end: 4.25 s = 17 frames (reported as a frame count, not as a duration)
    to_end = video_info(_avi_with_start(tmp_path / "end.avi", 8, 4, start=8, length=17))
    assert to_end.errors == ("the header gives 17 frames but the stream holds 8 packets",)
    # neither: 3 s
    both = video_info(_avi_with_start(tmp_path / "both.avi", 8, 4, start=8, length=12))
    assert _duration_errors(both) == ["the header gives a duration of 3.000 s but the frames span 2.000 s"]


@pytest.mark.parametrize("length, reported", [(10, False), (11, True), (6, False), (5, True),
                                              (19, False), (20, True), (15, False), (14, True)])
def test_stream_header_duration_at_exactly_the_tolerance(tmp_path, length, reported):
    """The header may differ from the span, or from the end counted from the stream's start, by
    the tolerance itself, not more: 8 frames at 4 fps from 2.25 s span 2 s and end at 4.25 s, the
    tolerance is two intervals = 0.5 s, all exact in binary. The span test accepts 2.5 s and 1.5 s
    (not 2.75 s, 1.25 s), the end test 4.75 s and 3.75 s (not 5 s, 3.5 s); each is far from the other."""
    from forensics.media._video import video_info

    info = video_info(_avi_with_start(tmp_path / "v.avi", 8, 4, start=8, length=length))
    assert info.duration_s == 2.0 and info.start_time_s == 2.25
    message = f"the header gives a duration of {length / 4:.3f} s but the frames span 2.000 s"
    assert _duration_errors(info) == ([message] if reported else [])


def _mkv_with_segment_duration(path, src, seconds):
    """``src`` (Matroska) with its Segment Duration (float, ms at the default timestamp scale) set."""
    import struct

    data = bytearray(src.read_bytes())
    at = data.find(bytes.fromhex("4489"))
    size = data[at + 2] & 0x0F if data[at + 2] & 0x80 else None
    assert size in (4, 8)
    struct.pack_into(">f" if size == 4 else ">d", data, at + 3, seconds * 1000)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("header, reported", [(4.25, False), (4.5, False), (4.75, True)])
def test_container_duration_at_exactly_the_tolerance_past_the_end(tmp_path, header, reported):
    """Matroska (no stream duration): the container's duration is compared with the frames' end
    (and span) within the tolerance: 8 frames at 4 fps starting 2 s late end at 4 s, tolerance
    0.5 s; a container duration of exactly 4.5 s is accepted, 4.75 s reported (truncated file)."""
    from video_fixtures import index_frames, remux, write_video

    from forensics.media._video import video_info

    src = write_video(tmp_path / "a.mkv", index_frames(8, size=(16, 16)), fps=4, gop=4)
    late = remux(src, tmp_path / "late.mkv", shift=2.0)
    info = video_info(_mkv_with_segment_duration(tmp_path / "d.mkv", late, header))
    assert (info.start_time_s, info.duration_s, info.n_frames) == (2.0, 2.0, 8)
    message = f"the container gives a duration of {header:.3f} s but the frames end at 4.000 s (truncated file?)"
    assert _duration_errors(info) == ([message] if reported else [])


def test_the_default_stream_is_the_one_flagged_default_not_any_flagged(tmp_path):
    """Of two Matroska video streams, the first flagged *comment* (another disposition flag) and the
    second *default*, the default one is read. Look-alike: with no stream flagged default, the first."""
    import av
    from video_fixtures import index_frames

    from forensics.media._video import video_info

    def write(path, flags):
        with av.open(str(path), "w") as out:
            streams = []
            for k, flag in enumerate(flags):
                s = out.add_stream("libx264", rate=25)
                s.width, s.height, s.pix_fmt = 32 + 16 * k, 32, "yuv420p"
                s.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
                s.disposition = flag
                streams.append(s)
            for arr in index_frames(3, size=(32, 32)):
                for k, s in enumerate(streams):
                    frame = np.ascontiguousarray(np.pad(arr, ((0, 0), (0, 16 * k), (0, 0))))
                    for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        out.mux(p)
            for s in streams:
                for p in s.encode():
                    out.mux(p)
        return path

    D = av.stream.Disposition
    path = write(tmp_path / "two.mkv", [D.comment, D.default])
    with av.open(str(path)) as c:
        assert [int(s.disposition) for s in c.streams.video] == [int(D.comment), int(D.default)]
    info = video_info(path)
    assert (info.stream, info.width, info.video_streams) == (1, 48, 2)
    info = video_info(write(tmp_path / "none.mkv", [D.comment, D(0)]))
    assert (info.stream, info.width) == (0, 32)


def test_a_packet_the_table_has_no_timestamp_for_still_counts_one_decode_position(clip):
    """The decode position after a packet whose pts is not in the packet table (what a packet
    without pts gives) is the previous position + 1, so keyframe seeks keep counting right: with
    keyframe 5's timestamp unknown, keyframe 10 is still 5 packets past it and is seeked to
    (counted as 6 packets on, it would be 4: decode on); with packet 6's unknown, keyframe 10 is 4
    packets on (counted as 4, 6 would seek). Look-alike: the table intact."""
    from forensics.media._video import _Decode, _Errors, _probe, _Video

    # unknown packet, frames asked for, seeks: counted one short or one long, keyframe 10 is 4 or 6 packets on
    for unknown, want, seeks in ((None, [4, 5, 11], 1), (5, [4, 5, 11], 1), (None, [4, 6, 10], 0), (6, [4, 6, 10], 0)):
        with _Video(clip, 0) as video:
            info = _probe(video, _Errors())
            if unknown is not None:
                del video.table.packet_of_pts[int(video.table.pkt_pts[unknown])]
            dec = _Decode(video, want, _Errors(), tag_rotation=info.rotation)
            got = [k for k, *_ in dec]
        assert got == want and dec.seeks == seeks, (unknown, want)


def _fragmented_with_an_oversized_sample(path, sample):
    """A fragmented MP4 (10 frames with B-frames, keyframes at 0 and 5) whose first fragment gives
    sample ``sample`` a size of 2**31 - 1 bytes (its trun entry damaged): the demuxer fails there
    with an error (it cannot allocate the packet) after reading the packets before it."""
    import struct

    from video_fixtures import index_frames, write_video

    src = write_video(path, index_frames(10), gop=5, fragmented=True)
    data = bytearray(src.read_bytes())
    trun = data.find(b"trun") - 4
    flags, count = struct.unpack_from(">II", data, trun + 8)
    assert flags & 0xFFFFFF == 0xA05 and count == 5  # data offset, first-sample flags; size and cto per sample
    struct.pack_into(">I", data, trun + 24 + 8 * sample, 2 ** 31 - 1)
    src.write_bytes(bytes(data))
    return src


def test_frames_the_decoder_holds_when_the_demuxer_fails_are_returned(tmp_path):
    """When the demuxer fails mid-stream, the frames already sent to the decoder are still output
    (the decoder is drained, as at the end of a stream): here the keyframe, held by the decoder's
    reordering delay when packet 1 fails. They were reported as "no frame could be decoded".
    A request past the end (nothing requested exists) must find that the file decodes too."""
    from video_fixtures import frame_level

    from forensics.media._video import iter_frames, read_frames, video_info

    path = _fragmented_with_an_oversized_sample(tmp_path / "one.mp4", 1)
    info = video_info(path)
    assert info.n_frames == 1 and info.errors[0].startswith("packet scan stopped after 1 packets (MemoryError")
    r = read_frames(path, indices=[0])
    assert r.indices.tolist() == [0] and r.missing.tolist() == [] and abs(frame_level(r.frames[0]) - 16) < 3
    assert any(e.startswith("reading stopped after packet 0 (MemoryError") for e in r.errors)
    errors = []
    assert [k for k, *_ in iter_frames(path, [0], errors=errors)] == [0]
    past = read_frames(path, indices=[5])
    assert len(past) == 0 and past.missing.tolist() == [5]
    # look-alike: the damage at packet 3, and frames 0..2 (the keyframe, a B- and a P-frame) read
    path = _fragmented_with_an_oversized_sample(tmp_path / "three.mp4", 3)
    r = read_frames(path, indices=[0, 1, 2, 7])
    assert r.indices.tolist() == [0, 1, 2] and r.missing.tolist() == [7]
    np.testing.assert_allclose([frame_level(f) for f in r.frames], [16, 23, 30], atol=3)


def test_decode_order_reading_drains_the_decoder_when_the_demuxer_fails(tmp_path):
    """The same when frames are numbered by decoder output (a stream without usable timestamps,
    e.g. AVI with B-frames): the packet table of the damaged file, built as for such a stream."""
    import av

    from video_fixtures import frame_level

    from forensics.media._video import _Decode, _Errors, _probe, _Table, _Video

    path = _fragmented_with_an_oversized_sample(tmp_path / "one.mp4", 3)
    with _Video(path, 0) as video:
        info = _probe(video, _Errors())
        assert info.n_frames == 3
        rows = []
        with av.open(str(path)) as c:
            try:
                for p in c.demux(c.streams.video[0]):
                    if p.size:
                        rows.append((p.pts, p.dts, p.is_keyframe, p.is_discard, p.duration or 0))
            except av.FFmpegError:
                pass
        video.table = _Table(*map(list, zip(*rows)), trust_pts=False)
        errors = _Errors()
        dec = _Decode(video, [1, 2, 5], errors, tag_rotation=info.rotation)
        got = {k: frame_level(rgb) for k, _t, rgb, *_ in dec}
    assert not dec.by_pts and sorted(got) == [1, 2]
    np.testing.assert_allclose([got[1], got[2]], [23, 30], atol=3)
    assert any(e.startswith("reading stopped after frame") for e in errors.as_list())


def test_checking_that_a_file_decodes_records_whether_the_stream_ended(tmp_path):
    """A request only past the end decodes until one frame comes out: it stops there (the
    stream did not end), or reads the whole stream when nothing decodes (it ended)."""
    from video_fixtures import index_frames, scramble_packets, write_video

    from forensics.media._video import _Decode, _Errors, _probe, _Video

    good = write_video(tmp_path / "v.mkv", index_frames(5), gop=1)
    for path, n_output, ended in ((good, 1, False), (scramble_packets(good, tmp_path / "s.mkv"), 0, True)):
        with _Video(path, 0) as video:
            info = _probe(video, _Errors())
            dec = _Decode(video, [40], _Errors(), tag_rotation=info.rotation)
            assert list(dec) == [] and dec.wanted == [] and dec.by_pts
        assert (dec.n_output, dec.ended) == (n_output, ended), path


@pytest.mark.parametrize("hflip", [False, True])
def test_display_matrices_that_change_from_frame_to_frame(tmp_path, hflip):
    """Frames 3 to 5 carry a display matrix of their own (an H.264 orientation SEI: a quarter turn,
    mirrored or not), frames 0 to 2 none: each returned frame gets its own transform, what was
    applied is reported for the first frame returned (in the order asked), and video_info's
    geometry is the first frame's (frame 0: not turned)."""
    from video_fixtures import index_frames, orient_frames, write_video

    from forensics.media._video import read_frames, video_info

    src = write_video(tmp_path / "v.mkv", index_frames(6, size=(32, 48)), gop=1)
    path = orient_frames(src, tmp_path / "turning.mkv", {k: (90, hflip) for k in (3, 4, 5)})
    info = video_info(path)
    assert (info.rotation, info.mirrored, info.display_width, info.display_height) == (0, False, 48, 32)
    coded = read_frames(path, indices=[0, 4], display=False)
    assert coded.rotations.tolist() == [0, 0] and coded.mirror_applied is False
    # H.264 D.2.27: flipped first, then turned anticlockwise (rot90 of a left-right flip is the transpose)
    expected = np.rot90(coded.frames[1][:, ::-1] if hflip else coded.frames[1], 1)
    r = read_frames(path, indices=[0, 4])
    assert r.frames[0].shape == (32, 48, 3) and r.frames[1].shape == (48, 32, 3)
    np.testing.assert_array_equal(r.frames[0], coded.frames[0])
    np.testing.assert_array_equal(r.frames[1], expected)
    rotation = r.rotations[1]
    assert rotation in (90, -90) and r.rotations[0] == 0
    assert (r.rotation_applied, r.mirror_applied, r.info.rotation, r.info.mirrored) == (0, False, 0, False)
    back = read_frames(path, indices=[4, 0])  # the first frame returned is the turned one
    assert back.rotations.tolist() == [rotation, 0]
    assert (back.rotation_applied, back.mirror_applied) == (rotation, hflip)
    assert (back.info.rotation, back.info.display_width) == (0, 48)  # the first frame decoded: frame 0
    only = read_frames(path, indices=[5])
    assert (only.rotation_applied, only.mirror_applied, only.info.mirrored) == (rotation, hflip, hflip)
    assert (only.info.display_width, only.info.display_height) == (32, 48)


def test_a_frame_after_an_undecodable_requested_one_is_not_returned_in_its_place(tmp_path):
    """Frame 2 of an intra-only stream does not decode: the frames after it that were not asked
    for are decoded on the way to frame 5 but never yielded, and frame 2 is reported missing.
    Look-alike: the intact stream yields exactly the frames asked for."""
    from video_fixtures import frame_level, index_frames, remux, write_video

    from forensics.media._video import iter_frames

    src = write_video(tmp_path / "intra.mkv", index_frames(8), gop=1)
    got = [(k, round(frame_level(rgb))) for k, _t, rgb in iter_frames(src, [2, 5], errors=[])]
    assert [k for k, _ in got] == [2, 5]
    bad = remux(src, tmp_path / "bad.mkv", damage={2})
    errors = []
    got = [(k, frame_level(rgb)) for k, _t, rgb in iter_frames(bad, [5, 2], errors=errors)]
    assert [k for k, _ in got] == [5] and abs(got[0][1] - (16 + 7 * 5)) < 3
    assert "1 requested frame(s) not decoded (2): they did not decode" in errors


def test_non_reference_frames_not_asked_for_are_skipped_by_default(tmp_path):
    """H.264 with B-frames: by default the decoder skips the non-reference frames that were not
    asked for (fewer frames come out of it than the stream holds), without changing the frames
    returned; with skip_nonref=False every frame is decoded. Both in _read (what read_frames
    uses) and in _Decode itself."""
    from video_fixtures import index_frames, write_video

    from forensics.media._video import _Decode, _Errors, _probe, _read, _Video

    path = write_video(tmp_path / "b.mp4", index_frames(24), gop=24)  # one keyframe: no seek

    def read(**kw):
        _req, got, _missing, _errors, _info, dec = _read(path, 0, None, lambda *a: np.array([0, 12, 23]),
                                                          threads=1, display=True, seek=True, **kw)
        return got, dec.n_output

    skipped, n_skipping = read()
    full, n_full = read(skip_nonref=False)
    assert n_full == 24 and n_skipping < 24
    assert sorted(skipped) == sorted(full) == [0, 12, 23]
    for k in full:
        np.testing.assert_array_equal(skipped[k][1], full[k][1])
    with _Video(path, 0) as video:
        info = _probe(video, _Errors())
        dec = _Decode(video, [0, 12, 23], _Errors(), tag_rotation=info.rotation)
        assert dec.skip_nonref and [k for k, *_ in dec] == [0, 12, 23] and dec.n_output == n_skipping


@pytest.mark.parametrize("ext, gop, damaged, timing", [(".mkv", 1, 2, "pts"), (".avi", 5, 5, "decode order")])
def test_frames_decoded_with_concealed_damage_are_reported(tmp_path, ext, gop, damaged, timing):
    """A packet whose headers are intact but whose data is noise decodes with concealed errors
    (FFmpeg flags the frame corrupt): it is returned and reported, whether frames are numbered by
    pts or, in an AVI with B-frames, by decoder output. Look-alike: the intact file, no report."""
    from video_fixtures import index_frames, remux, write_video

    from forensics.media._video import read_frames

    src = write_video(tmp_path / f"v{ext}", index_frames(10, size=(64, 96)), gop=gop)
    intact = read_frames(src, indices=list(range(10)))
    assert intact.info.timing == timing and intact.indices.tolist() == list(range(10)) and intact.errors == []
    bad = remux(src, tmp_path / f"bad{ext}", damage={damaged}, keep=60)
    r = read_frames(bad, indices=list(range(10)))
    assert r.info.timing == timing and r.indices.tolist() == list(range(10))
    assert [e for e in r.errors if "decoded with errors" in e] == [
        f"frame {damaged} decoded with errors (damaged data concealed)"]


def test_ffmpeg_messages_at_error_level_and_above_are_kept():
    """FFmpeg's log levels go down with severity (PANIC 0, FATAL 8, ERROR 16, WARNING 24...): the
    captured messages at ERROR and more severe are kept, stripped, and the capture is emptied."""
    import av.logging

    logs = [(av.logging.PANIC, "a", "panic\n"), (av.logging.FATAL, "b", " fatal "), (av.logging.ERROR, "c", "error"),
            (av.logging.WARNING, "d", "warning"), (av.logging.INFO, "e", "info")]
    errors = _Errors()
    errors.add_logs(logs)
    assert errors.as_list() == ["ffmpeg a: panic", "ffmpeg b: fatal", "ffmpeg c: error"] and logs == []


def test_frames_missing_because_a_decode_order_stream_ended_early_say_so(tmp_path):
    """Numbered by decoder output (AVI with B-frames), a packet that fails to decode shifts no
    frame but leaves the stream short: the last frame asked for is missing because the stream
    ended before it. (By pts, the missing frame is the one that did not decode: see above.)"""
    from video_fixtures import index_frames, remux, write_video

    from forensics.media._video import read_frames

    src = write_video(tmp_path / "v.avi", index_frames(10), gop=5)
    bad = remux(src, tmp_path / "bad.avi", damage={1})
    r = read_frames(bad, indices=list(range(10)))
    assert r.info.timing == "decode order" and r.indices.tolist() == list(range(9))
    assert "1 requested frame(s) not decoded (9): the stream ended before them" in r.errors


def test_iter_frames_warns_at_the_line_that_iterates(tmp_path):
    """Without an errors list, iter_frames' problems come as one RuntimeWarning naming the file,
    attributed to the caller's line (the generator's own frames are not the user's code)."""
    import inspect

    from video_fixtures import index_frames, remux, write_video

    from forensics.media._video import iter_frames

    src = write_video(tmp_path / "v.mkv", index_frames(5), gop=1)
    bad = remux(src, tmp_path / "bad.mkv", damage={2})
    with pytest.warns(RuntimeWarning) as record:
        got, line = [], inspect.currentframe().f_lineno + 1
        for k, _t, _rgb in iter_frames(bad, [1, 2, 3]):  # the line the warning must name
            got.append(k)
    assert got == [1, 3] and len(record) == 1
    warning = record[0]
    assert (warning.filename, warning.lineno) == (__file__, line)
    assert str(warning.message).startswith(f"{bad}: frame 2: packet failed to decode")
    assert "1 requested frame(s) not decoded (2): they did not decode" in str(warning.message)


def test_counts_above_the_small_integer_cache_compare_by_value(tmp_path):
    """A 320-frame AVI: its header count equal to the packets is no mismatch, and the first 300
    indices decode and the reader stops there (CPython caches ints up to 256 only, so an identity
    test instead of a value test breaks exactly above it); the 276-frame / 256-index look-alike."""
    from video_fixtures import index_frames, write_video

    from forensics.media._video import read_frames, video_info

    for n in (256, 300):
        path = write_video(tmp_path / f"v{n}.avi", index_frames(n + 20, size=(16, 16)), fps=25, gop=4,
                           options={"bf": "0"})
        info = video_info(path)
        assert (info.n_frames, info.n_frames_source, info.errors) == (n + 20, "counted", ()), n
        got = read_frames(path, indices=range(n))  # the first n of n + 20: the reader stops after the n-th
        assert got.indices.tolist() == list(range(n)) and got.errors == [] and len(got.frames) == n, n


def test_table_continues_timestamps_across_a_restart():
    """discont=True (MPEG-TS...): a decode timestamp below the one before starts a new segment,
    shifted to begin one frame (the last frame's duration, else the median gap) after the end of
    the one before; an equal dts is no restart; without discont nothing is shifted."""
    def table(pts, dts, dur, discont=True):
        n = len(pts)
        return _Table(list(pts), list(dts), [True] + [False] * (n - 1), [False] * n, list(dur), True, discont)

    # I0 P20 B10 | restart at packet 3 (dts 5 < 20): I0 P20 B10 again, then a third part from pts 100
    pts = [0, 20, 10, 0, 20, 10, 100, 110]
    dts = [-10, 0, 10, 5, 15, 25, 20, 30]
    t = table(pts, dts, [10, 10, 10, 10, 7, 10, 10, 10])
    assert t.restarts == [3, 6]
    assert t.offsets == [0, 30, 30 + 20 + 7 - 100]  # part 2 ends at shifted pts 20 + 30 with duration 7
    assert t.pts.tolist() == [0, 10, 20, 30, 40, 50, 57, 67] and t.packet_of_frame.tolist() == [0, 2, 1, 3, 5, 4, 6, 7]
    assert t.duplicates == 0
    # the last frame's duration unknown (0): the median gap of its part (10) instead
    t = table([0, 10, 20, 0, 10], [0, 10, 20, 0, 10], [10, 10, 0, 10, 10])
    assert t.offsets == [0, 30] and t.pts.tolist() == [0, 10, 20, 30, 40]
    # a dts equal to the one before is no restart (nor one going up); the same table without discont
    for dts in ([0, 10, 10, 20], [0, 10, 11, 20]):
        t = table([0, 10, 20, 30], dts, [10] * 4)
        assert t.restarts == () and t.offsets == (0,) and t.pts.tolist() == [0, 10, 20, 30]
    t = table([0, 10, 0, 10], [0, 10, 0, 10], [10] * 4, discont=False)
    assert t.restarts == () and t.pts.tolist() == [0, 0, 10, 10] and t.duplicates == 2
    t = table([0, 10, 0, 10], [0, 10, 9, 10], [10] * 4)  # dts one tick back: a restart
    assert t.restarts == [2] and t.pts.tolist() == [0, 10, 20, 30]


def test_the_timestamp_discontinuity_flag_is_ffmpeg_s():
    """The AVFMT_TS_DISCONT value the reader tests is the one PyAV's own enum names, and it marks
    MPEG-TS (a container with timestamp restarts) but not MP4 or Matroska."""
    import av

    from forensics.media._video import _AVFMT_TS_DISCONT

    assert av.format.Flags.ts_discont.value == _AVFMT_TS_DISCONT
    for name, discont in (("mpegts", True), ("mp4", False), ("matroska", False)):
        assert bool(int(av.format.ContainerFormat(name, "r").flags) & _AVFMT_TS_DISCONT) is discont, name


def _refresh_table(recovery, reference, pts=None, key=None):
    # 12 packets, one a frame: an IDR at 0, recovery points flagged at 3, 6 and 9 (``recovery``: their counts)
    n = 12
    pts = list(range(n)) if pts is None else pts
    key = [i in (0, 3, 6, 9) for i in range(n)] if key is None else key
    return _Table(pts, list(range(n)), key, [False] * n, [1] * n, True,
                  not_random_access=sorted(recovery) or [3, 6, 9], recovery=recovery, reference=reference)


def test_refresh_starts_of_an_intra_refresh_stream():
    """Where each refresh completes (the recovery point picture P: the (N + 1)-th reference picture from the
    recovery point R on; packet 4 is no reference picture, which puts R = 3's P at 6, not 5) and where to
    start for the frames from P on (the keyframe flag before R); ``seek_target`` at, below and above each P."""
    ref = {i: i != 4 for i in range(3, 12)}
    t = _refresh_table({3: 2, 6: 2, 9: 2}, ref)
    assert t.clean_keys == [0]
    assert t.refresh_starts == [(6, 0), (8, 3), (11, 6)]
    assert [t.seek_target(k) for k in range(12)] == [0] * 8 + [3, 3, 3, 6]
    assert [t.seek_target(k, refresh=False) for k in range(12)] == [0] * 12
    assert [t.refresh_start(k) for k in (0, 3, 6, 9)] == [False, True, True, False]
    # a recovery point without a usable message (None) gives no start: frames 8-10 from R = 3's start
    assert _refresh_table({3: 2, 6: None, 9: 2}, ref).refresh_starts == [(6, 0), (11, 6)]
    # ... nor one that is no reference picture, nor one whose refresh the stream ends before
    assert _refresh_table({3: 2, 6: 2, 9: 2}, {**ref, 6: False}).refresh_starts == [(7, 0), (11, 6)]  # 3's P: 7
    assert _refresh_table({3: 2, 6: 2, 9: 3}, ref).refresh_starts == [(6, 0), (8, 3)]
    assert _refresh_table({3: 2, 6: 2, 9: 2}, ref).refresh_starts[-1] == (11, 6)  # 9 + 2 = 11, the last packet
    # a later P with an earlier start: the latest start up to each P (R = 3's refresh is complete at 11)
    t = _refresh_table({3: 7, 6: 2, 9: 2}, ref)
    assert t.refresh_starts == [(8, 3), (11, 3), (11, 6)] and t.seek_target(10) == 3 and t.seek_target(11) == 6
    # the first keyframe flag a recovery point (a capture's start): nothing before it to start from
    first = _refresh_table({0: 2, 3: 2}, {i: True for i in range(12)}, key=[i in (0, 3) for i in range(12)])
    assert first.refresh_starts == [(5, 0)] and first.clean_keys == []
    # frames reordered (B-frames) or without timestamps: no starts
    assert _refresh_table({3: 2, 6: 2, 9: 2}, ref, pts=[0, 2, 1] + list(range(3, 12))).refresh_starts == []
    assert list(_refresh_table({3: 2, 6: 2, 9: 2}, ref, pts=[0, None] + list(range(2, 12))).refresh_starts) == []
    assert _refresh_table({}, ref).refresh_starts == []
