"""forensics.audio: audio descriptors (against librosa and hand-computed tones), reading, AV synchrony."""

import os

import numpy as np
import pytest

librosa = pytest.importorskip("librosa")

from forensics.audio import (AUDIO_FEATURES, AV_SYNC_NAMES, AVSyncFeatures, AudioFeatures, NoAudioError,  # noqa: E402
                             audio_catalogue_markdown, audio_feature_names, audio_features, av_sync, load_audio,
                             mouth_box)
from forensics.media import Face, ItemError  # noqa: E402
from video_fixtures import talking  # noqa: E402

SR = 22050


def _write(path, *, audio=None, sr=SR, frames=None, fps=25, audio_codec="pcm_s16le"):
    """A file with an optional video stream (RGB uint8 frames) and an optional mono audio stream."""
    import av

    fmt = {".wav": "wav", ".mkv": "matroska", ".mp4": "mp4"}[os.path.splitext(str(path))[1]]
    out = av.open(str(path), "w", format=fmt)
    try:
        vs = as_ = None
        if frames is not None:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            vs.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
        if audio is not None:
            as_ = out.add_stream(audio_codec, rate=sr, layout="mono")
        if frames is not None:
            for f in frames:
                for p in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
        if audio is not None:
            pcm = np.clip(np.rint(np.asarray(audio) * 32767), -32768, 32767).astype(np.int16)
            chunk = 1024
            for start in range(0, pcm.size, chunk):
                block = pcm[start:start + chunk][None]
                frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
                frame.sample_rate = sr
                frame.pts = start
                for p in as_.encode(frame):
                    out.mux(p)
            for p in as_.encode():
                out.mux(p)
    finally:
        out.close()
    return path


def _features(y, sr=SR, **kw):
    return dict(zip(audio_feature_names(), audio_features(y, sr, **kw)))


# -- hand-computed tones ---------------------------------------------------------------------------

def test_pure_tone_has_its_frequency_as_centroid_and_rolloff():
    t = np.arange(SR) / SR
    for f0, amp in ((1000.0, 0.5), (3000.0, 0.2)):
        f = _features(amp * np.sin(2 * np.pi * f0 * t))
        bin_hz = SR / 2048
        assert f["audio__centroid__mean"] == pytest.approx(f0, abs=2 * bin_hz)
        # 85 % of the magnitude of a line lies below a bin of its Hann main lobe (half-width 2 bins) above it
        assert f0 <= f["audio__rolloff__mean"] <= f0 + 3 * bin_hz
        # the window's main lobe (the two zero-padded edge frames of centred STFTs broaden the mean);
        # white noise spreads over the whole band
        assert f["audio__bandwidth__mean"] < 20 * bin_hz
        noise = _features(amp * np.random.default_rng(0).normal(size=t.size) / 3)
        assert noise["audio__bandwidth__mean"] > 200 * bin_hz
        # a sine crosses zero twice per period: 2 f0 / sr crossings per sample
        assert f["audio__zcr__mean"] == pytest.approx(2 * f0 / SR, rel=0.05)  # edge frames: half zero padding
        # RMS of a sine is amp / sqrt(2) (edge frames are zero-padded: the mean is a little lower)
        assert f["audio__rms__mean"] == pytest.approx(amp / np.sqrt(2), rel=0.05)
        assert f["audio__duration__s"] == pytest.approx(1.0)
    # amplitude scales RMS only, not the spectral shape
    a, b = _features(0.1 * np.sin(2 * np.pi * 1000 * t)), _features(0.4 * np.sin(2 * np.pi * 1000 * t))
    assert b["audio__rms__mean"] == pytest.approx(4 * a["audio__rms__mean"], rel=1e-3)
    assert b["audio__centroid__mean"] == pytest.approx(a["audio__centroid__mean"], rel=1e-4)


def test_linear_chirp_centroid_mean_and_std_follow_the_sweep():
    f1, f2, dur = 500.0, 4000.0, 2.0
    t = np.arange(int(dur * SR)) / SR
    chirp = 0.5 * np.sin(2 * np.pi * (f1 * t + (f2 - f1) / (2 * dur) * t ** 2))
    f = _features(chirp)
    # the instantaneous frequency sweeps uniformly over [f1, f2]: mean (f1 + f2) / 2, std (f2 - f1) / sqrt(12)
    assert f["audio__centroid__mean"] == pytest.approx((f1 + f2) / 2, rel=0.03)
    assert f["audio__centroid__std"] == pytest.approx((f2 - f1) / np.sqrt(12), rel=0.05)
    tone = _features(0.5 * np.sin(2 * np.pi * 2250 * t))
    assert tone["audio__centroid__std"] < 0.05 * f["audio__centroid__std"]


# -- against librosa's own functions ----------------------------------------------------------------------

def test_features_equal_librosa_on_the_decoded_track(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(int(1.3 * SR)) / SR
    y = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2 + 0.02 * rng.normal(size=t.size)
    path = _write(tmp_path / "tone.wav", audio=y)
    track = load_audio(path, sr=SR)
    # PCM at the same rate: the samples are the 16-bit values written, exactly
    np.testing.assert_array_equal(track.samples, np.clip(np.rint(y * 32767), -32768, 32767).astype(np.int16) / 32768)
    assert track.codec == "pcm_s16le" and track.source_rate == SR
    x = track.samples
    kw = dict(n_fft=1024, hop_length=256)
    row = AudioFeatures(n_fft=1024, hop_length=256).fit().transform([str(path)])[0]
    got = dict(zip(audio_feature_names(), row))
    mfcc = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=13, **kw)
    delta = librosa.feature.delta(mfcc)
    np.testing.assert_allclose([got[f"audio__mfcc__mean_{k:02d}"] for k in range(13)], mfcc.mean(1), rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_allclose([got[f"audio__mfcc__std_{k:02d}"] for k in range(13)], mfcc.std(1), rtol=1e-5)
    np.testing.assert_allclose([got[f"audio__mfcc_delta__std_{k:02d}"] for k in range(13)], delta.std(1), rtol=1e-5)
    for name, ref in (("centroid", librosa.feature.spectral_centroid(y=x, sr=SR, **kw)[0]),
                      ("bandwidth", librosa.feature.spectral_bandwidth(y=x, sr=SR, **kw)[0]),
                      ("rolloff", librosa.feature.spectral_rolloff(y=x, sr=SR, **kw)[0]),
                      ("zcr", librosa.feature.zero_crossing_rate(x, frame_length=1024, hop_length=256)[0]),
                      ("rms", librosa.feature.rms(y=x, frame_length=1024, hop_length=256)[0])):
        assert got[f"audio__{name}__mean"] == pytest.approx(float(ref.mean()), rel=1e-5)
        assert got[f"audio__{name}__std"] == pytest.approx(float(ref.std()), rel=1e-4)
    contrast = librosa.feature.spectral_contrast(y=x, sr=SR, **kw)
    np.testing.assert_allclose([got[f"audio__contrast__mean_b{b}"] for b in range(7)], contrast.mean(1), rtol=1e-5)
    # n_mfcc away from its default changes the columns consistently
    af = AudioFeatures(n_mfcc=5).fit()
    assert af.transform([str(path)]).shape == (1, len(af.get_feature_names_out())) == (1, 4 * 5 + 25)


def test_short_sound_has_nan_deltas_and_empty_input_refused():
    f = _features(np.sin(np.arange(600) * 0.3), n_fft=512, hop_length=512)  # 2 frames: no delta
    assert np.isnan(f["audio__mfcc_delta__mean_00"]) and np.isfinite(f["audio__mfcc__mean_00"])
    f3 = _features(np.sin(np.arange(1100) * 0.3), n_fft=512, hop_length=512)  # 3 frames: delta of width 3
    assert np.isfinite(f3["audio__mfcc_delta__mean_00"])
    with pytest.raises(ValueError, match="non-empty"):
        audio_features(np.zeros(0), SR)
    with pytest.raises(ValueError, match="NaN"):
        audio_features(np.array([0.0, np.nan, 0.1]), SR)


# -- videos: the audio track, a silent video, errors, composition ------------------------------------------

@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("av")
    frames = [np.full((32, 32, 3), 40 + 10 * i, np.uint8) for i in range(10)]
    t = np.arange(int(0.5 * SR)) / SR
    voiced = _write(d / "voiced.mp4", audio=0.3 * np.sin(2 * np.pi * 800 * t), frames=frames, audio_codec="aac")
    silent = _write(d / "silent.mp4", frames=frames)
    return str(voiced), str(silent)


def test_video_without_audio_gives_a_nan_row_with_its_reason(videos, tmp_path):
    voiced, silent = videos
    af = AudioFeatures().fit()
    X = af.transform([voiced, silent])
    assert X.shape == (2, len(audio_feature_names()))
    assert np.all(np.isfinite(X[0])) and np.all(np.isnan(X[1]))
    assert af.status_["status"].tolist() == ["ok", "no_audio"]
    assert af.status_.loc[1, "reason"] == "no audio stream"
    # the AAC track decodes to the tone it holds
    assert X[0, af.get_feature_names_out().tolist().index("audio__centroid__mean")] == pytest.approx(800, abs=40)
    with pytest.raises(NoAudioError, match=r"item 4 \(.*silent\.mp4\): no audio stream"):
        load_audio(silent, index=4)
    # unreadable items: an error naming the item, or a recorded NaN row when asked
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ItemError, match=r"item 1 \(.*bad\.mp4\)"):
        af.transform([voiced, str(bad)])
    lenient = AudioFeatures(on_error="nan").fit()
    X2 = lenient.transform([str(bad), voiced])
    assert np.all(np.isnan(X2[0])) and lenient.status_["status"].tolist() == ["error", "ok"]
    np.testing.assert_allclose(X2[1], X[0])
    with pytest.raises(ValueError, match="on_error"):
        AudioFeatures(on_error="skip").fit()
    with pytest.raises(ValueError, match="n_fft"):
        AudioFeatures(n_fft=8).fit()
    short = AudioFeatures(max_seconds=0.25).fit().transform([voiced])[0]
    assert short[-1] == pytest.approx(0.25, abs=0.01) and X[0, -1] > 0.45


def test_audio_features_compose_with_video_features(videos):
    from sklearn.pipeline import FeatureUnion

    from forensics.features import BlurFeatures, VideoFeatures

    union = FeatureUnion([("video", VideoFeatures(BlurFeatures(), faces=False, n_frames=2)),
                          ("audio", AudioFeatures())])
    X = union.fit_transform(list(videos))
    names = union.get_feature_names_out()
    assert X.shape == (2, len(names)) and any(n.startswith("audio__audio__mfcc") for n in names)
    audio_cols = [i for i, n in enumerate(names) if n.startswith("audio__")]
    assert np.all(np.isfinite(X[0, audio_cols])) and np.all(np.isnan(X[1, audio_cols]))


def test_registry_documents_every_column_and_the_docs_table_matches():
    families = {d.feature for d in AUDIO_FEATURES}
    assert {n.split("__")[1] for n in audio_feature_names()} == families
    assert all(d.formula and d.reference for d in AUDIO_FEATURES)
    page = open(os.path.join(os.path.dirname(__file__), "..", "docs", "user-guide", "clips-audio.md")).read()
    assert audio_catalogue_markdown() in page, "regenerate the audio table of docs/user-guide/clips-audio.md"


# -- audio-visual synchrony ---------------------------------------------------------------------------

class FixedFace:
    """A detector for generated frames: the face is where the generator drew it (a real user-supplied
    detector object, as FaceCropper and AVSyncFeatures accept)."""

    def detect(self, rgb):
        lm = np.array([[24, 26], [40, 26], [32, 34], [24, 44], [40, 44]], dtype=float)
        return [Face(bbox=(16.0, 16.0, 32.0, 36.0), score=1.0, landmarks=lm)]


def _talking(path, offset_frames, n=100, fps=25, seed=0):
    """A face whose mouth opens in bursts; the sound has noise bursts ``offset_frames`` later."""
    frames, sound = talking(n, fps, seed, offset_frames, SR)
    return _write(path, audio=sound, frames=frames, fps=fps)


def test_av_sync_finds_the_known_offset(tmp_path):
    paths = [str(_talking(tmp_path / f"talk{o}.mkv", o)) for o in (0, 5, -3)]
    sync = AVSyncFeatures(detector=FixedFace(), max_seconds=4.0, max_lag_s=0.4).fit()
    X = sync.transform(paths)
    assert X.shape == (3, len(AV_SYNC_NAMES)) and sync.status_["status"].tolist() == ["ok"] * 3
    col = {n: i for i, n in enumerate(AV_SYNC_NAMES)}
    assert X[:, col["av__sync__lag_frames"]].tolist() == [0, 5, -3]
    np.testing.assert_allclose(X[:, col["av__sync__lag_s"]], [0, 0.2, -0.12])
    assert np.all(X[:, col["av__sync__peak"]] > 0.5)
    assert X[0, col["av__sync__zero_lag"]] == X[0, col["av__sync__peak"]]  # in sync: the peak is at lag 0
    assert X[1, col["av__sync__zero_lag"]] < 0.3  # out of sync: little agreement at lag 0
    assert X[0, col["av__sync__n_frames"]] == 100


def test_av_sync_without_sound_or_face(tmp_path, videos):
    _, silent = videos

    class NoFace:
        def detect(self, rgb):
            return []

    sync = AVSyncFeatures(detector=NoFace()).fit()
    talk = str(_talking(tmp_path / "t.mkv", 0, n=30))
    X = sync.transform([silent, talk])
    assert np.all(np.isnan(X[0])) and sync.status_["status"].tolist() == ["no_audio", "no_face"]
    assert sync.status_["source_rate"].tolist() == [0, SR]  # the sound's own rate, as AudioFeatures says it
    assert np.all(np.isnan(X[1, :4])) and X[1, 4] == 0
    assert sync.status_["reason"][1] == "mouth found in 0 of 30 frames: too few to correlate"
    with pytest.raises(ValueError, match="max_lag_s"):
        AVSyncFeatures(max_lag_s=0).fit()


def test_av_sync_of_a_silent_sound_track_says_the_sound_is_flat_not_that_no_face_was_found(tmp_path):
    """The mouth followed in every frame, the sound track all zeros: nothing to correlate, and the status
    says so (it said 'no_face': 'mouth found in 30 of 30 frames: too few to correlate'). Look-alike: the same
    frames with their sound are 'ok'."""
    frames, sound = talking(30, 25, 0, 0, SR)
    silent = _write(tmp_path / "silent.mkv", audio=np.zeros_like(sound), frames=frames, fps=25)
    voiced = _write(tmp_path / "voiced.mkv", audio=sound, frames=frames, fps=25)
    sync = AVSyncFeatures(detector=FixedFace()).fit()
    X = sync.transform([str(silent), str(voiced)])
    assert sync.status_["status"].tolist() == ["no_audio", "ok"]
    assert sync.status_["reason"][0] == ("the sound does not change over the 30 frames analysed (silent or constant): "
                                         "nothing to correlate with the mouth, found in 30 of them")
    assert np.all(np.isnan(X[0, :4])) and X[0, 4] == 30  # no lag of 0 passed off as 'in sync'
    assert np.all(np.isfinite(X[1]))


def test_av_sync_of_a_still_mouth_or_a_short_sound_names_that_side(tmp_path):
    """A still picture with a voice (every frame frame 0, the sound of the talking clip): the mouth is found
    in every frame but never moves. It was 'no_face', 'mouth found in 30 of 30 frames, sound in 30: too few
    frames with both', which contradicts itself; now 'no_motion'. A sound track lasting 3 frames of the 30
    was 'the sound does not change (silent or constant)'; now it says how few frames have sound.
    Look-alike: the talking clip itself is 'ok'."""
    frames, sound = talking(30, 25, 0, 0, SR)
    still = _write(tmp_path / "still.mkv", audio=sound, frames=[frames[0]] * len(frames), fps=25)
    short = _write(tmp_path / "short.mkv", audio=sound[:int(SR * 3 / 25)], frames=frames, fps=25)
    voiced = _write(tmp_path / "voiced.mkv", audio=sound, frames=frames, fps=25)
    sync = AVSyncFeatures(detector=FixedFace()).fit()
    X = sync.transform([str(still), str(short), str(voiced)])
    assert sync.status_["status"].tolist() == ["no_motion", "no_audio", "ok"]
    assert sync.status_["reason"][0] == ("the mouth, found in 30 of 30 frames, does not move: nothing to correlate "
                                         "with the sound")
    assert sync.status_["reason"][1].startswith("sound in only ") and "of the 30 frames analysed" in \
        sync.status_["reason"][1]
    assert np.all(np.isnan(X[:2, :4])) and X[0, 4] == 30 and np.all(np.isfinite(X[2]))


def test_mouth_box_from_landmarks_or_face_box():
    lm = np.array([[0, 0], [0, 0], [0, 0], [20, 50], [40, 50]], dtype=float)
    assert mouth_box(Face((0, 0, 60, 60), 1.0, lm), (100, 100)) == (15, 40, 45, 60)  # 1.5 w x w around (30, 50)
    assert mouth_box(Face((10, 10, 40, 60), 1.0, None), (100, 100)) == (20, 50, 40, 70)  # bottom third, middle half
    assert mouth_box(Face((95, 95, 40, 60), 1.0, None), (100, 100)) is None  # outside the frame


def test_av_sync_lag_sign_and_flat_input():
    m = np.zeros(40)
    m[[5, 15, 25]] = 1
    e = np.zeros(40)
    e[8:12], e[18:22], e[28:32] = 1, 1, 1  # sound switches on 3 frames after each movement
    peak, lag, _ = av_sync(m, e, max_lag=5)
    assert lag == 3 and peak > 0.5
    assert av_sync(m, np.zeros(40), max_lag=5)[0] != av_sync(m, np.zeros(40), max_lag=5)[0]  # NaN: flat sound


def _pearson_by_lag(m, e, max_lag):
    """Independent reference: numpy.corrcoef of the finite pairs (m[t], |e[t+l] - e[t+l-1]|) per lag."""
    a = np.r_[np.nan, np.abs(np.diff(e))]
    out = {}
    for lag in range(-max_lag, max_lag + 1):
        x, y = (m[:m.size - lag], a[lag:]) if lag >= 0 else (m[-lag:], a[:a.size + lag])
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() >= 4 and np.std(x[ok]) > 0 and np.std(y[ok]) > 0:
            out[lag] = np.corrcoef(x[ok], y[ok])[0, 1]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_av_sync_is_pearsons_correlation_per_lag_with_missing_frames(seed):
    rng = np.random.default_rng(seed)
    m, e = rng.random(50), np.cumsum(rng.random(50))
    m[rng.random(50) < 0.3] = np.nan  # frames without a face
    e[rng.random(50) < 0.2] = np.nan  # and without sound
    ref = _pearson_by_lag(m, e, 6)
    peak, lag, r0 = av_sync(m, e, max_lag=6)
    best = max(ref, key=ref.get)
    assert lag == best and peak == pytest.approx(ref[best], abs=1e-12)
    assert r0 == pytest.approx(ref[0], abs=1e-12)


def test_av_sync_peak_stays_a_correlation_where_frames_are_missing():
    # the mouth still for 30 frames without sound, then moving with the sound: the pairs with both
    # present vary more than the whole motion series does. Z-scoring each series over all its frames
    # (the definition before 0.3.0) gave r(0) = 2 here; the correlation of those pairs is exactly 1
    m = np.r_[np.zeros(30), 1.0, 0, 0, 1, 1, 0, 1, 0, 0, 1]
    e = np.r_[np.full(30, np.nan), np.cumsum(np.r_[0.0, m[31:]])]  # |e[t] - e[t-1]| = m[t] from frame 31 on
    peak, lag, r0 = av_sync(m, e, max_lag=2)
    assert (peak, lag) == (pytest.approx(1.0, abs=1e-12), 0) and r0 == pytest.approx(1.0, abs=1e-12)
    # a periodic motion correlates as well at several lags: the one nearest 0 is given (before: the most
    # negative), and of two as near, the negative one
    m = np.tile([1.0, 0.0], 20)
    e = np.cumsum(np.r_[0.0, m[1:]])
    assert av_sync(m, e, max_lag=4)[:2] == (pytest.approx(1.0), 0)
    assert av_sync(np.roll(m, 1), e, max_lag=4)[:2] == (pytest.approx(1.0), -1)
    # a side constant over the valid pairs has no correlation (NaN), not 0 or +-inf
    assert np.isnan(av_sync(np.r_[np.ones(30), np.full(10, np.nan)], np.cumsum(np.arange(40.0)), max_lag=1)[0])


def test_status_names_the_source_rate_whose_trace_the_high_contrast_bands_keep(tmp_path):
    """The same 440 Hz tone from 8, 22.05 and 48 kHz files, analysed at 22.05 kHz: the bands below 4 kHz
    (b0-b2: under every source's Nyquist limit) agree within 1.5 dB, the bands above 4 kHz differ by the
    source rate (nothing of the tone is there: the resampler's roll-off), so status_ names the rate."""
    paths, rates = [], [8000, 22050, 48000]
    for sr in rates:
        t = np.arange(sr) / sr
        paths.append(_write(tmp_path / f"tone{sr}.wav", audio=0.5 * np.sin(2 * np.pi * 440 * t), sr=sr))
    paths.append(tmp_path / "silent.mp4")
    _write(paths[-1], frames=[np.zeros((16, 16, 3), np.uint8)] * 2)
    af = AudioFeatures(on_error="nan")
    X = af.fit_transform(paths)
    assert af.status_["source_rate"].tolist() == rates + [0]
    assert af.status_["status"].tolist() == ["ok"] * 3 + ["no_audio"]
    names = list(af.get_feature_names_out())
    low = X[:3, [names.index(f"audio__contrast__mean_b{b}") for b in (0, 1, 2)]]
    assert np.ptp(low, axis=0).max() < 1.5
    b5 = X[:3, names.index("audio__contrast__mean_b5")]
    assert b5[0] - b5[1] > 10 and b5[2] - b5[1] > 10  # 8 and 48 kHz sources against the unresampled one


def test_audio_header_reads_the_stream_a_reader_takes(tmp_path):
    from forensics.audio import audio_header

    t = np.arange(4000) / 16000
    wav = _write(tmp_path / "a.wav", audio=0.1 * np.sin(2 * np.pi * 300 * t), sr=16000)
    assert audio_header(wav) == dict(rate=16000, codec="pcm_s16le", channels=1)
    assert audio_header(wav)["rate"] == load_audio(wav, sr=22050).source_rate
    silent = _write(tmp_path / "v.mkv", frames=[np.zeros((16, 16, 3), np.uint8)] * 2)
    assert audio_header(silent) is None
    with pytest.raises(ItemError, match=r"item 5 \(.*nope\.mp4\): file not found"):
        audio_header(tmp_path / "nope.mp4", index=5)


def test_a_file_named_like_a_protocol_is_read_as_itself(tmp_path, monkeypatch):
    """A file called ``concat:a.wav|b.wav`` beside a.wav and b.wav: FFmpeg took the name for its concat
    protocol and load_audio returned the sound of a.wav (1 s at 8 kHz) instead of the file's own
    (0.25 s at 16 kHz); the video reader already opened a Python file object. Look-alike: the same bytes
    under a plain name."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "a.wav", audio=0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000), sr=8000)
    _write(tmp_path / "b.wav", audio=0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000), sr=8000)
    own = _write(tmp_path / "own.wav", audio=0.5 * np.sin(2 * np.pi * 300 * np.arange(4000) / 16000), sr=16000)
    named = tmp_path / "concat:a.wav|b.wav"
    named.write_bytes(own.read_bytes())
    from forensics.audio import audio_header

    for path in ("concat:a.wav|b.wav", "own.wav"):
        track = load_audio(path, sr=16000)
        assert (track.source_rate, track.samples.size) == (16000, 4000)
        assert audio_header(path)["rate"] == 16000
