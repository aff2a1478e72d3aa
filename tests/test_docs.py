"""The documentation site: ``mkdocs build --strict`` passes (warnings are errors) and has its pages.

Needs mkdocs and mkdocstrings' Python handler (the docs extra); skipped without them.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def public_modules():
    """``forensics`` and every public subpackage (a name without a leading underscore)."""
    import pkgutil

    import forensics

    subpackages = [f"forensics.{m.name}" for m in pkgutil.iter_modules(forensics.__path__)
                   if m.ispkg and not m.name.startswith("_")]
    return ["forensics", *sorted(set(subpackages) | {"forensics.estimators"})]


API_MODULES = tuple(public_modules())


def _docs_module(name):
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (docs extra)")
    pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] is not installed (docs extra)")
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                          str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    log = run.stdout + run.stderr
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    assert not [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))], log
    return out


def page(site, name):
    path = site / name / "index.html" if name else site / "index.html"
    assert path.is_file(), f"missing page {path.relative_to(site)}"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [
    "", "getting-started", "user-guide/inputs", "user-guide/feature-families", "user-guide/pipelines",
    "user-guide/video", "datasets", "evaluation", "user-guide/pitfalls", "user-guide/cli", "user-guide/workflow",
    "features", "estimators",
])
def test_guide_pages_exist(site, name):
    assert "<h1" in page(site, name)


def test_api_reference_is_rendered_from_docstrings(site):
    import forensics.features

    for module in API_MODULES:
        html = page(site, f"api/{module}")
        assert 'class="doc doc-heading"' in html, module
    html = page(site, "api/forensics")
    assert 'id="forensics.make_pipeline"' in html
    assert "Parameters:" in html  # numpy sections parsed, not shown as raw text
    features = page(site, "api/forensics.features")
    for name in ("SpectralFeatures", "make_feature_bank", "VideoFeatures"):
        assert name in forensics.features.__all__
        assert f'id="forensics.features.{name}"' in features
    assert 'id="estimators.get"' in page(site, "api/forensics.estimators")


def test_sphinx_roles_become_links_or_code(site):
    html = page(site, "api/forensics")
    assert ":class:`" not in html and ":func:`" not in html
    # make_pipeline's docstring refers to :class:`forensics.media.CodecEqualizer`: a link to its API page
    assert 'href="../forensics.media/#forensics.media.CodecEqualizer"' in html


def test_catalogue_pages_list_every_family_and_detector(site):
    from forensics import estimators
    from forensics.features import ALL_EXTRACTORS

    features = page(site, "features")
    for family in ALL_EXTRACTORS:
        assert f"<code>{family}</code>" in features
    detectors = page(site, "estimators")
    for name in estimators.names():
        assert f'id="{name}"' in detectors


def test_estimators_page_is_generated_from_the_catalogue():
    build = _docs_module("build_catalogue")
    assert (DOCS / "estimators.md").read_text() == build.estimators_markdown(), (
        "docs/estimators.md is stale: run python docs/build_catalogue.py")
    assert set(build.PAGES) == {"features.md", "estimators.md"}


def test_cli_page_names_every_verb():
    from forensics.cli import VERBS

    text = (DOCS / "user-guide" / "cli.md").read_text()
    for verb in VERBS:
        assert f"`forensics {verb}" in text, verb


def test_every_public_module_has_an_api_page_in_the_nav():
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    api = next(entry["API reference"] for entry in nav if isinstance(entry, dict) and "API reference" in entry)
    pages = {page for entry in api for page in entry.values()}
    for module in API_MODULES:
        assert f"api/{module}.md" in pages, f"{module} has no page in the API reference (mkdocs.yml nav)"
        assert (DOCS / "api" / f"{module}.md").is_file(), module


def test_every_public_class_and_function_has_an_entry(site):
    """A name in a public module's ``__all__`` that is a class or a function must be rendered on its page.

    (Constants are described in their module's docstring, which the page shows.)"""
    import importlib
    import inspect

    missing = []
    for module in API_MODULES:
        mod = importlib.import_module(module)
        html = page(site, f"api/{module}")
        prefix = "estimators" if module == "forensics.estimators" else module
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if f'id="{prefix}.{name}"' not in html:
                missing.append(f"{module}.{name}")
    assert not missing, f"public names without an API entry: {missing}"


@pytest.mark.parametrize("role, markdown", [
    (":class:`~forensics.media.CodecEqualizer`", "[`CodecEqualizer`][forensics.media.CodecEqualizer]"),
    (":func:`forensics.make_pipeline`", "[`forensics.make_pipeline`][forensics.make_pipeline]"),
    (":class:`~sklearn.pipeline.Pipeline`", "`Pipeline`"),           # outside forensics: code, no link
    (":func:`make_cv`", "`make_cv`"),                                  # relative name: code
    (":meth:`~forensics.media.CodecEqualizer.transform`", "`transform`"),  # methods: code
    (":func:`the catalogue <forensics.list_estimators>`", "`the catalogue`"),  # not rendered: code
    (":math:`x^2`", "`x^2`"),
])
def test_role_rewriting(role, markdown):
    pytest.importorskip("griffe", reason="griffe comes with mkdocstrings[python] (docs extra)")
    roles = _docs_module("griffe_roles")
    exports = {"forensics": {"make_pipeline"}, "forensics.media": {"CodecEqualizer"}}
    assert roles._ROLE.sub(lambda m: roles._replace(m, exports), f"see {role}.") == f"see {markdown}."
