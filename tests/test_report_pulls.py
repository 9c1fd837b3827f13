"""One candidate's pull for the notebooks: over the rate for an open workload, over users for a
closed one."""

from __future__ import annotations

from pathlib import Path

from scaleplan.report.markup import Markdown
from scaleplan.report.pulls import pull_detail, ramp_detail
from scaleplan.spec import load_scenario

ROOT = Path(__file__).resolve().parents[1]
OPEN = ROOT / "data" / "scenarios" / "online-shop.yaml"
CLOSED = ROOT / "data" / "scenarios" / "booking-agents.yaml"


def test_an_open_candidate_is_pulled_over_its_rate_and_ramped() -> None:
    scenario = load_scenario(OPEN)
    table, curve, utilization = pull_detail(scenario, "monolith", budget=1500, replications=2)
    assert isinstance(table, Markdown) and "/min" in table
    assert "offered load" in curve.layout.xaxis.title.text
    assert utilization.data
    (ramped,) = ramp_detail(scenario, "monolith", requests=3000, steps=4)
    assert ramped.data


def test_a_closed_candidate_is_pulled_over_users_objective_by_objective() -> None:
    scenario = load_scenario(CLOSED)
    table, figure = pull_detail(scenario, "wider", budget=1500, replications=2)
    assert "users within its SLOs" in table
    for slo in ("p95&lt;=1500ms", "errors&lt;=0\\.1%"):
        assert slo in table
    assert table.count("breaks first") == 1
    # Nothing in this architecture can fail a request: the errors objective never breaks, so
    # its search stops for another reason and its figure is only a lower bound, said so.
    errors_row = next(line for line in table.splitlines() if line.startswith("| errors"))
    assert "not broken by itself" in errors_row and "lower bound" in errors_row
    assert figure.layout.xaxis.title.text == "concurrent users"
    (note,) = ramp_detail(scenario, "wider", requests=3000)
    assert isinstance(note, Markdown) and "closed workload" in note


LOSS_SCENARIO = """
title: A loss system's presale
workload:
  today: {arrival: poisson, rate_per_s: 10}
  profile:
    phases:
      - {name: before, duration_s: 20, steady: {factor: 1}}
      - {name: presale, duration_s: 60, steady: {factor: 3}}
      - {name: after, duration_s: 20, steady: {factor: 1}}
nfrs: {slos: ["errors<=3%"]}
candidates:
  - name: loss
    architecture:
      name: loss
      workload: {rate_per_s: 10, requests: 1000}
      entry: api
      components:
        api: {kind: service, concurrency: 5, queue_limit: 0,
              service_time: {dist: exponential, mean_ms: 100}}
run: {seed: 101, replications: 2}
"""


def test_the_spike_a_candidate_carries_is_said_with_its_steps(tmp_path: Path) -> None:
    from scaleplan.report.pulls import spike_detail

    path = tmp_path / "presale.yaml"
    path.write_text(LOSS_SCENARIO)
    (said,) = spike_detail(load_scenario(path), "loss", searches=2)
    # Erlang's loss formula puts the limit at 2.04× (tests/test_spike_limit.py): the declared
    # 3× breaks errors<=3%.
    # Markdown-escaped: "loss\\: the largest …", "errors&lt;=3%".
    assert "the largest presale it carries for 1 min is" in said
    assert "does not carry the declared spike" in said and "errors&lt;=3%" in said
    assert "| search | factor | held | broke |" in said


def test_without_a_profile_there_is_no_spike_to_grow() -> None:
    from scaleplan.report.pulls import spike_detail

    (said,) = spike_detail(load_scenario(OPEN), "monolith")
    assert "no load profile" in said
