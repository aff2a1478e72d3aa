"""Figures for inspecting a detector and its data: each function returns a matplotlib Figure.

matplotlib is imported inside each function, and figures are built as plain
``matplotlib.figure.Figure`` objects (not through pyplot), which render with the non-interactive
Agg canvas: importing :mod:`forensics` needs no matplotlib, plotting needs no display, and the
user's pyplot backend is left alone. Save with ``fig.savefig(path)``; Jupyter displays them.
Colours: real items blue, fake items orange, everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._importance import feature_family

__all__ = [
    "plot_feature_distributions", "plot_correlation_matrix", "plot_roc_pr", "plot_confusion_matrix",
    "plot_reliability", "plot_metric_bars", "plot_importance", "plot_shap_bar", "plot_shap_beeswarm",
    "plot_spectra", "average_spectra",
]

REAL_COLOR = "#1f77b4"
FAKE_COLOR = "#ff7f0e"


def _figure(width, height):
    """A Figure not registered with pyplot: drawn by the Agg canvas, no GUI, nothing to close."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _short(name, width=38):
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


# -- data ------------------------------------------------------------------------------------------

def plot_feature_distributions(F, y, *, feature_names, features=None, importance=None, top_k=8, bins=30):
    """Histograms of the most important features, real vs fake.

    Parameters
    ----------
    F : array-like of shape (n_items, n_features)
    y : array-like of shape (n_items,)
        fake = 1, real = 0.
    feature_names : list of str
    features : list of str, optional
        Which features to show. Default: the first ``top_k`` of ``importance``, else the
        ``top_k`` features whose univariate ROC-AUC is farthest from 0.5.
    importance : pandas.DataFrame, optional
        A table with a ``name`` column, most important first (e.g. from
        :func:`permutation_importance_cv`).
    top_k : int, default=8
    bins : int, default=30

    Returns
    -------
    matplotlib.figure.Figure
        One panel per feature: densities of the real (blue) and fake (orange) values, with the
        univariate AUC in the title.
    """
    F = np.asarray(F, dtype=np.float64)
    y = np.asarray(y)
    names = list(map(str, feature_names))
    col = {n: j for j, n in enumerate(names)}
    aucs = np.array([_safe_auc(y, F[:, j]) for j in range(F.shape[1])])
    if features is None:
        if importance is not None:
            features = [n for n in importance["name"] if n in col][:top_k]
        else:
            features = [names[j] for j in np.argsort(-np.abs(aucs - 0.5), kind="stable")[:top_k]]
    features = list(features)
    n = max(1, len(features))
    ncols = min(4, n)
    nrows = int(np.ceil(n / ncols))
    fig = _figure(3.2 * ncols, 2.5 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, name in zip(axes, features):
        x = F[:, col[name]]
        ok = np.isfinite(x)
        lo, hi = (np.nanpercentile(x[ok], [0.5, 99.5]) if ok.any() else (0.0, 1.0))
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        for label, color, text in ((0, REAL_COLOR, "real"), (1, FAKE_COLOR, "fake")):
            v = np.clip(x[ok & (y == label)], lo, hi)
            if v.size:
                ax.hist(v, bins=edges, density=True, alpha=0.55, color=color, label=f"{text} (n={v.size})")
        ax.set_title(f"{_short(name, 34)}\nAUC {aucs[col[name]]:.2f}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[len(features):]:
        ax.axis("off")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("Feature distributions, real vs fake (most important features)", fontsize=10)
    return fig


def _safe_auc(y, x):
    from ..metrics import roc_auc

    ok = np.isfinite(x)
    if len(np.unique(y[ok])) < 2 or np.ptp(x[ok]) == 0:
        return 0.5
    return float(roc_auc(y[ok], x[ok]))


def plot_correlation_matrix(F=None, *, feature_names=None, correlation_filter=None, method="pearson", max_labels=60):
    """Heatmap of the feature correlation matrix, features dropped by the decorrelation marked in red.

    Parameters
    ----------
    F : array-like of shape (n_items, n_features), optional
        Feature table (needed unless ``correlation_filter`` is fitted: then its
        ``correlation_`` is used).
    feature_names : list of str, optional
    correlation_filter : fitted CorrelationFilter, optional
        Its ``correlation_`` is drawn and its ``dropped_`` features get a red tick on both axes
        (and red labels). When it was fitted on an array, ``feature_names`` names its columns.
    method : {"pearson", "spearman"}, default="pearson"
    max_labels : int, default=60
        With more features, the axes name the families (their blocks are outlined) instead of
        every feature.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if correlation_filter is not None and hasattr(correlation_filter, "correlation_"):
        corr = correlation_filter.correlation_
        names = [str(c) for c in corr.columns]
        dropped = [str(f) for f in correlation_filter.dropped_["feature"]]
        if feature_names is not None and not hasattr(correlation_filter, "feature_names_in_"):
            # fitted on an array: its names are x0, x1...; name them by position
            if len(feature_names) != len(names):
                raise ValueError(f"feature_names has {len(feature_names)} names for {len(names)} features")
            rename = dict(zip(names, map(str, feature_names)))
            names = [rename[n] for n in names]
            dropped = [rename.get(d, d) for d in dropped]
        corr = pd.DataFrame(corr.to_numpy(), index=names, columns=names)
        dropped = set(dropped)
    else:
        if F is None:
            raise ValueError("give F or a fitted correlation_filter")
        F = np.asarray(F, dtype=np.float64)
        names = [f"x{j}" for j in range(F.shape[1])] if feature_names is None else list(map(str, feature_names))
        corr = pd.DataFrame(F, columns=names).corr(method=method)
        dropped = set()
    from matplotlib.patches import Rectangle

    C = corr.to_numpy(dtype=np.float64)
    n = len(names)
    side = min(11.0, max(5.0, 0.12 * n + 3))
    fig = _figure(side + 1.2, side)
    ax = fig.subplots()
    im = ax.imshow(np.nan_to_num(C, nan=0.0), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.7, label="correlation (NaN shown as 0)")
    is_dropped = np.array([nm in dropped for nm in names])
    if n <= max_labels:
        ax.set_xticks(range(n), [_short(s, 30) for s in names], rotation=90, fontsize=6)
        ax.set_yticks(range(n), [_short(s, 30) for s in names], fontsize=6)
        for lab in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
            if lab.get_text() and any(_short(d, 30) == lab.get_text() for d in dropped):
                lab.set_color("red")
    else:
        fams = [feature_family(s) for s in names]
        starts = [0] + [j for j in range(1, n) if fams[j] != fams[j - 1]]
        ends = starts[1:] + [n]
        centres = [(a + b - 1) / 2 for a, b in zip(starts, ends)]
        ax.set_xticks(centres, [fams[a] for a in starts], rotation=90, fontsize=8)
        ax.set_yticks(centres, [fams[a] for a in starts], fontsize=8)
        for a, b in zip(starts, ends):
            ax.add_patch(Rectangle((a - 0.5, a - 0.5), b - a, b - a, fill=False, edgecolor="black", lw=0.8))
    if is_dropped.any():
        idx = np.flatnonzero(is_dropped)
        ax.scatter(idx, np.full(idx.size, -1.2), marker="v", color="red", s=12, clip_on=False,
                   label=f"dropped by decorrelation ({idx.size})")
        ax.scatter(np.full(idx.size, -1.2), idx, marker=">", color="red", s=12, clip_on=False)
        ax.legend(loc="upper right", bbox_to_anchor=(1.0, 1.08), fontsize=8, frameon=False)
    ax.set_xlim(-2, n - 0.5)
    ax.set_ylim(n - 0.5, -2)
    ax.set_title(f"Correlation between the {n} features ({method})", fontsize=10)
    return fig


# -- scores ------------------------------------------------------------------------------------------

def plot_roc_pr(y, scores, *, test_fold=None):
    """ROC and precision-recall curves of out-of-fold scores.

    Parameters
    ----------
    y : array-like of shape (n_items,)
    scores : array-like of shape (n_items,)
        Fake-class scores (e.g. ``CVResult.oof_scores``).
    test_fold : array-like of shape (n_items,), optional
        The fold of each item: each fold's own curve is drawn thin, the pooled one thick.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.metrics import precision_recall_curve

    from ..metrics import average_precision, roc_auc, roc_points

    y = np.asarray(y)
    s = np.asarray(scores, dtype=np.float64)
    fig = _figure(10, 4.4)
    ax_roc, ax_pr = fig.subplots(1, 2)
    if test_fold is not None:
        test_fold = np.asarray(test_fold)
        for f in np.unique(test_fold):
            m = test_fold == f
            if len(np.unique(y[m])) == 2:
                fpr, tpr, _ = roc_points(y[m], s[m])
                ax_roc.plot(fpr, tpr, color="grey", lw=0.8, alpha=0.6, drawstyle="steps-post")
                p, r, _ = precision_recall_curve(y[m], s[m])
                ax_pr.plot(r, p, color="grey", lw=0.8, alpha=0.6, drawstyle="steps-post")
    fpr, tpr, _ = roc_points(y, s)
    ax_roc.plot(fpr, tpr, color=FAKE_COLOR, lw=2, label=f"pooled out-of-fold, AUC {roc_auc(y, s):.3f}")
    ax_roc.plot([0, 1], [0, 1], ls="--", color="black", lw=0.8, label="chance")
    ax_roc.set(xlabel="false positive rate (reals called fake)", ylabel="true positive rate (fakes caught)",
               title="ROC curve", xlim=(0, 1), ylim=(0, 1.01))
    p, r, _ = precision_recall_curve(y, s)
    ax_pr.plot(r, p, color=FAKE_COLOR, lw=2, label=f"pooled out-of-fold, AP {average_precision(y, s):.3f}")
    ax_pr.axhline(y.mean(), ls="--", color="black", lw=0.8, label=f"chance (fake rate {y.mean():.2f})")
    ax_pr.set(xlabel="recall (fakes caught)", ylabel="precision (flagged that are fake)",
              title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.01))
    for ax in (ax_roc, ax_pr):
        if test_fold is not None:
            ax.plot([], [], color="grey", lw=0.8, label="single folds")
        ax.legend(fontsize=8, loc="lower right" if ax is ax_roc else "lower left")
    return fig


def plot_confusion_matrix(y, scores, threshold):
    """Confusion matrix of ``score >= threshold -> fake``, counts and row percentages.

    Parameters
    ----------
    y : array-like of shape (n_items,)
    scores : array-like of shape (n_items,)
    threshold : float or array-like of shape (n_items,)
        One threshold, or each item's own (e.g. ``CVResult.thresholds[CVResult.test_fold]``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    y = np.asarray(y).astype(int)
    pred = (np.asarray(scores, dtype=np.float64) >= np.asarray(threshold, dtype=np.float64)).astype(int)
    cm = np.array([[np.sum((y == t) & (pred == p)) for p in (0, 1)] for t in (0, 1)])
    fig = _figure(4.6, 4.0)
    ax = fig.subplots()
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for t in (0, 1):
        for p in (0, 1):
            ax.text(p, t, f"{cm[t, p]}\n{100 * share[t, p]:.0f}%", ha="center", va="center", fontsize=12,
                    color="white" if share[t, p] > 0.5 else "black")
    ax.set_xticks([0, 1], ["real", "fake"])
    ax.set_yticks([0, 1], ["real", "fake"])
    ax.set(xlabel="predicted", ylabel="true")
    thr = np.unique(np.asarray(threshold, dtype=np.float64))
    what = f"threshold {thr[0]:.3g}" if thr.size == 1 else f"each fold's threshold ({thr.min():.3g}..{thr.max():.3g})"
    ax.set_title(f"Confusion matrix, {what}", fontsize=9)
    return fig


def plot_reliability(y, scores, *, n_bins=10):
    """Reliability (calibration) curve: observed fake rate per bin of predicted probability.

    Parameters
    ----------
    y : array-like of shape (n_items,)
    scores : array-like of shape (n_items,)
        Probabilities of fake in [0, 1].
    n_bins : int, default=10
        Equal-width bins on [0, 1].

    Returns
    -------
    matplotlib.figure.Figure
        Top: the curve (a calibrated model follows the diagonal), with the expected calibration
        error; bottom: how many items fall in each bin.
    """
    from ..metrics import expected_calibration_error

    y = np.asarray(y)
    s = np.clip(np.asarray(scores, dtype=np.float64), 0, 1)
    edges = np.linspace(0, 1, n_bins + 1)
    b = np.clip(np.digitize(s, edges[1:-1]), 0, n_bins - 1)
    counts = np.bincount(b, minlength=n_bins)
    mean_pred = np.bincount(b, weights=s, minlength=n_bins) / np.maximum(counts, 1)
    frac = np.bincount(b, weights=y, minlength=n_bins) / np.maximum(counts, 1)
    fig = _figure(5, 5)
    ax, axh = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ok = counts > 0
    ax.plot([0, 1], [0, 1], ls="--", color="black", lw=0.8, label="perfectly calibrated")
    ece = expected_calibration_error(y, s, n_bins=n_bins)
    ax.plot(mean_pred[ok], frac[ok], marker="o", color=FAKE_COLOR, label=f"detector (ECE {ece:.3f})")
    ax.set(ylabel="observed fraction of fakes", ylim=(-0.02, 1.02), title="Reliability curve (out-of-fold)")
    ax.legend(fontsize=8, loc="upper left")
    axh.bar((edges[:-1] + edges[1:]) / 2, counts, width=1 / n_bins * 0.9, color="grey")
    axh.set(xlabel="predicted probability of fake", ylabel="items", xlim=(0, 1))
    return fig


def plot_metric_bars(values, *, labels=None, errors=None, title="", ylabel="ROC-AUC", chance=0.5, horizontal=False):
    """Bars of one metric per fold or per group (method), with an optional chance line.

    Parameters
    ----------
    values : array-like or pandas.Series
        One value per bar (a Series' index gives the labels).
    labels : list of str, optional
    errors : array-like, optional
        Error bar half-lengths.
    title, ylabel : str
    chance : float or None, default=0.5
        Drawn as a dashed line.
    horizontal : bool, default=False

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(values, pd.Series):
        labels = [str(i) for i in values.index] if labels is None else labels
        values = values.to_numpy(dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    labels = [str(i) for i in range(values.size)] if labels is None else [str(lab) for lab in labels]
    fig = _figure(max(4.0, 0.6 * values.size + 2) if not horizontal else 6.5,
                  3.6 if not horizontal else max(2.5, 0.35 * values.size + 1))
    ax = fig.subplots()
    pos = np.arange(values.size)
    if horizontal:
        ax.barh(pos, values, xerr=errors, color=FAKE_COLOR, alpha=0.85)
        ax.set_yticks(pos, [_short(lab) for lab in labels], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(ylabel)
        if chance is not None:
            ax.axvline(chance, ls="--", color="black", lw=0.8)
    else:
        ax.bar(pos, values, yerr=errors, color=FAKE_COLOR, alpha=0.85)
        ax.set_xticks(pos, [_short(lab, 20) for lab in labels], rotation=30 if values.size > 6 else 0,
                      fontsize=8, ha="right" if values.size > 6 else "center")
        ax.set_ylabel(ylabel)
        if chance is not None:
            ax.axhline(chance, ls="--", color="black", lw=0.8, label="chance")
        finite = values[np.isfinite(values)]
        if finite.size and chance is not None and 0 <= finite.min() and finite.max() <= 1:
            ax.set_ylim(0, 1.05)
        for p, v in zip(pos, values):
            if np.isfinite(v):
                ax.text(p, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_title(title, fontsize=10)
    return fig


def plot_importance(table, *, top_k=20, title="Permutation importance (held-out folds)",
                    xlabel="drop of ROC-AUC when shuffled"):
    """Horizontal bars of an importance table (``name``, ``importance_mean``, ``importance_std``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = table.head(top_k)
    fig = _figure(7.5, max(2.5, 0.28 * len(t) + 1.2))
    ax = fig.subplots()
    pos = np.arange(len(t))
    ax.barh(pos, t["importance_mean"], xerr=t["importance_std"], color=FAKE_COLOR, alpha=0.85,
            error_kw=dict(lw=0.8, ecolor="black"))
    labels = [_short(n, 44) + (f" ({k})" if k > 1 else "") for n, k in zip(t["name"], t["n_features"])]
    ax.set_yticks(pos, labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlabel=xlabel, title=title)
    return fig


# -- SHAP ----------------------------------------------------------------------------------------------

def plot_shap_bar(result, *, by="feature", top_k=20):
    """Mean |SHAP| per feature (or family) of a :class:`ShapResult`, largest first.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import Patch

    t = result.summary(by=by).head(top_k)
    fig = _figure(7.5, max(2.5, 0.28 * len(t) + 1.2))
    ax = fig.subplots()
    pos = np.arange(len(t))
    colors = [FAKE_COLOR if m >= 0 else REAL_COLOR for m in t["mean_shap"]]
    ax.barh(pos, t["mean_abs_shap"], color=colors, alpha=0.85)
    ax.set_yticks(pos, [_short(n, 44) for n in t["name"]], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=f"mean |SHAP| ({result.output})",
           title=f"SHAP importance per {by}")
    ax.legend(handles=[Patch(color=FAKE_COLOR, label="pushes towards fake on average"),
                       Patch(color=REAL_COLOR, label="pushes towards real on average")], fontsize=8, loc="lower right")
    return fig


def plot_shap_beeswarm(result, *, top_k=15, random_state=0):
    """Beeswarm-like summary: each dot one item's SHAP value, coloured by the feature's value.

    For each of the ``top_k`` features with the largest mean |SHAP| (top to bottom), the items'
    contributions are spread along x (right pushes towards fake) and jittered vertically; the
    colour is the feature value's rank among the explained items (blue low, red high), so a
    feature whose red dots sit on the right raises the fake score when it is large.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from scipy.stats import rankdata

    values = np.asarray(result.values)
    data = np.asarray(result.data) if result.data is not None else np.full_like(values, np.nan)
    order = np.argsort(-np.abs(values).mean(axis=0), kind="stable")[:top_k]
    rng = np.random.default_rng(random_state)
    fig = _figure(8, max(2.5, 0.38 * len(order) + 1.3))
    ax = fig.subplots()
    sc = None
    for row, j in enumerate(order):
        v = values[:, j]
        x = data[:, j]
        ok = np.isfinite(x)
        c = np.full(v.size, 0.5)
        if ok.sum() > 1 and np.ptp(x[ok]) > 0:
            c[ok] = (rankdata(x[ok]) - 1) / (ok.sum() - 1)
        jitter = rng.uniform(-0.3, 0.3, v.size)
        sc = ax.scatter(v, np.full(v.size, row) + jitter, c=c, cmap="coolwarm", vmin=0, vmax=1, s=8,
                        alpha=0.8, linewidths=0)
    ax.set_yticks(range(len(order)), [_short(result.names[j], 44) for j in order], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlabel=f"SHAP value ({result.output}; right = towards fake)", title="SHAP summary per item")
    if sc is not None:
        cb = fig.colorbar(sc, ax=ax, shrink=0.6, ticks=[0, 1])
        cb.ax.set_yticklabels(["low", "high"])
        cb.set_label("feature value")
    return fig


# -- spectra -----------------------------------------------------------------------------------------

def average_spectra(X, y, *, max_items=100, max_size=512, n_bins=64, random_state=0):
    """Average centred FFT log-power spectra of real and fake items, and azimuthal profiles.

    Each item's luma is centre-cropped to a common square of side ``s`` (the smallest side among
    the sampled items, capped at ``max_size``), mean-subtracted, multiplied by a 2-D Hann window,
    and transformed; ``log10(|FFT|^2 + 1e-8)`` is averaged per class. The crop exists only so
    that spectra of different sizes can be averaged pixel by pixel for this picture; the
    spectral *features* never crop or pad.

    Parameters
    ----------
    X : sequence of images
    y : array-like of shape (n_items,)
    max_items : int, default=100
        Items per class drawn at random (without replacement).
    max_size : int, default=512
    n_bins : int, default=64
        Radial bins of the azimuthal profile (radius normalised to the Nyquist frequency), at
        most ``s // 2``; a bin that no frequency falls in is NaN.
    random_state : int, default=0

    Returns
    -------
    dict
        ``real``, ``fake``: (s, s) mean log-power; ``size``: s; ``radius``: (n_bins,) bin
        centres; ``profile_real``, ``profile_fake``: (n_items, n_bins) azimuthal averages.
    """
    from ..media import load_item

    y = np.asarray(y)
    rng = np.random.default_rng(random_state)
    chosen = {}
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        chosen[label] = np.sort(rng.choice(idx, size=min(max_items, idx.size), replace=False))
    lumas = {label: [load_item(X[i], int(i)).luma for i in idx] for label, idx in chosen.items()}
    sides = [min(a.shape) for v in lumas.values() for a in v]
    if not sides:
        raise ValueError("no item to compute spectra from")
    s = int(min(min(sides), max_size))
    win = np.outer(np.hanning(s), np.hanning(s))
    fy = np.fft.fftshift(np.fft.fftfreq(s))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(s))[None, :]
    radius = np.sqrt(fx ** 2 + fy ** 2) / 0.5
    n_bins = int(max(2, min(n_bins, s // 2)))  # no more rings than there are pixels along a radius
    rbin = np.minimum((radius * n_bins).astype(int), n_bins)  # bin n_bins: the corners beyond Nyquist
    counts = np.bincount(rbin.ravel(), minlength=n_bins + 1)[:n_bins]
    empty = counts == 0
    out = {"size": s, "radius": (np.arange(n_bins) + 0.5) / n_bins}
    for label, key in ((0, "real"), (1, "fake")):
        acc = np.zeros((s, s))
        profiles = []
        for a in lumas[label]:
            h, w = a.shape
            top, left = (h - s) // 2, (w - s) // 2
            c = a[top: top + s, left: left + s].astype(np.float64)
            c = (c - c.mean()) * win
            p = np.log10(np.abs(np.fft.fftshift(np.fft.fft2(c))) ** 2 + 1e-8)
            acc += p
            prof = np.bincount(rbin.ravel(), weights=p.ravel(), minlength=n_bins + 1)[:n_bins] / np.maximum(counts, 1)
            prof[empty] = np.nan
            profiles.append(prof)
        out[key] = acc / max(len(lumas[label]), 1)
        out[f"profile_{key}"] = np.array(profiles).reshape(-1, n_bins)
    return out


def plot_spectra(X=None, y=None, *, spectra=None, max_items=100, random_state=0):
    """Average FFT log-power spectrum of real and fake items, their difference, and azimuthal profiles.

    Parameters
    ----------
    X : sequence of images
    y : array-like of shape (n_items,)
    spectra : dict, optional
        The output of :func:`average_spectra` (then ``X`` and ``y`` are not needed).
    max_items, random_state
        See :func:`average_spectra`.

    Returns
    -------
    matplotlib.figure.Figure
        Top: mean log-power of reals, of fakes (zero frequency at the centre, the same colour
        scale) and fake minus real (red: more energy in fakes). Bottom: the azimuthal average
        (mean and +-1 std over items) against the normalised radial frequency.
    """
    sp = spectra if spectra is not None else average_spectra(X, y, max_items=max_items, random_state=random_state)
    fig = _figure(12, 7.5)
    gs = fig.add_gridspec(2, 3, height_ratios=[1.2, 1])
    axes = [fig.add_subplot(gs[0, k]) for k in range(3)]
    lo = min(np.percentile(sp["real"], 1), np.percentile(sp["fake"], 1))
    hi = max(sp["real"].max(), sp["fake"].max())
    for ax, key in zip(axes[:2], ("real", "fake")):
        im = ax.imshow(sp[key], cmap="viridis", vmin=lo, vmax=hi)
        n = len(sp[f"profile_{key}"])
        ax.set_title(f"{key}: mean log10 power (n={n})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[:2], shrink=0.8, label="log10 power")
    diff = sp["fake"] - sp["real"]
    lim = float(np.percentile(np.abs(diff), 99.5)) or 1.0
    im = axes[2].imshow(diff, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title("fake - real (red: more energy in fakes)", fontsize=9)
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    fig.colorbar(im, ax=axes[2], shrink=0.8, label="log10 power difference")
    ax = fig.add_subplot(gs[1, :])
    for key, color in (("real", REAL_COLOR), ("fake", FAKE_COLOR)):
        prof = sp[f"profile_{key}"]
        if len(prof):
            m, sd = prof.mean(axis=0), prof.std(axis=0)
            ax.plot(sp["radius"], m, color=color, label=key)
            ax.fill_between(sp["radius"], m - sd, m + sd, color=color, alpha=0.2)
    ax.set(xlabel="radial frequency (1 = Nyquist)", ylabel="mean log10 power",
           title="Azimuthal average of the spectrum (band: +-1 std over items)")
    ax.legend(fontsize=8)
    fig.suptitle(f"Fourier spectra of the luma, centre crop {sp['size']}x{sp['size']}, Hann window", fontsize=10)
    return fig
