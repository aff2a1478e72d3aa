"""End-to-end tests of the ``forensics`` command line (the demo: test_demo.py; the walk-through with
tracking and tuning on videos: test_workflow.py).

Each verb runs in-process through :func:`forensics.cli.main` on small folders written by
:func:`forensics.datasets.save_demo_dataset` / :func:`save_demo_videos`; outputs are compared with
the library functions the verb wraps, and exit codes are checked: 0 ok, 1 error (one line naming
the culprit), 2 bad arguments, 3 ``audit --fail-on-shortcut`` with a flagged property, 141 a closed
output pipe.
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import encode, natural_image
from forensics.cli import VERBS, main
from forensics.media import EmptyRowsWarning


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A folder dataset: 12 real + 12 fake 64 px JPEGs (real/, fake/<method>/)."""
    from forensics.datasets import save_demo_dataset

    root = tmp_path_factory.mktemp("cli") / "data"
    save_demo_dataset(root, n_per_class=12, size=64, seed=1)
    return root


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """6 real + 6 fake demo videos, 6 frames of 48 px each."""
    from forensics.datasets import save_demo_videos

    root = tmp_path_factory.mktemp("cli") / "videos"
    save_demo_videos(root, n_per_class=6, n_frames=6, size=48, seed=2)
    return root


@pytest.fixture(scope="module")
def model(data, tmp_path_factory):
    """A dct-lr model trained by the command line (with a --set parameter)."""
    path = tmp_path_factory.mktemp("model") / "dct.skops"
    assert main(["train", str(data), "--detector", "dct-lr", "--set", "head__C=0.5", "--out", str(path),
                 "--no-progress", "--no-audit"]) == 0
    return path


def paths_of(root):
    from forensics.datasets import IMAGE_SUFFIXES, load_folder

    return load_folder(root, suffixes=IMAGE_SUFFIXES)


def error_lines(err):
    return [line for line in err.splitlines() if "error:" in line]


def exit_code(argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


# -- the command itself ----------------------------------------------------------------------------

@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help_and_reads_a_config(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: forensics {verb}")
    assert "--config" in out
    if verb not in ("runs", "app"):  # no progress bar: listing runs, serving a web page
        assert "--no-progress" in out


def test_the_parser_repeats_the_library_choices_without_importing_it():
    from forensics import metrics
    from forensics.cli import _common

    assert _common.AGGREGATIONS == metrics.AGGREGATIONS and _common.THRESHOLD_RULES == metrics.THRESHOLD_RULES
    run = subprocess.run([sys.executable, "-c", "import sys; from forensics.cli import build_parser; build_parser(); "
                          "print(sorted(m for m in ('pandas', 'sklearn', 'mlflow', 'optuna', 'duckdb') "
                          "if m in sys.modules))"], capture_output=True, text=True)
    assert run.stdout.strip() == "[]", run.stderr


def test_top_level_help_lists_every_verb(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for verb in VERBS:
        assert f"    {verb} " in out


def test_python_dash_m_exit_codes(tmp_path):
    """The real process: exit 1 with one line naming the missing folder (exit 2: test_bad_arguments_exit_2)."""
    missing = tmp_path / "no-such-folder"
    run = subprocess.run([sys.executable, "-m", "forensics", "audit", str(missing)], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"forensics audit: error: DATA not found: {str(missing)!r} (expected a folder with real/ and fake/ "
        "sub-folders, a manifest .csv, or a data set root with --dataset)"]


def test_data_given_as_a_url_is_said_to_be_one(capsys):
    # kind: a URL given where a folder or manifest is expected: "DATA not found" alone did not say
    # that nothing is downloaded
    assert main(["audit", "https://example.org/data/manifest.csv"]) == 1
    assert capsys.readouterr().err.strip().endswith("--dataset); it is a URL: DATA is read from local files, "
                                                    "nothing is downloaded")


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("forensics")
    if not script.exists():
        script = shutil.which("forensics")
        if script is None:
            pytest.skip("the forensics console script is not installed in this environment")
    run = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    import forensics

    assert run.returncode == 0 and run.stdout.strip() == f"forensics {forensics.__version__}"


@pytest.mark.parametrize("argv, message", [
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["train", "DATA", "--detector", "no-such", "--out", "m.skops"], "unknown detector 'no-such'"),
    (["train", "DATA", "--detector", "dct-lr", "--out", "model.txt"], "must end in .skops"),
    (["train", "DATA", "--detector", "dct-lr", "--out", "m.skops", "--set", "head__C"], "expected NAME=VALUE"),
    (["train", "DATA", "--detector", "dct-lr", "--out", "m.skops", "--set", "head__no_such=1"],
     "--set head__no_such: the dct-lr pipeline has no such parameter"),
    # a value of the wrong type is caught before any data is read (it used to fail after extraction)
    (["train", "DATA", "--detector", "forensic-xgb", "--out", "m.skops", "--set", "head__max_depth=abc"],
     "--set head__max_depth=abc: expected a number"),
    (["train", "DATA", "--detector", "forensic-xgb", "--out", "m.skops", "--set", "head__max_depth=-2"],
     "refuses a value: max_depth"),
    (["train", "DATA", "--out", "m.skops"], "--detector is required"),
    (["evaluate", "DATA"], "one of the arguments --detector --model is required"),
    (["evaluate", "DATA", "--model", "m.skops", "--test", "T"], "--test goes with --detector"),
    (["evaluate", "DATA", "--detector", "dct-lr", "--threshold", "high"], "expected a number or one of"),
    (["evaluate", "DATA", "--detector", "dct-lr", "--matrix"], "--matrix needs at least one --test"),
    (["evaluate", "DATA", "--detector", "dct-lr", "--group-pattern", "(unclosed"], "is not a regular expression"),
    (["extract", "DATA", "--out", "o", "--features", "spectral,nope"], "unknown features nope"),
    (["extract", "DATA", "--out", "o", "--n-frames", "0"], "must be at least 1"),
    (["extract", "DATA", "--out", "o", "--face-detector", "yunet", "--faces"], "--face-detector yunet needs"),
    (["predict", "m.skops"], "INPUTS is required"),
    (["predict", "m.skops", "x.jpg", "--format", "xml"], "invalid choice: 'xml'"),
    (["audit", "DATA", "--audit-threshold", "0.3"], "must be in [0.5, 1]"),
    (["audit", "DATA", "--threshold", "0.3"], "must be in [0.5, 1]"),  # the deprecated spelling
    (["audit", "DATA", "--cv", "one"], "argument --cv: expected an integer, got 'one'"),
    (["tune", "DATA", "--detector", "dct-lr", "--out", "o", "--space", "head__C=0.1"], "give a list of values"),
    (["runs", ".", "--sql", "SELEC nonsense"], "--sql:"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert "usage: forensics" in err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("verb, extra", [
    ("audit", []),
    ("extract", ["--out", "OUT"]),
    ("train", ["--detector", "dct-lr", "--out", "OUT/m.skops"]),
    ("evaluate", ["--detector", "dct-lr"]),
    ("tune", ["--detector", "dct-lr", "--out", "OUT"]),
    ("report", ["--out", "OUT"]),
])
def test_missing_data_exits_1_naming_it(verb, extra, tmp_path, capsys):
    missing = tmp_path / "not-there"
    argv = [verb, str(missing), *[a.replace("OUT", str(tmp_path / "out")) for a in extra]]
    assert main(argv) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"forensics {verb}: error:")
    assert str(missing) in lines[0]


def test_folder_without_real_and_fake_names_it(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    assert main(["audit", str(tmp_path / "images")]) == 1
    line, = error_lines(capsys.readouterr().err)
    assert f"{tmp_path / 'images'} has no real/ folder" in line


def test_missing_offline_weights_fail_at_once_naming_the_model_dir(data, tmp_path, monkeypatch, capsys):
    """An embedding detector offline without weights: one line naming FORENSICS_MODEL_DIR, before any work.

    (It used to retry the hub for ~46 s and print a 108-line traceback; the time is measured in the
    report of this change, not asserted here.)"""
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("FORENSICS_MODEL_DIR", str(empty))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    out = tmp_path / "out"
    assert main(["evaluate", str(data), "--detector", "embedding-xgb", "--no-progress", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    line, = error_lines(captured.err)
    assert "FORENSICS_MODEL_DIR" in line and "tf_efficientnet_lite0" in line and str(empty) in line
    assert "Traceback" not in captured.err and captured.out == ""  # refused before reading the data
    # the look-alike that works: the weights file present makes the check pass
    from forensics.embeddings._timm import check_weights_available

    (empty / "tf_efficientnet_lite0.safetensors").write_bytes(b"x")
    assert check_weights_available("tf_efficientnet_lite0", "imagenet") == empty / "tf_efficientnet_lite0.safetensors"


def test_a_closed_output_pipe_ends_quietly(data):
    """``forensics audit DIR | head``: the reader goes away; no traceback, no message, status 141."""
    proc = subprocess.Popen([sys.executable, "-m", "forensics", "audit", str(data), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert err == ""


# -- configs and consistent flags --------------------------------------------------------------------

def test_config_file_with_flags_overriding_and_the_resolved_config_reproduces_the_run(data, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"path": str(data), "group_pattern": r"^\d+_([a-z]+)"},
        "detector": {"name": ["dct-lr"], "params": {"head__C": 0.05}},
        "cv": {"folds": 4, "seed": 3},
        "audit": {"enabled": False},
        "run": {"progress": False},
    }))
    out1 = tmp_path / "one"
    assert main(["evaluate", "--config", str(config), "--cv", "3", "--out", str(out1)]) == 0
    written = yaml.safe_load((out1 / "config.yaml").read_text())
    assert written["command"] == "evaluate"
    assert written["cv"] == {"folds": 3, "threshold_rule": "eer", "seed": 3, "matrix": False, "threshold": 0.5}
    assert written["detector"]["params"] == {"head__C": 0.05} and written["data"]["path"] == str(data)
    record = json.loads((out1 / "run.json").read_text())
    assert record["config"]["cv.folds"] == 3
    first = pd.read_csv(out1 / "metrics.csv")
    # the written config alone reproduces the run
    out2 = tmp_path / "two"
    assert main(["evaluate", "--config", str(out1 / "config.yaml"), "--out", str(out2)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out2 / "metrics.csv").drop(columns=[c for c in first if "per_s" in c]),
                                  first.drop(columns=[c for c in first if "per_s" in c]))
    # --set merges into the config's parameters, key by key
    out3 = tmp_path / "three"
    assert main(["evaluate", "--config", str(config), "--set", "head__C=2.0", "--out", str(out3)]) == 0
    assert yaml.safe_load((out3 / "config.yaml").read_text())["detector"]["params"] == {"head__C": 2.0}


@pytest.mark.parametrize("content, message", [
    ({"cv": {"fold": 3}}, "config CFG: unknown key 'cv.fold'"),
    ({"cv": {"folds": 1}}, "config CFG: cv.folds: must be at least 2, got 1"),
    ({"frames": {"faces": "yes"}}, "config CFG: frames.faces: expected true or false"),
    ({"detector": {"name": ["nope"]}}, "config CFG: detector.name: unknown detector 'nope'"),
    ("cv: [1, 2", "is not valid YAML (line"),
    ("- a list", "must be a mapping of sections"),
])
def test_bad_config_exits_2_naming_the_key(content, message, data, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    assert main(["evaluate", str(data), "--detector", "dct-lr", "--config", str(config)]) == 2
    line, = error_lines(capsys.readouterr().err)
    assert message.replace("CFG", str(config)) in line


def test_deprecated_spellings_still_work_with_a_note(data, tmp_path, capsys):
    assert main(["audit", str(data), "--threshold", "0.9", "--json", str(tmp_path / "a.json"), "--no-progress"]) == 0
    assert "note: --threshold is deprecated here; use --audit-threshold" in capsys.readouterr().err
    assert json.loads((tmp_path / "a.json").read_text())["threshold"] == 0.9
    assert yaml.safe_load((tmp_path / "a.config.yaml").read_text())["audit"]["threshold"] == 0.9


# -- audit -----------------------------------------------------------------------------------------

def test_audit_prints_the_report_and_writes_json(data, tmp_path, capsys):
    from forensics import audit

    out = tmp_path / "audit.json"
    assert main(["audit", str(data), "--json", str(out), "--no-progress", "--fail-on-shortcut"]) == 0
    printed = capsys.readouterr().out
    manifest = paths_of(data)
    expected = audit(list(manifest["path"]), manifest["label"].to_numpy(), warn=False)
    assert str(expected) in printed
    report = json.loads(out.read_text())
    assert report["n_items"] == 24 and report["flagged"] == []
    table = pd.DataFrame(report["table"]).set_index("property")
    np.testing.assert_allclose(table.loc[expected.table.index, "auc"], expected.table["auc"])


def _png_vs_jpeg(root, n=10):
    """Reals as PNG, fakes as JPEG: the format gives the label away."""
    for k in range(n):
        for label, fmt in (("real", "PNG"), ("fake", "JPEG")):
            folder = root / label
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{k}.{fmt.lower()}").write_bytes(encode(natural_image(k + 20 * (label == "fake"), (40, 48)), fmt))
    return root


def test_audit_shortcut_is_printed_and_fails_only_on_request(tmp_path, capsys):
    _png_vs_jpeg(tmp_path)
    assert main(["audit", str(tmp_path), "--no-progress"]) == 0
    assert "SHORTCUT WARNING" in capsys.readouterr().out
    assert main(["audit", str(tmp_path), "--no-progress", "--fail-on-shortcut", "--json",
                 str(tmp_path / "a.json")]) == 3
    assert "format" in json.loads((tmp_path / "a.json").read_text())["flagged"]


def test_audit_per_class_samples(data, tmp_path):
    out = tmp_path / "a.json"
    assert main(["audit", str(data), "--per-class", "5", "--cv", "2", "--json", str(out), "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["n_items"] == 10 and report["class_balance"] == {"0": 5, "1": 5}


def test_audit_of_videos_reads_their_containers(tmp_path, capsys):
    """Reals at high quality, fakes heavily compressed: the bit rate gives the label away."""
    from video_fixtures import write_video

    for k in range(6):
        for label, crf in (("real", 10), ("fake", 40)):
            path = tmp_path / label / f"{k}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, [natural_image(10 * k + t, (48, 64)) for t in range(4)], crf=crf)
    assert main(["audit", str(tmp_path), "--cv", "3", "--no-progress", "--json", str(tmp_path / "a.json")]) == 0
    assert "re-encode every video with the same encoder" in capsys.readouterr().out  # the video remedy
    report = json.loads((tmp_path / "a.json").read_text())
    table = {r["property"]: r for r in report["table"]}
    assert {"codec", "bit_rate", "fps", "bits_per_pixel"} <= set(table)
    assert "bit_rate" in report["flagged"] and "codec" not in report["flagged"]
    assert table["codec"]["note"] == "constant over the data set"


# -- shortcuts are never silent ---------------------------------------------------------------------

def test_evaluate_prints_the_audit_warning_first_and_no_audit_skips_it(tmp_path, capsys):
    root = _png_vs_jpeg(tmp_path / "d")
    argv = ["evaluate", str(root), "--detector", "dct-lr", "--cv", "2", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "SHORTCUT WARNING" in out and "re-run with --equalize" in out and "--no-audit skips" in out
    assert out.index("SHORTCUT WARNING") < out.index("| dct-lr |")  # before the metrics
    assert main([*argv, "--no-audit"]) == 0
    assert "SHORTCUT WARNING" not in capsys.readouterr().out
    # the look-alike: every item the same format: no warning
    clean = tmp_path / "clean"
    for f in (root / "fake").glob("*.jpeg"):
        (clean / "fake").mkdir(parents=True, exist_ok=True)
        shutil.copy(f, clean / "fake" / f.name)
    for k, f in enumerate(sorted((root / "real").glob("*.png"))):
        (clean / "real").mkdir(parents=True, exist_ok=True)
        (clean / "real" / f"{k}.jpeg").write_bytes(encode(natural_image(k + 40, (40, 48)), "JPEG"))
    assert main(["evaluate", str(clean), "--detector", "dct-lr", "--cv", "2", "--no-progress"]) == 0
    assert "SHORTCUT WARNING" not in capsys.readouterr().out


# -- extract ---------------------------------------------------------------------------------------

def test_extract_matches_the_bank_with_a_failed_item_as_a_row(data, tmp_path, capsys):
    from forensics import read_table
    from forensics.features import make_feature_bank

    root = tmp_path / "data"
    shutil.copytree(data, root)
    bad = root / "fake" / "splice" / "zz_truncated.jpg"
    bad.write_bytes(encode(natural_image(0, (64, 64)), "JPEG")[:200])
    assert main(["extract", str(root), "--out", str(tmp_path / "out"), "--features", "blur,dctspec",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1 item could not be processed" in out
    assert "once it is readable, the same command with --retry-failed extracts again only the failed items" in out
    table = read_table(tmp_path / "out" / "features.parquet")
    frame = table.data
    manifest = paths_of(root)
    assert frame["path"].tolist() == manifest["path"].tolist()  # every item, in order, none dropped
    assert frame["label"].tolist() == manifest["label"].tolist()
    bank = make_feature_bank(["blur", "dctspec"], on_error="nan")
    good = (manifest["path"] != str(bad)).to_numpy()
    expected = bank.fit_transform(list(manifest.loc[good, "path"]))
    names = [str(n) for n in bank.get_feature_names_out()]
    assert table.feature_names == names
    assert list(frame.columns) == ["item_index", "path", "label", "method", "status", "error", *names]
    np.testing.assert_allclose(frame.loc[good, names].to_numpy(), expected, rtol=1e-12, equal_nan=True)
    row = frame[frame["path"] == str(bad)].iloc[0]
    assert row["status"] == "error" and row["error"] and row[names].isna().all()
    assert (frame.loc[good, "status"] == "ok").all()
    # the provenance travels with the table
    meta = table.meta
    assert meta["level"] == "image" and meta["features"]["spec"] == ["blur", "dctspec"]
    assert meta["command"].startswith("forensics extract ") and meta["config"]["features.spec"] == ["blur", "dctspec"]
    assert meta["versions"]["forensics"] and meta["versions"]["numpy"] == np.__version__
    assert (tmp_path / "out" / "config.yaml").is_file() and (tmp_path / "out" / "run.json").is_file()


def test_extract_resumes_from_its_chunks_with_identical_output(data, tmp_path, capsys):
    from forensics import read_table

    full, part = tmp_path / "full.parquet", tmp_path / "part.parquet"
    argv = ["extract", str(data), "--features", "blur", "--no-progress", "--no-audit"]
    assert main([*argv, "--out", str(full), "--chunk-size", "5"]) == 0
    assert "taken from" not in capsys.readouterr().out  # a first run keeps nothing
    reference = read_table(full).data
    # an interrupted run: the chunks of items 0-4 and 10-14 saved, nothing else
    parts = tmp_path / "part.parquet.parts"
    parts.mkdir()
    done = reference[reference["item_index"].isin([*range(5), *range(10, 15)])]
    signature = read_table(full).meta["signature"]
    (parts / "settings.json").write_text(signature)
    done[done["item_index"] < 5].to_parquet(parts / "part-000000.parquet", index=False)
    done[done["item_index"] >= 10].to_parquet(parts / "part-000001.parquet", index=False)
    assert main([*argv, "--out", str(part), "--chunk-size", "4"]) == 0
    assert f"10 of 24 items taken from {part} or its chunks as already extracted (not recomputed)" in \
        capsys.readouterr().out
    resumed = read_table(part).data
    pd.testing.assert_frame_equal(resumed, reference)
    assert not parts.exists()  # the chunks are merged, then removed
    assert main([*argv, "--out", str(part)]) == 0  # complete: nothing to do, nothing changes
    assert f"24 of 24 items taken from {part} as already extracted (not recomputed)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_table(part).data, reference)


def test_extract_retry_failed_extracts_again_only_the_items_that_failed(data, tmp_path, capsys):
    """A file missing during the first run (a transient error): the same command leaves its row failed;
    --retry-failed extracts it, and only it, with the table's order, ids and the other rows kept."""
    from forensics import read_table

    root = tmp_path / "data"
    shutil.copytree(data, root)
    manifest = tmp_path / "m.csv"
    rows = paths_of(root)
    rows[["path", "label", "method"]].to_csv(manifest, index=False)
    gone, done = Path(rows["path"].iloc[3]), Path(rows["path"].iloc[7])
    gone.rename(tmp_path / "away")
    out = tmp_path / "out"
    argv = ["extract", str(manifest), "--features", "blur", "--chunk-size", "5", "--out", str(out), "--no-progress",
            "--no-audit"]
    assert main(argv) == 0
    table = out / "features.parquet"
    first = read_table(table).data
    assert first["status"].tolist() == ["ok"] * 3 + ["error"] + ["ok"] * (len(rows) - 4)
    (tmp_path / "away").rename(gone)
    done.rename(tmp_path / "away")  # an item done before: unreadable now, it must not be extracted again
    assert main(argv) == 0  # finished table: the failed row stays as it is
    pd.testing.assert_frame_equal(read_table(table).data, first)
    capsys.readouterr()
    assert main([*argv, "--retry-failed"]) == 0
    assert "retried 1 item that had failed; 0 still failing" in capsys.readouterr().out
    retried = read_table(table).data
    assert retried["status"].eq("ok").all() and retried["item_index"].tolist() == list(range(len(rows)))
    pd.testing.assert_frame_equal(retried.drop(index=3), first.drop(index=3))  # the other rows as they were
    (tmp_path / "away").rename(done)
    fresh = tmp_path / "fresh.parquet"
    assert main([*argv[:-4], "--out", str(fresh), "--no-progress", "--no-audit"]) == 0
    pd.testing.assert_frame_equal(retried, read_table(fresh).data)  # as a run that never failed
    assert pd.read_csv(out / "features.csv")["status"].eq("ok").all()  # the CSV beside it follows
    assert yaml.safe_load((out / "config.yaml").read_text())["run"]["retry_failed"] is True
    # crops of faces at frame level are not kept in chunks: refused, with what to do
    assert main(["extract", str(manifest), "--faces", "--retry-failed", "--out", str(tmp_path / "f"),
                 "--no-progress", "--no-audit"]) == 2
    assert "--retry-failed does not apply to --faces" in capsys.readouterr().err


def test_extract_refuses_to_mix_settings(data, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["extract", str(data), "--out", str(out), "--features", "blur", "--no-progress"]) == 0
    before = (out / "features.parquet").read_bytes()
    assert main(["extract", str(data), "--out", str(out), "--features", "dctspec", "--no-progress"]) == 1
    line, = error_lines(capsys.readouterr().err)
    assert str(out / "features.parquet") in line
    assert "written with features.spec=['blur']; this run asks for features.spec=['dctspec']" in line
    assert (out / "features.parquet").read_bytes() == before


def test_extract_equalize_and_manifest_csv(data, tmp_path):
    from forensics import read_table
    from forensics.features import make_feature_bank
    from forensics.media import CodecEqualizer

    manifest = paths_of(data).iloc[::3]
    csv = tmp_path / "m.csv"
    rel = [str(Path(p).relative_to(data)) for p in manifest["path"]]
    shutil.copytree(data, tmp_path / "d")
    pd.DataFrame({"path": ["d/" + r for r in rel], "label": manifest["label"].to_numpy(),
                  "source": "x"}).to_csv(csv, index=False)
    assert main(["extract", str(csv), "--out", str(tmp_path / "out"), "--features", "codec,blur", "--equalize",
                 "--no-progress"]) == 0
    table = read_table(tmp_path / "out" / "features.parquet")
    frame = table.data
    assert frame.columns[:6].tolist() == ["item_index", "path", "label", "source", "method", "status"]
    assert frame["path"].tolist() == [str(tmp_path / "d" / r) for r in rel]  # relative to the CSV's folder
    bank = make_feature_bank(["codec", "blur"])
    expected = bank.fit_transform(CodecEqualizer().fit_transform(list(manifest["path"])))
    names = [str(n) for n in bank.get_feature_names_out()]
    np.testing.assert_allclose(frame[names].to_numpy(), expected, rtol=1e-12, equal_nan=True)
    assert frame["codec__jpeg_quality__luma"].nunique() == 1  # every item re-encoded alike
    assert table.meta["equalize"] is True


def test_extract_videos_one_row_per_frame_or_per_video(videos, tmp_path):
    from forensics import read_table
    from forensics.features import VideoFeatures, make_feature_bank

    assert main(["extract", str(videos), "--out", str(tmp_path / "frames"), "--features", "blur",
                 "--n-frames", "3", "--level", "frame", "--no-progress"]) == 0
    frames = read_table(tmp_path / "frames" / "features.parquet")
    assert frames.level == "frame" and len(frames) == 12 * 3 and frames.meta["frames"]["n_frames"] == 3
    vf = VideoFeatures(make_feature_bank(["blur"]), faces=False, n_frames=3).fit()
    paths = list(frames.data.drop_duplicates("item_index")["path"])
    F, meta = vf.transform_frames(paths)
    np.testing.assert_allclose(frames.X, F, rtol=1e-12, equal_nan=True)
    assert frames.data["frame_index"].tolist() == meta["frame_index"].tolist()
    assert frames.videos.tolist() == np.repeat(np.arange(12), 3).tolist()

    assert main(["extract", str(videos), "--out", str(tmp_path / "video"), "--features", "blur", "--level", "video",
                 "--n-frames", "3", "--no-progress"]) == 0
    video = read_table(tmp_path / "video" / "features.parquet")
    assert video.level == "video" and len(video) == 12
    np.testing.assert_allclose(video.X, vf.transform(paths), rtol=1e-12, equal_nan=True)
    assert (video.data["video__n_frames__sampled"] == 3).all()


def test_extract_faces_writes_one_row_per_crop(tmp_path, capsys):
    from skimage import data as skdata

    from forensics import read_table

    face = skdata.astronaut()[:256, 100:356]  # one face, found by the offline cascade detector
    for label, img in (("real", face), ("fake", face[:, ::-1])):
        (tmp_path / "data" / label).mkdir(parents=True)
        (tmp_path / "data" / label / "a.png").write_bytes(encode(np.ascontiguousarray(img), "PNG"))
    out = tmp_path / "out"
    assert main(["extract", str(tmp_path / "data"), "--faces", "--face-detector", "cascade", "--n-frames", "1",
                 "--features", "blur", "--out", str(out), "--no-progress", "--no-audit"]) == 0
    assert "face-found rate" in capsys.readouterr().out
    crops = pd.read_csv(out / "crops.csv")
    table = read_table(out / "features.parquet")
    assert len(table) == len(crops) == 2 and table.data["label"].tolist() == [0, 1]
    assert all((out / p).is_file() for p in table.data["crop_path"])
    assert "blur__laplacian_var__log" in table.feature_names and table.level == "frame"
    assert table.meta["frames"]["faces"] is True


def test_the_shortcut_remedy_for_face_crops_is_one_that_runs(tmp_path, capsys):
    """Face crops of images whose format gives the label away: the audit's advice was 're-run with
    --equalize', which extract refuses with --faces; it now says to save the images alike first, and train
    --equalize on a table of crops says why it does not apply instead of 're-extract with --equalize'. The
    look-alike (the same images without --faces) keeps the --equalize advice."""
    from skimage import data as skdata

    face = skdata.astronaut()[:256, 100:356]  # one face, found by the offline cascade detector
    for k in range(4):
        img = np.ascontiguousarray(np.roll(face, 6 * k, axis=1))
        for label, fmt in (("real", "JPEG"), ("fake", "PNG")):  # the format alone tells the classes apart
            (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
            (tmp_path / "data" / label / f"{k}.{fmt.lower()}").write_bytes(encode(img, fmt))
    crops = tmp_path / "crops"
    argv = ["extract", str(tmp_path / "data"), "--faces", "--face-detector", "cascade", "--detector",
            "spectrum-lr", "--no-progress"]
    assert main([*argv, "--out", str(crops)]) == 0
    out = capsys.readouterr().out
    remedy = "--equalize does not apply to --faces crops: save every image alike first"
    assert "SHORTCUT WARNING" in out and remedy in out and "re-run with --equalize" not in out
    assert main([*argv, "--equalize", "--out", str(tmp_path / "eq")]) == 2  # what the old advice led to
    capsys.readouterr()
    table = str(crops / "features.parquet")
    from forensics import read_table

    # every image has its crop: item_index stays int64, as in the other tables (it was float64 when none failed)
    assert read_table(table).data["item_index"].dtype == np.int64
    assert main(["train", table, "--detector", "spectrum-lr", "--out", str(tmp_path / "m.skops"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert remedy in out and "re-run with --equalize" not in out  # from the audit the table stored
    assert main(["train", table, "--detector", "spectrum-lr", "--equalize", "--out", str(tmp_path / "m.skops"),
                 "--no-progress", "--no-audit"]) == 1
    line, = error_lines(capsys.readouterr().err)
    assert line.endswith("holds face crops, to which --equalize does not apply (it re-encodes whole images): drop "
                         "--equalize, or save every image alike first and extract the faces of those")
    assert main(["extract", str(tmp_path / "data"), "--detector", "spectrum-lr", "--out", str(tmp_path / "whole"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "re-run with --equalize" in out and remedy not in out


def test_a_model_trained_on_face_crops_of_still_images_predicts_still_images(tmp_path, capsys):
    """extract --faces of images, train on that table, predict images: the model crops each new image as
    the extraction did (same detector and crop settings) and scores it; it used to refuse every image
    ('is a still image, not a video'). A video, and an image without a face, are rows with their reason."""
    import cv2
    from skimage import data as skdata

    from forensics import load, read_table
    from forensics.datasets import save_demo_videos

    face = skdata.astronaut()[:256, 100:356]  # one face, found by the offline cascade detector
    rng = np.random.default_rng(0)
    for k in range(4):
        shifted = np.ascontiguousarray(np.roll(face, 6 * k, axis=1))
        noisy = np.clip(shifted + rng.normal(0, 2, shifted.shape), 0, 255).astype(np.uint8)
        for label, img in (("real", noisy), ("fake", cv2.resize(cv2.resize(noisy, (128, 128)), (256, 256)))):
            (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
            (tmp_path / "data" / label / f"{k}.png").write_bytes(encode(img, "PNG"))
    crops = tmp_path / "crops"
    assert main(["extract", str(tmp_path / "data"), "--faces", "--face-detector", "cascade", "--detector", "spectrum-lr",
                 "--out", str(crops), "--no-progress", "--no-audit"]) == 0
    table = read_table(crops / "features.parquet")
    assert table.meta["kind"] == "image" and table.data["status"].eq("ok").all() and len(table) == 8
    model_path = tmp_path / "model.skops"
    capsys.readouterr()
    assert main(["train", str(crops / "features.parquet"), "--detector", "spectrum-lr", "--out", str(model_path),
                 "--no-progress", "--no-audit"]) == 0
    assert "8 images (4 real, 4 fake), 8 face crop rows" in capsys.readouterr().out
    model = load(model_path)
    assert model.input == "image" and model.faces and model.face_detector == "cascade"
    # new inputs: an image seen in training, a folder, a video, an image without a face
    videos = tmp_path / "videos"
    save_demo_videos(videos, n_per_class=1, n_frames=2, size=32, seed=0)
    video = sorted(videos.rglob("*.mp4"))[0]
    blank = tmp_path / "blank.png"
    blank.write_bytes(encode(np.full((64, 64, 3), 128, np.uint8), "PNG"))
    out = tmp_path / "scores.csv"
    first = tmp_path / "data" / "real" / "0.png"
    assert main(["predict", str(model_path), str(first), str(tmp_path / "data"), str(video), str(blank),
                 "--out", str(out), "--no-progress"]) == 0
    scores = pd.read_csv(out, keep_default_na=False)
    assert len(scores) == 1 + 8 + 2
    assert scores["status"].tolist() == ["ok"] * 9 + ["error", "error"]
    assert "is a video; this detector was trained on face crops of still images" in scores["error"].iloc[9]
    assert "no face found in the image" in scores["error"].iloc[10]
    # the score of a training image is the head's on its table row: the same crop, the same features
    F, _ = table.features_for(model.features_.extractor_)
    expected = model.model_.predict_proba(F)[:, 1]
    by_path = dict(zip([str(p) for p in table.data["path"]], expected))
    folder = scores.iloc[1:9]
    np.testing.assert_allclose(folder["score"].astype(float), [by_path[p] for p in folder["input"]], rtol=1e-9)
    assert float(scores["score"].iloc[0]) == pytest.approx(by_path[str(first)], rel=1e-9)


def test_extract_faces_keeps_names_pandas_reads_as_missing(tmp_path, monkeypatch, capsys):
    """A manifest naming a file 'NA' (relative to the working folder) and a method 'None': the
    crop table written by extract_faces was read back with pandas' NA strings, so the path became
    NaN (a KeyError matching crops to items) and the method missing. Look-alike: 'a.png', 'real'."""
    from skimage import data as skdata

    from forensics import read_table

    face = skdata.astronaut()[:256, 100:356]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(encode(np.ascontiguousarray(face), "PNG"))
    (tmp_path / "NA").write_bytes(encode(np.ascontiguousarray(face[:, ::-1]), "PNG"))
    (tmp_path / "m.csv").write_text("path,label,method\na.png,0,real\nNA,1,None\n")
    assert main(["extract", "m.csv", "--faces", "--face-detector", "cascade", "--n-frames", "1",
                 "--features", "blur", "--out", "out/t.parquet", "--no-progress", "--no-audit"]) == 0
    capsys.readouterr()
    table = read_table(tmp_path / "out" / "t.parquet")
    assert table.data["path"].tolist() == ["a.png", "NA"] and table.data["method"].tolist() == ["real", "None"]
    assert table.data["status"].tolist() == ["ok", "ok"] and table.data["item_index"].tolist() == [0, 1]


def test_extract_faces_of_videos_gives_the_rows_of_video_features(tmp_path):
    """Crops on disk (extract_faces) and a table equal to VideoFeatures(faces=True).transform_frames."""
    from video_fixtures import face_video

    from forensics import read_table
    from forensics.features import VideoFeatures, make_feature_bank

    for label in ("real", "fake"):
        for k in range(2):
            path = tmp_path / "v" / label / f"{k}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            face_video(path, n_frames=4, size=(128, 128), faces_from="synthetic", seed=k + 10 * (label == "fake"))
    out = tmp_path / "out"
    assert main(["extract", str(tmp_path / "v"), "--faces", "--face-detector", "cascade", "--n-frames", "2",
                 "--features", "blur", "--out", str(out), "--no-progress", "--no-audit"]) == 0
    table = read_table(out / "features.parquet")
    paths = list(table.data.drop_duplicates("item_index")["path"])
    vf = VideoFeatures(make_feature_bank(["blur"]), faces=True, detector="cascade", n_frames=2).fit()
    F, meta = vf.transform_frames(paths)
    np.testing.assert_allclose(table.X, F, rtol=1e-12, equal_nan=True)
    assert table.data["frame_index"].tolist() == meta["frame_index"].tolist()
    assert table.meta["kind"] == "video" and table.meta["frames"]["detector"] == "cascade"
    assert all((out / p).is_file() for p in table.data["crop_path"])
    table.check_frames(faces=True, n_frames=2, detector="cascade")  # what an in-memory run would ask


def test_faces_at_video_level_keep_each_videos_status_from_extract_to_predict(tmp_path, capsys):
    """extract --faces --level video gives one row per video, its crops aggregated as VideoFeatures(faces=True)
    does (the flag was ignored: crop rows, level frame), with each video's status (ok, partial, no_face,
    error); predict gives a video without a face status error with its reason, from the files and from
    such a table (it was scored 'ok' from imputed values only, about 0.5); the face videos are scored."""
    from video_fixtures import face_video, index_frames, remux, write_video

    from forensics import read_table
    from forensics.features import VideoFeatures, make_feature_bank

    v = tmp_path / "v"
    for label, k in (("real", 0), ("fake", 1)):
        (v / label).mkdir(parents=True)
        face_video(v / label / f"face{k}.mp4", n_frames=4, size=(128, 128), faces_from="synthetic", seed=k)
    write_video(v / "real" / "noface.mp4", index_frames(4, size=(128, 128)))
    (v / "fake" / "broken.mp4").write_bytes(b"\x00" * 100)
    face_video(tmp_path / "intact.mp4", n_frames=4, size=(128, 128), faces_from="synthetic", seed=2, gop=1)
    remux(tmp_path / "intact.mp4", v / "fake" / "damaged.mkv", damage={3})  # frames 0 and 3 sampled; 3 fails
    face = ["--faces", "--face-detector", "cascade", "--n-frames", "2", "--no-progress", "--no-audit"]

    with pytest.warns(RuntimeWarning, match=r"1 of 5 videos have no face in any sampled frame .*noface\.mp4"):
        assert main(["extract", str(v), *face, "--features", "blur", "--level", "video",
                     "--out", str(tmp_path / "videos")]) == 0
    table = read_table(tmp_path / "videos" / "features.parquet")
    assert table.level == "video" and len(table) == 5 and table.meta["frames"]["faces"] is True
    vf = VideoFeatures(make_feature_bank(["blur"]), faces=True, detector="cascade", n_frames=2, on_error="nan").fit()
    with pytest.warns(RuntimeWarning):
        expected = vf.transform(list(table.paths))
    np.testing.assert_allclose(table.X, expected, rtol=1e-12, equal_nan=True)
    assert table.data["status"].tolist() == vf.status_["status"].tolist()
    assert sorted(table.data["status"]) == ["error", "no_face", "ok", "ok", "partial"]

    model = tmp_path / "m.skops"
    capsys.readouterr()
    with pytest.warns(RuntimeWarning, match=r"1 of 5 videos have no face in any sampled frame"):
        assert main(["train", str(v), "--detector", "spectrum-lr", *face, "--level", "video", "--out", str(model)]) == 0
    out = capsys.readouterr().out  # the faceless video is not learnt from imputed values (as predict refuses it)
    assert "note: 1 item has no face in any sampled frame and is left out (status no_face, no feature value " \
           "besides the frame counts); first: " in out and "noface.mp4" in out
    assert "1 item could not be read and is left out (status error)" in out and "3 videos (1 real, 2 fake)" in out
    with pytest.warns(RuntimeWarning, match=r"1 of 5 videos have no face in any sampled frame"):
        assert main(["extract", str(v), *face, "--detector", "spectrum-lr", "--level", "video",
                     "--out", str(tmp_path / "spectra")]) == 0
    capsys.readouterr()
    for source in (str(v), str(tmp_path / "spectra" / "features.parquet")):
        out = tmp_path / "pred.csv"
        assert main(["predict", str(model), source, "--out", str(out), "--no-progress"]) == 0
        err = capsys.readouterr().err
        assert "have no face" not in err  # recorded per input, not warned about
        pred = pd.read_csv(out, keep_default_na=False, na_values=[""])
        pred["name"] = [Path(p).name for p in pred["input"]]
        pred = pred.set_index("name")
        assert pred.loc["noface.mp4", "status"] == "error" and np.isnan(pred.loc["noface.mp4", "score"])
        assert pred.loc["noface.mp4", "error"] == "no face found in any of the 2 sampled frames (no_face='skip')"
        assert pred.loc["broken.mp4", "status"] == "error"
        assert (pred.loc[["face0.mp4", "face1.mp4"], "status"] == "ok").all()
        assert np.isfinite(pred.loc[["face0.mp4", "face1.mp4"], "score"]).all()


def test_extract_old_face_options_are_deprecated_aliases(data, tmp_path, capsys):
    assert main(["extract", str(data), "--faces", "--detector", "yunet", "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "--detector yunet is deprecated here; use --face-detector" in captured.err
    assert "--face-detector yunet needs --face-model PATH" in captured.err
    assert main(["extract", str(data), "--faces", "--model", str(tmp_path / "y.onnx"), "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "--model is deprecated here; use --face-model" in captured.err
    assert str(tmp_path / "y.onnx") in captured.err


# -- train -----------------------------------------------------------------------------------------

def test_train_saves_the_catalogued_pipeline_fitted_on_every_item(data, model):
    from forensics import load, make_pipeline

    fitted = load(model)
    assert fitted.get_params()["head__C"] == 0.5
    manifest = paths_of(data)
    X, y = list(manifest["path"]), manifest["label"].to_numpy()
    expected = make_pipeline("dct-lr", head__C=0.5).fit(X, y)
    np.testing.assert_allclose(fitted.predict_proba(X), expected.predict_proba(X), rtol=1e-10)
    assert fitted.steps[0][1].progress is False  # a saved model is quiet
    assert (model.parent / "dct.config.yaml").is_file() and (model.parent / "dct.run.json").is_file()


def test_train_from_a_table_equals_training_from_the_files(data, model, tmp_path):
    from forensics import load

    assert main(["extract", str(data), "--detector", "dct-lr", "--out", str(tmp_path / "t"), "--no-progress"]) == 0
    out = tmp_path / "m"
    store = tmp_path / "store.db"
    assert main(["train", str(tmp_path / "t" / "features.parquet"), "--detector", "dct-lr", "--set", "head__C=0.5",
                 "--out", str(out), "--no-progress", "--no-audit", "--track", str(store), "--experiment", "t"]) == 0
    X = list(paths_of(data)["path"])
    np.testing.assert_allclose(load(out / "model.skops").predict_proba(X), load(model).predict_proba(X), rtol=1e-10)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    run, = client.search_runs([client.get_experiment_by_name("t").experiment_id])
    assert {"model.skops", "config.yaml", "run.json"} <= {a.path for a in client.list_artifacts(run.info.run_id)}
    assert run.data.params["detector.params"] == "head__C=0.5"


def test_train_equalize_and_one_class_data(data, tmp_path, capsys):
    from forensics import load

    out = tmp_path / "m.joblib"
    assert main(["train", str(data), "--detector", "dct-lr", "--equalize", "--out", str(out), "--no-progress"]) == 0
    assert [name for name, _ in load(out).steps][:2] == ["equalize", "features"]
    csv = tmp_path / "reals.csv"
    pd.DataFrame({"path": list(paths_of(data)["path"])[:5], "label": 0}).to_csv(csv, index=False)
    assert main(["train", str(csv), "--detector", "dct-lr", "--out", str(out), "--no-audit"]) == 1
    assert "one class only" in capsys.readouterr().err


def test_train_on_videos_saves_a_video_detector_that_aggregates_frame_scores(videos, tmp_path):
    from forensics import VideoDetector, load
    from forensics.metrics import aggregate_scores

    out = tmp_path / "v.skops"
    assert main(["train", str(videos), "--detector", "spectrum-lr", "--n-frames", "3", "--aggregate", "max",
                 "--out", str(out), "--no-progress", "--no-audit"]) == 0
    det = load(out)
    assert isinstance(det, VideoDetector) and det.aggregate == "max" and det.n_frames == 3
    paths = sorted(str(p) for p in Path(videos).rglob("*.mp4"))[:4]
    frame_scores, meta = det.frame_scores(paths)
    expected = aggregate_scores(frame_scores, meta["video"], how="max").to_numpy()
    np.testing.assert_allclose(det.predict_proba(paths)[:, 1], expected)
    assert sorted(meta["video"].unique().tolist()) == [0, 1, 2, 3]
    # predict reads the videos of a folder for a video model
    assert main(["predict", str(out), *paths, "--out", str(tmp_path / "p.csv"), "--no-progress"]) == 0
    np.testing.assert_allclose(pd.read_csv(tmp_path / "p.csv")["score"], expected, rtol=1e-10)


# -- evaluate --------------------------------------------------------------------------------------

def test_evaluate_cv_equals_benchmark_detectors(data, tmp_path, capsys):
    from forensics.model_selection import benchmark_detectors

    out = tmp_path / "cv.csv"
    pattern = r"^\d+_([a-z]+)"  # the source photo's name: crops of one photo stay in one fold
    assert main(["evaluate", str(data), "--detector", "dct-lr", "--cv", "3", "--group-pattern", pattern,
                 "--out", str(out), "--no-progress"]) == 0
    manifest = paths_of(data)
    groups = np.array([re.search(pattern, Path(p).name).group(1) for p in manifest["path"]])
    printed = capsys.readouterr().out
    assert "3-fold CV grouped" in printed
    table = pd.read_csv(out)
    bench = benchmark_detectors(list(manifest["path"]), manifest["label"].to_numpy(), detectors=["dct-lr"],
                                groups=groups, methods=manifest["method"].to_numpy(), protocols=("as-is",), cv=3)
    assert table["detector"].tolist() == ["dct-lr"] and table["status"].tolist() == ["ok"]
    for col in ("roc_auc_mean", "eer_mean", "balanced_accuracy_std"):
        assert table[col].iloc[0] == pytest.approx(bench.table[col].iloc[0])
    assert {"roc_auc__resample", "roc_auc__self_blend", "roc_auc__splice"} <= set(table.columns)
    assert (tmp_path / "cv.config.yaml").is_file() and (tmp_path / "cv.run.json").is_file()


def _evaluate_tracked(argv, detectors, store, experiment):
    """Run ``forensics evaluate`` (``argv`` plus each of ``detectors``) tracked in the SQLite MLflow
    ``store`` under ``experiment``; return its one MLflow run."""
    from mlflow.tracking import MlflowClient

    argv = [*argv, "--no-progress", "--no-audit", "--track", str(store), "--experiment", experiment]
    for name in detectors:
        argv += ["--detector", name]
    assert main(argv) == 0
    client = MlflowClient(f"sqlite:///{store}")
    run, = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run


def test_evaluate_tracks_every_detector_under_its_own_name(data, tmp_path, capsys):
    """With several detectors each one's summary is logged as ``NAME.metric``, the first one too
    (it was logged bare, as if the run had one detector, beside ``NAME.fold_metric``); with one
    detector the metrics stay bare."""
    store = tmp_path / "store.db"
    runs = {}
    for exp, detectors in (("two", ["spectrum-lr", "dct-lr"]), ("one", ["spectrum-lr"])):
        runs[exp] = _evaluate_tracked(["evaluate", str(data), "--cv", "2", "--out", str(tmp_path / exp)],
                                      detectors, store, exp)
    capsys.readouterr()
    table = pd.read_csv(tmp_path / "two" / "metrics.csv").set_index("detector")
    two = runs["two"].data.metrics
    for name in ("spectrum-lr", "dct-lr"):
        assert two[f"{name}.roc_auc"] == pytest.approx(table.loc[name, "roc_auc_mean"])
        assert f"{name}.fold_roc_auc" in two
    assert "roc_auc" not in two and "fold_roc_auc" not in two
    one = runs["one"].data.metrics
    assert one["roc_auc"] == pytest.approx(table.loc["spectrum-lr", "roc_auc_mean"])
    assert "fold_roc_auc" in one and not any("." in k for k in one)


def test_evaluate_all_runs_every_image_detector_without_weights(data, tmp_path, capsys):
    out = tmp_path / "all"
    assert main(["evaluate", str(data), "--detector", "all", "--cv", "2", "--out", str(out), "--no-progress",
                 "--no-audit"]) == 0
    from forensics.estimators import get, names

    table = pd.read_csv(out / "metrics.csv")
    expected = {n for n in names() if get(n).input == "image" and "torch" not in get(n).requires
                and get(n).parts.get("features", "full") is not None}
    assert {"dct-lr", "forensic-mlp", "forensic-xgb", "spectrum-lr"} <= expected
    assert set(table["detector"]) == expected
    assert (table["status"] == "ok").all()


def test_evaluate_options_reach_the_library(videos, tmp_path):
    """--threshold-rule, --aggregate topk_mean and --top-k away from their defaults."""
    from forensics import make_pipeline, read_table
    from forensics.model_selection import cross_validate_detector

    table = tmp_path / "t.parquet"
    assert main(["extract", str(videos), "--detector", "spectrum-lr", "--n-frames", "3", "--level", "frame", "--group-pattern",
                 r"_(\w+)\.mp4$", "--out", str(table), "--no-progress", "--no-audit"]) == 0
    out = tmp_path / "ev"
    assert main(["evaluate", str(table), "--detector", "spectrum-lr", "--cv", "3", "--threshold-rule", "youden",
                 "--aggregate", "topk_mean", "--top-k", "2", "--seed", "5", "--out", str(out), "--no-progress",
                 "--no-audit"]) == 0
    t = read_table(table)
    F, _ = t.features_for(make_pipeline("spectrum-lr").named_steps["features"])
    res = cross_validate_detector(make_pipeline("spectrum-lr")[1:], F, t.y, groups=t.groups, videos=t.videos, cv=3,
                                  threshold_rule="youden", aggregate="topk_mean", k=2, random_state=5)
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["video_roc_auc_mean"].iloc[0] == pytest.approx(res.video_summary.loc["roc_auc", "mean"])
    assert metrics["balanced_accuracy_mean"].iloc[0] == pytest.approx(res.summary.loc["balanced_accuracy", "mean"])
    scores = pd.read_parquet(out / "scores.parquet")
    np.testing.assert_allclose(scores["threshold"], res.thresholds[res.test_fold])
    # each frame's score says when the frame is shown (its time in the frame table), beside its index
    assert list(scores.columns[scores.columns.get_loc("frame_index"):][:3]) == ["frame_index", "time_s", "face_index"]
    np.testing.assert_allclose(scores["time_s"], t.data["time_s"])
    assert (scores.groupby("item_index")["time_s"].first() == 0).all()


def test_group_pattern_with_several_groups_joins_them(videos, tmp_path):
    """--group-pattern with two groups (here the index's first digits and the source photo): both make the key,
    in extract (into the table) and when a table's groups are re-read by evaluate."""
    from forensics import read_table

    two = r"^(?P<batch>\d\d)\d_(?P<photo>\w+)\.mp4$"
    table = tmp_path / "t.parquet"
    assert main(["extract", str(videos), "--detector", "spectrum-lr", "--n-frames", "3", "--group-pattern", two,
                 "--out", str(table), "--no-progress", "--no-audit"]) == 0
    t = read_table(table)
    names = [Path(p).name for p in t.data["path"]]
    expected = [f"{n[:2]}/{n[4:-4]}" for n in names]
    assert t.data["group"].tolist() == expected and len(set(expected)) > 1
    # evaluate from the table with another two-group pattern: its groups replace the table's
    other = r"^\d\d(\d)_(\w+?)(?:_\w+)?\.mp4$"
    out = tmp_path / "ev"
    assert main(["evaluate", str(table), "--detector", "spectrum-lr", "--cv", "2", "--group-pattern", other,
                 "--out", str(out), "--no-progress", "--no-audit"]) == 0
    scores = pd.read_parquet(out / "scores.parquet")
    want = {Path(p).name: re.match(other, Path(p).name) for p in scores["path"]}
    assert scores["group"].tolist() == [f"{want[Path(p).name].group(1)}/{want[Path(p).name].group(2)}"
                                        for p in scores["path"]]


def test_tune_options_reach_the_study(data, tmp_path, capsys):
    import optuna

    table = tmp_path / "t.parquet"
    assert main(["extract", str(data), "--detector", "dct-lr", "--out", str(table), "--no-progress",
                 "--no-audit"]) == 0
    storage = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    out = tmp_path / "tune"
    assert main(["tune", str(table), "--detector", "dct-lr", "--space", "head__C=[0.01, 1.0]", "--n-trials", "4",
                 "--cv", "3", "--no-prune", "--metric", "average_precision", "--study", "mine", "--storage", storage,
                 "--timeout", "600", "--out", str(out), "--no-progress", "--no-audit"]) == 0
    study = optuna.load_study(study_name="mine", storage=storage)
    assert len(study.trials) == 2 and study.user_attrs["metric"] == "average_precision"
    assert {t.state.name for t in study.trials} == {"COMPLETE"}  # no pruning asked
    # a grid of 2 that --n-trials 4 covers: each setting once, then the study stops (no repeats)
    assert sorted(t.params["head__C"] for t in study.trials) == [0.01, 1.0]
    assert "the space has 2 settings, each tried once (--n-trials 4 covers them)" in capsys.readouterr().out
    assert not (out / "study.db").exists() and (out / "best_model.skops").is_file()
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and "params_head__C" in trials.columns


def test_a_pruned_trial_says_its_fold_and_running_mean_and_a_repeat_whose_value_it_reuses():
    import optuna

    from forensics.cli._tune import trial_line

    def objective(trial):
        c = trial.suggest_categorical("head__C", [0.1, 1.0])
        if trial.number == 2:
            trial.set_user_attr("repeat_of", 0)
            return 0.9
        for step, v in enumerate([0.8611, 0.5, 0.7][: 2 if trial.number == 1 else 3]):
            trial.report(v, step)
        if trial.number == 1:
            raise optuna.TrialPruned()
        return 0.9 if c else 0.0

    study = optuna.create_study(direction="maximize")
    for c in (0.1, 1.0, 0.1):
        study.enqueue_trial({"head__C": c})
    study.optimize(objective, n_trials=3)
    done, pruned, repeat = study.trials
    assert trial_line(done, 3) == "  trial 0: complete 0.9000 {'head__C': 0.1}"
    # Optuna keeps the running mean of the last fold as a pruned trial's value: said as such, with the fold
    assert trial_line(pruned, 3) == "  trial 1: pruned after fold 2 of 3 (running mean 0.5000) {'head__C': 1.0}"
    assert trial_line(repeat, 3) == ("  trial 2: complete 0.9000 (a repeat of trial 0: its value, not run again) "
                                     "{'head__C': 0.1}")


def test_report_on_images_with_both_protocols(data, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(data), "--detector", "dct-lr", "--equalize", "both", "--cv", "2", "--n-boot", "50",
                 "--gallery", "2", "--min-bin-count", "3", "--title", "T", "--group-pattern", r"^\d+_([a-z]+)",
                 "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    # the console gives the fold mean, as report.md's headline and evaluate do, then the pooled figure, named so
    # (before: the pooled ROC-AUC alone, unnamed, beside a headline that gives the fold mean)
    record = json.loads((out / "run.json").read_text())["results"][0]["metrics"]
    mean = f"{record['roc_auc']:.3f} ± {record['roc_auc_std']:.3f}"
    line, = [x for x in printed.splitlines() if "item level: ROC-AUC" in x]
    assert line.startswith(f"  item level: ROC-AUC {mean} (mean ± std over 2 folds); pooled out-of-fold ")
    assert "(95% CI" in line and f"Held-out ROC-AUC **{mean}** over 2 folds" in (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "<title>T</title>" in html and "As given vs codec-equalized" in html and "7. Provenance" in html
    assert (out / "table_as_is_vs_equalized.csv").is_file() and (out / "figure_gallery.png").is_file()
    assert "--equalize both" in html  # the command, in the provenance
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["features"]["equalize"] == "both" and written["report"] == {"n_boot": 50, "gallery": 2,
                                                                               "min_bin_count": 3}
    # 12 reals measure no FPR below 1/12: the TPR at FPR 1% is said to be unmeasurable, not recorded as one
    assert "at FPR 0.01 not measurable with 12 reals" in printed
    metrics = json.loads((out / "run.json").read_text())["results"][0]["metrics"]
    assert "roc_auc_ci_low" in metrics and "tpr_at_fpr_1pct" not in metrics


@pytest.mark.parametrize("fpr, n_real, expected", [(0.01, 99, False), (0.01, 100, True), (0.01, 101, True),
                                                   (0.001, 999, False), (0.001, 1000, True), (0.01, 0, False)])
def test_a_tpr_at_fpr_is_measurable_from_one_real_in_1_over_fpr(fpr, n_real, expected):
    from forensics.cli._report import measurable

    assert measurable(fpr, n_real) is expected


def test_report_leaves_out_an_unreadable_image_like_train(data, tmp_path, capsys):
    """A broken file in the folder is left out with a note naming it (as train and evaluate do), not a stop;
    a folder of nothing but broken files is a one-line error."""
    import shutil

    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    broken = folder / "real" / "zz_broken.jpg"
    broken.write_bytes((next((data / "real").glob("*.jpg"))).read_bytes()[:300])
    out = tmp_path / "rep"
    assert main(["report", str(folder), "--detector", "spectrum-lr", "--cv", "2", "--n-boot", "20", "--out", str(out),
                 "--no-progress", "--no-audit"]) == 0
    printed = capsys.readouterr().out
    assert "note: 1 item could not be read and is left out" in printed and str(broken) in printed
    only_bad = tmp_path / "bad"
    for sub in ("real", "fake"):
        (only_bad / sub).mkdir(parents=True)
        (only_bad / sub / "x.jpg").write_bytes(b"not an image")
    assert main(["report", str(only_bad), "--detector", "spectrum-lr", "--cv", "2", "--out", str(tmp_path / "r2"),
                 "--no-progress", "--no-audit"]) == 1
    line, = error_lines(capsys.readouterr().err)
    assert "no item could be read" in line


def test_report_refuses_a_deep_detector_on_videos(videos, tmp_path, capsys):
    pytest.importorskip("torch")
    assert main(["report", str(videos), "--detector", "cnn-scratch", "--no-audit", "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 2
    assert "cnn-scratch is a deep detector that reads the images themselves" in capsys.readouterr().err


def test_evaluate_without_groups_says_so(data, capsys):
    assert main(["evaluate", str(data), "--detector", "dct-lr", "--cv", "2", "--no-progress"]) == 0
    assert "no groups given" in capsys.readouterr().out


def test_evaluate_saved_model_on_a_test_set(data, model, tmp_path):
    from forensics import load
    from forensics.metrics import evaluate

    out = tmp_path / "test.csv"
    assert main(["evaluate", str(data), "--model", str(model), "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out).set_index("group")
    manifest = paths_of(data)
    y = manifest["label"].to_numpy()
    scores = load(model).predict_proba(list(manifest["path"]))[:, 1]
    expected = evaluate(y, scores, threshold=0.5, groups=manifest["method"].to_numpy())
    assert table.index.tolist() == ["all", "resample", "self_blend", "splice"]
    np.testing.assert_allclose(table[["roc_auc", "accuracy", "n"]], expected[["roc_auc", "accuracy", "n"]])


def test_evaluate_saved_model_counts_the_files_of_another_kind_it_does_not_score(data, videos, model, tmp_path,
                                                                                 capsys):
    """An image model evaluated on a folder that also holds videos scores the images and says how many videos
    it left out (before: silently); on videos alone the error names what the folder holds and what the model
    takes. Look-alike: a folder of images only gives no note and the same metrics."""
    mixed = tmp_path / "mixed"
    shutil.copytree(data, mixed)
    for video in sorted((videos / "real").glob("*.mp4"))[:2]:
        shutil.copy(video, mixed / "real" / video.name)
    assert main(["evaluate", str(data), "--model", str(model), "--out", str(tmp_path / "a.csv"), "--no-progress"]) == 0
    assert "not scored" not in capsys.readouterr().err
    assert main(["evaluate", str(mixed), "--model", str(model), "--out", str(tmp_path / "b.csv"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"note: 2 videos of DATA are not scored ({model} scores images), first: {mixed / 'real'}" in err
    assert "the metrics are those of the 24 images" in err
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))
    assert main(["evaluate", str(videos), "--model", str(model), "--no-progress"]) == 1
    line, = error_lines(capsys.readouterr().err)
    assert line.endswith(f"DATA {str(videos)!r} holds no image (12 videos): {model} scores images")


def test_evaluate_saved_model_leaves_out_items_it_cannot_score_and_says_so(data, model, tmp_path, capsys):
    """A truncated JPEG among the test items stopped the whole evaluation (predict records it as an error
    row); now it is left out of the metrics, counted and named, and the metrics are those of the other
    items. Look-alike: every item unreadable is an error naming the first."""
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    bad = sorted((broken / "real").glob("*.jpg"))[0]
    bad.write_bytes(bad.read_bytes()[:200])
    assert main(["evaluate", str(broken), "--model", str(model), "--out", str(tmp_path / "b.csv"),
                 "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"note: 1 of 24 images could not be scored and are left out of the metrics; first: {bad}" in err
    rest = paths_of(data)
    rest = rest[rest["path"].map(lambda p: Path(p).name) != bad.name].reset_index(drop=True)
    from forensics import load
    from forensics.metrics import evaluate

    scores = load(model).predict_proba(list(rest["path"]))[:, 1]
    expected = evaluate(rest["label"].to_numpy(), scores, threshold=0.5, groups=rest["method"].to_numpy())
    got = pd.read_csv(tmp_path / "b.csv").set_index("group")
    np.testing.assert_allclose(got[["roc_auc", "n"]], expected[["roc_auc", "n"]])
    assert got.loc["all", "n"] == 23
    # --out DIR: each test item's score beside the metrics (before: metrics.csv only), the failed one with its reason
    assert main(["evaluate", str(broken), "--model", str(model), "--out", str(tmp_path / "dir"),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["config.yaml", "metrics.csv", "run.json",
                                                                  "scores.parquet"]
    per_item = pd.read_parquet(tmp_path / "dir" / "scores.parquet")
    assert list(per_item.columns) == ["path", "label", "method", "score", "status", "error"]
    assert len(per_item) == 24 and per_item["status"].tolist().count("error") == 1
    failed = per_item[per_item["status"] == "error"].iloc[0]
    assert Path(failed["path"]).name == bad.name and np.isnan(failed["score"]) and failed["error"]
    kept = per_item[per_item["status"] == "ok"].reset_index(drop=True)
    assert kept["path"].map(lambda p: Path(p).name).tolist() == rest["path"].map(lambda p: Path(p).name).tolist()
    np.testing.assert_allclose(kept["score"], scores, rtol=1e-12)
    np.testing.assert_array_equal(kept["label"], rest["label"])
    # a test set of one class: the ranking metrics cannot be measured, and the note says so
    reals = paths_of(data)
    reals[reals["label"] == 0][["path", "label"]].to_csv(tmp_path / "reals.csv", index=False)
    assert main(["evaluate", str(tmp_path / "reals.csv"), "--model", str(model), "--no-progress"]) == 0
    assert "note: DATA holds only reals: the ranking metrics (ROC-AUC, EER, average precision) are undefined" in \
        capsys.readouterr().err
    for f in broken.rglob("*.jpg"):
        f.write_bytes(b"not a jpeg")
    assert main(["evaluate", str(broken), "--model", str(model), "--no-progress"]) == 1
    line, = error_lines(capsys.readouterr().err)
    assert "no item of DATA could be scored; first: " in line


def test_evaluate_detector_on_other_data_sets_and_the_matrix(data, videos, tmp_path, capsys):
    from forensics.datasets import save_demo_dataset

    other = tmp_path / "other"
    save_demo_dataset(other, n_per_class=8, size=64, seed=7)
    out = tmp_path / "cross"
    assert main(["evaluate", str(data), "--detector", "dct-lr", "--test", str(data), "--test", str(other),
                 "--out", str(out), "--no-progress", "--no-audit"]) == 0
    printed = capsys.readouterr().out
    assert "24 test items of" in printed and "are also training items" in printed
    table = pd.read_csv(out / "metrics.csv")
    assert table.groupby("test")["group"].first().to_dict() == {str(data): "all", str(other): "all"}
    # each test row's score (before: no scores.parquet, though the help listed it); its ROC-AUC is the metric's
    from sklearn.metrics import roc_auc_score

    scores = pd.read_parquet(out / "scores.parquet")
    assert scores.groupby("test", sort=False).size().to_dict() == {str(data): 24, str(other): 16}
    assert (scores["detector"] == "dct-lr").all() and scores["score"].between(0, 1).all()
    for test, rows in scores.groupby("test"):
        assert roc_auc_score(rows["label"], rows["score"]) == pytest.approx(
            table[(table["test"] == test) & (table["group"] == "all")]["roc_auc"].iloc[0], abs=1e-12)
    assert main(["evaluate", str(data), "--detector", "dct-lr", "--test", str(other), "--matrix", "--cv", "2",
                 "--out", str(tmp_path / "m.csv"), "--no-progress", "--no-audit"]) == 0
    matrix = pd.read_csv(tmp_path / "m.csv")
    assert matrix[["train", "test", "how"]].values.tolist() == [
        [str(data), str(data), "cv"], [str(data), str(other), "fit on train"],
        [str(other), str(data), "fit on train"], [str(other), str(other), "cv"]]
    assert main(["evaluate", str(data), "--detector", "dct-lr", "--test", str(tmp_path / "nope"), "--no-audit"]) == 1
    assert str(tmp_path / "nope") in capsys.readouterr().err


def test_evaluate_on_a_test_set_writes_every_row_with_its_status(data, tmp_path, capsys):
    """--test with --out: scores.parquet holds every row of the test set, an unreadable file included (status
    error, its reason, NaN score), in the test table's order; before, the rows left out of the metrics were left
    out of the file too, without a status column (evaluate --model's file keeps them)."""
    from sklearn.metrics import roc_auc_score

    from forensics.datasets import save_demo_dataset

    other = tmp_path / "other"
    save_demo_dataset(other, n_per_class=8, size=64, seed=7)
    bad = sorted((other / "real").glob("*.jpg"))[3]
    bad.write_bytes(b"not a jpeg")
    out = tmp_path / "t"
    assert main(["evaluate", str(data), "--detector", "dct-lr", "--test", str(other), "--out", str(out),
                 "--no-progress", "--no-audit"]) == 0
    capsys.readouterr()
    scores = pd.read_parquet(out / "scores.parquet")
    assert len(scores) == 16 and scores["item_index"].tolist() == list(range(16))
    failed = scores[scores["status"] == "error"]
    assert failed["path"].tolist() == [str(bad)] and failed["score"].isna().all()
    assert failed["error"].iloc[0] != ""
    ok = scores[scores["status"] != "error"]
    assert ok["score"].between(0, 1).all() and (ok["error"] == "").all()
    table = pd.read_csv(out / "metrics.csv")
    assert roc_auc_score(ok["label"], ok["score"]) == pytest.approx(table[table["group"] == "all"]["roc_auc"].iloc[0],
                                                                      abs=1e-12)


def test_evaluate_tracks_each_test_set_under_its_name(data, tmp_path, capsys):
    """Each --test set's metrics carry its name in MLflow (B was logged as bare ``roc_auc``, C as
    ``DETECTOR.roc_auc``: the two could not be told apart), with one detector and with two; the
    matrix's train->test names (full paths, which MLflow refuses) become ``TRAIN.to.TEST``."""
    from forensics.datasets import save_demo_dataset

    for name, seed in (("B", 7), ("C", 9)):
        save_demo_dataset(tmp_path / name, n_per_class=6, size=64, seed=seed)
    store = tmp_path / "store.db"
    runs = {}
    for exp, detectors, extra in (("one", ["dct-lr"], []), ("two", ["dct-lr", "spectrum-lr"], []),
                                  ("matrix", ["dct-lr"], ["--matrix", "--cv", "2"])):
        runs[exp] = _evaluate_tracked(["evaluate", str(data), "--test", str(tmp_path / "B"), "--test",
                                       str(tmp_path / "C"), *extra, "--out", str(tmp_path / f"{exp}.csv")],
                                      detectors, store, exp)
    capsys.readouterr()
    for exp, prefixes in (("one", [""]), ("two", ["dct-lr.", "spectrum-lr."])):
        table = pd.read_csv(tmp_path / f"{exp}.csv")
        table = table[(table["group"] == "all") & (table["level"] == "item")].set_index(["detector", "test"])
        logged = runs[exp].data.metrics
        assert set(logged) == {f"{p}{t}.roc_auc" for p in prefixes for t in "BC"}
        for prefix, detector in zip(prefixes, ["dct-lr", "spectrum-lr"]):
            for t in "BC":
                assert logged[f"{prefix}{t}.roc_auc"] == pytest.approx(table.loc[(detector, str(tmp_path / t)),
                                                                                   "roc_auc"])
        assert runs[exp].data.params["data.B"] == str(tmp_path / "B")
    matrix = pd.read_csv(tmp_path / "matrix.csv")
    labels = {str(data): "data", str(tmp_path / "B"): "B", str(tmp_path / "C"): "C"}
    expected = {f"{labels[r.train]}.to.{labels[r.test]}.roc_auc": r.roc_auc for r in matrix.itertuples()}
    assert len(expected) == 9 and runs["matrix"].data.metrics == pytest.approx(expected)


@pytest.mark.parametrize("paths, expected", [
    (["/x/B", "/y/C"], ["B", "C"]),  # the last part tells them apart
    (["/x/ffpp/features.parquet", "/x/dfdc/features.parquet"], ["ffpp/features.parquet", "dfdc/features.parquet"]),
    (["/x/a/B", "/x/a/B", "/x/c/B"], ["a/B", "a/B", "c/B"]),  # the same data set twice: one name
    (["/x/a>b", "/x/a:b c"], ["a_b", "a_b c"]),  # characters MLflow refuses (a colon on Windows) become _
    (["/x/a>b", "/x/a<b"], ["x/a_b_0", "x/a_b_1"]),  # names cleaning made equal: numbered
    (["/x/a>b", "/x/a<b", "/x/a>b"], ["x/a_b_0", "x/a_b_1", "x/a_b_0"]),  # numbered per data set, not per entry
    ([], []),
    (["/"], ["root"]),
])
def test_data_labels_are_the_shortest_distinct_path_ends_mlflow_accepts(paths, expected):
    from mlflow.utils.validation import _validate_metric_name

    from forensics.tracking import data_labels

    labels = data_labels(paths)
    assert labels == expected
    for label in labels:
        _validate_metric_name(f"dct-lr.{label}.roc_auc")


def test_evaluate_refuses_a_table_made_with_other_settings(videos, tmp_path, capsys):
    table = tmp_path / "t" / "features.parquet"
    assert main(["extract", str(videos), "--features", "blur", "--n-frames", "2", "--level", "frame",
                 "--out", str(table), "--no-progress", "--no-audit"]) == 0
    cases = [
        (["--detector", "dct-lr"], "the detector needs (family dctspec; first: 'dctspec__"),
        (["--detector", "dct-lr", "--n-frames", "4"], "was extracted with n_frames=2; this run asks for n_frames=4"),
        (["--detector", "dct-lr", "--level", "video"], "holds frame-level rows; this run asks for level 'video'"),
    ]
    for extra, message in cases:
        assert main(["evaluate", str(table), *extra, "--no-progress", "--no-audit"]) == 1
        line, = error_lines(capsys.readouterr().err)
        assert message in line and str(table) in line
    # the look-alike that is accepted: the same frame setting, given explicitly

    blur_detector = tmp_path / "cfg.yaml"
    blur_detector.write_text(yaml.safe_dump({"frames": {"n_frames": 2}}))
    assert main(["evaluate", str(table), "--detector", "spectrum-lr", "--config", str(blur_detector),
                 "--no-progress", "--no-audit"]) == 1  # spectral columns are not in a blur table either
    assert "the detector needs (family spectral; first: 'spectral__" in capsys.readouterr().err


# -- predict ---------------------------------------------------------------------------------------

def test_predict_one_row_per_input_in_order_with_failures_recorded(data, model, tmp_path, capsys):
    from forensics import load

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    real = sorted(str(p) for p in (data / "real").glob("*.jpg"))
    one_fake = str(next(iter(sorted((data / "fake" / "splice").glob("*.jpg")))))
    inputs = [one_fake, str(data / "real"), str(bad), str(tmp_path / "missing.png")]
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), *inputs, "--out", str(out), "--chunk-size", "5", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"2 of {len(real) + 3} inputs failed" in err
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert table["input"].tolist() == [one_fake, *real, str(bad), str(tmp_path / "missing.png")]
    assert table["status"].tolist() == ["ok"] * (len(real) + 1) + ["error", "error"]
    assert table["error"].iloc[-1] == "file not found" and "not a readable image" in table["error"].iloc[-2]
    expected = load(model).predict_proba([one_fake, *real])[:, 1]
    np.testing.assert_allclose(table["score"].iloc[:-2], expected, rtol=1e-10)
    assert table["prediction"].iloc[:-2].tolist() == (expected >= 0.5).astype(int).tolist()
    assert table[["score", "prediction"]].iloc[-2:].isna().all().all()
    assert (tmp_path / "pred.config.yaml").is_file()
    # the run record --out promises beside the predictions (before: none was written)
    record = json.loads((tmp_path / "pred.run.json").read_text())
    assert (record["command"], record["n_items"], record["n_failed"]) == ("predict", len(real) + 3, 2)
    assert record["model"] == str(model) and record["out"] == str(out) and record["seconds"] > 0


def test_predict_names_why_an_input_file_named_on_the_command_line_is_missing(data, model, tmp_path, capsys):
    """An input path given by name says what the loaders say: a Unicode-normalization twin (a name
    typed precomposed for a file copied from macOS), Windows separators, a broken link (with its
    target), a pipe. Look-alikes: the name as stored is scored; a name with no twin is plainly
    not found."""
    import unicodedata

    src = next(iter(sorted((data / "real").glob("*.jpg"))))
    nfc, nfd = (unicodedata.normalize(f, "café.jpg") for f in ("NFC", "NFD"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / nfd).write_bytes(src.read_bytes())
    os.symlink(tmp_path / "gone.jpg", tmp_path / "link.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    os.symlink("loop.jpg", tmp_path / "loop.jpg")  # a link to itself: a loop, not "broken"
    inputs = [str(tmp_path / "sub" / nfc), str(tmp_path) + "/sub\\" + nfd, str(tmp_path / "link.jpg"),
              str(tmp_path / "pipe.jpg"), str(tmp_path / "loop.jpg"), str(tmp_path / "sub" / nfd),
              str(tmp_path / "other.jpg")]
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), *inputs, "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert table["status"].tolist() == ["error"] * 5 + ["ok", "error"]
    assert pd.read_csv(out, keep_default_na=False)["error"].tolist() == [
        "file not found; a file whose name differs only in Unicode normalization exists (NFD: 'cafe\\u0301.jpg' "
        "vs 'caf\\u00e9.jpg' asked), e.g. a copy from macOS: rename one to match",
        f"file not found; the path uses Windows separators ('\\'): a file exists at {tmp_path / 'sub' / nfd}",
        f"broken symbolic link (to {tmp_path / 'gone.jpg'})",
        "not a regular file (a device, pipe or socket is never read)",
        "symbolic link loop (a link that points to itself, or links that point to each other): no file at its end",
        "", "file not found"]


def test_predict_on_a_folder_accounts_for_every_media_file(data, model, tmp_path, capsys):
    """A folder's files that cannot be scored do not vanish: a broken link with an image suffix is
    a row with its reason; media of another format or kind and hidden files (macOS ._ forks) are
    counted on stderr. Look-alike: a folder of readable images only gives no such note."""
    import shutil
    import warnings

    from forensics.datasets import SkippedFilesWarning

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    images = sorted((data / "real").glob("*.jpg"))[:2]
    shutil.copy(images[0], folder / "a.jpg")
    shutil.copy(images[1], folder / "sub" / "b.JPG")
    (folder / "gone.png").symlink_to(folder / "nowhere.png")
    shutil.copy(images[0], folder / "c.heic")
    shutil.copy(images[0], folder / "clip.mp4")
    shutil.copy(images[0], folder / "._a.jpg")
    out = tmp_path / "pred.csv"
    with pytest.warns(SkippedFilesWarning, match=r"forensics predict: 3 media file\(s\) under .* are not scored: "
                                                 r".*\.heic file \(the model takes images\).*\.mp4 file.*hidden"):
        assert main(["predict", str(model), str(folder), "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert table["input"].tolist() == [str(folder / "a.jpg"), str(folder / "gone.png"), str(folder / "sub" / "b.JPG")]
    assert table["status"].tolist() == ["ok", "error", "ok"]
    assert table["error"].iloc[1] == "broken symbolic link"
    for name in ("gone.png", "c.heic", "clip.mp4", "._a.jpg"):
        (folder / name).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedFilesWarning)
        assert main(["predict", str(model), str(folder), "--out", str(out), "--no-progress"]) == 0
    assert pd.read_csv(out)["status"].tolist() == ["ok", "ok"]


def test_predict_one_unreadable_name_is_a_row_and_look_alike_names_are_named(data, model, tmp_path, capsys):
    """A name longer than the file system allows (255 bytes) used to abort the whole run ('File name
    too long') instead of being one row with its reason; a URL, and a name that differs from a file
    only in letter case or trailing spaces, are named as such. In a folder, an image whose name
    ends in a space is scored, not dropped. Look-alikes: the 255-byte name and the stored names
    are scored."""
    import shutil

    src = sorted((data / "real").glob("*.jpg"))[0]
    folder = tmp_path / "in"
    folder.mkdir()
    longest = "x" * 251 + ".jpg"  # 255 bytes: the most a name may have
    for name in (longest, "Case.JPG", "space.jpg "):
        shutil.copy(src, folder / name)
    inputs = [str(folder / ("x" * 252 + ".jpg")), str(folder / longest), "https://example.org/a.jpg",
              str(folder / "case.jpg"), str(folder / "space.jpg"), str(folder / "Case.JPG")]
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), *inputs, "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["status"].tolist() == ["error", "ok", "error", "error", "error", "ok"]
    assert table["error"].tolist() == [
        "cannot read file (File name too long)", "",
        "file not found; it is a URL: inputs are local files (download it first)",
        "file not found; a file whose name differs only in letter case exists: 'Case.JPG'",
        "file not found; a file whose name differs only in trailing spaces or dots exists: 'space.jpg '", ""]
    assert main(["predict", str(model), str(folder), "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["input"].tolist() == [str(folder / n) for n in ("Case.JPG", "space.jpg ", longest)]
    assert table["status"].tolist() == ["ok"] * 3 and np.ptp(table["score"]) < 1e-9  # one picture, three names
    capsys.readouterr()


def test_a_manifest_naming_one_file_twice_is_warned_about_by_the_command_line(data, tmp_path, capsys):
    """The command line's manifest reader warns, as read_manifest does, when two rows name one file
    (here 'a.jpg' and a link to it): the file would count twice. Look-alike: two files, no warning."""
    import shutil
    import warnings

    images = sorted((data / "real").glob("*.jpg"))[:2]
    shutil.copy(images[0], tmp_path / "a.jpg")
    shutil.copy(images[1], tmp_path / "b.jpg")
    os.symlink(tmp_path / "a.jpg", tmp_path / "again.jpg")
    (tmp_path / "m.csv").write_text("path,label\na.jpg,0\nb.jpg,1\nagain.jpg,1\n")
    argv = ["extract", str(tmp_path / "m.csv"), "--out", str(tmp_path / "out"), "--features", "blur", "--no-progress"]
    with pytest.warns(UserWarning, match=r"1 row\(s\) of .*m\.csv name a file that an earlier row names \(first: "
                                         r"rows 0 and 2: .*a\.jpg and .*again\.jpg\)"):
        assert main(argv) == 0
    (tmp_path / "m.csv").write_text("path,label\na.jpg,0\nb.jpg,1\n")
    argv[3] = str(tmp_path / "out2")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert main(argv) == 0
    capsys.readouterr()


def test_predict_writes_a_file_name_with_undecodable_bytes_escaped(data, model, tmp_path, capsys):
    """A file named in Latin-1 on a UTF-8 system is read (load_item takes its path) whether given
    in a folder or by name; the table shows its name escaped instead of failing to write it.
    Look-alike: a valid non-ASCII name is written as is."""
    import os
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    image = sorted((data / "real").glob("*.jpg"))[0]
    bad = os.fsdecode(os.fsencode(str(folder)) + b"/caf\xe9.jpg")
    try:
        shutil.copy(image, bad)
    except OSError:  # pragma: no cover - a file system that refuses such names
        pytest.skip("this file system refuses names that are not valid UTF-8")
    shutil.copy(image, folder / "café.jpg")
    out = tmp_path / "pred.csv"
    escaped, fine = str(folder / "caf\\udce9.jpg"), str(folder / "café.jpg")
    for inputs, expected in (([str(folder)], [fine, escaped]), ([bad, fine], [escaped, fine])):
        assert main(["predict", str(model), *inputs, "--out", str(out), "--no-progress"]) == 0
        table = pd.read_csv(out, encoding="utf-8")
        assert table["input"].tolist() == expected
        assert table["status"].tolist() == ["ok", "ok"] and table["score"].iloc[0] == table["score"].iloc[1]
    import yaml

    config = yaml.safe_load((tmp_path / "pred.config.yaml").read_text(encoding="utf-8"))
    assert config["data"]["inputs"] == [bad, fine]  # the exact name: --config repeats the run


def test_predict_takes_a_folder_of_videos_for_a_clip_model(videos, data, tmp_path, capsys):
    """A saved clip model (make_pipeline("r3d-18"): a pipeline ending in a VideoClassifier) scores a
    folder's videos: a folder contributes video files for every kind of video model, not only for
    VideoFeatures pipelines. Look-alike: an image model given the same folder finds no image in it."""
    pytest.importorskip("torchvision")
    from forensics import load
    from forensics._video_detector import takes_videos

    path = tmp_path / "clip.skops"
    assert main(["train", str(videos), "--detector", "r3d-18", "--set", "head__epochs=1", "--set", "head__n_frames=4",
                 "--set", "head__input_size=16", "--set", "head__validation_fraction=None", "--out", str(path),
                 "--no-progress", "--no-audit"]) == 0
    model = load(path)
    assert takes_videos(model)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(path), str(videos), "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out)
    files = sorted(str(p) for p in Path(videos).rglob("*.mp4"))
    assert table["input"].tolist() == files and (table["status"] == "ok").all()
    np.testing.assert_allclose(table["score"], model.predict_proba(files)[:, 1], rtol=1e-6)
    capsys.readouterr()
    from forensics.datasets import SkippedFilesWarning

    with pytest.warns(SkippedFilesWarning, match=r"12 \.jpg file \(the model takes videos\)"):
        assert main(["predict", str(path), str(data / "real"), "--out", str(out), "--no-progress"]) != 0
    assert "folder holds no file with suffix .mp4" in capsys.readouterr().err


def test_takes_videos_by_first_and_last_step():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from forensics import VideoDetector, make_pipeline
    from forensics.audio import AudioFeatures
    from forensics.deep import BackboneClassifier, VideoClassifier
    from forensics.features import BlurFeatures, VideoFeatures
    from forensics._video_detector import takes_videos

    lr = ("clf", LogisticRegression())
    assert takes_videos(VideoDetector())
    assert takes_videos(Pipeline([("features", VideoFeatures(BlurFeatures())), lr]))
    assert takes_videos(Pipeline([("features", AudioFeatures()), lr]))
    assert takes_videos(Pipeline([("head", VideoClassifier())])) and takes_videos(VideoClassifier())
    assert takes_videos(make_pipeline("r3d-18"))
    assert not takes_videos(Pipeline([("features", BlurFeatures()), lr]))  # look-alikes: image models
    assert not takes_videos(Pipeline([("head", BackboneClassifier())])) and not takes_videos(make_pipeline("dct-lr"))


def test_predict_on_a_feature_table_scores_each_row_like_the_files(data, model, tmp_path, capsys):
    """A table written by extract is scored row by row with the same scores as its files; a row whose item
    could not be extracted stays a row, with status error; a table without the model's features is refused."""
    import shutil

    from forensics import load, read_table

    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    (folder / "real" / "zz_broken.jpg").write_bytes(b"\xff\xd8 truncated")
    table = tmp_path / "t.parquet"
    assert main(["extract", str(folder), "--detector", "dct-lr", "--out", str(table), "--no-progress",
                 "--no-audit"]) == 0
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(table), "--out", str(out), "--no-progress"]) == 0
    assert "1 of 25 inputs failed" in capsys.readouterr().err
    pred = pd.read_csv(out, keep_default_na=False, na_values=[""])
    t = read_table(table)
    assert pred["input"].tolist() == [str(p) for p in t.paths]
    broken = pred["input"].str.endswith("zz_broken.jpg").to_numpy()
    assert pred.loc[broken, "status"].tolist() == ["error"] and "not extracted" in pred.loc[broken, "error"].iloc[0]
    assert pred.loc[~broken, "status"].eq("ok").all()
    expected = load(model).predict_proba(list(pred.loc[~broken, "input"]))[:, 1]
    np.testing.assert_allclose(pred.loc[~broken, "score"], expected, rtol=1e-9)
    assert main(["predict", str(model), str(table), str(folder / "real"), "--no-progress"]) == 2
    line, = error_lines(capsys.readouterr().err)
    assert "must be the only input" in line and str(table) in line
    other = tmp_path / "spectrum.parquet"
    assert main(["extract", str(data), "--detector", "spectrum-lr", "--out", str(other), "--no-progress",
                 "--no-audit"]) == 0
    assert main(["predict", str(model), str(other), "--no-progress"]) == 1
    line, = error_lines(capsys.readouterr().err)
    assert "the detector needs (famil" in line


def test_predict_refuses_to_score_an_item_whose_features_are_all_nan(data, tmp_path, capsys):
    """A 7x7 image has no 8x8 block: every column of the DCT family is NaN, and a score would be the
    imputer's medians, not about the image: it gets status error with the reason, in the files path
    and the feature-table path; the 8x8 look-alike (one block) is scored."""
    import cv2

    from forensics import load, make_pipeline, save

    model = tmp_path / "dct.skops"
    train = paths_of(data)
    save(make_pipeline(features=["dct"], head="logistic").fit(list(train["path"]), train["label"]), model)
    folder = tmp_path / "small"
    rng = np.random.default_rng(3)
    for label in ("fake", "real"):
        (folder / label).mkdir(parents=True)
        for side in (7, 8):
            cv2.imwrite(str(folder / label / f"s{side}.png"), rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(folder), "--out", str(out), "--no-progress"]) == 0
    assert "2 of 4 inputs failed" in capsys.readouterr().err
    pred = pd.read_csv(out, keep_default_na=False, na_values=[""])
    tiny = pred["input"].str.endswith("s7.png").to_numpy()
    assert tiny.sum() == 2 and pred["status"].tolist() == ["error" if t else "ok" for t in tiny]
    assert pred.loc[tiny, "error"].str.startswith("no feature of the model could be computed for it (all 45 columns "
                                                  "NaN").all()
    assert pred.loc[tiny, "score"].isna().all() and pred.loc[tiny, "prediction"].isna().all()
    np.testing.assert_allclose(pred.loc[~tiny, "score"], load(model).predict_proba(list(pred.loc[~tiny, "input"]))[:, 1],
                               rtol=1e-10)
    table = tmp_path / "t.parquet"
    with pytest.warns(EmptyRowsWarning, match="2 of 4 items were read but have no value in any of the 45 columns"):
        assert main(["extract", str(folder), "--features", "dct", "--out", str(table), "--no-progress",
                     "--no-audit"]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(table), "--out", str(out), "--no-progress"]) == 0
    by_table = pd.read_csv(out, keep_default_na=False, na_values=[""]).set_index("input").loc[pred["input"]]
    assert by_table["status"].tolist() == pred["status"].tolist() and by_table["error"].tolist() == pred["error"].tolist()
    np.testing.assert_allclose(by_table["score"], pred["score"], rtol=1e-9)


def test_predict_refuses_to_score_a_video_whose_frame_features_are_all_nan(tmp_path, capsys):
    """A video 1 pixel wide has no frame feature value (every blur column NaN, and the face rate NaN
    without face detection), but its frame counts (frames sampled, frames used) are numbers, so the all-NaN test missed it and it was scored
    from the imputer's medians as 'ok'. Now VideoFeatures warns, and predict gives it status error with
    the reason, from the files and from a feature table; the 8x8 look-alike is scored."""
    import av
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from forensics import load, save
    from forensics.features import VideoFeatures, make_feature_bank

    def video(path, w, h, seed):
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        with av.open(str(path), "w") as c:
            s = c.add_stream("mpeg4", rate=10)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            for _ in range(4):
                frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), format="rgb24")
                for pk in s.encode(frame):
                    c.mux(pk)
            for pk in s.encode():
                c.mux(pk)
        return str(path)

    train = [video(tmp_path / "train" / f"{k}.mkv", 16, 16, k) for k in range(4)]
    vf = VideoFeatures(make_feature_bank(["blur"]), faces=False, n_frames=3)
    model = Pipeline([("features", vf), ("impute", SimpleImputer(keep_empty_features=True)),
                      ("head", LogisticRegression())])
    save(model.fit(train, [0, 1, 0, 1]), tmp_path / "m.skops")
    thin = video(tmp_path / "in" / "real" / "thin.mkv", 1, 16, 9)
    small = video(tmp_path / "in" / "fake" / "small.mkv", 8, 8, 10)
    with pytest.warns(EmptyRowsWarning, match=r"1 of 2 videos were read but have no value in any of the 41 "
                                            r"columns besides the frame counts .* first: video 0 \(.*thin.mkv\)"):
        vf.transform([thin, small])
    out = tmp_path / "pred.csv"
    assert main(["predict", str(tmp_path / "m.skops"), str(tmp_path / "in"), "--out", str(out), "--no-progress"]) == 0
    assert "1 of 2 inputs failed" in capsys.readouterr().err
    pred = pd.read_csv(out, keep_default_na=False, na_values=[""]).set_index("input")
    assert pred.loc[thin, "status"] == "error" and pred.loc[small, "status"] == "ok"
    assert pred.loc[thin, "error"].startswith("no feature of the model could be computed for it (all 41 columns NaN besides "
                                             "the video's frame counts")
    assert np.isnan(pred.loc[thin, "score"])
    np.testing.assert_allclose(pred.loc[small, "score"], load(tmp_path / "m.skops").predict_proba([small])[0, 1],
                               rtol=1e-10)
    table = tmp_path / "t.parquet"
    with pytest.warns(RuntimeWarning, match="were read but have no value in any of the 41 columns besides"):
        assert main(["extract", str(tmp_path / "in"), "--features", "blur", "--level", "video", "--n-frames", "3",
                     "--out", str(table), "--no-progress", "--no-audit"]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.skops"), str(table), "--out", str(out), "--no-progress"]) == 0
    by_table = pd.read_csv(out, keep_default_na=False, na_values=[""]).set_index("input")
    assert by_table.loc[thin, "status"] == "error" and by_table.loc[thin, "error"] == pred.loc[thin, "error"]
    np.testing.assert_allclose(by_table.loc[small, "score"], pred.loc[small, "score"], rtol=1e-9)


def test_predict_json_to_stdout_and_all_failing(model, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(model), str(tmp_path / "empty"), str(tmp_path / "x.png"), "--format", "json",
                 "--no-progress"]) == 1
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["status"] for r in rows] == ["error", "error"]
    assert rows[0]["score"] is None and "folder holds no file" in rows[0]["error"]
    line, = error_lines(captured.err)
    assert "every input failed" in line and str(tmp_path / "empty") in line


def test_predict_missing_or_corrupt_model(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "m.skops"), "x.jpg"]) == 1
    assert f"model not found: {str(tmp_path / 'm.skops')!r}" in capsys.readouterr().err
    (tmp_path / "broken.joblib").write_bytes(b"garbage")
    assert main(["predict", str(tmp_path / "broken.joblib"), "x.jpg"]) == 1
    line, = error_lines(capsys.readouterr().err)
    assert "cannot load the model" in line and "broken.joblib" in line


# -- runs ------------------------------------------------------------------------------------------

def test_runs_lists_the_run_records_and_answers_sql(data, tmp_path, capsys, monkeypatch):
    root = tmp_path / "results"
    assert main(["extract", str(data), "--features", "dctspec", "--out", str(root / "t"), "--no-progress"]) == 0
    assert main(["evaluate", str(root / "t" / "features.parquet"), "--detector", "dct-lr", "--cv", "3",
                 "--out", str(root / "ev"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["runs", str(root), "--format", "csv"]) == 0
    runs = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert runs["command"].tolist() == ["extract", "evaluate"]
    metrics = pd.read_csv(root / "ev" / "metrics.csv")
    assert runs["roc_auc"].iloc[1] == pytest.approx(metrics["roc_auc_mean"].iloc[0])
    assert main(["runs", str(root), "--sql", "SELECT detector, n_items FROM runs WHERE command = 'evaluate'",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"detector": "dct-lr", "n_items": 24}]
    assert main(["runs", str(root), "--tables", "--format", "csv"]) == 0
    tables = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert tables["path"].tolist() == [str(root / "t" / "features.parquet")] and tables["n_rows"].tolist() == [24]
    assert main(["runs", str(tmp_path / "nope")]) == 1
    # the listings are those of DuckDB's query, and need no DuckDB (the 'workflow' extra); --sql does
    from forensics.tracking import DEFAULT_QUERY, list_runs, query_runs

    pd.testing.assert_frame_equal(list_runs(root), query_runs(root, DEFAULT_QUERY), check_dtype=False)
    pd.testing.assert_frame_equal(list_runs(root, tables=True),
                                  query_runs(root, "SELECT * FROM tables ORDER BY created"), check_dtype=False)
    capsys.readouterr()
    with_duckdb = {}
    for flags in ([], ["--tables"]):
        assert main(["runs", str(root), *flags]) == 0
        with_duckdb[tuple(flags)] = capsys.readouterr().out
    monkeypatch.setitem(sys.modules, "duckdb", None)  # not installed: importing it raises ImportError
    for flags in ([], ["--tables"]):
        assert main(["runs", str(root), *flags]) == 0
        assert capsys.readouterr().out == with_duckdb[tuple(flags)]
    assert main(["runs", str(root), "--sql", "SELECT 1"]) == 1
    assert 'SQL over runs needs DuckDB: pip install "scikit-forensics[workflow]"' in capsys.readouterr().err


def test_environment_variable_for_tracking_is_read(monkeypatch):
    from forensics.tracking import resolve_tracking_uri

    monkeypatch.delenv("FORENSICS_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None) is None
    assert resolve_tracking_uri("") == f"sqlite:///{Path('mlflow.db').resolve()}"
    monkeypatch.setenv("FORENSICS_TRACKING_URI", "http://127.0.0.1:9")
    assert resolve_tracking_uri(None) == "http://127.0.0.1:9" == resolve_tracking_uri("")
    assert resolve_tracking_uri("runs") == f"sqlite:///{Path('runs').resolve() / 'mlflow.db'}"


def test_tracked_values_with_undecodable_bytes_are_logged_escaped(tmp_path):
    """An output folder or config path named in Latin-1 on a UTF-8 system reaches the run's
    parameters and command-line tag: MLflow stores UTF-8 only and raised 'utf-8' codec can't encode
    at the run's first parameters, failing the command. Such values are logged with the bytes
    escaped, as item errors name them. Look-alike: a valid 'caf\u00e9' is logged as it is."""
    import os

    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from forensics.tracking._mlflow import Tracker

    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with Tracker(uri, experiment="x", run_name=bad, tags={"src": bad}) as run:
        run.log_params({"output.out": bad, "output.other": str(tmp_path / "caf\u00e9")})
        run.set_tags({"forensics.command_line": "forensics train " + bad})
    logged = MlflowClient(uri).get_run(run.run_id)
    escaped = str(tmp_path / "caf\\udce9")
    assert logged.data.params == {"output.out": escaped, "output.other": str(tmp_path / "caf\u00e9")}
    assert logged.data.tags["forensics.command_line"] == "forensics train " + escaped
    assert logged.data.tags["src"] == escaped and logged.info.run_name == escaped


def test_help_shows_the_real_defaults(capsys):
    """Each verb's --help prints the option's default, not the sentinel that marks a flag not given."""
    from forensics.cli import VERBS

    for verb in VERBS:
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        text = capsys.readouterr().out
        assert "<unset>" not in text, verb
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "(default: 0.5)" in " ".join(capsys.readouterr().out.split())


def test_library_warnings_print_as_the_command_s_own_lines(data, model, tmp_path):
    """Shown (not recorded) warnings of the library read `forensics VERB: warning: ...` on one line,
    without the file, line number and source line of the code that raised them."""
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "imgs"
    folder.mkdir()
    for src in sorted((data / "real").glob("*.jpg"))[:2]:
        shutil.copy(src, folder / src.name)
    (folder / "x.heic").write_bytes(b"not decoded")
    done = subprocess.run([sys.executable, "-m", "forensics", "predict", str(model), str(folder), "--no-progress"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "default"}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"forensics predict: warning: 1 media file(s) under {folder} are not scored: "
                                        "1 .heic file (the model takes images) (e.g. x.heic)"]
    assert len(done.stdout.splitlines()) == 3  # the header and the two images


def test_predict_takes_inputs_after_options_and_after_a_double_dash(data, model, tmp_path, monkeypatch, capsys):
    """'predict MODEL --no-progress -- -x.jpg' (options between the model and the inputs, then '--'
    before a name that starts with '-') used to be refused: argparse had matched the inputs to
    nothing right after MODEL. The forms that worked keep their meaning. Look-alikes: a name
    starting with '-' without '--' is still an unknown option (exit 2); '--' before the model."""
    import shutil

    from forensics.cli import build_parser

    image = sorted((data / "real").glob("*.jpg"))[0]
    monkeypatch.chdir(tmp_path)
    shutil.copy(image, "-x.jpg")
    shutil.copy(image, "a.jpg")
    m = str(model)
    parser = build_parser()
    for argv, inputs in (([m, "--no-progress", "--", "-x.jpg"], ["-x.jpg"]),
                         ([m, "--no-progress", "a.jpg", "--", "-x.jpg"], ["a.jpg", "-x.jpg"]),
                         ([m, "a.jpg", "--threshold", "0.4", "-x.jpg", "--no-progress"], None),
                         ([m, "a.jpg", "--threshold", "0.4", "--", "-x.jpg"], ["a.jpg", "-x.jpg"]),
                         (["--no-progress", "--", m, "-x.jpg"], ["-x.jpg"]),  # worked before: unchanged
                         ([m, "--", "-x.jpg", "a.jpg"], ["-x.jpg", "a.jpg"]),
                         ([m, "a.jpg", "--no-progress"], ["a.jpg"])):
        if inputs is None:
            with pytest.raises(SystemExit) as exc:
                parser.parse_args(["predict", *argv])
            assert exc.value.code == 2
            assert ("unrecognized arguments: -x.jpg ('-x.jpg' is a file here, but a name that starts with '-' reads as "
                    "an option: put it after '--', as in 'forensics predict ... -- -x.jpg', or write ./-x.jpg)"
                    in capsys.readouterr().err)
            continue
        args = parser.parse_args(["predict", *argv])
        assert (args.model, args.inputs) == (m, inputs)
    with pytest.raises(SystemExit):  # look-alike: a name that is no file here gets argparse's message alone
        parser.parse_args(["predict", m, "a.jpg", "-y.jpg"])
    assert capsys.readouterr().err.rstrip().endswith("unrecognized arguments: -y.jpg")
    out = tmp_path / "pred.csv"
    assert main(["predict", m, "--no-progress", "--out", str(out), "a.jpg", "--", "-x.jpg"]) == 0
    table = pd.read_csv(out)
    assert table["input"].tolist() == ["a.jpg", "-x.jpg"] and table["status"].tolist() == ["ok", "ok"]
    assert table["score"].iloc[0] == table["score"].iloc[1]  # the same picture


# -- videos in other containers (media truth, round 5) ---------------------------------------------
_OTHER_CONTAINERS = [(".ts", "mpegts", "libx264"), (".mts", "mpegts", "libx264"), (".m2ts", "mpegts", "libx264"),
                     (".mpg", "mpeg", "mpeg2video"), (".mpeg", "mpeg", "mpeg1video"), (".vob", "vob", "mpeg2video"),
                     (".m4v", "mp4", "libx264"), (".3gp", "3gp", "libx264"), (".flv", "flv", "flv"),
                     (".wmv", "asf", "wmv2"), (".mxf", "mxf", "mpeg2video")]


def test_predict_scores_a_folder_of_videos_in_every_container_it_reads(tmp_path):
    """`forensics predict` on a folder, for a video model, took only .mp4 .avi .mov .mkv .webm: a broadcast
    capture (.ts, .mts, .m2ts), a DVD (.vob, .mpg), a phone's .3gp or .m4v, an .flv, .wmv or .mxf was left
    out with the reason '(the model takes videos)', and a .ts file was not even counted. Each is now a row
    scored as the model scores it directly. Look-alike: a picture in the folder is still left out, counted."""
    import warnings

    import av
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from video_fixtures import index_frames, write_video

    from forensics import save
    from forensics.datasets import SkippedFilesWarning
    from forensics.features import VideoFeatures, make_feature_bank

    train = [str(write_video(tmp_path / f"t{k}.mp4", index_frames(6, seed=k))) for k in range(4)]
    model = Pipeline([("features", VideoFeatures(make_feature_bank(["blur"]), faces=False, n_frames=3)),
                      ("impute", SimpleImputer(keep_empty_features=True)),  # the face rate is NaN without faces
                      ("head", LogisticRegression())]).fit(train, [0, 1, 0, 1])
    save(model, tmp_path / "m.skops")
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for k, (ext, fmt, codec) in enumerate(_OTHER_CONTAINERS):
        with av.open(str(folder / f"v{k:02d}{ext}"), "w", format=fmt) as c:
            s = c.add_stream(codec, rate=25)
            s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
            for frame in index_frames(6, seed=k):
                for pk in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    c.mux(pk)
            for pk in s.encode():
                c.mux(pk)
        paths.append(str(folder / f"v{k:02d}{ext}"))
    out = tmp_path / "pred.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedFilesWarning)
        assert main(["predict", str(tmp_path / "m.skops"), str(folder), "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert table["input"].tolist() == paths and table["status"].tolist() == ["ok"] * len(paths)
    np.testing.assert_allclose(table["score"], model.predict_proba(paths)[:, 1], rtol=1e-10)
    (folder / "still.png").write_bytes(encode(natural_image(0, (32, 32)), "PNG"))
    with pytest.warns(SkippedFilesWarning, match=r"1 media file\(s\) under .* are not scored: 1 \.png file "
                                                 r"\(the model takes videos\)"):
        assert main(["predict", str(tmp_path / "m.skops"), str(folder), "--out", str(out), "--no-progress"]) == 0
    assert pd.read_csv(out)["input"].tolist() == paths


@pytest.mark.parametrize("n_broken", [1, 2])
def test_left_out_rows_are_counted_in_the_right_number(data, n_broken, tmp_path, capsys):
    """'1 item could not be read and is left out', '2 items ... are left out' (it said '1 items ... are')."""
    from forensics import read_table
    from forensics.cli._common import drop_failed

    root = tmp_path / "d"
    shutil.copytree(data, root)
    good = sorted((root / "real").glob("*.jpg"))[0].read_bytes()
    for k in range(n_broken):
        (root / "real" / f"zz_broken{k}.jpg").write_bytes(good[: len(good) // 2])
    assert main(["extract", str(root), "--features", "spectral", "--out", str(tmp_path / "t"), "--no-progress",
                 "--no-audit"]) == 0
    table = read_table(tmp_path / "t" / "features.parquet")
    capsys.readouterr()
    kept = drop_failed(table)
    out = capsys.readouterr().out
    assert len(kept) == len(table) - n_broken
    expected = ("1 item could not be read and is left out" if n_broken == 1
                else "2 items could not be read and are left out")
    assert expected in out and "zz_broken0.jpg" in out


def test_report_leaves_out_the_faceless_videos_it_says_it_leaves_out(tmp_path, capsys):
    """forensics report on videos with a face model: a video without a face in any sampled frame (only
    frame counts and a face rate of 0) is left out as train does, and the report names it (the console
    said 'left out' while the report cross-validated it on imputed values)."""
    from video_fixtures import face_video, index_frames, write_video

    v = tmp_path / "v"
    for label, seeds in (("real", range(6)), ("fake", range(6, 12))):
        (v / label).mkdir(parents=True)
        for k in seeds:
            face_video(v / label / f"face{k}.mp4", n_frames=4, size=(128, 128), faces_from="synthetic", seed=k)
    write_video(v / "real" / "noface.mp4", index_frames(4, size=(128, 128)))
    face = ["--faces", "--face-detector", "cascade", "--n-frames", "2", "--no-progress", "--no-audit"]
    out = tmp_path / "r"
    with pytest.warns(RuntimeWarning, match="1 of 13 videos have no face"):
        assert main(["report", str(v), "--detector", "spectrum-lr", *face, "--level", "video", "--cv", "2",
                     "--n-boot", "20", "--gallery", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "note: 1 item has no face in any sampled frame and is left out" in printed
    md = (out / "report.md").read_text()
    assert "| items | 12 |" in md  # cross-validated on the 12 videos with faces
    assert "noface.mp4 (status no_face: no face in any sampled frame)" in md
