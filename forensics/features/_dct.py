"""8x8 block-DCT statistics of the luma on the JPEG grid: coefficient spread and shape, Benford
first digits, double-quantization periodicity, blocking, quantization steps and JPEG quality."""

from __future__ import annotations

import numpy as np

from ._base import BaseExtractor, FeatureDoc, Interval
from ._workspace import scratch
from ._kernels import _dct as _compiled
from ._kernels._tier import tiered

#: The kernels as the feature code calls them: their NumPy twins until compiling them pays off.
block_dct_stats = tiered(_compiled.block_dct_stats)
lattice_steps = tiered(_compiled.lattice_steps)

__all__ = [
    "DCTFeatures", "dct_features", "dct_vector", "block_dct", "dct_basis", "ijg_luma_table", "estimate_steps",
    "estimate_quality", "ZIGZAG",
]

#: Natural (row-major ``u * 8 + v``, ``u`` the vertical frequency) index of each JPEG zig-zag position.
ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
])
ZIGZAG.setflags(write=False)

#: IJG (libjpeg) standard luminance quantization table at quality 50, natural order (ITU T.81 K.1).
IJG_LUMA_50 = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
])
IJG_LUMA_50.setflags(write=False)

#: Histogram bins of |rint(c)|: an 8-bit block's coefficients satisfy |c| <= 1024.
N_BINS = 1025
#: Largest candidate quantization step (baseline JPEG tables are 8-bit).
Q_MAX = 255

# Decision constants of the lattice (quantization step) estimator; see DCTFeatures Notes.
MIN_INFORMATIVE = 30      # values with |rint(c)| >= 2 needed to look for a lattice
LATTICE_MIN_SCORE = 0.25  # absolute floor of the lattice excess X(q)
LATTICE_Z = 3.0           # ... and X(q) >= LATTICE_Z / sqrt(n): above sampling noise
LATTICE_RHO = 0.7         # the step is the coarsest q with X(q) >= LATTICE_RHO * max X
MIN_STEPS_FOR_QUALITY = 3  # frequencies with a detected step needed to estimate the quality
MIN_BENFORD = 50          # non-zero values needed for the Benford divergence
MIN_DQ = 50               # values needed in the quantized-index histogram for the DQ periodicity
DQ_BINS = 64              # quantized indices m = 1..DQ_BINS enter the periodicity
DQ_HALF_WINDOW = 3        # moving-average half width of the histogram envelope

_FRANK = ("Frank et al., 'Leveraging frequency analysis for deep fake image recognition', ICML 2020, "
          "arXiv:2003.08685")
_FU = ("Fu, Shi & Su, 'A generalized Benford's law for JPEG coefficients and its applications in image "
       "forensics', SPIE 6505, 2007, doi:10.1117/12.704723")
_POPESCU = ("Popescu & Farid, 'Statistical tools for digital forensics', IH 2004, "
            "doi:10.1007/978-3-540-30114-1_10; Lin et al., Pattern Recognition 2009, "
            "doi:10.1016/j.patcog.2009.03.019")
_FAN = ("Fan & de Queiroz, 'Identification of bitmap compression history: JPEG detection and quantizer "
        "estimation', IEEE TIP 2003, doi:10.1109/TIP.2002.807361")


def dct_basis():
    """The orthonormal 8-point DCT-II matrix ``C[u, x] = a(u) cos(pi (2x + 1) u / 16)`` (float64).

    ``a(0) = sqrt(1/8)`` and ``a(u) = 1/2`` otherwise, so ``C @ C.T = I`` and ``C @ B @ C.T`` is
    ``scipy.fft.dctn(B, norm="ortho")``.
    """
    u = np.arange(8)[:, None]
    x = np.arange(8)[None, :]
    c = np.cos(np.pi * (2 * x + 1) * u / 16.0) * 0.5
    c[0] = np.sqrt(1.0 / 8.0)
    return np.ascontiguousarray(c)


_BASIS = dct_basis()


def ijg_luma_table(quality):
    """The IJG (libjpeg, Pillow, OpenCV) luminance quantization table at ``quality`` (1..100).

    ``S = 5000 // Q`` if ``Q < 50`` else ``200 - 2Q``; ``T = clip((S * T50 + 50) // 100, 1, 255)``
    with integer division, as ``jpeg_set_quality`` with ``force_baseline``. Natural order, int64.
    """
    q = int(quality)
    s = 5000 // q if q < 50 else 200 - 2 * q
    return np.clip((s * IJG_LUMA_50 + 50) // 100, 1, 255)


_IJG_TABLES = np.stack([ijg_luma_table(q) for q in range(1, 101)])  # (100, 64)
_LOG_IJG = np.log(_IJG_TABLES)


def _first_digit_matrix():
    n = np.arange(N_BINS)
    digits = np.zeros(N_BINS, dtype=np.int64)
    nz = n >= 1
    digits[nz] = n[nz] // 10 ** np.floor(np.log10(n[nz])).astype(np.int64)
    onehot = np.zeros((N_BINS, 9))
    onehot[nz, digits[nz] - 1] = 1.0
    return onehot


_DIGITS = _first_digit_matrix()
_BENFORD = np.log10(1.0 + 1.0 / np.arange(1, 10))


def _moving_average_matrix():
    """(DQ_BINS, DQ_BINS) matrix ``M`` with ``g @ M`` = the centred moving average of ``g`` over
    ``2 DQ_HALF_WINDOW + 1`` bins, truncated at the ends (divided by the bins inside)."""
    i = np.arange(DQ_BINS)
    inside = np.abs(i[:, None] - i[None, :]) <= DQ_HALF_WINDOW
    return inside / inside.sum(axis=0)


_DQ_SMOOTH = _moving_average_matrix()
_DQ_M = np.arange(1, DQ_BINS + 1)


class DCTFeatures(BaseExtractor):
    """8x8 block-DCT statistics of the luma on the JPEG grid.

    The orthonormal DCT of every complete 8x8 block, aligned to the image origin as JPEG's grid
    is, describes how the image's frequency content is distributed (generators leave traces in
    it) and whether, and how strongly, the image went through JPEG compression before: the
    coefficients of a decoded JPEG sit on the lattice of the quantization step, even when the
    image was later saved losslessly.

    Parameters
    ----------
    n_coeffs : int, default=9
        Number of AC frequencies, in JPEG zig-zag order (``z01`` ... ), for the per-frequency
        statistics (std, kurtosis, Benford divergence, double-quantization periodicity).
    n_steps : int, default=6
        Number of zig-zag positions from the DC (``z00`` ...) whose estimated quantization step
        is reported.
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``dct__<feature>__<param>``; see ``feature_docs`` and ``docs/features.md``.

    See Also
    --------
    dct_features : the single-image function.
    dct_vector : the row computed from a luma array.

    Notes
    -----
    **Transform.** ``Y`` is the BT.601 luma (0..255). Each complete block ``B`` (rows and
    columns ``8b .. 8b + 7``; the incomplete blocks of the right and bottom borders are ignored)
    gives ``F = C (B - 128) C^T`` with the orthonormal DCT-II matrix of :func:`dct_basis`, i.e.
    ``scipy.fft.dctn(B - 128, norm="ortho")``. JPEG's FDCT ``F(u,v) = 1/4 a(u) a(v) sum
    (B - 128) cos((2x+1)u pi/16) cos((2y+1)v pi/16)`` with ``a(0) = 1/sqrt(2)``, ``a(u) = 1``
    is the same transform, so ``F`` are JPEG's unquantized coefficients and a decoded JPEG has
    ``F ~= q(u,v) * k`` with integer ``k``. Images smaller than 8x8 have no block: every feature
    is NaN. Frequencies ``zNN`` are JPEG zig-zag positions (``z00`` the DC); ``c`` below is one
    frequency's coefficient over the ``n`` blocks and ``h[a]`` the histogram of ``|rint(c)|``.

    - ``log_std``: ``log(1 + std(c))`` (population std over blocks).
    - ``log_kurtosis``: ``log(m4 / m2^2)`` with central moments ``m2``, ``m4`` (Pearson
      kurtosis, >= 1; NaN when ``std(c) < 1e-6``). Chosen over ``mean|c|`` (which for the
      near-Laplacian AC distribution is about ``std / sqrt 2``, redundant with ``log_std``):
      kurtosis measures shape, and is high for the sparse, quantized coefficients of JPEG.
    - ``benford_div``: Jensen-Shannon divergence in bits (0..1) between the first-digit
      distribution of the non-zero ``|rint(c)|`` and Benford's law ``log10(1 + 1/d)``; NaN with
      fewer than 50 non-zero values. Unquantized coefficients follow Benford closely; the
      values of a decoded JPEG, multiples of the step, do not.
    - ``dq_periodicity``: periodicity of the histogram of quantized indices
      ``g[m] = h[m q]``, ``m = 1..64``, with ``q`` the estimated step of that frequency (1 when
      none). A single quantization leaves ``g`` smooth; a double one (steps ``q1`` then ``q2``)
      leaves periodic peaks and gaps. With ``s`` the 7-bin moving average of ``g`` and the
      Pearson residual ``r = (g - s) / sqrt(s)``, the value is ``max_{f>=2} P(f) / mean_{f>=1}
      P(f)``, ``P = |rfft(r)|^2`` (``f = 1..32``). Under no periodicity it is about 2..5
      (the expected peak of 31 noise periodograms relative to their mean is ``~ln 31 + 0.58``);
      NaN with fewer than 50 values in ``g``.
    - ``quant_step``: the quantization step of the frequency, estimated from the pixels (see
      below); 1 when the frequency has enough values but no lattice (never quantized, or
      step 1), NaN when it has too few non-zero values to tell or the lattice is ambiguous.
    - ``estimated_quality``: the IJG quality (1..100) whose scaled standard luminance table
      (:func:`ijg_luma_table`) agrees with the most detected steps (ties: the smallest
      ``sum |log T - log q|``, then the mean of the tied qualities); NaN when fewer than 3 of the
      64 frequencies show a step >= 2 ("no JPEG history found").
    - ``ijg_match``: fraction of the detected steps equal to that table's; below 1 for custom
      (camera, editor) tables or a double compression.
    - ``blockiness``: ``mean |d_across| / mean |d_within|`` over horizontal and vertical
      neighbour differences of the complete-block area, across 8x8 block boundaries and inside
      blocks. About 1 for never-compressed images, above 1 for JPEG; NaN without a boundary
      (a single block) or without variation inside blocks.

    **Step estimation** (in the spirit of Fan & de Queiroz 2003). For a frequency and a
    candidate ``q = 2..255``, the lattice excess is ``X(q) = (sum_m h[mq] - sum_m (h[mq-1] +
    h[mq+1]) / 2) / n_inf`` over ``m >= 1``, with ``n_inf = sum_{a>=2} h[a]`` the informative
    (not rounding-to-0 or 1) values: the mass on the multiples of ``q`` beyond what a locally
    linear histogram would put there. A lattice is detected when ``n_inf >= 30`` and
    ``max X >= max(0.25, 3 / sqrt(n_inf))``; the step is then the coarsest ``q`` with
    ``X(q) >= 0.7 max X`` (divisors of the step score as high as the step itself; its multiples
    lose the odd multiples). It is NaN when all informative values fall in one histogram bin (a
    lattice through one value is any of its divisors). Decoding noise (pixel rounding, the RGB
    round trip, clipping of saturated colours) moves coefficients off the lattice by ~0.3-0.8 on
    average, hence the rounding tolerance of 0.5 and the relative threshold.

    What it recovers: on a once-compressed image, the steps of that compression at the
    frequencies with enough non-zero coefficients (the DC is the least reliable: in strongly
    saturated colour images it often reads 1), and a quality exact or within 1-2 for IJG tables,
    from ~128x128 pixels (tested on PIL/libjpeg files of quality 50..95). It cannot see steps of
    1 (quality >= ~97 at low frequencies look uncompressed; a quality-100 JPEG reads as "no
    JPEG", NaN), nor a grid that moved: a crop by a number of pixels not a multiple of 8, or a
    resize, destroys the lattice (NaN). For a double compression (steps ``q1`` then ``q2``,
    aligned grid) the step found is the coarsest lattice the coefficients sit on: ``q2``, or
    ``q1`` where ``q1`` is a multiple of ``q2`` (re-quantizing by ``q2`` keeps the ``q1``
    lattice), sometimes a multiple of ``q2`` that the ``q1`` grid favours. The quality is then a
    vote between the two tables: for quality 60 then 90 it came out 90 on some test images and
    59 on others, always with ``ijg_match`` near 0.3-0.6 (1.0 for single compressions), which is
    the flag to read with ``dq_periodicity``. It never isolates the primary quality reliably.

    References
    ----------
    .. [1] Frank et al., "Leveraging frequency analysis for deep fake image recognition",
       ICML 2020, arXiv:2003.08685.
    .. [2] Fu, Shi & Su, "A generalized Benford's law for JPEG coefficients and its applications
       in image forensics", SPIE 6505, 2007, doi:10.1117/12.704723.
    .. [3] Popescu & Farid, "Statistical tools for digital forensics", IH 2004,
       doi:10.1007/978-3-540-30114-1_10.
    .. [4] Lin et al., "Fast, automatic and fine-grained tampered JPEG image detection via DCT
       coefficient analysis", Pattern Recognition 2009, doi:10.1016/j.patcog.2009.03.019.
    .. [5] Fan & de Queiroz, "Identification of bitmap compression history: JPEG detection and
       quantizer estimation", IEEE TIP 2003, doi:10.1109/TIP.2002.807361.
    .. [6] ITU-T T.81 (JPEG), Annex A.3.3 (FDCT) and K.1 (example tables); IJG libjpeg
       ``jcparam.c`` (quality scaling).

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import DCTFeatures
    >>> ramp = np.tile(np.arange(16, dtype=np.uint8), (16, 1))  # Y = column index
    >>> dct = DCTFeatures().fit([ramp])
    >>> row = dict(zip(dct.get_feature_names_out(), dct.transform([ramp])[0]))
    >>> float(row["dct__blockiness__ratio"])  # the same step inside blocks and across their boundaries
    1.0
    >>> float(round(row["dct__log_std__z01"], 6))  # every block has the same coefficients
    0.0
    """

    family = "dct"
    _param_rules = {"n_coeffs": Interval(int, 1, 63), "n_steps": Interval(int, 1, 64)}
    feature_docs = (
        FeatureDoc("dct", "log_std", "zNN: AC zig-zag position 01..n_coeffs",
                   "Spread of one block-DCT frequency across the 8x8 blocks (log scale).",
                   "log(1 + std_b c_b(u,v)), c = orthonormal DCT-II of (Y - 128) per JPEG-grid block",
                   _FRANK, presets=("minimal",)),
        FeatureDoc("dct", "log_kurtosis", "zNN: AC zig-zag position 01..n_coeffs",
                   "Tail weight of one block-DCT frequency across blocks; high for sparse quantized coefficients.",
                   "log(m4 / m2^2), central moments over blocks; NaN when std < 1e-6",
                   _FRANK),
        FeatureDoc("dct", "benford_div", "zNN: AC zig-zag position 01..n_coeffs",
                   "Departure of the first digits of the rounded coefficients from Benford's law.",
                   "JS divergence (bits) between first-digit frequencies of non-zero |rint(c)| and "
                   "log10(1 + 1/d); NaN with < 50 non-zero values", _FU),
        FeatureDoc("dct", "dq_periodicity", "zNN: AC zig-zag position 01..n_coeffs",
                   "Periodic peaks/gaps in the histogram of quantized indices: trace of double JPEG compression.",
                   "max_{f>=2} P(f) / mean_{f>=1} P(f), P = |rfft((g - s)/sqrt(s))|^2, g[m] = h[m q], "
                   "s = 7-bin moving average, m = 1..64", _POPESCU, cost="medium"),
        FeatureDoc("dct", "quant_step", "zNN: zig-zag position 00..n_steps-1 (00 = DC)",
                   "JPEG quantization step of one frequency estimated from the pixels (1: none found).",
                   "coarsest q with X(q) >= 0.7 max X, X(q) = (sum h[mq] - sum (h[mq-1]+h[mq+1])/2) / n_inf",
                   _FAN, cost="medium"),
        FeatureDoc("dct", "estimated_quality", "luma: luminance table",
                   "IJG JPEG quality whose standard luminance table best matches the estimated steps.",
                   "argmax_Q #{k : q_k = T_Q[k]} over detected steps, T_Q = clip((S T50 + 50) // 100, 1, 255); "
                   "NaN with < 3 detected steps", _FAN, cost="medium", presets=("minimal",)),
        FeatureDoc("dct", "ijg_match", "luma: luminance table",
                   "Fraction of the detected quantization steps equal to the best IJG table's.",
                   "#{k : q_k = T_Q*[k]} / #{k : q_k >= 2}", _FAN, cost="medium"),
        FeatureDoc("dct", "blockiness", "ratio: across / within block boundaries",
                   "Blocking artifacts: luma steps across 8x8 block boundaries relative to steps inside blocks.",
                   "mean |d| over neighbour pairs across block boundaries / mean |d| over pairs inside blocks",
                   _FAN, presets=("minimal",)),
    )

    def __init__(self, *, n_coeffs=9, n_steps=6, n_jobs=None, on_error="raise", progress=False):
        self.n_coeffs = n_coeffs
        self.n_steps = n_steps
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        return _feature_names(self.n_coeffs, self.n_steps)

    def _compute(self, item):
        return dct_vector(item.luma, n_coeffs=self.n_coeffs, n_steps=self.n_steps)


def _feature_names(n_coeffs, n_steps):
    ac = [f"z{k:02d}" for k in range(1, n_coeffs + 1)]
    names = [f"dct__{feat}__{z}" for feat in ("log_std", "log_kurtosis", "benford_div", "dq_periodicity")
             for z in ac]
    names += [f"dct__quant_step__z{k:02d}" for k in range(n_steps)]
    names += ["dct__estimated_quality__luma", "dct__ijg_match__luma", "dct__blockiness__ratio"]
    return names


def _block_stats(y, coefs=None):
    moments = np.zeros((64, 4))
    hist = scratch("dct.hist", (64, N_BINS), np.int64)  # valid until the next call in this thread
    hist.fill(0)
    edges = np.zeros(4)
    block_dct_stats(y, _BASIS, np.empty((0, 64)) if coefs is None else coefs, moments, hist, edges)
    return moments, hist, edges


def block_dct(luma):
    """Orthonormal 8x8 DCT-II of the complete JPEG-grid blocks of ``luma - 128``.

    Parameters
    ----------
    luma : array (H, W)
        Luma on the 0..255 scale.

    Returns
    -------
    ndarray (H // 8 * (W // 8), 64), float64
        One row per block in raster order, coefficients in natural order (``u * 8 + v``, ``u``
        the vertical frequency); ``[:, ZIGZAG]`` gives JPEG zig-zag order.

    Examples
    --------
    >>> import numpy as np
    >>> block_dct(np.full((8, 16), 130.0))[:, 0]  # DC = 8 * (130 - 128)
    array([16., 16.])
    """
    y = np.ascontiguousarray(luma, dtype=np.float32)
    coefs = np.empty(((y.shape[0] // 8) * (y.shape[1] // 8), 64))
    if coefs.shape[0]:
        _block_stats(y, coefs)
    return coefs


def estimate_steps(hist):
    """Quantization step of each histogram row (see :class:`DCTFeatures` Notes).

    Parameters
    ----------
    hist : int array (n_rows, N_BINS)
        Histograms of ``|rint(c)|`` per frequency.

    Returns
    -------
    ndarray (n_rows,), float64
        The step (>= 2), 1 (enough values, no lattice) or NaN (too few values, or ambiguous).
    """
    hist = np.ascontiguousarray(hist, dtype=np.int64)
    steps = np.empty(hist.shape[0])
    lattice_steps(hist, Q_MAX + 1, MIN_INFORMATIVE, LATTICE_MIN_SCORE, LATTICE_Z, LATTICE_RHO, steps)
    return steps


def estimate_quality(steps):
    """(quality, fraction of matching steps) of the IJG table that best explains ``steps`` (64,).

    Only the frequencies with a detected step (>= 2) vote; NaN, NaN with fewer than 3 of them.
    """
    steps = np.asarray(steps, dtype=np.float64)
    det = np.isfinite(steps) & (steps >= 2)
    n_det = int(det.sum())
    if n_det < MIN_STEPS_FOR_QUALITY:
        return np.nan, np.nan
    match = ((_IJG_TABLES == steps) & det).sum(axis=1)
    best = np.flatnonzero(match == match.max())
    if best.size > 1:  # ties: the smallest log distance over the detected steps
        err = np.abs(_LOG_IJG[best][:, det] - np.log(steps[det])).sum(axis=1)
        best = best[err <= err.min() + 1e-9]
    return float(best.mean() + 1), float(match.max() / n_det)


def _log_moments(moments, n):
    mean = moments[:, 0] / n
    e2 = moments[:, 1] / n
    e3 = moments[:, 2] / n
    e4 = moments[:, 3] / n
    m2 = np.maximum(e2 - mean ** 2, 0.0)
    m4 = np.maximum(e4 - 4 * mean * e3 + 6 * mean ** 2 * e2 - 3 * mean ** 4, 0.0)
    std = np.sqrt(m2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kurt = np.where(std >= 1e-6, np.log(m4 / np.where(m2 > 0, m2, 1.0) ** 2), np.nan)
    return np.log1p(std), kurt


def _benford_divergence(hist):
    """Jensen-Shannon divergence (bits) of each row's first-digit distribution from Benford's law."""
    counts = hist @ _DIGITS  # (rows, 9) first-digit counts of the non-zero values
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / total
        m = 0.5 * (p + _BENFORD)
        div = (0.5 * np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
               + 0.5 * (_BENFORD * np.log2(_BENFORD / m)).sum(axis=1))
    return np.where(total[:, 0] >= MIN_BENFORD, div, np.nan)


def _dq_periodicity(hist, steps):
    """Double-quantization periodicity of each histogram row (n_rows, N_BINS) given its step (n_rows,)."""
    q = np.where(np.isfinite(steps) & (steps >= 2), steps, 1).astype(np.int64)
    idx = q[:, None] * _DQ_M  # bins m q, m = 1..DQ_BINS, below the clipped top bin
    g = np.take_along_axis(hist, np.minimum(idx, N_BINS - 1), axis=1).astype(np.float64)
    g[idx >= N_BINS - 1] = 0.0
    s = g @ _DQ_SMOOTH
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(s > 0, (g - s) / np.sqrt(np.where(s > 0, s, 1.0)), 0.0)
        power = np.abs(np.fft.rfft(r, axis=1)[:, 1:]) ** 2
        mean = power.mean(axis=1)
        out = power[:, 1:].max(axis=1) / mean
    return np.where((g.sum(axis=1) >= MIN_DQ) & (mean > 0), out, np.nan)


def dct_vector(luma, *, n_coeffs=9, n_steps=6):
    """The DCT row of a float (H, W) luma image, in :class:`DCTFeatures` column order."""
    y = np.ascontiguousarray(luma, dtype=np.float32)
    n_blocks = (y.shape[0] // 8) * (y.shape[1] // 8)
    out = np.full(4 * n_coeffs + n_steps + 3, np.nan)
    if n_blocks == 0:
        return out
    moments, hist, edges = _block_stats(y)
    zz = ZIGZAG[1:n_coeffs + 1]
    log_std, log_kurt = _log_moments(moments[zz], n_blocks)
    steps = estimate_steps(hist)
    k = n_coeffs
    out[0:k] = log_std
    out[k:2 * k] = log_kurt
    ac = hist[zz]
    out[2 * k:3 * k] = _benford_divergence(ac.astype(np.float64))
    out[3 * k:4 * k] = _dq_periodicity(ac, steps[zz])
    out[4 * k:4 * k + n_steps] = steps[ZIGZAG[:n_steps]]
    out[4 * k + n_steps:4 * k + n_steps + 2] = estimate_quality(steps)
    within, n_within, across, n_across = edges
    if n_across > 0 and within > 0:
        out[-1] = (across / n_across) / (within / n_within)
    return out


def dct_features(image, *, n_coeffs=9, n_steps=6):
    """Block-DCT / JPEG-history features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
    n_coeffs, n_steps
        See :class:`DCTFeatures`.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.features import dct_features
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.integers(0, 256, (64, 64), dtype=np.uint8)  # never compressed
    >>> row = dct_features(noise)
    >>> len(row), row["dct__quant_step__z01"], bool(np.isnan(row["dct__estimated_quality__luma"]))
    (45, 1.0, True)
    """
    return DCTFeatures(n_coeffs=n_coeffs, n_steps=n_steps).extract_one(image)
