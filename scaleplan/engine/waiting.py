"""The waiting line of a replica: FIFO within a priority level, the smallest level first.

A replica's line (``Replica.queue``) is a plain :class:`collections.deque` while every request
that has waited there had the default priority 0 — the engine's default path, as fast as
before priorities existed (``append``, ``popleft``, ``len`` are the deque's own C methods).
The first request of another priority turns the replica's line into a :class:`PriorityLine`
(:func:`prioritised`), which keeps the same interface plus a priority argument.

Priorities follow Ciw's priority classes: a SMALLER number is served first; within a level,
first come first served. A :class:`PriorityLine` keeps one deque per level and a heap of the
levels that hold requests, rather than one heap of (priority, arrival sequence) entries,
because the engine needs three ends of a level:

- ``popleft()``: the oldest request of the best level (non-preemptive priority, FIFO within);
- ``pop()``: the newest request of the best level (a LIFO discipline within priorities);
- ``appendleft(event, priority)``: back to the FRONT of its level (a request preempted in
  service resumes before the requests of its level that never started — preemptive-resume).

Each costs O(log L) for L levels in use (a handful: one per request class).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from simpy.events import Event

__all__ = ["PriorityLine", "WaitingLine", "prioritised"]


class PriorityLine:
    """Waiting events by priority level (smaller first), FIFO within a level."""

    __slots__ = ("_heap", "_levels", "_size")

    def __init__(self, events: Iterable[Event] = (), priority: int = 0) -> None:
        self._levels: dict[int, deque[Event]] = {}
        self._heap: list[int] = []  # the levels that hold events, as a heap
        self._size = 0
        for event in events:
            self.append(event, priority)

    def _level(self, priority: int) -> deque[Event]:
        level = self._levels.get(priority)
        if level is None:
            level = self._levels[priority] = deque()
        if not level:
            heapq.heappush(self._heap, priority)
        return level

    def append(self, event: Event, priority: int = 0) -> None:
        """Queue ``event`` behind the others of its level."""
        self._level(priority).append(event)
        self._size += 1

    def appendleft(self, event: Event, priority: int = 0) -> None:
        """Queue ``event`` ahead of the others of its level (a preempted request)."""
        self._level(priority).appendleft(event)
        self._size += 1

    def _best(self) -> deque[Event]:
        if not self._size:
            raise IndexError("pop from an empty waiting line")
        return self._levels[self._heap[0]]

    def _taken(self, level: deque[Event]) -> None:
        self._size -= 1
        if not level:
            heapq.heappop(self._heap)

    def popleft(self) -> Event:
        """The oldest event of the best (smallest) level."""
        level = self._best()
        event = level.popleft()
        self._taken(level)
        return event

    def pop(self) -> Event:
        """The newest event of the best (smallest) level."""
        level = self._best()
        event = level.pop()
        self._taken(level)
        return event

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def __iter__(self) -> Iterator[Event]:
        """The events in the order ``popleft`` would give them."""
        for priority in sorted(self._heap):
            yield from self._levels[priority]

    def __repr__(self) -> str:
        levels = {p: len(self._levels[p]) for p in sorted(self._heap)}
        return f"PriorityLine({levels})"


class WaitingLine(Protocol):
    """What the engine asks of a replica's line (a deque or a :class:`PriorityLine`)."""

    def append(self, event: Event, /) -> Any: ...

    def popleft(self) -> Event: ...

    def pop(self) -> Event: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Event]: ...


def prioritised(replica: Any) -> PriorityLine:
    """The replica's line as a :class:`PriorityLine`, converting its deque the first time (what
    waits there has the default priority 0, in arrival order)."""
    line = replica.queue
    if type(line) is not PriorityLine:
        line = replica.queue = PriorityLine(line, 0)
    return line
