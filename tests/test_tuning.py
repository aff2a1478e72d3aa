"""Optuna tuning on feature tables: the folds, pruning, budgets, resumable studies, refusals, refit."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from forensics import make_pipeline

optuna = pytest.importorskip("optuna")

from forensics.tuning import default_space, tune_detector  # noqa: E402


@pytest.fixture(scope="module")
def table():
    """60 small JPEGs in 20 groups, the fakes slightly blurred; the blur family extracted once."""
    import cv2

    from conftest import encode, natural_image
    from forensics import extract_table

    items = []
    for k in range(60):
        img = natural_image(k, (40, 40))
        items.append(encode(cv2.GaussianBlur(img, (0, 0), 0.7) if k % 2 else img, "JPEG", quality=90))
    manifest = pd.DataFrame({"path": [None] * 60, "item": items, "label": np.arange(60) % 2,
                             "group": np.arange(60) // 3})
    return extract_table(manifest, features=["blur"])


def _pipe():
    return make_pipeline(features=["blur"], head=LogisticRegression(l1_ratio=1.0, solver="liblinear"))


def test_trials_use_the_grouped_folds_and_a_dead_head_is_pruned(table):
    from forensics.model_selection import cross_validate_detector

    # C = 1e-4 with an L1 penalty zeroes every coefficient: constant scores, AUC 0.5 at every fold
    res = tune_detector(_pipe(), table, space={"head__C": [1e-4, 1.0]}, n_trials=12, cv=4, random_state=1)
    states = res.trials.set_index("number")["state"]
    pruned = res.trials[states.to_numpy() == "PRUNED"]
    assert len(pruned) > 0 and (pruned["params_head__C"] == 1e-4).all()
    assert res.best_params == {"head__C": 1.0} and res.metric == "roc_auc"
    # the best value is the mean held-out AUC of the same grouped folds cross_validate_detector uses (each
    # model fitted on the whole training part: no validation split, since no threshold is chosen)
    est = Pipeline(_pipe().steps[1:]).set_params(head__C=1.0)
    F, _ = table.features_for(_pipe().named_steps["features"])
    cv = cross_validate_detector(est, F, table.y, groups=table.groups, cv=4, random_state=1, threshold_rule=0.5)
    assert res.best_score == pytest.approx(cv.summary.loc["roc_auc", "mean"])
    assert res.best_model.named_steps["head"].C == 1.0


def test_a_persisted_study_resumes_to_its_total_budget_and_refuses_another_setup(table, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    space = {"head__C": {"low": 0.01, "high": 10.0, "log": True}}
    first = tune_detector(_pipe(), table, space=space, n_trials=3, cv=3, storage=storage, study_name="s",
                          prune=False, refit=False)
    assert first.n_new_trials == 3 and first.best_model is None
    again = tune_detector(_pipe(), table, space=space, n_trials=5, cv=3, storage=storage, study_name="s",
                          prune=False, refit=False)
    assert again.n_new_trials == 2 and len(again.trials) == 5
    assert again.trials["params_head__C"].iloc[:3].tolist() == first.trials["params_head__C"].tolist()
    done = tune_detector(_pipe(), table, space=space, n_trials=5, cv=3, storage=storage, study_name="s",
                         prune=False, refit=False)
    assert done.n_new_trials == 0  # the budget is the study's total
    with pytest.raises(ValueError, match="was made with space="):
        tune_detector(_pipe(), table, space={"head__C": [0.1, 1.0]}, n_trials=6, cv=3, storage=storage,
                      study_name="s")
    with pytest.raises(ValueError, match="was made with cv=3, this run has 4"):
        tune_detector(_pipe(), table, space=space, n_trials=6, cv=4, storage=storage, study_name="s")


def test_the_time_budget_stops_starting_trials(table):
    res = tune_detector(_pipe(), table, space={"head__C": {"low": 0.01, "high": 10.0}}, n_trials=1000, timeout=1.0,
                        cv=2, prune=False, refit=False)
    assert 1 <= res.n_new_trials < 1000


@pytest.mark.parametrize("space, message", [
    ({"features__spectral__n_bins": [16, 32]}, "is a feature parameter"),
    ({"head__no_such": [1, 2]}, "is not a parameter of the custom pipeline"),
    ({"head__C": 0.5}, "must be a list of values or a mapping"),
    ({"head__C": {"low": 1}}, "must be a list of values or a mapping with low, high"),
    ({}, "search space of custom is empty"),
])
def test_bad_spaces_are_refused(space, message, table):
    with pytest.raises(ValueError, match=message):
        tune_detector(_pipe(), table, space=space, n_trials=1, cv=2)


def test_metric_must_fit_the_table(table):
    with pytest.raises(ValueError, match="needs a frame-level table"):
        tune_detector(_pipe(), table, space={"head__C": [1.0]}, metric="video_roc_auc", n_trials=1, cv=2)
    with pytest.raises(ValueError, match="metric must be one of"):
        tune_detector(_pipe(), table, space={"head__C": [1.0]}, metric="accuracy", n_trials=1, cv=2)


def test_default_space_is_the_catalogue_grid_after_the_features():
    assert default_space("forensic-xgb") == {"head__max_depth": [3, 4, 6], "head__n_estimators": [200, 400],
                                             "head__learning_rate": [0.03, 0.1]}
    assert "features__spectral__n_bins" not in default_space("spectrum-lr")
    assert set(default_space("spectrum-lr")) == {"head__C"}
    assert make_pipeline("spectrum-lr").get_params()["head__C"] == 1.0
