"""Timing helper shared by the benchmark scripts (not part of the package)."""

import time

import numpy as np


def median_time(fn, repeats):
    """Median wall seconds of ``repeats`` calls of ``fn()``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
