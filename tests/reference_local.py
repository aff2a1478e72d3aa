"""Plain NumPy / PyWavelets / SciPy reference of the local-inconsistency features (tests and benchmarks
only; the package never imports this): every block cut out and measured on its own (Haar bands from
pywt.wavedec2, the Laplacian by scipy.ndimage), statistics by explicit loops."""

import numpy as np
import pywt
from scipy import ndimage

EPS_SIGMA = 0.25
EPS_ENERGY = 1.0 / 12.0
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float)


def step_ref(block, overlap):
    s = block * (1.0 - overlap)
    return max(4, 4 * int(round(s / 4.0)))


def maps_ref(luma, block=32, overlap=0.0):
    """(noise, sharpness, hfratio) maps, each (rows, cols), block by block."""
    y = np.asarray(luma, dtype=np.float64)
    step = step_ref(block, overlap)
    lap = ndimage.correlate(y, LAPLACIAN, mode="mirror")  # "mirror" = OpenCV's reflect-101
    rows = [r for r in range(0, y.shape[0] - block + 1, step)]
    cols = [c for c in range(0, y.shape[1] - block + 1, step)]
    out = np.full((3, len(rows), len(cols)), np.nan)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            b = y[r:r + block, c:c + block]
            _, (_, _, hh2), (_, _, hh1) = pywt.wavedec2(b, "haar", level=2)
            s1 = np.median(np.abs(hh1)) / 0.6745
            s2 = np.median(np.abs(hh2)) / 0.6745
            energy = np.mean(lap[r:r + block, c:c + block] ** 2)
            out[0, i, j] = np.log(EPS_SIGMA + s1)
            out[1, i, j] = np.log((EPS_ENERGY + energy) / (EPS_ENERGY + b.var()))
            out[2, i, j] = np.log((EPS_SIGMA + s1) / (EPS_SIGMA + s2))
    return out


def _percentile(sorted_v, p):
    pos = p / 100.0 * (len(sorted_v) - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(sorted_v) - 1)
    return sorted_v[lo] + (pos - lo) * (sorted_v[hi] - sorted_v[lo])


def stats_ref(m):
    """std, max - median, median - min, P95 - P5, kurtosis, Moran's I, Otsu ratio and area."""
    m = np.asarray(m, dtype=np.float64)
    v = m.ravel()
    n = v.size
    if n < 2:
        return np.full(8, np.nan)
    s = np.sort(v)
    var = np.var(v)
    const = var <= 1e-12
    kurt = np.nan if const else float(np.mean((v - v.mean()) ** 4) / var ** 2 - 3.0)
    # Moran's I with an explicit binary weight matrix over the grid (4-neighbourhood)
    rows, cols = m.shape
    W = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            (ra, ca), (rb, cb) = divmod(a, cols), divmod(b, cols)
            W[a, b] = abs(ra - rb) + abs(ca - cb) == 1
    z = v - v.mean()
    moran = np.nan if const or W.sum() == 0 else float(n / W.sum() * (z @ W @ z) / (z @ z))
    # Otsu: every threshold between two distinct sorted values, group variances by np.var
    best, area = -1.0, np.nan
    if not const:
        for t in np.unique(s)[:-1]:
            g0, g1 = v[v <= t], v[v > t]
            between = var - (g0.size * np.var(g0) + g1.size * np.var(g1)) / n  # total = within + between
            if between > best + 1e-12 * var:
                best, area = between, min(g0.size, g1.size) / n
    ratio = np.nan if const else min(best / var, 1.0)
    return np.array([np.sqrt(var), s[-1] - np.median(v), np.median(v) - s[0],
                     _percentile(s, 95) - _percentile(s, 5), kurt, moran, ratio, area])


def local_ref(luma, block=32, overlap=0.0):
    """The LocalInconsistencyFeatures row, recomputed block by block in float64."""
    return np.concatenate([stats_ref(m) for m in maps_ref(luma, block, overlap)])


def _kernel(luma):
    from forensics.features._local import local_vector

    return local_vector(luma)


#: (name, kernel(luma), reference(luma)) for tests and benchmarks/bench_family_cost.py.
KERNEL_CASES = [("local.default (OpenCV/NumPy)", _kernel, local_ref)]
