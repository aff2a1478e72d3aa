"""The ``forensics`` command line: one sub-command per job, one module per verb.

``forensics VERB --help`` documents each verb. The verbs:

``demo``
    Build the embedded demo set, extract the handcrafted bank, report a grouped CV ROC-AUC.
``audit DATA``
    The shortcut audit (:func:`forensics.audit`): can the label be read off the file pipeline?
``extract DATA --out DIR``
    A feature table (``DIR/features.parquet``) with its provenance, resumable.
``train DATA --detector NAME --out MODEL``
    Fit a catalogued detector on every item and save it (:func:`forensics.save`).
``evaluate DATA (--detector NAME | --model MODEL)``
    Cross-validated metrics (frame and video level), a saved model on a test set, or a
    cross-data-set matrix.
``tune DATA --detector NAME --out DIR``
    Optuna search over the detector's parameters on grouped folds; the best pipeline refitted.
``predict MODEL INPUTS...``
    Fake scores for files and folders, one row per input, failures recorded per row.
``report DATA --out DIR``
    An HTML and Markdown report (:func:`forensics.inspection.build_report`).
``runs [ROOT]``
    The runs and feature tables under a folder, queryable in SQL (DuckDB).

``DATA`` is a folder laid out as ``real/...`` and ``fake/[<method>/]...`` (images or videos), a
manifest ``.csv`` with a ``path`` column, a data set root (``--dataset celebdf`` or
``celebdf:ROOT``), or a feature table ``.parquet`` written by ``extract`` (then nothing is
extracted again; a table made with other settings is refused).

Every verb reads a YAML config (``--config run.yaml``, keys as in the ``config.yaml`` each run
writes beside its outputs; flags override it); ``--track URI`` (or ``FORENSICS_TRACKING_URI``)
logs ``train``, ``evaluate``, ``tune`` and ``report`` to MLflow.

A verb is a module ``_<verb>.py`` of this package with ``add_parser(subparsers)`` (its options,
declared with the shared groups of ``_common`` so that a flag means the same in every verb) and
``run(args)`` (one call into the library, then printing); list it in :data:`VERBS`.

Exit status (scripts can rely on it): 0 on success; 1 for an error, reported on one line on
stderr (a missing path, an unreadable model, a refused feature table, every input failing,
missing offline weights); 2 for bad arguments (unknown option, detector or config key, malformed
value, a ``--set`` value a step refuses); 3 when ``audit --fail-on-shortcut`` flags a property;
130 when interrupted; 141 when the reader of the output went away (``forensics runs | head``),
quietly.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import os
import sys
import warnings

from ._options import CommandError, UsageError, resolve

__all__ = ["VERBS", "build_parser", "main"]

#: The verbs, in the order ``forensics --help`` lists them; each is the module ``_<verb>``.
VERBS = ("demo", "audit", "extract", "train", "evaluate", "tune", "predict", "report", "runs", "app")
EXIT_BROKEN_PIPE = 141


class _IntermixedParser(argparse.ArgumentParser):
    """A verb's parser that also takes options between positional arguments.

    Plain argparse fills every positional argument from the first run of them, so after
    ``forensics predict MODEL --no-progress a.png`` (or ``... --no-progress -- -x.png``) the
    inputs, already matched to nothing after ``MODEL``, were refused as unrecognized. When the
    plain parse leaves arguments unrecognized, ``parse_known_intermixed_args`` (options first,
    then the positional arguments in order) is used if it accounts for all of them; a command
    line the plain parse takes whole keeps its meaning (Python 3.11's intermixed parse drops a
    ``--`` that precedes every positional argument, which the plain parse reads right).
    The sub-command action calls a verb's parser through ``parse_known_args``, hence the override.
    """

    _nested = False

    def parse_known_args(self, args=None, namespace=None):
        if self._nested:  # called by parse_known_intermixed_args itself
            return super().parse_known_args(args, namespace)
        args = list(sys.argv[1:] if args is None else args)
        plain, extras = super().parse_known_args(args, copy.copy(namespace))
        if not extras:
            return plain, extras
        self._nested = True
        try:
            mixed, left = self.parse_known_intermixed_args(args, copy.copy(namespace))
        except TypeError:  # a grammar it cannot take (a positional REMAINDER, one in an exclusive group)
            return plain, extras
        finally:
            self._nested = False
        return (mixed, left) if not left else (plain, extras)


class _TopParser(argparse.ArgumentParser):
    """The ``forensics`` parser: an unrecognized argument that names a file says how to pass it.

    A file whose name starts with ``-`` (``-x.jpg``) reads as an option; argparse said only
    ``unrecognized arguments: -x.jpg``, which names no remedy.
    """

    _args = ()

    def parse_known_args(self, args=None, namespace=None):
        self._args = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message):
        if message.startswith("unrecognized arguments:"):
            files = [a for a in self._args if a.startswith("-") and len(a) > 1 and os.path.lexists(a)]
            if files:
                verb = next((a for a in self._args if a in VERBS), "VERB")
                message += (f" ({files[0]!r} is a file here, but a name that starts with '-' reads as an option: "
                            f"put it after '--', as in 'forensics {verb} ... -- {files[0]}', or write ./{files[0]})")
        super().error(message)


def _module(verb):
    return importlib.import_module(f"{__name__}._{verb}")


def build_parser():
    """The argument parser of the ``forensics`` command, with one sub-parser per verb."""
    from .. import __version__

    parser = _TopParser(
        prog="forensics",
        description="Forensic features for detecting deepfakes and AI-generated images and videos.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                       parser_class=_IntermixedParser)
    keys = set()
    verbs = {}
    for verb in VERBS:
        sub = _module(verb).add_parser(subparsers)
        verbs[verb] = sub
        keys.update(spec.key for spec in getattr(sub, "_forensics_specs", {}).values())
    parser._forensics_verbs = verbs
    parser._forensics_keys = frozenset(keys)
    return parser


def _one_line(text):
    from ._common import one_line

    return one_line(text)


def main(argv=None):
    """Run the ``forensics`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success; 1 on an error (printed on one line to stderr); 2 for bad
        arguments (argparse, a bad config key or value, or a bad value found once the command
        runs, such as an unknown ``--set`` parameter); 3 when ``audit --fail-on-shortcut``
        flags a property; 130 when interrupted; 141 when standard output was closed early.

    Examples
    --------
    >>> from forensics.cli import main
    >>> main(["demo", "--n-per-class", "20", "--size", "64", "--out", "results/demo"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = parser._forensics_verbs[args.command]
    with _plain_warnings(args.command):
        return _run(parser, sub, args, argv)


def _plain_warnings(command):
    """Show the library's warnings as the command's own lines (``forensics predict: warning: ...``),
    not with the file, line number and source line of the code that raised them; other packages'
    warnings keep Python's format. Only the formatting changes: filters, and recording by
    ``warnings.catch_warnings(record=True)``, are untouched."""
    import contextlib

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    original = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None):
        if os.path.abspath(filename).startswith(package + os.sep) or category.__module__.startswith("forensics"):
            text = _one_line(message).removeprefix(f"forensics {command}: ")
            return f"forensics {command}: warning: {text}\n"
        return original(message, category, filename, lineno, line)

    @contextlib.contextmanager
    def plain():
        warnings.formatwarning = formatwarning
        try:
            yield
        finally:
            warnings.formatwarning = original

    return plain()


def _run(parser, sub, args, argv):
    try:
        resolve(sub, args, argv, parser._forensics_keys)
        for note in getattr(args, "_deprecations", None) or []:
            print(f"forensics {args.command}: note: {note}", file=sys.stderr)
        return int(_module(args.command).run(args) or 0)
    except BrokenPipeError:
        # the reader went away (| head): no traceback, no message; stdout to /dev/null so the
        # interpreter's final flush cannot fail again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
            pass
        return EXIT_BROKEN_PIPE
    except UsageError as exc:
        sub.print_usage(sys.stderr)
        print(f"forensics {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # a verb that can say what it saved (extract: how many items, and that the same command resumes)
        # raises KeyboardInterrupt with that text
        detail = _one_line(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else ""
        print(f"forensics {args.command}: interrupted" + (f": {detail}" if detail else ""), file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every user-facing failure ends as one line
        if os.environ.get("FORENSICS_DEBUG"):
            raise
        from sklearn.utils._param_validation import InvalidParameterError

        if isinstance(exc, InvalidParameterError):  # a --set or config value a scikit-learn step refused
            sub.print_usage(sys.stderr)
            print(f"forensics {args.command}: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        if not isinstance(exc, (CommandError, OSError, ValueError, ImportError, RuntimeError)):
            raise
        message = _one_line(exc) or type(exc).__name__
        print(f"forensics {args.command}: error: {message}", file=sys.stderr)
        return 1
