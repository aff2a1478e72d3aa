"""A fresh install's first jobs: the kernels' NumPy twins against compiling the kernels (issue 10).

Each measurement is a fresh interpreter with an empty numba cache (``NUMBA_CACHE_DIR`` a new
temporary folder: a new container or virtual environment) that imports ``forensics`` and
transforms N 256x256 JPEG faces with the default bank, once with the default (the twins until
they have cost the kernels' estimated compile time, see ``forensics/features/_kernels/_tier.py``)
and once with ``FORENSICS_UNCOMPILED_SECONDS=0`` (every kernel compiled at once, as before the
twins). One core (``FORENSICS_COMPILE_JOBS=1``, one thread everywhere); CPU seconds of the
process (import excluded) and wall seconds; medians of ``--rounds`` rounds, the two settings
interleaved. Also the twins' cost per image at each size against the compiled kernels', in one
process (medians of interleaved repeats).

    python benchmarks/bench_cold_tier.py [--rounds 3] [--jobs 1 8 32 128] [--out results/bench_cold_tier.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_features import _faces, jpegs  # noqa: E402

_JOB = textwrap.dedent("""
    import json, sys, time
    import cv2
    cv2.setNumThreads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    from forensics.features import make_feature_bank
    from forensics.features._kernels._config import DECLARED
    from forensics.features._kernels._tier import twin_seconds
    t1, c1 = time.perf_counter(), time.process_time()
    data = [open(p, "rb").read() for p in sys.argv[1:]]
    make_feature_bank().fit().transform(data)
    t2, c2 = time.perf_counter(), time.process_time()
    compiled = sum(tuple(sig) in disp.overloads for disp, sig in DECLARED.values())
    print(json.dumps({"import_s": t1 - t0, "wall_s": t2 - t1, "cpu_s": c2 - c1, "compiled": compiled,
                      "twin_s": twin_seconds()[0]}))
""")


def cold_job(paths, budget):
    """One fresh process, empty numba cache: transform ``paths``; ``budget`` None = the default."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache"), PYTHONPATH=str(ROOT),
                   FORENSICS_COMPILE_JOBS="1")
        env.pop("FORENSICS_UNCOMPILED_SECONDS", None)
        if budget is not None:
            env["FORENSICS_UNCOMPILED_SECONDS"] = str(budget)
        res = subprocess.run([sys.executable, "-c", _JOB, *map(str, paths)], env=env, capture_output=True,
                             text=True, cwd=tmp, stdin=subprocess.DEVNULL)
        if res.returncode:
            raise RuntimeError(res.stderr[-3000:])
        return json.loads(res.stdout.strip().splitlines()[-1])


def per_image(sizes, n, repeats):
    """Seconds per image of the bank through the twins and through the kernels, at each size."""
    from forensics.features import compile_kernels, make_feature_bank
    from forensics.features._kernels import _tier

    compile_kernels(n_jobs=1)
    faces, _ = _faces(n)
    out = {}
    for size in sizes:
        data = jpegs(faces, size)
        bank = make_feature_bank().fit()
        tiered = [v for m in ("_noise", "_dct", "_blur", "_spectral")
                  for v in vars(sys.modules[f"forensics.features.{m}"]).values() if isinstance(v, _tier.TieredKernel)]
        times = {"kernels": [], "twins": []}
        for _ in range(repeats):
            for mode in ("kernels", "twins"):
                for k in tiered:
                    k._call = k.twin if mode == "twins" else k.kernel
                c = time.process_time()
                bank.transform(data)
                times[mode].append((time.process_time() - c) / len(data))
        for k in tiered:
            k._call = k.kernel
        out[size] = {m: float(np.median(t)) for m, t in times.items()}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_cold_tier.md"))
    args = parser.parse_args(argv)
    os.environ["FORENSICS_UNCOMPILED_SECONDS"] = "0"  # this process: the per-image comparison sets the tiers itself

    faces, source = _faces(max(args.jobs))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, b in enumerate(jpegs(faces, 256)):
            p = Path(tmp) / f"face{i:04d}.jpg"
            p.write_bytes(b)
            paths.append(p)
        while len(paths) < max(args.jobs):  # fewer faces than the longest job: repeat them
            paths.append(paths[len(paths) % len(faces)])
        runs = {n: {"twins (default)": [], "compiled at once": []} for n in args.jobs}
        for _ in range(args.rounds):
            for n in args.jobs:
                runs[n]["twins (default)"].append(cold_job(paths[:n], None))
                runs[n]["compiled at once"].append(cold_job(paths[:n], 0))
    curve = per_image(args.sizes, 8, args.repeats)

    med = {n: {k: {m: float(np.median([r[m] for r in rs])) for m in ("import_s", "wall_s", "cpu_s", "twin_s",
                                                                       "compiled")}
               for k, rs in by.items()} for n, by in runs.items()}
    lines = [
        "# A fresh install's first jobs: NumPy twins against compiling the kernels",
        "",
        f"256x256 JPEG faces ({source}); fresh process, empty numba cache, one core; medians of "
        f"{args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f}.",
        "",
        "| images | default: transform CPU s (wall s) | kernels compiled | CPU s in twins | "
        "compiled at once: CPU s (wall s) | default / compiled |",
        "|---|---|---|---|---|---|",
        *[f"| {n} | {m['twins (default)']['cpu_s']:.2f} ({m['twins (default)']['wall_s']:.2f}) | "
          f"{m['twins (default)']['compiled']:.0f} | {m['twins (default)']['twin_s']:.2f} | "
          f"{m['compiled at once']['cpu_s']:.2f} ({m['compiled at once']['wall_s']:.2f}) | "
          f"{m['twins (default)']['cpu_s'] / m['compiled at once']['cpu_s']:.2f} |" for n, m in med.items()],
        "",
        f"Import of `forensics.features` in those processes: {np.median([m[k]['import_s'] for m in med.values() for k in m]):.2f} s wall (median).",
        "",
        "The bank per image through the twins and through the compiled kernels (one process, read and decode "
        f"included; medians of {args.repeats} interleaved repeats over 8 faces):",
        "",
        "| side (px) | kernels ms | twins ms | twins / kernels |",
        "|---|---|---|---|",
        *[f"| {s} | {c['kernels'] * 1e3:.2f} | {c['twins'] * 1e3:.2f} | {c['twins'] / c['kernels']:.1f} |"
          for s, c in curve.items()],
        "",
    ]
    report = "\n".join(lines)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    out.with_suffix(".json").write_text(json.dumps({"runs": {str(k): v for k, v in runs.items()},
                                                    "per_image_s": {str(k): v for k, v in curve.items()}}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
