"""Do a fresh install's first run and a later run give the same feature values? (issue 10)

The default bank's kernels run three ways, each in a fresh interpreter with its own numba cache
folder: as their NumPy twins (an empty cache, the default budget: a short job), compiled in the
process itself (an empty cache, ``FORENSICS_UNCOMPILED_SECONDS=0``; it also writes the cache), and
loaded from that cache (a later process). The same images (the demo set's 256 px JPEGs,
``forensics.datasets.make_demo_dataset``) go through each; printed per pair: values that differ,
the largest relative difference, the largest difference relative to the column's median
magnitude, and the columns concerned.

    python benchmarks/cold_warm_values.py [--n-per-class 64] [--size 256]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

_RUN = textwrap.dedent("""
    import json, sys
    import numpy as np
    from forensics.datasets import make_demo_dataset
    from forensics.features import make_feature_bank
    from forensics.features._kernels._config import DECLARED
    from forensics.features._kernels._tier import twin_seconds
    X = list(make_demo_dataset(n_per_class=int(sys.argv[1]), size=int(sys.argv[2]))["item"])
    bank = make_feature_bank().fit()
    out = bank.transform(X)
    np.save(sys.argv[3], out)
    compiled = sum(tuple(sig) in disp.overloads for disp, sig in DECLARED.values())
    print(json.dumps({"names": [str(n) for n in bank.get_feature_names_out()], "twin_seconds": twin_seconds()[0],
                      "kernels": compiled}))
""")


def _run(tmp, name, cache, n_per_class, size, **env):
    path = Path(tmp) / f"{name}.npy"
    full = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(cache), FORENSICS_COMPILE_JOBS="1")
    full.pop("FORENSICS_UNCOMPILED_SECONDS", None)
    full.update(env)
    res = subprocess.run([sys.executable, "-c", _RUN, str(n_per_class), str(size), str(path)], env=full,
                         capture_output=True, text=True, check=True)
    info = json.loads(res.stdout.strip().splitlines()[-1])
    return np.load(path), info


def _compare(a, b, names):
    both_nan = np.isnan(a) & np.isnan(b)
    if not (np.isnan(a) == np.isnan(b)).all():
        return "NaN patterns differ"
    differ = (a != b) & ~both_nan
    rel = np.where(differ, np.abs(a - b) / np.maximum(np.abs(b), 1e-300), 0.0)
    scale = np.nanmedian(np.abs(b), axis=0)
    rel_scale = np.where(differ, np.abs(a - b) / np.maximum(scale, 1e-300), 0.0)
    cols = sorted({names[j].split("__")[0] for j in np.flatnonzero(differ.any(axis=0))})
    return (f"{int(differ.sum())} of {a.size} values differ; max relative {rel.max():.3g}; "
            f"max relative to the column's median magnitude {rel_scale.max():.3g}; families {cols}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-class", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        twins, t_info = _run(tmp, "twins", Path(tmp) / "empty", args.n_per_class, args.size)
        here, h_info = _run(tmp, "here", Path(tmp) / "cache", args.n_per_class, args.size,
                            FORENSICS_UNCOMPILED_SECONDS="0")
        cached, c_info = _run(tmp, "cached", Path(tmp) / "cache", args.n_per_class, args.size)
    names = t_info["names"]
    print(f"{twins.shape[0]} images of {args.size} px, {twins.shape[1]} columns")
    print(f"twins: {t_info['twin_seconds']:.2f} CPU s in twins, {t_info['kernels']} kernels; compiled here: "
          f"{h_info['kernels']} kernels; loaded from the cache: {c_info['kernels']} kernels, "
          f"{c_info['twin_seconds']:.2f} s in twins")
    print("twins vs loaded from the cache:", _compare(twins, cached, names))
    print("compiled here vs loaded from the cache it wrote:", _compare(here, cached, names))
    print("twins vs compiled here:", _compare(twins, here, names))


if __name__ == "__main__":
    main()
