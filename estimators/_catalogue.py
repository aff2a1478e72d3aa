"""The catalogue mechanics: a detector is a named set of make_pipeline arguments plus metadata."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["DetectorSpec", "get", "list_estimators", "names"]


@dataclass(frozen=True)
class DetectorSpec:
    """One named detector of the catalogue.

    Parameters
    ----------
    name : str
        The name users pass to :func:`forensics.make_pipeline`.
    summary : str
        One line: what it is.
    input : {"image", "video"}
        The kind of item it takes.
    reference : str
        The paper it follows (authors, venue, year, DOI / arXiv).
    parts : dict
        The :func:`forensics.make_pipeline` keyword arguments that define it.
    param_grid : dict
        A default :class:`~sklearn.model_selection.GridSearchCV` grid over the pipeline's
        parameter names.
    requires : tuple of str
        Optional extras it needs (e.g. ``("xgboost",)``).
    """

    name: str
    summary: str
    input: str
    reference: str
    parts: dict = field(default_factory=dict)
    param_grid: dict = field(default_factory=dict)
    requires: tuple = ()

    def build(self, **kwargs):
        """``forensics.make_pipeline(self.name, **kwargs)``."""
        from forensics import make_pipeline

        return make_pipeline(self.name, **kwargs)


def _specs():
    import forensics.estimators as package

    specs = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if not isinstance(spec, DetectorSpec):
            raise RuntimeError(f"forensics.estimators.{info.name} defines no SPEC = DetectorSpec(...)")
        if spec.name in specs:
            raise RuntimeError(f"two catalogue modules define the detector {spec.name!r}")
        specs[spec.name] = spec
    return specs


def names():
    """Names of the catalogued detectors, sorted."""
    return sorted(_specs())


def get(name):
    """The :class:`DetectorSpec` called ``name``; a clear error lists the names when unknown."""
    specs = _specs()
    if name not in specs:
        raise ValueError(f"unknown detector {name!r}; the catalogue has {sorted(specs)}")
    return specs[name]


def list_estimators():
    """The catalogue as a DataFrame: name, input, summary, reference, requires (one row each).

    Examples
    --------
    >>> import forensics
    >>> table = forensics.list_estimators()
    >>> {"spectrum-lr", "dct-lr", "forensic-mlp", "forensic-xgb"} <= set(table["name"])
    True
    """
    rows = [dict(name=s.name, input=s.input, summary=s.summary, reference=s.reference,
                 requires=", ".join(s.requires)) for s in _specs().values()]
    return pd.DataFrame(rows, columns=["name", "input", "summary", "reference", "requires"])
