"""Huge and hostile videos (media truth, round 7): a header declaring an absurd frame size, a stream
whose picture grows mid-stream. Each is refused or reported naming the item; none may allocate what
the header asks for (a few bytes declare 16000 x 16000, 768 MB per RGB frame)."""

import resource
import warnings

import numpy as np

import pytest
from video_fixtures import h264_declaring, index_frames, patch_avi_frame_count, to_mpegts, with_metadata, write_video

from forensics.media import DEFAULT_MAX_VIDEO_PIXELS, ItemError, iter_frames, read_frames, video_info

HUGE = (1000, 1000)  # macroblocks: 16000 x 16000 pixels, 256 megapixels (under FFmpeg's own ~268 MP limit)


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_header_declaring_huge_frames_is_refused_before_decoding(tmp_path):
    """880 bytes declaring 16000x16000: FFmpeg decodes it (concealing the missing slices), so before the
    guard read_frames(n=8) grew past 6.6 GB and video_info returned a 16000x16000 stream."""
    path = h264_declaring(tmp_path / "huge.h264", [HUGE, HUGE])
    assert path.stat().st_size < 2000
    before = _peak_mb()
    for read in (lambda: video_info(path, index=4), lambda: read_frames(path, n=8, index=4),
                 lambda: list(iter_frames(path, [0, 1], index=4))):
        with pytest.raises(ItemError) as err:
            read()
        assert str(err.value) == (f"item 4 ({path}): video frames are 16000x16000 (256 megapixels), above "
                                  f"max_pixels={DEFAULT_MAX_VIDEO_PIXELS}; raise max_pixels if this is intended")
    assert _peak_mb() - before < 1000  # no frame of the declared size was held (one is 768 MB as RGB)


def test_max_pixels_is_a_limit_on_the_coded_frame_size(tmp_path):
    """At, just below and just above the frame's own size (64 x 48 = 3072 pixels); the look-alike of the
    huge header is the same stream keeping its size."""
    path = h264_declaring(tmp_path / "small.h264", [])
    assert len(read_frames(path, n=8, max_pixels=3072).frames) == 8
    assert video_info(path, max_pixels=3072).width == 64
    with pytest.raises(ItemError, match=r"video frames are 64x48 \(0 megapixels\), above max_pixels=3071"):
        read_frames(path, n=8, max_pixels=3071)
    with pytest.raises(ValueError, match="max_pixels must be >= 1"):
        video_info(path, max_pixels=0)


@pytest.mark.parametrize("grow_to,max_pixels,refused", [
    (HUGE, DEFAULT_MAX_VIDEO_PIXELS, True),  # 64x48 then 16000x16000: the second part is refused by the decoder
    ((8, 6), DEFAULT_MAX_VIDEO_PIXELS, False),  # look-alike: grows to 128x96, under the limit
    ((8, 6), 64 * 48, True),  # the same growth above a lowered limit
])
def test_a_picture_that_grows_mid_stream_is_held_to_max_pixels(tmp_path, grow_to, max_pixels, refused):
    """Two MPEG-TS parts joined (a capture that switches quality): the header (FFmpeg's probe of the first
    part) says 64x48, the second part's sequence headers declare a larger picture. Before, its frames
    were decoded at that size (16000x16000: MemoryError at 6.6 GB under a 8 GB address-space limit)."""
    first = to_mpegts(h264_declaring(tmp_path / "a.h264", []), tmp_path / "a.ts")
    second = to_mpegts(h264_declaring(tmp_path / "b.h264", [grow_to, grow_to]), tmp_path / "b.ts", first_pts=8)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    before = _peak_mb()
    vf = read_frames(joined, n=16, index=2, max_pixels=max_pixels)
    assert _peak_mb() - before < 1000
    assert vf.info.width == 64 and vf.info.n_frames == 16
    assert vf.indices[:8].tolist() == list(range(8))
    assert all(f.shape == (48, 64, 3) for f in vf.frames[:8])
    w, h = 16 * grow_to[0], 16 * grow_to[1]
    if refused:
        assert vf.missing.tolist() == list(range(8, 16))
        assert any(f"Picture size {w}x{h} exceeds specified max pixel count {max_pixels}" in e for e in vf.errors)
        assert "8 requested frame(s) not decoded (8, 9, 10, 11, 12, 13, 14, 15): they did not decode" in vf.errors
    else:
        assert vf.missing.size == 0 and vf.indices.tolist() == list(range(16))
        assert all(f.shape == (h, w, 3) for f in vf.frames[8:])


@pytest.mark.parametrize("selector", [dict(n=32), dict(every=1), dict(times=[3600.0])])
def test_a_header_frame_count_of_a_billion_without_packets_selects_nothing(tmp_path, selector):
    """An AVI cut after its header, which says 10**9 frames (40,000,000 s): no packet, so no frame can
    decode. Before, every=1 and times= built index arrays of the header's length first (MemoryError:
    7.45 GiB for an array of shape (1000000000,)), n=32 failed after decoding nothing."""
    src = write_video(tmp_path / "v.avi", index_frames(8), codec="mjpeg")
    patch_avi_frame_count(src, 10**9)
    data = src.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:data.find(b"movi") + 4])
    assert video_info(cut).n_frames == 10**9 and video_info(cut).n_frames_source == "header"
    before = _peak_mb()
    with pytest.raises(ItemError, match=r"item 3 \(.*cut\.avi\): no frame could be decoded \(the stream holds no "
                                        r"packet: its 1000000000 frames are the header's frame count"):
        read_frames(cut, index=3, **selector)
    assert _peak_mb() - before < 500
    # the look-alike: the whole file with the same header reads its 8 frames, the header's count reported
    vf = read_frames(src, **selector) if "times" not in selector else read_frames(src, times=[0.2])
    assert len(vf.frames) == (8 if "times" not in selector else 1)
    assert "the header gives 1000000000 frames but the stream holds 8 packets" in vf.errors


@pytest.mark.parametrize("length", [40, 41, 1 << 20])
def test_a_huge_metadata_block_is_read_and_an_unparsable_tag_is_not_echoed_whole(tmp_path, length):
    """A Matroska file with a 1 MiB title and a rotate tag of ``length`` characters: the title costs nothing
    (never read); the tag was echoed whole into errors (a status cell of 1 MB); now up to 40 characters."""
    tag = "x" * length
    path = with_metadata(tmp_path / "meta.mkv", "t" * (1 << 20), tag)
    vf = read_frames(path, n=4)
    assert len(vf.frames) == 4 and vf.info.rotation == 0
    shown = repr(tag) if length <= 40 else f"{'x' * 40!r}... ({length} characters)"
    assert vf.errors == [f"unparsable rotate tag {shown}"]


def _padded(tmp_path, name, codec_fmt, pad):
    """An 8-frame 64x48 H.264 clip in ``codec_fmt`` followed by ``pad`` bytes of zeros (a sparse file: a
    preallocated download that stopped, a disk image), and its frame count."""
    src = write_video(tmp_path / f"{name}.{codec_fmt}", index_frames(8, size=(48, 64)))
    size = src.stat().st_size
    with open(src, "r+b") as fh:
        fh.truncate(size + pad)
    return src, size


@pytest.mark.parametrize("fmt", ["mkv", "ts"])
def test_gigabytes_of_zeros_after_a_clip_are_not_read_to_the_end(tmp_path, fmt):
    """1 GiB of zeros after the clip: the demuxers resync through them byte by byte, so before, each read
    scanned to the end (4 GiB: 49 s for a Matroska scan, 17 s for the MPEG-TS opening; a sparse file of
    a terabyte reads for hours). Now reading stops 256 MiB after the last packet, and says so."""
    src, size = _padded(tmp_path, "clip", fmt, 1 << 30)
    vf = read_frames(src, n=8, index=6)
    assert len(vf.frames) >= 7  # the MPEG-TS demuxer keeps the last PES until the end it never reaches
    assert vf.frames[0].shape == (48, 64, 3)
    stopped = [e for e in vf.errors if e.startswith("reading stopped at byte ")]
    assert len(stopped) == 1 and stopped[0].endswith(f"of {size + (1 << 30)}: 256 MiB read without a packet of "
                                                     f"the video (zeros or junk?); the rest of the file is not "
                                                     f"read ({len(vf.frames)} packets found before)")


@pytest.mark.parametrize("pad,stopped", [(3 << 20, False), (6 << 20, True)])
def test_the_bound_on_bytes_without_a_packet(tmp_path, monkeypatch, pad, stopped):
    """The bound lowered to 4 MiB: 3 MiB of zeros after a Matroska clip are read through (all 8 frames, no
    note), 6 MiB are not; the look-alike MP4 (an index: no byte of the padding is read) is never cut."""
    import forensics.media._video as video

    monkeypatch.setattr(video, "_MAX_BYTES_WITHOUT_PACKET", 4 << 20)
    src, _ = _padded(tmp_path, "clip", "mkv", pad)
    vf = read_frames(src, n=8)
    assert len(vf.frames) == 8
    assert any(e.startswith("reading stopped at byte") for e in vf.errors) is stopped
    mp4, _ = _padded(tmp_path, "clip", "mp4", pad)
    vf = read_frames(mp4, n=8)
    assert len(vf.frames) == 8 and vf.errors == []


@pytest.mark.parametrize("max_pixels,status", [(None, "ok"), (3072, "ok"), (3071, "error")])
def test_video_features_and_display_reads_take_max_pixels(tmp_path, max_pixels, status):
    """VideoFeatures(max_pixels=) reaches the reader (at and just below a 64x48 frame's 3072 pixels; None:
    the readers' default), as read_display_frames(max_pixels=) does for face crops."""
    from forensics.features import BlurFeatures, VideoFeatures
    from forensics.media import read_display_frames

    path = h264_declaring(tmp_path / "small.h264", [])
    vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=4, on_error="nan", max_pixels=max_pixels).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = vf.transform([str(path)])
    assert vf.status_["status"].tolist() == [status]
    assert bool(np.isnan(X).all()) is (status == "error")
    if status == "error":
        assert vf.status_["error"][0] == "video frames are 64x48 (0 megapixels), above max_pixels=3071; raise " \
                                         "max_pixels if this is intended"
        with pytest.raises(ItemError, match="above max_pixels=3071"):
            read_display_frames(path, n=2, max_pixels=3071)
    else:
        assert len(read_display_frames(path, n=2, max_pixels=max_pixels)[0].frames) == 2


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "big"])
def test_video_features_refuses_an_invalid_max_pixels_at_fit(bad):
    from forensics.features import BlurFeatures, VideoFeatures

    with pytest.raises(ValueError, match="max_pixels must be None or an int >= 1"):
        VideoFeatures(BlurFeatures(), faces=False, max_pixels=bad).fit()


def test_the_audio_reader_opens_a_video_under_the_frame_size_limit(tmp_path):
    """FFmpeg decodes video frames while it probes a file's streams: the audio reader opened the 880-byte
    16000x16000 header without the video reader's limit and peaked at 2.4 GB before saying 'no audio
    stream'. Run in a fresh child, whose peak resident size is its own."""
    import subprocess
    import sys
    import textwrap

    path = h264_declaring(tmp_path / "huge.h264", [HUGE, HUGE])
    code = textwrap.dedent(f"""
        import resource
        from forensics.audio import audio_header, load_audio
        from forensics.audio._read import NoAudioError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(audio_header({str(path)!r}, index=3))
        try:
            load_audio({str(path)!r}, index=3)
        except NoAudioError as exc:
            print(exc)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    *said, grown_mb = done.stdout.splitlines()
    assert said == ["None", f"item 3 ({path}): no audio stream"]
    assert int(grown_mb) < 500  # no frame of the declared size was decoded (one is 384 MB as YUV 4:2:0)
