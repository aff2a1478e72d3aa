"""Tests of the shortcut audit (forensics.inspection.audit) and its remedy (CodecEqualizer)."""

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
from forensics.inspection import PROPERTIES, AuditReport, ShortcutWarning, audit
from forensics.media import CodecEqualizer, ItemError, equalize_jpeg, load_item

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


# -- validation and unreadable items ----------------------------------------------------------------

def test_invalid_inputs_raise():
    X, y = _quality_set(n=6, shape=(16, 16))
    with pytest.raises(ValueError, match="binary"):
        audit(X, np.arange(len(X)) % 3)
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
    with pytest.warns(RuntimeWarning, match="1 of 3 items could not be equalized"):
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
