"""The interactive explorer: sliders over an architecture, an instant estimate, then a simulation.

:class:`Explorer` owns the ipywidgets and the order of work after a change: build the changed
spec (``with_changes``), show the closed-form :func:`~scaleplan.analytic.estimate` at once,
then run a short :func:`~scaleplan.engine.simulate` in the kernel and redraw the graph coloured
by utilisation, the latency percentiles against the SLO, utilisation per component and the cost.
Sliders fire when released (``continuous_update=False``), not on every tick.

Everything the user sees is also on the object (``last_estimate``, ``last_result``,
``last_error``, ``summary.value``, ``figures``), so the logic is tested without a browser by
setting widget values in Python. An error in a callback is shown in the widget's error area
(and kept in ``last_error``); it is never swallowed.
"""

from __future__ import annotations

import html
import math
import statistics
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaleplan.formatting import ms as _ms
from scaleplan.result import SimulationResult
from scaleplan.spec import ArchitectureSpec, ScenarioSpec, SLOSpec, load_spec
from scaleplan.widgets.knobs import Knob, discover_knobs

if TYPE_CHECKING:
    import ipywidgets
    import plotly.graph_objects as go

#: Requests per simulation after a change: enough for a stable p99 on the bundled examples,
#: few enough that a change answers within about a second on a laptop.
DEFAULT_REQUESTS = 8_000
CostModel = Callable[[ArchitectureSpec], float]


class Explorer:
    """Sliders and dropdowns over an architecture, answering each change with evidence.

    Parameters
    ----------
    spec_or_path : ArchitectureSpec or path
        The architecture to explore (a validated spec or its YAML file).
    seed : int
        The simulation's seed; every change is simulated under the same seed (common random
        numbers), so what moves is the architecture, not the noise.
    requests : int
        Requests per simulation after a change.
    slo_ms : mapping, optional
        Latency objectives by statistic, e.g. ``{"p99": 250}``; drawn on the latency chart and
        checked in the summary.
    slos : sequence of SLO strings, optional
        Latency objectives as written in a scenario, e.g. ``["checkout.p99<=400ms"]``: a
        request class's is checked against that class's figure (the result's ``classes``) in
        its own row of the summary and bar of the chart; a whole-system one joins ``slo_ms``.
        Other objectives (errors, throughput) are not the explorer's: they are refused.
    cost_per_month : callable, optional
        A function of the spec giving its cost per month (e.g. from a scenario's cost table).
    currency : str
        Shown beside the cost.
    simulate : bool
        Run the simulation after the estimate (False shows the estimate only).

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> explorer = Explorer(example_spec(), requests=2000, slo_ms={"p99": 200})
    >>> explorer.controls["components.api.replicas"].value = 2
    >>> explorer.spec.components["api"].replicas, explorer.last_result.stable
    (2, True)
    >>> explorer.last_error is None
    True
    """

    def __init__(
        self,
        spec_or_path: ArchitectureSpec | str | Path,
        *,
        seed: int = 1,
        requests: int = DEFAULT_REQUESTS,
        slo_ms: Mapping[str, float] | None = None,
        slos: Sequence[str | SLOSpec] = (),
        cost_per_month: CostModel | None = None,
        simulate: bool = True,
        title: str | None = None,
        currency: str = "",
    ) -> None:
        import ipywidgets as widgets

        base = (
            spec_or_path
            if isinstance(spec_or_path, ArchitectureSpec)
            else load_spec(Path(spec_or_path))
        )
        self.base_spec: ArchitectureSpec = base
        self.spec: ArchitectureSpec = base
        self.seed = seed
        self.requests = requests
        self.slo_ms: dict[str, float] = dict(slo_ms or {})
        #: The latency objectives of request classes, each checked on its class's figure.
        self.class_slos: tuple[SLOSpec, ...] = _class_objectives(slos, self.slo_ms, base)
        self.cost_per_month = cost_per_month
        self.currency = currency
        self.run_simulation = simulate
        self.knobs: list[Knob] = discover_knobs(base)
        self.last_estimate: SimulationResult | None = None
        self.last_result: SimulationResult | None = None
        self.last_unstable: str | None = None
        self.last_error: BaseException | None = None
        #: Seconds the last simulation took.
        self.last_simulation_s = math.nan
        #: Seconds from a change to the finished redraw, one entry per change.
        self.timings: list[float] = []
        self.figures: dict[str, go.Figure] = {}
        self._holding = False

        self.controls: dict[str, ipywidgets.ValueWidget] = {
            knob.key_path: _control(knob) for knob in self.knobs
        }
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.status = widgets.HTML(layout=widgets.Layout(min_height="1.5em"))
        self.status.add_class("scaleplan-status")
        self.summary = widgets.HTML()
        self.summary.add_class("scaleplan-summary")
        self.error_area = widgets.HTML()
        self.error_area.add_class("scaleplan-error")
        self.charts: dict[str, ipywidgets.Output] = {}
        for name in ("graph", "latency", "utilization"):
            output = widgets.Output()
            output.add_class(f"scaleplan-chart-{name}")
            self.charts[name] = output
        heading = widgets.HTML(
            f"<h3>{html.escape(title or base.name)}</h3>"
            f"<p>{html.escape(base.description)}</p>"
            "<p><small>Sliders re-simulate when released: the analytic estimate shows at once, "
            f"then a simulation of {requests:,} requests (seed {seed}).</small></p>"
        )
        self.widget = widgets.VBox(
            [
                heading,
                self._control_panel(widgets),
                self.status,
                self.error_area,
                self.summary,
                self.charts["graph"],
                widgets.HBox([self.charts["latency"], self.charts["utilization"]]),
            ]
        )
        self.widget.add_class("scaleplan-explorer")
        self.refresh()

    @classmethod
    def from_scenario(
        cls,
        scenario: ScenarioSpec | str | Path,
        candidate: str | None = None,
        *,
        at_peak: bool = True,
        **options: Any,
    ) -> Explorer:
        """Explore one candidate of a scenario: its latency SLOs drawn, its cost table applied.

        The explorer starts at the scenario's peak load (``at_peak``) or today's mean, held
        steady as ``compare`` measures it (a diurnal load's busiest slice), and the
        cost is the scenario's cost table at the load the rate slider sets (a closed
        scenario: its peak or today's users, the cost at the requests/s MVA gives them).
        """
        from scaleplan.experiments import cost
        from scaleplan.spec import load_scenario

        loaded = scenario if isinstance(scenario, ScenarioSpec) else load_scenario(scenario)
        name = candidate or loaded.names[0]
        specs = loaded.architectures()
        if name not in specs:
            raise KeyError(f"no candidate {name!r} in {loaded.source} (has {loaded.names})")
        if loaded.workload.closed:
            # A closed workload's load is its users (the knob is workload.users).
            users = loaded.workload.peak_users if at_peak else loaded.workload.today_users
            spec = specs[name].with_changes({"workload.users": users})
        else:
            from scaleplan.load import held_steady

            # Measured as compare measures it: at a steady rate (a diurnal load's busiest
            # slice held, not the start of its day).
            rate = loaded.peak_rate_per_s if at_peak else loaded.today_rate_per_s
            spec = held_steady(specs[name]).with_changes({"workload.rate_per_s": rate})

        def cost_per_month(changed: ArchitectureSpec) -> float:
            from scaleplan.analytic import estimate

            load = (
                estimate(changed).throughput_per_s  # the users' requests/s, by MVA
                if changed.workload.closed
                else changed.workload.mean_rate_per_s
            )
            return cost(
                changed,
                loaded.costs,
                today_per_s=load,
                retention=loaded.nfrs.retention,
                candidate=name,
            ).per_month_today

        options.setdefault(
            "slo_ms",
            {
                slo.metric: slo.bound
                for slo in loaded.nfrs.slos
                if slo.is_latency and slo.request_class is None
            },
        )
        # Each class's objectives too, checked on the class's own figures.
        options.setdefault(
            "slos", [slo for slo in loaded.nfrs.slos if slo.is_latency and slo.request_class]
        )
        options.setdefault("cost_per_month", cost_per_month)
        options.setdefault("seed", loaded.run.seed)
        options.setdefault("currency", loaded.costs.currency)
        options.setdefault("title", f"{loaded.title} — {name}")
        return cls(spec, **options)

    # ------------------------------------------------------------------ public

    def update(self, changes: Mapping[str, Any]) -> None:
        """Set several controls at once (by key path) and recompute once."""
        unknown = [key for key in changes if key not in self.controls]
        if unknown:
            raise KeyError(f"no control for {unknown} (controls: {sorted(self.controls)})")
        self._holding = True
        try:
            for key, value in changes.items():
                self.controls[key].value = value
        finally:
            self._holding = False
        self.refresh()

    def changes(self) -> dict[str, Any]:
        """The values that differ from the base spec, by key path."""
        return {
            knob.key_path: self.controls[knob.key_path].value
            for knob in self.knobs
            if self.controls[knob.key_path].value != knob.value
        }

    def refresh(self) -> None:
        """Rebuild the spec from the controls; show the estimate, then the simulation.

        Any error is shown in the widget's error area and kept in ``last_error``.
        """
        started = time.perf_counter()
        self.last_error = None
        self.error_area.value = ""
        try:
            self._recompute()
        except Exception as error:  # shown to the user, not swallowed: see _show_error
            self._show_error(error)
        finally:
            self.timings.append(time.perf_counter() - started)

    def median_seconds(self) -> float:
        """The median time from a change to the finished redraw."""
        return statistics.median(self.timings) if self.timings else math.nan

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------------ work

    def _on_change(self, change: Mapping[str, Any]) -> None:
        if not self._holding:
            self.refresh()

    def _recompute(self) -> None:
        from scaleplan.analytic import estimate
        from scaleplan.engine import UnstableError, simulate

        spec = self.base_spec.with_changes(self.changes())
        self.spec = spec
        self.last_result = None
        self.last_unstable = None
        self.status.value = "estimating…"
        self.last_estimate = estimate(spec)
        self.status.value = (
            f"analytic estimate shown; simulating {self.requests:,} requests…"
            if self.run_simulation
            else self._status_text()
        )
        # The estimate goes to the table at once; the charts are drawn once, for the simulation
        # (drawing them twice per change would double what the browser has to do).
        self._render(draw=not self.run_simulation)
        if not self.run_simulation:
            return
        started = time.perf_counter()
        try:
            self.last_result = simulate(spec, seed=self.seed, requests=self.requests)
        except UnstableError as error:
            # Certainly unstable: the engine refuses before running (no hang, no memory).
            self.last_unstable = f"{error.unstable.component}: {error.unstable.reason}"
        else:
            unstable = self.last_result.unstable
            if unstable is not None:
                self.last_unstable = f"{unstable.component}: {unstable.reason}"
        self.last_simulation_s = time.perf_counter() - started
        self._render()
        # Last, so that a "simulated …" status means everything shown is up to date.
        self.status.value = self._status_text()

    def _status_text(self) -> str:
        estimate, result = self.last_estimate, self.last_result
        notes = []
        if estimate is not None and not estimate.stable and estimate.unstable is not None:
            notes.append(
                "the closed form puts "
                f"{html.escape(estimate.unstable.component)} at "
                f"{estimate.unstable.factor:.2f}× its capacity"
            )
        if self.last_unstable is not None:
            head = (
                "<b style='color:#a50026'>unstable</b> — "
                f"{html.escape(self.last_unstable)}; queues would grow without bound"
            )
        elif result is None:
            head = "analytic estimate"
        else:
            wall = self.last_simulation_s
            head = (
                f"simulated {result.requests.arrived:,} requests in {wall:.2f} s (seed {self.seed})"
            )
            if notes:
                notes.append("a short run may not show the queue's growth")
        return head + "".join(f"; {note}" for note in notes)

    def _show_error(self, error: BaseException) -> None:
        self.last_error = error
        detail = "".join(traceback.format_exception(error))
        self.error_area.value = (
            "<div style='color:#a50026;border:1px solid #a50026;padding:4px'>"
            f"<b>error:</b> {html.escape(str(error))}"
            f"<details><summary>traceback</summary><pre>{html.escape(detail)}</pre></details>"
            "</div>"
        )
        self.status.value = "error — see below; the last good figures are kept"

    # ------------------------------------------------------------------ drawing

    def _render(self, *, draw: bool = True) -> None:
        from scaleplan.graph import build_graph
        from scaleplan.views import figure_graph
        from scaleplan.widgets.figures import figure_latency, figure_utilization

        shown = self.last_result or self.last_estimate
        assert shown is not None
        self.summary.value = summary_html(
            self.last_estimate,
            self.last_result,
            self.slo_ms,
            class_slos=self.class_slos,
            cost_per_month=self.cost_per_month(self.spec) if self.cost_per_month else None,
            currency=self.currency,
        )
        self.figures = {
            "graph": figure_graph(
                build_graph(self.spec),
                shown,
                title=f"{html.escape(self.spec.name)} — coloured by {shown.method.split(':')[0]}",
            ),
            "latency": figure_latency(
                self.last_estimate, self.last_result, self.slo_ms, class_slos=self.class_slos
            ),
            "utilization": figure_utilization(shown),
        }
        if not draw or not _in_kernel():
            return  # outside Jupyter the figures are on self.figures; nothing to draw into
        for name, figure in self.figures.items():
            output = self.charts[name]
            with output:
                output.clear_output(wait=True)
                # Only the plotly mime type: JupyterLab renders it with its own plotly.js, so
                # no output carries a copy of the library and nothing is fetched from a CDN.
                figure.show(renderer="plotly_mimetype")

    def _control_panel(self, widgets: Any) -> ipywidgets.Widget:
        groups: dict[str, list[ipywidgets.Widget]] = {}
        for knob in self.knobs:
            groups.setdefault(knob.group, []).append(self.controls[knob.key_path])
        boxes = [
            widgets.VBox(
                [widgets.HTML(f"<b>{html.escape(group)}</b>"), *members],
                layout=widgets.Layout(margin="0 12px 0 0"),
            )
            for group, members in groups.items()
        ]
        return widgets.HBox(boxes, layout=widgets.Layout(flex_flow="row wrap"))


def _class_objectives(
    slos: Sequence[str | SLOSpec], slo_ms: dict[str, float], spec: ArchitectureSpec
) -> tuple[SLOSpec, ...]:
    """The request classes' latency objectives among ``slos``; a whole-system one is added to
    ``slo_ms``. An objective the explorer cannot show (not an SLO, not latency, an unknown
    class) is a :class:`~scaleplan.errors.SpecError` naming it and its place in ``slos``."""
    from scaleplan.errors import Problem, SpecError
    from scaleplan.spec import parse_slo

    classes = [cls.name for cls in spec.workload.classes]
    found, problems = [], []
    for index, item in enumerate(slos):
        where = f"slos.{index}"
        try:
            slo = item if isinstance(item, SLOSpec) else parse_slo(item)
        except ValueError as error:
            problems.append(Problem("Explorer", where, str(error)))
            continue
        if not slo.is_latency:
            problems.append(
                Problem(
                    "Explorer",
                    where,
                    f"the explorer checks latency objectives only (got {slo.text!r}); errors "
                    "and throughput are judged by scaleplan compare",
                )
            )
        elif slo.request_class is None:
            slo_ms[slo.metric] = slo.bound
        elif slo.request_class not in classes:
            known = ", ".join(classes) or "none"
            problems.append(
                Problem(
                    "Explorer",
                    where,
                    f"{spec.name} has no request class {slo.request_class!r} (got "
                    f"{slo.text!r}; classes: {known})",
                )
            )
        else:
            found.append(slo)
    if problems:
        raise SpecError(problems)
    return tuple(found)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _control(knob: Knob) -> ipywidgets.ValueWidget:
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    layout = widgets.Layout(width="320px")
    control: ipywidgets.ValueWidget
    if knob.kind == "int":
        control = widgets.IntSlider(
            value=int(knob.value),
            min=int(knob.minimum),
            max=int(knob.maximum),
            step=1,
            description=knob.label,
            continuous_update=False,
            style=style,
            layout=layout,
        )
    elif knob.kind == "float":
        control = widgets.FloatSlider(
            value=float(knob.value),
            min=knob.minimum,
            max=knob.maximum,
            step=knob.step,
            description=knob.label,
            continuous_update=False,
            readout_format=".3g",
            style=style,
            layout=layout,
        )
    else:
        control = widgets.Dropdown(
            value=str(knob.value),
            options=list(knob.options),
            description=knob.label,
            style=style,
            layout=layout,
        )
    control.add_class("scaleplan-control")
    control.add_class("scaleplan-knob-" + knob.key_path.replace(".", "-"))
    return control


# --------------------------------------------------------------------------- summary


def _verdict(value: float, bound: float | None) -> str:
    if bound is None:
        return ""
    if not math.isfinite(value):
        return f"≤ {bound:g} ms"
    ok = value <= bound
    mark = "✓" if ok else "✗"
    color = "#2ca25f" if ok else "#a50026"
    return f"<span style='color:{color}'>{mark} ≤ {bound:g} ms</span>"


def _judged(value: float, interval: tuple[float, float], bound: float | None) -> tuple[str, str]:
    """The interval to show beside a figure and its mark against ``bound``: by the 95% CI
    where there is one (pass when it clears the bound, fail when it lies beyond, "?" when it
    straddles it, as the NFR verdicts judge), else by the value."""
    low, high = interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return "", _verdict(value, bound)
    shown = f" <small>(95% CI {low:.1f}–{high:.1f})</small>"
    if bound is None:
        return shown, ""
    if high <= bound:
        return shown, _verdict(high, bound)  # passes
    if low > bound:
        return shown, _verdict(low, bound)  # fails
    # The run cannot say pass or fail (a class's share of the run often cannot).
    return shown, f"<span style='color:#b35806'>? ≤ {bound:g} ms: the 95% CI straddles it</span>"


def _class_row(
    estimate: SimulationResult | None, result: SimulationResult | None, slo: SLOSpec
) -> str:
    """One request class's figure from the estimate and the simulation, against its SLO."""
    cls, metric = str(slo.request_class), slo.metric

    def value(source: SimulationResult | None) -> float:
        found = source.classes.get(cls) if source is not None else None
        return math.nan if found is None else found.percentile(metric)

    guess, measured = value(estimate), value(result)
    found = result.classes.get(cls) if result is not None else None
    interval = (
        (found.mean_ci95 if metric == "mean" else found.percentile_ci95(metric))
        if found is not None
        else (math.nan, math.nan)
    )
    shown, mark = _judged(measured if result is not None else guess, interval, slo.bound)
    cell = _ms(measured) + shown
    label = "p99.9" if metric == "p999" else metric
    return (
        f"<tr class='scaleplan-class-slo'><td>{html.escape(cls)} {label}</td>"
        f"<td>{_ms(guess)}</td><td>{cell}</td>"
        f"<td>{mark} <small>(class {html.escape(cls)})</small></td></tr>"
    )


def summary_html(
    estimate: SimulationResult | None,
    result: SimulationResult | None,
    slo_ms: Mapping[str, float] | None = None,
    *,
    class_slos: Sequence[SLOSpec] = (),
    cost_per_month: float | None = None,
    currency: str = "",
) -> str:
    """An HTML table: each statistic from the estimate and the simulation, against its SLO.

    ``class_slos`` add one row each: the request class's figure (from the results' ``classes``)
    against its objective. The simulated p99 carries the class ``scaleplan-p99`` (the value
    the browser test reads).

    Examples
    --------
    >>> from scaleplan.analytic import estimate
    >>> from scaleplan.spec import example_spec
    >>> "92.1 ms" in summary_html(estimate(example_spec()), None, {"p99": 100})
    True
    """
    slo = dict(slo_ms or {})
    rows = []
    for name in ("mean", "p50", "p90", "p95", "p99", "p999"):
        label = "p99.9" if name == "p999" else name
        guess = estimate.latency_ms.percentile(name) if estimate else math.nan
        value = result.latency_ms.percentile(name) if result else math.nan
        interval: tuple[float, float] = (math.nan, math.nan)
        if result is not None:
            latency = result.latency_ms
            interval = latency.mean_ci95 if name == "mean" else latency.percentile_ci95(name)
        shown, mark = _judged(value if result else guess, interval, slo.get(name))
        css = " class='scaleplan-p99'" if name == "p99" else ""
        rows.append(
            f"<tr><td>latency {label}</td><td>{_ms(guess)}</td><td{css}>{_ms(value)}{shown}</td>"
            f"<td>{mark}</td></tr>"
        )
    rows.extend(_class_row(estimate, result, objective) for objective in class_slos)

    def figure(source: SimulationResult | None, attribute: str, unit: str) -> str:
        value = getattr(source, attribute) if source else math.nan
        return f"{value:,.1f}{unit}" if math.isfinite(value) else "—"

    rows.append(
        "<tr><td>throughput</td>"
        f"<td>{figure(estimate, 'throughput_per_s', '/s')}</td>"
        f"<td>{figure(result, 'throughput_per_s', '/s')}</td><td></td></tr>"
    )
    for label, source in (("estimate", estimate), ("simulation", result)):
        if source is None or not source.components:
            continue
        name, busiest = max(
            source.components.items(),
            key=lambda item: item[1].utilization if math.isfinite(item[1].utilization) else 0,
        )
        rows.append(
            f"<tr><td>busiest ({label})</td><td colspan='3'>{html.escape(name)} at "
            f"{busiest.utilization:.0%}</td></tr>"
        )
    if result is not None:
        counts = result.requests
        rows.append(
            f"<tr><td>requests</td><td colspan='3'>{counts.completed:,} completed, "
            f"{counts.rejected:,} rejected, {counts.failed:,} failed</td></tr>"
        )
    unit = f" {html.escape(currency)}" if currency else ""
    cost = "—" if cost_per_month is None else f"{cost_per_month:,.0f}{unit} per month at this load"
    rows.append(f"<tr><td>cost</td><td colspan='3' class='scaleplan-cost'>{cost}</td></tr>")
    return (
        "<table class='scaleplan-table' style='border-collapse:collapse'>"
        "<tr><th></th><th>estimate</th><th>simulation</th><th>SLO</th></tr>"
        + "".join(rows)
        + "</table>"
    )
