"""Where the work of a verb runs: how many local processes, the pool that runs them, a Dask
client when given a scheduler.

Every verb that runs many simulations (compare, sweep, the record's comparison, batch) spreads
them over the cores this process may use unless told ``workers=1``. The numbers never depend on
it: each task carries its own seed, and results come back in the order of the tasks.

Light on purpose (standard library only at import): the CLI and :mod:`scaleplan.report.batch`
import it before anything heavy.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from scaleplan.errors import ScaleplanError

__all__ = ["available_cores", "dask_client", "process_pool", "resolve_workers"]


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity where the OS keeps one (a container
    or ``taskset`` limit), else every core of the machine."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on macOS and Windows
        return os.cpu_count() or 1


def resolve_workers(workers: int | None) -> int:
    """The local processes a verb uses: ``workers``, or every available core when None."""
    if workers is None:
        return available_cores()
    if workers < 1:
        raise ValueError(f"workers must be at least 1 (got {workers})")
    return workers


def process_pool(workers: int | None, tasks: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` processes (all available cores when None, at most one per task),
    or None to run in this process (one worker or one task: a pool would only add its start-up).

    On Linux the pool forks: a forked worker starts in milliseconds with scaleplan already
    imported, where a spawned one would import it again (about a second each, on the critical
    path of a command that should answer in seconds). The workers only simulate and return
    pickled results, so the threads of a Jupyter kernel that forks them (heartbeat, output) are
    not needed in them.
    """
    count = resolve_workers(workers)
    if count <= 1 or tasks <= 1:
        return None
    return ProcessPoolExecutor(max_workers=min(count, tasks), mp_context=_pool_context())


def _pool_context() -> multiprocessing.context.BaseContext | None:
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None  # the platform's default (spawn on macOS and Windows)


@contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A ``dask.distributed.Client`` of the scheduler at ``address`` (an executor for the
    verbs' ``executor=``), closed on leaving; a clear error (exit 2 on the command line) when
    dask.distributed is missing or the scheduler cannot be reached."""
    try:
        from distributed import Client
    except ImportError:
        raise ScaleplanError(
            "a Dask scheduler was given but dask.distributed is not installed: "
            "pip install 'scaleplan[dask]'"
        ) from None
    try:
        # How long to try to connect is Dask's own setting (distributed.comm.timeouts.connect).
        client = Client(address)
    except OSError as error:
        raise ScaleplanError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    try:
        yield client
    finally:
        client.close()
