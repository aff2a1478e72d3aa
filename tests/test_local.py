import numpy as np
import pytest

from conftest import natural_image
from param_contract import COMMON, check_bounds, check_defaults
from forensics.features import LocalInconsistencyFeatures, local_features
from forensics.features._local import MAPS, STATS, block_grid, local_maps, local_vector, map_statistics
from reference_local import local_ref, maps_ref, stats_ref

NAMES = [f"local__{s}__{m}" for m in MAPS for s in STATS]


def _textured(seed, shape):
    """A natural-looking luma with sensor-like noise, so every map varies."""
    rng = np.random.default_rng(seed)
    return np.clip(natural_image(seed, shape)[:, :, 1] + rng.normal(0, 2.0, shape), 0, 255)


# shapes around the block boundaries of block=32: 1 block (NaN), 2 blocks in one row or in one
# column, odd sides, a leftover margin of 1 and of 31 pixels; parameters away from the defaults,
# including steps that round
@pytest.mark.parametrize("shape", [(32, 32), (32, 64), (64, 32), (100, 40), (63, 64), (65, 97), (96, 130)])
@pytest.mark.parametrize("params", [dict(), dict(block=16, overlap=0.5), dict(block=20, overlap=0.3),
                                    dict(block=8, overlap=0.75)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_vector_matches_reference(shape, params, dtype):
    y = _textured(sum(shape), shape).astype(dtype)
    np.testing.assert_allclose(local_vector(y, **params), local_ref(y, **params), rtol=1e-9, atol=1e-10,
                               equal_nan=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_maps_match_reference_per_block(seed):
    y = np.random.default_rng(seed).uniform(0, 255, (72, 100))
    maps = local_maps(y, block=24, overlap=0.25)
    want = maps_ref(y, block=24, overlap=0.25)
    for k, name in enumerate(MAPS):
        np.testing.assert_allclose(maps[name], want[k], rtol=1e-10, atol=1e-12)


def test_statistics_hand_computed():
    m = np.array([[0.0, 0.0], [0.0, 1.0]])
    got = dict(zip(STATS, map_statistics(m)))
    # n = 4, mean 1/4, var 3/16; sorted 0 0 0 1: P95 at position 2.85 -> 0.85, P5 -> 0
    assert got["std"] == pytest.approx(np.sqrt(3) / 4)
    assert (got["max_median"], got["median_min"]) == (1.0, 0.0)
    assert got["range90"] == pytest.approx(0.85)
    assert got["kurt"] == pytest.approx((0.08203125 / (3 / 16) ** 2) - 3)  # m4 = 0.08203125
    # 8 ordered adjacent pairs; z = -1/4 (x3), 3/4: sum over pairs = 2 (1/16 + 1/16 - 3/16 - 3/16) = -1/2
    assert got["moran"] == pytest.approx(4 / 8 * -0.5 / 0.75)
    assert (got["split_ratio"], got["split_area"]) == (pytest.approx(1.0), 0.25)


def test_moran_reads_coherence_not_spread():
    checker = np.indices((4, 4)).sum(axis=0) % 2 * 1.0
    halves = np.zeros((4, 4))
    halves[:, 2:] = 1.0
    assert map_statistics(checker)[STATS.index("moran")] == pytest.approx(-1.0)
    assert map_statistics(halves)[STATS.index("moran")] == pytest.approx(2 / 3)  # 24 of 48 pairs: 16 +, 8 -
    # same values, same spread and split: only Moran's I tells the coherent region from the scattered one
    np.testing.assert_allclose(np.delete(map_statistics(checker), STATS.index("moran")),
                               np.delete(map_statistics(halves), STATS.index("moran")))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_statistics_match_reference_and_ignore_block_positions(seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(5, 7))
    m[1:3, 2:5] += 2.0  # an odd region
    if seed == 3:
        m = np.round(m)  # ties: the split must fall between distinct values
    np.testing.assert_allclose(map_statistics(m), stats_ref(m), rtol=1e-10, atol=1e-12)
    shuffled = rng.permutation(m.ravel()).reshape(m.shape)
    keep = [k for k, s in enumerate(STATS) if s != "moran"]
    np.testing.assert_allclose(map_statistics(shuffled)[keep], map_statistics(m)[keep], rtol=1e-12, atol=1e-12)


def test_flipped_and_transposed_images_give_the_same_row():
    y = _textured(5, (128, 96))
    row = local_vector(y)
    for other in (y[::-1, ::-1], y.T, y[::-1]):
        np.testing.assert_allclose(local_vector(np.ascontiguousarray(other)), row, rtol=1e-9, atol=1e-10)


def _pasted(seed, inner_sigma):
    rng = np.random.default_rng(seed)
    img = 128 + 2.0 * rng.standard_normal((128, 128))
    img[32:96, 32:96] = 128 + inner_sigma * rng.standard_normal((64, 64))
    return img


def test_a_region_with_another_noise_level_is_found():
    odd = dict(zip(NAMES, local_vector(_pasted(0, 8.0))))
    even = dict(zip(NAMES, local_vector(_pasted(0, 2.0))))
    assert odd["local__split_area__noise"] == 0.25  # the 4 central blocks of 16
    assert odd["local__split_ratio__noise"] > 0.95 > even["local__split_ratio__noise"] + 0.2
    assert odd["local__moran__noise"] > 0.3 > even["local__moran__noise"]
    assert odd["local__max_median__noise"] > np.log(8.25 / 2.25) - 0.3
    assert odd["local__std__noise"] > 5 * even["local__std__noise"]


def test_a_blurred_region_lowers_sharpness_and_detail_ratio_there():
    import cv2

    y = _textured(3, (128, 128)).astype(np.float32)
    blurred = y.copy()
    blurred[32:96, 32:96] = cv2.GaussianBlur(y, (0, 0), 1.5)[32:96, 32:96]
    before, after = local_maps(y), local_maps(blurred)
    for name in ("sharpness", "hfratio"):
        assert np.all(after[name][1:3, 1:3] < before[name][1:3, 1:3] - 0.5)
    row = dict(zip(NAMES, local_vector(blurred)))
    assert row["local__median_min__sharpness"] > dict(zip(NAMES, local_vector(y)))["local__median_min__sharpness"]


def test_block_grid_at_and_around_the_block_size():
    assert block_grid((31, 64)) == (0, 2, 32)
    assert block_grid((32, 63)) == (1, 1, 32)
    assert block_grid((64, 65)) == (2, 2, 32)
    assert block_grid((96, 95)) == (3, 2, 32)
    assert block_grid((64, 64), overlap=0.5) == (3, 3, 16)
    assert block_grid((64, 64), block=16, overlap=0.75) == (13, 13, 4)
    assert block_grid((64, 64), block=8, overlap=0.75) == (15, 15, 4)  # 2 px rounds up to the 4 px minimum
    assert block_grid((64, 64), block=20, overlap=0.3)[2] == 16  # 14 px rounds to a multiple of 4


def test_small_and_constant_images():
    below = local_features(np.zeros((31, 200), np.uint8))  # no row of blocks
    single = local_features(np.zeros((32, 63), np.uint8))  # one block: a spread needs two
    assert np.all(np.isnan(list(below.values()))) and np.all(np.isnan(list(single.values())))
    two = local_features(np.full((32, 64), 0.5))
    for name in MAPS:
        assert two[f"local__std__{name}"] == 0.0 and two[f"local__range90__{name}"] == 0.0
        for stat in ("kurt", "moran", "split_ratio", "split_area"):
            assert np.isnan(two[f"local__{stat}__{name}"])
    noisy = np.random.default_rng(0).integers(0, 256, (32, 64)).astype(np.uint8)
    two = local_features(noisy)  # two distinct values: every statistic is defined and exact
    for name in MAPS:
        assert (two[f"local__kurt__{name}"], two[f"local__moran__{name}"]) == (pytest.approx(-2.0), pytest.approx(-1.0))
        assert (two[f"local__split_ratio__{name}"], two[f"local__split_area__{name}"]) == (pytest.approx(1.0), 0.5)
        assert two[f"local__max_median__{name}"] == pytest.approx(two[f"local__std__{name}"])  # half the gap


def test_extractor_rows_equal_the_function_and_parameters_reach_it():
    imgs = [_textured(k, (96, 128)).astype(np.uint8) for k in range(2)]
    ext = LocalInconsistencyFeatures(block=16, overlap=0.5).fit()
    assert list(ext.get_feature_names_out()) == NAMES
    got = ext.transform(imgs)
    np.testing.assert_allclose(got[1], local_vector(imgs[1].astype(np.float64), block=16, overlap=0.5),
                               rtol=1e-6, atol=1e-6)
    assert not np.allclose(got, LocalInconsistencyFeatures().fit().transform(imgs))


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(LocalInconsistencyFeatures, dict(block=32, overlap=0.0, **COMMON),
                   functions=[local_features, local_vector, local_maps])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(LocalInconsistencyFeatures, dict(block=(8, 256), overlap=(0.0, 0.75)))
    for bad in (10, 30, 254):  # inside the range, not a multiple of 4
        with pytest.raises(ValueError, match="block must be a multiple of 4"):
            LocalInconsistencyFeatures(block=bad).fit()
    LocalInconsistencyFeatures(block=12).fit()
    with pytest.raises(TypeError, match="block"):
        LocalInconsistencyFeatures(block=32.0).fit()


def test_a_map_variance_at_the_constant_threshold_is_constant():
    # var of (0, d) is d^2 / 4: 1e-12 at d = 2e-6 (the threshold, included), just above at 2.02e-6
    at, above = map_statistics(np.array([[0.0, 2e-6]])), map_statistics(np.array([[0.0, 2.02e-6]]))
    for stat in ("kurt", "moran", "split_ratio", "split_area"):
        assert np.isnan(at[STATS.index(stat)]) and np.isfinite(above[STATS.index(stat)])
    assert at[STATS.index("std")] == pytest.approx(1e-6)  # the spread itself is still reported


def test_the_helpers_named_in_the_docstring_are_public_and_compose_to_the_row():
    """The class docstring points users to ``local_maps``, ``map_statistics`` and ``block_grid``
    (to look at the maps): they are importable from ``forensics.features``, and the statistics of
    the maps are the family's row, on a grid of 3 x 4 blocks of 16 px (block away from its default)."""
    from forensics import features

    img = natural_image(4, (56, 70))[:, :, 0]
    maps = features.local_maps(img, block=16)
    assert features.block_grid(img.shape, 16)[:2] == (3, 4) and maps["noise"].shape == (3, 4)
    row = features.local_features(img, block=16)
    for name in MAPS:
        expected = features.map_statistics(maps[name])
        got = np.array([row[f"local__{stat}__{name}"] for stat in STATS])
        np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert (features.local_maps, features.map_statistics, features.block_grid) == (local_maps, map_statistics,
                                                                                   block_grid)
