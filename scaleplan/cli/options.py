"""Bounded numbers on the command line: the ranges of :mod:`scaleplan.spec.base`, for options.

An option is parsed by one of the functions below (``typer.Option(parser=...)``), so that
``--boot-s inf``, ``--rate-per-s nan``, ``--drain-s 1e400`` or ``--seed -1`` are refused by the
option parser itself: exit 2 and ``Invalid value for '--boot-s': …`` naming the option, the
range and what was found, before any work starts. Typer's own ``min=``/``max=`` let NaN
through (every comparison with NaN is false), hence parsers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from scaleplan.spec import SLOSpec

from scaleplan.spec.base import (
    MAX_AMOUNT,
    MAX_COUNT,
    MAX_FACTOR,
    MAX_HOURS,
    MAX_RATE_PER_S,
    MAX_SECONDS,
    MAX_SEED,
    MAX_SERVERS,
    parse_duration_s,
)

__all__ = [
    "MAX_RAMP_STEPS",
    "MAX_REPLICATIONS",
    "amount",
    "bracket",
    "count",
    "factor",
    "hours",
    "integer",
    "number",
    "probability",
    "rate",
    "replications",
    "seconds",
    "seed",
    "servers",
    "stopping",
    "workers",
]

#: Replications, searches or probes of one command at most (the work estimate refuses most
#: runs long before; this bounds the bookkeeping of one that is short per replication).
MAX_REPLICATIONS = 100_000
#: Load steps of a ramp at most.
MAX_RAMP_STEPS = 10_000


def _shown(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def number(low: float, high: float, *, low_open: bool = False) -> Callable[[str | float], float]:
    """A parser of finite floats in ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    bracket = "(" if low_open else "["

    def parse(text: str | float) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"not a number (got {text!r})") from None
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or value > high:
            raise typer.BadParameter(
                f"must be a finite number in {bracket}{_shown(low)}, {_shown(high)}] (got {text!r})"
            )
        return value

    parse.__name__ = "FLOAT"
    return parse


def integer(low: int, high: int) -> Callable[[str | int], int]:
    """A parser of integers in ``[low, high]``; at most 30 digits are read."""

    def parse(text: str | int) -> int:
        raw = str(text).strip()
        if len(raw) > 30:
            raise typer.BadParameter(
                f"must be an integer in [{_shown(low)}, {_shown(high)}] (got {len(raw)} digits)"
            )
        try:
            value = int(raw)
        except ValueError:
            raise typer.BadParameter(f"not an integer (got {text!r})") from None
        if not low <= value <= high:
            raise typer.BadParameter(
                f"must be an integer in [{_shown(low)}, {_shown(high)}] (got {text!r})"
            )
        return value

    parse.__name__ = "INTEGER"
    return parse


#: Seconds of a duration or an instant (0 allowed).
seconds = number(0.0, MAX_SECONDS)
#: Hours of a simulated horizon.
hours = number(0.0, MAX_HOURS, low_open=True)
#: An arrival rate per second.
rate = number(0.0, MAX_RATE_PER_S, low_open=True)
#: A probability or a share.
probability = number(0.0, 1.0)
#: A positive multiplier.
factor = number(0.0, MAX_FACTOR, low_open=True)
#: Money per unit.
amount = number(0.0, MAX_AMOUNT)
#: A random seed.
seed = integer(0, MAX_SEED)
#: A count of requests, keys or steps.
count = integer(1, MAX_COUNT)
#: Replications, searches, probes.
replications = integer(1, MAX_REPLICATIONS)
#: Replicas at once.
servers = integer(1, MAX_SERVERS)
#: Local processes.
workers = integer(1, 1024)


def duration(text: str) -> float:
    """Seconds of a duration given with its unit (``15min``, ``90s``, ``1h``) or in seconds."""
    try:
        value = float(text)
    except ValueError:
        try:
            value = parse_duration_s(text.strip())
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    if not 0 < value <= MAX_SECONDS:
        raise typer.BadParameter(
            f"must be a duration in (0 s, {_shown(MAX_SECONDS)} s] (got {text!r})"
        )
    return value


def stopping(text: str) -> str:
    """A comparison's stopping rule: ``precision`` or ``fixed``."""
    value = str(text).strip()
    if value not in ("precision", "fixed"):
        raise typer.BadParameter(f"must be 'precision' or 'fixed' (got {text!r})")
    return value


def bracket(text: str) -> str:
    """Where a pull's first search starts: ``analytic`` or ``bound``."""
    value = str(text).strip()
    if value not in ("analytic", "bound"):
        raise typer.BadParameter(f"must be 'analytic' or 'bound' (got {text!r})")
    return value


def slos(texts: list[str]) -> list[SLOSpec]:
    """``--slo`` texts as objectives; a bad one is a usage error naming the option."""
    from scaleplan.cli.console import plain
    from scaleplan.spec import parse_slo

    parsed = []
    for text in texts:
        try:
            parsed.append(parse_slo(text))
        except ValueError as error:
            raise typer.BadParameter(plain(error), param_hint="'--slo'") from None
    return parsed
