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
    assert len(cut.errors) == 1 and "jump 0.046 s forward at 0.929 s" in cut.errors[0]
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
    assert joined.tolist() == [1] * 5 + [0] * 3 + [2] * 4 and "0.003 s forward at 0.015 s" in notes[0]
    joined, notes = _place([(10, a), (13, b)], rate)  # 2 samples early: joined
    assert notes == [] and joined.tolist() == [1] * 5 + [2] * 4
    joined, notes = _place([(10, a), (12, b)], rate)  # 3 samples early: the overlap dropped
    assert joined.tolist() == [1] * 5 + [2] and "0.003 s back at 0.015 s" in notes[0]
    joined, notes = _place([(10, a), (10, a[:3]), (15, b)], rate)  # a chunk sent twice, wholly overlapped
    assert joined.tolist() == [1] * 5 + [2] * 4 and len(notes) == 1


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
