import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from forensics.features import BlurFeatures, VideoFeatures
from forensics.media import Face, ItemError, crop_face, read_frames
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
    if policy == "nan":
        assert np.isnan(feats[meta["frame_index"].isin([1, 2]).to_numpy()]).all()
    row = vf.transform([path])[0]
    assert row[-2] == used and row[-1] == pytest.approx(4 / 6)


def test_video_without_any_face_is_a_nan_row_not_an_error(tmp_path):
    path = _video(tmp_path / "dark.mp4", n=4, dark=(0, 1, 2, 3))
    vf = VideoFeatures(BlurFeatures(), n_frames=4, detector=KnownBoxDetector(), size=64).fit()
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
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(vf)).transform([path]), out)


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
