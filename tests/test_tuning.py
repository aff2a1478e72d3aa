"""Optuna tuning on feature tables: the folds, pruning, budgets, resumable studies, refusals, refit."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from forensics import make_pipeline

optuna = pytest.importorskip("optuna")

from forensics.tuning import default_space, tune_detector  # noqa: E402


def _table(flip=()):
    """60 small JPEGs in 20 groups, the fakes slightly blurred (labels ``flip`` swapped); the blur family."""
    import cv2

    from conftest import encode, natural_image
    from forensics import extract_table

    items = []
    for k in range(60):
        img = natural_image(k, (40, 40))
        items.append(encode(cv2.GaussianBlur(img, (0, 0), 0.7) if k % 2 else img, "JPEG", quality=90))
    labels = np.arange(60) % 2
    labels[list(flip)] ^= 1
    manifest = pd.DataFrame({"path": [None] * 60, "item": items, "label": labels, "group": np.arange(60) // 3})
    return extract_table(manifest, features=["blur"], progress=False)


@pytest.fixture(scope="module")
def table():
    return _table()


def _pipe():
    return make_pipeline(features=["blur"], head=LogisticRegression(l1_ratio=1.0, solver="liblinear"))


def test_trials_use_the_grouped_folds_and_a_dead_head_is_pruned(table):
    from forensics.model_selection import cross_validate_detector

    # C <= 1e-3 with an L1 penalty zeroes every coefficient: constant scores, AUC 0.5 at every fold; the
    # grid's seeded order (random_state=0) is 1, 1e-3, 10, 3, 1e-5, 1e-4: past the median pruner's 3
    # start-up trials (where 1e-3 completes), the two dead heads left fall behind the median at fold 1
    dead, live = [1e-5, 1e-4, 1e-3], [1.0, 3.0, 10.0]
    res = tune_detector(_pipe(), table, space={"head__C": dead + live}, n_trials=12, cv=4, random_state=0)
    pruned = res.trials[res.trials["state"].to_numpy() == "PRUNED"]
    assert sorted(pruned["params_head__C"]) == dead[:2] and (pruned["value"] == 0.5).all()
    assert len(res.trials) == 6 and res.trials.loc[res.trials["params_head__C"] == 1e-3, "state"].item() == "COMPLETE"
    assert res.best_params["head__C"] in live and res.metric == "roc_auc"
    # the best value is the mean held-out AUC of the same grouped folds cross_validate_detector uses (each
    # model fitted on the whole training part: no validation split, since no threshold is chosen)
    est = Pipeline(_pipe().steps[1:]).set_params(**res.best_params)
    F, _ = table.features_for(_pipe().named_steps["features"])
    cv = cross_validate_detector(est, F, table.y, groups=table.groups, cv=4, random_state=0, threshold_rule=0.5)
    assert res.best_score == pytest.approx(cv.summary.loc["roc_auc", "mean"])
    assert res.best_model.named_steps["head"].C == res.best_params["head__C"]


def test_a_trial_that_ran_every_fold_completes_instead_of_being_pruned():
    # labels of 10 items flipped (seed 0): the running mean AUCs differ between settings, and with 2
    # folds the median pruner would prune 4 of 12 trials after their last fold, discarding computed values
    noisy = _table(flip=np.random.default_rng(0).choice(60, 10, replace=False))
    res = tune_detector(_pipe(), noisy, space={"head__C": {"low": 1e-2, "high": 10.0, "log": True}}, n_trials=12,
                        cv=2, random_state=0, refit=False, progress=False)
    states = {t.number: (t.state.name, len(t.intermediate_values)) for t in res.study.trials}
    assert all(state == "COMPLETE" for state, n_folds in states.values() if n_folds == 2)
    assert any(state == "PRUNED" for state, _ in states.values())  # the pruner still stops trials early
    assert all(n_folds == 1 for state, n_folds in states.values() if state == "PRUNED")


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


def test_a_finite_grid_the_budget_covers_is_tried_setting_by_setting_without_repeats(table):
    # TPE drew C in {0.1, 10, 0.01} three times each from this grid and never 1.0, pruning repeats
    grid = [0.01, 0.1, 1.0, 10.0]
    res = tune_detector(_pipe(), table, space={"head__C": grid}, n_trials=9, cv=3, refit=False)
    assert res.n_grid == 4 and res.n_new_trials == 4 and len(res.trials) == 4
    assert sorted(res.trials["params_head__C"]) == grid  # each setting once; the study stops there
    assert not res.trials["params_head__C"].duplicated().any()  # so no repeat is pruned either
    # two parameters: the product of the lists (an int range counts as finite), each pair once
    space = {"head__C": [0.1, 1.0], "head__max_iter": {"low": 50, "high": 52}}
    res = tune_detector(_pipe(), table, space=space, n_trials=6, cv=3, prune=False, refit=False)
    pairs = list(zip(res.trials["params_head__C"], res.trials["params_head__max_iter"]))
    assert res.n_grid == 6 and sorted(pairs) == [(c, m) for c in (0.1, 1.0) for m in (50, 51, 52)]
    # a budget one short of the grid is TPE's (n_grid None), a continuous range too
    assert tune_detector(_pipe(), table, space=space, n_trials=5, cv=3, prune=False, refit=False).n_grid is None
    assert tune_detector(_pipe(), table, space={"head__C": {"low": 0.1, "high": 1.0}}, n_trials=2, cv=3,
                         prune=False, refit=False).n_grid is None


def test_a_resumed_study_queues_only_the_settings_it_has_not_tried(table, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    grid = [0.01, 0.1, 1.0, 10.0]
    first = tune_detector(_pipe(), table, space={"head__C": grid}, n_trials=2, cv=3, storage=storage,
                          study_name="g", prune=False, refit=False)
    assert first.n_grid is None and first.n_new_trials == 2  # TPE: the budget does not cover the grid
    seen = set(first.trials["params_head__C"])
    again = tune_detector(_pipe(), table, space={"head__C": grid}, n_trials=9, cv=3, storage=storage,
                          study_name="g", prune=False, refit=False)
    assert again.n_grid == 4 and again.n_new_trials == 4 - len(seen)
    assert set(again.trials["params_head__C"].iloc[2:]) == set(grid) - seen
    done = tune_detector(_pipe(), table, space={"head__C": grid}, n_trials=12, cv=3, storage=storage,
                         study_name="g", prune=False, refit=False)
    assert done.n_new_trials == 0 and len(done.trials) == len(again.trials)  # nothing left to try


def test_a_setting_drawn_again_reuses_the_complete_trial_instead_of_running_or_pruning_it(table, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    space = {"head__C": [0.01, 0.1, 1.0]}
    first = tune_detector(_pipe(), table, space=space, n_trials=1, cv=3, storage=storage, study_name="r",
                          refit=False)
    c = first.trials["params_head__C"].iloc[0]
    optuna.load_study(study_name="r", storage=storage).enqueue_trial({"head__C": c})  # the same setting again
    again = tune_detector(_pipe(), table, space=space, n_trials=2, cv=3, storage=storage, study_name="r",
                          refit=False)
    second = again.study.trials[1]
    assert again.n_grid is None and second.params == {"head__C": c}
    assert second.state.name == "COMPLETE" and second.user_attrs["repeat_of"] == 0
    assert second.value == again.study.trials[0].value and not second.intermediate_values  # no fold was run


def test_a_finite_grid_keeps_settings_that_compare_equal_apart():
    # 1, True and 1.0 are three settings of a list (dict.fromkeys merged them into one: two never tried);
    # the same value twice is one; a list value is taken as a tuple
    from forensics.tuning._optuna import _finite_grid

    assert _finite_grid({"a": [1, True, 1.0, 2, 2]}, 100) == [{"a": 1}, {"a": True}, {"a": 1.0}, {"a": 2}]
    assert _finite_grid({"a": [[1, 2], (1, 2), None]}, 100) == [{"a": (1, 2)}, {"a": None}]
    assert _finite_grid({"a": [1, 2, 3]}, 2) is None  # more settings than the budget: sampled
