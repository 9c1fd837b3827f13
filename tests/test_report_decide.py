"""``decide``: the papermill run, the exported HTML record and the JSON beside it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from _records import ROOT, SCENARIOS, SMALL_BUDGET, bundled_record, xss_record

from scaleplan.errors import ReportError
from scaleplan.report.decide import (
    PLOTLY_JS_BANNER,
    TEMPLATE_ONLY_TAG,
    decide,
    self_contained_problems,
)

MADR_SECTIONS = [
    "Context and Problem Statement",
    "Decision Drivers",
    "Considered Options",
    "Decision Outcome",
    "Consequences",
    "Confirmation",
    "Pros and Cons of the Options",
    "More Information",
    "Appendix: the monitoring design",  # the chosen option's (scaleplan apm)
]


def _headings(page: str, level: int) -> list[str]:
    found = re.findall(rf"<h{level}[^>]*>(.*?)</h{level}>", page, flags=re.S)
    return [re.sub(r"<[^>]+>", "", heading).replace("¶", "").strip() for heading in found]


def _outside_plotly_js(page: str) -> str:
    banner = PLOTLY_JS_BANNER.search(page)
    assert banner is not None
    start = page.rfind("<script", 0, banner.start())
    end = page.find("</script>", banner.end())
    return page[:start] + page[end:]


def test_the_bundled_record_has_every_madr_section_in_order() -> None:
    record = bundled_record()
    page = record.html.read_text(encoding="utf-8")
    assert _headings(page, 2) == MADR_SECTIONS
    chosen = record.metrics["chosen"]
    assert chosen in record.results["comparison"]["recommended"]
    assert f"Chosen option: &quot;<strong>{chosen}</strong>&quot;, because" in page or (
        f'Chosen option: "<strong>{chosen}</strong>", because' in page
    )
    options = _headings(page, 3)
    for name in ("monolith", "lb-cluster", "three-tier"):
        assert options.count(name) == 2  # once under Considered Options, once under Pros and Cons
    for heading in ("NFR gates at peak (225 requests/s)", "Decision matrix"):
        assert heading in options
    # Each option drawn as its graph, plus any comparison figures.
    assert page.count("Plotly.newPlot(") >= 3
    # The bundled scenario names a DR file and a release plan: the chosen option's resilience.
    assert f"Resilience of {chosen}" in options
    assert f"Rolling out {chosen}" in _headings(page, 4)


def test_a_scenario_with_resilience_keys_gets_a_resilience_part(tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    plan = (ROOT / "data" / "rollouts" / "canary.yaml").read_text()
    (tmp_path / "plans" / "canary.yaml").write_text(
        plan.replace("component: api", "component: app")
    )
    shutil.copy(ROOT / "data" / "dr" / "online-shop-dr.yaml", tmp_path / "plans" / "dr.yaml")
    scenario = tmp_path / "tiny-shop.yaml"
    scenario.write_text(
        (SCENARIOS / "tiny-shop.yaml").read_text()
        + "resilience: {dr: plans/dr.yaml, rollout: plans/canary.yaml}\n"
    )
    record = decide(scenario, tmp_path / "out")
    page = record.html.read_text(encoding="utf-8")
    assert _headings(page, 2) == MADR_SECTIONS  # the part sits inside Consequences
    chosen = record.metrics["chosen"]
    assert f"Resilience of {chosen}" in _headings(page, 3)
    parts = _headings(page, 4)
    assert parts[0] == f"Rolling out {chosen}"
    assert parts[1].startswith("Disaster recovery: Online shop: recovering the orders database")
    assert parts[2] == f"Failures and availability of {chosen}"
    consequences, confirmation = page.index(">Consequences<"), page.index(">Confirmation<")
    assert consequences < page.index(f"Resilience of {chosen}") < confirmation
    assert "canary" in page and "warm-standby" in page and "RTO p99" in page
    assert self_contained_problems(page) == []


def test_without_resilience_keys_the_record_has_no_resilience_part() -> None:
    page = xss_record().html.read_text(encoding="utf-8")
    assert _headings(page, 2) == MADR_SECTIONS
    assert "Resilience of" not in page
    assert "Rolling out" not in page and "Disaster recovery" not in page


def test_the_record_is_one_self_contained_file() -> None:
    page = bundled_record().html.read_text(encoding="utf-8")
    assert self_contained_problems(page) == []
    assert len(PLOTLY_JS_BANNER.findall(page)) == 1  # plotly.js embedded exactly once
    outside = _outside_plotly_js(page)
    assert not re.search(r"<script[^>]*\bsrc=", outside)
    assert '<script src="http' not in page
    assert "cdn" not in outside.lower()
    assert "require.js" not in outside and "require.min.js" not in outside
    # plotly's own "MathJaxConfig: 'local'" says not to fetch MathJax; no MathJax script is.
    assert not re.search(r"mathjax[^\"'<>]*\.js", outside, flags=re.I)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", outside)
    size_mb = len(page.encode()) / 1e6
    assert size_mb < 8, f"{size_mb:.1f} MB"


def test_the_record_has_no_input_cells_and_no_template_notes() -> None:
    page = bundled_record().html.read_text(encoding="utf-8")
    assert "record.gather" not in page and "show(record" not in page
    assert not re.search(r"<div[^>]*class=\"[^\"]*jp-InputArea", page)
    assert "Decision record template (papermill)" not in page
    notebook = nbformat.read(bundled_record().notebook, as_version=4)
    assert any(TEMPLATE_ONLY_TAG in cell.metadata.get("tags", []) for cell in notebook.cells)
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and f"budget = {SMALL_BUDGET}" in injected[0].source
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []


def test_the_results_are_written_as_json_beside_the_record() -> None:
    record = bundled_record()
    assert record.json.parent == record.html.parent == record.notebook.parent
    data = json.loads(record.json.read_text(encoding="utf-8"))
    assert data["title"] == "Online shop: how to scale for the next two years"
    assert data["settings"]["requests"] == SMALL_BUDGET
    assert data["settings"]["seed"] == 1
    comparison = data["comparison"]
    assert [c["name"] for c in comparison["candidates"]] == ["monolith", "lb-cluster", "three-tier"]
    assert data["metrics"]["chosen"] == comparison["recommended"]
    for candidate in comparison["candidates"]:
        metrics = data["metrics"]["candidates"][candidate["name"]]
        assert metrics["p99_ms"] == candidate["metrics"]["p99_ms"]
        assert metrics["gated"] == candidate["gated"]
    assert set(data["run_key"]["spec_hashes"]) == {"monolith", "lb-cluster", "three-tier"}
    assert data["versions"]["scaleplan"] == data["run_key"]["scaleplan_version"]
    plan = data["confirmation"]
    assert plan["option"] == comparison["recommended"]
    assert plan["thresholds"] == ["p99<=400ms", "errors<=0.1%"]
    assert plan["ramp"][0]["rate_per_s"] == pytest.approx(0.25 * 225)


def test_everything_from_the_scenario_is_escaped() -> None:
    record = xss_record()
    page = record.html.read_text(encoding="utf-8")
    outside = _outside_plotly_js(page)
    # The title, as text, in <title> and in the heading.
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert re.search(r"<h1[^>]*>&lt;script&gt;alert\(1\)&lt;/script&gt;<a", page)
    for attack in (
        "<script>alert(",
        "<img",
        "<iframe",
        "<svg onload",
        'href="javascript:',
        "<b>bold?</b>",
        "<u>me</u>",
    ):
        assert attack not in outside, attack
    assert "&lt;img src=x onerror=" in page and "&lt;iframe" in page
    assert "`code` &amp; &lt;em&gt;" in page  # not a <code> element, not an <em>
    # Markdown in the scenario is text too: no bold, and the pipes did not break a table.
    assert "**not bold**" in page
    assert "<strong>not bold</strong>" not in page


def test_a_broken_scenario_fails_with_its_key_path_and_keeps_the_notebook(
    tmp_path: Path,
) -> None:
    with pytest.raises(ReportError) as caught:
        decide(SCENARIOS / "broken-spec.yaml", tmp_path)
    message = str(caught.value)
    assert "candidates[0].architecture.components.api.replicas: must be at least 1 (got 0)" in (
        message
    )
    kept = tmp_path / "broken-spec" / "decision-record.ipynb"
    assert f"failed notebook kept: {kept.resolve()}" in message
    notebook = nbformat.read(kept, as_version=4)
    assert any(
        output.get("ename") == "SpecError"
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert not (tmp_path / "broken-spec" / "decision-record.html").exists()
    assert not (tmp_path / "broken-spec" / "decision-record.json").exists()


def test_a_failed_rerun_leaves_no_stale_record(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    shutil.copytree(bundled_record().folder, folder)
    scenario = tmp_path / "shop.yaml"
    shutil.copy(SCENARIOS / "broken-spec.yaml", scenario)
    with pytest.raises(ReportError):
        decide(scenario, tmp_path)
    assert not (folder / "decision-record.html").exists()  # the old record is not left


def test_decide_on_a_missing_file_exits_2_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "scaleplan", "decide", str(missing), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"{missing}: file does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_offline_check_names_what_would_reach_the_network() -> None:
    page = (
        '<script src="https://cdnjs.cloudflare.com/require.min.js"></script>'
        '<link rel="stylesheet" href="https://fonts.example.com/a.css">'
        "<style>@import url('https://x.example/y.css');</style>"
    )
    problems = self_contained_problems(page)
    assert "a script loaded from https://cdnjs.cloudflare.com/require.min.js" in problems
    assert "a stylesheet or font from https://fonts.example.com/a.css" in problems
    assert "a CSS import from https://x.example/y.css" in problems
    twice = "/* * plotly.js v1 */ /* * plotly.js v1 */"
    assert "plotly.js is embedded 2 times" in self_contained_problems(twice)
    # A scenario may talk about CDNs: words are not requests.
    assert self_contained_problems("<p>Serve images from a CDN at the edge.</p>") == []
