import numpy as np
import pytest

from conftest import natural_image
from param_contract import COMMON, check_bounds, check_defaults
from forensics.features import DCTSpectrumFeatures, dct_spectrum_features, make_feature_bank
from forensics.features._dct_spectrum import dct_spectrum_vector


def _dct_matrix(n):
    """Orthonormal DCT-II basis written from its definition (independent of scipy.fft)."""
    k = np.arange(n)[:, None]
    m = np.arange(n)[None, :]
    c = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * m + 1) * k / (2 * n))
    c[0] /= np.sqrt(2.0)
    return c


def _reference(y, n_bands):
    h, w = y.shape
    d = _dct_matrix(h) @ y.astype(np.float64) @ _dct_matrix(w).T
    logabs = np.log(np.abs(d) + 1e-3)
    out = np.full((n_bands, n_bands), np.nan)
    for u in range(n_bands):
        for v in range(n_bands):
            rows = [k for k in range(h) if k * n_bands // h == u]
            cols = [l for l in range(w) if l * n_bands // w == v]
            if rows and cols:
                out[u, v] = logabs[np.ix_(rows, cols)].mean()
    return out.ravel()


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (8, 8), (13, 17), (40, 24)])
@pytest.mark.parametrize("n_bands", [1, 4, 8])
def test_matches_definition(shape, n_bands):
    y = np.random.default_rng(sum(shape)).uniform(0, 255, shape)
    np.testing.assert_allclose(dct_spectrum_vector(y, n_bands=n_bands), _reference(y, n_bands), rtol=1e-9,
                               atol=1e-9)


def test_flat_image_hand_computed():
    row = dct_spectrum_features(np.full((8, 8), 128, np.uint8), n_bands=2)
    eps = np.log(1e-3)
    assert list(row.values()) == pytest.approx([(np.log(1024 + 1e-3) + 15 * eps) / 16, eps, eps, eps])


def test_names_and_size_independence():
    ext = DCTSpectrumFeatures(n_bands=3).fit()
    assert list(ext.get_feature_names_out())[:2] == ["dctspec__log_abs__u00v00", "dctspec__log_abs__u00v01"]
    a = ext.transform([natural_image(0, (64, 64)), natural_image(1, (48, 80))])
    assert a.shape == (2, 9) and np.isfinite(a).all()


def test_checkerboard_upsampling_shows_in_the_highest_band():
    img = natural_image(2, (64, 64))[:, :, 0].astype(float)
    up = np.zeros((128, 128))
    up[::2, ::2] = img  # zero-insertion up-sampling: a spectral replica at the highest frequencies
    base = dct_spectrum_vector(np.kron(img, np.ones((2, 2))), n_bands=4)
    ins = dct_spectrum_vector(up, n_bands=4)
    assert ins[-1] > base[-1] + 1.0


def test_bank_select_keeps_only_prefixed_columns():
    X = [natural_image(0, (32, 32))]
    bank = make_feature_bank(["spectral", "dctspec"], select=["spectral__azimuthal__"]).fit(X)
    names = list(bank.get_feature_names_out())
    assert names and all(n.startswith("spectral__azimuthal__") for n in names)
    assert [e for e, _ in bank.extractors_] == ["spectral"]  # dctspec has no kept column: not computed
    full = make_feature_bank(["spectral"]).fit(X)
    idx = [list(full.get_feature_names_out()).index(n) for n in names]
    np.testing.assert_array_equal(bank.transform(X), full.transform(X)[:, idx])
    with pytest.raises(ValueError, match="select"):
        make_feature_bank(["spectral"], select=[""]).fit(X)
    with pytest.raises(ValueError, match="nothing left"):
        make_feature_bank(["spectral"], select=["blur__"]).fit(X)


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(DCTSpectrumFeatures, dict(n_bands=16, **COMMON),
                   functions=[dct_spectrum_features, dct_spectrum_vector])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(DCTSpectrumFeatures, dict(n_bands=(1, 256)))


@pytest.mark.parametrize(("n_bands", "first", "last"), [
    (1, "u00v00", "u00v00"), (10, "u00v00", "u09v09"), (11, "u00v00", "u10v10"), (100, "u00v00", "u99v99"),
    (101, "u000v000", "u100v100"),
])
def test_band_names_are_zero_padded_to_the_widest_index(n_bands, first, last):
    names = DCTSpectrumFeatures(n_bands=n_bands).fit().get_feature_names_out()
    assert len(names) == n_bands ** 2 and len(set(names)) == n_bands ** 2
    assert names[0] == f"dctspec__log_abs__{first}" and names[-1] == f"dctspec__log_abs__{last}"


@pytest.mark.parametrize(("shape", "n_bands"), [((9, 7), 3), ((5, 12), 5), ((16, 16), 16), ((6, 20), 16)])
def test_uneven_bands_match_the_definition(shape, n_bands):
    """Band counts that do not divide the sides (and more bands than rows: NaN bands)."""
    y = natural_image(sum(shape), shape)[:, :, 0]
    got = dct_spectrum_vector(y, n_bands=n_bands)
    np.testing.assert_allclose(got, _reference(y, n_bands), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(DCTSpectrumFeatures(n_bands=n_bands).fit().transform([y])[0], got, rtol=1e-12)
