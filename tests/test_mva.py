"""Mean Value Analysis against closed forms and a published example (deterministic)."""

from __future__ import annotations

import math

import pytest

from scaleplan.analytic.mva import (
    MvaStation,
    exact_multiclass,
    exact_mva,
    repairman_p0,
    schweitzer_multiclass,
    schweitzer_mva,
)


def _finite_source_mmc(users: int, think_s: float, service_s: float, servers: int) -> list[float]:
    """The M/M/c//N queue's stationary distribution of the users at the servers (birth-death:
    birth rate (N − n)/Z, death rate min(n, c)/S)."""
    weights = [1.0]
    for n in range(1, users + 1):
        weights.append(weights[-1] * (users - n + 1) / think_s * service_s / min(n, servers))
    total = math.fsum(weights)
    return [weight / total for weight in weights]


@pytest.mark.parametrize("users", [1, 2, 5, 12, 40])
def test_machine_repairman_matches_its_closed_form(users: int) -> None:
    think, service = 1.0, 0.2
    solution = exact_mva([MvaStation("repair", service)], think, users)[-1]
    p0 = repairman_p0(users, think, service)
    throughput = (1 - p0) / service
    assert solution.throughput_per_s == pytest.approx(throughput, rel=1e-9, abs=1e-12)
    assert solution.response_s == pytest.approx(users / throughput - think, rel=1e-9)
    assert solution.utilization["repair"] == pytest.approx(1 - p0, rel=1e-9)
    # The same from the birth-death chain's distribution (mean number at the server).
    present = math.fsum(n * p for n, p in enumerate(_finite_source_mmc(users, think, service, 1)))
    assert solution.queue_length["repair"] == pytest.approx(present, rel=1e-9)


@pytest.mark.parametrize(("users", "servers"), [(5, 2), (8, 3), (30, 4), (3, 5)])
def test_load_dependent_multi_server_matches_the_finite_source_mmc(
    users: int, servers: int
) -> None:
    think, service = 1.0, 0.4
    solution = exact_mva([MvaStation("pool", service, servers)], think, users)[-1]
    p = _finite_source_mmc(users, think, service, servers)
    throughput = math.fsum(min(n, servers) / service * pn for n, pn in enumerate(p))
    present = math.fsum(n * pn for n, pn in enumerate(p))
    assert solution.throughput_per_s == pytest.approx(throughput, rel=1e-9)
    assert solution.queue_length["pool"] == pytest.approx(present, rel=1e-9)
    assert solution.response_s == pytest.approx(present / throughput, rel=1e-9)
    assert solution.utilization["pool"] == pytest.approx(throughput * service / servers, rel=1e-9)


# Jain, The Art of Computer Systems Performance Analysis (1991), Example 34.2 and Table 34.1:
# a timesharing system, think time 4 s; CPU 0.125 s × 16 visits, disk A 0.3 s × 10, disk B
# 0.2 s × 5. Rows: N, per-visit response CPU, A, B, system response, throughput (3 decimals).
JAIN_34_1 = [
    (1, 0.125, 0.300, 0.200, 6.000, 0.100),
    (2, 0.150, 0.390, 0.220, 7.400, 0.175),
    (3, 0.178, 0.505, 0.239, 9.088, 0.229),
    (4, 0.206, 0.647, 0.255, 11.051, 0.266),
    (5, 0.235, 0.816, 0.268, 13.256, 0.290),
    (17, 0.370, 3.962, 0.300, 47.045, 0.333),
    (18, 0.372, 4.259, 0.300, 50.032, 0.333),
    (19, 0.373, 4.556, 0.300, 53.022, 0.333),
    (20, 0.373, 4.854, 0.300, 56.016, 0.333),
]
TIMESHARING = [MvaStation("cpu", 0.125 * 16), MvaStation("a", 0.3 * 10), MvaStation("b", 0.2 * 5)]


def test_exact_mva_reproduces_jain_table_34_1() -> None:
    solutions = exact_mva(TIMESHARING, 4.0, 20)
    for users, cpu, a, b, response, throughput in JAIN_34_1:
        solution = solutions[users - 1]
        assert solution.users == users
        # The table is printed to 3 decimals: half a unit of the last place.
        assert solution.residence_s["cpu"] / 16 == pytest.approx(cpu, abs=5e-4)
        assert solution.residence_s["a"] / 10 == pytest.approx(a, abs=5e-4)
        assert solution.residence_s["b"] / 5 == pytest.approx(b, abs=5e-4)
        assert solution.response_s == pytest.approx(response, abs=5e-4)
        assert solution.throughput_per_s == pytest.approx(throughput, abs=5e-4)


def test_schweitzer_is_within_its_known_error_of_exact() -> None:
    """Schweitzer–Bard is exact at N = 1, errs most around the knee and tends to exact as N
    grows. On Jain's timesharing example, N = 1 … 60: throughput within 4% (the largest,
    −3.9%, at N = 6, just past the knee N* = (D + Z)/D_max = 3.3), response time within 6%;
    the approximation is always pessimistic here (lower throughput)."""
    exact = exact_mva(TIMESHARING, 4.0, 60)
    errors = []
    for solution in exact:
        approximate = schweitzer_mva(TIMESHARING, 4.0, solution.users)
        errors.append(
            (
                approximate.throughput_per_s / solution.throughput_per_s - 1,
                approximate.response_s / solution.response_s - 1,
            )
        )
    assert errors[0] == pytest.approx((0.0, 0.0), abs=1e-12)
    assert all(-0.04 < x <= 1e-12 for x, _ in errors)
    assert all(-1e-12 <= r < 0.06 for _, r in errors)
    worst = min(range(len(errors)), key=lambda i: errors[i][0])
    assert worst + 1 == 6
    assert abs(errors[-1][0]) < 0.005  # N = 60, far past the knee


def test_schweitzer_multiclass_with_one_class_is_the_single_class_form() -> None:
    single = schweitzer_mva(TIMESHARING, 4.0, 7)
    [multi] = schweitzer_multiclass(
        [{s.name: s.demand_s for s in TIMESHARING}], {s.name: 1 for s in TIMESHARING}, [4.0], [7]
    )
    assert multi.throughput_per_s == pytest.approx(single.throughput_per_s, rel=1e-12)


def test_two_identical_classes_add_up_to_one_class() -> None:
    """Two classes with the same demands are one class of their users: the multi-class
    fixed point splits the single-class one (and its error, −3.0% of exact at N = 10)."""
    demands = {s.name: s.demand_s for s in TIMESHARING}
    solutions = schweitzer_multiclass(
        [demands, demands], {s.name: 1 for s in TIMESHARING}, [4.0, 4.0], [5, 5]
    )
    single = schweitzer_mva(TIMESHARING, 4.0, 10)
    total = sum(solution.throughput_per_s for solution in solutions)
    assert solutions[0].throughput_per_s == pytest.approx(solutions[1].throughput_per_s)
    assert total == pytest.approx(single.throughput_per_s, rel=1e-9)


def test_delay_station_adds_its_demand() -> None:
    with_delay = exact_mva([MvaStation("cpu", 0.5), MvaStation("net", 0.3, None)], 1.0, 4)[-1]
    longer_think = exact_mva([MvaStation("cpu", 0.5)], 1.3, 4)[-1]
    assert with_delay.throughput_per_s == pytest.approx(longer_think.throughput_per_s, rel=1e-12)
    assert with_delay.residence_s["net"] == 0.3
    assert with_delay.utilization["net"] == 0.0


def test_no_think_time_saturates_the_bottleneck() -> None:
    solution = exact_mva([MvaStation("a", 0.1), MvaStation("b", 0.05)], 0.0, 200)[-1]
    assert solution.throughput_per_s == pytest.approx(10.0, rel=1e-6)
    assert solution.users == 200


@pytest.mark.parametrize(
    ("stations", "think", "users", "message"),
    [
        ([MvaStation("a", 0.1)], -1.0, 2, "think time"),
        ([MvaStation("a", 0.1)], 1.0, -1, "users"),
        ([MvaStation("a", 0.1), MvaStation("a", 0.2)], 1.0, 2, "unique"),
        ([MvaStation("a", 0.0)], 0.0, 2, "needs a think time"),
    ],
)
def test_bad_input_is_refused(
    stations: list[MvaStation], think: float, users: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        exact_mva(stations, think, users)


def test_bad_station_is_refused() -> None:
    with pytest.raises(ValueError, match="demand"):
        MvaStation("a", math.nan)
    with pytest.raises(ValueError, match="servers"):
        MvaStation("a", 1.0, 0)


def test_exact_multiclass_of_identical_classes_is_the_single_class_form() -> None:
    demands = {s.name: s.demand_s for s in TIMESHARING}
    servers: dict[str, int | None] = {s.name: 1 for s in TIMESHARING}
    first, second = exact_multiclass([demands, demands], servers, [4.0, 4.0], [4, 3])
    single = exact_mva(TIMESHARING, 4.0, 7)[-1]
    assert first.throughput_per_s + second.throughput_per_s == pytest.approx(
        single.throughput_per_s, rel=1e-12
    )
    assert first.response_s == pytest.approx(second.response_s, rel=1e-12)
    assert first.response_s == pytest.approx(single.response_s, rel=1e-12)
    assert first.throughput_per_s / second.throughput_per_s == pytest.approx(4 / 3)


def test_exact_multiclass_of_classes_without_a_shared_station_solves_each_alone() -> None:
    servers: dict[str, int | None] = {"a": 1, "b": 1, "net": None}
    x, y = exact_multiclass([{"a": 0.3, "net": 0.1}, {"b": 0.2}], servers, [1.0, 2.0], [5, 3])
    alone_x = exact_mva([MvaStation("a", 0.3), MvaStation("net", 0.1, None)], 1.0, 5)[-1]
    alone_y = exact_mva([MvaStation("b", 0.2)], 2.0, 3)[-1]
    assert x.throughput_per_s == pytest.approx(alone_x.throughput_per_s, rel=1e-12)
    assert y.response_s == pytest.approx(alone_y.response_s, rel=1e-12)
    assert x.utilization["b"] == 0.0 and y.utilization["a"] == 0.0


def test_exact_multiclass_refuses_stations_of_several_servers() -> None:
    with pytest.raises(ValueError, match="single-server"):
        exact_multiclass([{"a": 0.1}], {"a": 2}, [1.0], [3])
