"""EmbeddingTransformer: lazy timm backbones, preprocessing, batching inside the bank, catalogue."""

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from conftest import encode, natural_image
from forensics import make_pipeline
from forensics.embeddings import EmbeddingTransformer, _timm, preprocess_image
from forensics.features import BaseExtractor, BlurFeatures, ForensicFeatures
from forensics.media import ItemError

TINY = "test_efficientnet"  # timm's own test model: 160 px input, 256-d embedding, ~0.1 M parameters


def _tiny(**kw):
    return EmbeddingTransformer(model_name=TINY, weights=None, **kw)


def _images(n=5):
    return [natural_image(s, (40 + 4 * s, 56)) for s in range(n)]


# -- preprocessing: hand-computed cases (no torch needed) ------------------------------------------

def test_preprocess_crop_only_exact_values():
    # 8 x 16, target 4 x 4 with crop_pct 0.5: S = 8 = shorter side, so no resize; the centre crop
    # keeps rows 2..5 and columns 6..9; then (v / 255 - mean) / std per channel.
    img = np.arange(8 * 16 * 3, dtype=np.float32).reshape(8, 16, 3) % 256
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 0.2)
    x = preprocess_image(img, input_size=(3, 4, 4), mean=mean, std=std, crop_pct=0.5)
    crop = img[2:6, 6:10]
    expected = ((crop / 255.0 - np.array(mean)) / np.array(std)).transpose(2, 0, 1)
    assert x.shape == (3, 4, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-6)


def test_preprocess_shrink_is_area_average_then_centre_crop():
    # 8 x 16 -> shorter side 4 (crop_pct 1): (4, 8) by 2 x 2 block means, then columns 2..5.
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (8, 16, 3)).astype(np.uint8)
    x = preprocess_image(img, input_size=(3, 4, 4), mean=(0, 0, 0), std=(1, 1, 1), crop_pct=1.0)
    blocks = img.astype(np.float64).reshape(4, 2, 8, 2, 3).mean(axis=(1, 3))
    expected = (blocks[:, 2:6] / 255.0).transpose(2, 0, 1)
    np.testing.assert_allclose(x, expected, atol=1e-5)


def test_preprocess_offsets_follow_torchvision_rounding_and_modes():
    # 5 x 7 with S = floor(4 / 0.8) = 5: no resize; top = round(0.5) = 0, left = round(1.5) = 2
    img = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)[:, :, None].repeat(3, 2)
    x = preprocess_image(img, input_size=(3, 4, 4), mean=(0, 0, 0), std=(1 / 255,) * 3, crop_pct=0.8)
    np.testing.assert_allclose(x[0], img[0:4, 2:6, 0], atol=1e-4)
    # squash: 8 x 16 resized to 4 x 4 whatever the aspect ratio (area means of 2 x 4 blocks)
    img = np.random.default_rng(1).integers(0, 256, (8, 16, 3)).astype(np.float32)
    x = preprocess_image(img, input_size=(3, 4, 4), mean=(0, 0, 0), std=(1 / 255,) * 3, crop_pct=1.0,
                         crop_mode="squash")
    np.testing.assert_allclose(x, img.reshape(4, 2, 4, 4, 3).mean(axis=(1, 3)).transpose(2, 0, 1), atol=1e-3)
    # border: the longer side fits, the rest is padded with 255 * mean (normalised to 0)
    x = preprocess_image(np.full((2, 4, 3), 255, np.uint8), input_size=(3, 4, 4), mean=(0.5,) * 3, std=(0.5,) * 3,
                         crop_pct=1.0, crop_mode="border")
    np.testing.assert_allclose(x[0], [[0] * 4, [1] * 4, [1] * 4, [0] * 4], atol=1e-2)
    with pytest.raises(ValueError, match="interpolation"):
        preprocess_image(img, interpolation="lanczos")


# -- without torch --------------------------------------------------------------------------------

def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "timm", None)
    emb = EmbeddingTransformer()  # building stores parameters only
    with pytest.raises(ImportError, match=r'pip install "scikit-forensics\[torch\]"'):
        emb.fit()


def test_package_and_catalogue_import_without_torch():
    # an import hook, not sys.modules[...] = None: scipy probes sys.modules["torch"] for arrays
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'timm'):\n"
            "            raise ModuleNotFoundError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import forensics, forensics.embeddings\n"
            "pipe = forensics.make_pipeline('fusion-xgb'); forensics.make_pipeline('embedding-xgb')\n"
            "print(pipe.steps[0][1].extractors[-1][0], 'torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(__file__))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "emb False"


# -- the transformer (torch + timm) ---------------------------------------------------------------

def _torch_timm():
    return pytest.importorskip("torch"), pytest.importorskip("timm")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny networks: intra-op threads only add spin-waiting on a small, busy CI machine."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_params_round_trip_and_invalid_params_raise_at_fit(tmp_path):
    torch, _ = _torch_timm()
    emb = _tiny(batch_size=4)
    twin = clone(emb)
    assert twin.get_params() == emb.get_params()
    bad_file = tmp_path / "w.txt"
    bad_file.write_text("x")
    cases = [("batch_size", 0), ("batch_size", "8"), ("amp", "yes"), ("device", "tpu"), ("on_error", "skip"),
             ("n_jobs", 0), ("progress", 1.5), ("weights", str(bad_file)), ("model_name", "a__b")]
    for name, value in cases:
        with pytest.raises((ValueError, TypeError), match=name):
            clone(emb).set_params(**{name: value}).fit()
    with pytest.raises(FileNotFoundError, match="gone.safetensors"):
        clone(emb).set_params(weights=str(tmp_path / "gone.safetensors")).fit()
    with pytest.raises(ValueError, match="not a timm model"):
        clone(emb).set_params(model_name="no_such_net").fit()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            clone(emb).set_params(device="cuda").fit()


def test_fit_reads_config_without_loading_and_transform_loads_lazily():
    torch, timm = _torch_timm()
    X = _images(3)
    emb = _tiny().fit(X)
    assert not hasattr(emb, "model_")  # fit loads no weights
    cfg = timm.data.resolve_model_data_config(timm.create_model(TINY, pretrained=False))
    assert emb.data_config_["input_size"] == tuple(cfg["input_size"]) == (3, 160, 160)
    assert emb.data_config_["mean"] == pytest.approx(cfg["mean"]) and emb.data_config_["crop_pct"] == cfg["crop_pct"]
    names = emb.get_feature_names_out()
    assert emb.n_features_out_ == 256 and names[0] == f"emb__{TINY}__0000" and names[-1] == f"emb__{TINY}__0255"
    assert all(len(n.split("__")) == 3 for n in names)
    out = emb.transform(X)
    assert isinstance(emb.model_, torch.nn.Module) and not emb.model_.training
    assert emb.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    assert out.shape == (3, 256) and out.dtype == np.float64 and np.isfinite(out).all()
    assert np.ptp(out, axis=0).max() > 0  # different images, different embeddings


def test_pickle_drops_the_weights_and_reload_gives_the_same_output():
    _torch_timm()
    X = _images(3)
    emb = _tiny().fit(X)
    out = emb.transform(X)
    n_param_bytes = sum(p.numel() * 4 for p in emb.model_.parameters())
    blob = pickle.dumps(emb)
    assert len(blob) < min(20_000, n_param_bytes / 10), len(blob)
    assert hasattr(emb, "model_")  # pickling does not touch the live object
    _timm._CACHE.clear()  # force a real reload, not the per-process cache
    restored = pickle.loads(blob)
    assert not hasattr(restored, "model_")
    again = restored.transform(X)
    assert restored.model_ is not emb.model_
    np.testing.assert_allclose(again, out, rtol=1e-6, atol=1e-9)


def test_saved_pipeline_holds_no_weights_and_reloads(tmp_path):
    _torch_timm()
    pytest.importorskip("skops")
    import forensics

    X = _images(4)
    y = np.array([0, 1, 0, 1])
    pipe = make_pipeline(features=_tiny(), head="logistic").fit(X, y)
    forensics.save(pipe, tmp_path / "pipe.skops")
    assert (tmp_path / "pipe.skops").stat().st_size < 200_000  # 256-d logistic head, no network
    restored = forensics.load(tmp_path / "pipe.skops")
    assert not hasattr(restored.named_steps["features"], "model_")
    np.testing.assert_allclose(restored.predict_proba(X), pipe.predict_proba(X), rtol=1e-6)


def test_batched_rows_equal_per_item_rows_and_sub_batches():
    torch, _ = _torch_timm()
    X = _images(5)
    emb = _tiny(batch_size=2).fit(X)  # chunks of 16, forward passes of 2
    batched = emb.transform(X)
    per_item = np.vstack([emb.transform([x]) for x in X])
    np.testing.assert_allclose(batched, per_item, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(_tiny(batch_size=32).fit().transform(X), batched, rtol=1e-5, atol=1e-8)
    row = emb.extract_one(X[3])
    assert list(row)[:2] == [f"emb__{TINY}__0000", f"emb__{TINY}__0001"]
    np.testing.assert_allclose(list(row.values()), batched[3], rtol=1e-5, atol=1e-8)
    # amp is CUDA only: on the CPU it changes nothing
    if not torch.cuda.is_available():
        np.testing.assert_array_equal(_tiny(batch_size=2, amp=True).fit().transform(X), batched)


@pytest.mark.parametrize("in_bank", [False, True], ids=["alone", "in-bank"])
def test_bad_items_get_their_own_row_in_batched_extraction(tmp_path, in_bank):
    _torch_timm()
    good = [encode(natural_image(s, (48, 64)), "JPEG", quality=90) for s in range(4)]
    missing = str(tmp_path / "gone.png")
    X = [good[0], good[1], b"\x00garbage", good[2], missing, good[3]]
    est = _tiny(batch_size=4)
    if in_bank:
        est = ForensicFeatures([("blur", BlurFeatures()), ("emb", est)])
    fitted = est.fit(X)
    with pytest.raises(ItemError, match=r"item 2: not a readable image"):
        fitted.transform(X)
    fitted.set_params(on_error="nan")
    with pytest.warns(RuntimeWarning, match="2 of 6 items"):
        out = fitted.transform(X)
    clean = clone(est).fit().transform(good)
    assert np.isnan(out[[2, 4]]).all()
    np.testing.assert_allclose(out[[0, 1, 3, 5]], clean, rtol=1e-5, atol=1e-8)  # no row lost or shifted
    assert list(fitted.status_["status"]) == ["ok", "ok", "error", "ok", "error", "ok"]
    assert fitted.status_.loc[4, "source"] == missing
    if in_bank:
        names = fitted.get_feature_names_out()
        assert names[0].startswith("blur__") and names[-1] == f"emb__{TINY}__0255"
        np.testing.assert_allclose(out[[0, 1, 3, 5]][:, -256:], _tiny().fit().transform(good), rtol=1e-5, atol=1e-8)


class _PickyBatch(BaseExtractor):
    """A batched extractor whose batch step fails when one particular item is in the batch."""

    family = "picky"

    def __init__(self, *, n_jobs=None, on_error="raise", progress=False):
        self.n_jobs, self.on_error, self.progress = n_jobs, on_error, progress

    def _feature_names(self):
        return ["picky__mean__all"]

    def _prepare(self, item):
        return float(item.rgb.mean())

    def _compute_batch(self, prepared):
        if any(v == 7.0 for v in prepared):
            raise ValueError("cannot handle a mean of exactly 7")
        return np.asarray(prepared, dtype=np.float64)[:, None]

    def _compute(self, item):
        return self._compute_batch([self._prepare(item)])[0]

    @property
    def _batch_size_hint(self):
        return 8


def test_a_failing_batch_is_rerun_item_by_item_to_name_the_culprit():
    X = [np.full((4, 4, 3), v, np.uint8) for v in (1, 2, 7, 3, 4)]
    est = _PickyBatch().fit(X)
    with pytest.raises(ItemError, match=r"item 2: ValueError: cannot handle a mean of exactly 7"):
        est.transform(X)
    est.set_params(on_error="nan")
    with pytest.warns(RuntimeWarning, match="1 of 5 items"):
        out = est.transform(X)
    np.testing.assert_array_equal(out[:, 0], [1, 2, np.nan, 3, 4])
    assert est.status_.loc[2, "error"].startswith("ValueError")


def test_weights_imagenet_offline_error_says_to_pass_a_file(monkeypatch):
    _, timm = _torch_timm()
    def offline(name, pretrained=False, **kw):
        if pretrained and "pretrained_cfg_overlay" not in kw:
            raise OSError("We couldn't connect to 'https://huggingface.co'")
        return real(name, pretrained=pretrained, **kw)

    real = timm.create_model
    monkeypatch.setattr(timm, "create_model", offline)
    monkeypatch.delenv("FORENSICS_MODEL_DIR", raising=False)
    _timm._CACHE.clear()
    emb = EmbeddingTransformer(model_name=TINY).fit()  # fit loads nothing, so it works offline
    with pytest.raises(RuntimeError, match=r"FORENSICS_MODEL_DIR.*pass weights='/path/to/test_efficientnet\.safetensors'"):
        emb.transform(_images(1))


def test_fusion_bank_inside_a_pipeline_fits_and_predicts():
    _torch_timm()
    import cv2

    X = [natural_image(s, (48, 48)) for s in range(16)]
    X = [cv2.GaussianBlur(img, (0, 0), 2.0) if s % 2 else img for s, img in enumerate(X)]  # fakes: blurred
    y = np.arange(16) % 2
    bank = ForensicFeatures([("blur", BlurFeatures()), ("emb", _tiny())])
    pipe = make_pipeline(features=bank, head="logistic").fit(X, y)
    scores = pipe.predict_proba(X)[:, 1]
    assert scores.shape == (16,) and scores[y == 1].mean() > scores[y == 0].mean()
    names = list(pipe.named_steps["features"].get_feature_names_out())
    assert names[0].startswith("blur__") and names[-256:] == [f"emb__{TINY}__{i:04d}" for i in range(256)]
    assert pipe.named_steps["head"].coef_.shape == (1, len(names))


@pytest.mark.parametrize("name,prefix", [("embedding-xgb", "features__"), ("fusion-xgb", "features__emb__")])
def test_catalogue_detectors_build_without_loading_and_train_with_local_weights(name, prefix):
    _torch_timm()
    pytest.importorskip("xgboost")
    built = make_pipeline(name)
    emb = built.named_steps["features"]
    emb = emb if isinstance(emb, EmbeddingTransformer) else dict(emb.extractors)["emb"]
    assert emb.weights == "imagenet" and not hasattr(emb, "model_")
    from forensics.estimators import get

    spec_features = get(name).parts["features"]
    assert built.named_steps["features"] is not spec_features  # each build gets its own copy
    X = [natural_image(s, (40, 40)) for s in range(8)]
    y = np.array([0, 1] * 4)
    pipe = make_pipeline(name, **{f"{prefix}model_name": TINY, f"{prefix}weights": None,
                                  "head__n_estimators": 5})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pipe.fit(X, y)
    proba = pipe.predict_proba(X)
    assert proba.shape == (8, 2) and np.allclose(proba.sum(1), 1)
    assert get(name).requires == ("torch", "timm", "xgboost")


def test_video_features_with_an_embedding_frame_extractor(tmp_path):
    _torch_timm()
    from forensics.features import VideoFeatures
    from video_fixtures import write_video

    frames = [natural_image(s, (48, 64)) for s in range(4)]
    path = tmp_path / "clip.mp4"
    write_video(path, frames)
    vf = VideoFeatures(extractor=_tiny(), faces=False, n_frames=2, aggregate=("mean",)).fit()
    out = vf.transform([str(path)])
    assert out.shape == (1, vf.n_features_out_) and np.isfinite(out[0, :256]).all()
    assert str(vf.get_feature_names_out()[0]).startswith(f"emb__{TINY}__0000")


# -- real pretrained weights (shared folder) ------------------------------------------------------

def _classify(path, image):
    torch, _ = _torch_timm()
    model = _timm._create_model("tf_efficientnet_lite0", str(path), num_classes=1000)
    cfg = EmbeddingTransformer(weights=str(path)).fit().data_config_
    x = torch.from_numpy(preprocess_image(image, **cfg)[None])
    with torch.inference_mode():
        logits = model(x)
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    return logits[0].numpy(), pooled[0].numpy()


def test_local_pretrained_weights_classify_chelsea_and_coffee(shared_dir, monkeypatch):
    _torch_timm()
    from skimage import data

    path = shared_dir / "models" / "tf_efficientnet_lite0.safetensors"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    logits, pooled = _classify(path, data.chelsea())
    assert 281 <= int(np.argmax(logits)) <= 285  # tabby / tiger / Persian / Siamese / Egyptian cat
    coffee_logits, _ = _classify(path, data.coffee())
    assert int(np.argmax(coffee_logits)) == 967  # espresso
    # the embedding transformer gives the classifier's pooled input (same backbone weights)
    emb = EmbeddingTransformer(weights=str(path)).fit()
    np.testing.assert_allclose(emb.transform([data.chelsea()])[0], pooled, rtol=1e-4, atol=1e-4)
    # weights="imagenet" takes the file from $FORENSICS_MODEL_DIR when it is there (offline use)
    monkeypatch.setenv("FORENSICS_MODEL_DIR", str(path.parent))
    _timm._CACHE.clear()
    via_env = EmbeddingTransformer(weights="imagenet").fit().transform([data.chelsea()])[0]
    np.testing.assert_allclose(via_env, pooled, rtol=1e-4, atol=1e-4)
