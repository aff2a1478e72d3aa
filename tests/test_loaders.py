"""Data set loaders on tiny fixture trees built in each data set's exact layout."""

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forensics.datasets import (SkippedFilesError, SkippedFilesWarning, check_manifest, load_celebdf, load_dfdc,
                                load_faceforensics, load_folder, load_openfake, read_manifest)
from forensics.media import load_item
from conftest import encode, natural_image


def _touch(root, *rels):
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def _group_of(m, video_id):
    return int(m.loc[m["video_id"] == video_id, "group"].iloc[0])


# ---------------------------------------------------------------- FaceForensics++

def _ffpp(root, comp="c23"):
    orig = f"original_sequences/youtube/{comp}/videos"
    _touch(root, *(f"{orig}/{i}.mp4" for i in ("000", "001", "002", "003")))
    _touch(root, f"{orig}/notes.txt", f"original_sequences/youtube/{comp}/images/000/0000.png")
    for method in ("Deepfakes", "FaceSwap"):
        _touch(root, f"manipulated_sequences/{method}/{comp}/videos/000_003.mp4",
               f"manipulated_sequences/{method}/{comp}/videos/003_000.mp4",
               f"manipulated_sequences/{method}/masks/videos/000_003.mp4")
    _touch(root, f"manipulated_sequences/Face2Face/{comp}/videos/001_002.mp4")


def _ffpp_load(root, extra="", **kwargs):
    """load_faceforensics on the `_ffpp` tree, which always holds two mask videos and one extracted
    frame that are not detection inputs: the loader must say so (nothing vanishes silently)."""
    with pytest.warns(SkippedFilesWarning, match=r"2 mask video \(not a detection input\).*" + extra
                      + r"1 extracted frame \(images/ folder\)") as caught:
        m = load_faceforensics(root, **kwargs)
    return m, caught


def _splits(folder, train=(("000", "003"),), val=(("002", "001"),), test=()):
    folder.mkdir(parents=True, exist_ok=True)
    for name, pairs in (("train", train), ("val", val), ("test", test)):
        (folder / f"{name}.json").write_text(json.dumps([list(p) for p in pairs]))


def test_ffpp_labels_methods_ids(tmp_path):
    _ffpp(tmp_path)
    m = _ffpp_load(tmp_path)[0]
    check_manifest(m)
    assert m.attrs["dataset"] == "faceforensics" and m.attrs["compression"] == "c23"
    assert m.attrs["methods"] == ["Deepfakes", "Face2Face", "FaceSwap"]
    assert m["video_id"].tolist() == ["000", "001", "002", "003", "000_003", "003_000", "001_002",
                                      "000_003", "003_000"]
    assert m["label"].tolist() == [0] * 4 + [1] * 5
    assert m["method"].tolist() == ["real"] * 4 + ["Deepfakes"] * 2 + ["Face2Face"] + ["FaceSwap"] * 2
    fake = m.iloc[4]
    assert (fake.target_id, fake.source_id) == ("000", "003")
    assert fake.path.endswith("manipulated_sequences/Deepfakes/c23/videos/000_003.mp4")
    assert m.loc[0, "source_id"] is None and m.loc[0, "target_id"] == "000"
    assert (m["compression"] == "c23").all() and m["split"].isna().all()  # no splits folder


def test_ffpp_groups_link_target_and_source(tmp_path):
    _ffpp(tmp_path)
    m = _ffpp_load(tmp_path)[0]
    g = dict(zip(m["path"].str.replace(str(tmp_path), ""), m["group"]))
    pair = {v for k, v in g.items() if any(s in k for s in ("/000.mp4", "/003.mp4", "000_003", "003_000"))}
    assert len(pair) == 1
    # 001 and 002 are linked only through the Face2Face fake 001_002, never to 000/003
    assert _group_of(m, "001") == _group_of(m, "002") == _group_of(m, "001_002")
    assert _group_of(m, "001") not in pair
    assert m["group"].nunique() == 2


def test_ffpp_groups_keep_unpaired_ids_apart(tmp_path):
    _ffpp(tmp_path)
    m = _ffpp_load(tmp_path, r"2 method FaceSwap not selected \(methods=\).*", methods=["Deepfakes"])[0]
    assert m["method"].unique().tolist() == ["real", "Deepfakes"]
    # without the 001_002 fake, 001 and 002 are two groups, distinct from 000/003
    groups = [_group_of(m, v) for v in ("000", "001", "002", "003", "000_003")]
    assert groups[0] == groups[3] == groups[4]
    assert len({groups[0], groups[1], groups[2]}) == 3


def test_ffpp_official_splits(tmp_path):
    _ffpp(tmp_path)
    _splits(tmp_path / "splits")
    m = _ffpp_load(tmp_path)[0]
    split = dict(zip(m["method"] + "/" + m["video_id"], m["split"]))
    assert split["real/000"] == split["real/003"] == "train"
    assert split["Deepfakes/000_003"] == split["FaceSwap/003_000"] == "train"  # pair listed as [000, 003]
    assert split["real/001"] == split["real/002"] == split["Face2Face/001_002"] == "val"  # listed [002, 001]


def test_ffpp_splits_dir_and_unsplit_warning(tmp_path):
    _ffpp(tmp_path)
    _splits(tmp_path / "elsewhere", train=(("003", "000"),), val=())
    with pytest.warns(UserWarning, match="3 youtube video"):
        m = _ffpp_load(tmp_path, splits_dir=tmp_path / "elsewhere")[0]
    assert m.loc[m["video_id"] == "000_003", "split"].eq("train").all()
    assert m.loc[m["video_id"].isin(["001", "002", "001_002"]), "split"].isna().all()


def test_ffpp_raw_alias_and_c0_folder(tmp_path):
    _ffpp(tmp_path, comp="raw")
    for comp in ("raw", "c0"):
        m = _ffpp_load(tmp_path, compression=comp)[0]
        assert len(m) == 9 and (m["compression"] == "c0").all()
        assert m["path"].str.contains("/raw/videos/").all()


def test_ffpp_deepfakedetection_only_on_request(tmp_path):
    _ffpp(tmp_path)
    _touch(tmp_path, "original_sequences/actors/c23/videos/01__exit_phone_room.mp4",
           "original_sequences/actors/c23/videos/02__kitchen_pan.mp4",
           "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__exit_phone_room__YVGY8LOK.mp4")
    default, caught = _ffpp_load(tmp_path)
    assert "DeepFakeDetection" not in set(default["method"])
    assert "1 method DeepFakeDetection not selected (methods=)" in str(caught[0].message)
    m, caught = _ffpp_load(tmp_path, methods=["Deepfakes", "DeepFakeDetection"])
    assert "2 original actors videos not selected" not in str(caught[0].message)
    dfd = m[m["subset"] == "actors"]
    assert dfd["video_id"].tolist() == ["01__exit_phone_room", "02__kitchen_pan", "01_02__exit_phone_room__YVGY8LOK"]
    assert dfd["label"].tolist() == [0, 0, 1] and dfd["split"].isna().all()
    assert dfd["group"].nunique() == 1 and dfd["group"].iloc[0] != _group_of(m, "000")


def test_ffpp_layout_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="manipulated_sequences"):
        load_faceforensics(tmp_path)
    _ffpp(tmp_path)
    with pytest.raises(FileNotFoundError, match="NeuralTextures/c23/videos"):
        load_faceforensics(tmp_path, methods=["NeuralTextures"])
    with pytest.raises(FileNotFoundError, match="youtube/c40/videos not found"):
        load_faceforensics(tmp_path, compression="c40", methods=["Deepfakes"])
    with pytest.raises(ValueError, match="compression"):
        load_faceforensics(tmp_path, compression="c30")
    with pytest.raises(ValueError, match="Deepfake'"):
        load_faceforensics(tmp_path, methods=["Deepfake"])
    _splits(tmp_path / "splits")
    (tmp_path / "splits" / "test.json").unlink()
    with pytest.raises(FileNotFoundError, match="test.json"):
        load_faceforensics(tmp_path)


def test_ffpp_misnamed_videos_warn_and_are_ignored(tmp_path):
    _ffpp(tmp_path)
    _touch(tmp_path, "manipulated_sequences/Deepfakes/c23/videos/000_003 (copy).mp4")
    with pytest.warns(SkippedFilesWarning, match=r"1 \.mp4 whose name does not follow.*000_003 \(copy\)\.mp4"):
        m = load_faceforensics(tmp_path)
    assert not m["path"].str.contains("copy").any() and len(m) == 9
    assert m.attrs["skipped"] == {"mask video (not a detection input)": 2,
                                  "extracted frame (images/ folder) (not a detection input)": 1,
                                  r".mp4 whose name does not follow the data set's naming ((\d{3})_(\d{3}))": 1}


# ---------------------------------------------------------------- Celeb-DF

def _celebdf(root, listed=None):
    _touch(root, "Celeb-real/id0_0000.mp4", "Celeb-real/id16_0003.mp4", "Celeb-real/id5_0000.mp4",
           "YouTube-real/00000.mp4", "YouTube-real/00170.mp4",
           "Celeb-synthesis/id0_id16_0000.mp4", "Celeb-synthesis/id16_id0_0003.mp4",
           "Celeb-synthesis/Thumbs.db")
    if listed is None:
        listed = ["1 YouTube-real/00170.mp4", "0 Celeb-synthesis/id0_id16_0000.mp4", "1 Celeb-real/id5_0000.mp4"]
    (root / "List_of_testing_videos.txt").write_text("\n".join(listed) + "\n")


def test_celebdf_labels_split_and_inverted_list(tmp_path):
    _celebdf(tmp_path)
    m = load_celebdf(tmp_path)
    check_manifest(m)
    assert m.attrs["dataset"] == "celebdf"
    assert m["video_id"].tolist() == ["id0_0000", "id5_0000", "id16_0003", "00000", "00170",
                                      "id0_id16_0000", "id16_id0_0003"]
    assert m["label"].tolist() == [0, 0, 0, 0, 0, 1, 1]  # list's "1" (real) became 0, its "0" (fake) 1
    assert m["method"].tolist() == ["real"] * 5 + ["Celeb-synthesis"] * 2
    test = set(m.loc[m["split"] == "test", "video_id"])
    assert test == {"00170", "id0_id16_0000", "id5_0000"}
    assert (m.loc[~m["video_id"].isin(test), "split"] == "train").all()
    fake = m.iloc[5]
    assert (fake.target_id, fake.source_id, fake.original) == ("id0", "id16", "id0_0000")


def test_celebdf_upper_case_suffix_keeps_its_test_split(tmp_path):
    _celebdf(tmp_path)
    (tmp_path / "YouTube-real" / "00170.mp4").rename(tmp_path / "YouTube-real" / "00170.MP4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # listed and found: no "not on disk" warning
        m = load_celebdf(tmp_path)
    assert m.loc[m["video_id"] == "00170", "split"].tolist() == ["test"]
    assert m.loc[m["video_id"] == "00170", "path"].str.endswith("00170.MP4").all()


def test_celebdf_groups(tmp_path):
    _celebdf(tmp_path)
    m = load_celebdf(tmp_path)
    linked = {_group_of(m, v) for v in ("id0_0000", "id16_0003", "id0_id16_0000", "id16_id0_0003")}
    assert len(linked) == 1
    others = [_group_of(m, v) for v in ("id5_0000", "00000", "00170")]
    assert len(set(others)) == 3 and linked.isdisjoint(others)  # YouTube-real: one group each


def test_celebdf_list_contradicting_folder_raises(tmp_path):
    # a list read with the wrong convention (1 = fake) must not silently flip labels
    _celebdf(tmp_path, listed=["1 Celeb-synthesis/id0_id16_0000.mp4"])
    with pytest.raises(ValueError, match="id0_id16_0000.mp4 is listed with 1"):
        load_celebdf(tmp_path)
    (tmp_path / "List_of_testing_videos.txt").write_text("real Celeb-real/id0_0000.mp4\n")
    with pytest.raises(ValueError, match="line 1"):
        load_celebdf(tmp_path)


def test_celebdf_missing_list_and_listed_absent(tmp_path):
    _celebdf(tmp_path, listed=["1 YouTube-real/00170.mp4", "0 Celeb-synthesis/id9_id1_0000.mp4"])
    with pytest.warns(UserWarning, match="1 video.*id9_id1_0000"):
        m = load_celebdf(tmp_path)
    assert len(m) == 7
    (tmp_path / "List_of_testing_videos.txt").unlink()
    with pytest.warns(UserWarning, match="List_of_testing_videos.txt not found"):
        m = load_celebdf(tmp_path)
    assert m["split"].isna().all()


def test_celebdf_missing_folder_named(tmp_path):
    _touch(tmp_path, "Celeb-real/id0_0000.mp4", "Celeb-synthesis/id0_id1_0000.mp4")
    with pytest.raises(FileNotFoundError, match="YouTube-real not found"):
        load_celebdf(tmp_path)
    _touch(tmp_path, "Youtube-real/00000.mp4")  # lower-case t, as in some copies
    with pytest.warns(UserWarning):
        assert load_celebdf(tmp_path)["folder"].tolist() == ["Celeb-real", "YouTube-real", "Celeb-synthesis"]


def test_celebdf_empty_test_list_gives_no_split(tmp_path):
    """An empty List_of_testing_videos.txt (a copy that lost it) must not make every video a
    training video: split is None, with a warning. Look-alike: a list of one video splits."""
    _celebdf(tmp_path, listed=["1 YouTube-real/00170.mp4"])
    m = load_celebdf(tmp_path)
    assert m["split"].tolist() == ["train"] * 4 + ["test"] + ["train"] * 2
    for text in ("", "\n\n"):
        (tmp_path / "List_of_testing_videos.txt").write_text(text)
        with pytest.warns(UserWarning, match="List_of_testing_videos.txt lists no video"):
            m = load_celebdf(tmp_path)
        assert len(m) == 7 and m["split"].isna().all()


def test_metadata_files_with_a_byte_order_mark_are_read(tmp_path):
    """Windows tools start UTF-8 files with a byte-order mark: a DFDC metadata.json, an FF++ split
    file and the Celeb-DF list with one (and CRLF line ends) give the manifest the files without
    it give. Look-alike: a file that is not UTF-8 is refused naming the file."""
    bom = b"\xef\xbb\xbf"
    _dfdc(tmp_path / "dfdc")
    with pytest.warns(UserWarning):
        plain = load_dfdc(tmp_path / "dfdc")
    meta = tmp_path / "dfdc" / "dfdc_train_part_10" / "metadata.json"
    meta.write_bytes(bom + meta.read_bytes())
    with pytest.warns(UserWarning):
        assert load_dfdc(tmp_path / "dfdc").equals(plain)
    meta.write_bytes(json.dumps({"réal2.mp4": {"label": "REAL"}}).encode("latin-1").replace(b"\\u00e9", b"\xe9"))
    with pytest.raises(ValueError, match=r"dfdc_train_part_10.metadata\.json is not UTF-8 text"):
        load_dfdc(tmp_path / "dfdc")

    _ffpp(tmp_path / "ffpp")
    _splits(tmp_path / "ffpp" / "splits")
    with pytest.warns(SkippedFilesWarning):  # the fixture's mask videos and frames
        plain = load_faceforensics(tmp_path / "ffpp")
    train = tmp_path / "ffpp" / "splits" / "train.json"
    train.write_bytes(bom + train.read_bytes())
    with pytest.warns(SkippedFilesWarning):
        assert load_faceforensics(tmp_path / "ffpp").equals(plain)

    _celebdf(tmp_path / "celeb")
    plain = load_celebdf(tmp_path / "celeb")
    listed = tmp_path / "celeb" / "List_of_testing_videos.txt"
    listed.write_bytes(bom + listed.read_bytes().replace(b"\n", b"\r\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every listed video found: no warning
        assert load_celebdf(tmp_path / "celeb").equals(plain)
    listed.write_bytes(b"1 YouTube-real/00170.mp4\n0 Celeb-synthesis/\xe9.mp4\n")
    with pytest.raises(ValueError, match=r"List_of_testing_videos\.txt is not UTF-8 text"):
        load_celebdf(tmp_path / "celeb")


# ---------------------------------------------------------------- DFDC

def _dfdc(root):
    parts = {
        "dfdc_train_part_0": {"real1.mp4": {"label": "REAL", "split": "train", "original": None},
                              "fake1.mp4": {"label": "FAKE", "split": "train", "original": "real1.mp4"},
                              "fake2.mp4": {"label": "FAKE", "split": "train", "original": "real1.mp4"}},
        "dfdc_train_part_10": {"real2.mp4": {"label": "REAL", "split": "train"},
                               "fake3.mp4": {"label": "FAKE", "split": "train", "original": "real2.mp4"}},
        "dfdc_train_part_2": {"fake4.mp4": {"label": "FAKE", "split": "train", "original": "real1.mp4"},
                              "gone.mp4": {"label": "REAL", "split": "train", "original": None}},
    }
    for part, meta in parts.items():
        (root / part).mkdir(parents=True)
        (root / part / "metadata.json").write_text(json.dumps(meta))
        for name in meta:
            if name != "gone.mp4":
                (root / part / name).write_bytes(b"")
    (root / "sample_submission.csv").write_text("filename,label\n")


def test_dfdc_labels_parts_and_original_groups(tmp_path):
    _dfdc(tmp_path)
    with pytest.warns(UserWarning, match="1 of 7 videos"):
        m = load_dfdc(tmp_path)
    check_manifest(m)
    assert m.attrs["dataset"] == "dfdc"
    assert m.attrs["parts"] == ["dfdc_train_part_0", "dfdc_train_part_2", "dfdc_train_part_10"]
    assert m["video_id"].tolist() == ["real1", "fake1", "fake2", "fake4", "gone", "real2", "fake3"]
    assert m["label"].tolist() == [0, 1, 1, 1, 0, 0, 1]
    assert m["method"].tolist() == ["real", "fake", "fake", "fake", "real", "real", "fake"]
    assert m["original"].tolist() == [None, "real1", "real1", "real1", None, None, "real2"]
    g = dict(zip(m["video_id"], m["group"]))
    assert g["real1"] == g["fake1"] == g["fake2"] == g["fake4"]  # across parts too
    assert g["real2"] == g["fake3"] and len({g["real1"], g["real2"], g["gone"]}) == 3


def test_dfdc_missing_files_kept_with_exists_false(tmp_path):
    _dfdc(tmp_path)
    with pytest.warns(UserWarning, match="exists=False"):
        m = load_dfdc(tmp_path)
    assert m.loc[~m["exists"], "video_id"].tolist() == ["gone"]
    assert m["exists"].dtype == bool and m.loc[~m["exists"], "path"].str.endswith("dfdc_train_part_2/gone.mp4").all()


def test_dfdc_single_part_and_errors(tmp_path):
    _dfdc(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = load_dfdc(tmp_path / "dfdc_train_part_10")
    assert m["part"].tolist() == ["dfdc_train_part_10"] * 2
    (tmp_path / "dfdc_train_part_0" / "extra.mp4").write_bytes(b"")
    (tmp_path / "dfdc_train_part_0" / "empty").mkdir()
    with pytest.warns(UserWarning) as record:
        load_dfdc(tmp_path)
    messages = [str(w.message) for w in record]
    assert any("not on disk" in msg for msg in messages)
    assert any("1 not named in its part's metadata.json (unlabelled) (e.g. dfdc_train_part_0/extra.mp4)" in msg
               for msg in messages)
    (tmp_path / "dfdc_train_part_2" / "metadata.json").write_text(json.dumps({"x.mp4": {"label": "MAYBE"}}))
    with pytest.raises(ValueError, match="dfdc_train_part_2.*'x.mp4'"):
        load_dfdc(tmp_path)
    with pytest.raises(FileNotFoundError, match="no metadata.json or labels.csv"):
        load_dfdc(tmp_path / "dfdc_train_part_0" / "empty")  # a folder holding no part


def test_dfdc_test_set_read_from_labels_csv(tmp_path):
    # kind: DFDC's test set, labelled by labels.csv (filename,label; 1 = fake), not metadata.json;
    # it was refused ("no metadata.json") alone, and its videos were counted unlabelled beside train parts
    _dfdc(tmp_path)
    test = tmp_path / "test"
    (test / "videos").mkdir(parents=True)
    for name in ("t1.mp4", "t2.mp4", "t3.mp4", "unlisted.mp4"):
        (test / "videos" / name).write_bytes(b"")
    (test / "stray.mp4").write_bytes(b"")  # beside labels.csv while the videos are in videos/
    (test / "labels.csv").write_text("filename,label\nt1.mp4,1\nt2.mp4,0\nt3.mp4,FAKE\ngone2.mp4,1\n\n")
    with pytest.warns(UserWarning) as record:
        m = load_dfdc(test)
    check_manifest(m)
    assert m["video_id"].tolist() == ["t1", "t2", "t3", "gone2"] and m["label"].tolist() == [1, 0, 1, 1]
    assert m["split"].tolist() == ["test"] * 4 and m["original"].tolist() == [None] * 4
    assert m["path"].tolist()[0] == str(test / "videos" / "t1.mp4")
    assert m["exists"].tolist() == [True, True, True, False] and m["group"].nunique() == 4
    messages = " ".join(str(w.message) for w in record)
    assert "1 of 4 videos named in metadata.json or labels.csv are not on disk" in messages
    assert "1 not named in its part's labels.csv (unlabelled) (e.g. videos/unlisted.mp4)" in messages
    assert "stray.mp4" in messages
    # beside the training parts: one more part, in natural order
    with pytest.warns(UserWarning):
        m = load_dfdc(tmp_path)
    assert m.attrs["parts"] == ["dfdc_train_part_0", "dfdc_train_part_2", "dfdc_train_part_10", "test"]
    assert m.loc[m["part"] == "test", "label"].tolist() == [1, 0, 1, 1]
    # the videos beside labels.csv when there is no videos/ folder
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.mp4").write_bytes(b"")
    (flat / "labels.csv").write_text("label,filename\n0,a.mp4\n")  # column order from the header
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = load_dfdc(flat)
    assert m["path"].tolist() == [str(flat / "a.mp4")] and m["label"].tolist() == [0]
    # refused: a label outside 0/1, REAL/FAKE; no filename column; a short line; a name twice
    for text, match in [("filename,label\na.mp4,2\n", r"labels.csv: entry 'a.mp4'.*\(or 0 / 1\)"),
                        ("name,label\na.mp4,0\n", "expected the columns filename,label"),
                        ("filename,label\na.mp4\n", "line 2: 1 fields"),
                        ("filename,label\na.mp4,0\na.mp4,1\n", "line 3: 'a.mp4' is listed twice")]:
        (flat / "labels.csv").write_text(text)
        with pytest.raises(ValueError, match=match):
            load_dfdc(flat)
    (flat / "labels.csv").unlink()
    with pytest.raises(FileNotFoundError, match="no metadata.json or labels.csv"):
        load_dfdc(flat)


# ---------------------------------------------------------------- OpenFake

def _openfake_shard(path, n=4, **columns):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    images = [encode(natural_image(seed=i, shape=(24, 32)), "JPEG" if i % 2 else "PNG") for i in range(n)]
    table = {"image": pa.array([{"bytes": b, "path": f"img{i}.jpg"} for i, b in enumerate(images)]),
             "prompt": ["a dog", "a dog", "a cat", "a cat"][:n],
             "label": ["real", "fake", "REAL", "fake"][:n],
             "model": ["laion", "sdxl", "laion", "flux.1-dev"][:n],
             "type": ["photo"] * n}
    table.update(columns)
    pq.write_table(pa.table(table), path)
    return images


def test_openfake_bytes_labels_methods_groups(tmp_path):
    images = _openfake_shard(tmp_path / "train-0001.parquet")
    m = load_openfake(tmp_path / "train-0001.parquet")
    check_manifest(m)
    assert m.attrs["dataset"] == "openfake"
    assert m.attrs["columns"] == {"image": "image", "label": "label", "model": "model", "prompt": "prompt"}
    assert m["label"].tolist() == [0, 1, 0, 1]
    assert m["method"].tolist() == ["real", "sdxl", "real", "flux.1-dev"]
    assert m["model"].tolist() == ["laion", "sdxl", "laion", "flux.1-dev"]
    assert m["path"].isna().all() and m["row"].tolist() == [0, 1, 2, 3]
    assert m["filename"].tolist() == [f"img{i}.jpg" for i in range(4)]
    assert m["item"].tolist() == images
    g = m["group"].tolist()
    assert g[0] == g[1] != g[2] == g[3]  # grouped by prompt
    assert all(load_item(blob, i).rgb.shape == (24, 32, 3) for i, blob in enumerate(m["item"]))
    np.testing.assert_array_equal(load_item(m["item"][0]).rgb, natural_image(seed=0, shape=(24, 32)))  # PNG lossless


def test_openfake_folder_of_shards_and_binary_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    (tmp_path / "shards").mkdir()
    _openfake_shard(tmp_path / "shards" / "part-10.parquet")
    _openfake_shard(tmp_path / "shards" / "part-2.parquet", n=2)
    m = load_openfake(tmp_path / "shards")
    assert m["shard"].str.endswith(("part-2.parquet",)).tolist() == [True] * 2 + [False] * 4
    assert len(m) == 6 and m["group"].nunique() == 2  # same prompts across shards share a group
    blob = encode(natural_image(seed=5, shape=(16, 16)), "PNG")
    pq.write_table(pa.table({"png": pa.array([blob, blob], pa.binary()), "is_fake": [False, True],
                             "generator": ["x", "midjourney-v6"]}), tmp_path / "b.parquet")
    m = load_openfake(tmp_path / "b.parquet")
    assert m["label"].tolist() == [0, 1] and m["method"].tolist() == ["real", "midjourney-v6"]
    assert m["prompt"].isna().all() and m["group"].tolist() == [0, 1]  # no prompt: own groups
    assert m["item"][1] == blob


def test_openfake_shard_missing_from_a_numbered_set_is_reported(tmp_path):
    # kind: a split downloaded in part (train-00001-of-00003 absent): its rows vanished silently
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train-00000-of-00003.parquet", "train-00002-of-00003.parquet", "test-00000-of-00001.parquet"):
        _openfake_shard(data / name, n=2)
    with pytest.warns(UserWarning, match=r"1 shard\(s\).*not there.*first: .*train-00001-of-00003\.parquet") as record:
        m = load_openfake(data)
    assert len(record) == 1 and len(m) == 6
    assert m.attrs["missing_shards"] == [str(data / "train-00001-of-00003.parquet")]
    # a last shard missing too, and the same set given as files
    given = [data / "train-00000-of-00003.parquet"]
    with pytest.warns(UserWarning, match=r"2 shard\(s\)"):
        m = load_openfake(given)
    assert m.attrs["missing_shards"] == [str(data / f"train-0000{i}-of-00003.parquet") for i in (1, 2)]
    # the valid look-alikes: the whole set, and shards not named by the Hub's pattern, warn of nothing
    _openfake_shard(data / "train-00001-of-00003.parquet", n=2)
    (tmp_path / "other").mkdir()
    _openfake_shard(tmp_path / "other" / "part-7.parquet", n=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_openfake(data)) == 8 and load_openfake(data).attrs["missing_shards"] == []
        assert len(load_openfake(tmp_path / "other")) == 2


def test_openfake_explicit_columns_and_errors(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    blob = encode(natural_image(seed=1, shape=(16, 16)), "JPEG")
    pq.write_table(pa.table({"pic": [blob] * 3, "pic2": [blob] * 3, "y": ["fake", "real", "fake"],
                             "gen": ["a", "b", "c"]}), tmp_path / "s.parquet")
    with pytest.raises(KeyError, match="no image column"):
        load_openfake(tmp_path / "s.parquet")
    m = load_openfake(tmp_path / "s.parquet", image_column="pic", label_column="y", model_column="gen")
    assert m["label"].tolist() == [1, 0, 1] and m["method"].tolist() == ["a", "real", "c"]
    with pytest.raises(KeyError, match="'nope'"):
        load_openfake(tmp_path / "s.parquet", image_column="nope", label_column="y")
    pq.write_table(pa.table({"image": [blob, blob], "label": ["real", "synthetic"]}), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="bad.parquet, row 1: label 'synthetic'"):
        load_openfake(tmp_path / "bad.parquet")
    pq.write_table(pa.table({"image": [blob, None], "label": ["real", "fake"]}), tmp_path / "hole.parquet")
    with pytest.raises(ValueError, match="hole.parquet, row 1: no image bytes"):
        load_openfake(tmp_path / "hole.parquet")
    with pytest.raises(FileNotFoundError, match="missing.parquet"):
        load_openfake(tmp_path / "missing.parquet")
    good = (tmp_path / "s.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(good[: len(good) // 2])  # a half-downloaded shard
    with pytest.raises(ValueError, match="cut.parquet is not a readable Parquet file"):
        load_openfake(tmp_path / "cut.parquet", image_column="pic", label_column="y")


def test_openfake_classlabel_names_are_honoured(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    blob = encode(natural_image(seed=2, shape=(16, 16)), "PNG")
    hf = {"info": {"features": {"image": {"_type": "Image"},
                                "label": {"_type": "ClassLabel", "names": ["fake", "real"]}}}}
    table = pa.table({"image": [blob, blob], "label": [0, 1]})
    table = table.replace_schema_metadata({b"huggingface": json.dumps(hf).encode()})
    pq.write_table(table, tmp_path / "cl.parquet")
    assert load_openfake(tmp_path / "cl.parquet")["label"].tolist() == [1, 0]  # code 0 is "fake"


# ---------------------------------------------------------------- folder (videos)

def test_folder_lists_videos_with_kind(tmp_path):
    _touch(tmp_path, "real/a.jpg", "real/b.mov", "fake/swap/c.MP4", "fake/swap/d.webm", "fake/e.avi", "fake/f.txt")
    m = load_folder(tmp_path)
    assert m.attrs["dataset"] == "folder"
    assert m["kind"].tolist() == ["image", "video", "video", "video", "video"]
    assert m["method"].tolist() == ["real", "real", "fake", "swap", "swap"]
    with pytest.warns(SkippedFilesWarning, match=r"3 media file\(s\) .* 1 \.mov file, not in suffixes= \(e\.g\. "
                                                 r"real/b\.mov\); 1 \.mp4 file.*1 \.webm file"):
        assert load_folder(tmp_path, suffixes=(".jpg", ".AVI"))["kind"].tolist() == ["image", "video"]


# ---------------------------------------------------------------- nothing vanishes: every loader

MEDIA = (".jpg", ".jpeg", ".png", ".mp4", ".avi", ".heic", ".parquet")


def _media_under(root):
    """Every media name under ``root``, counted independently of the library (links not followed)."""
    import os

    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files
                  if os.path.splitext(f)[1].lower() in MEDIA)


def _generic_surplus(root, folder, stem, suffix=".mp4"):
    """A broken link, a FIFO and a hidden resource fork with a media name in ``folder``; a note."""
    import os

    folder = root / folder
    os.symlink(root / "nowhere" / f"gone{suffix}", folder / f"{stem}_broken{suffix}")
    os.mkfifo(folder / f"{stem}_pipe{suffix}")
    (folder / f"._{stem}{suffix}").write_bytes(b"\0\5\26\7")  # macOS resource fork
    (folder / "notes.txt").write_text("not media: never counted")
    return {f"{stem}_broken{suffix}": "broken symbolic link", f"{stem}_pipe{suffix}": "not a regular file",
            f"._{stem}{suffix}": "hidden"}


def _link(root, rel, target_rel):
    import os

    target = root.parent / "elsewhere" / target_rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"")
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, root / rel)


def _case_folder(root):
    _touch(root, "real/a.jpg", "fake/swap/B.JPG", "fake/c.MP4", "real/sub/d.png")
    _link(root, "real/linked.jpg", "photo.jpg")
    _touch(root, "loose.jpg", "other/e.png", "fake/f.heic")
    expected_rows = ["real/a.jpg", "real/linked.jpg", "real/sub/d.png", "fake/c.MP4", "fake/swap/B.JPG"]
    skipped = {"loose.jpg": "outside real/ and fake/", "other/e.png": "outside real/ and fake/",
               "fake/f.heic": "not in suffixes="}
    skipped.update({f"real/{k}": v for k, v in _generic_surplus(root, "real", "x", ".jpg").items()})
    harmless = {"fake/f.heic", "real/._x.jpg"}
    return load_folder, {}, expected_rows, skipped, harmless


def _case_ffpp(root):
    yt, df = "original_sequences/youtube/c23/videos", "manipulated_sequences/Deepfakes/c23/videos"
    _touch(root, f"{yt}/000.mp4", f"{yt}/003.MP4", f"{df}/000_003.mp4")
    _link(root, f"{df}/003_000.mp4", "ffpp_fake.mp4")
    _touch(root, f"{df}/000_003 (copy).mp4", f"{df}/000_003.avi",
           "manipulated_sequences/Deepfakes/c40/videos/000_003.mp4",
           "manipulated_sequences/Deepfakes/masks/videos/000_003.mp4",
           "manipulated_sequences/NewMethod/c23/videos/000_003.mp4",
           "original_sequences/youtube/c23/videos/old/001.mp4", "README.mp4")
    expected_rows = [f"{yt}/000.mp4", f"{yt}/003.MP4", f"{df}/000_003.mp4", f"{df}/003_000.mp4"]
    skipped = {f"{df}/000_003 (copy).mp4": "name does not follow", f"{df}/000_003.avi": "not a .mp4 file",
               "manipulated_sequences/Deepfakes/c40/videos/000_003.mp4": "compression c40 not selected",
               "manipulated_sequences/Deepfakes/masks/videos/000_003.mp4": "mask video",
               "manipulated_sequences/NewMethod/c23/videos/000_003.mp4": "unknown method folder NewMethod/",
               "original_sequences/youtube/c23/videos/old/001.mp4": "outside the data set's layout",
               "README.mp4": "outside the data set's layout"}
    skipped.update({f"{yt}/{k}": v for k, v in _generic_surplus(root, yt, "002").items()})
    harmless = {"manipulated_sequences/Deepfakes/c40/videos/000_003.mp4",
                "manipulated_sequences/Deepfakes/masks/videos/000_003.mp4", f"{yt}/._002.mp4"}
    return load_faceforensics, {}, expected_rows, skipped, harmless


def _case_celebdf(root):
    _touch(root, "Celeb-real/id0_0000.mp4", "YouTube-real/00000.MP4", "Celeb-synthesis/id0_id1_0000.mp4")
    _link(root, "Celeb-real/id1_0000.mp4", "celeb.mp4")
    (root / "List_of_testing_videos.txt").write_text("1 YouTube-real/00000.mp4\n")
    _touch(root, "Celeb-real/id0.mp4", "Celeb-real/id0_0001.avi", "Celeb-real/extra/id2_0000.mp4",
           "Celeb-synthesis-v1/id0_id1_0000.mp4")
    expected_rows = ["Celeb-real/id0_0000.mp4", "Celeb-real/id1_0000.mp4", "YouTube-real/00000.MP4",
                     "Celeb-synthesis/id0_id1_0000.mp4"]
    skipped = {"Celeb-real/id0.mp4": "name does not follow", "Celeb-real/id0_0001.avi": "not a .mp4 file",
               "Celeb-real/extra/id2_0000.mp4": "in a subfolder of Celeb-real/",
               "Celeb-synthesis-v1/id0_id1_0000.mp4": "outside the data set's layout"}
    skipped.update({f"Celeb-synthesis/{k}": v for k, v in _generic_surplus(root, "Celeb-synthesis", "id3").items()})
    return load_celebdf, {}, expected_rows, skipped, {"Celeb-synthesis/._id3.mp4"}


def _case_dfdc(root):
    meta = {"aaa.mp4": {"label": "FAKE", "original": "bbb.mp4"}, "bbb.mp4": {"label": "REAL"},
            "CCC.MP4": {"label": "REAL"}}
    (root / "part_0").mkdir()
    (root / "part_0" / "metadata.json").write_text(json.dumps(meta))
    _touch(root, "part_0/aaa.mp4", "part_0/CCC.MP4")
    _link(root, "part_0/bbb.mp4", "dfdc.mp4")
    _touch(root, "part_0/zzz.MP4", "part_1/ddd.mp4", "stray.mp4", "part_0/faces/aaa.jpg")
    expected_rows = ["part_0/aaa.mp4", "part_0/bbb.mp4", "part_0/CCC.MP4"]
    skipped = {"part_0/zzz.MP4": "not named in its part's metadata.json", "part_1/ddd.mp4": "without metadata.json",
               "stray.mp4": "not directly in a part folder", "part_0/faces/aaa.jpg": "not directly in a part folder"}
    skipped.update({f"part_1/{k}": v for k, v in _generic_surplus(root, "part_1", "eee").items()})
    return load_dfdc, {}, expected_rows, skipped, {"part_1/._eee.mp4"}


def _case_openfake(root):
    import os

    (root / "data").mkdir()
    _openfake_shard(root / "data" / "train-0.parquet", n=2)
    _openfake_shard(root / "data" / "train-1.PARQUET", n=2)
    _openfake_shard(root.parent / "elsewhere.parquet", n=2)
    os.symlink(root.parent / "elsewhere.parquet", root / "data" / "train-2.parquet")
    _touch(root, "data/sample.jpg", "README.png")
    (root / ".cache").mkdir()
    _openfake_shard(root / ".cache" / "partial.parquet", n=2)
    expected_rows = ["data/train-0.parquet", "data/train-1.PARQUET", "data/train-2.parquet"]
    skipped = {"data/sample.jpg": "not a .parquet shard", "README.png": "not a .parquet shard",
               ".cache/partial.parquet": "hidden"}
    skipped.update({f"data/{k}": v for k, v in _generic_surplus(root, "data", "t", ".parquet").items()})
    return load_openfake, {}, expected_rows, skipped, {".cache/partial.parquet", "data/._t.parquet"}


def _case_manifest(root):
    _touch(root, "imgs/a.jpg", "imgs/B.JPG", "imgs/c.png")
    _link(root, "imgs/linked.jpg", "m.jpg")
    (root / "manifest.csv").write_text("path,label\nimgs/a.jpg,0\nimgs/B.JPG,1\nimgs/linked.jpg,1\n")
    expected_rows = ["imgs/a.jpg", "imgs/B.JPG", "imgs/linked.jpg"]
    skipped = {"imgs/c.png": "not listed in the manifest CSV"}
    skipped.update({f"imgs/{k}": v for k, v in _generic_surplus(root, "imgs", "x", ".jpg").items()})
    return (lambda root, strict=False: read_manifest(root / "manifest.csv", strict=strict)), {}, expected_rows, \
        skipped, {"imgs/._x.jpg"}


CASES = {"folder": _case_folder, "faceforensics": _case_ffpp, "celebdf": _case_celebdf, "dfdc": _case_dfdc,
         "openfake": _case_openfake, "manifest": _case_manifest}


@pytest.mark.parametrize("name", list(CASES))
def test_every_media_file_is_listed_or_counted_with_its_reason(tmp_path, name):
    root = tmp_path / "root"
    root.mkdir()
    load, kwargs, expected_rows, skipped, harmless = CASES[name](root)
    expected_rows = [str(root / r) for r in expected_rows]
    with pytest.warns(SkippedFilesWarning) as record:
        m = load(root, **kwargs)
    mine = [w for w in record if issubclass(w.category, SkippedFilesWarning)]
    assert len(mine) == 1  # one warning, every reason in it
    message = str(mine[0].message)
    assert mine[0].filename == __file__  # points at the caller's line
    # the listed rows: upper-case suffixes are media, a link is listed under its own path
    listed = sorted(set(m["shard"])) if name == "openfake" else m["path"].tolist()
    assert sorted(listed) == sorted(expected_rows)
    # every media name under the root is a row or counted: nothing vanishes
    assert len(listed) + sum(m.attrs["skipped"].values()) == len(_media_under(root))
    assert sum(m.attrs["skipped"].values()) == len(skipped)
    for reason in {v for v in skipped.values()}:
        assert reason in message
    # strict: an error naming each data-losing file with its reason; harmless ones are not errors
    with pytest.warns(SkippedFilesWarning) if not any(k not in harmless for k in skipped) else \
            pytest.raises(SkippedFilesError) as err:
        load(root, strict=True, **kwargs)
    lost = {str(root / k): v for k, v in skipped.items() if k not in harmless}
    got = {p: reason for reason, paths in err.value.skipped.items() for p in paths}
    assert sorted(got) == sorted(lost)
    for path, reason in lost.items():
        assert reason in got[path], (path, got[path])
    assert err.value.loader in str(err.value) and isinstance(err.value, ValueError)


def test_strict_passes_when_only_harmless_files_are_left_out(tmp_path):
    _touch(tmp_path, "real/a.jpg", "fake/b.png", "fake/c.mp4", "real/._a.jpg")
    with pytest.warns(SkippedFilesWarning, match=r"1 \.mp4 file, not in suffixes=.*1 hidden") as record:
        m = load_folder(tmp_path, suffixes=(".jpg", ".png"), strict=True)
    assert "strict=True" not in str(record[0].message)  # nothing to make an error of
    assert m["path"].str.endswith(("a.jpg", "b.png")).all() and len(m) == 2
    assert m.attrs["skipped"] == {".mp4 file, not in suffixes=": 1,
                                  "hidden (name or folder starting with '.', or __MACOSX)": 1}
    (tmp_path / "real" / "._a.jpg").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left out: no warning at all
        m = load_folder(tmp_path, strict=True)
    assert len(m) == 3 and m.attrs["skipped"] == {}


def test_folder_links_are_followed_and_loops_do_not_hang(tmp_path):
    import os

    _touch(tmp_path, "real/a.jpg", "fake/b.png", "shared/c.jpg")
    os.symlink(tmp_path / "shared", tmp_path / "fake" / "gan")       # a linked folder is followed
    os.symlink(tmp_path / "real", tmp_path / "real" / "loop")        # a loop is not
    with pytest.warns(SkippedFilesWarning) as record:
        m = load_folder(tmp_path)
    assert m["path"].tolist() == [str(tmp_path / "real" / "a.jpg"), str(tmp_path / "fake" / "b.png"),
                                  str(tmp_path / "fake" / "gan" / "c.jpg")]
    assert m["method"].tolist() == ["real", "fake", "gan"]
    message = str(record[0].message)
    assert "1 link back to a folder that holds it (a loop, not followed) (e.g. real/loop)" in message
    assert "1 outside real/ and fake/ (no label) (e.g. shared/c.jpg)" in message  # its own path is outside
    with pytest.raises(SkippedFilesError) as err:
        load_folder(tmp_path, strict=True)
    assert list(err.value.skipped) == ["outside real/ and fake/ (no label)"]  # the loop loses nothing
    (tmp_path / "shared" / "c.jpg").unlink()
    with pytest.warns(SkippedFilesWarning, match="loop"):
        assert len(load_folder(tmp_path, strict=True)) == 2


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root reads files without read permission: run as a normal user")
def test_unreadable_file_and_folder_are_counted(tmp_path):
    import os

    _touch(tmp_path, "real/a.jpg", "real/secret.jpg", "fake/b.png", "fake/locked/c.png")
    os.chmod(tmp_path / "real" / "secret.jpg", 0)
    os.chmod(tmp_path / "fake" / "locked", 0)
    try:
        with pytest.raises(SkippedFilesError) as err:
            load_folder(tmp_path, strict=True)
        assert set(err.value.skipped) == {"unreadable (no read permission)",
                                          "folder that cannot be listed (its files are unknown)"}
    finally:
        os.chmod(tmp_path / "fake" / "locked", 0o755)


def test_read_manifest_rows_and_refusals(tmp_path):
    _touch(tmp_path, "a.jpg", "b.jpg")
    (tmp_path / "m.csv").write_text("path,label,method,group\na.jpg,0,real,3\nb.jpg,1,gan,3\ngone.jpg,1,gan,4\n")
    with pytest.warns(UserWarning, match=r"1 of 3 rows .*/gone\.jpg"):
        m = read_manifest(tmp_path / "m.csv")
    assert m["path"].tolist() == [str(tmp_path / n) for n in ("a.jpg", "b.jpg", "gone.jpg")]
    assert m["label"].dtype == np.int64 and m["label"].tolist() == [0, 1, 1]
    assert m["method"].tolist() == ["real", "gan", "gan"] and m["group"].tolist() == [3, 3, 4]
    assert m["exists"].tolist() == [True, True, False] and m.attrs["skipped"] == {}
    # root= narrows or widens the folder the manifest must cover
    _touch(tmp_path, "sub/c.jpg")
    (tmp_path / "sub" / "m.csv").write_text(f"path,label\n{tmp_path / 'a.jpg'},0\nc.jpg,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_manifest(tmp_path / "sub" / "m.csv")["path"].tolist() == [str(tmp_path / "a.jpg"),
                                                                              str(tmp_path / "sub" / "c.jpg")]
    with pytest.raises(SkippedFilesError, match="1 not listed in the manifest CSV.*b.jpg"):
        read_manifest(tmp_path / "sub" / "m.csv", root=tmp_path, strict=True)
    for text, match in [("path\na.jpg\n", "lacks the column"), ("path,label\na.jpg,2\n", "row 0 .* label 2"),
                        ("path,label\na.jpg,0\n,1\n", "row 1: empty path"),
                        ("path,label,method\na.jpg,1,real\n", "row 0 .* label 1 with method 'real'"),
                        ("path,label\na.jpg,fake\n", "label 'fake'")]:
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(ValueError, match=match):
            read_manifest(tmp_path / "bad.csv", root=tmp_path / "sub")
    (tmp_path / "ok.csv").write_text("path,label\na.jpg,0.0\nb.jpg,1\n")  # 0.0 is a valid 0
    with pytest.warns(SkippedFilesWarning, match=r"read_manifest: 1 media file\(s\) under .*/sub are not in the "
                                                 r"manifest: 1 not listed in the manifest CSV \(unlabelled\) \(e\.g\. c\.jpg\)"):
        assert read_manifest(tmp_path / "ok.csv", root=tmp_path / "sub")["label"].tolist() == [0, 1]
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_manifest(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="missing_root"):
        read_manifest(tmp_path / "ok.csv", root=tmp_path / "missing_root")


def test_folder_lists_every_image_format_the_decoder_reads(tmp_path):
    """JPEG under .jfif/.jpe, PNM under .ppm/.pgm/.pnm are listed (the decoder reads them); a format it
    refuses (.heic) is counted as skipped, with its suffix, never silently dropped."""
    from forensics.datasets import load_folder

    rgb = natural_image(1, (24, 20))
    files = {"real/a.jfif": encode(rgb, "JPEG"), "real/b.ppm": encode(rgb, "PPM"),
             "fake/c.pgm": encode(rgb[:, :, 0], "PPM"), "fake/d.jpe": encode(rgb, "JPEG"),
             "fake/e.PNM": encode(rgb, "PPM"), "fake/f.heic": b"\x00\x00\x00\x18ftypheic"}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    with pytest.warns(SkippedFilesWarning, match=r"\.heic"):
        manifest = load_folder(tmp_path)
    assert sorted(p.rsplit("/", 1)[-1] for p in manifest["path"]) == ["a.jfif", "b.ppm", "c.pgm", "d.jpe", "e.PNM"]
    for path in manifest["path"]:
        assert load_item(path).rgb.shape == (24, 20, 3)


def test_a_file_name_with_undecodable_bytes_is_counted_not_a_crash(tmp_path):
    """A name in Latin-1 on a UTF-8 system (an old archive): Python holds its bytes as lone
    surrogates, which a pandas 3 string column cannot store, so load_folder used to crash building
    the manifest. Such a file is counted in the SkippedFilesWarning with its name escaped (an error
    under strict=True); a folder holding only such files says so. Look-alike: a valid non-ASCII
    name ('café', any normalization) is listed."""
    import os

    for top in ("real", "fake"):
        (tmp_path / top).mkdir()
    png = encode(natural_image(0, (8, 8)), "PNG")
    bad = os.fsdecode(os.fsencode(str(tmp_path / "real")) + b"/caf\xe9.png")
    try:
        with open(bad, "wb") as f:
            f.write(png)
    except OSError:  # pragma: no cover - a file system that refuses such names
        pytest.skip("this file system refuses names that are not valid UTF-8")
    (tmp_path / "fake" / "x.png").write_bytes(png)
    with pytest.raises(FileNotFoundError, match=r"real holds no image .*; 1 media file\(s\) there cannot be listed "
                                                r"\(first: .*caf\\udce9\.png: name that is not valid text"):
        load_folder(tmp_path)
    (tmp_path / "real" / "café.png").write_bytes(png)
    with pytest.warns(SkippedFilesWarning, match=r"1 name that is not valid text in the file system's encoding .*"
                                                 r"\(e\.g\. real/caf\\udce9\.png\)"):
        m = load_folder(tmp_path)
    assert [os.path.basename(p) for p in m["path"]] == ["café.png", "x.png"]
    with pytest.raises(SkippedFilesError) as err:
        load_folder(tmp_path, strict=True)
    assert list(err.value.skipped.values()) == [[bad]]  # the real path, usable to rename the file


# ---------------------------------------------------------------- round 5: names and layouts

def test_a_media_name_ending_in_spaces_or_dots_is_counted_not_ignored(tmp_path):
    # kind: 'a.jpg ' or 'a.jpg.' (from an archive; Windows drops the trailing characters): the
    # suffix check saw '.jpg ' or '.', not a media file, and the image vanished without a word
    _touch(tmp_path, "real/a.jpg", "real/b.jpg ", "fake/c.PNG.", "fake/d.png", "fake/notes.txt ", ".cache/e.jpg ")
    with pytest.warns(SkippedFilesWarning) as caught:
        m = load_folder(tmp_path)
    assert [p.rsplit("/", 1)[1] for p in m["path"]] == ["a.jpg", "d.png"]
    message = str(caught[0].message)
    assert ("2 name ending in spaces or dots after its suffix ('a.jpg ', 'a.jpg.'): the suffix is not recognised "
            "and Windows cannot hold the name; rename the file (e.g. ") in message
    assert "'fake/c.PNG.'" in message and "'real/b.jpg '" in message  # quoted: the trailing characters show
    assert "1 hidden" in message and "notes.txt" not in message  # hidden stays hidden; not media stays ignored
    with pytest.raises(SkippedFilesError) as err:
        load_folder(tmp_path, strict=True)
    assert sorted(p.rsplit("/", 1)[1] for r, ps in err.value.skipped.items() for p in ps) == ["b.jpg ", "c.PNG."]


def test_dfdc_and_manifest_rows_name_a_twin_in_letter_case_or_trailing_characters(tmp_path):
    # kind: metadata.json (or a manifest CSV) written on macOS/Windows naming 'AAA.mp4' for the file
    # 'aaa.mp4' (those systems match names case-insensitively): the row was absent, the file
    # unlabelled, and nothing tied the two together
    part = tmp_path / "dfdc_train_part_0"
    part.mkdir()
    meta = {"AAA.mp4": {"label": "FAKE", "original": "bbb.mp4"}, "bbb.mp4": {"label": "REAL"},
            "ccc.mp4": {"label": "REAL"}}
    (part / "metadata.json").write_text(json.dumps(meta))
    _touch(part, "aaa.mp4", "bbb.mp4", "ccc.mp4 ")
    with pytest.warns(UserWarning) as caught:
        m = load_dfdc(tmp_path)
    assert m["exists"].tolist() == [False, True, False]
    text = " | ".join(str(w.message) for w in caught)
    assert ("2 of 3 videos named in metadata.json or labels.csv are not on disk, or not readable (first: "
            f"{part / 'AAA.mp4'}); their rows have exists=False (extracted, each is a row of status 'error', NaN "
            "features); 1 of them: a file whose name differs only in letter "
            "case exists: 'aaa.mp4'; 1 of them: a file whose name differs only in trailing spaces or dots exists: "
            "'ccc.mp4 '") in text
    # the manifest CSV gives the same note; a row whose file is there (the look-alike) has none
    (tmp_path / "m.csv").write_text("path,label\ndfdc_train_part_0/AAA.mp4,1\ndfdc_train_part_0/bbb.mp4,0\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_manifest(tmp_path / "m.csv", root=part)
    assert str(caught[0].message).endswith("exists=False; 1 of them: a file whose name differs only in letter case "
                                           "exists: 'aaa.mp4'")
    assert "1 not listed in the manifest CSV (unlabelled) (e.g. aaa.mp4)" in str(caught[1].message)


def test_ffpp_method_with_only_another_compression_is_named_by_the_compression(tmp_path):
    # kind: a partial FF++ download where FaceSwap has only c40 videos, loaded with c23 and
    # methods=None: its videos were said to be "not selected (methods=)", which the caller never set
    _ffpp(tmp_path)
    for rel in ("000_003", "003_000"):
        (tmp_path / f"manipulated_sequences/FaceSwap/c23/videos/{rel}.mp4").unlink()
    (tmp_path / "manipulated_sequences/FaceSwap/c23/videos").rmdir()
    _touch(tmp_path, "manipulated_sequences/FaceSwap/c40/videos/000_003.mp4")
    m, caught = _ffpp_load(tmp_path)
    assert m.attrs["methods"] == ["Deepfakes", "Face2Face"]
    message = str(caught[0].message)
    assert "1 compression c40 not selected (compression=) (e.g. manipulated_sequences/FaceSwap/c40" in message
    assert "not selected (methods=)" not in message
    # look-alike: a method the caller left out, at the compression read, is named by methods=
    _touch(tmp_path, "manipulated_sequences/FaceSwap/c23/videos/000_003.mp4")
    m, caught = _ffpp_load(tmp_path, methods=["Deepfakes"])
    assert "1 method FaceSwap not selected (methods=)" in str(caught[0].message)


def test_dfdc_original_named_in_another_letter_case_shares_its_group(tmp_path):
    # kind: metadata.json edited on a case-insensitive system: a fake's "original" is 'BBB.MP4' for
    # the real 'bbb.mp4'; the two got different groups, so a split could train on the source of a test fake
    part = tmp_path / "dfdc_train_part_0"
    part.mkdir()
    meta = {"aaa.mp4": {"label": "FAKE", "original": "BBB.MP4"}, "bbb.mp4": {"label": "REAL"},
            "ccc.mp4": {"label": "FAKE", "original": "ddd.mp4"}, "ddd.mp4": {"label": "REAL"}}
    (part / "metadata.json").write_text(json.dumps(meta))
    _touch(part, *meta)
    m = load_dfdc(tmp_path)
    assert m["original"].tolist() == ["BBB", None, "ddd", None]  # as the metadata writes it
    assert _group_of(m, "aaa") == _group_of(m, "bbb") != _group_of(m, "ccc") == _group_of(m, "ddd")


def test_manifest_rows_naming_one_file_are_warned_about(tmp_path):
    # kind: a manifest naming one file twice ('a.jpg' and './a.jpg', a link and its target; 'A.jpg'
    # and 'a.jpg' on a case-insensitive file system): the file counted twice, silently, and could
    # sit in both halves of a split
    import os

    _touch(tmp_path, "a.jpg", "b.jpg", "c.jpg")
    os.symlink(tmp_path / "c.jpg", tmp_path / "link.jpg")
    (tmp_path / "m.csv").write_text("path,label\na.jpg,0\nb.jpg,1\n./a.jpg,0\nlink.jpg,1\nc.jpg,1\n")
    with pytest.warns(UserWarning, match=r"^2 row\(s\) of .*m\.csv name a file that an earlier row names \(first: "
                                         r"rows 0 and 2: .*/a\.jpg and .*/a\.jpg\)") as caught:
        m = read_manifest(tmp_path / "m.csv")
    assert len(m) == 5 and m["exists"].all()  # rows kept
    assert len(caught) == 1 and caught[0].filename == __file__  # it points at the call of read_manifest
    # look-alike: 'A.jpg' and 'a.jpg' on a case-sensitive file system are two files: no warning
    _touch(tmp_path, "A.jpg")
    (tmp_path / "link.jpg").unlink()
    (tmp_path / "m.csv").write_text("path,label\na.jpg,0\nA.jpg,1\nb.jpg,1\nc.jpg,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_manifest(tmp_path / "m.csv")["exists"].all()


def test_pandas_na_strings_fallback_matches_this_pandas():
    # the fallback list (for a pandas that moves its private STR_NA_VALUES) must be what pandas
    # really reads as missing: every string of it parsed as NaN, and nothing else pandas parses so
    from forensics.datasets._manifest import _DOCUMENTED_NA_STRINGS, _pandas_na_strings

    assert sorted(_DOCUMENTED_NA_STRINGS) == _pandas_na_strings()
    text = "x\n" + "\n".join(f'"{s}"' for s in _DOCUMENTED_NA_STRINGS) + "\nNa\n"
    parsed = pd.read_csv(io.StringIO(text), dtype=str)["x"]
    assert parsed[:-1].isna().all() and parsed.iloc[-1] == "Na"  # a look-alike stays text


def test_manifest_names_that_pandas_reads_as_missing_are_kept(tmp_path):
    # kind: a file literally named 'NA', 'None', 'null', 'nan', 'N/A' (any of pandas' default NA
    # strings) was refused as "empty path" by both manifest readers, and a group, method or split
    # named so became missing; only an empty cell is missing now
    from pandas._libs.parsers import STR_NA_VALUES

    from forensics._sources import load_data

    names = sorted(STR_NA_VALUES - {""})  # '#N/A N/A', '-1.#IND', 'N/A' (a folder N and a file A)...
    _touch(tmp_path, *names)
    lines = ["path,label,method,group,split"] + [f"{n},{k % 2},{'real' if k % 2 == 0 else n},{n},{n}"
                                                 for k, n in enumerate(names)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    for read in (read_manifest, load_data):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m = read(tmp_path / "m.csv")
        assert m["path"].tolist() == [str(tmp_path / n) for n in names], read
        assert m["group"].tolist() == names and m["split"].tolist() == names
        assert m["method"].tolist() == ["real" if k % 2 == 0 else n for k, n in enumerate(names)]
        assert m["label"].tolist() == [k % 2 for k in range(len(names))]
    assert read_manifest(tmp_path / "m.csv")["exists"].all()
    # look-alikes: an empty cell is still missing (an empty path refused, naming the row; an empty
    # group stays missing); a label written 'NA' is no label, refused as before
    (tmp_path / "m.csv").write_text("path,label,group\nNA,0,\nnan,1,None\n")
    m = read_manifest(tmp_path / "m.csv")
    assert m["group"].isna().tolist() == [True, False] and m["group"].iloc[1] == "None"
    for read in (read_manifest, load_data):
        (tmp_path / "bad.csv").write_text("path,label\nNA,0\n,1\n")
        with pytest.raises(ValueError, match="row 1"):
            read(tmp_path / "bad.csv")
        (tmp_path / "bad.csv").write_text("path,label\nNA,0\nnull,NA\n")
        with pytest.raises(ValueError, match=r"row 1 \(.*/null\): label .* is not 0 \(real\) or 1 \(fake\)"):
            read(tmp_path / "bad.csv")
    # other columns keep pandas' missing values (a score written 'NA' is a missing number)
    (tmp_path / "m.csv").write_text("path,label,score\nNA,0,NA\nnan,1,0.5\n")
    score = read_manifest(tmp_path / "m.csv")["score"]
    assert score.dtype == np.float64 and score.isna().tolist() == [True, False]


def test_dfdc_entries_naming_one_file_are_warned_about(tmp_path):
    # kind: a metadata.json listing 'b.mp4' and './b.mp4' (or '../part/b.mp4') gave two rows, in
    # two groups, for one file, silently
    part = tmp_path / "dfdc_train_part_0"
    part.mkdir()
    meta = {"a.mp4": {"label": "FAKE", "original": "b.mp4"}, "b.mp4": {"label": "REAL"},
            "./b.mp4": {"label": "REAL"}, "../dfdc_train_part_0/b.mp4": {"label": "REAL"}, "c.mp4": {"label": "REAL"}}
    (part / "metadata.json").write_text(json.dumps(meta))
    _touch(part, "a.mp4", "b.mp4", "c.mp4")
    with pytest.warns(UserWarning, match=r"^2 row\(s\) of the DFDC metadata under .* name a file that an earlier row "
                                         r"names \(first: rows 1 and 2: dfdc_train_part_0/metadata\.json: 'b\.mp4' and "
                                         r"dfdc_train_part_0/metadata\.json: '\./b\.mp4'\)") as caught:
        m = load_dfdc(tmp_path)
    assert len(caught) == 1 and len(m) == 5 and m["exists"].all()  # rows kept
    # look-alike: entries naming three files, one of them absent: no such warning
    meta = {"a.mp4": {"label": "FAKE", "original": "b.mp4"}, "b.mp4": {"label": "REAL"},
            "c.mp4": {"label": "REAL"}, "gone.mp4": {"label": "REAL"}}
    (part / "metadata.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning) as caught:
        assert load_dfdc(tmp_path)["exists"].tolist() == [True, True, True, False]
    assert [str(w.message).split(" (first")[0] for w in caught] == ["1 of 4 videos named in metadata.json or "
                                                                      "labels.csv are not on disk, or not readable"]


def test_link_loops_are_named_as_loops(tmp_path):
    # kind: a symbolic link to itself, or two links to each other, was counted as a "broken
    # symbolic link"; look-alike: a link to a missing file is still one
    import os

    from forensics.datasets._inventory import BROKEN_LINK, Inventory

    _touch(tmp_path, "real/a.jpg", "fake/b.jpg")
    os.symlink("self.jpg", tmp_path / "real" / "self.jpg")
    os.symlink("two.jpg", tmp_path / "fake" / "one.jpg")
    os.symlink("one.jpg", tmp_path / "fake" / "two.jpg")
    os.symlink("gone.jpg", tmp_path / "fake" / "broken.jpg")
    inventory = Inventory(tmp_path)
    reasons = {p.name: r for p, r in inventory.problems_below(tmp_path)}
    loop = "symbolic link loop (a link that points to itself, or links that point to each other): no file at its end"
    assert reasons == {"self.jpg": loop, "one.jpg": loop, "two.jpg": loop, "broken.jpg": BROKEN_LINK}
    with pytest.raises(SkippedFilesError, match=r"3 symbolic link loop .*1 broken symbolic link"):
        load_folder(tmp_path, strict=True)
    # a manifest's and DFDC's rows naming them: kept with exists=False, the loops counted as such
    (tmp_path / "m.csv").write_text("path,label\nreal/a.jpg,0\nreal/self.jpg,0\nfake/one.jpg,1\nfake/broken.jpg,1\n")
    with pytest.warns(UserWarning, match=r"3 of 4 rows .* exists=False; 2 of them: symbolic link loop \(a link that "
                                         r"points to itself, or links that point to each other\): no file at its end "
                                         r"\(first: .*/real/self\.jpg\)$"):
        assert read_manifest(tmp_path / "m.csv", root=tmp_path / "real")["exists"].tolist() == [True, False, False,
                                                                                                False]
    part = tmp_path / "fake"
    (part / "metadata.json").write_text(json.dumps({"b.jpg": {"label": "REAL"}, "one.jpg": {"label": "FAKE"},
                                                    "broken.jpg": {"label": "FAKE"}}))
    with pytest.warns(UserWarning) as caught:
        load_dfdc(part)
    said = [str(w.message) for w in caught if "not on disk" in str(w.message)]
    assert len(said) == 1 and said[0].endswith(r"; 1 of them: " + loop + f" (first: {part / 'one.jpg'})")
    # look-alike: a broken link alone gets no loop note
    (part / "metadata.json").write_text(json.dumps({"b.jpg": {"label": "REAL"}, "broken.jpg": {"label": "FAKE"}}))
    with pytest.warns(UserWarning) as caught:
        load_dfdc(part)
    said = [str(w.message) for w in caught if "not on disk" in str(w.message)]
    assert len(said) == 1 and "symbolic link loop" not in said[0]


def test_loader_metadata_names_pandas_would_read_as_missing_are_kept(tmp_path):
    # guard (the loaders read their metadata without pandas' NA strings: csv, JSON, pyarrow): a DFDC
    # labels.csv naming files 'NA' and 'None', an OpenFake model named 'None' and prompts 'null'
    # keep those names; look-alike: an empty prompt is no prompt (each row its own group)
    test = tmp_path / "test"
    _touch(test, "NA", "None", "null.mp4")
    (test / "labels.csv").write_text("filename,label\nNA,1\nNone,0\nnull.mp4,0\n")
    m = load_dfdc(test)
    assert m["path"].tolist() == [str(test / n) for n in ("NA", "None", "null.mp4")] and m["exists"].all()
    assert m["video_id"].tolist() == ["NA", "None", "null"] and m["label"].tolist() == [1, 0, 0]
    _openfake_shard(tmp_path / "s.parquet", model=["laion", "None", "NA", "NA"], prompt=["null", "null", "", ""])
    m = load_openfake(tmp_path / "s.parquet")
    assert m["method"].tolist() == ["real", "None", "real", "NA"] and m["model"].tolist() == ["laion", "None", "NA", "NA"]
    assert m["prompt"].tolist() == ["null", "null", None, None]
    g = m["group"].tolist()
    assert g[0] == g[1] and len({g[1], g[2], g[3]}) == 3


def test_openfake_shards_given_twice_are_warned_about(tmp_path):
    # kind: one shard given twice (a folder and a shard in it, a link and its target, 'a.parquet'
    # and './a.parquet') doubled its rows silently; look-alike: two shards, no warning
    import os

    (tmp_path / "data").mkdir()
    _openfake_shard(tmp_path / "data" / "train-0.parquet")
    _openfake_shard(tmp_path / "data" / "train-1.parquet", n=2)
    os.symlink(tmp_path / "data" / "train-0.parquet", tmp_path / "link.parquet")
    folder_and_shard = [tmp_path / "data", tmp_path / "data" / "train-0.parquet"]  # 4 + 2 rows, then 4 again
    link_and_target = [tmp_path / "data" / "train-0.parquet", tmp_path / "link.parquet"]
    for given, pair, n in [(folder_and_shard, r"data/train-0\.parquet and .*/data/train-0\.parquet", 10),
                           (link_and_target, r"train-0\.parquet and .*/link\.parquet", 8)]:
        with pytest.warns(UserWarning, match=r"^load_openfake: 1 shard\(s\) given name a file given before \(first: "
                                             rf".*{pair}\): its rows appear twice") as caught:
            m = load_openfake(given)
        assert len(caught) == 1 and len(m) == n  # rows kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_openfake([tmp_path / "data" / "train-0.parquet", tmp_path / "data" / "train-1.parquet"])) == 6
        assert len(load_openfake(tmp_path / "data")) == 6


# ---------------------------------------------------------------- round 8: metadata read as written

@pytest.mark.parametrize("spelling", ["YouTube-real/00170.mp4", "./YouTube-real/00170.mp4", "youtube-real/00170.mp4",
                                      "YOUTUBE-REAL\\00170.mp4", "Celeb-real/../YouTube-real/00170.mp4"])
def test_celebdf_list_entry_spelled_otherwise_keeps_its_test_video_in_test(tmp_path, spelling):
    """A list entry with './', the folder in another letter case or Windows separators names the listed
    video: it was reported 'not on disk' and the test video got split 'train' (a test video trained on).
    The official spelling (first case) is the look-alike; a name that is really absent still warns."""
    _celebdf(tmp_path, listed=[f"1 {spelling}", "0 Celeb-synthesis/id0_id16_0000.mp4"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = load_celebdf(tmp_path)
    assert set(m.loc[m["split"] == "test", "video_id"]) == {"00170", "id0_id16_0000"}
    _celebdf(tmp_path, listed=[f"1 {spelling.replace('00170', '00171')}"])
    with pytest.warns(UserWarning, match=r"1 video\(s\) .* not on disk \(first: YouTube-real/00171\.mp4\)"):
        assert (load_celebdf(tmp_path)["split"] == "train").all()
    # a folder the layout does not have is not matched to one it has
    _celebdf(tmp_path, listed=["1 YouTube-real2/00170.mp4"])
    with pytest.warns(UserWarning, match=r"not on disk \(first: YouTube-real2/00170\.mp4\)"):
        load_celebdf(tmp_path)


@pytest.mark.parametrize("where", ["top", "entry"])
def test_dfdc_metadata_key_given_twice_is_refused_not_the_last_one_kept(tmp_path, where):
    """json.loads keeps the last of two equal keys: a video listed REAL then FAKE (a metadata.json merged
    by hand) got label 1 silently. The look-alike with each name once loads."""
    part = tmp_path / "dfdc_train_part_0"
    _touch(part, "a.mp4", "b.mp4")
    once = '{"a.mp4": {"label": "FAKE", "original": "b.mp4"}, "b.mp4": {"label": "REAL"}}'
    twice = ('{"a.mp4": {"label": "REAL"}, "a.mp4": {"label": "FAKE", "original": "b.mp4"}, "b.mp4": {"label": "REAL"}}'
             if where == "top" else '{"a.mp4": {"label": "REAL", "label": "FAKE", "original": "b.mp4"}, '
                                    '"b.mp4": {"label": "REAL"}}')
    (part / "metadata.json").write_text(once)
    assert load_dfdc(part)["label"].tolist() == [1, 0]
    (part / "metadata.json").write_text(twice)
    key = "a.mp4" if where == "top" else "label"
    with pytest.raises(ValueError, match=rf"metadata\.json: the key '{key}' is given twice"):
        load_dfdc(part)


def test_ffpp_split_file_that_is_not_json_is_named_through_the_shared_reader(tmp_path):
    _ffpp(tmp_path)
    _splits(tmp_path / "splits")
    (tmp_path / "splits" / "val.json").write_text('[["002", "001"]')
    with pytest.raises(ValueError, match=r"val\.json is not valid JSON"):
        load_faceforensics(tmp_path)


@pytest.mark.parametrize("text, match", [
    ("path,label\na.jpg,1,0\nb.jpg,0,1\n", r"line 2 has more fields than the header's 2"),  # every row one more
    ("path,label\na.jpg,1\nb.jpg,0,1\n", r"line 3|Expected 2 fields in line 3"),               # one row
    ('path,label\n"x, y.jpg",1\nx, y.jpg,0\n', r"line 3|Expected 2 fields in line 3"),         # unquoted comma
    ("path,label,label\na.jpg,1,0\n", r"'label' appear more than once in the header"),
    ("path,path,label\na.jpg,b.jpg,0\n", r"'path' appear more than once in the header"),
])
def test_manifest_rows_wider_than_the_header_or_columns_twice_are_refused(tmp_path, text, match):
    """pandas takes the first column for row labels when every row has one field more than the header:
    'a.jpg,1,0' read as path '1', label 0 (a shifted row, reported only as a missing file). A column named
    twice used the first one silently. Both are refused by the library's reader and the command line's,
    naming the file; the look-alikes (quoted comma, one column each) load."""
    from forensics._sources import _read_manifest

    _touch(tmp_path, "a.jpg", "b.jpg", "x, y.jpg")
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(ValueError, match=rf"cannot read the manifest .*m\.csv.*({match})"):
        read_manifest(tmp_path / "m.csv")
    with pytest.raises(ValueError, match=rf"cannot read the manifest .*m\.csv.*({match})"):
        _read_manifest(tmp_path / "m.csv", labels=True)
    (tmp_path / "m.csv").write_text('path,label,note\na.jpg,1,0\n"x, y.jpg",0,1\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)
        m = read_manifest(tmp_path / "m.csv")
    assert m["path"].tolist() == [str(tmp_path / "a.jpg"), str(tmp_path / "x, y.jpg")]
    assert m["label"].tolist() == [1, 0] and m["note"].tolist() == [0, 1]


@pytest.mark.parametrize("text", ["path,label\na.jpg,1,\nb.jpg,0,\n", "path,label\na.jpg,1, \nb.jpg,0\n",
                                  "path,label\na.jpg,1,,\nb.jpg,0,\n"])
def test_manifest_rows_ending_with_empty_fields_are_read(tmp_path, text):
    """Rows ending with a comma after their last value (some spreadsheets write them), empty fields
    only: read as written, not refused like rows with a value past the header (above)."""
    _touch(tmp_path, "a.jpg", "b.jpg")
    (tmp_path / "m.csv").write_text(text)
    m = read_manifest(tmp_path / "m.csv")
    assert m["path"].tolist() == [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    assert m["label"].tolist() == [1, 0]
    (tmp_path / "m.csv").write_text(text.replace("b.jpg,0", "b.jpg,0,x", 1))  # a value past the header: refused
    with pytest.raises(ValueError, match=r"line 3 has more fields than the header's 2|Expected 3 fields in line 3"):
        read_manifest(tmp_path / "m.csv")


@pytest.mark.parametrize("lacking", ["model", "prompt"])
def test_openfake_shard_lacking_a_column_the_others_have_is_warned_about(tmp_path, lacking):
    """Each shard's columns are found on their own: a shard without 'model' gave its fakes the method
    'fake' beside the other shards' generator names, one without 'prompt' gave its rows groups of their
    own apart from the same prompts elsewhere, and attrs['columns'] named the last shard's only, all
    without a word. Look-alike: two shards with the same columns warn of nothing."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    _openfake_shard(tmp_path / "a.parquet")
    _openfake_shard(tmp_path / "b.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = load_openfake([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert same.attrs["columns"] == {"image": "image", "label": "label", "model": "model", "prompt": "prompt"}
    table = pq.read_table(tmp_path / "b.parquet")
    pq.write_table(table.drop_columns([lacking]), tmp_path / "b.parquet")
    with pytest.warns(UserWarning, match=rf"1 of 2 shards has no {lacking} column while the others have one "
                                         rf"\(first: .*b\.parquet, 4 rows in all\)"):
        m = load_openfake([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert m.attrs["columns"][lacking] == (lacking, None)
    assert m.attrs["columns"]["label"] == "label"
    if lacking == "model":
        assert m["method"].tolist() == ["real", "sdxl", "real", "flux.1-dev", "real", "fake", "real", "fake"]
        assert m["group"].tolist() == same["group"].tolist()
    else:
        assert m["method"].tolist() == same["method"].tolist()
        assert m["group"].nunique() == 2 + 4  # two prompts in a.parquet, then four own groups


def test_manifest_paths_written_from_the_current_folder_are_named_so(tmp_path, monkeypatch):
    """'data/real/a.jpg' in data/m.csv (a manifest written by a script run from the folder above) names
    data/data/real/a.jpg: the rows are absent, and the warning said only that. It now says the files exist
    from the current folder and that paths are read from the CSV's folder; the file found is not read in
    their place. Look-alikes: the same CSV with paths relative to its folder, and a CSV in the current
    folder (where both readings agree), warn of nothing."""
    from forensics._sources import _read_manifest

    _touch(tmp_path, "data/real/a.jpg", "data/fake/b.jpg")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "m.csv").write_text("path,label\ndata/real/a.jpg,0\ndata/fake/b.jpg,1\n")
    note = r"2 of them name a file from the current folder .* \(first: data/real/a\.jpg\), but relative paths are read"
    with pytest.warns(UserWarning, match=r"2 of 2 rows .*exists=False; " + note), warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)  # the two files under data/ that no row names
        m = read_manifest("data/m.csv")
    assert not m["exists"].any() and m["path"].tolist()[0] == str(Path("data") / "data/real/a.jpg")
    with pytest.warns(UserWarning, match=r"the manifest 'data/m\.csv' names files absent from its folder; " + note):
        assert _read_manifest(Path("data/m.csv"), labels=True)["path"].tolist()[1] == str(Path("data/data/fake/b.jpg"))
    (tmp_path / "data" / "m.csv").write_text("path,label\nreal/a.jpg,0\nfake/b.jpg,1\n")
    (tmp_path / "m.csv").write_text("path,label\ndata/real/a.jpg,0\ndata/fake/b.jpg,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_manifest("data/m.csv")["exists"].all()
        _read_manifest(Path("data/m.csv"), labels=True)
        _read_manifest(Path("m.csv"), labels=True)
        assert read_manifest("m.csv")["exists"].all()


def test_celebdf_test_list_named_in_another_letter_case_is_read(tmp_path):
    """'list_of_testing_videos.txt' was 'not found': split None for every video. Look-alike: the official
    name reads the same; no list at all still warns."""
    _celebdf(tmp_path)
    expected = load_celebdf(tmp_path)["split"].tolist()
    assert expected.count("test") == 3
    (tmp_path / "List_of_testing_videos.txt").rename(tmp_path / "list_of_testing_videos.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_celebdf(tmp_path)["split"].tolist() == expected
    (tmp_path / "list_of_testing_videos.txt").unlink()
    with pytest.warns(UserWarning, match=r"List_of_testing_videos\.txt not found: split is None"):
        assert load_celebdf(tmp_path)["split"].isna().all()


@pytest.mark.parametrize("spelling", ["Metadata.json", "METADATA.JSON"])
def test_dfdc_metadata_named_in_another_letter_case_is_read(tmp_path, spelling):
    """A part whose 'Metadata.json' was copied from Windows or macOS was 'no metadata.json': the whole
    data set refused (or the part's videos counted unlabelled beside other parts). Look-alikes: the
    exact name; two case variants and no exact name refused naming both; 'Labels.csv' and 'Videos/'."""
    meta = {"a.mp4": {"label": "FAKE", "original": "b.mp4"}, "b.mp4": {"label": "REAL"}}
    for part in ("dfdc_train_part_0", "dfdc_train_part_1"):
        _touch(tmp_path / part, "a.mp4", "b.mp4")
    (tmp_path / "dfdc_train_part_0" / "metadata.json").write_text(json.dumps(meta))
    (tmp_path / "dfdc_train_part_1" / spelling).write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = load_dfdc(tmp_path)
        assert load_dfdc(tmp_path / "dfdc_train_part_1")["label"].tolist() == [1, 0]
    assert m["part"].tolist() == ["dfdc_train_part_0"] * 2 + ["dfdc_train_part_1"] * 2
    assert m["label"].tolist() == [1, 0, 1, 0] and m["exists"].all()
    (tmp_path / "dfdc_train_part_1" / "metadata.JSON").write_text(json.dumps({"a.mp4": {"label": "REAL"}}))
    with pytest.raises(ValueError, match=r"dfdc_train_part_1: '.*' and '.*' differ only in letter case and no "
                                         r"'metadata\.json' exists"):
        load_dfdc(tmp_path)
    (tmp_path / "dfdc_train_part_1" / "metadata.json").write_text(json.dumps({"b.mp4": {"label": "REAL"}}))
    with pytest.warns(SkippedFilesWarning, match=r"1 not named in its part's metadata\.json"):
        assert load_dfdc(tmp_path)["video_id"].tolist() == ["a", "b", "b"]  # the exact name wins
    broken = tmp_path / "dfdc_train_part_2"
    _touch(broken, "c.mp4")
    (broken / "metadata.json").symlink_to(tmp_path / "gone.json")  # the labels out of reach: said so
    with pytest.raises(FileNotFoundError, match=r"dfdc_train_part_2/metadata\.json is a broken symbolic link \(to "
                                                r".*gone\.json\)"):
        load_dfdc(tmp_path)
    (broken / "metadata.json").unlink()
    (broken / "c.mp4").unlink()
    test = tmp_path / "test"
    _touch(test / "Videos", "t1.mp4", "t2.mp4")
    (test / "Labels.csv").write_text("filename,label\nt1.mp4,1\nt2.mp4,0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = load_dfdc(test)
    assert t["label"].tolist() == [1, 0] and t["exists"].all() and t["path"].str.contains("/Videos/").all()
    # the test part's videos folder as a broken link: the message names the videos, not the labels
    (test / "Videos").rename(test / "kept")
    (test / "videos").symlink_to(tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match=r"test/videos is a broken symbolic link \(to .*gone\): the part's "
                                                r"videos cannot be read"):
        load_dfdc(test)


def test_dfdc_parts_one_folder_deeper_are_named_in_the_error(tmp_path):
    """dfdc_train_all/dfdc_train_part_0/ given its parent: the error said no part anywhere. Look-alike: the
    folder of parts loads; a folder with nothing deeper keeps the plain error."""
    part = tmp_path / "dfdc_train_all" / "dfdc_train_part_0"
    _touch(part, "a.mp4")
    (part / "metadata.json").write_text(json.dumps({"a.mp4": {"label": "REAL"}}))
    with pytest.raises(FileNotFoundError, match=r"parts lie one folder deeper \(1, first "
                                                r"dfdc_train_all/dfdc_train_part_0\): pass .*dfdc_train_all as root"):
        load_dfdc(tmp_path)
    assert load_dfdc(tmp_path / "dfdc_train_all")["video_id"].tolist() == ["a"]
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"holds one$"):
        load_dfdc(tmp_path / "empty")


def test_dfdc_original_named_with_its_folder_shares_its_group(tmp_path):
    """An original written 'dfdc_train_part_0/b.mp4' (or with '\\') was the stem 'dfdc_train_part_0/b': the
    fake got a group apart from its real video. Look-alikes: the plain name; an original that is not a
    name (a number) is refused naming the entry instead of an AttributeError."""
    part = tmp_path / "dfdc_train_part_0"
    _touch(part, "a.mp4", "b.mp4", "c.mp4", "d.mp4")
    meta = {"a.mp4": {"label": "FAKE", "original": "dfdc_train_part_0/b.mp4"}, "b.mp4": {"label": "REAL"},
            "c.mp4": {"label": "FAKE", "original": "part\\d.mp4"}, "d.mp4": {"label": "REAL"}}
    (part / "metadata.json").write_text(json.dumps(meta))
    m = load_dfdc(part)
    assert m["original"].tolist() == ["b", None, "d", None]
    assert _group_of(m, "a") == _group_of(m, "b") != _group_of(m, "c") == _group_of(m, "d")
    meta["a.mp4"]["original"] = "b.mp4"
    (part / "metadata.json").write_text(json.dumps(meta))
    assert _group_of(load_dfdc(part), "a") == _group_of(load_dfdc(part), "b")
    meta["a.mp4"]["original"] = 7
    (part / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"metadata\.json: entry 'a\.mp4' has the original 7; expected a file name"):
        load_dfdc(part)


@pytest.mark.parametrize("loader", ["folder", "faceforensics", "celebdf"])
def test_a_layout_one_folder_deeper_is_named_in_the_error(tmp_path, loader):
    """A data set unpacked into a folder of its own (root/Celeb-DF-v2/Celeb-real/...) given its parent:
    'no real/ folder', 'Celeb-real not found', or for FF++ '<root>/manipulated_sequences: found no
    <Method>/c23/videos folder', naming a folder that does not exist. The error names the folder
    to pass. Look-alikes: that folder loads; a parent with no such subfolder keeps the plain error."""
    inner = tmp_path / "data" / "copy"
    inner.mkdir(parents=True)
    if loader == "folder":
        _touch(inner, "real/a.jpg", "fake/b.jpg")
        load, plain = load_folder, r"has no real/ folder \(expected real/ and fake/\[<method>/\]\)"
    elif loader == "faceforensics":
        _ffpp(inner)
        load, plain = load_faceforensics, r"has neither manipulated_sequences/ nor original_sequences/"
    else:
        _celebdf(inner)
        load, plain = load_celebdf, r"Celeb-real not found: Celeb-DF needs the folders"
    with pytest.raises(FileNotFoundError, match=plain + rf".*; the layout lies one folder deeper, in {inner}: pass "
                                                        r"that folder as root$"):
        load(tmp_path / "data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(load(inner)) >= 2
    with pytest.raises(FileNotFoundError, match=plain) as err:
        load(tmp_path)  # two folders deeper: not looked for
    assert "deeper" not in str(err.value)


def test_a_data_folder_whose_own_path_is_not_valid_text_is_refused_by_name(tmp_path):
    """A data set under a folder named in Latin-1 on a UTF-8 system: every file's path holds its
    bytes (lone surrogates), which no manifest table can hold. load_folder, read_manifest and the
    command line's reader raised a bare UnicodeEncodeError naming no path, after the walk, and
    save_demo_dataset wrote every file before failing. Each refuses the folder at once, named with
    its bytes escaped. Look-alikes: a valid non-ASCII folder ('caf\u00e9') loads; a manifest there whose
    rows are absolute valid paths is read."""
    import os
    import re

    from forensics._sources import load_data
    from forensics.datasets import save_demo_dataset

    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9")
    try:
        os.mkdir(bad)
    except OSError:  # pragma: no cover - a file system that refuses such names
        pytest.skip("this file system refuses names that are not valid UTF-8")
    good = tmp_path / "caf\u00e9"
    for folder in (bad, good):
        _touch(Path(folder), "real/a.jpg", "fake/b.jpg")
        (Path(folder) / "m.csv").write_text("path,label\nreal/a.jpg,0\nfake/b.jpg,1\n", encoding="utf-8")
    shown = str(tmp_path / "caf\\udce9")
    message = rf"^{re.escape(shown)}: the (manifest )?folder's path holds bytes that are not valid text .*; rename it$"
    for load in (lambda: load_folder(bad), lambda: read_manifest(Path(bad) / "m.csv"),
                 lambda: load_data(Path(bad) / "m.csv"), lambda: load_data(bad)):
        with pytest.raises(ValueError, match=message):
            load()
    assert load_folder(good)["label"].tolist() == [0, 1]
    assert read_manifest(good / "m.csv")["exists"].all()
    (Path(bad) / "abs.csv").write_text(f"path,label\n{good / 'real/a.jpg'},0\n", encoding="utf-8")
    assert load_data(Path(bad) / "abs.csv")["path"].tolist() == [str(good / "real/a.jpg")]
    demo = os.fsdecode(os.fsencode(str(tmp_path)) + b"/d\xe9mo")
    with pytest.raises(ValueError, match=re.escape("d\\udce9mo: the folder's path holds bytes")):
        save_demo_dataset(demo, n_per_class=2, size=64)
    assert not os.path.exists(demo)  # nothing written
    pytest.importorskip("pyarrow")
    _openfake_shard(tmp_path / "s.parquet")
    shard = os.fsdecode(os.fsencode(str(tmp_path)) + b"/sh\xe9.parquet")
    os.replace(tmp_path / "s.parquet", shard)  # pyarrow cannot even open it: it raised UnicodeEncodeError
    with pytest.raises(ValueError, match=re.escape("sh\\udce9.parquet: the shard's path holds bytes")):
        load_openfake(shard)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_manifest_with_its_byte_order_mark_is_read(tmp_path, encoding):
    """Excel's 'Unicode text' and Windows PowerShell's Out-File write UTF-16 with a byte-order mark:
    the manifest was refused ("'utf-8' codec can't decode byte 0xff in position 0"). The mark names
    the encoding; the table is the UTF-8 one's, through the library and the command line's readers.
    Look-alikes: UTF-16 without the mark, and Windows-1252, stay refused."""
    from forensics._sources import load_data

    _touch(tmp_path, "caf\u00e9.jpg", "b.jpg")
    text = "path,label\ncaf\u00e9.jpg,0\nb.jpg,1\n"
    mark = b"\xff\xfe" if encoding == "utf-16" else b"\xfe\xff"
    data = text.encode(encoding)
    (tmp_path / "m.csv").write_bytes(data if data.startswith(mark) else mark + data)
    expected = [str(tmp_path / "caf\u00e9.jpg"), str(tmp_path / "b.jpg")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_manifest(tmp_path / "m.csv")["path"].tolist() == expected
        assert load_data(tmp_path / "m.csv")["path"].tolist() == expected
    (tmp_path / "m.csv").write_bytes(text.encode("utf-16-le"))  # no mark
    with pytest.raises(ValueError, match=r"cannot read the manifest"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "m.csv").write_bytes(text.encode("cp1252"))
    with pytest.raises(ValueError, match=r"cannot read the manifest .*'utf-8' codec can't decode byte 0xe9"):
        read_manifest(tmp_path / "m.csv")


def test_excel_separator_line_sets_the_separator(tmp_path):
    """Excel writes (and reads) a first line 'sep=;' before the header: it was taken for the header,
    and every row 'had more fields than the header's 1 (a comma in a name that is not quoted?)'.
    Look-alikes: the same rows with commas and no such line read alike; semicolons without the line
    stay refused; a row wider than the header under 'sep=,' is named by its line in the file."""
    from forensics._sources import load_data

    _touch(tmp_path, "a.jpg", "b.jpg")
    (tmp_path / "plain.csv").write_text("path,label\na.jpg,0\nb.jpg,1\n", encoding="utf-8")
    (tmp_path / "excel.csv").write_bytes(b"sep=;\r\npath;label\r\na.jpg;0\r\nb.jpg;1\r\n")
    expected = read_manifest(tmp_path / "plain.csv")[["path", "label"]].values.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_manifest(tmp_path / "excel.csv")[["path", "label"]].values.tolist() == expected
        assert load_data(tmp_path / "excel.csv")[["path", "label"]].values.tolist() == expected
    (tmp_path / "semi.csv").write_bytes(b"path;label\r\na.jpg;0\r\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) path, label"):
        read_manifest(tmp_path / "semi.csv")
    (tmp_path / "wide.csv").write_text("sep=,\npath,label\na.jpg,0\nb.jpg,1,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 4"):
        read_manifest(tmp_path / "wide.csv")


def test_ffpp_a_video_in_two_splits_is_refused(tmp_path):
    """Split files (a custom protocol) that pair video 000 with 003 in train and with 002 in test:
    the original 000 took the last split read, silently, so a test fake (000_002) had its source
    video in train (or the reverse). Refused naming the video, both splits and pairs. Look-alike:
    the same pairs in one split load."""
    _ffpp(tmp_path)
    _splits(tmp_path / "splits", train=(("000", "003"),), val=(("002", "001"),), test=(("000", "002"),))
    with pytest.raises(ValueError, match=r"the split files put video 000 in train \(pair \['000', '003'\]\) and in "
                                         r"test \(pair \['000', '002'\]\): its original video cannot take one split"):
        load_faceforensics(tmp_path)
    _splits(tmp_path / "splits", train=(("000", "003"), ("000", "002")), val=(("002", "001"),))
    with pytest.raises(ValueError, match=r"video 002 in train .* and in val"):
        load_faceforensics(tmp_path)
    _splits(tmp_path / "splits", train=(("000", "003"), ("002", "001")), val=())
    m = _ffpp_load(tmp_path)[0]
    assert set(m["split"]) == {"train"}


def _rename(root, *pairs):
    for old, new in pairs:
        (root / old).rename(root / new)


def test_ffpp_copied_through_a_case_insensitive_file_system_is_read(tmp_path):
    """FF++ copied through Windows or macOS ('Original_Sequences/', 'Manipulated_Sequences/Deepfakes/C23/',
    'Splits/Train.json') was refused: 'has neither manipulated_sequences/ nor original_sequences/'. It reads
    as DFDC reads its case variants: the manifest of the exact names (paths as on disk, methods and
    subsets canonical), masks and frames counted alike. Look-alikes: the exact name wins beside a case
    variant (the variant's videos counted, not read); two case variants and no exact name are refused
    naming both."""
    _ffpp(tmp_path / "exact")
    _splits(tmp_path / "exact" / "splits")
    exact = _ffpp_load(tmp_path / "exact")[0]
    root = tmp_path / "case"
    _ffpp(root)
    _splits(root / "splits")
    _rename(root, ("original_sequences", "Original_Sequences"), ("manipulated_sequences", "Manipulated_Sequences"),
            ("Original_Sequences/youtube", "Original_Sequences/YouTube"),
            ("Original_Sequences/YouTube/c23", "Original_Sequences/YouTube/C23"),
            ("Original_Sequences/YouTube/C23/images", "Original_Sequences/YouTube/C23/Images"),
            ("Manipulated_Sequences/Deepfakes/c23", "Manipulated_Sequences/Deepfakes/C23"),
            ("Manipulated_Sequences/Deepfakes/masks", "Manipulated_Sequences/Deepfakes/Masks"),
            ("Manipulated_Sequences/FaceSwap", "Manipulated_Sequences/faceswap"),
            ("Manipulated_Sequences/faceswap/c23/videos", "Manipulated_Sequences/faceswap/c23/Videos"),
            ("splits", "Splits"), ("Splits/train.json", "Splits/Train.json"), ("Splits/test.json", "Splits/TEST.JSON"))
    m = _ffpp_load(root)[0]
    assert m.drop(columns="path").equals(exact.drop(columns="path")) and m.attrs == exact.attrs
    assert set(m["split"]) == {"train", "val"}  # read from Splits/Train.json, val.json, TEST.JSON
    assert m.loc[m["method"] == "FaceSwap", "path"].str.contains("/Manipulated_Sequences/faceswap/c23/Videos/").all()
    assert m.loc[m["method"] == "real", "path"].str.contains("/Original_Sequences/YouTube/C23/videos/").all()
    # the exact name wins: a case variant beside it is not read, and its videos are counted
    _touch(root, "Manipulated_Sequences/Deepfakes/c23/videos/000_003.mp4")
    with pytest.warns(SkippedFilesWarning, match=r"2 c23 videos also stored in Manipulated_Sequences/Deepfakes/C23/"
                                                 r"videos/, which was not read"):
        m = load_faceforensics(root)
    deepfakes = m[m["method"] == "Deepfakes"]
    assert deepfakes["video_id"].tolist() == ["000_003"] and deepfakes["path"].str.contains("/c23/videos/").all()
    with pytest.raises(SkippedFilesError, match="also stored in"):
        load_faceforensics(root, strict=True)
    (root / "Manipulated_Sequences" / "Deepfakes" / "c23").rename(root / "Manipulated_Sequences" / "Deepfakes" / "c40")
    _rename(root, ("Original_Sequences", "original_sequences"))
    _touch(root, "Original_Sequences/youtube/c23/videos/009.mp4")
    with pytest.warns(SkippedFilesWarning, match=r"1 outside the data set's layout \(no label\) \(e\.g\. "
                                                 r"Original_Sequences/youtube/c23/videos/009\.mp4\)"):
        assert len(load_faceforensics(root)) == len(exact)
    # two case variants and no exact name: which one is FF++'s cannot be told
    _rename(root, ("original_sequences", "ORIGINAL_SEQUENCES"))
    with pytest.raises(ValueError, match=r"case: 'ORIGINAL_SEQUENCES' and 'Original_Sequences' differ only in "
                                         r"letter case and no 'original_sequences' exists"):
        load_faceforensics(root)
    _rename(root, ("ORIGINAL_SEQUENCES", "original_sequences"))
    (root / "Splits" / "train.json").write_text("[]")  # beside Train.json: the exact name wins
    with pytest.warns(SkippedFilesWarning), pytest.warns(UserWarning, match="in no pair of the official split files"):
        assert set(load_faceforensics(root)["split"]) == {"val", None}
    (root / "Splits" / "train.json").unlink()
    (root / "Splits" / "TRAIN.json").write_text("[]")
    with pytest.raises(ValueError, match=r"Splits: 'TRAIN\.json' and 'Train\.json' differ only in letter case"):
        load_faceforensics(root)
    with pytest.raises(ValueError, match=r"'TRAIN\.json' and 'Train\.json'"):
        load_faceforensics(tmp_path / "exact", splits_dir=root / "Splits")


def test_celebdf_two_case_variants_and_no_exact_name_are_refused_naming_both(tmp_path):
    """Two case variants of a Celeb-DF folder ('celeb-real/' and 'CELEB-REAL/') were 'Celeb-real not found',
    and two of the test list a warning that it was 'not found' with every split None. Both are refused
    naming the two, as DFDC refuses its own. Look-alikes: one case variant of each is read as the exact
    names are; the exact name wins beside a variant (the variant's videos counted outside the layout)."""
    _celebdf(tmp_path / "exact")
    exact = load_celebdf(tmp_path / "exact")
    root = tmp_path / "case"
    _celebdf(root)
    _rename(root, ("Celeb-real", "celeb-real"), ("Celeb-synthesis", "CELEB-SYNTHESIS"),
            ("YouTube-real", "Youtube-real"), ("List_of_testing_videos.txt", "LIST_OF_TESTING_VIDEOS.TXT"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = load_celebdf(root)
    assert m.drop(columns="path").equals(exact.drop(columns="path"))
    assert m["path"].str.contains("/celeb-real/|/CELEB-SYNTHESIS/|/Youtube-real/").all()
    (root / "list_of_testing_videos.txt").write_text("1 YouTube-real/00000.mp4\n")
    with pytest.raises(ValueError, match=r"case: 'LIST_OF_TESTING_VIDEOS\.TXT' and 'list_of_testing_videos\.txt' "
                                         r"differ only in letter case and no 'List_of_testing_videos\.txt' exists"):
        load_celebdf(root)
    (root / "List_of_testing_videos.txt").write_text("1 YouTube-real/00000.mp4\n")  # the exact name wins
    assert load_celebdf(root)["split"].tolist().count("test") == 1
    _touch(root, "Celeb-real/id7_0000.mp4")  # an exact name beside 'celeb-real/': read; the variant counted
    with pytest.warns(SkippedFilesWarning, match=r"3 outside the data set's layout \(no label\) \(e\.g\. "
                                                 r"celeb-real/id0_0000\.mp4"):
        m = load_celebdf(root)
    assert m.loc[m["folder"] == "Celeb-real", "video_id"].tolist() == ["id7_0000"]
    (root / "Celeb-real" / "id7_0000.mp4").unlink()
    (root / "Celeb-real").rename(root / "CELEB-REAL")
    with pytest.raises(ValueError, match=r"case: 'CELEB-REAL' and 'celeb-real' differ only in letter case and no "
                                         r"'Celeb-real' exists"):
        load_celebdf(root)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_dfdc_labels_and_celebdf_list_written_by_windows_tools_are_read(tmp_path, encoding):
    """Windows tools write UTF-16 with its byte-order mark (Excel's 'Unicode text', PowerShell's Out-File):
    a DFDC labels.csv or metadata.json and the Celeb-DF list so written were 'not UTF-8 text'. They are
    decoded as the manifest CSVs are (one helper), and so is UTF-8 with its mark. Look-alikes: UTF-16
    without the mark, and Windows-1252, stay refused naming the file."""
    mark = {"utf-16": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-8-sig": b"\xef\xbb\xbf"}[encoding]

    def write(path, text):
        data = text.encode(encoding)
        path.write_bytes(data if data.startswith(mark) else mark + data)

    test = tmp_path / "test"
    _touch(test / "videos", "t\u00e9.mp4", "t2.mp4")
    text = "filename,label\r\nt\u00e9.mp4,1\r\nt2.mp4,0\r\n"
    (test / "labels.csv").write_text(text, encoding="utf-8")
    expected = load_dfdc(test)
    write(test / "labels.csv", text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_dfdc(test).equals(expected) and expected["label"].tolist() == [1, 0]
    part = tmp_path / "dfdc_train_part_0"
    _touch(part, "a.mp4", "b.mp4")
    write(part / "metadata.json", json.dumps({"a.mp4": {"label": "FAKE", "original": "b.mp4"},
                                              "b.mp4": {"label": "REAL"}}))
    assert load_dfdc(part)["label"].tolist() == [1, 0]

    _celebdf(tmp_path / "celeb")
    listed = tmp_path / "celeb" / "List_of_testing_videos.txt"
    expected = load_celebdf(tmp_path / "celeb")
    write(listed, listed.read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_celebdf(tmp_path / "celeb").equals(expected)
    if encoding == "utf-8-sig":
        return
    for data, why in ((text.replace("\u00e9", "e").encode("utf-16-le"), r"UTF-8 text \(a NUL character at character 1: UTF-16 without its "
                                                 r"byte-order mark\?\)"),
                      (text.encode("cp1252"), r"UTF-8 text \(invalid continuation byte at byte 17\)"),
                      (mark + text.encode(encoding)[2:-1] if encoding == "utf-16" else None, "UTF-16 text")):
        if data is None:
            continue
        (test / "labels.csv").write_bytes(data)
        with pytest.raises(ValueError, match=rf"test.labels\.csv is not {why}"):
            load_dfdc(test)
    listed.write_bytes("1 YouTube-real/00170.mp4\n".encode("utf-16-le"))
    with pytest.raises(ValueError, match=r"List_of_testing_videos\.txt is not UTF-8 text \(a NUL character"):
        load_celebdf(tmp_path / "celeb")


def test_dfdc_labels_with_excel_separator_line_are_read(tmp_path):
    """A labels.csv saved by Excel with its separator line ('sep=;', then 'filename;label') was refused:
    'expected the columns filename,label, found ['sep=;']'. The line sets the separator, as it does for
    manifest CSVs; an error names the line as it stands in the file. Look-alikes: semicolons without the
    line stay refused; a short row after the line is named by its line in the file."""
    test = tmp_path / "test"
    _touch(test, "a.mp4", "b.mp4")
    (test / "labels.csv").write_text("filename,label\na.mp4,1\nb.mp4,0\n")
    expected = load_dfdc(test)
    (test / "labels.csv").write_bytes(b"sep=;\r\nfilename;label\r\na.mp4;1\r\nb.mp4;0\r\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_dfdc(test).equals(expected)
    (test / "labels.csv").write_bytes(b"sep=;\r\nfilename;label\r\na.mp4;1\r\nb.mp4\r\n")
    with pytest.raises(ValueError, match=r"labels\.csv, line 4: 1 fields, the header has 2"):
        load_dfdc(test)
    (test / "labels.csv").write_bytes(b"filename;label\r\na.mp4;1\r\nb.mp4;0\r\n")
    with pytest.raises(ValueError, match=r"expected the columns filename,label"):
        load_dfdc(test)


def test_celebdf_video_listed_as_real_and_as_fake_is_refused(tmp_path):
    """A list naming a fake twice, '1 Celeb-synthesis/x.mp4' then '0 ./Celeb-synthesis/x.mp4', kept the last
    digit, which agrees with the folder: the contradiction (a list merged from one read the wrong way
    round) vanished without a word. Refused naming both lines. Look-alike: a video listed twice with
    one digit (two spellings of one name) loads, in the test split."""
    _celebdf(tmp_path, listed=["1 YouTube-real/00170.mp4", "1 Celeb-synthesis/id0_id16_0000.mp4",
                               "0 ./Celeb-synthesis/id0_id16_0000.mp4"])
    with pytest.raises(ValueError, match=r"line 3: Celeb-synthesis/id0_id16_0000\.mp4 is listed with 0, and with 1 "
                                         r"on line 2 \(1 = real, 0 = fake in this file\)"):
        load_celebdf(tmp_path)
    _celebdf(tmp_path, listed=["1 YouTube-real/00170.mp4", "0 Celeb-synthesis/id0_id16_0000.mp4",
                               "0 ./Celeb-synthesis/id0_id16_0000.mp4"])
    m = load_celebdf(tmp_path)
    assert m.loc[m["split"] == "test", "video_id"].tolist() == ["00170", "id0_id16_0000"]
