import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

import forensics
from conftest import natural_image
from forensics import make_pipeline
from forensics.features import BlurFeatures, ForensicFeatures


def _toy(n=24, seed=0):
    """Half the images get strong additive noise: an easy, pixel-level difference."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for s in range(n):
        img = natural_image(s + 100 * seed, (40, 48))
        if s % 2:
            img = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
        X.append(img)
        y.append(s % 2)
    return X, np.array(y)


def test_by_parts_steps_and_names():
    pipe = make_pipeline(features=["blur", "spectral"], decorrelate=0.9, head="logistic")
    assert isinstance(pipe, Pipeline)
    assert [n for n, _ in pipe.steps] == ["features", "impute", "scale", "decorrelate", "head"]
    params = pipe.get_params()
    for key in ("features__spectral__n_bins", "features__blur__grid", "decorrelate__threshold", "head__C"):
        assert key in params
    assert [n for n, _ in make_pipeline(features="minimal", impute=None, scale=False).steps] == ["features", "head"]


def test_features_argument_forms():
    assert make_pipeline(features="minimal")[0].preset == "minimal"
    assert make_pipeline(features="spectral")[0].get_params()["extractors"][0][0] == "spectral"
    own = ForensicFeatures([("blur", BlurFeatures(grid=2))])
    assert make_pipeline(features=own)[0] is own
    assert make_pipeline(features=dict(families=["blur"], blur__grid=3))[0].get_params()["blur__grid"] == 3
    with pytest.raises(ValueError, match="unknown features"):
        make_pipeline(features="everything")
    with pytest.raises(TypeError, match="features must be"):
        make_pipeline(features=3)


def test_by_name_uses_the_catalogue_and_overrides():
    pipe = make_pipeline("spectrum-lr", head__C=0.25)
    assert pipe[0].select == ["spectral__azimuthal__"]
    assert pipe.get_params()["head__C"] == 0.25
    # an explicit argument overrides the catalogue's value, even when it equals the global default
    assert "decorrelate" not in dict(make_pipeline("forensic-xgb", decorrelate=None).steps)
    assert dict(make_pipeline("forensic-xgb").steps)["decorrelate"].threshold == 0.95
    # the catalogue entry is not shared with the pipelines built from it
    make_pipeline("spectrum-lr")[0].select.append("blur__")
    assert make_pipeline("spectrum-lr")[0].select == ["spectral__azimuthal__"]
    with pytest.raises(ValueError, match="unknown detector 'nope'.*spectrum-lr"):
        make_pipeline("nope")


def test_calibration_and_invalid_parts():
    pipe = make_pipeline(features=["blur"], calibration="isotonic")
    assert isinstance(pipe[-1], CalibratedClassifierCV) and pipe[-1].method == "isotonic"
    assert "head__estimator__C" in pipe.get_params()
    with pytest.raises(ValueError, match="calibration"):
        make_pipeline(calibration="platt")
    with pytest.raises(ValueError, match="decorrelate"):
        make_pipeline(decorrelate=1.5)
    with pytest.raises(ValueError, match="unknown head"):
        make_pipeline(head="svm")
    head = LogisticRegression(C=3.0)
    assert make_pipeline(head=head)[-1] is head


def test_grid_search_over_stratified_folds_reaches_nested_parameters():
    X, y = _toy()
    pipe = make_pipeline(features=["blur", "spectral"], head="logistic")
    grid = {"features__blur__grid": [2, 4], "head__C": [0.1, 1.0]}
    search = GridSearchCV(pipe, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="roc_auc")
    search.fit(X, y)
    assert set(search.best_params_) == set(grid)
    assert search.best_score_ > 0.9
    proba = search.predict_proba(X[:4])
    assert proba.shape == (4, 2) and np.allclose(proba.sum(1), 1)


@pytest.mark.parametrize("name", ["spectrum-lr", "dct-lr", "forensic-xgb", "forensic-mlp"])
def test_every_catalogued_detector_fits_and_separates_a_toy_problem(name):
    X, y = _toy(20)
    pipe = make_pipeline(name)
    if name == "forensic-mlp":
        pipe.set_params(head__max_epochs=30)
    pipe.fit(X, y)
    scores = pipe.predict_proba(X)[:, 1]
    assert scores.shape == (20,)
    assert scores[y == 1].mean() > scores[y == 0].mean()  # learnt something in the right direction
    clone(pipe)  # still a plain, clonable scikit-learn object


def test_default_grids_name_real_parameters():
    for name in forensics.estimators.names():
        spec = forensics.estimators.get(name)
        params = make_pipeline(name).get_params()
        missing = [k for k in spec.param_grid if k not in params]
        assert not missing, (name, missing)
        assert spec.input in ("image", "video") and len(spec.reference) > 20 and spec.summary
