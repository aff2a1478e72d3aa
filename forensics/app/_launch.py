"""``forensics app``: start the Streamlit page that scores one uploaded file."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["DEMO_DETECTOR", "add_parser", "build_parser", "main", "parse_args", "train_demo_model"]

#: The catalogued detector ``--demo`` fits on the embedded demo set (handcrafted, seconds to fit).
DEMO_DETECTOR = "dct-lr"
_DESCRIPTION = (
    "Start a web page (Streamlit, on http://HOST:PORT) where you upload an image or a video, pick a saved "
    "model (a 'forensics train' output, .skops/.joblib, or an ONNX export from forensics.app.export_detector) "
    "and see its fake score, the file's own properties (JPEG quantization tables, EXIF...), for videos the "
    "score of each sampled frame and the frames with faces, and an explanation (SHAP for handcrafted "
    "detectors, Grad-CAM for torch networks, occlusion for ONNX files). ONNX files and handcrafted "
    "detectors run without PyTorch. Options may come from a --config YAML file (keys app.host, app.port, "
    "app.models, app.max_mb, app.demo, app.open_browser, detector.model; flags override it); the app writes no "
    "output folder, so no resolved config is saved. Needs the app extra: pip install \"scikit-forensics[app]\"."
)


def _port(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"must be in 1..65535, got {value}")
    return value


def _megabytes(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _add_arguments(parser):
    """The options, bound to configuration keys like every verb's (``--config`` YAML, flags override it)."""
    from ..cli._common import add_config
    from ..cli._options import option

    add_config(parser)
    option(parser, "--models", key="app.models", metavar="DIR", default=None,
           help="folder of saved models listed on the page (default: the folder of --model, else the current folder)")
    option(parser, "--model", key="detector.model", metavar="FILE", default=None,
           help="the model selected when the page opens")
    option(parser, "--demo", key="app.demo", action="flag", default=False,
           help=f"fit the {DEMO_DETECTOR!r} detector on the embedded demo set (a few seconds, offline), save it in the "
                "models folder (default: ~/.cache/forensics/app) and select it")
    option(parser, "--host", key="app.host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1)")
    option(parser, "--port", key="app.port", type=_port, default=8501, help="port (default: 8501)")
    option(parser, "--max-mb", key="app.max_mb", type=_megabytes, default=200.0, metavar="MB",
           help="largest upload in megabytes (default: 200)")
    option(parser, "--open-browser", key="app.open_browser", action="flag", default=False,
           help="open a browser tab (default: do not)")
    return parser


def build_parser():
    """The parser of ``forensics app`` used alone (``python -m forensics.app._launch``); see :func:`parse_args`."""
    return _add_arguments(argparse.ArgumentParser(prog="forensics app", description=_DESCRIPTION))


def parse_args(argv=None):
    """Parse ``argv`` (the arguments after ``app``) and fill every option: the flag, else ``--config``, else
    its default, as the ``forensics`` command does for every verb.

    Raises
    ------
    UsageError
        A bad ``--config`` file, an unknown key in it, or a bad value (exit status 2).
    """
    from ..cli import build_parser as command_parser
    from ..cli._options import resolve

    parser = build_parser()
    args = parser.parse_args(argv)
    # the keys of every verb are known, so one config file can serve them all
    return resolve(parser, args, argv, command_parser()._forensics_keys)


def add_parser(subparsers):
    """Register the ``app`` verb on the ``forensics`` command line's sub-parsers."""
    parser = subparsers.add_parser("app", help="a web page that scores an uploaded image or video",
                                   description=_DESCRIPTION)
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def train_demo_model(folder, *, n_per_class=120, seed=0):
    """Fit :data:`DEMO_DETECTOR` on the embedded demo set and save it as ``folder/demo-dct-lr-<version>.skops``.

    Returns the path. A file of this forensics version with these settings is reused, not
    refitted; one written by another version (or with other settings) is not, since its
    features may differ from this version's (feature tables follow the same rule). Files of
    other versions are left in place.

    Examples
    --------
    >>> path = train_demo_model(tmp_path, n_per_class=8)  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'demo-dct-lr-0.2.0-n8-s0.skops'
    """
    from .. import __version__, make_pipeline, save
    from ..datasets import make_demo_dataset

    settings = "" if (n_per_class, seed) == (120, 0) else f"-n{n_per_class}-s{seed}"
    path = Path(folder) / f"demo-{DEMO_DETECTOR}-{__version__}{settings}.skops"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    demo = make_demo_dataset(n_per_class=n_per_class, seed=seed)
    pipe = make_pipeline(DEMO_DETECTOR, random_state=seed)
    pipe.fit(list(demo["item"]), demo["label"].to_numpy())
    save(pipe, path)
    return path


def page_path():
    """The Streamlit script of the page."""
    return Path(__file__).with_name("_page.py")


def command(args):
    """(argv of the ``streamlit run`` process, its environment) for parsed arguments."""
    env = dict(os.environ)
    models = args.models or (str(Path(args.model).resolve().parent) if args.model else None)
    if args.demo:
        models = models or str(Path.home() / ".cache" / "forensics" / "app")
        demo = train_demo_model(models)
        env["FORENSICS_APP_MODEL"] = str(demo)
    elif args.model:
        env["FORENSICS_APP_MODEL"] = str(Path(args.model).resolve())
    env["FORENSICS_APP_MODELS"] = str(Path(models or os.getcwd()).resolve())
    env["FORENSICS_APP_MAX_MB"] = f"{args.max_mb:g}"
    root = str(Path(__file__).resolve().parents[2])  # so that the page imports this copy of forensics
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    argv = [sys.executable, "-m", "streamlit", "run", str(page_path()),
            "--server.address", args.host, "--server.port", str(args.port),
            "--server.headless", "false" if args.open_browser else "true",
            "--server.maxUploadSize", str(max(1, int(round(args.max_mb)))),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "viewer"]
    return argv, env


def run(args):
    """Run the page for parsed arguments until interrupted; return the exit status."""
    if importlib.util.find_spec("streamlit") is None:
        raise ImportError('forensics app needs Streamlit: pip install "scikit-forensics[app]"')
    if args.model and not Path(args.model).is_file():
        raise FileNotFoundError(f"model not found: {args.model!r}")
    if args.models and not Path(args.models).is_dir():
        raise FileNotFoundError(f"models folder not found: {args.models!r}")
    argv, env = command(args)
    print(f"forensics app: http://{args.host}:{args.port} (models from {env['FORENSICS_APP_MODELS']}; Ctrl+C stops)",
          file=sys.stderr)
    proc = subprocess.Popen(argv, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 130


def main(argv=None):
    """``forensics app`` as a function: parse ``argv`` and run the page (blocks until interrupted).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``app`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 after a normal stop, 1 when the page cannot start (message on
        stderr), 2 for bad arguments, 130 when interrupted.
    """
    from ..cli._options import UsageError

    try:
        args = parse_args(argv)
    except UsageError as exc:
        build_parser().print_usage(sys.stderr)
        print(f"forensics app: error: {exc}", file=sys.stderr)
        return 2
    try:
        return run(args)
    except (ImportError, OSError, ValueError) as exc:
        print(f"forensics app: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
