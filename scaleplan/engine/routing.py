"""A call entry that is more than "call ``to``": made for some request classes only
(``classes``), to one of several targets chosen by weight (``one_of``), or as a named read or
write on a database (``operation``); see :class:`scaleplan.spec.components.CallSpec`.

A :class:`RoutedCall` stands in a caller's call list where a station would, so the caller's
loops over its calls (:meth:`scaleplan.kinds.service.ServiceStation.serve`) are those of plain
calls: its ``visit`` returns the chosen target's visit, or an immediate OK for a request of
another class. A plain call (``to`` alone) never becomes one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import simpy

from scaleplan.engine.protocol import OK, Request, Station, StreamFactory, Visit, answered
from scaleplan.engine.resilience import ResilientCall
from scaleplan.engine.streams import uniforms
from scaleplan.spec.components import CallSpec

__all__ = ["DatabaseOperation", "RoutedCall"]


class DatabaseOperation:
    """A database as a call with an ``operation`` sees it: every visit is that read or write
    (``write``) instead of one drawn from the database's read_ratio."""

    def __init__(self, database: Any, write: bool) -> None:
        self.database = database
        self.name = database.name
        self.write = write

    def visit(self, request: Request) -> Visit:
        return self.database.visit_operation(request, self.write)


class RoutedCall:
    """A call entry that is more than "call ``to``": made for some request classes only, to
    one of several targets chosen by weight, or as a given operation on a database.

    It stands in the caller's call list where a station would (its ``visit`` returns the
    chosen target's visit, or an immediate OK for a request of another class, which skips
    the call), so the caller's loops over its calls are those of plain calls. Each target has
    its own resilient caller (timeout, retries, breaker and bulkhead act on the chosen one).
    """

    def __init__(
        self,
        env: simpy.Environment,
        caller: str,
        index: int,
        call: CallSpec,
        stations: Mapping[str, Station],
        streams: StreamFactory,
    ) -> None:
        self.name = f"{caller}#{index}"
        indices = call._class_indices
        if call.classes is not None and indices is None:
            raise ValueError(
                f"{caller}: calls[{index}] names classes that were never bound to the "
                "workload's (validate the architecture with parse_spec or load_spec)"
            )
        self.classes = indices
        self.choices: list[tuple[Any, ResilientCall | None]] = []
        cumulative: list[float] = []
        total = 0.0
        for position, (target, share, _) in enumerate(call.targets()):
            station: Any = stations[target]
            if call.operation is not None:
                station = DatabaseOperation(station, call.operation == "write")
            label = f"{caller}->{target}#{index}" + (f".{position}" if call.one_of else "")
            resilient = (
                ResilientCall(env, label, call, station, streams) if call.resilient else None
            )
            self.choices.append((station, resilient))
            total += share
            cumulative.append(total)
        self.cumulative = cumulative
        self.pick: Iterator[float] | None = (
            uniforms(streams(f"one_of:{caller}#{index}")) if len(self.choices) > 1 else None
        )

    def visit(self, request: Request) -> Visit:
        if self.classes is not None and request.class_index not in self.classes:
            return answered(OK)  # not a call this request's class makes
        if self.pick is None:
            station, caller = self.choices[0]
        else:
            u = next(self.pick) * self.cumulative[-1]
            position = 0
            while position < len(self.cumulative) - 1 and u >= self.cumulative[position]:
                position += 1
            station, caller = self.choices[position]
        return station.visit(request) if caller is None else caller.call(request)
