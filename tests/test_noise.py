"""Tests of the noise-residual family: kernels against references, features against independent
computations and hand-computed fixtures, and the documented behaviour on edge cases."""

import numpy as np
import pytest
import pywt
from scipy import ndimage, stats

from param_contract import COMMON, check_bounds, check_defaults
from forensics.features._noise import NoiseFeatures, noise_features, noise_vector
from forensics.media._item import Item
from forensics.features._kernels._noise import haar_abs_hh
from forensics.features._noise import median_abs, residual_moments
from reference_noise import (
    KERNEL_CASES, KV3, KV5, O1_H, O2_H, median_residuals, srm_residuals, wavelet_kernel, wavelet_reference,
)

RNG_SEEDS = (0, 1, 2)


def _as_dict(image, **params):
    return noise_features(image, **params)


def _luma(rgb):
    """The luma the extractor sees (the features are tested given it, not the colour conversion)."""
    return Item(pixels=np.ascontiguousarray(rgb)).luma


def _noisy(shape, sigma, seed=0, base=None):
    """A float64 grey image in [0, 1]: a linear ramp (or ``base``) plus white noise of ``sigma`` grey levels."""
    rng = np.random.default_rng(seed)
    h, w = shape
    if base is None:
        i, j = np.mgrid[0:h, 0:w]
        base = 100.0 + 0.2 * i + 0.1 * j
    return (base + sigma * rng.standard_normal(shape)) / 255.0


# -- kernels against references -------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, kernel_fn, reference_fn", KERNEL_CASES, ids=[c[0] for c in KERNEL_CASES])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (3, 3), (5, 5), (7, 9), (13, 17), (24, 31)])
def test_kernel_matches_reference(name, kernel_fn, reference_fn, shape):
    for seed in RNG_SEEDS:
        luma = (np.random.default_rng(seed).random(shape) * 255).astype(np.float32)
        got, want = kernel_fn(luma), reference_fn(luma)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, equal_nan=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, kernel_fn, reference_fn", KERNEL_CASES, ids=[c[0] for c in KERNEL_CASES])
def test_kernel_matches_reference_on_constant_and_ramp(name, kernel_fn, reference_fn):
    i, j = np.mgrid[0:12, 0:15]
    for luma in (np.full((12, 15), 77.0, np.float32), (3.3 * j + 0.7 * i).astype(np.float32)):
        got, want = kernel_fn(luma), reference_fn(luma)
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, equal_nan=True)


# -- features against independent computations -------------------------------------------------

def _expected_block(res, with_y=False):
    """var/skew/kurt per channel with scipy.stats, corr with np.corrcoef."""
    chans = res[:4] if with_y else res[:3]
    out = [np.log1p(np.var(r)) for r in chans]
    out += [stats.skew(r, axis=None) for r in chans]
    out += [stats.kurtosis(r, axis=None) for r in chans]
    out += [np.corrcoef(res[a].ravel(), res[b].ravel())[0, 1] for a, b in ((0, 1), (0, 2), (1, 2))]
    return np.array(out)


def _spread(res_y, offset, shape, grid):
    h, w = shape
    rows = np.arange(res_y.shape[0]) + offset
    cols = np.arange(res_y.shape[1]) + offset
    cell = ((rows[:, None] * grid) // h) * grid + (cols[None, :] * grid) // w
    v = np.log1p([np.var(res_y[cell == c]) for c in np.unique(cell)])
    return np.array([v.std(), v.max() - v.min()])


@pytest.fixture(scope="module")
def colour_image():
    rng = np.random.default_rng(7)
    i, j = np.mgrid[0:29, 0:34]
    base = 90 + 40 * np.sin(i / 5.0)[..., None] + 20 * np.cos(j / 7.0)[..., None] + np.array([0, 15, -10])
    return np.clip(base + 12 * rng.standard_normal((29, 34, 3)), 0, 255).astype(np.uint8)


def test_median_features_match_scipy(colour_image):
    rgb = colour_image.astype(np.float32)
    luma = _luma(colour_image)
    row = _as_dict(colour_image, residuals="median", grid=3)
    got = np.array(list(row.values()))
    res = [(p.astype(np.float64) - ndimage.median_filter(p, size=3))[1:-1, 1:-1]
           for p in (rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2], luma)]
    want = np.concatenate([_expected_block(res), _spread(res[3], 1, luma.shape, 3)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_srm_features_match_scipy(colour_image):
    rgb = colour_image.astype(np.float32)
    luma = _luma(colour_image)
    row = _as_dict(colour_image, residuals="srm")
    names = list(row)
    assert names[:17] == [f"noise__srmkv3_{s}__{c}" for s in ("var", "skew", "kurt") for c in "rgby"] + [
        "noise__srmkv3_corr__rg", "noise__srmkv3_corr__rb", "noise__srmkv3_corr__gb",
        "noise__srmkv3_local_var_spread__g4", "noise__srmkv3_local_var_logrange__g4"]

    def filt(p, k):
        return ndimage.convolve(p.astype(np.float64), k[::-1, ::-1])[2:-2, 2:-2]  # correlation, valid crop

    kv3 = [filt(rgb[:, :, c], KV3) for c in range(3)] + [filt(luma, KV3)]
    want = list(_expected_block(kv3, with_y=True)) + list(_spread(kv3[3], 2, luma.shape, 4))
    for kh in (O1_H, O2_H, KV5):
        pooled = [filt(luma, kh)] + ([filt(luma, kh.T)] if kh is not KV5 else [])
        sample = np.concatenate([p.ravel() for p in pooled])
        want += [np.log1p(np.var(sample)), stats.skew(sample), stats.kurtosis(sample)]
        # per-cell variances pool both directions of the same pixels
        h, w = luma.shape
        cell = ((np.arange(2, h - 2)[:, None] * 4) // h) * 4 + (np.arange(2, w - 2)[None, :] * 4) // w
        v = np.log1p([np.var(np.concatenate([p[cell == c] for p in pooled])) for c in range(16)])
        want += [v.std(), v.max() - v.min()]
    np.testing.assert_allclose(list(row.values()), want, rtol=1e-6, atol=1e-9)


def _pywt_luma_residual(luma, wavelet, level):
    """Independent float64 pywt computation of the documented wavelet residual of the luma."""
    coeffs = pywt.wavedec2(luma, wavelet, mode="symmetric", level=level)
    # HH1 coefficients untouched by the border extension: equal under symmetric and zero padding
    hh_zero = pywt.dwt2(luma, wavelet, mode="zero")[1][2]
    inside = np.isclose(coeffs[-1][2], hh_zero, rtol=0, atol=1e-9)
    hh1 = coeffs[-1][2][inside]
    n = pywt.Wavelet(wavelet).dec_len
    assert hh1.size == ((luma.shape[0] - n) // 2 + 1) * ((luma.shape[1] - n) // 2 + 1)
    sigma = np.median(np.abs(hh1)) / 0.6745
    t = sigma * np.sqrt(2 * np.log(luma.size))
    shrunk = [coeffs[0]] + [tuple(pywt.threshold(d, t, mode="soft") for d in det) for det in coeffs[1:]]
    return luma - pywt.waverec2(shrunk, wavelet, mode="symmetric")[: luma.shape[0], : luma.shape[1]]


def _haar_sigma(plane):
    hh = pywt.dwt2(plane[: plane.shape[0] // 2 * 2, : plane.shape[1] // 2 * 2], "haar")[1][2]
    return np.median(np.abs(hh)) / 0.6745


@pytest.mark.parametrize("wavelet, level, grid", [("db2", 2, 2), ("db4", 2, 4), ("haar", 3, 3)])
def test_wavelet_features_match_pywt(colour_image, wavelet, level, grid):
    rgb = colour_image.astype(np.float64)
    luma = _luma(colour_image).astype(np.float64)
    row = _as_dict(colour_image, residuals="wavelet", wavelet=wavelet, wavelet_level=level, grid=grid)
    assert list(row) == ["noise__wavelet_var__y", "noise__wavelet_skew__y", "noise__wavelet_kurt__y",
                         "noise__sigma_mad__r", "noise__sigma_mad__g", "noise__sigma_mad__b", "noise__sigma_mad__y",
                         f"noise__wavelet_local_var_spread__g{grid}", f"noise__wavelet_local_var_logrange__g{grid}"]
    res = _pywt_luma_residual(luma, wavelet, level)
    want_stats = [np.log1p(np.var(res)), stats.skew(res, axis=None), stats.kurtosis(res, axis=None)]
    want_sigma = [_haar_sigma(p) for p in (rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2], luma)]
    got = np.array(list(row.values()))
    # the package's float64 transform agrees with pywt to rounding
    np.testing.assert_allclose(got[:3], want_stats, rtol=1e-9)
    np.testing.assert_allclose(got[7:], _spread(res, 0, luma.shape, grid), rtol=1e-8)
    # the Haar band is exact: float64 arithmetic on the float32 planes
    np.testing.assert_allclose(got[3:7], want_sigma, rtol=1e-6)


def test_sigma_mad_hand_fixture():
    # 2x2 blocks [[a, b], [c, d]] -> HH = (a - b - c + d) / 2; an odd last row / column is dropped
    img = np.array([[10, 10, 20, 10, 99],
                    [10, 10, 10, 20, 99],
                    [30, 10, 10, 10, 99],
                    [10, 10, 10, 50, 99],
                    [99, 99, 99, 99, 99]], dtype=np.uint8)
    # HH = [[0, 10], [10, 20]]: median |HH| = 10
    row = _as_dict(img, residuals="wavelet")
    for c in "rgby":
        assert row[f"noise__sigma_mad__{c}"] == pytest.approx(10 / 0.6745, rel=1e-12)
    assert np.isnan(row["noise__wavelet_var__y"])  # far too small for two db4 levels


def test_haar_band_matches_pywt():
    rng = np.random.default_rng(9)
    for shape in [(2, 2), (3, 5), (8, 9), (17, 12)]:
        planes = (rng.random((2,) + shape) * 255).astype(np.float32)
        hh = np.empty((shape[0] // 2, shape[1] // 2))
        for p in range(2):
            haar_abs_hh(planes[p], hh)
            even = planes[p, : shape[0] // 2 * 2, : shape[1] // 2 * 2].astype(np.float64)
            np.testing.assert_allclose(hh, np.abs(pywt.dwt2(even, "haar")[1][2]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("values", [
    [3.0], [-2.0, 1.0], [5.0, 5.0, 5.0, 5.0], [0.0, 0.5, -0.5, 0.5, 1.0, 0.0],
    list(np.arange(-40, 60, 0.5)),                      # 200 values, even count
    list(1.0 + np.arange(101) * np.finfo(float).eps),   # spread of ~1e-14: several refinement rounds
    [0.0] * 50 + [1e300, -1e-300] + [7.0] * 49,        # extreme range and heavy duplicates
])
def test_median_abs_is_numpy_median(values):
    x = np.array(values, dtype=np.float64)
    rng = np.random.default_rng(len(values))
    x = rng.permutation(x)
    for shape in [(1, x.size), (x.size, 1)]:
        assert median_abs(x.reshape(shape)) == np.median(np.abs(x))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_median_abs_random_sizes(seed):
    rng = np.random.default_rng(seed)
    for h, w in [(33, 65), (64, 64), (1, 257)]:
        x = rng.standard_normal((h, w)) * 10 ** rng.uniform(-3, 3)
        assert median_abs(x) == np.median(np.abs(x))
        q = np.round(x * 2) / 2  # half-integers, as the Haar band of an 8-bit image
        assert median_abs(q) == np.median(np.abs(q))
        assert median_abs(q.astype(np.float32)) == np.median(np.abs(q.astype(np.float64)))


def test_median_abs_nan_and_empty():
    assert np.isnan(median_abs(np.array([[1.0, np.nan, 2.0]])))
    assert np.isnan(median_abs(np.empty((0, 3))))


def test_residual_moments_hand_sums():
    # 2x3 plane, grid 2: column j lies in cell column j * 2 // 3, i.e. {0, 1} and {2}; the sums are
    # shifted by the first value r[0, 0] = 1, d = r - 1 = [[0, 2, -2], [1, 1, 4]]
    r = np.array([[1.0, 3.0, -1.0], [2.0, 2.0, 5.0]])
    cells = np.empty((4, 5))
    residual_moments(r, 2, cells)
    want = [[2, 2, 4, 8, 16],      # {0, 2}
            [1, -2, 4, -8, 16],    # {-2}
            [2, 2, 2, 2, 2],       # {1, 1}
            [1, 4, 16, 64, 256]]   # {4}
    np.testing.assert_array_equal(cells, want)


@pytest.mark.parametrize("wavelet, level", [("db4", 2), ("db4", 1), ("haar", 1), ("haar", 4), ("db2", 3),
                                            ("db8", 1), ("sym4", 2), ("sym8", 1)])
def test_wavelet_residual_kernel_matches_pywt(wavelet, level):
    # odd / even / non-square / smallest admissible sizes against the pywt definition in float64
    rng = np.random.default_rng(level)
    f = pywt.Wavelet(wavelet).dec_len
    smallest = (f - 1) * 2 ** level
    for shape in [(smallest, smallest), (smallest + 1, smallest + 2), (37, 64), (64, 41), (50, 50)]:
        if pywt.dwt_max_level(min(shape), f) < level:
            continue
        luma = (rng.random(shape) * 255).astype(np.float32)
        got = wavelet_kernel(luma, wavelet, level)
        want = wavelet_reference(luma, wavelet, level)
        # sym8's stored filters are orthonormal to ~1e-10 only: reconstruction differs at that level
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)
        assert got[-1] > 0 and np.abs(got[:-1]).max() > 1  # a real threshold, a non-trivial residual


@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4", "db8", "sym4", "sym8"])
def test_wavelet_passes_match_pywt_along_each_axis(wavelet):
    """One DWT level and one inverse level along axis 0 (filter_row_pairs) and along axis 1
    (filter_row_streams) against pywt.dwt / pywt.idwt, on odd, even and the shortest lengths
    (F - 1: the extension wraps more than once), with the output trimmed or not."""
    from forensics.features._kernels._noise import filter_row_pairs, filter_row_streams
    from forensics.features._noise import _analysis_cols, _analysis_rows, _synthesis_cols, _synthesis_rows

    f = pywt.Wavelet(wavelet).dec_len
    rng = np.random.default_rng(f)
    for n in sorted({max(f - 1, 1), f, f + 1, 2 * f + 3, 40}):
        m = (n + f - 1) // 2
        x = rng.normal(0, 50, (n, 7))
        out = np.full((2 * m, 7), np.nan)
        filter_row_pairs(x, *_analysis_rows(wavelet, n), 7, out)
        a, d = pywt.dwt(x, wavelet, mode="symmetric", axis=0)
        np.testing.assert_allclose(out, np.concatenate([a, d]), rtol=0, atol=1e-12)
        rows = np.full((7, 2 * m), np.nan)
        filter_row_streams(np.ascontiguousarray(x.T), *_analysis_cols(wavelet, n), rows)
        np.testing.assert_allclose(rows, np.concatenate([a, d]).T, rtol=0, atol=1e-12)
        # the inverse: pywt's full length 2m - F + 2 is n or n + 1; the kernels write the first n
        want = pywt.idwt(a, d, wavelet, mode="symmetric", axis=0)[:n]
        y = np.full((n, 7), np.nan)
        filter_row_pairs(np.concatenate([a, d]), *_synthesis_rows(wavelet, n), 7, y)
        np.testing.assert_allclose(y, want, rtol=0, atol=1e-9)
        y = np.full((7, n), np.nan)
        filter_row_streams(np.ascontiguousarray(np.concatenate([a, d]).T), *_synthesis_cols(wavelet, n), y)
        np.testing.assert_allclose(y, want.T, rtol=0, atol=1e-9)
        np.testing.assert_allclose(want, x, atol=1e-6)  # perfect reconstruction (sym8's stored taps: ~1e-10)


def test_wavelet_residual_of_a_constant_plane_is_zero():
    got = wavelet_kernel(np.full((40, 33), 91.5, np.float32), "db4", 2)
    # the details of a constant are rounding (~1e-14): sigma and the threshold are of that size and
    # the residual, synthesised from the clipped details alone, vanishes (no x - denoised cancellation)
    assert np.abs(got).max() < 1e-12


@pytest.mark.parametrize("residual", ["median", "wavelet", "srm"])
def test_input_dtypes_agree(colour_image, residual):
    as_u8 = _as_dict(colour_image, residuals=residual)
    for arr in (colour_image.astype(np.float32) / 255, colour_image.astype(np.float64) / 255):
        got = _as_dict(arr, residuals=residual)
        assert list(got) == list(as_u8)
        np.testing.assert_allclose(list(got.values()), list(as_u8.values()), rtol=1e-4, atol=1e-4)


def test_correlations_exact_signs():
    rng = np.random.default_rng(3)
    r = rng.integers(0, 256, (32, 34)).astype(np.uint8)
    img = np.stack([r, r, 255 - r], -1)
    row = _as_dict(img)
    for res in ("median", "srmkv3"):
        assert row[f"noise__{res}_corr__rg"] == pytest.approx(1.0, abs=1e-9)
        assert row[f"noise__{res}_corr__rb"] == pytest.approx(-1.0, abs=1e-9)
        assert row[f"noise__{res}_corr__gb"] == pytest.approx(-1.0, abs=1e-9)


def test_grey_image_correlation_is_one_and_channels_equal():
    img = (np.random.default_rng(4).random((32, 32)) * 255).astype(np.uint8)
    row = _as_dict(img)
    for res in ("median", "srmkv3"):
        for p in ("rg", "rb", "gb"):
            assert row[f"noise__{res}_corr__{p}"] == pytest.approx(1.0, abs=1e-12)
        assert row[f"noise__{res}_var__r"] == row[f"noise__{res}_var__b"]
    assert row["noise__srmkv3_var__y"] == pytest.approx(row["noise__srmkv3_var__r"], rel=1e-12)
    assert row["noise__sigma_mad__r"] == row["noise__sigma_mad__b"]
    assert row["noise__sigma_mad__y"] == pytest.approx(row["noise__sigma_mad__g"], rel=1e-6)


# -- hand-computed fixture ----------------------------------------------------------------------

def test_impulse_fixture_exact_values():
    img = np.zeros((7, 7), dtype=np.uint8)
    img[3, 3] = 12
    row = _as_dict(img, residuals=("srm", "median"), grid=1)
    # median residual on the 5x5 interior: one 12 and 24 zeros, p = 1/25
    p = 1 / 25
    assert row["noise__median_var__r"] == pytest.approx(np.log1p(144 * p * (1 - p)), rel=1e-12)
    assert row["noise__median_skew__g"] == pytest.approx((1 - 2 * p) / np.sqrt(p * (1 - p)), rel=1e-12)
    assert row["noise__median_kurt__b"] == pytest.approx((1 - 6 * p * (1 - p)) / (p * (1 - p)), rel=1e-12)
    # KV3 on the 3x3 valid window: 3 * [[-1, 2, -1], [2, -4, 2], [-1, 2, -1]]
    assert row["noise__srmkv3_var__y"] == pytest.approx(np.log(37.0), rel=1e-12)
    assert row["noise__srmkv3_skew__y"] == pytest.approx(-0.5, rel=1e-12)
    assert row["noise__srmkv3_kurt__y"] == pytest.approx(-0.75, rel=1e-12)
    # first order, 18 samples: +12 twice, -12 twice
    assert row["noise__srmo1_var__y"] == pytest.approx(np.log(33.0), rel=1e-12)
    assert row["noise__srmo1_skew__y"] == pytest.approx(0.0, abs=1e-12)
    assert row["noise__srmo1_kurt__y"] == pytest.approx(1.5, rel=1e-12)
    assert row["noise__srmkv3_local_var_spread__g1"] == 0.0
    assert row["noise__median_local_var_logrange__g1"] == 0.0


# -- recovering a known noise level ---------------------------------------------------------------

def _median_factor():
    """Var(x_5 - median(x_1..x_9)) for iid N(0, 1), by Monte Carlo (about 0.943)."""
    x = np.random.default_rng(11).standard_normal((400_000, 9))
    return float(np.var(x[:, 4] - np.median(x, axis=1)))


@pytest.mark.parametrize("seed", [0, 1])
def test_white_noise_level_is_recovered(seed):
    sigma = 5.0
    img = _noisy((128, 128), sigma, seed)
    row = _as_dict(img)
    var = {k: np.expm1(v) for k, v in row.items() if "_var__" in k and "local" not in k}
    # variance of filtered white noise = sigma^2 * sum(k^2); o1/o2 pool two directions of equal variance
    for name, kern in (("srmkv3", KV3), ("srmo1", O1_H), ("srmo2", O2_H), ("srmkv5", KV5)):
        expected = sigma ** 2 * np.sum(kern ** 2)
        assert var[f"noise__{name}_var__y"] == pytest.approx(expected, rel=0.06), name
    assert np.sum(KV5 ** 2) == pytest.approx(596 / 144)
    for c in "rgby":
        # the Haar HH band of white noise has the noise variance; the ramp is annihilated
        assert row[f"noise__sigma_mad__{c}"] == pytest.approx(sigma, rel=0.06)
        assert abs(row[f"noise__srmkv3_kurt__{c}"]) < 0.2  # Gaussian residual
    # two-level orthogonal DWT: detail bands hold 1 - 4^-2 of white-noise energy
    assert var["noise__wavelet_var__y"] == pytest.approx(sigma ** 2 * 15 / 16, rel=0.08)
    flat = _noisy((128, 128), sigma, seed, base=np.full((128, 128), 120.0))
    got = np.expm1(_as_dict(flat, residuals="median")["noise__median_var__g"])
    assert got == pytest.approx(sigma ** 2 * _median_factor(), rel=0.06)


def test_spliced_noise_has_large_local_spread():
    h, w = 96, 96
    rng = np.random.default_rng(5)
    sig = np.where(np.arange(w)[None, :] < w // 2, 2.0, 10.0) * np.ones((h, 1))
    spliced = (120 + sig * rng.standard_normal((h, w))) / 255.0
    uniform = _noisy((h, w), 2.0, 6, base=np.full((h, w), 120.0))
    a, b = _as_dict(spliced), _as_dict(uniform)
    for res in ("median", "wavelet", "srmkv3", "srmo1", "srmo2", "srmkv5"):
        s, u = a[f"noise__{res}_local_var_spread__g4"], b[f"noise__{res}_local_var_spread__g4"]
        assert s > 1.0 and s > 8 * u, res
        assert a[f"noise__{res}_local_var_logrange__g4"] > 2.5, res


# -- documented edge cases -------------------------------------------------------------------------

def test_constant_image():
    row = _as_dict(np.full((40, 40, 3), 0.3))
    for name, value in row.items():
        stat = name.split("__")[1]
        if stat.endswith(("_skew", "_kurt", "_corr")):
            assert np.isnan(value), name
        elif stat == "sigma_mad":
            assert abs(value) < 1e-9, name
        else:
            assert abs(value) < 1e-12, name


def test_integer_ramp_exact_values():
    # first-order residuals of the ramp 3j + 2i: 3 (horizontal) and 2 (vertical), pooled half-half
    i, j = np.mgrid[0:20, 0:30]
    row = _as_dict((3 * j + 2 * i + 10).astype(np.uint8), residuals=("srm", "median"))
    assert row["noise__srmo1_var__y"] == pytest.approx(np.log1p(0.25), rel=1e-12)
    assert row["noise__srmo1_skew__y"] == pytest.approx(0.0, abs=1e-9)
    assert row["noise__srmo1_kurt__y"] == pytest.approx(-2.0, rel=1e-9)
    assert row["noise__srmo1_local_var_spread__g4"] == pytest.approx(0.0, abs=1e-12)
    # second-order filters annihilate a plane, and so does the 3x3 median
    for name in ("srmkv3_var__r", "srmkv3_var__y", "srmo2_var__y", "srmkv5_var__y", "median_var__g"):
        assert row[f"noise__{name}"] == 0.0, name
    assert np.isnan(row["noise__srmkv3_skew__y"]) and np.isnan(row["noise__median_corr__rg"])


@pytest.mark.parametrize("shape, finite", [
    ((1, 1), set()), ((1, 5), set()), ((2, 3), {"sigma"}), ((4, 4), {"sigma", "median"}),
    ((13, 17), {"sigma", "median", "srm"}), ((28, 30), {"sigma", "median", "srm", "wavelet"}),
])
def test_small_images_are_nan_not_errors(shape, finite):
    img = (np.random.default_rng(0).random(shape) * 255).astype(np.uint8)
    row = _as_dict(img)
    assert len(row) == 55
    for name, value in row.items():
        feature = name.split("__")[1]
        res = "wavelet" if feature.startswith("wavelet") else "sigma" if feature == "sigma_mad" else (
            "srm" if feature.startswith("srm") else "median")
        assert np.isfinite(value) == (res in finite), name


def test_haar_works_on_small_images():
    img = (np.random.default_rng(0).random((13, 17)) * 255).astype(np.uint8)
    row = _as_dict(img, residuals="wavelet", wavelet="haar", wavelet_level=1)
    assert all(np.isfinite(v) for v in row.values())


# -- names and parameters --------------------------------------------------------------------------

def test_feature_names_depend_only_on_params():
    names = list(NoiseFeatures().fit().get_feature_names_out())
    assert len(names) == 55 == len(set(names))
    assert all(n.count("__") == 2 and n == n.lower() and n.startswith("noise__") for n in names)
    assert names[:3] == ["noise__median_var__r", "noise__median_var__g", "noise__median_var__b"]
    assert "noise__sigma_mad__y" in names and "noise__srmkv5_local_var_spread__g4" in names
    assert not any("wavelet_corr" in n or n.startswith(("noise__wavelet_var__r", "noise__wavelet_skew__g"))
                   for n in names)
    sub = NoiseFeatures(residuals=["srm", "median"], grid=3).fit()
    assert list(sub.get_feature_names_out()) == [n.replace("g4", "g3") for n in names
                                                 if not n.split("__")[1].startswith(("wavelet", "sigma"))]
    assert len(NoiseFeatures(residuals="wavelet").fit().get_feature_names_out()) == 9
    documented = {d.prefix for d in NoiseFeatures.feature_docs}
    assert {n.rsplit("__", 1)[0] + "__" for n in names} == documented


def test_transform_matches_vector(colour_image):
    ext = NoiseFeatures().fit()
    X = ext.transform([colour_image, colour_image[:20, :25]])
    assert X.shape == (2, 55)
    np.testing.assert_array_equal(
        X[1], noise_vector(colour_image[:20, :25].astype(np.float32), _luma(colour_image[:20, :25])))


@pytest.mark.parametrize("params", [
    dict(residuals=("foo",)), dict(residuals=()), dict(residuals=("srm", "srm")), dict(residuals=3),
    dict(grid=0), dict(grid=2.5), dict(wavelet="bior1.3"), dict(wavelet_level=0), dict(wavelet_level=5),
])
def test_invalid_params_raise_at_fit(params):
    ext = NoiseFeatures(**params)  # __init__ never validates
    with pytest.raises((ValueError, TypeError)):
        ext.fit()


def test_srm_reference_rows_are_consistent():
    # the pooled first-order reference contains both directions of the same pixels
    luma = (np.random.default_rng(0).random((9, 11)) * 255).astype(np.float32)
    rows = srm_residuals(np.stack([luma] * 3, -1), luma)
    assert rows[4].size == 2 * 5 * 7 and rows[6].shape == (5, 7)
    assert median_residuals(np.stack([luma] * 3, -1), luma)[0].shape == (7, 9)


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(NoiseFeatures,
                   dict(residuals=("median", "wavelet", "srm"), grid=4, wavelet="db4", wavelet_level=2, **COMMON),
                   functions=[noise_features, noise_vector])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(NoiseFeatures, dict(grid=(1, 64), wavelet_level=(1, 4)))


@pytest.mark.parametrize(("shape", "grid", "empty"), [((9, 7), 8, True), ((12, 30), 5, False), ((29, 34), 7, False),
                                                      ((6, 40), 6, True)])
def test_local_spread_over_non_empty_cells_only(colour_image, shape, grid, empty):
    """A grid finer than the interior leaves cells without pixels: the spread is taken over the
    others (cells straddle the rows and columns the median residual drops at the border)."""
    img = np.ascontiguousarray(np.resize(colour_image, shape + (3,)))
    luma = _luma(img)
    res_y = (luma.astype(np.float64) - ndimage.median_filter(luma, size=3))[1:-1, 1:-1]
    h, w = shape
    cell = (((np.arange(1, h - 1)[:, None] * grid) // h) * grid + (np.arange(1, w - 1)[None, :] * grid) // w)
    assert (len(np.unique(cell)) < grid * grid) == empty
    row = _as_dict(img, residuals="median", grid=grid)
    got = [row[f"noise__median_local_var_spread__g{grid}"], row[f"noise__median_local_var_logrange__g{grid}"]]
    np.testing.assert_allclose(got, _spread(res_y, 1, shape, grid), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (7, 9), (16, 24), (33, 17)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_planes_are_the_channels_then_the_luma(shape, dtype):
    # the kernels read r, g, b, y as one float32 (4, H, W) scratch array: exact copies, and a
    # second call overwrites the first (C- and Fortran-ordered inputs alike)
    from forensics.features._noise import _planes

    rng = np.random.default_rng(sum(shape))
    for order in ("C", "F"):
        rgb = np.asarray((rng.random(shape + (3,)) * 255).astype(dtype), order=order)
        luma = rng.random(shape).astype(np.float32)
        got = _planes(rgb, luma)
        assert got.dtype == np.float32 and got.shape == (4,) + shape
        for k in range(3):
            np.testing.assert_array_equal(got[k], rgb[:, :, k].astype(np.float32))
        np.testing.assert_array_equal(got[3], luma)


def test_haar_sigma_at_the_smallest_planes_it_takes():
    """The level-1 Haar HH band needs two rows and two columns: planes 2 wide (or 2 high) have one
    band sample per row pair and get its MAD sigma, against PyWavelets; one row or column less is NaN."""
    from forensics.features._noise import haar_sigma

    rng = np.random.default_rng(4)
    for shape in ((7, 2), (2, 7), (2, 2), (5, 3)):
        planes = rng.normal(0, 5, (3, *shape)).astype(np.float32)
        np.testing.assert_allclose(haar_sigma(planes), [_haar_sigma(p.astype(np.float64)) for p in planes], rtol=1e-6)
    for shape in ((7, 1), (1, 7)):
        assert np.isnan(haar_sigma(rng.normal(0, 5, (3, *shape)).astype(np.float32))).all()


def test_the_kernels_are_declared_with_the_signatures_the_family_calls(monkeypatch, colour_image):
    """Every noise kernel is called, on colour and grey items, with exactly the argument types its
    ``@kernel(signature=...)`` declares (what compile_kernels compiles before the first item)."""
    from kernel_contract import check_declared_signatures

    def run():
        NoiseFeatures().fit().transform([colour_image, colour_image[:, :, 0]])

    check_declared_signatures(monkeypatch, "forensics.features._noise", "forensics.features._kernels._noise",
                              {"filter_row_pairs", "filter_row_streams", "haar_abs_hh", "median_flat", "median_moments",
                               "plane_moments", "srm_moments"}, run)
