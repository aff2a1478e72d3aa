"""Plain NumPy reference of the residual co-occurrences (tests and benchmarks only; the package never
imports this). Residuals by array slicing, tuple indices by array arithmetic, counts by np.bincount,
classes by brute-force orbits."""

import itertools

import numpy as np

TAPS = {"o1": [-1.0, 1.0], "o2": [1.0, -2.0, 1.0], "o3": [-1.0, 3.0, -3.0, 1.0]}
SCALE = {"o1": 1.0, "o2": 2.0, "o3": 3.0, "kv3": 4.0}
KV3 = np.array([[-1.0, 2.0, -1.0], [2.0, -4.0, 2.0], [-1.0, 2.0, -1.0]])
ORDER = ("o1", "o2", "o3", "kv3")


def residual_rows(y, taps):
    """sum_k taps[k] * y[:, j + k] over the valid columns."""
    w = y.shape[1] - len(taps) + 1
    if w <= 0:
        return np.zeros((y.shape[0], 0))
    return sum(t * y[:, k:k + w] for k, t in enumerate(taps))


def residual_square(y):
    h, w = y.shape[0] - 2, y.shape[1] - 2
    if h <= 0 or w <= 0:
        return np.zeros((max(h, 0), max(w, 0)))
    return sum(KV3[a, b] * y[a:a + h, b:b + w] for a in range(3) for b in range(3))


def codes(r, step, t):
    return (np.clip(np.rint(r / step), -t, t) + t).astype(np.int64)


def histogram_rows(c, order, base):
    """Counts of the tuples of `order` consecutive codes along the rows."""
    w = c.shape[1] - order + 1
    if w <= 0 or c.shape[0] == 0:
        return np.zeros(base ** order)
    idx = np.zeros((c.shape[0], w), dtype=np.int64)
    for k in range(order):
        idx = idx * base + c[:, k:k + w]
    return np.bincount(idx.ravel(), minlength=base ** order).astype(float)


def classes(order, t, reverse=True):
    """Class of every tuple (lexicographic tuple order) and the sorted class minima."""
    tuples = list(itertools.product(range(-t, t + 1), repeat=order))
    canon = []
    for tup in tuples:
        orbit = [tup, tuple(-v for v in tup)]
        if reverse:
            orbit += [tup[::-1], tuple(-v for v in tup[::-1])]
        canon.append(min(orbit))
    reps = sorted(set(canon))
    return np.array([reps.index(c) for c in canon]), reps


def symmetrize(hist, order, t, reverse=True):
    cls, reps = classes(order, t, reverse)
    total = hist.sum()
    if total == 0:
        return np.full(len(reps), np.nan)
    return np.bincount(cls, weights=hist / total, minlength=len(reps))


def cooccurrence_ref(luma, rgb=None, residuals=("o1", "o2", "o3"), order=3, t=2, q=1.0, color=False):
    """The CooccurrenceFeatures row, recomputed in float64."""
    y = np.asarray(luma, dtype=np.float64)
    base = 2 * t + 1
    out = []
    for res in [r for r in ORDER if r in residuals]:
        step = q * SCALE[res]
        if res == "kv3":
            c = codes(residual_square(y), step, t)
            out.append(symmetrize(histogram_rows(c, order, base) + histogram_rows(c.T, order, base), order, t))
        else:
            ch = codes(residual_rows(y, TAPS[res]), step, t)
            cv = codes(residual_rows(y.T, TAPS[res]), step, t).T  # vertical residual, image orientation
            out.append(symmetrize(histogram_rows(ch, order, base) + histogram_rows(cv.T, order, base), order, t))
            out.append(symmetrize(histogram_rows(ch.T, order, base) + histogram_rows(cv, order, base), order, t))
        if color:
            planes = [np.asarray(rgb[:, :, k], dtype=np.float64) for k in range(3)]
            hist = np.zeros(base ** 3)
            if res == "kv3":
                orientations = [[codes(residual_square(p), step, t) for p in planes]]
            else:
                orientations = [[codes(residual_rows(p, TAPS[res]), step, t) for p in planes],
                                [codes(residual_rows(p.T, TAPS[res]), step, t) for p in planes]]
            for cs in orientations:
                hist += np.bincount(((cs[0] * base + cs[1]) * base + cs[2]).ravel(), minlength=base ** 3)
            out.append(symmetrize(hist, 3, t, reverse=False))
    return np.concatenate(out)


def _kernel_default(luma):
    from forensics.features._cooccurrence import cooccurrence_vector

    return cooccurrence_vector(luma)


def _kernel_large(luma):
    from forensics.features._cooccurrence import LARGE_PARAMS, cooccurrence_vector

    return cooccurrence_vector(luma, residuals=LARGE_PARAMS["residuals"], order=LARGE_PARAMS["order"])


#: (name, kernel(luma), reference(luma)) for tests and benchmarks/bench_family_cost.py.
KERNEL_CASES = [
    ("cooc.default", _kernel_default, lambda luma: cooccurrence_ref(luma)),
    ("cooc.large", _kernel_large, lambda luma: cooccurrence_ref(luma, residuals=ORDER, order=4)),
]
