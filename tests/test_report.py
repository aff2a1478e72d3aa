"""The self-contained HTML report and the figures it is made of."""

import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from conftest import encode
from forensics import make_pipeline
from forensics.datasets import make_demo_dataset
from forensics.inspection import (
    ShapResult,
    average_spectra,
    build_report,
    plot_confusion_matrix,
    plot_correlation_matrix,
    plot_feature_distributions,
    plot_metric_bars,
    plot_reliability,
    plot_roc_pr,
    plot_shap_bar,
    plot_shap_beeswarm,
    plot_spectra,
)
from forensics.preprocessing import CorrelationFilter

pytest.importorskip("matplotlib")
pytest.importorskip("xgboost")
pytest.importorskip("shap")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECTIONS = ("1. Data set", "2. Shortcut audit", "3. Cross-validation", "4. Feature importance",
            "5. SHAP attributions", "6. Fourier spectra", "7. Provenance")


def _png_pixels(data):
    assert data[:8] == PNG_SIGNATURE
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def _fig_pixels(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    return _png_pixels(buf.getvalue())


@pytest.fixture(scope="module")
def demo():
    df = make_demo_dataset(n_per_class=40, size=64)
    return df


@pytest.fixture(scope="module")
def report(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    detector = make_pipeline("forensic-xgb", head__n_estimators=60)
    return build_report(list(demo["item"]), demo["label"].to_numpy(), detector=detector,
                        groups=demo["group"].to_numpy(), methods=demo["method"].to_numpy(), cv=4,
                        out_dir=out, title="Demo <report>", n_repeats=2, n_boot=300,
                        provenance={"command": "forensics report demo", "config": {"cv.folds": 4}})


# -- the report --------------------------------------------------------------------------------------

def test_report_writes_the_files_and_tables(report):
    assert report.html_path.name == "report.html" and report.html_path.is_file()
    assert report.markdown_path.name == "report.md" and report.markdown_path.is_file()
    assert report.html_path.parent == report.markdown_path.parent
    for path in [*report.figures.values(), *report.tables.values()]:
        assert path.is_file() and path.parent == report.html_path.parent
    assert {"roc_pr", "low_fpr", "confusion", "reliability", "folds", "methods", "gallery", "importance_features",
            "importance_families", "distributions", "correlation", "shap_bar", "shap_beeswarm",
            "spectra"} <= set(report.figures)
    assert {"operating_points", "errors"} <= set(report.tables)
    names = report.feature_names
    assert sorted(report.importance_features["name"]) == sorted(names)
    assert set(report.importance_families["name"]) == {n.split("__")[0] for n in names}
    assert report.importance_families["n_features"].sum() == len(names)
    assert len(report.cv.folds) == 4
    assert 0 <= report.cv_summary.loc["roc_auc", "mean"] <= 1
    assert set(report.cv.per_group.index) == {"all", "self_blend", "resample", "splice"}
    # SHAP explains the decorrelated model inputs of at most max_items_for_shap items
    assert report.shap.values.shape[0] == 80 and report.shap.values.shape[1] < len(names)
    assert set(report.shap_features["name"]) <= set(names)
    assert report.timings["total"] >= report.timings["features"] > 0
    # a handcrafted detector is explained by SHAP: no Grad-CAM gallery
    assert report.cam_gallery is None and "cam_gallery" not in report.figures
    assert "Grad-CAM" not in report.html_path.read_text(encoding="utf-8")


def test_html_has_the_sections_and_only_inline_resources(report):
    text = report.html_path.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in text
    assert "Demo &lt;report&gt;" in text  # the title is escaped
    assert not re.search(r"https?://", text)
    assert not re.search(r"<(link|script|iframe)\b", text)
    sources = re.findall(r"<img\b[^>]*\bsrc='([^']*)'", text)
    assert len(sources) == len(report.figures) == text.count("<img")
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        pixels = _png_pixels(base64.b64decode(src.split(",", 1)[1]))
        assert pixels.std() > 0  # not a blank image
    assert "<table>" in text and "mean ± std over folds" in text
    # the pooled table has one row per manipulation method (CVResult.per_group), and says so: "group" is
    # what folds keep together (source photos), not what these rows are
    assert "<h3>Per manipulation method (pooled out-of-fold scores)</h3>" in text and "Per group" not in text


def test_markdown_links_the_figure_files(report):
    md = report.markdown_path.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in md
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(linked) == sorted(p.name for p in report.figures.values())
    assert "| ROC-AUC |" in md
    assert "### Per manipulation method (pooled out-of-fold scores)" in md and "Per group" not in md
    assert "Row `all`: every item" in md


def test_operating_points_errors_and_provenance(report, demo):
    from forensics.metrics import roc_auc_ci, tpr_at_fpr

    y, oof = demo["label"].to_numpy(), report.cv.oof_scores
    row = report.operating_points.loc["item"]
    auc, low, high = roc_auc_ci(y, oof, groups=demo["group"].to_numpy(), n_boot=300)
    assert (row["roc_auc"], row["ci_low"], row["ci_high"]) == pytest.approx((auc, low, high))
    assert row["ci_resamples"] == "groups" and row["n_real"] == 40 and row["smallest_fpr"] == pytest.approx(1 / 40)
    assert row["tpr_at_fpr_1%"] == tpr_at_fpr(y, oof, 0.01)
    # 40 reals measure no FPR below 1/40: the Markdown says what the column then holds, as the HTML does
    md = report.markdown_path.read_text(encoding="utf-8")
    section = md.split("### Operating points", 1)[1].split("###", 1)[0]
    assert "No FPR below 1/n_real" in section and "the TPR at FPR 0" in section
    errors = report.tables["errors"].read_text()
    worst_real = int(np.argmax(np.where(y == 0, oof, -np.inf)))
    assert f"item {worst_real}" in errors and "false negative" in errors  # items in memory are named by index
    html = report.html_path.read_text(encoding="utf-8")
    assert "forensics report demo" in html and "cv:" in html and "folds: 4" in html  # command and config
    assert "scikit-learn" in html and "Operating points" in html and "Most confident errors" in html


def test_report_from_a_frame_level_table_of_videos(tmp_path):
    from forensics import extract_table, load_data
    from forensics.datasets import save_demo_videos
    from forensics.metrics import aggregate_scores

    save_demo_videos(tmp_path / "v", n_per_class=6, n_frames=5, size=48, seed=4)
    (tmp_path / "v" / "fake" / "resample" / "zz_broken.mp4").write_bytes(b"\x00" * 100)
    manifest = load_data(tmp_path / "v", group_pattern=r"_(\w+)\.mp4$")
    detector = make_pipeline(features=["blur", "spectral"], head="logistic")
    table = extract_table(manifest, features=detector.named_steps["features"], n_frames=3)
    assert (table.data["status"] == "error").sum() == 1
    res = build_report(table, detector=detector, cv=3, out_dir=tmp_path / "r", n_repeats=1, n_boot=200,
                       max_items_for_shap=20, gallery=2, aggregate="median")
    assert res.cv.aggregate == "median" and len(res.cv.video_scores) == 12
    # the unreadable video is left out, and the data set section names it with its reason
    left = re.search(r"\| left out \(status error\) \| (.*) \|", res.markdown_path.read_text(encoding="utf-8"))
    assert left and left.group(1).startswith(f"1: {tmp_path / 'v' / 'fake' / 'resample' / 'zz_broken.mp4'} (")
    assert "left out (status error)" in res.html_path.read_text(encoding="utf-8")
    ok = table.subset(table.ok)
    np.testing.assert_allclose(res.cv.video_scores, aggregate_scores(res.cv.oof_scores, ok.videos, how="median"))
    assert list(res.operating_points.index) == ["frame", "video"]
    assert {"video_roc_pr", "low_fpr", "gallery"} <= set(res.figures) and "spectra" not in res.figures
    assert {"cv_video_summary", "cv_video_folds", "cv_video_groups"} <= set(res.tables)
    text = res.html_path.read_text(encoding="utf-8")
    assert "Video level" in text and "read, not extracted again" in text
    assert "<h4>Per manipulation method</h4>" in text and "Per group" not in text
    assert "#### Per manipulation method" in res.markdown_path.read_text(encoding="utf-8")
    errors = res.tables["errors"].read_text()
    assert ".mp4" in errors  # videos are named by their files
    with pytest.raises(ValueError, match="equalization is chosen at extraction"):
        build_report(table, detector=detector, equalize=True, out_dir=tmp_path / "x")
    with pytest.raises(ValueError, match="deep detector: it reads the images themselves"):
        build_report(table, detector="cnn-scratch", out_dir=tmp_path / "y")


def test_flagged_audit_properties_are_red(tmp_path):
    rng = np.random.default_rng(0)

    def jpeg(q):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(buf, "JPEG", quality=q)
        return buf.getvalue()

    from forensics.inspection import audit
    from forensics.inspection._report import _audit_html

    rep = audit([jpeg(90) for _ in range(20)] + [jpeg(60) for _ in range(20)], [0] * 20 + [1] * 20, warn=False)
    html = _audit_html(rep, "Files as given")
    assert "class=\"warn\"" in html and "SHORTCUT WARNING" in html
    flagged_rows = re.findall(r'<tr class="flag">(.*?)</tr>', html)
    assert len(flagged_rows) == len(rep.flagged) > 0
    assert any("jpeg_quant_tables" in row for row in flagged_rows)
    assert not any(">format<" in row for row in flagged_rows)


def test_equalized_report_with_a_linear_head_side_by_side_with_the_items_as_given(demo, tmp_path):
    from forensics.media import CodecEqualizer
    from forensics.model_selection import cross_validate_detector

    half = demo.iloc[::2]  # 20 per class is enough here
    detector = make_pipeline(features=["blur", "codec"], head="logistic")
    items, y = list(half["item"]), half["label"].to_numpy()
    res = build_report(items, y, detector=detector, cv=3, equalize="both", out_dir=tmp_path, max_items_for_shap=20,
                       n_repeats=1, n_boot=100, gallery=0)
    assert res.audit_equalized is not None
    assert res.audit_equalized.values["jpeg_quality_luma"].nunique() == 1  # all re-encoded alike
    assert res.shap.explainer == "permutation" and res.shap.values.shape[0] == 20
    text = res.html_path.read_text(encoding="utf-8")
    assert "After codec equalization" in text and "codec-equalized" in text
    assert "methods" not in res.figures and "gallery" not in res.figures  # no methods given, gallery=0
    # the side by side: the same folds on the items as given and equalized; the detail is the equalized run
    rest = make_pipeline(features=None, head="logistic")
    feats = detector.named_steps["features"]
    asis = cross_validate_detector(rest, feats.fit_transform(items), y, cv=3)
    eq = cross_validate_detector(rest, feats.fit_transform(CodecEqualizer().fit_transform(items)), y, cv=3)
    table = res.comparison
    assert table.columns.tolist() == ["as given", "equalized", "change"]
    assert table.loc["ROC-AUC", "change"] == pytest.approx(eq.summary.loc["roc_auc", "mean"]
                                                           - asis.summary.loc["roc_auc", "mean"])
    assert res.cv.summary.loc["roc_auc", "mean"] == pytest.approx(eq.summary.loc["roc_auc", "mean"])
    assert "As given vs codec-equalized" in text


def test_report_needs_a_features_step(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    with pytest.raises(ValueError, match="'features' step.*or end in a forensics.deep.BackboneClassifier"):
        build_report([b""] * 4, [0, 1, 0, 1], detector=Pipeline([("head", LogisticRegression())]), out_dir=tmp_path)


def test_deep_report_has_a_gradcam_gallery_instead_of_importance_and_shap(tmp_path):
    """cnn-small on 12 + 12 planted-artefact images, 2 folds: the report maps the gallery items with their fold's
    model and draws them; the sections of feature columns (importance, SHAP) are not there."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("pytorch_grad_cam")
    from sklearn.pipeline import Pipeline

    from forensics.datasets import make_planted_artifact_images
    from forensics.deep import BackboneClassifier

    X, y, _ = make_planted_artifact_images(12, size=32, patch=8, amplitude=40, seed=0)
    items = [encode(x, "PNG") for x in X]
    clf = BackboneClassifier(model_name="cnn-small", weights=None, input_size=32, epochs=3, frozen_epochs=0,
                             batch_size=16, augment=False, validation_fraction=None, random_state=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = build_report(items, y, detector=Pipeline([("head", clf)]), cv=2, out_dir=tmp_path, n_boot=50,
                           gallery=2, name="cnn-small")
    finally:
        torch.set_num_threads(threads)
    assert res.shap is None and res.importance_features is None and res.feature_names == []
    assert {"roc_pr", "confusion", "gallery", "cam_gallery", "spectra"} <= set(res.figures)
    assert not {"importance_features", "shap_bar", "distributions", "correlation"} & set(res.figures)
    assert not {"importance_features", "shap_features"} & set(res.tables)
    # the gallery's groups follow the out-of-fold scores, each item judged at its own fold's threshold
    oof, thr = res.cv.oof_scores, res.cv.thresholds[res.cv.test_fold]
    want = {"confident_fakes": (1, True), "confident_reals": (0, False), "false_positives": (0, True),
            "false_negatives": (1, False)}
    shown = 0
    for group, idx in res.cam_gallery.items():
        label, called_fake = want[group]
        assert len(idx) <= 2
        for i in idx:
            assert y[i] == label and (oof[i] >= thr[i]) == called_fake
        others = [j for j in range(len(y)) if y[j] == label and (oof[j] >= thr[j]) == called_fake and j not in idx]
        if others and idx:  # the most confident of its group
            scores = oof[idx]
            assert (scores.min() >= oof[others].max()) if group in ("confident_fakes", "false_positives") \
                else (scores.max() <= oof[others].min())
        shown += len(idx)
    assert shown >= 4  # both classes are there, right or wrong
    text = res.html_path.read_text(encoding="utf-8")
    for section in ("3. Cross-validation", "4. Where the network looks (Grad-CAM, held-out folds)",
                    "5. Fourier spectra", "6. Provenance"):
        assert section in text
    assert "Feature importance" not in text and "SHAP attributions" not in text
    assert "none: the network reads the pixels" in text
    src = re.search(r"<img alt='cam_gallery' src='data:image/png;base64,([^']*)'", text).group(1)
    pixels = _png_pixels(base64.b64decode(src))
    assert pixels.std() > 20  # not blank
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    assert (spread > 100).mean() > 0.1  # the jet overlays: saturated colour over a large part of the figure
    md = res.markdown_path.read_text(encoding="utf-8")
    assert "![cam_gallery](figure_cam_gallery.png)" in md and "SHAP" not in md


def test_report_renders_in_headless_chromium(report, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); the HTML is checked "
                    "without rendering in the other tests")
    shot = tmp_path / "shot.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,4000",
           report.html_path.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (4000, 1280)
    assert pixels.std() > 20
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 200  # text, tables and figures, not a blank or error page


# -- the figures ------------------------------------------------------------------------------------

def test_feature_distributions_pick_the_important_features():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    F = rng.normal(size=(100, 5))
    F[:, 3] += 3 * y
    names = [f"f__{j}" for j in range(5)]
    fig = plot_feature_distributions(F, y, feature_names=names, top_k=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("f__3")  # the separating feature (univariate AUC farthest from 0.5)
    import pandas as pd

    fig = plot_feature_distributions(F, y, feature_names=names, importance=pd.DataFrame({"name": ["f__1", "f__0"]}))
    assert [t.split("\n")[0] for t in (ax.get_title() for ax in fig.axes) if t] == ["f__1", "f__0"]
    assert _fig_pixels(fig).std() > 0


def test_correlation_matrix_marks_the_dropped_features_in_red():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 60))
    F = np.c_[a, 2 * a + 1e-3 * rng.normal(size=60), b]
    names = ["x__a", "x__twice_a", "y__b"]
    filt = CorrelationFilter(keep="missing").fit(F)  # fitted on an array: columns x0, x1, x2
    fig = plot_correlation_matrix(correlation_filter=filt, feature_names=names)
    ax = fig.axes[0]
    labels = {t.get_text(): t.get_color() for t in ax.get_yticklabels()}
    assert labels["x__twice_a"] == "red"
    assert labels["x__a"] != "red" and labels["y__b"] != "red"
    image = ax.get_images()[0].get_array()
    assert image[0, 1] == pytest.approx(filt.correlation_.iloc[0, 1])
    assert _fig_pixels(plot_correlation_matrix(F, feature_names=names)).std() > 0


def test_score_figures():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    s = np.clip(0.3 + 0.4 * y + 0.2 * rng.normal(size=100), 0, 1)
    fig = plot_roc_pr(y, s, test_fold=np.arange(100) % 3)
    assert len(fig.axes) == 2 and "AUC" in fig.axes[0].get_legend().get_texts()[0].get_text()
    fig = plot_confusion_matrix(y, s, 0.5)
    texts = [t.get_text() for t in fig.axes[0].texts]
    tn = int(np.sum((y == 0) & (s < 0.5)))
    assert texts[0].split("\n")[0] == str(tn)
    assert sum(int(t.split("\n")[0]) for t in texts) == 100
    for fig in (plot_reliability(y, s), plot_metric_bars([0.7, 0.8, 0.6], title="per fold")):
        assert _fig_pixels(fig).std() > 0


@pytest.mark.parametrize("min_count", [1, 9, 10, 11, 30])
def test_reliability_draws_only_bins_with_enough_items(min_count):
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 50)
    s = np.clip(0.3 + 0.4 * y + 0.2 * rng.normal(size=100), 0, 1)
    counts = np.histogram(s, bins=np.linspace(0, 1, 11))[0]
    fig = plot_reliability(y, s, n_bins=10, min_count=min_count)
    curve = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("detector")]
    enough = counts >= min_count
    if enough.any():
        line, = curve
        frac, mean = calibration_curve(y, s, n_bins=10)
        keep = np.isin(np.round(mean, 12), np.round(line.get_xdata(), 12))
        assert len(line.get_xdata()) == int(enough.sum()) == int(keep.sum())
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(labels) == sorted(f"n={c}" for c in counts if c > 0)  # every bin's count is written
    assert fig.axes[1].get_lines()[0].get_ydata()[0] == min_count


@pytest.mark.parametrize("n_bins", [5, 10])
def test_reliability_legend_names_the_bins_of_its_ece(n_bins):
    """The legend's ECE is over the figure's bins, which differ from the tables' 15: it says so."""
    from forensics.metrics import expected_calibration_error

    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 60)
    s = np.clip(0.3 + 0.4 * y + 0.2 * rng.normal(size=120), 0, 1)
    fig = plot_reliability(y, s, n_bins=n_bins, min_count=1)
    label, = [line.get_label() for line in fig.axes[0].get_lines() if line.get_label().startswith("detector")]
    ece = expected_calibration_error(y, s, n_bins=n_bins)
    assert ece != pytest.approx(expected_calibration_error(y, s), abs=5e-4)  # the bin count matters here
    assert label == f"detector (ECE {ece:.3f}, {n_bins} bins)"


def test_error_examples_are_the_most_confident_mistakes():
    from forensics.inspection import error_examples, plot_error_gallery, plot_low_fpr

    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.9, 0.1, 0.6, 0.2, 0.95, 0.05])
    table = error_examples(y, s, names=list("abcdef"), k=2)
    assert table[["kind", "name"]].values.tolist() == [["false positive", "a"], ["false positive", "c"],
                                                       ["false negative", "f"], ["false negative", "d"]]
    images = [np.full((8, 8, 3), 40 * i, dtype=np.uint8) for i in range(6)]
    fig = plot_error_gallery(images, y, s, names=list("abcdef"), k=2)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["a", "c", "f", "d"]
    fig = plot_low_fpr(np.repeat([0, 1], 50), np.r_[np.linspace(0, 0.6, 50), np.linspace(0.4, 1, 50)])
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes) >= 2


def _glyph_warnings(fig):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png", dpi=40)  # glyphs are looked up when the text is drawn
    return [str(w.message) for w in caught if "Glyph" in str(w.message)]


def test_gallery_draws_names_in_scripts_the_fonts_lack_without_warnings():
    from matplotlib import font_manager
    from matplotlib.font_manager import FontProperties

    from forensics.inspection import plot_error_gallery
    from forensics.inspection._plots import MISSING_GLYPH, _drawable

    y = np.array([0, 0, 1, 1])
    s = np.array([0.9, 0.1, 0.2, 0.8])
    names = ["写真.png", "b.png", "café.png", "d.png"]
    images = [np.full((8, 8, 3), 40 * i, dtype=np.uint8) for i in range(4)]
    fig = plot_error_gallery(images, y, s, names=names, k=1)
    assert _glyph_warnings(fig) == []
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes if ax.get_title()]
    font = font_manager.get_font(font_manager.findfont(FontProperties()))
    if not font.get_char_index(ord("写")):  # the default font lacks it (no CJK font installed)
        assert titles == [MISSING_GLYPH * 2 + ".png", "café.png"]  # Latin accents are drawn as they are
        assert _glyph_warnings(_figure_titled("写真.png")) != []  # the warning the replacement avoids
    else:
        assert titles == ["写真.png", "café.png"]
    assert _drawable("a_b.png\n") == "a_b.png\n"  # plain text is left alone


def _figure_titled(text):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.subplots().set_title(text)
    return fig


def test_feature_distributions_put_the_legend_on_the_first_panel_with_values():
    import warnings

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    F = np.column_stack([np.full(40, np.nan), rng.normal(size=40) + y, rng.normal(size=40)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plot_feature_distributions(F, y, feature_names=["a", "b", "c"], features=["a", "b", "c"])
    assert [str(w.message) for w in caught if "legend" in str(w.message)] == []
    assert fig.axes[0].get_legend() is None and fig.axes[1].get_legend() is not None
    assert [t.get_text() for t in fig.axes[0].texts] == ["no finite value"]
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels == ["real (n=20)", "fake (n=20)"]


def test_shap_figures_order_features_by_mean_abs():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(30, 3)) * np.array([0.1, 2.0, 0.5])
    res = ShapResult(values=values, base_value=0.0, names=["a__x", "b__y", "a__z"], data=rng.normal(size=(30, 3)))
    fig = plot_shap_bar(res)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["b__y", "a__z", "a__x"]
    fig = plot_shap_beeswarm(res)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["b__y", "a__z", "a__x"]
    assert _fig_pixels(fig).std() > 0


def test_average_spectra_finds_a_periodic_pattern_in_the_fakes():
    # Fakes carry a vertical-stripe pattern of period 4 px: their mean spectrum has extra power
    # at horizontal frequency 1/4, i.e. 8 bins right of the centre of a 32-px crop.
    rng = np.random.default_rng(0)
    items, y = [], []
    for k in range(12):
        h, w = (40, 36) if k % 2 else (32, 48)  # different sizes: cropped to the smallest side, 32
        img = rng.normal(128, 10, size=(h, w))
        if k >= 6:
            img += 20 * np.cos(2 * np.pi * np.arange(w) / 4)[None, :]
        items.append(np.clip(img, 0, 255).astype(np.uint8))
        y.append(int(k >= 6))
    sp = average_spectra(items, np.array(y), n_bins=16)
    assert sp["size"] == 32 and sp["real"].shape == (32, 32)
    diff = sp["fake"] - sp["real"]
    peak = np.unravel_index(np.argmax(diff), diff.shape)
    assert peak in {(16, 16 + 8), (16, 16 - 8)}
    assert sp["profile_fake"].shape == (6, 16)
    fig = plot_spectra(spectra=sp)
    assert _fig_pixels(fig).std() > 0
