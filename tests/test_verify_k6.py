"""k6's NDJSON points and --summary-export JSON, from fixture files in k6's documented formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from _verify_data import LOADS, STEP_S, make_plan, write_k6_points

from scaleplan.errors import SpecError
from scaleplan.verify import judge, read_results

# A --summary-export file as k6 writes it (trend stats with p(99) added to summaryTrendStats).
SUMMARY = {
    "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e"},
    "options": {"summaryTrendStats": ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"]},
    "state": {"isStdOutTTY": False, "isStdErrTTY": False, "testRunDurationMs": 20012.5},
    "metrics": {
        "http_reqs": {"count": 400, "rate": 19.988},
        "http_req_duration": {
            "avg": 25.1,
            "min": 3.2,
            "med": 20.3,
            "max": 310.0,
            "p(90)": 48.0,
            "p(95)": 61.0,
            "p(99)": 92.0,
        },
        "http_req_failed": {"passes": 0, "fails": 400, "value": 0},
        "vus": {"value": 20, "min": 20, "max": 20},
    },
}


def test_points_give_exact_figures_per_window(tmp_path: Path) -> None:
    loads = (LOADS[0], LOADS[1].__class__(40.0, 30.0, 30.0, 30.0, 30.0, error_rate=0.1))
    results = read_results(write_k6_points(tmp_path / "k6.json", loads))
    assert results.tool == "k6" and results.names == ("default",)
    window = results.window(STEP_S + 5, 2 * STEP_S)
    assert window is not None
    assert window.requests == 600 and window.throughput_per_s == pytest.approx(40.0)
    assert window.mean_ms == pytest.approx(30.0) and window.p99_ms == pytest.approx(30.0)
    assert window.error_rate == pytest.approx(0.1)
    by_name = results.window(STEP_S + 5, 2 * STEP_S, "default")
    assert by_name is not None and by_name.requests == 600


def test_a_gzipped_points_file_is_read_and_judged(tmp_path: Path) -> None:
    plain = write_k6_points(tmp_path / "k6.json", LOADS)
    packed = tmp_path / "k6.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    # Every duration is the step's mean, so percentiles are off their bands: compare the rest.
    plan = make_plan()
    steps = tuple(
        step.model_copy(
            update={
                "predicted": {
                    key: band for key, band in step.predicted.items() if not key.startswith("p")
                }
            }
        )
        for step in plan.steps
    )
    result = judge(plan.model_copy(update={"steps": steps}), read_results(packed))
    assert result.verdict == "confirmed", result.divergences


def test_the_summary_judges_a_plan_of_one_step(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(SUMMARY, indent=2))
    results = read_results(path)
    window = results.window(0, 1)
    assert window is not None
    assert (window.requests, window.failures, window.p50_ms, window.p99_ms) == (400, 0, 20.3, 92.0)
    assert judge(make_plan(LOADS[:1]), results).verdict == "confirmed"
    with pytest.raises(SpecError, match=r"summary\.json: holds whole-run figures only .* 3 steps"):
        judge(make_plan(), results)


REQS, NONE = {"count": 1, "rate": 1}, {"count": 0, "rate": 0}


def _point(moment: str) -> str:
    return json.dumps({"type": "Point", "data": {"time": moment, "value": 1}, "metric": "vus"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"k6\.json: is empty"),
        (json.dumps({"metrics": {"http_reqs": REQS}}), r"metrics\.http_req_duration: missing"),
        (json.dumps({"metrics": {"http_reqs": NONE, "http_req_duration": {}}}), "is 0"),
        (_point("2026-12-01T00:00:00Z"), "no http_req_duration"),
        (_point("yesterday"), r"k6\.json:1: data\.time: not an RFC 3339"),
        ("[1, 2", "not JSON"),
    ],
)
def test_bad_k6_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "k6.json"
    path.write_text(content)
    with pytest.raises(SpecError, match=message):
        read_results(path)
