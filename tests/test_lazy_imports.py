"""Lazy public names: ``import forensics`` loads no heavy library, and every public name still resolves."""

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from forensics._lazy import lazy_names

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("forensics", "forensics.features", "forensics.media", "forensics.datasets", "forensics.deep",
            "forensics.embeddings", "forensics.heads", "forensics.inspection", "forensics.metrics",
            "forensics.model_selection", "forensics.preprocessing")
HEAVY = ("sklearn", "numba", "cv2", "pandas", "scipy", "torch", "PIL", "av", "matplotlib", "pywt")


def _run(code):
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_import_forensics_loads_no_heavy_library():
    out = _run(f"""
        import sys
        import forensics, forensics.features, forensics.media
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    assert out.strip() == "[]"


def test_first_use_imports_the_name():
    out = _run("""
        import sys
        import forensics
        bank = forensics.make_feature_bank
        print(type(bank).__name__, 'sklearn' in sys.modules, 'forensics.features._bank' in sys.modules)
    """)
    assert out.split() == ["function", "True", "True"]


def test_subpackages_are_attributes_after_import_forensics():
    """``import forensics; forensics.metrics.evaluate`` works (it raised AttributeError: the docs write
    ``forensics.tracking.query_runs``...), importing each subpackage only on first use; the ones that
    need an optional extra (deep, embeddings, app) stay explicit imports."""
    out = _run("""
        import sys
        import forensics
        before = 'forensics.model_selection' in sys.modules
        f = (forensics.metrics.evaluate, forensics.model_selection.make_cv, forensics.tracking.query_runs,
             forensics.tuning.tune_detector, forensics.inspection.permutation_importance_cv,
             forensics.datasets.load_folder, forensics.features.spectral_features, forensics.media.ItemError,
             forensics.heads.XGBoostHead, forensics.preprocessing.CorrelationFilter)
        print(before, 'forensics.model_selection' in sys.modules, 'forensics.deep' in sys.modules)
    """)
    assert out.split() == ["False", "True", "False"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_and_is_declared_once(package):
    module = importlib.import_module(package)
    submodules, attrs = lazy_names(module.__file__)
    lazy = set(submodules) | {n for names in attrs.values() for n in names}
    # functions written in the __init__ itself (forensics.list_estimators) are public but not lazy
    own = {n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", None) == package}
    assert lazy == set(module.__all__) - {"__version__"} - own
    assert not lazy & own
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(dir(module)) >= lazy
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(module, "no_such_name")


def test_lazy_block_refuses_what_it_cannot_map(tmp_path):
    bad = tmp_path / "__init__.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import numpy\n")
    with pytest.raises(ValueError, match="only 'from .module import name'"):
        lazy_names(bad)
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._x import a as b\n")
    with pytest.raises(ValueError, match="renaming"):
        lazy_names(bad)
    good = tmp_path / "ok.py"
    good.write_text("import typing\nif typing.TYPE_CHECKING:\n    from . import sub\n    from ._x import a, b\n")
    assert lazy_names(good) == (["sub"], {"_x": ["a", "b"]})
