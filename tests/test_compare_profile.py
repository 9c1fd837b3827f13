"""compare and the decision record over a scenario's load profile (issue 10).

A shop whose sale spikes to 6× today's 20 requests/s for a minute: two API servers (100
requests/s of capacity) overflow in the spike, four (200/s) do not. At the steady peak (3×)
both pass, so only the run through the profile tells them apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaleplan.experiments.compare import CompareSettings, ComparisonResult, compare
from scaleplan.spec import HOURS_PER_MONTH, load_scenario

SCENARIO = """
title: Flash sale on a small shop
workload:
  today: {arrival: poisson, rate_per_s: 20}
  peak_factor: 3
  profile:
    phases:
      - {name: before, duration_s: 30, steady: {factor: 1}}
      - {name: sale, duration_s: 60, spike: {factor: 6, rise_s: 5}}
      - {name: after, duration_s: 30, steady: {factor: 1}}
nfrs:
  slos: ["p99<=300ms", "errors<=1%"]
costs:
  currency: EUR
  defaults: {service: {per_replica_hour: 0.5}}
candidates:
  - name: two
    architecture:
      name: two
      workload: {rate_per_s: 20, requests: 1000}
      entry: api
      components:
        api: {kind: service, replicas: 2, concurrency: 1, queue_limit: 50,
              service_time: {dist: exponential, mean_ms: 20}}
  - name: four
    architecture:
      name: four
      workload: {rate_per_s: 20, requests: 1000}
      entry: api
      components:
        api: {kind: service, replicas: 4, concurrency: 1, queue_limit: 50,
              service_time: {dist: exponential, mean_ms: 20}}
run: {seed: 3, replications: 3, requests: 3000, pull_replications: 2, pull_requests: 2000}
"""

WINDOW_P99 = "p99<=300ms in every 12 s window of the load profile"
OVERALL_ERRORS = "errors<=1% over the load profile"


@pytest.fixture(scope="module")
def scenario_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("profile") / "sale.yaml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def compared(scenario_path: Path) -> ComparisonResult:
    return compare(load_scenario(scenario_path), workers=1)


def test_both_pass_at_the_steady_peak_but_only_four_through_the_spike(
    compared: ComparisonResult,
) -> None:
    two, four = compared.candidate("two"), compared.candidate("four")
    for candidate in (two, four):
        # Measured at the steady peak, shown, but not a gate: the profile judges latency.
        steady = candidate.at_peak("p99<=300ms")
        assert steady is not None and steady.status == "pass"
        assert candidate.verdict("p99<=300ms") is None
    assert (verdict := two.verdict(WINDOW_P99)) is not None and verdict.status == "fail"
    assert "windows fail" in verdict.reason() and "sale" in verdict.reason()
    assert (verdict := two.verdict(OVERALL_ERRORS)) is not None and verdict.status == "fail"
    assert two.gated and any(WINDOW_P99 in reason for reason in two.gate_reasons)
    assert (verdict := four.verdict(WINDOW_P99)) is not None and verdict.status == "pass"
    assert not four.gated
    assert compared.recommended == "four"


def test_the_event_is_priced_from_the_replica_hours_it_ran(compared: ComparisonResult) -> None:
    for candidate in compared.candidates:
        result = candidate.transient
        assert result is not None and result.event_cost is not None
        hours = result.replica_hours["api"].mean
        # A fixed number of replicas over the 120 s profile, at 0.5 EUR an hour each.
        replicas = {"two": 2, "four": 4}[candidate.name]
        assert hours == pytest.approx(replicas * 120 / 3600)
        assert result.event_cost.total.mean == pytest.approx(0.5 * hours)


def test_the_json_carries_the_profile_run(compared: ComparisonResult) -> None:
    data = json.loads(json.dumps(compared.to_dict()))
    profile = data["candidates"][0]["profile"]
    assert profile["replications"] == 3 and profile["peak_phase"] == "sale"
    assert len(profile["t_s"]) == len(profile["system"]["p99_ms"]["mean"])
    assert [v["nfr"] for v in profile["overall"]] == ["errors<=1%"]


def test_without_the_profile_the_comparison_is_the_steady_one(scenario_path: Path) -> None:
    settings = CompareSettings(profile=False, pull_replications=0)
    result = compare(load_scenario(scenario_path), settings, workers=1)
    assert all(c.transient is None for c in result.candidates)
    assert all(c.verdict(WINDOW_P99) is None for c in result.candidates)


def test_the_record_shows_each_option_through_the_profile(
    compared: ComparisonResult, scenario_path: Path
) -> None:
    from types import SimpleNamespace

    from scaleplan.report.record import load_profile

    evidence = SimpleNamespace(
        comparison=compared, scenario=load_scenario(scenario_path), spike=None
    )
    items = load_profile(evidence)  # type: ignore[arg-type]
    markdown, figure = items
    assert "### Through the load profile" in markdown
    assert "#### two" in markdown and "#### four" in markdown
    assert "cost of the event" in markdown and "replica\\-hours" in markdown
    assert "at the steady peak \\(shown, not a gate\\)" in markdown
    names = {trace.name for trace in figure.data}
    assert any("two" in str(name) for name in names) and any("four" in str(name) for name in names)


def test_the_plan_says_the_profile_and_where_each_slo_is_judged(scenario_path: Path) -> None:
    from scaleplan.report.plan import nfr_rows, workload_markdown

    scenario = load_scenario(scenario_path)
    workload = workload_markdown(scenario)
    assert "load profile" in workload and "sale\\: 1 min, spike to 6× \\(120/s\\)" in workload
    how = {requirement: checked for requirement, _, checked in nfr_rows(scenario)}
    assert how["p99<=300ms"].startswith("simulation through the load profile, in every window")
    assert how["errors<=1%"].startswith("simulation through the load profile, over all its")


def test_good_requests_are_those_within_every_latency_bound(scenario_path: Path) -> None:
    from scaleplan.experiments.transient import transient, with_profile
    from scaleplan.spec import NFRSpec

    scenario = load_scenario(scenario_path)
    profile = scenario.workload.profile
    assert profile is not None
    spec = with_profile(scenario.architectures()["four"], profile, scenario.today_rate_per_s)

    def run(slo: str) -> Any:
        slos = NFRSpec.from_slos((slo,)).slos
        return transient(spec, replications=2, seed=3, slos=slos, costs=scenario.costs)

    loose, tight = run("p99<=100000ms"), run("p99<=20ms")
    answered = sum(loose.system["throughput_per_s"].mean) * loose.bucket_s
    assert loose.good_requests is not None and tight.good_requests is not None
    # Every answer is within 100 s; over a third of the answers of a 20 ms exponential
    # service (e^-1 of them, before any wait) take longer than 20 ms.
    assert loose.good_requests.mean == pytest.approx(answered)
    assert 0 < tight.good_requests.mean < 0.9 * loose.good_requests.mean
    assert loose.event_cost is not None and loose.cost_per_million_good is not None
    per_good = [
        cost / good * 1e6
        for cost, good in zip(
            loose.event_cost.replications, [loose.good_requests.mean] * 2, strict=True
        )
    ]
    assert loose.cost_per_million_good.mean == pytest.approx(sum(per_good) / 2, rel=0.05)


def test_what_would_make_it_pass_says_where_it_was_measured(compared: ComparisonResult) -> None:
    from scaleplan.experiments.shortfall import needs

    said = needs(compared.candidate("two"), peak=60.0, growth=0.0)
    assert any("in the load profile's worst window, not 300 ms" in text for text in said), said
    assert any("over the load profile, not 1.0%" in text for text in said), said
    assert not any("at peak" in text for text in said), said


def test_the_compare_command_shows_the_profile_gates_and_the_steady_figures(
    scenario_path: Path,
) -> None:
    from typer.testing import CliRunner

    from scaleplan.cli import app

    done = CliRunner().invoke(app, ["compare", str(scenario_path), "--workers", "1"])
    assert done.exit_code == 0, done.output
    flat = " ".join(done.output.split())
    assert "NFR gates: latency and errors through the load profile" in flat
    assert "p99<=300ms at the steady peak" in flat  # the table may wrap the rest of the label
    assert "recommended: four" in flat


MIXED = """
title: A presale whose mix moves the bottleneck
workload:
  today: {arrival: poisson, rate_per_s: 10}
  profile:
    phases:
      - {name: before, duration_s: 60, steady: {factor: 1}}
      - {name: presale, duration_s: 60, steady: {factor: 4}, mix: {browse: 1, checkout: 1}}
nfrs: {slos: ["p99<=1000ms"]}
candidates:
  - name: shop
    architecture:
      name: shop
      workload:
        rate_per_s: 10
        requests: 1000
        classes: [{name: browse, weight: 9}, {name: checkout, weight: 1}]
      entry: api
      components:
        api:
          kind: service
          concurrency: 16
          service_time: {dist: exponential, mean_ms: 10}
          calls: [{to: pay, classes: [checkout]}]
        pay: {kind: service, concurrency: 4, service_time: {dist: exponential, mean_ms: 200}}
"""


def test_validate_checks_the_profile_peak_with_its_class_mix(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scaleplan.cli import app
    from scaleplan.preflight import check_scenario

    path = tmp_path / "mixed.yaml"
    path.write_text(MIXED)
    # At the presale's 40/s, today's 9:1 mix would send pay 4 checkouts/s (4 × 0.2 s on 4
    # slots: 20% busy); the presale's own 1:1 mix sends it 20/s: 20 × 0.2 / 4 = 1.0, no
    # steady state. The steady peak (10/s, no peak_factor) is far from either.
    checked = check_scenario(load_scenario(path)).candidates[0]
    assert checked.profile_peak is not None and checked.profile_phase == "presale"
    assert checked.profile_peak.refused
    done = CliRunner().invoke(app, ["validate", str(path)])
    assert done.exit_code == 0, done.output  # a transient run goes through an overload
    flat = " ".join(done.output.split())
    assert "overloaded at the profile's peak (phase presale, 40 requests/s)" in flat
    assert "pay: offered load is 1" in flat


def test_a_profile_that_says_how_often_it_happens_prices_the_month(
    scenario_path: Path, tmp_path: Path
) -> None:
    text = scenario_path.read_text().replace(
        "  profile:\n    phases:", "  profile:\n    per_month: 40\n    phases:"
    )
    text = text.replace(
        'nfrs:\n  slos: ["p99<=300ms", "errors<=1%"]',
        'nfrs:\n  slos: ["p99<=300ms", "errors<=1%"]\n  cost: {max_per_month: 5000}',
    )
    # Priced per request too, so that the spike's extra requests cost more than today's load
    # for as long (replicas alone are the same machines either way).
    text = text.replace(
        "service: {per_replica_hour: 0.5}",
        "service: {per_replica_hour: 0.5, per_million_requests: 100}",
    )
    path = tmp_path / "monthly.yaml"
    path.write_text(text)
    settings = CompareSettings(pull_replications=0)
    result = compare(load_scenario(path), settings, workers=1)
    for candidate in result.candidates:
        verdict = candidate.verdict("cost<=5000/month")
        through = candidate.transient
        assert verdict is not None and through is not None and through.event_cost is not None
        assert candidate.cost is not None
        today = candidate.cost.per_month_today
        # A month is 730.5 hours: the 120 s profile's share of today's month, and 40
        # profiles' extra over it.
        extra = max(0.0, through.event_cost.total.mean - today * 120 / (HOURS_PER_MONTH * 3600))
        assert extra > 0
        assert verdict.measured == pytest.approx(today + 40 * extra)
        assert "40 load profiles a month" in verdict.detail
        assert candidate.values["cost_per_month_with_profile"] == pytest.approx(verdict.measured)
    # Without per_month the month is the cost model's at peak, as without a profile.
    plain = compare(load_scenario(scenario_path), settings, workers=1)
    assert all(c.verdict("cost<=5000/month") is None for c in plain.candidates)


def test_precision_stopping_watches_no_figure_the_profile_judges(
    compared: ComparisonResult,
) -> None:
    """Under a profile the steady peak's latency and error figures are shown, not gates: the
    precision rule must not add steady replications to settle them (issue 10's gap)."""
    for candidate in compared.candidates:
        measurement = candidate.measurement
        assert measurement["stopping"] == "precision"
        watched = {figure["figure"] for figure in measurement["figures"]}
        assert not watched & {"p99<=300ms", "errors<=1%"}, (candidate.name, watched)


AUTOSCALED = """
title: An autoscaled API priced at today's load
workload:
  today: {arrival: poisson, rate_per_s: 5}
  peak_factor: 20
nfrs:
  slos: ["p99<=500ms"]
costs:
  currency: EUR
  defaults: {service: {per_replica_hour: 1.0}}
candidates:
  - name: scaled
    architecture:
      name: scaled
      workload: {rate_per_s: 5, requests: 1000}
      entry: api
      components:
        api:
          kind: service
          replicas: 1
          concurrency: 1
          queue_limit: 200
          service_time: {dist: exponential, mean_ms: 50}
          autoscale: {metric: utilization, target: 0.6, min_replicas: 1, max_replicas: 10,
                      interval_s: 5, boot_s: 5, cooldown_s: 30}
run: {seed: 2, replications: 2, requests: 4000, pull_replications: 2, pull_requests: 2000}
"""


def test_today_is_priced_at_the_replicas_the_autoscaler_settles_on_today(
    tmp_path: Path,
) -> None:
    """Today's month of an autoscaled service: the replicas its autoscaler settles on at
    today's 5 requests/s (a = 0.25 replicas, ceil(a/0.6) = 1), not the mean of a run at the
    20× peak (issue 10's gap: it was priced with the peak run's replicas)."""
    path = tmp_path / "scaled.yaml"
    path.write_text(AUTOSCALED)
    result = compare(load_scenario(path), workers=1)
    priced = result.candidate("scaled").cost
    assert priced is not None
    assert priced.per_month_today == pytest.approx(1.0 * HOURS_PER_MONTH)
    # The peak (100 requests/s, a = 5 replicas) is still billed for what its run measured.
    assert priced.per_month_peak > 2.0 * HOURS_PER_MONTH


def test_the_record_searches_the_chosen_options_spike_limit_when_asked(tmp_path: Path) -> None:
    """``run.spike_limit``: the record also says how big the sale may grow for the chosen
    option (four: 200 requests/s of capacity against the declared 6 × 20 = 120)."""
    from scaleplan.report.consistency import problems
    from scaleplan.report.record import gather, load_profile

    path = tmp_path / "sale.yaml"
    path.write_text(
        SCENARIO.replace("run: {seed: 3,", "run: {spike_limit: true, spike_searches: 2, seed: 3,")
    )
    evidence = gather(path, workers=1)
    assert evidence.comparison.recommended == "four"
    spike = evidence.spike
    assert spike is not None and spike.phase == "sale" and spike.declared_factor == 6
    assert len(spike.limits) == 2 and spike.limit > 6
    data = json.loads(json.dumps(evidence.to_dict()))
    assert data["spike_limit"]["candidate"] == "four"
    assert problems(data) == []
    markdown = load_profile(evidence)[0]
    assert "How big a spike the chosen option carries" in markdown
    assert "four\\: the largest sale it carries for 1 min" in markdown
    # What breaks first as the sale grows is the SLO broken at the smallest factor that broke.
    assert spike.binding == "p99<=300ms"


def test_a_backlog_nfr_is_a_gate_through_the_profile(tmp_path: Path) -> None:
    """``nfrs.backlog``: the largest queue through the sale gates each option (two servers
    hold a queue in the spike, four do not); without the profile it is said, not judged."""
    path = tmp_path / "sale.yaml"
    path.write_text(
        SCENARIO.replace(
            'slos: ["p99<=300ms", "errors<=1%"]',
            'slos: ["p99<=300ms", "errors<=1%"]\n  backlog: {max_queue: 20, drain_within: 30s}',
        )
    )
    scenario = load_scenario(path)
    result = compare(scenario, workers=1)
    queue_gate = "queue<=20 requests through the load profile"
    drain_gate = "backlog drains within 30 s after the peak phase"
    two, four = result.candidate("two"), result.candidate("four")
    verdict = two.verdict(queue_gate)
    assert verdict is not None and verdict.status == "fail" and verdict.kind == "backlog"
    assert "api holds" in verdict.reason()
    four_queue = four.verdict(queue_gate)
    assert four_queue is not None and four_queue.status == "pass"
    assert four.verdict(drain_gate) is not None
    steady = compare(scenario, CompareSettings(profile=False), workers=1)
    left_out = steady.candidate("two").verdict(queue_gate)
    assert left_out is not None and left_out.status == "not evaluated"


def test_a_backlog_nfr_needs_a_load_profile(tmp_path: Path) -> None:
    from scaleplan.errors import SpecError

    path = tmp_path / "steady.yaml"
    text = SCENARIO.replace(
        'slos: ["p99<=300ms", "errors<=1%"]',
        'slos: ["p99<=300ms", "errors<=1%"]\n  backlog: {max_queue: 20, component: nowhere}',
    )
    start = text.index("  profile:")
    end = text.index("nfrs:")
    path.write_text(text[:start] + text[end:])
    with pytest.raises(SpecError) as raised:
        load_scenario(path)
    said = str(raised.value)
    assert "nfrs.backlog: a backlog NFR is judged through the load profile" in said
    assert "nfrs.backlog.component: no candidate has a component named 'nowhere'" in said


def test_a_backlog_nfr_at_a_consumer_names_its_queue(tmp_path: Path) -> None:
    """A worker pool's backlog waits in the queue it consumes: naming the pool would judge a
    component where nothing waits (a pass by default), so it is refused with the queue's
    name; a component without a queue in some option is not evaluated there, never passed."""
    from scaleplan.errors import SpecError
    from scaleplan.experiments.transient import backlog_verdicts, transient_scenario
    from scaleplan.spec import BacklogNFR

    source = (Path(__file__).parent / "data" / "mail-backlog.yaml").read_text()
    path = tmp_path / "mail.yaml"
    path.write_text(source.replace("component: mail}", "component: mailer}"))
    with pytest.raises(SpecError, match="'mailer' consumes 'mail': its backlog waits there"):
        load_scenario(path)
    path.write_text(source)
    scenario = load_scenario(path)
    runs = transient_scenario(scenario, candidates=["big-pool"], replications=2)
    nowhere = BacklogNFR(max_queue=10, component="api-cache")
    (verdict,) = backlog_verdicts(runs["big-pool"], nowhere)
    assert verdict.status == "not evaluated" and "no queue is recorded" in verdict.detail


def test_the_good_points_do_not_say_at_peak_of_gates_judged_through_the_profile(
    compared: ComparisonResult, scenario_path: Path
) -> None:
    from types import SimpleNamespace

    from scaleplan.report.record import _good_points

    evidence = SimpleNamespace(comparison=compared, scenario=load_scenario(scenario_path))
    said = " ".join(_good_points(evidence, compared.candidate("four")))  # type: ignore[arg-type]
    assert "of the load profile at peak" not in said and "over the load profile at peak" not in said
    assert "window of the load profile" in said
