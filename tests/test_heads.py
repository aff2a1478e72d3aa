"""Classifier heads: the scikit-learn contract, learning, imbalance, early stopping, NaN, pickling."""

import importlib.util
import pickle
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from forensics.heads import MLPHead, XGBoostHead
from forensics.heads._xgboost import _validation_split

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (optional extra scikit-forensics[torch])")

CHECKED = [
    XGBoostHead(n_estimators=20),
    XGBoostHead(n_estimators=20, early_stopping_rounds=5, validation_fraction=0.2),
    MLPHead(backend="sklearn", hidden_layer_sizes=(8,), learning_rate=0.01, max_epochs=20),
]
if HAS_TORCH:
    CHECKED.append(MLPHead(backend="torch", hidden_layer_sizes=(8,), learning_rate=0.01, max_epochs=20))


@parametrize_with_checks(CHECKED)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _separable(n=300, seed=0, p=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def _noise(n=300, seed=1, p=10, positive_rate=0.5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, p)), (rng.random(n) < positive_rate).astype(int)


def _small_mlp(**kw):
    return MLPHead(**{"hidden_layer_sizes": (16,), "learning_rate": 0.01, "max_epochs": 60, **kw})


HEADS = {
    "xgboost": lambda **kw: XGBoostHead(n_estimators=60, **kw),
    "mlp-sklearn": lambda **kw: _small_mlp(backend="sklearn", **kw),
    "mlp-torch": pytest.param(lambda **kw: _small_mlp(backend="torch", **kw), marks=needs_torch),
}


@pytest.mark.parametrize("make", HEADS.values(), ids=HEADS.keys())
def test_learns_a_separable_problem(make):
    X, y = _separable()
    head = make().fit(X[:200], y[:200])
    proba = head.predict_proba(X[200:])
    assert roc_auc_score(y[200:], proba[:, 1]) > 0.95
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # decision_function is the logit of predict_proba[:, 1]; predict thresholds it at 0
    z = head.decision_function(X[200:])
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), proba[:, 1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(head.predict(X[200:]), (z > 0).astype(int))


@pytest.mark.parametrize("make", HEADS.values(), ids=HEADS.keys())
def test_pickle_round_trip_and_determinism(make):
    X, y = _separable(n=120)
    head = make().fit(X, y)
    restored = pickle.loads(pickle.dumps(head))
    np.testing.assert_array_equal(restored.predict_proba(X), head.predict_proba(X))
    np.testing.assert_array_equal(make().fit(X, y).predict_proba(X), head.predict_proba(X))
    other = make(random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(other, head.predict_proba(X))  # the seed is actually used


@pytest.mark.parametrize("make", [HEADS["xgboost"], HEADS["mlp-sklearn"]], ids=["xgboost", "mlp-sklearn"])
def test_skops_round_trip(make):
    sio = pytest.importorskip("skops.io")
    X, y = _separable(n=120)
    head = make().fit(X, y)
    data = sio.dumps(head)
    restored = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    np.testing.assert_array_equal(restored.predict_proba(X), head.predict_proba(X))


@pytest.mark.parametrize("make", HEADS.values(), ids=HEADS.keys())
def test_binary_only_and_string_labels(make):
    X, y = _separable(n=90)
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        make().fit(X, np.arange(90) % 3)
    labels = np.array(["real", "fake"])[y]
    head = make().fit(X, labels)
    assert head.classes_.tolist() == ["fake", "real"]  # classes_[1] is the positive class
    assert set(head.predict(X)) <= {"fake", "real"}
    assert (head.predict(X) == labels).mean() > 0.9


# -- XGBoostHead ---------------------------------------------------------------------------------
def test_xgboost_balanced_scale_pos_weight_is_the_class_ratio():
    X, y = _noise(n=200, positive_rate=0.15)
    n_pos = int(y.sum())
    assert 0 < n_pos < 60
    head = XGBoostHead(n_estimators=5).fit(X, y)
    assert head.scale_pos_weight_ == pytest.approx((200 - n_pos) / n_pos)
    assert head.model_.get_params()["scale_pos_weight"] == pytest.approx((200 - n_pos) / n_pos)
    assert XGBoostHead(n_estimators=5, scale_pos_weight=None).fit(X, y).scale_pos_weight_ == 1.0
    assert XGBoostHead(n_estimators=5, scale_pos_weight=2.5).fit(X, y).model_.get_params()["scale_pos_weight"] == 2.5


def test_xgboost_class_weight_shifts_the_probabilities():
    X, y = _noise(n=300, positive_rate=0.15)
    balanced = XGBoostHead(n_estimators=30).fit(X, y).predict_proba(X)[:, 1].mean()
    plain = XGBoostHead(n_estimators=30, scale_pos_weight=None).fit(X, y).predict_proba(X)[:, 1].mean()
    assert plain < 0.3 < balanced  # unweighted tracks the 15% prior; balanced pulls towards 0.5


def test_xgboost_early_stopping_records_best_iteration():
    X, y = _noise(n=300)  # labels are noise: validation loss only gets worse after a few trees
    head = XGBoostHead(n_estimators=300, max_depth=6, learning_rate=0.3, early_stopping_rounds=10).fit(X, y)
    assert head.best_iteration_ is not None and head.best_iteration_ < 100
    assert head.best_iteration_ == head.model_.best_iteration
    assert head.model_.get_booster().num_boosted_rounds() == head.best_iteration_ + 10 + 1
    assert XGBoostHead(n_estimators=5).fit(X, y).best_iteration_ is None
    # balanced weight counted on the training part only (stratified: same 85% share of each class)
    X_train, _, y_train, _ = _validation_split(head, X, y)
    assert y_train.size == 300 - 45
    assert head.scale_pos_weight_ == pytest.approx((y_train.size - y_train.sum()) / y_train.sum())


def test_xgboost_uses_nan_as_information():
    X, y = _noise(n=200, seed=4)
    X[y == 1, 0] = np.nan  # only missingness carries the label
    head = XGBoostHead(n_estimators=20).fit(X, y)
    assert (head.predict(X) == y).all()
    assert np.argmax(head.feature_importances_) == 0
    assert head.feature_importances_.shape == (10,)


def test_xgboost_missing_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)
    X, y = _separable(n=40)
    with pytest.raises(ImportError, match=r'scikit-forensics\[xgboost\]".*scikit-forensics\[xgboost-cpu\]'):
        XGBoostHead().fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [({"n_estimators": 0}, "n_estimators"), ({"learning_rate": 0.0}, "learning_rate"),
     ({"subsample": 1.5}, "subsample"), ({"scale_pos_weight": "auto"}, "scale_pos_weight"),
     ({"scale_pos_weight": -1.0}, "scale_pos_weight"), ({"early_stopping_rounds": 0}, "early_stopping_rounds"),
     ({"validation_fraction": 1.0}, "validation_fraction"), ({"max_depth": 2.5}, "max_depth")],
)
def test_xgboost_invalid_params_raise_at_fit(params, match):
    head = XGBoostHead(**params)
    with pytest.raises((ValueError, TypeError), match=match):
        head.fit(*_separable(n=40))


# -- MLPHead -------------------------------------------------------------------------------------
MLP_BACKENDS = ["sklearn", pytest.param("torch", marks=needs_torch)]


def test_mlp_auto_backend_and_missing_torch(monkeypatch):
    X, y = _separable(n=60)
    expected = "torch" if HAS_TORCH else "sklearn"
    assert _small_mlp(max_epochs=2).fit(X, y).backend_ == expected
    monkeypatch.setitem(sys.modules, "torch", None)
    assert _small_mlp(max_epochs=2).fit(X, y).backend_ == "sklearn"
    with pytest.raises(ImportError, match=r"scikit-forensics\[torch\]"):
        _small_mlp(backend="torch").fit(X, y)


@pytest.mark.parametrize("backend", MLP_BACKENDS)
def test_mlp_rejects_nan(backend):
    X, y = _separable(n=60)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _small_mlp(backend=backend).fit(X, y)
    head = _small_mlp(backend=backend, max_epochs=2).fit(np.nan_to_num(X), y)
    with pytest.raises(ValueError, match="NaN"):
        head.predict(X)


def _weighted_bce(head, X, y01, y_all):
    """The class-weighted validation loss, with "balanced" weights counted on all of y."""
    z = head.decision_function(X)
    w = y_all.size / (2.0 * np.bincount(y_all))
    return np.mean(w[y01] * (np.logaddexp(0.0, z) - y01 * z))


@pytest.mark.parametrize("backend", MLP_BACKENDS)
def test_mlp_early_stopping_restores_the_best_weights(backend):
    X, y = _noise(n=200, p=20)  # a wide net on noise labels overfits: validation loss rises
    head = MLPHead(hidden_layer_sizes=(64, 64), learning_rate=0.01, max_epochs=200, patience=5,
                   dropout=0.0, backend=backend).fit(X, y)
    curve = head.validation_loss_curve_
    assert head.best_epoch_ == int(np.argmin(curve))
    assert head.n_epochs_ == head.best_epoch_ + 5 + 1 < 200  # stopped after `patience` bad epochs
    assert len(head.loss_curve_) == head.n_epochs_
    _, X_val, _, y_val = _validation_split(head, X, y)
    assert X_val.shape[0] == 20
    # the restored weights are the best epoch's: their validation loss is the curve's minimum
    np.testing.assert_allclose(_weighted_bce(head, X_val, y_val, y), min(curve), rtol=1e-4)
    assert min(curve) < curve[-1]

    full = MLPHead(hidden_layer_sizes=(8,), max_epochs=7, early_stopping=False, backend=backend).fit(X, y)
    assert full.n_epochs_ == 7 and full.best_epoch_ is None and full.validation_loss_curve_ is None


@pytest.mark.parametrize("backend", MLP_BACKENDS)
def test_mlp_class_weight_shifts_the_probabilities(backend):
    X, y = _noise(n=300, p=4, positive_rate=0.15)
    kw = {"hidden_layer_sizes": (8,), "learning_rate": 0.01, "max_epochs": 30, "early_stopping": False,
          "backend": backend}
    balanced = MLPHead(**kw).fit(X, y).predict_proba(X)[:, 1].mean()
    plain = MLPHead(class_weight=None, **kw).fit(X, y).predict_proba(X)[:, 1].mean()
    assert plain < 0.3 < balanced


@pytest.mark.parametrize(
    "params, match",
    [({"hidden_layer_sizes": ()}, "hidden_layer_sizes"), ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes"),
     ({"dropout": 1.0}, "dropout"), ({"learning_rate": 0}, "learning_rate"), ({"batch_size": 0}, "batch_size"),
     ({"class_weight": "auto"}, "class_weight"), ({"backend": "jax"}, "backend"), ({"patience": 0}, "patience"),
     ({"class_weight": {7: 2.0}}, "class_weight")],
)
def test_mlp_invalid_params_raise_at_fit(params, match):
    head = MLPHead(**{"backend": "sklearn", "max_epochs": 2, **params})
    with pytest.raises((ValueError, TypeError), match=match):
        head.fit(*_separable(n=40))


# -- torch only ----------------------------------------------------------------------------------
@needs_torch
def test_torch_architecture_and_rng_isolation():
    import torch

    X, y = _separable(n=65)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    # 65 rows, no validation, batch 64: the trailing single row joins the previous batch (BatchNorm)
    head = MLPHead(hidden_layer_sizes=(16, 8), early_stopping=False, max_epochs=3, backend="torch").fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)  # global RNG untouched
    assert torch.get_num_threads() == threads  # thread count restored after the single-threaded fit
    kinds = [type(m).__name__ for m in head.model_]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert [m.out_features for m in head.model_ if isinstance(m, torch.nn.Linear)] == [16, 8, 1]
    assert not head.model_.training
    bare = MLPHead(hidden_layer_sizes=(16,), dropout=0.0, batch_norm=False, max_epochs=1, backend="torch").fit(X, y)
    assert [type(m).__name__ for m in bare.model_] == ["Linear", "ReLU", "Linear"]


@pytest.mark.parametrize("layout", [dict(), dict(hidden_layer_sizes=(7,), dropout=0.0, batch_norm=False)])
def test_torch_mlp_head_round_trips_through_skops_and_pickle(tmp_path, layout):
    """The torch network is saved as plain weight bytes (skops cannot hold torch tensors) and rebuilt
    with its own layout; the loaded head gives the same probabilities."""
    pytest.importorskip("torch")
    import pickle

    from forensics import load, save
    from forensics.heads import MLPHead

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    head = MLPHead(backend="torch", max_epochs=5, random_state=0, **layout).fit(X, y)
    loaded = load(save(head, tmp_path / "head.skops"))
    np.testing.assert_array_equal(loaded.predict_proba(X), head.predict_proba(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(head)).predict_proba(X), head.predict_proba(X))
    assert type(loaded.model_).__name__ == "Sequential"
    assert len(list(loaded.model_)) == len(list(head.model_))
