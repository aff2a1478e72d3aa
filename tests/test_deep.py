"""forensics.deep: trainable image classifier, temporal head over frame embeddings, augmentation."""

import io
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import forensics
from conftest import encode, natural_image
from forensics import make_pipeline
from forensics.deep import (BackboneClassifier, TemporalHead, augment_image, hflip, jpeg_recompress, random_crop,
                            sequences_from_frames)
from forensics.heads._xgboost import _validation_split
from forensics.media import ItemError


@pytest.fixture(autouse=True)
def _one_thread():
    """Keep torch single-threaded in these tests: on a busy 2-core CI machine, intra-op threads spin
    and make the tiny networks 5-8x slower (the estimators themselves leave the setting alone)."""
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _checkerboard_toy(n, seed, size=48, amplitude=12):
    """Natural-looking images; class 1 (fake) has a faint +-amplitude pixel checkerboard added,
    the trace a transposed-convolution upsampler leaves."""
    yy, xx = np.mgrid[:size, :size]
    board = np.where((yy + xx) % 2 == 0, 1.0, -1.0)[:, :, None]
    X, y = [], []
    for k in range(n):
        img = natural_image(seed * 1000 + k, (size, size)).astype(np.float64)
        label = k % 2
        if label:
            img = img + amplitude * board
        X.append(np.clip(img, 0, 255).astype(np.uint8))
        y.append(label)
    return X, np.array(y)


def _small(**kw):
    params = dict(model_name="cnn-small", weights=None, input_size=48, frozen_epochs=0, epochs=4, batch_size=16,
                  lr_backbone=1e-3, patience=10)
    params.update(kw)
    return BackboneClassifier(**params)


@pytest.fixture(scope="module")
def fitted_cnn():
    pytest.importorskip("torch")
    X, y = _checkerboard_toy(64, seed=1)
    return _small(epochs=3).fit(X, y)


# -- augmentation --------------------------------------------------------------------------------------

def test_hflip_is_exact():
    img = np.arange(2 * 3 * 3).reshape(2, 3, 3).astype(np.uint8)
    out = hflip(img)
    np.testing.assert_array_equal(out[:, 0], img[:, 2])
    np.testing.assert_array_equal(out[:, 2], img[:, 0])
    np.testing.assert_array_equal(hflip(out), img)
    assert out.dtype == img.dtype and out.flags["C_CONTIGUOUS"]


def test_random_crop_is_a_grid_window_of_at_least_min_scale():
    h, w = 50, 40
    img = np.arange(h * w).reshape(h, w)  # unique values: a crop's first pixel gives its offset
    rng = np.random.default_rng(0)
    sizes = set()
    for _ in range(50):
        crop = random_crop(img, rng, min_scale=0.9)
        ch, cw = crop.shape
        assert 45 <= ch <= 50 and 36 <= cw <= 40
        top, left = divmod(int(crop[0, 0]), w)
        np.testing.assert_array_equal(crop, img[top:top + ch, left:left + cw])  # no interpolation
        sizes.add((ch, cw))
    assert len(sizes) > 5  # the size really varies
    assert random_crop(img, rng, min_scale=1.0).shape == (h, w)
    with pytest.raises(ValueError, match="min_scale"):
        random_crop(img, rng, min_scale=0)


def test_jpeg_recompress_changes_pixels_keeps_shape_and_dtype():
    rgb = natural_image(3, (40, 56))
    out = jpeg_recompress(rgb, 70)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert not np.array_equal(out, rgb)
    # the same picture a JPEG re-save gives (PIL's libjpeg at the same quality: equal here), with the
    # chroma computed from the right channels (encoding the BGR view instead gives other pixels)
    pil = np.asarray(Image.open(io.BytesIO(encode(rgb, "JPEG", quality=70))))
    assert np.abs(out.astype(float) - pil).mean() < 0.5
    swapped = jpeg_recompress(np.ascontiguousarray(rgb[..., ::-1]), 70)[..., ::-1]
    assert np.abs(swapped.astype(float) - pil).mean() > 2
    # lower quality loses more
    assert np.abs(jpeg_recompress(rgb, 30).astype(float) - rgb).mean() > np.abs(out.astype(float) - rgb).mean()
    f = rgb.astype(np.float32)
    out_f = jpeg_recompress(f, 90)
    assert out_f.dtype == np.float32 and out_f.shape == f.shape
    gray = rgb[:, :, 0]
    assert jpeg_recompress(gray, 80).shape == gray.shape
    with pytest.raises(ValueError, match="quality"):
        jpeg_recompress(rgb, 0)


def test_augment_image_is_seeded_and_touches_no_colour():
    img = natural_image(4, (48, 48))
    a = augment_image(img, np.random.default_rng(5))
    np.testing.assert_array_equal(a, augment_image(img, np.random.default_rng(5)))
    outs = [augment_image(img, np.random.default_rng(s)) for s in range(8)]
    assert any(o.shape != outs[0].shape or not np.array_equal(o, outs[0]) for o in outs[1:])
    # without JPEG and crop, the only change is an exact flip: every pixel value is kept
    for s in range(6):
        out = augment_image(img, np.random.default_rng(s), jpeg_probability=0, crop_scale=None)
        assert np.array_equal(out, img) or np.array_equal(out, img[:, ::-1])
    # keep_size: same shape, and the crop sits unchanged inside the canvas (a shift, no resampling)
    unique = np.arange(48 * 48 * 3, dtype=np.float32).reshape(48, 48, 3)
    for s in range(4):
        out = augment_image(unique, np.random.default_rng(s), jpeg_probability=0, flip=False, keep_size=True)
        assert out.shape == unique.shape
        sy, sx = divmod(int(out[24, 24, 0]) // 3, 48)  # where the centre pixel came from
        dy, dx = sy - 24, sx - 24
        np.testing.assert_array_equal(out[5:43, 5:43], unique[5 + dy:43 + dy, 5 + dx:43 + dx])


# -- BackboneClassifier -----------------------------------------------------------------------------------

def test_backbone_learns_a_checkerboard_trace(fitted_cnn):
    X_test, y_test = _checkerboard_toy(40, seed=2)
    proba = fitted_cnn.predict_proba(X_test)
    assert proba.shape == (40, 2) and np.allclose(proba.sum(1), 1)
    auc = roc_auc_score(y_test, proba[:, 1])
    assert auc > 0.8, auc
    assert list(fitted_cnn.classes_) == [0, 1]
    np.testing.assert_array_equal(fitted_cnn.predict(X_test), (fitted_cnn.decision_function(X_test) > 0).astype(int))
    assert fitted_cnn.score(X_test, y_test) == pytest.approx(np.mean(fitted_cnn.predict(X_test) == y_test))
    hist = fitted_cnn.history_
    assert len(hist) == fitted_cnn.n_epochs_ == 3 and [h["phase"] for h in hist] == [2] * 3
    assert fitted_cnn.data_config_["input_size"] == (3, 48, 48)


def test_predictions_are_deterministic_and_pickle_keeps_the_weights(fitted_cnn, tmp_path):
    X, _ = _checkerboard_toy(6, seed=3)
    before = fitted_cnn.predict_proba(X)
    np.testing.assert_array_equal(fitted_cnn.predict_proba(X), before)
    blob = pickle.dumps(fitted_cnn)
    restored = pickle.loads(blob)
    assert "_net" not in restored.__dict__ and isinstance(restored.__dict__["_weights"], bytes)  # lazy
    np.testing.assert_array_equal(restored.predict_proba(X), before)
    assert "_net" in restored.__dict__  # model_ rebuilt on first use
    # the rebuilt network is the trained one, parameter for parameter
    for (k, a), (k2, b) in zip(fitted_cnn.model_.state_dict().items(), restored.model_.state_dict().items()):
        assert k == k2 and bool((a.cpu() == b).all()), k
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(restored)).predict_proba(X), before)
    path = forensics.save(fitted_cnn, tmp_path / "cnn.skops")  # safe format: the weights are plain bytes
    np.testing.assert_array_equal(forensics.load(path).predict_proba(X), before)
    twin = clone(fitted_cnn)
    assert not hasattr(twin, "classes_") and twin.get_params() == fitted_cnn.get_params()


def test_fit_is_repeatable_with_a_seed(torch):
    X, y = _checkerboard_toy(24, seed=4)
    a = _small(epochs=1).fit(X, y)
    b = _small(epochs=1).fit(X, y)
    np.testing.assert_array_equal(a.decision_function(X[:4]), b.decision_function(X[:4]))
    assert _untimed(a.history_) == _untimed(b.history_)


def _untimed(history):
    """The history without its wall-clock columns (the only ones that may differ between two runs)."""
    return [{k: v for k, v in row.items() if k not in ("time_s", "train_s")} for row in history]


def _capture_initial_network(monkeypatch):
    """Record a copy of the network's weights right after it is built inside fit."""
    import copy

    import forensics.deep._classifier as module

    built = {}
    original = module._build_network

    def spy(*args, **kwargs):
        net, config = original(*args, **kwargs)
        built["state"] = copy.deepcopy(net.state_dict())
        return net, config

    monkeypatch.setattr(module, "_build_network", spy)
    return built


def _changed(state_a, state_b, prefix):
    keys = [k for k in state_a if k.startswith(prefix)]
    assert keys
    return {k for k in keys if not bool((state_a[k] == state_b[k]).all())}


def _one_step_delta(monkeypatch, **kw):
    """Each weight after one optimiser step (one batch holds every image) minus its initial value."""
    built = _capture_initial_network(monkeypatch)
    X, y = _checkerboard_toy(16, seed=8, size=32)
    clf = _small(epochs=1, batch_size=16, weight_decay=0.0, scheduler="constant", validation_fraction=None,
                 augment=False, input_size=32, **kw).fit(X, y)
    after = dict(clf.model_.named_parameters())  # weights only: BatchNorm statistics move without gradients
    return {k: after[k].detach().double() - built["state"][k].double() for k in after}


def test_backbone_classifier_max_grad_norm_clips_the_update_and_defaults_to_off(monkeypatch, torch, clip_calls):
    base = _one_step_delta(monkeypatch)
    assert max(float(d.abs().max()) for d in base.values()) > 1e-4  # one Adam step moves the weights
    assert _small().max_grad_norm is None
    loose = _one_step_delta(monkeypatch, max_grad_norm=1e9)  # above every gradient norm: nothing changes
    assert all(torch.equal(loose[k], base[k]) for k in base)
    calls = clip_calls
    calls.clear()  # the runs above called it with the loose bound
    tight = _one_step_delta(monkeypatch, max_grad_norm=1e-12)
    assert len(calls) == 1 and calls[0][0] == 1e-12
    assert calls[0][1] > 1e-6 and calls[0][2] <= 1e-12 * 1.0001  # the global norm brought down to the bound
    moved = [k for k in base if float(base[k].abs().max()) > 0]
    assert max(float(tight[k].abs().max()) for k in moved) < 0.01 * max(float(base[k].abs().max()) for k in moved)
    calls.clear()
    _one_step_delta(monkeypatch)
    assert calls == []  # no bound: never called


@pytest.mark.parametrize("bad, error", [(0.0, ValueError), (-1.0, ValueError), (float("inf"), ValueError),
                                        (float("nan"), ValueError), ("1", TypeError), (True, TypeError)])
@pytest.mark.parametrize("make", [lambda g: _small(max_grad_norm=g), lambda g: TemporalHead(max_grad_norm=g)])
def test_max_grad_norm_refusals(bad, error, make, torch):
    X, y = _checkerboard_toy(8, seed=3, size=32)
    if isinstance(make(None), TemporalHead):
        X = [np.zeros((4, 2)) + k for k in range(8)]
    with pytest.raises(error, match="max_grad_norm"):
        make(bad).fit(X, y)


def test_temporal_head_clips_at_one_by_default_and_can_stop(clip_calls):
    X = [np.random.default_rng(k).normal(0, 1, (6, 3)) + (k % 2) for k in range(12)]
    y = np.arange(12) % 2
    kw = dict(hidden_size=4, epochs=1, batch_size=12, validation_fraction=None)
    assert TemporalHead().max_grad_norm == 1.0
    for bound, want in ((1.0, [1.0]), (None, []), (0.5, [0.5])):  # the default, off, another bound
        clip_calls.clear()
        TemporalHead(**kw).fit(X, y) if bound == 1.0 else TemporalHead(max_grad_norm=bound, **kw).fit(X, y)
        assert [c[0] for c in clip_calls] == want


def test_phase_one_freezes_the_backbone_and_trains_the_head(monkeypatch, torch):
    pytest.importorskip("timm")
    built = _capture_initial_network(monkeypatch)
    X, y = _checkerboard_toy(24, seed=5, size=32)
    kw = dict(model_name="test_efficientnet", weights=None, input_size=32, batch_size=8, validation_fraction=None,
              lr_head=1e-2, lr_backbone=1e-2)
    frozen = BackboneClassifier(frozen_epochs=1, epochs=1, **kw).fit(X, y)
    after = frozen.model_.state_dict()
    # weights AND BatchNorm running statistics of the backbone are untouched; the head moved
    assert not _changed(built["state"], after, "backbone.")
    assert _changed(built["state"], after, "head.") == {"head.weight", "head.bias"}
    assert [h["phase"] for h in frozen.history_] == [1] and frozen.history_[0]["lr_backbone"] == 0.0
    assert all(p.requires_grad for p in frozen.model_.parameters())  # unfrozen again after fit

    both = BackboneClassifier(frozen_epochs=1, epochs=2, **kw).fit(X, y)
    assert [h["phase"] for h in both.history_] == [1, 2]
    assert both.history_[1]["lr_backbone"] == 1e-2 and both.history_[1]["lr_head"] == 1e-2
    assert len(_changed(built["state"], both.model_.state_dict(), "backbone.")) > 10  # phase 2 trains it
    # the warm-up starts again with each phase: 3 steps an epoch, warmup_epochs=2: the first step of each at 1/6
    warmed = BackboneClassifier(frozen_epochs=1, epochs=2, warmup_epochs=2, **kw).fit(X, y)
    assert [h["lr_head"] for h in warmed.history_] == pytest.approx([1e-2 / 6, 1e-2 / 6])
    assert warmed.history_[1]["lr_backbone"] == pytest.approx(1e-2 / 6)


def test_early_stopping_restores_the_best_epoch(monkeypatch, torch):
    import forensics.deep._training as module

    aucs = iter([0.70, 0.90, 0.80, 0.85, 0.6, 0.6, 0.6])
    real_auc = module.binary_auc
    # the 6 validation images get the scripted AUCs; the training batches keep their real AUC
    monkeypatch.setattr(module, "binary_auc", lambda y, s: next(aucs) if len(y) == 6 else real_auc(y, s))
    X, y = _checkerboard_toy(40, seed=6, size=32)
    clf = _small(input_size=32, epochs=10, patience=2, lr_backbone=3e-3).fit(X, y)
    # best AUC at epoch 1; epochs 2 and 3 do not beat it -> stop after epoch 3
    assert clf.n_epochs_ == 4 and clf.best_epoch_ == 1 and clf.best_score_ == 0.90
    assert [h["val_auc"] for h in clf.history_] == [0.70, 0.90, 0.80, 0.85]
    # the kept weights are those of epoch 1: their validation loss is the one recorded then
    _, idx_val = (np.sort(a) for a in _validation_split(clf, np.arange(len(X)), y)[:2])
    z = clf.decision_function([X[i] for i in idx_val])
    yv = y[idx_val]
    val_loss = float(np.mean(np.logaddexp(0, z) - yv * z))  # 17 + 17 training images: both classes weigh 1
    assert val_loss == pytest.approx(clf.history_[1]["val_loss"], rel=1e-5)
    assert val_loss != pytest.approx(clf.history_[3]["val_loss"], rel=1e-3)


def test_bad_input_and_parameters_raise_clearly(tmp_path, torch):
    X, y = _checkerboard_toy(8, seed=7, size=32)
    with pytest.raises(ValueError, match="binary"):
        _small().fit(X, [0, 1, 2, 0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match="empty"):
        _small().fit([], [])
    with pytest.raises(TypeError, match="stack of images"):
        _small().fit(np.zeros((8, 32)), y)
    with pytest.raises(ValueError, match="one label per image"):
        _small().fit(X, y[:-1])
    with pytest.raises(ItemError, match=r"item 2 \(.*gone\.png\): file not found"):
        _small().fit(X[:2] + [str(tmp_path / "gone.png")] + X[3:], y)
    with pytest.raises(ValueError, match="frozen_epochs"):
        _small(frozen_epochs=3, epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="label_smoothing"):
        _small(label_smoothing=0.6).fit(X, y)
    with pytest.raises(ValueError, match="input_size"):
        _small(input_size=8).fit(X, y)
    with pytest.raises(ValueError, match="augment has unknown keys"):
        _small(augment={"colour_jitter": 0.2}).fit(X, y)
    with pytest.raises(ValueError, match="augment has an invalid value.*crop_scale"):
        _small(augment={"crop_scale": 1.5}).fit(X, y)
    with pytest.raises(ValueError, match="weights=None"):
        _small(weights="imagenet").fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        _small(class_weight="auto").fit(X, y)
    with pytest.raises(ValueError, match="early stopping needs at least 2 rows"):
        _small(validation_fraction=0.15).fit(X[:3], [0, 1, 1])
    fitted = _small(epochs=1, validation_fraction=None).fit(X, y)
    with pytest.raises(ItemError, match="item 1: unsupported item type"):
        fitted.predict([X[0], 3.5])


def test_weights_errors_name_the_fix(tmp_path, monkeypatch, torch):
    timm = pytest.importorskip("timm")
    X, y = _checkerboard_toy(8, seed=8, size=32)
    kw = dict(input_size=32, epochs=1, frozen_epochs=0, validation_fraction=None)
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        BackboneClassifier(model_name="test_efficientnet", weights=str(tmp_path / "none.safetensors"), **kw).fit(X, y)
    with pytest.raises(ValueError, match="unknown model_name 'no_such_net'"):
        BackboneClassifier(model_name="no_such_net", weights=None, **kw).fit(X, y)

    def offline(*args, **kwargs):
        if kwargs.get("pretrained"):
            raise OSError("Name or service not known")
        raise AssertionError("only the pretrained call is expected")

    monkeypatch.setattr(timm, "create_model", offline)
    monkeypatch.delenv("FORENSICS_MODEL_DIR", raising=False)
    with pytest.raises(RuntimeError, match=r"FORENSICS_MODEL_DIR.*pass weights='/path/to/test_efficientnet"):
        BackboneClassifier(model_name="test_efficientnet", weights="imagenet", **kw).fit(X, y)


def test_local_weights_file_is_loaded(shared_dir, torch, monkeypatch):
    pytest.importorskip("timm")
    path = shared_dir / "models" / "mobilenetv2_100.safetensors"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    import forensics.deep._classifier as module
    from safetensors.torch import load_file

    reference = load_file(str(path))
    key = next(k for k in reference if k.startswith("conv_stem"))
    net, config = module._build_network(torch, "mobilenetv2_100", str(path))
    assert torch.equal(net.backbone.state_dict()[key], reference[key])
    assert config["mean"] == pytest.approx((0.485, 0.456, 0.406))
    # weights="imagenet" finds the same file in $FORENSICS_MODEL_DIR (no hub access)
    monkeypatch.setenv("FORENSICS_MODEL_DIR", str(path.parent))
    net, _ = module._build_network(torch, "mobilenetv2_100", "imagenet")
    assert torch.equal(net.backbone.state_dict()[key], reference[key])


def test_export_onnx_matches_the_torch_logits(fitted_cnn, tmp_path):
    pytest.importorskip("onnxruntime")
    embeddings = pytest.importorskip("forensics.embeddings")
    if not hasattr(embeddings, "export_onnx"):
        pytest.skip("forensics.embeddings.export_onnx is not available")
    import onnxruntime as ort

    from forensics.deep._data import resize, to_batch

    path = fitted_cnn.export_onnx(tmp_path / "cnn.onnx")
    X, _ = _checkerboard_toy(5, seed=9)
    cfg = fitted_cnn.data_config_
    batch = to_batch([resize(x, cfg["input_size"][1:]) for x in X], cfg["mean"], cfg["std"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: batch})[0]
    assert out.shape == (5, 1)
    np.testing.assert_allclose(out[:, 0], fitted_cnn.decision_function(X), rtol=1e-4, atol=1e-4)


# -- TemporalHead -------------------------------------------------------------------------------------

def _order_toy(n, seed, n_frames=16, n_features=4, ragged=False):
    """Class 0: smooth trajectories; class 1: the same kind of frames in shuffled order (jitter).

    Every frame of both classes comes from the same distribution, so per-frame statistics and
    averages carry no label: only the temporal order does."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(n):
        T = int(rng.integers(8, n_frames + 1)) if ragged else n_frames
        t = np.linspace(0, 1, T)[:, None]
        phase = rng.uniform(0, 2 * np.pi, n_features)
        seq = np.sin(2 * np.pi * 0.5 * t + phase) + 0.05 * rng.normal(size=(T, n_features))
        label = k % 2
        if label:
            seq = seq[rng.permutation(T)]
        X.append(seq)
        y.append(label)
    return X, np.array(y)


def test_temporal_head_learns_temporal_order_only(torch):
    X, y = _order_toy(160, seed=0)
    X_test, y_test = _order_toy(80, seed=1)
    # sanity: the frame average carries no label
    pooled = LogisticRegression().fit(np.mean(X, axis=1), y)
    assert roc_auc_score(y_test, pooled.decision_function(np.mean(X_test, axis=1))) < 0.7
    head = TemporalHead(hidden_size=16, epochs=25, lr=1e-2, patience=8).fit(np.stack(X), y)
    auc = roc_auc_score(y_test, head.predict_proba(np.stack(X_test))[:, 1])
    assert auc > 0.8, auc
    assert head.n_features_in_ == 4 and head.best_epoch_ is not None
    assert head.best_score_ == max(h["val_auc"] for h in head.history_)


def test_temporal_head_ragged_sequences_and_gru(torch):
    X, y = _order_toy(120, seed=2, ragged=True)
    X_test, y_test = _order_toy(60, seed=3, ragged=True)
    assert len({len(s) for s in X}) > 3
    head = TemporalHead(cell="gru", hidden_size=16, epochs=25, lr=1e-2, patience=8).fit(X, y)
    assert roc_auc_score(y_test, head.decision_function(X_test)) > 0.8
    # padding never leaks: a sequence scores the same alone and beside longer ones
    alone = [head.decision_function([s])[0] for s in X_test[:5]]
    np.testing.assert_allclose(head.decision_function(X_test[:5]), alone, rtol=0, atol=1e-12)
    # a 3-D array and the list of its rows give the same scores
    same_length = np.stack([s[:8] for s in X_test[:6]])
    np.testing.assert_allclose(head.decision_function(same_length), head.decision_function(list(same_length)),
                               atol=1e-12)


def test_temporal_head_pickle_and_determinism(torch):
    X, y = _order_toy(40, seed=4)
    a = TemporalHead(hidden_size=8, epochs=3).fit(X, y)
    b = TemporalHead(hidden_size=8, epochs=3).fit(X, y)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    restored = pickle.loads(pickle.dumps(a))
    assert "_model" not in restored.__dict__
    np.testing.assert_array_equal(restored.predict_proba(X), a.predict_proba(X))


def test_temporal_head_errors(torch):
    X, y = _order_toy(12, seed=5)
    with pytest.raises(ValueError, match="binary"):
        TemporalHead(epochs=1).fit(X, np.arange(12) % 3)
    with pytest.raises(ValueError, match="empty"):
        TemporalHead(epochs=1).fit([], [])
    with pytest.raises(ValueError, match="3-D array"):
        TemporalHead(epochs=1).fit(np.zeros((12, 16)), y)
    with pytest.raises(ItemError, match="item 3: sequence has 5 features, expected 4"):
        TemporalHead(epochs=1).fit(X[:3] + [np.zeros((16, 5))] + X[4:], y)
    bad = [s.copy() for s in X]
    bad[2][4, 1] = np.nan
    with pytest.raises(ItemError, match="item 2: sequence contains NaN"):
        TemporalHead(epochs=1).fit(bad, y)
    with pytest.raises(ValueError, match="cell"):
        TemporalHead(cell="rnn").fit(X, y)
    with pytest.raises(ValueError, match="one label per sequence"):
        TemporalHead(epochs=1).fit(X, y[:-1])
    fitted = TemporalHead(hidden_size=4, epochs=1, validation_fraction=None).fit(X, y)
    with pytest.raises(ItemError, match="item 0: sequence has 3 features, expected 4"):
        fitted.predict([np.zeros((5, 3))])


def test_sequences_from_frames_orders_subsamples_and_aligns():
    rows = [(2, 30, 0), (0, 10, 0), (0, 0, 1), (0, 0, 0), (2, 0, 0), (0, 5, 0), (2, 10, 0)]
    meta = pd.DataFrame(rows, columns=["video", "frame_index", "face_index"])
    feats = np.array([[100 * v + f + 0.1 * face] for v, f, face in rows])
    seqs = sequences_from_frames(feats, meta)
    # videos in increasing order, frames in time order, one (the first) face per frame
    assert [s.ravel().tolist() for s in seqs] == [[0.0, 5.0, 10.0], [200.0, 210.0, 230.0]]
    assert [s.ravel().tolist() for s in sequences_from_frames(feats, meta, n_frames=2)] == [[0.0, 10.0],
                                                                                           [200.0, 230.0]]
    with pytest.raises(ValueError, match=r"videos \[1\] have no frame rows"):
        sequences_from_frames(feats, meta, videos=range(3))
    assert len(sequences_from_frames(feats, meta, videos=[2, 0])[0]) == 3
    long = pd.DataFrame({"video": 0, "frame_index": np.arange(40)})
    picked = sequences_from_frames(np.arange(40.0)[:, None], long, n_frames=16)[0].ravel()
    assert picked.size == 16 and picked[0] == 0 and picked[-1] == 39 and np.all(np.diff(picked) > 0)
    with pytest.raises(ValueError, match="meta has 3 rows"):
        sequences_from_frames(feats, meta.iloc[:3])


def test_sequences_from_frames_follow_one_person():
    """With track_id, a sequence stays on the track seen most often, even where another person's face
    is the larger (face_index 0); a frame without that person keeps its faceless row; a tie goes to the
    lower track id."""
    rows = [  # video, frame, face_index, track_id
        (0, 0, 0, 1), (0, 0, 1, 0),   # frame 0: person 1 larger than person 0
        (0, 1, 0, 0),                 # frame 1: person 0 alone
        (0, 2, 0, 1), (0, 2, 1, 0),
        (0, 3, -1, -1),               # frame 3: nobody
        (0, 4, 0, 0),
        (1, 0, 0, 3), (1, 1, 0, 2),   # video 1: tracks 2 and 3 one frame each: track 2 wins
        (2, 0, -1, -1), (2, 1, -1, -1),  # video 2: no face at all
    ]
    meta = pd.DataFrame(rows, columns=["video", "frame_index", "face_index", "track_id"])
    feats = np.array([[100 * v + 10 * f + t] for v, f, _, t in rows], dtype=float)
    seqs = [s.ravel().tolist() for s in sequences_from_frames(feats, meta)]
    assert seqs == [[0.0, 10.0, 20.0, 29.0, 40.0], [112.0], [199.0, 209.0]]
    # without track_id the largest face of each frame is kept, as before
    assert sequences_from_frames(feats, meta.drop(columns="track_id"))[0].ravel().tolist() == [1.0, 10.0, 21.0,
                                                                                             29.0, 40.0]


# -- catalogue -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, model", [("efficientnet-finetune", "tf_efficientnet_lite0"),
                                         ("mobilenet-finetune", "mobilenetv2_100"), ("cnn-scratch", "cnn-small")])
def test_catalogue_image_entries_are_a_bare_deep_head(name, model):
    pipe = make_pipeline(name)
    assert [n for n, _ in pipe.steps] == ["head"]
    assert isinstance(pipe[-1], BackboneClassifier) and pipe[-1].model_name == model
    spec = forensics.estimators.get(name)
    assert spec.input == "image" and "torch" in spec.requires
    assert make_pipeline(name)[-1] is not make_pipeline(name)[-1]  # a fresh estimator each time


def test_cnn_scratch_entry_fits_through_the_pipeline(torch):
    X, y = _checkerboard_toy(32, seed=10, size=32)
    pipe = make_pipeline("cnn-scratch", head__input_size=32, head__epochs=1, head__validation_fraction=None)
    pipe.fit(X, y)
    assert pipe.predict_proba(X[:3]).shape == (3, 2)


def test_efficientnet_lstm_entry_takes_sequences(torch):
    spec = forensics.estimators.get("efficientnet-lstm")
    assert spec.input == "video" and "sequences_from_frames" in spec.summary
    pipe = make_pipeline("efficientnet-lstm", head__epochs=1, head__hidden_size=4)
    assert [n for n, _ in pipe.steps] == ["head"] and pipe[-1].bidirectional and pipe[-1].cell == "lstm"
    X, y = _order_toy(12, seed=6)
    assert pipe.fit(X, y).predict(X).shape == (12,)


def test_package_imports_and_builds_without_torch():
    code = ("import sys\n"
            "class Block:\n"  # a machine without torch/timm: importing them fails
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'timm'):\n"
            "            raise ImportError(f'no module named {name}')\n"
            "sys.meta_path.insert(0, Block())\n"
            "import forensics, forensics.deep\n"
            "pipe = forensics.make_pipeline('cnn-scratch')\n"
            "try:\n"
            "    pipe.fit([b'x', b'y'], [0, 1])\n"
            "except ImportError as exc:\n"
            "    print('ImportError:', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'ImportError: BackboneClassifier needs PyTorch: pip install "scikit-forensics[torch]"' in out.stdout
