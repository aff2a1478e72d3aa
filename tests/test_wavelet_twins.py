"""The NumPy twins of the wavelet, Haar and median kernels (``_kernels/_wavelet_twins.py``) against the
compiled kernels, and the noise family computed through the twins against the family through the kernels.

Tolerances (the twin contract of issue 10): ``haar_abs_hh`` and ``median_flat`` bitwise; the filter
twins within ``rtol = 1e-12`` plus ``atol = 1e-14 * max|src| * max_p sum_k |coef[p, k]|``, the rounding
bound of a sum of at most 2K = 32 products evaluated in two orders (a coefficient that is zero up to
rounding, e.g. a detail of a ramp, has no relative precision).
"""

import numpy as np
import pytest
import pywt

import regression_features as fixture
from forensics.features import _noise as family
from forensics.features._kernels import _noise as kernels
from forensics.features._kernels import _wavelet_twins as twins
from forensics.features._noise import (
    MAD_TO_SIGMA, NoiseFeatures, _analysis_cols, _analysis_rows, _synthesis_cols, _synthesis_rows, wavelet_residual,
)
from reference_noise import wavelet_reference

WAVELETS = ["haar", "db2", "db4", "db8", "sym4"]


def _filter_atol(src, coef):
    scale = np.abs(src).max() if src.size else 0.0
    return 1e-14 * scale * np.abs(coef).reshape(coef.shape[0], -1).sum(axis=1).max()


def _both(name, args, out_index, fill=-7.25):
    """Run kernel and twin on copies of ``args`` whose output (argument ``out_index``) is prefilled with
    ``fill`` (so a cell one of them leaves alone shows); returns (kernel out, twin out, both results)."""
    outs, results = [], []
    for fn in (getattr(kernels, name), twins.TWINS[name]):
        a = list(args)
        a[out_index] = np.full_like(args[out_index], fill)
        results.append(fn(*a))
        outs.append(a[out_index])
    return outs[0], outs[1], results


def _signals(rng, shape):
    """Random floats, integer-valued (decoded uint8) values, a constant and a ramp, all float64."""
    i, j = np.indices(shape)
    return {"random": rng.normal(0, 50, shape), "uint8": rng.integers(0, 256, shape).astype(np.float64),
            "constant": np.full(shape, 131.0), "ramp": 3.0 * i + 0.5 * j + 7.0}


# -- filter_row_pairs --------------------------------------------------------------------------------

@pytest.mark.parametrize("wavelet", WAVELETS)
def test_filter_row_pairs_twin_on_wavelet_tables(wavelet):
    # analysis and synthesis tables over lengths from one row (and F - 2, below the shortest pywt
    # signal of one level) to odd and even ones; a width below the array's (columns left alone) and
    # the full one; the synthesis of an odd length drops the second output of its last table row
    f = pywt.Wavelet(wavelet).dec_len
    rng = np.random.default_rng(f)
    for n in sorted({1, max(f - 2, 1), f - 1, f, f + 1, 2 * f + 3, 37}):
        m = (n + f - 1) // 2
        for kind, src in _signals(rng, (n, 9)).items():
            for width in (9, 5):
                tab = _analysis_rows(wavelet, n)
                got_k, got_t, _ = _both("filter_row_pairs", (src, *tab, width, np.empty((2 * m, 9))), 5)
                np.testing.assert_allclose(got_t, got_k, rtol=1e-12, atol=_filter_atol(src, tab[2]),
                                           err_msg=f"analysis {wavelet} n={n} {kind} width={width}")
                assert (got_t[:, width:] == -7.25).all()
                stacked = np.concatenate(pywt.dwt(src, wavelet, mode="symmetric", axis=0))
                np.testing.assert_allclose(got_t[:, :width], stacked[:, :width], rtol=1e-12, atol=1e-9)
                tab = _synthesis_rows(wavelet, n)
                bands = np.ascontiguousarray(stacked)
                got_k, got_t, _ = _both("filter_row_pairs", (bands, *tab, width, np.empty((n, 9))), 5)
                np.testing.assert_allclose(got_t, got_k, rtol=1e-12, atol=_filter_atol(bands, tab[2]),
                                           err_msg=f"synthesis {wavelet} n={n} {kind} width={width}")
                np.testing.assert_allclose(got_t[:, :width], src[:, :width], rtol=1e-9, atol=1e-9)


def test_filter_row_pairs_twin_on_general_tables():
    # tables that are no wavelet: repeated and unordered source rows, output rows in any order, two
    # second outputs past the end (dropped), 2 to 6 taps, and a width large enough that the twin's
    # block holds fewer table rows than the table has (chunks)
    rng = np.random.default_rng(5)
    for n_src, n_tab, k, width in [(3, 2, 2, 4), (10, 6, 4, 10), (17, 9, 6, 13), (40, 30, 4, 4500)]:
        n_out = 2 * n_tab - 2
        src = rng.normal(0, 10, (n_src, width + 3))
        first = rng.permutation(n_out)[:n_tab]
        second = rng.permutation([r for r in range(n_out) if r not in first] + [n_out, n_out + 3])
        dst = np.stack([first, second], axis=1).astype(np.int64)
        idx = rng.integers(0, n_src, (n_tab, k))
        coef = rng.normal(0, 1, (2, k))
        got_k, got_t, _ = _both("filter_row_pairs", (src, dst, idx, coef, width, np.empty((n_out, width + 3))), 5)
        np.testing.assert_allclose(got_t, got_k, rtol=1e-12, atol=_filter_atol(src, coef))
        want = np.full((n_out, width + 3), -7.25)
        for o in range(n_tab):
            for p in (0, 1):
                if dst[o, p] < n_out:
                    want[dst[o, p], :width] = coef[p] @ src[idx[o], :width]
        np.testing.assert_allclose(got_t, want, rtol=1e-12, atol=1e-12)
    assert twins._BLOCK // (k * width) < n_tab  # the last case crosses a chunk boundary


def test_filter_row_pairs_twin_on_empty_tables():
    # no table row (an empty inverse level) and width 0: nothing written
    src = np.ones((4, 5))
    dst, idx, coef = _synthesis_rows("db2", 0)
    assert idx.shape[0] == 0
    got_k, got_t, _ = _both("filter_row_pairs", (src, dst, idx, coef, 5, np.empty((3, 5))), 5)
    np.testing.assert_array_equal(got_t, got_k)
    assert (got_t == -7.25).all()
    dst, idx, coef = _analysis_rows("db2", 4)
    got_k, got_t, _ = _both("filter_row_pairs", (src, dst, idx, coef, 0, np.empty((4, 5))), 5)
    assert (got_t == -7.25).all() and (got_k == -7.25).all()


# -- filter_row_streams ------------------------------------------------------------------------------

@pytest.mark.parametrize("wavelet", WAVELETS)
def test_filter_row_streams_twin_on_wavelet_tables(wavelet):
    # one analysis level of rows of n columns into 2m (and 2m + 1: the last column is left alone) and
    # one synthesis level back to n (odd n: the last output comes from the even stream); 0, 1 and 7 rows
    f = pywt.Wavelet(wavelet).dec_len
    rng = np.random.default_rng(10 + f)
    for n in sorted({1, max(f - 2, 1), f - 1, f, f + 1, 2 * f + 3, 37}):
        m = (n + f - 1) // 2
        for n_rows in (0, 1, 7):
            for kind, src in _signals(rng, (n_rows, n)).items():
                args = _analysis_cols(wavelet, n)
                for width in (2 * m, 2 * m + 1):
                    got_k, got_t, _ = _both("filter_row_streams", (src, *args, np.empty((n_rows, width))), 5)
                    np.testing.assert_allclose(got_t, got_k, rtol=1e-12, atol=_filter_atol(src, args[2]),
                                               err_msg=f"analysis {wavelet} n={n} rows={n_rows} {kind}")
                if n_rows:
                    stacked = np.concatenate(pywt.dwt(src, wavelet, mode="symmetric", axis=1), axis=1)
                    np.testing.assert_allclose(got_t[:, :2 * m], stacked, rtol=1e-12, atol=1e-9)
                    assert (got_t[:, 2 * m] == -7.25).all()
                bands = np.ascontiguousarray(got_t[:, :2 * m])
                args = _synthesis_cols(wavelet)
                got_k, got_t, _ = _both("filter_row_streams", (bands, *args, np.empty((n_rows, n))), 5)
                np.testing.assert_allclose(got_t, got_k, rtol=1e-12, atol=_filter_atol(bands, args[2]),
                                           err_msg=f"synthesis {wavelet} n={n} rows={n_rows} {kind}")
                np.testing.assert_allclose(got_t, src, rtol=1e-9, atol=1e-9)


def test_filter_row_streams_twin_on_general_tables():
    # extensions that are no symmetric extension (any columns, repeated), odd row lengths (the
    # analysis reads whole pairs; the synthesis ignores the odd last column), 1 to 4 taps per stream,
    # outputs of several widths, and enough rows to cross the twin's row chunks
    rng = np.random.default_rng(6)
    for n_in, n_left, n_right, k, n_rows in [(5, 0, 2, 1, 3), (9, 2, 4, 2, 4), (12, 6, 2, 4, 5), (33, 4, 6, 3, None)]:
        n_len = (n_left + n_in // 2 * 2 + n_right) // 2
        if n_rows is None:  # more rows than one chunk of the widest output holds
            n_rows = twins._BLOCK // (2 * k * (n_len - k + 1)) + 3
        coef = rng.normal(0, 1, (2, 2, k))
        src = rng.normal(0, 20, (n_rows, n_in))
        left = rng.integers(0, n_in, n_left)
        right = rng.integers(0, n_in, n_right)
        for width in (0, 1, 2 * (n_len - k + 1) - 1, 2 * (n_len - k + 1)):
            got_k, got_t, _ = _both("filter_row_streams", (src, left, right, coef, 0, np.empty((n_rows, width))), 5)
            np.testing.assert_allclose(got_t, got_k, rtol=1e-12, atol=_filter_atol(src, coef))
        # by the formula: P_0 the odd samples, P_1 the even samples of the extended row
        ext = np.concatenate([src[:, left], src[:, :n_in // 2 * 2], src[:, right]], axis=1)
        p0, p1, n_s = ext[:, 1::2], ext[:, 0::2], width // 2
        for p in (0, 1):
            want = sum(coef[p, 0, j] * p0[:, k - 1 - j:k - 1 - j + n_s]
                       + coef[p, 1, j] * p1[:, k - 1 - j:k - 1 - j + n_s] for j in range(k))
            np.testing.assert_allclose(got_t[:, p * n_s:(p + 1) * n_s], want, rtol=1e-12, atol=1e-11)
        half = n_in // 2
        for width in (0, 1, 2 * (half - k + 1) - 1, 2 * (half - k + 1)):
            got_k, got_t, _ = _both("filter_row_streams",
                                    (src, left[:0], right[:0], coef, 1, np.empty((n_rows, width))), 5)
            np.testing.assert_allclose(got_t, got_k, rtol=1e-12, atol=_filter_atol(src, coef))
        a, d, n_s = src[:, :half], src[:, half:2 * half], (width + 1) // 2
        for p in (0, 1):
            want = sum(coef[p, 0, j] * a[:, k - 1 - j:k - 1 - j + n_s]
                       + coef[p, 1, j] * d[:, k - 1 - j:k - 1 - j + n_s] for j in range(k))
            np.testing.assert_allclose(got_t[:, p::2], want[:, :(width + 1 - p) // 2], rtol=1e-12, atol=1e-11)


def test_filter_row_streams_twin_on_rows_wider_than_a_chunk():
    # a row whose windows alone pass the twin's chunk size: one row per chunk, none skipped
    rng = np.random.default_rng(16)
    k = 2
    n_in = 2 * (twins._BLOCK // (2 * k)) + 10  # 2 k n_s > _BLOCK for the analysis and the synthesis
    coef = rng.normal(0, 1, (2, 2, k))
    src = rng.normal(0, 20, (3, n_in))
    left, right = np.array([1, 0]), np.array([n_in - 1, n_in - 2])
    for synthesis, width in ((0, n_in + 4 - 2 * k + 2), (1, n_in - 2 * k + 2)):
        got_k, got_t, _ = _both("filter_row_streams",
                                (src, left[:2 - 2 * synthesis], right[:2 - 2 * synthesis], coef, synthesis,
                                 np.empty((3, width))), 5)
        assert 2 * k * (width // 2) > twins._BLOCK
        np.testing.assert_allclose(got_t, got_k, rtol=1e-12, atol=_filter_atol(src, coef))
        assert not (got_t == -7.25).any()


# -- haar_abs_hh -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (2, 2), (3, 5), (2, 7), (17, 33), (64, 48), (131, 97)])
def test_haar_abs_hh_twin_is_bitwise_equal(shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    i, j = np.indices(shape)
    planes = [(rng.random(shape) * 255).astype(np.float32), rng.integers(0, 256, shape).astype(np.float32),
              rng.normal(0, 1e3, shape).astype(np.float32), np.full(shape, 91.5, np.float32),
              (0.37 * i + 1.3 * j).astype(np.float32)]
    for plane in planes:
        # the band of the plane, and one smaller than it (the kernel writes the band's shape)
        for band in ((shape[0] // 2, shape[1] // 2), (shape[0] // 2 // 2, shape[1] // 2)):
            got_k, got_t, (rk, rt) = _both("haar_abs_hh", (plane, np.empty(band)), 1)
            np.testing.assert_array_equal(got_t, got_k)
            assert rk is None and rt is None
        even = plane[:shape[0] // 2 * 2, :shape[1] // 2 * 2].astype(np.float64)
        if even.size:
            np.testing.assert_allclose(got_t, np.abs(pywt.dwt2(even, "haar")[1][2])[:band[0]], rtol=1e-12, atol=1e-12)


# -- median_flat -------------------------------------------------------------------------------------

def _median_cases(rng):
    one = np.nextafter(1.0, 2.0) - 1.0
    for n in (1, 2, 3, 31, 32, 33, 34, 35, 64, 1000, 1001, 4096, 20001):
        yield n, "random", rng.random(n)
        yield n, "integers", rng.integers(0, 7, n).astype(np.float64)  # ties around the median
        yield n, "constant", np.full(n, 2.5)
        yield n, "few ulps", 1.0 + rng.integers(0, 4, n) * one  # a range the histogram cannot split
        yield n, "signed, wide", rng.normal(0, 1, n) * 10.0 ** rng.integers(-30, 30, n)
        yield n, "ramp", np.arange(n, 0, -1) * 0.1
    yield 7, "zeros of both signs", np.array([0.0, -0.0, 1.0, -0.0, 0.0, -1.0, 0.0])
    yield 6, "two values", np.array([3.0, 1.0, 3.0, 1.0, 3.0, 1.0])


def test_median_flat_twin_is_bitwise_equal():
    rng = np.random.default_rng(3)
    for n, kind, vals in _median_cases(rng):
        kept = vals.copy()
        got = []
        for fn in (kernels.median_flat, twins.median_flat):
            got.append(fn(vals, np.empty((4, 1024), np.int64), np.full(n + 1, 5.0)))
            np.testing.assert_array_equal(vals, kept)  # the input is not changed
        assert isinstance(got[1], float)
        assert got[1] == got[0] == np.median(vals), (n, kind, got)
        assert np.signbit(got[1]) == np.signbit(got[0]) or got[1] != 0.0


def test_median_flat_twin_other_bin_counts_and_empty():
    # the kernel's bin count is its scratch's shape: any count from 2 gives the same exact median (with
    # one bin the kernel's selection makes no progress and never ends; the callers pass 1024)
    rng = np.random.default_rng(4)
    vals = rng.random(777)
    for bins in (2, 3, 1024):
        assert kernels.median_flat(vals, np.empty((4, bins), np.int64), np.empty(778)) == \
            twins.median_flat(vals, np.empty((4, bins), np.int64), np.empty(778)) == np.median(vals)
    # n == 0 is outside the contract (the callers never ask); the twin returns what the kernel does
    for slot in (5.0, -2.0):
        cand = np.array([slot])
        assert kernels.median_flat(np.empty(0), np.empty((4, 8), np.int64), cand.copy()) == -np.inf
        assert twins.median_flat(np.empty(0), np.empty((4, 8), np.int64), cand.copy()) == -np.inf


# -- the wavelet residual and the noise family through the twins -----------------------------------

def _patched(monkeypatch, calls):
    """Replace the kernel names the noise family calls with counting twins."""
    for name, fn in twins.TWINS.items():
        def counted(*args, _fn=fn, _name=name):
            calls[_name] = calls.get(_name, 0) + 1
            return _fn(*args)
        monkeypatch.setattr(family, name, counted)


@pytest.mark.parametrize("wavelet, level", [("db4", 2), ("db4", 1), ("haar", 1), ("haar", 4), ("db2", 3),
                                            ("db8", 1), ("sym4", 2)])
def test_wavelet_residual_through_twins(monkeypatch, wavelet, level):
    # the test_noise.py cases: smallest admissible, odd, non-square sizes, against the kernels and pywt
    rng = np.random.default_rng(level)
    f = pywt.Wavelet(wavelet).dec_len
    smallest = (f - 1) * 2 ** level
    shapes = [(smallest, smallest), (smallest + 1, smallest + 2), (37, 64), (64, 41)]
    planes = []
    for shape in shapes:
        if pywt.dwt_max_level(min(shape), f) >= level:
            planes += [(rng.random(shape) * 255).astype(np.float32), rng.integers(0, 256, shape).astype(np.float32)]
    want = []
    for x in planes:
        out = np.empty(x.shape)
        want.append((out, wavelet_residual(x, wavelet, level, MAD_TO_SIGMA, out)))
    calls = {}
    _patched(monkeypatch, calls)
    for x, (want_out, want_sigma) in zip(planes, want):
        out = np.empty(x.shape)
        sigma = wavelet_residual(x, wavelet, level, MAD_TO_SIGMA, out)
        assert sigma == pytest.approx(want_sigma, rel=1e-12)
        np.testing.assert_allclose(out, want_out, rtol=1e-10, atol=1e-10)
        ref = wavelet_reference(x, wavelet, level)
        np.testing.assert_allclose(np.append(out.ravel(), sigma), ref, rtol=1e-7, atol=1e-8)
    assert calls["filter_row_pairs"] == calls["filter_row_streams"] == 2 * level * len(planes)
    assert calls["median_flat"] == len(planes)


def test_wavelet_residual_of_a_constant_plane_through_twins_is_zero(monkeypatch):
    # as test_noise.py's kernel case: the details of a constant are rounding, and so is the residual
    _patched(monkeypatch, calls := {})
    out = np.empty((40, 33))
    sigma = wavelet_residual(np.full((40, 33), 91.5, np.float32), "db4", 2, MAD_TO_SIGMA, out)
    assert calls and sigma < 1e-12 and np.abs(out).max() < 1e-12


def test_noise_family_through_twins_matches_kernels(monkeypatch):
    # every noise column of the regression fixture's inputs and of its noise settings: kernels,
    # then the four kernel names of the family replaced by the twins
    inputs, _ = fixture.load()
    images = list(inputs.values())
    configs = [dict(), dict(grid=3, wavelet="sym4", wavelet_level=3),
               dict(residuals=("wavelet", "median"), grid=1, wavelet="haar", wavelet_level=1)]
    with pytest.warns(RuntimeWarning):  # the fixture's too-small images have NaN rows
        want = [NoiseFeatures(**c).fit().transform(images) for c in configs]
    calls = {}
    _patched(monkeypatch, calls)
    with pytest.warns(RuntimeWarning):
        got = [NoiseFeatures(**c).fit().transform(images) for c in configs]
    assert set(calls) == set(twins.TWINS) and min(calls.values()) >= len(images)
    for c, g, w in zip(configs, got, want):
        assert np.isfinite(w).sum() > 0.8 * w.size, c
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=0, equal_nan=True, err_msg=str(c))


def test_twins_module_imports_no_numba():
    # a twin must not compile, nor import numba (import-cheap): checked in a fresh interpreter
    import subprocess
    import sys
    from pathlib import Path

    root = Path(twins.__file__).resolve().parents[3]
    code = ("import sys; import forensics.features._kernels._wavelet_twins as t; "
            "assert set(t.TWINS) == {'filter_row_pairs', 'filter_row_streams', 'haar_abs_hh', 'median_flat'}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite', 'scipy', 'pywt')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={"PYTHONPATH": str(root), "PATH": ""}, check=True)
    assert out.stdout.strip() == "[]"
