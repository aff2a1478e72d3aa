"""Compile the numba kernels an extraction needs before its first item, in parallel processes.

(Until they are compiled, short jobs run the kernels' NumPy twins instead: see :mod:`._tier`.)

numba compiles a kernel at its first call, one kernel after another, in the calling process: about
8 CPU seconds for the default bank's 12 kernels on a fresh install, and, without a shared cache,
again in every worker of a parallel run. The kernels do not depend on each other, so
:func:`compile_kernels` compiles the missing ones in a few fresh interpreters (``python -m``), each
writing numba's on-disk cache (``cache=True``; ``NUMBA_CACHE_DIR`` or the ``__pycache__`` beside
the sources), then loads them in this process from that cache; workers started afterwards load them
from the same cache instead of compiling. A kernel already compiled in this process or present in
the cache costs nothing. Where no child can help (one CPU, a busy machine, a cache numba cannot write, a child that fails,
``FORENSICS_COMPILE_JOBS=1``), the kernels compile here, as at a first call.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

from ._config import DECLARED

#: The kernel modules of each family of the default bank.
FAMILY_KERNELS = {
    "noise": ("forensics.features._kernels._noise",),
    "dct": ("forensics.features._kernels._dct",),
    "blur": ("forensics.features._kernels._blur",),
    "spectral": ("forensics.features._kernels._spectral",),
}


#: CPU seconds each kernel took to compile in one process, helpers and numba overloads included
#: (``benchmarks/profile_compile.py --rounds 3``, medians), to balance the children; a kernel
#: missing here is weighed by the size of its bytecode.
_COMPILE_SECONDS = {
    "block_dct_stats": 1.31, "median_moments": 1.22, "srm_moments": 0.98, "median_flat": 0.87,
    "sharpness_edges": 0.76, "filter_row_streams": 0.70, "lattice_steps": 0.65, "filter_row_pairs": 0.46,
    "haar_detail_energies": 0.26, "haar_abs_hh": 0.20, "plane_moments": 0.17, "weighted_sums": 0.12,
}


def _cost(key, disp):
    return _COMPILE_SECONDS.get(key[1], len(disp.py_func.__code__.co_code) / 2000)


def _declared(modules):
    for module in modules:
        importlib.import_module(module)
    return [(key, disp, sig) for key, (disp, sig) in DECLARED.items() if key[0] in modules]


def _compiled(disp, sig):
    return tuple(sig) in getattr(disp, "overloads", {})


def _in_cache(disp, sig):
    """Whether numba's on-disk cache holds ``disp`` for ``sig`` on this machine (False when unsure)."""
    try:
        cache = disp._cache
        key = cache._index_key(tuple(sig), disp.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # NullCache (no cache), another numba version: compile here
        return False


def _has_disk_cache(disp):
    """Whether numba gave ``disp`` an on-disk cache (it falls back to no cache where no folder is writable)."""
    try:
        disp._cache._cache_file._index_path  # noqa: B018  (a FunctionCache, not numba's NullCache)
        return True
    except AttributeError:
        return False


def _compile_group(keys):
    """Child process: compile the declared kernels ``keys`` (``module:name``) into the on-disk cache."""
    for key in keys:
        module, name = key.split(":")
        importlib.import_module(module)
        disp, sig = DECLARED[(module, name)]
        disp.compile(sig)
    print(time.process_time())  # this child's CPU seconds, read by the parent


def _run_children(groups):
    """Compile each group of kernels in its own fresh interpreter; the CPU seconds of each, None on a failure.

    A plain ``python -m`` child, not a multiprocessing pool: a pool's children would import the
    user's ``__main__`` script again (spawn) or inherit this process's threads (fork).
    """
    root = str(Path(__file__).resolve().parents[3])  # the folder holding the forensics package
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    children = [subprocess.Popen([sys.executable, "-m", __name__, *[f"{m}:{n}" for m, n in group]], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                for group in groups]
    outs = [child.communicate()[0] for child in children]
    if any(child.returncode for child in children):
        return None
    return [float(out.split()[-1]) for out in outs]


def _n_processes(n_jobs, n_missing):
    if n_jobs is None:
        n_jobs = int(os.environ.get("FORENSICS_COMPILE_JOBS", 0)) or None
    if n_jobs is None:  # the CPUs this process may use that are not busy already
        try:
            n_cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            n_cpus = os.cpu_count() or 1
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows
            busy = 0.0
        n_jobs = max(1, min(n_cpus, int(n_cpus - busy + 0.5)))
    return max(1, min(int(n_jobs), n_missing, 8))


def compile_kernels(families=None, *, n_jobs=None, load=True):
    """Compile the numba kernels of ``families`` now, in parallel processes when several are missing.

    A parallel extraction, or a serial one of many items, calls this before its first item; a
    short job runs the kernels' NumPy twins until compiling pays off (``_tier``), so a user
    rarely needs to call it. Call it to pay the compilation at a chosen time, e.g. when
    building a container image (the kernels then load from numba's cache in a few milliseconds
    each, and no twin runs).

    Parameters
    ----------
    families : iterable of str or None
        Families of the default bank (``"noise"``, ``"dct"``, ``"blur"``, ``"spectral"``);
        None means all of them. Families without kernels (``"codec"``) are ignored.
    n_jobs : int or None
        Compiling processes. None: ``FORENSICS_COMPILE_JOBS`` if set, else the CPUs this process
        may use less the load average (the busy ones), at most 8; on a machine already busy the
        children would only compete with each other, so the kernels compile here. 1 compiles in
        this process.
    load : bool
        Also load the kernels into this process (False when only worker processes will run them:
        they load them from the cache).

    Returns
    -------
    dict
        ``compiled`` (kernels compiled now, in this process or a child), ``loaded`` (found in the
        cache), ``processes`` (compiling children, 0 when compiled here), ``seconds`` (wall time)
        and ``child_cpu_seconds`` (the CPU seconds of each child).

    Examples
    --------
    >>> from forensics.features import compile_kernels
    >>> report = compile_kernels(["spectral"], n_jobs=1)
    >>> sorted(report)
    ['child_cpu_seconds', 'compiled', 'loaded', 'processes', 'seconds']
    """
    t0 = time.perf_counter()
    families = list(FAMILY_KERNELS) if families is None else list(families)
    modules = sorted({m for f in families for m in FAMILY_KERNELS.get(f, ())})
    pending = [(key, disp, sig) for key, disp, sig in _declared(modules)
               if hasattr(disp, "compile") and not _compiled(disp, sig)]  # NUMBA_DISABLE_JIT: plain functions
    missing = [(key, disp, sig) for key, disp, sig in pending if not _in_cache(disp, sig)]
    processes = _n_processes(n_jobs, len(missing)) if missing else 0
    child_cpu = []
    if processes > 1 and not _has_disk_cache(missing[0][1]):
        processes = 1
    if processes > 1:
        # largest first, each to the least loaded group (longest-processing-time rule)
        groups, loads = [[] for _ in range(processes)], [0] * processes
        for key, disp, _ in sorted(missing, key=lambda m: -_cost(m[0], m[1])):
            g = loads.index(min(loads))
            groups[g].append(key)
            loads[g] += _cost(key, disp)
        try:
            child_cpu = _run_children(groups)
        except (OSError, ValueError, IndexError):  # no child here (restricted sandbox): compile in this process
            child_cpu = None
        if child_cpu is None:
            processes = 1
    for _, disp, sig in pending:  # from the cache the children filled, or compiled here
        if load or processes <= 1:
            disp.compile(sig)
    return {"compiled": len(missing), "loaded": len(pending) - len(missing),
            "processes": processes if processes > 1 else 0, "seconds": time.perf_counter() - t0,
            "child_cpu_seconds": child_cpu or []}


if __name__ == "__main__":
    _compile_group(sys.argv[1:])
