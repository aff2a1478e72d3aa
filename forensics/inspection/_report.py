"""One self-contained HTML report (and a Markdown summary) of a detector on a data set."""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from ._audit import audit
from ._importance import _blocks, _permutation_cv, _splits, split_pipeline
from ._shap import shap_values

__all__ = ["ReportResult", "build_report"]

_CV_METRICS = [("roc_auc", "ROC-AUC", "higher is better"), ("average_precision", "average precision", "higher"),
               ("eer", "equal error rate", "lower"), ("balanced_accuracy", "balanced accuracy", "higher"),
               ("accuracy", "accuracy", "higher"), ("f1", "F1 (fake)", "higher"), ("log_loss", "log loss", "lower"),
               ("brier", "Brier score", "lower"), ("ece", "expected calibration error", "lower"),
               ("threshold", "threshold (chosen on validation)", "")]

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1150px;
padding:1.5em 2em;color:#222;line-height:1.45;background:#fff}
h1{border-bottom:3px solid #ff7f0e;padding-bottom:.2em}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.86em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f2f2f2}
td.l,th.l{text-align:left}tr.flag td{color:#b00020;font-weight:bold;background:#fdecee}
.warn{color:#b00020;font-weight:bold;border-left:5px solid #b00020;padding:.4em .8em;background:#fdecee}
.ok{color:#1b5e20;border-left:5px solid #2e7d32;padding:.4em .8em;background:#edf7ee}
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#444;max-width:60em}.small{font-size:.85em;color:#555}
code{background:#f4f4f4;padding:0 .25em}
"""


@dataclass(repr=False)
class ReportResult:
    """What :func:`build_report` returns: the files written and the tables behind them.

    Attributes
    ----------
    html_path, markdown_path : pathlib.Path
        ``report.html`` (self-contained: images inline, no external resource) and ``report.md``.
    figures : dict
        Figure name -> path of its PNG file, beside ``report.md``.
    tables : dict
        Table name -> path of its CSV file, beside ``report.md``.
    audit : AuditReport
        The shortcut audit of the items as given.
    audit_equalized : AuditReport or None
        The audit of the equalized items (``equalize=True``).
    cv : CVResult
        Cross-validation of the detector on the extracted features.
    cv_summary : pandas.DataFrame
        Mean and std over folds per metric.
    importance_features, importance_families : pandas.DataFrame or None
        Permutation importance on held-out folds (:func:`permutation_importance_cv`); None for
        a deep detector (it has no feature columns).
    shap : ShapResult or None
        SHAP values of the detector fitted on all items; None for a deep detector.
    shap_features, shap_families : pandas.DataFrame or None
        Mean |SHAP| per feature and per family (:func:`shap_summary`); None for a deep detector.
    feature_names : list of str
        Empty for a deep detector.
    timings : dict
        Seconds spent per step (``total`` included).
    operating_points : pandas.DataFrame
        Per level (``item`` or ``frame``, and ``video``): ``roc_auc`` of the pooled out-of-fold
        scores with its bootstrap interval ``ci_low``-``ci_high`` (resampling groups when known),
        ``tpr_at_fpr_1%`` and ``tpr_at_fpr_0.1%``, ``n``, ``n_real``.
    comparison : pandas.DataFrame or None
        With ``equalize="both"``: mean ± std over folds as given and equalized, per metric.
    cam_gallery : dict or None
        Deep detectors: the items of the Grad-CAM gallery (``figures["cam_gallery"]``) per
        group of :func:`gallery_indices` (``confident_fakes``, ``confident_reals``,
        ``false_positives``, ``false_negatives``), as positions in ``X``. None for handcrafted
        detectors, or when the gallery could not be drawn.
    """

    html_path: Path
    markdown_path: Path
    figures: dict
    tables: dict
    audit: object
    audit_equalized: object
    cv: object
    cv_summary: pd.DataFrame
    importance_features: pd.DataFrame
    importance_families: pd.DataFrame
    shap: object
    shap_features: pd.DataFrame
    shap_families: pd.DataFrame
    feature_names: list
    timings: dict = field(default_factory=dict)
    operating_points: pd.DataFrame = None
    comparison: pd.DataFrame = None
    cam_gallery: dict = None

    def __repr__(self):
        return (f"ReportResult(html_path={str(self.html_path)!r}, roc_auc="
                f"{self.cv_summary.loc['roc_auc', 'mean']:.3f}, n_features={len(self.feature_names)}, "
                f"seconds={self.timings.get('total', float('nan')):.1f})")


# -- small formatting helpers ------------------------------------------------------------------------

# The per-method tables (CVResult.per_group: "group" there means the manipulation method, not the
# folds' groups of source photos or identities).
_PER_METHOD_NOTE = ("Row <code>all</code>: every item; then one row per manipulation method (its fakes against all "
                    "reals) when methods were given.")
_INT_COLUMNS = {"n", "n_fake", "n_values", "n_features", "n_fit", "n_validation"}


def _fmt(v, digits=3, column=None):
    if column in _INT_COLUMNS and isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "–"
        return f"{v:.{digits}f}" if abs(v) < 1e5 else f"{v:.3g}"
    return str(v)


def _html_table(df, *, flag=None, left=(), index=True, digits=3):
    cols = list(df.columns)
    head = ([f'<th class="l">{html.escape(str(df.index.name or ""))}</th>'] if index else [])
    head += [f'<th class="{"l" if c in left else ""}">{html.escape(str(c))}</th>' for c in cols]
    rows = ["<table><thead><tr>" + "".join(head) + "</tr></thead><tbody>"]
    for i, (idx, r) in enumerate(df.iterrows()):
        cls = ' class="flag"' if flag is not None and bool(flag[i]) else ""
        cells = [f'<td class="l">{html.escape(str(idx))}</td>'] if index else []
        cells += [f'<td class="{"l" if c in left else ""}">{html.escape(_fmt(r[c], digits, c))}</td>' for c in cols]
        rows.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _md_table(df, *, index=True, digits=3):
    cols = ([str(df.index.name or "")] if index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, r in df.iterrows():
        cells = ([str(idx)] if index else []) + [_fmt(r[c], digits, c) for c in df.columns]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, facecolor="white")
    return buf.getvalue()


class _Log:
    def __init__(self, progress):
        self.progress = progress
        self.timings = {}
        self._t0 = time.perf_counter()

    def step(self, name):
        self._name, self._start = name, time.perf_counter()
        if self.progress:
            print(f"[report] {name}...", file=sys.stderr, flush=True)

    def done(self):
        self.timings[self._name] = time.perf_counter() - self._start

    def total(self):
        self.timings["total"] = time.perf_counter() - self._t0


# -- the entry point -----------------------------------------------------------------------------------

def _resolve(detector, random_state, progress):
    from .. import make_pipeline

    if isinstance(detector, str):
        return make_pipeline(detector, random_state=random_state, progress=progress), detector
    if isinstance(detector, Pipeline):
        return clone(detector), "custom pipeline"
    raise TypeError(f"detector must be a catalogue name or a Pipeline, got {type(detector).__name__}")


def _describe(pipe):
    parts = []
    for name, step in pipe.steps:
        if name == "features" and hasattr(step, "extractors"):
            fams = ", ".join(n for n, _ in step.extractors)
            parts.append(f"features ({type(step).__name__}: {fams})")
        else:
            parts.append(f"{name} ({type(step).__name__})")
    return " → ".join(parts)


def build_report(X, y=None, *, detector="forensic-xgb", groups=None, methods=None, cv=5, equalize=False, out_dir,
                 title=None, max_items_for_shap=200, n_repeats=5, random_state=0, progress=False, aggregate="mean",
                 k=3, provenance=None, n_boot=1000, min_bin_count=10, gallery=6, audit_report=None, name=None,
                 left_out=None):
    """Audit, cross-validate and explain a detector on a data set; write one HTML report.

    Runs, in order: the shortcut audit (:func:`audit`; also on the equalized items when
    ``equalize``), feature extraction once over all items (the pipeline's ``features`` step,
    which learns nothing from the labels) or the reading of a feature table, cross-validation of
    the remaining steps (:func:`~forensics.model_selection.cross_validate_detector`: grouped
    folds when ``groups`` is given, thresholds chosen on validation; video level for the frames
    of videos), operating points (ROC-AUC with a bootstrap confidence interval over groups, TPR
    at FPR 1% and 0.1%), permutation importance per feature and per family on the same held-out
    folds (:func:`permutation_importance_cv`), a final fit on all items explained with SHAP
    (:func:`shap_values`), and the figures of :mod:`forensics.inspection` (ROC/PR, low-FPR ROC
    and DET, confusion matrix, reliability with bin counts, per-fold and per-method bars, the
    most confident errors, distributions, correlations, SHAP summaries, Fourier spectra).

    A deep detector (a pipeline ending in a :class:`~forensics.deep.BackboneClassifier`, e.g.
    ``"cnn-scratch"``) reads the pixels, so it has no feature columns to permute or explain with
    SHAP: the network is cross-validated on the items themselves (trained once per fold), and
    the importance and SHAP sections give way to a gallery of Grad-CAM overlays
    (:func:`cam_gallery_figure`): the fakes scored most fake, the reals scored most real, and
    the errors, each item mapped by the fold model that scored it.

    Parameters
    ----------
    X : sequence of images, or FeatureTable
        Paths or encoded bytes (the audit reads the file headers); or a feature table
        (:func:`forensics.read_table`): its rows are used as they are (status ``"error"`` rows
        left out, and named with their reasons in the data set section), ``y``, ``groups`` and
        ``methods`` default to its own, its files (when
        reachable) give the audit, the gallery and the spectra, and a frame-level table adds the
        video level.
    y : array-like of shape (n_items,)
        Labels, fake = 1, real = 0 (optional with a labelled table).
    detector : str or Pipeline, default="forensic-xgb"
        A catalogue name (:func:`forensics.list_estimators`), a pipeline with a ``features``
        step (e.g. from :func:`forensics.make_pipeline`), or a pipeline ending in a
        :class:`~forensics.deep.BackboneClassifier` (deep image detectors; images, not tables).
    groups : array-like of shape (n_items,), optional
        Source photo / identity / video of each item: folds never split a group, and the
        confidence interval resamples whole groups.
    methods : array-like of str, optional
        Manipulation method of each item ("real" for reals): adds per-method rows and bars.
    cv : int or splitter, default=5
    equalize : bool, dict or "both", default=False
        Run every item through :class:`~forensics.media.CodecEqualizer` (a dict: its
        parameters) before extracting features, removing the codec and size shortcuts.
        ``"both"``: cross-validate as given and equalized, show the two side by side, and report
        the equalized run in detail. Images only (a table was equalized, or not, at extraction).
    out_dir : str or path
        Folder written (created if needed): ``report.html``, ``report.md``, ``figure_*.png``
        and ``table_*.csv``.
    title : str, optional
    max_items_for_shap : int, default=200
        Items explained with SHAP (a random sample of all items).
    n_repeats : int, default=5
        Shuffles per feature and fold for the permutation importance.
    random_state : int, default=0
    progress : bool, default=False
        Print each step to stderr and show the feature extraction's progress bar.
    aggregate, k
        Frame-level tables: how frame scores make a video score
        (:func:`~forensics.metrics.aggregate_scores`).
    provenance : dict, optional
        Shown in the provenance section with the library versions: e.g. ``command``,
        ``config`` (a mapping), ``seed``.
    n_boot : int, default=1000
        Bootstrap samples of the ROC-AUC interval (:func:`~forensics.metrics.roc_auc_ci`).
    min_bin_count : int, default=10
        Reliability bins with fewer items are not drawn (:func:`plot_reliability`).
    gallery : int, default=6
        Most confident false positives, and false negatives, shown (0: no gallery); deep
        detectors: also the items per row of the Grad-CAM gallery.
    audit_report : AuditReport, optional
        An audit already run on these items (it is not run again).
    name : str, optional
        What to call the detector (default: its catalogue name, or "custom pipeline").
    left_out : sequence of (str, str), optional
        ``(path, reason)`` of the items left out before the call because they could not be read
        (``forensics report`` leaves out the images that do not decode this way): named in the
        data set section with a table's rows of status ``"error"``.

    Returns
    -------
    ReportResult

    Notes
    -----
    The SHAP values explain the model fitted on all items, evaluated on (a sample of) the same
    items: they describe what that model uses, not how well it generalises; the permutation
    importances and every metric come from held-out folds.
    """
    from .._tables import FeatureTable, _versions
    from ..model_selection import cross_validate_detector

    log = _Log(progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pipe, detector_name = _resolve(detector, random_state, progress)
    detector_name = name or detector_name
    deep = "features" not in pipe.named_steps
    if deep and type(pipe.steps[-1][1]).__name__ != "BackboneClassifier":
        raise ValueError("the detector must be a Pipeline with a 'features' step (see forensics.make_pipeline), or "
                         "end in a forensics.deep.BackboneClassifier")
    if equalize not in (False, True, "both") and not isinstance(equalize, dict):
        raise ValueError(f"equalize must be False, True, 'both' or a dict of CodecEqualizer parameters, got {equalize!r}")
    table = X if isinstance(X, FeatureTable) else None
    videos = files = None
    eq_step = None
    if "equalize" in pipe.named_steps:  # the pipeline's own equalizer: run it once, up front
        eq_step = pipe.named_steps["equalize"]
        pipe = Pipeline([(n, s) for n, s in pipe.steps if n != "equalize"])
        equalize = equalize if equalize == "both" else True
    elif equalize:
        from ..media import CodecEqualizer

        eq_step = CodecEqualizer(**(equalize if isinstance(equalize, dict) else {}))
    prefix, rest = split_pipeline(pipe)
    audit_cv = cv if isinstance(cv, int) else 5
    items = X
    left_out = [(str(p), str(r)) for p, r in (left_out or [])]  # and the table rows of status "error"
    if table is not None:
        if deep:
            raise ValueError(f"{detector_name} is a deep detector: it reads the images themselves, not a feature "
                             "table; pass the items (paths or bytes)")
        if equalize:
            raise ValueError("a feature table holds features as they were extracted; equalization is chosen at "
                             "extraction (forensics extract --equalize)")
        failed = table.data[~np.asarray(table.ok, dtype=bool)]
        if "item_index" in failed.columns:
            failed = failed.drop_duplicates("item_index")
        paths = failed["path"].astype(str) if "path" in failed.columns else [f"row {i}" for i in failed.index]
        reasons = failed["error"].fillna("").astype(str) if "error" in failed.columns else [""] * len(failed)
        left_out += list(zip(paths, reasons))  # named in the data set section
        table = table.subset(table.ok)
        y = table.y if y is None else y
        groups = table.groups if groups is None else groups
        methods = table.methods if methods is None else methods
        videos = table.videos
        files = _table_files(table)
        items = files if table.level == "image" else None
        equalize = bool(table.meta.get("equalize"))
    y = np.asarray(y)
    groups = None if groups is None else np.asarray(groups)
    methods = None if methods is None else np.asarray(methods, dtype=object)

    log.step("audit")
    rep_audit, rep_audit_eq = audit_report, None
    if rep_audit is None and table is None:
        rep_audit = audit(X, y, cv=audit_cv, random_state=random_state, warn=False)
    elif rep_audit is None and files is not None:
        first = table.data.drop_duplicates("item_index")
        rep_audit = audit(list(first["path"]), first["label"].to_numpy(), cv=min(audit_cv, _min_class(first["label"])),
                          random_state=random_state, warn=False, on_error="nan")
    log.done()
    F_asis = comparison = None
    if table is None and equalize:
        log.step("equalize")
        if equalize == "both":
            F_asis = X if deep else np.asarray(clone(prefix).fit(X).transform(X), dtype=np.float64)
        items = clone(eq_step).fit(X).transform(X)
        rep_audit_eq = audit(items, y, cv=audit_cv, random_state=random_state, warn=False)
        log.done()

    if deep:  # the network reads the items: nothing to extract once
        F, names = items, []
    else:
        log.step("features")
        if table is not None:
            F, names = table.features_for(prefix.steps[-1][1])
        else:
            prefix = clone(prefix)
            F = np.asarray(prefix.fit(items).transform(items), dtype=np.float64)
            names = [str(n) for n in prefix.steps[-1][1].get_feature_names_out()]
        log.done()

    log.step("cross-validation")
    cv_res = cross_validate_detector(rest, F, y, groups=groups, methods=methods, cv=cv, random_state=random_state,
                                     videos=videos, aggregate=aggregate, k=k, return_estimator=deep)
    if F_asis is not None:
        asis = cross_validate_detector(rest, F_asis, y, groups=groups, methods=methods, cv=cv,
                                       random_state=random_state)
        comparison = _comparison(asis, cv_res)
    log.done()

    log.step("operating points")
    operating = _operating_points(y, cv_res, groups, videos, n_boot, random_state)
    log.done()

    imp_feat = imp_fam = final = shap_res = shap_feat = shap_fam = None
    if not deep:
        log.step("permutation importance")
        split_groups = groups if groups is not None else videos
        splits = _splits(cv, y, split_groups, random_state)
        imp_feat, imp_fam = _permutation_cv(rest, F, y, splits, [_blocks(names, "feature"), _blocks(names, "family")],
                                            n_repeats=n_repeats, scoring="roc_auc", random_state=random_state,
                                            n_jobs=None)
        log.done()

        log.step("final fit and SHAP")
        final = clone(rest).fit(F, y)
        shap_res = shap_values(final, F, feature_names=names, max_samples=max_items_for_shap,
                               random_state=random_state)
        shap_feat, shap_fam = shap_res.summary("feature"), shap_res.summary("family")
        log.done()

    log.step("figures")
    if table is not None:
        gallery_items, gallery_names = _table_gallery(table, videos, files)
    else:
        gallery_items = X
        gallery_names = [_item_name(x, i) for i, x in enumerate(X)]
    figures = _figures(items, y, F, names, cv_res, imp_feat, imp_fam, shap_res, final, methods, random_state,
                       min_bin_count=min_bin_count, gallery=(gallery_items, gallery_names, gallery))
    cam_groups = None
    if deep and gallery:
        figures["cam_gallery"], cam_groups = _cam_gallery(cv_res, items, y, gallery)
    fig_paths, fig_png = {}, {}
    for key, (fig, _caption) in figures.items():
        if fig is None:
            continue
        png = _png(fig)
        path = out / f"figure_{key}.png"
        path.write_bytes(png)
        fig_paths[key], fig_png[key] = path, png
    log.done()

    log.step("writing")
    tables = _tables(rep_audit, rep_audit_eq, cv_res, imp_feat, imp_fam, shap_feat, shap_fam)
    tables["operating_points"] = operating
    if comparison is not None:
        tables["as_is_vs_equalized"] = comparison
    errors = _errors_table(y, cv_res, videos, gallery_names, max(gallery, 0))
    if errors is not None:
        tables["errors"] = errors
    table_paths = {}
    for key, df in tables.items():
        path = out / f"table_{key}.csv"
        df.to_csv(path)
        table_paths[key] = path
    log.done()
    log.total()
    prov = dict(provenance or {})
    prov.setdefault("seed", random_state)
    prov["versions"] = _versions()
    prov["detector"] = f"{detector_name}: {_describe(pipe)}"
    if table is not None:
        prov["feature table"] = os.fspath(table.path) if table.path is not None else "in memory"
        prov["table extracted by"] = table.meta.get("command") or "–"
        prov["table created"] = table.meta.get("created") or "–"
    ctx = dict(title=title or f"Forensic report: {detector_name}", detector=detector_name, pipe=pipe, y=y,
               groups=groups, methods=methods, equalize=bool(equalize), F=F, names=names, audit=rep_audit,
               audit_eq=rep_audit_eq, cv=cv_res, tables=tables, shap=shap_res, timings=log.timings,
               n_splits=len(cv_res.folds), n_repeats=n_repeats, deep=deep, provenance=prov, table=table,
               stored_audit=(table.meta.get("audit") if table is not None else None), comparison=comparison,
               left_out=left_out)
    html_path = out / "report.html"
    html_path.write_text(_render_html(ctx, figures, fig_png), encoding="utf-8")
    md_path = out / "report.md"
    md_path.write_text(_render_markdown(ctx, figures, fig_paths), encoding="utf-8")
    summary = cv_res.summary[["mean", "std"]]
    return ReportResult(html_path=html_path, markdown_path=md_path, figures=fig_paths, tables=table_paths,
                        audit=rep_audit, audit_equalized=rep_audit_eq, cv=cv_res, cv_summary=summary,
                        importance_features=imp_feat, importance_families=imp_fam, shap=shap_res,
                        shap_features=shap_feat, shap_families=shap_fam, feature_names=names,
                        timings=log.timings, operating_points=operating, comparison=comparison,
                        cam_gallery=cam_groups)


def _cam_gallery(cv_res, items, y, n):
    """(figure entry, indices per group) of the Grad-CAM gallery, each item mapped by its fold's model."""
    from ._cam import cam_gallery_figure

    try:
        fig = cam_gallery_figure(cv_res.estimators, items, y, scores=cv_res.oof_scores,
                                 threshold=cv_res.thresholds[cv_res.test_fold], fold=cv_res.test_fold, n=n)
    except Exception as exc:  # noqa: BLE001 - a gallery must not cost the report
        return (None, f"The Grad-CAM gallery could not be drawn: {type(exc).__name__}: {exc}"), None
    caption = (f"Grad-CAM overlays (grad-cam package; red: where the evidence is strongest) of up to {n} items per "
               "row: the fakes scored most fake, the reals scored most real, the reals called fake and the fakes "
               "called real, by out-of-fold score at each fold's threshold. Each item is mapped by the model of the "
               "fold that scored it (never one trained on it), for the class that model decided: on the errors, "
               "the map shows what misled it. Panel titles: item position, true label, out-of-fold probability of "
               "fake.")
    return (fig, caption), {k: [int(i) for i in v] for k, v in fig.gallery.items()}


def _min_class(labels):
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=2)
    return int(max(2, counts.min()))


def _item_name(x, i):
    if isinstance(x, (str, os.PathLike)):
        return Path(x).name
    return f"item {i}"


def _table_files(table):
    """The table's source files, one per row, when every one of them is reachable; else None."""
    paths = table.data["path"]
    if paths.isna().any():
        return None
    unique = pd.unique(paths.astype(str))
    if not all(Path(p).is_file() for p in unique):
        return None
    return list(paths.astype(str))


def _table_gallery(table, videos, files):
    if videos is None:
        names = [Path(str(p)).name for p in table.data["path"]]
        return files, names
    first = table.data.drop_duplicates("item_index")
    names = [Path(str(p)).name for p in first["path"]]
    return (list(first["path"].astype(str)) if files is not None else None), names


def _operating_points(y, cv_res, groups, videos, n_boot, random_state):
    """ROC-AUC with a bootstrap CI over groups, TPR at FPR 1% and 0.1%: per level."""
    from ..metrics import roc_auc_ci, tpr_at_fpr

    rows = {}
    levels = [("frame" if videos is not None else "item", y, cv_res.oof_scores,
               groups if groups is not None else videos)]
    if cv_res.video_scores is not None:
        vy = cv_res.video_labels.to_numpy()
        first = pd.Series(np.arange(y.size)).groupby(pd.factorize(videos, sort=False)[0]).first().to_numpy()
        vg = None if groups is None else groups[first]
        levels.append(("video", vy, cv_res.video_scores.to_numpy(), vg))
    for level, yy, ss, gg in levels:
        auc, low, high = roc_auc_ci(yy, ss, groups=gg, n_boot=n_boot, random_state=random_state)
        n_real = int((yy == 0).sum())
        rows[level] = {"n": int(yy.size), "n_real": n_real, "roc_auc": auc, "ci_low": low,
                       "ci_high": high, "ci_resamples": "groups" if gg is not None else "items",
                       "tpr_at_fpr_1%": tpr_at_fpr(yy, ss, 0.01), "tpr_at_fpr_0.1%": tpr_at_fpr(yy, ss, 0.001),
                       "smallest_fpr": 1 / max(n_real, 1)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "level"
    return frame


def _comparison(asis, equalized):
    keys = [k for k, _, _ in _CV_METRICS if k in asis.summary.index and k != "threshold"]
    rows = []
    for key in keys:
        label = dict((k, lab) for k, lab, _ in _CV_METRICS)[key]
        a, e = asis.summary.loc[key], equalized.summary.loc[key]
        rows.append((label, f"{_fmt(a['mean'])} ± {_fmt(a['std'])}", f"{_fmt(e['mean'])} ± {_fmt(e['std'])}",
                     e["mean"] - a["mean"]))
    return pd.DataFrame(rows, columns=["metric", "as given", "equalized", "change"]).set_index("metric")


def _errors_table(y, cv_res, videos, names, k):
    from ._plots import error_examples

    if k <= 0:
        return None
    if videos is not None:
        vy, vs = cv_res.video_labels.to_numpy(), cv_res.video_scores.to_numpy()
        return error_examples(vy, vs, names=names, k=k).set_index("kind")
    return error_examples(y, cv_res.oof_scores, names=names, k=k).set_index("kind")


# -- content -----------------------------------------------------------------------------------------

def _figures(items, y, F, names, cv_res, imp_feat, imp_fam, shap_res, final, methods, random_state, *,
             min_bin_count=10, gallery=(None, None, 0)):
    from . import _plots as P

    figs = {}
    oof, thr = cv_res.oof_scores, cv_res.thresholds[cv_res.test_fold]
    video = cv_res.video_scores is not None
    figs["roc_pr"] = (P.plot_roc_pr(y, oof, test_fold=cv_res.test_fold),
                      "ROC (left) and precision-recall (right) curves of the out-of-fold scores: every item "
                      "is scored by a model that never saw it. Thick line: all folds pooled; thin grey lines: "
                      "each fold alone. A curve hugging the top-left (ROC) or top-right (PR) corner separates "
                      "the classes; the dashed line is chance. Pooling mixes the score scales of different "
                      "folds, so the pooled AUC can differ from the mean of the per-fold AUCs.")
    if video:
        vy, vs = cv_res.video_labels.to_numpy(), cv_res.video_scores.to_numpy()
        figs["video_roc_pr"] = (
            P.plot_roc_pr(vy, vs),
            f"The same at video level: each video scored by the {cv_res.aggregate} of its frames' out-of-fold "
            "scores (forensics.metrics.aggregate_scores), the protocol of video benchmarks.")
    low_y, low_s = (vy, vs) if video else (y, oof)
    figs["low_fpr"] = (
        P.plot_low_fpr(low_y, low_s),
        f"The low false-positive end, where a deployed detector operates ({'videos' if video else 'items'}): "
        "left, the ROC curve with a logarithmic false positive rate, the TPR reached at FPR 1% and 0.1% marked "
        "(no FPR below 1/n_real can be measured); right, the DET curve (miss rate against false alarm rate on "
        "normal-deviate scales).")
    figs["confusion"] = (P.plot_confusion_matrix(y, oof, thr),
                         "Confusion matrix of the out-of-fold decisions, each fold at its own threshold (chosen "
                         "on a validation split of its training part, never on the test items). Rows: true "
                         "class; columns: decision; percentages are of the row. Off-diagonal cells are the "
                         "errors: top right reals called fake, bottom left fakes missed.")
    if np.all((oof >= 0) & (oof <= 1)):
        figs["reliability"] = (P.plot_reliability(y, oof, min_count=min_bin_count),
                               "Reliability curve: items binned by predicted probability of fake; a dot shows "
                               "the bin's mean prediction (x) against the fraction of fakes actually in it (y), "
                               f"labelled with its item count; bins with fewer than {min_bin_count} items are "
                               "hollow and left out of the curve (their fraction is noise). Dots on the diagonal "
                               "mean the probabilities can be read as frequencies; below it the detector is "
                               "over-confident about fakes. Bottom: items per bin, the minimum count dashed.")
    g_items, g_names, g_k = gallery
    if g_k and g_items is not None:
        gy, gs = (vy, vs) if video else (y, oof)
        try:
            figs["gallery"] = (
                P.plot_error_gallery(g_items, gy, gs, names=g_names, k=g_k),
                f"The {g_k} reals scored most fake (top) and the {g_k} fakes scored most real (bottom), by "
                "out-of-fold score" + (" (videos: their middle frame)" if video else "") + ": the errors to look "
                "at first, whatever the threshold. File names and scores are in the table above.")
        except Exception as exc:  # noqa: BLE001 - a gallery must not cost the report
            figs["gallery"] = (None, f"The error gallery could not be drawn: {type(exc).__name__}: {exc}")
    per_fold = cv_res.folds["roc_auc"]
    figs["folds"] = (P.plot_metric_bars(per_fold.to_numpy(), labels=[f"fold {i}" for i in per_fold.index],
                                        title="ROC-AUC per test fold"),
                     "ROC-AUC of each test fold. A large spread between folds means the estimate depends on "
                     "which items are held out: trust the mean less, and look at the groups in each fold.")
    if methods is not None:
        pm = cv_res.per_group["roc_auc"].drop(index="all", errors="ignore")
        pm = pm.drop(index=[m for m in pm.index if str(m) == "real"], errors="ignore")
        if len(pm):
            figs["methods"] = (P.plot_metric_bars(pm, title="ROC-AUC per manipulation method"),
                               "ROC-AUC of each manipulation method's fakes against all reals (pooled "
                               "out-of-fold scores). A method near the dashed chance line is one the detector "
                               "does not see.")
    if shap_res is not None:  # handcrafted: feature columns to rank and explain
        figs["importance_features"] = (
            P.plot_importance(imp_feat, top_k=20, title="Permutation importance per feature (held-out folds)"),
            "How much the held-out ROC-AUC drops when one feature's values are shuffled across test items (mean and "
            "std over folds x repeats). Near zero: the model does not need that feature, or a correlated one "
            "stands in for it; negative: noise. See the family chart for correlated features.")
        figs["importance_families"] = (
            P.plot_importance(imp_fam, top_k=20, title="Permutation importance per feature family (held-out folds)"),
            "The same with all columns of a family shuffled together (the number of columns in brackets). "
            "Correlated features of one family share credit in the per-feature chart; shuffled together they "
            "show what the family contributes as a whole.")
        figs["distributions"] = (
            P.plot_feature_distributions(F, y, feature_names=names, importance=imp_feat, top_k=8),
            "Histograms of the eight features with the largest permutation importance, reals in blue and fakes in "
            "orange (values clipped to the 0.5-99.5 percentile range); the univariate ROC-AUC of each feature is in "
            "its title (0.5: no separation alone, far from 0.5 in either direction: separating).")
        filt = final.named_steps.get("decorrelate") if isinstance(final, Pipeline) else None
        corr_fig = (P.plot_correlation_matrix(correlation_filter=filt, feature_names=_names_before(final, names))
                    if filt is not None
                    else P.plot_correlation_matrix(F, feature_names=names))
        figs["correlation"] = (
            corr_fig,
            "Correlation between every pair of features (red positive, blue negative), in the order of the feature "
            "table, families outlined. " + ("Red marks on the axes flag the features the decorrelation step dropped "
                                           "in the final fit (one of each pair above its threshold)."
                                           if filt is not None else "The detector has no decorrelation step."))
        figs["shap_bar"] = (
            P.plot_shap_bar(shap_res, by="feature", top_k=20),
            f"Mean absolute SHAP value per feature ({shap_res.output} of fake) over {len(shap_res.index)} items, for "
            "the model fitted on all items: how far, on average, each feature moves a prediction. Orange bars push "
            "towards fake on average, blue towards real.")
        figs["shap_families"] = (
            P.plot_shap_bar(shap_res, by="family", top_k=20),
            "The same per family: a family's contribution to an item is the sum of its features' SHAP values.")
        figs["shap_beeswarm"] = (
            P.plot_shap_beeswarm(shap_res, top_k=15),
            "One dot per item and feature: its SHAP value (right of the line pushes towards fake) coloured by the "
            "feature's value among the explained items (blue low, red high). Red dots on the right: large values "
            "of the feature indicate fakes.")
    try:
        figs["spectra"] = (
            P.plot_spectra(items, y, max_items=100, random_state=random_state),
            "Mean Fourier log-power spectrum of the luma of up to 100 reals (left) and fakes (middle), zero "
            "frequency at the centre; right: fakes minus reals. Each item is centre-cropped to the smallest "
            "side in the sample so spectra can be averaged (the spectral features themselves do not crop), "
            "mean-subtracted and Hann-windowed. Bright spots or a grid in the difference reveal periodic "
            "artefacts (upsampling, resampling, JPEG blocks); a tilt of the bottom curves shows a different "
            "high-frequency energy (blur, sharpening, noise).")
    except Exception as exc:  # noqa: BLE001 - the spectra are an extra; a decode failure must not cost the report
        figs["spectra"] = (None, f"The spectra could not be computed: {type(exc).__name__}: {exc}")
    return figs


def _names_before(final, names):
    """Names of the columns entering the decorrelate step (the steps before it may select columns)."""
    from ._shap import _transform

    steps = []
    for n, step in final.steps:
        if n == "decorrelate":
            break
        steps.append(step)
    _, out = _transform(steps, np.zeros((1, len(names))), names)
    return out


def _summary_table(cv_res):
    rows = []
    for key, label, _ in _CV_METRICS:
        if key in cv_res.summary.index:
            m, s = cv_res.summary.loc[key, "mean"], cv_res.summary.loc[key, "std"]
            rows.append((label, f"{_fmt(m)} ± {_fmt(s)}"))
    return pd.DataFrame(rows, columns=["metric", "mean ± std over folds"]).set_index("metric")


def _tables(rep_audit, rep_audit_eq, cv_res, imp_feat, imp_fam, shap_feat, shap_fam):
    keep = [k for k, _, _ in _CV_METRICS if k in cv_res.folds.columns]
    tables = {
        "audit": rep_audit.table,
        "cv_summary": _summary_table(cv_res),
        "cv_folds": cv_res.folds[["n", "n_fake", *keep]],
        "cv_groups": cv_res.per_group[[c for c in ["n", "n_fake", *keep] if c in cv_res.per_group.columns]],
    }
    if imp_feat is not None:
        tables.update(importance_features=imp_feat.set_index("name"), importance_families=imp_fam.set_index("name"),
                      shap_features=shap_feat.set_index("name"), shap_families=shap_fam.set_index("name"))
    if rep_audit is None:
        del tables["audit"]
    if rep_audit_eq is not None:
        tables["audit_equalized"] = rep_audit_eq.table
    if cv_res.video_summary is not None:
        summary = cv_res.video_summary
        rows = [(label, f"{_fmt(summary.loc[k, 'mean'])} ± {_fmt(summary.loc[k, 'std'])}")
                for k, label, _ in _CV_METRICS if k in summary.index]
        tables["cv_video_summary"] = pd.DataFrame(rows, columns=["metric", "mean ± std over folds"]).set_index("metric")
        tables["cv_video_folds"] = cv_res.video_folds[["n", "n_fake", *keep]]
        tables["cv_video_groups"] = cv_res.video_per_group[[c for c in ["n", "n_fake", *keep]
                                                            if c in cv_res.video_per_group.columns]]
    return tables


def _dataset_rows(ctx):
    y, audit_rep = ctx["y"], ctx["audit"]
    v = audit_rep.values if audit_rep is not None else None
    rows = [("items" if ctx["cv"].video_scores is None else "frame rows", str(y.size)),
            ("real (label 0)", str(int((y == 0).sum()))), ("fake (label 1)", str(int((y == 1).sum())))]
    if ctx["cv"].video_scores is not None:
        vy = ctx["cv"].video_labels.to_numpy()
        rows.append(("videos", f"{vy.size} ({int((vy == 0).sum())} real, {int((vy == 1).sum())} fake); video score "
                               f"= {ctx['cv'].aggregate} of its frame scores"))
    if ctx.get("table") is not None:
        t = ctx["table"]
        rows.append(("feature table", f"{os.fspath(t.path) if t.path is not None else 'in memory'} (level {t.level}, "
                                      "read, not extracted again)"))
    left_out = ctx.get("left_out") or []
    if left_out:
        shown = "; ".join(f"{path} ({reason})" if reason else path for path, reason in left_out[:5])
        more = f"; and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        rows.append(("left out (status error)", f"{len(left_out)}: {shown}{more}"))
    if ctx["methods"] is not None:
        counts = pd.Series(ctx["methods"]).value_counts()
        rows.append(("methods", ", ".join(f"{k}: {c}" for k, c in counts.items())))
    if ctx["groups"] is not None:
        rows.append(("groups (never split by a fold)", str(pd.unique(ctx["groups"]).size)))
    if v is not None and len(v) and "format" in v.columns:
        fmts = v["format"].fillna("unreadable").value_counts()
        rows.append(("formats", ", ".join(f"{k}: {c}" for k, c in fmts.items())))
        w, h = v["width"], v["height"]
        rows.append(("width x height (median, min-max)",
                     f"{np.nanmedian(w):.0f} x {np.nanmedian(h):.0f} ({np.nanmin(w):.0f}-{np.nanmax(w):.0f} x "
                     f"{np.nanmin(h):.0f}-{np.nanmax(h):.0f})"))
    rows.append(("protocol", "codec-equalized (centre crop + one JPEG re-encoding)" if ctx["equalize"]
                 else "as given (no equalization)"))
    if ctx.get("deep"):
        rows.append(("features", "none: the network reads the pixels"))
    else:
        rows.append(("features", f"{len(ctx['names'])} columns in "
                     f"{len(dict.fromkeys(n.split('__', 1)[0] for n in ctx['names']))} families"))
    rows.append(("detector", f"{ctx['detector']}: {_describe(ctx['pipe'])}"))
    rows.append(("cross-validation", f"{ctx['n_splits']} folds" + (", grouped" if ctx["groups"] is not None else "")
                 + f", threshold rule {ctx['cv'].threshold_rule!r} on a validation split"))
    t = ctx["timings"]
    rows.append(("run time", f"{t.get('total', 0):.1f} s (" + ", ".join(
        f"{k} {v:.1f} s" for k, v in t.items() if k != "total") + ")"))
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def _audit_html(rep, heading):
    msg = rep.warning_message
    if msg:
        box = f'<p class="warn">{html.escape(msg)}</p>'
    else:
        box = f'<p class="ok">{html.escape(rep._header()[0])}</p>'
    t = rep.table[["kind", "auc", "auc_std", "accuracy", "n_values", "missing", "flagged", "note"]]
    return (f"<h3>{html.escape(heading)}</h3>{box}<p class='small'>Out-of-fold ROC-AUC of a one-column model per "
            f"pixel-free file property ({rep.n_splits} folds); flagged (red) when AUC ≥ {rep.threshold:g}: the "
            "label can then be read off the file pipeline without looking at the pixels.</p>"
            + _html_table(t, flag=t["flagged"].to_numpy(), left=("kind", "note")))


def _render_html(ctx, figures, fig_png):
    cv_res, tables, shap_res = ctx["cv"], ctx["tables"], ctx["shap"]
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(ctx['title'])}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{esc(ctx['title'])}</h1>",
             f"<p class='small'>Generated {esc(datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))} by forensics. "
             "Label convention: fake = 1, real = 0. " + ("Every metric and map comes from held-out folds: each item "
                                                         "is scored and mapped by a model that never saw it.</p>"
                                                         if ctx.get("deep") else
                                                         "Every metric and importance comes from held-out folds; "
                                                         "SHAP values describe the model fitted on all items.</p>")]

    def fig(key):
        if key not in figures:
            return ""
        if figures[key][0] is None:
            return f"<p class='warn'>{esc(figures[key][1])}</p>"
        data = base64.b64encode(fig_png[key]).decode("ascii")
        return (f"<figure><img alt='{esc(key)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{esc(figures[key][1])}</figcaption></figure>")

    parts.append("<h2>1. Data set</h2>" + _html_table(_dataset_rows(ctx), left=("value",)))
    parts.append("<h2>2. Shortcut audit</h2>")
    if ctx["audit"] is not None:
        parts.append(_audit_html(ctx["audit"], "Files as given"))
    else:
        parts.append(f"<p class='{'warn' if _stored_flagged(ctx) else 'small'}'>{esc(_stored_audit_text(ctx))}</p>")
    if ctx["audit_eq"] is not None:
        parts.append(_audit_html(ctx["audit_eq"], "After codec equalization (what the detector sees)"))
    parts.append("<h2>3. Cross-validation</h2>")
    roc = cv_res.summary.loc["roc_auc"]
    parts.append(f"<p>Held-out ROC-AUC <b>{roc['mean']:.3f} ± {roc['std']:.3f}</b> (mean ± std over "
                 f"{ctx['n_splits']} folds). Thresholded metrics use each fold's threshold, chosen on a validation "
                 "split of its training part.</p>")
    if _flagged(ctx) and not ctx["equalize"]:
        parts.append("<p class='warn'>The audit flagged file properties that give the label away and the items "
                     "were not equalized: these scores may measure the file pipeline rather than the forgeries. "
                     "Compare with a report built with <code>equalize=True</code>.</p>")
    parts.append("<h3>Summary</h3>" + _html_table(tables["cv_summary"], left=("mean ± std over folds",)))
    parts.append("<h3>Per fold</h3>" + _html_table(tables["cv_folds"]))
    parts.append("<h3>Per manipulation method (pooled out-of-fold scores)</h3><p class='small'>" + _PER_METHOD_NOTE
                 + "</p>"
                 + _html_table(tables["cv_groups"]))
    if "cv_video_summary" in tables:
        vroc = cv_res.video_summary.loc["roc_auc"]
        parts.append(f"<h3>Video level</h3><p>Held-out video ROC-AUC <b>{vroc['mean']:.3f} ± {vroc['std']:.3f}</b>: "
                     f"each video scored by the {esc(str(cv_res.aggregate))} of its frames' out-of-fold scores, "
                     "judged at its fold's threshold.</p>" + _html_table(tables["cv_video_summary"],
                                                                       left=("mean ± std over folds",))
                     + "<h4>Per fold</h4>" + _html_table(tables["cv_video_folds"])
                     + "<h4>Per manipulation method</h4>" + _html_table(tables["cv_video_groups"]))
    parts.append("<h3>Operating points</h3><p class='small'>ROC-AUC of the pooled out-of-fold scores with a 95% "
                 "bootstrap interval (resampling whole groups when groups are known, so correlated items count "
                 "once), and the share of fakes caught when at most 1% and 0.1% of reals are flagged. No FPR below "
                 "1/n_real (<code>smallest_fpr</code>) can be measured: below it the column is the TPR at FPR 0.</p>" + _html_table(tables["operating_points"], left=("ci_resamples",)))
    if "as_is_vs_equalized" in tables:
        parts.append("<h3>As given vs codec-equalized</h3><p class='small'>The same detector and folds on the items "
                     "as given and after equalization (every item centre-cropped and re-encoded alike). A drop after "
                     "equalization is what the codec and size gave away.</p>"
                     + _html_table(tables["as_is_vs_equalized"], left=("as given", "equalized")))
    for key in ("roc_pr", "video_roc_pr", "low_fpr", "confusion", "reliability", "folds", "methods"):
        parts.append(fig(key))
    if "errors" in tables:
        parts.append("<h3>Most confident errors</h3>" + _html_table(tables["errors"], left=("name",)))
        parts.append(fig("gallery"))
    section = 4
    if ctx.get("deep"):
        parts.append(f"<h2>{section}. Where the network looks (Grad-CAM, held-out folds)</h2>")
        parts.append("<p class='small'>A deep detector reads the pixels: it has no feature columns to permute or "
                     "explain with SHAP. The class activation maps show which parts of each picture drove its "
                     "score.</p>" + (fig("cam_gallery") or "<p class='small'>No gallery was asked for "
                                                          "(gallery=0).</p>"))
        section += 1
    else:
        parts.append("<h2>4. Feature importance (permutation, held-out folds)</h2>")
        parts.append(f"<p class='small'>Drop of the test-fold ROC-AUC when a feature (or a whole family) is shuffled, "
                     f"{ctx['n_repeats']} shuffles x {ctx['n_splits']} folds.</p>")
        parts.append("<h3>Top 20 features</h3>" + _html_table(tables["importance_features"].head(20)))
        parts.append("<h3>Families</h3>" + _html_table(tables["importance_families"]))
        for key in ("importance_features", "importance_families", "distributions", "correlation"):
            parts.append(fig(key))
        parts.append("<h2>5. SHAP attributions (model fitted on all items)</h2>")
        parts.append(f"<p class='small'>{len(shap_res.index)} items explained with the {shap_res.explainer} explainer, "
                     f"in {shap_res.output} of fake; base value {shap_res.base_value:.3f}.</p>")
        parts.append("<h3>Top 20 features by mean |SHAP|</h3>" + _html_table(tables["shap_features"].head(20)))
        parts.append("<h3>Families</h3>" + _html_table(tables["shap_families"]))
        parts.append(_example_html(ctx))
        for key in ("shap_bar", "shap_families", "shap_beeswarm"):
            parts.append(fig(key))
        section += 2
    if "spectra" in figures:
        parts.append(f"<h2>{section}. Fourier spectra</h2>" + fig("spectra"))
        section += 1
    parts.append(f"<h2>{section}. Provenance</h2>" + _html_table(_provenance_rows(ctx), left=("value",)))
    config = ctx["provenance"].get("config")
    if config:
        parts.append(f"<h3>Configuration</h3><pre>{esc(_yaml(config))}</pre>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _example_items(ctx):
    """The explained fake with the highest and the real with the lowest output."""
    shap_res, y = ctx["shap"], ctx["y"]
    pred = shap_res.prediction
    lab = y[shap_res.index]
    out = []
    for label, pick, text in ((1, np.argmax, "the fake scored most confidently as fake"),
                              (0, np.argmin, "the real scored most confidently as real")):
        pos = np.flatnonzero(lab == label)
        if pos.size:
            out.append((int(pos[pick(pred[pos])]), text))
    return out


def _example_html(ctx):
    shap_res = ctx["shap"]
    parts = []
    for i, text in _example_items(ctx):
        t = shap_res.explain(i, top=8)
        a = t.attrs
        parts.append(f"<h3>Why item {a['row']} ({html.escape(text)})</h3>"
                     f"<p class='small'>Output {a['prediction']:.3f} = base {a['base_value']:.3f} + the contributions below + {a['others']:.3f} from the other "
                     "features.</p>" + _html_table(t.set_index("feature"), left=("family",)))
    return "\n".join(parts)


def _render_markdown(ctx, figures, fig_paths):
    cv_res, tables, shap_res = ctx["cv"], ctx["tables"], ctx["shap"]
    roc = cv_res.summary.loc["roc_auc"]
    md = [f"# {ctx['title']}", "", "Label convention: fake = 1, real = 0. " + (
          "Metrics and Grad-CAM maps come from held-out folds." if ctx.get("deep") else
          "Metrics and permutation importances come from held-out folds; SHAP values describe the model fitted on "
          "all items."), "",
          "## 1. Data set", "", _md_table(_dataset_rows(ctx)), "", "## 2. Shortcut audit", "",
          *(["### Files as given", "", ctx["audit"].to_markdown()] if ctx["audit"] is not None
            else [_stored_audit_text(ctx), ""])]
    if ctx["audit_eq"] is not None:
        md += ["### After codec equalization", "", ctx["audit_eq"].to_markdown()]
    md += ["## 3. Cross-validation", "",
           f"Held-out ROC-AUC **{roc['mean']:.3f} ± {roc['std']:.3f}** over {ctx['n_splits']} folds.", "",
           *(["**The audit flagged file properties and the items were not equalized: these scores may measure "
              "the file pipeline rather than the forgeries (compare with `equalize=True`).**", ""]
             if _flagged(ctx) and not ctx["equalize"] else []),
           _md_table(tables["cv_summary"]), "", "### Per fold", "", _md_table(tables["cv_folds"]), "",
           "### Per manipulation method (pooled out-of-fold scores)", "", _PER_METHOD_NOTE.replace("<code>", "`")
           .replace("</code>", "`"), "", _md_table(tables["cv_groups"]), ""]
    if "cv_video_summary" in tables:
        vroc = cv_res.video_summary.loc["roc_auc"]
        md += ["### Video level", "", f"Held-out video ROC-AUC **{vroc['mean']:.3f} ± {vroc['std']:.3f}** "
               f"(video score = {cv_res.aggregate} of its frame scores).", "", _md_table(tables["cv_video_summary"]),
               "", "#### Per fold", "", _md_table(tables["cv_video_folds"]), "", "#### Per manipulation method", "",
               _md_table(tables["cv_video_groups"]), ""]
    md += ["### Operating points", "", "ROC-AUC of the pooled out-of-fold scores with a 95% bootstrap interval, and "
           "the share of fakes caught when at most 1% and 0.1% of reals are flagged. No FPR below 1/n_real "
           "(`smallest_fpr`) can be measured: below it the column is the TPR at FPR 0.", "",
           _md_table(tables["operating_points"]), ""]
    if "as_is_vs_equalized" in tables:
        md += ["### As given vs codec-equalized", "", _md_table(tables["as_is_vs_equalized"]), ""]
    if "errors" in tables:
        md += ["### Most confident errors", "", _md_table(tables["errors"]), ""]

    def fig(key):
        if key not in fig_paths:
            return []
        return [f"![{key}]({fig_paths[key].name})", "", f"*{figures[key][1]}*", ""]

    for key in ("roc_pr", "video_roc_pr", "low_fpr", "confusion", "reliability", "folds", "methods", "gallery"):
        md += fig(key)
    section = 4
    if ctx.get("deep"):
        md += [f"## {section}. Where the network looks (Grad-CAM, held-out folds)", ""] + fig("cam_gallery")
        section += 1
    else:
        md += ["## 4. Feature importance (permutation, held-out folds)", "", "### Top 20 features", "",
               _md_table(tables["importance_features"].head(20)), "", "### Families", "",
               _md_table(tables["importance_families"]), ""]
        for key in ("importance_features", "importance_families", "distributions", "correlation"):
            md += fig(key)
        md += ["## 5. SHAP attributions", "",
               f"{len(shap_res.index)} items, {shap_res.explainer} explainer, {shap_res.output} of fake.", "",
               "### Top 20 features by mean |SHAP|", "", _md_table(tables["shap_features"].head(20)), "",
               "### Families", "", _md_table(tables["shap_families"]), ""]
        for key in ("shap_bar", "shap_families", "shap_beeswarm"):
            md += fig(key)
        section += 2
    if "spectra" in fig_paths:
        md += [f"## {section}. Fourier spectra", ""] + fig("spectra")
        section += 1
    md += [f"## {section}. Provenance", "", _md_table(_provenance_rows(ctx)), ""]
    config = ctx["provenance"].get("config")
    if config:
        md += ["### Configuration", "", "```yaml", _yaml(config).rstrip(), "```", ""]
    return "\n".join(md) + "\n"


def _flagged(ctx):
    return bool(ctx["audit"].flagged) if ctx["audit"] is not None else _stored_flagged(ctx)


def _stored_flagged(ctx):
    return bool((ctx.get("stored_audit") or {}).get("flagged"))


def _stored_audit_text(ctx):
    stored = ctx.get("stored_audit")
    if stored is None:
        return ("The audit was not run: the feature table's files are not reachable and it records no audit "
                "(extract it with the audit on).")
    if stored.get("flagged"):
        return "Recorded when the table was extracted: " + (stored.get("warning") or ", ".join(stored["flagged"]))
    top = max(stored.get("auc", {}).items(), key=lambda kv: kv[1], default=("-", float("nan")))
    return (f"Recorded when the table was extracted: no shortcut found (highest property {top[0]}, AUC "
            f"{top[1]:.2f}).")


def _yaml(config):
    import yaml

    from .._config import _plain, unflatten

    tree = unflatten(config) if all("." in str(k) or not isinstance(v, dict) for k, v in config.items()) else config
    return yaml.safe_dump(_plain(tree), sort_keys=False, default_flow_style=False)


def _provenance_rows(ctx):
    prov = ctx["provenance"]
    rows = []
    for key in ("command", "seed", "detector", "feature table", "table extracted by", "table created", "run id"):
        if prov.get(key) is not None:
            rows.append((key, str(prov[key])))
    versions = prov.get("versions") or {}
    rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    rows.append(("generated", datetime.datetime.now().astimezone().isoformat(timespec="seconds")))
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")
