"""The documented walk-through (docs/user-guide/workflow.md), run on generated videos.

extract a folder of videos to a Parquet feature table -> evaluate and tune from that table with a
YAML config and --track (MLflow on an SQLite store) -> report -> runs (DuckDB) listing the runs with
their video-level ROC-AUC; and one run tracked by a real ``mlflow server`` process on 127.0.0.1.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest
import yaml

from forensics.cli import main

pytest.importorskip("mlflow")
pytest.importorskip("optuna")
pytest.importorskip("duckdb")

CONFIG = {
    "detector": {"name": "spectrum-lr"},
    "cv": {"folds": 3, "seed": 0},
    "frames": {"level": "frame", "n_frames": 4, "aggregate": "mean"},
    "tune": {"n_trials": 5, "space": {"head__C": {"low": 0.001, "high": 100.0, "log": True}}},
    "run": {"progress": False},
}


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """Run the walk-through once; the tests below read what it left."""
    from forensics.datasets import save_demo_videos

    root = tmp_path_factory.mktemp("walk")
    save_demo_videos(root / "videos", n_per_class=6, n_frames=6, size=48, seed=0)
    (root / "run.yaml").write_text(yaml.safe_dump(CONFIG))
    cfg, table, store = str(root / "run.yaml"), str(root / "tables" / "features.parquet"), root / "runs" / "mlflow.db"
    steps = {
        "extract": ["extract", str(root / "videos"), "--config", cfg, "--group-pattern", r"_(\w+)\.mp4$",
                    "--out", str(root / "tables")],
        "evaluate": ["evaluate", table, "--config", cfg, "--track", str(store), "--out", str(root / "runs" / "evaluate")],
        "tune": ["tune", table, "--config", cfg, "--track", str(store), "--out", str(root / "runs" / "tune")],
        "report": ["report", table, "--config", cfg, "--n-boot", "200", "--gallery", "3", "--track", str(store),
                   "--out", str(root / "runs" / "report")],
    }
    codes = {name: main(argv) for name, argv in steps.items()}
    return root, codes


def test_every_step_succeeds(walk):
    _, codes = walk
    assert codes == {"extract": 0, "evaluate": 0, "tune": 0, "report": 0}


def test_the_table_is_extracted_once_with_its_provenance(walk):
    from forensics import read_table

    root, _ = walk
    table = read_table(root / "tables" / "features.parquet")
    assert table.level == "frame" and len(table.video_table()) == 12 and len(table) == 12 * 4
    assert table.meta["frames"]["n_frames"] == 4 and table.meta["config"]["detector.name"] == "spectrum-lr"
    assert all(name.startswith("spectral__azimuthal__") for name in table.feature_names)
    # the groups of the file names went into the table: later runs need no --group-pattern
    assert table.data.groupby("item_index")["group"].first().nunique() == 5  # two photos of one scene share a group


def test_evaluate_gives_frame_and_video_level_metrics_equal_to_the_library(walk):
    from forensics import make_pipeline, read_table
    from forensics.model_selection import benchmark_detectors

    root, _ = walk
    metrics = pd.read_csv(root / "runs" / "evaluate" / "metrics.csv")
    bench = benchmark_detectors(read_table(root / "tables" / "features.parquet"),
                                detectors=[("spectrum-lr", make_pipeline("spectrum-lr"))], cv=3)
    for col in ("roc_auc_mean", "video_roc_auc_mean", "video_eer_std"):
        assert metrics[col].iloc[0] == pytest.approx(bench.table[col].iloc[0])
    scores = pd.read_parquet(root / "runs" / "evaluate" / "scores.parquet")
    assert len(scores) == 48 and scores.groupby("item_index")["fold"].nunique().max() == 1  # a video in one fold
    written = yaml.safe_load((root / "runs" / "evaluate" / "config.yaml").read_text())
    assert written["frames"]["n_frames"] == 4 and written["output"]["track"].endswith("mlflow.db")


def test_tune_persists_a_study_that_resumes_and_saves_the_best_model(walk):
    import optuna

    from forensics import VideoDetector, load

    root, _ = walk
    storage = f"sqlite:///{root / 'runs' / 'tune' / 'study.db'}"
    study = optuna.load_study(study_name="spectrum-lr", storage=storage)
    assert len(study.trials) == 5 and study.user_attrs["metric"] == "video_roc_auc"
    model = load(root / "runs" / "tune" / "best_model.skops")
    assert isinstance(model, VideoDetector)
    assert model.model_.named_steps["head"].C == pytest.approx(study.best_params["head__C"])
    # the same command with a larger budget resumes the study: 2 more trials, not 7
    out = root / "runs" / "tune"
    assert main(["tune", str(root / "tables" / "features.parquet"), "--config", str(root / "run.yaml"),
                 "--n-trials", "7", "--out", str(out)]) == 0
    assert len(optuna.load_study(study_name="spectrum-lr", storage=storage).trials) == 7


def test_tracking_logged_params_fold_and_summary_metrics_and_artifacts(walk):
    from mlflow.tracking import MlflowClient

    root, _ = walk
    client = MlflowClient(f"sqlite:///{root / 'runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("forensics")
    assert exp.artifact_location == (root / "runs" / "mlartifacts" / "forensics").resolve().as_uri()
    runs = {r.data.tags["forensics.command"]: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {"evaluate", "tune", "report"}
    evaluate = runs["evaluate"]
    record = json.loads((root / "runs" / "evaluate" / "run.json").read_text())
    assert record["mlflow_run_id"] == evaluate.info.run_id and evaluate.info.status == "FINISHED"
    assert evaluate.data.params["cv.folds"] == "3" and evaluate.data.params["detector.name"] == "spectrum-lr"
    assert evaluate.data.metrics["video_roc_auc"] == pytest.approx(record["results"][0]["metrics"]["video_roc_auc"])
    folds = client.get_metric_history(evaluate.info.run_id, "fold_roc_auc")
    assert [m.step for m in folds] == [0, 1, 2]
    artifacts = {a.path for a in client.list_artifacts(evaluate.info.run_id)}
    assert {"config.yaml", "run.json", "metrics.csv"} <= artifacts
    tune_artifacts = {a.path for a in client.list_artifacts(runs["tune"].info.run_id)}
    assert {"best_model.skops", "trials.csv", "config.yaml"} <= tune_artifacts
    assert any(k.startswith("best.head__C") for k in runs["tune"].data.params)
    assert {"report.html", "report.md"} <= {a.path for a in client.list_artifacts(runs["report"].info.run_id)}


def test_the_report_has_the_video_level_operating_points_and_provenance(walk):
    root, _ = walk
    html = (root / "runs" / "report" / "report.html").read_text()
    for text in ("Video level", "Operating points", "Most confident errors", "7. Provenance", "forensics report "):
        assert text in html
    op = pd.read_csv(root / "runs" / "report" / "table_operating_points.csv").set_index("level")
    assert list(op.index) == ["frame", "video"] and (op["ci_low"] <= op["roc_auc"]).all()
    assert (op["roc_auc"] <= op["ci_high"]).all()
    assert (root / "runs" / "report" / "figure_gallery.png").is_file()


def test_runs_lists_the_runs_with_their_video_level_auc(walk, capsys):
    root, _ = walk
    capsys.readouterr()
    assert main(["runs", str(root / "runs"), "--format", "csv"]) == 0
    import io

    listing = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert {"evaluate", "tune", "report"} <= set(listing["command"])
    evaluate = listing[listing["command"] == "evaluate"].iloc[0]
    record = json.loads((root / "runs" / "evaluate" / "run.json").read_text())
    assert evaluate["video_roc_auc"] == pytest.approx(record["results"][0]["metrics"]["video_roc_auc"])
    assert np.isfinite(listing["video_roc_auc"]).all()
    # SQL over the runs and, through read_parquet, over the feature table itself
    table = root / "tables" / "features.parquet"
    sql = (f"SELECT label, count(*) AS n FROM read_parquet('{table}') GROUP BY label ORDER BY label")
    assert main(["runs", str(root), "--sql", sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"label": 0, "n": 24}, {"label": 1, "n": 24}]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tracking_to_an_mlflow_server(walk, tmp_path):
    """A real ``mlflow server`` on 127.0.0.1 (started here, stopped at the end) receives an evaluate run."""
    from mlflow.tracking import MlflowClient

    root, _ = walk
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination",
         (tmp_path / "artifacts").as_uri()],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                pytest.fail(f"mlflow server did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.5)
        assert main(["evaluate", str(root / "tables" / "features.parquet"), "--config", str(root / "run.yaml"),
                     "--track", uri, "--experiment", "served", "--out", str(tmp_path / "ev")]) == 0
        client = MlflowClient(uri)
        run, = client.search_runs([client.get_experiment_by_name("served").experiment_id])
        record = json.loads((tmp_path / "ev" / "run.json").read_text())
        assert run.info.run_id == record["mlflow_run_id"] and record["tracking_uri"] == uri
        assert run.data.metrics["video_roc_auc"] == pytest.approx(record["results"][0]["metrics"]["video_roc_auc"])
        assert "metrics.csv" in {a.path for a in client.list_artifacts(run.info.run_id)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
