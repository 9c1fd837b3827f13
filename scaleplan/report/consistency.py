"""Contradictions in a decision record's results, found in its JSON.

:func:`problems` reads ``decision-record.json`` (:meth:`scaleplan.report.record.Evidence.to_dict`)
and names, in words, every statement the record makes that another part of it contradicts:

- an interval that does not contain its estimate, a proportion's interval (error rate,
  availability) outside [0, 1];
- a recommended option that is gated, has a failing verdict, or is said to pass every hard gate
  while one is inconclusive;
- a "not evaluated" verdict with a measured value;
- a sustainable limit below 0 or not finite where a runway is given, a chosen option whose limit
  is 0 (it would be praised for carrying nothing);
- an inconclusive verdict promising more extra requests than the stated cap
  (``measurement.settle_cap_requests``);
- a negative cost;
- a spike limit (``spike_limit``) outside its interval, its rate not its factor × the base
  rate, or searched for an option other than the chosen one.

:func:`scaleplan.report.decide.decide` prints them as warnings after writing a record; the tests
assert there are none on every record they make.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

__all__ = ["problems"]

#: Slack for rounding when an estimate sits on its interval's end.
_TOLERANCE = 1e-9
_PROPORTIONS = ("errors", "availability")


def problems(record_json: dict[str, Any]) -> list[str]:
    """Every contradiction in ``record_json`` (see the module), as sentences; [] when none."""
    comparison = record_json.get("comparison") or {}
    found: list[str] = []
    for candidate in comparison.get("candidates") or []:
        found.extend(_candidate_problems(candidate))
    found.extend(_recommendation_problems(comparison))
    found.extend(_spike_problems(record_json.get("spike_limit"), comparison.get("recommended")))
    return found


def _spike_problems(spike: Any, recommended: Any) -> Iterator[str]:
    if not isinstance(spike, dict):
        return
    name = spike.get("candidate", "?")
    if name != recommended:
        yield f"the spike limit is {name}'s, but the chosen option is {recommended}"
    limit, ci = _number(spike.get("limit")), _interval(spike.get("limit_ci95"))
    if limit is not None and ci is not None and not _contains(ci[0], limit, ci[1]):
        yield f"{name}: spike limit {limit:g}× outside its 95% CI {ci[0]:g}–{ci[1]:g}"
    rate, base = _number(spike.get("limit_per_s")), _number(spike.get("base_rate_per_s"))
    if limit is None or rate is None or base is None:
        return
    if not _contains(limit * base, rate, limit * base):
        yield (
            f"{name}: spike limit {rate:g} requests/s is not {limit:g}× the base rate "
            f"of {base:g} requests/s"
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _contains(low: float, value: float, high: float) -> bool:
    slack = _TOLERANCE * max(1.0, abs(value))
    return low - slack <= value <= high + slack


def _interval(pair: Any) -> tuple[float, float] | None:
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return None
    low, high = _number(pair[0]), _number(pair[1])
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    return low, high


def _candidate_problems(candidate: dict[str, Any]) -> Iterator[str]:
    name = candidate.get("name", "?")
    cap = _number((candidate.get("measurement") or {}).get("settle_cap_requests"))
    for verdict in candidate.get("verdicts") or []:
        yield from _verdict_problems(name, verdict, cap)
    metrics, intervals = candidate.get("metrics") or {}, candidate.get("metrics_ci95") or {}
    for metric, pair in intervals.items():
        value, interval = _number(metrics.get(metric)), _interval(pair)
        if value is None or interval is None:
            continue
        if not _contains(interval[0], value, interval[1]):
            yield f"{name}: {metric} {value:g} lies outside its 95% CI {interval}"
        if metric == "error_rate" and (interval[0] < 0 or interval[1] > 1):
            yield f"{name}: the error rate's 95% CI {interval} reaches outside [0, 1]"
    yield from _limit_problems(name, candidate)
    cost = candidate.get("cost") or {}
    for key in ("per_month_today", "per_month_peak", "per_million_requests"):
        value = _number(cost.get(key))
        if value is not None and value < 0:
            yield f"{name}: cost {key} is negative ({value:g})"
    for part in cost.get("components") or []:
        value = _number(part.get("per_month"))
        if value is not None and value < 0:
            yield f"{name}: {part.get('component', '?')} costs a negative {value:g} a month"


def _verdict_problems(name: str, verdict: dict[str, Any], cap: float | None) -> Iterator[str]:
    nfr, status = verdict.get("nfr", "?"), verdict.get("status")
    measured = _number(verdict.get("measured"))
    interval = _interval(verdict.get("ci95"))
    where = f"{name}: {nfr}"
    if status == "not evaluated" and measured is not None:
        yield f"{where} is 'not evaluated' yet shows a measured {measured:g}"
    inside = interval is None or measured is None or _contains(interval[0], measured, interval[1])
    if not inside:
        yield f"{where}: the measured {measured:g} lies outside its 95% CI {interval}"
    share = verdict.get("kind") in _PROPORTIONS and verdict.get("unit") == "fraction"
    if share and interval is not None and (interval[0] < 0 or interval[1] > 1):
        yield f"{where}: a proportion's 95% CI {interval} reaches outside [0, 1]"
    extra = _number(verdict.get("extra_requests"))
    if status == "inconclusive" and extra is not None and cap is not None and extra > cap:
        yield (
            f"{where}: {extra:,.0f} more requests would settle it, beyond the stated cap of "
            f"{cap:,.0f}: it cannot be settled within the budget"
        )


def _limit_problems(name: str, candidate: dict[str, Any]) -> Iterator[str]:
    pull = candidate.get("pull") or {}
    runway = candidate.get("runway")
    limit = _number(pull.get("limit_per_s")) if pull else None
    if pull and limit is not None and limit < 0:
        yield f"{name}: its sustainable limit is negative ({limit:g})"
    if runway is not None:
        given = _number(runway.get("limit_per_s"))
        if given is None or not math.isfinite(given) or given < 0:
            yield f"{name}: a runway is given from a limit that is not a finite figure ≥ 0"


def _recommendation_problems(comparison: dict[str, Any]) -> Iterator[str]:
    chosen = comparison.get("recommended")
    if chosen is None:
        return
    candidate = next(
        (c for c in comparison.get("candidates") or [] if c.get("name") == chosen), None
    )
    if candidate is None:
        yield f"the recommended option {chosen} is not among the candidates"
        return
    verdicts = candidate.get("verdicts") or []
    if candidate.get("gated"):
        yield f"the recommended option {chosen} is excluded by the gates"
    for verdict in verdicts:
        if verdict.get("status") == "fail":
            yield f"the recommended option {chosen} fails {verdict.get('nfr', '?')}"
    if any(v.get("status") == "inconclusive" for v in verdicts):
        for reason in comparison.get("reasons") or []:
            if "passes every hard NFR gate" in reason and "it could settle" not in reason:
                yield (
                    f"the reasons say {chosen} passes every hard NFR gate, yet a gate of it "
                    "is inconclusive"
                )
    limit = _number((candidate.get("pull") or {}).get("limit_per_s"))
    if candidate.get("pull") and (limit is None or limit <= 0):
        yield f"the recommended option {chosen} carries no load within its SLOs (limit 0)"
