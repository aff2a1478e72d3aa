"""``python -m forensics``: the same command line as the ``forensics`` console script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
