"""``forensics app``: the web page that scores one uploaded file (the verb lives in :mod:`forensics.app`)."""

from __future__ import annotations


def add_parser(subparsers):
    from ..app._launch import add_parser as add

    return add(subparsers)


def run(args):
    from ..app._launch import run as run_app

    return run_app(args)
