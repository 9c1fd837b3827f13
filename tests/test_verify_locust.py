"""Locust's CSV output: read from a real (short, bounded, loopback) Locust run and from files.

The real run is the session's mixed run (``tests/locust_support.py``): the generated Locust
file of ``browse`` and ``fail`` (answered 500), 2 then 4 users at 5 requests/s for 5 s each.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _verify_data import LOADS, make_plan, write_locust
from locust_support import LocustRun

from scaleplan.errors import SpecError
from scaleplan.loadtest import Band, ClassRequest, LoadTestPlan, Step
from scaleplan.verify import ALL, judge, read_results


def _plan(mean: Band) -> LoadTestPlan:
    """A plan of the mixed run: 10 then 20 requests/s, a quarter of them failing."""
    return LoadTestPlan(
        scenario="tiny-shop.yaml",
        candidate="single",
        host="http://127.0.0.1",
        classes=(
            ClassRequest(name="browse", weight=3, path="/browse"),
            ClassRequest(name="fail", weight=1, path="/fail"),
        ),
        user_rate_per_s=5.0,
        steps=tuple(
            Step(
                index=index,
                start_s=5.0 * index,
                duration_s=5.0,
                settle_s=1.0,
                users=users,
                rate_per_s=5.0 * users,
                predicted={
                    "throughput_per_s": Band(mean=5.0 * users, low=4.0 * users, high=6.0 * users),
                    "mean_ms": mean,
                    "error_rate": Band(mean=0.25, low=0.05, high=0.45),
                },
                busiest_utilization=0.1,
                meets_slos=True,
            )
            for index, users in enumerate((2, 4))
        ),
    )


def test_a_real_locust_run_is_read_and_judged(mixed_locust_run: LocustRun) -> None:
    results = read_results(mixed_locust_run.prefix.with_name("results_stats.csv"))
    assert results.tool == "locust"
    assert set(results.names) == {"browse", "fail"}
    assert 8 <= results.span_s <= 14
    second = results.window(6, 10)
    assert second is not None and second.requests > 0
    fail = results.window(6, 10, "fail")
    assert fail is not None and fail.requests == fail.failures > 0
    browse = results.window(6, 10, "browse")
    assert browse is not None and browse.failures == 0
    assert browse.requests + fail.requests == second.requests
    # Wide margins only: a loopback server answering in ~5 ms, 10 then 20 requests/s offered.
    assert judge(_plan(Band(mean=50.0, low=1.0, high=500.0)), results).verdict == "confirmed"
    slow = judge(_plan(Band(mean=2000.0, low=1800.0, high=2200.0)), results)
    assert slow.verdict == "refuted"
    assert slow.causes[0].startswith("the system is faster than modelled")
    assert any("HTTPError" in message for message in results.failure_messages)  # type: ignore[attr-defined]


HEADER = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"run_stats_history\.csv: is empty"),
        (HEADER + "\n", r"run_stats_history\.csv:1: column 'Total Request Count': missing"),
    ],
)
def test_bad_history_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "run_stats_history.csv").write_text(content)
    with pytest.raises(SpecError, match=message):
        read_results(tmp_path / "run")


def test_a_bad_value_is_named_with_its_line(tmp_path: Path) -> None:
    path = write_locust(tmp_path / "run", LOADS)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 7)[0] + ",many,0,0,0.0,0,0,0"  # Total Request Count
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match=r"run_stats_history\.csv:6: 'many' is not a number"):
        read_results(tmp_path / "run")


def test_a_run_without_requests_is_refused(tmp_path: Path) -> None:
    path = write_locust(tmp_path / "run", LOADS)
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    with pytest.raises(SpecError, match="holds no requests"):
        read_results(tmp_path / "run")


def test_only_the_stats_file_names_the_missing_history(tmp_path: Path) -> None:
    (tmp_path / "run_stats.csv").write_text("Type,Name\n")
    with pytest.raises(SpecError, match=r"run_stats_history\.csv: no such file"):
        read_results(tmp_path / "run_stats.csv")


def test_the_aggregated_series_is_all_requests(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", LOADS)
    results = read_results(tmp_path / "run")
    everything, default = results.window(5, 20), results.window(5, 20, "default")
    assert everything is not None and everything == default
    assert results.window(5, 20, ALL) == everything
    assert judge(make_plan(), results).confirmed


def test_statistics_reset_mid_run_are_refused_with_the_line(tmp_path: Path) -> None:
    path = write_locust(tmp_path / "run", LOADS)
    lines = path.read_text().splitlines()
    lines.insert(8, lines[2])  # an early row again: counts fall back
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match=r"run_stats_history\.csv:9: default's row goes back"):
        read_results(tmp_path / "run")
