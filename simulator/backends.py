"""Parallel execution of independent jobs through joblib, including the cluster backends.

    for result in parallel_results(make_one, items, workers=4, backend="dask"):
        ...

Backends:

* ``loky`` (processes on this machine), ``threading``, ``multiprocessing``: joblib's own.
* ``dask``: joblib's dask backend runs on a ``dask.distributed.Client``. The one already created in this
  process is used (``Client("tcp://scheduler:8786")`` before calling, or ``DASK_SCHEDULER_ADDRESS`` in the
  environment); without one, a ``LocalCluster`` of ``workers`` single-threaded processes is started for the
  call and closed after it.
* ``ray``: Ray's joblib backend (``ray.util.joblib.register_ray``). An initialised Ray is used as it is;
  otherwise ``ray.init()`` connects to ``RAY_ADDRESS`` when set or starts a local Ray of ``workers`` CPUs,
  shut down after the call. Ray's pool returns results only when all are done (no unordered generator).

On a real cluster every worker must see the output folder (a shared file system), as with any joblib backend.
Each job's result is a pure function of its item, so the output does not depend on the backend.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Any

from simulator.core.errors import ConfigError, MissingDependencyError

BACKENDS = ("loky", "threading", "multiprocessing", "dask", "ray")


def _dask_client(workers: int, stack: ExitStack) -> Any:
    """The running ``dask.distributed`` client, one for the configured scheduler, or a local cluster's."""
    from distributed import Client, LocalCluster, get_client

    try:
        return get_client()
    except ValueError:  # no client in this process
        pass
    import dask

    if dask.config.get("scheduler-address", None) or os.environ.get("DASK_SCHEDULER_ADDRESS"):
        return stack.enter_context(Client())
    cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR))
    return stack.enter_context(Client(cluster))


def _ray_session(workers: int, stack: ExitStack) -> None:
    """Register Ray's joblib backend; start (and later stop) a local Ray unless one is initialised."""
    import ray
    from ray.util.joblib import register_ray

    register_ray()
    logging.getLogger("ray.util.multiprocessing.pool").setLevel(logging.ERROR)  # joblib's unused 'context' argument
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        stack.callback(ray.shutdown)


def check_backend(backend: str, workers: int = 2) -> None:
    """Refuse an unknown backend, or a cluster backend whose packages are missing, before any work starts.

    Raises:
        ConfigError: ``backend`` is not one of :data:`BACKENDS`.
        MissingDependencyError: ``dask`` or ``ray`` without the ``dist`` extra (checked only for ``workers > 1``).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    needs = {"dask": ("dask", "distributed"), "ray": ("ray",)}.get(backend, ())
    if workers > 1 and any(importlib.util.find_spec(name) is None for name in needs):
        raise MissingDependencyError(f"--backend {backend} needs the cluster extra: pip install '.[dist]'")


def parallel_results(function: Callable[..., Any], items: Iterable[tuple[Any, ...]], workers: int,
                     backend: str = "loky") -> Iterator[Any]:
    """``function(*item)`` for every item, on ``workers`` parallel workers of ``backend``; results as they finish.

    Args:
        function: a picklable top-level function.
        items: argument tuples, one per job.
        workers: number of parallel workers (1: in this process, in order).
        backend: one of :data:`BACKENDS`.

    Returns:
        An iterator over each job's return value (unordered for ``loky``/``threading``/``dask``; in item order
        for ``ray``). A cluster started for the call is closed when the iterator is exhausted or closed.

    Raises:
        ConfigError: an unknown backend.
        MissingDependencyError: ``dask`` or ``ray`` without the ``dist`` extra installed.
    """
    check_backend(backend, workers)
    if workers <= 1:
        return (function(*item) for item in items)
    return _run(function, items, workers, backend)


def _run(function: Callable[..., Any], items: Iterable[tuple[Any, ...]], workers: int, backend: str) -> Iterator[Any]:
    from joblib import Parallel, delayed, parallel_config

    with ExitStack() as stack:
        return_as = "generator_unordered"
        try:
            if backend == "dask":
                _dask_client(workers, stack)
            elif backend == "ray":
                _ray_session(workers, stack)
                return_as = "list"  # Ray's pool supports no generator
        except ImportError:
            raise MissingDependencyError(f"--backend {backend} needs the cluster extra: pip install '.[dist]'") from None
        # parallel_config (not Parallel(backend=...)) is what makes joblib register its external dask backend
        stack.enter_context(parallel_config(backend=backend, n_jobs=workers))
        jobs = (delayed(function)(*item) for item in items)
        yield from Parallel(return_as=return_as)(jobs)
