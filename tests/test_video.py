"""Video reading: metadata, exact frame indices, sampling, damaged files and bad inputs."""

import warnings

import av
import av.logging
import numpy as np
import pytest
from video_fixtures import (
    face_video,
    frame_level,
    index_frames,
    scramble_packets,
    synthetic_face,
    write_video,
)

from conftest import encode, natural_image
from forensics.media import ItemError
from forensics.media._video import iter_frames, read_frames, sample_indices, video_info

N = 30  # frames of the index video; frame k has mean level 16 + 7k (16..219)
FPS = 25
GOP = 5
TOL = 3.0  # codec error on the mean level at crf 18 is below 1; levels are 7 apart


def levels(frames):
    return np.array([frame_level(f) for f in frames])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """The index video in three containers, plus 60%-truncated copies."""
    d = tmp_path_factory.mktemp("videos")
    frames = index_frames(N)
    out = {}
    for name, ext, kw in [("mp4", ".mp4", {}), ("mkv", ".mkv", {}), ("ts", ".ts", {}),
                          ("fmp4", ".mp4", {"fragmented": True})]:
        path = write_video(d / f"index_{name}{ext}", frames, fps=FPS, gop=GOP, **kw)
        out[name] = path
        data = path.read_bytes()
        cut = d / f"cut_{name}{ext}"
        cut.write_bytes(data[: int(len(data) * 0.6)])
        out["cut_" + name] = cut
    return out


# -- metadata ------------------------------------------------------------------------------------
def test_info_of_h264_mp4(videos):
    info = video_info(videos["mp4"])
    assert info.path == str(videos["mp4"])
    assert "mp4" in info.container
    assert info.codec == "h264"
    assert (info.width, info.height) == (96, 64)
    assert info.fps == pytest.approx(FPS)
    assert info.n_frames == N and info.n_frames_source == "counted" and info.header_frames == N
    assert info.duration_s == pytest.approx(N / FPS, abs=1e-6)
    assert info.keyframe_interval == GOP
    assert info.rotation == 0
    assert info.bit_rate is not None and info.bit_rate > 0
    assert info.errors == ()


@pytest.mark.parametrize("name", ["mkv", "ts", "fmp4"])
def test_info_counts_frames_without_header_count(videos, name):
    info = video_info(videos[name])
    assert info.n_frames == N
    assert info.n_frames_source == "counted"
    assert info.fps == pytest.approx(FPS)
    assert info.keyframe_interval == GOP
    assert info.codec == "h264"


def test_keyframe_interval_follows_gop(tmp_path):
    path = write_video(tmp_path / "g7.mkv", index_frames(22), gop=7)
    assert video_info(path).keyframe_interval == 7  # keyframes 0, 7, 14, 21


@pytest.mark.parametrize("ext,degrees", [(".mp4", 90), (".mp4", -90), (".mp4", 180), (".mkv", 90)])
def test_rotation_from_display_matrix(tmp_path, ext, degrees):
    path = write_video(tmp_path / f"rot{ext}", index_frames(4), rotation=degrees)
    info = video_info(path)
    assert info.rotation == degrees
    turned = degrees in (90, -90)
    assert (info.display_width, info.display_height) == ((64, 96) if turned else (96, 64))
    # display geometry by default: the rotation is applied (pixels: tests/test_video_truth.py)
    r = read_frames(path, indices=[0])
    assert r.frames[0].shape == ((96, 64, 3) if turned else (64, 96, 3))
    assert r.rotation_applied == degrees and r.rotations.tolist() == [degrees]
    assert r.info.rotation == degrees  # read_frames takes it from the first decoded frame
    # display=False keeps the coded layout and says nothing was applied
    coded = read_frames(path, indices=[0], display=False)
    assert coded.frames[0].shape == (64, 96, 3) and coded.rotation_applied == 0
    assert np.array_equal(np.rot90(coded.frames[0], degrees // 90), r.frames[0])


def test_writing_is_repeatable(tmp_path):
    # Not bit-exact (x264 here gives other bytes about once in 15-40 writes, see video_fixtures),
    # but the same call must give the same video up to codec noise.
    a = read_frames(write_video(tmp_path / "a.mp4", index_frames(6)), every=1)
    b = read_frames(write_video(tmp_path / "b.mp4", index_frames(6)), every=1)
    assert a.indices.tolist() == b.indices.tolist() == list(range(6))
    for fa, fb in zip(a.frames, b.frames):
        assert fa.shape == fb.shape and np.abs(fa.astype(float) - fb).mean() < 0.5


# -- sampling -------------------------------------------------------------------------------------
def test_sample_indices_by_hand():
    assert sample_indices(10, n=4).tolist() == [0, 3, 6, 9]
    # linspace 0, 2.25, 4.5, 6.75, 9 rounded half up
    assert sample_indices(10, n=5).tolist() == [0, 2, 5, 7, 9]
    assert sample_indices(20, n=5).tolist() == [0, 5, 10, 14, 19]
    assert sample_indices(10, n=1).tolist() == [0]
    assert sample_indices(3, n=32).tolist() == [0, 1, 2]
    assert sample_indices(100).tolist() == np.unique(np.floor(np.linspace(0, 99, 32) + 0.5)).tolist()
    assert len(sample_indices(100)) == 32
    assert sample_indices(10, every=3).tolist() == [0, 3, 6, 9]
    assert sample_indices(10, every=4).tolist() == [0, 4, 8]
    assert sample_indices(5, every=10).tolist() == [0]
    assert sample_indices(10, n=4, every=3).tolist() == [0, 3, 6, 9]  # n is only the default mode
    # times: round(t * fps) half up, clipped to the last frame, order kept
    assert sample_indices(50, times=[0.5, 0.0, 0.02, 2.0], fps=25).tolist() == [13, 0, 1, 49]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(every=2, times=[0.1], fps=25), "at most one"),
        (dict(times=[0.1]), "fps"),
        (dict(times=[2.5], fps=25), "outside"),
        (dict(times=[-0.1], fps=25), "outside"),
        (dict(times=[np.nan], fps=25), "outside"),
        (dict(n=0), ">= 1"),
        (dict(every=0), ">= 1"),
    ],
)
def test_sample_indices_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_indices(50, **kwargs)


def test_sample_indices_rejects_non_integers():
    with pytest.raises(TypeError):
        sample_indices(10.0)
    with pytest.raises(TypeError):
        sample_indices(10, n=True)
    with pytest.raises(ValueError):
        sample_indices(0)


# -- exact frames -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mp4", "mkv", "ts", "fmp4"])
def test_every_frame_has_its_own_index(videos, name):
    r = read_frames(videos[name], every=1)
    assert r.indices.tolist() == list(range(N))
    assert r.requested.tolist() == list(range(N))
    assert r.missing.size == 0 and r.errors == []
    got = levels(r.frames)
    np.testing.assert_allclose(got, 16 + 7 * np.arange(N), atol=TOL)
    # identity: the nearest encoded level of each frame is its own index
    assert np.array_equal(np.rint((got - 16) / 7).astype(int), r.indices)
    np.testing.assert_allclose(r.timestamps, r.indices / FPS, atol=1e-6)
    assert all(f.dtype == np.uint8 and f.shape == (64, 96, 3) for f in r.frames)


def test_explicit_indices_keep_request_order(videos):
    r = read_frames(videos["mp4"], indices=[17, 2, 2, 29])
    assert r.indices.tolist() == [17, 2, 2, 29]
    np.testing.assert_allclose(levels(r.frames), 16 + 7 * np.array([17, 2, 2, 29]), atol=TOL)
    np.testing.assert_allclose(r.timestamps, [17 / FPS, 2 / FPS, 2 / FPS, 29 / FPS], atol=1e-6)


def test_index_past_the_end_is_missing_not_an_exception(videos):
    r = read_frames(videos["mkv"], indices=[3, 40])
    assert r.indices.tolist() == [3]
    assert r.missing.tolist() == [40]
    assert any("(40)" in e and "holds 30 frames" in e for e in r.errors)


def test_default_n_and_time_selection(videos):
    r = read_frames(videos["ts"])  # default: 32 evenly spaced, fewer frames -> all
    assert r.indices.tolist() == list(range(N))
    r = read_frames(videos["ts"], n=4)
    assert r.indices.tolist() == sample_indices(N, n=4).tolist() == [0, 10, 19, 29]
    np.testing.assert_allclose(levels(r.frames), 16 + 7 * r.indices, atol=TOL)
    r = read_frames(videos["ts"], times=[0.2, 0.4])
    assert r.indices.tolist() == [5, 10]
    np.testing.assert_allclose(levels(r.frames), [16 + 35, 16 + 70], atol=TOL)


def test_read_frames_rejects_bad_selection(videos):
    with pytest.raises(ValueError, match="at most one"):
        read_frames(videos["mp4"], every=3, indices=[1])
    assert read_frames(videos["mp4"], n=3, indices=[1]).indices.tolist() == [1]
    with pytest.raises(ValueError, match=">= 0"):
        read_frames(videos["mp4"], indices=[1, -1])
    with pytest.raises(ValueError, match="whole"):
        read_frames(videos["mp4"], indices=[1.5])


def test_iter_frames_matches_read_frames(videos):
    want = [21, 4, 9]
    seen = list(iter_frames(videos["mkv"], want, errors=[]))
    assert [k for k, _, _ in seen] == [4, 9, 21]  # increasing order, each once
    r = read_frames(videos["mkv"], indices=[4, 9, 21])
    for (k, t, rgb), ref, tref in zip(seen, r.frames, r.timestamps):
        assert np.array_equal(rgb, ref)
        assert t == tref


# -- damaged files ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cut_mkv", "cut_ts", "cut_fmp4"])
def test_truncated_file_gives_frames_before_the_cut_and_an_error(videos, name):
    r = read_frames(videos[name], every=1)
    k = len(r.frames)
    assert 0 < k < N
    assert r.indices.tolist() == list(range(k))  # a prefix, no gap, no shift
    assert r.errors, "truncation must be recorded"
    corrupt = {int(e.split()[1]) for e in r.errors if e.startswith("frame ") and "concealed" in e}
    clean = [i for i in range(k) if i not in corrupt]
    assert len(clean) >= k - 1
    np.testing.assert_allclose(levels([r.frames[i] for i in clean]), 16 + 7 * np.array(clean), atol=TOL)


def test_truncated_file_reports_missing_frames_asked_for(videos):
    r = read_frames(videos["cut_mkv"], indices=[0, 29])
    assert r.indices.tolist() == [0]
    assert r.missing.tolist() == [29]
    assert any("truncated" in e or "ended prematurely" in e for e in r.errors)


def test_errors_are_recorded_on_every_read(videos):
    # PyAV suppresses a log line identical to the previous one unless told not to.
    first = read_frames(videos["cut_mkv"], every=1).errors
    second = read_frames(videos["cut_mkv"], every=1).errors
    assert first == second
    assert any("ended prematurely" in e for e in second)


def test_iter_frames_warns_about_damage(videos):
    with pytest.warns(RuntimeWarning, match="cut_mkv"):
        got = [k for k, _, _ in iter_frames(videos["cut_mkv"], [0, 5, 25])]
    assert got == [0, 5]
    errs = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = [k for k, _, _ in iter_frames(videos["cut_mkv"], [0, 25], errors=errs)]
    assert got == [0] and any("25" in e for e in errs)


def test_ffmpeg_log_settings_are_restored(videos):
    level, skip = av.logging.get_level(), av.logging.get_skip_repeated()
    read_frames(videos["cut_ts"], n=3)
    assert av.logging.get_level() == level
    assert av.logging.get_skip_repeated() == skip


def test_truncated_plain_mp4_is_unreadable(videos):
    # The moov index sits at the end of a plain MP4: cut, nothing can be located.
    with pytest.raises(ItemError, match="cut_mp4"):
        video_info(videos["cut_mp4"])


def test_no_decodable_frame_raises(tmp_path, videos):
    bad = scramble_packets(videos["mkv"], tmp_path / "scrambled.mkv")
    assert video_info(bad).n_frames == N  # the container is intact
    with pytest.raises(ItemError, match="no frame could be decoded") as exc:
        read_frames(bad, index=5)
    assert exc.value.index == 5 and exc.value.source == str(bad)


def test_header_only_file_raises(tmp_path, videos):
    data = videos["mkv"].read_bytes()
    path = tmp_path / "head.mkv"
    path.write_bytes(data[:600])
    with pytest.raises(ItemError, match="head.mkv"):
        read_frames(path)


# -- not videos -----------------------------------------------------------------------------------
def _wav(path):
    with av.open(str(path), "w") as out:
        s = out.add_stream("pcm_s16le", rate=8000)
        f = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        f.sample_rate = 8000
        for p in s.encode(f):
            out.mux(p)
        for p in s.encode():
            out.mux(p)


@pytest.mark.parametrize(
    "kind,match",
    [
        ("missing", "file not found"),
        ("empty", "empty"),
        ("directory", "directory"),
        ("garbage", "not a readable video"),
        ("jpeg", "still image"),
        ("png", "still image"),
        ("audio", "no video stream"),
    ],
)
def test_bad_inputs_raise_item_error_naming_the_file(tmp_path, kind, match):
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind in ("jpeg", "png"):
        path.write_bytes(encode(natural_image(0, (32, 48)), kind.upper()))
    elif kind == "audio":
        path = tmp_path / "audio.wav"
        _wav(path)
    for fn in (video_info, read_frames):
        with pytest.raises(ItemError, match=match) as exc:
            fn(path, index=3)
        assert exc.value.index == 3
        assert exc.value.source == str(path)
        assert str(path) in str(exc.value)


# -- fixtures for other tests ---------------------------------------------------------------------
def test_face_video_synthetic(tmp_path):
    boxes, source = face_video(tmp_path / "face.mp4", n_frames=8, size=(96, 128), faces_from="synthetic")
    assert source == "synthetic"
    assert boxes.shape == (8, 4)
    x, y, w, h = boxes.T
    assert np.all(x >= 0) and np.all(x + w <= 128) and np.all(y + h <= 96)
    assert x[-1] > x[0]  # the face moves
    r = read_frames(tmp_path / "face.mp4", indices=[0, 7])
    face = synthetic_face(w[0]).astype(float)
    for frame, (bx, by, bw, bh) in zip(r.frames, boxes[[0, 7]]):
        crop = frame[by:by + bh, bx:bx + bw].astype(float)
        assert np.abs(crop - face).mean() < 8  # the pasted face is where the box says
    assert not np.array_equal(r.frames[0], r.frames[1])


def test_synthetic_face_is_found_by_lbp_cascade(tmp_path):
    from skimage import data
    from skimage.feature import Cascade

    boxes, _ = face_video(tmp_path / "face.mp4", n_frames=2, size=(160, 160), faces_from="synthetic")
    frame = read_frames(tmp_path / "face.mp4", indices=[1]).frames[0]
    det = Cascade(data.lbp_frontal_face_cascade_filename()).detect_multi_scale(
        frame, scale_factor=1.1, step_ratio=1, min_size=(24, 24), max_size=(160, 160))
    bx, by, bw, bh = boxes[1]
    centres = [(d["c"] + d["width"] / 2, d["r"] + d["height"] / 2) for d in det]
    assert any(bx < cx < bx + bw and by < cy < by + bh for cx, cy in centres)


def test_face_video_uses_lfw_when_present(tmp_path, shared_dir):
    folder = shared_dir / "data" / "lfw_faceswap" / "real"
    boxes, source = face_video(tmp_path / "lfw.mkv", n_frames=4, size=(128, 128), faces_from=folder)
    assert source.startswith("lfw:")
    info = video_info(tmp_path / "lfw.mkv")
    assert (info.n_frames, info.width, info.height) == (4, 128, 128)
