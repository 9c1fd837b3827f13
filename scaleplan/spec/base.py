"""The base of every spec model, defined once: frozen, unknown keys and infinite numbers refused,
and the bounded number types every model (and every CLI option) uses.

Unknown keys are refused because they are usually typos (``replica:`` for ``replicas:``), and a
typo silently ignored is a wrong model; a frozen spec can be shared between runs and processes
without anyone changing it under them. A YAML ``.inf`` or ``.nan`` is never a real duration,
rate or price: let through, it turns into an "unstable" run or a NaN in every figure.

Finite is not enough: ``1e308`` seconds overflows the first product it meets, a negative seed
is refused by numpy deep inside a run, and a 5,000-digit integer cannot even be printed. Each
physical quantity therefore has one annotated type here with its physical range (``Seconds``,
``Rate``, ``Count``, ``Seed`` …): the bounds show in the JSON Schema, pydantic names the key
that breaks them, and the CLI options take the same bounds (:data:`BOUNDS`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class StrictModel(BaseModel):
    """A frozen pydantic model that refuses keys it does not know, and numbers that are not
    finite (``.inf``, ``.nan``) in every float field."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- physical ranges

#: The longest time anything may last or be scheduled at: about 31,700 years. Every real
#: clock, plan and horizon is far below it (a run that long is refused by its work estimate,
#: which names the key and the time it would take), and its product with any bounded rate or
#: count stays finite.
MAX_SECONDS = 1e12
#: The same span in hours and in days, for the keys given in those units.
MAX_HOURS = MAX_SECONDS / 3600
MAX_DAYS = MAX_SECONDS / 86_400
#: The highest arrival or processing rate, per second (a billion requests a second).
MAX_RATE_PER_S = 1e9
#: The largest count of things (requests, keys, messages, queue places, users): within numpy's
#: int64; a count too large to simulate is refused by the work estimate instead.
MAX_COUNT = 10**18
#: The most replicas, nodes, slots or shards one component may have: beyond any real fleet, and
#: every engine structure and closed form is sized by it.
MAX_SERVERS = 100_000
#: Seeds are numpy's: non-negative; 32 bits, as most tools take them.
MAX_SEED = 2**32 - 1
#: The largest money amount, size in GB or record size (KB): a trillion of anything.
MAX_AMOUNT = 1e12
#: The largest relative weight (request classes, balancer targets, criteria, profile slices).
MAX_WEIGHT = 1e9
#: The largest multiplier (slowdowns, peak factors, backoff growth, coefficients of variation).
MAX_FACTOR = 1e6
#: Disasters one DR study may simulate: 10 million took 95 s and 1.8 GB (every disaster's RPO
#: and RTO are kept per strategy); a million gives every percentile to well under 1%.
MAX_DISASTERS = 1_000_000
#: The longest planning horizon, in months (a century).
MAX_HORIZON_MONTHS = 1_200
#: The largest monthly growth in percent (ten-fold a month).
MAX_GROWTH_PERCENT = 1000.0


def _not_a_boolean(value: object) -> object:
    """YAML's ``true`` is no number: pydantic would take it as 1 (``mean_ms: true``)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number (got {str(value).lower()})")
    return value


#: Refuses true/false where a number is meant.
NUMBER = BeforeValidator(_not_a_boolean)

#: A duration or instant in seconds, 0 allowed.
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS), NUMBER]
#: A duration in seconds that must be positive.
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS), NUMBER]
#: A positive duration in milliseconds.
Milliseconds = Annotated[float, Field(gt=0, le=MAX_SECONDS * 1e3), NUMBER]
#: A positive duration in minutes, hours and days.
Minutes = Annotated[float, Field(gt=0, le=MAX_SECONDS / 60), NUMBER]
Hours = Annotated[float, Field(gt=0, le=MAX_HOURS), NUMBER]
Days = Annotated[float, Field(gt=0, le=MAX_DAYS), NUMBER]
#: A positive rate per second.
Rate = Annotated[float, Field(gt=0, le=MAX_RATE_PER_S), NUMBER]
#: A rate per second that may be 0.
NonNegativeRate = Annotated[float, Field(ge=0, le=MAX_RATE_PER_S), NUMBER]
#: A count of at least 1, and one that may be 0.
Count = Annotated[int, Field(ge=1, le=MAX_COUNT), NUMBER]
NonNegativeCount = Annotated[int, Field(ge=0, le=MAX_COUNT), NUMBER]
#: Replicas, slots, nodes or shards of one component.
Servers = Annotated[int, Field(ge=1, le=MAX_SERVERS), NUMBER]
NonNegativeServers = Annotated[int, Field(ge=0, le=MAX_SERVERS), NUMBER]
#: A random seed.
Seed = Annotated[int, Field(ge=0, le=MAX_SEED), NUMBER]
#: Money, gigabytes, kilobytes: non-negative and positive.
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT), NUMBER]
PositiveAmount = Annotated[float, Field(gt=0, le=MAX_AMOUNT), NUMBER]
#: A relative weight, and one that may be 0.
Weight = Annotated[float, Field(gt=0, le=MAX_WEIGHT), NUMBER]
NonNegativeWeight = Annotated[float, Field(ge=0, le=MAX_WEIGHT), NUMBER]
#: A positive multiplier or coefficient of variation, and one that may be 0.
Factor = Annotated[float, Field(gt=0, le=MAX_FACTOR), NUMBER]
NonNegativeFactor = Annotated[float, Field(ge=0, le=MAX_FACTOR), NUMBER]
#: A positive coefficient of variation: beyond 100 nearly all of a lognormal's mass sits at 0.
CV = Annotated[float, Field(gt=0, le=100), NUMBER]
#: Monthly growth in percent: above -100 (nothing left) and at most ten-fold.
GrowthPercent = Annotated[float, Field(gt=-100, le=MAX_GROWTH_PERCENT), NUMBER]


def check_seconds(seconds: float, text: str) -> float:
    """``seconds`` if it is a finite duration within the physical range, else ValueError."""
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        raise ValueError(
            f"a duration must be at most {MAX_SECONDS:g} s, about 31,700 years (got {text!r})"
        )
    return seconds


__all__ = [
    "CV",
    "MAX_AMOUNT",
    "MAX_COUNT",
    "MAX_DAYS",
    "MAX_DISASTERS",
    "MAX_FACTOR",
    "MAX_GROWTH_PERCENT",
    "MAX_HORIZON_MONTHS",
    "MAX_HOURS",
    "MAX_RATE_PER_S",
    "MAX_SECONDS",
    "MAX_SEED",
    "MAX_SERVERS",
    "MAX_WEIGHT",
    "Amount",
    "Count",
    "Days",
    "Factor",
    "GrowthPercent",
    "Hours",
    "Milliseconds",
    "Minutes",
    "NonNegativeCount",
    "NonNegativeFactor",
    "NonNegativeRate",
    "NonNegativeServers",
    "NonNegativeWeight",
    "PositiveAmount",
    "PositiveSeconds",
    "Rate",
    "Seconds",
    "Seed",
    "Servers",
    "StrictModel",
    "Weight",
    "check_seconds",
]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)\s*$")
_DURATION_UNITS = {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}


def parse_duration_s(text: str) -> float:
    """Seconds in a duration such as ``"500ms"``, ``"30s"``, ``"2min"`` or ``"1h"``.

    Examples
    --------
    >>> parse_duration_s("2min")
    120.0
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration such as '30s' or '500ms' (got {text!r})")
    return check_seconds(float(match.group(1)) * _DURATION_UNITS[match.group(2)], text)


def spelled_duration(value: object, spelled: str, field: str, example: str) -> object:
    """A model's raw input with ``spelled: 15min`` turned into ``field: 900.0`` (seconds), for
    a ``mode="before"`` validator; both given, or a spelling that is not a text, is an error.

    >>> spelled_duration({"duration": "2min"}, "duration", "duration_s", "15min")
    {'duration_s': 120.0}
    """
    if not isinstance(value, dict) or spelled not in value:
        return value
    value = dict(value)
    given = value.pop(spelled)
    if field in value:
        raise ValueError(f"give {spelled} or {field}, not both")
    if not isinstance(given, str):
        raise ValueError(f"{spelled} must be a text such as {example!r} (got {given!r})")
    value[field] = parse_duration_s(given)
    return value
