"""Regenerate the two catalogue pages: ``python docs/build_catalogue.py``.

- ``docs/features.md`` from the feature registry (:func:`forensics.features._registry.catalogue_markdown`);
- ``docs/estimators.md`` from the detector catalogue :mod:`forensics.estimators` (:func:`estimators_markdown`).

Tests compare both pages with what this script would write (``tests/test_bank.py`` and
``tests/test_docs.py``), so the pages cannot drift from the code.
"""

from pathlib import Path
from pprint import pformat

from forensics.features._registry import catalogue_markdown

HERE = Path(__file__).resolve().parent


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _python(value):
    """A value as Python source, wrapped for the page (estimators print their changed parameters)."""
    return pformat(value, width=100, sort_dicts=False)


def estimators_markdown():
    """The detector catalogue page, generated from :mod:`forensics.estimators`."""
    from forensics import estimators

    specs = [estimators.get(name) for name in estimators.names()]
    lines = [
        "# Detector catalogue",
        "",
        "Generated from `forensics.estimators` by `python docs/build_catalogue.py`;",
        "a test fails when this page and the code disagree.",
        "",
        "Each detector is a named set of [`forensics.make_pipeline`](api/forensics.md) arguments: build it with",
        "`forensics.make_pipeline(\"<name>\")`, override any part by keyword",
        "(`make_pipeline(\"forensic-xgb\", equalize=True, head__max_depth=3)`), and list the catalogue",
        "with `forensics.list_estimators()` (on the command line, an unknown `--detector` name prints the list).",
        "Detectors with requirements need the matching extra (`pip install \"scikit-forensics[torch]\"`...).",
        "",
        "| name | input | summary | requires |",
        "|---|---|---|---|",
        *[f"| [`{s.name}`](#{s.name}) | {s.input} | {_cell(s.summary)} | {', '.join(s.requires) or '-'} |"
          for s in specs],
        "",
    ]
    for s in specs:
        lines += [
            f"## `{s.name}`",
            "",
            s.summary + ".",
            "",
            f"- input: {s.input}",
            f"- requires: {', '.join(s.requires) or 'nothing beyond the core package'}",
            f"- reference: {s.reference}",
            "",
            f"`make_pipeline(\"{s.name}\")` uses:",
            "",
            "```python",
            *[f"{key}={_python(value)}" for key, value in s.parts.items()],
            "```",
            "",
        ]
        if s.param_grid:
            lines += ["Default grid (`GridSearchCV(make_pipeline(...), SPEC.param_grid)`):", "", "```python",
                      _python(s.param_grid), "```", ""]
    return "\n".join(lines)


PAGES = {"features.md": catalogue_markdown, "estimators.md": estimators_markdown}

if __name__ == "__main__":
    for name, build in PAGES.items():
        page = HERE / name
        page.write_text(build())
        print(f"wrote {page}")
