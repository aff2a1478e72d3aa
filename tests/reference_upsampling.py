"""Plain NumPy reference of the up-sampling residual features (tests and benchmarks only; the package
never imports this): phases by strided slicing, correlations by centred sums."""

import numpy as np

EPS = 1e-3


def down2(y):
    h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
    return y[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def mean_sq(a):
    return float(np.mean(a * a)) if a.size else np.nan


def log_ratio(values):
    values = [v for v in values if np.isfinite(v)]
    if len(values) < 2:
        return np.nan
    return float(np.log((EPS + max(values)) / (EPS + min(values))))


def corr(a, b):
    if a.size < 2:
        return np.nan
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / den) if den > 1e-12 else np.nan


def scale_row(y):
    out = []
    for z in (y, y.T):
        d = z[:, 1:] - z[:, :-1]
        out.append(np.log1p(mean_sq(d)) if d.size else np.nan)
        out.append(log_ratio([mean_sq(d[:, p::2]) for p in (0, 1)]))
        rho = []
        for p in (0, 1):
            first = d[:, p:-1:2]
            second = d[:, p + 1::2][:, :first.shape[1]]
            rho.append(corr(first.ravel(), second.ravel()))
        out.append(abs(rho[0] - rho[1]))
        s = z[:, :-2] - 2.0 * z[:, 1:-1] + z[:, 2:]
        out.append(log_ratio([mean_sq(s[:, 1 - p::2]) for p in (0, 1)]))
    d = y[1:, 1:] - y[:-1, :-1]
    out.append(np.log1p(mean_sq(d)) if d.size else np.nan)
    out.append(log_ratio([mean_sq(d[a::2, b::2]) for a in (0, 1) for b in (0, 1)]))
    return out


def upsampling_ref(luma, n_scales=3):
    """The UpsamplingFeatures row, recomputed in float64."""
    y = np.asarray(luma, dtype=np.float64)
    out = []
    for k in range(n_scales):
        if k:
            y = down2(y)
        out += [np.nan] * 10 if min(y.shape) < 2 else scale_row(y)
    return np.array(out)


def _kernel(luma):
    from forensics.features._upsampling import upsampling_vector

    return upsampling_vector(luma)


#: (name, kernel(luma), reference(luma)) for tests and benchmarks/bench_family_cost.py.
KERNEL_CASES = [("upsampling.default", _kernel, upsampling_ref)]
