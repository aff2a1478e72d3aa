"""Mutation score per core module: do the tests fail when the code is wrong? (issue 16; not run in CI)

    python benchmarks/mutation.py --group core --sample 40 --label after
    python benchmarks/mutation.py --module forensics/datasets/_archive.py --sample 0   # every mutant
    python benchmarks/mutation.py --group core --ref e8f643b --label before             # another commit

Engine: cosmic-ray, with pytest-cov (``pip install scikit-forensics[mutation]``). Its operators change one thing
at a time (``+`` to ``-``, ``<`` to ``<=``, ``True`` to ``False``, a number by one, ``and`` to
``or``, a loop that never runs, an exception caught as another...), and it writes each mutant
into the module's file, runs a test command in a fresh process, and puts the file back. mutmut
3 was tried first: it is faster (a fork per mutant) but never mutates a decorated function,
so every ``@njit`` kernel would go untested.

What this script adds:

- It works on a throw-away copy of the tree (the working tree, or ``--ref`` from git), so an
  interrupted run never leaves a mutant in the sources.
- Each module is tested by its own test files only (``MODULES``), plus its doctests. One clean
  run under coverage (pytest-cov, a context per test) tells which tests run each line; a
  mutant is first tested by those alone (a failure there is a kill), and a mutant that
  survives them is run again against the whole test files before it counts as a survivor.
  Lines without a covering test (run at import, inside ``@njit`` code that coverage cannot
  see, or only in worker processes) always get the whole test files.
- A seeded sample of ``--sample`` mutation sites per module, one mutant drawn at each (every
  mutant with ``--sample 0``): the same sample for the same code, so a before/after
  comparison on unchanged code is paired.
- Numba: removing ``@njit`` only changes speed, so those mutants are not generated; nor are
  removals of the project's own njit wrapper, ``@kernel`` / ``@kernel(signature=...)``
  (``forensics/features/_kernels/_config.py``: its signature only feeds the ahead-of-time
  compilation, itself a speed matter). Kernels
  run compiled, as users run them, with ``NUMBA_CACHE_DIR`` set to a fresh folder for the run:
  numba keys its cache on the source file's modification time and size, and every mutation
  and every restoration rewrites the file, so no mutant can load another's machine code.
  (``NUMBA_DISABLE_JIT=1`` would be faster but would test a different program: Python
  integers do not wrap, float32 rounding differs, and a mutant numba cannot type would pass;
  ``--disable-jit`` exists for quick exploration only, and marks its results so.)
- Equivalent mutants (same behaviour as the original, so no test can kill them) are listed
  in ``benchmarks/mutation_equivalent.json`` with the reason; they are matched by module and
  the exact changed line, and leave the denominator.

Score = killed / (sampled - equivalent - incompetent), with a Wilson 95 % interval for the
sampling error. A mutant is killed when the tests fail, error or time out (3 x the clean run
+ 30 s). Results: ``results/mutation.json`` (merged run to run, by label and module; with
each survivor's diff) and ``results/mutation.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.json"

#: Module -> the test files that test it (its doctests are added).
MODULES = {
    # modules whose tests this benchmark's first run strengthened
    "forensics/metrics/_metrics.py": ["tests/test_metrics.py"],
    "forensics/metrics/_aggregate.py": ["tests/test_metrics.py"],
    "forensics/model_selection/_splits.py": ["tests/test_model_selection.py"],
    "forensics/inspection/_audit.py": ["tests/test_audit.py"],
    "forensics/datasets/_archive.py": ["tests/test_archive.py"],
    # the item layer, the extraction base and the video reader
    "forensics/media/_item.py": ["tests/test_media.py", "tests/test_item_truth.py", "tests/test_item_boundaries.py",
                                 "tests/test_media_variants.py"],
    "forensics/features/_base.py": ["tests/test_extraction_base.py", "tests/test_common.py", "tests/test_bank.py",
                                    "tests/test_item_truth.py"],
    "forensics/media/_video.py": ["tests/test_video.py", "tests/test_video_truth.py", "tests/test_video_units.py",
                                  "tests/test_device.py", "tests/test_media_variants.py"],
    # feature families and their numba kernels
    "forensics/features/_blur.py": ["tests/test_blur.py", "tests/test_features_regression.py"],
    "forensics/features/_kernels/_blur.py": ["tests/test_blur.py", "tests/test_features_regression.py"],
    "forensics/features/_codec.py": ["tests/test_codec.py", "tests/test_features_regression.py"],
    "forensics/features/_dct.py": ["tests/test_dct.py", "tests/test_features_regression.py"],
    "forensics/features/_kernels/_dct.py": ["tests/test_dct.py", "tests/test_features_regression.py"],
    "forensics/features/_dct_spectrum.py": ["tests/test_dct_spectrum.py", "tests/test_features_regression.py"],
    "forensics/features/_noise.py": ["tests/test_noise.py", "tests/test_features_regression.py"],
    "forensics/features/_kernels/_noise.py": ["tests/test_noise.py", "tests/test_features_regression.py"],
    "forensics/features/_spectral.py": ["tests/test_spectral.py", "tests/test_features_regression.py"],
    "forensics/features/_kernels/_spectral.py": ["tests/test_spectral.py", "tests/test_features_regression.py"],
    "forensics/features/_video.py": ["tests/test_video_features.py"],
    "forensics/features/_cooccurrence.py": ["tests/test_cooccurrence.py"],
    "forensics/features/_kernels/_cooccurrence.py": ["tests/test_cooccurrence.py"],
    "forensics/features/_upsampling.py": ["tests/test_upsampling.py"],
    "forensics/features/_kernels/_upsampling.py": ["tests/test_upsampling.py"],
    "forensics/features/_face_region.py": ["tests/test_face_region.py"],
    "forensics/features/_kernels/_face_region.py": ["tests/test_face_region.py"],
    "forensics/features/_tiles.py": ["tests/test_tiles.py"],
    "forensics/features/_local.py": ["tests/test_local.py"],
    # a fresh install's NumPy twins of the kernels and the rule that switches between them
    "forensics/features/_kernels/_tier.py": ["tests/test_kernel_tier.py"],
    "forensics/features/_kernels/_noise_twins.py": ["tests/test_noise_twins.py"],
    "forensics/features/_kernels/_wavelet_twins.py": ["tests/test_wavelet_twins.py"],
    "forensics/features/_kernels/_dct_twins.py": ["tests/test_kernel_twins_dbs.py"],
    "forensics/features/_kernels/_blur_twins.py": ["tests/test_kernel_twins_dbs.py"],
    "forensics/features/_kernels/_spectral_twins.py": ["tests/test_kernel_twins_dbs.py"],
}
GROUPS = {
    "core": ["forensics/metrics/_metrics.py", "forensics/metrics/_aggregate.py",
             "forensics/model_selection/_splits.py", "forensics/inspection/_audit.py",
             "forensics/datasets/_archive.py"],
    "items": ["forensics/media/_item.py", "forensics/features/_base.py", "forensics/media/_video.py"],
    "families": [m for m in MODULES if m.startswith("forensics/features/") and m != "forensics/features/_base.py"
                 and "_twins" not in m and not m.endswith("_tier.py")],
    "twins": [m for m in MODULES if "_twins" in m or m.endswith("_kernels/_tier.py")],
}
#: A line that opens a numba decorator: numba's own, or the project's wrapper ``kernel`` (``_kernels/_config.py``),
#: bare, called with a signature, or reached through its module.
_NUMBA_DECORATOR = re.compile(r"^\s*@\s*(?:numba\.|_config\.)?(?:njit|jit|vectorize|guvectorize|stencil|kernel)\b")


def _copy_tree(ref, dest):
    """The project at ``ref`` (git) or the working tree (tracked and untracked, not ignored)."""
    if ref:
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout.strip()
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    return head.stdout.strip() + ("+working-tree" if dirty.strip() else "")


def _work_items(module_path):
    """Every cosmic-ray mutation of the module, in cosmic-ray's order, without @njit / @kernel removals."""
    from cosmic_ray.commands.init import _all_work_items

    lines = module_path.read_text(encoding="utf-8").splitlines()
    items = []
    for item in _all_work_items([module_path], {}):
        (mutation,) = item.mutations
        if mutation.operator_name == "core/RemoveDecorator" and _NUMBA_DECORATOR.match(
                lines[mutation.start_pos[0] - 1]):
            continue
        items.append(item)
    return items


def _sample(items, module, n, seed):
    """A seeded sample of ``n`` mutation sites (source spans), one mutant drawn at each; all mutants for n <= 0.

    Sampling sites rather than mutants weighs every place in the code alike: a ``+`` has ten
    replacements (``-``, ``*``, ``/``, ``<<``...) and an ``if`` one negation, and most of the ten
    are killed by any test that runs the line.
    """
    if n <= 0:
        return list(items)
    sites = {}
    for item in items:
        (mutation,) = item.mutations
        sites.setdefault((tuple(mutation.start_pos), tuple(mutation.end_pos)), []).append(item)
    for site in sites.values():  # cosmic-ray's operator order varies between processes: fix one
        site.sort(key=lambda item: (item.mutations[0].operator_name, item.mutations[0].occurrence))
    rng = random.Random(seed * 1_000_003 + zlib.crc32(module.encode()))
    keys = sorted(sites)
    picked = sorted(rng.sample(range(len(keys)), min(n, len(keys))))
    return [rng.choice(sites[keys[i]]) for i in picked]


def _coverage_map(tree, module, tests, timeout=3600):
    """One clean run under coverage with a context per test: ``{line: {test node ids}}`` and its time.

    Needs pytest-cov. Lines run at import time (no test context), inside ``@njit`` functions
    (compiled: coverage cannot see them) or only in worker processes have no test here.
    """
    data_file = tree / ".coverage-mutation"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--cov={Path(module).parent}",
               "--cov-context=test", "--cov-report=", *tests, module]
    t0 = time.perf_counter()
    run = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "COVERAGE_FILE": str(data_file)})
    seconds = time.perf_counter() - t0
    if run.returncode != 0:
        return None, seconds, run.stdout[-3000:] + run.stderr[-2000:]
    from coverage import CoverageData

    data = CoverageData(basename=str(data_file))
    data.read()
    target = str((tree / module).resolve())
    lines = {}
    for name in data.measured_files():
        if str(Path(name).resolve()) == target:
            for line, contexts in (data.contexts_by_lineno(name) or {}).items():
                nodes = {c.rsplit("|", 1)[0] for c in contexts if c}
                if nodes:
                    lines[line] = nodes
    return lines, seconds, ""


def _statement_lines(source):
    """For each line, the first line of the innermost statement holding it (what coverage records)."""
    import ast

    first = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                if line not in first or node.lineno > first[line]:
                    first[line] = node.lineno
    return first


def _changed_lines(diff):
    old = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    new = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(old), " / ".join(new)


def _load_equivalents():
    if not EQUIVALENT_FILE.is_file():
        return []
    return json.loads(EQUIVALENT_FILE.read_text(encoding="utf-8"))["equivalent"]


def _is_equivalent(module, old, new, equivalents, definition=None):
    """The reason listed for this mutant, or None; an entry naming a ``definition`` (the enclosing
    function) matches only there, for a line (``continue``) that occurs in several places."""
    for e in equivalents:
        if e["module"] == module and e["line"] == old and e["mutant"] == new and e.get(
                "definition", definition) == definition:
            return e["reason"]
    return None


def _wilson(k, n, z=1.96):
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _run_module(module, tree, args, equivalents):
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    tests = MODULES[module]
    base = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command = " ".join(shlex.quote(a) for a in base + tests + [module])
    items = _work_items(tree / module)
    sample = _sample(items, module, args.sample, args.seed)
    n_sites = len({(tuple(i.mutations[0].start_pos), tuple(i.mutations[0].end_pos)) for i in items})
    print(f"{module}: {len(items)} mutants at {n_sites} sites, {len(sample)} sampled; tests: {' '.join(tests)}",
          flush=True)
    covering, clean_s, failure = _coverage_map(tree, module, tests)
    if covering is None:
        print(f"  the clean run fails; skipping the module:\n{failure}", flush=True)
        return dict(module=module, error="clean test run fails", output=failure)
    statement = _statement_lines((tree / module).read_text(encoding="utf-8"))
    timeout = 3 * clean_s + 30
    print(f"  clean run under coverage {clean_s:.1f} s; timeout per mutant {timeout:.0f} s", flush=True)
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        counts = dict(killed=0, survived=0, equivalent=0, incompetent=0, timeout=0, by_covering_tests=0)
        survivors, equivalent, incompetent, started = [], [], [], time.perf_counter()
        for k, item in enumerate(sample, 1):
            (mutation,) = item.mutations
            span = range(mutation.start_pos[0], mutation.end_pos[0] + 1)
            nodes = sorted(set().union(*(covering.get(statement.get(line, line), set()) | covering.get(line, set())
                                         for line in span)))
            result = None
            if nodes:  # the tests that run this line first: a failure there is a kill
                subset = " ".join(shlex.quote(a) for a in base + nodes)
                result = mutate_and_test(item.mutations, subset, timeout)
                if result.test_outcome == TestOutcome.KILLED:
                    counts["by_covering_tests"] += 1
                else:
                    result = None  # a survivor is confirmed on the whole test files
            if result is None:
                result = mutate_and_test(item.mutations, command, timeout)
            if result.worker_outcome != WorkerOutcome.NORMAL or result.test_outcome == TestOutcome.INCOMPETENT:
                counts["incompetent"] += 1
                outcome = "incompetent"
                incompetent.append(dict(operator=mutation.operator_name, at=list(mutation.start_pos),
                                        worker=str(result.worker_outcome), output=(result.output or "")[-800:]))
            else:
                old, new = _changed_lines(result.diff or "")
                if result.test_outcome == TestOutcome.KILLED:
                    counts["killed"] += 1
                    outcome = "killed"
                    if result.output == "timeout":
                        counts["timeout"] += 1
                elif (reason := _is_equivalent(module, old, new, equivalents,
                                               mutation.definition_name)) is not None:
                    counts["equivalent"] += 1
                    outcome = "equivalent"
                    equivalent.append(dict(operator=mutation.operator_name, line=old, mutant=new, reason=reason,
                                           at=list(mutation.start_pos)))
                else:
                    counts["survived"] += 1
                    outcome = "survived"
                    survivors.append(dict(operator=mutation.operator_name, occurrence=mutation.occurrence,
                                          at=list(mutation.start_pos), definition=mutation.definition_name,
                                          line=old, mutant=new))
            if args.verbose or outcome == "survived":
                print(f"  [{k}/{len(sample)}] {outcome:<11} {mutation.operator_name} line {mutation.start_pos[0]}"
                      + (f": {survivors[-1]['line']}  ->  {survivors[-1]['mutant']}" if outcome == "survived" else ""),
                      flush=True)
        seconds = time.perf_counter() - started
    finally:
        os.chdir(cwd)
    scored = len(sample) - counts["equivalent"] - counts["incompetent"]
    score = counts["killed"] / scored if scored else math.nan
    low, high = _wilson(counts["killed"], scored)
    print(f"  score {counts['killed']}/{scored} = {score:.1%} (95% CI {low:.0%}-{high:.0%}); "
          f"{counts['equivalent']} equivalent, {counts['incompetent']} incompetent; {seconds:.0f} s", flush=True)
    return dict(module=module, tests=tests, mutants=len(items), sites=n_sites, sampled=len(sample), **counts, scored=scored,
                score=score, ci95=[low, high], seconds=round(seconds, 1), clean_run_s=round(clean_s, 1),
                survivors=survivors, equivalent_list=equivalent, incompetent_list=incompetent)


def _rescore(entry, equivalents):
    """Move the survivors that the equivalent list now names out of the score (no test is re-run)."""
    if "error" in entry:
        return entry
    keep = []
    for s in entry["survivors"]:
        reason = _is_equivalent(entry["module"], s["line"], s["mutant"], equivalents, s.get("definition"))
        if reason is None:
            keep.append(s)
        else:
            entry["equivalent_list"].append(dict(operator=s["operator"], line=s["line"], mutant=s["mutant"],
                                                 reason=reason, at=s["at"]))
    entry["survivors"] = keep
    entry["survived"] = len(keep)
    entry["equivalent"] = len(entry["equivalent_list"])
    entry["scored"] = entry["sampled"] - entry["equivalent"] - entry["incompetent"]
    entry["score"] = entry["killed"] / entry["scored"] if entry["scored"] else math.nan
    entry["ci95"] = list(_wilson(entry["killed"], entry["scored"]))
    return entry


def _write(results_path, label, ref, args, entries, equivalents=()):
    data = json.loads(results_path.read_text()) if results_path.is_file() else {"runs": {}}
    run = data["runs"].setdefault(label, {"modules": {}}) if label else None
    for entry in entries:
        entry.update(ref=ref, seed=args.seed, sample_arg=args.sample, disable_jit=args.disable_jit,
                     date=datetime.date.today().isoformat(),
                     command="python benchmarks/mutation.py " + " ".join(shlex.quote(a) for a in args.argv))
        run["modules"][entry["module"]] = entry
    for r in data["runs"].values():
        for entry in r["modules"].values():
            _rescore(entry, equivalents)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(data, indent=1) + "\n")
    lines = ["| run | module | ref | mutants (sites) | sampled | killed | survived | equivalent | score (95% CI) |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for name, run in data["runs"].items():
        for module, e in run["modules"].items():
            if "error" in e:
                lines.append(f"| {name} | `{module}` | {e.get('ref', '')} | | | | | | {e['error']} |")
                continue
            jit = " (no JIT)" if e.get("disable_jit") else ""
            lines.append(f"| {name} | `{module}` | {e['ref']} | {e['mutants']} ({e['sites']}) | {e['sampled']} | {e['killed']} | "
                         f"{e['survived']} | {e['equivalent']} | {e['score']:.0%} ({e['ci95'][0]:.0%}-"
                         f"{e['ci95'][1]:.0%}){jit} |")
    results_path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {results_path} and {results_path.with_suffix('.md')}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=sorted(GROUPS), action="append", default=[])
    parser.add_argument("--module", action="append", default=[], choices=sorted(MODULES))
    parser.add_argument("--sample", type=int, default=40, help="mutation sites per module (0: every mutant)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--ref", default=None, help="git revision to measure (default: the working tree)")
    parser.add_argument("--label", default="current", help="name of this run in the results (before, after...)")
    parser.add_argument("--disable-jit", action="store_true", help="NUMBA_DISABLE_JIT=1 (faster, not sound)")
    parser.add_argument("--out", default=str(ROOT / "results" / "mutation.json"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--rescore", action="store_true",
                        help="only re-apply the equivalent list to the stored results and rewrite the table")
    args = parser.parse_args(argv)
    args.argv = argv
    if args.rescore:
        _write(Path(args.out), None, None, args, [], _load_equivalents())
        return 0
    modules = list(dict.fromkeys([m for g in args.group for m in GROUPS[g]] + args.module))
    if not modules:
        parser.error("name modules with --group or --module")
    try:
        import cosmic_ray  # noqa: F401
        import pytest_cov  # noqa: F401
    except ImportError:
        parser.error("cosmic-ray and pytest-cov are needed: pip install 'scikit-forensics[mutation]'")
    equivalents = _load_equivalents()
    entries = []
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        ref = _copy_tree(args.ref, tree)
        numba_cache = Path(tmp) / "numba-cache"
        numba_cache.mkdir()
        os.environ["NUMBA_CACHE_DIR"] = str(numba_cache)
        os.environ["PYTHONPATH"] = os.pathsep.join([str(tree), str(tree / "tests")])
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        if args.disable_jit:
            os.environ["NUMBA_DISABLE_JIT"] = "1"
        print(f"measuring {ref} in {tree}", flush=True)
        for module in modules:
            entries.append(_run_module(module, tree, args, equivalents))
            _write(Path(args.out), args.label, ref, args, entries, equivalents)
    return 0


if __name__ == "__main__":
    sys.exit(main())
