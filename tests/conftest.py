"""Shared fixtures: build architecture specs in-line, in the keys of the public YAML contract.

The builders return validated :class:`~scaleplan.spec.ArchitectureSpec` objects made through
:func:`~scaleplan.spec.parse_spec`, so a test exercises the same path as a YAML file. They are
session-scoped fixtures returning plain functions, which keeps them usable inside Hypothesis
tests (a function-scoped fixture there would be shared across examples).

Times are in milliseconds as in the spec (``mean_ms``); rates in requests per second.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from _memory import pytest_collection_finish, pytest_runtest_teardown
from hypothesis import settings
from locust_support import healthy_locust_run, mixed_locust_run

from scaleplan.spec import ArchitectureSpec, parse_spec

# Property tests without a profile of their own are deterministic in `make test` (the same
# examples on every run, so CI cannot fail on a case no earlier run saw); the composition and
# fuzz suites keep theirs, whose long profiles draw new examples. HYPOTHESIS_PROFILE=explore
# draws new ones here too.
settings.register_profile("make-test", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "make-test"))

# The real Locust runs, made once per session for every module that reads them; the hook that
# gives freed memory back after a test (tests/_memory.py).
__all__ = [
    "healthy_locust_run",
    "mixed_locust_run",
    "pytest_collection_finish",
    "pytest_runtest_teardown",
]

# Modules that judge a real process (a load test, the reference system, a browser, a notebook
# kernel) by how fast it answers: `make test` runs them alone, after the parallel pass, so a
# neighbouring test on the other core cannot make the real system look slower than modelled.
SERIAL_MODULES = frozenset(
    {
        "test_browser",
        "test_calibrate_e2e",
        "test_loadtest_closed",
        "test_loadtest_e2e",
        "test_loadtest_e2e_closed",
        "test_loadtest_locust",
        "test_notebooks",
        "test_reference_system",
        "test_reference_telemetry",
        "test_verify_locust",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in SERIAL_MODULES:
            item.add_marker(pytest.mark.serial)


def service(
    mean_ms: float,
    *,
    dist: str = "exponential",
    cv: float | None = None,
    replicas: int = 1,
    concurrency: int = 1,
    queue_limit: int | None = None,
    calls: Sequence[Mapping[str, Any]] = (),
    hold_during_calls: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The dict of one ``kind: service`` component; keys left at their default are omitted.

    ``dist`` and ``cv`` go to its ``service_time``; ``extra`` keys to the component itself.
    """
    service_time: dict[str, Any] = {"dist": dist, "mean_ms": mean_ms}
    if cv is not None:
        service_time["cv"] = cv
    component: dict[str, Any] = {
        "kind": "service",
        "replicas": replicas,
        "concurrency": concurrency,
        "service_time": service_time,
    }
    if queue_limit is not None:
        component["queue_limit"] = queue_limit
    if calls:
        component["calls"] = [dict(call) for call in calls]
    if hold_during_calls is not None:
        component["hold_during_calls"] = hold_during_calls
    component.update(extra)
    return component


def architecture(
    components: Mapping[str, Mapping[str, Any]],
    *,
    entry: str,
    rate_per_s: float | None = None,
    name: str = "test",
    **workload: Any,
) -> ArchitectureSpec:
    """A validated spec from component dicts; ``workload`` keys go to ``workload`` as given."""
    workload_data: dict[str, Any] = dict(workload)
    if rate_per_s is not None:
        workload_data["rate_per_s"] = rate_per_s
    data = {
        "name": name,
        "workload": workload_data,
        "entry": entry,
        "components": {key: dict(value) for key, value in components.items()},
    }
    return parse_spec(data)


def service_spec(
    rate_per_s: float,
    mean_ms: float,
    *,
    name: str = "test",
    workload: Mapping[str, Any] | None = None,
    **component: Any,
) -> ArchitectureSpec:
    """One service called ``api`` as the entry: a single queueing station."""
    return architecture(
        {"api": service(mean_ms, **component)},
        entry="api",
        rate_per_s=rate_per_s,
        name=name,
        **dict(workload or {}),
    )


def chain_spec(
    rate_per_s: float,
    means_ms: Sequence[float],
    *,
    concurrency: int | Sequence[int] = 1,
    probabilities: float | Sequence[float] = 1.0,
    hold_during_calls: bool = True,
    dist: str = "exponential",
    name: str = "chain",
    workload: Mapping[str, Any] | None = None,
) -> ArchitectureSpec:
    """Services ``s1 → s2 → …``, each calling the next with the given probability.

    ``concurrency`` and ``probabilities`` are one value for all, or one per station
    (``probabilities`` has one per call, i.e. one fewer than the stations).
    """
    n = len(means_ms)
    slots = [concurrency] * n if isinstance(concurrency, int) else list(concurrency)
    chances = (
        [probabilities] * (n - 1) if isinstance(probabilities, int | float) else list(probabilities)
    )
    if len(slots) != n or len(chances) != n - 1:
        raise ValueError("one concurrency per station and one probability per call")
    components = {}
    for index, mean_ms in enumerate(means_ms):
        calls = [{"to": f"s{index + 2}", "probability": chances[index]}] if index < n - 1 else []
        components[f"s{index + 1}"] = service(
            mean_ms,
            dist=dist,
            concurrency=slots[index],
            calls=calls,
            hold_during_calls=hold_during_calls,
        )
    return architecture(
        components, entry="s1", rate_per_s=rate_per_s, name=name, **dict(workload or {})
    )


@pytest.fixture(scope="session")
def make_spec() -> Callable[..., ArchitectureSpec]:
    """``make_spec(components, entry=..., rate_per_s=..., **workload)`` (see ``architecture``)."""
    return architecture


@pytest.fixture(scope="session")
def make_service() -> Callable[..., dict[str, Any]]:
    """``make_service(mean_ms, replicas=…, concurrency=…, …)``: one service component's dict."""
    return service


@pytest.fixture(scope="session")
def make_service_spec() -> Callable[..., ArchitectureSpec]:
    """``make_service_spec(rate_per_s, mean_ms, **component)``: one station named ``api``."""
    return service_spec


@pytest.fixture(scope="session")
def make_chain_spec() -> Callable[..., ArchitectureSpec]:
    """``make_chain_spec(rate_per_s, [mean_ms, …], …)``: services ``s1 → s2 → …``."""
    return chain_spec


@pytest.fixture
def allow_files_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let documents name files outside their folder tree (scaleplan.paths): for tests that
    write a scenario in a temporary folder naming the repository's architectures."""
    monkeypatch.setenv("SCALEPLAN_ALLOW_FILES_OUTSIDE", "1")


@pytest.fixture(autouse=True)
def consistent_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every decision record's evidence a test gathers is checked for contradictions
    (scaleplan/report/consistency.py); decide's records are checked in tests/_records.py."""
    from scaleplan.report import record
    from scaleplan.report.consistency import problems

    gather = record.gather

    def checked(*args: Any, **kwargs: Any) -> record.Evidence:
        found = gather(*args, **kwargs)
        contradictions = problems(found.to_dict())
        assert not contradictions, contradictions
        return found

    monkeypatch.setattr(record, "gather", checked)
