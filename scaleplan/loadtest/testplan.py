"""The test plan document: which load tests to run, in what order, and what passes.

Five test cases, each with its load, its duration, the model's prediction there (every figure
with its 95% CI, across replications) and its pass criteria from the NFRs:

- **load**: today's peak, for :data:`LOAD_S`;
- **stress**: the tractor pull's steps of the plan (the Locust file and the k6 script);
- **spike**: :data:`SPIKE_FACTOR` × the peak for :data:`SPIKE_S`, between two spells at peak;
- **soak**: the peak for :data:`SOAK_S` (the model predicts the steady state of the load
  case; the soak looks for what the model has not got: leaks, growing tables, log rotation);
- **failover**: the peak with one replica fewer of the bottleneck, a variant of the candidate
  simulated for its own prediction (none when the bottleneck has a single replica: losing it
  is an outage, which the availability NFR judges, not a load test).

:func:`make_cases` simulates what the stress steps do not already predict; :func:`testplan_markdown`
renders the plan and its cases as Markdown (the decision record's appendix) and
:func:`testplan_html` as a self-contained HTML page. Everything a file supplies (names, paths,
objectives) goes through :func:`scaleplan.report.markup.text`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scaleplan.errors import ScaleplanError
from scaleplan.experiments._common import ExecutorLike
from scaleplan.formatting import number
from scaleplan.loadtest.closed import peak_users, think_time_text, users_spec
from scaleplan.loadtest.make import PlanContext, users_for
from scaleplan.loadtest.plan import FIGURES, Band, LoadTestPlan, PlannedCase
from scaleplan.loadtest.predict import Prediction, predict, predict_users
from scaleplan.progress import Progress
from scaleplan.report.markup import table, text
from scaleplan.spec import ScenarioSpec, SLOSpec

__all__ = [
    "LOAD_S",
    "SOAK_S",
    "SPIKE_FACTOR",
    "SPIKE_S",
    "TestCase",
    "make_cases",
    "testplan_html",
    "testplan_markdown",
]

#: The load test's length at today's peak.
LOAD_S = 30 * 60.0
#: The spike: this many times the peak, for this long, after and before a spell at peak.
SPIKE_FACTOR = 2.0
SPIKE_S = 5 * 60.0
SPIKE_AROUND_S = 10 * 60.0
#: The soak test's length at today's peak.
SOAK_S = 4 * 3600.0
#: The failover test: the replica is stopped this long after the start, the test lasts LOAD_S.
FAILOVER_AT_S = 5 * 60.0

_LABELS = {
    "throughput_per_s": ("throughput", "/s"),
    "mean_ms": ("mean", " ms"),
    "p50_ms": ("p50", " ms"),
    "p95_ms": ("p95", " ms"),
    "p99_ms": ("p99", " ms"),
    "error_rate": ("errors", ""),
}


@dataclass(frozen=True)
class TestCase:
    """One test case of the plan."""

    __test__ = False  # not a pytest test class

    name: str
    purpose: str
    load: str
    duration_s: float
    rate_per_s: float | None
    users: int | None
    prediction: Prediction | None
    criteria: tuple[str, ...]
    on_failure: str
    notes: tuple[str, ...] = field(default=())


def planned_cases(cases: Sequence[TestCase]) -> tuple[PlannedCase, ...]:
    """The cases as the plan file keeps them."""
    kept = []
    for case in cases:
        prediction = case.prediction
        kept.append(
            PlannedCase(
                name=case.name,
                purpose=case.purpose,
                load=case.load,
                duration_s=case.duration_s,
                rate_per_s=case.rate_per_s,
                users=case.users,
                predicted=dict(prediction.predicted) if prediction is not None else None,
                busiest=prediction.busiest if prediction is not None else "",
                busiest_utilization=(
                    prediction.busiest_utilization if prediction is not None else None
                ),
                meets_slos=prediction.meets_slos if prediction is not None else False,
                stable=prediction.stable if prediction is not None else True,
                criteria=case.criteria,
                on_failure=case.on_failure,
                notes=case.notes,
                model_notes=prediction.notes if prediction is not None else (),
            )
        )
    return tuple(kept)


def cases_of(plan: LoadTestPlan) -> tuple[TestCase, ...]:
    """The test cases a plan file keeps, as :func:`make_cases` made them."""
    cases = []
    for kept in plan.cases:
        prediction = None
        if kept.predicted is not None and kept.rate_per_s is not None:
            prediction = Prediction(
                rate_per_s=kept.rate_per_s,
                predicted=dict(kept.predicted),
                busiest=kept.busiest,
                busiest_utilization=kept.busiest_utilization,
                meets_slos=kept.meets_slos,
                stable=kept.stable,
                notes=kept.model_notes,
            )
        cases.append(
            TestCase(
                name=kept.name,
                purpose=kept.purpose,
                load=kept.load,
                duration_s=kept.duration_s,
                rate_per_s=kept.rate_per_s,
                users=kept.users,
                prediction=prediction,
                criteria=kept.criteria,
                on_failure=kept.on_failure,
                notes=kept.notes,
            )
        )
    return tuple(cases)


def _criteria(slos: Sequence[str]) -> list[str]:
    """Each NFR objective as a pass criterion on the measured part of the test."""
    out = []
    for objective in slos:
        slo = SLOSpec.model_validate(objective)
        who = f"requests of class {slo.request_class}" if slo.request_class else "all requests"
        if slo.metric == "errors":
            out.append(f"error rate of {who} at most {100 * slo.bound:g}% ({objective})")
        elif slo.metric == "throughput":
            out.append(f"throughput of {who}: {objective}")
        else:
            out.append(f"{slo.metric} latency of {who} at most {slo.bound:g} ms ({objective})")
    return out


def _failover_spec(context: PlanContext) -> tuple[Any, str]:
    """The candidate with one replica fewer of its bottleneck, or None and why not."""
    name = context.plan.bottleneck
    component = context.spec.components.get(name)
    replicas = getattr(component, "replicas", None)
    if component is None or not isinstance(replicas, int):
        return None, f"the bottleneck {name or '(none)'} has no replicas to take away"
    if getattr(component, "autoscale", None) is not None:
        return None, f"{name} is autoscaled: a failover test checks that it replaces the replica"
    if replicas < 2:
        return None, (
            f"{name} runs a single replica: losing it is an outage (the availability NFR "
            "judges it), not a load test"
        )
    try:
        spec = context.spec.with_changes({f"components.{name}.replicas": replicas - 1})
    except (ScaleplanError, ValueError) as error:
        return None, f"one replica fewer of {name} is not a valid variant ({error})"
    return spec, f"{name} with {replicas - 1} replica{'' if replicas == 2 else 's'} of {replicas}"


def make_cases(
    context: PlanContext,
    scenario: ScenarioSpec,
    *,
    seed: int | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> tuple[TestCase, ...]:
    """The five test cases of ``context``'s plan, with the model's predictions (same seeds and
    budget as the plan's steps: ``scenario.run``)."""
    plan = context.plan
    run = scenario.run
    seed = run.seed if seed is None else seed
    slos = scenario.nfrs.slos
    variant, variant_text = _failover_spec(context)
    failover: Prediction | None
    if plan.closed:
        # A closed workload's load is its users: today's at peak, and twice as many.
        peak_n = peak_users(scenario)
        spike_n = max(peak_n + 1, round(SPIKE_FACTOR * peak_n))
        by_users: dict[str, Any] = {
            "seed": seed,
            "replications": run.replications,
            "requests": run.requests,
            "executor": executor,
            "progress": progress,
        }
        at_peak, at_spike = predict_users(
            [(n, users_spec(context.spec, n)) for n in (peak_n, spike_n)], slos, **by_users
        )
        failover = (
            predict_users([(peak_n, users_spec(variant, peak_n))], slos, **by_users)[0]
            if variant is not None
            else None
        )
        peak, spike = at_peak.rate_per_s, at_spike.rate_per_s
        peak_users_n: int = peak_n
        spike_users_n: int = spike_n
        peak_load, spike_load = _users_text(peak_n), _users_text(spike_n)
    else:
        assert context.pull is not None and plan.user_rate_per_s is not None
        peak = scenario.peak_rate_per_s
        spike = SPIKE_FACTOR * peak
        budget: dict[str, Any] = {
            "seed": seed,
            "replications": run.replications,
            "requests": run.requests,
            "bound_per_s": context.pull.analytic_bound_per_s,
            "executor": executor,
            "progress": progress,
        }
        at_peak, at_spike = predict(context.spec, [peak, spike], slos, **budget)
        failover = predict(variant, [peak], slos, **budget)[0] if variant is not None else None
        peak_users_n = users_for(peak, plan.user_rate_per_s)
        spike_users_n = users_for(spike, plan.user_rate_per_s)
        peak_load, spike_load = f"{peak:.4g} requests/s", f"{spike:.4g} requests/s"
    criteria = _criteria(plan.slos)
    within = "every measured figure inside the model's 95% band (scaleplan verify)"
    last = plan.steps[-1]
    return (
        TestCase(
            name="load",
            purpose="Does the system meet its NFRs at today's peak, as the model predicts?",
            load=f"today's peak, {peak_load}",
            duration_s=LOAD_S,
            rate_per_s=peak,
            users=peak_users_n,
            prediction=at_peak,
            criteria=(*criteria, within),
            on_failure=(
                "Stop: the model does not describe the system at its everyday peak. Run "
                "scaleplan verify to see which figure and component diverge, correct the "
                "model (service times, replicas, the bottleneck) and plan again before any "
                "other test."
            ),
        ),
        TestCase(
            name="stress",
            purpose=(
                "Where does the system stop meeting its NFRs? The tractor pull, step by step "
                "to past the predicted limit."
            ),
            load=(
                f"{len(plan.steps)} steps from {_users_text(plan.steps[0].users)} to "
                f"{_users_text(last.users)} (the table of steps)"
                if plan.closed
                else f"{len(plan.steps)} steps from {plan.steps[0].rate_per_s:.4g} to "
                f"{last.rate_per_s:.4g} requests/s (the table of steps)"
            ),
            duration_s=plan.duration_s,
            rate_per_s=None,
            users=last.users,
            prediction=None,
            criteria=(
                "every step the model predicts to meet the NFRs meets them (the Locust file "
                "and the k6 script exit non-zero otherwise)",
                "the measured limit (the last step meeting the NFRs) inside the predicted "
                "limit's 95% CI",
                within,
            ),
            on_failure=(
                "If the NFRs break before the predicted limit, the real bottleneck is "
                "probably not the predicted one: compare the busiest components' utilisation "
                "with the steps' predictions and measure the service times again. If they hold "
                "past it, the model is pessimistic: the limit and the runway are larger."
            ),
        ),
        TestCase(
            name="spike",
            purpose="Does a sudden burst degrade gracefully and does the system recover?",
            load=(
                f"{peak_load} for {SPIKE_AROUND_S / 60:g} min, then "
                f"{spike_load} ({SPIKE_FACTOR:g}× peak) for {SPIKE_S / 60:g} min, "
                f"then {peak_load} for {SPIKE_AROUND_S / 60:g} min"
            ),
            duration_s=2 * SPIKE_AROUND_S + SPIKE_S,
            rate_per_s=spike,
            users=spike_users_n,
            prediction=at_spike,
            criteria=(
                "no failures beyond the error objective during the spike"
                if any(SLOSpec.model_validate(s).metric == "errors" for s in plan.slos)
                else "no failures during the spike",
                "back inside the NFRs within a minute of the spike's end",
                (
                    "figures during the spike inside the model's band"
                    if at_spike.stable
                    else "the model predicts overload at this rate: queues grow during the "
                    "spike, so only recovery is judged"
                ),
            ),
            on_failure=(
                "Look at queue limits, timeouts and retries: a spike that does not recover "
                "usually means retries amplify it or a queue without a limit. Re-run after "
                "the fix; it does not block the soak test."
            ),
        ),
        TestCase(
            name="failover",
            purpose=(
                "Does the system meet its NFRs at peak with one replica of its bottleneck lost?"
            ),
            load=f"today's peak, {peak_load}; at {FAILOVER_AT_S / 60:g} min stop one "
            f"replica of {plan.bottleneck or 'the bottleneck'}",
            duration_s=LOAD_S,
            rate_per_s=(
                (failover.rate_per_s if plan.closed else peak) if failover is not None else None
            ),
            users=peak_users_n,
            prediction=failover,
            criteria=(
                (
                    *criteria,
                    f"after the failover, the figures of {variant_text} inside the model's band",
                )
                if failover is not None
                else ("the system keeps serving (see the note)",)
            ),
            on_failure=(
                "The system cannot lose a replica at peak: add one (N+1) or raise the "
                "remaining replicas' capacity, and check that the balancer takes the lost "
                "replica out of rotation quickly."
            ),
            notes=(variant_text,) if failover is None else (f"simulated: {variant_text}",),
        ),
        TestCase(
            name="soak",
            purpose="Does the system hold at peak for hours (leaks, growing tables, rotation)?",
            load=f"today's peak, {peak_load}",
            duration_s=SOAK_S,
            rate_per_s=peak,
            users=peak_users_n,
            prediction=at_peak,
            criteria=(
                *criteria,
                "no drift: the last hour's p95 and p99 inside the first hour's",
                "memory, connections and disk flat after the first hour",
            ),
            on_failure=(
                "A drift the model cannot show (it has no leaks): find the resource that "
                "grows, fix it and soak again. The other results stand."
            ),
            notes=("the model predicts the steady state of the load test",),
        ),
    )


def _users_text(users: int) -> str:
    return f"{users} user{'' if users == 1 else 's'}"


# --------------------------------------------------------------------------- rendering

ORDER = ("load", "stress", "spike", "failover", "soak")
_WHY_ORDER = (
    "Run them in this order: **load** first (the model must hold at everyday peak before "
    "anything else means something), then **stress** (the limit), **spike** and **failover** "
    "(behaviour beyond and below capacity), and **soak** last (the longest; run it only once "
    "the others pass). Stop at a failed load test; a failure of the others does not stop the "
    "plan, but each must pass before the decision is confirmed."
)


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:.4g} min"
    return f"{seconds:g} s"


def _band(band: Band | None, figure: str) -> str:
    if band is None:
        return "—"
    if figure == "error_rate":
        return f"{100 * band.mean:.3g}% [{100 * band.low:.3g}, {100 * band.high:.3g}]"
    unit = _LABELS[figure][1]
    return f"{band.mean:.4g}{unit} [{band.low:.4g}, {band.high:.4g}]"


def _prediction_table(prediction: Prediction) -> str:
    rows = [
        [text(_LABELS[figure][0]), text(_band(prediction.predicted.get(figure), figure))]
        for figure in FIGURES
    ]
    if prediction.busiest:
        util = prediction.busiest_utilization
        shown = number(util * 100 if util is not None else None, ".0f", "%")
        rows.append(["busiest", text(f"{prediction.busiest} (utilisation {shown})")])
    rows.append(["meets the NFRs", "yes" if prediction.meets_slos else "**no**"])
    return table(["predicted (95% CI)", "value"], rows)


def _steps_table(plan: LoadTestPlan) -> str:
    rows = []
    for step in plan.steps:
        rows.append(
            [
                str(step.index),
                text(f"{_duration(step.start_s)}" if step.start_s else "0 s"),
                text(f"{step.rate_per_s:.4g}"),
                str(step.users),
                text(_band(step.predicted.get("throughput_per_s"), "throughput_per_s")),
                text(_band(step.predicted.get("p95_ms"), "p95_ms")),
                text(_band(step.predicted.get("p99_ms"), "p99_ms")),
                text(_band(step.predicted.get("error_rate"), "error_rate")),
                text(step.busiest or "—"),
                "yes" if step.meets_slos else "**no**",
            ]
        )
    return table(
        [
            "step",
            "starts",
            "predicted rate/s" if plan.closed else "rate/s",
            "users",
            "throughput",
            "p95",
            "p99",
            "errors",
            "busiest",
            "meets NFRs",
        ],
        rows,
    )


def testplan_markdown(
    plan: LoadTestPlan, cases: Sequence[TestCase] = (), *, heading_level: int = 1
) -> str:
    """The test plan as Markdown: the system under test, the test cases in the order to run
    them, each with its load, duration, prediction and pass criteria, and the stress steps.

    ``heading_level`` 2 (or more) nests it under a document's own heading (the decision
    record's appendix)."""
    h = "#" * heading_level
    limit = "—"
    if plan.closed and plan.limit_users is not None:
        limit = f"{plan.limit_users:.3g} users"
        if plan.limit_users_ci95 is not None:
            limit += f" (95% CI {plan.limit_users_ci95[0]:.3g}–{plan.limit_users_ci95[1]:.3g})"
        if plan.limit_per_s is not None:
            limit += f", {plan.limit_per_s:.4g} requests/s"
    elif plan.limit_per_s is not None:
        limit = f"{plan.limit_per_s:.4g} requests/s"
        if plan.limit_ci95 is not None:
            limit += f" (95% CI {plan.limit_ci95[0]:.4g}–{plan.limit_ci95[1]:.4g})"
    if plan.closed:
        pace = (
            "Each load-test user sends a request, waits for its answer (whatever its status), "
            f"thinks ({think_time_text(plan.think_time)}) and sends the next, as the model's "
            "closed workload: a step runs its users, and its rate is the throughput the model "
            "predicts they reach."
        )
    else:
        rate = plan.user_rate_per_s or 0.0
        pace = f"Each load-test user sends {rate:g} request{'' if rate == 1 else 's'} a second."
    requests = table(
        ["class", "share", "request"],
        [
            [
                text(c.name),
                text(f"{100 * c.weight / math.fsum(x.weight for x in plan.classes):.3g}%"),
                text(f"{c.method} {c.path}"),
            ]
            for c in plan.classes
        ],
    )
    parts = [
        f"{h} Load-test plan: {text(plan.candidate)}",
        (
            f"From {text(plan.scenario)}. System under test: **{text(plan.candidate)}** at "
            f"{text(plan.host)} (override with `--host`). Predicted sustainable limit: "
            f"{text(limit)}; bottleneck: **{text(plan.bottleneck or '—')}**. {text(pace)}"
        ),
        "NFRs: " + (", ".join(text(s) for s in plan.slos) if plan.slos else "none"),
        requests,
        f"{h}# Order and what to do when a test fails",
        _WHY_ORDER,
    ]
    by_name = {case.name: case for case in cases}
    for name in ORDER:
        case = by_name.get(name)
        if case is None:
            continue
        items = [
            f"- **Load**: {text(case.load)}"
            + (f" ({case.users} users)" if case.users is not None and not plan.closed else ""),
            f"- **Duration**: {text(_duration(case.duration_s))}",
            "- **Pass criteria**:\n" + "\n".join(f"  - {text(c)}" for c in case.criteria),
            f"- **If it fails**: {text(case.on_failure)}",
        ]
        items.extend(f"- *Note*: {text(note)}" for note in case.notes)
        if case.prediction is not None:
            items.extend(f"- *Model*: {text(note)}" for note in case.prediction.notes)
        lines = [
            f"{h}# {ORDER.index(name) + 1}. {name.capitalize()} test",
            text(case.purpose),
            "\n".join(items),
        ]
        if case.prediction is not None:
            lines.append(_prediction_table(case.prediction))
        if name == "stress":
            lines.append(_steps_table(plan))
        parts.append("\n\n".join(lines))
    if not cases:
        parts.append(f"{h}# Stress test steps\n\n{_steps_table(plan)}")
    return "\n\n".join(parts) + "\n"


def testplan_html(plan: LoadTestPlan, cases: Sequence[TestCase] = ()) -> str:
    """The test plan as one self-contained HTML page (no scripts, no external files)."""
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = renderer.render(testplan_markdown(plan, cases))
    title = html.escape(f"Load-test plan: {plan.candidate}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head>\n<body>\n{body}</body></html>\n"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45;color:#222}table{border-collapse:collapse;margin:1rem 0}"
    "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}th{background:#f3f3f3}"
    "code{background:#f3f3f3;padding:0 .2rem}"
)
