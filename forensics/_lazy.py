"""Lazy public names for the package ``__init__`` files: ``import forensics`` stays fast.

A package ``__init__`` lists its public names as ordinary relative imports inside an
``if TYPE_CHECKING:`` block (so type checkers, IDEs and the API docs see them) and calls
:func:`attach`, which reads that block and returns a module ``__getattr__`` that imports each
name's submodule on first access (PEP 562, through ``lazy_loader``). One list, no drift: the
block is both the declaration and the source of the lazy map. ``EAGER_IMPORT=1`` in the
environment imports everything at once (``lazy_loader``'s switch), which tests use to check
that every name resolves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lazy_loader

__all__ = ["attach"]


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def lazy_names(package_file):
    """(submodules, {submodule: [names]}) imported by the ``if TYPE_CHECKING:`` block of a file."""
    tree = ast.parse(Path(package_file).read_text(encoding="utf-8"))
    submodules, attrs = [], {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for stmt in node.body:
            if not (isinstance(stmt, ast.ImportFrom) and stmt.level == 1):
                raise ValueError(f"{package_file}: only 'from .module import name' belongs in the "
                                 f"TYPE_CHECKING block (line {stmt.lineno})")
            for alias in stmt.names:
                if alias.asname not in (None, alias.name):
                    raise ValueError(f"{package_file}: no 'as' renaming in the TYPE_CHECKING block")
                if stmt.module is None:  # from . import submodule
                    submodules.append(alias.name)
                else:
                    attrs.setdefault(stmt.module, []).append(alias.name)
    return submodules, attrs


def attach(package_name, package_file):
    """``(__getattr__, __dir__)`` for a package whose public names are imported lazily.

    Parameters
    ----------
    package_name : str
        The package's ``__name__``.
    package_file : str
        The package's ``__file__`` (its ``TYPE_CHECKING`` block lists the names).
    """
    submodules, attrs = lazy_names(package_file)
    getattr_, dir_, _ = lazy_loader.attach(package_name, submodules, attrs)
    return getattr_, dir_
