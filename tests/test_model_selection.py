"""Leakage-safe splits, groups from manifests, and cross_validate_detector's threshold protocol."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from forensics.metrics import EVALUATE_COLUMNS, roc_auc, threshold_metrics
from forensics.model_selection import (
    CVResult,
    check_group_leakage,
    cross_validate_detector,
    groups_from_manifest,
    make_cv,
)


def grouped_labels(seed, n_groups=40, size=5):
    """Groups of items sharing one label (like the frames of a video), unbalanced classes."""
    rng = np.random.default_rng(seed)
    group_label = (rng.random(n_groups) < 0.35).astype(int)
    group_label[:6] = [0, 0, 0, 1, 1, 1]
    sizes = rng.integers(1, size + 1, n_groups)
    groups = np.repeat(np.arange(n_groups), sizes)
    return group_label[groups], groups


# -- make_cv / check_group_leakage ----------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_make_cv_grouped_never_leaks_and_stays_stratified(seed):
    y, groups = grouped_labels(seed)
    cv = make_cv(y, groups, n_splits=3, random_state=seed)
    assert isinstance(cv, StratifiedGroupKFold)
    report = check_group_leakage(cv, y, groups)
    assert (report["n_shared_groups"] == 0).all()
    assert report["n_test"].sum() == len(y)  # a partition
    fake_share = report["n_test_fake"] / report["n_test"]
    assert (fake_share > 0).all() and (fake_share < 1).all()
    assert np.abs(fake_share - y.mean()).max() < 0.2


def test_make_cv_without_groups_is_stratified_kfold():
    y = np.array([0] * 12 + [1] * 6)
    cv = make_cv(y, n_splits=3)
    assert isinstance(cv, StratifiedKFold)
    for _, test in cv.split(y, y):
        assert np.bincount(y[test]).tolist() == [4, 2]  # exact proportions


def test_make_cv_errors():
    with pytest.raises(ValueError, match="class 1 has 2 items"):
        make_cv([0, 0, 0, 1, 1], n_splits=3)
    # 6 fakes, but in 2 groups only
    with pytest.raises(ValueError, match="class 1 is spread over 2 groups"):
        make_cv([0, 0, 0, 1, 1, 1, 1, 1, 1], [0, 1, 2, 3, 3, 3, 4, 4, 4], n_splits=3)
    with pytest.raises(ValueError, match="one class"):
        make_cv([1, 1, 1])
    with pytest.raises(ValueError, match="n_splits"):
        make_cv([0, 1] * 5, n_splits=1)


def test_check_group_leakage_catches_ungrouped_splitter():
    y, groups = grouped_labels(0)
    with pytest.raises(ValueError, match="group leakage"):
        check_group_leakage(StratifiedKFold(3, shuffle=True, random_state=0), y, groups)
    report = check_group_leakage(KFold(3), y, groups, on_leak="report")
    # KFold cuts the contiguous groups at 2 boundaries: the groups cut are on both sides
    assert report["n_shared_groups"].sum() >= 1
    cut = report["shared_groups"].iloc[0]
    train, test = next(KFold(3).split(y))
    assert set(cut) == set(groups[train]) & set(groups[test])


# -- groups_from_manifest -------------------------------------------------------------------------
def test_groups_from_manifest_connected_components():
    # FF++-like: a swap of target t onto ... source s links both identities.
    m = pd.DataFrame({
        "target": ["000", "003", "010", "020", "003", "030", "031", None],
        "source": [None, "010", None, None, "000", "031", None, None],
    })
    # edges: item1 {003, 010}, item4 {003, 000} -> 000, 003, 010 and items 0, 1, 2, 4 together;
    # item5 {030, 031} and item6 {031} together; item3 {020} alone; item7 (no id) alone
    assert groups_from_manifest(m, ["target", "source"]).tolist() == [0, 0, 0, 1, 0, 2, 2, 3]
    assert groups_from_manifest(m, "target").tolist() == [0, 1, 2, 3, 1, 4, 5, 6]


def test_groups_from_manifest_id_spaces():
    m = pd.DataFrame({"identity": [1, 2, 3], "photo": [9, 1, 9]})
    # shared id space: identity 1 == photo 1 links items 0 and 1; photo 9 links 0 and 2
    assert groups_from_manifest(m, ["identity", "photo"]).tolist() == [0, 0, 0]
    # separate spaces: only photo 9 links items 0 and 2
    assert groups_from_manifest(m, ["identity", "photo"], shared_ids=False).tolist() == [0, 1, 0]
    with pytest.raises(KeyError, match="video"):
        groups_from_manifest(m, "video")


# -- cross_validate_detector ----------------------------------------------------------------------
class ScoreColumn(ClassifierMixin, BaseEstimator):
    """Fake probability = column 0 of X, unchanged. Column 1 holds the item's group: the scorer
    refuses to score an item whose group it was fitted on, so any leak raises."""

    def fit(self, X, y):
        X = np.asarray(X)
        self.classes_ = np.array([0, 1])
        self.seen_groups_ = set(X[:, 1].tolist())
        return self

    def predict_proba(self, X):
        X = np.asarray(X)
        leaked = self.seen_groups_ & set(X[:, 1].tolist())
        if leaked:
            raise AssertionError(f"groups {sorted(leaked)[:5]} were seen in fit")
        return np.c_[1 - X[:, 0], X[:, 0]]

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def shifted_scores(seed=0):
    """Reals score in [0, .3], fakes in [.35, .6]: separable, but at .5 most fakes are missed."""
    rng = np.random.default_rng(seed)
    y, groups = grouped_labels(seed, n_groups=60)
    s = np.where(y == 1, rng.uniform(0.35, 0.6, y.size), rng.uniform(0.0, 0.3, y.size))
    return np.c_[s, groups], y, groups


@pytest.mark.parametrize("rule", ["eer", "youden"])
def test_threshold_is_chosen_on_validation_and_carried_to_test(rule):
    X, y, groups = shifted_scores()
    res = cross_validate_detector(ScoreColumn(), X, y, groups=groups, cv=4, threshold_rule=rule)
    s = X[:, 0]
    for f in range(4):
        train, test = res.test_fold != f, res.test_fold == f
        thr = res.thresholds[f]
        # separable validation scores: both rules pick the lowest validation fake score, a fake
        # score of the training part of the fold, never one of its test part, and far from .5
        assert thr in set(s[train & (y == 1)]) and thr not in set(s[test])
        assert 0.35 <= thr < 0.5 or thr == s[train & (y == 1)].min()
        expected = threshold_metrics(y[test], s[test], thr)
        row = res.folds.loc[f]
        assert row["threshold"] == thr
        assert row["accuracy"] == pytest.approx(expected["accuracy"])
        assert row["f1"] == pytest.approx(expected["f1"])
        assert row["accuracy"] > threshold_metrics(y[test], s[test], 0.5)["accuracy"]
        assert row["roc_auc"] == 1.0
    assert (res.folds["n_validation"] > 0).all()
    assert (res.folds["n_fit"] + res.folds["n_validation"] + res.folds["n"]).eq(len(y)).all()


def test_numeric_threshold_rule_holds_nothing_out():
    X, y, groups = shifted_scores(1)
    res = cross_validate_detector(ScoreColumn(), X, y, groups=groups, cv=3, threshold_rule=0.5)
    assert (res.thresholds == 0.5).all()
    assert (res.folds["n_validation"] == 0).all()
    assert (res.folds["n_fit"] + res.folds["n"] == len(y)).all()


def test_cross_validate_detector_on_synthetic_problem():
    X, y = make_classification(n_samples=240, n_features=8, n_informative=4, n_clusters_per_class=1,
                               class_sep=1.5, flip_y=0, weights=[0.6], random_state=0)
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 48, y.size)
    methods = np.where(y == 1, np.where(rng.random(y.size) < 0.5, "A", "B"), "real")
    model = make_pipeline(StandardScaler(), LogisticRegression())
    res = cross_validate_detector(model, X, y, groups=groups, methods=methods, cv=4, random_state=0)
    assert isinstance(res, CVResult)
    # every item scored exactly once, by the fold it was tested in
    assert np.isfinite(res.oof_scores).all() and res.oof_scores.shape == y.shape
    assert sorted(np.bincount(res.test_fold).tolist()) == sorted(res.folds["n"].tolist())
    # groups never straddle folds: each group tested in exactly one fold
    assert (pd.Series(res.test_fold).groupby(groups).nunique() == 1).all()
    assert (res.folds["roc_auc"] > 0.9).all() and res.summary.loc["roc_auc", "mean"] > 0.9
    assert roc_auc(y, res.oof_scores) > 0.9
    assert list(res.folds.columns[:len(EVALUATE_COLUMNS)]) == list(EVALUATE_COLUMNS)
    for col in ("fit_seconds", "predict_seconds", "fit_items_per_s", "predict_items_per_s"):
        assert (res.folds[col] > 0).all()
    assert res.summary.loc["roc_auc", "mean"] == pytest.approx(res.folds["roc_auc"].mean())
    assert res.summary.loc["roc_auc", "std"] == pytest.approx(res.folds["roc_auc"].std())
    # per-method rows on pooled out-of-fold scores: method A's fakes + all reals
    assert res.per_group.index.tolist() == ["all", "A", "B"]
    assert res.per_group.loc["A", "n"] == np.sum(methods == "A") + np.sum(y == 0)
    mask = methods != "B"
    assert res.per_group.loc["A", "roc_auc"] == pytest.approx(roc_auc(y[mask], res.oof_scores[mask]))
    # the pooled accuracy judges each item with its own fold's threshold
    expected = threshold_metrics(y, res.oof_scores, res.thresholds[res.test_fold])["accuracy"]
    assert res.per_group.loc["all", "accuracy"] == pytest.approx(expected)
    assert "roc_auc=" in repr(res)


def test_inner_validation_split_of_a_small_grouped_set_neither_fails_nor_warns_about_its_own_n_splits():
    """The fit/validation split inside each fold asks StratifiedGroupKFold for 1/validation_fraction
    splits (5 by default): a training part with fewer items than that in each class failed with
    scikit-learn's "n_splits=5 cannot be greater than the number of members in each class", and one
    with a small class warned "fewer than n_splits=5", an n_splits nobody asked for. The splits are now
    at most the larger class's size and the warning is silenced (the split taken is checked to hold both
    classes on both sides). Look-alike: reals from 2 sources still get the clear refusal."""
    import warnings

    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 5)
    groups = np.arange(10)  # one item per source: a training part of 5 items has 2 or 3 of a class
    X = y[:, None] + rng.normal(0, 0.8, (10, 2))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = cross_validate_detector(LogisticRegression(), X, y, groups=groups, cv=2, random_state=0)
    assert [str(w.message) for w in record if "least populated class" in str(w.message)] == []
    assert np.isfinite(res.oof_scores).all() and sorted(res.folds["n"].tolist()) == [5, 5]
    # the reals come from 2 sources: each training part holds one, and no grouped validation split exists
    two = np.array([0, 0, 1, 1, 2, 3, 4, 5, 6, 7])
    y_two = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="a class of the training part spans fewer than 2 groups"):
        cross_validate_detector(LogisticRegression(), X, y_two, groups=two, cv=2, random_state=0)


def test_cross_validate_detector_list_input_and_jobs_match_array():
    X, y = make_classification(n_samples=90, n_features=5, random_state=1)
    model = LogisticRegression()
    ref = cross_validate_detector(model, X, y, cv=3)
    as_list = cross_validate_detector(model, list(X), y, cv=3)
    np.testing.assert_allclose(as_list.oof_scores, ref.oof_scores)
    np.testing.assert_array_equal(as_list.thresholds, ref.thresholds)
    with joblib.parallel_config(backend="threading"):  # the parallel path, without process start-up
        parallel = cross_validate_detector(model, X, y, cv=3, n_jobs=2)
    np.testing.assert_allclose(parallel.oof_scores, ref.oof_scores)


def test_cross_validate_detector_returns_the_model_that_scored_each_fold():
    X, y = make_classification(n_samples=90, n_features=5, random_state=1)
    model = LogisticRegression()
    assert cross_validate_detector(model, X, y, cv=3).estimators is None  # the default keeps none
    res = cross_validate_detector(model, X, y, cv=3, return_estimator=True)
    assert len(res.estimators) == 3 and len({id(e) for e in res.estimators}) == 3
    assert all(e is not model for e in res.estimators)  # fitted clones, the estimator given is left alone
    for f, est in enumerate(res.estimators):
        test = res.test_fold == f
        np.testing.assert_allclose(est.predict_proba(X[test])[:, 1], res.oof_scores[test])
    with pytest.raises(ValueError, match="return_estimator must be True or False"):
        cross_validate_detector(model, X, y, cv=3, return_estimator="yes")


def test_cross_validate_detector_rejects_leaky_or_partial_splitters():
    X, y, groups = shifted_scores(2)
    with pytest.raises(ValueError, match="group leakage"):
        cross_validate_detector(ScoreColumn(), X, y, groups=groups, cv=StratifiedKFold(3))
    with pytest.raises(ValueError, match="partition"):
        cross_validate_detector(ScoreColumn(), X, y, cv=ShuffleSplit(3, random_state=0))
    with pytest.raises(ValueError, match="threshold_rule"):
        cross_validate_detector(ScoreColumn(), X, y, threshold_rule="median")
    with pytest.raises(ValueError, match="validation_fraction"):
        cross_validate_detector(ScoreColumn(), X, y, validation_fraction=1.0)
    with pytest.raises(ValueError, match="lengths"):
        cross_validate_detector(ScoreColumn(), X[:-1], y)


# -- make_cv / groups_from_manifest / check_group_leakage: boundaries and look-alikes --------------
@pytest.mark.parametrize("n_splits", [3, 5])
def test_make_cv_class_size_boundary(n_splits):
    """A class with exactly n_splits items (or groups) is accepted; one fewer is refused."""
    y = [0] * (n_splits + 2) + [1] * n_splits
    assert make_cv(y, n_splits=n_splits).n_splits == n_splits
    with pytest.raises(ValueError, match=f"class 1 has {n_splits - 1} items, fewer than n_splits={n_splits}"):
        make_cv(y[:-1], n_splits=n_splits)
    with pytest.raises(ValueError, match=f"class 0 has {n_splits - 1} items"):
        make_cv([0] * (n_splits - 1) + [1] * (n_splits + 3), n_splits=n_splits)
    # grouped: fakes spread over exactly n_splits groups pass, over n_splits - 1 are refused
    g_real = list(range(n_splits + 2))
    g_fake = [100 + k // 2 for k in range(2 * n_splits)]  # n_splits groups of 2 fakes
    y = [0] * len(g_real) + [1] * len(g_fake)
    cv = make_cv(y, g_real + g_fake, n_splits=n_splits)
    assert isinstance(cv, StratifiedGroupKFold) and cv.n_splits == n_splits
    g_fake = [100 + min(k // 2, n_splits - 2) for k in range(2 * n_splits)]  # n_splits - 1 groups
    with pytest.raises(ValueError, match=f"class 1 is spread over {n_splits - 1} groups"):
        make_cv(y, g_real + g_fake, n_splits=n_splits)
    g_real = [k // 2 for k in range(n_splits + 2)]  # the reals' groups count too
    if len(set(g_real)) < n_splits:
        with pytest.raises(ValueError, match="class 0 is spread over"):
            make_cv(y, g_real + [100 + k for k in range(2 * n_splits)], n_splits=n_splits)


def test_make_cv_parameters_are_passed_on():
    y, groups = [0, 1] * 6, list(range(12))
    for g in (None, groups):  # defaults: 5 shuffled folds, seed 0
        cv = make_cv(y, g)
        assert (cv.n_splits, cv.shuffle, cv.random_state) == (5, True, 0)
    for g, kind in ((None, StratifiedKFold), (groups, StratifiedGroupKFold)):
        cv = make_cv(y, g, n_splits=4, shuffle=True, random_state=7)
        assert isinstance(cv, kind) and (cv.n_splits, cv.shuffle, cv.random_state) == (4, True, 7)
        cv = make_cv(y, g, n_splits=2, shuffle=False, random_state=7)  # the seed is dropped unshuffled
        assert (cv.n_splits, cv.shuffle, cv.random_state) == (2, False, None)
        # different seeds give different folds; the same seed the same folds
        folds = {seed: [te.tolist() for _, te in make_cv(y, g, n_splits=3, random_state=seed).split(y, y, g)]
                 for seed in (0, 1, 2, 0)}
        assert len({str(f) for f in folds.values()}) > 1
    assert make_cv(y, n_splits=np.int64(3)).n_splits == 3  # numpy integers are integers


@pytest.mark.parametrize("bad", [1, 0, True, 2.0, "3", None])
def test_make_cv_refuses_non_integer_or_small_n_splits(bad):
    with pytest.raises(ValueError, match=r"n_splits must be an int >= 2"):
        make_cv([0, 1] * 10, n_splits=bad)


def test_make_cv_refuses_bad_y_and_groups_with_look_alikes():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        make_cv(np.zeros((6, 2)))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        make_cv([])
    with pytest.raises(ValueError, match=r"holds one class only \(1\)"):
        make_cv([1] * 10, n_splits=2)
    y = [0, 0, 1, 1]
    with pytest.raises(ValueError, match=r"shape of y \(4,\), got \(3,\)"):
        make_cv(y, [0, 1, 2], n_splits=2)
    for missing in (None, np.nan):
        with pytest.raises(ValueError, match="missing values"):
            make_cv(y, ["a", "b", missing, "d"], n_splits=2)
    assert isinstance(make_cv(y, ["a", "b", "c", "d"], n_splits=2), StratifiedGroupKFold)  # string ids
    assert isinstance(make_cv(["real", "real", "fake", "fake"], n_splits=2), StratifiedKFold)  # any 2 labels


def test_groups_from_manifest_refusals_and_edges():
    m = pd.DataFrame({"a": ["x", "y", "x"], "b": [1, None, 2]})
    with pytest.raises(TypeError, match="DataFrame, got dict"):
        groups_from_manifest(m.to_dict("list"), "a")
    with pytest.raises(ValueError, match="at least one column"):
        groups_from_manifest(m, [])
    with pytest.raises(KeyError, match="'c'"):
        groups_from_manifest(m, ["a", "c", "d"])
    empty = groups_from_manifest(m.iloc[:0], ["a", "b"])
    assert empty.dtype == np.int64 and empty.shape == (0,)
    g = groups_from_manifest(m, ("a", "b"))  # a tuple of columns works like a list
    assert g.dtype == np.int64 and g.tolist() == [0, 1, 0]
    # numbered by first appearance, not by component size or id value
    m = pd.DataFrame({"id": ["z", "a", "a", "m", "z"]})
    assert groups_from_manifest(m, "id").tolist() == [0, 1, 1, 2, 0]
    # all ids missing: each item alone, in both id-space modes
    m = pd.DataFrame({"a": [None, None, "x"], "b": [np.nan, np.nan, np.nan]})
    for shared in (True, False):
        assert groups_from_manifest(m, ["a", "b"], shared_ids=shared).tolist() == [0, 1, 2]
    # separate id spaces with a missing value: the missing one links nothing
    m = pd.DataFrame({"identity": [5, None, 5], "photo": [None, 5, 7]})
    assert groups_from_manifest(m, ["identity", "photo"], shared_ids=False).tolist() == [0, 1, 0]
    assert groups_from_manifest(m, ["identity", "photo"], shared_ids=True).tolist() == [0, 0, 0]


class _Folds:
    """A splitter yielding fixed (train, test) index pairs."""

    def __init__(self, *folds):
        self.folds = folds

    def split(self, X, y=None, groups=None):
        for train, test in self.folds:
            yield np.asarray(train), np.asarray(test)


def test_check_group_leakage_report_counts_and_first_leaky_split():
    y = np.array([0, 1, 0, 1, 0, 1, 1, 1])
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    clean = ([0, 1, 2, 3], [4, 5, 6, 7])
    leaky = ([0, 1, 2, 4], [3, 5, 6, 7])  # groups 1 and 2 on both sides
    report = check_group_leakage(_Folds(clean, leaky, leaky), y, groups, on_leak="report")
    assert report.index.name == "fold" and report.index.tolist() == [0, 1, 2]
    assert report["n_train"].tolist() == [4, 4, 4] and report["n_test"].tolist() == [4, 4, 4]
    assert report["n_test_fake"].tolist() == [3, 4, 4]  # y == 1 in each test part
    assert report["n_shared_groups"].tolist() == [0, 2, 2]
    assert report["shared_groups"].tolist() == [[], [1, 2], [1, 2]]
    with pytest.raises(ValueError, match=r"split 1 has 2 group\(s\) in both train and test, e.g. \[1, 2\]; "
                                         r"2 of 3 splits leak"):
        check_group_leakage(_Folds(clean, leaky, leaky), y, groups)
    assert check_group_leakage(_Folds(clean), y, groups)["n_shared_groups"].tolist() == [0]  # no leak: no error
    with pytest.raises(ValueError, match="group leakage"):  # an equal string built at run time, not the literal
        check_group_leakage(_Folds(leaky), y, groups, on_leak="".join(["rai", "se"]))
    with pytest.raises(ValueError, match="on_leak must be 'raise' or 'report', got 'warn'"):
        check_group_leakage(_Folds(clean), y, groups, on_leak="warn")
    with pytest.raises(ValueError, match=r"shape of y \(8,\), got \(7,\)"):
        check_group_leakage(_Folds(clean), y, groups[:-1])


def test_check_group_leakage_lists_at_most_ten_shared_groups_and_is_quiet():
    import warnings

    y = np.tile([0, 1], 30)
    groups = np.repeat(np.arange(15), 4)  # 15 groups of 4, cut in two by KFold(2) on shuffled order
    order = np.random.default_rng(0).permutation(60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn's "groups parameter is ignored" is not passed on
        report = check_group_leakage(KFold(2, shuffle=True, random_state=0), y[order], groups[order],
                                     on_leak="report")
    assert (report["n_shared_groups"] > 10).all()
    assert report["shared_groups"].map(len).tolist() == [10, 10]
    assert report["shared_groups"].iloc[0] == sorted(report["shared_groups"].iloc[0])
    # an int is make_cv(y, groups, n_splits=cv): grouped, so nothing leaks
    report = check_group_leakage(3, y[order], groups[order])
    assert len(report) == 3 and (report["n_shared_groups"] == 0).all()
    assert report["n_test"].sum() == 60


def test_check_group_leakage_one_shared_group_is_a_leak():
    """The leak threshold at its edge: exactly one shared group raises (and is reported), none does not."""
    y = np.array([0, 1, 0, 1, 0, 1, 1, 1])
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    clean = ([0, 1, 2, 3], [4, 5, 6, 7])
    one = ([0, 1, 2, 3, 4], [5, 6, 7])  # group 2 on both sides, and only it
    report = check_group_leakage(_Folds(clean, one), y, groups, on_leak="report")
    assert report["n_shared_groups"].tolist() == [0, 1]
    assert report["shared_groups"].tolist() == [[], [2]]
    with pytest.raises(ValueError, match=r"split 1 has 1 group\(s\) in both train and test, e.g. \[2\]; "
                                         r"1 of 2 splits leak"):
        check_group_leakage(_Folds(clean, one), y, groups)
    assert check_group_leakage(_Folds(clean, clean), y, groups)["n_shared_groups"].tolist() == [0, 0]


# -- groups from file names (--group-pattern) -----------------------------------------------------------

def test_groups_from_names_joins_every_capture_group():
    from forensics.model_selection import groups_from_names

    paths = ["d/id01_talk_000.mp4", "e/id01_talk_001.mp4", "id01_walk_000.mp4", "id02_talk_000.mp4"]
    # two named groups: actor AND source video; the pattern's order, joined by "/"
    two = groups_from_names(r"^(?P<actor>id\d+)_(?P<source>[a-z]+)_\d+\.mp4$", paths)
    assert two == ["id01/talk", "id01/talk", "id01/walk", "id02/talk"]
    # positional groups read the same; the order is the pattern's, not the name's
    assert groups_from_names(r"^(id\d+)_([a-z]+)_", paths) == two
    assert groups_from_names(r"^(?P<b>id\d+)_(?P<a>[a-z]+)_", paths) == two
    # one group: that group alone (as before); none: the whole match; (?:...) is not part of the key
    assert groups_from_names(r"^(id\d+)_", paths) == ["id01", "id01", "id01", "id02"]
    assert groups_from_names(r"^id\d+", paths) == ["id01", "id01", "id01", "id02"]
    assert groups_from_names(r"^(?:id\d+)_([a-z]+)", paths) == ["talk", "talk", "walk", "talk"]
    # a group that took no part in the match is empty
    assert groups_from_names(r"^(id\d+)_(?:(walk)|[a-z]+)_", paths) == ["id01/", "id01/", "id01/walk", "id02/"]
    # three groups; the folder is not searched, only the file name
    assert groups_from_names(r"(\d)(\d)(\d)\.mp4$", ["1/2/3_456.mp4"]) == ["4/5/6"]


def test_groups_from_names_refusals():
    from forensics.model_selection import groups_from_names

    with pytest.raises(ValueError, match=r"does not match the file name of d/x\.mp4"):
        groups_from_names(r"^(id\d+)_([a-z]+)", ["id01_talk.mp4", "d/x.mp4"])
    assert groups_from_names(r"^(\w)_([a-z]+)", ["d/x_y.mp4"]) == ["x/y"]  # its look-alike that matches
    with pytest.raises(ValueError, match="is not a regular expression"):
        groups_from_names(r"^(id", ["id01.mp4"])
