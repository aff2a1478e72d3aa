"""Binary detection metrics for fake-class scores: ranking, error rates at a threshold, calibration.

Every function takes ``y`` (labels, fake = 1, real = 0) and ``s`` / ``p`` (the score or probability
of the fake class, higher = more likely fake). A metric that is undefined on the data it is given
(one class only) is NaN, never an exception, so that per-group and per-fold tables can be built
without special cases.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = [
    "roc_auc", "average_precision", "equal_error_rate", "expected_calibration_error", "brier_score",
    "log_loss", "threshold_metrics", "choose_threshold", "evaluate", "make_scorers", "roc_points",
    "roc_auc_ci", "tpr_at_fpr", "THRESHOLD_RULES", "EVALUATE_COLUMNS",
]

#: Rules accepted by :func:`choose_threshold` (besides a number, passed through).
THRESHOLD_RULES = ("eer", "youden", "f1", "accuracy")

#: Columns of the table returned by :func:`evaluate`, in order.
EVALUATE_COLUMNS = ("n", "n_fake", "roc_auc", "average_precision", "eer", "accuracy", "balanced_accuracy",
                    "f1", "log_loss", "brier", "ece", "threshold")

_GUO = ("Guo, Pleiss, Sun & Weinberger, 'On calibration of modern neural networks', ICML 2017, "
        "arXiv:1706.04599")


# -- input checks -----------------------------------------------------------------------------------
def _check_labels(y, name="y"):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name} is empty")
    if y.dtype == bool:
        return y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{name} must hold the labels 0 (real) and 1 (fake), got dtype {y.dtype}")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(f"{name} must hold only 0 (real) and 1 (fake); found {y[bad][0]!r} at index "
                         f"{int(np.flatnonzero(bad)[0])}")
    return y.astype(np.int64)


def _check_scores(y, s, name="s", *, probability=False):
    y = _check_labels(y)
    s = np.asarray(s, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] == 2:
        raise ValueError(f"{name} must be the 1-D score of the fake class; for predict_proba output "
                         "pass proba[:, 1]")
    if s.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {s.shape}")
    if s.shape[0] != y.shape[0]:
        raise ValueError(f"y and {name} have different lengths: {y.shape[0]} and {s.shape[0]}")
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(f"{name} must be finite; found {s[bad][0]} at index {int(np.flatnonzero(bad)[0])}")
    if probability and ((s < 0).any() or (s > 1).any()):
        i = int(np.flatnonzero((s < 0) | (s > 1))[0])
        raise ValueError(f"{name} must be probabilities in [0, 1]; found {s[i]} at index {i}")
    return y, s


def _both_classes(y):
    n_pos = int(y.sum())
    return 0 < n_pos < y.size


# -- ranking metrics --------------------------------------------------------------------------------
def roc_points(y, s):
    """Every vertex of the ROC curve: false and true positive rates per distinct threshold.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0; both classes must be present.
    s : array-like of shape (n,)
        Scores of the fake class.

    Returns
    -------
    fpr, tpr : ndarray of shape (m + 1,)
        Rates of the rule ``s >= threshold -> fake``, starting at (0, 0).
    thresholds : ndarray of shape (m + 1,)
        ``+inf`` then the ``m`` distinct scores in decreasing order:
        :func:`sklearn.metrics.roc_curve` with ``drop_intermediate=False`` (no collinear
        point dropped), after the label and score checks of this module.

    Examples
    --------
    >>> fpr, tpr, thr = roc_points([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> fpr.tolist(), tpr.tolist(), thr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], [inf, 0.9, 0.6, 0.4, 0.1])
    """
    from sklearn.metrics import roc_curve

    y, s = _check_scores(y, s)
    if not _both_classes(y):
        raise ValueError("the ROC curve needs both classes in y")
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    return fpr, tpr, thresholds


def roc_auc(y, s):
    """Area under the ROC curve (probability that a random fake outscores a random real).

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    s : array-like of shape (n,)
        Scores of the fake class (any monotone scale).

    Returns
    -------
    float
        In [0, 1]; NaN when ``y`` holds one class only.

    Notes
    -----
    The Mann-Whitney form, with ties counted one half:
    ``AUC = (sum_{i: y_i = 1} rank(s_i) - n_1 (n_1 + 1) / 2) / (n_0 n_1)`` with mid-ranks for ties.
    Equals the trapezoidal area under the ROC curve, which is what is computed
    (:func:`sklearn.metrics.roc_auc_score`, after this module's checks; NaN instead of an error
    with one class).

    References
    ----------
    Hanley & McNeil, 'The meaning and use of the area under a receiver operating characteristic
    (ROC) curve', Radiology 1982, doi:10.1148/radiology.143.1.7063747.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])  # pairs won: (.4>.1) (.9>.1) (.9>.6) = 3 of 4
    0.75
    """
    from sklearn.metrics import roc_auc_score

    y, s = _check_scores(y, s)
    if not _both_classes(y):
        return float("nan")
    return float(roc_auc_score(y, s))


def average_precision(y, s):
    """Average precision: the precision-recall curve summarised as a step-wise area.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    s : array-like of shape (n,)
        Scores of the fake class.

    Returns
    -------
    float
        In [0, 1]; NaN when there is no fake in ``y`` (recall undefined). With fakes only it is 1.

    Notes
    -----
    Over the distinct scores ``t_1 > t_2 > ...`` (the rule ``s >= t_k -> fake``),
    ``AP = sum_k (R_k - R_{k-1}) P_k`` with recall ``R_k``, precision ``P_k`` and ``R_0 = 0``;
    no interpolation of the precision: :func:`sklearn.metrics.average_precision_score`, after
    this module's checks.
    Its chance level is the fake prevalence, not 0.5.

    Examples
    --------
    >>> # thresholds .9 (R=.5, P=1), .6 (R=.5, P=.5), .4 (R=1, P=2/3), .1 (R=1, P=.5)
    >>> round(average_precision([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9]), 6)  # .5*1 + .5*2/3
    0.833333
    """
    from sklearn.metrics import average_precision_score

    y, s = _check_scores(y, s)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, s))


def equal_error_rate(y, s):
    """Equal error rate: the error where the false positive rate equals the false negative rate.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    s : array-like of shape (n,)
        Scores of the fake class.

    Returns
    -------
    eer : float
        In [0, 1] (0.5 for a score that carries no information); NaN with one class only.
    threshold : float
        A score threshold (``s >= threshold -> fake``) whose operating point is nearest the EER;
        NaN with one class only.

    Notes
    -----
    On the ROC vertices of :func:`roc_points` (``FNR = 1 - TPR``), ``d_k = FPR_k - FNR_k`` is
    non-decreasing from -1 at (0, 0) to +1 at (1, 1). With ``k`` the first vertex where
    ``d_k >= 0``: if ``d_k = 0`` the EER is ``FPR_k``; otherwise both rates are interpolated linearly
    along the ROC segment from vertex ``k-1`` to ``k`` (the operating points a randomised choice
    between the two thresholds reaches) and meet at
    ``u = -d_{k-1} / (d_k - d_{k-1})``, ``EER = FPR_{k-1} + u (FPR_k - FPR_{k-1})``
    (equal to ``FNR_{k-1} + u (FNR_k - FNR_{k-1})``).

    No deterministic threshold reaches a point inside a segment, so ``threshold`` is that of the
    end vertex with the smaller ``|FPR - FNR|`` (``k`` on a tie): a real score, usable as is on new
    data (:func:`choose_threshold` with ``rule="eer"`` returns it).

    Examples
    --------
    >>> # ROC vertices (FPR, FNR): (0, 1) (0, .5) (.5, .5) (.5, 0) (1, 0): equal at threshold .6
    >>> equal_error_rate([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    (0.5, 0.6)
    >>> # tied scores: one segment from (0, 1) to (1, 0), crossing at its middle
    >>> equal_error_rate([0, 1], [0.3, 0.3])
    (0.5, 0.3)
    """
    y, s = _check_scores(y, s)
    if not _both_classes(y):
        return float("nan"), float("nan")
    fpr, tpr, thr = roc_points(y, s)
    fnr = 1.0 - tpr
    d = fpr - fnr
    k = int(np.argmax(d >= 0))  # d[-1] = 1, so a crossing exists; d[0] = -1, so k >= 1
    if d[k] == 0:
        return float(fpr[k]), float(thr[k])
    u = -d[k - 1] / (d[k] - d[k - 1])
    eer = fpr[k - 1] + u * (fpr[k] - fpr[k - 1])
    j = k if d[k] <= -d[k - 1] else k - 1
    return float(eer), float(thr[j])


# -- operating points and uncertainty ---------------------------------------------------------------
def tpr_at_fpr(y, s, fpr=0.01):
    """True positive rate at a false positive rate: the share of fakes caught with few reals flagged.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    s : array-like of shape (n,)
        Scores of the fake class.
    fpr : float in [0, 1], default=0.01
        The largest false positive rate allowed.

    Returns
    -------
    float
        The highest TPR among the ROC vertices (:func:`roc_points`) whose FPR is at most ``fpr``:
        the operating point a deterministic threshold reaches, without interpolation. NaN with
        one class only. With ``n_real`` reals the smallest non-zero FPR is ``1 / n_real``, so
        for ``fpr < 1 / n_real`` this is the TPR at FPR = 0.

    Examples
    --------
    >>> # vertices (FPR, TPR): (0,0) (0,.5) (.5,.5) (.5,1) (1,1)
    >>> tpr_at_fpr([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], fpr=0.01), tpr_at_fpr([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.5)
    (0.5, 1.0)
    """
    if isinstance(fpr, bool) or not isinstance(fpr, numbers.Real) or not 0 <= fpr <= 1:
        raise ValueError(f"fpr must be a number in [0, 1], got {fpr!r}")
    y, s = _check_scores(y, s)
    if not _both_classes(y):
        return float("nan")
    f, t, _ = roc_points(y, s)
    return float(t[f <= fpr].max())


def roc_auc_ci(y, s, *, groups=None, n_boot=1000, level=0.95, random_state=0):
    """ROC-AUC with a bootstrap confidence interval, resampling whole groups.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    s : array-like of shape (n,)
        Scores of the fake class.
    groups : array-like of shape (n,), optional
        Items of a group (a video's frames, a source photo's crops, an identity) are drawn
        together; None resamples items.
    n_boot : int, default=1000
        Bootstrap samples.
    level : float in (0, 1), default=0.95
    random_state : int, default=0

    Returns
    -------
    auc, low, high : float
        The ROC-AUC of the data and the percentile interval of the bootstrap AUCs; NaN with one
        class only.

    Notes
    -----
    Each sample draws ``G`` groups with replacement (``G`` the number of groups) and computes
    the AUC with each item weighted by the number of times its group was drawn: the weighted
    Mann-Whitney statistic ``sum_{i fake, j real} w_i w_j ([s_i > s_j] + [s_i = s_j] / 2) /
    (W_fake W_real)``, which is :func:`sklearn.metrics.roc_auc_score` with ``sample_weight``
    (computed here from one ranking of the scores, as the weights are all that change); samples
    holding one class only are skipped. Resampling groups, not items, keeps the interval honest when items of a
    group are correlated (frames of one video are not independent evidence). A percentile
    interval of a cluster bootstrap; with few groups it is wide and coarse, which is the point.

    References
    ----------
    Efron & Tibshirani, 'An Introduction to the Bootstrap', Chapman & Hall 1993, ch. 13;
    Field & Welsh, 'Bootstrapping clustered data', JRSS B 69(3), 2007,
    doi:10.1111/j.1467-9868.2007.00593.x.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 50)
    >>> s = y + rng.normal(0, 1, 100)
    >>> auc, low, high = roc_auc_ci(y, s, n_boot=200)
    >>> bool(low < auc < high)
    True
    """
    from sklearn.metrics import roc_auc_score

    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive int, got {n_boot!r}")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    y, s = _check_scores(y, s)
    if not _both_classes(y):
        return float("nan"), float("nan"), float("nan")
    if groups is None:
        codes = np.arange(y.size)
    else:
        g = np.asarray(groups, dtype=object)
        if g.shape != y.shape:
            raise ValueError(f"groups must have the shape of y {y.shape}, got {g.shape}")
        codes = pd.factorize(pd.Series(g))[0]
    n_groups = int(codes.max()) + 1
    rng = np.random.default_rng(random_state)
    # The weighted Mann-Whitney statistic (what roc_auc_score computes with sample_weight), with the
    # scores ranked once: per sample, only the weights change.
    level_of = np.unique(s, return_inverse=True)[1]
    n_levels = int(level_of.max()) + 1
    pos = y == 1
    aucs = []
    for _ in range(int(n_boot)):
        weight = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[codes].astype(np.float64)
        wp = np.bincount(level_of[pos], weights=weight[pos], minlength=n_levels)
        wn = np.bincount(level_of[~pos], weights=weight[~pos], minlength=n_levels)
        total_p, total_n = wp.sum(), wn.sum()
        if total_p == 0 or total_n == 0:
            continue
        below = np.cumsum(wn) - wn  # negative weight strictly below each score level
        aucs.append(float(np.sum(wp * (below + 0.5 * wn)) / (total_p * total_n)))
    auc = float(roc_auc_score(y, s))
    if not aucs:
        return auc, float("nan"), float("nan")
    low, high = np.quantile(aucs, [(1 - level) / 2, (1 + level) / 2])
    return auc, float(low), float(high)


# -- calibration / proper scores --------------------------------------------------------------------
def expected_calibration_error(y, p, *, n_bins=15):
    """Expected calibration error of the fake-class probability over equal-width bins.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    p : array-like of shape (n,)
        Probability of the fake class, in [0, 1].
    n_bins : int, default=15
        Number of equal-width bins on [0, 1].

    Returns
    -------
    float
        In [0, 1]; 0 for a perfectly calibrated (bin-wise) probability.

    Notes
    -----
    Bins ``B_b = (b / M, (b + 1) / M]`` for ``b = 0..M-1`` (``p = 0`` falls in the first bin), as in
    Guo et al. With ``n`` items,
    ``ECE = sum_b |B_b| / n * |mean_{i in B_b} y_i - mean_{i in B_b} p_i|`` (empty bins add 0).
    This is the calibration of the fake-class probability itself; Guo et al.'s multi-class form
    bins the top-label confidence ``max(p, 1 - p)`` instead. A binned estimate: it depends on
    ``n_bins`` and is biased upwards for small ``n``.

    References
    ----------
    Guo, Pleiss, Sun & Weinberger, 'On calibration of modern neural networks', ICML 2017,
    arXiv:1706.04599.

    Examples
    --------
    >>> # 2 bins: (0, .5] holds p=.2,.4 with y=0,1 -> |.5 - .3| = .2; (.5, 1] holds p=.9 with y=1
    >>> # -> |1 - .9| = .1. ECE = 2/3 * .2 + 1/3 * .1 = .5/3
    >>> round(expected_calibration_error([0, 1, 1], [0.2, 0.4, 0.9], n_bins=2), 6)
    0.166667
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    y, p = _check_scores(y, p, "p", probability=True)
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    idx = np.clip(np.searchsorted(edges, p, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    gap = np.abs(np.bincount(idx, weights=y, minlength=n_bins) - np.bincount(idx, weights=p, minlength=n_bins))
    # sum_b |B_b|/n * |sum_y/|B_b| - sum_p/|B_b|| = sum_b |sum_y - sum_p| / n
    return float(gap[count > 0].sum() / y.size)


def brier_score(y, p):
    """Brier score: mean squared error of the fake-class probability (lower is better).

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    p : array-like of shape (n,)
        Probability of the fake class, in [0, 1].

    Returns
    -------
    float
        ``mean_i (p_i - y_i)^2``, in [0, 1]; 0.25 for the constant 0.5
        (:func:`sklearn.metrics.brier_score_loss`).

    References
    ----------
    Brier, 'Verification of forecasts expressed in terms of probability', Monthly Weather Review
    1950, doi:10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2.

    Examples
    --------
    >>> round(brier_score([0, 1], [0.2, 0.6]), 6)  # (.04 + .16) / 2
    0.1
    """
    from sklearn.metrics import brier_score_loss

    y, p = _check_scores(y, p, "p", probability=True)
    return float(brier_score_loss(y, p, pos_label=1))


def log_loss(y, p, eps=1e-15):
    """Binary cross-entropy of the fake-class probability (lower is better).

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    p : array-like of shape (n,)
        Probability of the fake class, in [0, 1].
    eps : float, default=1e-15
        ``p`` is clipped to ``[eps, 1 - eps]`` so a confident mistake costs ``-log(eps)``, not inf.

    Returns
    -------
    float
        ``-mean_i [y_i log p_i + (1 - y_i) log(1 - p_i)]`` in nats; ``log 2`` for the constant 0.5.

    Examples
    --------
    >>> import math
    >>> math.isclose(log_loss([0, 1], [0.5, 0.5]), math.log(2))
    True
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 <= eps < 0.5:
        raise ValueError(f"eps must be a number in [0, 0.5), got {eps!r}")
    y, p = _check_scores(y, p, "p", probability=True)
    p = np.clip(p, eps, 1 - eps)
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.where(y == 1, np.log(p), np.log1p(-p))))


# -- thresholded metrics ----------------------------------------------------------------------------
def _ratio(a, b):
    return float(a / b) if b > 0 else float("nan")


def threshold_metrics(y, s, threshold):
    """Confusion-matrix metrics of the decision ``s >= threshold -> fake``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    s : array-like of shape (n,)
        Scores of the fake class.
    threshold : float or array-like of shape (n,)
        The decision threshold; an array gives each item its own (e.g. the threshold of the
        cross-validation fold that scored it).

    Returns
    -------
    dict
        ``tp, fp, tn, fn`` (counts, from :func:`sklearn.metrics.confusion_matrix`), ``accuracy``, ``balanced_accuracy`` (``(TPR + TNR) / 2``),
        ``precision`` (``TP / (TP + FP)``), ``recall`` and ``tpr`` (the same value,
        ``TP / (TP + FN)``), ``fpr`` (``FP / (FP + TN)``), ``tnr``, ``fnr``, ``f1``
        (``2 TP / (2 TP + FP + FN)``). A ratio with a zero denominator is NaN, so with one class
        only ``balanced_accuracy`` is NaN; ``f1`` is 0, not NaN, when there are fakes but none is
        called fake.

    Examples
    --------
    >>> m = threshold_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.5)  # calls: 0 1 0 1
    >>> m["tp"], m["fp"], m["accuracy"], m["precision"], m["recall"], m["fpr"], m["f1"]
    (1, 1, 0.5, 0.5, 0.5, 0.5, 0.5)
    """
    y, s = _check_scores(y, s)
    t = np.asarray(threshold, dtype=np.float64)
    if t.ndim not in (0, 1) or (t.ndim == 1 and t.shape != s.shape):
        raise ValueError(f"threshold must be a number or have the shape of s {s.shape}, got {t.shape}")
    if np.isnan(t).any():
        raise ValueError("threshold is NaN")
    from sklearn.metrics import confusion_matrix

    pred = (s >= t).astype(np.int64)
    (tn, fp), (fn, tp) = confusion_matrix(y, pred, labels=[0, 1]).tolist()
    tpr, tnr = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    return {
        "tp": tp, "fp": fp, "tn": tn, "fn": fn,
        "accuracy": (tp + tn) / y.size,
        "balanced_accuracy": (tpr + tnr) / 2,
        "precision": _ratio(tp, tp + fp),
        "recall": tpr, "tpr": tpr,
        "fpr": _ratio(fp, fp + tn), "tnr": tnr, "fnr": _ratio(fn, fn + tp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def choose_threshold(y, s, rule="eer"):
    """Pick a decision threshold on held-out (validation) scores.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0; both classes are needed unless ``rule`` is a number.
    s : array-like of shape (n,)
        Scores of the fake class.
    rule : {"eer", "youden", "f1", "accuracy"} or float, default="eer"
        - ``"eer"``: the threshold of :func:`equal_error_rate` (FPR ~ FNR).
        - ``"youden"``: maximise Youden's ``J = TPR - FPR``.
        - ``"f1"``: maximise F1 of the fake class.
        - ``"accuracy"``: maximise accuracy (sensitive to the class balance of ``y``).
        - a number: returned unchanged (``y`` and ``s`` are ignored).

    Returns
    -------
    float
        The threshold, for the rule ``s >= threshold -> fake``.

    Notes
    -----
    Candidates are the distinct scores (the ROC vertices; "call everything real" is not one).
    Ties of the maximised quantity go to the highest threshold (fewest items called fake).
    A threshold chosen on the data it is then evaluated on is optimistic: choose it on a
    validation split and carry it to the test data (as
    :func:`forensics.model_selection.cross_validate_detector` does).

    References
    ----------
    Youden, 'Index for rating diagnostic tests', Cancer 1950,
    doi:10.1002/1097-0142(1950)3:1<32::AID-CNCR2820030106>3.0.CO;2-3.

    Examples
    --------
    >>> y, s = [0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.35, 0.8]
    >>> choose_threshold(y, s, "youden")  # s >= .35 separates the classes: J = 1
    0.35
    >>> choose_threshold(y, s, 0.5)
    0.5
    """
    if isinstance(rule, numbers.Real) and not isinstance(rule, bool):
        if np.isnan(rule):
            raise ValueError("a numeric threshold rule must not be NaN")
        return float(rule)
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"rule must be one of {list(THRESHOLD_RULES)} or a number, got {rule!r}")
    y, s = _check_scores(y, s)
    if not _both_classes(y):
        raise ValueError(f"choosing a threshold with rule {rule!r} needs both classes in y")
    if rule == "eer":
        return equal_error_rate(y, s)[1]
    fpr, tpr, thr = roc_points(y, s)
    fpr, tpr, thr = fpr[1:], tpr[1:], thr[1:]  # drop the +inf vertex ("all real")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    tp, fp = tpr * n_pos, fpr * n_neg
    if rule == "youden":
        value = tpr - fpr
    elif rule == "f1":
        value = 2 * tp / (2 * tp + fp + (n_pos - tp))
    else:  # accuracy
        value = (tp + (n_neg - fp)) / y.size
    # Rounding guard so that ties computed through different divisions stay ties.
    best = np.flatnonzero(value >= value.max() - 1e-12)[0]
    return float(thr[best])


# -- tables -----------------------------------------------------------------------------------------
def _row(y, s, threshold, calibrated):
    both = _both_classes(y)
    eer = equal_error_rate(y, s)[0] if both else float("nan")
    tm = threshold_metrics(y, s, threshold)
    t = np.asarray(threshold, dtype=np.float64)
    t_value = float(t) if t.ndim == 0 else (float(t[0]) if np.all(t == t[0]) else float("nan"))
    nan = float("nan")
    return {
        "n": int(y.size), "n_fake": int(y.sum()),
        "roc_auc": roc_auc(y, s), "average_precision": average_precision(y, s), "eer": eer,
        "accuracy": tm["accuracy"], "balanced_accuracy": tm["balanced_accuracy"], "f1": tm["f1"],
        "log_loss": log_loss(y, s) if calibrated else nan,
        "brier": brier_score(y, s) if calibrated else nan,
        "ece": expected_calibration_error(y, s) if calibrated else nan,
        "threshold": t_value,
    }


def _ordered_unique(values):
    uniq = pd.unique(pd.Series(values, dtype=object))
    try:
        return sorted(uniq)
    except TypeError:
        return list(uniq)


def evaluate(y, s, *, threshold=0.5, groups=None, reference_label=0):
    """One table of detection metrics: overall and per group (e.g. per manipulation method).

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, fake = 1, real = 0.
    s : array-like of shape (n,)
        Scores of the fake class. ``log_loss``, ``brier`` and ``ece`` are computed only when every
        score lies in [0, 1] (a probability); otherwise they are NaN.
    threshold : float, array-like of shape (n,) or rule, default=0.5
        Threshold of ``accuracy``, ``balanced_accuracy`` and ``f1`` (``s >= threshold -> fake``).
        An array gives each item its own (the ``threshold`` column is then NaN where it varies).
        A rule name of :func:`choose_threshold` picks it on ``y, s`` themselves, which is
        optimistic: prefer a threshold chosen on validation data.
    groups : array-like of shape (n,), optional
        Group of each item, e.g. the manipulation method of each fake ("Deepfakes", "FaceSwap")
        and "real" for reals. Adds one row per group value found among the items whose label is
        not ``reference_label``.
    reference_label : {0, 1}, default=0
        The class shared by every group row. With 0, the row of method ``g`` is computed on the
        fakes of ``g`` plus all the reals: the usual per-method breakdown. With 1, a row per
        group of reals against all the fakes.

    Returns
    -------
    pandas.DataFrame
        Index ``group`` ("all" first, then the groups, sorted when sortable), columns
        ``n, n_fake, roc_auc, average_precision, eer, accuracy, balanced_accuracy, f1, log_loss,
        brier, ece, threshold``. Undefined metrics (one class only) are NaN.

    See Also
    --------
    forensics.model_selection.cross_validate_detector : the same table per fold and per method.

    Examples
    --------
    >>> y = [0, 0, 1, 1, 1, 1]
    >>> s = [0.1, 0.2, 0.9, 0.8, 0.3, 0.15]
    >>> m = ["real", "real", "A", "A", "B", "B"]
    >>> table = evaluate(y, s, groups=m)
    >>> table.index.tolist()
    ['all', 'A', 'B']
    >>> table[["n", "n_fake", "roc_auc"]].round(3).to_dict("index")["B"]  # .3 > both reals, .15 > .1
    {'n': 4, 'n_fake': 2, 'roc_auc': 0.75}
    """
    y, s = _check_scores(y, s)
    if reference_label not in (0, 1) or isinstance(reference_label, bool):
        raise ValueError(f"reference_label must be 0 or 1, got {reference_label!r}")
    if isinstance(threshold, str):
        threshold = choose_threshold(y, s, threshold)
    t = np.asarray(threshold, dtype=np.float64)
    calibrated = bool(np.all((s >= 0) & (s <= 1)))
    rows = {"all": _row(y, s, t, calibrated)}
    if groups is not None:
        g = np.asarray(groups, dtype=object)
        if g.shape != y.shape:
            raise ValueError(f"groups must have the shape of y {y.shape}, got {g.shape}")
        ref = y == reference_label
        for name in _ordered_unique(g[~ref]):
            if name == "all":
                raise ValueError("'all' is reserved for the overall row; rename that group")
            mask = ref | ((g == name) & ~ref)
            rows[name] = _row(y[mask], s[mask], t if t.ndim == 0 else t[mask], calibrated)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(EVALUATE_COLUMNS))
    table.index.name = "group"
    return table


# -- scikit-learn scorers ---------------------------------------------------------------------------
def _eer_score(y_true, y_score):
    return equal_error_rate(y_true, y_score)[0]


def make_scorers():
    """Scorers for :func:`sklearn.model_selection.cross_validate` and ``GridSearchCV``.

    All read ``predict_proba`` (the fake-class column) and follow scikit-learn's
    greater-is-better convention, so losses are negated.

    Returns
    -------
    dict of str to scorer
        ``roc_auc``, ``average_precision``, ``neg_eer``, ``neg_ece``, ``neg_brier_score``,
        ``neg_log_loss``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_validate
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> res = cross_validate(LogisticRegression(), X, y, cv=3, scoring=make_scorers())
    >>> bool((res["test_roc_auc"] > 0.8).all()), bool((res["test_neg_eer"] <= 0).all())
    (True, True)
    """
    from sklearn.metrics import make_scorer

    def proba(func, greater_is_better=True):
        return make_scorer(func, response_method="predict_proba", greater_is_better=greater_is_better)

    return {
        "roc_auc": proba(roc_auc),
        "average_precision": proba(average_precision),
        "neg_eer": proba(_eer_score, greater_is_better=False),
        "neg_ece": proba(expected_calibration_error, greater_is_better=False),
        "neg_brier_score": proba(brier_score, greater_is_better=False),
        "neg_log_loss": proba(log_loss, greater_is_better=False),
    }
