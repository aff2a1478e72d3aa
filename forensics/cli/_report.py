"""``forensics report``: an HTML + Markdown report (audit, metrics, operating points, importance, SHAP, figures)."""

from __future__ import annotations

from . import _common as C
from ._options import option


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "report",
        help="an HTML + Markdown report: audit, cross-validated metrics, importance, SHAP, figures",
        description=(
            "Write a report on DATA and a detector into OUT (forensics.inspection.build_report): the shortcut "
            "audit, cross-validated metrics (grouped folds when groups are known; frame and video level for "
            "videos), ROC-AUC with a bootstrap interval, TPR at FPR 1% and 0.1%, low-FPR ROC and DET curves, the "
            "most confident errors, reliability with bin counts, permutation importance and SHAP (for a deep "
            "detector such as cnn-scratch: a Grad-CAM gallery of the most confident fakes and reals and the errors "
            "instead), figures, and the provenance (versions, command, config, seed). --equalize both shows "
            "as-is and equalized side by side. OUT/report.html is self-contained; OUT/report.md links the PNG and CSV files beside it. DATA "
            "may be a feature table (nothing is extracted again)."
        ),
    )
    C.add_config(parser)
    C.add_data(parser)
    C.add_detector(parser, equalize=False)
    option(parser, "--equalize", key="features.equalize", nargs="?", const=True, default=False, type=_equalize_mode,
           metavar="both",
           help="images: re-encode every item the same way first; '--equalize both' runs as given and equalized "
                "and shows them side by side")
    C.add_cv(parser)
    C.add_frames(parser)
    option(parser, "--title", key="output.title", default=None, help="title of the report")
    option(parser, "--n-boot", key="report.n_boot", type=C.int_at_least(1), default=1000, metavar="N",
           help="bootstrap samples of the ROC-AUC interval (default: %(default)s)")
    option(parser, "--gallery", key="report.gallery", type=C.int_at_least(0), default=6, metavar="K",
           help="most confident false positives, and false negatives, shown (default: %(default)s)")
    option(parser, "--min-bin-count", key="report.min_bin_count", type=C.int_at_least(1), default=10, metavar="N",
           help="reliability bins with fewer items are not drawn (default: %(default)s)")
    option(parser, "--out", key="output.out", required=True, metavar="DIR", help="output folder")
    C.add_audit(parser)
    C.add_tracking(parser)
    C.add_run(parser, n_jobs_option=False)
    return parser


def run(args):
    from ..inspection import build_report

    name = args.detector or "forensic-xgb"
    pipe = C.build_detector(name, args, args.params)
    C.check_weights(pipe, name)
    equalize = args.equalize
    args.equalize = bool(equalize)  # the table/extraction helpers read a flag
    kind, data = C.load_input(args)
    C.record_frames(args, kind, data)
    out = C.prepare_out(args.out)
    with C.Run(args, out=out) as run_:
        print(f"forensics report: {name} on {args.data}", flush=True)
        report = C.audit_first(args, kind, data) if kind == "manifest" else None
        items_kind = set(data["kind"]) if kind == "manifest" else {data.meta.get("kind", "image")}
        if kind == "manifest" and items_kind == {"image"} and not args.faces:
            data, left_out = C.drop_unreadable_images(data)
            X, y = C.manifest_items(data), data["label"].to_numpy()
            groups = data["group"].to_numpy() if "group" in data.columns else None
            methods = data["method"].to_numpy()
            C.no_groups_note(_Table(data))
        else:
            if "features" not in pipe.named_steps:
                raise C.UsageError(f"{name} is a deep detector that reads the images themselves: give DATA as a "
                                   "folder or manifest of images (videos and feature tables need a detector with a "
                                   "feature step)")
            if equalize:
                raise C.UsageError("--equalize applies to images given as files, not to videos or feature tables")
            X = C.table_for_detector(args, kind, data, pipe, name=name)
            kept = C.drop_failed(X)  # says how many are left out (or refuses when none is readable)
            # build_report names the rows of status error itself; videos without a face are left out here
            faceless = ~X.data["path"].isin(kept.data["path"]) & (X.data["status"] != "error")
            left_out = [(p, "status no_face: no face in any sampled frame") for p in X.data["path"][faceless]] or None
            X = X.subset(~faceless.to_numpy())
            y = groups = methods = None
            C.no_groups_note(X)
        provenance = dict(command=C.command_line(args), config=args._resolved, seed=args.seed, **{"run id": run_.run_id})
        with C.quiet_warnings():
            result = build_report(X, y, detector=pipe, groups=groups, methods=methods, cv=args.cv, equalize=equalize,
                                  out_dir=out, title=args.title, random_state=args.seed, progress=args.progress,
                                  aggregate=args.aggregate, k=args.top_k, provenance=provenance, n_boot=args.n_boot,
                                  min_bin_count=args.min_bin_count, gallery=args.gallery,
                                  audit_report=report if args.audit else None, name=name,
                                  left_out=left_out)
        op = result.operating_points
        metrics = C.headline(result.cv)
        n_folds = len(result.cv.folds)
        for level, row in op.iterrows():
            low = [f"at FPR {f:g} {C.fmt(row[col])}" if measurable(f, row["n_real"]) else f"at FPR {f:g} not "
                   f"measurable with {int(row['n_real'])} reals" for f, col in ((0.01, "tpr_at_fpr_1%"),
                                                                             (0.001, "tpr_at_fpr_0.1%"))]
            # the fold mean first (report.md's headline, evaluate's figure), then the pooled out-of-fold ROC-AUC
            # that the interval and the operating points are measured on: the two differ
            key = "video_roc_auc" if level == "video" else "roc_auc"
            mean = (f"{C.fmt(metrics[key])} ± {C.fmt(metrics.get(key + '_std', float('nan')))} (mean ± std over "
                    f"{n_folds} folds); " if key in metrics else "")
            print(f"  {level} level: ROC-AUC {mean}pooled out-of-fold {row['roc_auc']:.3f} (95% CI "
                  f"{C.fmt(row['ci_low'])}-{C.fmt(row['ci_high'])}, {row['ci_resamples']} resampled); TPR "
                  f"{'; '.join(low)}")
        for level, row in op.iterrows():
            prefix = "video_" if level == "video" else ""
            metrics[f"{prefix}roc_auc_ci_low"], metrics[f"{prefix}roc_auc_ci_high"] = row["ci_low"], row["ci_high"]
            if measurable(0.01, row["n_real"]):  # below 1/n_real the table's value is the TPR at FPR 0
                metrics[f"{prefix}tpr_at_fpr_1pct"] = row["tpr_at_fpr_1%"]
        run_.add_result(name, metrics)
        run_.files += [result.html_path, result.markdown_path]
        level = "frame" if result.cv.video_scores is not None else "image"
        run_.record(data=str(args.data), level=level, n_items=len(result.cv.oof_scores),
                    n_videos=None if result.cv.video_scores is None else len(result.cv.video_scores))
    print(f"Wrote {result.html_path} and {result.markdown_path}")
    return 0


def _equalize_mode(text):
    """``--equalize`` (true), ``--equalize both``; a config may say true, false or both."""
    import argparse

    value = str(text).strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    if value == "both":
        return "both"
    raise argparse.ArgumentTypeError(f"expected 'both' (or true/false in a config), got {text!r}")



class _Table:
    """Just enough of a FeatureTable for the no-groups note."""

    def __init__(self, manifest):
        self.data = manifest
        self.level = "image"


def measurable(fpr, n_real):
    """Whether a TPR at false positive rate ``fpr`` can be measured with ``n_real`` reals.

    The smallest non-zero FPR that ``n_real`` reals can show is ``1 / n_real``; below it the
    ``tpr_at_fpr`` columns hold the TPR at FPR 0, which the console line and the tracked metrics
    do not pass off as the TPR at ``fpr``.
    """
    return n_real > 0 and fpr * n_real >= 1
