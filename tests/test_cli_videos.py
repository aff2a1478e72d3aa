"""The command line end to end on a folder of videos where some are broken, audio-only, faceless, one
frame long or listed twice: every item is its own row(s) with its own status and reason."""

import numpy as np
import pandas as pd
import pytest
from test_video_features import UprightFaceDetector, _upright_picture
from video_fixtures import face_video, remux, write_video

from forensics import VideoDetector, make_pipeline, read_table
from forensics.cli import main
from forensics.media import ItemError


def _audio_only(path):
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=22050, layout="mono")
        pcm = (0.3 * np.sin(np.arange(22050) / 5) * 32767).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 22050, 0
        for p in [*s.encode(frame), *s.encode()]:
            out.mux(p)
    return path


@pytest.fixture
def videos(tmp_path):
    root = tmp_path / "v"
    for label in ("real", "fake"):
        (root / label).mkdir(parents=True)
        for k in range(2):
            face_video(root / label / f"{k}.mp4", n_frames=4, size=(128, 128), faces_from="synthetic",
                       seed=k + 10 * (label == "fake"))
    face_video(root / "real" / "one.mp4", n_frames=1, size=(128, 128), faces_from="synthetic", seed=3)
    rng = np.random.default_rng(0)
    write_video(root / "real" / "noface.mp4", [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(4)])
    good = (root / "fake" / "0.mp4").read_bytes()
    (root / "fake" / "broken.mp4").write_bytes(good[:len(good) // 3])  # cut before its index (moov)
    _audio_only(root / "fake" / "sound.mp4")
    intra = tmp_path / "intra.mkv"  # every frame a keyframe: a damaged packet loses its frame alone
    face_video(intra, n_frames=4, size=(128, 128), faces_from="synthetic", seed=4, gop=1)
    remux(intra, root / "fake" / "damaged.mkv", damage={3})  # frame 3 (sampled) does not decode
    return root


def test_extract_faces_gives_every_video_its_rows_and_its_own_reason(videos, tmp_path, capsys):
    # a manifest listing one video twice (warned about, and still two items)
    files = sorted(p for p in videos.rglob("*") if p.is_file())
    manifest = pd.DataFrame(dict(path=[str(p) for p in files] + [str(videos / "real" / "0.mp4")],
                                 label=[int(p.parent.name == "fake") for p in files] + [0]))
    manifest["method"] = np.where(manifest["label"] == 1, "fake", "real")
    manifest.to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="name a file that an earlier row names") as caught:
        assert main(["extract", str(tmp_path / "m.csv"), "--faces", "--face-detector", "cascade", "--n-frames", "2",
                     "--features", "pixels", "--out", str(out), "--no-progress", "--no-audit"]) == 0
    captured = capsys.readouterr()
    # pandas' PerformanceWarning ('DataFrame is highly fragmented'), printed three times on stderr, is gone
    assert not [w for w in caught if issubclass(w.category, pd.errors.PerformanceWarning)]
    table = read_table(out / "features.parquet")
    data = table.data
    assert sorted(data["item_index"].unique()) == list(range(len(manifest)))  # every item, none lost or merged
    by_item = data.groupby("item_index")
    name = {i: manifest["path"][i].split("/v/")[1] for i in range(len(manifest))}
    reason = {name[i]: g["error"].iloc[0] for i, g in by_item if (g["status"] == "error").all()}
    # before: all three read 'no face found', and the second listing of real/0.mp4 was one too
    assert set(reason) == {"fake/broken.mp4", "fake/sound.mp4", "real/noface.mp4"}
    assert "moov atom not found" in reason["fake/broken.mp4"]
    assert reason["fake/sound.mp4"].startswith("has no video stream")
    assert reason["real/noface.mp4"] == "no face found in any of the 2 sampled frames"
    twice = [i for i in range(len(manifest)) if name[i] == "real/0.mp4"]
    assert [len(by_item.get_group(i)) for i in twice] == [2, 2] and (data.loc[data["item_index"].isin(twice),
                                                                              "status"] == "ok").all()
    assert len(by_item.get_group(files.index(videos / "real" / "one.mp4"))) == 1
    part = by_item.get_group(files.index(videos / "fake" / "damaged.mkv"))  # before: 'ok', no message
    assert part["status"].tolist() == ["partial"] and part["frame_index"].tolist() == [0]
    assert "1 requested frame(s) not decoded (3)" in part["error"].iloc[0]
    ok = data[~data["item_index"].isin([files.index(videos / "fake" / "damaged.mkv")]) & (data["status"] != "error")]
    assert (ok["status"] == "ok").all() and (ok["error"] == "").all()
    n_rows = len(data)
    n_features = len(table.feature_names)
    assert f"({n_rows} rows ({len(manifest)} items) x {n_features} features, level frame; 3 with status error, 1 partial)" \
        in captured.out
    assert "--retry-failed" not in captured.out  # it does not apply to crops at frame level: not suggested
    assert list(data.columns[:4]) == ["item_index", "path", "label", "method"]
    assert list(data.columns[data.columns.get_loc("status"):][:2]) == ["status", "error"]


def test_a_video_detector_names_a_video_without_a_face_instead_of_an_empty_array(tmp_path):
    up = _upright_picture()
    paths = [str(write_video(tmp_path / f"{k}.mp4", [up] * 3, crf=12 + 20 * k)) for k in range(2)]
    flat = str(write_video(tmp_path / "flat.mp4", [np.full((96, 128, 3), 128, np.uint8)] * 3))
    det = VideoDetector(make_pipeline(features=["blur"]), n_frames=2, faces=True, face_detector=UprightFaceDetector())
    det.fit(paths * 2, [0, 1, 0, 1])
    assert det.predict_proba(paths).shape == (2, 2)  # the look-alike: faces found, scored
    # before: sklearn's 'Found array with 0 sample(s)' from the imputer, naming no video
    with pytest.raises(ItemError, match=r"item 0 \(.*flat.mp4\): no frame to score: no face found in any of the 2"), \
            pytest.warns(RuntimeWarning, match="no face in any sampled frame"):
        det.predict_proba([flat])
    with pytest.raises(ItemError, match=r"item 1 \(.*flat.mp4\): no frame to score"), \
            pytest.warns(RuntimeWarning, match="no face in any sampled frame"):
        det.predict_proba([paths[0], flat])
