"""Speed of the handcrafted bank against JPEG decoding, before and after, in one run (issue 10).

Prints and writes (``results/bench_features.{md,json}``):

- the full bank on 256x256 RGB JPEGs (read + decode + every family) as a multiple of the JPEG
  decode time (``cv2.imdecode``, one decoded image alive at a time, as the bank's memory is reused:
  see ``decode_all``), for this tree and for a reference commit (default ``e8f643b``,
  the code before the speed work), measured interleaved in the same process: targets <= 6x
  (moonshot 4x);
- each family alone (decode excluded), before and after;
- cost against size: the bank on 128, 256, 512, 1024 and 2048 px square JPEGs, and the
  1024 / 256 ratio (target <= 17, for 16x the pixels);
- cold start, in fresh subprocesses: ``import forensics``, and the first ``transform`` of one
  image with an empty numba cache (``NUMBA_CACHE_DIR`` a new temporary folder; target <= 5 s),
  then with the cache that run filled; and the compile CPU seconds of each declared kernel;
- every compiled kernel against its plain NumPy/SciPy reference (``tests/reference_*.py``,
  ``KERNEL_CASES``; target >= 5x), and the library paths that replaced kernels.

One core: OMP/OpenBLAS/MKL/numba threads and OpenCV threads are set to 1 before anything is
imported. Absolute times are noisy on a shared machine: read the ratios, each a median over
repeats taken in the same run, before and after interleaved.

    python benchmarks/bench_features.py [--n-images 32] [--repeats 9] [--before e8f643b]
                                        [--no-before] [--no-cold-before] [--cold-rounds 0] [--compile-only]
                                        [--out results/bench_features.md]

The reference commit is extracted with ``git archive`` into ``results/.before/<commit>/`` as the
package ``forensics_before`` (its numba cache stays there between runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# the compiled kernels from the first call (no NumPy twins; the cold starts below set their own)
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))  # the NumPy references live beside the tests
sys.path.insert(0, str(ROOT / "benchmarks"))

from _timing import interleaved_ms  # noqa: E402
SIZES = (128, 256, 512, 1024, 2048)


# -- inputs ---------------------------------------------------------------------------------------

def _faces(n):
    """n BGR uint8 face photos: LFW real faces from ../shared, else scikit-image's astronaut."""
    folder = SHARED / "data" / "lfw_faceswap" / "real"
    paths = sorted(folder.glob("*.jpg"))[:n] if folder.is_dir() else []
    if paths:
        return [cv2.imdecode(np.fromfile(str(p), np.uint8), cv2.IMREAD_COLOR) for p in paths], \
            "LFW real faces from ../shared/data/lfw_faceswap (250x250)"
    from skimage import data

    astro = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    rng = np.random.default_rng(0)
    out = []
    while len(out) < n:
        y, x = rng.integers(0, 64, 2)
        out.append(np.ascontiguousarray(astro[y:y + 256, 96 + x:96 + x + 256]))
    return out, "scikit-image astronaut face crops (no ../shared)"


def jpegs(images, size, quality=90):
    """JPEG bytes of each image resized (bicubic) to size x size."""
    return [cv2.imencode(".jpg", cv2.resize(im, (size, size), interpolation=cv2.INTER_CUBIC),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes() for im in images]


# -- the reference commit ---------------------------------------------------------------------------

def _extract(commit, paths, dest):
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, *paths], check=True,
                             capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        tar = Path(tmp) / "src.tar"
        tar.write_bytes(archive)
        with tarfile.open(tar) as tf:
            tf.extractall(dest, filter="data")


def before_package(commit):
    """(renamed, tree) for the code at ``commit``, extracted once into ``results/.before/<commit>/``.

    ``renamed`` goes first on sys.path to import that code as ``forensics_before`` beside this
    tree's ``forensics`` (the old top-level ``__init__``, which imports the catalogue from outside
    the package, is replaced by an empty one); ``tree`` is a plain checkout of ``forensics/`` and
    ``estimators/`` (linked in as ``forensics.estimators``, as the install does) for subprocesses
    that ``import forensics`` exactly as it was.
    """
    base = ROOT / "results" / ".before" / commit
    renamed, tree = base / "renamed", base / "tree"
    if not (renamed / "forensics_before" / "features" / "_bank.py").is_file():
        shutil.rmtree(base, ignore_errors=True)
        renamed.mkdir(parents=True)
        tree.mkdir(parents=True)
        _extract(commit, ["forensics"], renamed)
        (renamed / "forensics").rename(renamed / "forensics_before")
        (renamed / "forensics_before" / "__init__.py").write_text('"""forensics at an earlier commit."""\n')
        _extract(commit, ["forensics", "estimators"], tree)
        (tree / "forensics" / "estimators").symlink_to("../estimators", target_is_directory=True)
    return str(renamed), str(tree)


# -- timing -----------------------------------------------------------------------------------------

#: The clock of every in-process timing: "cpu" (``time.process_time``: the CPU time of this
#: process, which other processes on a shared machine inflate much less than wall time) or "wall".
CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}
_clock = CLOCK["cpu"]


def interleaved(fns, repeats):
    """Median seconds of each callable, called in turn ``repeats`` times (after one warm-up each)."""
    return {k: v / 1e3 for k, v in interleaved_ms(fns, repeats, clock=_clock).items()}


def decode_all(data):
    """Decode every image, one alive at a time: the steady state the bank runs in (its memory is
    reused from image to image). Holding all the decoded images instead page-faults fresh memory
    for each (~44 faults per 256x256 image), which made this yardstick ~1.5x slower and the
    bank / decode ratios of earlier runs ~1.5x too flattering."""
    for b in data:
        cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)


_COLD = textwrap.dedent("""
    import time, sys
    t0 = time.perf_counter(); c0 = time.process_time()
    sys.path.insert(0, {path!r})
    import numpy as np, cv2
    cv2.setNumThreads(1)
    from {pkg}.features import make_feature_bank
    t1 = time.perf_counter(); c1 = time.process_time()
    bank = make_feature_bank().fit()
    data = open({image!r}, 'rb').read()
    bank.transform([data])
    t2 = time.perf_counter(); c2 = time.process_time()
    print(t1 - t0, t2 - t1, c2 - c1, t2 - t0)
""")

_IMPORT = "import time; t = time.perf_counter(); import {pkg}; print(time.perf_counter() - t)"


def _run(code, env, cwd):
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=cwd)
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return [float(v) for v in res.stdout.split()]


def cold_start(sample, tree, runs=2, compile_jobs=None, twins=False):
    """[(import s, first transform wall s, its CPU s, process wall s)] of the ``forensics`` in ``tree``,
    in fresh processes: the first with an empty numba cache, the next ones with the cache it filled.
    ``compile_jobs`` sets ``FORENSICS_COMPILE_JOBS`` (1: every kernel compiled in the process itself);
    ``twins`` leaves the kernels' NumPy twins on (the default of a user's process), else every kernel
    compiles at its first call (``FORENSICS_UNCOMPILED_SECONDS=0``)."""
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "face.jpg"
        image.write_bytes(sample)
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache"), PYTHONPATH=tree)
        if twins:
            env.pop("FORENSICS_UNCOMPILED_SECONDS", None)
        if compile_jobs is not None:
            env["FORENSICS_COMPILE_JOBS"] = str(compile_jobs)
        code = _COLD.format(path=tree, pkg="forensics", image=str(image))
        return [_run(code, env, tmp) for _ in range(runs)]


_COMPILE = textwrap.dedent("""
    import json, time
    c = time.process_time()
    from forensics.features import compile_kernels
    report = compile_kernels(n_jobs={jobs})
    report["parent_cpu_s"] = time.process_time() - c
    print(json.dumps(report))
""")


def parallel_compile(tree, jobs):
    """compile_kernels() in a fresh process with an empty numba cache: its report, with the CPU
    seconds of the parent and of each compiling child (the wall time on idle cores is about the
    parent's plus the longest child's)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache"), PYTHONPATH=tree)
        res = subprocess.run([sys.executable, "-c", _COMPILE.format(jobs=jobs)], env=env, capture_output=True,
                             text=True, cwd=tmp)
        if res.returncode:
            raise RuntimeError(res.stderr[-3000:])
        return json.loads(res.stdout.strip().splitlines()[-1])


_PER_KERNEL = textwrap.dedent("""
    import importlib, json, time
    c0 = time.process_time()
    from numba import njit, types
    from forensics.features._kernels._config import DECLARED
    for m in ("_noise", "_dct", "_blur", "_spectral"):
        importlib.import_module("forensics.features._kernels." + m)
    c1 = time.process_time()
    njit(lambda a: a[0] + 1.0).compile((types.Array(types.float64, 1, "C"),))  # numba's one-off set-up
    out = {{"imports (numba, the kernel modules)": c1 - c0, "numba set-up (a one-line kernel)": time.process_time() - c1}}
    for (module, name), (disp, sig) in DECLARED.items():
        t = time.process_time()
        disp.compile(sig)
        out[name] = time.process_time() - t
    print(json.dumps(out))
""")


def kernel_compile_seconds(tree):
    """CPU seconds to compile each declared kernel (helpers included) in one fresh process with an
    empty numba cache, in declaration order, after numba's one-off set-up."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache"), PYTHONPATH=tree)
        res = subprocess.run([sys.executable, "-c", _PER_KERNEL.format()], env=env, capture_output=True,
                             text=True, cwd=tmp)
        if res.returncode:
            raise RuntimeError(res.stderr[-3000:])
        return json.loads(res.stdout.strip().splitlines()[-1])


def import_time(module, tree, runs=5):
    """Median wall seconds of ``import <module>`` in fresh processes with ``tree`` first on the path."""
    env = dict(os.environ, PYTHONPATH=tree)
    return float(np.median([_run(_IMPORT.format(pkg=module), env, tree)[0] for _ in range(runs)]))


def kernel_ratios(repeats):
    """Every compiled kernel (and library path) of tests/reference_*.py against its reference."""
    import importlib

    rng = np.random.default_rng(0)
    luma = cv2.GaussianBlur(rng.uniform(0, 255, (256, 256)).astype(np.float32), (0, 0), 1.5)
    rows = []
    for family in ("spectral", "dct", "noise", "blur"):
        module = importlib.import_module(f"reference_{family}")
        # BENCH_CASES prepare shared inputs (e.g. the spectrum) outside the timing; else KERNEL_CASES
        cases = getattr(module, "BENCH_CASES", None) or [(n, lambda x: x, k, r) for n, k, r in module.KERNEL_CASES]
        for name, prepare, kern, ref in cases:
            arg = prepare(luma)
            t = interleaved({"kernel": lambda: kern(arg), "reference": lambda: ref(arg)}, repeats)
            rows.append(dict(kernel=name if "." in name else f"{family}.{name}", kernel_ms=t["kernel"] * 1e3,
                             reference_ms=t["reference"] * 1e3, speedup=t["reference"] / t["kernel"]))
    return rows


def numba_kernels():
    """Names of the numba dispatchers of the package (what a cold start compiles)."""
    import importlib

    from numba.core.registry import CPUDispatcher

    names = []
    for mod in ("_noise", "_dct", "_blur"):
        module = importlib.import_module(f"forensics.features._kernels.{mod}")
        names += [f"{mod[1:]}.{k}" for k, v in vars(module).items() if isinstance(v, CPUDispatcher)]
    return names


# -- main -----------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--before", default="e8f643b", help="reference commit (the code before the speed work)")
    parser.add_argument("--no-before", action="store_true", help="skip every before measurement")
    parser.add_argument("--no-cold-before", action="store_true",
                        help="skip the before cold start (it compiles every old kernel: ~30-60 s)")
    parser.add_argument("--cold-rounds", type=int, default=0,
                        help="fresh-process rounds, this tree and the reference commit interleaved: the first "
                             "transform with an empty cache (kernels compiled in the process) and the compile "
                             "CPU seconds of each declared kernel")
    parser.add_argument("--compile-only", action="store_true",
                        help="only the --cold-rounds (this tree against --before), printed, nothing written")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="cpu",
                        help="cpu: process CPU time (default; robust on a shared machine); wall: elapsed time")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_features.md"))
    args = parser.parse_args(argv)
    global _clock
    _clock = CLOCK[args.clock]

    if args.compile_only:
        print("\n".join(_cold_rounds_report(compile_rounds(args))))
        return

    import forensics.features as after
    from forensics.media import load_item

    banks = {"after": after.make_feature_bank().fit()}
    families = {"after": after.FAMILIES}
    before_path = before_tree = None
    if not args.no_before:
        before_path, before_tree = before_package(args.before)
        sys.path.insert(0, before_path)
        import forensics_before.features as before

        banks["before"] = before.make_feature_bank().fit()
        families["before"] = before.FAMILIES

    faces, source = _faces(args.n_images)
    data = jpegs(faces, 256)
    for bank in banks.values():
        bank.transform(data[:2])  # compile / load the kernels

    # 1. the bank on 256x256 JPEGs against decoding, before and after interleaved
    n = len(data)
    t = interleaved({"decode": lambda: decode_all(data),
                     **{k: (lambda b=b: b.transform(data)) for k, b in banks.items()}}, args.repeats)
    decode = t["decode"] / n
    bank_s = {k: t[k] / n for k in banks}
    ratio = {k: v / decode for k, v in bank_s.items()}

    # 2. each family alone (decode excluded), before and after interleaved
    items = [load_item(b) for b in data]
    for it in items:
        it.luma, it.rgb, it.header
    per_family = {}
    for name in after.FAMILIES:
        exts = {k: fam[name]().fit() for k, fam in families.items()}
        tf = interleaved({k: (lambda e=e: [e._compute(it) for it in items]) for k, e in exts.items()}, args.repeats)
        per_family[name] = {k: v / n for k, v in tf.items()}

    # 3. cost against size (a subset of the faces: the largest images take ~0.1-1 s each)
    curve = {}
    n_curve = max(2, min(8, n))
    for size in SIZES:
        sized = jpegs(faces[:n_curve], size)
        reps = max(3, args.repeats // (1 if size <= 512 else 2))
        tc = interleaved({"decode": lambda: decode_all(sized),
                          **{k: (lambda b=b: b.transform(sized)) for k, b in banks.items()}}, reps)
        curve[size] = {k: v / n_curve for k, v in tc.items()}

    # 4. cold start and import time, in fresh processes
    cold = {"after, default (NumPy twins while the cache is empty)": cold_start(data[0], str(ROOT), compile_jobs=1,
                                                                                 twins=True),
            "after, kernels compiled in the process": cold_start(data[0], str(ROOT), compile_jobs=1),
            "after, kernels compiled by 2 children (default on 2 CPUs)": cold_start(data[0], str(ROOT),
                                                                                  compile_jobs=2)}
    compile_children = {jobs: parallel_compile(str(ROOT), jobs) for jobs in (2, 4, 8)}
    per_kernel = kernel_compile_seconds(str(ROOT))
    if before_tree and not args.no_cold_before:
        cold["before"] = cold_start(data[0], before_tree)
    cold_rounds = compile_rounds(args, data[0], before_tree)
    imports = {"after: import forensics": import_time("forensics", str(ROOT))}
    if before_tree:
        imports["before: import forensics"] = import_time("forensics", before_tree)
    imports["after: from forensics.features import make_feature_bank"] = import_time(
        "forensics.features._bank", str(ROOT))

    # 5. kernels against references
    kernels = kernel_ratios(max(5, args.repeats))

    report = _report(locals())
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    out.with_suffix(".json").write_text(json.dumps(dict(
        source=source, n_images=n, repeats=args.repeats, clock=args.clock, before_commit=None if args.no_before else args.before,
        decode_s=decode, bank_s=bank_s, ratio=ratio, per_family_s=per_family,
        size_curve_s={str(k): v for k, v in curve.items()}, cold=cold, compile_children=compile_children,
        compile_per_kernel_cpu_s=per_kernel, cold_rounds=cold_rounds, import_s=imports, kernels=kernels,
        numba_kernels=numba_kernels(), n_features=banks["after"].n_features_out_,
        load_average=os.getloadavg()), indent=2))
    print(f"wrote {out} and {out.with_suffix('.json')}")


def compile_rounds(args, sample=None, before_tree=None):
    """``args.cold_rounds`` rounds of [first transform CPU s, kernel compile seconds] of this tree and the
    reference commit, in fresh processes with empty caches; the order alternates from round to round."""
    if sample is None:
        sample = jpegs(_faces(1)[0], 256)[0]
        if not args.no_before:
            before_tree = before_package(args.before)[1]
    trees = {"after": str(ROOT), **({"before": before_tree} if before_tree and not args.no_cold_before else {})}
    rounds = []
    for i in range(args.cold_rounds):
        order = list(trees) if i % 2 == 0 else list(trees)[::-1]
        r = {k: (cold_start(sample, trees[k], runs=1, compile_jobs=1)[0][2], kernel_compile_seconds(trees[k]))
             for k in order}
        rounds.append({k: r[k] for k in trees})
    return rounds


def _cold_rounds_report(rounds):
    """Lines for the interleaved cold-start rounds (``--cold-rounds``): per round, then per-kernel medians."""
    if not rounds:
        return []
    kinds = list(rounds[0])
    lines = ["Cold start in rounds, " + " / ".join(kinds) + " interleaved (fresh processes, empty numba cache, "
             "kernels compiled in the process; CPU seconds):", "",
             "| round | " + " | ".join(f"{k}: first transform | {k}: all declared kernels" for k in kinds) + " |",
             "|---|" + "---|---|" * len(kinds)]
    for i, r in enumerate(rounds, 1):
        lines.append(f"| {i} | " + " | ".join(f"{r[k][0]:.2f} | {sum(r[k][1].values()):.2f}" for k in kinds) + " |")
    lines.append("| median | " + " | ".join(
        f"{np.median([r[k][0] for r in rounds]):.2f} | {np.median([sum(r[k][1].values()) for r in rounds]):.2f}"
        for k in kinds) + " |")
    names = list(dict.fromkeys(n for r in rounds for k in kinds for n in r[k][1]))
    lines += ["", "Compile CPU seconds per declared kernel, medians of the rounds (- : not in that tree):", "",
              "| step | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for name in names:
        cells = []
        for k in kinds:
            vals = [r[k][1][name] for r in rounds if name in r[k][1]]
            cells.append(f"{np.median(vals):.2f}" if vals else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def _report(v):
    ratio, bank_s, decode, curve, cold, imports = v["ratio"], v["bank_s"], v["decode"], v["curve"], v["cold"], v["imports"]
    kinds = list(bank_s)
    lines = [
        "# Feature bank speed",
        "",
        f"{v['n']} x 256x256 RGB JPEG (q90), {v['source']}; {v['banks']['after'].n_features_out_} features; one core; "
        f"medians of {v['args'].repeats} interleaved repeats, {v['args'].clock} clock; "
        f"load average {os.getloadavg()[0]:.1f}.",
        "",
        "| measure | " + " | ".join(kinds) + " |",
        "|---|" + "---|" * len(kinds),
        "| JPEG decode (cv2.imdecode, one decoded image alive at a time) per image | " + " | ".join(f"{decode * 1e3:.2f} ms" for _ in kinds) + " |",
        "| full bank per image (read + decode + all families) | " + " | ".join(f"{bank_s[k] * 1e3:.2f} ms" for k in kinds) + " |",
        "| **bank / decode** (target <= 6, moonshot 4) | " + " | ".join(f"**{ratio[k]:.1f}**" for k in kinds) + " |",
        *[f"| `{name}` alone per image (decode excluded) | " + " | ".join(f"{t[k] * 1e3:.3f} ms" for k in kinds) + " |"
          for name, t in v["per_family"].items()],
        "",
        "Cost against size (per image; bank includes read + decode):",
        "",
        "| side (px) | decode | " + " | ".join(f"bank {k}" for k in kinds) + " | " +
        " | ".join(f"{k} / 256 px" for k in kinds) + " |",
        "|---|---|" + "---|" * (2 * len(kinds)),
        *[f"| {s} | {c['decode'] * 1e3:.2f} ms | " + " | ".join(f"{c[k] * 1e3:.1f} ms" for k in kinds) + " | " +
          " | ".join(f"{c[k] / curve[256][k]:.1f}x" for k in kinds) + " |" for s, c in curve.items()],
        "",
        "1024 px / 256 px (16x the pixels; target <= 17): " +
        ", ".join(f"{k} {curve[1024][k] / curve[256][k]:.1f}x" for k in kinds),
        "",
        "Cold start (fresh processes; wall seconds unless said):",
        "",
        "| | imports | first transform, empty numba cache (CPU s) | whole process | first transform, cache filled |",
        "|---|---|---|---|---|",
        *[f"| {k} | {c[0][0]:.2f} | {c[0][1]:.2f} ({c[0][2]:.2f}) | {c[0][3]:.2f} | {c[1][1]:.2f} |" for k, c in cold.items()],
        "",
        "`compile_kernels(n_jobs=N)` with an empty cache, CPU seconds (on N idle cores the wall time is about "
        "the parent's plus the longest child's):",
        "",
        "| children | parent CPU s | each child's CPU s | parent + longest child |",
        "|---|---|---|---|",
        *[f"| {j} | {r['parent_cpu_s']:.2f} | {', '.join(f'{c:.2f}' for c in r['child_cpu_seconds'])} | "
          f"{r['parent_cpu_s'] + max(r['child_cpu_seconds'] or [0]):.2f} |" for j, r in v["compile_children"].items()],
        "",
        "Compile CPU seconds per declared kernel (its helpers included), one fresh process, empty cache, "
        "in declaration order:",
        "",
        "| step | CPU s |",
        "|---|---|",
        *[f"| {k} | {s:.2f} |" for k, s in v["per_kernel"].items()],
        f"| **total** | **{sum(v['per_kernel'].values()):.2f}** |",
        "",
        *_cold_rounds_report(v["cold_rounds"]),
        "Import time (fresh processes, median of 5; target for `import forensics` <= 1 s):",
        "",
        *[f"- {k}: {s:.3f} s" for k, s in imports.items()],
        "",
        "| kernel or library path (256x256) | ms | reference ms | speed-up (target >= 5) |",
        "|---|---|---|---|",
        *[f"| {r['kernel']} | {r['kernel_ms']:.3f} | {r['reference_ms']:.3f} | {r['speedup']:.1f}x |" for r in v["kernels"]],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
