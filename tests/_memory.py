"""Give the test process's garbage and freed heap back to the system as the session goes on.

Without this the pytest process of ``make test`` grew to ~2 GB resident. Not from objects kept
alive (after a test the live Python heap is small: tracemalloc), but from two things:

- a finished simulation is a graph of reference cycles (SimPy events, processes, callbacks)
  that only a full collection frees, and full collections are rare in a large heap;
- glibc keeps what was freed (NumPy arrays, those graphs) in its heap, fragmented, and does
  not return it; every later peak adds to it.

So after a test that left the process more than :data:`GROWTH_MB` larger than after the last
time, collect and ``malloc_trim(0)``. The objects that exist once the tests are collected
(modules, Hypothesis, plotly, …) are frozen out of the collector first (``gc.freeze``), so a
collection walks only what the tests made: a few ms to a few tens of ms. Elsewhere than glibc
(no ``malloc_trim``, no ``/proc``) only the freeze is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from collections.abc import Callable
from pathlib import Path

import pytest

GROWTH_MB = 64
_STATM = Path("/proc/self/statm")
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 0.0


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None or not _STATM.is_file():
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


_TRIM = _malloc_trim()
_after_last_trim_mb = 0.0


def resident_mb() -> float:
    """The process's resident memory in MB (0 where /proc is absent)."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once everything is imported: what is alive now stays, keep it out of every collection."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a test's teardown: collect and trim when the process grew by more than GROWTH_MB."""
    global _after_last_trim_mb
    if _TRIM is None:
        return
    if resident_mb() - _after_last_trim_mb > GROWTH_MB:
        gc.collect()
        _TRIM(0)
        _after_last_trim_mb = resident_mb()
