"""The load formulas' spec transforms (scaleplan.load): a diurnal load held steady."""

from __future__ import annotations

from scaleplan.load import held_steady
from scaleplan.spec import parse_spec


def spec_with(workload: dict[str, object]):
    return parse_spec(
        {
            "name": "one",
            "workload": {"rate_per_s": 40, **workload},
            "entry": "api",
            "components": {
                "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 5}}
            },
        }
    )


def test_a_diurnal_load_becomes_poisson_at_its_rate() -> None:
    daily = spec_with({"arrival": "diurnal", "diurnal": {"profile": [1, 3], "period_s": 60}})
    steady = held_steady(daily)
    assert steady.workload.arrival == "poisson" and steady.workload.diurnal is None
    assert steady.workload.rate_per_s == daily.workload.rate_per_s == 40
    assert steady.components == daily.components


def test_other_arrival_processes_are_kept() -> None:
    bursty = spec_with(
        {
            "arrival": "bursty",
            "burst": {"rate_per_s": 200, "mean_duration_s": 1, "mean_gap_s": 30},
        }
    )
    for spec in (spec_with({}), spec_with({"arrival": "constant"}), bursty):
        assert held_steady(spec) is spec
