"""What a load test measured: the figures of one time window, and the results a reader gives.

A reader (:mod:`~scaleplan.verify.locust_results`, :mod:`~scaleplan.verify.k6_results`) turns a
load tool's output into :class:`Results`: the test's start, how many seconds of data it holds,
the request names it saw, and :meth:`Results.window`, the measured figures between two offsets
from the start, for all requests or one request name. Each reader says in ``notes`` how exact
its figures are (e.g. Locust's percentiles come from its rolling window).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

#: The request name of all requests together (Locust's "Aggregated" row).
ALL = "Aggregated"


@dataclass(frozen=True)
class Figures:
    """The figures measured in one window (NaN: not measured there)."""

    start_s: float  # the span the figures really cover, in seconds from the test's start
    end_s: float
    requests: int
    failures: int
    throughput_per_s: float
    mean_ms: float
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    p99_ms: float = math.nan

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else math.nan

    def value(self, figure: str) -> float:
        """The figure named as in the plan (:data:`scaleplan.loadtest.FIGURES`)."""
        return float(getattr(self, figure))

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "requests": self.requests,
            "failures": self.failures,
            "throughput_per_s": self.throughput_per_s,
            "mean_ms": self.mean_ms,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "error_rate": self.error_rate,
        }


@dataclass(frozen=True)
class Results(ABC):
    """A load test's results, read from its files."""

    source: str  # the file read, as named in messages
    tool: str  # "locust" or "k6"
    started_at: float  # the test's start, Unix seconds
    span_s: float  # seconds of data from the start on
    names: tuple[str, ...]  # the request names seen (without ALL)
    notes: tuple[str, ...] = field(default=())

    @abstractmethod
    def window(self, start_s: float, end_s: float, name: str = ALL) -> Figures | None:
        """The figures between ``start_s`` and ``end_s`` seconds from the start; ``None``
        when the results do not cover that window."""
