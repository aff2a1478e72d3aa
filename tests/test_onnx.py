"""ONNX export and onnxruntime inference: parity with torch, INT8 deviation, pipelines without torch."""

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import natural_image
from forensics import make_pipeline
from forensics.embeddings import EmbeddingTransformer, OnnxEmbeddingTransformer, OnnxModel, export_onnx, int8_path

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TINY = "test_efficientnet"
#: fp32 ONNX vs torch: largest absolute difference allowed, relative to the largest |value|
FP32_RTOL = 1e-4


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _images(n=6):
    return [natural_image(s, (48 + 6 * s, 64)) for s in range(n)]


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(8, 4))


def test_export_any_module_with_a_free_batch_axis(tmp_path):
    net = _net().train()
    path = export_onnx(net, tmp_path / "sub" / "net.onnx", input_shape=(3, 16, 16))
    assert path == tmp_path / "sub" / "net.onnx" and path.is_file()
    assert net.training  # the caller's mode is restored
    model = OnnxModel(path)
    assert model.input_shape[0] == "batch" and model.input_shape[1:] == [3, 16, 16]
    net.eval()
    for n in (1, 3, 5):
        x = np.random.default_rng(n).normal(size=(n, 3, 16, 16)).astype(np.float32)
        with torch.inference_mode():
            ref = net(torch.from_numpy(x)).numpy()
        out = model.run(x)
        assert out.shape == (n, 4)
        np.testing.assert_allclose(out, ref, atol=1e-5)
    fixed = OnnxModel(export_onnx(net, tmp_path / "fixed.onnx", input_shape=(3, 16, 16), dynamic_batch=False))
    assert fixed.input_shape == [1, 3, 16, 16]


def test_export_checks_its_arguments_and_the_model_pickles_by_path(tmp_path):
    with pytest.raises(ValueError, match="opset"):
        export_onnx(_net(), tmp_path / "a.onnx", input_shape=(3, 8, 8), opset=13)
    with pytest.raises(ValueError, match="exporter"):
        export_onnx(_net(), tmp_path / "a.onnx", input_shape=(3, 8, 8), exporter="jit")
    path = export_onnx(_net(), tmp_path / "a.onnx", input_shape=(3, 8, 8), metadata={"note": [1, 2]})
    model = OnnxModel(path)
    x = np.ones((2, 3, 8, 8), np.float32)
    out = model.run(x)
    assert model.metadata == {"note": [1, 2]}
    blob = pickle.dumps(model)
    assert len(blob) < 500  # the path, not the session or the weights
    np.testing.assert_array_equal(pickle.loads(blob).run(x), out)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny random-init backbone exported to fp32 and INT8, and its torch features."""
    X = _images()
    emb = EmbeddingTransformer(model_name=TINY, weights=None).fit(X)
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference = emb.transform(X)
        onnx_emb = emb.export_onnx(tmp_path_factory.mktemp("onnx") / "tiny.onnx", quantize=True)
    finally:
        torch.set_num_threads(prev)
    return X, emb, reference, onnx_emb


def test_exported_embedding_matches_torch(exported):
    X, emb, reference, onnx_emb = exported
    assert isinstance(onnx_emb, OnnxEmbeddingTransformer) and not hasattr(onnx_emb, "model_")
    fitted = onnx_emb.fit(X)
    assert fitted.data_config_ == emb.data_config_  # read back from the file's metadata
    assert list(fitted.get_feature_names_out()) == list(emb.get_feature_names_out())
    out = fitted.transform(X)
    err = np.abs(out - reference).max() / np.abs(reference).max()
    assert err < FP32_RTOL, err
    # the same file, configured by hand instead of by its metadata, gives the same rows
    cfg = emb.data_config_
    by_hand = OnnxEmbeddingTransformer(onnx_emb.path, model_name="other", input_size=cfg["input_size"],
                                       mean=cfg["mean"], std=cfg["std"], crop_pct=cfg["crop_pct"]).fit()
    np.testing.assert_array_equal(by_hand.transform(X), out)
    assert by_hand.get_feature_names_out()[0] == "emb__other__0000"
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), out)


def test_int8_copy_is_written_and_stays_close(exported):
    X, emb, reference, onnx_emb = exported
    q_path = int8_path(onnx_emb.path)
    assert q_path.name == "tiny.int8.onnx" and q_path.is_file()
    assert q_path.stat().st_size < Path(onnx_emb.path).stat().st_size
    q = OnnxEmbeddingTransformer(q_path).fit()
    assert q.data_config_ == emb.data_config_
    out = q.transform(X)
    assert np.isfinite(out).all()
    # dynamic INT8 on a convolutional net is lossy: measured here corr ~0.99 on this random-init
    # model, ~0.95 on the pretrained EfficientNet-Lite0 (see benchmarks/bench_embeddings.py)
    corr = np.corrcoef(out.ravel(), reference.ravel())[0, 1]
    assert corr > 0.9, corr
    assert not np.allclose(out, reference, rtol=1e-6, atol=0)  # it really is a different (quantized) model


def test_onnx_embedding_runs_in_a_pipeline_without_torch(exported, monkeypatch):
    X, emb, reference, onnx_emb = exported
    expected = OnnxEmbeddingTransformer(onnx_emb.path).fit().transform(X)
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "timm", None)
    with pytest.raises(ImportError):
        EmbeddingTransformer(model_name=TINY, weights=None).fit()  # torch really is gone
    y = np.array([0, 1] * 3)
    pipe = make_pipeline(features=OnnxEmbeddingTransformer(onnx_emb.path), head="logistic").fit(X, y)
    np.testing.assert_array_equal(pipe.named_steps["features"].transform(X), expected)
    assert pipe.predict_proba(X).shape == (6, 2)


def test_onnx_pipeline_saves_as_a_safe_skops_file(exported, tmp_path):
    pytest.importorskip("skops")
    import forensics

    X, _, _, onnx_emb = exported
    y = np.array([0, 1] * 3)
    pipe = make_pipeline(features=OnnxEmbeddingTransformer(onnx_emb.path), head="logistic").fit(X, y)
    forensics.save(pipe, tmp_path / "pipe.skops")
    restored = forensics.load(tmp_path / "pipe.skops")  # raises if it would build an untrusted type
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))


def test_a_file_without_metadata_needs_the_preprocessing(tmp_path):
    path = export_onnx(_net(), tmp_path / "plain.onnx", input_shape=(3, 16, 16))
    with pytest.raises(ValueError, match="input_size, mean, std"):
        OnnxEmbeddingTransformer(path).fit()
    est = OnnxEmbeddingTransformer(path, input_size=(3, 16, 16), mean=(0.5,) * 3, std=(0.5,) * 3).fit()
    assert est.n_features_out_ == 4 and est.get_feature_names_out()[0] == "emb__plain__0000"
    assert est.transform(_images(2)).shape == (2, 4)
    with pytest.raises(ValueError, match="batch_size"):
        OnnxEmbeddingTransformer(path, batch_size=0).fit()
    with pytest.raises(FileNotFoundError):
        OnnxEmbeddingTransformer(tmp_path / "nope.onnx").fit()


def test_pretrained_lite0_parity_and_int8_deviation(shared_dir, tmp_path):
    path = shared_dir / "models" / "tf_efficientnet_lite0.safetensors"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    from skimage import data

    X = [data.chelsea(), data.coffee(), data.astronaut()]
    emb = EmbeddingTransformer(weights=str(path)).fit()
    ref = emb.transform(X)
    onnx_emb = emb.export_onnx(tmp_path / "lite0.onnx", quantize=True).fit()
    assert np.abs(onnx_emb.transform(X) - ref).max() < 1e-4  # measured ~6e-6 on values up to ~5
    q = OnnxEmbeddingTransformer(int8_path(onnx_emb.path)).fit().transform(X)
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(q, ref)]
    assert min(corr) > 0.7 and np.isfinite(q).all(), corr  # measured 0.79 .. 0.96 per image
