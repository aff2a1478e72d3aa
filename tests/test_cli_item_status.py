"""What the command line says of items that are missing, cut short, of another kind, or not reached
because the run was interrupted: every item keeps a row with its status and reason, the summaries
count them, and an interrupted or failed run says how to go on.

Data is written here: small demo videos (:func:`forensics.datasets.save_demo_videos`) laid out as
a DFDC part, a truncated Matroska copy of one of them, still images with one face.
"""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from video_fixtures import remux

from conftest import encode
from forensics import read_table
from forensics.cli import main


@pytest.fixture(scope="module")
def demo_videos(tmp_path_factory):
    """6 real + 6 fake demo videos, 8 frames of 48 px each."""
    from forensics.datasets import save_demo_videos

    root = tmp_path_factory.mktemp("status") / "videos"
    save_demo_videos(root, n_per_class=6, n_frames=8, size=48, seed=4)
    return root


def _dfdc_part(videos, root):
    """A DFDC part: r0-r5.mp4 (REAL), f0-f5.mp4 (FAKE, f0 made from r0) and their metadata.json."""
    part = root / "part_0"
    part.mkdir(parents=True)
    meta = {}
    for label, prefix in (("real", "r"), ("fake", "f")):
        for k, src in enumerate(sorted((videos / label).rglob("*.mp4"))):
            shutil.copy(src, part / f"{prefix}{k}.mp4")
            meta[f"{prefix}{k}.mp4"] = {"label": label.upper(), "split": "train",
                                        "original": "r0.mp4" if (prefix, k) == ("f", 0) else None}
    (part / "metadata.json").write_text(json.dumps(meta))
    return part


# -- 1. a file the data set's labels list but that is missing on disk ------------------------------

def test_a_dfdc_video_missing_on_disk_is_an_error_row_that_retry_failed_recovers(demo_videos, tmp_path, capsys):
    """It was dropped from the table (no row, no exists column) while the warning said its row had
    exists=False, and --retry-failed then refused the data ("holds other items") once it was back."""
    part = _dfdc_part(demo_videos, tmp_path / "dfdc")
    (part / "f2.mp4").rename(tmp_path / "away.mp4")
    out = tmp_path / "t"
    argv = ["extract", str(tmp_path / "dfdc"), "--dataset", "dfdc", "--features", "blur", "--n-frames", "2",
            "--no-progress", "--no-audit", "--out", str(out)]
    with pytest.warns(UserWarning) as caught:
        assert main(argv) == 0
    captured = capsys.readouterr()
    assert ("1 of 12 videos named in metadata.json or labels.csv are not on disk, or not readable (first: "
            f"{part / 'f2.mp4'}); their rows have exists=False (extracted, each is a row of status 'error', NaN "
            "features)") in [str(w.message) for w in caught]
    data = read_table(out / "features.parquet").data
    assert data["path"].tolist() == [str(part / f"{p}{k}.mp4") for p in "rf" for k in range(6)]  # none dropped
    assert data["status"].tolist() == ["ok"] * 8 + ["error"] + ["ok"] * 3
    assert data["error"].iloc[8] == "file not found" and "exists" not in data.columns
    blur = data.filter(like="blur__")
    assert blur.iloc[8].isna().all() and blur.drop(index=8).notna().any(axis=1).all()
    assert "Wrote" in captured.out and "1 with status error, 0 partial)" in captured.out
    assert json.loads((out / "run.json").read_text())["n_items"] == 12
    (tmp_path / "away.mp4").rename(part / "f2.mp4")
    assert main([*argv, "--retry-failed"]) == 0
    assert "retried 1 item that had failed; 0 still failing" in capsys.readouterr().out
    retried = read_table(out / "features.parquet").data
    assert retried["status"].eq("ok").all()
    pd.testing.assert_frame_equal(retried.drop(index=8), data.drop(index=8))  # the others kept as they were
    fresh = tmp_path / "fresh.parquet"  # the same as a run that never missed it
    assert main([*argv[:-1], str(fresh)]) == 0
    pd.testing.assert_frame_equal(retried, read_table(fresh).data)


def test_evaluate_counts_a_dfdc_video_missing_on_disk_as_a_failed_item(demo_videos, tmp_path, capsys):
    part = _dfdc_part(demo_videos, tmp_path / "dfdc")
    (part / "f2.mp4").unlink()
    with pytest.warns(UserWarning, match="not on disk"):
        assert main(["evaluate", str(tmp_path / "dfdc"), "--dataset", "dfdc", "--detector", "spectrum-lr", "--n-frames",
                     "2", "--cv", "3", "--no-progress", "--no-audit"]) == 0
    out = capsys.readouterr().out
    assert (f"note: 1 item could not be read and is left out (status error); first: {part / 'f2.mp4'}: file not "
            "found") in out
    assert "11 videos (6 real, 5 fake), 22 frame rows" in out


def test_strict_refuses_a_data_set_root_with_an_unlabelled_file_and_the_warning_names_it(demo_videos, tmp_path,
                                                                                         capsys):
    """The warning said "pass strict=True", which the command line had no way to pass."""
    part = _dfdc_part(demo_videos, tmp_path / "dfdc")
    (part / "f2.mp4").unlink()  # a listed file missing: a row with status error, with or without --strict
    argv = ["extract", str(tmp_path / "dfdc"), "--dataset", "dfdc", "--features", "blur", "--n-frames", "2",
            "--no-progress", "--no-audit"]
    # the valid look-alike: every file on disk is listed; --strict lets it through
    with pytest.warns(UserWarning, match="not on disk"):
        assert main([*argv, "--strict", "--out", str(tmp_path / "a")]) == 0
    assert read_table(tmp_path / "a" / "features.parquet").data["status"].tolist().count("error") == 1
    capsys.readouterr()
    shutil.copy(part / "r0.mp4", part / "extra.mp4")  # on disk, in no metadata: unlabelled
    with pytest.warns(UserWarning) as caught:
        assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    err = " | ".join(str(w.message) for w in caught)
    assert "1 not named in its part's metadata.json (unlabelled) (e.g. part_0/extra.mp4)" in err
    assert "pass strict=True (the command line's --strict) to make this an error" in err
    with pytest.warns(UserWarning, match="not on disk"):
        assert main([*argv, "--strict", "--out", str(tmp_path / "c")]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("forensics extract: error: load_dfdc: 1 media file(s)") and "extra.mp4" in line
    assert not (tmp_path / "c" / "features.parquet").exists()
    assert yaml_key(tmp_path / "a" / "config.yaml", "data", "strict") is True
    assert yaml_key(tmp_path / "b" / "config.yaml", "data", "strict") is False


def yaml_key(path, section, key):
    import yaml

    return yaml.safe_load(path.read_text())[section][key]


# -- 2. a video read only in part ---------------------------------------------------------------

@pytest.fixture(scope="module")
def cut(demo_videos, tmp_path_factory):
    """whole.mkv (a demo video remuxed, 8 frames) and cut.mkv (its first 75 % of bytes: some frames)."""
    root = tmp_path_factory.mktemp("cut")
    whole = root / "whole.mkv"
    remux(sorted((demo_videos / "fake").rglob("*.mp4"))[0], whole)
    data = whole.read_bytes()
    (root / "cut.mkv").write_bytes(data[:int(len(data) * 0.75)])
    return whole, root / "cut.mkv"


@pytest.mark.parametrize("level", ["frame", "video"])
def test_predict_says_partial_with_the_reason_for_a_truncated_video_as_extract_does(demo_videos, cut, level,
                                                                                    tmp_path, capsys):
    """predict reported the truncated video 'ok' with no error, scored from the frames that survived,
    where extract marks it 'partial' with its reason. A VideoDetector (level frame) and a pipeline of
    VideoFeatures (level video) read the status from different places: both are checked."""
    whole, short = cut
    model = tmp_path / "m.skops"
    assert main(["train", str(demo_videos), "--detector", "spectrum-lr", "--n-frames", "4", "--level", level,
                 "--no-progress", "--no-audit", "--out", str(model)]) == 0
    pd.DataFrame({"path": [str(whole), str(short)]}).to_csv(tmp_path / "m.csv", index=False)
    table = tmp_path / "t.parquet"
    capsys.readouterr()
    assert main(["extract", str(tmp_path / "m.csv"), "--detector", "spectrum-lr", "--n-frames", "4", "--level", level,
                 "--no-progress", "--out", str(table)]) == 0
    out = capsys.readouterr().out
    items = read_table(table).data.drop_duplicates("item_index")
    assert items["status"].tolist() == ["ok", "partial"] and items["error"].iloc[0] == ""
    reason = items["error"].iloc[1]
    assert reason  # the reader's message (frames missing, file ended)
    # the summary counted only errors ("0 with status error"): the partial item is counted and named
    assert "0 with status error, 1 partial)" in out
    assert f"warning: 1 item could be read only in part (status 'partial': features from the frames read); first: " \
           f"{short}: {reason}" in out
    assert main(["predict", str(model), str(whole), str(short), "--no-progress", "--out", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    rows = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert rows["status"].tolist() == ["ok", "partial"]
    assert rows["error"].tolist() == ["", reason]  # the same reason as extract's
    assert np.isfinite(pd.to_numeric(rows["score"])).all()  # still scored, from the frames read
    assert "1 of 2 inputs were read only in part and scored from what could be read (status partial)" in err
    record = json.loads((tmp_path / "p.run.json").read_text())  # the run record beside the predictions counts them
    assert (record["n_items"], record["n_failed"], record["n_partial"]) == (2, 0, 1)
    # evaluate --model's per-item scores say the same (status, reason, score)
    pd.DataFrame({"path": [str(whole), str(short)], "label": [1, 1]}).to_csv(tmp_path / "l.csv", index=False)
    assert main(["evaluate", str(tmp_path / "l.csv"), "--model", str(model), "--no-progress",
                 "--out", str(tmp_path / "ev")]) == 0
    capsys.readouterr()
    per_item = pd.read_parquet(tmp_path / "ev" / "scores.parquet")
    assert per_item["status"].tolist() == ["ok", "partial"] and per_item["error"].tolist() == ["", reason]
    np.testing.assert_allclose(per_item["score"], pd.to_numeric(rows["score"]), rtol=1e-9)
    if level == "video":  # from the table, the row keeps extract's status and reason
        assert main(["predict", str(model), str(table), "--no-progress", "--out", str(tmp_path / "q.csv")]) == 0
        again = pd.read_csv(tmp_path / "q.csv", keep_default_na=False)
        assert again["status"].tolist() == ["ok", "partial"] and again["error"].tolist() == ["", reason]
        np.testing.assert_allclose(pd.to_numeric(again["score"]), pd.to_numeric(rows["score"]), rtol=1e-9)


# -- 3. one stray file of the other kind -------------------------------------------------------------

@pytest.mark.parametrize("verb", ["extract", "evaluate", "audit"])
def test_a_stray_image_among_videos_is_named_with_each_kinds_count(demo_videos, tmp_path, verb, capsys):
    root = tmp_path / "vmix"
    shutil.copytree(demo_videos, root)
    stray = root / "real" / "stray.jpg"
    stray.write_bytes(encode(np.full((16, 16, 3), 128, np.uint8), "JPEG"))
    extra = {"extract": ["--features", "blur", "--out", str(tmp_path / "o")],
             "evaluate": ["--detector", "spectrum-lr", "--n-frames", "2"], "audit": []}[verb]
    assert main([verb, str(root), *extra, "--no-progress", "--no-audit"][:None if verb != "audit" else -1]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"mixes images and videos: 1 image and 12 videos (the image: {stray})" in line
    # the look-alike the other way round: videos among images name the first video
    images = tmp_path / "imix"
    for k in range(3):
        (images / "real").mkdir(parents=True, exist_ok=True)
        (images / "real" / f"{k}.jpg").write_bytes(encode(np.full((16, 16, 3), 40 * k, np.uint8), "JPEG"))
    (images / "fake").mkdir()
    for name in ("b.mp4", "a.mp4"):
        shutil.copy(sorted(demo_videos.rglob("*.mp4"))[0], images / "fake" / name)
    assert main([verb, str(images), *extra, "--no-progress", "--no-audit"][:None if verb != "audit" else -1]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"mixes images and videos: 3 images and 2 videos (first video: {images / 'fake' / 'a.mp4'})" in line


# -- 4. an interrupted extraction -----------------------------------------------------------------

def test_an_interrupted_extract_says_what_is_saved_and_that_the_same_command_resumes(demo_videos, tmp_path,
                                                                                     monkeypatch, capsys):
    """Ctrl-C printed only "forensics extract: interrupted". The interruption is raised where the user's
    Ctrl-C would land, in the third chunk of two items, after two chunks were saved."""
    import forensics._tables as tables

    real = tables._chunk_videos
    calls = []

    def interrupted_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(tables, "_chunk_videos", interrupted_third)
    out = tmp_path / "t"
    argv = ["extract", str(demo_videos), "--features", "blur", "--n-frames", "2", "--chunk-size", "2", "--no-progress",
            "--no-audit", "--out", str(out)]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"forensics extract: interrupted: 4 of 12 items are saved in {out / 'features.parquet.parts'}; the "
                   "same command resumes, extracting only the others (then --retry-failed extracts again the items "
                   "that failed)")
    monkeypatch.setattr(tables, "_chunk_videos", real)
    assert main(argv) == 0
    assert f"4 of 12 items taken from {out / 'features.parquet'} or its chunks" in capsys.readouterr().out


def test_an_interrupted_faces_extract_says_how_many_crops_are_saved_and_the_rerun_that_it_reuses_them(
        tmp_path, monkeypatch, capsys):
    from skimage import data as skdata

    import forensics.datasets._extract as extract

    face = skdata.astronaut()[:256, 100:356]  # one face, found by the offline cascade detector
    for label, name, img in (("real", "a", face), ("real", "b", face[:, ::-1]), ("fake", "c", face[:, ::-1])):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / label / f"{name}.png").write_bytes(encode(np.ascontiguousarray(img), "PNG"))
    real = extract._process
    calls = []

    def interrupted_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(extract, "_process", interrupted_second)
    out = tmp_path / "out"
    argv = ["extract", str(tmp_path / "data"), "--faces", "--face-detector", "cascade", "--features", "blur",
            "--out", str(out), "--no-progress", "--no-audit"]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"forensics extract: interrupted: 1 of 3 items' face crops are saved in {out}; the same command "
                   "resumes, cropping only the others")
    monkeypatch.setattr(extract, "_process", real)
    assert main(argv) == 0
    assert f"1 of 3 items' face crops taken from {out} as already extracted (not recomputed)" in \
        capsys.readouterr().out
    assert main(argv) == 0  # all there: all reused
    assert f"3 of 3 items' face crops taken from {out}" in capsys.readouterr().out
    fresh = tmp_path / "fresh"
    assert main([*argv[:-3], str(fresh), "--no-progress", "--no-audit"]) == 0
    assert "face crops taken from" not in capsys.readouterr().out  # a first run reuses nothing
    pd.testing.assert_frame_equal(read_table(out / "features.parquet").data.drop(columns="crop_path"),
                                  read_table(fresh / "features.parquet").data.drop(columns="crop_path"))


def test_an_interrupted_face_extract_of_one_item_says_items_crops_in_plain_english(tmp_path):
    """One item: "0 of 1 item's face crops", not "0 of 1 item' face crops" (the plural's apostrophe)."""
    from forensics.cli._extract import _interrupted

    manifest = pd.DataFrame({"path": [str(tmp_path / "a.mp4")]})
    assert _interrupted(manifest, tmp_path / "features.parquet", True).startswith(
        f"0 of 1 item's face crops are saved in {tmp_path}; the same command resumes")
    two = pd.DataFrame({"path": [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")]})
    assert _interrupted(two, tmp_path / "features.parquet", True).startswith("0 of 2 items' face crops")
