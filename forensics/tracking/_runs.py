"""Run records on disk and SQL over them: every result folder says what ran, how, and what came out.

Each command that writes results also writes a small JSON run record beside them (``run.json``,
or ``<name>.run.json`` beside a single output file): the command line, the resolved
configuration, versions, timings and the headline metrics, one entry per detector.
:func:`runs_frame` collects the records under a folder into one row per (run, detector),
:func:`tables_frame` lists the feature tables there, and :func:`query_runs` runs SQL over both
with DuckDB (``forensics runs``), the way experiments are compared.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

__all__ = ["RUN_SUFFIX", "list_runs", "new_run_id", "query_runs", "runs_frame", "tables_frame", "write_run_record"]

#: Run records are the files named ``run.json`` or ending in ``.run.json``.
RUN_SUFFIX = "run.json"
_FIRST = ["run_id", "command", "started", "seconds", "detector", "data", "level", "n_items", "n_videos"]


def new_run_id():
    """A random run id (32 hex digits, like MLflow's)."""
    return uuid.uuid4().hex


def _plain(value):
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def write_run_record(path, record):
    """Write a run record (JSON, atomically); NaN becomes null. Returns the path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_plain(record), indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _records(root):
    root = Path(root)
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob(f"*{RUN_SUFFIX}")):
        if path.name == RUN_SUFFIX or path.name.endswith("." + RUN_SUFFIX):
            yield path


def runs_frame(root):
    """One row per (run, detector) of the run records under ``root``.

    Parameters
    ----------
    root : str or Path
        A folder searched recursively, or one record file.

    Returns
    -------
    pandas.DataFrame
        Columns ``run_id``, ``command``, ``started``, ``seconds``, ``detector``, ``data``,
        ``level``, ``n_items``, ``n_videos``, then one column per metric of the records
        (``roc_auc``, ``roc_auc_std``, ``video_roc_auc``...; missing where a run has no such
        metric), then ``out``, ``mlflow_run_id``, ``tracking_uri``, ``config`` (JSON text),
        ``record`` (the file). Sorted by ``started``.
    """
    import pandas as pd

    rows, seen = [], set()
    for path in _records(root):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(rec, dict) or rec.get("run_id") in seen:  # e.g. a copy in an MLflow artifact store
            continue
        seen.add(rec.get("run_id"))
        base = {k: rec.get(k) for k in ("run_id", "command", "started", "seconds", "data", "level", "n_items",
                                         "n_videos", "out", "mlflow_run_id", "tracking_uri")}
        base["config"] = json.dumps(rec.get("config"), sort_keys=True)
        base["record"] = os.fspath(path)
        for result in rec.get("results") or [{}]:
            row = dict(base)
            row.update({k: v for k, v in result.items() if k != "metrics"})
            row.update(result.get("metrics") or {})
            rows.append(row)
    frame = pd.DataFrame(rows)
    if not len(frame):
        return pd.DataFrame(columns=[*_FIRST, "out", "config", "record"])
    tail = ["out", "mlflow_run_id", "tracking_uri", "config", "record"]
    first = [c for c in _FIRST if c in frame.columns]
    middle = [c for c in frame.columns if c not in first and c not in tail]
    frame = frame[first + middle + [c for c in tail if c in frame.columns]]
    for column in ("n_items", "n_videos"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame.sort_values("started", kind="stable").reset_index(drop=True)


def tables_frame(root):
    """The feature tables (Parquet files with the forensics metadata) under ``root``, one row each.

    Returns
    -------
    pandas.DataFrame
        ``path``, ``n_rows``, ``n_features``, ``level``, ``kind``, ``features`` (the spec),
        ``n_frames``, ``faces``, ``equalize``, ``forensics_version``, ``created``, ``source``.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    from .._tables import read_meta

    root = Path(root)
    files = [root] if root.is_file() else sorted(root.rglob("*.parquet"))
    rows = []
    for path in files:
        try:
            meta = read_meta(path)
        except Exception:  # noqa: BLE001 - not every Parquet file is ours, or readable
            continue
        if meta is None:
            continue
        frames = meta.get("frames") or {}
        rows.append(dict(path=os.fspath(path), n_rows=pq.ParquetFile(path).metadata.num_rows,
                         n_features=len(meta.get("feature_names", [])), level=meta.get("level"),
                         kind=meta.get("kind"), features=json.dumps(meta.get("features", {}).get("spec")),
                         n_frames=frames.get("n_frames"), faces=frames.get("faces"),
                         equalize=json.dumps(meta.get("equalize")),
                         forensics_version=meta.get("versions", {}).get("forensics"), created=meta.get("created"),
                         source=(meta.get("source") or {}).get("data")))
    columns = ["path", "n_rows", "n_features", "level", "kind", "features", "n_frames", "faces", "equalize",
               "forensics_version", "created", "source"]
    return pd.DataFrame(rows, columns=columns)


#: What ``forensics runs`` shows without ``--sql``.
DEFAULT_QUERY = ("SELECT started, command, detector, level, n_items, roc_auc, video_roc_auc, out "
                 "FROM runs ORDER BY started")


def query_runs(root, sql=None):
    """Run SQL over the run records and feature tables under ``root`` (DuckDB).

    Two views are defined: ``runs`` (:func:`runs_frame`) and ``tables`` (:func:`tables_frame`);
    any Parquet file can be read too, e.g. ``SELECT label, avg("blur__laplacian_var__log") FROM
    read_parquet('features.parquet') GROUP BY label``.

    Parameters
    ----------
    root : str or Path
    sql : str, optional
        Default: the runs in order, with their ROC-AUC and video-level ROC-AUC (the columns a
        run lacks are NULL).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import tempfile
    >>> query_runs(tempfile.mkdtemp(), "SELECT count(*) AS n FROM runs")["n"].tolist()
    [0]
    """
    try:
        import duckdb
    except ImportError as exc:
        raise ImportError("SQL over runs needs DuckDB: pip install \"scikit-forensics[workflow]\" (or duckdb)") from exc

    runs = _runs_view(root)
    tables = tables_frame(root)
    con = duckdb.connect()
    try:
        con.register("runs", runs)
        con.register("tables", tables)
        return con.execute(sql or DEFAULT_QUERY).df()
    finally:
        con.close()


def _runs_view(root):
    """:func:`runs_frame` with the columns of :data:`DEFAULT_QUERY` always present (NULL where a run lacks them)."""
    import numpy as np
    import pandas as pd

    runs = runs_frame(root)
    for column in ("roc_auc", "video_roc_auc", "level", "n_items", "detector", "out"):
        if column not in runs.columns:
            runs[column] = pd.Series([None] * len(runs), dtype=object if column in ("level", "detector", "out")
                                     else np.float64)
    return runs


def list_runs(root, *, tables=False):
    """The listing ``forensics runs`` prints without ``--sql``, with pandas alone (no DuckDB needed).

    Parameters
    ----------
    root : str or Path
    tables : bool, default=False
        List the feature tables (:func:`tables_frame`, by creation time) instead of the runs.

    Returns
    -------
    pandas.DataFrame
        The runs: the columns of :data:`DEFAULT_QUERY`, in the order they started (the rows
        ``query_runs(root)`` gives); or every column of the tables, by ``created``.

    Examples
    --------
    >>> import tempfile
    >>> list(list_runs(tempfile.mkdtemp()).columns)[:3]
    ['started', 'command', 'detector']
    """
    if tables:
        frame = tables_frame(root)
        return frame.sort_values("created", kind="stable", na_position="last").reset_index(drop=True)
    columns = ["started", "command", "detector", "level", "n_items", "roc_auc", "video_roc_auc", "out"]
    runs = _runs_view(root)
    for column in ("started", "command"):
        if column not in runs.columns:
            runs[column] = None
    return runs[columns].sort_values("started", kind="stable", na_position="last").reset_index(drop=True)
