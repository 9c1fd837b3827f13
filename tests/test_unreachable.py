"""An SLO no load can meet is diagnosed as such, and "timeouts" only where timeouts exist."""

from __future__ import annotations

import math
import re

from scaleplan.experiments import pull
from scaleplan.experiments._common import run_once
from scaleplan.experiments.pull import _failure_mode
from scaleplan.experiments.unreachable import unreachable
from scaleplan.spec import parse_slo, parse_spec

REQUESTS = 1500


def checkout(payments_mean_ms: float, **payments: object):
    """checkout (10 ms) always calls payments (exponential, ``payments_mean_ms``)."""
    return parse_spec(
        {
            "name": "shop",
            "workload": {"rate_per_s": 5},
            "entry": "checkout",
            "components": {
                "checkout": {
                    "kind": "service",
                    "concurrency": 8,
                    "service_time": {"dist": "exponential", "mean_ms": 10},
                    "calls": [{"to": "payments"}],
                },
                "payments": {
                    "kind": "service",
                    "concurrency": 64,
                    "service_time": {"dist": "exponential", "mean_ms": payments_mean_ms},
                    **payments,
                },
            },
        }
    )


def test_a_p99_that_the_payments_own_time_exceeds_is_unreachable_and_named() -> None:
    # payments' own p99 is 1,000 ms × ln 100 ≈ 4,605 ms: no load meets p99 ≤ 2,000 ms.
    result = pull(checkout(1000.0), ["p99<=2000ms"], requests=REQUESTS, replications=2, seed=3)
    assert result.limit_per_s == 0.0 and result.limit_ci95 == (0.0, 0.0)
    assert result.failure_mode == "unreachable"
    assert "payments" in result.failure_detail and "p99 ≤ 2,000 ms" in result.failure_detail
    assert re.search(r"payments's own p99 is 4,\d{3} ms", result.failure_detail)
    # One confirming step at a vanishing rate instead of bisecting down toward 0 (a full
    # search of 2 replications runs ten or more steps).
    assert result.runs <= 1 and result.requests <= 5 * REQUESTS


def test_the_judged_percentile_understates_the_analytic_one() -> None:
    # The verdict rests on the order statistic's 95% lower bound: below the exact 4,605 ms.
    found = unreachable(checkout(1000.0), [parse_slo("p99<=2000ms")])
    assert found is not None and found.component == "payments"
    assert 2000 < found.figure < 1000 * math.log(100)
    assert unreachable(checkout(1000.0), [parse_slo("p99<=5000ms")]) is None


def test_an_error_rate_below_a_components_own_failures_is_unreachable() -> None:
    spec = checkout(20.0, error_probability=0.05)
    result = pull(spec, ["errors<=1%"], requests=REQUESTS, replications=2, seed=3)
    assert result.limit_per_s == 0.0 and result.failure_mode == "unreachable"
    assert "payments" in result.failure_detail and "5%" in result.failure_detail


def test_a_reachable_slo_is_searched_as_before() -> None:
    result = pull(checkout(20.0), ["p99<=400ms"], requests=REQUESTS, replications=2, seed=3)
    assert result.limit_per_s > 0 and result.failure_mode != "unreachable"


def test_failed_requests_without_timeouts_are_not_called_timeouts() -> None:
    slos = [parse_slo("p99<=100ms")]
    spec = checkout(20.0, error_probability=0.5)
    run = run_once(spec, seed=1, rate_per_s=20.0, requests=REQUESTS)
    assert run.result is not None and run.result.requests.failed > 0
    mode, detail = _failure_mode(run, slos, spec)
    assert mode == "failed requests" and "timed out" not in detail
    timed = spec.with_changes({"components.checkout.calls": [{"to": "payments", "timeout_ms": 5}]})
    run = run_once(timed, seed=1, rate_per_s=20.0, requests=REQUESTS)
    mode, _ = _failure_mode(run, slos, timed)
    assert mode == "timeouts"
    assert math.isfinite(run.rate_per_s)


def test_the_pull_command_says_unreachable_and_names_the_component(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from scaleplan.cli import app

    path = tmp_path / "shop.yaml"
    path.write_text(
        "name: shop\nworkload: {rate_per_s: 5}\nentry: checkout\ncomponents:\n"
        "  checkout: {kind: service, concurrency: 8, service_time: {dist: exponential, "
        "mean_ms: 10}, calls: [{to: payments}]}\n"
        "  payments: {kind: service, concurrency: 64, service_time: {dist: exponential, "
        "mean_ms: 1000}}\n"
    )
    command = ["pull", str(path), "--slo", "p99<=2000ms", "--requests", str(REQUESTS)]
    result = CliRunner().invoke(app, command, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "sustainable limit: 0.0 requests/s" in flat
    assert "unreachable: payments's own p99 is" in flat and "1 steps and 1,500" in flat


def test_compare_names_the_component_of_an_unreachable_slo_in_its_reasons() -> None:
    from scaleplan.experiments import CompareSettings, compare
    from scaleplan.spec import NFRSpec

    nfrs = NFRSpec.model_validate({"slos": ["p99<=2000ms"], "headroom": {"min_percent": 20}})
    settings = CompareSettings(
        nfrs=nfrs,
        replications=2,
        requests=REQUESTS,
        pull_replications=2,
        pull_requests=REQUESTS,
        stopping="fixed",
    )
    result = compare({"slowpay": checkout(1000.0), "fastpay": checkout(400.0)}, settings)
    slow = result.candidate("slowpay")
    assert slow.pull is not None and slow.pull.limit_per_s == 0.0
    assert any("unreachable: payments's own p99" in reason for reason in slow.gate_reasons)
