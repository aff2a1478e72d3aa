"""The embedded demo set (forensics.datasets) and the `forensics demo` command."""

import io
import json
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image, JpegImagePlugin

import forensics
from forensics.cli import main
from forensics.datasets import DEMO_METHODS, make_demo_dataset, save_demo_dataset
from forensics.datasets._demo import _load_photos, _random_crop, _resample, _self_blend, _splice


@pytest.fixture(scope="module")
def demo():
    return make_demo_dataset(n_per_class=32, size=64, seed=5)


@pytest.fixture(scope="module")
def photos():
    return {p.name: p for p in _load_photos()}


def _decode(data):
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _textured_crop(photos, name="astronaut", size=64, seed=0):
    return _random_crop(photos[name], size, np.random.default_rng(seed))


# -- the data set -----------------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes_and_other_seed_differs():
    a = make_demo_dataset(n_per_class=9, size=48, seed=11)
    b = make_demo_dataset(n_per_class=9, size=48, seed=11)
    c = make_demo_dataset(n_per_class=9, size=48, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert list(a["item"]) == list(b["item"])
    assert sum(x == y for x, y in zip(a["item"], c["item"])) == 0


def test_classes_balanced_and_fakes_split_evenly_among_methods():
    demo = make_demo_dataset(n_per_class=13, size=48, seed=0)
    assert list(demo.columns) == ["item", "label", "method", "group", "source"]
    assert (demo["label"] == 0).sum() == 13 and (demo["label"] == 1).sum() == 13
    assert ((demo["method"] == "real") == (demo["label"] == 0)).all()
    counts = demo.loc[demo["label"] == 1, "method"].value_counts().to_dict()
    assert counts == {"self_blend": 5, "resample": 4, "splice": 4}
    assert set(DEMO_METHODS) == {"self_blend", "resample", "splice"}


def test_every_photo_hosts_as_many_reals_as_fakes(demo):
    host = demo["source"].str.split("+").str[0]
    table = pd.crosstab(host, demo["label"])
    assert (table[0] == table[1]).all()
    assert len(table) == len(demo.attrs["photos"])


def test_groups_are_the_source_photo(demo, photos):
    host = demo["source"].str.split("+").str[0]
    for name, group in zip(host, demo["group"]):
        assert photos[name].group == group
    assert photos["motorcycle_left"].group == photos["motorcycle_right"].group == "motorcycle"
    splices = demo[demo["method"] == "splice"]
    assert len(splices) and splices["source"].str.contains(r"\+").all()
    for source, group in zip(splices["source"], splices["group"]):
        donor = source.split("+")[1]
        assert photos[donor].group != group  # a splice brings content from another group
    assert not demo.loc[demo["method"] != "splice", "source"].str.contains(r"\+").any()


def test_real_items_are_native_resolution_crops_of_their_photo(demo, photos):
    reals = demo[demo["label"] == 0].head(6)
    for data, name in zip(reals["item"], reals["source"]):
        patch = cv2.cvtColor(_decode(data), cv2.COLOR_RGB2GRAY)
        scores = {}
        for other, photo in photos.items():
            full = cv2.cvtColor(np.ascontiguousarray(photo.rgb), cv2.COLOR_RGB2GRAY)
            scores[other] = float(cv2.matchTemplate(full, patch, cv2.TM_CCOEFF_NORMED).max())
        assert scores[name] > 0.97, (name, scores[name])
        assert max(scores, key=scores.get) in (name, {"motorcycle_left": "motorcycle_right",
                                                     "motorcycle_right": "motorcycle_left"}.get(name))


def test_no_codec_shortcut_every_item_encoded_alike(demo):
    tables, samplings = set(), set()
    for data in demo["item"]:
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == (64, 64)
            assert not im.info.get("progressive") and not im.info.get("progression")
            tables.add(tuple((k, tuple(v)) for k, v in sorted(im.quantization.items())))
            samplings.add(JpegImagePlugin.get_sampling(im))
        assert _decode(data).shape == (64, 64, 3)
    assert len(tables) == 1 and len(samplings) == 1
    assert samplings == {2}  # 4:2:0 for grey and colour photos alike
    # The grey photos (camera, moon, ...) are encoded as three-channel JPEGs like the others.
    gray = demo[demo["group"].isin(["camera", "moon", "brick", "grass", "gravel"])]
    assert len(gray) > 0


def test_grey_photos_stay_grey_whatever_the_manipulation(photos):
    demo = make_demo_dataset(n_per_class=48, size=48, seed=2)
    gray = demo[demo["group"].isin([p.group for p in photos.values() if p.is_gray])]
    assert set(gray["method"]) == {"real", *DEMO_METHODS}
    for data in gray["item"]:
        rgb = _decode(data).astype(int)
        # JPEG chroma of a grey picture is flat 128: colour differences stay at rounding level
        assert np.abs(rgb - rgb.mean(axis=2, keepdims=True)).max() <= 2


@pytest.mark.parametrize("bad", [dict(n_per_class=0), dict(size=16), dict(size=5000), dict(quality=0),
                                 dict(quality=101), dict(seed=-1)])
def test_invalid_parameters_raise(bad):
    with pytest.raises(ValueError):
        make_demo_dataset(**bad)


def test_non_integer_parameters_raise():
    with pytest.raises(TypeError):
        make_demo_dataset(size=64.0)


# -- the manipulations, at the array level before encoding ------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_self_blend_changes_pixels_only_inside_its_region(photos, seed):
    crop = _textured_crop(photos, seed=seed)
    out, mask = _self_blend(crop, np.random.default_rng(seed))
    assert out.shape == crop.shape and out.dtype == np.uint8
    outside = mask == 0
    assert 0.2 < outside.mean() < 0.95  # a region, neither empty nor the whole crop
    np.testing.assert_array_equal(out[outside], crop[outside])
    inside = mask >= 0.4
    changed = np.any(out != crop, axis=2)
    assert changed[inside].mean() > 0.5
    assert np.abs(out.astype(int) - crop)[inside].mean() > 1.0


def test_self_blend_of_a_grey_crop_stays_grey(photos):
    crop = _textured_crop(photos, name="camera")
    out, mask = _self_blend(crop, np.random.default_rng(0), is_gray=True)
    assert (mask > 0).any()
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


@pytest.mark.parametrize("seed", range(4))
def test_splice_pastes_the_donor_inside_its_region_only(photos, seed):
    host = _textured_crop(photos, "coffee", seed=seed)
    donor = _textured_crop(photos, "chelsea", seed=seed + 10)
    out, mask = _splice(host, donor, np.random.default_rng(seed))
    outside = mask == 0
    assert 0.2 < outside.mean() < 0.95
    np.testing.assert_array_equal(out[outside], host[outside])
    core = mask > 0.999
    assert core.sum() > 50
    np.testing.assert_array_equal(out[core], donor[core])  # fully pasted where the mask is 1
    edge = (mask > 0.1) & (mask < 0.9)  # feathered border: between host and donor
    lo = np.minimum(host, donor)[edge].astype(int) - 1
    hi = np.maximum(host, donor)[edge].astype(int) + 1
    assert np.all((out[edge] >= lo) & (out[edge] <= hi))


def _high_band_energy(img):
    spec = np.abs(np.fft.fft2(img.astype(float).mean(axis=2))) ** 2
    f = np.abs(np.fft.fftfreq(img.shape[0]))
    high = (f[:, None] > 0.25) | (f[None, :] > 0.25)
    return spec[high].sum()


@pytest.mark.parametrize("variant", ["area_bilinear", "area_nearest", "zero_insert"])
def test_resample_round_trip_changes_the_whole_crop(photos, variant):
    crop = _textured_crop(photos, "astronaut", seed=3)
    out, got = _resample(crop, np.random.default_rng(0), variant=variant)
    assert got == variant and out.shape == crop.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - crop)
    assert diff.mean() > 1.0
    # the change is spread over the whole crop, not one region
    assert all(q.mean() > 0.3 for q in (diff[:32, :32], diff[:32, 32:], diff[32:, :32], diff[32:, 32:]))
    if variant == "area_nearest":  # every 2x2 block repeats one low-resolution pixel
        for dy, dx in ((0, 1), (1, 0), (1, 1)):
            np.testing.assert_array_equal(out[dy::2, dx::2], out[::2, ::2])
    else:  # interpolation removes most of the upper half of the band
        assert _high_band_energy(out) < 0.5 * _high_band_energy(crop)


def test_resample_variant_is_drawn_from_the_generator(photos):
    crop = _textured_crop(photos)
    seen = {_resample(crop, np.random.default_rng(s))[1] for s in range(30)}
    assert seen == {"area_bilinear", "area_nearest", "zero_insert"}


# -- the folder layout ------------------------------------------------------------------------------

def test_save_demo_dataset_writes_the_generic_layout(tmp_path):
    manifest = save_demo_dataset(tmp_path, n_per_class=6, size=48, seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake", "real"]
    assert sorted(p.name for p in (tmp_path / "fake").iterdir()) == sorted(DEMO_METHODS)
    assert len(list((tmp_path / "real").glob("*.jpg"))) == 6
    for method in DEMO_METHODS:
        assert len(list((tmp_path / "fake" / method).glob("*.jpg"))) == 2
    reference = make_demo_dataset(n_per_class=6, size=48, seed=1)
    assert list(manifest["item"]) == list(reference["item"])
    for row in manifest.itertuples():
        with open(row.path, "rb") as fh:
            assert fh.read() == row.item
        parts = row.path.replace("\\", "/").split("/")
        assert (parts[-2] == "real") if row.label == 0 else (parts[-3:-1] == ["fake", row.method])
    with pytest.raises(FileExistsError):
        save_demo_dataset(tmp_path, n_per_class=6, size=48, seed=1)
    again = save_demo_dataset(tmp_path, n_per_class=6, size=48, seed=1, overwrite=True)
    assert list(again["path"]) == list(manifest["path"])


# -- the command line -------------------------------------------------------------------------------

def test_cli_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["demo", "--out", str(out), "--n-per-class", "20", "--size", "64", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "grouped by source photo" in printed and "leak" in printed
    assert str(out / "features.csv") in printed and str(out / "results.json") in printed
    table = pd.read_csv(out / "features.csv")
    results = json.loads((out / "results.json").read_text())
    assert len(table) == 40
    assert list(table.columns[-3:]) == ["label", "method", "group"]
    assert table.shape[1] - 3 == results["features"]["n_features"]
    assert all(c.count("__") == 2 for c in table.columns[:-3])
    assert table["label"].sum() == 20 and set(table["method"]) == {"real", *DEMO_METHODS}
    demo = make_demo_dataset(n_per_class=20, size=64, seed=0)
    assert list(table["group"]) == list(demo["group"])  # rows in manifest order
    assert len(results["fold_auc"]) == 5
    assert 0.0 <= results["auc_mean"] <= 1.0
    assert results["auc_mean"] == pytest.approx(np.mean(results["fold_auc"]), abs=1e-5)
    assert set(results["auc_per_method"]) == set(DEMO_METHODS)
    assert f"ROC-AUC {results['auc_mean']:.3f}" in printed
    # part two: the catalogue table; part three: the self-contained report
    catalogue = pd.read_csv(out / "catalogue.csv")
    assert {"spectrum-lr", "forensic-xgb"} <= set(catalogue["detector"]) and (catalogue["status"] == "ok").all()
    html = (out / "report" / "report.html").read_text()
    assert html.count("<img") >= 5 and html.count("src='data:image/png;base64,") == html.count("<img")


@pytest.mark.parametrize("argv", [
    ["demo", "--size", "abc"], ["demo", "--size", "8"], ["demo", "--n-per-class", "0"],
    ["demo", "--n-jobs", "0"], ["demo", "--bogus"], ["nonsense"], [],
])
def test_cli_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: forensics" in capsys.readouterr().err


def test_cli_unwritable_out_fails_fast_with_one_line(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code = main(["demo", "--out", str(blocker / "sub"), "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # failed before building anything
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("forensics demo: error: cannot write to --out")


def test_python_dash_m_runs_the_same_command_line():
    proc = subprocess.run([sys.executable, "-m", "forensics", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"forensics {forensics.__version__}"
