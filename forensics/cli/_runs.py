"""``forensics runs``: the runs and feature tables under a folder, in SQL (DuckDB)."""

from __future__ import annotations

import sys

from . import _common as C
from ._options import option


def add_parser(subparsers):
    from ..tracking import DEFAULT_QUERY

    parser = subparsers.add_parser(
        "runs",
        help="list the runs and feature tables under a folder; query them in SQL (--sql, DuckDB)",
        description=(
            "Collect the run records (run.json, written beside the results of extract, train, evaluate, tune and "
            "report) and the feature tables under ROOT and list them; with --sql, run SQL over them with DuckDB "
            "(the 'workflow' extra): the view 'runs' has "
            "one row per run and detector (command, started, detector, level, n_items, roc_auc, video_roc_auc, "
            "the other metrics, out, config...), the view 'tables' one row per feature table; any Parquet file "
            f"can be read with read_parquet('path'). Without --sql (no DuckDB needed), the rows of: {DEFAULT_QUERY}"
        ),
    )
    C.add_config(parser)
    option(parser, "root", key="data.root", metavar="ROOT", default=".",
           help="folder searched recursively (default: the current folder)")
    option(parser, "--sql", key="output.sql", default=None, metavar="QUERY", help="the SQL to run")
    option(parser, "--tables", key="output.tables", action="flag", default=False,
           help="list the feature tables instead of the runs")
    option(parser, "--format", key="output.format", choices=("table", "csv", "json"), default="table",
           help="output format (default: %(default)s)")
    return parser


def run(args):
    from pathlib import Path

    from ..tracking import list_runs, query_runs

    if not Path(args.root).exists():
        raise C.CommandError(f"ROOT not found: {args.root!r}")
    if args.sql and args.tables:
        raise C.UsageError("give --sql or --tables, not both")
    try:
        # the plain listings need no DuckDB (an optional extra); SQL does
        frame = query_runs(args.root, args.sql) if args.sql else list_runs(args.root, tables=bool(args.tables))
    except ImportError:
        raise
    except Exception as exc:  # duckdb's errors (parser, binder, catalog) name the problem
        if "duckdb" not in type(exc).__module__:
            raise
        raise C.UsageError(f"--sql: {C.one_line(exc)}") from None
    if args.format == "csv":
        text = frame.to_csv(index=False)
    elif args.format == "json":
        text = frame.to_json(orient="records", indent=2) + "\n"
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 60):
            text = (frame.to_string(index=False, float_format=lambda v: f"{v:.3f}") if len(frame)
                    else "(no rows)") + "\n"
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
