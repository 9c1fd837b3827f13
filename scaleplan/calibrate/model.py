"""The one internal model every telemetry reader produces: spans, request records and
histograms, plus the ledger of what was read and what was skipped (nothing is dropped without
a count and a reason).

The readers (:mod:`~scaleplan.calibrate.otlp`, ``zipkin``, ``prometheus``, ``access_log``)
only parse; deriving a model from these records is :mod:`scaleplan.calibrate.derive`'s job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scaleplan.errors import Problem, SpecError


@dataclass(frozen=True)
class Span:
    """One span of a trace, times in nanoseconds since the Unix epoch.

    ``kind`` is OpenTelemetry's span kind in lower case (``server``, ``client``, ``internal``,
    ``producer``, ``consumer``) or ``unspecified``; ``where`` is the file and line it came
    from, for error messages.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    start_ns: int
    end_ns: int
    kind: str = "unspecified"
    attributes: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class RequestRecord:
    """One request an access log saw: when it arrived, its class, status and time taken."""

    time_s: float
    service: str
    route: str
    status: int
    duration_ms: float
    where: str = ""


@dataclass(frozen=True)
class Histogram:
    """A latency histogram of one service and route (Prometheus exposition): cumulative bucket
    counts by upper edge in milliseconds (the last edge is +inf), total count and sum."""

    service: str
    route: str
    buckets: tuple[tuple[float, float], ...]
    count: float
    sum_ms: float
    timestamp_s: float | None = None
    where: str = ""

    @property
    def mean_ms(self) -> float:
        return self.sum_ms / self.count if self.count > 0 else float("nan")


@dataclass
class Telemetry:
    """What the readers found in all the files, and what they skipped and why."""

    spans: list[Span] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    histograms: list[Histogram] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # file -> format read as
    read: Counter[str] = field(default_factory=Counter)  # "spans", "lines", "series"
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> records skipped
    # The first place each reason was met, so a skip can be looked at.
    skipped_example: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, where: str, count: int = 1) -> None:
        self.skipped[reason] += count
        self.skipped_example.setdefault(reason, where)

    def extend(self, other: Telemetry) -> None:
        self.spans.extend(other.spans)
        self.requests.extend(other.requests)
        self.histograms.extend(other.histograms)
        self.formats.update(other.formats)
        self.read.update(other.read)
        for reason, count in other.skipped.items():
            self.skip(reason, other.skipped_example.get(reason, ""), count)

    def skipped_lines(self) -> list[str]:
        """One line per reason: count, reason, first place met."""
        return [
            f"{count:,} {reason} (first: {self.skipped_example.get(reason, '?')})"
            for reason, count in sorted(self.skipped.items(), key=lambda item: -item[1])
        ]


def bad_input(file: str, message: str, line: int | None = None, key_path: str = "") -> SpecError:
    """The error a reader raises for a file it cannot use: file, line and what was wrong."""
    return SpecError([Problem(file, key_path, message, line)])
