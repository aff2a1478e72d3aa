"""``forensics train``: fit a catalogued detector on every item of DATA (or a feature table) and save it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from . import _common as C
from ._options import option


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="fit a catalogued detector on every item of DATA (or a feature table) and save it",
        description=(
            "Build a catalogued detector (forensics.make_pipeline(NAME); forensics.list_estimators() lists them), "
            "fit it on every item of DATA and save it with forensics.save: .skops is safe to load (no arbitrary "
            "code), .joblib is a pickle (load only files you trust). From a feature table the features are read, "
            "not extracted again; the saved model still scores files. On videos the frame model is saved as a "
            "forensics.VideoDetector (frames sampled, scored, aggregated per video). The shortcut audit runs "
            "first (--no-audit skips it)."
        ),
    )
    C.add_config(parser)
    C.add_data(parser)
    C.add_detector(parser)
    parser._forensics_specs["detector"].required = True
    C.add_frames(parser)
    option(parser, "--out", key="output.out", required=True, metavar="MODEL|DIR",
           help="where to save the fitted model: a .skops or .joblib file, or a folder (model.skops is written there)")
    option(parser, "--seed", key="cv.seed", type=C.int_at_least(0), default=0, help="random_state of the pipeline")
    C.add_audit(parser)
    C.add_tracking(parser)
    C.add_run(parser)
    return parser


def model_file(out):
    out = Path(out)
    if out.suffix.lower() in C.MODEL_SUFFIXES:
        return out
    if out.suffix and not out.is_dir():
        raise C.UsageError(f"--out {os.fspath(out)!r}: the model file must end in .skops (safe to load) or "
                           ".joblib/.pkl (a pickle), or name a folder")
    return out / "model.skops"


def save_model(model, path):
    from .. import save

    C.set_progress(model, False)  # a saved model stays quiet; predict turns the bars on when it wants them
    try:
        save(model, path)
    except OSError as exc:
        raise C.CommandError(f"cannot write the model to {os.fspath(path)!r}: {exc.strerror or exc}") from None
    return path


def run(args):
    from ..inspection import split_pipeline

    pipe = C.build_detector(args.detector, args, args.params)  # bad --set values fail before the data is read
    C.check_weights(pipe, args.detector)
    path = model_file(args.out)
    C.prepare_out(path.parent if str(path.parent) else ".")
    kind, data = C.load_input(args)
    C.record_frames(args, kind, data)
    folder = Path(args.out) if path != Path(args.out) else None  # --out DIR: config.yaml and run.json in it
    with C.Run(args, out=folder or path) as run_:
        print(f"forensics train: {args.detector} on {args.data}", flush=True)
        C.audit_first(args, kind, data)
        t0 = time.perf_counter()
        prefix, _ = split_pipeline(pipe)
        if prefix is None:  # deep detectors that take the images (or videos) themselves
            if kind == "table":
                raise C.UsageError(f"{args.detector} takes raw images (no feature step); give the files, not a table")
            y = data["label"].to_numpy()
            _check_classes(y, args)
            items = C.manifest_items(data)  # OpenFake rows live in memory
            with C.quiet_warnings():
                pipe.fit(items, y)
            model, level, n, n_videos = pipe, "image", len(y), None
        else:
            table = C.drop_failed(C.table_for_detector(args, kind, data, pipe))
            print(f"  {C.describe_data(table)}")
            _check_classes(table.y, args)
            with C.quiet_warnings():
                model = table.fit_detector(pipe, aggregate=args.aggregate, k=args.top_k)
            level, n, n_videos = table.level, len(table), C.count_videos(table)
        save_model(model, path)
        steps = " -> ".join(n_ for n_, _ in model.steps) if hasattr(model, "steps") else type(model).__name__
        print(f"  fitted in {time.perf_counter() - t0:.1f} s; {steps}")
        print(f"Wrote {path}")
        run_.files.append(path)
        run_.add_result(args.detector, {"fit_seconds": time.perf_counter() - t0}, model=os.fspath(path))
        run_.record(data=str(args.data), level=level, n_items=n, n_videos=n_videos)
    return 0


def _check_classes(y, args):
    if len(np.unique(y)) < 2:
        raise C.CommandError(f"DATA {args.data!r} has items of one class only; training needs reals and fakes")
