"""Checks every public extractor must pass (the scikit-learn contract, adapted to image input)."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from conftest import encode, natural_image
from forensics.features import ALL_EXTRACTORS, ForensicFeatures, make_feature_bank
from forensics.features._base import Interval, Options
from forensics.media import ItemError

# the common fixtures include images below the local family's two 32 px blocks: their all-NaN rows are meant (the warning itself is tested in test_extraction_base.py)
pytestmark = pytest.mark.filterwarnings("ignore:.* were read but have no value in any of:RuntimeWarning")

EXTRACTORS = [cls() for cls in ALL_EXTRACTORS.values()] + [
    make_feature_bank(), ForensicFeatures(preset="minimal"), ForensicFeatures(select=["blur__", "spectral__slope"])]
IDS = [type(e).__name__ + ("" if not isinstance(e, ForensicFeatures) else f"[{e.preset},{e.select}]")
       for e in EXTRACTORS]


def _images():
    return [
        encode(natural_image(0, (48, 64)), "JPEG", quality=85),
        natural_image(1, (40, 40)),
        encode(natural_image(2, (33, 47)), "PNG"),
        natural_image(3, (24, 24))[:, :, 0],
    ]


def _invalid_values(est):
    yield "on_error", "ignore"
    yield "n_jobs", 0
    yield "progress", "yes"
    for name, rule in type(est)._param_rules.items():
        if isinstance(rule, Options):
            yield name, "__not_an_option__"
        elif isinstance(rule, Interval):
            yield name, "text"
            if rule.low is not None:
                yield name, rule.low - 1
            if rule.high is not None:
                yield name, rule.high + 1


@pytest.mark.parametrize("est", EXTRACTORS, ids=IDS)
def test_clone_and_params_round_trip(est):
    params = est.get_params(deep=False)
    twin = clone(est)
    assert twin is not est
    assert set(twin.get_params(deep=False)) == set(params)
    twin.set_params(**params)
    assert twin.get_params(deep=False).keys() == params.keys()


@pytest.mark.parametrize("est", EXTRACTORS, ids=IDS)
def test_init_does_no_work_and_invalid_params_raise_at_fit(est):
    for name, value in _invalid_values(est):
        bad = clone(est).set_params(**{name: value})  # storing an invalid value must not raise
        with pytest.raises((ValueError, TypeError), match=name):
            bad.fit(_images())


@pytest.mark.parametrize("est", EXTRACTORS, ids=IDS)
def test_output_shape_names_determinism_and_pickle(est):
    X = _images()
    fitted = clone(est).fit(X)
    out = fitted.transform(X)
    names = fitted.get_feature_names_out()
    assert out.shape == (len(X), len(names)) == (len(X), fitted.n_features_out_)
    assert out.dtype == np.float64
    assert len(set(names)) == len(names)
    assert all(len(str(n).split("__")) == 3 for n in names), names
    np.testing.assert_array_equal(fitted.transform(X), out)  # deterministic
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), out)
    # the row of one item does not depend on the other items or on its position
    np.testing.assert_array_equal(fitted.transform(X[::-1])[::-1], out)


@pytest.mark.parametrize("est", EXTRACTORS, ids=IDS)
def test_pure_function_form_matches_transform(est):
    X = _images()
    fitted = clone(est).fit(X)
    row = fitted.extract_one(X[0])
    assert list(row) == list(fitted.get_feature_names_out())
    np.testing.assert_array_equal(np.array(list(row.values())), fitted.transform(X[:1])[0])


@pytest.mark.parametrize("est", EXTRACTORS, ids=IDS)
def test_pandas_output(est):
    X = _images()
    fitted = clone(est).set_output(transform="pandas").fit(X)
    frame = fitted.transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(fitted.get_feature_names_out())


@pytest.mark.parametrize("est", EXTRACTORS, ids=IDS)
def test_bad_item_raises_naming_it_or_records_nan_row(est, tmp_path):
    missing = str(tmp_path / "gone.jpg")
    X = _images()
    X.insert(2, missing)
    X.insert(4, b"\x00garbage")
    fitted = clone(est).fit(X)
    with pytest.raises(ItemError, match=r"item 2 \(.*gone\.jpg\): file not found"):
        fitted.transform(X)
    fitted.set_params(on_error="nan")
    with pytest.warns(RuntimeWarning, match="2 of 6 items"):
        out = fitted.transform(X)
    good = clone(est).fit(X).transform([x for i, x in enumerate(X) if i not in (2, 4)])
    assert np.isnan(out[[2, 4]]).all()
    np.testing.assert_array_equal(out[[0, 1, 3, 5]], good)  # no row lost or shifted
    status = fitted.status_
    assert list(status["status"]) == ["ok", "ok", "error", "ok", "error", "ok"]
    assert status.loc[2, "source"] == missing and "not found" in status.loc[2, "error"]


@pytest.mark.parametrize("est", EXTRACTORS[-3:], ids=IDS[-3:])
def test_parallel_output_matches_serial_in_order(est):
    X = [natural_image(s, (32 + s, 40)) for s in range(9)]
    serial = clone(est).fit(X).transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # loky's CPU-count notes on small machines
        parallel = clone(est).set_params(n_jobs=2).fit(X).transform(X)
    np.testing.assert_array_equal(parallel, serial)
