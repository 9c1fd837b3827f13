"""Reasons in words: every fail, refusal and exclusion names the component and the figure, in
the CLI, the JSON and the record; when no option passes, a stated ranking and what each needs."""

from __future__ import annotations

import json
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
    assert "within 0.2% of the bound" in judged.cause and f"{SETTLE_FACTOR * cap:,}" in judged.cause
    assert "cannot be settled" in judged.reason()
    # Within reach: kept as it is.
    reachable = Verdict(
        "p99<=150ms", "latency", "inconclusive", 140.0, (120.0, 160.0), 150.0, "ms", 10.0, 50_000
    )
    assert _unsettleable([reachable], cap) == [reachable]
