"""Load profiles: the spec, its exact rate integral and inversion, and the arrivals it makes.

The arrival checks are statistical with fixed seeds: 25 independent draws of the profile's
process (one per seed); per phase, the Student-t 95% CI of the count across them must cover
the expected count base × ∫factor (exact, from the closed-form integral), and the share of
each class in a phase with a mix (12 seeded runs) must have its CI cover the mix's weight
share.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from scaleplan.engine.arrivals import profile_gaps, profile_times
from scaleplan.engine.run import simulate
from scaleplan.errors import SpecError
from scaleplan.metrics import replication_ci
from scaleplan.spec import WorkloadSpec, parse_spec
from scaleplan.spec.profile import ProfileSpec, Segment

EVERY_SHAPE: dict[str, Any] = {
    "phases": [
        {"name": "calm", "duration_s": 40, "steady": {"factor": 1}},
        {"name": "rise", "duration_s": 30, "ramp": {"from": 1, "to": 4}},
        {"name": "onsale", "duration": "1min", "spike": {"factor": 8, "rise_s": 10, "base": 4}},
        {"name": "crowd", "duration_s": 50, "flash": {"factor": 6, "half_life_s": 8}},
        {
            "name": "day",
            "duration_s": 48,
            "daily": {"hours": [0.5] * 12 + [2.0] * 12, "compress": True},
        },
    ]
}


def exponential(mean_ms: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_ms": mean_ms}


def test_every_shape_integrates_in_closed_form() -> None:
    profile = ProfileSpec.model_validate(EVERY_SHAPE)
    assert profile.duration_s == 228.0
    assert profile.labels() == ["calm", "rise", "onsale", "crowd", "day"]
    expected = {
        "calm": 40.0,
        "rise": 30 * (1 + 4) / 2,
        "onsale": 2 * 10 * (4 + 8) / 2 + 40 * 8,
        "crowd": 50 * 1 + 5 * 8 / math.log(2) * (1 - 2 ** (-50 / 8)),
        "day": 24 * 0.5 + 24 * 2.0,
    }
    for (name, want), (start, end) in zip(expected.items(), profile.bounds(), strict=True):
        got = profile.cumulative(end) - profile.cumulative(start)
        assert got == pytest.approx(want, rel=1e-12), name
    # The numeric integral of factor_at agrees (the factor and its integral are one model).
    grid = np.linspace(0, profile.duration_s, 228_001)[:-1] + 0.0005
    assert float(profile.factor_at(grid).sum()) * 0.001 == pytest.approx(
        profile.cumulative(228), rel=1e-5
    )
    assert profile.max_factor == 8.0
    assert profile.peak_phase() == 2


@pytest.mark.parametrize(
    "piece",
    [
        Segment(0.0, 10.0, 2.0, 0.0),
        Segment(0.0, 10.0, 0.0, 0.3),
        Segment(5.0, 15.0, 4.0, -0.4),
        Segment(0.0, 30.0, 1.0, 0.0, 5.0, math.log(2) / 4),
        Segment(0.0, 30.0, 6.0, 0.0, -5.0, 0.2),
    ],
)
def test_inversion_is_exact(piece: Segment) -> None:
    length = piece.end - piece.start
    for tau in np.linspace(0, length, 31):
        mass = piece.integral(float(tau))
        assert piece.invert(mass) == pytest.approx(float(tau), abs=1e-9)


def test_counts_per_phase_cover_the_integral_of_the_rate() -> None:
    profile = ProfileSpec.model_validate(EVERY_SHAPE)
    base = 5.0
    counts = []
    for seed in range(1, 26):
        times = np.fromiter(profile_times(profile, np.random.default_rng(seed), base), float)
        assert np.all(np.diff(times) > 0) and times[-1] < profile.duration_s
        counts.append([np.sum((times >= a) & (times < b)) for a, b in profile.bounds()])
    per_phase = np.array(counts, dtype=float)
    for index, (start, end) in enumerate(profile.bounds()):
        expected = base * (profile.cumulative(end) - profile.cumulative(start))
        ci = replication_ci(per_phase[:, index])
        assert ci.low <= expected <= ci.high, (index, expected, ci)
    # Within the flash phase the arrivals fall off as its factor: the first half-life holds
    # more than the last 8 s by far (factor 6 → ≈ 1).
    crowd = profile.bounds()[3][0]
    gaps = np.fromiter(profile_gaps(profile, np.random.default_rng(99), 50.0), float)
    times = np.cumsum(gaps)
    early = np.sum((times >= crowd) & (times < crowd + 8))
    late = np.sum((times >= crowd + 42) & (times < crowd + 50))
    assert early > 3 * late


def test_class_mix_per_phase() -> None:
    spec = parse_spec(
        {
            "name": "mixed",
            "entry": "a",
            "workload": {
                "arrival": "profile",
                "rate_per_s": 40,
                "classes": [{"name": "browse", "weight": 9}, {"name": "buy", "weight": 1}],
                "profile": {
                    "phases": [
                        {"duration_s": 20, "steady": {"factor": 1}},
                        {"duration_s": 20, "steady": {"factor": 1}, "mix": {"buy": 3, "browse": 1}},
                        {"duration_s": 20, "steady": {"factor": 1}, "mix": {"buy": 1}},
                    ]
                },
            },
            "components": {
                "a": {"kind": "service", "concurrency": 100, "service_time": exponential(1)}
            },
        }
    )

    class Arrivals:
        """Each answered request's arrival time and class (the engine's observer hook)."""

        def __init__(self) -> None:
            self.seen: list[tuple[float, int]] = []

        def on_request_done(self, job: Any, status: int) -> None:
            self.seen.append((job.arrived, job.class_index))

    shares: list[list[float]] = []
    for seed in range(1, 13):
        watch = Arrivals()
        simulate(spec, seed=seed, observers=[watch])
        seen = np.array(watch.seen)
        phase = np.minimum((seen[:, 0] // 20).astype(int), 2)
        buy = seen[:, 1] == 1  # classes in the order given: browse 0, buy 1
        shares.append([float(buy[phase == i].mean()) for i in range(3)])
    per_phase = np.array(shares)
    for index, expected in enumerate([0.1, 0.75]):
        ci = replication_ci(per_phase[:, index])
        assert ci.low <= expected <= ci.high, (index, ci)
    assert np.all(per_phase[:, 2] == 1.0)  # only 'buy' in the last phase


def test_an_architecture_runs_its_profile_for_its_duration() -> None:
    spec = parse_spec(
        {
            "name": "profiled",
            "entry": "a",
            "workload": {"arrival": "profile", "rate_per_s": 10, "profile": EVERY_SHAPE},
            "components": {
                "a": {"kind": "service", "concurrency": 200, "service_time": exponential(5)}
            },
        }
    )
    workload = spec.workload
    assert workload.time_bound_s == 228.0
    assert workload.mean_rate_per_s == pytest.approx(
        10 * ProfileSpec.model_validate(EVERY_SHAPE).mean_factor
    )
    assert workload.peak_rate_per_s == 80.0
    result = simulate(spec, seed=1)
    assert result.timeseries is not None
    assert result.timeseries.bucket_s == pytest.approx(228 / 60)
    assert result.requests.conserved()
    # Arrivals stop with the profile: the last bucket of the profile is the last with any.
    arrivals = np.array(result.timeseries.system.arrivals_per_s)
    assert arrivals[:60].sum() > 0 and arrivals[60:].sum() == 0


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    return [f"{p.key_path}: {p.message}" for p in caught.value.problems]


def base(profile: Any, **workload: Any) -> dict[str, Any]:
    return {
        "name": "bad",
        "entry": "a",
        "workload": {"arrival": "profile", "rate_per_s": 10, "profile": profile, **workload},
        "components": {"a": {"kind": "service", "service_time": exponential(5)}},
    }


@pytest.mark.parametrize(
    ("profile", "workload", "expected"),
    [
        (
            {"phases": [{"duration_s": 10}]},
            {},
            "exactly one of steady, ramp, spike, daily, flash (got none)",
        ),
        (
            {"phases": [{"duration_s": 10, "steady": {}, "ramp": {"from": 1, "to": 2}}]},
            {},
            "(got steady, ramp)",
        ),
        (
            {"phases": [{"duration_s": 10, "spike": {"factor": 5, "rise_s": 6}}]},
            {},
            "at most half its duration",
        ),
        (
            {"phases": [{"duration_s": 10, "steady": {"factor": 1}, "mix": {"nosuch": 1}}]},
            {},
            "profile.phases[0].mix.nosuch: no request class 'nosuch' (classes: default)",
        ),
        ({"phases": [{"duration_s": 10, "steady": {"factor": 0}}]}, {}, "sends no request"),
        (
            {"phases": [{"duration_s": 10, "steady": {"factor": 1}}]},
            {"requests": 100},
            "remove requests (100)",
        ),
        ({"phases": [{"duration": 10, "steady": {"factor": 1}}]}, {}, "a text such as '15min'"),
        ({"phases": [{"duration_s": 10, "daily": {"hours": [1, 2]}}]}, {}, "at least 24"),
        ({"phases": []}, {}, "at least 1"),
    ],
)
def test_bad_profiles_name_the_key_and_what_was_found(
    profile: Any, workload: dict[str, Any], expected: str
) -> None:
    found = problems(base(profile, **workload))
    assert any(expected in line for line in found), found
    assert all(line.startswith("workload") for line in found), found


def test_a_profile_key_needs_arrival_profile() -> None:
    data = base({"phases": [{"duration_s": 10, "steady": {}}]})
    data["workload"]["arrival"] = "poisson"
    assert any("only applies to arrival 'profile'" in line for line in problems(data))
    data = base(None)
    del data["workload"]["profile"]
    assert any("needs the key 'profile'" in line for line in problems(data))


def test_daily_on_the_clock_steps_at_the_hours() -> None:
    hours = [float(h) for h in range(1, 25)]
    profile = ProfileSpec.model_validate(
        {"phases": [{"duration_s": 7200, "daily": {"hours": hours, "start_hour": 22.5}}]}
    )
    # 22:30 → 23:00 at factor 23, 23:00 → 00:00 at 24, 00:00 → 00:30 at 1.
    assert profile.factor_at([0, 1799, 1801, 5399, 5401]).tolist() == [23, 23, 24, 24, 1]
    assert profile.cumulative(7200) == pytest.approx(1800 * 23 + 3600 * 24 + 1800 * 1)


def test_workload_without_profile_is_unchanged() -> None:
    plain = WorkloadSpec(rate_per_s=5, requests=100)
    assert plain.time_bound_s is None and plain.profile is None
    assert WorkloadSpec(rate_per_s=5, duration_s=30).time_bound_s == 30


def test_duration_s_cuts_a_profile_short() -> None:
    workload = WorkloadSpec(arrival="profile", rate_per_s=10, duration_s=100, profile=EVERY_SHAPE)
    profile = ProfileSpec.model_validate(EVERY_SHAPE)
    assert workload.time_bound_s == 100
    assert workload.mean_rate_per_s == pytest.approx(10 * profile.cumulative(100) / 100)
    assert workload.planned_requests() == round(10 * profile.cumulative(100))


OVERLOADED_PROFILE = {
    "name": "over",
    "workload": {
        "arrival": "profile",
        "rate_per_s": 10,
        "profile": {
            "phases": [
                {"name": "before", "duration_s": 20, "steady": {"factor": 1}},
                {"name": "sale", "duration_s": 160, "steady": {"factor": 8}},
                {"name": "after", "duration_s": 10, "steady": {"factor": 1}},
            ]
        },
    },
    "entry": "api",
    "components": {
        "api": {
            "kind": "service",
            "concurrency": 5,
            "service_time": {"dist": "exponential", "mean_ms": 100},
        }
    },
}


def test_a_profile_overloaded_on_average_runs_for_its_time_and_says_so() -> None:
    """A profile lasts its phases' time, so an overload (here even on average: 68.9
    requests/s against 50) builds a finite backlog: simulate runs it and says where, rather
    than refusing it as a queue that grows without bound (issue 10's gap)."""
    from scaleplan.engine import simulate

    result = simulate(parse_spec(OVERLOADED_PROFILE), seed=1)
    said = " ".join(result.warnings)
    assert "api: offered load is 1.60× its capacity at the load profile's peak" in said
    assert "phase sale, 80 requests/s" in said
    assert "on average over the profile (68.95 requests/s)" in said
    assert result.requests.arrived > 10_000
