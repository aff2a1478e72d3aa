"""``forensics predict``: fake scores of files and folders with a saved model, one row per input."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from . import _common as C
from ._options import option


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help="fake scores of image (or video) files and folders with a saved model",
        description=(
            "Score each input with a model saved by 'forensics train' or 'forensics tune' (or forensics.save). "
            "INPUTS are files and folders (a folder contributes its image files, or video files for a video model, "
            "sorted, recursively), or one feature table (.parquet) written by 'forensics extract' with the model's "
            "features (not for a video model scoring frames, which scores a video from its frames: give it the "
            "videos). One row per input file (or table row), in order: input, score (probability of fake), "
            "prediction (1 = fake, score >= --threshold), status and error. Status 'ok'; 'partial' for a video "
            "read only in part (frames missing, a truncated file): scored from the frames that could be read, "
            "error saying what was missing; 'error' for an input that cannot be read or scored (no score). The "
            "exit status is 0 unless every input fails."
        ),
    )
    C.add_config(parser)
    option(parser, "model", key="detector.model", metavar="MODEL", required=True,
           help="the saved model (.skops or .joblib)")
    option(parser, "inputs", key="data.inputs", metavar="INPUTS", nargs="*", required=True,
           help="image or video files, and folders of them; or one feature table .parquet")
    option(parser, "--format", key="output.format", choices=("csv", "json"), default="csv",
           help="output format (default: %(default)s)")
    C.add_output(parser, metavar="FILE", help="write there instead of to standard output (config and run record "
                                                 "beside it)")
    option(parser, "--threshold", key="cv.threshold", type=float, default=0.5, metavar="T",
           help="score at or above which an input is predicted fake (default: %(default)s)")
    option(parser, "--chunk-size", key="run.chunk_size", type=C.int_at_least(1), default=C.EXTRACT_CHUNK, metavar="N",
           help="inputs scored per call (default: %(default)s)")
    C.add_run(parser, n_jobs_option=False)
    return parser


def _expand_folder(folder, suffixes, kind):
    """(input, path or None, error) rows of the files of ``folder`` (sorted, recursively).

    The walk is the loaders' (:class:`~forensics.datasets.Inventory`): a file with one of
    ``suffixes`` that cannot be read (a broken link, no read permission, not a regular file) is a
    row with its reason, not a silent gap; other media files (another kind or format) and hidden
    files (``._x.jpg``) are not inputs, and are counted in one SkippedFilesWarning.
    """
    from ..datasets._inventory import HIDDEN, TRAILING, UNDECODABLE, Inventory, trailing_suffix

    inventory = Inventory(folder)
    files = [(p, "") for p in inventory.files_below(folder) if p.suffix.lower() in suffixes]
    problems = inventory.problems_below(folder)
    # a name with undecodable bytes is readable (the output writes it escaped), and so is one ending in
    # spaces or dots ('a.jpg '; the decoders read the content, not the suffix); other problems are errors
    files += [(p, "") for p, reason in problems if (reason == UNDECODABLE and p.suffix.lower() in suffixes)
              or (reason == TRAILING and trailing_suffix(p.name) in suffixes)]
    failed = [(p, reason) for p, reason in problems
              if reason not in (HIDDEN, UNDECODABLE) and p.suffix.lower() in suffixes and not os.path.isdir(p)]
    found = sorted(files + failed)
    inventory.settle([p for p, _ in found], loader="forensics predict", stacklevel=4, what="are not scored",
                     classify=lambda _, rel: (f"{Path(rel[-1]).suffix.lower()} file (the model takes {kind})", True))
    return [(os.fspath(p), None if reason else os.fspath(p), reason) for p, reason in found]


def _expand_inputs(inputs, suffixes, kind="images"):
    """(input, path or None, error) per input file; folders are expanded, sorted, recursively."""
    from ..media._item import not_found_reason, path_text, read_error_reason

    rows = []
    for text in inputs:
        path = Path(text)
        try:
            os.stat(text)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte...: this row only
            rows.append((text, None, read_error_reason(exc)))
            continue
        if path.is_dir():
            files = _expand_folder(path, suffixes, kind)
            if not files:
                rows.append((text, None, f"folder holds no file with suffix {', '.join(suffixes)}"))
            rows.extend(files)
        elif path.is_file():
            rows.append((text, text, ""))
        elif os.path.islink(text):
            rows.append((text, None, f"broken symbolic link (to {path_text(os.readlink(text))})"))
        elif os.path.lexists(text):
            rows.append((text, None, "not a regular file (a device, pipe or socket is never read)"))
        else:  # the file meant, when the name is a Unicode-normalization or Windows-separator look-alike
            rows.append((text, None, not_found_reason(text)))
    return rows


def run(args):
    from .._video_detector import takes_videos
    from ..datasets import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    if not args.inputs:
        raise C.UsageError("the following arguments are required: INPUTS")
    run_ = C.Run(args, out=args.out) if args.out else None  # timed from here; written with the predictions
    model = C.load_model(args.model)
    C.set_progress(model, False)
    tables = [p for p in args.inputs if C.is_table(p)]
    if tables and len(args.inputs) > 1:
        raise C.UsageError(f"a feature table must be the only input (got {tables[0]} with {len(args.inputs) - 1} "
                           "other input(s)); score the files, or the table alone")
    if tables:
        rows, scores, errors, partial = _score_table(model, tables[0], args.model)
        return _write(args, rows, scores, errors, partial, run_)
    video = takes_videos(model)
    rows = _expand_inputs(args.inputs, VIDEO_SUFFIXES if video else IMAGE_SUFFIXES, "videos" if video else "images")
    scores, errors, partial = C.score_items(model, [path for _, path, _ in rows], args.chunk_size, args.progress,
                                            [e for _, _, e in rows])
    return _write(args, rows, scores, errors, partial, run_)


def _score_table(model, source, model_path="the model"):
    """Rows, scores and errors of a feature table written by 'forensics extract': one per table row."""
    from .._tables import read_table
    from ._evaluate import _split_model

    table = read_table(source)
    scorer, features, frames = _split_model(model)
    if frames is not None and frames["level"] == "frame":
        raise C.CommandError("a video detector scores a video from all its frames: give the videos, not a "
                             "feature table")
    try:
        if frames is not None:
            table.check_frames(model=f"the model {os.fspath(model_path)!r}", **frames)
        F, names = table.features_for(features)
    except ValueError as exc:
        raise C.CommandError(str(exc)) from None
    ok = np.asarray(table.ok, dtype=bool)
    rows = [(str(p), None, "") for p in table.paths]
    errors = ["" if k else C.one_line(f"not extracted: {e}") for k, e in
              zip(ok, table.data["error"] if "error" in table.data.columns else [""] * len(ok))]
    scores = np.full(len(rows), np.nan)
    F = np.asarray(F, dtype=np.float64)
    empty, reason = C.empty_rows(F, list(names))
    for i in np.flatnonzero(ok & empty):
        errors[i] = reason
    if "status" in table.data.columns:
        for i, why in C.faceless_rows(F, list(names), table.data["status"], table.data["error"].fillna("")).items():
            errors[i], empty[i] = why, True
    ok = ok & ~empty
    if ok.any():
        scores[ok] = C.fake_scores(scorer, F[ok])
    # a row extract marked 'partial' (a video read in part) is scored, and keeps that status and reason
    statuses = table.data["status"] if "status" in table.data.columns else [""] * len(rows)
    partial = [C.one_line(e) if s == "partial" else "" for s, e in
               zip(statuses, table.data["error"].fillna("") if "error" in table.data.columns else [""] * len(rows))]
    return rows, scores, errors, partial


def _write(args, rows, scores, errors, partial, run_=None):
    import pandas as pd

    for i in range(len(rows)):
        if not errors[i] and not np.isfinite(scores[i]):
            errors[i] = "the model gave no finite score"
    from ..media._item import path_text

    ok = np.array([not e for e in errors])
    cut = np.array([bool(k and p) for k, p in zip(ok, partial)], dtype=bool)  # scored from part of the video
    errors = [path_text(e or (p if k else "")) for e, p, k in zip(errors, partial, ok)]  # undecodable bytes escaped
    table = pd.DataFrame(dict(
        input=[path_text(r[0]) for r in rows],
        score=np.where(ok, scores, np.nan),
        prediction=pd.array([int(s >= args.threshold) if k else None for s, k in zip(scores, ok)], dtype="Int64"),
        status=np.where(ok, np.where(cut, "partial", "ok"), "error"),
        error=errors,
    ))
    if args.format == "csv":
        text = table.to_csv(index=False)
    else:
        records = [C.json_ready(dict(r, prediction=None if pd.isna(r["prediction"]) else int(r["prediction"])))
                   for r in table.to_dict(orient="records")]
        text = json.dumps(records, indent=2) + "\n"
    if args.out:
        C.write_text(args.out, text, "the predictions")
        with run_:  # <out>.config.yaml and <out>.run.json beside it
            run_.record(data=" ".join(map(str, args.inputs)), n_items=len(rows),
                        extra=dict(model=os.fspath(args.model), n_failed=int((~ok).sum()), n_partial=int(cut.sum())))
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    n_bad = int((~ok).sum())
    if 0 < n_bad < len(rows):
        first = int(np.flatnonzero(~ok)[0])
        print(f"forensics predict: {n_bad} of {len(rows)} inputs failed (status error); first: {table['input'][first]}: "
              f"{errors[first]}", file=sys.stderr)
    if cut.any():
        first = int(np.flatnonzero(cut)[0])
        print(f"forensics predict: {int(cut.sum())} of {len(rows)} inputs were read only in part and scored from "
              f"what could be read (status partial); first: {table['input'][first]}: {errors[first]}",
              file=sys.stderr)
    if args.out:
        print(f"Wrote {args.out} ({len(rows)} rows)", file=sys.stderr)
    if n_bad == len(rows):
        raise C.CommandError(f"every input failed; first: {rows[0][0]}: {errors[0]}")
    return 0
