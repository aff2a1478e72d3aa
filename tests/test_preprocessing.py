"""CorrelationFilter: the scikit-learn contract, and which feature of a redundant pair goes."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import natural_image
from forensics.features import ForensicFeatures
from forensics.preprocessing import CorrelationFilter


# the checks fit transformers with a multiclass y, for which keep="auc" warns and uses the NaN rule
@pytest.mark.filterwarnings("ignore:CorrelationFilter.keep='auc'. needs a binary y:UserWarning")
@parametrize_with_checks([CorrelationFilter(), CorrelationFilter(method="spearman", keep="missing")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _fixture():
    """a = 0..19; b = a with rows 9 and 10 swapped (corr ~ 0.997); c independent; d = -a.

    y = (b >= 10) puts b at AUC 1 exactly; a (and d = -a) have one inverted pair among
    10 x 10, so 2|AUC - 0.5| = 0.98.
    """
    a = np.arange(20, dtype=float)
    b = a.copy()
    b[[9, 10]] = b[[10, 9]]
    c = np.random.default_rng(3).normal(size=20)
    X = pd.DataFrame({"a": a, "b": b, "c": c, "d": -a})
    y = (b >= 10).astype(int)
    return X, y


def test_keep_auc_keeps_the_better_separating_feature():
    X, y = _fixture()
    filt = CorrelationFilter(keep="auc").fit(X, y)
    np.testing.assert_allclose(filt.auc_distance_[[0, 1, 3]], [0.98, 1.0, 0.98])
    # |corr(a, d)| = 1 comes first: a tie on AUC and NaN count, so the earlier column (a) stays
    # and d goes; then (a, b): b separates better, so a goes; (b, d) is skipped (d gone).
    assert filt.keep_ == "auc"
    assert filt.support_.tolist() == [False, True, True, False]
    assert filt.get_feature_names_out().tolist() == ["b", "c"]
    dropped = filt.dropped_
    assert dropped["feature"].tolist() == ["d", "a"]
    assert dropped["correlated_with"].tolist() == ["a", "b"]
    assert dropped["reason"].tolist() == ["correlated", "correlated"]
    expected_ab = np.corrcoef(X["a"], X["b"])[0, 1]
    np.testing.assert_allclose(dropped["correlation"], [-1.0, expected_ab])
    assert 0.95 < expected_ab < 1.0


def test_keep_missing_and_no_y_keep_the_earlier_column():
    X, y = _fixture()
    for filt in (CorrelationFilter(keep="missing").fit(X, y), CorrelationFilter().fit(X)):
        assert filt.keep_ == "missing"
        assert np.isnan(filt.auc_distance_).all()
        assert filt.get_feature_names_out().tolist() == ["a", "c"]
        assert filt.dropped_["feature"].tolist() == ["d", "b"]
        assert filt.dropped_["correlated_with"].tolist() == ["a", "a"]


def test_nan_count_decides_and_correlation_uses_pairwise_complete_rows():
    X, y = _fixture()
    X.loc[[0, 5, 12], "a"] = np.nan  # a: 3 NaN
    X.loc[[7], "d"] = np.nan  # d: 1 NaN, b: none
    filt = CorrelationFilter(keep="missing").fit(X)
    # (a, d) first (|corr| = 1 on their common rows): d has fewer NaN -> a goes;
    # then (b, d): b has fewer NaN -> d goes.
    assert filt.dropped_["feature"].tolist() == ["a", "d"]
    assert filt.dropped_["correlated_with"].tolist() == ["d", "b"]
    assert filt.get_feature_names_out().tolist() == ["b", "c"]
    ok = X[["a", "c"]].notna().all(axis=1).to_numpy()
    expected = np.corrcoef(X["a"][ok], X["c"][ok])[0, 1]
    np.testing.assert_allclose(filt.correlation_.loc["a", "c"], expected)
    np.testing.assert_allclose(filt.correlation_.loc["a", "d"], -1.0)
    # NaN rows pass through transform untouched, no row lost
    out = filt.transform(X)
    assert out.shape == (20, 2)
    np.testing.assert_array_equal(out[:, 0], X["b"])
    # keep="auc" ranks by AUC before NaN counts: b (AUC distance 1) beats d (0.98)
    filt = CorrelationFilter(keep="auc").fit(X, y)
    assert filt.get_feature_names_out().tolist() == ["b", "c"]


def test_auc_tie_falls_back_to_fewer_nan():
    X, y = _fixture()
    X = X[["a", "c", "d"]].copy()
    X.loc[[0, 19], "a"] = np.nan  # keeps both classes; a and d = -a stay exact AUC ties
    X.loc[[0, 19], "d"] = np.nan
    X.loc[[5], "a"] = np.nan
    filt = CorrelationFilter(keep="auc").fit(X, y)
    assert filt.dropped_["feature"].tolist() == ["a"]  # tie on AUC, a has more NaN


def test_constant_and_all_nan_columns():
    X, y = _fixture()
    X.insert(1, "k", 7.0)
    X["z"] = np.nan
    filt = CorrelationFilter(keep="missing").fit(X)
    assert filt.dropped_["feature"].tolist() == ["k", "z", "d", "b"]
    assert filt.dropped_["reason"].tolist() == ["constant", "constant", "correlated", "correlated"]
    assert filt.dropped_["correlated_with"].iloc[:2].isna().all()
    assert filt.dropped_["correlation"].iloc[:2].isna().all()
    assert np.isnan(filt.correlation_.loc["k", "a"])
    kept = CorrelationFilter(keep="missing", drop_constant=False).fit(X)
    assert kept.get_feature_names_out().tolist() == ["a", "k", "c", "z"]
    assert kept.dropped_["reason"].tolist() == ["correlated", "correlated"]


def test_threshold_is_strict_and_min_periods_guards_tiny_overlaps():
    X, _ = _fixture()
    assert CorrelationFilter(threshold=1.0).fit(X).support_.all()
    r_ab = abs(np.corrcoef(X["a"], X["b"])[0, 1])
    filt = CorrelationFilter(threshold=r_ab, keep="missing").fit(X[["a", "b", "c"]])
    assert filt.support_.all()  # |corr| == threshold is not "exceeds"
    e = np.full(20, np.nan)
    f = np.full(20, np.nan)
    e[:2], f[:2] = [1.0, 2.0], [5.0, 3.0]  # two common rows: corr is -1 by construction
    e[2:5], f[5:8] = [0.0, 4.0, 1.0], [1.0, 0.0, 2.0]
    Y = pd.DataFrame({"e": e, "f": f})
    assert CorrelationFilter().fit(Y).support_.all()
    assert CorrelationFilter(min_periods=2).fit(Y).get_feature_names_out().tolist() == ["e"]


def test_names_numpy_input_and_pickle():
    X, y = _fixture()
    filt = CorrelationFilter(keep="missing").fit(X.to_numpy())
    assert not hasattr(filt, "feature_names_in_")
    assert filt.get_feature_names_out().tolist() == ["x0", "x2"]
    assert filt.dropped_["feature"].tolist() == ["x3", "x1"]
    restored = pickle.loads(pickle.dumps(filt))
    np.testing.assert_array_equal(restored.transform(X.to_numpy()), X.to_numpy()[:, [0, 2]])


def test_skops_round_trip():
    sio = pytest.importorskip("skops.io")
    X, y = _fixture()
    filt = CorrelationFilter().fit(X, y)
    data = sio.dumps(filt)
    assert sio.get_untrusted_types(data=data) == ["forensics.preprocessing._collinearity.CorrelationFilter"]
    restored = sio.loads(data, trusted=["forensics.preprocessing._collinearity.CorrelationFilter"])
    pd.testing.assert_frame_equal(restored.dropped_, filt.dropped_)
    pd.testing.assert_frame_equal(restored.correlation_, filt.correlation_)
    np.testing.assert_array_equal(restored.transform(X), filt.transform(X))


def test_non_binary_y_warns_and_uses_the_nan_rule():
    X, _ = _fixture()
    with pytest.warns(UserWarning, match="binary y"):
        filt = CorrelationFilter(keep="auc").fit(X, np.arange(20) % 3)
    assert filt.keep_ == "missing"
    assert filt.get_feature_names_out().tolist() == ["a", "c"]


@pytest.mark.parametrize(
    "params, match",
    [({"threshold": 1.5}, "threshold"), ({"method": "kendall"}, "method"), ({"keep": "first"}, "keep"),
     ({"min_periods": 1}, "min_periods"), ({"drop_constant": "yes"}, "drop_constant")],
)
def test_invalid_params_raise_at_fit(params, match):
    est = CorrelationFilter(**params)  # storing is fine
    with pytest.raises((ValueError, TypeError), match=match):
        est.fit(_fixture()[0])


def test_pipeline_after_the_feature_bank_keeps_names():
    images = [natural_image(s, (32, 40)) for s in range(6)]
    pipe = Pipeline([
        ("features", ForensicFeatures(preset="minimal")),
        ("filter", CorrelationFilter(keep="missing")),
    ]).set_output(transform="pandas")
    out = pipe.fit_transform(images)
    bank_names = pipe.named_steps["features"].get_feature_names_out().tolist()
    filt = pipe.named_steps["filter"]
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == filt.get_feature_names_out().tolist() == pipe.get_feature_names_out().tolist()
    assert filt.feature_names_in_.tolist() == bank_names
    assert list(out.columns) == [n for n in bank_names if n not in set(filt.dropped_["feature"])]
    assert all(len(n.split("__")) == 3 for n in out.columns)
    assert 0 < out.shape[1] < len(bank_names)  # six images: some columns are redundant


def test_pandas_output_with_nan_imputation_in_between():
    X, y = _fixture()
    X.loc[[3], "c"] = np.nan
    pipe = Pipeline([("impute", SimpleImputer()), ("filter", CorrelationFilter())]).set_output(transform="pandas")
    out = pipe.fit_transform(X, y)
    assert list(out.columns) == ["b", "c"]
    np.testing.assert_allclose(out.loc[3, "c"], X["c"].mean())
