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
