"""Reasons in words: every fail, refusal and exclusion names the component and the figure, in
the CLI, the JSON and the record; when no option passes, a stated ranking and what each needs."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from scaleplan.cli import app
from scaleplan.report import record
from scaleplan.report.markup import Markdown

SCENARIOS = Path(__file__).resolve().parent / "data" / "scenarios"
OVERLOADED = SCENARIOS / "tiny-overloaded.yaml"
runner = CliRunner()
#: single's one app slot at the 90 requests/s peak: 90/s × 22 ms mean holding time.
FACTOR = re.compile(r"app: offered load is 1\.98× its capacity")


@functools.cache
def evidence() -> record.Evidence:
    return record.gather(OVERLOADED, workers=1)


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
        assert FACTOR.search(reason), reason
    text = json.dumps(data, ensure_ascii=False)
    assert "measured —" not in text


def test_the_record_names_the_component_and_the_factor() -> None:
    found = evidence()
    gates = _markdown(record.gates_table(found))
    assert FACTOR.search(gates), gates
    outcome = _markdown(record.decision_outcome(found))
    assert "measured —" not in outcome
    assert FACTOR.search(outcome), outcome
