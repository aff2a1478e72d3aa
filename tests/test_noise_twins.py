"""The NumPy twins of the noise moment kernels (``forensics/features/_kernels/_noise_twins.py``)
against the compiled kernels, and the noise family computed through them against the family
computed through the kernels.

Tolerances (the twins' stated contract): counts ``n`` identical; ``S2``, ``S4`` within 1e-12
relative; the signed sums, which can cancel to zero up to rounding, within 1e-12 of the
Cauchy-Schwarz bound of the sum of their absolute values: ``S1`` within ``1e-12 sqrt(n S2)``,
``S3`` within ``1e-12 sqrt(S2 S4)``, a cross product within ``1e-12 sqrt(S2_a S2_b)``.
"""

import numpy as np
import pytest

import regression_features
from forensics.features import _noise
from forensics.features._kernels import _noise as kernels
from forensics.features._kernels import _noise_twins as twins
from forensics.features._kernels._config import DECLARED
from forensics.features._noise import NoiseFeatures, _bounds

RTOL = 1e-12
#: kernel name -> (cell rows, border the bounds are clipped to).
SHAPES = {"median_moments": (4, 1), "srm_moments": (7, 2)}
#: The cell rows whose products ``cross`` holds: planes (r, g), (r, b), (g, b) of the median
#: residual, KV3 rows of r, g, b of the SRM residuals.
PAIRS = ((0, 1), (0, 2), (1, 2))


def _check_sums(got, want, start=None):
    """``got`` against ``want`` (..., 5) cell sums within the stated bounds (``start``: the values
    both were added to, subtracted before the bounds are computed)."""
    got, want = np.asarray(got), np.asarray(want)
    added = want - (0.0 if start is None else start)
    n, s2, s4 = added[..., 0], np.abs(added[..., 2]), np.abs(added[..., 4])
    np.testing.assert_array_equal(got[..., 0], want[..., 0])
    for k, bound in ((1, np.sqrt(n * s2)), (2, 0.0), (3, np.sqrt(s2 * s4)), (4, 0.0)):
        err = np.abs(got[..., k] - want[..., k])
        assert np.all(err <= RTOL * np.abs(want[..., k]) + RTOL * bound + 1e-300), (k, err.max())


def _check_cross(got, want, totals):
    for k, (a, b) in enumerate(PAIRS):
        bound = RTOL * np.sqrt(totals[a, 2] * totals[b, 2])
        assert abs(got[k] - want[k]) <= RTOL * abs(want[k]) + bound, (k, got[k], want[k])


def _start(shape, scale=1.0, seed=7):
    """Nonzero starting outputs (integer-valued: the counts added to them stay exact)."""
    return scale * np.random.default_rng(seed).integers(1, 100, shape).astype(np.float64)


def _run_pair(name, planes, grid, bounds=None, start=0.0):
    """Run the kernel ``name`` and its twin on the same planes; compare every output."""
    rows, border = SHAPES[name]
    n_planes, h, w = planes.shape
    if name == "median_moments":
        rows = n_planes
    if bounds is None:
        bounds = _bounds(w, grid, border, w - border)
    cells0 = _start((rows, grid * grid, 5), start)
    cross0 = _start(3, start, seed=8)
    outs = []
    for fn in (getattr(kernels, name), twins.TWINS[name]):
        cells, cross = cells0.copy(), cross0.copy()
        assert fn(planes, grid, bounds, cells, cross) is None
        outs.append((cells, cross))
    (kc, kx), (tc, tx) = outs
    _check_sums(tc, kc, cells0)
    _check_cross(tx, kx, (kc - cells0).sum(axis=1))
    return kc, kx, tc, tx


def _planes(shape, kind, seed=0, n=4):
    rng = np.random.default_rng(seed)
    h, w = shape
    if kind == "float":
        return (rng.random((n, h, w)) * 255).astype(np.float32)
    if kind == "int":  # decoded images: uint8 values in float32 planes
        return rng.integers(0, 256, (n, h, w)).astype(np.float32)
    if kind == "constant":
        return np.full((n, h, w), 131.0, np.float32)
    i, j = np.mgrid[0:h, 0:w]  # a ramp per plane: constant first differences, zero second ones
    return np.stack([(1.5 * j + 0.25 * i + 3 * q) for q in range(n)]).astype(np.float32)


def test_twins_cover_the_declared_moment_kernels():
    declared = {f for (m, f) in DECLARED if m == kernels.__name__ and f.endswith("_moments")}
    assert set(twins.TWINS) == declared == {"median_moments", "srm_moments", "plane_moments"}
    for name, twin in twins.TWINS.items():
        assert twin.__name__ == name and name in twin.__doc__


@pytest.mark.parametrize("name", ["median_moments", "srm_moments"])
@pytest.mark.parametrize("kind", ["float", "int"])
@pytest.mark.parametrize("shape, grid", [((7, 9), 1), ((13, 17), 3), ((31, 24), 4), ((64, 77), 5),
                                         ((256, 256), 4), ((301, 123), 7)])
def test_filter_twins_match_kernels(name, kind, shape, grid):
    kc = _run_pair(name, _planes(shape, kind, seed=grid), grid)[0]
    assert kc[..., 0].sum() > 0 and np.all(kc[..., 2].sum(axis=1) > 0)  # the comparison saw pixels


@pytest.mark.parametrize("name", ["median_moments", "srm_moments"])
def test_integer_valued_median_sums_are_exact(name):
    """Integer residuals (median, and the dyadic SRM rows on integer planes) sum exactly whatever
    the order: the twin's sums are the kernel's, bit for bit."""
    planes = _planes((61, 53), "int", seed=3)
    rows, border = SHAPES[name]
    outs = []
    for fn in (getattr(kernels, name), twins.TWINS[name]):
        cells, cross = np.zeros((rows, 9, 5)), np.zeros(3)
        fn(planes, 3, _bounds(53, 3, border, 53 - border), cells, cross)
        outs.append((cells, cross))
    exact = slice(None) if name == "median_moments" else slice(0, 6)  # KV5 (/ 12) is not dyadic
    np.testing.assert_array_equal(outs[1][0][exact], outs[0][0][exact])
    np.testing.assert_array_equal(outs[1][1], outs[0][1])


@pytest.mark.parametrize("name, h, w", [
    ("median_moments", 3, 3), ("median_moments", 3, 8), ("median_moments", 8, 3),
    ("median_moments", 2, 8), ("median_moments", 8, 2), ("median_moments", 2, 2),
    ("srm_moments", 5, 5), ("srm_moments", 5, 9), ("srm_moments", 9, 5),
    ("srm_moments", 4, 9), ("srm_moments", 9, 4), ("srm_moments", 4, 4),
])
@pytest.mark.parametrize("grid", [1, 4, 7])
def test_smallest_sizes_and_just_below(name, h, w, grid):
    """At the smallest accepted size, and one row or column below it (the kernel's loops are empty:
    nothing is added, except ``cross += 0`` when rows exist); grid larger than the image (empty
    cells)."""
    planes = _planes((h, w), "float", seed=h * w)
    kc, kx, tc, tx = _run_pair(name, planes, grid, start=1.0)
    smallest = 3 if name == "median_moments" else 5
    if h < smallest or w < smallest:
        cells0 = _start(kc.shape)
        np.testing.assert_array_equal(kc, cells0)  # untouched by the kernel ...
        np.testing.assert_array_equal(tc, cells0)  # ... and by the twin


@pytest.mark.parametrize("name", ["median_moments", "srm_moments"])
@pytest.mark.parametrize("kind", ["constant", "ramp"])
def test_constant_and_ramp(name, kind):
    """The shift (the first residual) makes a constant residual sum to exactly zero; the twin's
    shifts and residuals are the kernel's, so its sums are exactly zero too. On a ramp the median
    residual, KV3, the second-order and KV5 residuals are zero; the pooled first-order row is not
    (two constants, 1.5 and 0.25, one shift)."""
    kc, kx, tc, tx = _run_pair(name, _planes((23, 29), kind), 3)
    zero = [0, 1, 2, 3] if name == "median_moments" or kind == "constant" else [0, 1, 2, 3, 5, 6]
    if name == "srm_moments" and kind == "constant":
        zero = list(range(7))
    for cells, cross in ((kc, kx), (tc, tx)):
        assert np.all(cells[zero, :, 1:] == 0.0) and np.all(cross == 0.0)
        assert np.all(cells[zero, :, 0] > 0)
    if name == "srm_moments" and kind == "ramp":
        assert np.all(tc[4, :, 2] > 0) and np.all(kc[4, :, 2] > 0)


def test_accumulates_into_nonzero_outputs_and_leaves_untouched_cells():
    """The outputs are added to (not overwritten); cells no pixel falls in keep their values: with
    9 rows and grid 5, the interior rows 1..7 fall in rows of cells 0..3, never 4."""
    planes = _planes((9, 40), "float", seed=11)
    bounds = _bounds(40, 5, 1, 39)
    start = _start((4, 25, 5))
    start[:, 20:] = -0.0  # a cell that is added to (even + 0.0) loses the sign of its zero
    kc, kx, tc, tx = _run_pair("median_moments", planes, 5, start=1.0)
    for fn in (kernels.median_moments, twins.median_moments):
        cells = start.copy()
        fn(planes, 5, bounds, cells, np.zeros(3))
        assert np.all(np.signbit(cells[:, 20:])) and np.all(cells[:, 20:] == 0.0)
        assert np.all(cells[:, :20, 0] > start[:, :20, 0])


@pytest.mark.parametrize("n_planes", [3, 5])
def test_median_twin_other_plane_counts(n_planes):
    """The median kernel takes any P >= 3 planes (the products stay those of planes 0, 1, 2)."""
    kc = _run_pair("median_moments", _planes((19, 22), "float", seed=n_planes, n=n_planes), 3)[0]
    assert kc.shape[0] == n_planes and np.all(kc[..., 0].sum(axis=1) == 17 * 20)


def test_caller_bounds_away_from_the_default_clipping():
    """Bounds narrower than the valid columns, an empty segment and the unused zero border columns."""
    planes = _planes((40, 50), "float", seed=5)
    for name, bounds in (("median_moments", [0, 10, 10, 30, 50]), ("srm_moments", [5, 9, 9, 40, 45]),
                         ("median_moments", [3, 2, 20, 49, 49])):
        _run_pair(name, planes, 4, bounds=np.array(bounds, dtype=np.int64))


@pytest.mark.parametrize("shape, grid", [((1, 1), 1), ((1, 9), 3), ((9, 1), 3), ((7, 9), 4),
                                         ((64, 77), 5), ((300, 301), 4), ((2, 3), 7)])
@pytest.mark.parametrize("kind", ["float", "int", "constant"])
def test_plane_moments_twin(shape, grid, kind):
    rng = np.random.default_rng(grid)
    r = {"float": rng.normal(0.0, 3.0, shape), "int": rng.integers(-40, 40, shape).astype(np.float64),
         "constant": np.full(shape, -2.5)}[kind]
    bounds = _bounds(shape[1], grid, 0, shape[1])
    start = _start((grid * grid, 5))
    want, got = start.copy(), start.copy()
    kernels.plane_moments(r, grid, bounds, want)
    assert twins.plane_moments(r, grid, bounds, got) is None
    _check_sums(got, want, start)
    if kind != "float":
        np.testing.assert_array_equal(got - start, want - start)  # integers / zeros: exact sums


def test_plane_moments_twin_on_an_empty_plane():
    """Below the smallest size (no row): nothing is added (the kernel is not called here: it reads
    ``r[0, 0]`` before its empty loop)."""
    cells = np.arange(20.0).reshape(4, 5)
    twins.plane_moments(np.zeros((0, 6)), 2, _bounds(6, 2, 0, 6), cells)
    np.testing.assert_array_equal(cells, np.arange(20.0).reshape(4, 5))


def test_chunks_across_rows_of_cells(monkeypatch):
    """Tiny chunks (one image row each, rows of cells of several chunks) give the same sums."""
    planes = _planes((37, 41), "float", seed=2)
    _run_pair("srm_moments", planes, 3)
    monkeypatch.setattr(twins, "_CHUNK", 1)
    _run_pair("srm_moments", planes, 3)
    _run_pair("median_moments", planes, 4)
    r = planes[0].astype(np.float64)
    want, got = np.zeros((9, 5)), np.zeros((9, 5))
    kernels.plane_moments(r, 3, _bounds(41, 3, 0, 41), want)
    twins.plane_moments(r, 3, _bounds(41, 3, 0, 41), got)
    _check_sums(got, want)


@pytest.fixture(scope="module")
def fixture_inputs():
    return list(regression_features.load()[0].values())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("params", [{}, dict(grid=3, wavelet="sym4", wavelet_level=3),
                                    dict(residuals=("wavelet", "median"), grid=1, wavelet="haar",
                                         wavelet_level=1)])
def test_noise_family_through_twins(fixture_inputs, monkeypatch, params):
    """Every noise column on the regression fixture inputs, with the kernels and with the twins."""
    want = NoiseFeatures(**params).fit().transform(fixture_inputs)
    for name, twin in twins.TWINS.items():
        monkeypatch.setattr(_noise, name, twin)
    got = NoiseFeatures(**params).fit().transform(fixture_inputs)
    assert got.shape == want.shape and np.isfinite(want).sum() > want.size // 2
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0.0, equal_nan=True)
