"""``forensics evaluate``: cross-validated metrics, a model scored on a test set, a cross-data-set matrix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import _common as C
from ._options import UsageError, option


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="cross-validated metrics of catalogued detectors, a saved model on a test set, or train-on-A-test-on-B",
        description=(
            "With --detector: cross-validate the detector(s) on DATA (folds grouped when groups are known, the "
            "frames of a video always together; threshold chosen on a validation split of each training fold) "
            "and print mean +- std over folds, at frame and video level for videos. With --test, fit on all of "
            "DATA and score each TESTDATA instead; with --matrix, every pair of DATA and the test sets (the "
            "diagonal cross-validated). With --model: score DATA, the test set, with a saved model. DATA and "
            "TESTDATA may be feature tables (nothing is extracted again). The shortcut audit runs first "
            "(--no-audit skips it)."
        ),
    )
    C.add_config(parser)
    C.add_data(parser)
    C.add_detector(parser, multiple=True)
    option(parser, "--model", key="detector.model", default=None, metavar="MODEL",
           help="a model saved by 'forensics train' or 'forensics tune' (DATA is then the test set)")
    option(parser, "--test", key="data.test", action="append", default=None, metavar="TESTDATA",
           help="with --detector: fit on all of DATA, score this test set (repeatable; folder, manifest, table, or "
                "LOADER:ROOT such as celebdf:/data/Celeb-DF-v2)")
    option(parser, "--matrix", key="cv.matrix", action="flag", default=False,
           help="with --test: the full cross-data-set matrix (train on each of DATA and the test sets, test on each)")
    C.add_cv(parser)
    option(parser, "--threshold", key="cv.threshold", type=C.threshold, default=0.5, metavar="T",
           help="test-set threshold on the fake score (default: %(default)s); a rule name (eer, youden, f1, "
                "accuracy) picks it on the test set itself, which is optimistic")
    C.add_frames(parser)
    C.add_audit(parser)
    C.add_output(parser, metavar="DIR|FILE.csv",
                 help="write the results: a folder (metrics.csv, config.yaml, run.json and scores.parquet: each test "
                      "row's fake score, with --model and --test every item with its status and error; with "
                      "cross-validation the out-of-fold scores, their fold and threshold, and folds.csv, the metrics "
                      "of each fold; no scores with --matrix), or a .csv file for the metrics table (config and run "
                      "record beside it)")
    C.add_tracking(parser)
    C.add_run(parser)
    return parser


def run(args):
    if args.model is not None:
        if args.detector:
            raise UsageError("give --detector or --model, not both")
        if args.test:
            raise UsageError("--test goes with --detector; with --model, DATA is the test set")
        if args.equalize:
            raise UsageError("--equalize goes with --detector; a saved model keeps the steps it was trained with")
        return _evaluate_model(args)
    if not args.detector:
        raise UsageError("one of the arguments --detector --model is required")
    if args.matrix and not args.test:
        raise UsageError("--matrix needs at least one --test data set")
    detectors = list(dict.fromkeys(args.detector))
    if "all" in detectors:
        from ..estimators import get, names

        detectors = [n for n in names() if get(n).input == "image" and "torch" not in get(n).requires
                     and get(n).parts.get("features", "full") is not None]
    pipes = {name: C.build_detector(name, args, args.params) for name in detectors}  # bad --set: exit 2 now
    for name, pipe in pipes.items():
        C.check_weights(pipe, name)
    if args.test:
        return _evaluate_on_tests(pipes, args)
    return _evaluate_cv(pipes, args)


def _out_paths(args):
    if not args.out:
        return None, None
    out = Path(args.out)
    if out.suffix.lower() == ".csv":
        C.prepare_out(out.parent if str(out.parent) else ".")
        return out, None
    C.prepare_out(out)
    return out / "metrics.csv", out


def _tables_for(pipes, args, kind, data, left_out=None):
    """One feature table per detector; detectors sharing a feature step share one extraction.

    ``left_out``: a dict that receives, per detector, the rows left out as unreadable or faceless (a data frame)."""
    import json

    import pandas as pd
    from sklearn.base import clone

    from .._tables import feature_fingerprint
    from ..inspection import split_pipeline

    tables, cache = {}, {}
    for name, pipe in pipes.items():
        prefix, _ = split_pipeline(pipe)
        if prefix is None:
            raise UsageError(f"{name} takes raw images (no feature step); cross-validate it in Python with "
                             "forensics.model_selection.cross_validate_detector")
        key = json.dumps(feature_fingerprint(clone(prefix.steps[-1][1]).fit()), sort_keys=True)
        if key not in cache:
            dropped = []
            table = C.drop_failed(C.table_for_detector(args, kind, data, pipe, name=name), left_out=dropped)
            cache[key] = table, (pd.concat(dropped) if dropped else table.data.iloc[:0])
        tables[name] = cache[key][0]
        if left_out is not None:
            left_out[name] = cache[key][1]
    return tables


def _evaluate_cv(pipes, args):
    import pandas as pd

    from ..model_selection import benchmark_detectors

    kind, data = C.load_input(args)
    C.record_frames(args, kind, data)
    metrics_path, out_dir = _out_paths(args)
    with C.Run(args, out=out_dir or metrics_path) as run:
        print(f"forensics evaluate: {', '.join(pipes)} on {args.data}", flush=True)
        C.audit_first(args, kind, data)
        tables = _tables_for(pipes, args, kind, data)
        first = next(iter(tables.values()))
        print(f"  {C.describe_data(first)}, {args.cv}-fold CV"
              + (" grouped" if first.groups is not None else "")
              + (f", video score = {args.aggregate} of its frame scores" if first.level == "frame" else ""))
        C.no_groups_note(first)
        rows, per_method, results = [], [], {}
        for name, pipe in pipes.items():
            table = tables[name]
            with C.quiet_warnings():
                bench = benchmark_detectors(table, detectors=[(name, pipe)], cv=args.cv,
                                            threshold_rule=args.threshold_rule, random_state=args.seed,
                                            aggregate=args.aggregate, k=args.top_k)
            rows.append(bench.table)
            if len(bench.per_method):
                per_method.append(bench.per_method)
            res = bench.results[(name, bench.table["protocol"].iloc[0])]
            results[name] = (res, table)
            run.add_result(name, C.headline(res), level=table.level, n_items=len(table),
                           protocol=bench.table["protocol"].iloc[0], prefixed=len(pipes) > 1)
            run.tracker.log_folds(res.folds[[c for c in res.folds.columns if c in
                                             ("roc_auc", "average_precision", "eer", "balanced_accuracy")]],
                                  prefix=f"{name}.fold_" if len(pipes) > 1 else "fold_")
        from ..model_selection import BenchmarkResult

        merged = BenchmarkResult(pd.concat(rows, ignore_index=True),
                                 pd.concat(per_method, ignore_index=True) if per_method else pd.DataFrame(), results)
        print(merged.to_markdown())
        if len(merged.per_method):
            level = "video" if first.level == "frame" else "item"
            print(f"\nROC-AUC per manipulation method ({level} level, pooled out-of-fold scores, its fakes vs all "
                  "reals):")
            print(merged.per_method.drop(columns="protocol").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if metrics_path is not None:
            table = merged.table
            if len(merged.per_method):
                per = merged.per_method.drop(columns="protocol").set_index("detector").add_prefix("roc_auc__")
                table = table.join(per, on="detector")
            C.write_text(metrics_path, table.to_csv(index=False), "the results")
            if out_dir is not None:
                _write_cv_files(out_dir, results)
            print(f"\nWrote {out_dir or metrics_path}")
        run.record(data=str(args.data), level=first.level, n_items=len(first), n_videos=C.count_videos(first))
        if out_dir is not None:
            run.tracker.log_artifact(out_dir / "metrics.csv")
    if (merged.table["status"] != "ok").all():
        raise C.CommandError(f"no detector could run: {merged.table['status'].iloc[0]}")
    return 0


_ROW_COLUMNS = ("item_index", "path", "label", "method", "group", "frame_index", "time_s", "face_index")


def _scored_rows(frame, scores, **front):
    """The rows' identity columns (those of :data:`_ROW_COLUMNS` present), ``front`` columns first, and ``score``."""
    out = frame[[c for c in _ROW_COLUMNS if c in frame.columns]].reset_index(drop=True).copy()
    for i, (name, value) in enumerate(front.items()):
        out.insert(i, name, value)
    out["score"] = np.asarray(scores, dtype=np.float64)
    return out


def _test_rows(frame, scores, lost, **front):
    """:func:`_scored_rows` of a test set's scored rows with their ``status`` and ``error``, and its rows left out
    (unreadable, no face) with a NaN score and theirs, in the test table's row order: every test row is written."""
    import pandas as pd

    rows = _scored_rows(frame, scores, **front)
    rows["status"], rows["error"] = frame["status"].to_numpy(), frame["error"].fillna("").to_numpy()
    if len(lost):
        out = _scored_rows(lost, np.full(len(lost), np.nan), **front)
        out["status"], out["error"] = lost["status"].to_numpy(), lost["error"].fillna("").to_numpy()
        order = [c for c in ("item_index", "frame_index", "face_index") if c in rows.columns]
        rows = pd.concat([rows, out], ignore_index=True)
        if order:
            rows = rows.sort_values(order, kind="stable").reset_index(drop=True)
    return rows


def _write_cv_files(out_dir, results):
    import pandas as pd

    folds, scores = [], []
    for name, (res, table) in results.items():
        f = res.folds.reset_index()
        f.insert(0, "detector", name)
        folds.append(f)
        s = _scored_rows(table.data, res.oof_scores, detector=name)
        s["fold"], s["threshold"] = res.test_fold, res.thresholds[res.test_fold]
        scores.append(s)
        if res.video_folds is not None:
            vf = res.video_folds.reset_index()
            vf.insert(0, "detector", name)
            vf.insert(1, "level", "video")
            folds.append(vf)
    pd.concat(folds, ignore_index=True).to_csv(out_dir / "folds.csv", index=False)
    pd.concat(scores, ignore_index=True).to_parquet(out_dir / "scores.parquet", index=False)


def _load_test(args, source):
    kind, data = C.load_input(args, source)
    return kind, data


def _evaluate_on_tests(pipes, args):
    import pandas as pd

    from ..tracking import data_labels

    from ..model_selection import cross_dataset_matrix, fit_and_score

    if isinstance(args.threshold, str):
        raise UsageError("--threshold with --test must be a number (a rule would be chosen on the test set)")
    kind, data = C.load_input(args)
    C.record_frames(args, kind, data)
    metrics_path, out_dir = _out_paths(args)
    with C.Run(args, out=out_dir or metrics_path) as run:
        names = [os.fspath(args.data)] + [os.fspath(t) for t in args.test]
        print(f"forensics evaluate: {', '.join(pipes)} trained on {args.data}, tested on {', '.join(names[1:])}",
              flush=True)
        C.audit_first(args, kind, data)
        train = _tables_for(pipes, args, kind, data)
        tests, left = [], []  # left: per test set, the rows left out as unreadable or faceless, per detector
        for source in args.test:
            tkind, tdata = _load_test(args, source)
            left.append({})
            tests.append(_tables_for(pipes, args, tkind, tdata, left_out=left[-1]))
        shared = set(map(os.path.realpath, map(str, next(iter(train.values())).paths)))
        for source, t in zip(args.test, tests):
            both = shared & set(map(os.path.realpath, map(str, next(iter(t.values())).paths)))
            if both:
                print(f"  warning: {len(both)} test items of {source} are also training items (e.g. "
                      f"{sorted(both)[0]}): the metrics are optimistic")
        out_rows, scored = [], []
        # MLflow names: each data set by the end of its path (a full path is no valid metric name)
        labels = dict(zip(names, data_labels(names)))
        run.tracker.log_params({f"data.{label}": path for path, label in labels.items()})
        for name, pipe in pipes.items():
            if args.matrix:
                tables = {names[0]: train[name], **{n: t[name] for n, t in zip(names[1:], tests)}}
                with C.quiet_warnings():
                    res = cross_dataset_matrix(pipe, tables, cv=args.cv, threshold_rule=args.threshold_rule,
                                               threshold=args.threshold, aggregate=args.aggregate, k=args.top_k,
                                               random_state=args.seed)
                shown = res.video_matrix if res.video_matrix is not None else res.matrix
                level = "video" if res.video_matrix is not None else "item"
                print(f"\n{name}: {level}-level ROC-AUC, train (rows) x test (columns); diagonal: {args.cv}-fold CV")
                print(shown.to_string(float_format=lambda v: f"{v:.3f}"))
                t = res.table.copy()
                t.insert(0, "detector", name)
                out_rows.append(t)
                run.add_result(name, {f"{r.train}->{r.test}": r.roc_auc for r in res.table.itertuples()}, log=False)
                first = f"{name}." if len(pipes) > 1 else ""
                run.tracker.log_metrics({f"{first}{labels[r.train]}.to.{labels[r.test]}.roc_auc": r.roc_auc
                                         for r in res.table.itertuples()})
                continue
            for source, t, lost in zip(args.test, tests, left):
                with C.quiet_warnings():
                    out = fit_and_score(pipe, train[name], t[name], threshold=args.threshold,
                                        aggregate=args.aggregate, k=args.top_k)
                scored.append(_test_rows(t[name].data, out["scores"], lost[name], detector=name,
                                         test=os.fspath(source)))
                table = out["metrics"] if out["video_metrics"] is None else out["video_metrics"]
                level = "video" if out["video_metrics"] is not None else "item"
                print(f"\n{name} tested on {source} ({level} level, threshold {args.threshold}; per method: its fakes "
                      "vs all reals):")
                print(table.to_string(float_format=lambda v: f"{v:.3f}"))
                long = out["metrics"].reset_index()
                long.insert(0, "detector", name)
                long.insert(1, "test", os.fspath(source))
                long.insert(2, "level", "frame" if out["video_metrics"] is not None else "item")
                out_rows.append(long)
                if out["video_metrics"] is not None:
                    v = out["video_metrics"].reset_index()
                    v.insert(0, "detector", name)
                    v.insert(1, "test", os.fspath(source))
                    v.insert(2, "level", "video")
                    out_rows.append(v)
                metrics = {"roc_auc": out["metrics"].loc["all", "roc_auc"]}
                if out["video_metrics"] is not None:
                    metrics["video_roc_auc"] = out["video_metrics"].loc["all", "roc_auc"]
                run.add_result(name, metrics, test=os.fspath(source), tracked_as=(
                    f"{name}." if len(pipes) > 1 else "") + f"{labels[os.fspath(source)]}.")
        if metrics_path is not None:
            C.write_text(metrics_path, pd.concat(out_rows, ignore_index=True).to_csv(index=False), "the results")
            if out_dir is not None and scored:  # each test row's score (not with --matrix)
                pd.concat(scored, ignore_index=True).to_parquet(out_dir / "scores.parquet", index=False)
            print(f"\nWrote {out_dir or metrics_path}")
        first = next(iter(train.values()))
        run.record(data=str(args.data), level=first.level, n_items=len(first), n_videos=C.count_videos(first))
    return 0


def _evaluate_model(args):
    import pandas as pd

    from ..metrics import evaluate
    from .._video_detector import takes_videos

    model = C.load_model(args.model)
    C.set_progress(model, args.progress)
    kind, data = C.load_input(args)
    metrics_path, out_dir = _out_paths(args)
    with C.Run(args, out=out_dir or metrics_path) as run:
        video_table = None
        if kind == "table":
            table = C.drop_failed(data)
            scorer, features, frames = _split_model(model)
            try:
                if frames:
                    table.check_frames(model=f"the model {os.fspath(args.model)!r}", **frames)
                F, _ = table.features_for(features)
            except ValueError as exc:
                raise C.CommandError(str(exc)) from None
            scores = C.fake_scores(scorer, F)
            y, methods, videos = table.y, table.methods, table.videos
            per_item = _scored_rows(table.data, scores)
            per_item["status"] = table.data["status"].to_numpy()
            per_item["error"] = table.data["error"].fillna("").to_numpy()
        else:
            # the files of the kind the model scores; the others are counted, never left out silently
            wanted = "video" if takes_videos(model) else "image"
            scored = (data["kind"] == wanted).to_numpy()
            others = data[~scored]
            manifest = data[scored].reset_index(drop=True)
            if len(others):
                counts = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}"
                                   for kind, n in others["kind"].value_counts(sort=False).items())
                if not len(manifest):
                    raise C.CommandError(f"DATA {args.data!r} holds no {wanted} ({counts}): {args.model} scores "
                                         f"{wanted}s")
                C.stderr(f"forensics evaluate: note: {counts} of DATA {'are' if len(others) != 1 else 'is'} not "
                         f"scored ({args.model} scores {wanted}s), first: {others['path'].iloc[0]}; the metrics are "
                         f"those of the {len(manifest)} {wanted}{'s' if len(manifest) != 1 else ''}")
            if not len(manifest):
                raise C.CommandError(f"DATA {args.data!r} holds no {wanted}")
            items = [i if p is None else p for p, i in zip(manifest["path"], manifest.get("item", manifest["path"]))]
            # an item that cannot be scored (unreadable, no face) is left out of the metrics and counted, as
            # 'forensics predict' records it, instead of stopping the evaluation of the others
            scores, errors, partial = C.score_items(model, items, progress=args.progress, desc="evaluate")
            cut = [i for i, (e, p) in enumerate(zip(errors, partial)) if p and not e]
            if cut:  # scored and kept, from the frames that could be read: said, as predict says it
                C.stderr(f"forensics evaluate: note: {len(cut)} of {len(items)} {wanted}s were read only in part and "
                         f"are scored from what could be read (status partial); first: "
                         f"{manifest['path'].iloc[cut[0]]}: {partial[cut[0]]}")
            failed = np.flatnonzero([bool(e) or not np.isfinite(v) for e, v in zip(errors, scores)])
            per_item = _scored_rows(manifest, scores)  # every item: the failed ones with their reason, no score
            reasons = [e or ("the model gave no finite score" if not np.isfinite(v) else "")
                       for e, v in zip(errors, scores)]
            bad = np.array([bool(r) for r in reasons], dtype=bool)
            per_item["score"] = np.where(bad, np.nan, per_item["score"])
            per_item["status"] = np.where(bad, "error", np.where([bool(p) for p in partial], "partial", "ok"))
            per_item["error"] = [r or p for r, p in zip(reasons, partial)]
            if len(failed) == len(items):
                raise C.CommandError(f"no item of DATA could be scored; first: {manifest['path'].iloc[0]}: "
                                     f"{errors[0] or 'the model gave no finite score'}")
            if len(failed):
                first = int(failed[0])
                C.stderr(f"forensics evaluate: note: {len(failed)} of {len(items)} {wanted}s could not be scored and "
                         f"are left out of the metrics; first: {manifest['path'].iloc[first]}: "
                         f"{errors[first] or 'the model gave no finite score'}")
                keep = np.ones(len(items), dtype=bool)
                keep[failed] = False
                manifest, scores = manifest[keep].reset_index(drop=True), scores[keep]
            y, methods, videos = manifest["label"].to_numpy(), manifest["method"].to_numpy(), None
        classes = np.unique(np.asarray(y)[~pd.isna(y)])
        if len(classes) == 1:
            C.stderr(f"forensics evaluate: note: DATA holds only {'fakes' if classes[0] == 1 else 'reals'}: the "
                     "ranking metrics (ROC-AUC, EER, average precision) are undefined (NaN); accuracy and the "
                     "rate of that class at the threshold are measured")
        table_all = evaluate(y, scores, threshold=args.threshold, groups=methods)
        level = "item"
        if videos is not None:
            from ..metrics import aggregate_labels, aggregate_scores

            how = getattr(model, "aggregate", args.aggregate)
            vs = aggregate_scores(scores, videos, how=how, k=getattr(model, "k", args.top_k))
            vy = aggregate_labels(y, videos)
            first = pd.Series(np.arange(len(y))).groupby(pd.factorize(videos, sort=False)[0]).first().to_numpy()
            video_table = evaluate(vy.to_numpy(), vs.to_numpy(), threshold=args.threshold,
                                   groups=None if methods is None else methods[first])
            level = "frame"
        print(f"Metrics of {args.model} on {len(y)} {'frame rows' if videos is not None else 'test items'} "
              f"(threshold {args.threshold}; per method: its fakes vs all reals):")
        print(table_all.to_string(float_format=lambda v: f"{v:.3f}"))
        if video_table is not None:
            print(f"\nVideo level ({int(video_table.loc['all', 'n'])} videos, score = {how} of their frame scores):")
            print(video_table.to_string(float_format=lambda v: f"{v:.3f}"))
        metrics = {"roc_auc": table_all.loc["all", "roc_auc"], "eer": table_all.loc["all", "eer"],
                   "average_precision": table_all.loc["all", "average_precision"]}
        if video_table is not None:
            metrics["video_roc_auc"] = video_table.loc["all", "roc_auc"]
        run.add_result(os.fspath(args.model), metrics)
        if metrics_path is not None:
            out = table_all.reset_index()
            out.insert(0, "level", level)
            if video_table is not None:
                v = video_table.reset_index()
                v.insert(0, "level", "video")
                out = pd.concat([out, v], ignore_index=True)
            C.write_text(metrics_path, out.to_csv(index=False), "the results")
            if out_dir is not None:  # each test row's score, for the user's own analysis
                per_item.to_parquet(out_dir / "scores.parquet", index=False)
            print(f"\nWrote {out_dir or metrics_path}")
        run.record(data=str(args.data), level=level, n_items=len(y))
    return 0


def _split_model(model):
    """(scorer of feature rows, features step) of a saved model, for scoring a feature table."""
    from sklearn.pipeline import Pipeline

    from .._video_detector import VideoDetector

    from .._tables import frame_values  # the face detector that cropped, not "auto"

    if isinstance(model, VideoDetector):
        return model.model_, model.features_.extractor_, dict(frame_values(model.features_), level="frame")
    steps = [(n, s) for n, s in model.steps if n != "equalize"]
    if steps[0][0] != "features":
        raise C.CommandError("the model has no 'features' step: it cannot score a feature table; give the files")
    first = steps[0][1]
    from ..features import VideoFeatures

    if isinstance(first, VideoFeatures):
        return Pipeline(steps[1:]), first.extractor_, dict(frame_values(first), level="video")
    return Pipeline(steps[1:]), first, None
