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


def interleaved_ms(fns, repeats, clock=time.process_time):
    """Median milliseconds (``clock``, CPU by default) of each callable of the dict ``fns``, called in
    turn ``repeats`` times after one warm-up each."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = clock()
            fn()
            times[k].append(clock() - t0)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}
