"""The calibrated architecture spec as YAML, with a comment beside each number saying where
it came from (how many spans or lines, which fit and how good, what was observed).

The YAML is written by hand (scaleplan has no round-tripping YAML library): every value is
a number, a name scaleplan's pattern allows, or a JSON-quoted string (valid YAML), and every
comment is one line with no line breaks. An empirical distribution's values go to a CSV file
beside the spec (``<stem>.samples/<service>.csv``), which the spec names relatively.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from scaleplan.calibrate.derive import ClassFigure, Derived, ServiceFigures, model_name
from scaleplan.calibrate.fit import FitResult, _p, _round
from scaleplan.calibrate.model import Telemetry

#: Requests the written workload simulates: the observed count, within these bounds (enough
#: for percentiles, few enough for a quick run).
MIN_REQUESTS, MAX_REQUESTS = 5_000, 50_000
#: A pool no request waits for: for times that already include the server's queueing.
UNBOUNDED_CONCURRENCY = 1_000
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def scalar(value: object) -> str:
    """One YAML scalar: numbers as written, safe names plain, anything else JSON-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(_round(value, 6)) if math.isfinite(value) else json.dumps(str(value))
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)


def flow(mapping: Mapping[str, object]) -> str:
    return "{" + ", ".join(f"{key}: {scalar(value)}" for key, value in mapping.items()) + "}"


def comment(text: str) -> str:
    return "  # " + " ".join(text.split())


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"


@dataclass
class SpecText:
    """The YAML text and the sample files it names (path relative to the spec → values)."""

    text: str
    samples: dict[str, np.ndarray] = field(default_factory=dict)


def call_entries(per_visit: float) -> list[float]:
    """The probabilities of the call entries that make ``per_visit`` calls on average: whole
    calls as entries of probability 1, the rest as one entry of that probability.

    >>> call_entries(2.5)
    [1.0, 1.0, 0.5]
    >>> call_entries(0.25)
    [0.25]
    """
    whole = math.floor(per_visit + 1e-9)
    rest = per_visit - whole
    entries = [1.0] * whole
    if rest >= 0.0005:
        entries.append(round(rest, 4))
    return entries


def render(
    derived: Derived,
    fits: Mapping[str, FitResult],
    telemetry: Telemetry,
    *,
    name: str,
    stem: str,
    concurrency: Mapping[str, int],
) -> SpecText:
    """The spec's YAML for ``derived`` and its fitted own times."""
    out: list[str] = []
    samples: dict[str, np.ndarray] = {}
    files = ", ".join(sorted({f"{path} ({kind})" for path, kind in telemetry.formats.items()}))
    out.append(f"# Calibrated by `scaleplan calibrate` from {files}.")
    read = ", ".join(f"{_n(count)} {what}" for what, count in sorted(telemetry.read.items()))
    out.append(f"# Read: {read}; used {derived.requests:,} requests.")
    if telemetry.skipped:
        out.append("# Skipped (each counted, none silently):")
        out.extend(f"#   {' '.join(line.split())}" for line in telemetry.skipped_lines())
    else:
        out.append("# Skipped: nothing.")
    for note in derived.notes:
        out.append(f"# Note: {note}.")
    out.append(f"name: {scalar(name)}")
    out.append(
        "description: "
        + scalar(f"Calibrated from {derived.source} ({derived.requests:,} requests).")
    )
    out.append("workload:")
    if derived.profile is not None:
        out.append("  arrival: diurnal" + comment("the data spans hours: its hourly profile"))
    else:
        out.append("  arrival: poisson")
    out.append(f"  rate_per_s: {scalar(_round(derived.rate_per_s))}" + comment(derived.rate_basis))
    requests = min(max(derived.requests, MIN_REQUESTS), MAX_REQUESTS)
    out.append(
        f"  requests: {requests}"
        + comment(
            f"{derived.requests:,} observed, kept within {MIN_REQUESTS:,}–{MAX_REQUESTS:,} "
            "for a run"
        )
    )
    if derived.profile is not None and derived.period_s is not None:
        out.append("  diurnal:")
        hours = len(derived.profile)
        what = "hours of the day (UTC)" if derived.period_s == 86_400 else "observed hours in turn"
        out.append(
            f"    profile: [{', '.join(scalar(v) for v in derived.profile)}]"
            + comment(f"relative arrivals per second in {hours} {what}")
        )
        out.append(f"    period_s: {scalar(float(derived.period_s))}")
    total = sum(c.count for c in derived.classes)
    out.append("  classes:")
    for cls in _at_most(derived.classes, derived.entry):
        entry: dict[str, object] = {"name": cls.name, "weight": cls.count}
        if cls.entry != derived.entry:
            entry["entry"] = cls.entry
        kinds = {"traces": "root span", "access-log": "route", "prometheus": "route"}
        out.append(
            f"    - {flow(entry)}"
            + comment(
                f"{kinds[derived.source]} {cls.label!r} at {cls.entry}: {cls.count:,} "
                f"({cls.count / total:.1%})"
            )
        )
    out.append(f"entry: {scalar(derived.entry)}")
    out.append("components:")
    for service, figures in derived.services.items():
        fit = fits[service]
        out.extend(_component(figures, fit, concurrency, stem, samples, source=derived.source))
    return SpecText("\n".join(out) + "\n", samples)


def _at_most(classes: list[ClassFigure], entry: str) -> list[ClassFigure]:
    """The classes, the rarest merged into one ``other`` class at the entry when there are
    more than a workload may have."""
    from scaleplan.spec.architecture import MAX_CLASSES

    if len(classes) <= MAX_CLASSES:
        return classes
    kept = sorted(classes, key=lambda c: -c.count)[: MAX_CLASSES - 1]
    rest = sorted(classes, key=lambda c: -c.count)[MAX_CLASSES - 1 :]
    names = {c.name for c in kept}
    other = model_name("other", names, prefix="c")
    label = f"{len(rest):,} rarer classes merged"
    return [*kept, ClassFigure(other, label, entry, sum(c.count for c in rest))]


def _component(
    figures: ServiceFigures,
    fit: FitResult,
    concurrency: Mapping[str, int],
    stem: str,
    samples: dict[str, np.ndarray],
    *,
    source: str,
) -> list[str]:
    ops = ", ".join(f"{op!r} ({count:,})" for op, count in figures.operations.most_common(3))
    more = len(figures.operations) - 3
    label = f" (as {figures.label!r})" if figures.label != figures.name else ""
    lines = [
        f"  {figures.name}:"
        + comment(
            f"{figures.visits:,} visits{label}; operations {ops}"
            + (f" and {more} more" if more > 0 else "")
        ),
        "    kind: service",
    ]
    given = concurrency.get(figures.name, concurrency.get(figures.label))
    if given is not None:
        lines.append(f"    concurrency: {given}" + comment(_observed(figures, "given; observed")))
    elif figures.concurrency_max is not None:
        lines.append(
            f"    concurrency: {max(1, figures.concurrency_max)}"
            + comment(
                _observed(figures, "observed")
                + "; a lower bound for the real pool: set the real size (--concurrency)"
            )
        )
    else:
        lines.append(
            f"    concurrency: {UNBOUNDED_CONCURRENCY}"
            + comment(
                _observed(figures, "unknown; observed")
                + "; the times already include queueing, so no pool is modelled: set the "
                "real size (--concurrency) to predict other loads"
            )
        )
    lines.append(f"    service_time: {flow(_distribution(figures, fit, stem, samples))}")
    lines.append("    " + comment(_fit_comment(figures, fit)).strip())
    if figures.error_probability > 0:
        lines.append(
            f"    error_probability: {scalar(_round(figures.error_probability))}"
            + comment(f"{figures.errors:,} of {figures.visits:,} visits failed themselves")
        )
    if figures.calls:
        if figures.parallel:
            lines.append(
                "    parallel: true"
                + comment(
                    f"callees overlapped in {figures.parallel_visits:,} of "
                    f"{figures.multi_call_visits:,} visits with two or more calls"
                )
            )
        how = (
            f"in order (callees overlapped in {figures.parallel_visits:,} of "
            f"{figures.multi_call_visits:,} visits with two or more calls)"
            if figures.multi_call_visits and not figures.parallel
            else ""
        )
        lines.append("    calls:" + (comment(how) if how else ""))
        for call in figures.calls:
            for index, probability in enumerate(call_entries(call.per_visit)):
                call_entry: dict[str, object] = {"to": call.to}
                if probability < 1:
                    call_entry["probability"] = probability
                note = (
                    f"{call.per_visit:.4g} calls per visit ({call.calls:,} calls)"
                    if index == 0
                    else "and again"
                )
                lines.append(f"      - {flow(call_entry)}" + comment(note))
    return lines


def _observed(figures: ServiceFigures, prefix: str) -> str:
    mean = figures.concurrency_mean
    if figures.concurrency_max is None:
        return f"{prefix} {mean:.2g} in service on average (Little's law)"
    return f"{prefix} at most {figures.concurrency_max} visits at once, {mean:.2g} on average"


def _distribution(
    figures: ServiceFigures, fit: FitResult, stem: str, samples: dict[str, np.ndarray]
) -> dict[str, object]:
    if fit.use_empirical and figures.own_ms is not None:
        path = f"{stem}.samples/{figures.name}.csv"
        samples[path] = np.maximum(figures.own_ms, 0.001)
        return {"dist": "empirical", "file": path}
    return fit.best.distribution()


def _fit_comment(figures: ServiceFigures, fit: FitResult) -> str:
    what = {
        "own time": "own time (span minus its callees' union"
        + (
            f" and a mean {figures.wait_ms:.3g} ms wait for a worker)"
            if math.isfinite(figures.wait_ms)
            else ")"
        ),
        "request time": "request time",
        "latency histogram": "latency histogram",
    }[figures.time_kind]
    if fit.best.family == "constant":
        return f"{what} of {fit.n:,} visit(s), all {fit.mean_ms:.4g} ms: a constant"
    other = next(f for f in fit.fits if f is not fit.best)
    sample = (
        f"mean {fit.mean_ms:.4g} ms, cv {fit.cv:.3g}, p50 {fit.p50_ms:.4g}, p95 "
        f"{fit.p95_ms:.4g}, p99 {fit.p99_ms:.4g} ms"
    )
    test = "chi-square" if fit.binned else "KS"
    if fit.use_empirical:
        verdict = (
            f"neither family passes {test} at 5% ({fit.best.describe()}; {other.describe()}): "
            f"the observed values are resampled"
        )
    elif fit.accepted:
        verdict = f"{fit.best.describe()} (beside {other.describe()})"
    else:
        verdict = (
            f"the better fit, though it fails at 5%: {fit.best.describe()} (beside "
            f"{other.describe()}); a histogram keeps no values to resample"
        )
    if fit.binned:
        verdict = verdict.replace(" p=", f" {test} p=")
    clamped = f"; {fit.clamped:,} values under 1 µs raised to it" if fit.clamped else ""
    counted = "requests" if fit.binned else "visits"
    return f"{what} of {fit.n:,} {counted}: {verdict}; sample {sample}{clamped}"


__all__ = ["SpecText", "_p", "call_entries", "render", "scalar"]
