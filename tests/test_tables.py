"""Feature tables (Parquet + provenance), data sources, video-level cross-validation, VideoDetector."""

import json
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import encode, natural_image
from forensics import (FeatureTable, TableMismatchError, VideoDetector, extract_table, load_data, make_pipeline,
                       read_table)
from forensics.features import make_feature_bank


@pytest.fixture(scope="module")
def images():
    """12 JPEG byte strings, 6 real (sharp) and 6 fake (blurred), as an in-memory manifest."""
    import cv2

    items, labels = [], []
    for k in range(12):
        img = natural_image(k, (48, 56))
        if k >= 6:
            img = cv2.GaussianBlur(img, (0, 0), 1.5)
        items.append(encode(img, "JPEG", quality=92))
        labels.append(int(k >= 6))
    return pd.DataFrame({"path": [None] * 12, "item": items, "label": labels,
                         "method": ["real"] * 6 + ["blur"] * 6, "group": np.arange(12) % 3})


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from forensics.datasets import save_demo_videos

    root = tmp_path_factory.mktemp("tables") / "videos"
    save_demo_videos(root, n_per_class=4, n_frames=5, size=48, seed=3)
    return root


# -- extraction and the file ---------------------------------------------------------------------

def test_in_memory_items_in_order_with_a_bad_one_recorded(images):
    manifest = images.copy()
    manifest.loc[4, "item"] = b"not an image"
    table = extract_table(manifest, features=["blur"])
    bank = make_feature_bank(["blur"]).fit()
    good = [i for i in range(12) if i != 4]
    expected = bank.transform([manifest["item"].iloc[i] for i in good])
    np.testing.assert_allclose(table.X[good], expected, rtol=1e-12)
    assert table.data["item_index"].tolist() == list(range(12))
    assert table.data["status"].tolist() == ["ok"] * 4 + ["error"] + ["ok"] * 7
    assert "not a readable image" in table.data["error"].iloc[4] and np.isnan(table.X[4]).all()
    assert "item" not in table.data.columns  # the bytes do not go into the table
    assert table.meta["n_failed"] == 1 and table.meta["level"] == "image"


def test_parquet_round_trip_keeps_rows_columns_and_provenance(images, tmp_path):
    table = extract_table(images, features=["blur"], config={"cv.folds": 3}, command="forensics extract x")
    path = table.to_parquet(tmp_path / "t.parquet")
    back = read_table(path)
    pd.testing.assert_frame_equal(back.data, table.data)
    assert back.feature_names == table.feature_names and back.path == path
    assert back.meta["config"] == {"cv.folds": 3} and back.meta["command"] == "forensics extract x"
    entry, = back.meta["features"]["extractors"]
    assert entry["class"].endswith("BlurFeatures") and entry["columns"] == table.feature_names
    assert "n_jobs" not in entry["params"] and "on_error" not in entry["params"]


def test_read_table_refuses_what_is_not_a_feature_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="feature table not found"):
        read_table(tmp_path / "nope.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(TableMismatchError, match="not a feature table"):
        read_table(tmp_path / "plain.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"junk")
    with pytest.raises(TableMismatchError, match="not a readable Parquet file"):
        read_table(tmp_path / "junk.parquet")


def _rewrite_meta(path, **changes):
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"forensics"])
    for key, value in changes.items():
        target = meta
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata,
                                                  b"forensics": json.dumps(meta).encode()}), path)


def test_a_table_of_another_version_or_format_is_refused(images, tmp_path):
    import forensics

    path = extract_table(images, features=["blur"]).to_parquet(tmp_path / "t.parquet")
    extractor = make_feature_bank(["blur"])
    read_table(path).features_for(extractor)  # this version: accepted
    _rewrite_meta(path, **{"versions.forensics": "0.0.1"})
    with pytest.raises(TableMismatchError, match=f"extracted by forensics 0.0.1; this is forensics "
                                                 f"{forensics.__version__}"):
        read_table(path).features_for(extractor)
    _rewrite_meta(path, **{"versions.forensics": forensics.__version__, "format": 99})
    with pytest.raises(TableMismatchError, match="table format 99"):
        read_table(path).features_for(extractor)


def test_a_table_made_with_other_parameters_is_refused_and_a_matching_subset_is_served(images):
    table = extract_table(images, features={"families": ["spectral", "blur"], "spectral__n_bins": 16})
    with pytest.raises(TableMismatchError, match=r"n_bins=16 \(the detector: 32\)"):
        table.features_for(make_feature_bank(["spectral"]))
    with pytest.raises(TableMismatchError, match="the detector needs \\(family dctspec; first: 'dctspec__"):
        table.features_for(make_feature_bank(["dctspec"]))
    # the look-alikes that are served: the same parameters, a subset of the columns
    F, names = table.features_for(make_feature_bank(["spectral"], spectral__n_bins=16))
    direct = make_feature_bank(["spectral"], spectral__n_bins=16).fit_transform(list(images["item"]))
    np.testing.assert_allclose(F, direct, rtol=1e-12)
    F, names = table.features_for(make_feature_bank(["blur"], select=["blur__laplacian"]))
    assert names and all(n.startswith("blur__laplacian") for n in names)


def test_frame_settings_are_checked_only_when_asked(videos):
    manifest = load_data(videos)
    table = extract_table(manifest, features=["blur"], n_frames=3)
    assert table.level == "frame" and len(table) == 8 * 3
    table.check_frames(n_frames=3, level="frame", faces=None)  # the same, or not asked: accepted
    with pytest.raises(TableMismatchError, match="n_frames=3; this run asks for n_frames=4"):
        table.check_frames(n_frames=4)
    with pytest.raises(TableMismatchError, match="asks for level 'video'"):
        table.check_frames(level="video")
    # asked by a saved model (predict, evaluate --model), not by an option: said so, no option to drop
    with pytest.raises(TableMismatchError, match="n_frames=3; the model 'm.joblib' was fitted with n_frames=4: give "
                                                 "it the files, or a table extracted as it was$"):
        table.check_frames(model="the model 'm.joblib'", n_frames=4)
    with pytest.raises(TableMismatchError, match="frame-level rows; the model 'm.joblib' scores video-level rows: "
                                                 "give it the files, or a table extracted with --level video$"):
        table.check_frames(model="the model 'm.joblib'", level="video")
    table.check_frames(model="the model 'm.joblib'", n_frames=3, level="frame")
    image_table = FeatureTable(pd.DataFrame({"x": [1.0]}), ["x"], {"level": "image", "kind": "image"})
    with pytest.raises(TableMismatchError, match="holds images"):
        image_table.check_frames(n_frames=4)


def test_a_face_table_records_the_detector_that_ran_and_auto_is_checked_as_that(videos, tmp_path):
    import importlib.util

    if importlib.util.find_spec("facenet_pytorch") is not None:
        pytest.skip("facenet-pytorch is installed: 'auto' picks MTCNN here and this test expects the cascade")
    manifest = load_data(videos).iloc[:2]
    with pytest.warns(RuntimeWarning, match="no face"):  # landscapes: the cascade ran and found none
        table = extract_table(manifest, features=["blur"], n_frames=1, faces=True)  # face_detector="auto"
    assert table.meta["frames"]["detector"] == "cascade"  # the backend that cropped, not "auto"
    # a run asking for "auto" asks for what it picks here: the same
    table.check_frames(faces=True, detector="auto")
    table.check_frames(faces=True, detector="cascade")
    with pytest.raises(TableMismatchError, match="extracted with detector='cascade'; this run asks for "
                                                 "detector='mtcnn'"):
        table.check_frames(faces=True, detector="mtcnn")
    # a table cropped by MTCNN (elsewhere) is not what "auto" crops with here
    table.meta["frames"]["detector"] = "mtcnn"
    with pytest.raises(TableMismatchError, match=r"extracted with detector='mtcnn'; this run asks for "
                                                 r"detector='auto' \(here 'cascade'\)"):
        table.check_frames(faces=True, detector="auto")
    # whole frames: no face detector runs, the setting is kept as given
    assert extract_table(manifest, features=["blur"], n_frames=1).meta["frames"]["detector"] == "auto"


def test_a_face_table_written_before_the_detector_was_recorded_is_taken_as_auto_here():
    """A face table whose meta says detector "auto" (written before the backend was recorded; the
    version did not change) stays usable: its "auto" is what "auto" picks here, as for a model saved
    then. It was refused by every model since, the model's own old table included
    ("extracted with detector='auto'; this run asks for detector='cascade'")."""
    from forensics.media import resolve_detector

    here = resolve_detector("auto")
    other = "mtcnn" if here == "cascade" else "cascade"
    frames = dict(faces=True, detector="auto", model_path=None, n_frames=2)
    old = FeatureTable(pd.DataFrame({"x": [1.0]}), ["x"], {"level": "video", "kind": "video", "frames": frames})
    old.check_frames(faces=True, detector=here)  # a model that recorded the backend "auto" picks here
    old.check_frames(faces=True, detector="auto")  # an old model (or config) asking for "auto"
    with pytest.raises(TableMismatchError, match=f"extracted with detector='auto'; this run asks for "
                                                 f"detector='{other}'"):
        old.check_frames(faces=True, detector=other)
    # with a model file, "auto" meant YuNet: the look-alike without one is not taken for it
    yunet = FeatureTable(old.data, ["x"], dict(old.meta, frames=dict(frames, model_path="yunet.onnx")))
    yunet.check_frames(faces=True, detector="yunet", model_path="yunet.onnx")
    with pytest.raises(TableMismatchError, match="extracted with detector='auto'"):
        yunet.check_frames(faces=True, detector=here)
    # a whole-frame table keeps "auto" as given (no detector ran): asking for a backend is still refused
    frames_only = FeatureTable(old.data, ["x"], dict(old.meta, frames=dict(frames, faces=False)))
    with pytest.raises(TableMismatchError, match="extracted with detector='auto'"):
        frames_only.check_frames(faces=False, detector=here)


def test_extract_to_a_face_table_written_before_the_detector_was_recorded_is_the_same_run(videos, tmp_path):
    """The command that wrote a face table before the backend was recorded (its signature says
    detector "auto"), run again into it, was refused ("written with frames.face_detector='auto'; this
    run asks for frames.face_detector='cascade'"): its "auto" is what "auto" picks here. Another
    backend asked for is still refused, and so are its chunks of an interrupted run."""
    import json
    import warnings

    import pyarrow.parquet as pq

    from forensics._tables import _META_KEY, read_meta
    from forensics.media import resolve_detector

    here = resolve_detector("auto")
    other = "mtcnn" if here == "cascade" else "cascade"
    manifest = load_data(videos).iloc[:2]
    out = tmp_path / "t.parquet"
    kwargs = dict(features=["blur"], level="video", n_frames=1, faces=True, out=out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = extract_table(manifest, **kwargs)
    meta = read_meta(out)
    assert meta["frames"]["detector"] == here and f'"detector": "{here}"' in meta["signature"]
    legacy = json.loads(json.dumps(meta).replace(f'\\"detector\\": \\"{here}\\"', '\\"detector\\": \\"auto\\"'))
    legacy["frames"]["detector"] = "auto"
    assert '"detector": "auto"' in legacy["signature"]
    table = pq.read_table(out)
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, _META_KEY: json.dumps(legacy)}), out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = extract_table(manifest, **kwargs)  # the same call: the table as it is
    pd.testing.assert_frame_equal(again.data, first.data)
    with pytest.raises(TableMismatchError, match=f"with frames.face_detector='auto'; this run asks for "
                                                 f"frames.face_detector='{other}'"):
        extract_table(manifest, **dict(kwargs, face_detector=other))
    parts = tmp_path / "p.parquet.parts"  # the chunks of an interrupted run: the same rule
    parts.mkdir()
    (parts / "settings.json").write_text(legacy["signature"], encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = extract_table(manifest, **dict(kwargs, out=tmp_path / "p.parquet"))
    pd.testing.assert_frame_equal(resumed.data.drop(columns="path"), first.data.drop(columns="path"))
    with pytest.raises(TableMismatchError, match="chunks extracted with frames.face_detector='auto'"):
        (tmp_path / "p.parquet").unlink()
        (parts.mkdir(), (parts / "settings.json").write_text(legacy["signature"], encoding="utf-8"))
        extract_table(manifest, **dict(kwargs, out=tmp_path / "p.parquet", face_detector=other))


def test_extract_table_resumes_and_refuses_other_settings(images, tmp_path):
    out = tmp_path / "t.parquet"
    full = extract_table(images, features=["blur"], chunk_size=5)
    parts = tmp_path / "t.parquet.parts"
    parts.mkdir()
    sig = full.meta["signature"]
    (parts / "settings.json").write_text(sig)
    full.data.iloc[5:10].to_parquet(parts / "part-000000.parquet", index=False)  # a chunk from the middle
    resumed = extract_table(images, features=["blur"], chunk_size=4, out=out)
    pd.testing.assert_frame_equal(resumed.data, full.data)
    assert not parts.exists()
    # the refusal names what differs (as config keys), old value then new: the feature set...
    with pytest.raises(TableMismatchError, match=re.escape("written with features.spec=['blur']; this run asks for "
                                                           "features.spec=['dctspec']; use another output")):
        extract_table(images, features=["dctspec"], out=out)
    # ... one parameter of a family (the same extractor otherwise)...
    bank = tmp_path / "bank.parquet"
    extract_table(images, features=make_feature_bank(["blur"]), out=bank)
    with pytest.raises(TableMismatchError, match=r"written with features\.BlurFeatures\.grid=4; this run asks for "
                                                 r"features\.BlurFeatures\.grid=2; "):
        extract_table(images, features=make_feature_bank(["blur"], blur__grid=2), out=bank)
    # ... equalization
    with pytest.raises(TableMismatchError, match=r"with features\.equalize=False; this run asks for "
                                                 r"features\.equalize=True"):
        extract_table(images, features=["blur"], equalize=True, out=out)
    other = tmp_path / "u.parquet.parts"
    other.mkdir()
    (other / "settings.json").write_text("something else")
    with pytest.raises(TableMismatchError, match="chunks extracted with other settings or by another version "
                                                 r"\(its settings are not readable\)"):
        extract_table(images, features=["blur"], out=tmp_path / "u.parquet")
    # chunks written by another version: the version is named, not a setting
    settings, end = json.JSONDecoder().raw_decode(sig)
    (other / "settings.json").write_text(sig[:end] + json.dumps("0.0.1"))
    with pytest.raises(TableMismatchError, match=r"chunks extracted by forensics 0\.0\.1; this is forensics "):
        extract_table(images, features=["blur"], out=tmp_path / "u.parquet")
    # its look-alike, the very signature of this run, resumes
    (other / "settings.json").write_text(sig)
    pd.testing.assert_frame_equal(extract_table(images, features=["blur"], out=tmp_path / "u.parquet").data, full.data)


def test_resume_refusal_names_the_frame_setting(videos, tmp_path):
    manifest = load_data(videos)
    out = tmp_path / "v.parquet"
    first = extract_table(manifest, features=["blur"], n_frames=2, out=out)
    with pytest.raises(TableMismatchError, match=r"written with frames\.n_frames=2; this run asks for "
                                                 r"frames\.n_frames=3; use another output"):
        extract_table(manifest, features=["blur"], n_frames=3, out=out)
    with pytest.raises(TableMismatchError, match=r"written with aggregate=None, frames\.level='frame'; this run asks "
                                                 r"for aggregate=\['mean'\], frames\.level='video'"):
        extract_table(manifest, features=["blur"], n_frames=2, level="video", aggregate=("mean",), out=out)
    assert extract_table(manifest, features=["blur"], n_frames=2, out=out).meta["n_kept"] == len(manifest)
    assert first.meta["n_kept"] == 0


def test_retry_failed_extracts_again_only_the_failed_items(images, tmp_path):
    """A finished table: its failed items (1 and 10) are extracted again and only those; chunks of 5 items."""
    out = tmp_path / "t.parquet"
    full = extract_table(images, features=["blur"], chunk_size=5)  # every item readable
    first = images.copy()
    first.loc[1, "item"], first.loc[10, "item"] = b"not an image", b"not an image"
    before = extract_table(first, features=["blur"], chunk_size=5, out=out)
    assert before.data["status"].tolist() == ["ok"] + ["error"] + ["ok"] * 8 + ["error", "ok"]
    # later: item 1 reads (the error was transient), item 10 fails another way, and item 2 (done) would fail now
    later = images.copy()
    later.loc[10, "item"], later.loc[2, "item"] = b"", b"not an image"
    kept = extract_table(later, features=["blur"], chunk_size=5, out=out)  # without retry_failed: as it was
    pd.testing.assert_frame_equal(kept.data, before.data)
    assert kept.meta["n_retried"] == 0
    retried = extract_table(later, features=["blur"], chunk_size=5, out=out, retry_failed=True)
    assert retried.meta["n_retried"] == 2 and retried.meta["n_failed"] == 1
    assert retried.data["item_index"].tolist() == list(range(12))
    assert retried.data["status"].tolist() == ["ok"] * 10 + ["error", "ok"]
    assert retried.data["error"].iloc[10] == "empty bytes"  # the new reason, recorded
    # item 1 retried gives the values of an extraction that never failed; item 2 was not recomputed (its
    # bytes are unreadable now): its row is the first run's
    pd.testing.assert_frame_equal(retried.data.drop(index=10), full.data.drop(index=10))
    assert np.isnan(retried.X[10]).all()
    pd.testing.assert_frame_equal(read_table(out).data, retried.data)
    assert not (tmp_path / "t.parquet.parts").exists()
    # nothing failed any more but item 10: a second retry runs item 10 alone
    again = extract_table(images, features=["blur"], chunk_size=5, out=out, retry_failed=True)
    assert again.meta["n_retried"] == 1
    pd.testing.assert_frame_equal(again.data, full.data)
    assert extract_table(images, features=["blur"], out=out, retry_failed=True).meta["n_retried"] == 0


def test_retry_failed_in_the_chunks_of_an_interrupted_run(images, tmp_path):
    out = tmp_path / "t.parquet"
    full = extract_table(images, features=["blur"], chunk_size=5)
    bad = images.copy()
    bad.loc[[1, 7], "item"] = b"not an image"
    failed = extract_table(bad, features=["blur"])
    parts = tmp_path / "t.parquet.parts"
    parts.mkdir()
    (parts / "settings.json").write_text(full.meta["signature"])
    # saved chunks: items 0, 2, 3 and failed 1; failed 7 alone; items 4-6. Items 8-11 not done yet
    failed.data.iloc[[0, 1, 2, 3]].to_parquet(parts / "part-000000.parquet", index=False)
    failed.data.iloc[[7]].to_parquet(parts / "part-000001.parquet", index=False)
    failed.data.iloc[4:7].to_parquet(parts / "part-000002.parquet", index=False)
    table = extract_table(images, features=["blur"], chunk_size=3, out=out, retry_failed=True)
    assert table.meta["n_retried"] == 2
    pd.testing.assert_frame_equal(table.data, full.data)
    # without retry_failed, the same saved chunks resume with their failed rows as they were
    other = tmp_path / "u.parquet.parts"
    other.mkdir()
    (other / "settings.json").write_text(full.meta["signature"])
    failed.data.iloc[[0, 1, 2, 3]].to_parquet(other / "part-000000.parquet", index=False)
    resumed = extract_table(images, features=["blur"], chunk_size=3, out=tmp_path / "u.parquet")
    assert resumed.data["status"].tolist() == ["ok", "error"] + ["ok"] * 10 and resumed.meta["n_retried"] == 0


def test_a_resume_refuses_data_whose_labels_or_groups_changed(images, tmp_path):
    """Rows already extracted keep the manifest values they were written with: resuming with another
    label or group would return a table half old, half new (or wholly old), so it is refused; the
    same data resumes (look-alike)."""
    out = tmp_path / "t.parquet"
    full = extract_table(images, features=["blur"], chunk_size=5)
    parts = tmp_path / "t.parquet.parts"
    parts.mkdir()
    (parts / "settings.json").write_text(full.meta["signature"])
    full.data.iloc[5:10].to_parquet(parts / "part-000000.parquet", index=False)  # an interrupted run
    relabelled = images.copy()
    relabelled.loc[7, "label"] = 1 - relabelled.loc[7, "label"]
    with pytest.raises(TableMismatchError, match=r"holds label=1 for None, the data given 0"):
        extract_table(relabelled, features=["blur"], chunk_size=4, out=out)
    with pytest.raises(TableMismatchError, match="holds group=2 for None, the data given 5"):
        extract_table(images.assign(group=np.arange(len(images))), features=["blur"], chunk_size=4, out=out)
    resumed = extract_table(images, features=["blur"], chunk_size=4, out=out)
    pd.testing.assert_frame_equal(resumed.data, full.data)
    # a finished table given other labels is refused too, not returned with the old ones
    with pytest.raises(TableMismatchError, match="holds label="):
        extract_table(relabelled, features=["blur"], out=out)
    pd.testing.assert_frame_equal(extract_table(images, features=["blur"], out=out).data, full.data)


def test_retry_failed_refuses_data_whose_kept_rows_differ(images, tmp_path):
    """The rows that succeeded are kept, not re-read: data with another label, or another column, for them
    would mix two manifests in one table, so it is refused; the same data (a look-alike) is retried."""
    out = tmp_path / "t.parquet"
    bad = images.copy()
    bad.loc[1, "item"] = b"not an image"
    before = extract_table(bad, features=["blur"], out=out)
    relabelled = images.copy()
    relabelled.loc[5, "label"] = 1
    with pytest.raises(TableMismatchError, match=r"holds label=0 for None, the data given 1"):
        extract_table(relabelled, features=["blur"], out=out, retry_failed=True)
    with pytest.raises(TableMismatchError, match=r"differ in the column 'source' \(only the data given has it\);"):
        extract_table(images.assign(source="x"), features=["blur"], out=out, retry_failed=True)
    # the data without the group column the table holds (a --group-pattern left out of the rerun)
    only = rf"only {re.escape(str(out))} has it"
    with pytest.raises(TableMismatchError, match=rf"differ in the column 'group' \({only}\) \(a group column comes "
                                                 r"from the data or from --group-pattern"):
        extract_table(images.drop(columns="group"), features=["blur"], out=out, retry_failed=True)
    pd.testing.assert_frame_equal(read_table(out).data, before.data)  # refused: the table is untouched
    assert extract_table(images, features=["blur"], out=out, retry_failed=True).meta["n_retried"] == 1


def test_retry_failed_needs_an_output(images):
    with pytest.raises(ValueError, match="retry_failed applies to a table written to out"):
        extract_table(images, features=["blur"], retry_failed=True)
    assert extract_table(images, features=["blur"], retry_failed=False).meta["n_retried"] == 0


def test_retry_failed_at_frame_level_gives_a_recovered_video_its_frames(videos, tmp_path):
    import shutil

    root = tmp_path / "videos"
    shutil.copytree(videos, root)
    manifest = load_data(root)
    out = tmp_path / "t.parquet"
    missing = manifest["path"].iloc[2]
    shutil.move(missing, tmp_path / "away.mp4")
    before = extract_table(manifest, features=["blur"], n_frames=3, chunk_size=3, out=out)
    rows = before.data[before.data["item_index"] == 2]
    assert rows["status"].tolist() == ["error"] and rows["frame_index"].tolist() == [-1]
    shutil.move(tmp_path / "away.mp4", missing)
    table = extract_table(manifest, features=["blur"], n_frames=3, chunk_size=3, out=out, retry_failed=True)
    fresh = extract_table(manifest, features=["blur"], n_frames=3, chunk_size=3)
    assert table.meta["n_retried"] == 1 and (table.data["item_index"] == 2).sum() == 3
    pd.testing.assert_frame_equal(table.data, fresh.data)


def test_a_path_with_undecodable_bytes_is_written_escaped_and_resumes(tmp_path):
    """A hand-built manifest (object column) naming a file in Latin-1 on a UTF-8 system: the
    extraction ran, then writing the table failed (Parquet holds UTF-8 only: UnicodeEncodeError),
    losing the work. The file is read; the table names it with the bytes escaped, as the errors
    and the face-crop tables do, and a second run over the same manifest resumes the table instead
    of calling it other items. Look-alikes: names with a newline, a tab, a leading space or a
    valid 'caf\u00e9' are written as they are."""
    import os

    folder = os.fsencode(str(tmp_path))
    raw = os.fsdecode(folder + b"/caf\xe9.png")
    try:
        open(raw, "wb").close()
    except OSError:  # pragma: no cover - a file system that refuses such names
        pytest.skip("this file system refuses names that are not valid UTF-8")
    names = [raw, str(tmp_path / "a\nb.png"), str(tmp_path / "t\tb.png"), str(tmp_path / " lead.png"),
             str(tmp_path / "caf\u00e9.png")]
    for k, name in enumerate(names):
        with open(name, "wb") as f:
            f.write(encode(natural_image(k, (32, 40)), "PNG"))
    manifest = pd.DataFrame({"path": pd.Series(names, dtype=object), "label": [0, 1, 0, 1, 0]})
    out = tmp_path / "t.parquet"
    table = extract_table(manifest, features=["blur"], out=out, chunk_size=2)
    assert table.data["status"].tolist() == ["ok"] * 5
    assert table.data["path"].tolist() == [str(tmp_path / "caf\\udce9.png")] + names[1:]
    expected = make_feature_bank(["blur"]).fit().transform(names)
    np.testing.assert_allclose(table.X, expected, rtol=1e-12)
    assert read_table(out).data["path"].tolist() == table.data["path"].tolist()
    again = extract_table(manifest, features=["blur"], out=out)  # resumed: the same items
    # (an object path column comes back from Parquet as strings, escaped or not: values compared)
    pd.testing.assert_frame_equal(again.data, table.data, check_dtype=False)


def test_fit_detector_scores_files_like_the_pipeline_fitted_on_them(images):
    pipe = make_pipeline(features=["blur"], head="logistic")
    table = extract_table(images, features=pipe.named_steps["features"])
    model = table.fit_detector(pipe)
    X, y = list(images["item"]), images["label"].to_numpy()
    np.testing.assert_allclose(model.predict_proba(X), make_pipeline(features=["blur"]).fit(X, y).predict_proba(X),
                               rtol=1e-10)
    equalized = extract_table(images, features=pipe.named_steps["features"], equalize=True)
    assert [n for n, _ in equalized.fit_detector(pipe).steps][:2] == ["equalize", "features"]


def test_fit_detector_at_video_and_frame_level(videos):
    from forensics.features import VideoFeatures
    from forensics.metrics import aggregate_scores

    manifest = load_data(videos)
    pipe = make_pipeline(features=["blur"], head="logistic")
    paths = list(manifest["path"])
    by_video = extract_table(manifest, features=pipe.named_steps["features"], level="video", n_frames=3)
    model = by_video.fit_detector(pipe)
    assert isinstance(model.steps[0][1], VideoFeatures) and model.steps[0][1].n_frames == 3
    np.testing.assert_allclose(model.named_steps["features"].transform(paths), by_video.X, rtol=1e-12)
    by_frame = extract_table(manifest, features=pipe.named_steps["features"], n_frames=3)
    det = by_frame.fit_detector(pipe, aggregate="median")
    assert isinstance(det, VideoDetector) and det.n_frames == 3 and det.aggregate == "median"
    frame_scores = det.model_.predict_proba(by_frame.X)[:, 1]
    expected = aggregate_scores(frame_scores, by_frame.videos, how="median").to_numpy()
    np.testing.assert_allclose(det.predict_proba(paths)[:, 1], expected, rtol=1e-10)
    # fitting the VideoDetector on the files gives the same model
    fresh = VideoDetector(make_pipeline(features=["blur"], head="logistic"), n_frames=3, aggregate="median")
    fresh.fit(paths, manifest["label"].to_numpy())
    np.testing.assert_allclose(fresh.predict_proba(paths), det.predict_proba(paths), rtol=1e-10)


def test_video_detector_names_a_video_without_frames(videos, tmp_path):
    from forensics import ItemError

    manifest = load_data(videos)
    det = VideoDetector(make_pipeline(features=["blur"]), n_frames=2).fit(list(manifest["path"]),
                                                                           manifest["label"].to_numpy())
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ItemError, match="bad.mp4"):
        det.predict_proba([list(manifest["path"])[0], str(bad)])
    with pytest.raises(ValueError, match="aggregate must be one of"):
        VideoDetector(make_pipeline(features=["blur"]), aggregate="mode").fit(list(manifest["path"])[:2], [0, 1])


def test_video_detector_of_still_images_crops_faces_as_extract_faces_does(videos, tmp_path):
    """input="image": still images, each a one-frame video of face crops; the same crops and features as
    extract_faces; refusals: another input, input="image" without faces, a video given to it."""
    import pickle

    from skimage import data as skdata

    from forensics import ItemError
    from forensics._video_detector import takes_videos
    from forensics.datasets import extract_faces

    face = skdata.astronaut()[:256, 100:356]  # one face, found by the offline cascade detector
    paths = []
    for k in range(4):
        path = tmp_path / f"{k}.png"
        path.write_bytes(encode(np.ascontiguousarray(np.roll(face, 5 * k, axis=1)), "PNG"))
        paths.append(str(path))
    y = np.array([0, 1, 0, 1])
    det = VideoDetector(make_pipeline(features=["blur"]), faces=True, face_detector="cascade", input="image")
    det.fit(paths, y)
    assert not takes_videos(det) and takes_videos(VideoDetector(make_pipeline(features=["blur"])))
    F, meta, status = det._frames(paths)
    assert meta["video"].tolist() == [0, 1, 2, 3] and status["status"].eq("ok").all()
    bank = make_feature_bank(["blur"]).fit()
    result = extract_faces(pd.DataFrame({"path": paths, "label": y, "method": ["m"] * 4}), tmp_path / "crops",
                           detector="cascade", features=bank, progress=False)
    crops = pd.read_csv(tmp_path / "crops" / "features.csv")
    assert result.status["status"].eq("ok").all()
    np.testing.assert_allclose(F, crops[det.features_.frame_feature_names_].to_numpy(), rtol=1e-12)
    proba = det.predict_proba(paths)
    np.testing.assert_allclose(proba[:, 1], det.model_.predict_proba(F)[:, 1])
    # a video, and an image without a face, are named
    video = str(sorted(videos.rglob("*.mp4"))[0])
    with pytest.raises(ItemError, match="is a video; this detector was trained on face crops of still images"):
        det.predict_proba([paths[0], video])
    blank = tmp_path / "blank.png"
    blank.write_bytes(encode(np.full((64, 64, 3), 128, np.uint8), "PNG"))
    with pytest.raises(ItemError, match="no face found in the image"):
        det.predict_proba([str(blank)])
    # one path alone is refused as every estimator refuses it (it was read as one image per character);
    # a one-column DataFrame is read as its column (it was iterated by its column name)
    with pytest.raises(TypeError, match="wrap one image as"):
        det.predict_proba(paths[0])
    np.testing.assert_allclose(det.predict_proba(pd.DataFrame({"path": paths})), proba)
    # refused parameters, and their look-alikes
    with pytest.raises(ValueError, match="input must be 'video' or 'image'"):
        VideoDetector(make_pipeline(features=["blur"]), input="images").fit(paths, y)
    with pytest.raises(ValueError, match="needs faces=True"):
        VideoDetector(make_pipeline(features=["blur"]), faces=False, input="image").fit(paths, y)
    # a model saved before the parameter existed scores videos
    state = {k: v for k, v in det.__getstate__().items() if k != "input"}
    old = VideoDetector.__new__(VideoDetector)
    old.__setstate__(state)
    assert old.input == "video" and old.get_params()["input"] == "video"
    assert pickle.loads(pickle.dumps(det)).input == "image"


def test_video_detector_of_still_images_in_parallel_keeps_every_row_in_order(tmp_path, monkeypatch):
    """input="image" with n_jobs=2 (it scored images one after another whatever n_jobs said): each image is a
    task of the project's parallel runner with the detector's n_jobs, and the features, meta and status are
    those of n_jobs=1, in input order, with an image without a face and an unreadable file among them (each
    keeps its own status row, nothing shifts)."""
    from skimage import data as skdata

    from forensics import _parallel

    runs, run_in_order = [], _parallel.run_in_order

    def counted(jobs, n_jobs=None):  # the real runner, its calls counted
        jobs = list(jobs)
        runs.append((len(jobs), n_jobs))
        return run_in_order(jobs, n_jobs)

    monkeypatch.setattr(_parallel, "run_in_order", counted)

    face = skdata.astronaut()[:256, 100:356]
    paths = []
    for k in range(5):
        path = tmp_path / f"{k}.png"
        path.write_bytes(encode(np.ascontiguousarray(np.roll(face, 7 * k, axis=1)), "PNG"))
        paths.append(str(path))
    (tmp_path / "blank.png").write_bytes(encode(np.full((64, 64, 3), 128, np.uint8), "PNG"))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    paths = paths[:2] + [str(tmp_path / "blank.png")] + paths[2:4] + [str(tmp_path / "bad.png")] + paths[4:]
    outs = []
    for n_jobs in (1, 2):
        det = VideoDetector(make_pipeline(features=["blur"]), faces=True, face_detector="cascade", input="image",
                            n_jobs=n_jobs).fit(paths[:2] + paths[3:5], [0, 1, 0, 1])
        runs.clear()
        outs.append(det._frames(paths))
        assert runs == [(7, n_jobs)]
    (F1, meta1, status1), (F2, meta2, status2) = outs
    assert status1["status"].tolist() == ["ok", "ok", "no_face", "ok", "ok", "error", "ok"]
    assert status1["index"].tolist() == list(range(7)) and meta1["video"].tolist() == [0, 1, 3, 4, 6]
    pd.testing.assert_frame_equal(status1, status2)
    pd.testing.assert_frame_equal(meta1, meta2)
    np.testing.assert_array_equal(F1, F2)


def test_the_default_video_table_serves_a_catalogue_detector_only_as_the_error_says(videos, images):
    """The default table of videos is the 'pixels' preset (no codec family): forensic-xgb lacks its codec
    columns. The error names the family and both ways out; the second (features__preset=pixels) gives the
    very scores of the detector with its codec columns, which are NaN or constant on decoded frames."""
    manifest = load_data(videos)
    y = manifest["label"].to_numpy()
    pixels = extract_table(manifest, features="pixels", level="video", n_frames=2)
    full_pipe = make_pipeline("forensic-xgb")
    with pytest.raises(TableMismatchError, match=r"lacks 19 feature columns the detector needs \(family codec; "
                                                 r"first: 'codec__format__jpeg'\).*--detector NAME.*"
                                                 r"--set features__preset=pixels"):
        pixels.features_for(full_pipe.named_steps["features"])
    full = extract_table(manifest, features=full_pipe.named_steps["features"], level="video", n_frames=2)
    codec = full.data[[c for c in full.feature_names if c.startswith("codec__")]]
    assert all(codec[c].isna().all() or codec[c].nunique() == 1 for c in codec.columns)  # nothing about the video
    with_codec = full.fit_detector(full_pipe)
    without = pixels.fit_detector(make_pipeline("forensic-xgb").set_params(features__preset="pixels"))
    paths = list(manifest["path"])
    np.testing.assert_allclose(without.predict_proba(paths), with_codec.predict_proba(paths), rtol=1e-12)
    assert len(without.steps[0][1].get_feature_names_out()) < len(with_codec.steps[0][1].get_feature_names_out())
    # look-alikes: image files (codec describes them: no such advice), and a table lacking more than codec
    image_table = extract_table(images, features="pixels")
    with pytest.raises(TableMismatchError, match="family codec") as err:
        image_table.features_for(make_pipeline("forensic-xgb").named_steps["features"])
    assert "features__preset" not in str(err.value)
    with pytest.raises(TableMismatchError, match="families codec, cooc, upsampling, faceregion") as err:
        pixels.features_for(make_pipeline("generalist-xgb").named_steps["features"])
    assert "features__preset" not in str(err.value)


def test_the_advice_for_a_table_lacking_columns_remakes_its_rows_when_followed_literally(videos, tmp_path, capsys):
    """The command the error suggests repeats the table's source, level, frame count and group pattern
    (before, 'forensics extract DATA --detector NAME' made one row per video, without groups); run as
    written, it gives a table with the same rows that the detector accepts."""
    import shlex

    from forensics.cli import main

    first = tmp_path / "t"
    argv = ["extract", str(videos), "--level", "frame", "--n-frames", "2", "--group-pattern", r"_(\w+)\.mp4$",
            "--features", "blur", "--out", str(first), "--no-progress", "--no-audit"]
    assert main(argv) == 0
    capsys.readouterr()
    table = first / "features.parquet"
    assert main(["train", str(table), "--detector", "spectrum-lr", "--out", str(tmp_path / "m.skops"),
                 "--no-progress", "--no-audit"]) == 1
    err = capsys.readouterr().err
    command = (f"forensics extract {shlex.quote(str(videos))} --level frame --n-frames 2 "
               r"--group-pattern '_(\w+)\.mp4$' --detector spectrum-lr --out NEW_DIR/")
    assert f"({command})" in err
    words = shlex.split(command)
    words[-1] = str(tmp_path / "new")
    assert main(words[1:] + ["--no-progress", "--no-audit"]) == 0
    old, new = read_table(table), read_table(tmp_path / "new" / "features.parquet")
    keys = ["item_index", "frame_index", "path", "label", "group"]
    pd.testing.assert_frame_equal(old.data[keys], new.data[keys])
    assert new.data["group"].nunique() == 4 and new.level == "frame"
    assert main(["train", str(tmp_path / "new" / "features.parquet"), "--detector", "spectrum-lr", "--out",
                 str(tmp_path / "m.skops"), "--no-progress", "--no-audit"]) == 0


@pytest.mark.parametrize("meta, expected", [
    # images from a manifest built in memory: nothing recorded but the kind
    ({"kind": "image", "level": "image"}, "forensics extract DATA --detector NAME --out NEW_DIR/"),
    ({"kind": "image", "level": "image", "equalize": True, "source": {"data": "my photos/", "dataset": "folder"}},
     "forensics extract 'my photos/' --equalize --detector NAME --out NEW_DIR/"),
    # face crops of still images: the face settings, no frame count (an image is one frame)
    ({"kind": "image", "level": "frame", "source": {"data": "faces/"},
      "frames": {"faces": True, "detector": "yunet", "model_path": "y.onnx", "n_frames": 32}},
     "forensics extract faces/ --faces --face-detector yunet --face-model y.onnx --detector NAME --out NEW_DIR/"),
    # videos sampled every k-th frame, at video level, from a loader root
    ({"kind": "video", "level": "video", "source": {"data": "/d/Celeb", "dataset": "celebdf"},
      "frames": {"faces": False, "every": 5, "n_frames": 32}, "config": {"data.group_pattern": None}},
     "forensics extract /d/Celeb --dataset celebdf --level video --every 5 --detector NAME --out NEW_DIR/"),
    ({"kind": "video", "level": "frame", "source": {"data": "celebdf:/d/Celeb", "dataset": "celebdf"},
      "frames": {"faces": False, "n_frames": 8}, "config": {"data.group_pattern": "^(id\\d+)_"}},
     "forensics extract celebdf:/d/Celeb --level frame --n-frames 8 --group-pattern '^(id\\d+)_' "
     "--detector NAME --out NEW_DIR/"),
])
def test_reextract_command_repeats_each_recorded_setting(meta, expected):
    table = FeatureTable(pd.DataFrame({"path": ["x"], "status": ["ok"]}), [], meta)
    assert table.reextract_command() == expected
    assert table.reextract_command("forensic-xgb") == expected.replace("NAME", "forensic-xgb")


# -- data sources ---------------------------------------------------------------------------------

def test_load_data_reads_folders_manifests_and_loader_roots(videos, tmp_path):
    from forensics._sources import parse_source

    manifest = load_data(videos, group_pattern=r"_(\w+)\.mp4$")
    assert set(manifest["kind"]) == {"video"} and manifest["group"].nunique() == 4
    assert manifest.attrs["source"] == str(videos)
    assert parse_source("dfdc:/x") == ("dfdc", "/x") and parse_source("notaloader:/x") == (None, "notaloader:/x")
    with pytest.raises(ValueError, match="names the loader 'dfdc' but --dataset says 'celebdf'"):
        parse_source("dfdc:/x", dataset="celebdf")
    # a DFDC part: metadata.json names the videos and their labels
    part = tmp_path / "dfdc_train_part_0"
    part.mkdir()
    real, fake = sorted(str(p) for p in videos.rglob("*.mp4"))[:2]
    import shutil

    shutil.copy(real, part / "aaaa.mp4")
    shutil.copy(fake, part / "bbbb.mp4")
    (part / "metadata.json").write_text(json.dumps({"aaaa.mp4": {"label": "REAL", "original": None},
                                                     "bbbb.mp4": {"label": "FAKE", "original": "aaaa.mp4"},
                                                     "gone.mp4": {"label": "FAKE", "original": "aaaa.mp4"}}))
    for source, dataset in ((f"dfdc:{tmp_path}", None), (str(tmp_path), "dfdc")):
        with pytest.warns(UserWarning, match=r"1 of 3 videos named in metadata\.json or labels\.csv are not on disk, "
                                             r"or not readable \(first: .*dfdc_train_part_0/gone\.mp4\)"):
            m = load_data(source, dataset=dataset)
        # the absent video stays a row (extraction gives it status error); it was dropped, so that a
        # table had no row for it and --retry-failed refused the data once the file was back
        assert m["label"].tolist() == [0, 1, 1] and m["kind"].tolist() == ["video"] * 3
        assert m["exists"].tolist() == [True, True, False] and m["path"].iloc[2].endswith("gone.mp4")
    with pytest.raises(FileNotFoundError, match="the celebdf root"):
        load_data("celebdf:" + str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="holds no image file"):
        load_data(videos, kind="image")


# -- video-level cross-validation --------------------------------------------------------------------

def test_cross_validate_detector_video_level_is_the_aggregate_of_the_frames():
    from sklearn.linear_model import LogisticRegression

    from forensics.metrics import aggregate_labels, aggregate_scores, evaluate
    from forensics.model_selection import cross_validate_detector

    rng = np.random.default_rng(0)
    videos = np.repeat(np.arange(20), 4)
    y = (videos % 2).astype(int)
    X = (y + rng.normal(0, 1.5, size=videos.size))[:, None]
    res = cross_validate_detector(LogisticRegression(), X, y, videos=videos, cv=4, aggregate="max")
    vs = aggregate_scores(res.oof_scores, videos, how="max")
    pd.testing.assert_series_equal(res.video_scores, vs)
    pd.testing.assert_series_equal(res.video_labels, aggregate_labels(y, videos))
    fold = res.test_fold[np.unique(videos, return_index=True)[1]]
    for f in range(4):
        m = fold == f
        expected = evaluate(res.video_labels.to_numpy()[m], vs.to_numpy()[m], threshold=res.thresholds[f])
        assert res.video_folds.loc[f, "roc_auc"] == pytest.approx(expected.loc["all", "roc_auc"])
    assert res.aggregate == "max" and "video_roc_auc" in repr(res)
    assert pd.Series(res.test_fold).groupby(videos).nunique().max() == 1  # a video never straddles folds
    with pytest.raises(ValueError, match="has items in several groups"):
        cross_validate_detector(LogisticRegression(), X, y, videos=videos, groups=np.arange(videos.size) % 5)


def test_cross_dataset_matrix_diagonal_is_cv_and_off_diagonal_fits_on_the_row(images):
    from forensics.model_selection import cross_dataset_matrix, cross_validate_detector, fit_and_score

    pipe = make_pipeline(features=["blur"], head="logistic")
    a = extract_table(images, features=pipe.named_steps["features"])
    b = extract_table(images.iloc[::-1].reset_index(drop=True), features=pipe.named_steps["features"])
    res = cross_dataset_matrix(pipe, {"A": a, "B": b}, cv=3)
    assert res.matrix.index.tolist() == ["A", "B"] and res.matrix.columns.tolist() == ["A", "B"]
    cv_a = cross_validate_detector(make_pipeline(features=None, head="logistic"), a.X, a.y, groups=a.groups, cv=3)
    assert res.matrix.loc["A", "A"] == pytest.approx(cv_a.summary.loc["roc_auc", "mean"])
    out = fit_and_score(pipe, a, b)
    assert res.matrix.loc["A", "B"] == pytest.approx(out["metrics"].loc["all", "roc_auc"])
    assert res.table.set_index(["train", "test"]).loc[("A", "B"), "how"] == "fit on train"
