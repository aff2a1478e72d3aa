"""Run configurations: YAML files of nested sections, flattened to dotted keys and back.

A configuration is a mapping of sections (``data``, ``frames``, ``features``, ``detector``,
``cv``, ``audit``, ``tune``, ``output``, ``run``) to settings; the command line reads the same
keys its flags set (``forensics VERB --config run.yaml``; a flag given on the command line
overrides the file) and writes the resolved configuration beside its outputs, so a result can be
reproduced with ``--config`` and nothing else. This module only reads, checks the shape of, and
writes such files; what each key means is documented with the flag that sets it.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

__all__ = ["ConfigError", "flatten", "load_config", "unflatten", "write_config"]


class ConfigError(ValueError):
    """A configuration file that cannot be read, or a key or value it must not have."""


def flatten(tree, prefix=""):
    """Nested sections to dotted keys: ``{"cv": {"folds": 5}}`` -> ``{"cv.folds": 5}``.

    Mappings under the keys listed in :data:`OPAQUE` (``detector.params``, ``tune.space``) are
    values, not sections: they stay whole.

    Examples
    --------
    >>> flatten({"cv": {"folds": 5, "seed": 0}, "detector": {"params": {"head__C": 0.1}}})
    {'cv.folds': 5, 'cv.seed': 0, 'detector.params': {'head__C': 0.1}}
    """
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in OPAQUE:
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def unflatten(flat):
    """Dotted keys to nested sections (the inverse of :func:`flatten`).

    Examples
    --------
    >>> unflatten({"cv.folds": 5, "cv.seed": 0, "command": "evaluate"})
    {'cv': {'folds': 5, 'seed': 0}, 'command': 'evaluate'}
    """
    tree = {}
    for key, value in flat.items():
        node = tree
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


#: Keys whose value is a mapping of the user's own names (not a section of settings).
OPAQUE = frozenset({"detector.params", "tune.space"})


def load_config(path):
    """Read a YAML configuration file into dotted keys.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        ``{"section.key": value}`` (see :func:`flatten`).

    Raises
    ------
    ConfigError
        The file is missing, is not YAML, or is not a mapping of sections; the message names the
        file (and the line, for a YAML syntax error).
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {os.fspath(path)!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {os.fspath(path)!r}: {exc}") from None
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"the config file {os.fspath(path)!r} is not valid YAML{where}: {problem}") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(f"the config file {os.fspath(path)!r} must be a mapping of sections (data:, cv:, ...), "
                          f"not a {type(tree).__name__}")
    bad = [k for k in tree if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"the config file {os.fspath(path)!r} has a key that is not a name: {bad[0]!r}")
    return flatten(tree)


def _plain(value):
    """YAML-safe plain values: tuples to lists, paths to str, NumPy scalars to Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item) and type(value).__module__ == "numpy":
        return value.item()
    return value


def write_config(path, flat, *, header=()):
    """Write dotted keys as a YAML file of sections, with comment lines on top.

    Parameters
    ----------
    path : str or Path
    flat : dict
        ``{"section.key": value}``.
    header : sequence of str
        Comment lines (without ``#``), e.g. the command and the version that wrote the file.

    Returns
    -------
    Path
        The file written (atomically: a temporary file renamed over it).
    """
    import yaml

    path = Path(path)
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    lines = [f"# {line}" for line in (*header, f"written {stamp}")]
    body = yaml.safe_dump(_plain(unflatten(flat)), sort_keys=False, default_flow_style=False, allow_unicode=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
    os.replace(tmp, path)
    return path
