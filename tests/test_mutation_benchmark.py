"""benchmarks/mutation.py: which mutants it draws (issue 16). Needs cosmic-ray (the ``mutation`` extra)."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("cosmic_ray", reason="cosmic-ray is not installed (pip install 'scikit-forensics[mutation]')")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mutation():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import mutation
    finally:
        sys.path.pop(0)
    return mutation


@pytest.mark.parametrize("line", [
    "@njit", "@numba.njit(cache=True)", "  @jit", "@ vectorize", "@guvectorize([...], '(n)->()')", "@stencil",
    "@kernel", "@kernel(signature=(array(f64, 1),", "    @kernel", "@_config.kernel",
])
def test_numba_decorator_lines_are_recognised(mutation, line):
    assert mutation._NUMBA_DECORATOR.match(line)


@pytest.mark.parametrize("line", [
    "@functools.lru_cache(maxsize=64)", "@kernels", "@kernel_cache", "@njitted", "@property", "@staticmethod",
    "x = kernel(f)", "# @kernel",
])
def test_other_decorator_lines_are_not(mutation, line):
    assert not mutation._NUMBA_DECORATOR.match(line)


def _removed_decorators(items, module_path):
    lines = module_path.read_text(encoding="utf-8").splitlines()
    return [lines[i.mutations[0].start_pos[0] - 1].strip() for i in items
            if i.mutations[0].operator_name == "core/RemoveDecorator"]


def test_kernel_removals_are_not_drawn_other_decorators_are(mutation, tmp_path):
    # a module with the wrapper bare, with a two-line signature, and a decorator that changes behaviour
    src = tmp_path / "m.py"
    src.write_text(
        "import functools\n"
        "from forensics.features._kernels._config import array, f64, kernel\n\n\n"
        "@kernel\n"
        "def a(x):\n    return x + 1\n\n\n"
        "@kernel(signature=(array(f64, 1),\n"
        "                   array(f64, 1)))\n"
        "def b(x, y):\n    return x[0] + y[0]\n\n\n"
        "@functools.lru_cache(maxsize=4)\n"
        "def c(n):\n    return n * 2\n", encoding="utf-8")
    items = mutation._work_items(src)
    assert _removed_decorators(items, src) == ["@functools.lru_cache(maxsize=4)"]
    assert any(i.mutations[0].operator_name != "core/RemoveDecorator" for i in items)  # the rest still drawn


def test_no_kernel_removal_in_the_project_kernels(mutation):
    path = ROOT / "forensics" / "features" / "_kernels" / "_spectral.py"
    assert "@kernel(signature=" in path.read_text(encoding="utf-8")
    assert _removed_decorators(mutation._work_items(path), path) == []
