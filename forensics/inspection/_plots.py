"""Figures for inspecting a detector and its data: each function returns a matplotlib Figure.

matplotlib is imported inside each function, and figures are built as plain
``matplotlib.figure.Figure`` objects (not through pyplot), which render with the non-interactive
Agg canvas: importing :mod:`forensics` needs no matplotlib, plotting needs no display, and the
user's pyplot backend is left alone. Save with ``fig.savefig(path)``; Jupyter displays them.
Colours: real items blue, fake items orange, everywhere.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._importance import feature_family

__all__ = [
    "plot_feature_distributions", "plot_correlation_matrix", "plot_roc_pr", "plot_confusion_matrix",
    "plot_reliability", "plot_metric_bars", "plot_importance", "plot_shap_bar", "plot_shap_beeswarm",
    "plot_spectra", "average_spectra", "plot_low_fpr", "plot_error_gallery", "error_examples",
]

REAL_COLOR = "#1f77b4"
FAKE_COLOR = "#ff7f0e"


def _figure(width, height):
    """A Figure not registered with pyplot: drawn by the Agg canvas, no GUI, nothing to close."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _short(name, width=38):
    name = str(name)
    return _drawable(name if len(name) <= width else name[: width - 1] + "…")


MISSING_GLYPH = "\N{WHITE SQUARE}"


def _drawable(text):
    """``text`` with each character that no font of matplotlib's text family can draw replaced by
    :data:`MISSING_GLYPH`.

    Matplotlib draws such a character as an empty box anyway, and warns once per character and
    figure ("Glyph ... missing from font(s) DejaVu Sans"): a file name in a script the installed
    fonts lack (CJK, say) would fill a report's output with those warnings. The fonts are tried
    in the order of the configured family list, as matplotlib's own fallback does, so with a CJK
    font installed and listed (``rcParams["font.sans-serif"]``) such names are drawn as they are.
    """
    wide = {c for c in text if ord(c) > 127}
    if not wide:
        return text
    from matplotlib import font_manager
    from matplotlib.font_manager import FontProperties

    try:
        paths = font_manager.fontManager._find_fonts_by_props(FontProperties())  # the fallback list (matplotlib >= 3.6)
    except AttributeError:
        paths = [font_manager.findfont(FontProperties())]
    fonts = [font_manager.get_font(path) for path in paths]
    missing = {c for c in wide if not any(font.get_char_index(ord(c)) for font in fonts)}
    return "".join(MISSING_GLYPH if c in missing else c for c in text) if missing else text


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
        if not ok.any():
            ax.text(0.5, 0.5, "no finite value", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        ax.set_title(f"{_short(name, 34)}\nAUC {aucs[col[name]]:.2f}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[len(features):]:
        ax.axis("off")
    labelled = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if labelled:  # the first panel with values (a feature without a finite value has none to name)
        labelled[0].legend(fontsize=7, loc="best")
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
    """ROC and precision-recall curves of out-of-fold scores (scikit-learn ``Display`` objects).

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
        Drawn by :class:`sklearn.metrics.RocCurveDisplay` and
        :class:`sklearn.metrics.PrecisionRecallDisplay` (``from_predictions``) onto the figure's
        two axes.
    """
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    with warnings.catch_warnings():  # the thin fold curves have no legend entry, on purpose
        return _roc_pr(RocCurveDisplay, PrecisionRecallDisplay, np.asarray(y), np.asarray(scores, dtype=np.float64),
                       test_fold)


def _roc_pr(RocCurveDisplay, PrecisionRecallDisplay, y, s, test_fold):
    fig = _figure(10, 4.4)
    ax_roc, ax_pr = fig.subplots(1, 2)
    if test_fold is not None:
        test_fold = np.asarray(test_fold)
        for f in np.unique(test_fold):
            m = test_fold == f
            if len(np.unique(y[m])) == 2:
                warnings.filterwarnings("ignore", message="No artists with labels", category=UserWarning)
                thin = dict(color="grey", lw=0.8, alpha=0.6)
                RocCurveDisplay.from_predictions(y[m], s[m], ax=ax_roc, name="_fold", curve_kwargs=thin,
                                                 drop_intermediate=False)
                PrecisionRecallDisplay.from_predictions(y[m], s[m], ax=ax_pr, name="_fold", curve_kwargs=thin)
    thick = dict(color=FAKE_COLOR, lw=2)
    chance = dict(ls="--", color="black", lw=0.8)
    roc = RocCurveDisplay.from_predictions(y, s, ax=ax_roc, name="pooled out-of-fold", curve_kwargs=thick,
                                           plot_chance_level=True, chance_level_kw=chance, drop_intermediate=False)
    pr = PrecisionRecallDisplay.from_predictions(y, s, ax=ax_pr, name="pooled out-of-fold", curve_kwargs=thick,
                                                 plot_chance_level=True, chance_level_kw=chance)
    ax_roc.set(xlabel="false positive rate (reals called fake)", ylabel="true positive rate (fakes caught)",
               title="ROC curve", xlim=(0, 1), ylim=(0, 1.01))
    ax_pr.set(xlabel="recall (fakes caught)", ylabel="precision (flagged that are fake)",
              title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.01))
    for ax, disp in ((ax_roc, roc), (ax_pr, pr)):
        handles, labels = ax.get_legend_handles_labels()
        keep = [(h, lab) for h, lab in zip(handles, labels) if not lab.startswith("_fold")]
        if test_fold is not None:
            from matplotlib.lines import Line2D

            keep.append((Line2D([], [], color="grey", lw=0.8), "single folds"))
        ax.legend([h for h, _ in keep], [lab for _, lab in keep], fontsize=8,
                  loc="lower right" if ax is ax_roc else "lower left")
    return fig


def plot_low_fpr(y, scores, *, fprs=(0.01, 0.001)):
    """The low false-positive end of the ROC curve (log scale) and the DET curve.

    Parameters
    ----------
    y : array-like of shape (n_items,)
    scores : array-like of shape (n_items,)
    fprs : tuple of float, default=(0.01, 0.001)
        False positive rates marked on the log-scale ROC, with the TPR reached there
        (:func:`forensics.metrics.tpr_at_fpr`).

    Returns
    -------
    matplotlib.figure.Figure
        Left: :class:`sklearn.metrics.RocCurveDisplay` with a logarithmic FPR axis down to half
        of ``1 / n_real`` (no smaller FPR is measurable with ``n_real`` reals). Right:
        :class:`sklearn.metrics.DetCurveDisplay` (false negative vs false positive rate on
        normal-deviate scales, where a Gaussian score model is a straight line).
    """
    from sklearn.metrics import DetCurveDisplay, RocCurveDisplay

    from ..metrics import tpr_at_fpr

    y = np.asarray(y)
    s = np.asarray(scores, dtype=np.float64)
    n_real = int((y == 0).sum())
    fig = _figure(10, 4.4)
    ax_roc, ax_det = fig.subplots(1, 2)
    RocCurveDisplay.from_predictions(y, s, ax=ax_roc, name="pooled out-of-fold",
                                     curve_kwargs=dict(color=FAKE_COLOR, lw=2), drop_intermediate=False)
    floor = 0.5 / max(n_real, 1)
    ax_roc.set_xscale("log")
    ax_roc.set_aspect("auto")
    ax_roc.set(xlim=(floor, 1), ylim=(0, 1.01), xlabel="false positive rate (log scale)",
               ylabel="true positive rate", title=f"ROC at low FPR ({n_real} reals: smallest FPR {1 / max(n_real, 1):.2g})")
    unmeasured = []
    for f in fprs:
        t = tpr_at_fpr(y, s, f)
        if f < 1 / max(n_real, 1):
            unmeasured.append(f"{f:g}")
            continue
        ax_roc.axvline(f, ls=":", color="black", lw=0.8)
        ax_roc.text(f, 0.02, f" FPR {f:g}: TPR {t:.2f}", rotation=90, fontsize=7, va="bottom")
    if unmeasured:
        ax_roc.text(0.02, 0.97, f"FPR {', '.join(unmeasured)}: below 1/{n_real}, not measurable here",
                    transform=ax_roc.transAxes, fontsize=7, va="top")
    DetCurveDisplay.from_predictions(y, s, ax=ax_det, name="pooled out-of-fold", color=FAKE_COLOR, lw=2)
    ax_det.set_title("DET curve (normal-deviate scales)")
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
        :class:`sklearn.metrics.ConfusionMatrixDisplay`, coloured by row share; each cell reads
        ``count`` then ``row %``.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    y = np.asarray(y).astype(int)
    pred = (np.asarray(scores, dtype=np.float64) >= np.asarray(threshold, dtype=np.float64)).astype(int)
    fig = _figure(4.6, 4.0)
    ax = fig.subplots()
    disp = ConfusionMatrixDisplay.from_predictions(y, pred, labels=[0, 1], display_labels=["real", "fake"], ax=ax,
                                                   normalize="true", cmap="Blues", colorbar=False,
                                                   im_kw=dict(vmin=0, vmax=1))
    counts = disp.confusion_matrix  # row shares; the counts are recomputed for the labels
    raw = np.array([[np.sum((y == t) & (pred == p)) for p in (0, 1)] for t in (0, 1)])
    for t in (0, 1):
        for p in (0, 1):
            disp.text_[t, p].set_text(f"{raw[t, p]}\n{100 * counts[t, p]:.0f}%")
            disp.text_[t, p].set_fontsize(12)
    ax.set(xlabel="predicted", ylabel="true")
    thr = np.unique(np.asarray(threshold, dtype=np.float64))
    what = f"threshold {thr[0]:.3g}" if thr.size == 1 else f"each fold's threshold ({thr.min():.3g}..{thr.max():.3g})"
    ax.set_title(f"Confusion matrix, {what}", fontsize=9)
    return fig


def plot_reliability(y, scores, *, n_bins=10, min_count=10):
    """Reliability (calibration) curve with the count of every bin; sparse bins are marked, not drawn.

    Parameters
    ----------
    y : array-like of shape (n_items,)
    scores : array-like of shape (n_items,)
        Probabilities of fake in [0, 1].
    n_bins : int, default=10
        Equal-width bins on [0, 1].
    min_count : int, default=10
        Bins with fewer items are left out of the curve (their observed fraction is noise) and
        shown as hollow grey markers.

    Returns
    -------
    matplotlib.figure.Figure
        Top: :class:`sklearn.metrics.CalibrationDisplay` of the items in bins of at least
        ``min_count`` items, each point labelled with its count, and the expected calibration
        error of all items; bottom: how many items fall in each bin, the ``min_count`` line
        dashed.
    """
    from sklearn.calibration import CalibrationDisplay

    from ..metrics import expected_calibration_error

    y = np.asarray(y)
    s = np.clip(np.asarray(scores, dtype=np.float64), 0, 1)
    edges = np.linspace(0, 1, n_bins + 1)
    b = np.clip(np.searchsorted(edges[1:-1], s, side="right"), 0, n_bins - 1)  # calibration_curve's bins
    counts = np.bincount(b, minlength=n_bins)
    enough = counts >= min_count
    keep = enough[b]
    fig = _figure(5, 5.4)
    ax, axh = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ece = expected_calibration_error(y, s, n_bins=n_bins)
    if keep.any() and len(np.unique(y[keep])) >= 1:
        CalibrationDisplay.from_predictions(y[keep], s[keep], n_bins=n_bins, strategy="uniform", ax=ax,
                                            name=f"detector (ECE {ece:.3f}, {n_bins} bins)", color=FAKE_COLOR,
                                            ref_line=True)
    mean_pred = np.bincount(b, weights=s, minlength=n_bins) / np.maximum(counts, 1)
    frac = np.bincount(b, weights=y, minlength=n_bins) / np.maximum(counts, 1)
    for j in np.flatnonzero(counts > 0):
        if enough[j]:
            ax.annotate(f"n={counts[j]}", (mean_pred[j], frac[j]), textcoords="offset points", xytext=(4, -10),
                        fontsize=7)
        else:
            ax.plot(mean_pred[j], frac[j], "o", mfc="none", color="grey")
            ax.annotate(f"n={counts[j]}", (mean_pred[j], frac[j]), textcoords="offset points", xytext=(4, 4),
                        fontsize=7, color="grey")
    if (~enough & (counts > 0)).any():
        ax.plot([], [], "o", mfc="none", color="grey", label=f"bins with < {min_count} items (not drawn)")
    ax.set(ylabel="observed fraction of fakes", ylim=(-0.02, 1.02), xlim=(0, 1),
           title="Reliability curve (out-of-fold)")
    ax.legend(fontsize=8, loc="upper left")
    axh.bar((edges[:-1] + edges[1:]) / 2, counts, width=1 / n_bins * 0.9,
            color=[("grey" if e else "lightgrey") for e in enough])
    axh.axhline(min_count, ls="--", color="black", lw=0.8)
    axh.set(xlabel="predicted probability of fake", ylabel="items", xlim=(0, 1))
    return fig


def error_examples(y, scores, *, names=None, k=6):
    """The most confident mistakes: reals scored most fake, fakes scored most real.

    Parameters
    ----------
    y : array-like of shape (n_items,)
    scores : array-like of shape (n_items,)
        Out-of-fold fake scores.
    names : sequence of str, optional
        What to call each item (its file name).
    k : int, default=6
        Examples of each kind.

    Returns
    -------
    pandas.DataFrame
        ``kind`` ("false positive": a real with one of the ``k`` highest scores among reals;
        "false negative": a fake with one of the ``k`` lowest scores among fakes; each ordered
        most confident first), ``index`` (position in ``y``), ``name``, ``label``, ``score``.
        These are the most confident errors whatever the threshold: the ones to look at first.
    """
    y = np.asarray(y)
    s = np.asarray(scores, dtype=np.float64)
    rows = []
    for kind, label, order in (("false positive", 0, -1), ("false negative", 1, 1)):
        idx = np.flatnonzero(y == label)
        pick = idx[np.argsort(order * s[idx], kind="stable")[:k]]
        rows += [(kind, int(i), None if names is None else str(names[i]), label, float(s[i])) for i in pick]
    return pd.DataFrame(rows, columns=["kind", "index", "name", "label", "score"])


def _thumbnail(obj, side):
    import cv2

    from ..datasets import VIDEO_SUFFIXES
    from ..media import load_item, read_frames

    if isinstance(obj, (str, bytes)) is False and hasattr(obj, "__fspath__"):
        obj = str(obj)
    if isinstance(obj, str) and obj.lower().endswith(VIDEO_SUFFIXES):
        video = read_frames(obj, n=1)
        rgb = video.frames[0]
    else:
        rgb = np.clip(np.rint(load_item(obj, 0).rgb), 0, 255).astype(np.uint8)
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    return cv2.resize(np.ascontiguousarray(rgb), (max(1, int(round(w * scale))), max(1, int(round(h * scale)))),
                      interpolation=cv2.INTER_AREA)


def plot_error_gallery(items, y, scores, *, names=None, k=6, side=128):
    """Thumbnails of the most confident false positives and false negatives (:func:`error_examples`).

    Parameters
    ----------
    items : sequence of images or video paths
        What each score is of (a video shows its middle frame).
    y, scores, names, k
        See :func:`error_examples`.
    side : int, default=128
        Thumbnail size in pixels (longest side).

    Returns
    -------
    matplotlib.figure.Figure
        Two rows (false positives, false negatives), each thumbnail titled with its name and
        score; an item that cannot be read shows its error instead.
    """
    table = error_examples(y, scores, names=names, k=k)
    n_cols = max(1, int(table.groupby("kind").size().max()) if len(table) else 1)
    fig = _figure(1.9 * n_cols, 4.6)
    axes = np.atleast_2d(fig.subplots(2, n_cols, squeeze=False))
    for row, kind in enumerate(("false positive", "false negative")):
        part = table[table["kind"] == kind].reset_index(drop=True)
        for col in range(n_cols):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(part):
                ax.axis("off")
                continue
            r = part.iloc[col]
            try:
                ax.imshow(_thumbnail(items[int(r["index"])], side))
            except Exception as exc:  # noqa: BLE001 - a gallery entry, not the report, fails
                ax.text(0.5, 0.5, f"unreadable:\n{type(exc).__name__}", ha="center", va="center", fontsize=7)
            name = r["name"] if r["name"] is not None else f"item {r['index']}"
            ax.set_title(f"{_short(name, 18)}\nscore {r['score']:.3f}", fontsize=7,
                         color=REAL_COLOR if kind == "false positive" else FAKE_COLOR)
        axes[row, 0].set_ylabel(f"{kind}s\n({'reals' if row == 0 else 'fakes'})", fontsize=8)
    fig.suptitle("Most confident errors (out-of-fold): reals scored most fake, fakes scored most real", fontsize=9)
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
