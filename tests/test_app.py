"""The app (forensics.app): the scoring core, the Streamlit page through Streamlit's AppTest, the
launcher, ONNX export with static INT8, the torch-free path, and one run in a real headless browser."""

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED, encode, natural_image
from video_fixtures import face_video, write_video

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from forensics.app import AppError, load_detector, score_upload, sniff  # noqa: E402
from forensics.app._launch import command, page_path, parse_args  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _model_dir():
    for folder in (os.environ.get("FORENSICS_MODEL_DIR"), SHARED / "models"):
        if folder and (Path(folder) / "face_detection_yunet_2023mar.onnx").is_file():
            return Path(folder)
    return None


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A folder with a handcrafted detector (dct-lr fitted on the demo set) saved by forensics.save."""
    from forensics import make_pipeline, save
    from forensics.datasets import make_demo_dataset

    folder = tmp_path_factory.mktemp("models")
    demo = make_demo_dataset(n_per_class=16, size=64, seed=0)
    pipe = make_pipeline("dct-lr").fit(list(demo["item"]), demo["label"].to_numpy())
    save(pipe, folder / "dct.skops")
    return folder


@pytest.fixture(scope="module")
def onnx_model(models):
    """A small CNN fitted for one epoch, exported to ONNX (fp32 and static INT8) in the models folder."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from forensics.app import export_detector
    from forensics.deep import BackboneClassifier

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X = [natural_image(i, (40, 40)) for i in range(16)]
        y = np.array([0, 1] * 8)
        clf = BackboneClassifier(model_name="cnn-small", weights=None, input_size=32, epochs=1, frozen_epochs=0,
                                 validation_fraction=None, batch_size=8).fit(X, y)
        path = export_detector(clf, models / "cnn.onnx", int8=True, calibration=X[:8])
    finally:
        torch.set_num_threads(before)
    return clf, path, models / "cnn.int8.onnx"


@pytest.fixture
def page(monkeypatch):
    """AppTest of the page for a chosen model (and upload limit), already run once."""
    def make(model, max_mb=None):
        monkeypatch.setenv("FORENSICS_APP_MODELS", str(Path(model).parent))
        monkeypatch.setenv("FORENSICS_APP_MODEL", str(model))
        if max_mb is not None:
            monkeypatch.setenv("FORENSICS_APP_MAX_MB", str(max_mb))
        else:
            monkeypatch.delenv("FORENSICS_APP_MAX_MB", raising=False)
        return AppTest.from_file(str(page_path()), default_timeout=180).run()
    return make


def _upload(at, name, data, mime="application/octet-stream"):
    at.file_uploader[0].upload(name, data, mime)
    return at.run()


def _jpeg(seed=0, shape=(96, 128), quality=90):
    return encode(natural_image(seed, shape), "JPEG", quality=quality)


def _video(path, n=10, size=(48, 64)):
    write_video(path, [natural_image(i, size) for i in range(n)])
    return Path(path)


def _no_traceback(at):
    assert not at.exception, [e.value for e in at.exception]


# -- the scoring core ------------------------------------------------------------------------------------------

def test_sniff_reads_the_bytes_not_the_name(tmp_path):
    assert sniff(_jpeg(), "photo.mp4") == "image"
    assert sniff(_video(tmp_path / "v.mp4").read_bytes(), "clip.jpg") == "video"
    with pytest.raises(AppError, match="neither an image nor a video"):
        sniff(b"%PDF-1.4 not a picture", "doc.jpg")
    with pytest.raises(AppError, match="empty"):
        sniff(b"", "nothing.png")


def test_image_score_is_the_pipelines_own_score(models):
    from forensics import load

    data = _jpeg(1)
    det = load_detector(models / "dct.skops")
    assert (det.input, det.family, det.format) == ("image", "handcrafted", "skops")
    report = score_upload(det, data, name="a.jpg")
    assert report.score == pytest.approx(load(models / "dct.skops").predict_proba([data])[0, 1], abs=1e-9)
    assert report.properties["format"] == "jpeg" and report.properties["width"] == 128.0
    assert set(report.quant_tables) == {"table 0", "table 1"} and report.quant_tables["table 0"].shape == (8, 8)
    table = report.explanation.table
    assert report.explanation.kind == "shap" and len(table) == 10
    assert table.attrs["prediction"] == pytest.approx(np.log(report.score / (1 - report.score)), abs=1e-6)
    png = score_upload(det, encode(natural_image(1), "PNG"), name="a.png")
    assert png.properties["format"] == "png" and png.quant_tables == {}


def _turned_jpeg(orientation, seed=5, shape=(72, 120)):
    """A JPEG stored as ``natural_image`` with an EXIF orientation tag (the pixels are not turned)."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(natural_image(seed, shape)).save(buf, "JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("orientation", [6, 5, 1])
def test_an_image_is_shown_as_a_viewer_shows_it_and_scored_as_stored(models, orientation):
    """A phone photo stored sideways (EXIF orientation 6, or transposed 5) is shown upright: the report's
    picture and the explanation's are ``Item.display_rgb``'s; before, both were the stored grid, sideways.
    The score and the SHAP rows stay those of the stored pixels, as the model reads them. Look-alike:
    orientation 1, shown as stored."""
    from forensics import load
    from forensics.media import load_item

    data = _turned_jpeg(orientation)
    det = load_detector(models / "dct.skops")
    report = score_upload(det, data, name="phone.jpg")
    shown = load_item(data).display_rgb
    assert shown.shape[:2] == ((120, 72) if orientation != 1 else (72, 120))
    np.testing.assert_array_equal(report.image, shown)  # small pictures are not resized
    np.testing.assert_array_equal(report.explanation.picture, shown)
    assert report.score == pytest.approx(load(models / "dct.skops").predict_proba([data])[0, 1], abs=1e-9)


def test_an_occlusion_overlay_is_turned_with_its_picture(onnx_model):
    """The occlusion map is computed on the stored pixels the network scores, then shown turned as the
    picture is: heat map, overlay and picture of a JPEG with orientation 8 are those of orientation 1
    turned 90 degrees counter-clockwise."""
    from forensics.app import OnnxDetector
    from forensics.media import to_display

    _, fp32, _ = onnx_model
    det = load_detector(fp32)
    upright = score_upload(det, _turned_jpeg(1), name="a.jpg").explanation
    turned = score_upload(det, _turned_jpeg(8), name="b.jpg").explanation
    assert isinstance(det.model, OnnxDetector) and upright.kind == turned.kind == "occlusion"
    np.testing.assert_allclose(turned.heatmap, to_display(upright.heatmap, 8), atol=1e-6)
    np.testing.assert_array_equal(turned.picture, to_display(upright.picture, 8))
    np.testing.assert_array_equal(turned.overlay, to_display(upright.overlay, 8))
    assert turned.heatmap.shape == (120, 72)


def test_video_score_is_the_mean_of_its_frames(models, tmp_path):
    from forensics import load
    from forensics.media import read_frames

    det = load_detector(models / "dct.skops")
    path = _video(tmp_path / "v.mp4", n=10)
    report = score_upload(det, path.read_bytes(), name="v.mp4", n_frames=4, faces=False)
    frames = report.frames
    assert frames["frame"].tolist() == [0, 3, 6, 9] and frames["faces"].tolist() == [0] * 4
    decoded = read_frames(path, indices=[0, 3, 6, 9]).frames
    direct = load(models / "dct.skops").predict_proba(decoded)[:, 1]
    assert np.allclose(frames["score"], direct)
    assert report.score == pytest.approx(direct.mean())
    assert report.info["codec"] == "h264" and report.info["n_frames"] == 10
    assert len(report.thumbnails) == 4 and report.explanation.kind == "shap"


def test_frames_with_faces_are_found(models, tmp_path, monkeypatch):
    folder = _model_dir()
    if folder is None:
        pytest.skip("needs face_detection_yunet_2023mar.onnx in $FORENSICS_MODEL_DIR or ../shared/models")
    from skimage import data as skdata
    from PIL import Image

    faces = tmp_path / "faces"
    faces.mkdir()
    Image.fromarray(skdata.astronaut()[:300, 100:400]).save(faces / "astronaut.png")
    face_video(tmp_path / "f.mp4", n_frames=8, size=(240, 320), faces_from=faces)
    monkeypatch.setenv("FORENSICS_MODEL_DIR", str(folder))
    det = load_detector(models / "dct.skops")
    found = score_upload(det, (tmp_path / "f.mp4").read_bytes(), name="f.mp4", n_frames=4)
    assert (found.frames["faces"] >= 1).all()
    crops = score_upload(det, (tmp_path / "f.mp4").read_bytes(), name="f.mp4", n_frames=4, face_crops=True)
    assert not np.allclose(crops.frames["score"], found.frames["score"])  # the crops were scored, not the frames


# -- the page (Streamlit AppTest) ---------------------------------------------------------------------------------

def test_page_lists_the_models_and_waits_for_an_upload(page, models):
    at = page(models / "dct.skops")
    _no_traceback(at)
    assert not at.error and at.info and "Upload an image" in at.info[0].value
    assert at.sidebar.selectbox[0].value == "dct.skops"
    assert "dct.skops" in at.sidebar.selectbox[0].options


def test_page_scores_an_image_with_audit_and_shap(page, models):
    data = _jpeg(2)
    expected = score_upload(load_detector(models / "dct.skops"), data, name="x.jpg").score
    at = _upload(page(models / "dct.skops"), "x.jpg", data, "image/jpeg")
    _no_traceback(at)
    assert not at.error
    assert [(m.label, m.value) for m in at.metric] == [("Fake score", f"{expected:.3f}")]
    frames = [d.value for d in at.dataframe]
    props = frames[0].set_index("property")["value"]
    assert props["format"] == "jpeg" and props["jpeg_quality_luma"] == "90" and props["width"] == "128"
    assert any(list(f.columns) == ["feature", "family", "value", "shap"] for f in frames)
    assert sum(f.shape == (8, 8) for f in frames) == 2  # the two quantization tables
    import json

    table = next(f for f in frames if list(f.columns) == ["feature", "family", "value", "shap"])
    chart, = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    y = spec["encoding"]["y"]
    assert y["field"] == "feature" and y["sort"] is None and y["axis"]["labelLimit"] == 0  # table order, full names
    assert list(table["shap"].abs()) == sorted(table["shap"].abs(), reverse=True)


def test_page_scores_a_video_frame_by_frame(page, models, tmp_path):
    data = _video(tmp_path / "v.mp4", n=12).read_bytes()
    at = page(models / "dct.skops")
    at.sidebar.slider[0].set_value(4)
    at.sidebar.checkbox[0].uncheck()  # no face detection
    at = _upload(at.run(), "v.mp4", data, "video/mp4")
    _no_traceback(at)
    assert not at.error
    expected = score_upload(load_detector(models / "dct.skops"), data, name="v.mp4", n_frames=4, faces=False).score
    assert at.metric[0].value == f"{expected:.3f}"
    assert len(at.get("vega_lite_chart")) >= 1  # the score curve
    assert len(at.get("image")) == 4  # the sampled frames (no face: all are shown)
    assert any("Frames with faces (0 of 4 sampled)" in s.value for s in at.subheader)


def _bad_codec(tmp_path):
    data = _video(tmp_path / "ok.mp4").read_bytes()
    assert data.count(b"avc1") >= 1
    return data.replace(b"avc1", b"zzzz")  # an MP4 whose codec FFmpeg does not know


@pytest.mark.parametrize("case", ["text", "truncated", "too_large", "codec", "cut_video"])
def test_bad_uploads_show_a_message_not_a_traceback(page, models, tmp_path, case):
    jpeg = _jpeg(3, (200, 300), quality=95)
    uploads = {
        "text": ("notes.jpg", b"these are my notes, not a picture\n" * 20, "neither an image nor a video"),
        "truncated": ("cut.jpg", jpeg[: len(jpeg) * 2 // 3], "truncated JPEG"),
        "too_large": ("big.jpg", jpeg, "too large"),
        "codec": ("odd.mp4", _bad_codec(tmp_path), "unsupported codec"),
        # an MP4 cut before its index (moov at the end): FFmpeg cannot open it
        "cut_video": ("v.mp4", _video(tmp_path / "v.mp4").read_bytes()[:600], "as a video: not a readable video"),
    }
    name, data, message = uploads[case]
    limit = len(jpeg) / 2**20 * 0.99 if case == "too_large" else None  # just below the file's size
    at = _upload(page(models / "dct.skops", max_mb=limit), name, data)
    _no_traceback(at)
    assert not at.metric
    assert len(at.error) == 1 and message in at.error[0].value, [e.value for e in at.error]
    if case == "too_large":  # the look-alike just above the limit passes
        ok = _upload(page(models / "dct.skops", max_mb=len(jpeg) / 2**20 * 1.01), name, data)
        assert not ok.error and ok.metric


def test_a_model_that_cannot_load_is_a_message(page, models, tmp_path):
    broken = tmp_path / "broken.skops"
    broken.write_bytes(b"PK\x03\x04 this is not a zip")
    at = _upload(page(broken), "x.jpg", _jpeg())
    _no_traceback(at)
    assert len(at.error) == 1 and "cannot load the model broken.skops" in at.error[0].value
    empty = tmp_path / "none"
    empty.mkdir()
    at = page(empty / "missing.skops")
    assert any("no model" in w.value for w in at.sidebar.warning)


# -- ONNX: export, static INT8, scoring without torch -----------------------------------------------------------

def test_onnx_export_scores_like_torch_and_int8_is_static(onnx_model):
    import onnx

    from forensics.app import OnnxDetector

    clf, fp32, int8 = onnx_model
    X = [natural_image(i, (50, 60)) for i in range(20, 30)]
    det = OnnxDetector(fp32)
    assert det.metadata_["kind"] == "image-classifier" and det.data_config_["input_size"] == (3, 32, 32)
    assert np.allclose(det.decision_function(X), clf.decision_function(X), atol=1e-4)
    assert np.allclose(det.predict_proba(X), clf.predict_proba(X), atol=1e-5)
    q = OnnxDetector(int8)
    assert q.metadata_["quantization"] == "static-int8" and q.metadata_["calibration_inputs"] == 8
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # static QDQ: ranges fixed at calibration
    assert "DynamicQuantizeLinear" not in ops
    zq, zf = q.decision_function(X), det.decision_function(X)
    assert np.corrcoef(zq, zf)[0, 1] > 0.9 and not np.allclose(zq, zf, atol=1e-6)


def test_onnx_export_and_loading_refusals(onnx_model, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from forensics import make_pipeline
    from forensics.app import OnnxDetector, export_detector
    from forensics.embeddings import export_onnx

    clf, fp32, _ = onnx_model
    with pytest.raises(ValueError, match="needs calibration"):
        export_detector(clf, tmp_path / "a.onnx", int8=True)
    piped = make_pipeline(features=None, impute=None, scale=False, equalize=True, head=clf)
    with pytest.raises(ValueError, match="steps before the network"):
        export_detector(piped, tmp_path / "b.onnx")
    with pytest.raises(TypeError, match="BackboneClassifier"):
        export_detector(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "c.onnx")
    other = export_onnx(clf.model_.backbone, tmp_path / "emb.onnx", input_shape=(3, 32, 32), metadata={"model_name": "x"})
    with pytest.raises(ValueError, match="an embedding network"):
        OnnxDetector(other)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match="not a readable ONNX file"):
        OnnxDetector(junk)
    with pytest.raises(AppError, match="cannot use emb.onnx"):
        load_detector(other)


def test_occlusion_map_finds_the_only_region_the_network_reads(tmp_path):
    torch = pytest.importorskip("torch")
    from forensics.app import OnnxDetector, occlusion_map
    from forensics.embeddings import export_onnx

    class TopLeft(torch.nn.Module):  # logit = sum of the normalised input over the top-left quadrant
        def forward(self, x):
            return x[:, :, :16, :16].sum(dim=(1, 2, 3))[:, None]

    meta = dict(kind="image-classifier", model_name="top-left", input_size=[3, 32, 32], mean=[0.0] * 3,
                std=[1.0] * 3, interpolation="bilinear", classes=[0, 1])
    path = export_onnx(TopLeft(), tmp_path / "tl.onnx", input_shape=(3, 32, 32), metadata=meta)
    heat, logit = occlusion_map(OnnxDetector(path), np.full((64, 64, 3), 200, np.uint8), grid=4)
    assert logit == pytest.approx(16 * 16 * 3 * 200 / 255, rel=1e-5)
    assert heat.shape == (64, 64)
    assert heat[8, 8] == pytest.approx(1.0) and heat[8, 23] == pytest.approx(1.0)  # centres of two inside cells
    assert heat[56, 56] == 0.0 and heat[40, 56] == 0.0  # centres of cells outside the quadrant
    ramp = np.linspace(0, 255, 64 * 64 * 3).reshape(64, 64, 3).astype(np.uint8)
    a = occlusion_map(OnnxDetector(path), ramp, grid=5, batch_size=3)[0]  # chunks of 3 across 25 cells
    b = occlusion_map(OnnxDetector(path), ramp, grid=5, batch_size=25)[0]
    assert np.allclose(a, b, atol=1e-6) and a.max() > 0.9
    with pytest.raises(ValueError, match="grid"):
        occlusion_map(OnnxDetector(path), np.zeros((8, 8, 3), np.uint8), grid=1)
    with pytest.raises(ValueError, match="batch_size"):
        occlusion_map(OnnxDetector(path), np.zeros((8, 8, 3), np.uint8), batch_size=0)


def test_page_with_an_onnx_model_shows_the_occlusion_overlay(page, onnx_model):
    clf, fp32, _ = onnx_model
    data = _jpeg(4)
    at = _upload(page(fp32), "y.jpg", data, "image/jpeg")
    _no_traceback(at)
    assert not at.error
    assert at.metric[0].value == f"{clf.predict_proba([data])[0, 1]:.3f}"
    assert len(at.get("image")) == 3  # the upload, and the picture beside its occlusion overlay
    assert any("occlusion sensitivity" in c.value for c in at.caption)


def test_scoring_with_onnx_and_handcrafted_models_never_imports_torch(models, onnx_model, tmp_path):
    _, fp32, int8 = onnx_model
    video = _video(tmp_path / "v.mp4", n=6)
    image = tmp_path / "x.jpg"
    image.write_bytes(_jpeg(5))
    code = textwrap.dedent(f"""
        import sys
        from streamlit.testing.v1 import AppTest
        from forensics.app import load_detector, score_upload
        for model in ({str(fp32)!r}, {str(int8)!r}, {str(models / 'dct.skops')!r}):
            det = load_detector(model)
            for f in ({str(image)!r}, {str(video)!r}):
                r = score_upload(det, open(f, "rb").read(), name=f, n_frames=3, faces=False)
                assert r.explanation is not None, (model, f)
        import os
        os.environ["FORENSICS_APP_MODEL"] = {str(fp32)!r}
        at = AppTest.from_file({str(page_path())!r}, default_timeout=120).run()
        at.file_uploader[0].upload("x.jpg", open({str(image)!r}, "rb").read(), "image/jpeg")
        at.run()
        assert at.metric and not at.error and not at.exception
        print("torch imported:", "torch" in sys.modules)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "torch imported: False" in res.stdout


def test_a_torch_model_is_refused_with_advice_when_torch_is_missing(models, onnx_model, monkeypatch):
    import importlib.util

    from forensics import save

    clf, _, _ = onnx_model
    path = models / "deep.joblib"
    save(clf, path)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(AppError, match="export the network to ONNX"):
        load_detector(path)
    monkeypatch.undo()
    det = load_detector(path)  # with torch: Grad-CAM explains it
    report = score_upload(det, _jpeg(6), name="z.jpg")
    assert det.family == "deep" and report.explanation.kind == "grad-cam"
    assert report.explanation.overlay.shape == (96, 128, 3)


# -- the launcher -------------------------------------------------------------------------------------------------

def test_app_verb_is_registered_and_builds_the_streamlit_command(capsys, models):
    from forensics.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["app", "--help"])
    assert exc.value.code == 0 and "Streamlit" in capsys.readouterr().out
    args = parse_args(["--model", str(models / "dct.skops"), "--port", "8765", "--max-mb", "12.5"])
    argv, env = command(args)
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4] == str(page_path())
    assert argv[argv.index("--server.port") + 1] == "8765" and argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.maxUploadSize") + 1] == "12" and argv[argv.index("--server.headless") + 1] == "true"
    assert env["FORENSICS_APP_MODELS"] == str(models.resolve()) and env["FORENSICS_APP_MAX_MB"] == "12.5"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)


def test_app_reads_a_config_and_flags_override_it(tmp_path, models, capsys):
    from forensics.app._launch import main as app_main
    from forensics.cli import main

    config = tmp_path / "app.yaml"
    config.write_text(f"app:\n  port: 8600\n  host: 0.0.0.0\n  max_mb: 3\ndetector:\n  model: {models / 'dct.skops'}\n")
    args = parse_args(["--config", str(config)])
    assert (args.port, args.host, args.max_mb, args.model) == (8600, "0.0.0.0", 3.0, str(models / "dct.skops"))
    assert (args.demo, args.open_browser, args.models) == (False, False, None)  # the defaults, not given
    args = parse_args(["--config", str(config), "--port", "8601"])  # the flag wins
    assert (args.port, args.host) == (8601, "0.0.0.0")
    argv, env = command(args)
    assert argv[argv.index("--server.port") + 1] == "8601" and env["FORENSICS_APP_MAX_MB"] == "3"
    assert parse_args([]).port == 8501 and parse_args([]).host == "127.0.0.1"  # no config: the defaults
    config.write_text("app:\n  port: seventy\n")
    assert app_main(["--config", str(config)]) == 2
    assert "app.port: expected an integer" in capsys.readouterr().err
    config.write_text("app:\n  prot: 8600\n")  # a typo is refused, as by every verb
    assert main(["app", "--config", str(config)]) == 2
    assert "unknown key 'app.prot'" in capsys.readouterr().err


def test_launcher_refusals(capsys, tmp_path, monkeypatch):
    import importlib.util

    from forensics.app._launch import main as app_main

    with pytest.raises(SystemExit) as exc:
        app_main(["--port", "0"])
    assert exc.value.code == 2
    assert app_main(["--port", "1", "--model", str(tmp_path / "missing.skops")]) == 1
    assert "model not found" in capsys.readouterr().err
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name, *a))
    assert app_main([]) == 1
    assert "scikit-forensics[app]" in capsys.readouterr().err



def test_demo_model_is_reused_only_by_the_version_and_settings_that_wrote_it(tmp_path, monkeypatch):
    """The --demo model is cached in a folder across runs: reused by the same forensics version and
    settings, refitted (never reused) for another version, whose features may differ."""
    import forensics
    from forensics import load
    from forensics.app._launch import train_demo_model

    first = train_demo_model(tmp_path, n_per_class=6, seed=3)
    assert first.name == f"demo-dct-lr-{forensics.__version__}-n6-s3.skops"
    stamp = first.stat().st_mtime_ns
    assert train_demo_model(tmp_path, n_per_class=6, seed=3) == first and first.stat().st_mtime_ns == stamp
    other_seed = train_demo_model(tmp_path, n_per_class=6, seed=4)  # other settings: another file
    assert other_seed != first and other_seed.is_file()
    monkeypatch.setattr(forensics, "__version__", "9.9.9")
    upgraded = train_demo_model(tmp_path, n_per_class=6, seed=3)
    assert upgraded.name == "demo-dct-lr-9.9.9-n6-s3.skops" and upgraded.is_file()
    assert first.is_file() and first.stat().st_mtime_ns == stamp  # the old version's file is left alone
    assert hasattr(load(upgraded), "predict_proba")


# -- end to end in a real browser -----------------------------------------------------------------------------------

def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("the browser test needs Debian's chromium and chromium-driver (apt-get install chromium "
                    "chromium-driver)")
    pytest.importorskip("selenium", reason="the browser test needs selenium (pip install selenium)")
    return chromium, driver


def test_in_a_headless_browser_upload_read_the_score_and_screenshot(models, tmp_path):
    chromium, driver = _browser()
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    image = tmp_path / "upload.jpg"
    image.write_bytes(_jpeg(7))
    expected = score_upload(load_detector(models / "dct.skops"), image.read_bytes(), name="upload.jpg").score
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv, env = command(parse_args(["--model", str(models / "dct.skops"), "--port", str(port)]))
    server = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()[-2000:]
            time.sleep(0.2)
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1400"):
            options.add_argument(arg)
        browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)
        try:
            browser.get(f"http://127.0.0.1:{port}/")
            upload = WebDriverWait(browser, 60).until(
                lambda b: b.find_elements(By.CSS_SELECTOR, "input[type=file]"))[0]
            upload.send_keys(str(image))
            values = WebDriverWait(browser, 120).until(lambda b: [
                e.text for e in b.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricValue"]') if e.text])
            WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]'))
            shot = tmp_path / "page.png"
            assert browser.save_screenshot(str(shot))
            body = browser.find_element(By.TAG_NAME, "body").text
        finally:
            browser.quit()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert values == [f"{expected:.3f}"]
    assert "Is this file real or fake?" in body and "upload.jpg" in body
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1200
    assert pixels.std() > 10  # not a blank page (a white page: 0)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # text, tables and widgets, not a flat fill


def test_public_names_resolve_lazily_and_the_cli_does_not_import_streamlit():
    import forensics.app
    from forensics._lazy import lazy_names

    submodules, attrs = lazy_names(forensics.app.__file__)
    assert {n for names in attrs.values() for n in names} | set(submodules) == set(forensics.app.__all__)
    for name in forensics.app.__all__:
        assert getattr(forensics.app, name) is not None, name
    code = "import sys, forensics.cli, forensics.app; print(sorted(m for m in ('streamlit', 'torch', 'onnxruntime') " \
           "if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
