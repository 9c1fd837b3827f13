"""The verdict: each step's measurement against the model's predicted band.

For every step of a load-test plan (:mod:`scaleplan.loadtest.plan`), the figures measured in
its window (``Step.window_s``, from the test's start: the results' first moment, or ``start``)
are lined up with the band the model predicted there. A figure *agrees* when the measurement
lies in the band widened by a stated model tolerance. The band is the model's 95% CI of the
long-run figure and, where the plan gives it, the range one window of the step's length falls
in under the model (a window is a sample: its p99 rests on a few dozen requests). The
tolerance is relative for throughput (±10%) and latency (±20%) — model-based performance
predictions are published with 10–20% errors, so a band no wider than the simulation's CI
would refute every model — and absolute for the error rate (±1 percentage point). The
model is *confirmed* when every measured figure agrees and *refuted* otherwise, with each
divergence named ("step 3 (120 req/s): p95 measured 182 ms, predicted 95 ms [90, 101] ±20%:
+92%") and the likely causes in words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaleplan.errors import Problem, SpecError
from scaleplan.formatting import json_safe
from scaleplan.loadtest import FIGURES, Band, LoadTestPlan, Step, read_plan
from scaleplan.verify.files import default_plan, read_results
from scaleplan.verify.k6_results import K6Summary
from scaleplan.verify.locust_results import LocustResults
from scaleplan.verify.measured import ALL, Figures, Results

#: A percentile is judged only when the window holds at least this many requests beyond it:
#: with fewer, it is one of the window's few slowest requests, which scatter more than any band
#: (Locust's p99 of 200 requests is its second slowest, rounded to two digits).
MIN_TAIL_REQUESTS = 10
#: Locust's percentiles cover its rolling window, this long (``verify.locust_results``).
LOCUST_PERCENTILE_WINDOW_S = 10.0
_TAIL_SHARE = {"p50_ms": 0.5, "p95_ms": 0.05, "p99_ms": 0.01}
#: Utilisation of the predicted bottleneck below which a queue should not yet build: latency
#: measured above the band there means that something else saturates first.
KNEE_UTILIZATION = 0.8
LATENCY = ("mean_ms", "p50_ms", "p95_ms", "p99_ms")
LABELS = {
    "throughput_per_s": "throughput",
    "mean_ms": "mean",
    "p50_ms": "p50",
    "p95_ms": "p95",
    "p99_ms": "p99",
    "error_rate": "error rate",
}


@dataclass(frozen=True)
class Tolerances:
    """How far a measurement may lie outside the predicted band and still agree."""

    throughput: float = 0.10  # relative
    latency: float = 0.20  # relative
    errors: float = 0.01  # absolute (a share of the requests)

    def widen(self, figure: str, band: Band) -> tuple[float, float]:
        # The band reaches over what one window of a correct model may show (when the plan
        # gives it), then the tolerance allows for the model's own error.
        low, high = band.reach
        if figure == "error_rate":
            return max(0.0, low - self.errors), high + self.errors
        share = self.throughput if figure == "throughput_per_s" else self.latency
        return low * (1 - share), high * (1 + share)

    def text(self, figure: str) -> str:
        if figure == "error_rate":
            return f"±{100 * self.errors:.3g} pp"
        share = self.throughput if figure == "throughput_per_s" else self.latency
        return f"±{100 * share:.3g}%"

    def to_dict(self) -> dict[str, float]:
        return {"throughput": self.throughput, "latency": self.latency, "errors": self.errors}


@dataclass(frozen=True)
class FigureCheck:
    """One figure of one step: measured, predicted, and whether they agree."""

    figure: str
    measured: float  # NaN: not measured
    predicted: Band
    low: float  # the band widened by the tolerance
    high: float
    #: Why the figure is shown but not judged ("" : judged).
    unjudged: str = ""

    @property
    def measured_known(self) -> bool:
        return math.isfinite(self.measured)

    @property
    def agrees(self) -> bool | None:
        """``None`` when the figure was not measured, or is too uncertain to judge."""
        if not self.measured_known or self.unjudged:
            return None
        return self.low <= self.measured <= self.high

    @property
    def deviation(self) -> float:
        """Measured against the predicted mean: relative, or absolute for the error rate."""
        if self.figure == "error_rate":
            return self.measured - self.predicted.mean
        if self.predicted.mean == 0:
            return math.inf if self.measured > 0 else 0.0
        return self.measured / self.predicted.mean - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "measured": self.measured,
            "predicted": {
                "mean": self.predicted.mean,
                "low": self.predicted.low,
                "high": self.predicted.high,
            },
            "accepted": [self.low, self.high],
            "agrees": self.agrees,
            "not_judged": self.unjudged or None,
            "deviation": self.deviation if self.measured_known else None,
        }


@dataclass(frozen=True)
class StepCheck:
    """One step of the plan, its measurement and its figures' checks."""

    step: Step
    measured: Figures
    checks: tuple[FigureCheck, ...]
    by_name: dict[str, Figures] = field(default_factory=dict)

    def check(self, figure: str) -> FigureCheck | None:
        return next((check for check in self.checks if check.figure == figure), None)

    @property
    def agrees(self) -> bool:
        return all(check.agrees is not False for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        step = self.step
        return {
            "index": step.index,
            "phase": step.phase,
            "rate_per_s": step.rate_per_s,
            "users": step.users,
            "window_s": list(step.window_s),
            "meets_slos": step.meets_slos,
            "busiest": step.busiest,
            "busiest_utilization": step.busiest_utilization,
            "agrees": self.agrees,
            "measured": self.measured.to_dict(),
            "checks": [check.to_dict() for check in self.checks],
            "by_name": {name: figures.to_dict() for name, figures in self.by_name.items()},
        }


@dataclass(frozen=True)
class Verification:
    """The model against the measurement: per step and figure, the verdict and why."""

    scenario: str
    candidate: str
    bottleneck: str
    plan: str  # the plan file's name
    source: str  # the results file's name
    tool: str
    started_at: float
    tolerances: Tolerances
    steps: tuple[StepCheck, ...]
    divergences: tuple[str, ...]
    causes: tuple[str, ...]
    notes: tuple[str, ...]
    #: The plan judged against (the record's appendix prints its test plan).
    load_test_plan: LoadTestPlan | None = None

    @property
    def confirmed(self) -> bool:
        return not self.divergences

    @property
    def verdict(self) -> str:
        return "confirmed" if self.confirmed else "refuted"

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "verdict": self.verdict,
                "scenario": self.scenario,
                "candidate": self.candidate,
                "bottleneck": self.bottleneck,
                "plan": self.plan,
                "results": self.source,
                "tool": self.tool,
                "started_at": self.started_at,
                "tolerances": self.tolerances.to_dict(),
                "divergences": list(self.divergences),
                "causes": list(self.causes),
                "notes": list(self.notes),
                "steps": [step.to_dict() for step in self.steps],
            }
        )


def show_value(figure: str, value: float) -> str:
    """A measured or predicted figure with its unit."""
    if not math.isfinite(value):
        return "—"
    if figure == "error_rate":
        return f"{100 * value:.3g}%"
    if figure == "throughput_per_s":
        return f"{value:.4g} req/s"
    return f"{value:.3g} ms"


def show_deviation(check: FigureCheck) -> str:
    if not check.measured_known:
        return "—"
    if check.figure == "error_rate":
        return f"{100 * check.deviation:+.3g} pp"
    return "+∞" if math.isinf(check.deviation) else f"{100 * check.deviation:+.0f}%"


def show_band(check: FigureCheck) -> str:
    band = check.predicted
    text = (
        f"{show_value(check.figure, band.mean)} "
        f"[{show_value(check.figure, band.low)}, {show_value(check.figure, band.high)}]"
    )
    if band.window_low is not None and band.window_high is not None:
        text += (
            f", one window {show_value(check.figure, band.window_low)}–"
            f"{show_value(check.figure, band.window_high)}"
        )
    return text


def judge(
    plan: LoadTestPlan,
    results: Results,
    tolerances: Tolerances = Tolerances(),
    *,
    start: float | None = None,
    plan_name: str = "plan.json",
) -> Verification:
    """Line every step of ``plan`` up with ``results``; ``start`` (Unix seconds) overrides
    the test's start read from the results."""
    offset = 0.0 if start is None else start - results.started_at
    if isinstance(results, K6Summary) and len(plan.steps) > 1:
        raise SpecError(
            [
                Problem(
                    results.source,
                    "",
                    f"holds whole-run figures only (k6 --summary-export) and {plan_name} has "
                    f"{len(plan.steps)} steps: give k6's --out json=FILE output",
                )
            ]
        )
    measured: list[tuple[Step, Figures]] = []
    missing: list[Step] = []
    for step in plan.steps:
        low, high = step.window_s
        figures = results.window(low + offset, high + offset)
        if figures is None:
            missing.append(step)
        else:
            measured.append((step, figures))
    if missing:
        first = missing[0]
        low, high = first.window_s
        raise SpecError(
            [
                Problem(
                    results.source,
                    "",
                    f"holds no data for step{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(str(step.index) for step in missing)} of {plan_name}: its "
                    f"results span {results.span_s:.0f} s from the test's start "
                    f"{_offset_text(offset)}and step {first.index} is measured from "
                    f"{low:.0f} s to {high:.0f} s",
                )
            ]
        )
    steps = []
    for step, figures in measured:
        checks = []
        for figure in FIGURES:
            band = step.predicted.get(figure)
            if band is None:
                continue
            low, high = tolerances.widen(figure, band)
            unjudged = _too_few_beyond(figure, figures, results.tool)
            checks.append(FigureCheck(figure, figures.value(figure), band, low, high, unjudged))
        by_name = {}
        for name in results.names:
            window = results.window(step.window_s[0] + offset, step.window_s[1] + offset, name)
            if window is not None:
                by_name[name] = window
        steps.append(StepCheck(step, figures, tuple(checks), by_name))
    divergences = tuple(
        _divergence(check, tolerances, step.step, plan.closed)
        for step in steps
        for check in step.checks
        if check.agrees is False
    )
    notes = list(results.notes)
    unmeasured = sorted(
        {
            LABELS[check.figure]
            for step in steps
            for check in step.checks
            if not check.measured_known
        }
    )
    thin: dict[str, list[str]] = {}
    for checked in steps:
        for check in checked.checks:
            if check.measured_known and check.unjudged:
                thin.setdefault(LABELS[check.figure], []).append(str(checked.step.index))
    for label, indices in thin.items():
        notes.append(
            f"{label} shown but not judged at step{'s' if len(indices) > 1 else ''} "
            f"{', '.join(indices)}: fewer than {MIN_TAIL_REQUESTS} requests beyond it in the "
            "window measured, too few for a percentile to be compared"
        )
    if unmeasured:
        notes.append(f"not measured, so not compared: {', '.join(unmeasured)}")
    planned = {request.name for request in plan.classes}
    strangers = sorted(set(results.names) - planned)
    if strangers:
        notes.append(f"requests in the results that the plan does not send: {', '.join(strangers)}")
    return Verification(
        scenario=plan.scenario,
        candidate=plan.candidate,
        bottleneck=plan.bottleneck,
        plan=plan_name,
        source=results.source,
        tool=results.tool,
        started_at=results.started_at + offset,
        tolerances=tolerances,
        steps=tuple(steps),
        divergences=divergences,
        causes=tuple(_causes(plan, steps, results, tolerances)) if divergences else (),
        notes=tuple(notes),
        load_test_plan=plan,
    )


def _too_few_beyond(figure: str, figures: Figures, tool: str) -> str:
    """Why a percentile of this window is too uncertain to judge ("" when it is not)."""
    share = _TAIL_SHARE.get(figure)
    if share is None:
        return ""
    requests = float(figures.requests)
    span = figures.end_s - figures.start_s
    if tool == "locust" and span > LOCUST_PERCENTILE_WINDOW_S:
        # Locust's percentile covers only the last part of the window.
        requests *= LOCUST_PERCENTILE_WINDOW_S / span
    beyond = requests * share
    if beyond >= MIN_TAIL_REQUESTS:
        return ""
    return (
        f"about {beyond:.0f} of the window's requests lie beyond it (fewer than "
        f"{MIN_TAIL_REQUESTS}): too few to judge"
    )


def _offset_text(offset: float) -> str:
    return f"(the given start lies {offset:+.0f} s from their first moment) " if offset else ""


def _step_text(step: Step, closed: bool = False) -> str:
    """``step 2 (60 req/s)``; a closed plan's step by its users: ``step 2 (16 users)``."""
    if closed:
        return f"step {step.index} ({step.users} user{'' if step.users == 1 else 's'})"
    return f"step {step.index} ({step.rate_per_s:.4g} req/s)"


def _divergence(
    check: FigureCheck, tolerances: Tolerances, step: Step, closed: bool = False
) -> str:
    return (
        f"{_step_text(step, closed)}: {LABELS[check.figure]} measured "
        f"{show_value(check.figure, check.measured)}, predicted {show_band(check)} "
        f"{tolerances.text(check.figure)}: {show_deviation(check)}"
    )


def _below_knee(plan: LoadTestPlan, step: Step) -> bool:
    """Whether the model has no queue building yet at ``step``."""
    if step.busiest_utilization is not None:
        return step.busiest_utilization < KNEE_UTILIZATION
    if plan.closed and plan.limit_users is not None:
        return step.users < KNEE_UTILIZATION * plan.limit_users
    return plan.limit_per_s is not None and step.rate_per_s < KNEE_UTILIZATION * plan.limit_per_s


def _causes(
    plan: LoadTestPlan, steps: Sequence[StepCheck], results: Results, tolerances: Tolerances
) -> list[str]:
    """The likely causes of the divergences, in words, most telling first."""
    causes = []
    closed = plan.closed
    bottleneck = plan.bottleneck or "the predicted bottleneck"
    for step in steps:
        check = step.check("throughput_per_s")
        offered = step.step.rate_per_s
        if closed and check is not None and check.agrees is False and check.measured < check.low:
            # A closed step offers no rate: its users send N / (think + response) a second,
            # so too few requests mean answers slower than modelled (or longer thinking).
            causes.append(
                f"the system is slower than modelled: at {_step_text(step.step, closed)} the "
                f"users sent {check.measured:.4g} requests/s, predicted {offered:.4g} "
                f"[{check.predicted.low:.4g}, {check.predicted.high:.4g}]: a closed "
                "workload's users send only as fast as they are answered, so the answers "
                "took longer than modelled (check also that the load tool's think time is "
                "the plan's)"
            )
            break
        if (
            not closed
            and check is not None
            and check.agrees is False
            and check.measured < min(check.low, offered * (1 - tolerances.throughput))
        ):
            causes.append(
                f"saturated: the system did not carry {_step_text(step.step, closed)}'s rate "
                f"({check.measured:.4g} of {offered:.4g} requests/s offered)"
            )
            break
    slow = [
        (step, check)
        for step in steps
        for check in step.checks
        if check.figure in LATENCY and check.agrees is False and check.measured > check.high
    ]
    # At the lightest step queues are short: latency above the band there is the service
    # itself (an overhead the model leaves out), not a queue. A queue shows as a deviation
    # that grows with the load beyond that one.
    lightest = min(steps, key=lambda step: (step.step.users, step.step.rate_per_s))
    base = {
        check.figure: check.deviation if check.measured_known else 0.0 for check in lightest.checks
    }
    at_lightest = [(step, check) for step, check in slow if step is lightest]
    if at_lightest:
        step, check = next(
            (pair for pair in at_lightest if pair[1].figure == "mean_ms"), at_lightest[0]
        )
        busy = step.step.busiest_utilization
        little = f", {100 * busy:.0f}% busy at most" if busy is not None else ""
        causes.append(
            f"slower than modelled already at the lightest load ({_step_text(step.step, closed)}"
            f"{little}: {LABELS[check.figure]} measured "
            f"{show_value(check.figure, check.measured)}, predicted "
            f"{show_value(check.figure, check.predicted.mean)}): the service times leave out "
            "an overhead (network, framework, serialisation): recalibrate them"
        )
    rising = [
        (step, check)
        for step, check in slow
        if step is not lightest and check.deviation > base[check.figure] + tolerances.latency
    ]
    early = [(step, check) for step, check in rising if _below_knee(plan, step.step)]
    if early:
        step, check = early[0]
        busy = step.step.busiest_utilization
        where = (
            f", where the model has {step.step.busiest or bottleneck} at {100 * busy:.0f}% busy"
            if busy is not None
            else ""
        )
        causes.append(
            f"measured {LABELS[check.figure]} rises before the predicted knee "
            f"({_step_text(step.step, closed)}{where}): {bottleneck} has less capacity than "
            f"modelled, or the real bottleneck is not {bottleneck}: something saturates earlier"
        )
    elif rising:
        step, check = rising[0]
        causes.append(
            f"latency above the prediction near the predicted limit (from "
            f"{_step_text(step.step, closed)}, {LABELS[check.figure]}): {bottleneck} is slower "
            "than modelled or has less capacity: recalibrate its service time and its workers"
        )
    fast = [
        (step, check)
        for step in steps
        for check in step.checks
        if check.figure in LATENCY and check.agrees is False and check.measured < check.low
    ]
    if fast and not slow:
        step, check = fast[0]
        causes.append(
            f"the system is faster than modelled: recalibrate the service times "
            f"({_step_text(step.step, closed)}: {LABELS[check.figure]} measured "
            f"{show_value(check.figure, check.measured)}, predicted "
            f"{show_value(check.figure, check.predicted.mean)})"
        )
    for step in steps:
        check = step.check("error_rate")
        if check is not None and check.agrees is False and check.measured > check.high:
            seen = ""
            if isinstance(results, LocustResults) and results.failure_messages:
                seen = f"; Locust saw {results.failure_messages[0]}"
            causes.append(
                f"errors the model does not predict from {_step_text(step.step, closed)} "
                f"({show_value('error_rate', check.measured)} failed, predicted "
                f"{show_value('error_rate', check.predicted.mean)}){seen}"
            )
            break
    for step in steps:
        check = step.check("throughput_per_s")
        if check is not None and check.agrees is False and check.measured > check.high:
            causes.append(
                f"the users sent more than the model predicts ({_step_text(step.step, closed)}: "
                f"{check.measured:.4g} requests/s measured): answers faster than modelled, or "
                "the load tool's users think less than the plan's think time"
                if closed
                else f"more load arrived than planned ({_step_text(step.step, closed)}: "
                f"{check.measured:.4g} requests/s measured): check the load generator's users "
                "and their rate"
            )
            break
    return causes


def check_scenario(plan: LoadTestPlan, scenario: str | Path, plan_name: str) -> None:
    """Refuse a plan made for another scenario, or for a candidate the scenario lacks."""
    from scaleplan.spec import load_scenario

    path = Path(scenario)
    loaded = load_scenario(path)
    made_for = Path(plan.scenario).name
    if made_for not in (path.name, loaded.title) and plan.scenario != loaded.title:
        raise SpecError(
            [
                Problem(
                    plan_name,
                    "scenario",
                    f"the plan was made for {plan.scenario!r}, not {path.name} ({loaded.title!r})",
                )
            ]
        )
    if plan.candidate not in loaded.names:
        raise SpecError(
            [
                Problem(
                    plan_name,
                    "candidate",
                    f"{plan.candidate!r} is not a candidate of {path.name} "
                    f"(candidates: {', '.join(loaded.names)})",
                )
            ]
        )


def verify(
    scenario: str | Path,
    results: str | Path,
    *,
    plan: str | Path | None = None,
    tolerances: Tolerances = Tolerances(),
    start: float | None = None,
) -> Verification:
    """Read the plan (default: ``plan.json`` beside the results), check it against
    ``scenario``, read the results and judge them."""
    plan_path = Path(plan) if plan is not None else default_plan(results)
    if plan is None and not plan_path.is_file():
        raise SpecError(
            [
                Problem(
                    plan_path.name,
                    "",
                    f"no plan beside the results (looked for {plan_path}); give --plan, the "
                    "plan.json `scaleplan loadtest` wrote",
                )
            ]
        )
    loaded = read_plan(plan_path)
    check_scenario(loaded, scenario, plan_path.name)
    return judge(loaded, read_results(results), tolerances, start=start, plan_name=plan_path.name)


__all__ = [
    "ALL",
    "FigureCheck",
    "StepCheck",
    "Tolerances",
    "Verification",
    "judge",
    "verify",
]
