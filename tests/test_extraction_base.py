"""The extraction contract and loop of ``features/_base.py``, by kind (issue 16).

A small real extractor (a subclass of :class:`BaseExtractor`, not a mock) reports, as one of its
columns, the size of the batch each row was computed in: chunk sizes are then visible in the
output, in this process and in joblib's workers alike.
"""

import os
import pickle
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import encode, natural_image
from forensics.features._base import (BaseExtractor, FeatureDoc, Interval, Options, _as_item_error, _portable,
                                      _Refused, _source, run_extraction)
from forensics.media import EmptyRowsWarning, FailedItemsWarning, Item, ItemError, load_item


class _Probe(BaseExtractor):
    """Columns: the item's mean luma and the number of items in the batch that computed it.

    Items whose mean luma is above ``refuse_above`` fail in ``_prepare``; batches holding an item
    whose mean is above ``batch_fails_above`` fail in ``_compute_batch`` (and that item alone too).
    """

    family = "probe"
    _param_rules = {"offset": Interval(int, 0, 64), "scale": Interval(float, 0.0, 2.0),
                    "kind": Options(("mean", "max"))}

    def __init__(self, batch=None, offset=0, scale=1.0, kind="mean", refuse_above=np.inf, batch_fails_above=np.inf,
                 wrong_width=False, n_jobs=None, on_error="raise", progress=False):
        self.batch = batch
        self.offset = offset
        self.scale = scale
        self.kind = kind
        self.refuse_above = refuse_above
        self.batch_fails_above = batch_fails_above
        self.wrong_width = wrong_width
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        return ["probe__value__", "probe__batch__"]

    def _compute(self, item):
        return [self._value(item), 1.0]

    def _value(self, item):
        v = float(getattr(item.luma, self.kind)()) * self.scale + self.offset
        if v > self.refuse_above:
            raise ValueError(f"value {v:.1f} refused")
        return v

    def _prepare(self, item):
        return self._value(item)

    def _compute_batch(self, prepared):
        if any(p > self.batch_fails_above for p in prepared):
            raise FloatingPointError("batch overflow")
        rows = [[p, float(len(prepared))] for p in prepared]
        return [r + [0.0] for r in rows] if self.wrong_width else rows

    @property
    def _batch_size_hint(self):
        return self.batch


class _Second(_Probe):
    family = "second"

    def _feature_names(self):
        return ["second__double__"]

    def _compute_batch(self, prepared):
        return [[2 * p] for p in prepared]


def _grey(value, shape=(8, 8)):
    return np.full(shape, value, np.uint8)


def _values(n):
    return [_grey(v) for v in range(n)]


# -- parameter rules: at, below and above each bound; the refused type and its valid look-alike --

def test_interval_bounds_are_inclusive_and_types_checked():
    rule = Interval(int, 1, 64)
    for ok in (1, 2, 63, 64, np.int64(5)):
        rule.check("batch", ok)
    for bad in (0, 65):
        with pytest.raises(ValueError, match="batch"):
            rule.check("batch", bad)
    for bad in (True, 2.0, "3"):
        with pytest.raises(TypeError, match="batch must be an int, got"):
            rule.check("batch", bad)
    real = Interval(float, 0.0, 2.0)
    for ok in (0.0, 0, 2, 1.5, np.float32(0.5)):
        real.check("scale", ok)
    for bad in (-1e-9, 2.000001):
        with pytest.raises(ValueError, match="scale"):
            real.check("scale", bad)
    with pytest.raises(TypeError, match="scale must be a number, got False"):
        real.check("scale", False)
    Interval(float).check("free", -1e300)  # unbounded


def test_options_and_n_jobs_rules():
    Options(("a", "b")).check("kind", "b")
    with pytest.raises(ValueError, match=r"kind must be one of \['a', 'b'\], got 'c'"):
        Options(("a", "b")).check("kind", "c")
    for ok in (None, 1, -1, 2, np.int64(3)):
        _Probe(n_jobs=ok).fit()
    for bad in (0, True, 1.0, "2"):
        with pytest.raises(ValueError, match="n_jobs must be None or a non-zero int"):
            _Probe(n_jobs=bad).fit()
    for name, bad in (("on_error", "ignore"), ("progress", 1.5), ("kind", "min"), ("offset", -1), ("offset", 65),
                      ("offset", 1.0), ("scale", 3.0)):
        with pytest.raises((ValueError, TypeError), match=name):
            _Probe(**{name: bad}).fit()
    ext = _Probe(progress=True, on_error="nan", kind="max", offset=64, scale=2.0).fit()
    assert ext.transform([np.array([[1, 3]], np.uint8)])[0, 0] == 70.0  # every parameter reaches the row


def test_fit_refuses_duplicate_names_and_counts_columns():
    class Twice(_Probe):
        def _feature_names(self):
            return ["probe__a__", "probe__b__", "probe__a__"]

    with pytest.raises(ValueError, match="Twice produced duplicate feature names"):
        Twice().fit()
    ext = _Probe().fit()
    assert ext.n_features_out_ == 2
    assert list(ext.get_feature_names_out()) == ["probe__value__", "probe__batch__"]
    names = ext.get_feature_names_out()
    names[0] = "changed"
    assert ext.feature_names_out_[0] == "probe__value__"  # a copy is handed out


def test_feature_doc_prefix_and_defaults():
    doc = FeatureDoc("blur", "lap", "-", "d", "f", "r")
    assert doc.prefix == "blur__lap__"
    assert doc.cost == "low" and doc.presets == ("full",)


def test_tags_and_pickle_keep_the_live_status():
    ext = _Probe().fit()
    tags = ext.__sklearn_tags__()
    assert tags.input_tags.two_d_array is False and tags.requires_fit is True
    assert tags.non_deterministic is False
    ext.transform(_values(2))
    twin = pickle.loads(pickle.dumps(ext))
    assert not hasattr(twin, "status_") and hasattr(ext, "status_")
    np.testing.assert_array_equal(twin.transform(_values(2)), ext.transform(_values(2)))


def test_extract_one_names_item_zero_and_checks_params():
    ext = _Probe(scale=0.5)
    assert ext.extract_one(_grey(10)) == {"probe__value__": 5.0, "probe__batch__": 1.0}
    with pytest.raises(ItemError, match=r"item 0: ValueError: value 40.0 refused") as err:
        _Probe(refuse_above=39).extract_one(_grey(40))
    assert err.value.index == 0 and err.value.source is None
    assert _Probe(refuse_above=40).extract_one(_grey(40))["probe__value__"] == 40.0  # at the threshold: kept
    with pytest.raises(ValueError, match="scale"):
        _Probe(scale=-1.0).extract_one(_grey(1))
    for bad, source in ((b"junk", None), ("no/such/file.png", "no/such/file.png")):  # refused while loading
        with pytest.raises(ItemError, match=r"^item 0 \(|^item 0: ") as err:
            _Probe().extract_one(bad)
        assert err.value.index == 0 and err.value.source == source


# -- chunk sizes: serial 16, batched by the hint, parallel n // (4 * workers) in [1, 64] ---------

@pytest.mark.parametrize("n, batch, sizes", [
    (16, None, [16]), (17, None, [16, 1]), (33, None, [16, 16, 1]),
    (12, 5, [5, 5, 2]), (5, 5, [5]), (6, 5, [5, 1]),
])
def test_serial_chunks(n, batch, sizes):
    out = _Probe(batch=batch, n_jobs=1).fit().transform(_values(n))
    expected = np.concatenate([np.full(s, float(s)) for s in sizes])
    np.testing.assert_array_equal(out[:, 1], expected)
    np.testing.assert_array_equal(out[:, 0], np.arange(n, dtype=float))


def test_setup_runs_once_per_chunk():
    class Counting(_Probe):
        calls = []

        def _setup(self):
            Counting.calls.append(1)

    Counting(batch=4, n_jobs=1).fit().transform(_values(9))
    assert len(Counting.calls) == 3


@pytest.mark.parametrize("n, batch, size", [
    (70, None, 8),     # 70 // 8
    (7, None, 1),      # 7 // 8 == 0 -> 1
    (600, None, 64),   # 75, capped at 64
    (70, 5, 8),        # the hint when larger than the parallel chunk only
    (70, 12, 12),
])
def test_parallel_chunks(n, batch, size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = _Probe(batch=batch, n_jobs=2).fit().transform([_grey(v % 200, (2, 2)) for v in range(n)])
    expected = [min(size, n - s) for s in range(0, n, size) for _ in range(min(size, n - s))]
    np.testing.assert_array_equal(out[:, 1], expected)
    np.testing.assert_array_equal(out[:, 0], [v % 200 for v in range(n)])


def test_n_jobs_minus_one_and_none_are_accepted():
    X = _values(3)
    ref = _Probe(n_jobs=1).fit().transform(X)
    np.testing.assert_array_equal(_Probe(n_jobs=None).fit().transform(X), ref)


# -- failures: where they are caught, who they are pinned to, what is recorded ------------------

def test_prepare_failures_across_chunks_serial():
    X = _values(40)
    ext = _Probe(refuse_above=35.5, n_jobs=1, on_error="nan").fit()
    with pytest.warns(RuntimeWarning) as rec:
        out = ext.transform(X)
    message = str(rec[0].message)
    assert message.startswith("4 of 40 items could not be processed and are NaN rows (see status_); first: item 36: ")
    assert rec[0].category is FailedItemsWarning
    assert message.endswith("ValueError: value 36.0 refused")
    assert rec[0].filename == __file__  # the warning points at the caller of transform...
    from sklearn.pipeline import make_pipeline

    for call in (lambda: _Probe(refuse_above=0.5, on_error="nan").fit_transform([_grey(1)]),
                 lambda: make_pipeline(_Probe(refuse_above=0.5, on_error="nan")).fit([_grey(1)]).transform([_grey(1)])):
        with pytest.warns(RuntimeWarning, match="1 of 1 items") as rec2:
            call()
        assert rec2[0].filename == __file__  # ... of fit_transform, of a Pipeline
    assert np.isnan(out[36:]).all() and not np.isnan(out[:36]).any()
    np.testing.assert_array_equal(out[:36, 1], [16.0] * 32 + [4.0] * 4)  # failed items leave the batch
    st = ext.status_
    assert list(st.columns) == ["index", "source", "status", "error"]
    assert st["index"].tolist() == list(range(40))
    assert st["status"].tolist() == ["ok"] * 36 + ["error"] * 4
    assert st["error"].iloc[0] == "" and st["error"].iloc[37] == "ValueError: value 37.0 refused"
    ext.set_params(on_error="raise")
    with pytest.raises(ItemError, match="item 36: ValueError: value 36.0 refused"):
        ext.transform(X)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_raise_names_the_first_bad_item_in_input_order(n_jobs, tmp_path):
    X = _values(40)
    X[21] = str(tmp_path / "missing.png")
    X[30] = b"junk"
    ext = _Probe(n_jobs=n_jobs).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ItemError, match="missing.png") as err:
            ext.transform(X)
        assert err.value.index == 21
        ext.set_params(on_error="nan")
        with pytest.warns(RuntimeWarning, match="2 of 40 items.*first: item 21"):
            out = ext.transform(X)
    assert ext.status_.loc[21, "source"] == str(tmp_path / "missing.png")
    assert pd.isna(ext.status_.loc[30, "source"])
    assert np.isnan(out[[21, 30]]).all() and np.isfinite(np.delete(out, [21, 30], axis=0)).all()
    np.testing.assert_array_equal(np.delete(out[:, 0], [21, 30]), np.delete(np.arange(40.0), [21, 30]))


def test_a_failed_batch_is_rerun_item_by_item(tmp_path):
    path = tmp_path / "bright.png"
    path.write_bytes(encode(_grey(200, (6, 6)), "PNG"))
    X = [_grey(1), _grey(2), str(path), _grey(3)]
    ext = _Probe(batch_fails_above=100, n_jobs=1, on_error="nan").fit()
    with pytest.warns(RuntimeWarning, match="1 of 4 items"):
        out = ext.transform(X)
    np.testing.assert_array_equal(out[[0, 1, 3]], [[1, 1], [2, 1], [3, 1]])  # rerun one at a time
    assert np.isnan(out[2]).all()
    st = ext.status_
    assert st.loc[2, "error"] == "FloatingPointError: batch overflow" and st.loc[2, "source"] == str(path)
    with pytest.raises(ItemError, match=r"item 2 \(.*bright\.png\): FloatingPointError: batch overflow") as err:
        ext.set_params(on_error="raise").transform(X)
    assert isinstance(err.value.__cause__, FloatingPointError)
    ok = ext.set_params(batch_fails_above=200).transform(X)  # at the threshold: one batch of 4
    np.testing.assert_array_equal(ok[:, 1], [4, 4, 4, 4])


def test_wrong_row_width_is_a_bug_not_a_shifted_row():
    with pytest.raises(RuntimeError, match="extractors returned 3 values for 2 feature names"):
        _Probe(wrong_width=True, on_error="nan").fit().transform(_values(2))


def test_two_extractors_side_by_side_and_one_alone(capsys):
    X = _values(5)
    exts = [_Probe(), _Second()]
    out, status = run_extraction(exts, X, 3, n_jobs=1)
    assert capsys.readouterr().err == ""  # no progress bar unless asked
    np.testing.assert_array_equal(out, [[v, 5, 2 * v] for v in range(5)])
    assert status["status"].tolist() == ["ok"] * 5
    with pytest.raises(RuntimeError, match="returned 1 values for 2"):
        run_extraction([_Second()], X, 2, n_jobs=1)
    empty, status = run_extraction(exts, [], 3)
    assert empty.shape == (0, 3) and len(status) == 0 and list(status.columns) == ["index", "source", "status",
                                                                                    "error"]


def test_progress_bar_is_shown_only_when_asked_and_does_not_change_rows(capsys):
    X = _values(3)
    quiet = _Probe().fit().transform(X)
    assert capsys.readouterr().err == ""
    shown = _Probe(progress=True).fit().transform(X)
    err = capsys.readouterr().err
    assert "_Probe:" in err and "/3 " in err and "img/s" in err
    np.testing.assert_array_equal(shown, quiet)


# -- what travels to a worker, and how its failures are named ------------------------------------

class _BytesPath(os.PathLike):
    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return os.fsencode(self.path)


class _BrokenPath(os.PathLike):
    def __fspath__(self):
        raise OSError("no path")


def test_portable_forms(tmp_path):
    img = natural_image(0, (10, 12))
    png = tmp_path / "a.png"
    png.write_bytes(encode(img, "PNG"))
    assert _portable(str(png), 0, 10 ** 6) == str(png)
    assert _portable(b"raw", 0, 10 ** 6) == b"raw"
    assert _portable(img, 0, 120) is img  # exactly max_pixels: travels as it is
    refused = _portable(img, 3, 119)
    assert isinstance(refused, _Refused) and refused.error.index == 3
    assert "image of shape (10, 12, 3) is above max_pixels=119" in str(refused.error)
    assert _portable(np.zeros(300), 0, 10) is not None and not isinstance(_portable(np.zeros(300), 0, 10), _Refused)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        m = np.matrix(img[:, :, 0])
    assert type(_portable(m, 0, 10 ** 6)) is np.ndarray
    masked = np.ma.masked_array(img, mask=False)
    assert isinstance(_portable(masked, 0, 10 ** 6), np.ma.MaskedArray)
    assert _portable(Path(png), 0, 10 ** 6) == str(png)
    from_bytes_path = _portable(_BytesPath(str(png)), 0, 10 ** 6)
    assert isinstance(from_bytes_path, Item)
    objects = _portable(np.array([[1, "a"]], dtype=object).reshape(1, 2, 1).repeat(2, 0), 5, 10 ** 6)
    assert isinstance(objects, _Refused) and "unsupported dtype object" in str(objects.error)
    assert objects.error.index == 5
    broken = _portable(_BrokenPath(), 6, 10 ** 6)
    assert isinstance(broken, _Refused) and broken.error.index == 6 and "OSError: no path" in str(broken.error)
    gen = _portable((i for i in range(2)), 7, 10 ** 6)
    assert isinstance(gen, _Refused) and "unsupported item type generator" in str(gen.error)
    from PIL import Image

    item = _portable(Image.fromarray(img), 8, 10 ** 6)
    assert isinstance(item, Item) and item.index == 8
    np.testing.assert_array_equal(item.rgb, img.astype(np.float32))


def test_huge_array_is_refused_in_the_parent_in_both_modes():
    huge = np.broadcast_to(np.uint8(3), (3000, 3000))  # 9e6 pixels, a view: cheap until pickled
    X = [_grey(1), huge, _grey(2)]
    for n_jobs in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with pytest.warns(RuntimeWarning, match="1 of 3 items"):
                out, status = run_extraction([_Probe()], X, 2, n_jobs=n_jobs, on_error="nan", max_pixels=8_999_999)
        assert status["status"].tolist() == ["ok", "error", "ok"], n_jobs
        assert "above max_pixels=8999999" in status["error"][1]
        np.testing.assert_array_equal(out[[0, 2], 0], [1, 2])
    out, status = run_extraction([_Probe()], X, 2, n_jobs=2, max_pixels=9_000_000)  # at the limit: accepted
    np.testing.assert_array_equal(out[:, 0], [1, 3, 2])


def test_sources_of_each_kind(tmp_path):
    assert _source("a/b.png") == "a/b.png"
    assert _source(Path("a") / "b.png") == os.path.join("a", "b.png")
    assert _source(_BytesPath("c.png")) == "c.png"
    assert _source(_BrokenPath()) is None
    assert _source(b"bytes") is None and _source(np.zeros((2, 2))) is None
    assert _source(Item(index=0, source="x.jpg", pixels=np.zeros((2, 2), np.uint8))) == "x.jpg"
    assert _source(_Refused(ItemError(1, "r.png", "bad"))) == "r.png"


def test_exceptions_become_item_errors_naming_the_item():
    own = ItemError(2, "a.png", "bad")
    assert _as_item_error(own, 9, "b.png") is own
    err = _as_item_error(MemoryError(), 4, "m.png")
    assert err.index == 4 and err.source == "m.png"
    assert err.reason == "out of memory (allocation failed); lower max_pixels or free memory"
    assert isinstance(err.__cause__, MemoryError)
    assert _as_item_error(MemoryError("12 GiB"), 4, None).reason.startswith("out of memory (12 GiB)")
    other = _as_item_error(KeyError("k"), 5, None)
    assert other.reason == "KeyError: 'k'" and other.index == 5 and isinstance(other.__cause__, KeyError)


def test_status_frame_is_a_dataframe_with_one_row_per_item():
    ext = _Probe().fit()
    ext.transform(_values(3))
    assert isinstance(ext.status_, pd.DataFrame)
    assert ext.status_["source"].tolist() == [None, None, None]
    assert load_item(_grey(4)).luma.mean() == 4.0


def test_portable_refuses_two_d_arrays_and_object_pixels_of_items():
    grey = np.zeros((10, 12), np.uint8)
    assert _portable(grey, 0, 120) is grey
    assert isinstance(_portable(grey, 0, 119), _Refused)
    assert "(10, 12)" in str(_portable(grey, 0, 119).error)
    item = Item(4, "o.png", pixels=np.array([[1, 2]], dtype=object))
    refused = _portable(item, 4, 10 ** 6)
    assert isinstance(refused, _Refused) and str(refused.error) == "item 4 (o.png): unsupported dtype object"
    fine = Item(4, "f.png", pixels=np.zeros((2, 2), np.uint8))
    assert _portable(fine, 4, 10 ** 6) is fine


def test_raise_stops_preparing_at_the_first_failure():
    class Counting(_Probe):
        prepared = []

        def _prepare(self, item):
            Counting.prepared.append(item.index)
            return super()._prepare(item)

    X = _values(10)
    raise_ = "".join(["rai", "se"])  # equal to "raise" but another object, as read from a config file
    assert raise_ == "raise" and raise_ is not sys.intern("raise")
    for mode in ("raise", raise_):
        Counting.prepared.clear()
        with pytest.raises(ItemError, match="item 2"):
            Counting(refuse_above=1.5, n_jobs=1, on_error=mode).fit().transform(X)
        assert Counting.prepared == [0, 1, 2]
    with pytest.raises(ItemError, match="item 2"):
        run_extraction([_Probe(refuse_above=1.5)], X, 2, n_jobs=2, on_error=raise_)
    Counting.prepared.clear()
    with pytest.warns(RuntimeWarning, match="8 of 10 items"):
        Counting(refuse_above=1.5, n_jobs=1, on_error="nan").fit().transform(X)
    assert Counting.prepared == list(range(10))


def test_in_process_items_are_not_wrapped_for_workers():
    """With one worker nothing is pickled: an Item with unusable pixels fails on its pixels
    (the full dtype advice), not in the wrapping meant for worker processes."""
    bad = Item(1, "o.png", pixels=np.array([[1, 2]], dtype=object))
    with pytest.warns(RuntimeWarning, match="1 of 3 items"):
        out, status = run_extraction([_Probe()], [_grey(1), bad, _grey(2)], 2, n_jobs=1, on_error="nan")
    assert status.loc[1, "error"] == "unsupported dtype object; use uint8, uint16, float32/float64 in [0, 1] or bool"
    assert status.loc[1, "source"] == "o.png"
    np.testing.assert_array_equal(out[[0, 2], 0], [1, 2])


def test_items_read_but_without_any_value_are_named_in_a_warning():
    """A 7x7 image has no 8x8 DCT block: its whole row is NaN although it was read (status ok), so a
    model would score it from imputed values alone: a warning names the first such item; the 8x8
    look-alike and rows that failed to read (their own warning) do not count."""
    from forensics.features import DCTFeatures

    tiny, block = natural_image(0, (7, 7)), natural_image(1, (8, 8))
    ext = DCTFeatures(on_error="nan").fit()
    with pytest.warns(RuntimeWarning) as caught:
        X = ext.transform([block, b"junk", tiny, block])
    failed, empty = (str(w.message) for w in caught)
    # each its own category, so a caller that records one of them per item can silence it alone
    assert [w.category for w in caught] == [FailedItemsWarning, EmptyRowsWarning]
    assert issubclass(FailedItemsWarning, RuntimeWarning) and issubclass(EmptyRowsWarning, RuntimeWarning)
    assert failed.startswith("1 of 4 items could not be processed")
    assert re.fullmatch(r"1 of 4 items were read but have no value in any of the 45 columns \(every feature NaN, "
                        r"e\.g\. an image smaller than the families need\): a model would score them from imputed "
                        r"values only; first: item 2", empty)
    assert ext.status_["status"].tolist() == ["ok", "error", "ok", "ok"] and np.isnan(X[[1, 2]]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ext.transform([block, block])
