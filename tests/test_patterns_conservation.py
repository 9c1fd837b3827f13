"""Conservation for every pattern spec (issue #3): ``arrived = completed + rejected + failed +
in_flight`` (docs/architecture.md), and the bookkeeping identities of brokers and call policies,
on the bundled pattern architectures and the pattern examples of ``tests/data/patterns/``.

The pattern tests check conservation on every run they make as well (``_patterns.run``);
here every example is run short, once, with its own workload otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _patterns import architecture, run

from scaleplan.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = [
    ROOT / "data" / "architectures" / f"{name}.yaml"
    for name in (
        "async-offload",
        "autoscaling",
        "cache-aside",
        "edge-offload",
        "event-driven",
        "resilient-microservices",
        "sharded-db",
    )
]
EXAMPLES = sorted((Path(__file__).resolve().parent / "data" / "patterns").glob("*.yaml"))


@pytest.mark.parametrize(
    "path", BUNDLED + EXAMPLES, ids=lambda path: f"{path.parent.name}/{path.stem}"
)
def test_every_pattern_spec_conserves_requests(path: Path) -> None:
    result = run(load_spec(path), requests=8000)  # run() asserts conservation
    assert result.requests.arrived == 8000
    assert result.requests.in_flight == 0  # each of these drains
    for name, component in result.components.items():
        details = component.details
        if component.kind in ("queue", "subscription"):
            # A message is published once and ends delivered or dead-lettered at most once.
            assert details["delivered"] + details["dead_lettered"] <= details["published"], name
        for label, call in details.get("calls", {}).items():
            # Each try of a call is made, short-circuited or refused by the bulkhead; the
            # tries are the first one of each call plus its retries.
            tries = call["attempts"] + call["short_circuited"] + call["bulkhead_rejected"]
            assert tries == call["calls"] + call["retries"], label


@pytest.mark.parametrize("when_full", ["reject", "block"])
def test_conservation_holds_when_an_overloaded_run_is_stopped(when_full: str) -> None:
    """A callee at twice its capacity (with retries of its errors) in front of a bounded
    queue: the run is stopped at ``max_in_flight`` with requests still inside, which are
    counted as in flight."""
    exp = {"dist": "exponential", "mean_ms": 10}
    spec = architecture(
        {
            "api": {
                "kind": "service",
                "concurrency": 4096,
                "service_time": exp,
                "calls": [
                    {"to": "pay", "retries": {"max": 2, "backoff_ms": 5}, "bulkhead": 4000},
                    {"to": "jobs"},
                ],
            },
            "pay": {
                "kind": "service",
                "concurrency": 2,
                "error_probability": 0.2,
                "service_time": exp,
            },
            "jobs": {
                "kind": "queue",
                "consumer": "workers",
                "max_messages": 50,
                "when_full": when_full,
            },
            "workers": {"kind": "worker_pool", "concurrency": 2, "service_time": exp},
        },
        entry="api",
        rate_per_s=400,
        requests=60_000,
    )
    result = run(spec, run_anyway=True, max_in_flight=2000)  # run() asserts conservation
    assert not result.stable
    assert result.requests.in_flight > 2000
    assert result.requests.arrived < 60_000
