"""``forensics extract``: a feature table (Parquet, with provenance) from images, videos or face crops."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import _common as C
from ._options import UsageError, deprecated_alias, option


def _detector_or_face(text):
    """``--detector``: a catalogued detector (its features), or a face detector (the old spelling)."""
    if text in C.FACE_DETECTORS:
        return text
    return C.detector_name(text)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "extract",
        help="extract a feature table (Parquet) from images, videos or face crops; resumable",
        description=(
            "Extract features for every item of DATA into a Parquet feature table (OUT/features.parquet, or OUT "
            "itself when it ends in .parquet): the manifest's columns, item_index, status and error (an item that "
            "cannot be read is a row of NaN features with status 'error', never a dropped row), then one column "
            "per feature; the file's metadata records the versions, the extractor's parameters, the frame and "
            "face settings, the command and the config. train, evaluate, report and tune read such a table "
            "instead of extracting again, and refuse one made with other settings. Videos give one row per "
            "sampled frame (--level frame; with --faces one per face crop) or per video (--level video, extract's "
            "default for videos: one row per item). Chunks are saved as they finish: the same command after an interruption extracts only "
            "the items not done and writes the same table. Run on a finished table, it leaves the table as it is; "
            "with --retry-failed it extracts again the items that failed (status 'error') and only those."
        ),
    )
    C.add_config(parser)
    C.add_data(parser, tables=False)
    option(parser, "--out", key="output.out", required=True, metavar="DIR|FILE.parquet",
           help="output folder (features.parquet is written there) or the .parquet file")
    option(parser, "--features", key="features.spec", type=C.features_spec, default=None, metavar="SPEC",
           help="a preset (full, minimal, pixels) or comma-separated extractors, e.g. spectral,noise (default: full "
                "for images, pixels for video frames and face crops)")
    option(parser, "--detector", key="detector.name", type=_detector_or_face, default=None, metavar="NAME",
           help="extract the features this catalogued detector uses (instead of --features)")
    option(parser, "--equalize", key="features.equalize", action="flag", default=False,
           help="re-encode every image the same way first (forensics.media.CodecEqualizer), so the codec cannot "
                "give the label away")
    specs = parser._forensics_specs
    C.add_frames(parser)
    deprecated_alias(parser, "--model", specs["face_model"], metavar="PATH")
    option(parser, "--retry-failed", key="run.retry_failed", action="flag", default=False,
           help="OUT already holds a table (or the chunks of an interrupted run): extract again only the items "
                "whose rows have status 'error' (e.g. a file that was missing or unreadable then), keeping the "
                "other rows as they are, in order with their item_index (not with --faces crops at frame level)")
    option(parser, "--chunk-size", key="run.chunk_size", type=C.int_at_least(1), default=C.EXTRACT_CHUNK, metavar="N",
           help="items per saved chunk (default: %(default)s)")
    C.add_audit(parser)
    option(parser, "--seed", key="cv.seed", type=C.int_at_least(0), default=0, help="seed of the audit's folds")
    C.add_run(parser)
    option(parser, "--scheduler", key="run.scheduler", default=None, metavar="ADDRESS",
           help="run the items on the Dask cluster of this scheduler, e.g. tcp://host:8786 (default: the "
                "FORENSICS_SCHEDULER environment variable when set, else this machine); the table is the same")
    return parser


def run(args):
    """``extract`` on the Dask cluster named by ``--scheduler`` (or ``FORENSICS_SCHEDULER``), else here."""
    from .._parallel import SCHEDULER_ENV, use_cluster

    address = args.scheduler if args.scheduler is not None else os.environ.get(SCHEDULER_ENV, "")
    if not address.strip():
        if args.scheduler is not None:
            raise UsageError("--scheduler needs an address, e.g. tcp://host:8786")
        return _run_here(args)
    if getattr(args, "n_jobs", None) is not None:
        raise UsageError(f"--n-jobs does not apply with --scheduler or {SCHEDULER_ENV} (the cluster's workers set "
                         "the parallelism)")
    with use_cluster(address):
        return _run_here(args)


def _run_here(args):
    from .._tables import mixed_kinds

    if args.detector in C.FACE_DETECTORS:  # the old meaning of --detector in this verb
        C.stderr(f"forensics extract: note: --detector {args.detector} is deprecated here; use --face-detector")
        if args.face_detector is not None and args.face_detector != args.detector:
            raise UsageError("--detector (deprecated) and --face-detector disagree")
        args.face_detector, args.detector = args.detector, None
        args._resolved["frames.face_detector"], args._resolved["detector.name"] = args.face_detector, None
    if args.detector is not None and args.features is not None:
        # one from the command line and the other from the config: the command line wins
        cli_features, cli_detector = "features.spec" in args._cli, "detector.name" in args._cli
        if cli_features and not cli_detector:
            args.detector = args._resolved["detector.name"] = None
        elif cli_detector and not cli_features:
            args.features = args._resolved["features.spec"] = None
        else:
            raise UsageError("give --features or --detector, not both")
    C.check_face_options(args)
    manifest = C.load_manifest(args, labels=False)
    out = Path(args.out)
    table_path = out if out.suffix.lower() == ".parquet" else out / "features.parquet"
    C.prepare_out(table_path.parent)
    kinds = set(manifest["kind"])
    if kinds == {"image", "video"}:
        raise C.CommandError(f"DATA {args.data!r} mixes images and videos: {mixed_kinds(manifest)}, whose feature "
                             "columns differ; extract them separately")
    video = kinds == {"video"}
    if video and not args.faces and args.level is None:  # extract's default: one row per item (video)
        args.level = args._resolved["frames.level"] = "video"
    if video and args.equalize:
        raise UsageError("--equalize applies to images; video frames are decoded pixels")
    if args.faces and args.equalize:
        raise UsageError("--equalize re-encodes whole images; it does not apply to --faces crops")
    if args.detector is not None:
        features = C.build_detector(args.detector, args).steps[0][1]
        if getattr(features, "get_feature_names_out", None) is None:
            raise UsageError(f"{args.detector} takes raw images (no feature step): there is nothing to extract")
        spec_text = f"the features of {args.detector}"
    else:
        features = args.features or ("pixels" if (video or args.faces) else "full")
        spec_text = f"features {features if isinstance(features, str) else ','.join(features)}"
    C.record_frames(args, "manifest", manifest)
    labelled = "label" in manifest.columns
    report = None
    if labelled and args.audit:
        report = C.audit_first(args, "manifest", manifest)
    with C.Run(args, out=table_path if out.suffix.lower() == ".parquet" else out) as run_:
        print(f"forensics extract: {len(manifest)} {'videos' if video else 'images'} of {args.data}, {spec_text}"
              + (", faces cropped" if args.faces else "")
              + (f", level {args.level or 'frame'}" if video else ""), flush=True)
        common = C.extraction_kwargs(args)
        crops = args.faces and not (video and args.level == "video")
        try:
            table = _extract(args, manifest, features, table_path, report, video, common)
        except KeyboardInterrupt:  # say what is saved and how to go on (main prints it, exit 130)
            raise KeyboardInterrupt(_interrupted(manifest, table_path, crops)) from None
        table.data.to_csv(table_path.with_suffix(".csv"), index=False)  # the same rows, for any tool
        items = table.data.drop_duplicates("item_index")
        n_errors = int((items["status"] == "error").sum())
        n_kept = int(table.meta.get("n_kept", 0))
        if n_kept:  # a resumed run, or the same command on a finished table: say what was not recomputed
            print(f"  {n_kept} of {len(items)} item{'s' if len(items) != 1 else ''} taken from {table_path} "
                  f"{'or its chunks ' if n_kept < len(items) else ''}as already extracted (not recomputed)")
        if args.retry_failed:
            n_retried = int(table.meta.get("n_retried", 0))
            print(f"  retried {n_retried} item{'s' if n_retried != 1 else ''} that had failed"
                  + (f"; {n_errors} still failing" if n_retried else " (none had)"))
        if n_errors:
            first = items[items["status"] == "error"].iloc[0]
            print(f"  warning: {n_errors} item{'s' if n_errors != 1 else ''} could not be processed (status 'error', NaN features); first: "
                  f"{first['path']}: {first['error']}")
            if not crops:
                # a rerun leaves failed rows as they are: say which option extracts them again
                print(f"  once {'they are' if n_errors != 1 else 'it is'} readable, the same command with "
                      "--retry-failed extracts again only the failed items")
        n_partial = int((items["status"] == "partial").sum())
        if n_partial:  # kept, with features from the frames that were read: said, never passed over as ok
            first = items[items["status"] == "partial"].iloc[0]
            print(f"  warning: {n_partial} item{'s' if n_partial != 1 else ''} could be read only in part (status "
                  f"'partial': features from the frames read); first: {first['path']}: {first['error']}")
        rows = f"{len(table)} rows" + (f" ({len(items)} items)" if table.level == "frame" else "")
        print(f"Wrote {table_path} ({rows} x {len(table.feature_names)} features, level {table.level}; "
              f"{n_errors} with status error, {n_partial} partial)")
        # n_items counts the table's rows, as every verb's run.json does (frame rows at frame level; the
        # videos are n_videos): it counted the videos here, so that extract and evaluate disagreed
        run_.record(data=str(args.data), level=table.level, n_items=int(len(table)), n_videos=C.count_videos(table),
                    extra=dict(table=os.fspath(table_path), n_features=len(table.feature_names)))
    if len(items) and n_errors == len(items):
        raise C.CommandError(f"feature extraction failed on every item; see the error column of {table_path}")
    return 0


def _extract(args, manifest, features, table_path, report, video, common):
    """The feature table: face crops first (--faces at frame level), else extract_table's chunks."""
    from .._tables import TableMismatchError, extract_table

    if args.faces and not (video and args.level == "video"):
        if args.retry_failed:
            raise UsageError("--retry-failed does not apply to --faces crops at frame level (the crops are "
                             "written by the face extraction, not in chunks of the table); delete OUT to "
                             "extract them again")
        # crops on disk (resumable, with a quality report), then one table row per crop; --level video
        # (one row per video, its face crops' features aggregated over time) is extract_table's, as images
        table = _faces_table(manifest, features, table_path, args, report, "video" if video else "image")
    else:
        try:
            with C.quiet_warnings():
                table = extract_table(manifest, features=features, equalize=bool(args.equalize),
                                      chunk_size=args.chunk_size, out=table_path, config=args._resolved,
                                      command=C.command_line(args), audit=report,
                                      retry_failed=bool(args.retry_failed), **common)
        except TableMismatchError as exc:
            raise C.CommandError(str(exc)) from None
    return table


def _possessive(n):
    """``items'`` (the crops of 3 items), or ``item's`` for one: "0 of 1 item' face crops" misspelt it."""
    return "items'" if n != 1 else "item's"


def _interrupted(manifest, table_path, crops):
    """What an interrupted extract has saved, and how to go on from there."""
    n = len(manifest)
    try:
        if crops:  # crops are written per item by the face extraction, a marker last
            from ..datasets._extract import done_items

            k = done_items(manifest["path"], table_path.parent)
            return (f"{k} of {n} {_possessive(n)} face crops are saved in {table_path.parent}; the same "
                    "command resumes, cropping only the others")
        from .._tables import saved_items

        k = saved_items(table_path)
    except Exception:  # noqa: BLE001 - a chunk being written as the interruption came: say what holds anyway
        k = None
    parts = table_path.with_name(table_path.name + ".parts")
    where = parts if parts.is_dir() and not table_path.is_file() else table_path
    saved = f"{k} of {n} item{'s' if n != 1 else ''} are saved" if k is not None else "the finished chunks are saved"
    return (f"{saved} in {where}; the same command resumes, extracting only the others (then --retry-failed "
            "extracts again the items that failed)")


def _faces_table(manifest, features, table_path, args, report, kind):
    """--faces: face crops written by extract_faces (resumable), then one table row per crop.

    The rows are those VideoFeatures(faces=True).transform_frames gives (same sampling, detector
    and crop), so the table serves the other verbs like an in-memory extraction would."""
    import pandas as pd

    from .. import __version__
    from .._pipeline import make_features
    from .._tables import TABLE_FORMAT, FeatureTable, _canonical, _one_line, _versions, feature_fingerprint
    from ..datasets import extract_faces
    from ..datasets._extract import _item_keys

    for column in ("label", "method"):
        if column not in manifest.columns:
            raise C.CommandError(f"--faces needs a {column!r} column in the manifest (it reports face-found rates "
                                 "per class and method)")
    extractor = make_features(features, on_error="nan") if isinstance(features, (str, list)) else features
    extractor = extractor.fit() if not hasattr(extractor, "feature_names_out_") else extractor
    crops_dir = table_path.parent
    try:
        with C.quiet_warnings():
            result = extract_faces(manifest.drop(columns=["kind"]), crops_dir, detector=C.face_backend(args),
                                   model_path=args.face_model, n_frames=args.n_frames or 32, every=args.every,
                                   features=extractor, n_jobs=args.n_jobs, progress=args.progress)
    except ValueError as exc:  # crops of other settings in OUT (named), or a manifest it cannot use
        raise C.CommandError(C.one_line(exc)) from None
    print(result.report)
    if result.n_reused:  # a resumed run (or a rerun into the same output): say what was not cropped again
        print(f"  {result.n_reused} of {len(manifest)} {_possessive(len(manifest))} face crops taken from "
              f"{crops_dir} as already extracted (not recomputed)")
    names = [str(n) for n in extractor.get_feature_names_out()]
    from ..datasets._manifest import read_manifest_csv  # a file 'NA', a method 'None': read as written

    crops = read_manifest_csv(crops_dir / "features.csv")
    # Each crop's item is the manifest row whose folder holds it (crops/<key>/...): a path listed twice
    # has two rows and two folders, so its crops are not all given to its first row.
    row_of = {key: i for i, key in enumerate(_item_keys(manifest["path"]))}
    item = np.array([row_of[Path(str(c)).parts[1]] for c in crops["crop_path"]], dtype=np.int64)
    status = result.status.set_index("row")
    added = pd.DataFrame(dict(item_index=item,
                              status=status.loc[item, "status"].to_numpy(),  # "ok", or "partial" (frames missing)
                              error=status.loc[item, "error"].fillna("").map(_one_line).to_numpy()))
    crops = pd.concat([added, crops], axis=1)  # one concatenation: inserting column by column fragments the frame
    missing = sorted(set(range(len(manifest))) - set(crops["item_index"]))
    extra = manifest.iloc[missing].drop(columns=["kind"]).reset_index(drop=True)
    extra.insert(0, "item_index", np.asarray(missing, dtype=np.int64))  # int64 even when none is missing
    extra["frame_index"], extra["face_index"] = -1, -1
    # no crop: unreadable (the reader's reason) or no face found (in how many sampled frames): one row each
    extra["status"] = "error"
    extra["error"] = [_one_line(status.loc[i, "error"]) or "no face found" for i in missing]
    data = pd.concat([crops, extra], ignore_index=True).sort_values("item_index", kind="stable").reset_index(drop=True)
    front = [c for c in data.columns if c not in names and c not in ("status", "error")] + ["status", "error"]
    data = data[front + names]
    meta = dict(format=TABLE_FORMAT, versions={**_versions(), "forensics": __version__}, level="frame", kind=kind,
                features=dict(spec=_canonical(features if isinstance(features, (str, list)) else "detector"),
                              extractors=feature_fingerprint(extractor)),
                frames=_canonical(dict(n_frames=args.n_frames or 32, every=args.every, faces=True,
                                       detector=C.face_backend(args), model_path=args.face_model, margin=1.3,
                                       size=256, select="largest", no_face="skip")),
                aggregate=None, equalize=False, command=C.command_line(args), config=_canonical(args._resolved),
                source=dict(data=str(args.data), dataset=manifest.attrs.get("dataset"), n_items=len(manifest)),
                audit=None if report is None else _canonical(dict(flagged=list(report.flagged),
                                                                  warning=report.warning_message,
                                                                  auc={k: float(v) for k, v in
                                                                       report.table["auc"].items()})))
    table = FeatureTable(data, names, meta)
    table.to_parquet(table_path)
    return table

