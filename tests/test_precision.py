"""Precision-driven run lengths: sequential stopping of compare's measurement, and the pull's
bracket from the analytic estimate, refereed by the M/M/c closed forms.

Fixed seeds throughout, so every test is deterministic; statistical assertions are that a 95%
CI covers the analytic value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.optimize import brentq

from scaleplan.analytic.queues import mmc, mmc_response_quantile
from scaleplan.errors import SpecError
from scaleplan.experiments import CompareSettings, compare, pull
from scaleplan.experiments.precision import (
    CAP_FACTOR,
    MIN_REPLICATIONS,
    LimitTarget,
    Stopping,
    decide,
    limit_target,
)
from scaleplan.spec import NFRSpec, load_scenario, parse_spec

MU_PER_S = 25.0  # each server: exponential service with mean 40 ms
SERVERS = 4  # c·μ = 100 requests/s
RATE_PER_S = 70.0  # ρ = 0.7
ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURES = ROOT / "data/architectures"


def station(name: str = "mmc") -> object:
    return parse_spec(
        {
            "name": name,
            "workload": {"rate_per_s": RATE_PER_S},
            "entry": "api",
            "components": {
                "api": {
                    "kind": "service",
                    "concurrency": SERVERS,
                    "service_time": {"dist": "exponential", "mean_ms": 1000.0 / MU_PER_S},
                }
            },
        }
    )


MEAN_MS = 1000.0 * mmc(RATE_PER_S, MU_PER_S, SERVERS).mean_response  # ≈ 54.3 ms


def settings(nfrs: list[str], **changes: object) -> CompareSettings:
    values: dict[str, object] = {
        "nfrs": nfrs,
        "replications": 5,
        "requests": 4000,
        "pull_replications": 0,
        "stopping": "precision",
        "ci_precision": 0.05,
        "weights": {"cost_per_month": 1.0},
    }
    values.update(changes)
    return CompareSettings(**values)  # type: ignore[arg-type]


def test_the_precision_driven_mean_latency_ci_covers_the_mm4_value():
    # Runs of 20,000 requests: shorter ones start empty often enough to bias the mean low,
    # which more replications would only narrow the interval around.
    result = compare(
        {"mmc": station()},
        settings(["mean<=500ms"], weights={"mean_ms": 1.0}, requests=20_000),
    )
    candidate = result.candidate("mmc")
    measured = candidate.measurement
    low, high = candidate.metrics_ci95["mean_ms"]
    assert low <= MEAN_MS <= high
    # It stopped because its figures were good enough, not because the budget ran out.
    assert measured["stop"] in ("precision reached", "verdict settled")
    assert MIN_REPLICATIONS <= measured["replications"] < 5 * CAP_FACTOR
    mean_figure = next(f for f in measured["figures"] if f["figure"] == "mean_ms")
    assert mean_figure["relative_half_width"] <= 0.05
    assert (high - low) / 2 / candidate.metrics["mean_ms"] <= 0.05
    assert measured["requests"] == measured["replications"] * 20_000
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert (data["stopping"], data["ci_precision"]) == ("precision", 0.05)
    stated = data["candidates"][0]["measurement"]
    assert stated["stop"] == measured["stop"] and stated["cap_replications"] == 10


def test_a_verdict_far_from_its_bound_stops_at_the_minimum():
    result = compare({"mmc": station()}, settings(["mean<=1000ms"]))
    measured = result.candidate("mmc").measurement
    assert measured["replications"] == MIN_REPLICATIONS < measured["cap_replications"]
    assert measured["stop"] in ("verdict settled", "precision reached")
    assert result.candidate("mmc").verdict("mean<=1000ms").status == "pass"


def test_a_verdict_on_its_bound_runs_to_the_cap_and_says_what_settling_costs():
    bound = f"mean<={MEAN_MS:.2f}ms"
    result = compare({"mmc": station()}, settings([bound]))
    candidate = result.candidate("mmc")
    measured = candidate.measurement
    assert measured["stop"] == "cap"
    assert measured["replications"] == measured["cap_replications"] == 5 * CAP_FACTOR
    verdict = candidate.verdict(bound)
    assert verdict.status == "inconclusive"
    # On its bound, settling it costs far beyond the budget (about 1.5 million requests
    # against a cap of 40,000): no count is promised, the cause says so and what it would take.
    assert verdict.extra_requests is None
    assert "cannot be settled within the budget" in verdict.cause
    assert "more simulated requests" in verdict.cause
    assert measured["settle_cap_requests"] == 10 * measured["cap_requests"]


def test_fixed_stopping_spends_exactly_the_budget():
    result = compare({"mmc": station()}, settings(["mean<=1000ms"], stopping="fixed"))
    measured = result.candidate("mmc").measurement
    assert (measured["replications"], measured["stop"]) == (5, "fixed budget")
    assert result.stopping == "fixed"


def test_candidates_that_stop_at_different_counts_are_paired_over_common_seeds():
    bound = f"mean<={MEAN_MS:.2f}ms"
    faster = station("faster").with_changes({"components.api.concurrency": 8})
    result = compare({"mmc": station(), "faster": faster}, settings([bound]))
    slow, fast = result.candidate("mmc").measurement, result.candidate("faster").measurement
    assert slow["replications"] == 10 and fast["replications"] == MIN_REPLICATIONS
    difference = result.difference("faster", "mean_ms")
    assert difference.replications == MIN_REPLICATIONS
    assert difference.significant and difference.relative < 0


def test_decide_asks_for_more_when_a_figure_is_wide_and_never_past_the_cap():
    stopping = Stopping("precision", 0.05, 5)
    assert (stopping.minimum, stopping.cap) == (MIN_REPLICATIONS, 10)
    assert Stopping("fixed", 0.05, 5).cap == Stopping("fixed", 0.05, 5).minimum == 5
    first = decide(stopping, [], NFRSpec(), {})
    assert not first.stop and first.next_total == MIN_REPLICATIONS


def test_the_pull_with_the_analytic_bracket_covers_the_mm4_limit():
    # The rate at which the M/M/4 response-time p99 equals 300 ms (≈ 82.2 requests/s).
    analytic = brentq(
        lambda rate: mmc_response_quantile(rate, MU_PER_S, SERVERS, 0.99) - 0.3,
        1e-6,
        SERVERS * MU_PER_S * (1 - 1e-9),
    )
    result = pull(station(), ["p99<=300ms"], seed=1, requests=10_000, replications=4, curve=())
    assert result.bracket_from == "analytic"
    # The estimate of an M/M/c p99 is exact, so the search starts at the limit itself.
    assert result.analytic_limit_per_s == pytest.approx(analytic, rel=0.01)
    low, high = result.limit_ci95
    assert low <= analytic <= high
    # Near the limit only: no step of the first search below 80% of it.
    first = [step.rate_per_s for step in result.steps if step.replication == 0]
    assert min(first) > 0.8 * analytic


def test_the_bound_bracket_is_still_reachable():
    result = pull(
        station(), ["p99<=300ms"], seed=1, requests=4000, replications=2, curve=(), bracket="bound"
    )
    assert result.bracket_from == "bound"
    assert result.steps[0].rate_per_s == pytest.approx(50.0)  # half the bound, as before
    with pytest.raises(ValueError, match="bracket must be"):
        pull(station(), ["p99<=300ms"], bracket="middle")  # type: ignore[arg-type]


@pytest.mark.usefixtures("allow_files_outside")
@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("{stopping: sometimes}", "run.stopping: "),
        ("{ci_precision: 0}", "run.ci_precision: must be greater than 0 (got 0)"),
        ("{ci_precision: 1.5}", "run.ci_precision: must be less than 1 (got 1.5)"),
        ("{ci_precision: .nan}", "run.ci_precision: "),
    ],
)
def test_bad_stopping_keys_name_the_key(tmp_path: Path, run: str, expected: str):
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "title: Minimal\nworkload:\n  today: {rate_per_s: 40}\ncandidates:\n"
        f"  - path: {ARCHITECTURES / 'monolith.yaml'}\nrun: {run}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_scenario(path)
    assert expected in str(caught.value)
    assert "scenario.yaml" in str(caught.value)


def test_a_scenario_defaults_to_precision_stopping():
    scenario = load_scenario(ROOT / "data/scenarios/online-shop.yaml")
    assert (scenario.run.stopping, scenario.run.ci_precision) == ("precision", 0.05)
    with pytest.raises(ValueError, match="ci_precision must be in"):
        compare({"mmc": station()}, settings(["mean<=1s"], ci_precision=2.0))


def test_a_limit_target_stops_on_precision_or_on_a_certain_fail():
    target = LimitTarget(0.05, (120.0,), weighted=True)
    assert target.reason(200.0, (195.0, 205.0)) == "precision reached"
    # A certain fail is the reason given even when the CI is also narrow enough.
    assert target.reason(80.0, (78.0, 82.0)) == "verdict settled"
    assert target.reason(80.0, (60.0, 100.0)) == "verdict settled"  # wholly below 120: gated
    assert target.gates((60.0, 100.0)) and not target.gates((100.0, 140.0))
    assert target.reason(130.0, (100.0, 160.0)) == ""  # straddles the threshold
    # Clearing every threshold on the good side is enough only when no criterion weighs it.
    assert target.reason(200.0, (150.0, 250.0)) == ""
    assert LimitTarget(0.05, (120.0,), weighted=False).reason(200.0, (150.0, 250.0)) == (
        "verdict settled"
    )
    nfrs = NFRSpec.model_validate(
        {"headroom": {"min_percent": 30}, "growth": {"horizon_months": 12}}
    )
    made = limit_target(nfrs, 70.0, 0.05, 0.05, {"runway_months": 1.0})
    assert made.thresholds == pytest.approx((100.0, 70.0 * 1.05**12)) and made.weighted


def test_the_pull_stops_searching_once_its_headroom_fails_for_certain():
    # Headroom 50% at a peak of 70/s needs a limit of 140/s: beyond the M/M/4's capacity.
    nfrs = NFRSpec.model_validate({"headroom": {"min_percent": 50}})
    target = limit_target(nfrs, RATE_PER_S, 0.0, 0.05, {"runway_months": 1.0})
    result = pull(
        station(),
        ["p99<=300ms"],
        seed=1,
        requests=3000,
        replications=6,
        curve=(),
        enough=target.reason,
        min_replications=2,
    )
    assert (result.replications, result.stop) == (2, "verdict settled")
    assert result.limit_ci95[1] < 140.0


def test_a_candidate_gated_by_its_limit_stops_measuring_at_the_minimum():
    # Its mean sits on the bound (alone it would run to the cap), but the headroom NFR fails
    # for certain: the candidate is gated, so nothing more is measured at peak.
    nfrs = NFRSpec.model_validate(
        {"slos": [f"mean<={MEAN_MS:.2f}ms"], "headroom": {"min_percent": 50}}
    )
    result = compare(
        {"mmc": station()},
        CompareSettings(
            nfrs=nfrs,
            replications=5,
            requests=4000,
            pull_replications=2,
            pull_requests=3000,
            stopping="precision",
            weights={"cost_per_month": 1.0},
        ),
    )
    candidate = result.candidate("mmc")
    assert candidate.measurement["replications"] == MIN_REPLICATIONS
    assert candidate.measurement["stop"] == "verdict settled"
    assert candidate.gated and candidate.pull is not None
    assert candidate.pull.stop == "verdict settled" and candidate.pull.replications == 2


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [("compare", "--stopping", "sometimes"), ("pull", "--bracket", "middle")],
)
def test_the_cli_refuses_an_unknown_rule_naming_the_option(command: str, option: str, value: str):
    from typer.testing import CliRunner

    from scaleplan.cli import app

    target = (
        ROOT / "data/scenarios/online-shop.yaml"
        if command == "compare"
        else ARCHITECTURES / "monolith.yaml"
    )
    result = CliRunner().invoke(app, [command, str(target), option, value])
    assert result.exit_code == 2
    assert option in result.output and value in result.output
    assert "Traceback" not in result.output
