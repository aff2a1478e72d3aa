"""Tracking experiments: MLflow runs (optional extra), run records beside the results, SQL over them (DuckDB).

- :class:`Tracker`: one MLflow run (parameters, per-fold and summary metrics, files); the
  command line opens one per ``train``/``evaluate``/``tune``/``report`` run with ``--track URI``
  or the ``FORENSICS_TRACKING_URI`` environment variable (:func:`resolve_tracking_uri`);
  :func:`data_labels` names data sets (test sets) in its metric names.
- :func:`write_run_record`, :func:`runs_frame`, :func:`tables_frame`, :func:`query_runs`: the
  ``run.json`` files every command writes beside its results, and SQL over them and the
  feature tables (``forensics runs --sql``, DuckDB); :func:`list_runs`: the plain listing
  (``forensics runs``), which needs no DuckDB.
"""

from ._mlflow import DEFAULT_TRACKING_URI, TRACKING_ENV, Tracker, data_labels, resolve_tracking_uri
from ._runs import DEFAULT_QUERY, RUN_SUFFIX, list_runs, new_run_id, query_runs, runs_frame, tables_frame, write_run_record

__all__ = ["DEFAULT_QUERY", "DEFAULT_TRACKING_URI", "RUN_SUFFIX", "TRACKING_ENV", "Tracker", "data_labels",
           "list_runs", "new_run_id",
           "query_runs", "resolve_tracking_uri", "runs_frame", "tables_frame", "write_run_record"]
