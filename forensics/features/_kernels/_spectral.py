"""Spectral kernel: the weighted sums of the half power spectrum, in one pass (a fused bincount)."""

from ._config import array, f64, i64, kernel


@kernel(signature=(array(f64, 1), array(f64, 1), array(f64, 1, True), array(i64, 1, True), array(i64, 1, True),
                   array(f64, 1), array(f64, 1)))
def weighted_sums(p, lp, weight, wedge, radial, energies, log_sums):
    """Accumulate the sums of the spectral features over the flattened half spectrum.

    Parameters
    ----------
    p, lp : float64 (n,)
        Power ``P`` and ``ln max(P, floor)`` of each stored frequency.
    weight : float64 (n,)
        How many frequencies the sample stands for (2 for a column with a conjugate mirror, else 1;
        0 at DC).
    wedge : intp (n,)
        Class of the sample (0 outside the disc ``0 < r <= 1``); ``energies[wedge] += weight * P``.
    radial : intp (n,)
        Radial bin of the sample (the last slot outside the disc); ``log_sums[radial] += weight * lp``.
    energies, log_sums : float64, zeroed, outputs.

    Returns
    -------
    (S, T) : ``sum weight * P`` and ``sum weight * P * lp`` over every sample.
    """
    s = 0.0
    t_all = 0.0
    for t in range(p.shape[0]):
        wt = weight[t]
        wp = wt * p[t]
        s += wp
        t_all += wp * lp[t]
        energies[wedge[t]] += wp
        log_sums[radial[t]] += wt * lp[t]
    return s, t_all
