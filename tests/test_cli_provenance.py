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
