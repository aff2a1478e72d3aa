import pickle

import cv2

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from param_contract import check_defaults
from forensics.features import BlurFeatures, VideoFeatures
from forensics.media import Face, FailedItemsWarning, ItemError, crop_face, read_frames
from video_fixtures import face_video, write_video


class KnownBoxDetector:
    """Reports one face at a fixed box, except on dark frames (mean < 20): a model-free detector."""

    def __init__(self, box=(40, 40, 64, 64)):
        self.box = box

    def detect(self, rgb):
        if rgb.mean() < 20:
            return []
        return [Face(tuple(float(v) for v in self.box), 0.99)]


def _video(path, n=12, dark=(), seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (144, 160, 3)).astype(np.float64)
    base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1)) / 3
    frames = []
    for k in range(n):
        f = np.roll(base, k, axis=1) + rng.normal(0, noise, base.shape)
        f = np.clip(f, 0, 255).astype(np.uint8)
        if k in dark:
            f[:] = 0
        frames.append(f)
    write_video(path, frames, fps=25)
    return str(path)


def test_one_row_per_video_and_exact_aggregates(tmp_path):
    paths = [_video(tmp_path / "a.mp4", seed=0), _video(tmp_path / "b.mp4", seed=1, dark=(3, 4))]
    vf = VideoFeatures(BlurFeatures(), n_frames=6, detector=KnownBoxDetector(), size=64).fit()
    out = vf.transform(paths)
    assert out.shape == (2, vf.n_features_out_) == (2, 8 * 5 + 3)
    # recompute video b by hand from the decoded frames
    video = read_frames(paths[1], n=6)
    rows = []
    for frame in video.frames:
        if frame.mean() < 20:
            continue
        crop, _ = crop_face(frame, KnownBoxDetector().box, margin=1.3, size=64)
        rows.append(list(BlurFeatures().extract_one(crop).values()))
    F = np.array(rows)
    expected = np.stack([F.mean(0), F.std(0), F.min(0), F.max(0), np.abs(np.diff(F, axis=0)).mean(0)], 1).ravel()
    np.testing.assert_allclose(out[1, :-3], expected, rtol=1e-9)
    sampled = len(video.frames)
    assert list(out[1, -3:]) == [sampled, len(F), len(F) / sampled]
    names = list(vf.get_feature_names_out())
    assert names[:2] == ["blur__laplacian_var__log__mean", "blur__laplacian_var__log__std"]
    assert names[-3:] == ["video__n_frames__sampled", "video__n_frames__used", "video__face_rate__sampled"]
    # every sampled frame is recorded, faces or not
    rec = vf.records_
    assert video.indices.tolist() == [0, 2, 4, 7, 9, 11]  # frame 4 is dark, frame 3 is not sampled
    assert len(rec) == 12 and rec["face_found"].sum() == 11
    assert rec.loc[~rec["face_found"], ["video", "frame_index"]].values.tolist() == [[1, 4]]


@pytest.mark.parametrize("policy, used", [("skip", 4), ("frame", 6), ("nan", 6)])
def test_no_face_policies(tmp_path, policy, used):
    path = _video(tmp_path / "v.mp4", n=6, dark=(1, 2))
    vf = VideoFeatures(BlurFeatures(), n_frames=6, detector=KnownBoxDetector(), size=64, no_face=policy).fit()
    feats, meta = vf.transform_frames([path])
    assert len(meta) == used
    faceless = meta["frame_index"].isin([1, 2]).to_numpy()
    # every sampled frame is recorded; a faceless one is used unless skipped
    rec = vf.records_
    assert rec["frame_index"].tolist() == list(range(6)) and rec["face_found"].tolist() == [True, False, False] + [True] * 3
    assert rec["used"].tolist() == (rec["face_found"].tolist() if policy == "skip" else [True] * 6)
    # a stand-in row (NaN or the centre square) belongs to no face and no track; face rows to track 0
    assert meta.loc[faceless, ["face_index", "track_id"]].values.tolist() == [[-1, -1]] * (used - 4)
    assert meta.loc[~faceless, ["face_index", "track_id"]].values.tolist() == [[0, 0]] * 4
    if policy == "nan":
        assert np.isnan(feats[faceless]).all()
    if policy == "frame":
        from forensics.features._video import _centre_square

        decoded = read_frames(path, indices=[1, 2]).frames
        expected = [list(BlurFeatures().extract_one(_centre_square(f, 64)).values()) for f in decoded]
        np.testing.assert_allclose(feats[faceless], expected, rtol=1e-9)
    row = vf.transform([path])[0]
    assert row[-2] == used and row[-1] == pytest.approx(4 / 6)


def test_video_without_any_face_is_a_nan_row_not_an_error(tmp_path):
    path = _video(tmp_path / "dark.mp4", n=4, dark=(0, 1, 2, 3))
    vf = VideoFeatures(BlurFeatures(), n_frames=4, detector=KnownBoxDetector(), size=64).fit()
    with pytest.warns(RuntimeWarning, match=r"^1 of 1 videos have no face in any sampled frame .*first: video 0 \("):
        row = vf.transform([path])[0]
    assert np.isnan(row[:-3]).all() and list(row[-3:]) == [4, 0, 0.0]
    assert (~vf.records_["face_found"]).all() and len(vf.records_) == 4


def test_frame_mode_groups_rows_by_video(tmp_path):
    paths = [_video(tmp_path / f"{k}.mp4", n=8, seed=k) for k in range(3)]
    vf = VideoFeatures(BlurFeatures(), n_frames=5, detector=KnownBoxDetector(), size=64).fit()
    feats, meta = vf.transform_frames(paths)
    assert feats.shape == (15, 8)
    assert meta["video"].tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert meta["frame_index"].tolist()[:5] == [0, 2, 4, 5, 7]  # np.linspace(0, 7, 5) rounded half up


def test_grid_search_keeps_one_sample_per_video(tmp_path):
    paths, y = [], []
    for k in range(8):
        fake = k % 2
        paths.append(_video(tmp_path / f"{k}.mp4", n=6, seed=k, noise=25.0 if fake else 0.0))
        y.append(fake)
    pipe = Pipeline([
        ("features", VideoFeatures(BlurFeatures(), n_frames=4, detector=KnownBoxDetector(), size=64,
                                   aggregate=("mean",))),
        ("scale", StandardScaler()), ("head", LogisticRegression()),
    ])
    search = GridSearchCV(pipe, {"features__extractor__grid": [2, 4]}, cv=StratifiedKFold(2), scoring="roc_auc")
    search.fit(paths, np.array(y))
    assert search.best_score_ > 0.9
    assert search.predict_proba(paths).shape == (8, 2)


def test_bad_videos_name_the_item_or_record_nan(tmp_path):
    good = _video(tmp_path / "ok.mp4", n=4)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    vf = VideoFeatures(BlurFeatures(), n_frames=4, detector=KnownBoxDetector(), size=64).fit()
    with pytest.raises(ItemError, match=r"item 1 \(.*broken\.mp4\)"):
        vf.transform([good, str(bad)])
    vf.set_params(on_error="nan")
    with pytest.warns(RuntimeWarning, match="1 of 2 videos"):
        out = vf.transform([good, str(bad)])
    assert np.isfinite(out[0, :-3]).all() and np.isnan(out[1]).all()
    assert vf.status_["status"].tolist() == ["ok", "error"]


def test_params_validated_at_fit_and_pickle(tmp_path):
    with pytest.raises(ValueError, match="no_face"):
        VideoFeatures(no_face="drop").fit()
    with pytest.raises(ValueError, match="aggregate"):
        VideoFeatures(aggregate=("mean", "median")).fit()
    with pytest.raises(TypeError, match="extractor"):
        VideoFeatures(extractor=LogisticRegression()).fit()
    vf = VideoFeatures(BlurFeatures(), n_frames=3, detector=KnownBoxDetector(), size=64).fit()
    path = _video(tmp_path / "p.mp4", n=3)
    out = vf.transform([path])
    copy = pickle.loads(pickle.dumps(vf))
    # status_ and records_ describe the last call, not the model: not pickled, and kept on the live object
    assert not hasattr(copy, "status_") and not hasattr(copy, "records_")
    assert len(vf.status_) == 1 and len(vf.records_) == 3
    np.testing.assert_array_equal(copy.transform([path]), out)


def test_default_extractor_is_the_pixel_bank():
    names = VideoFeatures(faces=False).fit().frame_feature_names_
    assert not any(n.startswith("codec__") for n in names) and any(n.startswith("noise__") for n in names)


def test_yunet_on_faces_in_an_h264_video(tmp_path, shared_dir):
    model = shared_dir / "models" / "face_detection_yunet_2023mar.onnx"
    if not model.exists():
        pytest.skip(f"needs {model}")
    path = tmp_path / "face.mp4"
    boxes, source = face_video(path, n_frames=16, size=(192, 256))
    vf = VideoFeatures(BlurFeatures(), n_frames=8, detector="yunet", model_path=str(model), size=96).fit()
    row = vf.transform([str(path)])[0]
    assert source.startswith("lfw:")
    assert row[-1] >= 0.9  # the face is found in (nearly) every sampled frame
    found = vf.records_[vf.records_["face_found"]]
    x, y, w, h = found.iloc[0]["bbox"]
    bx, by, bw, bh = boxes[0]
    assert bx <= x + w / 2 <= bx + bw and by <= y + h / 2 <= by + bh  # detected inside the pasted photo


# -- display geometry, one subject per row, no-face status, batched crops ---------------------------
RED, BLUE = (220, 40, 40), (40, 40, 220)


def _blob(rgb, colour, tol=60):
    mask = np.all(np.abs(rgb.astype(int) - colour) < tol, axis=2)
    ys, xs = np.nonzero(mask)
    if len(xs) < 16:
        return None
    return xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()


class UprightFaceDetector:
    """Model-free: a 'face' is a red square with a blue square of the same size right below it, so
    it is found only in a picture shown upright with square pixels (like a real face detector)."""

    def detect(self, rgb):
        red, blue = _blob(rgb, RED), _blob(rgb, BLUE)
        if red is None or blue is None:
            return []
        (rx, ry, rw, rh), (bx, by, bw, bh) = red, blue
        square = all(0.8 <= w / h <= 1.25 for w, h in ((rw, rh), (bw, bh)))
        below = by > ry + rh / 2 and abs((rx + rw / 2) - (bx + bw / 2)) < rw / 4
        if not (square and below):
            return []
        return [Face((float(rx), float(ry), float(max(rw, bw)), float(by + bh - ry)), 0.9)]


def _upright_picture(h=96, w=128):
    img = np.full((h, w, 3), 128, np.uint8)
    img[20:44, 52:76] = RED
    img[48:72, 52:76] = BLUE
    return img


def _write_sar_video(path, frame, n, sar):
    import fractions

    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
        s.options = {"crf": "12", "threads": "1"}
        s.codec_context.sample_aspect_ratio = fractions.Fraction(sar).limit_denominator(100)
        for _ in range(n):
            for pk in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    return str(path)


@pytest.mark.parametrize("rotation", [90, 180, 270, -90])
def test_rotated_phone_video_is_analysed_as_displayed(tmp_path, rotation):
    upright = _upright_picture()
    coded = np.ascontiguousarray(np.rot90(upright, -(rotation // 90)))  # stored sideways, as a phone does
    det = UprightFaceDetector()  # the test's detector finds the face only as displayed, as a real one
    assert len(det.detect(upright)) == 1 and det.detect(coded) == []
    assert det.detect(cv2.resize(upright, (96, 96), interpolation=cv2.INTER_AREA)) == []  # squeezed pixels
    paths = [write_video(tmp_path / "upright.mp4", [upright] * 6, crf=12),
             write_video(tmp_path / "turned.mp4", [coded] * 6, crf=12, rotation=rotation)]
    vf = VideoFeatures(BlurFeatures(), n_frames=3, detector=UprightFaceDetector(), size=32).fit()
    X = vf.transform([str(p) for p in paths])
    assert X[:, -1].tolist() == [1.0, 1.0] and np.isfinite(X[:, :-3]).all()
    expected = rotation % 360 if rotation % 360 <= 180 else rotation % 360 - 360
    assert vf.status_["rotation"].tolist() == [0, expected] and vf.status_["status"].tolist() == ["ok", "ok"]
    assert vf.status_["mirror"].tolist() == [False, False]
    rec = vf.records_
    assert rec.loc[rec["video"] == 1, "rotation"].tolist() == [expected] * 3
    (x, y, w, h), = rec.loc[rec["video"] == 1, "bbox"].iloc[:1]
    assert abs(x - 52) <= 3 and abs(y - 20) <= 3 and abs(h - 52) <= 4  # display coordinates


def test_anamorphic_video_crops_have_square_pixels(tmp_path):
    shown = _upright_picture()  # 128 x 96 on screen
    squeezed = cv2.resize(shown, (96, 96), interpolation=cv2.INTER_AREA)  # 4:3 pixels, as HDV/DVD store them
    path = _write_sar_video(tmp_path / "anamorphic.mp4", squeezed, 6, 4 / 3)
    square = _write_sar_video(tmp_path / "square.mp4", shown, 6, 1)
    vf = VideoFeatures(BlurFeatures(), n_frames=3, detector=UprightFaceDetector(), size=48).fit()
    X = vf.transform([square, path])
    assert X[:, -1].tolist() == [1.0, 1.0]
    assert vf.status_["sar"].tolist() == pytest.approx([1.0, 4 / 3])
    assert vf.records_.loc[vf.records_["video"] == 1, "sar"].tolist() == pytest.approx([4 / 3] * 3)
    boxes = vf.records_.groupby("video")["bbox"].first()
    np.testing.assert_allclose(boxes[1], boxes[0], atol=3)  # same face box as the square-pixel copy


def test_a_broadcast_switching_from_4_3_to_16_9_is_cropped_frame_by_frame(tmp_path):
    # An MPEG-TS capture whose MPEG-2 sequence headers switch from a 4:3 to a 16:9 picture at frame 4
    # (176x144 coded: sample aspect ratio 12:11, then 16:11). Each frame is shown with its own ratio, so
    # the test's detector, which needs square pixels, finds the face in all 8 frames; records_ give each
    # frame's ratio. Before, the 16:9 frames were resampled by 12:11 and their face was missed.
    import fractions

    import av

    ratios = [fractions.Fraction(12, 11)] * 4 + [fractions.Fraction(16, 11)] * 4
    path = tmp_path / "tv.ts"
    with av.open(str(path), "w", format="mpegts") as c:
        s = c.add_stream("mpeg2video", rate=25)
        s.height, s.width, s.pix_fmt = 144, 176, "yuv420p"
        s.options = {"g": "4", "bf": "0", "flags": "+qscale", "global_quality": str(2 * 118)}
        for ratio in ratios:
            shown = _upright_picture(144, round(176 * ratio))  # what the viewer sees, square pixels
            s.codec_context.sample_aspect_ratio = ratio
            coded = cv2.resize(shown, (176, 144), interpolation=cv2.INTER_AREA)
            for pk in s.encode(av.VideoFrame.from_ndarray(coded, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    vf = VideoFeatures(BlurFeatures(), n_frames=8, detector=UprightFaceDetector(), size=32).fit()
    X = vf.transform([str(path)])
    assert vf.status_["status"].tolist() == ["ok"] and X[0, -1] == 1.0  # face-found rate
    rec = vf.records_
    assert rec["face_found"].all() and rec["sar"].tolist() == pytest.approx([12 / 11] * 4 + [16 / 11] * 4)
    assert vf.status_["sar"].tolist() == pytest.approx([12 / 11])  # the first frame's, as before
    widths = [b[2] for b in rec["bbox"]]
    assert max(widths) - min(widths) <= 3  # the same face size in both halves
    # the crop cache says the same, crop by crop
    import pandas as pd

    from forensics.datasets import extract_faces

    manifest = pd.DataFrame({"path": [str(path)], "label": [0], "method": ["real"]})
    res = extract_faces(manifest, tmp_path / "crops", detector=UprightFaceDetector(), n_frames=8, size=32,
                        progress=False)
    assert res.status["status"].tolist() == ["ok"], res.status["error"].tolist()
    assert res.crops["face_found"].all()
    assert res.crops["sar"].tolist() == pytest.approx([12 / 11] * 4 + [16 / 11] * 4)
    assert (res.crops["w"].max() - res.crops["w"].min()) <= 3


@pytest.mark.parametrize("default, read", [(None, 0), (0, 0), (1, 1)])
def test_which_of_several_video_streams_was_read_is_in_the_status(tmp_path, default, read):
    # A file with two video streams (two camera angles; a preview track): the stream flagged default
    # is read, else the first. status_ (and extract_faces' status) said nothing of it; now it names the
    # stream read and how many there are. Look-alikes: a one-stream file (0 of 1), a missing file (-1, 0).
    from video_fixtures import write_streams

    from forensics.datasets import extract_faces

    angles = [_video(tmp_path / "a.mp4", n=6, seed=0), _video(tmp_path / "b.mp4", n=6, seed=1)]
    streams = [read_frames(a, every=1, display=False).frames for a in angles]
    both = str(write_streams(tmp_path / "both.mkv", streams, default=default))
    vf = VideoFeatures(BlurFeatures(), n_frames=3, faces=False, on_error="nan").fit()
    with pytest.warns(RuntimeWarning, match="could not be read"):
        F, meta = vf.transform_frames([both, angles[0], str(tmp_path / "missing.mp4")])
    assert vf.status_[["stream", "video_streams"]].values.tolist() == [[read, 2], [0, 1], [-1, 0]]
    shown = read_frames(both, n=3, stream=read, display=False)  # the frames of the stream said to be read
    np.testing.assert_allclose(F[meta["video"] == 0], BlurFeatures().fit().transform(shown.frames), rtol=1e-6)
    other = read_frames(both, n=3, stream=1 - read, display=False)
    assert not np.allclose(F[meta["video"] == 0], BlurFeatures().fit().transform(other.frames), rtol=1e-3)
    import pandas as pd

    manifest = pd.DataFrame({"path": [both, angles[0]], "label": [0, 1], "method": ["real", "fake"]})
    res = extract_faces(manifest, tmp_path / "crops", detector=KnownBoxDetector(), n_frames=2, size=32,
                        progress=False)
    assert res.status[["stream", "video_streams"]].values.tolist() == [[read, 2], [0, 1]]


@pytest.mark.parametrize("policy, finite", [("skip", False), ("nan", False), ("frame", True)])
def test_video_without_any_face_has_status_no_face(tmp_path, policy, finite):
    # video 0 has a face in one frame of four (just above the threshold): status ok
    paths = [_video(tmp_path / "ok.mp4", n=4, dark=(0, 1, 2)), _video(tmp_path / "dark.mp4", n=4, dark=(0, 1, 2, 3))]
    vf = VideoFeatures(BlurFeatures(), n_frames=4, detector=KnownBoxDetector(), size=64, no_face=policy).fit()
    with pytest.warns(RuntimeWarning, match=r"1 of 2 videos have no face.*video 1"):
        X = vf.transform(paths)
    assert vf.status_["status"].tolist() == ["ok", "no_face"]
    assert "no face found in any of the 4 sampled frames" in vf.status_["error"][1]
    assert np.isfinite(X[1, :-3]).any() == finite and X[1, -1] == 0.0  # "frame": centre crops of dark frames
    assert X[0, -1] == 0.25 and np.isfinite(X[0, :-3]).any()


class CountingBlur(BlurFeatures):
    """BlurFeatures with a batch size, counting the batched calls; fails on a flat black crop."""

    batches = []

    @property
    def _batch_size_hint(self):
        return 3

    def _prepare(self, item):
        return np.asarray(self._compute(item), dtype=np.float64), float(item.luma.std()) < 1.0

    def _compute_batch(self, prepared):
        CountingBlur.batches.append(len(prepared))
        if any(flat for _, flat in prepared):
            raise ValueError("flat crop")
        return np.vstack([row for row, _ in prepared])


def test_crops_of_a_video_go_through_the_batched_hooks(tmp_path):
    path = _video(tmp_path / "v.mp4", n=7)
    CountingBlur.batches = []
    vf = VideoFeatures(CountingBlur(), n_frames=7, detector=KnownBoxDetector(), size=64).fit()
    feats, meta = vf.transform_frames([path])
    assert CountingBlur.batches == [3, 3, 1]  # 7 crops in chunks of the extractor's batch size
    video = read_frames(path, n=7)
    for row, frame in zip(feats, video.frames):
        crop, _ = crop_face(frame, KnownBoxDetector().box, margin=1.3, size=64)
        np.testing.assert_allclose(row, list(BlurFeatures().extract_one(crop).values()), rtol=1e-12)
    assert meta["track_id"].tolist() == [0] * 7


def test_a_crop_the_extractor_refuses_names_video_and_frame(tmp_path):
    good = _video(tmp_path / "ok.mp4", n=4)
    bad = _video(tmp_path / "flat.mp4", n=4)
    frames = [np.full((144, 160, 3), 90, np.uint8) for _ in range(4)]
    write_video(bad, frames)
    vf = VideoFeatures(CountingBlur(), n_frames=4, detector=KnownBoxDetector(), size=64).fit()
    with pytest.raises(ItemError, match=r"item 1 \(.*flat\.mp4\): frame 0: ValueError: flat crop"):
        vf.transform([good, bad])
    vf.set_params(on_error="nan")
    with pytest.warns(RuntimeWarning, match="1 of 2 videos"):
        X = vf.transform([good, bad])
    assert vf.status_["status"].tolist() == ["ok", "error"] and np.isnan(X[1]).all() and np.isfinite(X[0, :-3]).all()


def test_select_all_is_refused_for_one_row_per_video(tmp_path):
    vf = VideoFeatures(BlurFeatures(), n_frames=2, detector=KnownBoxDetector(), size=32, select="all").fit()
    with pytest.raises(ValueError, match="mix people"):
        vf.transform([_video(tmp_path / "v.mp4", n=2)])
    feats, meta = vf.transform_frames([_video(tmp_path / "v.mp4", n=2)])
    assert meta["track_id"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="detect_size"):
        VideoFeatures(detect_size=8).fit()


def _two_faces_crossing(path, lfw_dir, n=12, size=(240, 480), face=88):
    """Two LFW faces moving towards each other, passing at different heights; returns the photos."""
    from PIL import Image

    files = sorted(lfw_dir.glob("*.jpg"))[:2]
    photos = [np.asarray(Image.open(p).convert("RGB").resize((face, face), Image.BICUBIC)) for p in files]
    h, w = size
    frames = []
    for t in range(n):
        f = np.full((h, w, 3), 110, np.uint8)
        ax = 20 + t * (w - face - 40) // (n - 1)
        bx = w - face - 20 - t * (w - face - 40) // (n - 1)
        f[20:20 + face, ax:ax + face] = photos[0]
        f[h - face - 20:h - 20, bx:bx + face] = photos[1]
        frames.append(f)
    write_video(path, frames, crf=16)
    return photos


def _who(crop, photos):
    """Index of the photo the crop's centre correlates with best."""
    c = cv2.resize(crop, (64, 64))[16:48, 16:48].astype(float).ravel()
    scores = [np.corrcoef(c, cv2.resize(p, (64, 64))[16:48, 16:48].astype(float).ravel())[0, 1] for p in photos]
    return int(np.argmax(scores))


def test_two_real_faces_crossing_stay_two_people(tmp_path, shared_dir):
    model = shared_dir / "models" / "face_detection_yunet_2023mar.onnx"
    lfw = shared_dir / "data" / "lfw_faceswap" / "real"
    if not model.exists() or not lfw.is_dir():
        pytest.skip(f"needs {model} and {lfw}")
    path = tmp_path / "two.mp4"
    photos = _two_faces_crossing(path, lfw)
    from forensics.media import FaceCropper, YuNetDetector, iter_display, read_display_frames

    video, _, _ = read_display_frames(path, n=12)
    crops, records = FaceCropper(YuNetDetector(model), select="all", size=96).crop_frames(iter_display(video))
    people = {}
    for crop, r in zip(crops, [r for r in records if r.face_found]):
        people.setdefault(r.track_id, []).append(_who(crop, photos))
    assert len(people) == 2 and sorted(len(v) for v in people.values()) == [12, 12]
    assert all(len(set(v)) == 1 for v in people.values()) and {v[0] for v in people.values()} == {0, 1}
    vf = VideoFeatures(BlurFeatures(), n_frames=12, detector="yunet", model_path=str(model), size=96).fit()
    row = vf.transform([str(path)])[0]
    used = vf.records_[vf.records_["face_found"]]
    assert row[-1] == 1.0 and used["track_id"].nunique() == 1


def test_downscaled_and_tracked_detection_agrees_with_full_resolution(tmp_path, shared_dir):
    """The default detection (640 px copy, search near the track) finds the face in the same frames
    as YuNet on every full-resolution frame, with overlapping boxes (benchmarks/bench_video.py
    measures this on 300-frame videos at 1080p/720p/480p)."""
    model = shared_dir / "models" / "face_detection_yunet_2023mar.onnx"
    if not model.exists():
        pytest.skip(f"needs {model}")
    from forensics.media import FaceCropper, YuNetDetector, iter_display, read_display_frames
    from forensics.media._faces import _iou

    path = tmp_path / "wide.mp4"
    face_video(path, n_frames=24, size=(480, 960), face_size=200)
    video, _, _ = read_display_frames(path, n=12)
    frames = list(iter_display(video))
    det = YuNetDetector(model)
    fast = FaceCropper(det, size=64).crop_frames(frames)[1]
    full = FaceCropper(det, size=64, detect_size=None, reuse=False).crop_frames(frames)[1]
    assert [r.face_found for r in fast] == [r.face_found for r in full] == [True] * 12
    assert {r.detection for r in fast} == {"full", "near"}  # both ways were exercised
    ious = [_iou(a.bbox, b.bbox) for a, b in zip(fast, full)]
    assert min(ious) >= 0.6 and np.mean(ious) >= 0.8, ious


class ShapeBlur(BlurFeatures):
    """BlurFeatures noting the shape of every picture it is given."""

    shapes = []

    def _prepare(self, item):
        ShapeBlur.shapes.append(tuple(item.shape))
        return super()._prepare(item)


def test_whole_frames_keep_the_coded_layout(tmp_path):
    """faces=False: the extractor sees frames as coded (the codec's block grid aligned), and the
    records say that no rotation was applied."""
    upright = _upright_picture()
    path = str(write_video(tmp_path / "turned.mp4", [np.ascontiguousarray(np.rot90(upright, -1))] * 4, crf=12,
                           rotation=90))
    ShapeBlur.shapes = []
    vf = VideoFeatures(ShapeBlur(), faces=False, n_frames=2).fit()
    feats, meta = vf.transform_frames([path])
    assert ShapeBlur.shapes == [(128, 96), (128, 96)]  # stored sideways, as coded
    coded = read_frames(path, n=2, display=False)
    for row, frame in zip(feats, coded.frames):
        np.testing.assert_allclose(row, list(BlurFeatures().extract_one(frame).values()), rtol=1e-12)
    assert vf.status_[["rotation", "mirror", "sar"]].values.tolist() == [[0, False, 1.0]]
    assert vf.records_["detection"].tolist() == ["none", "none"] and vf.records_["rotation"].tolist() == [0, 0]


# -- the parameter contract: every refusal next to its valid look-alike (issue 16) --------------

def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(VideoFeatures, dict(
        extractor=None, n_frames=32, every=None, faces=True, detector="auto", model_path=None, margin=1.3,
        size=256, select="largest", detect_size=640, no_face="skip",
        aggregate=("mean", "std", "min", "max", "tdiff"), n_jobs=None, on_error="raise", progress=False,
        max_pixels=None,
    ), positional=("extractor",))


@pytest.mark.parametrize(("name", "accepted", "refused"), [
    ("n_frames", [1, np.int64(2)], [0, -1, True, 1.0, "1"]),
    ("size", [8, 9], [7, 0, True, 8.0]),
    ("every", [None, 1, np.int32(3)], [0, -2, True, 2.0, "2"]),
    ("margin", [1, 1.0, 2.5, np.float32(1.5)], [0.99, 0, True, "1.3", None]),
    ("detect_size", [None, 32, 33], [31, 0, True, 32.0]),
    ("no_face", ["skip", "frame", "nan"], ["drop", None]),
    ("on_error", ["raise", "nan"], ["ignore", None]),
    ("select", ["largest", "best", "all"], ["first", None]),
    ("aggregate", ["mean", ("tdiff",), ["min", "max"], ("mean", "std", "min", "max", "tdiff")],
     [(), "median", ("mean", "median"), ("mean", "mean")]),
    ("n_jobs", [None, 1, -1, 2], [0, True, 1.5]),
    ("max_pixels", [None, 1, np.int64(3072), 1 << 30], [0, -1, True, 3072.0, "3072"]),
    ("detector", ["auto", "yunet", "cascade", "mtcnn"], ["hog", "Auto"]),
])
def test_each_parameter_refused_beside_its_valid_look_alike(name, accepted, refused):
    for value in accepted:
        vf = VideoFeatures(BlurFeatures(), **{name: value}).fit()
        assert vf.get_params()[name] is value
    for value in refused:
        with pytest.raises(ValueError, match=name):
            VideoFeatures(BlurFeatures(), **{name: value}).fit()


def test_fit_records_the_face_detector_that_crops_and_a_fitted_one_never_switches(tmp_path, monkeypatch):
    """``detector="auto"`` is resolved at fit (``face_detector_``): a fitted (saved) object crops with that backend
    wherever it runs, or refuses to run, naming it, where that backend cannot (here MTCNN without facenet-pytorch)."""
    import importlib.util

    import forensics.media._faces as faces

    if importlib.util.find_spec("facenet_pytorch") is not None:
        pytest.skip("facenet-pytorch is installed: this test needs a machine where MTCNN cannot run")
    path = tmp_path / "face.mp4"
    face_video(path, n_frames=2, size=(128, 128), faces_from="synthetic")
    here = VideoFeatures(BlurFeatures(), n_frames=2).fit()
    assert here.detector == "auto" and here.face_detector_ == "cascade"  # what "auto" picks here
    assert VideoFeatures(BlurFeatures(), model_path="y.onnx").fit().face_detector_ == "yunet"
    assert VideoFeatures(BlurFeatures(), faces=False).fit().face_detector_ is None
    assert VideoFeatures(BlurFeatures(), detector=KnownBoxDetector()).fit().face_detector_ is None
    # fitted where facenet-pytorch is installed (simulated: find_spec answers for it), then run here
    real = importlib.util.find_spec
    monkeypatch.setattr(faces.importlib.util, "find_spec",
                        lambda name, *a: object() if name == "facenet_pytorch" else real(name, *a))
    there = pickle.loads(pickle.dumps(VideoFeatures(BlurFeatures(), n_frames=2, on_error="nan").fit()))
    monkeypatch.undo()
    assert there.face_detector_ == "mtcnn"
    with pytest.raises(ImportError, match=r"cannot crop faces as fitted: face detector 'mtcnn' needs facenet-pytorch, "
                                          r"which is not installed .*the faces were cropped with 'mtcnn'"):
        there.transform([path])  # refused as a whole (on_error="nan" notwithstanding), not cropped by the cascade
    # the look-alike fitted here crops (with the cascade), and so does one saved before face_detector_ existed,
    # which says which detector "auto" picks now
    assert np.isfinite(here.transform([path])).all() and here.status_["status"].tolist() == ["ok"]
    old = pickle.loads(pickle.dumps(here))
    del old.face_detector_
    with pytest.warns(UserWarning, match="without recording which face detector cropped its faces "
                                         r"\(detector='auto'\); it crops with 'cascade' here"):
        np.testing.assert_array_equal(old.transform([path]), here.transform([path]))


def test_extractor_must_be_a_frame_extractor():
    assert VideoFeatures(BlurFeatures(grid=2)).fit().extractor_.grid == 2
    assert VideoFeatures(None).fit().extractor_.preset == "pixels"
    for bad in (LogisticRegression(), "blur", BlurFeatures):
        with pytest.raises(TypeError, match="extractor"):
            VideoFeatures(bad).fit()


def test_whole_frame_rows_have_no_face_index_and_no_track(tmp_path):
    path = _video(tmp_path / "whole.mp4", n=4)
    vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=2).fit()
    feats, meta = vf.transform_frames([path])
    assert feats.shape == (2, 8)
    assert meta["face_index"].tolist() == [-1, -1] and meta["track_id"].tolist() == [-1, -1]
    rec = vf.records_
    assert rec["face_index"].tolist() == [-1, -1] and rec["track_id"].tolist() == [-1, -1]
    assert rec["used"].tolist() == [True, True] and not rec["face_found"].any()
    assert rec["n_faces"].tolist() == [0, 0] and rec["score"].isna().all() and rec["bbox"].isna().all()
    assert vf.status_[["rotation", "mirror", "sar"]].values.tolist() == [[0, False, 1.0]]


def test_no_videos_give_empty_outputs_of_the_right_width():
    vf = VideoFeatures(BlurFeatures(), faces=False).fit()
    assert vf.transform([]).shape == (0, vf.n_features_out_)
    feats, meta = vf.transform_frames([])
    assert feats.shape == (0, 8) and len(meta) == 0


def test_warnings_point_at_the_callers_line_and_failed_videos_have_neutral_status(tmp_path):
    bad, bad2 = tmp_path / "broken.mp4", tmp_path / "broken2.mp4"
    bad.write_bytes(b"\x00" * 100)
    bad2.write_bytes(b"\x01" * 100)
    dark = _video(tmp_path / "dark.mp4", n=2, dark=(0, 1))
    dark2 = _video(tmp_path / "dark2.mp4", n=2, dark=(0, 1), seed=1)
    vf = VideoFeatures(BlurFeatures(), n_frames=2, detector=KnownBoxDetector(), size=64, on_error="nan").fit()
    for call in (vf.transform, vf.transform_frames):
        with pytest.warns(RuntimeWarning) as record:
            call([str(bad), dark, str(bad2), dark2])
        assert [w.filename for w in record] == [__file__, __file__]
        failed, faceless = str(record[0].message), str(record[1].message)
        assert failed.startswith("2 of 4 videos could not be read") and f"first: video 0 ({bad}): " in failed
        # failures have their own category (silenced by callers that record them); no face is a status
        assert [w.category for w in record] == [FailedItemsWarning, RuntimeWarning]
        assert faceless.startswith("2 of 4 videos have no face") and faceless.endswith(f"first: video 1 ({dark})")
    assert vf.status_["status"].tolist() == ["error", "no_face", "error", "no_face"]
    assert vf.status_[["rotation", "mirror", "sar"]].values.tolist() == [[0, False, 1.0]] * 4


# -- fresh-sample survivors (issue 16), by kind ---------------------------------------------------

def test_a_mirrored_video_is_cropped_as_displayed_and_recorded(tmp_path):
    """A display matrix with a mirror (a front camera's selfie): faces are cropped from the
    mirrored picture, as a viewer sees it, and status_ and records_ say a mirror was applied.
    Look-alike: the same frames without the mirror."""
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.integers(0, 256, (144, 160, 3)).astype(np.uint8), (5, 5), 0)
    frames = [np.roll(base, k, axis=1) for k in range(4)]
    plain = str(write_video(tmp_path / "plain.mp4", frames, crf=12))
    mirrored = str(write_video(tmp_path / "mirror.mp4", frames, crf=12, rotation=0, mirror=True))
    vf = VideoFeatures(BlurFeatures(), n_frames=2, detector=KnownBoxDetector(), size=32).fit()
    feats, meta = vf.transform_frames([plain, mirrored])
    assert vf.status_["mirror"].tolist() == [False, True]
    assert vf.records_["mirror"].tolist() == [False, False, True, True]
    expected = []
    for path, flip in ((plain, False), (mirrored, True)):
        for frame in read_frames(path, n=2, display=False).frames:  # as coded
            shown = np.ascontiguousarray(frame[:, ::-1]) if flip else frame
            crop, _ = crop_face(shown, KnownBoxDetector().box, margin=1.3, size=32)
            expected.append(list(BlurFeatures().extract_one(crop).values()))
    np.testing.assert_allclose(feats, expected, rtol=1e-9)
    assert not np.allclose(feats[2:], feats[:2], rtol=1e-3)  # the mirror changes the crops


@pytest.mark.parametrize("shape, size", [((40, 60, 3), 24), ((40, 60, 3), 64), ((40, 60, 3), 40), ((61, 30, 3), 29),
                                         ((61, 30, 3), 31), ((40, 100, 3), 24), ((100, 40, 3), 64)])
def test_centre_square_shrinks_by_area_and_enlarges_by_cubic(shape, size):
    """no_face='frame' stands a frame's centre square, resized to ``size``, in for a face crop:
    shrunk with area averaging, enlarged (or kept) with cubic interpolation; the square is the
    middle one, rounded towards the top left for an odd margin (frames more than twice as long as
    wide too)."""
    from forensics.features._video import _centre_square

    rng = np.random.default_rng(size)
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    h, w = shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = np.ascontiguousarray(frame[top:top + s, left:left + s])
    interp = cv2.INTER_AREA if s > size else cv2.INTER_CUBIC
    expected = cv2.resize(square, (size, size), interpolation=interp)
    other = cv2.resize(square, (size, size), interpolation=cv2.INTER_CUBIC if s > size else cv2.INTER_AREA)
    got = _centre_square(frame, size)
    assert got.shape == (size, size, 3)
    np.testing.assert_array_equal(got, expected)
    assert s == size or not np.array_equal(got, other)  # the choice of interpolation shows


class BatchOnlyFailure(CountingBlur):
    """Fails whenever it is given more than one crop at once (a batched path's own fault)."""

    def _compute_batch(self, prepared):
        if len(prepared) > 1:
            raise ValueError("batch of %d" % len(prepared))
        return super()._compute_batch(prepared)


def test_a_batch_that_fails_only_as_a_batch_names_its_frame_range(tmp_path):
    """When a chunk fails as a batch but each of its crops passes alone, the error names the
    chunk's frame range, first to last (here the second chunk: sampled frames 7, 9 and 11 of a
    12-frame video, chunks of 3). Look-alike: a single-crop chunk never fails."""
    path = _video(tmp_path / "v.mp4", n=12)

    class SecondChunk(BatchOnlyFailure):
        calls = 0

        def _compute_batch(self, prepared):
            SecondChunk.calls += 1
            if SecondChunk.calls == 1:
                return CountingBlur._compute_batch(self, prepared)
            return super()._compute_batch(prepared)

    vf = VideoFeatures(SecondChunk(), n_frames=6, detector=KnownBoxDetector(), size=64).fit()
    with pytest.raises(ItemError, match=r"item 0 \(.*v\.mp4\): frames 7\.\.11: ValueError: batch of 3$"):
        vf.transform([path])
    one = VideoFeatures(BatchOnlyFailure(), n_frames=1, detector=KnownBoxDetector(), size=64, aggregate="mean").fit()
    assert np.isfinite(one.transform([path])[0, :-3]).all()


@pytest.mark.parametrize("policy", ["frame", "nan", "skip"])
def test_string_parameters_read_from_a_config_act_as_their_literals(tmp_path, policy):
    """A no_face value read from a file (JSON here, as a YAML config or a command line gives it)
    is an equal but distinct string object: it must select the same policy as the literal."""
    import json

    loaded = json.loads(json.dumps({"no_face": policy}))["no_face"]
    assert loaded == policy and loaded is not policy
    path = _video(tmp_path / "v.mp4", n=6, dark=(1, 2))
    outputs = []
    for value in (policy, loaded):
        vf = VideoFeatures(BlurFeatures(), n_frames=6, detector=KnownBoxDetector(), size=64, no_face=value).fit()
        feats, meta = vf.transform_frames([path])
        outputs.append((feats, meta["frame_index"].tolist()))
    assert outputs[1][1] == outputs[0][1] == ([0, 3, 4, 5] if policy == "skip" else list(range(6)))
    np.testing.assert_array_equal(outputs[1][0], outputs[0][0])


def test_on_error_read_from_a_config_acts_as_its_literal(tmp_path):
    """on_error='raise' read from a file (an equal, distinct string) raises on a broken video as
    the literal does; 'nan' read so gives the NaN row."""
    import json

    good, bad = _video(tmp_path / "ok.mp4", n=2), tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    for value in ("raise", json.loads('"raise"')):
        vf = VideoFeatures(BlurFeatures(), n_frames=2, faces=False, on_error=value).fit()
        with pytest.raises(ItemError, match=r"item 1 \(.*broken\.mp4\)"):
            vf.transform([good, str(bad)])
    vf = VideoFeatures(BlurFeatures(), n_frames=2, faces=False, on_error=json.loads('"nan"')).fit()
    with pytest.warns(RuntimeWarning, match="1 of 2 videos could not be read"):
        X = vf.transform([good, str(bad)])
    assert np.isnan(X[1]).all() and vf.status_["status"].tolist() == ["ok", "error"]


class OutOfMemoryDetector(KnownBoxDetector):
    """Runs out of memory on frames taller than 200 pixels (as a detector given too large a frame)."""

    def detect(self, rgb):
        if rgb.shape[0] > 200:
            raise MemoryError
        return super().detect(rgb)


def test_running_out_of_memory_on_a_video_names_it_or_gives_a_nan_row(tmp_path):
    """A MemoryError while a video's frames are processed becomes an ItemError naming the video,
    or, with on_error='nan', a NaN row with status 'error'; the other videos are unaffected."""
    good = _video(tmp_path / "ok.mp4", n=2)
    big = str(write_video(tmp_path / "big.mp4", [np.full((288, 320, 3), 120, np.uint8)] * 2))
    vf = VideoFeatures(BlurFeatures(), n_frames=2, detector=OutOfMemoryDetector(), size=64).fit()
    with pytest.raises(ItemError, match=r"^item 1 \(.*big\.mp4\): out of memory while processing the video's frames$"):
        vf.transform([good, big])
    vf.set_params(on_error="nan")
    with pytest.warns(RuntimeWarning, match="1 of 2 videos could not be read"):
        X = vf.transform([good, big])
    assert np.isfinite(X[0, :-3]).all() and np.isnan(X[1]).all()
    assert vf.status_["status"].tolist() == ["ok", "error"]
    assert vf.status_["error"][1] == "out of memory while processing the video's frames"


def test_progress_bar_is_shown_on_request_and_cleared_at_the_end(tmp_path, capsys):
    """progress=True draws a bar of the videos on stderr and clears it when done (nothing left
    between the caller's own lines); the default draws nothing."""
    paths = [_video(tmp_path / f"{k}.mp4", n=2, seed=k) for k in range(2)]
    vf = VideoFeatures(BlurFeatures(), n_frames=1, faces=False).fit()
    vf.transform(paths)
    assert "videos" not in capsys.readouterr().err
    vf.set_params(progress=True).transform(paths)
    err = capsys.readouterr().err
    assert err.startswith("\rvideos:") and "video/s" in err
    assert err.endswith("\r") and not err.endswith("\n") and err.rstrip("\r").split("\r")[-1].strip() == ""


def test_a_video_read_with_problems_is_partial_with_the_readers_messages(tmp_path):
    """Status 'partial' with the reader's messages, whether frames are missing (a packet that does
    not decode) or not (a stale header count); the row aggregates the frames that decoded.
    Look-alike: the intact video is 'ok' with no message."""
    from video_fixtures import index_frames, patch_avi_frame_count, remux

    intact = write_video(tmp_path / "v.mkv", index_frames(6), gop=1)
    damaged = remux(intact, tmp_path / "damaged.mkv", damage={2})
    stale = patch_avi_frame_count(write_video(tmp_path / "stale.avi", index_frames(6), gop=3), 8)
    paths = [str(intact), str(damaged), str(stale)]
    vf = VideoFeatures(BlurFeatures(), every=1, faces=False).fit()
    X = vf.transform(paths)
    assert vf.status_["status"].tolist() == ["ok", "partial", "partial"]
    expected = ["; ".join(read_frames(p, every=1, display=False).errors) for p in paths]
    assert vf.status_["error"].tolist() == expected and expected[0] == ""
    assert "1 requested frame(s) not decoded (2): they did not decode" in expected[1]
    assert expected[2] == "the header gives 8 frames but the stream holds 6 packets"
    assert X[:, -3].tolist() == X[:, -2].tolist() == [6, 5, 6]  # frames sampled and used: those that decoded
