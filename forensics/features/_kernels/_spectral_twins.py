"""NumPy twin of the spectral kernel of :mod:`._spectral`, used while it is not compiled yet.

The twin takes the kernel's arguments, adds into the kernel's output buffers in place and returns
what the kernel returns, with NumPy only (no numba: calling it never compiles). Values agree with
the kernel's within 1e-12 relative, or an absolute bound where a sum of signed terms cancels to
about zero (see ``tests/test_kernel_twins_dbs.py``).
"""

import numpy as np


def weighted_sums(p, lp, weight, wedge, radial, energies, log_sums):
    """Twin of :func:`._spectral.weighted_sums` (the weighted sums of the half power spectrum);
    returns ``(S, T)``."""
    wp = weight * p
    energies += np.bincount(wedge, wp, minlength=energies.shape[0])
    log_sums += np.bincount(radial, weight * lp, minlength=log_sums.shape[0])
    return float(wp.sum()), float((wp * lp).sum())


TWINS = {"weighted_sums": weighted_sums}
