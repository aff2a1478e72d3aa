"""The one place where numba compilation options are chosen, and where kernels declare their signature.

Only the fast-math flags that keep NaN/inf semantics are on: ``reassoc`` (lets LLVM vectorise
reductions by reordering sums), ``contract`` (fused multiply-add) and ``nsz`` (ignore the sign of
zero). ``nnan``/``ninf`` stay off: NaN is how features say "not applicable". Reordered sums differ
from a sequential sum in the last bits only; the reference tests use relative tolerances.
Kernels are serial (one level of parallelism: joblib over items).

A kernel called from the feature code declares the one signature the code calls it with
(``@kernel(signature=...)``): :func:`forensics.features.compile_kernels` compiles the declared
signatures ahead of the first item, in parallel processes, into numba's on-disk cache. A test
checks that running the default bank compiles exactly the declared signatures, so a declaration
cannot drift from the calls.
"""

from numba import njit, types

JIT = dict(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz"})

#: (module name, function name) -> (dispatcher, declared signature), in declaration order.
DECLARED = {}

f32, f64, i64 = types.float32, types.float64, types.int64


def array(dtype, ndim, readonly=False):
    """The numba type of a C-contiguous ``dtype`` array of ``ndim`` dimensions (``readonly``: a read-only view)."""
    return types.Array(dtype, ndim, "C", readonly=readonly)


_NO_CACHE_WARNED = []


def _warn_no_cache(f):
    """Warn once per process that numba has nowhere to cache the kernels (they compile in every process)."""
    if _NO_CACHE_WARNED:
        return
    _NO_CACHE_WARNED.append(True)
    import warnings

    warnings.warn(
        f"numba can write its cache in none of its folders for {f.__code__.co_filename} (the package folder is "
        "read-only, NUMBA_CACHE_DIR is unset or unwritable, and so is the user cache folder): the kernels are "
        "not cached, so every process runs their NumPy twins and then compiles them again (~8 CPU s); set "
        "NUMBA_CACHE_DIR to a writable folder to compile them once",
        RuntimeWarning, stacklevel=3)


def kernel(fn=None, *, signature=None, inline=False):
    """Compile ``fn`` with the project's numba options (``@kernel`` or ``@kernel(signature=(...))``).

    ``signature`` is the tuple of argument types the feature code calls the kernel with; it is
    compiled lazily (at the first call, or by :func:`forensics.features.compile_kernels`), never at
    import. ``inline=True`` (a helper with one call site) has numba inline ``fn`` into its caller
    before typing (``inline="always"``) instead of compiling it as a function of its own.
    """
    def wrap(f):
        options = dict(JIT, inline="always" if inline else "never")
        try:
            dispatcher = njit(**options)(f)
        except RuntimeError as exc:  # numba found no folder it can write its cache to
            if "no locator available" not in str(exc):
                raise
            _warn_no_cache(f)
            dispatcher = njit(**dict(options, cache=False))(f)
        if signature is not None:
            DECLARED[(f.__module__, f.__name__)] = (dispatcher, tuple(signature))
        return dispatcher

    return wrap if fn is None else wrap(fn)
