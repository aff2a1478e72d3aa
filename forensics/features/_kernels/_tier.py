"""The default bank's kernels, run by their NumPy twins until compiling them pays off.

numba compiles the default bank's 12 declared kernels in about 8 CPU seconds on a fresh install (an
empty numba cache: a new container, a new virtual environment), which a one-image ``forensics
predict`` would wait for. Each declared kernel therefore has a *twin*: a vectorised NumPy version
with the same arguments and the same outputs (``_noise_twins``, ``_wavelet_twins``, ``_dct_twins``,
``_blur_twins``, ``_spectral_twins``; every twin is tested against its kernel). A kernel that is
neither compiled in this process nor in numba's on-disk cache runs as its twin, and the CPU time
spent in each family's twins is counted; once it reaches the estimated compile time of that
family's kernels, they are compiled (:func:`~forensics.features.compile_kernels`, in parallel
processes where CPUs are idle) and used from then on. This is the rule of the ski-rental problem: a job that ends before the
twins have cost one compilation never compiles, and no job pays more than about twice what it
would have paid had it known its length in advance. A kernel found in the cache is loaded
(2-8 ms each, after numba's start in the process, about 0.34 s at the first) and used at once.

By default each family (the kernels of one module) is weighed on its own: its kernels compile
when its twins have cost their estimated compile time, so a job that calls one family often and
another rarely compiles the first only. ``FORENSICS_UNCOMPILED_SECONDS`` sets one budget in CPU
seconds for all twins instead (when spent, the families whose twins ran are compiled); ``0``
compiles every kernel at its first call, as numba does.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
import time

from ._config import DECLARED

#: The modules holding twins, per kernel module (each exports ``TWINS = {kernel name: function}``).
TWIN_MODULES = {
    "forensics.features._kernels._noise": ("._noise_twins", "._wavelet_twins"),
    "forensics.features._kernels._dct": ("._dct_twins",),
    "forensics.features._kernels._blur": ("._blur_twins",),
    "forensics.features._kernels._spectral": ("._spectral_twins",),
}

ENV_BUDGET = "FORENSICS_UNCOMPILED_SECONDS"


class _Rent:
    """The process's account of CPU seconds spent in twins, and its budget."""

    lock = threading.RLock()
    spent = 0.0
    spent_by = {}  # kernel module -> CPU seconds spent in its twins
    used = set()  # (module, name) of the kernels whose twins ran
    budget = None  # set at the first twin call (FORENSICS_UNCOMPILED_SECONDS, else the sum of ``costs``)
    costs = {}  # kernel module -> estimated compile time of its missing kernels, when its first twin ran


def _env_budget():
    value = os.environ.get(ENV_BUDGET, "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{ENV_BUDGET}={value!r} is not a number of CPU seconds") from None
    if not seconds >= 0:  # NaN or negative
        raise ValueError(f"{ENV_BUDGET}={value!r} must be a number of CPU seconds >= 0")
    return seconds


def _budget(modules=None):
    """The twins' budget: ``FORENSICS_UNCOMPILED_SECONDS``, else the estimated compile time of the
    missing kernels of ``modules`` (None: every module with twins).

    Only the families whose twins ran are compiled when the budget is spent (``_compile_used``), so
    the default budget counts only theirs: a job of one family (``blur_features`` in a loop) pays at
    most about its own compile time in twins, not the whole bank's.
    """
    seconds = _env_budget()
    if seconds is not None:
        return seconds
    from ._warm import _cost, _compiled, _in_cache

    modules = TWIN_MODULES if modules is None else modules
    return sum(_cost(key, disp) for key, (disp, sig) in DECLARED.items()
               if key[0] in modules and not _compiled(disp, sig) and not _in_cache(disp, sig))


@functools.lru_cache(maxsize=None)
def _twin(module, name):
    for twin_module in TWIN_MODULES.get(module, ()):  # every one ships with the package: an import error is a bug
        twins = importlib.import_module(twin_module, __package__).TWINS
        if name in twins:
            return twins[name]
    return None


def _compile_used(modules=None):
    """Compile (or load) the kernels of the families of ``modules`` (None: of every family whose twins
    this process ran), in children where CPUs are idle."""
    from ._warm import FAMILY_KERNELS, compile_kernels

    modules = {module for module, _ in _Rent.used} if modules is None else set(modules)
    compile_kernels(sorted(family for family, mods in FAMILY_KERNELS.items() if modules & set(mods)))


class TieredKernel:
    """A declared numba kernel called through its twin until compiling it pays off (see the module doc).

    Calls go straight to the compiled kernel once it is compiled or loaded; until then, to the
    twin while the process's twin budget lasts. ``kernel`` is the numba dispatcher, ``twin`` the
    NumPy function (None: always the kernel).
    """

    def __init__(self, dispatcher):
        func = getattr(dispatcher, "py_func", dispatcher)
        self.key = (func.__module__, func.__name__)
        if self.key not in DECLARED:
            raise ValueError(f"{self.key[0]}.{self.key[1]} declares no signature: it cannot have a twin")
        self.kernel, self.signature = DECLARED[self.key]
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__
        self.__wrapped__ = func
        self._cache_checked = False
        self._call = self._first

    @property
    def twin(self):
        return _twin(*self.key)

    def __call__(self, *args):
        return self._call(*args)

    def _ready(self):
        """Whether the kernel is usable without compiling (compiled here, loaded from the cache, or no JIT)."""
        disp, sig = self.kernel, self.signature
        if not hasattr(disp, "compile"):  # NUMBA_DISABLE_JIT: a plain function
            return True
        if tuple(sig) in disp.overloads:
            return True
        if not self._cache_checked:  # once: a kernel missing from the cache stays missing for this process
            self._cache_checked = True
            from ._warm import _in_cache

            if _in_cache(disp, sig):
                disp.compile(sig)  # loads it from the cache
                return True
        return False

    def _first(self, *args):
        if self._ready():
            self._call = self.kernel
            return self.kernel(*args)
        twin = self.twin
        module = self.key[0]
        with _Rent.lock:
            fixed = _env_budget()
            if module not in _Rent.costs:  # a family's first twin: its compile time joins the budget
                _Rent.costs[module] = _budget([module])
                _Rent.budget = sum(_Rent.costs.values()) if fixed is None else fixed
            if fixed is None:  # each family against its own compile time (the rule's bound per family)
                rent = twin is not None and _Rent.spent_by.get(module, 0.0) < _Rent.costs[module]
            else:  # one budget for every twin
                rent = twin is not None and _Rent.spent < fixed
        if not rent:
            with _Rent.lock:
                _Rent.used.add(self.key)
                _compile_used([module] if fixed is None else None)
            self._call = self.kernel
            return self.kernel(*args)
        with _Rent.lock:
            _Rent.used.add(self.key)
        t0 = time.thread_time()
        try:
            return twin(*args)
        finally:
            with _Rent.lock:
                spent = time.thread_time() - t0
                _Rent.spent += spent
                _Rent.spent_by[module] = _Rent.spent_by.get(module, 0.0) + spent


def tiered(dispatcher):
    """The declared kernel ``dispatcher`` as a :class:`TieredKernel` (the name the feature code calls)."""
    return TieredKernel(dispatcher)


def twin_seconds():
    """CPU seconds this process has spent in twins so far, and the budget (None before the first twin call):
    ``FORENSICS_UNCOMPILED_SECONDS``, else the sum of the estimated compile times of the families whose
    twins ran (each family is compiled when its own twins have cost its own compile time)."""
    return _Rent.spent, _Rent.budget
