"""Reasons in words: every fail, refusal and exclusion names the component and the figure, in
the CLI, the JSON and the record; when no option passes, a stated ranking and what each needs."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from _records import overloaded_evidence
from typer.testing import CliRunner

from scaleplan.cli import app
from scaleplan.report import record
from scaleplan.report.markup import Markdown

SCENARIOS = Path(__file__).resolve().parent / "data" / "scenarios"
OVERLOADED = SCENARIOS / "tiny-overloaded.yaml"
runner = CliRunner()
#: single's one app slot at the 90 requests/s peak: 90/s × 22 ms mean holding time.
FACTOR = re.compile(r"app: offered load is 1\.98× its capacity")


def evidence() -> record.Evidence:
    return overloaded_evidence()


def _markdown(items: object) -> str:
    parts = items if isinstance(items, list) else [items]
    joined = "\n".join(str(part) for part in parts if isinstance(part, Markdown))
    return re.sub(r"\\(.)", r"\1", joined)  # the Markdown escapes of literal text, undone


def test_the_cli_names_the_component_and_the_factor_of_a_refusal() -> None:
    command = ["compare", str(OVERLOADED), "--workers", "1"]
    result = runner.invoke(app, command, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "measured —" not in flat
    assert "fail —" not in flat
    assert FACTOR.search(flat), flat


def test_the_json_gate_reasons_name_the_component_and_the_factor() -> None:
    data = evidence().to_dict()
    single = next(c for c in data["comparison"]["candidates"] if c["name"] == "single")
    assert single["gate_reasons"]
    for reason in single["gate_reasons"]:
        assert "measured —" not in reason
        # The SLOs fail for the refusal; headroom and runway for the peak against the limit.
        if "p99" in reason or "errors" in reason:
            assert FACTOR.search(reason), reason
        else:
            assert re.search(r"the peak 90 requests/s is \d+\.\d\d× the sustainable", reason)
            assert "bottleneck app" in reason
    text = json.dumps(data, ensure_ascii=False)
    assert "measured —" not in text


def test_the_record_names_the_component_and_the_factor() -> None:
    found = evidence()
    gates = _markdown(record.gates_table(found))
    assert FACTOR.search(gates), gates
    outcome = _markdown(record.decision_outcome(found))
    assert "measured —" not in outcome
    assert FACTOR.search(outcome), outcome


def test_when_no_option_passes_they_are_ranked_by_the_stated_rule() -> None:
    comparison = evidence().comparison
    assert comparison.recommended is None
    ranking = comparison.ranking
    # pair fails 2 gates (headroom, runway), single 4 (both SLOs refused, headroom, runway).
    assert [row["candidate"] for row in ranking] == ["pair", "single"]
    assert [row["failed_gates"] for row in ranking] == [2, 4]
    reasons = " ".join(comparison.reasons)
    assert "fewest failed gates" in reasons and "never by file order" in reasons
    assert "1. pair" in reasons and "2. single" in reasons


def test_each_failing_option_is_told_the_capacity_it_needs() -> None:
    comparison = evidence().comparison
    pair = next(row for row in comparison.ranking if row["candidate"] == "pair")
    needed = 90 * 1.05**12  # runway ≥ 12 months at 5%/month from the 90 requests/s peak
    limit = comparison.candidate("pair").pull.limit_per_s  # type: ignore[union-attr]
    text = " ".join(pair["needs"])
    assert f"needs a sustainable limit of {needed:,.0f} requests/s" in text, text
    assert f"{needed / limit:.1f}× what it has" in text and "its bottleneck is app" in text
    outcome = _markdown(record.decision_outcome(evidence()))
    assert f"needs a sustainable limit of {needed:,.0f} requests/s" in outcome


def test_an_unsettleable_verdict_says_so_instead_of_a_huge_request_count() -> None:
    from scaleplan.experiments.compare import SETTLE_FACTOR, _unsettleable
    from scaleplan.experiments.nfr import Verdict

    near = Verdict(
        "p99<=150ms",
        "latency",
        "inconclusive",
        149.7,
        (140.0, 160.0),
        150.0,
        "ms",
        0.3,
        34_895_599,
        "mean over 2 replications",
    )
    cap = 2000 * 40
    (judged,) = _unsettleable([near], cap)
    assert judged.extra_requests is None
    assert "cannot be settled within the budget" in judged.cause
    assert "its estimate 149.7 ms sits 0.2% from the bound 150.0 ms" in judged.cause
    assert "inside a 95% CI of 140.0 ms to 160.0 ms" in judged.cause
    assert f"{SETTLE_FACTOR * cap:,}" in judged.cause
    assert "cannot be settled" in judged.reason()
    # Within reach: kept as it is.
    reachable = Verdict(
        "p99<=150ms", "latency", "inconclusive", 140.0, (120.0, 160.0), 150.0, "ms", 10.0, 50_000
    )
    assert _unsettleable([reachable], cap) == [reachable]


def test_no_resilience_part_and_no_good_point_from_a_short_limit_when_nothing_is_chosen(
    tmp_path: Path, monkeypatch
) -> None:
    from dataclasses import replace

    from scaleplan.report import present

    monkeypatch.setenv("SCALEPLAN_ALLOW_FILES_OUTSIDE", "1")
    found = evidence()
    # No option is chosen: no Resilience part is simulated for the baseline nobody chose.
    canary = Path(__file__).resolve().parent.parent / "data" / "rollouts" / "canary.yaml"
    scenario = tmp_path / "over.yaml"
    scenario.write_text(OVERLOADED.read_text() + f"resilience: {{rollout: {canary}}}\n")
    from scaleplan.spec import load_scenario

    with_keys = replace(found, scenario=load_scenario(scenario))
    assert present._resilience_work(with_keys) == {}
    (note,) = present.resilience(with_keys)
    assert "Resilience of" not in note and "no option is chosen" in note.lower()
    # Limits below the peak (53 and 16 requests/s against 90) are no good point.
    pros = _markdown(record.pros_and_cons(found))
    assert "carries up to" not in pros


def test_a_not_evaluated_verdict_carries_no_measured_value() -> None:
    from scaleplan.engine import simulate
    from scaleplan.experiments import check
    from scaleplan.spec import NFRSpec, example_spec

    nfrs = NFRSpec.model_validate(
        {"retention": {"days": 30, "writes_per_request": 1, "record_kb": 2}}
    )
    (verdict,) = check(simulate(example_spec(), seed=1, requests=500), nfrs)
    assert verdict.status == "not evaluated" and math.isnan(verdict.measured)
    assert "GB" in verdict.detail  # the storage it would take is still said, in words


def test_a_recommendation_with_an_inconclusive_gate_says_so() -> None:
    from dataclasses import replace

    from scaleplan.experiments.compare import _passes_text
    from scaleplan.experiments.nfr import Verdict

    pair = evidence().comparison.candidate("pair")
    settled = Verdict("p99<=400ms", "latency", "pass", 300.0, (290.0, 310.0), 400.0, "ms", 100.0)
    open_ = Verdict(
        "errors<=1%", "errors", "inconclusive", 0.01, (0.005, 0.015), 0.01, "fraction", 0
    )
    assert _passes_text(replace(pair, verdicts=(settled,))) == "passes every hard NFR gate"
    text = _passes_text(replace(pair, verdicts=(settled, open_)))
    assert text == "passes every hard NFR gate it could settle (errors<=1% is inconclusive)"


def test_decide_says_why_nothing_is_chosen_and_warns_of_contradictions(
    monkeypatch, tmp_path: Path
) -> None:
    import importlib

    from scaleplan.report.decide import DecisionRecord

    decide_module = importlib.import_module("scaleplan.report.decide")

    data = evidence().to_dict()
    made = DecisionRecord(
        str(OVERLOADED),
        tmp_path,
        tmp_path / "r.html",
        tmp_path / "r.ipynb",
        tmp_path / "r.json",
        data,
        1.0,
        ("pair: a made-up contradiction",),
    )
    monkeypatch.setattr(decide_module, "decide", lambda *a, **k: made)
    result = runner.invoke(app, ["decide", str(OVERLOADED)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "no option is chosen" in flat and "1. pair" in flat
    assert FACTOR.search(flat), flat
    assert "the record contradicts itself: pair: a made-up contradiction" in flat


def test_a_limit_above_the_peak_is_told_what_the_gate_needs() -> None:
    from _records import BUNDLED, SMALL_BUDGET

    found = record.gather(BUNDLED, budget=SMALL_BUDGET)
    monolith = found.comparison.candidate("monolith")
    headroom = next(r for r in monolith.gate_reasons if r.startswith("fails headroom>=30%"))
    # 1 / (1 − 0.3) = 1.43: the limit must be 1.43× the peak for 30% headroom.
    assert re.search(
        r"the sustainable limit of [\d,]+ requests/s is 1\.\d\d× the peak 225 requests/s, "
        r"short of the 1\.43× a 30% headroom needs; bottleneck \w+",
        headroom,
    ), headroom
    runway = next(r for r in monolith.gate_reasons if r.startswith("fails runway>=24 months"))
    assert f"short of the {1.08**24:.2f}× 24 months of 8% monthly growth need" in runway
