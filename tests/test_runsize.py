"""The refusal of a run too large to finish or to hold (scaleplan.runsize)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scaleplan.errors import SpecError
from scaleplan.runsize import check_simulation, replication_memory_bytes
from scaleplan.spec import load_spec

MONOLITH = Path(__file__).resolve().parent.parent / "data" / "architectures" / "monolith.yaml"


def test_replications_whose_histograms_would_not_fit_are_refused_naming_the_key() -> None:
    """Every replication holds its latency histograms until the summary: the fuzz suite's
    ``simulate --requests 300 --replications 1_000`` grew the process by over 2 GB before it
    was killed. It is refused up front, with the memory it would take."""
    spec = load_spec(MONOLITH)
    with pytest.raises(SpecError) as raised:
        check_simulation(spec, requests=300, replications=1_000)
    message = str(raised.value)
    assert "--replications" in message and "GB of latency histograms" in message, message
    check_simulation(spec, requests=300, replications=30)  # what people run: accepted


def test_the_memory_estimate_counts_every_recorded_series() -> None:
    spec = load_spec(MONOLITH.with_name("sharded-db.yaml"))
    one_shard = spec.with_changes({"components.orders-db.shards": 1})
    assert 0 < replication_memory_bytes(one_shard) < replication_memory_bytes(spec)


def test_the_command_line_refuses_it_with_exit_2() -> None:
    args = ["simulate", str(MONOLITH), "--requests", "300", "--replications", "1_000"]
    done = subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "monolith.yaml: --replications: " in done.stderr
    assert "GB of latency histograms" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
