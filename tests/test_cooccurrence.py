import warnings

import numpy as np
import pytest

from conftest import natural_image
from param_contract import COMMON, check_bounds, check_defaults
from forensics.features import CooccurrenceFeatures, LargeCooccurrenceFeatures, cooccurrence_features
from forensics.features._cooccurrence import cooccurrence_vector, symmetry_classes
from forensics.features._kernels._cooccurrence import (
    channel_histogram, directional_codes, square_codes, tuple_histogram_cols, tuple_histogram_rows,
)
from reference_cooccurrence import classes, codes, cooccurrence_ref, histogram_rows, residual_rows

# sizes below every filter length (1x1, 2x3), at it (4x4 for o3 + order 4) and odd ones
SHAPES = [(1, 1), (2, 3), (4, 4), (5, 7), (13, 17), (40, 33)]


def _image(seed, shape, noise=4.0):
    rng = np.random.default_rng(seed)
    return np.clip(natural_image(seed, shape) + rng.normal(0, noise, shape + (3,)), 0, 255)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("params", [
    dict(),
    dict(residuals=("o1", "o2", "o3", "kv3"), order=4),
    dict(residuals=("o2", "kv3"), order=2, t=1, q=0.5),
    dict(residuals=("o3",), order=3, t=3, q=2.0, color=True),
    dict(residuals=("o1", "kv3"), color=True),
])
def test_vector_matches_reference(shape, seed, params):
    rgb = _image(seed, shape).astype(np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    ref_params = dict(params)
    t = ref_params.pop("t", 2)
    got = cooccurrence_vector(luma, rgb, truncation=t, **ref_params)
    want = cooccurrence_ref(luma, rgb, t=t, **ref_params)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(9, 11), (32, 30)])
def test_kernels_accept_every_dtype(dtype, shape):
    img = _image(3, shape)[:, :, 1]
    img = img.astype(dtype) if dtype == np.uint8 else img.astype(dtype)
    taps = np.array([1.0, -2.0, 1.0])
    ch = np.zeros((shape[0], shape[1] - 2), np.int8)
    cv = np.zeros((shape[0] - 2, shape[1]), np.int8)
    directional_codes(np.ascontiguousarray(img), taps, 2.0, 2, ch, cv)
    y = img.astype(np.float64)
    np.testing.assert_array_equal(ch, codes(residual_rows(y, taps), 2.0, 2))
    np.testing.assert_array_equal(cv, codes(residual_rows(y.T, taps), 2.0, 2).T)
    sq = np.zeros((shape[0] - 2, shape[1] - 2), np.int8)
    kv = np.array([[-1.0, 2, -1], [2, -4, 2], [-1, 2, -1]])
    square_codes(np.ascontiguousarray(img), kv, 4.0, 1, sq)
    want = sum(kv[a, b] * y[a:a + shape[0] - 2, b:b + shape[1] - 2] for a in range(3) for b in range(3))
    np.testing.assert_array_equal(sq, codes(want, 4.0, 1))


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("width", [1, 3, 4, 5, 6, 7, 9])  # crosses the 4-way interleave of the counters
def test_histogram_kernels_match_bincount(order, width):
    c = np.random.default_rng(width).integers(0, 5, (6, width)).astype(np.int8)
    rows = np.zeros(5 ** order)
    tuple_histogram_rows(c, order, 5, rows)
    np.testing.assert_array_equal(rows, histogram_rows(c.astype(np.int64), order, 5))
    cols = np.zeros(5 ** order)
    tuple_histogram_cols(np.ascontiguousarray(c.T), order, 5, cols)
    np.testing.assert_array_equal(cols, histogram_rows(c.astype(np.int64), order, 5))
    trip = np.zeros(125)
    channel_histogram(c, c[::-1].copy(), np.zeros_like(c), 5, trip)
    want = np.bincount(((c.astype(np.int64) * 5 + c[::-1]) * 5).ravel(), minlength=125)
    np.testing.assert_array_equal(trip, want)


def test_hand_computed_single_row():
    # one row 0, 1, 3, 6, 10: first differences 1, 2, 3, 4 -> codes (T = 2) 1, 2, 2, 2
    row = np.array([[0, 1, 3, 6, 10]], np.uint8)
    values = cooccurrence_features(row, residuals="o1")
    # par: the tuples (1, 2, 2) and (2, 2, 2) along the row; no column holds a vertical residual
    assert values["cooc__o1_par__q1_m2_m2_m1"] == 0.5  # class of (1, 2, 2) = {(1,2,2), (-1,-2,-2), ...}
    assert values["cooc__o1_par__q1_m2_m2_m2"] == 0.5
    assert sum(v for k, v in values.items() if "_par__" in k) == pytest.approx(1.0)
    # perp needs tuples down a column of a horizontal residual or along a row of a vertical one: none
    assert all(np.isnan(v) for k, v in values.items() if "_perp__" in k)


def test_class_counts_and_representatives():
    for order, t, reverse, n in [(2, 2, True, 9), (3, 2, True, 39), (4, 2, True, 169), (3, 2, False, 63),
                                 (3, 1, True, 10), (4, 1, True, 25)]:
        cls, reps = symmetry_classes(order, t, reverse)
        ref_cls, ref_reps = classes(order, t, reverse)
        assert len(reps) == n
        assert list(reps) == [tuple(r) for r in ref_reps]
        np.testing.assert_array_equal(cls, ref_cls)


def test_symmetrized_features_are_invariant_to_flips_transpose_and_negation():
    img = _image(7, (37, 29))[:, :, 0].astype(np.uint8)  # grey: the luma is the pixel value exactly
    ext = CooccurrenceFeatures(residuals=("o1", "o2", "o3", "kv3")).fit()
    base = ext.transform([img])[0]
    for variant in (img[:, ::-1], img[::-1], np.ascontiguousarray(img.T), 255 - img):
        np.testing.assert_allclose(ext.transform([np.ascontiguousarray(variant)])[0], base, rtol=1e-12)


def test_q_scales_the_residual():
    # doubling the image and the quantization step gives exactly the same codes
    img = _image(2, (30, 30))[:, :, 0].astype(np.uint8) // 2
    a = cooccurrence_features(img, q=1.0)
    b = cooccurrence_features((img * 2).astype(np.uint8), q=2.0)
    assert list(a.values()) == pytest.approx(list(b.values()))
    assert all(k.split("__")[2].startswith("q2_") for k in b)
    assert a != cooccurrence_features(img, q=2.0)


def test_truncation_and_order_change_columns_and_values():
    img = _image(4, (24, 24)).astype(np.uint8)
    assert len(cooccurrence_features(img, truncation=1)) == 3 * 2 * 10
    assert len(cooccurrence_features(img, order=2)) == 3 * 2 * 9
    assert len(cooccurrence_features(img, order=4)) == 3 * 2 * 169
    assert len(cooccurrence_features(img, color=True)) == 3 * (2 * 39 + 63)
    assert CooccurrenceFeatures().fit().n_features_out_ == 234
    assert LargeCooccurrenceFeatures().fit().n_features_out_ == 1183


def test_smoothing_concentrates_the_zero_class():
    import cv2

    img = _image(5, (64, 64), noise=8.0).astype(np.uint8)
    smooth = cv2.GaussianBlur(img, (0, 0), 1.5)
    a, b = cooccurrence_features(img), cooccurrence_features(smooth)
    # high-order residuals of a smooth image are mostly 0; of a noisy one mostly beyond the truncation
    assert b["cooc__o3_par__q1_0_0_0"] > a["cooc__o3_par__q1_0_0_0"] + 0.2
    assert b["cooc__o2_par__q1_0_0_0"] > a["cooc__o2_par__q1_0_0_0"] + 0.1
    assert a["cooc__o3_par__q1_m2_m2_m2"] > b["cooc__o3_par__q1_m2_m2_m2"]
    for block in ("o1_par", "o1_perp", "o2_par", "o3_perp"):
        assert sum(v for k, v in a.items() if f"__{block}__" in k) == pytest.approx(1.0)


def test_grey_image_colour_block_is_diagonal():
    grey = _image(6, (20, 20))[:, :, 0].astype(np.uint8)
    row = cooccurrence_features(grey, residuals="o2", color=True)
    rgb = {k.split("__")[2]: v for k, v in row.items() if "_rgb__" in k}
    off_diagonal = [v for k, v in rgb.items() if len(set(k.split("_")[1:])) > 1]
    assert sum(rgb.values()) == pytest.approx(1.0)
    assert max(off_diagonal) == 0.0


def test_constant_image():
    row = cooccurrence_features(np.full((12, 12, 3), 200, np.uint8), residuals=("o3", "kv3"))
    assert row["cooc__o3_par__q1_0_0_0"] == 1.0
    assert row["cooc__kv3_hv__q1_0_0_0"] == 1.0
    assert sum(row.values()) == pytest.approx(3.0)


def test_invalid_parameters():
    for bad in (dict(residuals=()), dict(residuals=("o1", "o1")), dict(residuals=("o4",)), dict(residuals=3)):
        with pytest.raises((ValueError, TypeError), match="residuals"):
            CooccurrenceFeatures(**bad).fit()
    for bad in (dict(order=1), dict(order=5), dict(truncation=0), dict(truncation=5), dict(q=0.0), dict(color=1)):
        with pytest.raises((ValueError, TypeError), match=list(bad)[0]):
            CooccurrenceFeatures(**bad).fit()
    # the valid look-alikes of the refused values
    for ok in (dict(residuals="o1"), dict(order=4), dict(truncation=4), dict(q=0.05), dict(color=True)):
        CooccurrenceFeatures(**ok).fit()


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(CooccurrenceFeatures,
                   dict(residuals=("o1", "o2", "o3"), order=3, truncation=2, q=1.0, color=False, **COMMON),
                   functions=[cooccurrence_features, cooccurrence_vector])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(CooccurrenceFeatures, dict(order=(2, 4), truncation=(1, 4), q=(0.05, 64.0)))


def test_names_spell_each_class_representative():
    """Order 2, truncation 1, with reversal: the classes of {-1, 0, 1}^2 are those of (-1, -1),
    (-1, 0), (-1, 1) and (0, 0), spelt m1 / 0 / p1; the colour block (order 3, no reversal) has 14."""
    names = list(CooccurrenceFeatures(residuals="o1", order=2, truncation=1, q=0.5, color=True).fit()
                 .get_feature_names_out())
    labels = ["m1_m1", "m1_0", "m1_p1", "0_0"]
    assert names[:8] == [f"cooc__o1_{scan}__q0.5_{lab}" for scan in ("par", "perp") for lab in labels]
    assert len(names) == 8 + 14
    assert names[8] == "cooc__o1_rgb__q0.5_m1_m1_m1" and names[-1] == "cooc__o1_rgb__q0.5_0_0_0"
    assert "cooc__o1_rgb__q0.5_m1_p1_p1" in names and "cooc__o1_rgb__q0.5_m1_0_p1" in names


@pytest.mark.parametrize(("width", "tuples"), [(3, 0), (4, 1), (5, 2)])
def test_a_block_without_tuples_is_nan_without_a_warning_and_one_tuple_fills_it(width, tuples):
    """The empty-histogram rule at its edge: a one-row image 3 wide has 2 first-order residuals, no tuple
    of 3 (the block is NaN, with no 0 / 0 division warning); 4 wide holds exactly one tuple, 5 wide two."""
    row = np.array([[0, 1, 3, 6, 10][:width]], np.uint8)  # first differences 1, 2, 3, 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0 / 0 would warn "invalid value encountered in divide"
        values = cooccurrence_features(row, residuals="o1", color=True)
        empty = cooccurrence_features(np.zeros((1, 1), np.uint8), residuals="o1", color=True)
    assert all(np.isnan(v) for v in empty.values())  # no residual at all: every block, the colour one too
    par = {k.split("__")[2]: v for k, v in values.items() if "_par__" in k}
    rgb = [v for k, v in values.items() if "_rgb__" in k]
    if tuples == 0:
        assert all(np.isnan(v) for v in par.values())
    else:  # the tuples (1, 2, 2) then (2, 2, 2): codes clipped at T = 2
        assert par["q1_m2_m2_m1"] == 1.0 / tuples and par["q1_m2_m2_m2"] == (tuples - 1) / tuples
        assert sum(par.values()) == pytest.approx(1.0)
    # the colour triple needs one residual per channel: width - 1 of them, all on the grey diagonal
    assert sum(rgb) == pytest.approx(1.0) and all(np.isfinite(rgb))


def test_large_params_are_the_large_preset():
    """LARGE_PARAMS, the documented parameters of the large preset (order-4 tuples of all four residuals,
    T = 2, q = 1, no colour), are LargeCooccurrenceFeatures' defaults and give its 1183 columns."""
    from forensics.features._cooccurrence import LARGE_PARAMS, RESIDUALS

    assert LARGE_PARAMS == dict(residuals=("o1", "o2", "o3", "kv3"), order=4, truncation=2, q=1.0, color=False)
    assert RESIDUALS == LARGE_PARAMS["residuals"]
    large = LargeCooccurrenceFeatures().fit()
    assert {k: large.get_params()[k] for k in LARGE_PARAMS} == LARGE_PARAMS
    by_params = CooccurrenceFeatures(**LARGE_PARAMS).fit()
    assert by_params.n_features_out_ == 1183
    assert list(by_params.get_feature_names_out()) == list(large.get_feature_names_out())


@pytest.mark.parametrize("height", [3, 4, 5, 60_000])
def test_column_histogram_of_short_and_very_tall_strips(height):
    """Order-4 tuples down the columns of a 3-wide strip: 3 rows hold none, 4 exactly one per column, 5 two;
    60,000 rows (beyond 55,108, where h ** 4 leaves int64: no size arithmetic may overflow) hold 59,997."""
    c = np.random.default_rng(height).integers(0, 5, (height, 3)).astype(np.int8)
    got = np.zeros(5 ** 4)
    tuple_histogram_cols(c, 4, 5, got)
    want = histogram_rows(np.ascontiguousarray(c.T).astype(np.int64), 4, 5)
    assert got.sum() == 3 * max(height - 3, 0)
    np.testing.assert_array_equal(got, want)
