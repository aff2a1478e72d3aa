"""The DCT columns before and after the tie-robust rounding of version 0.2.0 (a versioned change).

Computes the ``dct`` family (default ``n_coeffs=9`` and ``n_coeffs=20``) on JPEGs of
``../shared/data`` (every 8th casia_v1 file and every 12th lfw_faceswap file, at most 100 of each),
as they are and decoded to grey PNGs, with this tree and with ``--before`` (extracted by
``git archive`` into a temporary folder), each in a fresh interpreter with the kernels compiled
(``FORENSICS_UNCOMPILED_SECONDS=0``), and prints per setting the images and columns that moved
beyond 1e-6 relative (1e-9 absolute).

    python benchmarks/dct_tie_change.py [--before 8bd0a68]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

_RUN = textwrap.dedent("""
    import sys, glob
    import cv2, numpy as np
    from forensics.features import make_feature_bank
    data = sys.argv[2]
    paths = (sorted(glob.glob(data + "/casia_v1/*/*.jpg"))[::8][:100]
             + sorted(glob.glob(data + "/lfw_faceswap/*/*.jpg"))[::12][:100])
    colour = [open(p, "rb").read() for p in paths]
    grey = [cv2.imencode(".png", cv2.imread(p, cv2.IMREAD_GRAYSCALE))[1].tobytes() for p in paths]
    out = {}
    for n in (9, 20):
        bank = make_feature_bank(["dct"], dct__n_coeffs=n).fit()
        out[f"colour, n_coeffs={n}"] = bank.transform(colour)
        out[f"grey, n_coeffs={n}"] = bank.transform(grey)
        out[f"names{n}"] = np.array(bank.get_feature_names_out(), dtype=str)
    np.savez(sys.argv[1], **out)
""")


def run(tree, out):
    env = dict(os.environ, PYTHONPATH=str(tree), FORENSICS_UNCOMPILED_SECONDS="0")
    subprocess.run([sys.executable, "-c", _RUN, str(out), str(SHARED)], check=True, env=env, cwd=out.parent,
                   stdout=subprocess.DEVNULL)
    return np.load(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="8bd0a68")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        raise SystemExit(f"needs {SHARED}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "forensics"], check=True,
                                 capture_output=True).stdout
        (tmp / "src.tar").write_bytes(archive)
        with tarfile.open(tmp / "src.tar") as tf:
            tf.extractall(tmp / "before", filter="data")
        old, new = run(tmp / "before", tmp / "before.npz"), run(ROOT, tmp / "after.npz")
        print(f"dct columns beyond 1e-6 relative, {args.before} against this tree:")
        for key in (k for k in old.files if not k.startswith("names")):
            names = old["names" + key.split("=")[1]]
            moved = ~np.isclose(new[key], old[key], rtol=1e-6, atol=1e-9, equal_nan=True)
            per_column = {str(names[j]): int(moved[:, j].sum()) for j in np.flatnonzero(moved.any(axis=0))}
            print(f"- {key}: {int(moved.any(axis=1).sum())} of {len(moved)} images; {per_column}")


if __name__ == "__main__":
    main()
