"""What the verbs share: option groups (one meaning per flag), data, outputs, audit and tracking glue.

No science here: every helper reads arguments, calls one library function and reports.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from ._options import UNSET, CommandError, UsageError, option

__all__ = ["CommandError", "UsageError"]

#: Exit status of ``audit --fail-on-shortcut`` when a property is flagged.
EXIT_SHORTCUT = 3
#: Items processed per chunk by ``extract``.
EXTRACT_CHUNK = 64
MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle")
FACE_DETECTORS = ("auto", "yunet", "cascade", "mtcnn")
#: forensics.metrics.AGGREGATIONS and THRESHOLD_RULES, repeated so that building the parser (and
#: ``forensics --help``) imports no pandas or scikit-learn; tests/test_cli.py checks they agree.
AGGREGATIONS = ("mean", "median", "max", "topk_mean")
THRESHOLD_RULES = ("eer", "youden", "f1", "accuracy")


# -- argument types ---------------------------------------------------------------------------------

def int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"int>={low}"  # argparse shows the name in its messages
    return parse


def positive_float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def n_jobs(text):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must be a non-zero integer (-1 uses every core)")
    return value


def detector_name(text):
    from ..estimators import names

    if text not in names():
        raise argparse.ArgumentTypeError(f"unknown detector {text!r}; the catalogue has {', '.join(names())} "
                                         "(forensics.list_estimators())")
    return text


def detector_or_all(text):
    return text if text == "all" else detector_name(text)


def model_path(text):
    if Path(text).suffix.lower() not in MODEL_SUFFIXES:
        raise argparse.ArgumentTypeError(f"{text!r}: the model file must end in .skops (safe to load) or "
                                         ".joblib/.pkl (a pickle)")
    return text


def set_pair(text):
    """``--set head__max_depth=3``: a pipeline parameter and a Python literal (else a string)."""
    import ast

    key, sep, raw = str(text).partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. head__max_depth=3), got {text!r}")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return key, value


def features_spec(text):
    """``--features``: a preset, or comma-separated extractor names."""
    from ..features import ALL_EXTRACTORS, PRESETS

    if text in PRESETS:
        return text
    names = [t.strip() for t in str(text).split(",") if t.strip()]
    unknown = [n for n in names if n not in ALL_EXTRACTORS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown features {', '.join(unknown) or repr(text)}: use a preset "
                                         f"({', '.join(PRESETS)}) or extractors ({', '.join(ALL_EXTRACTORS)}), "
                                         "comma-separated")
    return names


def threshold(text):
    if text in THRESHOLD_RULES:
        return text
    try:
        return float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a number or one of {', '.join(THRESHOLD_RULES)}, "
                                         f"got {text!r}") from None


def audit_threshold(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.5 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0.5, 1], got {value}")
    return value


def regex(text):
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression: {exc}") from None
    return text


# -- option groups (a flag means the same thing in every verb) ------------------------------------------

def add_config(parser):
    parser.add_argument("--config", metavar="FILE.yaml", default=None,
                        help="read options from this YAML file (keys as in the resolved config.yaml a run writes); "
                             "flags given on the command line override it")


def add_data(parser, *, labels=True, tables=True):
    from .._sources import DATASETS

    what = "a folder with real/ and fake/[<method>/] sub-folders (images or videos), a manifest .csv with a path " \
           "column" + (" and a label column (fake = 1)" if labels else "") + ", a data set root with --dataset"
    if tables:
        what += ", or a feature table .parquet written by 'forensics extract'"
    option(parser, "data", key="data.path", metavar="DATA", help=what, required=True)
    option(parser, "--dataset", key="data.dataset", choices=[d for d in DATASETS if d != "folder"], default=None,
           metavar="NAME", help="read DATA as the root of this data set: " + ", ".join(d for d in DATASETS
                                                                                     if d != "folder"))
    option(parser, "--strict", key="data.strict", action="flag", default=False,
           help="a folder or data set root: stop with an error, instead of a warning, when a media file under it "
                "would be left out (unlabelled, outside the layout, unreadable listing); files its labels list "
                "but that are missing are rows with status 'error' either way")
    option(parser, "--group-pattern", key="data.group_pattern", type=regex, metavar="REGEX", default=None,
           help="derive each item's group (items that must not straddle a split) from its file name: the capture "
                "group of REGEX, several joined by '/' (e.g. '^(?P<actor>id\\d+)_(?P<source>\\w+?)_' groups by actor "
                "and source video), else the whole match (default: the data's group column, if any)")


def add_frames(parser):
    from ._options import _specs

    group = parser.add_argument_group("videos (frames and faces)")
    group._forensics_specs = _specs(parser)  # options of the group belong to the verb
    option(group, "--level", key="frames.level", choices=("frame", "video"), default=None,
           help="videos: 'frame' (the default, except in extract) trains on sampled frames and scores a video by "
                "aggregating its frames; 'video' (extract's default: one row per item) makes one row per video "
                "from each frame feature's aggregates over time")
    option(group, "--n-frames", key="frames.n_frames", type=int_at_least(1), default=None, metavar="N",
           help="frames sampled evenly from each video (default: 32)")
    option(group, "--every", key="frames.every", type=int_at_least(1), default=None, metavar="K",
           help="sample every K-th frame instead of --n-frames")
    option(group, "--faces", key="frames.faces", action="flag", default=None,
           help="detect and crop faces; features are computed on the crops")
    option(group, "--face-detector", key="frames.face_detector", choices=FACE_DETECTORS, default=None,
           help="face detector for --faces (default: auto, the best that runs here: yunet with --face-model, "
                "else mtcnn when facenet-pytorch is installed, else cascade; the config and the table record the one "
                "that ran)")
    option(group, "--face-model", key="frames.face_model", default=None, metavar="PATH",
           help="model file of the face detector (the YuNet ONNX file for --face-detector yunet)")
    option(group, "--aggregate", key="frames.aggregate", choices=AGGREGATIONS, default="mean",
           help="how frame scores make a video score (forensics.metrics.aggregate_scores; default: %(default)s)")
    option(group, "--top-k", key="frames.top_k", type=int_at_least(1), default=3, metavar="K",
           help="frames averaged by --aggregate topk_mean (default: %(default)s)")
    return group._forensics_specs


def add_detector(parser, *, multiple=False, required=False, params=True, equalize=True):
    spec = option(parser, "--detector", key="detector.name", type=detector_or_all if multiple else detector_name,
                  action="append" if multiple else None, default=None, metavar="NAME",
                  help=("catalogued detector (repeatable; 'all' for every image detector that needs no downloaded "
                        "weights)" if multiple else "catalogued detector (forensics.list_estimators())"))
    if params:
        option(parser, "--set", key="detector.params", type=set_pair, action="pairs", default={}, dest="params",
               metavar="NAME=VALUE", help="a pipeline parameter, e.g. --set head__C=0.1 (repeatable; values are "
                                           "Python literals, else strings)")
    if equalize:
        option(parser, "--equalize", key="features.equalize", action="flag", default=False,
               help="images: re-encode every item the same way first (forensics.media.CodecEqualizer), so the codec "
                    "cannot give the label away")
    return spec


def add_cv(parser, *, folds=True):
    if folds:
        option(parser, "--cv", key="cv.folds", type=int_at_least(2), default=5, metavar="K",
               help="cross-validation folds, stratified and grouped when groups are known (default: %(default)s)")
        option(parser, "--threshold-rule", key="cv.threshold_rule", choices=THRESHOLD_RULES, default="eer",
               help="how each fold's decision threshold is chosen on a validation split of its training part "
                    "(default: %(default)s)")
    option(parser, "--seed", key="cv.seed", type=int_at_least(0), default=0,
           help="seed of the folds, samples and pipelines (default: %(default)s)")


def add_audit(parser, *, skip=True):
    spec = option(parser, "--audit-threshold", key="audit.threshold", type=audit_threshold, default=0.8, metavar="AUC",
                  help="the shortcut audit flags a file property whose out-of-fold AUC is at least this "
                       "(default: %(default)s)")
    if not skip:
        return spec
    option(parser, "--no-audit", key="audit.enabled", action="flag", const=False, default=True, dest="audit",
           help="skip the shortcut audit run first (it reads file headers only, and prints a warning when the "
                "label can be read off the file pipeline)")
    return spec


def add_output(parser, *, required=False, metavar="DIR", help="output folder"):
    option(parser, "--out", key="output.out", default=None, metavar=metavar, help=help, required=required)


def add_tracking(parser):
    option(parser, "--track", key="output.track", nargs="?", const="", default=None, metavar="URI",
           help="log the run to MLflow: a tracking URI (sqlite:///runs.db, http://host:port) or a path; without a "
                "value, $FORENSICS_TRACKING_URI or ./mlflow.db (default: $FORENSICS_TRACKING_URI if set, else off)")
    option(parser, "--experiment", key="output.experiment", default="forensics", metavar="NAME",
           help="MLflow experiment name (default: %(default)s)")


def add_run(parser, *, n_jobs_option=True):
    option(parser, "--no-progress", key="run.progress", action="flag", const=False, default=True, dest="progress",
           help="do not show progress bars")
    if n_jobs_option:
        option(parser, "--n-jobs", key="run.n_jobs", type=n_jobs, default=None, metavar="N",
               help="items processed in parallel (default: 1; -1 uses every core)")


# -- outputs ----------------------------------------------------------------------------------------------

def one_line(text):
    """A message on one line, without memory addresses (``<object at 0x7f...>`` differs run to run)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", " ".join(str(text).split()))


def prepare_out(path):
    """Create the output folder and prove it is writable before any long computation."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise CommandError(f"cannot write to --out {os.fspath(out)!r}: {exc.strerror or exc}") from None
    return out


def write_text(path, text, what):
    path = Path(path)
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {what} to {os.fspath(path)!r}: {exc.strerror or exc}") from None


def beside(out, name):
    """A file ``name`` in the output folder ``out``, or beside the output file ``out`` (``<stem>.<name>``)."""
    out = Path(out)
    if out.suffix and not out.is_dir():
        return out.with_name(f"{out.stem}.{name}")
    return out / name


def command_line(args):
    """The command as typed, for comments and records (a file name's undecodable bytes escaped: the
    resolved config itself keeps them exactly, as YAML escapes)."""
    import shlex

    from ..media._item import path_text

    return "forensics " + " ".join(shlex.quote(path_text(a)) for a in args._argv)


def write_resolved_config(args, out, extra=None):
    """Write the resolved options (``config.yaml`` beside the outputs); returns the path."""
    from .. import __version__
    from .._config import write_config

    flat = dict(args._resolved)
    flat.update(extra or {})
    flat = {"command": args.command, **flat}
    path = beside(out, "config.yaml")
    try:
        write_config(path, flat, header=(f"forensics {__version__}: the resolved options of this run; "
                                         "reproduce it with: forensics " + args.command + " --config " + path.name,
                                         command_line(args)))
    except OSError as exc:
        raise CommandError(f"cannot write the config to {os.fspath(path)!r}: {exc.strerror or exc}") from None
    return path


class Run:
    """The bookkeeping of one command run: timing, run record, MLflow tracking."""

    def __init__(self, args, *, out=None, run_name=None):
        from ..tracking import Tracker, new_run_id, resolve_tracking_uri

        self.args = args
        self.out = out
        self.run_id = new_run_id()
        self.started = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
        self._t0 = time.perf_counter()
        self.results = []
        uri = resolve_tracking_uri(getattr(args, "track", None))
        tags = {"forensics.command": args.command, "forensics.run_id": self.run_id}
        self.tracker = Tracker(uri, experiment=getattr(args, "experiment", "forensics") or "forensics",
                               run_name=run_name or args.command, tags=tags)
        self.files = []

    def __enter__(self):
        try:
            self.tracker.__enter__()
        except Exception as exc:  # an unreachable server, an unwritable store...
            raise CommandError(f"cannot start tracking at {self.tracker.uri!r}: {type(exc).__name__}: "
                               f"{one_line(exc)}") from None
        if self.tracker.active:
            self.tracker.log_params({k: _param_text(v) for k, v in self.args._resolved.items()})
            self.tracker.set_tags({"forensics.command_line": command_line(self.args)})
        return self

    def __exit__(self, exc_type, exc, tb):
        self.tracker.__exit__(exc_type, exc, tb)
        return False

    def add_result(self, detector, metrics, *, prefixed=False, tracked_as=None, log=True, **fields):
        """Record one detector's metrics; when tracking, log them (as ``DETECTOR.metric`` with
        ``prefixed=True``, which a run of several detectors gives every one of them, the first too;
        as ``<tracked_as>metric`` when given, e.g. ``DETECTOR.TEST.`` for one of several test sets;
        not at all with ``log=False``, for names MLflow refuses, logged otherwise by the caller)."""
        self.results.append(dict(detector=detector, **fields, metrics=metrics))
        if self.tracker.active and log:
            prefix = tracked_as if tracked_as is not None else (
                f"{detector}." if prefixed or len(self.results) > 1 else "")
            self.tracker.log_metrics({f"{prefix}{k}": v for k, v in metrics.items()})

    def record(self, *, data=None, level=None, n_items=None, n_videos=None, extra=None):
        """Write the run record and the resolved config beside the outputs; log them when tracking."""
        from .. import __version__
        from .._tables import _versions
        from ..tracking import write_run_record

        record = dict(run_id=self.run_id, command=self.args.command, command_line=command_line(self.args),
                      started=self.started, seconds=round(time.perf_counter() - self._t0, 3), data=data,
                      level=level, n_items=n_items, n_videos=n_videos, forensics_version=__version__,
                      versions=_versions(), config=self.args._resolved, results=self.results,
                      out=os.fspath(self.out) if self.out is not None else None,
                      mlflow_run_id=self.tracker.run_id, tracking_uri=self.tracker.uri, **(extra or {}))
        paths = []
        if self.out is not None:
            paths.append(write_resolved_config(self.args, self.out))
            paths.append(write_run_record(beside(self.out, "run.json"), record))
        if self.tracker.active:
            for path in paths + self.files:
                self.tracker.log_artifact(path)
            if self.out is None:
                import json
                import tempfile as _tmp

                with _tmp.TemporaryDirectory() as folder:
                    cfg = Path(folder) / "config.json"
                    cfg.write_text(json.dumps(self.args._resolved, indent=2, default=str), encoding="utf-8")
                    self.tracker.log_artifact(cfg)
        return record


def _param_text(value):
    if isinstance(value, dict):
        return ", ".join(f"{k}={v!r}" for k, v in value.items()) or None
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return value


# -- data ---------------------------------------------------------------------------------------------------

def is_table(path):
    from .._tables import read_meta

    path = Path(str(path))
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return False
    try:
        return read_meta(path) is not None
    except Exception:  # noqa: BLE001 - not Parquet at all: let the manifest reader say so
        return False


def load_manifest(args, source=None, *, labels=True, kind=None):
    from .._sources import load_data

    source = args.data if source is None else source
    try:
        return load_data(source, dataset=getattr(args, "dataset", None), labels=labels,
                         group_pattern=getattr(args, "group_pattern", None), kind=kind,
                         strict=bool(getattr(args, "strict", False)))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise CommandError(one_line(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)) from None


def load_input(args, source=None, *, labels=True):
    """``("table", FeatureTable)`` for a feature table, else ``("manifest", DataFrame)``."""
    from .._tables import read_table

    source = args.data if source is None else source
    if is_table(source):
        if getattr(args, "dataset", None):
            raise UsageError(f"--dataset reads a data set root; {source} is a feature table")
        table = read_table(source)
        if getattr(args, "group_pattern", None):
            from ..model_selection import groups_from_names

            try:
                table.data["group"] = groups_from_names(args.group_pattern, table.data["path"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        if labels and table.y is None:
            raise CommandError(f"the feature table {source} has no label column")
        return "table", table
    return "manifest", load_manifest(args, source, labels=labels)


def frame_options(args, kind):
    """The video settings asked for (given on the command line or in the config), for tables to check."""
    keys = {"level": "frames.level", "n_frames": "frames.n_frames", "every": "frames.every", "faces": "frames.faces",
            "detector": "frames.face_detector", "model_path": "frames.face_model"}
    asked = {}
    for name, key in keys.items():
        if key in args._given:
            dest = {"detector": "face_detector", "model_path": "face_model"}.get(name, name)
            asked[name] = getattr(args, dest)
    return asked


def check_face_options(args):
    if getattr(args, "face_detector", None) == "yunet" and not getattr(args, "face_model", None):
        raise UsageError("--face-detector yunet needs --face-model PATH (the YuNet ONNX file)")
    if getattr(args, "face_model", None) and not Path(args.face_model).is_file():
        raise CommandError(f"face detector model not found: {args.face_model!r}")


def face_backend(args):
    """The face detector this run crops with: ``--face-detector`` with ``auto`` resolved here (recorded as such)."""
    from ..media import resolve_detector

    return resolve_detector(args.face_detector or "auto", args.face_model)


def record_frames(args, kind, data):
    """Write into the resolved config the frame settings this run uses, defaults filled in.

    A video run records its level, ``n_frames`` (or ``every``), ``faces`` and, with faces, the
    face detector that runs (``auto`` resolved: :func:`face_backend`) and its model: the values used, so that ``--config`` on the written config
    repeats the run even if a default changes. From a feature table they are the table's own
    (what its rows were extracted with; a re-run's check of the table then passes). Images use
    no frame setting (from files with faces, the face detector is recorded); image tables keep
    the keys as given.
    """
    from .._tables import FeatureTable

    if kind == "table" or isinstance(data, FeatureTable):
        if data.meta.get("kind") != "video":  # an image table's rows are checked on no frame setting
            return
        video = True
        frames = data.meta.get("frames") or {}
        level, n_frames, every = data.level, frames.get("n_frames"), frames.get("every")
        faces, detector, model = bool(frames.get("faces")), frames.get("detector"), frames.get("model_path")
    else:
        video = set(data["kind"]) == {"video"}
        level, n_frames, every = args.level or "frame", args.n_frames or 32, args.every
        faces, model = bool(getattr(args, "faces", None)), args.face_model
        detector = face_backend(args) if faces else None
    used = {"frames.face_detector": detector if faces else None, "frames.face_model": model if faces else None}
    if video:
        used.update({"frames.level": level, "frames.n_frames": None if every is not None else n_frames,
                     "frames.every": every, "frames.faces": faces})
    elif faces:  # face crops of images: the detector is used, no frame is sampled
        used["frames.faces"] = True
    else:
        return
    for key, value in used.items():
        if key in args._resolved:
            args._resolved[key] = value


def count_videos(table):
    """The number of videos a feature table's rows come from (None for images)."""
    if table.meta.get("kind") != "video":
        return None
    return int(table.data["item_index"].nunique()) if "item_index" in table.data.columns else len(table)


def extraction_kwargs(args):
    """``extract_table`` keyword arguments from the shared frame options (defaults filled)."""
    return dict(level=args.level, n_frames=args.n_frames or 32, every=args.every, faces=bool(args.faces),
                face_detector=face_backend(args) if args.faces else "auto", face_model=args.face_model,
                n_jobs=getattr(args, "n_jobs", None), progress=args.progress)


def table_for_detector(args, kind, data, pipe, *, what="DATA", name=None):
    """The detector's feature rows: read (and checked) from a table, or extracted in memory.

    ``name`` (default: ``--detector`` when it names one detector) goes into the re-extraction
    command of a table that lacks the detector's columns."""
    import pandas as pd

    from .._tables import FeatureTable, TableMismatchError, extract_table
    from ..inspection import split_pipeline

    prefix, _ = split_pipeline(pipe)
    extractor = prefix.steps[-1][1]
    if kind == "table":
        table = data
        try:
            table.check_version()
            table.check_frames(**frame_options(args, kind))
            if args.equalize and not table.meta.get("equalize"):
                if (table.meta.get("frames") or {}).get("faces"):
                    raise TableMismatchError(f"{table.path} holds face crops, to which --equalize does not apply "
                                             "(it re-encodes whole images): drop --equalize, or save every image "
                                             "alike first and extract the faces of those")
                raise TableMismatchError(f"{table.path} was extracted without equalization; this run asks for "
                                         "--equalize: re-extract with 'forensics extract --equalize'")
            if name is None and isinstance(getattr(args, "detector", None), str):
                name = args.detector
            F, names = table.features_for(extractor, detector=name)
        except TableMismatchError as exc:
            raise CommandError(str(exc)) from None
        keep = [c for c in table.data.columns if c not in table.feature_names]
        frame = pd.concat([table.data[keep].reset_index(drop=True), pd.DataFrame(F, columns=names)], axis=1)
        return FeatureTable(frame, names, table.meta, table.path)
    check_face_options(args)
    kinds = set(data["kind"])
    if kinds == {"image"} and args.faces:
        raise UsageError("--faces on images: run 'forensics extract DATA --faces' first and pass its feature table")
    if kinds == {"video"} and args.equalize:
        raise UsageError("--equalize applies to images; re-encode videos alike before extracting them")
    try:
        with quiet_warnings():
            return extract_table(data, features=extractor, equalize=bool(args.equalize), **extraction_kwargs(args))
    except ValueError as exc:
        raise CommandError(f"{what} {args.data if what == 'DATA' else what}: {one_line(exc)}") from None


def manifest_items(manifest):
    """What to read for each manifest row: its path, or the in-memory item of a row without one (OpenFake)."""
    if "item" in manifest.columns:
        return [i if p is None else p for p, i in zip(manifest["path"], manifest["item"])]
    return list(manifest["path"])


def drop_unreadable_images(manifest):
    """The manifest without the images that cannot be decoded, saying how many and the first reason
    (what :func:`drop_failed` says of a feature table), so every verb treats a bad file alike; and
    the ``(path, reason)`` of each image left out, for the report to name."""
    from ..media import ItemError, load_item

    items = manifest_items(manifest)
    bad = []
    for i, item in enumerate(items):
        try:
            load_item(item, i).rgb  # noqa: B018  (decodes, strictly, as extraction will)
        except ItemError as exc:
            bad.append((i, exc.reason))
    if not bad:
        return manifest, []
    i, reason = bad[0]
    print(f"  note: {len(bad)} item{'s' if len(bad) > 1 else ''} could not be read and "
          f"{'are' if len(bad) > 1 else 'is'} left out (status error); first: {manifest['path'].iloc[i]}: {reason}")
    if len(bad) == len(items):
        raise CommandError(f"no item could be read; first: {manifest['path'].iloc[i]}: {reason}")
    keep = np.ones(len(items), dtype=bool)
    keep[[i for i, _ in bad]] = False
    paths = manifest["path"]
    left_out = [(f"row {i}" if paths.iloc[i] is None else str(paths.iloc[i]), reason) for i, reason in bad]
    return manifest[keep].reset_index(drop=True), left_out


def faceless_rows(F, names, statuses, errors):
    """{row: reason} for the videos of status ``no_face`` whose features besides the quality columns are all NaN.

    Their only values are the frame counts and a face rate of 0 (with ``no_face="frame"`` their
    centre crops give values, and they are scored).
    """
    from ..features._video import _QUALITY

    if names is None or len(names) != F.shape[1]:
        return {}
    content = F[:, np.array([n not in _QUALITY for n in names], dtype=bool)]
    return {i: one_line(str(e) or "no face found in any sampled frame")
            for i, (s, e) in enumerate(zip(statuses, errors))
            if s == "no_face" and (not content.shape[1] or np.isnan(content[i]).all())}


def drop_failed(table, what="items", left_out=None):
    """Leave out rows whose item could not be read, saying how many and the first reason; and the
    videos without a face in any sampled frame whose only values are the frame counts and a face
    rate of 0 (``forensics predict`` records them as errors: a detector would learn and score
    them from imputed values alone). ``left_out``: a list that receives the data frames of the rows
    left out (to write them with their status beside the scored ones)."""
    ok = table.ok
    if not ok.all():
        bad = table.data[~ok]
        first = bad.iloc[0]
        n = int((~ok).sum())
        print(f"  note: {n} {_noun(what, n)} could not be read and {'is' if n == 1 else 'are'} left out "
              f"(status error); first: {first['path']}: {first['error']}")
        if not ok.any():
            raise CommandError(f"no item could be read; first: {first['path']}: {first['error']}")
        if left_out is not None:
            left_out.append(bad)
        table = table.subset(ok)
    names = list(table.feature_names)
    faceless = {} if not (table.data["status"] == "no_face").any() else faceless_rows(
        table.data[names].to_numpy(dtype=np.float64), names, table.data["status"], table.data["error"].fillna(""))
    if faceless:
        i = min(faceless)
        n = len(faceless)
        print(f"  note: {n} {_noun(what, n)} {'has' if n == 1 else 'have'} no face in any sampled frame and "
              f"{'is' if n == 1 else 'are'} left out (status no_face, no feature value besides the frame counts); "
              f"first: {table.data['path'].iloc[i]}")
        keep = np.ones(len(table.data), dtype=bool)
        keep[list(faceless)] = False
        if not keep.any():
            raise CommandError(f"no item has a face in its sampled frames; first: {table.data['path'].iloc[i]}")
        if left_out is not None:
            left_out.append(table.data[~keep])
        table = table.subset(keep)
    return table


def _noun(plural, n):
    """``items`` for any count but one, ``item`` for one."""
    return plural[:-1] if n == 1 and plural.endswith("s") else plural


def no_groups_note(table):
    if "group" not in table.data.columns:
        extra = " (frames of one video are kept together)" if table.level == "frame" else ""
        print("  note: no groups given (no group column, no --group-pattern): items are treated as independent"
              f"{extra}. If several items share a source (crops of a photo, videos of one person), give "
              "--group-pattern so they stay on one side of every split, or the metrics leak.")


def describe_data(table):
    y = table.y
    if table.level == "frame":
        videos = table.video_table()
        vy = videos["label"].to_numpy()
        if table.meta.get("kind") == "image":  # face crops of still images
            return (f"{len(videos)} images ({int((vy == 0).sum())} real, {int((vy == 1).sum())} fake), "
                    f"{len(table)} face crop rows")
        return (f"{len(videos)} videos ({int((vy == 0).sum())} real, {int((vy == 1).sum())} fake), "
                f"{len(table)} frame rows")
    noun = "videos" if table.level == "video" else "items"
    return f"{len(y)} {noun} ({int((y == 0).sum())} real, {int((y == 1).sum())} fake)"


# -- the shortcut audit, run first ----------------------------------------------------------------------

def audit_first(args, kind, data, *, table=None):
    """Run the shortcut audit before modelling (unless --no-audit) and print its warning when it flags."""
    if not getattr(args, "audit", True):
        return None
    if kind == "table":
        stored = (data.meta or {}).get("audit")
        paths_labels = data.data.drop_duplicates("item_index")[["path", "label"]] if "item_index" in data.data else None
        if stored is not None:
            flagged = [p for p, auc in stored.get("auc", {}).items() if auc >= args.audit_threshold]
            if flagged:
                _print_shortcut(stored["warning"] or f"SHORTCUT WARNING: {', '.join(flagged)} predict the label",
                                data.meta.get("kind"), data.meta.get("equalize"),
                                faces=bool((data.meta.get("frames") or {}).get("faces")))
            return stored
        if paths_labels is None or not all(Path(str(p)).is_file() for p in paths_labels["path"]):
            print("  note: shortcut audit skipped: the table records none and its files are not reachable")
            return None
        paths, y = list(paths_labels["path"]), paths_labels["label"].to_numpy()
        kinds = {data.meta.get("kind", "image")}
    else:
        paths = manifest_items(data)
        y = data["label"].to_numpy()
        kinds = set(data["kind"])
    report = run_audit(paths, y, args, quiet=True)
    if report is None:
        return None
    if report.flagged:
        faces = bool(getattr(args, "faces", False)) or (kind == "table"
                                                        and bool((data.meta.get("frames") or {}).get("faces")))
        _print_shortcut(report.warning_message, kinds.pop() if len(kinds) == 1 else "image",
                        bool(getattr(args, "equalize", False)), faces=faces)
    return report


def run_audit(paths, y, args, *, quiet=False):
    from ..inspection import audit

    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    folds = int(min(5, counts.min()))
    if folds < 2:
        if not quiet:
            raise CommandError("the shortcut audit needs at least 2 items of each class")
        print("  note: shortcut audit skipped: fewer than 2 items of a class")
        return None
    with quiet_warnings():
        return audit(paths, y, cv=folds, threshold=args.audit_threshold, random_state=getattr(args, "seed", 0),
                     n_jobs=getattr(args, "n_jobs", None), progress=False, warn=False, on_error="nan")


def _print_shortcut(message, kind, equalized, *, faces=False):
    if kind == "video":
        remedy = ("--equalize does not apply to videos: re-encode reals and fakes with the same settings, or "
                  "compare with frames cropped to faces (--faces)")
    elif faces:
        # --equalize re-encodes whole images and is refused with --faces; the crops are cut from the decoded
        # pixels, which keep each file's compression, so the files themselves must be saved alike
        remedy = ("--equalize does not apply to --faces crops: save every image alike first (one encoder and "
                  "quality, e.g. forensics.media.equalize_jpeg), extract the faces of those and compare")
    elif equalized:
        remedy = "the items are equalized in this run; check the equalized audit in 'forensics report --equalize'"
    else:
        remedy = "re-run with --equalize to re-encode every image alike"
    print(f"  warning: {message}\n  -> {remedy} (--no-audit skips this check).", flush=True)


# -- models ---------------------------------------------------------------------------------------------

def validate_params(pipe, params, name):
    """Set ``--set`` parameters and check them before any data is read (exit 2 on a bad one)."""
    if not params:
        return pipe
    valid = pipe.get_params(deep=True)
    for key, value in params.items():
        if key not in valid:
            close = [k for k in valid if k.split("__")[-1] == key.split("__")[-1]]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"--set {key}: the {name} pipeline has no such parameter{hint}")
        old = valid[key]
        numeric = isinstance(old, (int, float, np.integer, np.floating)) and not isinstance(old, (bool, np.bool_))
        if numeric and not (isinstance(value, (int, float)) and not isinstance(value, bool)) and value is not None:
            raise UsageError(f"--set {key}={value}: expected a number (the {name} default is {old!r})")
        if isinstance(old, (bool, np.bool_)) and not isinstance(value, bool):
            raise UsageError(f"--set {key}={value}: expected True or False (the {name} default is {old!r})")
    pipe.set_params(**params)
    for step_name, step in getattr(pipe, "steps", []):  # each step's own checks, before the data is read
        check = getattr(step, "_check_params", None)
        if check is None and hasattr(step, "_parameter_constraints"):  # scikit-learn's own declared constraints
            check = step._validate_params
        if check is None:
            continue
        try:
            check()
        except (ValueError, TypeError) as exc:
            raise UsageError(f"--set: the {name} pipeline's {step_name} step refuses a value: {one_line(exc)}") from None
    return pipe


def build_detector(name, args, params=None):
    """``make_pipeline(name)`` with the run's seed, parallelism and progress, and ``--set`` parameters."""
    from .. import make_pipeline

    pipe = make_pipeline(name, random_state=getattr(args, "seed", 0), n_jobs=getattr(args, "n_jobs", None),
                         progress=getattr(args, "progress", False))
    return validate_params(pipe, dict(params or {}), name)


def check_weights(pipe, name):
    """Fail fast, naming FORENSICS_MODEL_DIR, when a deep detector's weights are not on this machine."""
    from ..embeddings._timm import check_weights_available

    for step in _estimators(pipe):
        model_name, weights = getattr(step, "model_name", None), getattr(step, "weights", None)
        if model_name and weights is not None:
            try:
                check_weights_available(model_name, weights)
            except (RuntimeError, FileNotFoundError) as exc:
                raise CommandError(f"{name}: {one_line(exc)}") from None


def _estimators(obj, seen=None):
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    yield obj
    for value in (getattr(obj, "get_params", lambda deep=False: {})(deep=False) or {}).values():
        if hasattr(value, "get_params"):
            yield from _estimators(value, seen)
        elif isinstance(value, (list, tuple)):
            for v in value:
                v = v[1] if isinstance(v, tuple) and len(v) == 2 else v
                if hasattr(v, "get_params"):
                    yield from _estimators(v, seen)


def load_model(path):
    from .. import load

    if not Path(path).is_file():
        raise CommandError(f"model not found: {path!r}")
    try:
        model = load(path)
    except (OSError, ValueError, EOFError) as exc:
        raise CommandError(f"cannot load the model {path!r}: {one_line(exc)}") from None
    except Exception as exc:  # a corrupt pickle or zip raises almost anything
        raise CommandError(f"cannot load the model {path!r}: {type(exc).__name__}: {one_line(exc)}") from None
    check_face_detector(model, path)
    return model


def check_face_detector(model, path):
    """Refuse a face model whose recorded face detector cannot run here (never crop with another one).

    A model saved before the detector was recorded (``auto``) gets a note naming the one used now."""
    from ..features import VideoFeatures
    from ..media import resolve_detector
    from ..media._faces import unavailable_reason

    video = getattr(model, "features_", None)
    if video is None and hasattr(model, "steps"):
        video = model.steps[0][1]
    if not (isinstance(video, VideoFeatures) and video.faces and isinstance(video.detector, str)):
        return
    name = getattr(video, "face_detector_", None)
    if name is None:
        name = resolve_detector(video.detector, video.model_path)
        if video.detector == "auto":
            stderr(f"forensics: note: the model {os.fspath(path)!r} was saved without recording which face detector "
                   f"cropped its training faces (face_detector 'auto'); this run crops with {name!r}: train it again "
                   "to record the detector")
            video.face_detector_ = name  # said once here, not again by each transform
    reason = unavailable_reason(name, video.model_path)
    if reason is not None:
        raise CommandError(f"the model {os.fspath(path)!r} crops faces with {name!r} (the detector it was trained "
                           f"with), which cannot run here: {reason}")


def set_progress(pipe, flag):
    """Turn the progress bars of a model's steps on or off (their ``progress`` parameter)."""
    for step in _estimators(pipe):
        if hasattr(step, "get_params") and "progress" in step.get_params(deep=False):
            step.set_params(progress=flag)


def fake_scores(model, X):
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X))
        classes = list(getattr(model, "classes_", [0, 1]))
        return proba[:, classes.index(1) if 1 in classes else -1]
    return np.asarray(model.decision_function(X), dtype=np.float64).ravel()


@contextlib.contextmanager
def quiet_warnings():
    """Silence library warnings the command reports itself (failed items) or that only add noise (loky)."""
    from ..media import FailedItemsWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FailedItemsWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="joblib")
        yield


def json_ready(value):
    """Plain JSON values: NaN/inf -> null, NumPy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def fmt(value, digits=3):
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def headline(cv_result):
    """The metrics a run reports and records: means (and stds) over folds, row and video level."""
    out = {}
    for name in ("roc_auc", "average_precision", "eer", "balanced_accuracy", "ece", "brier"):
        if name in cv_result.summary.index:
            out[name] = float(cv_result.summary.loc[name, "mean"])
            out[f"{name}_std"] = float(cv_result.summary.loc[name, "std"])
    if cv_result.video_summary is not None:
        for name in ("roc_auc", "average_precision", "eer", "balanced_accuracy"):
            out[f"video_{name}"] = float(cv_result.video_summary.loc[name, "mean"])
            out[f"video_{name}_std"] = float(cv_result.video_summary.loc[name, "std"])
    return out


def stderr(message):
    print(message, file=sys.stderr)


# -- scoring items with a saved model (predict, evaluate --model) ---------------------------------------

def item_reason(exc):
    from ..media import ItemError

    return one_line(exc.reason if isinstance(exc, ItemError) else f"{type(exc).__name__}: {exc}")


def score_items(model, items, chunk_size=64, progress=False, errors=None, desc="predict"):
    """Fake scores of ``items`` (NaN where none), per item why it got none ("" otherwise), and per
    item why its score comes from part of it only ("" otherwise: a video read in part, status
    ``partial``, e.g. truncated: scored from the frames that could be read).

    Scored ``chunk_size`` items at a time; a chunk that fails is scored item by item, so one bad
    item costs only its own score. ``errors``: reasons already known (an item None is skipped).
    """
    from tqdm.auto import tqdm

    from ..features._base import expecting
    from ..media import EmptyRowsWarning

    scores = np.full(len(items), np.nan)
    errors = list(errors) if errors is not None else [""] * len(items)
    partial = [""] * len(items)
    todo = [i for i, item in enumerate(items) if item is not None]
    bar = tqdm(total=len(todo), desc=desc, unit="item", disable=not progress, file=sys.stderr)
    # one job of len(todo) items scored chunk by chunk: the up-front compile rule counts the job
    with quiet_warnings(), warnings.catch_warnings(), expecting(len(todo)):
        # items without any feature value, or without a face, are recorded (a reason), not warned about
        warnings.filterwarnings("ignore", category=EmptyRowsWarning)
        warnings.filterwarnings("ignore", message=r".* have no face in any sampled frame", category=RuntimeWarning)
        try:
            for start in range(0, len(todo), chunk_size):
                part = todo[start:start + chunk_size]
                try:
                    scores[part], reasons, cut = _model_scores(model, [items[i] for i in part])
                    for i, reason, why in zip(part, reasons, cut):
                        errors[i], partial[i] = errors[i] or reason, why
                except (ValueError, OSError, RuntimeError, TypeError):
                    for i in part:  # one bad item spoils the chunk: score its items one by one
                        try:
                            (scores[i],), (reason,), (partial[i],) = _model_scores(model, [items[i]])
                            errors[i] = errors[i] or reason
                        except (ValueError, OSError, RuntimeError, TypeError) as exc:
                            errors[i] = item_reason(exc)
                bar.update(len(part))
        finally:
            bar.close()
    return scores, errors, partial


def _partial_reasons(states, items):
    """Per item, the reason of a video read in part (status ``partial``), else "": from the
    ``status_`` of the extractor that just read ``items`` (one row per item, in order; a table
    about other items, e.g. left from an earlier call, gives nothing)."""
    import pandas as pd

    if not isinstance(states, pd.DataFrame) or not {"status", "error"} <= set(states.columns) \
            or len(states) != len(items):
        return [""] * len(items)
    if "source" in states.columns and [str(s) for s in states["source"]] != [str(i) for i in items]:
        return [""] * len(items)
    return [one_line(str(e) or "read only in part") if s == "partial" else ""
            for s, e in zip(states["status"], states["error"].fillna(""))]


def _model_scores(model, items):
    """(fake scores, per item the reason to record when it gets no score, else "", per item the
    reason its score comes from part of it only, else "").

    An item whose features are all NaN, or a video in which no face was found (its face
    features all NaN), has a score that is not about it (every value the head sees is imputed):
    it gets NaN. A video read in part (status ``partial`` in its extractor's ``status_``: frames
    missing, a truncated file) is scored from the frames read, and the reason is returned.
    """
    import pandas as pd

    steps = list(getattr(model, "named_steps", None) or {})
    if "features" not in steps or steps[-1] == "features":
        scores = fake_scores(model, items)
        # a VideoDetector reads each video with its VideoFeatures (features_), whose status_ says which
        # were read in part; with input="image" it reads still images, which have no such status
        reader = getattr(model, "features_", None) if getattr(model, "input", "video") == "video" else None
        return scores, [""] * len(items), _partial_reasons(getattr(reader, "status_", None), items)
    k = steps.index("features") + 1
    F = np.asarray(model[:k].transform(items), dtype=np.float64)
    try:
        names = list(model[:k].get_feature_names_out())
    except Exception:  # an extractor without names: every column counts
        names = None
    empty, reason = empty_rows(F, names)
    reasons = [reason if e else "" for e in empty]
    status = getattr(model[k - 1], "status_", None)
    if isinstance(status, pd.DataFrame) and {"status", "error"} <= set(status.columns) and len(status) == len(items):
        for i, why in faceless_rows(F, names, status["status"], status["error"]).items():
            reasons[i] = why
    scores = np.asarray(fake_scores(model[k:], F), dtype=np.float64)
    scores[[bool(r) for r in reasons]] = np.nan
    return scores, reasons, _partial_reasons(status, items)


def empty_rows(F, names):
    """(mask of the rows of ``F`` without any feature value, the reason to record for them).

    A video's frame counts are numbers even when no frame gave any value, so they do not count.
    """
    from ..features._video import _COUNTS

    content = F
    if names is not None and len(names) == F.shape[1]:
        content = F[:, np.array([n not in _COUNTS for n in names], dtype=bool)]
    empty = np.isnan(content).all(axis=1) if content.shape[1] else np.zeros(len(F), bool)
    besides = " besides the video's frame counts" if content.shape[1] < F.shape[1] else ""
    reason = (f"no feature of the model could be computed for it (all {content.shape[1]} columns NaN{besides}, e.g. "
              f"an image smaller than its feature families need): a score would come from imputed values only")
    return empty, reason


UNSET = UNSET
