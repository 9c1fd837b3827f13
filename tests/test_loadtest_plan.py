"""The load-test plan file shared by ``scaleplan loadtest`` and ``scaleplan verify``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaleplan.errors import SpecError
from scaleplan.loadtest import Band, ClassRequest, LoadTestPlan, Step, read_plan, write_plan


def _plan() -> LoadTestPlan:
    band = Band(mean=20.0, low=19.0, high=21.0)
    return LoadTestPlan(
        scenario="shop.yaml",
        candidate="api",
        host="http://127.0.0.1:8000",
        classes=(ClassRequest(name="browse", weight=3, path="/browse"),),
        user_rate_per_s=1.0,
        slos=("p99<=300ms",),
        limit_per_s=80.0,
        limit_ci95=(75.0, 85.0),
        bottleneck="api",
        steps=tuple(
            Step(
                index=i,
                start_s=20.0 * i,
                duration_s=20.0,
                settle_s=5.0,
                users=10 * (i + 1),
                rate_per_s=10.0 * (i + 1),
                predicted={"throughput_per_s": band, "p95_ms": band},
                meets_slos=True,
            )
            for i in range(3)
        ),
    )


def test_a_plan_round_trips_through_its_file(tmp_path: Path) -> None:
    plan = _plan()
    path = write_plan(plan, tmp_path / "plan.json")
    again = read_plan(path)
    assert again == plan
    assert again.duration_s == 60.0
    assert again.steps[1].window_s == (25.0, 40.0)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    return path


def test_a_file_of_another_format_is_refused_by_name(tmp_path: Path) -> None:
    data = json.loads(_plan().to_json())
    data["format"] = "something-else/3"
    with pytest.raises(SpecError, match=r"plan\.json: format: must be 'scaleplan-loadtest-plan/1'"):
        read_plan(_write(tmp_path, data))


def test_a_bad_key_is_named_with_its_path(tmp_path: Path) -> None:
    data = json.loads(_plan().to_json())
    data["steps"][1]["users"] = 0
    with pytest.raises(SpecError, match=r"plan\.json: steps\[1\]\.users: "):
        read_plan(_write(tmp_path, data))


def test_steps_that_overlap_are_refused(tmp_path: Path) -> None:
    data = json.loads(_plan().to_json())
    data["steps"][2]["start_s"] = 30.0
    with pytest.raises(SpecError, match=r"step 2 starts at 30\.0 s, before step 1 ends"):
        read_plan(_write(tmp_path, data))


def test_a_band_out_of_order_and_an_unknown_figure_are_refused() -> None:
    with pytest.raises(ValueError, match="low <= mean <= high"):
        Band(mean=1.0, low=2.0, high=3.0)
    band = Band(mean=1.0, low=0.5, high=1.5)
    with pytest.raises(ValueError, match="unknown predicted figures"):
        Step(
            index=0,
            start_s=0,
            duration_s=10,
            settle_s=1,
            users=1,
            rate_per_s=1,
            predicted={"throughput_per_s": band, "p42_ms": band},
            meets_slos=True,
        )


def test_not_json_and_missing_files_are_clear(tmp_path: Path) -> None:
    broken = tmp_path / "plan.json"
    broken.write_text("{ not json")
    with pytest.raises(SpecError, match=r"plan\.json: not a JSON plan file"):
        read_plan(broken)
    with pytest.raises(SpecError, match=r"missing\.json: no such file"):
        read_plan(tmp_path / "missing.json")


def test_a_window_range_comes_whole_and_in_order() -> None:
    band = Band(mean=10.0, low=9.0, high=11.0, window_low=7.0, window_high=14.0)
    assert band.reach == (7.0, 14.0)
    assert Band(mean=10.0, low=9.0, high=11.0).reach == (9.0, 11.0)
    with pytest.raises(ValueError, match="give both window_low and window_high"):
        Band(mean=10.0, low=9.0, high=11.0, window_low=7.0)
    with pytest.raises(ValueError, match="window_low <= window_high"):
        Band(mean=10.0, low=9.0, high=11.0, window_low=14.0, window_high=7.0)
