"""Non-functional requirements: quantified objectives that a simulation checks, and a checklist.

This module owns the *description* of NFRs (the keys under ``nfrs:`` in a scenario file, and the
``--slo`` strings of the CLI) and their validation. It does not evaluate them: that is
:func:`scaleplan.experiments.check`, which turns a simulation into one verdict per NFR.

Quantified NFRs:

- ``slos``: service-level objectives written as short strings (or the equivalent mappings),
  checked at peak load and used by the tractor pull:

  ======================  ===============================================================
  ``p99<=300ms``          a latency percentile (``p50 p90 p95 p99 p999``) or ``mean``,
                          in ``ms`` or ``s``
  ``checkout.p99<=800ms`` the same for one request class
  ``errors<=0.1%``        rejected + failed requests as a share of arrivals (``%`` or a
                          fraction such as ``0.001``)
  ``throughput>=99%``     completed requests per second as a share of the offered load (the
                          system keeps up)
  ``throughput>=500/s``   an absolute floor, per second or ``/min``
  ======================  ===============================================================

- ``availability`` (≥ a percentage of requests served; *not evaluated* unless failures are
  simulated),
- ``headroom`` (spare capacity at peak, ≥ a percentage),
- ``growth`` (x% per month over a horizon: the runway must reach the horizon),
- ``cost`` (≤ a monthly budget),
- ``retention`` (write rate × record size × retention → storage, ≤ a limit).

Qualitative NFRs (compliance, privacy, integrability, supportability, testability, stability
…) are a checklist with owner, status and evidence, carried into reports unchanged.
"""

from __future__ import annotations

import math
import re
from contextvars import ContextVar
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from scaleplan.spec.base import (
    MAX_AMOUNT,
    MAX_COUNT,
    MAX_GROWTH_PERCENT,
    MAX_HORIZON_MONTHS,
    MAX_SECONDS,
    Days,
    Factor,
    PositiveAmount,
    StrictModel,
    spelled_duration,
)

__all__ = [
    "AvailabilityNFR",
    "BacklogNFR",
    "CostNFR",
    "GrowthNFR",
    "HeadroomNFR",
    "NFRSpec",
    "QualitativeNFR",
    "RetentionNFR",
    "SLOSpec",
    "parse_slo",
]

LatencyMetric = Literal["mean", "p50", "p90", "p95", "p99", "p999"]
SLOMetric = Literal["mean", "p50", "p90", "p95", "p99", "p999", "errors", "throughput"]
LATENCY_METRICS: tuple[str, ...] = ("mean", "p50", "p90", "p95", "p99", "p999")


class _Strict(StrictModel):
    # SLOs are also given by their field names where an alias exists.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- SLO strings

_SLO = re.compile(
    r"""^\s*
    (?:(?P<cls>[A-Za-z][A-Za-z0-9_-]*)\.)?      # optional request class
    (?P<metric>[A-Za-z][A-Za-z0-9]*)\s*
    (?P<op><=|>=|<|>|=<|=>)\s*
    (?P<number>\d+(?:\.\d*)?|\.\d+)\s*
    (?P<unit>ms|s|%|/s|/min|per_s|per_min)?\s*$""",
    re.VERBOSE,
)
_SLO_HELP = (
    "write it as 'p99<=300ms', 'checkout.p99<=0.8s', 'mean<=50ms', 'errors<=0.1%', "
    "'throughput>=99%' or 'throughput>=500/s'"
)


def parse_slo(text: str) -> SLOSpec:
    """Parse one SLO string such as ``"p99<=300ms"`` or ``"errors<=0.1%"``.

    Latency bounds are kept in milliseconds, error rates and relative throughputs as
    fractions, absolute throughputs per second. Raises :class:`ValueError` with the accepted
    forms when the text does not parse (the spec loaders turn it into a
    :class:`~scaleplan.errors.SpecError` with the key path).

    Examples
    --------
    >>> slo = parse_slo("p99<=300ms")
    >>> slo.metric, slo.op, slo.bound, slo.unit
    ('p99', '<=', 300.0, 'ms')
    >>> parse_slo("errors<=0.1%").bound
    0.001
    >>> parse_slo("throughput>=6000/min").bound
    100.0
    >>> parse_slo("p99 under 3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: not an SLO (got 'p99 under 3'): write it as 'p99<=300ms', ...
    """
    if not isinstance(text, str):
        raise ValueError(f"an SLO is a string such as 'p99<=300ms' (got {text!r})")
    match = _SLO.match(text)
    if not match:
        raise ValueError(f"not an SLO (got {text!r}): {_SLO_HELP}")
    metric = match["metric"].lower()
    op = {"=<": "<=", "<": "<=", "=>": ">=", ">": ">="}.get(match["op"], match["op"])
    number = float(match["number"])
    unit = match["unit"]
    cls = match["cls"]
    if metric in LATENCY_METRICS:
        if op != "<=":
            raise ValueError(f"a latency objective is an upper bound: use '<=' (got {text!r})")
        if unit not in ("ms", "s"):
            raise ValueError(f"a latency bound needs a unit, 'ms' or 's' (got {text!r})")
        bound, kind = (number * 1000.0 if unit == "s" else number), "ms"
    elif metric in ("errors", "error", "error_rate"):
        metric = "errors"
        if op != "<=":
            raise ValueError(f"an error objective is an upper bound: use '<=' (got {text!r})")
        if unit not in (None, "%"):
            raise ValueError(f"an error rate is a percentage or a fraction (got {text!r})")
        bound, kind = (number / 100.0 if unit == "%" else number), "fraction"
        if bound > 1:
            raise ValueError(f"an error rate cannot exceed 100% (got {text!r})")
    elif metric == "throughput":
        if op != ">=":
            raise ValueError(f"a throughput objective is a lower bound: use '>=' (got {text!r})")
        if unit == "%":
            bound, kind = number / 100.0, "of_offered"
            if bound > 1:
                raise ValueError(f"throughput cannot exceed 100% of the offered load ({text!r})")
        elif unit in ("/s", "per_s"):
            bound, kind = number, "per_s"
        elif unit in ("/min", "per_min"):
            bound, kind = number / 60.0, "per_s"
        else:
            raise ValueError(f"a throughput needs '%', '/s' or '/min' (got {text!r})")
    else:
        raise ValueError(
            f"unknown metric {match['metric']!r} in {text!r}: expected one of "
            f"{', '.join(LATENCY_METRICS)}, errors, throughput"
        )
    if cls is not None and metric not in LATENCY_METRICS:
        raise ValueError(f"only latency objectives are per request class (got {text!r})")
    if not bound > 0 and metric != "errors":
        raise ValueError(f"the bound must be greater than 0 (got {text!r})")
    return SLOSpec(
        metric=metric,
        op=op,
        bound=bound,
        unit=kind,
        request_class=cls,
        text=text.strip(),
    )


# Set while an SLO's own text is being parsed to check it (the parse builds an SLOSpec too).
_CHECKING_TEXT: ContextVar[bool] = ContextVar("_CHECKING_TEXT", default=False)


class SLOSpec(_Strict):
    """One service-level objective: ``metric op bound``.

    ``bound`` is in milliseconds for latency, a fraction for ``errors`` and for ``throughput``
    relative to the offered load (``unit: of_offered``), and per second for an absolute
    throughput. In YAML an SLO is normally written as a string (see :func:`parse_slo`).
    """

    metric: SLOMetric
    op: Literal["<=", ">="]
    bound: float = Field(ge=0, le=MAX_AMOUNT)
    unit: Literal["ms", "fraction", "of_offered", "per_s"]
    request_class: str | None = Field(default=None, alias="class")
    text: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_slo(value).model_dump(by_alias=True)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SLOSpec:
        expected = {
            "ms": ("<=", LATENCY_METRICS),
            "fraction": ("<=", ("errors",)),
            "of_offered": (">=", ("throughput",)),
            "per_s": (">=", ("throughput",)),
        }[self.unit]
        if self.op != expected[0] or self.metric not in expected[1]:
            raise ValueError(
                f"{self.metric} {self.op} … in unit {self.unit!r} is not an objective; {_SLO_HELP}"
            )
        if not self.text:
            object.__setattr__(self, "text", self.describe())
        elif not _CHECKING_TEXT.get():
            self._check_text()
        return self

    def _check_text(self) -> None:
        """A ``text`` given beside the fields must be this objective in its short form: the
        record's figures and every verdict read the objective back from it, so a free text
        ("fast enough") accepted here would fail later, in one command and not another."""
        token = _CHECKING_TEXT.set(True)  # parse_slo builds an SLOSpec: do not check it again
        try:
            written = parse_slo(self.text)
        except ValueError as error:
            raise ValueError(
                f"text must be the objective in its short form, or left out (got "
                f"{self.text!r}: {error})"
            ) from None
        finally:
            _CHECKING_TEXT.reset(token)
        same = (written.metric, written.op, written.unit, written.request_class) == (
            self.metric,
            self.op,
            self.unit,
            self.request_class,
        ) and math.isclose(written.bound, self.bound, rel_tol=1e-9, abs_tol=1e-12)
        if not same:
            raise ValueError(
                f"text {self.text!r} is {written.describe()}, but the objective's fields say "
                f"{self.describe()}; leave text out or make them agree"
            )

    @property
    def is_latency(self) -> bool:
        return self.metric in LATENCY_METRICS

    def describe(self) -> str:
        """The objective in the short string form, e.g. ``p99<=300ms``."""
        prefix = f"{self.request_class}." if self.request_class else ""
        if self.unit == "ms":
            value = f"{self.bound:g}ms"
        elif self.unit in ("fraction", "of_offered"):
            value = f"{100 * self.bound:g}%"
        else:
            value = f"{self.bound:g}/s"
        return f"{prefix}{self.metric}{self.op}{value}"

    def met_by(self, value: float) -> bool:
        """Whether a measured value (in the bound's unit) satisfies the objective."""
        if value != value:  # NaN: nothing measured, so nothing met
            return False
        return value <= self.bound if self.op == "<=" else value >= self.bound


# --------------------------------------------------------------------------- other NFRs


class AvailabilityNFR(_Strict):
    """Share of time (or of requests) the service answers, e.g. ``min_percent: 99.9``."""

    min_percent: float = Field(gt=0, le=100)


class HeadroomNFR(_Strict):
    """Spare capacity at peak: ``1 − peak load / sustainable limit`` ≥ ``min_percent``."""

    min_percent: float = Field(ge=0, lt=100)


class GrowthNFR(_Strict):
    """Absorb ``percent_per_month`` growth for ``horizon_months`` without breaking an SLO."""

    percent_per_month: float | None = Field(
        default=None,
        gt=-100,
        le=MAX_GROWTH_PERCENT,
        description="defaults to the scenario's workload growth",
    )
    horizon_months: float = Field(gt=0, le=MAX_HORIZON_MONTHS)


class BacklogNFR(_Strict):
    """What a backlog may do through the scenario's load profile (judged only there): drain
    within ``drain_within`` after the peak phase ends, and never hold more than ``max_queue``
    requests waiting (a queue's consumer lag) — at ``component``, or at every component.

    Examples
    --------
    >>> BacklogNFR.model_validate({"drain_within": "10min", "max_queue": 5000}).drain_within_s
    600.0
    """

    drain_within_s: float | None = Field(
        default=None,
        gt=0,
        le=MAX_SECONDS,
        description="seconds after the peak phase by which every backlog is back under its "
        "threshold (or 'drain_within: 10min')",
    )
    max_queue: float | None = Field(
        default=None, gt=0, le=MAX_COUNT, description="the most requests waiting at any time"
    )
    component: str | None = Field(
        default=None, description="the component it applies to (default: every component)"
    )

    @model_validator(mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """``drain_within: 10min`` is the same as ``drain_within_s: 600``."""
        return spelled_duration(value, "drain_within", "drain_within_s", "10min")

    @model_validator(mode="after")
    def _something(self) -> BacklogNFR:
        if self.drain_within_s is None and self.max_queue is None:
            raise ValueError("give drain_within (or drain_within_s), max_queue or both")
        return self

    @property
    def where(self) -> str:
        return f" at {self.component}" if self.component else ""

    @property
    def drain_text(self) -> str:
        """``backlog drains within 600 s after the peak phase`` (and where; "" without one)."""
        if self.drain_within_s is None:
            return ""
        return f"backlog drains within {self.drain_within_s:g} s after the peak phase{self.where}"

    @property
    def queue_text(self) -> str:
        """``queue<=5000 requests through the load profile`` (and where; "" without one)."""
        if self.max_queue is None:
            return ""
        return f"queue<={self.max_queue:g} requests{self.where} through the load profile"


class CostNFR(_Strict):
    """A monthly budget for running the system at peak load."""

    max_per_month: PositiveAmount


class RetentionNFR(_Strict):
    """Data kept for ``days``: storage = write rate × record size × retention.

    ``writes_per_request`` records are written per arriving request (0.15 when 15% of
    requests write one record); the storage is charged to ``component`` in the cost model.
    """

    writes_per_request: Factor
    record_kb: PositiveAmount
    days: Days
    max_storage_gb: PositiveAmount | None = None
    component: str = "db"

    def storage_gb(self, rate_per_s: float) -> float:
        """Gigabytes held in steady state when ``rate_per_s`` requests arrive."""
        seconds = self.days * 86_400.0
        return rate_per_s * self.writes_per_request * self.record_kb * seconds / 1e6


QualitativeArea = Literal[
    "compliance",
    "privacy",
    "integrability",
    "supportability",
    "testability",
    "stability",
    "disaster_recovery",
    "security",
    "data_retention",
    "other",
]


class QualitativeNFR(_Strict):
    """One line of the qualitative checklist, carried into the decision record."""

    area: QualitativeArea
    requirement: str = Field(min_length=1)
    owner: str = ""
    status: Literal["met", "partial", "open", "at_risk", "not_applicable"] = "open"
    evidence: str = ""


class NFRSpec(_Strict):
    """All non-functional requirements of a product (the ``nfrs:`` key of a scenario).

    Examples
    --------
    >>> nfrs = NFRSpec.model_validate({"slos": ["p99<=300ms", "errors<=0.1%"]})
    >>> [slo.text for slo in nfrs.slos]
    ['p99<=300ms', 'errors<=0.1%']
    """

    slos: tuple[SLOSpec, ...] = ()
    availability: AvailabilityNFR | None = None
    headroom: HeadroomNFR | None = None
    growth: GrowthNFR | None = None
    cost: CostNFR | None = None
    retention: RetentionNFR | None = None
    #: Judged through the scenario's load profile only (a scenario needs one to give it).
    backlog: BacklogNFR | None = None
    qualitative: tuple[QualitativeNFR, ...] = ()

    @classmethod
    def from_slos(cls, slos: list[str] | tuple[str, ...]) -> NFRSpec:
        """NFRs made of SLO strings only (what ``scaleplan pull --slo`` builds)."""
        return cls(slos=tuple(parse_slo(text) for text in slos))
