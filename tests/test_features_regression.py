"""Every column of every family, on fixed inputs, against the values recorded in
``tests/data/features_regression.npz`` (see ``tests/regression_features.py``).

This guards the formulas while their implementation changes (speed work): a faster kernel must
give the same numbers. Tolerance: ``|new - old| <= RTOL |old| + atol(column)``, NaN exactly where
NaN was. ``ATOL`` states, per column prefix, an absolute bound and why it is needed; columns not
listed get ``DEFAULT_ATOL`` (values that are zero up to rounding, e.g. the variance of a
constant image's residual, have no relative precision).
"""

import numpy as np
import pytest

import regression_features as fixture

# the recorded fixture set includes images too small for some families: their all-NaN rows are meant (the warning itself is tested in test_extraction_base.py)
pytestmark = pytest.mark.filterwarnings("ignore:.* were read but have no value in any of:RuntimeWarning")

RTOL = 1e-6
DEFAULT_ATOL = 1e-9
#: column prefix -> (absolute bound, reason).
ATOL = {}


def _atol(name):
    for prefix, (bound, _reason) in ATOL.items():
        if name.startswith(prefix):
            return bound
    return DEFAULT_ATOL


@pytest.fixture(scope="module")
def recorded():
    return fixture.load()


def test_fixture_is_small_and_covers_the_cases(recorded):
    inputs, values = recorded
    assert fixture.FIXTURE.stat().st_size < 500_000
    assert len(inputs) >= 12
    names, bank = values["bank"]
    assert bank.shape == (len(inputs), len(names))
    # every column is finite on at least one input, and NaN-free inputs exist
    for config, (names, vals) in values.items():
        assert np.isfinite(vals).any(axis=0).all(), config
    assert (np.isfinite(bank).all(axis=1)).sum() >= 2


@pytest.mark.parametrize("config", list(fixture.CONFIGS))
def test_columns_match_recorded_values(recorded, config):
    inputs, values = recorded
    want_names, want = values[config]
    names, got = fixture.compute(inputs, config)
    assert names == want_names
    atol = np.array([_atol(n) for n in names])
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    bad_nan = np.argwhere(nan_got != nan_want)
    assert not len(bad_nan), [(list(inputs)[i], names[j], got[i, j], want[i, j]) for i, j in bad_nan[:10]]
    err = np.abs(np.where(nan_want, 0.0, got - want))
    bound = RTOL * np.abs(np.where(nan_want, 0.0, want)) + atol
    bad = np.argwhere(err > bound)
    assert not len(bad), [(list(inputs)[i], names[j], float(got[i, j]), float(want[i, j]))
                          for i, j in bad[:10]]


def test_comparison_is_sensitive(recorded):
    """A change of one column by 10 RTOL is caught (the check can fail)."""
    inputs, values = recorded
    names, want = values["bank"]
    got = want.copy()
    j = names.index("spectral__slope__loglog")
    got[0, j] *= 1 + 10 * RTOL
    err = np.abs(got - want)[0, j]
    assert err > RTOL * abs(want[0, j]) + _atol(names[j])
