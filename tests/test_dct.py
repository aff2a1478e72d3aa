"""Tests of the block-DCT family: kernels against their references, features against independent
computations, hand-made fixtures, and JPEG files of known quality."""

import io

import numpy as np
import pytest
import scipy.fft
import scipy.stats
from PIL import Image
from scipy.spatial.distance import jensenshannon
from skimage import data

from param_contract import COMMON, check_bounds, check_defaults
from kernel_contract import check_declared_signatures
from forensics.features import DCTFeatures, dct_features
from forensics.features._dct import (
    IJG_LUMA_50, N_BINS, Q_MAX, ZIGZAG, block_dct, dct_basis, dct_vector, estimate_quality, estimate_steps,
    ijg_luma_table,
)
from forensics.features._kernels._dct import lattice_scores

from reference_dct import (
    KERNEL_CASES, _kernel_block_stats, lattice_hist, reference_block_dct, reference_block_stats,
    reference_lattice_scores, reference_steps,
)

NAMES = DCTFeatures().fit().get_feature_names_out().tolist()
SHAPES = [(8, 8), (13, 17), (7 + 16, 9 + 24), (40, 24), (64, 64)]


def _row(image, **params):
    return np.array(list(dct_features(image, **params).values()))


def _col(row, name):
    return row[NAMES.index(name)]


def _jpeg(image, quality):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _decode(jpeg_bytes):
    return np.asarray(Image.open(io.BytesIO(jpeg_bytes)))


@pytest.fixture(scope="module")
def camera():
    return np.ascontiguousarray(data.camera()[:256, :256])


@pytest.fixture(scope="module")
def astronaut():
    return np.ascontiguousarray(data.astronaut()[:256, :256])


# -- kernels against their references ---------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", SHAPES)
def test_block_dct_stats_matches_reference(seed, shape):
    luma = (np.random.default_rng(seed).random(shape) * 255).astype(np.float32)
    coefs, moments, hist, edges = _kernel_block_stats(luma)
    rc, rm, rh, re = reference_block_stats(luma)
    np.testing.assert_allclose(coefs, rc, atol=1e-9)
    np.testing.assert_allclose(moments, rm, rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(hist, rh)
    np.testing.assert_allclose(edges, re, rtol=1e-10)


def test_block_dct_stats_without_coefficient_storage():
    luma = (np.random.default_rng(5).random((40, 56)) * 255).astype(np.float32)
    _, moments, hist, edges = reference_block_stats(luma)
    from forensics.features._dct import _block_stats
    m2, h2, e2 = _block_stats(luma)
    np.testing.assert_allclose(m2, moments, rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(h2, hist)
    np.testing.assert_allclose(e2, edges, rtol=1e-10)


def test_block_dct_stats_constant_and_tiny():
    coefs, moments, hist, edges = _kernel_block_stats(np.full((16, 24), 200, np.float32))
    assert np.allclose(coefs[:, 0], 8 * 72) and np.allclose(coefs[:, 1:], 0, atol=1e-10)
    assert hist[0, 576] == 6 and hist[1:, 0].tolist() == [6] * 63
    assert edges.tolist() == [0.0, 6 * 112, 0.0, 2 * 8 * 2 + 3 * 8]  # 4 vertical + 3 horizontal boundaries
    coefs, moments, hist, edges = _kernel_block_stats(np.zeros((7, 300), np.float32))
    assert coefs.shape == (0, 64) and hist.sum() == 0 and not moments.any() and not edges.any()


@pytest.mark.parametrize("seed", [0, 1])
def test_lattice_scores_matches_reference(seed):
    rng = np.random.default_rng(seed)
    hist = rng.poisson(rng.random((64, 1)) * 30, size=(64, N_BINS)).astype(np.int64)
    hist[:, 10::10] += 50
    out = np.zeros((64, Q_MAX + 1, 2))
    lattice_scores(hist, out)
    np.testing.assert_array_equal(out, reference_lattice_scores(hist))
    small = np.ascontiguousarray(hist[:3, :20])
    out = np.zeros((3, 40, 2))
    lattice_scores(small, out)
    np.testing.assert_array_equal(out, reference_lattice_scores(small, 40))
    # the kernel stops after the last non-empty bin: rows that end early, at the top, or are empty
    sparse = np.zeros((6, N_BINS), dtype=np.int64)
    sparse[0, :40] = hist[0, :40]
    sparse[1, [3, 6, 9, 10, 12]] = [5, 7, 4, 1, 9]
    sparse[2, N_BINS - 1] = 3
    sparse[3, N_BINS - 2] = 2
    sparse[4, [2, N_BINS - 3]] = [1, 8]
    out = np.zeros((6, Q_MAX + 1, 2))
    lattice_scores(sparse, out)
    np.testing.assert_array_equal(out, reference_lattice_scores(sparse))
    assert out[1, 3, 0] == 5 + 7 + 4 + 9 and out[1, 3, 1] == 0.5 * 1  # only h[9 + 1] = 1 is off the lattice


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_estimate_steps_matches_reference(seed):
    hist = lattice_hist(seed)
    steps = estimate_steps(hist)
    np.testing.assert_array_equal(steps, reference_steps(hist))
    # the fixture exercises every branch of the rule: a detected step, none (1) and NaN
    assert np.isnan(steps).any() and (steps == 1).any() and (steps >= 2).sum() >= 5
    # edge rows: empty, one informative bin, a lattice through the top bins
    edge = np.zeros((3, N_BINS), dtype=np.int64)
    edge[1, 7] = 100
    edge[2, [N_BINS - 3, N_BINS - 2, N_BINS - 1]] = [10, 40, 3]
    np.testing.assert_array_equal(estimate_steps(edge), reference_steps(edge))


@pytest.mark.parametrize("name, kernel_fn, reference_fn", KERNEL_CASES)
def test_kernel_cases_agree(name, kernel_fn, reference_fn):
    luma = (np.random.default_rng(3).random((48, 72)) * 255).astype(np.float32)
    got, want = kernel_fn(luma), reference_fn(luma)
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-6)


# -- transform conventions ----------------------------------------------------------------------------

def test_basis_is_scipy_orthonormal_dct():
    c = dct_basis()
    np.testing.assert_allclose(c, scipy.fft.dct(np.eye(8), norm="ortho", axis=0), atol=1e-15)
    np.testing.assert_allclose(c @ c.T, np.eye(8), atol=1e-14)


def test_block_dct_of_a_basis_image():
    c = dct_basis()
    block = 128.0 + 50.0 * np.outer(c[2], c[3])  # pure frequency (u=2 vertical, v=3 horizontal)
    coefs = block_dct(np.hstack([block, block, block[:, :5]]))
    expected = np.zeros(64)
    expected[2 * 8 + 3] = 50.0
    assert coefs.shape == (2, 64)
    np.testing.assert_allclose(coefs, [expected, expected], atol=1e-4)  # float32 pixels


def test_jpeg_fdct_equals_orthonormal_dct():
    # T.81 A.3.3: F(u,v) = 1/4 C(u) C(v) sum_xy f(x,y) cos((2x+1)u pi/16) cos((2y+1)v pi/16)
    f = np.random.default_rng(0).integers(-128, 128, (8, 8)).astype(float)
    cu = np.where(np.arange(8) == 0, 1 / np.sqrt(2), 1.0)
    x = np.arange(8)
    cos = np.cos((2 * x[None, :] + 1) * x[:, None] * np.pi / 16)  # cos[u, x]
    jpeg = 0.25 * cu[:, None] * cu[None, :] * (cos @ f @ cos.T)
    np.testing.assert_allclose(block_dct(f + 128)[0].reshape(8, 8), jpeg, atol=1e-4)


def test_zigzag_order():
    uv = [(u, v) for u in range(8) for v in range(8)]
    # diagonals s = u + v; odd diagonals run with u increasing, even ones with u decreasing
    order = sorted(uv, key=lambda p: (p[0] + p[1], p[0] if (p[0] + p[1]) % 2 else -p[0]))
    assert ZIGZAG.tolist() == [u * 8 + v for u, v in order]


@pytest.mark.parametrize("quality", range(1, 101))  # every quality: the scaling has integer divisions
def test_ijg_table_matches_libjpeg(quality):
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="JPEG", quality=quality)
    table = np.array(Image.open(buf).quantization[0])  # natural order (Pillow >= 8)
    np.testing.assert_array_equal(ijg_luma_table(quality), table)
    assert ijg_luma_table(50).tolist() == IJG_LUMA_50.tolist()


# -- feature names and shapes --------------------------------------------------------------------

def test_feature_names_depend_only_on_params():
    assert len(NAMES) == 45 and len(set(NAMES)) == 45
    assert NAMES[:2] == ["dct__log_std__z01", "dct__log_std__z02"]
    assert NAMES[36:42] == [f"dct__quant_step__z{k:02d}" for k in range(6)]
    assert NAMES[-3:] == ["dct__estimated_quality__luma", "dct__ijg_match__luma", "dct__blockiness__ratio"]
    assert all(n.count("__") == 2 and n == n.lower() for n in NAMES)
    names = DCTFeatures(n_coeffs=3, n_steps=2).fit().get_feature_names_out()
    assert len(names) == 4 * 3 + 2 + 3 and names[2] == "dct__log_std__z03"
    with pytest.raises(ValueError):
        DCTFeatures(n_coeffs=64).fit()


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (7, 9), (7, 300), (300, 5)])
def test_smaller_than_a_block_is_nan(shape):
    row = _row(np.full(shape, 77, np.uint8))
    assert row.shape == (45,) and np.isnan(row).all()


@pytest.mark.parametrize("shape", [(13, 17), (64, 40)])
def test_dtypes_give_the_same_row(shape):
    img = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    r8 = _row(img)
    np.testing.assert_allclose(_row(img.astype(np.float32) / 255), r8, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_row(img.astype(np.float64) / 255), r8, rtol=1e-5, atol=1e-6)
    rgb = np.repeat(img[:, :, None], 3, axis=2)
    np.testing.assert_allclose(_row(rgb), r8, rtol=1e-5, atol=1e-6)
    assert np.isfinite(r8[:9]).all()  # log_std always defined with >= 1 block


def test_constant_image():
    row = _row(np.full((32, 48), 200, np.uint8))
    np.testing.assert_allclose(row[:9], 0.0, atol=1e-6)  # log(1 + 0)
    assert np.isnan(row[9:36]).all()  # kurtosis (std 0), Benford and DQ (no non-zero values)
    assert np.isnan(_col(row, "dct__quant_step__z00"))  # one DC value: no lattice can be told
    assert np.isnan(row[-3:]).all()  # no quality, no variation inside blocks


# -- features against independent computations ---------------------------------------------------

def _zigzag_coefs(image):
    return reference_block_dct(np.asarray(image, dtype=np.float64))[:, ZIGZAG]


@pytest.mark.parametrize("seed", [0, 4])
def test_std_and_kurtosis_against_scipy(seed, camera):
    rng = np.random.default_rng(seed)
    img = np.clip(camera[:120, :104] + rng.normal(0, 3, (120, 104)), 0, 255).astype(np.uint8)
    row = _row(img)
    zc = _zigzag_coefs(img)[:, 1:10]
    np.testing.assert_allclose(row[:9], np.log1p(zc.std(axis=0)), rtol=1e-5)
    np.testing.assert_allclose(row[9:18], np.log(scipy.stats.kurtosis(zc, axis=0, fisher=False)), rtol=1e-5)


def test_benford_against_scipy_jensenshannon(camera, astronaut):
    benford = np.log10(1 + 1 / np.arange(1, 10))
    for img in (camera, _decode(_jpeg(camera, 70)), astronaut[:, :, 1]):
        row = _row(img)
        zc = _zigzag_coefs(img)[:, 1:10]
        for j in range(9):
            mags = np.abs(np.rint(zc[:, j])).astype(int)
            digits = [int(str(m)[0]) for m in mags if m > 0]
            p = np.bincount(digits, minlength=10)[1:] / len(digits)
            expected = jensenshannon(p, benford, base=2) ** 2
            assert row[18 + j] == pytest.approx(expected, abs=1e-9)


def test_benford_nan_with_few_nonzero_values():
    img = np.full((64, 64), 100, np.uint8)
    img[:8, :8] = np.random.default_rng(0).integers(0, 256, (8, 8))  # one textured block
    row = _row(img)
    assert np.isnan(row[18:27]).all()


def test_benford_higher_after_jpeg(camera, astronaut):
    for img in (camera, astronaut):
        raw = _row(img)[18:27].mean()
        jpg = _row(_jpeg(img, 80))[18:27].mean()
        assert jpg > 2 * raw


def _dq_independent(coefs_col, step):
    mags = np.abs(np.rint(coefs_col))
    g = np.array([np.sum(mags == m * step) for m in range(1, 65)], dtype=float)
    s = np.array([g[max(0, m - 3):m + 4].mean() for m in range(64)])
    r = np.zeros(64)
    r[s > 0] = (g[s > 0] - s[s > 0]) / np.sqrt(s[s > 0])
    f = np.arange(1, 33)
    dft = np.exp(-2j * np.pi * np.outer(f, np.arange(64)) / 64) @ r
    power = np.abs(dft) ** 2
    return power[1:].max() / power.mean()


def test_dq_periodicity_against_explicit_dft(camera):
    for img in (camera, _decode(_jpeg(camera, 85)), _decode(_jpeg(_decode(_jpeg(camera, 60)), 90))):
        row = _row(img)
        zc = _zigzag_coefs(img)
        for k in range(1, 6):
            step = _col(row, f"dct__quant_step__z{k:02d}")
            step = int(step) if np.isfinite(step) else 1
            expected = _dq_independent(zc[:, k], step)
            assert _col(row, f"dct__dq_periodicity__z{k:02d}") == pytest.approx(expected, rel=1e-9)


def test_dq_periodicity_leaves_the_one_cycle_envelope_out_of_the_peak():
    # g[m] = 1000 + 900 cos(2 pi m / 64): a smooth envelope whose residual power sits at f = 1 (one
    # cycle over the 64 indices). The peak is taken over f >= 2 only; f = 1 stays in the mean.
    from forensics.features._dct import _dq_periodicity

    g = np.rint(1000 + 900 * np.cos(2 * np.pi * np.arange(64) / 64)).astype(np.int64)
    coefs = np.repeat(np.arange(1, 65), g).astype(float)  # |c| = m, g[m - 1] times each (step 1)
    hist = np.bincount(coefs.astype(int), minlength=N_BINS)[None, :]
    got = _dq_periodicity(hist, np.array([1.0]))[0]
    assert got == pytest.approx(_dq_independent(coefs, 1), rel=1e-12)
    assert got < 3  # with f = 1 in the peak it would be about 28


def test_blockiness_hand_fixtures():
    x = np.arange(16, dtype=np.float64)
    ramp = np.tile(x, (16, 1))
    assert _col(_row(ramp / 255), "dct__blockiness__ratio") == pytest.approx(1.0)
    # steps of 1 inside blocks, 11 across the vertical block boundary; no vertical variation:
    # across = (16 * 11 + 16 * 0) / 32 = 5.5, within = (224 * 1 + 224 * 0) / 448 = 0.5
    stepped = np.tile(x + 10 * (x // 8), (16, 1))
    assert _col(_row(stepped / 255), "dct__blockiness__ratio") == pytest.approx(11.0)
    # the incomplete border is ignored: an extra 5 columns of noise change nothing
    noisy = np.hstack([stepped, np.random.default_rng(0).random((16, 5)) * 20])
    assert _col(_row(noisy / 255), "dct__blockiness__ratio") == pytest.approx(11.0)
    assert np.isnan(_col(_row(ramp[:8, :8] / 255), "dct__blockiness__ratio"))  # one block: no boundary


def test_blockiness_jpeg_vs_raw(camera, astronaut):
    for img in (camera, astronaut):
        assert 0.9 < _col(_row(img), "dct__blockiness__ratio") < 1.1
        assert _col(_row(_jpeg(img, 50)), "dct__blockiness__ratio") > 1.2


# -- quantization steps and quality ---------------------------------------------------------------

def _synthetic_jpeg_luma(quality, n_blocks=(16, 16), seed=0):
    """Un-rounded pixels whose block DCT is exactly table * integer (a perfect lattice)."""
    rng = np.random.default_rng(seed)
    table = ijg_luma_table(quality).reshape(8, 8)
    by, bx = n_blocks
    p_nonzero = np.where(np.argsort(ZIGZAG) < 15, 0.4, 0.05).reshape(8, 8)  # sparse high frequencies
    k = rng.choice([-2, -1, 1, 2], size=(by, bx, 8, 8)) * (rng.random((by, bx, 8, 8)) < p_nonzero)
    k[..., 0, 0] = rng.integers(-3, 4, (by, bx))
    blocks = scipy.fft.idctn(k * table, axes=(2, 3), norm="ortho") + 128
    img = blocks.transpose(0, 2, 1, 3).reshape(by * 8, bx * 8)
    assert 0 <= img.min() and img.max() <= 255
    return img, table.ravel()


@pytest.mark.parametrize("quality", [70, 85])
def test_exact_lattice_fixture(quality):
    img, table = _synthetic_jpeg_luma(quality)
    row = _row(img / 255)
    steps = [_col(row, f"dct__quant_step__z{k:02d}") for k in range(6)]
    assert steps == table[ZIGZAG[:6]].tolist()
    assert _col(row, "dct__estimated_quality__luma") == quality
    assert _col(row, "dct__ijg_match__luma") == 1.0


def test_estimate_steps_and_quality_from_histograms():
    hist = np.zeros((64, N_BINS), dtype=np.int64)
    table = ijg_luma_table(60)
    for k in range(64):
        for m, count in ((1, 60), (2, 20), (3, 5)):
            hist[k, m * table[k]] += count
            hist[k, m * table[k] + 1] += 2  # decoding noise
    steps = estimate_steps(hist)
    np.testing.assert_array_equal(steps, table)
    assert estimate_quality(steps) == (60.0, 1.0)
    flat = np.zeros((2, N_BINS), dtype=np.int64)
    flat[0, 2:200] = 5  # smooth histogram: no lattice
    flat[1, 2:10] = 1  # too few values
    assert estimate_steps(flat)[0] == 1.0 and np.isnan(estimate_steps(flat)[1])
    assert np.isnan(estimate_quality(np.ones(64))).all()


@pytest.mark.parametrize("quality", [50, 65, 80, 90, 95])
def test_quality_of_real_jpeg(quality, camera, astronaut):
    for img in (camera, astronaut):
        row = _row(_jpeg(img, quality))  # decoded through the Item, as a file would be
        assert abs(_col(row, "dct__estimated_quality__luma") - quality) <= 2
        table = ijg_luma_table(quality)
        steps = [_col(row, f"dct__quant_step__z{k:02d}") for k in range(1, 6)]
        assert steps == table[ZIGZAG[1:6]].tolist()  # lowest AC frequencies exact
        assert _col(row, "dct__ijg_match__luma") >= 0.9


def test_quality_survives_png_round_trip_but_not_a_shifted_crop(camera):
    decoded = _decode(_jpeg(camera, 75))
    buf = io.BytesIO()
    Image.fromarray(decoded).save(buf, format="PNG")
    assert _col(_row(buf.getvalue()), "dct__estimated_quality__luma") == 75
    assert _col(_row(decoded[8:, 16:]), "dct__estimated_quality__luma") == 75  # grid kept
    assert np.isnan(_col(_row(decoded[3:, 5:]), "dct__estimated_quality__luma"))  # grid lost


def test_uncompressed_has_no_quality(camera, astronaut):
    for img in (camera, astronaut, data.coffee()[:128, :192]):
        row = _row(img)
        assert np.isnan(_col(row, "dct__estimated_quality__luma"))
        assert np.isnan(_col(row, "dct__ijg_match__luma"))
        assert [_col(row, f"dct__quant_step__z{k:02d}") for k in range(1, 6)] == [1.0] * 5


def test_double_compression_indicator(camera, astronaut):
    for img in (camera, astronaut):
        single = _row(_jpeg(img, 90))
        double = _row(_jpeg(_decode(_jpeg(img, 60)), 90))
        # z01: q1 = 9, q2 = 2 -> the quantized-index histogram peaks every 4.5 bins
        assert _col(double, "dct__dq_periodicity__z01") > 2 * _col(single, "dct__dq_periodicity__z01")
        assert double[27:36].mean() > single[27:36].mean()
        assert _col(double, "dct__ijg_match__luma") < 0.8 < _col(single, "dct__ijg_match__luma")


def test_dct_vector_matches_extractor(camera):
    ext = DCTFeatures(n_coeffs=4, n_steps=3).fit()
    out = ext.transform([camera[:64, :72]])[0]
    np.testing.assert_array_equal(out, dct_vector(camera[:64, :72].astype(np.float32), n_coeffs=4, n_steps=3))


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(DCTFeatures, dict(n_coeffs=9, n_steps=6, **COMMON),
                   functions=[dct_features, dct_vector])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(DCTFeatures, dict(n_coeffs=(1, 63), n_steps=(1, 64)))


@pytest.mark.parametrize("step", [2, 3, 128, 254, 255])
def test_lattice_steps_up_to_the_largest_baseline_step(step):
    """Steps at both ends of the searched range 2 .. Q_MAX (255, the largest 8-bit table entry)."""
    hist = np.zeros((1, N_BINS), dtype=np.int64)
    hist[0, 0] = 500
    for m, count in ((1, 100), (2, 40), (3, 10), (4, 5)):
        if m * step < N_BINS:
            hist[0, m * step] = count
    assert Q_MAX == 255 and estimate_steps(hist).tolist() == [float(step)]


def test_the_kernels_are_declared_with_the_signatures_the_family_calls(monkeypatch, camera):
    def run():
        dct_features(_jpeg(camera[:64, :72], 80))
        DCTFeatures(n_coeffs=20, n_steps=2).fit().transform([camera[:40, :33] / 255.0])
    check_declared_signatures(monkeypatch, "forensics.features._dct", "forensics.features._kernels._dct",
                              {"block_dct_stats", "lattice_steps"}, run)
