import numpy as np
import pytest
import pywt

from conftest import natural_image
from forensics.features import BlurFeatures, blur_features
from forensics.features._blur import blur_vector, sharpness_sums
from forensics.features._kernels._blur import haar_detail_energies
from reference_blur import edge_widths_ref, haar_detail_energies_ref, sharpness_cells_ref

SHAPES = [(3, 3), (3, 4), (4, 3), (7, 9), (13, 17), (64, 40)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("grid", [1, 3, 4, 7])
def test_sharpness_cells_matches_reference(shape, seed, dtype, grid):
    img = np.random.default_rng(seed).uniform(0, 255, shape).astype(dtype)
    cells, _ = sharpness_sums(img, grid)
    # the luma is read as float32; grid 7 leaves some cells without columns in narrow images
    np.testing.assert_allclose(cells, sharpness_cells_ref(img.astype(np.float32), grid), rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES + [(32, 33)])
@pytest.mark.parametrize("seed", [0, 1])
def test_edge_widths_match_reference(shape, seed):
    rng = np.random.default_rng(seed)
    img = np.repeat(np.cumsum(rng.normal(0, 20, shape[1]))[None], shape[0], 0) + rng.normal(0, 1, shape)
    img = img.astype(np.float32)
    _, widths = sharpness_sums(img, 4, 5.0)
    np.testing.assert_array_equal(widths, edge_widths_ref(img, 5.0))


@pytest.mark.parametrize("shape", [(8, 8), (13, 17), (64, 40), (33, 70)])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("levels", [1, 2, 3])
def test_haar_energies_match_pywavelets(shape, seed, levels):
    img = np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)
    out = np.zeros(levels)
    haar_detail_energies(img, levels, out)
    np.testing.assert_allclose(out, haar_detail_energies_ref(img, levels), rtol=1e-9)


def test_constant_image_has_zero_sharpness():
    vals = blur_vector(np.full((20, 20), 77.0, np.float32))
    names = BlurFeatures().fit()._feature_names()
    row = dict(zip(names, vals))
    assert row["blur__laplacian_var__log"] == 0.0
    assert row["blur__tenengrad__log"] == 0.0
    assert row["blur__brenner__log"] == 0.0
    assert np.isnan(row["blur__edge_width__mean"])  # no edges
    assert row["blur__edge_density__t20"] == 0.0
    assert np.isnan(row["blur__hf_ratio__haar3"])  # no detail energy at all


def test_hand_computed_values_on_a_ramp():
    # Y[i, j] = 3 j: Laplacian 0 everywhere, Sobel Gx = 4 * 2 * 3 = 24, Gy = 0, Dx = 6, Dy = 0.
    y = np.tile(np.arange(10, dtype=np.float32) * 3, (6, 1))
    row = dict(zip(BlurFeatures().fit()._feature_names(), blur_vector(y)))
    assert row["blur__laplacian_var__log"] == 0.0
    assert row["blur__tenengrad__log"] == pytest.approx(np.log1p(24.0 ** 2))
    assert row["blur__brenner__log"] == pytest.approx(np.log1p(36.0))


def test_step_edge_width_and_blurred_edge_is_wider():
    step = np.zeros((12, 24), np.float32)
    step[:, 12:] = 255
    ramp = np.tile(np.clip((np.arange(24) - 8) * 255 / 8, 0, 255), (12, 1)).astype(np.float32)
    names = BlurFeatures().fit()._feature_names()
    sharp = dict(zip(names, blur_vector(step)))
    soft = dict(zip(names, blur_vector(ramp)))
    assert sharp["blur__edge_width__mean"] == 1.0  # from column 11 to 12
    assert soft["blur__edge_width__mean"] == 8.0  # the ramp rises over 8 pixels
    assert soft["blur__laplacian_var__log"] < sharp["blur__laplacian_var__log"]


def test_hf_ratio_matches_pywavelets_directly():
    y = natural_image(3, (43, 61))[:, :, 0].astype(np.float32)
    coeffs = pywt.wavedec2(y[:40, :56].astype(np.float64), "haar", level=3)  # crop: multiples of 8
    e = [sum((b ** 2).sum() for b in lvl) for lvl in coeffs[1:]]  # levels 3, 2, 1
    row = dict(zip(BlurFeatures().fit()._feature_names(), blur_vector(y)))
    assert row["blur__hf_ratio__haar3"] == pytest.approx(e[2] / sum(e))


def test_local_inconsistency_detects_a_blurred_half():
    import cv2

    img = natural_image(1, (128, 128))
    half = img.copy()
    half[:, 64:] = cv2.GaussianBlur(img[:, 64:], (0, 0), 2.5)
    a = blur_features(img)
    b = blur_features(half)
    assert b["blur__local_lapvar_logrange__g4"] > a["blur__local_lapvar_logrange__g4"] + 1.0
    assert b["blur__local_lapvar_cv__g4"] > a["blur__local_lapvar_cv__g4"]


def test_grid_parameter_changes_names_and_values():
    img = natural_image(0, (64, 64))
    two = blur_features(img, grid=2)
    assert "blur__local_lapvar_cv__g2" in two
    assert len(two) == len(blur_features(img))


def test_dtypes_agree():
    img8 = natural_image(5, (33, 41))
    f8 = blur_features(img8)
    f32 = blur_features(img8.astype(np.float32) / 255)
    f64 = blur_features(img8.astype(np.float64) / 255)
    for k in f8:
        np.testing.assert_allclose([f32[k], f64[k]], [f8[k], f8[k]], rtol=1e-4, atol=1e-6, err_msg=k)


def test_tiny_images_give_nan_not_errors():
    row = blur_features(np.zeros((1, 1), np.uint8))
    assert all(np.isnan(v) for v in row.values())
