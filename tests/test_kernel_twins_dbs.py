"""The NumPy twins of the dct, blur and spectral kernels against the compiled kernels.

A twin stands in for its kernel until the kernel is compiled (issue 10, cold start), so it must give
the kernel's outputs: integer outputs (histogram counts, steps, edge counts, widths) identical, floats
within ``RTOL`` plus the absolute bound stated where a value is a sum of signed terms. A DCT
coefficient that is a half-integer in exact arithmetic (they occur on integer-valued luma) rounds
half to even in both (``_dct.TIE``): before, ``rint`` followed the last bit of the arithmetic, which
differed between the kernel (fused multiply-adds), the twin, and the kernel compiled on two CPUs
(``benchmarks/twins_dbs.py --part ties``).
"""

import numpy as np
import pytest

from forensics.media._item import load_item

from forensics.features import _blur, _dct, _spectral
from forensics.features._kernels import _blur as kb
from forensics.features._kernels import _blur_twins as tb
from forensics.features._kernels import _dct as kd
from forensics.features._kernels import _dct_twins as td
from forensics.features._kernels import _spectral as ks
from forensics.features._kernels import _spectral_twins as ts

from reference_dct import lattice_hist

RTOL = 1e-12
#: DCT coefficients: at most 8 * 128 = 1024 in magnitude; one that is zero in exact arithmetic
#: comes out ~1e-13 (the basis is rounded), so it has no relative precision.
COEF_ATOL = 1e-10
LAT = (_dct.Q_MAX + 1, _dct.MIN_INFORMATIVE, _dct.LATTICE_MIN_SCORE, _dct.LATTICE_Z, _dct.LATTICE_RHO)


def _sum_atol(terms, axis=None):
    """Absolute bound of a float sum computed in another order: 1e-12 times the sum of |terms|
    (the sum's condition; a sum of signed terms that cancels has no relative precision)."""
    return 1e-12 * np.abs(terms).sum(axis=axis)


def assert_close(got, want, atol=0.0, rtol=RTOL):
    """``|got - want| <= atol + rtol |want|`` elementwise (``atol`` may be an array), NaN where NaN."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    bad = ~(np.abs(got - want) <= atol + rtol * np.abs(want)) & ~np.isnan(want)
    assert not bad.any(), f"{int(bad.sum())} values differ, first at {np.argwhere(bad)[0]}: " \
                          f"{got[bad][0]!r} vs {want[bad][0]!r}"


def _image(kind, shape, seed=0):
    rng = np.random.default_rng(seed)
    h, w = shape
    if kind == "float":
        return rng.uniform(0, 255, shape).astype(np.float32)
    if kind == "int":  # a decoded image: uint8 values in a float32 plane
        return rng.integers(0, 256, shape).astype(np.float32)
    if kind == "constant":
        return np.full(shape, 131.0, np.float32)
    if kind == "ramp":
        return (np.add.outer(np.arange(h) * 3.0, np.arange(w) * 1.5) % 256).astype(np.float32)
    if kind == "steps":  # rising and falling vertical edges with plateaus, some blur
        row = np.repeat(rng.choice([10.0, 60.0, 200.0, 120.0], size=w // 4 + 1), 4)[:w]
        img = np.tile(row, (h, 1)) + rng.integers(0, 2, shape)
        return img.astype(np.float32)
    raise ValueError(kind)


KINDS = ("float", "int", "constant", "ramp", "steps")


# -- block_dct_stats --------------------------------------------------------------------------------

def _block_args(img, n_bins=_dct.N_BINS, store=True, seed=1):
    """Fresh output buffers; the accumulating ones start non-zero so adding and writing differ."""
    rng = np.random.default_rng(seed)
    nb = (img.shape[0] // 8) * (img.shape[1] // 8)
    coefs = np.full((nb if store else 0, 64), -7.0)
    moments = rng.normal(size=(64, 4))
    hist = rng.integers(0, 5, (64, n_bins))
    edges = np.full(4, -3.0)
    return coefs, moments, hist, edges


def _near_tie(c, tol=1e-9):
    a = np.abs(c)
    return np.abs(a - np.floor(a) - 0.5) <= tol


def _bins(c):
    """|rint(c)| with the exact half-integers (within 1e-9) rounded half to even: the definition."""
    a = np.abs(c)
    f = np.floor(a)
    return np.where(_near_tie(c), f + f % 2, np.rint(a))


def _check_block(img, basis=None, n_bins=_dct.N_BINS, store=True):
    basis = _dct._BASIS if basis is None else basis
    k = _block_args(img, n_bins, store)
    t = _block_args(img, n_bins, store)
    start = _block_args(img, n_bins, store)
    kd.block_dct_stats(img, basis, *k)
    td.block_dct_stats(img, basis, *t)
    # coefficients (a stored copy; the kernel's own when storage is off)
    ck = _coefs(kd.block_dct_stats, img, basis)
    ct = _coefs(td.block_dct_stats, img, basis)
    assert_close(ct, ck, atol=COEF_ATOL)
    if store:
        np.testing.assert_array_equal(k[0], ck)
        np.testing.assert_array_equal(t[0], ct)
    # moments: the start values plus the power sums; bound: the sum's (1e-12 sum |c^p|) plus the
    # coefficients' own (COEF_ATOL p sum |c|^(p - 1))
    powers = np.stack([ck, ck ** 2, ck ** 3, ck ** 4], axis=-1)  # (nb, 64, 4)
    lower = np.stack([np.ones_like(ck), ck, ck ** 2, ck ** 3], axis=-1)
    atol = _sum_atol(powers, 0) + COEF_ATOL * np.arange(1, 5) * np.abs(lower).sum(axis=0)
    assert_close(t[1], k[1], atol=atol)
    assert np.allclose(k[1] - start[1], powers.sum(axis=0), rtol=1e-9, atol=1e-9 + _sum_atol(powers, 0) * 1e3)
    # histograms: identical, the exact half-integers included
    top = n_bins - 1
    ak = np.minimum(_bins(ck), top)
    at = np.minimum(_bins(ct), top)
    tie = _near_tie(ck)
    np.testing.assert_array_equal(at, ak)
    np.testing.assert_array_equal(k[2] - start[2], _hist(ak, n_bins))
    np.testing.assert_array_equal(t[2], k[2])
    moved = int(np.abs(t[2] - k[2]).sum() // 2)
    # boundary sums: positive terms; the counts exact
    assert_close(t[3], k[3], atol=0)
    return moved, int(tie.sum())


def _coefs(fn, img, basis):
    c, m, h, e = _block_args(img)
    fn(img, basis, c, m, h, e)
    return c


def _hist(a, n_bins):
    idx = a.astype(np.int64) + n_bins * np.arange(64)
    return np.bincount(idx.ravel(), minlength=64 * n_bins).reshape(64, n_bins)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(8, 8), (16, 8), (8, 16), (13, 17), (23, 33), (67, 93)])
def test_block_dct_stats_twin(kind, shape):
    moved, ties = _check_block(_image(kind, shape, seed=shape[0]))
    if kind == "float":  # no half-integer coefficient: the histograms are the kernel's
        assert moved == ties == 0


@pytest.mark.parametrize("shape", [(7, 7), (7, 16), (16, 7), (0, 0), (0, 9)])
def test_block_dct_stats_twin_without_blocks(shape):
    """Below one complete block: no coefficient, the edge sums zero, the buffers as they were."""
    img = _image("int", shape) if shape[0] else np.zeros(shape, np.float32)
    k, t, start = _block_args(img), _block_args(img), _block_args(img)
    kd.block_dct_stats(img, _dct._BASIS, *k)
    td.block_dct_stats(img, _dct._BASIS, *t)
    for a, b, s in zip(t[:3], k[:3], start[:3]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, s)
    np.testing.assert_array_equal(t[3], k[3])
    np.testing.assert_array_equal(t[3], np.zeros(4))


def test_block_dct_stats_twin_parameters():
    """A few histogram bins (the top bin clips), storage off, and a basis other than the DCT's (the
    butterfly reads only its first four columns)."""
    img = _image("float", (40, 48))
    _check_block(img, n_bins=7)
    _check_block(img, n_bins=2)
    _check_block(img, store=False)
    basis = _dct._BASIS + np.random.default_rng(3).normal(0, 0.01, (8, 8))
    _check_block(img, basis=basis)


def test_block_dct_stats_ties_round_half_to_even():
    """On integer-valued luma exact half-integers exist (the DC and the (0, 4), (4, 0), (4, 4)
    frequencies are multiples of 1/8) and both the kernel and the twin round them half to even; a
    coefficient 1e-6 off a half-integer is not a tie."""
    img = _image("int", (64, 64), seed=11)
    moved, ties = _check_block(img)
    assert ties > 0 and moved == 0
    # hand-made blocks: a flat block at 128 (level shift: zeros) with pixel sums 4 and 12 above it
    # has DC = 4 / 8 = 0.5 and 12 / 8 = 1.5: bins 0 and 2 (half to even), never 1
    blocks = np.full((8, 24), 128.0, np.float32)
    blocks[0, 0] += 4.0
    blocks[0, 8] += 12.0
    blocks[0, 16] += 12.0 - 2.0 ** -7  # DC = 1.5 - 2^-10 (exact in float32): no tie, bin 1
    for fn in (kd.block_dct_stats, td.block_dct_stats):
        c, m, h, e = _block_args(blocks)
        h[:] = 0
        fn(blocks, _dct._BASIS, c, m, h, e)
        np.testing.assert_allclose(c[:, 0], [0.5, 1.5, 1.5 - 2.0 ** -10], atol=1e-12)
        assert h[0, :3].tolist() == [1, 1, 1]  # DC bins: 0 (0.5), 2 (1.5), 1 (1.499)


# -- lattice_steps ----------------------------------------------------------------------------------

def _steps(fn, hist, *args):
    out = np.full(hist.shape[0], -5.0)
    fn(np.ascontiguousarray(hist, dtype=np.int64), *args, out)
    return out


def _real_hist(quality, seed):
    """The DCT histograms of a JPEG of a natural image (a lattice in most frequencies)."""
    from PIL import Image
    import io
    from conftest import natural_image

    buf = io.BytesIO()
    Image.fromarray(natural_image(seed, (128, 160))).convert("L").save(buf, "JPEG", quality=quality)
    luma = np.asarray(Image.open(buf), dtype=np.float32)
    hist = np.zeros((64, _dct.N_BINS), np.int64)
    kd.block_dct_stats(luma, _dct._BASIS, np.empty((0, 64)), np.zeros((64, 4)), hist, np.zeros(4))
    return hist


HISTS = {
    "lattice": lambda: lattice_hist(0),
    "lattice2": lambda: lattice_hist(5),
    "jpeg_q50": lambda: _real_hist(50, 1),
    "jpeg_q90": lambda: _real_hist(90, 2),
    "random": lambda: np.random.default_rng(4).integers(0, 30, (64, _dct.N_BINS)),
    "empty": lambda: np.zeros((64, _dct.N_BINS), np.int64),
}


@pytest.mark.parametrize("name", list(HISTS))
def test_lattice_twins(name):
    hist = HISTS[name]()
    for n_q in (_dct.Q_MAX + 1, 40, 3, 2):
        k = np.zeros((64, n_q, 2))
        t = np.zeros((64, n_q, 2))
        kd.lattice_scores(hist, k)
        td.lattice_scores(hist, t)
        np.testing.assert_array_equal(t, k)
    want = _steps(kd.lattice_steps, hist, *LAT)
    np.testing.assert_array_equal(_steps(td.lattice_steps, hist, *LAT), want)
    for args in [(40, 10, 0.1, 1.0, 0.5), (3, 100, 0.0, 0.0, 0.9), (2, 0, 0.25, 3.0, 0.7),
                 (_dct.Q_MAX + 1, 30, 2.0, 3.0, 0.7)]:
        np.testing.assert_array_equal(_steps(td.lattice_steps, hist, *args), _steps(kd.lattice_steps, hist, *args))


def test_lattice_steps_twin_small_histograms():
    """Fewer bins than the steps (empty sums), and a narrow histogram with every rule's case."""
    rng = np.random.default_rng(7)
    for n_bins in (1, 2, 3, 4, 9):
        hist = rng.integers(0, 40, (5, n_bins))
        for n_q in (2, 3, 6, 20):
            args = (n_q, 30, 0.25, 3.0, 0.7)
            np.testing.assert_array_equal(_steps(td.lattice_steps, hist, *args), _steps(kd.lattice_steps, hist, *args))


def test_lattice_steps_twin_thresholds():
    """Each decision of the rule at its threshold, just below and just above."""
    hist = lattice_hist(2)
    scores = np.zeros((64, _dct.Q_MAX + 1, 2))
    kd.lattice_scores(hist, scores)
    n_inf = hist[:, 2:].sum(axis=1)
    x = (scores[:, 2:, 0] - scores[:, 2:, 1]) / np.maximum(n_inf, 1)[:, None]
    k = int(np.argmax(np.where(n_inf >= 30, x.max(axis=1), -np.inf)))  # a row with a lattice
    best = x[k].max()
    second = np.sort(x[k])[-2]
    q_max = _dct.Q_MAX + 1
    cases = []
    for v in (n_inf[k] - 1, n_inf[k], n_inf[k] + 1):  # min_informative
        cases.append((q_max, int(v), 0.25, 3.0, 0.7))
    for v in (np.nextafter(best, -np.inf), best, np.nextafter(best, np.inf)):  # min_score (z = 0)
        cases.append((q_max, 30, float(v), 0.0, 0.7))
    for r in (second / best,):  # rho at the second-best excess: X(q) >= rho * best
        for v in (np.nextafter(r, -np.inf), r, np.nextafter(r, np.inf)):
            cases.append((q_max, 30, 0.0, 0.0, float(v)))
    seen = set()
    for args in cases:
        want = _steps(kd.lattice_steps, hist, *args)
        np.testing.assert_array_equal(_steps(td.lattice_steps, hist, *args), want)
        seen.add(tuple(np.nan_to_num(want[k:k + 1], nan=-1.0)))
    assert len(seen) >= 3  # the thresholds do switch the row's outcome


# -- sharpness_edges --------------------------------------------------------------------------------

def _sharp(fn, img, grid, threshold, seed=0):
    h, w = img.shape
    rng = np.random.default_rng(seed)
    out = rng.normal(size=(grid * grid, 5))  # the kernel adds to it
    widths = np.full(max((h - 2) * (w - 2), 0) + 3, -1.5)  # past the edges: untouched
    n = fn(img, grid, _blur._bounds(w, grid), float(threshold), out, widths)
    return n, out, widths


def _check_sharp(img, grid=4, threshold=20.0):
    nk, ok, wk = _sharp(kb.sharpness_edges, img, grid, threshold)
    nt, ot, wt = _sharp(tb.sharpness_edges, img, grid, threshold)
    assert isinstance(nt, int) and nt == nk
    np.testing.assert_array_equal(wt, wk)  # widths and the untouched tail
    start = np.random.default_rng(0).normal(size=(grid * grid, 5))
    # column 1 (sum of L) has signed terms: bound from the sum of |L| per cell, <= 8 * 255 * count
    atol = np.zeros(5)
    atol[1] = 1e-12 * 8 * 255 * np.abs(ok[:, 0] - start[:, 0]).max(initial=0)
    assert_close(ot, ok, atol=atol + 1e-15)
    return nk


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(3, 3), (3, 7), (7, 3), (13, 17), (37, 29), (64, 80)])
def test_sharpness_edges_twin(kind, shape):
    _check_sharp(_image(kind, shape, seed=shape[1]))


@pytest.mark.parametrize("shape", [(2, 3), (3, 2), (2, 2), (1, 5)])
def test_sharpness_edges_twin_below_3x3(shape):
    """No interior pixel: no edge, ``out`` and ``widths`` untouched."""
    img = _image("int", shape)
    assert _check_sharp(img) == 0


@pytest.mark.parametrize("grid", [1, 2, 3, 5, 9])
@pytest.mark.parametrize("threshold", [0.0, 8.0, 60.0])
def test_sharpness_edges_twin_parameters(grid, threshold):
    """Grids other than 4 (cells thinner than a row, rows of empty cells) and other thresholds."""
    for shape in ((31, 45), (6, 7)):
        _check_sharp(_image("steps", shape, seed=grid), grid, threshold)
        _check_sharp(_image("int", shape, seed=grid), grid, threshold)


def test_sharpness_edges_twin_threshold_at_an_edge():
    """The edge test ``|Gx| >= 4 threshold`` at an edge's magnitude, just below and just above."""
    img = _image("steps", (20, 40), seed=3)
    gx = np.abs(np.asarray(_sobel_x(img)))[1:-1, 1:-1]
    levels = np.unique(gx[gx > 0])
    mag = float(levels[len(levels) // 2])
    counts = [_check_sharp(img, 4, t) for t in (np.nextafter(mag / 4, 0), mag / 4, np.nextafter(mag / 4, np.inf))]
    assert counts[0] >= counts[1] > counts[2]


def _sobel_x(img):
    x = img.astype(np.float64)
    out = np.zeros_like(x)
    out[1:-1, 1:-1] = ((x[:-2, 2:] + 2 * x[1:-1, 2:] + x[2:, 2:]) - (x[:-2, :-2] + 2 * x[1:-1, :-2] + x[2:, :-2]))
    return out


# -- haar_detail_energies ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(8, 8), (7, 8), (8, 7), (17, 23), (64, 48)])
@pytest.mark.parametrize("levels", [0, 1, 2, 3, 4])
def test_haar_detail_energies_twin(kind, shape, levels):
    img = _image(kind, shape, seed=levels)
    k = np.full(levels + 2, -2.0)
    t = np.full(levels + 2, -2.0)
    kb.haar_detail_energies(img, levels, k)
    tb.haar_detail_energies(img, levels, t)
    assert_close(t, k, atol=0)  # sums of squares: no cancellation
    np.testing.assert_array_equal(t[levels:], -2.0)


# -- weighted_sums ----------------------------------------------------------------------------------

def _spectral_args(shape, n_bins=32, cutoff=0.5, seed=0):
    h, w = shape
    rng = np.random.default_rng(seed)
    x, energy = _spectral._windowed(_image("int", shape, seed), "hann")
    p = (np.abs(np.fft.rfft2(x)) ** 2).ravel()
    p[rng.integers(0, p.size, 3)] = 0.0  # zero power in places
    lp = np.log(np.maximum(p, _spectral._REL_FLOOR * max(energy, 1.0)))
    geo = _spectral._geometry(h, w, n_bins, cutoff)
    return p, lp, geo.weight, geo.wedge, geo.radial, rng.normal(size=7), rng.normal(size=n_bins + 1)


@pytest.mark.parametrize("shape, n_bins, cutoff", [
    ((1, 2), 32, 0.5), ((5, 3), 32, 0.5), ((17, 24), 7, 0.3), ((64, 64), 32, 0.5), ((33, 65), 64, 1.0)])
def test_weighted_sums_twin(shape, n_bins, cutoff):
    k = _spectral_args(shape, n_bins, cutoff)
    t = _spectral_args(shape, n_bins, cutoff)
    sk = ks.weighted_sums(*k)
    st = ts.weighted_sums(*t)
    p, lp, wt = k[0], k[1], k[2]
    assert_close(st[0], sk[0], atol=0)
    assert_close(st[1], sk[1], atol=_sum_atol(wt * p * lp))
    assert_close(t[5], k[5], atol=1e-15)
    per_bin = np.bincount(k[4], np.abs(wt * lp), minlength=n_bins + 1)
    assert_close(t[6], k[6], atol=1e-12 * per_bin + 1e-15)
    start = _spectral_args(shape, n_bins, cutoff)
    assert np.allclose(t[5] - start[5], np.bincount(k[3], wt * p, minlength=7), rtol=1e-9, atol=1e-9)


def test_weighted_sums_twin_empty():
    z = np.zeros(0)
    e, s = np.ones(7), np.ones(3)
    assert ts.weighted_sums(z, z, z, np.zeros(0, np.int64), np.zeros(0, np.int64), e, s) == (0.0, 0.0)
    assert ks.weighted_sums(z, z, z, np.zeros(0, np.int64), np.zeros(0, np.int64), e.copy(), s.copy()) == (0.0, 0.0)
    np.testing.assert_array_equal(e, 1.0)
    np.testing.assert_array_equal(s, 1.0)


# -- the module tables and the families through the twins --------------------------------------------

def test_twin_tables_cover_the_declared_kernels():
    from forensics.features._kernels._config import DECLARED

    tables = {"_dct": td.TWINS, "_blur": tb.TWINS, "_spectral": ts.TWINS}
    for (module, name), (dispatcher, _sig) in DECLARED.items():
        short = module.rsplit(".", 1)[1]
        if short in tables:
            assert name in tables[short], name
            assert tables[short][name].__name__ == dispatcher.py_func.__name__
    assert sum(len(t) for t in tables.values()) == 5


@pytest.fixture(scope="module")
def fixture_inputs():
    import regression_features

    return regression_features.make_inputs()


def _bank_values(inputs, twins, monkeypatch):
    """{parameters: (column names, values)} of the dct, blur and spectral families, with the kernels
    or with the twins in their place."""
    from forensics.features import make_feature_bank

    if twins:
        monkeypatch.setattr(_dct, "block_dct_stats", td.block_dct_stats)
        monkeypatch.setattr(_dct, "lattice_steps", td.lattice_steps)
        monkeypatch.setattr(_blur, "sharpness_edges", tb.sharpness_edges)
        monkeypatch.setattr(_blur, "haar_detail_energies", tb.haar_detail_energies)
        monkeypatch.setattr(_spectral, "weighted_sums", ts.weighted_sums)
    out = {}
    for params in ({}, dict(dct__n_coeffs=20, dct__n_steps=64, blur__grid=3, blur__edge_threshold=8.0,
                            spectral__n_bins=7, spectral__cutoff=0.3)):
        bank = make_feature_bank(["dct", "blur", "spectral"], **params).fit()
        out[tuple(params)] = (list(bank.get_feature_names_out()), bank.transform(list(inputs.values())))
    monkeypatch.undo()
    return out


@pytest.mark.filterwarnings("ignore:.* were read but have no value in any of:RuntimeWarning")
def test_families_through_the_twins(fixture_inputs, monkeypatch):
    """Every column of the dct, blur and spectral families, on the regression fixture inputs and with
    parameters away from their defaults, with the kernels and with the twins."""
    want = _bank_values(fixture_inputs, False, monkeypatch)
    got = _bank_values(fixture_inputs, True, monkeypatch)
    names_in = list(fixture_inputs)
    differ = set()
    for key, (names, w) in want.items():
        g = got[key][1]
        assert got[key][0] == names
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        bad = ~np.isclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True)
        for i, j in zip(*np.nonzero(bad)):
            differ.add((names_in[i], names[j]))
    # every column within 1e-9, the histogram columns of grey inputs included (their exact
    # half-integers round half to even in both)
    assert not differ, sorted(differ)[:10]
