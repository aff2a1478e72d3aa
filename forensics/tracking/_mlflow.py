"""Experiment tracking with MLflow: parameters, per-fold and summary metrics, files, one run per command."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

__all__ = ["DEFAULT_TRACKING_URI", "TRACKING_ENV", "Tracker", "data_labels", "resolve_tracking_uri"]

#: Environment variable read when no tracking URI is given.
TRACKING_ENV = "FORENSICS_TRACKING_URI"
#: The store used by ``--track`` without a value (and no environment variable): an SQLite file in the
#: working directory, its artifacts in ``mlartifacts/`` beside it.
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
_MAX_PARAM = 6000  # MLflow's limit on a parameter value's length


def data_labels(paths):
    """Short names for data sets in MLflow metric names: the fewest trailing parts of their paths (the
    same number for all) that tell them apart.

    MLflow names may hold only letters, digits, ``_ - . /`` and spaces (and ``:`` but not on
    Windows) and must not be absolute or relative paths, so a full path cannot serve; other
    characters become ``_``; names that this makes equal are numbered (``_0``, ``_1``).

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        Data sets (files or folders); the same path given twice gets the same name.

    Returns
    -------
    list of str
        One name per path, distinct for distinct (resolved) paths.

    Examples
    --------
    >>> data_labels(["/data/ffpp/features.parquet", "/data/dfdc/features.parquet", "/data/celebdf"])
    ['ffpp/features.parquet', 'dfdc/features.parquet', 'data/celebdf']
    >>> data_labels(["/data/B", "/data/C"])
    ['B', 'C']
    """
    import re

    parts = [Path(os.path.abspath(os.fspath(p))).parts[1:] or ("root",) for p in paths]
    n_distinct = len(set(parts))

    def clean(name):
        name = re.sub(r"[^\w.\- /]", "_", name).strip("/ ")
        return "/".join("_" if part in ("", ".", "..") else part for part in name.split("/"))

    labels = []
    for k in range(1, max(map(len, parts), default=0) + 1):
        labels = [clean("/".join(p[-k:])) for p in parts]
        if len(set(labels)) == n_distinct:  # one name per distinct path
            return labels
    number = {p: i for i, p in enumerate(dict.fromkeys(parts))}  # names that clean() made equal
    return [f"{label}_{number[p]}" for label, p in zip(labels, parts)]


def resolve_tracking_uri(value=None):
    """The MLflow tracking URI a run logs to, or None for no tracking.

    Parameters
    ----------
    value : str or None
        ``None``: the ``FORENSICS_TRACKING_URI`` environment variable, else no tracking. ``""``
        (``--track`` without a value): that variable, else :data:`DEFAULT_TRACKING_URI`. A URI
        (``sqlite:///runs.db``, ``http://127.0.0.1:5000``, ``file:///...``) is used as is; a
        path ending in ``.db`` / ``.sqlite`` becomes an SQLite store there; another path is a
        folder holding ``mlflow.db``. Relative SQLite paths are made absolute.

    Returns
    -------
    str or None

    Examples
    --------
    >>> resolve_tracking_uri("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    >>> resolve_tracking_uri("/tmp/runs/store.db")
    'sqlite:////tmp/runs/store.db'
    """
    if value is None:
        value = os.environ.get(TRACKING_ENV) or None
        if value is None:
            return None
    elif value == "":
        value = os.environ.get(TRACKING_ENV) or DEFAULT_TRACKING_URI
    value = str(value)
    if value.startswith("sqlite:///"):
        path = value[len("sqlite:///"):]
        return value if Path(path).is_absolute() else f"sqlite:///{Path(path).resolve()}"
    if "://" in value:
        return value
    path = Path(value)
    if path.suffix.lower() not in (".db", ".sqlite", ".sqlite3"):
        path = path / "mlflow.db"
    return f"sqlite:///{path.resolve()}"


def _quiet_mlflow():
    for name in ("mlflow", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _text(value):
    """``str(value)`` storable by MLflow (UTF-8 only): a path's undecodable bytes (a Latin-1 name on a
    UTF-8 system, held as lone surrogates) escaped as item errors write them; it raised
    ``MlflowException: 'utf-8' codec can't encode`` at the run's first parameters."""
    from ..media._item import path_text

    return path_text(str(value))


def _finite(value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class Tracker:
    """One MLflow run, as a context manager; ``Tracker(None)`` logs nothing (tracking off).

    Parameters
    ----------
    uri : str or None
        A tracking URI (see :func:`resolve_tracking_uri`); None makes every method a no-op.
    experiment : str, default="forensics"
        The experiment (created if missing; for an SQLite store its artifacts go to
        ``mlartifacts/<experiment>`` beside the database file).
    run_name : str, optional
    tags : dict, optional

    Attributes
    ----------
    run_id : str or None
        The MLflow run id once started.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with Tracker(f"sqlite:///{folder}/mlflow.db", experiment="demo") as run:  # doctest: +SKIP
    ...     run.log_params({"cv.folds": 5})
    ...     run.log_metrics({"roc_auc": 0.93})
    """

    def __init__(self, uri, *, experiment="forensics", run_name=None, tags=None):
        self.uri = uri
        self.experiment = experiment
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.run_id = None
        self._client = None

    @property
    def active(self):
        return self._client is not None

    def __enter__(self):
        if self.uri is None:
            return self
        _quiet_mlflow()
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise ImportError("tracking needs MLflow: pip install \"scikit-forensics[workflow]\" (or mlflow)") from exc
        _quiet_mlflow()  # importing mlflow sets its own log levels

        client = MlflowClient(tracking_uri=self.uri)
        exp = client.get_experiment_by_name(self.experiment)
        if exp is None:
            location = None
            if self.uri.startswith("sqlite:///"):
                db = Path(self.uri[len("sqlite:///"):])
                location = (db.parent / "mlartifacts" / self.experiment).resolve().as_uri()
            exp_id = client.create_experiment(self.experiment, artifact_location=location)
        else:
            exp_id = exp.experiment_id
        run = client.create_run(exp_id, run_name=None if self.run_name is None else _text(self.run_name),
                                tags={_text(k): _text(v) for k, v in self.tags.items()})
        self._client, self.run_id, self.experiment_id = client, run.info.run_id, exp_id
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._client is not None:
            status = "FINISHED" if exc_type is None else ("KILLED" if exc_type is KeyboardInterrupt else "FAILED")
            self._client.set_terminated(self.run_id, status=status)
        return False

    # -- logging -----------------------------------------------------------------------------------------
    def log_params(self, params):
        """Log ``{name: value}`` (values as text, cut to MLflow's 6000 characters); None values are skipped."""
        if not self.active:
            return
        from mlflow.entities import Param

        items = [Param(_text(k), _text(v)[:_MAX_PARAM]) for k, v in params.items() if v is not None]
        for start in range(0, len(items), 100):
            self._client.log_batch(self.run_id, params=items[start:start + 100])

    def log_metrics(self, metrics, step=None):
        """Log ``{name: number}`` (NaN and infinite values are skipped: MLflow cannot compare them)."""
        if not self.active:
            return
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(str(k), v, now, step or 0) for k, v in ((k, _finite(v)) for k, v in metrics.items())
                 if v is not None]
        for start in range(0, len(items), 500):
            self._client.log_batch(self.run_id, metrics=items[start:start + 500])

    def log_folds(self, folds, prefix="fold_"):
        """Log each numeric column of a per-fold table as a metric ``<prefix><column>`` with step = fold."""
        if not self.active:
            return
        for step, (_, row) in enumerate(folds.iterrows()):
            self.log_metrics({f"{prefix}{k}": v for k, v in row.items()}, step=step)

    def log_artifact(self, path, artifact_path=None):
        """Log a file, or every file of a folder."""
        if not self.active or path is None:
            return
        path = Path(path)
        if path.is_dir():
            self._client.log_artifacts(self.run_id, str(path), artifact_path)
        elif path.is_file():
            self._client.log_artifact(self.run_id, str(path), artifact_path)

    def set_tags(self, tags):
        """Set ``{name: value}`` tags on the run."""
        if not self.active:
            return
        for k, v in tags.items():
            self._client.set_tag(self.run_id, _text(k), _text(v))
