"""Permutation importance on held-out folds (per feature, per family) and SHAP attributions."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression

from forensics import make_pipeline
from forensics.inspection import (
    ShapResult,
    explain_item,
    feature_family,
    permutation_importance_cv,
    shap_summary,
    shap_values,
    split_pipeline,
)

pytest.importorskip("shap")
pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def demo_small():
    from forensics.datasets import make_demo_dataset

    df = make_demo_dataset(n_per_class=15, size=48)
    return list(df["item"]), df["label"].to_numpy()


def _linear_problem(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


# -- permutation importance ------------------------------------------------------------------------

@pytest.mark.parametrize("scoring", ["roc_auc", "accuracy", "average_precision"])
def test_per_feature_matches_sklearn_on_a_fixed_split(scoring):
    X, y = _linear_problem()
    train, test = np.arange(120), np.arange(120, 200)
    names = ["a__w", "a__x", "b__y", "b__z"]
    table = permutation_importance_cv(LogisticRegression(), X, y, cv=[(train, test)], n_repeats=4,
                                      scoring=scoring, feature_names=names, random_state=3)
    ref = permutation_importance(LogisticRegression().fit(X[train], y[train]), X[test], y[test], n_repeats=4,
                                 random_state=3, scoring=scoring)
    by_name = table.set_index("name")
    np.testing.assert_allclose(by_name.loc[names, "importance_mean"], ref.importances_mean, atol=1e-12)
    np.testing.assert_allclose(by_name.loc[names, "importance_std"], ref.importances_std, atol=1e-12)
    raw = dict(zip(table["name"], table.attrs["importances"]))
    np.testing.assert_allclose(np.array([raw[n] for n in names]), ref.importances, atol=1e-12)
    assert table["importance_mean"].is_monotonic_decreasing
    assert table["name"].iloc[0] == "a__w"


def test_family_block_gets_the_credit_its_duplicated_columns_share():
    # Two identical informative columns: shuffling one leaves the other, so each alone looks
    # minor; shuffled together (one permutation for the block) the family's weight shows.
    rng = np.random.default_rng(0)
    n = 300
    y = np.repeat([0, 1], n // 2)
    s = 4.0 * y + rng.normal(size=n)
    F = np.c_[s, s, rng.normal(size=(n, 2))]
    names = ["sig__a", "sig__b", "noise__c", "noise__d"]
    per_feature = permutation_importance_cv(LogisticRegression(), F, y, cv=3, feature_names=names).set_index("name")
    per_family = permutation_importance_cv(LogisticRegression(), F, y, cv=3, feature_names=names,
                                           by="family").set_index("name")
    fam = per_family.loc["sig", "importance_mean"]
    assert fam > 0.4  # AUC falls from ~1 to ~0.5
    for name in ("sig__a", "sig__b"):
        assert per_feature.loc[name, "importance_mean"] < fam / 3
    assert per_feature.loc[["sig__a", "sig__b"], "importance_mean"].sum() < 0.7 * fam
    assert abs(per_family.loc["noise", "importance_mean"]) < 0.02
    assert per_family.loc["sig", "n_features"] == 2
    assert per_family.attrs["importances"].shape == (2, 3 * 5)


def test_pipeline_on_items_equals_precomputed_features(demo_small):
    items, y = demo_small
    pipe = make_pipeline(features=["blur"], head="logistic")
    from_items = permutation_importance_cv(pipe, items, y, cv=3, n_repeats=2, by="family")
    prefix, rest = split_pipeline(pipe)
    fitted = clone(prefix).fit(items)
    F = fitted.transform(items)
    names = list(fitted.named_steps["features"].get_feature_names_out())
    from_matrix = permutation_importance_cv(rest, F, y, cv=3, n_repeats=2, by="family", feature_names=names)
    pd.testing.assert_frame_equal(from_items, from_matrix)
    assert from_items["name"].tolist() == ["blur"]
    assert from_items["n_features"].iloc[0] == F.shape[1]
    per_feature = permutation_importance_cv(pipe, items, y, cv=3, n_repeats=2)
    assert sorted(per_feature["name"]) == sorted(names)


def test_dataframe_columns_name_the_features():
    X, y = _linear_problem()
    df = pd.DataFrame(X, columns=["p__a", "p__b", "q__c", "q__d"])
    table = permutation_importance_cv(LogisticRegression(), df, y, cv=3, n_repeats=2, by="family")
    assert set(table["name"]) == {"p", "q"}
    assert table["name"].iloc[0] == "p"


@pytest.mark.parametrize("kwargs, match", [
    (dict(by="column"), "by must be"),
    (dict(n_repeats=0), "n_repeats"),
    (dict(feature_names=["a", "b"]), "2 names for 4"),
])
def test_invalid_arguments_raise(kwargs, match):
    X, y = _linear_problem(60)
    with pytest.raises(ValueError, match=match):
        permutation_importance_cv(LogisticRegression(), X, y, cv=3, **kwargs)


def test_images_without_a_features_step_raise():
    with pytest.raises(ValueError, match="'features' step"):
        permutation_importance_cv(LogisticRegression(), [b"x"] * 6, [0, 1] * 3, cv=3)


def test_feature_family():
    assert feature_family("noise__srm__g4") == "noise"
    assert feature_family("plain") == "plain"


# -- SHAP ------------------------------------------------------------------------------------------

def _shap_problem(n=240, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, 6))
    F[:, 5] = F[:, 0] * 0.999 + 0.001 * rng.normal(size=n)  # a near-duplicate: decorrelate drops one
    F[::7, 3] = np.nan
    y = (F[:, 2] + 0.3 * rng.normal(size=n) > 0).astype(int)
    names = ["a__x0", "a__x1", "sig__x2", "b__x3", "b__x4", "a__x5"]
    return F, y, names


def _fitted_rest(head, F, y):
    pipe = make_pipeline(features=["blur"], decorrelate=0.95, head=head)
    if head == "xgboost":
        pipe.set_params(head__n_estimators=60)
    return split_pipeline(pipe)[1].fit(F, y)


def test_tree_shap_adds_up_to_the_margin_and_finds_the_informative_feature():
    F, y, names = _shap_problem()
    rest = _fitted_rest("xgboost", F, y)
    res = shap_values(rest, F, feature_names=names, max_samples=150)
    values, base, out_names = res  # unpacks as a triple
    assert res.explainer == "tree" and res.output == "log-odds"
    assert values.shape == (150, 5) and len(out_names) == 5
    assert "a__x5" not in out_names and "sig__x2" in out_names  # the survivors of the decorrelation
    margin = rest.decision_function(F[res.index])
    np.testing.assert_allclose(base + values.sum(axis=1), margin, atol=1e-4)
    assert shap_summary(res)["name"].iloc[0] == "sig__x2"
    assert res.summary("family")["name"].iloc[0] == "sig"
    assert np.array_equal(np.unique(res.index), res.index) and res.index.size == 150


def test_permutation_shap_of_a_linear_head_is_exact():
    # For a linear model with an independent masker SHAP is coef_j * (z_j - mean background z_j).
    F, y, names = _shap_problem()
    rest = _fitted_rest("logistic", F, y)
    background = F[:40]
    res = shap_values(rest, F[40:80], feature_names=names, background=background)
    assert res.explainer == "permutation" and res.output == "log-odds"
    Z_bg = rest[:-1].transform(background)
    expected = rest[-1].coef_[0] * (res.data - Z_bg.mean(axis=0))
    np.testing.assert_allclose(res.values, expected, atol=1e-8)
    np.testing.assert_allclose(res.prediction, rest.decision_function(F[40:80]), atol=1e-8)
    assert res.summary()["name"].iloc[0] == "sig__x2"


class _Product:
    """A fitted two-feature 'classifier' whose log-odds are x0 * x1 + x0 ** 2."""

    classes_ = np.array([0, 1])

    def decision_function(self, X):
        X = np.asarray(X)
        return X[:, 0] * X[:, 1] + X[:, 0] ** 2


def test_permutation_shap_is_exact_shapley_with_two_features():
    # With two features an order and its reverse are all the orders: the estimate is exact.
    rng = np.random.default_rng(1)
    B = rng.normal(size=(7, 2))
    x = np.array([[1.5, -2.0]])
    model = _Product()
    f = model.decision_function

    def v(S):  # interventional value of the coalition S: x on S, background elsewhere
        Z = B.copy()
        Z[:, list(S)] = x[0, list(S)]
        return f(Z).mean()

    phi0 = 0.5 * ((v([0]) - v([])) + (v([0, 1]) - v([1])))
    phi1 = 0.5 * ((v([1]) - v([])) + (v([0, 1]) - v([0])))
    res = shap_values(model, x, background=B)
    np.testing.assert_allclose(res.values[0], [phi0, phi1], atol=1e-12)
    assert res.base_value == pytest.approx(f(B).mean())


def test_explain_item_lists_the_top_contributions():
    F, y, names = _shap_problem()
    rest = _fitted_rest("xgboost", F, y)
    i = int(np.argmax(np.abs(F[:, 2])))
    table = explain_item(rest, F[i], feature_names=names, top=3)
    assert len(table) == 3
    assert table["feature"].iloc[0] == "sig__x2"
    assert table["value"].iloc[0] == F[i, 2]  # the row's own (raw) value
    assert np.all(np.diff(np.abs(table["shap"])) <= 0)
    assert table.attrs["prediction"] == pytest.approx(float(rest.decision_function(F[i:i + 1])[0]), abs=1e-4)
    total = table["shap"].sum() + table.attrs["others"] + table.attrs["base_value"]
    assert total == pytest.approx(table.attrs["prediction"])
    # the same item through a ShapResult
    res = shap_values(rest, F, feature_names=names, max_samples=None)
    pd.testing.assert_frame_equal(explain_item(res, i, top=3), table, check_exact=False, atol=1e-6)


def test_explain_item_needs_background_for_model_agnostic_heads():
    F, y, names = _shap_problem()
    rest = _fitted_rest("logistic", F, y)
    with pytest.raises(ValueError, match="background"):
        explain_item(rest, F[0], feature_names=names)
    table = explain_item(rest, F[0], feature_names=names, background=F[:30], top=2)
    assert len(table) == 2


def test_shap_summary_by_family_sums_within_each_item():
    res = ShapResult(values=np.array([[1.0, -1.0, 2.0], [3.0, 1.0, 0.0]]), base_value=0.0,
                     names=["a__x", "a__y", "b__z"])
    feat = shap_summary(res).set_index("name")
    assert feat["mean_abs_shap"].to_dict() == {"a__x": 2.0, "a__y": 1.0, "b__z": 1.0}
    fam = shap_summary(res, by="family").set_index("name")
    assert fam.loc["a", "mean_abs_shap"] == 2.0  # |1 - 1| = 0 and |3 + 1| = 4
    assert fam.loc["b", "mean_abs_shap"] == 1.0
    assert fam.loc["a", "mean_shap"] == 2.0 and fam.loc["a", "n_features"] == 2
    with pytest.raises(ValueError, match="by must be"):
        shap_summary(res, by="x")


def test_shap_values_checks_its_input():
    F, y, names = _shap_problem()
    rest = _fitted_rest("xgboost", F, y)
    with pytest.raises(ValueError, match="names for 6"):
        shap_values(rest, F, feature_names=names[:3])
    with pytest.raises(ValueError, match="max_samples"):
        shap_values(rest, F, feature_names=names, max_samples=0)


# -- what the pipeline accepts; shap.Explanation ------------------------------------------------------------

def test_importance_and_shap_accept_a_feature_table_and_the_items_themselves(demo_small, tmp_path):
    """Paths, bytes and a feature table give the numbers of the precomputed feature matrix."""
    from forensics import extract_table

    items, y = demo_small
    paths = []
    for k, data in enumerate(items):
        path = tmp_path / f"{k}.jpg"
        path.write_bytes(data)
        paths.append(str(path))
    pipe = make_pipeline(features=["blur", "dctspec"], head="xgboost", head__n_estimators=20)
    table = extract_table(pd.DataFrame({"path": paths, "label": y}), features=pipe.named_steps["features"])
    prefix, rest = split_pipeline(pipe)
    F = clone(prefix).fit(items).transform(items)
    names = list(table.feature_names)
    reference = permutation_importance_cv(rest, F, y, cv=3, n_repeats=2, by="family", feature_names=names)
    pd.testing.assert_frame_equal(permutation_importance_cv(pipe, table, y, cv=3, n_repeats=2, by="family"), reference)
    pd.testing.assert_frame_equal(permutation_importance_cv(pipe, paths, y, cv=3, n_repeats=2, by="family"), reference)
    fitted = clone(pipe).fit(items, y)
    expected = shap_values(fitted, F, feature_names=names, max_samples=10)
    for X in (paths, items, table):
        got = shap_values(fitted, X, max_samples=10)
        np.testing.assert_allclose(got.values, expected.values, rtol=1e-9)
        assert got.raw_names == names and got.base_value == pytest.approx(expected.base_value)
    with pytest.raises(ValueError, match="'features' step"):
        shap_values(fitted.named_steps["head"], paths)


def test_shap_results_are_shap_explanations_for_shap_plots():
    import matplotlib

    matplotlib.use("Agg")
    import shap
    from matplotlib import pyplot as plt

    from forensics.heads import XGBoostHead

    rng = np.random.default_rng(0)
    F = rng.normal(size=(80, 3))
    head = XGBoostHead(n_estimators=20).fit(F, (F[:, 1] > 0).astype(int))
    res = shap_values(head, F, feature_names=["a__x", "b__y", "c__z"])
    e = res.explanation
    assert isinstance(e, shap.Explanation)
    np.testing.assert_array_equal(e.values, res.values)
    np.testing.assert_allclose(e.base_values, res.base_value)
    assert list(e.feature_names) == res.names and np.array_equal(e.data, res.data)
    np.testing.assert_allclose(e.base_values + e.values.sum(axis=1), res.prediction)
    for plot in (lambda: shap.plots.bar(e, show=False), lambda: shap.plots.beeswarm(e, show=False),
                 lambda: shap.plots.waterfall(e[0], show=False)):
        plot()
        assert plt.gcf().axes
        plt.close("all")
