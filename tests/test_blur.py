import warnings

import numpy as np
import pytest
import pywt

from conftest import natural_image
from param_contract import COMMON, check_bounds, check_defaults
from kernel_contract import check_declared_signatures
from forensics.features import BlurFeatures, blur_features
from forensics.features._blur import _bounds, blur_vector, sharpness_sums
from forensics.features._kernels._blur import haar_detail_energies
from reference_blur import blur_row_ref, edge_widths_ref, haar_detail_energies_ref, sharpness_cells_ref

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
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the undefined ratios are NaN by rule, not by a 0 / 0 warning
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


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(BlurFeatures, dict(grid=4, edge_threshold=20.0, **COMMON),
                   functions=[blur_features, blur_vector])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(BlurFeatures, dict(grid=(1, 64), edge_threshold=(0.0, 255.0)))


# -- whole rows against the formulas, on fixtures where every term matters (issue 16) -----------

def _curved(shape, seed):
    """Texture plus a quadratic surface: the Laplacian has a non-zero mean, so Var(L) needs its
    mean term, and cells differ in sharpness (the coefficient of variation is not 0)."""
    h, w = shape
    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    img = natural_image(seed, shape)[:, :, 1].astype(np.float64) * (0.3 + 0.7 * (jj / w))
    img = img + 0.4 * ii ** 2 + 0.25 * jj ** 2
    return np.rint(img * 250 / img.max()).astype(np.uint8)  # a grey 8-bit image: its luma is itself


@pytest.mark.parametrize(("shape", "grid", "threshold"), [
    ((3, 3), 1, 20.0), ((3, 11), 2, 5.0), ((11, 3), 3, 20.0), ((9, 8), 4, 0.0), ((37, 45), 5, 8.0),
    ((64, 40), 4, 20.0), ((50, 71), 7, 40.0), ((8, 129), 3, 255.0),
])
def test_rows_match_the_formulas(shape, grid, threshold):
    y = _curved(shape, sum(shape))
    assert abs(sharpness_cells_ref(y, 1)[0, 1]) > 0  # sum of L: the mean term of Var(L) matters
    got = blur_vector(y, grid=grid, edge_threshold=threshold)
    want = blur_row_ref(y, grid, threshold)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    ext = BlurFeatures(grid=grid, edge_threshold=threshold).fit()
    np.testing.assert_allclose(ext.transform([y])[0], got, rtol=0, atol=0)


def test_constant_laplacian_has_zero_variance_and_density_is_a_fraction():
    # Y = 1.5 i^2 + 0.5 j^2: the Laplacian is 4 everywhere, so Var(L) = E[L^2] - E[L]^2 = 16 - 16 = 0
    ii, jj = np.meshgrid(np.arange(12.0), np.arange(15.0), indexing="ij")
    row = dict(zip(BlurFeatures().fit()._feature_names(), blur_vector((1.5 * ii ** 2 + 0.5 * jj ** 2))))
    assert row["blur__laplacian_var__log"] == 0.0
    assert np.isnan(row["blur__local_lapvar_cv__g4"]) and row["blur__local_lapvar_logrange__g4"] == 0.0
    step = np.zeros((6, 10), np.float32)
    step[:, 5:] = 100.0
    row = dict(zip(BlurFeatures().fit()._feature_names(), blur_vector(step)))
    assert row["blur__edge_density__t20"] == pytest.approx(4 / (4 * 8))  # one edge pixel per interior row


@pytest.mark.parametrize("shape", [(2, 9), (9, 2), (2, 2), (1, 30), (30, 1)])
def test_images_thinner_than_three_pixels_give_nan(shape):
    assert np.isnan(blur_vector(np.random.default_rng(0).uniform(0, 255, shape))).all()


@pytest.mark.parametrize(("shape", "nan_hf"), [((3, 3), True), ((7, 30), True), ((30, 7), True), ((8, 8), False)])
def test_hf_ratio_needs_eight_pixels_each_way(shape, nan_hf):
    row = blur_vector(_curved(shape, 1))
    assert np.isnan(row[3]) == nan_hf and np.isfinite(row[[0, 1, 2]]).all()


def test_cached_cell_bounds_are_read_only():
    bounds = _bounds(50, 7)
    assert bounds.tolist() == [1, 8, 15, 22, 29, 36, 43, 49]  # first column of each cell c = j * 7 // 50
    assert not bounds.flags.writeable  # shared between calls by the cache: nobody may change it
    with pytest.raises(ValueError):
        bounds[0] = 0


def test_the_kernels_are_declared_with_the_signatures_the_family_calls(monkeypatch):
    def run():
        blur_features(natural_image(2, (21, 34)))
        BlurFeatures(grid=2, edge_threshold=5.0).fit().transform([natural_image(3, (9, 8)) / 255.0])
    check_declared_signatures(monkeypatch, "forensics.features._blur", "forensics.features._kernels._blur",
                              {"sharpness_edges", "haar_detail_energies"}, run)


@pytest.mark.parametrize(("amplitude", "low", "high"), [(0.05, 0.0, 0.01), (0.55, 0.3, 0.9), (1.2, 1.1, 5.0)])
def test_local_cv_of_faint_textures_is_defined(amplitude, low, high):
    # grey-level noise of a fraction of a level: the mean cell Laplacian variance lies well below 1,
    # near 0.5, or above 1; the coefficient of variation is defined for any mean above 0
    y = np.random.default_rng(0).uniform(0, amplitude, (24, 30)).astype(np.float32)
    cells = sharpness_cells_ref(y, 4)
    mean_v = (cells[:, 2] / cells[:, 0] - (cells[:, 1] / cells[:, 0]) ** 2).mean()
    assert low < mean_v < high
    got = blur_vector(y)
    assert np.isfinite(got[6])
    np.testing.assert_allclose(got, blur_row_ref(y, 4, 20.0), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize(("step", "n_edges"), [(19.75, 0), (20.0, 4), (20.25, 4)])
def test_sharpness_sums_defaults_are_the_familys(step, n_edges):
    # one vertical step per interior row: |Gx| = 4 * step against the default threshold 4 * 20
    y = np.zeros((6, 10), np.float32)
    y[:, 5:] = step
    cells, widths = sharpness_sums(y)
    assert cells.shape == (4 * 4, 5) and len(widths) == n_edges
    want_cells, want_widths = sharpness_sums(y, 4, 20.0)
    np.testing.assert_array_equal(cells, want_cells)
    np.testing.assert_array_equal(widths, want_widths)
