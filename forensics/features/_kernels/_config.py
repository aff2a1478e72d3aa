"""The one place where numba compilation options are chosen.

Only the fast-math flags that keep NaN/inf semantics are on: ``reassoc`` (lets LLVM vectorise
reductions by reordering sums), ``contract`` (fused multiply-add) and ``nsz`` (ignore the sign of
zero). ``nnan``/``ninf`` stay off: NaN is how features say "not applicable". Reordered sums differ
from a sequential sum in the last bits only; the reference tests use relative tolerances.
Kernels are serial (one level of parallelism: joblib over items).
"""

from numba import njit

JIT = dict(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz"})


def kernel(fn):
    """Compile ``fn`` with the project's numba options."""
    return njit(**JIT)(fn)
