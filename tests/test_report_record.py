"""The decision record's sections, built from a real comparison (no papermill here)."""

from __future__ import annotations

import html
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _records import SCENARIOS, tiny_shop_evidence
from hypothesis import given, settings
from hypothesis import strategies as st

from scaleplan.report import plan, record
from scaleplan.report.markup import Markdown, table, text
from scaleplan.report.provenance import spec_hash
from scaleplan.spec import load_scenario

TINY = SCENARIOS / "tiny-shop.yaml"


def evidence() -> record.Evidence:
    return tiny_shop_evidence()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


#: What escaped text may render to: paragraphs of text — no link (not even a web address
#: made one by the renderer), no image, no script, no formatting.
TEXT_TAGS = {"p"}


def _safe(rendered: _Collector) -> bool:
    return set(rendered.tags) <= TEXT_TAGS and not rendered.links


def _render(markdown: str) -> _Collector:
    """Render Markdown as the HTML export does (nbconvert's markdown2html) and parse it."""
    from nbconvert.filters import markdown2html

    collector = _Collector()
    collector.feed(markdown2html(markdown))
    return collector


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1))
def test_any_text_renders_as_itself_and_makes_no_element(value: str) -> None:
    rendered = _render(text(value))
    assert _safe(rendered), (rendered.tags, rendered.links)
    shown = "".join(rendered.text)
    assert " ".join(shown.split()) == " ".join(value.split())


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "![x](https://example.com/beacon.png)",
        "<https://example.com>",
        "| a | b |\n|---|---|",
        "# heading",
        "```\ncode\n```",
        "&lt;already escaped&gt;",
    ],
)
def test_attacks_and_markup_stay_text(attack: str) -> None:
    rendered = _render(text(attack))
    assert _safe(rendered), (rendered.tags, rendered.links)
    assert "img" not in rendered.tags
    assert "".join(rendered.text).split() == attack.split()


def test_a_table_cell_cannot_break_out_of_its_table() -> None:
    rendered = _render(table(["a", "b"], [[text("x | y </td></tr>"), text("<b>z</b>")]]))
    assert rendered.tags.count("td") == 2 and "b" not in rendered.tags
    assert "x | y </td></tr>" in "".join(rendered.text)


def test_the_sections_come_in_madr_order() -> None:
    items = record.sections(evidence())
    headings = [
        line[3:]
        for item in items
        if isinstance(item, Markdown)
        for line in item.splitlines()
        if line.startswith("## ")
    ]
    assert headings == [
        "Context and Problem Statement",
        "Decision Drivers",
        "Considered Options",
        "Decision Outcome",
        "Consequences",
        "Confirmation",
        "Pros and Cons of the Options",
        "More Information",
        "Appendix: the monitoring design",
    ]
    figures = [item for item in items if not isinstance(item, str)]
    # one graph per option, p99, Pareto, runway, one pull per option (the matrix is a table)
    assert len(figures) == 2 + 3 + 2


def test_the_outcome_names_the_recommended_option_and_its_reasons() -> None:
    found = evidence()
    outcome = record.decision_outcome(found)
    head = outcome[0]
    chosen = found.comparison.recommended
    assert chosen is not None
    assert f'Chosen option: "**{text(chosen)}**", because' in head
    for reason in found.comparison.reasons:
        assert f"- {text(reason)}" in head
    gates = record.gates_table(found)
    rows = [line for line in gates.splitlines() if line.startswith("| ")][1:]
    verdicts = {v.nfr for c in found.comparison.candidates for v in c.verdicts}
    assert len(rows) == len(verdicts)
    assert all(row.count(" | ") == 2 for row in rows)  # NFR + one column per option
    heading, matrix = record.decision_matrix(found)
    assert "### Decision matrix" in heading
    # An HTML table: the chosen row highlighted and starred, every name escaped.
    assert matrix.count('<tr class="chosen">') == 1
    assert f'<tr class="chosen"><td>★ {html.escape(chosen)}</td>' in matrix
    # p99, the most-quoted figure, carries its 95% CI wherever the matrix shows it.
    if "p99_ms" in found.comparison.weights:
        for candidate in found.comparison.candidates:
            low, high = candidate.metrics_ci95["p99_ms"]
            assert f"[{low:.1f}, {high:.1f}]" in matrix


def test_no_option_is_chosen_when_every_one_fails_a_gate(tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(TINY.read_text().replace('"p99<=150ms"', '"p99<=1ms"'))
    found = record.gather(strict)
    assert found.comparison.recommended is None
    assert "status: open: no option passes every gate" in record.header(found)
    assert "No option is chosen" in record.decision_outcome(found)[0]
    assert "There is no chosen option to confirm" in record.confirmation(found)
    assert "No candidate meets every hard requirement" in record.consequences(found)
    assert found.metrics()["chosen"] is None


def test_the_confirmation_load_test_comes_from_the_nfrs_and_the_pull() -> None:
    found = evidence()
    confirm = record.confirmation_plan(found)
    peak = found.comparison.peak_rate_per_s
    chosen = found.chosen
    assert chosen is not None and chosen.pull is not None
    rates = [step["rate_per_s"] for step in confirm["ramp"]]
    assert rates[:4] == pytest.approx([0.25 * peak, 0.5 * peak, 0.75 * peak, peak])
    assert rates[-1] == pytest.approx(chosen.pull.limit_per_s, abs=1e-3)
    assert rates == sorted(rates)
    assert confirm["thresholds"] == [slo.text for slo in found.scenario.nfrs.slos]
    assert confirm["expected_bottleneck"] == chosen.pull.bottleneck
    p99 = chosen.verdict("p99<=150ms")
    assert p99 is not None
    assert confirm["expected_at_peak"]["p99<=150ms"]["measured"] == p99.measured
    section = record.confirmation(found)
    assert f"{peak:,.1f} requests/s" in section and "p99&lt;=150ms" in section


def test_more_information_lets_a_reader_reproduce_the_record() -> None:
    found = evidence()
    section = record.more_information(found)
    for name, spec in load_scenario(TINY).architectures().items():
        assert f"| {text(name)} | `{spec_hash(spec)}` |" in section
    assert f"`{found.key.digest}`" in section
    settings_ = found.settings
    assert f"scaleplan decide tiny-shop.yaml --seed {settings_.seed} --budget 2000" in section
    assert f"| scaleplan | {text(found.versions['scaleplan'])} |" in section
    assert f"{found.comparison.simulated_requests:,}" in section


def test_pros_and_cons_cover_every_option() -> None:
    found = evidence()
    section = record.pros_and_cons(found)
    for candidate in found.comparison.candidates:
        block = section.split(f"### {text(candidate.name)}")[1].split("### ")[0]
        assert "- Good, because" in block or "- Bad, because" in block
        assert "- Neutral: costs" in block


def test_the_json_holds_the_results_and_nothing_that_is_not_json(tmp_path: Path) -> None:
    found = evidence()
    path = record.save(found, tmp_path / "out")
    data = json.loads(path.read_text())
    assert data["metrics"] == json.loads(json.dumps(found.metrics()))
    assert data["comparison"]["recommended"] == found.comparison.recommended
    assert data["settings"] == found.settings.as_dict()
    assert data["run_key"]["digest"] == found.key.digest
    assert not list(tmp_path.glob("out/*.tmp"))
    text_ = path.read_text()
    assert "NaN" not in text_ and "Infinity" not in text_


def test_the_plan_shows_the_workload_and_nfrs() -> None:
    scenario = load_scenario(TINY)
    workload = plan.workload_markdown(scenario)
    assert "| peak | 90.0 requests/s (× 1.5 the mean) |" in workload
    assert "| peak in 12 months | 161.6 requests/s (at that growth) |" in workload
    nfrs = plan.nfrs_markdown(scenario)
    assert nfrs.count("\n| ") == 1 + 5  # header + p99, errors, headroom, growth, cost
    assert "✓ met" in plan.checklist_markdown(scenario)
    look = plan.first_look(scenario)
    assert re.search(r"\| single \| stable \| [\d.]+ ms \| app \d+% \|", look)


def test_the_plan_names_every_problem_of_a_draft() -> None:
    shown = plan.validation_markdown(
        {
            "title": "draft",
            "workload": {"today": {"rate_per_s": 5}},
            "nfrs": {"slos": ["p99 under 3"]},
            "candidates": [{"path": "nope.yaml"}],
        }
    )
    assert shown.startswith("✗ **")
    assert text("nfrs.slos[0]: not an SLO") in shown
    assert plan.validation_markdown(TINY).startswith("✓ **valid**: 2 candidates")
    assert math.isfinite(evidence().wall_s)
