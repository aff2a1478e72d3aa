"""Other inputs of the kinds in ../shared/cases, where the media layer and the loaders were still wrong.

Each test builds its input here (PyAV, Pillow, numpy), names the kind it stands for, and pairs the
failing variant with a valid look-alike that must stay accepted.
"""

import io
import struct
import zlib
from pathlib import Path
from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import encode, natural_image
from PIL import Image
from video_fixtures import frame_level, index_frames

from forensics.media import ItemError, load_item, read_frames, video_info


def cut_scan(jpeg):
    """The JPEG with the second half of its last scan's entropy-coded data removed and the
    end-of-image marker re-appended (a copy that stopped short, then was 'repaired')."""
    sos = jpeg.rfind(b"\xff\xda")
    start = sos + 2 + int.from_bytes(jpeg[sos + 2:sos + 4], "big")
    eoi = jpeg.rfind(b"\xff\xd9")
    return jpeg[:start + (eoi - start) // 2] + b"\xff\xd9"


def mux_jpegs(path, jpegs, fmt, size=(96, 64)):
    """Mux ready-made JPEG files as the packets of an MJPEG stream at 10 fps (no re-encoding)."""
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream("mjpeg", rate=10)
        s.width, s.height = size
        s.pix_fmt = "yuvj420p"
        for k, data in enumerate(jpegs):
            pk = av.Packet(data)
            pk.stream, pk.pts, pk.dts, pk.time_base = s, k, k, Fraction(1, 10)
            if fmt != "avi":
                pk.duration = 1
            pk.is_keyframe = True
            c.mux(pk)
    return path


# -- JPEG damage inside an MJPEG video ---------------------------------------------------------
@pytest.mark.parametrize("fmt,ext", [("avi", ".avi"), ("matroska", ".mkv")])
@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"subsampling": 0}], ids=["baseline", "progressive",
                                                                                          "444"])
def test_mjpeg_frame_with_missing_scan_data_is_named(tmp_path, fmt, ext, options):
    """An MJPEG frame whose scan data stop half way (EOI re-appended): FFmpeg's decoder fills the
    rest and logs an error without flagging the frame corrupt. The frame is named as damaged, so
    VideoFeatures says "partial" with it. Look-alike: the same frames intact, no report."""
    from forensics.features import BlurFeatures, VideoFeatures

    jpegs = [encode(f, "JPEG", quality=90, **options) for f in index_frames(8, step=20)]
    good = mux_jpegs(tmp_path / f"good{ext}", jpegs, fmt)
    bad = mux_jpegs(tmp_path / f"bad{ext}", [cut_scan(j) if k in (2, 5) else j for k, j in enumerate(jpegs)], fmt)
    r = read_frames(bad, every=1)
    assert r.indices.tolist() == list(range(8))  # damaged frames keep their place: nothing shifts
    named = sorted(e for e in r.errors if "decoded with errors" in e)
    assert named == ["frame 2 decoded with errors (damaged data concealed)",
                     "frame 5 decoded with errors (damaged data concealed)"]
    ok = read_frames(good, every=1)
    assert ok.errors == [] and ok.indices.tolist() == list(range(8))
    levels = [frame_level(f) for f in ok.frames]
    assert np.allclose(levels, 16 + 20 * np.arange(8), atol=3)  # the intact frames are the file's
    vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=8).fit()
    vf.transform([bad, good])
    assert vf.status_["status"].tolist() == ["partial", "ok"]
    assert "frame 2 decoded with errors" in vf.status_["error"].iloc[0]


def test_decoder_messages_of_a_stream_with_reference_frames_are_not_pinned_on_a_frame(tmp_path):
    """Attribution needs an intra-only codec: in H.264 the frame returned by a decode call is
    often another packet's (reordering delay), so a decoder message is kept unattributed."""
    from forensics.media._video import _Decode, _Errors, _probe, _Video
    from video_fixtures import write_video

    path = write_video(tmp_path / "b.mp4", index_frames(6), gop=3)
    with _Video(path, 0) as video:
        _probe(video, _Errors())
        dec = _Decode(video, [0], _Errors())
        assert not dec.intra_only and dec.codec_name == "h264"
        assert not dec._concealed([(av.logging.ERROR, "h264", "error")], [object()])
    mj = mux_jpegs(tmp_path / "m.avi", [encode(f, "JPEG") for f in index_frames(2, step=20)], "avi")
    with _Video(mj, 0) as video:
        _probe(video, _Errors())
        dec = _Decode(video, [0], _Errors())
        assert dec.intra_only
        assert dec._concealed([(av.logging.ERROR, "mjpeg", "overread 8")], [object()])
        assert not dec._concealed([(av.logging.WARNING, "mjpeg", "note")], [object()])  # below error level
        assert not dec._concealed([(av.logging.ERROR, "avi", "demuxer")], [object()])  # not the decoder's
        assert not dec._concealed([(av.logging.ERROR, "mjpeg", "overread 8")], [object(), object()])  # which one?


# -- JPEG damage through a PIL image ---------------------------------------------------------
def _png_with_bad_idat_crc(arr):
    """A PNG whose image-data chunk has a wrong CRC (Pillow does not check IDAT CRCs)."""
    png = bytearray(encode(arr, "PNG"))
    i = png.find(b"IDAT")
    png[i + 4 + int.from_bytes(png[i - 4:i], "big")] ^= 1
    return bytes(png)


@pytest.mark.parametrize("kind", ["baseline", "progressive", "grey", "restart", "png_crc"])
def test_lazily_opened_pil_image_of_a_damaged_file_is_refused(tmp_path, kind):
    """A PIL image opened on a damaged file (JPEG scan data cut with EOI re-appended, a PNG image
    data CRC mismatch) loads in Pillow as a picture with filler; as an item it is refused like the
    same file given by path or bytes, naming the path. Look-alike: the intact file, opened the
    same way, gives the file's pixels."""
    from forensics.media import ItemError, load_item

    img = natural_image(4, (64, 80))
    if kind == "png_crc":
        good, bad = encode(img, "PNG"), _png_with_bad_idat_crc(img)
    else:
        opts = {"progressive": {"progressive": True}, "restart": {"restart_marker_blocks": 2}}.get(kind, {})
        src = np.ascontiguousarray(img[..., 0]) if kind == "grey" else img
        good = encode(src, "JPEG", quality=90, **opts)
        bad = cut_scan(good)
    Image.open(io.BytesIO(bad)).load()  # Pillow itself accepts the damaged file
    path = tmp_path / f"{kind}.img"
    path.write_bytes(bad)
    with pytest.raises(ItemError) as by_bytes:
        load_item(bad, 3).pixels
    with Image.open(path) as im:
        with pytest.raises(ItemError, match=r"^item 3 \(.*\.img\): ") as by_pil:
            load_item(im, 3)
    assert by_pil.value.reason == by_bytes.value.reason
    with pytest.raises(ItemError, match=r"^item 3: "):
        load_item(Image.open(io.BytesIO(bad)), 3)
    intact = load_item(Image.open(io.BytesIO(good)), 3)
    np.testing.assert_array_equal(intact.pixels, np.asarray(Image.open(io.BytesIO(good))))


def test_pil_images_without_a_file_to_check_are_taken_as_they_are():
    """Only a lazily opened first frame has its file checked: an image already loaded, one made in
    memory, or a later frame of a multi-frame file is taken as its pixels (nothing to check)."""
    from forensics.media import load_item
    from forensics.media._item import _pil_file_bytes

    img = natural_image(5, (32, 40))
    bad = cut_scan(encode(img, "JPEG", quality=90))
    loaded = Image.open(io.BytesIO(bad))
    loaded.load()
    assert _pil_file_bytes(loaded) is None
    assert load_item(loaded).pixels.shape == (32, 40, 3)
    assert _pil_file_bytes(Image.fromarray(img)) is None
    lazy = Image.open(io.BytesIO(bad))
    assert _pil_file_bytes(lazy) == bad and lazy.tile  # reading the bytes leaves the image unloaded
    buf = io.BytesIO()
    frames = [Image.fromarray(natural_image(s, (16, 16))) for s in (1, 2)]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    gif = Image.open(io.BytesIO(buf.getvalue()))
    assert _pil_file_bytes(gif) == buf.getvalue()
    gif.seek(1)
    assert _pil_file_bytes(gif) is None


# -- file names: Unicode normalization ---------------------------------------------------------
@pytest.mark.parametrize("asked_form,disk_form", [("NFC", "NFD"), ("NFD", "NFC")])
def test_a_name_in_another_unicode_normalization_is_named_as_the_cause(tmp_path, asked_form, disk_form):
    """'café' stored decomposed (NFD, as macOS writes names) and asked for precomposed (NFC), or
    the reverse: both print the same, Linux sees two names. The error says so, naming both forms.
    Look-alikes: the name in the disk's own form reads; a name with no twin is plainly not found."""
    import unicodedata

    from video_fixtures import write_video

    from forensics.media import ItemError, load_item, video_info

    name = "Видео café"
    disk, asked = (unicodedata.normalize(f, name) for f in (disk_form, asked_form))
    assert disk != asked
    write_video(tmp_path / f"{disk}.mp4", [np.full((32, 32, 3), 90, np.uint8)] * 2)
    (tmp_path / f"{disk}.png").write_bytes(encode(natural_image(1, (8, 8)), "PNG"))
    hint = rf"\): file not found; a file whose name differs only in Unicode normalization exists \({disk_form}: "
    calls = [(".mp4", lambda p: read_frames(p, n=2)), (".mp4", video_info), (".png", lambda p: load_item(p).pixels)]
    for suffix, call in calls:
        with pytest.raises(ItemError, match=hint) as err:
            call(tmp_path / f"{asked}{suffix}")
        nfc, nfd = "caf\\u00e9", "cafe\\u0301"  # the differing letters as code points; the rest as is
        assert (f"'Видео {nfd if disk_form == 'NFD' else nfc}{suffix}' vs 'Видео "
                f"{nfc if disk_form == 'NFD' else nfd}{suffix}' asked" in err.value.reason)
        call(tmp_path / f"{disk}{suffix}")  # the name as stored reads
        with pytest.raises(ItemError) as err:
            call(tmp_path / f"other{suffix}")
        assert err.value.reason == "file not found"


def test_manifest_and_dfdc_rows_name_a_unicode_normalization_twin(tmp_path):
    """A manifest CSV (or DFDC metadata.json) written with NFC names for files stored in NFD: the
    "not on disk" warning counts the rows that have such a twin. Look-alike: a row whose file is
    simply absent gets the plain warning."""
    import json
    import unicodedata

    from forensics.datasets import SkippedFilesWarning, load_dfdc, read_manifest

    nfc, nfd = unicodedata.normalize("NFC", "café.mp4"), unicodedata.normalize("NFD", "café.mp4")
    (tmp_path / nfd).write_bytes(b"x")
    (tmp_path / "m.csv").write_text(f"path,label\n{nfc},0\ngone.mp4,1\n", encoding="utf-8")
    with pytest.warns(SkippedFilesWarning), pytest.warns(UserWarning, match=r"2 of 2 rows .*; 1 of them: a file whose name differs only in Unicode "
                                         r"normalization exists \(NFD: 'cafe\\u0301\.mp4'"):
        m = read_manifest(tmp_path / "m.csv")
    assert m["exists"].tolist() == [False, False]
    (tmp_path / "n.csv").write_text("path,label\ngone.mp4,1\n", encoding="utf-8")
    with pytest.warns(UserWarning) as record:
        read_manifest(tmp_path / "n.csv")
    assert not any("normalization" in str(w.message) for w in record)
    part = tmp_path / "dfdc_train_part_0"
    part.mkdir()
    (part / nfd).write_bytes(b"x")
    (part / "metadata.json").write_text(json.dumps({nfc: {"label": "REAL"}}), encoding="utf-8")
    with pytest.warns(UserWarning) as record:
        load_dfdc(part)
    assert any("1 of them: a file whose name differs only in Unicode normalization" in str(w.message) for w in record)


# -- stale header durations ----------------------------------------------------------------------
@pytest.mark.parametrize("duration_ms,message", [
    (1200, "the container gives a duration of 1.200 s but the frames span 2.400 s"),
    (2199, "the container gives a duration of 2.199 s but the frames span 2.400 s"),  # just past the tolerance
    (2200, None),  # at the tolerance (two frame intervals, 0.2 s): not reported
    (2400, None),  # the true duration
    (2600, None),
    (2601, "the container gives a duration of 2.601 s but the frames end at 2.400 s (truncated file?)"),
    (4800, "the container gives a duration of 4.800 s but the frames end at 2.400 s (truncated file?)")])
def test_matroska_duration_element_that_the_frames_contradict_is_reported(tmp_path, duration_ms, message):
    """A Matroska file whose Segment Duration was not updated after an edit: shorter than the
    frames (stale) or longer (truncated) is reported, and sampling still spans every frame.
    Look-alikes: the true Duration, and ones at the tolerance, give no report."""
    import struct

    from video_fixtures import write_video

    from forensics.media import video_info

    path = write_video(tmp_path / "clip.mkv", index_frames(24, step=8), fps=10, gop=1)
    data = bytearray(path.read_bytes())
    i = data.find(b"\x44\x89\x88")  # Duration, an 8-byte float in the segment's timescale (ms)
    assert struct.unpack(">d", data[i + 3:i + 11])[0] == 2400.0
    data[i + 3:i + 11] = struct.pack(">d", float(duration_ms))
    path.write_bytes(bytes(data))
    info = video_info(path)
    assert info.n_frames == 24 and info.duration_s == pytest.approx(2.4)
    assert list(info.errors) == ([message] if message else [])
    r = read_frames(path, n=3)
    assert r.indices.tolist() == [0, 12, 23]
    np.testing.assert_allclose([frame_level(f) for f in r.frames], [16, 16 + 8 * 12, 16 + 8 * 23], atol=3)


def test_an_mp4_cut_before_its_index_names_the_demuxers_reason(tmp_path):
    """An MP4 whose index (moov, written at the end) was cut off cannot be read at all: the error
    carries FFmpeg's own reason, not only 'Invalid data'. Look-alikes: the intact file reads, and
    the same cut of a file with its index first (faststart) reads the frames present, reporting
    the header count the packets contradict."""
    from video_fixtures import write_video

    from forensics.media import ItemError, video_info

    frames = index_frames(40, step=5)
    end = write_video(tmp_path / "end.mp4", frames, fps=10, gop=5)
    assert video_info(end).n_frames == 40
    data = end.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat")  # the index comes last
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) * 8 // 10])
    with pytest.raises(ItemError, match=r"not a readable video file: the recording was not finalized, it has no moov "
                                        r"index .*\(InvalidDataError: .*; ffmpeg mov,mp4[^:]*: moov atom not found\)$"):
        video_info(tmp_path / "cut.mp4")
    with av.open(str(tmp_path / "fast.mp4"), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = 96, 64, "yuvj420p"
        for f in frames:
            for pk in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    data = (tmp_path / "fast.mp4").read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    (tmp_path / "fastcut.mp4").write_bytes(data[:len(data) * 8 // 10])
    info = video_info(tmp_path / "fastcut.mp4")
    assert 20 < info.n_frames < 40 and info.header_frames == 40
    with av.open(str(tmp_path / "fastcut.mp4")) as c:
        packets = [p for p in c.demux(video=0) if p.size]
    # the cut ends inside a JPEG that FFmpeg's decoder refuses (its tables cut): that packet is no frame (round 11b)
    assert packets[-1].is_corrupt and info.n_frames == len(packets) - 1
    assert any(f"the header gives 40 frames but the stream holds {len(packets)} packets" in e for e in info.errors)


def test_a_video_name_with_undecodable_bytes_is_read_and_named_printably(tmp_path):
    """A video named in Latin-1 on a UTF-8 system reads; its errors and VideoInfo.path name it with
    the bytes escaped, as load_item names such an image, so a message can be printed and saved
    (before, an ItemError held the raw surrogate and failed to encode). Look-alike: a valid
    non-ASCII name is named as is."""
    import os

    from video_fixtures import write_video

    from forensics.media import ItemError, video_info

    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.mp4"
    try:
        write_video(os.fsdecode(raw), [np.full((32, 32, 3), 90, np.uint8)] * 2)
    except (OSError, av.FFmpegError):  # pragma: no cover - a file system that refuses such names
        pytest.skip("this file system refuses names that are not valid UTF-8")
    r = read_frames(os.fsdecode(raw), n=2)
    assert len(r) == 2 and abs(frame_level(r.frames[0]) - 90) < 3
    assert r.info.path == str(tmp_path / "caf\\udce9.mp4") and video_info(raw).path == r.info.path
    with pytest.raises(ItemError) as err:
        read_frames(os.fsdecode(raw)[:-4] + "-2.mp4")
    assert err.value.source == str(tmp_path / "caf\\udce9-2.mp4")
    str(err.value).encode("utf-8")  # printable and savable
    write_video(tmp_path / "café.mp4", [np.full((32, 32, 3), 90, np.uint8)] * 2)
    assert video_info(tmp_path / "café.mp4").path == str(tmp_path / "café.mp4")


def test_a_path_with_windows_separators_names_the_file_meant(tmp_path):
    """A manifest written on Windows names 'real\\a.jpg', one file name on POSIX systems: when
    'real/a.jpg' exists, the error (and the manifest's 'not on disk' warning) says so. Look-alikes:
    a file whose name really holds a backslash is read as itself; a path with a backslash and no
    such file elsewhere is plainly not found."""
    from forensics.datasets import SkippedFilesWarning, read_manifest
    from forensics.media import ItemError, load_item

    (tmp_path / "real").mkdir()
    png = encode(natural_image(2, (8, 8)), "PNG")
    (tmp_path / "real" / "a.png").write_bytes(png)
    windows = str(tmp_path) + "/real\\a.png"
    with pytest.raises(ItemError) as err:
        load_item(windows)
    assert err.value.reason == f"file not found; the path uses Windows separators ('\\'): a file exists at " \
                               f"{tmp_path / 'real' / 'a.png'}"
    with pytest.raises(ItemError, match=r"\): file not found$"):
        load_item(str(tmp_path) + "/real\\b.png")
    (tmp_path / "m.csv").write_text("path,label\nreal\\a.png,0\n", encoding="utf-8")
    with pytest.warns(SkippedFilesWarning), pytest.warns(UserWarning, match=r"1 of them: the path uses Windows "
                                                                           r"separators"):
        assert read_manifest(tmp_path / "m.csv")["exists"].tolist() == [False]
    (tmp_path / "real\\a.png").write_bytes(png)  # now a file with that very name exists: it is the one read
    np.testing.assert_array_equal(load_item(windows).pixels, natural_image(2, (8, 8)))


def test_a_file_url_and_an_unexpanded_tilde_name_the_file_meant(tmp_path, monkeypatch):
    """'file:///data/a.png' was told to be downloaded first (it names a local file), and in a
    manifest it was looked for as '<folder>/file:/data/a.png', '~/a.png' as '<folder>/~/a.png',
    with no word of why. Look-alikes: an http URL keeps its note; a '~' path with no file at its
    expansion, and 'file:a.png' (a valid file name, read as one), have none; nothing is read in
    the named file's place."""
    from urllib.request import pathname2url

    from forensics._sources import load_data
    from forensics.datasets import read_manifest

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    png = encode(natural_image(2, (8, 8)), "PNG")
    (tmp_path / "home" / "a.png").write_bytes(png)
    cafe = tmp_path / "caf\u00e9.png"
    cafe.write_bytes(png)
    url = "file://" + pathname2url(str(cafe))  # percent-encoded: caf%C3%A9.png
    reasons = {}
    for path in (url, "file://localhost" + pathname2url(str(tmp_path / "gone.png")), "file://nas/x.png",
                 "https://example.org/a.png", "~/a.png", "~/b.png"):
        with pytest.raises(ItemError) as err:
            load_item(path)
        reasons[path] = err.value.reason
    assert list(reasons.values()) == [
        f"file not found; it is a file:// URL, not a path: its local file {cafe} exists",
        f"file not found; it is a file:// URL, not a path: its local file {tmp_path / 'gone.png'} does not exist "
        f"either",
        "file not found; it is a file:// URL of another host (nas): give a local path",
        "file not found; it is a URL: inputs are local files (download it first)",
        f"file not found; '~' is not expanded in a path (a shell expands it): a file exists at "
        f"{tmp_path / 'home' / 'a.png'}",
        "file not found"]
    (tmp_path / "file:a.png").write_bytes(png)  # a literal name (the shared case 27 has such files)
    np.testing.assert_array_equal(load_item(str(tmp_path / "file:a.png")).pixels, natural_image(2, (8, 8)))
    data = tmp_path / "data"
    data.mkdir()
    (data / "b.png").write_bytes(png)
    (data / "m.csv").write_text(f"path,label\n{url},0\n~/a.png,1\n~/b.png,0\nb.png,1\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=rf"3 of 4 rows .*exists=False; 1 of them \(first: '{url}'\): it is a file:// "
                                         rf"URL, not a path: its local file .*caf\u00e9\.png exists; 1 of them \(first: "
                                         rf"'~/a\.png'\): '~' is not expanded in a path"):
        assert read_manifest(data / "m.csv")["exists"].tolist() == [False, False, False, True]
    with pytest.warns(UserWarning, match=rf"names files absent from its folder; 1 of them \(first: '{url}'\): it is a "
                                         rf"file:// URL.*; 1 of them \(first: '~/a\.png'\)"):
        load_data(data / "m.csv")
    with pytest.raises(FileNotFoundError, match=r"--dataset\); it is a file:// URL, not a path: its local file "
                                                r".*/data/ exists$"):
        load_data("file://" + pathname2url(str(data)) + "/")


def test_windows_separators_and_another_unicode_normalization_at_once(tmp_path):
    """A manifest written on Windows, with precomposed (NFC) names, for files copied from macOS
    (NFD): both look-alikes at once are named together, and the manifest's warning counts each
    kind of look-alike apart. Look-alikes: the separators alone, and the NFD name with '\\'
    whose '/' form does not exist (plainly not found)."""
    import unicodedata

    from forensics.datasets import SkippedFilesWarning, read_manifest
    from forensics.media import ItemError, load_item

    nfc, nfd = (unicodedata.normalize(f, "café.png") for f in ("NFC", "NFD"))
    (tmp_path / "real").mkdir()
    png = encode(natural_image(2, (8, 8)), "PNG")
    (tmp_path / "real" / nfd).write_bytes(png)
    (tmp_path / "real" / "b.png").write_bytes(png)
    with pytest.raises(ItemError) as err:
        load_item(str(tmp_path) + "/real\\" + nfc)
    assert err.value.reason == (
        f"file not found; the path uses Windows separators ('\\') and a file whose name differs only in Unicode "
        f"normalization exists at {tmp_path / 'real' / nfd} (NFD: 'cafe\\u0301.png' vs 'caf\\u00e9.png' asked), "
        f"e.g. a copy from macOS: rename one to match")
    with pytest.raises(ItemError, match=r"\): file not found$"):
        load_item(str(tmp_path) + "/other\\" + nfc)
    (tmp_path / "m.csv").write_text(f"path,label\nreal\\{nfc},0\nreal\\b.png,0\nreal\\c.png,0\n", encoding="utf-8")
    with pytest.warns(UserWarning) as record:
        assert read_manifest(tmp_path / "m.csv")["exists"].tolist() == [False, False, False]
    assert any(isinstance(w.message, SkippedFilesWarning) for w in record)  # the two unlisted files
    text, = [str(w.message) for w in record if "rows of" in str(w.message)]
    assert text.startswith("3 of 3 rows")
    assert "; 1 of them: the path uses Windows separators ('\\') and a file whose name differs" in text
    assert f"; 1 of them: the path uses Windows separators ('\\'): a file exists at {tmp_path / 'real' / 'b.png'}" in text


# -- MP4 edit lists ------------------------------------------------------------------------------
def _mp4_shifted(path, frames, shift, *, bframes=True, movflags=None, fps=10):
    """Encode ``frames`` (libx264, keyframe every 5) into an MP4 whose packet times are moved by
    ``shift`` frames (a multiple of 1/2): negative -> the mov muxer writes an edit list that
    hides the start (what ``ffmpeg -ss T -c copy`` writes, T inside a frame when not a whole
    frame), positive -> an empty edit (the video starts late). With B-frames the muxer adds
    its usual edit that hides the decode delay (or none with movflags=negative_cts_offsets)."""
    half = int(round(2 * shift))
    with av.open(str(path), "w", format="mp4", options={"movflags": movflags} if movflags else {}) as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "18", "preset": "veryfast", "threads": "1", "g": "5", "keyint_min": "5",
                     "sc_threshold": "0", **({} if bframes else {"bf": "0"})}
        s.codec_context.thread_count = 1

        def moved(pk):
            pk.pts, pk.dts, pk.time_base = 2 * pk.pts + half, 2 * pk.dts + half, Fraction(1, 2 * fps)
            pk.duration = 2 * (pk.duration or 0) or None
            return pk
        for k, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts, vf.time_base = k, Fraction(1, fps)
            for pk in s.encode(vf):
                c.mux(moved(pk))
        for pk in s.encode():
            c.mux(moved(pk))
    return path


def _within(seconds, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, failing the test (not hanging the run) when it takes longer."""
    import threading

    out = {}
    thread = threading.Thread(target=lambda: out.update(value=fn(*args, **kwargs)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return out["value"]


def _edits(path):
    """(segment duration, media time) of each entry of the MP4's edit list (elst)."""
    import struct

    data = path.read_bytes()
    i = data.find(b"elst") - 4
    version, n = data[i + 8], struct.unpack(">I", data[i + 12:i + 16])[0]
    fmt, size = (">Qq", 16) if version == 1 else (">Ii", 8)
    return [struct.unpack(fmt, data[i + 16 + k * (size + 4):i + 16 + k * (size + 4) + size]) for k in range(n)]


@pytest.mark.parametrize("shift,bframes,movflags,edits,first,start", [
    (0, True, None, [(1200, 2048)], 0, 0.0),  # B-frames: the edit hiding the decode delay (2 frames)
    (0, True, "negative_cts_offsets", [(1200, 0)], 0, 0.0),  # B-frames with negative offsets: no shift
    (-3, True, None, [(900, 5120)], 3, 0.0),  # a copy-cut on a frame boundary
    (-2.5, False, None, [(950, 2560)], 3, 0.0),  # a copy-cut inside frame 2 (FFmpeg starts at frame 3)
    (-2.5, True, None, [(950, 4608)], 3, 0.0),
    (3, True, None, [(300, -1), (1200, 2048)], 0, 0.3),  # an empty edit: the video starts 0.3 s late
])
def test_mp4_edit_lists_give_the_frames_ffmpeg_shows(tmp_path, shift, bframes, movflags, edits, first, start):
    """MP4 edit lists as muxers write them: frame k, times=, video_info and VideoFeatures rows are
    the frames FFmpeg presents (its players show). A copy-cut inside a frame: FFmpeg hides that
    frame too and shows the next one from time 0 (a player following the edit to the sample
    would show the hidden frame's last half-interval first); n_frames and duration count the
    frames shown. Look-alike: the plain file, no edit to hide anything."""
    from forensics.features import BlurFeatures, VideoFeatures
    from forensics.media import video_info

    path = _mp4_shifted(tmp_path / "e.mp4", index_frames(12, step=15), shift, bframes=bframes, movflags=movflags)
    assert [e[:2] for e in _edits(path)] == edits  # the file is the variant meant (edit entries, 1/10240 s)
    n = 12 - first
    info = video_info(path)
    assert (info.n_frames, info.header_frames, info.errors) == (n, 12, ())
    assert info.duration_s == pytest.approx(n / 10) and info.start_time_s == pytest.approx(start)
    r = read_frames(path, every=1)
    assert r.indices.tolist() == list(range(n)) and r.errors == []
    np.testing.assert_allclose([frame_level(f) for f in r.frames], 16 + 15 * np.arange(first, 12), atol=3)
    np.testing.assert_allclose(r.timestamps, np.arange(n) / 10, atol=1e-6)
    r = read_frames(path, times=[0.0, 0.099, 0.1, 0.55, n / 10 - 0.001])  # each frame shown for 0.1 s
    assert r.indices.tolist() == [0, 0, 1, 5, n - 1]
    np.testing.assert_allclose([frame_level(f) for f in r.frames], 16 + 15 * (first + np.array([0, 0, 1, 5, n - 1])),
                               atol=3)
    for seek in (True, False):
        r = _within(30, read_frames, path, indices=[n - 1, 2, 7], seek=seek)  # the B-frame cut used to loop for ever
        assert r.indices.tolist() == [n - 1, 2, 7] and r.errors == []
        np.testing.assert_allclose([frame_level(f) for f in r.frames], 16 + 15 * (first + np.array([n - 1, 2, 7])),
                                   atol=3)
    vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=4).fit()
    assert vf.transform([path]).shape == (1, vf.n_features_out_)
    assert vf.status_["status"].tolist() == ["ok"] and vf.records_["frame_index"].tolist() == \
        np.round(np.linspace(0, n - 1, 4) + 1e-9).astype(int).tolist()


def _with_edit_list(src, dst, entries):
    """``src`` (an MP4 whose moov follows its mdat, with one elst entry) with the edit list replaced by
    ``entries`` ((segment duration in the movie's 1/1000 s, media time in the track's units), rate 1):
    the elst box rewritten and its parents' sizes (edts, trak, moov) grown; no chunk offset moves."""
    data = bytearray(src.read_bytes())
    assert data.find(b"mdat") < data.find(b"moov")
    at = data.find(b"elst") - 4
    old = struct.unpack(">I", data[at:at + 4])[0]
    body = struct.pack(">II", 0, len(entries)) + b"".join(struct.pack(">IiHH", d, t, 1, 0) for d, t in entries)
    box = struct.pack(">I", 8 + len(body)) + b"elst" + body
    for name in (b"edts", b"trak", b"moov"):
        j = data.rfind(name, 0, at) - 4
        struct.pack_into(">I", data, j, struct.unpack(">I", data[j:j + 4])[0] + len(box) - old)
    data[at:at + old] = box
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("edits,shown", [
    ([(300, 0), (500, 3072), (300, 4096)], [0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6]),  # a stretch shown again later
    ([(500, 0), (500, 0)], [0, 1, 2, 3, 4] * 2),  # a loop: the first half second twice
    ([(300, 0), (300, 6144)], [0, 1, 2, 6, 7, 8]),  # a cut out of the middle
    ([(500, 0)], [0, 1, 2, 3, 4]),  # the end trimmed (a copy-cut with -t)
    ([(1200, 0)], list(range(12))),  # the plain file's own edit
])
def test_mp4_edit_lists_of_several_entries_give_the_frames_ffmpeg_shows(tmp_path, edits, shown):
    """An edit list of several entries (an editor's cut, a loop, a trimmed end) on a 12-frame 10 fps
    clip, keyframes every 5: FFmpeg rebuilds the index, repeating samples (decode-only discarded
    copies, or shown again) with pts that recur. Frame k, times= and the counts are the frames FFmpeg
    shows. Before, a stretch shown again later lost frames 0-2 ('3 requested frame(s) not decoded':
    the rewind to pts 0 landed on the later, discarded copy of frame 0, taken for the first packet by
    its pts) and 'the header gives 12 frames but the stream holds 28 packets' was reported, as 12
    against 11 packets for the trimmed end (the sample table's count is no count of FFmpeg's packets
    under an edit list). Look-alikes: the loop, the cut and the plain edit, read right before."""
    from forensics.features import BlurFeatures, VideoFeatures

    plain = _mp4_shifted(tmp_path / "plain.mp4", index_frames(12, step=15), 0, bframes=False)
    assert _edits(plain) == [(1200, 0)]
    path = _with_edit_list(plain, tmp_path / "edited.mp4", edits)
    assert [e[:2] for e in _edits(path)] == edits
    n = len(shown)
    with av.open(str(path)) as c:  # what FFmpeg shows: the truth the reader must give
        truth = [frame_level(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    np.testing.assert_allclose(truth, 16 + 15 * np.array(shown), atol=3)
    info = video_info(path)
    assert (info.n_frames, info.header_frames, info.errors) == (n, 12, ())
    assert info.duration_s == pytest.approx(n / 10)
    r = read_frames(path, every=1)
    assert r.indices.tolist() == list(range(n)) and r.errors == []
    np.testing.assert_allclose([frame_level(f) for f in r.frames], truth, atol=1e-9)
    np.testing.assert_allclose(r.timestamps, np.arange(n) / 10, atol=1e-6)
    asked = [n - 1, 0, n // 2, 1]
    for seek in (True, False):
        r = _within(30, read_frames, path, indices=asked, seek=seek)
        assert r.indices.tolist() == asked and r.errors == []
        np.testing.assert_allclose([frame_level(f) for f in r.frames], [truth[k] for k in asked], atol=1e-9)
    r = read_frames(path, times=[0.0, 0.15, n / 10 - 0.001])
    assert r.indices.tolist() == [0, 1, n - 1]
    vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=4).fit()
    vf.transform([path])
    assert vf.status_["status"].tolist() == ["ok"]


# -- MP4 header durations --------------------------------------------------------------------------
def _set_mp4_duration(path, box, value):
    """Overwrite the duration field of the first ``box`` (mvhd, tkhd or mdhd: version 0 layout) in
    place; returns the old value. The sample tables (stts, stsz) are left as they are."""
    import struct

    data = bytearray(path.read_bytes())
    i = data.find(box.encode()) - 4
    assert data[i + 8] == 0  # version 0: 32-bit times
    at = i + 12 + 8 + (8 if box == "tkhd" else 4)  # after creation/modification times, then timescale or track id
    old = struct.unpack(">I", data[at:at + 4])[0]
    data[at:at + 4] = struct.pack(">I", value)
    path.write_bytes(bytes(data))
    return old


@pytest.mark.parametrize("box,value,message", [
    ("mdhd", 12288, "the header gives a duration of 1.200 s but the frames span 2.400 s"),  # half the frames
    ("mdhd", 22425, "the header gives a duration of 2.190 s but the frames span 2.400 s"),  # just past the tolerance
    ("mdhd", 22528, None),  # at the tolerance (two frame intervals, 0.2 s)
    ("mdhd", 49152, None),  # longer: FFmpeg takes the sample tables' duration instead, nothing to see
    ("tkhd", 1200, None),  # FFmpeg does not read the track header's duration
    ("tkhd", 4800, None),
    ("mvhd", 1200, None),  # the movie duration: FFmpeg takes the streams' instead
])
def test_a_stale_mp4_header_duration_is_reported_or_harmless(tmp_path, box, value, message):
    """An MP4 whose media, track or movie header duration was left stale by an edit while the
    sample tables (stts, stsz) stay consistent: frames are counted from the packets, so sampling
    spans every frame whatever the header says; a media duration that FFmpeg presents and the
    frames contradict is reported. The others never reach a reader built on FFmpeg (harmless).
    Look-alike: the true durations (the untouched file), no report."""
    from video_fixtures import write_video

    from forensics.media import video_info

    path = write_video(tmp_path / "clip.mp4", index_frames(24, step=8), fps=10, gop=5)
    assert video_info(path).errors == ()
    assert _set_mp4_duration(path, box, value) == {"mdhd": 24576, "tkhd": 2400, "mvhd": 2400}[box]
    info = video_info(path)
    assert (info.n_frames, info.header_frames, info.duration_s) == (24, 24, pytest.approx(2.4))
    assert list(info.errors) == ([message] if message else [])
    r = read_frames(path, n=3)
    assert r.indices.tolist() == [0, 12, 23]
    np.testing.assert_allclose([frame_level(f) for f in r.frames], [16, 16 + 8 * 12, 16 + 8 * 23], atol=3)
    assert read_frames(path, times=[2.35]).indices.tolist() == [23]


# -- WebM: a pixel aspect ratio only the container carries ---------------------------------------
def _ebml_children(data, start, end):
    """(id, offset, header length, size) of the EBML elements in ``data[start:end]``."""
    out, i = [], start
    while i < end:
        n = 8 - data[i].bit_length() + 1  # an ID's length is its leading zero bits + 1
        eid = int.from_bytes(data[i:i + n], "big")
        m = 8 - data[i + n].bit_length() + 1
        size = int.from_bytes(data[i + n:i + n + m], "big") & ((1 << (7 * m)) - 1)
        out.append((eid, i, n + m, size))
        i += n + m + size
    return out


def _webm_vp9(path, frames, display_size=None):
    """A VP9 WebM (VP9 frames carry no aspect ratio). ``display_size``: (width, height) written as
    the Video element's DisplayWidth/DisplayHeight, which PyAV cannot set: the track is written
    with a Name, whose bytes are then spent on the two elements and a Void, inside its TrackEntry
    (nothing else in the file moves)."""
    with av.open(str(path), "w", format="webm") as c:
        s = c.add_stream("libvpx-vp9", rate=10)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        s.metadata["title"] = "room for the display size"
        s.options = {"deadline": "realtime", "cpu-used": "8", "threads": "1"}
        for f in frames:
            for pk in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    if display_size is None:
        return path
    data = bytearray(path.read_bytes())
    segment = _ebml_children(data, 0, len(data))[1]
    tracks = next(e for e in _ebml_children(data, segment[1] + segment[2], len(data)) if e[0] == 0x1654AE6B)
    entry = _ebml_children(data, tracks[1] + tracks[2], tracks[1] + tracks[2] + tracks[3])[0]
    body_at = entry[1] + entry[2]
    kids = _ebml_children(data, body_at, body_at + entry[3])
    assert [k[0] for k in kids if k[0] in (0x536E, 0xE0)] == [0x536E, 0xE0]  # a Name, then the Video element
    add = b"".join(eid + b"\x82" + v.to_bytes(2, "big") for eid, v in zip((b"\x54\xb0", b"\x54\xba"), display_size))
    body = b""
    for eid, at, head, size in kids:
        raw = bytes(data[at:at + head + size])
        if eid == 0x536E:  # the Name becomes a Void of the bytes left over
            void = head + size - len(add)
            body += bytes([0xEC, 0x80 | (void - 2)]) + bytes(void - 2)
        elif eid == 0xE0:
            body += bytes([0xE0, 0x80 | (size + len(add))]) + raw[head:] + add
        else:
            body += raw
    assert len(body) == entry[3]
    data[body_at:body_at + entry[3]] = body
    path.write_bytes(bytes(data))
    return path


def test_a_webm_display_size_is_the_pixel_aspect_ratio(tmp_path):
    """VP9 has no aspect ratio field: in a WebM the pixel shape is only the container's
    DisplayWidth/DisplayHeight (48x48 coded shown at 64x48: pixels 4:3). Frames are resampled to
    square pixels as players show them; display=False keeps the coded grid. Look-alike: the same
    file without a display size is square."""
    import cv2

    from forensics.media import read_display_frames, video_info

    coded = cv2.resize(natural_image(3, (48, 64)), (48, 48), interpolation=cv2.INTER_AREA)  # squeezed 4:3
    wide = _webm_vp9(tmp_path / "wide.webm", [coded] * 3, display_size=(64, 48))
    square = _webm_vp9(tmp_path / "square.webm", [coded] * 3)
    info = video_info(wide)
    assert info.codec == "vp9" and info.errors == ()
    assert (info.sample_aspect_ratio, info.width, info.display_width, info.display_height) == \
        (pytest.approx(4 / 3), 48, 64, 48)
    r = read_frames(wide, indices=[1])
    raw = read_frames(wide, indices=[1], display=False)
    assert r.sar_applied == pytest.approx(4 / 3) and raw.frames[0].shape == (48, 48, 3)
    np.testing.assert_array_equal(r.frames[0], cv2.resize(raw.frames[0], (64, 48), interpolation=cv2.INTER_LINEAR))
    plain = video_info(square)
    assert (plain.sample_aspect_ratio, plain.display_width) == (1.0, 48)
    assert read_frames(square, indices=[1]).frames[0].shape == (48, 48, 3)
    for path, sar, width in ((wide, 4 / 3, 64), (square, 1.0, 48)):  # what face detection and crops see
        video, rotation, applied = read_display_frames(path, n=2)
        assert (rotation, applied, video.frames[0].shape) == (0, pytest.approx(sar), (48, width, 3))


# -- sample aspect ratios a frame size cannot take (round 8) -----------------------------------
def _mp4_with_pasp(path, h_spacing, v_spacing):
    """A 96x64 H.264 MP4 whose VUI says 4:3 and whose ``pasp`` box says ``h_spacing:v_spacing``
    (the box's two 32-bit fields patched in place; PyAV writes the codec's ratio there)."""
    from video_fixtures import write_video

    write_video(path, index_frames(3, size=(64, 96)), sample_aspect_ratio=Fraction(4, 3))
    data = bytearray(path.read_bytes())
    at = data.find(b"pasp")
    assert at > 0 and struct.unpack(">II", data[at + 4:at + 12]) == (4, 3)
    data[at + 4:at + 12] = struct.pack(">II", h_spacing, v_spacing)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("pasp,sar,width,reported", [
    ((1000, 1), 4 / 3, 128, True),        # 64 // 1000 = 0 rows: invalid; the VUI's 4:3 holds
    ((2**31 - 1, 1), 4 / 3, 128, True),   # was an OpenCV error (a width beyond int)
    ((65, 1), 4 / 3, 128, True),          # just above the threshold: 64 // 65 = 0
    ((64, 1), 64.0, 6144, False),         # at it: 64 // 64 = 1 row, valid, applied
    ((1, 97), 4 / 3, 128, True),          # 96 // 97 = 0 columns
    ((1, 96), 1 / 96, 1, False),          # 96 // 96 = 1 column, valid
    ((3, 2), 1.5, 144, False),            # an ordinary container ratio over the VUI's
])
def test_a_container_aspect_ratio_that_scales_a_side_below_a_pixel_is_ignored(tmp_path, pasp, sar, width, reported):
    """An MP4 ``pasp`` box is taken as FFmpeg's players take it, unless it fails FFmpeg's own
    ``av_image_check_sar`` for the coded size (a side scaled below one pixel), which FFmpeg's
    decoders apply to the codec's ratio ("ignoring invalid SAR") but its MP4 demuxer not to the
    box's. Before, 1000:1 gave 96000x64 frames, 65535:1 6291360x64 (1.2 GB a frame), 1:1000 frames
    one pixel wide, all without a word; 2**31-1:1 an OpenCV error. Now such a ratio is ignored for
    the codec's (the H.264 VUI's 4:3) and reported. Look-alikes: the ratios at the threshold and an
    ordinary 3:2 are applied without a report."""
    path = _mp4_with_pasp(tmp_path / "pasp.mp4", *pasp)
    info = video_info(path)
    note = [e for e in info.errors if "sample aspect ratio" in e]
    assert (info.sample_aspect_ratio, info.display_width, info.display_height) == (pytest.approx(sar), width, 64)
    assert bool(note) == reported and len(info.errors) == len(note)
    if reported:
        assert note[0].startswith(f"sample aspect ratio {pasp[0]}:{pasp[1]} is invalid for 96x64 frames")
    r = read_frames(path, indices=[1])
    assert r.frames[0].shape == (64, width, 3) and r.sar_applied == pytest.approx(sar)
    assert [e for e in r.errors if "sample aspect ratio" in e] == note
    assert read_frames(path, indices=[1], display=False).frames[0].shape == (64, 96, 3)


@pytest.mark.parametrize("display_size,sar,width,reported", [
    ((4800, 48), 1.0, 48, True),      # 100:1 on 48 rows: invalid; VP9 has no ratio of its own
    ((65535, 1), 1.0, 48, True),
    ((2304, 48), 48.0, 2304, False),  # 48:1, at the threshold: applied
])
def test_a_matroska_display_size_that_scales_a_side_below_a_pixel_is_ignored(tmp_path, display_size, sar, width,
                                                                             reported):
    """Matroska's DisplayWidth/DisplayHeight give the ratio (a WebM VP9 stream has no other): one
    that fails ``av_image_check_sar`` for the 48x48 coded frames is ignored (square pixels) and
    reported; before, 4800x48 gave frames 4800 pixels wide without a word."""
    import cv2

    coded = cv2.resize(natural_image(3, (48, 64)), (48, 48), interpolation=cv2.INTER_AREA)
    path = _webm_vp9(tmp_path / "d.webm", [coded] * 2, display_size=display_size)
    info = video_info(path)
    assert (info.sample_aspect_ratio, info.display_width) == (pytest.approx(sar), width)
    assert any("is invalid for 48x48 frames" in e for e in info.errors) == reported
    assert read_frames(path, indices=[0]).frames[0].shape == (48, width, 3)


def test_a_valid_aspect_ratio_is_held_to_max_pixels_on_the_displayed_frame(tmp_path):
    """A valid ratio still multiplies the width by up to the height (64:1 on 96x64: 6144x64 =
    393216 pixels displayed, 6144 coded), so ``max_pixels`` bounds the displayed frame too: at
    393216 it is read, one below it is an ItemError naming the item (before, it was read: only the
    coded size was held to the limit). The coded frames (``display=False``) stay within it and are
    read; so do the faces' display reads (read_display_frames) at the limit."""
    from forensics.media import read_display_frames

    path = _mp4_with_pasp(tmp_path / "wide.mp4", 64, 1)
    assert read_frames(path, indices=[0], max_pixels=6144 * 64).frames[0].shape == (64, 6144, 3)
    with pytest.raises(ItemError, match=r"item 5 \(.*wide\.mp4\): displayed frames would be 6144x64 .*"
                                        r"above max_pixels=393215"):
        read_frames(path, indices=[0], index=5, max_pixels=6144 * 64 - 1)
    assert read_frames(path, indices=[0], display=False, max_pixels=6144 * 64 - 1).frames[0].shape == (64, 96, 3)
    video, _, applied = read_display_frames(path, n=1, max_pixels=6144 * 64)
    assert applied == pytest.approx(64.0) and video.frames[0].shape == (64, 6144, 3)
    with pytest.raises(ItemError, match="displayed frames would be 6144x64"):
        read_display_frames(path, n=1, max_pixels=6144 * 64 - 1)


# -- GIF transparency ------------------------------------------------------------------------------
@pytest.mark.parametrize("transparency,background", [(3, 0), (3, 2), (0, 1), (1, 1)])
def test_gif_pixels_under_transparency_are_the_palette_colour(tmp_path, transparency, background):
    """A GIF with a transparent colour index: the RGB under its transparent pixels is the palette
    colour of the stored index (a plain palette lookup), as for the same picture as a PNG palette
    with tRNS, from bytes, a path or a PIL image alike. OpenCV's reader put the header's background
    colour there instead (a canvas colour, not the pixel). Look-alikes: the same GIF without
    transparency, and one whose transparent index no pixel uses, are the lookup unchanged."""
    from forensics.media import load_item

    rng = np.random.default_rng(transparency)
    idx = rng.integers(0, 4, (12, 10)).astype(np.uint8)
    palette = np.zeros((256, 3), np.uint8)
    palette[:4] = [(200, 10, 20), (30, 180, 40), (50, 60, 220), (123, 77, 99)]
    im = Image.fromarray(idx, "P")
    im.putpalette(palette.ravel().tolist())

    def saved(fmt, **kw):
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    gif = saved("GIF", transparency=transparency, background=background)
    png = saved("PNG", transparency=transparency)
    expected = np.dstack([palette[idx], np.where(idx == transparency, 0, 255).astype(np.uint8)])
    (tmp_path / "t.gif").write_bytes(gif)
    for obj in (gif, tmp_path / "t.gif", Image.open(io.BytesIO(gif)), png):
        np.testing.assert_array_equal(load_item(obj).pixels, expected)
    np.testing.assert_array_equal(load_item(gif).rgb, palette[idx].astype(np.float32))
    plain = saved("GIF", background=background)
    np.testing.assert_array_equal(load_item(plain).pixels[..., :3], palette[idx])
    unused = saved("GIF", transparency=7, background=background)  # index 7: no pixel holds it
    np.testing.assert_array_equal(load_item(unused).pixels[..., :3], palette[idx])


# -- timestamp discontinuities (MPEG-TS) -------------------------------------------------------
def _ts_wrapping(path, frames, first_pts):
    """An MPEG-TS of ``frames`` at 25 fps whose 90 kHz timestamps start at ``first_pts`` (B-frames, GOP 5)."""
    with av.open(str(path), "w", format="mpegts") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height = frames[0].shape[1], frames[0].shape[0]
        s.pix_fmt = "yuv420p"
        s.options = {"threads": "1", "g": "5", "keyint_min": "5", "sc_threshold": "0", "crf": "18"}
        s.codec_context.time_base = Fraction(1, 90000)
        for k, arr in enumerate(frames):
            f = av.VideoFrame.from_ndarray(arr, format="rgb24")
            f.pts, f.time_base = first_pts + 3600 * k, Fraction(1, 90000)
            for pk in s.encode(f):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    return path


@pytest.mark.parametrize("lengths", [(10, 10), (7, 10, 5)], ids=["two", "three"])
def test_concatenated_ts_keeps_file_order_and_continues_times(tmp_path, lengths):
    """MPEG-TS files joined end to end (``cat a.ts b.ts``, a common way clips are assembled): each
    part's timestamps start again, so sorting by pts interleaved the parts (frame 1 was the second
    part's first frame), half the frames 'did not decode' and times stopped at one part's length.
    As FFmpeg's command line does for formats that allow discontinuities, each part now follows the
    one before: frames keep file order, times continue, and the restart is reported. Look-alikes: the
    same frames in one TS (no report), and one whose 33-bit pts wrap mid-stream (FFmpeg unwraps it)."""
    from video_fixtures import write_video

    n = sum(lengths)
    frames = index_frames(n, size=(64, 96), step=9)
    data, k = b"", 0
    for j, m in enumerate(lengths):
        data += write_video(tmp_path / f"part{j}.ts", frames[k:k + m], gop=5).read_bytes()
        k += m
    joined = tmp_path / "joined.ts"
    joined.write_bytes(data)
    whole = write_video(tmp_path / "whole.ts", frames, gop=5)
    wrapped = _ts_wrapping(tmp_path / "wrap.ts", frames, 2**33 - 7 * 3600)  # pts wrap after frame 6
    for path, restarts in ((joined, len(lengths) - 1), (whole, 0), (wrapped, 0)):
        info = video_info(path)
        assert info.n_frames == n and info.duration_s == pytest.approx(n / 25, abs=1e-6)
        r = read_frames(path, every=1)
        assert r.indices.tolist() == list(range(n))
        assert [round((frame_level(f) - 16) / 9) for f in r.frames] == list(range(n))
        np.testing.assert_allclose(r.timestamps, np.arange(n) / 25, atol=1e-6)
        told = [e for e in r.errors if "timestamps go back" in e]
        assert r.errors == told and len(told) == (1 if restarts else 0)
        if restarts:
            assert f"go back {restarts} time(s)" in told[0]
        asked = [n - 2, 3, lengths[0], lengths[0] - 1]  # out of order, on both sides of the first restart
        r = read_frames(path, indices=asked)
        assert [round((frame_level(f) - 16) / 9) for f in r.frames] == asked
        r = read_frames(path, times=[0.0, (lengths[0] + 0.5) / 25, (n - 1) / 25])
        assert r.indices.tolist() == [0, lengths[0], n - 1]
        assert [round((frame_level(f) - 16) / 9) for f in r.frames] == [0, lengths[0], n - 1]


def _bmp16(fields, masks=None, alpha_mask=None):
    """A bottom-up 16-bit BMP of a (H, W) array of packed pixels; BITFIELDS when masks are given.

    With ``alpha_mask`` (an int, 0 included) the header is a 56-byte BITMAPV3INFOHEADER holding
    the masks and that alpha mask.
    """
    h, w = fields.shape
    stride = (2 * w + 3) // 4 * 4
    data = b"".join(fields[y].astype("<u2").tobytes().ljust(stride, b"\0") for y in range(h - 1, -1, -1))
    extra = struct.pack("<III", *masks) if masks else b""
    size = 40
    if alpha_mask is not None:
        extra, size = extra + struct.pack("<I", alpha_mask), 56
    info = struct.pack("<IiiHHIIiiII", size, w, h, 1, 16, 3 if masks else 0, len(data), 2835, 2835, 0, 0)
    off = 14 + len(info) + len(extra)
    return b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off) + info + extra + data


@pytest.mark.parametrize("masks, bits", [(None, (5, 5, 5)), ((0x7C00, 0x03E0, 0x001F), (5, 5, 5)),
                                         ((0xF800, 0x07E0, 0x001F), (5, 6, 5))])
def test_a_16_bit_bmp_is_scaled_to_full_range(masks, bits):
    # kind: a 16-bit (5-5-5 or 5-6-5) BMP; OpenCV shifted each field (31 -> 248), white was not white
    from forensics.media import load_item

    rng = np.random.default_rng(3)
    h, w = 5, 7  # odd width: rows padded to 4 bytes
    vals = [rng.integers(0, 2 ** b, (h, w)) for b in bits]
    vals[0][0, 0], vals[1][0, 0], vals[2][0, 0] = 2 ** bits[0] - 1, 2 ** bits[1] - 1, 2 ** bits[2] - 1
    vals[0][0, 1] = vals[1][0, 1] = vals[2][0, 1] = 0
    packed = (vals[0] << (bits[1] + bits[2])) | (vals[1] << bits[2]) | vals[2]
    data = _bmp16(packed, masks)
    item = load_item(data)
    expected = np.stack([v * 255 / (2 ** b - 1) for v, b in zip(vals, bits)], -1)
    assert item.pixels.shape == (h, w, 3) and item.white == 255
    assert np.abs(item.pixels - expected).max() <= 1  # bit replication is within one level of v*255/max
    assert item.pixels[0, 0].tolist() == [255, 255, 255] and item.pixels[0, 1].tolist() == [0, 0, 0]
    with pytest.raises(ItemError, match="item 0: cannot decode BMP image.*truncated"):
        load_item(data[:-30]).pixels
    # the valid look-alike: the same picture as a 24-bit BMP (OpenCV's reader) is read as stored
    buf = io.BytesIO()
    Image.fromarray(item.pixels).save(buf, "BMP")
    assert np.array_equal(load_item(buf.getvalue()).pixels, item.pixels)


def test_a_16_bit_bmp_with_an_alpha_bit_field_is_refused_not_stripped():
    # kind: a 1-5-5-5 BMP (V3 header, alpha mask 0x8000): Pillow reads it as RGB, losing the alpha
    from forensics.media import load_item

    rng = np.random.default_rng(4)
    r, g, b = (rng.integers(0, 32, (3, 5)) for _ in range(3))
    a = rng.integers(0, 2, (3, 5))
    packed = (a << 15) | (r << 10) | (g << 5) | b
    message = r"item 0: unsupported BMP: 16-bit pixels with an alpha bit field \(mask 0x8000"
    with pytest.raises(ItemError, match=message):
        load_item(_bmp16(packed, (0x7C00, 0x03E0, 0x001F), alpha_mask=0x8000)).pixels
    # the look-alike: the same header with no alpha mask (the top bit is unused) is read, scaled
    item = load_item(_bmp16(packed, (0x7C00, 0x03E0, 0x001F), alpha_mask=0))
    assert item.pixels.shape == (3, 5, 3) and not item.has_alpha
    assert np.abs(item.pixels - np.stack([r, g, b], -1) * 255 / 31).max() <= 1


def _png_with_exif(payload):
    import zlib

    png = encode(natural_image(3, (16, 16)), "PNG")
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload + struct.pack(">I", zlib.crc32(b"eXIf" + payload))
    return png[:33] + chunk + png[33:]  # after IHDR


def test_a_damaged_exif_block_is_named_and_read_as_the_stored_orientation(tmp_path):
    """Pillow warns "Truncated File Read" / "Corrupt EXIF data" about a damaged EXIF block without
    naming the file (or raises inside getexif): the warning now names the item, the orientation is
    1 (the stored one) and the pixels are those of the undamaged twin. Twins whose EXIF is intact
    (orientation 6) give no warning."""
    import warnings

    from forensics.media import load_item

    rgb = natural_image(2, (24, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010E] = "x" * 64  # ImageDescription: data stored at an offset
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    good = buf.getvalue()
    at = good.find(b"\x01\x0e\x00\x02")  # big-endian IFD entry of tag 0x010E, type ASCII
    assert at > 0
    bad = good[:at + 8] + struct.pack(">I", 60000) + good[at + 12:]  # its data offset past the block
    path = tmp_path / "phone photo.jpg"
    path.write_bytes(bad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        item = load_item(str(path), index=7)
        assert item.orientation == 1
        np.testing.assert_array_equal(item.pixels, load_item(good).pixels)
    # Pillow's own words vary with its version: the item and the step are ours
    assert len(caught) == 1 and caught[0].category is UserWarning
    assert str(caught[0].message).startswith(f"item 7 ({path}): Pillow warned opening it (header and EXIF): ")
    # an EXIF block Pillow cannot parse at all (getexif raises) and one with a short IFD entry
    texts = []
    for payload in (b"garbage!", b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert load_item(_png_with_exif(payload), index=2).orientation == 1
        texts += [str(w.message) for w in caught]
    assert len(texts) == 2
    assert texts[0].startswith("item 2: damaged EXIF block (SyntaxError: ")
    assert texts[0].endswith("); its orientation is read as 1, the stored one")
    assert texts[1].startswith("item 2: Pillow warned reading its EXIF block: ")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_item(good).orientation == 6
        whole = b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00"
        assert load_item(_png_with_exif(whole)).orientation == 6
        with Image.open(io.BytesIO(good)) as im:
            assert load_item(im).orientation == 6


def test_a_lazily_opened_pil_image_is_the_item_of_its_file(tmp_path):
    """A PIL image opened lazily on a file is read as that file (strict decoder, once): the same
    pixels and the same feature row as its path, JPEG header columns included (Pillow's load
    would have kept no JPEG header). Look-alikes: an image Pillow was asked to decode smaller
    (``draft``) and one already loaded are taken as Pillow gives them."""
    from forensics.features import make_feature_bank
    from forensics.media import load_item

    path = tmp_path / "face.jpg"
    path.write_bytes(encode(natural_image(4, (48, 64)), "JPEG", quality=83))
    bank = make_feature_bank(["codec", "blur"]).fit()
    with Image.open(path) as im:
        item = load_item(im, 3)
        assert item.format == "jpeg" and item.index == 3 and item.source == str(path)
        np.testing.assert_array_equal(item.pixels, load_item(str(path)).pixels)
        row = bank.transform([im])
    np.testing.assert_array_equal(row, bank.transform([str(path)]))
    assert np.isfinite(row).all()
    with Image.open(path) as im:
        im.draft("RGB", (32, 24))  # libjpeg's DCT scaling: a 1/2 size decode
        small = load_item(im)
        assert small.format == "array" and small.pixels.shape == (24, 32, 3)
    with Image.open(path) as im:
        im.load()
        loaded = load_item(im)
        assert loaded.format == "array"
        np.testing.assert_array_equal(loaded.pixels, np.asarray(im))


# -- a capture that starts between keyframes (round 8) -----------------------------------------
_GOP10 = {"libx264": None, "libx265": {"x265-params": "keyint=10:min-keyint=10:scenecut=0:log-level=none"},
          "mpeg2video": {"bf": "2"},
          # closed GOPs whose IDR keyframes have 2 RADL leading pictures (they reference only their keyframe)
          "libx265-radl": {"x265-params": "keyint=10:min-keyint=10:scenecut=0:log-level=none:radl=2:bframes=3:"
                                          "open-gop=0"}}


def _ts_cut(tmp_path, codec, at):
    """A 30-frame MPEG-TS (keyframes every 10 frames) and the same from the TS packet holding the
    packet at decode position ``at`` (the first two TS packets, PAT and PMT, kept): what a tuner
    capture or a byte-range download gives."""
    from video_fixtures import write_video

    src = write_video(tmp_path / f"{codec}.ts", index_frames(30, step=8), codec=codec.split("-")[0], gop=10,
                      options=_GOP10[codec])
    with av.open(str(src)) as c:
        where = [(p.pos, p.is_keyframe) for p in c.demux(video=0) if p.size]
    data = src.read_bytes()
    cut = tmp_path / f"{codec}_{at}.ts"
    cut.write_bytes(data[:376] + data[where[at][0] // 188 * 188:])
    return cut, where


def _raw_h264_cut(tmp_path):
    """A raw H.264 stream (no container, no timestamps) of the libx264 MPEG-TS of :func:`_ts_cut` from
    its packet at decode position 3 (between keyframes)."""
    _ts_cut(tmp_path, "libx264", 10)  # writes libx264.ts
    raw = tmp_path / "cut.h264"
    with av.open(str(tmp_path / "libx264.ts")) as i, av.open(str(raw), "w", format="h264") as o:
        s = i.streams.video[0]
        t = o.add_stream_from_template(s)
        for k, p in enumerate(p for p in i.demux(s) if p.size):
            if k >= 3:
                p.stream = t
                o.mux(p)
    return raw


@pytest.mark.parametrize("codec,at,at_key,dropped", [
    ("libx264", 3, False, 7),     # 7 packets before the keyframe of frame 10 (closed GOPs)
    ("libx265", 3, False, 7),     # 4 before it, and its 3 leading pictures (RASL: after it in decode order, shown before)
    ("mpeg2video", 3, False, 3),  # open GOPs: a P-frame before the keyframe and the 2 B-frames leading it
    ("mpeg2video", 1, True, 2),   # cut at an open-GOP keyframe: its 2 leading B-frames only
    ("libx264", 10, True, 0),     # the look-alike: cut at a closed-GOP keyframe, nothing dropped
    # cut at an IDR keyframe with RADL leading pictures: shown before it, but decodable (they
    # reference only it), so FFmpeg shows them: nothing dropped (round 8 first dropped them as RASL)
    ("libx265-radl", None, True, 0),
])
def test_a_capture_starting_between_keyframes_counts_the_frames_ffmpeg_shows(tmp_path, codec, at, at_key, dropped):
    """An MPEG-TS cut inside a GOP: FFmpeg's decoders output nothing before the first keyframe nor
    that keyframe's leading pictures, and players start there. Frame 0, the count, times= and
    the timestamps are those of the frames FFmpeg shows (the file decoded by PyAV is the truth).
    Before, the undecodable packets were frames: 27 frames for 20 shown, frames 0-6 'not decoded'
    (every=1 and the default n=32 partial), times=[0] a missing frame and later times off by the
    7 frames. Look-alike: a cut at a closed-GOP keyframe keeps every packet."""
    from forensics.features import BlurFeatures, VideoFeatures

    if at is None:  # at the second keyframe
        _, where = _ts_cut(tmp_path, codec, 0)
        at = [i for i, (_, k) in enumerate(where) if k][1]
    cut, where = _ts_cut(tmp_path, codec, at)
    assert where[at][1] == at_key and where[0][1]  # the variant meant: cut off a keyframe, or at one
    with av.open(str(cut)) as c:
        n_packets = sum(1 for p in c.demux(video=0) if p.size)
    with av.open(str(cut)) as c:
        shown = [(f.time, frame_level(f.to_ndarray(format="rgb24"))) for f in c.decode(video=0)]
    n = len(shown)
    assert n == n_packets - dropped
    info = video_info(cut)
    assert (info.n_frames, info.errors) == (n, ())
    assert info.start_time_s == pytest.approx(shown[0][0])
    r = read_frames(cut, every=1)
    assert r.indices.tolist() == list(range(n)) and r.errors == []
    np.testing.assert_allclose([frame_level(f) for f in r.frames], [v for _, v in shown], atol=1e-9)
    np.testing.assert_allclose(r.timestamps, [t - shown[0][0] for t, _ in shown], atol=1e-6)
    r = read_frames(cut, times=[0.0, 0.3])
    assert r.indices.tolist() == [0, 7] and r.errors == []
    np.testing.assert_allclose([frame_level(f) for f in r.frames], [shown[0][1], shown[7][1]], atol=1e-9)
    vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=32).fit()
    vf.transform([cut])
    assert vf.status_["status"].tolist() == ["ok"] and vf.records_["frame_index"].tolist() == list(range(n))


def test_a_raw_h264_capture_starting_between_keyframes_counts_the_frames_ffmpeg_shows(tmp_path):
    """The same cut as a raw H.264 stream (no timestamps: frames in decoder output order): the 7
    packets before the first keyframe are no frames (before: 27 frames, the last 7 'not decoded')."""
    raw = _raw_h264_cut(tmp_path)
    with av.open(str(raw)) as c:
        keys = [p.is_keyframe for p in c.demux(video=0) if p.size]
    with av.open(str(raw)) as c:
        shown = [frame_level(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert (len(keys), keys.index(True), len(shown)) == (27, 7, 20)
    info = video_info(raw)
    assert (info.timing, info.n_frames, info.errors) == ("decode order", 20, ())
    r = read_frames(raw, every=1)
    assert r.indices.tolist() == list(range(20)) and r.errors == []
    np.testing.assert_allclose([frame_level(f) for f in r.frames], shown, atol=1e-9)


def test_leading_packets_are_dropped_only_in_capture_formats(tmp_path):
    """A Matroska file whose first packet lost its keyframe flag (damage) keeps it as frame 0, a gap
    named in errors, not a start to skip: its muxer flagged a keyframe there. The same packets in an
    MPEG-TS start a capture."""
    from video_fixtures import remux, write_video

    src = write_video(tmp_path / "intra.mkv", index_frames(5), gop=1)
    bad = remux(src, tmp_path / "bad.mkv", damage={0})
    with av.open(str(bad)) as c:
        assert [p.is_keyframe for p in c.demux(video=0) if p.size] == [False] + [True] * 4
    info = video_info(bad)
    assert info.n_frames == 5
    r = read_frames(bad, every=1)
    assert r.indices.tolist() == [1, 2, 3, 4] and r.missing.tolist() == [0]


# -- an aspect ratio that changes mid-stream (round 5) ------------------------------------------
def write_aspect_switch(path, ratios, fmt=None, bframes=0, size=(144, 176)):
    """An MPEG-2 stream whose sequence headers change the display aspect ratio, as a broadcast that
    switches between a 4:3 and a 16:9 programme does: frame k is coded with sample aspect ratio
    ``ratios[k]`` (176x144: 12:11 is a 4:3 picture, 16:11 a 16:9 one) and shows a disc 80 display
    pixels wide and high, squeezed in the coded grid by that ratio. Sequence headers start every
    GOP of 4 frames, so the ratio may change at frames 4, 8..."""
    import cv2

    h, w = size
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream("mpeg2video", rate=25)
        s.height, s.width, s.pix_fmt = h, w, "yuv420p"
        s.options = {"g": "4", "bf": str(bframes)}
        s.codec_context.gop_size = 4
        for ratio in ratios:
            s.codec_context.sample_aspect_ratio = ratio
            img = np.full((h, w, 3), 40, np.uint8)
            cv2.ellipse(img, (w // 2, h // 2), (round(40 / float(ratio)), 40), 0, 0, 360, (220, 220, 220), -1)
            for pk in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    return path


def disc_shape(frame):
    """(frame width, disc width, disc height) of a frame of ``write_aspect_switch``, in pixels."""
    h, w = frame.shape[:2]
    row, col = np.nonzero(frame[h // 2, :, 0] > 130)[0], np.nonzero(frame[:, w // 2, 0] > 130)[0]
    return w, int(np.ptp(row)) + 1, int(np.ptp(col)) + 1


FOUR_THREE, SIXTEEN_NINE = Fraction(12, 11), Fraction(16, 11)


@pytest.mark.parametrize("ext,fmt", [(".ts", "mpegts"), (".mpg", "mpeg")])
@pytest.mark.parametrize("bframes", [0, 2])
@pytest.mark.parametrize("ratios", [[FOUR_THREE] * 4 + [SIXTEEN_NINE] * 4, [SIXTEEN_NINE] * 4 + [FOUR_THREE] * 4,
                                    [FOUR_THREE] * 8], ids=["4:3-16:9", "16:9-4:3", "4:3 only"])
def test_a_stream_switching_between_4_3_and_16_9_is_shown_frame_by_frame(tmp_path, ext, fmt, bframes, ratios):
    # A broadcast capture (MPEG-TS, MPEG-PS) has no container aspect ratio: FFmpeg's players give each
    # frame its own sequence's (av_guess_sample_aspect_ratio with the frame). Each frame was resampled
    # by the first frame's ratio: the 16:9 half came out 192 pixels wide, its disc squeezed to 63x81.
    path = write_aspect_switch(tmp_path / f"tv{ext}", ratios, fmt, bframes)
    r = read_frames(path, every=1)
    assert r.indices.tolist() == list(range(8)) and r.errors == []
    assert r.sars.tolist() == pytest.approx([float(q) for q in ratios])
    for frame, ratio in zip(r.frames, ratios):
        width, dw, dh = disc_shape(frame)
        assert width == round(176 * ratio)  # 192 for 4:3, 256 for 16:9
        assert abs(dw - dh) <= 3 and abs(dh - 81) <= 2  # round, as the programme was filmed
    assert r.sar_applied == pytest.approx(float(ratios[0])) and r.info.sample_aspect_ratio == pytest.approx(
        float(ratios[0]))
    coded = read_frames(path, every=1, display=False)  # the coded grid is left alone
    assert {f.shape[1] for f in coded.frames} == {176} and set(coded.sars.tolist()) == {1.0}


@pytest.mark.parametrize("threads", [2, 0])
def test_an_aspect_change_is_followed_with_decoder_threads_of_a_codec_without_frame_threads(tmp_path, threads):
    # MPEG-2 decodes with slice threads only: each packet's picture is decoded before the packet returns,
    # so the decoder's ratio after a packet is that picture's, with any number of threads.
    ratios = [FOUR_THREE] * 4 + [SIXTEEN_NINE] * 4
    r = read_frames(write_aspect_switch(tmp_path / "tv.ts", ratios, "mpegts"), every=1, threads=threads)
    assert r.errors == [] and r.sars.tolist() == pytest.approx([12 / 11] * 4 + [16 / 11] * 4)
    assert [f.shape[1] for f in r.frames] == [192] * 4 + [256] * 4


def test_an_aspect_change_that_cannot_be_told_per_frame_is_reported(tmp_path):
    # A raw stream's frames cannot be matched to their packets: every frame keeps the first one's ratio,
    # and that is said.
    ratios = [FOUR_THREE] * 4 + [SIXTEEN_NINE] * 4
    path, kw = write_aspect_switch(tmp_path / "tv.m2v", ratios, "mpeg2video"), {}
    r = read_frames(path, every=1, **kw)
    assert r.indices.tolist() == list(range(8)) and r.sars.tolist() == pytest.approx([12 / 11] * 8)
    assert len(r.errors) == 1 and r.errors[0].startswith("the sample aspect ratio changes mid-stream (1.091 to 1.455)")
    assert "every frame is resampled by the first one's (1.091)" in r.errors[0]
    steady = read_frames(write_aspect_switch(tmp_path / "steady.m2v", [FOUR_THREE] * 8, "mpeg2video"), every=1, **kw)
    assert steady.errors == [] and steady.sars.tolist() == pytest.approx([12 / 11] * 8)  # the look-alike


def test_a_container_aspect_ratio_holds_for_every_frame(tmp_path):
    # An MP4 whose 'pasp' box declares a ratio of its own (here 1:1, unlike the codec's): FFmpeg's players
    # take the container's for every frame, so the codec's mid-stream change is not followed.
    path = write_aspect_switch(tmp_path / "tv.mp4", [FOUR_THREE] * 4 + [SIXTEEN_NINE] * 4)
    data = bytearray(path.read_bytes())
    i = data.find(b"pasp")
    assert struct.unpack(">II", data[i + 4:i + 12]) == (12, 11)
    follows = read_frames(path, every=1)  # the container's ratio is the codec's first one: the codec is followed
    assert [f.shape[1] for f in follows.frames] == [192] * 4 + [256] * 4
    data[i + 4:i + 12] = struct.pack(">II", 1, 1)
    path.write_bytes(bytes(data))
    r = read_frames(path, every=1)
    assert r.info.sample_aspect_ratio == 1.0 and [f.shape[1] for f in r.frames] == [176] * 8
    assert set(r.sars.tolist()) == {1.0} and r.errors == []


# -- times in a stream without timestamps (round 5) ----------------------------------------------
@pytest.mark.parametrize("times, shown", [([0.1, 0.3, 0.79], [2, 7, 19]), ([0.0, 0.12, 0.159], [0, 3, 3])])
def test_times_in_an_avi_with_b_frames_pick_the_frame_shown(tmp_path, times, shown):
    # An AVI with B-frames has no presentation timestamps (frames are counted in decoder output order,
    # frame k shown from k / fps). A time picked the frame starting nearest to it (0.1 s -> frame 3,
    # which starts at 0.12 s), half a frame later than the same video in MP4, where the frame shown at
    # that time is picked. Look-alike: the MP4 copy, timed by its pts.
    from video_fixtures import write_video

    frames = index_frames(20)
    avi = write_video(tmp_path / "b.avi", frames)  # x264 veryfast: B-frames
    mp4 = write_video(tmp_path / "b.mp4", frames)
    assert video_info(avi).timing == "decode order" and video_info(mp4).timing == "pts"
    for path in (avi, mp4):
        r = read_frames(path, times=times)
        assert r.indices.tolist() == shown and r.errors == []
        assert np.rint((np.array([frame_level(f) for f in r.frames]) - 16) / 7).astype(int).tolist() == shown
        assert np.all(r.timestamps <= np.array(times) + 1e-9) and np.all(np.array(times) < r.timestamps + 0.04)
    with pytest.raises(ValueError, match="outside the video"):
        read_frames(avi, times=[0.8001])  # 20 frames at 25 fps end at 0.8 s
    assert read_frames(avi, times=[0.8]).indices.tolist() == [19]


@pytest.mark.parametrize("order", [(Fraction(1, 1), Fraction(4, 3)), (Fraction(4, 3), Fraction(1, 1))])
def test_joined_h264_captures_of_two_aspect_ratios_keep_each_ones(tmp_path, order):
    # Two H.264 MPEG-TS recordings, one with square pixels and one anamorphic (4:3 pixels), joined end to
    # end (cat a.ts b.ts): a timestamp discontinuity and a new SPS with another aspect ratio at frame 8.
    # Each part is shown with its own ratio; frames keep file order. Before, the second part took the
    # first part's ratio (96 px wide instead of 128, or the reverse).
    from video_fixtures import write_video

    frames = index_frames(16)
    parts = [write_video(tmp_path / f"p{k}.ts", frames[8 * k:8 * k + 8], gop=4, sample_aspect_ratio=ratio)
             for k, ratio in enumerate(order)]
    joined = tmp_path / "joined.ts"
    joined.write_bytes(parts[0].read_bytes() + parts[1].read_bytes())
    r = read_frames(joined, every=1)
    assert r.indices.tolist() == list(range(16))
    assert np.rint((np.array([frame_level(f) for f in r.frames]) - 16) / 7).astype(int).tolist() == list(range(16))
    assert [f.shape[1] for f in r.frames] == [round(96 * order[0])] * 8 + [round(96 * order[1])] * 8
    assert r.sars.tolist() == pytest.approx([float(order[0])] * 8 + [float(order[1])] * 8)
    assert len(r.errors) == 1 and r.errors[0].startswith("the timestamps go back 1 time(s) (at packet 8)")


# -- an AVI capture that dropped frames (round 5) -----------------------------------------------
def drop_avi_chunk(path, k):
    """Empty the k-th video chunk of an AVI (its size set to 0, its idx1 entry too), as a capture tool
    writes a frame it dropped: the slot stays, a player holds the previous picture over it. The
    headers keep counting every slot; FFmpeg returns no packet for the empty chunk."""
    data = bytes(Path(path).read_bytes())
    movi, idx = data.find(b"movi"), data.find(b"idx1")
    chunks, pos = [], movi + 4
    while pos < idx:
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks.append((pos, data[pos:pos + 4], size))
        pos += 8 + size + (size & 1)
    flags = [struct.unpack("<I", data[idx + 8 + 16 * j + 4:idx + 8 + 16 * j + 8])[0] for j in range(len(chunks))]
    body, entries, offset = b"", b"", 4
    for j, (p, cid, size) in enumerate(chunks):
        size = 0 if j == k else size
        payload = data[p + 8:p + 8 + size] + (b"\0" if size & 1 else b"")
        body += cid + struct.pack("<I", size) + payload
        entries += struct.pack("<4sIII", cid, flags[j], offset, size)
        offset += 8 + len(payload)
    out = data[:movi - 4] + struct.pack("<I", 4 + len(body)) + b"movi" + body
    out += b"idx1" + struct.pack("<I", len(entries)) + entries
    out = out[:4] + struct.pack("<I", len(out) - 8) + out[8:]
    Path(path).write_bytes(out)
    return Path(path)


@pytest.mark.parametrize("header", ["slots", "frames"])
def test_an_avi_with_b_frames_and_a_dropped_frame_says_its_times_are_early(tmp_path, header):
    # An AVI with B-frames has no presentation timestamps: frame k is timed k / fps. A capture that
    # dropped a frame leaves an empty chunk (a slot a player fills with the previous picture), so every
    # later frame is shown one slot later than k / fps. When the header still counted the slots, only
    # the frame-count mismatch was said; when it counted frames ('frames'), nothing was. Now the empty
    # slots are named. Look-alike: the same file without the drop says nothing.
    from video_fixtures import patch_avi_frame_count, write_video

    frames = index_frames(10)
    clean = write_video(tmp_path / "clean.avi", frames, gop=5)
    dropped = drop_avi_chunk(write_video(tmp_path / "drop.avi", frames, gop=5), 4)
    if header == "frames":
        patch_avi_frame_count(dropped, 9)
    r = read_frames(dropped, every=1)
    assert r.info.timing == "decode order" and r.indices.tolist() == list(range(9))
    ids = np.rint((np.array([frame_level(f) for f in r.frames]) - 16) / 7).astype(int).tolist()
    assert ids == [0, 1, 2, 3, 5, 6, 7, 8, 9] or ids == [0, 1, 2, 4, 5, 6, 7, 8, 9]  # the dropped one is gone
    said = [e for e in r.errors if e.startswith("the packets' decode timestamps span 10 frame slots but the "
                                                 "stream holds 9 frames: 1 slot(s) are empty")]
    assert len(said) == 1 and len(r.errors) == (1 if header == "frames" else 2)
    assert read_frames(clean, every=1).errors == []
    # an intra-only capture keeps its timestamps: the frames after the drop are timed one slot later
    mjpeg = drop_avi_chunk(write_video(tmp_path / "drop_mjpeg.avi", frames, codec="mjpeg"), 4)
    m = read_frames(mjpeg, every=1)
    assert m.info.timing == "pts" and m.timestamps.round(3).tolist() == [0, .04, .08, .12, .2, .24, .28, .32, .36]
    assert not any("slot" in e for e in m.errors)


# -- round 5: other formats' damage, JPEG look-alikes, names ------------------------------------------

def _rle_bmp(codes, w, h, bits):
    """A bottom-up palette BMP (8 bits: RLE8, 4 bits: RLE4) with the given run-length codes."""
    palette = b"".join(bytes([(37 * k) % 256, (90 + 11 * k) % 256, (200 - 13 * k) % 256, 0]) for k in range(2 ** bits))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, bits, 1 if bits == 8 else 2, len(codes), 2835, 2835,
                       2 ** bits, 0)
    off = 14 + 40 + len(palette)
    return b"BM" + struct.pack("<IHHI", off + len(codes), 0, 0, off) + info + palette + codes


@pytest.mark.parametrize("bits", [8, 4])
def test_bmp_run_length_data_must_give_every_pixel_a_value(bits):
    # kind: a run-length encoded BMP whose codes end the bitmap or a line early, or jump ahead
    # (delta): OpenCV filled the pixels passed over with black, under status "ok"
    from forensics.media import load_item

    w, h = 7, 3  # odd width: absolute runs padded to 16 bits
    if bits == 8:
        row = lambda k: bytes([3, k + 1]) + bytes([0, 4, k + 2, k + 3, k + 4, k + 5])  # run of 3, absolute 4
        odd = bytes([0, 3, 1, 2, 3, 0])  # an absolute run of 3 (odd), padded
    else:
        row = lambda k: bytes([3, 0x12 + k]) + bytes([0, 4, 0x34, 0x56 + k])
        odd = bytes([0, 3, 0x12, 0x30])  # 3 pixels in 2 bytes: no padding needed
    rows = [row(0), row(1), odd + bytes([4, 0x77])]
    good = _rle_bmp(b"".join(r + b"\0\0" for r in rows) + b"\0\1", w, h, bits)
    item = load_item(good)
    with Image.open(io.BytesIO(good)) as ref:  # Pillow's RLE decoder: the independent reference
        expected = np.asarray(ref.convert("RGB"))
    assert item.pixels.shape == (h, w, 3)
    np.testing.assert_array_equal(item.pixels, expected)
    damaged = {
        "end of bitmap after two lines": b"".join(r + b"\0\0" for r in rows[:2]) + b"\0\1",
        "end of line early": rows[0] + b"\0\0" + rows[1][:2] + b"\0\0" + rows[2] + b"\0\0\0\1",
        "delta jumps over pixels": rows[0] + b"\0\0" + b"\0\2\2\0" + rows[1][2:] + b"\0\0" + rows[2] + b"\0\0\0\1",
    }
    for name, codes in damaged.items():
        skipped = {"end of bitmap after two lines": 7, "end of line early": 4, "delta jumps over pixels": 3}[name]
        with pytest.raises(ItemError, match=rf"^item 0: BMP run-length data leave {skipped} of 21 pixels without "
                                            r"a value"):
            load_item(_rle_bmp(codes, w, h, bits)).pixels
    with pytest.raises(ItemError, match="^item 0: truncated BMP: the run-length data end before the end-of-bitmap"):
        load_item(good[:-5]).pixels
    # look-alike: the last line ends the bitmap without its own end-of-line code
    np.testing.assert_array_equal(load_item(good[:-4] + b"\0\1").pixels, expected)


def test_a_truncated_webp_and_a_jpeg_2000_file_are_named():
    # kind: a WebP cut short (Pillow only said "could not create decoder object") and a JPEG 2000
    # file (not an accepted format: "cannot identify image file" alone)
    from forensics.media import load_item

    for options in ({"quality": 80}, {"lossless": True}):
        good = encode(natural_image(8, (24, 32)), "WEBP", **options)
        assert load_item(good).pixels.shape == (24, 32, 3)
        with pytest.raises(ItemError, match=rf"^item 0: truncated WebP: the RIFF header declares {len(good)} bytes, "
                                            rf"the file has {len(good) - 1}$"):
            load_item(good[:-1]).pixels
        assert load_item(good + b"junk").pixels.shape == (24, 32, 3)  # look-alike: bytes after the RIFF chunk
    for head in (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 20, b"\xff\x4f\xff\x51" + b"\x00" * 20):
        with pytest.raises(ItemError, match=r"it is a JPEG 2000 image \(JP2 or J2K\), a format not accepted"):
            load_item(head).pixels


@pytest.mark.parametrize("magic, count", [(b"P2", 8), (b"P3", 24)])
def test_a_plain_pnm_that_ends_inside_a_number_is_refused_by_name(magic, count):
    # kind: a plain (ASCII) PGM/PPM with no white space after its last sample: OpenCV refused it
    # as "corrupt or unsupported", and the file cannot be told from one cut inside its last number
    from forensics.media import load_item

    body = magic + b"\n4 2\n255\n" + b" ".join(str(25 * v % 256).encode() for v in range(count))
    with pytest.raises(ItemError, match=r"^item 0: plain \(ASCII\) PNM ends inside a number, with no white space "
                                        r"after its last sample"):
        load_item(body).pixels
    for tail in (b"\n", b" ", b"\r\n", b"\n# a comment ending in 7"):  # look-alikes: the last sample ends
        item = load_item(body + tail)
        assert item.pixels.ravel().tolist() == [25 * v % 256 for v in range(count)]
    pbm = load_item(b"P1\n4 2\n1 0 0 1 0 1 1 0")  # plain PBM: one character per sample, nothing to cut inside
    assert pbm.pixels.ravel().tolist() == [0, 255, 255, 0, 255, 0, 0, 255]


@pytest.mark.parametrize("fmt, mode, shape", [("BMP", "RGB", (5, 7, 3)), ("BMP", "L", (5, 7)), ("BMP", "1", (5, 9)),
                                              ("BMP", "RGBA", (5, 7, 4)), ("PPM", "RGB", (5, 7, 3)),
                                              ("PPM", "L", (5, 7)), ("PPM", "1", (5, 9)), ("PPM", "I;16", (4, 4))])
def test_an_uncompressed_bmp_or_binary_pnm_cut_short_is_named_truncated(fmt, mode, shape):
    # kind: pixel data short of the header's size: OpenCV refused it as "corrupt or unsupported"
    # without saying the file was cut; the byte counts come from the header
    from forensics.media import load_item

    rng = np.random.default_rng(11)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65535, shape, dtype=np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    image.save(buf, fmt)
    good = buf.getvalue()
    h, w = shape[:2]
    bits = {"RGB": 24, "L": 8, "1": 1, "RGBA": 32, "I;16": 16}[mode]
    if fmt == "BMP":
        need, what = (w * bits + 31) // 32 * 4 * h, f"{w}x{h} {bits}-bit"
    else:
        magic = {"RGB": "P6", "L": "P5", "1": "P4", "I;16": "P5"}[mode]
        need, what = ((w + 7) // 8 * h if mode == "1" else w * h * max(bits // 8, 1)), f"{w}x{h} {magic}"
    assert load_item(good).pixels.shape[:2] == (h, w)  # the look-alike: whole
    with pytest.raises(ItemError, match=rf"^item 0: truncated {fmt}: the pixel data hold {need - 3} of the {need} "
                                        rf"bytes its {what} size needs$"):
        load_item(good[:-3]).pixels


def test_a_jpeg_cut_and_zero_padded_is_refused_though_the_marker_would_make_it_decode():
    # why a JPEG without its end-of-image marker stays refused even when every scan header is there:
    # this file, cut inside its scan and padded with zeros to its length (an interrupted download
    # into a preallocated file), decodes without any libjpeg warning once FF D9 is appended, to a
    # wrong picture (benchmarks/padded_truncations.py counts such files)
    from forensics.media import load_item

    good = encode(natural_image(3, (64, 96)), "JPEG", quality=85)
    rng = np.random.default_rng(1)
    padded = next(good[:cut] + bytes(len(good) - cut) for cut in rng.integers(len(good) // 4, len(good) - 3, 150)
                  if _decodes_wrong(good[:cut] + bytes(len(good) - cut) + b"\xff\xd9", good))
    with pytest.raises(ItemError, match="^item 0: truncated JPEG: the end-of-image marker is missing$"):
        load_item(padded).pixels
    with pytest.raises(ItemError, match="^item 0: truncated JPEG: the end-of-image marker is missing$"):
        load_item(good[:-2]).pixels  # the look-alike that cannot be told from it: whole, less its marker
    assert load_item(good).pixels.shape == (64, 96, 3)


def _decodes_wrong(data, good):
    from forensics.media import load_item

    try:
        return not np.array_equal(load_item(data).pixels, load_item(good).pixels)
    except ItemError:
        return False


# ---------------------------------------------------------------- animated PNG: which picture

def _apng(frames, default_image):
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], default_image=default_image)
    return buf.getvalue()


@pytest.mark.parametrize("default_image", [True, False])
def test_an_animated_png_is_its_default_image_as_pillow_and_libpng_read_it(tmp_path, default_image):
    """The IDAT image of an APNG is the PNG's picture; OpenCV 5 decoded the animation's first frame,
    which is another picture when the default image is outside the animation (default_image=True;
    a frame of its own). Its look-alike, an APNG whose first frame is the IDAT image, is the same."""
    rng = np.random.default_rng(7)
    frames = [Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)) for _ in range(3)]
    data = _apng(frames, default_image)
    path = tmp_path / "anim.png"
    path.write_bytes(data)
    item = load_item(str(path))
    np.testing.assert_array_equal(item.pixels, np.asarray(frames[0]))
    with Image.open(path) as im:  # the PIL path: a lazily opened image is read as its file
        np.testing.assert_array_equal(load_item(im).pixels, np.asarray(frames[0]))
        im.load()  # a loaded image is taken as Pillow's pixels: the same picture
        np.testing.assert_array_equal(load_item(im).pixels, np.asarray(frames[0]))
    assert not np.array_equal(np.asarray(frames[0]), np.asarray(frames[1]))


def test_a_damaged_animation_chunk_of_an_apng_is_still_refused():
    """The animation chunks are left out of the decode only after every CRC was checked."""
    rng = np.random.default_rng(8)
    frames = [Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)) for _ in range(2)]
    data = bytearray(_apng(frames, True))
    at = data.index(b"fdAT") + 12  # a byte of the frame data, past the sequence number
    data[at] ^= 0x01
    with pytest.raises(ItemError, match=r"CRC mismatch in chunk b'fdAT'"):
        load_item(bytes(data)).pixels


# ---------------------------------------------------------------- multi-page TIFF cut in a later page

def _pages(kind):
    rng = np.random.default_rng(9)
    pages = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(3)]
    buf = io.BytesIO()
    if kind == "bigtiff":
        import tifffile

        with tifffile.TiffWriter(buf, bigtiff=True) as tif:
            for page in pages:
                tif.write(page, photometric="rgb")
    else:
        ims = [Image.fromarray(p) for p in pages]
        ims[0].save(buf, "TIFF", save_all=True, append_images=ims[1:], compression=kind)
    return pages, buf.getvalue()


@pytest.mark.parametrize("kind", [None, "tiff_deflate", "bigtiff"])
def test_a_multi_page_tiff_cut_in_a_later_page_is_refused(kind):
    """Every reader decodes the intact first page of a multi-page TIFF cut inside page 2 or 3 (an
    interrupted download): it was an item with status ok, while a cut animated GIF, WebP or PNG is
    refused whatever frame the cut falls in. Look-alike: the whole file is its first page."""
    pages, data = _pages(kind)
    np.testing.assert_array_equal(load_item(data).pixels, pages[0])
    first_page_end = len(data) // 3 + 64  # past the first page's strips in every layout
    # up to the last page's pixel data (what follows it, in Pillow's layouts a resolution value, is
    # no part of any page's pixels)
    for cut in [*range(first_page_end, len(data) - 400, 97), len(data) - 400]:
        with pytest.raises(ItemError, match=r"truncated TIFF: (a strip of )?page [23]"):
            load_item(data[:cut]).pixels


def test_a_tiff_page_chain_that_loops_or_points_past_the_end_is_refused():
    import struct

    pages, data = _pages(None)
    data = bytearray(data)
    first = struct.unpack_from("<I", data, 4)[0]
    offsets = [first]  # walk to the last directory's next-page pointer
    while True:
        entries = struct.unpack_from("<H", data, offsets[-1])[0]
        at = offsets[-1] + 2 + 12 * entries
        nxt = struct.unpack_from("<I", data, at)[0]
        if nxt == 0:
            break
        offsets.append(nxt)
    assert len(offsets) == 3
    for value, match in [(first, "loops back"), (len(data) + 10, "page 4's directory at offset .* past the end"),
                         (0, None)]:
        struct.pack_into("<I", data, at, value)
        if match is None:
            np.testing.assert_array_equal(load_item(bytes(data)).pixels, pages[0])
        else:
            with pytest.raises(ItemError, match=match):
                load_item(bytes(data)).pixels


# ---------------------------------------------------------------- grey + alpha PNG

def _raw_png(samples, colour_type):
    """A PNG written by hand (no encoder in the loop): rows with filter 0, one IDAT, big-endian samples."""
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    h, w = samples.shape[:2]
    depth = samples.dtype.itemsize * 8
    rows = samples.astype(samples.dtype.newbyteorder(">")).reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_grey_png_with_alpha_stays_grey(dtype):
    """OpenCV expands a grey + alpha PNG (colour type 4) to RGBA: the item was not grey and its luma
    the BT.601 weights summed in float32 (up to 1.5e-5 off the stored grey, which moved the blur
    family's edge thresholds on integer-valued data). It is grey + alpha now, as Pillow and a TIFF give
    it, its luma the stored grey exactly. Look-alike: an RGBA PNG whose R = G = B stays colour."""
    rng = np.random.default_rng(11)
    top = np.iinfo(dtype).max
    grey = rng.integers(0, top + 1, (9, 13)).astype(dtype)
    alpha = rng.integers(0, top + 1, (9, 13)).astype(dtype)
    item = load_item(_raw_png(np.dstack([grey, alpha]), 4))
    assert item.pixels.shape == (9, 13, 2) and item.is_gray and item.has_alpha
    np.testing.assert_array_equal(item.pixels[..., 0], grey)
    np.testing.assert_array_equal(item.pixels[..., 1], alpha)
    plain = load_item(_raw_png(grey, 0))
    np.testing.assert_array_equal(item.luma, plain.luma)
    np.testing.assert_array_equal(item.luma, grey.astype(np.float32) * np.float32(255 / top) if dtype == np.uint16
                                  else grey.astype(np.float32))
    np.testing.assert_array_equal(item.display_rgb, plain.display_rgb)
    colour = load_item(_raw_png(np.dstack([grey, grey, grey, alpha]), 6))
    assert colour.pixels.shape == (9, 13, 4) and not colour.is_gray and colour.has_alpha


# ---------------------------------------------------------------- palette indices past the palette

def _palette_png(indices, entries, depth=8):
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    h, w = indices.shape
    per_byte = 8 // depth
    rows = []
    for row in indices:
        padded = np.concatenate([row, np.zeros(-len(row) % per_byte, np.uint8)]).reshape(-1, per_byte)
        packed = np.zeros(len(padded), np.uint8)
        for k in range(per_byte):
            packed |= padded[:, k] << (8 - depth * (k + 1))
        rows.append(b"\x00" + packed.tobytes())
    palette = ((np.arange(entries * 3) * 7 + 5) % 256).astype(np.uint8).tobytes()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 3, 0, 0, 0))
            + chunk(b"PLTE", palette) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")), palette


@pytest.mark.parametrize("depth", [8, 4])
def test_a_palette_png_index_past_its_palette_is_refused(depth):
    """PNG calls an index past the PLTE entries an error; libpng showed it black (a colour the file never
    stored) with status ok. At the threshold: the largest index one below the entry count reads, equal
    to it is refused."""
    indices = np.array([[0, 1, 2, 3, 1], [3, 2, 1, 0, 2]], np.uint8)
    data, palette = _palette_png(indices, 4, depth)
    expected = np.frombuffer(palette, np.uint8).reshape(-1, 3)[indices]
    np.testing.assert_array_equal(load_item(data).pixels, expected)
    data, _ = _palette_png(indices, 3, depth)
    with pytest.raises(ItemError, match=r"corrupt PNG data: a pixel uses palette index 3, but the palette holds 3"):
        load_item(data).pixels


def test_a_bmp_index_past_its_palette_is_refused():
    """biClrUsed 2 with pixels of index 3: BMP leaves the colour undefined and every reader showed black.
    Look-alike: the same file with its 4 colours."""
    indices = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8)
    im = Image.fromarray(indices, "P")
    colours = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]
    im.putpalette(colours)
    buf = io.BytesIO()
    im.save(buf, "BMP")
    data = bytearray(buf.getvalue())
    assert struct.unpack_from("<I", data, 46)[0] == 4
    np.testing.assert_array_equal(load_item(bytes(data)).pixels, np.array(colours, np.uint8).reshape(-1, 3)[indices])
    struct.pack_into("<I", data, 46, 3)
    with pytest.raises(ItemError, match=r"corrupt BMP data: a pixel uses palette index 3, but the palette holds 3"):
        load_item(bytes(data)).pixels


# -- round 9: files cut short whose header still reads ---------------------------------------------

def _cut_files():
    """(name, whole file, cut file, expected reason) for files Pillow cannot open once cut."""
    img = natural_image(9, (40, 48))
    out = []
    for comp in ("tiff_lzw", "tiff_adobe_deflate"):  # Pillow writes the directory after the image data
        whole = encode(img, "TIFF", compression=comp)
        out.append((f"tiff-{comp}", whole, whole[:len(whole) * 9 // 10],
                    r"truncated TIFF: its first image directory is at byte \d+, past the end of the file"))
    whole = encode(img, "TIFF", compression="tiff_lzw")
    at = int.from_bytes(whole[4:8], "little")
    out.append(("tiff-in-directory", whole, whole[:at + 20], rf"truncated TIFF: its first image directory \(at byte "
                                                             rf"{at}, \d+ entries\) runs past the end of the file"))
    out.append(("tiff-zeroed", whole, whole[:at] + bytes(len(whole) - at),
                rf"corrupt TIFF: its first image directory \(at byte {at}\) holds no entries"))
    for lossless in (False, True):
        whole = encode(img, "WEBP", lossless=lossless, quality=90)
        cut = bytearray(whole[:len(whole) // 2])
        cut[4:8] = (len(cut) - 8).to_bytes(4, "little")  # the RIFF size rewritten to the cut length
        out.append((f"webp-lossless={lossless}", whole, bytes(cut),
                    rf"truncated WebP: its '{'VP8L' if lossless else 'VP8 '}' chunk at byte 12 declares \d+ bytes, "
                    rf"past the end of the file \({len(cut)} bytes\)"))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "AVIF", quality=80)
    whole = buf.getvalue()
    out.append(("avif", whole, whole[:len(whole) * 8 // 10], r"truncated AVIF: its 'mdat' box at byte \d+ declares"))
    return out


@pytest.mark.parametrize("name, whole, cut, reason", _cut_files(), ids=[c[0] for c in _cut_files()])
def test_a_file_cut_short_whose_header_still_reads_is_named_truncated(name, whole, cut, reason):
    """A compressed TIFF cut short (Pillow and most writers put its directory after the image data),
    a WebP whose RIFF size was rewritten to the cut length, an AVIF cut inside its 'mdat' box: all
    were 'not a readable image file (cannot identify image file); accepted formats: ... TIFF, WEBP
    ... AVIF', which sent users looking for another format (and a zero-padded TIFF, whose directory
    is zeros, likewise). Look-alike: the whole file reads; a TIFF whose directory ends exactly at
    the end of the file (no next-directory offset) is not called cut."""
    assert load_item(whole).pixels.shape[:2] == (40, 48)
    with pytest.raises(ItemError, match=reason):
        load_item(cut).pixels


def test_the_tiff_directory_check_at_the_end_of_the_file():
    """The threshold of the TIFF directory check: entries ending exactly at the end of the file are
    not past it (the 4-byte next-directory offset cut off is another damage), one byte less is."""
    whole = encode(natural_image(9, (40, 48)), "TIFF", compression="tiff_lzw")
    at = int.from_bytes(whole[4:8], "little")
    end = at + 2 + 12 * int.from_bytes(whole[at:at + 2], "little")
    for size, past in ((end, False), (end - 1, True)):
        with pytest.raises(ItemError) as err:
            load_item(whole[:size]).pixels
        assert ("runs past the end of the file" in err.value.reason) is past, err.value.reason


def test_a_name_with_leading_spaces_names_the_file_meant(tmp_path):
    """A hand-written manifest 'label,path' with a space after the comma names ' a.png': it was
    'file not found' with no word of the file 'a.png' beside it (trailing spaces were named).
    Look-alikes: a file really named ' b.png' is read as itself and ' b.png' asked as 'b.png' is
    named the other way; letter case and leading spaces at once are both named; a name with no
    look-alike stays plain."""
    from forensics.datasets import SkippedFilesWarning, read_manifest

    png = encode(natural_image(3, (8, 8)), "PNG")
    for name in ("a.png", " b.png", "C.png"):
        (tmp_path / name).write_bytes(png)
    reasons = []
    for asked in (" a.png", "b.png", "  c.png", " z.png"):
        with pytest.raises(ItemError) as err:
            load_item(str(tmp_path / asked))
        reasons.append(err.value.reason)
    assert reasons == ["file not found; a file whose name differs only in leading spaces exists: 'a.png'",
                       "file not found; a file whose name differs only in leading spaces exists: ' b.png'",
                       "file not found; a file whose name differs only in letter case and leading spaces exists: "
                       "'C.png'", "file not found"]
    np.testing.assert_array_equal(load_item(str(tmp_path / " b.png")).pixels, natural_image(3, (8, 8)))
    (tmp_path / "m.csv").write_text("label,path\n0, a.png\n1, b.png\n", encoding="utf-8")
    with pytest.warns(SkippedFilesWarning), pytest.warns(UserWarning, match=r"1 of 2 rows .*; 1 of them: a file whose "
                                                                           r"name differs only in leading spaces"):
        assert read_manifest(tmp_path / "m.csv")["exists"].tolist() == [False, True]


def test_an_mpo_cut_inside_a_later_picture_is_refused():
    """An MPO (a stereo pair) is read as its primary picture; cut inside its second picture (one byte
    short, or cut and zero-padded to its size) it decoded the intact primary with status ok, while
    a cut animated GIF, WebP, PNG or multi-page TIFF is refused whatever frame the cut falls in.
    Look-alikes: the whole file, and the file with bytes after its last picture, read the primary."""
    pictures = [Image.fromarray(natural_image(k, (32, 40))) for k in range(3)]
    buf = io.BytesIO()
    pictures[0].save(buf, "MPO", save_all=True, append_images=pictures[1:], quality=95)
    whole = buf.getvalue()
    primary = load_item(whole)
    assert primary.format == "mpo"
    np.testing.assert_array_equal(load_item(whole + bytes(16)).pixels, primary.pixels)
    third = whole.rfind(b"\xff\xd8")
    with pytest.raises(ItemError, match=rf"truncated or corrupt MPO: its picture 3 of 3 \(at byte {third} by its MP "
                                        rf"index\): truncated JPEG: the end-of-image marker is missing"):
        load_item(whole[:-1]).pixels
    padded = whole[:len(whole) - 300] + bytes(300)
    with pytest.raises(ItemError, match=r"MPO: its picture 3 of 3 .*: truncated JPEG"):
        load_item(padded).pixels
    with pytest.raises(ItemError, match=r"MPO: its picture 2 of 3 \(at byte \d+ by its MP index\): truncated JPEG"):
        load_item(whole[:third - 10]).pixels  # cut inside the second picture
    with pytest.raises(ItemError, match=rf"truncated MPO: its picture 3 of 3 \(at byte {third} by its MP index\) "
                                        rf"starts past the end of the file \({third} bytes\)"):
        load_item(whole[:third]).pixels  # cut between the second and the third


def test_a_gif_cut_short_names_the_frame_it_ends_in():
    """A GIF cut short was 'corrupt or unsupported GIF data (the decoder refused it)', whatever was
    cut; the reason now names where the file ends (in frame 2's image data, also with a trailer
    byte appended there; after the last frame without its trailer). Look-alikes: the whole file
    reads; a cut GIF stays refused (the reason is all that changed)."""
    frames = [Image.fromarray(natural_image(k, (32, 40))) for k in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    whole = buf.getvalue()
    assert load_item(whole).pixels.shape == (32, 40, 3)
    second = whole.index(b"\x2c", whole.index(b"\x21\xf9", whole.index(b"\x2c") + 1))  # frame 2's descriptor
    cases = [(whole[:-1], r"after frame 3 without its trailer"),
             (whole[:second + 200], r"inside frame 2's image data"),
             (whole[:second + 200] + b"\x3b", r"inside frame 2's image data"),
             (whole[:second + 5], r"inside frame 2's image descriptor"),
             (whole[:20], r"inside its global colour table")]
    for data, where in cases:
        with pytest.raises(ItemError, match=r"^item 0: truncated GIF: the file ends " + where):
            load_item(data).pixels


def test_an_unexpanded_pattern_is_said_to_be_one(tmp_path):
    """'data/*.png' quoted on a command line, or written in a config file or a manifest, reaches the
    library unexpanded: it was a plain 'file not found'. It is said to be a pattern, with the files
    it matches counted; none is read in its place. Look-alikes: a file literally named 'b*.png' is
    read as itself; a pattern matching nothing, and a name with brackets ('[ab].png', common in real
    names), stay plain."""
    from forensics._sources import load_data

    png = encode(natural_image(4, (8, 8)), "PNG")
    for name in ("a1.png", "a2.png", "b*.png"):
        (tmp_path / name).write_bytes(png)
    with pytest.raises(ItemError) as err:
        load_item(str(tmp_path / "a*.png"))
    assert err.value.reason == (f"file not found; it is a pattern ('*' or '?'), which a shell expands, not a path: 2 "
                                f"file(s) match it (first: {tmp_path / 'a1.png'}); give the files or their folder")
    np.testing.assert_array_equal(load_item(str(tmp_path / "b*.png")).pixels, natural_image(4, (8, 8)))
    for plain in ("c*.png", "[ab]1.png"):
        with pytest.raises(ItemError, match=r"\): file not found$"):
            load_item(str(tmp_path / plain))
    with pytest.raises(FileNotFoundError, match=r"--dataset\); it is a pattern \('\*' or '\?'\)"):
        load_data(str(tmp_path / "a?.png"))


@pytest.mark.parametrize("tags, reason", [
    (dict(subfiletype=1), r"the TIFF's first image is a reduced-resolution preview of another image in the file "
                          r"\(NewSubfileType 1\)"),
    (dict(extratags=[(255, "H", 1, 2, True)]), r"reduced-resolution preview .* \(SubfileType 2\)"),
    (dict(subfiletype=1, extratags=[(50706, "B", 4, (1, 4, 0, 0), True)]),
     r"a DNG camera raw file \(DNGVersion 1\.4\.0\.0\): its first image is a preview"),
])
def test_a_tiff_whose_first_image_is_a_preview_is_refused(tags, reason):
    """A TIFF whose first directory is a reduced-resolution preview of the picture stored after it
    (NewSubfileType bit 0, the old SubfileType 2), and a DNG camera raw file (always a preview
    first): the item was the 16x20 preview of a 64x80 picture, status ok. Look-alikes: the same
    two pages without the flag (an ordinary multi-page TIFF: its first page), a page flagged as
    one page of several (NewSubfileType 2), and a flagged image alone in its file are read."""
    import tifffile

    full = natural_image(1, (64, 80))
    preview = np.ascontiguousarray(full[::4, ::4])

    def tiff(**first):
        buf = io.BytesIO()
        with tifffile.TiffWriter(buf) as w:
            w.write(preview, photometric="rgb", **first)
            w.write(full, photometric="rgb")
        return buf.getvalue()

    with pytest.raises(ItemError, match=reason):
        load_item(tiff(**tags)).pixels
    np.testing.assert_array_equal(load_item(tiff()).pixels, preview)
    np.testing.assert_array_equal(load_item(tiff(subfiletype=2)).pixels, preview)
    if "extratags" not in tags or tags["extratags"][0][0] != 50706:  # a flagged image alone in its file is read
        buf = io.BytesIO()
        tifffile.imwrite(buf, preview, photometric="rgb", **tags)
        np.testing.assert_array_equal(load_item(buf.getvalue()).pixels, preview)


def _png_chunks(arr, before=(), after=()):
    """An RGB PNG with the extra chunks ``before`` (after IHDR) and ``after`` (after IDAT)."""
    h, w = arr.shape[:2]
    raw = zlib.compress(b"".join(b"\x00" + r.tobytes() for r in arr))
    parts = [(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)), *before, (b"IDAT", raw), *after, (b"IEND", b"")]
    chunks = (struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body)) for t, body in parts)
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def _exif6():
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()[6:]  # the TIFF block, without JPEG's 'Exif\0\0' prefix (PNG's eXIf holds it bare)


_XMP6 = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
         b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')


@pytest.mark.parametrize("before, after, decoded, shown", [
    ([], [], False, 1),                                                 # no metadata: nothing to look for
    ([(b"tEXt", b"Software\0paint")], [(b"tEXt", b"Comment\0x")], False, 1),  # text chunks of other keywords
    ([(b"eXIf", _exif6())], [], False, 6),                              # eXIf before the image data
    ([], [(b"eXIf", _exif6())], True, 6),                               # after it: Pillow decodes to find it
    ([(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + _XMP6)], [], True, 6),  # XMP, which Pillow also reads
    ([(b"tEXt", b"Raw profile type exif\0\nexif\n" + b"%8d\n" % (len(_exif6()) + 6)
       + (b"Exif\0\0" + _exif6()).hex().encode() + b"\n")], [], True, 6),  # ImageMagick's EXIF text
])
def test_the_orientation_of_a_png_is_pillows_without_decoding_a_png_that_has_none(before, after, decoded, shown):
    """A PNG's orientation is the one Pillow reads (from eXIf wherever it lies, else its EXIF or XMP text
    chunks), and a PNG without any such chunk is not decoded by Pillow to look for one: before, asking any
    PNG without an eXIf chunk ahead of its image data for its orientation (the face path does, for every
    image) made Pillow decode the whole picture a second time and keep it (a 12-megapixel PNG: 0.11 s, and
    46 MB resident for as long as the item). Look-alikes: text chunks of other keywords (not decoded), and an
    eXIf chunk after the image data (decoded, as Pillow needs, and read)."""
    data = _png_chunks(natural_image(4, (12, 20)), before, after)
    fresh = Image.open(io.BytesIO(data))
    fresh.load()
    truth = fresh.getexif().get(0x0112, 1)
    item = load_item(data)
    assert item.orientation == truth == shown
    assert (item.header.tile == []) == decoded  # Pillow empties the tile list once it has decoded
    np.testing.assert_array_equal(item.pixels, natural_image(4, (12, 20)))
