"""``forensics audit``: can the label be read off the file properties alone (the shortcut audit)?"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from . import _common as C
from ._options import deprecated_alias, option


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "audit",
        help="shortcut audit: can the label be predicted from file properties alone?",
        description=(
            "Read each image's container header (format, size, file size, JPEG quantization tables and quality, "
            "chroma subsampling, EXIF/ICC markers), or each video's (container, codec, size, frame rate, bit "
            "rate, duration...), with no pixel decoded, and cross-validate a one-property model against the label. "
            "A property that predicts the label (AUC >= --audit-threshold) is flagged: a detector could score by "
            "learning the file pipeline instead of the forgery. Prints the report; the warning is printed, not an "
            f"error (exit 0), unless --fail-on-shortcut is given (then exit {C.EXIT_SHORTCUT} when a property is "
            "flagged). train and evaluate run this audit first."
        ),
    )
    C.add_config(parser)
    C.add_data(parser)
    option(parser, "--per-class", key="data.per_class", type=C.int_at_least(2), default=None, metavar="N",
           help="audit a random sample of at most N items of each class (default: all)")
    option(parser, "--json", key="output.json", default=None, metavar="OUT",
           help="also write the report as JSON to OUT (the resolved config beside it)")
    option(parser, "--cv", key="cv.folds", type=C.int_at_least(2), default=5, metavar="K",
           help="folds (default: %(default)s)")
    spec = C.add_audit(parser, skip=False)  # this verb is the audit: no --no-audit
    deprecated_alias(parser, "--threshold", spec, metavar="AUC")
    option(parser, "--seed", key="cv.seed", type=C.int_at_least(0), default=0, help="seed of the sample and the folds")
    option(parser, "--fail-on-shortcut", key="audit.fail_on_shortcut", action="flag", default=False,
           help=f"exit with status {C.EXIT_SHORTCUT} when a property is flagged (for CI scripts)")
    C.add_run(parser)
    return parser


def _sample_per_class(paths, y, n, seed):
    rng = np.random.default_rng(seed)
    keep = []
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        keep.extend(idx if len(idx) <= n else rng.choice(idx, n, replace=False))
    keep = np.sort(np.asarray(keep, dtype=np.int64))
    return [paths[i] for i in keep], y[keep]


def run(args):
    from ..inspection import audit

    kind, data = C.load_input(args)
    if kind == "table":
        items = data.data.drop_duplicates("item_index")
        paths, y = [str(p) for p in items["path"]], items["label"].to_numpy()
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise C.CommandError(f"the table's files are not reachable (first: {missing[0]}); the audit reads them")
    else:
        paths = C.manifest_items(data)
        y = data["label"].to_numpy()
        if set(data["kind"]) == {"image", "video"}:
            from .._tables import mixed_kinds

            raise C.CommandError(f"DATA {args.data!r} mixes images and videos: {mixed_kinds(data)}; audit them "
                                 "separately")
    if args.per_class is not None:
        paths, y = _sample_per_class(paths, y, args.per_class, args.seed)
    with C.quiet_warnings():
        report = audit(paths, y, cv=args.cv, threshold=args.audit_threshold, random_state=args.seed,
                       n_jobs=args.n_jobs, progress=args.progress, warn=False, on_error="nan")
    print(report)
    failed = report.status[report.status["status"] != "ok"] if report.status is not None else []
    if len(failed):
        first = failed.iloc[0]
        print(f"\nwarning: {len(failed)} item{'s' if len(failed) != 1 else ''} could not be read (their properties are missing); first: "
              f"{first['source']}: {first['error']}")
    if args.json:
        table = report.table.reset_index().rename(columns={"index": "property"})
        payload = dict(
            n_items=report.n_items, class_balance={str(k): v for k, v in report.class_balance.items()},
            threshold=report.threshold, n_splits=report.n_splits, flagged=list(report.flagged),
            warning=report.warning_message, table=table.to_dict(orient="records"),
            n_failed_items=len(failed),
        )
        C.write_text(args.json, json.dumps(C.json_ready(payload), indent=2) + "\n", "the audit")
        C.write_resolved_config(args, args.json)
        print(f"\nWrote {args.json}")
    sys.stdout.flush()
    return C.EXIT_SHORTCUT if args.fail_on_shortcut and report.flagged else 0
