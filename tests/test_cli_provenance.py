"""What a command writes about its own run: the resolved ``config.yaml`` (the frame settings a video
run used, defaults filled in, so that ``--config`` on it repeats the run) and ``run.json``
(``n_items``, ``n_videos``), for videos, feature tables and images; and the report of an image folder
naming the images it left out."""

import json
import re

import numpy as np
import pytest
import yaml
from PIL import Image

from forensics import read_table
from forensics.cli import main


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from forensics.datasets import save_demo_videos

    root = tmp_path_factory.mktemp("provenance") / "videos"
    save_demo_videos(root, n_per_class=3, n_frames=5, size=48, seed=0)
    return root


def _written(out):
    config = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    return config["frames"], json.loads((out / "run.json").read_text(encoding="utf-8"))


def test_extract_records_the_frame_settings_it_used_and_counts_the_videos(videos, tmp_path):
    out = tmp_path / "ext"
    assert main(["extract", str(videos), "--detector", "spectrum-lr", "--no-progress", "--no-audit",
                 "--out", str(out)]) == 0
    frames, record = _written(out)
    # no frame flag given: the defaults used are written, not null
    assert (frames["level"], frames["n_frames"], frames["every"], frames["faces"]) == ("video", 32, None, False)
    assert frames["face_detector"] is None and frames["face_model"] is None  # no face detector ran
    table = read_table(out / "features.parquet")
    assert table.meta["frames"]["n_frames"] == 32 and table.level == "video"
    assert (record["level"], record["n_items"], record["n_videos"]) == ("video", 6, 6)
    # the written config repeats the run with the same settings
    again = tmp_path / "again"
    assert main(["extract", "--config", str(out / "config.yaml"), "--out", str(again)]) == 0
    assert read_table(again / "features.parquet").meta["frames"] == table.meta["frames"]
    assert _written(again)[0] == frames


def test_extract_every_kth_frame_records_every_and_no_frame_count(videos, tmp_path):
    out = tmp_path / "ext"
    assert main(["extract", str(videos), "--detector", "spectrum-lr", "--level", "frame", "--every", "2",
                 "--no-progress", "--no-audit", "--out", str(out)]) == 0
    frames, record = _written(out)
    assert (frames["level"], frames["n_frames"], frames["every"]) == ("frame", None, 2)  # n_frames is not used
    table = read_table(out / "features.parquet")
    assert len(table) == 6 * 3  # frames 0, 2, 4 of each 5-frame video
    # n_items counts the rows, as train and evaluate count them from this table (it counted the videos)
    assert (record["level"], record["n_items"], record["n_videos"]) == ("frame", 18, 6)


def test_train_from_a_table_records_the_tables_frame_settings(videos, tmp_path):
    table = tmp_path / "t" / "features.parquet"
    assert main(["extract", str(videos), "--detector", "spectrum-lr", "--level", "frame", "--n-frames", "3",
                 "--no-progress", "--no-audit", "--out", str(table)]) == 0
    out = tmp_path / "model"
    assert main(["train", str(table), "--detector", "spectrum-lr", "--no-progress", "--no-audit",
                 "--out", str(out)]) == 0
    frames, record = _written(out)
    # the frames the table's rows were sampled with (3), not the verb's default (32) nor null
    assert (frames["level"], frames["n_frames"], frames["every"], frames["faces"]) == ("frame", 3, None, False)
    assert (record["level"], record["n_items"], record["n_videos"]) == ("frame", 18, 6)
    # --config on the written config repeats the run: its frame settings pass the table's check
    assert main(["train", "--config", str(out / "config.yaml"), "--out", str(tmp_path / "again")]) == 0
    # ... where asking for other frames is refused, as before
    assert main(["train", str(table), "--detector", "spectrum-lr", "--n-frames", "4", "--no-progress",
                 "--no-audit", "--out", str(tmp_path / "other")]) == 1


@pytest.fixture(scope="module")
def face_videos(tmp_path_factory):
    from video_fixtures import face_video

    root = tmp_path_factory.mktemp("provenance") / "faces"
    for label in ("real", "fake"):
        (root / label).mkdir(parents=True)
        for k in range(2):
            face_video(root / label / f"{k}.mp4", n_frames=2, size=(128, 128), faces_from="synthetic",
                       seed=k + 10 * (label == "fake"))
    return root


def test_faces_without_a_face_detector_record_the_one_that_ran_and_predict_refuses_another(face_videos, tmp_path,
                                                                                           capsys):
    """``--faces`` alone: "auto" is resolved (here the cascade; MTCNN where facenet-pytorch is installed) and that
    name is what config.yaml, the table and the saved model record, so a repeat or a prediction elsewhere crops
    with the same detector, or is refused naming it; it never switches silently."""
    import importlib.util

    from forensics import load, save

    if importlib.util.find_spec("facenet_pytorch") is not None:
        pytest.skip("facenet-pytorch is installed: 'auto' picks MTCNN here and this test expects the cascade")
    out = tmp_path / "tf"
    assert main(["extract", str(face_videos), "--faces", "--n-frames", "1", "--features", "spectral", "--no-progress",
                 "--no-audit", "--out", str(out)]) == 0
    frames, _ = _written(out)
    assert (frames["face_detector"], frames["face_model"]) == ("cascade", None)  # before: 'auto'
    table = read_table(out / "features.parquet")
    assert table.meta["frames"]["detector"] == "cascade" and table.meta["config"]["frames.face_detector"] == "cascade"
    assert table.data["status"].eq("ok").all()  # the cascade found the faces: the rows are about faces
    model_path = tmp_path / "m.skops"
    assert main(["train", str(out / "features.parquet"), "--detector", "spectrum-lr", "--no-progress", "--no-audit",
                 "--out", str(model_path)]) == 0
    model = load(model_path)
    assert model.face_detector == "cascade" and model.features_.face_detector_ == "cascade"
    assert yaml.safe_load((tmp_path / "m.config.yaml").read_text())["frames"]["face_detector"] == "cascade"
    # the written config repeats the extraction with the same detector: the same table, kept as it is
    assert main(["extract", "--config", str(out / "config.yaml"), "--no-progress"]) == 0
    capsys.readouterr()
    video = str(face_videos / "real" / "0.mp4")
    assert main(["predict", str(model_path), video]) == 0  # the look-alike: its detector runs here
    assert capsys.readouterr().out.splitlines()[1].endswith(",ok,")
    # a model trained where MTCNN ran: refused here (facenet-pytorch missing), not scored with the cascade
    model.face_detector = model.features_.face_detector_ = "mtcnn"
    save(model, tmp_path / "mtcnn.skops")
    assert main(["predict", str(tmp_path / "mtcnn.skops"), video]) == 1
    err = capsys.readouterr().err
    assert f"the model '{tmp_path / 'mtcnn.skops'}' crops faces with 'mtcnn' (the detector it was trained with), " \
           "which cannot run here: face detector 'mtcnn' needs facenet-pytorch, which is not installed" in err
    # a model saved before the detector was recorded ('auto'): scored, with a note naming the detector used now
    model.face_detector = model.features_.detector = "auto"
    del model.features_.face_detector_
    save(model, tmp_path / "old.skops")
    assert main(["predict", str(tmp_path / "old.skops"), video]) == 0
    captured = capsys.readouterr()
    assert "saved without recording which face detector cropped its training faces (face_detector 'auto'); this " \
           "run crops with 'cascade'" in captured.err and captured.err.count("face detector") == 1
    assert captured.out.splitlines()[1].endswith(",ok,")


def _image(rng, fake):
    a = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    if fake:  # a generator-style down/up-sampling
        a = np.asarray(Image.fromarray(a).resize((24, 24)).resize((48, 48)))
    return Image.fromarray(a)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label in ("real", "fake"):
        (root / label).mkdir()
        for i in range(6):
            _image(rng, label == "fake").save(root / label / f"{i:02d}.png")
    (root / "real" / "zz_bad.png").write_bytes(b"not an image")
    return root


def test_image_runs_leave_the_frame_settings_as_given_and_count_no_videos(images, tmp_path):
    out = tmp_path / "ext"
    assert main(["extract", str(images), "--features", "blur", "--no-progress", "--no-audit", "--out", str(out)]) == 0
    frames, record = _written(out)
    assert frames["level"] is None and frames["n_frames"] is None and frames["faces"] is None
    assert (record["level"], record["n_items"], record["n_videos"]) == ("image", 13, None)


def test_report_names_the_images_it_left_out(images, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(images), "--detector", "spectrum-lr", "--cv", "3", "--n-boot", "50", "--gallery", "2",
                 "--no-progress", "--no-audit", "--out", str(out)]) == 0
    assert "1 item could not be read and is left out" in capsys.readouterr().out
    md = (out / "report.md").read_text(encoding="utf-8")
    left = re.search(r"\| left out \(status error\) \| (.*) \|", md)
    assert left and left.group(1).startswith(f"1: {images / 'real' / 'zz_bad.png'} (not a readable image file")
    assert "left out (status error)" in (out / "report.html").read_text(encoding="utf-8")
    assert "### Per manipulation method" in md and "Per group" not in md
