"""What the cold start's numba compilation is made of, kernel by kernel (issue 10).

In a fresh process with an empty numba cache (a new temporary ``NUMBA_CACHE_DIR``), after the
imports and numba's one-off set-up, each declared kernel is compiled in declaration order (as
``bench_features.py`` does) and its CPU seconds are split into:

- LLVM: parsing numba's IR text and the function passes, the module passes after linking, and the
  machine code (numba's ``CPUCodeLibrary`` methods, timed on the process CPU clock);
- everything else: numba's Python front end (bytecode analysis, typing, lowering to LLVM IR,
  the CPython wrapper, the cache write);

and the functions compiled with it are listed (helpers the kernel calls and numba's own overloads,
``np.empty``, ``min``...; a function already compiled by an earlier kernel costs nothing again),
each with its CPU seconds excluding the functions it compiled in turn.

    python benchmarks/profile_compile.py [--rounds 1]

``NUMBA_OPT=0 python benchmarks/profile_compile.py`` compiles without LLVM optimisation: a
diagnostic of how much of the time the optimiser is (never a setting for use: the kernels lose
their speed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import importlib, json, time
c0 = time.process_time()
from numba import njit, types
from numba.core import codegen, compiler
from forensics.features._kernels._config import DECLARED
for m in ("_noise", "_dct", "_blur", "_spectral"):
    importlib.import_module("forensics.features._kernels." + m)
c1 = time.process_time()
njit(lambda a: a[0] + 1.0).compile((types.Array(types.float64, 1, "C"),))  # numba's one-off set-up
head = {"imports (numba, the kernel modules)": c1 - c0, "numba set-up": time.process_time() - c1}
llvm = [0.0]

def timed(cls, name):
    orig = getattr(cls, name)
    def run(*a, **k):
        t = time.process_time()
        try:
            return orig(*a, **k)
        finally:
            llvm[0] += time.process_time() - t
    setattr(cls, name, run)

for name in ("add_ir_module", "_optimize_final_module", "_finalize_final_module"):
    timed(codegen.CPUCodeLibrary, name)
stack, compiled = [], []
orig_compile = compiler.compile_extra

def compile_extra(typingctx, targetctx, func, *a, **k):
    t = time.process_time()
    stack.append(0.0)
    try:
        return orig_compile(typingctx, targetctx, func, *a, **k)
    finally:
        dt = time.process_time() - t
        inner = stack.pop()
        if stack:
            stack[-1] += dt
            compiled.append((getattr(func, "__qualname__", str(func)).replace(".<locals>.impl", ""), dt - inner))

compiler.compile_extra = compile_extra
kernels = {}
for (module, name), (disp, sig) in DECLARED.items():
    llvm[0] = 0.0
    compiled.clear()
    t = time.process_time()
    disp.compile(sig)
    kernels[name] = {"cpu_s": time.process_time() - t, "llvm_s": llvm[0], "with": list(compiled)}
print(json.dumps({"head": head, "kernels": kernels}))
"""


def profile_once():
    """One fresh process, empty cache: the set-up seconds and each kernel's split."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache"), PYTHONPATH=str(ROOT))
        res = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, cwd=tmp)
        if res.returncode:
            raise RuntimeError(res.stderr[-3000:])
        return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="fresh processes; medians are printed")
    args = parser.parse_args(argv)
    runs = [profile_once() for _ in range(args.rounds)]

    def med(values):
        values = sorted(values)
        return values[len(values) // 2] if len(values) % 2 else 0.5 * sum(values[len(values) // 2 - 1:][:2])

    print(f"NUMBA_OPT={os.environ.get('NUMBA_OPT', 'default (3)')}, {args.rounds} fresh process(es), CPU s, medians")
    for key in runs[0]["head"]:
        print(f"{key:42s} {med([r['head'][key] for r in runs]):6.2f}")
    print(f"{'kernel':22s} {'total':>6s} {'LLVM':>6s} {'rest':>6s}  compiled with it (own CPU s, first run)")
    tot = llvm = 0.0
    for name, first in runs[0]["kernels"].items():
        cpu = med([r["kernels"][name]["cpu_s"] for r in runs])
        ll = med([r["kernels"][name]["llvm_s"] for r in runs])
        tot, llvm = tot + cpu, llvm + ll
        extra = ", ".join(f"{n} {s:.2f}" for n, s in first["with"])
        print(f"{name:22s} {cpu:6.2f} {ll:6.2f} {cpu - ll:6.2f}  {extra}")
    print(f"{'all kernels':22s} {tot:6.2f} {llvm:6.2f} {tot - llvm:6.2f}")


if __name__ == "__main__":
    main()
