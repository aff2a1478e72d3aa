"""The top-level estimators/ folder is installed as forensics.estimators, editable or as a wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import forensics.estimators

ROOT = Path(__file__).resolve().parents[1]


def test_editable_or_source_import_maps_estimators_folder():
    assert Path(forensics.estimators.__file__).resolve().parent == ROOT / "estimators"
    assert set(forensics.estimators.names()) >= {"spectrum-lr", "dct-lr", "forensic-mlp", "forensic-xgb"}


def test_built_wheel_contains_and_imports_the_catalogue(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True)
    if build.returncode != 0 and "Could not find a version" in build.stderr + build.stdout:
        pytest.skip("building a wheel needs setuptools from the package index, which is unreachable")
    assert build.returncode == 0, build.stderr[-2000:]
    assert "project.license" not in build.stderr  # an SPDX string, not the table setuptools deprecates
    wheel = next(tmp_path.glob("scikit_forensics-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("forensic_xgb", "spectrum_lr", "_catalogue", "__init__"):
        assert f"forensics/estimators/{module}.py" in names
    assert not any(n.startswith("estimators/") for n in names)  # not also installed as a top-level package
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
                   check=True)
    code = ("import forensics, forensics.estimators as e, pathlib; "
            "assert pathlib.Path(e.__file__).parent.parent == pathlib.Path(forensics.__file__).parent; "
            "print(','.join(e.names()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": ""},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "forensic-xgb" in out.stdout and "spectrum-lr" in out.stdout
