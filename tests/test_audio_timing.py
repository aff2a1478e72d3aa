"""forensics.audio: the sound read at its timestamps (start offsets, dropped chunks), channels averaged,
the default audio stream chosen; lip sync measured on the container's clock."""

import fractions

import numpy as np
import pytest

pytest.importorskip("librosa")

from forensics.audio import AV_SYNC_NAMES, AudioFeatures, AVSyncFeatures, load_audio  # noqa: E402
from forensics.audio._read import _place  # noqa: E402
from forensics.media import Face, ItemError  # noqa: E402
from video_fixtures import talking  # noqa: E402

SR = 22050


def _write(path, *, frames=None, sound=None, fps=25, sr=SR, v_start=0.0, a_start=0.0, fmt=None,
           acodec="pcm_s16le", layout="mono", drop_chunks=(), chunk=1024, n_audio=1, default=None):
    """Video frames (first pts ``v_start`` s) and ``n_audio`` audio streams of ``sound`` (channels x samples,
    first pts ``a_start`` s; stream k > 0 carries ``sound`` times 0.5 ** k); audio packets of the chunks in
    ``drop_chunks`` are left out (a capture's dropped audio). ``default``: the audio stream flagged default."""
    import av

    out = av.open(str(path), "w", format=fmt)
    try:
        vs = None
        if frames is not None:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            vs.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
        streams = [out.add_stream(acodec, rate=sr, layout=layout) for _ in range(n_audio)]
        if default is not None:
            for k, st in enumerate(streams):
                st.disposition = av.stream.Disposition.default if k == default else 0
        packets = []
        if vs is not None:
            for i, f in enumerate(frames):
                vf = av.VideoFrame.from_ndarray(f, format="rgb24")
                vf.pts, vf.time_base = i + int(round(v_start * fps)), fractions.Fraction(1, fps)
                packets += vs.encode(vf)
            packets += vs.encode()
        sound = np.atleast_2d(np.asarray(sound, dtype=np.float64))
        for k, st in enumerate(streams):
            pcm = np.clip(np.rint(sound * 0.5 ** k * 32767), -32768, 32767).astype(np.int16)
            for c, s in enumerate(range(0, pcm.shape[1], chunk)):
                block = np.ascontiguousarray(pcm[:, s:s + chunk].T).reshape(1, -1)
                fr = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
                fr.sample_rate, fr.pts, fr.time_base = sr, s + int(round(a_start * sr)), fractions.Fraction(1, sr)
                encoded = st.encode(fr)
                if c not in drop_chunks:
                    packets += encoded
            packets += st.encode()
        for p in packets:
            out.mux(p)
    finally:
        out.close()
    return str(path)


# -- samples at their timestamps -----------------------------------------------------------------------

def _ramp(n, sr=SR):
    """A sound whose every sample differs from its neighbours (a slow sine + a ramp): a shifted sample shows."""
    t = np.arange(n) / sr
    return 0.4 * np.sin(2 * np.pi * 3 * t) + 0.4 * (np.arange(n) / n)


def test_a_dropped_audio_chunk_leaves_silence_and_keeps_later_samples_in_place(tmp_path):
    sound = _ramp(30 * 1024)
    whole = load_audio(_write(tmp_path / "whole.mkv", sound=sound), sr=SR)
    cut = load_audio(_write(tmp_path / "cut.mkv", sound=sound, drop_chunks=(20,)), sr=SR)
    q = 1.5 / 32767  # s16 quantisation
    assert whole.errors == () and whole.samples.size == sound.size
    np.testing.assert_allclose(whole.samples, sound, atol=q)
    # the chunk's 1024 samples (46.4 ms) are silence; the sound after it plays when it did (it came 46 ms
    # early). Matroska stores milliseconds, so the gap is known to 0.5 ms (11 samples at 22.05 kHz).
    d = cut.samples.size - sound.size
    assert abs(d) <= 11
    gap = slice(20 * 1024 + 11, 21 * 1024 - 11)
    assert np.all(np.abs(cut.samples[gap]) <= 2 * q)
    np.testing.assert_allclose(cut.samples[:20 * 1024 - 30], sound[:20 * 1024 - 30], atol=q)
    np.testing.assert_allclose(cut.samples[21 * 1024 + d + 30:], sound[21 * 1024 + 30:], atol=q)
    assert cut.errors == ("audio timestamps jump forward 1 time(s), 0.046 s in all (sound missing; first at "
                          "0.929 s): silence inserted",)
    af = AudioFeatures(sr=SR).fit()
    X = af.transform([str(tmp_path / "whole.mkv"), str(tmp_path / "cut.mkv")])
    assert af.status_["status"].tolist() == ["ok", "ok"] and af.status_["reason"][0] == ""
    assert "silence inserted" in af.status_["reason"][1]
    dur = list(af.get_feature_names_out()).index("audio__duration__s")
    np.testing.assert_allclose(X[:, dur], sound.size / SR, atol=0.0006)  # it read 46 ms short


def test_place_tolerance_at_below_and_above_two_ms():
    rate = 1000  # 2 ms = 2 samples
    a, b = np.ones(5, np.float32), np.full(4, 2, np.float32)
    joined, notes = _place([(10, a), (17, b)], rate)  # 2 samples late: timestamp rounding, joined
    assert notes == [] and joined.tolist() == [1] * 5 + [2] * 4
    joined, notes = _place([(10, a), (18, b)], rate)  # 3 samples late: a gap
    assert joined.tolist() == [1] * 5 + [0] * 3 + [2] * 4
    assert notes == ["audio timestamps jump forward 1 time(s), 0.003 s in all (sound missing; first at 0.015 s): "
                     "silence inserted"]
    joined, notes = _place([(10, a), (13, b)], rate)  # 2 samples early: joined
    assert notes == [] and joined.tolist() == [1] * 5 + [2] * 4
    joined, notes = _place([(10, a), (12, b)], rate)  # 3 samples early: the overlap dropped
    assert joined.tolist() == [1] * 5 + [2]
    assert notes == ["audio timestamps go back 1 time(s), 0.003 s in all (sound repeated; first at 0.015 s): "
                     "the overlaps dropped"]
    joined, notes = _place([(10, a), (10, a[:3]), (15, b)], rate)  # a chunk sent twice, wholly overlapped
    assert joined.tolist() == [1] * 5 + [2] * 4 and len(notes) == 1
    # several of a kind: one note with the count, the seconds in all and the first place
    c = np.full(2, 3, np.float32)
    joined, notes = _place([(10, a), (18, b), (25, c)], rate)
    assert joined.tolist() == [1] * 5 + [0] * 3 + [2] * 4 + [0] * 3 + [3] * 2
    assert notes == ["audio timestamps jump forward 2 time(s), 0.006 s in all (sound missing; first at 0.015 s): "
                     "silence inserted"]


def test_place_in_a_format_with_discontinuities_joins_restarted_parts_on():
    """MPEG-TS/PS allow timestamp discontinuities (captures joined with cat): timestamps going back
    or jumping forward by more than FFmpeg's 10 s threshold start a new part, joined on after the
    sound before it, and every later piece keeps its place in that part. Elsewhere (and below the
    threshold) the same timestamps are repeated or missing sound."""
    rate = 1000
    a, b, c = np.ones(5, np.float32), np.full(4, 2, np.float32), np.full(2, 3, np.float32)
    back = [(1000, a), (400, b), (404, c)]  # the second part's clock starts again, earlier
    joined, notes = _place(back, rate, discont=True)
    assert joined.tolist() == [1] * 5 + [2] * 4 + [3] * 2
    assert notes == ["audio timestamps restart 1 time(s) (a discontinuity, e.g. joined captures; first at 1.005 s): "
                     "each part joined on after the sound before it"]
    joined, notes = _place(back, rate)  # not a discontinuity format: the sound went back, it is dropped
    assert joined.tolist() == [1] * 5 and len(notes) == 1 and "go back 2 time(s)" in notes[0]
    far = [(1000, a), (1005 + 10_001, b), (1005 + 10_001 + 7, c)]  # 10.001 s later, then a 3 ms gap
    joined, notes = _place(far, rate, discont=True)
    assert joined.tolist() == [1] * 5 + [2] * 4 + [0] * 3 + [3] * 2 and len(notes) == 2
    joined, notes = _place([(1000, a), (1005 + 10_000, b)], rate, discont=True)  # at the threshold: a gap
    assert joined.size == 5 + 10_000 + 4 and notes[0].startswith("audio timestamps jump forward 1 time(s), 10.000 s")


def test_joined_mpegts_captures_are_read_in_file_order(tmp_path):
    """Two MPEG-TS captures joined with cat: the second part's clock restarts (here at the same 1.4 s)
    or jumps 600 s ahead; the sound is both parts in file order, not the first part alone (the
    second read as repeated sound) or 596 s of inserted silence. The same jump inside one file of
    a format without discontinuities (Matroska) stays a gap of silence (test above)."""
    sound = _ramp(3 * SR)
    a = _write(tmp_path / "a.ts", sound=sound, fmt="mpegts", acodec="mp2", a_start=1.4)
    first = load_audio(a, sr=SR)
    for start in (1.4, 600.0):
        b = _write(tmp_path / f"b{start}.ts", sound=sound[::-1].copy(), fmt="mpegts", acodec="mp2", a_start=start)
        joined = tmp_path / f"ab{start}.ts"
        joined.write_bytes(open(a, "rb").read() + open(b, "rb").read())
        second, track = load_audio(b, sr=SR), load_audio(joined, sr=SR)
        assert len(track.errors) == 1 and track.errors[0].startswith("audio timestamps restart 1 time(s)")
        n = first.samples.size  # each part as it reads alone, one after the other
        assert track.samples.size == pytest.approx(n + second.samples.size, abs=SR * 0.002)
        np.testing.assert_allclose(track.samples[:n - 64], first.samples[:n - 64], atol=1e-4)
        m = min(second.samples.size, track.samples.size - n)
        assert np.corrcoef(track.samples[n + 2048:n + m], second.samples[2048:m])[0, 1] > 0.99


def test_a_sample_rate_change_mid_stream_is_refused_by_name(tmp_path):
    """AAC at 48 kHz then at 44.1 kHz (two captures joined): the second part read at the first rate
    would be a 440 Hz tone sounding at 479 Hz, status ok; it is refused naming the change. The
    look-alike, both parts at 48 kHz, is read."""
    import fractions

    import av

    def write(path, rate, start):
        with av.open(str(path), "w", format="mpegts") as c:
            s = c.add_stream("aac", rate=rate, layout="mono")
            t = np.arange(rate) / rate
            x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for i in range(0, rate, 1024):
                f = av.AudioFrame.from_ndarray(x[None, i:i + 1024].copy(), format="fltp", layout="mono")
                f.sample_rate, f.pts, f.time_base = rate, i + int(start * rate), fractions.Fraction(1, rate)
                for p in s.encode(f):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        return path.read_bytes()

    first = write(tmp_path / "a.ts", 48000, 1.4)
    for rate in (44100, 48000):
        path = tmp_path / f"joined{rate}.ts"
        path.write_bytes(first + write(tmp_path / "b.ts", rate, 2.4))
        if rate == 48000:
            assert load_audio(path, sr=SR).duration_s == pytest.approx(2.0, abs=0.1)
        else:
            with pytest.raises(ItemError, match=r"item 4 \(.*joined44100\.ts\): the audio's sample rate changes "
                                                r"mid-stream \(48000 to 44100 Hz at 2\.\d+ s\); not supported"):
                load_audio(path, sr=SR, index=4)


def test_start_offset_kept_and_samples_from_the_first_timestamp(tmp_path):
    sound = _ramp(8 * 1024)
    for a_start in (0.5, 1.4):
        track = load_audio(_write(tmp_path / f"late{a_start}.mkv", sound=sound, a_start=a_start), sr=SR)
        assert track.start_s == pytest.approx(a_start, abs=1e-3) and track.errors == ()
        np.testing.assert_allclose(track.samples, sound, atol=1.5 / 32767)


# -- channels and rates --------------------------------------------------------------------------------

@pytest.mark.parametrize("layout,n", [("stereo", 2), ("5.1", 6)])
def test_channels_averaged_so_one_sound_reads_alike_in_every_layout(tmp_path, layout, n):
    t = np.arange(SR) / SR
    x = 0.8 * np.sin(2 * np.pi * 440 * t)
    mono = load_audio(_write(tmp_path / "mono.mkv", sound=x), sr=SR)
    same = load_audio(_write(tmp_path / "same.mkv", sound=np.repeat(x[None], n, 0), layout=layout), sr=SR)
    assert same.channels == n and mono.channels == 1
    np.testing.assert_allclose(same.samples, mono.samples, atol=1e-4)  # FFmpeg's downmix gave 1.41x / 3.41x
    chans = np.zeros((n, t.size))
    chans[0] = x
    one = load_audio(_write(tmp_path / "one.mkv", sound=chans, layout=layout), sr=SR)
    np.testing.assert_allclose(one.samples, mono.samples / n, atol=1e-4)  # the mean of the channels
    af = AudioFeatures(sr=SR).fit()
    X = af.transform([str(tmp_path / "mono.mkv"), str(tmp_path / "same.mkv")])
    np.testing.assert_allclose(X[1], X[0], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_each_source_rate_resampled_with_its_duration_and_pitch(tmp_path, rate):
    t = np.arange(2 * rate) / rate
    track = load_audio(_write(tmp_path / f"r{rate}.mkv", sound=0.5 * np.sin(2 * np.pi * 1000 * t), sr=rate), sr=SR)
    assert track.source_rate == rate and track.sr == SR
    assert abs(track.samples.size - 2 * SR) <= 2
    spectrum = np.abs(np.fft.rfft(track.samples[1000:-1000]))
    peak_hz = np.argmax(spectrum) * SR / (track.samples.size - 2000)
    assert abs(peak_hz - 1000) < 2
    assert np.sqrt(np.mean(track.samples[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


# -- which stream ----------------------------------------------------------------------------------------

def test_the_default_audio_stream_is_read_and_named(tmp_path):
    sound = 0.8 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    dub = _write(tmp_path / "dub.mkv", sound=sound, n_audio=2, default=1)
    plain = _write(tmp_path / "plain.mkv", sound=sound, n_audio=2)  # no stream flagged: the first

    def level(track):
        return float(np.abs(track.samples).max())

    assert load_audio(dub).stream == 1 and level(load_audio(dub)) == pytest.approx(0.4, abs=0.01)
    assert load_audio(plain).stream == 0 and level(load_audio(plain)) == pytest.approx(0.8, abs=0.01)
    assert load_audio(dub, stream=0).stream == 0 and level(load_audio(dub, stream=0)) == pytest.approx(0.8, abs=0.01)
    assert load_audio(dub).n_streams == 2
    with pytest.raises(ItemError, match="has 2 audio stream.s.; stream=2 asked"):
        load_audio(dub, stream=2)
    with pytest.raises(TypeError, match="stream must be an integer"):
        load_audio(dub, stream=True)
    af = AudioFeatures(sr=SR).fit()
    af.transform([dub, plain])
    assert af.status_["stream"].tolist() == [1, 0] and af.status_["audio_streams"].tolist() == [2, 2]


# -- lip sync on one clock -------------------------------------------------------------------------------

class FixedFace:
    def detect(self, rgb):
        lm = np.array([[24, 26], [40, 26], [32, 34], [24, 44], [40, 44]], dtype=float)
        return [Face(bbox=(16.0, 16.0, 32.0, 36.0), score=1.0, landmarks=lm)]


def _talking(n=60, fps=25, seed=0):
    """Frames of a mouth opening in bursts and the sound of the same bursts, in sync sample for frame."""
    return talking(n, fps, seed, 0, SR)


@pytest.mark.parametrize("v_start,a_start,fmt,lag", [
    (0.0, 0.0, None, 0),          # the look-alike: both at 0
    (1.4, 1.4, None, 0),          # both late together (an MPEG-TS clock): in sync (it read -15, the search's end)
    (0.48, 0.0, None, -12),       # the video starts 0.48 s late: the sound comes 12 frames first (it read 0)
    (0.0, 0.48, None, 12),        # the sound starts 0.48 s late
    (0.0, 0.0, "mpegts", 0),      # MPEG-TS with MP2 sound, timestamps from the muxer (it read 2)
])
def test_lip_sync_compares_frames_with_the_sound_they_play_with(tmp_path, v_start, a_start, fmt, lag):
    frames, sound = _talking()
    kw = dict(fmt="mpegts", acodec="mp2") if fmt else {}
    path = _write(tmp_path / ("t.ts" if fmt else "t.mkv"), frames=frames, sound=sound, v_start=v_start,
                  a_start=a_start, **kw)
    sync = AVSyncFeatures(detector=FixedFace(), max_seconds=2.4, max_lag_s=0.6).fit()
    X = sync.transform([path])
    col = {n: i for i, n in enumerate(AV_SYNC_NAMES)}
    assert sync.status_["status"].tolist() == ["ok"] and sync.status_["reason"][0] == ""
    assert X[0, col["av__sync__lag_frames"]] == lag and X[0, col["av__sync__peak"]] > 0.9


def test_lip_sync_with_a_dropped_audio_chunk_stays_in_sync(tmp_path):
    frames, sound = _talking()
    path = _write(tmp_path / "gap.mkv", frames=frames, sound=sound, drop_chunks=(20,))
    sync = AVSyncFeatures(detector=FixedFace(), max_seconds=2.4, max_lag_s=0.6).fit()
    X = sync.transform([path])
    assert X[0, 1] == 0 and X[0, 0] > 0.9  # the later sound came 46 ms early: lag -1, peak 0.62
    assert "silence inserted" in sync.status_["reason"][0]
    assert sync.status_[["stream", "audio_streams"]].values.tolist() == [[0, 1]]


def test_lip_sync_with_sound_shorter_than_the_video(tmp_path):
    frames, sound = _talking()
    path = _write(tmp_path / "short.mkv", frames=frames, sound=sound[:len(sound) // 2])
    sync = AVSyncFeatures(detector=FixedFace(), max_seconds=2.4, max_lag_s=0.6).fit()
    X = sync.transform([path])
    assert X[0, 1] == 0 and X[0, 0] > 0.9 and X[0, 4] == 60  # the frames without sound are left out
