"""The explorer's logic without a browser: set widget values in Python, assert on the model.

The browser side (JupyterLab, a real slider drag) is in ``test_browser.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import ipywidgets
import pytest
from _patterns import binomial_interval, covers, poisson_interval

from scaleplan.analytic import estimate
from scaleplan.engine import simulate
from scaleplan.spec import load_spec
from scaleplan.widgets import Explorer, discover_knobs, summary_html

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "data" / "architectures"
LB_CLUSTER = EXAMPLES / "lb-cluster.yaml"


@pytest.fixture
def lb_explorer() -> Explorer:
    return Explorer(LB_CLUSTER, requests=4000, slo_ms={"p99": 100.0})


def test_knobs_cover_rate_counts_policy_and_call_shares() -> None:
    keys = [knob.key_path for knob in discover_knobs(load_spec(LB_CLUSTER))]
    assert keys == [
        "workload.rate_per_s",
        "components.lb.policy",
        "components.api.replicas",
        "components.api.concurrency",
        "components.api.discipline",
        "components.api.calls.0.probability",
        "components.db.replicas",
        "components.db.concurrency",
        "components.db.discipline",
    ]


def test_rate_slider_reaches_past_the_bottleneck() -> None:
    from scaleplan.analytic import bottleneck

    spec = load_spec(LB_CLUSTER)
    rate = next(k for k in discover_knobs(spec) if k.key_path == "workload.rate_per_s")
    limit, component = bottleneck(spec)
    assert component == "api"
    assert rate.minimum < 150 < limit < rate.maximum


def test_every_slider_fires_on_release_only(lb_explorer: Explorer) -> None:
    sliders = [
        control
        for control in lb_explorer.controls.values()
        if isinstance(control, ipywidgets.IntSlider | ipywidgets.FloatSlider)
    ]
    assert len(sliders) == 6
    assert all(slider.continuous_update is False for slider in sliders)
    assert isinstance(lb_explorer.controls["components.lb.policy"], ipywidgets.Dropdown)


def test_initial_view_matches_a_direct_simulation(lb_explorer: Explorer) -> None:
    direct = simulate(load_spec(LB_CLUSTER), seed=1, requests=4000)
    result = lb_explorer.last_result
    assert result is not None
    assert result.latency_ms.p99 == direct.latency_ms.p99
    assert lb_explorer.last_estimate is not None
    assert (
        lb_explorer.last_estimate.latency_ms.mean == estimate(load_spec(LB_CLUSTER)).latency_ms.mean
    )
    assert lb_explorer.last_error is None
    assert f"{direct.latency_ms.p99:.1f} ms" in lb_explorer.summary.value


def test_a_slider_change_resimulates_and_redraws(lb_explorer: Explorer) -> None:
    before = lb_explorer.last_result
    figures_before = lb_explorer.figures
    assert before is not None
    lb_explorer.controls["components.api.concurrency"].value = 1
    after = lb_explorer.last_result
    assert lb_explorer.spec.components["api"].capacity == 3
    assert after is not None and after is not before
    # 3 slots instead of 24 at 150/s and ~14 ms per request: 72% busy instead of 9%.
    assert after.latency_ms.p99 > before.latency_ms.p99
    assert after.components["api"].utilization > 2 * before.components["api"].utilization
    assert f"{after.latency_ms.p99:.1f} ms" in lb_explorer.summary.value
    assert lb_explorer.figures is not figures_before
    utilization = lb_explorer.figures["utilization"].data[0]
    assert list(utilization.x) == ["api", "db"]
    assert utilization.y[0] == pytest.approx(after.components["api"].utilization)
    # The same seed for every change: moving back gives the first answer exactly.
    lb_explorer.controls["components.api.concurrency"].value = 8
    assert lb_explorer.last_result is not None
    assert lb_explorer.last_result.latency_ms.p99 == before.latency_ms.p99


def test_the_estimate_is_shown_before_the_simulation(
    lb_explorer: Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scaleplan.engine

    seen: dict[str, str] = {}
    real = scaleplan.engine.simulate

    def watching(*args: object, **kwargs: object) -> object:
        seen["summary"] = lb_explorer.summary.value
        seen["status"] = lb_explorer.status.value
        return real(*args, **kwargs)

    monkeypatch.setattr("scaleplan.engine.simulate", watching)
    lb_explorer.controls["workload.rate_per_s"].value = 300.0
    assert lb_explorer.last_estimate is not None
    guess = lb_explorer.last_estimate.latency_ms.mean
    assert f"{guess:.1f} ms" in seen["summary"]
    assert "simulating" in seen["status"]
    assert lb_explorer.last_result is not None
    assert lb_explorer.last_result.rate_per_s == 300.0


def test_policy_dropdown_and_call_share_change_the_spec(lb_explorer: Explorer) -> None:
    lb_explorer.controls["components.lb.policy"].value = "random"
    assert lb_explorer.spec.components["lb"].policy == "random"
    lb_explorer.controls["components.api.calls.0.probability"].value = 0.1
    result = lb_explorer.last_result
    assert result is not None
    # Each API request in the measured window calls the database with probability 0.1, so the
    # database's count is binomial in the API's: its exact 95% interval must cover 0.1.
    seconds = result.run.measured_s
    calls = round(result.components["db"].throughput_per_s * seconds)
    requests = round(result.components["api"].throughput_per_s * seconds)
    assert covers(binomial_interval(calls, requests), 0.1), (calls, requests)
    assert lb_explorer.changes() == {
        "components.lb.policy": "random",
        "components.api.calls.0.probability": 0.1,
    }


def test_update_sets_several_controls_and_recomputes_once(lb_explorer: Explorer) -> None:
    runs = len(lb_explorer.timings)
    lb_explorer.update({"components.api.replicas": 2, "components.api.concurrency": 4})
    assert len(lb_explorer.timings) == runs + 1
    assert lb_explorer.spec.components["api"].capacity == 8
    with pytest.raises(KeyError, match="no control for"):
        lb_explorer.update({"components.nope.replicas": 2})


def test_an_overload_is_reported_as_unstable_not_as_a_crash() -> None:
    from scaleplan.spec import example_spec

    explorer = Explorer(example_spec(), requests=2000)  # M/M/1, 10 ms, no queue limit
    explorer.update({"workload.rate_per_s": 150.0})  # 1.5× its capacity
    assert explorer.last_error is None
    assert explorer.last_unstable is not None and "api" in explorer.last_unstable
    assert "unstable" in explorer.status.value
    assert explorer.last_estimate is not None and not explorer.last_estimate.stable
    # The way back works: the explorer is not stuck after an unstable setting.
    explorer.update({"workload.rate_per_s": 50.0})
    assert explorer.last_unstable is None
    assert explorer.last_result is not None and explorer.last_result.stable


def test_an_overload_with_a_queue_limit_shows_the_rejections(lb_explorer: Explorer) -> None:
    lb_explorer.update({"components.api.replicas": 1, "workload.rate_per_s": 1500.0})
    result = lb_explorer.last_result
    assert lb_explorer.last_error is None and result is not None
    assert result.requests.rejected > 0
    assert f"{result.requests.rejected:,} rejected" in lb_explorer.summary.value


def test_an_error_in_a_callback_is_shown_in_the_widget(
    lb_explorer: Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the <engine> broke")

    monkeypatch.setattr("scaleplan.engine.simulate", broken)
    lb_explorer.controls["components.db.replicas"].value = 2  # must not raise
    assert isinstance(lb_explorer.last_error, RuntimeError)
    assert "the &lt;engine&gt; broke" in lb_explorer.error_area.value
    assert "RuntimeError" in lb_explorer.error_area.value  # the traceback is there to read
    assert "error" in lb_explorer.status.value
    monkeypatch.undo()
    lb_explorer.controls["components.db.replicas"].value = 1
    assert lb_explorer.last_error is None and lb_explorer.error_area.value == ""


def test_a_value_the_spec_refuses_names_the_key(lb_explorer: Explorer) -> None:
    # The sliders cannot produce it; a user widening a slider by hand can.
    concurrency = lb_explorer.controls["components.api.concurrency"]
    concurrency.min = 0
    concurrency.value = 0
    assert lb_explorer.last_error is not None
    assert "components.api.concurrency: must be at least 1 (got 0)" in lb_explorer.error_area.value


def test_cost_and_slo_are_shown(lb_explorer: Explorer) -> None:
    explorer = Explorer(
        LB_CLUSTER,
        requests=3000,
        slo_ms={"p99": 1.0},
        cost_per_month=lambda spec: 100.0 * spec.components["api"].replicas,
    )
    assert "300 per month" in explorer.summary.value
    assert "✗ ≤ 1 ms" in explorer.summary.value  # nobody meets a 1 ms p99
    explorer.controls["components.api.replicas"].value = 4
    assert "400 per month" in explorer.summary.value
    names = [trace.name for trace in explorer.figures["latency"].data]
    assert names == ["analytic estimate", "simulation", "SLO"]


def test_summary_without_a_simulation_shows_dashes() -> None:
    text = summary_html(None, None, {"p99": 5})
    assert text.count("—") >= 12 and "scaleplan-p99" in text


@pytest.mark.parametrize("name", ["lb-cluster", "monolith", "three-tier"])
def test_every_change_re_simulates_and_is_timed(name: str) -> None:
    """Each change of a bundled example re-simulates and records how long it took.

    How long is a speed target, measured by ``benchmarks/bench_explorer.py`` against the bare
    simulation in the same run, not asserted here.
    """
    explorer = Explorer(EXAMPLES / f"{name}.yaml")
    rate = explorer.controls["workload.rate_per_s"]
    base = rate.value
    seen = []
    for factor in (1.1, 1.2, 0.9, 1.3, 0.8, 1.0):
        rate.value = base * factor
        assert explorer.last_result is not None
        seen.append(explorer.last_result.rate_per_s)
    assert explorer.last_error is None
    assert seen == pytest.approx([base * f for f in (1.1, 1.2, 0.9, 1.3, 0.8, 1.0)])
    assert len(explorer.timings) == 7 and all(math.isfinite(t) for t in explorer.timings)


def test_a_scenario_candidate_brings_its_slos_cost_and_peak() -> None:
    from scaleplan.experiments import cost
    from scaleplan.spec import load_scenario

    path = ROOT / "data" / "scenarios" / "online-shop.yaml"
    scenario = load_scenario(path)
    explorer = Explorer.from_scenario(path, "lb-cluster", requests=3000)
    assert explorer.slo_ms == {"p99": 400.0}
    assert explorer.controls["workload.rate_per_s"].value == scenario.peak_rate_per_s
    assert explorer.last_result is not None
    assert explorer.last_result.rate_per_s == scenario.peak_rate_per_s
    expected = cost(
        explorer.spec,
        scenario.costs,
        today_per_s=scenario.peak_rate_per_s,
        retention=scenario.nfrs.retention,
        candidate="lb-cluster",
    ).per_month_today
    assert f"{expected:,.0f} EUR per month at this load" in explorer.summary.value
    explorer.controls["components.api.replicas"].value = 6  # three more replicas cost more
    assert f"{expected:,.0f} EUR" not in explorer.summary.value
    with pytest.raises(KeyError, match="no candidate 'nope'"):
        Explorer.from_scenario(path, "nope")


def test_a_diurnal_scenario_is_explored_at_its_peak_held_steady(tmp_path: Path) -> None:
    """The explorer starts at the scenario's peak, as compare measures it: a diurnal load's
    busiest slice held steady. It ran the day from its start instead, scaled to a mean of the
    peak: its 3,000 requests were the night's, at a fifth of the peak."""
    (tmp_path / "lb-cluster.yaml").write_text(
        (EXAMPLES / "lb-cluster.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    scenario = tmp_path / "daily.yaml"
    scenario.write_text(
        """\
title: Daily
workload:
  today:
    arrival: diurnal
    rate_per_s: 50
    diurnal: {profile: [0.2, 0.2, 0.6, 1.0, 1.8, 2.2], period_s: 3600}
nfrs: {slos: ["p99<=400ms"]}
candidates:
  - path: lb-cluster.yaml
""",
        encoding="utf-8",
    )
    explorer = Explorer.from_scenario(scenario, requests=3000)
    result = explorer.last_result
    assert result is not None and result.rate_per_s == pytest.approx(110.0)  # 50 × 2.2
    # The count answered in the measured window is Poisson with mean λ·T at the peak's rate.
    seconds = result.run.measured_s
    count = round(result.throughput_per_s * seconds)
    assert covers(poisson_interval(count), 110.0 * seconds), (count, 110.0 * seconds)


def test_pattern_components_get_their_knobs() -> None:
    """Shards of a database and the share answered at the edge are sliders like replicas."""
    sharded = Explorer(EXAMPLES / "sharded-db.yaml", requests=2000)
    shards = sharded.controls["components.orders-db.shards"]
    assert isinstance(shards, ipywidgets.IntSlider) and shards.continuous_update is False
    assert isinstance(sharded.controls["components.orders-db.partitioning"], ipywidgets.Dropdown)
    before = sharded.last_result
    shards.value += 1
    assert sharded.last_error is None and sharded.last_result is not before
    assert sharded.spec.components["orders-db"].shards == shards.value
    edge = Explorer(EXAMPLES / "edge-offload.yaml", requests=2000)
    share = edge.controls["components.cdn.share"]
    assert isinstance(share, ipywidgets.FloatSlider) and (share.min, share.max) == (0.0, 1.0)
    share.value = 0.0  # nothing answered at the edge: the origin serves every request
    assert edge.last_error is None and edge.last_result is not None
    result = edge.last_result
    assert result.components["cdn"].details["forwarded"] == result.requests.arrived
    web = result.components["web"].throughput_per_s
    assert web == result.components["cdn"].throughput_per_s
    # The web tier's count in the measured window is Poisson with mean λ·T: its exact 95%
    # interval must cover the offered rate times the window.
    seconds = result.run.measured_s
    count = round(web * seconds)
    expected = edge.spec.workload.mean_rate_per_s * seconds
    assert covers(poisson_interval(count), expected), (count, expected)


def test_the_discipline_dropdown_switches_a_service_to_processor_sharing(
    lb_explorer: Explorer,
) -> None:
    control = lb_explorer.controls["components.api.discipline"]
    assert isinstance(control, ipywidgets.Dropdown)
    assert tuple(control.options) == ("fifo", "lifo", "ps")
    before = lb_explorer.last_result
    control.value = "ps"
    assert lb_explorer.last_error is None and lb_explorer.last_result is not before
    assert lb_explorer.spec.components["api"].discipline == "ps"
    assert lb_explorer.changes() == {"components.api.discipline": "ps"}


def test_the_summary_gives_every_percentile_its_interval_and_judges_by_it() -> None:
    """Each simulated percentile shows its 95% CI, and its SLO mark follows the CI as the NFR
    verdicts do: a bound inside the interval is neither met nor missed."""
    from scaleplan.spec import example_spec

    spec = example_spec()
    result = simulate(spec, seed=1, requests=20_000)
    low, high = result.latency_ms.percentile_ci95("p99")
    for name in ("p50", "p90", "p95", "p99", "p999"):
        a, b = result.latency_ms.percentile_ci95(name)
        assert f"(95% CI {a:.1f}–{b:.1f})" in summary_html(estimate(spec), result, {})
    inside = summary_html(estimate(spec), result, {"p99": (low + high) / 2})
    assert "the 95% CI straddles it" in inside
    assert "✓ ≤" in summary_html(estimate(spec), result, {"p99": high * 1.01})
    assert "✗ ≤" in summary_html(estimate(spec), result, {"p99": low * 0.99})
