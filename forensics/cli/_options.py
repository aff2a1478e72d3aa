"""Options bound to configuration keys: one definition gives the flag, its YAML key and its default.

Every option of every verb is declared with :func:`option`, which registers the flag with
argparse (default: a sentinel, so a flag left out can be told from one given its default value)
and records the configuration key it sets, its real default and how a YAML value is checked.
:func:`resolve` then fills each option from, in order of precedence: the command line, the
``--config`` file, the default. A flag means the same thing in every verb because the groups of
shared options (data, frames, detector, CV, audit, outputs) are defined once, in ``_common``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

from .._config import ConfigError, load_config

__all__ = ["CommandError", "UsageError", "UNSET", "option", "resolve", "deprecated_alias"]


class CommandError(Exception):
    """A failure to report to the user on one line (exit status 1), without a traceback."""


class UsageError(CommandError):
    """A bad argument found once the command runs (exit status 2, like argparse's)."""


class _Unset:
    def __repr__(self):
        return "<unset>"

    def __bool__(self):
        return False


#: Default of every registered argument: "not given on the command line".
UNSET = _Unset()


@dataclass
class Spec:
    """What :func:`option` records about one option."""

    dest: str
    key: str
    default: object
    flag: str
    kind: str = "value"  # value | flag | list | pairs | positional
    type: object = None
    choices: tuple = None
    aliases: dict = field(default_factory=dict)


def _specs(parser):
    if not hasattr(parser, "_forensics_specs"):
        parser._forensics_specs = {}
    return parser._forensics_specs


def option(parser, *flags, key, default=None, type=None, action=None, choices=None, help=None, metavar=None,
           nargs=None, dest=None, const=None, required=False):
    """Add an option bound to the configuration key ``key`` (``"section.name"``).

    ``action`` is ``None`` (a value), ``"flag"`` (no value: sets ``const``, True by default),
    ``"append"`` (repeatable: a list) or ``"pairs"`` (repeatable ``NAME=VALUE``: a dict).
    Positional arguments are declared with a name instead of flags and may come from the config.
    ``required`` options must come from the command line or the config (checked by :func:`resolve`).
    """
    positional = not flags[0].startswith("-")
    if dest is None:
        dest = flags[0] if positional else flags[0].lstrip("-").replace("-", "_")
    kind = {None: "value", "flag": "flag", "append": "list", "pairs": "pairs"}[action]
    if positional:
        kind = "positional" if action is None else kind
    spec = Spec(dest=dest, key=key, default=default, flag=flags[0] if not positional else (metavar or dest.upper()),
                kind=kind, type=type, choices=tuple(choices) if choices else None)
    spec.required = required
    _specs(parser)[dest] = spec
    if help and "%(default)s" in help:  # argparse's default is the UNSET sentinel: show the real one
        help = help.replace("%(default)s", str(default).replace("%", "%%"))
    kwargs = dict(help=help, default=UNSET)
    if positional:
        kwargs.update(nargs="?" if nargs is None else nargs, metavar=metavar, type=type)
        if choices:
            kwargs["choices"] = choices
        parser.add_argument(dest, **kwargs)
        return spec
    kwargs["dest"] = dest
    if action == "flag":
        kwargs.update(action="store_const", const=True if const is None else const)
    elif action in ("append", "pairs"):
        kwargs.update(action="append", type=type, metavar=metavar, default=None)  # argparse appends to the default
    else:
        kwargs.update(type=type, metavar=metavar, nargs=nargs)
        if nargs == "?":
            kwargs["const"] = const
        if choices:
            kwargs["choices"] = choices
    parser.add_argument(*flags, **kwargs)
    return spec


class _DeprecatedAction(argparse.Action):
    """Stores like the new spelling and remembers the old one, for a deprecation note."""

    def __init__(self, option_strings, dest, new=None, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        notes = getattr(namespace, "_deprecations", None) or []
        notes.append(f"{option_string} is deprecated here; use {self.new}")
        namespace._deprecations = notes
        setattr(namespace, self.dest, values)


def deprecated_alias(parser, old, new_spec, *, type=None, choices=None, metavar=None):
    """Accept ``old`` as a hidden, deprecated spelling of the option ``new_spec`` (a note is printed)."""
    parser.add_argument(old, dest=new_spec.dest, action=_DeprecatedAction, new=new_spec.flag, default=UNSET,
                        type=type or new_spec.type, choices=choices, metavar=metavar, help=argparse.SUPPRESS)
    new_spec.aliases[old] = new_spec.flag


def _convert(spec, value, where):
    """Check and convert a config value with the option's own parser; UsageError names the key."""
    def bad(message):
        return UsageError(f"{where}: {spec.key}: {message}")

    if value is None:
        return None
    if spec.kind == "flag":
        if not isinstance(value, bool):
            raise bad(f"expected true or false, got {value!r}")
        return value
    if spec.kind == "pairs":
        if not isinstance(value, dict):
            raise bad(f"expected a mapping of parameter names to values, got {value!r}")
        return dict(value)
    values = value if spec.kind == "list" and isinstance(value, list) else [value]
    out = []
    for v in values:
        if isinstance(v, (dict,)):
            raise bad(f"expected a value, got a mapping {v!r}")
        text = ",".join(map(str, v)) if isinstance(v, list) else ("true" if v is True else "false" if v is False
                                                                   else str(v))
        if spec.type is not None:
            try:
                v = spec.type(text)
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                raise bad(str(exc)) from None
        elif isinstance(v, list):
            v = text
        if spec.choices and v not in spec.choices:
            raise bad(f"invalid choice {v!r} (choose from {', '.join(map(str, spec.choices))})")
        out.append(v)
    return out if spec.kind == "list" else out[0]


def resolve(parser, args, argv=None, all_keys=()):
    """Fill every registered option: the command line, else ``--config``, else the default.

    Sets ``args._resolved`` (``{key: value}`` of every option of the verb, for the resolved
    config written beside the outputs), ``args._given`` (keys given on the command line or in
    the config), ``args._cli`` (keys given on the command line), ``args._config`` (the config's
    path or None) and ``args._argv``.
    """
    specs = _specs(parser)
    config_path = getattr(args, "config", None)
    flat = {}
    if config_path:
        try:
            flat = load_config(config_path)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        unknown = [k for k in flat if k not in all_keys and k != "command"]
        if unknown:
            close = [k for k in sorted(all_keys) if k.split(".")[-1] == unknown[0].split(".")[-1]]
            hint = f"; did you mean {close[0]}?" if close else ""
            raise UsageError(f"config {config_path}: unknown key {unknown[0]!r}{hint}")
    resolved, given, cli = {}, set(), set()
    # every config value of the verb is checked, also those a flag overrides
    from_config = {spec.key: _convert(spec, flat[spec.key], f"config {config_path}")
                   for spec in specs.values() if spec.key in flat}
    for dest, spec in specs.items():
        value = getattr(args, dest, UNSET)
        if value is None and spec.kind in ("list", "pairs"):
            value = UNSET
        if value is not UNSET:
            if spec.kind == "pairs":
                value = {**(from_config.get(spec.key) or {}), **dict(value)}
            given.add(spec.key)
            cli.add(spec.key)
        elif spec.key in from_config:
            value = from_config[spec.key]
            given.add(spec.key)
        else:
            value = spec.default
            if getattr(spec, "required", False):
                what = spec.flag
                raise UsageError(f"{what} is required (give it, or set {spec.key} in a --config file)")
        setattr(args, dest, value)
        resolved[spec.key] = value
    args._resolved = resolved
    args._given = given
    args._cli = cli
    args._config = config_path
    args._argv = list(sys.argv[1:] if argv is None else argv)
    return args
