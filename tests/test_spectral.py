"""Tests of the spectral family: kernels vs NumPy references, hand fixtures, physical checks."""

import math

import numpy as np
import pytest
import scipy.signal
from scipy.ndimage import gaussian_filter

from param_contract import COMMON, check_bounds, check_defaults
from kernel_contract import check_declared_signatures
from forensics.features import SpectralFeatures, spectral_features
from forensics.features._spectral import _upsampling_peak, _window, spectral_vector
from forensics.media import load_item

from reference_spectral import KERNEL_CASES, reference_spectral_vector

N_BINS = 32
IDX = {name: k for k, name in enumerate(SpectralFeatures()._feature_names())}
AZ = slice(0, N_BINS)


def _row(values, n_bins=N_BINS, cutoff=0.5):
    names = SpectralFeatures(n_bins=n_bins, cutoff=cutoff)._feature_names()
    return dict(zip(names, values))


def _random_luma(shape, seed):
    return (np.random.default_rng(seed).random(shape) * 255).astype(np.float32)


def _smooth_luma(shape, seed, sigma=1.5):
    noise = np.random.default_rng(seed).normal(size=shape)
    return (128 + 40 * gaussian_filter(noise, sigma, mode="wrap")).astype(np.float32)


# -- names ----------------------------------------------------------------------------------------

def test_feature_names_default_and_parameterised():
    names = SpectralFeatures()._feature_names()
    assert len(names) == 41
    assert names[:2] == ["spectral__azimuthal__b00", "spectral__azimuthal__b01"]
    assert names[31] == "spectral__azimuthal__b31"
    assert names[32:] == [
        "spectral__hf_lf_ratio__r0.5", "spectral__slope__loglog", "spectral__slope_residual__rms",
        "spectral__entropy__norm", "spectral__direction__h", "spectral__direction__v",
        "spectral__direction__d", "spectral__upsampling_peak__x2", "spectral__upsampling_peak__x4",
    ]
    assert all(len(n.split("__")) == 3 and n == n.lower() for n in names)
    assert SpectralFeatures(n_bins=100)._feature_names()[99] == "spectral__azimuthal__b99"
    big = SpectralFeatures(n_bins=101, cutoff=0.25)._feature_names()
    assert big[0] == "spectral__azimuthal__b000" and big[100] == "spectral__azimuthal__b100"
    assert "spectral__hf_lf_ratio__r0.25" in big and len(big) == 110
    docs = {d.feature for d in SpectralFeatures.feature_docs}
    assert docs == {n.split("__")[1] for n in names}


@pytest.mark.parametrize("params", [dict(window="hamming"), dict(n_bins=1), dict(cutoff=1.5), dict(n_bins=2.0)])
def test_invalid_params_raise_at_fit(params):
    with pytest.raises((ValueError, TypeError)):
        SpectralFeatures(**params).fit()


# -- kernels vs references ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, kernel_fn, reference_fn", KERNEL_CASES, ids=[c[0] for c in KERNEL_CASES])
@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (13, 17), (24, 40), (33, 20)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_matches_reference(name, kernel_fn, reference_fn, shape, seed):
    luma = _random_luma(shape, seed) if seed != 2 else _smooth_luma(shape, seed)
    got, want = np.asarray(kernel_fn(luma)), np.asarray(reference_fn(luma))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (5, 5), (7, 9), (13, 17),
                                   (16, 16), (40, 24)])
@pytest.mark.parametrize("window", ["hann", None])
def test_vector_matches_reference(shape, window):
    for seed in range(2):
        luma = _random_luma(shape, seed)
        got = spectral_vector(luma, window=window)
        want = reference_spectral_vector(luma, window=window)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("n_bins, cutoff", [(2, 0.5), (8, 0.25), (13, 0.8), (64, 0.5)])
def test_vector_matches_reference_params(n_bins, cutoff):
    luma = _smooth_luma((48, 36), 3, sigma=1.0)
    got = spectral_vector(luma, n_bins=n_bins, cutoff=cutoff)
    want = reference_spectral_vector(luma, n_bins=n_bins, cutoff=cutoff)
    assert got.shape == (n_bins + 9,)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_public_api_dtypes(dtype):
    u8 = (np.random.default_rng(4).random((13, 17)) * 255).astype(np.uint8)
    image = u8 if dtype is np.uint8 else (u8 / 255.0).astype(dtype)
    row = spectral_features(image)
    want = reference_spectral_vector(u8.astype(np.float64))  # grey luma == grey level
    got = np.array(list(row.values()))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, equal_nan=True)
    ext = SpectralFeatures().fit([image])
    np.testing.assert_allclose(ext.transform([image, image]), np.vstack([got, got]), equal_nan=True)


# -- hand-computed fixtures -------------------------------------------------------------------------------

def test_hand_fixture_4x4():
    # x[i, j] = cos(2 pi j / 4) + (-1)^i  (+10 offset, removed by the mean subtraction), no window.
    # FFT2: |X| = 8 at (fy, fx) = (0, +-1/4) (r = 0.5) and 16 at (-1/2, 0) (r = 1); zero elsewhere.
    j = np.arange(4)
    luma = (np.cos(np.pi * j / 2)[None, :] + ((-1.0) ** np.arange(4))[:, None] + 10).astype(np.float32)
    v = _row(spectral_vector(luma, n_bins=4, window=None), n_bins=4)
    floor = 1e-12 * 24.0  # sum x^2 = 8 + 16
    lf = math.log10(floor)
    # non-DC samples with r <= 1: r = 0.5 (4 samples: bin 1), r = 0.707 (4: bin 2), r = 1 (2: bin 3)
    a = np.array([(2 * math.log10(64) + 2 * lf) / 4, lf, (math.log10(256) + lf) / 2])
    assert math.isnan(v["spectral__azimuthal__b00"])
    got = [v[f"spectral__azimuthal__b0{k}"] for k in (1, 2, 3)]
    np.testing.assert_allclose(got, a - a.mean(), rtol=1e-9)
    slope, icpt = np.polyfit(np.log10([0.375, 0.625, 0.875]), a, 1)
    assert v["spectral__slope__loglog"] == pytest.approx(slope, rel=1e-9)
    resid = a - (slope * np.log10([0.375, 0.625, 0.875]) + icpt)
    assert v["spectral__slope_residual__rms"] == pytest.approx(np.sqrt(np.mean(resid ** 2)), rel=1e-9)
    assert v["spectral__hf_lf_ratio__r0.5"] == pytest.approx(math.log10(256 / 128), abs=1e-12)
    p = np.array([64, 64, 256]) / 384  # 15 non-DC frequencies, 3 with power
    assert v["spectral__entropy__norm"] == pytest.approx(-np.sum(p * np.log(p)) / math.log(15), abs=1e-12)
    assert v["spectral__direction__h"] == pytest.approx(1 / 3, abs=1e-12)
    assert v["spectral__direction__v"] == pytest.approx(2 / 3, abs=1e-12)
    assert v["spectral__direction__d"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(v["spectral__upsampling_peak__x2"])  # needs 5 x 5


def test_hand_fixture_1x2():
    # x = [-d/2, d/2]: the only non-DC sample is fx = -1/2 (r = 1, horizontal), P = d^2.
    v = _row(spectral_vector(np.array([[10.0, 30.0]], np.float32), window=None))
    assert all(math.isnan(v[f"spectral__azimuthal__b{k:02d}"]) for k in range(31))
    assert v["spectral__azimuthal__b31"] == 0.0
    assert v["spectral__direction__h"] == 1.0 and v["spectral__direction__v"] == 0.0
    for name in ("hf_lf_ratio__r0.5", "slope__loglog", "entropy__norm", "upsampling_peak__x2"):
        assert math.isnan(v[f"spectral__{name}"])  # one frequency: no ratio, fit or entropy


def test_upsampling_peak_hand_indices():
    # 6 x 7, no window: x2 peaks (-1/2, 0) -> (3, 0), (0, -1/2) -> (0, 4) [-3/7], (-1/2, -1/2) -> (3, 4).
    luma = _random_luma((6, 7), 5).astype(np.float64)
    x = luma - luma.mean()
    p = np.abs(np.fft.fft2(x)) ** 2
    vals = []
    for ky, kx in [(3, 0), (0, 4), (3, 4)]:
        patch = np.roll(p, (2 - ky, 2 - kx), axis=(0, 1))[:5, :5]  # (ky, kx) moved to (2, 2)
        neigh = np.delete(patch.ravel(), 12)  # none of these windows holds DC
        vals.append(math.log10(patch[2, 2] / np.median(neigh)))
    got = _row(spectral_vector(luma.astype(np.float32), window=None))["spectral__upsampling_peak__x2"]
    assert got == pytest.approx(np.mean(vals), rel=1e-5)


def test_window_is_hann_without_endpoints():
    for n in (1, 2, 5, 16):
        np.testing.assert_allclose(_window(n), scipy.signal.windows.hann(n + 2)[1:-1], atol=1e-7)
    assert _window(1)[0] == 1.0 and np.all(_window(7) > 0)


# -- physical behaviour ---------------------------------------------------------------------------------

def _sinusoid(ky, kx, shape=(64, 64)):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (128 + 100 * np.cos(2 * np.pi * (ky * yy / shape[0] + kx * xx / shape[1]))).astype(np.float32)


@pytest.mark.parametrize("window", ["hann", None])
@pytest.mark.parametrize("ky, kx, wedge", [(0, 10, "h"), (10, 0, "v"), (7, 7, "d"), (-7, 7, "d"), (2, 10, "h")])
def test_sinusoid_radius_bin_and_direction(ky, kx, wedge, window):
    luma = _sinusoid(ky, kx)
    r = 2 * math.hypot(ky / 64, kx / 64)  # 0.3125 / 0.3094 / 0.319: bin 2 of 8 = (0.25, 0.375]
    assert 0.25 < r <= 0.375
    v = _row(spectral_vector(luma, n_bins=8, window=window), n_bins=8)
    assert v[f"spectral__direction__{wedge}"] > 0.99
    # the energy lies in (0.25, 0.375]: above a cutoff of 0.25, below one of 0.375
    above = spectral_vector(luma, n_bins=8, window=window, cutoff=0.25)[8]
    below = spectral_vector(luma, n_bins=8, window=window, cutoff=0.375)[8]
    assert above > 3 and below < -3
    if window is None:  # exact: one frequency pair, every other sample at the floor
        prof = [v[f"spectral__azimuthal__b{k:02d}"] for k in range(8)]
        assert int(np.argmax(prof)) == 2


def test_sinusoid_above_cutoff_and_nonsquare():
    luma = _sinusoid(0, 18, shape=(40, 48))  # fx = 0.375 cycles/pixel: r = 0.75
    assert _row(spectral_vector(luma))["spectral__hf_lf_ratio__r0.5"] > 3
    v = _row(spectral_vector(luma, window=None))
    prof = [v[f"spectral__azimuthal__b{k:02d}"] for k in range(N_BINS)]
    assert int(np.nanargmax(prof)) == 23  # 0.75 * 32 = 24 -> bin 23 = (23/32, 24/32]
    assert v["spectral__direction__h"] > 0.99


def test_entropy_extremes():
    delta = np.zeros((9, 12), np.float32)
    delta[4, 5] = 255  # flat power spectrum off DC
    assert _row(spectral_vector(delta, window=None))["spectral__entropy__norm"] == pytest.approx(1.0, abs=1e-6)
    nyq = np.tile(np.array([0, 255], np.float32), (8, 4))  # one frequency only
    assert _row(spectral_vector(nyq, window=None))["spectral__entropy__norm"] == pytest.approx(0.0, abs=1e-6)


def test_gain_change_leaves_features_unchanged():
    img = np.random.default_rng(6).random((24, 30))
    a = np.array(list(spectral_features(img).values()))
    b = np.array(list(spectral_features(0.4 * img + 0.1).values()))  # gain and offset
    np.testing.assert_allclose(a[AZ], b[AZ], atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5)  # every feature is gain-invariant


def test_transpose_swaps_h_and_v():
    luma = _smooth_luma((20, 31), 7, sigma=0.8) + np.arange(31, dtype=np.float32)[None, :]
    a, b = spectral_vector(luma), spectral_vector(np.ascontiguousarray(luma.T))
    np.testing.assert_allclose(a[AZ], b[AZ], atol=1e-5)
    assert a[IDX["spectral__direction__h"]] == pytest.approx(b[IDX["spectral__direction__v"]], abs=1e-6)
    assert a[IDX["spectral__direction__d"]] == pytest.approx(b[IDX["spectral__direction__d"]], abs=1e-6)
    assert a[IDX["spectral__direction__h"]] != pytest.approx(a[IDX["spectral__direction__v"]], abs=0.05)


def test_window_suppresses_border_cross():
    yy, xx = np.mgrid[:64, :80]
    luma = (_smooth_luma((64, 80), 1, sigma=3) + 1.0 * xx + 0.5 * yy).astype(np.float32)  # ramp: border jumps
    d_none = _row(spectral_vector(luma, window=None))["spectral__direction__d"]
    d_hann = _row(spectral_vector(luma))["spectral__direction__d"]
    assert d_none < 0.05 and d_hann > d_none + 0.15


def test_power_law_slope():
    # random-phase field with |F| ~ 1 / f (power ~ f^-2): the fitted slope is about -2
    h, w = 96, 128
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    f = np.hypot(fx, fy)
    f[0, 0] = 1
    phase = np.random.default_rng(8).uniform(0, 2 * np.pi, (h, w))
    field = np.real(np.fft.ifft2(np.exp(1j * phase) / f)).astype(np.float32)
    v = _row(spectral_vector(field, window=None))
    assert v["spectral__slope__loglog"] == pytest.approx(-2.0, abs=0.15)
    assert v["spectral__slope_residual__rms"] < 0.15
    white = _row(spectral_vector(_random_luma((96, 128), 9), window=None))
    assert abs(white["spectral__slope__loglog"]) < 0.15  # flat spectrum


@pytest.mark.parametrize("factor", [2, 4])
def test_upsampling_raises_peak_score(factor):
    base = _smooth_luma((32, 24), 10, sigma=1.0)
    up = np.zeros((32 * factor, 24 * factor), np.float32)
    up[::factor, ::factor] = base  # zero insertion...
    k = np.array([0.15, 0.7, 0.15])  # ...then a mild blur (passes 40% at Nyquist)
    up = scipy.signal.convolve2d(up, np.outer(k, k), mode="same", boundary="wrap").astype(np.float32)
    name = f"spectral__upsampling_peak__x{factor}"
    orig, upsampled = _row(spectral_vector(base))[name], _row(spectral_vector(up))[name]
    assert upsampled > orig + 1.0  # ten times the neighbourhood median, at least
    assert upsampled > 1.0


def test_upsampling_peak_skips_dc_and_tiny():
    p = (np.abs(np.fft.rfft2(np.random.default_rng(0).random((5, 6)))) ** 2).ravel()
    assert np.isnan(_upsampling_peak(p[:1], 1, 1, 2, 1e-9))  # every peak lands on DC
    assert np.isfinite(_upsampling_peak(p, 5, 6, 4, 1e-9))


# -- edge shapes ------------------------------------------------------------------------------------------

def test_1x1_and_constant_are_all_nan():
    assert np.all(np.isnan(spectral_vector(np.full((1, 1), 7.0, np.float32))))
    assert np.all(np.isnan(spectral_vector(np.full((9, 13), 42.0, np.float32))))
    row = spectral_features(np.zeros((1, 1), np.uint8))
    assert len(row) == 41 and all(math.isnan(x) for x in row.values())


@pytest.mark.parametrize("shape", [(2, 3), (3, 2), (1, 7), (7, 9), (13, 17), (64, 5)])
def test_small_and_nonsquare_shapes(shape):
    luma = _random_luma(shape, 11)
    out = spectral_vector(luma)
    assert out.shape == (41,)
    v = _row(out)
    assert np.sum([v["spectral__direction__" + d] for d in "hvd"]) == pytest.approx(1.0)
    assert 0 <= v["spectral__entropy__norm"] <= 1 + 1e-9
    az = out[AZ]
    assert np.nansum(az) == pytest.approx(0.0, abs=1e-9)  # centred profile
    assert (np.isnan(out[IDX["spectral__upsampling_peak__x2"]])) == (min(shape) < 5)


def test_item_luma_used():
    rgb = (np.random.default_rng(12).random((9, 11, 3)) * 255).astype(np.uint8)
    want = spectral_vector(load_item(rgb, 0).luma)
    got = np.array(list(spectral_features(rgb).values()))
    np.testing.assert_allclose(got, want, equal_nan=True)


def test_spectrum_sums_entropy_term_below_the_floor():
    """Powers between 0 and the floor enter the entropy with their own ln P (and zeros with 0)."""
    from forensics.features._spectral import _geometry, spectrum_sums

    h, w = 6, 7
    geo = _geometry(h, w, 4, 0.5)
    p = np.random.default_rng(3).random(h * (w // 2 + 1)) * 10
    p[[1, 5, 9]] = [1e-3, 0.0, 0.2]
    floor = 0.5  # well above several powers: the correction is large
    bins, sums = spectrum_sums(p, geo, floor)
    wp = geo.weight * p
    pos = p > 0
    assert sums[6] == pytest.approx(np.sum(wp[pos] * np.log(p[pos])), rel=1e-12)
    assert sums[5] == pytest.approx(wp.sum(), rel=1e-12)
    lp = np.log(np.maximum(p, floor))  # the radial bins use the floored log
    inside = geo.radial < 4
    assert bins[:, 1].sum() == pytest.approx(np.sum((geo.weight * lp)[inside]), rel=1e-12)
    assert bins[:, 0].sum() == pytest.approx(geo.weight[inside].sum())


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(SpectralFeatures, dict(n_bins=32, window="hann", cutoff=0.5, **COMMON),
                   functions=[spectral_features, spectral_vector])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(SpectralFeatures, dict(n_bins=(2, 4096), cutoff=(0.0, 1.0)))


def test_cached_geometries_are_read_only():
    """The per-shape constants are shared between calls by a cache: nobody may change them."""
    from forensics.features._spectral import _geometry, _peak_geometry

    geo = _geometry(9, 12, 5, 0.5)
    for a in (geo.weight, geo.wedge, geo.radial, geo.bin_weight):
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0] = 1
    assert all(not a.flags.writeable for a in _peak_geometry(16, 16, 2))


def test_the_kernel_is_declared_with_the_signature_the_family_calls(monkeypatch):
    def run():
        spectral_features((np.random.default_rng(0).random((13, 17)) * 255).astype(np.uint8))
        SpectralFeatures(n_bins=7, window=None, cutoff=0.25).fit().transform([_random_luma((9, 12), 1) / 255])
    check_declared_signatures(monkeypatch, "forensics.features._spectral", "forensics.features._kernels._spectral",
                              {"weighted_sums"}, run)


@pytest.mark.parametrize("gain", [1e-3, 2e-3, 1e-2])
def test_faint_images_keep_their_spectrum(gain):
    """Every feature is gain-invariant, down to a windowed energy sum(x^2) far below 1 (0.17, 0.66
    and 16.5 here): only an image with no energy at all (constant) has no spectrum."""
    from forensics.features._spectral import _windowed

    luma = np.random.default_rng(5).random((12, 15)) * 255
    energy = _windowed(luma * gain, "hann")[1]
    assert 0 < energy < 20
    np.testing.assert_allclose(spectral_vector(luma * gain), spectral_vector(luma), rtol=0, atol=1e-12)
    assert np.isnan(spectral_vector(np.full((12, 15), 0.5))).all()


@pytest.mark.parametrize("shape", [(5, 5), (8, 8), (7, 9), (13, 17)])
def test_upsampling_peaks_are_the_documented_grid(shape):
    """3 peaks for s = 2 and 15 for s = 4: the multiples of 1/s in [-0.5, 0.5)^2 except DC, each once,
    at the nearest sample (round half up of f N; mirrored peaks share their half-spectrum sample)."""
    from forensics.features._spectral import _peak_geometry

    h, w = shape
    for s, n in ((2, 3), (4, 15)):
        peaks, neighbours, sizes = _peak_geometry(h, w, s)
        want = []
        for a in range(-(s // 2), s - s // 2):
            for b in range(-(s // 2), s - s // 2):
                ky, kx = math.floor(a / s * h + 0.5) % h, math.floor(b / s * w + 0.5) % w
                if (ky, kx) != (0, 0):
                    if kx > w // 2:
                        ky, kx = (h - ky) % h, w - kx
                    want.append(ky * (w // 2 + 1) + kx)
        assert len(want) == n and sorted(peaks.tolist()) == sorted(want)
        assert neighbours.shape == (n, 24) and sizes.tolist() == [(neighbours[k] >= 0).sum() for k in range(n)]
