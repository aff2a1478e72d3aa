"""Tests of the shortcut audit (forensics.inspection.audit) and its remedy (CodecEqualizer)."""

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_backend
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from conftest import encode, natural_image
from forensics.features import make_feature_bank
from forensics.inspection import PROPERTIES, VIDEO_PROPERTIES, AuditReport, ShortcutWarning, audit
from forensics.media import CodecEqualizer, FailedItemsWarning, ItemError, equalize_jpeg, load_item

N = 20  # items per class of the synthetic sets


def _quality_set(n=N, shape=(64, 64)):
    """(a): reals saved at JPEG quality 90, fakes at 95; every image has its own content."""
    X = [encode(natural_image(s, shape), "JPEG", quality=90) for s in range(n)]
    X += [encode(natural_image(1000 + s, shape), "JPEG", quality=95) for s in range(n)]
    return X, np.array([0] * n + [1] * n)


@pytest.fixture(scope="module")
def quality_set():
    return _quality_set()


@pytest.fixture(scope="module")
def quality_report(quality_set):
    return audit(*quality_set, warn=False)


# -- (a) different JPEG qualities per class ---------------------------------------------------------

def test_quality_shortcut_is_flagged_and_pixel_free_constants_are_not(quality_report):
    t = quality_report.table
    for name in ("jpeg_quant_tables", "jpeg_quality_luma", "jpeg_quality_chroma"):
        assert t.loc[name, "auc"] >= 0.99, (name, t.loc[name, "auc"])
        assert t.loc[name, "accuracy"] >= 0.99
        assert name in quality_report.flagged
    assert t.loc["jpeg_quant_tables", "n_values"] == 2
    for name in ("format", "width", "height", "aspect_ratio", "n_pixels", "chroma_subsampling", "exif_present"):
        assert not t.loc[name, "flagged"]
        assert t.loc[name, "auc"] == 0.5 and t.loc[name, "n_values"] == 1
        assert "constant" in t.loc[name, "note"]
    assert quality_report.n_items == 2 * N
    assert quality_report.class_balance == {0: N, 1: N}
    # sorted by AUC descending, flagged list in the same order, every property present once
    assert list(t["auc"]) == sorted(t["auc"], reverse=True)
    assert quality_report.flagged == [p for p in t.index if t.loc[p, "flagged"]]
    assert set(t.index) == set(PROPERTIES) | {"all_combined"}


def test_property_values_are_read_from_the_header():
    jpeg = encode(natural_image(3, (40, 56)), "JPEG", quality=90)
    png = encode(natural_image(4, (30, 20)), "PNG")
    arr = natural_image(5, (10, 12))
    v = audit([jpeg, png, arr] * 4, [0, 1] * 6, cv=2, warn=False).values
    assert list(v["format"][:3]) == ["jpeg", "png", "array"]
    assert (v.loc[0, "width"], v.loc[0, "height"], v.loc[0, "file_size"]) == (56, 40, len(jpeg))
    assert v.loc[0, "bytes_per_pixel"] == pytest.approx(len(jpeg) / (40 * 56))
    assert v.loc[0, "aspect_ratio"] == pytest.approx(56 / 40)
    assert v.loc[0, "jpeg_quality_luma"] == 90 and v.loc[0, "chroma_subsampling"] == "4:2:0"
    assert v.loc[0, "progressive"] == 0 and v.loc[0, "exif_present"] == 0
    assert v.loc[1, "n_pixels"] == 600 and v.loc[1, "file_size"] == len(png)
    assert pd.isna(v.loc[1, "jpeg_quant_tables"]) and np.isnan(v.loc[1, "jpeg_quality_luma"])
    assert v.loc[2, "width"] == 12 and np.isnan(v.loc[2, "file_size"])  # an array has no file


def test_a_property_unique_per_item_cannot_score_by_memorisation():
    # Every item has its own quality, hence its own table: the table hash identifies the file.
    # Out of fold every table is unseen, scored by the training prior: AUC exactly 0.5. The
    # quality itself is ordered, and the label is quality >= 70, so a threshold learned on the
    # training folds transfers (up to where the midpoint between the training qualities falls:
    # a fold whose training set jumps from 68 to 72 splits at 70 and misses that item).
    qualities = np.arange(50, 90)
    X = [encode(natural_image(0, (24, 24)), "JPEG", quality=int(q)) for q in qualities]
    y = (qualities >= 70).astype(int)
    report = audit(X, y, warn=False)
    t = report.table
    assert t.loc["jpeg_quant_tables", "n_values"] == len(X)
    assert t.loc["jpeg_quant_tables", "note"].startswith("unique per item")
    assert t.loc["jpeg_quant_tables", "auc"] == 0.5
    assert t.loc["jpeg_quality_luma", "auc"] >= 0.9 and t.loc["jpeg_quality_luma", "flagged"]


# -- (b) no shortcut --------------------------------------------------------------------------------

def test_random_labels_flag_nothing():
    # Same codec and size; labels random. File size varies with content only. An out-of-fold
    # AUC of a useless score with 60 + 60 items has a standard deviation of about 0.05, so the
    # tolerance |AUC - 0.5| <= 0.2 is four of them.
    n = 60
    X = [encode(natural_image(s, (48, 48)), "JPEG", quality=90) for s in range(2 * n)]
    y = np.random.default_rng(7).permutation([0] * n + [1] * n)
    report = audit(X, y, warn=False)
    assert report.flagged == []
    assert np.all(np.abs(report.table["auc"] - 0.5) <= 0.2), report.table["auc"]
    assert str(report).startswith("No shortcut found")
    assert "SHORTCUT" not in str(report)


# -- (c) different formats ----------------------------------------------------------------------

def test_png_fakes_flag_the_format():
    X = [encode(natural_image(s, (32, 32)), "JPEG", quality=90) for s in range(N)]
    X += [encode(natural_image(1000 + s, (32, 32)), "PNG") for s in range(N)]
    y = [0] * N + [1] * N
    report = audit(X, y, warn=False)
    t = report.table
    assert t.loc["format", "flagged"] and t.loc["format", "auc"] == 1.0
    assert t.loc["jpeg_quality_luma", "missing"] == 0.5  # PNGs have no JPEG table
    assert not t.loc["width", "flagged"]


# -- (d) the remedy -----------------------------------------------------------------------------------

def test_equalized_quality_set_has_no_flagged_property(quality_set):
    X, y = quality_set
    report = audit(CodecEqualizer().fit_transform(X), y, warn=False)
    t = report.table
    assert report.flagged == []
    for name in ("jpeg_quant_tables", "jpeg_quality_luma", "width", "height"):
        assert t.loc[name, "n_values"] == 1 and t.loc[name, "auc"] == 0.5
    assert report.values.loc[0, "jpeg_quality_luma"] == 90


# -- (e), (f) warning and report text -----------------------------------------------------------

def test_warning_names_the_property_and_warn_false_is_silent(quality_set):
    X, y = quality_set
    with pytest.warns(ShortcutWarning, match="jpeg_quant_tables alone") as rec:
        audit(X, y)
    assert issubclass(ShortcutWarning, UserWarning)
    assert "CodecEqualizer" in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audit(X, y, warn=False)


def test_report_text_leads_with_the_warning_and_names_the_remedy(quality_report):
    text = str(quality_report)
    assert text.startswith("SHORTCUT WARNING: the label can be predicted from jpeg_quant_tables alone (AUC 1.00)")
    assert "forensics.media.CodecEqualizer" in text and "equalize_jpeg" in text and "re-measure" in text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("property"))
    assert lines[header + 2].split()[0] == quality_report.table.index[0]  # rows follow the table order
    md = quality_report.to_markdown()
    assert md.startswith("**SHORTCUT WARNING") and "CodecEqualizer" in md
    assert "| property | kind | auc |" in md
    assert md.count("\n|") == len(quality_report.table) + 2  # header, rule, one line per property
    assert "flagged=['" in repr(quality_report)
    assert isinstance(quality_report, AuditReport)


def test_only_the_combination_flagged_is_reported_as_such():
    # A hand-made report: the wording must not claim a single property when none is flagged.
    table = pd.DataFrame({"kind": ["combined", "numeric"], "auc": [0.9, 0.6], "auc_std": [0, 0],
                          "accuracy": [0.8, 0.6], "n_values": [10, 5], "missing": [0, 0],
                          "flagged": [True, False], "note": ["", ""]},
                         index=pd.Index(["all_combined", "file_size"], name="property"))
    report = AuditReport(table=table, flagged=["all_combined"], n_items=10, class_balance={0: 5, 1: 5})
    assert "non-pixel properties combined (AUC 0.90)" in report.warning_message
    assert "alone" not in report.warning_message
    # the combination and single properties flagged: the singles are named, whatever their names
    # sort like ("age" before "all_combined")
    both = AuditReport(table=table.rename(index={"file_size": "age"}).assign(flagged=[True, True]),
                       flagged=["all_combined", "age"], n_items=10, class_balance={0: 5, 1: 5})
    assert "predicted from age alone (AUC 0.60), without" in both.warning_message


# -- validation and unreadable items ----------------------------------------------------------------

def test_invalid_inputs_raise():
    X, y = _quality_set(n=6, shape=(16, 16))
    with pytest.raises(ValueError, match=r"got 3 distinct: \[0 1 2\]$"):
        audit(X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match=r"got 12 distinct: \[0 1 2 3 4\]$"):  # the first five named, no more
        audit(X, np.arange(len(X)))
    for one in (np.zeros(len(X), int), np.ones(len(X), int)):  # one class only: refused, whatever the splitter
        with pytest.raises(ValueError, match=r"audit needs binary labels \(fake = 1, real = 0\), got 1 distinct"):
            audit(X, one, cv=[(np.arange(6), np.arange(6, 12))])
    with pytest.raises(ValueError, match="one label per item"):
        audit(X, y[:-1])
    with pytest.raises(ValueError, match="fewer than cv=10"):
        audit(X, y, cv=10)
    with pytest.raises(ValueError, match="threshold"):
        audit(X, y, threshold=0.3)
    with pytest.raises(ValueError, match="on_error"):
        audit(X, y, on_error="ignore")


def test_unreadable_item_is_named_or_recorded():
    X, y = _quality_set(n=6, shape=(16, 16))
    X[4] = b"not an image"
    with pytest.raises(ItemError, match="item 4"):
        audit(X, y, warn=False)
    report = audit(X, y, warn=False, on_error="nan")
    assert list(report.status["status"]).count("error") == 1 and report.status.loc[4, "status"] == "error"
    assert pd.isna(report.values.loc[4, "format"]) and np.isnan(report.values.loc[4, "file_size"])
    assert "1 items could not be read" in str(report)


# -- CodecEqualizer -----------------------------------------------------------------------------------

def test_equalizer_output_matches_the_function_in_order():
    X = [encode(natural_image(s, (40 + s, 50)), "JPEG", quality=80 + s) for s in range(4)]
    X.append(natural_image(9, (20, 30)))
    eq = CodecEqualizer(size=32, quality=85)
    out = eq.fit_transform(X)
    assert len(out) == len(X)
    assert out == [equalize_jpeg(x, size=32, quality=85) for x in X]
    assert [load_item(b).shape for b in out] == [(32, 32)] * 4 + [(20, 20)]
    assert eq.transform(X[::-1]) == out[::-1]
    assert list(eq.status_["status"]) == ["ok"] * 5
    with parallel_backend("threading"):  # the chunked parallel path (threads: no worker start-up cost)
        assert CodecEqualizer(size=32, quality=85, n_jobs=2).transform(X) == out  # no fit needed


def test_equalizer_errors_name_the_item(tmp_path):
    good = encode(natural_image(0, (16, 16)), "JPEG", quality=90)
    missing = tmp_path / "gone.jpg"
    with pytest.raises(ItemError, match=r"item 1 \(.*gone\.jpg\): file not found"):
        CodecEqualizer().transform([good, missing])
    with pytest.raises(ItemError, match="item 2"):
        CodecEqualizer().transform([good, good, b"garbage"])
    eq = CodecEqualizer(on_error="none")
    with pytest.warns(FailedItemsWarning, match="1 of 3 items could not be equalized"):
        out = eq.transform([good, b"garbage", good])
    assert out[1] is None and isinstance(out[0], bytes) and out[0] == out[2]
    assert list(eq.status_["status"]) == ["ok", "error", "ok"]
    # downstream, the failed item is a NaN row in its place, never a shifted one
    bank = make_feature_bank(["blur"], on_error="nan").fit(out)
    with pytest.warns(RuntimeWarning):
        rows = bank.transform(out)
    assert np.isnan(rows[1]).all() and np.isfinite(rows[[0, 2]]).all()


def test_equalizer_params_clone_pickle_and_tags():
    eq = CodecEqualizer(size=64, quality=70)
    twin = clone(eq)
    assert twin.get_params() == {"size": 64, "quality": 70, "n_jobs": None, "on_error": "raise"}
    for name, bad in (("size", 0), ("quality", 0), ("quality", 101), ("quality", 9.5), ("n_jobs", 0),
                      ("on_error", "passthrough")):
        est = CodecEqualizer(**{name: bad})  # stored, not checked
        with pytest.raises((ValueError, TypeError), match=name):
            est.fit()
    x = [natural_image(0, (70, 70))]
    assert pickle.loads(pickle.dumps(eq)).transform(x) == eq.transform(x)
    tags = eq.__sklearn_tags__()
    assert tags.input_tags.two_d_array is False and tags.requires_fit is False


# -- (g) in a Pipeline --------------------------------------------------------------------------------

def test_equalizer_then_feature_bank_then_classifier(quality_set):
    X, y = quality_set
    pipe = Pipeline([
        ("equalize", CodecEqualizer(size=48)),
        ("features", make_feature_bank(["blur"])),
        ("clf", LogisticRegression(max_iter=1000)),
    ]).fit(X, y)
    pred = pipe.predict(X)
    assert pred.shape == (len(X),) and set(pred) <= {0, 1}
    features = pipe[:-1].transform(X)
    expected = make_feature_bank(["blur"]).fit([]).transform([equalize_jpeg(x, size=48) for x in X])
    np.testing.assert_array_equal(features, expected)  # same rows, same order as the input
    pipe.set_output(transform="pandas")  # the bytes step accepts and ignores it
    assert list(pipe[:-1].transform(X[:3]).columns) == list(pipe["features"].get_feature_names_out())


# -- (h) the shared data sets -------------------------------------------------------------------------

def _sample(root, n, seed=0):
    real = sorted(p for p in (root / "real").rglob("*") if p.is_file())
    fake = sorted(p for p in (root / "fake").rglob("*") if p.is_file())
    rng = np.random.default_rng(seed)
    X = [real[i] for i in rng.choice(len(real), n, replace=False)]
    X += [fake[i] for i in rng.choice(len(fake), n, replace=False)]
    return X, np.array([0] * n + [1] * n)


@pytest.mark.parametrize("name", ["lfw_faceswap", "casia_v1"])
def test_shared_sets_have_a_table_shortcut_that_equalization_removes(shared_dir, name):
    root = shared_dir / "data" / name
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    X, y = _sample(root, 150)
    raw = audit(X, y, warn=False)
    assert "jpeg_quant_tables" in raw.flagged and raw.table.loc["jpeg_quant_tables", "auc"] >= 0.8
    equalized = audit(CodecEqualizer().transform(X), y, warn=False)
    assert "jpeg_quant_tables" not in equalized.flagged
    assert equalized.table.loc["jpeg_quant_tables", "n_values"] == 1


# -- (i) parameters at their boundaries, chunks, header details -----------------------------------

def _tiny_set():
    X, y = _quality_set(n=4, shape=(16, 16))
    return X, y


@pytest.mark.parametrize("kw, match", [
    ({"threshold": 0.4999}, "threshold must be a number in"), ({"threshold": 1.0001}, "threshold must be"),
    ({"threshold": True}, "threshold must be"), ({"threshold": "0.8"}, "threshold must be"),
    ({"cv": 1}, "cv must be an int >= 2"), ({"cv": 0}, "cv must be an int >= 2"),
    ({"n_jobs": 0}, "n_jobs must be None or a non-zero int"), ({"n_jobs": 1.5}, "n_jobs must be"),
    ({"n_jobs": True}, "n_jobs must be"), ({"progress": "yes"}, "progress must be True or False"),
    ({"warn": None}, "warn must be True or False"), ({"on_error": "skip"}, "on_error must be one of"),
])
def test_audit_refuses_each_bad_parameter(kw, match):
    X, y = _tiny_set()
    with pytest.raises(ValueError, match=match):
        audit(X, y, **kw)


def test_audit_threshold_at_and_just_above_a_property_auc():
    X, y = _tiny_set()  # the tables separate the classes (AUC 1); width is constant (AUC 0.5)
    at_half = audit(X, y, cv=2, threshold=0.5, warn=False)
    assert at_half.table.loc["width", "auc"] == 0.5 and at_half.table.loc["width", "flagged"]  # >= threshold
    assert at_half.threshold == 0.5 and at_half.n_splits == 2
    above = audit(X, y, cv=2, threshold=0.5001, warn=False)
    assert not above.table.loc["width", "flagged"]
    assert above.table.loc["jpeg_quant_tables", "flagged"]
    top = audit(X, y, cv=2, threshold=1.0, warn=False)  # an AUC of exactly 1 reaches the highest threshold
    assert top.table.loc["jpeg_quant_tables", "auc"] == 1.0 and "jpeg_quant_tables" in top.flagged
    assert "No shortcut found" not in str(top) and "flagged when AUC >= 1" in str(top)


def test_audit_reads_items_across_chunks_and_records_errors_in_place():
    # 130 items: three chunks of 64; unreadable items in the second and in the last chunk
    X = [natural_image(k, (8 + k % 5, 8)) for k in range(130)]
    X[100], X[129] = b"garbage", b"more garbage"
    y = np.arange(130) % 2
    report = audit(X, y, cv=2, warn=False, on_error="nan")
    status = report.status
    assert status["index"].tolist() == list(range(130))
    assert status.loc[status["status"] == "error", "index"].tolist() == [100, 129]
    assert report.values["width"].isna().tolist() == [k in (100, 129) for k in range(130)]
    assert report.values.loc[99, "height"] == 8 + 99 % 5 and report.values.loc[128, "height"] == 8 + 128 % 5
    with pytest.raises(ItemError, match="item 100"):
        audit(X, y, cv=2, warn=False)
    with parallel_backend("threading"):  # the parallel path gives the same values and status, in order
        twin = audit(X, y, cv=2, warn=False, on_error="nan", n_jobs=2)
    pd.testing.assert_frame_equal(twin.values, report.values)
    pd.testing.assert_frame_equal(twin.status, report.status)
    assert "2 items could not be read" in str(report)
    with parallel_backend("threading"):  # a negative n_jobs (all cores but ...) is valid, unlike 0
        twin = audit(X[:70], y[:70], cv=2, warn=False, on_error="nan", n_jobs=-1)
    pd.testing.assert_frame_equal(twin.values, report.values.iloc[:70])


def test_chroma_subsampling_progressive_and_exif_are_read():
    from PIL import Image

    img = Image.fromarray(natural_image(1, (32, 32)))
    exif = Image.Exif()
    exif[0x010F] = "Canon"     # Make
    exif[0x0131] = "Photoshop"  # Software
    X = [encode(natural_image(1, (32, 32)), "JPEG", quality=90, subsampling=0),
         encode(natural_image(1, (32, 32)), "JPEG", quality=90, subsampling=1),
         encode(natural_image(1, (32, 32)), "JPEG", quality=90, subsampling=2, progressive=True),
         encode(natural_image(1, (32, 32))[:, :, 0], "JPEG", quality=90)]
    buf = __import__("io").BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif.tobytes())
    X.append(buf.getvalue())
    X.append(encode(natural_image(2, (32, 32)), "PNG"))
    v = audit(X * 2, [0, 1] * 6, cv=2, warn=False).values
    assert v["chroma_subsampling"][:5].tolist() == ["4:4:4", "4:2:2", "4:2:0", "gray", "4:2:0"]
    assert pd.isna(v.loc[5, "chroma_subsampling"])  # a PNG has none
    assert v["progressive"][:5].tolist() == [0, 0, 1, 0, 0] and np.isnan(v.loc[5, "progressive"])
    assert v["exif_present"][:6].tolist() == [0, 0, 0, 0, 1, 0]
    assert v.loc[4, "camera_make_present"] == 1 and v.loc[4, "software_present"] == 1
    assert v.loc[0, "camera_make_present"] == 0 and v.loc[5, "icc_present"] == 0
    assert v.loc[0, "jpeg_quality_chroma"] == 90 and np.isnan(v.loc[5, "jpeg_quality_chroma"])
    assert v.loc[0, "jpeg_quant_tables"] == v.loc[1, "jpeg_quant_tables"]  # same quality, same tables
    # the documented hash: SHA-1 over (table id, 16-bit big-endian entries) in id order, 12 hex digits
    import hashlib
    import io

    tables = Image.open(io.BytesIO(X[0])).quantization
    digest = hashlib.sha1(b"".join(bytes([k]) + np.asarray(tables[k], ">u2").tobytes() for k in sorted(tables)))
    assert v.loc[0, "jpeg_quant_tables"] == digest.hexdigest()[:12]
    assert v.loc[5, "format"] == "png" and v.loc[5, "bytes_per_pixel"] == pytest.approx(len(X[5]) / 1024)


def test_class_balance_constant_rows_and_many_flagged_properties():
    # 6 reals (JPEG 24x24), 2 fakes (PNG 40x16): size, format, tables... all separate the classes
    X = [encode(natural_image(s, (24, 24)), "JPEG", quality=90) for s in range(6)]
    X += [encode(natural_image(50 + s, (16, 40)), "PNG") for s in range(2)]
    y = np.array(["real"] * 6 + ["fake"] * 2)
    report = audit(X, y, cv=2, warn=False)
    assert report.class_balance == {"fake": 2, "real": 6}
    t = report.table
    assert t.loc["exif_present", "auc"] == 0.5 and t.loc["exif_present", "accuracy"] == 6 / 8  # majority
    constant = t[t["note"] == "constant over the data set"]  # exif, camera, software, icc: no spread over folds
    assert len(constant) >= 4 and (constant["auc_std"] == 0.0).all() and (constant["n_values"] == 1).all()
    assert (constant["missing"] == 0.0).all() and not constant["flagged"].any()
    # the format rule: a fake's category scores below 1/2 and is called 0 ("fake" is label 0 here, as
    # "fake" < "real"), not the training majority (1): every item right
    assert t.loc["format", "auc"] == 1.0 and t.loc["format", "accuracy"] == 1.0
    singles = [p for p in report.flagged if p != "all_combined"]
    assert len(singles) > 4
    message = report.warning_message
    assert message.count(" alone (AUC ") == 4 and f"and {len(singles) - 4} more" in message
    # ties in AUC: fewer distinct values first
    tied = t[t["auc"] == t["auc"].iloc[0]]
    assert list(tied["n_values"]) == sorted(tied["n_values"])


def test_report_text_layout_and_markdown_escaping():
    table = pd.DataFrame({"kind": ["numeric", "categorical"], "auc": [0.61, 0.55], "auc_std": [0.012, 0.1],
                          "accuracy": [0.6, 0.5], "n_values": [7, 2], "missing": [0.25, 0.0],
                          "flagged": [False, False], "note": ["a | b", ""]},
                         index=pd.Index(["file_size", "format"], name="property"))
    flagged = AuditReport(table=table.assign(flagged=[True, False]), flagged=["file_size"], n_items=8,
                          class_balance={0: 4, 1: 4})
    rows = {line.split()[0]: line for line in str(flagged).splitlines() if line.startswith(("file_size", "format"))}
    assert "YES" in rows["file_size"] and "YES" not in rows["format"]
    assert "| 0.25 | YES | a / b |" in flagged.to_markdown()
    # the report's defaults (5 folds, threshold 0.8, an image audit) when built without them
    assert (flagged.n_splits, flagged.threshold, flagged.kind, flagged.values, flagged.status) == (5, 0.8, "image",
                                                                                                None, None)
    assert ("8 items (labels 0: 4, 1: 4); 5-fold stratified out-of-fold ROC-AUC per property; flagged when "
            "AUC >= 0.8.") in str(flagged)
    report = AuditReport(table=table, flagged=[], n_items=8, class_balance={0: 4, 1: 4}, threshold=0.75,
                         n_splits=3)
    text = str(report)
    assert text.startswith("No shortcut found: no pixel-free property predicts the label with AUC >= 0.75 "
                           "(highest: file_size, AUC 0.61).")
    assert "8 items (labels 0: 4, 1: 4); 3-fold stratified" in text and "could not be read" not in text
    row = next(line for line in text.splitlines() if line.startswith("file_size"))
    assert row.split() == ["file_size", "numeric", "0.610", "0.012", "0.600", "7", "0.25", "a", "|", "b"]
    head = next(line for line in text.splitlines() if line.startswith("property"))
    assert head.index("auc") + len("auc") == row.index("0.610") + len("0.610")  # numbers right-aligned
    for col, value in (("auc_std", "0.012"), ("accuracy", "0.600"), ("n_values", "7"), ("missing", "0.25")):
        assert head.index(col) + len(col) == row.index(value) + len(value), col  # every number column
    assert head.index("kind") == row.index("numeric") and head.index("note") == row.index("a | b")  # text: left
    md = report.to_markdown()
    assert "| file_size | numeric | 0.610 | 0.012 | 0.600 | 7 | 0.25 |  | a / b |" in md
    assert not md.startswith("**") and report.warning_message == ""
    assert repr(report) == "AuditReport(n_items=8, flagged=[], max_auc=0.610)"


def test_progress_bar_only_when_asked(capfd):
    X, y = _tiny_set()
    audit(X, y, cv=2, warn=False, progress=False)
    assert "audit" not in capfd.readouterr().err
    audit(X, y, cv=2, warn=False)  # the default: no bar
    assert "audit" not in capfd.readouterr().err
    audit(X, y, cv=2, warn=False, progress=True)
    err = capfd.readouterr().err
    assert "audit:" in err and "/8 " in err  # the bar: "audit:   0%|   | 0/8 [...]"


def test_cv_splitter_object_and_the_seed_of_int_folds():
    from sklearn.model_selection import StratifiedKFold

    X = [encode(natural_image(s, (24, 24)), "JPEG", quality=90) for s in range(24)]
    y = np.random.default_rng(3).permutation([0] * 12 + [1] * 12)
    report = audit(X, y, cv=StratifiedKFold(3), warn=False)  # a splitter is used as given
    assert report.n_splits == 3
    a, b = (audit(X, y, cv=3, random_state=seed, warn=False).table for seed in (0, 1))
    again = audit(X, y, cv=3, random_state=0, warn=False).table
    pd.testing.assert_frame_equal(a, again)  # same seed, same folds, same table
    assert not np.allclose(a.loc[sorted(a.index), "auc"], b.loc[sorted(b.index), "auc"])  # shuffled folds


@pytest.mark.parametrize("kind", ["png", "array"])
def test_sets_where_a_numeric_property_is_missing_everywhere(kind):
    # an all-PNG set has no JPEG fields, in-memory arrays no file size: the combined model must
    # still run (scikit-learn 1.9's HistGradientBoosting fails on an all-NaN column)
    X = [natural_image(k, (8 + k % 3, 8)) for k in range(12)]
    if kind == "png":
        X = [encode(x, "PNG") for x in X]
    y = np.arange(12) % 2
    report = audit(X, y, cv=2, warn=False)
    t = report.table
    assert t.loc["jpeg_quality_luma", "missing"] == 1.0 and t.loc["jpeg_quality_luma", "auc"] == 0.5
    assert np.isfinite(t.loc["all_combined", "auc"]) and t.loc["all_combined", "note"].startswith("all properties")


def test_audit_default_folds_at_and_below_the_smaller_class():
    # the default cv=5: a class of 4 items is refused, one of 5 is accepted and split 5 ways
    X, y = _quality_set(n=5, shape=(16, 16))
    report = audit(X, y, warn=False)
    assert report.n_splits == 5 and "5-fold stratified" in str(report)
    pd.testing.assert_frame_equal(report.table, audit(X, y, cv=5, warn=False).table)
    keep = np.flatnonzero(np.arange(10) != 9)  # one fake fewer
    with pytest.raises(ValueError, match="the smaller class has 4 items, fewer than cv=5 folds"):
        audit([X[i] for i in keep], y[keep], warn=False)


def test_every_named_chroma_subsampling_and_an_unnamed_one():
    import cv2

    img = natural_image(1, (32, 32))[:, :, ::-1]
    X = []
    for factor in ("411", "420", "422", "440", "444"):  # libjpeg's sampling of the chroma planes
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                             getattr(cv2, f"IMWRITE_JPEG_SAMPLING_FACTOR_{factor}")])
        X.append(buf.tobytes())
    raw = bytearray(X[-1])  # the 4:4:4 file with its luma sampling set to H=3, V=1 in the frame header
    k = raw.index(b"\xff\xc0") + 11
    assert raw[k] == 0x11
    raw[k] = 0x31
    X.append(bytes(raw))
    v = audit(X * 2, [0, 1] * 6, cv=2, warn=False).values
    assert v["chroma_subsampling"][:6].tolist() == ["4:1:1", "4:2:0", "4:2:2", "4:4:0", "4:4:4", "3x1"]

    # a CMYK JPEG: no chroma planes to compare, named by its component count (a grey one: "gray")
    from PIL import Image

    buf = __import__("io").BytesIO()
    Image.fromarray(natural_image(1, (16, 16))).convert("CMYK").save(buf, "JPEG", quality=90)
    X = [buf.getvalue(), encode(natural_image(2, (16, 16))[:, :, 0], "JPEG", quality=90)]
    v = audit(X * 2, [0, 1, 0, 1], cv=2, warn=False).values
    assert v["chroma_subsampling"].tolist() == ["4 components", "gray"] * 2


@pytest.mark.parametrize(("y", "right", "other_rule"), [
    # each training part three reals in four (prior 1/4, below 1/2): ties are called real
    ([0, 1, 0, 0, 0, 0, 1, 0], 6, 2),
    # the same folds with the labels swapped (prior 3/4, above 1/2): ties are called fake
    ([1, 0, 1, 1, 1, 1, 0, 1], 6, 2),
    # the first training part balanced (prior exactly 1/2, every leaf 1/2): no majority, ties are called real
    ([0, 1, 0, 1, 0, 0, 0, 1], 5, 3),
])
def test_a_tied_score_goes_to_the_training_majority(y, right, other_rule):
    """The accuracy rule's tie (a score of exactly 1/2) goes to the training part's majority, at a training
    prior below, above and exactly at 1/2 (a balanced part has none: the first sorted label, here 0, real)."""
    # in-memory arrays: only the size is known. Width 10 or 20 (height 8); in each training part one width
    # has one real and one fake (a tree leaf at exactly 1/2). With y = [0, 1, 0, 0, 0, 0, 1, 0]:
    # fold 1: test widths 10, 10 score 1/2 -> real (right, right); 20, 20 score 0 -> real (wrong, right)
    # fold 2: test widths 10, 10 score 0 -> real (right, wrong); 20, 20 score 1/2 -> real (right, right)
    # With the labels swapped every call swaps too. Balanced: fold 1's four test items all score 1/2 and
    # are called real (labels 0, 0, 0, 1: three right); fold 2 (prior 1/4) is right on 0 and wrong on 1 of
    # each width. other_rule: the right calls had ties gone to the other class (or a balanced part to fake).
    widths = [10, 10, 20, 20, 10, 10, 20, 20]
    X = [np.zeros((8, w), np.uint8) for w in widths]
    folds = [(np.arange(4), np.arange(4, 8)), (np.arange(4, 8), np.arange(4))]
    t = audit(X, np.array(y), cv=folds, warn=False).table
    assert t.loc["width", "accuracy"] == right / 8 != other_rule / 8
    assert t.loc["width", "n_values"] == 2 and t.loc["height", "note"] == "constant over the data set"


def test_video_properties_are_those_of_video_info(tmp_path):
    import os

    from video_fixtures import write_video

    from forensics.media import video_info

    paths = []
    for k, (crf, fps, size) in enumerate([(10, 25, (48, 64)), (40, 25, (48, 64)), (10, 10, (32, 64)),
                                          (40, 10, (32, 64))]):
        path = tmp_path / (f"v{k}.MP4" if k == 3 else f"v{k}.mp4")  # the suffix in any case
        write_video(path, [natural_image(10 * k + t, size) for t in range(5)], fps=fps, crf=crf, gop=2)
        paths.append(path)
    y = [0, 1, 0, 1]
    report = audit([str(p) for p in paths[:3]] + [paths[3]], y, cv=2, warn=False)  # str and Path
    assert report.kind == "video" and list(report.values.columns) == list(VIDEO_PROPERTIES)
    assert "re-encode every video" in report.warning_message or not report.flagged
    for k, path in enumerate(paths):
        info = video_info(path)
        row = report.values.iloc[k]
        assert (row["container"], row["codec"]) == (info.container, info.codec)
        assert (row["width"], row["height"], row["rotation"]) == (info.width, info.height, info.rotation)
        assert row["fps"] == info.fps and row["n_frames"] == info.n_frames == 5
        assert row["duration_s"] == info.duration_s > 0 and row["bit_rate"] == info.bit_rate > 0
        assert row["keyframe_interval"] == info.keyframe_interval == 2
        assert row["file_size"] == os.path.getsize(path)
        assert row["aspect_ratio"] == info.width / info.height and row["n_pixels"] == info.width * info.height
        assert row["bits_per_pixel"] == pytest.approx(info.bit_rate / (info.width * info.height * info.fps))
    assert report.values["height"].tolist() == [48, 48, 32, 32]
    # one image among the videos: an image audit, where the videos are unreadable items
    mixed = audit([str(p) for p in paths[:3]] + [encode(natural_image(0, (16, 16)), "JPEG")], y, cv=2,
                  warn=False, on_error="nan")
    assert mixed.kind == "image" and mixed.status["status"].tolist() == ["error"] * 3 + ["ok"]


def test_a_property_present_in_one_test_part_only():
    # one JPEG among PNGs: its JPEG fields exist in one test part and nowhere in that fold's training
    # part, where the combined model must leave them out (gradient boosting cannot bin an empty column)
    X = [encode(natural_image(s, (16, 16)), "PNG") for s in range(9)] + [encode(natural_image(99, (16, 16)), "JPEG")]
    y = [0, 1] * 5
    t = audit(X, y, cv=2, warn=False).table
    assert t.loc["jpeg_quality_luma", "missing"] == 0.9 and t.loc["all_combined", "n_values"] == 9
    assert 0 <= t.loc["all_combined", "auc"] <= 1 and t.loc["all_combined", "note"] == "all properties, gradient boosting"
    # the look-alike: a JPEG in each training part, every fold fits the JPEG fields
    X[0] = encode(natural_image(0, (16, 16)), "JPEG")
    assert audit(X, y, cv=2, warn=False).table.loc["jpeg_quality_luma", "missing"] == 0.8


def test_a_set_constant_in_every_property_and_cv_none():
    # six identical in-memory arrays (4 reals, 2 fakes): every property and their combination constant
    X = [np.full((8, 12), 7, np.uint8)] * 6
    y = np.array([0, 0, 0, 0, 1, 1])
    t = audit(X, y, cv=2, warn=False).table
    row = t.loc["all_combined"]
    assert (row["kind"], row["auc"], row["auc_std"], row["n_values"], row["missing"]) == ("combined", 0.5, 0.0, 1, 0.0)
    assert row["accuracy"] == 4 / 6 and row["note"] == "constant over the data set" and not row["flagged"]
    assert (t["auc"] == 0.5).all() and (t["auc_std"] == 0.0).all()


def test_cv_none_is_five_stratified_folds():
    from sklearn.model_selection import StratifiedKFold

    X, y = _quality_set(n=5, shape=(16, 16))  # sorted labels: unstratified folds would hold one class
    report = audit(X, y, cv=None, warn=False)
    assert report.n_splits == 5
    # labels as plain Python values (a JSON-writable dict), whatever the array's dtype
    assert [type(k) for k in report.class_balance] == [int, int] and json.dumps(report.class_balance) == '{"0": 5, "1": 5}'
    named = audit(X, np.where(y == 1, "fake", "real"), cv=None, warn=False).class_balance
    assert named == {"fake": 5, "real": 5} and [type(k) for k in named] == [str, str]
    pd.testing.assert_frame_equal(report.table, audit(X, y, cv=StratifiedKFold(5), warn=False).table)
    assert report.table["auc"].notna().all()


def test_numeric_and_combined_scores_against_their_documented_models():
    """The out-of-fold AUC of a numeric property and of all_combined, recomputed with the models the
    Notes name, on 396 items (198 per training part: a leaf of at least 198 // 100 = 1 item)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(7)
    n = 396
    widths, heights = rng.integers(4, 60, n), rng.integers(4, 60, n)
    y = (rng.random(n) < 0.3 + 0.4 * (widths > 30)).astype(int)  # width carries part of the label
    X = [np.zeros((h, w), np.uint8) for h, w in zip(heights, widths)]
    t = audit(X, y, cv=2, warn=False).table
    folds = list(StratifiedKFold(2, shuffle=True, random_state=0).split(np.zeros((n, 1)), y))
    num = np.column_stack([widths, heights, widths / heights, widths * heights]).astype(float)

    def oof_auc(make, columns):
        aucs = []
        for train, test in folds:
            model = make(len(train)).fit(columns[train], y[train])
            aucs.append(roc_auc_score(y[test], model.predict_proba(columns[test])[:, 1]))
        return np.mean(aucs)

    tree = oof_auc(lambda m: DecisionTreeClassifier(max_depth=3, min_samples_leaf=max(1, m // 100), random_state=0),
                   num[:, :1])
    assert t.loc["width", "auc"] == pytest.approx(tree, abs=1e-12)
    # the in-memory arrays' categorical properties are constant ("array", missing): nothing to split on
    hgb = oof_auc(lambda m: HistGradientBoostingClassifier(max_iter=100, max_depth=3, min_samples_leaf=5,
                                                           early_stopping=False, random_state=0), num)
    assert t.loc["all_combined", "auc"] == pytest.approx(hgb, abs=1e-12)


@pytest.mark.parametrize("n_train, splits", [(198, True), (199, True), (200, False)])
def test_the_tree_leaf_size_at_its_boundary(n_train, splits):
    # every width is 10 but one per half (50, a fake): only a one-item leaf can set it apart, which
    # min_samples_leaf = max(1, n_train // 100) allows up to 199 training items and refuses at 200
    n = 2 * n_train
    y = np.arange(n) % 2
    odd = [1, n_train + 1]
    y[odd] = 1
    widths = np.full(n, 10)
    widths[odd] = 50
    X = [np.zeros((4, w), np.uint8) for w in widths]
    halves = np.arange(n_train), np.arange(n_train, n)
    folds = [halves, halves[::-1]]
    auc = audit(X, y, cv=folds, warn=False).table.loc["width", "auc"]
    # in each test half the odd one out outranks every real and the other fakes tie with them
    n_fake = [y[test].sum() for _, test in folds]
    expected = np.mean([(1 + (f - 1) / 2) / f for f in n_fake])
    assert auc == (pytest.approx(expected, abs=1e-12) if splits else 0.5)


def test_image_paths_are_an_image_audit(tmp_path):
    # paths (str and Path) of image files: read as images, not taken for videos
    X = []
    for k in range(4):
        path = tmp_path / f"{k}.jpg"
        path.write_bytes(encode(natural_image(k, (16, 24)), "JPEG", quality=80 + 10 * (k % 2)))
        X.append(str(path) if k % 2 else path)
    report = audit(X, [0, 1, 0, 1], cv=2, warn=False)
    assert report.kind == "image" and list(report.values.columns) == list(PROPERTIES)
    assert report.values["width"].tolist() == [24.0] * 4 and report.values["format"].tolist() == ["jpeg"] * 4
    assert report.status["source"].tolist() == [str(p) for p in X]


@pytest.mark.parametrize("follows", [True, False])
def test_video_audit_flags_a_label_that_follows_the_audio_sample_rate(tmp_path, follows):
    """Eight videos with the same picture and a tone from an 8 or a 48 kHz track: when the label follows the
    rate (real clips recorded at 48 kHz, fakes whose voice was synthesised at 8 kHz), audio_rate predicts it
    perfectly and is flagged; the look-alike keeps the rates but not the rule (4 of each rate in each class)."""
    from test_audio import _write

    frames = [np.full((32, 32, 3), 100, np.uint8)] * 3
    y = [0, 1] * 4
    paths = []
    for k in range(8):
        sr = (8000 if y[k] == 0 else 48000) if follows else (8000 if k < 4 else 48000)
        t = np.arange(sr // 2) / sr
        paths.append(str(_write(tmp_path / f"v{k}.mkv", audio=0.3 * np.sin(2 * np.pi * (300 + 50 * k) * t), sr=sr,
                                frames=frames)))
    report = audit(paths, y, cv=2, warn=False)
    assert report.values["audio_rate"].tolist() == [8000.0 if (y[k] == 0 if follows else k < 4) else 48000.0
                                                    for k in range(8)]
    assert report.values["audio_codec"].tolist() == ["pcm_s16le"] * 8
    assert report.values["audio_channels"].tolist() == [1.0] * 8
    assert ("audio_rate" in report.flagged) is follows
    assert bool(report.table.loc["audio_rate", "auc"] == 1.0) is follows
    if follows:
        assert "the sound at one sample rate" in report.warning_message
