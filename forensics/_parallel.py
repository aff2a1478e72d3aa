"""Where the items of an extraction loop run: in this process, in joblib's workers, or on a Dask cluster.

The library's per-item loops (the feature bank's :func:`~forensics.features._base.run_extraction`,
:class:`~forensics.features.VideoFeatures` and :func:`~forensics.datasets.extract_faces`) hand
their tasks to :func:`run_in_order` and size their chunks with :func:`n_workers`, so one rule
decides for all of them:

- ``n_jobs=1``: in this process, in order (nothing is pickled).
- ``n_jobs=None`` (the default): joblib's active configuration decides, as in scikit-learn.
  Outside any ``joblib.parallel_config`` that is this process; inside
  ``parallel_config(backend="dask")`` it is the Dask cluster of the current
  ``distributed.Client``; inside ``parallel_config(n_jobs=4)`` four loky workers.
- any other ``n_jobs``: joblib with that many workers, or the Dask cluster when the Dask backend
  is configured (its size is set by the cluster, not by ``n_jobs``, as in joblib).

On a Dask cluster the tasks are submitted with :meth:`distributed.Client.submit` (each task
carries its own arguments) rather than through joblib's Dask backend, which scatters large
arguments to a single worker: when that worker dies, the scattered data is lost and every
task still needing it fails. Here a task whose worker dies is simply rerun by the scheduler
on another worker (up to ``distributed.scheduler.allowed-failures`` times), so a lost worker
loses no row and, because results are collected by position, duplicates none.

:func:`use_cluster` connects to a scheduler and sets that configuration for a block of code;
the ``forensics extract --scheduler`` flag uses it.
"""

from __future__ import annotations

import collections
import os
import sys
from contextlib import contextmanager

__all__ = ["SCHEDULER_ENV", "n_workers", "run_in_order", "use_cluster"]

#: Environment variable read for the scheduler address when none is passed.
SCHEDULER_ENV = "FORENSICS_SCHEDULER"

#: Tasks in flight on a cluster per worker thread (submitted, not yet handed back in order).
_WINDOW_PER_THREAD = 4


def _dask_client():
    """The ``distributed.Client`` of joblib's active backend, or None when that backend is not Dask's."""
    dask_module = sys.modules.get("joblib._dask")  # imported by joblib when the "dask" backend is configured
    if dask_module is None:
        return None
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if isinstance(backend, dask_module.DaskDistributedBackend):
        return backend.client
    return None


def _cluster_threads(client):
    return sum(client.ncores().values())


def n_workers(n_jobs=None):
    """How many items run at once for ``n_jobs`` under joblib's active configuration.

    Parameters
    ----------
    n_jobs : int or None
        The loop's ``n_jobs`` parameter.

    Returns
    -------
    int
        1 exactly when :func:`run_in_order` runs the tasks in this process. On a Dask cluster:
        the cluster's worker threads, at least 2 (a cluster with one thread, or none yet, still
        receives the work).

    Examples
    --------
    >>> from forensics._parallel import n_workers
    >>> n_workers(None), n_workers(1), n_workers(3)
    (1, 1, 3)
    """
    if n_jobs == 1:
        return 1
    client = _dask_client()
    if client is not None:
        return max(2, _cluster_threads(client))
    import joblib

    return max(1, int(joblib.effective_n_jobs(n_jobs)))


def run_in_order(jobs, n_jobs=None):
    """Run tasks where ``n_jobs`` and joblib's configuration say; results come back in task order.

    Parameters
    ----------
    jobs : iterable of ``joblib.delayed(func)(*args, **kwargs)``
        Consumed lazily: a task is taken only when there is room for it, so a generator that
        stops yielding (e.g. after a failure) stops the dispatch.
    n_jobs : int or None
        See the module notes.

    Returns
    -------
    iterator
        One result per task, in task order. An exception raised by a task is raised when its
        result is reached; tasks still running on a cluster are then cancelled (also when the
        iterator is closed early).

    Examples
    --------
    >>> from joblib import delayed
    >>> from forensics._parallel import run_in_order
    >>> list(run_in_order((delayed(pow)(k, 2) for k in range(4)), n_jobs=1))
    [0, 1, 4, 9]
    """
    if n_workers(n_jobs) == 1:
        return (func(*args, **kwargs) for func, args, kwargs in jobs)
    client = _dask_client()
    if client is not None:
        return _on_cluster(client, jobs)
    from joblib import Parallel

    return Parallel(n_jobs=n_jobs, return_as="generator")(jobs)


def _call(func, args, kwargs):
    return func(*args, **kwargs)


def _on_cluster(client, jobs):
    """Submit tasks to a Dask cluster with a bounded window; yield their results in order."""
    jobs = iter(jobs)
    pending = collections.deque()
    window = _WINDOW_PER_THREAD * max(2, _cluster_threads(client))
    try:
        while True:
            while len(pending) < window:
                job = next(jobs, None)
                if job is None:
                    break
                func, args, kwargs = job
                # pure=False: every task is its own key, so two equal tasks are both run
                pending.append(client.submit(_call, func, args, kwargs, pure=False))
            if not pending:
                return
            future = pending.popleft()
            try:
                result = future.result()
            except BaseException:
                client.cancel([future])  # the scheduler keeps a failed task while it is referenced
                raise
            del future
            yield result
    finally:
        if pending:
            client.cancel(list(pending))


@contextmanager
def use_cluster(scheduler=None, **client_kwargs):
    """Run the library's extraction loops on a Dask cluster inside a ``with`` block.

    Connects a :class:`distributed.Client` to the scheduler and sets
    ``joblib.parallel_config(backend="dask")``; every extraction loop called with ``n_jobs``
    other than 1 inside the block (the default ``None`` included) sends its items to the
    cluster. Rows, their order, ``status_`` / ``records_`` and the files written are the same
    as with ``n_jobs=1``.

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        The scheduler address (``"tcp://host:8786"``) or a client already connected (kept open
        on exit). Default: the ``FORENSICS_SCHEDULER`` environment variable.
    **client_kwargs
        Passed to :class:`distributed.Client` with an address (e.g. ``timeout="10s"``).

    Yields
    ------
    distributed.Client

    Raises
    ------
    ValueError
        When no address is given and ``FORENSICS_SCHEDULER`` is unset or empty.
    ImportError
        When ``distributed`` is not installed (``pip install 'scikit-forensics[dask]'``).
    OSError
        When the scheduler cannot be reached (Dask's connect timeout).

    Notes
    -----
    Workers import ``forensics`` themselves: install the same version of the library there.
    Paths are opened by the workers, and :func:`~forensics.datasets.extract_faces` writes its
    outputs from them: inputs and ``out_dir`` must be on a file system every worker sees
    under the same path.

    Examples
    --------
    >>> import forensics
    >>> with forensics.use_cluster("tcp://scheduler:8786"):  # doctest: +SKIP
    ...     X = forensics.make_feature_bank().fit_transform(paths)
    """
    address = scheduler if scheduler is not None else os.environ.get(SCHEDULER_ENV, "")
    if isinstance(address, str) and not address.strip():
        raise ValueError(f"no Dask scheduler address: pass scheduler='tcp://host:8786' or set {SCHEDULER_ENV}")
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError("running on a Dask cluster needs dask.distributed: pip install 'scikit-forensics[dask]' "
                          f"({exc})") from None
    from joblib import parallel_config

    if isinstance(address, Client):
        with parallel_config(backend="dask", client=address):
            yield address
        return
    with Client(address.strip() if isinstance(address, str) else address, **client_kwargs) as client, \
            parallel_config(backend="dask", client=client):
        yield client
