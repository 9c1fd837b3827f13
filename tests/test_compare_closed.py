"""A scenario whose load is users who think (a closed workload) through compare and the record.

The peak is users × peak_factor, each candidate is measured with the peak's users and pulled
over users, headroom and runway are in users, and the cost follows the requests/s the users
send (Mean Value Analysis at today's users). The checks against theory use product-form
candidates, whose exact MVA figures the simulation's 95% CIs must cover.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scaleplan.analytic import estimate
from scaleplan.cli import app
from scaleplan.errors import SpecError
from scaleplan.experiments import CompareSettings, compare
from scaleplan.experiments.rollout import deploy
from scaleplan.spec import load_scenario, parse_spec
from scaleplan.spec.rollout import RolloutSpec

THINK_MS = 1000.0


def tandem(name: str, web_slots: int, db_ms: float) -> dict[str, Any]:
    """A product-form closed tandem: web (``web_slots`` slots, exponential 60 ms) calling db
    (one slot, exponential ``db_ms``) without holding its slot."""
    return {
        "name": name,
        "workload": {"rate_per_s": 10},  # an open candidate: the scenario makes it closed
        "entry": "web",
        "components": {
            "web": {
                "kind": "service",
                "concurrency": web_slots,
                "service_time": {"dist": "exponential", "mean_ms": 60},
                "hold_during_calls": False,
                "calls": [{"to": "db"}],
            },
            "db": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": db_ms}},
        },
    }


def write_scenario(folder: Path, **changes: Any) -> Path:
    (folder / "small.yaml").write_text(yaml.safe_dump(tandem("small", 2, 40.0)), "utf-8")
    (folder / "big.yaml").write_text(yaml.safe_dump(tandem("big", 4, 20.0)), "utf-8")
    scenario: dict[str, Any] = {
        "title": "Booking agents",
        "workload": {
            "today": {
                "kind": "closed",
                "users": 10,
                "think_time": {"dist": "exponential", "mean_ms": THINK_MS},
                "classes": [{"name": "browse", "weight": 3}, {"name": "book", "weight": 1}],
            },
            "peak_factor": 1.5,
            "growth_percent_per_month": 5,
        },
        "nfrs": {
            "slos": ["mean<=400ms", "errors<=1%"],
            "headroom": {"min_percent": 20},
            "growth": {"horizon_months": 6},
        },
        "candidates": [{"path": "small.yaml"}, {"path": "big.yaml"}],
        "costs": {
            "currency": "EUR",
            "defaults": {"service": {"per_replica_hour": 0.1, "per_million_requests": 50.0}},
        },
        "run": {
            # 8 replications of 10,000 requests, as the MVA referee (tests/test_closed.py).
            "requests": 10_000,
            "replications": 8,
            "pull_requests": 3000,
            "pull_replications": 2,
            "stopping": "fixed",
        },
    }
    scenario.update(changes)
    path = folder / "agents.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), "utf-8")
    return path


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("closed"))


@pytest.fixture(scope="module")
def result(scenario_file: Path) -> Any:
    return compare(load_scenario(scenario_file), workers=1)


def test_the_scenario_makes_open_candidates_closed_and_scales_users_to_the_peak(
    scenario_file: Path,
) -> None:
    scenario = load_scenario(scenario_file)
    assert scenario.workload.closed
    assert (scenario.workload.today_users, scenario.workload.peak_users) == (10, 15)
    for spec in scenario.architectures().values():
        assert spec.workload.closed and spec.workload.total_users == 10
        assert spec.workload.rate_per_s is None  # the open candidate's rate is gone


def test_throughput_at_peak_covers_exact_mva_at_the_peak_users(result: Any) -> None:
    scenario_specs = {
        name: parse_spec(tandem(name, *args))
        for name, args in (("small", (2, 40.0)), ("big", (4, 20.0)))
    }
    assert result.closed and result.peak_users == 15 and result.today_users == 10
    assert math.isnan(result.peak_rate_per_s)
    for candidate in result.candidates:
        closed = scenario_specs[candidate.name].with_changes(
            {
                "workload": {
                    "kind": "closed",
                    "users": 15,
                    "think_time": {"dist": "exponential", "mean_ms": THINK_MS},
                }
            }
        )
        exact = estimate(closed)
        assert "exact" in exact.method, exact.method
        low, high = candidate.metrics_ci95["throughput_per_s"]
        assert low <= exact.throughput_per_s <= high, (candidate.name, low, high, exact)
        m_low, m_high = candidate.metrics_ci95["mean_ms"]
        assert m_low <= exact.latency_ms.mean <= m_high, (candidate.name, m_low, m_high)


def test_the_limit_headroom_and_runway_are_in_users(result: Any) -> None:
    for candidate in result.candidates:
        found = candidate.users_pull
        assert candidate.pull is None and found is not None
        assert found.limit_users >= 1
        headroom = candidate.verdict("headroom>=20%")
        assert headroom is not None
        assert headroom.measured == pytest.approx(1 - 15 / found.limit_users)
        assert "users" in headroom.detail
        runway = candidate.runway
        assert runway is not None
        expected = math.log(found.limit_users / 15) / math.log(1.05)
        assert runway.months == pytest.approx(max(0.0, expected))
        # The requests/s at the limit is what the decision matrix ranks as limit_per_s.
        assert candidate.values["limit_per_s"] == pytest.approx(found.throughput_per_s)
    small, big = (result.candidate(name) for name in ("small", "big"))
    assert big.users_pull.limit_users > small.users_pull.limit_users


def test_cost_follows_the_requests_the_users_send(result: Any, scenario_file: Path) -> None:
    scenario = load_scenario(scenario_file)
    for candidate in result.candidates:
        spec = scenario.architectures()[candidate.name]
        today = estimate(spec).throughput_per_s  # 10 users by MVA
        web = next(part for part in candidate.cost.components if part.component == "web")
        assert web.requests_per_s == pytest.approx(today)


def test_the_recommendation_speaks_of_users(result: Any) -> None:
    text = " ".join(result.reasons)
    assert "(15 users)" in text
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["workload"] == "closed" and data["peak_users"] == 15
    assert all(c["users_pull"]["limit_users"] >= 1 for c in data["candidates"])
    if result.recommended is not None:
        assert "users (" in text and "requests/s there" in text


def test_the_same_seed_gives_the_same_comparison(result: Any, scenario_file: Path) -> None:
    again = compare(load_scenario(scenario_file), workers=2)
    assert json.dumps(again.to_dict(), sort_keys=True, allow_nan=False) == json.dumps(
        result.to_dict(), sort_keys=True, allow_nan=False
    )


def test_a_class_with_its_own_users_is_refused(tmp_path: Path) -> None:
    path = write_scenario(tmp_path)
    data = yaml.safe_load(path.read_text("utf-8"))
    today = data["workload"]["today"]
    del today["users"]
    today["classes"][0]["users"], today["classes"][1]["users"] = 6, 4
    path.write_text(yaml.safe_dump(data), "utf-8")
    with pytest.raises(SpecError) as raised:
        load_scenario(path)
    problem = raised.value.problems[0]
    assert problem.key_path == "workload.today.classes[0].users"
    assert "by weight" in problem.message


def test_a_rate_cannot_be_forced_on_a_closed_scenario(scenario_file: Path) -> None:
    with pytest.raises(ValueError, match="users, not a rate"):
        compare(load_scenario(scenario_file), CompareSettings(peak_rate_per_s=5.0), workers=1)


def test_the_cli_prints_the_peak_in_users(scenario_file: Path) -> None:
    outcome = CliRunner().invoke(app, ["compare", str(scenario_file), "--workers", "1"])
    assert outcome.exit_code == 0, outcome.output
    assert "peak 15 users (today 10)" in outcome.output
    assert "nan" not in outcome.output


def test_a_closed_deploy_runs_with_its_users_not_a_rate() -> None:
    spec = parse_spec(tandem("small", 2, 40.0)).with_changes(
        {
            "workload": {
                "kind": "closed",
                "users": 6,
                "think_time": {"dist": "exponential", "mean_ms": THINK_MS},
            },
            "components.web.replicas": 2,
        }
    )
    plan = RolloutSpec.model_validate(
        {"component": "web", "strategy": "rolling", "start_s": 5, "boot_s": 2, "drain_s": 1}
    )
    result = deploy(spec, plan, seed=3)
    # Sized by the requests/s MVA predicts for the users, run by the users themselves.
    assert result.rate_per_s == pytest.approx(estimate(spec).throughput_per_s)
    run = result.strategies[0].runs[0]
    assert run.requests_during > 0
    with pytest.raises(Exception, match="users, not a rate"):
        deploy(spec, plan, seed=3, rate_per_s=5.0)


def test_the_record_reads_in_users_throughout(scenario_file: Path) -> None:
    from scaleplan.report.record import confirmation_plan, gather, sections

    evidence = gather(scenario_file, workers=1)
    parts = sections(evidence)
    markdown = "\n".join(part for part in parts if isinstance(part, str))
    assert "### NFR gates at peak (15 users)" in markdown
    assert "### The tractor pull over users" in markdown
    assert "| peak | 15 users" in markdown
    assert "nan" not in markdown.lower().replace("nanosecond", "")
    # The monitoring appendix speaks of users too (no pull over requests/s: no capacity alerts).
    assert "At the peak of 15 users the model predicts" in markdown
    plan = confirmation_plan(evidence)
    assert plan["workload"] == "closed" and plan["target_users"] == 15
    users = [step["users"] for step in plan["ramp"]]
    assert users == sorted(set(users)) and 15 in users
    json.dumps(evidence.to_dict(), allow_nan=False)
    figures = [part for part in parts if hasattr(part, "layout")]
    titles = [figure.layout.title.text or "" for figure in figures]
    assert sum("tractor pull over users" in title for title in titles) == 2


def test_an_empirical_think_time_file_is_read_next_to_the_scenario(tmp_path: Path) -> None:
    """Regression: the scenario's think-time file was looked for next to each candidate (and
    refused as outside a candidate's folder tree when the candidate sits in a subfolder)."""
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "small.yaml").write_text(yaml.safe_dump(tandem("small", 2, 40.0)))
    (tmp_path / "think.csv").write_text("think_ms\n800\n1200\n1000\n900\n1100\n")
    scenario = {
        "title": "Agents thinking as measured",
        "workload": {
            "today": {
                "kind": "closed",
                "users": 5,
                "think_time": {"dist": "empirical", "file": "think.csv"},
            }
        },
        "nfrs": {"slos": ["mean<=400ms"]},
        "candidates": [{"path": "arch/small.yaml"}],
        "run": {"requests": 2000, "replications": 2, "pull_requests": 1000, "pull_replications": 2},
    }
    path = tmp_path / "agents.yaml"
    path.write_text(yaml.safe_dump(scenario))
    loaded = load_scenario(path)
    think = loaded.architectures()["small"].workload.think_time
    assert think is not None and sorted(think.values) == [800, 900, 1000, 1100, 1200]
    result = compare(loaded, workers=1)
    assert result.candidate("small").users_pull is not None
