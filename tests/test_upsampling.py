import cv2
import numpy as np
import pytest

from conftest import natural_image
from param_contract import COMMON, check_bounds, check_defaults
from forensics.features import UpsamplingFeatures, upsampling_features
from forensics.features._kernels._upsampling import phase_sums
from forensics.features._upsampling import npr_residual, upsampling_vector
from reference_upsampling import upsampling_ref

# 1x1 and 1xN have no scale at all; 2x2 one phase; odd sizes leave a row/column out of each 2x2 mean
SHAPES = [(1, 1), (1, 9), (2, 2), (2, 3), (3, 5), (7, 9), (13, 17), (33, 40)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("n_scales", [1, 3])
def test_vector_matches_reference(shape, seed, dtype, n_scales):
    img = np.random.default_rng(seed).uniform(0, 255, shape).astype(dtype)
    np.testing.assert_allclose(upsampling_vector(img, n_scales=n_scales), upsampling_ref(img, n_scales),
                               rtol=1e-9, atol=1e-12, equal_nan=True)


def test_phase_sums_hand_computed():
    y = np.array([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    out = np.empty(48)
    phase_sums(y, out)
    # horizontal differences: row 0 -> 1 (phase 0), 2 (phase 1); row 1 -> 0, 0
    np.testing.assert_array_equal(out[0:4], [2, 2, 1, 4])
    # one consecutive pair per row, phase 0: (1, 2) and (0, 0)
    np.testing.assert_array_equal(out[4:10], [2, 1, 2, 1, 4, 2])
    # second difference 0 - 2 + 3 = 1 and 0, centred on column 1 (phase 1)
    np.testing.assert_array_equal(out[16:20], [0, 2, 0, 1])
    # vertical differences 2, 1, -1 at row phase 0; no pair (needs 3 rows)
    np.testing.assert_array_equal(out[20:24], [3, 0, 6, 0])
    assert out[24:40].sum() == 0
    # diagonal y[1, j+1] - y[0, j]: 2 - 0 (column phase 0), 2 - 1 (phase 1)
    np.testing.assert_array_equal(out[40:48], [1, 1, 0, 0, 4, 1, 0, 0])


def test_nearest_neighbour_upsampling_is_flagged_wherever_the_lattice_starts():
    small = natural_image(0, (48, 48))[:, :, 1]
    small = np.clip(small + np.random.default_rng(0).normal(0, 3, small.shape), 0, 255).astype(np.uint8)
    nearest = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    natural = upsampling_features(natural_image(1, (96, 96)))
    for shifted in (nearest, nearest[1:, 1:]):  # a crop shifts the 2x2 lattice by one pixel
        row = upsampling_features(np.ascontiguousarray(shifted))
        assert row["upsampling__phase_spread__s1h"] > 10  # one phase of differences is exactly zero
        assert row["upsampling__phase_spread__s1v"] > 10
        assert row["upsampling__phase_spread__s1h"] > natural["upsampling__phase_spread__s1h"] + 5


def test_linear_upsampling_shows_in_correlation_and_second_difference():
    rng = np.random.default_rng(1)
    small = np.clip(natural_image(2, (48, 48))[:, :, 0] + rng.normal(0, 4, (48, 48)), 0, 255).astype(np.float32)
    h, w = small.shape
    # exact linear interpolation by 2 along both axes: the inserted pixel is the mean of its neighbours
    up = np.zeros((2 * h - 1, 2 * w - 1), np.float32)
    up[::2, ::2] = small
    up[1::2, ::2] = (small[:-1] + small[1:]) / 2
    up[:, 1::2] = (up[:, :-1:2] + up[:, 2::2]) / 2
    up = np.clip(np.rint(up), 0, 255).astype(np.uint8)
    natural = upsampling_features(np.ascontiguousarray(small.astype(np.uint8)))
    row = upsampling_features(up)
    assert row["upsampling__d2_spread__s1h"] > natural["upsampling__d2_spread__s1h"] + 2
    assert row["upsampling__corr_spread__s1h"] > natural["upsampling__corr_spread__s1h"] + 0.5
    assert row["upsampling__corr_spread__s1v"] > 0.5


def test_coarser_scale_sees_4x_upsampling():
    small = natural_image(3, (24, 24))[:, :, 2]
    small = np.clip(small + np.random.default_rng(3).normal(0, 3, small.shape), 0, 255).astype(np.uint8)
    x4 = cv2.resize(small, (96, 96), interpolation=cv2.INTER_NEAREST)
    row = upsampling_features(x4)
    # at scale 2 (2x2 means of a 4x-nearest image) the image is a 2x-nearest image: one phase is 0
    assert row["upsampling__phase_spread__s2h"] > 10
    assert row["upsampling__phase_spread__s3h"] < 1


def test_npr_residual_definition():
    y = np.arange(20.0).reshape(4, 5)
    r = npr_residual(y)
    assert r.shape == (4, 4)
    np.testing.assert_array_equal(r[::2, ::2], 0)
    np.testing.assert_array_equal(r[0, 1], y[0, 1] - y[0, 0])
    np.testing.assert_array_equal(r[1, 1], y[1, 1] - y[0, 0])


def test_n_scales_parameter_and_small_images():
    img = natural_image(4, (40, 40))
    assert len(upsampling_features(img, n_scales=1)) == 10
    five = upsampling_features(img, n_scales=5)
    assert len(five) == 50
    # 40 -> 20 -> 10 -> 5 -> 2 pixels: scale 5 is 2x2, one phase per direction
    assert np.isfinite(five["upsampling__npr_energy__s5h"]) and np.isnan(five["upsampling__phase_spread__s5h"])
    tiny = upsampling_features(np.zeros((3, 3), np.uint8))
    assert np.isnan(tiny["upsampling__npr_energy__s2h"]) and tiny["upsampling__npr_energy__s1h"] == 0.0
    for bad in (0, 6, 2.0):
        with pytest.raises((ValueError, TypeError), match="n_scales"):
            UpsamplingFeatures(n_scales=bad).fit()


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(UpsamplingFeatures, dict(n_scales=3, **COMMON),
                   functions=[upsampling_features, upsampling_vector])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(UpsamplingFeatures, dict(n_scales=(1, 5)))


@pytest.mark.parametrize("shape", [(5, 7), (7, 5), (6, 9), (3, 3), (2, 2)])
def test_npr_residual_drops_the_odd_row_and_column(shape):
    y = np.random.default_rng(sum(shape)).uniform(0, 255, shape)
    h, w = shape[0] - shape[0] % 2, shape[1] - shape[1] % 2
    want = y[:h, :w] - np.kron(y[:h:2, :w:2], np.ones((2, 2)))  # nearest-neighbour down and up again
    np.testing.assert_array_equal(npr_residual(y), want)
